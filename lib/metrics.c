/* Contact-center KPI accumulator. Formulas and their sources are in the
 * metrics section of convroute.h and in docs/metrics.md.
 *
 * Shape: every record is validated completely first (nothing allocated);
 * then the allocations it needs (new keys, a new FCR entry, heap room) are
 * made, and rolled back if one fails; only then are counters touched, by
 * code that cannot fail. So a failed call records nothing. */
#include "metrics.h"

#include "crc32.h"
#include "wire.h"
#include "text.h" /* cr__utf8_check */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)
#define MAX_SLOTS 100000

/* ---------- small helpers ---------- */

static int fail(cr_metrics *m, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* Strict UTF-8 (RFC 3629), as everywhere in the library. */
static int utf8_ok(const void *s, size_t n) {
  return cr__utf8_check(s, n) == 0;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static const char *const dim_names[CR_METRICS_DIM_COUNT] = {
    "channel", "queue", "agent", "intent"};

/* ---------- options, lifetime ---------- */

void cr_metrics_options_init(cr_metrics_options *o) {
  if (!o)
    return;
  memset(o, 0, sizeof *o);
  o->fcr_window_ms = 7 * DAY_MS;
  o->sl_threshold_ms = 20000;
  o->sl_abandon = CR_SL_ABANDON_FAIL;
  o->short_abandon_ms = 0;
  o->window_ms = 15 * 60 * 1000;
  o->bucket_ms = 60 * 1000;
  o->cost_bot = 0.98;
  o->cost_agent = 7.76;
  o->breakdowns = (1u << CR_METRICS_DIM_COUNT) - 1;
}

void cr_metrics_record_init(cr_metrics_record *r) {
  if (!r)
    return;
  memset(r, 0, sizeof *r);
  r->arrived_at = r->queued_at = r->answered_at = r->ended_at = CR_TIME_NONE;
  r->handled_by = CR_HANDLED_BOT;
  r->resolved = r->csat = r->nps = r->ces = r->fcr = CR_METRICS_NONE;
}

void cr_metrics_survey_init(cr_metrics_survey *s) {
  if (!s)
    return;
  memset(s, 0, sizeof *s);
  s->at = CR_TIME_NONE;
  s->csat = s->nps = s->ces = s->fcr = CR_METRICS_NONE;
}

/* Durations in the options are at most 2^50 ms (35,000 years), the bound
 * the router puts on its durations: every sum of a time and a duration
 * then fits in int64_t. */
#define DURATION_LIMIT ((cr_time)1 << 50)

static int duration_ok(cr_time d) { return d >= 0 && d <= DURATION_LIMIT; }

/* Window slots: ceil(window / bucket), written so it cannot wrap. */
static int64_t window_slots(const cr_metrics_options *o) {
  return o->window_ms / o->bucket_ms + (o->window_ms % o->bucket_ms != 0);
}

static int opt_ok(const cr_metrics_options *o) {
  if (!duration_ok(o->fcr_window_ms) || !duration_ok(o->sl_threshold_ms) ||
      !duration_ok(o->short_abandon_ms) || !duration_ok(o->window_ms) ||
      !duration_ok(o->bucket_ms) || o->bucket_ms == 0)
    return 0;
  if (o->sl_abandon < CR_SL_ABANDON_IGNORE ||
      o->sl_abandon > CR_SL_ABANDON_EXCLUDE_SHORT)
    return 0;
  if (!(o->cost_bot >= 0) || !(o->cost_agent >= 0)) /* also rejects NaN */
    return 0;
  if (o->breakdowns >> CR_METRICS_DIM_COUNT)
    return 0;
  if (window_slots(o) > MAX_SLOTS)
    return 0;
  return 1;
}

static cr__mgroup *group_new(const cr_metrics *m) {
  size_t sz = sizeof(cr__mgroup) + m->nslots * sizeof(cr__mslot);
  cr__mgroup *g = cr__calloc(&m->mem, 1, sz);
  if (!g)
    return NULL;
  for (size_t i = 0; i < m->nslots; i++)
    g->slot[i].stamp = INT64_MIN;
  return g;
}

int cr_metrics_new(cr_metrics **out, const cr_mem *mem,
                   const cr_metrics_options *opt) {
  if (!out)
    return CR_EINVAL;
  *out = NULL;
  cr_mem mm;
  int rc = cr__mem_init(&mm, mem);
  if (rc)
    return rc;
  cr_metrics_options o;
  if (opt)
    o = *opt;
  else
    cr_metrics_options_init(&o);
  if (!opt_ok(&o))
    return CR_EINVAL;
  cr_metrics *m = cr__calloc(&mm, 1, sizeof *m);
  if (!m)
    return CR_ENOMEM;
  m->mem = mm;
  m->opt = o;
  /* the window is whole buckets */
  m->nslots = (size_t)window_slots(&o);
  m->clock = INT64_MIN;
  m->all = group_new(m);
  if (!m->all) {
    cr__free(&mm, m);
    return CR_ENOMEM;
  }
  *out = m;
  return 0;
}

void cr_metrics_del(cr_metrics *m) {
  if (!m)
    return;
  const cr_mem *cr__hmem = &m->mem;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    cr__mkey *k, *tmp;
    HASH_ITER(hh, m->hash[d], k, tmp) {
      HASH_DEL(m->hash[d], k);
      cr__free(&m->mem, k);
    }
    for (size_t i = 0; i < m->nid[d]; i++)
      cr__free(&m->mem, m->byid[d][i]);
    cr__free(&m->mem, m->byid[d]);
  }
  /* Every entry is in the heap; only open ones are in the hash. */
  HASH_CLEAR(hh, m->fcr);
  for (size_t i = 0; i < m->nheap; i++)
    cr__free(&m->mem, m->heap[i]);
  cr__free(&m->mem, m->heap);
  cr__free(&m->mem, m->all);
  cr__free(&m->mem, m);
}

const char *cr_metrics_errmsg(const cr_metrics *m) {
  return m ? m->errmsg : "metrics is NULL";
}

/* ---------- keys ---------- */

static cr__mgroup *key_find(const cr_metrics *m, int d, const char *s,
                            size_t n) {
  cr__mkey *k = NULL;
  HASH_FIND(hh, m->hash[d], s, n, k);
  return k ? k->g : NULL;
}

/* Adds a new key; the caller knows it is absent. On failure nothing
 * changed. */
static int key_add(cr_metrics *m, int d, const char *s, size_t n,
                   cr__mgroup **out) {
  if (m->nid[d] >= UINT32_MAX - 1)
    return fail(m, CR_EFULL, "%s: too many keys", dim_names[d]);
  void *arr = m->byid[d];
  if (cr__grow(&m->mem, &arr, &m->capid[d], m->nid[d] + 1,
               sizeof(cr__mgroup *)))
    return fail(m, CR_ENOMEM, "%s: out of memory", dim_names[d]);
  m->byid[d] = arr;
  cr__mgroup *g = group_new(m);
  cr__mkey *k = g ? cr__malloc(&m->mem, sizeof *k + n + 1) : NULL;
  if (!k) {
    cr__free(&m->mem, g);
    return fail(m, CR_ENOMEM, "%s: out of memory", dim_names[d]);
  }
  memset(k, 0, sizeof *k);
  memcpy(k->name, s, n);
  k->name[n] = '\0';
  k->len = n;
  k->g = g;
  g->name = k->name;
  g->len = n;
  const cr_mem *cr__hmem = &m->mem;
  int cr__hoom = 0;
  HASH_ADD_KEYPTR(hh, m->hash[d], k->name, k->len, k);
  if (cr__hoom) {
    cr__free(&m->mem, k);
    cr__free(&m->mem, g);
    return fail(m, CR_ENOMEM, "%s: out of memory", dim_names[d]);
  }
  g->id = (uint32_t)(m->nid[d] + 1);
  m->byid[d][m->nid[d]++] = g;
  *out = g;
  return 0;
}

/* Undoes the last key_add of dimension d. */
static void key_pop(cr_metrics *m, int d) {
  const cr_mem *cr__hmem = &m->mem;
  cr__mgroup *g = m->byid[d][--m->nid[d]];
  cr__mkey *k = NULL;
  HASH_FIND(hh, m->hash[d], g->name, g->len, k);
  HASH_DEL(m->hash[d], k);
  cr__free(&m->mem, k);
  cr__free(&m->mem, g);
}

static int dim_on(const cr_metrics *m, int d) {
  return (m->opt.breakdowns >> d) & 1u;
}

int cr_metrics_key(cr_metrics *m, int dim, const char *s, size_t len,
                   uint32_t *id) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = '\0';
  if (dim < 0 || dim >= CR_METRICS_DIM_COUNT || !id)
    return fail(m, CR_EINVAL, "bad dimension or NULL id");
  if (!s || !len)
    return fail(m, CR_EINVAL, "%s: empty key", dim_names[dim]);
  if (!dim_on(m, dim))
    return fail(m, CR_ESTATE, "%s: breakdown is off", dim_names[dim]);
  if (!utf8_ok((const char *)s, len))
    return fail(m, CR_EUTF8, "%s: key is not valid UTF-8", dim_names[dim]);
  cr__mgroup *g = key_find(m, dim, s, len);
  if (!g) {
    int rc = key_add(m, dim, s, len, &g);
    if (rc)
      return rc;
  }
  *id = g->id;
  return 0;
}

