/* A driver for the conversation engine shared by the fuzz target
 * (tests/fuzz/engine.c) and the determinism test
 * (tests/test_engine_determinism.c): it decodes a byte stream -- the
 * fuzzer's input, or a seeded PRNG -- into host, customer and agent calls,
 * records everything the engine says (journal + every output callback) as
 * one byte log, and checks the engine's invariants after each call:
 *
 *  I1 every call returns 0 or a code of the error map;
 *  I2 a failed call (other than CR_ECALLBACK) made at the time of the
 *     previous call -- so no deadline can be due -- changed nothing: no
 *     journal entry, no output callback, and a byte-identical snapshot;
 *  I3 journal: seq = previous + 1, time never decreases and is never
 *     after the call's time; `from` is the state the conversation was left
 *     in by its previous entry (BOT for a new one); from -> to is allowed
 *     by cr_engine_transition() (REJECT / OFFER_TIMEOUT / OFFER_CANCEL /
 *     TRANSFER may stay OFFERED: ring-all); SURVEY only for an ended one;
 *  I4 after each call, every live conversation reports the state its last
 *     journal entry left it in; an ended one is forgotten (CR_ENOTFOUND);
 *     cr_engine_conv_count() equals the number of live ones;
 *  I5 the inner router passes cr__router_check() (no agent over capacity
 *     on any channel or in total, offer/assignment books exact, heaps and
 *     timers consistent), and each engine conversation is where the router
 *     says: bot states not in the router's line, QUEUED waiting, OFFERED
 *     offered, AGENT / BOTSTEP assigned to the same agent -- so no
 *     conversation is both waiting and assigned;
 *  I6 after cr_engine_tick(now), cr_engine_next_timeout() > now;
 *  I7 a callback calling back into the engine gets CR_ESTATE;
 *  I8 a call with a time before the previous one is CR_EORDER;
 *  I9 with d->tm set, a control byte fails the k-th allocation of the
 *     next call: a CR_ENOMEM must leave the engine unchanged (I2: journal,
 *     output, snapshot) and usable.
 *
 * Violations are counted in d->bad with the first one described in
 * d->why; the fuzz target aborts on them, the cmocka test fails. */
#ifndef CR_ENGINE_OPS_H
#define CR_ENGINE_OPS_H

#include "convroute.h"
#include "cr_test.h"
#include "engine.h"
#include "router.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EO_S(x) x, (sizeof(x) - 1)
#define EO_MAXCONV 1024
#define EO_MAXAG 64
#define EO_MAXOFF 32

/* ------------------------------------------------------------------ */
/* vocabulary */

/* [0] keeps its embedded NUL (valid UTF-8, must not cut the text). */
#define EO_NUL_TEXT_LEN 10
static const char *const eo_texts[] = {
    "nul\0inside", "hello", "hi there", "thanks, bye", "thank you goodbye",
    "I want to talk to a human", "agent please", "let me speak to a person",
    "emergency! there is a fire", "this is an emergency, someone is hurt",
    "my internet is not working", "I want a copy of my last invoice",
    "why is my bill so high this month", "reset my password please",
    "where is my package", "what are your opening hours",
    "I want to change my address", "1", "2", "12345678", "123",
    "22 Herzl Street, Tel Aviv", "asdf qwerty zxcv", "", "   ",
    "שלום", "שלום, אני צריך עזרה", "אני רוצה לדבר עם נציג",
    "נציג אנושי בבקשה", "תודה רבה, להתראות", "חירום! יש שריפה בבית",
    "האינטרנט לא עובד", "למה החשבון שלי כל כך גבוה החודש?",
    "שלחו לי העתק של החשבונית", "איפה החבילה שלי", "שכחתי סיסמה",
    "מה שעות הפתיחה", "רחוב הרצל 22, תל אביב",
    "\xff\xfe invalid", "\xc3\x28", "ok \xe2\x82", "\xed\xa0\x80 surrogate",
    "a very long message a very long message a very long "
    "message a very long message a very long message a very long message a "
    "very long message a very long message a very long message"};
#define EO_NTEXTS (sizeof eo_texts / sizeof eo_texts[0])

static const char *const eo_profiles[] = {
    "", "tier=vip;lang=he", "lang=en", "lang=he", "tier=gold;segment=smb",
    "tier=vip", "=;;==x", "lang=xx-very-long-tag", "k=\xff"};
#define EO_NPROFILES (sizeof eo_profiles / sizeof eo_profiles[0])

static const char *const eo_queues[] = {"general", "billing", "tech", "vip",
                                        "emergency", "nosuch", ""};
static const char *const eo_actions[] = {"send_invoice", "reset_password",
                                         "track_package", ""};
static const cr_time eo_dt[] = {0,      1,       700,     5000,   31000,
                                121000, 360000,  960000,  3600000, 43200000};

/* ------------------------------------------------------------------ */
/* driver state */

typedef struct eo_offer {
  char conv[16], agent[16];
} eo_offer;

