/* Scenario tests of the conversation engine: whole hybrid conversations
 * through the demo intent set (examples/data, Hebrew + English), a router
 * with two agents, and recording callbacks. Each test states what the
 * journal, the context handed to the agent, and the metrics must say. */
#include "cr_test.h"
#include "crc32.h"
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(x) x, (sizeof(x) - 1)
#define NOW(t) ((cr_time)(t))

/* The demo model, trained once for the whole file (0.1 s). */
static cr_intent_model *MODEL;

static int setup_model(void **state) {
  (void)state;
  MODEL = cr_test_demo_model();
  return MODEL ? 0 : -1;
}

static int teardown_model(void **state) {
  (void)state;
  cr_intent_model_del(MODEL);
  return 0;
}

/* ------------------------------------------------------------------ */
/* recording callbacks */

#define MAXJ 512

typedef struct rec {
  char j[MAXJ][256]; /* "TYPE FROM>TO REASON conv agent detail" */
  int jsender[MAXJ];  /* cr_engine_event.sender */
  char jintent[MAXJ][32];
  cr_time jt[MAXJ];
  uint64_t jseq[MAXJ];
  int nj;
  char last_send[512];
  char last_lang[8];
  int nsend;
  int noffer, ncancel, naction, nalert, nvalidate;
  char offer_agent[64], offer_conv[64];
  char action[64], action_args[128], action_agent[64];
  int alert_reason;
  int fail_send, fail_offer, fail_action, fail_journal;
  int validate_answer; /* what on_validate returns */
  char validated[64];
  int reenter, reenter_router;
  cr_engine *e;
  int reenter_rc;
  uint64_t jhash; /* FNV-1a over every journal line and time */
  long jcount;
  /* the last offer's context, copied */
  cr_engine_context ctx;
  char ctx_lines[64][160];
  int ctx_from[64];
  char ctx_fields[16][2][64];
  char ctx_intents[8][64];
  double ctx_conf[8];
  char ctx_profile[16][2][32];
  int ctx_channels[8];
  char ctx_prev_agent[64], ctx_queue[64], ctx_intent[64], ctx_lang[8];
} rec;

static void cp(char *dst, size_t cap, const char *s, size_t n) {
  if (n >= cap)
    n = cap - 1;
  if (n)
    memcpy(dst, s, n);
  dst[n] = 0;
}

static int on_send(const char *conv, size_t conv_len, int channel,
                   const char *lang, size_t lang_len, const char *text,
                   size_t text_len, void *ud) {
  (void)conv;
  (void)conv_len;
  (void)channel;
  rec *r = ud;
  cp(r->last_send, sizeof r->last_send, text, text_len);
  cp(r->last_lang, sizeof r->last_lang, lang, lang_len);
  r->nsend++;
  if (r->reenter_router) /* the inner router, from an engine callback */
    r->reenter_rc = cr_router_agent_set_status(
        cr_engine_router(r->e), "a1", 2, CR_AGENT_AWAY, "x", 1, 0);
  return r->fail_send ? -1 : 0;
}

static int on_offer(const cr_engine_context *x, const char *agent,
                    size_t agent_len, void *ud) {
  rec *r = ud;
  r->noffer++;
  cp(r->offer_agent, sizeof r->offer_agent, agent, agent_len);
  cp(r->offer_conv, sizeof r->offer_conv, x->conv, x->conv_len);
  r->ctx = *x;
  for (size_t i = 0; i < x->ntranscript && i < 64; i++) {
    cp(r->ctx_lines[i], 160, x->transcript[i].text, x->transcript[i].text_len);
    r->ctx_from[i] = x->transcript[i].from;
  }
  for (size_t i = 0; i < x->nfields && i < 16; i++) {
    cp(r->ctx_fields[i][0], 64, x->fields[i].key, x->fields[i].key_len);
    cp(r->ctx_fields[i][1], 64, x->fields[i].value, x->fields[i].value_len);
  }
  for (size_t i = 0; i < x->nintents && i < 8; i++) {
    cp(r->ctx_intents[i], 64, x->intents[i].label, x->intents[i].label_len);
    r->ctx_conf[i] = x->intents[i].confidence;
  }
  for (size_t i = 0; i < x->nprofile && i < 16; i++) {
    cp(r->ctx_profile[i][0], 32, x->profile[i].key, x->profile[i].key_len);
    cp(r->ctx_profile[i][1], 32, x->profile[i].value,
       x->profile[i].value_len);
  }
  for (size_t i = 0; i < x->nchannels && i < 8; i++)
    r->ctx_channels[i] = x->channels[i];
  cp(r->ctx_prev_agent, 64, x->prev_agent, x->prev_agent_len);
  cp(r->ctx_queue, 64, x->queue, x->queue_len);
  cp(r->ctx_intent, 64, x->intent, x->intent_len);
  cp(r->ctx_lang, 8, x->lang, x->lang_len);
  if (r->reenter)
    r->reenter_rc = cr_engine_agent_accept(r->e, x->conv, x->conv_len, agent,
                                           agent_len, 0);
  return r->fail_offer ? -1 : 0;
}

static int on_cancel(const char *conv, size_t conv_len, const char *agent,
                     size_t agent_len, void *ud) {
  (void)conv;
  (void)conv_len;
  (void)agent;
  (void)agent_len;
  ((rec *)ud)->ncancel++;
  return 0;
}

static int on_action(const char *conv, size_t conv_len, const char *action,
                     size_t action_len, const char *args, size_t args_len,
                     const char *agent, size_t agent_len, void *ud) {
  (void)conv;
  (void)conv_len;
  rec *r = ud;
  r->naction++;
  cp(r->action, sizeof r->action, action, action_len);
  cp(r->action_args, sizeof r->action_args, args, args_len);
  cp(r->action_agent, sizeof r->action_agent, agent, agent_len);
  return r->fail_action ? -1 : 0;
}

static int on_validate(const char *conv, size_t conv_len, const char *field,
                       size_t field_len, const char *value, size_t value_len,
                       void *ud) {
  (void)conv;
  (void)conv_len;
  (void)field;
  (void)field_len;
  rec *r = ud;
  r->nvalidate++;
  cp(r->validated, sizeof r->validated, value, value_len);
  return r->validate_answer;
}

static int on_alert(const cr_engine_context *x, void *ud) {
  rec *r = ud;
  r->nalert++;
  r->alert_reason = x->reason;
  return 0;
}

static int on_event(const cr_engine_event *ev, void *ud) {
  rec *r = ud;
  {
    char line[512], conv[64], agent[64], det[64], q[64];
    cp(conv, sizeof conv, ev->conv, ev->conv_len);
    cp(agent, sizeof agent, ev->agent, ev->agent_len);
    cp(det, sizeof det, ev->text, ev->text_len);
    cp(q, sizeof q, ev->queue, ev->queue_len);
    int n = snprintf(line, sizeof line, "%llu %lld %d %d %d %d %d %s %s %s %s",
                     (unsigned long long)ev->seq, (long long)ev->time,
                     ev->type, ev->from, ev->to, ev->reason, ev->channel,
                     conv, agent, det, q);
    if (r->jhash == 0)
      r->jhash = 1469598103934665603ULL;
    for (int i = 0; i < n; i++)
      r->jhash = (r->jhash ^ (uint8_t)line[i]) * 1099511628211ULL;
    r->jcount++;
  }
  if (r->nj < MAXJ) {
    char conv[64], agent[64], det[64];
    cp(conv, sizeof conv, ev->conv, ev->conv_len);
    cp(agent, sizeof agent, ev->agent, ev->agent_len);
    cp(det, sizeof det, ev->text, ev->text_len);
    snprintf(r->j[r->nj], sizeof r->j[0], "%s %s>%s %s %s %s %s",
             cr_engine_event_name(ev->type), cr_engine_state_name(ev->from),
             cr_engine_state_name(ev->to), cr_engine_reason_name(ev->reason),
             conv, agent[0] ? agent : "-", det[0] ? det : "-");
    r->jt[r->nj] = ev->time;
    r->jseq[r->nj] = ev->seq;
    r->jsender[r->nj] = ev->sender;
    cp(r->jintent[r->nj], sizeof r->jintent[0], ev->intent, ev->intent_len);
    r->nj++;
  }
  return r->fail_journal ? -1 : 0;
}

static const cr_engine_callbacks CBS = {on_send,  on_offer, on_cancel,
                                        on_action, on_validate, on_alert,
                                        NULL,     on_event, NULL,
                                        NULL};

/* ------------------------------------------------------------------ */
/* the configured engine */

typedef struct T {
  cr_engine *e;
  rec r;
} T;

static const cr_field_spec F_ACCOUNT = {
    S("account_number"),
    (const cr_lang_text[]){{S("en"), S("What is your account number?")},
                           {S("he"), S("מה מספר החשבון שלך?")}},
    2, CR_PATTERN_DIGITS, 6, 10};
static const cr_field_spec F_ADDRESS = {
    S("address"),
    (const cr_lang_text[]){{S("en"), S("What is the new address?")},
                           {S("he"), S("מה הכתובת החדשה?")}},
    2, CR_PATTERN_NONEMPTY, 5, 200};

static int policy(cr_engine *e, const char *label, int kind,
                  const char *en, const char *he, const char *action,
                  const char *queue, const cr_field_spec *fields,
                  size_t nf, const cr_skill_level *sk, size_t ns) {
  cr_intent_policy p;
  cr_engine_policy_init(&p);
  cr_lang_text t[2] = {{S("en"), en, en ? strlen(en) : 0},
                       {S("he"), he, he ? strlen(he) : 0}};
  p.kind = kind;
  if (en) {
    p.text = t;
    p.ntext = 2;
  }
  p.action = action;
  p.action_len = action ? strlen(action) : 0;
  p.queue = queue;
  p.queue_len = queue ? strlen(queue) : 0;
  p.fields = fields;
  p.nfields = nf;
  p.skills = sk;
  p.nskills = ns;
  return cr_engine_set_policy(e, label, strlen(label), &p);
}

/* Demo-like bot, five queues (general has the six-minute maximum wait),
 * two agents a1 (he + en) and a2 (en) who are members of every queue. */
static int configure(cr_engine *e, cr_time now, int login) {
  int rc = 0;
  cr_field_spec addr[2] = {F_ACCOUNT, F_ADDRESS};
  cr_skill_level billing = {S("billing"), 1};
  rc |= policy(e, "greeting", CR_POLICY_ANSWER, "Hi! How can I help?",
               "שלום! במה אפשר לעזור?", NULL, NULL, NULL, 0, NULL, 0);
  rc |= policy(e, "thanks_goodbye", CR_POLICY_END, "Glad to help!",
               "שמחנו לעזור!", NULL, NULL, NULL, 0, NULL, 0);
  rc |= policy(e, "invoice_copy", CR_POLICY_ACTION, "Sending it now.",
               "שולח/ת עכשיו.", "send_invoice", "billing", NULL, 0, NULL, 0);
  rc |= policy(e, "billing_question", CR_POLICY_COLLECT, NULL, NULL, NULL,
               "billing", &F_ACCOUNT, 1, &billing, 1);
  rc |= policy(e, "address_change", CR_POLICY_COLLECT, NULL, NULL, NULL,
               "general", addr, 2, NULL, 0);
  static const cr_lang_text email_prompt[] = {{S("en"), S("Your new email?")}};
  const cr_field_spec F_EMAIL = {S("email"), email_prompt, 1,
                                 CR_PATTERN_CALLBACK, 0, 0};
  rc |= policy(e, "update_details", CR_POLICY_COLLECT, NULL, NULL, NULL,
               "general", &F_EMAIL, 1, NULL, 0);
  rc |= policy(e, "technical_fault", CR_POLICY_HANDOFF, NULL, NULL, NULL,
               "tech", NULL, 0, NULL, 0);
  rc |= policy(e, "emergency", CR_POLICY_EMERGENCY, NULL, NULL, NULL,
               "emergency", NULL, 0, NULL, 0);
  rc |= policy(e, "talk_to_human", CR_POLICY_HUMAN, NULL, NULL, NULL, NULL,
               NULL, 0, NULL, 0);
  if (rc)
    return rc;
  cr_engine_rule ru;
  cr_skill_level he = {S("he"), 3};
  cr_engine_rule_init(&ru);
  ru.key = "lang";
  ru.key_len = 4;
  ru.value = "he";
  ru.value_len = 2;
  ru.skills = &he;
  ru.nskills = 1;
  if ((rc = cr_engine_add_rule(e, &ru)))
    return rc;
  cr_engine_rule_init(&ru);
  ru.key = "tier";
  ru.key_len = 4;
  ru.value = "vip";
  ru.value_len = 3;
  ru.queue = "vip";
  ru.queue_len = 3;
  ru.priority_add = 50;
  if ((rc = cr_engine_add_rule(e, &ru)))
    return rc;
  cr_router *r = cr_engine_router(e);
  const char *queues[] = {"general", "billing", "tech", "vip", "emergency"};
  for (int i = 0; i < 5; i++) {
    cr_queue_config q;
    cr_queue_config_init(&q);
    if (i == 0)
      q.max_wait_ms = 360000; /* six minutes */
    if ((rc = cr_router_queue_add(r, queues[i], strlen(queues[i]), &q, now)))
      return rc;
  }
  const char *agents[] = {"a1", "a2"};
  cr_skill_level sk1[3] = {{S("he"), 5}, {S("en"), 5}, {S("billing"), 3}};
  cr_skill_level sk2[2] = {{S("en"), 5}, {S("billing"), 2}};
  for (int i = 0; i < 2; i++) {
    cr_agent_config a;
    cr_agent_config_init(&a);
    a.max_per_channel[CR_CHANNEL_CHAT] = 3;
    a.max_per_channel[CR_CHANNEL_WHATSAPP] = 3;
    a.max_per_channel[CR_CHANNEL_VOICE] = 1;
    a.skills = i ? sk2 : sk1;
    a.nskills = i ? 2 : 3;
    if ((rc = cr_router_agent_add(r, agents[i], 2, &a, now)))
      return rc;
    for (int k = 0; k < 5; k++)
      if ((rc = cr_router_agent_join(r, agents[i], 2, queues[k],
                                     strlen(queues[k]), 0, 0, now)))
        return rc;
    if (login && (rc = cr_router_agent_set_status(
                      r, agents[i], 2, CR_AGENT_AVAILABLE, NULL, 0, now)))
      return rc;
  }
  return 0;
}

static void mk_cfg(T *t, const cr_engine_config *cfg, int login) {
  memset(t, 0, sizeof *t);
  assert_int_equal(cr_engine_new(&t->e, NULL, MODEL, cfg), 0);
  t->r.e = t->e;
  cr_engine_callbacks cb = CBS;
  cb.user_data = &t->r;
  assert_int_equal(cr_engine_set_callbacks(t->e, &cb), 0);
  assert_int_equal(configure(t->e, 0, login), 0);
}

static void mk(T *t, int login) { mk_cfg(t, NULL, login); }

static void rm(T *t) { cr_engine_del(t->e); }

static int say(T *t, const char *conv, const char *text, cr_time now) {
  char cust[64];
  snprintf(cust, sizeof cust, "cust-%.48s", conv);
  return cr_engine_customer_message(t->e, conv, strlen(conv), cust,
                                    strlen(cust), CR_CHANNEL_CHAT, text,
                                    strlen(text), NULL, 0, now);
}

