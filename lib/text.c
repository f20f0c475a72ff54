/* UTF-8 validation and text normalisation for intent matching.
 *
 * No ICU and no Unicode database: the scripts a contact center in Israel
 * (and most of Europe) meets -- Latin, Greek, Cyrillic, Hebrew -- get exact
 * case folding and mark stripping from a compact table of ranges below; any
 * other code point is kept as a letter unless it falls in a punctuation,
 * symbol or emoji block, which become token separators. See
 * docs/intent.md, "Normalisation". */
#include "text.h"

#include <string.h>

int cr__utf8_next(const uint8_t *s, size_t n, size_t *i, uint32_t *cp) {
  size_t p = *i;
  uint32_t c = s[p];
  if (c < 0x80) {
    *cp = c;
    *i = p + 1;
    return 0;
  }
  size_t need;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1, min = 0x80, c &= 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, min = 0x800, c &= 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, min = 0x10000, c &= 0x07;
  } else {
    return CR_EUTF8; /* continuation byte, C0/C1 overlong lead, F5..FF */
  }
  if (n - p - 1 < need)
    return CR_EUTF8;
  for (size_t k = 1; k <= need; k++) {
    uint32_t b = s[p + k];
    if ((b & 0xC0) != 0x80)
      return CR_EUTF8;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return CR_EUTF8;
  *cp = c;
  *i = p + 1 + need;
  return 0;
}

int cr__utf8_check(const char *s, size_t n) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0;
  uint32_t cp;
  while (i < n) {
    /* ASCII fast path, 8 bytes at a time. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, u + i, 8);
      if (w & 0x8080808080808080ull)
        break;
      i += 8;
    }
    if (i >= n)
      break;
    if (cr__utf8_next(u, n, &i, &cp) != 0)
      return CR_EUTF8;
  }
  return 0;
}

size_t cr__utf8_put(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | (cp >> 6));
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | (cp >> 18));
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

/* Case folding as ranges: [lo, hi] maps by +delta, for every code point
 * (step 1) or every other one starting at lo (step 2, the alternating
 * upper/lower pairs of Latin Extended-A and Cyrillic). From the Unicode
 * CaseFolding.txt "C" mappings of these blocks; a target never needs more
 * UTF-8 bytes than its source. */
typedef struct fold_range {
  uint32_t lo, hi;
  int32_t delta;
  uint8_t step;
} fold_range;

static const fold_range fold_table[] = {
    {0x0041, 0x005A, 32, 1},   /* A-Z */
    {0x00C0, 0x00D6, 32, 1},   /* À-Ö */
    {0x00D8, 0x00DE, 32, 1},   /* Ø-Þ */
    {0x0100, 0x012E, 1, 2},    /* Ā..Į */
    {0x0132, 0x0136, 1, 2},    /* Ĳ..Ķ */
    {0x0139, 0x0147, 1, 2},    /* Ĺ..Ň */
    {0x014A, 0x0176, 1, 2},    /* Ŋ..Ŷ */
    {0x0178, 0x0178, -121, 1}, /* Ÿ -> ÿ */
    {0x0179, 0x017D, 1, 2},    /* Ź..Ž */
    {0x0386, 0x0386, 38, 1},   /* Ά */
    {0x0388, 0x038A, 37, 1},   /* Έ..Ί */
    {0x038C, 0x038C, 64, 1},   /* Ό */
    {0x038E, 0x038F, 63, 1},   /* Ύ Ώ */
    {0x0391, 0x03A1, 32, 1},   /* Α..Ρ */
    {0x03A3, 0x03AB, 32, 1},   /* Σ..Ϋ */
    {0x03C2, 0x03C2, 1, 1},    /* final ς -> σ */
    {0x0400, 0x040F, 80, 1},   /* Ѐ..Џ */
    {0x0410, 0x042F, 32, 1},   /* А..Я */
    {0x0460, 0x0480, 1, 2},    /* Ѡ..Ҁ */
    {0x048A, 0x04BE, 1, 2},    /* Ҋ..Ҿ */
    {0x04C0, 0x04C0, 15, 1},   /* Ӏ -> ӏ */
    {0x04C1, 0x04CD, 1, 2},    /* Ӂ..Ӎ */
    {0x04D0, 0x052E, 1, 2},    /* Ӑ..Ԯ */
    {0x05DA, 0x05DA, 1, 1},    /* Hebrew final kaf ך -> כ */
    {0x05DD, 0x05DD, 1, 1},    /* final mem ם -> מ */
    {0x05DF, 0x05DF, 1, 1},    /* final nun ן -> נ */
    {0x05E3, 0x05E3, 1, 1},    /* final pe ף -> פ */
    {0x05E5, 0x05E5, 1, 1},    /* final tsadi ץ -> צ */
    {0x1E00, 0x1E94, 1, 2},    /* Latin Extended Additional */
    {0x1EA0, 0x1EFE, 1, 2},    /* (Vietnamese) */
    {0xFF21, 0xFF3A, 32, 1},   /* fullwidth Ａ-Ｚ */
};

uint32_t cr__fold(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp == 0x0130)
    return 'i'; /* İ: Turkish capital dotted I */
  size_t lo = 0, hi = sizeof fold_table / sizeof fold_table[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const fold_range *r = &fold_table[mid];
    if (cp < r->lo)
      hi = mid;
    else if (cp > r->hi)
      lo = mid + 1;
    else if (r->step == 2 && ((cp - r->lo) & 1))
      return cp; /* already the lower member of the pair */
    else
      return (uint32_t)((int32_t)cp + r->delta);
  }
  return cp;
}