uint32_t cr_metrics_key_count(const cr_metrics *m, int dim) {
  if (!m || dim < 0 || dim >= CR_METRICS_DIM_COUNT)
    return 0;
  return (uint32_t)m->nid[dim];
}

int cr_metrics_key_name(const cr_metrics *m, int dim, uint32_t id,
                        const char **s, size_t *len) {
  if (!m || dim < 0 || dim >= CR_METRICS_DIM_COUNT || !s || !len)
    return CR_EINVAL;
  if (id == 0 || id > m->nid[dim])
    return CR_ENOTFOUND;
  *s = m->byid[dim][id - 1]->name;
  *len = m->byid[dim][id - 1]->len;
  return 0;
}

/* Validates keys without changing anything. */
static int keys_check(cr_metrics *m, const cr_metrics_keyref *k) {
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    if (!k[d].str && k[d].len) /* a string forgotten, not "no key" */
      return fail(m, CR_EINVAL, "%s: len %zu with no string", dim_names[d],
                  k[d].len);
    if (k[d].str && k[d].len) {
      if (!utf8_ok((const char *)k[d].str, k[d].len))
        return fail(m, CR_EUTF8, "%s: key is not valid UTF-8", dim_names[d]);
    } else if (k[d].id) {
      if (!dim_on(m, d) || k[d].id > m->nid[d])
        return fail(m, CR_ENOTFOUND, "%s: no key id %u", dim_names[d],
                    (unsigned)k[d].id);
    }
  }
  return 0;
}

/* Resolves keys to groups (NULL = none or breakdown off), adding new ones.
 * *added gets a bit per dimension that gained a key, for keys_undo(). */
static int keys_resolve(cr_metrics *m, const cr_metrics_keyref *k,
                        cr__mgroup **g, unsigned *added) {
  *added = 0;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    g[d] = NULL;
    if (!dim_on(m, d))
      continue;
    if (k[d].str && k[d].len) {
      g[d] = key_find(m, d, k[d].str, k[d].len);
      if (!g[d]) {
        int rc = key_add(m, d, k[d].str, k[d].len, &g[d]);
        if (rc) {
          for (int e = d - 1; e >= 0; e--)
            if (*added >> e & 1u)
              key_pop(m, e);
          *added = 0;
          return rc;
        }
        *added |= 1u << d;
      }
    } else if (k[d].id) {
      g[d] = m->byid[d][k[d].id - 1];
    }
  }
  return 0;
}

static void keys_undo(cr_metrics *m, unsigned added) {
  for (int d = CR_METRICS_DIM_COUNT - 1; d >= 0; d--)
    if (added >> d & 1u)
      key_pop(m, d);
}

/* ---------- window slots ---------- */

/* The slot for bucket b in g, reset if it held an older bucket; NULL when
 * the slot already moved on to a newer bucket (a record too late for the
 * window: it still counts in the totals). */
static size_t slot_index(const cr_metrics *m, int64_t b) {
  if (b == INT64_MIN)
    return 0;
  int64_t n = (int64_t)m->nslots;
  return (size_t)(b - floordiv(b, n) * n);
}

static cr__macc *slot_at(cr__mgroup *g, int64_t b, size_t idx) {
  cr__mslot *s = &g->slot[idx];
  if (s->stamp == b)
    return &s->acc;
  if (s->stamp > b)
    return NULL;
  memset(&s->acc, 0, sizeof s->acc);
  s->stamp = b;
  return &s->acc;
}

/* Calls fn on the totals and the current-bucket slot of the overall target
 * and of each group in g[]. */
#define FOR_TARGETS(m, g, b, acc, body)                                      \
  do {                                                                       \
    cr__mgroup *t_[1 + CR_METRICS_DIM_COUNT] = {(m)->all, (g)[0], (g)[1],    \
                                                (g)[2], (g)[3]};             \
    size_t ix_ = slot_index((m), (b));                                       \
    for (int i_ = 0; i_ <= CR_METRICS_DIM_COUNT; i_++) {                     \
      if (!t_[i_])                                                           \
        continue;                                                            \
      cr__macc *acc = &t_[i_]->total;                                        \
      body;                                                                  \
      acc = (b) == INT64_MIN ? NULL : slot_at(t_[i_], (b), ix_);             \
      if (acc) {                                                             \
        body;                                                                \
      }                                                                      \
    }                                                                        \
  } while (0)

