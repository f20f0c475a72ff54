#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t n, void *ud) {
  (void)ud;
  return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n);
}
static void libc_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static const cr_mem libc_mem = {NULL, libc_malloc, libc_realloc, libc_free};

int cr__mem_init(cr_mem *dst, const cr_mem *src) {
  if (!src) {
    *dst = libc_mem;
    return 0;
  }
  if (!src->malloc || !src->realloc || !src->free)
    return CR_EINVAL;
  *dst = *src;
  return 0;
}

void cr_mem_free(const cr_mem *mem, void *ptr) {
  if (!ptr)
    return;
  if (!mem)
    mem = &libc_mem;
  mem->free(ptr, mem->user_data);
}

void *cr__calloc(const cr_mem *m, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  size_t bytes = n * size;
  void *p = cr__malloc(m, bytes);
  if (p && bytes)
    memset(p, 0, bytes);
  return p;
}

int cr__grow(const cr_mem *m, void **arr, size_t *cap, size_t need,
             size_t size) {
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap : 8;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2)
      return CR_ENOMEM;
    ncap *= 2;
  }
  if (size && ncap > SIZE_MAX / size)
    return CR_ENOMEM;
  void *p = cr__realloc(m, *arr, ncap * size);
  if (!p)
    return CR_ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

char *cr__strndup(const cr_mem *m, const char *s, size_t n) {
  if (n == SIZE_MAX)
    return NULL;
  char *d = cr__malloc(m, n + 1);
  if (!d)
    return NULL;
  if (n)
    memcpy(d, s, n);
  d[n] = '\0';
  return d;
}
