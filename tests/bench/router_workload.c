/* The router benchmark's synthetic centre and event loop; see the header.
 *
 * Shape of the centre (chosen to look like a mid-size multichannel centre,
 * not to flatter any dispatcher):
 *   - 40 % voice agents (one call), 40 % digital agents (per-channel
 *     limits: up to 3 chats and 2 SMS at once, the Amazon Connect style),
 *     20 % blended agents (Azure Job Router style cost model: capacity 100,
 *     a call costs 100, a chat or WhatsApp 20 -> one call or five chats).
 *   - Each queue requires one or two of the skills at a minimum level 1-3.
 *     Each agent is hired for two "home" queues (gets their skills at or
 *     above the required level) and has three more random skills; its queue
 *     list is every queue it then qualifies for.
 *   - Mean handle times: voice 300 s, chat 600 s, WhatsApp and SMS 900 s,
 *     exponential. Patience (time to abandon): voice 180 s, messaging
 *     900 s, exponential. 10 % of conversations are VIP (priority 1).
 *   - Arrival rates per (queue, channel) are sized so the offered load is
 *     `occupancy` (0.95) of the capacity that serves it: each agent's slots
 *     are split evenly over its queues; the arrival rate of a queue and
 *     channel is occupancy * slots / AHT (Little's law). The whole stream is
 *     Poisson; the measured occupancy is printed, not assumed.
 *   - Agents answer an offer after 1-5 s; 2 % of offers are rejected. */
#define _POSIX_C_SOURCE 200809L

#include "router_workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const int32_t bw_aht_ms[CR_CHANNEL_COUNT] = {
    [CR_CHANNEL_VOICE] = 300000, [CR_CHANNEL_CHAT] = 600000,
    [CR_CHANNEL_WHATSAPP] = 900000, [CR_CHANNEL_SMS] = 900000};
static const int32_t patience_ms[CR_CHANNEL_COUNT] = {
    [CR_CHANNEL_VOICE] = 180000, [CR_CHANNEL_CHAT] = 900000,
    [CR_CHANNEL_WHATSAPP] = 900000, [CR_CHANNEL_SMS] = 900000};

void bw_params_default(bw_params *p, uint32_t agents, uint32_t convs) {
  memset(p, 0, sizeof *p);
  p->agents = agents;
  p->skills = 200;
  p->queues = 50;
  p->convs = convs;
  p->occupancy = 0.95;
  p->p_reject = 0.02;
  p->p_vip = 0.10;
  p->warm_ms = 0;
  p->seed = 0x5EED2026ull;
}

int bw_agent_qualifies(const bw_agent *a, const bw_queue *q) {
  for (unsigned r = 0; r < q->nreq; r++) {
    int ok = 0;
    for (unsigned s = 0; s < a->nskills; s++)
      if (a->skills[s].skill == q->req[r].skill &&
          a->skills[s].level >= q->req[r].level) {
        ok = 1;
        break;
      }
    if (!ok)
      return 0;
  }
  return 1;
}

double bw_agent_weight(const bw_agent *a, int ch) {
  if (a->total)
    return (double)a->cost[ch] / a->total;
  unsigned slots = 0;
  for (int c = 0; c < CR_CHANNEL_COUNT; c++)
    slots += a->max[c];
  return slots ? 1.0 / slots : 0.0;
}

static void set_capacity(bw_agent *a) {
  memset(a->max, 0, sizeof a->max);
  memset(a->cost, 0, sizeof a->cost);
  a->total = 0;
  switch (a->kind) {
  case BW_AGENT_VOICE:
    a->max[CR_CHANNEL_VOICE] = 1;
    break;
  case BW_AGENT_DIGITAL:
    a->max[CR_CHANNEL_CHAT] = 3;
    a->max[CR_CHANNEL_SMS] = 2;
    break;
  default:
    a->max[CR_CHANNEL_VOICE] = 1;
    a->max[CR_CHANNEL_CHAT] = 5;
    a->max[CR_CHANNEL_WHATSAPP] = 5;
    a->total = 100;
    a->cost[CR_CHANNEL_VOICE] = 100;
    a->cost[CR_CHANNEL_CHAT] = 20;
    a->cost[CR_CHANNEL_WHATSAPP] = 20;
    break;
  }
}

