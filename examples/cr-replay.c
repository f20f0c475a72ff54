/* cr-replay: runs a conversation script through a convroute engine and
 * prints every routing decision (the engine's journal) and the final KPIs.
 *
 *   cr-replay [--config FILE] [--data DIR | --model FILE]
 *             [--save-model FILE] [--json] [--quiet] [--roundtrip]
 *             [--check] SCRIPT.crs
 *
 * The script grammar is in docs/replay.md: one event a line with a time in
 * seconds from the script's origin ("1.5 customer c1 say \"...\""). The
 * tool owns the clock: before each line it runs every engine deadline due
 * up to that line's time, one tick per deadline (cr_engine_next_timeout),
 * so a timeout fires at its exact time, not at the next line's.
 *
 * Exit status: 0 all lines ran and every `expect` held; 1 an expectation
 * failed (each failure is reported with its line number); 2 a usage
 * error, an unreadable or malformed script or configuration (with the
 * line number), or a model that cannot be trained or loaded.
 *
 * SPDX-License-Identifier: MIT */
#include "convroute.h"
#include "demo_model.h"
#include "engine_config.h"
#include "replay_script.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---------- small helpers ---------- */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cr-replay: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0, k;
  char *b = malloc(cap);
  while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
    n += k;
    if (n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb)
        free(b);
      b = nb;
    }
  }
  fclose(f);
  if (!b)
    fprintf(stderr, "cr-replay: %s: out of memory\n", path);
  *len = n;
  return b;
}

/* A JSON string (RFC 8259): quotes, backslash and control characters
 * escaped; UTF-8 passes through. */
static void json_str(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; s && i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c == '\r')
      fputs("\\r", f);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isnan(v) || isinf(v))
    fputs("null", f);
  else
    fprintf(f, "%.6g", v);
}

/* ---------- what the tool remembers (for `expect`) ---------- */

/* A key/value list of owned strings: an offer's or alert's context,
 * flattened ("reason" -> "REQUESTED", "field.account" -> "12345678"). */
typedef struct kvlist {
  char **k, **v;
  size_t n, cap;
} kvlist;

static void kv_clear(kvlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->k[i]), free(l->v[i]);
  l->n = 0;
}

static void kv_free(kvlist *l) {
  kv_clear(l);
  free(l->k), free(l->v);
  memset(l, 0, sizeof *l);
}

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) {
    fprintf(stderr, "cr-replay: out of memory\n");
    exit(2);
  }
  if (n)
    memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void kv_add(kvlist *l, const char *k, const char *v, size_t vn) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->k = realloc(l->k, l->cap * sizeof *l->k);
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->k || !l->v) {
      fprintf(stderr, "cr-replay: out of memory\n");
      exit(2);
    }
  }
  l->k[l->n] = dupn(k, strlen(k));
  l->v[l->n++] = dupn(v ? v : "", v ? vn : 0);
}

static const char *kv_get(const kvlist *l, const char *k) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->k[i], k))
      return l->v[i];
  return NULL;
}

/* Growable text buffer. */
typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap)
      b->cap = b->cap ? 2 * b->cap : 256;
    b->s = realloc(b->s, b->cap);
    if (!b->s) {
      fprintf(stderr, "cr-replay: out of memory\n");
      exit(2);
    }
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

typedef struct conv {
  char *id;
  int channel;           /* arrival channel */
  char *profile;         /* "k=v;k=v" for the first message */
  char *customer;
  int started;           /* the first message went in */
  int state;             /* last state from the journal, -1 before */
  char *queue, *agent;   /* last seen in the journal */
  sbuf said;             /* texts sent in the current window, '\n' */
  char *action, *action_args, *action_agent; /* last action asked */
  int actions;
  kvlist offer;          /* the last offer's context */
  char *offer_agent;
  int offers, cancels, alerts;
  kvlist alert;          /* the last alert's context */
} conv;

/* A journal entry, kept for `expect event`. */
typedef struct jentry {
  uint64_t seq;
  int type, from, to, reason;
  char *conv, *agent, *queue, *intent, *text;
} jentry;

typedef struct replay {
  const char *config_path;
  const char *data_dir;
  const char *model_path;
  const char *save_model;
  const char *script_path;
  int json, quiet, roundtrip, check;

  crs_script script;
  ecf_config cfg;
  cr_intent_model *model;
  cr_engine *eng;
  int64_t origin;        /* Unix ms of t = 0 */
  int64_t now;           /* engine time (Unix ms) */
  int lineno;            /* the line being run */

  conv *convs;
  size_t nconvs, capconvs;
  jentry *journal;
  size_t njournal, capjournal, window; /* window: first entry of the
                                          current event line */
  int last_rc, last_rc_line, rc_pending;
  const char *tool_msg; /* why the tool itself refused a line, or NULL */
  int failures;
  uint64_t tick_calls;
} replay;

static double rel_s(const replay *r, int64_t t) {
  return (double)(t - r->origin) / 1000.0;
}

static conv *conv_find(replay *r, const char *id, size_t n) {
  for (size_t i = 0; i < r->nconvs; i++)
    if (strlen(r->convs[i].id) == n && !memcmp(r->convs[i].id, id, n))
      return &r->convs[i];
  return NULL;
}

static conv *conv_get(replay *r, const char *id, size_t n) {
  conv *c = conv_find(r, id, n);
  if (c)
    return c;
  if (r->nconvs == r->capconvs) {
    r->capconvs = r->capconvs ? 2 * r->capconvs : 16;
    r->convs = realloc(r->convs, r->capconvs * sizeof *r->convs);
    if (!r->convs) {
      fprintf(stderr, "cr-replay: out of memory\n");
      exit(2);
    }
  }
  c = &r->convs[r->nconvs++];
  memset(c, 0, sizeof *c);
  c->id = dupn(id, n);
  c->channel = CR_CHANNEL_CHAT;
  c->state = -1;
  return c;
}

static void setstr(char **dst, const char *s, size_t n) {
  free(*dst);
  *dst = s && n ? dupn(s, n) : NULL;
}

/* ---------- output ---------- */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(replay *r, int lineno, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->failures++;
  if (r->json) {
    printf("{\"kind\":\"fail\",\"line\":%d,\"message\":", lineno);
    json_str(stdout, msg, strlen(msg));
    printf("}\n");
  } else {
    printf("FAIL line %d: %s\n", lineno, msg);
  }
  fprintf(stderr, "%s:%d: expectation failed: %s\n", r->script_path, lineno,
          msg);
}

static const char *nz(const char *s) { return s ? s : "?"; }

