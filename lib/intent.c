/* The intent model: prediction, rules, the out-of-scope threshold. */
#include "intent.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void merr(cr_intent_model *m, const char *msg, size_t line) {
  if (line)
    snprintf(m->errmsg, sizeof m->errmsg, "line %zu: %s", line, msg);
  else
    snprintf(m->errmsg, sizeof m->errmsg, "%s", msg);
}

int cr__model_alloc(cr_intent_model **out, const cr_mem *mem) {
  cr_mem mm;
  if (cr__mem_init(&mm, mem) != 0)
    return CR_EINVAL;
  cr_intent_model *m = cr__calloc(&mm, 1, sizeof *m);
  if (!m)
    return CR_ENOMEM;
  m->mem = mm;
  m->oos = -1;
  m->temperature = 1.0;
  *out = m;
  return 0;
}

static void rule_free(const cr_mem *mm, cr__rule *r) {
  cr__free(mm, r->phrase);
  cr__free(mm, r->pool);
  cr__free(mm, r->words);
}

void cr_intent_model_del(cr_intent_model *m) {
  if (!m)
    return;
  const cr_mem *mm = &m->mem;
  for (size_t i = 0; i < m->n_labels; i++)
    cr__free(mm, m->labels[i]);
  cr__free(mm, m->labels);
  for (size_t i = 0; i < m->n_rules; i++)
    rule_free(mm, &m->rules[i]);
  cr__free(mm, m->rules);
  cr__free(mm, m->keys);
  cr__free(mm, m->idf);
  cr__free(mm, m->wq);
  cr__free(mm, m->wscale);
  cr__free(mm, m->bias);
  cr__free(mm, m->tab);
  cr__free(mm, m->meta);
  cr__free(mm, m->vals);
  cr__free(mm, m->norm);
  cr__free(mm, m->cnt);
  cr__free(mm, m->rows);
  cr__free(mm, m->scores);
  cr__free(mm, m->prob);
  cr__free(mm, m);
}

const char *cr_intent_model_errmsg(const cr_intent_model *m) {
  return m ? m->errmsg : "";
}

int cr__model_find_label(const cr_intent_model *m, const char *s, size_t n) {
  for (size_t i = 0; i < m->n_labels; i++)
    if (strlen(m->labels[i]) == n && memcmp(m->labels[i], s, n) == 0)
      return (int)i;
  return -1;
}

int cr__model_add_label(cr_intent_model *m, const char *s, size_t n,
                        size_t *idx) {
  if (cr__grow(&m->mem, (void **)&m->labels, &m->labels_cap,
               m->n_labels + 1, sizeof *m->labels))
    return CR_ENOMEM;
  char *c = cr__strndup(&m->mem, s, n);
  if (!c)
    return CR_ENOMEM;
  if (idx)
    *idx = m->n_labels;
  m->labels[m->n_labels++] = c;
  return 0;
}

static size_t stride_of(size_t ncls) { return (ncls + 15) & ~(size_t)15; }

