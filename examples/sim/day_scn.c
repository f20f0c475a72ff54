/* The scenario text format of cr-sim's day mode, and the embedded default
 * (docs/sim_day.md).
 *
 * SPDX-License-Identifier: MIT */
#include "day_scn.h"

#include "../replay_script.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The default day. Arrival shape: the hourly arrivals 08:00-20:00 of the
 * Technion "Anonymous Bank" call centre on 1 Aug 1999 (Guedj & Mandelbaum;
 * ../shared/data/callcenter/anonymous_bank_1999_08_01.csv, PHANTOM rows
 * left out: 136 221 233 213 176 173 170 192 171 169 94 63 calls), scaled
 * by 1/2 for WhatsApp and 1/4 for web chat: about 1,500 conversations.
 * Handle times, patience and the mix are assumptions of the demo (no
 * public messaging-centre data is in shared/): asynchronous WhatsApp
 * customers are patient and conversations long; agents hold up to three
 * conversations (total 100, cost 33 each). The staffing is deliberately
 * one agent short at the 10:00 peak (the late shift starts at noon), so
 * the chart shows what a supervisor looks for: the service level dips
 * below target there, and occupancy is low in the afternoon overlap. */
static const char default_text[] =
    "# cr-sim default scenario: a Sunday at a Hebrew/English hybrid\n"
    "# messaging centre (fictional Israeli telecom of demo_bot.conf).\n"
    "name \"Hybrid messaging centre, Sunday (default)\"\n"
    "seed 20261122\n"
    "config demo_bot.conf\n"
    "hours 08:00-20:00\n"
    "interval 30\n"
    "# contacts per hour, one number per hour from the opening hour\n"
    "arrivals whatsapp 68 110 116 106 88 86 85 96 86 84 47 32\n"
    "arrivals chat     34 55 58 53 44 43 42 48 43 42 24 16\n"
    "lang whatsapp he=0.75 en=0.25\n"
    "lang chat he=0.55 en=0.45\n"
    "vip share=0.04\n"
    "sla whatsapp threshold=60 target=0.80\n"
    "sla chat threshold=30 target=0.80\n"
    "mix invoice_copy=10 password_reset=8 verification_code=5\n"
    "mix package_tracking=6 opening_hours=5 store_location=3 payment=5\n"
    "mix outage_report=5 roaming=4 greeting=3 thanks_goodbye=1\n"
    "mix billing_question=8 payment_failed=4 refund_request=3\n"
    "mix account_locked=3 technical_fault=7 delivery_delay=3\n"
    "mix address_change=2 update_details=2 cancel_service=3 complaint=3\n"
    "mix upgrade_plan=3 new_customer=2 data_privacy=1 fraud_report=1\n"
    "mix talk_to_human=6 emergency=0.3 oos=3\n"
    "patience whatsapp exp mean=900\n"
    "patience chat exp mean=300\n"
    "handle whatsapp lognormal mean=600 cv=0.8\n"
    "handle chat lognormal mean=420 cv=0.7\n"
    "think mean=20\n"
    "goodbye share=0.6\n"
    "action success=0.95 mean=3\n"
    "answer mean=5\n"
    "agents he_early count=4 "
    "skills=general:3,billing:4,tech:3,sales:3,vip:2,he:5,en:3 "
    "capacity=whatsapp:3,chat:3 total=100 cost=whatsapp:33,chat:33 "
    "shift=08:00-16:00 wrapup=30\n"
    "agents he_late count=3 "
    "skills=general:3,billing:3,tech:4,sales:3,vip:2,emergency:2,he:5,en:3 "
    "capacity=whatsapp:3,chat:3 total=100 cost=whatsapp:33,chat:33 "
    "shift=12:00-20:00 wrapup=30\n"
    "agents en_day count=2 skills=general:3,billing:3,tech:3,sales:4,en:5 "
    "capacity=whatsapp:3,chat:3 total=100 cost=whatsapp:33,chat:33 "
    "shift=09:00-18:00 wrapup=30\n"
    "agents vip_desk count=1 "
    "skills=vip:4,general:3,billing:4,emergency:3,he:5,en:4 "
    "capacity=whatsapp:2,chat:2 total=100 cost=whatsapp:50,chat:50 "
    "shift=08:00-20:00 wrapup=30\n";

const char *day_scn_default_text(void) { return default_text; }

