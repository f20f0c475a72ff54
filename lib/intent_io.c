/* Saving and loading a model to and from a memory buffer.
 *
 * Format (all integers little-endian, floats as their IEEE-754 bits):
 *   "CRINTENT"  u32 version (3)  u64 payload length  payload  u32 CRC-32
 * where the CRC covers everything before it. Payload:
 *   u8 hash_bits, word_n, char_min, char_max, u8 feature flags (CR__FEAT_*)
 *   f64 temperature, f64 threshold, f32 idf of an unseen feature
 *   u32 n_labels, u32 n_cls, i32 oos
 *   n_labels x (u16 length, bytes)
 *   u32 n_feat, n_feat x u32 key (strictly increasing), n_feat x f32 idf,
 *   n_feat x f32 scale, n_feat rows of n_cls x i8 weight, n_cls x f32 bias
 *   u32 n_rules, n_rules x (u32 label, i32 priority, u8 flags, u32 length,
 *                           bytes)       flags bit 0: a rule exception
 * Version 2 (still loaded) had no feature flags byte: its models were
 * trained without the first-word feature and load with flags 0, so they
 * predict exactly as they did. Version 1 (still loaded) also had no rule
 * flags byte: every rule was a rule. Both are saved back as version 3.
 * The loader checks every count against the bytes left before it
 * allocates, so a corrupt length cannot ask for gigabytes. */
#include "intent.h"
#include "text.h"

#include <math.h>
#include <string.h>

#define MAGIC "CRINTENT"
#define VERSION CR__INTENT_FORMAT

typedef struct wbuf {
  uint8_t *p;
  size_t n;
} wbuf;