/* The slots each kind contributes when sizing arrival rates. Blended
 * agents are counted as 40 % voice and 60 % messaging (1.5 chats + 1.5
 * WhatsApp = 60 cost units). */
static double kind_slots(int kind, int ch) {
  static const double s[BW_AGENT_KINDS][CR_CHANNEL_COUNT] = {
      [BW_AGENT_VOICE] = {[CR_CHANNEL_VOICE] = 1.0},
      [BW_AGENT_DIGITAL] = {[CR_CHANNEL_CHAT] = 3.0, [CR_CHANNEL_SMS] = 2.0},
      [BW_AGENT_BLENDED] = {[CR_CHANNEL_VOICE] = 0.4,
                            [CR_CHANNEL_CHAT] = 1.5,
                            [CR_CHANNEL_WHATSAPP] = 1.5}};
  return s[kind][ch];
}

static int has_skill(const bw_agent *a, unsigned skill) {
  for (unsigned s = 0; s < a->nskills; s++)
    if (a->skills[s].skill == skill)
      return 1;
  return 0;
}

static void give_skill(bw_agent *a, unsigned skill, unsigned level) {
  for (unsigned s = 0; s < a->nskills; s++)
    if (a->skills[s].skill == skill) {
      if (a->skills[s].level < level)
        a->skills[s].level = (uint8_t)level;
      return;
    }
  if (a->nskills < BW_MAX_AGENT_SKILLS) {
    a->skills[a->nskills].skill = (uint16_t)skill;
    a->skills[a->nskills].level = (uint8_t)level;
    a->nskills++;
  }
}

static void list_queues(bw_agent *a, const bw_workload *w) {
  a->nqueues = 0;
  for (unsigned q = 0; q < w->p.queues; q++)
    if (bw_agent_qualifies(a, &w->queues[q])) {
      if (a->nqueues == BW_MAX_AGENT_QUEUES) {
        a->nqueues = BW_MAX_AGENT_QUEUES + 1; /* too many: caller trims */
        return;
      }
      a->queues[a->nqueues++] = (uint16_t)q;
    }
}

static void make_queues(bw_workload *w, bw_rng *r) {
  for (unsigned q = 0; q < w->p.queues; q++) {
    bw_queue *Q = &w->queues[q];
    Q->id_len = (uint8_t)snprintf(Q->id, sizeof Q->id, "q%02u", q);
    Q->nreq = (uint8_t)(1 + (bw_rng_unit(r) < 0.5));
    for (unsigned k = 0; k < Q->nreq; k++) {
      unsigned skill;
      do
        skill = bw_rng_below(r, w->p.skills);
      while (k == 1 && skill == Q->req[0].skill);
      Q->req[k].skill = (uint16_t)skill;
      Q->req[k].level = (uint8_t)(1 + bw_rng_below(r, 3));
    }
  }
}

static void make_agent(bw_workload *w, bw_rng *r, unsigned i) {
  bw_agent *a = &w->agents[i];
  a->id_len = (uint8_t)snprintf(a->id, sizeof a->id, "a%06u", i);
  double u = bw_rng_unit(r);
  a->kind = u < 0.4 ? BW_AGENT_VOICE
                    : u < 0.8 ? BW_AGENT_DIGITAL : BW_AGENT_BLENDED;
  set_capacity(a);
  unsigned home[2];
  home[0] = bw_rng_below(r, w->p.queues);
  do
    home[1] = bw_rng_below(r, w->p.queues);
  while (w->p.queues > 1 && home[1] == home[0]);
  for (unsigned h = 0; h < 2; h++) {
    const bw_queue *Q = &w->queues[home[h]];
    for (unsigned k = 0; k < Q->nreq; k++) {
      unsigned lv = Q->req[k].level;
      give_skill(a, Q->req[k].skill, lv + bw_rng_below(r, 6 - lv));
    }
  }
  unsigned base = a->nskills;
  for (unsigned e = 0; e < 3 && a->nskills < BW_MAX_AGENT_SKILLS; e++) {
    unsigned skill = bw_rng_below(r, w->p.skills);
    if (!has_skill(a, skill))
      give_skill(a, skill, 1 + bw_rng_below(r, 5));
  }
  list_queues(a, w);
  while (a->nqueues > BW_MAX_AGENT_QUEUES && a->nskills > base) {
    a->nskills--; /* drop random extras until the list fits */
    list_queues(a, w);
  }
}

