/* Engine persistence: every live conversation, the recently ended record,
 * the clocks and counters, the router and the metrics accumulator (their
 * own snapshots, nested) in one little-endian, versioned, CRC-32-checked
 * buffer. Configuration (policies, rules, texts, hours), the model and the
 * callbacks are host data and are not saved: see the header. Restore
 * parses everything on the side and swaps only when all of it is good, so
 * a bad buffer changes nothing.
 *
 * Layout (version 2): "CRENGSN1" u32 version, then the fields written by
 * put_conv / put_recent in order, the router blob (u32 length + bytes),
 * the metrics blob (u32 length + bytes), u64 metrics_lost, and a CRC-32
 * of all that precedes it. Strings are u32 length + bytes. Version 1
 * (no credited intent, no metrics) is refused with CR_EVERSION. */
#include "crc32.h"
#include "engine.h"
#include "handoff.h"
#include "text.h"

#include <string.h>

#define SNAP_MAGIC "CRENGSN1"
#define SNAP_VERSION 2u /* 2: the credited intent of a conversation; the
                            metrics accumulator (nested) and metrics_lost */

/* ------------------------------------------------------------------ */
/* writer: a growing buffer; the first failure sticks */

typedef struct wbuf {
  const cr_mem *mem;
  uint8_t *p;
  size_t n, cap;
  int err;
} wbuf;

static void w_bytes(wbuf *w, const void *s, size_t n) {
  if (w->err)
    return;
  if (w->n + n > w->cap) {
    void *arr = w->p;
    if (cr__grow(w->mem, &arr, &w->cap, w->n + n, 1)) {
      w->err = CR_ENOMEM;
      return;
    }
    w->p = arr;
  }
  if (n)
    memcpy(w->p + w->n, s, n);
  w->n += n;
}

static void w_u8(wbuf *w, unsigned v) {
  uint8_t b = (uint8_t)v;
  w_bytes(w, &b, 1);
}

static void w_u32(wbuf *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  w_bytes(w, b, 4);
}

static void w_u64(wbuf *w, uint64_t v) {
  w_u32(w, (uint32_t)v);
  w_u32(w, (uint32_t)(v >> 32));
}

static void w_i64(wbuf *w, int64_t v) { w_u64(w, (uint64_t)v); }
static void w_i32(wbuf *w, int32_t v) { w_u32(w, (uint32_t)v); }

static void w_f64(wbuf *w, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  w_u64(w, v);
}

static void w_str(wbuf *w, const char *s, size_t n) {
  w_u32(w, (uint32_t)n);
  w_bytes(w, s, n);
}

/* ------------------------------------------------------------------ */
/* reader: every read is bounds-checked; the first failure sticks */

typedef struct rbuf {
  const uint8_t *p;
  size_t n, i;
  int err;
} rbuf;

static const uint8_t *r_take(rbuf *r, size_t n) {
  if (r->err)
    return NULL;
  if (n > r->n - r->i) {
    r->err = CR_ECORRUPT;
    return NULL;
  }
  const uint8_t *s = r->p + r->i;
  r->i += n;
  return s;
}

static unsigned r_u8(rbuf *r) {
  const uint8_t *s = r_take(r, 1);
  return s ? s[0] : 0;
}

