#define _POSIX_C_SOURCE 200809L
/* cr-sim --mmc: a single-skill M/M/N queue (M/M/N+M with --patience-s)
 * simulated through the library's router and measured against the
 * staffing module's Erlang C / Erlang A figures.
 *
 * The model: Poisson arrivals at L per hour for warm-up + H hours, one
 * queue, N identical one-call agents (longest-idle selection, or any
 * router strategy with --strategy; accept at once), exponential handle
 * times with mean S, exponential patience with mean P (none without
 * --patience-s). The run drains after the last arrival, so every contact
 * ends. Handle times and patience are drawn per contact at arrival, so
 * with identical agents a work-conserving FCFS router gives exactly the
 * same waits whichever idle agent each strategy picks: the test checks
 * that every strategy measures the same figures.
 *
 * Measured, with the staffing module's definitions (convroute.h, staffing
 * section), over the contacts that ARRIVE after the warm-up:
 *   p_wait         share not answered in their arrival millisecond
 *   asa_s          mean wait over ALL of them (to answer, or to abandon)
 *   service_level  answered within T over all of them (EA1)
 *   p_abandon      share that abandoned
 * 95 % confidence intervals by batch means (Law & Kelton, "Simulation
 * Modeling and Analysis", ch. 9.5.3): the measured span is cut into B
 * (default 20) equal time batches by arrival; each batch gives one ratio
 * estimate; half-width = t(0.975, B-1) * sd / sqrt(B). Batches are long
 * (hundreds of handle times) next to the queue's relaxation time, so
 * their means are nearly independent.
 *
 * The library's metrics see every contact (warm-up included) as an
 * interaction record; the run checks that their report (answered,
 * abandoned, service level with abandons as failures, ASA over answered)
 * equals the simulator's own tally of the same contacts: "metrics_check". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_core.h"
#include "sim_modes.h"

typedef struct batch {
  double n, waited, wait_ms, in_sl, abandoned;
} batch;

typedef struct mmc {
  double L, S, P, T, H, W;
  int N, B, json, strategy;
  uint64_t seed;
  cr_time warm_ms, span_ms, target_ms;
  batch *b;
  /* every contact, for the metrics cross-check */
  uint64_t all_answered, all_abandoned, all_in_sl;
  double all_wait_answered_ms;
} mmc;

static void on_done(crs_sim *s, const crs_outcome *o, void *ud) {
  (void)s;
  mmc *m = ud;
  int in_sl = o->result == CRS_ANSWERED && o->wait_ms <= m->target_ms;
  if (o->result == CRS_ANSWERED) {
    m->all_answered++;
    m->all_wait_answered_ms += (double)o->wait_ms;
  } else {
    m->all_abandoned++;
  }
  m->all_in_sl += (uint64_t)in_sl;
  if (o->arrived < m->warm_ms)
    return;
  int64_t k = (o->arrived - m->warm_ms) * m->B / m->span_ms;
  if (k >= m->B)
    k = m->B - 1;
  batch *b = &m->b[k];
  b->n += 1;
  b->waited += o->waited;
  b->wait_ms += (double)o->wait_ms;
  b->in_sl += in_sl;
  b->abandoned += o->result != CRS_ANSWERED;
}

static int argnum(int argc, char **argv, int *i, double *out) {
  if (*i + 1 >= argc)
    return -1;
  char *end;
  *out = strtod(argv[++*i], &end);
  return *end || !isfinite(*out) ? -1 : 0;
}

/* --strategy names, in cr_strategy order. */
static const char *const strategies[CR_STRATEGY_COUNT] = {
    "longest-idle", "least-occupied", "fewest-contacts", "least-talk-time",
    "most-proficient", "round-robin", "random", "ring-all"};

