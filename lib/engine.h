/* Private: the conversation engine's data, shared by engine.c (the object,
 * inputs, router wiring, timers, metrics), engine_bot.c (the bot policy:
 * intents, clarify, collect, rules, hours, language) and
 * engine_snapshot.c (persistence). See docs/engine.md.
 *
 * Plan, then commit. An input first PLANS what it will do: the chain of
 * table transitions (MESSAGE, then UNCLEAR or FIELD_OK + HANDOFF...), the
 * texts the bot will say, the field value, the handoff parameters. Every
 * allocation the change needs is made while planning (transcript slots,
 * strings, metrics keys), so a failure leaves the engine unchanged. Then
 * the plan is committed: directly, or -- when it ends in a handoff --
 * from inside the router's ENTERQUEUE event, so that the journal says
 * HANDOFF before the router's OFFER and a refused enqueue (closed, full,
 * unknown queue, no memory) changes nothing. Router-driven changes made on
 * the engine's behalf (accept, abandon, close, transfer, channel) are
 * committed the same way, from the router event that confirms them. */
#ifndef CR_ENGINE_PRIV_H
#define CR_ENGINE_PRIV_H

#include "convroute.h"
#include "hash.h"

#include <stdint.h>

#define EMAXKV 16         /* profile pairs */
#define EMAXPROFILE 1024  /* profile bytes */
#define EMAXIH 8          /* intents remembered per conversation */
#define ELANG 8           /* language tag bytes incl. NUL */
#define EMAXSTEPS 8       /* transitions in one plan */
#define EMAXSAY 4         /* bot texts in one plan */
#define ENIL UINT32_MAX
#define EPLANS 4          /* nested plans: input + escalation */

/* A text in up to CR_ENGINE_MAX_TEXTS languages. */
typedef struct etext {
  uint8_t n;
  char lang[CR_ENGINE_MAX_TEXTS][ELANG];
  char *text[CR_ENGINE_MAX_TEXTS];
  uint32_t len[CR_ENGINE_MAX_TEXTS];
} etext;

typedef struct efield {
  char *name;
  uint32_t name_len;
  etext prompt;
  int pattern;
  uint32_t min_len, max_len;
} efield;

typedef struct eskills {
  uint8_t n;
  uint8_t level[CR_ROUTER_MAX_STEP_SKILLS];
  char *name[CR_ROUTER_MAX_STEP_SKILLS];
  uint32_t len[CR_ROUTER_MAX_STEP_SKILLS];
} eskills;

typedef struct epolicy {
  int set;
  int kind;
  etext title, text;
  char *action;
  uint32_t action_len;
  efield *fields;
  uint32_t nfields;
  char *queue;
  uint32_t queue_len;
  eskills skills;
  int priority;
} epolicy;

typedef struct erule {
  char *key, *value, *queue;
  uint32_t key_len, value_len, queue_len;
  eskills skills;
  int priority_add, handoff, stop;
} erule;

/* One transcript slot; its text buffer is kept and reused. */
typedef struct eline {
  cr_time at;
  char *text;
  uint32_t len, cap;
  uint8_t from, channel;
} eline;

typedef struct ehit {
  uint32_t label;
  double conf;
  cr_time at;
} ehit;

/* What a late survey and a returning customer need of an ended
 * conversation. Allocated with the conversation, so ending needs no
 * memory; the strings are moved in from the conversation. */
typedef struct erecent {
  char *id, *customer, *agent, *queue;
  uint32_t id_len, customer_len, agent_len, queue_len;
  int channel;
  int32_t intent;        /* label index or -1 */
  int end_state;
  cr_time ended;
  int surveyed;          /* a survey was attached: a repeat is CR_EEXIST */
  uint32_t key[CR_METRICS_DIM_COUNT]; /* metrics key ids (0 = none) */
  uint32_t hash[2];      /* of id, of customer: set when filed */
} erecent;

/* Another conversation id of a live conversation: a customer who has a
 * live conversation wrote under a new id (a new chat session, a channel's
 * own id). Either id reaches the conversation until it ends. One block:
 * the journal text "alias:<id>" with id pointing into it. */
