/* The router: skill-based queueing. The model is documented in
 * include/convroute.h (router section) and docs/router.md; the indexes in
 * router.h. Everything here is deterministic and clock-free: time comes in
 * as `now`, and deadlines run in (time, kind, sequence) order at their own
 * times, so results do not depend on how often the host ticks. */
#include "router.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PH_MEMB, PH_WAIT, PH_TIMER };
enum { TT_CONV = 0, TT_OFFER = 1, TT_AGENT = 2 };
#define TT_SHIFT 30
#define TT_MASK ((1u << TT_SHIFT) - 1)
#define RTOP_PRIO (4 * CR_ROUTER_MAX_PRIORITY)
#define RMAX_RING 64

static const char *const event_names[CR_REV_COUNT] = {
    "ENTERQUEUE",  "OFFER",       "CONNECT",         "REJECT",
    "RINGNOANSWER", "RINGCANCELED", "ABANDON",       "RESUME",
    "COMPLETE",    "TRANSFER",    "OVERFLOW",        "STEP",
    "PRIORITY",    "ESCALATE",    "MAXWAIT",         "EXITWITHTIMEOUT",
    "CHANNEL",     "AGENTLOGIN",  "AGENTLOGOFF",     "PAUSE",
    "UNPAUSE",     "WRAPUPEND",   "ADDMEMBER",       "REMOVEMEMBER",
    "QUEUEOPEN",   "QUEUECLOSE",  "EXPIRED"};

const char *cr_router_event_name(int type) {
  if (type < 0 || type >= CR_REV_COUNT)
    return NULL;
  return event_names[type];
}

/* ------------------------------------------------------------------ */
/* small helpers */

static int fail(cr_router *r, int rc, const char *what, const char *id,
                size_t len) {
  if (id && len)
    snprintf(r->err, sizeof r->err, "%s: %.*s", what,
             (int)(len > 80 ? 80 : len), id);
  else
    snprintf(r->err, sizeof r->err, "%s", what);
  return rc;
}

/* A hint to start loading a cache line now (GCC and Clang; elsewhere
 * nothing): used where two independent lookups can overlap. */
#if defined(__GNUC__)
#define RPREFETCH(p) __builtin_prefetch(p)
#else
#define RPREFETCH(p) ((void)(p))
#endif

/* Forced inline: for helpers called from a handful of places per call,
 * where a call's register saves cost about as much as the work (the id
 * probes, the id compare, conv_sched's quick test), and for the lines'
 * operations, so that each use folds its kind of node (waiting or timer)
 * into pn() and pless(). */
#if defined(__GNUC__)
#define RINLINE inline __attribute__((always_inline))
#else
#define RINLINE inline
#endif

/* The lowest set bit's index (b != 0). */
static inline unsigned ctz(unsigned b) {
#if defined(__GNUC__)
  return (unsigned)__builtin_ctz(b);
#else
  unsigned n = 0;
  for (; !(b & 1); b >>= 1)
    n++;
  return n;
#endif
}

static inline uint64_t bias64(int64_t v) {
  return (uint64_t)v ^ (1ull << 63);
}
static inline cr_time tmin(cr_time a, cr_time b) { return a < b ? a : b; }

/* UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF); NUL is refused too, ids end up in logs. */
static int utf8_ok(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  /* Ids are ASCII almost always: 8 bytes at a time while no byte has its
   * top bit set and none is 0 (the zero-byte test is exact: Mycroft's
   * haszero, Anderson's "Bit Twiddling Hacks"); the first word that fails
   * goes through the byte loop below, which decides. */
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if ((w | ((w - 0x0101010101010101u) & ~w)) & 0x8080808080808080u)
      break;
  }
  while (i < n) {
    unsigned c = p[i];
    if (c == 0)
      return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) {
      k = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (n - i <= k)
      return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

static int check_id(cr_router *r, const char *s, size_t n, const char *what) {
  if (!s || n == 0 || n > 255)
    return fail(r, CR_EINVAL, what, NULL, 0);
  if (!utf8_ok(s, n))
    return fail(r, CR_EUTF8, what, NULL, 0);
  return 0;
}

/* xorshift64* (Vigna 2016) for the random strategy. */
static uint64_t rng_next(cr_router *r) {
  uint64_t x = r->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->rng = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* An Exp(1) draw in 2^-32 units. Each member of a RANDOM queue carries the
 * time its exponential clock rings; the earliest rings first, and after a
 * pick only the winner redraws. By memorylessness every eligible member is
 * then equally likely to be next: an exact uniform choice kept in a heap. */
static uint64_t rng_exp(cr_router *r) {
  double u = ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  return (uint64_t)(-log(u) * 4294967296.0);
}

/* ------------------------------------------------------------------ */
/* pools */

static int pool_grow(cr_router *r, rpool *p, void **arr, size_t elem,
                     uint32_t need) {
  uint64_t want = (uint64_t)p->hwm + need;
  /* Geometric growth by a quarter (amortised O(1) per slot, like
   * doubling, but about 11 % slack on average instead of about 40 %: the
   * membership pool is a quarter of the memory per agent). */
  uint64_t ncap = (uint64_t)p->cap + p->cap / 4 + 16;
  if (ncap < want)
    ncap = want;
  if (ncap > TT_MASK)
    return CR_EFULL;
  void *na = cr__realloc(&r->mem, *arr, (size_t)ncap * elem);
  if (!na)
    return CR_ENOMEM;
  *arr = na;
  uint32_t *nf = cr__realloc(&r->mem, p->free, (size_t)ncap * sizeof *nf);
  if (!nf)
    return CR_ENOMEM; /* the bigger array is kept; cap is unchanged */
  p->free = nf;
  p->cap = (uint32_t)ncap;
  return 0;
}

/* Room for `need` more (0, or CR_ENOMEM / CR_EFULL with the pool
 * unchanged). Inline: there is room on almost every call. */
static inline int pool_reserve(cr_router *r, rpool *p, void **arr,
                               size_t elem, uint32_t need) {
  if (p->nfree + (p->cap - p->hwm) >= need)
    return 0;
  return pool_grow(r, p, arr, elem, need);
}

static uint32_t pool_take(rpool *p) {
  p->nused++;
  if (p->nfree)
    return p->free[--p->nfree];
  return p->hwm++;
}

static void pool_put(rpool *p, uint32_t i) {
  p->nused--;
  p->free[p->nfree++] = i;
}

/* The member pool and its cold parts grow together (pool_reserve has
 * grown mpool.cap; the new cold parts are cleared). */
int cr__router_mcold_fit(cr_router *r) {
  if (r->mcold_cap >= r->mpool.cap)
    return 0;
  rmcold *nc = cr__realloc(&r->mem, r->mcold,
                           (size_t)r->mpool.cap * sizeof *nc);
  if (!nc)
    return CR_ENOMEM;
  memset(nc + r->mcold_cap, 0,
         (size_t)(r->mpool.cap - r->mcold_cap) * sizeof *nc);
  r->mcold = nc;
  r->mcold_cap = r->mpool.cap;
  return 0;
}

int cr__router_mpool_reserve(cr_router *r, uint32_t need) {
  if (pool_reserve(r, &r->mpool, (void **)&r->members, sizeof(rmember),
                   need))
    return CR_ENOMEM;
  return cr__router_mcold_fit(r);
}

int cr__router_pool_take(cr_router *r, rpool *p, void **arr, size_t elem,
                         uint32_t *idx) {
  int rc = pool_reserve(r, p, arr, elem, 1);
  if (rc)
    return rc;
  *idx = pool_take(p);
  return 0;
}

/* ------------------------------------------------------------------ */
/* intrusive pairing heaps */

typedef struct phc {
  cr_router *r;
  uint8_t kind, ch;
} phc;

static inline rpnode *pn(const phc *c, uint32_t id) {
  cr_router *r = c->r;
  if (c->kind == PH_WAIT)
    return &r->convs[id]->wnode;
  uint32_t i = id & TT_MASK;
  switch (id >> TT_SHIFT) {
  case TT_CONV:
    return &r->convs[i]->tnode;
  case TT_OFFER:
    return &r->offers[i].tnode;
  default:
    return &r->agents[i]->tnode;
  }
}

static inline int conv_less(const rconv *x, const rconv *y) {
  if (x->eff != y->eff)
    return x->eff > y->eff;
  if (x->arrival != y->arrival)
    return x->arrival < y->arrival;
  return x->seq < y->seq;
}

static void timer_key(const cr_router *r, uint32_t id, cr_time *t,
                      uint64_t *s) {
  uint32_t i = id & TT_MASK;
  switch (id >> TT_SHIFT) {
  case TT_CONV:
    *t = r->convs[i]->tdue;
    *s = r->convs[i]->seq;
    break;
  case TT_OFFER:
    *t = r->offers[i].expires;
    *s = r->offers[i].seq;
    break;
  default:
    *t = r->agents[i]->tdue;
    *s = r->agents[i]->seq;
    break;
  }
}

static inline int pless(const phc *c, uint32_t a, uint32_t b) {
  const cr_router *r = c->r;
  if (c->kind == PH_WAIT)
    return conv_less(r->convs[a], r->convs[b]);
  cr_time ta, tb;
  uint64_t sa, sb;
  timer_key(r, a, &ta, &sa);
  timer_key(r, b, &tb, &sb);
  if (ta != tb)
    return ta < tb;
  if ((a >> TT_SHIFT) != (b >> TT_SHIFT))
    return (a >> TT_SHIFT) < (b >> TT_SHIFT);
  return sa < sb;
}

static uint32_t ph_link(const phc *c, uint32_t a, uint32_t b) {
  if (pless(c, b, a)) {
    uint32_t t = a;
    a = b;
    b = t;
  }
  rpnode *na = pn(c, a), *nb = pn(c, b);
  nb->sib = na->child;
  if (na->child != RNIL)
    pn(c, na->child)->prev = b;
  nb->prev = a;
  na->child = b;
  return a;
}

/* The standard two-pass pairing of a sibling list into one tree. */
static uint32_t ph_pairs(const phc *c, uint32_t first) {
  if (first == RNIL)
    return RNIL;
  uint32_t acc = RNIL, a = first;
  while (a != RNIL) {
    rpnode *na = pn(c, a);
    uint32_t b = na->sib, m;
    na->prev = RNIL;
    na->sib = RNIL;
    if (b == RNIL) {
      m = a;
      a = RNIL;
    } else {
      rpnode *nb = pn(c, b);
      uint32_t next = nb->sib;
      nb->prev = RNIL;
      nb->sib = RNIL;
      m = ph_link(c, a, b);
      a = next;
    }
    pn(c, m)->sib = acc;
    acc = m;
  }
  uint32_t root = acc;
  rpnode *nr = pn(c, root);
  acc = nr->sib;
  nr->sib = RNIL;
  while (acc != RNIL) {
    rpnode *n = pn(c, acc);
    uint32_t next = n->sib;
    n->sib = RNIL;
    root = ph_link(c, root, acc);
    acc = next;
  }
  pn(c, root)->prev = RNIL;
  return root;
}

static void ph_insert(const phc *c, rheap *h, uint32_t x) {
  rpnode *n = pn(c, x);
  n->child = n->sib = n->prev = RNIL;
  h->root = h->root == RNIL ? x : ph_link(c, h->root, x);
  h->n++;
}

static void ph_remove(const phc *c, rheap *h, uint32_t x) {
  rpnode *n = pn(c, x);
  uint32_t sub = ph_pairs(c, n->child);
  if (h->root == x) {
    h->root = sub;
  } else {
    uint32_t p = n->prev;
    rpnode *np = pn(c, p);
    if (np->child == x)
      np->child = n->sib;
    else
      np->sib = n->sib;
    if (n->sib != RNIL)
      pn(c, n->sib)->prev = p;
    if (sub != RNIL)
      h->root = ph_link(c, h->root, sub);
  }
  n->child = n->sib = n->prev = RNIL;
  h->n--;
}

/* A visit in key order (wl_scan): fn returns 1 to take the current
 * entry (left in place), 2 to stop, 0 to look further. */
typedef int (*scan_fn)(cr_router *r, uint32_t id, void *ctx);

static inline phc ctx_wait(cr_router *r) {
  phc c = {r, PH_WAIT, 0};
  return c;
}
static inline phc ctx_timer(cr_router *r) {
  phc c = {r, PH_TIMER, 0};
  return c;
}

/* Lines (rwline): a sorted list of the entries that came in key order
 * beside a pairing heap of the others; used for the waiting conversations
 * and for the timers. An entry at or after the list's last goes to the
 * list (O(1) in and out), any other into the heap; the front is the
 * better of the list's head and the heap's root. A list entry's node is
 * marked by child == RLISTED (an entry has no children there); sib and
 * prev link the list. */
#define RLISTED (RNIL - 1) /* never an id: ids stop below 3 << TT_SHIFT */

static inline uint32_t wl_n(const rwline *l) { return l->h.n + l->nl; }

static RINLINE uint32_t wl_front(const phc *c, const rwline *l) {
  uint32_t a = l->head, b = l->h.root;
  if (a == RNIL || b == RNIL)
    return a == RNIL ? b : a;
  return pless(c, b, a) ? b : a;
}

static RINLINE void wl_insert(const phc *c, rwline *l, uint32_t id) {
  if (l->tail != RNIL && pless(c, id, l->tail)) {
    ph_insert(c, &l->h, id);
    return;
  }
  rpnode *n = pn(c, id);
  n->child = RLISTED;
  n->sib = RNIL;
  n->prev = l->tail;
  if (l->tail != RNIL)
    pn(c, l->tail)->sib = id;
  else
    l->head = id;
  l->tail = id;
  l->nl++;
}

static RINLINE void wl_remove(const phc *c, rwline *l, uint32_t id) {
  rpnode *n = pn(c, id);
  if (n->child != RLISTED) {
    ph_remove(c, &l->h, id);
    return;
  }
  uint32_t nx = n->sib, pv = n->prev;
  if (pv != RNIL)
    pn(c, pv)->sib = nx;
  else
    l->head = nx;
  if (nx != RNIL)
    pn(c, nx)->prev = pv;
  else
    l->tail = pv;
  n->child = n->sib = n->prev = RNIL;
  l->nl--;
}

/* Visits the line in key order, the list's and the heap's entries merged:
 * the list walked, the heap's minimum popped and everything popped put
 * back afterwards. Cost O(k log n) for k visited; the heap's shape
 * changes but not its order. */
static RINLINE uint32_t wl_scan(const phc *c, rwline *l, scan_fn fn,
                                void *ctx) {
  uint32_t chain = RNIL, found = RNIL, li = l->head;
  for (;;) {
    uint32_t hx = l->h.root;
    if (li == RNIL && hx == RNIL)
      break;
    int from_list = hx == RNIL || (li != RNIL && pless(c, li, hx));
    uint32_t x = from_list ? li : hx;
    int v = fn(c->r, x, ctx);
    if (v == 1) {
      found = x;
      break;
    }
    if (v == 2)
      break;
    if (from_list) {
      li = pn(c, li)->sib;
    } else {
      ph_remove(c, &l->h, x);
      pn(c, x)->sib = chain;
      chain = x;
    }
  }
  while (chain != RNIL) {
    uint32_t next = pn(c, chain)->sib;
    ph_insert(c, &l->h, chain);
    chain = next;
  }
  return found;
}

/* ------------------------------------------------------------------ */
/* member heaps: array 4-ary heaps, positions kept in the members. An offer
 * moves the agent's longest-idle key to "now", the largest, so it sifts
 * to a leaf: four children per node halve the depth (and the position
 * write-backs, each a cache miss), and the four children of 32 bytes sit
 * in two cache lines. */
#define MH_D 4

static inline int mh_less(const mhent *x, const mhent *y) {
  if (x->k1 != y->k1)
    return x->k1 < y->k1;
  if (x->k2 != y->k2)
    return x->k2 < y->k2;
  return x->k3 < y->k3;
}

static inline void mh_put(cr_router *r, mheap *h, uint32_t i, mhent e,
                          unsigned ch) {
  h->a[i] = e;
  r->mcold[e.mi].pos[ch] = i;
}

static void mh_up(cr_router *r, mheap *h, uint32_t i, unsigned ch) {
  mhent e = h->a[i];
  while (i > 0) {
    uint32_t p = (i - 1) / MH_D;
    if (!mh_less(&e, &h->a[p]))
      break;
    mh_put(r, h, i, h->a[p], ch);
    i = p;
  }
  mh_put(r, h, i, e, ch);
}

static void mh_down(cr_router *r, mheap *h, uint32_t i, unsigned ch) {
  mhent e = h->a[i];
  for (;;) {
    uint32_t first = MH_D * i + 1, k = first;
    if (first >= h->n)
      break;
    uint32_t end = first + MH_D < h->n ? first + MH_D : h->n;
    for (uint32_t c = first + 1; c < end; c++)
      if (mh_less(&h->a[c], &h->a[k]))
        k = c;
    if (!mh_less(&h->a[k], &e))
      break;
    mh_put(r, h, i, h->a[k], ch);
    i = k;
  }
  mh_put(r, h, i, e, ch);
}

/* Capacity was reserved (nhandle), so this never allocates. */
static void mh_insert(cr_router *r, mheap *h, unsigned ch, uint32_t mi,
                      uint64_t aseq) {
  mhent e = {r->mcold[mi].k1, r->mcold[mi].k2, aseq, mi, 0};
  uint32_t i = h->n++;
  mh_put(r, h, i, e, ch);
  mh_up(r, h, i, ch);
}

static void mh_fix(cr_router *r, mheap *h, unsigned ch, uint32_t i) {
  uint32_t mi = h->a[i].mi;
  mh_down(r, h, i, ch);
  mh_up(r, h, r->mcold[mi].pos[ch], ch);
}

static void mh_remove(cr_router *r, mheap *h, unsigned ch, uint32_t mi) {
  uint32_t i = r->mcold[mi].pos[ch], last = --h->n;
  r->mcold[mi].pos[ch] = RNIL;
  if (i == last)
    return;
  mh_put(r, h, i, h->a[last], ch);
  mh_fix(r, h, ch, i);
}

static void mh_rekey(cr_router *r, mheap *h, unsigned ch, uint32_t mi) {
  uint32_t i = r->mcold[mi].pos[ch];
  h->a[i].k1 = r->mcold[mi].k1;
  h->a[i].k2 = r->mcold[mi].k2;
  mh_fix(r, h, ch, i);
}

/* Grows by a quarter, not by doubling: a queue's heaps are reserved in
 * both tiers for every member, so doubling slack (about 40 % on average)
 * was a third of the memory per agent. Growth stays geometric, so adding
 * n members still copies O(n) entries in total. */
static int mh_reserve(cr_router *r, mheap *h, uint32_t need) {
  if (h->cap >= need)
    return 0;
  uint64_t ncap = (uint64_t)h->cap + h->cap / 4 + 4;
  if (ncap < need)
    ncap = need;
  if (ncap > UINT32_MAX / sizeof *h->a)
    return CR_ENOMEM;
  mhent *na = cr__realloc(&r->mem, h->a, (size_t)ncap * sizeof *na);
  if (!na)
    return CR_ENOMEM;
  h->a = na;
  h->cap = (uint32_t)ncap;
  return 0;
}

/* Room in q's member heaps for one more member taking channels maxc. */
/* Both tiers, since a member may move between them. */
static inline int q_fifo(const rqueue *q) {
  return q->cfg.strategy == CR_STRATEGY_LONGEST_IDLE ||
         q->cfg.strategy == CR_STRATEGY_RING_ALL;
}

static int mh_reserve2(cr_router *r, rqueue *q, unsigned ch, uint32_t need) {
  if (q_fifo(q))
    return 0; /* list strategies: no heap */
  if (mh_reserve(r, &q->memb[ch], need) ||
      mh_reserve(r, &q->memb_lo[ch], need))
    return CR_ENOMEM;
  return 0;
}

static int mh_reserve_for(cr_router *r, rqueue *q, const uint32_t *maxc,
                          uint32_t extra) {
  for (unsigned ch = 0; ch < RCH; ch++)
    if (maxc[ch] && mh_reserve2(r, q, ch, q->nhandle[ch] + extra))
      return CR_ENOMEM;
  return 0;
}

static int lv_ring_reserve(cr_router *r, rqueue *q, int32_t prio,
                           const uint32_t *extra);

/* Room in q's member index for one more member of priority prio (its
 * level exists) taking channels maxc. */
static int memb_reserve(cr_router *r, rqueue *q, int32_t prio,
                        const uint32_t *maxc) {
  if (!q_fifo(q))
    return mh_reserve_for(r, q, maxc, 1);
  uint32_t extra[RCH];
  for (unsigned ch = 0; ch < RCH; ch++)
    extra[ch] = maxc[ch] ? 1 : 0;
  return lv_ring_reserve(r, q, prio, extra);
}

static inline mheap *mheap_of(rqueue *q, const rmember *m, unsigned ch) {
  return m->qual ? &q->memb[ch] : &q->memb_lo[ch];
}

/* ------------------------------------------------------------------ */
/* member lists (longest idle, ring-all): see rlevel in router.h */

static uint32_t lv_find(const rqueue *q, int32_t prio) {
  uint32_t lo = 0, hi = q->nlv;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (q->lv[mid].prio == prio)
      return mid;
    if (q->lv[mid].prio < prio)
      lo = mid + 1;
    else
      hi = mid;
  }
  return RNIL;
}

/* A level for prio exists afterwards (0 or CR_ENOMEM, q unchanged). */
static int lv_reserve(cr_router *r, rqueue *q, int32_t prio) {
  if (lv_find(q, prio) != RNIL)
    return 0;
  size_t cap = q->lvcap;
  if (cr__grow(&r->mem, (void **)&q->lv, &cap, q->nlv + 1, sizeof *q->lv))
    return CR_ENOMEM;
  q->lvcap = (uint32_t)cap;
  uint32_t at = 0;
  while (at < q->nlv && q->lv[at].prio < prio)
    at++;
  memmove(&q->lv[at + 1], &q->lv[at], (q->nlv - at) * sizeof *q->lv);
  rlevel *l = &q->lv[at];
  memset(l, 0, sizeof *l);
  l->prio = prio;
  q->nlv++;
  return 0;
}

static void lv_free(cr_router *r, rlevel *l) {
  for (unsigned t = 0; t < 2; t++)
    for (unsigned ch = 0; ch < RCH; ch++)
      cr__free(&r->mem, l->ring[t][ch].a);
}

/* Drops the level of prio once no member has it (level 0 stays). */
static void lv_release(cr_router *r, rqueue *q, int32_t prio) {
  uint32_t li = lv_find(q, prio);
  if (li == RNIL || --q->lv[li].nmemb || prio == 0)
    return;
  lv_free(r, &q->lv[li]);
  memmove(&q->lv[li], &q->lv[li + 1], (q->nlv - li - 1) * sizeof *q->lv);
  q->nlv--;
}

/* The level's member counts per channel (nh), for a member of an agent
 * taking channels maxc, sign +1 or -1. */
static void lv_count(rqueue *q, int32_t prio, const uint32_t *maxc,
                     int sign) {
  rlevel *l = &q->lv[lv_find(q, prio)];
  for (unsigned ch = 0; ch < RCH; ch++)
    if (maxc[ch])
      l->nh[ch] += sign > 0 ? 1u : (uint32_t)-1;
}

/* Room for `need` members in a ring: at least a quarter more and 8, so a
 * full ring compacts to at most four fifths (and small rings, of a
 * handful of members, do not compact every few appends). It grows to half
 * more and 16, so adding members one by one copies O(n) in all. The ring
 * is unchanged on failure. */
static int ring_reserve(cr_router *r, rring *g, uint32_t need) {
  if (g->cap >= (uint64_t)need + need / 4 + 8)
    return 0;
  uint64_t want = (uint64_t)need + need / 2 + 16;
  if (want > UINT32_MAX / sizeof *g->a)
    return CR_ENOMEM;
  rent *na = cr__malloc(&r->mem, (size_t)want * sizeof *na);
  if (!na)
    return CR_ENOMEM;
  for (uint32_t k = 0; k < g->n; k++) {
    uint32_t i = g->head + k;
    na[k] = g->a[i >= g->cap ? i - g->cap : i];
  }
  cr__free(&r->mem, g->a);
  g->a = na;
  g->cap = (uint32_t)want;
  g->head = 0;
  return 0;
}

/* Tiers whose rings are reserved: a member may change tier, but in a queue
 * with auto_members every member meets the queue's requirement (one that
 * stops meeting it stops being a member first), so the lower tier stays
 * empty there. A queue that turns auto_members off reserves it then
 * (cr_router_queue_update). */
static unsigned lv_tiers(const rqueue *q) {
  return q->cfg.auto_members ? 1u : 2u;
}

/* Rings of level prio for its members and extra[ch] more on each channel
 * (extra may be NULL). */
static int lv_ring_reserve(cr_router *r, rqueue *q, int32_t prio,
                           const uint32_t *extra) {
  rlevel *l = &q->lv[lv_find(q, prio)];
  for (unsigned ch = 0; ch < RCH; ch++) {
    uint32_t need = l->nh[ch] + (extra ? extra[ch] : 0);
    for (unsigned t = 2 - lv_tiers(q); need && t < 2; t++)
      if (ring_reserve(r, &l->ring[t][ch], need))
        return CR_ENOMEM;
  }
  return 0;
}

/* Starts loading an agent's first two 64-byte parts (identity and
 * status; load, capacity and lists: what an offer or an ending reads), up
 * to three cache lines at the allocator's 16-byte alignment. */
static inline void agent_prefetch(const ragent *a) {
  RPREFETCH(a);
  RPREFETCH((const char *)a + 64);
  RPREFETCH((const char *)a + 127);
}

/* Starts loading an agent's memberships, which agent_reindex then walks
 * one after another: the first, and the two just below it in the pool,
 * where the others are when they were made together (an agent's queues at
 * its creation, auto members: member_add puts the newest first); the
 * three are 96 bytes. A guess that costs nothing when wrong: only a
 * hint. */
static inline void memb_prefetch(const cr_router *r, const ragent *a) {
  uint32_t mi = a->mhead;
  if (mi == RNIL)
    return;
  const char *p = (const char *)&r->members[mi];
  RPREFETCH(p);
  RPREFETCH(p + sizeof(rmember) - 1);
  if (mi >= 2)
    RPREFETCH(p - 2 * sizeof(rmember));
}

static inline int ent_live(const cr_router *r, const rent *e) {
  return r->members[e->mi].stamp == e->stamp;
}

static inline rent *ring_at(rring *g, uint32_t k) {
  uint32_t i = g->head + k;
  return &g->a[i >= g->cap ? i - g->cap : i];
}

/* Drops the stale entries, keeping the order of the rest. */
static void ring_compact(cr_router *r, rring *g) {
  uint32_t w = 0;
  for (uint32_t k = 0; k < g->n; k++) {
    rent e = *ring_at(g, k);
    if (ent_live(r, &e))
      *ring_at(g, w++) = e;
  }
  g->n = w;
}

static void ring_push(cr_router *r, rring *g, uint64_t stamp, uint32_t mi,
                      uint32_t agent) {
  if (g->n == g->cap)
    ring_compact(r, g);
  if (g->n == g->cap)
    return; /* not reached: capacity is reserved (cr__router_check) */
  rent *e = ring_at(g, g->n++);
  e->stamp = stamp;
  e->mi = mi;
  e->agent = agent;
}

/* Member m (index mi, its stamp fresh) to the back of its lines: one for
 * each channel in m->inmask. */
static void fl_enter(cr_router *r, rqueue *q, rmember *m, uint32_t mi) {
  rlevel *l = &q->lv[lv_find(q, m->prio)];
  for (unsigned ch = 0; ch < RCH; ch++)
    if (m->inmask & (1u << ch)) {
      ring_push(r, &l->ring[m->qual][ch], m->stamp, mi, m->agent);
      q->fn[m->qual][ch]++;
    }
}

/* Member m (index mi) from lines m->inmask to the back of lines want:
 * fl_leave, then (want not 0) a fresh stamp and fl_enter. */
static void fl_move(cr_router *r, rqueue *q, rmember *m, uint32_t mi,
                    unsigned want) {
  unsigned out = m->inmask & ~want, in = want & ~m->inmask;
  for (unsigned ch = 0; out | in; ch++, out >>= 1, in >>= 1) {
    if (out & 1)
      q->fn[m->qual][ch]--;
    if (in & 1)
      q->fn[m->qual][ch]++;
  }
  if (!want) {
    m->stamp = 0;
    return;
  }
  m->stamp = ++r->seq;
  rlevel *l = &q->lv[lv_find(q, m->prio)];
  for (unsigned ch = 0; want; ch++, want >>= 1)
    if (want & 1)
      ring_push(r, &l->ring[m->qual][ch], m->stamp, mi, m->agent);
}

/* Out of every line: its entries go stale. */
static void fl_leave(rqueue *q, rmember *m) {
  for (unsigned ch = 0; ch < RCH; ch++)
    if (m->inmask & (1u << ch))
      q->fn[m->qual][ch]--;
  m->stamp = 0;
}

/* Out of every member heap or line of its queue (inmask 0). */
static void member_detach(cr_router *r, uint32_t mi) {
  rmember *m = &r->members[mi];
  rqueue *q = r->queues[m->queue];
  if (q_fifo(q))
    fl_leave(q, m);
  else
    for (unsigned ch = 0; ch < RCH; ch++)
      if (m->inmask & (1u << ch))
        mh_remove(r, mheap_of(q, m, ch), ch, mi);
  m->inmask = 0;
}

/* Members that could take one more conversation of ch now (qualified
 * tier): for the estimated wait. */
static uint32_t memb_avail(const rqueue *q, unsigned ch) {
  return q_fifo(q) ? q->fn[1][ch] : q->memb[ch].n;
}

/* ------------------------------------------------------------------ */
/* events */

/* The callback of its own an event type has, besides the general one. */
static cr_router_event_cb special_cb(const cr_router_callbacks *cb,
                                     int type) {
  switch (type) {
  case CR_REV_OFFER:
    return cb->offer;
  case CR_REV_RINGCANCELED:
    return cb->offer_cancelled;
  case CR_REV_CONNECT:
    return cb->assigned;
  case CR_REV_ESCALATE:
  case CR_REV_MAXWAIT:
  case CR_REV_EXITWITHTIMEOUT:
    return cb->escalation;
  default:
    return NULL;
  }
}

/* Bit t set: an event of type t has a taker (r->ev_take). */
_Static_assert(CR_REV_COUNT <= 32, "event types fit r->ev_take");
static uint32_t takers(const cr_router_callbacks *cb) {
  uint32_t m = 0;
  for (int t = 0; t < CR_REV_COUNT; t++)
    if (cb->event || special_cb(cb, t))
      m |= 1u << t;
  return m;
}

static void emit_to(cr_router *r, int type, cr_time t, const rconv *c,
                    const ragent *a, const rqueue *q, int ch, int64_t d1,
                    int64_t d2, const char *text, size_t text_len) {
  cr_router_event_cb special = special_cb(&r->cb, type);
  cr_router_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.time = t;
  if (c) {
    ev.conv = c->id;
    ev.conv_len = c->id_len;
  }
  if (a) {
    ev.agent = a->id;
    ev.agent_len = a->id_len;
  }
  if (q) {
    ev.queue = q->id;
    ev.queue_len = q->id_len;
  }
  ev.channel = ch;
  ev.data1 = d1;
  ev.data2 = d2;
  ev.text = text;
  ev.text_len = text_len;
  r->in_cb++;
  if (special)
    special(&ev, r->cb.user_data);
  if (r->cb.event)
    r->cb.event(&ev, r->cb.user_data);
  r->in_cb--;
}

/* Most events have no taker but the general callback: without one, no
 * call at all (four events per conversation); a bit test, not a compare
 * with each type that has a callback of its own. */
static inline void emit(cr_router *r, int type, cr_time t, const rconv *c,
                        const ragent *a, const rqueue *q, int ch, int64_t d1,
                        int64_t d2, const char *text, size_t text_len) {
  if (!(r->ev_take >> type & 1u))
    return;
  emit_to(r, type, t, c, a, q, ch, d1, d2, text, text_len);
}

void cr__router_hold(cr_router *r, int delta) {
  if (r)
    r->in_cb += delta;
}

/* ------------------------------------------------------------------ */
/* agents: capacity and strategy keys */

static inline int fits(const ragent *a, unsigned ch) {
  return a->load[ch] < a->maxc[ch] &&
         (!a->total || a->cost_used + a->cost[ch] <= a->total);
}

/* The channels the agent could take one more conversation of (its
 * status aside): only those it takes at all are looked at. */
static inline unsigned fit_mask(const ragent *a) {
  unsigned m = 0;
  for (unsigned b = a->chmask; b; b &= b - 1) {
    unsigned ch = ctz(b);
    if (fits(a, ch))
      m |= 1u << ch;
  }
  return m;
}

static inline int can_take(const ragent *a, unsigned ch) {
  return a->status == CR_AGENT_AVAILABLE && fits(a, ch);
}

static void hold(ragent *a, unsigned ch) {
  a->load[ch]++;
  a->cost_used += a->total ? a->cost[ch] : 0;
}
static void unhold(ragent *a, unsigned ch) {
  a->load[ch]--;
  a->cost_used -= a->total ? a->cost[ch] : 0;
}

/* Concurrent slots an agent offers on a channel: its channel maximum, cut
 * by how many of that channel's cost fit in its total. */
static uint32_t slots(const ragent *a, unsigned ch) {
  uint32_t s = a->maxc[ch];
  if (a->total && a->cost[ch]) {
    uint32_t byc = a->total / a->cost[ch];
    if (byc < s)
      s = byc;
  }
  return s;
}

static uint32_t occ_permille(const ragent *a) {
  if (a->total)
    return (uint32_t)((uint64_t)a->cost_used * 1000 / a->total);
  uint64_t used = 0, max = 0;
  for (unsigned ch = 0; ch < RCH; ch++) {
    used += a->load[ch];
    max += a->maxc[ch];
  }
  return max ? (uint32_t)(used * 1000 / max) : 1000;
}

static int skill_level(const ragent *a, uint16_t id) {
  size_t lo = 0, hi = a->nskills;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (a->skills[mid].id == id)
      return a->skills[mid].level;
    if (a->skills[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

static int agent_meets(const ragent *a, const rskill *req, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (skill_level(a, req[i].id) < req[i].level)
      return 0;
  return 1;
}

static void member_key(const ragent *a, const rmember *m, const rmcold *mc,
                       const rqueue *q, uint64_t *k1, uint64_t *k2) {
  uint64_t hi = (uint64_t)((int64_t)m->prio + 2147483648LL) << 32;
  uint64_t idle = bias64(a->idle_since);
  switch (q->cfg.strategy) {
  case CR_STRATEGY_LEAST_OCCUPIED:
    *k1 = hi | occ_permille(a);
    *k2 = idle;
    break;
  case CR_STRATEGY_FEWEST_CONTACTS:
    *k1 = hi | (a->contacts > UINT32_MAX ? UINT32_MAX : a->contacts);
    *k2 = idle;
    break;
  case CR_STRATEGY_LEAST_TALK_TIME:
    *k1 = hi;
    *k2 = bias64(a->talk_ms);
    break;
  case CR_STRATEGY_MOST_PROFICIENT:
    *k1 = hi | (uint32_t)(5 - (q->nskills ? skill_level(a, q->skills[0].id)
                                          : 0));
    *k2 = idle;
    break;
  case CR_STRATEGY_ROUND_ROBIN:
    *k1 = hi;
    *k2 = mc->rr;
    break;
  case CR_STRATEGY_RANDOM:
    *k1 = hi;
    *k2 = mc->rnd;
    break;
  default: /* LONGEST_IDLE, RING_ALL: the lists' order */
    *k1 = hi;
    *k2 = m->stamp;
    break;
  }
}

/* Puts each membership of the agent in exactly the (queue, channel) heaps
 * where it could take one more conversation now, under its current key. */
static void agent_reindex(cr_router *r, ragent *a) {
  int avail = a->status == CR_AGENT_AVAILABLE;
  uint8_t want = avail ? (uint8_t)fit_mask(a) : 0;
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
    rmember *m = &r->members[mi];
    if (m->next_a != RNIL) /* the next one loads while this one is done */
      RPREFETCH(&r->members[m->next_a]);
    rqueue *q = r->queues[m->queue];
    int fifo = q_fifo(q);
    if (q->cfg.strategy == CR_STRATEGY_RANDOM && !m->inmask && want &&
        r->mcold[mi].rnd < q->rnd_clock)
      r->mcold[mi].rnd = q->rnd_clock + rng_exp(r);
    uint8_t qual =
        a->requal ? (uint8_t)agent_meets(a, q->skills, q->nskills) : m->qual;
    if (qual != m->qual) { /* changes tier: out of the old one first */
      member_detach(r, mi);
      m->qual = qual;
    }
    if (fifo) {
      /* A line only grows at its back: a member whose workload or status
       * changed, or whose set of lines changes, goes to the back of all
       * of them with a fresh stamp (its old entries go stale). As
       * fl_leave then fl_enter, without counting out and back in the
       * lines it stays in. */
      if (a->touched || want != m->inmask) {
        fl_move(r, q, m, mi, want);
        m->inmask = want;
      }
      continue; /* its key is (priority, stamp): see held_key */
    }
    rmcold *mc = &r->mcold[mi];
    uint64_t k1, k2;
    member_key(a, m, mc, q, &k1, &k2);
    int moved = k1 != mc->k1 || k2 != mc->k2;
    mc->k1 = k1;
    mc->k2 = k2;
    uint8_t all = m->inmask | want;
    for (unsigned ch = 0; all && ch < RCH; ch++) {
      uint8_t bit = (uint8_t)(1u << ch);
      if (!(all & bit))
        continue;
      if ((m->inmask & bit) && !(want & bit)) {
        mh_remove(r, mheap_of(q, m, ch), ch, mi);
        m->inmask &= (uint8_t)~bit;
      } else if (m->inmask & bit) {
        if (moved)
          mh_rekey(r, mheap_of(q, m, ch), ch, mi);
      } else {
        mh_insert(r, mheap_of(q, m, ch), ch, mi, a->seq);
        m->inmask |= bit;
      }
    }
  }
  a->requal = 0;
  a->touched = 0;
}

/* The agent's workload or status changed at t: idle from now (the
 * strategies' "idle" key), and to the back of every longest-idle list at
 * the next agent_reindex. */
static void agent_touch(ragent *a, cr_time t) {
  a->idle_since = t;
  a->touched = 1;
}

static void member_staff(cr_router *r, const ragent *a, const rmember *m,
                         int sign) {
  rqueue *q = r->queues[m->queue];
  for (unsigned ch = 0; ch < RCH; ch++) {
    uint32_t s = slots(a, ch);
    if (sign > 0)
      q->staffed[ch] += s;
    else
      q->staffed[ch] -= s;
  }
}

static void agent_staff(cr_router *r, const ragent *a, int sign) {
  if (a->status != CR_AGENT_AVAILABLE)
    return;
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a)
    member_staff(r, a, &r->members[mi], sign);
}

/* ------------------------------------------------------------------ */
/* timers */

static uint32_t tl_front(cr_router *r) {
  phc c = ctx_timer(r);
  return wl_front(&c, &r->timers);
}

static void tl_remove(cr_router *r, uint32_t id) {
  phc c = ctx_timer(r);
  wl_remove(&c, &r->timers, id);
}

/* After the timers changed: the front's time, kept in r->tnext. */
static void timers_note(cr_router *r) {
  r->tnext = CR_TIME_NEVER;
  uint32_t id = tl_front(r);
  if (id != RNIL) {
    uint64_t s;
    timer_key(r, id, &r->tnext, &s);
  }
}

static void timer_set(cr_router *r, uint32_t id, cr_time *slot, cr_time t) {
  if (*slot == t)
    return;
  phc c = ctx_timer(r);
  if (*slot != CR_TIME_NEVER)
    wl_remove(&c, &r->timers, id);
  *slot = t;
  if (t != CR_TIME_NEVER)
    wl_insert(&c, &r->timers, id);
  timers_note(r);
}

static void agent_sched(cr_router *r, ragent *a) {
  cr_time t = CR_TIME_NEVER;
  for (uint32_t i = 0; i < a->nwrap; i++)
    t = tmin(t, a->wraps[i].until);
  timer_set(r, ((uint32_t)TT_AGENT << TT_SHIFT) | a->idx, &a->tdue, t);
}

static cr_time q_threshold(const rqueue *q, unsigned ch) {
  return q->cfg.sl_threshold_ms[ch];
}

static int conv_step_expires(const rconv *c, cr_time *at) {
  if (!c->nsteps || c->step + 1 >= c->nsteps)
    return 0;
  cr_time e = c->steps[c->step].expire;
  if (e <= 0)
    return 0;
  *at = c->step_start + e;
  return 1;
}

static cr_time conv_next(const cr_router *r, const rconv *c) {
  if (c->state == CR_CONV_ABANDONED)
    return c->state_at + r->cfg.reentry_grace_ms;
  if (c->state == CR_CONV_ASSIGNED)
    return CR_TIME_NEVER;
  const rqueue *q = r->queues[c->queue];
  cr_time t = CR_TIME_NEVER, mw = q->cfg.max_wait_ms;
  if (mw > 0) {
    if (!(c->flags & RC_ESCALATED) && q->cfg.escalate_before_ms > 0)
      t = tmin(t, c->arrival + mw - q->cfg.escalate_before_ms);
    if (!(c->flags & RC_MAXWAITED))
      t = tmin(t, c->arrival + mw);
  }
  if (!(c->flags & RC_URGENT) && q->cfg.urgency_percent > 0)
    t = tmin(t, c->arrival + q_threshold(q, c->channel) *
                                 q->cfg.urgency_percent / 100);
  if (c->state == CR_CONV_WAITING) {
    cr_time at;
    if (conv_step_expires(c, &at))
      t = tmin(t, at);
    if (q->overflow != RNIL && q->cfg.overflow_after_ms > 0)
      t = tmin(t, c->qenter + q->cfg.overflow_after_ms);
    t = tmin(t, c->wake);
  }
  return t;
}

/* Whether conv_next(c) is certainly CR_TIME_NEVER, told from a few flags:
 * a live conversation, or one in a queue with no timed rule (no maximum
 * wait, urgency or overflow delay), no steps and no retry pending. Only
 * ever "yes" when conv_next agrees (cr__router_check compares every
 * conversation's timer with conv_next). */
static RINLINE int conv_untimed(const cr_router *r, const rconv *c) {
  if (c->state == CR_CONV_ASSIGNED)
    return 1;
  if (c->state == CR_CONV_ABANDONED || c->nsteps || c->wake != CR_TIME_NEVER)
    return 0;
  const rqueue *q = r->queues[c->queue];
  return q->cfg.max_wait_ms <= 0 && q->cfg.urgency_percent <= 0 &&
         !(q->overflow != RNIL && q->cfg.overflow_after_ms > 0);
}

static void conv_resched(cr_router *r, rconv *c) {
  timer_set(r, ((uint32_t)TT_CONV << TT_SHIFT) | c->idx, &c->tdue,
            conv_next(r, c));
}

/* c's deadline after a change: nothing to do in the common case of none
 * before and none now (an offer, an accept: twice per conversation). */
static RINLINE void conv_sched(cr_router *r, rconv *c) {
  if (c->tdue == CR_TIME_NEVER && conv_untimed(r, c))
    return;
  conv_resched(r, c);
}

/* ------------------------------------------------------------------ */
/* conversations: ordering and requirements */

static int32_t conv_eff_calc(const cr_router *r, const rconv *c) {
  const rqueue *q = r->queues[c->queue];
  if ((c->flags & RC_MAXWAITED) && q->cfg.max_wait_action == CR_MAXWAIT_REPORT)
    return RTOP_PRIO + c->prio;
  int32_t e = c->prio;
  if (c->flags & RC_URGENT)
    e += q->cfg.urgency_boost;
  if (c->flags & RC_ESCALATED)
    e += q->cfg.escalate_boost;
  return e;
}

/* On its own requirement (skills or a named agent) rather than the
 * queue's default: goes to the custom tier. */
static int conv_custom(const rconv *c) {
  if (!c->nsteps)
    return 0;
  const rstep *s = &c->steps[c->step];
  return s->kind == CR_STEP_AGENT ? c->sticky != RNIL : s->nsk > 0;
}

static rwline *wait_line(rqueue *q, const rconv *c) {
  return c->wheap ? &q->waitc[c->channel] : &q->wait[c->channel];
}

static void wait_insert(cr_router *r, rconv *c) {
  phc w = ctx_wait(r);
  c->wheap = (uint8_t)conv_custom(c);
  c->inwait = 1;
  wl_insert(&w, wait_line(r->queues[c->queue], c), c->idx);
}

static void wait_remove(cr_router *r, rconv *c) {
  phc w = ctx_wait(r);
  wl_remove(&w, wait_line(r->queues[c->queue], c), c->idx);
  c->inwait = 0;
}

/* The waiting conversations of line l in key order (wl_scan), in a
 * function of its own: inlined into route_agent's walk it cost more
 * there than it saved. */
static uint32_t wait_scan(cr_router *r, rwline *l, scan_fn fn, void *ctx) {
  phc w = ctx_wait(r);
  return wl_scan(&w, l, fn, ctx);
}

/* After the requirement changed: the right tier. */
static void conv_reseat(cr_router *r, rconv *c) {
  if (c->inwait && (uint8_t)conv_custom(c) != c->wheap) {
    wait_remove(r, c);
    wait_insert(r, c);
  }
}

/* Recomputes the effective priority; returns 1 if it changed. A waiting
 * conversation is re-seated by its new key (same arrival: same place among
 * equals). */
static int conv_reprio(cr_router *r, rconv *c) {
  int32_t e = conv_eff_calc(r, c);
  if (e == c->eff)
    return 0;
  if (c->inwait) {
    wait_remove(r, c);
    c->eff = e;
    wait_insert(r, c);
  } else {
    c->eff = e;
  }
  return 1;
}

static const rskill *conv_req(const cr_router *r, const rconv *c,
                              unsigned *n) {
  if (c->nsteps) {
    const rstep *s = &c->steps[c->step];
    if (s->kind != CR_STEP_AGENT && s->nsk) {
      *n = s->nsk;
      return s->sk;
    }
  }
  const rqueue *q = r->queues[c->queue];
  *n = q->nskills;
  return q->skills;
}

static int conv_is_sticky(const rconv *c) { return c->sticky != RNIL; }

static int declined(const rconv *c, const ragent *a, cr_time t,
                    cr_time *wake) {
  for (int i = 0; i < c->ndecl; i++)
    if (c->decl[i].agent_seq == a->seq && c->decl[i].until > t) {
      *wake = tmin(*wake, c->decl[i].until);
      return 1;
    }
  return 0;
}

/* A decline slot's end; slots at or past ndecl count as unused (0). */
static cr_time decl_until(const rconv *c, int i) {
  return i < c->ndecl ? c->decl[i].until : 0;
}

static void add_decl(cr_router *r, rconv *c, const ragent *a, cr_time t) {
  if (r->cfg.decline_block_ms <= 0)
    return;
  int slot = 0;
  for (int i = 0; i < RDECL; i++) {
    if (i < c->ndecl && c->decl[i].agent_seq == a->seq) {
      slot = i;
      break;
    }
    if (decl_until(c, i) < decl_until(c, slot))
      slot = i;
  }
  c->decl[slot].agent_seq = a->seq;
  c->decl[slot].until = t + r->cfg.decline_block_ms;
  if (c->ndecl <= slot)
    c->ndecl = (uint8_t)(slot + 1);
}

static void sticky_unlink(cr_router *r, rconv *c) {
  if (c->sticky == RNIL)
    return;
  ragent *a = r->agents[c->sticky];
  if (c->sticky_prev != RNIL)
    r->convs[c->sticky_prev]->sticky_next = c->sticky_next;
  else
    a->sticky_head = c->sticky_next;
  if (c->sticky_next != RNIL)
    r->convs[c->sticky_next]->sticky_prev = c->sticky_prev;
  c->sticky = c->sticky_next = c->sticky_prev = RNIL;
  conv_reseat(r, c);
}

static void sticky_link(cr_router *r, rconv *c, ragent *a) {
  c->sticky = a->idx;
  c->sticky_prev = RNIL;
  c->sticky_next = a->sticky_head;
  if (a->sticky_head != RNIL)
    r->convs[a->sticky_head]->sticky_prev = c->idx;
  a->sticky_head = c->idx;
  conv_reseat(r, c);
}

/* ------------------------------------------------------------------ */
/* queue moves and routing steps */

/* ------------------------------------------------------------------ */
/* id index (see ridx in router.h) */

/* 64-bit multiply-xorshift over 8-byte words, finished with the MurmurHash3
 * fmix64 avalanche (Appleby): every input bit reaches the top 32 bits. */
/* The last n < 8 bytes of s (of length len) as a little-endian word, zero
 * above: what a byte loop would build, in two or three loads and no loop.
 * After full words (len >= 8) the last full word is reloaded, overlapping
 * the one before, and shifted; a shorter id is two overlapping 4-byte
 * loads, or its first, middle and last byte (bytes loaded twice land on
 * the same bits, so OR-ing them changes nothing). */
static RINLINE uint64_t tail_word(const char *s, size_t len, size_t n) {
  uint64_t w;
  if (!n)
    return 0;
  if (len >= 8) {
    memcpy(&w, s + len - 8, 8);
    return w >> (8 * (8 - n));
  }
  if (len >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, s, 4);
    memcpy(&hi, s + len - 4, 4);
    return (uint64_t)lo | (uint64_t)hi << (8 * (len - 4));
  }
  const unsigned char *p = (const unsigned char *)s;
  return (uint64_t)p[0] | (uint64_t)p[len / 2] << (8 * (len / 2)) |
         (uint64_t)p[len - 1] << (8 * (len - 1));
}

static inline uint32_t ridx_hash(const char *id, size_t len) {
  uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, id + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9u;
    h ^= h >> 31;
  }
  uint64_t w = tail_word(id, len, len - i);
  h = (h ^ w) * 0x94D049BB133111EBu;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDu;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53u;
  h ^= h >> 33;
  return (uint32_t)h;
}

