/* Drives convroute's router (cr_router_*) from the benchmark's simulation:
 * the workload's queues and agents become router queues and agents, the
 * simulation's events become router calls, and the router's offer callback
 * becomes bw_sim_offer(). */
#ifndef BW_ROUTER_ADAPTER_H
#define BW_ROUTER_ADAPTER_H

#include "router_workload.h"

typedef struct bw_router bw_router;

extern const bw_disp_ops bw_router_ops;

/* The same, with every router call timed (clock_gettime around it; the
 * offer callback's bookkeeping inside enqueue/end is included). */
extern const bw_disp_ops bw_router_timed_ops;

enum {
  BW_CALL_ENQUEUE,
  BW_CALL_ACCEPT,
  BW_CALL_REJECT,
  BW_CALL_END,
  BW_CALL_ABANDON,
  BW_CALL_TICK,
  BW_CALL_NEXT_EXPIRY,
  BW_CALLS
};
extern const char *const bw_call_names[BW_CALLS];

typedef struct bw_breakdown {
  uint64_t calls[BW_CALLS];
  double seconds[BW_CALLS];
} bw_breakdown;

/* What the timed ops measured so far. */
void bw_router_breakdown(const bw_router *r, bw_breakdown *out);

/* A router with the workload's queues (agent-selection strategy
 * `strategy`, a cr_strategy) and no agents yet, allocating through mem
 * (NULL = libc). 0 or a CR_E code. */
int bw_router_new(bw_router **out, const bw_workload *w, const cr_mem *mem,
                  int strategy);
/* Adds agents [from, to) of the workload, available from time `now`. */
int bw_router_add_agents(bw_router *r, uint32_t from, uint32_t to,
                         cr_time now);
/* Adds conversation c as waiting, without the simulation (for measuring
 * memory: with no agents nothing is offered). */
int bw_router_add_waiting(bw_router *r, uint32_t c, cr_time now);
/* Compares the router's own statistics (every queue's cr_queue_stats,
 * summed) with the simulation's books after a complete run: nothing left
 * waiting, offered or live; as many entered, answered, abandoned and
 * rejected as the simulation counted. 0 if they agree, else -1 with a
 * line on stderr. */
int bw_router_check_books(bw_router *r, const bw_result *res, cr_time now);
void bw_router_del(bw_router *r);
/* A one-line description of the last error, "" if none. */
const char *bw_router_errmsg(const bw_router *r);

#endif