/* What a code point does to the token stream. */
enum cclass {
  C_WORD, /* letter or digit: kept (folded) */
  C_DROP, /* vanishes without splitting a word: marks, niqqud, ZWJ */
  C_JOIN, /* apostrophe / geresh: dropped inside a word, else a separator */
  C_SEP   /* punctuation, symbol, emoji, space: ends the token */
};

typedef struct class_range {
  uint32_t lo, hi;
  uint8_t cls;
} class_range;

/* Sorted, non-overlapping. Anything not listed is a word character, so a
 * script we have no table for still tokenises on spaces and punctuation. */
static const class_range class_table[] = {
    {0x0000, 0x0021, C_SEP},  /* controls, space, ! */
    {0x0022, 0x0022, C_JOIN}, /* " (gershayim typed on a keyboard) */
    {0x0023, 0x0026, C_SEP},
    {0x0027, 0x0027, C_JOIN}, /* ' (apostrophe, geresh typed) */
    {0x0028, 0x002F, C_SEP},
    {0x003A, 0x0040, C_SEP},
    {0x005B, 0x005F, C_SEP},
    {0x0060, 0x0060, C_JOIN}, /* ` */
    {0x007B, 0x00A9, C_SEP},  /* {|}~ DEL, C1 controls, NBSP .. © */
    {0x00AA, 0x00AA, C_WORD}, /* ª */
    {0x00AB, 0x00AC, C_SEP},
    {0x00AD, 0x00AD, C_DROP}, /* soft hyphen */
    {0x00AE, 0x00B1, C_SEP},
    {0x00B4, 0x00B4, C_JOIN}, /* acute accent used as an apostrophe */
    {0x00B6, 0x00B8, C_SEP},
    {0x00BB, 0x00BF, C_SEP},
    {0x00D7, 0x00D7, C_SEP}, /* × */
    {0x00F7, 0x00F7, C_SEP}, /* ÷ */
    {0x02B9, 0x02BC, C_JOIN}, /* modifier primes/apostrophes */
    {0x02C2, 0x02C5, C_SEP},
    {0x02D2, 0x02DF, C_SEP},
    {0x0300, 0x036F, C_DROP}, /* combining diacritics */
    {0x037E, 0x037E, C_SEP},  /* Greek question mark */
    {0x0387, 0x0387, C_SEP},  /* Greek ano teleia */
    {0x0483, 0x0489, C_DROP}, /* Cyrillic combining marks */
    {0x055A, 0x055F, C_SEP},  /* Armenian punctuation */
    {0x0589, 0x058A, C_SEP},
    {0x0591, 0x05BD, C_DROP}, /* Hebrew cantillation and niqqud */
    {0x05BE, 0x05BE, C_SEP},  /* maqaf: a hyphen, joins two words */
    {0x05BF, 0x05BF, C_DROP}, /* rafe */
    {0x05C0, 0x05C0, C_SEP},  /* paseq */
    {0x05C1, 0x05C2, C_DROP}, /* shin/sin dots */
    {0x05C3, 0x05C3, C_SEP},  /* sof pasuq */
    {0x05C4, 0x05C5, C_DROP}, /* upper/lower dot */
    {0x05C6, 0x05C6, C_SEP},  /* nun hafukha */
    {0x05C7, 0x05C7, C_DROP}, /* qamats qatan */
    {0x05F3, 0x05F4, C_JOIN}, /* geresh, gershayim */
    {0x0600, 0x060F, C_SEP},  /* Arabic signs and punctuation */
    {0x0610, 0x061A, C_DROP},
    {0x061B, 0x061F, C_SEP},
    {0x064B, 0x065F, C_DROP}, /* Arabic harakat */
    {0x066A, 0x066D, C_SEP},
    {0x0670, 0x0670, C_DROP},
    {0x06D4, 0x06D4, C_SEP},
    {0x06D6, 0x06ED, C_DROP},
    {0x1AB0, 0x1AFF, C_DROP}, /* combining marks extended */
    {0x1DC0, 0x1DFF, C_DROP},
    {0x2000, 0x200A, C_SEP},  /* spaces */
    {0x200B, 0x200F, C_DROP}, /* ZWSP, ZWNJ, ZWJ, LRM, RLM */
    {0x2010, 0x2017, C_SEP},  /* dashes */
    {0x2018, 0x2019, C_JOIN}, /* curly single quotes */
    {0x201A, 0x2027, C_SEP},
    {0x2028, 0x2029, C_SEP},
    {0x202A, 0x202E, C_DROP}, /* bidi embeddings */
    {0x202F, 0x2060, C_SEP},
    {0x2061, 0x206F, C_DROP}, /* invisible operators, bidi isolates */
    {0x2070, 0x209F, C_WORD}, /* super/subscripts */
    {0x20A0, 0x20CF, C_SEP},  /* currency */
    {0x20D0, 0x20FF, C_DROP}, /* combining marks for symbols */
    {0x2100, 0x214F, C_SEP},  /* letterlike symbols */
    {0x2190, 0x2BFF, C_SEP},  /* arrows, math, technical, box, dingbats */
    {0x2E00, 0x2E7F, C_SEP},  /* supplemental punctuation */
    {0x3000, 0x3003, C_SEP},  /* CJK punctuation */
    {0x3008, 0x3020, C_SEP},
    {0xE000, 0xF8FF, C_SEP},  /* private use */
    {0xFE00, 0xFE0F, C_DROP}, /* variation selectors (emoji style) */
    {0xFE10, 0xFE1F, C_SEP},
    {0xFE20, 0xFE2F, C_DROP},
    {0xFE30, 0xFE6F, C_SEP},
    {0xFEFF, 0xFEFF, C_DROP}, /* BOM */
    {0xFF01, 0xFF0F, C_SEP},  /* fullwidth punctuation */
    {0xFF1A, 0xFF20, C_SEP},
    {0xFF3B, 0xFF40, C_SEP},
    {0xFF5B, 0xFF65, C_SEP},
    {0xFFF0, 0xFFFF, C_SEP},
    {0x1F000, 0x1FAFF, C_SEP}, /* emoji, pictographs, symbols */
    {0xE0000, 0xE007F, C_DROP}, /* tag characters (flag sequences) */
    {0xE0100, 0xE01EF, C_DROP}, /* variation selectors supplement */
    {0xF0000, 0x10FFFF, C_SEP}, /* supplementary private use */
};