typedef struct eo_drv {
  /* the byte source: data[0..size) or, with data NULL, a PRNG */
  const uint8_t *data;
  size_t size, pos;
  uint64_t rng;
  /* the world */
  int nconv_ids, ncust_ids, nagents;
  int snap_check;       /* I2 by snapshot (costly with many convs) */
  int trace;            /* print every call and journal entry (debug) */
  int check_every;      /* I4/I5 after every Nth call (0, 1: every one) */
  cr_test_mem *tm;      /* the engine's allocator, for I9 (or NULL) */
  int oom_next;         /* fail this allocation (1-based) of the next call */
  long enomem;
  cr_engine *e;
  cr_time now;          /* time of the previous call */
  int fail_send, fail_offer, fail_action, fail_journal, reenter;
  /* outputs */
  uint8_t *log;         /* journal + callbacks, serialised */
  size_t nlog, caplog;
  uint64_t seq;         /* last journal seq */
  cr_time jtime;
  int in_call;
  cr_time call_now;
  uint8_t st[EO_MAXCONV]; /* state by conv id index, 255 = none/ended */
  eo_offer off[EO_MAXOFF];  /* recent offers (conv, agent) */
  int noff, offhead;
  eo_offer asg[EO_MAXOFF];  /* recent accepts: live with that agent */
  int nasg, asghead;
  int pend_action[EO_MAXCONV];
  /* checks */
  long bad;
  char why[512];
  long calls, ok_calls, estate, journal_events;
  long ev_count[CR_EV_COUNT];
} eo_drv;

static void eo_bad(eo_drv *d, const char *fmt, ...) {
  if (!d->bad++) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
  }
}

static uint8_t eo_byte(eo_drv *d) {
  if (!d->data) {
    d->rng ^= d->rng << 13; /* xorshift64 (Marsaglia 2003) */
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return (uint8_t)(d->rng >> 32);
  }
  return d->pos < d->size ? d->data[d->pos++] : 0;
}

static int eo_done(const eo_drv *d) { return d->data && d->pos >= d->size; }

static int eo_pick(eo_drv *d, int n) { return n > 0 ? eo_byte(d) % n : 0; }

/* ------------------------------------------------------------------ */
/* the output log */

static void eo_put(eo_drv *d, const void *p, size_t n) {
  if (d->nlog + n + 4 > d->caplog) {
    size_t cap = d->caplog ? d->caplog * 2 : 65536;
    while (cap < d->nlog + n + 4)
      cap *= 2;
    uint8_t *b = realloc(d->log, cap);
    if (!b)
      abort();
    d->log = b;
    d->caplog = cap;
  }
  uint32_t len = (uint32_t)n;
  memcpy(d->log + d->nlog, &len, 4);
  if (n)
    memcpy(d->log + d->nlog + 4, p, n);
  d->nlog += n + 4;
}

static void eo_put_i(eo_drv *d, int64_t v) { eo_put(d, &v, sizeof v); }

static int eo_conv_index(const eo_drv *d, const char *s, size_t n) {
  if (n < 2 || n > 6 || s[0] != 'c')
    return -1;
  int v = 0;
  for (size_t i = 1; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v < d->nconv_ids ? v : -1;
}

/* I7: a callback calling back into the engine must get CR_ESTATE. */
static void eo_reenter(eo_drv *d) {
  if (!d->reenter || !d->e)
    return;
  int rc = cr_engine_tick(d->e, d->call_now);
  if (rc != CR_ESTATE)
    eo_bad(d, "re-entry from a callback returned %d, not CR_ESTATE", rc);
  rc = cr_engine_abandon(d->e, EO_S("c0"), d->call_now);
  if (rc != CR_ESTATE)
    eo_bad(d, "re-entrant abandon returned %d, not CR_ESTATE", rc);
}

static void eo_remember(eo_offer *ring, int *n, int *head, const char *conv,
                        size_t conv_len, const char *agent,
                        size_t agent_len) {
  eo_offer *o = &ring[*head];
  *head = (*head + 1) % EO_MAXOFF;
  if (*n < EO_MAXOFF)
    (*n)++;
  memcpy(o->conv, conv, conv_len);
  o->conv[conv_len] = 0;
  memcpy(o->agent, agent, agent_len);
  o->agent[agent_len] = 0;
}

static int eo_on_send(const char *conv, size_t conv_len, int channel,
                      const char *lang, size_t lang_len, const char *text,
                      size_t text_len, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1000);
  eo_put(d, conv, conv_len);
  eo_put_i(d, channel);
  eo_put(d, lang, lang_len);
  eo_put(d, text, text_len);
  eo_reenter(d);
  return d->fail_send ? -1 : 0;
}

