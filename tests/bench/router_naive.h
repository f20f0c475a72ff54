/* The deliberately naive reference dispatcher for the router benchmark.
 *
 * It behaves like a dispatcher that polls a database: every routing
 * decision is a full scan of the agent table ("SELECT the longest-idle
 * agent WHERE skills match AND capacity is free"), and when an agent frees
 * capacity it scans the whole waiting list for the best conversation that
 * agent can take before making that decision. Same policy as the router is
 * asked to follow (longest idle agent; priority, then age; a conversation
 * keeps its place after a reject and the rejecting agent is not offered it
 * again for 30 s), with no index of any kind. It has no timers: a decline
 * block is only checked when a decision is made. */
#ifndef BW_ROUTER_NAIVE_H
#define BW_ROUTER_NAIVE_H

#include "router_workload.h"

typedef struct bw_naive bw_naive;

extern const bw_disp_ops bw_naive_ops;

bw_naive *bw_naive_new(const bw_workload *w);
void bw_naive_del(bw_naive *n);
/* Agent records visited in full scans so far. */
uint64_t bw_naive_visits(const bw_naive *n);

#endif