int cr__model_set_weights(cr_intent_model *m, const float *w) {
  const cr_mem *mm = &m->mem;
  size_t ncls = m->n_cls, st = stride_of(ncls);
  if (m->n_feat && st > SIZE_MAX / m->n_feat)
    return CR_ENOMEM;
  int8_t *q = cr__calloc(mm, m->n_feat * st, 1);
  float *sc = cr__malloc(mm, (m->n_feat ? m->n_feat : 1) * sizeof *sc);
  if (!q || !sc) {
    cr__free(mm, q);
    cr__free(mm, sc);
    return CR_ENOMEM;
  }
  /* Symmetric per-feature scale: the error is at most 1/254 of the
   * feature's largest weight. */
  for (size_t r = 0; r < m->n_feat; r++) {
    const float *row = w + r * ncls;
    float mx = 0;
    for (size_t c = 0; c < ncls; c++)
      mx = fabsf(row[c]) > mx ? fabsf(row[c]) : mx;
    sc[r] = mx;
    for (size_t c = 0; c < ncls && mx > 0; c++) {
      long v = lrintf(row[c] / mx * 127.0f);
      q[r * st + c] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
  }
  m->wq = q;
  m->wscale = sc;
  m->stride = st;
  return 0;
}

static inline size_t tab_slot(const cr_intent_model *m, uint32_t key) {
  return ((size_t)key * 2654435761u) & m->tab_mask;
}

/* Builds the bucket -> row table (load factor <= 1/2) and the scratch
 * predict needs, so predict itself allocates only for long messages. */
static cr__axpy_fn pick_axpy(void);

int cr__model_finish(cr_intent_model *m) {
  const cr_mem *mm = &m->mem;
  size_t cap = 16, nf = m->n_feat ? m->n_feat : 1;
  while (cap < m->n_feat * 2)
    cap *= 2;
  struct cr__slot *tab = cr__calloc(mm, cap, sizeof *tab);
  uint32_t *cnt = cr__calloc(mm, nf, sizeof *cnt);
  uint32_t *rows = cr__malloc(mm, nf * sizeof *rows);
  float *meta = cr__malloc(mm, nf * 2 * sizeof *meta);
  float *vals = cr__malloc(mm, nf * sizeof *vals);
  float *scores = cr__calloc(mm, m->stride ? m->stride : 16, sizeof *scores);
  double *prob = cr__malloc(mm, (m->n_cls ? m->n_cls : 1) * sizeof *prob);
  if (!tab || !cnt || !rows || !meta || !vals || !scores || !prob) {
    cr__free(mm, tab);
    cr__free(mm, cnt);
    cr__free(mm, rows);
    cr__free(mm, meta);
    cr__free(mm, vals);
    cr__free(mm, scores);
    cr__free(mm, prob);
    return CR_ENOMEM;
  }
  m->tab = tab;
  m->tab_mask = cap - 1;
  m->axpy = pick_axpy();
  for (size_t r = 0; r < m->n_feat; r++) {
    size_t h = tab_slot(m, m->keys[r]);
    while (tab[h].key1)
      h = (h + 1) & m->tab_mask;
    tab[h].key1 = m->keys[r] + 1;
    tab[h].row = (uint32_t)r;
    meta[2 * r] = m->idf[r];
    meta[2 * r + 1] = m->wscale[r] * (1.0f / 127.0f);
  }
  m->cnt = cnt;
  m->rows = rows;
  m->meta = meta;
  m->vals = vals;
  m->scores = scores;
  m->prob = prob;
  return 0;
}

/* The hot loop of prediction: scores[0..st) += vals[k] * row_k for every
 * distinct feature row of the message (st a multiple of 16). On x86-64,
 * SSE2 (always there) or AVX2 (chosen once per model when the CPU has it):
 * int8 -> float is one instruction with AVX2 against unpack-and-shift with
 * SSE2; compilers lower the portable form badly. Both do a separate
 * multiply then add per element in the same order, so they give the same
 * bits. Elsewhere, the plain loop. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static void axpy_sse2(float *s, const int8_t *wq, size_t st,
                      const uint32_t *rows, const float *vals, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const int8_t *q = wq + (size_t)rows[k] * st;
    __m128 v = _mm_set1_ps(vals[k]);
    for (size_t c = 0; c < st; c += 16) {
      __m128i b = _mm_loadu_si128((const __m128i *)(q + c));
      __m128i lo = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
      __m128i hi = _mm_srai_epi16(_mm_unpackhi_epi8(b, b), 8);
      __m128i i32[4] = {_mm_srai_epi32(_mm_unpacklo_epi16(lo, lo), 16),
                        _mm_srai_epi32(_mm_unpackhi_epi16(lo, lo), 16),
                        _mm_srai_epi32(_mm_unpacklo_epi16(hi, hi), 16),
                        _mm_srai_epi32(_mm_unpackhi_epi16(hi, hi), 16)};
      for (int j = 0; j < 4; j++) {
        __m128 a = _mm_loadu_ps(s + c + 4 * j);
        a = _mm_add_ps(a, _mm_mul_ps(v, _mm_cvtepi32_ps(i32[j])));
        _mm_storeu_ps(s + c + 4 * j, a);
      }
    }
  }
}

__attribute__((target("avx2"))) static void
axpy_avx2(float *s, const int8_t *wq, size_t st, const uint32_t *rows,
          const float *vals, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const int8_t *q = wq + (size_t)rows[k] * st;
    __m256 v = _mm256_set1_ps(vals[k]);
    for (size_t c = 0; c < st; c += 16) {
      __m256i a0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + c)));
      __m256i a1 =
          _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + c + 8)));
      __m256 s0 = _mm256_loadu_ps(s + c), s1 = _mm256_loadu_ps(s + c + 8);
      s0 = _mm256_add_ps(s0, _mm256_mul_ps(v, _mm256_cvtepi32_ps(a0)));
      s1 = _mm256_add_ps(s1, _mm256_mul_ps(v, _mm256_cvtepi32_ps(a1)));
      _mm256_storeu_ps(s + c, s0);
      _mm256_storeu_ps(s + c + 8, s1);
    }
  }
}

static cr__axpy_fn pick_axpy(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? axpy_avx2 : axpy_sse2;
}
#else
static void axpy_plain(float *s, const int8_t *wq, size_t st,
                       const uint32_t *rows, const float *vals, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const int8_t *q = wq + (size_t)rows[k] * st;
    for (size_t c = 0; c < st; c++)
      s[c] += vals[k] * (float)q[c];
  }
}

static cr__axpy_fn pick_axpy(void) { return axpy_plain; }
#endif

static void count_emit(void *ctx, uint32_t bucket) {
  cr_intent_model *m = ctx;
  size_t h = tab_slot(m, bucket);
  const struct cr__slot *t = m->tab;
  while (t[h].key1) {
    if (t[h].key1 == bucket + 1) {
      uint32_t r = t[h].row;
      if (m->cnt[r]++ == 0)
        m->rows[m->n_rows++] =
            r | (uint32_t)cr__bucket_group(&m->cfg, bucket) << 31;
      return;
    }
    h = (h + 1) & m->tab_mask;
  }
  m->unseen[cr__bucket_group(&m->cfg, bucket)]++;
}

/* The same TF-IDF as training (intent_train.c build_x), in float, then
 * the sparse product with the feature-major weights. */
int cr__model_scores(cr_intent_model *m, const char *norm, size_t n) {
  const size_t ncls = m->n_cls, st = m->stride;
  float *s = m->scores;
  m->n_rows = 0;
  m->unseen[0] = m->unseen[1] = 0;
  cr__features(&m->cfg, norm, n, count_emit, m);
  /* Unknown features count in the norm (each occurrence as tf 1), so a
   * message made mostly of words the model never saw keeps small scores
   * instead of having its few known features blown up to unit length. */
  double u2 = (double)m->idf_unseen * m->idf_unseen;
  double ss[2] = {m->unseen[0] * u2, m->unseen[1] * u2};
  for (size_t k = 0; k < m->n_rows; k++) {
    uint32_t r = m->rows[k] & 0x7fffffffu;
    uint32_t tf = m->cnt[r];
    m->cnt[r] = 0;
    double v = (tf == 1 ? 1.0 : 1.0 + log((double)tf)) * m->meta[2 * r];
    m->vals[k] = (float)v;
    ss[m->rows[k] >> 31] += v * v;
  }
  float inv[2];
  for (int g = 0; g < 2; g++)
    inv[g] = ss[g] > 0 ? (float)(0.70710678118654752440 / sqrt(ss[g])) : 0.0f;
  memset(s, 0, st * sizeof *s);
  for (size_t k = 0; k < m->n_rows; k++) {
    uint32_t g = m->rows[k] >> 31;
    m->rows[k] &= 0x7fffffffu;
    m->vals[k] *= inv[g] * m->meta[2 * m->rows[k] + 1];
  }
  m->axpy(s, m->wq, st, m->rows, m->vals, m->n_rows);
  for (size_t c = 0; c < ncls; c++)
    s[c] += m->bias[c];
  return 0;
}

void cr__softmax(const float *s, size_t n, double temperature, double *p) {
  double mx = s[0];
  for (size_t c = 1; c < n; c++)
    if (s[c] > mx)
      mx = s[c];
  /* expf: ~150 exponentials per message are a visible part of the cost
   * at 150,000 messages/s, and float is plenty for a confidence. */
  double z = 0;
  float beta = (float)(1.0 / temperature), fmx = (float)mx;
  for (size_t c = 0; c < n; c++) {
    p[c] = expf(beta * (s[c] - fmx));
    z += p[c];
  }
  for (size_t c = 0; c < n; c++)
    p[c] /= z;
}

/* ---------------------------------------------------------------------
 * Rules */

#define HEB(cp) (0xD7 == (uint8_t)(cp))

static int is_proclitic(const uint8_t *p) {
  /* ו U+05D5, ה 05D4, ב 05D1, ל 05DC, מ 05DE, ש 05E9, כ 05DB (UTF-8 D7 xx) */
  if (p[0] != 0xD7)
    return 0;
  switch (p[1]) {
  case 0x95: case 0x94: case 0x91: case 0x9C: case 0x9E: case 0xA9: case 0x9B:
    return 1;
  default:
    return 0;
  }
}

static int word_match(const uint8_t *tok, size_t tn, const uint8_t *rw,
                      size_t rn, int prefix) {
  for (int strip = 0; strip <= 3; strip++) {
    if (tn >= rn && (prefix ? 1 : tn == rn) && memcmp(tok, rw, rn) == 0)
      return 1;
    /* Hebrew glues ו ה ב ל מ ש כ to the next word; only strip them in
     * front of a Hebrew rule word and keep two letters behind. */
    if (rn < 2 || rw[0] != 0xD7 || tn < 2 + 4 || !is_proclitic(tok))
      return 0;
    tok += 2, tn -= 2;
  }
  return 0;
}

/* Token boundaries of the normalised message, computed on the fly. */
static int rule_matches(const cr__rule *r, const char *norm, size_t n) {
  const uint8_t *u = (const uint8_t *)norm;
  size_t i = 0;
  while (i < n) {
    size_t p = i, w = 0;
    while (w < r->n_words && p < n) {
      size_t e = p;
      while (e < n && u[e] != ' ')
        e++;
      const cr__rule_word *rw = &r->words[w];
      if (!word_match(u + p, e - p, (const uint8_t *)r->pool + rw->off,
                      rw->len, rw->prefix))
        break;
      w++;
      p = e + 1;
    }
    if (w == r->n_words)
      return 1;
    while (i < n && u[i] != ' ')
      i++;
    i++;
  }
  return 0;
}

/* The first-word index (see CR__RULE_BUCKETS in intent.h). Two bytes
 * because a normalised word starts with one whole UTF-8 character: two
 * bytes are a whole Hebrew letter, or two ASCII letters. */
static size_t key_bucket(const uint8_t *p) {
  return ((unsigned)p[0] * 33u ^ p[1]) & (CR__RULE_BUCKETS - 1);
}

static size_t rule_bucket(const cr__rule *r) {
  const cr__rule_word *w = &r->words[0];
  return w->len < 2 ? CR__RULE_BUCKETS
                    : key_bucket((const uint8_t *)r->pool + w->off);
}

static void mark_bucket(cr_intent_model *m, size_t b, uint32_t epoch) {
  for (uint32_t j = m->rule_head[b]; j; j = m->rules[j - 1].next)
    m->rules[j - 1].seen = epoch;
}

/* Marks every rule whose first word can match some token of the
 * message: a superset of the rules rule_matches() accepts. A first word
 * matches a token after stripping 0..3 proclitics (word_match), so each
 * token contributes the buckets of its first two bytes at each strip
 * word_match could make (its extra conditions only narrow the set). A
 * stale seen equal to a wrapped epoch only adds a candidate. */
static uint32_t mark_candidates(cr_intent_model *m, const char *norm,
                                size_t n) {
  uint32_t epoch = ++m->rule_epoch;
  mark_bucket(m, CR__RULE_BUCKETS, epoch);
  const uint8_t *u = (const uint8_t *)norm;
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && u[e] != ' ')
      e++;
    const uint8_t *tok = u + i;
    size_t tn = e - i;
    for (int strip = 0; strip <= 3; strip++) {
      if (tn >= 2)
        mark_bucket(m, key_bucket(tok), epoch);
      if (tn < 2 + 4 || !is_proclitic(tok))
        break;
      tok += 2, tn -= 2;
    }
    i = e + 1;
  }
  return epoch;
}

