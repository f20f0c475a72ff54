/* cr-sim's kernel; see sim_core.h. */
#include "sim_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A source's next arrival is not an event in the heap: it waits beside it
 * (src.next_t, s->src_min) and is ordered with the heap's root by the same
 * (time, insertion number). */
enum ev_kind {
  EV_ARRIVE = 1, /* a = slot, b = gen: an explicit contact arrives */
  EV_ACCEPT = 2, /* a = slot, b = offer id */
  EV_END = 3,    /* a = slot, b = gen */
  EV_ABANDON = 4, /* a = slot, b = gen */
  EV_USER = 5    /* host event */
};

typedef struct ev {
  cr_time t;
  uint64_t seq;
  uint32_t kind, a;
  uint64_t b;
} ev;

enum slot_state { SL_FREE = 0, SL_SCHEDULED, SL_WAITING, SL_ASSIGNED };

typedef struct slot {
  crs_contact c;
  cr_time arrived, answered;
  uint64_t gen;      /* contact number (1, 2, ...); part of the router id */
  uint64_t offer_id; /* the offer an ACCEPT event must match */
  int32_t agent;     /* assigned agent */
  int32_t pending;   /* agent whose answer is pending, -1 none */
  uint32_t next_free;
  uint8_t state;
  uint8_t idlen;
  char id[38]; /* the router id, made once per contact (conv_id) */
} slot;

typedef struct src {
  crs_source s;
  double *rates;
  double t;          /* continuous time of the last arrival, ms */
  crs_rng arr, attr; /* inter-arrival gaps; handle times and patience */
  cr_time next_t;    /* its next arrival (armed): kept out of the event */
  uint64_t next_seq; /* heap, which it would enter and leave once per */
  int armed;         /* contact; ordered with it by (t, seq) */
} src;

typedef struct agent {
  char *name;
  size_t len;
} agent;

typedef struct pend {
  uint32_t slot;
  uint64_t offer_id;
} pend;

struct crs_sim {
  crs_config cfg;
  crs_hooks hk;
  cr_router *r;
  cr_metrics *m;
  crs_rng rng;
  cr_time now;
  uint64_t seq, gen, offer_seq;
  uint32_t src_min; /* the armed source with the least (t, seq), or NO_SRC
                       (found by a scan: sources are a handful) */
  int in_router; /* inside a router call: offers are queued */
  int rc;        /* first error inside a callback */
  ev *heap;
  size_t nheap, capheap;
  slot *slots;
  uint32_t nslots, capslots, free_head;
  src *srcs;
  uint32_t nsrcs;
  agent *agents;
  uint32_t nagents;
  uint32_t *amap; /* open addressing: agent index + 1, 0 empty */
  uint32_t amap_cap;
  struct {
    const char *p; /* the router's copy of an agent's name */
    uint32_t idx;  /* that agent */
  } acache[256];   /* offers name agents by these: see agent_find_ev */
  char **queues;
  uint32_t nqueues;
  uint32_t *qkey; /* metrics key ids of queues */
  pend *todo;
  size_t ntodo, captodo;
  crs_stats st;
  char errmsg[256];
};

#define NO_SLOT UINT32_MAX
#define NO_SRC UINT32_MAX

/* ---------------------------------------------------------------- misc */

static int fail(crs_sim *s, int rc, const char *what) {
  snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, cr_strerror(rc));
  if (!s->rc)
    s->rc = rc;
  return rc;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q)
    return CR_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

cr_time crs_dist_draw_ms(const crs_dist *d, crs_rng *r) {
  double x;
  switch (d->kind) {
  case CRS_DIST_FIXED:
    x = d->mean_s;
    break;
  case CRS_DIST_EXP:
    x = crs_exp(r, d->mean_s);
    break;
  case CRS_DIST_LOGNORMAL:
    x = crs_lognormal(r, d->mean_s, d->cv);
    break;
  default:
    return CRS_NEVER;
  }
  x = x * 1000.0 + 0.5;
  return x >= 9.0e15 ? (cr_time)9e15 : (cr_time)x;
}

int crs_dist_check(const crs_dist *d) {
  switch (d->kind) {
  case CRS_DIST_NONE:
    return 0;
  case CRS_DIST_FIXED:
    return d->mean_s >= 0 && isfinite(d->mean_s) ? 0 : CR_EINVAL;
  case CRS_DIST_EXP:
    return d->mean_s > 0 && isfinite(d->mean_s) ? 0 : CR_EINVAL;
  case CRS_DIST_LOGNORMAL:
    return d->mean_s > 0 && isfinite(d->mean_s) && d->cv > 0 &&
                   isfinite(d->cv)
               ? 0
               : CR_EINVAL;
  default:
    return CR_EINVAL;
  }
}

