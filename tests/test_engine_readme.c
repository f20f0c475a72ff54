/* The README embedding example (docs/engine.md), compiled and run so the
 * text the README shows keeps building against the header. The part from
 * "#include <convroute.h>" to the end of run() is what the README prints. */
#include <convroute.h>
#include <stdio.h>
#include <string.h>
#define S(s) s, strlen(s)

static int journal(const cr_engine_event *ev, void *ud) {
  (void)ud;
  printf("%llu %s %s->%s %s\n", (unsigned long long)ev->seq,
         cr_engine_event_name(ev->type), cr_engine_state_name(ev->from),
         cr_engine_state_name(ev->to), cr_engine_reason_name(ev->reason));
  return 0;
}
static int offer(const cr_engine_context *x, const char *agent, size_t n, void *ud) {
  (void)ud;  /* the agent sees the transcript, intents, fields, profile */
  printf("offer to %.*s: %zu lines, first: %.*s\n", (int)n, agent,
         x->ntranscript, (int)x->transcript[0].text_len, x->transcript[0].text);
  return 0;
}

static int run(cr_intent_model *model) {   /* trained, e.g. on examples/data */
  cr_engine *e;
  if (cr_engine_new(&e, NULL, model, NULL)) return -1;
  cr_engine_callbacks cb = {0};
  cb.event = journal; cb.offer = offer;
  cr_engine_set_callbacks(e, &cb);
  cr_intent_policy p; cr_engine_policy_init(&p);
  p.kind = CR_POLICY_HUMAN;
  cr_engine_set_policy(e, S("talk_to_human"), &p);
  cr_router *r = cr_engine_router(e);              /* queues and agents */
  cr_router_queue_add(r, S("general"), NULL, 0);
  cr_agent_config a; cr_agent_config_init(&a);
  a.max_per_channel[CR_CHANNEL_WHATSAPP] = 3;
  cr_router_agent_add(r, S("dana"), &a, 0);
  cr_router_agent_join(r, S("dana"), S("general"), 0, 0, 0);
  cr_router_agent_set_status(r, S("dana"), CR_AGENT_AVAILABLE, NULL, 0, 0);
  cr_engine_customer_message(e, S("c1"), S("cust-7"), CR_CHANNEL_WHATSAPP,
      S("אני רוצה לדבר עם נציג"), S("tier=vip;lang=he"), 1000);
  cr_engine_agent_accept(e, S("c1"), S("dana"), 5000);
  cr_engine_agent_close(e, S("c1"), S("dana"), 1, 60000);
  cr_engine_del(e);
  return 0;
}

/* ---- not in the README: a tiny model, and the check ---- */
int main(void) {
  cr_intent_trainer *t;
  cr_intent_model *m = NULL;
  if (cr_intent_trainer_new(&t, NULL) ||
      cr_intent_trainer_add(t, S("greeting"), S("hello there")) ||
      cr_intent_trainer_add(t, S("billing"), S("my invoice is wrong")) ||
      cr_intent_train(t, &m) ||
      cr_intent_model_add_builtin_rules(m, S("talk_to_human"),
                                        S("emergency")))
    return 1;
  int rc = run(m);
  cr_intent_model_del(m);
  cr_intent_trainer_del(t);
  printf("%d passed, %d failed\n", rc == 0, rc != 0);
  return rc != 0;
}