#define FAIL(...)                                                            \
  do {                                                                       \
    snprintf(err, cap, __VA_ARGS__);                                         \
    return -1;                                                               \
  } while (0)

static int hhmm(const char *s, int *min) {
  if (strlen(s) < 5 || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
      s[2] != ':' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
    return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + s[4] - '0';
  if (h > 24 || (h == 24 && m))
    return -1;
  *min = h * 60 + m;
  return 0;
}

/* "08:00-16:00" */
static int span(const char *s, int *a, int *b) {
  if (strlen(s) != 11 || s[5] != '-' || hhmm(s, a) || hhmm(s + 6, b) ||
      *b <= *a)
    return -1;
  return 0;
}

static int num(const char *s, double *v) {
  char *end;
  if (!*s)
    return -1;
  *v = strtod(s, &end);
  return *end || !isfinite(*v) ? -1 : 0;
}

/* The value of key= among tokens from..n, or NULL. */
static const char *val(const crs_toks *t, size_t from, const char *key) {
  size_t k = strlen(key);
  for (size_t i = from; i < t->n; i++)
    if (t->tok[i].eq == (int)k && !strncmp(t->tok[i].s, key, k))
      return t->tok[i].s + k + 1;
  return NULL;
}

static int known_keys(const crs_toks *t, size_t from,
                      const char *const *keys) {
  for (size_t i = from; i < t->n; i++) {
    int ok = 0;
    for (size_t k = 0; keys[k]; k++)
      ok |= t->tok[i].eq == (int)strlen(keys[k]) &&
            !strncmp(t->tok[i].s, keys[k], strlen(keys[k]));
    if (!ok)
      return (int)i;
  }
  return -1;
}

static int channel_of(const crs_toks *t, int lineno, char *err, size_t cap) {
  if (t->n < 2 || t->tok[1].eq >= 0)
    FAIL("line %d: %s needs a channel (whatsapp, chat, sms, voice, ...)",
         lineno, t->tok[0].s);
  int ch = cr_channel_parse(t->tok[1].s, strlen(t->tok[1].s));
  if (ch < 0)
    FAIL("line %d: unknown channel '%s'", lineno, t->tok[1].s);
  return ch;
}

/* patience|handle CHANNEL exp mean=S | lognormal mean=S cv=X | fixed
 * mean=S | none */
static int dist(const crs_toks *t, crs_dist *d, int lineno, char *err,
                size_t cap) {
  static const char *const keys[] = {"mean", "cv", NULL};
  const char *k = t->n > 2 ? t->tok[2].s : "";
  memset(d, 0, sizeof *d);
  if (!strcmp(k, "none"))
    d->kind = CRS_DIST_NONE;
  else if (!strcmp(k, "exp"))
    d->kind = CRS_DIST_EXP;
  else if (!strcmp(k, "lognormal"))
    d->kind = CRS_DIST_LOGNORMAL;
  else if (!strcmp(k, "fixed"))
    d->kind = CRS_DIST_FIXED;
  else
    FAIL("line %d: expected exp mean=S | lognormal mean=S cv=X | fixed "
         "mean=S | none", lineno);
  const char *m = val(t, 3, "mean"), *c = val(t, 3, "cv");
  if (known_keys(t, 3, keys) >= 0 || (d->kind != CRS_DIST_NONE && !m) ||
      (m && num(m, &d->mean_s)) || (c && num(c, &d->cv)) ||
      (d->kind == CRS_DIST_LOGNORMAL && !c) || crs_dist_check(d) ||
      d->mean_s > 86400 * 7)
    FAIL("line %d: a %s distribution needs mean=SECONDS (> 0, up to a "
         "week)%s", lineno, k, d->kind == CRS_DIST_LOGNORMAL ? " and cv=X > 0"
                                                             : "");
  return 0;
}

static int share(const char *s, double *v) {
  return !s || num(s, v) || *v < 0 || *v > 1 ? -1 : 0;
}

static int parse_agents(const crs_toks *t, day_scn *s, int lineno,
                        char *err, size_t cap) {
  static const char *const keys[] = {"count", "skills", "capacity", "total",
                                     "cost",  "shift",  "wrapup",   NULL};
  if (t->n < 2 || t->tok[1].eq >= 0)
    FAIL("line %d: agents NAME count=N skills=... capacity=... shift=...",
         lineno);
  if (s->nagents == DAY_MAX_AGENTS)
    FAIL("line %d: more than %d agent groups", lineno, DAY_MAX_AGENTS);
  day_agents *a = &s->agents[s->nagents];
  memset(a, 0, sizeof *a);
  snprintf(a->name, sizeof a->name, "%s", t->tok[1].s);
  a->line = lineno;
  for (size_t g = 0; g < s->nagents; g++)
    if (!strcmp(s->agents[g].name, a->name))
      FAIL("line %d: agents %s: a group of that name is on line %d", lineno,
           a->name, s->agents[g].line);
  int bad = known_keys(t, 2, keys);
  if (bad >= 0)
    FAIL("line %d: unknown agents key '%s'", lineno, t->tok[bad].s);
  double v;
  const char *c = val(t, 2, "count"), *sk = val(t, 2, "skills");
  const char *cp = val(t, 2, "capacity"), *sh = val(t, 2, "shift");
  if (!c || num(c, &v) || v < 1 || v > 500 || v != floor(v))
    FAIL("line %d: count=N (1..500)", lineno);
  a->count = (int)v;
  if (!sk || strlen(sk) >= sizeof a->skills)
    FAIL("line %d: skills=name:level,...", lineno);
  snprintf(a->skills, sizeof a->skills, "%s", sk);
  if (!sh || span(sh, &a->shift_from, &a->shift_to))
    FAIL("line %d: shift=HH:MM-HH:MM", lineno);
  const char *w = val(t, 2, "wrapup");
  if (w && (num(w, &a->wrapup_s) || a->wrapup_s < 0 || a->wrapup_s > 3600))
    FAIL("line %d: wrapup=SECONDS (0..3600)", lineno);
  const char *tot = val(t, 2, "total");
  if (tot && (num(tot, &v) || v < 1 || v > 1e6))
    FAIL("line %d: total=N", lineno);
  a->total = tot ? (uint32_t)v : 0;
  for (int pass = 0; pass < 2; pass++) {
    const char *list = pass ? val(t, 2, "cost") : cp;
    if (!list) {
      if (!pass)
        FAIL("line %d: capacity=channel:N,...", lineno);
      continue;
    }
    for (const char *p = list; *p;) {
      const char *q = strchr(p, ',');
      size_t n = q ? (size_t)(q - p) : strlen(p);
      const char *colon = memchr(p, ':', n);
      int ch = colon ? cr_channel_parse(p, (size_t)(colon - p)) : -1;
      char nb[16];
      size_t nl = colon ? n - (size_t)(colon - p) - 1 : 0;
      if (ch < 0 || !nl || nl >= sizeof nb)
        FAIL("line %d: %s=channel:N,...", lineno, pass ? "cost" : "capacity");
      memcpy(nb, colon + 1, nl);
      nb[nl] = '\0';
      if (num(nb, &v) || v < 0 || v > 1e6 || v != floor(v))
        FAIL("line %d: %s=channel:N,...", lineno, pass ? "cost" : "capacity");
      if (pass)
        a->cost[ch] = (uint32_t)v;
      else
        a->cap[ch] = (uint32_t)v;
      p = q ? q + 1 : p + n;
    }
  }
  s->nagents++;
  return 0;
}

static void defaults(day_scn *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "scenario");
  snprintf(s->config, sizeof s->config, "demo_bot.conf");
  s->seed = 1;
  s->open_min = 8 * 60, s->close_min = 20 * 60;
  s->interval_min = 30;
  for (int c = 0; c < DAY_NCH; c++) {
    s->sl_threshold_s[c] = 60, s->sl_target[c] = 0.8;
    s->he_share[c] = 0.5;
    s->patience[c].kind = CRS_DIST_EXP, s->patience[c].mean_s = 300;
    s->handle[c].kind = CRS_DIST_EXP, s->handle[c].mean_s = 300;
  }
  s->think_s = 20, s->goodbye_share = 0.5;
  s->action_success = 0.95, s->action_s = 3, s->answer_s = 5;
}