static uint32_t r_u32(rbuf *r) {
  const uint8_t *s = r_take(r, 4);
  return s ? (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                 (uint32_t)s[3] << 24
           : 0;
}

static uint64_t r_u64(rbuf *r) {
  uint64_t lo = r_u32(r);
  return lo | (uint64_t)r_u32(r) << 32;
}

static int64_t r_i64(rbuf *r) { return (int64_t)r_u64(r); }
static int32_t r_i32(rbuf *r) { return (int32_t)r_u32(r); }

static double r_f64(rbuf *r) {
  uint64_t v = r_u64(r);
  double d;
  memcpy(&d, &v, 8);
  return d;
}

/* A copied string of at most max bytes (UTF-8 checked); NULL for empty.
 * Sets err on corruption or CR_ENOMEM. */
static char *r_str(rbuf *r, const cr_mem *mem, uint32_t *len, size_t max) {
  uint32_t n = r_u32(r);
  *len = 0;
  if (r->err)
    return NULL;
  if (n > max) {
    r->err = CR_ECORRUPT;
    return NULL;
  }
  const uint8_t *s = r_take(r, n);
  if (!s || !n)
    return NULL;
  if (cr__utf8_check((const char *)s, n)) {
    r->err = CR_ECORRUPT;
    return NULL;
  }
  char *c = cr__strndup(mem, (const char *)s, n);
  if (!c)
    r->err = CR_ENOMEM;
  else
    *len = n;
  return c;
}

/* ------------------------------------------------------------------ */
/* snapshot */

static void put_skills(wbuf *w, const eskills *s) {
  w_u8(w, s->n);
  for (unsigned i = 0; i < s->n; i++) {
    w_str(w, s->name[i], s->len[i]);
    w_u8(w, s->level[i]);
  }
}

static void put_conv(const cr_engine *e, wbuf *w, const econv *c) {
  w_str(w, c->id, c->id_len);
  w_str(w, c->customer, c->customer_len);
  w_str(w, c->profile, c->profile_len);
  w_u8(w, c->st);
  w_u8(w, c->channel);
  w_u8(w, c->reason);
  w_u8(w, c->nchannels);
  for (unsigned i = 0; i < c->nchannels; i++)
    w_u8(w, c->channels[i]);
  w_u8(w, c->helped);
  w_u8(w, c->unclear);
  w_u8(w, c->field);
  w_u8(w, c->escalated);
  w_u8(w, c->lang_fixed);
  w_u8(w, c->fpending);
  w_str(w, c->lang, strlen(c->lang));
  w_i32(w, c->policy);
  w_i32(w, c->intent);
  w_i32(w, c->mintent);
  w_i32(w, c->fpolicy);
  w_i32(w, c->clar[0]);
  w_i32(w, c->clar[1]);
  w_f64(w, c->intent_conf);
  w_f64(w, c->clar_conf[0]);
  w_f64(w, c->clar_conf[1]);
  for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++) {
    w_u8(w, c->fval[i] != NULL);
    if (c->fval[i])
      w_str(w, c->fval[i], c->flen[i]);
  }
  w_u32(w, c->noffers);
  w_i64(w, c->arrived);
  w_i64(w, c->queued_at);
  w_i64(w, c->answered_at);
  w_i64(w, c->wrap_at);
  w_i64(w, c->deadline);
  w_u64(w, c->seq);
  w_str(w, c->agent, c->agent_len);
  w_str(w, c->prev_agent, c->prev_agent_len);
  w_str(w, c->queue, c->queue_len);
  w_str(w, c->sticky, c->sticky_len);
  put_skills(w, &c->skills);
  w_i32(w, c->priority);
  w_i32(w, c->resolved);
  w_u32(w, c->transfers);
  w_u32(w, c->messages);
  w_u32(w, c->dropped);
  w_u32(w, c->lcount);
  uint32_t max = (uint32_t)e->transcript_max;
  for (uint32_t i = 0; i < c->lcount; i++) {
    const eline *l = &c->lines[(c->lhead + i) % max];
    w_i64(w, l->at);
    w_u8(w, l->from);
    w_u8(w, l->channel);
    w_str(w, l->text, l->len);
  }
  w_u8(w, c->icount);
  for (unsigned i = 0; i < c->icount; i++) {
    const ehit *h = &c->ih[(c->ihead + i) % EMAXIH];
    w_u32(w, h->label);
    w_f64(w, h->conf);
    w_i64(w, h->at);
  }
  uint32_t na = 0;
  for (const ealias *a = c->aliases; a; a = a->next)
    na++;
  w_u32(w, na);
  for (const ealias *a = c->aliases; a; a = a->next) /* newest first */
    w_str(w, a->id, a->id_len);
}