static int sayp(T *t, const char *conv, const char *text, const char *prof,
                cr_time now) {
  char cust[64];
  snprintf(cust, sizeof cust, "cust-%.48s", conv);
  return cr_engine_customer_message(t->e, conv, strlen(conv), cust,
                                    strlen(cust), CR_CHANNEL_CHAT, text,
                                    strlen(text), prof, strlen(prof), now);
}

static int st(T *t, const char *conv) {
  cr_engine_summary s;
  if (cr_engine_conv_info(t->e, conv, strlen(conv), &s))
    return -1;
  return s.state;
}

static int reason(T *t, const char *conv) {
  cr_engine_summary s;
  if (cr_engine_conv_info(t->e, conv, strlen(conv), &s))
    return -1;
  return s.reason;
}

/* The journal has an entry starting with `prefix` at or after index from;
 * returns its index or -1. */
static int jfind(const rec *r, int from, const char *prefix) {
  for (int i = from; i < r->nj; i++)
    if (!strncmp(r->j[i], prefix, strlen(prefix)))
      return i;
  return -1;
}

static void dump(const rec *r) {
  for (int i = 0; i < r->nj; i++)
    printf("  [%d] t=%lld %s\n", i, (long long)r->jt[i], r->j[i]);
}

#define JHAS(r, p)                                                            \
  do {                                                                        \
    if (jfind((r), 0, (p)) < 0) {                                             \
      dump(r);                                                                \
      fail_msg("journal lacks \"%s\"", (p));                                  \
    }                                                                         \
  } while (0)

static int accept_(T *t, const char *conv, const char *agent, cr_time now) {
  return cr_engine_agent_accept(t->e, conv, strlen(conv), agent,
                                strlen(agent), now);
}

static int close_(T *t, const char *conv, const char *agent, cr_time now) {
  return cr_engine_agent_close(t->e, conv, strlen(conv), agent, strlen(agent),
                               1, now);
}

/* ------------------------------------------------------------------ */
/* scenarios */

static void test_bot_only_contained(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_BOT);
  assert_string_equal(t.r.last_send, "Hi! How can I help?");
  assert_string_equal(t.r.last_lang, "en");
  assert_int_equal(say(&t, "c1", "thanks, bye", 5000), 0);
  assert_int_equal(st(&t, "c1"), -1); /* ended and forgotten */
  assert_string_equal(t.r.last_send, "Glad to help!");
  JHAS(&t.r, "ANSWER BOT>BOT NONE c1");
  JHAS(&t.r, "BOT_END BOT>RESOLVED NONE c1");
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.contacts, 1);
  assert_int_equal(rep.bot_contained, 1);
  assert_int_equal(rep.answered, 0);
  assert_true(fabs(rep.containment - 1.0) < 1e-12);
  /* journal numbering is dense and increasing */
  for (int i = 0; i < t.r.nj; i++)
    assert_int_equal(t.r.jseq[i], (uint64_t)i + 1);
  rm(&t);
}

static void test_collect_then_handoff_context(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(sayp(&t, "c1", "I need to change my address",
                        "tier=gold;segment=home", 1000),
                   0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  assert_string_equal(t.r.last_send, "What is your account number?");
  assert_int_equal(say(&t, "c1", "12ab", 2000), 0); /* not digits */
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  JHAS(&t.r, "FIELD_BAD COLLECT>COLLECT NONE c1 - account_number");
  assert_string_equal(t.r.last_send, "What is your account number?");
  assert_int_equal(say(&t, "c1", " 1234567 ", 3000), 0);
  assert_string_equal(t.r.last_send, "What is the new address?");
  assert_int_equal(t.r.noffer, 0);
  assert_int_equal(say(&t, "c1", "12 Herzl St, Haifa", 4000), 0);
  /* handed off with the whole context, offered at once */
  JHAS(&t.r, "FIELD_OK COLLECT>COLLECT NONE c1 - address");
  JHAS(&t.r, "HANDOFF COLLECT>QUEUED COLLECTED c1");
  assert_int_equal(t.r.noffer, 1);
  assert_int_equal(st(&t, "c1"), CR_ST_OFFERED);
  const cr_engine_context *x = &t.r.ctx;
  assert_int_equal(x->reason, CR_REASON_COLLECTED);
  assert_string_equal(t.r.ctx_queue, "general");
  assert_string_equal(t.r.ctx_intent, "address_change");
  assert_string_equal(t.r.ctx_lang, "en");
  assert_int_equal(x->nfields, 2);
  assert_string_equal(t.r.ctx_fields[0][0], "account_number");
  assert_string_equal(t.r.ctx_fields[0][1], "1234567");
  assert_string_equal(t.r.ctx_fields[1][0], "address");
  assert_string_equal(t.r.ctx_fields[1][1], "12 Herzl St, Haifa");
  assert_int_equal(x->nprofile, 2);
  assert_string_equal(t.r.ctx_profile[0][0], "tier");
  assert_string_equal(t.r.ctx_profile[0][1], "gold");
  assert_string_equal(t.r.ctx_profile[1][0], "segment");
  assert_int_equal(x->nchannels, 1);
  assert_int_equal(t.r.ctx_channels[0], CR_CHANNEL_CHAT);
  assert_int_equal(x->dropped, 0);
  /* transcript: customer and bot lines, in order */
  const char *want[] = {"I need to change my address",
                        "What is your account number?",
                        "12ab",
                        "That doesn't look right.",
                        "What is your account number?",
                        " 1234567 ",
                        "What is the new address?",
                        "12 Herzl St, Haifa",
                        "I'm passing you to an agent; they will see this "
                        "conversation."};
  int from[] = {CR_FROM_CUSTOMER, CR_FROM_BOT, CR_FROM_CUSTOMER, CR_FROM_BOT,
                CR_FROM_BOT,      CR_FROM_CUSTOMER, CR_FROM_BOT,
                CR_FROM_CUSTOMER, CR_FROM_BOT};
  assert_int_equal(x->ntranscript, 9);
  for (int i = 0; i < 9; i++) {
    assert_string_equal(t.r.ctx_lines[i], want[i]);
    assert_int_equal(t.r.ctx_from[i], from[i]);
  }
  assert_true(x->nintents >= 1);
  assert_string_equal(t.r.ctx_intents[0], "address_change");
  assert_true(t.r.ctx_conf[0] > 0.45 && t.r.ctx_conf[0] <= 1.0);
  /* the agent takes it */
  assert_int_equal(accept_(&t, "c1", t.r.offer_agent, 9000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_AGENT);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.nfields, 2);
  assert_int_equal(s.queued_at, 4000);
  assert_int_equal(s.answered_at, 9000);
  rm(&t);
}

/* Gets conversation `c` into bot state `want` (BOT, CLARIFY, COLLECT,
 * ACTION) with English messages. */
static void reach(T *t, const char *c, int want, cr_time now) {
  const char *msg = want == CR_ST_BOT       ? "hello"
                    : want == CR_ST_CLARIFY ? "what's the weather tomorrow"
                    : want == CR_ST_COLLECT ? "I need to change my address"
                                            : "please send me a copy of my "
                                              "invoice";
  assert_int_equal(say(t, c, msg, now), 0);
  if (st(t, c) != want) {
    dump(&t->r);
    fail_msg("wanted %s, got %s", cr_engine_state_name(want),
             cr_engine_state_name(st(t, c)));
  }
}

static void test_human_request_every_bot_state(void **state) {
  (void)state;
  const char *asks[] = {"אני רוצה לדבר עם נציג", "I want to talk to a human",
                        "representative please"};
  int states[] = {CR_ST_BOT, CR_ST_CLARIFY, CR_ST_COLLECT, CR_ST_ACTION};
  for (int a = 0; a < 3; a++)
    for (int s = 0; s < 4; s++) {
      T t;
      mk(&t, 1);
      reach(&t, "c", states[s], 1000);
      int before = t.r.nj;
      assert_int_equal(say(&t, "c", asks[a], 2000), 0);
      int i = jfind(&t.r, before, "HUMAN ");
      if (i < 0) {
        dump(&t.r);
        fail_msg("no HUMAN for \"%s\" in %s", asks[a],
                 cr_engine_state_name(states[s]));
      }
      char want[64];
      snprintf(want, sizeof want, "HUMAN %s>QUEUED REQUESTED c",
               cr_engine_state_name(states[s]));
      assert_true(!strncmp(t.r.j[i], want, strlen(want)));
      /* the offer follows at once (agents are free) */
      assert_int_equal(st(&t, "c"), CR_ST_OFFERED);
      assert_int_equal(reason(&t, "c"), CR_REASON_REQUESTED);
      assert_int_equal(t.r.ctx.reason, CR_REASON_REQUESTED);
      if (a == 0) /* the notice came in Hebrew */
        assert_string_equal(t.r.last_lang, "he");
      rm(&t);
    }
}

static void test_failure_streak(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "what's the weather tomorrow", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_CLARIFY);
  /* clarify offers two intents by title (label without titles) */
  assert_non_null(strstr(t.r.last_send, "Did you mean "));
  assert_int_equal(say(&t, "c1", "tell me a joke", 2000), 0);
  JHAS(&t.r, "UNCLEAR BOT>CLARIFY NONE c1");
  JHAS(&t.r, "FAIL_STREAK CLARIFY>QUEUED FAILURE_STREAK c1");
  assert_int_equal(reason(&t, "c1"), CR_REASON_FAILURE_STREAK);
  assert_int_equal(t.r.noffer, 1);
  rm(&t);
}

/* {1} {2} and {q} may each appear any number of times: the composed text
 * is sized by what it holds (a CLARIFY text naming {1} twice used to
 * write past its buffer), and {q} names the queue in a handoff notice. */
static void test_text_placeholders(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  char tx[400] = "";
  for (int i = 0; i < 8; i++)
    strcat(tx, "{1}{2}");
  strcat(tx, "{q}.{x}{");
  assert_int_equal(
      cr_engine_set_text(t.e, CR_TEXT_CLARIFY, S("en"), tx, strlen(tx)), 0);
  assert_int_equal(say(&t, "c1", "what's the weather tomorrow", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_CLARIFY);
  econv *c = cr__e_find(t.e, S("c1"));
  size_t l1, l2;
  const char *t1 = cr__e_label(t.e, c->clar[0], &l1);
  const char *t2 = cr__e_label(t.e, c->clar[1], &l2);
  char want[2048] = "";
  for (int i = 0; i < 8; i++) {
    strncat(want, t1, l1);
    strncat(want, t2, l2);
  }
  strcat(want, ".{x}{"); /* {q}: no queue yet; others stay as written */
  assert_true(strlen(want) < sizeof t.r.last_send);
  assert_string_equal(t.r.last_send, want);
  /* the handoff notice names its queue, as often as it asks */
  assert_int_equal(cr_engine_set_text(t.e, CR_TEXT_HANDOFF, S("en"),
                                      S("To the {q} team ({q}), {1}.")),
                   0);
  assert_int_equal(say(&t, "c2", "representative please", 2000), 0);
  assert_string_equal(t.r.ctx_queue, "general");
  assert_string_equal(t.r.last_send, "To the general team (general), {1}.");
  rm(&t);
}

static void test_clarify_pick(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "what's the weather tomorrow", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_CLARIFY);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.unclear, 1);
  econv *c = cr__e_find(t.e, S("c1"));
  assert_true(c->clar[0] >= 0);
  /* "1" picks the first offered intent, which resets the streak */
  assert_int_equal(say(&t, "c1", "1", 2000), 0);
  JHAS(&t.r, "MESSAGE CLARIFY>CLARIFY");
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.unclear, 0);
  assert_int_not_equal(s.state, CR_ST_CLARIFY);
  rm(&t);
}

static void test_agent_step_and_back(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  reach(&t, "c1", CR_ST_BOT, 1000);
  assert_int_equal(say(&t, "c1", "representative please", 2000), 0);
  const char *ag = t.r.offer_agent;
  char agent[64];
  snprintf(agent, sizeof agent, "%s", ag);
  assert_int_equal(accept_(&t, "c1", agent, 3000), 0);
  assert_int_equal(cr_engine_agent_reply(t.e, S("c1"), agent, 2,
                                         S("Hi, I'm Dana. Checking."), 4000),
                   0);
  assert_string_equal(t.r.last_send, "Hi, I'm Dana. Checking.");
  assert_int_equal(cr_engine_agent_step(t.e, S("c1"), agent, 2,
                                        S("send_invoice"), S("month=10"),
                                        5000),
                   0);
  assert_int_equal(st(&t, "c1"), CR_ST_BOTSTEP);
  assert_string_equal(t.r.action, "send_invoice");
  assert_string_equal(t.r.action_args, "month=10");
  assert_string_equal(t.r.action_agent, agent);
  /* a reply while the bot has the step is refused */
  assert_int_equal(cr_engine_agent_reply(t.e, S("c1"), agent, 2, S("x"),
                                         5500),
                   CR_ESTATE);
  assert_int_equal(cr_engine_action_result(t.e, S("c1"), 1,
                                           S("Invoice sent to your email."),
                                           6000),
                   0);
  assert_int_equal(st(&t, "c1"), CR_ST_AGENT);
  assert_string_equal(t.r.last_send, "Invoice sent to your email.");
  JHAS(&t.r, "STEP AGENT>BOTSTEP NONE c1");
  JHAS(&t.r, "ACTION_OK BOTSTEP>AGENT NONE c1");
  assert_int_equal(close_(&t, "c1", agent, 9000), 0);
  JHAS(&t.r, "CLOSE AGENT>WRAPUP NONE c1 a1");
  rm(&t);
}

static void test_bot_action_ok_and_failed(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  reach(&t, "c1", CR_ST_ACTION, 1000);
  assert_string_equal(t.r.action, "send_invoice");
  assert_string_equal(t.r.action_agent, "");
  assert_int_equal(cr_engine_action_result(t.e, S("c1"), 1, S("Sent!"), 2000),
                   0);
  assert_int_equal(st(&t, "c1"), CR_ST_BOT);
  reach(&t, "c2", CR_ST_ACTION, 3000);
  assert_int_equal(cr_engine_action_result(t.e, S("c2"), 0,
                                           S("The mail server is down."),
                                           4000),
                   0);
  JHAS(&t.r, "ACTION_FAIL ACTION>QUEUED ACTION_FAILED c2");
  assert_int_equal(reason(&t, "c2"), CR_REASON_ACTION_FAILED);
  assert_string_equal(t.r.ctx_queue, "billing");
  rm(&t);
}

static void test_emergency_alert(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "this is an emergency", 1000), 0);
  assert_int_equal(t.r.nalert, 1);
  assert_int_equal(t.r.alert_reason, CR_REASON_EMERGENCY);
  int a = jfind(&t.r, 0, "HANDOFF BOT>QUEUED EMERGENCY c1");
  int o = jfind(&t.r, 0, "OFFER QUEUED>OFFERED");
  assert_true(a >= 0 && o > a);
  cr_conv_info ci;
  assert_int_equal(cr_router_conv_info(cr_engine_router(t.e), S("c1"), &ci),
                   0);
  assert_int_equal(ci.priority, CR_ROUTER_MAX_PRIORITY);
  assert_int_equal(ci.queue_len, 9);
  assert_memory_equal(ci.queue, "emergency", 9);
  /* Hebrew too */
  assert_int_equal(say(&t, "c2", "מקרה חירום", 2000), 0);
  assert_int_equal(t.r.nalert, 2);
  rm(&t);
}

