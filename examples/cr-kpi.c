/* cr-kpi: reads an interaction-log CSV and prints contact-center KPIs.
 *
 *   cr-kpi --log contacts.csv [--sl-threshold-s 20] [--fcr-window-s 604800]
 *          [--short-abandon-s 5] [--sl-abandon ignore|fail|exclude-short]
 *          [--by channel|queue|agent|intent] [--json] [--strict]
 *
 * The log format is in docs/metrics.md: one row per contact, columns found
 * by their header names (any order; unknown columns ignored). Times are
 * decimal seconds on any fixed origin or ISO-8601. A malformed row is
 * reported on stderr with its line number; --strict stops there (exit 1),
 * otherwise it is skipped and counted in rejected_rows. Exit status 2 for
 * a usage error. The JSON keys are a contract: keep them stable. */
#include "convroute.h"
#include "log_time.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REJECTED_LISTED 100

/* ---------- command line ---------- */

typedef struct args {
  const char *log;
  double sl_s, fcr_s, short_s;
  int sl_abandon;
  int by; /* -1: none */
  int json, strict;
} args;

static void usage(FILE *f) {
  fprintf(f,
          "usage: cr-kpi --log FILE.csv [--sl-threshold-s 20] "
          "[--fcr-window-s 604800]\n"
          "              [--short-abandon-s 0] "
          "[--sl-abandon ignore|fail|exclude-short]\n"
          "              [--by channel|queue|agent|intent] [--json] "
          "[--strict]\n");
}

static int num_arg(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0) || v > 1e12)
    return -1;
  *out = v;
  return 0;
}

static const char *const dims[CR_METRICS_DIM_COUNT] = {"channel", "queue",
                                                       "agent", "intent"};
static const char *const treatments[3] = {"ignore", "fail", "exclude-short"};

static int parse_args(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->sl_s = 20, a->fcr_s = 604800, a->short_s = 0;
  a->sl_abandon = CR_SL_ABANDON_FAIL;
  a->by = -1;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json")) {
      a->json = 1;
    } else if (!strcmp(o, "--strict")) {
      a->strict = 1;
    } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!v) {
      fprintf(stderr, "cr-kpi: %s needs a value (or is unknown)\n", o);
      return -1;
    } else if (!strcmp(o, "--log")) {
      a->log = v, i++;
    } else if (!strcmp(o, "--sl-threshold-s") ||
               !strcmp(o, "--fcr-window-s") ||
               !strcmp(o, "--short-abandon-s")) {
      double *dst = o[2] == 's' && o[3] == 'l' ? &a->sl_s
                    : o[2] == 'f'              ? &a->fcr_s
                                               : &a->short_s;
      if (num_arg(v, dst)) {
        fprintf(stderr, "cr-kpi: %s: '%s' is not a number of seconds >= 0\n",
                o, v);
        return -1;
      }
      i++;
    } else if (!strcmp(o, "--by")) {
      for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
        if (!strcmp(v, dims[d]))
          a->by = d;
      if (a->by < 0) {
        fprintf(stderr, "cr-kpi: --by: '%s' is not channel, queue, agent or "
                        "intent\n", v);
        return -1;
      }
      i++;
    } else if (!strcmp(o, "--sl-abandon")) {
      a->sl_abandon = -1;
      for (int t = 0; t < 3; t++)
        if (!strcmp(v, treatments[t]))
          a->sl_abandon = t;
      if (a->sl_abandon < 0) {
        fprintf(stderr, "cr-kpi: --sl-abandon: '%s' is not ignore, fail or "
                        "exclude-short\n", v);
        return -1;
      }
      i++;
    } else {
      fprintf(stderr, "cr-kpi: unknown option %s\n", o);
      return -1;
    }
  }
  if (!a->log) {
    fprintf(stderr, "cr-kpi: --log is required\n");
    return -1;
  }
  return 0;
}

/* ---------- CSV (RFC 4180: quotes, doubled quotes, CRLF) ---------- */

typedef struct csv {
  const char *p, *end;
  long line;  /* line the current row starts on */
  long next;  /* line of the next character */
  char **field;
  size_t *flen;
  size_t n, cap;
  char *buf; /* unquoted field text */
  size_t blen, bcap;
} csv;

static int push(char **b, size_t *len, size_t *cap, char c) {
  if (*len == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    char *nb = realloc(*b, nc);
    if (!nb)
      return -1;
    *b = nb, *cap = nc;
  }
  (*b)[(*len)++] = c;
  return 0;
}

