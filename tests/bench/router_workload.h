/* The router benchmark's synthetic contact centre and its discrete-event
 * simulation, independent of which dispatcher is routing.
 *
 * The workload is a pure function of (params, seed): agents with skills and
 * a capacity model, queues with skill requirements, and a Poisson stream of
 * conversations with a queue, channel, priority, handle time and patience.
 * The simulation owns the clock (milliseconds from 0); it feeds every event
 * to a dispatcher through bw_disp_ops and receives offers back through
 * bw_sim_offer(). The same event loop drives the real router and the naive
 * reference, so both see exactly the same customers and agent behaviour.
 *
 * How agents answer an offer (after how long, accept or reject) is a hash of
 * (seed, conversation, attempt), not a draw from a shared stream, so it does
 * not depend on the order in which the dispatcher made its offers. */
#ifndef BW_ROUTER_WORKLOAD_H
#define BW_ROUTER_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "convroute.h"

/* ---- deterministic randomness: splitmix64 seeds xorshift64* ---- */

static inline uint64_t bw_splitmix64(uint64_t *x) {
  /* Steele, Lea & Flood (2014), the SplitMix64 finaliser. */
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct bw_rng {
  uint64_t s;
} bw_rng;

static inline void bw_rng_seed(bw_rng *r, uint64_t seed) {
  uint64_t x = seed;
  r->s = bw_splitmix64(&x);
  if (!r->s)
    r->s = 1;
}

static inline uint64_t bw_rng_next(bw_rng *r) {
  /* Vigna (2016), xorshift64*: period 2^64-1, passes BigCrush in the high
   * bits, which are the ones bw_rng_unit uses. */
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in (0, 1): never 0, so -log(u) is finite. */
static inline double bw_rng_unit(bw_rng *r) {
  return ((double)(bw_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline uint32_t bw_rng_below(bw_rng *r, uint32_t n) {
  return (uint32_t)(((bw_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* A stateless hash of three words, for per-offer decisions. */
static inline uint64_t bw_hash3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a ^ (b * 0xD6E8FEB86659FD93ull) ^ (c * 0x9E3779B97F4A7C15ull);
  return bw_splitmix64(&x);
}

/* ---- the centre ---- */

#define BW_MAX_AGENT_SKILLS 8
#define BW_MAX_AGENT_QUEUES 12
#define BW_MAX_QUEUE_REQ 2

/* The three capacity styles a real centre mixes (see router_workload.c). */
enum bw_agent_kind {
  BW_AGENT_VOICE = 0,   /* voice only, one call */
  BW_AGENT_DIGITAL = 1, /* per-channel limits: 3 chats and 2 SMS at once */
  BW_AGENT_BLENDED = 2, /* cost model: capacity 100, voice 100, chat/WA 20 */
  BW_AGENT_KINDS = 3
};

typedef struct bw_skill {
  uint16_t skill; /* 0 .. skills-1, named "s%03u" */
  uint8_t level;  /* proficiency 1..5 */
} bw_skill;

typedef struct bw_agent {
  char id[12]; /* "a%06u" */
  uint8_t id_len;
  uint8_t kind;
  uint8_t nskills;
  uint8_t nqueues;
  bw_skill skills[BW_MAX_AGENT_SKILLS];
  /* Every queue whose requirements this agent meets, in queue order: the
   * agent's "routing profile". Membership and skills agree by construction,
   * so a dispatcher may use either. */
  uint16_t queues[BW_MAX_AGENT_QUEUES];
  /* Capacity: per-channel maximum (0 = does not handle the channel), and a
   * total with a cost per channel (total 0 = no total limit). */
  uint8_t max[CR_CHANNEL_COUNT];
  uint16_t total;
  uint16_t cost[CR_CHANNEL_COUNT];
} bw_agent;

typedef struct bw_queue {
  char id[8]; /* "q%02u" */
  uint8_t id_len;
  uint8_t nreq;
  bw_skill req[BW_MAX_QUEUE_REQ]; /* skill at minimum level */
} bw_queue;

typedef struct bw_conv {
  cr_time arrive;       /* ms */
  int32_t handle_ms;    /* talk/handle time once accepted */
  int32_t patience_ms;  /* abandons this long after arrival if not accepted */
  uint16_t queue;
  uint8_t channel;
  uint8_t priority;     /* 0 normal, 1 VIP */
} bw_conv;

typedef struct bw_params {
  uint32_t agents;
  uint32_t skills;     /* 200 */
  uint32_t queues;     /* 50 */
  uint32_t convs;      /* conversations generated after the warm-up */
  cr_time warm_ms;     /* warm-up: conversations arriving before this are
                          generated first (default 0: none) */
  double occupancy;    /* offered load / capacity, 0.95 */
  double p_reject;     /* probability an offer is rejected, 0.02 */
  double p_vip;        /* share of priority-1 conversations, 0.10 */
  uint64_t seed;
} bw_params;

void bw_params_default(bw_params *p, uint32_t agents, uint32_t convs);

typedef struct bw_workload {
  bw_params p;
  bw_agent *agents;
  bw_queue *queues;
  bw_conv *convs;            /* nconvs: the warm-up's, then p.convs */
  uint32_t nwarm;            /* conversations arriving before p.warm_ms */
  uint32_t nconvs;           /* nwarm + p.convs */
  char skill_names[1024][8]; /* "s%03u", skills <= 1000 */
  double offered_erlangs;    /* sum over (queue, channel) of lambda * AHT */
  double capacity_slots;     /* sum of the slots the load was sized on */
} bw_workload;

/* Builds the workload; 0 or -1 on allocation failure / bad params. */
int bw_workload_make(bw_workload *w, const bw_params *p);
void bw_workload_free(bw_workload *w);

/* Whether agent a can ever serve queue q (skills at the required levels). */
int bw_agent_qualifies(const bw_agent *a, const bw_queue *q);
/* The share of agent a's capacity one conversation on ch uses (1/slots for
 * per-channel agents, cost/total for cost-model agents), for occupancy. */
double bw_agent_weight(const bw_agent *a, int ch);
/* Channel mean handle times (ms) and names used by the generator. */
extern const int32_t bw_aht_ms[CR_CHANNEL_COUNT];

/* ---- the simulation ---- */

typedef struct bw_sim bw_sim;

/* What a dispatcher must do. Every function returns 0 or a negative code
 * (which stops the run). Offers come back through bw_sim_offer(). */
typedef struct bw_disp_ops {
  const char *name;
  /* Called once before the first event: offers go to bw_sim_offer(s,...). */
  void (*attach)(void *d, bw_sim *s);
  int (*arrive)(void *d, uint32_t conv, cr_time now);
  int (*accept)(void *d, uint32_t conv, uint32_t agent, cr_time now);
  int (*reject)(void *d, uint32_t conv, uint32_t agent, cr_time now);
  int (*end)(void *d, uint32_t conv, uint32_t agent, cr_time now);
  int (*abandon)(void *d, uint32_t conv, cr_time now);
  /* Earliest time the dispatcher wants tick() called, INT64_MAX for none. */
  cr_time (*next_expiry)(void *d);
  int (*tick)(void *d, cr_time now);
} bw_disp_ops;

/* Results of one run. A routing decision is one offer made: a waiting
 * conversation reserved on one agent. */
typedef struct bw_result {
  uint64_t decisions;   /* offers made */
  uint64_t decisions_timed; /* offers made inside the timed window */
  uint64_t accepted, rejected, ended, abandoned;
  uint64_t abandoned_while_offered;
  uint64_t arrived;
  uint64_t events;      /* events the loop handled (incl. ticks) */
  uint64_t ticks;
  double seconds;       /* thread CPU time of the timed window */
  double sim_seconds;   /* simulated time */
  cr_time last_ms;      /* time of the last event */
  double occupancy;     /* time-average busy share, after warm-up */
  double mean_wait_s;   /* arrival to accept, answered conversations */
  double sl20;          /* share answered within 20 s, of those offered */
  uint32_t max_waiting; /* most conversations waiting (not yet accepted) */
  double mean_waiting;  /* time-average waiting, after warm-up */
  int rc;               /* first error from the dispatcher, 0 if none */
  const char *error;    /* which call failed */
  uint32_t error_conv;
} bw_result;

/* A record of one run's decisions (offers, and when the dispatcher's
 * timers fired), by event number, so the run can be replayed without the
 * dispatcher: the replay costs exactly the simulation's own overhead,
 * which the benchmark then subtracts. */
typedef struct bw_trace_offer {
  uint64_t ev; /* 1-based number of the event during which it was made */
  uint32_t conv, agent;
} bw_trace_offer;

typedef struct bw_trace_tick {
  uint64_t ev;
  cr_time t;
} bw_trace_tick;

typedef struct bw_trace {
  bw_trace_offer *offers;
  size_t noffers, capoffers;
  bw_trace_tick *ticks;
  size_t nticks, capticks;
  int oom; /* recording ran out of memory: not replayable */
} bw_trace;

void bw_trace_free(bw_trace *t);

/* Runs the first nconv conversations of w (nconv <= w->nconvs) through
 * the dispatcher until every one has ended or abandoned. With record
 * non-NULL (and empty), every decision is appended to it.
 *
 * Timing. timed_from 0: the whole loop is timed (the centre starts empty
 * and drains at the end). Otherwise only a steady-state window is: from
 * the arrival of conversation timed_from to the arrival of the last one
 * (conversation nconv - 1), both included; what comes before is the
 * warm-up (simulated, not timed), what comes after is the drain. The
 * decisions made inside the window are decisions_timed; occupancy and
 * queue length are averaged over the same window. */
int bw_sim_run(const bw_workload *w, uint32_t nconv, uint32_t timed_from,
               const bw_disp_ops *ops, void *disp, bw_trace *record,
               bw_result *res);

/* A dispatcher that makes exactly the decisions in a trace, at the same
 * events, without deciding anything. */
typedef struct bw_replay {
  const bw_trace *t;
  bw_sim *sim;
  size_t opos, tpos;
} bw_replay;
extern const bw_disp_ops bw_replay_ops;

/* Called by the dispatcher when it reserves conversation conv on agent:
 * the agent answers (accepts or rejects) after a delay the workload fixes.
 * Returns 0, or -1 if the offer is inconsistent (conversation not waiting,
 * agent not qualified or over capacity): the run then stops. */
int bw_sim_offer(bw_sim *s, uint32_t conv, uint32_t agent, cr_time now);

#endif