static void test_transfer_keeps_context(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "I need to change my address", 1000), 0);
  assert_int_equal(say(&t, "c1", "1234567", 2000), 0);
  assert_int_equal(say(&t, "c1", "12 Herzl St, Haifa", 3000), 0);
  char first[64];
  snprintf(first, sizeof first, "%s", t.r.offer_agent);
  size_t nlines = t.r.ctx.ntranscript;
  assert_int_equal(accept_(&t, "c1", first, 4000), 0);
  assert_int_equal(cr_engine_agent_reply(t.e, S("c1"), first, 2,
                                         S("Moving you to tech."), 5000),
                   0);
  const char *other = strcmp(first, "a1") ? "a1" : "a2";
  assert_int_equal(cr_engine_agent_transfer(t.e, S("c1"), first, 2, S("tech"),
                                            other, 2, 6000),
                   0);
  JHAS(&t.r, "TRANSFER AGENT>QUEUED TRANSFER c1");
  assert_int_equal(t.r.noffer, 2);
  assert_string_equal(t.r.offer_agent, other); /* the preferred agent */
  assert_string_equal(t.r.ctx_prev_agent, first);
  assert_string_equal(t.r.ctx_queue, "tech");
  assert_int_equal(t.r.ctx.transfers, 1);
  assert_int_equal(t.r.ctx.reason, CR_REASON_TRANSFER);
  assert_int_equal(t.r.ctx.nfields, 2);
  assert_string_equal(t.r.ctx_fields[0][1], "1234567");
  assert_int_equal(t.r.ctx.ntranscript, nlines + 1); /* + the agent line */
  assert_string_equal(t.r.ctx_lines[nlines], "Moving you to tech.");
  assert_int_equal(t.r.ctx_from[nlines], CR_FROM_AGENT);
  assert_int_equal(accept_(&t, "c1", other, 7000), 0);
  assert_int_equal(close_(&t, "c1", other, 8000), 0);
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.transferred, 1);
  rm(&t);
}

static void test_channel_switch_keeps_place(void **state) {
  (void)state;
  T t;
  mk(&t, 0); /* nobody logged in: both wait */
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(say(&t, "c2", "representative please", 2000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_QUEUED);
  assert_non_null(strstr(t.r.last_send, "No agent is available"));
  assert_int_equal(cr_engine_channel_switch(t.e, S("c1"),
                                            CR_CHANNEL_WHATSAPP, 3000),
                   0);
  JHAS(&t.r, "CHANNEL QUEUED>QUEUED NONE c1");
  cr_conv_info ci;
  assert_int_equal(cr_router_conv_info(cr_engine_router(t.e), S("c1"), &ci),
                   0);
  assert_int_equal(ci.arrival, 1000); /* the place in line */
  assert_int_equal(ci.channel, CR_CHANNEL_WHATSAPP);
  /* one agent logs in: c1 (first in line, now on WhatsApp) is offered */
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a2"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              4000),
                   0);
  assert_int_equal(t.r.noffer, 2); /* a2 has room for both */
  assert_int_equal(t.r.ctx.nchannels, 1);
  assert_int_equal(st(&t, "c1"), CR_ST_OFFERED);
  /* the earlier offer was c1's: find it */
  int i = jfind(&t.r, 0, "OFFER QUEUED>OFFERED NONE c1 a2");
  int k = jfind(&t.r, 0, "OFFER QUEUED>OFFERED NONE c2 a2");
  assert_true(i >= 0 && k > i);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.channel, CR_CHANNEL_WHATSAPP);
  assert_int_equal(s.messages, 2); /* history kept */
  rm(&t);
}

static void test_channel_switch_while_offered(void **state) {
  (void)state;
  T t;
  mk(&t, 0);
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a1"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              10),
                   0);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_OFFERED);
  assert_int_equal(cr_engine_channel_switch(t.e, S("c1"), CR_CHANNEL_VOICE,
                                            2000),
                   0);
  /* withdrawn, then offered again on the new channel; never stranded in
   * OFFERED without an offer */
  JHAS(&t.r, "CHANNEL OFFERED>OFFERED NONE c1");
  int i = jfind(&t.r, 0, "CHANNEL OFFERED>OFFERED");
  assert_true(jfind(&t.r, i, "OFFER_CANCEL OFFERED>QUEUED") > i);
  assert_int_equal(t.r.ncancel, 1);
  econv *c = cr__e_find(t.e, S("c1"));
  cr_conv_info ci;
  assert_int_equal(cr_router_conv_info(cr_engine_router(t.e), S("c1"), &ci),
                   0);
  assert_int_equal(c->st == CR_ST_OFFERED, ci.state == CR_CONV_OFFERED);
  assert_int_equal(c->noffers, ci.offers);
  rm(&t);
}

static void test_language_and_action_args(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "אני צריך לשנות כתובת", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  assert_string_equal(t.r.last_send, "מה מספר החשבון שלך?");
  assert_int_equal(say(&t, "c1", "1234567", 2000), 0); /* no letters */
  assert_string_equal(t.r.last_lang, "he");
  assert_string_equal(t.r.last_send, "מה הכתובת החדשה?");
  /* a later bot action gets the collected fields */
  econv *c = cr__e_find(t.e, S("c1"));
  c->st = CR_ST_BOT; /* as if the collect had been answered */
  assert_int_equal(say(&t, "c1", "please send me a copy of my invoice", 3000),
                   0);
  assert_string_equal(t.r.action, "send_invoice");
  assert_string_equal(t.r.action_args, "account_number=1234567");
  rm(&t);
}

/* A field the host validates later (CR_VALIDATE_LATER). */
static void test_async_validation(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "update my email", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  assert_int_equal(cr_engine_field_result(t.e, S("c1"), 1, 1500), CR_ESTATE);
  t.r.validate_answer = CR_VALIDATE_LATER;
  assert_int_equal(say(&t, "c1", "dana@example.com", 2000), 0);
  assert_string_equal(t.r.validated, "dana@example.com");
  JHAS(&t.r, "MESSAGE COLLECT>COLLECT NONE c1 - validating");
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  /* the host says no: asked again */
  assert_int_equal(cr_engine_field_result(t.e, S("c1"), 0, 3000), 0);
  JHAS(&t.r, "FIELD_BAD COLLECT>COLLECT NONE c1 - email");
  assert_string_equal(t.r.last_send, "Your new email?");
  assert_int_equal(cr_engine_field_result(t.e, S("c1"), 1, 3500), CR_ESTATE);
  assert_int_equal(say(&t, "c1", "dana@example.org", 4000), 0);
  assert_int_equal(cr_engine_field_result(t.e, S("c1"), 1, 5000), 0);
  JHAS(&t.r, "FIELD_OK COLLECT>COLLECT NONE c1 - email");
  JHAS(&t.r, "HANDOFF COLLECT>QUEUED COLLECTED c1");
  assert_int_equal(t.r.ctx.nfields, 1);
  assert_string_equal(t.r.ctx_fields[0][1], "dana@example.org");
  /* synchronous answers still work: 0 valid, 1 invalid */
  t.r.validate_answer = 1;
  assert_int_equal(say(&t, "c2", "update my email", 6000), 0);
  assert_int_equal(say(&t, "c2", "nope", 7000), 0);
  JHAS(&t.r, "FIELD_BAD COLLECT>COLLECT NONE c2 - email");
  rm(&t);
}

/* A CALLBACK field's length bounds are checked before the host's
 * validate callback: the host sees only values that meet them. */
static void test_callback_field_bounds(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  static const cr_lang_text pr[] = {{S("en"), S("Your new email?")}};
  const cr_field_spec f = {S("email"), pr, 1, CR_PATTERN_CALLBACK, 5, 12};
  assert_int_equal(policy(t.e, "update_details", CR_POLICY_COLLECT, NULL,
                          NULL, NULL, "general", &f, 1, NULL, 0),
                   0);
  t.r.validate_answer = 0; /* the host would accept anything */
  assert_int_equal(say(&t, "c1", "update my email", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  int nv = t.r.nvalidate;
  assert_int_equal(say(&t, "c1", "x", 2000), 0); /* 1 < 5 */
  JHAS(&t.r, "FIELD_BAD COLLECT>COLLECT NONE c1 - email");
  assert_int_equal(t.r.nvalidate, nv); /* the host was not asked */
  assert_int_equal(say(&t, "c1", "d@ex.co", 3000), 0);
  assert_int_equal(t.r.nvalidate, nv + 1);
  assert_string_equal(t.r.validated, "d@ex.co");
  /* too long: refused, not asked either (a second bad value in a row
   * then hands the conversation to an agent, as for any field) */
  assert_int_equal(say(&t, "c2", "update my email", 4000), 0);
  assert_int_equal(say(&t, "c2", "dana.cohen@example.com", 5000), 0);
  JHAS(&t.r, "FIELD_BAD COLLECT>COLLECT NONE c2 - email");
  assert_int_equal(t.r.nvalidate, nv + 1);
  JHAS(&t.r, "HANDOFF COLLECT>QUEUED COLLECTED c1");
  rm(&t);
}

/* A customer who leaves the bot unhelped (during COLLECT) was handled by
 * the bot but is not counted as contained; one who leaves after an answer
 * is. */
static void test_left_bot_not_contained(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "update my email", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  assert_int_equal(cr_engine_abandon(t.e, S("c1"), 5000), 0);
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.bot_handled, 1);
  assert_int_equal(rep.bot_contained, 0);
  assert_true(rep.containment == 0.0);
  /* one who leaves after the bot answered was helped: contained */
  assert_int_equal(say(&t, "c2", "hi", 6000), 0);
  assert_int_equal(cr_engine_abandon(t.e, S("c2"), 7000), 0);
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.bot_handled, 2);
  assert_int_equal(rep.bot_contained, 1);
  rm(&t);
}

static void test_abandon_queued_and_offered(void **state) {
  (void)state;
  T t;
  mk(&t, 0);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(cr_engine_abandon(t.e, S("c1"), 5000), 0);
  JHAS(&t.r, "ABANDON QUEUED>ABANDONED NONE c1");
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a1"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              6000),
                   0);
  assert_int_equal(say(&t, "c2", "representative please", 7000), 0);
  assert_int_equal(st(&t, "c2"), CR_ST_OFFERED);
  assert_int_equal(cr_engine_abandon(t.e, S("c2"), 8000), 0);
  assert_int_equal(t.r.ncancel, 1);
  JHAS(&t.r, "ABANDON OFFERED>ABANDONED NONE c2");
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.abandoned, 2);
  assert_int_equal(rep.contacts, 2);
  assert_true(fabs(rep.abandon_rate - 1.0) < 1e-12);
  /* the agent is free again */
  cr_agent_stats as;
  assert_int_equal(cr_router_agent_stats(cr_engine_router(t.e), S("a1"), 9000,
                                         &as),
                   0);
  assert_int_equal(as.offers_pending, 0);
  rm(&t);
}

/* 2026-11-21 is a Saturday; 12:00 Israel time (UTC+2) is 10:00 UTC. */
#define SAT_NOON_IL ((cr_time)1795255200000LL)
#define SUN_NOON_IL (SAT_NOON_IL + 86400000LL)

static void set_israel_hours(cr_engine *e) {
  cr_open_interval iv[5];
  for (int d = 0; d < 5; d++) {
    iv[d].day = d; /* Sunday .. Thursday */
    iv[d].open_min = 8 * 60;
    iv[d].close_min = 20 * 60;
  }
  assert_int_equal(cr_engine_set_hours(e, iv, 5), 0);
}

static void test_after_hours(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.utc_offset_min = 120;
  T t;
  mk_cfg(&t, &cfg, 1);
  set_israel_hours(t.e);
  assert_int_equal(say(&t, "c1", "representative please", SAT_NOON_IL), 0);
  assert_non_null(strstr(t.r.last_send, "We are closed right now"));
  JHAS(&t.r, "HUMAN BOT>QUEUED REQUESTED c1 - after hours");
  /* queued: asynchronous messaging keeps it (and agents here are on) */
  assert_int_equal(say(&t, "c2", "representative please", SUN_NOON_IL), 0);
  assert_null(strstr(t.r.last_send, "closed"));
  rm(&t);
  /* configured to end instead */
  cfg.keep_queued_after_hours = 0;
  mk_cfg(&t, &cfg, 1);
  set_israel_hours(t.e);
  assert_int_equal(say(&t, "c1", "אני רוצה לדבר עם נציג", SAT_NOON_IL), 0);
  JHAS(&t.r, "NO_SERVICE BOT>EXPIRED AFTER_HOURS c1");
  assert_non_null(strstr(t.r.last_send, "המוקד סגור"));
  assert_int_equal(st(&t, "c1"), -1);
  /* helped first, then refused a human: escalated, not resolved, not
   * contained (the help does not make the refusal a resolution) */
  assert_int_equal(say(&t, "c3", "hi", SAT_NOON_IL + 1000), 0);
  JHAS(&t.r, "ANSWER BOT>BOT NONE c3");
  assert_int_equal(say(&t, "c3", "representative please", SAT_NOON_IL + 2000),
                   0);
  JHAS(&t.r, "NO_SERVICE BOT>EXPIRED AFTER_HOURS c3");
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.bot_contained, 0);
  assert_int_equal(rep.resolved, 0);
  assert_int_equal(rep.escalated, 2);
  /* 19:59 Thursday open, 20:00 closed: Thu 2026-11-19 */
  cr_time thu = SAT_NOON_IL - 2 * 86400000LL;
  assert_int_equal(cr__bot_is_open(t.e, thu + (7 * 60 + 59) * 60000LL), 1);
  assert_int_equal(cr__bot_is_open(t.e, thu + 8 * 3600000LL), 0);
  assert_int_equal(cr__bot_is_open(t.e, thu - 4 * 3600000LL), 1); /* 08:00 */
  assert_int_equal(cr__bot_is_open(t.e, thu - 4 * 3600000LL - 1), 0);
  rm(&t);
}

static void test_vip_rule(void **state) {
  (void)state;
  T t;
  mk(&t, 0);
  assert_int_equal(sayp(&t, "c1", "אני רוצה לדבר עם נציג",
                        "tier=vip;lang=he", 1000),
                   0);
  cr_conv_info ci;
  assert_int_equal(cr_router_conv_info(cr_engine_router(t.e), S("c1"), &ci),
                   0);
  assert_int_equal(ci.queue_len, 3);
  assert_memory_equal(ci.queue, "vip", 3);
  assert_int_equal(ci.priority, 50);
  /* the Hebrew rule required skill he:3: a2 (no Hebrew) is not offered it */
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a2"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              2000),
                   0);
  assert_int_equal(t.r.noffer, 0);
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a1"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              3000),
                   0);
  assert_int_equal(t.r.noffer, 1);
  assert_string_equal(t.r.offer_agent, "a1");
  assert_string_equal(t.r.ctx_lang, "he");
  rm(&t);
}

static void test_six_minute_max_wait(void **state) {
  (void)state;
  T t;
  mk(&t, 0);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_QUEUED);
  assert_int_equal(cr_engine_next_timeout(t.e), 1000 + 360000);
  assert_int_equal(cr_engine_tick(t.e, 1000 + 359999), 0);
  assert_int_equal(jfind(&t.r, 0, "MAXWAIT"), -1);
  assert_int_equal(t.r.nalert, 0);
  assert_int_equal(cr_engine_tick(t.e, 1000 + 360000), 0);
  int i = jfind(&t.r, 0, "MAXWAIT QUEUED>QUEUED MAX_WAIT c1");
  assert_true(i >= 0);
  assert_int_equal(t.r.jt[i], 361000);
  assert_int_equal(t.r.nalert, 1);
  assert_int_equal(t.r.alert_reason, CR_REASON_MAX_WAIT);
  /* a late tick still stamps it on time */
  T u;
  mk(&u, 0);
  assert_int_equal(say(&u, "c1", "representative please", 1000), 0);
  assert_int_equal(cr_engine_tick(u.e, 999999), 0);
  i = jfind(&u.r, 0, "MAXWAIT");
  assert_true(i >= 0);
  assert_int_equal(u.r.jt[i], 361000);
  rm(&u);
  rm(&t);
}