/* Arrival rate (per ms) of every (queue, channel) pair, from the slots of
 * the agents serving it (see the file comment). */
static double *size_rates(bw_workload *w) {
  size_t n = (size_t)w->p.queues * CR_CHANNEL_COUNT;
  double *rate = calloc(n, sizeof *rate);
  if (!rate)
    return NULL;
  w->capacity_slots = 0;
  for (unsigned i = 0; i < w->p.agents; i++) {
    const bw_agent *a = &w->agents[i];
    if (!a->nqueues)
      continue;
    for (int c = 0; c < CR_CHANNEL_COUNT; c++) {
      double s = kind_slots(a->kind, c);
      if (s == 0)
        continue;
      w->capacity_slots += s;
      for (unsigned k = 0; k < a->nqueues; k++)
        rate[(size_t)a->queues[k] * CR_CHANNEL_COUNT + c] +=
            w->p.occupancy * s / a->nqueues / bw_aht_ms[c];
    }
  }
  w->offered_erlangs = 0;
  for (size_t k = 0; k < n; k++)
    w->offered_erlangs += rate[k] * bw_aht_ms[k % CR_CHANNEL_COUNT];
  return rate;
}

static int make_convs(bw_workload *w, bw_rng *r, const double *rate) {
  size_t n = (size_t)w->p.queues * CR_CHANNEL_COUNT;
  double *cum = malloc(n * sizeof *cum);
  if (!cum)
    return -1;
  double total = 0;
  for (size_t k = 0; k < n; k++)
    cum[k] = (total += rate[k]);
  if (total <= 0) {
    free(cum);
    return -1;
  }
  /* The warm-up's conversations (those arriving before warm_ms) come
   * first, then p.convs more: the expected count sizes the array, which
   * grows if the Poisson stream runs ahead of it. */
  size_t cap = (size_t)(total * (double)w->p.warm_ms * 1.05) + w->p.convs + 16;
  w->convs = malloc(cap * sizeof *w->convs);
  if (!w->convs) {
    free(cum);
    return -1;
  }
  double t = 0;
  uint32_t nwarm = w->p.warm_ms > 0 ? UINT32_MAX : 0;
  for (uint32_t i = 0; nwarm == UINT32_MAX || i < nwarm + w->p.convs; i++) {
    if (i == cap) {
      bw_conv *g = realloc(w->convs, 2 * cap * sizeof *g);
      if (!g) {
        free(cum);
        return -1;
      }
      w->convs = g;
      cap *= 2;
    }
    bw_conv *c = &w->convs[i];
    t += -log(bw_rng_unit(r)) / total;
    double x = bw_rng_unit(r) * total;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (cum[mid] < x)
        lo = mid + 1;
      else
        hi = mid;
    }
    while (rate[lo] == 0 && lo + 1 < n) /* never pick an empty pair */
      lo++;
    c->arrive = (cr_time)t;
    if (nwarm == UINT32_MAX && c->arrive >= w->p.warm_ms)
      nwarm = i;
    c->queue = (uint16_t)(lo / CR_CHANNEL_COUNT);
    c->channel = (uint8_t)(lo % CR_CHANNEL_COUNT);
    double h = -log(bw_rng_unit(r)) * bw_aht_ms[c->channel];
    c->handle_ms = h < 1000 ? 1000 : h > 2e9 ? 2000000000 : (int32_t)h;
    double pt = -log(bw_rng_unit(r)) * patience_ms[c->channel];
    c->patience_ms = pt < 1000 ? 1000 : pt > 2e9 ? 2000000000 : (int32_t)pt;
    c->priority = bw_rng_unit(r) < w->p.p_vip;
  }
  w->nwarm = nwarm;
  w->nconvs = nwarm + w->p.convs;
  free(cum);
  return 0;
}

