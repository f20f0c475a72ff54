/* Metrics accumulator: worked examples from outside the project (CSAT,
 * NPS), FCR window edges, each service-level treatment on a hand-checked
 * set, the moving window, bad input, per-group figures, OOM sweep;
 * snapshot round trips, damaged snapshots, snapshot OOM sweep. */
#include "cr_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h" /* cr__crc32, to reseal damaged snapshots */
#include "metrics.h"

#define S(x) ((cr_time)(x) * 1000)
#define DAY S(86400)

static cr_metrics *mk(const cr_metrics_options *o) {
  cr_metrics *m = NULL;
  assert_int_equal(cr_metrics_new(&m, NULL, o), 0);
  return m;
}

static cr_metrics_report rep(const cr_metrics *m) {
  cr_metrics_report r;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &r), 0);
  return r;
}

static void key(cr_metrics_keyref *k, const char *s) {
  k->str = s;
  k->len = s ? strlen(s) : 0;
  k->id = 0;
}

/* An agent-answered contact: arrives at a, waits w, talks t (seconds). */
static cr_metrics_record answered(double a, double w, double t) {
  cr_metrics_record r;
  cr_metrics_record_init(&r);
  r.arrived_at = r.queued_at = (cr_time)(a * 1000);
  r.answered_at = r.arrived_at + (cr_time)(w * 1000);
  r.ended_at = r.answered_at + (cr_time)(t * 1000);
  r.handled_by = CR_HANDLED_AGENT;
  return r;
}

static cr_metrics_record abandoned(double a, double w) {
  cr_metrics_record r;
  cr_metrics_record_init(&r);
  r.arrived_at = r.queued_at = (cr_time)(a * 1000);
  r.ended_at = r.arrived_at + (cr_time)(w * 1000);
  r.handled_by = CR_HANDLED_ABANDONED;
  return r;
}

static void add(cr_metrics *m, const cr_metrics_record *r) {
  int rc = cr_metrics_record_add(m, r);
  if (rc)
    fail_msg("record_add: %s (%s)", cr_errname(rc), cr_metrics_errmsg(m));
}

/* ---- worked examples ---- */

/* CSAT worked example (issue 2): 5:42 4:32 3:10 2:9 1:14 -> top-2 69.16 %
 * (74/107), mean 3.738 (400/107). */
static void test_csat_worked(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  const int counts[6] = {0, 14, 9, 10, 32, 42};
  cr_metrics_survey s;
  for (int v = 1; v <= 5; v++)
    for (int i = 0; i < counts[v]; i++) {
      cr_metrics_survey_init(&s);
      s.at = 0;
      s.csat = v;
      assert_int_equal(cr_metrics_survey_add(m, &s), 0);
    }
  cr_metrics_report r = rep(m);
  assert_int_equal(r.csat_n, 107);
  assert_float_equal(r.csat_top2, 0.6916, 0.00005);
  assert_float_equal(r.csat_mean, 3.738, 0.0005);
  assert_true(isnan(r.nps) && isnan(r.ces_mean) && isnan(r.asa_s));
  cr_metrics_del(m);
}

/* NPS worked example: p = 1/2, d = 1/6, n = 100 -> 33.3 +- 14.6. n = 100
 * cannot hold d = 1/6 exactly, so the formula is checked directly, and an
 * integer set (50 / 33 / 17 of 100) through the accumulator. */
static void test_nps_worked(void **state) {
  (void)state;
  double nps, moe;
  cr__metrics_nps(0.5, 1.0 / 6, 100, &nps, &moe);
  assert_float_equal(nps, 33.3, 0.05);
  assert_float_equal(moe, 14.6, 0.05);

  cr_metrics *m = mk(NULL);
  cr_metrics_survey s;
  for (int i = 0; i < 100; i++) {
    cr_metrics_survey_init(&s);
    s.at = S(i);
    s.nps = i < 50 ? (i % 2 ? 9 : 10) : i < 83 ? (i % 2 ? 7 : 8) : i % 7;
    assert_int_equal(cr_metrics_survey_add(m, &s), 0);
  }
  cr_metrics_report r = rep(m);
  assert_int_equal(r.nps_n, 100);
  assert_int_equal(r.nps_promoters, 50);
  assert_int_equal(r.nps_detractors, 17);
  assert_float_equal(r.nps, 33.0, 1e-9);
  /* 1.96 sqrt(10^4 (0.67 - 0.33^2) / 100) = 14.682 */
  assert_float_equal(r.nps_moe95, 14.682, 0.001);
  cr_metrics_del(m);
}

static void test_ces_and_survey_fcr(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  const int ces[] = {7, 6, 5, 4, 2};
  cr_metrics_survey s;
  for (int i = 0; i < 5; i++) {
    cr_metrics_survey_init(&s);
    s.at = 0;
    s.ces = ces[i];
    s.fcr = i < 3;
    assert_int_equal(cr_metrics_survey_add(m, &s), 0);
  }
  cr_metrics_report r = rep(m);
  assert_float_equal(r.ces_mean, 24.0 / 5, 1e-12);
  assert_float_equal(r.ces_top3, 0.6, 1e-12);
  assert_float_equal(r.fcr_survey, 0.6, 1e-12);
  assert_int_equal(r.fcr_survey_n, 5);
  cr_metrics_del(m);
}

/* ---- FCR ---- */

static cr_metrics_record bot_contact(cr_time at, const char *cust,
                                     const char *intent, int resolved) {
  cr_metrics_record r;
  cr_metrics_record_init(&r);
  r.arrived_at = at;
  r.ended_at = at + S(60);
  r.handled_by = CR_HANDLED_BOT;
  r.resolved = resolved;
  r.customer = cust;
  r.customer_len = strlen(cust);
  key(&r.key[CR_METRICS_INTENT], intent);
  return r;
}

/* The window is closed at its far edge: a repeat arriving exactly
 * fcr_window_ms after the resolved contact ended is a repeat; one ms later
 * it is a new contact and the first one counts as resolved first time. */
