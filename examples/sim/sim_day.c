/* cr-sim's scenario mode: a simulated day of a hybrid messaging centre,
 * every decision made by the convroute ENGINE (docs/sim_day.md).
 *
 *   cr-sim [--scenario default|FILE] [--start HH:00] [--hours N]
 *          [--seed K] [--data DIR] [--model FILE | --save-model FILE]
 *          [--json] [--svg FILE] [--print-scenario]
 *
 * The program is the host: it owns the clock and an event heap, makes the
 * customers (Poisson arrivals per channel and hour, a language, a VIP
 * tier, an intent from the mix and a REAL held-out utterance of that
 * intent from examples/data/intents_*_test.tsv, which the model never saw
 * in training), answers the bot's questions (a field value, a rephrasing
 * when asked to clarify, a goodbye after being helped), performs the
 * self-service actions, logs agents in and out by their shifts, accepts
 * offers after a ring delay, closes conversations after their handle time,
 * and abandons customers whose patience runs out. The engine decides
 * everything else: the intent and what the bot does with it, collection,
 * handoff and its queue (demo_bot.conf: policies, VIP and Hebrew rules,
 * six-minute maximum wait), agent selection and offers, and its metrics.
 * Containment therefore comes from the model's actual decisions.
 *
 * Why not sim_core's crs_sim kernel: it drives the router's conversation
 * functions itself (enqueue, accept, end), which a host of an engine must
 * not do (the engine owns its router's conversations). This mode uses the
 * kernel's random numbers and duration distributions (sim_rng.h,
 * crs_dist_draw_ms) with its own small event heap around the engine.
 *
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "day_scn.h"
#include "sim_modes.h"

#include "../demo_model.h"
#include "../engine_config.h"
#include "../replay_script.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Sunday 2026-11-22 00:00 in Israel (22:00 UTC the day before): the day
 * simulated (demo_bot.conf opens sun-thu 08:00-20:00). */
#define DAY_ORIGIN INT64_C(1795298400000)
#define MIN_MS INT64_C(60000)
/* After the last arrival the centre drains for this long: queues empty,
 * conversations close, quiet bot conversations reach their idle end
 * (demo_bot.conf: idle_timeout 900 s). */
#define DRAIN_MS (90 * MIN_MS)

/* ---------- utterances ---------- */

typedef struct pool {
  char label[48];
  int lang; /* 0 he, 1 en, 2 any (oos) */
  char **text;
  size_t n, cap;
} pool;

/* ---------- conversations and events ---------- */

enum { EV_ARRIVAL, EV_FIELD, EV_REPHRASE, EV_BYE, EV_NEED, EV_ACTION,
       EV_ACCEPT, EV_CLOSE, EV_PATIENCE, EV_SHIFT_ON, EV_SHIFT_OFF,
       EV_SAMPLE, EV_UNPAUSE };

typedef struct event {
  cr_time t;
  uint64_t seq;
  int type;
  uint32_t a; /* conversation, agent or channel */
  uint32_t b; /* agent for ACCEPT / CLOSE, ok for ACTION */
} event;

typedef struct sconv {
  int channel, lang, vip, mix;
  cr_time arrived, queued, answered;
  int queue;       /* result queue index, -1 */
  int ended;       /* 0 live; else the end state */
  uint32_t agent;  /* who answered */
  int fields_ok;   /* fields given so far */
  int collect_mix; /* the intent that started collecting (label index) */
  int first_seen;  /* the model's first decision was tallied */
  int rephrased;
} sconv;

typedef struct agent_rt {
  char id[48];
  int group;
  int on;
} agent_rt;

typedef struct day {
  day_scn scn;
  const char *data_dir;
  const char *model_path, *save_model;
  const char *svg_path;
  int json, hours, print_scn;
  int64_t seed_override;
  int has_seed;
  int start_min, has_start;

  ecf_config cfg;
  cr_intent_model *model;
  cr_engine *eng;
  cr_time now;
  cr_time arrivals_end, end;
  crs_rng rng_arr[DAY_NCH], rng_cust, rng_agent;

  pool *pools;
  size_t npools;
  int mix_pool[DAY_MAX_MIX][3]; /* pool index per language, -1 */
  int bye_pool[2];

  event *heap;
  size_t nheap, capheap;
  uint64_t seq;
  sconv *conv;
  size_t nconv, capconv;
  agent_rt *agents;
  size_t nagents;

  day_result res;
  int error;
} day;

/* ---------- the event heap (binary, by time then insertion) ---------- */

static int ev_less(const event *x, const event *y) {
  return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void push(day *d, cr_time t, int type, uint32_t a, uint32_t b) {
  if (d->nheap == d->capheap) {
    size_t nc = d->capheap ? 2 * d->capheap : 1024;
    event *nh = realloc(d->heap, nc * sizeof *nh);
    if (!nh) {
      d->error = CR_ENOMEM;
      return;
    }
    d->heap = nh, d->capheap = nc;
  }
  size_t i = d->nheap++;
  event e = {t, d->seq++, type, a, b};
  while (i) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&e, &d->heap[p]))
      break;
    d->heap[i] = d->heap[p];
    i = p;
  }
  d->heap[i] = e;
}

static event pop(day *d) {
  event top = d->heap[0], last = d->heap[--d->nheap];
  size_t i = 0, n = d->nheap;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const event *best = &last;
    if (l < n && ev_less(&d->heap[l], best))
      m = l, best = &d->heap[l];
    if (r < n && ev_less(&d->heap[r], best))
      m = r;
    if (m == i)
      break;
    d->heap[i] = d->heap[m];
    i = m;
  }
  if (n)
    d->heap[i] = last;
  return top;
}

/* ---------- data ---------- */

static int pool_find(day *d, const char *label, size_t ll, int lang) {
  for (size_t i = 0; i < d->npools; i++)
    if (d->pools[i].lang == lang && strlen(d->pools[i].label) == ll &&
        !memcmp(d->pools[i].label, label, ll))
      return (int)i;
  return -1;
}

static int load_tsv(day *d, const char *name, int lang, char *err,
                    size_t cap) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", d->data_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "%.400s: %s", path, strerror(errno));
    return -1;
  }
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    char *tab = strchr(line, '\t');
    if (!tab || tab == line || !tab[1])
      continue;
    int p = pool_find(d, line, (size_t)(tab - line), lang);
    if (p < 0) {
      pool *np = realloc(d->pools, (d->npools + 1) * sizeof *np);
      if (!np)
        break;
      d->pools = np;
      p = (int)d->npools++;
      memset(&np[p], 0, sizeof *np);
      snprintf(np[p].label, sizeof np[p].label, "%.*s", (int)(tab - line),
               line);
      np[p].lang = lang;
    }
    pool *pl = &d->pools[p];
    if (pl->n == pl->cap) {
      size_t nc = pl->cap ? 2 * pl->cap : 16;
      char **nt = realloc(pl->text, nc * sizeof *nt);
      if (!nt)
        break;
      pl->text = nt, pl->cap = nc;
    }
    pl->text[pl->n] = strdup(tab + 1);
    if (pl->text[pl->n])
      pl->n++;
  }
  fclose(f);
  return 0;
}

