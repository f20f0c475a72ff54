/* cr-sim --replay LOG.csv: a real call log through the library's router.
 *
 * Input: the metrics interaction-log CSV (docs/metrics.md; e.g. the
 * Anonymous Bank day made by examples/convert/anonymous_bank.py). Only the
 * contacts that asked for a human are replayed (handled_by agent or
 * abandoned); each arrives at its queued_at (arrived_at when empty).
 *
 * What the log gives and what it hides (censoring):
 *   answered   wait w = answered_at - queued_at, handle time h =
 *              ended_at - answered_at: both observed; patience only known
 *              to exceed w (right-censored)
 *   abandoned  patience = ended_at - queued_at observed; handle time never
 *              happened
 * The simulator needs all three for every contact, so:
 *   - patience of an abandoned contact: its observed time;
 *   - patience of an answered contact: a draw from the Kaplan-Meier
 *     estimate of the patience distribution (abandons are events, answered
 *     waits are censored observations; Brown et al. 2005, "Statistical
 *     Analysis of a Telephone Call Center", JASA 100, did exactly this on
 *     this bank's data), CONDITIONED on exceeding its observed wait w:
 *     P = S^-1(u S(w)). Where the estimate stops falling (beyond the
 *     longest observed abandon) the mass left is "never abandons": the
 *     data says nothing there, and we do not invent a tail;
 *   - handle time of an abandoned contact: a resample of the observed
 *     handle times (it is only used if the simulated centre answers it).
 * The draws are random, so the replay runs R replications (--reps, seeds
 * 1..R) and reports their mean and a 95 % t interval.
 *
 * Agents: --agents N keeps N agents all day; --agents log staffs each
 * half hour with the agents the log shows WORKING the queue (the mean
 * number busy while callers waited: see busy_staffing); --agents roster
 * with the distinct agent names serving in it. Agents are logged on and
 * off at the boundaries (one leaving keeps its call to the end).
 * One queue, longest-idle agent, first come first served: the bank's own
 * priorities between call types are not in the log.
 *
 * Both sides are measured by the library's metrics with the same options
 * (SL threshold T, abandons count as failures), plus the wait over all
 * queued contacts (answered and abandoned: the staffing module's asa_s). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_core.h"
#include "sim_modes.h"
#include "../log_time.h"

typedef struct call {
  cr_time q, ans, end; /* ms from the origin; ans CR_TIME_NONE if abandoned */
  int32_t agent;       /* index into the log's agent names, -1 none */
} call;

typedef struct log_data {
  call *c;
  size_t n, cap;
  size_t skipped_bot, skipped_bad;
  char **names;
  size_t nnames;
  cr_time origin; /* ms (Unix epoch when ISO times): start of the first
                     queued contact's hour */
} log_data;

/* ---- the CSV (RFC 4180 subset: quotes, "" inside quotes, CRLF) ---- */

static int next_field(const char **p, const char *e, char *out, size_t cap,
                      int *eol) {
  size_t n = 0;
  int q = 0;
  *eol = 0;
  if (*p < e && **p == '"')
    q = 1, (*p)++;
  while (*p < e) {
    char ch = *(*p)++;
    if (q) {
      if (ch == '"') {
        if (*p < e && **p == '"')
          (*p)++;
        else {
          q = 0;
          continue;
        }
      }
    } else if (ch == ',') {
      break;
    } else if (ch == '\n') {
      *eol = 1;
      break;
    } else if (ch == '\r') {
      continue;
    }
    if (n + 1 < cap)
      out[n++] = ch;
  }
  if (*p >= e)
    *eol = 1;
  out[n] = 0;
  return q ? -1 : 0;
}

/* A log time (the same reader as cr-kpi's), trimmed; 1 = empty, -1 = bad.
 * |t| <= 1e12 s (31,700 years) keeps every difference in range. */
