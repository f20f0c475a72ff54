/* Intent matching: training, prediction, calibration, rules, the
 * threshold, save/load (round trip, corruption), bad input, OOM sweeps. */
#include "cr_test.h"

#include "intent.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small bilingual set: four intents, English and Hebrew. */
static const char *const tiny_tsv =
    "billing\twhy is my bill so high\n"
    "billing\tI was charged twice this month\n"
    "billing\tquestion about my invoice amount\n"
    "billing\tthe bill is wrong\n"
    "billing\tלמה החשבון שלי כל כך גבוה\n"
    "billing\tחייבו אותי פעמיים החודש\n"
    "billing\tיש טעות בחשבונית\n"
    "billing\tהחשבון לא נכון\n"
    "password\tI forgot my password\n"
    "password\treset my password please\n"
    "password\tcan't log in, need a new password\n"
    "password\thow do I change my password\n"
    "password\tשכחתי את הסיסמה\n"
    "password\tאיך מאפסים סיסמה\n"
    "password\tאני לא מצליח להתחבר, צריך סיסמה חדשה\n"
    "password\tלשנות סיסמה\n"
    "tracking\twhere is my package\n"
    "tracking\ttrack my order\n"
    "tracking\tmy delivery has not arrived\n"
    "tracking\twhen will the parcel arrive\n"
    "tracking\tאיפה החבילה שלי\n"
    "tracking\tהמשלוח עוד לא הגיע\n"
    "tracking\tמתי תגיע ההזמנה\n"
    "tracking\tמעקב אחרי משלוח\n"
    "hours\twhat are your opening hours\n"
    "hours\twhen are you open\n"
    "hours\tare you open on saturday\n"
    "hours\twhat time do you close\n"
    "hours\tמה שעות הפתיחה\n"
    "hours\tמתי אתם פתוחים\n"
    "hours\tאתם פתוחים בשבת\n"
    "hours\tעד איזו שעה אתם עובדים\n";

static cr_intent_model *train_tiny(const cr_mem *mem, uint64_t seed) {
  cr_intent_trainer *t;
  assert_int_equal(cr_intent_trainer_new(&t, mem), 0);
  assert_int_equal(cr_intent_trainer_set_seed(t, seed), 0);
  assert_int_equal(cr_intent_trainer_add_tsv(t, tiny_tsv, strlen(tiny_tsv)), 0);
  cr_intent_model *m = NULL;
  assert_int_equal(cr_intent_train(t, &m), 0);
  cr_intent_trainer_del(t);
  return m;
}

static const char *top_label(cr_intent_model *m, const char *text) {
  cr_intent_match mt[3];
  size_t n;
  assert_int_equal(cr_intent_predict(m, text, strlen(text), mt, 3, &n), 0);
  assert_true(n >= 1);
  return mt[0].label;
}