uint32_t cr__ridx_hash(const char *id, size_t len) {
  return ridx_hash(id, len);
}

void cr__ridx_put(ridx *x, uint32_t h, uint32_t idx, void *obj) {
  uint32_t i = h & x->mask;
  while (x->s[i].k)
    i = (i + 1) & x->mask;
  x->s[i].k = ((uint64_t)h << 32) | ((uint64_t)idx + 1);
  x->s[i].p = obj;
  x->n++;
}

/* Room for `more` further entries at load <= 1/2; the table is unchanged
 * on failure. */
int cr__ridx_reserve(cr_router *r, ridx *x, uint32_t more) {
  uint64_t need = ((uint64_t)x->n + more) * 2;
  uint64_t slots = x->s ? (uint64_t)x->mask + 1 : 0;
  if (need <= slots)
    return 0;
  uint64_t ns = slots ? slots : 16;
  while (ns < need)
    ns *= 2;
  if (ns > ((uint64_t)1 << 32))
    return CR_ENOMEM;
  rslot *na = cr__calloc(&r->mem, (size_t)ns, sizeof *na);
  if (!na)
    return CR_ENOMEM;
  ridx nx = {na, (uint32_t)(ns - 1), 0};
  for (uint64_t i = 0; i < slots; i++)
    if (x->s[i].k)
      cr__ridx_put(&nx, (uint32_t)(x->s[i].k >> 32),
                   (uint32_t)(x->s[i].k & 0xffffffffu) - 1, x->s[i].p);
  cr__free(&r->mem, x->s);
  *x = nx;
  return 0;
}

/* Backward-shift deletion: no tombstones, so probes stay short. */
static void ridx_del(ridx *x, uint32_t h, uint32_t idx) {
  uint64_t v = ((uint64_t)h << 32) | ((uint64_t)idx + 1);
  uint32_t i = h & x->mask;
  while (x->s[i].k != v)
    i = (i + 1) & x->mask;
  for (;;) {
    x->s[i].k = 0;
    x->s[i].p = NULL;
    uint32_t j = i;
    for (;;) {
      j = (j + 1) & x->mask;
      if (!x->s[j].k) {
        x->n--;
        return;
      }
      uint32_t home = (uint32_t)(x->s[j].k >> 32) & x->mask;
      /* move s[j] to the hole i unless its home lies cyclically in (i, j] */
      if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
        continue;
      x->s[i] = x->s[j];
      i = j;
      break;
    }
  }
}

/* Ids are short: 8-byte words inline, not a call to memcmp. */
static RINLINE int id_eq(const char *a, const char *b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y)
      return 0;
  }
  return tail_word(a, n, n - i) == tail_word(b, n, n - i);
}

/* The object with this id (hash h), or NULL: the slot holds the object's
 * address, so a hit costs the slot and the object, nothing between. */
#define RIDX_FIND(x, type, h, id, len, pre)                                 \
  do {                                                                      \
    if (!(x)->s)                                                            \
      return NULL;                                                          \
    uint32_t i_ = (h) & (x)->mask;                                          \
    for (; (x)->s[i_].k; i_ = (i_ + 1) & (x)->mask) {                       \
      const type *o_ = (x)->s[i_].p;                                        \
      if (pre && (uint32_t)((x)->s[i_].k >> 32) == (h))                     \
        conv_prefetch(o_);                                                  \
      if ((uint32_t)((x)->s[i_].k >> 32) == (h) && o_->id_len == len &&     \
          id_eq(o_->id, id, len))                                           \
        return (type *)o_;                                                  \
    }                                                                       \
    return NULL;                                                            \
  } while (0)

/* A conversation's first two 64-byte parts, what a lookup and an ending
 * read: two cache lines for a pooled one (RCONV_SLAB), up to three for one
 * with a long id (malloc aligns to 16 bytes). They start loading together,
 * before the id is compared, instead of one after another. */
static inline void conv_prefetch(const void *c) {
  RPREFETCH((const char *)c + 64);
  RPREFETCH((const char *)c + 127);
}

static RINLINE ragent *agent_find_h(cr_router *r, uint32_t h, const char *id,
                                    size_t len) {
  RIDX_FIND(&r->aidx, ragent, h, id, len, 0);
}
static RINLINE rconv *conv_find_h(cr_router *r, uint32_t h, const char *id,
                                  size_t len) {
  RIDX_FIND(&r->cidx, rconv, h, id, len, 1);
}
ragent *cr__agent_find(cr_router *r, const char *id, size_t len) {
  return agent_find_h(r, ridx_hash(id, len), id, len);
}
rconv *cr__conv_find(cr_router *r, const char *id, size_t len) {
  return conv_find_h(r, ridx_hash(id, len), id, len);
}
#define agent_find cr__agent_find
#define conv_find cr__conv_find

static rqueue *queue_find_h(cr_router *r, uint32_t h, const char *id,
                            size_t len) {
  RIDX_FIND(&r->qidx, rqueue, h, id, len, 0);
}
static rqueue *queue_find(cr_router *r, const char *id, size_t len) {
  if (!id && len)
    return NULL;
  /* the queue found last first: a host with one queue, or enqueueing a
   * burst into one, skips the hash (queues are never removed) */
  if (r->last_queue < r->nqueues) {
    rqueue *q = r->queues[r->last_queue];
    if (q->id_len == len && id_eq(q->id, id, len))
      return q;
  }
  rqueue *q = queue_find_h(r, ridx_hash(id, len), id, len);
  if (q)
    r->last_queue = q->idx;
  return q;
}

/* Moves a waiting or offered conversation to queue qi, keeping its place
 * in line (its arrival). */
static void move_queue(cr_router *r, rconv *c, uint32_t qi, cr_time t,
                       int type, int64_t why) {
  if (qi == c->queue)
    return;
  rqueue *old = r->queues[c->queue], *nq = r->queues[qi];
  if (c->state == CR_CONV_WAITING)
    wait_remove(r, c);
  else if (c->state == CR_CONV_OFFERED) {
    old->noffered--;
    nq->noffered++;
  }
  if (type == CR_REV_OVERFLOW)
    old->overflowed_out++;
  nq->entered++;
  c->queue = qi;
  c->qenter = t;
  c->eff = conv_eff_calc(r, c);
  if (c->state == CR_CONV_WAITING)
    wait_insert(r, c);
  emit(r, type, t, c, NULL, nq, c->channel, why, 0, NULL, 0);
}

/* Enters c->step (started at `start`), skipping preferred-agent steps whose
 * agent is unknown or offline so nobody is stranded. */
static void enter_step(cr_router *r, rconv *c, cr_time start, cr_time t) {
  sticky_unlink(r, c);
  c->step_start = start;
  for (;;) {
    rstep *s = &c->steps[c->step];
    emit(r, CR_REV_STEP, t, c, NULL, r->queues[c->queue], c->channel,
         c->step, s->kind, NULL, 0);
    if (s->kind == CR_STEP_AGENT) {
      ragent *a = agent_find(r, s->agent, s->agent_len);
      if (a && a->status != CR_AGENT_OFFLINE) {
        sticky_link(r, c, a);
        return;
      }
      if (c->step + 1 < c->nsteps) {
        c->step++;
        continue;
      }
      conv_reseat(r, c);
      return; /* last step, agent gone: the queue's defaults apply */
    }
    if (s->kind == CR_STEP_QUEUE)
      move_queue(r, c, s->queue, t, CR_REV_OVERFLOW, 3);
    conv_reseat(r, c);
    return;
  }
}

/* ------------------------------------------------------------------ */
/* offers */

static cr_time offer_timeout(const cr_router *r, const rqueue *q) {
  return q->cfg.offer_timeout_ms > 0 ? q->cfg.offer_timeout_ms
                                     : r->cfg.offer_timeout_ms;
}

static int make_offer(cr_router *r, rconv *c, ragent *a, uint32_t mi,
                      cr_time t) {
  if (pool_reserve(r, &r->opool, (void **)&r->offers, sizeof(roffer), 1))
    return CR_ENOMEM; /* deferred: tried again at the next trigger */
  memb_prefetch(r, a); /* read by the reindex below */
  uint32_t oi = pool_take(&r->opool);
  roffer *o = &r->offers[oi];
  rqueue *q = r->queues[c->queue];
  memset(o, 0, sizeof *o);
  o->used = 1;
  o->conv = c->idx;
  o->agent = a->idx;
  o->seq = ++r->seq;
  o->made = t;
  o->expires = CR_TIME_NEVER;
  o->tnode.child = o->tnode.sib = o->tnode.prev = RNIL;
  /* conversation's list (front) and agent's list (back: oldest first) */
  o->prev_c = RNIL;
  o->next_c = c->ohead;
  if (c->ohead != RNIL)
    r->offers[c->ohead].prev_c = oi;
  c->ohead = oi;
  o->next_a = RNIL;
  o->prev_a = a->otail;
  if (a->otail != RNIL)
    r->offers[a->otail].next_a = oi;
  else
    a->ohead = oi;
  a->otail = oi;
  if (c->state == CR_CONV_WAITING) {
    if (c->inwait) /* an arrival offered at once never went in */
      wait_remove(r, c);
    c->state = CR_CONV_OFFERED;
    c->state_at = t;
    q->noffered++;
    r->nconv_offered++;
  }
  c->noffers++;
  c->attempts++;
  hold(a, c->channel);
  a->noffers++;
  agent_touch(a, t);
  if (mi != RNIL) {
    rmcold *mc = &r->mcold[mi];
    mc->rr = ++q->rr_counter;
    if (q->cfg.strategy == CR_STRATEGY_RANDOM) {
      q->rnd_clock = mc->rnd;
      mc->rnd = q->rnd_clock + rng_exp(r);
    }
  }
  r->last_offer = oi;
  agent_reindex(r, a);
  timer_set(r, ((uint32_t)TT_OFFER << TT_SHIFT) | oi, &o->expires,
            t + offer_timeout(r, q));
  conv_sched(r, c);
  emit(r, CR_REV_OFFER, t, c, a, q, c->channel, o->expires, c->attempts,
       c->attrs_len ? c->attrs : NULL, c->attrs_len);
  return 0;
}

/* Unlinks and frees an offer, releasing the agent's slot. */
static void offer_drop(cr_router *r, uint32_t oi) {
  roffer *o = &r->offers[oi];
  rconv *c = r->convs[o->conv];
  ragent *a = r->agents[o->agent];
  if (o->prev_c != RNIL)
    r->offers[o->prev_c].next_c = o->next_c;
  else
    c->ohead = o->next_c;
  if (o->next_c != RNIL)
    r->offers[o->next_c].prev_c = o->prev_c;
  if (o->prev_a != RNIL)
    r->offers[o->prev_a].next_a = o->next_a;
  else
    a->ohead = o->next_a;
  if (o->next_a != RNIL)
    r->offers[o->next_a].prev_a = o->prev_a;
  else
    a->otail = o->prev_a;
  timer_set(r, ((uint32_t)TT_OFFER << TT_SHIFT) | oi, &o->expires, CR_TIME_NEVER);
  c->noffers--;
  a->noffers--;
  unhold(a, c->channel);
  o->used = 0;
  pool_put(&r->opool, oi);
}

static void route_conv(cr_router *r, rconv *c, cr_time t);
static uint32_t route_agent(cr_router *r, ragent *a, cr_time t);
static int conv_deadlines(cr_router *r, rconv *c, cr_time t);

/* The conversation has no offer left: back to its place in line. */
static int conv_unoffer(cr_router *r, rconv *c, cr_time t) {
  rqueue *q = r->queues[c->queue];
  c->state = CR_CONV_WAITING;
  q->noffered--;
  r->nconv_offered--;
  wait_insert(r, c);
  return conv_deadlines(r, c, t); /* steps that expired meanwhile */
}

/* Withdraws every offer of c (RINGCANCELED), except keep. The agents are
 * noted in freed[] (up to RMAX_RING) for re-routing by the caller. */
static uint32_t conv_cancel_offers(cr_router *r, rconv *c, uint32_t keep,
                                   cr_time t, uint32_t *freed) {
  uint32_t n = 0, oi = c->ohead;
  while (oi != RNIL) {
    uint32_t next = r->offers[oi].next_c;
    if (oi != keep) {
      ragent *a = r->agents[r->offers[oi].agent];
      offer_drop(r, oi);
      agent_touch(a, t);
      agent_reindex(r, a);
      emit(r, CR_REV_RINGCANCELED, t, c, a, r->queues[c->queue], c->channel,
           0, 0, NULL, 0);
      if (n < RMAX_RING)
        freed[n++] = a->idx;
    }
    oi = next;
  }
  return n;
}

static void route_agents(cr_router *r, const uint32_t *ids, uint32_t n,
                         cr_time t) {
  for (uint32_t i = 0; i < n; i++)
    if (r->agents[ids[i]])
      route_agent(r, r->agents[ids[i]], t);
}

/* ------------------------------------------------------------------ */
/* matching: a conversation looks for agents */

typedef struct actx {
  rconv *c;
  const rskill *req;
  unsigned nreq;
  cr_time t, wake;
  uint32_t ring[RMAX_RING], rmem[RMAX_RING], nring;
} actx;

/* The strategy key member mi is held under: the heaps' is the one stored
 * with it; the lines' is not stored (agent_reindex would write it at every
 * change), member_key gives it: (priority, stamp). */
static mhent held_key(const cr_router *r, uint32_t mi) {
  const rmember *m = &r->members[mi];
  const rmcold *mc = &r->mcold[mi];
  const ragent *a = r->agents[m->agent];
  const rqueue *q = r->queues[m->queue];
  mhent e = {mc->k1, mc->k2, a->seq, mi, 0};
  if (q_fifo(q))
    member_key(a, m, mc, q, &e.k1, &e.k2);
  return e;
}

static int member_less(const cr_router *r, uint32_t a, uint32_t b) {
  mhent ea = held_key(r, a), eb = held_key(r, b);
  return mh_less(&ea, &eb);
}

static int agent_ok(cr_router *r, uint32_t mi, actx *x) {
  const rmember *m = &r->members[mi];
  const ragent *a = r->agents[m->agent];
  if (m->delayed && x->t - x->c->arrival < r->mcold[mi].delay) {
    x->wake = tmin(x->wake, x->c->arrival + r->mcold[mi].delay);
    return 0;
  }
  return !declined(x->c, a, x->t, &x->wake) &&
         agent_meets(a, x->req, x->nreq);
}

/* Up to `want` eligible members, best first, without changing the heap:
 * a best-first walk (a small frontier heap of positions; a node's
 * children are never better than it). Past ~170 visits -- many ineligible
 * members at the top -- it falls back to linear selection. */
static uint32_t mh_best(cr_router *r, const mheap *h, actx *x, uint32_t *out,
                        uint32_t want) {
  enum { FR = 512 };
  uint32_t fr[FR], nf = 0, found = 0, visits = 0;
  if (!h->n || !want)
    return 0;
  fr[nf++] = 0;
  while (nf) {
    uint32_t i = fr[0], j = 0;
    fr[0] = fr[--nf];
    for (;;) { /* frontier sift-down */
      uint32_t k = 2 * j + 1;
      if (k >= nf)
        break;
      if (k + 1 < nf && mh_less(&h->a[fr[k + 1]], &h->a[fr[k]]))
        k++;
      if (!mh_less(&h->a[fr[k]], &h->a[fr[j]]))
        break;
      uint32_t tmp = fr[j];
      fr[j] = fr[k];
      fr[k] = tmp;
      j = k;
    }
    if (agent_ok(r, h->a[i].mi, x)) {
      out[found++] = h->a[i].mi;
      if (found == want)
        return found;
    }
    /* each visit pops one and pushes up to MH_D: keep nf < FR */
    if (++visits >= (FR - 1) / (MH_D - 1) - 1)
      goto linear;
    for (uint32_t c = MH_D * i + 1; c <= MH_D * i + MH_D && c < h->n; c++) {
      uint32_t k = nf++;
      fr[k] = c;
      while (k > 0 && mh_less(&h->a[fr[k]], &h->a[fr[(k - 1) / 2]])) {
        uint32_t p = (k - 1) / 2, tmp = fr[p];
        fr[p] = fr[k];
        fr[k] = tmp;
        k = p;
      }
    }
  }
  return found;
linear:
  while (found < want) {
    uint32_t best = RNIL;
    for (uint32_t i = 0; i < h->n; i++) {
      if (best != RNIL && !mh_less(&h->a[i], &h->a[best]))
        continue;
      int taken = 0;
      for (uint32_t k = 0; k < found; k++)
        taken |= out[k] == h->a[i].mi;
      if (!taken && agent_ok(r, h->a[i].mi, x))
        best = i;
    }
    if (best == RNIL)
      break;
    out[found++] = h->a[best].mi;
  }
  return found;
}

