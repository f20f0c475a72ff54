/* cr-chat: talk to the convroute demo bot as a customer, and answer as
 * the agent, and watch every routing decision as it is made.
 *
 *   cr-chat [--config FILE] [--data DIR | --model FILE] [--save-model FILE]
 *           [--channel CH]
 *           [--profile "k=v;k=v"] [--capacity N] [--step-s S] [--auto-accept]
 *           [--no-agents] [--quiet]
 *
 * Every line you type is the customer's message, except:
 *
 *   agent> TEXT              the agent who has the conversation replies
 *   /agent [NAME] CMD ...    the agent acts: accept | reject | say TEXT |
 *                            step ACTION [k=v ...] | transfer QUEUE |
 *                            close [resolved=0|1] | wrapup | away | available
 *                            | logout | login skills=s:l,.. capacity=ch:n,..
 *   /new [CHANNEL] [k=v ...] a new conversation (a new customer)
 *   /vip                     a new conversation from a VIP customer
 *   /to CONV                 type as the customer of another conversation
 *   /switch CHANNEL          the customer moves to another channel
 *   /leave                   the customer leaves (abandons)
 *   /end                     the host ends a bot conversation (resolved)
 *   /fail                    the next self-service action fails
 *   /survey CSAT [NPS]       survey answers for an ended conversation
 *   /wait S                  advance the host clock S seconds (timeouts)
 *   /convs /agents /kpi      what is live; the agents; the KPIs so far
 *   /help /quit
 *
 * The program is the HOST of a cr_engine, exactly as a contact centre's
 * software would be: it owns the clock (a simulated one: it starts on a
 * Sunday at 10:00 in Israel, inside the demo's opening hours, and every
 * input line advances it by --step-s, default 3 s, so a session is
 * reproducible), performs the bot's self-service actions (they succeed
 * unless /fail), and prints what the engine tells it through its
 * callbacks: the journal, the text for the customer, offers with the whole
 * context as the agent sees it, alerts. It works from a pipe too (the
 * lines it reads are echoed then), which is how tests/test_cr_chat.py
 * drives it.
 *
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* getline, isatty */
#include "convroute.h"
#include "demo_model.h"
#include "engine_config.h"
#include "replay_script.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define IDMAX 64
#define MAXPEND 16
#define MAXAGENTS 32
#define MAXCONVS 256

typedef struct pending {
  char conv[IDMAX];
  char action[IDMAX];
  int step; /* an agent's step (BOTSTEP), not the bot's own action */
} pending;

typedef struct chat_agent {
  char id[IDMAX];
  char skills[128];
} chat_agent;

typedef struct chat_conv {
  char id[IDMAX];
  char customer[IDMAX];
  char profile[256];
  int channel;
  int started;
  char offered_to[IDMAX]; /* last agent offered it */
  char ended[16];         /* end state name once it ended, "" while live */
} chat_conv;

typedef struct chat {
  const char *config_path, *data_dir, *model_path, *save_model;
  int channel;
  const char *profile;
  int capacity;
  int64_t step_ms;
  int auto_accept, no_agents, quiet, tty;

  ecf_config cfg;
  cr_intent_model *model;
  cr_engine *eng;
  int64_t origin, now;

  chat_conv convs[MAXCONVS];
  size_t nconvs;
  size_t cur; /* index of the conversation you type as */
  chat_agent agents[MAXAGENTS];
  size_t nagents;
  pending pend[MAXPEND];
  size_t npend;
  pending accept[MAXPEND]; /* auto-accept: (conv, agent) to accept */
  size_t naccept;
  int fail_next;
  const char *speaker; /* the agent whose input is running, or NULL */
  /* The router reports queue entry during the engine call, before the
   * engine journals the handoff: its line waits here and is printed after
   * the journal line that put the conversation in the queue. */
  char rline[512];
} chat;

/* ---------- small helpers ---------- */

static void cpy(char *dst, size_t cap, const char *s, size_t n) {
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, s, n);
  dst[n] = '\0';
}

static const char *nz(const char *s) { return s ? s : "?"; }

/* "10:00:03" on the demo's local clock (the configuration's timezone). */
static const char *clock_str(const chat *c, int64_t t, char *b, size_t cap) {
  int64_t local_s = t / 1000 + ecf_utc_offset_min(&c->cfg, t) * 60;
  int64_t day_s = ((local_s % 86400) + 86400) % 86400;
  snprintf(b, cap, "%02d:%02d:%02d", (int)(day_s / 3600),
           (int)(day_s / 60 % 60), (int)(day_s % 60));
  return b;
}

static chat_conv *conv_find(chat *c, const char *id, size_t n) {
  for (size_t i = 0; i < c->nconvs; i++)
    if (strlen(c->convs[i].id) == n && !memcmp(c->convs[i].id, id, n))
      return &c->convs[i];
  return NULL;
}

static chat_agent *agent_find(chat *c, const char *id) {
  for (size_t i = 0; i < c->nagents; i++)
    if (!strcmp(c->agents[i].id, id))
      return &c->agents[i];
  return NULL;
}

/* ---------- engine callbacks: what the host is told ---------- */