/* Held-out utterances (the *_test.tsv halves: not seen in training), so
 * the bot's decisions are those it would make on new customers. */
static int load_pools(day *d, char *err, size_t cap) {
  if (load_tsv(d, "intents_he_test.tsv", 0, err, cap) ||
      load_tsv(d, "intents_en_test.tsv", 1, err, cap) ||
      load_tsv(d, "intents_oos_test.tsv", 2, err, cap))
    return -1;
  for (size_t i = 0; i < d->scn.nmix; i++) {
    const char *l = d->scn.mix[i].label;
    int any = pool_find(d, l, strlen(l), 2);
    for (int g = 0; g < 2; g++) {
      int p = pool_find(d, l, strlen(l), g);
      d->mix_pool[i][g] = p >= 0 ? p : any;
    }
    if (d->mix_pool[i][0] < 0 || d->mix_pool[i][1] < 0) {
      snprintf(err, cap,
               "line %d: mix: no utterances of '%s' in %s/intents_*_test.tsv",
               d->scn.mix[i].line, l, d->data_dir);
      return -1;
    }
  }
  d->bye_pool[0] = pool_find(d, "thanks_goodbye", 14, 0);
  d->bye_pool[1] = pool_find(d, "thanks_goodbye", 14, 1);
  if (d->bye_pool[0] < 0 || d->bye_pool[1] < 0) {
    snprintf(err, cap, "no thanks_goodbye utterances in %s", d->data_dir);
    return -1;
  }
  return 0;
}

static const char *utter(day *d, int pool_ix) {
  const pool *p = &d->pools[pool_ix];
  return p->text[crs_below(&d->rng_cust, (uint32_t)p->n)];
}

/* ---------- helpers ---------- */

static int conv_ix(const char *id, size_t n) {
  if (n < 2 || n > 11 || id[0] != 's')
    return -1;
  long v = 0;
  for (size_t i = 1; i < n; i++) {
    if (id[i] < '0' || id[i] > '9')
      return -1;
    v = v * 10 + (id[i] - '0');
  }
  return (int)v;
}

static int agent_ix(day *d, const char *id, size_t n) {
  for (size_t i = 0; i < d->nagents; i++)
    if (strlen(d->agents[i].id) == n && !memcmp(d->agents[i].id, id, n))
      return (int)i;
  return -1;
}

static int interval_of(const day *d, cr_time t) {
  long m = (long)((t - DAY_ORIGIN) / MIN_MS) - d->scn.open_min;
  if (m < 0)
    m = 0;
  long i = m / d->scn.interval_min;
  return i >= (long)d->res.niv ? (int)d->res.niv - 1 : (int)i;
}

static int queue_ix(day *d, const char *q, size_t n) {
  for (size_t i = 0; i < d->res.nq; i++)
    if (strlen(d->res.qname[i]) == n && !memcmp(d->res.qname[i], q, n))
      return (int)i;
  if (d->res.nq == DAY_MAX_QUEUES || n >= sizeof d->res.qname[0])
    return -1;
  snprintf(d->res.qname[d->res.nq], sizeof d->res.qname[0], "%.*s", (int)n,
           q);
  /* its maximum wait for a human, from the configuration's queue line */
  const ecf_entry *e = ecf_get(&d->cfg, ECF_QUEUE, d->res.qname[d->res.nq]);
  const crs_kv *mw = e ? ecf_find(e->kv, e->nkv, "max_wait") : NULL;
  char b[32];
  int64_t ms;
  if (mw && mw->val_len < sizeof b) {
    snprintf(b, sizeof b, "%.*s", (int)mw->val_len, mw->val);
    if (!crs_parse_seconds(b, &ms))
      d->res.qmax_wait_s[d->res.nq] = (double)ms / 1e3;
  }
  return (int)d->res.nq++;
}

/* Waited longer than its queue's maximum (none: never). */
static int over_max(const day *d, const sconv *c, double wait_s) {
  double m = c->queue >= 0 ? d->res.qmax_wait_s[c->queue] : 0;
  return m > 0 && wait_s > m;
}

static void rc_check(day *d, int rc, const char *what) {
  /* CR_ESTATE / CR_ENOTFOUND: the conversation moved on before this
   * host event came due (an offer taken back, a customer gone): normal. */
  if (rc == 0 || rc == CR_ESTATE || rc == CR_ENOTFOUND)
    return;
  fprintf(stderr, "cr-sim: %s: %s (%s)\n", what, cr_errname(rc),
          cr_engine_errmsg(d->eng));
  if (!d->error)
    d->error = rc;
}

/* The kpi sets a conversation counts in: total, channel, interval and
 * (once it has one) queue. */
typedef struct sets {
  day_kpi *k[4];
  int n;
} sets;

static sets sets_of(day *d, const sconv *c, cr_time t) {
  sets s;
  s.n = 0;
  s.k[s.n++] = &d->res.total;
  s.k[s.n++] = &d->res.ch[c->channel];
  s.k[s.n++] = &d->res.iv[interval_of(d, t)].k;
  if (c->queue >= 0)
    s.k[s.n++] = &d->res.q[c->queue];
  return s;
}

/* ---------- engine callbacks (host bookkeeping; never call back in) ---- */

static int cb_offer(const cr_engine_context *x, const char *agent, size_t al,
                    void *ud) {
  day *d = ud;
  int c = conv_ix(x->conv, x->conv_len), a = agent_ix(d, agent, al);
  if (c >= 0 && a >= 0)
    push(d, d->now + (cr_time)(crs_exp(&d->rng_agent, d->scn.answer_s) * 1e3),
         EV_ACCEPT, (uint32_t)c, (uint32_t)a);
  return 0;
}

static int cb_action(const char *cid, size_t cl, const char *act, size_t acl,
                     const char *args, size_t argl, const char *agent,
                     size_t al, void *ud) {
  day *d = ud;
  (void)act, (void)acl, (void)args, (void)argl, (void)agent, (void)al;
  int c = conv_ix(cid, cl);
  if (c < 0)
    return 1;
  int ok = crs_unit(&d->rng_cust) < d->scn.action_success;
  push(d, d->now + (cr_time)(crs_exp(&d->rng_cust, d->scn.action_s) * 1e3),
       EV_ACTION, (uint32_t)c, (uint32_t)ok);
  return 0;
}

/* The router sets an agent who missed several offers in a row away
 * ("auto-away", like Asterisk's autopause); in the simulation a supervisor
 * puts them back a minute later, if their shift is still on. */
static void cb_router(const cr_router_event *ev, void *ud) {
  day *d = ud;
  if (ev->type != CR_REV_PAUSE || ev->text_len != 9 ||
      memcmp(ev->text, "auto-away", 9))
    return;
  int a = agent_ix(d, ev->agent, ev->agent_len);
  if (a >= 0)
    push(d, d->now + MIN_MS, EV_UNPAUSE, (uint32_t)a, 0);
}