static void test_survey_right_agent(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  char ag1[64];
  snprintf(ag1, sizeof ag1, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag1, 2000), 0);
  assert_int_equal(say(&t, "c2", "representative please", 3000), 0);
  char ag2[64];
  snprintf(ag2, sizeof ag2, "%s", t.r.offer_agent);
  assert_string_not_equal(ag1, ag2);
  assert_int_equal(accept_(&t, "c2", ag2, 4000), 0);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 5, 10, 7, 4500),
                   CR_ESTATE); /* still live */
  assert_int_equal(close_(&t, "c1", ag1, 5000), 0);
  assert_int_equal(close_(&t, "c2", ag2, 6000), 0);
  /* answers arrive later, in the other order */
  assert_int_equal(cr_engine_survey(t.e, S("c2"), 1, 2, CR_METRICS_NONE,
                                    9000),
                   0);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 5, 10, 7, 9500), 0);
  assert_int_equal(cr_engine_survey(t.e, S("nope"), 5, 10, 7, 9600),
                   CR_ENOTFOUND);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 9, 10, 7, 9700),
                   CR_ERANGE);
  JHAS(&t.r, "SURVEY CLOSED>CLOSED NONE c1");
  cr_metrics *m = cr_engine_metrics(t.e);
  uint32_t id1, id2;
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, ag1, 2, &id1), 0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, ag2, 2, &id2), 0);
  cr_metrics_report r1, r2;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, id1, &r1), 0);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, id2, &r2), 0);
  assert_int_equal(r1.csat_n, 1);
  assert_true(fabs(r1.csat_mean - 5) < 1e-12);
  assert_true(fabs(r1.nps - 100) < 1e-9);
  assert_int_equal(r2.csat_n, 1);
  assert_true(fabs(r2.csat_mean - 1) < 1e-12);
  assert_int_equal(r1.answered, 1);
  assert_true(fabs(r1.aht_s - 3.0) < 1e-9);
  rm(&t);
}

static void test_returning_customer_sticky(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("representative please"),
                                              NULL, 0, 1000),
                   0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, 2000), 0);
  /* the same customer writes under another id: the same conversation */
  assert_int_equal(cr_engine_customer_message(t.e, S("c1-dup"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hello?"),
                                              NULL, 0, 2500),
                   0);
  assert_int_equal(cr_engine_conv_count(t.e), 1);
  assert_int_equal(close_(&t, "c1", ag, 3000), 0);
  /* back within the window: the other agent is longer idle, yet the
   * conversation goes to the agent who served her */
  assert_int_equal(cr_engine_customer_message(t.e, S("c9"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("representative please"),
                                              NULL, 0, 60000),
                   0);
  assert_string_equal(t.r.offer_agent, ag);
  rm(&t);
}

/* A customer writing (under a new id) while the agent wraps up the last
 * conversation starts a new contact, not a refused message. */
static void test_new_contact_during_wrapup(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.wrapup_ms = 60000;
  T t;
  mk_cfg(&t, &cfg, 1);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("representative please"),
                                              NULL, 0, 1000),
                   0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, 2000), 0);
  assert_int_equal(close_(&t, "c1", ag, 3000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_WRAPUP);
  assert_int_equal(cr_engine_customer_message(t.e, S("c2"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 4000),
                   0);
  assert_int_equal(st(&t, "c2"), CR_ST_BOT);
  assert_int_equal(cr_engine_conv_count(t.e), 2);
  /* later messages of that customer under other ids reach c2 */
  assert_int_equal(cr_engine_customer_message(t.e, S("c3"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 5000),
                   0);
  assert_int_equal(cr_engine_conv_count(t.e), 2);
  assert_int_equal(cr_engine_tick(t.e, 63000), 0);
  JHAS(&t.r, "WRAPUP_END WRAPUP>CLOSED NONE c1");
  assert_int_equal(cr_engine_conv_count(t.e), 1);
  rm(&t);
}

/* The recent record is a ring: the newest recent_max ended conversations
 * take surveys, older ones are forgotten (CR_ENOTFOUND), and evicting
 * keeps the open-addressing indexes whole. */
static void test_recent_ring(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.recent_max = 5;
  T t;
  mk_cfg(&t, &cfg, 1);
  char id[16];
  for (int i = 0; i < 40; i++) {
    snprintf(id, sizeof id, "r%d", i);
    assert_int_equal(say(&t, id, "hello", 1000 + i), 0);
    assert_int_equal(say(&t, id, "thanks, bye", 1000 + i), 0);
  }
  for (int i = 0; i < 40; i++) {
    snprintf(id, sizeof id, "r%d", i);
    int rc = cr_engine_survey(t.e, id, strlen(id), 5, 10, 7, 5000);
    assert_int_equal(rc, i >= 35 ? 0 : CR_ENOTFOUND);
  }
  for (int i = 35; i < 40; i++) {
    snprintf(id, sizeof id, "cust-r%d", i);
    assert_non_null(cr__e_recent_find(t.e, id, strlen(id), 1));
  }
  assert_null(cr__e_recent_find(t.e, S("cust-r34"), 1));
  rm(&t);
}

static void test_snapshot_roundtrip(void **state) {
  (void)state;
  T a, b;
  mk(&a, 1);
  mk(&b, 1);
  assert_int_equal(say(&a, "c1", "I need to change my address", 1000), 0);
  assert_int_equal(say(&a, "c1", "1234567", 2000), 0);
  assert_int_equal(say(&a, "c2", "hello", 2500), 0);
  assert_int_equal(say(&a, "c3", "representative please", 2600), 0);
  assert_int_equal(say(&a, "c4", "what's the weather tomorrow", 2700), 0);
  void *buf;
  size_t len;
  assert_int_equal(cr_engine_snapshot(a.e, &buf, &len), 0);
  /* corrupt copies are refused and change nothing */
  uint8_t *bad = malloc(len);
  for (size_t i = 0; i < len; i += len / 7 + 1) {
    memcpy(bad, buf, len);
    bad[i] ^= 0x40;
    assert_int_equal(cr_engine_restore(b.e, bad, len), CR_ECORRUPT);
  }
  assert_int_equal(cr_engine_restore(b.e, buf, len - 1), CR_ECORRUPT);
  /* a clock beyond +-2^62 ms (bytes 12-19), resealed: refused too */
  memcpy(bad, buf, len);
  for (int k = 0; k < 8; k++)
    bad[12 + k] = (uint8_t)(((uint64_t)1 << 62) >> (8 * k));
  uint32_t crc = cr__crc32(0, bad, len - 4);
  for (int k = 0; k < 4; k++)
    bad[len - 4 + k] = (uint8_t)(crc >> (8 * k));
  assert_int_equal(cr_engine_restore(b.e, bad, len), CR_ECORRUPT);
  assert_int_equal(cr_engine_conv_count(b.e), 0);
  free(bad);
  assert_int_equal(cr_engine_restore(b.e, buf, len), 0);
  cr_mem_free(NULL, buf);
  assert_int_equal(cr_engine_conv_count(b.e), 4);
  assert_int_equal(st(&b, "c1"), CR_ST_COLLECT);
  assert_int_equal(cr_engine_next_timeout(a.e), cr_engine_next_timeout(b.e));
  /* the same inputs from here on give the same journal */
  int ja = a.r.nj;
  b.r.nj = 0;
  T *both[2] = {&a, &b};
  for (int k = 0; k < 2; k++) {
    T *t = both[k];
    assert_int_equal(say(t, "c1", "12 Herzl St, Haifa", 3000), 0);
    assert_int_equal(say(t, "c4", "tell me a joke", 3100), 0);
    assert_int_equal(accept_(t, "c3", t->r.offer_agent, 3200), 0);
    assert_int_equal(cr_engine_tick(t->e, 3000000), 0);
    assert_int_equal(say(t, "c5", "hello", 3000001), 0);
  }
  assert_int_equal(a.r.nj - ja, b.r.nj);
  for (int i = 0; i < b.r.nj; i++) {
    assert_string_equal(a.r.j[ja + i], b.r.j[i]);
    assert_int_equal(a.r.jt[ja + i], b.r.jt[i]);
    assert_int_equal(a.r.jseq[ja + i], b.r.jseq[i]);
  }
  rm(&a);
  rm(&b);
}

static void test_callback_failure(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  t.r.fail_send = 1;
  assert_int_equal(say(&t, "c1", "hello", 1000), CR_ECALLBACK);
  assert_int_equal(st(&t, "c1"), CR_ST_BOT); /* the change happened */
  JHAS(&t.r, "ANSWER BOT>BOT NONE c1");
  t.r.fail_send = 0;
  /* an action callback that fails escalates */
  t.r.fail_action = 1;
  assert_int_equal(say(&t, "c2", "please send me a copy of my invoice",
                       2000),
                   CR_ECALLBACK);
  JHAS(&t.r, "ACTION BOT>ACTION NONE c2");
  JHAS(&t.r, "ACTION_FAIL ACTION>QUEUED ACTION_FAILED c2");
  t.r.fail_action = 0;
  /* a failing offer leaves the offer standing */
  t.r.fail_offer = 1;
  assert_int_equal(say(&t, "c3", "representative please", 3000),
                   CR_ECALLBACK);
  assert_int_equal(st(&t, "c3"), CR_ST_OFFERED);
  t.r.fail_offer = 0;
  /* a failing journal never loses the transition either */
  t.r.fail_journal = 1;
  assert_int_equal(say(&t, "c4", "hello", 4000), CR_ECALLBACK);
  assert_int_equal(st(&t, "c4"), CR_ST_BOT);
  t.r.fail_journal = 0;
  /* a callback calling back into the engine is refused */
  t.r.reenter = 1;
  assert_int_equal(say(&t, "c5", "representative please", 5000), 0);
  assert_int_equal(t.r.reenter_rc, CR_ESTATE);
  assert_int_equal(st(&t, "c5"), CR_ST_OFFERED);
  t.r.reenter = 0;
  /* ... and so is one into its inner router: a1 stays available */
  t.r.reenter_router = 1;
  t.r.reenter_rc = 0;
  assert_int_equal(say(&t, "c6", "hello", 6000), 0);
  assert_int_equal(t.r.reenter_rc, CR_ESTATE);
  t.r.reenter_router = 0;
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a1"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              7000),
                   0); /* outside a callback it works */
  rm(&t);
}

/* Every input in every live state it is not allowed in: CR_ESTATE (or,
 * for a wrong agent, CR_ESTATE too), the conversation and the journal
 * unchanged. */
static int drive(T *t, int which, const char *c, cr_time now) {
  switch (which) {
  case 0: return say(t, c, "hello", now);
  case 1: return cr_engine_action_result(t->e, c, 1, 1, NULL, 0, now);
  case 2: return cr_engine_action_result(t->e, c, 1, 0, NULL, 0, now);
  case 3: return cr_engine_end(t->e, c, 1, now);
  case 4: return accept_(t, c, "a1", now);
  case 5: return cr_engine_agent_reject(t->e, c, 1, S("a1"), now);
  case 6: return cr_engine_agent_reply(t->e, c, 1, S("a1"), S("hi"), now);
  case 7:
    return cr_engine_agent_step(t->e, c, 1, S("a1"), S("x"), NULL, 0, now);
  case 8:
    return cr_engine_agent_transfer(t->e, c, 1, S("a1"), S("tech"), NULL, 0,
                                    now);
  case 9: return close_(t, c, "a1", now);
  case 10: return cr_engine_wrapup_done(t->e, c, 1, now);
  case 11: return cr_engine_abandon(t->e, c, 1, now);
  case 12: return cr_engine_survey(t->e, c, 1, 5, 10, 7, now);
  default: return 0;
  }
}

/* which inputs each state allows (bit per drive() index) */
static unsigned allowed_inputs(int s) {
  switch (s) {
  case CR_ST_BOT:
  case CR_ST_CLARIFY:
  case CR_ST_COLLECT:
    return 1u << 0 | 1u << 3 | 1u << 11;
  case CR_ST_ACTION:
    return 1u << 0 | 1u << 1 | 1u << 2 | 1u << 11;
  case CR_ST_QUEUED:
    return 1u << 0 | 1u << 8 | 1u << 11;
  case CR_ST_OFFERED:
    return 1u << 0 | 1u << 4 | 1u << 5 | 1u << 8 | 1u << 11;
  case CR_ST_AGENT:
    return 1u << 0 | 1u << 6 | 1u << 7 | 1u << 8 | 1u << 9 | 1u << 11;
  case CR_ST_BOTSTEP:
    return 1u << 0 | 1u << 1 | 1u << 2 | 1u << 9 | 1u << 11;
  case CR_ST_WRAPUP: /* a message: the wrap-up ends, a new contact */
    return 1u << 0 | 1u << 10;
  }
  return 0;
}

static void build_state(T *t, int s) {
  /* agent a1 only, so offers are predictable */
  if (s >= CR_ST_QUEUED && s != CR_ST_QUEUED)
    assert_int_equal(cr_router_agent_set_status(cr_engine_router(t->e),
                                                S("a1"), CR_AGENT_AVAILABLE,
                                                NULL, 0, 10),
                     0);
  switch (s) {
  case CR_ST_BOT:
  case CR_ST_CLARIFY:
  case CR_ST_COLLECT:
  case CR_ST_ACTION:
    reach(t, "c", s, 100);
    return;
  default:
    break;
  }
  assert_int_equal(say(t, "c", "representative please", 100), 0);
  if (s == CR_ST_QUEUED || s == CR_ST_OFFERED)
    return;
  assert_int_equal(accept_(t, "c", "a1", 200), 0);
  if (s == CR_ST_BOTSTEP)
    assert_int_equal(cr_engine_agent_step(t->e, S("c"), S("a1"), S("x"), NULL,
                                          0, 300),
                     0);
  if (s == CR_ST_WRAPUP)
    assert_int_equal(close_(t, "c", "a1", 300), 0);
}

static void test_invalid_inputs_every_state(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.wrapup_ms = 30000; /* so WRAPUP lasts */
  for (int s = CR_ST_BOT; s <= CR_ST_WRAPUP; s++) {
    for (int in = 0; in <= 12; in++) {
      if (allowed_inputs(s) & (1u << in))
        continue;
      T t;
      mk_cfg(&t, &cfg, 0);
      build_state(&t, s);
      assert_int_equal(st(&t, "c"), s);
      void *b1;
      size_t n1;
      assert_int_equal(cr_engine_snapshot(t.e, &b1, &n1), 0);
      int nj = t.r.nj, nsend = t.r.nsend;
      int rc = drive(&t, in, "c", 500);
      if (rc != CR_ESTATE)
        fail_msg("state %s input %d: rc %d, want CR_ESTATE",
                 cr_engine_state_name(s), in, rc);
      assert_int_equal(t.r.nj, nj);
      assert_int_equal(t.r.nsend, nsend);
      void *b2;
      size_t n2;
      assert_int_equal(cr_engine_snapshot(t.e, &b2, &n2), 0);
      /* byte-identical, the clock too: nothing was due by 500, and a
       * refused input leaves the clock where the timers took it */
      assert_int_equal(n1, n2);
      assert_memory_equal(b1, b2, n1);
      econv *c = cr__e_find(t.e, S("c"));
      assert_non_null(c);
      assert_int_equal(c->st, s);
      cr_mem_free(NULL, b1);
      cr_mem_free(NULL, b2);
      rm(&t);
    }
  }
}

static void test_bad_input(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(cr_engine_customer_message(t.e, NULL, 0, NULL, 0, 0,
                                              S("x"), NULL, 0, 0),
                   CR_EINVAL);
  assert_int_equal(cr_engine_customer_message(t.e, S("c"), NULL, 0, 99,
                                              S("x"), NULL, 0, 0),
                   CR_EINVAL);
  assert_int_equal(cr_engine_customer_message(t.e, S("c"), NULL, 0, 0,
                                              "\xff\xfe", 2, NULL, 0, 0),
                   CR_EUTF8);
  assert_int_equal(cr_engine_customer_message(t.e, S("c"), NULL, 0, 0,
                                              S("x"), S("novalue"), 0),
                   CR_EINVAL);
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  assert_int_equal(say(&t, "c", "hello", 100), 0);
  assert_int_equal(say(&t, "c", "hello", 50), CR_EORDER);
  assert_int_equal(cr_engine_agent_accept(t.e, S("zz"), S("a1"), 100),
                   CR_ENOTFOUND);
  assert_int_equal(cr_engine_tick(NULL, 0), CR_EINVAL);
  assert_int_equal(cr_engine_set_policy(t.e, S("no_such_label"),
                                        &(cr_intent_policy){0}),
                   CR_ENOTFOUND);
  cr_open_interval bad = {7, 0, 10};
  assert_int_equal(cr_engine_set_hours(t.e, &bad, 1), CR_ERANGE);
  assert_int_equal(cr_engine_set_text(t.e, 99, S("en"), S("x")), CR_EINVAL);
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.transcript_max = 0;
  cr_engine *e2;
  assert_int_equal(cr_engine_new(&e2, NULL, MODEL, &cfg), CR_ERANGE);
  assert_int_equal(cr_engine_new(&e2, NULL, NULL, NULL), CR_EINVAL);
  cr_engine_del(NULL);
  rm(&t);
}

static void test_transcript_bounded(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.transcript_max = 4;
  T t;
  mk_cfg(&t, &cfg, 1);
  assert_int_equal(say(&t, "c1", "hello", 1), 0);   /* 2 lines */
  assert_int_equal(say(&t, "c1", "hello", 2), 0);   /* 4 */
  assert_int_equal(say(&t, "c1", "representative please", 3), 0); /* 6 */
  assert_int_equal(t.r.ctx.ntranscript, 4);
  assert_int_equal(t.r.ctx.dropped, 2);
  assert_string_equal(t.r.ctx_lines[0], "hello");
  assert_string_equal(t.r.ctx_lines[2], "representative please");
  rm(&t);
}

/* Idle in a bot state: helped -> RESOLVED, else EXPIRED, exactly on time. */
/* An agent logging in through the router after an engine timer fell due:
 * the overdue IDLE is journalled first, at its own time (the journal
 * never runs backwards). Reported by the determinism test's author. */
static void test_journal_time_after_direct_router_call(void **state) {
  (void)state;
  T t;
  mk(&t, 0);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0);
  assert_int_equal(say(&t, "c2", "representative please", 1000), 0);
  cr_time t2 = 1000 + 20 * 60000;
  assert_int_equal(cr_router_agent_set_status(cr_engine_router(t.e), S("a1"),
                                              CR_AGENT_AVAILABLE, NULL, 0,
                                              t2),
                   0);
  int i = jfind(&t.r, 0, "BOT_END BOT>RESOLVED IDLE c1");
  int o = jfind(&t.r, 0, "OFFER QUEUED>OFFERED NONE c2 a1");
  assert_true(i >= 0 && o > i);
  assert_int_equal(t.r.jt[i], 1000 + 15 * 60000);
  for (int k = 1; k < t.r.nj; k++)
    assert_true(t.r.jt[k] >= t.r.jt[k - 1]);
  rm(&t);
}

