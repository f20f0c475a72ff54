/* Text normalisation: UTF-8 validation, case folding, Hebrew marks and
 * final letters, punctuation/emoji, the buffer contract. */
#include "cr_test.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

static void expect_norm(const char *in, const char *want) {
  char out[512];
  size_t n = 0;
  int rc = cr_text_normalize(in, strlen(in), out, sizeof out, &n);
  if (rc != 0 || strcmp(out, want) != 0)
    print_error("normalize(\"%s\") = rc %d \"%s\", want \"%s\"\n", in, rc,
                rc ? "" : out, want);
  assert_int_equal(rc, 0);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
}

static void test_latin_greek_cyrillic(void **state) {
  (void)state;
  expect_norm("HeLLo WORLD", "hello world");
  expect_norm("ÀÉÎÕÜ Ÿ Ā Ž", "àéîõü ÿ ā ž");
  expect_norm("İstanbul", "istanbul");
  expect_norm("ΚΑΛΗΜΕΡΑ Άλφα", "καλημερα άλφα");
  expect_norm("ΟΔΟΣ οδός", "οδοσ οδόσ"); /* final sigma folds to sigma */
  expect_norm("ПРИВЕТ Ёж ЎҐ", "привет ёж ўґ");
  expect_norm("ＡＢＣ", "ａｂｃ");
  /* combining acute is dropped, precomposed é is kept (folded) */
  expect_norm("Cafe\xcc\x81 CAFÉ", "cafe café");
}

static void test_hebrew(void **state) {
  (void)state;
  /* niqqud and cantillation go, final letters map to base forms */
  expect_norm("שָׁלוֹם", "שלומ");
  expect_norm("ךםןףץ", "כמנפצ");
  expect_norm("בְּרֵאשִׁ֖ית", "בראשית");
  /* gershayim / geresh inside a word vanish, typed or typographic */
  expect_norm("צה\"ל", "צהל");
  expect_norm("צה״ל", "צהל");
  expect_norm("ג'ירפה", "גירפה");
  expect_norm("ג׳ירפה", "גירפה");
  /* a quote at a word edge separates */
  expect_norm("\"שלום\"", "שלומ");
  /* maqaf is a hyphen: two words */
  expect_norm("בית־ספר", "בית ספר");
  /* sof pasuq and paseq are punctuation */
  expect_norm("סוף׃פסוק", "סופ פסוק");
  /* mixed Hebrew / English, bidi marks dropped */
  expect_norm("אני רוצה to PAY \xe2\x80\x8fחשבונית!", "אני רוצה to pay חשבונית");
}

static void test_punctuation_emoji_digits(void **state) {
  (void)state;
  expect_norm("hi!!! 😀 there...", "hi there");
  expect_norm("what's up? don’t", "whats up dont");
  expect_norm("'quoted' \"words\"", "quoted words");
  expect_norm("a--b__c//d", "a b c d");
  expect_norm("👍🏽 ok ❤️", "ok");
  expect_norm("order #12345, €50", "order 12345 50");
  expect_norm("e-mail", "e mail");
  expect_norm("x''y", "x y"); /* two apostrophes are not inside a word */
  expect_norm("", "");
  expect_norm("   \t\n  ", "");
  expect_norm("🙂", "");
}

static void test_invalid_utf8(void **state) {
  (void)state;
  static const char *bad[] = {
      "\x80",             /* lone continuation */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\x80",     /* overlong 3-byte */
      "\xed\xa0\x80",     /* surrogate */
      "\xf4\x90\x80\x80", /* > U+10FFFF */
      "\xf5\x80\x80\x80", /* bad lead */
      "ab\xe2\x82",       /* truncated */
      "\xff",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char out[16];
    memcpy(out, "untouched", 10);
    size_t n = 77;
    assert_int_equal(cr_text_normalize(bad[i], strlen(bad[i]), out,
                                       sizeof out, &n),
                     CR_EUTF8);
    assert_string_equal(out, "untouched");
    assert_int_equal(n, 77);
    assert_int_equal(cr__utf8_check(bad[i], strlen(bad[i])), CR_EUTF8);
  }
  /* valid edge code points */
  const char *ok = "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80"
                   "\x80\xf4\x8f\xbf\xbf";
  assert_int_equal(cr__utf8_check(ok, strlen(ok)), 0);
}