static int parse_line(const crs_toks *t, day_scn *s, int lineno, char *err,
                      size_t cap) {
  const char *k = t->tok[0].s;
  double v;
  if (t->tok[0].eq >= 0 || t->tok[0].quoted)
    FAIL("line %d: a line starts with its kind (name, hours, arrivals, ...)",
         lineno);
  if (!strcmp(k, "name")) {
    if (t->n != 2)
      FAIL("line %d: name \"text\"", lineno);
    snprintf(s->name, sizeof s->name, "%s", t->tok[1].s);
  } else if (!strcmp(k, "config")) {
    if (t->n != 2 || strlen(t->tok[1].s) >= sizeof s->config)
      FAIL("line %d: config FILE (relative to the data directory)", lineno);
    snprintf(s->config, sizeof s->config, "%s", t->tok[1].s);
    s->config_line = lineno;
  } else if (!strcmp(k, "seed")) {
    if (t->n != 2 || num(t->tok[1].s, &v) || v < 0 || v > 9e15)
      FAIL("line %d: seed N", lineno);
    s->seed = (uint64_t)v;
  } else if (!strcmp(k, "hours")) {
    if (t->n != 2 || span(t->tok[1].s, &s->open_min, &s->close_min) ||
        s->open_min % 60 || s->close_min % 60)
      FAIL("line %d: hours HH:00-HH:00 (whole hours)", lineno);
  } else if (!strcmp(k, "interval")) {
    if (t->n != 2 || num(t->tok[1].s, &v) ||
        (v != 15 && v != 30 && v != 60))
      FAIL("line %d: interval 15|30|60 (minutes)", lineno);
    s->interval_min = (int)v;
  } else if (!strcmp(k, "arrivals")) {
    int ch = channel_of(t, lineno, err, cap);
    if (ch < 0)
      return -1;
    if (t->n - 2 > 24)
      FAIL("line %d: at most 24 hourly rates", lineno);
    /* Kept relative to the opening hour until the whole file is read: a
     * `hours` line after this one moves the window (day_scn_parse). */
    memset(s->rate[ch], 0, sizeof s->rate[ch]);
    for (size_t i = 2; i < t->n; i++) {
      if (num(t->tok[i].s, &v) || v < 0 || v > 1e6)
        FAIL("line %d: rates are contacts per hour (0..1e6), got '%s'",
             lineno, t->tok[i].s);
      s->rate[ch][i - 2] = v;
    }
    s->nrate[ch] = (int)(t->n - 2);
    s->rate_line[ch] = lineno;
    s->has_ch[ch] = 1;
  } else if (!strcmp(k, "lang")) {
    int ch = channel_of(t, lineno, err, cap);
    double he, en;
    if (ch < 0)
      return -1;
    if (t->n != 4 || share(val(t, 2, "he"), &he) ||
        share(val(t, 2, "en"), &en) || fabs(he + en - 1) > 1e-6)
      FAIL("line %d: lang CHANNEL he=X en=Y (shares adding up to 1)",
           lineno);
    s->he_share[ch] = he;
  } else if (!strcmp(k, "vip")) {
    if (t->n != 2 || share(val(t, 1, "share"), &s->vip_share))
      FAIL("line %d: vip share=X (0..1)", lineno);
  } else if (!strcmp(k, "sla")) {
    int ch = channel_of(t, lineno, err, cap);
    double th, tg;
    const char *a = val(t, 2, "threshold"), *b = val(t, 2, "target");
    if (ch < 0)
      return -1;
    if (t->n != 4 || !a || num(a, &th) || th <= 0 || th > 86400 ||
        share(b, &tg))
      FAIL("line %d: sla CHANNEL threshold=SECONDS target=SHARE", lineno);
    s->sl_threshold_s[ch] = th, s->sl_target[ch] = tg;
  } else if (!strcmp(k, "mix")) {
    for (size_t i = 1; i < t->n; i++) {
      const crs_tok *x = &t->tok[i];
      if (x->eq <= 0 || (size_t)x->eq >= sizeof s->mix[0].label ||
          num(x->s + x->eq + 1, &v) || v < 0 || v > 1e6)
        FAIL("line %d: mix LABEL=WEIGHT ...", lineno);
      if (s->nmix == DAY_MAX_MIX)
        FAIL("line %d: more than %d intents in the mix", lineno, DAY_MAX_MIX);
      memcpy(s->mix[s->nmix].label, x->s, (size_t)x->eq);
      s->mix[s->nmix].label[x->eq] = '\0';
      s->mix[s->nmix].line = lineno;
      s->mix[s->nmix++].w = v;
    }
    if (t->n < 2)
      FAIL("line %d: mix LABEL=WEIGHT ...", lineno);
  } else if (!strcmp(k, "patience") || !strcmp(k, "handle")) {
    int ch = channel_of(t, lineno, err, cap);
    if (ch < 0)
      return -1;
    crs_dist *d = k[0] == 'p' ? &s->patience[ch] : &s->handle[ch];
    if (dist(t, d, lineno, err, cap))
      return -1;
    if (k[0] == 'h' && d->kind == CRS_DIST_NONE)
      FAIL("line %d: a handle time cannot be none", lineno);
  } else if (!strcmp(k, "think") || !strcmp(k, "answer")) {
    const char *m = val(t, 1, "mean");
    if (t->n != 2 || !m || num(m, &v) || v <= 0 || v > 86400)
      FAIL("line %d: %s mean=SECONDS", lineno, k);
    *(k[0] == 't' ? &s->think_s : &s->answer_s) = v;
  } else if (!strcmp(k, "goodbye")) {
    if (t->n != 2 || share(val(t, 1, "share"), &s->goodbye_share))
      FAIL("line %d: goodbye share=X (0..1)", lineno);
  } else if (!strcmp(k, "action")) {
    const char *m = val(t, 1, "mean");
    if (t->n != 3 || share(val(t, 1, "success"), &s->action_success) || !m ||
        num(m, &s->action_s) || s->action_s <= 0 || s->action_s > 86400)
      FAIL("line %d: action success=X mean=SECONDS", lineno);
  } else if (!strcmp(k, "agents")) {
    return parse_agents(t, s, lineno, err, cap);
  } else {
    FAIL("line %d: unknown line kind '%s' (name seed config hours interval "
         "arrivals lang vip sla mix patience handle think goodbye action "
         "answer agents)", lineno, k);
  }
  return 0;
}