static void put_recent(wbuf *w, const erecent *r) {
  w_str(w, r->id, r->id_len);
  w_str(w, r->customer, r->customer_len);
  w_str(w, r->agent, r->agent_len);
  w_str(w, r->queue, r->queue_len);
  w_i32(w, r->channel);
  w_i32(w, r->intent);
  w_i32(w, r->end_state);
  w_i64(w, r->ended);
}

int cr_engine_snapshot(const cr_engine *e, void **buf, size_t *len) {
  if (!e || !buf || !len)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  wbuf w = {&e->mem, NULL, 0, 0, 0};
  w_bytes(&w, SNAP_MAGIC, 8);
  w_u32(&w, SNAP_VERSION);
  w_i64(&w, e->now);
  w_u64(&w, e->seq);
  w_u64(&w, e->conv_seq);
  w_i32(&w, e->logged_in);
  w_u32(&w, (uint32_t)e->transcript_max);
  w_u32(&w, (uint32_t)e->nlabels);
  w_u32(&w, (uint32_t)e->nconv);
  for (const econv *c = e->convs; c; c = c->hh.next)
    put_conv(e, &w, c);
  w_u32(&w, e->rcount);
  for (uint32_t i = 0; i < e->rcount; i++)
    put_recent(&w, e->recent[(e->rhead + i) % e->recent_max]);
  void *rb = NULL;
  size_t rn = 0;
  int rc = w.err ? w.err : cr_router_snapshot(e->router, &rb, &rn);
  if (!rc) {
    w_u32(&w, (uint32_t)rn);
    w_bytes(&w, rb, rn);
    cr__free(&e->mem, rb);
    /* v2: the metrics accumulator (nested, like the router), so the KPIs
     * survive a restore */
    rb = NULL;
    rc = cr_metrics_snapshot(e->metrics, &rb, &rn);
  }
  if (!rc) {
    w_u32(&w, (uint32_t)rn);
    w_bytes(&w, rb, rn);
    cr__free(&e->mem, rb);
    w_u64(&w, e->metrics_lost);
    w_u32(&w, cr__crc32(0, w.p, w.n));
    rc = w.err;
  }
  if (rc) {
    cr__free(&e->mem, w.p);
    return rc;
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

/* ------------------------------------------------------------------ */
/* restore */

static int get_skills(rbuf *r, cr_engine *e, eskills *s) {
  unsigned n = r_u8(r);
  if (n > CR_ROUTER_MAX_STEP_SKILLS)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < n; i++) {
    s->name[i] = r_str(r, &e->mem, &s->len[i], 255);
    s->level[i] = (uint8_t)r_u8(r);
    if (!r->err && (!s->name[i] || s->level[i] < 1 || s->level[i] > 5))
      r->err = CR_ECORRUPT;
    s->n = (uint8_t)(i + 1);
  }
  return r->err;
}

static int label_ok(const cr_engine *e, int32_t v) {
  return v >= -1 && v < (int64_t)e->nlabels;
}

static econv *get_conv(rbuf *r, cr_engine *e) {
  econv *c = cr__calloc(&e->mem, 1, sizeof *c);
  if (!c) {
    r->err = CR_ENOMEM;
    return NULL;
  }
  c->hidx = ENIL;
  c->rec = cr__calloc(&e->mem, 1, sizeof *c->rec);
  if (!c->rec)
    r->err = CR_ENOMEM;
  c->id = r_str(r, &e->mem, &c->id_len, 255);
  c->customer = r_str(r, &e->mem, &c->customer_len, 255);
  c->profile = r_str(r, &e->mem, &c->profile_len, EMAXPROFILE);
  c->st = (uint8_t)r_u8(r);
  c->channel = (uint8_t)r_u8(r);
  c->reason = (uint8_t)r_u8(r);
  c->nchannels = (uint8_t)r_u8(r);
  if (c->nchannels > CR_CHANNEL_COUNT)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < c->nchannels; i++)
    if ((c->channels[i] = (uint8_t)r_u8(r)) >= CR_CHANNEL_COUNT)
      r->err = CR_ECORRUPT;
  c->helped = (uint8_t)r_u8(r);
  c->unclear = (uint8_t)r_u8(r);
  c->field = (uint8_t)r_u8(r);
  c->escalated = (uint8_t)r_u8(r);
  c->lang_fixed = (uint8_t)r_u8(r);
  c->fpending = (uint8_t)r_u8(r);
  if (c->fpending > 1)
    r->err = CR_ECORRUPT;
  uint32_t ll;
  char *lang = r_str(r, &e->mem, &ll, ELANG - 1);
  if (lang)
    memcpy(c->lang, lang, ll);
  cr__free(&e->mem, lang);
  c->policy = r_i32(r);
  c->intent = r_i32(r);
  c->mintent = r_i32(r);
  c->fpolicy = r_i32(r);
  c->clar[0] = r_i32(r);
  c->clar[1] = r_i32(r);
  c->intent_conf = r_f64(r);
  c->clar_conf[0] = r_f64(r);
  c->clar_conf[1] = r_f64(r);
  for (unsigned i = 0; !r->err && i < CR_ENGINE_MAX_FIELDS; i++)
    if (r_u8(r)) {
      c->fval[i] = r_str(r, &e->mem, &c->flen[i], UINT32_MAX / 2);
      if (!r->err && !c->fval[i] &&
          !(c->fval[i] = cr__strndup(&e->mem, "", 0)))
        r->err = CR_ENOMEM;
    }
  c->noffers = r_u32(r);
  c->arrived = r_i64(r);
  c->queued_at = r_i64(r);
  c->answered_at = r_i64(r);
  c->wrap_at = r_i64(r);
  c->deadline = r_i64(r);
  c->seq = r_u64(r);
  c->agent = r_str(r, &e->mem, &c->agent_len, 255);
  c->prev_agent = r_str(r, &e->mem, &c->prev_agent_len, 255);
  c->queue = r_str(r, &e->mem, &c->queue_len, 255);
  c->sticky = r_str(r, &e->mem, &c->sticky_len, 255);
  get_skills(r, e, &c->skills);
  c->priority = r_i32(r);
  c->resolved = r_i32(r);
  c->transfers = r_u32(r);
  c->messages = r_u32(r);
  c->dropped = r_u32(r);
  uint32_t nl = r_u32(r);
  if (nl > e->transcript_max)
    r->err = CR_ECORRUPT;
  if (!r->err && nl) {
    c->lines = cr__calloc(&e->mem, nl, sizeof *c->lines);
    if (!c->lines)
      r->err = CR_ENOMEM;
    else
      c->lcap = nl;
  }
  for (uint32_t i = 0; !r->err && i < nl; i++) {
    eline *l = &c->lines[i];
    l->at = r_i64(r);
    l->from = (uint8_t)r_u8(r);
    l->channel = (uint8_t)r_u8(r);
    l->text = r_str(r, &e->mem, &l->len, UINT32_MAX / 2);
    l->cap = l->len;
    if (l->from > CR_FROM_AGENT || l->channel >= CR_CHANNEL_COUNT)
      r->err = CR_ECORRUPT;
    c->lcount = i + 1;
  }
  c->icount = (uint8_t)r_u8(r);
  if (c->icount > EMAXIH)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < c->icount; i++) {
    c->ih[i].label = r_u32(r);
    c->ih[i].conf = r_f64(r);
    c->ih[i].at = r_i64(r);
    if (c->ih[i].label >= e->nlabels)
      r->err = CR_ECORRUPT;
  }
  uint32_t na = r_u32(r);
  if (!r->err && na > (r->n - r->i) / 5)
    r->err = CR_ECORRUPT;
  ealias **tail = &c->aliases;
  for (uint32_t i = 0; !r->err && i < na; i++) {
    uint32_t n = r_u32(r);
    const uint8_t *b = n && n <= 255 ? r_take(r, n) : NULL;
    if (!b || cr__utf8_check((const char *)b, n)) {
      r->err = r->err ? r->err : CR_ECORRUPT;
      break;
    }
    ealias *a = cr__e_alias_new(e, (const char *)b, n);
    if (!a) {
      r->err = CR_ENOMEM;
      break;
    }
    a->c = c;
    *tail = a;
    tail = &a->next;
  }
  if (!r->err &&
      (!c->id || c->st >= CR_ST_RESOLVED || c->channel >= CR_CHANNEL_COUNT ||
       c->reason >= CR_REASON_COUNT || !label_ok(e, c->policy) ||
       !label_ok(e, c->intent) || !label_ok(e, c->mintent) ||
       !label_ok(e, c->fpolicy) ||
       !label_ok(e, c->clar[0]) || !label_ok(e, c->clar[1]) ||
       c->field > CR_ENGINE_MAX_FIELDS ||
       (c->resolved != 0 && c->resolved != 1 &&
        c->resolved != CR_METRICS_NONE) ||
       (c->customer_len && !c->customer) ||
       cr__bot_profile_parse(c->profile ? c->profile : "", c->profile_len,
                             c->kv, &c->nkv)))
    r->err = CR_ECORRUPT;
  if (r->err) {
    cr__e_free_conv(e, c);
    return NULL;
  }
  return c;
}

