/* The naive reference dispatcher; see router_naive.h. */
#include "router_naive.h"

#include <stdlib.h>
#include <string.h>

enum { NS_NONE, NS_WAITING, NS_OFFERED, NS_GONE };

#define NO_AGENT UINT32_MAX
/* cr_router_config's default decline_block_ms: an agent who rejected a
 * conversation is not offered it again for 30 s. */
#define BW_DECLINE_BLOCK_MS 30000

typedef struct nv_agent {
  cr_time idle_since; /* "longest idle", as the router counts it: since
                         its last change of workload (an offer made or
                         withdrawn, a conversation ended) */
  uint8_t used[CR_CHANNEL_COUNT];
  uint16_t used_cost;
} nv_agent;

typedef struct nv_conv {
  uint32_t agent;    /* offered to, while NS_OFFERED */
  uint32_t excluded; /* the agent that rejected it last ... */
  cr_time excluded_until; /* ... is not offered it again before this */
  uint8_t state;
} nv_conv;

struct bw_naive {
  const bw_workload *w;
  bw_sim *sim;
  nv_agent *ag;
  nv_conv *cv;
  uint32_t *wait; /* conversations in arrival order (lazily compacted) */
  size_t nwait, capwait;
  uint64_t visits;
};

bw_naive *bw_naive_new(const bw_workload *w) {
  bw_naive *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  n->w = w;
  n->ag = calloc(w->p.agents, sizeof *n->ag);
  n->cv = calloc(w->nconvs, sizeof *n->cv);
  if (!n->ag || !n->cv) {
    bw_naive_del(n);
    return NULL;
  }
  for (uint32_t a = 0; a < w->p.agents; a++)
    n->ag[a].idle_since = INT64_MIN;
  return n;
}

void bw_naive_del(bw_naive *n) {
  if (!n)
    return;
  free(n->ag);
  free(n->cv);
  free(n->wait);
  free(n);
}

uint64_t bw_naive_visits(const bw_naive *n) { return n->visits; }

static int can_take(const bw_naive *n, uint32_t a, int ch) {
  const bw_agent *A = &n->w->agents[a];
  const nv_agent *s = &n->ag[a];
  return s->used[ch] < A->max[ch] &&
         (!A->total || s->used_cost + A->cost[ch] <= A->total);
}

static void take(bw_naive *n, uint32_t a, int ch, int sign, cr_time now) {
  nv_agent *s = &n->ag[a];
  s->idle_since = now;
  s->used[ch] = (uint8_t)(s->used[ch] + sign);
  s->used_cost = (uint16_t)(s->used_cost + sign * n->w->agents[a].cost[ch]);
}

/* One routing decision: scan every agent for the longest-idle one that
 * qualifies and has room. Returns 1 if an offer was made, 0 if none, <0 on
 * error. */
static int decide(bw_naive *n, uint32_t c, cr_time now) {
  const bw_conv *cv = &n->w->convs[c];
  const bw_queue *q = &n->w->queues[cv->queue];
  uint32_t best = NO_AGENT;
  cr_time best_t = INT64_MAX;
  for (uint32_t a = 0; a < n->w->p.agents; a++) {
    if ((a == n->cv[c].excluded && now < n->cv[c].excluded_until) ||
        !can_take(n, a, cv->channel) ||
        n->ag[a].idle_since >= best_t)
      continue;
    if (bw_agent_qualifies(&n->w->agents[a], q)) {
      best = a;
      best_t = n->ag[a].idle_since;
    }
  }
  n->visits += n->w->p.agents;
  if (best == NO_AGENT)
    return 0;
  n->cv[c].state = NS_OFFERED;
  n->cv[c].agent = best;
  take(n, best, cv->channel, +1, now);
  return bw_sim_offer(n->sim, c, best, now) ? -1 : 1;
}

/* The best waiting conversation agent a can take: priority, then age. The
 * scan also drops conversations that are gone from the list. */
static uint32_t best_for(bw_naive *n, uint32_t a, cr_time now) {
  const bw_agent *A = &n->w->agents[a];
  uint32_t best = UINT32_MAX;
  int best_pri = -1;
  size_t k = 0;
  for (size_t i = 0; i < n->nwait; i++) {
    uint32_t c = n->wait[i];
    const nv_conv *s = &n->cv[c];
    if (s->state == NS_GONE)
      continue;
    n->wait[k++] = c;
    const bw_conv *cv = &n->w->convs[c];
    if (s->state != NS_WAITING || cv->priority <= best_pri ||
        (s->excluded == a && now < s->excluded_until) ||
        !can_take(n, a, cv->channel) ||
        !bw_agent_qualifies(A, &n->w->queues[cv->queue]))
      continue;
    best = c;
    best_pri = cv->priority;
  }
  n->nwait = k;
  return best;
}

/* Agent a has room again: keep deciding for the best conversation it could
 * take until none is left (each decision still scans every agent). */
static int freed(bw_naive *n, uint32_t a, cr_time now) {
  for (;;) {
    uint32_t c = best_for(n, a, now);
    if (c == UINT32_MAX)
      return 0;
    int rc = decide(n, c, now);
    if (rc <= 0)
      return rc;
  }
}

static void attach(void *d, bw_sim *s) { ((bw_naive *)d)->sim = s; }

static int arrive(void *d, uint32_t c, cr_time now) {
  bw_naive *n = d;
  if (n->nwait == n->capwait) {
    size_t cap = n->capwait ? n->capwait * 2 : 1024;
    uint32_t *p = realloc(n->wait, cap * sizeof *p);
    if (!p)
      return -2;
    n->wait = p;
    n->capwait = cap;
  }
  n->wait[n->nwait++] = c;
  n->cv[c].state = NS_WAITING;
  n->cv[c].excluded = NO_AGENT;
  int rc = decide(n, c, now);
  return rc < 0 ? rc : 0;
}

static int accept(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_naive *n = d;
  (void)now;
  if (n->cv[c].state != NS_OFFERED || n->cv[c].agent != a)
    return -7;
  n->cv[c].state = NS_GONE;
  return 0;
}

static int reject(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_naive *n = d;
  if (n->cv[c].state != NS_OFFERED || n->cv[c].agent != a)
    return -7;
  take(n, a, n->w->convs[c].channel, -1, now);
  n->cv[c].state = NS_WAITING;
  n->cv[c].excluded = a; /* the router's decline block */
  n->cv[c].excluded_until = now + BW_DECLINE_BLOCK_MS;
  int rc = decide(n, c, now);
  if (rc < 0)
    return rc;
  return freed(n, a, now);
}

static int end(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_naive *n = d;
  take(n, a, n->w->convs[c].channel, -1, now);
  return freed(n, a, now);
}

static int abandon(void *d, uint32_t c, cr_time now) {
  bw_naive *n = d;
  int was_offered = n->cv[c].state == NS_OFFERED;
  n->cv[c].state = NS_GONE;
  if (!was_offered)
    return 0;
  uint32_t a = n->cv[c].agent;
  take(n, a, n->w->convs[c].channel, -1, now);
  return freed(n, a, now);
}

static cr_time next_expiry(void *d) {
  (void)d;
  return INT64_MAX;
}

static int tick(void *d, cr_time now) {
  (void)d;
  (void)now;
  return 0;
}

const bw_disp_ops bw_naive_ops = {"naive", attach, arrive, accept, reject,
                                  end, abandon, next_expiry, tick};