static void test_train_predict(void **state) {
  (void)state;
  cr_intent_model *m = train_tiny(NULL, 1);
  assert_int_equal(cr_intent_model_label_count(m), 4);
  assert_string_equal(cr_intent_model_label(m, 0), "billing");
  assert_null(cr_intent_model_label(m, 4));
  assert_null(cr_intent_model_oos_label(m));
  /* unseen phrasings, both languages, Hebrew prefixes and case */
  assert_string_equal(top_label(m, "My BILL is too high!"), "billing");
  assert_string_equal(top_label(m, "I FORGOT the password"), "password");
  assert_string_equal(top_label(m, "where's my parcel?"), "tracking");
  assert_string_equal(top_label(m, "וכשהחבילה תגיע?"), "tracking");
  assert_string_equal(top_label(m, "שכחתי סיסמה"), "password");
  assert_string_equal(top_label(m, "מה שעות הפתיחה שלכם בשבת"), "hours");
  /* ranked, calibrated probabilities: descending, in (0,1], sum <= 1 */
  cr_intent_match mt[8];
  size_t n;
  assert_int_equal(cr_intent_predict(m, "reset password", 14, mt, 8, &n), 0);
  assert_int_equal(n, 4);
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(mt[i].confidence >= 0 && mt[i].confidence <= 1);
    assert_int_equal(mt[i].rule, -1);
    assert_int_equal(mt[i].label_len, strlen(mt[i].label));
    assert_string_equal(cr_intent_model_label(m, mt[i].label_index),
                        mt[i].label);
    if (i)
      assert_true(mt[i].confidence <= mt[i - 1].confidence);
    sum += mt[i].confidence;
  }
  assert_true(fabs(sum - 1.0) < 1e-6);
  assert_int_equal(mt[0].out_of_scope, 0); /* threshold 0 */
  assert_true(cr_intent_model_temperature(m) > 0);
  /* k = 0 and empty / whitespace-only text are fine */
  assert_int_equal(cr_intent_predict(m, "x", 1, NULL, 0, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(cr_intent_predict(m, "", 0, mt, 2, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(cr_intent_predict(m, NULL, 0, mt, 2, &n), 0);
  assert_int_equal(cr_intent_predict(m, " !? ", 4, mt, 1, &n), 0);
  /* bad input */
  assert_int_equal(cr_intent_predict(m, "\xff", 1, mt, 1, &n), CR_EUTF8);
  assert_int_equal(cr_intent_predict(m, NULL, 3, mt, 1, &n), CR_EINVAL);
  assert_int_equal(cr_intent_predict(m, "a", 1, NULL, 1, &n), CR_EINVAL);
  assert_int_equal(cr_intent_predict(m, "a", 1, mt, 1, NULL), CR_EINVAL);
  cr_intent_model_del(m);
  cr_intent_model_del(NULL);
}

static void test_long_message(void **state) {
  (void)state;
  cr_intent_model *m = train_tiny(NULL, 1);
  size_t len = 1 << 20;
  char *big = malloc(len);
  assert_non_null(big);
  const char *w = "where is my package ";
  for (size_t i = 0; i < len; i++)
    big[i] = w[i % strlen(w)];
  cr_intent_match mt[2];
  size_t n;
  assert_int_equal(cr_intent_predict(m, big, len, mt, 2, &n), 0);
  assert_string_equal(mt[0].label, "tracking");
  /* one giant token too */
  memset(big, 'a', len);
  assert_int_equal(cr_intent_predict(m, big, len, mt, 2, &n), 0);
  assert_int_equal(n, 2);
  /* and the model still answers short messages the same way */
  assert_string_equal(top_label(m, "track my order"), "tracking");
  free(big);
  cr_intent_model_del(m);
}

static void test_deterministic_and_roundtrip(void **state) {
  (void)state;
  cr_intent_model *a = train_tiny(NULL, 7), *b = train_tiny(NULL, 7);
  void *ba, *bb;
  size_t la, lb;
  assert_int_equal(cr_intent_model_save(a, NULL, &ba, &la), 0);
  assert_int_equal(cr_intent_model_save(b, NULL, &bb, &lb), 0);
  assert_int_equal(la, lb);
  assert_memory_equal(ba, bb, la); /* same seed, same bytes */
  cr_intent_model *c;
  assert_int_equal(cr_intent_model_load(&c, NULL, ba, la), 0);
  void *bc;
  size_t lc;
  assert_int_equal(cr_intent_model_save(c, NULL, &bc, &lc), 0);
  assert_int_equal(lc, la);
  assert_memory_equal(bc, ba, la);
  static const char *msgs[] = {"bill", "סיסמה", "", "open saturday?",
                               "completely unrelated words here"};
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    cr_intent_match x[4], y[4];
    size_t nx, ny;
    assert_int_equal(cr_intent_predict(a, msgs[i], strlen(msgs[i]), x, 4, &nx), 0);
    assert_int_equal(cr_intent_predict(c, msgs[i], strlen(msgs[i]), y, 4, &ny), 0);
    assert_int_equal(nx, ny);
    for (size_t k = 0; k < nx; k++) {
      assert_string_equal(x[k].label, y[k].label);
      assert_memory_equal(&x[k].confidence, &y[k].confidence, sizeof(double));
      assert_memory_equal(&x[k].score, &y[k].score, sizeof(double));
    }
  }
  cr_mem_free(NULL, ba);
  cr_mem_free(NULL, bb);
  cr_mem_free(NULL, bc);
  cr_intent_model_del(a);
  cr_intent_model_del(b);
  cr_intent_model_del(c);
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void reseal(uint8_t *p, size_t len) {
  put32(p + len - 4, cr__crc32(0, p, len - 4));
}

static void test_load_corrupt(void **state) {
  (void)state;
  /* the CRC is the standard one: check value of "123456789" */
  assert_int_equal(cr__crc32(0, "123456789", 9), 0xCBF43926u);
  assert_int_equal(cr__crc32(cr__crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
  cr_intent_model *m = train_tiny(NULL, 1);
  assert_int_equal(cr_intent_model_add_builtin_rules(m, "human", 5, "emergency", 9), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "zz", 2, "zz", 2, 1), 0);
  uint8_t *buf;
  size_t len;
  assert_int_equal(cr_intent_model_save(m, NULL, (void **)&buf, &len), 0);
  cr_intent_model *x = NULL;
  /* every truncation */
  for (size_t n = 0; n < len; n += (n < 4096 ? 1 : 97))
    assert_int_equal(cr_intent_model_load(&x, NULL, buf, n), CR_ECORRUPT);
  /* flipped bits: caught by the CRC */
  uint8_t *cp = malloc(len + 8);
  for (size_t i = 0; i < len; i += (i < 512 ? 1 : 251)) {
    memcpy(cp, buf, len);
    cp[i] ^= 0x10;
    assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  }
  /* a newer version (resealed so only the version differs); version 0 */
  memcpy(cp, buf, len);
  put32(cp + 8, 4);
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_EVERSION);
  put32(cp + 8, 0);
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  /* a rule flags byte other than 0/1 (the last rule is the "zz" one) */
  memcpy(cp, buf, len);
  cp[len - 4 - 2 - 4 - 1] = 2;
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  cp[len - 4 - 2 - 4 - 1] = 1; /* the zz rule becomes an exception: fine */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), 0);
  cr_intent_model_del(x);
  x = NULL;
  /* resealed but inconsistent payloads: huge label count, bad hash bits,
   * trailing garbage, a NaN temperature */
  memcpy(cp, buf, len);
  put32(cp + 20 + 5 + 16 + 4, 0x7fffffff); /* n_labels */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  memcpy(cp, buf, len);
  cp[20] = 40; /* hash_bits */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  memcpy(cp, buf, len);
  memset(cp + 25, 0xff, 8); /* temperature = NaN */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  memcpy(cp, buf, len);
  memset(cp + 41, 0, 4); /* unseen idf = 0 */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  memcpy(cp, buf, len);
  cp[24] = 2; /* an unknown feature flag */
  reseal(cp, len);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len), CR_ECORRUPT);
  memcpy(cp, buf, len - 4);
  memset(cp + len - 4, 0, 8); /* 4 extra bytes, length field unchanged */
  reseal(cp, len + 4);
  assert_int_equal(cr_intent_model_load(&x, NULL, cp, len + 4), CR_ECORRUPT);
  assert_null(x);
  assert_int_equal(cr_intent_model_load(&x, NULL, NULL, 0), CR_ECORRUPT);
  assert_int_equal(cr_intent_model_load(NULL, NULL, buf, len), CR_EINVAL);
  /* the original still loads and keeps its rules */
  assert_int_equal(cr_intent_model_load(&x, NULL, buf, len), 0);
  assert_int_equal(cr_intent_model_rule_count(x), cr_intent_model_rule_count(m));
  assert_string_equal(top_label(x, "I want a human"), "human");
  free(cp);
  cr_mem_free(NULL, buf);
  cr_intent_model_del(x);
  cr_intent_model_del(m);
}

/* Features emitted for a normalised text, in order. */
typedef struct feat_list {
  uint32_t b[256];
  size_t n;
} feat_list;

static void list_emit(void *ctx, uint32_t bucket) {
  feat_list *l = ctx;
  if (l->n < 256)
    l->b[l->n++] = bucket;
}