static int64_t bucket_of(const cr_metrics *m, cr_time t) {
  return m->nslots ? floordiv(t, m->opt.bucket_ms) : INT64_MIN;
}

/* ---------- FCR memory ---------- */

static int heap_less(cr__mfcr *a, cr__mfcr *b) { return a->expiry < b->expiry; }

static void heap_set(cr_metrics *m, size_t i, cr__mfcr *e) {
  m->heap[i] = e;
  e->heap = i;
}

static void heap_up(cr_metrics *m, size_t i) {
  cr__mfcr *e = m->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(e, m->heap[p]))
      break;
    heap_set(m, i, m->heap[p]);
    i = p;
  }
  heap_set(m, i, e);
}

static void heap_down(cr_metrics *m, size_t i) {
  cr__mfcr *e = m->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m->nheap)
      break;
    if (c + 1 < m->nheap && heap_less(m->heap[c + 1], m->heap[c]))
      c++;
    if (!heap_less(m->heap[c], e))
      break;
    heap_set(m, i, m->heap[c]);
    i = c;
  }
  heap_set(m, i, e);
}

static void heap_remove(cr_metrics *m, cr__mfcr *e) {
  size_t i = e->heap;
  cr__mfcr *last = m->heap[--m->nheap];
  if (i == m->nheap)
    return;
  heap_set(m, i, last);
  heap_up(m, i);
  heap_down(m, last->heap);
}

static void heap_push(cr_metrics *m, cr__mfcr *e) {
  heap_set(m, m->nheap++, e);
  heap_up(m, m->nheap - 1);
}

static cr__mgroup *gid_group(const cr_metrics *m, int d, uint32_t id) {
  return id ? m->byid[d][id - 1] : NULL;
}

/* Settles an entry's pending resolution: a repeat, or a first-contact
 * resolution. Counted in the totals only (see cr_metrics_window_get). */
static void fcr_settle(cr_metrics *m, cr__mfcr *e, int repeat) {
  cr__mgroup *g[CR_METRICS_DIM_COUNT];
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    g[d] = gid_group(m, d, e->gid[d]);
  FOR_TARGETS(m, g, INT64_MIN, a, {
    a->fcr_pending--;
    if (repeat)
      a->fcr_repeat++;
    else
      a->fcr_yes++;
  });
}

/* Moves the clock to now: windows that closed before now are FCR. */
static void fcr_expire(cr_metrics *m, cr_time now) {
  const cr_mem *cr__hmem = &m->mem;
  if (now > m->clock)
    m->clock = now;
  while (m->nheap && m->heap[0]->expiry < m->clock) {
    cr__mfcr *e = m->heap[0];
    heap_remove(m, e);
    fcr_settle(m, e, e->repeated);
    if (e->hashed)
      HASH_DEL(m->fcr, e);
    cr__free(&m->mem, e);
  }
}

int cr_metrics_advance(cr_metrics *m, cr_time now) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = '\0';
  if (now == CR_TIME_NONE)
    return fail(m, CR_EINVAL, "now: no time given");
  fcr_expire(m, now);
  return 0;
}

/* The FCR key: intent length (4 bytes), intent, customer. */
static size_t fcr_key(const cr_metrics_record *r, cr__mgroup *intent,
                      char *buf, size_t cap) {
  const char *is = NULL;
  size_t il = 0;
  if (intent) {
    is = intent->name, il = intent->len;
  } else if (r->key[CR_METRICS_INTENT].str) {
    is = r->key[CR_METRICS_INTENT].str, il = r->key[CR_METRICS_INTENT].len;
  }
  size_t need = 4 + il + r->customer_len;
  if (need > cap)
    return need;
  uint32_t l32 = (uint32_t)il;
  memcpy(buf, &l32, 4);
  if (il)
    memcpy(buf + 4, is, il);
  memcpy(buf + 4 + il, r->customer, r->customer_len);
  return need;
}

/* A new entry for key[0..klen), added to the hash, with heap room for it.
 * On failure nothing changed. */
static int fcr_new(cr_metrics *m, const char *key, size_t klen,
                   cr__mfcr **out) {
  const cr_mem *cr__hmem = &m->mem;
  int cr__hoom = 0;
  void *arr = m->heap;
  if (cr__grow(&m->mem, &arr, &m->capheap, m->nheap + 1,
               sizeof(cr__mfcr *)))
    return fail(m, CR_ENOMEM, "fcr: out of memory");
  m->heap = arr;
  cr__mfcr *e = cr__malloc(&m->mem, sizeof(cr__mfcr) + klen);
  if (!e)
    return fail(m, CR_ENOMEM, "fcr: out of memory");
  memset(e, 0, sizeof *e);
  memcpy(e->key, key, klen);
  e->klen = klen;
  e->hashed = 1;
  /* The key may equal an open entry's: uthash allows that, and the caller
   * deletes the old one before anything can look it up. */
  HASH_ADD_KEYPTR(hh, m->fcr, e->key, e->klen, e);
  if (cr__hoom) {
    cr__free(&m->mem, e);
    return fail(m, CR_ENOMEM, "fcr: out of memory");
  }
  *out = e;
  return 0;
}

/* ---------- validation ---------- */

static int flag_ok(int v) { return v == 0 || v == 1; }

static int answers_check(cr_metrics *m, int csat, int nps, int ces, int fcr) {
  if (csat != CR_METRICS_NONE && (csat < 1 || csat > 5))
    return fail(m, CR_ERANGE, "csat: %d is outside 1..5", csat);
  if (nps != CR_METRICS_NONE && (nps < 0 || nps > 10))
    return fail(m, CR_ERANGE, "nps: %d is outside 0..10", nps);
  if (ces != CR_METRICS_NONE && (ces < 1 || ces > 7))
    return fail(m, CR_ERANGE, "ces: %d is outside 1..7", ces);
  if (fcr != CR_METRICS_NONE && !flag_ok(fcr))
    return fail(m, CR_ERANGE, "fcr: %d is not 0 or 1", fcr);
  return 0;
}

/* Times beyond +-2^62 ms (146 million years) are refused so that every
 * difference and window end fits in int64_t. */
#define TIME_LIMIT ((cr_time)1 << 62)

