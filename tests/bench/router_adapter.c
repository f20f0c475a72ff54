/* convroute's router behind the benchmark's dispatcher interface.
 *
 * Mapping: each workload queue is a router queue whose default requirement
 * is the queue's skills, with auto_members (every agent meeting them is a
 * member, which is exactly the workload's agent queue lists) and the
 * strategy asked for (longest idle, the default, unless --strategy). Each agent gets its per-channel maxima,
 * total and costs, its skills, and is made available. A conversation is
 * enqueued with its channel and priority and the queue's default step.
 * Router defaults otherwise: offer timeout 120 s (agents here answer in
 * 1-5 s, so none times out), decline block 30 s, no wrap-up. */
#define _POSIX_C_SOURCE 200809L

#include "router_adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bw_router {
  cr_router *r;
  const bw_workload *w;
  bw_sim *sim;
  int cb_rc; /* an offer the simulation refused */
  bw_breakdown bd;
};

/* "c%07u" / "a%06u" without snprintf: the benchmark must not charge the
 * router for printf. */
static size_t fmt_id(char *buf, char prefix, uint32_t v, int digits) {
  buf[0] = prefix;
  for (int i = digits; i >= 1; i--) {
    buf[i] = (char)('0' + v % 10);
    v /= 10;
  }
  buf[digits + 1] = '\0';
  return (size_t)digits + 1;
}