static int cb_send(const char *cid, size_t cl, int channel, const char *lang,
                   size_t ll, const char *text, size_t tl, void *ud) {
  chat *c = ud;
  (void)lang, (void)ll;
  char who[IDMAX + 16];
  if (c->speaker)
    snprintf(who, sizeof who, "agent %s", c->speaker);
  else
    snprintf(who, sizeof who, "bot");
  int other = c->nconvs && (strlen(c->convs[c->cur].id) != cl ||
                            memcmp(c->convs[c->cur].id, cid, cl));
  printf("%s%s%.*s%s [%s]> %.*s\n", who, other ? " (to " : "",
         other ? (int)cl : 0, cid, other ? ")" : "",
         nz(cr_channel_name(channel)), (int)tl, text);
  return 0;
}

static void print_context(const cr_engine_context *x, const char *agent,
                          size_t al, const char *title) {
  static const char *const who[3] = {"customer", "bot", "agent"};
  printf("  +-- %s %.*s: conversation %.*s -----------------\n", title,
         (int)al, agent ? agent : "", (int)x->conv_len, x->conv);
  printf("  | queue %.*s, priority %d, reason %s, intent %.*s\n",
         (int)x->queue_len, x->queue, x->priority,
         nz(cr_engine_reason_name(x->reason)), (int)x->intent_len,
         x->intent_len ? x->intent : "-");
  printf("  | customer %.*s, language %.*s, channel", (int)x->customer_len,
         x->customer, (int)x->lang_len, x->lang);
  for (size_t i = 0; i < x->nchannels; i++)
    printf("%s%s", i ? " -> " : " ", nz(cr_channel_name(x->channels[i])));
  printf("\n");
  if (x->nprofile) {
    printf("  | profile:");
    for (size_t i = 0; i < x->nprofile; i++)
      printf(" %.*s=%.*s", (int)x->profile[i].key_len, x->profile[i].key,
             (int)x->profile[i].value_len, x->profile[i].value);
    printf("\n");
  }
  if (x->nintents) {
    printf("  | intents:");
    for (size_t i = 0; i < x->nintents; i++)
      printf(" %.*s(%.2f)", (int)x->intents[i].label_len,
             x->intents[i].label, x->intents[i].confidence);
    printf("\n");
  }
  for (size_t i = 0; i < x->nfields; i++)
    printf("  | field %.*s = %.*s\n", (int)x->fields[i].key_len,
           x->fields[i].key, (int)x->fields[i].value_len,
           x->fields[i].value);
  if (x->prev_agent_len)
    printf("  | transferred from %.*s (%u transfer%s)\n",
           (int)x->prev_agent_len, x->prev_agent, (unsigned)x->transfers,
           x->transfers == 1 ? "" : "s");
  printf("  | transcript (%zu line%s%s):\n", x->ntranscript,
         x->ntranscript == 1 ? "" : "s", x->dropped ? ", older dropped" : "");
  for (size_t i = 0; i < x->ntranscript; i++) {
    const cr_engine_line *ln = &x->transcript[i];
    printf("  |   %-8s %.*s\n",
           ln->from >= 0 && ln->from < 3 ? who[ln->from] : "?",
           (int)ln->text_len, ln->text);
  }
  printf("  +------------------------------------------------\n");
}

static int cb_offer(const cr_engine_context *x, const char *agent, size_t al,
                    void *ud) {
  chat *c = ud;
  chat_conv *cv = conv_find(c, x->conv, x->conv_len);
  if (cv)
    cpy(cv->offered_to, sizeof cv->offered_to, agent, al);
  print_context(x, agent, al, "offer to agent");
  if (c->auto_accept && c->naccept < MAXPEND) {
    pending *p = &c->accept[c->naccept++];
    cpy(p->conv, sizeof p->conv, x->conv, x->conv_len);
    cpy(p->action, sizeof p->action, agent, al);
  } else {
    printf("  (accept with: /agent %.*s accept)\n", (int)al, agent);
  }
  return 0;
}

static int cb_cancel(const char *cid, size_t cl, const char *agent,
                     size_t al, void *ud) {
  (void)ud;
  printf("  .. offer of %.*s to %.*s withdrawn\n", (int)cl, cid, (int)al,
         agent);
  return 0;
}

static int cb_action(const char *cid, size_t cl, const char *act, size_t acl,
                     const char *args, size_t argl, const char *agent,
                     size_t al, void *ud) {
  chat *c = ud;
  printf("  .. host runs action %.*s for %.*s%s%.*s%s%.*s%s\n", (int)acl,
         act, (int)cl, cid, argl ? " with " : "", (int)argl, args,
         al ? " (a step handed to the bot by agent " : "", (int)al, agent,
         al ? ")" : "");
  if (al)
    printf("  .. (agent %.*s waits for the bot)\n", (int)al, agent);
  if (c->npend == MAXPEND)
    return 1; /* the engine treats it as a failed action */
  pending *p = &c->pend[c->npend++];
  cpy(p->conv, sizeof p->conv, cid, cl);
  cpy(p->action, sizeof p->action, act, acl);
  p->step = al > 0;
  return 0;
}

static int cb_alert(const cr_engine_context *x, void *ud) {
  (void)ud;
  print_context(x, NULL, 0,
                x->reason == CR_REASON_EMERGENCY ? "!! EMERGENCY ALERT"
                                                 : "!! ALERT");
  return 0;
}

static void flush_router(chat *c) {
  if (c->rline[0])
    fputs(c->rline, stdout);
  c->rline[0] = '\0';
}