static void test_buffer_contract(void **state) {
  (void)state;
  const char *in = "Hello,   WORLD!!!";
  char out[32];
  size_t n = 0;
  /* too small: CR_ENOSPACE, the needed length, nothing written */
  memset(out, 'x', sizeof out);
  assert_int_equal(cr_text_normalize(in, strlen(in), out, 5, &n), CR_ENOSPACE);
  assert_int_equal(n, strlen("hello world"));
  assert_int_equal(out[0], 'x');
  /* exactly need + 1 fits although it is smaller than the input */
  assert_int_equal(cr_text_normalize(in, strlen(in), out, n + 1, &n), 0);
  assert_string_equal(out, "hello world");
  /* measuring with no buffer */
  assert_int_equal(cr_text_normalize(in, strlen(in), NULL, 0, &n), CR_ENOSPACE);
  assert_int_equal(n, 11);
  assert_int_equal(cr_text_normalize(NULL, 0, out, sizeof out, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(cr_text_normalize(NULL, 3, out, sizeof out, &n), CR_EINVAL);
  assert_int_equal(cr_text_normalize(in, 3, out, sizeof out, NULL), CR_EINVAL);
}

/* Every code point: folding is idempotent and never needs more bytes, and
 * the normalised form of any single code point is no longer than it. */
static void test_fold_properties(void **state) {
  (void)state;
  for (uint32_t cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
      continue;
    uint32_t f = cr__fold(cp);
    uint8_t a[4], b[4];
    assert_true(cr__utf8_put(f, a) <= cr__utf8_put(cp, b));
    assert_int_equal(cr__fold(f), f);
    if (cp < 0x30000 || (cp & 0xFFF) == 0) {
      char in[4], out[8];
      size_t n = cr__utf8_put(cp, (uint8_t *)in), m;
      assert_int_equal(cr_text_normalize(in, n, out, sizeof out, &m), 0);
      assert_true(m <= n);
    }
  }
}

/* Random valid UTF-8 strings: output never longer than input, no leading,
 * trailing or double spaces, and normalising twice changes nothing. */
static void test_random_strings(void **state) {
  (void)state;
  uint64_t s = 42;
  static const uint32_t pool[] = {'a', 'Z', ' ', '\'', '"', '-', '.', '7',
                                  0x5D3, 0x5DA, 0x5B8, 0x5F3, 0x5BE, 0x3A3,
                                  0x3C2, 0x416, 0xE9, 0x301, 0x200F, 0x1F600,
                                  0xFE0F, 0x4E2D, 0x130};
  for (int it = 0; it < 2000; it++) {
    char in[256], out[257], out2[257];
    size_t n = 0;
    int len = (int)((s = s * 6364136223846793005ull + 1) >> 59);
    for (int k = 0; k < len; k++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      n += cr__utf8_put(pool[(s >> 33) % (sizeof pool / sizeof *pool)],
                        (uint8_t *)in + n);
    }
    size_t m, m2;
    assert_int_equal(cr_text_normalize(in, n, out, sizeof out, &m), 0);
    assert_true(m <= n);
    if (m) {
      assert_true(out[0] != ' ' && out[m - 1] != ' ');
      assert_null(strstr(out, "  "));
    }
    assert_int_equal(cr_text_normalize(out, m, out2, sizeof out2, &m2), 0);
    assert_string_equal(out, out2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_latin_greek_cyrillic),
      cmocka_unit_test(test_hebrew),
      cmocka_unit_test(test_punctuation_emoji_digits),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_buffer_contract),
      cmocka_unit_test(test_fold_properties),
      cmocka_unit_test(test_random_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
