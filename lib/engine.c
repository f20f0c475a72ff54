/* The conversation engine: the object the host talks to. It owns a router
 * and a metrics accumulator, borrows an intent model, keeps every live
 * conversation, and moves each one only along the table of lib/handoff.c.
 * See lib/engine.h for the plan-then-commit scheme and docs/engine.md. */
#include "engine.h"
#include "handoff.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

#define IDMAX 255

int cr__e_fail(cr_engine *e, int rc, const char *msg) {
  if (e)
    snprintf(e->err, sizeof e->err, "%s", msg);
  return rc;
}

int cr__e_name_ok(const char *s, size_t n) {
  return s && !memchr(s, 0, n) && !cr__utf8_check(s, n);
}

static int check_id(cr_engine *e, const char *s, size_t n, const char *what) {
  if (!s || !n || n > IDMAX)
    return cr__e_fail(e, CR_EINVAL, what);
  if (!cr__e_name_ok(s, n))
    return cr__e_fail(e, CR_EUTF8, what);
  return 0;
}

static int check_text(cr_engine *e, const char *s, size_t n) {
  if (n && !s)
    return cr__e_fail(e, CR_EINVAL, "text is NULL");
  if (n > UINT32_MAX / 2)
    return cr__e_fail(e, CR_ERANGE, "text too long");
  if (n && cr__utf8_check(s, n))
    return cr__e_fail(e, CR_EUTF8, "text is not UTF-8");
  return 0;
}

/* ------------------------------------------------------------------ */
/* small helpers */

econv *cr__e_find(const cr_engine *e, const char *id, size_t len) {
  econv *c = NULL;
  if (id && len)
    HASH_FIND(hh, e->convs, id, len, c);
  if (!c && id && len && e->alias) {
    ealias *a = NULL;
    HASH_FIND(hh, e->alias, id, len, a);
    c = a ? a->c : NULL;
  }
  return c;
}

ealias *cr__e_alias_new(cr_engine *e, const char *id, size_t len) {
  ealias *a = cr__malloc(&e->mem, sizeof *a + 6 + len + 1);
  if (!a)
    return NULL;
  memset(a, 0, sizeof *a);
  memcpy(a->text, "alias:", 6);
  memcpy(a->text + 6, id, len);
  a->text[6 + len] = 0;
  a->id = a->text + 6;
  a->id_len = (uint32_t)len;
  return a;
}

static econv *find_customer(const cr_engine *e, const char *id, size_t len) {
  econv *c = NULL;
  if (id && len)
    HASH_FIND(hc, e->by_customer, id, len, c);
  return c;
}

const char *cr__e_label(const cr_engine *e, int32_t idx, size_t *len) {
  const char *s = idx >= 0 ? cr_intent_model_label(e->model, (size_t)idx)
                           : NULL;
  *len = s ? strlen(s) : 0;
  return s;
}

void cr__e_skills_free(cr_engine *e, eskills *s) {
  for (unsigned i = 0; i < s->n; i++)
    cr__free(&e->mem, s->name[i]);
  memset(s, 0, sizeof *s);
}

int cr__e_skills_copy(cr_engine *e, eskills *dst, const cr_skill_level *src,
                      size_t n) {
  memset(dst, 0, sizeof *dst);
  if (n > CR_ROUTER_MAX_STEP_SKILLS)
    return cr__e_fail(e, CR_EFULL, "too many skills");
  if (n && !src)
    return cr__e_fail(e, CR_EINVAL, "skills is NULL");
  for (size_t i = 0; i < n; i++) {
    int rc = check_id(e, src[i].skill, src[i].skill_len, "bad skill name");
    if (!rc && (src[i].level < 1 || src[i].level > 5))
      rc = cr__e_fail(e, CR_ERANGE, "skill level outside 1..5");
    char *nm = rc ? NULL : cr__strndup(&e->mem, src[i].skill,
                                       src[i].skill_len);
    if (!rc && !nm)
      rc = CR_ENOMEM;
    if (rc) {
      cr__e_skills_free(e, dst);
      return rc;
    }
    dst->name[i] = nm;
    dst->len[i] = (uint32_t)src[i].skill_len;
    dst->level[i] = (uint8_t)src[i].level;
    dst->n = (uint8_t)(i + 1);
  }
  return 0;
}

int cr__e_skills_dup(cr_engine *e, eskills *dst, const eskills *src) {
  cr_skill_level sl[CR_ROUTER_MAX_STEP_SKILLS];
  for (unsigned i = 0; i < src->n; i++) {
    sl[i].skill = src->name[i];
    sl[i].skill_len = src->len[i];
    sl[i].level = src->level[i];
  }
  return cr__e_skills_copy(e, dst, sl, src->n);
}

static void skills_view(const eskills *s, cr_skill_level *out) {
  for (unsigned i = 0; i < s->n; i++) {
    out[i].skill = s->name[i];
    out[i].skill_len = s->len[i];
    out[i].level = s->level[i];
  }
}

/* ------------------------------------------------------------------ */
/* timer heap: conversations by (deadline, creation seq), a total order so
 * firing order never depends on the heap's shape */