typedef struct ealias {
  UT_hash_handle hh;     /* by id, in cr_engine.alias */
  struct econv *c;
  struct ealias *next;   /* the conversation's aliases */
  const char *id;        /* = text + 6 */
  uint32_t id_len;
  char text[];           /* "alias:<id>" */
} ealias;

typedef struct econv {
  UT_hash_handle hh;     /* by id */
  UT_hash_handle hc;     /* by customer (when one is given) */
  char *id, *customer, *profile;
  uint32_t id_len, customer_len, profile_len;
  uint64_t seq;          /* creation order: ties in the timer heap */
  uint8_t st, channel, reason, nchannels;
  uint8_t channels[CR_CHANNEL_COUNT];
  uint8_t helped, unclear, field, nkv, escalated, lang_fixed;
  uint8_t fpending;      /* fval[field] awaits cr_engine_field_result */
  char lang[ELANG];
  uint16_t kv[EMAXKV][4]; /* key off, key len, value off, value len */
  int32_t policy;        /* label index of the current bot flow, -1 */
  int32_t intent;        /* label index for the context: the last one
                            the bot acted on, -1 */
  int32_t mintent;       /* the CREDITED intent (metrics key, survey,
                            recent record): the first one the bot acted
                            on, kept for the whole contact, -1 */
  int32_t fpolicy;       /* policy whose fields fval holds, -1 */
  double intent_conf;
  int32_t clar[2];       /* CLARIFY offers (label indexes, -1 none) */
  double clar_conf[2];
  char *fval[CR_ENGINE_MAX_FIELDS];
  uint32_t flen[CR_ENGINE_MAX_FIELDS];
  uint32_t noffers;
  cr_time arrived, queued_at, answered_at, wrap_at, deadline;
  uint32_t hidx;         /* index in the timer heap, ENIL if none */
  char *agent, *prev_agent, *queue, *sticky;
  uint32_t agent_len, prev_agent_len, queue_len, sticky_len;
  eskills skills;        /* the handoff requirement (kept for transfers) */
  int priority;
  int resolved;          /* the agent's verdict at CLOSE */
  uint32_t transfers, messages, dropped;
  eline *lines;          /* ring, grows to transcript_max */
  uint32_t lcap, lhead, lcount;
  ehit ih[EMAXIH];
  uint8_t ihead, icount;
  uint32_t key[CR_METRICS_DIM_COUNT]; /* metrics key ids, 0 = none: set
                            when a record is made (resolve_keys) */
  erecent *rec;          /* pre-allocated record for after the end */
  ealias *aliases;       /* other ids of this conversation, newest first */
  /* a change waiting for the router event that confirms it */
  struct eplan *pend;
} econv;

/* One planned transition. */
typedef struct estep {
  uint8_t ev, reason;
  int32_t intent;        /* label index or -1 */
  double conf;
  const char *detail;    /* journal text (borrowed for the call) */
  size_t detail_len;
  int say;               /* index into the plan's says, or -1 */
  int alert;             /* call the alert callback before journalling */
} estep;

/* The router call a plan waits for (the event that confirms it). */
enum { ROP_NONE = 0, ROP_ENQUEUE, ROP_ACCEPT, ROP_ABANDON, ROP_END,
       ROP_TRANSFER, ROP_CHANNEL };

