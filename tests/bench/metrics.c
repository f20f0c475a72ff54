/* Benchmark: metrics ingestion in records per second on one core.
 *
 * Issue 2 target: >= 5,000,000 records/s with four breakdowns active.
 * Measured here, on the same synthetic stream (1M contacts: 7 channels,
 * 50 queues, 500 agents, 150 intents; 60 % agent-answered, 10 % abandoned,
 * 30 % bot; a survey answer on 30 %; window 15 min in 1-min buckets):
 *   ids     four breakdowns, keys passed as ids from cr_metrics_key()
 *   strings four breakdowns, keys passed as strings (hash lookup per key)
 *   none    no breakdowns
 *   fcr     ids + customer keys (100,000 customers) for repeat-FCR
 * and a peer in the same run: the same sums kept the simple way, one
 * string-keyed uthash lookup per breakdown per record into a plain struct
 * of counters (no window, no validation, no FCR). Prints one line per
 * figure and a final JSON line.
 *
 * Usage: bench_metrics [records]   (default 1000000) */
#define _POSIX_C_SOURCE 200809L
#include "convroute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uthash.h>

#define NDIM CR_METRICS_DIM_COUNT
static const unsigned card[NDIM] = {7, 50, 500, 150};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xs(void) { /* xorshift64 (Marsaglia 2003) */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct gen {
  cr_metrics_record *rec;
  unsigned (*k)[NDIM]; /* key index 0..card-1 per dim */
  char (*names)[NDIM][16];
  char (*cust)[12];
  size_t n;
} gen;

static void make(gen *g, size_t n) {
  g->n = n;
  g->rec = calloc(n, sizeof *g->rec);
  g->k = calloc(n, sizeof *g->k);
  g->names = calloc(n, sizeof *g->names);
  g->cust = calloc(n, sizeof *g->cust);
  if (!g->rec || !g->k || !g->names || !g->cust) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  cr_time t = 0;
  for (size_t i = 0; i < n; i++) {
    cr_metrics_record *r = &g->rec[i];
    cr_metrics_record_init(r);
    t += (cr_time)(xs() % 200); /* ~10 arrivals a second */
    r->arrived_at = t;
    unsigned u = (unsigned)(xs() % 100);
    if (u < 60) {
      r->handled_by = CR_HANDLED_AGENT;
      r->queued_at = t + 1000;
      r->answered_at = r->queued_at + (cr_time)(xs() % 60000);
      r->ended_at = r->answered_at + 60000 + (cr_time)(xs() % 300000);
      r->wrap_ms = 30000;
      r->escalated = u < 20;
      r->transferred = u < 5;
      r->resolved = u % 3 ? 1 : 0;
    } else if (u < 70) {
      r->handled_by = CR_HANDLED_ABANDONED;
      r->queued_at = t;
      r->ended_at = t + (cr_time)(xs() % 120000);
    } else {
      r->handled_by = CR_HANDLED_BOT;
      r->ended_at = t + (cr_time)(xs() % 180000);
      r->resolved = 1;
    }
    if (u % 10 < 3) {
      r->csat = 1 + (int)(xs() % 5);
      r->nps = (int)(xs() % 11);
    }
    for (int d = 0; d < NDIM; d++) {
      g->k[i][d] = (unsigned)(xs() % card[d]);
      snprintf(g->names[i][d], 16, "%c%u", "cqai"[d], g->k[i][d]);
    }
    snprintf(g->cust[i], 12, "u%u", (unsigned)(xs() % 100000));
  }
}

typedef enum { M_IDS, M_STRINGS, M_NONE, M_FCR } mode;

static double run_ours(const gen *g, mode md, uint64_t *check) {
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  if (md == M_NONE)
    o.breakdowns = 0;
  cr_metrics *m;
  if (cr_metrics_new(&m, NULL, &o))
    exit(1);
  uint32_t *ids[NDIM];
  for (int d = 0; d < NDIM; d++) {
    ids[d] = calloc(card[d], sizeof *ids[d]);
    if (md == M_NONE)
      continue;
    for (unsigned j = 0; j < card[d]; j++) {
      char s[16];
      int len = snprintf(s, sizeof s, "%c%u", "cqai"[d], j);
      cr_metrics_key(m, d, s, (size_t)len, &ids[d][j]);
    }
  }
  /* Prepare the records' key fields outside the timed loop. */
  cr_metrics_record *rs = malloc(g->n * sizeof *rs);
  memcpy(rs, g->rec, g->n * sizeof *rs);
  for (size_t i = 0; i < g->n; i++) {
    for (int d = 0; d < NDIM && md != M_NONE; d++) {
      if (md == M_STRINGS) {
        rs[i].key[d].str = g->names[i][d];
        rs[i].key[d].len = strlen(g->names[i][d]);
      } else {
        rs[i].key[d].id = ids[d][g->k[i][d]];
      }
    }
    if (md == M_FCR) {
      rs[i].customer = g->cust[i];
      rs[i].customer_len = strlen(g->cust[i]);
    }
  }
  double t0 = now_s();
  for (size_t i = 0; i < g->n; i++)
    if (cr_metrics_record_add(m, &rs[i])) {
      fprintf(stderr, "record %zu: %s\n", i, cr_metrics_errmsg(m));
      exit(1);
    }
  double dt = now_s() - t0;
  cr_metrics_report r;
  cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &r);
  *check = r.contacts + r.answered;
  cr_metrics_del(m);
  free(rs);
  for (int d = 0; d < NDIM; d++)
    free(ids[d]);
  return (double)g->n / dt;
}