static int parse_time(const char *s, cr_time *out) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)*s))
    s++, n--;
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  if (!n)
    return 1;
  if (log_parse_time(s, n, out) || *out > (cr_time)1e15 ||
      *out < -(cr_time)1e15)
    return -1;
  return 0;
}

enum { F_QUEUED, F_ARRIVED, F_ANSWERED, F_ENDED, F_HANDLED, F_AGENT, F_N };
static const char *const fnames[F_N] = {"queued_at", "arrived_at",
                                        "answered_at", "ended_at",
                                        "handled_by", "agent"};

static int32_t name_index(log_data *L, const char *s) {
  if (!*s)
    return -1;
  for (size_t i = 0; i < L->nnames; i++)
    if (!strcmp(L->names[i], s))
      return (int32_t)i;
  char **n = realloc(L->names, (L->nnames + 1) * sizeof *n);
  if (!n)
    return -2;
  L->names = n;
  size_t len = strlen(s);
  if (!(n[L->nnames] = malloc(len + 1)))
    return -2;
  memcpy(n[L->nnames], s, len + 1);
  return (int32_t)L->nnames++;
}

static int add_row(log_data *L, char f[F_N][128]) {
  cr_time q, arr, ans, end;
  int rq = parse_time(f[F_QUEUED], &q), ra = parse_time(f[F_ARRIVED], &arr);
  int rans = parse_time(f[F_ANSWERED], &ans), re = parse_time(f[F_ENDED], &end);
  int agent = !strcmp(f[F_HANDLED], "agent");
  int aband = !strcmp(f[F_HANDLED], "abandoned");
  if (!agent && !aband) {
    L->skipped_bot++;
    return 0;
  }
  if (rq == 1)
    q = arr, rq = ra;
  if (rq || re || (agent && rans) || (aband && rans != 1) || end < q ||
      (agent && (ans < q || end < ans))) {
    L->skipped_bad++; /* e.g. answered with no answer time */
    return 0;
  }
  if (L->n == L->cap) {
    size_t cap = L->cap ? 2 * L->cap : 1024;
    call *c = realloc(L->c, cap * sizeof *c);
    if (!c)
      return CR_ENOMEM;
    L->c = c, L->cap = cap;
  }
  int32_t a = agent ? name_index(L, f[F_AGENT]) : -1;
  if (a == -2)
    return CR_ENOMEM;
  L->c[L->n++] = (call){q, agent ? ans : CR_TIME_NONE, end, a};
  return 0;
}

static int cmp_call(const void *x, const void *y) {
  const call *a = x, *b = y;
  return a->q < b->q ? -1 : a->q > b->q;
}