static void test_fcr_edges(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL); /* 7-day window */
  cr_metrics_record a = bot_contact(0, "c1", "billing", 1);
  add(m, &a); /* ends at 60 s */
  cr_metrics_report r = rep(m);
  assert_int_equal(r.fcr_pending, 1);
  assert_true(isnan(r.fcr));
  cr_metrics_record b = bot_contact(S(60) + 7 * DAY, "c1", "billing", 0);
  add(m, &b);
  /* Repeated, but counted only when its window closes, like the contacts
   * that are not repeated (no early-repeat bias). */
  r = rep(m);
  assert_int_equal(r.fcr_repeat, 0);
  assert_int_equal(r.fcr_pending, 1);
  assert_true(isnan(r.fcr));
  assert_int_equal(cr_metrics_advance(m, S(60) + 7 * DAY + 1), 0);
  r = rep(m);
  assert_int_equal(r.fcr_repeat, 1);
  assert_int_equal(r.fcr_yes, 0);
  assert_int_equal(r.fcr_pending, 0);
  assert_float_equal(r.fcr, 0.0, 0);
  cr_metrics_del(m);

  m = mk(NULL);
  add(m, &a);
  b = bot_contact(S(60) + 7 * DAY + 1, "c1", "billing", 0);
  add(m, &b);
  r = rep(m);
  assert_int_equal(r.fcr_yes, 1);
  assert_int_equal(r.fcr_repeat, 0);
  assert_float_equal(r.fcr, 1.0, 0);
  cr_metrics_del(m);

  /* Different intent, different customer: not repeats. Then pending at
   * the end of data until the clock passes the window. */
  m = mk(NULL);
  add(m, &a);
  cr_metrics_record c = bot_contact(S(3600), "c1", "delivery", 0);
  cr_metrics_record d = bot_contact(S(7200), "c2", "billing", 0);
  add(m, &c);
  add(m, &d);
  r = rep(m);
  assert_int_equal(r.fcr_pending, 1);
  assert_int_equal(r.fcr_repeat, 0);
  assert_int_equal(cr_metrics_advance(m, S(60) + 7 * DAY), 0);
  assert_int_equal(rep(m).fcr_pending, 1); /* the edge is still inside */
  assert_int_equal(cr_metrics_advance(m, S(60) + 7 * DAY + 1), 0);
  r = rep(m);
  assert_int_equal(r.fcr_pending, 0);
  assert_int_equal(r.fcr_yes, 1);
  cr_metrics_del(m);
}

/* A resolved repeat is itself tracked (the chain moves on); unresolved or
 * unknown-outcome contacts can be repeats but are never FCR candidates;
 * contacts without a customer are not tracked. */
static void test_fcr_chain(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  cr_metrics_record x = bot_contact(0, "c1", "billing", 1);
  add(m, &x);
  x = bot_contact(DAY, "c1", "billing", 1); /* repeat of the first */
  add(m, &x);
  x = bot_contact(3 * DAY, "c1", "billing", CR_METRICS_NONE); /* repeat */
  add(m, &x);
  x = bot_contact(20 * DAY, "c1", "billing", 1);
  add(m, &x);
  x = bot_contact(40 * DAY, "", "billing", 1);
  add(m, &x);
  cr_metrics_report r = rep(m);
  assert_int_equal(r.fcr_repeat, 2);
  assert_int_equal(r.fcr_yes, 1); /* the 20-day one, closed by day 40 */
  assert_int_equal(r.fcr_pending, 0);
  assert_int_equal(r.resolved, 4);
  assert_int_equal(r.unresolved, 0);
  assert_float_equal(r.resolution_rate, 1.0, 0);
  /* per intent group */
  cr_metrics_report g;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_INTENT, 1, &g), 0);
  assert_int_equal(g.fcr_repeat, 2);
  cr_metrics_del(m);
}

/* ---- service level, ASA, abandonment ---- */

/* T = 20 s. Answered with waits 10, 20 (the edge counts as within), 30;
 * abandoned after 5 and 25 s. By hand:
 *   ignore        2 / 3
 *   fail          2 / 5
 *   exclude short 2 / 4 (the 5-s abandon is within T)
 *   ASA 20 s; AHT (60 + 120 + 180 + 3*30 wrap) / 3 = 150 s. */
static void sl_set(cr_metrics *m) {
  const double waits[3] = {10, 20, 30};
  for (int i = 0; i < 3; i++) {
    cr_metrics_record r = answered(100 * i, waits[i], 60 * (i + 1));
    r.wrap_ms = S(30);
    r.transferred = i == 0;
    add(m, &r);
  }
  cr_metrics_record a = abandoned(500, 5);
  add(m, &a);
  a = abandoned(600, 25);
  add(m, &a);
}

static void test_service_level(void **state) {
  (void)state;
  const double want[3] = {2.0 / 3, 2.0 / 5, 2.0 / 4};
  for (int t = 0; t < 3; t++) {
    cr_metrics_options o;
    cr_metrics_options_init(&o);
    o.sl_abandon = t;
    cr_metrics *m = mk(&o);
    sl_set(m);
    cr_metrics_report r = rep(m);
    assert_float_equal(r.service_level, want[t], 1e-12);
    assert_float_equal(r.asa_s, 20.0, 1e-12);
    assert_float_equal(r.aht_s, 150.0, 1e-12);
    assert_float_equal(r.abandon_rate, 2.0 / 5, 1e-12);
    assert_float_equal(r.transfer_rate, 1.0 / 3, 1e-12);
    assert_int_equal(r.answered, 3);
    assert_int_equal(r.abandoned, 2);
    cr_metrics_del(m);
  }
  /* Short abandons (< 10 s) leave the abandonment rate: 1 / (3 + 1). */
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.short_abandon_ms = S(10);
  cr_metrics *m = mk(&o);
  sl_set(m);
  cr_metrics_report r = rep(m);
  assert_int_equal(r.short_abandoned, 1);
  assert_float_equal(r.abandon_rate, 0.25, 1e-12);
  cr_metrics_del(m);
}