static int cb_event(const cr_engine_event *ev, void *ud) {
  chat *c = ud;
  char tb[16];
  if (ev->to >= CR_ST_RESOLVED && ev->type != CR_EV_SURVEY) {
    chat_conv *cv = conv_find(c, ev->conv, ev->conv_len);
    if (cv)
      snprintf(cv->ended, sizeof cv->ended, "%s",
               nz(cr_engine_state_name(ev->to)));
  }
  if (c->quiet)
    return 0;
  /* The customer's own line is already on the screen. */
  if (ev->type == CR_EV_MESSAGE && ev->sender == CR_FROM_CUSTOMER &&
      ev->from == ev->to && !ev->intent_len)
    return 0;
  printf("  [%s] %-11s %.*s %s -> %s", clock_str(c, ev->time, tb, sizeof tb),
         nz(cr_engine_event_name(ev->type)), (int)ev->conv_len, ev->conv,
         nz(cr_engine_state_name(ev->from)), nz(cr_engine_state_name(ev->to)));
  if (ev->intent_len && ev->confidence > 0)
    printf("  intent=%.*s (%.2f)", (int)ev->intent_len, ev->intent,
           ev->confidence);
  else if (ev->intent_len)
    printf("  intent=%.*s", (int)ev->intent_len, ev->intent);
  if (ev->reason)
    printf("  reason=%s", nz(cr_engine_reason_name(ev->reason)));
  if (ev->queue_len)
    printf("  queue=%.*s", (int)ev->queue_len, ev->queue);
  if (ev->agent_len)
    printf("  agent=%.*s", (int)ev->agent_len, ev->agent);
  if (ev->text_len && ev->sender < 0)
    printf("  \"%.*s\"", (int)ev->text_len, ev->text);
  printf("\n");
  if (ev->to == CR_ST_QUEUED)
    flush_router(c);
  return 0;
}

/* The router's queue log, for what the journal does not say: the place in
 * line and the estimated wait. */
static void cb_router(const cr_router_event *ev, void *ud) {
  chat *c = ud;
  if (c->quiet)
    return;
  /* An EWT beyond a day means nobody available can take it. */
  size_t n = strlen(c->rline);
  if (ev->type == CR_REV_ENTERQUEUE && ev->data2 >= 0 &&
      ev->data2 < INT64_C(86400000))
    snprintf(c->rline + n, sizeof c->rline - n,
             "  .. router: %.*s enters queue %.*s, priority %lld, estimated "
             "wait %.0f s\n",
             (int)ev->conv_len, ev->conv, (int)ev->queue_len, ev->queue,
             (long long)ev->data1, (double)ev->data2 / 1000.0);
  else if (ev->type == CR_REV_ENTERQUEUE)
    snprintf(c->rline + n, sizeof c->rline - n,
             "  .. router: %.*s enters queue %.*s, priority %lld, no agent "
             "available to take it now\n",
             (int)ev->conv_len, ev->conv, (int)ev->queue_len, ev->queue,
             (long long)ev->data1);
  else if (ev->type == CR_REV_ESCALATE)
    printf("  .. router: %.*s in %.*s is close to the maximum wait\n",
           (int)ev->conv_len, ev->conv, (int)ev->queue_len, ev->queue);
}

static void set_callbacks(chat *c) {
  cr_engine_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.send = cb_send;
  cb.offer = cb_offer;
  cb.cancel_offer = cb_cancel;
  cb.action = cb_action;
  cb.alert = cb_alert;
  cb.event = cb_event;
  cb.router_event = cb_router;
  cb.user_data = c;
  cr_engine_set_callbacks(c->eng, &cb);
}

/* ---------- the host's work between inputs ---------- */

static void report(chat *c, int rc, int router) {
  if (rc >= 0)
    return;
  printf("  ! %s: %s\n", cr_errname(rc),
         router ? cr_router_errmsg(cr_engine_router(c->eng))
                : cr_engine_errmsg(c->eng));
}

/* What the demo's self-service actions tell the customer when done. */
static const char *action_text(const char *action, int he, int ok) {
  static const struct {
    const char *name, *he, *en;
  } t[] = {
      {"send_invoice", "החשבונית האחרונה נשלחה למייל שלך.",
       "Your last invoice is on its way to your e-mail."},
      {"reset_password", "שלחנו קישור לאיפוס הסיסמה ב-SMS.",
       "A password reset link was sent to you by SMS."},
      {"resend_code", "קוד אימות חדש נשלח ב-SMS.",
       "A new verification code was sent by SMS."},
      {"track_package", "המשלוח בדרך ויגיע מחר עד 18:00.",
       "Your package is on its way and arrives tomorrow by 18:00."},
      {"verify_identity", "הזהות אומתה.", "Your identity is verified."},
  };
  if (!ok)
    return NULL;
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (!strcmp(action, t[i].name))
      return he ? t[i].he : t[i].en;
  return he ? "בוצע." : "Done.";
}

/* Performs the actions the engine asked for (outside the callback, as the
 * API requires) and the automatic accepts, until nothing is left. */