static cr_time think(day *d) {
  return d->now + 1000 + (cr_time)(crs_exp(&d->rng_cust, d->scn.think_s) * 1e3);
}

static int mix_of(const day *d, const char *label, size_t n) {
  for (size_t i = 0; i < d->scn.nmix; i++)
    if (strlen(d->scn.mix[i].label) == n &&
        !memcmp(d->scn.mix[i].label, label, n))
      return (int)i;
  return -1;
}

static void first_decision(day *d, sconv *c, const cr_engine_event *ev) {
  if (c->first_seen)
    return;
  c->first_seen = 1;
  const char *truth = d->scn.mix[c->mix].label;
  if (!strcmp(truth, "oos")) {
    d->res.oos_msgs++;
    d->res.oos_unclear += ev->type == CR_EV_UNCLEAR;
    return;
  }
  d->res.first_msgs++;
  d->res.first_correct += ev->intent_len == strlen(truth) &&
                          !memcmp(ev->intent, truth, ev->intent_len) &&
                          ev->type != CR_EV_UNCLEAR;
}

static void on_queued(day *d, sconv *c, uint32_t ci,
                      const cr_engine_event *ev) {
  if (c->queued != CR_TIME_NONE)
    return;
  c->queued = ev->time;
  c->queue = ev->queue_len ? queue_ix(d, ev->queue, ev->queue_len) : -1;
  /* a queue's "arrivals" are its entries, so its outcomes add up too */
  if (c->queue >= 0)
    d->res.q[c->queue].arrivals++;
  sets s = sets_of(d, c, ev->time);
  for (int i = 0; i < s.n; i++)
    s.k[i]->queued++;
  cr_time p = crs_dist_draw_ms(&d->scn.patience[c->channel], &d->rng_cust);
  if (p != CRS_NEVER)
    push(d, ev->time + p, EV_PATIENCE, ci, 0);
}

static void on_answered(day *d, sconv *c, uint32_t ci,
                        const cr_engine_event *ev) {
  if (c->answered != CR_TIME_NONE)
    return;
  c->answered = ev->time;
  int a = ev->agent_len ? agent_ix(d, ev->agent, ev->agent_len) : -1;
  c->agent = a >= 0 ? (uint32_t)a : 0;
  double w = (double)(ev->time - c->queued) / 1e3;
  double th = d->scn.sl_threshold_s[c->channel];
  sets s = sets_of(d, c, c->queued);
  for (int i = 0; i < s.n; i++) {
    s.k[i]->q_answered++;
    s.k[i]->wait_sum_s += w;
    s.k[i]->in_sl += w <= th;
    s.k[i]->over_max_wait += over_max(d, c, w);
  }
  /* the arrival-side outcome, counted where the contact arrived */
  sets o = sets_of(d, c, c->arrived);
  for (int i = 0; i < o.n; i++)
    o.k[i]->answered++;
  push(d, ev->time + crs_dist_draw_ms(&d->scn.handle[c->channel],
                                      &d->rng_agent),
       EV_CLOSE, ci, c->agent);
}

static void on_end(day *d, sconv *c, const cr_engine_event *ev) {
  c->ended = ev->to;
  sets o = sets_of(d, c, c->arrived);
  if (c->answered != CR_TIME_NONE) {
    if (ev->to == CR_ST_CLOSED) {
      sets s = sets_of(d, c, c->queued);
      for (int i = 0; i < s.n; i++) {
        s.k[i]->closed++;
        s.k[i]->handle_sum_s += (double)(ev->time - c->answered) / 1e3;
      }
    }
    return; /* counted as answered */
  }
  for (int i = 0; i < o.n; i++) {
    if (ev->to == CR_ST_RESOLVED)
      o.k[i]->contained++;
    else if (ev->to == CR_ST_ABANDONED && c->queued != CR_TIME_NONE)
      o.k[i]->abandoned++;
    else
      o.k[i]->expired++;
  }
  if (c->queued != CR_TIME_NONE && ev->to == CR_ST_ABANDONED) {
    double w = (double)(ev->time - c->queued) / 1e3;
    sets s = sets_of(d, c, c->queued);
    for (int i = 0; i < s.n; i++) {
      s.k[i]->q_abandoned++;
      s.k[i]->over_max_wait += over_max(d, c, w);
    }
  }
}

static int cb_event(const cr_engine_event *ev, void *ud) {
  day *d = ud;
  int ci = conv_ix(ev->conv, ev->conv_len);
  if (ci < 0 || (size_t)ci >= d->nconv)
    return 0;
  sconv *c = &d->conv[ci];
  if (ev->intent_len && ev->sender != CR_FROM_AGENT &&
      (ev->type == CR_EV_ANSWER || ev->type == CR_EV_UNCLEAR ||
       ev->type == CR_EV_ACTION || ev->type == CR_EV_COLLECT ||
       ev->type == CR_EV_HANDOFF || ev->type == CR_EV_HUMAN ||
       ev->type == CR_EV_BOT_END))
    first_decision(d, c, ev);
  switch (ev->type) {
  case CR_EV_COLLECT:
    c->collect_mix = ev->intent_len ? mix_of(d, ev->intent, ev->intent_len)
                                    : -1;
    c->fields_ok = 0;
    push(d, think(d), EV_FIELD, (uint32_t)ci, 0);
    break;
  case CR_EV_FIELD_OK:
    c->fields_ok++;
    push(d, think(d), EV_FIELD, (uint32_t)ci, 0);
    break;
  case CR_EV_FIELD_BAD:
    push(d, think(d), EV_FIELD, (uint32_t)ci, 0);
    break;
  case CR_EV_UNCLEAR:
    push(d, think(d), EV_REPHRASE, (uint32_t)ci, 0);
    break;
  case CR_EV_ANSWER:
  case CR_EV_ACTION_OK:
    if (ev->to != CR_ST_BOT)
      break;
    if (ev->intent_len == 8 && !memcmp(ev->intent, "greeting", 8))
      push(d, think(d), EV_NEED, (uint32_t)ci, 0);
    else if (crs_unit(&d->rng_cust) < d->scn.goodbye_share)
      push(d, think(d), EV_BYE, (uint32_t)ci, 0);
    break;
  case CR_EV_ACCEPT:
    if (c->queued != CR_TIME_NONE)
      on_answered(d, c, (uint32_t)ci, ev);
    break;
  default:
    break;
  }
  if (ev->to == CR_ST_QUEUED && ev->from <= CR_ST_ACTION)
    on_queued(d, c, (uint32_t)ci, ev);
  if (ev->to >= CR_ST_RESOLVED && ev->type != CR_EV_SURVEY && !c->ended)
    on_end(d, c, ev);
  return 0;
}

/* ---------- the customers ---------- */