/* Removes the last rule (rules are only ever removed last-in first-out,
 * so it is the head of its bucket chain). */
static void rule_pop(cr_intent_model *m) {
  cr__rule *r = &m->rules[m->n_rules - 1];
  m->rule_head[rule_bucket(r)] = r->next;
  rule_free(&m->mem, r);
  m->n_rules--;
}

static int rule_parse(const cr_mem *mm, cr__rule *r, const char *ph,
                      size_t n) {
  memset(r, 0, sizeof *r);
  r->phrase = cr__strndup(mm, ph, n);
  r->pool = cr__malloc(mm, n + 1);
  r->words = cr__malloc(mm, (n / 2 + 1) * sizeof *r->words);
  if (!r->phrase || !r->pool || !r->words) {
    rule_free(mm, r);
    return CR_ENOMEM;
  }
  r->phrase_len = n;
  /* Split on white space first so a trailing '*' can be seen, then
   * normalise each raw word (which may itself split, "e-mail"). */
  size_t i = 0, pl = 0;
  while (i < n) {
    while (i < n && (ph[i] == ' ' || ph[i] == '\t'))
      i++;
    size_t e = i;
    while (e < n && ph[e] != ' ' && ph[e] != '\t')
      e++;
    if (e == i)
      break;
    int star = ph[e - 1] == '*';
    size_t k = cr__normalize(ph + i, e - i - (size_t)star, r->pool + pl);
    size_t q = pl;
    while (q < pl + k) {
      size_t z = q;
      while (z < pl + k && r->pool[z] != ' ')
        z++;
      r->words[r->n_words].off = (uint32_t)q;
      r->words[r->n_words].len = (uint32_t)(z - q);
      r->words[r->n_words].prefix = (uint8_t)(star && z == pl + k);
      r->n_words++;
      q = z + 1;
    }
    pl += k;
    i = e;
  }
  if (r->n_words == 0) {
    rule_free(mm, r);
    return CR_EINVAL;
  }
  return 0;
}