/* Bot containment, cost, occupancy. */
static void test_bot_cost_occupancy(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  for (int i = 0; i < 6; i++) { /* 6 closed by the bot */
    cr_metrics_record r = bot_contact(S(i), "", "faq", 1);
    add(m, &r);
  }
  for (int i = 0; i < 2; i++) { /* 2 escalated and answered */
    cr_metrics_record r = answered(100 + i, 5, 100);
    r.escalated = 1;
    add(m, &r);
  }
  cr_metrics_keyref ag;
  key(&ag, "ann");
  assert_int_equal(cr_metrics_agent_time(m, &ag, 0, S(3600), S(2700)), 0);
  key(&ag, "bob");
  assert_int_equal(cr_metrics_agent_time(m, &ag, 0, S(3600), S(1800)), 0);
  cr_metrics_report r = rep(m);
  assert_int_equal(r.bot_handled, 8);
  assert_int_equal(r.bot_contained, 6);
  assert_float_equal(r.containment, 0.75, 1e-12);
  {
    /* a customer who left the bot unhelped (resolved 0) was handled by
     * the bot but not contained; resolved unknown still counts */
    cr_metrics *m2 = mk(NULL);
    cr_metrics_record b = bot_contact(S(1), "", "faq", 0);
    add(m2, &b);
    b = bot_contact(S(2), "", "faq", CR_METRICS_NONE);
    add(m2, &b);
    b = bot_contact(S(3), "", "faq", 1);
    add(m2, &b);
    cr_metrics_report r2 = rep(m2);
    assert_int_equal(r2.bot_handled, 3);
    assert_int_equal(r2.bot_contained, 2);
    assert_float_equal(r2.containment, 2.0 / 3, 1e-12);
    cr_metrics_del(m2);
  }
  assert_float_equal(r.cost, 8 * 0.98 + 2 * 7.76, 1e-9);
  assert_float_equal(r.cost_per_contact, (8 * 0.98 + 2 * 7.76) / 8, 1e-9);
  assert_float_equal(r.occupancy, 4500.0 / 7200, 1e-12);
  cr_metrics_report g;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, 1, &g), 0);
  assert_float_equal(g.occupancy, 0.75, 1e-12);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, 2, &g), 0);
  assert_float_equal(g.occupancy, 0.5, 1e-12);
  assert_true(isnan(g.asa_s));
  assert_int_equal(g.contacts, 0);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, 3, &g),
                   CR_ENOTFOUND);
  assert_int_equal(cr_metrics_report_get(m, 9, 1, &g), CR_EINVAL);
  cr_metrics_del(m);
}

/* ---- per-group figures, keys, surveys after close ---- */

static void test_groups(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  uint32_t voice, ann, bob;
  assert_int_equal(cr_metrics_key(m, CR_METRICS_CHANNEL, "voice", 5, &voice),
                   0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, "ann", 3, &ann), 0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, "bob", 3, &bob), 0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, "ann", 3, &ann), 0);
  assert_int_equal(ann, 1);
  assert_int_equal(bob, 2);
  assert_int_equal(cr_metrics_key_count(m, CR_METRICS_AGENT), 2);
  /* ann answers within 10 s twice, bob at 40 s once; by id and by string */
  cr_metrics_record r = answered(0, 10, 60);
  r.key[CR_METRICS_CHANNEL].id = voice;
  r.key[CR_METRICS_AGENT].id = ann;
  add(m, &r);
  add(m, &r);
  r = answered(0, 40, 60);
  key(&r.key[CR_METRICS_CHANNEL], "voice");
  key(&r.key[CR_METRICS_AGENT], "bob");
  key(&r.key[CR_METRICS_QUEUE], "billing");
  add(m, &r);
  /* a survey that arrives a day later lands with bob */
  cr_metrics_survey s;
  cr_metrics_survey_init(&s);
  s.at = DAY;
  s.csat = 2;
  s.key[CR_METRICS_AGENT].id = bob;
  assert_int_equal(cr_metrics_survey_add(m, &s), 0);

  cr_metrics_report ra, rb, rv, rt = rep(m);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, ann, &ra), 0);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, bob, &rb), 0);
  assert_int_equal(
      cr_metrics_report_get(m, CR_METRICS_CHANNEL, voice, &rv), 0);
  assert_float_equal(ra.service_level, 1.0, 0);
  assert_float_equal(rb.service_level, 0.0, 0);
  assert_float_equal(rv.service_level, 2.0 / 3, 1e-12);
  assert_float_equal(rt.asa_s, 20.0, 1e-12);
  assert_int_equal(rb.csat_n, 1);
  assert_int_equal(ra.csat_n, 0);
  assert_true(isnan(ra.csat_mean));
  const char *name;
  size_t len;
  assert_int_equal(cr_metrics_key_name(m, CR_METRICS_QUEUE, 1, &name, &len),
                   0);
  assert_int_equal(len, 7);
  assert_memory_equal(name, "billing", 7);
  cr_metrics_del(m);

  /* A breakdown that is off ignores its keys. */
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.breakdowns = 1u << CR_METRICS_QUEUE;
  m = mk(&o);
  r = answered(0, 10, 60);
  key(&r.key[CR_METRICS_AGENT], "ann");
  add(m, &r);
  assert_int_equal(cr_metrics_key_count(m, CR_METRICS_AGENT), 0);
  uint32_t id;
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, "ann", 3, &id),
                   CR_ESTATE);
  cr_metrics_del(m);
}

/* ---- moving window ---- */

/* 1-minute buckets, 5-minute window. Contacts end at minute 0..9, one a
 * minute, the first 5 answered within T, the rest after it. At 9:30 the
 * window holds minutes 5..9: 5 contacts, SL 0. At 4:59: minutes 0..4, SL 1.
 * The totals hold all 10. A record older than the window stays out of it. */