static const char *field_value(day *d, const sconv *c, char *buf,
                               size_t cap) {
  /* Which field the bot asks now: the collecting intent's fields, in the
   * policy's order (demo_bot.conf), past the ones already accepted. */
  const char *name = "";
  if (c->collect_mix >= 0) {
    const ecf_entry *e =
        ecf_get(&d->cfg, ECF_INTENT, d->scn.mix[c->collect_mix].label);
    const crs_kv *f = e ? ecf_find(e->kv, e->nkv, "fields") : NULL;
    int k = 0;
    for (size_t i = 0; f && i < f->val_len; k++) {
      size_t j = i;
      while (j < f->val_len && f->val[j] != ',')
        j++;
      if (k == c->fields_ok) {
        snprintf(buf, cap, "%.*s", (int)(j - i), f->val + i);
        name = buf;
        break;
      }
      i = j + 1;
    }
  }
  static char out[160];
  uint32_t r = crs_below(&d->rng_cust, 90000000) + 10000000;
  if (!strcmp(name, "address"))
    snprintf(out, sizeof out, "%s",
             c->lang ? "12 Herzl St, Haifa" : "רחוב הרצל 12, חיפה");
  else if (!strcmp(name, "description"))
    snprintf(out, sizeof out, "%s",
             c->lang ? "It stopped working yesterday evening"
                     : "זה הפסיק לעבוד אתמול בערב");
  else
    snprintf(out, sizeof out, "%u", (unsigned)r);
  return out;
}

static void say(day *d, uint32_t ci, const char *text, int first) {
  sconv *c = &d->conv[ci];
  char id[16], cust[16], prof[48];
  snprintf(id, sizeof id, "s%u", (unsigned)ci);
  snprintf(cust, sizeof cust, "u%u", (unsigned)ci);
  snprintf(prof, sizeof prof, "lang=%s%s", c->lang ? "en" : "he",
           c->vip ? ";tier=vip" : "");
  d->res.engine_calls++;
  rc_check(d, cr_engine_customer_message(
                  d->eng, id, strlen(id), cust, strlen(cust), c->channel,
                  text, strlen(text), first ? prof : NULL,
                  first ? strlen(prof) : 0, d->now),
           "customer message");
}

static int state_of(day *d, uint32_t ci) {
  char id[16];
  cr_engine_summary s;
  snprintf(id, sizeof id, "s%u", (unsigned)ci);
  return cr_engine_conv_info(d->eng, id, strlen(id), &s) ? -1 : s.state;
}

static int pick_mix(day *d, int skip_greeting) {
  double w = 0;
  for (size_t i = 0; i < d->scn.nmix; i++)
    if (!skip_greeting || (strcmp(d->scn.mix[i].label, "greeting") &&
                           strcmp(d->scn.mix[i].label, "thanks_goodbye")))
      w += d->scn.mix[i].w;
  double u = crs_unit(&d->rng_cust) * w;
  int last = 0;
  for (size_t i = 0; i < d->scn.nmix; i++) {
    if (skip_greeting && (!strcmp(d->scn.mix[i].label, "greeting") ||
                          !strcmp(d->scn.mix[i].label, "thanks_goodbye")))
      continue;
    last = (int)i;
    if ((u -= d->scn.mix[i].w) < 0)
      return (int)i;
  }
  return last;
}

static cr_time next_arrival(day *d, int ch, cr_time from) {
  /* Non-homogeneous Poisson, piecewise constant per hour: draw an
   * exponential gap at the hour's rate; past the hour's end restart from
   * there (exact by memorylessness). */
  cr_time t = from;
  while (t < d->arrivals_end) {
    int h = (int)(((t - DAY_ORIGIN) / (60 * MIN_MS)) % 24);
    cr_time hour_end = DAY_ORIGIN + (cr_time)(h + 1) * 60 * MIN_MS;
    double rate = d->scn.rate[ch][h];
    if (rate > 0) {
      cr_time g = (cr_time)(crs_exp(&d->rng_arr[ch], 3600.0 / rate) * 1e3);
      if (t + g < hour_end && t + g < d->arrivals_end)
        return t + g;
    }
    t = hour_end;
  }
  return CRS_NEVER;
}

static void arrive(day *d, int ch) {
  if (d->nconv == d->capconv) {
    size_t nc = d->capconv ? 2 * d->capconv : 1024;
    sconv *n = realloc(d->conv, nc * sizeof *n);
    if (!n) {
      d->error = CR_ENOMEM;
      return;
    }
    d->conv = n, d->capconv = nc;
  }
  uint32_t ci = (uint32_t)d->nconv++;
  sconv *c = &d->conv[ci];
  memset(c, 0, sizeof *c);
  c->channel = ch;
  c->lang = crs_unit(&d->rng_cust) < d->scn.he_share[ch] ? 0 : 1;
  c->vip = crs_unit(&d->rng_cust) < d->scn.vip_share;
  c->mix = pick_mix(d, 0);
  c->arrived = d->now;
  c->queued = c->answered = CR_TIME_NONE;
  c->queue = -1;
  c->collect_mix = -1;
  sets o = sets_of(d, c, d->now);
  for (int i = 0; i < o.n; i++)
    o.k[i]->arrivals++;
  d->res.iv[interval_of(d, d->now)].arrivals_ch[ch]++;
  say(d, ci, utter(d, d->mix_pool[c->mix][c->lang]), 1);
  cr_time t = next_arrival(d, ch, d->now);
  if (t != CRS_NEVER)
    push(d, t, EV_ARRIVAL, (uint32_t)ch, 0);
}

/* ---------- agents and sampling ---------- */

static void shift(day *d, uint32_t a, int on) {
  agent_rt *ag = &d->agents[a];
  ag->on = on;
  int rc = cr_router_agent_set_status(cr_engine_router(d->eng), ag->id,
                                      strlen(ag->id),
                                      on ? CR_AGENT_AVAILABLE
                                         : CR_AGENT_OFFLINE,
                                      NULL, 0, d->now);
  if (rc)
    rc_check(d, rc, "agent status");
}