int day_scn_parse(const char *text, size_t len, day_scn *out, char *err,
                  size_t cap) {
  defaults(out);
  int lineno = 0;
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && text[e] != '\n')
      e++;
    size_t l = e - i;
    if (l && text[i + l - 1] == '\r')
      l--;
    lineno++;
    crs_toks t;
    char why[160];
    if (memchr(text + i, '\0', l))
      FAIL("line %d: NUL byte", lineno); /* t not made: nothing to free */
    if (crs_lex(text + i, l, &t, why, sizeof why)) {
      crs_toks_free(&t);
      FAIL("line %d: %s", lineno, why);
    }
    int rc = t.n ? parse_line(&t, out, lineno, err, cap) : 0;
    crs_toks_free(&t);
    if (rc)
      return -1;
    i = e + 1;
  }
  int any = 0, open_h = (out->close_min - out->open_min) / 60;
  for (int c = 0; c < DAY_NCH; c++) {
    any |= out->has_ch[c];
    if (!out->has_ch[c])
      continue;
    /* one rate per opening hour: more would fall outside the window and
     * be dropped without a word */
    if (out->nrate[c] > open_h)
      FAIL("line %d: %d hourly rates for %d opening hours (hours %02d:00-"
           "%02d:00)", out->rate_line[c], out->nrate[c], open_h,
           out->open_min / 60, out->close_min / 60);
    double rel[24];
    memcpy(rel, out->rate[c], sizeof rel);
    memset(out->rate[c], 0, sizeof out->rate[c]);
    for (int i = 0; i < out->nrate[c]; i++)
      out->rate[c][(out->open_min / 60 + i) % 24] = rel[i];
  }
  if (!any)
    FAIL("no arrivals line: nothing would happen");
  if (!out->nmix)
    FAIL("no mix line: the customers need intents");
  if (!out->nagents)
    FAIL("no agents line: nobody would answer");
  double w = 0;
  for (size_t i = 0; i < out->nmix; i++)
    w += out->mix[i].w;
  if (!(w > 0))
    FAIL("the mix weights add up to 0");
  return 0;
}

double day_sl(const day_kpi *k) {
  uint64_t d = k->q_answered + k->q_abandoned;
  return d ? (double)k->in_sl / (double)d : NAN;
}

double day_asa(const day_kpi *k) {
  return k->q_answered ? k->wait_sum_s / (double)k->q_answered : NAN;
}

double day_abandon(const day_kpi *k) {
  uint64_t d = k->q_answered + k->q_abandoned;
  return d ? (double)k->q_abandoned / (double)d : NAN;
}

double day_aht(const day_kpi *k) {
  return k->closed ? k->handle_sum_s / (double)k->closed : NAN;
}

double day_containment(const day_kpi *k) {
  uint64_t d = k->arrivals - k->open;
  return d ? (double)k->contained / (double)d : NAN;
}