static int eo_on_offer(const cr_engine_context *x, const char *agent,
                       size_t agent_len, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1001);
  eo_put(d, x->conv, x->conv_len);
  eo_put(d, agent, agent_len);
  eo_put_i(d, x->reason);
  eo_put_i(d, x->priority);
  eo_put_i(d, x->channel);
  eo_put(d, x->queue, x->queue_len);
  eo_put(d, x->intent, x->intent_len);
  eo_put(d, x->lang, x->lang_len);
  eo_put_i(d, (int64_t)x->ntranscript);
  eo_put_i(d, x->dropped);
  for (size_t i = 0; i < x->ntranscript; i++) {
    eo_put_i(d, x->transcript[i].from);
    eo_put(d, x->transcript[i].text, x->transcript[i].text_len);
  }
  for (size_t i = 0; i < x->nfields; i++) {
    eo_put(d, x->fields[i].key, x->fields[i].key_len);
    eo_put(d, x->fields[i].value, x->fields[i].value_len);
  }
  eo_put_i(d, (int64_t)x->nintents);
  eo_put_i(d, (int64_t)x->nchannels);
  eo_put_i(d, x->transfers);
  /* every channel used, each once (a switch back does not repeat it) */
  int inlist = 0;
  for (size_t i = 0; i < x->nchannels && i < CR_CHANNEL_COUNT; i++)
    inlist |= x->channels[i] == x->channel;
  if (x->nchannels < 1 || x->nchannels > CR_CHANNEL_COUNT || !inlist)
    eo_bad(d, "offer context: the channel is not in the channels used");
  if (x->nintents > EMAXIH)
    eo_bad(d, "offer context: %zu intents", x->nintents);
  if (agent_len < 16 && x->conv_len < 16)
    eo_remember(d->off, &d->noff, &d->offhead, x->conv, x->conv_len, agent,
                agent_len);
  eo_reenter(d);
  return d->fail_offer ? -1 : 0;
}

static int eo_on_cancel(const char *conv, size_t conv_len, const char *agent,
                        size_t agent_len, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1002);
  eo_put(d, conv, conv_len);
  eo_put(d, agent, agent_len);
  return 0;
}

static int eo_on_action(const char *conv, size_t conv_len,
                        const char *action, size_t action_len,
                        const char *args, size_t args_len, const char *agent,
                        size_t agent_len, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1003);
  eo_put(d, conv, conv_len);
  eo_put(d, action, action_len);
  eo_put(d, args, args_len);
  eo_put(d, agent, agent_len);
  int ci = eo_conv_index(d, conv, conv_len);
  if (ci >= 0)
    d->pend_action[ci] = 1;
  return d->fail_action ? -1 : 0;
}

static int eo_on_validate(const char *conv, size_t conv_len,
                          const char *field, size_t field_len,
                          const char *value, size_t value_len, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1004);
  eo_put(d, conv, conv_len);
  eo_put(d, field, field_len);
  eo_put(d, value, value_len);
  return value_len > 3 ? 0 : 1;
}

static int eo_on_alert(const cr_engine_context *x, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 1005);
  eo_put(d, x->conv, x->conv_len);
  eo_put_i(d, x->reason);
  return 0;
}

/* I3: the journal */
static int eo_on_event(const cr_engine_event *ev, void *ud) {
  eo_drv *d = ud;
  d->journal_events++;
  if (d->trace)
    fprintf(stderr, "    J%llu t=%lld %s %s>%s %s %.*s %.*s\n",
            (unsigned long long)ev->seq, (long long)ev->time,
            cr_engine_event_name(ev->type), cr_engine_state_name(ev->from),
            cr_engine_state_name(ev->to), cr_engine_reason_name(ev->reason),
            (int)ev->conv_len, ev->conv, (int)ev->agent_len,
            ev->agent ? ev->agent : "");
  if (ev->type >= 0 && ev->type < CR_EV_COUNT)
    d->ev_count[ev->type]++;
  eo_put_i(d, 2000);
  eo_put_i(d, (int64_t)ev->seq);
  eo_put_i(d, ev->time);
  eo_put_i(d, ev->type);
  eo_put_i(d, ev->from);
  eo_put_i(d, ev->to);
  eo_put_i(d, ev->reason);
  eo_put_i(d, ev->channel);
  eo_put(d, ev->conv, ev->conv_len);
  eo_put(d, ev->agent, ev->agent_len);
  eo_put(d, ev->queue, ev->queue_len);
  eo_put(d, ev->intent, ev->intent_len);
  eo_put(d, &ev->confidence, sizeof ev->confidence);
  eo_put(d, ev->text, ev->text_len);
  if (ev->seq != d->seq + 1)
    eo_bad(d, "journal seq %llu after %llu", (unsigned long long)ev->seq,
           (unsigned long long)d->seq);
  d->seq = ev->seq;
  if (ev->time < d->jtime || (d->in_call && ev->time > d->call_now))
    eo_bad(d, "journal time %lld (previous %lld, call at %lld): %s %s>%s "
              "%s conv %.*s",
           (long long)ev->time, (long long)d->jtime, (long long)d->call_now,
           cr_engine_event_name(ev->type), cr_engine_state_name(ev->from),
           cr_engine_state_name(ev->to), cr_engine_reason_name(ev->reason),
           (int)ev->conv_len, ev->conv);
  d->jtime = ev->time;
  if (ev->type < 0 || ev->type >= CR_EV_COUNT || ev->from < 0 ||
      ev->from >= CR_ST_COUNT || ev->to < 0 || ev->to >= CR_ST_COUNT) {
    eo_bad(d, "journal entry out of range: type %d %d>%d", ev->type,
           ev->from, ev->to);
    return 0;
  }
  int ci = eo_conv_index(d, ev->conv, ev->conv_len);
  if (ci < 0) {
    eo_bad(d, "journal names an unknown conversation %.*s",
           (int)ev->conv_len, ev->conv);
    return 0;
  }
  if (ev->type == CR_EV_SURVEY) {
    if (ev->from < CR_ST_RESOLVED || ev->to != ev->from)
      eo_bad(d, "survey journalled for state %d>%d", ev->from, ev->to);
    return d->fail_journal ? -1 : 0;
  }
  int prev = d->st[ci] == 255 ? CR_ST_BOT : d->st[ci];
  if (ev->from != prev)
    eo_bad(d, "journal %s %.*s from %s but it was %s (seq %llu)",
           cr_engine_event_name(ev->type), (int)ev->conv_len, ev->conv,
           cr_engine_state_name(ev->from), cr_engine_state_name(prev),
           (unsigned long long)ev->seq);
  int next = -1;
  int rc = cr_engine_transition(ev->from, ev->type, &next);
  int ringall = ev->to == CR_ST_OFFERED && ev->from == CR_ST_OFFERED &&
                (ev->type == CR_EV_REJECT || ev->type == CR_EV_OFFER_TIMEOUT ||
                 ev->type == CR_EV_OFFER_CANCEL ||
                 ev->type == CR_EV_TRANSFER);
  if (rc || (next != ev->to && !ringall))
    eo_bad(d, "journal %s %s>%s not in the table (rc %d, table says %s)",
           cr_engine_event_name(ev->type), cr_engine_state_name(ev->from),
           cr_engine_state_name(ev->to), rc, cr_engine_state_name(next));
  if (ev->type == CR_EV_ACCEPT && ev->agent_len < 16 && ev->conv_len < 16)
    eo_remember(d->asg, &d->nasg, &d->asghead, ev->conv, ev->conv_len,
                ev->agent, ev->agent_len);
  d->st[ci] = ev->to >= CR_ST_RESOLVED ? 255 : (uint8_t)ev->to;
  if (ev->to >= CR_ST_RESOLVED)
    d->pend_action[ci] = 0;
  return d->fail_journal ? -1 : 0;
}