static int parse_id(const char *s, size_t len, char prefix, uint32_t *out) {
  if (len < 2 || s[0] != prefix)
    return -1;
  uint32_t v = 0;
  for (size_t i = 1; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (uint32_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

static void on_offer(const cr_router_event *ev, void *ud) {
  bw_router *b = ud;
  uint32_t c, a;
  if (parse_id(ev->conv, ev->conv_len, 'c', &c) ||
      parse_id(ev->agent, ev->agent_len, 'a', &a)) {
    fprintf(stderr, "router offered unknown ids %.*s -> %.*s\n",
            (int)ev->conv_len, ev->conv, (int)ev->agent_len, ev->agent);
    b->cb_rc = -1;
    return;
  }
  if (bw_sim_offer(b->sim, c, a, ev->time))
    b->cb_rc = -1;
}

static void to_levels(cr_skill_level *out, const char (*names)[8],
                      const bw_skill *s, unsigned n) {
  for (unsigned k = 0; k < n; k++) {
    out[k].skill = names[s[k].skill];
    out[k].skill_len = strlen(names[s[k].skill]);
    out[k].level = s[k].level;
  }
}

int bw_router_new(bw_router **out, const bw_workload *w, const cr_mem *mem,
                  int strategy) {
  *out = NULL;
  bw_router *b = calloc(1, sizeof *b);
  if (!b)
    return CR_ENOMEM;
  b->w = w;
  int rc = cr_router_new(&b->r, mem, NULL);
  if (rc) {
    free(b);
    return rc;
  }
  *out = b;
  cr_router_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.offer = on_offer;
  cb.user_data = b;
  if ((rc = cr_router_set_callbacks(b->r, &cb)))
    return rc;
  for (uint32_t q = 0; q < w->p.queues && !rc; q++) {
    const bw_queue *Q = &w->queues[q];
    cr_skill_level req[BW_MAX_QUEUE_REQ];
    to_levels(req, w->skill_names, Q->req, Q->nreq);
    cr_queue_config qc;
    cr_queue_config_init(&qc);
    qc.skills = req;
    qc.nskills = Q->nreq;
    qc.auto_members = 1;
    qc.strategy = strategy;
    rc = cr_router_queue_add(b->r, Q->id, Q->id_len, &qc, 0);
  }
  return rc;
}

int bw_router_add_agents(bw_router *b, uint32_t from, uint32_t to,
                         cr_time now) {
  const bw_workload *w = b->w;
  for (uint32_t i = from; i < to; i++) {
    const bw_agent *a = &w->agents[i];
    cr_skill_level sk[BW_MAX_AGENT_SKILLS];
    to_levels(sk, w->skill_names, a->skills, a->nskills);
    cr_agent_config ac;
    cr_agent_config_init(&ac);
    for (int c = 0; c < CR_CHANNEL_COUNT; c++) {
      ac.max_per_channel[c] = a->max[c];
      ac.cost[c] = a->cost[c];
    }
    ac.total_capacity = a->total;
    ac.skills = sk;
    ac.nskills = a->nskills;
    int rc = cr_router_agent_add(b->r, a->id, a->id_len, &ac, now);
    if (!rc)
      rc = cr_router_agent_set_status(b->r, a->id, a->id_len,
                                      CR_AGENT_AVAILABLE, NULL, 0, now);
    if (rc)
      return rc;
  }
  return 0;
}

static int enqueue(bw_router *b, uint32_t c, cr_time now) {
  const bw_conv *cv = &b->w->convs[c];
  const bw_queue *Q = &b->w->queues[cv->queue];
  char id[16];
  size_t n = fmt_id(id, 'c', c, 7);
  cr_conv_params p;
  cr_conv_params_init(&p);
  p.channel = cv->channel;
  p.priority = cv->priority;
  return cr_router_enqueue(b->r, id, n, Q->id, Q->id_len, &p, now);
}

int bw_router_add_waiting(bw_router *b, uint32_t c, cr_time now) {
  return enqueue(b, c, now);
}

int bw_router_check_books(bw_router *b, const bw_result *res, cr_time now) {
  uint64_t entered = 0, answered = 0, abandoned = 0, rejected = 0;
  uint64_t accepted = 0, left = 0;
  for (uint32_t q = 0; q < b->w->p.queues; q++) {
    const bw_queue *Q = &b->w->queues[q];
    cr_queue_stats st;
    int rc = cr_router_queue_stats(b->r, Q->id, Q->id_len, now, &st);
    if (rc) {
      fprintf(stderr, "queue stats %s: %s\n", Q->id, cr_strerror(rc));
      return -1;
    }
    entered += st.entered;
    answered += st.answered;
    abandoned += st.abandoned;
    rejected += st.offers_rejected;
    accepted += st.offers_accepted;
    left += (uint64_t)st.waiting + st.offered + st.active;
  }
  if (entered == res->arrived && answered == res->accepted &&
      accepted == res->accepted && abandoned == res->abandoned &&
      rejected == res->rejected && left == 0)
    return 0;
  fprintf(stderr,
          "router statistics disagree with the benchmark's books: entered "
          "%llu/%llu answered %llu/%llu accepted %llu/%llu abandoned "
          "%llu/%llu rejected %llu/%llu still held %llu/0\n",
          (unsigned long long)entered, (unsigned long long)res->arrived,
          (unsigned long long)answered, (unsigned long long)res->accepted,
          (unsigned long long)accepted, (unsigned long long)res->accepted,
          (unsigned long long)abandoned, (unsigned long long)res->abandoned,
          (unsigned long long)rejected, (unsigned long long)res->rejected,
          (unsigned long long)left);
  return -1;
}

void bw_router_del(bw_router *b) {
  if (!b)
    return;
  cr_router_del(b->r);
  free(b);
}

const char *bw_router_errmsg(const bw_router *b) {
  return b && b->r ? cr_router_errmsg(b->r) : "";
}

/* ---- dispatcher ops ---- */

static int done(bw_router *b, int rc) {
  if (rc)
    return rc;
  return b->cb_rc;
}

static void attach(void *d, bw_sim *s) { ((bw_router *)d)->sim = s; }

static int arrive(void *d, uint32_t c, cr_time now) {
  bw_router *b = d;
  return done(b, enqueue(b, c, now));
}

static int accept(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  char cid[16], aid[16];
  size_t cn = fmt_id(cid, 'c', c, 7), an = fmt_id(aid, 'a', a, 6);
  return done(b, cr_router_accept(b->r, cid, cn, aid, an, now));
}

static int reject(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  char cid[16], aid[16];
  size_t cn = fmt_id(cid, 'c', c, 7), an = fmt_id(aid, 'a', a, 6);
  return done(b, cr_router_reject(b->r, cid, cn, aid, an, now));
}

static int end(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  (void)a;
  char cid[16];
  size_t cn = fmt_id(cid, 'c', c, 7);
  return done(b, cr_router_end(b->r, cid, cn, now));
}

static int abandon(void *d, uint32_t c, cr_time now) {
  bw_router *b = d;
  char cid[16];
  size_t cn = fmt_id(cid, 'c', c, 7);
  return done(b, cr_router_abandon(b->r, cid, cn, now));
}

static cr_time next_expiry(void *d) {
  return cr_router_next_expiry(((bw_router *)d)->r);
}

static int tick(void *d, cr_time now) {
  bw_router *b = d;
  return done(b, cr_router_tick(b->r, now));
}

const bw_disp_ops bw_router_ops = {"router", attach,  arrive,      accept,
                                   reject,   end,     abandon,     next_expiry,
                                   tick};

/* ---- timed ops ---- */

const char *const bw_call_names[BW_CALLS] = {
    "cr_router_enqueue", "cr_router_accept", "cr_router_reject",
    "cr_router_end",     "cr_router_abandon", "cr_router_tick",
    "cr_router_next_expiry"};

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TIMED(b, which, expr)                                               \
  do {                                                                      \
    double t0_ = mono();                                                    \
    rc_ = (expr);                                                           \
    (b)->bd.seconds[which] += mono() - t0_;                                 \
    (b)->bd.calls[which]++;                                                 \
  } while (0)

static int t_arrive(void *d, uint32_t c, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_ENQUEUE, arrive(d, c, now));
  return rc_;
}
static int t_accept(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_ACCEPT, accept(d, c, a, now));
  return rc_;
}
static int t_reject(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_REJECT, reject(d, c, a, now));
  return rc_;
}
static int t_end(void *d, uint32_t c, uint32_t a, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_END, end(d, c, a, now));
  return rc_;
}
static int t_abandon(void *d, uint32_t c, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_ABANDON, abandon(d, c, now));
  return rc_;
}
static cr_time t_next_expiry(void *d) {
  bw_router *b = d;
  cr_time rc_;
  TIMED(b, BW_CALL_NEXT_EXPIRY, next_expiry(d));
  return rc_;
}
static int t_tick(void *d, cr_time now) {
  bw_router *b = d;
  int rc_;
  TIMED(b, BW_CALL_TICK, tick(d, now));
  return rc_;
}

const bw_disp_ops bw_router_timed_ops = {
    "router (timed)", attach, t_arrive,      t_accept, t_reject,
    t_end,            t_abandon, t_next_expiry, t_tick};

void bw_router_breakdown(const bw_router *b, bw_breakdown *out) {
  *out = b->bd;
}