static void print_context(const replay *r, const kvlist *ctx) {
  if (r->json) {
    fputc('{', stdout);
    for (size_t i = 0; i < ctx->n; i++) {
      if (i)
        fputc(',', stdout);
      json_str(stdout, ctx->k[i], strlen(ctx->k[i]));
      fputc(':', stdout);
      json_str(stdout, ctx->v[i], strlen(ctx->v[i]));
    }
    fputc('}', stdout);
    return;
  }
  for (size_t i = 0; i < ctx->n; i++)
    if (strcmp(ctx->k[i], "transcript.text"))
      printf(" %s=%s", ctx->k[i], ctx->v[i]);
}

/* ---------- engine callbacks ---------- */

static int cb_send(const char *cid, size_t cl, int channel, const char *lang,
                   size_t ll, const char *text, size_t tl, void *ud) {
  replay *r = ud;
  conv *c = conv_get(r, cid, cl);
  sb_add(&c->said, text, tl);
  sb_add(&c->said, "\n", 1);
  if (r->quiet)
    return 0;
  if (r->json) {
    printf("{\"kind\":\"send\",\"t\":%.3f,\"conv\":", rel_s(r, r->now));
    json_str(stdout, cid, cl);
    printf(",\"channel\":\"%s\",\"lang\":", nz(cr_channel_name(channel)));
    json_str(stdout, lang, ll);
    printf(",\"text\":");
    json_str(stdout, text, tl);
    printf("}\n");
  } else {
    printf("%10.3f  >> %.*s [%s/%.*s] %.*s\n", rel_s(r, r->now), (int)cl,
           cid, nz(cr_channel_name(channel)), (int)ll, lang, (int)tl, text);
  }
  return 0;
}

static void flatten(kvlist *o, const cr_engine_context *x) {
  char b[64];
  kv_clear(o);
  const char *st = nz(cr_engine_state_name(x->state));
  kv_add(o, "state", st, strlen(st));
  const char *rs = nz(cr_engine_reason_name(x->reason));
  kv_add(o, "reason", rs, strlen(rs));
  kv_add(o, "queue", x->queue, x->queue_len);
  snprintf(b, sizeof b, "%d", x->priority);
  kv_add(o, "priority", b, strlen(b));
  kv_add(o, "intent", x->intent, x->intent_len);
  kv_add(o, "customer", x->customer, x->customer_len);
  kv_add(o, "lang", x->lang, x->lang_len);
  const char *ch = nz(cr_channel_name(x->channel));
  kv_add(o, "channel", ch, strlen(ch));
  sbuf s = {0};
  for (size_t i = 0; i < x->nchannels; i++) {
    if (i)
      sb_str(&s, ",");
    sb_str(&s, nz(cr_channel_name(x->channels[i])));
  }
  kv_add(o, "channels", s.s, s.n);
  s.n = 0;
  for (size_t i = 0; i < x->nintents; i++) {
    if (i)
      sb_str(&s, ",");
    sb_add(&s, x->intents[i].label, x->intents[i].label_len);
  }
  kv_add(o, "intents", s.s, s.n);
  for (size_t i = 0; i < x->nfields; i++) {
    snprintf(b, sizeof b, "field.%.*s", (int)(x->fields[i].key_len < 50
                                              ? x->fields[i].key_len : 50),
             x->fields[i].key);
    kv_add(o, b, x->fields[i].value, x->fields[i].value_len);
  }
  for (size_t i = 0; i < x->nprofile; i++) {
    snprintf(b, sizeof b, "profile.%.*s", (int)(x->profile[i].key_len < 50
                                                ? x->profile[i].key_len : 50),
             x->profile[i].key);
    kv_add(o, b, x->profile[i].value, x->profile[i].value_len);
  }
  snprintf(b, sizeof b, "%zu", x->ntranscript);
  kv_add(o, "transcript", b, strlen(b));
  snprintf(b, sizeof b, "%u", (unsigned)x->dropped);
  kv_add(o, "dropped", b, strlen(b));
  s.n = 0;
  static const char *const who[3] = {"customer", "bot", "agent"};
  for (size_t i = 0; i < x->ntranscript; i++) {
    const cr_engine_line *ln = &x->transcript[i];
    sb_str(&s, ln->from >= 0 && ln->from < 3 ? who[ln->from] : "?");
    sb_str(&s, "/");
    sb_str(&s, nz(cr_channel_name(ln->channel)));
    sb_str(&s, ": ");
    sb_add(&s, ln->text, ln->text_len);
    sb_str(&s, "\n");
  }
  kv_add(o, "transcript.text", s.s, s.n);
  free(s.s);
  kv_add(o, "prev_agent", x->prev_agent, x->prev_agent_len);
  snprintf(b, sizeof b, "%u", (unsigned)x->transfers);
  kv_add(o, "transfers", b, strlen(b));
}

static int cb_offer(const cr_engine_context *x, const char *agent, size_t al,
                    void *ud) {
  replay *r = ud;
  conv *c = conv_get(r, x->conv, x->conv_len);
  flatten(&c->offer, x);
  setstr(&c->offer_agent, agent, al);
  c->offers++;
  if (r->quiet)
    return 0;
  if (r->json) {
    printf("{\"kind\":\"offer\",\"t\":%.3f,\"conv\":", rel_s(r, r->now));
    json_str(stdout, x->conv, x->conv_len);
    printf(",\"agent\":");
    json_str(stdout, agent, al);
    printf(",\"context\":");
    print_context(r, &c->offer);
    printf("}\n");
  } else {
    printf("%10.3f  ** offer %.*s -> %.*s:", rel_s(r, r->now),
           (int)x->conv_len, x->conv, (int)al, agent);
    print_context(r, &c->offer);
    printf("\n");
  }
  return 0;
}

static int cb_cancel(const char *cid, size_t cl, const char *agent,
                     size_t al, void *ud) {
  replay *r = ud;
  conv_get(r, cid, cl)->cancels++;
  if (r->quiet)
    return 0;
  if (r->json) {
    printf("{\"kind\":\"cancel_offer\",\"t\":%.3f,\"conv\":",
           rel_s(r, r->now));
    json_str(stdout, cid, cl);
    printf(",\"agent\":");
    json_str(stdout, agent, al);
    printf("}\n");
  } else {
    printf("%10.3f  ** offer of %.*s to %.*s withdrawn\n", rel_s(r, r->now),
           (int)cl, cid, (int)al, agent);
  }
  return 0;
}

static int cb_action(const char *cid, size_t cl, const char *act, size_t acl,
                     const char *args, size_t argl, const char *agent,
                     size_t al, void *ud) {
  replay *r = ud;
  conv *c = conv_get(r, cid, cl);
  setstr(&c->action, act, acl);
  setstr(&c->action_args, args, argl);
  setstr(&c->action_agent, agent, al);
  c->actions++;
  if (r->quiet)
    return 0;
  if (r->json) {
    printf("{\"kind\":\"action\",\"t\":%.3f,\"conv\":", rel_s(r, r->now));
    json_str(stdout, cid, cl);
    printf(",\"action\":");
    json_str(stdout, act, acl);
    printf(",\"args\":");
    json_str(stdout, args, argl);
    printf(",\"agent\":");
    if (al)
      json_str(stdout, agent, al);
    else
      printf("null");
    printf("}\n");
  } else {
    printf("%10.3f  ** action %.*s for %.*s (%.*s)%s%.*s\n", rel_s(r, r->now),
           (int)acl, act, (int)cl, cid, (int)argl, args,
           al ? " step of " : "", (int)al, agent);
  }
  return 0;
}

