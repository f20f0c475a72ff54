/* Determinism of the conversation engine across snapshot / restore
 * (issue 5: "after a restore, the same inputs give the same outputs (test
 * it on a long randomised run, comparing the journals)").
 *
 * A seeded xorshift64 stream is decoded by the fuzz driver
 * (tests/fuzz/engine_ops.h) into thousands of customer, agent, host and
 * clock events over 200 conversation ids, 120 customers and 24 agents,
 * with the demo intent model (examples/data, Hebrew + English). Everything
 * the engine says -- every journal entry (all fields, the confidence as
 * its bits) and every output callback (send, offer with its whole context,
 * cancel, action, validate, alert, the router's queue log) -- is appended
 * to one byte log.
 *
 *  - Run A goes uninterrupted and keeps its snapshot at four points.
 *  - Run B decodes the same stream but at each point snapshots the engine,
 *    restores it (into a brand-new engine made from the host data only, or
 *    in place into the same engine, alternately) and goes on. The restored
 *    engine's own snapshot must equal A's at that point, and B's whole log
 *    must be byte-identical to A's.
 *  - Run C repeats A with the same seed: identical log. A different seed
 *    gives a different log (the comparison can fail).
 * Every run also checks the driver's invariants (I1..I8 of engine_ops.h)
 * after each call, and that the run reached the whole hybrid flow (offers,
 * accepts, closes, surveys, timeouts...), so the test cannot pass vacuously.
 * The counting allocator checks nothing leaks across the restores. */
#include "cr_test.h"
#include "fuzz/engine_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 6000
#define NPOINTS 4
static const int POINTS[NPOINTS] = {900, 2300, 3700, 5200};

static cr_intent_model *MODEL;

static int setup(void **state) {
  (void)state;
  MODEL = cr_test_demo_model();
  return MODEL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  cr_intent_model_del(MODEL);
  return 0;
}

typedef struct world {
  cr_test_mem tm;
  cr_engine_config cfg;
  cr_router_config rcfg;
} world;

/* 2026-11-22 06:00 UTC, a Sunday, 08:00 at UTC+2: the run crosses closing
 * time (20:00) so after-hours handling is part of it. */
#define T0 1795327200000LL

static cr_engine *make(world *w, eo_drv *d, int fresh) {
  cr_engine *e = NULL;
  assert_int_equal(cr_engine_new(&e, &w->tm.mem, MODEL, &w->cfg), 0);
  assert_int_equal(eo_host_config(e), 0);
  assert_int_equal(eo_set_callbacks(d, e), 0);
  if (fresh) {
    assert_int_equal(eo_router_config(e, d->nagents, T0), 0);
    assert_int_equal(cr_engine_tick(e, T0), 0);
  }
  return e;
}

static void drv_init(eo_drv *d, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->nconv_ids = 200;
  d->ncust_ids = 120;
  d->nagents = 24;
  d->snap_check = 0; /* I2 by journal/output only: thousands of steps */
  d->check_every = 3; /* I4/I5 (a walk of 200 ids + the router) */
  d->rng = seed;
  eo_reset(d, NULL);
  d->trace = getenv("EO_TRACE") != NULL;
}

/* Log every agent in at the start so the run has capacity to route to. */
static void login_all(eo_drv *d) {
  for (int i = 0; i < d->nagents; i++) {
    char id[16];
    int n = snprintf(id, sizeof id, "a%d", i);
    assert_int_equal(cr_router_agent_set_status(cr_engine_router(d->e), id,
                                                (size_t)n, CR_AGENT_AVAILABLE,
                                                NULL, 0, d->now),
                     0);
  }
}

static void check(const eo_drv *d) {
  if (d->bad)
    fail_msg("invariant broken after %ld calls: %s", d->calls, d->why);
}

/* Run A (or C): uninterrupted; snaps[i] gets the snapshot at POINTS[i]. */
static void run_plain(world *w, eo_drv *d, uint64_t seed, void **snaps,
                      size_t *snaplen) {
  drv_init(d, seed);
  cr_test_mem_init(&w->tm);
  d->e = make(w, d, 1);
  d->now = T0;
  login_all(d);
  for (int i = 0, p = 0; i < STEPS; i++) {
    if (snaps && p < NPOINTS && i == POINTS[p]) {
      void *s = NULL;
      assert_int_equal(cr_engine_snapshot(d->e, &s, &snaplen[p]), 0);
      snaps[p] = malloc(snaplen[p]); /* outlives the engine */
      assert_non_null(snaps[p]);
      memcpy(snaps[p], s, snaplen[p]);
      cr_mem_free(&w->tm.mem, s);
      p++;
    }
    eo_step(d);
    check(d);
  }
  cr_engine_del(d->e);
  d->e = NULL;
  assert_int_equal(w->tm.live, 0);
}

/* The run reached the whole flow. */
static void reached(const eo_drv *d) {
  static const int need[] = {
      CR_EV_ANSWER,    CR_EV_UNCLEAR,     CR_EV_ACTION,   CR_EV_COLLECT,
      CR_EV_ACTION_OK, CR_EV_ACTION_FAIL, CR_EV_HUMAN,    CR_EV_HANDOFF,
      CR_EV_OFFER,     CR_EV_ACCEPT,      CR_EV_REJECT,   CR_EV_REPLY,
      CR_EV_STEP,      CR_EV_TRANSFER,    CR_EV_CHANNEL,  CR_EV_CLOSE,
      CR_EV_WRAPUP_END, CR_EV_ABANDON,    CR_EV_BOT_END,  CR_EV_SURVEY,
      CR_EV_OFFER_TIMEOUT};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (d->ev_count[need[i]] == 0)
      fail_msg("the run never journalled %s (%ld entries in all)",
               cr_engine_event_name(need[i]), d->journal_events);
  assert_true(d->journal_events > STEPS / 2);
}