static void eo_on_router(const cr_router_event *ev, void *ud) {
  eo_drv *d = ud;
  eo_put_i(d, 3000);
  eo_put_i(d, ev->type);
  eo_put_i(d, ev->time);
  eo_put(d, ev->conv, ev->conv_len);
  eo_put(d, ev->agent, ev->agent_len);
  eo_put_i(d, ev->data1);
}

static int eo_set_callbacks(eo_drv *d, cr_engine *e) {
  cr_engine_callbacks cb = {eo_on_send,     eo_on_offer, eo_on_cancel,
                            eo_on_action,   eo_on_validate, eo_on_alert,
                            NULL,           eo_on_event, eo_on_router,
                            d};
  return cr_engine_set_callbacks(e, &cb);
}

/* ------------------------------------------------------------------ */
/* configuration: host data (policies, rules, texts, hours) and the router
 * (queues, agents). Policies are set for the labels the model has. */

static int eo_policy(cr_engine *e, const char *label, int kind,
                     const char *en, const char *he, const char *action,
                     const char *queue, const cr_field_spec *f, size_t nf,
                     int priority) {
  cr_intent_policy p;
  cr_engine_policy_init(&p);
  cr_lang_text t[2] = {{EO_S("en"), en, en ? strlen(en) : 0},
                       {EO_S("he"), he, he ? strlen(he) : 0}};
  cr_lang_text title[1] = {{EO_S("en"), label, strlen(label)}};
  p.kind = kind;
  if (en) {
    p.text = t;
    p.ntext = 2;
  }
  p.title = title;
  p.ntitle = 1;
  p.action = action;
  p.action_len = action ? strlen(action) : 0;
  p.queue = queue;
  p.queue_len = queue ? strlen(queue) : 0;
  p.fields = f;
  p.nfields = nf;
  p.priority = priority;
  int rc = cr_engine_set_policy(e, label, strlen(label), &p);
  return rc == CR_ENOTFOUND ? 0 : rc;
}

/* The host data: must be applied again to an engine a snapshot is
 * restored into. */
