/* The state machine table, cell by cell: every state x every event.
 * Two independent oracles: the table printed in include/convroute.h (so
 * the documentation cannot drift from the code) and a list of the allowed
 * transitions written out here from the prose. */
#include "cr_test.h"
#include "handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allowed transitions, one per line: event, state, next. Everything not
 * listed must be CR_ESTATE. */
typedef struct allowed {
  int ev, st, next;
} allowed;

#define BOTS4(ev, nx)                                                         \
  {ev, CR_ST_BOT, nx}, {ev, CR_ST_CLARIFY, nx}, {ev, CR_ST_COLLECT, nx},     \
      {ev, CR_ST_ACTION, nx}
#define BOTS3(ev, nx)                                                         \
  {ev, CR_ST_BOT, nx}, {ev, CR_ST_CLARIFY, nx}, {ev, CR_ST_COLLECT, nx}

static const allowed ALLOWED[] = {
    /* a message never moves a conversation by itself */
    {CR_EV_MESSAGE, CR_ST_BOT, CR_ST_BOT},
    {CR_EV_MESSAGE, CR_ST_CLARIFY, CR_ST_CLARIFY},
    {CR_EV_MESSAGE, CR_ST_COLLECT, CR_ST_COLLECT},
    {CR_EV_MESSAGE, CR_ST_ACTION, CR_ST_ACTION},
    {CR_EV_MESSAGE, CR_ST_QUEUED, CR_ST_QUEUED},
    {CR_EV_MESSAGE, CR_ST_OFFERED, CR_ST_OFFERED},
    {CR_EV_MESSAGE, CR_ST_AGENT, CR_ST_AGENT},
    {CR_EV_MESSAGE, CR_ST_BOTSTEP, CR_ST_BOTSTEP},
    /* the bot's decisions from BOT and CLARIFY */
    {CR_EV_ANSWER, CR_ST_BOT, CR_ST_BOT},
    {CR_EV_ANSWER, CR_ST_CLARIFY, CR_ST_BOT},
    {CR_EV_UNCLEAR, CR_ST_BOT, CR_ST_CLARIFY},
    {CR_EV_UNCLEAR, CR_ST_CLARIFY, CR_ST_CLARIFY},
    {CR_EV_ACTION, CR_ST_BOT, CR_ST_ACTION},
    {CR_EV_ACTION, CR_ST_CLARIFY, CR_ST_ACTION},
    {CR_EV_COLLECT, CR_ST_BOT, CR_ST_COLLECT},
    {CR_EV_COLLECT, CR_ST_CLARIFY, CR_ST_COLLECT},
    {CR_EV_FIELD_OK, CR_ST_COLLECT, CR_ST_COLLECT},
    {CR_EV_FIELD_BAD, CR_ST_COLLECT, CR_ST_COLLECT},
    {CR_EV_ACTION_OK, CR_ST_ACTION, CR_ST_BOT},
    {CR_EV_ACTION_FAIL, CR_ST_ACTION, CR_ST_QUEUED},
    /* bot step done: back to the agent either way */
    {CR_EV_ACTION_OK, CR_ST_BOTSTEP, CR_ST_AGENT},
    {CR_EV_ACTION_FAIL, CR_ST_BOTSTEP, CR_ST_AGENT},
    /* a human is reachable from every bot state */
    BOTS4(CR_EV_HUMAN, CR_ST_QUEUED),
    BOTS3(CR_EV_FAIL_STREAK, CR_ST_QUEUED),
    BOTS3(CR_EV_HANDOFF, CR_ST_QUEUED),
    {CR_EV_OFFER, CR_ST_QUEUED, CR_ST_OFFERED},
    {CR_EV_OFFER, CR_ST_OFFERED, CR_ST_OFFERED},
    {CR_EV_ACCEPT, CR_ST_OFFERED, CR_ST_AGENT},
    {CR_EV_REJECT, CR_ST_OFFERED, CR_ST_QUEUED},
    {CR_EV_OFFER_TIMEOUT, CR_ST_OFFERED, CR_ST_QUEUED},
    {CR_EV_OFFER_CANCEL, CR_ST_OFFERED, CR_ST_QUEUED},
    {CR_EV_REPLY, CR_ST_AGENT, CR_ST_AGENT},
    {CR_EV_STEP, CR_ST_AGENT, CR_ST_BOTSTEP},
    {CR_EV_TRANSFER, CR_ST_QUEUED, CR_ST_QUEUED},
    {CR_EV_TRANSFER, CR_ST_OFFERED, CR_ST_QUEUED},
    {CR_EV_TRANSFER, CR_ST_AGENT, CR_ST_QUEUED},
    {CR_EV_CHANNEL, CR_ST_BOT, CR_ST_BOT},
    {CR_EV_CHANNEL, CR_ST_CLARIFY, CR_ST_CLARIFY},
    {CR_EV_CHANNEL, CR_ST_COLLECT, CR_ST_COLLECT},
    {CR_EV_CHANNEL, CR_ST_ACTION, CR_ST_ACTION},
    {CR_EV_CHANNEL, CR_ST_QUEUED, CR_ST_QUEUED},
    {CR_EV_CHANNEL, CR_ST_OFFERED, CR_ST_OFFERED},
    {CR_EV_CHANNEL, CR_ST_AGENT, CR_ST_AGENT},
    {CR_EV_CHANNEL, CR_ST_BOTSTEP, CR_ST_BOTSTEP},
    {CR_EV_MAXWAIT, CR_ST_QUEUED, CR_ST_QUEUED},
    {CR_EV_MAXWAIT, CR_ST_OFFERED, CR_ST_OFFERED},
    BOTS3(CR_EV_IDLE, CR_ST_EXPIRED),
    BOTS3(CR_EV_BOT_END, CR_ST_RESOLVED),
    BOTS4(CR_EV_NO_SERVICE, CR_ST_EXPIRED),
    {CR_EV_TIMEOUT_EXIT, CR_ST_QUEUED, CR_ST_EXPIRED},
    {CR_EV_TIMEOUT_EXIT, CR_ST_OFFERED, CR_ST_EXPIRED},
    {CR_EV_CLOSE, CR_ST_AGENT, CR_ST_WRAPUP},
    {CR_EV_CLOSE, CR_ST_BOTSTEP, CR_ST_WRAPUP},
    {CR_EV_WRAPUP_END, CR_ST_WRAPUP, CR_ST_CLOSED},
    BOTS4(CR_EV_ABANDON, CR_ST_ABANDONED),
    {CR_EV_ABANDON, CR_ST_QUEUED, CR_ST_ABANDONED},
    {CR_EV_ABANDON, CR_ST_OFFERED, CR_ST_ABANDONED},
    {CR_EV_ABANDON, CR_ST_AGENT, CR_ST_ABANDONED},
    {CR_EV_ABANDON, CR_ST_BOTSTEP, CR_ST_ABANDONED},
};

