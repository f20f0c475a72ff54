/* The router: each test is a small hand-checked scenario, read top to
 * bottom like a supervisor's log. Times are ms; S("x") passes a string
 * literal as pointer + length. */
#include "cr_test.h"

#include "crc32.h"
#include "router.h"
#include "fuzz/router_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(x) (x), strlen(x)
#define SEC 1000

/* ---- event recorder ---------------------------------------------- */

typedef struct rec {
  char *log;
  size_t n, cap;
  int count[CR_REV_COUNT];
  char last_offer_conv[32], last_offer_agent[32];
  cr_time last_time[CR_REV_COUNT];
} rec;

static void rec_line(rec *r, const char *s) {
  size_t k = strlen(s);
  if (r->n + k + 1 > r->cap) {
    r->cap = (r->n + k + 1) * 2 + 1024;
    r->log = realloc(r->log, r->cap);
    assert_non_null(r->log);
  }
  memcpy(r->log + r->n, s, k + 1);
  r->n += k;
}

static void on_event(const cr_router_event *ev, void *ud) {
  rec *r = ud;
  char line[256];
  snprintf(line, sizeof line, "%lld %s %.*s %.*s %.*s %lld %lld\n",
           (long long)ev->time, cr_router_event_name(ev->type),
           (int)ev->conv_len, ev->conv ? ev->conv : "", (int)ev->agent_len,
           ev->agent ? ev->agent : "", (int)ev->queue_len,
           ev->queue ? ev->queue : "", (long long)ev->data1,
           (long long)ev->data2);
  rec_line(r, line);
  r->count[ev->type]++;
  r->last_time[ev->type] = ev->time;
  if (ev->type == CR_REV_OFFER) {
    snprintf(r->last_offer_conv, sizeof r->last_offer_conv, "%.*s",
             (int)ev->conv_len, ev->conv);
    snprintf(r->last_offer_agent, sizeof r->last_offer_agent, "%.*s",
             (int)ev->agent_len, ev->agent);
  }
}

static void rec_clear(rec *r) {
  free(r->log);
  memset(r, 0, sizeof *r);
}

static cr_router *mk(rec *ev, const cr_router_config *cfg) {
  cr_router *r = NULL;
  assert_int_equal(cr_router_new(&r, NULL, cfg), 0);
  cr_router_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.event = on_event;
  cb.user_data = ev;
  assert_int_equal(cr_router_set_callbacks(r, &cb), 0);
  return r;
}

/* ---- terse builders ---------------------------------------------- */

/* spec: "voice:1 chat:3 sms:2 total:100 $voice:100 $chat:20 +billing:3
 * wrap:5000" */
static void agent_cfg(const char *spec, cr_agent_config *cfg,
                      cr_skill_level *sk, char names[][16]) {
  cr_agent_config_init(cfg);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  size_t n = 0;
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
    char *colon = strchr(t, ':');
    assert_non_null(colon);
    *colon = 0;
    long v = atol(colon + 1);
    if (t[0] == '+') {
      snprintf(names[n], 16, "%s", t + 1);
      sk[n].skill = names[n];
      sk[n].skill_len = strlen(names[n]);
      sk[n].level = (int)v;
      n++;
    } else if (t[0] == '$') {
      cfg->cost[cr_channel_parse(S(t + 1))] = (uint32_t)v;
    } else if (!strcmp(t, "total")) {
      cfg->total_capacity = (uint32_t)v;
    } else if (!strcmp(t, "wrap")) {
      cfg->wrapup_ms = v;
    } else {
      int ch = cr_channel_parse(S(t));
      assert_true(ch >= 0);
      cfg->max_per_channel[ch] = (uint32_t)v;
    }
  }
  cfg->skills = sk;
  cfg->nskills = n;
}

static int add_agent(cr_router *r, const char *id, const char *spec,
                     cr_time t) {
  cr_agent_config cfg;
  cr_skill_level sk[8];
  char names[8][16];
  agent_cfg(spec, &cfg, sk, names);
  return cr_router_agent_add(r, S(id), &cfg, t);
}

/* An available agent, member of queue q (priority 0, no delay). */
static void agent_in(cr_router *r, const char *id, const char *q,
                     const char *spec, cr_time t) {
  assert_int_equal(add_agent(r, id, spec, t), 0);
  assert_int_equal(cr_router_agent_join(r, S(id), S(q), 0, 0, t), 0);
  assert_int_equal(
      cr_router_agent_set_status(r, S(id), CR_AGENT_AVAILABLE, NULL, 0, t),
      0);
}

static void add_queue(cr_router *r, const char *id, int strategy, cr_time t) {
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.strategy = strategy;
  assert_int_equal(cr_router_queue_add(r, S(id), &q, t), 0);
}

static int enq(cr_router *r, const char *c, const char *q, int channel,
               int prio, cr_time t) {
  cr_conv_params p;
  cr_conv_params_init(&p);
  p.channel = channel;
  p.priority = prio;
  return cr_router_enqueue(r, S(c), S(q), &p, t);
}

static int enq_steps(cr_router *r, const char *c, const char *q,
                     const cr_route_step *st, size_t n, cr_time t) {
  cr_conv_params p;
  cr_conv_params_init(&p);
  p.steps = st;
  p.nsteps = n;
  return cr_router_enqueue(r, S(c), S(q), &p, t);
}

/* The agent currently offered conversation c (only one offer), or "". */
static const char *offered_to(rec *ev, const char *c) {
  return strcmp(ev->last_offer_conv, c) ? "" : ev->last_offer_agent;
}

static int state_of(cr_router *r, const char *c) {
  cr_conv_info ci;
  if (cr_router_conv_info(r, S(c), &ci))
    return -1;
  return ci.state;
}

static void checked(cr_router *r) {
  int rc = cr__router_check(r);
  if (rc)
    fail_msg("invariant: %s", cr_router_errmsg(r));
}

static void accept_last(cr_router *r, rec *ev, cr_time t) {
  assert_int_equal(cr_router_accept(r, S(ev->last_offer_conv),
                                    S(ev->last_offer_agent), t),
                   0);
}

/* Away with no reason (NULL, 0) is allowed and reported with an empty
 * reason (memcpy of a NULL source, even of 0 bytes, is undefined: UBSan). */