static int read_log(const char *path, log_data *L) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "cr-sim: %s: %s\n", path, strerror(errno));
    return -1;
  }
  /* Read to the end in growing blocks, not by fseek/ftell: a pipe
   * (/dev/stdin) has no size (ftell -1) and a directory reports a huge one
   * (a 2^63-byte malloc), and both must end in a message, not a silent
   * exit or an allocator abort. */
  size_t sz = 0, cap = 1 << 16, got;
  char *buf = malloc(cap + 1);
  while (buf && (got = fread(buf + sz, 1, cap - sz, fp)) > 0)
    if ((sz += got) == cap) {
      char *nb = cap < ((size_t)1 << 31) ? realloc(buf, 2 * cap + 1) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb, cap *= 2;
    }
  int bad = !buf || ferror(fp);
  fclose(fp);
  if (bad) {
    fprintf(stderr, "cr-sim: cannot read %s (%s)\n", path,
            buf ? "read error, or a directory" : "larger than 2 GB or out "
                                                 "of memory");
    free(buf);
    return -1;
  }
  const char *p = buf, *e = buf + sz;
  if (e - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
    p += 3; /* BOM */
  int col[F_N], ncol = 0, eol = 0, rc = 0;
  for (int k = 0; k < F_N; k++)
    col[k] = -1;
  char field[128], f[F_N][128];
  while (!eol && p < e) {
    if (next_field(&p, e, field, sizeof field, &eol))
      break;
    for (int k = 0; k < F_N; k++)
      if (!strcmp(field, fnames[k]))
        col[k] = ncol;
    ncol++;
  }
  if (col[F_ENDED] < 0 || col[F_HANDLED] < 0 ||
      (col[F_QUEUED] < 0 && col[F_ARRIVED] < 0)) {
    fprintf(stderr, "cr-sim: %s: need ended_at, handled_by and queued_at "
                    "or arrived_at columns\n", path);
    free(buf);
    return -1;
  }
  const char *row = p;
  while (p < e && !rc) {
    for (int k = 0; k < F_N; k++)
      f[k][0] = 0;
    int i = 0;
    eol = 0;
    row = p;
    while (!eol) {
      if (next_field(&p, e, field, sizeof field, &eol)) {
        rc = 1; /* an unclosed quote; add_row's failure is CR_ENOMEM */
        break;
      }
      for (int k = 0; k < F_N; k++)
        if (col[k] == i)
          memcpy(f[k], field, sizeof field);
      i++;
    }
    if (i > 1 && !rc)
      rc = add_row(L, f);
  }
  if (rc == 1) { /* the line the row starts on, counted only now */
    size_t line = 1;
    for (const char *x = buf; x < row; x++)
      line += *x == '\n';
    fprintf(stderr, "cr-sim: %s: line %zu: a quoted field is not closed\n",
            path, line);
  } else if (rc)
    fprintf(stderr, "cr-sim: %s: out of memory\n", path);
  else if (!L->n)
    fprintf(stderr, "cr-sim: %s: no contact that queued for a human\n",
            path);
  free(buf);
  if (rc || !L->n)
    return -1;
  qsort(L->c, L->n, sizeof *L->c, cmp_call);
  cr_time o = L->c[0].q;
  o -= ((o % 3600000) + 3600000) % 3600000; /* the hour it starts in */
  L->origin = o;
  for (size_t i = 0; i < L->n; i++) {
    L->c[i].q -= o;
    L->c[i].end -= o;
    if (L->c[i].ans != CR_TIME_NONE)
      L->c[i].ans -= o;
  }
  return 0;
}

/* ---- Kaplan-Meier patience ---- */

typedef struct km {
  double *t, *s; /* event times (ms) and S just after each, ascending */
  size_t n;
} km;

typedef struct obs {
  double t;
  int event;
} obs;

static int cmp_obs(const void *x, const void *y) {
  const obs *a = x, *b = y;
  if (a->t != b->t)
    return a->t < b->t ? -1 : 1;
  return b->event - a->event; /* events before censorings at a tie */
}

static int km_fit(const log_data *L, km *k) {
  obs *o = malloc(L->n * sizeof *o);
  k->t = malloc(L->n * sizeof(double));
  k->s = malloc(L->n * sizeof(double));
  k->n = 0;
  if (!o || !k->t || !k->s) {
    free(o);
    return CR_ENOMEM;
  }
  for (size_t i = 0; i < L->n; i++) {
    const call *c = &L->c[i];
    int ev = c->ans == CR_TIME_NONE;
    o[i] = (obs){(double)((ev ? c->end : c->ans) - c->q), ev};
  }
  qsort(o, L->n, sizeof *o, cmp_obs);
  double s = 1, at_risk = (double)L->n;
  for (size_t i = 0; i < L->n;) {
    size_t j = i;
    double d = 0, m = 0;
    while (j < L->n && o[j].t == o[i].t)
      d += o[j].event, m += 1, j++;
    if (d > 0) {
      s *= 1 - d / at_risk;
      k->t[k->n] = o[i].t;
      k->s[k->n++] = s;
    }
    at_risk -= m;
    i = j;
  }
  free(o);
  return 0;
}

