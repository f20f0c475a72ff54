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
    if (days[k]) {
      if (c->niv == sizeof c->iv / sizeof *c->iv)
        FAIL("line %d: more than %zu opening intervals", e->lineno,
             sizeof c->iv / sizeof *c->iv);
      c->iv[c->niv].day = k, c->iv[c->niv].open_min = from;
      c->iv[c->niv++].close_min = to;
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

/* ---------- applying it to an engine ---------- */

#define AFAIL(rc_, ...)                                                      \
  do {                                                                       \
    snprintf(err, cap, __VA_ARGS__);                                         \
    return (rc_);                                                            \
  } while (0)

static int kv_is(const crs_kv *kv, const char *k) {
  return kv->key_len == strlen(k) && !memcmp(kv->key, k, kv->key_len);
}

/* "12" or "1.5" seconds -> ms; -1 when malformed. */
static int64_t kv_ms(const crs_kv *kv) {
  char b[32];
  int64_t ms;
  if (kv->val_len >= sizeof b)
    return -1;
  memcpy(b, kv->val, kv->val_len);
  b[kv->val_len] = '\0';
  return crs_parse_seconds(b, &ms) ? -1 : ms;
}

static int kv_double(const crs_kv *kv, double *v) {
  char b[32], *end;
  if (!kv->val_len || kv->val_len >= sizeof b)
    return -1;
  memcpy(b, kv->val, kv->val_len);
  b[kv->val_len] = '\0';
  *v = strtod(b, &end);
  return *end ? -1 : 0;
}

/* A language key: two or three lower-case ASCII letters ("he", "en"). */
static int is_lang_key(const char *k, size_t n) {
  if (n < 2 || n > 3)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (k[i] < 'a' || k[i] > 'z')
      return 0;
  return 1;
}

/* Collects the language texts of kv: keys "he", "en" (prefix NULL) or
 * "title_he" (prefix "title_"). */
static size_t lang_texts(const crs_kv *kv, size_t n, const char *prefix,
                         cr_lang_text *out, size_t max) {
  size_t pl = prefix ? strlen(prefix) : 0, k = 0;
  for (size_t i = 0; i < n && k < max; i++) {
    if (kv[i].key_len <= pl || (pl && memcmp(kv[i].key, prefix, pl)) ||
        !is_lang_key(kv[i].key + pl, kv[i].key_len - pl))
      continue;
    out[k].lang = kv[i].key + pl, out[k].lang_len = kv[i].key_len - pl;
    out[k].text = kv[i].val, out[k++].text_len = kv[i].val_len;
  }
  return k;
}

static int skills_of(const crs_kv *kv, cr_skill_level *sk, size_t max,
                     size_t *n) {
  ecf_pair p[CR_ROUTER_MAX_STEP_SKILLS];
  int k = kv ? ecf_pairs(kv->val, kv->val_len, p, (int)max, 1, 5) : 0;
  if (k < 0)
    return -1;
  for (int i = 0; i < k; i++)
    sk[i].skill = p[i].name, sk[i].skill_len = p[i].len,
    sk[i].level = (int)p[i].v;
  *n = (size_t)k;
  return 0;
}

static int apply_options(const ecf_config *c, cr_engine_config *cfg,
                         cr_router_config *rc, char *err, size_t cap) {
  for (size_t i = 0; i < c->n; i++) {
    const ecf_entry *e = &c->e[i];
    if (e->kind != ECF_SET)
      continue;
    for (size_t j = 0; j < e->nkv; j++) {
      const crs_kv *kv = &e->kv[j];
      double d;
      int64_t ms = kv_ms(kv);
      long v = ecf_long(kv->val, kv->val_len);
      if (kv_is(kv, "min_confidence") && !kv_double(kv, &d))
        cfg->clarify_below = d;
      else if (kv_is(kv, "max_misunderstandings") && v >= 0)
        cfg->max_unclear = (uint32_t)v;
      else if (kv_is(kv, "transcript_max") && v >= 0)
        cfg->transcript_max = (size_t)v;
      else if (kv_is(kv, "idle_timeout") && ms >= 0)
        cfg->idle_ms = ms;
      else if (kv_is(kv, "return_window") && ms >= 0)
        cfg->return_window_ms = ms;
      else if (kv_is(kv, "sticky") && ms >= 0)
        cfg->sticky_ms = ms;
      else if (kv_is(kv, "wrapup") && ms >= 0)
        cfg->wrapup_ms = ms;
      else if (kv_is(kv, "offer_timeout") && ms >= 0)
        rc->offer_timeout_ms = ms;
      else if (kv_is(kv, "after_hours") && kv->val_len == 5 &&
               !memcmp(kv->val, "queue", 5))
        cfg->keep_queued_after_hours = 1;
      else if (kv_is(kv, "after_hours") && kv->val_len == 3 &&
               !memcmp(kv->val, "end", 3))
        cfg->keep_queued_after_hours = 0;
      else if (kv_is(kv, "human_label"))
        cfg->human_label = kv->val, cfg->human_label_len = kv->val_len;
      else if (kv_is(kv, "default_queue"))
        cfg->default_queue = kv->val, cfg->default_queue_len = kv->val_len;
      else if (kv_is(kv, "default_lang"))
        cfg->default_lang = kv->val, cfg->default_lang_len = kv->val_len;
      else
        AFAIL(-1, "line %d: bad or unknown option %.*s=%.*s", e->lineno,
              (int)kv->key_len, kv->key, (int)kv->val_len, kv->val);
    }
  }
  return 0;
}

static int add_queue(cr_engine *en, const ecf_entry *e, int64_t now,
                     char *err, size_t cap) {
  cr_queue_config q;
  cr_queue_config_init(&q);
  cr_skill_level sk[CR_ROUTER_MAX_STEP_SKILLS];
  q.auto_members = 1;
  for (size_t j = 0; j < e->nkv; j++) {
    const crs_kv *kv = &e->kv[j];
    int64_t ms = kv_ms(kv);
    long v = ecf_long(kv->val, kv->val_len);
    if (kv_is(kv, "skills")) {
      if (skills_of(kv, sk, CR_ROUTER_MAX_STEP_SKILLS, &q.nskills))
        AFAIL(CR_EINVAL, "line %d: skills=name:level(1-5),...", e->lineno);
      q.skills = sk;
    } else if (kv_is(kv, "max_wait") && ms >= 0) {
      q.max_wait_ms = ms;
    } else if (kv_is(kv, "escalate_before") && ms >= 0) {
      q.escalate_before_ms = ms;
    } else if (kv_is(kv, "escalate_boost") && v >= 0) {
      q.escalate_boost = (int)v;
    } else if (kv_is(kv, "on_max_wait") && kv->val_len == 4 &&
               !memcmp(kv->val, "exit", 4)) {
      q.max_wait_action = CR_MAXWAIT_EXIT;
    } else if (kv_is(kv, "on_max_wait") && kv->val_len == 6 &&
               !memcmp(kv->val, "report", 6)) {
      q.max_wait_action = CR_MAXWAIT_REPORT;
    } else if (kv_is(kv, "offer_timeout") && ms >= 0) {
      q.offer_timeout_ms = ms;
    } else if (kv_is(kv, "wrapup") && ms >= 0) {
      q.wrapup_ms = ms;
    } else {
      AFAIL(CR_EINVAL, "line %d: bad or unknown queue option %.*s=",
            e->lineno, (int)kv->key_len, kv->key);
    }
  }
  int rc = cr_router_queue_add(cr_engine_router(en), e->name,
                               strlen(e->name), &q, now);
  if (rc)
    AFAIL(rc, "line %d: queue %s: %s (%s)", e->lineno, e->name,
          cr_strerror(rc), cr_router_errmsg(cr_engine_router(en)));
  return 0;
}

/* field NAME check=digits:6-10|text:3-200|email|callback he=.. en=.. */
static int field_spec(const ecf_entry *f, cr_field_spec *fs,
                      cr_lang_text *prompts, char *err, size_t cap) {
  memset(fs, 0, sizeof *fs);
  fs->name = f->name, fs->name_len = strlen(f->name);
  fs->prompt = prompts;
  fs->nprompt = lang_texts(f->kv, f->nkv, NULL, prompts,
                           CR_ENGINE_MAX_TEXTS);
  const crs_kv *ck = ecf_find(f->kv, f->nkv, "check");
  fs->pattern = CR_PATTERN_NONEMPTY;
  if (!ck)
    return 0;
  const char *v = ck->val;
  size_t n = ck->val_len, at = 0;
  if (n >= 6 && !memcmp(v, "digits", 6))
    fs->pattern = CR_PATTERN_DIGITS, at = 6;
  else if (n >= 4 && !memcmp(v, "text", 4))
    fs->pattern = CR_PATTERN_NONEMPTY, at = 4;
  else if (n == 5 && !memcmp(v, "email", 5))
    fs->pattern = CR_PATTERN_EMAIL, at = 5;
  else if (n == 8 && !memcmp(v, "callback", 8))
    fs->pattern = CR_PATTERN_CALLBACK, at = 8;
  else
    AFAIL(CR_EINVAL, "line %d: check=digits|text[:MIN-MAX]|email|callback",
          f->lineno);
  if (at < n) {
    const char *dash = memchr(v + at, '-', n - at);
    long lo = dash && v[at] == ':'
                  ? ecf_long(v + at + 1, (size_t)(dash - v - at - 1))
                  : -1;
    long hi = dash ? ecf_long(dash + 1, (size_t)(v + n - dash - 1)) : -1;
    if (lo < 0 || hi < lo)
      AFAIL(CR_EINVAL, "line %d: check=%.*s: lengths as :MIN-MAX",
            f->lineno, (int)n, v);
    fs->min_len = (uint32_t)lo, fs->max_len = (uint32_t)hi;
  }
  return 0;
}

static const char *const policy_words[] = {
    "answer", "action", "collect", "handoff", "human", "emergency", "end"};

static int set_policy(const ecf_config *c, cr_engine *en,
                      const ecf_entry *e, char *err, size_t cap) {
  cr_intent_policy p;
  cr_engine_policy_init(&p);
  cr_lang_text text[CR_ENGINE_MAX_TEXTS], title[CR_ENGINE_MAX_TEXTS];
  cr_lang_text prompts[CR_ENGINE_MAX_FIELDS][CR_ENGINE_MAX_TEXTS];
  cr_field_spec fs[CR_ENGINE_MAX_FIELDS];
  cr_skill_level sk[CR_ROUTER_MAX_STEP_SKILLS];
  const crs_kv *kd = ecf_find(e->kv, e->nkv, "do");
  p.kind = -1;
  for (int k = 0; kd && k < 7; k++)
    if (kd->val_len == strlen(policy_words[k]) &&
        !memcmp(kd->val, policy_words[k], kd->val_len))
      p.kind = k;
  if (p.kind < 0)
    AFAIL(CR_EINVAL, "line %d: do=answer|action|collect|handoff|human|"
          "emergency|end", e->lineno);
  p.ntext = lang_texts(e->kv, e->nkv, NULL, text, CR_ENGINE_MAX_TEXTS);
  p.text = text;
  p.ntitle = lang_texts(e->kv, e->nkv, "title_", title, CR_ENGINE_MAX_TEXTS);
  p.title = title;
  for (size_t j = 0; j < e->nkv; j++) {
    const crs_kv *kv = &e->kv[j];
    long v = ecf_long(kv->val, kv->val_len);
    if (kv_is(kv, "action")) {
      p.action = kv->val, p.action_len = kv->val_len;
    } else if (kv_is(kv, "queue")) {
      p.queue = kv->val, p.queue_len = kv->val_len;
    } else if (kv_is(kv, "priority") && v >= 0) {
      p.priority = (int)v;
    } else if (kv_is(kv, "skills")) {
      if (skills_of(kv, sk, CR_ROUTER_MAX_STEP_SKILLS, &p.nskills))
        AFAIL(CR_EINVAL, "line %d: skills=name:level(1-5),...", e->lineno);
      p.skills = sk;
    } else if (kv_is(kv, "fields")) {
      for (size_t i = 0; i < kv->val_len;) {
        size_t k = i;
        while (k < kv->val_len && kv->val[k] != ',')
          k++;
        const ecf_entry *f = NULL;
        for (size_t x = 0; x < c->n && !f; x++)
          if (c->e[x].kind == ECF_FIELD &&
              strlen(c->e[x].name) == k - i &&
              !memcmp(c->e[x].name, kv->val + i, k - i))
            f = &c->e[x];
        if (!f)
          AFAIL(CR_EINVAL, "line %d: no field line for '%.*s'", e->lineno,
                (int)(k - i), kv->val + i);
        if (p.nfields == CR_ENGINE_MAX_FIELDS)
          AFAIL(CR_EINVAL, "line %d: too many fields", e->lineno);
        if (field_spec(f, &fs[p.nfields], prompts[p.nfields], err, cap))
          return CR_EINVAL;
        p.nfields++;
        i = k + 1;
      }
      p.fields = fs;
    } else if (!kv_is(kv, "do") && !is_lang_key(kv->key, kv->key_len) &&
               !(kv->key_len > 6 && !memcmp(kv->key, "title_", 6))) {
      AFAIL(CR_EINVAL, "line %d: bad or unknown intent option %.*s=",
            e->lineno, (int)kv->key_len, kv->key);
    }
  }
  int rc = cr_engine_set_policy(en, e->name, strlen(e->name), &p);
  if (rc)
    AFAIL(rc, "line %d: intent %s: %s (%s)", e->lineno, e->name,
          cr_strerror(rc), cr_engine_errmsg(en));
  return 0;
}

static int add_rule(cr_engine *en, const ecf_entry *e, char *err,
                    size_t cap) {
  cr_engine_rule r;
  cr_engine_rule_init(&r);
  cr_skill_level sk[CR_ROUTER_MAX_STEP_SKILLS];
  if (e->nkv != 1)
    AFAIL(CR_EINVAL, "line %d: a rule has one condition key=value (write "
          "two rules for two)", e->lineno);
  r.key = e->kv[0].key, r.key_len = e->kv[0].key_len;
  r.value = e->kv[0].val, r.value_len = e->kv[0].val_len;
  for (size_t j = 0; j < e->neff; j++) {
    const crs_kv *kv = &e->eff[j];
    const char *v = kv->val;
    size_t n = kv->val_len;
    int plus = n && v[0] == '+';
    long x = ecf_long(v + plus, n - (size_t)plus);
    if (kv_is(kv, "queue")) {
      r.queue = v, r.queue_len = n;
    } else if (kv_is(kv, "skills")) {
      if (skills_of(kv, sk, CR_ROUTER_MAX_STEP_SKILLS, &r.nskills))
        AFAIL(CR_EINVAL, "line %d: skills=name:level(1-5),...", e->lineno);
      r.skills = sk;
    } else if (kv_is(kv, "priority") && plus && x >= 0) {
      r.priority_add = (int)x;
    } else if (kv_is(kv, "handoff") && (x == 0 || x == 1)) {
      r.handoff = (int)x;
    } else if (kv_is(kv, "stop") && (x == 0 || x == 1)) {
      r.stop = (int)x;
    } else {
      AFAIL(CR_EINVAL, "line %d: rule effects are queue=Q skills=s:l "
            "priority=+N handoff=0|1 stop=0|1", e->lineno);
    }
  }
  int rc = cr_engine_add_rule(en, &r);
  if (rc)
    AFAIL(rc, "line %d: rule %s: %s (%s)", e->lineno, e->name,
          cr_strerror(rc), cr_engine_errmsg(en));
  return 0;
}

static const char *const text_words[CR_TEXT_COUNT] = {
    "clarify", "handoff", "after_hours", "no_agents", "invalid",
    "action_failed", "anything_else"};

static int set_texts(cr_engine *en, const ecf_entry *e, char *err,
                     size_t cap) {
  int kind = -1;
  for (int k = 0; k < CR_TEXT_COUNT; k++)
    if (!strcmp(e->name, text_words[k]))
      kind = k;
  if (kind < 0)
    AFAIL(CR_EINVAL, "line %d: text is clarify, handoff, after_hours, "
          "no_agents, invalid, action_failed or anything_else", e->lineno);
  for (size_t j = 0; j < e->nkv; j++) {
    const crs_kv *kv = &e->kv[j];
    if (!is_lang_key(kv->key, kv->key_len))
      AFAIL(CR_EINVAL, "line %d: text keys are languages (he=, en=)",
            e->lineno);
    int rc = cr_engine_set_text(en, kind, kv->key, kv->key_len, kv->val,
                                kv->val_len);
    if (rc)
      AFAIL(rc, "line %d: text %s: %s", e->lineno, e->name, cr_strerror(rc));
  }
  return 0;
}

static int configure(const ecf_config *c, cr_engine *en, int64_t now,
                     char *err, size_t cap) {
  for (size_t i = 0; i < c->n; i++) {
    const ecf_entry *e = &c->e[i];
    int rc = 0;
    if (e->kind == ECF_QUEUE)
      rc = add_queue(en, e, now, err, cap);
    else if (e->kind == ECF_INTENT)
      rc = set_policy(c, en, e, err, cap);
    else if (e->kind == ECF_RULE)
      rc = add_rule(en, e, err, cap);
    else if (e->kind == ECF_TEXT)
      rc = set_texts(en, e, err, cap);
    if (rc)
      return rc;
  }
  cr_open_interval iv[sizeof c->iv / sizeof *c->iv];
  for (size_t i = 0; i < c->niv; i++)
    iv[i].day = c->iv[i].day, iv[i].open_min = c->iv[i].open_min,
    iv[i].close_min = c->iv[i].close_min;
  int rc = cr_engine_set_hours(en, iv, c->niv);
  if (rc)
    AFAIL(rc, "hours: %s (%s)", cr_strerror(rc), cr_engine_errmsg(en));
  return 0;
}

int ecf_engine_new(const ecf_config *c, cr_intent_model *model,
                   const cr_mem *mem, int64_t origin_ms, cr_engine **out,
                   char *err, size_t cap) {
  cr_engine_config cfg;
  cr_router_config rc;
  cr_engine_config_init(&cfg);
  cr_router_config_init(&rc);
  if (apply_options(c, &cfg, &rc, err, cap))
    return CR_EINVAL;
  cfg.router = &rc;
  cfg.utc_offset_min = ecf_utc_offset_min(c, origin_ms);
  cr_engine *en;
  int r = cr_engine_new(&en, mem, model, &cfg);
  if (r)
    AFAIL(r, "engine: %s", cr_strerror(r));
  r = configure(c, en, origin_ms, err, cap);
  if (r) {
    cr_engine_del(en);
    return r;
  }
  *out = en;
  return 0;
}

static int add_tsv(cr_intent_trainer *t, const char *dir, const char *name,
                   char *err, size_t cap) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    AFAIL(CR_ENOTFOUND, "%s: cannot open", path);
  size_t n = 0, c = 1 << 16;
  char *b = malloc(c);
  for (size_t k; b && (k = fread(b + n, 1, c - n, f)) > 0;) {
    n += k;
    if (n == c) {
      char *nb = realloc(b, c *= 2);
      if (!nb)
        free(b);
      b = nb;
    }
  }
  fclose(f);
  if (!b)
    AFAIL(CR_ENOMEM, "%s: out of memory", path);
  int rc = cr_intent_trainer_add_tsv(t, b, n);
  free(b);
  if (rc)
    AFAIL(rc, "%s: %s", path, cr_intent_trainer_errmsg(t));
  return 0;
}