/* Reads one row into c->field (offsets into c->buf until the row ends).
 * Returns 1 for a row, 0 at the end, -1 for a malformed quote or OOM. */
static int csv_row(csv *c) {
  if (c->p >= c->end)
    return 0;
  c->line = c->next;
  c->n = 0;
  c->blen = 0;
  size_t starts[256];
  size_t nf = 0;
  starts[nf++] = 0;
  int q = 0, err = 0, wide = 0;
  while (c->p < c->end) {
    char ch = *c->p++;
    if (q) {
      if (ch == '"') {
        if (c->p < c->end && *c->p == '"') {
          c->p++;
          err |= push(&c->buf, &c->blen, &c->bcap, '"');
        } else {
          q = 0;
        }
      } else {
        if (ch == '\n')
          c->next++;
        err |= push(&c->buf, &c->blen, &c->bcap, ch);
      }
    } else if (ch == '"') {
      q = 1;
    } else if (ch == ',') {
      err |= push(&c->buf, &c->blen, &c->bcap, '\0');
      if (nf == 256)
        wide = 1; /* keep reading to the end of the row, then reject it */
      else
        starts[nf++] = c->blen;
    } else if (ch == '\n') {
      c->next++;
      break;
    } else if (ch != '\r') {
      err |= push(&c->buf, &c->blen, &c->bcap, ch);
    }
  }
  err |= push(&c->buf, &c->blen, &c->bcap, '\0');
  if (err || q || wide)
    return -1;
  if (nf > c->cap) {
    char **f = realloc(c->field, nf * sizeof *f);
    if (!f)
      return -1;
    c->field = f;
    size_t *l = realloc(c->flen, nf * sizeof *l);
    if (!l)
      return -1;
    c->flen = l, c->cap = nf;
  }
  for (size_t i = 0; i < nf; i++) {
    c->field[i] = c->buf + starts[i];
    c->flen[i] = strlen(c->field[i]);
  }
  c->n = nf;
  return 1;
}

/* ---------- the log's columns ---------- */

enum col {
  C_CONTACT, C_CUSTOMER, C_CHANNEL, C_QUEUE, C_INTENT, C_AGENT, C_ARRIVED,
  C_QUEUED, C_ANSWERED, C_ENDED, C_HANDLED, C_ESCALATED, C_RESOLVED,
  C_TRANSFERRED, C_WRAP, C_CSAT, C_NPS, C_CES, C_FCR, C__N
};
static const char *const colnames[C__N] = {
    "contact_id", "customer_id", "channel",  "queue",     "intent",
    "agent",      "arrived_at",  "queued_at", "answered_at", "ended_at",
    "handled_by", "escalated",   "resolved", "transferred", "wrap_s",
    "csat",       "nps",         "ces",      "fcr_survey"};
static const int required[] = {C_CONTACT, C_ARRIVED, C_ENDED, C_HANDLED};