/* Agent time adds up over many calls: saturate rather than wrap, so an
 * absurd total reads as "full", never as a small number. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int time_ok(cr_time t) {
  return t == CR_TIME_NONE || (t > -TIME_LIMIT && t < TIME_LIMIT);
}

static int times_check(cr_metrics *m, const cr_metrics_record *r) {
  if (r->arrived_at == CR_TIME_NONE)
    return fail(m, CR_EINVAL, "arrived_at: required");
  if (r->ended_at == CR_TIME_NONE)
    return fail(m, CR_EINVAL, "ended_at: required");
  const cr_time *t[4] = {&r->arrived_at, &r->queued_at, &r->answered_at,
                         &r->ended_at};
  static const char *const tn[4] = {"arrived_at", "queued_at", "answered_at",
                                    "ended_at"};
  for (int i = 0; i < 4; i++)
    if (!time_ok(*t[i]))
      return fail(m, CR_ERANGE, "%s: beyond +-2^62 ms", tn[i]);
  cr_time start = r->arrived_at;
  if (r->queued_at != CR_TIME_NONE) {
    if (r->queued_at < r->arrived_at)
      return fail(m, CR_EORDER, "queued_at: before arrived_at");
    start = r->queued_at;
  }
  cr_time last = start;
  if (r->answered_at != CR_TIME_NONE) {
    if (r->answered_at < r->arrived_at)
      return fail(m, CR_EORDER, "answered_at: before arrived_at");
    if (r->answered_at < start)
      return fail(m, CR_EORDER, "answered_at: before queued_at");
    last = r->answered_at;
  }
  if (r->ended_at < last)
    return fail(m, CR_EORDER, "ended_at: before %s",
                r->answered_at != CR_TIME_NONE ? "answered_at"
                : r->queued_at != CR_TIME_NONE ? "queued_at"
                                               : "arrived_at");
  return 0;
}

static int record_check(cr_metrics *m, const cr_metrics_record *r) {
  int rc = times_check(m, r);
  if (rc)
    return rc;
  if (r->handled_by < CR_HANDLED_BOT || r->handled_by > CR_HANDLED_ABANDONED)
    return fail(m, CR_EINVAL, "handled_by: unknown value %d", r->handled_by);
  if (r->handled_by != CR_HANDLED_AGENT && r->answered_at != CR_TIME_NONE)
    return fail(m, CR_EINVAL, "answered_at: set but handled_by is not agent");
  if (!flag_ok(r->escalated))
    return fail(m, CR_EINVAL, "escalated: %d is not 0 or 1", r->escalated);
  if (!flag_ok(r->transferred))
    return fail(m, CR_EINVAL, "transferred: %d is not 0 or 1",
                r->transferred);
  if (r->resolved != CR_METRICS_NONE && !flag_ok(r->resolved))
    return fail(m, CR_EINVAL, "resolved: %d is not 0, 1 or unknown",
                r->resolved);
  if (r->wrap_ms < 0 || r->wrap_ms >= TIME_LIMIT)
    return fail(m, CR_ERANGE, "wrap_ms: negative or beyond 2^62 ms");
  if (r->customer_len && !r->customer)
    return fail(m, CR_EINVAL, "customer: NULL with a length");
  if (r->customer_len &&
      !utf8_ok((const char *)r->customer, r->customer_len))
    return fail(m, CR_EUTF8, "customer: not valid UTF-8");
  if (r->customer_len > UINT32_MAX)
    return fail(m, CR_ERANGE, "customer: too long");
  rc = answers_check(m, r->csat, r->nps, r->ces, r->fcr);
  return rc ? rc : keys_check(m, r->key);
}

/* ---------- accumulation ---------- */

static void add_answers(cr__macc *a, int csat, int nps, int ces, int fcr) {
  if (csat != CR_METRICS_NONE)
    a->csat[csat - 1]++;
  if (nps != CR_METRICS_NONE)
    a->nps[nps]++;
  if (ces != CR_METRICS_NONE)
    a->ces[ces - 1]++;
  if (fcr == 1)
    a->fcr_said_yes++;
  else if (fcr == 0)
    a->fcr_said_no++;
}

/* What one record adds, worked out once and added to up to ten targets. */
typedef struct delta {
  int handled, bot, contained, escalated, transferred, resolved;
  int has_wait, sl_in, short_ab, abandon_in, has_handle;
  int64_t wait;
  uint64_t handle;
} delta;

static void delta_of(const cr_metrics *m, const cr_metrics_record *r,
                     delta *d) {
  memset(d, 0, sizeof *d);
  cr_time start = r->queued_at != CR_TIME_NONE ? r->queued_at : r->arrived_at;
  d->handled = r->handled_by;
  d->escalated = r->escalated;
  d->bot = r->handled_by == CR_HANDLED_BOT || r->escalated;
  /* a customer who left the bot unhelped (resolved 0) was not contained;
   * unknown (a log that cannot tell) counts as contained */
  d->contained =
      r->handled_by == CR_HANDLED_BOT && !r->escalated && r->resolved != 0;
  d->transferred = r->transferred;
  d->resolved = r->resolved;
  if (r->handled_by == CR_HANDLED_AGENT && r->answered_at != CR_TIME_NONE) {
    d->has_wait = 1;
    d->wait = r->answered_at - start;
    d->sl_in = d->wait <= m->opt.sl_threshold_ms;
    d->has_handle = 1;
    d->handle = (uint64_t)(r->ended_at - r->answered_at) + (uint64_t)r->wrap_ms;
  } else if (r->handled_by == CR_HANDLED_ABANDONED) {
    int64_t w = r->ended_at - start;
    d->short_ab = m->opt.short_abandon_ms > 0 && w < m->opt.short_abandon_ms;
    d->abandon_in = w <= m->opt.sl_threshold_ms;
  }
}

static void add_delta(cr__macc *a, const delta *d, const cr_metrics_record *r) {
  a->contacts++;
  if (d->handled == CR_HANDLED_AGENT)
    a->answered++;
  else if (d->handled == CR_HANDLED_ABANDONED) {
    a->abandoned++;
    a->short_abandoned += (uint64_t)d->short_ab;
    a->abandon_in += (uint64_t)d->abandon_in;
  }
  a->bot_handled += (uint64_t)d->bot;
  a->bot_contained += (uint64_t)d->contained;
  a->escalated += (uint64_t)d->escalated;
  a->transferred += (uint64_t)d->transferred;
  if (d->resolved == 1)
    a->resolved++;
  else if (d->resolved == 0)
    a->unresolved++;
  if (d->has_wait) {
    a->wait_n++;
    a->wait_sum += (uint64_t)d->wait;
    a->sl_in += (uint64_t)d->sl_in;
    a->handle_n++;
    a->handle_sum += d->handle;
  }
  add_answers(a, r->csat, r->nps, r->ces, r->fcr);
}