static void test_restore_continues_identically(void **state) {
  (void)state;
  static eo_drv a, b; /* large */
  static world w;
  cr_engine_config_init(&w.cfg);
  eo_engine_cfg(&w.cfg, &w.rcfg);
  void *snaps[NPOINTS] = {0};
  size_t snaplen[NPOINTS] = {0};
  const uint64_t seed = 0x5EED0005ull;

  run_plain(&w, &a, seed, snaps, snaplen);
  printf("  run A: %ld calls, %ld ok, %ld CR_ESTATE, %ld journal entries, "
         "%zu log bytes\n",
         a.calls, a.ok_calls, a.estate, a.journal_events, a.nlog);
  reached(&a);

  /* B: the same stream with snapshot + restore at each point */
  drv_init(&b, seed);
  cr_test_mem_init(&w.tm);
  b.e = make(&w, &b, 1);
  b.now = T0;
  login_all(&b);
  for (int i = 0, p = 0; i < STEPS; i++) {
    if (p < NPOINTS && i == POINTS[p]) {
      void *s = NULL, *s2 = NULL;
      size_t n = 0, n2 = 0;
      assert_int_equal(cr_engine_snapshot(b.e, &s, &n), 0);
      assert_int_equal(n, snaplen[p]);
      assert_memory_equal(s, snaps[p], n);
      if (p % 2 == 0) { /* into a brand-new engine */
        cr_engine *fresh = make(&w, &b, 0);
        assert_int_equal(cr_engine_restore(fresh, s, n), 0);
        cr_engine_del(b.e);
        b.e = fresh;
      } else { /* in place */
        assert_int_equal(cr_engine_restore(b.e, s, n), 0);
      }
      assert_int_equal(cr_engine_snapshot(b.e, &s2, &n2), 0);
      assert_int_equal(n2, n);
      assert_memory_equal(s2, s, n);
      cr_mem_free(&w.tm.mem, s);
      cr_mem_free(&w.tm.mem, s2);
      /* the driver's own checks go on against the restored engine */
      eo_check_convs(&b);
      check(&b);
      p++;
    }
    eo_step(&b);
    check(&b);
  }
  cr_engine_del(b.e);
  assert_int_equal(w.tm.live, 0);
  printf("  run B: %d restores, %zu log bytes\n", NPOINTS, b.nlog);
  assert_int_equal(b.nlog, a.nlog);
  size_t first = 0;
  while (first < a.nlog && a.log[first] == b.log[first])
    first++;
  if (first < a.nlog)
    fail_msg("journals differ from byte %zu of %zu", first, a.nlog);
  for (int p = 0; p < NPOINTS; p++)
    free(snaps[p]);
  free(a.log);
  free(b.log);
  a.log = b.log = NULL;
}

static void test_same_seed_same_journal(void **state) {
  (void)state;
  static eo_drv a, c, x;
  static world w;
  eo_engine_cfg(&w.cfg, &w.rcfg);
  run_plain(&w, &a, 42, NULL, NULL);
  run_plain(&w, &c, 42, NULL, NULL);
  run_plain(&w, &x, 43, NULL, NULL);
  assert_int_equal(a.nlog, c.nlog);
  assert_memory_equal(a.log, c.log, a.nlog);
  assert_true(x.nlog != a.nlog || memcmp(x.log, a.log, a.nlog) != 0);
  free(a.log);
  free(c.log);
  free(x.log);
  a.log = c.log = x.log = NULL;
}

/* Regression (an engine bug this file's driver found; fixed in the engine
 * at HEAD 2026-11-23 06:14): journal time went backwards when the host
 * called the inner router directly (as the header tells it to for agents:
 * agent_set_status) while an engine timer was overdue -- the router's
 * offer was journalled at `now`, the overdue IDLE / BOT_END later, at its
 * earlier deadline. */
static void test_journal_time_after_router_call(void **state) {
  (void)state;
  static eo_drv d;
  static world w;
  eo_engine_cfg(&w.cfg, &w.rcfg);
  drv_init(&d, 1);
  cr_test_mem_init(&w.tm);
  d.nagents = 1;
  cr_engine *e = d.e = make(&w, &d, 1); /* a0 offline, open hours */
  cr_time t = T0 + 3600000;  /* Sunday 09:00 local: open */
  /* c1 is answered by the bot: its idle deadline is t + 15 min */
  assert_int_equal(cr_engine_customer_message(e, EO_S("c1"), EO_S("u1"),
                                              CR_CHANNEL_CHAT, EO_S("hello"),
                                              NULL, 0, t), 0);
  /* c2 asks for a human: queued, no agent logged in */
  assert_int_equal(cr_engine_customer_message(
                       e, EO_S("c2"), EO_S("u2"), CR_CHANNEL_CHAT,
                       EO_S("I want to talk to a human"), NULL, 0, t), 0);
  /* 20 minutes later the agent logs in through the router */
  cr_time t2 = t + 20 * 60000;
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(e),
                                              EO_S("a0"), CR_AGENT_AVAILABLE,
                                              NULL, 0, t2), 0);
  assert_int_equal(cr_engine_tick(e, t2), 0);
  cr_engine_del(e);
  free(d.log);
  d.log = NULL;
  if (d.bad)
    fail_msg("%s", d.why); /* was "journal time ... BOT_END BOT>RESOLVED" */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restore_continues_identically),
      cmocka_unit_test(test_same_seed_same_journal),
      cmocka_unit_test(test_journal_time_after_router_call),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
