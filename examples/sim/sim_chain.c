/* cr-sim --chain: skill-based routing sanity check against the known
 * result of Wallace & Whitt (2005), "A staffing algorithm for call
 * centers with skill-based routing" (Manufacturing & Service Operations
 * Management 7(4)): with K call types, agents trained in TWO skills
 * arranged in a chain perform almost as well as agents trained in all K,
 * and far better than agents with one skill each.
 *
 * The centre: K call types (default 6, as in the paper), M agents per type
 * (default 15: 90 agents, as in the paper), Poisson arrivals per type at
 * load R per agent (default 0.9), exponential handle times (mean 300 s,
 * the same for every type and agent, as in the paper's base case),
 * exponential patience (mean 600 s). Three designs, each agent having a
 * primary skill (its "home" type k):
 *   one    skill k only: K separate queues of M agents
 *   chain  skills k and k+1 mod K (the chain closes into a ring)
 *   all    all K skills
 * One router queue per type requiring its skill; an agent joins its
 * primary queue at member priority 0 and its other queues at priority 1,
 * so a freed agent serves its own type first and helps the others when
 * its own queue is empty (the paper's priority of primary skill). An
 * arriving contact goes to the longest-idle eligible agent.
 *
 * Each design runs the same customers (common random numbers: every type
 * is a source with its own streams, seeded by the replication number:
 * (K-1)*R + r + 1 for replication r of R with --seed K, default 1) for
 * R independent replications (default 5) of warm-up (2 h, discarded by
 * arrival time) + H hours (default 20); figures are over all types, with
 * 95 % t intervals over the replications. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_core.h"
#include "sim_modes.h"

enum { D_ONE, D_CHAIN, D_ALL, D_N };
static const char *const dnames[D_N] = {"one", "chain", "all"};
static const char *const dlong[D_N] = {
    "1 skill per agent (no cross-training)", "2 skills per agent, chained",
    "all skills (full cross-training)"};

typedef struct cfgc {
  int K, M, reps, json;
  double R, H, W, aht, patience, T;
  uint64_t seed; /* replication r (0-based) runs seed (seed-1)*reps + r + 1 */
} cfgc;

typedef struct tally {
  double n, waited, wait_ms, in_sl, abandoned;
  cr_time warm_ms, T_ms;
} tally;

static void on_done(crs_sim *s, const crs_outcome *o, void *ud) {
  (void)s;
  tally *t = ud;
  if (o->arrived < t->warm_ms)
    return;
  t->n += 1;
  t->waited += o->waited;
  t->wait_ms += (double)o->wait_ms;
  t->in_sl += o->result == CRS_ANSWERED && o->wait_ms <= t->T_ms;
  t->abandoned += o->result != CRS_ANSWERED;
}

static int has_skill(int design, int home, int k, int K) {
  switch (design) {
  case D_ONE:
    return k == home;
  case D_CHAIN:
    return k == home || k == (home + 1) % K;
  default:
    return 1;
  }
}