static int heap_less(const econv *a, const econv *b) {
  return a->deadline < b->deadline ||
         (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_swap(cr_engine *e, size_t i, size_t j) {
  econv *t = e->heap[i];
  e->heap[i] = e->heap[j];
  e->heap[j] = t;
  e->heap[i]->hidx = (uint32_t)i;
  e->heap[j]->hidx = (uint32_t)j;
}

static void heap_up(cr_engine *e, size_t i) {
  while (i && heap_less(e->heap[i], e->heap[(i - 1) / 2])) {
    heap_swap(e, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(cr_engine *e, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < e->nheap && heap_less(e->heap[l], e->heap[m]))
      m = l;
    if (r < e->nheap && heap_less(e->heap[r], e->heap[m]))
      m = r;
    if (m == i)
      return;
    heap_swap(e, i, m);
    i = m;
  }
}

int cr__e_heap_reserve(cr_engine *e, size_t need) {
  if (need <= e->capheap)
    return 0;
  void *arr = e->heap;
  if (cr__grow(&e->mem, &arr, &e->capheap, need, sizeof *e->heap))
    return CR_ENOMEM;
  e->heap = arr;
  return 0;
}

/* Sets c's deadline (CR_TIME_NEVER removes it). Never allocates: every
 * live conversation has a reserved heap slot. */
void cr__e_heap_set(cr_engine *e, econv *c, cr_time deadline) {
  if (c->hidx != ENIL) {
    size_t i = c->hidx;
    if (deadline == CR_TIME_NEVER) {
      e->nheap--;
      if (i != e->nheap) {
        heap_swap(e, i, e->nheap);
        c->deadline = CR_TIME_NEVER;
        heap_down(e, i);
        heap_up(e, i);
      }
      c->hidx = ENIL;
      c->deadline = CR_TIME_NEVER;
      return;
    }
    c->deadline = deadline;
    heap_up(e, i);
    heap_down(e, c->hidx);
    return;
  }
  c->deadline = deadline;
  if (deadline == CR_TIME_NEVER)
    return;
  c->hidx = (uint32_t)e->nheap;
  e->heap[e->nheap++] = c;
  heap_up(e, c->hidx);
}

/* ------------------------------------------------------------------ */
/* recently ended conversations: a ring of recent_max records and two
 * linear-probing indexes (by conversation id, by customer) of fixed size,
 * so ending a conversation never allocates. */

static uint32_t fnv(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

static erecent *ring_at(const cr_engine *e, uint32_t pos) {
  return e->recent[pos];
}

static void rkey(const erecent *r, int by_cust, const char **s, size_t *n) {
  *s = by_cust ? r->customer : r->id;
  *n = by_cust ? r->customer_len : r->id_len;
}

static uint32_t *ridx(const cr_engine *e, int by_cust) {
  return by_cust ? e->ridx_cust : e->ridx_id;
}

erecent *cr__e_recent_find(const cr_engine *e, const char *id, size_t len,
                           int by_cust) {
  if (!id || !len || !e->recent_max)
    return NULL;
  uint32_t *t = ridx(e, by_cust);
  for (uint32_t i = fnv(id, len) & e->ridx_mask;; i = (i + 1) & e->ridx_mask) {
    if (t[i] == ENIL)
      return NULL;
    erecent *r = ring_at(e, t[i]);
    const char *s;
    size_t n;
    rkey(r, by_cust, &s, &n);
    if (n == len && !memcmp(s, id, len))
      return r;
  }
}

/* Removes slot i (backward-shift deletion keeps probe chains whole). */
static void ridx_del(cr_engine *e, int by_cust, uint32_t i) {
  uint32_t *t = ridx(e, by_cust);
  uint32_t m = e->ridx_mask;
  t[i] = ENIL;
  for (uint32_t j = (i + 1) & m; t[j] != ENIL; j = (j + 1) & m) {
    uint32_t home = ring_at(e, t[j])->hash[by_cust] & m;
    /* move t[j] to i when its home is not in (i, j] cyclically */
    if (((j - home) & m) >= ((j - i) & m)) {
      t[i] = t[j];
      t[j] = ENIL;
      i = j;
    }
  }
}

static void ridx_put(cr_engine *e, int by_cust, uint32_t pos) {
  const char *s;
  size_t n;
  rkey(ring_at(e, pos), by_cust, &s, &n);
  if (!n)
    return;
  uint32_t *t = ridx(e, by_cust);
  uint32_t h = ring_at(e, pos)->hash[by_cust];
  for (uint32_t i = h & e->ridx_mask;; i = (i + 1) & e->ridx_mask) {
    if (t[i] == ENIL) {
      t[i] = pos;
      return;
    }
    const char *s2;
    size_t n2;
    rkey(ring_at(e, t[i]), by_cust, &s2, &n2);
    if (n2 == n && !memcmp(s2, s, n)) {
      t[i] = pos; /* the newer record answers for this key */
      return;
    }
  }
}

static void ridx_drop(cr_engine *e, int by_cust, uint32_t pos) {
  const char *s;
  size_t n;
  rkey(ring_at(e, pos), by_cust, &s, &n);
  if (!n)
    return;
  uint32_t *t = ridx(e, by_cust);
  uint32_t h = ring_at(e, pos)->hash[by_cust];
  for (uint32_t i = h & e->ridx_mask;; i = (i + 1) & e->ridx_mask) {
    if (t[i] == ENIL)
      return;
    if (t[i] == pos) {
      ridx_del(e, by_cust, i);
      return;
    }
  }
}

void cr__e_free_recent(cr_engine *e, erecent *r) {
  if (!r)
    return;
  cr__free(&e->mem, r->id);
  cr__free(&e->mem, r->customer);
  cr__free(&e->mem, r->agent);
  cr__free(&e->mem, r->queue);
  cr__free(&e->mem, r);
}

/* Files r (owned from now on) as the newest record, evicting the oldest
 * when the ring is full. */
int cr__e_rec_index(cr_engine *e, erecent *r) {
  if (!e->recent_max) {
    cr__e_free_recent(e, r);
    return 0;
  }
  uint32_t pos;
  if (e->rcount == e->recent_max) {
    pos = e->rhead;
    ridx_drop(e, 0, pos);
    ridx_drop(e, 1, pos);
    cr__e_free_recent(e, e->recent[pos]);
    e->rhead = (e->rhead + 1) % e->recent_max;
  } else {
    pos = (e->rhead + e->rcount) % e->recent_max;
    e->rcount++;
  }
  r->hash[0] = fnv(r->id, r->id_len);
  r->hash[1] = fnv(r->customer, r->customer_len);
  e->recent[pos] = r;
  ridx_put(e, 0, pos);
  ridx_put(e, 1, pos);
  return 0;
}

void cr__e_recent_clear(cr_engine *e) {
  for (uint32_t i = 0; i < e->rcount; i++) {
    uint32_t pos = (e->rhead + i) % e->recent_max;
    cr__e_free_recent(e, e->recent[pos]);
    e->recent[pos] = NULL;
  }
  e->rhead = e->rcount = 0;
  if (e->ridx_id && e->ridx_cust)
    for (uint32_t i = 0; i <= e->ridx_mask; i++)
      e->ridx_id[i] = e->ridx_cust[i] = ENIL;
}

/* ------------------------------------------------------------------ */
/* conversations */

void cr__e_free_conv(cr_engine *e, econv *c) {
  if (!c)
    return;
  cr__free(&e->mem, c->id);
  cr__free(&e->mem, c->customer);
  cr__free(&e->mem, c->profile);
  for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++)
    cr__free(&e->mem, c->fval[i]);
  cr__free(&e->mem, c->agent);
  cr__free(&e->mem, c->prev_agent);
  cr__free(&e->mem, c->queue);
  cr__free(&e->mem, c->sticky);
  cr__e_skills_free(e, &c->skills);
  for (uint32_t i = 0; i < c->lcap; i++)
    cr__free(&e->mem, c->lines[i].text);
  cr__free(&e->mem, c->lines);
  cr__e_free_recent(e, c->rec);
  while (c->aliases) {
    ealias *a = c->aliases;
    c->aliases = a->next;
    cr__free(&e->mem, a);
  }
  cr__free(&e->mem, c);
}

/* Unlinks c from the hashes and the heap (never allocates). */
static void conv_unlink(cr_engine *e, econv *c) {
  const cr_mem *cr__hmem = &e->mem;
  cr__e_heap_set(e, c, CR_TIME_NEVER);
  HASH_DELETE(hh, e->convs, c);
  for (ealias *a = c->aliases; a; a = a->next)
    HASH_DELETE(hh, e->alias, a);
  if (c->customer_len) {
    econv *o = find_customer(e, c->customer, c->customer_len);
    if (o == c)
      HASH_DELETE(hc, e->by_customer, c);
  }
  e->nconv--;
}

/* Links a new conversation: hash by id, by customer, a heap slot. */
static int conv_link(cr_engine *e, econv *c) {
  const cr_mem *cr__hmem = &e->mem;
  int cr__hoom = 0;
  if (cr__e_heap_reserve(e, e->nconv + 1))
    return CR_ENOMEM;
  HASH_ADD_KEYPTR(hh, e->convs, c->id, c->id_len, c);
  if (cr__hoom)
    return CR_ENOMEM;
  econv *old = c->customer_len
                   ? find_customer(e, c->customer, c->customer_len)
                   : NULL;
  if (c->customer_len && (!old || old->st == CR_ST_WRAPUP)) {
    /* the newest live contact answers for the customer */
    HASH_ADD_KEYPTR(hc, e->by_customer, c->customer, c->customer_len, c);
    if (cr__hoom) {
      HASH_DELETE(hh, e->convs, c);
      return CR_ENOMEM;
    }
    if (old)
      HASH_DELETE(hc, e->by_customer, old);
  }
  e->nconv++;
  return 0;
}

/* ------------------------------------------------------------------ */
/* transcript ring: grows to transcript_max slots, then the oldest line is
 * overwritten (and counted as dropped). Slot buffers are reused, so a warm
 * conversation does not allocate per message. */

static uint32_t line_pos(const cr_engine *e, const econv *c, uint32_t k) {
  uint32_t max = (uint32_t)e->transcript_max;
  uint32_t n = c->lcount + k;
  if (n < max)
    return n; /* not wrapped yet: lhead is 0 */
  return (uint32_t)((c->lhead + (n - max)) % max);
}

static int reserve_line(cr_engine *e, econv *c, uint32_t k, size_t len) {
  uint32_t pos = line_pos(e, c, k);
  if (pos >= c->lcap) {
    size_t cap = c->lcap;
    void *arr = c->lines;
    size_t need = pos + 1;
    if (cr__grow(&e->mem, &arr, &cap, need, sizeof(eline)))
      return CR_ENOMEM;
    if (cap > e->transcript_max)
      cap = e->transcript_max;
    c->lines = arr;
    memset(c->lines + c->lcap, 0, (cap - c->lcap) * sizeof(eline));
    c->lcap = (uint32_t)cap;
  }
  eline *l = &c->lines[pos];
  if (len > l->cap) {
    size_t want = len < 32 ? 32 : len;
    char *t = cr__realloc(&e->mem, l->text, want);
    if (!t)
      return CR_ENOMEM;
    l->text = t;
    l->cap = (uint32_t)want;
  }
  return 0;
}

int cr__e_reserve_lines(cr_engine *e, econv *c, const eplan *p) {
  uint32_t k = 0;
  if (p->cust_len || p->cust) {
    if (reserve_line(e, c, k++, p->cust_len))
      return CR_ENOMEM;
  }
  for (int i = 0; i < p->n; i++)
    if (p->s[i].say >= 0 &&
        reserve_line(e, c, k++, p->say_len[p->s[i].say]))
      return CR_ENOMEM;
  return 0;
}

static void add_line(cr_engine *e, econv *c, int from, const char *text,
                     size_t len, cr_time t) {
  uint32_t max = (uint32_t)e->transcript_max;
  uint32_t pos = line_pos(e, c, 0);
  eline *l = &c->lines[pos]; /* reserved */
  if (len)
    memcpy(l->text, text, len);
  l->len = (uint32_t)len;
  l->at = t;
  l->from = (uint8_t)from;
  l->channel = c->channel;
  if (c->lcount < max) {
    c->lcount++;
  } else {
    c->lhead = (c->lhead + 1) % max;
    c->dropped++;
  }
  c->messages++;
}

/* ------------------------------------------------------------------ */
/* callbacks */

#define CALLCB(e, expr)                                                       \
  do {                                                                        \
    cr__e_hold((e), 1);                                                       \
    int cbrc_ = (expr);                                                       \
    cr__e_hold((e), -1);                                                      \
    if (cbrc_)                                                                \
      (e)->cb_failed = 1;                                                     \
  } while (0)

static void ctx_build(cr_engine *e, const econv *c, cr_engine_context *x) {
  memset(x, 0, sizeof *x);
  x->conv = c->id;
  x->conv_len = c->id_len;
  x->customer = c->customer;
  x->customer_len = c->customer_len;
  x->lang = c->lang;
  x->lang_len = strlen(c->lang);
  x->channel = c->channel;
  for (unsigned i = 0; i < c->nchannels; i++)
    e->sc_channels[i] = c->channels[i];
  x->channels = e->sc_channels;
  x->nchannels = c->nchannels;
  x->state = c->st;
  x->reason = c->reason;
  x->queue = c->queue;
  x->queue_len = c->queue_len;
  x->priority = c->priority;
  x->intent = cr__e_label(e, c->intent, &x->intent_len);
  uint32_t max = (uint32_t)e->transcript_max;
  for (uint32_t i = 0; i < c->lcount; i++) {
    const eline *l = &c->lines[(c->lhead + i) % max];
    cr_engine_line *o = &e->sc_lines[i];
    o->from = l->from;
    o->channel = l->channel;
    o->at = l->at;
    o->text = l->text;
    o->text_len = l->len;
  }
  x->transcript = e->sc_lines;
  x->ntranscript = c->lcount;
  x->dropped = c->dropped;
  for (unsigned i = 0; i < c->icount; i++) {
    const ehit *h = &c->ih[(c->ihead + i) % EMAXIH];
    cr_engine_intent *o = &e->sc_ih[i];
    o->label = cr__e_label(e, (int32_t)h->label, &o->label_len);
    o->confidence = h->conf;
    o->at = h->at;
  }
  x->intents = e->sc_ih;
  x->nintents = c->icount;
  size_t nf = 0;
  const epolicy *fp = c->fpolicy >= 0 && (size_t)c->fpolicy < e->nlabels
                          ? &e->policies[c->fpolicy]
                          : NULL;
  for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++) {
    if (!c->fval[i])
      continue;
    cr_engine_kv *o = &e->sc_fields[nf++];
    if (fp && i < fp->nfields) {
      o->key = fp->fields[i].name;
      o->key_len = fp->fields[i].name_len;
    } else {
      o->key = "field";
      o->key_len = 5;
    }
    o->value = c->fval[i];
    o->value_len = c->flen[i];
  }
  x->fields = e->sc_fields;
  x->nfields = nf;
  for (unsigned i = 0; i < c->nkv; i++) {
    cr_engine_kv *o = &e->sc_profile[i];
    o->key = c->profile + c->kv[i][0];
    o->key_len = c->kv[i][1];
    o->value = c->profile + c->kv[i][2];
    o->value_len = c->kv[i][3];
  }
  x->profile = e->sc_profile;
  x->nprofile = c->nkv;
  x->prev_agent = c->prev_agent;
  x->prev_agent_len = c->prev_agent_len;
  x->transfers = c->transfers;
  x->arrived = c->arrived;
}

static void journal(cr_engine *e, const econv *c, const eplan *p,
                    const estep *s, int from, int to) {
  if (!e->cb.event)
    return;
  cr_engine_event ev;
  memset(&ev, 0, sizeof ev);
  ev.seq = ++e->seq;
  ev.time = p->t;
  ev.type = s->ev;
  ev.from = from;
  ev.to = to;
  ev.reason = s->reason;
  ev.channel = c->channel;
  ev.conv = c->id;
  ev.conv_len = c->id_len;
  if (p->jagent) {
    ev.agent = p->jagent;
    ev.agent_len = p->jagent_len;
  } else {
    ev.agent = c->agent;
    ev.agent_len = c->agent_len;
  }
  ev.queue = c->queue;
  ev.queue_len = c->queue_len;
  ev.intent = cr__e_label(e, s->intent, &ev.intent_len);
  ev.confidence = s->intent >= 0 ? s->conf : 0;
  ev.text = s->detail;
  ev.text_len = s->detail_len;
  /* who wrote the line this step adds: the input's own line (customer
   * message, agent reply) comes with the plan's first step, a bot line
   * with the step that says it */
  ev.sender = s->say >= 0                  ? CR_FROM_BOT
              : s == &p->s[0] && p->cust ? p->cust_from
                                         : CR_FROM_NONE;
  CALLCB(e, e->cb.event(&ev, e->cb.user_data));
}

/* ------------------------------------------------------------------ */
/* plans */

/* Plans live in a small stack inside the engine (an input's plan, and the
 * escalation plan of a failed action callback), not on the heap: no
 * allocation per input for them. Taken and returned in LIFO order. */
static eplan *plan_get(cr_engine *e) {
  if (e->nplans == EPLANS)
    return NULL;
  eplan *p = &e->plans[e->nplans++];
  memset(p, 0, sizeof *p);
  return p;
}

static void plan_put(cr_engine *e, eplan *p) {
  if (p && e->nplans && p == &e->plans[e->nplans - 1])
    e->nplans--;
}

void cr__e_plan_init(eplan *p, int state, cr_time t) {
  memset(p, 0, sizeof *p);
  p->sim = state;
  p->t = t;
  p->unclear = -1;
  p->field = -1;
  p->fidx = -1;
  p->resolved = CR_METRICS_NONE;
  p->channel = -1;
  p->policy = p->intent = -1;
  p->clar[0] = p->clar[1] = -1;
  p->fpend = -1;
}

void cr__e_plan_free(cr_engine *e, eplan *p) {
  cr__free(&e->mem, p->fval);
  cr__free(&e->mem, p->queue);
  cr__free(&e->mem, p->take_agent);
  cr__e_skills_free(e, &p->skills);
  p->fval = p->queue = p->take_agent = NULL;
}

int cr__e_plan_say(eplan *p, const char *text, size_t len) {
  if (!text || !len)
    return -1;
  if (p->nsay >= EMAXSAY)
    return -1;
  p->say[p->nsay] = text;
  p->say_len[p->nsay] = len;
  return p->nsay++;
}

/* Appends a transition, checked against the table from the plan's
 * simulated state: CR_ESTATE if the table forbids it. */
int cr__e_plan_add(eplan *p, int ev, int reason, int32_t intent, double conf,
                   int say) {
  if (p->n >= EMAXSTEPS)
    return CR_EFULL;
  int next;
  unsigned act;
  int rc = cr__handoff_next(p->sim, ev, &next, &act);
  if (rc)
    return rc;
  estep *s = &p->s[p->n++];
  memset(s, 0, sizeof *s);
  s->ev = (uint8_t)ev;
  s->reason = (uint8_t)reason;
  s->intent = intent;
  s->conf = conf;
  s->say = say;
  p->sim = next;
  return 0;
}

/* ------------------------------------------------------------------ */
/* the end of a conversation: metrics, the recent record, forget */

/* The metrics key id of s (0 when the breakdown is off); CR_ENOMEM is
 * passed on, so a key is always registered before the change that needs
 * it commits. */
int cr__e_key(cr_engine *e, int dim, const char *s, size_t n, uint32_t *id) {
  *id = 0;
  if (!s || !n)
    return 0;
  int rc = cr_metrics_key(e->metrics, dim, s, n, id);
  if (rc == CR_ENOMEM)
    return rc;
  if (rc)
    *id = 0;
  return 0;
}

/* The metrics keys of c (channel, queue, agent, intent `in`) into c->key.
 * Called only after a record with the same keys as strings was accepted
 * (record_keys): the keys exist then, so this finds them and allocates
 * nothing. The ids are what the recent record keeps for late surveys. */
static int resolve_keys(cr_engine *e, econv *c, int32_t in) {
  const char *ch = cr_channel_name(c->channel);
  size_t ln;
  const char *l = cr__e_label(e, in, &ln);
  if (cr__e_key(e, CR_METRICS_CHANNEL, ch, strlen(ch),
                &c->key[CR_METRICS_CHANNEL]) ||
      cr__e_key(e, CR_METRICS_QUEUE, c->queue, c->queue_len,
                &c->key[CR_METRICS_QUEUE]) ||
      cr__e_key(e, CR_METRICS_AGENT, c->agent, c->agent_len,
                &c->key[CR_METRICS_AGENT]) ||
      cr__e_key(e, CR_METRICS_INTENT, l, ln, &c->key[CR_METRICS_INTENT]))
    return CR_ENOMEM;
  return 0;
}

/* Puts c's keys (channel, queue, agent, intent `in`) into r as strings, so
 * cr_metrics_record_add registers any new key together with the record,
 * all or nothing: a record refused for lack of memory leaves no key
 * behind (a separate cr_metrics_key call first would). */
static void record_keys(cr_engine *e, const econv *c, int32_t in,
                        cr_metrics_record *r) {
  const char *ch = cr_channel_name(c->channel);
  size_t ln;
  r->key[CR_METRICS_CHANNEL].str = ch;
  r->key[CR_METRICS_CHANNEL].len = strlen(ch);
  r->key[CR_METRICS_QUEUE].str = c->queue;
  r->key[CR_METRICS_QUEUE].len = c->queue ? c->queue_len : 0;
  r->key[CR_METRICS_AGENT].str = c->agent;
  r->key[CR_METRICS_AGENT].len = c->agent ? c->agent_len : 0;
  r->key[CR_METRICS_INTENT].str = cr__e_label(e, in, &ln);
  r->key[CR_METRICS_INTENT].len = r->key[CR_METRICS_INTENT].str ? ln : 0;
}

/* The metrics record of c ending in state `end` at t; p (may be NULL) is
 * the plan that ends it, whose verdict is not yet applied. */
static int feed_metrics(cr_engine *e, econv *c, const eplan *p,
                        int end, cr_time t) {
  cr_metrics_record r;
  cr_metrics_record_init(&r);
  r.arrived_at = c->arrived;
  r.ended_at = t;
  int queued = c->queued_at != CR_TIME_NONE;
  int answered = c->answered_at != CR_TIME_NONE;
  int resolved = p && p->rop == ROP_END ? p->resolved : c->resolved;
  r.escalated = c->escalated ? 1 : 0;
  /* a transferred conversation was credited leg by leg (feed_leg): this
   * last leg was transferred IN, not out */
  r.transferred = 0;
  switch (end) {
  case CR_ST_RESOLVED:
    r.handled_by = CR_HANDLED_BOT;
    r.resolved = 1;
    break;
  case CR_ST_CLOSED:
    r.handled_by = CR_HANDLED_AGENT;
    r.resolved = resolved;
    r.wrap_ms = c->wrap_at != CR_TIME_NONE && t > c->wrap_at ? t - c->wrap_at
                                                              : 0;
    break;
  default: /* ABANDONED, EXPIRED */
    if (answered) {
      r.handled_by = CR_HANDLED_AGENT;
      r.resolved = CR_METRICS_NONE;
    } else if (queued) {
      r.handled_by = CR_HANDLED_ABANDONED;
      r.resolved = 0;
    } else {
      /* left the bot, or refused a human (after hours): the bot had it;
       * a refused handoff is not containment. Resolved (contained) if the
       * bot had answered or served something first: the customer left
       * after being helped, as an idle customer does (BOT_END) */
      int refused = 0;
      for (int i = 0; p && i < p->n; i++)
        if (p->s[i].ev == CR_EV_NO_SERVICE)
          refused = 1;
      r.handled_by = CR_HANDLED_BOT;
      if (refused)
        r.escalated = 1;
      r.resolved = !refused && (c->helped || (p && p->helped)) ? 1 : 0;
    }
  }
  if (queued)
    r.queued_at = c->queued_at;
  if (answered && r.handled_by == CR_HANDLED_AGENT)
    r.answered_at = c->answered_at;
  int32_t in = c->mintent >= 0 ? c->mintent
               : p && p->set_intent ? p->intent /* its first intent */
                                    : -1;
  record_keys(e, c, in, &r);
  r.customer = c->customer;
  r.customer_len = c->customer_len;
  int rc = cr_metrics_record_add(e->metrics, &r);
  if (rc)
    return rc;
  return resolve_keys(e, c, in);
}

/* A transfer of an answered conversation ends the transferring agent's
 * leg: one record for it, as ACD reports count a transferred call (each
 * agent leg a handled contact; transferred = 1 on the leg that passed it
 * on; AHT of the leg = answer to transfer). No customer on the leg's
 * record, so repeat-form FCR sees the conversation once, on its last leg
 * (the one that resolves it or not). The next leg waits from the transfer
 * (ASA of the receiving queue) and is answered by the next accept. Called
 * from the router's confirming TRANSFER event, which cannot be refused: a
 * record the accumulator refuses (no memory) is counted in metrics_lost,
 * like the other router- and timer-driven ends. */
static void feed_leg(cr_engine *e, econv *c, cr_time t) {
  if (c->answered_at == CR_TIME_NONE || !c->agent_len)
    return; /* transferred from the queue: no agent leg to close */
  cr_metrics_record r;
  cr_metrics_record_init(&r);
  r.arrived_at = c->arrived;
  if (c->queued_at != CR_TIME_NONE)
    r.queued_at = c->queued_at;
  r.answered_at = c->answered_at;
  r.ended_at = t;
  r.handled_by = CR_HANDLED_AGENT;
  r.resolved = CR_METRICS_NONE;
  r.escalated = 1;
  r.transferred = 1;
  record_keys(e, c, c->mintent, &r);
  if (cr_metrics_record_add(e->metrics, &r) ||
      resolve_keys(e, c, c->mintent))
    e->metrics_lost++;
  c->queued_at = t;
  c->answered_at = CR_TIME_NONE;
}

static void conv_end(cr_engine *e, econv *c, cr_time t, int fed) {
  /* a timer or router-driven end cannot refuse: a record the
   * accumulator cannot take (no memory) is counted, not retried */
  if (!fed && feed_metrics(e, c, NULL, c->st, t))
    e->metrics_lost++;
  conv_unlink(e, c);
  erecent *r = c->rec;
  c->rec = NULL;
  r->id = c->id;
  r->id_len = c->id_len;
  c->id = NULL;
  r->customer = c->customer;
  r->customer_len = c->customer_len;
  c->customer = NULL;
  r->agent = c->agent;
  r->agent_len = c->agent_len;
  c->agent = NULL;
  r->queue = c->queue;
  r->queue_len = c->queue_len;
  c->queue = NULL;
  r->channel = c->channel;
  r->intent = c->mintent;
  r->end_state = c->st;
  r->ended = t;
  memcpy(r->key, c->key, sizeof r->key);
  cr__e_rec_index(e, r);
  cr__e_free_conv(e, c);
}

/* ------------------------------------------------------------------ */
/* commit: apply the planned transitions in order. Everything that could
 * fail was done while planning; from here on only host callbacks can
 * fail, and they cannot stop the change. */

static void apply_bot_updates(cr_engine *e, econv *c, eplan *p) {
  if (p->lang[0])
    memcpy(c->lang, p->lang, ELANG);
  if (p->set_policy)
    c->policy = p->policy;
  if (p->set_intent) {
    c->intent = p->intent;
    c->intent_conf = p->intent_conf;
  }
  if (p->set_clar) {
    c->clar[0] = p->clar[0];
    c->clar[1] = p->clar[1];
    c->clar_conf[0] = p->clar_conf[0];
    c->clar_conf[1] = p->clar_conf[1];
  }
  if (p->unclear >= 0)
    c->unclear = (uint8_t)(p->unclear > 255 ? 255 : p->unclear);
  if (p->helped)
    c->helped = 1;
  if (p->clear_fields) {
    for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++) {
      cr__free(&e->mem, c->fval[i]);
      c->fval[i] = NULL;
      c->flen[i] = 0;
    }
    c->fpolicy = p->policy;
  }
  if (p->fset && p->fidx >= 0 && p->fidx < CR_ENGINE_MAX_FIELDS) {
    cr__free(&e->mem, c->fval[p->fidx]);
    c->fval[p->fidx] = p->fval;
    c->flen[p->fidx] = p->flen;
    p->fval = NULL;
  }
  if (p->field >= 0)
    c->field = (uint8_t)p->field;
  if (p->fpend >= 0)
    c->fpending = (uint8_t)p->fpend;
  if (p->clear_fields)
    c->fpending = 0;
  if (p->hit_set) {
    uint8_t pos = (uint8_t)((c->ihead + c->icount) % EMAXIH);
    if (c->icount == EMAXIH)
      c->ihead = (uint8_t)((c->ihead + 1) % EMAXIH);
    else
      c->icount++;
    c->ih[pos] = p->hit;
  }
  /* the credited intent is the first the bot acted on (answered, ran an
   * action for, collected for, handed off for, a human request): a later
   * "thanks, bye" does not take the contact's credit */
  if (p->set_intent && p->intent >= 0 && c->mintent < 0)
    c->mintent = p->intent;
}

/* The router-side updates a confirmed router call brings. */
static void apply_router_updates(cr_engine *e, econv *c, eplan *p) {
  switch (p->rop) {
  case ROP_ENQUEUE:
    cr__free(&e->mem, c->queue);
    c->queue = p->queue;
    c->queue_len = p->queue_len;
    p->queue = NULL;
    cr__e_skills_free(e, &c->skills);
    c->skills = p->skills;
    memset(&p->skills, 0, sizeof p->skills);
    c->priority = p->priority;
    c->reason = (uint8_t)p->reason;
    c->escalated = 1;
    c->noffers = 0;
    if (c->queued_at == CR_TIME_NONE)
      c->queued_at = p->t;
    break;
  case ROP_ACCEPT:
    cr__free(&e->mem, c->agent);
    c->agent = p->take_agent;
    c->agent_len = p->take_agent_len;
    p->take_agent = NULL;
    c->noffers = 0;
    if (c->answered_at == CR_TIME_NONE)
      c->answered_at = p->t;
    break;
  case ROP_TRANSFER:
    feed_leg(e, c, p->t);
    cr__free(&e->mem, c->prev_agent);
    c->prev_agent = c->agent;
    c->prev_agent_len = c->agent_len;
    c->agent = NULL;
    c->agent_len = 0;
    if (p->queue) {
      cr__free(&e->mem, c->queue);
      c->queue = p->queue;
      c->queue_len = p->queue_len;
      p->queue = NULL;
    }
    c->transfers++;
    c->reason = CR_REASON_TRANSFER;
    c->noffers = 0;
    break;
  case ROP_END:
    c->resolved = p->resolved;
    break;
  default:
    break;
  }
  if (p->channel >= 0 && p->channel != c->channel) {
    c->channel = (uint8_t)p->channel;
    int seen = 0;
    for (unsigned i = 0; i < c->nchannels; i++)
      seen |= c->channels[i] == p->channel;
    if (!seen && c->nchannels < CR_CHANNEL_COUNT)
      c->channels[c->nchannels++] = (uint8_t)p->channel;
  }
}

/* t + d, saturating at CR_TIME_NEVER. Both are bounded on entry (times
 * within +-2^62, durations up to 2^50), so it never saturates: the bound
 * is the guarantee, this is the belt. */
static cr_time deadline(cr_time t, cr_time d) {
  return t > CR_TIME_NEVER - d ? CR_TIME_NEVER : t + d;
}

int cr__e_commit(cr_engine *e, econv *c, eplan *p) {
  apply_bot_updates(e, c, p);
  apply_router_updates(e, c, p);
  if (p->cust)
    add_line(e, c, p->cust_from, p->cust, p->cust_len, p->t);
  for (int i = 0; i < p->n; i++) {
    estep *s = &p->s[i];
    int from = c->st, next;
    unsigned act;
    if (cr__handoff_next(from, s->ev, &next, &act))
      continue; /* cannot happen: the plan was checked step by step */
    if ((act & CR__HA_GUARD) && c->noffers > 0)
      next = CR_ST_OFFERED;
    c->st = (uint8_t)next;
    if (act & CR__HA_IDLE)
      cr__e_heap_set(e, c, e->idle_ms > 0 ? deadline(p->t, e->idle_ms)
                                          : CR_TIME_NEVER);
    else if ((act & CR__HA_WRAP) && e->wrapup_ms > 0)
      cr__e_heap_set(e, c, deadline(p->t, e->wrapup_ms));
    else
      cr__e_heap_set(e, c, CR_TIME_NEVER);
    if (next == CR_ST_WRAPUP)
      c->wrap_at = p->t;
    if (s->alert && e->cb.alert) {
      cr_engine_context x;
      int r0 = c->reason;
      c->reason = s->reason;
      ctx_build(e, c, &x);
      c->reason = (uint8_t)r0;
      CALLCB(e, e->cb.alert(&x, e->cb.user_data));
    }
    journal(e, c, p, s, from, next);
    if (next != from && e->cb.state_change)
      CALLCB(e, e->cb.state_change(c->id, c->id_len, from, next, s->reason,
                                   e->cb.user_data));
    if (s->say >= 0) {
      const char *t = p->say[s->say];
      size_t n = p->say_len[s->say];
      add_line(e, c, CR_FROM_BOT, t, n, p->t);
      if (e->cb.send)
        CALLCB(e, e->cb.send(c->id, c->id_len, c->channel, c->lang,
                             strlen(c->lang), t, n, e->cb.user_data));
    }
    if (act & CR__HA_END) {
      conv_end(e, c, p->t, p->fed);
      return 1; /* c is gone */
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* running a plan: directly, or through the router call that confirms it */

static void run_action(cr_engine *e, econv *c, eplan *p);

/* The router's refusal, in the engine's errmsg ("router: unknown queue
 * ..."); the code's sentence when the router has none (no memory). */
static void router_err(cr_engine *e, int rc) {
  const char *m = cr_router_errmsg(e->router);
  snprintf(e->err, sizeof e->err, "router: %s", m && m[0] ? m : cr_strerror(rc));
}

int cr__e_run_plan(cr_engine *e, econv *c, eplan *p) {
  int rc = cr__e_reserve_lines(e, c, p);
  /* an end planned by an input is recorded first, so the accumulator's
   * refusal (no memory) refuses the input. The router calls that end a
   * conversation (abandon; end without wrap-up slot) cannot fail for
   * lack of memory once the engine has checked the state. */
  if (!rc && cr__handoff_is_end(p->sim)) {
    rc = feed_metrics(e, c, p, p->sim, p->t);
    if (!rc)
      p->fed = 1;
  }
  if (rc) {
    cr__e_plan_free(e, p);
    return rc;
  }
  if (p->rop == ROP_NONE) {
    int gone = cr__e_commit(e, c, p);
    if (!gone && p->action)
      run_action(e, c, p);
    cr__e_plan_free(e, p);
    return 0;
  }
  c->pend = p;
  e->rcalled = 1;
  cr_skill_level sl[CR_ROUTER_MAX_STEP_SKILLS];
  cr_route_step st[2];
  cr_conv_params cp;
  cr_conv_params_init(&cp);
  switch (p->rop) {
  case ROP_ENQUEUE:
  case ROP_TRANSFER: {
    const eskills *sk = p->rop == ROP_ENQUEUE ? &p->skills : &c->skills;
    skills_view(sk, sl);
    size_t ns = 0;
    const char *pref = p->rop == ROP_ENQUEUE ? c->sticky : p->pref;
    size_t pref_len = p->rop == ROP_ENQUEUE ? c->sticky_len : p->pref_len;
    if (pref && pref_len) {
      memset(&st[ns], 0, sizeof st[ns]);
      st[ns].kind = CR_STEP_AGENT;
      st[ns].target = pref;
      st[ns].target_len = pref_len;
      st[ns].expire_after_ms = e->sticky_ms > 0 ? e->sticky_ms : 1;
      ns++;
    }
    if (ns || sk->n) {
      memset(&st[ns], 0, sizeof st[ns]);
      st[ns].kind = CR_STEP_SKILLS;
      st[ns].skills = sl;
      st[ns].nskills = sk->n;
      ns++;
    }
    cp.channel = c->channel;
    cp.priority = p->rop == ROP_ENQUEUE ? p->priority : c->priority;
    cp.steps = ns ? st : NULL;
    cp.nsteps = ns;
    cp.attrs = c->profile;
    cp.attrs_len = c->profile_len;
    if (p->rop == ROP_ENQUEUE)
      rc = cr_router_enqueue(e->router, c->id, c->id_len, p->queue,
                             p->queue_len, &cp, p->t);
    else
      rc = cr_router_transfer(e->router, c->id, c->id_len,
                              p->queue ? p->queue : c->queue,
                              p->queue ? p->queue_len : c->queue_len, &cp,
                              p->t);
    break;
  }
  case ROP_ACCEPT:
    rc = cr_router_accept(e->router, c->id, c->id_len, p->take_agent,
                          p->take_agent_len, p->t);
    break;
  case ROP_ABANDON:
    rc = cr_router_abandon(e->router, c->id, c->id_len, p->t);
    break;
  case ROP_END:
    rc = cr_router_end(e->router, c->id, c->id_len, p->t);
    break;
  case ROP_CHANNEL:
    rc = cr_router_set_channel(e->router, c->id, c->id_len, p->channel, p->t);
    break;
  default:
    rc = CR_EINVAL;
  }
  if (!p->done) {
    /* the confirming event never came: the router refused (c is alive:
     * only a confirmed change can end it) */
    c->pend = NULL;
    cr__e_plan_free(e, p);
    if (!rc)
      rc = CR_ESTATE;
    router_err(e, rc);
    return rc;
  }
  cr__e_plan_free(e, p);
  return 0;
}

/* After a committed plan: the self-service action at the host. A failing
 * action callback is the action's failure. */
static void run_action(cr_engine *e, econv *c, eplan *p) {
  if (!e->cb.action)
    return;
  cr__e_hold(e, 1);
  int rc = e->cb.action(c->id, c->id_len, p->action, p->action_len, p->args,
                        p->args_len, p->agent, p->agent_len,
                        e->cb.user_data);
  cr__e_hold(e, -1);
  if (!rc)
    return;
  e->cb_failed = 1;
  eplan *q = plan_get(e);
  if (!q)
    return; /* stays in ACTION / BOTSTEP; the host may report failure */
  cr__e_plan_init(q, c->st, p->t);
  static const char why[] = "action callback failed";
  int r2;
  if (c->st == CR_ST_BOTSTEP) {
    r2 = cr__e_plan_add(q, CR_EV_ACTION_FAIL, CR_REASON_CALLBACK_FAILED, -1,
                        0, -1);
  } else {
    size_t n;
    const char *t = cr__bot_text(e, &e->texts[CR_TEXT_ACTION_FAILED], c, &n);
    r2 = n ? cr__e_plan_add(q, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                            cr__e_plan_say(q, t, n))
           : 0;
    if (!r2)
      r2 = cr__bot_plan_handoff(e, c, CR_EV_ACTION_FAIL,
                                CR_REASON_ACTION_FAILED, c->intent,
                                c->intent_conf, q);
  }
  if (!r2) {
    q->s[q->n - 1].detail = why;
    q->s[q->n - 1].detail_len = sizeof why - 1;
    cr__e_run_plan(e, c, q);
  } else {
    cr__e_plan_free(e, q);
  }
  plan_put(e, q);
}

/* ------------------------------------------------------------------ */
/* router events: commits of confirmed calls, offers, timeouts */

static void simple(cr_engine *e, econv *c, int ev, int reason, cr_time t,
                   const char *agent, size_t agent_len, const char *detail,
                   size_t detail_len, int alert) {
  eplan p;
  cr__e_plan_init(&p, c->st, t);
  if (cr__e_plan_add(&p, ev, reason, -1, 0, -1))
    return;
  p.s[0].detail = detail;
  p.s[0].detail_len = detail_len;
  p.s[0].alert = alert;
  p.jagent = agent;
  p.jagent_len = agent_len;
  cr__e_commit(e, c, &p);
}

static void offer_lost(cr_engine *e, econv *c, const cr_router_event *ev,
                       int type) {
  if (c->noffers)
    c->noffers--;
  if (type != CR_EV_REJECT && e->cb.cancel_offer)
    CALLCB(e, e->cb.cancel_offer(c->id, c->id_len, ev->agent, ev->agent_len,
                                 e->cb.user_data));
  if (c->pend || c->st != CR_ST_OFFERED)
    return; /* a change of ours is in flight: it says where c goes */
  simple(e, c, type, CR_REASON_NONE, ev->time, ev->agent, ev->agent_len, NULL,
         0, 0);
}

static void confirm(cr_engine *e, econv *c, int rop, cr_time t) {
  eplan *p = c->pend;
  if (!p || p->rop != rop)
    return;
  c->pend = NULL;
  p->t = t;
  p->done = 1; /* c may be gone after this */
  if (cr__e_commit(e, c, p))
    return;
  /* a channel switch withdraws the offers (the router re-routes it at
   * once, maybe to the same agents): the table sees them lost */
  if (rop == ROP_CHANNEL && c->st == CR_ST_OFFERED && c->noffers == 0)
    simple(e, c, CR_EV_OFFER_CANCEL, CR_REASON_NONE, t, NULL, 0, "channel",
           7, 0);
}

static void fire(cr_engine *e, econv *c, cr_time t);

static void on_router_event(const cr_router_event *ev, void *ud) {
  cr_engine *e = ud;
  /* A router call the host made directly (an agent logging in) runs at
   * its own time: the engine's timers due before it go first, so the
   * journal never runs backwards. They touch only bot and wrap-up
   * conversations, which the router does not hold, and never call it. */
  while (e->nheap && e->heap[0]->deadline <= ev->time) {
    cr_time te = e->heap[0]->deadline;
    if (te > e->now)
      e->now = te;
    fire(e, e->heap[0], te);
  }
  if (e->cb.router_event) {
    cr__e_hold(e, 1);
    e->cb.router_event(ev, e->cb.user_data);
    cr__e_hold(e, -1);
  }
  if (ev->type == CR_REV_AGENTLOGIN) {
    e->logged_in++;
    return;
  }
  if (ev->type == CR_REV_AGENTLOGOFF) {
    if (e->logged_in > 0)
      e->logged_in--;
    return;
  }
  econv *c = cr__e_find(e, ev->conv, ev->conv_len);
  if (!c)
    return;
  switch (ev->type) {
  case CR_REV_ENTERQUEUE:
    confirm(e, c, ROP_ENQUEUE, ev->time);
    break;
  case CR_REV_OFFER: {
    if (c->st != CR_ST_QUEUED && c->st != CR_ST_OFFERED)
      break;
    c->noffers++;
    simple(e, c, CR_EV_OFFER, CR_REASON_NONE, ev->time, ev->agent,
           ev->agent_len, NULL, 0, 0);
    if (e->cb.offer) {
      cr_engine_context x;
      ctx_build(e, c, &x);
      CALLCB(e, e->cb.offer(&x, ev->agent, ev->agent_len, e->cb.user_data));
    }
    break;
  }
  case CR_REV_CONNECT:
    confirm(e, c, ROP_ACCEPT, ev->time);
    break;
  case CR_REV_REJECT:
    offer_lost(e, c, ev, CR_EV_REJECT);
    break;
  case CR_REV_RINGNOANSWER:
    offer_lost(e, c, ev, CR_EV_OFFER_TIMEOUT);
    break;
  case CR_REV_RINGCANCELED:
    offer_lost(e, c, ev, CR_EV_OFFER_CANCEL);
    break;
  case CR_REV_ABANDON:
    confirm(e, c, ROP_ABANDON, ev->time);
    break;
  case CR_REV_COMPLETE:
    confirm(e, c, ROP_END, ev->time);
    break;
  case CR_REV_TRANSFER:
    confirm(e, c, ROP_TRANSFER, ev->time);
    break;
  case CR_REV_CHANNEL:
    confirm(e, c, ROP_CHANNEL, ev->time);
    break;
  case CR_REV_ESCALATE:
  case CR_REV_MAXWAIT:
    if (!c->pend && (c->st == CR_ST_QUEUED || c->st == CR_ST_OFFERED)) {
      const char *d = ev->type == CR_REV_ESCALATE ? "escalate" : "maxwait";
      simple(e, c, CR_EV_MAXWAIT, CR_REASON_MAX_WAIT, ev->time, NULL, 0, d,
             strlen(d), 1);
    }
    break;
  case CR_REV_EXITWITHTIMEOUT:
    if (c->st == CR_ST_QUEUED || c->st == CR_ST_OFFERED)
      simple(e, c, CR_EV_TIMEOUT_EXIT, CR_REASON_MAX_WAIT, ev->time, NULL, 0,
             NULL, 0, 0);
    break;
  default:
    break;
  }
}

int cr__e_router_cbs(cr_engine *e) {
  cr_router_callbacks rcb;
  memset(&rcb, 0, sizeof rcb);
  rcb.event = on_router_event;
  rcb.user_data = e;
  return cr_router_set_callbacks(e->router, &rcb);
}

/* ------------------------------------------------------------------ */
/* engine timers and the clock */

static void fire(cr_engine *e, econv *c, cr_time t) {
  cr__e_heap_set(e, c, CR_TIME_NEVER);
  eplan p;
  cr__e_plan_init(&p, c->st, t);
  int rc;
  if (c->st == CR_ST_WRAPUP)
    rc = cr__e_plan_add(&p, CR_EV_WRAPUP_END, CR_REASON_NONE, -1, 0, -1);
  else if (c->helped)
    rc = cr__e_plan_add(&p, CR_EV_BOT_END, CR_REASON_IDLE, -1, 0, -1);
  else
    rc = cr__e_plan_add(&p, CR_EV_IDLE, CR_REASON_IDLE, -1, 0, -1);
  if (!rc)
    cr__e_commit(e, c, &p);
}

/* Runs every deadline of the engine and the router due at or before now,
 * in time order, each at its own time, so results do not depend on how
 * often the host ticks. Leaves the loop when nothing is due (with no
 * timer at all both expiries are CR_TIME_NEVER, beyond any accepted
 * now). enter() has checked now. */
static int advance(cr_engine *e, cr_time now) {
  for (;;) {
    cr_time te = e->nheap ? e->heap[0]->deadline : CR_TIME_NEVER;
    cr_time tr = cr_router_next_expiry(e->router);
    int due_e = e->nheap && te <= now, due_r = tr <= now;
    if (!due_e && !due_r)
      break;
    if (due_e && (!due_r || te <= tr)) {
      if (te > e->now)
        e->now = te;
      fire(e, e->heap[0], te);
    } else {
      if (tr > e->now)
        e->now = tr;
      int rc = cr_router_tick(e->router, tr);
      if (rc)
        return rc;
    }
  }
  e->t_ran = e->now;
  e->now = now;
  return 0;
}

/* The first checks of every input that takes a time, before any argument
 * check: re-entry, then the time (range and order). Nothing changes. */
static int enter(cr_engine *e, cr_time now) {
  if (!e)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  e->cb_failed = 0;
  e->rcalled = 0;
  e->t_ran = e->now;
  if (!ET_OK(now))
    return cr__e_fail(e, CR_ERANGE, "time beyond +-2^62 ms (CR_TIME_NEVER "
                                    "is not a time to tick to)");
  if (now < e->now)
    return cr__e_fail(e, CR_EORDER, "time went backwards");
  return 0;
}

/* Every input ends here. A failure found in the arguments comes before
 * advance() and changes nothing. One found after it (the state at now,
 * the router's refusal, no memory) leaves the timers that were due run --
 * at their own times, as the next call would have run them -- and the
 * clock where they took it, not at now, so the host may still send an
 * input for a time in between; unless the router was called with now
 * (its clock is there: the engine's must not stay behind it). */
static int leave(cr_engine *e, int rc) {
  if (!e || e->busy)
    return rc; /* refused before anything: nothing to restore */
  if (rc) {
    if (!e->rcalled)
      e->now = e->t_ran;
    if (!e->err[0])
      snprintf(e->err, sizeof e->err, "%s", cr_strerror(rc));
    return rc;
  }
  if (e->cb_failed) {
    if (!e->err[0])
      snprintf(e->err, sizeof e->err, "a host callback failed");
    return CR_ECALLBACK;
  }
  return 0;
}

/* enter() + advance(): for inputs whose arguments are all checked. */
static int enter_run(cr_engine *e, cr_time now) {
  int rc = enter(e, now);
  return rc ? rc : advance(e, now);
}

cr_time cr_engine_next_timeout(const cr_engine *e) {
  if (!e)
    return CR_TIME_NEVER;
  cr_time te = e->nheap ? e->heap[0]->deadline : CR_TIME_NEVER;
  cr_time tr = cr_router_next_expiry(e->router);
  return te < tr ? te : tr;
}

int cr_engine_tick(cr_engine *e, cr_time now) {
  return leave(e, enter_run(e, now));
}

/* ------------------------------------------------------------------ */
/* lifecycle and configuration */

void cr_engine_config_init(cr_engine_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->transcript_max = 50;
  cfg->clarify_below = 0.45;
  cfg->max_unclear = 2;
  cfg->idle_ms = 15 * 60 * 1000;
  cfg->return_window_ms = 24 * 3600 * 1000;
  cfg->sticky_ms = 60 * 1000;
  cfg->wrapup_ms = 0;
  cfg->keep_queued_after_hours = 1;
  cfg->human_label = "talk_to_human";
  cfg->human_label_len = 13;
  cfg->default_queue = "general";
  cfg->default_queue_len = 7;
  cfg->default_lang = "en";
  cfg->default_lang_len = 2;
  cfg->recent_max = 4096;
}

void cr_engine_policy_init(cr_intent_policy *p) {
  if (p)
    memset(p, 0, sizeof *p);
}

void cr_engine_rule_init(cr_engine_rule *r) {
  if (r)
    memset(r, 0, sizeof *r);
}

/* Built-in system texts, so an engine speaks before it is configured. */
static const struct {
  int kind;
  const char *en, *he;
} DEFAULT_TEXTS[] = {
    {CR_TEXT_CLARIFY, "Did you mean {1} or {2}? Reply 1 or 2.",
     "האם התכוונת ל{1} או ל{2}? השיבו 1 או 2."},
    {CR_TEXT_HANDOFF, "I'm passing you to an agent; they will see this "
                      "conversation.",
     "אני מעביר/ה אותך לנציג/ה, שיראו את כל השיחה."},
    {CR_TEXT_AFTER_HOURS,
     "We are closed right now. An agent will answer when we open; meanwhile "
     "I can still help with invoices, passwords and orders.",
     "המוקד סגור כעת. נציג/ה יענו כשנפתח; בינתיים אפשר להיעזר בי בחשבוניות, "
     "סיסמאות והזמנות."},
    {CR_TEXT_NO_AGENTS,
     "No agent is available right now. You keep your place in line; "
     "meanwhile I can still help with invoices, passwords and orders.",
     "אין כרגע נציג/ה זמינ/ה. מקומך בתור נשמר; בינתיים אפשר להיעזר בי "
     "בחשבוניות, סיסמאות והזמנות."},
    {CR_TEXT_INVALID, "That doesn't look right.", "נראה שזה לא תקין."},
    {CR_TEXT_ACTION_FAILED,
     "Sorry, that didn't work. I'm passing you to an agent.",
     "מצטערים, זה לא הצליח. אני מעביר/ה אותך לנציג/ה."},
};

static int default_texts(cr_engine *e) {
  for (size_t i = 0; i < sizeof DEFAULT_TEXTS / sizeof *DEFAULT_TEXTS; i++) {
    cr_lang_text t[2] = {{"en", 2, DEFAULT_TEXTS[i].en,
                          strlen(DEFAULT_TEXTS[i].en)},
                         {"he", 2, DEFAULT_TEXTS[i].he,
                          strlen(DEFAULT_TEXTS[i].he)}};
    int rc = cr__etext_copy(e, &e->texts[DEFAULT_TEXTS[i].kind], t, 2);
    if (rc)
      return rc;
  }
  return 0;
}

static int config_check(cr_engine *e, const cr_engine_config *c) {
  if (c->transcript_max < 1 || c->transcript_max > 100000)
    return cr__e_fail(e, CR_ERANGE, "transcript_max outside 1..100000");
  if (!(c->clarify_below >= 0 && c->clarify_below <= 1))
    return cr__e_fail(e, CR_ERANGE, "clarify_below outside 0..1");
  if (c->max_unclear < 1 || c->max_unclear > 100)
    return cr__e_fail(e, CR_ERANGE, "max_unclear outside 1..100");
  if (c->idle_ms < 0 || c->return_window_ms < 0 || c->sticky_ms < 0 ||
      c->wrapup_ms < 0)
    return cr__e_fail(e, CR_ERANGE, "negative duration");
  /* the router's limit for a step duration (the sticky step is one) and
   * what keeps every deadline = time + duration inside int64_t */
  if (c->idle_ms > EDUR_MAX || c->return_window_ms > EDUR_MAX ||
      c->sticky_ms > EDUR_MAX || c->wrapup_ms > EDUR_MAX)
    return cr__e_fail(e, CR_ERANGE, "duration above 2^50 ms (0 = never)");
  if (c->utc_offset_min < -24 * 60 || c->utc_offset_min > 24 * 60)
    return cr__e_fail(e, CR_ERANGE, "utc_offset_min outside +-1440");
  if (c->recent_max > (1u << 24))
    return cr__e_fail(e, CR_ERANGE, "recent_max above 2^24");
  if (check_id(e, c->default_queue, c->default_queue_len,
               "bad default_queue"))
    return CR_EINVAL;
  if (c->human_label_len &&
      check_id(e, c->human_label, c->human_label_len, "bad human_label"))
    return CR_EINVAL;
  if (!c->default_lang || !c->default_lang_len ||
      c->default_lang_len >= ELANG)
    return cr__e_fail(e, CR_EINVAL, "default_lang must be 1..7 bytes");
  return 0;
}

void cr_engine_del(cr_engine *e) {
  if (!e)
    return;
  econv *c, *tmp;
  const cr_mem *cr__hmem = &e->mem;
  HASH_CLEAR(hc, e->by_customer); /* its table lives in a conversation */
  HASH_CLEAR(hh, e->alias);       /* the aliases go with their conversation */
  HASH_ITER(hh, e->convs, c, tmp) {
    HASH_DELETE(hh, e->convs, c);
    cr__e_free_conv(e, c);
  }
  if (e->recent)
    cr__e_recent_clear(e);
  cr__free(&e->mem, e->recent);
  cr__free(&e->mem, e->ridx_id);
  cr__free(&e->mem, e->ridx_cust);
  cr__free(&e->mem, e->heap);
  for (size_t i = 0; i < e->nlabels && e->policies; i++)
    cr__policy_free(e, &e->policies[i]);
  cr__free(&e->mem, e->policies);
  for (size_t i = 0; i < e->nrules; i++)
    cr__rule_free(e, &e->rules[i]);
  cr__free(&e->mem, e->rules);
  for (int i = 0; i < CR_TEXT_COUNT; i++)
    cr__etext_free(e, &e->texts[i]);
  cr__free(&e->mem, e->hours);
  cr__free(&e->mem, e->human_label);
  cr__free(&e->mem, e->default_queue);
  cr__free(&e->mem, e->sc_lines);
  cr__free(&e->mem, e->sbuf);
  cr__free(&e->mem, e->hbuf);
  cr_router_del(e->router);
  cr_metrics_del(e->metrics);
  cr_mem m = e->mem;
  cr__free(&m, e);
}

int cr_engine_new(cr_engine **out, const cr_mem *mem, cr_intent_model *model,
                  const cr_engine_config *cfg) {
  if (!out || !model)
    return CR_EINVAL;
  *out = NULL;
  cr_mem m;
  if (cr__mem_init(&m, mem))
    return CR_EINVAL;
  cr_engine_config dc;
  if (!cfg) {
    cr_engine_config_init(&dc);
    cfg = &dc;
  }
  int rc = config_check(NULL, cfg);
  if (rc)
    return rc;
  cr_engine *e = cr__calloc(&m, 1, sizeof *e);
  if (!e)
    return CR_ENOMEM;
  e->mem = m;
  e->model = model;
  e->transcript_max = cfg->transcript_max;
  e->clarify_below = cfg->clarify_below;
  e->max_unclear = cfg->max_unclear;
  e->idle_ms = cfg->idle_ms;
  e->return_window_ms = cfg->return_window_ms;
  e->sticky_ms = cfg->sticky_ms;
  e->wrapup_ms = cfg->wrapup_ms;
  e->utc_offset_min = cfg->utc_offset_min;
  e->keep_queued = cfg->keep_queued_after_hours ? 1 : 0;
  e->alias_ids = cfg->alias_new_ids ? 1 : 0;
  e->recent_max = cfg->recent_max;
  e->now = INT64_MIN;
  memcpy(e->default_lang, cfg->default_lang, cfg->default_lang_len);
  e->nlabels = cr_intent_model_label_count(model);
  e->human_idx = -1;
  rc = CR_ENOMEM;
  e->default_queue = cr__strndup(&m, cfg->default_queue,
                                 cfg->default_queue_len);
  e->default_queue_len = (uint32_t)cfg->default_queue_len;
  if (cfg->human_label_len) {
    e->human_label = cr__strndup(&m, cfg->human_label, cfg->human_label_len);
    e->human_label_len = (uint32_t)cfg->human_label_len;
    if (!e->human_label)
      goto fail;
    for (size_t i = 0; i < e->nlabels; i++) {
      const char *l = cr_intent_model_label(model, i);
      if (strlen(l) == cfg->human_label_len &&
          !memcmp(l, cfg->human_label, cfg->human_label_len))
        e->human_idx = (int32_t)i;
    }
  }
  e->oos_idx = -1;
  const char *oos = cr_intent_model_oos_label(model);
  for (size_t i = 0; oos && i < e->nlabels; i++)
    if (!strcmp(cr_intent_model_label(model, i), oos))
      e->oos_idx = (int32_t)i;
  e->policies = cr__calloc(&m, e->nlabels ? e->nlabels : 1,
                           sizeof *e->policies);
  e->sc_lines = cr__calloc(&m, e->transcript_max, sizeof *e->sc_lines);
  if (!e->default_queue || !e->policies || !e->sc_lines)
    goto fail;
  if (e->recent_max) {
    uint32_t sz = 4;
    while (sz < 2 * e->recent_max)
      sz *= 2;
    e->ridx_mask = sz - 1;
    e->recent = cr__calloc(&m, e->recent_max, sizeof *e->recent);
    e->ridx_id = cr__malloc(&m, sz * sizeof(uint32_t));
    e->ridx_cust = cr__malloc(&m, sz * sizeof(uint32_t));
    if (!e->recent || !e->ridx_id || !e->ridx_cust)
      goto fail;
    memset(e->ridx_id, 0xFF, sz * sizeof(uint32_t));
    memset(e->ridx_cust, 0xFF, sz * sizeof(uint32_t));
  }
  if ((rc = cr_router_new(&e->router, &m, cfg->router)))
    goto fail;
  if ((rc = cr_metrics_new(&e->metrics, &m, cfg->metrics)))
    goto fail;
  if ((rc = cr__e_router_cbs(e)) || (rc = default_texts(e)))
    goto fail;
  *out = e;
  return 0;
fail:
  cr_engine_del(e);
  return rc;
}

const char *cr_engine_errmsg(const cr_engine *e) {
  return e ? e->err : "";
}

int cr_engine_set_callbacks(cr_engine *e, const cr_engine_callbacks *cb) {
  if (!e)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  if (cb)
    e->cb = *cb;
  else
    memset(&e->cb, 0, sizeof e->cb);
  return 0;
}

cr_router *cr_engine_router(cr_engine *e) {
  return e ? e->router : NULL;
}

cr_metrics *cr_engine_metrics(cr_engine *e) {
  return e ? e->metrics : NULL;
}

size_t cr_engine_conv_count(const cr_engine *e) {
  return e ? e->nconv : 0;
}

/* ------------------------------------------------------------------ */
/* customer inputs */

static econv *conv_new(cr_engine *e, const char *id, size_t len,
                       const char *cust, size_t cust_len, int channel,
                       const char *profile, size_t profile_len,
                       cr_time now) {
  econv *c = cr__calloc(&e->mem, 1, sizeof *c);
  if (!c)
    return NULL;
  c->id = cr__strndup(&e->mem, id, len);
  c->customer = cust_len ? cr__strndup(&e->mem, cust, cust_len) : NULL;
  c->profile = profile_len ? cr__strndup(&e->mem, profile, profile_len)
                           : NULL;
  c->rec = cr__calloc(&e->mem, 1, sizeof *c->rec);
  if (!c->id || (cust_len && !c->customer) ||
      (profile_len && !c->profile) || !c->rec) {
    cr__e_free_conv(e, c);
    return NULL;
  }
  c->id_len = (uint32_t)len;
  c->customer_len = (uint32_t)cust_len;
  c->profile_len = (uint32_t)profile_len;
  c->hidx = ENIL;
  c->deadline = CR_TIME_NEVER;
  c->st = CR_ST_BOT;
  c->channel = (uint8_t)channel;
  c->channels[0] = (uint8_t)channel;
  c->nchannels = 1;
  c->policy = c->intent = c->mintent = c->fpolicy = -1;
  c->clar[0] = c->clar[1] = -1;
  c->arrived = now;
  c->queued_at = c->answered_at = c->wrap_at = CR_TIME_NONE;
  c->resolved = CR_METRICS_NONE;
  return c;
}

/* Everything about a customer message that does not depend on the state
 * at its time. */
static int msg_check(cr_engine *e, const char *conv, size_t conv_len,
                     const char *customer, size_t customer_len, int channel,
                     const char *text, size_t text_len, const char *profile,
                     size_t profile_len) {
  int rc = check_id(e, conv, conv_len, "bad conversation id");
  if (!rc && customer_len)
    rc = check_id(e, customer, customer_len, "bad customer id");
  if (!rc && (channel < 0 || channel >= CR_CHANNEL_COUNT))
    rc = cr__e_fail(e, CR_EINVAL, "unknown channel");
  if (!rc)
    rc = check_text(e, text, text_len);
  if (!rc && profile_len) {
    uint16_t kv[EMAXKV][4];
    uint8_t n;
    if (!profile || profile_len > EMAXPROFILE)
      rc = cr__e_fail(e, CR_EINVAL, "profile missing or above 1024 bytes");
    else if (!cr__e_name_ok(profile, profile_len))
      rc = cr__e_fail(e, CR_EUTF8, "profile is not UTF-8 (or has a NUL)");
    else if (cr__bot_profile_parse(profile, profile_len, kv, &n))
      rc = cr__e_fail(e, CR_EINVAL, "profile: key=value;... up to 16");
  }
  return rc;
}

static int wrapup_for_new_contact(cr_engine *e, econv *c, cr_time now);

static int msg_run(cr_engine *e, const char *conv, size_t conv_len,
                   const char *customer, size_t customer_len, int channel,
                   const char *text, size_t text_len, const char *profile,
                   size_t profile_len, cr_time now) {
  int rc;
  econv *c = cr__e_find(e, conv, conv_len);
  if (c && c->st == CR_ST_WRAPUP && !c->pend) {
    /* the customer wrote again under the id of a contact the agent has
     * closed: that contact's wrap-up ends (as its timer would) and the
     * message starts a new contact under the same id */
    if ((rc = wrapup_for_new_contact(e, c, now)))
      return rc;
    c = NULL;
  }
  ealias *al = NULL;
  if (!c && customer_len) {
    /* the same customer's live conversation, unless an agent already
     * closed it (WRAPUP): then this is a new contact */
    c = find_customer(e, customer, customer_len);
    if (c && c->st == CR_ST_WRAPUP)
      c = NULL;
    if (c && c->pend)
      return cr__e_fail(e, CR_ESTATE, "conversation busy");
    if (c && e->alias_ids) {
      /* the new id becomes an alias of the live conversation: later
       * calls with either id reach it (journalled: "alias:<id>") */
      const cr_mem *cr__hmem = &e->mem;
      int cr__hoom = 0;
      al = cr__e_alias_new(e, conv, conv_len);
      if (!al)
        return CR_ENOMEM;
      HASH_ADD_KEYPTR(hh, e->alias, al->id, al->id_len, al);
      if (cr__hoom) {
        cr__free(&e->mem, al);
        return CR_ENOMEM;
      }
      al->c = c;
      al->next = c->aliases;
      c->aliases = al;
    }
  }
  int fresh = 0;
  if (!c) {
    c = conv_new(e, conv, conv_len, customer, customer_len, channel, profile,
                 profile_len, now);
    if (!c)
      return CR_ENOMEM;
    cr__bot_profile_parse(c->profile, c->profile_len, c->kv, &c->nkv);
    /* a returning customer: the agent who closed the last conversation */
    erecent *r = e->return_window_ms > 0
                     ? cr__e_recent_find(e, customer, customer_len, 1)
                     : NULL;
    if (r && r->end_state == CR_ST_CLOSED && r->agent_len &&
        now - r->ended <= e->return_window_ms) {
      c->sticky = cr__strndup(&e->mem, r->agent, r->agent_len);
      c->sticky_len = r->agent_len;
      if (!c->sticky) {
        cr__e_free_conv(e, c);
        return CR_ENOMEM;
      }
    }
    if ((rc = conv_link(e, c))) {
      cr__e_free_conv(e, c);
      return rc;
    }
    c->seq = ++e->conv_seq;
    fresh = 1;
  } else if (c->pend) {
    return cr__e_fail(e, CR_ESTATE, "conversation busy");
  }
  eplan *p = plan_get(e);
  if (!p)
    rc = CR_ENOMEM;
  else {
    cr__e_plan_init(p, c->st, now);
    rc = cr__bot_plan_message(e, c, text, text_len, fresh, p);
    if (!rc && al && !p->s[0].detail) {
      p->s[0].detail = al->text;
      p->s[0].detail_len = 6 + al->id_len;
    }
    if (!rc)
      rc = cr__e_run_plan(e, c, p);
    else
      cr__e_plan_free(e, p);
    plan_put(e, p);
  }
  if (rc && al) { /* refused: c is alive, al is its newest alias */
    const cr_mem *cr__hmem = &e->mem;
    HASH_DELETE(hh, e->alias, al);
    c->aliases = al->next;
    cr__free(&e->mem, al);
  }
  if (rc && fresh) {
    conv_unlink(e, c);
    e->conv_seq--;
    cr__e_free_conv(e, c);
  }
  return rc;
}

static econv *live(cr_engine *e, const char *conv, size_t len, int *rc) {
  *rc = check_id(e, conv, len, "bad conversation id");
  if (*rc)
    return NULL;
  econv *c = cr__e_find(e, conv, len);
  if (!c) {
    *rc = cr__e_fail(e, CR_ENOTFOUND, "unknown conversation");
    return NULL;
  }
  if (c->pend) {
    *rc = cr__e_fail(e, CR_ESTATE, "conversation busy");
    return NULL;
  }
  return c;
}

/* A one-step plan for conversation c, checked against the table. */
static eplan *plan1(cr_engine *e, econv *c, int ev, int reason, int *rc) {
  eplan *p = plan_get(e);
  if (!p) {
    *rc = CR_ENOMEM;
    return NULL;
  }
  cr__e_plan_init(p, c->st, e->now);
  *rc = cr__e_plan_add(p, ev, reason, -1, 0, -1);
  if (*rc) {
    cr__e_fail(e, *rc, "not allowed in the conversation's state");
    plan_put(e, p);
    return NULL;
  }
  return p;
}

static int run1(cr_engine *e, econv *c, eplan *p) {
  int rc = cr__e_run_plan(e, c, p);
  plan_put(e, p);
  return rc;
}

static int channel_switch_(cr_engine *e, const char *conv, size_t conv_len,
                             int channel) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* channel: channel_check */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_CHANNEL, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  if (channel == c->channel) {
    plan_put(e, p);
    return 0; /* nothing to switch */
  }
  p->channel = channel;
  if (cr__handoff_in_router(c->st))
    p->rop = ROP_CHANNEL;
  static const char d[] = "channel";
  p->s[0].detail = d;
  p->s[0].detail_len = sizeof d - 1;
  return run1(e, c, p);
}

static int abandon_(cr_engine *e, const char *conv, size_t conv_len) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc);
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_ABANDON, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  if (c->st == CR_ST_QUEUED || c->st == CR_ST_OFFERED)
    p->rop = ROP_ABANDON;
  else if (c->st == CR_ST_AGENT || c->st == CR_ST_BOTSTEP)
    p->rop = ROP_END;
  return run1(e, c, p);
}

/* An input that is exactly one event on a live conversation, with nothing
 * else to plan (the host ends a bot conversation; the agent's wrap-up is
 * done). The caller has checked the arguments and run the timers. */
static int single_event(cr_engine *e, const char *conv, size_t conv_len,
                        int ev, int reason) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc);
  if (!c)
    return rc;
  eplan *p = plan1(e, c, ev, reason, &rc);
  if (!p)
    return rc;
  return run1(e, c, p);
}