int ecf_train_demo(const char *dir, cr_intent_model **out, char *err,
                   size_t cap) {
  cr_intent_trainer *t;
  cr_intent_model *m = NULL;
  if (cap)
    err[0] = '\0';
  int rc = cr_intent_trainer_new(&t, NULL);
  if (rc)
    AFAIL(rc, "trainer: %s", cr_strerror(rc));
  if (!(rc = add_tsv(t, dir, "intents_he.tsv", err, cap)) &&
      !(rc = add_tsv(t, dir, "intents_en.tsv", err, cap)) &&
      !(rc = add_tsv(t, dir, "intents_oos.tsv", err, cap)) &&
      !(rc = cr_intent_trainer_set_oos_label(t, "oos", 3)) &&
      !(rc = cr_intent_trainer_set_min_df(t, 1)) &&
      !(rc = cr_intent_train(t, &m)))
    /* The demo set has its own fraud intent (a different queue from
     * safety emergencies), so fraud words get their own rule label. */
    rc = cr_intent_model_add_builtin_rules_ex(m, "talk_to_human", 13,
                                              "emergency", 9,
                                              "fraud_report", 12);
  if (rc && !*err)
    snprintf(err, cap, "training: %s", cr_strerror(rc));
  cr_intent_trainer_del(t);
  if (rc) {
    cr_intent_model_del(m);
    return rc;
  }
  *out = m;
  return 0;
}
