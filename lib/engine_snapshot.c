/* Engine persistence: every live conversation, the recently ended record,
 * the clocks and counters, the router and the metrics accumulator (their
 * own snapshots, nested) in one little-endian, versioned, CRC-32-checked
 * buffer. Configuration (policies, rules, texts, hours), the model and the
 * callbacks are host data and are not saved: see the header. Restore
 * parses everything on the side and swaps only when all of it is good, so
 * a bad buffer changes nothing.
 *
 * Layout (version 3): "CRENGSN1" u32 version, then the fields written by
 * put_conv / put_recent in order, the router blob (u32 length + bytes),
 * the metrics blob (u32 length + bytes), u64 metrics_lost, and a CRC-32
 * of all that precedes it. Strings are u32 length + bytes. Version 2
 * (records without the surveyed byte) is read with surveyed = 0: a survey
 * it already carried is not known, so one more is taken. Version 1 (no
 * credited intent, no metrics) is refused with CR_EVERSION. */
#include "crc32.h"
#include "engine.h"
#include "handoff.h"
#include "text.h"
#include "wire.h"

#include <string.h>

#define SNAP_MAGIC "CRENGSN1"
#define SNAP_VERSION 3u /* 2: the credited intent of a conversation; the
                            metrics accumulator (nested) and metrics_lost;
                            3: a recent record's surveyed flag (u8) */

/* A copied string of at most max bytes (UTF-8 checked); NULL for empty.
 * Sets err on corruption or CR_ENOMEM. */