static erecent *get_recent(rbuf *r, cr_engine *e) {
  erecent *x = cr__calloc(&e->mem, 1, sizeof *x);
  if (!x) {
    r->err = CR_ENOMEM;
    return NULL;
  }
  x->id = r_str(r, &e->mem, &x->id_len, 255);
  x->customer = r_str(r, &e->mem, &x->customer_len, 255);
  x->agent = r_str(r, &e->mem, &x->agent_len, 255);
  x->queue = r_str(r, &e->mem, &x->queue_len, 255);
  x->channel = r_i32(r);
  x->intent = r_i32(r);
  x->end_state = r_i32(r);
  x->ended = r_i64(r);
  if (!r->err && (!x->id || x->channel < 0 || x->channel >= CR_CHANNEL_COUNT ||
                  !label_ok(e, x->intent) || x->end_state < CR_ST_RESOLVED ||
                  x->end_state >= CR_ST_COUNT))
    r->err = CR_ECORRUPT;
  if (r->err) {
    cr__e_free_recent(e, x);
    return NULL;
  }
  return x;
}

static uint32_t rkey(cr_engine *e, int dim, const char *s, size_t n,
                     int *err) {
  uint32_t id = 0;
  if (s && n) {
    int rc = cr_metrics_key(e->metrics, dim, s, n, &id);
    if (rc == CR_ENOMEM)
      *err = CR_ENOMEM;
    else if (rc)
      id = 0; /* that breakdown is off */
  }
  return id;
}