int bw_workload_make(bw_workload *w, const bw_params *p) {
  memset(w, 0, sizeof *w);
  if (!p->agents || !p->queues || !p->skills || p->skills > 1000 ||
      p->queues > 1000 || !p->convs)
    return -1;
  w->p = *p;
  w->agents = calloc(p->agents, sizeof *w->agents);
  w->queues = calloc(p->queues, sizeof *w->queues);
  if (!w->agents || !w->queues || p->warm_ms < 0 ||
      p->warm_ms > 1000LL * 86400 * 30) {
    bw_workload_free(w);
    return -1;
  }
  for (unsigned s = 0; s < p->skills; s++)
    snprintf(w->skill_names[s], sizeof w->skill_names[s], "s%03u", s % 1000u);
  bw_rng r;
  bw_rng_seed(&r, p->seed);
  make_queues(w, &r);
  for (unsigned i = 0; i < p->agents; i++)
    make_agent(w, &r, i);
  double *rate = size_rates(w);
  if (!rate || make_convs(w, &r, rate) != 0) {
    free(rate);
    bw_workload_free(w);
    return -1;
  }
  free(rate);
  return 0;
}

void bw_workload_free(bw_workload *w) {
  free(w->agents);
  free(w->queues);
  free(w->convs);
  w->agents = NULL;
  w->queues = NULL;
  w->convs = NULL;
}

/* ---- event heap ----
 *
 * A 4-ary min-heap of 16-byte entries: half the depth of a binary heap and
 * four children per cache line, because the heap (every live conversation's
 * end and abandon deadlines: about 60,000 entries at 10,000 agents) is the
 * benchmark's own largest cost. Ties on time are broken by (type, attempt,
 * conversation), packed into one word, so the order is total and
 * deterministic. */

enum { EV_ARRIVE, EV_ACCEPT, EV_REJECT, EV_END, EV_ABANDON };

typedef struct ev {
  cr_time t;
  uint64_t k; /* type << 48 | attempt << 32 | conv */
} ev;

static inline ev ev_make(cr_time t, int type, uint32_t conv, uint16_t att) {
  ev e = {t, (uint64_t)type << 48 | (uint64_t)att << 32 | conv};
  return e;
}
static inline int ev_type(ev e) { return (int)(e.k >> 48); }
static inline uint16_t ev_attempt(ev e) { return (uint16_t)(e.k >> 32); }
static inline uint32_t ev_conv(ev e) { return (uint32_t)e.k; }

typedef struct heap {
  ev *a;
  size_t n, cap;
} heap;

static inline int ev_less(const ev *x, const ev *y) {
  return x->t < y->t || (x->t == y->t && x->k < y->k);
}

static int heap_push(heap *h, ev e) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 1024;
    ev *a = realloc(h->a, cap * sizeof *a);
    if (!a)
      return -1;
    h->a = a;
    h->cap = cap;
  }
  size_t i = h->n++;
  while (i) {
    size_t p = (i - 1) / 4;
    if (!ev_less(&e, &h->a[p]))
      break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = e;
  return 0;
}

static ev heap_pop(heap *h) {
  ev top = h->a[0], last = h->a[--h->n];
  size_t i = 0, n = h->n;
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n)
      break;
    size_t best = c, stop = c + 4 < n ? c + 4 : n;
    for (size_t j = c + 1; j < stop; j++)
      if (ev_less(&h->a[j], &h->a[best]))
        best = j;
    if (!ev_less(&h->a[best], &last))
      break;
    h->a[i] = h->a[best];
    i = best;
  }
  if (n)
    h->a[i] = last;
  return top;
}

/* ---- simulation ---- */

enum { CS_PENDING, CS_WAITING, CS_OFFERED, CS_ACTIVE, CS_DONE, CS_ABANDONED };

typedef struct conv_state {
  uint32_t agent;
  uint16_t attempt;
  uint8_t state;
} conv_state;

typedef struct agent_use {
  uint8_t used[CR_CHANNEL_COUNT];
  uint16_t used_cost;
} agent_use;

struct bw_sim {
  const bw_workload *w;
  uint32_t n;
  heap h;
  conv_state *cs;
  agent_use *au;
  bw_result *res;
  bw_trace *rec;
  double load;       /* sum of agent busy shares now */
  uint32_t waiting;  /* arrived, not accepted, not abandoned */
  cr_time last, warm, stop;
  uint32_t timed_from;   /* 0: time the whole loop; else the window */
  double t0;             /* CPU time at the window's start */
  uint64_t dec0;         /* decisions before the window */
  double load_area, wait_area, wait_sum;
  uint64_t sl_ok;
  char why[160];
};