void crs_config_init(crs_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cr_router_config_init(&cfg->router);
  cfg->router.reentry_grace_ms = 0;
  cr_metrics_options_init(&cfg->metrics);
  cfg->use_metrics = 1;
  cfg->metric_keys = 1;
  cfg->answer_delay.kind = CRS_DIST_NONE;
  cfg->seed = 1;
}

/* ------------------------------------------------------ the event heap */

/* 4-ary min-heap on (t, seq): half the depth of a binary heap, and the
 * four children of a node share a cache line or two (LaMarca & Ladner
 * 1996: d = 4 is the sweet spot for event queues). */
static inline int ev_less(const ev *x, const ev *y) {
  return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static int push(crs_sim *s, cr_time t, uint32_t kind, uint32_t a,
                uint64_t b) {
  if (s->nheap == s->capheap &&
      grow((void **)&s->heap, &s->capheap, s->nheap + 1, sizeof(ev)))
    return CR_ENOMEM;
  ev e = {t, s->seq++, kind, a, b};
  size_t i = s->nheap++;
  while (i > 0) {
    size_t p = (i - 1) >> 2;
    if (!ev_less(&e, &s->heap[p]))
      break;
    s->heap[i] = s->heap[p];
    i = p;
  }
  s->heap[i] = e;
  return 0;
}

static void pop(crs_sim *s, ev *out) {
  ev *h = s->heap;
  *out = h[0];
  size_t n = --s->nheap, i = 0;
  ev last = h[n];
  for (;;) {
    size_t c = 4 * i + 1, best;
    if (c + 3 < n) { /* the least of four children: three comparisons */
      size_t b0 = c + (size_t)ev_less(&h[c + 1], &h[c]);
      size_t b1 = c + 2 + (size_t)ev_less(&h[c + 3], &h[c + 2]);
      best = ev_less(&h[b1], &h[b0]) ? b1 : b0;
    } else if (c < n) {
      best = c;
      for (size_t k = c + 1; k < n; k++)
        if (ev_less(&h[k], &h[best]))
          best = k;
    } else
      break;
    if (!ev_less(&h[best], &last))
      break;
    h[i] = h[best];
    i = best;
  }
  if (n)
    h[i] = last;
}

/* ------------------------------------------------------------ contacts */

/* Router id of a contact: "c<slot>.<gen>" in lower-case hex (shifts, not
 * divisions: this runs for every contact). The slot finds it again
 * in a callback; the generation makes the id unique for the whole run, so
 * a reused slot never meets its predecessor inside the router. */
static size_t u64_hex(char *p, uint64_t v) {
  static const char dig[] = "0123456789abcdef";
  int n = 1;
  while (n < 16 && (v >> (4 * n)))
    n++;
  for (int i = n - 1; i >= 0; i--, v >>= 4)
    p[i] = dig[v & 15];
  return (size_t)n;
}

static size_t conv_id(uint32_t i, uint64_t gen, char *buf) {
  size_t n = 0;
  buf[n++] = 'c';
  n += u64_hex(buf + n, i);
  buf[n++] = '.';
  n += u64_hex(buf + n, gen);
  return n;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                 : -1;
}

/* memcmp's answer for short ids (the simulator's are 8-16 bytes: two
 * overlapping 8-byte words each), without the call. */
static inline int id_same(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

/* The slot from the id's hex digits, then the whole id compared with the
 * slot's own: the generation need not be parsed. */
static uint32_t conv_slot(const crs_sim *s, const char *id, size_t len) {
  if (len < 4 || id[0] != 'c')
    return NO_SLOT;
  uint64_t v = 0;
  for (size_t i = 1; i < len && id[i] != '.'; i++)
    v = (v << 4) | (uint64_t)(hexval(id[i]) & 15);
  if (v >= s->nslots)
    return NO_SLOT;
  const slot *x = &s->slots[v];
  if (x->state == SL_FREE || x->idlen != len || !id_same(x->id, id, len))
    return NO_SLOT;
  return (uint32_t)v;
}

static int slot_alloc(crs_sim *s, uint32_t *out) {
  if (s->free_head != NO_SLOT) {
    *out = s->free_head;
    s->free_head = s->slots[*out].next_free;
  } else {
    size_t cap = s->capslots;
    if (grow((void **)&s->slots, &cap, (size_t)s->nslots + 1, sizeof(slot)))
      return CR_ENOMEM;
    s->capslots = (uint32_t)cap;
    *out = s->nslots++;
  }
  slot *x = &s->slots[*out];
  memset(x, 0, sizeof *x);
  x->gen = ++s->gen;
  x->pending = -1;
  x->agent = -1;
  x->answered = CR_TIME_NONE;
  x->idlen = (uint8_t)conv_id(*out, x->gen, x->id);
  return 0;
}

static void slot_free(crs_sim *s, uint32_t i) {
  s->slots[i].state = SL_FREE;
  s->slots[i].next_free = s->free_head;
  s->free_head = i;
}

/* ------------------------------------------------------------ agents */

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
  return h;
}

static int32_t agent_find(const crs_sim *s, const char *id, size_t len) {
  if (!s->amap_cap)
    return -1;
  uint32_t mask = s->amap_cap - 1;
  for (uint32_t h = (uint32_t)fnv1a(id, len) & mask;; h = (h + 1) & mask) {
    uint32_t v = s->amap[h];
    if (!v)
      return -1;
    const agent *a = &s->agents[v - 1];
    if (a->len == len && id_same(a->name, id, len))
      return (int32_t)(v - 1);
  }
}

static int amap_put(crs_sim *s, uint32_t idx) {
  if (2 * ((size_t)s->nagents + 1) > s->amap_cap) { /* load <= 1/2 */
    uint32_t cap = s->amap_cap ? s->amap_cap * 2 : 64;
    uint32_t *m = calloc(cap, sizeof *m);
    if (!m)
      return CR_ENOMEM;
    for (uint32_t k = 0; k < s->nagents; k++) {
      uint32_t h = (uint32_t)fnv1a(s->agents[k].name, s->agents[k].len);
      for (h &= cap - 1; m[h]; h = (h + 1) & (cap - 1))
        ;
      m[h] = k + 1;
    }
    free(s->amap);
    s->amap = m;
    s->amap_cap = cap;
  }
  uint32_t mask = s->amap_cap - 1;
  uint32_t h = (uint32_t)fnv1a(s->agents[idx].name, s->agents[idx].len);
  for (h &= mask; s->amap[h]; h = (h + 1) & mask)
    ;
  s->amap[h] = idx + 1;
  return 0;
}

/* ------------------------------------------------- router callbacks */

/* agent_find through a cache keyed by the address of the router's copy
 * of the name (verified by the name itself, so a stale entry only misses) */
static int32_t agent_find_ev(crs_sim *s, const char *id, size_t len) {
  size_t h = ((uintptr_t)id >> 4) & 255;
  if (s->acache[h].p == id) {
    uint32_t i = s->acache[h].idx;
    if (i < s->nagents && s->agents[i].len == len &&
        id_same(s->agents[i].name, id, len))
      return (int32_t)i;
  }
  int32_t a = agent_find(s, id, len);
  if (a >= 0) {
    s->acache[h].p = id;
    s->acache[h].idx = (uint32_t)a;
  }
  return a;
}

static void on_offer(const cr_router_event *e, void *ud) {
  crs_sim *s = ud;
  s->st.offers++;
  uint32_t i = conv_slot(s, e->conv, e->conv_len);
  if (i == NO_SLOT)
    return;
  slot *x = &s->slots[i];
  if (x->pending >= 0)
    return; /* ring-all: the first offer is the one answered */
  int32_t a = agent_find_ev(s, e->agent, e->agent_len);
  if (a < 0)
    return;
  x->pending = a;
  x->offer_id = ++s->offer_seq;
  if (s->cfg.answer_delay.kind == CRS_DIST_NONE) {
    if (s->ntodo == s->captodo &&
        grow((void **)&s->todo, &s->captodo, s->ntodo + 1, sizeof(pend))) {
      fail(s, CR_ENOMEM, "offer list");
      return;
    }
    s->todo[s->ntodo++] = (pend){i, x->offer_id};
  } else {
    cr_time d = crs_dist_draw_ms(&s->cfg.answer_delay, &s->rng);
    if (push(s, e->time + d, EV_ACCEPT, i, x->offer_id))
      fail(s, CR_ENOMEM, "event heap");
  }
}

static void withdraw(crs_sim *s, const cr_router_event *e) {
  uint32_t i = conv_slot(s, e->conv, e->conv_len);
  if (i == NO_SLOT)
    return;
  slot *x = &s->slots[i];
  if (x->pending >= 0 && x->pending == agent_find(s, e->agent, e->agent_len))
    x->pending = -1; /* the ACCEPT event no longer matches */
}

static void finish(crs_sim *s, uint32_t i, int result, cr_time now);

static void on_cancel(const cr_router_event *e, void *ud) {
  withdraw(ud, e);
}

static void on_escalation(const cr_router_event *e, void *ud) {
  crs_sim *s = ud;
  if (e->type != CR_REV_EXITWITHTIMEOUT)
    return;
  uint32_t i = conv_slot(s, e->conv, e->conv_len);
  if (i != NO_SLOT && s->slots[i].state == SL_WAITING)
    finish(s, i, CRS_TIMED_OUT, e->time);
}

static void on_event(const cr_router_event *e, void *ud) {
  crs_sim *s = ud;
  if (e->type == CR_REV_RINGNOANSWER)
    withdraw(s, e);
  if (s->hk.router_event)
    s->hk.router_event(s, e, s->hk.ud);
}

/* ------------------------------------------------------- lifecycle */

int crs_sim_new(crs_sim **out, const crs_config *cfg,
                const crs_hooks *hooks) {
  *out = NULL;
  crs_sim *s = calloc(1, sizeof *s);
  if (!s)
    return CR_ENOMEM;
  if (cfg)
    s->cfg = *cfg;
  else
    crs_config_init(&s->cfg);
  if (hooks)
    s->hk = *hooks;
  s->free_head = NO_SLOT;
  s->src_min = NO_SRC;
  int rc = crs_dist_check(&s->cfg.answer_delay);
  if (rc) {
    free(s);
    return rc;
  }
  crs_rng_seed(&s->rng, s->cfg.seed, 0);
  rc = cr_router_new(&s->r, NULL, &s->cfg.router);
  if (!rc && s->cfg.use_metrics)
    rc = cr_metrics_new(&s->m, NULL, &s->cfg.metrics);
  if (!rc) {
    cr_router_callbacks cb = {0};
    cb.offer = on_offer;
    cb.offer_cancelled = on_cancel;
    cb.escalation = on_escalation;
    /* The catch-all costs an event struct per queue-log line: only when
     * offers can time out (answers take time) or the host wants the log. */
    if (s->cfg.answer_delay.kind != CRS_DIST_NONE || s->hk.router_event)
      cb.event = on_event;
    cb.user_data = s;
    rc = cr_router_set_callbacks(s->r, &cb);
  }
  if (rc) {
    crs_sim_del(s);
    return rc;
  }
  *out = s;
  return 0;
}

void crs_sim_del(crs_sim *s) {
  if (!s)
    return;
  cr_router_del(s->r);
  cr_metrics_del(s->m);
  free(s->heap);
  free(s->slots);
  for (uint32_t i = 0; i < s->nsrcs; i++)
    free(s->srcs[i].rates);
  free(s->srcs);
  for (uint32_t i = 0; i < s->nagents; i++)
    free(s->agents[i].name);
  free(s->agents);
  free(s->amap);
  for (uint32_t i = 0; i < s->nqueues; i++)
    free(s->queues[i]);
  free(s->queues);
  free(s->qkey);
  free(s->todo);
  free(s);
}

const char *crs_sim_errmsg(const crs_sim *s) { return s->errmsg; }
cr_router *crs_sim_router(crs_sim *s) { return s->r; }
cr_metrics *crs_sim_metrics(crs_sim *s) { return s->m; }
crs_rng *crs_sim_rng(crs_sim *s) { return &s->rng; }
cr_time crs_sim_now(const crs_sim *s) { return s->now; }
const crs_stats *crs_sim_stats(const crs_sim *s) { return &s->st; }
uint32_t crs_sim_queue_count(const crs_sim *s) { return s->nqueues; }
uint32_t crs_sim_agent_count(const crs_sim *s) { return s->nagents; }

const char *crs_sim_queue_name(const crs_sim *s, uint32_t q) {
  return q < s->nqueues ? s->queues[q] : NULL;
}

const char *crs_sim_agent_name(const crs_sim *s, uint32_t a) {
  return a < s->nagents ? s->agents[a].name : NULL;
}

/* ---------------------------------------------------------- the centre */

static char *dupstr(const char *p, size_t *len) {
  *len = strlen(p);
  char *d = malloc(*len + 1);
  if (d)
    memcpy(d, p, *len + 1);
  return d;
}

int crs_sim_add_queue(crs_sim *s, const char *id, const cr_queue_config *qc,
                      uint32_t *index) {
  size_t len;
  char *name = dupstr(id, &len);
  char **q = name ? realloc(s->queues, (s->nqueues + 1) * sizeof *q) : NULL;
  uint32_t *k = q ? realloc(s->qkey, (s->nqueues + 1) * sizeof *k) : NULL;
  if (q)
    s->queues = q;
  if (k)
    s->qkey = k;
  if (!k) {
    free(name);
    return fail(s, CR_ENOMEM, "queue");
  }
  /* The metrics key first (the router has no queue removal to undo an
   * add with): unchecked, a failed key left id 0, and this queue's
   * records were counted under another queue's key without a word. */
  s->qkey[s->nqueues] = 0;
  int rc = s->m && s->cfg.metric_keys
               ? cr_metrics_key(s->m, CR_METRICS_QUEUE, name, len,
                                &s->qkey[s->nqueues])
               : 0;
  if (rc == CR_ESTATE) /* the queue breakdown is off: no key needed */
    rc = 0, s->qkey[s->nqueues] = 0;
  if (rc) {
    snprintf(s->errmsg, sizeof s->errmsg, "queue %s: metrics key: %s", id,
             cr_metrics_errmsg(s->m));
    free(name);
    return rc;
  }
  rc = cr_router_queue_add(s->r, name, len, qc, s->now);
  if (rc) {
    free(name);
    snprintf(s->errmsg, sizeof s->errmsg, "queue %s: %s", id,
             cr_router_errmsg(s->r));
    return rc;
  }
  s->queues[s->nqueues] = name;
  if (index)
    *index = s->nqueues;
  s->nqueues++;
  return 0;
}

int crs_sim_add_agent(crs_sim *s, const char *id, const cr_agent_config *ac,
                      int available, uint32_t *index) {
  size_t len;
  if (agent_find(s, id, strlen(id)) >= 0)
    return CR_EEXIST;
  char *name = dupstr(id, &len);
  agent *a = name ? realloc(s->agents, (s->nagents + 1) * sizeof *a) : NULL;
  if (!a) {
    free(name);
    return fail(s, CR_ENOMEM, "agent");
  }
  s->agents = a;
  int rc = cr_router_agent_add(s->r, name, len, ac, s->now);
  if (rc) {
    free(name);
    snprintf(s->errmsg, sizeof s->errmsg, "agent %s: %s", id,
             cr_router_errmsg(s->r));
    return rc;
  }
  uint32_t idx = s->nagents;
  s->agents[idx] = (agent){name, len};
  if (amap_put(s, idx)) {
    cr_router_agent_remove(s->r, name, len, s->now);
    free(name);
    return fail(s, CR_ENOMEM, "agent map");
  }
  s->nagents++;
  if (index)
    *index = idx;
  return available ? crs_sim_agent_status(s, idx, CR_AGENT_AVAILABLE, s->now)
                   : 0;
}

int crs_sim_join(crs_sim *s, uint32_t a, uint32_t q, int priority) {
  if (a >= s->nagents || q >= s->nqueues)
    return CR_EINVAL;
  s->in_router = 1;
  int rc = cr_router_agent_join(s->r, s->agents[a].name, s->agents[a].len,
                                s->queues[q], strlen(s->queues[q]), priority,
                                0, s->now);
  s->in_router = 0;
  if (rc)
    snprintf(s->errmsg, sizeof s->errmsg, "join %s %s: %s",
             s->agents[a].name, s->queues[q], cr_router_errmsg(s->r));
  return rc ? rc : crs_sim_flush(s);
}

int crs_sim_agent_status(crs_sim *s, uint32_t a, int status, cr_time now) {
  if (a >= s->nagents || now < s->now)
    return CR_EINVAL;
  s->now = now;
  int rc = cr_router_agent_set_status(s->r, s->agents[a].name,
                                      s->agents[a].len, status, NULL, 0, now);
  if (rc) {
    snprintf(s->errmsg, sizeof s->errmsg, "status of %s: %s",
             s->agents[a].name, cr_router_errmsg(s->r));
    return rc;
  }
  return crs_sim_flush(s);
}

/* ------------------------------------------------------------ sources */

/* After a source's next arrival changed: which armed source comes first. */
static void src_note(crs_sim *s) {
  uint32_t best = NO_SRC;
  for (uint32_t k = 0; k < s->nsrcs; k++) {
    const src *x = &s->srcs[k], *b = &s->srcs[best == NO_SRC ? k : best];
    if (x->armed && (best == NO_SRC || x->next_t < b->next_t ||
                     (x->next_t == b->next_t && x->next_seq < b->next_seq)))
      best = k;
  }
  s->src_min = best;
}

static int source_next(crs_sim *s, uint32_t k) {
  src *x = &s->srcs[k];
  const crs_source *p = &x->s;
  double t = x->t;
  for (;;) {
    double rate, end;
    if (p->nrates == 0) {
      rate = p->rate_per_hour;
      end = p->end_ms == CRS_NEVER ? INFINITY : (double)p->end_ms;
    } else {
      double i = floor((t - (double)p->start_ms) / (double)p->interval_ms);
      if (i >= (double)p->nrates)
        return src_note(s), 0;
      rate = x->rates[(size_t)i];
      end = (double)p->start_ms + (i + 1) * (double)p->interval_ms;
      if (p->end_ms != CRS_NEVER && (double)p->end_ms < end)
        end = (double)p->end_ms;
    }
    double gap = rate > 0 ? crs_exp(&x->arr, 3600000.0 / rate) : INFINITY;
    if (t + gap < end) {
      x->t = t + gap;
      x->next_t = (cr_time)ceil(x->t);
      x->next_seq = s->seq++;
      x->armed = 1;
      src_note(s);
      return 0;
    }
    if (end == INFINITY || (p->end_ms != CRS_NEVER && end >= (double)p->end_ms))
      return src_note(s), 0;
    t = end; /* memoryless: restart the gap at the interval boundary */
  }
}

int crs_sim_add_source(crs_sim *s, const crs_source *p, uint32_t *index) {
  if (p->queue >= s->nqueues || p->handle.kind == CRS_DIST_NONE ||
      crs_dist_check(&p->handle) || crs_dist_check(&p->patience) ||
      (p->nrates && (p->interval_ms <= 0 || !p->rates_per_hour)) ||
      (!p->nrates && !(p->rate_per_hour >= 0)) || p->start_ms < s->now)
    return CR_EINVAL;
  for (size_t i = 0; i < p->nrates; i++)
    if (!(p->rates_per_hour[i] >= 0) || !isfinite(p->rates_per_hour[i]))
      return CR_EINVAL;
  src *n = realloc(s->srcs, (s->nsrcs + 1) * sizeof *n);
  if (!n)
    return CR_ENOMEM;
  s->srcs = n;
  src *x = &s->srcs[s->nsrcs];
  memset(x, 0, sizeof *x);
  x->s = *p;
  if (p->nrates) {
    x->rates = malloc(p->nrates * sizeof(double));
    if (!x->rates)
      return CR_ENOMEM;
    memcpy(x->rates, p->rates_per_hour, p->nrates * sizeof(double));
  }
  x->s.rates_per_hour = x->rates;
  x->t = (double)p->start_ms;
  crs_rng_seed(&x->arr, s->cfg.seed, 2 * (uint64_t)s->nsrcs + 1);
  crs_rng_seed(&x->attr, s->cfg.seed, 2 * (uint64_t)s->nsrcs + 2);
  uint32_t k = s->nsrcs++;
  if (index)
    *index = k;
  return source_next(s, k);
}

/* ------------------------------------------------------------ the loop */

static void finish(crs_sim *s, uint32_t i, int result, cr_time now) {
  slot *x = &s->slots[i];
  crs_outcome o;
  o.c = &x->c;
  o.result = result;
  o.arrived = x->arrived;
  o.answered = result == CRS_ANSWERED ? x->answered : CR_TIME_NONE;
  o.ended = now;
  o.wait_ms = (result == CRS_ANSWERED ? x->answered : now) - x->arrived;
  o.waited = o.wait_ms > 0;
  o.agent = result == CRS_ANSWERED ? x->agent : -1;
  switch (result) {
  case CRS_ANSWERED:
    s->st.answered++;
    break;
  case CRS_ABANDONED:
    s->st.abandoned++;
    break;
  case CRS_TIMED_OUT:
    s->st.timed_out++;
    break;
  default:
    s->st.refused++;
  }
  if (s->m && result != CRS_REFUSED) {
    cr_metrics_record rec;
    cr_metrics_record_init(&rec);
    rec.arrived_at = x->arrived;
    rec.queued_at = x->arrived;
    rec.answered_at = o.answered;
    rec.ended_at = now;
    rec.handled_by =
        result == CRS_ANSWERED ? CR_HANDLED_AGENT : CR_HANDLED_ABANDONED;
    if (s->cfg.metric_keys) {
      const char *ch = cr_channel_name(x->c.channel);
      rec.key[CR_METRICS_CHANNEL].str = ch;
      rec.key[CR_METRICS_CHANNEL].len = ch ? strlen(ch) : 0;
      rec.key[CR_METRICS_QUEUE].id = s->qkey[x->c.queue];
      if (o.agent >= 0) {
        rec.key[CR_METRICS_AGENT].str = s->agents[o.agent].name;
        rec.key[CR_METRICS_AGENT].len = s->agents[o.agent].len;
      }
    }
    int rc = cr_metrics_record_add(s->m, &rec);
    if (rc)
      fail(s, rc, cr_metrics_errmsg(s->m));
  }
  if (s->hk.done)
    s->hk.done(s, &o, s->hk.ud);
  s->st.in_flight--;
  slot_free(s, i);
}

/* Accepts the offers queued by the last router call (answer delay 0). */
int crs_sim_flush(crs_sim *s) {
  for (size_t k = 0; k < s->ntodo && !s->rc; k++) {
    uint32_t i = s->todo[k].slot;
    slot *x = &s->slots[i];
    if (x->state != SL_WAITING || x->offer_id != s->todo[k].offer_id ||
        x->pending < 0)
      continue;
    const agent *a = &s->agents[x->pending];
    int rc = cr_router_accept(s->r, x->id, x->idlen, a->name, a->len,
                              s->now);
    if (rc)
      return fail(s, rc, "accept");
    x->state = SL_ASSIGNED;
    x->agent = x->pending;
    x->pending = -1;
    x->answered = s->now;
    if (x->c.handle_ms >= CRS_NEVER - s->now)
      return fail(s, CR_ERANGE, "handle time");
    if (push(s, s->now + x->c.handle_ms, EV_END, i, x->gen))
      return fail(s, CR_ENOMEM, "event heap");
  }
  s->ntodo = 0;
  return s->rc;
}

static int enter(crs_sim *s, uint32_t i) {
  slot *x = &s->slots[i];
  cr_conv_params p;
  cr_conv_params_init(&p);
  p.channel = x->c.channel;
  p.priority = x->c.priority;
  p.steps = x->c.steps;
  p.nsteps = x->c.nsteps;
  x->arrived = s->now;
  x->state = SL_WAITING;
  s->st.arrived++;
  if (++s->st.in_flight > s->st.max_in_flight)
    s->st.max_in_flight = s->st.in_flight;
  if (x->c.patience_ms != CRS_NEVER) {
    if (x->c.patience_ms >= CRS_NEVER - s->now)
      return fail(s, CR_ERANGE, "patience");
    if (push(s, s->now + x->c.patience_ms, EV_ABANDON, i, x->gen))
      return fail(s, CR_ENOMEM, "event heap");
  }
  const char *q = s->queues[x->c.queue];
  int rc = cr_router_enqueue(s->r, x->id, x->idlen, q, strlen(q), &p,
                             s->now);
  if (rc == CR_ECLOSED || rc == CR_EFULL) {
    finish(s, i, CRS_REFUSED, s->now);
    return 0;
  }
  if (rc) {
    snprintf(s->errmsg, sizeof s->errmsg, "enqueue: %s",
             cr_router_errmsg(s->r));
    s->rc = rc;
    return rc;
  }
  return crs_sim_flush(s);
}

static int on_source(crs_sim *s, uint32_t k) {
  src *x = &s->srcs[k];
  crs_contact c;
  memset(&c, 0, sizeof c);
  c.queue = x->s.queue;
  c.channel = x->s.channel;
  c.priority = x->s.priority;
  c.handle_ms = crs_dist_draw_ms(&x->s.handle, &x->attr);
  c.patience_ms = crs_dist_draw_ms(&x->s.patience, &x->attr);
  c.source = k;
  int rc = source_next(s, k);
  if (rc)
    return fail(s, rc, "event heap");
  if (s->hk.arrival) {
    rc = s->hk.arrival(s, s->now, &c, s->hk.ud);
    if (rc < 0)
      return fail(s, rc, "arrival hook");
    if (rc > 0) {
      s->st.dropped++;
      return 0;
    }
    if (c.queue >= s->nqueues)
      return fail(s, CR_EINVAL, "arrival hook: queue");
  }
  uint32_t i;
  if (slot_alloc(s, &i))
    return fail(s, CR_ENOMEM, "contacts");
  s->slots[i].c = c;
  return enter(s, i);
}

int crs_sim_arrive_at(crs_sim *s, cr_time t, const crs_contact *c) {
  if (t < s->now || c->queue >= s->nqueues || c->handle_ms < 0 ||
      c->patience_ms < 0)
    return CR_EINVAL;
  uint32_t i;
  if (slot_alloc(s, &i))
    return CR_ENOMEM;
  s->slots[i].c = *c;
  s->slots[i].state = SL_SCHEDULED;
  if (push(s, t, EV_ARRIVE, i, s->slots[i].gen)) {
    slot_free(s, i);
    return CR_ENOMEM;
  }
  return 0;
}

int crs_sim_schedule(crs_sim *s, cr_time t, uint32_t a, uint64_t b) {
  if (t < s->now)
    return CR_EINVAL;
  return push(s, t, EV_USER, a, b);
}

static int on_accept(crs_sim *s, uint32_t i, uint64_t offer_id) {
  slot *x = &s->slots[i];
  if (x->state != SL_WAITING || x->offer_id != offer_id || x->pending < 0)
    return 0; /* withdrawn, timed out, or the customer left */
  if (s->ntodo == s->captodo &&
      grow((void **)&s->todo, &s->captodo, s->ntodo + 1, sizeof(pend)))
    return fail(s, CR_ENOMEM, "offer list");
  s->todo[s->ntodo++] = (pend){i, offer_id};
  return crs_sim_flush(s);
}

static int on_end(crs_sim *s, uint32_t i, uint64_t gen) {
  slot *x = &s->slots[i];
  if (x->gen != gen || x->state != SL_ASSIGNED)
    return 0;
  int rc = cr_router_end(s->r, x->id, x->idlen, s->now);
  if (rc)
    return fail(s, rc, "end");
  finish(s, i, CRS_ANSWERED, s->now);
  return crs_sim_flush(s);
}

static int on_abandon(crs_sim *s, uint32_t i, uint64_t gen) {
  slot *x = &s->slots[i];
  if (x->gen != gen || x->state != SL_WAITING)
    return 0;
  int rc = cr_router_abandon(s->r, x->id, x->idlen, s->now);
  if (rc)
    return fail(s, rc, "abandon");
  finish(s, i, CRS_ABANDONED, s->now);
  return crs_sim_flush(s);
}

static int dispatch(crs_sim *s, const ev *e) {
  switch (e->kind) {
  case EV_ARRIVE:
    if (s->slots[e->a].gen != e->b || s->slots[e->a].state != SL_SCHEDULED)
      return 0;
    return enter(s, e->a);
  case EV_ACCEPT:
    return on_accept(s, e->a, e->b);
  case EV_END:
    return on_end(s, e->a, e->b);
  case EV_ABANDON:
    return on_abandon(s, e->a, e->b);
  default:
    if (s->hk.user) {
      int rc = s->hk.user(s, s->now, e->a, e->b, s->hk.ud);
      if (rc)
        return fail(s, rc < 0 ? rc : CR_ECALLBACK, "user hook");
    }
    return crs_sim_flush(s);
  }
}

int crs_sim_run(crs_sim *s, cr_time until) {
  while (!s->rc) {
    cr_time te = s->nheap ? s->heap[0].t : CRS_NEVER;
    int from_src = 0;
    if (s->src_min != NO_SRC) {
      const src *x = &s->srcs[s->src_min];
      if (!s->nheap || x->next_t < te ||
          (x->next_t == te && x->next_seq < s->heap[0].seq)) {
        te = x->next_t;
        from_src = 1;
      }
    }
    cr_time tr = cr_router_next_expiry(s->r);
    if (tr < s->now)
      tr = s->now;
    if (tr <= te && tr != CR_TIME_NEVER) {
      if (tr > until)
        break;
      s->now = tr;
      s->st.ticks++;
      int rc = cr_router_tick(s->r, tr);
      if (rc)
        return fail(s, rc, "tick");
      if (crs_sim_flush(s))
        break;
      continue;
    }
    if (te == CRS_NEVER || te > until)
      break;
    if (from_src) {
      uint32_t k = s->src_min;
      s->srcs[k].armed = 0;
      s->now = te;
      s->st.events++;
      if (on_source(s, k))
        break;
      continue;
    }
    ev e;
    pop(s, &e);
    s->now = e.t;
    s->st.events++;
    if (dispatch(s, &e))
      break;
  }
  if (!s->rc && until != CRS_NEVER && until > s->now)
    s->now = until;
  return s->rc;
}
