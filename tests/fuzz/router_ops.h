/* A byte-driven interpreter of router calls, shared by the fuzz target
 * (tests/fuzz/router.c) and the randomised tests in tests/test_router.c.
 * Each operation reads a few bytes: which call, which ids (from small fixed
 * sets, so calls collide on purpose), which parameters, how far the clock
 * moves. Accept, reject and end usually aim at a pending offer or a live
 * conversation (found through the private structures), otherwise random
 * pairs would almost never match. Every call's return code is accepted as long as it is a known one;
 * the caller checks invariants after each step. */
#ifndef CR_ROUTER_OPS_H
#define CR_ROUTER_OPS_H

#include "convroute.h"
#include "router.h" /* to aim accept/reject/end at live offers */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct rops {
  const uint8_t *p;
  size_t n, at;
  cr_time now;
} rops;

static inline unsigned rops_byte(rops *o) {
  return o->at < o->n ? o->p[o->at++] : 0;
}

static inline void rops_id(char *buf, char prefix, unsigned i) {
  snprintf(buf, 8, "%c%u", prefix, i);
}

static inline void rops_skills(rops *o, cr_skill_level *sk, size_t *n,
                               const char *names) {
  /* names: 4 fixed skill names of 2 bytes each ("s0s1s2s3") */
  unsigned mask = rops_byte(o);
  *n = 0;
  for (unsigned i = 0; i < 4; i++)
    if (mask & (1u << i)) {
      sk[*n].skill = names + 2 * i;
      sk[*n].skill_len = 2;
      sk[*n].level = 1 + (int)((mask >> 4) + i) % 5;
      (*n)++;
    }
}