static int add_agents(day *d, char *err, size_t cap) {
  cr_router *rt = cr_engine_router(d->eng);
  size_t total = 0;
  for (size_t g = 0; g < d->scn.nagents; g++)
    total += (size_t)d->scn.agents[g].count;
  d->agents = calloc(total ? total : 1, sizeof *d->agents);
  if (!d->agents)
    return CR_ENOMEM;
  for (size_t g = 0; g < d->scn.nagents; g++) {
    const day_agents *ga = &d->scn.agents[g];
    cr_agent_config ac;
    cr_agent_config_init(&ac);
    cr_skill_level sk[32];
    ecf_pair p[32];
    int n = ecf_pairs(ga->skills, strlen(ga->skills), p, 32, 1, 5);
    if (n < 0) {
      snprintf(err, cap, "line %d: agents %s: skills=name:level(1-5),... "
               "(at most 32)", ga->line, ga->name);
      return CR_EINVAL;
    }
    for (int k = 0; k < n; k++)
      sk[k].skill = p[k].name, sk[k].skill_len = p[k].len,
      sk[k].level = (int)p[k].v;
    ac.skills = sk, ac.nskills = (size_t)n;
    memcpy(ac.max_per_channel, ga->cap, sizeof ac.max_per_channel);
    memcpy(ac.cost, ga->cost, sizeof ac.cost);
    ac.total_capacity = ga->total;
    ac.wrapup_ms = (cr_time)(ga->wrapup_s * 1000);
    for (int i = 0; i < ga->count; i++) {
      agent_rt *a = &d->agents[d->nagents];
      snprintf(a->id, sizeof a->id, "%s-%d", ga->name, i + 1);
      a->group = (int)g;
      int rc = cr_router_agent_add(rt, a->id, strlen(a->id), &ac, d->now);
      if (rc) {
        snprintf(err, cap, "line %d: agents %s: %s (%s)", ga->line, ga->name,
                 cr_strerror(rc), cr_router_errmsg(rt));
        return rc;
      }
      cr_time on = DAY_ORIGIN + ga->shift_from * MIN_MS;
      cr_time off = DAY_ORIGIN + ga->shift_to * MIN_MS;
      push(d, on, EV_SHIFT_ON, (uint32_t)d->nagents, 0);
      if (off < d->end)
        push(d, off, EV_SHIFT_OFF, (uint32_t)d->nagents, 0);
      d->nagents++;
    }
  }
  return 0;
}

static void sample(day *d) {
  cr_router *rt = cr_engine_router(d->eng);
  uint32_t waiting = 0, on = 0;
  double occ = 0;
  for (size_t i = 0; i < d->res.nq; i++) {
    cr_queue_stats qs;
    const char *q = d->res.qname[i];
    if (!cr_router_queue_stats(rt, q, strlen(q), d->now, &qs))
      waiting += qs.waiting + qs.offered;
  }
  for (size_t i = 0; i < d->nagents; i++) {
    cr_agent_stats as;
    if (d->agents[i].on &&
        !cr_router_agent_stats(rt, d->agents[i].id, strlen(d->agents[i].id),
                               d->now, &as)) {
      occ += as.occupancy;
      on++;
    }
  }
  /* only inside the reported window: drain time would otherwise land in
   * the last interval */
  if (d->now < d->arrivals_end) {
    day_interval *iv = &d->res.iv[interval_of(d, d->now)];
    iv->qlen_sum += waiting;
    if (waiting > iv->qlen_max)
      iv->qlen_max = waiting;
    iv->staffed_sum += on;
    iv->samples++;
    if (on) {
      iv->occ_sum += occ / on;
      iv->occ_samples++;
      d->res.occ_sum += occ / on;
      d->res.occ_samples++;
    }
  }
}

/* ---------- the run ---------- */

static void handle(day *d, const event *e) {
  char id[16];
  snprintf(id, sizeof id, "s%u", (unsigned)e->a);
  size_t il = strlen(id);
  sconv *c = e->type <= EV_PATIENCE && e->type != EV_ARRIVAL &&
                     e->a < d->nconv
                 ? &d->conv[e->a]
                 : NULL;
  if (c && c->ended)
    return;
  switch (e->type) {
  case EV_ARRIVAL:
    arrive(d, (int)e->a);
    break;
  case EV_FIELD:
    if (state_of(d, e->a) == CR_ST_COLLECT) {
      char fb[64];
      say(d, e->a, field_value(d, c, fb, sizeof fb), 0);
    }
    break;
  case EV_REPHRASE:
    if (state_of(d, e->a) == CR_ST_CLARIFY)
      say(d, e->a, utter(d, d->mix_pool[c->mix][c->lang]), 0);
    break;
  case EV_BYE:
    if (state_of(d, e->a) == CR_ST_BOT)
      say(d, e->a, utter(d, d->bye_pool[c->lang]), 0);
    break;
  case EV_NEED:
    if (state_of(d, e->a) == CR_ST_BOT) {
      c->mix = pick_mix(d, 1);
      say(d, e->a, utter(d, d->mix_pool[c->mix][c->lang]), 0);
    }
    break;
  case EV_ACTION:
    d->res.engine_calls++;
    rc_check(d, cr_engine_action_result(d->eng, id, il, (int)e->b, NULL, 0,
                                        d->now),
             "action result");
    break;
  case EV_ACCEPT:
    d->res.engine_calls++;
    rc_check(d, cr_engine_agent_accept(d->eng, id, il, d->agents[e->b].id,
                                       strlen(d->agents[e->b].id), d->now),
             "accept");
    break;
  case EV_CLOSE:
    d->res.engine_calls++;
    rc_check(d, cr_engine_agent_close(d->eng, id, il, d->agents[e->b].id,
                                      strlen(d->agents[e->b].id), 1, d->now),
             "close");
    break;
  case EV_PATIENCE:
    if (c->answered == CR_TIME_NONE) {
      d->res.engine_calls++;
      rc_check(d, cr_engine_abandon(d->eng, id, il, d->now), "abandon");
    }
    break;
  case EV_SHIFT_ON:
  case EV_SHIFT_OFF:
    shift(d, e->a, e->type == EV_SHIFT_ON);
    break;
  case EV_UNPAUSE:
    if (d->agents[e->a].on)
      shift(d, e->a, 1);
    break;
  case EV_SAMPLE:
    sample(d);
    if (d->now + MIN_MS < d->end)
      push(d, d->now + MIN_MS, EV_SAMPLE, 0, 0);
    break;
  }
}

static int run(day *d) {
  for (int ch = 0; ch < DAY_NCH; ch++)
    if (d->scn.has_ch[ch]) {
      cr_time t = next_arrival(d, ch, DAY_ORIGIN + d->scn.open_min * MIN_MS);
      if (t != CRS_NEVER)
        push(d, t, EV_ARRIVAL, (uint32_t)ch, 0);
    }
  push(d, DAY_ORIGIN + d->scn.open_min * MIN_MS, EV_SAMPLE, 0, 0);
  while (!d->error) {
    cr_time te = d->nheap ? d->heap[0].t : CRS_NEVER;
    cr_time tt = cr_engine_next_timeout(d->eng);
    if (te == CRS_NEVER && tt == CR_TIME_NEVER)
      break;
    if (tt <= te) {
      if (tt > d->end)
        break;
      d->now = tt > d->now ? tt : d->now;
      rc_check(d, cr_engine_tick(d->eng, d->now), "tick");
      continue;
    }
    if (te > d->end)
      break;
    event e = pop(d);
    d->now = e.t > d->now ? e.t : d->now;
    handle(d, &e);
  }
  return d->error;
}