static char *r_str(cr__rbuf *r, const cr_mem *mem, uint32_t *len, size_t max) {
  uint32_t n = cr__r_u32(r);
  *len = 0;
  if (r->err)
    return NULL;
  if (n > max) {
    r->err = CR_ECORRUPT;
    return NULL;
  }
  const uint8_t *s = cr__r_take(r, n);
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

static void put_skills(cr__wbuf *w, const eskills *s) {
  cr__w_u8(w, s->n);
  for (unsigned i = 0; i < s->n; i++) {
    cr__w_str(w, s->name[i], s->len[i]);
    cr__w_u8(w, s->level[i]);
  }
}

static void put_conv(const cr_engine *e, cr__wbuf *w, const econv *c) {
  cr__w_str(w, c->id, c->id_len);
  cr__w_str(w, c->customer, c->customer_len);
  cr__w_str(w, c->profile, c->profile_len);
  cr__w_u8(w, c->st);
  cr__w_u8(w, c->channel);
  cr__w_u8(w, c->reason);
  cr__w_u8(w, c->nchannels);
  for (unsigned i = 0; i < c->nchannels; i++)
    cr__w_u8(w, c->channels[i]);
  cr__w_u8(w, c->helped);
  cr__w_u8(w, c->unclear);
  cr__w_u8(w, c->field);
  cr__w_u8(w, c->escalated);
  cr__w_u8(w, c->lang_fixed);
  cr__w_u8(w, c->fpending);
  cr__w_str(w, c->lang, strlen(c->lang));
  cr__w_i32(w, c->policy);
  cr__w_i32(w, c->intent);
  cr__w_i32(w, c->mintent);
  cr__w_i32(w, c->fpolicy);
  cr__w_i32(w, c->clar[0]);
  cr__w_i32(w, c->clar[1]);
  cr__w_f64(w, c->intent_conf);
  cr__w_f64(w, c->clar_conf[0]);
  cr__w_f64(w, c->clar_conf[1]);
  for (unsigned i = 0; i < CR_ENGINE_MAX_FIELDS; i++) {
    cr__w_u8(w, c->fval[i] != NULL);
    if (c->fval[i])
      cr__w_str(w, c->fval[i], c->flen[i]);
  }
  cr__w_u32(w, c->noffers);
  cr__w_i64(w, c->arrived);
  cr__w_i64(w, c->queued_at);
  cr__w_i64(w, c->answered_at);
  cr__w_i64(w, c->wrap_at);
  cr__w_i64(w, c->deadline);
  cr__w_u64(w, c->seq);
  cr__w_str(w, c->agent, c->agent_len);
  cr__w_str(w, c->prev_agent, c->prev_agent_len);
  cr__w_str(w, c->queue, c->queue_len);
  cr__w_str(w, c->sticky, c->sticky_len);
  put_skills(w, &c->skills);
  cr__w_i32(w, c->priority);
  cr__w_i32(w, c->resolved);
  cr__w_u32(w, c->transfers);
  cr__w_u32(w, c->messages);
  cr__w_u32(w, c->dropped);
  cr__w_u32(w, c->lcount);
  uint32_t max = (uint32_t)e->transcript_max;
  for (uint32_t i = 0; i < c->lcount; i++) {
    const eline *l = &c->lines[(c->lhead + i) % max];
    cr__w_i64(w, l->at);
    cr__w_u8(w, l->from);
    cr__w_u8(w, l->channel);
    cr__w_str(w, l->text, l->len);
  }
  cr__w_u8(w, c->icount);
  for (unsigned i = 0; i < c->icount; i++) {
    const ehit *h = &c->ih[(c->ihead + i) % EMAXIH];
    cr__w_u32(w, h->label);
    cr__w_f64(w, h->conf);
    cr__w_i64(w, h->at);
  }
  uint32_t na = 0;
  for (const ealias *a = c->aliases; a; a = a->next)
    na++;
  cr__w_u32(w, na);
  for (const ealias *a = c->aliases; a; a = a->next) /* newest first */
    cr__w_str(w, a->id, a->id_len);
}

static void put_recent(cr__wbuf *w, const erecent *r) {
  cr__w_str(w, r->id, r->id_len);
  cr__w_str(w, r->customer, r->customer_len);
  cr__w_str(w, r->agent, r->agent_len);
  cr__w_str(w, r->queue, r->queue_len);
  cr__w_i32(w, r->channel);
  cr__w_i32(w, r->intent);
  cr__w_i32(w, r->end_state);
  cr__w_i64(w, r->ended);
  cr__w_u8(w, (uint8_t)(r->surveyed ? 1 : 0));
}

int cr_engine_snapshot(const cr_engine *e, void **buf, size_t *len) {
  if (!e || !buf || !len)
    return CR_EINVAL;
  if (e->busy)
    return CR_ESTATE;
  cr__wbuf w = {&e->mem, NULL, 0, 0, 0};
  cr__w_bytes(&w, SNAP_MAGIC, 8);
  cr__w_u32(&w, SNAP_VERSION);
  cr__w_i64(&w, e->now);
  cr__w_u64(&w, e->seq);
  cr__w_u64(&w, e->conv_seq);
  cr__w_i32(&w, e->logged_in);
  cr__w_u32(&w, (uint32_t)e->transcript_max);
  cr__w_u32(&w, (uint32_t)e->nlabels);
  cr__w_u32(&w, (uint32_t)e->nconv);
  for (const econv *c = e->convs; c; c = c->hh.next)
    put_conv(e, &w, c);
  cr__w_u32(&w, e->rcount);
  for (uint32_t i = 0; i < e->rcount; i++)
    put_recent(&w, e->recent[(e->rhead + i) % e->recent_max]);
  void *rb = NULL;
  size_t rn = 0;
  int rc = w.err ? w.err : cr_router_snapshot(e->router, &rb, &rn);
  if (!rc) {
    cr__w_u32(&w, (uint32_t)rn);
    cr__w_bytes(&w, rb, rn);
    cr__free(&e->mem, rb);
    /* v2: the metrics accumulator (nested, like the router), so the KPIs
     * survive a restore */
    rb = NULL;
    rc = cr_metrics_snapshot(e->metrics, &rb, &rn);
  }
  if (!rc) {
    cr__w_u32(&w, (uint32_t)rn);
    cr__w_bytes(&w, rb, rn);
    cr__free(&e->mem, rb);
    cr__w_u64(&w, e->metrics_lost);
    cr__w_u32(&w, cr__crc32(0, w.p, w.n));
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

static int get_skills(cr__rbuf *r, cr_engine *e, eskills *s) {
  unsigned n = cr__r_u8(r);
  if (n > CR_ROUTER_MAX_STEP_SKILLS)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < n; i++) {
    s->name[i] = r_str(r, &e->mem, &s->len[i], 255);
    s->level[i] = (uint8_t)cr__r_u8(r);
    if (!r->err && (!s->name[i] || s->level[i] < 1 || s->level[i] > 5))
      r->err = CR_ECORRUPT;
    s->n = (uint8_t)(i + 1);
  }
  return r->err;
}

static int label_ok(const cr_engine *e, int32_t v) {
  return v >= -1 && v < (int64_t)e->nlabels;
}

static econv *get_conv(cr__rbuf *r, cr_engine *e) {
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
  c->st = (uint8_t)cr__r_u8(r);
  c->channel = (uint8_t)cr__r_u8(r);
  c->reason = (uint8_t)cr__r_u8(r);
  c->nchannels = (uint8_t)cr__r_u8(r);
  if (c->nchannels > CR_CHANNEL_COUNT)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < c->nchannels; i++)
    if ((c->channels[i] = (uint8_t)cr__r_u8(r)) >= CR_CHANNEL_COUNT)
      r->err = CR_ECORRUPT;
  c->helped = (uint8_t)cr__r_u8(r);
  c->unclear = (uint8_t)cr__r_u8(r);
  c->field = (uint8_t)cr__r_u8(r);
  c->escalated = (uint8_t)cr__r_u8(r);
  c->lang_fixed = (uint8_t)cr__r_u8(r);
  c->fpending = (uint8_t)cr__r_u8(r);
  if (c->fpending > 1)
    r->err = CR_ECORRUPT;
  uint32_t ll;
  char *lang = r_str(r, &e->mem, &ll, ELANG - 1);
  if (lang)
    memcpy(c->lang, lang, ll);
  cr__free(&e->mem, lang);
  c->policy = cr__r_i32(r);
  c->intent = cr__r_i32(r);
  c->mintent = cr__r_i32(r);
  c->fpolicy = cr__r_i32(r);
  c->clar[0] = cr__r_i32(r);
  c->clar[1] = cr__r_i32(r);
  c->intent_conf = cr__r_f64(r);
  c->clar_conf[0] = cr__r_f64(r);
  c->clar_conf[1] = cr__r_f64(r);
  for (unsigned i = 0; !r->err && i < CR_ENGINE_MAX_FIELDS; i++)
    if (cr__r_u8(r)) {
      c->fval[i] = r_str(r, &e->mem, &c->flen[i], UINT32_MAX / 2);
      if (!r->err && !c->fval[i] &&
          !(c->fval[i] = cr__strndup(&e->mem, "", 0)))
        r->err = CR_ENOMEM;
    }
  c->noffers = cr__r_u32(r);
  c->arrived = cr__r_i64(r);
  c->queued_at = cr__r_i64(r);
  c->answered_at = cr__r_i64(r);
  c->wrap_at = cr__r_i64(r);
  c->deadline = cr__r_i64(r);
  c->seq = cr__r_u64(r);
  c->agent = r_str(r, &e->mem, &c->agent_len, 255);
  c->prev_agent = r_str(r, &e->mem, &c->prev_agent_len, 255);
  c->queue = r_str(r, &e->mem, &c->queue_len, 255);
  c->sticky = r_str(r, &e->mem, &c->sticky_len, 255);
  get_skills(r, e, &c->skills);
  c->priority = cr__r_i32(r);
  c->resolved = cr__r_i32(r);
  c->transfers = cr__r_u32(r);
  c->messages = cr__r_u32(r);
  c->dropped = cr__r_u32(r);
  uint32_t nl = cr__r_u32(r);
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
    l->at = cr__r_i64(r);
    l->from = (uint8_t)cr__r_u8(r);
    l->channel = (uint8_t)cr__r_u8(r);
    l->text = r_str(r, &e->mem, &l->len, UINT32_MAX / 2);
    l->cap = l->len;
    if (l->from > CR_FROM_AGENT || l->channel >= CR_CHANNEL_COUNT)
      r->err = CR_ECORRUPT;
    c->lcount = i + 1;
  }
  c->icount = (uint8_t)cr__r_u8(r);
  if (c->icount > EMAXIH)
    r->err = CR_ECORRUPT;
  for (unsigned i = 0; !r->err && i < c->icount; i++) {
    c->ih[i].label = cr__r_u32(r);
    c->ih[i].conf = cr__r_f64(r);
    c->ih[i].at = cr__r_i64(r);
    if (c->ih[i].label >= e->nlabels)
      r->err = CR_ECORRUPT;
  }
  uint32_t na = cr__r_u32(r);
  if (!r->err && na > (r->n - r->i) / 5)
    r->err = CR_ECORRUPT;
  ealias **tail = &c->aliases;
  for (uint32_t i = 0; !r->err && i < na; i++) {
    uint32_t n = cr__r_u32(r);
    const uint8_t *b = n && n <= 255 ? cr__r_take(r, n) : NULL;
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

static erecent *get_recent(cr__rbuf *r, cr_engine *e, uint32_t ver) {
  erecent *x = cr__calloc(&e->mem, 1, sizeof *x);
  if (!x) {
    r->err = CR_ENOMEM;
    return NULL;
  }
  x->id = r_str(r, &e->mem, &x->id_len, 255);
  x->customer = r_str(r, &e->mem, &x->customer_len, 255);
  x->agent = r_str(r, &e->mem, &x->agent_len, 255);
  x->queue = r_str(r, &e->mem, &x->queue_len, 255);
  x->channel = cr__r_i32(r);
  x->intent = cr__r_i32(r);
  x->end_state = cr__r_i32(r);
  x->ended = cr__r_i64(r);
  int sv = ver >= 3 ? cr__r_u8(r) : 0;
  x->surveyed = sv;
  if (!r->err && sv > 1)
    r->err = CR_ECORRUPT;
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
  if (cr__crc32(0, p, len - 4) != cr__le_get(p + len - 4, 4))
    return cr__e_fail(e, CR_ECORRUPT, "snapshot checksum mismatch");
  cr__rbuf r = {p, len - 4, 8, 0};
  uint32_t ver = cr__r_u32(&r);
  if (ver < 2 || ver > SNAP_VERSION || p[7] != SNAP_MAGIC[7])
    return cr__e_fail(e, CR_EVERSION, "unsupported snapshot version");
  cr_time now = cr__r_i64(&r);
  uint64_t seq = cr__r_u64(&r), conv_seq = cr__r_u64(&r);
  int32_t logged_in = cr__r_i32(&r);
  uint32_t tmax = cr__r_u32(&r), nlabels = cr__r_u32(&r);
  if (!r.err && (tmax != e->transcript_max || nlabels != e->nlabels))
    return cr__e_fail(e, CR_EINVAL, "snapshot of a differently configured "
                                    "engine (transcript_max, model labels)");
  uint32_t nconv = cr__r_u32(&r);
  /* the clock: never set (INT64_MIN) or a time inputs could have given */
  if (r.err || nconv > (r.n - r.i) / 16 || logged_in < 0 ||
      (now != INT64_MIN && !ET_OK(now)))
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
  uint32_t nr = rc ? 0 : cr__r_u32(&r);
  if (!rc && (r.err || nr > (r.n - r.i) / 16))
    rc = CR_ECORRUPT;
  if (!rc && nr && e->recent_max) {
    rec = cr__calloc(&e->mem, nr, sizeof *rec);
    if (!rec)
      rc = CR_ENOMEM;
  }
  for (uint32_t i = 0; !rc && i < nr; i++) {
    erecent *x = get_recent(&r, e, ver);
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
    uint32_t rn = cr__r_u32(&r);
    const uint8_t *rb = cr__r_take(&r, rn);
    if (r.err)
      rc = CR_ECORRUPT;
    else
      rc = cr_router_restore(&router, &e->mem, rb, rn);
  }
  cr_metrics *metrics = NULL;
  uint64_t mlost = 0;
  if (!rc) {
    uint32_t mn = cr__r_u32(&r);
    const uint8_t *mb = cr__r_take(&r, mn);
    mlost = cr__r_u64(&r);
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
