#include "cr_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries its size in a header so live bytes can be tracked. */
typedef union {
  size_t size;
  max_align_t align;
} hdr;

static int should_fail(cr_test_mem *t) {
  long i = t->calls++;
  if (t->fail_at < 0)
    return 0;
  if (i == t->fail_at || (t->fail_all && i > t->fail_at)) {
    t->failed++;
    return 1;
  }
  return 0;
}

static void *t_malloc(size_t n, void *ud) {
  cr_test_mem *t = ud;
  if (should_fail(t))
    return NULL;
  hdr *h = malloc(sizeof(hdr) + n);
  if (!h)
    return NULL;
  h->size = n;
  t->live++;
  t->live_bytes += n;
  if (t->live_bytes > t->peak_bytes)
    t->peak_bytes = t->live_bytes;
  return h + 1;
}

static void *t_realloc(void *p, size_t n, void *ud) {
  cr_test_mem *t = ud;
  if (!p)
    return t_malloc(n, ud);
  if (should_fail(t))
    return NULL;
  hdr *h = (hdr *)p - 1;
  size_t old = h->size;
  hdr *nh = realloc(h, sizeof(hdr) + n);
  if (!nh)
    return NULL;
  nh->size = n;
  t->live_bytes = t->live_bytes - old + n;
  if (t->live_bytes > t->peak_bytes)
    t->peak_bytes = t->live_bytes;
  return nh + 1;
}

static void t_free(void *p, void *ud) {
  cr_test_mem *t = ud;
  if (!p)
    return;
  hdr *h = (hdr *)p - 1;
  t->live--;
  t->live_bytes -= h->size;
  free(h);
}

void cr_test_mem_init(cr_test_mem *t) {
  memset(t, 0, sizeof *t);
  t->mem.user_data = t;
  t->mem.malloc = t_malloc;
  t->mem.realloc = t_realloc;
  t->mem.free = t_free;
  t->fail_at = -1;
}

void cr_test_mem_heal(cr_test_mem *t) { t->fail_at = -1; }

static long sweep(cr_test_oom_body body, void *ctx, int persistent) {
  cr_test_mem t;
  cr_test_mem_init(&t);
  int rc = body(&t, ctx);
  if (rc != 0)
    fail_msg("OOM sweep: clean run returned %d (%s)", rc, cr_strerror(rc));
  if (t.live != 0)
    fail_msg("OOM sweep: clean run leaked %ld blocks", t.live);
  long n = t.calls;
  for (long i = 0; i < n; i++) {
    cr_test_mem_init(&t);
    t.fail_at = i;
    t.fail_all = persistent;
    rc = body(&t, ctx);
    if (t.failed > 0 && rc != CR_ENOMEM)
      fail_msg("OOM sweep: failing allocation %ld of %ld: returned %d (%s), "
               "expected CR_ENOMEM",
               i, n, rc, cr_strerror(rc));
    if (t.failed == 0 && rc != 0)
      fail_msg("OOM sweep: run %ld injected nothing but returned %d", i, rc);
    if (t.live != 0)
      fail_msg("OOM sweep: failing allocation %ld of %ld leaked %ld blocks",
               i, n, t.live);
  }
  return n;
}

long cr_test_oom_sweep(cr_test_oom_body body, void *ctx) {
  return sweep(body, ctx, 0);
}

long cr_test_oom_sweep_persistent(cr_test_oom_body body, void *ctx) {
  return sweep(body, ctx, 1);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = sz < 0 ? NULL : malloc((size_t)sz + 1);
  if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
    free(buf);
    fclose(f);
    return NULL;
  }
  buf[sz] = '\0';
  fclose(f);
  if (len)
    *len = (size_t)sz;
  return buf;
}

char *cr_test_read_shared(const char *relpath, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/../shared/data/%s", CR_TEST_SOURCE_DIR,
           relpath);
  return read_file(path, len);
}

char *cr_test_read_source(const char *relpath, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", CR_TEST_SOURCE_DIR, relpath);
  return read_file(path, len);
}

cr_intent_model *cr_test_demo_model(void) {
  static const char *const files[] = {"examples/data/intents_en.tsv",
                                      "examples/data/intents_he.tsv",
                                      "examples/data/intents_oos.tsv"};
  cr_intent_trainer *t;
  cr_intent_model *m = NULL;
  if (cr_intent_trainer_new(&t, NULL))
    return NULL;
  int rc = 0;
  for (int i = 0; i < 3 && !rc; i++) {
    size_t n;
    char *b = cr_test_read_source(files[i], &n);
    rc = !b || cr_intent_trainer_add_tsv(t, b, n);
    free(b);
  }
  if (!rc)
    rc = cr_intent_trainer_set_oos_label(t, "oos", 3) ||
         cr_intent_train(t, &m);
  cr_intent_trainer_del(t);
  if (!rc && cr_intent_model_add_builtin_rules(m, "talk_to_human", 13,
                                               "emergency", 9)) {
    cr_intent_model_del(m);
    return NULL;
  }
  return rc ? NULL : m;
}