static int eo_host_config(cr_engine *e) {
  static const cr_lang_text acc_p[] = {{EO_S("en"), EO_S("Account number?")},
                                       {EO_S("he"), EO_S("מספר חשבון?")}};
  static const cr_lang_text adr_p[] = {{EO_S("en"), EO_S("New address?")},
                                       {EO_S("he"), EO_S("כתובת חדשה?")}};
  cr_field_spec acc = {EO_S("account_number"), acc_p, 2, CR_PATTERN_DIGITS,
                       6, 10};
  cr_field_spec fields[2] = {acc, {EO_S("address"), adr_p, 2,
                                   CR_PATTERN_CALLBACK, 0, 200}};
  int rc = 0;
  rc |= eo_policy(e, "greeting", CR_POLICY_ANSWER, "Hi! How can I help?",
                  "שלום! במה אפשר לעזור?", NULL, NULL, NULL, 0, 0);
  rc |= eo_policy(e, "opening_hours", CR_POLICY_ANSWER, "Sun-Thu 8-20.",
                  "א'-ה' 8-20.", NULL, NULL, NULL, 0, 0);
  rc |= eo_policy(e, "thanks_goodbye", CR_POLICY_END, "Bye!", "להתראות!",
                  NULL, NULL, NULL, 0, 0);
  rc |= eo_policy(e, "invoice_copy", CR_POLICY_ACTION, "Sending it.",
                  "שולח.", "send_invoice", "billing", NULL, 0, 0);
  rc |= eo_policy(e, "password_reset", CR_POLICY_ACTION, "Resetting.",
                  "מאפס.", "reset_password", "tech", NULL, 0, 0);
  rc |= eo_policy(e, "package_tracking", CR_POLICY_ACTION, "Checking.",
                  "בודק.", "track_package", NULL, NULL, 0, 0);
  rc |= eo_policy(e, "billing_question", CR_POLICY_COLLECT, NULL, NULL, NULL,
                  "billing", fields, 1, 0);
  rc |= eo_policy(e, "address_change", CR_POLICY_COLLECT, "Let me help.",
                  "אעזור.", NULL, "general", fields, 2, 0);
  rc |= eo_policy(e, "technical_fault", CR_POLICY_HANDOFF, "Passing you on.",
                  "מעביר.", NULL, "tech", NULL, 0, 5);
  rc |= eo_policy(e, "emergency", CR_POLICY_EMERGENCY, NULL, NULL, NULL,
                  "emergency", NULL, 0, 0);
  rc |= eo_policy(e, "talk_to_human", CR_POLICY_HUMAN, NULL, NULL, NULL,
                  NULL, NULL, 0, 0);
  if (rc)
    return rc;
  cr_skill_level he = {EO_S("he"), 3};
  cr_engine_rule ru;
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
  cr_engine_rule_init(&ru);
  ru.key = "segment";
  ru.key_len = 7;
  ru.value = "*";
  ru.value_len = 1;
  ru.handoff = 1;
  ru.stop = 1;
  if ((rc = cr_engine_add_rule(e, &ru)))
    return rc;
  if ((rc = cr_engine_set_text(e, CR_TEXT_CLARIFY, EO_S("en"),
                               EO_S("Did you mean {1} or {2}? {1}!{q}"))))
    return rc;
  /* handoff notices compose {q} in a buffer of their own */
  if ((rc = cr_engine_set_text(e, CR_TEXT_HANDOFF, EO_S("en"),
                               EO_S("To {q} ({q}).{"))) ||
      (rc = cr_engine_set_text(e, CR_TEXT_AFTER_HOURS, EO_S("en"),
                               EO_S("{q} is closed."))))
    return rc;
  /* Sunday..Thursday 08:00-20:00 local: the fuzzer's days cross them. */
  cr_open_interval iv[5];
  for (int i = 0; i < 5; i++)
    iv[i] = (cr_open_interval){i, 8 * 60, 20 * 60};
  return cr_engine_set_hours(e, iv, 5);
}

static int eo_router_config(cr_engine *e, int nagents, cr_time now) {
  cr_router *r = cr_engine_router(e);
  int rc;
  for (int i = 0; i < 5; i++) {
    cr_queue_config q;
    cr_queue_config_init(&q);
    if (i == 0) {
      q.max_wait_ms = 360000; /* the six-minute maximum wait */
      q.escalate_before_ms = 60000;
    }
    if (i == 4) {
      q.strategy = CR_STRATEGY_RING_ALL;
      q.max_wait_ms = 60000;
      q.max_wait_action = CR_MAXWAIT_EXIT;
    }
    if (i == 2)
      q.max_length = 3;
    if ((rc = cr_router_queue_add(r, eo_queues[i], strlen(eo_queues[i]), &q,
                                  now)))
      return rc;
  }
  cr_skill_level sk[3] = {{EO_S("he"), 5}, {EO_S("en"), 5},
                          {EO_S("billing"), 3}};
  for (int i = 0; i < nagents; i++) {
    char id[16];
    int n = snprintf(id, sizeof id, "a%d", i);
    cr_agent_config a;
    cr_agent_config_init(&a);
    a.max_per_channel[CR_CHANNEL_CHAT] = 1 + (uint32_t)(i % 3);
    a.max_per_channel[CR_CHANNEL_WHATSAPP] = 2;
    a.max_per_channel[CR_CHANNEL_VOICE] = 1;
    if (i % 2) { /* cost-based capacity on odd agents */
      a.total_capacity = 100;
      a.cost[CR_CHANNEL_CHAT] = 40;
      a.cost[CR_CHANNEL_WHATSAPP] = 30;
      a.cost[CR_CHANNEL_VOICE] = 100;
    }
    a.skills = sk;
    a.nskills = i % 3 == 2 ? 2 : 3;
    if ((rc = cr_router_agent_add(r, id, (size_t)n, &a, now)))
      return rc;
    for (int k = 0; k < 5; k++)
      if ((rc = cr_router_agent_join(r, id, (size_t)n, eo_queues[k],
                                     strlen(eo_queues[k]), k == 4 ? 0 : i % 2,
                                     0, now)))
        return rc;
  }
  return 0;
}

