/* Router persistence: the whole state to a byte buffer and back.
 *
 * Layout (all integers little-endian, doubles as their IEEE-754 bits):
 *   "CRRS"  u32 version  u64 payload length  payload  u32 CRC-32(payload)
 * The payload holds the primary facts only -- configuration, counters,
 * every agent, membership, conversation and offer in pool-index order with
 * the pools' free lists, so indices (and thus future allocations) come back
 * identical. Loads, staffing counts and all heaps are derived again by
 * cr__router_rebuild(); since every heap order ends in a unique sequence
 * number, the rebuilt router takes exactly the same decisions. Restore
 * validates every length, index and cross-reference, then runs the full
 * invariant check: bad input is CR_ECORRUPT, never a crash. */
#include "router.h"
#include "crc32.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC "CRRS"
#define SNAP_VERSION 2u /* 2: member stamps (longest-idle lists) */

/* ------------------------------------------------------------------ */
/* writer */

static void put_skills(cr__wbuf *w, const rskill *sk, unsigned n) {
  cr__w_u16(w, (uint16_t)n);
  for (unsigned i = 0; i < n; i++) {
    cr__w_u16(w, sk[i].id);
    cr__w_u8(w, sk[i].level);
  }
}
static void put_pool(cr__wbuf *w, const rpool *p) {
  cr__w_u32(w, p->hwm);
  cr__w_u32(w, p->nfree);
  for (uint32_t i = 0; i < p->nfree; i++)
    cr__w_u32(w, p->free[i]);
}

static void put_queue(cr__wbuf *w, const rqueue *q) {
  const cr_queue_config *c = &q->cfg;
  cr__w_str(w, q->id, q->id_len);
  cr__w_i32(w, c->strategy);
  put_skills(w, q->skills, q->nskills);
  cr__w_u8(w, (uint8_t)c->auto_members);
  for (unsigned ch = 0; ch < RCH; ch++) {
    cr__w_i64(w, c->sl_threshold_ms[ch]);
    cr__w_f64(w, c->sl_target[ch]);
  }
  cr__w_i32(w, c->urgency_percent);
  cr__w_i32(w, c->urgency_boost);
  cr__w_i64(w, c->max_wait_ms);
  cr__w_i64(w, c->escalate_before_ms);
  cr__w_i32(w, c->escalate_boost);
  cr__w_i32(w, c->max_wait_action);
  cr__w_u32(w, c->max_length);
  cr__w_i64(w, c->wrapup_ms);
  cr__w_i64(w, c->offer_timeout_ms);
  cr__w_u32(w, c->ring_all_max);
  cr__w_u32(w, q->overflow);
  cr__w_i64(w, c->overflow_after_ms);
  cr__w_i64(w, c->overflow_ewt_ms);
  cr__w_f64(w, c->overflow_sl_below);
  cr__w_i64(w, c->aht_hint_ms);
  cr__w_u8(w, q->open);
  cr__w_u64(w, q->rr_counter);
  cr__w_u64(w, q->rnd_clock);
  const uint64_t cnt[] = {q->entered, q->answered, q->abandoned,
                          q->timed_out, q->overflowed_out, q->in_sl,
                          q->ab_after_sl, q->acc, q->rej, q->miss};
  for (size_t i = 0; i < sizeof cnt / sizeof cnt[0]; i++)
    cr__w_u64(w, cnt[i]);
  for (unsigned ch = 0; ch < RCH; ch++)
    cr__w_f64(w, q->aht[ch]);
  cr__w_f64(w, q->aht_all);
}

static void put_agent(cr__wbuf *w, const cr_router *r, const ragent *a) {
  cr__w_str(w, a->id, a->id_len);
  cr__w_u64(w, a->seq);
  cr__w_u8(w, a->status);
  cr__w_str(w, a->reason, a->reason_len);
  for (unsigned ch = 0; ch < RCH; ch++) {
    cr__w_u32(w, a->maxc[ch]);
    cr__w_u32(w, a->cost[ch]);
  }
  cr__w_u32(w, a->total);
  put_skills(w, a->skills, a->nskills);
  cr__w_i64(w, a->wrapup_ms);
  cr__w_i64(w, a->idle_since);
  cr__w_i64(w, a->talk_ms);
  cr__w_i64(w, a->login_at);
  cr__w_u64(w, a->contacts);
  cr__w_u64(w, a->acc);
  cr__w_u64(w, a->rej);
  cr__w_u64(w, a->miss);
  cr__w_u32(w, a->consec);
  cr__w_u32(w, a->nwrap);
  for (uint32_t i = 0; i < a->nwrap; i++) {
    cr__w_i64(w, a->wraps[i].until);
    cr__w_u8(w, a->wraps[i].ch);
  }
  uint32_t n = 0;
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a)
    n++;
  cr__w_u32(w, n);
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a)
    cr__w_u32(w, mi);
  n = 0;
  for (uint32_t oi = a->ohead; oi != RNIL; oi = r->offers[oi].next_a)
    n++;
  cr__w_u32(w, n);
  for (uint32_t oi = a->ohead; oi != RNIL; oi = r->offers[oi].next_a)
    cr__w_u32(w, oi);
}