static void test_idle(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0);
  assert_int_equal(say(&t, "c2", "what's the weather tomorrow", 2000), 0);
  cr_time idle = 15 * 60 * 1000;
  assert_int_equal(cr_engine_next_timeout(t.e), 1000 + idle);
  assert_int_equal(cr_engine_tick(t.e, 2000 + idle), 0);
  int i = jfind(&t.r, 0, "BOT_END BOT>RESOLVED IDLE c1");
  int k = jfind(&t.r, 0, "IDLE CLARIFY>EXPIRED IDLE c2");
  assert_true(i >= 0 && k > i);
  assert_int_equal(t.r.jt[i], 1000 + idle);
  assert_int_equal(t.r.jt[k], 2000 + idle);
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  assert_int_equal(cr_engine_next_timeout(t.e), CR_TIME_NEVER);
  rm(&t);
}

/* Bytes held per live conversation (a short bot conversation: two lines). */
static void test_memory_per_conversation(void **state) {
  (void)state;
  cr_test_mem tm;
  cr_test_mem_init(&tm);
  cr_engine *e;
  assert_int_equal(cr_engine_new(&e, &tm.mem, MODEL, NULL), 0);
  assert_int_equal(configure(e, 0, 1), 0);
  size_t base = tm.live_bytes;
  char id[32];
  const int N = 2000;
  for (int i = 0; i < N; i++) {
    int n = snprintf(id, sizeof id, "conv-%d", i);
    assert_int_equal(cr_engine_customer_message(e, id, (size_t)n, id,
                                                (size_t)n, CR_CHANNEL_CHAT,
                                                S("hello"), NULL, 0, i),
                     0);
  }
  double per = (double)(tm.live_bytes - base) / N;
  printf("# bytes per live conversation (2 transcript lines): %.0f\n", per);
  assert_true(per <= 4096);
  cr_engine_del(e);
  assert_int_equal(tm.live, 0);
}

/* OOM sweep over a full hybrid scenario: every allocation failure comes
 * back as CR_ENOMEM from the call that met it, with the engine still
 * consistent and usable, and nothing leaks. */
static int oom_body(cr_test_mem *tm, void *ctx) {
  (void)ctx;
  cr_engine *e;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.alias_new_ids = 1; /* the c1x line makes an alias */
  int rc = cr_engine_new(&e, &tm->mem, MODEL, &cfg);
  if (rc)
    return rc;
  rec r;
  memset(&r, 0, sizeof r);
  cr_engine_callbacks cb = CBS;
  cb.user_data = &r;
  cr_engine_set_callbacks(e, &cb);
  rc = configure(e, 0, 1);
  /* the handoff notice names its queue: composed in the engine's handoff
   * buffer, one more allocation the sweep reaches */
  if (!rc)
    rc = cr_engine_set_text(e, CR_TEXT_HANDOFF, S("he"), S("לתור {q}."));
  int configured = !rc, line = 0;
  /* a refused input leaves no trace: no journal event, no message sent,
   * the same conversations in the same states */
  int nj0 = 0, ns0 = 0, st0 = 0;
  size_t nc0 = 0;
#define STEP(x)                                                               \
  do {                                                                        \
    if (!rc) {                                                                \
      nj0 = r.nj;                                                             \
      ns0 = r.nsend;                                                          \
      nc0 = cr_engine_conv_count(e);                                          \
      econv *c_ = cr__e_find(e, S("c1"));                                     \
      st0 = c_ ? c_->st : -1;                                                 \
      rc = (x);                                                               \
      line = __LINE__;                                                        \
      if (rc == CR_ENOMEM) {                                                  \
        c_ = cr__e_find(e, S("c1"));                                          \
        assert_int_equal(r.nj, nj0);                                          \
        assert_int_equal(r.nsend, ns0);                                       \
        assert_int_equal(cr_engine_conv_count(e), nc0);                       \
        assert_int_equal(c_ ? c_->st : -1, st0);                              \
      }                                                                       \
    }                                                                         \
  } while (0)
  STEP(cr_engine_customer_message(e, S("c1"), S("dana"), CR_CHANNEL_CHAT,
                                  S("I need to change my address"),
                                  S("tier=vip;lang=he"), 1000));
  STEP(cr_engine_customer_message(e, S("c1"), S("dana"), CR_CHANNEL_CHAT,
                                  S("1234567"), NULL, 0, 2000));
  STEP(cr_engine_customer_message(e, S("c1"), S("dana"), CR_CHANNEL_CHAT,
                                  S("12 Herzl St, Haifa"), NULL, 0, 3000));
  STEP(cr_engine_channel_switch(e, S("c1"), CR_CHANNEL_WHATSAPP, 3500));
  STEP(cr_engine_agent_accept(e, S("c1"), S("a1"), 4000));
  STEP(cr_engine_agent_reply(e, S("c1"), S("a1"), S("hi"), 4100));
  STEP(cr_engine_customer_message(e, S("c1x"), S("dana"), CR_CHANNEL_CHAT,
                                  S("still there?"), NULL, 0, 4150));
  STEP(cr_engine_agent_step(e, S("c1"), S("a1"), S("send_invoice"), NULL, 0,
                            4200));
  STEP(cr_engine_action_result(e, S("c1"), 1, S("done"), 4300));
  STEP(cr_engine_agent_transfer(e, S("c1"), S("a1"), S("tech"), NULL, 0,
                                4400));
  STEP(cr_engine_agent_accept(e, S("c1"), S("a1"), 4500));
  STEP(cr_engine_agent_close(e, S("c1"), S("a1"), 1, 5000));
  STEP(cr_engine_survey(e, S("c1"), 5, 9, 6, 6000));
  STEP(cr_engine_customer_message(e, S("c2"), S("avi"), CR_CHANNEL_CHAT,
                                  S("hello"), NULL, 0, 7000));
  STEP(cr_engine_customer_message(e, S("c2"), S("avi"), CR_CHANNEL_CHAT,
                                  S("thanks bye"), NULL, 0, 8000));
  void *buf = NULL;
  size_t len = 0;
  STEP(cr_engine_snapshot(e, &buf, &len));
  STEP(cr_engine_restore(e, buf, len));
  cr_mem_free(&tm->mem, buf);
  /* the transferring agent's leg record is made in the router's confirming
   * TRANSFER event, which cannot refuse: a failure there is counted in
   * metrics_lost (nothing else changes), not returned */
  if (!rc && e->metrics_lost)
    rc = CR_ENOMEM;
  if (rc == CR_ENOMEM) {
    /* still usable after the failure */
    cr_test_mem_heal(tm);
    if (configured) /* else "hello" has no policy and no queue */
      assert_int_equal(cr_engine_customer_message(e, S("z"), NULL, 0,
                                                  CR_CHANNEL_CHAT,
                                                  S("hello"), NULL, 0,
                                                  99000),
                       0);
    assert_int_equal(cr_engine_tick(e, 100000), 0);
    assert_int_equal(cr_engine_snapshot(e, &buf, &len), 0);
    cr_mem_free(&tm->mem, buf);
  } else if (rc) {
    fail_msg("line %d: %s (%s) after %ld allocations", line,
             cr_errname(rc), cr_engine_errmsg(e), tm->calls);
  }
  cr_engine_del(e);
  return rc;
}

static void test_oom_sweep(void **state) {
  (void)state;
  long n = cr_test_oom_sweep(oom_body, NULL);
  printf("# OOM sweep: %ld allocations in the scenario\n", n);
  assert_true(n > 50);
  /* and with the host staying out of memory from the i-th call on */
  assert_int_equal(cr_test_oom_sweep_persistent(oom_body, NULL), n);
}

/* Ring-all: a reject while the other offer is out keeps OFFERED (the
 * table's guard); the other agent's accept takes it. */
static void test_ring_all_guard(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  cr_queue_config q;
  cr_queue_config_init(&q);
  q.strategy = CR_STRATEGY_RING_ALL;
  assert_int_equal(cr_router_queue_update(cr_engine_router(t.e), S("general"),
                                          &q, 0),
                   0);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(t.r.noffer, 2);
  assert_int_equal(st(&t, "c1"), CR_ST_OFFERED);
  assert_int_equal(cr_engine_agent_reject(t.e, S("c1"), S("a1"), 2000), 0);
  JHAS(&t.r, "REJECT OFFERED>OFFERED NONE c1 a1");
  assert_int_equal(st(&t, "c1"), CR_ST_OFFERED);
  assert_int_equal(accept_(&t, "c1", "a2", 3000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_AGENT);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.agent_len, 2);
  assert_memory_equal(s.agent, "a2", 2);
  rm(&t);
}

/* ------------------------------------------------------------------ */
/* A long seeded random run: after every input the engine and its router
 * agree on every live conversation; halfway, a snapshot restored into a
 * second engine then given the same inputs produces the same journal. */