/* ---- the peer: string-keyed uthash lookups into a plain struct ---- */

typedef struct peer_acc {
  char name[16];
  uint64_t contacts, answered, abandoned, sl_in, csat_n, csat_sum, nps[11];
  int64_t wait_sum, handle_sum;
  UT_hash_handle hh;
} peer_acc;

static void peer_add(peer_acc *a, const cr_metrics_record *r) {
  a->contacts++;
  if (r->handled_by == CR_HANDLED_AGENT) {
    cr_time w = r->answered_at - r->queued_at;
    a->answered++;
    a->wait_sum += w;
    a->sl_in += w <= 20000;
    a->handle_sum += r->ended_at - r->answered_at + r->wrap_ms;
  } else if (r->handled_by == CR_HANDLED_ABANDONED) {
    a->abandoned++;
  }
  if (r->csat != CR_METRICS_NONE)
    a->csat_n++, a->csat_sum += (uint64_t)r->csat;
  if (r->nps != CR_METRICS_NONE)
    a->nps[r->nps]++;
}

static double run_peer(const gen *g, uint64_t *check) {
  peer_acc *tab[NDIM] = {0}, all;
  memset(&all, 0, sizeof all);
  double t0 = now_s();
  for (size_t i = 0; i < g->n; i++) {
    peer_add(&all, &g->rec[i]);
    for (int d = 0; d < NDIM; d++) {
      const char *s = g->names[i][d];
      size_t len = strlen(s);
      peer_acc *a;
      HASH_FIND(hh, tab[d], s, len, a);
      if (!a) {
        a = calloc(1, sizeof *a);
        memcpy(a->name, s, len + 1);
        HASH_ADD(hh, tab[d], name, len, a);
      }
      peer_add(a, &g->rec[i]);
    }
  }
  double dt = now_s() - t0;
  *check = all.contacts + all.answered;
  for (int d = 0; d < NDIM; d++) {
    peer_acc *a, *tmp;
    HASH_ITER(hh, tab[d], a, tmp) {
      HASH_DEL(tab[d], a);
      free(a);
    }
  }
  return (double)g->n / dt;
}

static double best(double a, double b) { return a > b ? a : b; }

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
  if (n == 0)
    n = 1000000;
  gen g;
  make(&g, n);
  double r[4] = {0}, peer = 0;
  uint64_t c0 = 0, c1 = 0;
  for (int rep = 0; rep < 3; rep++) { /* best of three, interleaved */
    for (int md = 0; md < 4; md++)
      r[md] = best(r[md], run_ours(&g, (mode)md, &c0));
    peer = best(peer, run_peer(&g, &c1));
  }
  if (c0 != c1) {
    fprintf(stderr, "mismatch: ours %llu, peer %llu\n",
            (unsigned long long)c0, (unsigned long long)c1);
    return 1;
  }
  printf("metrics ingestion, %zu records, best of 3, one core\n", n);
  printf("  four breakdowns, ids      %12.0f records/s  (target 5000000: %s)\n",
         r[M_IDS], r[M_IDS] >= 5e6 ? "met" : "NOT met");
  printf("  four breakdowns, strings  %12.0f records/s\n", r[M_STRINGS]);
  printf("  no breakdowns             %12.0f records/s\n", r[M_NONE]);
  printf("  four breakdowns + FCR     %12.0f records/s\n", r[M_FCR]);
  printf("  peer: uthash per key      %12.0f records/s\n", peer);
  printf("  ratio ids/peer %.2f, strings/peer %.2f\n", r[M_IDS] / peer,
         r[M_STRINGS] / peer);
  printf("{\"bench\": \"metrics\", \"records\": %zu, \"ids_per_s\": %.0f, "
         "\"strings_per_s\": %.0f, \"none_per_s\": %.0f, \"fcr_per_s\": %.0f, "
         "\"peer_per_s\": %.0f, \"ratio_ids_peer\": %.3f, "
         "\"ratio_strings_peer\": %.3f, \"target_met\": %s}\n",
         n, r[M_IDS], r[M_STRINGS], r[M_NONE], r[M_FCR], peer,
         r[M_IDS] / peer, r[M_STRINGS] / peer,
         r[M_IDS] >= 5e6 ? "true" : "false");
  free(g.rec), free(g.k), free(g.names), free(g.cust);
  return 0;
}