static void eo_engine_cfg(cr_engine_config *cfg, cr_router_config *rc) {
  cr_engine_config_init(cfg);
  cfg->transcript_max = 6;  /* small, so the ring wraps */
  cfg->recent_max = 16;     /* small, so surveys find it forgotten */
  cfg->wrapup_ms = 2000;
  cfg->idle_ms = 900000;
  cfg->return_window_ms = 3600000;
  cfg->utc_offset_min = 120;
  cr_router_config_init(rc);
  rc->offer_timeout_ms = 30000;
  rc->wrapup_ms = 1000;
  rc->decline_block_ms = 5000;
  rc->auto_away_misses = 2;
  cfg->router = rc;
}

/* ------------------------------------------------------------------ */
/* I4, I5: the engine's conversations against the journal and the router */

static void eo_check_convs(eo_drv *d) {
  cr_engine *e = d->e;
  cr_router *r = cr_engine_router(e);
  if (cr__router_check(r))
    eo_bad(d, "router invariant: %s", cr_router_errmsg(r));
  size_t live = 0;
  for (int i = 0; i < d->nconv_ids; i++) {
    char id[16];
    int n = snprintf(id, sizeof id, "c%d", i);
    cr_engine_summary s;
    int rc = cr_engine_conv_info(e, id, (size_t)n, &s);
    if (d->st[i] == 255) {
      if (rc != CR_ENOTFOUND)
        eo_bad(d, "%s: ended or never started, but conv_info says %d/%s", id,
               rc, rc ? "" : cr_engine_state_name(s.state));
      continue;
    }
    live++;
    if (rc) {
      eo_bad(d, "%s: journal left it %s, conv_info returns %d", id,
             cr_engine_state_name(d->st[i]), rc);
      continue;
    }
    if (s.state != d->st[i])
      eo_bad(d, "%s: journal left it %s, conv_info says %s", id,
             cr_engine_state_name(d->st[i]), cr_engine_state_name(s.state));
    cr_conv_info ri;
    int rr = cr_router_conv_info(r, id, (size_t)n, &ri);
    int want = -1; /* router state expected; -1: not in the line */
    switch (s.state) {
    case CR_ST_QUEUED: want = CR_CONV_WAITING; break;
    case CR_ST_OFFERED: want = CR_CONV_OFFERED; break;
    case CR_ST_AGENT:
    case CR_ST_BOTSTEP: want = CR_CONV_ASSIGNED; break;
    default: break;
    }
    if (want < 0) {
      if (rr == 0 && ri.state != CR_CONV_ABANDONED)
        eo_bad(d, "%s: %s in the engine but %d in the router", id,
               cr_engine_state_name(s.state), ri.state);
    } else if (rr || ri.state != want) {
      eo_bad(d, "%s: %s in the engine, router rc %d state %d", id,
             cr_engine_state_name(s.state), rr, rr ? -1 : ri.state);
    } else if (want == CR_CONV_ASSIGNED &&
               (s.agent_len != ri.agent_len ||
                memcmp(s.agent, ri.agent, ri.agent_len))) {
      eo_bad(d, "%s: engine agent %.*s, router agent %.*s", id,
             (int)s.agent_len, s.agent, (int)ri.agent_len, ri.agent);
    }
  }
  if (cr_engine_conv_count(e) != live || e->nconv != live)
    eo_bad(d, "conv_count %zu, journal says %zu live", cr_engine_conv_count(e),
           live);
  if (HASH_CNT(hh, e->convs) != live)
    eo_bad(d, "hash holds %u conversations, %zu live",
           HASH_CNT(hh, e->convs), live);
}

/* ------------------------------------------------------------------ */
/* one step */

static void eo_conv(eo_drv *d, char id[16], size_t *n) {
  *n = (size_t)snprintf(id, 16, "c%d", eo_pick(d, d->nconv_ids));
}

static void eo_agent(eo_drv *d, char id[16], size_t *n) {
  int k = eo_pick(d, d->nagents + 1);
  *n = k == d->nagents ? (size_t)snprintf(id, 16, "zz")
                       : (size_t)snprintf(id, 16, "a%d", k);
}

/* An agent + conversation pair: usually from a recent offer (so accepts
 * and rejects hit), otherwise anything. */
static void eo_pair(eo_drv *d, char c[16], size_t *cn, char a[16],
                    size_t *an, int live) {
  const eo_offer *ring = live ? d->asg : d->off;
  int n = live ? d->nasg : d->noff;
  if (n && eo_byte(d) % 4) {
    const eo_offer *o = &ring[eo_pick(d, n)];
    *cn = strlen(o->conv);
    memcpy(c, o->conv, *cn + 1);
    *an = strlen(o->agent);
    memcpy(a, o->agent, *an + 1);
    return;
  }
  eo_conv(d, c, cn);
  eo_agent(d, a, an);
}

static const char *eo_text(eo_drv *d, size_t *n) {
  int k = eo_pick(d, (int)EO_NTEXTS);
  const char *t = eo_texts[k];
  *n = k == 0 ? EO_NUL_TEXT_LEN : strlen(t);
  return t;
}

