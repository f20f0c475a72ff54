/* Conversation scripts for cr-replay (docs/replay.md), and the line lexer
 * that the demo engine configuration (engine_config.h) shares.
 *
 * Host-side code: this is where the file reading happens; the library
 * never does I/O. Everything here is plain C11 with malloc.
 *
 * SPDX-License-Identifier: MIT */
#ifndef CR_REPLAY_SCRIPT_H
#define CR_REPLAY_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

/* ---------- the lexer (one line -> tokens) ----------
 *
 * A line is split at blanks (space, tab) into tokens. A token is a bare
 * word, a quoted string "..." with escapes (\" \\ \n \t \r \uXXXX), or a
 * bare word glued to a quoted string (key="two words"). '#' at the start of
 * a token begins a comment that runs to the end of the line. The line must
 * be valid UTF-8; bare words may be any UTF-8 except blanks, '"' and
 * control characters. */

#define CRS_MAX_TOKENS 64

typedef struct crs_tok {
  char *s;      /* unescaped, NUL-terminated (owned by the crs_toks) */
  size_t len;
  int quoted;   /* any part of it was quoted */
  int eq;       /* index of the first '=' in its unquoted head, or -1:
                   then s[0..eq) is a key and s+eq+1 its value */
} crs_tok;

typedef struct crs_toks {
  crs_tok tok[CRS_MAX_TOKENS];
  size_t n;
  char *buf;    /* storage for every token's text */
} crs_toks;

/* Splits line[0..len) (no line end). 0 on success; -1 on a syntax error
 * with a sentence in err (cap bytes). Free with crs_toks_free() either
 * way. */
int crs_lex(const char *line, size_t len, crs_toks *out, char *err,
            size_t cap);
void crs_toks_free(crs_toks *t);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int crs_utf8_ok(const char *s, size_t len);

/* Parses a decimal number of seconds ("12", "1.5", "0.250") into ms
 * (rounded to the nearest ms). -1 for anything else or a value beyond
 * 10^12 s. */
int crs_parse_seconds(const char *s, int64_t *ms);

/* ---------- the script ---------- */

typedef enum crs_cmd {
  /* customer CONV ... */
  CRS_ARRIVE = 0,     /* customer C CHANNEL [profile] [k=v ...] */
  CRS_SAY,            /* customer C say "text" */
  CRS_SWITCH,         /* customer C switch CHANNEL */
  CRS_LEAVE,          /* customer C leave */
  /* agent AGENT ... */
  CRS_LOGIN,          /* agent A login skills=s:l,... capacity=ch:n,...
                         [total=N cost=ch:n,...] */
  CRS_LOGOUT,         /* agent A logout */
  CRS_AWAY,           /* agent A away ["reason"] */
  CRS_AVAILABLE,      /* agent A available */
  CRS_ACCEPT,         /* agent A accept C */
  CRS_REJECT,         /* agent A reject C */
  CRS_AGENT_SAY,      /* agent A say C "text" */
  CRS_STEP,           /* agent A step C ACTION */
  CRS_TRANSFER,       /* agent A transfer C [queue=Q] [agent=B] */
  CRS_CLOSE,          /* agent A close C [resolved=1|0] */
  CRS_WRAPUP_END,     /* agent A ready C: end C's wrap-up now */
  /* host reports */
  CRS_ACTION,         /* action C ok|fail ["detail"] */
  CRS_SURVEY,         /* survey C csat=N nps=N ces=N */
  CRS_END,            /* end C: the host ends a bot conversation */
  /* the tool itself */
  CRS_TICK,           /* tick: only advance the clock */
  CRS_SNAPSHOT,       /* snapshot: save, destroy, restore the engine */
  CRS_EXPECT,         /* expect WHAT ARGS... (checked by the tool) */
  CRS_CMD_COUNT
} crs_cmd;

/* One key=value of a line, pointing into the line's tokens. */
typedef struct crs_kv {
  const char *key;
  size_t key_len;
  const char *val;
  size_t val_len;
} crs_kv;

typedef struct crs_line {
  int lineno;
  int64_t t_ms;     /* ms from the script's origin */
  int cmd;          /* crs_cmd */
  const char *who;  /* conversation (customer/action/survey) or agent */
  const char *conv; /* agent commands: the conversation */
  const char *word; /* channel (ARRIVE, SWITCH), action name (STEP), ok or
                       fail (ACTION), what (EXPECT); NULL otherwise */
  const char *text; /* say text, away reason, action detail; NULL when
                       absent */
  size_t text_len;
  crs_kv kv[CRS_MAX_TOKENS];
  size_t nkv;
  /* EXPECT: the words after WHAT (bare or quoted, key=value kept whole) */
  const crs_tok *args;
  size_t nargs;
  crs_toks toks;    /* owns every string above */
} crs_line;

typedef struct crs_script {
  crs_line *line;
  size_t n, cap;
  /* `origin ISO-8601` directive: wall-clock time of t = 0 in Unix ms, or
   * INT64_MIN when the script did not say. */
  int64_t origin_ms;
} crs_script;

/* Parses a whole script. 0 on success; -1 on the first malformed line,
 * with "line N: why" in err. */
int crs_parse(const char *text, size_t len, crs_script *out, char *err,
              size_t cap);
void crs_free(crs_script *s);

/* The value of key in the line, or NULL. */
const crs_kv *crs_find(const crs_line *l, const char *key);
/* "customer", "say", ...: the name a command is written with. */
const char *crs_cmd_name(int cmd);

/* Parses "2026-11-22T10:00:00+02:00" (also "Z", or no seconds) into Unix
 * ms. -1 on a malformed stamp. */
int crs_parse_iso(const char *s, int64_t *ms);

#endif