static void test_window(void **state) {
  (void)state;
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.window_ms = S(300);
  o.bucket_ms = S(60);
  cr_metrics *m = mk(&o);
  for (int i = 0; i < 10; i++) {
    double wait = i < 5 ? 5 : 50;
    cr_metrics_record r = answered(0, 0, 0);
    r.ended_at = S(60 * i);
    r.answered_at = r.ended_at;
    r.arrived_at = r.queued_at = r.ended_at - S(wait);
    add(m, &r);
  }
  cr_metrics_report w;
  assert_int_equal(cr_metrics_window_get(m, CR_METRICS_TOTAL, 0,
                                         S(9 * 60 + 30), &w),
                   0);
  assert_int_equal(w.contacts, 5);
  assert_float_equal(w.service_level, 0.0, 0);
  assert_true(isnan(w.fcr));
  /* the slots for minutes 0..4 were reused by 5..9: asking for the past
   * sees only what is still held */
  assert_int_equal(
      cr_metrics_window_get(m, CR_METRICS_TOTAL, 0, S(4 * 60 + 59), &w), 0);
  assert_int_equal(w.contacts, 0);
  assert_int_equal(rep(m).contacts, 10);
  /* far in the future: empty window, figures are NAN */
  assert_int_equal(cr_metrics_window_get(m, CR_METRICS_TOTAL, 0, DAY, &w), 0);
  assert_int_equal(w.contacts, 0);
  assert_true(isnan(w.service_level));
  /* a late record for minute 2 is out of the window but in the totals */
  cr_metrics_record late = answered(120, 1, 1);
  add(m, &late);
  assert_int_equal(
      cr_metrics_window_get(m, CR_METRICS_TOTAL, 0, S(9 * 60 + 30), &w), 0);
  assert_int_equal(w.contacts, 5);
  assert_int_equal(rep(m).contacts, 11);
  /* minute 10 evicts minute 5 */
  cr_metrics_record next = answered(600, 1, 1);
  add(m, &next);
  assert_int_equal(
      cr_metrics_window_get(m, CR_METRICS_TOTAL, 0, S(10 * 60), &w), 0);
  assert_int_equal(w.contacts, 5);
  assert_float_equal(w.service_level, 1.0 / 5, 1e-12);

  /* per group: a queue's window holds only its own contacts */
  cr_metrics_record qr = answered(600, 1, 1);
  key(&qr.key[CR_METRICS_QUEUE], "vip");
  add(m, &qr);
  assert_int_equal(
      cr_metrics_window_get(m, CR_METRICS_QUEUE, 1, S(10 * 60), &w), 0);
  assert_int_equal(w.contacts, 1);
  assert_int_equal(
      cr_metrics_window_get(m, CR_METRICS_QUEUE, 2, S(10 * 60), &w),
      CR_ENOTFOUND);
  cr_metrics_del(m);

  /* windows off */
  o.window_ms = 0;
  m = mk(&o);
  assert_int_equal(cr_metrics_window_get(m, CR_METRICS_TOTAL, 0, 0, &w),
                   CR_ESTATE);
  cr_metrics_del(m);
}

/* ---- bad input ---- */

static void same(const cr_metrics *m, const cr_metrics_report *before,
                 uint32_t keys) {
  cr_metrics_report now = rep(m);
  assert_memory_equal(&now, before, sizeof now);
  uint32_t n = 0;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    n += cr_metrics_key_count(m, d);
  assert_int_equal(n, keys);
}