static int push(bw_sim *s, cr_time t, int type, uint32_t conv, uint16_t att) {
  return heap_push(&s->h, ev_make(t, type, conv, att));
}

static void advance(bw_sim *s, cr_time now) {
  cr_time from = s->last > s->warm ? s->last : s->warm;
  cr_time to = now < s->stop ? now : s->stop;
  if (to > from) {
    s->load_area += s->load * (double)(to - from);
    s->wait_area += (double)s->waiting * (double)(to - from);
  }
  s->last = now;
}

static void use(bw_sim *s, uint32_t agent, int ch, int sign) {
  const bw_agent *a = &s->w->agents[agent];
  agent_use *u = &s->au[agent];
  u->used[ch] = (uint8_t)(u->used[ch] + sign);
  u->used_cost = (uint16_t)(u->used_cost + sign * a->cost[ch]);
  s->load += sign * bw_agent_weight(a, ch);
}

static int fail(bw_sim *s, int rc, const char *what, uint32_t conv) {
  s->res->rc = rc ? rc : -1;
  s->res->error = what;
  s->res->error_conv = conv;
  return s->res->rc;
}

int bw_sim_offer(bw_sim *s, uint32_t conv, uint32_t agent, cr_time now) {
  if (conv >= s->n || agent >= s->w->p.agents) {
    snprintf(s->why, sizeof s->why, "offer of unknown conv %u / agent %u",
             conv, agent);
    return fail(s, -1, "offer", conv);
  }
  conv_state *c = &s->cs[conv];
  const bw_conv *cv = &s->w->convs[conv];
  const bw_agent *a = &s->w->agents[agent];
  const agent_use *u = &s->au[agent];
  int ch = cv->channel;
  const char *bad = NULL;
  if (c->state != CS_WAITING)
    bad = "conversation not waiting";
  else if (!bw_agent_qualifies(a, &s->w->queues[cv->queue]))
    bad = "agent lacks the queue's skills";
  else if (u->used[ch] >= a->max[ch])
    bad = "agent over its channel limit";
  else if (a->total && u->used_cost + a->cost[ch] > a->total)
    bad = "agent over its total capacity";
  if (bad) {
    snprintf(s->why, sizeof s->why, "offer c%07u -> %s at %lld: %s", conv,
             a->id, (long long)now, bad);
    return fail(s, -1, "offer", conv);
  }
  s->res->decisions++;
  if (s->rec && !s->rec->oom) {
    bw_trace *t = s->rec;
    if (t->noffers == t->capoffers) {
      size_t cap = t->capoffers ? t->capoffers * 2 : 4096;
      bw_trace_offer *o = realloc(t->offers, cap * sizeof *o);
      if (!o)
        t->oom = 1;
      else
        t->offers = o, t->capoffers = cap;
    }
    if (!t->oom)
      t->offers[t->noffers++] = (bw_trace_offer){s->res->events, conv, agent};
  }
  c->state = CS_OFFERED;
  c->agent = agent;
  c->attempt++;
  use(s, agent, ch, +1);
  uint64_t h = bw_hash3(s->w->p.seed, conv, c->attempt);
  cr_time delay = 1000 + (cr_time)(h % 4000);
  int reject = (double)(h >> 32) * (1.0 / 4294967296.0) < s->w->p.p_reject;
  return push(s, now + delay, reject ? EV_REJECT : EV_ACCEPT, conv,
              c->attempt);
}