static void test_first_word_feature(void **state) {
  (void)state;
  cr__feat_cfg c = {20, 2, 2, 5, 0};
  feat_list a = {{0}, 0}, b = {{0}, 0}, d = {{0}, 0};
  const char *s = "what is my insurance coverage";
  cr__features(&c, s, strlen(s), list_emit, &a);
  c.flags = CR__FEAT_FIRST_WORD;
  cr__features(&c, s, strlen(s), list_emit, &b);
  /* exactly one extra feature, a word feature, after the first word's
   * n-grams; everything else unchanged and in the same order */
  assert_int_equal(b.n, a.n + 1);
  size_t k = 0;
  while (k < a.n && a.b[k] == b.b[k])
    k++;
  assert_true(k < a.n);
  assert_int_equal(cr__bucket_group(&c, b.b[k]), 0);
  assert_memory_equal(a.b + k, b.b + k + 1, (a.n - k) * sizeof *a.b);
  /* it is the first word as such: the same word later in the message
   * does not emit it, the same first word in another message does */
  const char *t = "my insurance coverage what";
  cr__features(&c, t, strlen(t), list_emit, &d);
  int later = 0;
  for (size_t i = 0; i < d.n; i++)
    later |= d.b[i] == b.b[k];
  assert_false(later);
  feat_list e = {{0}, 0};
  const char *u = "what time is it";
  cr__features(&c, u, strlen(u), list_emit, &e);
  int first = 0;
  for (size_t i = 0; i < e.n; i++)
    first |= e.b[i] == b.b[k];
  assert_true(first);
  /* empty text: nothing */
  feat_list z = {{0}, 0};
  cr__features(&c, "", 0, list_emit, &z);
  assert_int_equal(z.n, 0);
}

static cr_intent_model *train_tiny_flags(unsigned flags) {
  cr_intent_trainer *t;
  assert_int_equal(cr_intent_trainer_new(&t, NULL), 0);
  assert_int_equal(cr__intent_trainer_set_feat_flags(t, 2), CR_ERANGE);
  assert_string_not_equal(cr_intent_trainer_errmsg(t), "");
  assert_int_equal(cr__intent_trainer_set_feat_flags(t, flags), 0);
  assert_int_equal(cr_intent_trainer_add_tsv(t, tiny_tsv, strlen(tiny_tsv)), 0);
  cr_intent_model *m = NULL;
  assert_int_equal(cr_intent_train(t, &m), 0);
  cr_intent_trainer_del(t);
  return m;
}

static const char *const compat_msgs[] = {
    "bill", "סיסמה", "", "open saturday?", "completely unrelated words here",
    "where is my bill", "my password is wrong", "an invoice copy please",
    "are you open"};
#define N_COMPAT (sizeof compat_msgs / sizeof *compat_msgs)

/* Asserts a and b answer every compat message bit-identically. */
static void same_answers(cr_intent_model *a, cr_intent_model *b) {
  for (size_t i = 0; i < N_COMPAT; i++) {
    const char *s = compat_msgs[i];
    cr_intent_match x[4], y[4];
    size_t nx, ny;
    assert_int_equal(cr_intent_predict(a, s, strlen(s), x, 4, &nx), 0);
    assert_int_equal(cr_intent_predict(b, s, strlen(s), y, 4, &ny), 0);
    assert_int_equal(nx, ny);
    for (size_t k = 0; k < nx; k++) {
      assert_string_equal(x[k].label, y[k].label);
      assert_memory_equal(&x[k].confidence, &y[k].confidence, sizeof(double));
      assert_memory_equal(&x[k].score, &y[k].score, sizeof(double));
    }
  }
}

/* Rewrites a version-3 image as version 2 (no feature flags byte) or,
 * with v1, as version 1 (no rule flags bytes either; rules_at is the
 * offset of the u32 rule count). Returns the new length. */
static size_t downgrade(const uint8_t *in, size_t len, uint8_t *out, int v1,
                        size_t rules_at) {
  size_t o = 0;
  memcpy(out, in, 24);
  o = 24;
  size_t i = 25; /* skip the feature flags byte */
  size_t end = v1 ? rules_at + 4 : len - 4;
  memcpy(out + o, in + i, end - i);
  o += end - i;
  i = end;
  if (v1) {
    uint32_t n = (uint32_t)in[rules_at] | (uint32_t)in[rules_at + 1] << 8 |
                 (uint32_t)in[rules_at + 2] << 16 |
                 (uint32_t)in[rules_at + 3] << 24;
    for (uint32_t r = 0; r < n; r++) {
      assert_int_equal(in[i + 8], 0); /* v1 had no exceptions */
      memcpy(out + o, in + i, 8); /* label, priority */
      o += 8;
      i += 9;                     /* ... and the flags byte dropped */
      uint32_t pl = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8 |
                    (uint32_t)in[i + 2] << 16 | (uint32_t)in[i + 3] << 24;
      memcpy(out + o, in + i, 4 + pl);
      o += 4 + pl;
      i += 4 + pl;
    }
    assert_int_equal(i, len - 4);
  }
  put32(out + 8, v1 ? 1 : 2);
  uint64_t plen = o + 4 - 24;
  put32(out + 12, (uint32_t)plen);
  put32(out + 16, (uint32_t)(plen >> 32));
  put32(out + o, cr__crc32(0, out, o));
  return o + 4;
}

/* Models saved before format version 3 had no first-word feature: they
 * load with flags 0 and answer exactly as a model trained without it,
 * and save back as version 3 with flags 0. A version-3 model keeps its
 * flag through save/load. */