int cr__rule_add(cr_intent_model *m, const char *label, size_t label_len,
                 const char *phrase, size_t phrase_len, int priority,
                 int except) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = 0;
  if (!phrase && phrase_len) {
    merr(m, "NULL rule phrase", 0);
    return CR_EINVAL;
  }
  int rc = cr__label_check(label, label_len);
  if (rc) {
    merr(m, "bad rule label", 0);
    return rc;
  }
  if (cr__utf8_check(phrase, phrase_len)) {
    merr(m, "rule phrase is not valid UTF-8", 0);
    return CR_EUTF8;
  }
  if (m->n_rules >= 65535) {
    merr(m, "too many rules (65535)", 0);
    return CR_EFULL;
  }
  if (cr__grow(&m->mem, (void **)&m->rules, &m->rules_cap, m->n_rules + 1,
               sizeof *m->rules))
    return CR_ENOMEM;
  cr__rule r;
  if ((rc = rule_parse(&m->mem, &r, phrase, phrase_len)) != 0) {
    if (rc == CR_EINVAL)
      merr(m, "rule phrase has no words", 0);
    return rc;
  }
  int li = cr__model_find_label(m, label, label_len);
  if (li < 0) {
    size_t idx;
    if ((rc = cr__model_add_label(m, label, label_len, &idx)) != 0) {
      rule_free(&m->mem, &r);
      return rc;
    }
    li = (int)idx;
  }
  r.label = (uint32_t)li;
  r.priority = priority;
  r.except = (uint8_t)(except != 0);
  size_t b = rule_bucket(&r);
  r.next = m->rule_head[b];
  m->rules[m->n_rules++] = r;
  m->rule_head[b] = (uint32_t)m->n_rules; /* index + 1 */
  return 0;
}