static void host_work(chat *c) {
  flush_router(c);
  for (int guard = 0; guard < 64 && (c->npend || c->naccept); guard++) {
    if (c->npend) {
      pending p = c->pend[0];
      memmove(c->pend, c->pend + 1, --c->npend * sizeof *c->pend);
      cr_engine_summary s;
      int he = !cr_engine_conv_info(c->eng, p.conv, strlen(p.conv), &s) &&
               s.lang_len == 2 && !memcmp(s.lang, "he", 2);
      int ok = !c->fail_next;
      c->fail_next = 0;
      const char *t = action_text(p.action, he, ok);
      printf("  .. action %s %s\n", p.action, ok ? "done" : "FAILED");
      report(c, cr_engine_action_result(c->eng, p.conv, strlen(p.conv), ok,
                                        t, t ? strlen(t) : 0, c->now), 0);
      continue;
    }
    pending a = c->accept[0];
    memmove(c->accept, c->accept + 1, --c->naccept * sizeof *c->accept);
    printf("agent %s accepts %s (auto)\n", a.action, a.conv);
    c->speaker = a.action;
    report(c, cr_engine_agent_accept(c->eng, a.conv, strlen(a.conv),
                                     a.action, strlen(a.action), c->now), 0);
    c->speaker = NULL;
  }
}

/* Runs every engine deadline due up to `to`, each at its own time (offer
 * timeouts, the maximum wait, idle customers), then moves the clock. */
static void advance(chat *c, int64_t to) {
  for (int guard = 0; guard < 100000; guard++) {
    cr_time d = cr_engine_next_timeout(c->eng);
    if (d == CR_TIME_NEVER || d > to)
      break;
    if (d < c->now)
      d = c->now;
    c->now = d;
    report(c, cr_engine_tick(c->eng, d), 0);
    host_work(c);
  }
  if (to > c->now)
    c->now = to;
}

/* ---------- agents ---------- */

static int agent_login(chat *c, const char *id, const char *skills,
                       const char *capacity) {
  cr_agent_config ac;
  cr_agent_config_init(&ac);
  cr_skill_level sk[32];
  ecf_pair p[32];
  int n = ecf_pairs(skills, strlen(skills), p, 32, 1, 5);
  if (n < 0) {
    printf("  ! skills=name:level(1-5),...\n");
    return CR_EINVAL;
  }
  for (int k = 0; k < n; k++)
    sk[k].skill = p[k].name, sk[k].skill_len = p[k].len,
    sk[k].level = (int)p[k].v;
  ac.skills = sk, ac.nskills = (size_t)n;
  if (capacity) {
    n = ecf_pairs(capacity, strlen(capacity), p, 32, 0, 1000);
    for (int k = 0; k < n; k++) {
      int ch = cr_channel_parse(p[k].name, p[k].len);
      if (ch < 0)
        n = -1;
      else
        ac.max_per_channel[ch] = (uint32_t)p[k].v;
    }
    if (n < 0) {
      printf("  ! capacity=channel:count,...\n");
      return CR_EINVAL;
    }
  } else {
    for (int ch = 0; ch < CR_CHANNEL_COUNT; ch++)
      ac.max_per_channel[ch] = ch == CR_CHANNEL_VOICE ? 1
                               : ch == CR_CHANNEL_EMAIL || ch == CR_CHANNEL_TASK
                                   ? 0
                                   : (uint32_t)c->capacity;
  }
  cr_router *rt = cr_engine_router(c->eng);
  int rc = cr_router_agent_add(rt, id, strlen(id), &ac, c->now);
  if (rc == CR_EEXIST)
    rc = cr_router_agent_update(rt, id, strlen(id), &ac, c->now);
  if (!rc && !agent_find(c, id) && c->nagents < MAXAGENTS) {
    chat_agent *a = &c->agents[c->nagents++];
    cpy(a->id, sizeof a->id, id, strlen(id));
    cpy(a->skills, sizeof a->skills, skills, strlen(skills));
  }
  if (!rc) {
    printf("  .. agent %s logs in (skills %s)\n", id, skills);
    rc = cr_router_agent_set_status(rt, id, strlen(id), CR_AGENT_AVAILABLE,
                                    NULL, 0, c->now);
  }
  report(c, rc, 1);
  return rc;
}

/* The demo centre's three agents: a Hebrew-speaking billing and VIP
 * agent, a Hebrew-speaking technical and sales agent who is also on
 * call for emergencies, and an English-only generalist. Queues take every
 * agent whose skills meet theirs (demo_bot.conf; Hebrew speakers need
 * he:3 by the `hebrew` rule). */
static void default_agents(chat *c) {
  agent_login(c, "dana", "general:4,billing:5,vip:4,he:5,en:4", NULL);
  agent_login(c, "omer", "general:3,tech:5,sales:4,emergency:3,he:4,en:3",
              NULL);
  agent_login(c, "lee", "general:3,billing:3,tech:3,sales:3,en:5", NULL);
}

/* ---------- commands ---------- */

static chat_conv *new_conv(chat *c, int channel, const char *profile,
                           const char *customer) {
  if (c->nconvs == MAXCONVS) {
    printf("  ! too many conversations in one session\n");
    return NULL;
  }
  chat_conv *cv = &c->convs[c->nconvs];
  memset(cv, 0, sizeof *cv);
  snprintf(cv->id, sizeof cv->id, "c%zu", c->nconvs + 1);
  if (customer)
    cpy(cv->customer, sizeof cv->customer, customer, strlen(customer));
  else
    snprintf(cv->customer, sizeof cv->customer, "u%zu", c->nconvs + 1);
  cv->channel = channel;
  if (profile)
    cpy(cv->profile, sizeof cv->profile, profile, strlen(profile));
  c->cur = c->nconvs++;
  printf("  .. new conversation %s: customer %s on %s%s%s\n", cv->id,
         cv->customer, nz(cr_channel_name(channel)),
         cv->profile[0] ? ", profile " : "", cv->profile);
  return cv;
}