static void test_format_versions(void **state) {
  (void)state;
  cr_intent_model *m0 = train_tiny_flags(0), *m1 = train_tiny_flags(
                                                 CR__FEAT_FIRST_WORD);
  cr_intent_model *def = train_tiny(NULL, 1);
  assert_int_equal(def->cfg.flags, CR__FEAT_FIRST_WORD); /* the default */
  void *b1;
  size_t l1;
  assert_int_equal(cr_intent_model_save(def, NULL, &b1, &l1), 0);
  void *bm1;
  size_t lm1;
  assert_int_equal(cr_intent_model_save(m1, NULL, &bm1, &lm1), 0);
  assert_int_equal(lm1, l1);
  assert_memory_equal(bm1, b1, l1); /* seed 1 both */
  cr_mem_free(NULL, bm1);
  /* the flag changes answers (so the checks below can fail) */
  int differ = 0;
  for (size_t i = 0; i < N_COMPAT; i++) {
    cr_intent_match x[1], y[1];
    size_t nx, ny;
    const char *s = compat_msgs[i];
    assert_int_equal(cr_intent_predict(m0, s, strlen(s), x, 1, &nx), 0);
    assert_int_equal(cr_intent_predict(m1, s, strlen(s), y, 1, &ny), 0);
    differ += x[0].score != y[0].score;
  }
  assert_true(differ > 0);
  /* rules, so that version 1's missing rule flags byte is exercised;
   * rules_at is where the rule count sits (the same before the rules) */
  void *b;
  size_t l;
  assert_int_equal(cr_intent_model_save(m0, NULL, &b, &l), 0);
  size_t rules_at = l - 8;
  cr_mem_free(NULL, b);
  /* labels the model has, so the label table (and rules_at) stay put */
  assert_int_equal(cr_intent_model_add_rule(m0, "billing", 7, "invoice copy", 12, 5), 0);
  assert_int_equal(cr_intent_model_add_rule(m0, "hours", 5, "open*", 5, 3), 0);
  assert_int_equal(cr_intent_model_save(m0, NULL, &b, &l), 0);
  assert_int_equal(((uint8_t *)b)[24], 0);
  assert_int_equal(((uint8_t *)b)[8], 3);
  uint8_t *old = malloc(l);
  for (int v1 = 0; v1 <= 1; v1++) {
    size_t lo = downgrade(b, l, old, v1, rules_at);
    assert_int_equal(lo, v1 ? l - 1 - cr_intent_model_rule_count(m0) : l - 1);
    cr_intent_model *x = NULL;
    assert_int_equal(cr_intent_model_load(&x, NULL, old, lo), 0);
    assert_int_equal(x->cfg.flags, 0);
    assert_int_equal(cr_intent_model_rule_count(x), cr_intent_model_rule_count(m0));
    same_answers(x, m0);
    void *again;
    size_t la;
    assert_int_equal(cr_intent_model_save(x, NULL, &again, &la), 0);
    assert_int_equal(la, l); /* upgraded to version 3, flags 0 */
    assert_memory_equal(again, b, l);
    cr_mem_free(NULL, again);
    cr_intent_model_del(x);
  }
  /* version 3 with the flag: loads with it, answers as trained */
  cr_intent_model *y = NULL;
  assert_int_equal(cr_intent_model_load(&y, NULL, b1, l1), 0);
  assert_int_equal(y->cfg.flags, CR__FEAT_FIRST_WORD);
  same_answers(y, m1);
  cr_intent_model_del(y);
  free(old);
  cr_mem_free(NULL, b);
  cr_mem_free(NULL, b1);
  cr_intent_model_del(def);
  cr_intent_model_del(m0);
  cr_intent_model_del(m1);
}