static int end_(cr_engine *e, const char *conv, size_t conv_len) {
  return single_event(e, conv, conv_len, CR_EV_BOT_END, CR_REASON_HOST);
}

static int survey_(cr_engine *e, const char *conv, size_t conv_len,
                     int csat, int nps, int ces, cr_time now) {
  int rc;
  /* the newest ended contact under this id: a customer who wrote again
   * under the id after its close has a live contact with it too */
  erecent *r = cr__e_recent_find(e, conv, conv_len, 0);
  if (!r && cr__e_find(e, conv, conv_len))
    return cr__e_fail(e, CR_ESTATE, "conversation is still live");
  if (!r)
    return cr__e_fail(e, CR_ENOTFOUND, "conversation not remembered");
  if (r->surveyed)
    return cr__e_fail(e, CR_EEXIST, "this conversation has its survey");
  cr_metrics_survey s;
  cr_metrics_survey_init(&s);
  s.at = now;
  s.csat = csat;
  s.nps = nps;
  s.ces = ces;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    s.key[d].id = r->key[d];
  rc = cr_metrics_survey_add(e->metrics, &s);
  if (rc) {
    /* the answers were checked (survey_check): no memory, in practice */
    const char *m = cr_metrics_errmsg(e->metrics);
    snprintf(e->err, sizeof e->err, "survey: %s", m[0] ? m : cr_strerror(rc));
    return rc;
  }
  r->surveyed = 1;
  if (e->cb.event) {
    /* only the answers given: a missing one (CR_METRICS_NONE) is left out */
    char d[64];
    int n = 0;
    const int ans[3] = {csat, nps, ces};
    static const char *const nm[3] = {"csat", "nps", "ces"};
    for (int i = 0; i < 3; i++)
      if (ans[i] != CR_METRICS_NONE)
        n += snprintf(d + n, sizeof d - (size_t)n, "%s%s=%d", n ? " " : "",
                      nm[i], ans[i]);
    cr_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.sender = CR_FROM_NONE;
    ev.seq = ++e->seq;
    ev.time = now;
    ev.type = CR_EV_SURVEY;
    ev.from = ev.to = r->end_state;
    ev.channel = r->channel;
    ev.conv = r->id;
    ev.conv_len = r->id_len;
    ev.agent = r->agent;
    ev.agent_len = r->agent_len;
    ev.queue = r->queue;
    ev.queue_len = r->queue_len;
    ev.intent = cr__e_label(e, r->intent, &ev.intent_len);
    ev.text = d;
    ev.text_len = (size_t)n;
    CALLCB(e, e->cb.event(&ev, e->cb.user_data));
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* host inputs */

static int action_result_(cr_engine *e, const char *conv, size_t conv_len,
                            int ok, const char *text, size_t text_len,
                            cr_time now) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* text, ok: result_check */
  if (!c)
    return rc;
  if (c->st != CR_ST_ACTION && c->st != CR_ST_BOTSTEP)
    return cr__e_fail(e, CR_ESTATE, "no action is running");
  eplan *p = plan_get(e);
  if (!p)
    return CR_ENOMEM;
  cr__e_plan_init(p, c->st, now);
  int say = cr__e_plan_say(p, text, text_len);
  if (ok) {
    rc = cr__e_plan_add(p, CR_EV_ACTION_OK, CR_REASON_NONE, c->intent,
                        c->intent_conf, say);
    if (!rc && c->st == CR_ST_ACTION) {
      p->helped = 1;
      size_t n;
      const char *t = cr__bot_text(e, &e->texts[CR_TEXT_ANYTHING_ELSE], c,
                                   &n);
      if (n && p->s[0].say < 0)
        p->s[0].say = cr__e_plan_say(p, t, n);
    }
  } else if (c->st == CR_ST_BOTSTEP) {
    rc = cr__e_plan_add(p, CR_EV_ACTION_FAIL, CR_REASON_NONE, c->intent,
                        c->intent_conf, say);
  } else {
    /* the host's words, then the bot's apology, then a human */
    rc = say >= 0 ? cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                                   say)
                  : 0;
    size_t n;
    const char *t = cr__bot_text(e, &e->texts[CR_TEXT_ACTION_FAILED], c, &n);
    if (!rc && n)
      rc = cr__e_plan_add(p, CR_EV_MESSAGE, CR_REASON_NONE, -1, 0,
                          cr__e_plan_say(p, t, n));
    if (!rc)
      rc = cr__bot_plan_handoff(e, c, CR_EV_ACTION_FAIL,
                                CR_REASON_ACTION_FAILED, c->intent,
                                c->intent_conf, p);
  }
  if (rc) {
    cr__e_plan_free(e, p);
    plan_put(e, p);
    return rc;
  }
  return run1(e, c, p);
}