int cr_metrics_record_add(cr_metrics *m, const cr_metrics_record *r) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = '\0';
  if (!r)
    return fail(m, CR_EINVAL, "record is NULL");
  int rc = record_check(m, r);
  if (rc)
    return rc;
  int track = r->customer && r->customer_len && m->opt.fcr_window_ms > 0;
  if (!m->opt.breakdowns && !m->nslots && !track) {
    /* Only the overall totals to add to: what the general path below does
     * then (no key to resolve, no interval bucket, no resolution to
     * remember), without its lookups. */
    fcr_expire(m, r->arrived_at);
    delta dl;
    delta_of(m, r, &dl);
    add_delta(&m->all->total, &dl, r);
    return 0;
  }
  cr__mgroup *g[CR_METRICS_DIM_COUNT];
  unsigned added;
  rc = keys_resolve(m, r->key, g, &added);
  if (rc)
    return rc;

  /* FCR: find the customer+intent's open resolution; make room for a new
   * one when this contact is resolved and there is none to reuse. */
  const cr_mem *cr__hmem = &m->mem;
  cr__mfcr *old = NULL, *fresh = NULL;
  if (track) {
    /* Look up with a stack copy of the key; allocate only for a new entry. */
    char kbuf[256];
    size_t klen = fcr_key(r, g[CR_METRICS_INTENT], NULL, 0);
    char *key = klen <= sizeof kbuf ? kbuf : cr__malloc(&m->mem, klen);
    if (!key) {
      keys_undo(m, added);
      return fail(m, CR_ENOMEM, "fcr: out of memory");
    }
    fcr_key(r, g[CR_METRICS_INTENT], key, klen);
    HASH_FIND(hh, m->fcr, key, klen, old);
    if (r->resolved == 1)
      rc = fcr_new(m, key, klen, &fresh);
    if (key != kbuf)
      cr__free(&m->mem, key);
    if (rc) {
      keys_undo(m, added);
      return rc;
    }
  }

  /* From here on nothing can fail. */
  if (old) {
    /* The old resolution is no longer the open one for this customer and
     * intent. If this contact arrived inside its window (the edge
     * included) it was repeated -- but it stays pending until the window
     * closes, so that "no repeat" and "repeat" are decided at the same age
     * and early repeats do not bias FCR low. */
    HASH_DEL(m->fcr, old);
    old->hashed = 0;
    if (r->arrived_at <= old->expiry)
      old->repeated = 1;
  }
  fcr_expire(m, r->arrived_at);
  delta dl;
  delta_of(m, r, &dl);
  int64_t b = bucket_of(m, r->ended_at);
  FOR_TARGETS(m, g, b, a, add_delta(a, &dl, r));
  if (fresh) {
    fresh->expiry = r->ended_at > INT64_MAX - m->opt.fcr_window_ms
                        ? INT64_MAX
                        : r->ended_at + m->opt.fcr_window_ms;
    for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
      fresh->gid[d] = g[d] ? g[d]->id : 0;
    heap_push(m, fresh);
    FOR_TARGETS(m, g, INT64_MIN, a, a->fcr_pending++);
  }
  return 0;
}

int cr_metrics_survey_add(cr_metrics *m, const cr_metrics_survey *s) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = '\0';
  if (!s)
    return fail(m, CR_EINVAL, "survey is NULL");
  if (s->at == CR_TIME_NONE)
    return fail(m, CR_EINVAL, "at: required");
  if (!time_ok(s->at))
    return fail(m, CR_ERANGE, "at: beyond +-2^62 ms");
  if (s->csat == CR_METRICS_NONE && s->nps == CR_METRICS_NONE &&
      s->ces == CR_METRICS_NONE && s->fcr == CR_METRICS_NONE)
    return fail(m, CR_EINVAL, "survey: no answer given");
  int rc = answers_check(m, s->csat, s->nps, s->ces, s->fcr);
  if (!rc)
    rc = keys_check(m, s->key);
  if (rc)
    return rc;
  cr__mgroup *g[CR_METRICS_DIM_COUNT];
  unsigned added;
  rc = keys_resolve(m, s->key, g, &added);
  if (rc)
    return rc;
  int64_t b = bucket_of(m, s->at);
  FOR_TARGETS(m, g, b, a, add_answers(a, s->csat, s->nps, s->ces, s->fcr));
  return 0;
}

int cr_metrics_agent_time(cr_metrics *m, const cr_metrics_keyref *agent,
                          cr_time at, cr_time logged_in_ms, cr_time busy_ms) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = '\0';
  if (at == CR_TIME_NONE)
    return fail(m, CR_EINVAL, "at: required");
  if (!time_ok(at))
    return fail(m, CR_ERANGE, "at: beyond +-2^62 ms");
  if (logged_in_ms > DURATION_LIMIT)
    return fail(m, CR_ERANGE, "logged_in_ms: beyond 2^50 ms");
  if (logged_in_ms < 0 || busy_ms < 0 || busy_ms > logged_in_ms)
    return fail(m, CR_ERANGE, "busy_ms: must be within 0..logged_in_ms");
  cr_metrics_keyref k[CR_METRICS_DIM_COUNT];
  memset(k, 0, sizeof k);
  if (agent)
    k[CR_METRICS_AGENT] = *agent;
  int rc = keys_check(m, k);
  if (rc)
    return rc;
  cr__mgroup *g[CR_METRICS_DIM_COUNT];
  unsigned added;
  rc = keys_resolve(m, k, g, &added);
  if (rc)
    return rc;
  int64_t b = bucket_of(m, at);
  FOR_TARGETS(m, g, b, a, {
    a->busy = sat_add(a->busy, (uint64_t)busy_ms);
    a->logged = sat_add(a->logged, (uint64_t)logged_in_ms);
  });
  return 0;
}

/* ---------- reports ---------- */

static double ratio(double num, double den) {
  return den > 0 ? num / den : NAN;
}

/* Each answer scores +100 (promoter), 0 or -100 (detractor), so one
 * answer's variance is 100^2 (p + d - (p - d)^2); the NPS is their mean,
 * with variance Var = that / n, and the 95 % margin is 1.96 sqrt(Var)
 * (normal approximation). p = 1/2, d = 1/6, n = 100: 33.3 +- 14.6. */
void cr__metrics_nps(double p, double d, double n, double *nps, double *moe) {
  *nps = 100.0 * (p - d);
  double var = 1e4 * (p + d - (p - d) * (p - d)) / n;
  *moe = 1.96 * sqrt(var > 0 ? var : 0);
}