/* Conversations still live at the end: counted open (unanswered). */
static void finish(day *d) {
  for (size_t i = 0; i < d->nconv; i++) {
    sconv *c = &d->conv[i];
    if (c->ended || c->answered != CR_TIME_NONE)
      continue;
    sets o = sets_of(d, c, c->arrived);
    for (int k = 0; k < o.n; k++)
      o.k[k]->open++;
  }
  cr_metrics *m = cr_engine_metrics(d->eng);
  if (m)
    cr_metrics_report_get(m, CR_METRICS_TOTAL, 0, &d->res.engine);
}

/* ---------- output ---------- */

static void fmt_pct(char *b, size_t cap, double v) {
  if (isnan(v))
    snprintf(b, cap, "%6s", "-");
  else
    snprintf(b, cap, "%5.1f%%", 100 * v);
}

static void fmt_s(char *b, size_t cap, double v) {
  if (isnan(v))
    snprintf(b, cap, "%6s", "-");
  else
    snprintf(b, cap, "%5.0fs", v);
}

/* occ NAN: not shown; a queue row has no containment (only handed-off
 * conversations enter a queue). */
static void row(const char *name, const day_kpi *k, double occ, int queue) {
  char sl[16], asa[16], ab[16], aht[16], co[16], oc[16];
  fmt_pct(sl, sizeof sl, day_sl(k));
  fmt_s(asa, sizeof asa, day_asa(k));
  fmt_pct(ab, sizeof ab, day_abandon(k));
  fmt_s(aht, sizeof aht, day_aht(k));
  fmt_pct(co, sizeof co, queue ? NAN : day_containment(k));
  fmt_pct(oc, sizeof oc, occ);
  printf("  %-12s %6llu %6s %6llu %6llu %6llu  %s %s %s %s %s\n", name,
         (unsigned long long)k->arrivals, co, (unsigned long long)k->queued,
         (unsigned long long)k->answered, (unsigned long long)k->abandoned,
         sl, asa, ab, aht, oc);
}

static void head(const char *what) {
  printf("  %-12s %6s %6s %6s %6s %6s  %6s %6s %6s %6s %6s\n", what,
         "arrive", "contnd", "queued", "answrd", "abandn", "SL", "ASA",
         "aband%", "AHT", "occup");
}

static void hm(char *b, size_t cap, int min) {
  snprintf(b, cap, "%02d:%02d", min / 60 % 24, min % 60);
}

static void print_human(const day *d) {
  const day_result *r = &d->res;
  char a[8], b[8];
  hm(a, sizeof a, d->scn.open_min);
  /* the window simulated: --hours is cut at the scenario's closing hour
   * (setup), so the end comes from there, as in the JSON's "to" */
  hm(b, sizeof b, (int)((d->arrivals_end - DAY_ORIGIN) / MIN_MS));
  printf("cr-sim: %s\n", d->scn.name);
  printf("  %s-%s local, seed %llu, %zu agents in %zu groups; every "
         "decision by the engine (bot, handoff, router, metrics)\n",
         a, b, (unsigned long long)d->scn.seed, d->nagents, d->scn.nagents);
  printf("  SL = answered within the channel's threshold / (answered + "
         "abandoned), by queue entry;\n  containment = resolved by the bot "
         "/ ended conversations.\n\n");
  head("channel");
  row("all", &r->total,
      r->occ_samples ? r->occ_sum / r->occ_samples : NAN, 0);
  for (int c = 0; c < DAY_NCH; c++)
    if (d->scn.has_ch[c]) {
      char n[40];
      snprintf(n, sizeof n, "%s@%.0fs", cr_channel_name(c),
               d->scn.sl_threshold_s[c]);
      row(n, &r->ch[c], NAN, 0);
    }
  printf("\n");
  head("queue");
  for (size_t q = 0; q < r->nq; q++)
    row(r->qname[q], &r->q[q], NAN, 1);
  printf("\n");
  head("interval");
  for (size_t i = 0; i < r->niv; i++) {
    const day_interval *iv = &r->iv[i];
    char n[32];
    hm(n, sizeof n, iv->start_min);
    row(n, &iv->k, iv->occ_samples ? iv->occ_sum / iv->occ_samples : NAN,
        0);
  }
  printf("\n  outcome: %llu arrived = %llu contained by the bot + %llu "
         "answered + %llu abandoned + %llu expired + %llu still open\n",
         (unsigned long long)r->total.arrivals,
         (unsigned long long)r->total.contained,
         (unsigned long long)r->total.answered,
         (unsigned long long)r->total.abandoned,
         (unsigned long long)r->total.expired,
         (unsigned long long)r->total.open);
  printf("  waits over the queue's maximum (config max_wait): %llu\n",
         (unsigned long long)r->total.over_max_wait);
  printf("  intent model on first messages: %llu/%llu in-scope right "
         "(%.1f %%), %llu/%llu out-of-scope asked to clarify\n",
         (unsigned long long)r->first_correct,
         (unsigned long long)r->first_msgs,
         r->first_msgs ? 100.0 * r->first_correct / r->first_msgs : 0.0,
         (unsigned long long)r->oos_unclear, (unsigned long long)r->oos_msgs);
  printf("  engine metrics: contacts %llu, answered %llu, abandoned %llu, "
         "containment %.1f %%, ASA %.1f s, AHT %.0f s\n",
         (unsigned long long)r->engine.contacts,
         (unsigned long long)r->engine.answered,
         (unsigned long long)r->engine.abandoned,
         100 * r->engine.containment, r->engine.asa_s, r->engine.aht_s);
  printf("  simulated in %.2f s (%llu engine calls)\n", r->wall_s,
         (unsigned long long)r->engine_calls);
  if (d->svg_path)
    printf("  chart: %s\n", d->svg_path);
}

static void json_kpi(FILE *f, const day_kpi *k) {
  fprintf(f,
          "{\"arrivals\":%llu,\"contained\":%llu,\"answered\":%llu,"
          "\"abandoned\":%llu,\"expired\":%llu,\"open\":%llu,"
          "\"queued\":%llu,\"queue_answered\":%llu,\"queue_abandoned\":%llu,"
          "\"answered_in_sl\":%llu,\"over_max_wait\":%llu,\"closed\":%llu",
          (unsigned long long)k->arrivals, (unsigned long long)k->contained,
          (unsigned long long)k->answered, (unsigned long long)k->abandoned,
          (unsigned long long)k->expired, (unsigned long long)k->open,
          (unsigned long long)k->queued, (unsigned long long)k->q_answered,
          (unsigned long long)k->q_abandoned, (unsigned long long)k->in_sl,
          (unsigned long long)k->over_max_wait,
          (unsigned long long)k->closed);
  const struct {
    const char *n;
    double v;
  } x[] = {{"service_level", day_sl(k)},
           {"asa_s", day_asa(k)},
           {"abandon_rate", day_abandon(k)},
           {"aht_s", day_aht(k)},
           {"containment", day_containment(k)}};
  for (size_t i = 0; i < sizeof x / sizeof *x; i++) {
    fprintf(f, ",\"%s\":", x[i].n);
    crs_json_num(f, x[i].v);
  }
  fputc('}', f);
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++)
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  fputc('"', f);
}

