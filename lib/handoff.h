/* Private: the conversation state machine as a pure table (state x event
 * -> next state + action flags). Knows nothing of the engine, the router
 * or time, so it is tested alone (tests/test_handoff.c) and the engine
 * cannot move a conversation anywhere the table does not say. The public
 * cr_engine_state / cr_engine_event_type enums are its vocabulary; the
 * table itself is printed in include/convroute.h and docs/engine.md. */
#ifndef CR_HANDOFF_H
#define CR_HANDOFF_H

#include "convroute.h"

/* Action flags of a transition, executed by the engine's commit. */
enum {
  CR__HA_IDLE = 1u << 0,      /* next is a bot state: (re)arm the idle timer */
  CR__HA_WRAP = 1u << 1,      /* next is WRAPUP: arm the wrap-up timer */
  CR__HA_END = 1u << 2,       /* next is an end: metrics, record, forget */
  CR__HA_ENQUEUE = 1u << 3,   /* from a bot state into the router's queue */
  CR__HA_INROUTER = 1u << 4,  /* the router holds the conversation after */
  CR__HA_GUARD = 1u << 5,     /* offer lost: stays OFFERED while another
                                 offer of the same conversation is out */
  CR__HA_CHANGE = 1u << 6     /* next != state */
};

/* 1 for BOT, CLARIFY, COLLECT, ACTION. */
int cr__handoff_is_bot(int state);
/* 1 for RESOLVED, CLOSED, ABANDONED, EXPIRED. */
int cr__handoff_is_end(int state);
/* 1 for QUEUED, OFFERED, AGENT, BOTSTEP (the router holds it). */
int cr__handoff_in_router(int state);

/* The transition of `event` in `state`: *next and *actions (either may be
 * NULL). CR_EINVAL for a state or event out of range, CR_ESTATE when the
 * table does not allow it (outputs untouched). */
int cr__handoff_next(int state, int event, int *next, unsigned *actions);

#endif