static void test_bad_input(void **state) {
  (void)state;
  cr_metrics *m = mk(NULL);
  cr_metrics_record ok = answered(0, 5, 10);
  ok.customer = "c";
  ok.customer_len = 1;
  ok.resolved = 1;
  add(m, &ok);
  cr_metrics_report before = rep(m);
  struct {
    const char *what;
    int rc;
    const char *field;
  } cases[] = {
      {"csat 6", CR_ERANGE, "csat"},       {"csat 0", CR_ERANGE, "csat"},
      {"nps -1", CR_ERANGE, "nps"},        {"nps 11", CR_ERANGE, "nps"},
      {"ces 8", CR_ERANGE, "ces"},         {"fcr 2", CR_ERANGE, "fcr"},
      {"answered<arr", CR_EORDER, "answered_at"},
      {"ended<answered", CR_EORDER, "ended_at"},
      {"queued<arr", CR_EORDER, "queued_at"},
      {"handled 7", CR_EINVAL, "handled_by"},
      {"handled -1", CR_EINVAL, "handled_by"},
      {"escalated 2", CR_EINVAL, "escalated"},
      {"transferred -1", CR_EINVAL, "transferred"},
      {"resolved 3", CR_EINVAL, "resolved"},
      {"no arrival", CR_EINVAL, "arrived_at"},
      {"no end", CR_EINVAL, "ended_at"},
      {"bot answered", CR_EINVAL, "answered_at"},
      {"wrap -1", CR_ERANGE, "wrap_ms"},
      {"bad utf8 key", CR_EUTF8, "queue"},
      {"bad utf8 customer", CR_EUTF8, "customer"},
      {"unknown id", CR_ENOTFOUND, "agent"},
      {"time beyond 2^62", CR_ERANGE, "ended_at"},
      {"key len without string", CR_EINVAL, "channel"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_metrics_record r = answered(1000, 5, 10);
    /* a new key and a resolved customer: would change state if accepted */
    key(&r.key[CR_METRICS_INTENT], "new-intent");
    r.customer = "c";
    r.customer_len = 1;
    r.resolved = 1;
    switch (i) {
    case 0: r.csat = 6; break;
    case 1: r.csat = 0; break;
    case 2: r.nps = -1; break;
    case 3: r.nps = 11; break;
    case 4: r.ces = 8; break;
    case 5: r.fcr = 2; break;
    case 6: r.answered_at = r.arrived_at - 1; break;
    case 7: r.ended_at = r.answered_at - 1; break;
    case 8: r.queued_at = r.arrived_at - 1; break;
    case 9: r.handled_by = 7; break;
    case 10: r.handled_by = -1; break;
    case 11: r.escalated = 2; break;
    case 12: r.transferred = -1; break;
    case 13: r.resolved = 3; break;
    case 14: r.arrived_at = CR_TIME_NONE; break;
    case 15: r.ended_at = CR_TIME_NONE; break;
    case 16: r.handled_by = CR_HANDLED_BOT; break;
    case 17: r.wrap_ms = -1; break;
    case 18: key(&r.key[CR_METRICS_QUEUE], "\xc3\x28"); break;
    case 19: r.customer = "\xed\xa0\x80"; r.customer_len = 3; break;
    case 20: r.key[CR_METRICS_AGENT].id = 99; break;
    case 21: r.ended_at = INT64_MAX; break;
    case 22: r.key[CR_METRICS_CHANNEL].len = 5; break;
    }
    int rc = cr_metrics_record_add(m, &r);
    if (rc != cases[i].rc)
      fail_msg("%s: got %s, want %s", cases[i].what, cr_errname(rc),
               cr_errname(cases[i].rc));
    if (!strstr(cr_metrics_errmsg(m), cases[i].field))
      fail_msg("%s: errmsg '%s' does not name %s", cases[i].what,
               cr_metrics_errmsg(m), cases[i].field);
    same(m, &before, 0);
  }
  /* surveys and agent time */
  cr_metrics_survey s;
  cr_metrics_survey_init(&s);
  s.at = 0;
  key(&s.key[CR_METRICS_AGENT], "ann");
  assert_int_equal(cr_metrics_survey_add(m, &s), CR_EINVAL); /* no answer */
  s.csat = 6;
  assert_int_equal(cr_metrics_survey_add(m, &s), CR_ERANGE);
  s.csat = 5, s.nps = -1;
  assert_int_equal(cr_metrics_survey_add(m, &s), CR_ERANGE);
  assert_non_null(strstr(cr_metrics_errmsg(m), "nps"));
  s.nps = CR_METRICS_NONE, s.at = CR_TIME_NONE;
  assert_int_equal(cr_metrics_survey_add(m, &s), CR_EINVAL);
  cr_metrics_keyref ag;
  key(&ag, "ann");
  assert_int_equal(cr_metrics_agent_time(m, &ag, 0, 100, 101), CR_ERANGE);
  assert_int_equal(cr_metrics_agent_time(m, &ag, 0, -1, 0), CR_ERANGE);
  same(m, &before, 0);
  assert_int_equal(cr_metrics_record_add(m, NULL), CR_EINVAL);
  assert_int_equal(cr_metrics_record_add(NULL, &ok), CR_EINVAL);
  uint32_t id;
  assert_int_equal(cr_metrics_key(m, 4, "x", 1, &id), CR_EINVAL);
  assert_int_equal(cr_metrics_key(m, 0, "", 0, &id), CR_EINVAL);
  assert_int_equal(cr_metrics_key(m, 0, "\xff", 1, &id), CR_EUTF8);
  same(m, &before, 0);
  /* a good call clears the message */
  add(m, &ok);
  assert_string_equal(cr_metrics_errmsg(m), "");

  /* bad options */
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.sl_abandon = 3;
  cr_metrics *bad = NULL;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  cr_metrics_options_init(&o);
  o.bucket_ms = 0;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  cr_metrics_options_init(&o);
  o.cost_bot = NAN;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  cr_metrics_options_init(&o);
  o.window_ms = DAY * 1000;
  o.bucket_ms = 1;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  assert_null(bad);
  /* ceil(window / bucket) used to overflow here and size the slots from
   * the wrapped value (a heap overflow under ASan) */
  o.window_ms = INT64_MAX;
  o.bucket_ms = INT64_MAX / 2;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  cr_metrics_options_init(&o);
  o.fcr_window_ms = ((cr_time)1 << 50) + 1;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  assert_null(bad);
  /* exactly 100000 buckets is the largest window, one more is refused */
  cr_metrics_options_init(&o);
  o.bucket_ms = 7;
  o.window_ms = 7 * 100000;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), 0);
  cr_metrics_del(bad);
  bad = NULL;
  o.window_ms = 7 * 100000 + 1;
  assert_int_equal(cr_metrics_new(&bad, NULL, &o), CR_EINVAL);
  assert_null(bad);
  /* survey and agent-time times are range-checked like records' */
  cr_metrics_report r0 = rep(m);
  uint32_t nkeys = 0;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    nkeys += cr_metrics_key_count(m, d);
  cr_metrics_survey sv;
  cr_metrics_survey_init(&sv);
  sv.csat = 4;
  sv.at = INT64_MIN + 1;
  assert_int_equal(cr_metrics_survey_add(m, &sv), CR_ERANGE);
  assert_non_null(strstr(cr_metrics_errmsg(m), "at"));
  assert_int_equal(cr_metrics_agent_time(m, NULL, INT64_MAX - 1, 10, 5),
                   CR_ERANGE);
  assert_int_equal(
      cr_metrics_agent_time(m, NULL, 0, ((cr_time)1 << 50) + 1, 0),
      CR_ERANGE);
  same(m, &r0, nkeys);
  cr_metrics_del(NULL);
  cr_metrics_del(m);
}

/* ---- OOM sweep ---- */

/* Feeds a mix of records (new keys, customers, FCR repeats), surveys and
 * agent time. At each failed call the accumulator must be unchanged and,
 * once healed, accept the same call. */
static int oom_step(cr_test_mem *t, cr_metrics *m, int kind, int i) {
  cr_metrics_report before = rep(m);
  uint32_t keys = 0;
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++)
    keys += cr_metrics_key_count(m, d);
  char q[16], a[16], c[16];
  snprintf(q, sizeof q, "q%d", i % 3);
  snprintf(a, sizeof a, "agent-%d", i % 5);
  snprintf(c, sizeof c, "cust-%d", i % 4);
  int rc;
  if (kind == 0) {
    cr_metrics_record r = answered(3600.0 * i, i % 30, 100);
    key(&r.key[CR_METRICS_QUEUE], q);
    key(&r.key[CR_METRICS_AGENT], a);
    key(&r.key[CR_METRICS_INTENT], i % 2 ? "billing" : "delivery");
    key(&r.key[CR_METRICS_CHANNEL], "voice");
    r.customer = c;
    r.customer_len = strlen(c);
    r.resolved = i % 3 != 0;
    r.csat = 1 + i % 5;
    rc = cr_metrics_record_add(m, &r);
  } else if (kind == 1) {
    cr_metrics_survey s;
    cr_metrics_survey_init(&s);
    s.at = S(3600 * i);
    s.nps = i % 11;
    key(&s.key[CR_METRICS_AGENT], a);
    rc = cr_metrics_survey_add(m, &s);
  } else if (kind == 2) {
    cr_metrics_keyref k;
    key(&k, a);
    rc = cr_metrics_agent_time(m, &k, S(3600 * i), S(3600), S(1800));
  } else {
    uint32_t id;
    rc = cr_metrics_key(m, CR_METRICS_QUEUE, q, strlen(q), &id);
  }
  if (rc == CR_ENOMEM) {
    cr_test_mem_heal(t);
    same(m, &before, keys);
    /* still usable */
    cr_metrics_keyref k;
    key(&k, "healed");
    assert_int_equal(cr_metrics_agent_time(m, &k, 0, 10, 5), 0);
    return CR_ENOMEM;
  }
  assert_int_equal(rc, 0);
  return 0;
}