/* CR_PATTERN_CALLBACK fields of the demo: an Israeli ID number (teudat
 * zehut), 9 digits with the Luhn-style check digit of the Population
 * Registry (digits weighted 1,2,1,2,...; products above 9 have 9
 * subtracted; the sum is a multiple of 10). Anything else: valid when it
 * has a non-blank character. */
static int cb_validate(const char *cid, size_t cl, const char *field,
                       size_t fl, const char *v, size_t vl, void *ud) {
  (void)cid, (void)cl, (void)ud;
  if (fl == 2 && !memcmp(field, "id", 2)) {
    if (vl < 5 || vl > 9)
      return 1;
    int sum = 0;
    for (size_t i = 0; i < 9; i++) {
      size_t pad = 9 - vl;
      int d = i < pad ? 0 : v[i - pad] - '0';
      if (d < 0 || d > 9)
        return 1;
      d *= (int)(i % 2) + 1;
      sum += d > 9 ? d - 9 : d;
    }
    return sum % 10 ? 1 : 0;
  }
  for (size_t i = 0; i < vl; i++)
    if (v[i] != ' ')
      return 0;
  return 1;
}

static int cb_alert(const cr_engine_context *x, void *ud) {
  replay *r = ud;
  conv *c = conv_get(r, x->conv, x->conv_len);
  flatten(&c->alert, x);
  c->alerts++;
  if (r->quiet)
    return 0;
  if (r->json) {
    printf("{\"kind\":\"alert\",\"t\":%.3f,\"conv\":", rel_s(r, r->now));
    json_str(stdout, x->conv, x->conv_len);
    printf(",\"context\":");
    print_context(r, &c->alert);
    printf("}\n");
  } else {
    printf("%10.3f  !! ALERT %.*s:", rel_s(r, r->now), (int)x->conv_len,
           x->conv);
    print_context(r, &c->alert);
    printf("\n");
  }
  return 0;
}

static int cb_event(const cr_engine_event *ev, void *ud) {
  replay *r = ud;
  conv *c = ev->conv_len ? conv_get(r, ev->conv, ev->conv_len) : NULL;
  if (c && ev->to >= 0 && ev->type != CR_EV_SURVEY)
    c->state = ev->to;
  if (c && ev->queue_len)
    setstr(&c->queue, ev->queue, ev->queue_len);
  if (c && ev->agent_len)
    setstr(&c->agent, ev->agent, ev->agent_len);
  if (r->njournal == r->capjournal) {
    r->capjournal = r->capjournal ? 2 * r->capjournal : 256;
    r->journal = realloc(r->journal, r->capjournal * sizeof *r->journal);
    if (!r->journal) {
      fprintf(stderr, "cr-replay: out of memory\n");
      exit(2);
    }
  }
  jentry *j = &r->journal[r->njournal++];
  memset(j, 0, sizeof *j);
  j->seq = ev->seq, j->type = ev->type, j->from = ev->from, j->to = ev->to;
  j->reason = ev->reason;
  setstr(&j->conv, ev->conv, ev->conv_len);
  setstr(&j->agent, ev->agent, ev->agent_len);
  setstr(&j->queue, ev->queue, ev->queue_len);
  setstr(&j->intent, ev->intent, ev->intent_len);
  setstr(&j->text, ev->text, ev->text_len);
  if (r->quiet)
    return 0;
  const char *tn = nz(cr_engine_event_name(ev->type));
  const char *fs = nz(cr_engine_state_name(ev->from));
  const char *ts = nz(cr_engine_state_name(ev->to));
  const char *rs = nz(cr_engine_reason_name(ev->reason));
  if (r->json) {
    printf("{\"kind\":\"event\",\"seq\":%llu,\"t\":%.3f,\"time_ms\":%lld,"
           "\"type\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"%s\","
           "\"channel\":",
           (unsigned long long)ev->seq, rel_s(r, ev->time),
           (long long)ev->time, tn, fs, ts, rs);
    if (cr_channel_name(ev->channel))
      printf("\"%s\"", cr_channel_name(ev->channel));
    else
      printf("null");
    const struct {
      const char *k, *s;
      size_t n;
    } f[] = {{"conv", ev->conv, ev->conv_len},
             {"agent", ev->agent, ev->agent_len},
             {"queue", ev->queue, ev->queue_len},
             {"intent", ev->intent, ev->intent_len},
             {"text", ev->text, ev->text_len}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
      printf(",\"%s\":", f[i].k);
      if (f[i].n)
        json_str(stdout, f[i].s, f[i].n);
      else
        printf("null");
    }
    printf(",\"confidence\":");
    json_num(stdout, ev->intent_len ? ev->confidence : NAN);
    printf("}\n");
    return 0;
  }
  printf("%10.3f  #%-4llu %-8.*s %-13s %s -> %s", rel_s(r, ev->time),
         (unsigned long long)ev->seq, (int)ev->conv_len, ev->conv, tn, fs,
         ts);
  if (ev->reason)
    printf("  reason=%s", rs);
  if (ev->agent_len)
    printf("  agent=%.*s", (int)ev->agent_len, ev->agent);
  if (ev->queue_len)
    printf("  queue=%.*s", (int)ev->queue_len, ev->queue);
  if (ev->intent_len)
    printf("  intent=%.*s(%.2f)", (int)ev->intent_len, ev->intent,
           ev->confidence);
  if (ev->text_len)
    printf("  \"%.*s\"", (int)ev->text_len, ev->text);
  printf("\n");
  return 0;
}

static void set_callbacks(replay *r) {
  cr_engine_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.send = cb_send;
  cb.offer = cb_offer;
  cb.cancel_offer = cb_cancel;
  cb.action = cb_action;
  cb.validate = cb_validate;
  cb.alert = cb_alert;
  cb.event = cb_event;
  cb.user_data = r;
  cr_engine_set_callbacks(r->eng, &cb);
}

/* ---------- KPIs ---------- */

typedef struct kpi_field {
  const char *name;
  size_t off;
  int dbl;
} kpi_field;

#define KU(f) {#f, offsetof(cr_metrics_report, f), 0}
#define KD(f) {#f, offsetof(cr_metrics_report, f), 1}
static const kpi_field kpi_fields[] = {
    KU(contacts),      KU(answered),      KU(abandoned),
    KU(bot_handled),   KU(bot_contained), KU(escalated),
    KU(transferred),   KU(resolved),      KU(unresolved),
    KU(csat_n),        KU(nps_n),         KU(ces_n),
    KD(csat_mean),     KD(csat_top2),     KD(nps),
    KD(ces_mean),      KD(service_level), KD(asa_s),
    KD(abandon_rate),  KD(aht_s),         KD(containment),
    KD(transfer_rate), KD(resolution_rate), KD(cost)};