static int expected(int st, int ev) {
  for (size_t i = 0; i < sizeof ALLOWED / sizeof *ALLOWED; i++)
    if (ALLOWED[i].ev == ev && ALLOWED[i].st == st)
      return ALLOWED[i].next;
  return -1;
}

static void test_every_cell(void **state) {
  (void)state;
  size_t allowed_n = 0;
  for (int st = 0; st < CR_ST_COUNT; st++) {
    for (int ev = 0; ev < CR_EV_COUNT; ev++) {
      int want = expected(st, ev);
      int next = 12345;
      unsigned act = 777;
      int rc = cr__handoff_next(st, ev, &next, &act);
      if (want < 0) {
        if (rc != CR_ESTATE)
          fail_msg("%s x %s allowed, should not be",
                   cr_engine_state_name(st), cr_engine_event_name(ev));
        assert_int_equal(next, 12345); /* outputs untouched */
        assert_int_equal(act, 777);
        int n2 = 5;
        assert_int_equal(cr_engine_transition(st, ev, &n2), CR_ESTATE);
        assert_int_equal(n2, 5);
        continue;
      }
      allowed_n++;
      if (rc != 0)
        fail_msg("%s x %s refused", cr_engine_state_name(st),
                 cr_engine_event_name(ev));
      assert_int_equal(next, want);
      /* the action flags follow from the states */
      assert_int_equal(!!(act & CR__HA_END), cr__handoff_is_end(next));
      assert_int_equal(!!(act & CR__HA_WRAP), next == CR_ST_WRAPUP);
      assert_int_equal(!!(act & CR__HA_IDLE),
                       next == CR_ST_BOT || next == CR_ST_CLARIFY ||
                           next == CR_ST_COLLECT);
      assert_int_equal(!!(act & CR__HA_INROUTER), cr__handoff_in_router(next));
      assert_int_equal(!!(act & CR__HA_ENQUEUE),
                       cr__handoff_is_bot(st) && next == CR_ST_QUEUED);
      assert_int_equal(!!(act & CR__HA_CHANGE), next != st);
      assert_int_equal(!!(act & CR__HA_GUARD),
                       ev == CR_EV_REJECT || ev == CR_EV_OFFER_TIMEOUT ||
                           ev == CR_EV_OFFER_CANCEL);
    }
  }
  assert_int_equal(allowed_n, sizeof ALLOWED / sizeof *ALLOWED);
}