static int oom_body(cr_test_mem *t, void *ctx) {
  (void)ctx;
  cr_metrics *m = NULL;
  int rc = cr_metrics_new(&m, &t->mem, NULL);
  if (rc) {
    assert_int_equal(rc, CR_ENOMEM);
    assert_null(m);
    return rc;
  }
  for (int i = 0; i < 40 && !rc; i++)
    rc = oom_step(t, m, i % 4 == 3 ? 3 : i % 4 == 2 ? 2 : i % 5 == 4 ? 1 : 0,
                  i);
  if (!rc)
    rc = cr_metrics_advance(m, 100 * DAY);
  cr_metrics_del(m);
  return rc;
}

static void test_oom(void **state) {
  (void)state;
  long n = cr_test_oom_sweep(oom_body, NULL);
  assert_true(n > 20);
  cr_test_oom_sweep_persistent(oom_body, NULL);
}

/* ---- snapshot / restore ---- */

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

static int rnd(uint64_t *s, int n) { return (int)(rng_next(s) % (uint64_t)n); }

/* n random events from time *t on: records of every kind over a few keys
 * and customers (so FCR repeats happen), late surveys, agent time, clock
 * advances, keys made by id. The same seed gives the same calls. */
static void feed(cr_metrics *m, uint64_t *rs, int n, cr_time *t) {
  static const char *const ch[] = {"voice", "chat", "email"};
  static const char *const it[] = {"billing", "delivery", "refund", "\xc3\xa9t\xc3\xa9"};
  for (int i = 0; i < n; i++) {
    *t += S(rnd(rs, 4000));
    char q[16], a[16], c[16];
    snprintf(q, sizeof q, "q%d", rnd(rs, 4));
    snprintf(a, sizeof a, "agent-%d", rnd(rs, 7));
    snprintf(c, sizeof c, "cust-%d", rnd(rs, 9));
    int kind = rnd(rs, 10), rc;
    if (kind < 6) {
      cr_metrics_record r;
      int h = rnd(rs, 3);
      if (h == CR_HANDLED_AGENT)
        r = answered((double)*t / 1000, rnd(rs, 60), rnd(rs, 900));
      else if (h == CR_HANDLED_ABANDONED)
        r = abandoned((double)*t / 1000, rnd(rs, 90));
      else {
        cr_metrics_record_init(&r);
        r.arrived_at = *t;
        r.ended_at = *t + S(rnd(rs, 300));
        r.escalated = rnd(rs, 2);
      }
      r.handled_by = h;
      if (h == CR_HANDLED_AGENT) {
        r.wrap_ms = S(rnd(rs, 30));
        r.transferred = rnd(rs, 5) == 0;
        key(&r.key[CR_METRICS_AGENT], a);
      }
      key(&r.key[CR_METRICS_CHANNEL], ch[rnd(rs, 3)]);
      key(&r.key[CR_METRICS_QUEUE], q);
      if (rnd(rs, 5))
        key(&r.key[CR_METRICS_INTENT], it[rnd(rs, 4)]);
      if (rnd(rs, 4)) {
        r.customer = c;
        r.customer_len = strlen(c);
      }
      r.resolved = rnd(rs, 3) == 0 ? CR_METRICS_NONE : rnd(rs, 4) != 0;
      if (rnd(rs, 2))
        r.csat = 1 + rnd(rs, 5);
      if (rnd(rs, 3) == 0)
        r.nps = rnd(rs, 11);
      rc = cr_metrics_record_add(m, &r);
    } else if (kind == 6) {
      cr_metrics_survey s;
      cr_metrics_survey_init(&s);
      s.at = *t - S(rnd(rs, 1200)); /* late: may land in an old bucket */
      s.ces = 1 + rnd(rs, 7);
      s.fcr = rnd(rs, 2);
      key(&s.key[CR_METRICS_AGENT], a);
      rc = cr_metrics_survey_add(m, &s);
    } else if (kind == 7) {
      cr_metrics_keyref k;
      key(&k, a);
      cr_time li = S(1 + rnd(rs, 3600));
      rc = cr_metrics_agent_time(m, &k, *t, li, li / (1 + rnd(rs, 4)));
    } else if (kind == 8) {
      rc = cr_metrics_advance(m, *t + S(rnd(rs, 86400)));
    } else {
      uint32_t id;
      rc = cr_metrics_key(m, CR_METRICS_QUEUE, q, strlen(q), &id);
      if (rc == CR_ESTATE)
        rc = 0; /* that breakdown is off */
    }
    if (rc)
      fail_msg("feed %d: %s (%s)", i, cr_errname(rc), cr_metrics_errmsg(m));
  }
}

static void report_eq(const cr_metrics_report *a, const cr_metrics_report *b,
                      const char *what) {
  /* all members are 8 bytes (no padding) and both reports are computed
   * the same way from the same sums, so equal means bit-equal, NAN too */
  if (memcmp(a, b, sizeof *a))
    fail_msg("reports differ: %s", what);
}

/* Every report of a and b: overall and each group, since start and over
 * the window at several times around `now`. */