static int parse(mmc *m, int argc, char **argv) {
  double v;
  int have = 0;
  m->T = 20;
  m->B = 20;
  m->W = -1;
  m->seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--mmc"))
      continue;
    if (!strcmp(a, "--json")) {
      m->json = 1;
      continue;
    }
    if (!strcmp(a, "--strategy") && i + 1 >= argc) {
      fputs("cr-sim: --strategy needs a name\n", stderr);
      return -1;
    }
    if (!strcmp(a, "--strategy")) {
      const char *name = argv[++i];
      m->strategy = -1;
      for (int k = 0; k < CR_STRATEGY_COUNT; k++)
        if (!strcmp(name, strategies[k]))
          m->strategy = k;
      if (m->strategy < 0) {
        fprintf(stderr, "cr-sim: unknown strategy %s\n", name);
        return -1;
      }
      continue;
    }
    if (argnum(argc, argv, &i, &v)) {
      fprintf(stderr, "cr-sim: %s needs a number\n", a);
      return -1;
    }
    if (!strcmp(a, "--arrivals-per-hour"))
      m->L = v, have |= 1;
    else if (!strcmp(a, "--aht-s"))
      m->S = v, have |= 2;
    else if (!strcmp(a, "--agents"))
      m->N = v >= 1 && v <= 1e6 ? (int)v : 0, have |= 4;
    else if (!strcmp(a, "--hours"))
      m->H = v, have |= 8;
    else if (!strcmp(a, "--patience-s"))
      m->P = v;
    else if (!strcmp(a, "--target-s"))
      m->T = v;
    else if (!strcmp(a, "--seed")) {
      if (!(v >= 0 && v < 1.8e19 && v == floor(v))) {
        fputs("cr-sim: --seed needs a whole number >= 0\n", stderr);
        return -1;
      }
      m->seed = (uint64_t)v;
    }
    else if (!strcmp(a, "--warmup-h")) {
      /* -1 is the "not given" mark: a negative value given is an error,
       * not a quiet switch to the default warm-up */
      if (!(v >= 0)) {
        fputs("cr-sim: --warmup-h needs hours >= 0\n", stderr);
        return -1;
      }
      m->W = v;
    }
    else if (!strcmp(a, "--batches"))
      m->B = v >= 2 && v <= 1000 ? (int)v : 0;
    else {
      fprintf(stderr, "cr-sim: unknown option %s\n", a);
      return -1;
    }
  }
  if (have != 15) {
    fputs("cr-sim --mmc needs --arrivals-per-hour, --aht-s, --agents and "
          "--hours\n",
          stderr);
    return -1;
  }
  /* Upper bounds keep every time in range of cr_time arithmetic (and the
   * router's 2^50 ms durations): a million hours is 3.6e12 ms. */
  if (!(m->L > 0 && m->L <= 1e9) || !(m->S > 0 && m->S <= 1e7) ||
      m->N < 1 || m->N > 100000 || !(m->H > 0 && m->H <= 1e6) ||
      !(m->P >= 0 && m->P <= 1e7) || !(m->T >= 0 && m->T <= 1e7) ||
      m->W > 1e6 || m->B < 2 || m->B > 1000) {
    fputs("cr-sim: need 0 < L <= 1e9, 0 < S <= 1e7, 1 <= N <= 100000, "
          "0 < H <= 1e6, 0 <= P, T <= 1e7, W <= 1e6, 2 <= batches <= 1000\n",
          stderr);
    return -1;
  }
  if (m->W < 0) /* default warm-up: a tenth of the run, >= 20 handle times */
    m->W = fmin(1e6, fmax(0.1 * m->H, 20 * fmax(m->S, m->P) / 3600.0));
  return 0;
}

static int build(mmc *m, crs_sim **out) {
  crs_config cfg;
  crs_config_init(&cfg);
  cfg.seed = m->seed;
  cfg.metric_keys = 0; /* overall figures only: the fast path */
  cfg.metrics.sl_threshold_ms = m->target_ms;
  cfg.metrics.sl_abandon = CR_SL_ABANDON_FAIL;
  cfg.metrics.window_ms = 0;
  cfg.metrics.breakdowns = 0;
  crs_hooks hk = {0};
  hk.done = on_done;
  hk.ud = m;
  crs_sim *s;
  int rc = crs_sim_new(&s, &cfg, &hk);
  if (rc)
    return rc;
  *out = s;
  /* One skill at level 3 for all: most-proficient has a skill to rank
   * (every agent ties, as the model's agents are identical). */
  cr_skill_level sk = {"voice", 5, 3};
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  qc.strategy = m->strategy;
  qc.skills = &sk;
  qc.nskills = 1;
  uint32_t q;
  if ((rc = crs_sim_add_queue(s, "q", &qc, &q)))
    return rc;
  cr_agent_config ac;
  cr_agent_config_init(&ac);
  ac.max_per_channel[CR_CHANNEL_VOICE] = 1;
  ac.skills = &sk;
  ac.nskills = 1;
  for (int i = 0; i < m->N; i++) {
    char id[16];
    uint32_t a;
    snprintf(id, sizeof id, "a%d", i);
    if ((rc = crs_sim_add_agent(s, id, &ac, 0, &a)) ||
        (rc = crs_sim_join(s, a, q, 0)) ||
        (rc = crs_sim_agent_status(s, a, CR_AGENT_AVAILABLE, 0)))
      return rc;
  }
  crs_source src = {0};
  src.queue = q;
  src.channel = CR_CHANNEL_VOICE;
  src.rate_per_hour = m->L;
  src.start_ms = 0;
  src.end_ms = m->warm_ms + m->span_ms;
  src.handle = (crs_dist){CRS_DIST_EXP, m->S, 0};
  src.patience = m->P > 0 ? (crs_dist){CRS_DIST_EXP, m->P, 0}
                          : (crs_dist){CRS_DIST_NONE, 0, 0};
  return crs_sim_add_source(s, &src, NULL);
}

