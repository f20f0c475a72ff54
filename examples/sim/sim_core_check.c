/* A self-check of cr-sim's kernel on the paths the validation modes do not
 * take (ctest sim_core_check; run in the sanitizer build too): answer
 * delays longer than the offer timeout (RINGNOANSWER), ring-all offers
 * (RINGCANCELED), wrap-up, max-wait exits (EXITWITHTIMEOUT), a full and a
 * closed queue (refusals), shifts (agents going offline while busy and
 * back), piecewise-constant rates, lognormal and fixed handle times,
 * explicit arrivals, and a run stopped half-way and resumed. Checks:
 * every contact that arrived ended exactly once, in one of the four ways,
 * and the hook, the kernel's counts, the router's queue log and the
 * library's metrics agree; the same seed gives the same run, another seed
 * a different one. Also the distributions of sim_rng.h: sample means and
 * variances of 200,000 draws against the exact moments, within 5 standard
 * errors (fixed seed: deterministic; a correct generator fails a check
 * with probability < 1e-6). Exit status 0 when all hold. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim_core.h"

typedef struct tally {
  uint64_t done[4];
  uint64_t ev[CR_REV_COUNT];
  uint64_t bad; /* outcome times out of order */
} tally;

static void on_done(crs_sim *s, const crs_outcome *o, void *ud) {
  (void)s;
  tally *t = ud;
  t->done[o->result]++;
  if (o->ended < o->arrived || o->wait_ms < 0 ||
      (o->result == CRS_ANSWERED &&
       (o->answered < o->arrived || o->ended < o->answered || o->agent < 0)))
    t->bad++;
}

static void on_event(crs_sim *s, const cr_router_event *e, void *ud) {
  (void)s;
  ((tally *)ud)->ev[e->type]++;
}

static int on_user(crs_sim *s, cr_time now, uint32_t a, uint64_t b,
                   void *ud) {
  (void)ud;
  if (a == 1 || a == 2)
    return crs_sim_agent_status(s, (uint32_t)b,
                                a == 1 ? CR_AGENT_OFFLINE
                                       : CR_AGENT_AVAILABLE,
                                now);
  int rc = cr_router_queue_set_open(crs_sim_router(s), "q", 1, (int)b, now);
  return rc ? rc : crs_sim_flush(s);
}

static int fail(const char *what) {
  fprintf(stderr, "sim_core_check: %s\n", what);
  return 1;
}