int cr_intent_model_add_rule(cr_intent_model *m, const char *label,
                             size_t label_len, const char *phrase,
                             size_t phrase_len, int priority) {
  return cr__rule_add(m, label, label_len, phrase, phrase_len, priority, 0);
}

int cr_intent_model_add_rule_exception(cr_intent_model *m, const char *label,
                                       size_t label_len, const char *phrase,
                                       size_t phrase_len) {
  return cr__rule_add(m, label, label_len, phrase, phrase_len, 0, 1);
}

size_t cr_intent_model_rule_count(const cr_intent_model *m) {
  return m ? m->n_rules : 0;
}

/* Built-in phrase lists. Kept short and unambiguous: a rule overrides the
 * model, so a false match costs more than a miss the model can catch. */
static const char *const human_phrases[] = {
    "human", "humans", "agent", "agents", "live agent*", "representative*",
    "operator", "real person", "live person", "a person", "talk to someone",
    "speak to someone", "speak with someone", "talk to somebody",
    "speak to somebody", "customer service rep", "customer support rep",
    /* Hebrew: נציג/נציגה/נציגים, with ל/ה/ש... in front via proclitics */
    "נציג*", "בן אדם", "בנאדם", "אדם אמיתי", "מוקדן*", "מוקדנית*",
    "לדבר עם מישהו", "לדבר עם אדם",
    /* Russian (a large share of Israeli callers) */
    "оператор*", "живой человек", "живым человеком"};