static void customer_says(chat *c, const char *text, size_t len) {
  chat_conv *cv = &c->convs[c->cur];
  if (cv->ended[0]) {
    printf("  .. %s has ended (%s); a new conversation starts\n", cv->id,
           cv->ended);
    cv = new_conv(c, cv->channel, cv->profile, cv->customer);
    if (!cv)
      return;
  }
  const char *prof = cv->started ? NULL : cv->profile;
  int rc = cr_engine_customer_message(
      c->eng, cv->id, strlen(cv->id), cv->customer, strlen(cv->customer),
      cv->channel, text, len, prof, prof ? strlen(prof) : 0, c->now);
  if (!rc || rc == CR_ECALLBACK)
    cv->started = 1;
  report(c, rc, 0);
}

/* The agent a command speaks for: the one named, else the one who has the
 * current conversation, else the one it was last offered to. */
static const char *current_agent(chat *c, char *buf, size_t cap) {
  chat_conv *cv = &c->convs[c->cur];
  cr_engine_summary s;
  if (!cr_engine_conv_info(c->eng, cv->id, strlen(cv->id), &s) && s.agent) {
    cpy(buf, cap, s.agent, s.agent_len);
    return buf;
  }
  if (cv->offered_to[0]) {
    cpy(buf, cap, cv->offered_to, strlen(cv->offered_to));
    return buf;
  }
  return NULL;
}

static void join_kv(const crs_toks *t, size_t from, char *out, size_t cap,
                    const char *sep) {
  out[0] = '\0';
  for (size_t i = from; i < t->n; i++) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? sep : "", t->tok[i].s);
  }
}

static void agent_cmd(chat *c, const crs_toks *t, size_t at) {
  char buf[IDMAX];
  const char *agent = NULL;
  const char *cv = c->convs[c->cur].id;
  cr_engine *e = c->eng;
  cr_router *rt = cr_engine_router(e);
  static const char *const cmds[] = {
      "accept", "reject", "say",     "reply",     "step",   "transfer",
      "close",  "wrapup", "away",    "available", "logout", "login"};
  int known = 0;
  if (at < t->n)
    for (size_t k = 0; k < sizeof cmds / sizeof *cmds; k++)
      known |= !strcmp(t->tok[at].s, cmds[k]);
  if (at < t->n && !known)
    agent = t->tok[at++].s;
  if (at >= t->n) {
    printf("  ! /agent [NAME] accept|reject|say TEXT|step ACTION|transfer "
           "QUEUE|close|wrapup|away|available|logout|login ...\n");
    return;
  }
  const char *cmd = t->tok[at++].s;
  if (!strcmp(cmd, "login")) {
    char sk[256] = "", cap[256] = "";
    for (size_t i = at; i < t->n; i++) {
      if (!strncmp(t->tok[i].s, "skills=", 7))
        cpy(sk, sizeof sk, t->tok[i].s + 7, strlen(t->tok[i].s + 7));
      else if (!strncmp(t->tok[i].s, "capacity=", 9))
        cpy(cap, sizeof cap, t->tok[i].s + 9, strlen(t->tok[i].s + 9));
    }
    if (!agent || !sk[0])
      printf("  ! /agent NAME login skills=s:l,... [capacity=ch:n,...]\n");
    else
      agent_login(c, agent, sk, cap[0] ? cap : NULL);
    return;
  }
  if (!agent)
    agent = current_agent(c, buf, sizeof buf);
  if (!agent) {
    printf("  ! no agent has %s yet: name one (/agent dana %s)\n", cv, cmd);
    return;
  }
  size_t al = strlen(agent), cl = strlen(cv);
  int rc = 0, router = 0;
  c->speaker = agent;
  if (!strcmp(cmd, "accept")) {
    rc = cr_engine_agent_accept(e, cv, cl, agent, al, c->now);
  } else if (!strcmp(cmd, "reject")) {
    rc = cr_engine_agent_reject(e, cv, cl, agent, al, c->now);
  } else if (!strcmp(cmd, "say") || !strcmp(cmd, "reply")) {
    char text[2048];
    join_kv(t, at, text, sizeof text, " ");
    rc = cr_engine_agent_reply(e, cv, cl, agent, al, text, strlen(text),
                               c->now);
  } else if (!strcmp(cmd, "step") && at < t->n) {
    char args[512];
    join_kv(t, at + 1, args, sizeof args, ";");
    printf("  .. agent %s hands one step to the bot: %s\n", agent,
           t->tok[at].s);
    rc = cr_engine_agent_step(e, cv, cl, agent, al, t->tok[at].s,
                              strlen(t->tok[at].s), args, strlen(args),
                              c->now);
  } else if (!strcmp(cmd, "transfer") && at < t->n) {
    rc = cr_engine_agent_transfer(e, cv, cl, agent, al, t->tok[at].s,
                                  strlen(t->tok[at].s), NULL, 0, c->now);
  } else if (!strcmp(cmd, "close")) {
    int res = 1;
    if (at < t->n && !strcmp(t->tok[at].s, "resolved=0"))
      res = 0;
    rc = cr_engine_agent_close(e, cv, cl, agent, al, res, c->now);
  } else if (!strcmp(cmd, "wrapup")) {
    rc = cr_engine_wrapup_done(e, cv, cl, c->now);
  } else if (!strcmp(cmd, "away") || !strcmp(cmd, "available") ||
             !strcmp(cmd, "logout")) {
    int st = cmd[0] == 'a' && cmd[1] == 'w' ? CR_AGENT_AWAY
             : cmd[0] == 'a'                ? CR_AGENT_AVAILABLE
                                            : CR_AGENT_OFFLINE;
    printf("  .. agent %s is now %s\n", agent, cmd);
    rc = cr_router_agent_set_status(rt, agent, al, st, NULL, 0, c->now);
    router = 1;
  } else if (!strcmp(cmd, "step") || !strcmp(cmd, "transfer")) {
    printf("  ! /agent %s: missing argument\n", cmd);
  } else {
    /* a second unknown word: "/agent x y" named agent x, then y is no
     * command (it used to say "missing argument") */
    printf("  ! /agent: unknown command %s (accept reject say step transfer "
           "close wrapup away available logout login)\n", cmd);
  }
  c->speaker = NULL;
  report(c, rc, router);
}