#define NKPI (sizeof kpi_fields / sizeof *kpi_fields)

static double kpi_value(const cr_metrics_report *rep, const kpi_field *f) {
  const char *p = (const char *)rep + f->off;
  if (f->dbl) {
    double d;
    memcpy(&d, p, sizeof d);
    return d;
  }
  uint64_t u;
  memcpy(&u, p, sizeof u);
  return (double)u;
}

static void print_report(const replay *r, const char *scope, const char *key,
                         size_t keylen, const cr_metrics_report *rep) {
  if (r->json) {
    printf("{\"kind\":\"kpi\",\"scope\":\"%s\"", scope);
    if (key) {
      printf(",\"key\":");
      json_str(stdout, key, keylen);
    }
    for (size_t i = 0; i < NKPI; i++) {
      printf(",\"%s\":", kpi_fields[i].name);
      json_num(stdout, kpi_value(rep, &kpi_fields[i]));
    }
    printf("}\n");
    return;
  }
  printf("KPI %s%s%.*s:", scope, key ? " " : "", key ? (int)keylen : 0,
         key ? key : "");
  if (key) {
    /* a breakdown: the few figures a supervisor reads per group */
    static const char *const few[] = {"contacts", "answered", "abandoned",
                                      "csat_mean", "aht_s", "containment"};
    for (size_t k = 0; k < sizeof few / sizeof *few; k++) {
      const kpi_field *f = NULL;
      for (size_t i = 0; i < NKPI; i++)
        if (!strcmp(kpi_fields[i].name, few[k]))
          f = &kpi_fields[i];
      double v = kpi_value(rep, f);
      if (!isnan(v))
        printf(" %s=%.4g", f->name, v);
    }
    printf("\n");
    return;
  }
  for (size_t i = 0; i < NKPI; i++) {
    double v = kpi_value(rep, &kpi_fields[i]);
    if (!kpi_fields[i].dbl)
      printf(" %s=%.0f", kpi_fields[i].name, v);
    else if (!isnan(v))
      printf(" %s=%.4g", kpi_fields[i].name, v);
  }
  printf("\n");
}

static const char *const dim_words[CR_METRICS_DIM_COUNT] = {
    "channel", "queue", "agent", "intent"};

static void print_kpis(replay *r) {
  cr_metrics *m = cr_engine_metrics(r->eng);
  cr_metrics_report rep;
  if (!m || cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &rep))
    return;
  print_report(r, "total", NULL, 0, &rep);
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    for (uint32_t id = 1; id <= cr_metrics_key_count(m, d); id++) {
      const char *s;
      size_t n;
      if (!cr_metrics_key_name(m, d, id, &s, &n) &&
          !cr_metrics_report_get(m, d, id, &rep))
        print_report(r, dim_words[d], s, n, &rep);
    }
}

/* ---------- expectations ---------- */

static int streq(const char *a, const char *b) {
  return a && b && !strcmp(a, b);
}

static int strcaseeq(const char *a, const char *b) {
  if (!a || !b)
    return 0;
  for (; *a && *b; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
    char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
    if (x != y)
      return 0;
  }
  return *a == *b;
}

/* A value check: "a,b" in a list value is matched exactly; numbers with a
 * relative tolerance of 1e-6; "null" matches NAN; otherwise exact. */
static int value_ok(const char *want, double got) {
  if (!strcmp(want, "null"))
    return isnan(got);
  char *end;
  double w = strtod(want, &end);
  if (*end || isnan(got))
    return 0;
  return fabs(w - got) <= 1e-6 * (fabs(w) > 1 ? fabs(w) : 1);
}

static const kpi_field *kpi_named(const char *k, size_t n) {
  for (size_t i = 0; i < NKPI; i++)
    if (strlen(kpi_fields[i].name) == n && !memcmp(kpi_fields[i].name, k, n))
      return &kpi_fields[i];
  return NULL;
}

static void expect_kpi(replay *r, const crs_line *l) {
  cr_metrics *m = cr_engine_metrics(r->eng);
  int dim = CR_METRICS_TOTAL;
  uint32_t id = 0;
  size_t i = 0;
  char msg[512];
  if (l->nargs && l->args[0].eq > 0) {
    for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
      if (!strncmp(l->args[0].s, dim_words[d], (size_t)l->args[0].eq) &&
          strlen(dim_words[d]) == (size_t)l->args[0].eq)
        dim = d;
    if (dim != CR_METRICS_TOTAL) {
      const char *v = l->args[0].s + l->args[0].eq + 1;
      if (cr_metrics_key(m, dim, v, strlen(v), &id)) {
        fail(r, l->lineno, "kpi: no such %s '%s'", dim_words[dim], v);
        return;
      }
      i = 1;
    }
  }
  cr_metrics_report rep;
  int rc = cr_metrics_report_get(m, dim, id, &rep);
  if (rc) {
    fail(r, l->lineno, "kpi: %s", cr_strerror(rc));
    return;
  }
  for (; i < l->nargs; i++) {
    const crs_tok *t = &l->args[i];
    const kpi_field *f = t->eq > 0 ? kpi_named(t->s, (size_t)t->eq) : NULL;
    if (!f) {
      fail(r, l->lineno, "kpi: unknown figure '%s'", t->s);
      continue;
    }
    double got = kpi_value(&rep, f);
    if (!value_ok(t->s + t->eq + 1, got)) {
      snprintf(msg, sizeof msg, "%.6g", got);
      fail(r, l->lineno, "kpi %s, got %s", t->s, isnan(got) ? "null" : msg);
    }
  }
}

/* expect event NAME [CONV] [key=value ...] (and no-event): over the
 * journal entries of the current window. */
static int jentry_match(const jentry *j, const crs_line *l, int type,
                        const char *cid) {
  if (j->type != type || (cid && !streq(j->conv, cid)))
    return 0;
  for (size_t i = 1; i < l->nargs; i++) {
    const crs_tok *t = &l->args[i];
    if (t->eq <= 0)
      continue;
    const char *v = t->s + t->eq + 1;
    size_t k = (size_t)t->eq;
#define KEY(w) (k == strlen(w) && !strncmp(t->s, w, k))
    if (KEY("agent") ? !streq(j->agent, v)
        : KEY("queue") ? !streq(j->queue, v)
        : KEY("intent") ? !streq(j->intent, v)
        : KEY("text") ? !(j->text && strstr(j->text, v))
        : KEY("reason") ? !strcaseeq(cr_engine_reason_name(j->reason), v)
        : KEY("from") ? !strcaseeq(cr_engine_state_name(j->from), v)
        : KEY("to") ? !strcaseeq(cr_engine_state_name(j->to), v)
                    : 1)
      return 0;
#undef KEY
  }
  return 1;
}