/* The same for line strategies: levels in priority order, each line from
 * its front (longest idle first), stale entries at the front dropped on
 * the way; O(k) for k entries passed. */
static uint32_t fl_best(cr_router *r, rqueue *q, unsigned tier, unsigned ch,
                        actx *x, uint32_t *out, uint32_t want) {
  uint32_t found = 0;
  for (uint32_t li = 0; li < q->nlv && found < want; li++) {
    rring *g = &q->lv[li].ring[tier][ch];
    while (g->n && !ent_live(r, ring_at(g, 0))) {
      g->head = g->head + 1 == g->cap ? 0 : g->head + 1;
      g->n--;
    }
    for (uint32_t k = 0; k < g->n; k++) {
      const rent *e = ring_at(g, k);
      if (!ent_live(r, e))
        continue;
      /* the offer reads the agent: load it with the membership */
      agent_prefetch(r->agents[e->agent]);
      if (agent_ok(r, e->mi, x)) {
        out[found++] = e->mi;
        if (found == want)
          break;
      }
    }
  }
  return found;
}

static uint32_t memb_best(cr_router *r, rqueue *q, unsigned tier,
                          unsigned ch, actx *x, uint32_t *out, uint32_t want) {
  if (q_fifo(q))
    return fl_best(r, q, tier, ch, x, out, want);
  return mh_best(r, tier ? &q->memb[ch] : &q->memb_lo[ch], x, out, want);
}

static void route_conv(cr_router *r, rconv *c, cr_time t) {
  if (c->state != CR_CONV_WAITING)
    return;
  c->wake = CR_TIME_NEVER;
  actx x;
  x.c = c;
  x.t = t;
  x.wake = CR_TIME_NEVER;
  x.nring = 0;
  if (conv_is_sticky(c)) {
    ragent *a = r->agents[c->sticky];
    if (can_take(a, c->channel) && !declined(c, a, t, &x.wake) &&
        make_offer(r, c, a, RNIL, t) == 0)
      return;
    c->wake = x.wake;
    conv_sched(r, c);
    return;
  }
  rqueue *q = r->queues[c->queue];
  x.req = conv_req(r, c, &x.nreq);
  int ring = q->cfg.strategy == CR_STRATEGY_RING_ALL;
  uint32_t want = ring ? q->cfg.ring_all_max : 1;
  int deflt = x.req == q->skills;
  if (deflt)
    x.nreq = 0; /* the qualified tier meets it by construction */
  x.nring = memb_best(r, q, 1, c->channel, &x, x.rmem, want);
  if (!deflt) {
    /* its own requirement: members below the queue's default may do;
     * merge the best of both tiers in key order */
    uint32_t lo[RMAX_RING], nlo, nhi = x.nring, i = 0, j = 0, k = 0;
    uint32_t hi[RMAX_RING];
    memcpy(hi, x.rmem, nhi * sizeof *hi);
    nlo = memb_best(r, q, 0, c->channel, &x, lo, want);
    while (k < want && (i < nhi || j < nlo)) {
      int take_hi = j >= nlo || (i < nhi && member_less(r, hi[i], lo[j]));
      x.rmem[k++] = take_hi ? hi[i++] : lo[j++];
    }
    x.nring = k;
  }
  for (uint32_t i = 0; i < x.nring; i++)
    x.ring[i] = r->members[x.rmem[i]].agent;
  if (!ring && x.nring &&
      make_offer(r, c, r->agents[x.ring[0]], x.rmem[0], t) == 0)
    return;
  if (ring && x.nring) {
    /* Keep a first offer's slot for every other conversation: extra
     * parallel offers are made only with spare offer slots. */
    for (uint32_t i = 0; i < x.nring; i++) {
      if (i > 0) {
        uint32_t others = r->cpool.nused - r->nconv_offered;
        if (pool_reserve(r, &r->opool, (void **)&r->offers, sizeof(roffer),
                         others + 1))
          break;
      }
      ragent *a = r->agents[x.ring[i]];
      if (can_take(a, c->channel))
        make_offer(r, c, a, x.rmem[i], t);
    }
    if (c->state == CR_CONV_OFFERED)
      return;
  }
  c->wake = x.wake;
  conv_sched(r, c);
}

/* ------------------------------------------------------------------ */
/* matching: an agent with free capacity looks for a conversation */

typedef struct cctx {
  ragent *a;
  const rmember *m;
  cr_time t;
  rconv *best;
  int32_t bprio;
  uint32_t bmember;
} cctx;

/* Across queues: the agent's member priority for the queue, then the
 * conversation order (effective priority, arrival) -- the longest waiter
 * of the highest priority, whichever queue it is in. */
static int better(int32_t p1, const rconv *c1, int32_t p2, const rconv *c2) {
  if (!c2)
    return 1;
  if (p1 != p2)
    return p1 < p2;
  return conv_less(c1, c2);
}

static int conv_takes(cr_router *r, rconv *c, ragent *a, cr_time delay,
                      cr_time t) {
  if (t - c->arrival < delay) {
    if (c->arrival + delay < c->wake) {
      c->wake = c->arrival + delay;
      conv_sched(r, c);
    }
    return 0;
  }
  cr_time w = CR_TIME_NEVER;
  if (declined(c, a, t, &w)) {
    if (w < c->wake) {
      c->wake = w;
      conv_sched(r, c);
    }
    return 0;
  }
  if (conv_is_sticky(c))
    return c->sticky == a->idx;
  if (c->inwait && !c->wheap)
    return 1; /* default tier: only qualified members scan it */
  unsigned n;
  const rskill *req = conv_req(r, c, &n);
  return agent_meets(a, req, n);
}

static int scan_conv(cr_router *r, uint32_t ci, void *vx) {
  cctx *x = vx;
  rconv *c = r->convs[ci];
  if (!better(x->m->prio, c, x->bprio, x->best))
    return 2; /* the rest of this heap is worse still */
  uint32_t mi = (uint32_t)(x->m - r->members);
  if (!conv_takes(r, c, x->a, x->m->delayed ? r->mcold[mi].delay : 0, x->t))
    return 0;
  x->best = c;
  x->bprio = x->m->prio;
  x->bmember = mi;
  return 1;
}

/* Offers the agent's free capacity; returns how many offers it made
 * (each of which reindexed the agent). Reads the agent's load, status and
 * memberships (their tier included), never its lines or heaps. */
static uint32_t route_agent(cr_router *r, ragent *a, cr_time t) {
  uint32_t made = 0;
  while (a->status == CR_AGENT_AVAILABLE) {
    /* The channels it has room on, once per round: with none (a voice
     * agent after its offer, say) nothing below could match. */
    unsigned fitm = fit_mask(a);
    if (!fitm)
      return made;
    cctx x;
    x.a = a;
    x.t = t;
    x.best = NULL;
    x.bprio = 0;
    x.bmember = RNIL;
    /* conversations waiting for this agent by name come first */
    for (uint32_t ci = a->sticky_head; ci != RNIL;
         ci = r->convs[ci]->sticky_next) {
      rconv *c = r->convs[ci];
      if (c->state != CR_CONV_WAITING || !(fitm >> c->channel & 1))
        continue;
      if (!conv_takes(r, c, a, 0, t))
        continue;
      if (better(INT32_MIN, c, x.bprio, x.best)) {
        x.best = c;
        x.bprio = INT32_MIN;
        x.bmember = RNIL;
      }
    }
    for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
      rmember *m = &r->members[mi];
      rqueue *q = r->queues[m->queue];
      x.m = m;
      for (unsigned bits = fitm; bits; bits &= bits - 1) {
        unsigned ch = ctz(bits);
        /* the default tier only if it meets the queue's requirement */
        if (m->qual && wl_n(&q->wait[ch]))
          wait_scan(r, &q->wait[ch], scan_conv, &x);
        if (wl_n(&q->waitc[ch]))
          wait_scan(r, &q->waitc[ch], scan_conv, &x);
      }
    }
    if (!x.best)
      return made;
    uint32_t mi = RNIL;
    if (x.bmember != RNIL && r->members[x.bmember].queue == x.best->queue)
      mi = x.bmember;
    if (make_offer(r, x.best, a, mi, t))
      return made;
    made++;
  }
  return made;
}

/* ------------------------------------------------------------------ */
/* deadlines */

static void conv_forget(cr_router *r, rconv *c);

/* Leaves the queue at max wait (CR_MAXWAIT_EXIT). */
static void conv_exit_timeout(cr_router *r, rconv *c, cr_time t) {
  rqueue *q = r->queues[c->queue];
  uint32_t freed[RMAX_RING], nf = 0;
  if (c->state == CR_CONV_WAITING)
    wait_remove(r, c);
  else {
    nf = conv_cancel_offers(r, c, RNIL, t, freed);
    q->noffered--;
    r->nconv_offered--;
  }
  q->timed_out++;
  emit(r, CR_REV_EXITWITHTIMEOUT, t, c, NULL, q, c->channel, t - c->arrival,
       0, NULL, 0);
  conv_forget(r, c);
  route_agents(r, freed, nf, t);
}

/* Applies every deadline of c due at or before t. Each is applied as of
 * its own time (a step that expired at 10 s starts the next at 10 s even
 * if the host ticks at 12 s); events are stamped t. Returns 0 if c was
 * removed. */
static int conv_due(cr_router *r, rconv *c, cr_time t, int *reroute) {
  rqueue *q = r->queues[c->queue];
  cr_time mw = q->cfg.max_wait_ms;
  if (mw > 0) {
    cr_time esc = c->arrival + mw - q->cfg.escalate_before_ms;
    if (!(c->flags & RC_ESCALATED) && q->cfg.escalate_before_ms > 0 &&
        esc <= t) {
      c->flags |= RC_ESCALATED;
      conv_reprio(r, c);
      emit(r, CR_REV_ESCALATE, t, c, NULL, q, c->channel, c->arrival + mw,
           c->eff, NULL, 0);
    }
    if (!(c->flags & RC_MAXWAITED) && c->arrival + mw <= t) {
      c->flags |= RC_MAXWAITED;
      if (q->cfg.max_wait_action == CR_MAXWAIT_EXIT) {
        conv_exit_timeout(r, c, t);
        return 0;
      }
      conv_reprio(r, c);
      emit(r, CR_REV_MAXWAIT, t, c, NULL, q, c->channel, t - c->arrival,
           c->eff, NULL, 0);
    }
  }
  if (!(c->flags & RC_URGENT) && q->cfg.urgency_percent > 0 &&
      c->arrival + q_threshold(q, c->channel) * q->cfg.urgency_percent / 100 <=
          t) {
    c->flags |= RC_URGENT;
    if (conv_reprio(r, c))
      emit(r, CR_REV_PRIORITY, t, c, NULL, q, c->channel, c->eff, 1, NULL, 0);
  }
  if (c->state != CR_CONV_WAITING)
    return 1;
  cr_time at;
  while (conv_step_expires(c, &at) && at <= t) {
    c->step++;
    enter_step(r, c, at, t);
    *reroute = 1;
  }
  q = r->queues[c->queue];
  if (q->overflow != RNIL && q->cfg.overflow_after_ms > 0 &&
      c->qenter + q->cfg.overflow_after_ms <= t) {
    move_queue(r, c, q->overflow, t, CR_REV_OVERFLOW, 0);
    *reroute = 1;
  }
  if (c->wake <= t) {
    c->wake = CR_TIME_NEVER;
    *reroute = 1;
  }
  return 1;
}

static int conv_deadlines(cr_router *r, rconv *c, cr_time t) {
  int reroute = 0;
  if (!conv_due(r, c, t, &reroute))
    return 0;
  conv_sched(r, c);
  return 1;
}

static void conv_fire(cr_router *r, rconv *c, cr_time t) {
  if (c->state == CR_CONV_ABANDONED) {
    emit(r, CR_REV_EXPIRED, t, c, NULL, r->queues[c->queue], c->channel, 0, 0,
         NULL, 0);
    conv_forget(r, c);
    return;
  }
  int reroute = 0;
  if (!conv_due(r, c, t, &reroute))
    return;
  conv_sched(r, c);
  if (reroute)
    route_conv(r, c, t);
}

static void set_away(cr_router *r, ragent *a, const char *reason, size_t len,
                     cr_time t);

/* A rejected or missed offer: the conversation returns to its place and is
 * offered to the next candidate; the agent is not offered it again for
 * decline_block_ms. */
static void offer_fail(cr_router *r, uint32_t oi, cr_time t, int missed) {
  roffer *o = &r->offers[oi];
  rconv *c = r->convs[o->conv];
  ragent *a = r->agents[o->agent];
  rqueue *q = r->queues[c->queue];
  cr_time ring = t - o->made;
  offer_drop(r, oi);
  agent_touch(a, t);
  add_decl(r, c, a, t);
  if (missed) {
    a->miss++;
    a->consec++;
    q->miss++;
    emit(r, CR_REV_RINGNOANSWER, t, c, a, q, c->channel, ring, a->consec,
         NULL, 0);
  } else {
    a->rej++;
    a->consec = 0;
    q->rej++;
    emit(r, CR_REV_REJECT, t, c, a, q, c->channel, ring, 0, NULL, 0);
  }
  if (missed && r->cfg.auto_away_misses &&
      a->consec >= r->cfg.auto_away_misses &&
      a->status == CR_AGENT_AVAILABLE)
    set_away(r, a, "auto-away", 9, t);
  else
    agent_reindex(r, a);
  if (c->noffers == 0 && conv_unoffer(r, c, t))
    route_conv(r, c, t);
  route_agent(r, a, t);
}

static void agent_fire(cr_router *r, ragent *a, cr_time t) {
  uint32_t j = 0;
  for (uint32_t i = 0; i < a->nwrap; i++) {
    if (a->wraps[i].until <= t) {
      unhold(a, a->wraps[i].ch);
      emit(r, CR_REV_WRAPUPEND, t, NULL, a, NULL, a->wraps[i].ch, 0, 0, NULL,
           0);
    } else {
      a->wraps[j++] = a->wraps[i];
    }
  }
  if (j < a->nwrap)
    agent_touch(a, t);
  a->nwrap = j;
  agent_sched(r, a);
  agent_reindex(r, a);
  route_agent(r, a, t);
}

static void run_timers(cr_router *r, cr_time now) {
  if (r->tnext > now) /* nothing due (CR_TIME_NEVER: no timer) */
    return;
  for (uint32_t id; (id = tl_front(r)) != RNIL;) {
    cr_time t;
    uint64_t s;
    timer_key(r, id, &t, &s);
    if (t > now)
      break;
    uint32_t i = id & TT_MASK;
    switch (id >> TT_SHIFT) {
    case TT_CONV: {
      rconv *c = r->convs[i];
      tl_remove(r, id);
      c->tdue = CR_TIME_NEVER;
      timers_note(r);
      conv_fire(r, c, t);
      break;
    }
    case TT_OFFER:
      offer_fail(r, i, t, 1);
      break;
    default: {
      ragent *a = r->agents[i];
      tl_remove(r, id);
      a->tdue = CR_TIME_NEVER;
      timers_note(r);
      agent_fire(r, a, t);
      break;
    }
    }
  }
}

static int advance(cr_router *r, cr_time now) {
  if (!RT_OK(now))
    return fail(r, CR_ERANGE, "time beyond +-2^62 ms", NULL, 0);
  if (now < r->now)
    return fail(r, CR_EORDER, "time went backwards", NULL, 0);
  run_timers(r, now);
  r->now = now;
  return 0;
}

#define ENTER(r, now)                                                        \
  do {                                                                       \
    if (!(r))                                                                \
      return CR_EINVAL;                                                      \
    if ((r)->in_cb)                                                          \
      return CR_ESTATE;                                                      \
    (r)->err[0] = 0;                                                         \
    int rc_ = advance((r), (now));                                           \
    if (rc_)                                                                 \
      return rc_;                                                            \
  } while (0)

/* ------------------------------------------------------------------ */
/* agent status */

static void agent_cancel_offers(cr_router *r, ragent *a, cr_time t) {
  while (a->ohead != RNIL) {
    uint32_t oi = a->ohead;
    rconv *c = r->convs[r->offers[oi].conv];
    offer_drop(r, oi);
    agent_touch(a, t);
    agent_reindex(r, a);
    emit(r, CR_REV_RINGCANCELED, t, c, a, r->queues[c->queue], c->channel, 0,
         0, NULL, 0);
    if (c->noffers == 0 && conv_unoffer(r, c, t))
      route_conv(r, c, t);
  }
}

/* Conversations waiting for this agent by name move on: it is offline. */
static void agent_release_sticky(cr_router *r, ragent *a, cr_time t) {
  while (a->sticky_head != RNIL) {
    rconv *c = r->convs[a->sticky_head];
    sticky_unlink(r, c);
    if (c->step + 1 < c->nsteps) {
      c->step++;
      enter_step(r, c, t, t);
    }
    conv_sched(r, c);
    route_conv(r, c, t);
  }
}

static void set_away(cr_router *r, ragent *a, const char *reason, size_t len,
                     cr_time t) {
  agent_staff(r, a, -1);
  if (a->status == CR_AGENT_OFFLINE) {
    a->login_at = t;
    a->contacts = 0;
    a->talk_ms = 0;
    emit(r, CR_REV_AGENTLOGIN, t, NULL, a, NULL, -1, 0, 0, NULL, 0);
  }
  a->status = CR_AGENT_AWAY;
  if (len) /* reason may be NULL when len is 0: memcpy(NULL, 0) is UB */
    memcpy(a->reason, reason, len);
  a->reason_len = (uint8_t)len;
  agent_reindex(r, a);
  emit(r, CR_REV_PAUSE, t, NULL, a, NULL, -1, 0, 0, a->reason, a->reason_len);
  agent_cancel_offers(r, a, t);
}

static void set_status(cr_router *r, ragent *a, int st, const char *reason,
                       size_t len, cr_time t) {
  int old = a->status;
  if (st == CR_AGENT_AWAY) {
    set_away(r, a, reason, len, t);
    return;
  }
  if (st == old)
    return;
  if (st == CR_AGENT_AVAILABLE) {
    if (old == CR_AGENT_OFFLINE) {
      a->login_at = t;
      a->contacts = 0;
      a->talk_ms = 0;
      emit(r, CR_REV_AGENTLOGIN, t, NULL, a, NULL, -1, 0, 0, NULL, 0);
    } else {
      emit(r, CR_REV_UNPAUSE, t, NULL, a, NULL, -1, 0, 0, NULL, 0);
    }
    a->status = CR_AGENT_AVAILABLE;
    a->reason_len = 0;
    a->consec = 0;
    agent_touch(a, t);
    agent_staff(r, a, +1);
    agent_reindex(r, a);
    route_agent(r, a, t);
    return;
  }
  /* offline */
  agent_staff(r, a, -1);
  a->status = CR_AGENT_OFFLINE;
  a->reason_len = 0;
  agent_reindex(r, a);
  emit(r, CR_REV_AGENTLOGOFF, t, NULL, a, NULL, -1, t - a->login_at, 0, NULL,
       0);
  agent_cancel_offers(r, a, t);
  agent_release_sticky(r, a, t);
}

/* ------------------------------------------------------------------ */
/* skills */

static int skill_intern(cr_router *r, const char *name, size_t len,
                        uint16_t *id) {
  rskillname *s = NULL;
  HASH_FIND(hh, r->shash, name, len, s);
  if (s) {
    *id = s->id;
    return 0;
  }
  if (r->nskills >= UINT16_MAX)
    return fail(r, CR_EFULL, "too many skills", NULL, 0);
  size_t cap = r->scap;
  if (cr__grow(&r->mem, (void **)&r->skills, &cap, r->nskills + 1,
               sizeof *r->skills))
    return CR_ENOMEM;
  r->scap = (uint32_t)cap;
  s = cr__calloc(&r->mem, 1, sizeof *s);
  if (!s)
    return CR_ENOMEM;
  s->name = cr__strndup(&r->mem, name, len);
  if (!s->name) {
    cr__free(&r->mem, s);
    return CR_ENOMEM;
  }
  s->len = (uint32_t)len;
  s->id = (uint16_t)r->nskills;
  const cr_mem *cr__hmem = &r->mem;
  int cr__hoom = 0;
  HASH_ADD_KEYPTR(hh, r->shash, s->name, len, s);
  if (cr__hoom) {
    cr__free(&r->mem, s->name);
    cr__free(&r->mem, s);
    return CR_ENOMEM;
  }
  r->skills[r->nskills++] = s;
  *id = s->id;
  return 0;
}

/* Validates a skill list without touching the router. */
static int skills_check(cr_router *r, const cr_skill_level *in, size_t n,
                        size_t max, const char *what) {
  if (n && !in)
    return fail(r, CR_EINVAL, what, NULL, 0);
  if (n > max)
    return fail(r, CR_ERANGE, "too many skills", NULL, 0);
  for (size_t i = 0; i < n; i++) {
    int rc = check_id(r, in[i].skill, in[i].skill_len, "bad skill name");
    if (rc)
      return rc;
    if (in[i].level < 1 || in[i].level > 5)
      return fail(r, CR_ERANGE, "skill level must be 1..5", in[i].skill,
                  in[i].skill_len);
    for (size_t j = 0; j < i; j++)
      if (in[j].skill_len == in[i].skill_len &&
          !memcmp(in[j].skill, in[i].skill, in[i].skill_len))
        return fail(r, CR_EINVAL, "duplicate skill", in[i].skill,
                    in[i].skill_len);
  }
  return 0;
}