static int run(uint64_t seed, tally *t, crs_stats *out) {
  memset(t, 0, sizeof *t);
  crs_config cfg;
  crs_config_init(&cfg);
  cfg.seed = seed;
  cfg.answer_delay = (crs_dist){CRS_DIST_EXP, 8, 0};
  cfg.router.offer_timeout_ms = 20000;
  cfg.router.wrapup_ms = 15000;
  cfg.router.auto_away_misses = 0;
  crs_hooks hk = {on_done, on_user, NULL, on_event, t};
  crs_sim *s;
  if (crs_sim_new(&s, &cfg, &hk))
    return fail("new");
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  qc.max_wait_ms = 240000;
  qc.max_wait_action = CR_MAXWAIT_EXIT;
  qc.max_length = 30;
  qc.strategy = CR_STRATEGY_RING_ALL;
  qc.ring_all_max = 2;
  uint32_t q;
  int rc = crs_sim_add_queue(s, "q", &qc, &q);
  cr_agent_config ac;
  cr_agent_config_init(&ac);
  ac.max_per_channel[CR_CHANNEL_VOICE] = 1;
  ac.max_per_channel[CR_CHANNEL_CHAT] = 3;
  for (int i = 0; !rc && i < 10; i++) {
    char id[16];
    uint32_t a;
    snprintf(id, sizeof id, "a%d", i);
    rc = crs_sim_add_agent(s, id, &ac, 1, &a);
    if (!rc)
      rc = crs_sim_join(s, a, q, 0);
    if (!rc) /* a shift gap: off at 1 h (+i min), back at 1.5 h */
      rc = crs_sim_schedule(s, 3600000 + i * 60000, 1, a) ||
           crs_sim_schedule(s, 5400000 + i * 60000, 2, a);
  }
  if (!rc && crs_sim_add_agent(s, "a0", &ac, 1, NULL) != CR_EEXIST)
    return fail("duplicate agent accepted");
  if (!rc) /* closed from 2 h to 2.5 h */
    rc = crs_sim_schedule(s, 7200000, 3, 0) ||
         crs_sim_schedule(s, 9000000, 3, 1);
  double rates[6] = {100, 200, 300, 150, 400, 50};
  crs_source src = {0};
  src.queue = q;
  src.channel = CR_CHANNEL_CHAT;
  src.rates_per_hour = rates;
  src.nrates = 6;
  src.interval_ms = 1800000;
  src.end_ms = CRS_NEVER;
  src.handle = (crs_dist){CRS_DIST_LOGNORMAL, 300, 1.2};
  src.patience = (crs_dist){CRS_DIST_EXP, 200, 0};
  if (!rc)
    rc = crs_sim_add_source(s, &src, NULL);
  src.channel = CR_CHANNEL_VOICE;
  src.rates_per_hour = NULL;
  src.nrates = 0;
  src.rate_per_hour = 30;
  src.end_ms = 10800000;
  src.handle = (crs_dist){CRS_DIST_FIXED, 120, 0};
  src.patience = (crs_dist){CRS_DIST_NONE, 0, 0};
  if (!rc)
    rc = crs_sim_add_source(s, &src, NULL);
  crs_contact c = {0};
  c.queue = q;
  c.channel = CR_CHANNEL_VOICE;
  c.handle_ms = 1000;
  c.patience_ms = CRS_NEVER;
  c.source = UINT32_MAX;
  for (int i = 0; !rc && i < 5; i++)
    rc = crs_sim_arrive_at(s, 100 + i, &c);
  if (!rc)
    rc = crs_sim_run(s, 5000000);
  if (!rc && crs_sim_now(s) != 5000000)
    return fail("run(until) does not stop at until");
  if (!rc && crs_sim_arrive_at(s, 10, &c) != CR_EINVAL)
    return fail("an arrival in the past was accepted");
  if (!rc)
    rc = crs_sim_run(s, CRS_NEVER);
  if (rc) {
    fprintf(stderr, "sim_core_check: %s\n", crs_sim_errmsg(s));
    crs_sim_del(s);
    return 1;
  }
  *out = *crs_sim_stats(s);
  cr_metrics_report r;
  cr_metrics_report_get(crs_sim_metrics(s), CR_METRICS_TOTAL, 0, &r);
  crs_sim_del(s);
  const crs_stats *x = out;
  if (x->in_flight || x->arrived != x->answered + x->abandoned +
                                         x->timed_out + x->refused)
    return fail("a contact did not end exactly once");
  if (t->done[0] != x->answered || t->done[1] != x->abandoned ||
      t->done[2] != x->timed_out || t->done[3] != x->refused || t->bad)
    return fail("the done hook disagrees with the counts");
  if (t->ev[CR_REV_CONNECT] != x->answered ||
      t->ev[CR_REV_COMPLETE] != x->answered ||
      t->ev[CR_REV_ABANDON] != x->abandoned ||
      t->ev[CR_REV_EXITWITHTIMEOUT] != x->timed_out ||
      t->ev[CR_REV_ENTERQUEUE] != x->arrived - x->refused ||
      t->ev[CR_REV_OFFER] != x->offers)
    return fail("the queue log disagrees with the counts");
  if (r.answered != x->answered ||
      r.abandoned != x->abandoned + x->timed_out ||
      r.contacts != x->arrived - x->refused)
    return fail("the metrics disagree with the counts");
  /* every path this check is for was taken */
  if (!t->ev[CR_REV_RINGNOANSWER] || !t->ev[CR_REV_RINGCANCELED] ||
      !t->ev[CR_REV_WRAPUPEND] || !x->timed_out || !x->refused ||
      !x->abandoned || !t->ev[CR_REV_AGENTLOGOFF] ||
      !t->ev[CR_REV_QUEUECLOSE] || !x->ticks)
    return fail("a path was not exercised");
  printf("seed %llu: %llu arrived, %llu answered, %llu abandoned, %llu "
         "timed out, %llu refused; %llu offers, %llu ring-no-answer, %llu "
         "ticks\n",
         (unsigned long long)seed, (unsigned long long)x->arrived,
         (unsigned long long)x->answered, (unsigned long long)x->abandoned,
         (unsigned long long)x->timed_out, (unsigned long long)x->refused,
         (unsigned long long)x->offers,
         (unsigned long long)t->ev[CR_REV_RINGNOANSWER],
         (unsigned long long)x->ticks);
  return 0;
}