/* Runs one decoded call; returns its rc. *ticked is set for a tick. */
static int eo_call(eo_drv *d, int op, cr_time now, int *ticked) {
  cr_engine *e = d->e;
  char c[16], a[16], u[16];
  size_t cn, an, un, tn;
  const char *t;
  switch (op) {
  case 0: case 1: case 2: case 3: case 4: { /* customer message */
    eo_conv(d, c, &cn);
    un = (size_t)snprintf(u, sizeof u, "u%d", eo_pick(d, d->ncust_ids));
    int ch = eo_pick(d, 4) ? CR_CHANNEL_CHAT : eo_pick(d, CR_CHANNEL_COUNT + 1);
    t = eo_text(d, &tn);
    const char *p = eo_profiles[eo_pick(d, (int)EO_NPROFILES)];
    return cr_engine_customer_message(e, c, cn, eo_byte(d) % 8 ? u : NULL,
                                      eo_byte(d) % 8 ? un : 0, ch, t, tn, p,
                                      strlen(p), now);
  }
  case 5:
    eo_conv(d, c, &cn);
    return cr_engine_channel_switch(e, c, cn, eo_pick(d, CR_CHANNEL_COUNT + 1),
                                    now);
  case 6:
    eo_conv(d, c, &cn);
    return cr_engine_abandon(e, c, cn, now);
  case 7: {
    eo_conv(d, c, &cn);
    int csat = eo_pick(d, 7) - 1, nps = eo_pick(d, 12) - 1;
    return cr_engine_survey(e, c, cn, csat < 0 ? CR_METRICS_NONE : csat,
                            nps < 0 ? CR_METRICS_NONE : nps,
                            eo_byte(d) % 3 ? CR_METRICS_NONE : eo_pick(d, 8),
                            now);
  }
  case 8: case 9: { /* action result, aimed at a pending action */
    eo_conv(d, c, &cn);
    for (int k = 0; k < d->nconv_ids && op == 9; k++)
      if (d->pend_action[k]) {
        cn = (size_t)snprintf(c, sizeof c, "c%d", k);
        d->pend_action[k] = 0;
        break;
      }
    int ok = eo_byte(d) % 3 != 0;
    return cr_engine_action_result(e, c, cn, ok, ok ? "Done." : NULL,
                                   ok ? 5 : 0, now);
  }
  case 10:
    eo_conv(d, c, &cn);
    return cr_engine_end(e, c, cn, now);
  case 11: case 12:
    eo_pair(d, c, &cn, a, &an, 0);
    return cr_engine_agent_accept(e, c, cn, a, an, now);
  case 13:
    eo_pair(d, c, &cn, a, &an, 0);
    return cr_engine_agent_reject(e, c, cn, a, an, now);
  case 14:
    eo_pair(d, c, &cn, a, &an, 1);
    t = eo_text(d, &tn);
    return cr_engine_agent_reply(e, c, cn, a, an, t, tn, now);
  case 15: {
    eo_pair(d, c, &cn, a, &an, 1);
    const char *act = eo_actions[eo_pick(d, 4)];
    return cr_engine_agent_step(e, c, cn, a, an, act, strlen(act),
                                EO_S("x=1"), now);
  }
  case 16: {
    eo_pair(d, c, &cn, a, &an, eo_byte(d) % 2);
    const char *q = eo_queues[eo_pick(d, 7)];
    char to[16];
    size_t ton = 0;
    if (eo_byte(d) % 2)
      eo_agent(d, to, &ton);
    return cr_engine_agent_transfer(e, c, cn, a, an, q, strlen(q),
                                    ton ? to : NULL, ton, now);
  }
  case 17: case 18: {
    eo_pair(d, c, &cn, a, &an, 1);
    int res = eo_pick(d, 3);
    return cr_engine_agent_close(e, c, cn, a, an,
                                 res == 2 ? CR_METRICS_NONE : res, now);
  }
  case 19:
    eo_conv(d, c, &cn);
    return cr_engine_wrapup_done(e, c, cn, now);
  case 20: case 21: { /* agent login / away / offline */
    /* A direct router call does not run the engine's own timers: one due
     * before `now` would fire later, journalled at its deadline, BEFORE
     * entries this router call makes (journal time going backwards --
     * reported, reproduced in test_engine_determinism.c). A careful host
     * ticks the engine first, and so does this driver. */
    int rt = cr_engine_tick(e, now);
    if (rt)
      return rt;
    eo_agent(d, a, &an);
    int s = eo_pick(d, 4);
    int status = s < 2 ? CR_AGENT_AVAILABLE
                       : s == 2 ? CR_AGENT_AWAY : CR_AGENT_OFFLINE;
    return cr_router_agent_set_status(cr_engine_router(e), a, an, status,
                                      status == CR_AGENT_AWAY ? "break" : NULL,
                                      status == CR_AGENT_AWAY ? 5 : 0, now);
  }
  default: /* 22, 23: time passes and the host ticks */
    *ticked = 1;
    return cr_engine_tick(e, now);
  }
}

#define EO_NOPS 24

static int eo_rc_ok(int rc) { return rc <= 0 && rc >= CR__ERRNO_LAST; }

