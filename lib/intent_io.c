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
#include "wire.h"

#include <math.h>
#include <string.h>

#define MAGIC "CRINTENT"
#define VERSION CR__INTENT_FORMAT

/* Writes the payload (or only measures it: a writer with no allocator). */
static void payload(const cr_intent_model *m, cr__wbuf *b) {
  cr__w_u8(b, (uint8_t)m->cfg.hash_bits);
  cr__w_u8(b, (uint8_t)m->cfg.word_n);
  cr__w_u8(b, (uint8_t)m->cfg.char_min);
  cr__w_u8(b, (uint8_t)m->cfg.char_max);
  cr__w_u8(b, (uint8_t)m->cfg.flags);
  cr__w_f64(b, m->temperature);
  cr__w_f64(b, m->threshold);
  cr__w_f32(b, m->idf_unseen);
  cr__w_u32(b, (uint32_t)m->n_labels);
  cr__w_u32(b, (uint32_t)m->n_cls);
  cr__w_u32(b, (uint32_t)m->oos);
  for (size_t i = 0; i < m->n_labels; i++) {
    size_t n = strlen(m->labels[i]);
    cr__w_u16(b, (uint16_t)n);
    cr__w_bytes(b, m->labels[i], n);
  }
  cr__w_u32(b, (uint32_t)m->n_feat);
  for (size_t i = 0; i < m->n_feat; i++)
    cr__w_u32(b, m->keys[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    cr__w_f32(b, m->idf[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    cr__w_f32(b, m->wscale[i]);
  for (size_t i = 0; i < m->n_feat; i++)
    cr__w_bytes(b, m->wq + i * m->stride, m->n_cls);
  for (size_t i = 0; i < m->n_cls; i++)
    cr__w_f32(b, m->bias[i]);
  cr__w_u32(b, (uint32_t)m->n_rules);
  for (size_t i = 0; i < m->n_rules; i++) {
    const cr__rule *r = &m->rules[i];
    cr__w_u32(b, r->label);
    cr__w_u32(b, (uint32_t)r->priority);
    cr__w_u8(b, r->except);
    cr__w_u32(b, (uint32_t)r->phrase_len);
    cr__w_bytes(b, r->phrase, r->phrase_len);
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
  cr__wbuf meas = {NULL, NULL, 0, 0, 0};
  payload(m, &meas);
  size_t total = 8 + 4 + 8 + meas.n + 4;
  uint8_t *p = cr__malloc(&mm, total);
  if (!p)
    return CR_ENOMEM;
  cr__wbuf b = {&mm, p, 0, total, 0}; /* exact size: never grows */
  cr__w_bytes(&b, MAGIC, 8);
  cr__w_u32(&b, VERSION);
  cr__w_u64(&b, meas.n);
  payload(m, &b);
  cr__w_u32(&b, cr__crc32(0, p, b.n));
  *buf = p;
  *len = b.n;
  return 0;
}

/* ---- reading ---- */

static int load_labels(cr_intent_model *m, cr__rbuf *r, uint32_t n) {
  if (!cr__r_room(r, n, 2))
    return CR_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    uint16_t len = cr__r_u16(r);
    const uint8_t *s = cr__r_take(r, len);
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
static int load_floats(const cr_mem *mm, cr__rbuf *r, size_t n, float lo,
                       float hi, float **out) {
  if (!cr__r_room(r, n, 4))
    return CR_ECORRUPT;
  float *f = cr__malloc(mm, (n ? n : 1) * sizeof *f);
  if (!f)
    return CR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    f[i] = cr__r_f32(r);
    if (!(f[i] >= lo && f[i] <= hi)) { /* also rejects NaN */
      cr__free(mm, f);
      return CR_ECORRUPT;
    }
  }
  *out = f;
  return 0;
}

static int load_features(cr_intent_model *m, cr__rbuf *r) {
  const cr_mem *mm = &m->mem;
  uint32_t nf = cr__r_u32(r);
  if (!cr__r_room(r, nf, 4))
    return CR_ECORRUPT;
  m->keys = cr__malloc(mm, (nf ? nf : 1) * sizeof *m->keys);
  if (!m->keys)
    return CR_ENOMEM;
  uint64_t limit = (uint64_t)1 << m->cfg.hash_bits;
  for (uint32_t i = 0; i < nf; i++) {
    m->keys[i] = cr__r_u32(r);
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
  if (m->n_cls && !cr__r_room(r, nf, m->n_cls))
    return CR_ECORRUPT;
  m->wq = cr__calloc(mm, (size_t)nf * m->stride, 1);
  if (!m->wq)
    return CR_ENOMEM;
  for (uint32_t i = 0; i < nf; i++) {
    const uint8_t *row = cr__r_take(r, m->n_cls);
    if (!row)
      return CR_ECORRUPT;
    memcpy(m->wq + (size_t)i * m->stride, row, m->n_cls);
    for (size_t c = 0; c < m->n_cls; c++)
      if (m->wq[(size_t)i * m->stride + c] == -128)
        return CR_ECORRUPT;
  }
  return load_floats(mm, r, m->n_cls, -1e6f, 1e6f, &m->bias);
}

static int load_rules(cr_intent_model *m, cr__rbuf *r, uint32_t version) {
  uint32_t n = cr__r_u32(r);
  if (!cr__r_room(r, n, version >= 2 ? 13 : 12) || n > 65535)
    return CR_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t label = cr__r_u32(r);
    int32_t prio = (int32_t)cr__r_u32(r);
    uint8_t flags = version >= 2 ? cr__r_u8(r) : 0;
    uint32_t len = cr__r_u32(r);
    const uint8_t *s = cr__r_take(r, len);
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

static int load_payload(cr_intent_model *m, cr__rbuf *r, uint32_t version) {
  m->cfg.hash_bits = cr__r_u8(r);
  m->cfg.word_n = cr__r_u8(r);
  m->cfg.char_min = cr__r_u8(r);
  m->cfg.char_max = cr__r_u8(r);
  m->cfg.flags = version >= 3 ? cr__r_u8(r) : 0;
  m->temperature = cr__r_f64(r);
  m->threshold = cr__r_f64(r);
  m->idf_unseen = cr__r_f32(r);
  uint32_t n_labels = cr__r_u32(r), n_cls = cr__r_u32(r);
  int32_t oos = (int32_t)cr__r_u32(r);
  const cr__feat_cfg *c = &m->cfg;
  if (r->err || c->hash_bits < 12 || c->hash_bits > 24 || c->word_n < 1 ||
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
  cr__rbuf h = {p, len, 8, 0};
  uint32_t version = cr__r_u32(&h);
  uint64_t plen = cr__r_u64(&h);
  if (plen != len - 24)
    return CR_ECORRUPT;
  uint32_t crc = (uint32_t)cr__le_get(p + len - 4, 4);
  if (cr__crc32(0, p, len - 4) != crc)
    return CR_ECORRUPT;
  if (version < 1 || version > VERSION)
    return version ? CR_EVERSION : CR_ECORRUPT;
  cr_intent_model *m;
  int rc = cr__model_alloc(&m, mem);
  if (rc)
    return rc;
  cr__rbuf r = {p, len - 4, 20, 0};
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
