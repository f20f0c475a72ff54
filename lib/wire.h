/* The byte order and bounds checks every saved format shares (engine,
 * router and metrics snapshots, intent models): fixed little-endian
 * integers, IEEE-754 doubles and floats by their bit patterns, strings as
 * u32 length + bytes.
 *
 * The writer grows its buffer through the owner's allocator and the
 * reader checks every read against the end of the buffer. Both keep their
 * first failure (CR_ENOMEM or CR_ECORRUPT) and turn every later call into
 * a no-op that yields zero, so a format's code reads straight through and
 * checks once at the end, as cmark's and SQLite's record readers do. */
#ifndef CR_WIRE_H
#define CR_WIRE_H

#include "mem.h"

#include <stdint.h>
#include <string.h>

/* ---- writer ---- */

/* mem NULL: a measuring writer that only counts n, so a large format can
 * be sized first and written into one exact allocation (p, cap). */
typedef struct cr__wbuf {
  const cr_mem *mem;
  uint8_t *p;
  size_t n, cap;
  int err;
} cr__wbuf;

static inline void cr__w_bytes(cr__wbuf *w, const void *s, size_t n) {
  if (w->err || n == 0)
    return;
  if (!w->mem) {
    w->n += n;
    return;
  }
  if (n > w->cap - w->n) {
    void *arr = w->p;
    if (cr__grow(w->mem, &arr, &w->cap, w->n + n, 1)) {
      w->err = CR_ENOMEM;
      return;
    }
    w->p = arr;
  }
  memcpy(w->p + w->n, s, n);
  w->n += n;
}

/* Stores v at b[0..n) least significant byte first. */
static inline void cr__le_put(uint8_t *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    b[i] = (uint8_t)(v >> (8 * i));
}

static inline void cr__w_u8(cr__wbuf *w, unsigned v) {
  uint8_t b = (uint8_t)v;
  cr__w_bytes(w, &b, 1);
}
static inline void cr__w_u16(cr__wbuf *w, uint16_t v) {
  uint8_t b[2];
  cr__le_put(b, v, 2);
  cr__w_bytes(w, b, 2);
}
static inline void cr__w_u32(cr__wbuf *w, uint32_t v) {
  uint8_t b[4];
  cr__le_put(b, v, 4);
  cr__w_bytes(w, b, 4);
}
static inline void cr__w_u64(cr__wbuf *w, uint64_t v) {
  uint8_t b[8];
  cr__le_put(b, v, 8);
  cr__w_bytes(w, b, 8);
}
static inline void cr__w_i32(cr__wbuf *w, int32_t v) {
  cr__w_u32(w, (uint32_t)v);
}
static inline void cr__w_i64(cr__wbuf *w, int64_t v) {
  cr__w_u64(w, (uint64_t)v);
}
static inline void cr__w_f32(cr__wbuf *w, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  cr__w_u32(w, v);
}
static inline void cr__w_f64(cr__wbuf *w, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  cr__w_u64(w, v);
}
static inline void cr__w_str(cr__wbuf *w, const char *s, size_t n) {
  cr__w_u32(w, (uint32_t)n);
  cr__w_bytes(w, s, n);
}

/* ---- reader ---- */

typedef struct cr__rbuf {
  const uint8_t *p;
  size_t n, i;
  int err;
} cr__rbuf;

/* The next n bytes, or NULL (and CR_ECORRUPT) past the end. */
static inline const uint8_t *cr__r_take(cr__rbuf *r, size_t n) {
  if (r->err)
    return NULL; /* the first error sticks (CR_ENOMEM stays CR_ENOMEM) */
  if (n > r->n - r->i) {
    r->err = CR_ECORRUPT;
    return NULL;
  }
  const uint8_t *s = r->p + r->i;
  r->i += n;
  return s;
}

/* The little-endian value at s[0..n). */
static inline uint64_t cr__le_get(const uint8_t *s, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v |= (uint64_t)s[i] << (8 * i);
  return v;
}

static inline uint64_t cr__r_le(cr__rbuf *r, int n) {
  const uint8_t *s = cr__r_take(r, (size_t)n);
  return s ? cr__le_get(s, n) : 0;
}
static inline unsigned cr__r_u8(cr__rbuf *r) {
  return (unsigned)cr__r_le(r, 1);
}
static inline uint16_t cr__r_u16(cr__rbuf *r) {
  return (uint16_t)cr__r_le(r, 2);
}
static inline uint32_t cr__r_u32(cr__rbuf *r) {
  return (uint32_t)cr__r_le(r, 4);
}
static inline uint64_t cr__r_u64(cr__rbuf *r) { return cr__r_le(r, 8); }
static inline int32_t cr__r_i32(cr__rbuf *r) {
  return (int32_t)cr__r_u32(r);
}
static inline int64_t cr__r_i64(cr__rbuf *r) {
  return (int64_t)cr__r_u64(r);
}
static inline float cr__r_f32(cr__rbuf *r) {
  uint32_t v = cr__r_u32(r);
  float f;
  memcpy(&f, &v, 4);
  return f;
}
static inline double cr__r_f64(cr__rbuf *r) {
  uint64_t v = cr__r_u64(r);
  double d;
  memcpy(&d, &v, 8);
  return d;
}
/* Room for count items of size bytes? Checked before allocating for them,
 * so a corrupt count cannot make a reader allocate gigabytes. */
static inline int cr__r_room(const cr__rbuf *r, size_t count, size_t size) {
  return !r->err && size && count <= (r->n - r->i) / size;
}

#endif