/* Validates and interns a skill list. Duplicates are refused. */
static int skills_in(cr_router *r, const cr_skill_level *in, size_t n,
                     size_t max, rskill *out, const char *what) {
  int rc = skills_check(r, in, n, max, what);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = skill_intern(r, in[i].skill, in[i].skill_len, &out[i].id);
    out[i].level = (uint8_t)in[i].level;
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* conversations */

static void steps_free(cr_router *r, rstep *s, unsigned n) {
  if (!s)
    return;
  for (unsigned i = 0; i < n; i++)
    cr__free(&r->mem, s[i].agent);
  cr__free(&r->mem, s);
}

static int steps_build(cr_router *r, const cr_route_step *in, size_t n,
                       rstep **out) {
  *out = NULL;
  if (n == 0)
    return 0;
  if (!in)
    return fail(r, CR_EINVAL, "steps is NULL", NULL, 0);
  if (n > CR_ROUTER_MAX_STEPS)
    return fail(r, CR_ERANGE, "too many steps", NULL, 0);
  for (size_t i = 0; i < n; i++) {
    const cr_route_step *s = &in[i];
    int rc = 0;
    if (s->kind == CR_STEP_QUEUE) {
      rc = check_id(r, s->target, s->target_len, "bad step queue id");
      if (!rc && !queue_find(r, s->target, s->target_len))
        rc = fail(r, CR_ENOTFOUND, "unknown step queue", s->target,
                  s->target_len);
    } else if (s->kind == CR_STEP_AGENT) {
      rc = check_id(r, s->target, s->target_len, "bad step agent id");
    } else if (s->kind != CR_STEP_SKILLS) {
      rc = fail(r, CR_EINVAL, "unknown step kind", NULL, 0);
    }
    if (!rc && !RDUR_OK(s->expire_after_ms))
      rc = fail(r, CR_ERANGE, "step expiry too large", NULL, 0);
    if (!rc)
      rc = skills_check(r, s->skills, s->nskills, CR_ROUTER_MAX_STEP_SKILLS,
                        "step skills is NULL");
    if (rc)
      return rc;
  }
  rstep *st = cr__calloc(&r->mem, n, sizeof *st);
  if (!st)
    return CR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const cr_route_step *s = &in[i];
    st[i].kind = (uint8_t)s->kind;
    st[i].expire = s->expire_after_ms;
    st[i].queue = RNIL;
    int rc = skills_in(r, s->skills, s->nskills, CR_ROUTER_MAX_STEP_SKILLS,
                       st[i].sk, "step skills is NULL");
    if (!rc && s->kind == CR_STEP_QUEUE)
      st[i].queue = queue_find(r, s->target, s->target_len)->idx;
    if (!rc && s->kind == CR_STEP_AGENT) {
      st[i].agent = cr__strndup(&r->mem, s->target, s->target_len);
      st[i].agent_len = (uint32_t)s->target_len;
      if (!st[i].agent)
        rc = CR_ENOMEM;
    }
    if (rc) {
      steps_free(r, st, (unsigned)n);
      return rc;
    }
    st[i].nsk = (uint8_t)s->nskills;
  }
  *out = st;
  return 0;
}

/* h: the hash of c's id, when the caller has it (else conv_forget). */
static void conv_forget_h(cr_router *r, rconv *c, uint32_t h) {
  sticky_unlink(r, c);
  timer_set(r, ((uint32_t)TT_CONV << TT_SHIFT) | c->idx, &c->tdue, CR_TIME_NEVER);
  ridx_del(&r->cidx, h, c->idx);
  r->convs[c->idx] = NULL;
  pool_put(&r->cpool, c->idx);
  cr__router_free_conv(r, c);
}

static void conv_forget(cr_router *r, rconv *c) {
  conv_forget_h(r, c, ridx_hash(c->id, c->id_len));
}

/* One more block of pooled conversation objects onto the free list, the
 * block's first object first. */