/* Runs one operation; returns its result code (or 1 at end of input). */
static inline int rops_step(rops *o, cr_router *r) {
  static const char skills[] = "s0s1s2s3";
  if (o->at >= o->n)
    return 1;
  /* the operation, weighted towards what a contact centre does most:
   * arrivals, answers, ends and ticks */
  static const uint8_t weights[22] = {2, 3, 1, 4, 5, 2, 6, 6, 6, 6, 6,
                                      3, 8, 2, 2, 1, 2, 1, 1, 1, 1, 6};
  unsigned w = rops_byte(o) % 75, op = 0; /* 75 = sum of weights */
  while (w >= weights[op])
    w -= weights[op++];
  char a[8], q[8], c[8], q2[8];
  rops_id(a, 'a', rops_byte(o) % 6);
  rops_id(q, 'q', rops_byte(o) % 3);
  rops_id(c, 'c', rops_byte(o) % 12);
  rops_id(q2, 'q', rops_byte(o) % 3);
  unsigned x = rops_byte(o);
  o->now += (cr_time)(rops_byte(o) % 16) * 1000;
  cr_skill_level sk[4];
  size_t nsk;
  switch (op) {
  case 0: {
    cr_queue_config cfg;
    cr_queue_config_init(&cfg);
    cfg.strategy = (int)(x % CR_STRATEGY_COUNT);
    rops_skills(o, sk, &nsk, skills);
    cfg.skills = sk;
    cfg.nskills = nsk % 3;
    cfg.auto_members = ((x >> 3) & 3) == 3;
    cfg.max_wait_ms = (x & 16) ? 60000 : 0;
    cfg.escalate_before_ms = (x & 32) ? 20000 : 0;
    cfg.escalate_boost = 5;
    cfg.max_wait_action = (x >> 6) & 1;
    cfg.urgency_percent = (x & 128) ? 50 : 0;
    cfg.urgency_boost = 3;
    cfg.ring_all_max = 2 + x % 3;
    cfg.max_length = x % 7 == 1 ? 2 : 0;
    cfg.wrapup_ms = (cr_time)(x % 3) * 5000 - 1;
    unsigned y = rops_byte(o);
    if (y & 1) {
      cfg.overflow_queue = q2;
      cfg.overflow_queue_len = strlen(q2);
      cfg.overflow_after_ms = (y & 2) ? 30000 : 0;
      cfg.overflow_ewt_ms = (y & 4) ? 10000 : 0;
      cfg.overflow_sl_below = (y & 8) ? 0.5 : 0;
    }
    if (y & 16)
      return cr_router_queue_update(r, q, strlen(q), &cfg, o->now);
    return cr_router_queue_add(r, q, strlen(q), &cfg, o->now);
  }
  case 1:
  case 2: {
    cr_agent_config cfg;
    cr_agent_config_init(&cfg);
    unsigned y = rops_byte(o);
    cfg.max_per_channel[CR_CHANNEL_VOICE] = x & 1;
    cfg.max_per_channel[CR_CHANNEL_CHAT] = (x >> 1) & 3;
    cfg.max_per_channel[CR_CHANNEL_SMS] = (x >> 3) & 3;
    cfg.max_per_channel[CR_CHANNEL_EMAIL] = (x >> 5) & 1;
    if (y & 1) {
      cfg.total_capacity = 100;
      cfg.cost[CR_CHANNEL_VOICE] = 100;
      cfg.cost[CR_CHANNEL_CHAT] = 20 + (y & 2) * 10;
      cfg.cost[CR_CHANNEL_SMS] = 20;
      cfg.cost[CR_CHANNEL_EMAIL] = 10;
    }
    cfg.wrapup_ms = (y & 4) ? 3000 : -1;
    rops_skills(o, sk, &nsk, skills);
    cfg.skills = sk;
    cfg.nskills = nsk;
    if (op == 1)
      return cr_router_agent_add(r, a, strlen(a), &cfg, o->now);
    return cr_router_agent_update(r, a, strlen(a), &cfg, o->now);
  }
  case 3:
    return cr_router_agent_join(r, a, strlen(a), q, strlen(q),
                                (int)(x % 3), (cr_time)(x % 4) * 4000,
                                o->now);
  case 4:
  case 5:
    return cr_router_agent_set_status(
        r, a, strlen(a),
        x % 5 == 0 ? CR_AGENT_OFFLINE
                   : (x % 5 == 1 ? CR_AGENT_AWAY : CR_AGENT_AVAILABLE),
        "lunch", (x & 8) ? 5 : 0, o->now);
  case 6:
  case 7:
  case 8: {
    cr_conv_params p;
    cr_conv_params_init(&p);
    static const int chans[4] = {CR_CHANNEL_VOICE, CR_CHANNEL_CHAT,
                                 CR_CHANNEL_SMS, CR_CHANNEL_EMAIL};
    p.channel = chans[x % 4];
    p.priority = (int)((x >> 2) % 4);
    cr_route_step st[3];
    memset(st, 0, sizeof st);
    unsigned y = rops_byte(o);
    size_t ns = y % 4;
    for (size_t i = 0; i < ns; i++) {
      unsigned z = rops_byte(o);
      st[i].kind = (int)(z % 3);
      st[i].target = z % 3 == 1 ? q2 : a;
      st[i].target_len = strlen(st[i].target);
      st[i].expire_after_ms = (cr_time)(z >> 4) * 2000;
      if (z & 8) {
        rops_skills(o, sk, &nsk, skills);
        st[i].skills = sk;
        st[i].nskills = nsk % 3;
      }
    }
    p.steps = st;
    p.nsteps = ns;
    p.attrs = "tier=vip";
    p.attrs_len = (y & 8) ? 8 : 0;
    return cr_router_enqueue(r, c, strlen(c), q, strlen(q), &p, o->now);
  }
  case 9:
  case 10:
  case 11: {
    for (uint32_t k = 0; (x & 7) && k < r->apool.hwm; k++) {
      const ragent *ag = r->agents[(k + x) % r->apool.hwm];
      if (!ag || ag->ohead == RNIL)
        continue;
      /* copies: the call may run deadlines that free the originals */
      const rconv *cv = r->convs[r->offers[ag->ohead].conv];
      char cid[256], aid[256];
      memcpy(cid, cv->id, cv->id_len);
      memcpy(aid, ag->id, ag->id_len);
      size_t cl = cv->id_len, al = ag->id_len;
      if (op == 11)
        return cr_router_reject(r, cid, cl, aid, al, o->now);
      return cr_router_accept(r, cid, cl, aid, al, o->now);
    }
    if (op == 11)
      return cr_router_reject(r, c, strlen(c), a, strlen(a), o->now);
    return cr_router_accept(r, c, strlen(c), a, strlen(a), o->now);
  }
  case 12:
    for (uint32_t k = 0; (x & 7) && k < r->cpool.hwm; k++) {
      const rconv *cv = r->convs[(k + x) % r->cpool.hwm];
      if (cv && cv->state == CR_CONV_ASSIGNED) {
        char cid[256];
        size_t cl = cv->id_len;
        memcpy(cid, cv->id, cl);
        return cr_router_end(r, cid, cl, o->now);
      }
    }
    return cr_router_end(r, c, strlen(c), o->now);
  case 13:
    return cr_router_abandon(r, c, strlen(c), o->now);
  case 14:
    return cr_router_resume(r, c, strlen(c), o->now);
  case 15: {
    cr_conv_params p;
    cr_conv_params_init(&p);
    p.channel = (int)(x % 2);
    p.priority = (int)(x % 5);
    return cr_router_transfer(r, c, strlen(c), q2, strlen(q2),
                              (x & 8) ? &p : NULL, o->now);
  }
  case 16: {
    cr_route_step st[2];
    memset(st, 0, sizeof st);
    rops_skills(o, sk, &nsk, skills);
    st[0].kind = CR_STEP_SKILLS;
    st[0].skills = sk;
    st[0].nskills = nsk % 3;
    st[0].expire_after_ms = (cr_time)(x % 8) * 3000;
    st[1].kind = (x & 8) ? CR_STEP_AGENT : CR_STEP_QUEUE;
    st[1].target = (x & 8) ? a : q2;
    st[1].target_len = 2;
    return cr_router_set_steps(r, c, strlen(c), st, 1 + ((x >> 4) & 1),
                               o->now);
  }
  case 17:
    return cr_router_set_priority(r, c, strlen(c), (int)(x % 9), o->now);
  case 18:
    return cr_router_set_channel(r, c, strlen(c), (int)(x % 4), o->now);
  case 19:
    if (x & 1)
      return cr_router_agent_end_wrapup(r, a, strlen(a), o->now);
    return cr_router_agent_leave(r, a, strlen(a), q, strlen(q), o->now);
  case 20:
    if (x % 5 == 0)
      return cr_router_agent_remove(r, a, strlen(a), o->now);
    return cr_router_queue_set_open(r, q, strlen(q), (x & 3) != 0, o->now);
  default: {
    cr_time t = cr_router_next_expiry(r);
    if (t != CR_TIME_NEVER && t > o->now && (x & 1))
      o->now = t;
    return cr_router_tick(r, o->now);
  }
  }
}

#endif