enum { K_PWAIT, K_ASA, K_SL, K_ABANDON, K_COUNT };
static const char *const knames[K_COUNT] = {"p_wait", "asa_s",
                                            "service_level", "p_abandon"};

typedef struct figures {
  double meas[K_COUNT], half[K_COUNT], theory[K_COUNT];
  double asa_answered_theory;
  double contacts;
  int have_theory;
  const char *model;
} figures;

static void estimate(const mmc *m, figures *f) {
  double *x = malloc((size_t)m->B * K_COUNT * sizeof *x);
  double tot[K_COUNT] = {0}, n = 0;
  for (int k = 0; k < m->B; k++) {
    const batch *b = &m->b[k];
    double d = b->n > 0 ? b->n : NAN;
    double e[K_COUNT] = {b->waited / d, b->wait_ms / 1000.0 / d,
                         b->in_sl / d, b->abandoned / d};
    for (int j = 0; j < K_COUNT; j++)
      if (x)
        x[j * m->B + k] = e[j];
    tot[K_PWAIT] += b->waited;
    tot[K_ASA] += b->wait_ms / 1000.0;
    tot[K_SL] += b->in_sl;
    tot[K_ABANDON] += b->abandoned;
    n += b->n;
  }
  f->contacts = n;
  for (int j = 0; j < K_COUNT; j++) {
    double mean;
    f->meas[j] = n > 0 ? tot[j] / n : NAN;
    f->half[j] = NAN;
    if (x)
      crs_ci95(x + j * m->B, (size_t)m->B, &mean, &f->half[j]);
  }
  free(x);
}

static void theory(const mmc *m, figures *f) {
  cr_staffing_req req = {0};
  req.arrivals = m->L;
  req.interval_s = 3600;
  req.aht_s = m->S;
  req.target_s = m->T;
  req.patience_s = m->P;
  cr_staffing st;
  int rc = m->P > 0 ? cr_erlang_a(&req, m->N, &st)
                    : cr_erlang_c(&req, m->N, &st);
  f->model = m->P > 0 ? "erlang_a" : "erlang_c";
  f->have_theory = rc == 0;
  if (rc) {
    for (int j = 0; j < K_COUNT; j++)
      f->theory[j] = NAN;
    f->asa_answered_theory = NAN;
    return;
  }
  f->theory[K_PWAIT] = st.p_wait;
  f->theory[K_ASA] = st.asa_s;
  f->theory[K_SL] = st.service_level;
  f->theory[K_ABANDON] = st.p_abandon;
  f->asa_answered_theory = st.asa_answered_s;
}

/* The library's metrics against the simulator's tally of the same
 * contacts: counts exactly, ratios to 1e-9 relative. */
static int metrics_check(crs_sim *s, const mmc *m, char *why, size_t cap) {
  cr_metrics_report r;
  int rc = cr_metrics_report_get(crs_sim_metrics(s), CR_METRICS_TOTAL, 0, &r);
  if (rc) {
    snprintf(why, cap, "report: %s", cr_strerror(rc));
    return 0;
  }
  double sl = (double)m->all_in_sl / (double)(m->all_answered +
                                               m->all_abandoned);
  double asa = m->all_wait_answered_ms / 1000.0 / (double)m->all_answered;
  if (r.answered != m->all_answered || r.abandoned != m->all_abandoned) {
    snprintf(why, cap, "counts: metrics %llu/%llu, simulator %llu/%llu",
             (unsigned long long)r.answered, (unsigned long long)r.abandoned,
             (unsigned long long)m->all_answered,
             (unsigned long long)m->all_abandoned);
    return 0;
  }
  if (fabs(r.service_level - sl) > 1e-9 * fmax(1, sl) ||
      (m->all_answered && fabs(r.asa_s - asa) > 1e-9 * fmax(1, asa))) {
    snprintf(why, cap, "sl %.12g vs %.12g, asa %.12g vs %.12g",
             r.service_level, sl, r.asa_s, asa);
    return 0;
  }
  snprintf(why, cap, "answered %llu, abandoned %llu, service level and "
                     "ASA (answered) equal",
           (unsigned long long)r.answered, (unsigned long long)r.abandoned);
  return 1;
}