static void put(wbuf *b, const void *s, size_t n) {
  if (b->p)
    memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void put_u8(wbuf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(wbuf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  put(b, x, 2);
}
static void put_u32(wbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  put(b, x, 4);
}
static void put_u64(wbuf *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}
static void put_f32(wbuf *b, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(b, v);
}
static void put_f64(wbuf *b, double f) {
  uint64_t v;
  memcpy(&v, &f, 8);
  put_u64(b, v);
}

/* Writes the payload (or only measures it when b->p is NULL). */
static void payload(const cr_intent_model *m, wbuf *b) {
  put_u8(b, (uint8_t)m->cfg.hash_bits);
  put_u8(b, (uint8_t)m->cfg.word_n);
  put_u8(b, (uint8_t)m->cfg.char_min);
  put_u8(b, (uint8_t)m->cfg.char_max);
  put_u8(b, (uint8_t)m->cfg.flags);
  put_f64(b, m->temperature);
  put_f64(b, m->threshold);
  put_f32(b, m->idf_unseen);
  put_u32(b, (uint32_t)m->n_labels);
  put_u32(b, (uint32_t)m->n_cls);
  put_u32(b, (uint32_t)m->oos);
  for (size_t i = 0; i < m->n_labels; i++) {
    size_t n = strlen(m->labels[i]);
    put_u16(b, (uint16_t)n);
    put(b, m->labels[i], n);
  }
  put_u32(b, (uint32_t)m->n_feat);
  for (size_t i = 0; i < m->n_feat; i++)
    put_u32(b, m->keys[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    put_f32(b, m->idf[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    put_f32(b, m->wscale[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    put(b, m->wq + i * m->stride, m->n_cls);
  for (size_t i = 0; i < m->n_cls; i++)
    put_f32(b, m->bias[i]);
  put_u32(b, (uint32_t)m->n_rules);
  for (size_t i = 0; i < m->n_rules; i++) {
    const cr__rule *r = &m->rules[i];
    put_u32(b, r->label);
    put_u32(b, (uint32_t)r->priority);
    put_u8(b, r->except);
    put_u32(b, (uint32_t)r->phrase_len);
    put(b, r->phrase, r->phrase_len);
  }
}

int cr_intent_model_save(const cr_intent_model *m, const cr_mem *mem,
                         void **buf, size_t *len) {
  if (!m)
    return CR_EINVAL;
  /* errmsg is the last call's report, not model state: a save resets it
   * like every other call (the model is always heap-allocated by us). */
  ((cr_intent_model *)m)->errmsg[0] = 0;
  if (!buf || !len)
    return CR_EINVAL;
  cr_mem mm;
  if (cr__mem_init(&mm, mem))
    return CR_EINVAL;
  wbuf meas = {NULL, 0};
  payload(m, &meas);
  size_t total = 8 + 4 + 8 + meas.n + 4;
  uint8_t *p = cr__malloc(&mm, total);
  if (!p)
    return CR_ENOMEM;
  wbuf b = {p, 0};
  put(&b, MAGIC, 8);
  put_u32(&b, VERSION);
  put_u64(&b, meas.n);
  payload(m, &b);
  put_u32(&b, cr__crc32(0, p, b.n));
  *buf = p;
  *len = b.n;
  return 0;
}

/* ---- reading ---- */

typedef struct rbuf {
  const uint8_t *p;
  size_t n, i;
  int bad;
} rbuf;

static const uint8_t *take(rbuf *r, size_t n) {
  if (r->bad || r->n - r->i < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *s = r->p + r->i;
  r->i += n;
  return s;
}
static uint8_t get_u8(rbuf *r) {
  const uint8_t *s = take(r, 1);
  return s ? s[0] : 0;
}
static uint16_t get_u16(rbuf *r) {
  const uint8_t *s = take(r, 2);
  return s ? (uint16_t)(s[0] | s[1] << 8) : 0;
}
static uint32_t get_u32(rbuf *r) {
  const uint8_t *s = take(r, 4);
  return s ? (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                 (uint32_t)s[3] << 24
           : 0;
}
static uint64_t get_u64(rbuf *r) {
  uint64_t lo = get_u32(r);
  return lo | (uint64_t)get_u32(r) << 32;
}
static float get_f32(rbuf *r) {
  uint32_t v = get_u32(r);
  float f;
  memcpy(&f, &v, 4);
  return f;
}
static double get_f64(rbuf *r) {
  uint64_t v = get_u64(r);
  double f;
  memcpy(&f, &v, 8);
  return f;
}
/* Room for count items of size bytes? (checked before allocating) */
static int room(const rbuf *r, size_t count, size_t size) {
  return !r->bad && size && count <= (r->n - r->i) / size;
}

static int load_labels(cr_intent_model *m, rbuf *r, uint32_t n) {
  if (!room(r, n, 2))
    return CR_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    uint16_t len = get_u16(r);
    const uint8_t *s = take(r, len);
    if (!s || cr__label_check((const char *)s, len) ||
        cr__model_find_label(m, (const char *)s, len) >= 0)
      return CR_ECORRUPT;
    int rc = cr__model_add_label(m, (const char *)s, len, NULL);
    if (rc)
      return rc;
  }
  return 0;
}

/* Values are bounded as well as finite, so no corrupt-but-resealed model
 * can overflow a score to infinity and a confidence to NaN: smooth idf is
 * in [1, ln(n + 1) + 1] (< 100 for any real n) -- a tiny idf would make
 * the L2 normaliser 1/|x| overflow (found by the fuzzer) -- and weight
 * scales and biases of a trained SVM are O(1). */
static int load_floats(const cr_mem *mm, rbuf *r, size_t n, float lo,
                       float hi, float **out) {
  if (!room(r, n, 4))
    return CR_ECORRUPT;
  float *f = cr__malloc(mm, (n ? n : 1) * sizeof *f);
  if (!f)
    return CR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    f[i] = get_f32(r);
    if (!(f[i] >= lo && f[i] <= hi)) { /* also rejects NaN */
      cr__free(mm, f);
      return CR_ECORRUPT;
    }
  }
  *out = f;
  return 0;
}

static int load_features(cr_intent_model *m, rbuf *r) {
  const cr_mem *mm = &m->mem;
  uint32_t nf = get_u32(r);
  if (!room(r, nf, 4))
    return CR_ECORRUPT;
  m->keys = cr__malloc(mm, (nf ? nf : 1) * sizeof *m->keys);
  if (!m->keys)
    return CR_ENOMEM;
  uint64_t limit = (uint64_t)1 << m->cfg.hash_bits;
  for (uint32_t i = 0; i < nf; i++) {
    m->keys[i] = get_u32(r);
    if (m->keys[i] >= limit || (i && m->keys[i] <= m->keys[i - 1]))
      return CR_ECORRUPT;
  }
  m->n_feat = nf;
  int rc = load_floats(mm, r, nf, 1.0f, 100.0f, &m->idf);
  if (rc)
    return rc;
  if ((rc = load_floats(mm, r, nf, 0.0f, 1e6f, &m->wscale)) != 0)
    return rc;
  m->stride = (m->n_cls + 15) & ~(size_t)15;
  if (m->n_cls && !room(r, nf, m->n_cls))
    return CR_ECORRUPT;
  m->wq = cr__calloc(mm, (size_t)nf * m->stride, 1);
  if (!m->wq)
    return CR_ENOMEM;
  for (uint32_t i = 0; i < nf; i++) {
    const uint8_t *row = take(r, m->n_cls);
    if (!row)
      return CR_ECORRUPT;
    memcpy(m->wq + (size_t)i * m->stride, row, m->n_cls);
    for (size_t c = 0; c < m->n_cls; c++)
      if (m->wq[(size_t)i * m->stride + c] == -128)
        return CR_ECORRUPT;
  }
  return load_floats(mm, r, m->n_cls, -1e6f, 1e6f, &m->bias);
}

static int load_rules(cr_intent_model *m, rbuf *r, uint32_t version) {
  uint32_t n = get_u32(r);
  if (!room(r, n, version >= 2 ? 13 : 12) || n > 65535)
    return CR_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t label = get_u32(r);
    int32_t prio = (int32_t)get_u32(r);
    uint8_t flags = version >= 2 ? get_u8(r) : 0;
    uint32_t len = get_u32(r);
    const uint8_t *s = take(r, len);
    if (!s || label >= m->n_labels || flags > 1)
      return CR_ECORRUPT;
    const char *lab = m->labels[label];
    int rc = cr__rule_add(m, lab, strlen(lab), (const char *)s, len, prio,
                          flags & 1);
    if (rc == CR_EINVAL || rc == CR_EUTF8 || rc == CR_EFULL)
      return CR_ECORRUPT;
    if (rc)
      return rc;
  }
  return 0;
}

static int load_payload(cr_intent_model *m, rbuf *r, uint32_t version) {
  m->cfg.hash_bits = get_u8(r);
  m->cfg.word_n = get_u8(r);
  m->cfg.char_min = get_u8(r);
  m->cfg.char_max = get_u8(r);
  m->cfg.flags = version >= 3 ? get_u8(r) : 0;
  m->temperature = get_f64(r);
  m->threshold = get_f64(r);
  m->idf_unseen = get_f32(r);
  uint32_t n_labels = get_u32(r), n_cls = get_u32(r);
  int32_t oos = (int32_t)get_u32(r);
  const cr__feat_cfg *c = &m->cfg;
  if (r->bad || c->hash_bits < 12 || c->hash_bits > 24 || c->word_n < 1 ||
      c->word_n > 3 || (c->flags & ~CR__FEAT_KNOWN) ||
      !((c->char_min == 0 && c->char_max == 0) ||
        (c->char_min >= 1 && c->char_min <= c->char_max && c->char_max <= 8)) ||
      !(m->temperature >= 1e-4 && m->temperature <= 1e4) ||
      !(m->threshold >= 0 && m->threshold <= 1) ||
      !(m->idf_unseen >= 1 && m->idf_unseen <= 100) || n_cls > n_labels ||
      oos < -1 || (oos >= 0 && (uint32_t)oos >= n_cls))
    return CR_ECORRUPT;
  m->oos = oos;
  int rc = load_labels(m, r, n_labels);
  if (rc)
    return rc;
  m->n_cls = n_cls;
  if ((rc = load_features(m, r)) != 0)
    return rc;
  if ((rc = load_rules(m, r, version)) != 0)
    return rc;
  return r->i == r->n ? 0 : CR_ECORRUPT;
}

int cr_intent_model_load(cr_intent_model **out, const cr_mem *mem,
                         const void *buf, size_t len) {
  if (!out || (!buf && len))
    return CR_EINVAL;
  const uint8_t *p = buf;
  if (len < 8 + 4 + 8 + 4 || memcmp(p, MAGIC, 8) != 0)
    return CR_ECORRUPT;
  rbuf h = {p, len, 8, 0};
  uint32_t version = get_u32(&h);
  uint64_t plen = get_u64(&h);
  if (plen != len - 24)
    return CR_ECORRUPT;
  uint32_t crc = get_u32(&(rbuf){p, len, len - 4, 0});
  if (cr__crc32(0, p, len - 4) != crc)
    return CR_ECORRUPT;
  if (version < 1 || version > VERSION)
    return version ? CR_EVERSION : CR_ECORRUPT;
  cr_intent_model *m;
  int rc = cr__model_alloc(&m, mem);
  if (rc)
    return rc;
  rbuf r = {p, len - 4, 20, 0};
  rc = load_payload(m, &r, version);
  if (!rc)
    rc = cr__model_finish(m);
  if (rc) {
    cr_intent_model_del(m);
    return rc;
  }
  *out = m;
  return 0;
}
