/* cr-sim's kernel: a discrete-event simulation of a contact centre whose
 * routing and measurement are done by the library (host code; the library
 * itself never owns a clock).
 *
 * The kernel owns the clock (cr_time milliseconds from 0), a 4-ary min-heap
 * of events ordered by (time, insertion number) so that ties run in the
 * order they were scheduled (deterministic; each source's next arrival
 * waits beside the heap, ordered with it the same way), the contacts in
 * flight, and a cr_router plus a cr_metrics accumulator made through the
 * public API, exactly as a real host would use them:
 *
 *   arrival    cr_router_enqueue(); a contact whose enqueue is refused
 *              (queue closed, full) ends at once as CRS_REFUSED
 *   offer      (router callback) the agent answers after `answer_delay`
 *              (config; CRS_DIST_NONE = accepts in the same millisecond,
 *              right after the router call that made the offer returns,
 *              since a callback may not call back into the router)
 *   accept     cr_router_accept(); the contact then ends after its handle
 *              time: cr_router_end() (the router holds the slot for its
 *              wrap-up time by itself)
 *   abandon    at arrival + patience, if not yet accepted (waiting or
 *              offered): cr_router_abandon()
 *   deadlines  whenever cr_router_next_expiry() is earlier than the next
 *              event, cr_router_tick() at that time (offer timeouts,
 *              wrap-up ends, routing steps, max wait, ...)
 *
 * Every finished contact goes to the cr_metrics accumulator (config
 * use_metrics) as an interaction record (queued_at = arrival: the contact
 * waits for a human from the moment it arrives; a max-wait exit is
 * recorded as abandoned; a refused one is not recorded) and to the `done`
 * hook with its times, so a mode can keep its own tallies. The done hook
 * may run inside a router callback (a max-wait exit): it must not call
 * the router.
 *
 * Where contacts come from:
 *   - sources (crs_sim_add_source): Poisson arrivals with a rate per hour
 *     that is constant or piecewise constant per interval (a day's
 *     profile), each contact's handle time and patience drawn from a
 *     crs_dist. Arrivals of a non-homogeneous source are drawn by
 *     restarting the exponential gap at each interval boundary, exact by
 *     memorylessness. Each source has its own random streams, so two runs
 *     with the same seed and sources see the same customers whatever the
 *     routing does (common random numbers);
 *   - explicit contacts (crs_sim_arrive_at), e.g. the rows of a call log.
 * The `arrival` hook sees every generated contact first and may change it
 * or take it away from the router (a bot that contained it).
 *
 * Host events (crs_sim_schedule) call the `user` hook at their time: shift
 * starts and ends (crs_sim_agent_status), interval boundaries for
 * reports, queue opening hours. Router calls made from a hook that may
 * produce offers must be followed by crs_sim_flush() (crs_sim_agent_status
 * does it itself).
 *
 * Cost per event: no malloc (heap, contacts and the offer list grow by
 * doubling and are reused), no printf, no clock read.
 *
 * Errors: functions return 0 or a negative CR_E... code; crs_sim_errmsg()
 * says which call failed. A run stops at the first error. */
#ifndef CRS_SIM_CORE_H
#define CRS_SIM_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "convroute.h"
#include "sim_rng.h"

/* A time that never comes (no abandonment, source without end). */
#define CRS_NEVER INT64_MAX

/* ---- distributions of durations ---- */
typedef enum crs_dist_kind {
  CRS_DIST_NONE = 0,     /* never / not at all: draws give CRS_NEVER */
  CRS_DIST_FIXED = 1,    /* always mean_s */
  CRS_DIST_EXP = 2,      /* exponential with mean mean_s */
  CRS_DIST_LOGNORMAL = 3 /* lognormal with mean mean_s and coefficient of
                            variation cv (sd / mean) */
} crs_dist_kind;

typedef struct crs_dist {
  int kind;      /* crs_dist_kind */
  double mean_s; /* seconds, > 0 for FIXED/EXP/LOGNORMAL (FIXED may be 0) */
  double cv;     /* LOGNORMAL only, > 0 */
} crs_dist;