static void put_conv(cr__wbuf *w, const cr_router *r, const rconv *c) {
  cr__w_str(w, c->id, c->id_len);
  cr__w_u64(w, c->seq);
  cr__w_i64(w, c->arrival);
  cr__w_i64(w, c->qenter);
  cr__w_i64(w, c->step_start);
  cr__w_i64(w, c->wake);
  cr__w_i64(w, c->state_at);
  cr__w_i32(w, c->prio);
  cr__w_u32(w, c->queue);
  cr__w_u32(w, c->agent);
  cr__w_u32(w, c->sticky);
  cr__w_u8(w, c->state);
  cr__w_u8(w, c->channel);
  cr__w_u8(w, c->step);
  cr__w_u8(w, c->nsteps);
  cr__w_u8(w, c->flags);
  cr__w_u16(w, c->attempts);
  cr__w_str(w, c->attrs, c->attrs_len);
  for (unsigned i = 0; i < c->nsteps; i++) {
    const rstep *s = &c->steps[i];
    cr__w_u8(w, s->kind);
    cr__w_u32(w, s->queue);
    cr__w_str(w, s->agent, s->agent_len);
    cr__w_i64(w, s->expire);
    put_skills(w, s->sk, s->nsk);
  }
  for (int i = 0; i < RDECL; i++) { /* unused slots as zeros */
    cr__w_u64(w, i < c->ndecl ? c->decl[i].agent_seq : 0);
    cr__w_i64(w, i < c->ndecl ? c->decl[i].until : 0);
  }
  uint32_t n = 0;
  for (uint32_t oi = c->ohead; oi != RNIL; oi = r->offers[oi].next_c)
    n++;
  cr__w_u32(w, n);
  for (uint32_t oi = c->ohead; oi != RNIL; oi = r->offers[oi].next_c)
    cr__w_u32(w, oi);
}