/* A message that names a human but is not asking for one: "a fake
 * representative called me" is a fraud report. These are exceptions of
 * the human list: while one matches, the human rules stay silent and the
 * model answers. */
static const char *const human_exceptions[] = {
    "fake", "bogus", "impersonat*", "pretending to be", "posing as",
    "scam*", "claimed to be", "claiming to be",
    "מזויף*", "מתחזה*", "התחזה*", "התחזו*", "עוקץ*", "נוכל*",
    "фальшив*", "мошенни*"};

/* Physical danger, routed ahead of everything. Fraud, theft and hacked
 * accounts used to be here; they are a different queue in a typical
 * contact center (the demo set's fraud_report) and have their own list. */
static const char *const emergency_phrases[] = {
    "emergency", "gas leak", "electric shock",
    "חירום", "דליפת גז", "שריפה", "התחשמל*"};

static const char *const fraud_phrases[] = {
    "fraud", "fraudulent", "stolen card", "card was stolen", "card stolen",
    "identity theft", "account was hacked", "account hacked", "been hacked",
    "הונאה", "הונאת", "גניבת זהות", "כרטיס גנוב", "נגנב לי", "נגנב הכרטיס",
    "נפרץ", "פרצו לי"};

static int add_list(cr_intent_model *m, const char *label, size_t len,
                    const char *const *list, size_t n, int prio, int ex) {
  for (size_t i = 0; i < n; i++) {
    int rc = cr__rule_add(m, label, len, list[i], strlen(list[i]), prio, ex);
    if (rc)
      return rc;
  }
  return 0;
}

#define N_OF(a) (sizeof(a) / sizeof *(a))

int cr_intent_model_add_builtin_rules_ex(cr_intent_model *m,
                                         const char *human_label,
                                         size_t human_len,
                                         const char *emergency_label,
                                         size_t emergency_len,
                                         const char *fraud_label,
                                         size_t fraud_len) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = 0;
  int use_h = human_label && human_len, use_e = emergency_label && emergency_len,
      use_f = fraud_label && fraud_len;
  if ((use_h && cr__label_check(human_label, human_len)) ||
      (use_e && cr__label_check(emergency_label, emergency_len)) ||
      (use_f && cr__label_check(fraud_label, fraud_len))) {
    merr(m, "bad label for a built-in rule list", 0);
    return CR_EINVAL;
  }
  /* All or nothing: remember the counts and roll back on failure. */
  size_t r0 = m->n_rules, l0 = m->n_labels;
  int rc = 0;
  if (use_h)
    rc = add_list(m, human_label, human_len, human_phrases,
                  N_OF(human_phrases), 100, 0);
  if (!rc && use_h)
    rc = add_list(m, human_label, human_len, human_exceptions,
                  N_OF(human_exceptions), 0, 1);
  if (!rc && use_e)
    rc = add_list(m, emergency_label, emergency_len, emergency_phrases,
                  N_OF(emergency_phrases), 200, 0);
  if (!rc && use_f)
    rc = add_list(m, fraud_label, fraud_len, fraud_phrases,
                  N_OF(fraud_phrases), 150, 0);
  if (rc) {
    while (m->n_rules > r0)
      rule_pop(m);
    while (m->n_labels > l0)
      cr__free(&m->mem, m->labels[--m->n_labels]);
  }
  return rc;
}

int cr_intent_model_add_builtin_rules(cr_intent_model *m,
                                      const char *human_label,
                                      size_t human_len,
                                      const char *emergency_label,
                                      size_t emergency_len) {
  return cr_intent_model_add_builtin_rules_ex(
      m, human_label, human_len, emergency_label, emergency_len, NULL, 0);
}

/* ---------------------------------------------------------------------
 * Predict */

static int ensure_norm(cr_intent_model *m, size_t need) {
  if (need <= m->norm_cap)
    return 0;
  char *p = cr__malloc(&m->mem, need);
  if (!p)
    return CR_ENOMEM;
  cr__free(&m->mem, m->norm);
  m->norm = p;
  m->norm_cap = need;
  return 0;
}

/* Keep at most this much normalisation scratch between calls, so one
 * 1 MB message does not pin a megabyte for the model's lifetime. */
#define NORM_KEEP 4096

static void fill(const cr_intent_model *m, cr_intent_match *o, size_t li,
                 double conf, double score, int rule) {
  o->label = m->labels[li];
  o->label_len = strlen(m->labels[li]);
  o->label_index = li;
  o->confidence = conf;
  o->score = score;
  o->rule = rule;
  o->out_of_scope =
      rule < 0 && ((int)li == m->oos || conf < m->threshold) ? 1 : 0;
}