static double km_at(const km *k, double t) { /* S(t), right-continuous */
  size_t lo = 0, hi = k->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (k->t[mid] <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo ? k->s[lo - 1] : 1.0;
}

/* Patience given it exceeds w: the first event time t > w with
 * S(t) <= u S(w); CRS_NEVER if S never falls that low. */
static cr_time km_draw_above(const km *k, double w, double u) {
  double target = u * km_at(k, w);
  size_t lo = 0, hi = k->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (k->s[mid] > target)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == k->n)
    return CRS_NEVER;
  double t = k->t[lo];
  return (cr_time)(t > w ? t : w + 1);
}

/* ---- the replay ---- */

typedef struct tally {
  double n, answered, abandoned, in_sl, wait_all_ms, wait_ans_ms;
} tally;

typedef struct figures {
  double abandon, asa_answered, asa_all, sl, answered;
} figures;

typedef struct rep {
  const log_data *L;
  uint32_t *staff; /* per half hour, with --agents log */
  size_t nslots;
  uint32_t nagents;
  cr_time T;
  tally t;
} rep;

static void on_done(crs_sim *s, const crs_outcome *o, void *ud) {
  (void)s;
  rep *r = ud;
  r->t.n += 1;
  r->t.wait_all_ms += (double)o->wait_ms;
  if (o->result == CRS_ANSWERED) {
    r->t.answered += 1;
    r->t.wait_ans_ms += (double)o->wait_ms;
    r->t.in_sl += o->wait_ms <= r->T;
  } else {
    r->t.abandoned += 1;
  }
}

#define SLOT_MS 1800000
/* The longest log --agents log|roster will staff: a year and a day. */
#define MAX_SPAN_MS (INT64_C(366) * 86400000)

static int on_user(crs_sim *s, cr_time now, uint32_t a, uint64_t b,
                   void *ud) {
  (void)a, (void)b;
  rep *r = ud;
  size_t k = (size_t)(now / SLOT_MS);
  uint32_t want = k < r->nslots ? r->staff[k] : 0;
  for (uint32_t i = 0; i < r->nagents; i++) {
    int rc = crs_sim_agent_status(s, i, i < want ? CR_AGENT_AVAILABLE
                                                 : CR_AGENT_OFFLINE, now);
    if (rc)
      return rc;
  }
  return 0;
}

/* Distinct log agents serving in each half hour. */
static int log_staffing(const log_data *L, rep *r) {
  cr_time last = 0;
  for (size_t i = 0; i < L->n; i++)
    last = L->c[i].end > last ? L->c[i].end : last;
  r->nslots = (size_t)(last / SLOT_MS) + 1;
  r->staff = calloc(r->nslots, sizeof *r->staff);
  unsigned char *seen = calloc(r->nslots * (L->nnames + 1), 1);
  if (!r->staff || !seen) {
    free(seen);
    return CR_ENOMEM;
  }
  for (size_t i = 0; i < L->n; i++) {
    const call *c = &L->c[i];
    if (c->agent < 0)
      continue;
    for (size_t k = (size_t)(c->ans / SLOT_MS);
         k <= (size_t)(c->end / SLOT_MS) && k < r->nslots; k++)
      if (!seen[k * (L->nnames + 1) + (size_t)c->agent]++)
        r->staff[k]++;
  }
  free(seen);
  r->nagents = 0;
  for (size_t k = 0; k < r->nslots; k++)
    r->nagents = r->staff[k] > r->nagents ? r->staff[k] : r->nagents;
  return 0;
}

typedef struct sweep {
  cr_time t;
  int dbusy, dqueue;
} sweep;

static int cmp_sweep(const void *x, const void *y) {
  const sweep *a = x, *b = y;
  if (a->t != b->t)
    return a->t < b->t ? -1 : 1;
  /* at one instant: releases before takes, so a call answered as another
   * ends is not counted as two busy agents */
  return (a->dbusy + a->dqueue) - (b->dbusy + b->dqueue);
}