static void trim(const char **s, size_t *n) {
  while (*n && isspace((unsigned char)**s))
    (*s)++, (*n)--;
  while (*n && isspace((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

/* ---------- field parsers (0 ok, -1 bad; empty handled by callers) --- */

static int parse_int(const char *s, size_t n, int lo, int hi, int *out) {
  if (!n || n > 4)
    return -1;
  int v = 0, neg = 0;
  size_t i = 0;
  if (s[0] == '-')
    neg = 1, i = 1;
  if (i == n)
    return -1;
  for (; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  v = neg ? -v : v;
  /* out-of-scale values pass through, so the library's own range check
   * (which records nothing) gives the message */
  (void)lo, (void)hi;
  *out = v;
  return 0;
}

/* ---------- rows -> records ---------- */

typedef struct row_err {
  char msg[200];
} row_err;

static int bad(row_err *e, const char *col, const char *why, const char *s) {
  snprintf(e->msg, sizeof e->msg, "%s: %s '%.40s'", col, why, s);
  return -1;
}

/* Fills rec from the row. Strings point into the csv buffer. */
static int to_record(const csv *c, const int *idx, cr_metrics_record *r,
                     row_err *e) {
  const char *f[C__N];
  size_t l[C__N];
  for (int k = 0; k < C__N; k++) {
    f[k] = "", l[k] = 0;
    if (idx[k] >= 0 && (size_t)idx[k] < c->n) {
      f[k] = c->field[idx[k]], l[k] = c->flen[idx[k]];
      trim(&f[k], &l[k]);
    }
  }
  cr_metrics_record_init(r);
  if (!l[C_CONTACT])
    return bad(e, "contact_id", "is empty", "");
  cr_time *tdst[4] = {&r->arrived_at, &r->queued_at, &r->answered_at,
                      &r->ended_at};
  for (int k = C_ARRIVED; k <= C_ENDED; k++) {
    if (!l[k])
      continue; /* required ones are checked by the library */
    if (log_parse_time(f[k], l[k], tdst[k - C_ARRIVED]))
      return bad(e, colnames[k], "is not seconds or ISO-8601:", f[k]);
  }
  static const char *const hb[3] = {"bot", "agent", "abandoned"};
  r->handled_by = -1;
  for (int k = 0; k < 3; k++)
    if (l[C_HANDLED] == strlen(hb[k]) &&
        !strncmp(f[C_HANDLED], hb[k], l[C_HANDLED]))
      r->handled_by = k;
  if (r->handled_by < 0)
    return bad(e, "handled_by", "is not bot, agent or abandoned:",
               f[C_HANDLED]);
  int *flags[3] = {&r->escalated, &r->transferred, &r->resolved};
  const int fcol[3] = {C_ESCALATED, C_TRANSFERRED, C_RESOLVED};
  for (int k = 0; k < 3; k++) {
    if (!l[fcol[k]])
      continue; /* escalated/transferred: 0; resolved: unknown */
    if (l[fcol[k]] != 1 || (f[fcol[k]][0] != '0' && f[fcol[k]][0] != '1'))
      return bad(e, colnames[fcol[k]], "is not 0 or 1:", f[fcol[k]]);
    *flags[k] = f[fcol[k]][0] - '0';
  }
  if (l[C_WRAP]) {
    if (log_parse_seconds(f[C_WRAP], l[C_WRAP], &r->wrap_ms))
      return bad(e, "wrap_s", "is not a number of seconds:", f[C_WRAP]);
  }
  int *ans[4] = {&r->csat, &r->nps, &r->ces, &r->fcr};
  const int acol[4] = {C_CSAT, C_NPS, C_CES, C_FCR};
  for (int k = 0; k < 4; k++)
    if (l[acol[k]] && parse_int(f[acol[k]], l[acol[k]], 0, 10, ans[k]))
      return bad(e, colnames[acol[k]], "is not an integer:", f[acol[k]]);
  const int kcol[CR_METRICS_DIM_COUNT] = {C_CHANNEL, C_QUEUE, C_AGENT,
                                          C_INTENT};
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    r->key[d].str = f[kcol[d]];
    r->key[d].len = l[kcol[d]];
  }
  r->customer = f[C_CUSTOMER];
  r->customer_len = l[C_CUSTOMER];
  return 0;
}

/* ---------- output ---------- */

static void jnum(FILE *o, const char *k, double v, int comma) {
  if (isnan(v))
    fprintf(o, "\"%s\": null", k);
  else
    fprintf(o, "\"%s\": %.10g", k, v);
  if (comma)
    fputs(", ", o);
}

static void jstr(FILE *o, const char *s, size_t n) {
  fputc('"', o);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\')
      fprintf(o, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(o, "\\u%04x", ch);
    else
      fputc(ch, o);
  }
  fputc('"', o);
}

static void json_kpis(FILE *o, const cr_metrics_report *r) {
  fprintf(o,
          "\"contacts\": %llu, \"answered\": %llu, \"abandoned\": %llu, "
          "\"bot_contained\": %llu, ",
          (unsigned long long)r->contacts, (unsigned long long)r->answered,
          (unsigned long long)r->abandoned,
          (unsigned long long)r->bot_contained);
  jnum(o, "fcr", r->fcr, 1);
  fprintf(o, "\"fcr_pending\": %llu, ", (unsigned long long)r->fcr_pending);
  jnum(o, "fcr_survey", r->fcr_survey, 1);
  jnum(o, "resolution_rate", r->resolution_rate, 1);
  jnum(o, "csat_top2", r->csat_top2, 1);
  jnum(o, "csat_mean", r->csat_mean, 1);
  fprintf(o, "\"csat_n\": %llu, ", (unsigned long long)r->csat_n);
  jnum(o, "nps", r->nps, 1);
  jnum(o, "nps_moe95", r->nps_moe95, 1);
  fprintf(o, "\"nps_n\": %llu, ", (unsigned long long)r->nps_n);
  jnum(o, "ces_mean", r->ces_mean, 1);
  jnum(o, "service_level", r->service_level, 1);
  jnum(o, "asa_s", r->asa_s, 1);
  jnum(o, "abandon_rate", r->abandon_rate, 1);
  jnum(o, "aht_s", r->aht_s, 1);
  jnum(o, "containment", r->containment, 1);
  jnum(o, "transfer_rate", r->transfer_rate, 1);
  jnum(o, "answer_rate", r->contacts ? (double)r->answered / (double)r->contacts
                                     : NAN, 1);
  jnum(o, "cost", r->cost, 1);
  jnum(o, "cost_per_contact", r->cost_per_contact, 0);
}

static void human_line(FILE *o, const char *label, double v, int pct,
                       const char *unit) {
  if (isnan(v))
    fprintf(o, "  %-28s %s\n", label, "-");
  else if (pct)
    fprintf(o, "  %-28s %.2f %%\n", label, 100 * v);
  else
    fprintf(o, "  %-28s %.2f%s\n", label, v, unit);
}

static void human(FILE *o, const cr_metrics_report *r) {
  fprintf(o, "  %-28s %llu (answered %llu, abandoned %llu, bot-contained "
             "%llu)\n",
          "contacts", (unsigned long long)r->contacts,
          (unsigned long long)r->answered, (unsigned long long)r->abandoned,
          (unsigned long long)r->bot_contained);
  human_line(o, "service level", r->service_level, 1, "");
  human_line(o, "ASA", r->asa_s, 0, " s");
  human_line(o, "abandonment rate", r->abandon_rate, 1, "");
  human_line(o, "AHT (talk + wrap)", r->aht_s, 0, " s");
  human_line(o, "bot containment", r->containment, 1, "");
  human_line(o, "transfer rate", r->transfer_rate, 1, "");
  human_line(o, "resolution rate", r->resolution_rate, 1, "");
  human_line(o, "FCR (repeat window)", r->fcr, 1, "");
  fprintf(o, "  %-28s %llu\n", "FCR pending",
          (unsigned long long)r->fcr_pending);
  human_line(o, "FCR (survey)", r->fcr_survey, 1, "");
  human_line(o, "CSAT top-2-box", r->csat_top2, 1, "");
  human_line(o, "CSAT mean (1-5)", r->csat_mean, 0, "");
  if (isnan(r->nps))
    fprintf(o, "  %-28s -\n", "NPS");
  else
    fprintf(o, "  %-28s %.1f +- %.1f (n = %llu)\n", "NPS", r->nps,
            r->nps_moe95, (unsigned long long)r->nps_n);
  human_line(o, "CES mean (1-7)", r->ces_mean, 0, "");
  if (isnan(r->cost_per_contact))
    fprintf(o, "  %-28s -\n", "estimated cost / contact");
  else
    fprintf(o, "  %-28s $%.2f\n", "estimated cost / contact",
            r->cost_per_contact);
}

/* ---------- main ---------- */

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *b = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 65536 > cap) {
      cap = cap ? cap * 2 : 131072;
      char *nb = realloc(b, cap);
      if (!nb) {
        free(b);
        fclose(f);
        return NULL;
      }
      b = nb;
    }
    size_t got = fread(b + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(b);
    return NULL;
  }
  *n = len;
  return b;
}

typedef struct rejected {
  long line;
  char msg[200];
} rejected;

int main(int argc, char **argv) {
  args a;
  if (parse_args(argc, argv, &a)) {
    usage(stderr);
    return 2;
  }
  size_t n = 0;
  char *data = slurp(a.log, &n);
  if (!data) {
    fprintf(stderr, "cr-kpi: cannot read %s: %s\n", a.log, strerror(errno));
    return 1;
  }
  csv c = {0};
  c.p = data, c.end = data + n, c.next = 1;
  if (n >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
    c.p += 3; /* UTF-8 byte-order mark */
  int rc = csv_row(&c);
  int idx[C__N];
  for (int k = 0; k < C__N; k++)
    idx[k] = -1;
  if (rc == 1)
    for (size_t i = 0; i < c.n; i++) {
      const char *s = c.field[i];
      size_t l = c.flen[i];
      trim(&s, &l);
      for (int k = 0; k < C__N; k++)
        if (l == strlen(colnames[k]) && !strncmp(s, colnames[k], l))
          idx[k] = (int)i;
    }
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
    if (idx[required[k]] < 0) {
      fprintf(stderr, "cr-kpi: %s: line 1: the header has no '%s' column\n",
              a.log, colnames[required[k]]);
      free(data), free(c.buf), free(c.field), free(c.flen);
      return 1;
    }

  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.sl_threshold_ms = (cr_time)llround(a.sl_s * 1000);
  o.fcr_window_ms = (cr_time)llround(a.fcr_s * 1000);
  o.short_abandon_ms = (cr_time)llround(a.short_s * 1000);
  o.sl_abandon = a.sl_abandon;
  cr_metrics *m = NULL;
  if (cr_metrics_new(&m, NULL, &o)) {
    fprintf(stderr, "cr-kpi: bad options\n");
    free(data), free(c.buf), free(c.field), free(c.flen);
    return 2;
  }
  rejected *rej = calloc(MAX_REJECTED_LISTED, sizeof *rej);
  unsigned long long nrej = 0;
  int status = 0;
  while (rej && (rc = csv_row(&c)) != 0) {
    if (rc == 1 && c.n == 1 && c.flen[0] == 0)
      continue; /* blank line */
    row_err e;
    cr_metrics_record r;
    int bad_row = 0;
    if (rc < 0) {
      snprintf(e.msg, sizeof e.msg, "unbalanced quotes or too many columns");
      bad_row = 1;
    } else if (to_record(&c, idx, &r, &e)) {
      bad_row = 1;
    } else {
      int arc = cr_metrics_record_add(m, &r);
      if (arc) {
        snprintf(e.msg, sizeof e.msg, "%s (CR_%s)", cr_metrics_errmsg(m),
                 cr_errname(arc));
        bad_row = 1;
      }
    }
    if (!bad_row)
      continue;
    fprintf(stderr, "cr-kpi: %s: line %ld: %s\n", a.log, c.line, e.msg);
    if (nrej < MAX_REJECTED_LISTED) {
      rej[nrej].line = c.line;
      memcpy(rej[nrej].msg, e.msg, sizeof e.msg);
    }
    nrej++;
    if (a.strict) {
      status = 1;
      break;
    }
  }
  if (!rej) {
    fprintf(stderr, "cr-kpi: out of memory\n");
    status = 1;
  }

  if (status == 0) {
    cr_metrics_report r;
    cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &r);
    FILE *out = stdout;
    if (a.json) {
      fputs("{", out);
      json_kpis(out, &r);
      fprintf(out, ", \"sl_threshold_s\": %.10g, \"sl_abandon\": \"%s\"",
              a.sl_s, treatments[a.sl_abandon]);
      if (a.by >= 0) {
        fprintf(out, ", \"by\": \"%s\", \"groups\": [", dims[a.by]);
        uint32_t ng = cr_metrics_key_count(m, a.by);
        for (uint32_t id = 1; id <= ng; id++) {
          const char *s;
          size_t l;
          cr_metrics_report g;
          cr_metrics_key_name(m, a.by, id, &s, &l);
          cr_metrics_report_get(m, a.by, id, &g);
          fputs(id > 1 ? ", {\"name\": " : "{\"name\": ", out);
          jstr(out, s, l);
          fputs(", ", out);
          json_kpis(out, &g);
          fputs("}", out);
        }
        fputs("]", out);
      }
      fprintf(out, ", \"rejected_rows\": %llu, \"rejected\": [", nrej);
      for (unsigned long long i = 0; i < nrej && i < MAX_REJECTED_LISTED;
           i++) {
        fprintf(out, "%s{\"line\": %ld, \"error\": ", i ? ", " : "",
                rej[i].line);
        jstr(out, rej[i].msg, strlen(rej[i].msg));
        fputs("}", out);
      }
      fputs("]}\n", out);
    } else {
      fprintf(out, "KPIs of %s (service level: answered within %.0f s, "
                   "abandons: %s)\n",
              a.log, a.sl_s, treatments[a.sl_abandon]);
      human(out, &r);
      if (a.by >= 0) {
        uint32_t ng = cr_metrics_key_count(m, a.by);
        for (uint32_t id = 1; id <= ng; id++) {
          const char *s;
          size_t l;
          cr_metrics_report g;
          cr_metrics_key_name(m, a.by, id, &s, &l);
          cr_metrics_report_get(m, a.by, id, &g);
          fprintf(out, "\n%s %.*s\n", dims[a.by], (int)l, s);
          human(out, &g);
        }
      }
      fprintf(out, "\nrejected rows: %llu\n", nrej);
    }
  }
  cr_metrics_del(m);
  free(rej);
  free(data), free(c.buf), free(c.field), free(c.flen);
  return status;
}