static int run_design(const cfgc *c, int design, uint64_t seed, tally *t) {
  crs_config cfg;
  crs_config_init(&cfg);
  cfg.seed = seed;
  cfg.metric_keys = 0;
  cfg.metrics.window_ms = 0;
  cfg.metrics.breakdowns = 0;
  crs_hooks hk = {0};
  hk.done = on_done;
  hk.ud = t;
  crs_sim *s;
  int rc = crs_sim_new(&s, &cfg, &hk);
  if (rc)
    return rc;
  char name[32];
  cr_skill_level req;
  uint32_t q[64];
  for (int k = 0; !rc && k < c->K; k++) {
    cr_queue_config qc;
    cr_queue_config_init(&qc);
    snprintf(name, sizeof name, "skill%d", k);
    req = (cr_skill_level){name, strlen(name), 1};
    qc.skills = &req;
    qc.nskills = 1;
    snprintf(name, sizeof name, "type%d", k);
    char qname[32];
    memcpy(qname, name, sizeof qname);
    snprintf(name, sizeof name, "skill%d", k);
    rc = crs_sim_add_queue(s, qname, &qc, &q[k]);
  }
  char sk[64][16];
  cr_skill_level lv[64];
  for (int h = 0; !rc && h < c->K; h++) {
    size_t n = 0;
    for (int k = 0; k < c->K; k++)
      if (has_skill(design, h, k, c->K)) {
        snprintf(sk[n], sizeof sk[n], "skill%d", k);
        lv[n] = (cr_skill_level){sk[n], strlen(sk[n]), 1};
        n++;
      }
    cr_agent_config ac;
    cr_agent_config_init(&ac);
    ac.max_per_channel[CR_CHANNEL_VOICE] = 1;
    ac.skills = lv;
    ac.nskills = n;
    for (int m = 0; !rc && m < c->M; m++) {
      uint32_t a;
      snprintf(name, sizeof name, "a%d.%d", h, m);
      rc = crs_sim_add_agent(s, name, &ac, 0, &a);
      for (int k = 0; !rc && k < c->K; k++)
        if (has_skill(design, h, k, c->K))
          rc = crs_sim_join(s, a, q[k], k == h ? 0 : 1);
      if (!rc)
        rc = crs_sim_agent_status(s, a, CR_AGENT_AVAILABLE, 0);
    }
  }
  double rate = c->R * c->M * 3600.0 / c->aht; /* per type, per hour */
  for (int k = 0; !rc && k < c->K; k++) {
    crs_source src = {0};
    src.queue = q[k];
    src.channel = CR_CHANNEL_VOICE;
    src.rate_per_hour = rate;
    src.end_ms = (cr_time)llround((c->W + c->H) * 3600000.0);
    src.handle = (crs_dist){CRS_DIST_EXP, c->aht, 0};
    src.patience = c->patience > 0 ? (crs_dist){CRS_DIST_EXP, c->patience, 0}
                                   : (crs_dist){CRS_DIST_NONE, 0, 0};
    rc = crs_sim_add_source(s, &src, NULL);
  }
  if (!rc)
    rc = crs_sim_run(s, CRS_NEVER);
  if (rc)
    fprintf(stderr, "cr-sim: chain: %s\n", crs_sim_errmsg(s));
  crs_sim_del(s);
  return rc;
}

enum { F_PWAIT, F_ASA, F_SL, F_ABANDON, F_N };
static const char *const fnames[F_N] = {"p_wait", "asa_s", "service_level",
                                        "p_abandon"};

static int parse(cfgc *c, int argc, char **argv) {
  c->K = 6, c->M = 15, c->reps = 5, c->R = 0.9, c->H = 20, c->W = 2;
  c->aht = 300, c->patience = 600, c->T = 20, c->seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--chain"))
      continue;
    if (!strcmp(a, "--json")) {
      c->json = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "cr-sim: %s needs a value\n", a);
      return -1;
    }
    char *end;
    double v = strtod(argv[++i], &end);
    if (*end || !isfinite(v)) {
      fprintf(stderr, "cr-sim: %s needs a number\n", a);
      return -1;
    }
    if (!strcmp(a, "--types"))
      c->K = v >= 0 && v <= 1e6 ? (int)v : 0;
    else if (!strcmp(a, "--agents-per-type"))
      c->M = v >= 0 && v <= 1e6 ? (int)v : 0;
    else if (!strcmp(a, "--load"))
      c->R = v;
    else if (!strcmp(a, "--hours"))
      c->H = v;
    else if (!strcmp(a, "--warmup-h"))
      c->W = v;
    else if (!strcmp(a, "--aht-s"))
      c->aht = v;
    else if (!strcmp(a, "--patience-s"))
      c->patience = v;
    else if (!strcmp(a, "--target-s"))
      c->T = v;
    else if (!strcmp(a, "--reps"))
      c->reps = v >= 0 && v <= 1e6 ? (int)v : 0;
    else if (!strcmp(a, "--seed"))
      c->seed = v >= 1 && v <= 1e9 && v == floor(v) ? (uint64_t)v : 0;
    else {
      fprintf(stderr, "cr-sim: unknown option %s\n", a);
      return -1;
    }
  }
  if (c->K < 2 || c->K > 64 || c->M < 1 || c->M > 1000 ||
      !(c->R > 0 && c->R <= 100) || !(c->H > 0 && c->H <= 1e5) ||
      !(c->W >= 0 && c->W <= 1e5) || !(c->aht > 0 && c->aht <= 1e6) ||
      !(c->patience >= 0 && c->patience <= 1e7) ||
      !(c->T >= 0 && c->T <= 1e7) || c->reps < 2 || c->reps > 100 ||
      (c->patience == 0 && c->R >= 1) || !c->seed) {
    fputs("cr-sim --chain: need 2 <= types <= 64, 1 <= agents-per-type <= "
          "1000, load > 0 (< 1 without patience), hours > 0, 2 <= reps <= "
          "100, seed a whole number 1..1e9\n",
          stderr);
    return -1;
  }
  return 0;
}