static void fill_surveys(const cr__macc *a, cr_metrics_report *r) {
  uint64_t n = 0, top2 = a->csat[3] + a->csat[4];
  double sum = 0;
  for (int i = 0; i < 5; i++)
    n += a->csat[i], sum += (double)a->csat[i] * (i + 1);
  r->csat_n = n;
  r->csat_top2 = ratio((double)top2, (double)n);
  r->csat_mean = ratio(sum, (double)n);

  /* NPS (Reichheld 2003): promoters 9-10, detractors 0-6. */
  n = 0;
  for (int i = 0; i <= 10; i++)
    n += a->nps[i];
  uint64_t pro = a->nps[9] + a->nps[10], det = 0;
  for (int i = 0; i <= 6; i++)
    det += a->nps[i];
  r->nps_n = n, r->nps_promoters = pro, r->nps_detractors = det;
  if (n)
    cr__metrics_nps((double)pro / (double)n, (double)det / (double)n,
                    (double)n, &r->nps, &r->nps_moe95);
  else
    r->nps = r->nps_moe95 = NAN;

  n = 0, sum = 0;
  for (int i = 0; i < 7; i++)
    n += a->ces[i], sum += (double)a->ces[i] * (i + 1);
  r->ces_n = n;
  r->ces_mean = ratio(sum, (double)n);
  r->ces_top3 = ratio((double)(a->ces[4] + a->ces[5] + a->ces[6]), (double)n);

  r->fcr_survey_n = a->fcr_said_yes + a->fcr_said_no;
  r->fcr_survey = ratio((double)a->fcr_said_yes, (double)r->fcr_survey_n);
}

void cr__metrics_fill(const cr__macc *a, const cr_metrics_options *o,
                      cr_metrics_report *r) {
  memset(r, 0, sizeof *r);
  r->contacts = a->contacts;
  r->answered = a->answered;
  r->abandoned = a->abandoned;
  r->short_abandoned = a->short_abandoned;
  r->bot_handled = a->bot_handled;
  r->bot_contained = a->bot_contained;
  r->escalated = a->escalated;
  r->transferred = a->transferred;
  r->resolved = a->resolved;
  r->unresolved = a->unresolved;
  r->fcr_yes = a->fcr_yes;
  r->fcr_repeat = a->fcr_repeat;
  r->fcr_pending = a->fcr_pending > 0 ? (uint64_t)a->fcr_pending : 0;
  r->fcr = ratio((double)a->fcr_yes, (double)(a->fcr_yes + a->fcr_repeat));
  r->resolution_rate =
      ratio((double)a->resolved, (double)(a->resolved + a->unresolved));
  fill_surveys(a, r);

  double den = (double)a->wait_n;
  if (o->sl_abandon == CR_SL_ABANDON_FAIL)
    den += (double)a->abandoned;
  else if (o->sl_abandon == CR_SL_ABANDON_EXCLUDE_SHORT)
    den += (double)(a->abandoned - a->abandon_in);
  r->service_level = ratio((double)a->sl_in, den);
  r->asa_s = ratio((double)a->wait_sum / 1000.0, (double)a->wait_n);
  uint64_t ab = a->abandoned - a->short_abandoned;
  r->abandon_rate = ratio((double)ab, (double)(a->answered + ab));
  r->aht_s = ratio((double)a->handle_sum / 1000.0, (double)a->handle_n);
  r->occupancy = ratio((double)a->busy, (double)a->logged);
  r->containment = ratio((double)a->bot_contained, (double)a->bot_handled);
  r->transfer_rate = ratio((double)a->transferred, (double)a->answered);
  r->cost = o->cost_bot * (double)a->bot_handled +
            o->cost_agent * (double)a->answered;
  r->cost_per_contact = ratio(r->cost, (double)a->contacts);
}

static int target(const cr_metrics *m, int dim, uint32_t id,
                  const cr__mgroup **out) {
  if (dim == CR_METRICS_TOTAL) {
    *out = m->all;
    return 0;
  }
  if (dim < 0 || dim >= CR_METRICS_DIM_COUNT)
    return CR_EINVAL;
  if (id == 0 || id > m->nid[dim])
    return CR_ENOTFOUND;
  *out = m->byid[dim][id - 1];
  return 0;
}

int cr_metrics_report_get(const cr_metrics *m, int dim, uint32_t id,
                          cr_metrics_report *out) {
  if (!m || !out)
    return CR_EINVAL;
  const cr__mgroup *g;
  int rc = target(m, dim, id, &g);
  if (rc)
    return rc;
  cr__metrics_fill(&g->total, &m->opt, out);
  return 0;
}

static void acc_sum(cr__macc *s, const cr__macc *a) {
  /* Every member is a 64-bit counter or sum, so add them as an array. */
  uint64_t *d = (uint64_t *)s;
  const uint64_t *x = (const uint64_t *)a;
  for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
    d[i] += x[i];
}

int cr_metrics_window_get(const cr_metrics *m, int dim, uint32_t id,
                          cr_time now, cr_metrics_report *out) {
  if (!m || !out || now == CR_TIME_NONE)
    return CR_EINVAL;
  if (!m->nslots)
    return CR_ESTATE;
  const cr__mgroup *g;
  int rc = target(m, dim, id, &g);
  if (rc)
    return rc;
  int64_t bnow = floordiv(now, m->opt.bucket_ms);
  int64_t first = bnow - (int64_t)m->nslots + 1;
  cr__macc sum;
  memset(&sum, 0, sizeof sum);
  for (size_t i = 0; i < m->nslots; i++) {
    const cr__mslot *s = &g->slot[i];
    if (s->stamp != INT64_MIN && s->stamp >= first && s->stamp <= bnow)
      acc_sum(&sum, &s->acc);
  }
  sum.fcr_pending = g->total.fcr_pending;
  cr__metrics_fill(&sum, &m->opt, out);
  out->fcr = NAN;
  return 0;
}

/* ---------- snapshot / restore ----------
 *
 * Layout (docs/metrics.md has the table); all integers little-endian:
 *   "CRMETSNP", u32 version, u64 total length (CRC included),
 *   u32 words per accumulator (sizeof(cr__macc) / 8),
 *   options, i64 clock,
 *   the overall group, then per dimension u32 key count and each key's
 *   u32 name length + name, in id order, each group being its totals and
 *   its non-empty window buckets (u32 count, then u32 index, i64 bucket
 *   number, the accumulator),
 *   u32 FCR entry count and the entries in heap order (i64 expiry, u8
 *   repeated, u8 hashed, u32 group id per dimension, u32 intent length +
 *   intent, u32 customer length + customer),
 *   u32 CRC-32 (IEEE, cr__crc32) of every byte before it.
 * The frame -- magic, version, length and trailing CRC -- stays the same
 * in later versions, so an old library can tell "newer" from "damaged". */

#define SNAP_MAGIC "CRMETSNP"
#define SNAP_VERSION 1u
#define SNAP_HEAD (8 + 4 + 8)
#define ACC_WORDS (sizeof(cr__macc) / sizeof(uint64_t))