int cr_router_snapshot(const cr_router *r, void **buf, size_t *len) {
  if (!r || !buf || !len)
    return CR_EINVAL;
  if (r->in_cb)
    return CR_ESTATE;
  cr__wbuf w = {&r->mem, NULL, 0, 0, 0};
  cr__w_bytes(&w, SNAP_MAGIC, 4);
  cr__w_u32(&w, SNAP_VERSION);
  cr__w_u64(&w, 0); /* payload length, patched below */
  const cr_router_config *c = &r->cfg;
  cr__w_i64(&w, c->offer_timeout_ms);
  cr__w_u32(&w, c->auto_away_misses);
  cr__w_i64(&w, c->wrapup_ms);
  cr__w_i64(&w, c->reentry_grace_ms);
  cr__w_i64(&w, c->decline_block_ms);
  cr__w_u64(&w, c->seed);
  cr__w_f64(&w, c->aht_alpha);
  cr__w_i64(&w, r->now);
  cr__w_u64(&w, r->seq);
  cr__w_u64(&w, r->rng);
  cr__w_u32(&w, r->nskills);
  for (uint32_t i = 0; i < r->nskills; i++)
    cr__w_str(&w, r->skills[i]->name, r->skills[i]->len);
  cr__w_u32(&w, r->nqueues);
  for (uint32_t i = 0; i < r->nqueues; i++)
    put_queue(&w, r->queues[i]);
  put_pool(&w, &r->apool);
  put_pool(&w, &r->mpool);
  put_pool(&w, &r->cpool);
  put_pool(&w, &r->opool);
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    cr__w_u8(&w, r->agents[i] != NULL);
    if (r->agents[i])
      put_agent(&w, r, r->agents[i]);
  }
  for (uint32_t i = 0; i < r->mpool.hwm; i++) {
    const rmember *m = &r->members[i];
    cr__w_u8(&w, m->used);
    if (!m->used)
      continue;
    cr__w_u32(&w, m->agent);
    cr__w_u32(&w, m->queue);
    cr__w_i32(&w, m->prio);
    const rmcold *mc = &r->mcold[i];
    cr__w_i64(&w, mc->delay);
    cr__w_u64(&w, mc->rr);
    cr__w_u64(&w, mc->rnd);
    cr__w_u64(&w, m->stamp);
  }
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    const rqueue *q = r->queues[qi];
    cr__w_u32(&w, q->nmembers);
    for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q)
      cr__w_u32(&w, mi);
  }
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    cr__w_u8(&w, r->convs[i] != NULL);
    if (r->convs[i])
      put_conv(&w, r, r->convs[i]);
  }
  for (uint32_t i = 0; i < r->opool.hwm; i++) {
    const roffer *o = &r->offers[i];
    cr__w_u8(&w, o->used);
    if (!o->used)
      continue;
    cr__w_u32(&w, o->conv);
    cr__w_u32(&w, o->agent);
    cr__w_u64(&w, o->seq);
    cr__w_i64(&w, o->made);
    cr__w_i64(&w, o->expires);
  }
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    const ragent *a = r->agents[i];
    if (!a)
      continue;
    uint32_t n = 0;
    for (uint32_t ci = a->sticky_head; ci != RNIL;
         ci = r->convs[ci]->sticky_next)
      n++;
    cr__w_u32(&w, n);
    for (uint32_t ci = a->sticky_head; ci != RNIL;
         ci = r->convs[ci]->sticky_next)
      cr__w_u32(&w, ci);
  }
  if (!w.err) {
    uint64_t plen = w.n - 16;
    cr__le_put(w.p + 8, plen, 8);
    cr__w_u32(&w, cr__crc32(0, w.p + 16, (size_t)plen));
  }
  if (w.err) {
    cr__free(&r->mem, w.p);
    return w.err;
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

/* ------------------------------------------------------------------ */
/* reader: every get checks bounds; the first failure sticks */

static void bad(cr__rbuf *b) { b->err = CR_ECORRUPT; }

/* A string of 0..max bytes, copied (NUL-terminated) or NULL when empty. */
static char *get_str(cr__rbuf *b, const cr_mem *m, uint32_t max, uint32_t *len,
                     int *oom) {
  uint32_t n = cr__r_u32(b);
  if (n > max)
    bad(b);
  const uint8_t *s = cr__r_take(b, n);
  *len = 0;
  if (!s || n == 0)
    return NULL;
  char *d = cr__strndup(m, (const char *)s, n);
  if (!d)
    *oom = 1;
  else
    *len = n;
  return d;
}

static unsigned get_skills(cr__rbuf *b, const cr_router *r, rskill *out,
                           unsigned max) {
  unsigned n = cr__r_u16(b);
  if (n > max) {
    bad(b);
    return 0;
  }
  for (unsigned i = 0; i < n; i++) {
    out[i].id = cr__r_u16(b);
    out[i].level = cr__r_u8(b);
    if (out[i].id >= r->nskills || out[i].level < 1 || out[i].level > 5)
      bad(b);
  }
  return n;
}

static int get_pool(cr__rbuf *b, cr_router *r, rpool *p, void **arr,
                    size_t elem) {
  uint32_t hwm = cr__r_u32(b), nfree = cr__r_u32(b);
  if (b->err || nfree > hwm || hwm > (1u << 30) - 1 ||
      (uint64_t)hwm * 5 > b->n - b->i + (uint64_t)nfree * 4 + 64) {
    bad(b);
    return 0;
  }
  if (hwm) {
    /* reserve exactly hwm slots (the free list is re-read below) */
    p->nfree = 0;
    p->hwm = 0;
    int rc = 0;
    void *na = cr__calloc(&r->mem, hwm, elem);
    uint32_t *nf = cr__malloc(&r->mem, (size_t)hwm * sizeof *nf);
    if (!na || !nf) {
      cr__free(&r->mem, na);
      cr__free(&r->mem, nf);
      return CR_ENOMEM;
    }
    *arr = na;
    p->free = nf;
    p->cap = hwm;
    (void)rc;
  }
  p->hwm = hwm;
  p->nfree = nfree;
  for (uint32_t i = 0; i < nfree; i++) {
    p->free[i] = cr__r_u32(b);
    if (p->free[i] >= hwm)
      bad(b);
  }
  p->nused = hwm - nfree;
  return 0;
}

static int utf8_ok_id(const char *s, uint32_t n) {
  /* ids were validated when they entered; here only shape: no NUL */
  return s && n && memchr(s, 0, n) == NULL;
}

static int read_queue(cr__rbuf *b, cr_router *r, uint32_t idx, uint32_t nq) {
  int oom = 0;
  rqueue *q = cr__calloc(&r->mem, 1, sizeof *q);
  if (!q)
    return CR_ENOMEM;
  r->queues[idx] = q; /* owned from here, freed by cr_router_del */
  r->nqueues = idx + 1;
  q->idx = idx;
  q->id = get_str(b, &r->mem, 255, &q->id_len, &oom);
  if (oom)
    return CR_ENOMEM;
  if (!b->err && !utf8_ok_id(q->id, q->id_len))
    bad(b);
  cr_queue_config *c = &q->cfg;
  c->strategy = cr__r_i32(b);
  q->nskills = (uint8_t)get_skills(b, r, q->skills, CR_ROUTER_MAX_STEP_SKILLS);
  c->nskills = q->nskills;
  c->auto_members = cr__r_u8(b);
  for (unsigned ch = 0; ch < RCH; ch++) {
    c->sl_threshold_ms[ch] = cr__r_i64(b);
    c->sl_target[ch] = cr__r_f64(b);
    if (c->sl_threshold_ms[ch] <= 0 || !RDUR_OK(c->sl_threshold_ms[ch]))
      bad(b);
  }
  c->urgency_percent = cr__r_i32(b);
  c->urgency_boost = cr__r_i32(b);
  c->max_wait_ms = cr__r_i64(b);
  c->escalate_before_ms = cr__r_i64(b);
  c->escalate_boost = cr__r_i32(b);
  c->max_wait_action = cr__r_i32(b);
  c->max_length = cr__r_u32(b);
  c->wrapup_ms = cr__r_i64(b);
  c->offer_timeout_ms = cr__r_i64(b);
  c->ring_all_max = cr__r_u32(b);
  q->overflow = cr__r_u32(b);
  c->overflow_after_ms = cr__r_i64(b);
  c->overflow_ewt_ms = cr__r_i64(b);
  c->overflow_sl_below = cr__r_f64(b);
  c->aht_hint_ms = cr__r_i64(b);
  q->open = cr__r_u8(b);
  q->rr_counter = cr__r_u64(b);
  q->rnd_clock = cr__r_u64(b);
  uint64_t *cnt[] = {&q->entered, &q->answered, &q->abandoned,
                     &q->timed_out, &q->overflowed_out, &q->in_sl,
                     &q->ab_after_sl, &q->acc, &q->rej, &q->miss};
  for (size_t i = 0; i < sizeof cnt / sizeof cnt[0]; i++)
    *cnt[i] = cr__r_u64(b);
  for (unsigned ch = 0; ch < RCH; ch++)
    q->aht[ch] = cr__r_f64(b);
  q->aht_all = cr__r_f64(b);
  if (c->strategy < 0 || c->strategy >= CR_STRATEGY_COUNT ||
      c->auto_members > 1 || c->ring_all_max < 1 || c->ring_all_max > 64 ||
      c->max_wait_action < 0 || c->max_wait_action > 1 || q->open > 1 ||
      c->max_wait_ms < 0 || c->max_wait_ms > INT64_MAX / 4 ||
      c->escalate_before_ms < 0 || c->overflow_after_ms < 0 ||
      c->overflow_after_ms > INT64_MAX / 4 || c->urgency_percent < 0 ||
      c->urgency_percent > 1000 || c->urgency_boost < 0 ||
      c->urgency_boost > CR_ROUTER_MAX_PRIORITY || c->escalate_boost < 0 ||
      c->escalate_boost > CR_ROUTER_MAX_PRIORITY ||
      (q->overflow != RNIL && q->overflow >= nq) || q->answered > q->entered ||
      !RDUR_OK(c->max_wait_ms) || !RDUR_OK(c->escalate_before_ms) ||
      !RDUR_OK(c->overflow_after_ms) || c->overflow_ewt_ms < 0 ||
      !RDUR_OK(c->overflow_ewt_ms) || !RDUR_OK(c->wrapup_ms) ||
      !RDUR_OK(c->offer_timeout_ms) || c->aht_hint_ms <= 0 ||
      !RDUR_OK(c->aht_hint_ms) || !(c->overflow_sl_below >= 0) ||
      c->overflow_sl_below > 1)
    bad(b);
  for (unsigned ch = 0; ch < RCH; ch++) {
    rwline_init(&q->wait[ch]);
    rwline_init(&q->waitc[ch]);
  }
  q->mhead = RNIL;
  if (b->err)
    return 0;
  rqueue *dup = NULL;
  HASH_FIND(hh, r->qhash, q->id, q->id_len, dup);
  if (dup) {
    bad(b);
    return 0;
  }
  const cr_mem *cr__hmem = &r->mem;
  int cr__hoom = 0;
  HASH_ADD_KEYPTR(hh, r->qhash, q->id, q->id_len, q);
  return cr__hoom ? CR_ENOMEM : 0;
}

typedef struct rmarks {
  uint8_t *m;  /* members: 1 agent list, 2 queue list */
  uint8_t *o;  /* offers: 1 agent list, 2 conversation list */
  uint8_t *c;  /* conversations: 1 in a sticky list */
} rmarks;

static int read_agent(cr__rbuf *b, cr_router *r, uint32_t i, rmarks *mk) {
  uint32_t idl = cr__r_u32(b);
  const uint8_t *ids = cr__r_take(b, idl <= 255 ? idl : 256);
  if (!ids || !utf8_ok_id((const char *)ids, idl)) {
    bad(b);
    return 0;
  }
  ragent *a = cr__calloc(&r->mem, 1, sizeof *a + idl + 1);
  if (!a)
    return CR_ENOMEM;
  r->agents[i] = a;
  a->idx = i;
  a->mhead = a->ohead = a->otail = a->sticky_head = RNIL;
  a->tdue = CR_TIME_NEVER;
  a->tnode.child = a->tnode.sib = a->tnode.prev = RNIL;
  a->id = a->idbuf;
  memcpy(a->idbuf, ids, idl);
  a->id_len = idl;
  a->seq = cr__r_u64(b);
  a->status = cr__r_u8(b);
  uint32_t rl = cr__r_u32(b);
  if (rl > 63)
    bad(b);
  const uint8_t *rs = cr__r_take(b, rl);
  if (rs && rl) {
    memcpy(a->reason, rs, rl);
    a->reason_len = (uint8_t)rl;
  }
  int any = 0;
  for (unsigned ch = 0; ch < RCH; ch++) {
    a->maxc[ch] = cr__r_u32(b);
    a->cost[ch] = cr__r_u32(b);
    any |= a->maxc[ch] != 0;
  }
  a->total = cr__r_u32(b);
  rskill sk[255];
  unsigned n = get_skills(b, r, sk, 255);
  if (n) {
    if (!(a->skills = cr__malloc(&r->mem, n * sizeof *sk)))
      return CR_ENOMEM;
    memcpy(a->skills, sk, n * sizeof *sk);
    a->nskills = (uint16_t)n;
    for (unsigned k = 1; k < n; k++)
      if (sk[k - 1].id >= sk[k].id)
        bad(b);
  }
  a->wrapup_ms = cr__r_i64(b);
  a->idle_since = cr__r_i64(b);
  a->talk_ms = cr__r_i64(b);
  a->login_at = cr__r_i64(b);
  a->contacts = cr__r_u64(b);
  a->acc = cr__r_u64(b);
  a->rej = cr__r_u64(b);
  a->miss = cr__r_u64(b);
  a->consec = cr__r_u32(b);
  uint32_t nw = cr__r_u32(b);
  if (b->err || a->status > CR_AGENT_AWAY || !any || a->seq == 0 ||
      !RDUR_OK(a->wrapup_ms) || !RT_OK(a->idle_since) || !RT_OK(a->login_at) ||
      a->talk_ms < 0 || !RT_OK(a->talk_ms) ||
      a->seq > r->seq || nw > 0xFFFFF || nw * 9ull > b->n - b->i) {
    bad(b);
    return 0;
  }
  if (nw) {
    if (!(a->wraps = cr__malloc(&r->mem, nw * sizeof *a->wraps)))
      return CR_ENOMEM;
    a->wcap = nw;
  }
  for (uint32_t k = 0; k < nw; k++) {
    a->wraps[k].until = cr__r_i64(b);
    a->wraps[k].ch = cr__r_u8(b);
    if (a->wraps[k].ch >= RCH || !RT_OK(a->wraps[k].until))
      bad(b);
  }
  a->nwrap = nw;
  /* memberships, in list order */
  uint32_t nm = cr__r_u32(b), tail = RNIL;
  if (nm > r->mpool.hwm)
    bad(b);
  for (uint32_t k = 0; k < nm && !b->err; k++) {
    uint32_t mi = cr__r_u32(b);
    if (mi >= r->mpool.hwm || (mk->m[mi] & 1)) {
      bad(b);
      break;
    }
    mk->m[mi] |= 1;
    rmember *m = &r->members[mi];
    m->agent = i;
    m->prev_a = tail;
    m->next_a = RNIL;
    if (tail != RNIL)
      r->members[tail].next_a = mi;
    else
      a->mhead = mi;
    tail = mi;
  }
  uint32_t no = cr__r_u32(b);
  if (no > r->opool.hwm)
    bad(b);
  for (uint32_t k = 0; k < no && !b->err; k++) {
    uint32_t oi = cr__r_u32(b);
    if (oi >= r->opool.hwm || (mk->o[oi] & 1)) {
      bad(b);
      break;
    }
    mk->o[oi] |= 1;
    roffer *o = &r->offers[oi];
    o->agent = i;
    o->prev_a = a->otail;
    o->next_a = RNIL;
    if (a->otail != RNIL)
      r->offers[a->otail].next_a = oi;
    else
      a->ohead = oi;
    a->otail = oi;
  }
  if (b->err)
    return 0;
  if (cr__agent_find(r, a->id, a->id_len)) {
    bad(b);
    return 0;
  }
  if (cr__ridx_reserve(r, &r->aidx, 1))
    return CR_ENOMEM;
  cr__ridx_put(&r->aidx, cr__ridx_hash(a->id, a->id_len), a->idx, a);
  return 0;
}

static int read_conv(cr__rbuf *b, cr_router *r, uint32_t i, rmarks *mk) {
  int oom = 0;
  uint32_t idl = cr__r_u32(b);
  const uint8_t *ids = cr__r_take(b, idl <= 255 ? idl : 256);
  if (!ids || !utf8_ok_id((const char *)ids, idl)) {
    bad(b);
    return 0;
  }
  rconv *c = cr__router_conv_new(r, (const char *)ids, idl);
  if (!c)
    return CR_ENOMEM;
  r->convs[i] = c;
  c->idx = i;
  c->ohead = c->sticky_next = c->sticky_prev = RNIL;
  c->tdue = CR_TIME_NEVER;
  c->id_len = idl;
  c->seq = cr__r_u64(b);
  c->arrival = cr__r_i64(b);
  c->qenter = cr__r_i64(b);
  c->step_start = cr__r_i64(b);
  c->wake = cr__r_i64(b);
  c->state_at = cr__r_i64(b);
  c->prio = cr__r_i32(b);
  c->queue = cr__r_u32(b);
  c->agent = cr__r_u32(b);
  c->sticky = cr__r_u32(b);
  c->state = cr__r_u8(b);
  c->channel = cr__r_u8(b);
  c->step = cr__r_u8(b);
  uint8_t ns = cr__r_u8(b);
  c->flags = cr__r_u8(b);
  c->attempts = cr__r_u16(b);
  c->attrs = get_str(b, &r->mem, 65535, &c->attrs_len, &oom);
  if (oom)
    return CR_ENOMEM;
  if (b->err || ns > CR_ROUTER_MAX_STEPS) {
    bad(b);
    return 0;
  }
  if (ns && !(c->steps = cr__calloc(&r->mem, ns, sizeof *c->steps)))
    return CR_ENOMEM;
  c->nsteps = ns;
  for (unsigned k = 0; k < ns && !b->err; k++) {
    rstep *s = &c->steps[k];
    s->kind = cr__r_u8(b);
    s->queue = cr__r_u32(b);
    s->agent = get_str(b, &r->mem, 255, &s->agent_len, &oom);
    if (oom)
      return CR_ENOMEM;
    s->expire = cr__r_i64(b);
    s->nsk = (uint8_t)get_skills(b, r, s->sk, CR_ROUTER_MAX_STEP_SKILLS);
    if (s->kind > CR_STEP_AGENT ||
        (s->kind == CR_STEP_QUEUE && s->queue >= r->nqueues) ||
        (s->kind == CR_STEP_AGENT && !utf8_ok_id(s->agent, s->agent_len)) ||
        !RDUR_OK(s->expire))
      bad(b);
  }
  for (int k = 0; k < RDECL; k++) {
    c->decl[k].agent_seq = cr__r_u64(b);
    c->decl[k].until = cr__r_i64(b);
    if (c->decl[k].agent_seq || c->decl[k].until)
      c->ndecl = (uint8_t)(k + 1);
  }
  int assigned = c->state == CR_CONV_ASSIGNED;
  if (b->err || c->queue >= r->nqueues || c->state > CR_CONV_ABANDONED ||
      c->channel >= RCH || (ns ? c->step >= ns : c->step != 0) ||
      c->prio < 0 || c->prio > CR_ROUTER_MAX_PRIORITY || c->seq == 0 ||
      c->seq > r->seq || c->flags > 15 ||
      assigned != (c->agent != RNIL) ||
      (c->agent != RNIL &&
       (c->agent >= r->apool.hwm || !r->agents[c->agent])) ||
      (c->sticky != RNIL &&
       (c->sticky >= r->apool.hwm || !r->agents[c->sticky] || !ns ||
        c->steps[c->step].kind != CR_STEP_AGENT)) ||
      c->arrival > r->now || c->state_at > r->now || !RT_OK(c->arrival) ||
      !RT_OK(c->qenter) || !RT_OK(c->step_start) || !RT_OK(c->state_at) ||
      (c->wake != CR_TIME_NEVER && !RT_OK(c->wake)) ||
      !RT_OK(c->decl[0].until) || !RT_OK(c->decl[1].until) ||
      !RT_OK(c->decl[2].until) || !RT_OK(c->decl[3].until)) {
    bad(b);
    return 0;
  }
  uint32_t no = cr__r_u32(b), tail = RNIL;
  if (no > r->opool.hwm || no > 0xFFFF)
    bad(b);
  for (uint32_t k = 0; k < no && !b->err; k++) {
    uint32_t oi = cr__r_u32(b);
    if (oi >= r->opool.hwm || (mk->o[oi] & 2)) {
      bad(b);
      break;
    }
    mk->o[oi] |= 2;
    roffer *o = &r->offers[oi];
    o->conv = i;
    o->prev_c = tail;
    o->next_c = RNIL;
    if (tail != RNIL)
      r->offers[tail].next_c = oi;
    else
      c->ohead = oi;
    tail = oi;
  }
  c->noffers = (uint16_t)no;
  if (b->err || (c->state == CR_CONV_OFFERED) != (no > 0)) {
    bad(b);
    return 0;
  }
  if (cr__conv_find(r, c->id, c->id_len)) {
    bad(b);
    return 0;
  }
  if (cr__ridx_reserve(r, &r->cidx, 1))
    return CR_ENOMEM;
  cr__ridx_put(&r->cidx, cr__ridx_hash(c->id, c->id_len), c->idx, c);
  return 0;
}

static int read_all(cr__rbuf *b, cr_router *r, rmarks *mk) {
  int rc, oom = 0;
  r->now = cr__r_i64(b);
  if (r->now != INT64_MIN && !RT_OK(r->now))
    return CR_ECORRUPT;
  r->seq = cr__r_u64(b);
  r->rng = cr__r_u64(b);
  uint32_t ns = cr__r_u32(b);
  if (b->err || ns > 65535 || r->rng == 0 || ns > b->n - b->i)
    return CR_ECORRUPT;
  if (ns && !(r->skills = cr__calloc(&r->mem, ns, sizeof *r->skills)))
    return CR_ENOMEM;
  r->scap = ns;
  for (uint32_t i = 0; i < ns; i++) {
    rskillname *s = cr__calloc(&r->mem, 1, sizeof *s);
    if (!s)
      return CR_ENOMEM;
    r->skills[i] = s;
    r->nskills = i + 1;
    s->id = (uint16_t)i;
    s->name = get_str(b, &r->mem, 255, &s->len, &oom);
    if (oom)
      return CR_ENOMEM;
    rskillname *dup = NULL;
    if (!b->err && s->name)
      HASH_FIND(hh, r->shash, s->name, s->len, dup);
    if (b->err || !utf8_ok_id(s->name, s->len) || dup)
      return CR_ECORRUPT;
    const cr_mem *cr__hmem = &r->mem;
    int cr__hoom = 0;
    HASH_ADD_KEYPTR(hh, r->shash, s->name, s->len, s);
    if (cr__hoom)
      return CR_ENOMEM;
  }
  uint32_t nq = cr__r_u32(b);
  if (b->err || nq > b->n - b->i)
    return CR_ECORRUPT;
  if (nq && !(r->queues = cr__calloc(&r->mem, nq, sizeof *r->queues)))
    return CR_ENOMEM;
  r->qcap = nq;
  for (uint32_t i = 0; i < nq; i++)
    if ((rc = read_queue(b, r, i, nq)) || b->err)
      return rc ? rc : CR_ECORRUPT;
  for (uint32_t i = 0; i < nq; i++) { /* overflow chains end */
    uint32_t o = r->queues[i]->overflow, hops = 0;
    for (; o != RNIL && hops <= nq; hops++)
      o = r->queues[o]->overflow;
    if (hops > nq)
      return CR_ECORRUPT;
  }
  if ((rc = get_pool(b, r, &r->apool, (void **)&r->agents, sizeof(ragent *))) ||
      (rc = get_pool(b, r, &r->mpool, (void **)&r->members,
                     sizeof(rmember))) ||
      (rc = get_pool(b, r, &r->cpool, (void **)&r->convs, sizeof(rconv *))) ||
      (rc = get_pool(b, r, &r->opool, (void **)&r->offers, sizeof(roffer))))
    return rc;
  if (b->err)
    return CR_ECORRUPT;
  if (cr__router_mcold_fit(r))
    return CR_ENOMEM;
  mk->m = cr__calloc(&r->mem, r->mpool.hwm + 1, 1);
  mk->o = cr__calloc(&r->mem, r->opool.hwm + 1, 1);
  mk->c = cr__calloc(&r->mem, r->cpool.hwm + 1, 1);
  if (!mk->m || !mk->o || !mk->c)
    return CR_ENOMEM;
  for (uint32_t i = 0; i < r->mpool.hwm; i++)
    r->members[i].next_a = r->members[i].prev_a = r->mcold[i].next_q =
        r->mcold[i].prev_q = RNIL;
  for (uint32_t i = 0; i < r->opool.hwm; i++)
    r->offers[i].next_a = r->offers[i].prev_a = r->offers[i].next_c =
        r->offers[i].prev_c = RNIL;
  uint32_t present = 0;
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    uint8_t p = cr__r_u8(b);
    if (b->err || p > 1)
      return CR_ECORRUPT;
    if (p && ((rc = read_agent(b, r, i, mk)) || b->err))
      return rc ? rc : CR_ECORRUPT;
    present += p;
  }
  if (present != r->apool.nused)
    return CR_ECORRUPT;
  present = 0;
  for (uint32_t i = 0; i < r->mpool.hwm; i++) {
    rmember *m = &r->members[i];
    rmcold *mc = &r->mcold[i];
    m->used = cr__r_u8(b);
    if (b->err || m->used > 1 || m->used != (mk->m[i] & 1))
      return CR_ECORRUPT;
    if (!m->used)
      continue;
    present++;
    uint32_t ag = cr__r_u32(b);
    m->queue = cr__r_u32(b);
    m->prio = cr__r_i32(b);
    mc->delay = cr__r_i64(b);
    m->delayed = mc->delay != 0;
    mc->rr = cr__r_u64(b);
    mc->rnd = cr__r_u64(b);
    m->stamp = cr__r_u64(b);
    for (unsigned ch = 0; ch < RCH; ch++)
      mc->pos[ch] = RNIL;
    if (b->err || ag != m->agent || m->queue >= nq || mc->delay < 0 ||
        !RDUR_OK(mc->delay) || m->prio < -CR_ROUTER_MAX_PRIORITY ||
        m->prio > CR_ROUTER_MAX_PRIORITY || m->stamp > r->seq)
      return CR_ECORRUPT;
  }
  if (present != r->mpool.nused)
    return CR_ECORRUPT;
  for (uint32_t qi = 0; qi < nq; qi++) {
    rqueue *q = r->queues[qi];
    uint32_t n = cr__r_u32(b), tail = RNIL;
    if (b->err || n > r->mpool.hwm)
      return CR_ECORRUPT;
    for (uint32_t k = 0; k < n; k++) {
      uint32_t mi = cr__r_u32(b);
      if (b->err || mi >= r->mpool.hwm || !r->members[mi].used ||
          (mk->m[mi] & 2) || r->members[mi].queue != qi)
        return CR_ECORRUPT;
      mk->m[mi] |= 2;
      r->mcold[mi].prev_q = tail;
      if (tail != RNIL)
        r->mcold[tail].next_q = mi;
      else
        q->mhead = mi;
      tail = mi;
    }
    q->nmembers = n;
  }
  for (uint32_t i = 0; i < r->mpool.hwm; i++)
    if (r->members[i].used && mk->m[i] != 3)
      return CR_ECORRUPT;
  present = 0;
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    uint8_t p = cr__r_u8(b);
    if (b->err || p > 1)
      return CR_ECORRUPT;
    if (p && ((rc = read_conv(b, r, i, mk)) || b->err))
      return rc ? rc : CR_ECORRUPT;
    present += p;
  }
  if (present != r->cpool.nused)
    return CR_ECORRUPT;
  for (uint32_t i = 0; i < r->opool.hwm; i++) {
    roffer *o = &r->offers[i];
    o->used = cr__r_u8(b);
    if (b->err || o->used > 1 || (o->used ? 3 : 0) != mk->o[i])
      return CR_ECORRUPT;
    if (!o->used)
      continue;
    uint32_t cv = cr__r_u32(b), ag = cr__r_u32(b);
    o->seq = cr__r_u64(b);
    o->made = cr__r_i64(b);
    o->expires = cr__r_i64(b);
    if (b->err || cv != o->conv || ag != o->agent || o->seq == 0 ||
        o->seq > r->seq || !RT_OK(o->expires) || !RT_OK(o->made) ||
        o->made > r->now)
      return CR_ECORRUPT;
  }
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    ragent *a = r->agents[i];
    if (!a)
      continue;
    uint32_t n = cr__r_u32(b), tail = RNIL;
    if (b->err || n > r->cpool.hwm)
      return CR_ECORRUPT;
    for (uint32_t k = 0; k < n; k++) {
      uint32_t ci = cr__r_u32(b);
      if (b->err || ci >= r->cpool.hwm || !r->convs[ci] || mk->c[ci] ||
          r->convs[ci]->sticky != i)
        return CR_ECORRUPT;
      mk->c[ci] = 1;
      rconv *c = r->convs[ci];
      c->sticky_prev = tail;
      if (tail != RNIL)
        r->convs[tail]->sticky_next = ci;
      else
        a->sticky_head = ci;
      tail = ci;
    }
  }
  for (uint32_t i = 0; i < r->cpool.hwm; i++)
    if (r->convs[i] && (r->convs[i]->sticky != RNIL) != mk->c[i])
      return CR_ECORRUPT;
  /* free lists name exactly the empty slots, once each */
  for (uint32_t i = 0; i < r->apool.nfree; i++)
    if (r->agents[r->apool.free[i]])
      return CR_ECORRUPT;
  for (uint32_t i = 0; i < r->cpool.nfree; i++)
    if (r->convs[r->cpool.free[i]])
      return CR_ECORRUPT;
  for (uint32_t i = 0; i < r->mpool.nfree; i++)
    if (r->members[r->mpool.free[i]].used)
      return CR_ECORRUPT;
  for (uint32_t i = 0; i < r->opool.nfree; i++)
    if (r->offers[r->opool.free[i]].used)
      return CR_ECORRUPT;
  return b->i == b->n ? 0 : CR_ECORRUPT;
}