typedef struct eplan {
  estep s[EMAXSTEPS];
  int n;
  int sim;               /* the state after the steps so far */
  int rop;               /* ROP_* */
  cr_time t;             /* journal time */
  const char *jagent;    /* journal agent when not the conversation's */
  size_t jagent_len;
  const char *pref;      /* TRANSFER: the preferred agent */
  size_t pref_len;
  /* texts: the customer's line first (if any), then the bot's */
  const char *cust;
  size_t cust_len;
  int cust_from;         /* CR_FROM_CUSTOMER or CR_FROM_AGENT */
  const char *say[EMAXSAY];
  size_t say_len[EMAXSAY];
  int nsay;
  /* bot state updates applied at commit */
  int set_policy;        /* 1: conv->policy = policy */
  int32_t policy;
  int set_intent;
  int32_t intent;
  double intent_conf;
  int set_clar;
  int32_t clar[2];
  double clar_conf[2];
  int unclear;           /* new unclear count, -1 keep */
  int helped;
  int field;             /* new field index, -1 keep */
  int clear_fields;      /* COLLECT starts: drop earlier values */
  int fpend;             /* new fpending, -1 keep */
  int fset;              /* store fval[fidx] */
  int fidx;
  char *fval;            /* owned until commit */
  uint32_t flen;
  char lang[ELANG];      /* new language, "" keep */
  int hit_set;           /* remember a detected intent */
  ehit hit;
  /* the action to run after the commit (bot ACTION or agent STEP) */
  const char *action;
  size_t action_len;
  const char *args;
  size_t args_len;
  const char *agent;
  size_t agent_len;
  /* handoff (ENQUEUE) or transfer parameters */
  char *queue;           /* owned until commit */
  uint32_t queue_len;
  eskills skills;        /* owned names until commit */
  int priority;
  int reason;
  char *take_agent;      /* ACCEPT: the agent id, owned until commit */
  uint32_t take_agent_len;
  int resolved;          /* CLOSE */
  int channel;           /* CHANNEL */
  int fed;               /* the metrics record was added in advance */
  int done;              /* committed by the router's confirming event */
} eplan;

struct cr_engine {
  cr_mem mem;
  cr_intent_model *model;
  cr_router *router;
  cr_metrics *metrics;
  cr_engine_callbacks cb;
  /* configuration */
  size_t transcript_max;
  double clarify_below;
  uint32_t max_unclear;
  cr_time idle_ms, return_window_ms, sticky_ms, wrapup_ms;
  int utc_offset_min, keep_queued, alias_ids;
  char *human_label, *default_queue;
  uint32_t human_label_len, default_queue_len;
  int32_t human_idx;     /* label index of human_label, -1 */
  char default_lang[ELANG];
  uint32_t recent_max;
  size_t nlabels;
  epolicy *policies;     /* by label index */
  erule *rules;
  size_t nrules, caprules;
  etext texts[CR_TEXT_COUNT];
  cr_open_interval *hours;
  size_t nhours;
  /* live state */
  econv *convs;          /* uthash by id */
  econv *by_customer;    /* uthash by customer */
  ealias *alias;         /* uthash of the aliases of live conversations */
  size_t nconv;
  econv **heap;          /* timer min-heap by (deadline, seq) */
  size_t nheap, capheap;
  uint64_t seq, conv_seq;
  cr_time now;
  cr_time t_ran;         /* during an input: the clock before it, then
                            where the timers it ran took it; a failed
                            input leaves the clock there (see leave()) */
  int rcalled;           /* the input called the router with its time */
  int32_t logged_in;     /* agents logged in (router LOGIN / LOGOFF) */
  int busy;              /* inside a host callback: re-entry refused */
  int cb_failed;         /* a callback failed during this input */
  uint64_t metrics_lost; /* records the accumulator refused (no memory) */
  /* recently ended conversations: ring + two open-address indexes */
  erecent **recent;
  uint32_t rhead, rcount;
  uint32_t *ridx_id, *ridx_cust; /* slots hold ring positions or ENIL */
  uint32_t ridx_mask;
  /* scratch for callbacks, sized at creation */
  cr_engine_line *sc_lines;
  cr_engine_intent sc_ih[EMAXIH];
  cr_engine_kv sc_fields[CR_ENGINE_MAX_FIELDS];
  cr_engine_kv sc_profile[EMAXKV];
  int sc_channels[CR_CHANNEL_COUNT];
  eplan plans[EPLANS];   /* see plan_get() */
  int nplans;
  int32_t oos_idx;       /* label index of the model's oos label, -1 */
  char *sbuf;            /* composed bot texts */
  size_t sbuf_cap;
  char *hbuf;            /* the handoff notice with {q} replaced: a plan
                            may hold it beside a text in sbuf */
  size_t hbuf_cap;
  char err[160];
};

/* Times are accepted strictly within +-2^62 ms and durations up to 2^50
 * ms (35,000 years), the router's and the metrics' bounds (lib/router.h
 * RT_MAX / RDUR_MAX, lib/metrics.c TIME_LIMIT), so every time + duration
 * fits in int64_t and whatever the engine hands on is accepted there. */
