/* See demo_model.h.
 *
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include "demo_model.h"
#include "engine_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <unistd.h>
#endif

static int load(const char *path, cr_intent_model **out, char *err,
                size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "%.400s: %s", path, strerror(errno));
    return -1;
  }
  size_t c = 1 << 20, n = 0, k;
  char *b = malloc(c);
  while (b && (k = fread(b + n, 1, c - n, f)) > 0)
    if ((n += k) == c) {
      char *nb = c < ((size_t)1 << 30) ? realloc(b, c *= 2) : NULL;
      if (!nb)
        free(b);
      b = nb;
    }
  fclose(f);
  int rc = b ? cr_intent_model_load(out, NULL, b, n) : CR_ENOMEM;
  free(b);
  if (rc) {
    snprintf(err, cap, "%.400s: %s", path, cr_strerror(rc));
    return -1;
  }
  return 0;
}

static int save(const cr_intent_model *m, const char *path, char *err,
                size_t cap) {
  void *buf;
  size_t len;
  int rc = cr_intent_model_save(m, NULL, &buf, &len);
  if (rc) {
    snprintf(err, cap, "saving the model: %s", cr_strerror(rc));
    return -1;
  }
  FILE *f = fopen(path, "wb");
  int bad = !f || fwrite(buf, 1, len, f) != len;
  if (f && fclose(f))
    bad = 1;
  cr_mem_free(NULL, buf);
  if (bad) {
    snprintf(err, cap, "%.400s: cannot write the model", path);
    return -1;
  }
  return 0;
}

int dm_model_get(const char *data_dir, const char *model_path,
                 const char *save_path, cr_intent_model **out, char *err,
                 size_t cap) {
  *out = NULL;
  if (model_path)
    return load(model_path, out, err, cap);
  if (ecf_train_demo(data_dir, out, err, cap))
    return -1;
  if (save_path && save(*out, save_path, err, cap)) {
    cr_intent_model_del(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

#ifndef CR_EXAMPLE_DATA_DIR
#define CR_EXAMPLE_DATA_DIR "examples/data"
#endif
#ifndef CR_EXAMPLE_DATA_INSTALLED
#define CR_EXAMPLE_DATA_INSTALLED "/usr/local/share/convroute"
#endif

#ifndef CR_EXAMPLE_DATA_REL
#define CR_EXAMPLE_DATA_REL "../share/convroute"
#endif

static int has_data(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/demo_bot.conf", dir);
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  fclose(f);
  return 1;
}

/* The source tree's data in a build; then <exe>/../share/convroute, so an
 * install under any prefix (cmake --install --prefix P) finds its own;
 * then the prefix configured at build time. */
const char *dm_data_dir(void) {
  if (has_data(CR_EXAMPLE_DATA_DIR))
    return CR_EXAMPLE_DATA_DIR;
#if defined(__linux__)
  static char rel[4096];
  ssize_t n = readlink("/proc/self/exe", rel, sizeof rel - 1);
  char *slash = NULL;
  if (n > 0) {
    rel[n] = '\0';
    slash = strrchr(rel, '/');
  }
  if (slash) {
    size_t room = sizeof rel - (size_t)(slash + 1 - rel);
    if ((size_t)snprintf(slash + 1, room, "%s", CR_EXAMPLE_DATA_REL) < room &&
        has_data(rel))
      return rel;
  }
#endif
  if (has_data(CR_EXAMPLE_DATA_INSTALLED))
    return CR_EXAMPLE_DATA_INSTALLED;
  return CR_EXAMPLE_DATA_DIR; /* the error then names the build's path */
}
