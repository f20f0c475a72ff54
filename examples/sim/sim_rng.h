/* cr-sim's random numbers: a seeded, reproducible generator and the
 * distributions a contact-centre simulation draws from (header only).
 *
 * Generator: xoshiro256** (Blackman & Vigna 2018, "Scrambled linear
 * pseudorandom number generators"), seeded through SplitMix64 (Steele, Lea
 * & Flood 2014) as its authors recommend, so any 64-bit seed -- 0
 * included -- gives a well-mixed, non-zero state. Same seed, same stream,
 * on every platform (no libc rand(), no global state).
 *
 * Distributions:
 *   crs_unit         uniform on (0, 1), never 0 or 1: -log(u) is finite
 *   crs_exp          exponential with a given mean (inversion)
 *   crs_normal       standard normal (Marsaglia's polar method; the spare
 *                    value is kept in the generator)
 *   crs_lognormal    lognormal given its MEAN and coefficient of variation:
 *                    sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2,
 *                    so E[X] = mean and sd/mean = cv exactly
 *   crs_poisson      Poisson count: inversion below mean 10, Hoermann's
 *                    PTRS transformed rejection (1993, "The transformed
 *                    rejection method for generating Poisson random
 *                    variables") above it; O(1) expected time for any mean */
#ifndef CRS_SIM_RNG_H
#define CRS_SIM_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t crs_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct crs_rng {
  uint64_t s[4];
  double spare;    /* the polar method's second normal */
  int have_spare;
} crs_rng;

/* Seeds a stream. `stream` separates independent streams of one seed
 * (arrivals, handle times, ...): common random numbers across runs that
 * differ only in routing come from giving each purpose its own stream. */
static inline void crs_rng_seed(crs_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1342543DE82EF95ull);
  for (int i = 0; i < 4; i++)
    r->s[i] = crs_splitmix64(&x);
  r->have_spare = 0;
  r->spare = 0;
}

static inline uint64_t crs_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t crs_next(crs_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = crs_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = crs_rotl(s[3], 45);
  return out;
}

static inline double crs_unit(crs_rng *r) {
  return ((double)(crs_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift; the bias is
 * below n / 2^32, irrelevant for the n of a simulation). */
static inline uint32_t crs_below(crs_rng *r, uint32_t n) {
  return (uint32_t)(((crs_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double crs_exp(crs_rng *r, double mean) {
  return -mean * log(crs_unit(r));
}

static inline double crs_normal(crs_rng *r) {
  if (r->have_spare) {
    r->have_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * crs_unit(r) - 1.0;
    v = 2.0 * crs_unit(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double f = sqrt(-2.0 * log(s) / s);
  r->spare = v * f;
  r->have_spare = 1;
  return u * f;
}

static inline double crs_lognormal(crs_rng *r, double mean, double cv) {
  double s2 = log1p(cv * cv);
  double mu = log(mean) - 0.5 * s2;
  return exp(mu + sqrt(s2) * crs_normal(r));
}

static inline uint64_t crs_poisson(crs_rng *r, double mean) {
  if (!(mean > 0))
    return 0;
  if (mean < 10) { /* inversion by sequential search */
    double p = exp(-mean), f = p, u = crs_unit(r);
    uint64_t k = 0;
    while (u > f && k < 1000) {
      k++;
      p *= mean / (double)k;
      f += p;
    }
    return k;
  }
  /* PTRS (Hoermann 1993), constants as in the paper. */
  double slam = sqrt(mean), loglam = log(mean);
  double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    double u = crs_unit(r) - 0.5, v = crs_unit(r);
    double us = 0.5 - fabs(u);
    double k = floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr)
      return (uint64_t)k;
    if (k < 0 || (us < 0.013 && v > us))
      continue;
    if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <=
        -mean + k * loglam - lgamma(k + 1))
      return (uint64_t)k;
  }
}

#endif
