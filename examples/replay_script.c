/* Conversation scripts for cr-replay: lexer and parser (docs/replay.md).
 *
 * SPDX-License-Identifier: MIT */
#include "replay_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- UTF-8 ---------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  size_t k;
  unsigned min, cp;
  if (c >= 0xC2 && c <= 0xDF)
    k = 2, min = 0x80, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    k = 3, min = 0x800, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    k = 4, min = 0x10000, cp = c & 0x07;
  else
    return 0;
  if (n < k)
    return 0;
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return k;
}

int crs_utf8_ok(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t k = utf8_seq(p + i, len - i);
    if (!k)
      return 0;
    i += k;
  }
  return 1;
}

static size_t utf8_put(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  o[0] = (char)(0xE0 | (cp >> 12));
  o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[2] = (char)(0x80 | (cp & 0x3F));
  return 3;
}

/* ---------- lexer ---------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

#define LEX_FAIL(...)                                                        \
  do {                                                                       \
    snprintf(err, cap, __VA_ARGS__);                                         \
    return -1;                                                               \
  } while (0)

/* Reads a quoted string starting at line[*i] == '"', appending the
 * unescaped text at *o. */
static int lex_quoted(const char *line, size_t len, size_t *i, char **o,
                      char *err, size_t cap) {
  size_t j = *i + 1;
  for (;;) {
    if (j >= len)
      LEX_FAIL("unterminated string (column %zu)", *i + 1);
    char c = line[j];
    if (c == '"')
      break;
    if ((unsigned char)c < 0x20)
      LEX_FAIL("control character in a string (column %zu)", j + 1);
    if (c != '\\') {
      *(*o)++ = c;
      j++;
      continue;
    }
    if (j + 1 >= len)
      LEX_FAIL("unterminated string (column %zu)", *i + 1);
    char e = line[j + 1];
    j += 2;
    switch (e) {
    case '"': *(*o)++ = '"'; break;
    case '\\': *(*o)++ = '\\'; break;
    case 'n': *(*o)++ = '\n'; break;
    case 't': *(*o)++ = '\t'; break;
    case 'r': *(*o)++ = '\r'; break;
    case 'u': {
      unsigned cp = 0;
      for (int k = 0; k < 4; k++) {
        int h = j + (size_t)k < len ? hexval(line[j + (size_t)k]) : -1;
        if (h < 0)
          LEX_FAIL("\\u needs four hex digits (column %zu)", j - 1);
        cp = cp << 4 | (unsigned)h;
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        LEX_FAIL("\\u%04X is not allowed (column %zu)", cp, j - 1);
      *o += utf8_put(*o, cp);
      j += 4;
      break;
    }
    default:
      LEX_FAIL("unknown escape \\%c (column %zu)", e, j - 1);
    }
  }
  *i = j + 1;
  return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

int crs_lex(const char *line, size_t len, crs_toks *out, char *err,
            size_t cap) {
  memset(out, 0, sizeof *out);
  if (!crs_utf8_ok(line, len))
    LEX_FAIL("invalid UTF-8");
  /* Unescaping never lengthens text (\uXXXX: 6 bytes -> at most 3), so
   * len + one NUL per token is enough. */
  out->buf = malloc(len + CRS_MAX_TOKENS + 1);
  if (!out->buf)
    LEX_FAIL("out of memory");
  char *o = out->buf;
  size_t i = 0;
  for (;;) {
    while (i < len && is_blank(line[i]))
      i++;
    if (i >= len || line[i] == '#')
      break;
    if (out->n == CRS_MAX_TOKENS)
      LEX_FAIL("more than %d words", CRS_MAX_TOKENS);
    crs_tok *t = &out->tok[out->n++];
    t->s = o;
    t->eq = -1;
    int in_head = 1;
    while (i < len && !is_blank(line[i])) {
      char c = line[i];
      if (c == '"') {
        if (lex_quoted(line, len, &i, &o, err, cap))
          return -1;
        t->quoted = 1;
        in_head = 0;
        continue;
      }
      if ((unsigned char)c < 0x20 || c == 0x7F)
        LEX_FAIL("control character (column %zu)", i + 1);
      if (!in_head)
        LEX_FAIL("text after a closing quote (column %zu)", i + 1);
      if (c == '=' && t->eq < 0)
        t->eq = (int)(o - t->s);
      *o++ = c;
      i++;
    }
    t->len = (size_t)(o - t->s);
    *o++ = '\0';
  }
  return 0;
}

void crs_toks_free(crs_toks *t) {
  free(t->buf);
  t->buf = NULL;
  t->n = 0;
}

/* ---------- numbers and times ---------- */

int crs_parse_seconds(const char *s, int64_t *ms) {
  int64_t whole = 0, frac = 0;
  int digits = 0, fdigits = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (whole > 1000000000000LL)
      return -1;
    whole = whole * 10 + (*p - '0');
  }
  if (*p == '.') {
    p++;
    /* Keep four fractional digits, then round to ms. */
    for (; *p >= '0' && *p <= '9'; p++, fdigits++)
      if (fdigits < 4)
        frac = frac * 10 + (*p - '0');
    if (!fdigits)
      return -1;
    for (int k = fdigits; k < 4; k++)
      frac *= 10;
  }
  if (*p || !digits || whole > 1000000000000LL)
    return -1;
  *ms = whole * 1000 + (frac + 5) / 10;
  return 0;
}

static int num2(const char *s, int *v) {
  if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
    return -1;
  *v = (s[0] - '0') * 10 + (s[1] - '0');
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int crs_parse_iso(const char *s, int64_t *ms) {
  int y1, y2, mo, d, h, mi, sec = 0;
  size_t n = strlen(s);
  if (n < 16 || num2(s, &y1) || num2(s + 2, &y2) || s[4] != '-' ||
      num2(s + 5, &mo) || s[7] != '-' || num2(s + 8, &d) ||
      (s[10] != 'T' && s[10] != ' ') || num2(s + 11, &h) || s[13] != ':' ||
      num2(s + 14, &mi))
    return -1;
  const char *p = s + 16;
  if (*p == ':') {
    if (num2(p + 1, &sec))
      return -1;
    p += 3;
  }
  int off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (num2(p + 1, &oh) || p[3] != ':' || num2(p + 4, &om) || oh > 14 ||
        om > 59)
      return -1;
    off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 59)
    return -1;
  int64_t days = days_from_civil(y1 * 100 + y2, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - off * 60;
  *ms = secs * 1000;
  return 0;
}

/* ---------- the script ---------- */

static const char *const cmd_names[CRS_CMD_COUNT] = {
    "arrive", "say",    "switch",   "leave",  "login",  "logout", "away",
    "available", "accept", "reject", "say", "step", "transfer", "close",
    "ready",  "action", "survey",   "end",    "tick",   "snapshot",
    "expect"};

const char *crs_cmd_name(int cmd) {
  return cmd >= 0 && cmd < CRS_CMD_COUNT ? cmd_names[cmd] : NULL;
}

const crs_kv *crs_find(const crs_line *l, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < l->nkv; i++)
    if (l->kv[i].key_len == n && !memcmp(l->kv[i].key, key, n))
      return &l->kv[i];
  return NULL;
}

#define PFAIL(...)                                                           \
  do {                                                                       \
    snprintf(err, cap, __VA_ARGS__);                                         \
    return -1;                                                               \
  } while (0)

static int tok_is(const crs_tok *t, const char *w) {
  return !t->quoted && !strcmp(t->s, w);
}

/* Bare, non-empty, no '=' (an id or a keyword). */
static int tok_word(const crs_tok *t) {
  return !t->quoted && t->eq < 0 && t->len > 0;
}

/* Takes tokens [from, n) as key=value pairs, allowing `text_ok` of them to
 * be one quoted string (the line's text). */
static int take_rest(crs_line *l, size_t from, int text_ok, char *err,
                     size_t cap) {
  for (size_t i = from; i < l->toks.n; i++) {
    const crs_tok *t = &l->toks.tok[i];
    if (t->eq > 0) {
      crs_kv *kv = &l->kv[l->nkv++];
      kv->key = t->s, kv->key_len = (size_t)t->eq;
      kv->val = t->s + t->eq + 1, kv->val_len = t->len - (size_t)t->eq - 1;
      for (size_t k = 0; k + 1 < l->nkv; k++)
        if (l->kv[k].key_len == kv->key_len &&
            !memcmp(l->kv[k].key, kv->key, kv->key_len))
          PFAIL("%.*s= given twice", (int)kv->key_len, kv->key);
    } else if (t->quoted && text_ok && !l->text) {
      l->text = t->s, l->text_len = t->len;
    } else {
      PFAIL("unexpected '%s'%s", t->s,
            text_ok ? "" : " (expected key=value)");
    }
  }
  return 0;
}

static const char *const channel_words[] = {
    "voice", "chat", "whatsapp", "sms", "messenger", "email", "task",
    "webchat", "web", "call", "phone", NULL};

static int is_channel_word(const char *s) {
  for (int i = 0; channel_words[i]; i++)
    if (!strcmp(s, channel_words[i]))
      return 1;
  return 0;
}

/* customer C ... */
static int parse_customer(crs_line *l, char *err, size_t cap) {
  crs_tok *t = l->toks.tok;
  size_t n = l->toks.n;
  if (n < 4 || !tok_word(&t[2]) || !tok_word(&t[3]))
    PFAIL("expected: customer CONV CHANNEL|say|switch|leave ...");
  l->who = t[2].s;
  const char *v = t[3].s;
  if (is_channel_word(v)) {
    l->cmd = CRS_ARRIVE, l->word = v;
    size_t from = 4;
    if (n > 4 && tok_is(&t[4], "profile"))
      from = 5;
    return take_rest(l, from, 0, err, cap);
  }
  if (!strcmp(v, "say")) {
    l->cmd = CRS_SAY;
    if (n != 5 || !t[4].quoted || t[4].eq >= 0)
      PFAIL("expected: customer CONV say \"text\"");
    l->text = t[4].s, l->text_len = t[4].len;
    return 0;
  }
  if (!strcmp(v, "switch")) {
    l->cmd = CRS_SWITCH;
    if (n != 5 || !tok_word(&t[4]) || !is_channel_word(t[4].s))
      PFAIL("expected: customer CONV switch CHANNEL");
    l->word = t[4].s;
    return 0;
  }
  if (!strcmp(v, "leave")) {
    l->cmd = CRS_LEAVE;
    if (n != 4)
      PFAIL("expected: customer CONV leave");
    return 0;
  }
  PFAIL("unknown customer event '%s' (a channel, say, switch or leave)", v);
}

typedef struct agent_verb {
  const char *name;
  int cmd;
  int needs_conv; /* the word after the verb is a conversation */
  int word;       /* then a bare word (action name) */
  int text;       /* 0 no text, 1 optional, 2 required */
  int kv;         /* key=value allowed */
} agent_verb;

static const agent_verb agent_verbs[] = {
    {"login", CRS_LOGIN, 0, 0, 0, 1},
    {"logout", CRS_LOGOUT, 0, 0, 0, 0},
    {"away", CRS_AWAY, 0, 0, 1, 0},
    {"available", CRS_AVAILABLE, 0, 0, 0, 0},
    {"ready", CRS_WRAPUP_END, 1, 0, 0, 0},
    {"accept", CRS_ACCEPT, 1, 0, 0, 0},
    {"reject", CRS_REJECT, 1, 0, 0, 0},
    {"say", CRS_AGENT_SAY, 1, 0, 2, 0},
    {"step", CRS_STEP, 1, 1, 0, 1},
    {"transfer", CRS_TRANSFER, 1, 0, 0, 1},
    {"close", CRS_CLOSE, 1, 0, 0, 1},
};

static int parse_agent(crs_line *l, char *err, size_t cap) {
  crs_tok *t = l->toks.tok;
  size_t n = l->toks.n;
  if (n < 4 || !tok_word(&t[2]) || !tok_word(&t[3]))
    PFAIL("expected: agent AGENT VERB ...");
  l->who = t[2].s;
  const agent_verb *v = NULL;
  for (size_t i = 0; i < sizeof agent_verbs / sizeof *agent_verbs; i++)
    if (!strcmp(t[3].s, agent_verbs[i].name))
      v = &agent_verbs[i];
  if (!v)
    PFAIL("unknown agent verb '%s'", t[3].s);
  l->cmd = v->cmd;
  size_t at = 4;
  if (v->needs_conv) {
    if (n <= at || !tok_word(&t[at]))
      PFAIL("expected: agent AGENT %s CONV", v->name);
    l->conv = t[at++].s;
  }
  if (v->word) {
    if (n <= at || !tok_word(&t[at]))
      PFAIL("expected: agent AGENT %s CONV NAME", v->name);
    l->word = t[at++].s;
  }
  if (!v->kv && !v->text && n > at)
    PFAIL("unexpected '%s' after %s", t[at].s, v->name);
  if (!v->kv) {
    if (n > at + 1 || (n == at + 1 && (!t[at].quoted || t[at].eq >= 0)))
      PFAIL("expected: agent AGENT %s%s \"text\"", v->name,
            v->needs_conv ? " CONV" : "");
    if (n == at + 1)
      l->text = t[at].s, l->text_len = t[at].len;
  } else if (take_rest(l, at, v->text != 0, err, cap)) {
    return -1;
  }
  if (v->text == 2 && !l->text)
    PFAIL("expected: agent AGENT %s CONV \"text\"", v->name);
  return 0;
}

static int parse_action(crs_line *l, char *err, size_t cap) {
  crs_tok *t = l->toks.tok;
  size_t n = l->toks.n;
  if (n < 4 || n > 5 || !tok_word(&t[2]) ||
      !(tok_is(&t[3], "ok") || tok_is(&t[3], "fail")) ||
      (n == 5 && (!t[4].quoted || t[4].eq >= 0)))
    PFAIL("expected: action CONV ok|fail [\"detail\"]");
  l->cmd = CRS_ACTION, l->who = t[2].s, l->word = t[3].s;
  if (n == 5)
    l->text = t[4].s, l->text_len = t[4].len;
  return 0;
}

static int parse_survey(crs_line *l, char *err, size_t cap) {
  crs_tok *t = l->toks.tok;
  if (l->toks.n < 4 || !tok_word(&t[2]))
    PFAIL("expected: survey CONV csat=1..5 nps=0..10 ces=1..7");
  l->cmd = CRS_SURVEY, l->who = t[2].s;
  if (take_rest(l, 3, 0, err, cap))
    return -1;
  for (size_t i = 0; i < l->nkv; i++) {
    const crs_kv *kv = &l->kv[i];
    static const char *const keys[] = {"csat", "nps", "ces"};
    int ok = 0;
    for (int k = 0; k < 3; k++)
      ok |= kv->key_len == strlen(keys[k]) &&
            !memcmp(kv->key, keys[k], kv->key_len);
    if (!ok)
      PFAIL("unknown survey answer %.*s= (csat, nps, ces)",
            (int)kv->key_len, kv->key);
  }
  return 0;
}

static int parse_body(crs_line *l, char *err, size_t cap) {
  crs_tok *t = l->toks.tok;
  size_t n = l->toks.n;
  if (n < 2 || !tok_word(&t[1]))
    PFAIL("expected an event after the time");
  const char *w = t[1].s;
  if (!strcmp(w, "customer"))
    return parse_customer(l, err, cap);
  if (!strcmp(w, "agent"))
    return parse_agent(l, err, cap);
  if (!strcmp(w, "action"))
    return parse_action(l, err, cap);
  if (!strcmp(w, "survey"))
    return parse_survey(l, err, cap);
  if (!strcmp(w, "end")) {
    if (n != 3 || !tok_word(&t[2]))
      PFAIL("expected: end CONV");
    l->cmd = CRS_END, l->who = t[2].s;
    return 0;
  }
  if (!strcmp(w, "tick") || !strcmp(w, "snapshot")) {
    if (n != 2)
      PFAIL("'%s' takes no arguments", w);
    l->cmd = !strcmp(w, "tick") ? CRS_TICK : CRS_SNAPSHOT;
    return 0;
  }
  if (!strcmp(w, "expect")) {
    if (n < 3 || !tok_word(&t[2]))
      PFAIL("expected: expect WHAT ...");
    l->cmd = CRS_EXPECT, l->word = t[2].s;
    l->args = &t[3], l->nargs = n - 3;
    return 0;
  }
  PFAIL("unknown event '%s' (customer, agent, action, survey, end, tick, "
        "snapshot, expect)", w);
}

/* One non-blank line. prev_ms is the previous line's time. */
static int parse_line(crs_script *s, const char *p, size_t len, int lineno,
                      int64_t *prev_ms, char *err, size_t cap) {
  crs_line l;
  memset(&l, 0, sizeof l);
  l.lineno = lineno;
  char why[160];
  if (crs_lex(p, len, &l.toks, why, sizeof why)) {
    crs_toks_free(&l.toks);
    PFAIL("line %d: %s", lineno, why);
  }
  if (!l.toks.n) {
    crs_toks_free(&l.toks);
    return 0;
  }
  crs_tok *t0 = &l.toks.tok[0];
  if (tok_is(t0, "origin")) {
    int bad = l.toks.n != 2 || l.toks.tok[1].quoted ||
              crs_parse_iso(l.toks.tok[1].s, &s->origin_ms);
    crs_toks_free(&l.toks);
    if (bad)
      PFAIL("line %d: expected: origin 2026-11-22T10:00:00+02:00", lineno);
    if (s->n)
      PFAIL("line %d: origin must come before the first event", lineno);
    return 0;
  }
  /* "+1.5": relative to the previous line; an `expect` line without a
   * time is at the previous line's time. */
  int rel = !t0->quoted && t0->s[0] == '+';
  int64_t t = 0;
  if (tok_is(t0, "expect")) {
    /* shift the tokens right by one: a virtual "+0" */
    if (l.toks.n == CRS_MAX_TOKENS) {
      snprintf(why, sizeof why, "more than %d words", CRS_MAX_TOKENS);
      goto fail;
    }
    memmove(&l.toks.tok[1], &l.toks.tok[0], l.toks.n * sizeof *t0);
    l.toks.n++;
    t0->s = (char *)"+0", t0->len = 2, t0->quoted = 0, t0->eq = -1;
    rel = 1;
  }
  if (t0->quoted || crs_parse_seconds(t0->s + rel, &t)) {
    snprintf(why, sizeof why, "expected a time in seconds, got '%s'", t0->s);
    goto fail;
  }
  l.t_ms = rel ? *prev_ms + t : t;
  if (l.t_ms < *prev_ms) {
    snprintf(why, sizeof why, "time %s goes back (previous line at %.3f)",
             t0->s, (double)*prev_ms / 1000);
    goto fail;
  }
  if (parse_body(&l, why, sizeof why))
    goto fail;
  if (s->n == s->cap) {
    size_t nc = s->cap ? 2 * s->cap : 64;
    crs_line *nl = realloc(s->line, nc * sizeof *nl);
    if (!nl) {
      snprintf(why, sizeof why, "out of memory");
      goto fail;
    }
    s->line = nl, s->cap = nc;
  }
  *prev_ms = l.t_ms;
  s->line[s->n] = l;
  /* args / kv point into toks, which moved with the struct copy: fix the
   * one pointer that refers to the tok array itself. */
  if (l.args)
    s->line[s->n].args = &s->line[s->n].toks.tok[l.args - l.toks.tok];
  s->n++;
  return 0;
fail:
  crs_toks_free(&l.toks);
  PFAIL("line %d: %s", lineno, why);
}

int crs_parse(const char *text, size_t len, crs_script *out, char *err,
              size_t cap) {
  memset(out, 0, sizeof *out);
  out->origin_ms = INT64_MIN;
  int64_t prev = 0;
  int lineno = 0;
  size_t i = 0;
  /* A UTF-8 byte-order mark is tolerated at the very start. */
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
    i = 3;
  while (i < len) {
    size_t e = i;
    while (e < len && text[e] != '\n')
      e++;
    size_t l = e - i;
    if (l && text[i + l - 1] == '\r')
      l--;
    lineno++;
    if (memchr(text + i, '\0', l)) {
      snprintf(err, cap, "line %d: NUL byte", lineno);
      crs_free(out);
      return -1;
    }
    if (parse_line(out, text + i, l, lineno, &prev, err, cap)) {
      crs_free(out);
      return -1;
    }
    i = e + 1;
  }
  return 0;
}

void crs_free(crs_script *s) {
  for (size_t i = 0; i < s->n; i++)
    crs_toks_free(&s->line[i].toks);
  free(s->line);
  memset(s, 0, sizeof *s);
}