/* One draw in whole milliseconds (rounded to nearest, >= 0), CRS_NEVER for
 * CRS_DIST_NONE. */
cr_time crs_dist_draw_ms(const crs_dist *d, crs_rng *r);
/* 0 when d is usable, CR_EINVAL otherwise. */
int crs_dist_check(const crs_dist *d);

/* ---- configuration ---- */
typedef struct crs_config {
  cr_router_config router;    /* crs_config_init: library defaults except
                                 reentry_grace_ms = 0 (an abandoned contact
                                 is gone) */
  cr_metrics_options metrics; /* library defaults */
  int use_metrics;            /* 1 (default): every finished contact is a
                                 cr_metrics record */
  int metric_keys;            /* 1 (default): records carry channel, queue
                                 and agent keys (0 = overall only, faster) */
  crs_dist answer_delay;      /* offer -> accept; default NONE (at once) */
  uint64_t seed;              /* default 1 */
} crs_config;

void crs_config_init(crs_config *cfg);

/* ---- contacts ---- */
typedef struct crs_contact {
  uint32_t queue;         /* index from crs_sim_add_queue */
  int channel;            /* cr_channel */
  int priority;           /* router priority, 0 = normal */
  cr_time handle_ms;      /* talk + hold once accepted, >= 0 */
  cr_time patience_ms;    /* abandons this long after arrival if not yet
                             accepted; CRS_NEVER = never */
  const cr_route_step *steps; /* NULL = the queue's defaults; borrowed: must
                             live until the contact arrives (the router
                             copies them at enqueue) */
  size_t nsteps;
  uint32_t source;        /* the source that made it, UINT32_MAX if none */
  uint64_t tag;           /* the host's, returned in the outcome */
} crs_contact;

typedef enum crs_result {
  CRS_ANSWERED = 0,  /* accepted by an agent, then ended */
  CRS_ABANDONED = 1, /* patience ran out while waiting or offered */
  CRS_TIMED_OUT = 2, /* the queue's max wait sent it out (EXITWITHTIMEOUT) */
  CRS_REFUSED = 3    /* the enqueue was refused (queue closed or full) */
} crs_result;

typedef struct crs_outcome {
  const crs_contact *c;
  int result;         /* crs_result */
  cr_time arrived;
  cr_time answered;   /* accept time; CR_TIME_NONE unless ANSWERED */
  cr_time ended;      /* end of service, abandon, time-out or refusal */
  cr_time wait_ms;    /* arrival to accept, or to leaving unanswered */
  int waited;         /* 1 if not accepted in its arrival millisecond */
  int32_t agent;      /* agent index, -1 unless ANSWERED */
} crs_outcome;

typedef struct crs_sim crs_sim;

typedef struct crs_hooks {
  /* A contact finished. o and o->c are valid only during the call. */
  void (*done)(crs_sim *s, const crs_outcome *o, void *ud);
  /* A host event from crs_sim_schedule came due; nonzero (negative CR_E
   * code) stops the run with that code. */
  int (*user)(crs_sim *s, cr_time now, uint32_t a, uint64_t b, void *ud);
  /* A source made contact *c at now: edit it freely; return 0 to route
   * it, 1 to drop it (the host dealt with it), < 0 to stop the run. */
  int (*arrival)(crs_sim *s, cr_time now, crs_contact *c, void *ud);
  /* Every router event (the queue log), after the kernel's own handling.
   * Costs a little time per event: leave NULL when not needed. */
  void (*router_event)(crs_sim *s, const cr_router_event *ev, void *ud);
  void *ud;
} crs_hooks;

/* Counts since crs_sim_new. */
typedef struct crs_stats {
  uint64_t arrived;   /* contacts given to the router (after the hook) */
  uint64_t dropped;   /* taken by the arrival hook */
  uint64_t answered, abandoned, timed_out, refused;
  uint64_t offers;    /* offers the router made */
  uint64_t events;    /* events handled (heap events and arrivals) */
  uint64_t ticks;     /* cr_router_tick calls */
  uint32_t in_flight; /* contacts arrived and not finished */
  uint32_t max_in_flight;
} crs_stats;