static void print_json(const day *d) {
  const day_result *r = &d->res;
  FILE *f = stdout;
  char a[8];
  fprintf(f, "{\"scenario\":");
  json_str(f, d->scn.name);
  char b[8];
  hm(a, sizeof a, d->scn.open_min);
  hm(b, sizeof b, (int)((d->arrivals_end - DAY_ORIGIN) / MIN_MS));
  /* hours simulated (the window from..to), not the --hours asked for: a
   * run past the closing hour stops at closing */
  int span_min =
      (int)((d->arrivals_end - DAY_ORIGIN) / MIN_MS) - d->scn.open_min;
  fprintf(f, ",\"seed\":%llu,\"from\":\"%s\",\"to\":\"%s\",\"hours\":%g,"
             "\"interval_min\":%d,\"agents\":%zu,\"total\":",
          (unsigned long long)d->scn.seed, a, b, span_min / 60.0,
          d->scn.interval_min, d->nagents);
  json_kpi(f, &r->total);
  fprintf(f, ",\"occupancy\":");
  crs_json_num(f, r->occ_samples ? r->occ_sum / r->occ_samples : NAN);
  fprintf(f, ",\"channels\":{");
  int first = 1;
  for (int c = 0; c < DAY_NCH; c++)
    if (d->scn.has_ch[c]) {
      fprintf(f, "%s\"%s\":", first ? "" : ",", cr_channel_name(c));
      json_kpi(f, &r->ch[c]);
      first = 0;
    }
  fprintf(f, "},\"sla\":{");
  first = 1;
  for (int c = 0; c < DAY_NCH; c++)
    if (d->scn.has_ch[c]) {
      fprintf(f, "%s\"%s\":{\"threshold_s\":%g,\"target\":%g}",
              first ? "" : ",", cr_channel_name(c), d->scn.sl_threshold_s[c],
              d->scn.sl_target[c]);
      first = 0;
    }
  fprintf(f, "},\"queues\":{");
  for (size_t q = 0; q < r->nq; q++) {
    fprintf(f, "%s", q ? "," : "");
    json_str(f, r->qname[q]);
    fputc(':', f);
    json_kpi(f, &r->q[q]);
  }
  fprintf(f, "},\"intervals\":[");
  for (size_t i = 0; i < r->niv; i++) {
    const day_interval *iv = &r->iv[i];
    hm(a, sizeof a, iv->start_min);
    fprintf(f, "%s{\"start\":\"%s\",\"kpi\":", i ? "," : "", a);
    json_kpi(f, &iv->k);
    fprintf(f, ",\"arrivals_by_channel\":{");
    first = 1;
    for (int c = 0; c < DAY_NCH; c++)
      if (d->scn.has_ch[c]) {
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",", cr_channel_name(c),
                (unsigned long long)iv->arrivals_ch[c]);
        first = 0;
      }
    fprintf(f, "},\"queue_len_avg\":");
    crs_json_num(f, iv->samples ? iv->qlen_sum / iv->samples : NAN);
    fprintf(f, ",\"queue_len_max\":%u,\"occupancy\":", iv->qlen_max);
    crs_json_num(f, iv->occ_samples ? iv->occ_sum / iv->occ_samples : NAN);
    fprintf(f, ",\"agents\":");
    crs_json_num(f, iv->samples ? iv->staffed_sum / iv->samples : NAN);
    fputc('}', f);
  }
  fprintf(f, "],\"model\":{\"first_messages\":%llu,\"first_correct\":%llu,"
             "\"oos_messages\":%llu,\"oos_unclear\":%llu},",
          (unsigned long long)r->first_msgs,
          (unsigned long long)r->first_correct,
          (unsigned long long)r->oos_msgs,
          (unsigned long long)r->oos_unclear);
  fprintf(f, "\"engine_metrics\":{\"contacts\":%llu,\"answered\":%llu,"
             "\"abandoned\":%llu,\"bot_handled\":%llu,\"bot_contained\":%llu,"
             "\"containment\":",
          (unsigned long long)r->engine.contacts,
          (unsigned long long)r->engine.answered,
          (unsigned long long)r->engine.abandoned,
          (unsigned long long)r->engine.bot_handled,
          (unsigned long long)r->engine.bot_contained);
  crs_json_num(f, r->engine.containment);
  fprintf(f, ",\"asa_s\":");
  crs_json_num(f, r->engine.asa_s);
  fprintf(f, ",\"aht_s\":");
  crs_json_num(f, r->engine.aht_s);
  fprintf(f, "},\"svg\":");
  if (d->svg_path)
    json_str(f, d->svg_path);
  else
    fputs("null", f);
  fprintf(f, ",\"wall_s\":%.3f,\"engine_calls\":%llu}\n", r->wall_s,
          (unsigned long long)r->engine_calls);
}

/* ---------- setup ---------- */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 14, n = 0, k;
  char *b = malloc(cap);
  while (b && (k = fread(b + n, 1, cap - n, f)) > 0)
    if ((n += k) == cap) {
      char *nb = cap < (1u << 24) ? realloc(b, cap *= 2) : NULL;
      if (!nb)
        free(b);
      b = nb;
    }
  fclose(f);
  *len = n;
  return b;
}

static int parse_args(day *d, int argc, char **argv) {
  const char *scn = "default";
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--json"))
      d->json = 1;
    else if (!strcmp(o, "--print-scenario"))
      d->print_scn = 1;
    else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      crs_usage(stdout);
      exit(0);
    } else if (!v) {
      fprintf(stderr, "cr-sim: %s needs a value (or is unknown)\n", o);
      return -1;
    } else if (!strcmp(o, "--scenario"))
      scn = v, i++;
    else if (!strcmp(o, "--data"))
      d->data_dir = v, i++;
    else if (!strcmp(o, "--model"))
      d->model_path = v, i++;
    else if (!strcmp(o, "--save-model"))
      d->save_model = v, i++;
    else if (!strcmp(o, "--svg"))
      d->svg_path = v, i++;
    else if (!strcmp(o, "--start")) {
      long h = strlen(v) == 5 && !strcmp(v + 2, ":00")
                   ? ecf_long(v, 2)
                   : -1;
      if (h < 0 || h > 23) {
        fprintf(stderr, "cr-sim: --start HH:00\n");
        return -1;
      }
      d->start_min = (int)h * 60, d->has_start = 1, i++;
    } else if (!strcmp(o, "--hours")) {
      long h = ecf_long(v, strlen(v));
      if (h < 1 || h > 24) {
        fprintf(stderr, "cr-sim: --hours 1..24\n");
        return -1;
      }
      d->hours = (int)h, i++;
    } else if (!strcmp(o, "--seed")) {
      long s = ecf_long(v, strlen(v));
      if (s < 0) {
        fprintf(stderr, "cr-sim: --seed N (a non-negative integer)\n");
        return -1;
      }
      d->seed_override = s, d->has_seed = 1, i++;
    } else {
      fprintf(stderr, "cr-sim: unknown option %s\n", o);
      return -1;
    }
  }
  char err[512];
  size_t len;
  char *text = NULL;
  const char *src = day_scn_default_text();
  len = strlen(src);
  if (strcmp(scn, "default")) {
    text = slurp(scn, &len);
    if (!text) {
      fprintf(stderr, "cr-sim: %s: %s\n", scn, strerror(errno));
      return -1;
    }
    src = text;
  }
  if (d->print_scn) {
    fwrite(src, 1, len, stdout);
    free(text);
    exit(0);
  }
  int rc = day_scn_parse(src, len, &d->scn, err, sizeof err);
  free(text);
  if (rc) {
    fprintf(stderr, "cr-sim: %s: %s\n", scn, err);
    return -1;
  }
  if (d->has_seed)
    d->scn.seed = (uint64_t)d->seed_override;
  if (d->has_start) {
    if (d->start_min < d->scn.open_min || d->start_min >= d->scn.close_min) {
      fprintf(stderr, "cr-sim: --start must fall within the scenario's "
                      "hours\n");
      return -1;
    }
    /* agents whose shift began earlier are logged in at the start: the
     * run begins with an empty centre at that hour */
    d->scn.open_min = d->start_min;
  }
  return 0;
}