/* Agents actually working the queue in each half hour, from the log
 * alone. A centre that does not leave callers waiting while an agent is
 * free (work conservation) has every working agent busy whenever someone
 * waits, so the time-average of busy agents over the moments with a
 * queue estimates the working staff (rounded to nearest); a half hour
 * without any queue gets its peak of busy agents. This is lower than
 * the names on the roster when agents also do other work (outbound
 * calls, after-call work, breaks): the log cannot show that time. */
static int busy_staffing(const log_data *L, rep *r) {
  sweep *e = malloc(4 * L->n * sizeof *e);
  if (!e)
    return CR_ENOMEM;
  size_t n = 0;
  cr_time last = 0;
  for (size_t i = 0; i < L->n; i++) {
    const call *c = &L->c[i];
    cr_time left = c->ans != CR_TIME_NONE ? c->ans : c->end;
    e[n++] = (sweep){c->q, 0, +1};
    e[n++] = (sweep){left, 0, -1};
    if (c->ans != CR_TIME_NONE) {
      e[n++] = (sweep){c->ans, +1, 0};
      e[n++] = (sweep){c->end, -1, 0};
    }
    last = c->end > last ? c->end : last;
  }
  qsort(e, n, sizeof *e, cmp_sweep);
  r->nslots = (size_t)(last / SLOT_MS) + 1;
  r->staff = calloc(r->nslots, sizeof *r->staff);
  double *qt = calloc(r->nslots, sizeof *qt), *qb = calloc(r->nslots,
                                                           sizeof *qb);
  uint32_t *peak = calloc(r->nslots, sizeof *peak);
  if (!r->staff || !qt || !qb || !peak) {
    free(e), free(qt), free(qb), free(peak);
    return CR_ENOMEM;
  }
  int busy = 0, queue = 0;
  for (size_t i = 0; i < n; i++) {
    busy += e[i].dbusy;
    queue += e[i].dqueue;
    size_t k = (size_t)(e[i].t / SLOT_MS);
    if (busy > 0 && (uint32_t)busy > peak[k])
      peak[k] = (uint32_t)busy;
    if (i + 1 < n && queue > 0 && busy > 0) {
      /* [t_i, t_i+1) split over the half hours it spans */
      for (cr_time a = e[i].t; a < e[i + 1].t;) {
        size_t s = (size_t)(a / SLOT_MS);
        cr_time b = (cr_time)(s + 1) * SLOT_MS;
        if (b > e[i + 1].t)
          b = e[i + 1].t;
        qt[s] += (double)(b - a);
        qb[s] += (double)(b - a) * busy;
        a = b;
      }
    }
  }
  r->nagents = 0;
  for (size_t k = 0; k < r->nslots; k++) {
    r->staff[k] = qt[k] > 0 ? (uint32_t)lround(qb[k] / qt[k]) : peak[k];
    r->nagents = r->staff[k] > r->nagents ? r->staff[k] : r->nagents;
  }
  free(e), free(qt), free(qb), free(peak);
  return 0;
}