static uint64_t rng_next(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static const char *PHRASES[] = {
    "hello", "thanks, bye", "I need to change my address", "1234567",
    "12 Herzl St, Haifa", "representative please", "אני רוצה לדבר עם נציג",
    "what's the weather tomorrow", "please send me a copy of my invoice",
    "the internet is not working", "this is an emergency", "1", "2",
    "I have a question about my bill", "שלום", "xx"};

/* how often each state was checked: the run must reach them all */
static long st_seen[CR_ST_COUNT];

static void check_consistent(T *t) {
  cr_router *r = cr_engine_router(t->e);
  size_t n = 0;
  for (econv *c = t->e->convs; c; c = c->hh.next, n++) {
    cr_conv_info ci;
    int rc = cr_router_conv_info(r, c->id, c->id_len, &ci);
    assert_null(c->pend);
    switch (c->st) {
    case CR_ST_QUEUED:
      assert_int_equal(rc, 0);
      assert_int_equal(ci.state, CR_CONV_WAITING);
      break;
    case CR_ST_OFFERED:
      assert_int_equal(rc, 0);
      assert_int_equal(ci.state, CR_CONV_OFFERED);
      assert_int_equal(ci.offers, c->noffers);
      break;
    case CR_ST_AGENT:
    case CR_ST_BOTSTEP:
      assert_int_equal(rc, 0);
      assert_int_equal(ci.state, CR_CONV_ASSIGNED);
      assert_int_equal(ci.agent_len, c->agent_len);
      assert_memory_equal(ci.agent, c->agent, c->agent_len);
      break;
    case CR_ST_WRAPUP:
    default: /* bot states: not waiting for a human */
      assert_true(rc == CR_ENOTFOUND || ci.state == CR_CONV_ABANDONED);
    }
    assert_true(c->st < CR_ST_RESOLVED);
    assert_true(c->lcount <= t->e->transcript_max);
    st_seen[c->st]++;
  }
  assert_int_equal(n, cr_engine_conv_count(t->e));
}

/* The k-th live conversation in the engine's (insertion) order, which a
 * restored engine shares: the inputs stay identical for both engines. */
static const econv *nth_conv(T *t, uint64_t k) {
  size_t n = cr_engine_conv_count(t->e);
  if (!n)
    return NULL;
  k %= n;
  const econv *c = t->e->convs;
  while (k--)
    c = c->hh.next;
  return c;
}

static void random_step(T *t, uint64_t *seed, cr_time *now) {
  char conv[64];
  snprintf(conv, sizeof conv, "c%d", (int)(rng_next(seed) % 12));
  const char *ag = rng_next(seed) % 2 ? "a1" : "a2";
  const econv *lc = nth_conv(t, rng_next(seed));
  char agent[64] = "a1";
  if (lc && lc->agent)
    cp(agent, sizeof agent, lc->agent, lc->agent_len);
  if (lc && rng_next(seed) % 3 == 0) /* act on a live one */
    cp(conv, sizeof conv, lc->id, lc->id_len);
  *now += (cr_time)(rng_next(seed) % 40000);
  size_t cl = strlen(conv), al = strlen(agent);
  switch (rng_next(seed) % 18) {
  case 0: case 1: case 2: case 3: case 4:
    say(t, conv, PHRASES[rng_next(seed) % 16], *now);
    break;
  case 5: case 6:
    if (t->r.offer_conv[0])
      accept_(t, t->r.offer_conv, t->r.offer_agent, *now);
    break;
  case 7:
    cr_engine_agent_reject(t->e, t->r.offer_conv, strlen(t->r.offer_conv),
                           t->r.offer_agent, strlen(t->r.offer_agent), *now);
    break;
  case 8:
    cr_engine_agent_reply(t->e, conv, cl, agent, al, S("ok"), *now);
    break;
  case 9:
    cr_engine_agent_step(t->e, conv, cl, agent, al, S("verify"), NULL, 0,
                         *now);
    break;
  case 10:
    cr_engine_action_result(t->e, conv, cl, (int)(rng_next(seed) % 2),
                            S("done"), *now);
    break;
  case 11:
    cr_engine_agent_transfer(t->e, conv, cl, agent, al, S("tech"),
                             rng_next(seed) % 2 ? ag : NULL, 2, *now);
    break;
  case 12: close_(t, conv, agent, *now); break;
  case 13: cr_engine_abandon(t->e, conv, cl, *now); break;
  case 14:
    cr_engine_channel_switch(t->e, conv, cl, (int)(rng_next(seed) % 3),
                             *now);
    break;
  case 15: cr_engine_survey(t->e, conv, cl, 4, 9, 6, *now); break;
  case 16: cr_engine_wrapup_done(t->e, conv, cl, *now); break;
  default:
    /* a reason is passed with AWAY: the router's set_away copies it with
     * memcpy, which UBSan rejects for NULL (reported to the lead) */
    cr_router_agent_set_status(cr_engine_router(t->e), ag, 2,
                               rng_next(seed) % 4 ? CR_AGENT_AVAILABLE
                                                  : CR_AGENT_AWAY,
                               S("break"), *now);
  }
}

static void test_random_run_snapshot_determinism(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.wrapup_ms = 20000;
  cfg.transcript_max = 6;
  cr_router_config rc;
  cr_router_config_init(&rc);
  rc.offer_timeout_ms = 30000;
  cfg.router = &rc;
  for (uint64_t run = 1; run <= 3; run++) {
    T a, b;
    mk_cfg(&a, &cfg, 1);
    mk_cfg(&b, &cfg, 1);
    uint64_t seed = run * 7919;
    cr_time now = 0;
    const int N = 1500;
    for (int i = 0; i < N; i++) {
      random_step(&a, &seed, &now);
      check_consistent(&a);
    }
    void *buf;
    size_t len;
    assert_int_equal(cr_engine_snapshot(a.e, &buf, &len), 0);
    assert_int_equal(cr_engine_restore(b.e, buf, len), 0);
    cr_mem_free(NULL, buf);
    b.r.jhash = 0;
    b.r.jcount = 0;
    memcpy(b.r.offer_conv, a.r.offer_conv, sizeof a.r.offer_conv);
    memcpy(b.r.offer_agent, a.r.offer_agent, sizeof a.r.offer_agent);
    a.r.jhash = 0;
    a.r.jcount = 0;
    uint64_t seed_b = seed;
    cr_time now_b = now;
    for (int i = 0; i < N; i++) {
      random_step(&a, &seed, &now);
      random_step(&b, &seed_b, &now_b);
      check_consistent(&b);
    }
    assert_int_equal(cr_engine_tick(a.e, now + 10000000), 0);
    assert_int_equal(cr_engine_tick(b.e, now + 10000000), 0);
    printf("# run %d: %ld journal events after the snapshot\n", (int)run,
           a.r.jcount);
    assert_true(a.r.jcount > 500);
    assert_int_equal(a.r.jcount, b.r.jcount);
    assert_true(a.r.jhash == b.r.jhash);
    rm(&a);
    rm(&b);
  }
  for (int i = 0; i < CR_ST_RESOLVED; i++) {
    printf("# %s checked %ld times\n", cr_engine_state_name(i), st_seen[i]);
    assert_true(st_seen[i] > 0);
  }
}


/* ------------------------------------------------------------------ */
/* findings of the cr-replay author (each failed before its fix) */

/* 1a: the journal says who wrote each transcript line, so message counts
 * can be rebuilt from it: customer / bot / agent lines = the events with
 * that sender, and their sum = the conversation's transcript count. */
static void test_journal_sender(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0); /* answer + anything else */
  assert_int_equal(say(&t, "c1", "I want to talk to a human", 2000), 0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, 3000), 0);
  assert_int_equal(cr_engine_agent_reply(t.e, S("c1"), ag, 2, S("Hi, Noa here"),
                                         4000),
                   0);
  assert_int_equal(say(&t, "c1", "my internet is down", 5000), 0);
  cr_engine_summary sum;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &sum), 0);
  int n[3] = {0, 0, 0}, none = 0;
  for (int i = 0; i < t.r.nj; i++) {
    if (t.r.jsender[i] == CR_FROM_NONE)
      none++;
    else {
      assert_true(t.r.jsender[i] >= 0 && t.r.jsender[i] <= 2);
      n[t.r.jsender[i]]++;
    }
  }
  assert_int_equal(n[CR_FROM_CUSTOMER], 3);
  assert_int_equal(n[CR_FROM_AGENT], 1);
  /* every bot line was sent, the agent's reply too */
  assert_int_equal(n[CR_FROM_BOT] + n[CR_FROM_AGENT], t.r.nsend);
  assert_int_equal((uint32_t)(n[0] + n[1] + n[2]), sum.messages);
  assert_true(none > 0); /* OFFER, ACCEPT add no line */
  /* the bot's follow-up MESSAGE is told apart from the customer's */
  int a = jfind(&t.r, 0, "ANSWER BOT>BOT");
  assert_true(a > 0);
  assert_int_equal(t.r.jsender[a - 1], CR_FROM_CUSTOMER);
  assert_true(!strncmp(t.r.j[a - 1], "MESSAGE", 7));
  assert_int_equal(t.r.jsender[a], CR_FROM_BOT);
  /* every MESSAGE is a line of someone's; a re-asked prompt is the bot's */
  for (int i = 0; i < t.r.nj; i++)
    if (!strncmp(t.r.j[i], "MESSAGE", 7))
      assert_true(t.r.jsender[i] != CR_FROM_NONE);
  assert_int_equal(say(&t, "c2", "I need to change my address", 6000), 0);
  int b = t.r.nj;
  assert_int_equal(say(&t, "c2", "12", 7000), 0); /* too short: re-ask */
  int k = jfind(&t.r, b, "FIELD_BAD");
  assert_true(k > b);
  assert_int_equal(t.r.jsender[k - 1], CR_FROM_CUSTOMER);
  assert_int_equal(t.r.jsender[k], CR_FROM_BOT); /* "doesn't look right" */
  assert_true(!strncmp(t.r.j[k + 1], "MESSAGE COLLECT>COLLECT", 23));
  assert_int_equal(t.r.jsender[k + 1], CR_FROM_BOT); /* the prompt again */
  rm(&t);
}

/* 1b: the contact is credited to the intent that was served (the first
 * the bot acted on), not to a closing "thanks, bye". */
static void test_metrics_credit_first_intent(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "can you send me a copy of my invoice", 1000),
                   0);
  assert_int_equal(st(&t, "c1"), CR_ST_ACTION);
  assert_int_equal(cr_engine_action_result(t.e, S("c1"), 1, S("Sent!"), 2000),
                   0);
  assert_int_equal(say(&t, "c1", "thanks, bye", 3000), 0);
  assert_int_equal(st(&t, "c1"), -1);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 5, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 4000),
                   0);
  cr_metrics *m = cr_engine_metrics(t.e);
  uint32_t inv, bye;
  assert_int_equal(cr_metrics_key(m, CR_METRICS_INTENT, S("invoice_copy"),
                                  &inv),
                   0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_INTENT, S("thanks_goodbye"),
                                  &bye),
                   0);
  cr_metrics_report ri, rb;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_INTENT, inv, &ri), 0);
  assert_int_equal(ri.contacts, 1);
  assert_int_equal(ri.bot_contained, 1);
  assert_int_equal(ri.csat_n, 1); /* the survey follows the credit */
  int rc = cr_metrics_report_get(m, CR_METRICS_INTENT, bye, &rb);
  assert_true(rc != 0 || rb.contacts == 0);
  int i = jfind(&t.r, 0, "SURVEY");
  assert_true(i >= 0);
  assert_string_equal(t.r.jintent[i], "invoice_copy");
  /* a goodbye alone is still credited to itself */
  assert_int_equal(say(&t, "c2", "thanks, bye", 5000), 0);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_INTENT, bye, &rb), 0);
  assert_int_equal(rb.contacts, 1);
  rm(&t);
}

/* 1c: a transfer is journalled with the agent who transferred it, and
 * each agent leg is a contact of its agent (transferred = 1 on the first
 * leg); FCR and the customer see one conversation. */
static void test_transfer_agent_legs(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  char first[64];
  snprintf(first, sizeof first, "%s", t.r.offer_agent);
  const char *other = strcmp(first, "a1") ? "a1" : "a2";
  assert_int_equal(accept_(&t, "c1", first, 3000), 0);
  assert_int_equal(cr_engine_agent_transfer(t.e, S("c1"), first, 2, S("tech"),
                                            other, 2, 10000),
                   0);
  char want[128];
  snprintf(want, sizeof want, "TRANSFER AGENT>QUEUED TRANSFER c1 %s", first);
  JHAS(&t.r, want);
  assert_int_equal(accept_(&t, "c1", other, 12000), 0);
  assert_int_equal(close_(&t, "c1", other, 20000), 0);
  cr_metrics *m = cr_engine_metrics(t.e);
  uint32_t k1, k2;
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, first, 2, &k1), 0);
  assert_int_equal(cr_metrics_key(m, CR_METRICS_AGENT, other, 2, &k2), 0);
  cr_metrics_report r1, r2, tot;
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, k1, &r1), 0);
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_AGENT, k2, &r2), 0);
  assert_int_equal(r1.contacts, 1);
  assert_int_equal(r1.answered, 1);
  assert_int_equal(r1.transferred, 1);
  assert_true(fabs(r1.aht_s - 7.0) < 1e-9);  /* 3 s .. 10 s */
  assert_int_equal(r2.contacts, 1);
  assert_int_equal(r2.answered, 1);
  assert_int_equal(r2.transferred, 0);
  assert_true(fabs(r2.aht_s - 8.0) < 1e-9);  /* 12 s .. 20 s */
  assert_true(fabs(r2.asa_s - 2.0) < 1e-9);  /* waited from the transfer */
  assert_int_equal(cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &tot), 0);
  assert_int_equal(tot.contacts, 2);   /* agent legs */
  assert_int_equal(tot.transferred, 1);
  assert_int_equal(t.e->metrics_lost, 0);
  rm(&t);
}

/* 1d: a survey's journal text leaves missing answers out. */
static void test_survey_text_missing_answers(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0);
  assert_int_equal(say(&t, "c1", "thanks, bye", 2000), 0);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 4, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 3000),
                   0);
  JHAS(&t.r, "SURVEY RESOLVED>RESOLVED NONE c1 - csat=4");
  assert_int_equal(jfind(&t.r, 0, "SURVEY RESOLVED>RESOLVED NONE c1 - csat=4 "),
                   -1);
  assert_int_equal(say(&t, "c2", "hello", 4000), 0);
  assert_int_equal(say(&t, "c2", "thanks, bye", 5000), 0);
  assert_int_equal(cr_engine_survey(t.e, S("c2"), CR_METRICS_NONE, 9, 2, 6000),
                   0);
  JHAS(&t.r, "SURVEY RESOLVED>RESOLVED NONE c2 - nps=9 ces=2");
  rm(&t);
}

/* 1e: the emergency policy's own text is said, not the generic notice. */
static void test_emergency_policy_text(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(policy(t.e, "emergency", CR_POLICY_EMERGENCY,
                          "Stay away from it; a crew is alerted.",
                          "התרחקו; צוות חירום בדרך.", NULL, "emergency",
                          NULL, 0, NULL, 0),
                   0);
  assert_int_equal(say(&t, "c1", "this is an emergency", 1000), 0);
  assert_int_equal(t.r.nalert, 1);
  assert_string_equal(t.r.last_send, "Stay away from it; a crew is alerted.");
  int found = 0;
  for (size_t i = 0; i < t.r.ctx.ntranscript && i < 64; i++)
    found |= !strcmp(t.r.ctx_lines[i], "Stay away from it; a crew is alerted.");
  assert_true(found);
  rm(&t);
}

/* 1f: conv_info's agent is the agent who has it; NULL while OFFERED (as
 * the header now says), the accepting agent after. */
static void test_conv_info_agent(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.state, CR_ST_OFFERED);
  assert_null(s.agent);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, 2000), 0);
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.agent_len, 2);
  assert_memory_equal(s.agent, ag, 2);
  rm(&t);
}

/* 1g: field answers are not classified into the agent's context; a human
 * request while collecting is still honoured. */
static void test_field_answers_not_classified(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "I need to change my address", 1000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_COLLECT);
  assert_int_equal(say(&t, "c1", "1234567", 2000), 0);
  assert_int_equal(say(&t, "c1", "no idea", 3000),
                   0); /* a valid address as far as the pattern goes */
  assert_int_equal(t.r.noffer, 1);
  assert_int_equal(t.r.ctx.nintents, 1);
  assert_string_equal(t.r.ctx_intents[0], "address_change");
  assert_string_equal(t.r.ctx_intent, "address_change");
  /* and the human request in COLLECT still works */
  assert_int_equal(say(&t, "c2", "I need to change my address", 4000), 0);
  assert_int_equal(say(&t, "c2", "I want to talk to a human", 5000), 0);
  JHAS(&t.r, "HUMAN COLLECT>QUEUED REQUESTED c2");
  assert_int_equal(t.r.ctx.nintents, 2);
  rm(&t);
}


/* Every report of a's metrics equals b's: the total, and each key of each
 * dimension (by name, so the key ids need not agree). */
static void same_reports(cr_engine *ea, cr_engine *eb) {
  cr_metrics *ma = cr_engine_metrics(ea), *mb = cr_engine_metrics(eb);
  cr_metrics_report ra, rb;
  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  assert_int_equal(cr_metrics_report_get(ma, CR_METRICS_TOTAL, 0, &ra), 0);
  assert_int_equal(cr_metrics_report_get(mb, CR_METRICS_TOTAL, 0, &rb), 0);
  assert_memory_equal(&ra, &rb, sizeof ra);
  for (int d = 0; d < CR_METRICS_DIM_COUNT; d++) {
    if (d == CR_METRICS_TOTAL)
      continue;
    uint32_t n = cr_metrics_key_count(ma, d);
    assert_int_equal(n, cr_metrics_key_count(mb, d));
    for (uint32_t id = 1; id <= n; id++) {
      const char *name;
      size_t nl;
      if (cr_metrics_key_name(ma, d, id, &name, &nl))
        continue;
      uint32_t idb;
      assert_int_equal(cr_metrics_key(mb, d, name, nl, &idb), 0);
      memset(&ra, 0, sizeof ra);
      memset(&rb, 0, sizeof rb);
      int rca = cr_metrics_report_get(ma, d, id, &ra);
      int rcb = cr_metrics_report_get(mb, d, idb, &rb);
      assert_int_equal(rca, rcb);
      assert_memory_equal(&ra, &rb, sizeof ra);
    }
  }
}

