/* The demo engine configuration: a small line-oriented text format for the
 * bot policy, queues, business rules and opening hours (docs/replay.md,
 * "Engine configuration"), parsed on the host side and applied to a
 * cr_engine. examples/data/demo_bot.conf is the demo bot for the 27
 * intents of the demo set; cr-replay, the simulator and the demo read it.
 *
 * Every line is `KIND NAME key=value ...` (the lexer of replay_script.h:
 * quoted values, escapes, '#' comments). Rules put their conditions before
 * a `->` and their effects after it.
 *
 * SPDX-License-Identifier: MIT */
#ifndef CR_ENGINE_CONFIG_H
#define CR_ENGINE_CONFIG_H

#include "convroute.h"
#include "replay_script.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ecf_kind {
  ECF_SET = 0, /* set NAME=VALUE ...: engine options (NAME is not used) */
  ECF_HOURS,   /* hours DAYS HH:MM-HH:MM */
  ECF_TIMEZONE,/* timezone Asia/Jerusalem | UTC | +02:00 */
  ECF_QUEUE,   /* queue ID skills=s:l,... max_wait=S escalate_before=S ... */
  ECF_FIELD,   /* field NAME check=... he="prompt" en="prompt" */
  ECF_INTENT,  /* intent LABEL do=KIND ... */
  ECF_RULE,    /* rule NAME k=v ... -> queue=Q skills=s:l priority=+N */
  ECF_TEXT,    /* text KEY he="..." en="..." (bot sentences) */
  ECF_KIND_COUNT
} ecf_kind;

typedef struct ecf_entry {
  int kind;       /* ecf_kind */
  int lineno;
  const char *name;
  crs_kv kv[CRS_MAX_TOKENS];   /* before "->" for a rule */
  size_t nkv;
  crs_kv eff[CRS_MAX_TOKENS];  /* rules: after "->" */
  size_t neff;
  const char *arg2;            /* hours: the HH:MM-HH:MM word */
  crs_toks toks;
} ecf_entry;

typedef struct ecf_config {
  ecf_entry *e;
  size_t n, cap;
  /* Opening hours, minute of week (Sunday 00:00 = 0) on the config's
   * timezone: bit m of `open` set when minute-of-week m is open. */
  uint8_t open[7 * 24 * 60 / 8];
  int has_hours;
  /* The same hours as intervals (day 0 = Sunday, minutes since local
   * midnight, [open, close)), in the order given. */
  struct ecf_interval {
    int day, open_min, close_min;
  } iv[7 * 4];
  size_t niv;
  int tz_israel;  /* timezone Asia/Jerusalem (IST/IDT rules) */
  int tz_offset_min; /* otherwise a fixed offset from UTC */
} ecf_config;

/* Parses config text. -1 with "line N: why" in err. */
int ecf_parse(const char *text, size_t len, ecf_config *out, char *err,
              size_t cap);
int ecf_load(const char *path, ecf_config *out, char *err, size_t cap);
void ecf_free(ecf_config *c);

/* The value of key in kv[0..n), or NULL. */
const crs_kv *ecf_find(const crs_kv *kv, size_t n, const char *key);
/* The first entry of a kind with that name (NULL name: any), or NULL. */
const ecf_entry *ecf_get(const ecf_config *c, int kind, const char *name);

/* "billing:4,he:5" -> names and levels (names point into s, not
 * NUL-terminated). Returns the count, or -1 on a malformed list, more than
 * max entries, or a level outside lo..hi. */
typedef struct ecf_pair {
  const char *name;
  size_t len;
  long v;
} ecf_pair;
int ecf_pairs(const char *s, size_t len, ecf_pair *out, int max, long lo,
              long hi);
/* A non-negative decimal integer (or -1). */
long ecf_long(const char *s, size_t len);

/* Whether the contact centre is open at Unix time ms, by the hours and
 * timezone lines (always open when the config has no hours line). */
int ecf_is_open(const ecf_config *c, int64_t unix_ms);
/* Offset from UTC in minutes at Unix time ms (Israel: +120 or +180). */
int ecf_utc_offset_min(const ecf_config *c, int64_t unix_ms);
/* The next Unix ms after `unix_ms` at which is_open changes, or INT64_MAX
 * when it never does (searched a week ahead, minute by minute). */
int64_t ecf_next_change(const ecf_config *c, int64_t unix_ms);

/* Makes an engine configured by c: engine options (set lines), queues on
 * its router, intent policies (every intent line must name a label of the
 * model), business rules, texts and opening hours. utc_offset_min is the
 * timezone's offset at origin_ms (the engine takes one fixed offset).
 * Callbacks are not set. 0, or a CR_E code with the line in err. */
int ecf_engine_new(const ecf_config *c, cr_intent_model *model,
                   const cr_mem *mem, int64_t origin_ms, cr_engine **out,
                   char *err, size_t cap);

/* Trains the demo intent model from DIR/intents_he.tsv, intents_en.tsv
 * and intents_oos.tsv (label "oos" = out of scope; min_df 1, as chosen on
 * the validation split in examples/data/README.md) and adds the built-in
 * human / emergency rules under talk_to_human and emergency. */
int ecf_train_demo(const char *dir, cr_intent_model **out, char *err,
                   size_t cap);

#endif
