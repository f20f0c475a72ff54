/* Dependent-load latency of this machine by working-set size: a pointer
 * chase through one cache line per node, in a random cyclic order, so
 * every load waits for the one before it and no prefetcher can guess the
 * next (the measure of lmbench's lat_mem_rd, with a random stride).
 *
 * Why it is here: a routing decision in a large centre is a few chains of
 * such loads (id index slot -> conversation -> agent; line entry ->
 * membership -> agent), each link an object last touched minutes earlier.
 * The router's cost per decision at 10,000 and 100,000 agents is its
 * in-cache cost plus about that many of these latencies, so this table
 * says what bench_router can reach on a given machine (tests/bench/router.md,
 * "A floor for this machine").
 *
 *   bench_latency [MB ...]       default: 1 4 8 16 32 64 256
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ns per dependent load through `mb` megabytes, or a negative value when
 * the memory cannot be had. */
static double chase(size_t mb, size_t steps) {
  size_t n = mb * 1024 * 1024 / 64;
  if (n < 2)
    return -1;
  char *buf = aligned_alloc(64, n * 64);
  size_t *perm = malloc(n * sizeof *perm);
  if (!buf || !perm) {
    free(buf);
    free(perm);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  uint64_t s = 0x9E3779B97F4A7C15u; /* Fisher-Yates with xorshift64 */
  for (size_t i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    size_t j = (size_t)(s % (i + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (size_t i = 0; i < n; i++) /* one cycle through every line */
    *(void **)(void *)(buf + perm[i] * 64) = buf + perm[(i + 1) % n] * 64;
  void *p = buf + perm[0] * 64;
  for (size_t i = 0; i < n; i++) /* once round: pages mapped, caches warm */
    p = *(void **)p;
  double t0 = now_s();
  for (size_t i = 0; i < steps; i++)
    p = *(void **)p;
  double t = now_s() - t0;
  void *volatile sink = p; /* the chase must not be optimised away */
  (void)sink;
  free(buf);
  free(perm);
  return t * 1e9 / (double)steps;
}

int main(int argc, char **argv) {
  static const size_t dflt[] = {1, 4, 8, 16, 32, 64, 256};
  size_t n = argc > 1 ? (size_t)argc - 1 : sizeof dflt / sizeof *dflt;
  printf("working set   ns per dependent load (one 64-byte line each)\n");
  for (size_t k = 0; k < n; k++) {
    size_t mb = dflt[k < sizeof dflt / sizeof *dflt ? k : 0];
    if (argc > 1) {
      char *end;
      unsigned long v = strtoul(argv[k + 1], &end, 10);
      if (*end || v == 0 || v > 65536) {
        fprintf(stderr, "bench_latency: '%s' is not a size in MB "
                        "(1..65536)\n", argv[k + 1]);
        return 2;
      }
      mb = v;
    }
    double ns = chase(mb, 20000000);
    if (ns < 0) {
      fprintf(stderr, "bench_latency: cannot allocate %zu MB\n", mb);
      return 1;
    }
    printf("%8zu MB   %8.1f\n", mb, ns);
  }
  return 0;
}