static void print_json(const mmc *m, const figures *f, int ok,
                       const char *why, double wall, const crs_stats *st) {
  printf("{\"model\": \"%s\", \"params\": {\"arrivals_per_hour\": ", f->model);
  crs_json_num(stdout, m->L);
  printf(", \"aht_s\": ");
  crs_json_num(stdout, m->S);
  printf(", \"agents\": %d, \"hours\": ", m->N);
  crs_json_num(stdout, m->H);
  printf(", \"warmup_h\": ");
  crs_json_num(stdout, m->W);
  printf(", \"patience_s\": ");
  crs_json_num(stdout, m->P > 0 ? m->P : NAN);
  printf(", \"target_s\": ");
  crs_json_num(stdout, m->T);
  printf(", \"seed\": %llu, \"batches\": %d, \"strategy\": \"%s\"}",
         (unsigned long long)m->seed, m->B, strategies[m->strategy]);
  const char *obj[3] = {"measured", "ci95", "theory"};
  for (int o = 0; o < 3; o++) {
    printf(", \"%s\": {", obj[o]);
    for (int j = 0; j < K_COUNT; j++) {
      printf("%s\"%s\": ", j ? ", " : "", knames[j]);
      if (o == 0)
        crs_json_num(stdout, f->meas[j]);
      else if (o == 2)
        crs_json_num(stdout, f->theory[j]);
      else {
        printf("[");
        crs_json_num(stdout, f->meas[j] - f->half[j]);
        printf(", ");
        crs_json_num(stdout, f->meas[j] + f->half[j]);
        printf("]");
      }
    }
    printf("}");
  }
  printf(", \"contacts\": %.0f, \"simulated_contacts\": %llu", f->contacts,
         (unsigned long long)(st->answered + st->abandoned));
  printf(", \"metrics_check\": {\"ok\": %s, \"detail\": \"%s\"}",
         ok ? "true" : "false", why);
  printf(", \"wall_s\": ");
  crs_json_num(stdout, wall);
  printf(", \"contacts_per_s\": ");
  crs_json_num(stdout, (double)(st->answered + st->abandoned) / wall);
  printf("}\n");
}

static void print_human(const mmc *m, const figures *f, int ok,
                        const char *why, double wall, const crs_stats *st) {
  printf("M/M/%d%s: %.6g contacts/h, AHT %.6g s", m->N, m->P > 0 ? "+M" : "",
         m->L, m->S);
  if (m->P > 0)
    printf(", mean patience %.6g s", m->P);
  printf("; load %.4g Erlangs; SL threshold %.6g s\n", m->L * m->S / 3600,
         m->T);
  printf("%.6g h measured after %.6g h warm-up (seed %llu): %.0f contacts; "
         "router strategy %s\n\n",
         m->H, m->W, (unsigned long long)m->seed, f->contacts,
         strategies[m->strategy]);
  printf("%-14s %12s %25s %12s %s\n", "", "measured", "95% CI", f->model,
         "inside CI");
  for (int j = 0; j < K_COUNT; j++) {
    double lo = f->meas[j] - f->half[j], hi = f->meas[j] + f->half[j];
    int in = f->theory[j] >= lo - 1e-12 && f->theory[j] <= hi + 1e-12;
    printf("%-14s %12.6f   [%10.6f, %10.6f] %12.6f %s\n", knames[j],
           f->meas[j], lo, hi, f->theory[j],
           f->have_theory ? (in ? "yes" : "NO") : "-");
  }
  printf("\nmetrics check: %s (%s)\n", ok ? "ok" : "FAILED", why);
  printf("%llu contacts simulated in %.3f s: %.0f contacts/s\n",
         (unsigned long long)(st->answered + st->abandoned), wall,
         (double)(st->answered + st->abandoned) / wall);
}

int crs_mmc_main(int argc, char **argv) {
  mmc m;
  memset(&m, 0, sizeof m);
  if (parse(&m, argc, argv))
    return 2;
  m.warm_ms = (cr_time)llround(m.W * 3600000.0);
  m.span_ms = (cr_time)llround(m.H * 3600000.0);
  m.target_ms = (cr_time)llround(m.T * 1000.0);
  m.b = calloc((size_t)m.B, sizeof *m.b);
  if (!m.b)
    return 1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  crs_sim *s = NULL;
  int rc = build(&m, &s);
  if (!rc)
    rc = crs_sim_run(s, CRS_NEVER);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (rc) {
    fprintf(stderr, "cr-sim: %s (%s)\n", s ? crs_sim_errmsg(s) : "",
            cr_strerror(rc));
    crs_sim_del(s);
    free(m.b);
    return 1;
  }
  double wall = (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  figures f;
  memset(&f, 0, sizeof f);
  estimate(&m, &f);
  theory(&m, &f);
  char why[200];
  int ok = metrics_check(s, &m, why, sizeof why);
  if (m.json)
    print_json(&m, &f, ok, why, wall, crs_sim_stats(s));
  else
    print_human(&m, &f, ok, why, wall, crs_sim_stats(s));
  crs_sim_del(s);
  free(m.b);
  return ok ? 0 : 3;
}
