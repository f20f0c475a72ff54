/* Private: UTF-8 decoding and the normaliser the intent matcher uses. */
#ifndef CR_TEXT_H
#define CR_TEXT_H

#include "convroute.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[*i..n) strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF), advancing *i. Returns 0 or
 * CR_EUTF8. */
int cr__utf8_next(const uint8_t *s, size_t n, size_t *i, uint32_t *cp);
/* 0 when s[0..n) is valid UTF-8, CR_EUTF8 otherwise. */
int cr__utf8_check(const char *s, size_t n);
/* Writes cp as UTF-8 to out (room for 4), returns the byte count. */
size_t cr__utf8_put(uint32_t cp, uint8_t *out);

/* The case-folded / Hebrew-normalised form of one code point (the same
 * code point when nothing applies). Never longer in UTF-8 than cp. */
uint32_t cr__fold(uint32_t cp);

/* Normalises s[0..n) into out, which must have room for n + 1 bytes;
 * returns the length written (NUL-terminated). The input must be valid
 * UTF-8 (checked by the caller). Tokens end up separated by one space. */
size_t cr__normalize(const char *s, size_t n, char *out);

#endif