static int field_result_(cr_engine *e, const char *conv, size_t conv_len,
                           int ok, cr_time now) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc);
  if (!c)
    return rc;
  eplan *p = plan_get(e);
  if (!p)
    return CR_ENOMEM;
  cr__e_plan_init(p, c->st, now);
  rc = cr__bot_plan_field_result(e, c, ok, p);
  if (rc) {
    cr__e_plan_free(e, p);
    plan_put(e, p);
    return rc;
  }
  return run1(e, c, p);
}

/* ------------------------------------------------------------------ */
/* agent inputs */

static int agent_is(const econv *c, const char *a, size_t n) {
  return c->agent && c->agent_len == n && !memcmp(c->agent, a, n);
}

static int agent_accept_(cr_engine *e, const char *conv, size_t conv_len,
                           const char *agent, size_t agent_len) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* agent id: known_agent */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_ACCEPT, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  p->rop = ROP_ACCEPT;
  p->take_agent = cr__strndup(&e->mem, agent, agent_len);
  p->take_agent_len = (uint32_t)agent_len;
  if (!p->take_agent) {
    cr__free(&e->mem, p->take_agent);
    plan_put(e, p);
    return CR_ENOMEM;
  }
  p->jagent = NULL;
  return run1(e, c, p);
}

static int agent_reject_(cr_engine *e, const char *conv, size_t conv_len,
                           const char *agent, size_t agent_len, cr_time now) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* agent id: known_agent */
  if (!c)
    return rc;
  if (c->st != CR_ST_OFFERED)
    return cr__e_fail(e, CR_ESTATE, "conversation is not offered");
  /* committed by the router's REJECT event (offer_lost) */
  e->rcalled = 1;
  rc = cr_router_reject(e->router, c->id, c->id_len, agent, agent_len, now);
  if (rc)
    router_err(e, rc);
  return rc;
}