static int run_rep(rep *r, const km *k, uint64_t seed, int fixed) {
  crs_config cfg;
  crs_config_init(&cfg);
  cfg.seed = seed;
  cfg.metric_keys = 0;
  cfg.metrics.window_ms = 0;
  cfg.metrics.breakdowns = 0;
  cfg.metrics.sl_threshold_ms = r->T;
  cfg.metrics.sl_abandon = CR_SL_ABANDON_FAIL;
  crs_hooks hk = {0};
  hk.done = on_done;
  hk.user = on_user;
  hk.ud = r;
  crs_sim *s;
  int rc = crs_sim_new(&s, &cfg, &hk);
  if (rc)
    return rc;
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  uint32_t q;
  rc = crs_sim_add_queue(s, "calls", &qc, &q);
  cr_agent_config ac;
  cr_agent_config_init(&ac);
  ac.max_per_channel[CR_CHANNEL_VOICE] = 1;
  for (uint32_t i = 0; !rc && i < r->nagents; i++) {
    char id[16];
    snprintf(id, sizeof id, "a%u", i);
    uint32_t a;
    rc = crs_sim_add_agent(s, id, &ac, fixed, &a);
    if (!rc)
      rc = crs_sim_join(s, a, q, 0);
  }
  for (size_t i = 0; !fixed && !rc && i < r->nslots; i++)
    rc = crs_sim_schedule(s, (cr_time)i * SLOT_MS, 0, 0);
  /* Draws in log order from one stream: the same seed gives the same
   * customers whatever the staffing. */
  crs_rng g;
  crs_rng_seed(&g, seed, 99);
  size_t nans = 0;
  cr_time *handles = malloc(r->L->n * sizeof *handles);
  if (!handles)
    rc = CR_ENOMEM;
  for (size_t i = 0; !rc && i < r->L->n; i++)
    if (r->L->c[i].ans != CR_TIME_NONE)
      handles[nans++] = r->L->c[i].end - r->L->c[i].ans;
  for (size_t i = 0; !rc && i < r->L->n; i++) {
    const call *c = &r->L->c[i];
    crs_contact ct;
    memset(&ct, 0, sizeof ct);
    ct.queue = q;
    ct.channel = CR_CHANNEL_VOICE;
    ct.source = UINT32_MAX;
    ct.tag = i;
    double u = crs_unit(&g);
    uint32_t pick = nans ? crs_below(&g, (uint32_t)nans) : 0;
    if (c->ans != CR_TIME_NONE) {
      ct.handle_ms = c->end - c->ans;
      ct.patience_ms = km_draw_above(k, (double)(c->ans - c->q), u);
    } else {
      ct.patience_ms = c->end - c->q;
      ct.handle_ms = nans ? handles[pick] : 0; /* a resampled handle time */
    }
    rc = crs_sim_arrive_at(s, c->q, &ct);
  }
  free(handles);
  if (!rc)
    rc = crs_sim_run(s, CRS_NEVER);
  if (rc)
    fprintf(stderr, "cr-sim: replay: %s\n", crs_sim_errmsg(s));
  crs_sim_del(s);
  return rc;
}

static void figures_of(const tally *t, figures *f) {
  f->answered = t->answered / t->n;
  f->abandon = t->abandoned / t->n;
  f->asa_answered = t->wait_ans_ms / 1000 / t->answered;
  f->asa_all = t->wait_all_ms / 1000 / t->n;
  f->sl = t->in_sl / t->n;
}

/* The log's own figures, through the library's metrics (and the same
 * tally for the wait over all). */
static int log_figures(const log_data *L, cr_time T, figures *f,
                       cr_metrics_report *rep_out) {
  cr_metrics_options mo;
  cr_metrics_options_init(&mo);
  mo.sl_threshold_ms = T;
  mo.sl_abandon = CR_SL_ABANDON_FAIL;
  mo.window_ms = 0;
  mo.breakdowns = 0;
  cr_metrics *m;
  int rc = cr_metrics_new(&m, NULL, &mo);
  if (rc)
    return rc;
  tally t = {0};
  for (size_t i = 0; i < L->n && !rc; i++) {
    const call *c = &L->c[i];
    cr_metrics_record rec;
    cr_metrics_record_init(&rec);
    rec.arrived_at = rec.queued_at = c->q;
    rec.answered_at = c->ans;
    rec.ended_at = c->end;
    rec.handled_by = c->ans != CR_TIME_NONE ? CR_HANDLED_AGENT
                                            : CR_HANDLED_ABANDONED;
    rc = cr_metrics_record_add(m, &rec);
    cr_time w = (c->ans != CR_TIME_NONE ? c->ans : c->end) - c->q;
    t.n += 1;
    t.wait_all_ms += (double)w;
    if (c->ans != CR_TIME_NONE) {
      t.answered += 1;
      t.wait_ans_ms += (double)w;
      t.in_sl += w <= T;
    } else {
      t.abandoned += 1;
    }
  }
  if (!rc)
    rc = cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, rep_out);
  cr_metrics_del(m);
  figures_of(&t, f);
  return rc;
}