/* 1 when an exception of label li matches the message. */
static int excepted(const cr_intent_model *m, uint32_t li, const char *norm,
                    size_t n, uint32_t epoch) {
  for (size_t i = 0; i < m->n_rules; i++)
    if (m->rules[i].except && m->rules[i].label == li &&
        m->rules[i].seen == epoch && rule_matches(&m->rules[i], norm, n))
      return 1;
  return 0;
}

/* Same order and ties as checking every rule: the index filter only
 * skips rules that cannot match. */
static int best_rule(cr_intent_model *m, const char *norm, size_t n) {
  uint32_t epoch = mark_candidates(m, norm, n);
  int best = -1;
  for (size_t i = 0; i < m->n_rules; i++) {
    const cr__rule *r = &m->rules[i];
    if (r->except ||
        (best >= 0 && r->priority <= m->rules[best].priority))
      continue;
    if (r->seen == epoch && rule_matches(r, norm, n) &&
        !excepted(m, r->label, norm, n, epoch))
      best = (int)i;
  }
  return best;
}

int cr_intent_predict(cr_intent_model *m, const char *text, size_t len,
                      cr_intent_match *out, size_t k, size_t *n_out) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = 0;
  if ((!text && len) || (!out && k) || !n_out || len >= SIZE_MAX) {
    merr(m, "predict: NULL text, out or n_out", 0);
    return CR_EINVAL;
  }
  if (cr__utf8_check(text, len)) {
    merr(m, "message is not valid UTF-8", 0);
    return CR_EUTF8;
  }
  if (ensure_norm(m, len + 1))
    return CR_ENOMEM;
  size_t n = cr__normalize(text, len, m->norm);
  size_t w = 0;
  int rule = m->n_rules ? best_rule(m, m->norm, n) : -1;
  size_t rule_label = rule >= 0 ? m->rules[rule].label : SIZE_MAX;
  if (rule >= 0 && w < k)
    fill(m, &out[w++], rule_label, 1.0, 0.0, rule);
  if (m->n_cls && w < k) {
    cr__model_scores(m, m->norm, n);
    cr__softmax(m->scores, m->n_cls, m->temperature, m->prob);
    /* Top-k by selection: k is small and n_cls is a few hundred. */
    while (w < k) {
      size_t bi = SIZE_MAX;
      for (size_t c = 0; c < m->n_cls; c++) {
        if (c == rule_label || m->prob[c] < 0)
          continue;
        if (bi == SIZE_MAX || m->scores[c] > m->scores[bi])
          bi = c;
      }
      if (bi == SIZE_MAX)
        break;
      fill(m, &out[w++], bi, m->prob[bi], m->scores[bi], -1);
      m->prob[bi] = -1; /* taken */
    }
  }
  if (m->norm_cap > NORM_KEEP) {
    cr__free(&m->mem, m->norm);
    m->norm = NULL;
    m->norm_cap = 0;
  }
  *n_out = w;
  return 0;
}

/* ---------------------------------------------------------------------
 * Accessors and the threshold */

size_t cr_intent_model_label_count(const cr_intent_model *m) {
  return m ? m->n_labels : 0;
}

const char *cr_intent_model_label(const cr_intent_model *m, size_t i) {
  return m && i < m->n_labels ? m->labels[i] : NULL;
}

const char *cr_intent_model_oos_label(const cr_intent_model *m) {
  return m && m->oos >= 0 ? m->labels[m->oos] : NULL;
}

double cr_intent_model_temperature(const cr_intent_model *m) {
  return m ? m->temperature : 1.0;
}

int cr_intent_model_set_threshold(cr_intent_model *m, double t) {
  if (!m)
    return CR_EINVAL;
  m->errmsg[0] = 0;
  if (!(t >= 0 && t <= 1)) {
    merr(m, "threshold must be in [0, 1]", 0);
    return CR_ERANGE;
  }
  m->threshold = t;
  return 0;
}

double cr_intent_model_threshold(const cr_intent_model *m) {
  return m ? m->threshold : 0;
}

typedef struct tune_row {
  double conf;
  uint8_t oos;     /* row is out of scope */
  uint8_t right;   /* in scope, top label right and not the oos label */
  uint8_t reject;  /* rejected whatever the threshold (oos label, no rule) */
  uint8_t rule;    /* decided by a rule: never rejected by threshold */
} tune_row;