static void t_away_without_reason(void **state) {
  (void)state;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", CR_STRATEGY_LONGEST_IDLE, 0);
  agent_in(r, "a1", "q", "chat:2", 0);
  assert_int_equal(cr_router_agent_set_status(r, S("a1"), CR_AGENT_AWAY,
                                              NULL, 0, 1 * SEC),
                   0);
  cr_agent_stats as;
  assert_int_equal(cr_router_agent_stats(r, S("a1"), 1 * SEC, &as), 0);
  assert_int_equal(as.status, CR_AGENT_AWAY);
  assert_int_equal(ev.count[CR_REV_PAUSE], 1);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- strategies ---------------------------------------------------- */

/* a1 takes c1 and c2 while a2 is away; a2 comes back later, so a1 is the
 * longest idle (last offered at 3 s) but a2 is the least occupied. Then
 * c1, c2 end: a1 has 2 contacts, a2 none; occupancy ties at 0. */
static const char *pick_after_history(int strategy, int end_first) {
  static char out[32];
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", strategy, 0);
  agent_in(r, "a1", "q", "chat:4", 0);
  agent_in(r, "a2", "q", "chat:4", 1 * SEC);
  cr_router_agent_set_status(r, S("a2"), CR_AGENT_AWAY, S("break"), 1 * SEC);
  enq(r, "c1", "q", CR_CHANNEL_CHAT, 0, 2 * SEC);
  accept_last(r, &ev, 2 * SEC);
  enq(r, "c2", "q", CR_CHANNEL_CHAT, 0, 3 * SEC);
  accept_last(r, &ev, 3 * SEC);
  cr_router_agent_set_status(r, S("a2"), CR_AGENT_AVAILABLE, NULL, 0,
                             4 * SEC);
  if (end_first) {
    assert_int_equal(cr_router_end(r, S("c1"), 60 * SEC), 0);
    assert_int_equal(cr_router_end(r, S("c2"), 70 * SEC), 0);
  }
  enq(r, "c3", "q", CR_CHANNEL_CHAT, 0, 100 * SEC);
  snprintf(out, sizeof out, "%s", offered_to(&ev, "c3"));
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
  return out;
}

static void t_strategy_idle_occupied_contacts(void **s) {
  (void)s;
  /* with load on a1: longest idle -> a1 (idle since 3 s vs 4 s) */
  assert_string_equal(pick_after_history(CR_STRATEGY_LONGEST_IDLE, 0), "a1");
  assert_string_equal(pick_after_history(CR_STRATEGY_LEAST_OCCUPIED, 0), "a2");
  /* after both ended: occupancy ties -> longest idle: a2 (available since
   * 4 s) before a1 (idle since its last chat ended at 70 s); contacts 2
   * vs 0 */
  assert_string_equal(pick_after_history(CR_STRATEGY_LEAST_OCCUPIED, 1), "a2");
  assert_string_equal(pick_after_history(CR_STRATEGY_FEWEST_CONTACTS, 1),
                      "a2");
  /* talk time: a1 talked 58 s + 67 s, a2 nothing */
  assert_string_equal(pick_after_history(CR_STRATEGY_LEAST_TALK_TIME, 1),
                      "a2");
}

/* Longest idle counts from the agent's last change of workload (an offer,
 * a conversation or wrap-up ending) or status, as Avaya's most-idle agent
 * and Asterisk's leastrecent do: an agent back from a call is idle since
 * it ended, not since it was offered the call. */
static void t_longest_idle_from_last_end(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", CR_STRATEGY_LONGEST_IDLE, 0);
  agent_in(r, "a1", "q", "voice:1", 0);
  enq(r, "c1", "q", CR_CHANNEL_VOICE, 0, 1 * SEC);
  assert_string_equal(offered_to(&ev, "c1"), "a1");
  accept_last(r, &ev, 1 * SEC);
  agent_in(r, "a2", "q", "voice:1", 5 * SEC);
  assert_int_equal(cr_router_end(r, S("c1"), 10 * SEC), 0);
  enq(r, "c2", "q", CR_CHANNEL_VOICE, 0, 20 * SEC); /* a2: idle since 5 s */
  assert_string_equal(offered_to(&ev, "c2"), "a2");
  /* a chat agent with room stays in line, but each change of its load
   * sends it to the back */
  add_queue(r, "m", CR_STRATEGY_LONGEST_IDLE, 30 * SEC);
  agent_in(r, "b1", "m", "chat:3", 30 * SEC);
  agent_in(r, "b2", "m", "chat:3", 31 * SEC);
  enq(r, "d1", "m", CR_CHANNEL_CHAT, 0, 32 * SEC);
  assert_string_equal(offered_to(&ev, "d1"), "b1");
  accept_last(r, &ev, 32 * SEC);
  enq(r, "d2", "m", CR_CHANNEL_CHAT, 0, 33 * SEC);
  assert_string_equal(offered_to(&ev, "d2"), "b2");
  accept_last(r, &ev, 33 * SEC);
  assert_int_equal(cr_router_end(r, S("d1"), 40 * SEC), 0); /* b1 to back */
  enq(r, "d3", "m", CR_CHANNEL_CHAT, 0, 41 * SEC);
  assert_string_equal(offered_to(&ev, "d3"), "b2");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_strategy_talk_time_order(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", CR_STRATEGY_LEAST_TALK_TIME, 0);
  agent_in(r, "a1", "q", "chat:1", 0);
  agent_in(r, "a2", "q", "chat:1", 0);
  enq(r, "c1", "q", CR_CHANNEL_CHAT, 0, 1 * SEC); /* a1 (tie: agent order) */
  assert_string_equal(offered_to(&ev, "c1"), "a1");
  accept_last(r, &ev, 1 * SEC);
  enq(r, "c2", "q", CR_CHANNEL_CHAT, 0, 2 * SEC);
  assert_string_equal(offered_to(&ev, "c2"), "a2");
  accept_last(r, &ev, 2 * SEC);
  cr_router_end(r, S("c2"), 100 * SEC); /* a2 talked 98 s */
  cr_router_end(r, S("c1"), 11 * SEC + 100 * SEC); /* a1 talked 110 s */
  enq(r, "c3", "q", CR_CHANNEL_CHAT, 0, 200 * SEC);
  assert_string_equal(offered_to(&ev, "c3"), "a2");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_strategy_most_proficient(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.strategy = CR_STRATEGY_MOST_PROFICIENT;
  cr_skill_level need = {S("billing"), 2};
  q.skills = &need;
  q.nskills = 1;
  assert_int_equal(cr_router_queue_add(r, S("q"), &q, 0), 0);
  agent_in(r, "a1", "q", "chat:2 +billing:2", 0); /* longest idle */
  agent_in(r, "a2", "q", "chat:2 +billing:5", 1 * SEC);
  agent_in(r, "a3", "q", "chat:2 +billing:3", 2 * SEC);
  agent_in(r, "a4", "q", "chat:2 +billing:1", 3 * SEC); /* not qualified */
  enq(r, "c1", "q", CR_CHANNEL_CHAT, 0, 5 * SEC);
  assert_string_equal(offered_to(&ev, "c1"), "a2");
  enq(r, "c2", "q", CR_CHANNEL_CHAT, 0, 6 * SEC);
  assert_string_equal(offered_to(&ev, "c2"), "a2");
  enq(r, "c3", "q", CR_CHANNEL_CHAT, 0, 7 * SEC); /* a2 full: next level */
  assert_string_equal(offered_to(&ev, "c3"), "a3");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_strategy_round_robin(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", CR_STRATEGY_ROUND_ROBIN, 0);
  /* a3 joins first, then a1, then a2: the rotation follows join order,
   * not idle time */
  agent_in(r, "a3", "q", "chat:10", 5 * SEC);
  agent_in(r, "a1", "q", "chat:10", 6 * SEC);
  agent_in(r, "a2", "q", "chat:10", 7 * SEC);
  const char *want[] = {"a3", "a1", "a2", "a3", "a1", "a2", "a3"};
  for (int i = 0; i < 7; i++) {
    char c[16];
    snprintf(c, sizeof c, "c%d", i);
    enq(r, c, "q", CR_CHANNEL_CHAT, 0, (10 + i) * SEC);
    assert_string_equal(offered_to(&ev, c), want[i]);
    accept_last(r, &ev, (10 + i) * SEC);
  }
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void random_counts(uint64_t seed, int counts[3], char *first,
                          size_t nfirst) {
  rec ev = {0};
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.seed = seed;
  cr_router *r = mk(&ev, &cfg);
  add_queue(r, "q", CR_STRATEGY_RANDOM, 0);
  agent_in(r, "a0", "q", "chat:9999", 0);
  agent_in(r, "a1", "q", "chat:9999", 0);
  agent_in(r, "a2", "q", "chat:9999", 0);
  counts[0] = counts[1] = counts[2] = 0;
  for (int i = 0; i < 3000; i++) {
    char c[16];
    snprintf(c, sizeof c, "c%d", i);
    enq(r, c, "q", CR_CHANNEL_CHAT, 0, i);
    const char *a = offered_to(&ev, c);
    assert_true(a[0] == 'a');
    counts[a[1] - '0']++;
    if ((size_t)i < nfirst)
      first[i] = a[1];
  }
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_strategy_random(void **s) {
  (void)s;
  int c1[3], c2[3], c3[3];
  char f1[40], f2[40], f3[40];
  random_counts(42, c1, f1, sizeof f1);
  random_counts(42, c2, f2, sizeof f2);
  random_counts(7, c3, f3, sizeof f3);
  /* same seed, same choices; another seed, other choices */
  assert_memory_equal(f1, f2, sizeof f1);
  assert_memory_not_equal(f1, f3, sizeof f1);
  /* uniform: 1000 expected each, binomial sd ~26; allow 6 sd */
  for (int i = 0; i < 3; i++) {
    assert_true(c1[i] > 840 && c1[i] < 1160);
    assert_true(c3[i] > 840 && c3[i] < 1160);
  }
}

static void t_strategy_ring_all(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.strategy = CR_STRATEGY_RING_ALL;
  q.ring_all_max = 2;
  assert_int_equal(cr_router_queue_add(r, S("small"), &q, 0), 0);
  agent_in(r, "a1", "small", "voice:1", 0);
  agent_in(r, "a2", "small", "voice:1", 0);
  agent_in(r, "a3", "small", "voice:1", 0);
  enq(r, "c1", "small", CR_CHANNEL_VOICE, 0, 1 * SEC);
  /* two parallel offers (ring_all_max), to the two longest idle */
  assert_int_equal(ev.count[CR_REV_OFFER], 2);
  cr_conv_info ci;
  cr_router_conv_info(r, S("c1"), &ci);
  assert_int_equal(ci.offers, 2);
  assert_int_equal(cr_router_accept(r, S("c1"), S("a3"), 2 * SEC),
                   CR_ESTATE); /* a3 was not rung */
  assert_int_equal(cr_router_accept(r, S("c1"), S("a2"), 2 * SEC), 0);
  assert_int_equal(ev.count[CR_REV_RINGCANCELED], 1); /* a1's offer */
  assert_int_equal(ev.count[CR_REV_CONNECT], 1);
  assert_non_null(strstr(ev.log, "RINGCANCELED c1 a1"));
  cr_router_conv_info(r, S("c1"), &ci);
  assert_int_equal(ci.state, CR_CONV_ASSIGNED);
  assert_memory_equal(ci.agent, "a2", 2);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- capacity -------------------------------------------------------- */

static void t_capacity_voice_blocks_chat(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  /* one voice call, or up to three chats and two SMS */
  agent_in(r, "a", "q",
           "voice:1 chat:3 sms:2 total:100 $voice:100 $chat:20 $sms:20", 0);
  enq(r, "v1", "q", CR_CHANNEL_VOICE, 0, 1 * SEC);
  accept_last(r, &ev, 1 * SEC);
  enq(r, "ch1", "q", CR_CHANNEL_CHAT, 0, 2 * SEC);
  assert_int_equal(state_of(r, "ch1"), CR_CONV_WAITING); /* call blocks */
  cr_router_end(r, S("v1"), 10 * SEC);
  assert_int_equal(state_of(r, "ch1"), CR_CONV_OFFERED);
  accept_last(r, &ev, 10 * SEC);
  /* three chats and two SMS fit together */
  enq(r, "ch2", "q", CR_CHANNEL_CHAT, 0, 11 * SEC);
  accept_last(r, &ev, 11 * SEC);
  enq(r, "ch3", "q", CR_CHANNEL_CHAT, 0, 12 * SEC);
  accept_last(r, &ev, 12 * SEC);
  enq(r, "s1", "q", CR_CHANNEL_SMS, 0, 13 * SEC);
  accept_last(r, &ev, 13 * SEC);
  enq(r, "s2", "q", CR_CHANNEL_SMS, 0, 14 * SEC);
  accept_last(r, &ev, 14 * SEC);
  cr_agent_stats st;
  cr_router_agent_stats(r, S("a"), 15 * SEC, &st);
  assert_int_equal(st.active, 5);
  assert_int_equal(st.cost_used, 100);
  assert_true(fabs(st.occupancy - 1.0) < 1e-9);
  enq(r, "ch4", "q", CR_CHANNEL_CHAT, 0, 15 * SEC);
  enq(r, "v2", "q", CR_CHANNEL_VOICE, 0, 15 * SEC);
  assert_int_equal(state_of(r, "ch4"), CR_CONV_WAITING);
  assert_int_equal(state_of(r, "v2"), CR_CONV_WAITING);
  /* one SMS ends: 80 used; a chat would fit the total but chat is at its
   * maximum of 3, and the call needs 100 */
  cr_router_end(r, S("s1"), 20 * SEC);
  assert_int_equal(state_of(r, "ch4"), CR_CONV_WAITING);
  assert_int_equal(state_of(r, "v2"), CR_CONV_WAITING);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_capacity_one_call_or_five_chats(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "voice:1 chat:10 total:100 $voice:100 $chat:20", 0);
  for (int i = 0; i < 6; i++) {
    char c[16];
    snprintf(c, sizeof c, "c%d", i);
    enq(r, c, "q", CR_CHANNEL_CHAT, 0, i * SEC);
  }
  /* five offers held as reservations, the sixth waits */
  assert_int_equal(ev.count[CR_REV_OFFER], 5);
  assert_int_equal(state_of(r, "c5"), CR_CONV_WAITING);
  enq(r, "v", "q", CR_CHANNEL_VOICE, 0, 10 * SEC);
  assert_int_equal(state_of(r, "v"), CR_CONV_WAITING);
  /* per-channel limits alone (no total): a call AND two chats */
  assert_int_equal(add_agent(r, "b", "voice:1 chat:2", 11 * SEC), 0);
  cr_router_agent_join(r, S("b"), S("q"), 0, 0, 11 * SEC);
  cr_router_agent_set_status(r, S("b"), CR_AGENT_AVAILABLE, NULL, 0,
                             11 * SEC);
  cr_agent_stats st;
  cr_router_agent_stats(r, S("b"), 11 * SEC, &st);
  assert_int_equal(st.load[CR_CHANNEL_VOICE], 1);
  assert_int_equal(st.load[CR_CHANNEL_CHAT], 1); /* only c5 was left */
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- steps ------------------------------------------------------------ */

static void t_relaxation_keeps_place(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "chat:1 +es:2", 0);
  enq(r, "busy", "q", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  cr_skill_level es4 = {S("es"), 4}, es1 = {S("es"), 1};
  cr_route_step st[2] = {{CR_STEP_SKILLS, NULL, 0, &es4, 1, 10 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, &es1, 1, 0}};
  assert_int_equal(enq_steps(r, "c1", "q", st, 2, 1 * SEC), 0);
  assert_int_equal(enq_steps(r, "c2", "q", st + 1, 1, 2 * SEC), 0);
  /* the relaxation fires at exactly 11 s even though we look at 15 s */
  assert_int_equal(cr_router_next_expiry(r), 11 * SEC);
  cr_router_tick(r, 15 * SEC);
  assert_non_null(strstr(ev.log, "STEP c1  q 1"));
  cr_conv_info ci;
  cr_router_conv_info(r, S("c1"), &ci);
  assert_int_equal(ci.step, 1);
  assert_int_equal(ci.arrival, 1 * SEC);
  /* the agent frees: c1, relaxed, still comes before c2 */
  cr_router_end(r, S("busy"), 20 * SEC);
  assert_string_equal(ev.last_offer_conv, "c1");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_relaxation_before_expiry_skips(void **s) {
  (void)s;
  /* before c1 relaxes, a freed es:2 agent serves the younger c2 */
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "chat:1 +es:2", 0);
  enq(r, "busy", "q", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  cr_skill_level es4 = {S("es"), 4}, es1 = {S("es"), 1};
  cr_route_step st[2] = {{CR_STEP_SKILLS, NULL, 0, &es4, 1, 10 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, &es1, 1, 0}};
  enq_steps(r, "c1", "q", st, 2, 1 * SEC);
  enq_steps(r, "c2", "q", st + 1, 1, 2 * SEC);
  cr_router_end(r, S("busy"), 5 * SEC);
  assert_string_equal(ev.last_offer_conv, "c2");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_tightening(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "lo", "q", "chat:1 +billing:2", 0);
  agent_in(r, "hi", "q", "chat:1 +billing:5 +he:4", 0);
  enq(r, "x1", "q", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  enq(r, "x2", "q", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  /* any agent for 10 s, then billing >= 4 AND Hebrew >= 3 (requirements
   * added over time: "reverse bullseye") */
  cr_skill_level tight[2] = {{S("billing"), 4}, {S("he"), 3}};
  cr_route_step st[2] = {{CR_STEP_SKILLS, NULL, 0, NULL, 0, 10 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, tight, 2, 0}};
  enq_steps(r, "c", "q", st, 2, 1 * SEC);
  cr_router_end(r, S("x1"), 20 * SEC); /* "lo" frees after the tightening */
  assert_int_equal(state_of(r, "c"), CR_CONV_WAITING);
  cr_router_end(r, S("x2"), 30 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "hi");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_sticky_expiry(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "last", "q", "chat:1", 0);
  agent_in(r, "other", "q", "chat:1", 0);
  enq(r, "x", "q", CR_CHANNEL_CHAT, 0, 0);
  assert_string_equal(offered_to(&ev, "x"), "last");
  accept_last(r, &ev, 0);
  /* wait up to 30 s for the last agent, then anyone */
  cr_route_step st[2] = {{CR_STEP_AGENT, S("last"), NULL, 0, 30 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, NULL, 0, 0}};
  enq_steps(r, "c", "q", st, 2, 1 * SEC);
  assert_int_equal(state_of(r, "c"), CR_CONV_WAITING); /* other is free */
  cr_router_tick(r, 30 * SEC);
  assert_int_equal(state_of(r, "c"), CR_CONV_WAITING);
  cr_router_tick(r, 31 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "other");
  assert_int_equal(ev.last_time[CR_REV_OFFER], 31 * SEC);
  /* and when the sticky agent frees in time, it gets it */
  enq_steps(r, "d", "q", st, 2, 40 * SEC);
  cr_router_end(r, S("x"), 50 * SEC);
  assert_string_equal(offered_to(&ev, "d"), "last");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_sticky_offline_not_stranded(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "other", "q", "chat:1", 0);
  assert_int_equal(add_agent(r, "gone", "chat:1", 0), 0); /* offline */
  cr_route_step st[2] = {{CR_STEP_AGENT, S("gone"), NULL, 0, 300 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, NULL, 0, 0}};
  enq_steps(r, "c", "q", st, 2, 1 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "other"); /* at once */
  /* an unknown agent, as the only step: the queue's defaults apply */
  cr_route_step only = {CR_STEP_AGENT, S("nobody"), NULL, 0, 0};
  cr_router_end(r, S("c"), 2 * SEC); /* c was only offered: CR_ESTATE */
  accept_last(r, &ev, 2 * SEC);
  cr_router_end(r, S("c"), 3 * SEC);
  enq_steps(r, "d", "q", &only, 1, 4 * SEC);
  assert_string_equal(offered_to(&ev, "d"), "other");
  accept_last(r, &ev, 4 * SEC);
  /* the sticky agent logs out while the customer waits for them */
  agent_in(r, "fav", "q", "chat:1", 5 * SEC);
  cr_router_agent_set_status(r, S("fav"), CR_AGENT_AWAY, S("meeting"),
                             5 * SEC);
  cr_route_step st2[2] = {{CR_STEP_AGENT, S("fav"), NULL, 0, 300 * SEC},
                          {CR_STEP_SKILLS, NULL, 0, NULL, 0, 0}};
  enq_steps(r, "e", "q", st2, 2, 6 * SEC);
  assert_int_equal(state_of(r, "e"), CR_CONV_WAITING); /* away: waits */
  cr_router_end(r, S("d"), 7 * SEC); /* "other" frees, but e is sticky */
  assert_int_equal(state_of(r, "e"), CR_CONV_WAITING);
  cr_router_agent_set_status(r, S("fav"), CR_AGENT_OFFLINE, NULL, 0, 8 * SEC);
  assert_string_equal(offered_to(&ev, "e"), "other");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- overflow ---------------------------------------------------------- */

static void t_overflow_by_delay(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "backup", 0, 0);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.overflow_queue = "backup";
  q.overflow_queue_len = 6;
  q.overflow_after_ms = 60 * SEC;
  assert_int_equal(cr_router_queue_add(r, S("main"), &q, 0), 0);
  agent_in(r, "b", "backup", "chat:1", 0);
  enq(r, "busy", "backup", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  enq(r, "old", "main", CR_CHANNEL_CHAT, 0, 1 * SEC);
  enq(r, "young", "backup", CR_CHANNEL_CHAT, 0, 30 * SEC);
  assert_int_equal(cr_router_next_expiry(r), 61 * SEC);
  cr_router_tick(r, 61 * SEC);
  assert_non_null(strstr(ev.log, "61000 OVERFLOW old  backup 0"));
  /* in the backup queue, "old" keeps its place ahead of "young" */
  cr_router_end(r, S("busy"), 70 * SEC);
  assert_string_equal(ev.last_offer_conv, "old");
  cr_queue_stats st;
  cr_router_queue_stats(r, S("main"), 70 * SEC, &st);
  assert_int_equal(st.overflowed_out, 1);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_overflow_by_ewt(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "backup", 0, 0);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.overflow_queue = "backup";
  q.overflow_queue_len = 6;
  q.overflow_ewt_ms = 120 * SEC;
  q.aht_hint_ms = 300 * SEC;
  assert_int_equal(cr_router_queue_add(r, S("main"), &q, 0), 0);
  agent_in(r, "m", "main", "voice:1", 0);
  agent_in(r, "b", "backup", "voice:1", 0);
  enq(r, "v0", "main", CR_CHANNEL_VOICE, 0, 0); /* EWT 0: stays */
  assert_string_equal(offered_to(&ev, "v0"), "m");
  accept_last(r, &ev, 0);
  /* EWT in main = (0 + 1) x 300 s / 1 slot = 300 s > 120 s, and backup has
   * a free agent (EWT 0): overflow on entry */
  cr_time ewt;
  cr_router_ewt(r, S("main"), CR_CHANNEL_VOICE, 1 * SEC, &ewt);
  assert_int_equal(ewt, 300 * SEC);
  enq(r, "v1", "main", CR_CHANNEL_VOICE, 0, 1 * SEC);
  assert_non_null(strstr(ev.log, "OVERFLOW v1  backup 1"));
  assert_string_equal(offered_to(&ev, "v1"), "b");
  accept_last(r, &ev, 1 * SEC);
  /* now both are busy and backup's EWT (300 s) is not lower: stays */
  enq(r, "v2", "main", CR_CHANNEL_VOICE, 0, 2 * SEC);
  cr_conv_info ci;
  cr_router_conv_info(r, S("v2"), &ci);
  assert_memory_equal(ci.queue, "main", 4);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_overflow_by_service_level(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "backup", 0, 0);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.overflow_queue = "backup";
  q.overflow_queue_len = 6;
  q.overflow_sl_below = 0.8;
  assert_int_equal(cr_router_queue_add(r, S("main"), &q, 0), 0);
  agent_in(r, "m", "main", "voice:1", 0);
  enq(r, "v0", "main", CR_CHANNEL_VOICE, 0, 0);
  accept_last(r, &ev, 100 * SEC); /* answered after 100 s > 20 s */
  cr_queue_stats st;
  cr_router_queue_stats(r, S("main"), 100 * SEC, &st);
  assert_true(st.service_level == 0.0);
  enq(r, "v1", "main", CR_CHANNEL_VOICE, 0, 101 * SEC);
  assert_non_null(strstr(ev.log, "OVERFLOW v1  backup 2"));
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- ordering ------------------------------------------------------------ */

static void t_priority_and_urgency(void **s) {
  (void)s;
  for (int urgency = 0; urgency < 2; urgency++) {
    rec ev = {0};
    cr_router *r = mk(&ev, NULL);
    cr_queue_config q;
    cr_queue_config_init(&q);
    q.urgency_percent = urgency ? 50 : 0; /* at 10 s of the 20 s target */
    q.urgency_boost = 10;
    assert_int_equal(cr_router_queue_add(r, S("q"), &q, 0), 0);
    agent_in(r, "a", "q", "voice:1", 0);
    enq(r, "busy", "q", CR_CHANNEL_VOICE, 0, 0);
    accept_last(r, &ev, 0);
    enq(r, "low", "q", CR_CHANNEL_VOICE, 0, 1 * SEC);
    enq(r, "vip", "q", CR_CHANNEL_VOICE, 5, 8 * SEC);
    cr_router_end(r, S("busy"), 12 * SEC);
    /* without urgency the VIP jumps the line; with it, "low" reached its
     * urgency at 11 s (eff 10 > 5) */
    assert_string_equal(ev.last_offer_conv, urgency ? "low" : "vip");
    if (urgency)
      assert_non_null(strstr(ev.log, "11000 PRIORITY low  q 10 1"));
    checked(r);
    cr_router_del(r);
    rec_clear(&ev);
  }
}

static void t_fairness_across_queues(void **s) {
  (void)s;
  for (int prefer_q1 = 0; prefer_q1 < 2; prefer_q1++) {
    rec ev = {0};
    cr_router *r = mk(&ev, NULL);
    add_queue(r, "q1", 0, 0);
    add_queue(r, "q2", 0, 0);
    assert_int_equal(add_agent(r, "a", "chat:1", 0), 0);
    cr_router_agent_join(r, S("a"), S("q1"), 0, 0, 0);
    cr_router_agent_join(r, S("a"), S("q2"), prefer_q1 ? 1 : 0, 0, 0);
    enq(r, "c1", "q2", CR_CHANNEL_CHAT, 0, 1 * SEC);
    enq(r, "c2", "q1", CR_CHANNEL_CHAT, 0, 5 * SEC);
    enq(r, "c3", "q2", CR_CHANNEL_CHAT, 0, 6 * SEC);
    enq(r, "c4", "q1", CR_CHANNEL_CHAT, 0, 7 * SEC);
    cr_router_agent_set_status(r, S("a"), CR_AGENT_AVAILABLE, NULL, 0,
                               10 * SEC);
    /* equal member priority: the longest waiter across both queues */
    const char *fair[] = {"c1", "c2", "c3", "c4"};
    const char *pref[] = {"c2", "c4", "c1", "c3"};
    for (int i = 0; i < 4; i++) {
      assert_string_equal(ev.last_offer_conv, prefer_q1 ? pref[i] : fair[i]);
      accept_last(r, &ev, (10 + i) * SEC);
      cr_router_end(r, S(prefer_q1 ? pref[i] : fair[i]), (10 + i) * SEC);
    }
    checked(r);
    cr_router_del(r);
    rec_clear(&ev);
  }
}

static void t_member_delay(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  assert_int_equal(add_agent(r, "backup", "chat:1", 0), 0);
  /* this agent only sees q's conversations after they waited 20 s */
  cr_router_agent_join(r, S("backup"), S("q"), 0, 20 * SEC, 0);
  cr_router_agent_set_status(r, S("backup"), CR_AGENT_AVAILABLE, NULL, 0, 0);
  enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 1 * SEC);
  assert_int_equal(state_of(r, "c"), CR_CONV_WAITING);
  assert_int_equal(cr_router_next_expiry(r), 21 * SEC);
  cr_router_tick(r, 25 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "backup");
  assert_int_equal(ev.last_time[CR_REV_OFFER], 21 * SEC);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- offers -------------------------------------------------------------- */

static void t_offer_reject_and_timeout(void **s) {
  (void)s;
  rec ev = {0};
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.offer_timeout_ms = 10 * SEC;
  cfg.decline_block_ms = 30 * SEC;
  cfg.auto_away_misses = 0;
  cr_router *r = mk(&ev, &cfg);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a1", "q", "chat:1", 0);
  agent_in(r, "a2", "q", "chat:1", 1 * SEC);
  enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 2 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "a1");
  assert_int_equal(cr_router_reject(r, S("c"), S("a2"), 3 * SEC), CR_ESTATE);
  assert_int_equal(cr_router_reject(r, S("c"), S("a1"), 3 * SEC), 0);
  assert_string_equal(offered_to(&ev, "c"), "a2"); /* next candidate */
  /* a2 lets it ring: RINGNOANSWER exactly at 13 s */
  cr_router_tick(r, 20 * SEC);
  assert_non_null(strstr(ev.log, "13000 RINGNOANSWER c a2 q 10000 1"));
  /* both declined recently: it waits until a1's block ends at 33 s */
  assert_int_equal(state_of(r, "c"), CR_CONV_WAITING);
  cr_router_tick(r, 40 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "a1");
  assert_int_equal(ev.last_time[CR_REV_OFFER], 33 * SEC);
  cr_queue_stats qs;
  cr_router_queue_stats(r, S("q"), 40 * SEC, &qs);
  assert_int_equal(qs.offers_rejected, 1);
  assert_int_equal(qs.offers_missed, 1);
  cr_agent_stats as;
  cr_router_agent_stats(r, S("a2"), 40 * SEC, &as);
  assert_int_equal(as.offers_missed, 1);
  assert_int_equal(as.consecutive_misses, 1);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_auto_away(void **s) {
  (void)s;
  rec ev = {0};
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.offer_timeout_ms = 10 * SEC;
  cfg.auto_away_misses = 2;
  cr_router *r = mk(&ev, &cfg);
  add_queue(r, "q", 0, 0);
  agent_in(r, "sleepy", "q", "chat:2", 0);
  enq(r, "c1", "q", CR_CHANNEL_CHAT, 0, 1 * SEC);
  enq(r, "c2", "q", CR_CHANNEL_CHAT, 0, 2 * SEC);
  cr_router_tick(r, 11 * SEC); /* first miss */
  cr_agent_stats as;
  cr_router_agent_stats(r, S("sleepy"), 11 * SEC, &as);
  assert_int_equal(as.status, CR_AGENT_AVAILABLE);
  cr_router_tick(r, 12 * SEC); /* second miss: paused */
  cr_router_agent_stats(r, S("sleepy"), 12 * SEC, &as);
  assert_int_equal(as.status, CR_AGENT_AWAY);
  assert_non_null(strstr(ev.log, "12000 PAUSE  sleepy"));
  assert_int_equal(state_of(r, "c1"), CR_CONV_WAITING);
  assert_int_equal(state_of(r, "c2"), CR_CONV_WAITING);
  /* back from auto-away: the count starts again */
  cr_router_agent_set_status(r, S("sleepy"), CR_AGENT_AVAILABLE, NULL, 0,
                             60 * SEC);
  cr_router_agent_stats(r, S("sleepy"), 60 * SEC, &as);
  assert_int_equal(as.consecutive_misses, 0);
  assert_int_equal(as.offers_pending, 2);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_wrapup(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.wrapup_ms = 10 * SEC;
  assert_int_equal(cr_router_queue_add(r, S("q"), &q, 0), 0);
  agent_in(r, "own", "q", "voice:1 wrap:30000", 0); /* agent's own 30 s */
  agent_in(r, "dflt", "q", "voice:1", 0);           /* the queue's 10 s */
  enq(r, "c1", "q", CR_CHANNEL_VOICE, 0, 0);
  accept_last(r, &ev, 0);
  enq(r, "c2", "q", CR_CHANNEL_VOICE, 0, 0);
  accept_last(r, &ev, 0);
  cr_router_end(r, S("c1"), 100 * SEC);
  cr_router_end(r, S("c2"), 100 * SEC);
  cr_agent_stats as;
  cr_router_agent_stats(r, S("own"), 100 * SEC, &as);
  assert_int_equal(as.status, CR_AGENT_WRAPUP);
  enq(r, "c3", "q", CR_CHANNEL_VOICE, 0, 101 * SEC);
  assert_int_equal(state_of(r, "c3"), CR_CONV_WAITING);
  cr_router_tick(r, 200 * SEC);
  /* "dflt" is free at 110 s, "own" only at 130 s */
  assert_string_equal(offered_to(&ev, "c3"), "dflt");
  assert_int_equal(ev.last_time[CR_REV_OFFER], 110 * SEC);
  assert_non_null(strstr(ev.log, "130000 WRAPUPEND  own"));
  /* ending wrap-up early */
  accept_last(r, &ev, 200 * SEC);
  cr_router_end(r, S("c3"), 210 * SEC);
  enq(r, "c4", "q", CR_CHANNEL_VOICE, 0, 211 * SEC);
  assert_string_equal(offered_to(&ev, "c4"), "own");
  accept_last(r, &ev, 211 * SEC);
  enq(r, "c5", "q", CR_CHANNEL_VOICE, 0, 212 * SEC);
  assert_int_equal(state_of(r, "c5"), CR_CONV_WAITING);
  cr_router_agent_end_wrapup(r, S("dflt"), 213 * SEC);
  assert_string_equal(offered_to(&ev, "c5"), "dflt");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_abandon_and_resume(void **s) {
  (void)s;
  rec ev = {0};
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.reentry_grace_ms = 60 * SEC;
  cr_router *r = mk(&ev, &cfg);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "chat:1", 0);
  enq(r, "busy", "q", CR_CHANNEL_CHAT, 0, 0);
  accept_last(r, &ev, 0);
  enq(r, "c1", "q", CR_CHANNEL_CHAT, 0, 1 * SEC);
  enq(r, "c2", "q", CR_CHANNEL_CHAT, 0, 5 * SEC);
  assert_int_equal(cr_router_abandon(r, S("c1"), 30 * SEC), 0);
  assert_int_equal(state_of(r, "c1"), CR_CONV_ABANDONED);
  cr_queue_stats qs;
  cr_router_queue_stats(r, S("q"), 30 * SEC, &qs);
  assert_int_equal(qs.abandoned, 1);
  assert_int_equal(qs.abandoned_after_sl, 1);
  assert_int_equal(qs.waiting, 1);
  assert_int_equal(cr_router_resume(r, S("c1"), 40 * SEC), 0);
  cr_router_end(r, S("busy"), 50 * SEC);
  assert_string_equal(ev.last_offer_conv, "c1"); /* its original place */
  cr_router_queue_stats(r, S("q"), 50 * SEC, &qs);
  assert_int_equal(qs.abandoned, 0);
  /* after the grace period it is forgotten */
  assert_int_equal(cr_router_abandon(r, S("c2"), 60 * SEC), 0);
  assert_int_equal(cr_router_resume(r, S("c2"), 121 * SEC), CR_ENOTFOUND);
  assert_non_null(strstr(ev.log, "120000 EXPIRED c2"));
  /* abandoning while offered withdraws the offer */
  assert_int_equal(cr_router_abandon(r, S("c1"), 122 * SEC), 0);
  assert_int_equal(ev.count[CR_REV_RINGCANCELED], 1);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_max_wait_escalation(void **s) {
  (void)s;
  for (int exitq = 0; exitq < 2; exitq++) {
    rec ev = {0};
    cr_router *r = mk(&ev, NULL);
    cr_queue_config q;
    cr_queue_config_init(&q);
    q.max_wait_ms = 360 * SEC; /* the six-minute rule */
    q.escalate_before_ms = 60 * SEC;
    q.escalate_boost = 100;
    q.max_wait_action = exitq ? CR_MAXWAIT_EXIT : CR_MAXWAIT_REPORT;
    assert_int_equal(cr_router_queue_add(r, S("q"), &q, 0), 0);
    enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 7);
    assert_int_equal(cr_router_next_expiry(r), 300 * SEC + 7);
    cr_router_tick(r, 300 * SEC + 6);
    assert_int_equal(ev.count[CR_REV_ESCALATE], 0);
    cr_router_tick(r, 300 * SEC + 7);
    assert_int_equal(ev.count[CR_REV_ESCALATE], 1);
    assert_int_equal(ev.last_time[CR_REV_ESCALATE], 300 * SEC + 7);
    cr_conv_info ci;
    cr_router_conv_info(r, S("c"), &ci);
    assert_int_equal(ci.effective_priority, 100);
    /* a coarse tick long after: the event still says 360.007 s */
    cr_router_tick(r, 500 * SEC);
    int t = exitq ? CR_REV_EXITWITHTIMEOUT : CR_REV_MAXWAIT;
    assert_int_equal(ev.count[t], 1);
    assert_int_equal(ev.last_time[t], 360 * SEC + 7);
    assert_int_equal(state_of(r, "c"), exitq ? -1 : CR_CONV_WAITING);
    cr_queue_stats qs;
    cr_router_queue_stats(r, S("q"), 500 * SEC, &qs);
    assert_int_equal(qs.timed_out, exitq ? 1 : 0);
    checked(r);
    cr_router_del(r);
    rec_clear(&ev);
  }
}

/* ---- omnichannel and transfer -------------------------------------------- */

static void t_channel_switch_and_transfer(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  add_queue(r, "billing", 0, 0);
  agent_in(r, "a", "q", "voice:1 whatsapp:1", 0);
  enq(r, "busy", "q", CR_CHANNEL_VOICE, 0, 0);
  accept_last(r, &ev, 0);
  enq(r, "w", "q", CR_CHANNEL_WHATSAPP, 0, 1 * SEC);
  accept_last(r, &ev, 1 * SEC); /* a now holds voice and whatsapp */
  enq(r, "caller", "q", CR_CHANNEL_VOICE, 0, 2 * SEC);
  enq(r, "later", "q", CR_CHANNEL_WHATSAPP, 0, 3 * SEC);
  /* the caller moves to WhatsApp and keeps its place ahead of "later" */
  assert_int_equal(
      cr_router_set_channel(r, S("caller"), CR_CHANNEL_WHATSAPP, 4 * SEC), 0);
  cr_conv_info ci;
  cr_router_conv_info(r, S("caller"), &ci);
  assert_int_equal(ci.arrival, 2 * SEC);
  cr_router_end(r, S("w"), 5 * SEC);
  assert_string_equal(ev.last_offer_conv, "caller");
  accept_last(r, &ev, 5 * SEC);
  /* a live voice call cannot become WhatsApp: that slot is taken */
  assert_int_equal(
      cr_router_set_channel(r, S("busy"), CR_CHANNEL_WHATSAPP, 6 * SEC),
      CR_EFULL);
  cr_router_conv_info(r, S("busy"), &ci);
  assert_int_equal(ci.channel, CR_CHANNEL_VOICE);
  /* transfer a live conversation: the agent frees, it queues in billing */
  assert_int_equal(
      cr_router_transfer(r, S("caller"), S("billing"), NULL, 7 * SEC), 0);
  assert_string_equal(ev.last_offer_conv, "later"); /* a's slot reused */
  cr_router_conv_info(r, S("caller"), &ci);
  assert_int_equal(ci.state, CR_CONV_WAITING);
  assert_memory_equal(ci.queue, "billing", 7);
  assert_non_null(strstr(ev.log, "7000 TRANSFER caller  billing"));
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_auto_members(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  cr_queue_config q;
  cr_queue_config_init(&q);
  cr_skill_level he = {S("he"), 3};
  q.skills = &he;
  q.nskills = 1;
  q.auto_members = 1;
  assert_int_equal(cr_router_queue_add(r, S("hebrew"), &q, 0), 0);
  assert_int_equal(add_agent(r, "dana", "chat:2 +he:5", 0), 0);
  assert_int_equal(add_agent(r, "john", "chat:2 +en:5", 0), 0);
  cr_router_agent_set_status(r, S("dana"), CR_AGENT_AVAILABLE, NULL, 0, 0);
  cr_router_agent_set_status(r, S("john"), CR_AGENT_AVAILABLE, NULL, 0, 0);
  assert_int_equal(cr_router_agent_join(r, S("john"), S("hebrew"), 0, 0, 0),
                   CR_ESTATE);
  cr_queue_stats qs;
  cr_router_queue_stats(r, S("hebrew"), 0, &qs);
  assert_int_equal(qs.members, 1);
  enq(r, "c", "hebrew", CR_CHANNEL_CHAT, 0, 1 * SEC);
  assert_string_equal(offered_to(&ev, "c"), "dana");
  /* john learns Hebrew: he becomes a member */
  cr_agent_config cfg;
  cr_skill_level sk[8];
  char names[8][16];
  agent_cfg("chat:2 +en:5 +he:3", &cfg, sk, names);
  assert_int_equal(cr_router_agent_update(r, S("john"), &cfg, 2 * SEC), 0);
  cr_router_queue_stats(r, S("hebrew"), 2 * SEC, &qs);
  assert_int_equal(qs.members, 2);
  assert_int_equal(qs.agents_available, 2);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* 300 free agents; only the 10 who logged in last have the skill the
 * conversation asks for, so the best-first walk gives up and the linear
 * fallback must still pick the longest idle of those ten. */
static void t_deep_scan_fallback(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  for (int i = 0; i < 300; i++) {
    char id[16];
    snprintf(id, sizeof id, "a%03d", i);
    agent_in(r, id, "q", i >= 290 ? "chat:1 +rare:2" : "chat:1", i);
  }
  cr_skill_level rare = {S("rare"), 1};
  cr_route_step st = {CR_STEP_SKILLS, NULL, 0, &rare, 1, 0};
  assert_int_equal(enq_steps(r, "c", "q", &st, 1, 1000), 0);
  assert_string_equal(offered_to(&ev, "c"), "a290");
  /* and a plain one goes to the longest idle of all */
  enq(r, "d", "q", CR_CHANNEL_CHAT, 0, 1001);
  assert_string_equal(offered_to(&ev, "d"), "a000");
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

/* ---- estimated wait: its error, measured ---------------------------------- */

/* An M/M/c queue (c = 4 voice agents, mean handle 180 s, offered load 3.4
 * Erlang: 85 % occupancy), simulated for 4000 calls with a fixed seed. At
 * each arrival we record the router's EWT, then the wait it really got.
 * The method (position + 1) x AHT / slots is the mean of the time for
 * position + 1 departures from c busy exponential servers, so it should be
 * unbiased; its error per caller is large by nature (exponential service),
 * so we check the mean error (bias) and the mean absolute error against
 * the mean wait, and against a naive predictor (the running mean wait). */
typedef struct simc {
  char id[16];
  cr_time arrive, ewt, handle, naive;
} simc;

static uint64_t sim_rng = 88172645463325252ull;
static double sim_unit(void) {
  sim_rng ^= sim_rng << 13;
  sim_rng ^= sim_rng >> 7;
  sim_rng ^= sim_rng << 17;
  return ((double)(sim_rng >> 11) + 0.5) / 9007199254740992.0;
}

typedef struct simq {
  cr_router *r;
  simc *calls;
  cr_time end_at[4];
  int end_call[4];
  int pend_c[8], pend_a[8], npend;
  double sum_err, sum_abs, sum_wait, sum_naive_abs, waits_so_far;
  int measured, answered;
} simq;

static void sim_event(const cr_router_event *ev, void *ud) {
  simq *q = ud;
  assert_true(q->npend < 8);
  q->pend_c[q->npend] = atoi(ev->conv + 1);
  q->pend_a[q->npend++] = ev->agent[1] - '0';
}

/* Agents accept at once: the offer time is the answer time. */
static void sim_flush(simq *q, cr_time t) {
  for (int k = 0; k < q->npend; k++) {
    int i = q->pend_c[k], a = q->pend_a[k];
    simc *c = &q->calls[i];
    char aid[3] = {'a', (char)('0' + a), 0};
    assert_int_equal(cr_router_accept(q->r, S(c->id), S(aid), t), 0);
    q->end_at[a] = t + c->handle;
    q->end_call[a] = i;
    double wait = (double)(t - c->arrive);
    if (i >= 500) { /* after warm-up */
      double e = (double)c->ewt - wait;
      q->sum_err += e;
      q->sum_abs += fabs(e);
      q->sum_wait += wait;
      q->sum_naive_abs += fabs((double)c->naive - wait);
      q->measured++;
    }
    q->waits_so_far += wait;
    q->answered++;
  }
  q->npend = 0;
}

static void t_ewt_error(void **s) {
  (void)s;
  const int N = 4000;
  simq q;
  memset(&q, 0, sizeof q);
  q.calls = calloc((size_t)N, sizeof *q.calls);
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.aht_alpha = 0.02;
  assert_int_equal(cr_router_new(&q.r, NULL, &cfg), 0);
  cr_router_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.offer = sim_event;
  cb.user_data = &q;
  cr_router_set_callbacks(q.r, &cb);
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  qc.aht_hint_ms = 180 * SEC;
  cr_router_queue_add(q.r, S("q"), &qc, 0);
  for (int a = 0; a < 4; a++) {
    char id[4] = {'a', (char)('0' + a), 0, 0};
    assert_int_equal(add_agent(q.r, id, "voice:1", 0), 0);
    cr_router_agent_join(q.r, S(id), S("q"), 0, 0, 0);
    cr_router_agent_set_status(q.r, S(id), CR_AGENT_AVAILABLE, NULL, 0, 0);
    q.end_at[a] = CR_TIME_NEVER;
  }
  double lambda = 3.4 / 180.0; /* calls per second */
  cr_time t = 0;
  for (int i = 0; i < N; i++) {
    t += (cr_time)(-log(sim_unit()) / lambda * 1000.0);
    for (;;) { /* every call ending before this arrival, in time order */
      int best = -1;
      for (int a = 0; a < 4; a++)
        if (q.end_at[a] <= t && (best < 0 || q.end_at[a] < q.end_at[best]))
          best = a;
      if (best < 0)
        break;
      cr_time te = q.end_at[best];
      q.end_at[best] = CR_TIME_NEVER;
      assert_int_equal(cr_router_end(q.r, S(q.calls[q.end_call[best]].id), te),
                       0);
      sim_flush(&q, te);
    }
    simc *c = &q.calls[i];
    snprintf(c->id, sizeof c->id, "c%d", i);
    c->arrive = t;
    c->handle = (cr_time)(-log(sim_unit()) * 180.0 * 1000.0) + 1;
    assert_int_equal(cr_router_ewt(q.r, S("q"), CR_CHANNEL_VOICE, t, &c->ewt),
                     0);
    c->naive = q.answered ? (cr_time)(q.waits_so_far / q.answered) : 0;
    assert_int_equal(enq(q.r, c->id, "q", CR_CHANNEL_VOICE, 0, t), 0);
    sim_flush(&q, t);
  }
  double mean_wait = q.sum_wait / q.measured;
  double bias = q.sum_err / q.measured;
  double mae = q.sum_abs / q.measured, naive = q.sum_naive_abs / q.measured;
  print_message("EWT, M/M/4 at 85%% occupancy, %d calls: mean wait %.1f s, "
                "bias %+.1f s, mean abs error %.1f s; naive running-mean "
                "predictor %.1f s\n",
                q.measured, mean_wait / 1000, bias / 1000, mae / 1000,
                naive / 1000);
  assert_true(q.measured > 3000);
  assert_true(fabs(bias) < 0.25 * mean_wait);
  assert_true(mae < naive);
  checked(q.r);
  cr_router_del(q.r);
  free(q.calls);
}

/* ---- bad input: a clear error, nothing changed ---------------------------- */

static void snap(cr_router *r, void **buf, size_t *len) {
  assert_int_equal(cr_router_snapshot(r, buf, len), 0);
}

static void t_bad_input(void **s) {
  (void)s;
  rec ev = {0};
  cr_router *r = mk(&ev, NULL);
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "chat:1 +billing:3", 0);
  enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 0);
  void *before, *after;
  size_t lb, la;
  snap(r, &before, &lb);
  int events = ev.count[CR_REV_OFFER] + ev.count[CR_REV_ENTERQUEUE];
  cr_agent_config cfg;
  cr_skill_level sk[8];
  char names[8][16];
  /* unknown ids */
  assert_int_equal(cr_router_accept(r, S("nope"), S("a"), 1), CR_ENOTFOUND);
  assert_int_equal(cr_router_accept(r, S("c"), S("nobody"), 1), CR_ENOTFOUND);
  assert_non_null(strstr(cr_router_errmsg(r), "nobody"));
  assert_int_equal(enq(r, "d", "noqueue", CR_CHANNEL_CHAT, 0, 1),
                   CR_ENOTFOUND);
  assert_int_equal(cr_router_end(r, S("ghost"), 1), CR_ENOTFOUND);
  assert_int_equal(cr_router_agent_join(r, S("a"), S("zz"), 0, 0, 1),
                   CR_ENOTFOUND);
  cr_route_step bad_q = {CR_STEP_QUEUE, S("zz"), NULL, 0, 0};
  assert_int_equal(enq_steps(r, "d", "q", &bad_q, 1, 1), CR_ENOTFOUND);
  /* duplicate ids */
  assert_int_equal(add_agent(r, "a", "chat:1", 1), CR_EEXIST);
  assert_int_equal(enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 1), CR_EEXIST);
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  assert_int_equal(cr_router_queue_add(r, S("q"), &qc, 1), CR_EEXIST);
  cr_skill_level dup[2] = {{S("x"), 1}, {S("x"), 2}};
  agent_cfg("chat:1", &cfg, sk, names);
  cfg.skills = dup;
  cfg.nskills = 2;
  assert_int_equal(cr_router_agent_add(r, S("b"), &cfg, 1), CR_EINVAL);
  /* capacity 0; a channel costing more than the total */
  assert_int_equal(add_agent(r, "b", "+billing:3", 1), CR_EINVAL);
  assert_non_null(strstr(cr_router_errmsg(r), "capacity 0"));
  assert_int_equal(add_agent(r, "b", "voice:1 total:50 $voice:100", 1),
                   CR_EINVAL);
  /* skill level 9, or 0 */
  assert_int_equal(add_agent(r, "b", "chat:1 +billing:9", 1), CR_ERANGE);
  assert_int_equal(add_agent(r, "b", "chat:1 +billing:0", 1), CR_ERANGE);
  cr_skill_level nine = {S("billing"), 9};
  cr_route_step st9 = {CR_STEP_SKILLS, NULL, 0, &nine, 1, 0};
  assert_int_equal(enq_steps(r, "d", "q", &st9, 1, 1), CR_ERANGE);
  qc.skills = &nine;
  qc.nskills = 1;
  assert_int_equal(cr_router_queue_add(r, S("q9"), &qc, 1), CR_ERANGE);
  /* invalid UTF-8 (a lone continuation byte, an overlong, a surrogate) */
  assert_int_equal(add_agent(r, "\x80x", "chat:1", 1), CR_EUTF8);
  assert_int_equal(add_agent(r, "\xC0\xAF", "chat:1", 1), CR_EUTF8);
  assert_int_equal(enq(r, "\xED\xA0\x80", "q", CR_CHANNEL_CHAT, 0, 1),
                   CR_EUTF8);
  assert_int_equal(cr_router_enqueue(r, "", 0, S("q"), NULL, 1), CR_EINVAL);
  /* other bad values */
  assert_int_equal(enq(r, "d", "q", 99, 0, 1), CR_EINVAL);
  assert_int_equal(enq(r, "d", "q", CR_CHANNEL_CHAT, -1, 1), CR_ERANGE);
  assert_int_equal(cr_router_agent_set_status(r, S("a"), CR_AGENT_WRAPUP,
                                              NULL, 0, 1),
                   CR_EINVAL);
  assert_int_equal(cr_router_end(r, S("c"), 1), CR_ESTATE); /* only offered */
  assert_int_equal(cr_router_tick(r, -5), CR_EORDER);
  assert_int_equal(cr_router_tick(r, INT64_MAX), CR_ERANGE);
  qc.skills = NULL;
  qc.nskills = 0;
  qc.sl_threshold_ms[0] = INT64_MAX / 8; /* would overflow urgency maths */
  assert_int_equal(cr_router_queue_add(r, S("q10"), &qc, 1), CR_ERANGE);
  /* shrinking capacity below what the agent holds */
  agent_cfg("voice:1", &cfg, sk, names);
  assert_int_equal(cr_router_agent_update(r, S("a"), &cfg, 1), CR_EFULL);
  assert_int_equal(cr_router_agent_remove(r, S("a"), 1), CR_ESTATE);
  /* nothing changed */
  snap(r, &after, &la);
  /* the clock moved from 0 to 1: put it back in the copy to compare */
  assert_int_equal(la, lb);
  assert_int_equal(ev.count[CR_REV_OFFER] + ev.count[CR_REV_ENTERQUEUE],
                   events);
  cr_router *r0, *r1;
  assert_int_equal(cr_router_restore(&r0, NULL, before, lb), 0);
  assert_int_equal(cr_router_restore(&r1, NULL, after, la), 0);
  assert_int_equal(cr_router_tick(r0, 1), 0);
  void *b0;
  size_t l0;
  snap(r0, &b0, &l0);
  assert_int_equal(l0, la);
  assert_memory_equal(b0, after, la);
  cr_mem_free(NULL, b0);
  cr_router_del(r0);
  cr_router_del(r1);
  /* callbacks may not call back in */
  cr_mem_free(NULL, before);
  cr_mem_free(NULL, after);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

static cr_router *g_reenter;
static int g_reenter_rc;
static void reenter_cb(const cr_router_event *ev, void *ud) {
  (void)ev;
  (void)ud;
  g_reenter_rc = cr_router_tick(g_reenter, 5 * SEC);
}

static void t_no_reentry(void **s) {
  (void)s;
  cr_router *r;
  assert_int_equal(cr_router_new(&r, NULL, NULL), 0);
  cr_router_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.offer = reenter_cb;
  cr_router_set_callbacks(r, &cb);
  g_reenter = r;
  add_queue(r, "q", 0, 0);
  agent_in(r, "a", "q", "chat:1", 0);
  enq(r, "c", "q", CR_CHANNEL_CHAT, 0, 1);
  assert_int_equal(g_reenter_rc, CR_ESTATE);
  cr_router_del(r);
}

/* ---- snapshot / restore --------------------------------------------------- */

static void run_ops(cr_router *r, rops *o, int steps) {
  for (int i = 0; i < steps && o->at < o->n; i++) {
    int rc = rops_step(o, r);
    assert_true(rc <= 1 && rc > CR__ERRNO_LAST);
    checked(r);
  }
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (uint8_t)(x >> 24);
  }
}

static void t_snapshot_equivalence(void **s) {
  (void)s;
  size_t n = 40000;
  uint8_t *data = malloc(n);
  for (uint64_t seed = 1; seed <= 6; seed++) {
    fill_random(data, n, seed);
    rec ea = {0}, eb = {0};
    cr_router_config cfg;
    cr_router_config_init(&cfg);
    cfg.offer_timeout_ms = 40000;
    cfg.auto_away_misses = 2;
    cfg.reentry_grace_ms = 20000;
    cfg.decline_block_ms = 5000;
    cfg.wrapup_ms = 2000;
    cfg.seed = seed;
    cr_router *a = mk(&ea, &cfg);
    rops oa = {data, n, 0, 0};
    run_ops(a, &oa, 1500);
    void *buf;
    size_t len;
    snap(a, &buf, &len);
    cr_router *b;
    assert_int_equal(cr_router_restore(&b, NULL, buf, len), 0);
    cr_router_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.event = on_event;
    cb.user_data = &eb;
    cr_router_set_callbacks(b, &cb);
    /* the same calls from here on: the same events, in the same order */
    rec_clear(&ea);
    rops ob = oa;
    run_ops(a, &oa, 3000);
    run_ops(b, &ob, 3000);
    assert_true(ea.n > 1000);
    /* the run exercised the model, not just errors */
    if (seed == 1)
      print_message("randomised run after restore: %d offers, %d connects, "
                    "%d rejects/timeouts, %d steps, %d abandons\n",
                    ea.count[CR_REV_OFFER], ea.count[CR_REV_CONNECT],
                    ea.count[CR_REV_REJECT] + ea.count[CR_REV_RINGNOANSWER],
                    ea.count[CR_REV_STEP], ea.count[CR_REV_ABANDON]);
    assert_true(ea.count[CR_REV_OFFER] > 20 && ea.count[CR_REV_CONNECT] > 5);
    assert_int_equal(ea.n, eb.n);
    assert_memory_equal(ea.log, eb.log, ea.n);
    void *ba, *bb;
    size_t la, lb;
    snap(a, &ba, &la);
    snap(b, &bb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    /* damaged snapshots are refused */
    uint8_t *d = malloc(len);
    memcpy(d, buf, len);
    d[len / 2] ^= 0x40; /* the checksum catches it */
    cr_router *c;
    assert_int_equal(cr_router_restore(&c, NULL, d, len), CR_ECORRUPT);
    assert_int_equal(cr_router_restore(&c, NULL, buf, len - 1), CR_ECORRUPT);
    memcpy(d, buf, len);
    d[4] = 99; /* version */
    assert_int_equal(cr_router_restore(&c, NULL, d, len), CR_EVERSION);
    free(d);
    cr_mem_free(NULL, buf);
    cr_mem_free(NULL, ba);
    cr_mem_free(NULL, bb);
    cr_router_del(a);
    cr_router_del(b);
    rec_clear(&ea);
    rec_clear(&eb);
  }
  free(data);
}

/* Every order in the router ends in a sequence number from one counter, so
 * no two objects share one; a snapshot that says otherwise (its checksum
 * made right) is refused, not restored into an order left to the rebuild.
 * Each 8-byte field holding the second conversation's number is given the
 * first's in turn: whatever else that changes, no restore may succeed with
 * two conversations alike, and the one that is its number is refused. */
static void t_restore_refuses_shared_sequence(void **s) {
  (void)s;
  for (int timed = 0; timed < 2; timed++) { /* also on the timer line */
    cr_router *r;
    assert_int_equal(cr_router_new(&r, NULL, NULL), 0);
    cr_queue_config qc;
    cr_queue_config_init(&qc);
    if (timed)
      qc.max_wait_ms = 60000;
    assert_int_equal(cr_router_queue_add(r, "q", 1, &qc, 0), 0);
    cr_conv_params p;
    cr_conv_params_init(&p);
    assert_int_equal(cr_router_enqueue(r, "c1", 2, "q", 1, &p, 100), 0);
    assert_int_equal(cr_router_enqueue(r, "c2", 2, "q", 1, &p, 100), 0);
    uint64_t s1 = cr__conv_find(r, "c1", 2)->seq;
    uint64_t s2 = cr__conv_find(r, "c2", 2)->seq;
    assert_true(s1 != s2);
    void *buf;
    size_t len;
    snap(r, &buf, &len);
    uint8_t *d = malloc(len);
    int refused = 0;
    for (size_t i = 16; i + 8 <= len - 4; i++) {
      uint64_t v;
      memcpy(&v, (uint8_t *)buf + i, 8);
      if (v != s2)
        continue;
      memcpy(d, buf, len);
      memcpy(d + i, &s1, 8);
      uint32_t crc = cr__crc32(0, d + 16, len - 20);
      memcpy(d + len - 4, &crc, 4);
      cr_router *b;
      int rc = cr_router_restore(&b, NULL, d, len);
      if (rc) {
        assert_int_equal(rc, CR_ECORRUPT);
        refused++;
        continue;
      }
      rconv *x = cr__conv_find(b, "c1", 2), *y = cr__conv_find(b, "c2", 2);
      assert_true(x && y && x->seq != y->seq);
      cr_router_del(b);
    }
    assert_true(refused >= 1);
    free(d);
    cr_mem_free(NULL, buf);
    cr_router_del(r);
  }
}

/* ---- out of memory -------------------------------------------------------- */

static int oom_body(cr_test_mem *t, void *ctx) {
  (void)ctx;
  cr_router *r;
  int rc = cr_router_new(&r, &t->mem, NULL);
  if (rc)
    return rc;
  cr_queue_config qc;
  cr_queue_config_init(&qc);
  cr_skill_level he = {S("he"), 2};
  qc.skills = &he;
  qc.nskills = 1;
  qc.auto_members = 1;
  cr_agent_config ac;
  cr_skill_level sk[8];
  char names[8][16];
  agent_cfg("voice:1 chat:3 total:100 $voice:100 $chat:30 +he:4 +billing:2",
            &ac, sk, names);
  cr_skill_level b4 = {S("billing"), 4};
  cr_route_step st[3] = {{CR_STEP_AGENT, S("a1"), NULL, 0, 5 * SEC},
                         {CR_STEP_SKILLS, NULL, 0, &b4, 1, 5 * SEC},
                         {CR_STEP_QUEUE, S("q"), NULL, 0, 0}};
  cr_conv_params p;
  cr_conv_params_init(&p);
  p.steps = st;
  p.nsteps = 3;
  p.attrs = "lang=he";
  p.attrs_len = 7;
  void *buf = NULL;
  size_t len = 0;
  cr_router *r2 = NULL;
  char id[16];
  if ((rc = cr_router_queue_add(r, S("q"), NULL, 0)) ||
      (rc = cr_router_queue_add(r, S("he"), &qc, 0)))
    goto out;
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof id, "a%d", i);
    if ((rc = cr_router_agent_add(r, S(id), &ac, 0)) ||
        (rc = cr_router_agent_join(r, S(id), S("q"), i, 0, 0)) ||
        (rc = cr_router_agent_set_status(r, S(id), CR_AGENT_AVAILABLE, NULL,
                                         0, 0)))
      goto out;
  }
  for (int i = 0; i < 12; i++) {
    snprintf(id, sizeof id, "c%d", i);
    if ((rc = cr_router_enqueue(r, S(id), S(i % 2 ? "q" : "he"), &p, i)))
      goto out;
  }
  if ((rc = cr_router_accept(r, S("c0"), S("a1"), 20)) ||
      (rc = cr_router_end(r, S("c0"), 30)) ||
      (rc = cr_router_transfer(r, S("c3"), S("he"), &p, 40)) ||
      (rc = cr_router_set_steps(r, S("c5"), st + 1, 2, 50)) ||
      (rc = cr_router_snapshot(r, &buf, &len)) ||
      (rc = cr_router_restore(&r2, &t->mem, buf, len)))
    goto out;
out:
  if (rc == CR_ENOMEM) {
    /* the object that failed is consistent and usable */
    cr_test_mem_heal(t);
    checked(r);
    assert_int_equal(cr_router_tick(r, 100 * SEC), 0);
    checked(r);
  }
  cr_mem_free(&t->mem, buf);
  cr_router_del(r2);
  cr_router_del(r);
  return rc;
}

static void t_oom_sweep(void **s) {
  (void)s;
  const char *at = getenv("CR_ROUTER_OOM_AT"); /* debugging one point */
  if (at) {
    cr_test_mem t;
    cr_test_mem_init(&t);
    t.fail_at = atol(at);
    oom_body(&t, NULL);
    return;
  }
  long n = cr_test_oom_sweep(oom_body, NULL);
  assert_true(n > 50);
}

/* The id index (open addressing, backward-shift deletion): thousands of
 * ids, removed in a scattered order (so deletions shift clusters across
 * the table's wrap-around), re-added, and every id still found or not
 * found as it should be; load stays at most one half. */
static void t_id_index(void **state) {
  (void)state;
  rec ev;
  memset(&ev, 0, sizeof ev);
  cr_router *r = mk(&ev, NULL);
  enum { N = 3000 };
  cr_agent_config cfg;
  cr_skill_level sk[4];
  char names[4][16];
  agent_cfg("chat:2", &cfg, sk, names);
  char id[32];
  for (int i = 0; i < N; i++) {
    snprintf(id, sizeof id, "agent-%d", i);
    assert_int_equal(cr_router_agent_add(r, S(id), &cfg, 0), 0);
  }
  cr_agent_stats st;
  for (int round = 0; round < 2; round++) {
    for (int k = 0; k < N; k++) {
      int i = (int)(((long)k * 7919) % N);
      if (i % 3 != round) {
        snprintf(id, sizeof id, "agent-%d", i);
        assert_int_equal(cr_router_agent_remove(r, S(id), 0), 0);
      }
    }
    assert_true((uint64_t)r->aidx.n * 2 <= (uint64_t)r->aidx.mask + 1);
    for (int i = 0; i < N; i++) {
      snprintf(id, sizeof id, "agent-%d", i);
      assert_int_equal(cr_router_agent_stats(r, S(id), 0, &st),
                       i % 3 == round ? 0 : CR_ENOTFOUND);
    }
    for (int i = 0; i < N; i++)
      if (i % 3 != round) {
        snprintf(id, sizeof id, "agent-%d", i);
        assert_int_equal(cr_router_agent_add(r, S(id), &cfg, 0), 0);
      }
    assert_int_equal(r->aidx.n, N);
    for (int i = 0; i < N; i++) {
      snprintf(id, sizeof id, "agent-%d", i);
      assert_int_equal(cr_router_agent_stats(r, S(id), 0, &st), 0);
    }
    assert_int_equal(cr__router_check(r), 0);
  }
  assert_int_equal(cr_router_agent_stats(r, S("agent-x"), 0, &st),
                   CR_ENOTFOUND);
  cr_router_del(r);
  rec_clear(&ev);
}

/* Ids of every length from 1 to 40 bytes that differ only in their last
 * byte, or only inside one 8-byte word, are told apart (the index hashes
 * and compares ids a word at a time, with the tail loaded in pieces);
 * UTF-8 is checked 8 bytes at a time, so bad bytes are put at every
 * position of a word; an unknown queue still gets the id's error first;
 * the next expiry (kept, not recomputed) follows an offer and its
 * accept. */
/* The header's time contract: a valid `now` passes even when the call is
 * then refused (a deadline due by then runs, the clock moves); a refused
 * `now` changes nothing at all. */
static void t_time_passes_first(void **state) {
  (void)state;
  rec ev;
  memset(&ev, 0, sizeof ev);
  cr_router *r = mk(&ev, NULL);
  assert_int_equal(cr_router_queue_add(r, S("q"), NULL, 0), 0);
  assert_int_equal(cr_router_tick(r, 1000), 0);
  /* a refused time: nothing moves */
  assert_int_equal(cr_router_accept(r, S("c"), S("a"), INT64_MAX),
                   CR_ERANGE);
  assert_int_equal(cr_router_accept(r, S("c"), S("a"), 500), CR_EORDER);
  assert_int_equal(cr_router_tick(r, 1000), 0);
  /* a valid time with an unknown id: refused, but the clock is at 5000 */
  assert_int_equal(cr_router_accept(r, S("c"), S("a"), 5000), CR_ENOTFOUND);
  assert_int_equal(cr_router_tick(r, 4000), CR_EORDER);
  assert_int_equal(cr_router_tick(r, 5000), 0);
  cr_router_del(r);
  rec_clear(&ev);
}

static void t_id_bytes(void **state) {
  (void)state;
  rec ev;
  memset(&ev, 0, sizeof ev);
  cr_router *r = mk(&ev, NULL);
  char a[48], b[48];
  for (size_t len = 1; len <= 40; len++) {
    memset(a, 'q', len);
    a[len - 1] = 'a';
    assert_int_equal(cr_router_queue_add(r, a, len, NULL, 0), 0);
  }
  for (size_t len = 1; len <= 40; len++) {
    memset(a, 'q', len);
    memcpy(b, a, len);
    a[len - 1] = 'a';
    b[len - 1] = 'b'; /* no such queue */
    char cid[48];
    memset(cid, 'c', len);
    cid[len - 1] = 'a';
    assert_int_equal(cr_router_enqueue(r, cid, len, b, len, NULL, 1),
                     CR_ENOTFOUND);
    /* b as a conversation id in queue a; then cid in the same queue */
    assert_int_equal(cr_router_enqueue(r, b, len, a, len, NULL, 1), 0);
    assert_int_equal(cr_router_enqueue(r, cid, len, a, len, NULL, 1), 0);
    assert_int_equal(cr_router_enqueue(r, cid, len, a, len, NULL, 1),
                     CR_EEXIST);
    for (size_t k = 0; k < len; k++) { /* one byte changed anywhere */
      char x[48];
      memcpy(x, cid, len);
      x[k] = x[k] == 'c' ? 'd' : 'c';
      cr_conv_info ci;
      int want = memcmp(x, b, len) ? CR_ENOTFOUND : 0;
      assert_int_equal(cr_router_conv_info(r, x, len, &ci), want);
    }
    cr_conv_info ci;
    assert_int_equal(cr_router_conv_info(r, cid, len, &ci), 0);
    assert_int_equal(cr_router_conv_info(r, cid, len - 1, &ci),
                     CR_ENOTFOUND);
  }
  checked(r);
  /* bad bytes at every position of 8-byte words: refused, nothing added */
  for (size_t len = 1; len <= 24; len++)
    for (size_t k = 0; k < len; k++) {
      static const char bad[][3] = {"\0", "\x80", "\xff", "\xc0\x80"};
      for (size_t j = 0; j < 4; j++) {
        size_t bl = j == 3 ? 2 : 1;
        if (k + bl > len)
          continue;
        memset(a, 'u', len);
        memcpy(a + k, bad[j], bl);
        assert_int_equal(
            cr_router_enqueue(r, a, len, S("qqqa"), NULL, 2), CR_EUTF8);
        assert_int_equal(
            cr_router_enqueue(r, S("fresh"), a, len, NULL, 2), CR_EUTF8);
      }
    }
  assert_int_equal(cr_router_enqueue(r, S("fresh"), NULL, 0, NULL, 2),
                   CR_EINVAL);
  assert_int_equal(cr_router_enqueue(r, NULL, 0, S("qqqa"), NULL, 2),
                   CR_EINVAL);
  /* valid multi-byte UTF-8 across word boundaries */
  assert_int_equal(cr_router_queue_add(r, S("file d'attente \xc3\xa9t\xc3\xa9"),
                                       NULL, 2),
                   0);
  assert_int_equal(cr_router_enqueue(r, S("conversation \xe2\x82\xac \xf0\x9f\x98\x80"),
                                     S("file d'attente \xc3\xa9t\xc3\xa9"),
                                     NULL, 2),
                   0);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
  /* next expiry: an offer's timeout, then nothing once it is accepted */
  r = mk(&ev, NULL);
  add_queue(r, "q", CR_STRATEGY_LONGEST_IDLE, 0);
  agent_in(r, "ann", "q", "voice:1", 0);
  assert_int_equal(cr_router_next_expiry(r), CR_TIME_NEVER);
  assert_int_equal(enq(r, "c1", "q", CR_CHANNEL_VOICE, 0, 10), 0);
  assert_int_equal(cr_router_next_expiry(r), 10 + 120000);
  checked(r);
  accept_last(r, &ev, 20);
  assert_int_equal(cr_router_next_expiry(r), CR_TIME_NEVER);
  checked(r);
  cr_router_del(r);
  rec_clear(&ev);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_away_without_reason),
      cmocka_unit_test(t_strategy_idle_occupied_contacts),
      cmocka_unit_test(t_longest_idle_from_last_end),
      cmocka_unit_test(t_strategy_talk_time_order),
      cmocka_unit_test(t_strategy_most_proficient),
      cmocka_unit_test(t_strategy_round_robin),
      cmocka_unit_test(t_strategy_random),
      cmocka_unit_test(t_strategy_ring_all),
      cmocka_unit_test(t_capacity_voice_blocks_chat),
      cmocka_unit_test(t_capacity_one_call_or_five_chats),
      cmocka_unit_test(t_relaxation_keeps_place),
      cmocka_unit_test(t_relaxation_before_expiry_skips),
      cmocka_unit_test(t_tightening),
      cmocka_unit_test(t_sticky_expiry),
      cmocka_unit_test(t_sticky_offline_not_stranded),
      cmocka_unit_test(t_overflow_by_delay),
      cmocka_unit_test(t_overflow_by_ewt),
      cmocka_unit_test(t_overflow_by_service_level),
      cmocka_unit_test(t_priority_and_urgency),
      cmocka_unit_test(t_fairness_across_queues),
      cmocka_unit_test(t_member_delay),
      cmocka_unit_test(t_offer_reject_and_timeout),
      cmocka_unit_test(t_auto_away),
      cmocka_unit_test(t_wrapup),
      cmocka_unit_test(t_abandon_and_resume),
      cmocka_unit_test(t_max_wait_escalation),
      cmocka_unit_test(t_channel_switch_and_transfer),
      cmocka_unit_test(t_auto_members),
      cmocka_unit_test(t_deep_scan_fallback),
      cmocka_unit_test(t_ewt_error),
      cmocka_unit_test(t_bad_input),
      cmocka_unit_test(t_no_reentry),
      cmocka_unit_test(t_snapshot_equivalence),
      cmocka_unit_test(t_restore_refuses_shared_sequence),
      cmocka_unit_test(t_oom_sweep),
      cmocka_unit_test(t_id_index),
      cmocka_unit_test(t_id_bytes),
      cmocka_unit_test(t_time_passes_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
