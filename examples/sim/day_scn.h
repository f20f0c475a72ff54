/* cr-sim's scenario mode: a day of a hybrid (bot + agents) messaging
 * centre driven through the convroute ENGINE (docs/sim_day.md).
 *
 * This header holds the scenario (parsed from the small text format of
 * docs/sim_day.md, or the embedded default) and the results that the
 * report, the JSON and the SVG chart (sim_svg.c) are made from.
 *
 * SPDX-License-Identifier: MIT */
#ifndef CRS_DAY_SCN_H
#define CRS_DAY_SCN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "convroute.h"
#include "sim_core.h"

#define DAY_MAX_MIX 40
#define DAY_MAX_AGENTS 32
#define DAY_MAX_INTERVALS 96
#define DAY_MAX_QUEUES 16
#define DAY_NCH CR_CHANNEL_COUNT

/* One group of identical agents. */
typedef struct day_agents {
  char name[32];
  int count;
  char skills[256];                /* "billing:4,he:5" */
  uint32_t cap[DAY_NCH];           /* max per channel */
  uint32_t total;                  /* 0 = no total capacity */
  uint32_t cost[DAY_NCH];
  int shift_from, shift_to;        /* local minutes since midnight */
  double wrapup_s;
  int line;                        /* of the scenario, for messages */
} day_agents;

typedef struct day_scn {
  char name[128];
  uint64_t seed;
  int open_min, close_min;         /* arrivals window, local minutes */
  int interval_min;                /* reporting interval */
  int has_ch[DAY_NCH];
  double rate[DAY_NCH][24];        /* contacts per hour, by local hour */
  /* while parsing: the arrivals lines' rates from the opening hour, how
   * many and on which line (placed on the clock once `hours` is known) */
  int nrate[DAY_NCH], rate_line[DAY_NCH];
  double sl_threshold_s[DAY_NCH];  /* answered within this... */
  double sl_target[DAY_NCH];       /* ...for this share */
  double he_share[DAY_NCH];        /* Hebrew speakers; the rest English */
  double vip_share;
  struct {
    char label[48];
    double w;
    int line;
  } mix[DAY_MAX_MIX];
  size_t nmix;
  crs_dist patience[DAY_NCH];      /* waiting for a human */
  crs_dist handle[DAY_NCH];        /* accept to close */
  double think_s;                  /* customer's reply to a bot question */
  double goodbye_share;            /* say goodbye after being helped */
  double action_success;           /* self-service actions that work */
  double action_s;                 /* their duration (mean, exponential) */
  double answer_s;                 /* offer to accept (mean, exponential) */
  day_agents agents[DAY_MAX_AGENTS];
  size_t nagents;
  char config[256];                /* bot config, relative to the data dir */
  int config_line;                 /* 0: the default */
} day_scn;

/* The embedded default scenario, as text in the file format. */
const char *day_scn_default_text(void);
/* Parses scenario text. -1 with "line N: why" in err. */
int day_scn_parse(const char *text, size_t len, day_scn *out, char *err,
                  size_t cap);

/* ---------- results ---------- */

/* Counts over a set of contacts. Arrival figures count the contacts that
 * arrived in the set; queue figures the ones that entered the queue in it
 * (service level is attributed to the interval a contact started waiting,
 * as workforce tools do). */
typedef struct day_kpi {
  uint64_t arrivals;
  uint64_t contained;   /* resolved by the bot, no human */
  uint64_t answered;    /* reached an agent */
  uint64_t abandoned;   /* left while waiting for one */
  uint64_t expired;     /* ended by the engine unanswered (idle, ...) */
  uint64_t open;        /* still live, unanswered, at the end */
  uint64_t queued;      /* entered a queue */
  uint64_t q_answered, q_abandoned, in_sl, over_max_wait;
  double wait_sum_s;    /* answered: queue entry to accept */
  double handle_sum_s;  /* closed: accept to close */
  uint64_t closed;
  double sl_threshold_s, sl_target; /* of this set (channel) */
} day_kpi;

typedef struct day_interval {
  int start_min;        /* local minutes since midnight */
  day_kpi k;
  uint64_t arrivals_ch[DAY_NCH];
  double qlen_sum;      /* waiting for a human, sampled each minute */
  uint32_t qlen_max;
  double occ_sum;       /* slots in use / slots staffed, sampled while
                           anyone is logged in */
  uint32_t occ_samples;
  double staffed_sum;   /* agents logged in, sampled */
  uint32_t samples;
} day_interval;

typedef struct day_result {
  const day_scn *scn;
  int hours_limit;      /* --hours, 0 = the whole day */
  day_kpi total;
  day_kpi ch[DAY_NCH];
  char qname[DAY_MAX_QUEUES][32];
  double qmax_wait_s[DAY_MAX_QUEUES]; /* the queue's max_wait, 0 = none */
  day_kpi q[DAY_MAX_QUEUES];
  size_t nq;
  day_interval iv[DAY_MAX_INTERVALS];
  size_t niv;
  double sl_threshold_s, sl_target; /* the whole day's (first channel's) */
  double occ_sum;
  uint32_t occ_samples;
  /* the intent model on the customers' first messages */
  uint64_t first_msgs, first_correct, oos_msgs, oos_unclear;
  cr_metrics_report engine;  /* the engine's own accumulator, total */
  double wall_s;
  uint64_t engine_calls;
} day_result;

/* KPI helpers: NAN when there is no data. */
double day_sl(const day_kpi *k);
double day_asa(const day_kpi *k);
double day_abandon(const day_kpi *k);
double day_aht(const day_kpi *k);
double day_containment(const day_kpi *k);

/* The chart (sim_svg.c): 0, or -1 when the file cannot be written. */
int day_svg_write(const day_result *r, const char *path);

#endif