/* One step: decode, call, check. Returns 1 when the input is used up. */
static int eo_step(eo_drv *d) {
  if (eo_done(d))
    return 1;
  uint8_t b = eo_byte(d);
  /* control bytes: time, callback failures, re-entry */
  if (b >= 0xF0) {
    switch (b & 0x0F) {
    case 0: d->fail_send = !d->fail_send; break;
    case 1: d->fail_offer = !d->fail_offer; break;
    case 2: d->fail_action = !d->fail_action; break;
    case 3: d->fail_journal = !d->fail_journal; break;
    case 4: d->reenter = !d->reenter; break;
    case 6: d->oom_next = 1 + eo_pick(d, 12); break; /* I9 */
    case 5: { /* I8: time going backwards (before the engine's clock) */
      cr_time back = d->e->now - 1;
      uint64_t seq = d->seq;
      size_t log0 = d->nlog;
      int rc = cr_engine_tick(d->e, back);
      char c[16];
      size_t cn;
      eo_conv(d, c, &cn);
      int rc2 = cr_engine_customer_message(d->e, c, cn, NULL, 0,
                                           CR_CHANNEL_CHAT, EO_S("hello"),
                                           NULL, 0, back);
      if (rc != CR_EORDER || rc2 != CR_EORDER || d->nlog != log0)
        eo_bad(d, "a call back in time returned %d/%d, journalled %llu",
               rc, rc2, (unsigned long long)(d->seq - seq));
      break;
    }
    default: d->now += eo_dt[(b & 0x0F) % 10]; break; /* no tick */
    }
    return 0;
  }
  int op = b % EO_NOPS;
  cr_time now = d->now;
  if (op >= 22)
    now += eo_dt[eo_pick(d, 10)];
  /* I2 applies when nothing can be due: the time of the previous call,
   * every deadline after it, and the inner router's clock there too (a
   * router call moves the router's clock, which its snapshot keeps) */
  int same_time = now == d->e->now && cr_engine_next_timeout(d->e) > now &&
                  cr_engine_router(d->e)->now == now;
  void *before = NULL;
  size_t blen = 0;
  if (d->snap_check && same_time && cr_engine_snapshot(d->e, &before, &blen))
    before = NULL;
  size_t log0 = d->nlog;
  uint64_t seq0 = d->seq;
  int ticked = 0;
  int oom = d->tm && d->oom_next && before;
  if (oom)
    d->tm->fail_at = d->tm->calls + d->oom_next - 1;
  d->oom_next = 0;
  d->in_call = 1;
  d->call_now = now;
  int rc = eo_call(d, op, now, &ticked);
  d->in_call = 0;
  if (oom)
    cr_test_mem_heal(d->tm);
  if (rc == CR_ENOMEM)
    d->enomem++;
  if (rc == CR_ENOMEM && !oom)
    eo_bad(d, "op %d returned CR_ENOMEM with no failure injected", op);
  d->calls++;
  if (d->trace)
    fprintf(stderr, "call %ld op %d t=%lld rc %d\n", d->calls, op,
            (long long)now, rc);
  if (rc == 0)
    d->ok_calls++;
  if (rc == CR_ESTATE)
    d->estate++;
  if (!eo_rc_ok(rc))
    eo_bad(d, "op %d returned %d, not a code of the error map", op, rc);
  if (rc < 0 && rc != CR_ECALLBACK && same_time) { /* I2 */
    if (d->seq != seq0 || d->nlog != log0)
      eo_bad(d, "op %d failed with %s but journalled %llu entries / "
                "produced %zu bytes of output",
             op, cr_errname(rc), (unsigned long long)(d->seq - seq0),
             d->nlog - log0);
    if (before) {
      void *after = NULL;
      size_t alen = 0;
      if (!cr_engine_snapshot(d->e, &after, &alen) &&
          (alen != blen || memcmp(before, after, blen))) {
        size_t at = 0;
        while (at < alen && at < blen &&
               ((uint8_t *)before)[at] == ((uint8_t *)after)[at])
          at++;
        eo_bad(d, "op %d failed with %s but the snapshot changed (%zu -> "
                  "%zu bytes, first difference at byte %zu)",
               op, cr_errname(rc), blen, alen, at);
      }
      cr_mem_free(&d->e->mem, after);
    }
  }
  cr_mem_free(&d->e->mem, before);
  if (rc != CR_EORDER && rc != CR_EINVAL)
    d->now = now;
  if (ticked && rc == 0 && cr_engine_next_timeout(d->e) <= now) /* I6 */
    eo_bad(d, "after tick(%lld) the next timeout is %lld", (long long)now,
           (long long)cr_engine_next_timeout(d->e));
  if (d->check_every <= 1 || d->calls % d->check_every == 0)
    eo_check_convs(d);
  return 0;
}

/* Clears the driver for a run on engine e (d->data/size/rng and the
 * world sizes are kept). */
static void eo_reset(eo_drv *d, cr_engine *e) {
  d->e = e;
  d->pos = 0;
  d->now = e ? e->now : 0;
  d->nlog = 0;
  d->seq = 0;
  d->jtime = 0;
  d->noff = d->offhead = d->nasg = d->asghead = 0;
  d->fail_send = d->fail_offer = d->fail_action = d->fail_journal = 0;
  d->reenter = 0;
  memset(d->st, 255, sizeof d->st);
  memset(d->pend_action, 0, sizeof d->pend_action);
  d->bad = 0;
  d->why[0] = 0;
  d->calls = d->ok_calls = d->estate = d->journal_events = d->enomem = 0;
  d->oom_next = 0;
  memset(d->ev_count, 0, sizeof d->ev_count);
}

#endif