static void print_kpis(chat *c) {
  cr_metrics *m = cr_engine_metrics(c->eng);
  cr_metrics_report r;
  if (!m || cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &r))
    return;
  if (!r.contacts) {
    printf("  KPIs: no conversation has ended yet\n");
    return;
  }
  printf("  KPIs: contacts %llu, answered %llu, abandoned %llu, bot handled "
         "%llu, contained %llu (containment %.0f %%), escalated %llu\n",
         (unsigned long long)r.contacts, (unsigned long long)r.answered,
         (unsigned long long)r.abandoned, (unsigned long long)r.bot_handled,
         (unsigned long long)r.bot_contained,
         isnan(r.containment) ? 0.0 : 100 * r.containment,
         (unsigned long long)r.escalated);
  if (!isnan(r.asa_s))
    printf("        ASA %.1f s, service level %.0f %%, AHT %.0f s\n",
           r.asa_s, 100 * r.service_level, r.aht_s);
  if (!isnan(r.csat_mean))
    printf("        CSAT %.2f (n=%llu)\n", r.csat_mean,
           (unsigned long long)r.csat_n);
}

static void list_convs(chat *c) {
  for (size_t i = 0; i < c->nconvs; i++) {
    chat_conv *cv = &c->convs[i];
    cr_engine_summary s;
    const char *st = cv->ended[0] ? cv->ended : "not started";
    char ag[IDMAX] = "";
    if (!cr_engine_conv_info(c->eng, cv->id, strlen(cv->id), &s)) {
      st = nz(cr_engine_state_name(s.state));
      if (s.agent)
        cpy(ag, sizeof ag, s.agent, s.agent_len);
    }
    printf("  %s %-4s customer %-6s %-9s %-8s %s\n", i == c->cur ? "*" : " ",
           cv->id, cv->customer, nz(cr_channel_name(cv->channel)), st, ag);
  }
}

static void list_agents(chat *c) {
  static const char *const st[] = {"offline", "available", "away", "wrapup"};
  for (size_t i = 0; i < c->nagents; i++) {
    cr_agent_stats s;
    const char *id = c->agents[i].id;
    if (cr_router_agent_stats(cr_engine_router(c->eng), id, strlen(id),
                              c->now, &s))
      continue;
    printf("  %-6s %-9s live %u, offers %u, contacts %llu, occupancy "
           "%.0f %%  (%s)\n",
           id, s.status >= 0 && s.status < 4 ? st[s.status] : "?",
           (unsigned)s.active, (unsigned)s.offers_pending,
           (unsigned long long)s.contacts, 100 * s.occupancy,
           c->agents[i].skills);
  }
}

static void help(void) {
  printf(
      "Type as the customer. Commands:\n"
      "  agent> TEXT               the agent who has the conversation replies\n"
      "  /agent [NAME] accept | reject | say TEXT | step ACTION [k=v ...]\n"
      "        | transfer QUEUE | close [resolved=0] | wrapup | away\n"
      "        | available | logout | login skills=s:l,.. [capacity=ch:n,..]\n"
      "  /new [CHANNEL] [k=v ...]  a new conversation (lang=he tier=vip "
      "customer=ID ...)\n"
      "  /vip                      a new conversation from a VIP customer\n"
      "  /to CONV                  type as another conversation's customer\n"
      "  /switch CHANNEL  /leave  /end  /fail  /survey CSAT [NPS]\n"
      "  /wait SECONDS             advance the clock (timeouts fire)\n"
      "  /convs  /agents  /kpi  /help  /quit\n"
      "Self-service actions: send_invoice reset_password resend_code "
      "track_package verify_identity.\n");
}

/* s starts with the whole word w ("/quit", not "/quitter"). */
static int is_word(const char *s, const char *w) {
  size_t n = strlen(w);
  return !strncmp(s, w, n) && (!s[n] || isspace((unsigned char)s[n]));
}