static int agent_reply_(cr_engine *e, const char *conv, size_t conv_len,
                          const char *agent, size_t agent_len,
                          const char *text, size_t text_len) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* ids, text: reply_check */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_REPLY, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  if (!agent_is(c, agent, agent_len)) {
    plan_put(e, p);
    return cr__e_fail(e, CR_ESTATE, "not this agent's conversation");
  }
  p->cust = text;
  p->cust_len = text_len;
  p->cust_from = CR_FROM_AGENT;
  rc = cr__e_reserve_lines(e, c, p);
  if (rc) {
    plan_put(e, p);
    return rc;
  }
  cr__e_commit(e, c, p);
  if (e->cb.send)
    CALLCB(e, e->cb.send(c->id, c->id_len, c->channel, c->lang,
                         strlen(c->lang), text, text_len, e->cb.user_data));
  plan_put(e, p);
  return 0;
}

static int agent_step_(cr_engine *e, const char *conv, size_t conv_len,
                         const char *agent, size_t agent_len,
                         const char *action, size_t action_len,
                         const char *args, size_t args_len) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* ids, args: step_check */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_STEP, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  if (!agent_is(c, agent, agent_len)) {
    plan_put(e, p);
    return cr__e_fail(e, CR_ESTATE, "not this agent's conversation");
  }
  p->s[0].detail = action;
  p->s[0].detail_len = action_len;
  p->action = action;
  p->action_len = action_len;
  p->args = args;
  p->args_len = args_len;
  p->agent = c->agent;
  p->agent_len = c->agent_len;
  return run1(e, c, p);
}