static void test_rules(void **state) {
  (void)state;
  cr_intent_model *m = train_tiny(NULL, 1);
  size_t labels = cr_intent_model_label_count(m);
  assert_int_equal(cr_intent_model_add_builtin_rules_ex(m, "agent", 5, "emergency", 9,
                                                        "fraud", 5), 0);
  assert_int_equal(cr_intent_model_label_count(m), labels + 3);
  assert_true(cr_intent_model_rule_count(m) > 20);
  /* Hebrew prefixes and inflection, English case */
  assert_string_equal(top_label(m, "אני רוצה לדבר עם נציגה"), "agent");
  assert_string_equal(top_label(m, "תעביר אותי לנציג בבקשה"), "agent");
  assert_string_equal(top_label(m, "שאלה לנציגים שלכם"), "agent");
  assert_string_equal(top_label(m, "Let me talk to an AGENT"), "agent");
  assert_string_equal(top_label(m, "I want a real person!!"), "agent");
  assert_string_equal(top_label(m, "Representatives, anyone?"), "agent");
  assert_string_equal(top_label(m, "my card was STOLEN"), "fraud");
  assert_string_equal(top_label(m, "חשד להונאה בחשבון"), "fraud");
  assert_string_equal(top_label(m, "החשבון שלי נפרץ"), "fraud");
  assert_string_equal(top_label(m, "זה מקרה חירום"), "emergency");
  assert_string_equal(top_label(m, "gas leak in the basement"), "emergency");
  /* emergency (200) beats fraud (150) beats a human (100) */
  assert_string_equal(top_label(m, "fraud! emergency!"), "emergency");
  assert_string_equal(top_label(m, "fraud, get me an agent"), "fraud");
  /* exceptions: a fake representative is not a request for one */
  assert_string_not_equal(top_label(m, "נציג מזויף התקשר אליי"), "agent");
  assert_string_not_equal(top_label(m, "a fake representative called me"), "agent");
  assert_string_not_equal(top_label(m, "someone impersonating an agent"), "agent");
  assert_string_not_equal(top_label(m, "מישהו שהתחזה לנציג שלכם"), "agent");
  assert_string_equal(top_label(m, "I want a real representative"), "agent");
  /* emergency (200) beats a request for a human (100) */
  assert_string_equal(top_label(m, "emergency, get me an agent"), "emergency");
  /* words that merely contain a rule word do not match */
  assert_string_equal(top_label(m, "where is my package"), "tracking");
  assert_string_equal(top_label(m, "humanity"), top_label(m, "humanity"));
  cr_intent_match mt[3];
  size_t n;
  assert_int_equal(cr_intent_predict(m, "humanity", 8, mt, 1, &n), 0);
  assert_int_equal(mt[0].rule, -1);
  /* a rule answer is first, confidence 1, then the model's (not repeated) */
  assert_int_equal(cr_intent_predict(m, "password agent", 14, mt, 3, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(mt[0].label, "agent");
  assert_true(mt[0].rule >= 0);
  assert_true(mt[0].confidence == 1.0);
  assert_int_equal(mt[0].out_of_scope, 0);
  assert_string_equal(mt[1].label, "password");
  assert_int_equal(mt[1].rule, -1);
  /* custom rules: prefix '*', priority order, ties to the earliest */
  assert_int_equal(cr_intent_model_add_rule(m, "refund", 6, "refund*", 7, 50), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "refund2", 7, "refunds", 7, 50), 0);
  assert_string_equal(top_label(m, "REFUNDS please"), "refund");
  assert_int_equal(cr_intent_model_add_rule(m, "vip", 3, "gold member", 11, 300), 0);
  assert_string_equal(top_label(m, "gold member: emergency!"), "vip");
  assert_string_equal(top_label(m, "gold  -  member"), "vip");
  assert_string_not_equal(top_label(m, "gold card member"), "vip");
  /* bad rules change nothing */
  size_t rules = cr_intent_model_rule_count(m);
  assert_int_equal(cr_intent_model_add_rule(m, "x", 1, " !! ", 4, 1), CR_EINVAL);
  assert_int_equal(cr_intent_model_add_rule(m, "x", 1, "\xc3", 1, 1), CR_EUTF8);
  assert_int_equal(cr_intent_model_add_rule(m, "", 0, "word", 4, 1), CR_EINVAL);
  assert_int_equal(cr_intent_model_add_rule(m, "a\tb", 3, "word", 4, 1), CR_EINVAL);
  assert_int_equal(cr_intent_model_add_builtin_rules(m, "a\nb", 3, NULL, 0), CR_EINVAL);
  assert_int_equal(cr_intent_model_add_builtin_rules_ex(m, NULL, 0, NULL, 0, "a\tb", 3),
                   CR_EINVAL);
  assert_int_equal(cr_intent_model_add_rule_exception(m, "x", 1, "...", 3), CR_EINVAL);
  assert_int_equal(cr_intent_model_rule_count(m), rules);
  /* a custom exception silences only its own label's rules */
  assert_int_equal(cr_intent_model_add_rule_exception(m, "vip", 3, "former", 6), 0);
  assert_int_equal(cr_intent_model_rule_count(m), rules + 1);
  assert_string_not_equal(top_label(m, "former gold member"), "vip");
  assert_string_equal(top_label(m, "former gold member, emergency"), "emergency");
  /* exceptions survive save/load */
  void *buf;
  size_t len;
  cr_intent_model *x;
  assert_int_equal(cr_intent_model_save(m, NULL, &buf, &len), 0);
  assert_int_equal(cr_intent_model_load(&x, NULL, buf, len), 0);
  assert_string_not_equal(top_label(x, "former gold member"), "vip");
  assert_string_not_equal(top_label(x, "a fake representative called me"), "agent");
  assert_string_equal(top_label(x, "gold member"), "vip");
  cr_mem_free(NULL, buf);
  cr_intent_model_del(x);
  cr_intent_model_del(m);
  /* the old call adds no fraud rules (fraud is not an emergency) */
  m = train_tiny(NULL, 1);
  assert_int_equal(cr_intent_model_add_builtin_rules(m, "agent", 5, "emergency", 9), 0);
  cr_intent_match mt1;
  assert_int_equal(cr_intent_predict(m, "fraud on my account", 19, &mt1, 1, &n), 0);
  assert_int_equal(mt1.rule, -1);
  assert_int_equal(cr_intent_model_label_count(m), labels + 2);
  cr_intent_model_del(m);
}

/* Every call that can fail resets errmsg first: an earlier failure's
 * message never outlives the next call. */
/* Rules are looked up by their first word's first two bytes (after the
 * proclitics a message token may carry): each case here needs a rule
 * whose bucket differs from the token's own first bytes, or a rule in
 * the every-message bucket. */
static int rule_of(cr_intent_model *m, const char *text) {
  cr_intent_match mt[2];
  size_t n;
  assert_int_equal(cr_intent_predict(m, text, strlen(text), mt, 2, &n), 0);
  assert_true(n >= 1);
  return mt[0].rule;
}

static void test_rule_index(void **state) {
  (void)state;
  cr_intent_model *m = train_tiny(NULL, 1);
  assert_int_equal(cr_intent_model_add_rule(m, "h", 1, "נציג", 8, 10), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "one", 3, "q", 1, 5), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "p", 1, "ש*", 3, 1), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "e", 1, "e-mail me", 9, 20), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "top", 3, "נציג בכיר", 17, 30), 0);
  /* proclitics ו ל ה in front: the token starts with other bytes */
  assert_int_equal(rule_of(m, "אני רוצה ולהנציג"), 0);
  assert_int_equal(rule_of(m, "הנציג"), 0);
  /* four proclitics are one too many (word_match strips three) */
  assert_int_equal(rule_of(m, "וולהנציג"), -1);
  /* a one-byte first word lives in the every-message bucket */
  assert_int_equal(rule_of(m, "what q"), 1);
  /* a two-byte prefix rule, with and without a proclitic */
  assert_int_equal(rule_of(m, "שלום"), 2);
  assert_int_equal(rule_of(m, "ושלום"), 2);
  /* a rule word split by normalisation, and priority across buckets */
  assert_int_equal(rule_of(m, "E-Mail me please"), 3);
  assert_int_equal(rule_of(m, "שלום לנציג בכיר"), 4);
  /* the index survives save and load (it is rebuilt, not saved) */
  void *buf = NULL;
  size_t len = 0;
  assert_int_equal(cr_intent_model_save(m, NULL, &buf, &len), 0);
  cr_intent_model *x = NULL;
  assert_int_equal(cr_intent_model_load(&x, NULL, buf, len), 0);
  assert_int_equal(rule_of(x, "ולהנציג"), 0);
  assert_int_equal(rule_of(x, "שלום לנציג בכיר"), 4);
  assert_int_equal(rule_of(x, "what q"), 1);
  cr_mem_free(NULL, buf);
  cr_intent_model_del(x);
  cr_intent_model_del(m);
}