static int seq_cmp(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

/* Sequence numbers come from one counter, so no two objects share one;
 * every waiting line's and timer's order ends in them, and two alike would
 * leave that order to how the lines were rebuilt. */
static int seqs_unique(cr_router *r) {
  size_t n = 0, cap = (size_t)r->cpool.hwm + r->opool.hwm + r->apool.hwm + 1;
  uint64_t *s = cr__malloc(&r->mem, cap * sizeof *s);
  if (!s)
    return CR_ENOMEM;
  for (uint32_t i = 0; i < r->cpool.hwm; i++)
    if (r->convs[i])
      s[n++] = r->convs[i]->seq;
  for (uint32_t i = 0; i < r->opool.hwm; i++)
    if (r->offers[i].used)
      s[n++] = r->offers[i].seq;
  for (uint32_t i = 0; i < r->apool.hwm; i++)
    if (r->agents[i])
      s[n++] = r->agents[i]->seq;
  qsort(s, n, sizeof *s, seq_cmp);
  int rc = 0;
  for (size_t i = 1; i < n && !rc; i++)
    if (s[i] == s[i - 1])
      rc = CR_ECORRUPT;
  cr__free(&r->mem, s);
  return rc;
}

int cr_router_restore(cr_router **out, const cr_mem *mem, const void *buf,
                      size_t len) {
  if (!out || (!buf && len))
    return CR_EINVAL;
  *out = NULL;
  const uint8_t *p = buf;
  if (len < 20 || memcmp(p, SNAP_MAGIC, 4))
    return CR_ECORRUPT;
  cr__rbuf h = {p, len, 4, 0};
  uint32_t ver = cr__r_u32(&h);
  uint64_t plen = cr__r_u64(&h);
  if (ver != SNAP_VERSION)
    return CR_EVERSION;
  if (plen != len - 20)
    return CR_ECORRUPT;
  cr__rbuf b = {p + 16, (size_t)plen, 0, 0};
  cr__rbuf t = {p + 16 + plen, 4, 0, 0};
  if (cr__r_u32(&t) != cr__crc32(0, b.p, b.n))
    return CR_ECORRUPT;
  cr_router_config cfg;
  cfg.offer_timeout_ms = cr__r_i64(&b);
  cfg.auto_away_misses = cr__r_u32(&b);
  cfg.wrapup_ms = cr__r_i64(&b);
  cfg.reentry_grace_ms = cr__r_i64(&b);
  cfg.decline_block_ms = cr__r_i64(&b);
  cfg.seed = cr__r_u64(&b);
  cfg.aht_alpha = cr__r_f64(&b);
  if (b.err || cfg.offer_timeout_ms <= 0 || cfg.wrapup_ms < 0 ||
      cfg.reentry_grace_ms < 0 || cfg.decline_block_ms < 0 ||
      !RDUR_OK(cfg.offer_timeout_ms) || !RDUR_OK(cfg.wrapup_ms) ||
      !RDUR_OK(cfg.reentry_grace_ms) || !RDUR_OK(cfg.decline_block_ms) ||
      !(cfg.aht_alpha > 0 && cfg.aht_alpha <= 1))
    return CR_ECORRUPT;
  cr_router *r;
  int rc = cr__router_alloc(&r, mem, &cfg);
  if (rc)
    return rc;
  rmarks mk = {NULL, NULL, NULL};
  rc = read_all(&b, r, &mk);
  cr__free(&r->mem, mk.m);
  cr__free(&r->mem, mk.o);
  cr__free(&r->mem, mk.c);
  if (!rc)
    rc = seqs_unique(r);
  if (!rc)
    rc = cr__router_rebuild(r);
  if (!rc)
    rc = cr__router_check(r);
  if (rc) {
    cr_router_del(r);
    return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECORRUPT;
  }
  r->err[0] = 0;
  *out = r;
  return 0;
}