/* 2: the engine snapshot carries the metrics: the KPIs are the same after
 * a restore, and after the same further inputs. */
static void test_snapshot_keeps_metrics(void **state) {
  (void)state;
  T a, b;
  mk(&a, 1);
  mk(&b, 1);
  assert_int_equal(say(&a, "c1", "hello", 1000), 0);
  assert_int_equal(say(&a, "c1", "thanks, bye", 2000), 0);
  assert_int_equal(cr_engine_survey(a.e, S("c1"), 5, 9, CR_METRICS_NONE, 2500),
                   0);
  assert_int_equal(say(&a, "c2", "representative please", 3000), 0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", a.r.offer_agent);
  assert_int_equal(accept_(&a, "c2", ag, 4000), 0);
  assert_int_equal(close_(&a, "c2", ag, 9000), 0);
  assert_int_equal(say(&a, "c3", "can you send me a copy of my invoice", 9500),
                   0);
  assert_int_equal(say(&a, "c4", "representative please", 9600), 0);
  void *buf;
  size_t len;
  assert_int_equal(cr_engine_snapshot(a.e, &buf, &len), 0);
  assert_int_equal(cr_engine_restore(b.e, buf, len), 0);
  cr_mem_free(NULL, buf);
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(b.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.contacts, 2);
  same_reports(a.e, b.e);
  char ag4[64]; /* c4's offer went out before the snapshot */
  snprintf(ag4, sizeof ag4, "%s", a.r.offer_agent);
  T *both[2] = {&a, &b};
  for (int k = 0; k < 2; k++) {
    T *t = both[k];
    assert_int_equal(cr_engine_survey(t->e, S("c2"), 4, CR_METRICS_NONE, 2,
                                      10000),
                     0);
    assert_int_equal(cr_engine_action_result(t->e, S("c3"), 1, S("Sent"),
                                             10100),
                     0);
    assert_int_equal(say(t, "c3", "thanks, bye", 10200), 0);
    assert_int_equal(accept_(t, "c4", ag4, 10300), 0);
    assert_int_equal(cr_engine_agent_transfer(t->e, S("c4"), ag4, 2,
                                              S("tech"), NULL, 0, 10400),
                     0);
    assert_int_equal(cr_engine_tick(t->e, 3000000), 0);
  }
  same_reports(a.e, b.e);
  rm(&a);
  rm(&b);
}


/* 1h: a new conversation id from a customer with a live conversation is
 * an alias of it: calls with either id reach it (also after a restore),
 * the journal says so, and both ids are gone when it ends. */
static void test_new_id_is_alias(void **state) {
  (void)state;
  T t, b, o;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  assert_int_equal(cfg.alias_new_ids, 0);
  /* the default: the message is folded in, the new id stays unknown */
  mk(&o, 1);
  assert_int_equal(cr_engine_customer_message(o.e, S("c1"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 1000),
                   0);
  assert_int_equal(cr_engine_customer_message(o.e, S("c1b"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hi"), NULL,
                                              0, 1500),
                   0);
  assert_int_equal(cr_engine_conv_count(o.e), 1);
  assert_int_equal(st(&o, "c1b"), -1);
  rm(&o);
  cfg.alias_new_ids = 1;
  mk_cfg(&t, &cfg, 1);
  mk_cfg(&b, &cfg, 1);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("I need to change my address"),
                                              NULL, 0, 1000),
                   0);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1b"), S("dana"),
                                              CR_CHANNEL_CHAT, S("1234567"),
                                              NULL, 0, 2000),
                   0);
  JHAS(&t.r, "MESSAGE COLLECT>COLLECT NONE c1 - alias:c1b");
  JHAS(&t.r, "FIELD_OK COLLECT>COLLECT NONE c1");
  assert_int_equal(cr_engine_conv_count(t.e), 1);
  cr_engine_summary s1, s2;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1b"), &s2), 0);
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s1), 0);
  assert_int_equal(s1.messages, s2.messages);
  assert_int_equal(s2.nfields, 1);
  /* a later message under the alias is not re-journalled as an alias */
  int n0 = t.r.nj;
  assert_int_equal(cr_engine_customer_message(t.e, S("c1b"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("12 Herzl St, Haifa"), NULL, 0,
                                              3000),
                   0);
  assert_int_equal(jfind(&t.r, n0, "MESSAGE COLLECT>COLLECT NONE c1 - alias"),
                   -1);
  assert_int_equal(st(&t, "c1b"), CR_ST_OFFERED);
  /* the alias survives a snapshot */
  void *buf;
  size_t len;
  assert_int_equal(cr_engine_snapshot(t.e, &buf, &len), 0);
  assert_int_equal(cr_engine_restore(b.e, buf, len), 0);
  cr_mem_free(NULL, buf);
  assert_int_equal(st(&b, "c1b"), CR_ST_OFFERED);
  assert_int_equal(st(&b, "c1"), CR_ST_OFFERED);
  /* agent calls with the alias work; the end forgets both ids */
  assert_int_equal(cr_engine_abandon(b.e, S("c1b"), 4000), 0);
  assert_int_equal(st(&b, "c1b"), -1);
  assert_int_equal(st(&b, "c1"), -1);
  assert_int_equal(cr_engine_abandon(t.e, S("c1"), 4000), 0);
  assert_int_equal(st(&t, "c1b"), -1);
  /* the id is free again: a new contact under it */
  assert_int_equal(cr_engine_customer_message(t.e, S("c1b"), S("dana"),
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 5000),
                   0);
  assert_int_equal(st(&t, "c1b"), CR_ST_BOT);
  rm(&t);
  rm(&b);
}

/* ------------------------------------------------------------------ */
/* review fixes: time bounds, refused inputs, NUL, durations, surveys,
 * a message during wrap-up */

static void snap(cr_engine *e, void **b, size_t *n) {
  assert_int_equal(cr_engine_snapshot(e, b, n), 0);
}

static void assert_same_snapshot(cr_engine *e, const void *b0, size_t n0,
                                 const char *what) {
  void *b;
  size_t n;
  snap(e, &b, &n);
  if (n != n0 || memcmp(b, b0, n))
    fail_msg("%s changed the engine", what);
  cr_mem_free(NULL, b);
}

/* The host loop tick(next_timeout()) on an idle engine: next_timeout is
 * CR_TIME_NEVER, and ticking to it used to fire an empty heap (SIGSEGV).
 * Times beyond +-2^62 are CR_ERANGE and change nothing, pending work or
 * not; the loop goes on. */
static void test_tick_never(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(cr_engine_next_timeout(t.e), CR_TIME_NEVER);
  void *b0;
  size_t n0;
  snap(t.e, &b0, &n0);
  assert_int_equal(cr_engine_tick(t.e, cr_engine_next_timeout(t.e)),
                   CR_ERANGE);
  assert_non_null(strstr(cr_engine_errmsg(t.e), "2^62"));
  assert_int_equal(cr_engine_tick(t.e, (cr_time)1 << 62), CR_ERANGE);
  assert_int_equal(cr_engine_tick(t.e, -((cr_time)1 << 62)), CR_ERANGE);
  assert_int_equal(cr_engine_tick(t.e, INT64_MIN), CR_ERANGE);
  assert_same_snapshot(t.e, b0, n0, "tick beyond 2^62");
  cr_mem_free(NULL, b0);
  /* the last accepted time; nothing pending: nothing to do */
  assert_int_equal(cr_engine_tick(t.e, ((cr_time)1 << 62) - 1), 0);
  rm(&t);
  /* with a conversation waiting on its idle timer */
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "hello", 1000), 0);
  assert_int_equal(cr_engine_next_timeout(t.e), 1000 + 15 * 60 * 1000);
  snap(t.e, &b0, &n0);
  assert_int_equal(cr_engine_tick(t.e, CR_TIME_NEVER), CR_ERANGE);
  assert_int_equal(say(&t, "c2", "hello", CR_TIME_NEVER), CR_ERANGE);
  assert_same_snapshot(t.e, b0, n0, "input at CR_TIME_NEVER");
  cr_mem_free(NULL, b0);
  for (int i = 0; i < 4; i++) { /* the host loop */
    cr_time nt = cr_engine_next_timeout(t.e);
    if (nt == CR_TIME_NEVER)
      break;
    assert_int_equal(cr_engine_tick(t.e, nt), 0);
  }
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  JHAS(&t.r, "BOT_END BOT>RESOLVED IDLE c1"); /* helped, then quiet */
  rm(&t);
}

/* Every public input of the engine with one bad argument at a far-future
 * time: the error, and the snapshot (clock, conversations, timers,
 * router, metrics) byte-identical, no journal entry, no timer fired --
 * the due idle timer of b1 included. Before, the clock moved to 2^60 for
 * good (every later call CR_EORDER) and due timers ran. */
static void test_refused_input_changes_nothing(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.wrapup_ms = 30000;
  T t;
  mk_cfg(&t, &cfg, 0);
  cr_router *r = cr_engine_router(t.e);
  assert_int_equal(cr_router_agent_set_status(r, S("a1"), CR_AGENT_AVAILABLE,
                                              NULL, 0, 10),
                   0);
  /* b1 in BOT, q1 offered to a1, w1 in WRAPUP, x1 ended (survey) */
  assert_int_equal(say(&t, "b1", "hello", 100), 0);
  assert_int_equal(say(&t, "x1", "hello", 110), 0);
  assert_int_equal(say(&t, "x1", "thanks, bye", 120), 0);
  assert_int_equal(say(&t, "w1", "representative please", 200), 0);
  assert_int_equal(accept_(&t, "w1", "a1", 300), 0);
  assert_int_equal(close_(&t, "w1", "a1", 400), 0);
  assert_int_equal(say(&t, "q1", "representative please", 500), 0);
  assert_int_equal(st(&t, "b1"), CR_ST_BOT);
  assert_int_equal(st(&t, "w1"), CR_ST_WRAPUP);
  assert_int_equal(st(&t, "q1"), CR_ST_OFFERED);
  void *b0;
  size_t n0;
  snap(t.e, &b0, &n0);
  int nj = t.r.nj;
  const cr_time far = (cr_time)1 << 60;
  const cr_time beyond = (cr_time)1 << 62;
  struct {
    const char *what;
    int rc, want;
  } c[] = {
#define CASE(call, want) {#call, call, want}
      CASE(say(&t, "\xff", "hello", far), CR_EUTF8),
      CASE(say(&t, "", "hello", far), CR_EINVAL),
      CASE(cr_engine_customer_message(t.e, "n\0b", 3, S("u"), CR_CHANNEL_CHAT,
                                      S("hello"), NULL, 0, far),
           CR_EUTF8),
      CASE(cr_engine_customer_message(t.e, S("b1"), S("u"), 99, S("hello"),
                                      NULL, 0, far),
           CR_EINVAL),
      CASE(cr_engine_customer_message(t.e, S("b1"), S("u"), CR_CHANNEL_CHAT,
                                      "\xc3", 1, NULL, 0, far),
           CR_EUTF8),
      CASE(cr_engine_customer_message(t.e, S("n1"), S("u"), CR_CHANNEL_CHAT,
                                      S("hi"), "k=v\0w", 5, far),
           CR_EUTF8),
      CASE(cr_engine_customer_message(t.e, S("n1"), S("u"), CR_CHANNEL_CHAT,
                                      S("hi"), S("novalue"), far),
           CR_EINVAL),
      CASE(say(&t, "b1", "hello", beyond), CR_ERANGE),
      CASE(cr_engine_channel_switch(t.e, S("typo"), CR_CHANNEL_SMS, far),
           CR_ENOTFOUND),
      CASE(cr_engine_channel_switch(t.e, S("b1"), -1, far), CR_EINVAL),
      CASE(cr_engine_abandon(t.e, S("typo"), far), CR_ENOTFOUND),
      CASE(cr_engine_abandon(t.e, S("b1"), beyond), CR_ERANGE),
      CASE(cr_engine_end(t.e, S("typo"), far), CR_ENOTFOUND),
      CASE(cr_engine_survey(t.e, S("typo"), 5, 10, 7, far), CR_ENOTFOUND),
      CASE(cr_engine_survey(t.e, S("x1"), CR_METRICS_NONE, CR_METRICS_NONE,
                            CR_METRICS_NONE, far),
           CR_EINVAL),
      CASE(cr_engine_survey(t.e, S("x1"), 9, 10, 7, far), CR_ERANGE),
      CASE(cr_engine_survey(t.e, S("x1"), 5, 11, 7, far), CR_ERANGE),
      CASE(cr_engine_survey(t.e, S("x1"), 5, 10, 0, far), CR_ERANGE),
      CASE(cr_engine_action_result(t.e, S("typo"), 1, NULL, 0, far),
           CR_ENOTFOUND),
      CASE(cr_engine_action_result(t.e, S("b1"), 7, NULL, 0, far),
           CR_EINVAL),
      CASE(cr_engine_action_result(t.e, S("b1"), 1, "\xff", 1, far),
           CR_EUTF8),
      CASE(cr_engine_field_result(t.e, S("b1"), 7, far), CR_EINVAL),
      CASE(cr_engine_field_result(t.e, S("typo"), 1, far), CR_ENOTFOUND),
      CASE(cr_engine_agent_accept(t.e, S("typo"), S("a1"), far),
           CR_ENOTFOUND),
      CASE(cr_engine_agent_accept(t.e, S("q1"), "a\0", 2, far), CR_EUTF8),
      CASE(cr_engine_agent_reject(t.e, S("q1"), NULL, 0, far), CR_EINVAL),
      CASE(cr_engine_agent_reply(t.e, S("q1"), S("a1"), "\xff", 1, far),
           CR_EUTF8),
      CASE(cr_engine_agent_step(t.e, S("q1"), S("a1"), NULL, 0, NULL, 0, far),
           CR_EINVAL),
      CASE(cr_engine_agent_transfer(t.e, S("q1"), S("a1"), NULL, 0, NULL, 0,
                                    far),
           CR_EINVAL),
      CASE(cr_engine_agent_transfer(t.e, S("q1"), S("a1"), "t\0", 2, NULL, 0,
                                    far),
           CR_EUTF8),
      CASE(cr_engine_agent_close(t.e, S("w1"), S("a1"), 7, far), CR_EINVAL),
      CASE(cr_engine_wrapup_done(t.e, S("typo"), far), CR_ENOTFOUND),
      CASE(cr_engine_tick(t.e, CR_TIME_NEVER), CR_ERANGE),
      CASE(cr_engine_tick(t.e, 499), CR_EORDER),
#undef CASE
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    if (c[i].rc != c[i].want)
      fail_msg("%s: %s, want %s", c[i].what, cr_errname(c[i].rc),
               cr_errname(c[i].want));
    assert_same_snapshot(t.e, b0, n0, c[i].what);
    assert_int_equal(t.r.nj, nj);
  }
  cr_mem_free(NULL, b0);
  /* the clock did not move: an input just after the last good one works */
  assert_int_equal(say(&t, "b1", "hello", 600), 0);
  assert_int_equal(st(&t, "b1"), CR_ST_BOT);
  /* a refusal found after the timers ran (the state at now) leaves the
   * clock where they took it, not at now: w1's wrap-up ended at 30400,
   * the refused input was for 40000, 35000 is still a good time */
  assert_int_equal(cr_engine_agent_reply(t.e, S("q1"), S("a1"), S("hi"),
                                         40000),
                   CR_ESTATE); /* offered, not accepted */
  JHAS(&t.r, "WRAPUP_END WRAPUP>CLOSED NONE w1");
  assert_int_equal(say(&t, "b1", "hello", 35000), 0);
  rm(&t);
}