static int cmp_conf(const void *a, const void *b) {
  double x = ((const tune_row *)a)->conf, y = ((const tune_row *)b)->conf;
  return (x > y) - (x < y);
}

/* Parses rows and predicts each. On failure the model is unchanged. */
static int tune_collect(cr_intent_model *m, const char *tsv, size_t len,
                        tune_row **rows_out, size_t *n_out) {
  tune_row *rows = NULL;
  size_t n = 0, cap = 0, line = 0, i = 0;
  double saved = m->threshold;
  m->threshold = 0;
  int rc = 0;
  while (i < len && !rc) {
    line++;
    size_t e = i;
    while (e < len && tsv[e] != '\n')
      e++;
    size_t end = e > i && tsv[e - 1] == '\r' ? e - 1 : e;
    const char *s = tsv + i;
    size_t sn = end - i;
    i = e + 1;
    if (sn == 0)
      continue;
    const char *tab = memchr(s, '\t', sn);
    if (!tab || cr__label_check(s, (size_t)(tab - s))) {
      merr(m, "expected label<TAB>text", line);
      rc = CR_EINVAL;
      break;
    }
    if (cr__grow(&m->mem, (void **)&rows, &cap, n + 1, sizeof *rows)) {
      rc = CR_ENOMEM;
      break;
    }
    cr_intent_match top;
    size_t got;
    rc = cr_intent_predict(m, tab + 1, sn - (size_t)(tab - s) - 1, &top, 1,
                           &got);
    if (rc) {
      merr(m, cr_strerror(rc), line);
      break;
    }
    int gold = cr__model_find_label(m, s, (size_t)(tab - s));
    tune_row *r = &rows[n++];
    r->oos = gold < 0 || gold == m->oos;
    r->conf = got ? top.confidence : 0;
    r->rule = got && top.rule >= 0;
    r->reject = got && !r->rule && (int)top.label_index == m->oos;
    r->right = !r->oos && got && (int)top.label_index == gold && !r->reject;
  }
  m->threshold = saved;
  if (rc) {
    cr__free(&m->mem, rows);
    return rc;
  }
  *rows_out = rows;
  *n_out = n;
  return 0;
}

int cr_intent_model_tune_threshold(cr_intent_model *m, const char *tsv,
                                   size_t len, double *threshold) {
  if (!m || (!tsv && len))
    return CR_EINVAL;
  m->errmsg[0] = 0;
  tune_row *rows;
  size_t n;
  int rc = tune_collect(m, tsv, len, &rows, &n);
  if (rc)
    return rc;
  size_t n_in = 0, n_oos = 0;
  for (size_t i = 0; i < n; i++)
    rows[i].oos ? n_oos++ : n_in++;
  if (!n_in || !n_oos) {
    cr__free(&m->mem, rows);
    merr(m, "need both in-scope and out-of-scope rows", 0);
    return CR_ENODATA;
  }
  qsort(rows, n, sizeof *rows, cmp_conf);
  /* Threshold t rejects rows with conf < t. Sweep t over the gaps
   * between sorted confidences; start with t = 0 (reject nothing). */
  size_t right = 0, oos_hit = 0;
  for (size_t i = 0; i < n; i++) {
    right += rows[i].right;
    oos_hit += rows[i].oos && rows[i].reject;
  }
  double best = 0.5 * ((double)right / n_in + (double)oos_hit / n_oos);
  double best_t = 0;
  for (size_t i = 0; i < n; i++) {
    /* now also reject rows[i] (unless a rule decided it) */
    if (!rows[i].rule) {
      right -= rows[i].right;
      oos_hit += rows[i].oos && !rows[i].reject;
    }
    if (i + 1 < n && rows[i + 1].conf == rows[i].conf)
      continue;
    double t = i + 1 < n ? 0.5 * (rows[i].conf + rows[i + 1].conf)
                         : rows[i].conf + (1 - rows[i].conf) * 0.5;
    double v = 0.5 * ((double)right / n_in + (double)oos_hit / n_oos);
    if (v > best) {
      best = v;
      best_t = t;
    }
  }
  cr__free(&m->mem, rows);
  m->threshold = best_t > 1 ? 1 : best_t;
  if (threshold)
    *threshold = m->threshold;
  return 0;
}