/* One input line. Returns 1 to quit. */
static int run_line(chat *c, char *line) {
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    line[--len] = '\0';
  size_t sp = 0;
  while (line[sp] == ' ' || line[sp] == '\t')
    sp++;
  if (!line[sp] || line[sp] == '#')
    return 0;
  if (!crs_utf8_ok(line, len)) {
    printf("  ! not UTF-8; ignored\n");
    return 0;
  }
  /* From a pipe, echo the input so the output reads as a session. */
  if (!c->tty)
    printf("\n%s%s\n", line[sp] == '/' || !strncmp(line + sp, "agent>", 6)
                           ? ""
                           : "you> ",
           line + sp);
  if (is_word(line + sp, "/quit") || is_word(line + sp, "/exit"))
    return 1;
  if (!strncmp(line + sp, "/wait", 5)) {
    int64_t ms;
    const char *a = line + sp + 5;
    while (*a == ' ')
      a++;
    if (crs_parse_seconds(a, &ms) || ms > INT64_C(86400000) * 7)
      printf("  ! /wait SECONDS (up to a week)\n");
    else
      advance(c, c->now + ms);
    return 0;
  }
  advance(c, c->now + c->step_ms);
  if (!strncmp(line + sp, "agent>", 6)) {
    char buf[IDMAX];
    const char *text = line + sp + 6;
    while (*text == ' ')
      text++;
    const char *agent = current_agent(c, buf, sizeof buf);
    const char *cv = c->convs[c->cur].id;
    if (!agent) {
      printf("  ! no agent has %s\n", cv);
    } else {
      c->speaker = agent;
      report(c, cr_engine_agent_reply(c->eng, cv, strlen(cv), agent,
                                      strlen(agent), text, strlen(text),
                                      c->now), 0);
      c->speaker = NULL;
    }
    host_work(c);
    return 0;
  }
  if (line[sp] != '/') {
    customer_says(c, line + sp, len - sp);
    host_work(c);
    return 0;
  }
  crs_toks t;
  char err[160];
  if (crs_lex(line + sp, len - sp, &t, err, sizeof err) || !t.n) {
    printf("  ! %s\n", t.n ? err : "empty command");
    crs_toks_free(&t);
    return 0;
  }
  const char *w = t.tok[0].s;
  chat_conv *cur = &c->convs[c->cur];
  if (!strcmp(w, "/agent")) {
    agent_cmd(c, &t, 1);
  } else if (!strcmp(w, "/new") || !strcmp(w, "/vip")) {
    int ch = cur->channel;
    char prof[256] = "", *cust = NULL;
    size_t i = 1;
    if (i < t.n && t.tok[i].eq < 0) {
      int p = cr_channel_parse(t.tok[i].s, strlen(t.tok[i].s));
      if (p < 0)
        printf("  ! unknown channel %s\n", t.tok[i].s);
      else
        ch = p;
      i++;
    }
    for (; i < t.n; i++) {
      if (!strncmp(t.tok[i].s, "customer=", 9)) {
        cust = t.tok[i].s + 9;
        continue;
      }
      size_t n = strlen(prof);
      snprintf(prof + n, sizeof prof - n, "%s%s", n ? ";" : "", t.tok[i].s);
    }
    if (w[1] == 'v') {
      size_t n = strlen(prof);
      snprintf(prof + n, sizeof prof - n, "%stier=vip", n ? ";" : "");
    }
    if (!prof[0] && c->profile)
      cpy(prof, sizeof prof, c->profile, strlen(c->profile));
    new_conv(c, ch, prof, cust);
  } else if (!strcmp(w, "/to") && t.n == 2) {
    chat_conv *cv = conv_find(c, t.tok[1].s, strlen(t.tok[1].s));
    if (!cv)
      printf("  ! no conversation %s (/convs lists them)\n", t.tok[1].s);
    else
      c->cur = (size_t)(cv - c->convs), printf("  .. you are %s's customer\n",
                                                cv->id);
  } else if (!strcmp(w, "/switch") && t.n == 2) {
    int ch = cr_channel_parse(t.tok[1].s, strlen(t.tok[1].s));
    if (ch < 0) {
      printf("  ! unknown channel %s\n", t.tok[1].s);
    } else if (!cur->started) {
      cur->channel = ch;
    } else {
      int rc = cr_engine_channel_switch(c->eng, cur->id, strlen(cur->id), ch,
                                        c->now);
      if (!rc)
        cur->channel = ch;
      report(c, rc, 0);
    }
  } else if (!strcmp(w, "/leave")) {
    report(c, cr_engine_abandon(c->eng, cur->id, strlen(cur->id), c->now), 0);
  } else if (!strcmp(w, "/end")) {
    report(c, cr_engine_end(c->eng, cur->id, strlen(cur->id), c->now), 0);
  } else if (!strcmp(w, "/fail")) {
    c->fail_next = 1;
    printf("  .. the next self-service action will fail\n");
  } else if (!strcmp(w, "/survey") && t.n >= 2) {
    long csat = ecf_long(t.tok[1].s, strlen(t.tok[1].s));
    long nps = t.n > 2 ? ecf_long(t.tok[2].s, strlen(t.tok[2].s)) : -1;
    int rc = cr_engine_survey(c->eng, cur->id, strlen(cur->id),
                              csat < 0 || csat > 100 ? -1 : (int)csat,
                              nps < 0 || nps > 100 ? CR_METRICS_NONE
                                                   : (int)nps,
                              CR_METRICS_NONE, c->now);
    if (!rc)
      printf("  .. survey recorded for %s\n", cur->id);
    report(c, rc, 0);
  } else if (!strcmp(w, "/convs")) {
    list_convs(c);
  } else if (!strcmp(w, "/agents")) {
    list_agents(c);
  } else if (!strcmp(w, "/kpi")) {
    print_kpis(c);
  } else if (!strcmp(w, "/help") || !strcmp(w, "/?")) {
    help();
  } else if (!strcmp(w, "/to") || !strcmp(w, "/switch") ||
             !strcmp(w, "/survey")) {
    printf("  ! %s\n", w[1] == 't'   ? "/to CONV"
                       : w[2] == 'w' ? "/switch CHANNEL"
                                     : "/survey CSAT [NPS]");
  } else {
    printf("  ! unknown command %s (/help)\n", w);
  }
  crs_toks_free(&t);
  host_work(c);
  return 0;
}