static void expect_event(replay *r, const crs_line *l, int negate) {
  if (!l->nargs || l->args[0].eq >= 0) {
    fail(r, l->lineno, "expect %s NAME [CONV] [key=value ...]",
         negate ? "no-event" : "event");
    return;
  }
  int type = -1;
  for (int k = 0; k < CR_EV_COUNT; k++)
    if (strcaseeq(cr_engine_event_name(k), l->args[0].s))
      type = k;
  if (type < 0) {
    fail(r, l->lineno, "unknown event type '%s'", l->args[0].s);
    return;
  }
  const char *cid = l->nargs > 1 && l->args[1].eq < 0 ? l->args[1].s : NULL;
  int found = 0;
  for (size_t i = r->window; i < r->njournal && !found; i++)
    found = jentry_match(&r->journal[i], l, type, cid);
  if (found == negate)
    fail(r, l->lineno, negate ? "unexpected event %s %s"
                              : "no event %s %s since the last event line",
         l->args[0].s, cid);
}

static void expect_context(replay *r, const crs_line *l, const kvlist *ctx,
                           int have, const char *what) {
  if (!have) {
    fail(r, l->lineno, "no %s for %s", what, l->args[0].s);
    return;
  }
  for (size_t i = 1; i < l->nargs; i++) {
    const crs_tok *t = &l->args[i];
    if (t->eq <= 0) {
      fail(r, l->lineno, "%s: expected key=value, got '%s'", what, t->s);
      continue;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", t->eq, t->s);
    const char *want = t->s + t->eq + 1;
    if (!strcmp(key, "has")) {
      const char *tt = kv_get(ctx, "transcript.text");
      if (!tt || !strstr(tt, want))
        fail(r, l->lineno, "the transcript does not contain \"%s\"", want);
      continue;
    }
    const char *got = kv_get(ctx, key);
    if (!got)
      got = "";
    if (strcmp(got, want) && !strcaseeq(got, want)) {
      char msg[600];
      snprintf(msg, sizeof msg, "%s=%s", key, want);
      fail(r, l->lineno, "%s, got \"%s\"", msg, got);
    }
  }
}

/* expect conv C key=value: the engine's own view (cr_engine_conv_info). */
static void expect_conv(replay *r, const crs_line *l, const char *cid) {
  cr_engine_summary s;
  int rc = cr_engine_conv_info(r->eng, cid, strlen(cid), &s);
  if (rc) {
    fail(r, l->lineno, "conv_info(%s): %s", cid, cr_errname(rc));
    return;
  }
  for (size_t i = 1; i < l->nargs; i++) {
    const crs_tok *t = &l->args[i];
    const char *v = t->eq > 0 ? t->s + t->eq + 1 : "";
    size_t k = t->eq > 0 ? (size_t)t->eq : 0;
    char got[300];
#define KEY(w) (k == strlen(w) && !strncmp(t->s, w, k))
    if (KEY("state"))
      snprintf(got, sizeof got, "%s", nz(cr_engine_state_name(s.state)));
    else if (KEY("channel"))
      snprintf(got, sizeof got, "%s", nz(cr_channel_name(s.channel)));
    else if (KEY("reason"))
      snprintf(got, sizeof got, "%s", nz(cr_engine_reason_name(s.reason)));
    else if (KEY("unclear"))
      snprintf(got, sizeof got, "%u", (unsigned)s.unclear);
    else if (KEY("fields"))
      snprintf(got, sizeof got, "%u", (unsigned)s.nfields);
    else if (KEY("messages"))
      snprintf(got, sizeof got, "%u", (unsigned)s.messages);
    else if (KEY("transfers"))
      snprintf(got, sizeof got, "%u", (unsigned)s.transfers);
    else if (KEY("agent"))
      snprintf(got, sizeof got, "%.*s", (int)s.agent_len,
               s.agent ? s.agent : "");
    else if (KEY("queue"))
      snprintf(got, sizeof got, "%.*s", (int)s.queue_len,
               s.queue ? s.queue : "");
    else if (KEY("lang"))
      snprintf(got, sizeof got, "%.*s", (int)s.lang_len, s.lang ? s.lang : "");
    else if (KEY("waited"))
      snprintf(got, sizeof got, "%.3f",
               s.queued_at == CR_TIME_NONE ? -1.0
                                           : (double)(r->now - s.queued_at) /
                                                 1000);
    else {
      fail(r, l->lineno, "conv: unknown key '%s'", t->s);
      continue;
    }
#undef KEY
    if (!strcaseeq(got, v)) {
      char msg[400];
      snprintf(msg, sizeof msg, "conv %s: %s", cid, t->s);
      fail(r, l->lineno, "%s, got %s", msg, got);
    }
  }
}

static void expect(replay *r, const crs_line *l) {
  const char *w = l->word;
  const char *cid = l->nargs && l->args[0].eq < 0 ? l->args[0].s : NULL;
  const char *a1 = l->nargs > 1 ? l->args[1].s : "";
  conv *c = cid ? conv_find(r, cid, strlen(cid)) : NULL;
  if (!strcmp(w, "rc")) {
    if (!cid) {
      fail(r, l->lineno, "expect rc CODE: code missing");
    } else if (!strcaseeq(cr_errname(r->last_rc), cid)) {
      char msg[64];
      snprintf(msg, sizeof msg, "%d", r->last_rc_line);
      fail(r, l->lineno, "line %s returned %s", msg, cr_errname(r->last_rc));
    }
    r->rc_pending = 0;
    return;
  }
  if (!strcmp(w, "kpi")) {
    expect_kpi(r, l);
    return;
  }
  if (!strcmp(w, "event") || !strcmp(w, "no-event")) {
    expect_event(r, l, w[0] == 'n');
    return;
  }
  if (!strcmp(w, "count")) {
    char got[32];
    snprintf(got, sizeof got, "%zu", cr_engine_conv_count(r->eng));
    if (!cid || strcmp(got, cid))
      fail(r, l->lineno, "live conversations: %s (wanted %s)", got, cid);
    return;
  }
  if (!cid) {
    fail(r, l->lineno, "expect %s CONV ...", w);
    return;
  }
  if (!strcmp(w, "conv")) {
    expect_conv(r, l, cid);
    return;
  }
  if (!c) {
    fail(r, l->lineno, "conversation %s never seen", cid);
    return;
  }
  if (!strcmp(w, "state")) {
    const char *got = c->state >= 0 ? cr_engine_state_name(c->state) : "none";
    if (!strcaseeq(got, a1))
      fail(r, l->lineno, "state %s, wanted %s", got, a1);
    /* a live conversation: the engine's own view must agree */
    cr_engine_summary s;
    if (!cr_engine_conv_info(r->eng, cid, strlen(cid), &s) &&
        s.state != c->state)
      fail(r, l->lineno, "journal says %s but conv_info says %s", got,
           cr_engine_state_name(s.state));
  } else if (!strcmp(w, "said")) {
    if (!a1 || !c->said.s || !strstr(c->said.s, a1))
      fail(r, l->lineno, "nothing said to the customer contains \"%s\" "
           "(said: %s)", a1, c->said.s ? c->said.s : "nothing");
  } else if (!strcmp(w, "offer")) {
    if (!c->offers || !streq(c->offer_agent, a1))
      fail(r, l->lineno, "last offer went to %s, wanted %s",
           c->offers ? c->offer_agent : "nobody", a1);
  } else if (!strcmp(w, "context")) {
    expect_context(r, l, &c->offer, c->offers, "offer context");
  } else if (!strcmp(w, "alert")) {
    expect_context(r, l, &c->alert, c->alerts, "alert");
  } else if (!strcmp(w, "action")) {
    if (!c->actions || !streq(c->action, a1))
      fail(r, l->lineno, "last action asked: %s, wanted %s",
           c->actions ? c->action : "none", a1);
    for (size_t i = 2; i < l->nargs; i++)
      if (l->args[i].eq == 4 && !strncmp(l->args[i].s, "args", 4) &&
          !streq(c->action_args, l->args[i].s + 5))
        fail(r, l->lineno, "action args \"%s\", wanted \"%s\"",
             c->action_args ? c->action_args : "", l->args[i].s + 5);
  } else if (!strcmp(w, "queue") || !strcmp(w, "agent")) {
    const char *got = w[0] == 'q' ? c->queue : c->agent;
    if (!streq(got, a1))
      fail(r, l->lineno, "last journal value %s, wanted %s",
           got ? got : "none", a1);
  } else {
    fail(r, l->lineno, "unknown expectation '%s'", w);
  }
}

/* ---------- running a line ---------- */

/* Runs every engine deadline due up to `to`, each at its own time. */
static void advance(replay *r, int64_t to) {
  int64_t last = INT64_MIN;
  int same = 0;
  for (;;) {
    cr_time d = cr_engine_next_timeout(r->eng);
    if (d == CR_TIME_NEVER || d > to)
      break;
    if (d < r->now)
      d = r->now;
    /* A deadline that does not move after its tick would loop forever:
     * report it (an engine bug) and go on. */
    if (d == last && ++same > 8) {
      char b[64];
      snprintf(b, sizeof b, "%.3f", rel_s(r, d));
      fail(r, r->lineno, "engine deadline stuck at t=%s after ticking", b);
      break;
    }
    if (d != last)
      same = 0;
    last = d;
    r->now = d;
    int rc = cr_engine_tick(r->eng, d);
    r->tick_calls++;
    if (rc < 0)
      fail(r, r->lineno, "cr_engine_tick: %s (%s)", cr_errname(rc),
           cr_engine_errmsg(r->eng));
  }
  if (to > r->now)
    r->now = to;
}

/* skills=a:4,b:5 capacity=chat:3,voice:1 total=100 cost=voice:100,...
 * wrapup=S */
static int agent_login(replay *r, const crs_line *l) {
  cr_agent_config ac;
  cr_agent_config_init(&ac);
  cr_skill_level sk[32];
  ecf_pair p[32];
  for (size_t i = 0; i < l->nkv; i++) {
    const crs_kv *kv = &l->kv[i];
    int n;
#define IS(w) (kv->key_len == strlen(w) && !memcmp(kv->key, w, kv->key_len))
    if (IS("skills")) {
      n = ecf_pairs(kv->val, kv->val_len, p, 32, 1, 5);
      if (n < 0)
        return -1;
      for (int k = 0; k < n; k++)
        sk[k].skill = p[k].name, sk[k].skill_len = p[k].len,
        sk[k].level = (int)p[k].v;
      ac.skills = sk, ac.nskills = (size_t)n;
    } else if (IS("capacity") || IS("cost")) {
      n = ecf_pairs(kv->val, kv->val_len, p, 32, 0, 1000000);
      if (n < 0)
        return -1;
      for (int k = 0; k < n; k++) {
        int ch = cr_channel_parse(p[k].name, p[k].len);
        if (ch < 0)
          return -1;
        if (IS("cost"))
          ac.cost[ch] = (uint32_t)p[k].v;
        else
          ac.max_per_channel[ch] = (uint32_t)p[k].v;
      }
    } else if (IS("total")) {
      long v = ecf_long(kv->val, kv->val_len);
      if (v < 0)
        return -1;
      ac.total_capacity = (uint32_t)v;
    } else if (IS("wrapup")) {
      char b[32];
      int64_t ms;
      snprintf(b, sizeof b, "%.*s", (int)kv->val_len, kv->val);
      if (crs_parse_seconds(b, &ms))
        return -1;
      ac.wrapup_ms = ms;
    } else {
      return -1;
    }
#undef IS
  }
  cr_router *rt = cr_engine_router(r->eng);
  const char *a = l->who;
  int rc = cr_router_agent_add(rt, a, strlen(a), &ac, r->now);
  if (rc == CR_EEXIST)
    rc = cr_router_agent_update(rt, a, strlen(a), &ac, r->now);
  if (!rc)
    rc = cr_router_agent_set_status(rt, a, strlen(a), CR_AGENT_AVAILABLE,
                                    NULL, 0, r->now);
  return rc;
}

/* An answer as written (a value out of its scale goes to the engine as
 * is: refusing it is the engine's job); CR_METRICS_NONE when absent. */
static int survey_answer(const crs_line *l, const char *k) {
  const crs_kv *kv = crs_find(l, k);
  if (!kv)
    return CR_METRICS_NONE;
  long v = ecf_long(kv->val, kv->val_len);
  return v < 0 ? -1 : v > 1000 ? 1000 : (int)v;
}

static int do_snapshot(replay *r) {
  void *buf = NULL;
  size_t len = 0;
  char err[512];
  int rc = cr_engine_snapshot(r->eng, &buf, &len);
  if (rc)
    return rc;
  cr_engine *fresh;
  rc = ecf_engine_new(&r->cfg, r->model, NULL, r->origin, &fresh, err,
                      sizeof err);
  if (!rc) {
    rc = cr_engine_restore(fresh, buf, len);
    if (rc)
      cr_engine_del(fresh);
  }
  cr_mem_free(NULL, buf);
  if (rc)
    return rc;
  cr_engine_del(r->eng);
  r->eng = fresh;
  set_callbacks(r);
  return 0;
}

static int run_event(replay *r, const crs_line *l) {
  cr_engine *e = r->eng;
  const char *w = l->who, *cv = l->conv;
  size_t wl = w ? strlen(w) : 0, cl = cv ? strlen(cv) : 0;
  int64_t now = r->now;
  cr_router *rt = cr_engine_router(e);
  switch (l->cmd) {
  case CRS_ARRIVE: {
    conv *c = conv_get(r, w, wl);
    if (c->started) {
      r->tool_msg = "this conversation already started in the script";
      return CR_EEXIST;
    }
    c->channel = cr_channel_parse(l->word, strlen(l->word));
    sbuf p = {0};
    for (size_t i = 0; i < l->nkv; i++) {
      const crs_kv *kv = &l->kv[i];
      if (kv->key_len == 8 && !memcmp(kv->key, "customer", 8)) {
        setstr(&c->customer, kv->val, kv->val_len);
        continue;
      }
      if (p.n)
        sb_str(&p, ";");
      sb_add(&p, kv->key, kv->key_len);
      sb_str(&p, "=");
      sb_add(&p, kv->val, kv->val_len);
    }
    free(c->profile);
    c->profile = p.s;
    if (!r->quiet && !r->json)
      printf("%10.3f  -- %s arrives on %s (%s)\n", rel_s(r, now), w, l->word,
             c->profile ? c->profile : "no profile");
    return 0;
  }
  case CRS_SAY: {
    conv *c = conv_get(r, w, wl);
    const char *cust = c->customer ? c->customer : w;
    const char *prof = c->started ? NULL : c->profile;
    c->started = 1;
    return cr_engine_customer_message(e, w, wl, cust, strlen(cust),
                                      c->channel, l->text, l->text_len, prof,
                                      prof ? strlen(prof) : 0, now);
  }
  case CRS_SWITCH:
    return cr_engine_channel_switch(
        e, w, wl, cr_channel_parse(l->word, strlen(l->word)), now);
  case CRS_LEAVE:
    return cr_engine_abandon(e, w, wl, now);
  case CRS_LOGIN: {
    int rc = agent_login(r, l);
    if (rc == -1)
      r->tool_msg = "login: skills=S:L(1-5),... capacity=CH:N,... "
                    "total=N cost=CH:N,... wrapup=S";
    if (rc > 0 || rc < -1)
      r->tool_msg = cr_router_errmsg(rt);
    return rc == -1 ? CR_EINVAL : rc;
  }
  case CRS_LOGOUT:
    return cr_router_agent_set_status(rt, w, wl, CR_AGENT_OFFLINE, NULL, 0,
                                      now);
  case CRS_AWAY:
    return cr_router_agent_set_status(rt, w, wl, CR_AGENT_AWAY, l->text,
                                      l->text_len, now);
  case CRS_AVAILABLE:
    return cr_router_agent_set_status(rt, w, wl, CR_AGENT_AVAILABLE, NULL, 0,
                                      now);
  case CRS_ACCEPT:
    return cr_engine_agent_accept(e, cv, cl, w, wl, now);
  case CRS_REJECT:
    return cr_engine_agent_reject(e, cv, cl, w, wl, now);
  case CRS_AGENT_SAY:
    return cr_engine_agent_reply(e, cv, cl, w, wl, l->text, l->text_len, now);
  case CRS_STEP: {
    sbuf a = {0};
    for (size_t i = 0; i < l->nkv; i++) {
      if (a.n)
        sb_str(&a, ";");
      sb_add(&a, l->kv[i].key, l->kv[i].key_len);
      sb_str(&a, "=");
      sb_add(&a, l->kv[i].val, l->kv[i].val_len);
    }
    int rc = cr_engine_agent_step(e, cv, cl, w, wl, l->word, strlen(l->word),
                                  a.s, a.n, now);
    free(a.s);
    return rc;
  }
  case CRS_TRANSFER: {
    const crs_kv *q = crs_find(l, "queue"), *to = crs_find(l, "agent");
    if (l->nkv != (size_t)(!!q + !!to) || !l->nkv) {
      r->tool_msg = "transfer: queue=Q and/or agent=A";
      return CR_EINVAL;
    }
    return cr_engine_agent_transfer(e, cv, cl, w, wl, q ? q->val : NULL,
                                    q ? q->val_len : 0, to ? to->val : NULL,
                                    to ? to->val_len : 0, now);
  }
  case CRS_CLOSE: {
    const crs_kv *kv = crs_find(l, "resolved");
    int res = CR_METRICS_NONE;
    if (kv && kv->val_len == 1 && (kv->val[0] == '0' || kv->val[0] == '1'))
      res = kv->val[0] - '0';
    else if (kv || l->nkv > (kv ? 1u : 0u)) {
      r->tool_msg = "close: resolved=1 or resolved=0";
      return CR_EINVAL;
    }
    return cr_engine_agent_close(e, cv, cl, w, wl, res, now);
  }
  case CRS_WRAPUP_END:
    return cr_engine_wrapup_done(e, cv, cl, now);
  case CRS_ACTION:
    return cr_engine_action_result(e, w, wl, l->word[0] == 'o', l->text,
                                   l->text_len, now);
  case CRS_SURVEY:
    return cr_engine_survey(e, w, wl, survey_answer(l, "csat"),
                            survey_answer(l, "nps"), survey_answer(l, "ces"),
                            now);
  case CRS_END:
    return cr_engine_end(e, w, wl, now);
  case CRS_TICK:
    return 0;
  case CRS_SNAPSHOT:
    return do_snapshot(r);
  }
  return CR_EINVAL;
}

static void report_rc(replay *r, const crs_line *l, int rc) {
  /* The tool's own refusal, the router's (agent status lines) or the
   * engine's sentence. */
  const char *m = r->tool_msg ? r->tool_msg
                  : l->cmd >= CRS_LOGIN && l->cmd <= CRS_AVAILABLE
                      ? cr_router_errmsg(cr_engine_router(r->eng))
                      : cr_engine_errmsg(r->eng);
  if (r->json) {
    printf("{\"kind\":\"error\",\"line\":%d,\"t\":%.3f,\"code\":\"%s\","
           "\"message\":",
           l->lineno, rel_s(r, r->now), cr_errname(rc));
    json_str(stdout, m, strlen(m));
    printf("}\n");
  } else {
    printf("%10.3f  line %d: %s %s: %s (%s)\n", rel_s(r, r->now), l->lineno,
           crs_cmd_name(l->cmd), l->who ? l->who : "", cr_errname(rc), m);
  }
}

static void run_line(replay *r, const crs_line *l) {
  r->lineno = l->lineno;
  int is_expect = l->cmd == CRS_EXPECT;
  if (r->rc_pending &&
      !(is_expect && !strcmp(l->word, "rc"))) {
    char b[16];
    snprintf(b, sizeof b, "%d", r->last_rc_line);
    fail(r, r->last_rc_line, "line %s failed with %s and no `expect rc` "
         "follows", b, cr_errname(r->last_rc));
    r->rc_pending = 0;
  }
  if (!is_expect) {
    r->window = r->njournal;
    for (size_t i = 0; i < r->nconvs; i++)
      r->convs[i].said.n = 0;
    if (r->convs)
      for (size_t i = 0; i < r->nconvs; i++)
        if (r->convs[i].said.s)
          r->convs[i].said.s[0] = '\0';
  }
  advance(r, r->origin + l->t_ms);
  if (is_expect) {
    expect(r, l);
    return;
  }
  r->tool_msg = NULL;
  int rc = run_event(r, l);
  r->last_rc = rc;
  r->last_rc_line = l->lineno;
  if (rc < 0) {
    r->rc_pending = 1;
    report_rc(r, l, rc);
  }
  if (r->roundtrip && l->cmd != CRS_SNAPSHOT) {
    rc = do_snapshot(r);
    if (rc)
      fail(r, l->lineno, "roundtrip snapshot/restore: %s", cr_errname(rc));
  }
}

/* ---------- main ---------- */

static void usage(FILE *f) {
  fprintf(f, "usage: cr-replay [--config FILE] [--data DIR | --model FILE] "
             "[--save-model FILE]\n"
             "                 [--json] [--quiet] [--roundtrip] [--check] "
             "SCRIPT.crs\n");
}

static int parse_args(int argc, char **argv, replay *r) {
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      r->json = 1;
    else if (!strcmp(o, "--quiet"))
      r->quiet = 1;
    else if (!strcmp(o, "--roundtrip"))
      r->roundtrip = 1;
    else if (!strcmp(o, "--check"))
      r->check = 1;
    else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      usage(stdout);
      exit(0);
    } else if (o[0] == '-' && o[1] && !v) {
      fprintf(stderr, "cr-replay: %s needs a value (or is unknown)\n", o);
      return -1;
    } else if (!strcmp(o, "--config"))
      r->config_path = v, i++;
    else if (!strcmp(o, "--data"))
      r->data_dir = v, i++;
    else if (!strcmp(o, "--model"))
      r->model_path = v, i++;
    else if (!strcmp(o, "--save-model"))
      r->save_model = v, i++;
    else if (o[0] == '-' && o[1]) {
      fprintf(stderr, "cr-replay: unknown option %s\n", o);
      return -1;
    } else if (!r->script_path)
      r->script_path = o;
    else {
      fprintf(stderr, "cr-replay: one script at a time\n");
      return -1;
    }
  }
  if (!r->script_path)
    return -1;
  return 0;
}

