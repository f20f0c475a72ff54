/* The conversation state machine: one readable table (nghttp2's stream
 * states are the model: every (state, event) pair is either a named next
 * state or forbidden). See docs/engine.md for the diagram. */
#include "handoff.h"

#include <stdint.h>

#define NO 0xFF
#define B CR_ST_BOT
#define CL CR_ST_CLARIFY
#define CO CR_ST_COLLECT
#define AC CR_ST_ACTION
#define QU CR_ST_QUEUED
#define OF CR_ST_OFFERED
#define AG CR_ST_AGENT
#define BS CR_ST_BOTSTEP
#define WR CR_ST_WRAPUP
#define RS CR_ST_RESOLVED
#define CD CR_ST_CLOSED
#define AB CR_ST_ABANDONED
#define EX CR_ST_EXPIRED

/* next[event][state]; columns in cr_engine_state order:
 *                        BOT CLAR COLL ACTN QUED OFFR AGNT BSTP WRAP
 *                        and the four ends (never left: all NO). */
static const uint8_t next_tab[CR_EV_COUNT][CR_ST_COUNT] = {
  [CR_EV_MESSAGE] =      {B,  CL, CO, AC, QU, OF, AG, BS, NO, NO, NO, NO, NO},
  [CR_EV_ANSWER] =       {B,  B,  NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_UNCLEAR] =      {CL, CL, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_ACTION] =       {AC, AC, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_COLLECT] =      {CO, CO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_FIELD_OK] =     {NO, NO, CO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_FIELD_BAD] =    {NO, NO, CO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_ACTION_OK] =    {NO, NO, NO, B,  NO, NO, NO, AG, NO, NO, NO, NO, NO},
  [CR_EV_ACTION_FAIL] =  {NO, NO, NO, QU, NO, NO, NO, AG, NO, NO, NO, NO, NO},
  [CR_EV_HUMAN] =        {QU, QU, QU, QU, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_FAIL_STREAK] =  {QU, QU, QU, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_HANDOFF] =      {QU, QU, QU, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_OFFER] =        {NO, NO, NO, NO, OF, OF, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_ACCEPT] =       {NO, NO, NO, NO, NO, AG, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_REJECT] =       {NO, NO, NO, NO, NO, QU, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_OFFER_TIMEOUT] ={NO, NO, NO, NO, NO, QU, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_OFFER_CANCEL] = {NO, NO, NO, NO, NO, QU, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_REPLY] =        {NO, NO, NO, NO, NO, NO, AG, NO, NO, NO, NO, NO, NO},
  [CR_EV_STEP] =         {NO, NO, NO, NO, NO, NO, BS, NO, NO, NO, NO, NO, NO},
  [CR_EV_TRANSFER] =     {NO, NO, NO, NO, QU, QU, QU, NO, NO, NO, NO, NO, NO},
  [CR_EV_CHANNEL] =      {B,  CL, CO, AC, QU, OF, AG, BS, NO, NO, NO, NO, NO},
  [CR_EV_MAXWAIT] =      {NO, NO, NO, NO, QU, OF, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_IDLE] =         {EX, EX, EX, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_BOT_END] =      {RS, RS, RS, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_NO_SERVICE] =   {EX, EX, EX, EX, NO, NO, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_TIMEOUT_EXIT] = {NO, NO, NO, NO, EX, EX, NO, NO, NO, NO, NO, NO, NO},
  [CR_EV_CLOSE] =        {NO, NO, NO, NO, NO, NO, WR, WR, NO, NO, NO, NO, NO},
  [CR_EV_WRAPUP_END] =   {NO, NO, NO, NO, NO, NO, NO, NO, CD, NO, NO, NO, NO},
  [CR_EV_ABANDON] =      {AB, AB, AB, AB, AB, AB, AB, AB, NO, NO, NO, NO, NO},
  /* a survey is journalled on an ended conversation, never a transition */
  [CR_EV_SURVEY] =       {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
};

int cr__handoff_is_bot(int s) {
  return s == CR_ST_BOT || s == CR_ST_CLARIFY || s == CR_ST_COLLECT ||
         s == CR_ST_ACTION;
}

int cr__handoff_is_end(int s) {
  return s >= CR_ST_RESOLVED && s < CR_ST_COUNT;
}

int cr__handoff_in_router(int s) {
  return s >= CR_ST_QUEUED && s <= CR_ST_BOTSTEP;
}

int cr__handoff_next(int state, int event, int *next, unsigned *actions) {
  if (state < 0 || state >= CR_ST_COUNT || event < 0 || event >= CR_EV_COUNT)
    return CR_EINVAL;
  int n = next_tab[event][state];
  if (n == NO)
    return CR_ESTATE;
  unsigned a = 0;
  if (n == CR_ST_BOT || n == CR_ST_CLARIFY || n == CR_ST_COLLECT)
    a |= CR__HA_IDLE;
  if (n == CR_ST_WRAPUP)
    a |= CR__HA_WRAP;
  if (cr__handoff_is_end(n))
    a |= CR__HA_END;
  if (cr__handoff_in_router(n))
    a |= CR__HA_INROUTER;
  if (cr__handoff_is_bot(state) && n == CR_ST_QUEUED)
    a |= CR__HA_ENQUEUE;
  if (event == CR_EV_REJECT || event == CR_EV_OFFER_TIMEOUT ||
      event == CR_EV_OFFER_CANCEL)
    a |= CR__HA_GUARD;
  if (n != state)
    a |= CR__HA_CHANGE;
  if (next)
    *next = n;
  if (actions)
    *actions = a;
  return 0;
}

int cr_engine_transition(int state, int event, int *next) {
  return cr__handoff_next(state, event, next, NULL);
}

static const char *const state_names[CR_ST_COUNT] = {
    "BOT",    "CLARIFY", "COLLECT",  "ACTION", "QUEUED",
    "OFFERED", "AGENT",  "BOTSTEP",  "WRAPUP", "RESOLVED",
    "CLOSED", "ABANDONED", "EXPIRED"};

static const char *const event_names[CR_EV_COUNT] = {
    "MESSAGE",     "ANSWER",       "UNCLEAR",      "ACTION",
    "COLLECT",     "FIELD_OK",     "FIELD_BAD",    "ACTION_OK",
    "ACTION_FAIL", "HUMAN",        "FAIL_STREAK",  "HANDOFF",
    "OFFER",       "ACCEPT",       "REJECT",       "OFFER_TIMEOUT",
    "OFFER_CANCEL", "REPLY",       "STEP",         "TRANSFER",
    "CHANNEL",     "MAXWAIT",      "IDLE",         "BOT_END",
    "NO_SERVICE",  "TIMEOUT_EXIT", "CLOSE",        "WRAPUP_END",
    "ABANDON",     "SURVEY"};

static const char *const reason_names[CR_REASON_COUNT] = {
    "NONE",        "REQUESTED",   "FAILURE_STREAK", "POLICY",
    "COLLECTED",   "RULE",        "EMERGENCY",      "ACTION_FAILED",
    "AFTER_HOURS", "NO_AGENTS",   "MAX_WAIT",       "IDLE",
    "TRANSFER",    "CALLBACK_FAILED", "RETURNING",  "HOST"};

const char *cr_engine_state_name(int s) {
  return s >= 0 && s < CR_ST_COUNT ? state_names[s] : NULL;
}

const char *cr_engine_event_name(int t) {
  return t >= 0 && t < CR_EV_COUNT ? event_names[t] : NULL;
}

const char *cr_engine_reason_name(int r) {
  return r >= 0 && r < CR_REASON_COUNT ? reason_names[r] : NULL;
}