static int agent_transfer_(cr_engine *e, const char *conv, size_t conv_len,
                             const char *agent, size_t agent_len,
                             const char *queue, size_t queue_len,
                             const char *to_agent, size_t to_agent_len) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* ids: transfer_check */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_TRANSFER, CR_REASON_TRANSFER, &rc);
  if (!p)
    return rc;
  if (c->st == CR_ST_AGENT && !agent_is(c, agent, agent_len)) {
    plan_put(e, p);
    return cr__e_fail(e, CR_ESTATE, "not this agent's conversation");
  }
  p->rop = ROP_TRANSFER;
  if (queue_len) {
    p->queue = cr__strndup(&e->mem, queue, queue_len);
    p->queue_len = (uint32_t)queue_len;
    if (!p->queue) {
      cr__free(&e->mem, p->queue);
      plan_put(e, p);
      return CR_ENOMEM;
    }
  }
  p->pref = to_agent_len ? to_agent : NULL;
  p->pref_len = to_agent_len;
  /* the journal names who transferred it: the agent who had it, else
   * (from the queue) the caller's agent argument */
  if (c->agent_len) {
    p->jagent = c->agent; /* kept alive as prev_agent by the commit */
    p->jagent_len = c->agent_len;
  } else if (agent && agent_len) {
    p->jagent = agent;
    p->jagent_len = agent_len;
  }
  p->s[0].detail = to_agent_len ? to_agent : queue;
  p->s[0].detail_len = to_agent_len ? to_agent_len : queue_len;
  return run1(e, c, p);
}

