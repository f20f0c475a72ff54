/* Private: the metrics accumulator's internals, shared with its tests and
 * (later) the engine. The public API is the metrics section of
 * convroute.h; the formulas are documented there and in docs/metrics.md. */
#ifndef CR_METRICS_H
#define CR_METRICS_H

#include "convroute.h"

#include "hash.h"

/* Sums kept per target (overall, each group, each window bucket). Times are
 * integer milliseconds so sums are exact; figures are derived at report
 * time (cr__metrics_fill). */
typedef struct cr__macc {
  uint64_t contacts, answered, abandoned, short_abandoned;
  uint64_t bot_handled, bot_contained, escalated, transferred;
  uint64_t resolved, unresolved, fcr_yes, fcr_repeat;
  int64_t fcr_pending;           /* a gauge: entries still in the window */
  uint64_t wait_n, sl_in;        /* answered with a known wait; of which <= T */
  uint64_t wait_sum;             /* ms; sums of validated non-negative */
  uint64_t abandon_in;           /* abandoned with wait <= T */
  uint64_t handle_n;
  uint64_t handle_sum;           /* durations: unsigned, so no UB ever */
  uint64_t csat[5], nps[11], ces[7];
  uint64_t fcr_said_yes, fcr_said_no;
  uint64_t busy, logged;
} cr__macc;

typedef struct cr__mslot {
  int64_t stamp; /* bucket number held, INT64_MIN = empty */
  cr__macc acc;
} cr__mslot;

/* One key of one dimension (and the overall target, unnamed). */
typedef struct cr__mgroup {
  const char *name; /* in its cr__mkey */
  size_t len;
  uint32_t id;
  cr__macc total;
  cr__mslot slot[]; /* nslots */
} cr__mgroup;

/* The name -> group index, kept apart from the (large) groups so that a
 * lookup by string touches a few small nodes, not kilobytes of counters. */
typedef struct cr__mkey {
  UT_hash_handle hh;
  cr__mgroup *g;
  size_t len;
  char name[];
} cr__mkey;

/* A resolved contact whose repeat window is still open. All are in the
 * expiry heap; the latest one per customer + intent is also in the hash,
 * keyed by intent (length-prefixed) + customer bytes. */
typedef struct cr__mfcr {
  UT_hash_handle hh;
  cr_time expiry;  /* ended_at + window: a repeat arriving <= expiry */
  size_t heap;     /* index in the expiry heap */
  int repeated;    /* a repeat arrived inside the window */
  int hashed;      /* still the open resolution for its key */
  uint32_t gid[CR_METRICS_DIM_COUNT];
  size_t klen;
  char key[];
} cr__mfcr;

struct cr_metrics {
  cr_mem mem;
  cr_metrics_options opt;
  size_t nslots;
  cr__mgroup *all;
  cr__mkey *hash[CR_METRICS_DIM_COUNT];     /* by name */
  cr__mgroup **byid[CR_METRICS_DIM_COUNT];  /* id - 1 -> group */
  size_t nid[CR_METRICS_DIM_COUNT], capid[CR_METRICS_DIM_COUNT];
  cr__mfcr *fcr;         /* hash of pending resolutions */
  cr__mfcr **heap;       /* min-heap by expiry */
  size_t nheap, capheap;
  cr_time clock;         /* latest time seen (arrivals, advance) */
  char errmsg[160];
};

/* NPS and its 95 % margin from the promoter and detractor shares p, d of n
 * answers (see fill_surveys in metrics.c). */
void cr__metrics_nps(double p, double d, double n, double *nps, double *moe);

void cr__metrics_fill(const cr__macc *a, const cr_metrics_options *o,
                      cr_metrics_report *r);

#endif