static void test_errmsg_reset(void **state) {
  (void)state;
  cr_intent_trainer *t;
  assert_int_equal(cr_intent_trainer_new(&t, NULL), 0);
  const char *bad = "a\tone\nno tab\n";
#define TSTALE()                                                             \
  do {                                                                        \
    assert_int_equal(cr_intent_trainer_add_tsv(t, bad, strlen(bad)),        \
                     CR_EINVAL);                                              \
    assert_string_not_equal(cr_intent_trainer_errmsg(t), "");                 \
  } while (0)
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_seed(t, 3), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_hash_bits(t, 18), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_word_ngrams(t, 2), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_char_ngrams(t, 2, 5), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_min_df(t, 1), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_c(t, 2), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_solver(t, 50, 0.1), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_calibration(t, 0.1), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_set_oos_label(t, "oos", 3), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  /* a failing setter says why, and the next success clears it */
  assert_int_equal(cr_intent_trainer_set_c(t, -1), CR_ERANGE);
  assert_non_null(strstr(cr_intent_trainer_errmsg(t), "C must"));
  assert_int_equal(cr_intent_trainer_add(t, "a", 1, "x", 1), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  assert_int_equal(cr_intent_trainer_add_tsv(t, tiny_tsv, strlen(tiny_tsv)), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
  TSTALE();
  cr_intent_model *m;
  assert_int_equal(cr_intent_train(t, &m), 0);
  assert_string_equal(cr_intent_trainer_errmsg(t), "");
#undef TSTALE
  cr_intent_trainer_del(t);

#define MSTALE()                                                             \
  do {                                                                        \
    assert_int_equal(cr_intent_model_add_rule(m, "x", 1, "!!", 2, 1),        \
                     CR_EINVAL);                                              \
    assert_string_not_equal(cr_intent_model_errmsg(m), "");                   \
  } while (0)
  cr_intent_match mt;
  size_t n;
  MSTALE();
  assert_int_equal(cr_intent_predict(m, "hi", 2, &mt, 1, &n), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  assert_int_equal(cr_intent_model_set_threshold(m, 0.2), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  void *buf;
  size_t len;
  assert_int_equal(cr_intent_model_save(m, NULL, &buf, &len), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  cr_mem_free(NULL, buf);
  MSTALE();
  assert_int_equal(cr_intent_model_add_builtin_rules(m, "h", 1, NULL, 0), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  assert_int_equal(cr_intent_model_add_builtin_rules_ex(m, NULL, 0, NULL, 0, "f", 1), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  assert_int_equal(cr_intent_model_add_rule_exception(m, "h", 1, "not", 3), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  assert_int_equal(cr_intent_model_add_rule(m, "y", 1, "yy", 2, 1), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  MSTALE();
  const char *rows = "billing\tmy bill\noos\tfly me to the moon\n";
  assert_int_equal(cr_intent_model_tune_threshold(m, rows, strlen(rows), NULL), 0);
  assert_string_equal(cr_intent_model_errmsg(m), "");
  /* failures say why */
  assert_int_equal(cr_intent_predict(m, "\xff", 1, &mt, 1, &n), CR_EUTF8);
  assert_non_null(strstr(cr_intent_model_errmsg(m), "UTF-8"));
  assert_int_equal(cr_intent_model_set_threshold(m, 2), CR_ERANGE);
  assert_non_null(strstr(cr_intent_model_errmsg(m), "threshold"));
  assert_int_equal(cr_intent_model_add_builtin_rules(m, "a\tb", 3, NULL, 0), CR_EINVAL);
  assert_string_not_equal(cr_intent_model_errmsg(m), "");
#undef MSTALE
  cr_intent_model_del(m);
}

/* Threshold: range, tuning on rows with out-of-scope examples, errors. */
static void test_threshold(void **state) {
  (void)state;
  cr_intent_model *m = train_tiny(NULL, 1);
  assert_true(cr_intent_model_threshold(m) == 0);
  assert_int_equal(cr_intent_model_set_threshold(m, 1.5), CR_ERANGE);
  assert_int_equal(cr_intent_model_set_threshold(m, NAN), CR_ERANGE);
  cr_intent_match mt, known;
  size_t n;
  /* nothing the model knows: lower confidence than a training phrase
   * (32 examples calibrate poorly, so no absolute bound), and a threshold
   * between the two flags exactly the unknown one */
  assert_int_equal(cr_intent_predict(m, "qqq zzz", 7, &mt, 1, &n), 0);
  assert_int_equal(cr_intent_predict(m, "forgot my password", 18, &known, 1, &n), 0);
  assert_true(mt.confidence < known.confidence);
  assert_int_equal(mt.out_of_scope, 0);
  double mid = (mt.confidence + known.confidence) / 2;
  assert_int_equal(cr_intent_model_set_threshold(m, mid), 0);
  assert_int_equal(cr_intent_predict(m, "qqq zzz", 7, &mt, 1, &n), 0);
  assert_int_equal(mt.out_of_scope, 1);
  assert_int_equal(cr_intent_predict(m, "forgot my password", 18, &known, 1, &n), 0);
  assert_int_equal(known.out_of_scope, 0);
  assert_int_equal(cr_intent_model_set_threshold(m, 0), 0);
  const char *val = "billing\tmy bill is too high\n"
                    "password\tforgot password\n"
                    "tracking\twhere is the package\n"
                    "hours\twhen do you open\n"
                    "oos\twhat is the capital of france\n"
                    "oos\tplay some music\n"
                    "oos\ttell me a joke\n";
  double thr = -1;
  assert_int_equal(cr_intent_model_tune_threshold(m, val, strlen(val), &thr), 0);
  assert_true(thr > 0 && thr < 1);
  assert_true(cr_intent_model_threshold(m) == thr);
  assert_string_equal(top_label(m, "forgot my password"), "password");
  assert_int_equal(cr_intent_predict(m, "forgot my password", 18, &mt, 1, &n), 0);
  assert_int_equal(mt.out_of_scope, 0);
  /* no oos rows -> ENODATA; a bad line -> EINVAL naming it; unchanged */
  const char *only_in = "billing\tbill\n";
  assert_int_equal(cr_intent_model_tune_threshold(m, only_in, strlen(only_in), NULL),
                   CR_ENODATA);
  const char *bad = "billing\tbill\nno tab here\n";
  assert_int_equal(cr_intent_model_tune_threshold(m, bad, strlen(bad), NULL),
                   CR_EINVAL);
  assert_non_null(strstr(cr_intent_model_errmsg(m), "line 2"));
  assert_true(cr_intent_model_threshold(m) == thr);
  cr_intent_model_del(m);
}

/* Explicit out-of-scope examples train a reject class. */
static void test_oos_class(void **state) {
  (void)state;
  cr_intent_trainer *t;
  assert_int_equal(cr_intent_trainer_new(&t, NULL), 0);
  assert_int_equal(cr_intent_trainer_add_tsv(t, tiny_tsv, strlen(tiny_tsv)), 0);
  const char *oos = "oos\twhat is the weather today\n"
                    "oos\ttell me a joke\n"
                    "oos\twho won the game last night\n"
                    "oos\tplay some music\n"
                    "oos\tמה מזג האוויר\n"
                    "oos\tספר לי בדיחה\n";
  assert_int_equal(cr_intent_trainer_add_tsv(t, oos, strlen(oos)), 0);
  assert_int_equal(cr_intent_trainer_set_oos_label(t, "oos", 3), 0);
  cr_intent_model *m;
  assert_int_equal(cr_intent_train(t, &m), 0);
  assert_string_equal(cr_intent_model_oos_label(m), "oos");
  cr_intent_match mt;
  size_t n;
  assert_int_equal(cr_intent_predict(m, "tell me a funny joke", 20, &mt, 1, &n), 0);
  assert_string_equal(mt.label, "oos");
  assert_int_equal(mt.out_of_scope, 1);
  assert_int_equal(cr_intent_predict(m, "reset my password", 17, &mt, 1, &n), 0);
  assert_int_equal(mt.out_of_scope, 0);
  cr_intent_model_del(m);
  /* clearing the oos label makes it an ordinary class */
  assert_int_equal(cr_intent_trainer_set_oos_label(t, NULL, 0), 0);
  assert_int_equal(cr_intent_train(t, &m), 0);
  assert_null(cr_intent_model_oos_label(m));
  cr_intent_model_del(m);
  cr_intent_trainer_del(t);
}

static void test_trainer_errors(void **state) {
  (void)state;
  cr_intent_trainer *t;
  cr_intent_model *m = NULL;
  assert_int_equal(cr_intent_trainer_new(NULL, NULL), CR_EINVAL);
  cr_mem bad = {0};
  assert_int_equal(cr_intent_trainer_new(&t, &bad), CR_EINVAL);
  assert_int_equal(cr_intent_trainer_new(&t, NULL), 0);
  assert_int_equal(cr_intent_train(t, &m), CR_ENODATA);
  assert_null(m);
  /* malformed TSV: nothing added, the line is named */
  const char *tsv = "a\tone\nb\ttwo\nno tab\n";
  assert_int_equal(cr_intent_trainer_add_tsv(t, tsv, strlen(tsv)), CR_EINVAL);
  assert_non_null(strstr(cr_intent_trainer_errmsg(t), "line 3"));
  assert_int_equal(cr_intent_trainer_count(t), 0);
  tsv = "a\tone\r\n\r\n\tempty label\n";
  assert_int_equal(cr_intent_trainer_add_tsv(t, tsv, strlen(tsv)), CR_EINVAL);
  assert_non_null(strstr(cr_intent_trainer_errmsg(t), "line 3"));
  tsv = "a\tone\nb\tt\xffo\n";
  assert_int_equal(cr_intent_trainer_add_tsv(t, tsv, strlen(tsv)), CR_EUTF8);
  assert_non_null(strstr(cr_intent_trainer_errmsg(t), "line 2"));
  tsv = "a\tone\tmore\n";
  assert_int_equal(cr_intent_trainer_add_tsv(t, tsv, strlen(tsv)), CR_EINVAL);
  assert_int_equal(cr_intent_trainer_count(t), 0);
  assert_int_equal(cr_intent_trainer_add(t, "", 0, "x", 1), CR_EINVAL);
  assert_int_equal(cr_intent_trainer_add(t, "a", 1, "\xc3(", 2), CR_EUTF8);
  assert_int_equal(cr_intent_trainer_add(t, "a\n", 2, "x", 1), CR_EINVAL);
  char longlab[300];
  memset(longlab, 'l', sizeof longlab);
  assert_int_equal(cr_intent_trainer_add(t, longlab, 256, "x", 1), CR_EINVAL);
  assert_int_equal(cr_intent_trainer_count(t), 0);
  /* options out of range change nothing */
  assert_int_equal(cr_intent_trainer_set_hash_bits(t, 11), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_hash_bits(t, 25), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_word_ngrams(t, 0), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_char_ngrams(t, 3, 2), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_char_ngrams(t, 0, 3), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_char_ngrams(t, 1, 9), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_min_df(t, 0), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_c(t, 0), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_c(t, NAN), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_solver(t, 0, 0.1), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_solver(t, 10, 0), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_calibration(t, 0.01), CR_ERANGE);
  assert_int_equal(cr_intent_trainer_set_oos_label(t, "a\tb", 3), CR_EINVAL);
  /* one label: always that label, confidence 1 */
  assert_int_equal(cr_intent_trainer_add(t, "only", 4, "hello there", 11), 0);
  assert_int_equal(cr_intent_trainer_add(t, "only", 4, "", 0), 0);
  assert_int_equal(cr_intent_train(t, &m), 0);
  cr_intent_match mt;
  size_t n;
  assert_int_equal(cr_intent_predict(m, "anything", 8, &mt, 1, &n), 0);
  assert_string_equal(mt.label, "only");
  assert_true(mt.confidence == 1.0);
  cr_intent_model_del(m);
  /* other feature settings train and predict too */
  assert_int_equal(cr_intent_trainer_add_tsv(t, tiny_tsv, strlen(tiny_tsv)), 0);
  assert_int_equal(cr_intent_trainer_set_char_ngrams(t, 0, 0), 0);
  assert_int_equal(cr_intent_trainer_set_word_ngrams(t, 3), 0);
  assert_int_equal(cr_intent_trainer_set_hash_bits(t, 12), 0);
  assert_int_equal(cr_intent_trainer_set_min_df(t, 1), 0);
  assert_int_equal(cr_intent_trainer_set_calibration(t, 0), 0);
  assert_int_equal(cr_intent_trainer_set_solver(t, 5, 0.5), 0);
  assert_int_equal(cr_intent_trainer_set_c(t, 10), 0);
  assert_int_equal(cr_intent_train(t, &m), 0);
  assert_true(cr_intent_model_temperature(m) == 1.0);
  assert_string_equal(top_label(m, "forgot my password"), "password");
  cr_intent_model_del(m);
  cr_intent_trainer_del(t);
}

/* A slice of CLINC150 (first 20 intents): accuracy sanity check on data
 * from outside the project. Skipped when the shared data is absent. */
static void test_clinc_slice(void **state) {
  (void)state;
  size_t tl, sl;
  char *train = cr_test_read_shared("intents/clinc150/train.tsv", &tl);
  char *test = cr_test_read_shared("intents/clinc150/test.tsv", &sl);
  if (!train || !test) {
    free(train);
    free(test);
    skip();
  }
  /* keep rows of the first 20 labels seen in train */
  cr_intent_trainer *t;
  assert_int_equal(cr_intent_trainer_new(&t, NULL), 0);
  char labels[20][64];
  int nl = 0;
  for (char *p = train; *p;) {
    char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *tab = memchr(p, '\t', n);
    size_t ll = (size_t)(tab - p);
    int known = 0;
    for (int i = 0; i < nl; i++)
      known |= strlen(labels[i]) == ll && !memcmp(labels[i], p, ll);
    if (!known && nl < 20 && ll < 64) {
      memcpy(labels[nl], p, ll);
      labels[nl++][ll] = 0;
      known = 1;
    }
    if (known)
      assert_int_equal(cr_intent_trainer_add(t, p, ll, tab + 1, n - ll - 1), 0);
    p = e ? e + 1 : p + n;
  }
  cr_intent_model *m;
  assert_int_equal(cr_intent_train(t, &m), 0);
  int total = 0, right = 0;
  for (char *p = test; *p;) {
    char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *tab = memchr(p, '\t', n);
    size_t ll = (size_t)(tab - p);
    if (cr__model_find_label(m, p, ll) >= 0) {
      cr_intent_match mt;
      size_t got;
      assert_int_equal(cr_intent_predict(m, tab + 1, n - ll - 1, &mt, 1, &got), 0);
      total++;
      right += mt.label_len == ll && !memcmp(mt.label, p, ll);
    }
    p = e ? e + 1 : p + n;
  }
  print_message("CLINC150 20-intent slice: %d/%d = %.3f\n", right, total,
                (double)right / total);
  assert_int_equal(total, 600);
  assert_true(right >= 0.93 * total);
  cr_intent_model_del(m);
  cr_intent_trainer_del(t);
  free(train);
  free(test);
}

/* ---- OOM sweeps ---- */

static const char *const oom_tsv = "a\tpay my bill\n"
                                   "a\tthe invoice\n"
                                   "b\treset password\n"
                                   "b\tשכחתי סיסמה\n"
                                   "c\twhere is my package\n"
                                   "c\tאיפה החבילה\n";

static int oom_train_body(cr_test_mem *t, void *ctx) {
  (void)ctx;
  cr_intent_trainer *tr;
  int rc = cr_intent_trainer_new(&tr, &t->mem);
  if (rc)
    return rc;
  cr_intent_model *m = NULL;
  void *buf = NULL;
  size_t len, n;
  cr_intent_match mt[2];
  if ((rc = cr_intent_trainer_set_oos_label(tr, "c", 1)))
    goto out;
  if ((rc = cr_intent_trainer_add_tsv(tr, oom_tsv, strlen(oom_tsv)))) {
    /* all or nothing */
    assert_int_equal(cr_intent_trainer_count(tr), 0);
    goto out;
  }
  if ((rc = cr_intent_trainer_add(tr, "d", 1, "talk to me", 10))) {
    assert_int_equal(cr_intent_trainer_count(tr), 6);
    goto out;
  }
  if ((rc = cr_intent_train(tr, &m))) {
    /* the trainer is unchanged and can still train */
    cr_test_mem_heal(t);
    assert_int_equal(cr_intent_trainer_count(tr), 7);
    assert_int_equal(cr_intent_train(tr, &m), 0);
    cr_intent_model_del(m);
    m = NULL;
    goto out;
  }
  if ((rc = cr_intent_model_add_builtin_rules_ex(m, "human", 5, "sos", 3,
                                                 "fraud", 5))) {
    assert_int_equal(cr_intent_model_rule_count(m), 0);
    assert_int_equal(cr_intent_model_label_count(m), 4);
    /* the rolled-back rules left the first-word index consistent */
    cr_test_mem_heal(t);
    assert_int_equal(cr_intent_model_add_rule(m, "x", 1, "zz", 2, 1), 0);
    assert_int_equal(cr_intent_predict(m, "a zz", 4, mt, 2, &n), 0);
    assert_true(n >= 1);
    assert_int_equal(mt[0].rule, 0);
    assert_int_equal(cr_intent_predict(m, "human", 5, mt, 2, &n), 0);
    assert_int_equal(mt[0].rule, -1);
    goto out;
  }
  if ((rc = cr_intent_predict(m, "pay the bill", 12, mt, 2, &n)))
    goto out;
  if ((rc = cr_intent_model_save(m, &t->mem, &buf, &len)))
    goto out;
out:
  cr_mem_free(&t->mem, buf);
  cr_intent_model_del(m);
  cr_intent_trainer_del(tr);
  return rc;
}

static void test_oom_train(void **state) {
  (void)state;
  long calls = cr_test_oom_sweep(oom_train_body, NULL);
  assert_true(calls > 10);
}

typedef struct load_ctx {
  void *buf;
  size_t len;
} load_ctx;

static int oom_load_body(cr_test_mem *t, void *ctx) {
  load_ctx *c = ctx;
  cr_intent_model *m;
  int rc = cr_intent_model_load(&m, &t->mem, c->buf, c->len);
  if (rc)
    return rc;
  /* a long message needs a bigger scratch buffer: fails cleanly */
  char big[5000];
  memset(big, 'x', sizeof big);
  cr_intent_match mt;
  size_t n;
  rc = cr_intent_predict(m, big, sizeof big, &mt, 1, &n);
  if (rc) {
    cr_test_mem_heal(t);
    assert_int_equal(cr_intent_predict(m, "pay", 3, &mt, 1, &n), 0);
    assert_int_equal(cr_intent_predict(m, big, sizeof big, &mt, 1, &n), 0);
  } else {
    rc = cr_intent_model_add_rule(m, "x", 1, "xyzzy", 5, 1);
    if (rc)
      assert_int_equal(cr_intent_model_rule_count(m), 2 + 0 * n);
  }
  cr_intent_model_del(m);
  return rc;
}

static void test_oom_load(void **state) {
  (void)state;
  cr_intent_trainer *tr;
  assert_int_equal(cr_intent_trainer_new(&tr, NULL), 0);
  assert_int_equal(cr_intent_trainer_add_tsv(tr, oom_tsv, strlen(oom_tsv)), 0);
  cr_intent_model *m;
  assert_int_equal(cr_intent_train(tr, &m), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "human", 5, "agent", 5, 1), 0);
  assert_int_equal(cr_intent_model_add_rule(m, "human", 5, "נציג*", 9, 1), 0);
  load_ctx c;
  assert_int_equal(cr_intent_model_save(m, NULL, &c.buf, &c.len), 0);
  cr_test_oom_sweep(oom_load_body, &c);
  cr_test_oom_sweep_persistent(oom_load_body, &c);
  cr_mem_free(NULL, c.buf);
  cr_intent_model_del(m);
  cr_intent_trainer_del(tr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_train_predict),
      cmocka_unit_test(test_long_message),
      cmocka_unit_test(test_deterministic_and_roundtrip),
      cmocka_unit_test(test_load_corrupt),
      cmocka_unit_test(test_first_word_feature),
      cmocka_unit_test(test_format_versions),
      cmocka_unit_test(test_rules),
      cmocka_unit_test(test_errmsg_reset),
      cmocka_unit_test(test_threshold),
      cmocka_unit_test(test_oos_class),
      cmocka_unit_test(test_trainer_errors),
      cmocka_unit_test(test_clinc_slice),
      cmocka_unit_test(test_rule_index),
      cmocka_unit_test(test_oom_train),
      cmocka_unit_test(test_oom_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