static void same_reports(const cr_metrics *a, const cr_metrics *b,
                         cr_time now) {
  cr_metrics_report ra, rb;
  for (int d = CR_METRICS_TOTAL; d < CR_METRICS_DIM_COUNT; d++) {
    uint32_t n = d < 0 ? 1 : cr_metrics_key_count(a, d);
    if (d >= 0) {
      assert_int_equal(n, cr_metrics_key_count(b, d));
    }
    for (uint32_t id = 1; id <= n; id++) {
      if (d >= 0) {
        const char *sa, *sb;
        size_t la, lb;
        assert_int_equal(cr_metrics_key_name(a, d, id, &sa, &la), 0);
        assert_int_equal(cr_metrics_key_name(b, d, id, &sb, &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la);
      }
      assert_int_equal(cr_metrics_report_get(a, d, id, &ra), 0);
      assert_int_equal(cr_metrics_report_get(b, d, id, &rb), 0);
      report_eq(&ra, &rb, "since start");
      for (int k = -3; k <= 12; k++) {
        cr_time at = now + k * S(97);
        int rca = cr_metrics_window_get(a, d, id, at, &ra);
        assert_int_equal(rca, cr_metrics_window_get(b, d, id, at, &rb));
        if (!rca)
          report_eq(&ra, &rb, "window");
      }
    }
  }
}

static cr_metrics *snap_restore(const cr_metrics *m, void **buf,
                                size_t *len) {
  assert_int_equal(cr_metrics_snapshot(m, buf, len), 0);
  cr_metrics *r = NULL;
  int rc = cr_metrics_restore(&r, NULL, *buf, *len);
  if (rc)
    fail_msg("restore: %s", cr_errname(rc));
  return r;
}

static void roundtrip(const cr_metrics_options *o, uint64_t seed) {
  cr_metrics *a = mk(o);
  uint64_t rs = seed;
  cr_time t = S(1700000000);
  feed(a, &rs, 500, &t);
  /* a late record: its repeat window closed before the clock it comes in
   * at, so it waits in the FCR heap for the next advance */
  cr_metrics_record late = answered((double)(t - 20 * DAY) / 1000, 1, 60);
  late.customer = "late";
  late.customer_len = 4;
  late.resolved = 1;
  add(a, &late);
  assert_true(a->nheap > 0 && a->heap[0]->expiry < a->clock);
  void *buf, *buf2;
  size_t len, len2;
  cr_metrics *b = snap_restore(a, &buf, &len);
  same_reports(a, b, t);
  /* the restored object holds the same state: it writes the same bytes */
  assert_int_equal(cr_metrics_snapshot(b, &buf2, &len2), 0);
  assert_int_equal(len, len2);
  assert_memory_equal(buf, buf2, len);
  cr_mem_free(NULL, buf2);
  /* the same later inputs give the same reports */
  uint64_t ra = rs, rb = rs;
  cr_time ta = t, tb = t;
  feed(a, &ra, 300, &ta);
  feed(b, &rb, 300, &tb);
  same_reports(a, b, ta);
  assert_int_equal(cr_metrics_advance(a, ta + 30 * DAY), 0);
  assert_int_equal(cr_metrics_advance(b, tb + 30 * DAY), 0);
  same_reports(a, b, ta);
  cr_metrics_report r = rep(b);
  assert_int_equal(r.fcr_pending, 0);
  assert_true(r.fcr_yes + r.fcr_repeat > 0);
  cr_mem_free(NULL, buf);
  cr_metrics_del(a);
  cr_metrics_del(b);
}

static void test_snapshot_roundtrip(void **state) {
  (void)state;
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.fcr_window_ms = 2 * DAY;
  o.window_ms = S(600);
  o.bucket_ms = S(60);
  o.short_abandon_ms = S(5);
  o.sl_abandon = CR_SL_ABANDON_EXCLUDE_SHORT;
  o.cost_bot = 0.5;
  roundtrip(&o, 0x9E3779B97F4A7C15ull);
  /* no windows, two breakdowns off, defaults otherwise */
  cr_metrics_options_init(&o);
  o.window_ms = 0;
  o.breakdowns = (1u << CR_METRICS_QUEUE) | (1u << CR_METRICS_INTENT);
  roundtrip(&o, 12345);
  roundtrip(NULL, 777);
  /* an empty accumulator */
  cr_metrics *a = mk(NULL), *b;
  void *buf;
  size_t len;
  b = snap_restore(a, &buf, &len);
  same_reports(a, b, 0);
  cr_mem_free(NULL, buf);
  cr_metrics_del(a);
  cr_metrics_del(b);
}

/* A small snapshot with something in every part of the format. */
static void small_snapshot(void **buf, size_t *len) {
  cr_metrics_options o;
  cr_metrics_options_init(&o);
  o.window_ms = S(120); /* small: the corruption test is O(len^2) */
  o.fcr_window_ms = DAY;
  o.breakdowns = (1u << CR_METRICS_QUEUE) | (1u << CR_METRICS_INTENT);
  cr_metrics *m = mk(&o);
  uint64_t rs = 42;
  cr_time t = S(1000);
  feed(m, &rs, 14, &t);
  assert_true(m->nheap > 0);
  assert_int_equal(cr_metrics_snapshot(m, buf, len), 0);
  if (*len >= 12000)
    fail_msg("snapshot of %zu bytes", *len);
  cr_metrics_del(m);
}

static void reseal(uint8_t *p, size_t len) {
  uint32_t c = cr__crc32(0, p, len - 4);
  for (int i = 0; i < 4; i++)
    p[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Whatever a damaged-but-resealed buffer restored to must be usable. */
static void exercise(cr_metrics *m) {
  cr_metrics_report r;
  for (int d = CR_METRICS_TOTAL; d < CR_METRICS_DIM_COUNT; d++) {
    uint32_t n = d < 0 ? 1 : cr_metrics_key_count(m, d);
    for (uint32_t id = 1; id <= n; id++) {
      assert_int_equal(cr_metrics_report_get(m, d, id, &r), 0);
      (void)cr_metrics_window_get(m, d, id, S(5000), &r);
    }
  }
  cr_time t = S(200000);
  for (int i = 0; i < 10; i++) {
    cr_metrics_record rec = answered((double)t / 1000 + i, 3, 40);
    key(&rec.key[CR_METRICS_QUEUE], "q1");
    rec.customer = "cust-1";
    rec.customer_len = 6;
    rec.resolved = 1;
    (void)cr_metrics_record_add(m, &rec);
  }
  (void)cr_metrics_advance(m, t + 10 * DAY);
  void *b;
  size_t n;
  if (cr_metrics_snapshot(m, &b, &n) == 0)
    cr_mem_free(NULL, b);
}

static void test_snapshot_corrupt(void **state) {
  (void)state;
  void *buf;
  size_t len;
  small_snapshot(&buf, &len);
  uint8_t *p = buf;
  cr_metrics *m = NULL;
  /* every truncation */
  for (size_t n = 0; n < len; n++) {
    assert_int_equal(cr_metrics_restore(&m, NULL, p, n), CR_ECORRUPT);
    assert_null(m);
  }
  assert_int_equal(cr_metrics_restore(&m, NULL, NULL, 0), CR_ECORRUPT);
  assert_int_equal(cr_metrics_restore(&m, NULL, NULL, 5), CR_EINVAL);
  assert_int_equal(cr_metrics_restore(NULL, NULL, p, len), CR_EINVAL);
  void *x;
  size_t xn;
  assert_int_equal(cr_metrics_snapshot(NULL, &x, &xn), CR_EINVAL);
  /* a trailing byte */
  uint8_t *big = malloc(len + 1);
  assert_non_null(big);
  memcpy(big, p, len);
  big[len] = 0;
  assert_int_equal(cr_metrics_restore(&m, NULL, big, len + 1), CR_ECORRUPT);
  free(big);
  /* a newer version, resealed: CR_EVERSION; version 0: corrupt */
  uint8_t *q = malloc(len);
  assert_non_null(q);
  memcpy(q, p, len);
  q[8] = 2;
  reseal(q, len);
  assert_int_equal(cr_metrics_restore(&m, NULL, q, len), CR_EVERSION);
  q[8] = 0;
  reseal(q, len);
  assert_int_equal(cr_metrics_restore(&m, NULL, q, len), CR_ECORRUPT);
  /* options that make no sense, resealed: window_ms (bytes 52-59) and
   * bucket_ms (60-67) that overflowed the slot count -- refused */
  memcpy(q, p, len);
  for (int i = 0; i < 8; i++) {
    q[52 + i] = (uint8_t)((uint64_t)INT64_MAX >> (8 * i));
    q[60 + i] = (uint8_t)((uint64_t)(INT64_MAX / 2) >> (8 * i));
  }
  reseal(q, len);
  assert_int_equal(cr_metrics_restore(&m, NULL, q, len), CR_ECORRUPT);
  assert_null(m);
  /* single-byte flips: the CRC catches each; resealed, they either parse
   * to something usable or are refused -- never a crash or an overread */
  int ok = 0, refused = 0;
  for (size_t i = 0; i < len; i++) {
    for (int bit = 0; bit < 8; bit += 7) {
      memcpy(q, p, len);
      q[i] ^= (uint8_t)(1u << bit);
      assert_int_equal(cr_metrics_restore(&m, NULL, q, len), CR_ECORRUPT);
      assert_null(m);
      if (i >= len - 4)
        continue;
      reseal(q, len);
      int rc = cr_metrics_restore(&m, NULL, q, len);
      if (rc == 0) {
        ok++;
        exercise(m);
        cr_metrics_del(m);
        m = NULL;
      } else {
        assert_true(rc == CR_ECORRUPT || rc == CR_EVERSION);
        assert_null(m);
        refused++;
      }
    }
  }
  /* counters are unchecked data, structure is checked: both happen */
  assert_true(ok > 0 && refused > 0);
  free(q);
  cr_mem_free(NULL, buf);
}

typedef struct snap_ctx {
  const void *buf;
  size_t len;
} snap_ctx;

/* Restore into t's allocator, then snapshot the copy: a failed restore
 * leaves nothing; a failed snapshot leaves the copy as it was. */
static int snap_oom_body(cr_test_mem *t, void *ctx) {
  const snap_ctx *c = ctx;
  cr_metrics *m = NULL;
  int rc = cr_metrics_restore(&m, &t->mem, c->buf, c->len);
  if (rc) {
    assert_int_equal(rc, CR_ENOMEM);
    assert_null(m);
    return rc;
  }
  void *b = NULL;
  size_t n = 0;
  rc = cr_metrics_snapshot(m, &b, &n);
  if (rc) {
    assert_int_equal(rc, CR_ENOMEM);
    cr_test_mem_heal(t);
    assert_int_equal(cr_metrics_snapshot(m, &b, &n), 0);
  }
  assert_int_equal(n, c->len);
  assert_memory_equal(b, c->buf, n);
  cr_mem_free(&t->mem, b);
  cr_metrics_del(m);
  return rc;
}

static void test_snapshot_oom(void **state) {
  (void)state;
  snap_ctx c;
  void *buf;
  small_snapshot(&buf, &c.len);
  c.buf = buf;
  long n = cr_test_oom_sweep(snap_oom_body, &c);
  assert_true(n > 10);
  cr_test_oom_sweep_persistent(snap_oom_body, &c);
  cr_mem_free(NULL, buf);
}

/* A custom allocator with a NULL member is refused. */
static void test_mem_incomplete(void **state) {
  (void)state;
  cr_mem bad = {0};
  cr_metrics *m = NULL;
  assert_int_equal(cr_metrics_new(&m, &bad, NULL), CR_EINVAL);
  assert_int_equal(cr_metrics_new(NULL, NULL, NULL), CR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csat_worked),
      cmocka_unit_test(test_nps_worked),
      cmocka_unit_test(test_ces_and_survey_fcr),
      cmocka_unit_test(test_fcr_edges),
      cmocka_unit_test(test_fcr_chain),
      cmocka_unit_test(test_service_level),
      cmocka_unit_test(test_bot_cost_occupancy),
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_mem_incomplete),
      cmocka_unit_test(test_snapshot_roundtrip),
      cmocka_unit_test(test_snapshot_corrupt),
      cmocka_unit_test(test_snapshot_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