static int conv_slab(cr_router *r) {
  if (r->ncslab == r->cslabcap) {
    size_t cap = r->cslabcap;
    if (cr__grow(&r->mem, (void **)&r->cslab, &cap, r->ncslab + 1,
                 sizeof *r->cslab))
      return CR_ENOMEM;
    r->cslabcap = (uint32_t)cap;
  }
  char *raw = cr__malloc(&r->mem, RCONV_SLAB * RCONV_STRIDE + 63);
  if (!raw)
    return CR_ENOMEM;
  r->cslab[r->ncslab++] = raw;
  char *p = (char *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
  for (size_t i = RCONV_SLAB; i-- > 0;) {
    rconv *c = (rconv *)(void *)(p + i * RCONV_STRIDE);
    c->fnext = r->cfree;
    r->cfree = c;
  }
  return 0;
}

/* Conversation objects with ids shorter than RCONV_ID_CAP are all the
 * same size and recycled through a free list instead of going back to the
 * allocator: an arrival then reuses the object the last ending touched
 * (still in cache) and costs no malloc/free pair (about 5 % of the
 * router's time at 10,000 agents). They come from 64-byte-aligned blocks
 * of RCONV_SLAB (16 KB), so the list and the blocks hold the peak number
 * of conversations rounded up to a block, like the pools; the blocks are
 * freed with the router. Longer ids: one allocation each. */
rconv *cr__router_conv_new(cr_router *r, const char *id, size_t len) {
  rconv *c;
  if (len < RCONV_ID_CAP) {
    if (!r->cfree && conv_slab(r))
      return NULL;
    c = r->cfree;
    r->cfree = c->fnext;
    memset(c, 0, offsetof(rconv, decl)); /* decl: see ndecl */
    c->id = c->idfix;
  } else {
    c = cr__calloc(&r->mem, 1, sizeof *c + len + 1);
    if (!c)
      return NULL;
    c->id = c->idbuf;
  }
  memcpy(c->id, id, len);
  c->id[len] = 0;
  c->id_len = (uint32_t)len;
  return c;
}

void cr__router_free_conv(cr_router *r, rconv *c) {
  if (c->nsteps) /* nsteps and attrs_len share the first line: without */
    steps_free(r, c->steps, c->nsteps); /* them the rest is not read */
  if (c->attrs_len)
    cr__free(&r->mem, c->attrs);
  if (c->id_len < RCONV_ID_CAP) {
    c->fnext = r->cfree;
    r->cfree = c;
    return;
  }
  cr__free(&r->mem, c);
}

static int params_check(cr_router *r, const cr_conv_params *p) {
  if (p->channel < 0 || p->channel >= RCH)
    return fail(r, CR_EINVAL, "unknown channel", NULL, 0);
  if (p->priority < 0 || p->priority > CR_ROUTER_MAX_PRIORITY)
    return fail(r, CR_ERANGE, "priority out of range", NULL, 0);
  if (p->attrs_len && (!p->attrs || !utf8_ok(p->attrs, p->attrs_len)))
    return fail(r, CR_EUTF8, "attrs are not UTF-8", NULL, 0);
  if (p->attrs_len > 65535)
    return fail(r, CR_ERANGE, "attrs too long", NULL, 0);
  return 0;
}

static cr_time ewt_calc(const rqueue *q, unsigned ch) {
  uint32_t waiting = wl_n(&q->wait[ch]) + wl_n(&q->waitc[ch]);
  if (memb_avail(q, ch) > 0 && waiting == 0)
    return 0;
  if (!q->staffed[ch])
    return CR_TIME_NEVER;
  double w = (double)(waiting + 1) * q->aht[ch] / (double)q->staffed[ch];
  return (cr_time)(w + 0.5);
}

static double sl_calc(const rqueue *q) {
  uint64_t d = q->answered + q->ab_after_sl;
  return d ? (double)q->in_sl / (double)d : 1.0;
}

/* Conditional overflow on entry: 1 by EWT, 2 by service level, 0 none. */
static int entry_overflow(const rqueue *q, const rqueue *oq, unsigned ch) {
  if (!oq)
    return 0;
  if (q->cfg.overflow_ewt_ms > 0) {
    cr_time here = ewt_calc(q, ch), there = ewt_calc(oq, ch);
    if (here > q->cfg.overflow_ewt_ms && there < here)
      return 1;
  }
  if (q->cfg.overflow_sl_below > 0 && sl_calc(q) < q->cfg.overflow_sl_below)
    return 2;
  return 0;
}

int cr_router_enqueue(cr_router *r, const char *id, size_t len,
                      const char *queue, size_t queue_len,
                      const cr_conv_params *pin, cr_time now) {
  ENTER(r, now);
  cr_conv_params p;
  if (pin)
    p = *pin;
  else
    cr_conv_params_init(&p);
  int rc = check_id(r, id, len, "bad conversation id");
  /* A queue found by its id has a valid id (checked when it was added):
   * only an unknown one is checked, for the same error as before. */
  rqueue *q = rc ? NULL : queue_find(r, queue, queue_len);
  if (!rc && !q)
    rc = check_id(r, queue, queue_len, "bad queue id");
  if (!rc)
    rc = params_check(r, &p);
  if (rc)
    return rc;
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", queue, queue_len);
  if (!q->open)
    return fail(r, CR_ECLOSED, "queue is closed", queue, queue_len);
  uint32_t hc = ridx_hash(id, len); /* for the lookup and the insert */
  rconv *ghost = conv_find_h(r, hc, id, len);
  if (ghost && ghost->state != CR_CONV_ABANDONED)
    return fail(r, CR_EEXIST, "conversation exists", id, len);
  if (q->cfg.max_length) {
    uint32_t inq = q->noffered;
    for (unsigned ch = 0; ch < RCH; ch++)
      inq += wl_n(&q->wait[ch]) + wl_n(&q->waitc[ch]);
    if (inq >= q->cfg.max_length)
      return fail(r, CR_EFULL, "queue is full", queue, queue_len);
  }
  rstep *steps;
  if ((rc = steps_build(r, p.steps, p.nsteps, &steps)))
    return rc;
  rconv *c = cr__router_conv_new(r, id, len);
  if (c && p.attrs_len) {
    c->attrs = cr__strndup(&r->mem, p.attrs, p.attrs_len);
    c->attrs_len = c->attrs ? (uint32_t)p.attrs_len : 0;
  }
  if (!c || (p.attrs_len && !c->attrs) ||
      pool_reserve(r, &r->cpool, (void **)&r->convs, sizeof(rconv *), 1) ||
      pool_reserve(r, &r->opool, (void **)&r->offers, sizeof(roffer), 1) ||
      (((uint64_t)r->cidx.n + 1) * 2 > (uint64_t)r->cidx.mask + 1 &&
       cr__ridx_reserve(r, &r->cidx, 1))) {
    steps_free(r, steps, (unsigned)p.nsteps);
    if (c)
      cr__router_free_conv(r, c); /* its steps are not set yet */
    return CR_ENOMEM;
  }
  if (ghost)
    conv_forget_h(r, ghost, hc);
  c->steps = steps;
  c->nsteps = (uint8_t)p.nsteps;
  c->id_len = (uint32_t)len;
  c->attrs_len = (uint32_t)p.attrs_len;
  c->idx = pool_take(&r->cpool);
  cr__ridx_put(&r->cidx, hc, c->idx, c);
  r->convs[c->idx] = c;
  c->seq = ++r->seq;
  c->arrival = c->qenter = c->step_start = now;
  c->wake = c->tdue = CR_TIME_NEVER;
  c->state = CR_CONV_WAITING;
  c->channel = (uint8_t)p.channel;
  c->prio = p.priority;
  c->queue = q->idx;
  c->agent = c->sticky = c->sticky_next = c->sticky_prev = RNIL;
  c->ohead = RNIL;
  c->eff = conv_eff_calc(r, c);
  q->entered++;
  /* the estimated wait is only the ENTERQUEUE event's (a division) */
  cr_time ewt = r->cb.event ? ewt_calc(q, c->channel) : 0;
  rqueue *oq = q->overflow != RNIL ? r->queues[q->overflow] : NULL;
  int why = entry_overflow(q, oq, c->channel);
  /* Without overflow or steps, nothing before the search reads the
   * waiting heap's copy of c, and most arrivals are offered at once: it
   * goes in only if it is still waiting afterwards, instead of in and
   * straight out again. (Heaps are in total key order, so the time of
   * insertion changes their shape, never a decision.) */
  int later = !why && !c->nsteps;
  if (!later)
    wait_insert(r, c);
  emit(r, CR_REV_ENTERQUEUE, now, c, NULL, q, c->channel, c->prio, ewt,
       c->attrs_len ? c->attrs : NULL, c->attrs_len);
  if (why)
    move_queue(r, c, oq->idx, now, CR_REV_OVERFLOW, why);
  if (c->nsteps)
    enter_step(r, c, now, now);
  conv_sched(r, c);
  route_conv(r, c, now);
  if (later && c->state == CR_CONV_WAITING)
    wait_insert(r, c);
  run_timers(r, now);
  return 0;
}

int cr_router_abandon(cr_router *r, const char *id, size_t len, cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (c->state != CR_CONV_WAITING && c->state != CR_CONV_OFFERED)
    return fail(r, CR_ESTATE, "conversation is not queued", id, len);
  rqueue *q = r->queues[c->queue];
  uint32_t freed[RMAX_RING], nf = 0;
  if (c->state == CR_CONV_WAITING) {
    wait_remove(r, c);
  } else {
    nf = conv_cancel_offers(r, c, RNIL, now, freed);
    q->noffered--;
    r->nconv_offered--;
  }
  sticky_unlink(r, c);
  q->abandoned++;
  c->flags &= (uint8_t)~8;
  if (now - c->arrival > q_threshold(q, c->channel)) {
    q->ab_after_sl++;
    c->flags |= 8;
  }
  c->state = CR_CONV_ABANDONED;
  c->state_at = now;
  emit(r, CR_REV_ABANDON, now, c, NULL, q, c->channel, now - c->arrival, 0,
       NULL, 0);
  if (r->cfg.reentry_grace_ms > 0)
    conv_sched(r, c);
  else
    conv_forget(r, c);
  route_agents(r, freed, nf, now);
  return 0;
}

int cr_router_resume(cr_router *r, const char *id, size_t len, cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (c->state != CR_CONV_ABANDONED)
    return fail(r, CR_ESTATE, "conversation has not abandoned", id, len);
  rqueue *q = r->queues[c->queue];
  q->abandoned--;
  if (c->flags & 8)
    q->ab_after_sl--;
  c->flags &= (uint8_t)~8;
  c->state = CR_CONV_WAITING;
  c->wake = CR_TIME_NEVER;
  wait_insert(r, c);
  emit(r, CR_REV_RESUME, now, c, NULL, q, c->channel, c->arrival, 0, NULL, 0);
  if (c->nsteps) {
    const rstep *s = &c->steps[c->step];
    if (s->kind == CR_STEP_AGENT)
      enter_step(r, c, c->step_start, now);
  }
  if (conv_deadlines(r, c, now))
    route_conv(r, c, now);
  run_timers(r, now);
  return 0;
}


static uint32_t offer_of(const cr_router *r, const rconv *c, const ragent *a) {
  for (uint32_t oi = c->ohead; oi != RNIL; oi = r->offers[oi].next_c)
    if (r->offers[oi].agent == a->idx)
      return oi;
  return RNIL;
}

static int find_pair(cr_router *r, const char *conv, size_t conv_len,
                     const char *agent, size_t agent_len, rconv **cp,
                     ragent **ap, uint32_t *oi) {
  /* A host that answers at once answers the offer made last: compare the
   * two ids with its pair before hashing either (an offer is the only
   * one of its conversation to its agent, see offer_of) */
  if (r->last_offer < r->opool.hwm && r->offers[r->last_offer].used) {
    const roffer *o = &r->offers[r->last_offer];
    rconv *c = r->convs[o->conv];
    ragent *a = r->agents[o->agent];
    if (c->id_len == conv_len && a->id_len == agent_len &&
        id_eq(c->id, conv, conv_len) && id_eq(a->id, agent, agent_len)) {
      *cp = c;
      *ap = a;
      *oi = r->last_offer;
      return 0;
    }
  }
  /* both home slots start loading before either is probed */
  uint32_t hc = ridx_hash(conv, conv_len);
  uint32_t ha = ridx_hash(agent, agent_len);
  if (r->cidx.s && r->aidx.s) {
    RPREFETCH(&r->cidx.s[hc & r->cidx.mask]);
    RPREFETCH(&r->aidx.s[ha & r->aidx.mask]);
  }
  rconv *c = conv_find_h(r, hc, conv, conv_len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", conv, conv_len);
  ragent *a = agent_find_h(r, ha, agent, agent_len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", agent, agent_len);
  *oi = c->state == CR_CONV_OFFERED ? offer_of(r, c, a) : RNIL;
  if (*oi == RNIL)
    return fail(r, CR_ESTATE, "no pending offer of this conversation to",
                agent, agent_len);
  *cp = c;
  *ap = a;
  return 0;
}

int cr_router_accept(cr_router *r, const char *conv, size_t conv_len,
                     const char *agent, size_t agent_len, cr_time now) {
  ENTER(r, now);
  rconv *c;
  ragent *a;
  uint32_t oi;
  int rc = find_pair(r, conv, conv_len, agent, agent_len, &c, &a, &oi);
  if (rc)
    return rc;
  rqueue *q = r->queues[c->queue];
  uint32_t freed[RMAX_RING];
  /* other offers only with ring-all: with one, it is this one */
  uint32_t nf = c->noffers > 1 ? conv_cancel_offers(r, c, oi, now, freed) : 0;
  cr_time ring = now - r->offers[oi].made;
  offer_drop(r, oi);
  hold(a, c->channel); /* the reservation becomes the live conversation */
  a->nactive++;
  a->contacts++;
  a->acc++;
  a->consec = 0;
  q->noffered--;
  r->nconv_offered--;
  q->nactive++;
  q->answered++;
  q->acc++;
  cr_time wait = now - c->arrival;
  if (wait <= q_threshold(q, c->channel))
    q->in_sl++;
  sticky_unlink(r, c);
  c->state = CR_CONV_ASSIGNED;
  c->agent = a->idx;
  c->state_at = now;
  conv_sched(r, c);
  /* The offer's reservation became the conversation: load, status and
   * idle time are as the offer left them, indexed then. Only a fewest-
   * contacts key moved (contacts), or a change the agent still owes its
   * lines (touched, requal); else the walk over its memberships (cold
   * by now in a large centre) would change nothing. */
  if (r->nq_fewest || a->touched || a->requal)
    agent_reindex(r, a);
  emit(r, CR_REV_CONNECT, now, c, a, q, c->channel, wait, ring,
       c->attrs_len ? c->attrs : NULL, c->attrs_len);
  route_agents(r, freed, nf, now);
  return 0;
}

int cr_router_reject(cr_router *r, const char *conv, size_t conv_len,
                     const char *agent, size_t agent_len, cr_time now) {
  ENTER(r, now);
  rconv *c;
  ragent *a;
  uint32_t oi;
  int rc = find_pair(r, conv, conv_len, agent, agent_len, &c, &a, &oi);
  if (rc)
    return rc;
  offer_fail(r, oi, now, 0);
  return 0;
}

static cr_time wrapup_of(const cr_router *r, const ragent *a,
                         const rqueue *q) {
  if (a->wrapup_ms >= 0)
    return a->wrapup_ms;
  if (q->cfg.wrapup_ms >= 0)
    return q->cfg.wrapup_ms;
  return r->cfg.wrapup_ms;
}

int cr_router_end(cr_router *r, const char *id, size_t len, cr_time now) {
  ENTER(r, now);
  uint32_t hc = ridx_hash(id, len); /* for the lookup and the removal */
  rconv *c = conv_find_h(r, hc, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (c->state != CR_CONV_ASSIGNED)
    return fail(r, CR_ESTATE, "conversation is not live", id, len);
  ragent *a = r->agents[c->agent];
  rqueue *q = r->queues[c->queue];
  /* the agent's three first lines at once, not one after another */
  agent_prefetch(a);
  RPREFETCH((const char *)a + 191);
  /* its memberships are read at the reindex below: start loading them
   * while the conversation is taken apart */
  memb_prefetch(r, a);
  cr_time w = wrapup_of(r, a, q);
  if (w > 0 && a->nwrap + 1 > a->wcap) {
    size_t cap = a->wcap;
    if (cr__grow(&r->mem, (void **)&a->wraps, &cap, a->nwrap + 1,
                 sizeof *a->wraps))
      return CR_ENOMEM;
    a->wcap = (uint32_t)cap;
  }
  cr_time handle = now - c->state_at;
  a->talk_ms += handle;
  /* exponentially smoothed handle time, the EWT's service-time estimate */
  double al = r->cfg.aht_alpha;
  q->aht[c->channel] += al * ((double)handle - q->aht[c->channel]);
  q->aht_all += al * ((double)handle - q->aht_all);
  a->nactive--;
  q->nactive--;
  if (w > 0) {
    a->wraps[a->nwrap].until = now + w;
    a->wraps[a->nwrap].ch = c->channel;
    a->nwrap++;
    agent_sched(r, a);
  } else {
    unhold(a, c->channel);
    agent_touch(a, now);
  }
  emit(r, CR_REV_COMPLETE, now, c, a, q, c->channel, handle, w, NULL, 0);
  conv_forget_h(r, c, hc);
  /* The agent's lines are brought up to date once: by the offer that
   * usually follows (make_offer reindexes it), else here. Reindexing
   * before the search too sent it to the back of its lines twice, the
   * first entries going stale at once (written, then skipped or compacted
   * away). The search reads the memberships' tiers: those first if a
   * requirement changed. The order of the lines is the same either way:
   * the agent ends at the back. */
  if (a->requal)
    agent_reindex(r, a);
  if (!route_agent(r, a, now))
    agent_reindex(r, a);
  return 0;
}

/* Detaches c from wherever it is (heap, offers, agent) so it can be
 * re-seated; agents freed are noted for re-routing. */
static uint32_t conv_detach(cr_router *r, rconv *c, cr_time now,
                            uint32_t *freed) {
  rqueue *q = r->queues[c->queue];
  uint32_t nf = 0;
  if (c->state == CR_CONV_WAITING) {
    wait_remove(r, c);
  } else if (c->state == CR_CONV_OFFERED) {
    nf = conv_cancel_offers(r, c, RNIL, now, freed);
    q->noffered--;
    r->nconv_offered--;
  } else if (c->state == CR_CONV_ASSIGNED) {
    ragent *a = r->agents[c->agent];
    a->nactive--;
    q->nactive--;
    unhold(a, c->channel);
    agent_touch(a, now);
    agent_reindex(r, a);
    freed[nf++] = a->idx;
    c->agent = RNIL;
    c->arrival = now; /* a new contact for the next queue */
    c->flags = 0;
    c->attempts = 0;
    memset(c->decl, 0, sizeof c->decl);
  }
  sticky_unlink(r, c);
  c->state = CR_CONV_WAITING;
  c->wake = CR_TIME_NEVER;
  return nf;
}

int cr_router_transfer(cr_router *r, const char *id, size_t len,
                       const char *queue, size_t queue_len,
                       const cr_conv_params *p, cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (c->state == CR_CONV_ABANDONED)
    return fail(r, CR_ESTATE, "conversation has abandoned", id, len);
  int rc = check_id(r, queue, queue_len, "bad queue id");
  if (!rc && p)
    rc = params_check(r, p);
  if (rc)
    return rc;
  rqueue *nq = queue_find(r, queue, queue_len);
  if (!nq)
    return fail(r, CR_ENOTFOUND, "unknown queue", queue, queue_len);
  if (!nq->open)
    return fail(r, CR_ECLOSED, "queue is closed", queue, queue_len);
  rstep *steps = NULL;
  char *attrs = NULL;
  if (p) {
    if ((rc = steps_build(r, p->steps, p->nsteps, &steps)))
      return rc;
    if (p->attrs_len && !(attrs = cr__strndup(&r->mem, p->attrs,
                                              p->attrs_len))) {
      steps_free(r, steps, (unsigned)p->nsteps);
      return CR_ENOMEM;
    }
  }
  uint32_t freed[RMAX_RING];
  uint32_t nf = conv_detach(r, c, now, freed);
  steps_free(r, c->steps, c->nsteps);
  c->steps = steps;
  c->nsteps = p ? (uint8_t)p->nsteps : 0;
  c->step = 0;
  if (p) {
    cr__free(&r->mem, c->attrs);
    c->attrs = attrs;
    c->attrs_len = (uint32_t)p->attrs_len;
    c->channel = (uint8_t)p->channel;
    c->prio = p->priority;
  }
  nq->entered++;
  c->queue = nq->idx;
  c->qenter = c->step_start = now;
  c->eff = conv_eff_calc(r, c);
  wait_insert(r, c);
  emit(r, CR_REV_TRANSFER, now, c, NULL, nq, c->channel, 0, 0, NULL, 0);
  if (c->nsteps)
    enter_step(r, c, now, now);
  if (conv_deadlines(r, c, now))
    route_conv(r, c, now);
  route_agents(r, freed, nf, now);
  run_timers(r, now);
  return 0;
}

static int agent_qualifies(const cr_router *r, const rconv *c,
                           const ragent *a) {
  if (conv_is_sticky(c))
    return c->sticky == a->idx;
  unsigned n;
  const rskill *req = conv_req(r, c, &n);
  return agent_meets(a, req, n);
}

int cr_router_set_steps(cr_router *r, const char *id, size_t len,
                        const cr_route_step *steps, size_t nsteps,
                        cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (c->state != CR_CONV_WAITING && c->state != CR_CONV_OFFERED)
    return fail(r, CR_ESTATE, "conversation is not queued", id, len);
  rstep *st;
  int rc = steps_build(r, steps, nsteps, &st);
  if (rc)
    return rc;
  sticky_unlink(r, c);
  steps_free(r, c->steps, c->nsteps);
  c->steps = st;
  c->nsteps = (uint8_t)nsteps;
  c->step = 0;
  c->step_start = now;
  if (c->nsteps)
    enter_step(r, c, now, now);
  conv_reseat(r, c);
  uint32_t freed[RMAX_RING], nf = 0;
  int alive = 1;
  if (c->state == CR_CONV_OFFERED) {
    uint32_t oi = c->ohead;
    while (oi != RNIL) {
      uint32_t next = r->offers[oi].next_c;
      ragent *a = r->agents[r->offers[oi].agent];
      if (!agent_qualifies(r, c, a)) {
        offer_drop(r, oi);
        agent_touch(a, now);
        agent_reindex(r, a);
        emit(r, CR_REV_RINGCANCELED, now, c, a, r->queues[c->queue],
             c->channel, 0, 0, NULL, 0);
        if (nf < RMAX_RING)
          freed[nf++] = a->idx;
      }
      oi = next;
    }
    if (c->noffers == 0)
      alive = conv_unoffer(r, c, now);
  }
  if (alive) {
    c->wake = CR_TIME_NEVER;
    if (conv_deadlines(r, c, now))
      route_conv(r, c, now);
  }
  route_agents(r, freed, nf, now);
  run_timers(r, now);
  return 0;
}

int cr_router_set_priority(cr_router *r, const char *id, size_t len,
                           int priority, cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (priority < 0 || priority > CR_ROUTER_MAX_PRIORITY)
    return fail(r, CR_ERANGE, "priority out of range", NULL, 0);
  c->prio = priority;
  conv_reprio(r, c);
  emit(r, CR_REV_PRIORITY, now, c, NULL, r->queues[c->queue], c->channel,
       c->eff, 0, NULL, 0);
  return 0;
}

int cr_router_set_channel(cr_router *r, const char *id, size_t len,
                          int channel, cr_time now) {
  ENTER(r, now);
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  if (channel < 0 || channel >= RCH)
    return fail(r, CR_EINVAL, "unknown channel", NULL, 0);
  if (c->state == CR_CONV_ABANDONED)
    return fail(r, CR_ESTATE, "conversation has abandoned", id, len);
  int old = c->channel;
  if (channel == old)
    return 0;
  rqueue *q = r->queues[c->queue];
  if (c->state == CR_CONV_ASSIGNED) {
    ragent *a = r->agents[c->agent];
    unhold(a, (unsigned)old);
    if (!fits(a, (unsigned)channel)) {
      hold(a, (unsigned)old);
      return fail(r, CR_EFULL, "agent has no room on the new channel",
                  a->id, a->id_len);
    }
    hold(a, (unsigned)channel);
    c->channel = (uint8_t)channel;
    agent_reindex(r, a);
    emit(r, CR_REV_CHANNEL, now, c, a, q, channel, old, 0, NULL, 0);
    route_agent(r, a, now);
    return 0;
  }
  uint32_t freed[RMAX_RING];
  uint32_t nf = conv_detach(r, c, now, freed);
  c->channel = (uint8_t)channel;
  c->eff = conv_eff_calc(r, c);
  wait_insert(r, c);
  emit(r, CR_REV_CHANNEL, now, c, NULL, q, channel, old, 0, NULL, 0);
  if (conv_deadlines(r, c, now))
    route_conv(r, c, now);
  route_agents(r, freed, nf, now);
  run_timers(r, now);
  return 0;
}

int cr_router_conv_info(cr_router *r, const char *id, size_t len,
                        cr_conv_info *out) {
  if (!r || !out)
    return CR_EINVAL;
  rconv *c = conv_find(r, id, len);
  if (!c)
    return fail(r, CR_ENOTFOUND, "unknown conversation", id, len);
  memset(out, 0, sizeof *out);
  out->state = c->state;
  out->channel = c->channel;
  out->priority = c->prio;
  out->effective_priority = c->eff;
  out->arrival = c->arrival;
  out->step = c->step;
  out->queue = r->queues[c->queue]->id;
  out->queue_len = r->queues[c->queue]->id_len;
  if (c->state == CR_CONV_ASSIGNED) {
    out->agent = r->agents[c->agent]->id;
    out->agent_len = r->agents[c->agent]->id_len;
  }
  out->offers = c->noffers;
  return 0;
}

/* ------------------------------------------------------------------ */
/* configuration */

void cr_router_config_init(cr_router_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->offer_timeout_ms = 120000;
  cfg->auto_away_misses = 3;
  cfg->wrapup_ms = 0;
  cfg->reentry_grace_ms = 60000;
  cfg->decline_block_ms = 30000;
  cfg->seed = 1;
  cfg->aht_alpha = 0.1;
}

void cr_queue_config_init(cr_queue_config *cfg) {
  /* 80/20 for voice and live chat; messaging apps are asynchronous (a
   * minute); email and back-office tasks are measured in hours. */
  static const cr_time thr[RCH] = {20000, 20000, 60000, 60000,
                                   60000, 3600000, 3600000};
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->strategy = CR_STRATEGY_LONGEST_IDLE;
  for (unsigned ch = 0; ch < RCH; ch++) {
    cfg->sl_threshold_ms[ch] = thr[ch];
    cfg->sl_target[ch] = 0.8;
  }
  cfg->max_wait_action = CR_MAXWAIT_REPORT;
  cfg->wrapup_ms = -1;
  cfg->ring_all_max = 8;
  cfg->aht_hint_ms = 300000;
}

void cr_agent_config_init(cr_agent_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->wrapup_ms = -1;
}

void cr_conv_params_init(cr_conv_params *p) {
  if (!p)
    return;
  memset(p, 0, sizeof *p);
  p->channel = CR_CHANNEL_CHAT;
}

static uint64_t splitmix(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int rcfg_check(const cr_router_config *c) {
  if (c->offer_timeout_ms <= 0 || c->wrapup_ms < 0 ||
      c->reentry_grace_ms < 0 || c->decline_block_ms < 0 ||
      !RDUR_OK(c->offer_timeout_ms) || !RDUR_OK(c->wrapup_ms) ||
      !RDUR_OK(c->reentry_grace_ms) || !RDUR_OK(c->decline_block_ms))
    return CR_ERANGE;
  if (!(c->aht_alpha > 0 && c->aht_alpha <= 1))
    return CR_ERANGE;
  return 0;
}

int cr__router_alloc(cr_router **out, const cr_mem *mem,
                     const cr_router_config *cfg) {
  cr_mem m;
  int rc = cr__mem_init(&m, mem);
  if (rc)
    return rc;
  cr_router *r = cr__calloc(&m, 1, sizeof *r);
  if (!r)
    return CR_ENOMEM;
  r->mem = m;
  r->cfg = *cfg;
  r->rng = splitmix(cfg->seed) | 1;
  r->now = INT64_MIN;
  rwline_init(&r->timers);
  r->tnext = CR_TIME_NEVER;
  r->last_queue = r->last_offer = RNIL;
  *out = r;
  return 0;
}

int cr_router_new(cr_router **out, const cr_mem *mem,
                  const cr_router_config *cfg) {
  if (!out)
    return CR_EINVAL;
  *out = NULL;
  cr_router_config c;
  if (cfg)
    c = *cfg;
  else
    cr_router_config_init(&c);
  int rc = rcfg_check(&c);
  if (rc)
    return rc;
  return cr__router_alloc(out, mem, &c);
}

static void agent_free(cr_router *r, ragent *a) {
  cr__free(&r->mem, a->skills);
  cr__free(&r->mem, a->wraps);
  cr__free(&r->mem, a);
}

void cr_router_del(cr_router *r) {
  if (!r)
    return;
  const cr_mem *cr__hmem = &r->mem;
  cr__free(&r->mem, r->cidx.s);
  cr__free(&r->mem, r->aidx.s);
  cr__free(&r->mem, r->qidx.s);
  HASH_CLEAR(hh, r->qhash);
  HASH_CLEAR(hh, r->shash);
  for (uint32_t i = 0; i < r->cpool.hwm; i++)
    if (r->convs[i])
      cr__router_free_conv(r, r->convs[i]);
  for (uint32_t i = 0; i < r->ncslab; i++)
    cr__free(&r->mem, r->cslab[i]);
  cr__free(&r->mem, r->cslab);
  for (uint32_t i = 0; i < r->apool.hwm; i++)
    if (r->agents[i])
      agent_free(r, r->agents[i]);
  for (uint32_t i = 0; i < r->nqueues; i++) {
    if (!r->queues[i])
      continue;
    for (unsigned ch = 0; ch < RCH; ch++) {
      cr__free(&r->mem, r->queues[i]->memb[ch].a);
      cr__free(&r->mem, r->queues[i]->memb_lo[ch].a);
    }
    for (uint32_t li = 0; li < r->queues[i]->nlv; li++)
      lv_free(r, &r->queues[i]->lv[li]);
    cr__free(&r->mem, r->queues[i]->lv);
    cr__free(&r->mem, r->queues[i]->id);
    cr__free(&r->mem, r->queues[i]);
  }
  for (uint32_t i = 0; i < r->nskills; i++) {
    cr__free(&r->mem, r->skills[i]->name);
    cr__free(&r->mem, r->skills[i]);
  }
  cr__free(&r->mem, r->convs);
  cr__free(&r->mem, r->cpool.free);
  cr__free(&r->mem, r->agents);
  cr__free(&r->mem, r->apool.free);
  cr__free(&r->mem, r->members);
  cr__free(&r->mem, r->mcold);
  cr__free(&r->mem, r->mpool.free);
  cr__free(&r->mem, r->offers);
  cr__free(&r->mem, r->opool.free);
  cr__free(&r->mem, r->queues);
  cr__free(&r->mem, r->skills);
  cr_mem m = r->mem;
  cr__free(&m, r);
}

const char *cr_router_errmsg(const cr_router *r) { return r ? r->err : ""; }

int cr_router_set_callbacks(cr_router *r, const cr_router_callbacks *cb) {
  if (!r)
    return CR_EINVAL;
  if (r->in_cb)
    return CR_ESTATE;
  if (cb)
    r->cb = *cb;
  else
    memset(&r->cb, 0, sizeof r->cb);
  r->ev_take = takers(&r->cb);
  return 0;
}

cr_time cr_router_next_expiry(const cr_router *r) {
  return r ? r->tnext : CR_TIME_NEVER;
}

int cr_router_tick(cr_router *r, cr_time now) {
  ENTER(r, now);
  return 0;
}

/* ------------------------------------------------------------------ */
/* memberships */

static uint32_t member_of(const cr_router *r, const ragent *a, uint32_t qi) {
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a)
    if (r->members[mi].queue == qi)
      return mi;
  return RNIL;
}

/* The pool must have a free slot and q a level for prio (reserved by the
 * caller). */
static uint32_t member_add(cr_router *r, ragent *a, rqueue *q, int prio,
                           cr_time delay, cr_time t) {
  uint32_t mi = pool_take(&r->mpool);
  rmember *m = &r->members[mi];
  rmcold *mc = &r->mcold[mi];
  memset(m, 0, sizeof *m);
  memset(mc, 0, sizeof *mc);
  m->used = 1;
  m->agent = a->idx;
  m->queue = q->idx;
  m->prio = prio;
  m->delayed = delay != 0;
  mc->delay = delay;
  mc->k1 = mc->k2 = UINT64_MAX;
  mc->rr = ++q->rr_counter;
  mc->rnd = q->rnd_clock + rng_exp(r);
  for (unsigned ch = 0; ch < RCH; ch++) {
    mc->pos[ch] = RNIL;
    q->nhandle[ch] += a->maxc[ch] ? 1 : 0;
  }
  q->lv[lv_find(q, prio)].nmemb++;
  lv_count(q, prio, a->maxc, +1);
  m->prev_a = RNIL;
  m->next_a = a->mhead;
  if (a->mhead != RNIL)
    r->members[a->mhead].prev_a = mi;
  a->mhead = mi;
  mc->prev_q = RNIL;
  mc->next_q = q->mhead;
  if (q->mhead != RNIL)
    r->mcold[q->mhead].prev_q = mi;
  q->mhead = mi;
  q->nmembers++;
  a->requal = 1;
  if (a->status == CR_AGENT_AVAILABLE)
    member_staff(r, a, m, +1);
  emit(r, CR_REV_ADDMEMBER, t, NULL, a, q, -1, prio, delay, NULL, 0);
  return mi;
}

static void member_del(cr_router *r, uint32_t mi, cr_time t) {
  rmember *m = &r->members[mi];
  ragent *a = r->agents[m->agent];
  rqueue *q = r->queues[m->queue];
  member_detach(r, mi);
  for (unsigned ch = 0; ch < RCH; ch++)
    q->nhandle[ch] -= a->maxc[ch] ? 1 : 0;
  lv_count(q, m->prio, a->maxc, -1);
  lv_release(r, q, m->prio);
  if (a->status == CR_AGENT_AVAILABLE)
    member_staff(r, a, m, -1);
  if (m->prev_a != RNIL)
    r->members[m->prev_a].next_a = m->next_a;
  else
    a->mhead = m->next_a;
  if (m->next_a != RNIL)
    r->members[m->next_a].prev_a = m->prev_a;
  const rmcold *mc = &r->mcold[mi];
  if (mc->prev_q != RNIL)
    r->mcold[mc->prev_q].next_q = mc->next_q;
  else
    q->mhead = mc->next_q;
  if (mc->next_q != RNIL)
    r->mcold[mc->next_q].prev_q = mc->prev_q;
  q->nmembers--;
  m->used = 0;
  pool_put(&r->mpool, mi);
  emit(r, CR_REV_REMOVEMEMBER, t, NULL, a, q, -1, 0, 0, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* queues */

static int qcfg_check(cr_router *r, const cr_queue_config *c, rqueue *self,
                      rskill *sk, uint32_t *overflow) {
  if (c->strategy < 0 || c->strategy >= CR_STRATEGY_COUNT)
    return fail(r, CR_EINVAL, "unknown strategy", NULL, 0);
  if (c->auto_members != 0 && c->auto_members != 1)
    return fail(r, CR_EINVAL, "auto_members must be 0 or 1", NULL, 0);
  for (unsigned ch = 0; ch < RCH; ch++)
    if (c->sl_threshold_ms[ch] <= 0 || !RDUR_OK(c->sl_threshold_ms[ch]) ||
        !(c->sl_target[ch] >= 0) || c->sl_target[ch] > 1)
      return fail(r, CR_ERANGE, "service level threshold/target", NULL, 0);
  if (c->urgency_percent < 0 || c->urgency_percent > 1000 ||
      c->urgency_boost < 0 || c->urgency_boost > CR_ROUTER_MAX_PRIORITY ||
      c->escalate_boost < 0 || c->escalate_boost > CR_ROUTER_MAX_PRIORITY)
    return fail(r, CR_ERANGE, "urgency/escalation", NULL, 0);
  if (c->max_wait_ms < 0 || c->escalate_before_ms < 0 ||
      c->overflow_after_ms < 0 || c->overflow_ewt_ms < 0 ||
      !RDUR_OK(c->max_wait_ms) || !RDUR_OK(c->escalate_before_ms) ||
      !RDUR_OK(c->overflow_after_ms) || !RDUR_OK(c->overflow_ewt_ms) ||
      !RDUR_OK(c->wrapup_ms) || !RDUR_OK(c->offer_timeout_ms) ||
      !RDUR_OK(c->aht_hint_ms))
    return fail(r, CR_ERANGE, "duration out of range", NULL, 0);
  if (c->max_wait_action != CR_MAXWAIT_REPORT &&
      c->max_wait_action != CR_MAXWAIT_EXIT)
    return fail(r, CR_EINVAL, "unknown max_wait_action", NULL, 0);
  if (c->ring_all_max < 1 || c->ring_all_max > RMAX_RING)
    return fail(r, CR_ERANGE, "ring_all_max must be 1..64", NULL, 0);
  if (!(c->overflow_sl_below >= 0) || c->overflow_sl_below > 1)
    return fail(r, CR_ERANGE, "overflow_sl_below must be 0..1", NULL, 0);
  if (c->aht_hint_ms <= 0)
    return fail(r, CR_ERANGE, "aht_hint_ms must be positive", NULL, 0);
  *overflow = RNIL;
  if (c->overflow_queue || c->overflow_queue_len) {
    int rc = check_id(r, c->overflow_queue, c->overflow_queue_len,
                      "bad overflow queue id");
    if (rc)
      return rc;
    rqueue *oq = queue_find(r, c->overflow_queue, c->overflow_queue_len);
    if (!oq)
      return fail(r, CR_ENOTFOUND, "unknown overflow queue",
                  c->overflow_queue, c->overflow_queue_len);
    if (oq == self)
      return fail(r, CR_EINVAL, "a queue cannot overflow to itself", NULL,
                  0);
    *overflow = oq->idx;
  }
  return skills_in(r, c->skills, c->nskills, CR_ROUTER_MAX_STEP_SKILLS, sk,
                   "queue skills is NULL");
}

/* Members an auto_members queue gains or loses for the agent. */
static int auto_wants(const rqueue *q, const ragent *a) {
  return q->cfg.auto_members && agent_meets(a, q->skills, q->nskills);
}

/* Brings the queue's memberships in line with auto_members (all agents,
 * index order). needed: how many memberships would be created. */
static uint32_t queue_auto_needed(const cr_router *r, const rqueue *q) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    const ragent *a = r->agents[i];
    if (a && auto_wants(q, a) && member_of(r, a, q->idx) == RNIL)
      n++;
  }
  return n;
}

/* Member-heap room for every agent queue_auto_apply would add. */
static int queue_auto_reserve(cr_router *r, rqueue *q) {
  uint32_t add[RCH] = {0};
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    const ragent *a = r->agents[i];
    if (a && auto_wants(q, a) && member_of(r, a, q->idx) == RNIL)
      for (unsigned ch = 0; ch < RCH; ch++)
        add[ch] += a->maxc[ch] ? 1 : 0;
  }
  if (q_fifo(q)) { /* every level: q may be switching from a heap */
    for (uint32_t li = 0; li < q->nlv; li++)
      if (lv_ring_reserve(r, q, q->lv[li].prio, q->lv[li].prio ? NULL : add))
        return CR_ENOMEM;
    return 0;
  }
  /* a queue switching from a line strategy has no heap yet: room for
   * every member */
  for (unsigned ch = 0; ch < RCH; ch++)
    if (q->nhandle[ch] + add[ch] &&
        mh_reserve2(r, q, ch, q->nhandle[ch] + add[ch]))
      return CR_ENOMEM;
  return 0;
}

static void queue_auto_apply(cr_router *r, rqueue *q, cr_time t) {
  if (!q->cfg.auto_members)
    return;
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    ragent *a = r->agents[i];
    if (!a)
      continue;
    uint32_t mi = member_of(r, a, q->idx);
    int want = auto_wants(q, a);
    if (want && mi == RNIL)
      member_add(r, a, q, 0, 0, t);
    else if (!want && mi != RNIL)
      member_del(r, mi, t);
    else
      continue;
    agent_reindex(r, a);
  }
}

static void queue_reindex_members(cr_router *r, rqueue *q, cr_time t) {
  for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q) {
    ragent *a = r->agents[r->members[mi].agent];
    a->requal = 1;
    agent_reindex(r, a);
  }
  for (uint32_t mi = q->mhead; mi != RNIL;) {
    uint32_t next = r->mcold[mi].next_q;
    route_agent(r, r->agents[r->members[mi].agent], t);
    mi = next;
  }
}

static void queue_set_cfg(rqueue *q, const cr_queue_config *cfg,
                          const rskill *sk, uint32_t overflow) {
  q->cfg = *cfg;
  q->cfg.skills = NULL;
  q->cfg.overflow_queue = NULL;
  q->cfg.overflow_queue_len = 0;
  memcpy(q->skills, sk, cfg->nskills * sizeof *sk);
  q->nskills = (uint8_t)cfg->nskills;
  q->overflow = overflow;
}

int cr_router_queue_add(cr_router *r, const char *id, size_t len,
                        const cr_queue_config *cfg, cr_time now) {
  ENTER(r, now);
  cr_queue_config c;
  if (cfg)
    c = *cfg;
  else
    cr_queue_config_init(&c);
  int rc = check_id(r, id, len, "bad queue id");
  if (rc)
    return rc;
  if (queue_find(r, id, len))
    return fail(r, CR_EEXIST, "queue exists", id, len);
  rskill sk[CR_ROUTER_MAX_STEP_SKILLS];
  uint32_t overflow;
  if ((rc = qcfg_check(r, &c, NULL, sk, &overflow)))
    return rc;
  if (r->nqueues >= TT_MASK)
    return fail(r, CR_EFULL, "too many queues", NULL, 0);
  size_t cap = r->qcap;
  if (cr__grow(&r->mem, (void **)&r->queues, &cap, r->nqueues + 1,
               sizeof *r->queues))
    return CR_ENOMEM;
  r->qcap = (uint32_t)cap;
  rqueue *q = cr__calloc(&r->mem, 1, sizeof *q);
  if (!q)
    return CR_ENOMEM;
  q->id = cr__strndup(&r->mem, id, len);
  q->id_len = (uint32_t)len;
  q->idx = r->nqueues;
  queue_set_cfg(q, &c, sk, overflow);
  uint32_t need = q->id ? queue_auto_needed(r, q) : 0;
  const cr_mem *cr__hmem = &r->mem;
  int cr__hoom = 0;
  if (q->id && !lv_reserve(r, q, 0) &&
      !(need && cr__router_mpool_reserve(r, need)) &&
      !queue_auto_reserve(r, q) && !cr__ridx_reserve(r, &r->qidx, 1))
    HASH_ADD_KEYPTR(hh, r->qhash, q->id, len, q);
  else
    cr__hoom = 1;
  if (cr__hoom) {
    for (unsigned ch = 0; ch < RCH; ch++) {
      cr__free(&r->mem, q->memb[ch].a);
      cr__free(&r->mem, q->memb_lo[ch].a);
    }
    for (uint32_t li = 0; li < q->nlv; li++)
      lv_free(r, &q->lv[li]);
    cr__free(&r->mem, q->lv);
    cr__free(&r->mem, q->id);
    cr__free(&r->mem, q);
    return CR_ENOMEM;
  }
  for (unsigned ch = 0; ch < RCH; ch++) {
    rwline_init(&q->wait[ch]);
    rwline_init(&q->waitc[ch]);
    q->aht[ch] = (double)c.aht_hint_ms;
  }
  q->aht_all = (double)c.aht_hint_ms;
  q->mhead = RNIL;
  q->open = 1;
  cr__ridx_put(&r->qidx, ridx_hash(q->id, len), q->idx, q);
  r->nq_fewest += q->cfg.strategy == CR_STRATEGY_FEWEST_CONTACTS;
  r->queues[r->nqueues++] = q;
  queue_auto_apply(r, q, now);
  queue_reindex_members(r, q, now);
  return 0;
}

int cr_router_queue_update(cr_router *r, const char *id, size_t len,
                           const cr_queue_config *cfg, cr_time now) {
  ENTER(r, now);
  rqueue *q = queue_find(r, id, len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", id, len);
  if (!cfg)
    return fail(r, CR_EINVAL, "config is NULL", NULL, 0);
  rskill sk[CR_ROUTER_MAX_STEP_SKILLS];
  uint32_t overflow;
  int rc = qcfg_check(r, cfg, q, sk, &overflow);
  if (rc)
    return rc;
  /* an overflow cycle would bounce conversations forever */
  for (uint32_t o = overflow; o != RNIL; o = r->queues[o]->overflow)
    if (o == q->idx)
      return fail(r, CR_EINVAL, "overflow cycle", id, len);
  rqueue tmp = *q;
  queue_set_cfg(&tmp, cfg, sk, overflow);
  uint32_t need = queue_auto_needed(r, &tmp);
  rc = need && cr__router_mpool_reserve(r, need);
  if (!rc)
    rc = queue_auto_reserve(r, &tmp);
  for (unsigned ch = 0; ch < RCH; ch++) { /* tmp may have grown (moved)
                                              them, even on failure */
    q->memb[ch] = tmp.memb[ch];
    q->memb_lo[ch] = tmp.memb_lo[ch];
  }
  if (rc)
    return CR_ENOMEM;
  if (q_fifo(q) != q_fifo(&tmp)) {
    /* heaps <-> lists: every member out of the old index; the reindex
     * below puts them into the new one */
    for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q)
      member_detach(r, mi);
    for (unsigned ch = 0; q_fifo(&tmp) && ch < RCH; ch++) {
      cr__free(&r->mem, q->memb[ch].a);
      cr__free(&r->mem, q->memb_lo[ch].a);
      memset(&q->memb[ch], 0, sizeof q->memb[ch]);
      memset(&q->memb_lo[ch], 0, sizeof q->memb_lo[ch]);
    }
  }
  cr_time old_hint = q->cfg.aht_hint_ms;
  r->nq_fewest -= q->cfg.strategy == CR_STRATEGY_FEWEST_CONTACTS;
  queue_set_cfg(q, cfg, sk, overflow);
  r->nq_fewest += q->cfg.strategy == CR_STRATEGY_FEWEST_CONTACTS;
  if (cfg->aht_hint_ms != old_hint)
    for (unsigned ch = 0; ch < RCH; ch++)
      if (q->answered == 0)
        q->aht[ch] = (double)cfg->aht_hint_ms;
  queue_auto_apply(r, q, now);
  /* priorities, step deadlines and strategy keys may all have moved */
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    rconv *c = r->convs[i];
    if (c && c->queue == q->idx && c->state != CR_CONV_ASSIGNED) {
      conv_reprio(r, c);
      conv_sched(r, c);
    }
  }
  queue_reindex_members(r, q, now);
  run_timers(r, now);
  return 0;
}

