/* The demo engine configuration text format (engine_config.h).
 *
 * SPDX-License-Identifier: MIT */
#include "engine_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[ECF_KIND_COUNT] = {
    "set", "hours", "timezone", "queue", "field", "intent", "rule", "text"};

#define FAIL(...)                                                            \
  do {                                                                       \
    snprintf(err, cap, __VA_ARGS__);                                         \
    return -1;                                                               \
  } while (0)

const crs_kv *ecf_find(const crs_kv *kv, size_t n, const char *key) {
  size_t k = strlen(key);
  for (size_t i = 0; i < n; i++)
    if (kv[i].key_len == k && !memcmp(kv[i].key, key, k))
      return &kv[i];
  return NULL;
}

const ecf_entry *ecf_get(const ecf_config *c, int kind, const char *name) {
  for (size_t i = 0; i < c->n; i++)
    if (c->e[i].kind == kind && (!name || !strcmp(c->e[i].name, name)))
      return &c->e[i];
  return NULL;
}

long ecf_long(const char *s, size_t len) {
  long v = 0;
  if (!len || len > 12)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int ecf_pairs(const char *s, size_t len, ecf_pair *out, int max, long lo,
              long hi) {
  int n = 0;
  size_t i = 0;
  if (!len)
    return 0;
  while (i <= len) {
    size_t e = i;
    while (e < len && s[e] != ',')
      e++;
    const char *colon = memchr(s + i, ':', e - i);
    if (!colon || colon == s + i || n == max)
      return -1;
    long v = ecf_long(colon + 1, (size_t)(s + e - colon - 1));
    if (v < lo || v > hi)
      return -1;
    out[n].name = s + i, out[n].len = (size_t)(colon - s - i), out[n].v = v;
    n++;
    i = e + 1;
  }
  return n;
}

/* ---------- hours ---------- */

static const char *const day_names[7] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};

static int day_index(const char *s, size_t len) {
  for (int d = 0; d < 7; d++)
    if (len == 3 && (s[0] | 0x20) == day_names[d][0] &&
        (s[1] | 0x20) == day_names[d][1] && (s[2] | 0x20) == day_names[d][2])
      return d;
  return -1;
}

static int hhmm(const char *s, int *min) {
  if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[2] != ':' ||
      s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
    return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || (h == 24 && m))
    return -1;
  *min = h * 60 + m;
  return 0;
}

/* hours sun-thu 08:00-20:00 | hours fri 08:00-13:00 | hours sat,sun ... */
static int parse_hours(ecf_config *c, const ecf_entry *e, char *err,
                       size_t cap) {
  const char *d = e->name, *t = e->arg2;
  int from, to;
  if (!t || strlen(t) != 11 || t[5] != '-' || hhmm(t, &from) ||
      hhmm(t + 6, &to) || to <= from)
    FAIL("line %d: expected: hours sun-thu 08:00-20:00", e->lineno);
  int days[7] = {0};
  for (const char *p = d; *p;) {
    const char *q = p;
    while (*q && *q != ',')
      q++;
    const char *dash = memchr(p, '-', (size_t)(q - p));
    int a = day_index(p, dash ? (size_t)(dash - p) : (size_t)(q - p));
    int b = dash ? day_index(dash + 1, (size_t)(q - dash - 1)) : a;
    if (a < 0 || b < 0)
      FAIL("line %d: days are sun mon tue wed thu fri sat, as sun-thu or "
           "fri,sat", e->lineno);
    for (int k = a;; k = (k + 1) % 7) {
      days[k] = 1;
      if (k == b)
        break;
    }
    p = *q ? q + 1 : q;
  }
  for (int k = 0; k < 7; k++)
    if (days[k])
      for (int m = from; m < to; m++) {
        int w = k * 1440 + m;
        c->open[w / 8] |= (uint8_t)(1u << (w % 8));
      }
  c->has_hours = 1;
  return 0;
}