/* ---------- main ---------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: cr-chat [--config FILE] [--data DIR | --model FILE] "
          "[--save-model FILE]\n"
          "               [--channel CH] [--profile \"k=v;k=v\"] [--capacity N]"
          " [--step-s S]\n"
          "               [--auto-accept] [--no-agents] [--quiet]\n"
          "Type as the customer; /help lists the agent's and the host's "
          "commands.\n");
}

static int parse_args(int argc, char **argv, chat *c) {
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--auto-accept"))
      c->auto_accept = 1;
    else if (!strcmp(o, "--no-agents"))
      c->no_agents = 1;
    else if (!strcmp(o, "--quiet"))
      c->quiet = 1;
    else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!v) {
      fprintf(stderr, "cr-chat: %s needs a value (or is unknown)\n", o);
      return -1;
    } else if (!strcmp(o, "--config"))
      c->config_path = v, i++;
    else if (!strcmp(o, "--data"))
      c->data_dir = v, i++;
    else if (!strcmp(o, "--model"))
      c->model_path = v, i++;
    else if (!strcmp(o, "--save-model"))
      c->save_model = v, i++;
    else if (!strcmp(o, "--profile"))
      c->profile = v, i++;
    else if (!strcmp(o, "--channel")) {
      c->channel = cr_channel_parse(v, strlen(v)), i++;
      if (c->channel < 0) {
        fprintf(stderr, "cr-chat: unknown channel %s\n", v);
        return -1;
      }
    } else if (!strcmp(o, "--capacity")) {
      long n = ecf_long(v, strlen(v));
      if (n < 1 || n > 100) {
        fprintf(stderr, "cr-chat: --capacity 1..100\n");
        return -1;
      }
      c->capacity = (int)n, i++;
    } else if (!strcmp(o, "--step-s")) {
      if (crs_parse_seconds(v, &c->step_ms) || c->step_ms > 3600000) {
        fprintf(stderr, "cr-chat: --step-s 0..3600\n");
        return -1;
      }
      i++;
    } else {
      fprintf(stderr, "cr-chat: unknown option %s\n", o);
      return -1;
    }
  }
  return 0;
}

static int load_model(chat *c) {
  char err[512];
  if (dm_model_get(c->data_dir, c->model_path, c->save_model, &c->model, err,
                   sizeof err)) {
    fprintf(stderr, "cr-chat: %s\n", err);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static chat c;
  char err[512], cfgpath[4096], tb[16];
  c.data_dir = dm_data_dir();
  c.channel = CR_CHANNEL_WHATSAPP;
  c.capacity = 2;
  c.step_ms = 3000;
  if (parse_args(argc, argv, &c)) {
    usage(stderr);
    return 2;
  }
  if (!c.config_path) {
    snprintf(cfgpath, sizeof cfgpath, "%s/demo_bot.conf", c.data_dir);
    c.config_path = cfgpath;
  }
  if (ecf_load(c.config_path, &c.cfg, err, sizeof err)) {
    fprintf(stderr, "cr-chat: %s\n", err);
    return 2;
  }
  /* Sunday 2026-11-22 10:00 in Israel (08:00 UTC), as cr-replay. */
  c.origin = c.now = INT64_C(1795334400000);
  if (load_model(&c) ||
      ecf_engine_new(&c.cfg, c.model, NULL, c.origin, &c.eng, err,
                     sizeof err)) {
    if (c.model)
      fprintf(stderr, "cr-chat: %s: %s\n", c.config_path, err);
    cr_intent_model_del(c.model);
    ecf_free(&c.cfg);
    return 2;
  }
  set_callbacks(&c);
  c.tty = isatty(0);
  size_t nl = cr_intent_model_label_count(c.model);
  const char *oos = cr_intent_model_oos_label(c.model);
  printf("cr-chat: the demo bot (%zu intents%s, Hebrew + English), Sunday "
         "%s.\n",
         oos && nl ? nl - 1 : nl, oos ? " and out-of-scope" : "",
         clock_str(&c, c.now, tb, sizeof tb));
  if (!c.no_agents)
    default_agents(&c);
  new_conv(&c, c.channel, c.profile, NULL);
  if (c.tty)
    help();
  char *line = NULL;
  size_t cap = 0;
  for (;;) {
    if (c.tty) {
      printf("%s %s> ", clock_str(&c, c.now, tb, sizeof tb),
             c.convs[c.cur].id);
      fflush(stdout);
    }
    if (getline(&line, &cap, stdin) < 0)
      break;
    if (run_line(&c, line))
      break;
    fflush(stdout);
  }
  free(line);
  printf("\n");
  print_kpis(&c);
  cr_engine_del(c.eng);
  cr_intent_model_del(c.model);
  ecf_free(&c.cfg);
  return 0;
}