/* Sample mean and variance of n draws against the exact moments: the
 * mean within 5 standard errors (sd / sqrt(n)); the variance within 5 of
 * its own standard errors, sqrt((mu4 - var^2) / n), given mu4. */
static int moments(const char *what, double (*draw)(crs_rng *, double),
                   double arg, double mean, double var, double mu4) {
  crs_rng r;
  crs_rng_seed(&r, 2026, 7);
  const int n = 200000;
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) {
    double x = draw(&r, arg);
    s += x;
    ss += x * x;
  }
  double m = s / n, v = ss / n - m * m;
  if (fabs(m - mean) > 5 * sqrt(var / n) ||
      fabs(v - var) > 5 * sqrt((mu4 - var * var) / n)) {
    fprintf(stderr, "sim_core_check: %s: mean %g (want %g), variance %g "
                    "(want %g)\n", what, m, mean, v, var);
    return 1;
  }
  return 0;
}

static double d_exp(crs_rng *r, double mean) { return crs_exp(r, mean); }
static double d_logn(crs_rng *r, double cv) {
  return crs_lognormal(r, 100.0, cv);
}
static double d_pois(crs_rng *r, double mean) {
  return (double)crs_poisson(r, mean);
}
static double d_norm(crs_rng *r, double unused) {
  (void)unused;
  return crs_normal(r);
}

static int check_distributions(void) {
  /* exponential mean m: var m^2, mu4 9 m^4; normal: 1, 3; Poisson l:
   * var l, mu4 l + 3 l^2; lognormal mean 100, cv c: var (100 c)^2, and
   * with w = 1 + c^2, mu4 = 100^4 (w^6 - 4 w^3 + 6 w - 3) */
  int bad = moments("exponential", d_exp, 300, 300, 9e4, 9 * 8.1e9) +
            moments("normal", d_norm, 0, 0, 1, 3) +
            moments("poisson 3", d_pois, 3, 3, 3, 3 + 27) +
            moments("poisson 50", d_pois, 50, 50, 50, 50 + 7500) +
            moments("poisson 4000", d_pois, 4000, 4000, 4000, 4000 + 4.8e7);
  double w = 1 + 0.5 * 0.5;
  bad += moments("lognormal", d_logn, 0.5, 100, 2500,
                 1e8 * (pow(w, 6) - 4 * pow(w, 3) + 6 * w - 3));
  return bad;
}

/* A queue whose metrics key is refused is refused as a whole (its records
 * once went under key 0, another queue's, without a word); with the
 * queue breakdown off no key is needed and the queue is added. */
static int check_queue_keys(void) {
  crs_config cfg;
  crs_config_init(&cfg);
  crs_sim *s;
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  if (crs_sim_new(&s, &cfg, NULL))
    return fail("new");
  int rc = crs_sim_add_queue(s, "bad\xff", &qc, NULL);
  int ok = rc < 0 && crs_sim_queue_count(s) == 0 &&
           crs_sim_add_queue(s, "good", &qc, NULL) == 0 &&
           crs_sim_queue_count(s) == 1;
  crs_sim_del(s);
  if (!ok)
    return fail("a queue with a refused metrics key");
  cfg.metrics.breakdowns &= ~(1u << CR_METRICS_QUEUE);
  if (crs_sim_new(&s, &cfg, NULL))
    return fail("new");
  ok = crs_sim_add_queue(s, "q", &qc, NULL) == 0;
  crs_sim_del(s);
  return ok ? 0 : fail("a queue without the queue breakdown");
}

int main(void) {
  if (check_distributions() || check_queue_keys())
    return 1;
  tally a, b, c;
  crs_stats sa, sb, sc;
  if (run(1, &a, &sa) || run(1, &b, &sb) || run(2, &c, &sc))
    return 1;
  if (memcmp(&a, &b, sizeof a) || memcmp(&sa, &sb, sizeof sa))
    return fail("the same seed gave a different run");
  if (!memcmp(&a, &c, sizeof a))
    return fail("another seed gave the same run");
  puts("sim_core_check: ok");
  return 0;
}