static int agent_close_(cr_engine *e, const char *conv, size_t conv_len,
                          const char *agent, size_t agent_len, int resolved) {
  int rc;
  econv *c = live(e, conv, conv_len, &rc); /* ids, resolved: close_check */
  if (!c)
    return rc;
  eplan *p = plan1(e, c, CR_EV_CLOSE, CR_REASON_NONE, &rc);
  if (!p)
    return rc;
  if (!agent_is(c, agent, agent_len)) {
    plan_put(e, p);
    return cr__e_fail(e, CR_ESTATE, "not this agent's conversation");
  }
  if (e->wrapup_ms == 0)
    cr__e_plan_add(p, CR_EV_WRAPUP_END, CR_REASON_NONE, -1, 0, -1);
  p->rop = ROP_END;
  p->resolved = resolved;
  return run1(e, c, p);
}

static int wrapup_done_(cr_engine *e, const char *conv, size_t conv_len) {
  return single_event(e, conv, conv_len, CR_EV_WRAPUP_END, CR_REASON_NONE);
}

/* ------------------------------------------------------------------ */
/* the public inputs: enter (re-entry, time), the checks of the arguments
 * that do not depend on the state at `now` (ids, lengths, enums, ranges,
 * and existence: timers end conversations but never make one, so an id
 * unknown before them is unknown after), then the timers due by now, then
 * the input itself on the state at now. See leave(). */

