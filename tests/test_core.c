/* The frame: versions, the error table, the allocator and the OOM sweep. */
#include "cr_test.h"

#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void test_version(void **state) {
  (void)state;
  assert_string_equal(cr_version(), CR_VERSION);
  assert_int_equal(cr_version_num(), CR_VERSION_NUM);
  assert_int_equal(CR_VERSION_NUM, 0x000100);
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(cr_strerror(0), "success");
  assert_string_equal(cr_errname(0), "OK");
  assert_string_equal(cr_strerror(CR_ENOMEM), "out of memory");
  assert_string_equal(cr_errname(CR_ENOMEM), "ENOMEM");
  assert_string_equal(cr_errname(CR_ECORRUPT), "ECORRUPT");
  assert_string_equal(cr_strerror(-9999), "unknown error");
  assert_string_equal(cr_errname(12345), "UNKNOWN");
  /* Every code in the table is negative, unique and has a sentence. */
  int seen = 0;
#define CR__XX(name, val, msg)                                                \
  assert_true((val) < 0);                                                     \
  assert_true((val) > CR__ERRNO_LAST);                                        \
  assert_string_equal(cr_errname(val), #name);                                \
  assert_string_not_equal(cr_strerror(val), "unknown error");                 \
  seen++;
  CR_ERRNO_MAP(CR__XX)
#undef CR__XX
  assert_int_equal(seen, -CR__ERRNO_LAST - 1);
}

static void test_mem_init(void **state) {
  (void)state;
  cr_mem m;
  assert_int_equal(cr__mem_init(&m, NULL), 0);
  void *p = cr__malloc(&m, 10);
  assert_non_null(p);
  cr__free(&m, p);
  cr_mem bad = {0};
  assert_int_equal(cr__mem_init(&m, &bad), CR_EINVAL);
  cr_mem_free(NULL, NULL);
  cr_mem_free(NULL, malloc(3));
}

static void test_grow_and_calloc(void **state) {
  (void)state;
  cr_test_mem t;
  cr_test_mem_init(&t);
  int *arr = NULL;
  size_t cap = 0;
  assert_int_equal(cr__grow(&t.mem, (void **)&arr, &cap, 100, sizeof *arr), 0);
  assert_true(cap >= 100);
  for (int i = 0; i < 100; i++)
    arr[i] = i;
  t.fail_at = t.calls; /* the next growth fails: the array is untouched */
  size_t old = cap;
  assert_int_equal(cr__grow(&t.mem, (void **)&arr, &cap, cap + 1, sizeof *arr),
                   CR_ENOMEM);
  assert_int_equal(cap, old);
  assert_int_equal(arr[99], 99);
  assert_null(cr__calloc(&t.mem, SIZE_MAX / 2, 4)); /* overflow */
  cr__free(&t.mem, arr);
  char *s = cr__strndup(&t.mem, "abcdef", 3);
  assert_string_equal(s, "abc");
  cr__free(&t.mem, s);
  assert_int_equal(t.live, 0);
}

/* A body that builds a small linked structure all-or-nothing, the pattern
 * every module follows: the sweep must see CR_ENOMEM and no leak at each
 * failure point. */
struct node {
  struct node *next;
  char *name;
};

static int build_list(cr_test_mem *t, void *ctx) {
  int n = *(int *)ctx;
  struct node *head = NULL;
  int rc = 0;
  for (int i = 0; i < n; i++) {
    struct node *nd = cr__malloc(&t->mem, sizeof *nd);
    if (!nd) {
      rc = CR_ENOMEM;
      break;
    }
    nd->name = cr__strndup(&t->mem, "agent", 5);
    if (!nd->name) {
      cr__free(&t->mem, nd);
      rc = CR_ENOMEM;
      break;
    }
    nd->next = head;
    head = nd;
  }
  while (head) {
    struct node *nx = head->next;
    cr__free(&t->mem, head->name);
    cr__free(&t->mem, head);
    head = nx;
  }
  return rc;
}

static void test_oom_sweep(void **state) {
  (void)state;
  int n = 5;
  assert_int_equal(cr_test_oom_sweep(build_list, &n), 10);
  assert_int_equal(cr_test_oom_sweep_persistent(build_list, &n), 10);
}

static void test_channels(void **state) {
  (void)state;
  for (int c = 0; c < CR_CHANNEL_COUNT; c++) {
    const char *n = cr_channel_name(c);
    assert_non_null(n);
    assert_int_equal(cr_channel_parse(n, strlen(n)), c);
  }
  assert_null(cr_channel_name(CR_CHANNEL_COUNT));
  assert_null(cr_channel_name(-1));
  assert_int_equal(cr_channel_parse("WhatsApp", 8), CR_CHANNEL_WHATSAPP);
  assert_int_equal(cr_channel_parse("webchat", 7), CR_CHANNEL_CHAT);
  assert_int_equal(cr_channel_parse("voicemail", 9), CR_EINVAL);
  assert_int_equal(cr_channel_parse("voice", 4), CR_EINVAL); /* "voic" */
  assert_int_equal(cr_channel_parse("", 0), CR_EINVAL);
  assert_int_equal(cr_channel_parse(NULL, 3), CR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_mem_init),
      cmocka_unit_test(test_grow_and_calloc),
      cmocka_unit_test(test_oom_sweep),
      cmocka_unit_test(test_channels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