enum { R_ANSWERED, R_ABANDON, R_ASA_ANS, R_ASA_ALL, R_SL, R_N };
static const char *const rnames[R_N] = {"answered", "abandon_rate",
                                        "asa_answered_s", "asa_all_s",
                                        "service_level"};

static double fig(const figures *f, int k) {
  switch (k) {
  case R_ANSWERED:
    return f->answered;
  case R_ABANDON:
    return f->abandon;
  case R_ASA_ANS:
    return f->asa_answered;
  case R_ASA_ALL:
    return f->asa_all;
  default:
    return f->sl;
  }
}

int crs_replay_main(int argc, char **argv) {
  const char *path = NULL, *agents = NULL;
  double T = 20;
  int reps = 10, json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--replay") && v) {
      path = v, i++;
    } else if (!strcmp(a, "--agents") && v) {
      agents = v, i++;
    } else if (!strcmp(a, "--target-s") && v) {
      char *e;
      T = strtod(v, &e), i++;
      if (*e || e == v)
        T = -1; /* refused below */
    } else if (!strcmp(a, "--reps") && v) {
      char *e;
      long n = strtol(v, &e, 10);
      reps = *e || e == v || n < 0 || n > 100000 ? 0 : (int)n, i++;
    } else {
      fprintf(stderr, "cr-sim: unknown or incomplete option %s\n", a);
      return 2;
    }
  }
  int fixed = agents && strcmp(agents, "log") && strcmp(agents, "roster");
  long nfixed = 0;
  if (fixed) {
    char *e;
    nfixed = strtol(agents, &e, 10);
    if (*e || e == agents)
      nfixed = 0; /* refused below */
  }
  if (!path || !agents || (fixed && (nfixed < 1 || nfixed > 100000)) ||
      reps < 2 || reps > 1000 || !(T >= 0 && T <= 1e7)) {
    fputs("usage: cr-sim --replay LOG.csv --agents N|log|roster [--target-s 20] "
          "[--reps 10] [--json]\n", stderr);
    return 2;
  }
  log_data L = {0};
  km k = {0};
  rep r = {0};
  int rc = read_log(path, &L) ? 1 : 0;
  if (!rc && km_fit(&L, &k)) {
    fputs("cr-sim: out of memory for the patience estimate\n", stderr);
    rc = 1;
  }
  r.L = &L;
  r.T = (cr_time)llround(T * 1000);
  if (!rc && !fixed) {
    /* --agents log|roster staff by half hours from the first call's hour:
     * a log spanning years (times 1e12 s apart are accepted) would need
     * millions of slots and hang; no real call log is that long. */
    cr_time last = 0;
    for (size_t i = 0; i < L.n; i++)
      last = L.c[i].end > last ? L.c[i].end : last;
    if (last > MAX_SPAN_MS) {
      fprintf(stderr, "cr-sim: %s: the log spans %.0f days; --agents %s "
                      "staffs by half hours over at most %d days (use "
                      "--agents N)\n", path, (double)last / 86400000.0,
              agents, (int)(MAX_SPAN_MS / 86400000));
      rc = 1;
    }
  }
  if (!rc) {
    if (fixed)
      r.nagents = (uint32_t)nfixed;
    else if (!strcmp(agents, "roster"))
      rc = log_staffing(&L, &r) ? 1 : 0;
    else
      rc = busy_staffing(&L, &r) ? 1 : 0;
    if (rc)
      fputs("cr-sim: out of memory for the staffing table\n", stderr);
  }
  figures logf = {0};
  cr_metrics_report mr;
  double x[R_N][1000];
  if (!rc && log_figures(&L, r.T, &logf, &mr)) {
    fputs("cr-sim: the library's metrics refused the log's records\n",
          stderr);
    rc = 1;
  }
  for (int i = 0; !rc && i < reps; i++) {
    memset(&r.t, 0, sizeof r.t);
    if (run_rep(&r, &k, (uint64_t)i + 1, fixed)) {
      rc = 1;
      break;
    }
    figures f;
    figures_of(&r.t, &f);
    for (int j = 0; j < R_N; j++)
      x[j][i] = fig(&f, j);
  }
  if (!rc) {
    double mean[R_N], half[R_N];
    for (int j = 0; j < R_N; j++)
      crs_ci95(x[j], (size_t)reps, &mean[j], &half[j]);
    size_t nab = 0;
    for (size_t i = 0; i < L.n; i++)
      nab += L.c[i].ans == CR_TIME_NONE;
    if (json) {
      printf("{\"contacts\": %zu, \"abandoned_in_log\": %zu, "
             "\"skipped_bot\": %zu, \"skipped_bad\": %zu, \"agents\": ",
             L.n, nab, L.skipped_bot, L.skipped_bad);
      if (fixed)
        printf("%ld", nfixed);
      else
        printf("\"%s\", \"max_agents\": %u", agents, r.nagents);
      printf(", \"target_s\": ");
      crs_json_num(stdout, T);
      printf(", \"reps\": %d, \"log\": {", reps);
      for (int j = 0; j < R_N; j++) {
        printf("%s\"%s\": ", j ? ", " : "", rnames[j]);
        crs_json_num(stdout, fig(&logf, j));
      }
      printf("}, \"log_metrics\": {\"service_level\": ");
      crs_json_num(stdout, mr.service_level);
      printf(", \"asa_s\": ");
      crs_json_num(stdout, mr.asa_s);
      printf(", \"abandon_rate\": ");
      crs_json_num(stdout, mr.abandon_rate);
      printf("}, \"simulated\": {");
      for (int j = 0; j < R_N; j++) {
        printf("%s\"%s\": ", j ? ", " : "", rnames[j]);
        crs_json_num(stdout, mean[j]);
      }
      printf("}, \"ci95\": {");
      for (int j = 0; j < R_N; j++) {
        printf("%s\"%s\": [", j ? ", " : "", rnames[j]);
        crs_json_num(stdout, mean[j] - half[j]);
        printf(", ");
        crs_json_num(stdout, mean[j] + half[j]);
        printf("]");
      }
      printf("}}\n");
    } else {
      printf("replay of %s: %zu contacts queued for an agent (%zu "
             "abandoned), %zu bot-only rows and %zu unusable rows left "
             "out\n", path, L.n, nab, L.skipped_bot, L.skipped_bad);
      if (fixed)
        printf("agents: %ld all day", nfixed);
      else
        printf("agents: per half hour, %s (up to %u)",
               strcmp(agents, "log") ? "the names the log shows serving"
                                     : "the busy agents while callers "
                                       "waited in the log",
               r.nagents);
      printf("; SL threshold %g s; %d replications (patience of answered "
             "calls drawn from Kaplan-Meier given their wait)\n\n", T, reps);
      printf("| figure | log | simulated (mean of %d) | 95%% CI |\n", reps);
      printf("|---|---:|---:|---|\n");
      for (int j = 0; j < R_N; j++)
        printf("| %s | %.4g | %.4g | [%.4g, %.4g] |\n", rnames[j],
               fig(&logf, j), mean[j], mean[j] - half[j], mean[j] + half[j]);
    }
  }
  for (size_t i = 0; i < L.nnames; i++)
    free(L.names[i]);
  free(L.names);
  free(L.c);
  free(k.t);
  free(k.s);
  free(r.staff);
  return rc;
}