#define RUN(e, now, check, body)                                              \
  do {                                                                        \
    int rc_ = enter((e), (now));                                              \
    if (!rc_)                                                                 \
      rc_ = (check);                                                          \
    if (!rc_)                                                                 \
      rc_ = advance((e), (now));                                              \
    if (!rc_)                                                                 \
      rc_ = (body);                                                           \
    return leave((e), rc_);                                                   \
  } while (0)

/* Ends the wrap-up of c at now because its customer wrote again under its
 * id: journalled WRAPUP_END with text "new contact", recorded like the
 * timer's end (the record's wrap-up time is what ran so far; an end needs
 * no memory). Counts as a timer that ran: a later failure of the input
 * leaves it done and the clock at now (leave()). */
static int wrapup_for_new_contact(cr_engine *e, econv *c, cr_time now) {
  eplan p;
  cr__e_plan_init(&p, c->st, now);
  int rc = cr__e_plan_add(&p, CR_EV_WRAPUP_END, CR_REASON_NONE, -1, 0, -1);
  if (rc)
    return rc; /* cannot happen: WRAPUP -> CLOSED is in the table */
  static const char d[] = "new contact";
  p.s[0].detail = d;
  p.s[0].detail_len = sizeof d - 1;
  cr__e_commit(e, c, &p);
  e->t_ran = now;
  return 0;
}

static int known(cr_engine *e, const char *conv, size_t len) {
  int rc = check_id(e, conv, len, "bad conversation id");
  if (!rc && !cr__e_find(e, conv, len))
    rc = cr__e_fail(e, CR_ENOTFOUND, "unknown conversation");
  return rc;
}

static int flag_check(cr_engine *e, int v, const char *what) {
  return v == 0 || v == 1 ? 0 : cr__e_fail(e, CR_EINVAL, what);
}

static int known_agent(cr_engine *e, const char *conv, size_t len,
                       const char *agent, size_t agent_len) {
  int rc = known(e, conv, len);
  return rc ? rc : check_id(e, agent, agent_len, "bad agent id");
}

static int survey_check(cr_engine *e, const char *conv, size_t len, int csat,
                        int nps, int ces) {
  int rc = check_id(e, conv, len, "bad conversation id");
  if (rc)
    return rc;
  if (csat == CR_METRICS_NONE && nps == CR_METRICS_NONE &&
      ces == CR_METRICS_NONE)
    return cr__e_fail(e, CR_EINVAL, "survey: no answer given");
  /* the accumulator's scales (docs/metrics.md) */
  if (csat != CR_METRICS_NONE && (csat < 1 || csat > 5))
    return cr__e_fail(e, CR_ERANGE, "survey: csat outside 1..5");
  if (nps != CR_METRICS_NONE && (nps < 0 || nps > 10))
    return cr__e_fail(e, CR_ERANGE, "survey: nps outside 0..10");
  if (ces != CR_METRICS_NONE && (ces < 1 || ces > 7))
    return cr__e_fail(e, CR_ERANGE, "survey: ces outside 1..7");
  if (cr__e_find(e, conv, len))
    return 0; /* live: a timer may end it by now (a newer record) */
  const erecent *r = cr__e_recent_find(e, conv, len, 0);
  if (!r)
    return cr__e_fail(e, CR_ENOTFOUND, "conversation not remembered");
  if (r->surveyed)
    return cr__e_fail(e, CR_EEXIST, "this conversation has its survey");
  return 0;
}

static int transfer_check(cr_engine *e, const char *conv, size_t conv_len,
                          const char *agent, size_t agent_len,
                          const char *queue, size_t queue_len,
                          const char *to_agent, size_t to_agent_len) {
  int rc = known(e, conv, conv_len);
  if (rc)
    return rc;
  if (!queue_len && !to_agent_len)
    return cr__e_fail(e, CR_EINVAL, "transfer to nowhere");
  if ((agent_len && (rc = check_id(e, agent, agent_len, "bad agent id"))) ||
      (queue_len && (rc = check_id(e, queue, queue_len, "bad queue id"))) ||
      (to_agent_len &&
       (rc = check_id(e, to_agent, to_agent_len, "bad agent id"))))
    return rc;
  return 0;
}

int cr_engine_customer_message(cr_engine *e, const char *conv,
                               size_t conv_len, const char *customer,
                               size_t customer_len, int channel,
                               const char *text, size_t text_len,
                               const char *profile, size_t profile_len,
                               cr_time now) {
  RUN(e, now,
      msg_check(e, conv, conv_len, customer, customer_len, channel, text,
                text_len, profile, profile_len),
      msg_run(e, conv, conv_len, customer, customer_len, channel, text,
              text_len, profile, profile_len, now));
}

static int channel_check(cr_engine *e, const char *conv, size_t conv_len,
                         int channel) {
  int rc = known(e, conv, conv_len);
  if (!rc && (channel < 0 || channel >= CR_CHANNEL_COUNT))
    rc = cr__e_fail(e, CR_EINVAL, "unknown channel");
  return rc;
}

static int reply_check(cr_engine *e, const char *conv, size_t conv_len,
                       const char *agent, size_t agent_len, const char *text,
                       size_t text_len) {
  int rc = known_agent(e, conv, conv_len, agent, agent_len);
  return rc ? rc : check_text(e, text, text_len);
}

static int step_check(cr_engine *e, const char *conv, size_t conv_len,
                      const char *agent, size_t agent_len, const char *action,
                      size_t action_len, const char *args, size_t args_len) {
  int rc = known_agent(e, conv, conv_len, agent, agent_len);
  if (!rc)
    rc = check_id(e, action, action_len, "bad action name");
  return rc ? rc : check_text(e, args, args_len);
}

static int close_check(cr_engine *e, const char *conv, size_t conv_len,
                       const char *agent, size_t agent_len, int resolved) {
  int rc = known_agent(e, conv, conv_len, agent, agent_len);
  if (!rc && resolved != 0 && resolved != 1 && resolved != CR_METRICS_NONE)
    rc = cr__e_fail(e, CR_EINVAL, "resolved must be 0, 1 or NONE");
  return rc;
}

int cr_engine_channel_switch(cr_engine *e, const char *conv, size_t conv_len,
                             int channel, cr_time now) {
  RUN(e, now, channel_check(e, conv, conv_len, channel),
      channel_switch_(e, conv, conv_len, channel));
}

int cr_engine_abandon(cr_engine *e, const char *conv, size_t conv_len,
                      cr_time now) {
  RUN(e, now, known(e, conv, conv_len), abandon_(e, conv, conv_len));
}

int cr_engine_end(cr_engine *e, const char *conv, size_t conv_len,
                  cr_time now) {
  RUN(e, now, known(e, conv, conv_len), end_(e, conv, conv_len));
}

int cr_engine_survey(cr_engine *e, const char *conv, size_t conv_len,
                     int csat, int nps, int ces, cr_time now) {
  RUN(e, now, survey_check(e, conv, conv_len, csat, nps, ces),
      survey_(e, conv, conv_len, csat, nps, ces, now));
}

static int result_check(cr_engine *e, const char *conv, size_t conv_len,
                        int ok, const char *text, size_t text_len) {
  int rc = known(e, conv, conv_len);
  if (!rc)
    rc = check_text(e, text, text_len);
  return rc ? rc : flag_check(e, ok, "ok must be 0 or 1");
}

int cr_engine_action_result(cr_engine *e, const char *conv, size_t conv_len,
                            int ok, const char *text, size_t text_len,
                            cr_time now) {
  RUN(e, now, result_check(e, conv, conv_len, ok, text, text_len),
      action_result_(e, conv, conv_len, ok, text, text_len, now));
}

int cr_engine_field_result(cr_engine *e, const char *conv, size_t conv_len,
                           int ok, cr_time now) {
  RUN(e, now, result_check(e, conv, conv_len, ok, NULL, 0),
      field_result_(e, conv, conv_len, ok, now));
}

int cr_engine_agent_accept(cr_engine *e, const char *conv, size_t conv_len,
                           const char *agent, size_t agent_len, cr_time now) {
  RUN(e, now, known_agent(e, conv, conv_len, agent, agent_len),
      agent_accept_(e, conv, conv_len, agent, agent_len));
}

int cr_engine_agent_reject(cr_engine *e, const char *conv, size_t conv_len,
                           const char *agent, size_t agent_len, cr_time now) {
  RUN(e, now, known_agent(e, conv, conv_len, agent, agent_len),
      agent_reject_(e, conv, conv_len, agent, agent_len, now));
}

int cr_engine_agent_reply(cr_engine *e, const char *conv, size_t conv_len,
                          const char *agent, size_t agent_len,
                          const char *text, size_t text_len, cr_time now) {
  RUN(e, now,
      reply_check(e, conv, conv_len, agent, agent_len, text, text_len),
      agent_reply_(e, conv, conv_len, agent, agent_len, text, text_len));
}

int cr_engine_agent_step(cr_engine *e, const char *conv, size_t conv_len,
                         const char *agent, size_t agent_len,
                         const char *action, size_t action_len,
                         const char *args, size_t args_len, cr_time now) {
  RUN(e, now,
      step_check(e, conv, conv_len, agent, agent_len, action, action_len,
                 args, args_len),
      agent_step_(e, conv, conv_len, agent, agent_len, action, action_len,
                  args, args_len));
}

int cr_engine_agent_transfer(cr_engine *e, const char *conv, size_t conv_len,
                             const char *agent, size_t agent_len,
                             const char *queue, size_t queue_len,
                             const char *to_agent, size_t to_agent_len,
                             cr_time now) {
  RUN(e, now,
      transfer_check(e, conv, conv_len, agent, agent_len, queue, queue_len,
                     to_agent, to_agent_len),
      agent_transfer_(e, conv, conv_len, agent, agent_len, queue, queue_len,
                      to_agent, to_agent_len));
}

int cr_engine_agent_close(cr_engine *e, const char *conv, size_t conv_len,
                          const char *agent, size_t agent_len, int resolved,
                          cr_time now) {
  RUN(e, now, close_check(e, conv, conv_len, agent, agent_len, resolved),
      agent_close_(e, conv, conv_len, agent, agent_len, resolved));
}

int cr_engine_wrapup_done(cr_engine *e, const char *conv, size_t conv_len,
                          cr_time now) {
  RUN(e, now, known(e, conv, conv_len), wrapup_done_(e, conv, conv_len));
}
/* ------------------------------------------------------------------ */
/* inspection */

int cr_engine_conv_info(cr_engine *e, const char *conv, size_t conv_len,
                        cr_engine_summary *out) {
  if (!e || !out)
    return CR_EINVAL;
  int rc = check_id(e, conv, conv_len, "bad conversation id");
  if (rc)
    return rc;
  const econv *c = cr__e_find(e, conv, conv_len);
  if (!c)
    return cr__e_fail(e, CR_ENOTFOUND, "unknown conversation");
  memset(out, 0, sizeof *out);
  out->state = c->st;
  out->channel = c->channel;
  out->reason = c->reason;
  out->unclear = c->unclear;
  for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++)
    out->nfields += c->fval[i] != NULL;
  out->messages = c->messages;
  out->transfers = c->transfers;
  out->agent = c->agent;
  out->agent_len = c->agent_len;
  out->queue = c->queue;
  out->queue_len = c->queue_len;
  out->lang = c->lang;
  out->lang_len = strlen(c->lang);
  out->arrived = c->arrived;
  out->queued_at = c->queued_at;
  out->answered_at = c->answered_at;
  return 0;
}