#define ET_MAX ((cr_time)1 << 62)
#define EDUR_MAX ((cr_time)1 << 50)
#define ET_OK(t) ((t) > -ET_MAX && (t) < ET_MAX)

/* engine.c */
/* 1 when s[0..n) is an id the whole library accepts: well-formed UTF-8
 * without U+0000 (the router refuses NUL in ids, attributes and names, so
 * an id the engine took with a NUL could never be handed off). Used for
 * every id, name, skill, queue, language tag and profile the engine
 * keeps. */
int cr__e_name_ok(const char *s, size_t n);
int cr__e_fail(cr_engine *e, int rc, const char *msg);
int cr__e_key(cr_engine *e, int dim, const char *s, size_t n, uint32_t *id);
econv *cr__e_find(const cr_engine *e, const char *id, size_t len);
ealias *cr__e_alias_new(cr_engine *e, const char *id, size_t len);
const char *cr__e_label(const cr_engine *e, int32_t idx, size_t *len);
void cr__e_free_conv(cr_engine *e, econv *c);
void cr__e_free_recent(cr_engine *e, erecent *r);
void cr__e_skills_free(cr_engine *e, eskills *s);
int cr__e_skills_copy(cr_engine *e, eskills *dst, const cr_skill_level *src,
                      size_t n);
int cr__e_skills_dup(cr_engine *e, eskills *dst, const eskills *src);
int cr__e_reserve_lines(cr_engine *e, econv *c, const eplan *p);
int cr__e_commit(cr_engine *e, econv *c, eplan *p);
void cr__e_plan_init(eplan *p, int state, cr_time t);
void cr__e_plan_free(cr_engine *e, eplan *p);
int cr__e_plan_add(eplan *p, int ev, int reason, int32_t intent,
                   double conf, int say);
int cr__e_plan_say(eplan *p, const char *text, size_t len);
int cr__e_run_plan(cr_engine *e, econv *c, eplan *p);
int cr__e_heap_reserve(cr_engine *e, size_t need);
void cr__e_heap_set(cr_engine *e, econv *c, cr_time deadline);
int cr__e_rec_index(cr_engine *e, erecent *r);
void cr__e_recent_clear(cr_engine *e);
erecent *cr__e_recent_find(const cr_engine *e, const char *id, size_t len,
                           int by_customer);
int cr__e_router_cbs(cr_engine *e);

/* engine_bot.c */
/* Plans what a customer message does in the conversation's state. */
int cr__bot_plan_message(cr_engine *e, econv *c, const char *text,
                         size_t len, int first, eplan *p);
/* Plans the handoff part (queue, skills, priority, hours / no agents):
 * appends the transition `ev` with `reason`, or NO_SERVICE. */
int cr__bot_plan_handoff(cr_engine *e, econv *c, int ev, int reason,
                         int32_t intent, double conf, eplan *p);
const char *cr__bot_text(cr_engine *e, const etext *t, const econv *c,
                         size_t *len);
/* Plans the host's late verdict on the field being validated. */
int cr__bot_plan_field_result(cr_engine *e, econv *c, int ok, eplan *p);
int cr__bot_profile_parse(const char *s, size_t len,
                          uint16_t kv[EMAXKV][4], uint8_t *n);
const char *cr__bot_profile_get(const econv *c, const char *key,
                                size_t key_len, size_t *len);
void cr__bot_detect_lang(cr_engine *e, const econv *c, const char *text,
                         size_t len, char out[ELANG]);
int cr__bot_is_open(const cr_engine *e, cr_time now);
void cr__etext_free(cr_engine *e, etext *t);
int cr__etext_copy(cr_engine *e, etext *dst, const cr_lang_text *src,
                   size_t n);
void cr__policy_free(cr_engine *e, epolicy *p);
void cr__rule_free(cr_engine *e, erule *r);

/* Around every host callback of the engine: the engine refuses re-entry
 * (busy) and so does its inner router (the header forbids both). */
void cr__router_hold(cr_router *r, int delta);
static inline void cr__e_hold(cr_engine *e, int delta) {
  e->busy += delta;
  cr__router_hold(e->router, delta);
}

#endif