static void test_ends_are_final(void **state) {
  (void)state;
  for (int st = CR_ST_RESOLVED; st < CR_ST_COUNT; st++) {
    assert_true(cr__handoff_is_end(st));
    for (int ev = 0; ev < CR_EV_COUNT; ev++)
      assert_int_equal(cr__handoff_next(st, ev, NULL, NULL), CR_ESTATE);
  }
  /* the human is always reachable from the bot, never skipped */
  for (int st = 0; st < CR_ST_COUNT; st++)
    if (cr__handoff_is_bot(st)) {
      int n;
      assert_int_equal(cr__handoff_next(st, CR_EV_HUMAN, &n, NULL), 0);
      assert_int_equal(n, CR_ST_QUEUED);
      assert_int_equal(cr__handoff_next(st, CR_EV_ABANDON, &n, NULL), 0);
    }
}

static void test_out_of_range(void **state) {
  (void)state;
  int n = 9;
  assert_int_equal(cr__handoff_next(-1, 0, &n, NULL), CR_EINVAL);
  assert_int_equal(cr__handoff_next(CR_ST_COUNT, 0, &n, NULL), CR_EINVAL);
  assert_int_equal(cr__handoff_next(0, -1, &n, NULL), CR_EINVAL);
  assert_int_equal(cr__handoff_next(0, CR_EV_COUNT, &n, NULL), CR_EINVAL);
  assert_int_equal(cr_engine_transition(0, CR_EV_COUNT, &n), CR_EINVAL);
  assert_int_equal(n, 9);
  assert_null(cr_engine_state_name(CR_ST_COUNT));
  assert_null(cr_engine_event_name(-1));
  assert_null(cr_engine_reason_name(CR_REASON_COUNT));
  for (int i = 0; i < CR_ST_COUNT; i++)
    assert_non_null(cr_engine_state_name(i));
  for (int i = 0; i < CR_EV_COUNT; i++)
    assert_non_null(cr_engine_event_name(i));
  for (int i = 0; i < CR_REASON_COUNT; i++)
    assert_non_null(cr_engine_reason_name(i));
  assert_string_equal(cr_engine_state_name(CR_ST_BOTSTEP), "BOTSTEP");
  assert_string_equal(cr_engine_event_name(CR_EV_OFFER_TIMEOUT),
                      "OFFER_TIMEOUT");
}

/* The table printed in the header, parsed: each row is an event name and
 * nine cells for the non-final states (abbreviations RESOLVD, ABANDND). */
static int cell_state(const char *w) {
  if (!strcmp(w, "-"))
    return -1;
  if (!strcmp(w, "RESOLVD"))
    return CR_ST_RESOLVED;
  if (!strcmp(w, "ABANDND"))
    return CR_ST_ABANDONED;
  for (int s = 0; s < CR_ST_COUNT; s++)
    if (!strcmp(w, cr_engine_state_name(s)))
      return s;
  return -2;
}

static void test_header_table(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/include/convroute.h", CR_TEST_SOURCE_DIR);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int rows = 0, in_table = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "event \\ state")) {
      in_table = 1;
      continue;
    }
    if (!in_table)
      continue;
    char w[10][32];
    int n = sscanf(line, " * %31s %31s %31s %31s %31s %31s %31s %31s %31s %31s",
                   w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9]);
    if (n != 10)
      break;
    int ev = -1;
    for (int e = 0; e < CR_EV_COUNT; e++)
      if (!strcmp(w[0], cr_engine_event_name(e)))
        ev = e;
    assert_true(ev >= 0);
    for (int st = 0; st < 9; st++) {
      int doc = cell_state(w[st + 1]);
      assert_true(doc >= -1);
      int next = -1;
      if (cr__handoff_next(st, ev, &next, NULL))
        next = -1;
      if (doc != next)
        fail_msg("header says %s x %s -> %s, code says %d",
                 cr_engine_state_name(st), w[0], w[st + 1], next);
    }
    rows++;
  }
  fclose(f);
  assert_int_equal(rows, CR_EV_COUNT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_cell),
      cmocka_unit_test(test_ends_are_final),
      cmocka_unit_test(test_out_of_range),
      cmocka_unit_test(test_header_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