/* cfg NULL = crs_config_init defaults; hooks NULL = none. Makes the router
 * and (use_metrics) the metrics accumulator with libc's allocator. */
int crs_sim_new(crs_sim **out, const crs_config *cfg, const crs_hooks *hooks);
void crs_sim_del(crs_sim *s);
const char *crs_sim_errmsg(const crs_sim *s);

/* The library objects, for configuration and reports. Do not set the
 * router's callbacks (the kernel's are installed) and do not call its
 * conversation functions (enqueue, accept, abandon, end...) directly.
 * Add agents with crs_sim_add_agent, not cr_router_agent_add: an offer to
 * an agent the kernel does not know is never answered (it times out).
 * Queue settings (open/closed, update) may be changed on the router; call
 * crs_sim_flush() after a change that can make offers. */
cr_router *crs_sim_router(crs_sim *s);
cr_metrics *crs_sim_metrics(crs_sim *s); /* NULL without use_metrics */
/* The kernel's own stream (answer delays); hosts may draw from it too. */
crs_rng *crs_sim_rng(crs_sim *s);
cr_time crs_sim_now(const crs_sim *s);
const crs_stats *crs_sim_stats(const crs_sim *s);

/* ---- the centre ---- */
/* Adds a router queue named id (NUL-terminated); *index = its index
 * (0, 1, ... in order of adding). */
int crs_sim_add_queue(crs_sim *s, const char *id, const cr_queue_config *qc,
                      uint32_t *index);
uint32_t crs_sim_queue_count(const crs_sim *s);
const char *crs_sim_queue_name(const crs_sim *s, uint32_t queue);
/* Adds an agent (id NUL-terminated, unique) at the current time, made
 * AVAILABLE when `available`, else OFFLINE. *index = its index. */
int crs_sim_add_agent(crs_sim *s, const char *id, const cr_agent_config *ac,
                      int available, uint32_t *index);
uint32_t crs_sim_agent_count(const crs_sim *s);
const char *crs_sim_agent_name(const crs_sim *s, uint32_t agent);
/* cr_router_agent_join (priority 0 first, delay 0) at the current time. */
int crs_sim_join(crs_sim *s, uint32_t agent, uint32_t queue, int priority);
/* Status change at `now` (>= the current time; from a user hook, now =
 * the hook's now); offers it causes are handled. */
int crs_sim_agent_status(crs_sim *s, uint32_t agent, int status,
                         cr_time now);

/* ---- contacts ---- */
typedef struct crs_source {
  uint32_t queue;
  int channel;
  int priority;
  /* Constant rate: nrates 0 and rate_per_hour. Piecewise: rates_per_hour[i]
   * over [start_ms + i * interval_ms, start_ms + (i + 1) * interval_ms),
   * none after the last (the array is copied). */
  double rate_per_hour;
  const double *rates_per_hour;
  size_t nrates;
  cr_time interval_ms;
  cr_time start_ms;       /* first possible arrival */
  cr_time end_ms;         /* no arrival at or after; CRS_NEVER = none */
  crs_dist handle;        /* handle time (not NONE) */
  crs_dist patience;      /* NONE = never abandons */
} crs_source;

/* Adds a Poisson source (its own random streams from the seed and its
 * index); its first arrival is scheduled at once. */
int crs_sim_add_source(crs_sim *s, const crs_source *src, uint32_t *index);
/* One contact arriving at t (>= now). */
int crs_sim_arrive_at(crs_sim *s, cr_time t, const crs_contact *c);
/* A host event at t (>= now): the user hook gets (a, b). */
int crs_sim_schedule(crs_sim *s, cr_time t, uint32_t a, uint64_t b);
/* Handles offers made by router calls the host made itself. */
int crs_sim_flush(crs_sim *s);

/* Runs every event (and router deadline) at or before `until` (CRS_NEVER:
 * until nothing is left: sources need an end). 0, or the first error. */
int crs_sim_run(crs_sim *s, cr_time until);

#endif