static int setup(day *d) {
  char err[512], path[4096];
  /* a bare name is in the data directory; a path is taken as given */
  if (strchr(d->scn.config, '/'))
    snprintf(path, sizeof path, "%s", d->scn.config);
  else
    snprintf(path, sizeof path, "%s/%s", d->data_dir, d->scn.config);
  if (ecf_load(path, &d->cfg, err, sizeof err)) {
    if (d->scn.config_line)
      fprintf(stderr, "cr-sim: line %d: config: %s\n", d->scn.config_line,
              err);
    else
      fprintf(stderr, "cr-sim: %s\n", err);
    return -1;
  }
  if (load_pools(d, err, sizeof err) ||
      dm_model_get(d->data_dir, d->model_path, d->save_model, &d->model, err,
                   sizeof err)) {
    fprintf(stderr, "cr-sim: %s\n", err);
    return -1;
  }
  for (size_t i = 0; i < d->scn.nmix; i++) {
    const char *l = d->scn.mix[i].label;
    int found = 0;
    for (size_t k = 0; k < cr_intent_model_label_count(d->model); k++)
      found |= !strcmp(cr_intent_model_label(d->model, k), l);
    if (!found) {
      fprintf(stderr, "cr-sim: line %d: mix: '%s' is not an intent of the "
              "model\n", d->scn.mix[i].line, l);
      return -1;
    }
  }
  d->now = DAY_ORIGIN;
  int close = d->hours ? d->scn.open_min + 60 * d->hours : d->scn.close_min;
  if (close > d->scn.close_min)
    close = d->scn.close_min;
  d->arrivals_end = DAY_ORIGIN + close * MIN_MS;
  d->end = d->arrivals_end + DRAIN_MS;
  if (ecf_engine_new(&d->cfg, d->model, NULL, DAY_ORIGIN, &d->eng, err,
                     sizeof err)) {
    fprintf(stderr, "cr-sim: %s: %s\n", path, err);
    return -1;
  }
  cr_engine_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.offer = cb_offer;
  cb.action = cb_action;
  cb.event = cb_event;
  cb.router_event = cb_router;
  cb.user_data = d;
  int crc = cr_engine_set_callbacks(d->eng, &cb);
  if (crc) {
    fprintf(stderr, "cr-sim: engine callbacks: %s\n", cr_strerror(crc));
    return -1;
  }
  for (int c = 0; c < DAY_NCH; c++)
    crs_rng_seed(&d->rng_arr[c], d->scn.seed, 1 + (uint64_t)c);
  crs_rng_seed(&d->rng_cust, d->scn.seed, 100);
  crs_rng_seed(&d->rng_agent, d->scn.seed, 200);
  /* reporting intervals over the arrival window */
  d->res.niv = (size_t)((close - d->scn.open_min) / d->scn.interval_min);
  if (d->res.niv > DAY_MAX_INTERVALS)
    d->res.niv = DAY_MAX_INTERVALS;
  for (size_t i = 0; i < d->res.niv; i++)
    d->res.iv[i].start_min = d->scn.open_min + (int)i * d->scn.interval_min;
  /* the queues of the configuration, in its order, so every one reports */
  for (size_t i = 0; i < d->cfg.n; i++)
    if (d->cfg.e[i].kind == ECF_QUEUE)
      queue_ix(d, d->cfg.e[i].name, strlen(d->cfg.e[i].name));
  if (add_agents(d, err, sizeof err)) {
    fprintf(stderr, "cr-sim: %s\n", err);
    return -1;
  }
  return 0;
}

/* Per-set SL targets, for the chart and the JSON readers. */
static void targets(day *d) {
  int first = -1;
  for (int c = 0; c < DAY_NCH; c++)
    if (d->scn.has_ch[c]) {
      d->res.ch[c].sl_threshold_s = d->scn.sl_threshold_s[c];
      d->res.ch[c].sl_target = d->scn.sl_target[c];
      if (first < 0)
        first = c;
    }
  d->res.sl_threshold_s = d->scn.sl_threshold_s[first];
  d->res.sl_target = d->scn.sl_target[first];
}

static void cleanup(day *d) {
  for (size_t i = 0; i < d->npools; i++) {
    for (size_t k = 0; k < d->pools[i].n; k++)
      free(d->pools[i].text[k]);
    free(d->pools[i].text);
  }
  free(d->pools);
  free(d->heap);
  free(d->conv);
  free(d->agents);
  cr_engine_del(d->eng);
  cr_intent_model_del(d->model);
  ecf_free(&d->cfg);
}

int cr_sim_day_main(int argc, char **argv) {
  static day d;
  memset(&d, 0, sizeof d);
  d.data_dir = dm_data_dir();
  if (parse_args(&d, argc, argv)) {
    crs_usage(stderr);
    return 2;
  }
  if (setup(&d)) {
    cleanup(&d);
    return 2;
  }
  d.res.scn = &d.scn;
  d.res.hours_limit = d.hours;
  targets(&d);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = run(&d);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  d.res.wall_s = (double)(t1.tv_sec - t0.tv_sec) +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (rc) {
    fprintf(stderr, "cr-sim: the run stopped: %s\n", cr_strerror(rc));
    cleanup(&d);
    return 1;
  }
  finish(&d);
  if (d.svg_path && day_svg_write(&d.res, d.svg_path)) {
    fprintf(stderr, "cr-sim: cannot write %s: %s\n", d.svg_path,
            strerror(errno));
    cleanup(&d);
    return 1;
  }
  if (d.json)
    print_json(&d);
  else
    print_human(&d);
  cleanup(&d);
  return 0;
}