/* Metrics key ids for a restored record: surveys need them. */
static void keys_recent(cr_engine *e, erecent *x, int *err) {
  const char *ch = cr_channel_name(x->channel);
  size_t n;
  x->key[CR_METRICS_CHANNEL] = rkey(e, CR_METRICS_CHANNEL, ch, strlen(ch),
                                    err);
  x->key[CR_METRICS_QUEUE] = rkey(e, CR_METRICS_QUEUE, x->queue, x->queue_len,
                                  err);
  x->key[CR_METRICS_AGENT] = rkey(e, CR_METRICS_AGENT, x->agent, x->agent_len,
                                  err);
  const char *l = cr__e_label(e, x->intent, &n);
  x->key[CR_METRICS_INTENT] = rkey(e, CR_METRICS_INTENT, l, n, err);
}

int cr_engine_restore(cr_engine *e, const void *buf, size_t len) {
  if (!e || (!buf && len))
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  e->err[0] = 0;
  if (len < 8 + 4 + 4 || memcmp(buf, SNAP_MAGIC, 7))
    return cr__e_fail(e, CR_ECORRUPT, "not an engine snapshot");
  const uint8_t *p = buf;
  uint32_t crc = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
                 (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
  if (cr__crc32(0, p, len - 4) != crc)
    return cr__e_fail(e, CR_ECORRUPT, "snapshot checksum mismatch");
  rbuf r = {p, len - 4, 8, 0};
  uint32_t ver = r_u32(&r);
  if (ver != SNAP_VERSION || p[7] != SNAP_MAGIC[7])
    return cr__e_fail(e, CR_EVERSION, "unsupported snapshot version");
  cr_time now = r_i64(&r);
  uint64_t seq = r_u64(&r), conv_seq = r_u64(&r);
  int32_t logged_in = r_i32(&r);
  uint32_t tmax = r_u32(&r), nlabels = r_u32(&r);
  if (!r.err && (tmax != e->transcript_max || nlabels != e->nlabels))
    return cr__e_fail(e, CR_EINVAL, "snapshot of a differently configured "
                                    "engine (transcript_max, model labels)");
  uint32_t nconv = r_u32(&r);
  if (r.err || nconv > (r.n - r.i) / 16 || logged_in < 0)
    return cr__e_fail(e, CR_ECORRUPT, "snapshot header");

  /* everything on the side */
  econv *convs = NULL, *bycust = NULL;
  ealias *ah = NULL; /* the aliases */
  erecent **rec = NULL;
  econv **heap = NULL;
  uint32_t nrec = 0, nheap = 0;
  cr_router *router = NULL;
  const cr_mem *cr__hmem = &e->mem;
  int cr__hoom = 0;
  int rc = 0;
  for (uint32_t i = 0; !rc && i < nconv; i++) {
    econv *c = get_conv(&r, e);
    if (!c) {
      rc = r.err;
      break;
    }
    econv *dup = NULL;
    ealias *adup = NULL;
    HASH_FIND(hh, convs, c->id, c->id_len, dup);
    HASH_FIND(hh, ah, c->id, c->id_len, adup);
    if (dup || adup) {
      cr__e_free_conv(e, c);
      rc = CR_ECORRUPT;
      break;
    }
    HASH_ADD_KEYPTR(hh, convs, c->id, c->id_len, c);
    if (cr__hoom) {
      cr__e_free_conv(e, c);
      rc = CR_ENOMEM;
      break;
    }
    for (ealias *a = c->aliases; !rc && a; a = a->next) {
      /* an alias is unique among ids and aliases */
      econv *o = NULL;
      ealias *oa = NULL;
      HASH_FIND(hh, convs, a->id, a->id_len, o);
      HASH_FIND(hh, ah, a->id, a->id_len, oa);
      if (o || oa) {
        rc = CR_ECORRUPT;
        break;
      }
      HASH_ADD_KEYPTR(hh, ah, a->id, a->id_len, a);
      if (cr__hoom)
        rc = CR_ENOMEM;
    }
    if (!rc && c->customer_len) {
      /* the same choice as conv_link: the first live contact, replaced by
       * a newer one while it is in WRAPUP */
      econv *o = NULL;
      HASH_FIND(hc, bycust, c->customer, c->customer_len, o);
      if (!o || o->st == CR_ST_WRAPUP) {
        HASH_ADD_KEYPTR(hc, bycust, c->customer, c->customer_len, c);
        if (cr__hoom)
          rc = CR_ENOMEM;
        else if (o)
          HASH_DELETE(hc, bycust, o);
      }
    }
  }
  uint32_t nr = rc ? 0 : r_u32(&r);
  if (!rc && (r.err || nr > (r.n - r.i) / 16))
    rc = CR_ECORRUPT;
  if (!rc && nr && e->recent_max) {
    rec = cr__calloc(&e->mem, nr, sizeof *rec);
    if (!rec)
      rc = CR_ENOMEM;
  }
  for (uint32_t i = 0; !rc && i < nr; i++) {
    erecent *x = get_recent(&r, e);
    if (!x) {
      rc = r.err;
      break;
    }
    if (!rec) {
      cr__e_free_recent(e, x); /* this engine keeps no record */
      continue;
    }
    rec[nrec++] = x;
  }
  if (!rc) {
    uint32_t rn = r_u32(&r);
    const uint8_t *rb = r_take(&r, rn);
    if (r.err)
      rc = CR_ECORRUPT;
    else
      rc = cr_router_restore(&router, &e->mem, rb, rn);
  }
  cr_metrics *metrics = NULL;
  uint64_t mlost = 0;
  if (!rc) {
    uint32_t mn = r_u32(&r);
    const uint8_t *mb = r_take(&r, mn);
    mlost = r_u64(&r);
    if (r.err || r.i != r.n)
      rc = CR_ECORRUPT;
    else
      rc = cr_metrics_restore(&metrics, &e->mem, mb, mn);
  }
  if (!rc) {
    /* the metrics key ids of the restored records, in the restored
     * accumulator (its ids are the snapshot's; a live conversation's keys
     * are resolved when its record is made) */
    cr_metrics *keep = e->metrics;
    e->metrics = metrics;
    for (uint32_t i = 0; !rc && i < nrec; i++)
      keys_recent(e, rec[i], &rc);
    e->metrics = keep;
  }
  if (!rc && nconv) {
    heap = cr__calloc(&e->mem, nconv, sizeof *heap);
    if (!heap)
      rc = CR_ENOMEM;
  }
  if (rc) {
    econv *c, *tmp;
    HASH_CLEAR(hc, bycust);
    HASH_CLEAR(hh, ah);
    HASH_ITER(hh, convs, c, tmp) {
      HASH_DELETE(hh, convs, c);
      cr__e_free_conv(e, c);
    }
    for (uint32_t i = 0; i < nrec; i++)
      cr__e_free_recent(e, rec[i]);
    cr__free(&e->mem, rec);
    cr__free(&e->mem, heap);
    cr_router_del(router);
    cr_metrics_del(metrics);
    if (rc == CR_ECORRUPT)
      return cr__e_fail(e, rc, "snapshot data is inconsistent");
    return rc;
  }

  /* swap: nothing below can fail */
  econv *c, *tmp;
  HASH_CLEAR(hc, e->by_customer);
  HASH_CLEAR(hh, e->alias);
  HASH_ITER(hh, e->convs, c, tmp) {
    HASH_DELETE(hh, e->convs, c);
    cr__e_free_conv(e, c);
  }
  cr__e_recent_clear(e);
  cr_router_del(e->router);
  e->router = router;
  cr__e_router_cbs(e);
  cr_metrics_del(e->metrics);
  e->metrics = metrics;
  e->metrics_lost = mlost;
  cr__free(&e->mem, e->heap);
  e->heap = heap;
  e->capheap = nconv;
  e->nheap = 0;
  e->convs = convs;
  e->by_customer = bycust;
  e->alias = ah;
  e->nconv = nconv;
  (void)nheap;
  for (c = convs; c; c = c->hh.next) {
    cr_time d = c->deadline;
    c->deadline = CR_TIME_NEVER;
    if (d != CR_TIME_NEVER)
      cr__e_heap_set(e, c, d);
  }
  /* the newest recent_max records, oldest first */
  uint32_t from = nrec > e->recent_max ? nrec - e->recent_max : 0;
  for (uint32_t i = 0; i < nrec; i++) {
    if (i < from)
      cr__e_free_recent(e, rec[i]);
    else
      cr__e_rec_index(e, rec[i]);
  }
  cr__free(&e->mem, rec);
  e->now = now;
  e->seq = seq;
  e->conv_seq = conv_seq;
  e->logged_in = logged_in;
  return 0;
}