/* acc_sum() and the snapshot both walk an accumulator as 64-bit words. */
_Static_assert(sizeof(cr__macc) % sizeof(uint64_t) == 0,
               "cr__macc must be made of 64-bit words only");

static void sw_acc(cr__wbuf *w, const cr__macc *a) {
  uint64_t x[ACC_WORDS];
  memcpy(x, a, sizeof x);
  for (size_t i = 0; i < ACC_WORDS; i++)
    cr__w_u64(w, x[i]);
}

static void sw_group(const cr_metrics *m, cr__wbuf *w, const cr__mgroup *g) {
  sw_acc(w, &g->total);
  uint32_t used = 0;
  for (size_t i = 0; i < m->nslots; i++)
    used += g->slot[i].stamp != INT64_MIN;
  cr__w_u32(w, used);
  for (size_t i = 0; i < m->nslots; i++) {
    if (g->slot[i].stamp == INT64_MIN)
      continue;
    cr__w_u32(w, (uint32_t)i);
    cr__w_i64(w, g->slot[i].stamp);
    sw_acc(w, &g->slot[i].acc);
  }
}

static void sw_fcr(cr__wbuf *w, const cr__mfcr *e) {
  uint32_t il;
  memcpy(&il, e->key, 4); /* host order in memory (fcr_key), LE on disk */
  cr__w_i64(w, e->expiry);
  cr__w_u8(w, (unsigned)e->repeated);
  cr__w_u8(w, (unsigned)e->hashed);
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    cr__w_u32(w, e->gid[d]);
  cr__w_u32(w, il);
  cr__w_bytes(w, e->key + 4, il);
  cr__w_u32(w, (uint32_t)(e->klen - 4 - il));
  cr__w_bytes(w, e->key + 4 + il, e->klen - 4 - il);
}