static int on_event(bw_sim *s, const bw_disp_ops *ops, void *d, ev e) {
  uint32_t conv = ev_conv(e);
  int type = ev_type(e);
  uint16_t attempt = ev_attempt(e);
  conv_state *c = &s->cs[conv];
  const bw_conv *cv = &s->w->convs[conv];
  int rc = 0;
  switch (type) {
  case EV_ARRIVE:
    c->state = CS_WAITING;
    s->waiting++;
    if (s->waiting > s->res->max_waiting)
      s->res->max_waiting = s->waiting;
    s->res->arrived++;
    if (push(s, e.t + cv->patience_ms, EV_ABANDON, conv, 0) ||
        (conv + 1 < s->n &&
         push(s, s->w->convs[conv + 1].arrive, EV_ARRIVE, conv + 1, 0)))
      return fail(s, -2, "event heap", conv);
    if ((rc = ops->arrive(d, conv, e.t)))
      return fail(s, rc, "arrive", conv);
    break;
  case EV_ACCEPT:
  case EV_REJECT:
    if (c->state != CS_OFFERED || c->attempt != attempt)
      break; /* the offer was withdrawn (abandon) */
    if (type == EV_REJECT) {
      s->res->rejected++;
      c->state = CS_WAITING;
      use(s, c->agent, cv->channel, -1);
      if ((rc = ops->reject(d, conv, c->agent, e.t)))
        return fail(s, rc, "reject", conv);
      break;
    }
    s->res->accepted++;
    c->state = CS_ACTIVE;
    s->waiting--;
    s->wait_sum += (double)(e.t - cv->arrive);
    if (e.t - cv->arrive <= 20000)
      s->sl_ok++;
    if (push(s, e.t + cv->handle_ms, EV_END, conv, 0))
      return fail(s, -2, "event heap", conv);
    if ((rc = ops->accept(d, conv, c->agent, e.t)))
      return fail(s, rc, "accept", conv);
    break;
  case EV_END:
    s->res->ended++;
    c->state = CS_DONE;
    use(s, c->agent, cv->channel, -1);
    if ((rc = ops->end(d, conv, c->agent, e.t)))
      return fail(s, rc, "end", conv);
    break;
  default: /* EV_ABANDON */
    if (c->state != CS_WAITING && c->state != CS_OFFERED)
      break;
    s->res->abandoned++;
    if (c->state == CS_OFFERED) {
      s->res->abandoned_while_offered++;
      use(s, c->agent, cv->channel, -1);
    }
    c->state = CS_ABANDONED;
    s->waiting--;
    if ((rc = ops->abandon(d, conv, e.t)))
      return fail(s, rc, "abandon", conv);
    break;
  }
  return 0;
}

