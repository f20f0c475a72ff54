/* Benchmark: time to find the agents a 10,000-agent centre needs.
 *
 * Centre: 99,700 contacts per 30 minutes, AHT 180 s (9,970 Erlangs),
 * 80 % answered within 20 s; Erlang A with a 300 s mean patience.
 * Target (issue 2): <= 1 ms per search.
 *
 * Peer, measured in the same run: what many simple calculators do -- scan
 * N = 1, 2, 3 ... and for each N recompute Erlang B from B(0) by the
 * recursion (O(N) each, O(N^2) in all), then Erlang C / the service level.
 * For Erlang A the peer scans the same way with the library's own one-N
 * evaluator cr_erlang_a() (which also restarts the recursion), so the ratio
 * isolates the search strategy. Both peers must find the same N.
 *
 * Prints a table, then one JSON line. Run: build/tests/bench/bench_staffing
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include "convroute.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The naive Erlang C search: linear from N = 1, recursion from scratch. */
static int32_t naive_c(double a, double aht, double t, double sl) {
  for (int32_t n = 1;; n++) {
    double b = 1.0;
    for (int32_t k = 1; k <= n; k++)
      b = a * b / (k + a * b);
    if (n <= a)
      continue;
    double c = n * b / (n - a * (1 - b));
    if (1 - c * exp(-(n - a) * t / aht) >= sl)
      return n;
  }
}

static int32_t naive_a(const cr_staffing_req *r, double sl) {
  for (int32_t n = 1;; n++) {
    cr_staffing f;
    if (cr_erlang_a(r, n, &f) != 0) {
      fprintf(stderr, "bench: cr_erlang_a failed at %d\n", (int)n);
      exit(1);
    }
    if (f.service_level >= sl)
      return n;
  }
}

/* Median seconds per call of the library's search over `reps` calls. */
static double time_ours(int is_a, const cr_staffing_req *r,
                        const cr_staffing_goal *g, int reps,
                        cr_staffing *out) {
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (!t)
    exit(1);
  for (int i = 0; i < reps; i++) {
    double t0 = now_s();
    int rc = is_a ? cr_erlang_a_agents(r, g, out) : cr_erlang_c_agents(r, g, out);
    t[i] = now_s() - t0;
    if (rc) {
      fprintf(stderr, "bench: search failed: %s\n", cr_strerror(rc));
      exit(1);
    }
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  double med = t[reps / 2];
  free(t);
  return med;
}

int main(void) {
  const double sl = 0.8;
  cr_staffing_req r = {99700, 1800, 180, 20, 300};
  cr_staffing_goal g = {.service_level = sl};
  cr_staffing fc, fa;
  double a = r.arrivals * r.aht_s / r.interval_s;

  double c_s = time_ours(0, &r, &g, 501, &fc);
  double a_s = time_ours(1, &r, &g, 101, &fa);

  double t0 = now_s();
  int32_t nc = naive_c(a, r.aht_s, r.target_s, sl);
  double c_naive_s = now_s() - t0;
  t0 = now_s();
  int32_t na = naive_a(&r, sl);
  double a_naive_s = now_s() - t0;

  int same = nc == fc.agents && na == fa.agents;
  printf("staffing: 10,000-agent centre, %.0f Erlangs, SL %.0f%% in %.0f s\n",
         a, 100 * sl, r.target_s);
  printf("  %-9s %7s %12s %14s %9s\n", "model", "agents", "ours (us)",
         "naive (us)", "ratio");
  printf("  %-9s %7d %12.1f %14.1f %8.0fx\n", "Erlang C", (int)fc.agents,
         c_s * 1e6, c_naive_s * 1e6, c_naive_s / c_s);
  printf("  %-9s %7d %12.1f %14.1f %8.0fx\n", "Erlang A", (int)fa.agents,
         a_s * 1e6, a_naive_s * 1e6, a_naive_s / a_s);
  printf("  naive peers found the same agents: %s; target <= 1000 us: %s\n",
         same ? "yes" : "NO", (c_s <= 1e-3 && a_s <= 1e-3) ? "met" : "MISSED");
  printf("{\"bench\": \"staffing\", \"load_erlangs\": %.1f, "
         "\"agents_c\": %d, \"agents_a\": %d, \"erlang_c_us\": %.2f, "
         "\"erlang_c_naive_us\": %.1f, \"erlang_c_ratio\": %.1f, "
         "\"erlang_a_us\": %.2f, \"erlang_a_naive_us\": %.1f, "
         "\"erlang_a_ratio\": %.1f, \"same_result\": %s, "
         "\"target_us\": 1000, \"target_met\": %s}\n",
         a, (int)fc.agents, (int)fa.agents, c_s * 1e6, c_naive_s * 1e6,
         c_naive_s / c_s, a_s * 1e6, a_naive_s * 1e6, a_naive_s / a_s,
         same ? "true" : "false",
         (c_s <= 1e-3 && a_s <= 1e-3) ? "true" : "false");
  return same ? 0 : 1;
}