static int load_model(replay *r) {
  char err[512];
  if (r->model_path) {
    size_t len;
    char *b = read_file(r->model_path, &len);
    if (!b)
      return -1;
    int rc = cr_intent_model_load(&r->model, NULL, b, len);
    free(b);
    if (rc) {
      fprintf(stderr, "cr-replay: %s: %s\n", r->model_path, cr_strerror(rc));
      return -1;
    }
    return 0;
  }
  if (ecf_train_demo(r->data_dir, &r->model, err, sizeof err)) {
    fprintf(stderr, "cr-replay: %s\n", err);
    return -1;
  }
  if (r->save_model) {
    void *buf;
    size_t len;
    int rc = cr_intent_model_save(r->model, NULL, &buf, &len);
    FILE *f = rc ? NULL : fopen(r->save_model, "wb");
    int bad = !f || fwrite(buf, 1, len, f) != len;
    if (f && fclose(f))
      bad = 1;
    if (!rc)
      cr_mem_free(NULL, buf);
    if (bad) {
      fprintf(stderr, "cr-replay: cannot save the model to %s\n",
              r->save_model);
      return -1;
    }
  }
  return 0;
}

static void cleanup(replay *r) {
  for (size_t i = 0; i < r->nconvs; i++) {
    conv *c = &r->convs[i];
    free(c->id), free(c->profile), free(c->customer), free(c->queue);
    free(c->agent), free(c->said.s), free(c->action), free(c->action_args);
    free(c->action_agent), free(c->offer_agent);
    kv_free(&c->offer), kv_free(&c->alert);
  }
  free(r->convs);
  for (size_t i = 0; i < r->njournal; i++) {
    jentry *j = &r->journal[i];
    free(j->conv), free(j->agent), free(j->queue), free(j->intent);
    free(j->text);
  }
  free(r->journal);
  cr_engine_del(r->eng);
  cr_intent_model_del(r->model);
  ecf_free(&r->cfg);
  crs_free(&r->script);
}