int crs_chain_main(int argc, char **argv) {
  cfgc c;
  memset(&c, 0, sizeof c);
  if (parse(&c, argc, argv))
    return 2;
  double x[D_N][F_N][100], mean[D_N][F_N], half[D_N][F_N];
  double contacts = 0;
  for (int d = 0; d < D_N; d++)
    for (int r = 0; r < c.reps; r++) {
      tally t = {0};
      t.warm_ms = (cr_time)llround(c.W * 3600000.0);
      t.T_ms = (cr_time)llround(c.T * 1000.0);
      if (run_design(&c, d, (c.seed - 1) * (uint64_t)c.reps + (uint64_t)r + 1,
                     &t))
        return 1;
      contacts += t.n;
      x[d][F_PWAIT][r] = t.waited / t.n;
      x[d][F_ASA][r] = t.wait_ms / 1000.0 / t.n;
      x[d][F_SL][r] = t.in_sl / t.n;
      x[d][F_ABANDON][r] = t.abandoned / t.n;
    }
  for (int d = 0; d < D_N; d++)
    for (int f = 0; f < F_N; f++)
      crs_ci95(x[d][f], (size_t)c.reps, &mean[d][f], &half[d][f]);
  if (c.json) {
    printf("{\"types\": %d, \"agents\": %d, \"load\": ", c.K, c.K * c.M);
    crs_json_num(stdout, c.R);
    printf(", \"reps\": %d, \"seed\": %llu, \"contacts\": %.0f, "
           "\"designs\": {",
           c.reps, (unsigned long long)c.seed, contacts);
    for (int d = 0; d < D_N; d++) {
      printf("%s\"%s\": {", d ? ", " : "", dnames[d]);
      for (int f = 0; f < F_N; f++) {
        printf("%s\"%s\": ", f ? ", " : "", fnames[f]);
        crs_json_num(stdout, mean[d][f]);
        printf(", \"%s_ci95\": [", fnames[f]);
        crs_json_num(stdout, mean[d][f] - half[d][f]);
        printf(", ");
        crs_json_num(stdout, mean[d][f] + half[d][f]);
        printf("]");
      }
      printf("}");
    }
    printf("}}\n");
    return 0;
  }
  printf("Skill chaining (Wallace & Whitt 2005): %d call types, %d agents "
         "(%d per type), load %.2f per agent, AHT %g s, mean patience %g s,"
         " SL threshold %g s; %d replications of %g h after %g h warm-up, "
         "same customers for every design; mean and 95%% CI\n\n",
         c.K, c.K * c.M, c.M, c.R, c.aht, c.patience, c.T, c.reps, c.H, c.W);
  printf("| agents' skills | P(wait) | ASA (s) | service level | "
         "abandoned |\n|---|---:|---:|---:|---:|\n");
  for (int d = 0; d < D_N; d++) {
    printf("| %s |", dlong[d]);
    for (int f = 0; f < F_N; f++) {
      double scale = f == F_ASA ? 1 : 100;
      const char *unit = f == F_ASA ? "" : " %";
      printf(" %.*f%s ± %.*f |", f == F_ASA ? 1 : 1, mean[d][f] * scale,
             unit, f == F_ASA ? 1 : 1, half[d][f] * scale);
    }
    printf("\n");
  }
  return 0;
}