static int parse_tz(ecf_config *c, const ecf_entry *e, char *err,
                    size_t cap) {
  const char *z = e->name;
  c->tz_israel = 0;
  if (!strcmp(z, "Asia/Jerusalem") || !strcmp(z, "Israel")) {
    c->tz_israel = 1;
    return 0;
  }
  if (!strcmp(z, "UTC")) {
    c->tz_offset_min = 0;
    return 0;
  }
  int h, m;
  if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':' &&
      !hhmm(z + 1, &h)) {
    m = h;
    c->tz_offset_min = z[0] == '-' ? -m : m;
    return 0;
  }
  FAIL("line %d: timezone is Asia/Jerusalem, UTC or +HH:MM", e->lineno);
}

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int64_t floordiv(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Day number of the last Sunday of month m (31-day March or October). */
static int64_t last_sunday(int64_t y, int m) {
  int64_t d = days_from_civil(y, m, 31);
  int64_t wd = ((d + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
  return d - wd;
}

/* Israel Standard Time is UTC+2; daylight time (UTC+3) runs from the
 * Friday before the last Sunday of March at 02:00 IST to the last Sunday
 * of October at 02:00 IDT (Israel's Time Determination Law as amended in
 * 2013; the tz database's "Zion" rules since 2013). */
int ecf_utc_offset_min(const ecf_config *c, int64_t unix_ms) {
  if (!c->tz_israel)
    return c->tz_offset_min;
  int64_t s = floordiv(unix_ms, 1000);
  int64_t day = floordiv(s, 86400);
  /* civil year of that day (good enough: DST edges are far from Jan 1) */
  int64_t y = 1970 + floordiv(day * 400, 146097);
  while (days_from_civil(y + 1, 1, 1) <= day)
    y++;
  while (days_from_civil(y, 1, 1) > day)
    y--;
  int64_t start = (last_sunday(y, 3) - 2) * 86400; /* Fri 02:00 IST */
  int64_t end = last_sunday(y, 10) * 86400 - 3600;  /* Sun 02:00 IDT */
  return s >= start && s < end ? 180 : 120;
}

int ecf_is_open(const ecf_config *c, int64_t unix_ms) {
  if (!c->has_hours)
    return 1;
  int64_t local = floordiv(unix_ms, 60000) + ecf_utc_offset_min(c, unix_ms);
  int64_t day = floordiv(local, 1440);
  int wd = (int)(((day + 4) % 7 + 7) % 7);
  int w = wd * 1440 + (int)(local - day * 1440);
  return (c->open[w / 8] >> (w % 8)) & 1;
}

int64_t ecf_next_change(const ecf_config *c, int64_t unix_ms) {
  if (!c->has_hours)
    return INT64_MAX;
  int now = ecf_is_open(c, unix_ms);
  int64_t m = floordiv(unix_ms, 60000) + 1;
  for (int i = 0; i < 8 * 1440; i++, m++)
    if (ecf_is_open(c, m * 60000) != now)
      return m * 60000;
  return INT64_MAX;
}

/* ---------- the file ---------- */

static int take_kv(crs_kv *kv, size_t *n, const crs_tok *t, int lineno,
                   char *err, size_t cap) {
  if (t->eq <= 0)
    FAIL("line %d: expected key=value, got '%s'", lineno, t->s);
  crs_kv *k = &kv[(*n)++];
  k->key = t->s, k->key_len = (size_t)t->eq;
  k->val = t->s + t->eq + 1, k->val_len = t->len - (size_t)t->eq - 1;
  return 0;
}

static int parse_entry(ecf_config *c, ecf_entry *e, char *err, size_t cap) {
  crs_toks *tk = &e->toks;
  int kind = -1;
  for (int k = 0; k < ECF_KIND_COUNT; k++)
    if (!tk->tok[0].quoted && !strcmp(tk->tok[0].s, kind_names[k]))
      kind = k;
  if (kind < 0)
    FAIL("line %d: unknown line kind '%s' (set, hours, timezone, queue, "
         "field, intent, rule, text)", e->lineno, tk->tok[0].s);
  e->kind = kind;
  size_t at = 1;
  if (kind != ECF_SET) {
    if (tk->n < 2 || tk->tok[1].quoted || tk->tok[1].eq >= 0)
      FAIL("line %d: %s needs a name", e->lineno, kind_names[kind]);
    e->name = tk->tok[1].s;
    at = 2;
  } else {
    e->name = "";
  }
  if (kind == ECF_HOURS) {
    e->arg2 = tk->n == 3 ? tk->tok[2].s : NULL;
    return parse_hours(c, e, err, cap);
  }
  if (kind == ECF_TIMEZONE) {
    if (tk->n != 2)
      FAIL("line %d: expected: timezone NAME", e->lineno);
    return parse_tz(c, e, err, cap);
  }
  int arrow = 0;
  for (size_t i = at; i < tk->n; i++) {
    const crs_tok *t = &tk->tok[i];
    if (kind == ECF_RULE && !t->quoted && !strcmp(t->s, "->") && !arrow) {
      arrow = 1;
      continue;
    }
    if (take_kv(arrow ? e->eff : e->kv, arrow ? &e->neff : &e->nkv, t,
                e->lineno, err, cap))
      return -1;
  }
  if (kind == ECF_RULE && (!arrow || !e->nkv || !e->neff))
    FAIL("line %d: expected: rule NAME key=value ... -> effect=value ...",
         e->lineno);
  if (kind != ECF_SET && kind != ECF_RULE)
    for (size_t i = 0; i < c->n; i++)
      if (c->e[i].kind == kind && !strcmp(c->e[i].name, e->name))
        FAIL("line %d: %s %s defined twice (first on line %d)", e->lineno,
             kind_names[kind], e->name, c->e[i].lineno);
  return 0;
}

int ecf_parse(const char *text, size_t len, ecf_config *out, char *err,
              size_t cap) {
  memset(out, 0, sizeof *out);
  out->tz_israel = 0;
  int lineno = 0;
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && text[e] != '\n')
      e++;
    size_t l = e - i;
    if (l && text[i + l - 1] == '\r')
      l--;
    lineno++;
    ecf_entry en;
    memset(&en, 0, sizeof en);
    en.lineno = lineno;
    char why[160];
    if (memchr(text + i, '\0', l) ||
        crs_lex(text + i, l, &en.toks, why, sizeof why)) {
      crs_toks_free(&en.toks);
      snprintf(err, cap, "line %d: %s", lineno,
               memchr(text + i, '\0', l) ? "NUL byte" : why);
      ecf_free(out);
      return -1;
    }
    i = e + 1;
    if (!en.toks.n) {
      crs_toks_free(&en.toks);
      continue;
    }
    int bad = parse_entry(out, &en, err, cap);
    if (!bad && out->n == out->cap) {
      size_t nc = out->cap ? 2 * out->cap : 64;
      ecf_entry *ne = realloc(out->e, nc * sizeof *ne);
      if (ne)
        out->e = ne, out->cap = nc;
      else
        bad = 1, snprintf(err, cap, "out of memory");
    }
    if (bad) {
      crs_toks_free(&en.toks);
      ecf_free(out);
      return -1;
    }
    out->e[out->n++] = en;
  }
  return 0;
}

int ecf_load(const char *path, ecf_config *out, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "%s: cannot open", path);
    return -1;
  }
  char *buf = NULL;
  size_t n = 0, c = 0;
  for (;;) {
    if (n == c) {
      char *nb = realloc(buf, c = c ? 2 * c : 65536);
      if (!nb) {
        free(buf);
        fclose(f);
        snprintf(err, cap, "%s: out of memory", path);
        return -1;
      }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, c - n, f);
    n += r;
    if (!r)
      break;
  }
  fclose(f);
  char why[200];
  int rc = ecf_parse(buf, n, out, why, sizeof why);
  if (rc)
    snprintf(err, cap, "%s: %s", path, why);
  free(buf);
  return rc;
}

void ecf_free(ecf_config *c) {
  for (size_t i = 0; i < c->n; i++)
    crs_toks_free(&c->e[i].toks);
  free(c->e);
  memset(c, 0, sizeof *c);
}