/* CPU time of this thread, not wall time: the benchmark is
 * single-threaded and the machines it runs on are often shared, so time
 * the scheduler gives to other processes must not count. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void record_tick(bw_sim *s, cr_time now) {
  bw_trace *t = s->rec;
  if (!t || t->oom)
    return;
  if (t->nticks == t->capticks) {
    size_t cap = t->capticks ? t->capticks * 2 : 1024;
    bw_trace_tick *k = realloc(t->ticks, cap * sizeof *k);
    if (!k) {
      t->oom = 1;
      return;
    }
    t->ticks = k;
    t->capticks = cap;
  }
  t->ticks[t->nticks++] = (bw_trace_tick){s->res->events, now};
}

static int loop(bw_sim *s, const bw_disp_ops *ops, void *d) {
  cr_time now = 0, last_tick = INT64_MIN;
  while (s->h.n) {
    cr_time next = s->h.a[0].t;
    cr_time exp = ops->next_expiry(d);
    if (exp != INT64_MAX && exp <= next) {
      if (exp <= last_tick && exp <= now) {
        snprintf(s->why, sizeof s->why,
                 "next_expiry stays at %lld after a tick at %lld",
                 (long long)exp, (long long)now);
        return fail(s, -1, "tick", 0);
      }
      now = exp > now ? exp : now;
      advance(s, now);
      s->res->ticks++;
      s->res->events++;
      last_tick = now;
      record_tick(s, now);
      int rc = ops->tick(d, now);
      if (rc)
        return fail(s, rc, "tick", 0);
      if (s->res->rc)
        return s->res->rc;
      continue;
    }
    ev e = heap_pop(&s->h);
    now = e.t;
    advance(s, now);
    s->res->events++;
    int arrival = s->timed_from && ev_type(e) == EV_ARRIVE;
    if (arrival && ev_conv(e) == s->timed_from) {
      s->dec0 = s->res->decisions;
      s->t0 = now_s();
    }
    int rc = on_event(s, ops, d, e);
    if (rc || s->res->rc)
      return rc ? rc : s->res->rc;
    if (arrival && ev_conv(e) == s->n - 1) {
      s->res->seconds = now_s() - s->t0;
      s->res->decisions_timed = s->res->decisions - s->dec0;
    }
  }
  return 0;
}

int bw_sim_run(const bw_workload *w, uint32_t nconv, uint32_t timed_from,
               const bw_disp_ops *ops, void *disp, bw_trace *record,
               bw_result *res) {
  memset(res, 0, sizeof *res);
  if (!nconv || nconv > w->nconvs || timed_from >= nconv)
    return -1;
  bw_sim s;
  memset(&s, 0, sizeof s);
  s.w = w;
  s.n = nconv;
  s.res = res;
  s.rec = record;
  s.cs = calloc(nconv, sizeof *s.cs);
  s.au = calloc(w->p.agents, sizeof *s.au);
  /* Occupancy and queue length are averaged from the 10th percentile
   * arrival to the last arrival: the centre starts empty, and after the
   * last arrival it drains. */
  s.warm = w->convs[timed_from ? timed_from : nconv / 10].arrive;
  s.stop = w->convs[nconv - 1].arrive;
  s.timed_from = timed_from;
  int rc = -2;
  if (s.cs && s.au && push(&s, w->convs[0].arrive, EV_ARRIVE, 0, 0) == 0) {
    ops->attach(disp, &s);
    double t0 = now_s();
    rc = loop(&s, ops, disp);
    if (!timed_from) {
      res->seconds = now_s() - t0;
      res->decisions_timed = res->decisions;
    }
  }
  res->sim_seconds = (double)s.last / 1000.0;
  res->last_ms = s.last;
  double span = (double)(s.stop - s.warm);
  if (span > 0) {
    res->occupancy = s.load_area / span / w->p.agents;
    res->mean_waiting = s.wait_area / span;
  }
  if (res->accepted)
    res->mean_wait_s = s.wait_sum / res->accepted / 1000.0;
  if (res->arrived)
    res->sl20 = (double)s.sl_ok / res->arrived;
  if (rc && s.why[0])
    fprintf(stderr, "%s: %s\n", ops->name, s.why);
  else if (rc)
    fprintf(stderr, "%s: %s failed (rc %d) for conversation %u\n", ops->name,
            res->error ? res->error : "run", rc, res->error_conv);
  free(s.h.a);
  free(s.cs);
  free(s.au);
  return rc;
}

void bw_trace_free(bw_trace *t) {
  free(t->offers);
  free(t->ticks);
  memset(t, 0, sizeof *t);
}

/* ---- replay ---- */

static int replay_emit(bw_replay *p, cr_time now) {
  const bw_trace *t = p->t;
  uint64_t now_ev = p->sim->res->events;
  while (p->opos < t->noffers && t->offers[p->opos].ev == now_ev) {
    const bw_trace_offer *o = &t->offers[p->opos++];
    if (bw_sim_offer(p->sim, o->conv, o->agent, now))
      return -1;
  }
  return 0;
}

static void rp_attach(void *d, bw_sim *s) { ((bw_replay *)d)->sim = s; }
static int rp_arrive(void *d, uint32_t c, cr_time now) {
  (void)c;
  return replay_emit(d, now);
}
static int rp_answer(void *d, uint32_t c, uint32_t a, cr_time now) {
  (void)c, (void)a;
  return replay_emit(d, now);
}
static int rp_abandon(void *d, uint32_t c, cr_time now) {
  (void)c;
  return replay_emit(d, now);
}
static cr_time rp_next_expiry(void *d) {
  bw_replay *p = d;
  const bw_trace *t = p->t;
  if (p->tpos < t->nticks && t->ticks[p->tpos].ev == p->sim->res->events + 1)
    return t->ticks[p->tpos].t;
  return INT64_MAX;
}
static int rp_tick(void *d, cr_time now) {
  bw_replay *p = d;
  p->tpos++;
  return replay_emit(p, now);
}

const bw_disp_ops bw_replay_ops = {"replay",  rp_attach,  rp_arrive,
                                   rp_answer, rp_answer,  rp_answer,
                                   rp_abandon, rp_next_expiry, rp_tick};