int cr_metrics_snapshot(const cr_metrics *m, void **buf, size_t *len) {
  if (!m || !buf || !len)
    return CR_EINVAL;
  cr__wbuf w = {&m->mem, NULL, 0, 0, 0};
  cr__w_bytes(&w, SNAP_MAGIC, 8);
  cr__w_u32(&w, SNAP_VERSION);
  cr__w_u64(&w, 0); /* total length, patched below */
  cr__w_u32(&w, (uint32_t)ACC_WORDS);
  const cr_metrics_options *o = &m->opt;
  cr__w_i64(&w, o->fcr_window_ms);
  cr__w_i64(&w, o->sl_threshold_ms);
  cr__w_u32(&w, (uint32_t)o->sl_abandon);
  cr__w_i64(&w, o->short_abandon_ms);
  cr__w_i64(&w, o->window_ms);
  cr__w_i64(&w, o->bucket_ms);
  cr__w_f64(&w, o->cost_bot);
  cr__w_f64(&w, o->cost_agent);
  cr__w_u32(&w, o->breakdowns);
  cr__w_i64(&w, m->clock);
  sw_group(m, &w, m->all);
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    cr__w_u32(&w, (uint32_t)m->nid[d]);
    for (size_t i = 0; i < m->nid[d]; i++) {
      const cr__mgroup *g = m->byid[d][i];
      cr__w_u32(&w, (uint32_t)g->len);
      cr__w_bytes(&w, g->name, g->len);
      sw_group(m, &w, g);
    }
  }
  cr__w_u32(&w, (uint32_t)m->nheap);
  for (size_t i = 0; i < m->nheap; i++)
    sw_fcr(&w, m->heap[i]);
  if (!w.err)
    cr__le_put(w.p + 12, (uint64_t)w.n + 4, 8);
  if (!w.err)
    cr__w_u32(&w, cr__crc32(0, w.p, w.n));
  if (w.err) {
    cr__free(&m->mem, w.p);
    return w.err;
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

static void sr_acc(cr__rbuf *r, cr__macc *a) {
  uint64_t x[ACC_WORDS];
  for (size_t i = 0; i < ACC_WORDS; i++)
    x[i] = cr__r_u64(r);
  if (!r->err)
    memcpy(a, x, sizeof x);
}

/* A bucket some time within +-2^62 ms falls in (a corrupt-but-resealed
 * stamp far outside would overflow slot_index). */
static int bucket_ok(const cr_metrics *m, int64_t b) {
  return b >= floordiv(-TIME_LIMIT, m->opt.bucket_ms) &&
         b <= floordiv(TIME_LIMIT, m->opt.bucket_ms);
}

static int sr_group(const cr_metrics *m, cr__rbuf *r, cr__mgroup *g) {
  sr_acc(r, &g->total);
  uint32_t used = cr__r_u32(r);
  if (!r->err && used > m->nslots)
    r->err = CR_ECORRUPT;
  for (uint32_t k = 0; !r->err && k < used; k++) {
    uint32_t i = cr__r_u32(r);
    int64_t b = cr__r_i64(r);
    /* each bucket in the slot the ring puts it in, each slot once */
    if (r->err || i >= m->nslots || !bucket_ok(m, b) ||
        slot_index(m, b) != i || g->slot[i].stamp != INT64_MIN) {
      r->err = CR_ECORRUPT;
      break;
    }
    g->slot[i].stamp = b;
    sr_acc(r, &g->slot[i].acc);
  }
  return r->err;
}

static int sr_options(cr__rbuf *r, cr_metrics_options *o) {
  cr_metrics_options_init(o);
  o->fcr_window_ms = cr__r_i64(r);
  o->sl_threshold_ms = cr__r_i64(r);
  o->sl_abandon = (int)(int32_t)cr__r_u32(r);
  o->short_abandon_ms = cr__r_i64(r);
  o->window_ms = cr__r_i64(r);
  o->bucket_ms = cr__r_i64(r);
  o->cost_bot = cr__r_f64(r);
  o->cost_agent = cr__r_f64(r);
  o->breakdowns = cr__r_u32(r);
  if (!r->err && !opt_ok(o))
    r->err = CR_ECORRUPT;
  return r->err;
}

static int sr_keys(cr_metrics *m, cr__rbuf *r, int d) {
  uint32_t n = cr__r_u32(r);
  if (!r->err && n && !dim_on(m, d))
    r->err = CR_ECORRUPT;
  for (uint32_t i = 0; !r->err && i < n; i++) {
    uint32_t len = cr__r_u32(r);
    const uint8_t *s = cr__r_take(r, len);
    if (!s || !len || !utf8_ok(s, len) ||
        key_find(m, d, (const char *)s, len))
      return r->err = CR_ECORRUPT;
    cr__mgroup *g;
    int rc = key_add(m, d, (const char *)s, len, &g);
    if (rc)
      return r->err = rc;
    sr_group(m, r, g);
  }
  return r->err;
}

/* One FCR entry, appended to m's heap (and hash when it is the open
 * resolution of its key), so that cr_metrics_del() frees it on failure. */
static int sr_fcr(cr_metrics *m, cr__rbuf *r) {
  cr_time expiry = cr__r_i64(r);
  unsigned repeated = cr__r_u8(r), hashed = cr__r_u8(r);
  uint32_t gid[CR_METRICS_DIM_COUNT];
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    gid[d] = cr__r_u32(r);
  uint32_t il = cr__r_u32(r);
  const uint8_t *is = cr__r_take(r, il);
  uint32_t cl = cr__r_u32(r);
  const uint8_t *cs = cr__r_take(r, cl);
  /* (expiry may be < clock: a late record's window can close before the
   * clock it arrives at, and is settled by the next advance) */
  if (r->err || repeated > 1 || hashed > 1 || !cl || !utf8_ok(cs, cl) ||
      expiry <= -TIME_LIMIT || expiry >= TIME_LIMIT + DURATION_LIMIT ||
      (il && !utf8_ok(is, il)))
    return r->err = CR_ECORRUPT;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    if (gid[d] > m->nid[d])
      return r->err = CR_ECORRUPT;
  size_t klen = 4 + (size_t)il + cl;
  void *arr = m->heap;
  if (cr__grow(&m->mem, &arr, &m->capheap, m->nheap + 1, sizeof(cr__mfcr *)))
    return r->err = CR_ENOMEM;
  m->heap = arr;
  cr__mfcr *e = cr__malloc(&m->mem, sizeof(cr__mfcr) + klen);
  if (!e)
    return r->err = CR_ENOMEM;
  memset(e, 0, sizeof *e);
  memcpy(e->key, &il, 4);
  if (il)
    memcpy(e->key + 4, is, il);
  memcpy(e->key + 4 + il, cs, cl);
  e->klen = klen;
  e->expiry = expiry;
  e->repeated = (int)repeated;
  memcpy(e->gid, gid, sizeof gid);
  size_t i = m->nheap;
  /* the heap is stored in array order: check its order, don't rebuild */
  if (i && m->heap[(i - 1) / 2]->expiry > expiry) {
    cr__free(&m->mem, e);
    return r->err = CR_ECORRUPT;
  }
  heap_set(m, m->nheap++, e);
  if (hashed) {
    const cr_mem *cr__hmem = &m->mem;
    int cr__hoom = 0;
    cr__mfcr *dup = NULL;
    HASH_FIND(hh, m->fcr, e->key, e->klen, dup);
    if (dup)
      return r->err = CR_ECORRUPT; /* one open resolution per key */
    HASH_ADD_KEYPTR(hh, m->fcr, e->key, e->klen, e);
    if (cr__hoom)
      return r->err = CR_ENOMEM;
    e->hashed = 1;
  }
  return 0;
}

/* The fcr_pending gauges must be exactly what the entries make them: one
 * per entry in the overall total and in the total of each group it names,
 * none in window buckets. Checked by taking the entries off (refusing to
 * go below zero, so a damaged gauge never overflows later) and putting
 * them back. */
static int pending_take(cr_metrics *m, int sign) {
  for (size_t i = 0; i < m->nheap; i++) {
    cr__mgroup *g[1 + CR_METRICS_DIM_COUNT] = {m->all};
    for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
      g[1 + d] = gid_group(m, d, m->heap[i]->gid[d]);
    for (int k = 0; k <= CR_METRICS_DIM_COUNT; k++) {
      if (!g[k])
        continue;
      if (sign < 0 && g[k]->total.fcr_pending <= 0)
        return CR_ECORRUPT;
      g[k]->total.fcr_pending += sign;
    }
  }
  return 0;
}

static int group_pending_zero(const cr_metrics *m, const cr__mgroup *g) {
  if (g->total.fcr_pending)
    return 0;
  for (size_t i = 0; i < m->nslots; i++)
    if (g->slot[i].acc.fcr_pending)
      return 0;
  return 1;
}

static int pending_check(cr_metrics *m) {
  if (pending_take(m, -1))
    return CR_ECORRUPT;
  int ok = group_pending_zero(m, m->all);
  for (int d = 0; ok && d < CR_METRICS_DIM_COUNT; d++)
    for (size_t i = 0; ok && i < m->nid[d]; i++)
      ok = group_pending_zero(m, m->byid[d][i]);
  if (!ok)
    return CR_ECORRUPT;
  return pending_take(m, +1);
}

static int sr_check_frame(const uint8_t *p, size_t len) {
  if (len < SNAP_HEAD + 4 || memcmp(p, SNAP_MAGIC, 8))
    return CR_ECORRUPT;
  if (cr__le_get(p + 12, 8) != (uint64_t)len ||
      cr__crc32(0, p, len - 4) != cr__le_get(p + len - 4, 4))
    return CR_ECORRUPT;
  uint32_t ver = (uint32_t)cr__le_get(p + 8, 4);
  if (ver > SNAP_VERSION)
    return CR_EVERSION;
  return ver == SNAP_VERSION ? 0 : CR_ECORRUPT;
}

int cr_metrics_restore(cr_metrics **out, const cr_mem *mem, const void *buf,
                       size_t len) {
  if (!out || (!buf && len))
    return CR_EINVAL;
  *out = NULL;
  const uint8_t *p = buf;
  int rc = buf ? sr_check_frame(p, len) : CR_ECORRUPT;
  if (rc)
    return rc;
  cr__rbuf r = {p, len - 4, SNAP_HEAD, 0};
  cr_metrics_options o;
  if (cr__r_u32(&r) != ACC_WORDS)
    r.err = CR_ECORRUPT;
  if (sr_options(&r, &o))
    return r.err;
  cr_time clock = cr__r_i64(&r);
  if (!r.err && clock != INT64_MIN && !time_ok(clock))
    r.err = CR_ECORRUPT;
  if (r.err)
    return r.err;
  cr_metrics *m = NULL;
  rc = cr_metrics_new(&m, mem, &o);
  if (rc)
    return rc == CR_EINVAL ? CR_ECORRUPT : rc;
  m->clock = clock;
  sr_group(m, &r, m->all);
  for (int d = 0; !r.err && d < CR_METRICS_DIM_COUNT; d++)
    sr_keys(m, &r, d);
  uint32_t nf = cr__r_u32(&r);
  for (uint32_t i = 0; !r.err && i < nf; i++)
    sr_fcr(m, &r);
  if (!r.err && r.i != r.n)
    r.err = CR_ECORRUPT; /* trailing bytes */
  if (!r.err)
    r.err = pending_check(m);
  if (r.err) {
    cr_metrics_del(m);
    return r.err;
  }
  m->errmsg[0] = '\0';
  *out = m;
  return 0;
}