int main(int argc, char **argv) {
  static replay r;
  char err[512], cfgpath[4096];
  r.data_dir = dm_data_dir();
  if (parse_args(argc, argv, &r)) {
    usage(stderr);
    return 2;
  }
  if (!r.config_path) {
    snprintf(cfgpath, sizeof cfgpath, "%s/demo_bot.conf", r.data_dir);
    r.config_path = cfgpath;
  }
  size_t len;
  char *text = read_file(r.script_path, &len);
  if (!text)
    return 2;
  int rc = crs_parse(text, len, &r.script, err, sizeof err);
  free(text);
  if (rc) {
    fprintf(stderr, "cr-replay: %s: %s\n", r.script_path, err);
    return 2;
  }
  if (ecf_load(r.config_path, &r.cfg, err, sizeof err)) {
    fprintf(stderr, "cr-replay: %s\n", err);
    crs_free(&r.script);
    return 2;
  }
  /* Default origin: Sunday 2026-11-22 10:00 in Israel (08:00 UTC), inside
   * the demo's opening hours. */
  r.origin = r.script.origin_ms != INT64_MIN ? r.script.origin_ms
                                             : INT64_C(1795334400000);
  r.now = r.origin;
  if (r.check) {
    printf("%s: %zu lines OK\n", r.script_path, r.script.n);
    cleanup(&r);
    return 0;
  }
  if (load_model(&r) ||
      ecf_engine_new(&r.cfg, r.model, NULL, r.origin, &r.eng, err,
                     sizeof err)) {
    if (r.model)
      fprintf(stderr, "cr-replay: %s: %s\n", r.config_path, err);
    cleanup(&r);
    return 2;
  }
  set_callbacks(&r);
  for (size_t i = 0; i < r.script.n; i++)
    run_line(&r, &r.script.line[i]);
  if (r.rc_pending)
    fail(&r, r.last_rc_line, "the last line failed with %s",
         cr_errname(r.last_rc));
  print_kpis(&r); /* with --roundtrip too: the snapshot carries the metrics */
  if (r.json)
    printf("{\"kind\":\"summary\",\"lines\":%zu,\"events\":%zu,"
           "\"live\":%zu,\"failures\":%d}\n",
           r.script.n, r.njournal, cr_engine_conv_count(r.eng), r.failures);
  else
    printf("%zu lines, %zu journal events, %zu live conversations, "
           "%d failed expectation%s\n",
           r.script.n, r.njournal, cr_engine_conv_count(r.eng), r.failures,
           r.failures == 1 ? "" : "s");
  cleanup(&r);
  return r.failures ? 1 : 0;
}