int cr_router_queue_set_open(cr_router *r, const char *id, size_t len,
                             int open, cr_time now) {
  ENTER(r, now);
  rqueue *q = queue_find(r, id, len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", id, len);
  open = open ? 1 : 0;
  if (q->open == open)
    return 0;
  q->open = (uint8_t)open;
  emit(r, open ? CR_REV_QUEUEOPEN : CR_REV_QUEUECLOSE, now, NULL, NULL, q, -1,
       0, 0, NULL, 0);
  return 0;
}

int cr_router_ewt(cr_router *r, const char *queue, size_t len, int channel,
                  cr_time now, cr_time *ewt_ms) {
  ENTER(r, now);
  if (!ewt_ms || channel < 0 || channel >= RCH)
    return fail(r, CR_EINVAL, "bad channel or NULL output", NULL, 0);
  rqueue *q = queue_find(r, queue, len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", queue, len);
  *ewt_ms = ewt_calc(q, (unsigned)channel);
  return 0;
}

int cr_router_queue_stats(cr_router *r, const char *id, size_t len,
                          cr_time now, cr_queue_stats *out) {
  ENTER(r, now);
  if (!out)
    return CR_EINVAL;
  rqueue *q = queue_find(r, id, len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", id, len);
  memset(out, 0, sizeof *out);
  for (unsigned ch = 0; ch < RCH; ch++)
    out->waiting += wl_n(&q->wait[ch]) + wl_n(&q->waitc[ch]);
  out->offered = q->noffered;
  out->active = q->nactive;
  /* supervisor figures: linear in this queue's members and the waiting
   * conversations, off the routing path */
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    const rconv *c = r->convs[i];
    if (c && c->queue == q->idx &&
        (c->state == CR_CONV_WAITING || c->state == CR_CONV_OFFERED) &&
        now - c->arrival > out->longest_wait_ms)
      out->longest_wait_ms = now - c->arrival;
  }
  uint64_t used = 0, cap = 0;
  for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q) {
    const rmember *m = &r->members[mi];
    const ragent *a = r->agents[m->agent];
    out->members++;
    if (a->status == CR_AGENT_OFFLINE)
      continue;
    out->members_logged_in++;
    if (m->inmask)
      out->agents_available++;
    if (a->total) {
      used += a->cost_used;
      cap += a->total;
    } else {
      for (unsigned ch = 0; ch < RCH; ch++) {
        used += a->load[ch];
        cap += a->maxc[ch];
      }
    }
  }
  out->occupancy = cap ? (double)used / (double)cap : 0;
  out->entered = q->entered;
  out->answered = q->answered;
  out->abandoned = q->abandoned;
  out->timed_out = q->timed_out;
  out->overflowed_out = q->overflowed_out;
  out->answered_in_sl = q->in_sl;
  out->abandoned_after_sl = q->ab_after_sl;
  out->service_level = sl_calc(q);
  out->offers_accepted = q->acc;
  out->offers_rejected = q->rej;
  out->offers_missed = q->miss;
  out->aht_ms = (cr_time)(q->aht_all + 0.5);
  return 0;
}

/* ------------------------------------------------------------------ */
/* agents */

#define RMAX_AGENT_SKILLS 255

static int acfg_check(cr_router *r, const cr_agent_config *c, rskill *sk) {
  int any = 0;
  for (unsigned ch = 0; ch < RCH; ch++) {
    if (c->max_per_channel[ch] > 0xFFFF)
      return fail(r, CR_ERANGE, "channel maximum above 65535", NULL, 0);
    if (c->max_per_channel[ch])
      any = 1;
    if (c->total_capacity && c->max_per_channel[ch] &&
        c->cost[ch] > c->total_capacity)
      return fail(r, CR_EINVAL, "a channel costs more than total capacity",
                  NULL, 0);
  }
  if (!any)
    return fail(r, CR_EINVAL, "capacity 0: no channel has a maximum", NULL,
                0);
  if (!RDUR_OK(c->wrapup_ms))
    return fail(r, CR_ERANGE, "wrap-up too long", NULL, 0);
  int rc = skills_in(r, c->skills, c->nskills, RMAX_AGENT_SKILLS, sk,
                     "agent skills is NULL");
  if (rc)
    return rc;
  for (size_t i = 1; i < c->nskills; i++) /* sorted for binary search */
    for (size_t j = i; j > 0 && sk[j - 1].id > sk[j].id; j--) {
      rskill t = sk[j];
      sk[j] = sk[j - 1];
      sk[j - 1] = t;
    }
  return 0;
}

static void agent_set_cfg(ragent *a, const cr_agent_config *c) {
  a->total = c->total_capacity;
  a->cost_used = 0;
  a->chmask = 0;
  for (unsigned ch = 0; ch < RCH; ch++) {
    a->chmask |= (uint8_t)((c->max_per_channel[ch] ? 1u : 0u) << ch);
    a->maxc[ch] = c->max_per_channel[ch];
    a->cost[ch] = c->cost[ch];
    a->cost_used += a->total ? a->load[ch] * a->cost[ch] : 0;
  }
  a->wrapup_ms = c->wrapup_ms;
}

static uint32_t agent_auto_needed(const cr_router *r, const ragent *a) {
  uint32_t n = 0;
  for (uint32_t qi = 0; qi < r->nqueues; qi++)
    if (auto_wants(r->queues[qi], a) && member_of(r, a, qi) == RNIL)
      n++;
  return n;
}

/* Member-heap room for the agent (with capacity maxc) in every queue it
 * is or will be a member of, for channels it does not take there yet. */
static int agent_heap_reserve(cr_router *r, const ragent *a,
                              const uint32_t *maxc) {
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    rqueue *q = r->queues[qi];
    uint32_t mi = member_of(r, a, qi);
    int member = mi != RNIL;
    if (!member && !auto_wants(q, a))
      continue;
    if (q_fifo(q)) {
      uint32_t extra[RCH];
      for (unsigned ch = 0; ch < RCH; ch++)
        extra[ch] = maxc[ch] && (!member || !a->maxc[ch]) ? 1 : 0;
      if (lv_ring_reserve(r, q, member ? r->members[mi].prio : 0, extra))
        return CR_ENOMEM;
      continue;
    }
    for (unsigned ch = 0; ch < RCH; ch++)
      if (maxc[ch] && (!member || !a->maxc[ch]) &&
          mh_reserve2(r, q, ch, q->nhandle[ch] + 1))
        return CR_ENOMEM;
  }
  return 0;
}

static void agent_auto_apply(cr_router *r, ragent *a, cr_time t) {
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    rqueue *q = r->queues[qi];
    if (!q->cfg.auto_members)
      continue;
    uint32_t mi = member_of(r, a, qi);
    int want = auto_wants(q, a);
    if (want && mi == RNIL)
      member_add(r, a, q, 0, 0, t);
    else if (!want && mi != RNIL)
      member_del(r, mi, t);
  }
}

int cr_router_agent_add(cr_router *r, const char *id, size_t len,
                        const cr_agent_config *cfg, cr_time now) {
  ENTER(r, now);
  int rc = check_id(r, id, len, "bad agent id");
  if (rc)
    return rc;
  if (!cfg)
    return fail(r, CR_EINVAL, "config is NULL", NULL, 0);
  if (agent_find(r, id, len))
    return fail(r, CR_EEXIST, "agent exists", id, len);
  rskill sk[RMAX_AGENT_SKILLS];
  if ((rc = acfg_check(r, cfg, sk)))
    return rc;
  ragent *a = cr__calloc(&r->mem, 1, sizeof *a + len + 1);
  if (a) {
    a->id = a->idbuf;
    memcpy(a->idbuf, id, len);
  }
  if (a && a->id && cfg->nskills)
    a->skills = cr__malloc(&r->mem, cfg->nskills * sizeof *sk);
  if (!a || !a->id || (cfg->nskills && !a->skills) ||
      pool_reserve(r, &r->apool, (void **)&r->agents, sizeof(ragent *), 1))
    goto oom;
  if (cfg->nskills)
    memcpy(a->skills, sk, cfg->nskills * sizeof *sk);
  a->nskills = (uint16_t)cfg->nskills;
  a->mhead = a->ohead = a->otail = a->sticky_head = RNIL;
  uint32_t need = agent_auto_needed(r, a);
  if ((need && cr__router_mpool_reserve(r, need)) ||
      agent_heap_reserve(r, a, cfg->max_per_channel) ||
      cr__ridx_reserve(r, &r->aidx, 1))
    goto oom;
  a->id_len = (uint32_t)len;
  a->idx = pool_take(&r->apool);
  cr__ridx_put(&r->aidx, ridx_hash(a->id, len), a->idx, a);
  r->agents[a->idx] = a;
  a->seq = ++r->seq;
  a->status = CR_AGENT_OFFLINE;
  a->idle_since = a->login_at = now;
  a->tdue = CR_TIME_NEVER;
  a->tnode.child = a->tnode.sib = a->tnode.prev = RNIL;
  a->mhead = a->ohead = a->otail = a->sticky_head = RNIL;
  agent_set_cfg(a, cfg);
  agent_auto_apply(r, a, now);
  agent_reindex(r, a);
  return 0;
oom:
  if (a)
    agent_free(r, a);
  return CR_ENOMEM;
}

int cr_router_agent_update(cr_router *r, const char *id, size_t len,
                           const cr_agent_config *cfg, cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, id, len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", id, len);
  if (!cfg)
    return fail(r, CR_EINVAL, "config is NULL", NULL, 0);
  rskill sk[RMAX_AGENT_SKILLS];
  int rc = acfg_check(r, cfg, sk);
  if (rc)
    return rc;
  uint64_t cost = 0;
  for (unsigned ch = 0; ch < RCH; ch++) {
    if (a->load[ch] > cfg->max_per_channel[ch])
      return fail(r, CR_EFULL, "agent holds more than the new maximum", id,
                  len);
    cost += (uint64_t)a->load[ch] * cfg->cost[ch];
  }
  if (cfg->total_capacity && cost > cfg->total_capacity)
    return fail(r, CR_EFULL, "agent holds more than the new total", id, len);
  rskill *nsk = NULL;
  if (cfg->nskills && !(nsk = cr__malloc(&r->mem, cfg->nskills * sizeof *sk)))
    return CR_ENOMEM;
  if (cfg->nskills)
    memcpy(nsk, sk, cfg->nskills * sizeof *sk);
  rskill *old = a->skills;
  uint16_t oldn = a->nskills;
  a->skills = nsk;
  a->nskills = (uint16_t)cfg->nskills;
  uint32_t need = agent_auto_needed(r, a);
  if ((need && cr__router_mpool_reserve(r, need)) ||
      agent_heap_reserve(r, a, cfg->max_per_channel)) {
    a->skills = old;
    a->nskills = oldn;
    cr__free(&r->mem, nsk);
    return CR_ENOMEM;
  }
  cr__free(&r->mem, old);
  agent_staff(r, a, -1);
  for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
    rqueue *q = r->queues[r->members[mi].queue];
    for (unsigned ch = 0; ch < RCH; ch++)
      q->nhandle[ch] += (cfg->max_per_channel[ch] ? 1u : 0u) -
                        (a->maxc[ch] ? 1u : 0u);
    lv_count(q, r->members[mi].prio, a->maxc, -1);
    lv_count(q, r->members[mi].prio, cfg->max_per_channel, +1);
  }
  agent_set_cfg(a, cfg);
  agent_staff(r, a, +1);
  agent_auto_apply(r, a, now);
  a->requal = 1;
  agent_reindex(r, a);
  route_agent(r, a, now);
  return 0;
}

int cr_router_agent_remove(cr_router *r, const char *id, size_t len,
                           cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, id, len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", id, len);
  if (a->noffers || a->nactive || a->nwrap)
    return fail(r, CR_ESTATE, "agent still holds conversations", id, len);
  set_status(r, a, CR_AGENT_OFFLINE, NULL, 0, now);
  while (a->mhead != RNIL)
    member_del(r, a->mhead, now);
  ridx_del(&r->aidx, ridx_hash(a->id, a->id_len), a->idx);
  r->agents[a->idx] = NULL;
  pool_put(&r->apool, a->idx);
  agent_free(r, a);
  return 0;
}

