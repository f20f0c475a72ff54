/* Private allocator helpers. Every allocation in the library goes through a
 * cr_mem copied into the owning object (NULL at creation = libc). */
#ifndef CR_MEM_H
#define CR_MEM_H

#include "convroute.h"

#include <stddef.h>
#include <stdint.h>

/* Copies *src into *dst, or fills *dst with the libc allocator when src is
 * NULL. Returns CR_EINVAL when src is incomplete (a NULL member). */
int cr__mem_init(cr_mem *dst, const cr_mem *src);

static inline void *cr__malloc(const cr_mem *m, size_t n) {
  return m->malloc(n ? n : 1, m->user_data);
}
static inline void *cr__realloc(const cr_mem *m, void *p, size_t n) {
  return m->realloc(p, n ? n : 1, m->user_data);
}
static inline void cr__free(const cr_mem *m, void *p) {
  if (p)
    m->free(p, m->user_data);
}

/* n * size bytes, zeroed; NULL on overflow or failure. */
void *cr__calloc(const cr_mem *m, size_t n, size_t size);
/* Grows *arr (of *cap elements of size bytes) to hold at least need
 * elements, doubling. On failure *arr and *cap are untouched. */
int cr__grow(const cr_mem *m, void **arr, size_t *cap, size_t need,
             size_t size);
/* A NUL-terminated copy of s[0..n). */
char *cr__strndup(const cr_mem *m, const char *s, size_t n);

#endif