static int cclass(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
        (cp >= '0' && cp <= '9'))
      return C_WORD;
  }
  size_t lo = 0, hi = sizeof class_table / sizeof class_table[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < class_table[mid].lo)
      hi = mid;
    else if (cp > class_table[mid].hi)
      lo = mid + 1;
    else
      return class_table[mid].cls;
  }
  return C_WORD;
}

/* A JOIN character is dropped only between two word characters
 * (what's, צה"ל, ג'ירפה); elsewhere it is a quote and separates. The
 * state machine only needs to know whether we are inside a word. With o
 * NULL it only counts. */
static size_t norm_core(const uint8_t *u, size_t n, uint8_t *o) {
  size_t i = 0, w = 0;
  int in_word = 0, pending_join = 0;
  uint8_t b[4];
  while (i < n) {
    uint32_t cp;
    if (u[i] < 0x80)
      cp = u[i++];
    else if (cr__utf8_next(u, n, &i, &cp) != 0)
      break; /* caller validated; stop rather than misread */
    int c = cclass(cp);
    if (c == C_DROP)
      continue;
    if (c == C_JOIN) {
      if (in_word && !pending_join)
        pending_join = 1;
      else
        in_word = 0, pending_join = 0;
      continue;
    }
    if (c == C_SEP) {
      in_word = 0, pending_join = 0;
      continue;
    }
    if (!in_word && w > 0) {
      if (o)
        o[w] = ' ';
      w++;
    }
    in_word = 1, pending_join = 0;
    w += cr__utf8_put(cr__fold(cp), o ? o + w : b);
  }
  return w;
}

size_t cr__normalize(const char *s, size_t n, char *out) {
  size_t w = norm_core((const uint8_t *)s, n, (uint8_t *)out);
  out[w] = 0;
  return w;
}

int cr_text_normalize(const char *text, size_t len, char *out, size_t cap,
                      size_t *out_len) {
  if ((!text && len) || !out_len || (!out && cap))
    return CR_EINVAL;
  if (cr__utf8_check(text, len) != 0)
    return CR_EUTF8;
  /* Normalising never grows the text, so cap > len always fits. */
  size_t need = cap > len ? 0 : norm_core((const uint8_t *)text, len, NULL);
  if (cap <= len && need + 1 > cap) {
    *out_len = need;
    return CR_ENOSPACE;
  }
  *out_len = cr__normalize(text, len, out);
  return 0;
}