int cr_router_agent_join(cr_router *r, const char *agent, size_t agent_len,
                         const char *queue, size_t queue_len, int priority,
                         cr_time delay_ms, cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, agent, agent_len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", agent, agent_len);
  rqueue *q = queue_find(r, queue, queue_len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", queue, queue_len);
  if (q->cfg.auto_members)
    return fail(r, CR_ESTATE, "queue takes members by skills", queue,
                queue_len);
  if (priority < -CR_ROUTER_MAX_PRIORITY || priority > CR_ROUTER_MAX_PRIORITY)
    return fail(r, CR_ERANGE, "member priority out of range", NULL, 0);
  if (delay_ms < 0 || !RDUR_OK(delay_ms))
    return fail(r, CR_ERANGE, "member delay out of range", NULL, 0);
  uint32_t mi = member_of(r, a, q->idx);
  if (lv_reserve(r, q, priority))
    return CR_ENOMEM;
  if (mi != RNIL) {
    rmember *m = &r->members[mi];
    if (m->prio != priority) { /* out of the old level's lines first */
      if (q_fifo(q) && memb_reserve(r, q, priority, a->maxc))
        return CR_ENOMEM;
      member_detach(r, mi);
      lv_count(q, m->prio, a->maxc, -1);
      lv_release(r, q, m->prio);
      q->lv[lv_find(q, priority)].nmemb++;
      lv_count(q, priority, a->maxc, +1);
      a->requal = 1; /* back into its lines at the reindex below */
    }
    m->prio = priority;
    r->mcold[mi].delay = delay_ms;
    m->delayed = delay_ms != 0;
    emit(r, CR_REV_ADDMEMBER, now, NULL, a, q, -1, priority, delay_ms, NULL,
         0);
  } else {
    if (cr__router_mpool_reserve(r, 1) ||
        memb_reserve(r, q, priority, a->maxc))
      return CR_ENOMEM;
    member_add(r, a, q, priority, delay_ms, now);
  }
  agent_reindex(r, a);
  route_agent(r, a, now);
  return 0;
}

int cr_router_agent_leave(cr_router *r, const char *agent, size_t agent_len,
                          const char *queue, size_t queue_len, cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, agent, agent_len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", agent, agent_len);
  rqueue *q = queue_find(r, queue, queue_len);
  if (!q)
    return fail(r, CR_ENOTFOUND, "unknown queue", queue, queue_len);
  if (q->cfg.auto_members)
    return fail(r, CR_ESTATE, "queue takes members by skills", queue,
                queue_len);
  uint32_t mi = member_of(r, a, q->idx);
  if (mi == RNIL)
    return fail(r, CR_ENOTFOUND, "agent is not a member of", queue,
                queue_len);
  member_del(r, mi, now);
  return 0;
}

int cr_router_agent_set_status(cr_router *r, const char *id, size_t len,
                               int status, const char *reason,
                               size_t reason_len, cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, id, len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", id, len);
  if (status != CR_AGENT_OFFLINE && status != CR_AGENT_AVAILABLE &&
      status != CR_AGENT_AWAY)
    return fail(r, CR_EINVAL, "status must be offline, available or away",
                NULL, 0);
  if (reason_len > 63)
    return fail(r, CR_ERANGE, "reason longer than 63 bytes", NULL, 0);
  if (reason_len && (!reason || !utf8_ok(reason, reason_len)))
    return fail(r, CR_EUTF8, "reason is not UTF-8", NULL, 0);
  set_status(r, a, status, reason, reason_len, now);
  return 0;
}

int cr_router_agent_end_wrapup(cr_router *r, const char *id, size_t len,
                               cr_time now) {
  ENTER(r, now);
  ragent *a = agent_find(r, id, len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", id, len);
  for (uint32_t i = 0; i < a->nwrap; i++)
    a->wraps[i].until = now;
  agent_fire(r, a, now);
  return 0;
}

int cr_router_agent_stats(cr_router *r, const char *id, size_t len,
                          cr_time now, cr_agent_stats *out) {
  ENTER(r, now);
  if (!out)
    return CR_EINVAL;
  ragent *a = agent_find(r, id, len);
  if (!a)
    return fail(r, CR_ENOTFOUND, "unknown agent", id, len);
  memset(out, 0, sizeof *out);
  out->status = a->status;
  if (a->status == CR_AGENT_AVAILABLE && a->nwrap && !a->nactive &&
      !a->noffers)
    out->status = CR_AGENT_WRAPUP;
  memcpy(out->load, a->load, sizeof out->load);
  out->offers_pending = a->noffers;
  out->active = a->nactive;
  out->wrapping = a->nwrap;
  out->cost_used = a->cost_used;
  out->occupancy = occ_permille(a) / 1000.0;
  if (a->total)
    out->occupancy = (double)a->cost_used / a->total;
  out->contacts = a->contacts;
  out->talk_ms = a->talk_ms;
  out->idle_since = a->idle_since;
  out->offers_accepted = a->acc;
  out->offers_rejected = a->rej;
  out->offers_missed = a->miss;
  out->consecutive_misses = a->consec;
  return 0;
}

/* ------------------------------------------------------------------ */
/* invariants (tests, fuzzing, restore) and index rebuild (restore) */

#define CHK(cond, ...)                                                       \
  do {                                                                       \
    if (!(cond)) {                                                           \
      snprintf(r->err, sizeof r->err, __VA_ARGS__);                          \
      rc = CR_ECORRUPT;                                                      \
      goto out;                                                              \
    }                                                                        \
  } while (0)

/* Walks a heap checking the heap order and the node count; calls visit on
 * each node. stack must hold h->n + 1 entries. */
static int heap_check(const phc *c, const rheap *h, uint32_t *stack,
                      int (*visit)(cr_router *, uint32_t, void *), void *vx) {
  uint32_t sp = 0, seen = 0;
  if (h->root == RNIL)
    return h->n == 0 ? 0 : -1;
  if (pn(c, h->root)->prev != RNIL)
    return -1;
  stack[sp++] = h->root;
  while (sp) {
    uint32_t x = stack[--sp];
    if (++seen > h->n || visit(c->r, x, vx))
      return -1;
    for (uint32_t k = pn(c, x)->child; k != RNIL; k = pn(c, k)->sib) {
      if (pless(c, k, x) || sp >= h->n)
        return -1;
      stack[sp++] = k;
    }
  }
  return seen == h->n ? 0 : -1;
}

typedef struct vctx {
  uint32_t q, ch, tier;
  uint8_t *mark;
} vctx;

static int visit_wait(cr_router *r, uint32_t ci, void *vx) {
  vctx *v = vx;
  if (ci >= r->cpool.hwm || !r->convs[ci] || v->mark[ci])
    return 1;
  const rconv *c = r->convs[ci];
  v->mark[ci] = 1;
  return c->state != CR_CONV_WAITING || c->queue != v->q ||
         c->channel != v->ch || !c->inwait || c->wheap != v->tier ||
         conv_custom(c) != c->wheap;
}

/* A line (rwline): its heap, and its list in strictly increasing key
 * order, marked, linked both ways, of length nl; every entry visited. */
static int wl_check(const phc *c, const rwline *l, uint32_t *stack,
                    int (*visit)(cr_router *, uint32_t, void *), void *vx) {
  if (heap_check(c, &l->h, stack, visit, vx))
    return -1;
  uint32_t n = 0, prev = RNIL;
  for (uint32_t id = l->head; id != RNIL; id = pn(c, id)->sib) {
    if (++n > l->nl || visit(c->r, id, vx))
      return -1;
    const rpnode *x = pn(c, id);
    if (x->child != RLISTED || x->prev != prev ||
        (prev != RNIL && !pless(c, prev, id)))
      return -1;
    prev = id;
  }
  return n == l->nl && l->tail == prev ? 0 : -1;
}

/* The member lines of (q, tier, ch): live entries in strictly increasing
 * stamp order, each a member of q at that level and tier taking ch now;
 * counts; room for every member of the level (so appends never fail). */
static int memb_lists_bad(const cr_router *r, const rqueue *q, unsigned ch,
                          unsigned qual) {
  uint32_t n = 0, want = 0;
  for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q) {
    const rmember *m = &r->members[mi];
    want += m->qual == qual && (m->inmask & (1u << ch));
  }
  for (uint32_t li = 0; li < q->nlv; li++) {
    const rlevel *l = &q->lv[li];
    const rring *g = &l->ring[qual][ch];
    uint64_t last = 0;
    if (g->n > g->cap || (g->cap && g->head >= g->cap) ||
        (l->nh[ch] && qual >= 2 - lv_tiers(q) && g->cap < l->nh[ch] + 1))
      return 1;
    for (uint32_t k = 0; k < g->n; k++) {
      uint32_t i = g->head + k;
      const rent *e = &g->a[i >= g->cap ? i - g->cap : i];
      if (e->mi >= r->mpool.hwm)
        return 1;
      const rmember *m = &r->members[e->mi];
      if (m->stamp != e->stamp)
        continue; /* stale */
      if (!m->used || m->queue != q->idx || !(m->inmask & (1u << ch)) ||
          m->qual != qual || m->prio != l->prio || e->stamp <= last ||
          e->agent != m->agent ||
          m->qual != agent_meets(r->agents[m->agent], q->skills, q->nskills))
        return 1;
      last = e->stamp;
      n++;
    }
  }
  return n != q->fn[qual][ch] || n != want;
}

/* The member heap of (q, ch): heap order, positions, keys, capacity. */
static int memb_heap_bad(const cr_router *r, const rqueue *q, unsigned ch,
                         int qual) {
  const mheap *h = qual ? &q->memb[ch] : &q->memb_lo[ch];
  uint32_t handle = 0;
  for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q)
    handle += r->agents[r->members[mi].agent]->maxc[ch] ? 1 : 0;
  if (handle != q->nhandle[ch] || h->n > h->cap || h->n > handle)
    return 1;
  if (q_fifo(q))
    return h->n || memb_lists_bad(r, q, ch, (unsigned)qual);
  if (q->fn[qual][ch])
    return 1;
  for (uint32_t i = 0; i < h->n; i++) {
    const mhent *e = &h->a[i];
    if (e->mi >= r->mpool.hwm || !r->members[e->mi].used)
      return 1;
    const rmember *m = &r->members[e->mi];
    const rmcold *mc = &r->mcold[e->mi];
    if (m->queue != q->idx || !(m->inmask & (1u << ch)) ||
        mc->pos[ch] != i || m->qual != qual ||
        m->qual != agent_meets(r->agents[m->agent], q->skills, q->nskills) ||
        e->k1 != mc->k1 || e->k2 != mc->k2 ||
        e->k3 != r->agents[m->agent]->seq)
      return 1;
    if (i > 0 && mh_less(e, &h->a[(i - 1) / MH_D]))
      return 1;
  }
  return 0;
}

static int visit_timer(cr_router *r, uint32_t id, void *vx) {
  uint32_t *count = vx;
  (*count)++;
  uint32_t i = id & TT_MASK;
  switch (id >> TT_SHIFT) {
  case TT_CONV:
    return i >= r->cpool.hwm || !r->convs[i] ||
           r->convs[i]->tdue == CR_TIME_NEVER;
  case TT_OFFER:
    return i >= r->opool.hwm || !r->offers[i].used;
  case TT_AGENT:
    return i >= r->apool.hwm || !r->agents[i] ||
           r->agents[i]->tdue == CR_TIME_NEVER;
  default:
    return 1;
  }
}

int cr__router_check(cr_router *r) {
  int rc = 0;
  size_t big = r->cpool.hwm + r->mpool.hwm + r->opool.hwm + r->apool.hwm + 1;
  uint32_t *stack = cr__malloc(&r->mem, big * sizeof *stack);
  uint8_t *mark = cr__calloc(&r->mem, r->cpool.hwm + 1, 1);
  uint32_t (*load)[RCH] = cr__calloc(&r->mem, r->apool.hwm + 1, sizeof *load);
  if (!stack || !mark || !load) {
    rc = CR_ENOMEM;
    goto out;
  }
  uint32_t timers = 0, nconv = 0, noff = 0;
  /* conversations */
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    const rconv *c = r->convs[i];
    if (!c)
      continue;
    nconv++;
    CHK(c->idx == i && c->queue < r->nqueues, "conversation %u index", i);
    CHK(c->state <= CR_CONV_ABANDONED && c->channel < RCH,
        "conversation %u state", i);
    CHK(c->nsteps == 0 || c->step < c->nsteps, "conversation %u step", i);
    uint32_t n = 0;
    for (uint32_t oi = c->ohead; oi != RNIL; oi = r->offers[oi].next_c) {
      CHK(oi < r->opool.hwm && r->offers[oi].used &&
              r->offers[oi].conv == i && n < 0xFFFF &&
              r->offers[oi].agent < r->apool.hwm &&
              r->agents[r->offers[oi].agent],
          "conversation %u offer list", i);
      load[r->offers[oi].agent][c->channel]++;
      n++;
    }
    CHK(n == c->noffers, "conversation %u offer count", i);
    CHK((c->state == CR_CONV_OFFERED) == (n > 0),
        "conversation %u offered without offers (or the reverse)", i);
    if (n)
      noff++;
    CHK((c->state == CR_CONV_ASSIGNED) == (c->agent != RNIL),
        "conversation %u agent", i);
    if (c->state == CR_CONV_ASSIGNED) {
      CHK(c->agent < r->apool.hwm && r->agents[c->agent],
          "conversation %u assigned to a missing agent", i);
      load[c->agent][c->channel]++;
    }
    if (c->sticky != RNIL)
      CHK(c->sticky < r->apool.hwm && r->agents[c->sticky] &&
              c->nsteps && c->steps[c->step].kind == CR_STEP_AGENT,
          "conversation %u sticky", i);
    CHK(c->tdue == conv_next(r, c), "conversation %u timer is stale", i);
  }
  CHK(nconv == r->cpool.nused, "conversation count");
  CHK(noff == r->nconv_offered, "offered conversation count");
  /* agents: capacity is exactly what offers, live and wrap-up hold */
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    const ragent *a = r->agents[i];
    if (!a)
      continue;
    uint64_t cost = 0;
    for (uint32_t w = 0; w < a->nwrap; w++)
      load[i][a->wraps[w].ch]++;
    uint8_t want = 0;
    for (unsigned ch = 0; ch < RCH; ch++) {
      CHK(load[i][ch] == a->load[ch], "agent %.*s load on %s", (int)a->id_len,
          a->id, cr_channel_name((int)ch));
      CHK(!(a->chmask >> ch & 1) == !a->maxc[ch],
          "agent %.*s channel mask is stale", (int)a->id_len, a->id);
      CHK(a->load[ch] <= a->maxc[ch], "agent %.*s over capacity on %s",
          (int)a->id_len, a->id, cr_channel_name((int)ch));
      cost += a->total ? (uint64_t)a->load[ch] * a->cost[ch] : 0;
      if (a->status == CR_AGENT_AVAILABLE && fits(a, ch))
        want |= (uint8_t)(1u << ch);
    }
    CHK(cost == a->cost_used, "agent %.*s cost", (int)a->id_len, a->id);
    CHK(!a->total || cost <= a->total, "agent %.*s over total capacity",
        (int)a->id_len, a->id);
    for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
      const rmember *m = &r->members[mi];
      CHK(m->used && m->agent == i, "agent %.*s member list", (int)a->id_len,
          a->id);
      CHK(m->inmask == want, "agent %.*s availability index", (int)a->id_len,
          a->id);
      CHK(m->delayed == (r->mcold[mi].delay != 0), "agent %.*s member delay",
          (int)a->id_len, a->id);
      const rqueue *q = r->queues[m->queue];
      if (!q_fifo(q)) { /* the lines' key is not stored (held_key) */
        const rmcold *mc = &r->mcold[mi];
        uint64_t k1, k2;
        member_key(a, m, mc, q, &k1, &k2);
        CHK(k1 == mc->k1 && k2 == mc->k2, "agent %.*s strategy key is stale",
            (int)a->id_len, a->id);
      }
    }
    for (uint32_t ci = a->sticky_head; ci != RNIL;
         ci = r->convs[ci]->sticky_next)
      CHK(r->convs[ci] && r->convs[ci]->sticky == i, "agent sticky list");
  }
  /* queues: every waiting conversation is in its (queue, channel) heap */
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    rqueue *q = r->queues[qi];
    for (unsigned ch = 0; ch < RCH; ch++) {
      vctx v = {qi, ch, 0, mark}, vc = {qi, ch, 1, mark};
      phc w = ctx_wait(r);
      CHK(!wl_check(&w, &q->wait[ch], stack, visit_wait, &v) &&
              !wl_check(&w, &q->waitc[ch], stack, visit_wait, &vc),
          "queue %.*s waiting index on %s", (int)q->id_len, q->id,
          cr_channel_name((int)ch));
      CHK(!memb_heap_bad(r, q, ch, 1) && !memb_heap_bad(r, q, ch, 0),
          "queue %.*s agent index on %s", (int)q->id_len, q->id,
          cr_channel_name((int)ch));
    }
    uint32_t inlv = 0;
    for (uint32_t li = 0; li < q->nlv; li++) {
      uint32_t n = 0, nh[RCH] = {0};
      for (uint32_t mi = q->mhead; mi != RNIL; mi = r->mcold[mi].next_q)
        if (r->members[mi].prio == q->lv[li].prio) {
          n++;
          for (unsigned ch = 0; ch < RCH; ch++)
            nh[ch] += r->agents[r->members[mi].agent]->maxc[ch] ? 1 : 0;
        }
      CHK(n == q->lv[li].nmemb && !memcmp(nh, q->lv[li].nh, sizeof nh) &&
              (li == 0 || q->lv[li - 1].prio < q->lv[li].prio),
          "queue %.*s priority levels", (int)q->id_len, q->id);
      inlv += n;
    }
    CHK(inlv == q->nmembers && lv_find(q, 0) != RNIL,
        "queue %.*s members without a level", (int)q->id_len, q->id);
  }
  for (uint32_t i = 0; i < r->cpool.hwm; i++)
    if (r->convs[i])
      CHK((r->convs[i]->state == CR_CONV_WAITING) == (mark[i] == 1),
          "conversation %.*s waiting but not reachable in its queue",
          (int)r->convs[i]->id_len, r->convs[i]->id);
  {
    phc tc = ctx_timer(r);
    CHK(!wl_check(&tc, &r->timers, stack, visit_timer, &timers), "timers");
    uint32_t want = 0; /* every deadline set is there, once */
    for (uint32_t i = 0; i < r->cpool.hwm; i++)
      want += r->convs[i] && r->convs[i]->tdue != CR_TIME_NEVER;
    for (uint32_t i = 0; i < r->opool.hwm; i++)
      want += r->offers[i].used && r->offers[i].expires != CR_TIME_NEVER;
    for (uint32_t i = 0; i < r->apool.hwm; i++)
      want += r->agents[i] && r->agents[i]->tdue != CR_TIME_NEVER;
    CHK(timers == want, "timers: %u held, %u deadlines set", timers, want);
    cr_time due = CR_TIME_NEVER;
    uint64_t sq;
    uint32_t front = tl_front(r);
    if (front != RNIL)
      timer_key(r, front, &due, &sq);
    CHK(r->tnext == due, "next expiry is not the timers' front");
  }
out:
  cr__free(&r->mem, stack);
  cr__free(&r->mem, mark);
  cr__free(&r->mem, load);
  return rc;
}

typedef struct rstamped {
  uint64_t stamp;
  uint32_t mi;
} rstamped;

static int stamp_cmp(const void *x, const void *y) {
  const rstamped *a = x, *b = y;
  if (a->stamp != b->stamp)
    return a->stamp < b->stamp ? -1 : 1;
  return a->mi < b->mi ? -1 : a->mi > b->mi;
}

/* After a restore filled the pools, lists and per-object state: derive
 * loads, counters and every heap, as the live router would hold them. */
int cr__router_rebuild(cr_router *r) {
  if (cr__ridx_reserve(r, &r->qidx, r->nqueues))
    return CR_ENOMEM;
  r->nq_fewest = 0;
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    rqueue *q = r->queues[qi];
    cr__ridx_put(&r->qidx, ridx_hash(q->id, q->id_len), qi, q);
    r->nq_fewest += q->cfg.strategy == CR_STRATEGY_FEWEST_CONTACTS;
  }
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    ragent *a = r->agents[i];
    if (!a)
      continue;
    memset(a->load, 0, sizeof a->load);
    a->cost_used = 0;
    a->noffers = a->nactive = 0;
    a->chmask = 0;
    for (unsigned ch = 0; ch < RCH; ch++)
      a->chmask |= (uint8_t)((a->maxc[ch] ? 1u : 0u) << ch);
    for (uint32_t w = 0; w < a->nwrap; w++)
      hold(a, a->wraps[w].ch);
  }
  for (uint32_t i = 0; i < r->opool.hwm; i++) {
    roffer *o = &r->offers[i];
    if (!o->used)
      continue;
    ragent *a = r->agents[o->agent];
    hold(a, r->convs[o->conv]->channel);
    a->noffers++;
    cr_time e = o->expires;
    o->expires = CR_TIME_NEVER;
    o->tnode.child = o->tnode.sib = o->tnode.prev = RNIL;
    timer_set(r, ((uint32_t)TT_OFFER << TT_SHIFT) | i, &o->expires, e);
  }
  r->nconv_offered = 0;
  for (uint32_t i = 0; i < r->cpool.hwm; i++) {
    rconv *c = r->convs[i];
    if (!c)
      continue;
    rqueue *q = r->queues[c->queue];
    c->eff = conv_eff_calc(r, c);
    c->wnode.child = c->wnode.sib = c->wnode.prev = RNIL;
    c->tnode.child = c->tnode.sib = c->tnode.prev = RNIL;
    if (c->state == CR_CONV_WAITING)
      wait_insert(r, c);
    else if (c->state == CR_CONV_OFFERED) {
      q->noffered++;
      r->nconv_offered++;
    } else if (c->state == CR_CONV_ASSIGNED) {
      ragent *a = r->agents[c->agent];
      hold(a, c->channel);
      a->nactive++;
      q->nactive++;
    }
    c->tdue = CR_TIME_NEVER;
    conv_sched(r, c);
  }
  for (uint32_t qi = 0; qi < r->nqueues; qi++)
    if (lv_reserve(r, r->queues[qi], 0))
      return CR_ENOMEM;
  if (cr__router_mcold_fit(r))
    return CR_ENOMEM;
  uint32_t nfl = 0;
  rstamped *fl = cr__malloc(&r->mem, ((size_t)r->mpool.hwm + 1) * sizeof *fl);
  if (!fl)
    return CR_ENOMEM;
  for (uint32_t i = 0; i < r->apool.hwm; i++) {
    ragent *a = r->agents[i];
    if (!a)
      continue;
    for (unsigned ch = 0; ch < RCH; ch++)
      if (a->load[ch] > a->maxc[ch])
        goto corrupt;
    if (a->total && a->cost_used > a->total)
      goto corrupt;
    a->tdue = CR_TIME_NEVER;
    a->touched = 0;
    agent_sched(r, a);
    agent_staff(r, a, +1);
    for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
      rmember *m = &r->members[mi];
      rmcold *mc = &r->mcold[mi];
      rqueue *q = r->queues[m->queue];
      mc->k1 = mc->k2 = UINT64_MAX;
      m->inmask = 0;
      if (lv_reserve(r, q, m->prio))
        goto oom;
      q->lv[lv_find(q, m->prio)].nmemb++;
      lv_count(q, m->prio, a->maxc, +1);
      for (unsigned ch = 0; ch < RCH; ch++) {
        mc->pos[ch] = RNIL;
        q->nhandle[ch] += a->maxc[ch] ? 1 : 0;
        if (a->maxc[ch] && mh_reserve2(r, q, ch, q->nhandle[ch]))
          goto oom;
      }
    }
    /* no random redraw here: keys are restored as they were */
    uint8_t want = 0;
    if (a->status == CR_AGENT_AVAILABLE)
      for (unsigned ch = 0; ch < RCH; ch++)
        if (fits(a, ch))
          want |= (uint8_t)(1u << ch);
    for (uint32_t mi = a->mhead; mi != RNIL; mi = r->members[mi].next_a) {
      rmember *m = &r->members[mi];
      rmcold *mc = &r->mcold[mi];
      rqueue *q = r->queues[m->queue];
      member_key(a, m, mc, q, &mc->k1, &mc->k2);
      m->qual = (uint8_t)agent_meets(a, q->skills, q->nskills);
      if (q_fifo(q)) { /* appended below, in stamp order */
        if (want && !m->stamp)
          goto corrupt; /* in a line, so it has a stamp */
        if (want) {
          fl[nfl].stamp = m->stamp;
          fl[nfl++].mi = mi;
        }
        m->inmask = want;
        continue;
      }
      for (unsigned ch = 0; ch < RCH; ch++)
        if (want & (1u << ch)) {
          mh_insert(r, mheap_of(q, m, ch), ch, mi, a->seq);
          m->inmask |= (uint8_t)(1u << ch);
        }
    }
  }
  for (uint32_t qi = 0; qi < r->nqueues; qi++) {
    rqueue *q = r->queues[qi];
    for (uint32_t li = 0; q_fifo(q) && li < q->nlv; li++)
      if (lv_ring_reserve(r, q, q->lv[li].prio, NULL))
        goto oom;
  }
  /* The lines' order is the stamps' order (every member entered its lines
   * at the back with a fresh stamp); only live entries are rebuilt. */
  qsort(fl, nfl, sizeof *fl, stamp_cmp);
  for (uint32_t k = 0; k < nfl; k++) {
    rmember *m = &r->members[fl[k].mi];
    fl_enter(r, r->queues[m->queue], m, fl[k].mi);
  }
  cr__free(&r->mem, fl);
  return 0;
corrupt:
  cr__free(&r->mem, fl);
  return CR_ECORRUPT;
oom:
  cr__free(&r->mem, fl);
  return CR_ENOMEM;
}