/* NUL is refused in every id and name the engine keeps, as the router
 * refuses it: before, "a\0b" was served by the bot and every handoff
 * failed with CR_EUTF8 (it stayed in BOT for good). */
static void test_nul_refused(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(cr_engine_customer_message(t.e, "a\0b", 3, S("u1"),
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 1000),
                   CR_EUTF8);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1"), "u\0", 2,
                                              CR_CHANNEL_CHAT, S("hello"),
                                              NULL, 0, 1000),
                   CR_EUTF8);
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  /* policy and rule names: queue, action, skill */
  cr_intent_policy p;
  cr_engine_policy_init(&p);
  p.kind = CR_POLICY_HANDOFF;
  p.queue = "tech\0";
  p.queue_len = 5;
  assert_int_equal(cr_engine_set_policy(t.e, S("technical_fault"), &p),
                   CR_EUTF8);
  p.queue = NULL;
  p.queue_len = 0;
  cr_skill_level sk = {"he\0", 3, 3};
  p.skills = &sk;
  p.nskills = 1;
  assert_int_equal(cr_engine_set_policy(t.e, S("technical_fault"), &p),
                   CR_EUTF8);
  cr_engine_policy_init(&p);
  p.kind = CR_POLICY_ACTION;
  p.action = "go\0";
  p.action_len = 3;
  assert_int_equal(cr_engine_set_policy(t.e, S("invoice_copy"), &p),
                   CR_EUTF8);
  cr_engine_rule ru;
  cr_engine_rule_init(&ru);
  ru.key = "tier";
  ru.key_len = 4;
  ru.value = "v\0p";
  ru.value_len = 3;
  assert_int_equal(cr_engine_add_rule(t.e, &ru), CR_EUTF8);
  ru.value = "vip";
  ru.queue = "vip\0";
  ru.queue_len = 4;
  assert_int_equal(cr_engine_add_rule(t.e, &ru), CR_EUTF8);
  /* a language tag "h\0" was compared with strlen: each call added an
   * entry until the text was full */
  size_t n0 = t.e->texts[CR_TEXT_HANDOFF].n;
  for (int i = 0; i < 3; i++)
    assert_int_equal(cr_engine_set_text(t.e, CR_TEXT_HANDOFF, "h\0", 2,
                                        S("x")),
                     CR_EUTF8);
  assert_int_equal(t.e->texts[CR_TEXT_HANDOFF].n, n0);
  /* the policies stayed as configured: the handoff still works */
  assert_int_equal(say(&t, "c2", "my internet connection keeps dropping",
                       2000),
                   0);
  assert_int_equal(st(&t, "c2") == CR_ST_QUEUED || st(&t, "c2") ==
                                                       CR_ST_OFFERED,
                   1);
  rm(&t);
}

/* Durations are bounded (2^50 ms) so deadlines cannot overflow: idle_ms =
 * CR_TIME_NEVER ended a conversation at once, journalled at t = -9.2e18;
 * sticky_ms above the router's step bound made every returning
 * customer's first message fail and the conversation vanish. */
static void test_duration_bounds(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine *e = NULL;
  cr_time *f[4];
  cr_engine_config_init(&cfg);
  f[0] = &cfg.idle_ms;
  f[1] = &cfg.return_window_ms;
  f[2] = &cfg.sticky_ms;
  f[3] = &cfg.wrapup_ms;
  for (int i = 0; i < 4; i++) {
    cr_engine_config_init(&cfg);
    *f[i] = CR_TIME_NEVER;
    assert_int_equal(cr_engine_new(&e, NULL, MODEL, &cfg), CR_ERANGE);
    *f[i] = ((cr_time)1 << 50) + 1;
    assert_int_equal(cr_engine_new(&e, NULL, MODEL, &cfg), CR_ERANGE);
    assert_null(e);
  }
  /* the largest durations work end to end */
  cr_engine_config_init(&cfg);
  cfg.idle_ms = cfg.sticky_ms = cfg.wrapup_ms = cfg.return_window_ms =
      (cr_time)1 << 50;
  T t;
  mk_cfg(&t, &cfg, 1);
  const cr_time t0 = 1700000000000;
  assert_int_equal(say(&t, "c0", "hello", t0), 0);
  assert_int_equal(cr_engine_next_timeout(t.e), t0 + ((cr_time)1 << 50));
  assert_int_equal(cr_engine_tick(t.e, t0 + 1), 0);
  assert_int_equal(st(&t, "c0"), CR_ST_BOT);
  assert_int_equal(cr_engine_customer_message(t.e, S("c1"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("representative please"),
                                              NULL, 0, t0 + 10),
                   0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, t0 + 20), 0);
  assert_int_equal(close_(&t, "c1", ag, t0 + 30), 0);
  assert_int_equal(cr_engine_wrapup_done(t.e, S("c1"), t0 + 40), 0);
  /* the returning customer: routed to ag first (a 2^50 ms step) */
  assert_int_equal(cr_engine_customer_message(t.e, S("c2"), S("dana"),
                                              CR_CHANNEL_CHAT,
                                              S("representative please"),
                                              NULL, 0, t0 + 50),
                   0);
  assert_int_equal(st(&t, "c2"), CR_ST_OFFERED);
  assert_string_equal(t.r.offer_agent, ag);
  rm(&t);
}

/* One survey per contact: a webhook delivered three times counted three
 * CSAT answers. The flag is in the snapshot (version 3); a version 2
 * snapshot loads with every record not surveyed. */
static void test_survey_once(void **state) {
  (void)state;
  T t, u;
  mk(&t, 1);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  assert_int_equal(accept_(&t, "c1", t.r.offer_agent, 2000), 0);
  assert_int_equal(close_(&t, "c1", t.r.offer_agent, 3000), 0);
  assert_int_equal(say(&t, "c2", "hello", 3100), 0);
  assert_int_equal(say(&t, "c2", "thanks, bye", 3200), 0);
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  void *v2;
  size_t n2;
  snap(t.e, &v2, &n2); /* before any survey: made into version 2 below */
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 5, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 4000),
                   0);
  int nj = t.r.nj;
  void *b0;
  size_t n0;
  snap(t.e, &b0, &n0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(cr_engine_survey(t.e, S("c1"), 1, 0, 1, 5000),
                     CR_EEXIST);
    assert_same_snapshot(t.e, b0, n0, "a repeated survey");
  }
  assert_int_equal(t.r.nj, nj);
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.csat_n, 1);
  /* the flag survives a snapshot */
  mk(&u, 1);
  assert_int_equal(cr_engine_restore(u.e, b0, n0), 0);
  assert_int_equal(cr_engine_survey(u.e, S("c1"), 1, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 6000),
                   CR_EEXIST);
  assert_int_equal(cr_engine_survey(u.e, S("c2"), 4, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 6000),
                   0);
  rm(&u);
  cr_mem_free(NULL, b0);
  /* version 2: no conversation is live, so the records follow the header
   * (52 bytes) and their count; drop each record's last byte */
  uint8_t *in = v2, *out = malloc(n2);
  assert_non_null(out);
  assert_int_equal(in[8], 3);
  size_t i = 52, o = 0;
  uint32_t nconv, nrec;
  memcpy(&nconv, in + 48, 4);
  memcpy(&nrec, in + 52, 4);
  assert_int_equal(nconv, 0);
  assert_int_equal(nrec, 2);
  memcpy(out, in, 56);
  out[8] = 2;
  i = o = 56;
  for (uint32_t k = 0; k < nrec; k++) {
    size_t start = i;
    for (int sidx = 0; sidx < 4; sidx++) {
      uint32_t l;
      memcpy(&l, in + i, 4);
      i += 4 + l;
    }
    i += 4 * 3 + 8;
    assert_int_equal(in[i], 0); /* not surveyed */
    memcpy(out + o, in + start, i - start);
    o += i - start;
    i++;
  }
  memcpy(out + o, in + i, n2 - 4 - i);
  o += n2 - 4 - i;
  uint32_t crc = cr__crc32(0, out, o);
  for (int b = 0; b < 4; b++)
    out[o++] = (uint8_t)(crc >> (8 * b));
  mk(&u, 1);
  assert_int_equal(cr_engine_restore(u.e, out, o), 0);
  assert_int_equal(cr_engine_survey(u.e, S("c1"), 5, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 6000),
                   0);
  assert_int_equal(cr_engine_survey(u.e, S("c1"), 5, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 6000),
                   CR_EEXIST);
  /* version 1 and a future version are refused */
  out[8] = 4;
  crc = cr__crc32(0, out, o - 4);
  for (int b = 0; b < 4; b++)
    out[o - 4 + (size_t)b] = (uint8_t)(crc >> (8 * b));
  assert_int_equal(cr_engine_restore(u.e, out, o), CR_EVERSION);
  rm(&u);
  free(out);
  cr_mem_free(NULL, v2);
  rm(&t);
}

/* The customer writes again under the same conversation id while the
 * agent is in wrap-up: the message was refused (CR_ESTATE) and lost.
 * Now the wrap-up ends ("new contact") and the message starts a new
 * contact under the same id, routed first to the same agent. */
static void test_message_during_wrapup_same_id(void **state) {
  (void)state;
  cr_engine_config cfg;
  cr_engine_config_init(&cfg);
  cfg.wrapup_ms = 30000;
  T t;
  mk_cfg(&t, &cfg, 1);
  assert_int_equal(say(&t, "c1", "representative please", 1000), 0);
  char ag[64];
  snprintf(ag, sizeof ag, "%s", t.r.offer_agent);
  assert_int_equal(accept_(&t, "c1", ag, 2000), 0);
  assert_int_equal(close_(&t, "c1", ag, 3000), 0);
  assert_int_equal(st(&t, "c1"), CR_ST_WRAPUP);
  assert_int_equal(say(&t, "c1", "hello, one more thing", 4000), 0);
  int k = jfind(&t.r, 0, "WRAPUP_END WRAPUP>CLOSED NONE c1");
  assert_true(k >= 0);
  assert_string_equal(t.r.j[k] + strlen(t.r.j[k]) - strlen("new contact"),
                      "new contact");
  assert_int_equal(t.r.jt[k], 4000);
  assert_int_equal(cr_engine_conv_count(t.e), 1);
  cr_engine_summary s;
  assert_int_equal(cr_engine_conv_info(t.e, S("c1"), &s), 0);
  assert_int_equal(s.state, CR_ST_BOT);
  assert_int_equal(s.arrived, 4000);
  assert_int_equal(s.messages, 2); /* the customer's and the bot's answer */
  /* the closed contact was recorded, with 1 s of wrap-up; its survey goes
   * to it although the id is live again */
  cr_metrics_report rep;
  assert_int_equal(cr_metrics_report_get(cr_engine_metrics(t.e),
                                         CR_METRICS_TOTAL, 0, &rep),
                   0);
  assert_int_equal(rep.contacts, 1);
  assert_int_equal(cr_engine_survey(t.e, S("c1"), 5, CR_METRICS_NONE,
                                    CR_METRICS_NONE, 4500),
                   0);
  /* the new contact asks for a human: the same agent first */
  t.r.offer_agent[0] = 0;
  assert_int_equal(say(&t, "c1", "representative please", 5000), 0);
  assert_string_equal(t.r.offer_agent, ag);
  rm(&t);
}

/* A router refusal keeps a clear errmsg: a handoff to a queue that does
 * not exist names it, and nothing is made. */
static void test_handoff_to_missing_queue(void **state) {
  (void)state;
  T t;
  mk(&t, 1);
  assert_int_equal(policy(t.e, "technical_fault", CR_POLICY_HANDOFF, NULL,
                          NULL, NULL, "nosuch", NULL, 0, NULL, 0),
                   0);
  assert_int_equal(say(&t, "c1", "my internet connection keeps dropping",
                       1000),
                   CR_ENOTFOUND);
  assert_non_null(strstr(cr_engine_errmsg(t.e), "router: "));
  assert_true(strlen(cr_engine_errmsg(t.e)) > strlen("router: "));
  assert_int_equal(cr_engine_conv_count(t.e), 0);
  rm(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bot_only_contained),
      cmocka_unit_test(test_collect_then_handoff_context),
      cmocka_unit_test(test_human_request_every_bot_state),
      cmocka_unit_test(test_failure_streak),
      cmocka_unit_test(test_text_placeholders),
      cmocka_unit_test(test_clarify_pick),
      cmocka_unit_test(test_agent_step_and_back),
      cmocka_unit_test(test_bot_action_ok_and_failed),
      cmocka_unit_test(test_emergency_alert),
      cmocka_unit_test(test_transfer_keeps_context),
      cmocka_unit_test(test_channel_switch_keeps_place),
      cmocka_unit_test(test_channel_switch_while_offered),
      cmocka_unit_test(test_language_and_action_args),
      cmocka_unit_test(test_async_validation),
      cmocka_unit_test(test_callback_field_bounds),
      cmocka_unit_test(test_left_bot_not_contained),
      cmocka_unit_test(test_abandon_queued_and_offered),
      cmocka_unit_test(test_after_hours),
      cmocka_unit_test(test_vip_rule),
      cmocka_unit_test(test_six_minute_max_wait),
      cmocka_unit_test(test_survey_right_agent),
      cmocka_unit_test(test_returning_customer_sticky),
      cmocka_unit_test(test_new_contact_during_wrapup),
      cmocka_unit_test(test_recent_ring),
      cmocka_unit_test(test_snapshot_roundtrip),
      cmocka_unit_test(test_callback_failure),
      cmocka_unit_test(test_invalid_inputs_every_state),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_transcript_bounded),
      cmocka_unit_test(test_idle),
      cmocka_unit_test(test_journal_time_after_direct_router_call),
      cmocka_unit_test(test_memory_per_conversation),
      cmocka_unit_test(test_oom_sweep),
      cmocka_unit_test(test_ring_all_guard),
      cmocka_unit_test(test_random_run_snapshot_determinism),
      cmocka_unit_test(test_journal_sender),
      cmocka_unit_test(test_metrics_credit_first_intent),
      cmocka_unit_test(test_transfer_agent_legs),
      cmocka_unit_test(test_survey_text_missing_answers),
      cmocka_unit_test(test_emergency_policy_text),
      cmocka_unit_test(test_conv_info_agent),
      cmocka_unit_test(test_field_answers_not_classified),
      cmocka_unit_test(test_snapshot_keeps_metrics),
      cmocka_unit_test(test_new_id_is_alias),
      cmocka_unit_test(test_tick_never),
      cmocka_unit_test(test_refused_input_changes_nothing),
      cmocka_unit_test(test_nul_refused),
      cmocka_unit_test(test_duration_bounds),
      cmocka_unit_test(test_survey_once),
      cmocka_unit_test(test_message_during_wrapup_same_id),
      cmocka_unit_test(test_handoff_to_missing_queue),
  };
  return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
