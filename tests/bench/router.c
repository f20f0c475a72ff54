/* Router benchmark (issue 4, "Targets").
 *
 * A synthetic centre (router_workload.c: 200 skills, 50 queues, voice,
 * chat, WhatsApp and SMS with multitasking, offered load 95 % of capacity)
 * at 100, 1,000, 10,000 and 100,000 agents; 1,000,000 conversations each go
 * arrive -> offer -> accept (or reject, then offered again) -> end, or
 * abandon. The benchmark owns the clock and the customers; convroute's
 * router decides, and so does a deliberately naive reference dispatcher
 * (router_naive.c) on the same workload.
 *
 * A ROUTING DECISION is one offer made: a waiting conversation reserved on
 * one agent (the router's offer callback; the naive dispatcher's call to the
 * same function). Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so other processes on a shared machine do not count. The loop's time
 * includes the benchmark's own event queue and books; the same run is
 * replayed without the router and that time subtracted (router_workload.h).
 *
 * WARM-UP. The centre starts empty. The first --warmup seconds of
 * simulated time (default 3,600 s: four mean handle times of the longest
 * channel, 900 s) are simulated but not timed; then --convs conversations
 * arrive and the window from the first of them to the last arrival is
 * timed (the drain after it is not). Every size gets the same warm-up in
 * simulated time, so every size is measured in its steady state: without
 * it, 1,000,000 conversations at 100,000 agents are about 34 simulated
 * minutes of a centre still filling (its pools, indexes and page tables
 * growing), while at 100 agents they are weeks of steady state.
 *
 * Every offer is checked against the benchmark's own books (the
 * conversation is waiting, the agent has the queue's skills and room on the
 * channel and in its total capacity); a bad offer stops the run.
 *
 * Usage: bench_router [--quick] [--agents N] [--convs N] [--naive-budget V]
 *                     [--no-naive] [--repeat R] [--seed S]
 *   --quick          20,000 conversations per size, small naive budget, one
 *                    repeat (a smoke run: the centre never warms up to 95 %)
 *   --repeat R       router runs and replays per size, fastest kept
 *                    (default 3; the machine may be shared)
 *   --agents N       one size only
 *   --convs N        conversations per size after the warm-up (default
 *                    1,000,000)
 *   --warmup S       simulated seconds before the timed window (default
 *                    3600; 600 with --quick; 0 = time the whole run)
 *   --naive-budget V the naive reference runs on the first V / agents
 *                    conversations (at least 1,000), default 2e9
 *   --breakdown      one more router run per size with every router call
 *                    timed: cost per call of enqueue, accept, end, ...
 *   --strategy S     the queues' agent selection (default longest_idle; the
 *                    naive reference always picks the longest idle, so its
 *                    behaviour rows only match for that one) */
#define _POSIX_C_SOURCE 200809L

#include "router_adapter.h"
#include "router_naive.h"
#include "router_workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a counting allocator for the memory figures ---- */

typedef union {
  size_t size;
  max_align_t align;
} mhdr;

typedef struct count_mem {
  cr_mem mem;
  size_t live;
  size_t blocks;
} count_mem;

static void *cm_malloc(size_t n, void *ud) {
  count_mem *c = ud;
  mhdr *h = malloc(sizeof *h + n);
  if (!h)
    return NULL;
  h->size = n;
  c->live += n;
  c->blocks++;
  return h + 1;
}

static void *cm_realloc(void *p, size_t n, void *ud) {
  count_mem *c = ud;
  if (!p)
    return cm_malloc(n, ud);
  mhdr *h = (mhdr *)p - 1;
  size_t old = h->size;
  mhdr *nh = realloc(h, sizeof *nh + n);
  if (!nh)
    return NULL;
  nh->size = n;
  c->live = c->live - old + n;
  return nh + 1;
}

static void cm_free(void *p, void *ud) {
  count_mem *c = ud;
  if (!p)
    return;
  mhdr *h = (mhdr *)p - 1;
  c->live -= h->size;
  c->blocks--;
  free(h);
}

static void count_mem_init(count_mem *c) {
  memset(c, 0, sizeof *c);
  c->mem.user_data = c;
  c->mem.malloc = cm_malloc;
  c->mem.realloc = cm_realloc;
  c->mem.free = cm_free;
}

/* ---- options ---- */

static const char *const strategy_names[CR_STRATEGY_COUNT] = {
    "longest_idle",    "least_occupied", "fewest_contacts", "least_talk_time",
    "most_proficient", "round_robin",    "random",          "ring_all"};

static int strategy_named(const char *s) {
  for (int k = 0; k < CR_STRATEGY_COUNT; k++)
    if (!strcmp(s, strategy_names[k]))
      return k;
  return -1;
}

typedef struct opts {
  int quick, naive, repeat, strategy, breakdown;
  cr_time warm_ms;
  uint32_t one_size, convs;
  double naive_budget;
  uint64_t seed;
} opts;

static int parse(opts *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->naive = 1;
  o->repeat = 3;
  o->convs = 1000000;
  o->naive_budget = 2e9;
  o->seed = 0x5EED2026ull;
  o->warm_ms = 3600 * 1000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--quick")) {
      o->quick = 1;
      o->convs = 20000;
      o->naive_budget = 2e7;
      o->repeat = 1;
      o->warm_ms = 600 * 1000;
    } else if (!strcmp(a, "--breakdown")) {
      o->breakdown = 1;
    } else if (!strcmp(a, "--no-naive")) {
      o->naive = 0;
    } else if (!strcmp(a, "--agents") && v) {
      o->one_size = (uint32_t)strtoul(v, NULL, 10), i++;
    } else if (!strcmp(a, "--convs") && v) {
      o->convs = (uint32_t)strtoul(v, NULL, 10), i++;
    } else if (!strcmp(a, "--naive-budget") && v) {
      o->naive_budget = strtod(v, NULL), i++;
    } else if (!strcmp(a, "--strategy") && v) {
      o->strategy = strategy_named(v), i++;
      if (o->strategy < 0 || o->strategy == CR_STRATEGY_RING_ALL) {
        /* ring-all makes several offers of one conversation at once; the
         * simulation's agents answer one offer per conversation. */
        fprintf(stderr, "strategy %s not supported here\n", v);
        return -1;
      }
    } else if (!strcmp(a, "--warmup") && v) {
      o->warm_ms = (cr_time)(strtod(v, NULL) * 1000), i++;
      if (o->warm_ms < 0 || o->warm_ms > 1000LL * 86400 * 30) {
        fprintf(stderr, "--warmup: 0 to 30 days, in seconds\n");
        return -1;
      }
    } else if (!strcmp(a, "--repeat") && v) {
      o->repeat = atoi(v), i++;
    } else if (!strcmp(a, "--seed") && v) {
      o->seed = strtoull(v, NULL, 0), i++;
    } else {
      fprintf(stderr,
              "usage: %s [--quick] [--agents N] [--convs N] "
              "[--naive-budget V] [--no-naive] [--repeat R] [--seed S]\n"
              "       [--warmup SECONDS]"
              "       [--breakdown]"
              "       [--strategy longest_idle|least_occupied|fewest_contacts|"
              "least_talk_time|most_proficient|round_robin|random]\n",
              argv[0]);
      return -1;
    }
  }
  return o->convs && o->repeat >= 1 ? 0 : -1;
}

/* ---- one size ---- */

typedef struct row {
  uint32_t agents, convs, naive_convs;
  uint32_t warm_convs; /* simulated before the timed window */
  uint64_t bd_decisions; /* decisions of the --breakdown run */
  bw_result r;      /* router, all conversations */
  bw_result rp;     /* router, the naive's prefix */
  bw_result n;      /* naive, the prefix */
  bw_result overhead; /* replay of r's decisions without the router */
  int have_naive;
  double setup_s;   /* building the router with its agents */
  double spread;    /* slowest repeat / fastest - 1 */
  int have_breakdown;
  bw_breakdown bd;  /* --breakdown: per-call times */
} row;

static double ns_per(const bw_result *r) {
  return r->decisions_timed ? r->seconds * 1e9 / (double)r->decisions_timed
                            : 0;
}

static double per_s(const bw_result *r) {
  return r->seconds > 0 ? (double)r->decisions_timed / r->seconds : 0;
}

/* The router's own cost per decision: loop time minus the replay's (the
 * benchmark's event queue and books), when the replay matched. */
static double router_ns(const row *r) {
  if (!r->overhead.decisions_timed || r->overhead.seconds >= r->r.seconds)
    return ns_per(&r->r);
  return (r->r.seconds - r->overhead.seconds) * 1e9 /
         (double)r->r.decisions_timed;
}

/* Thread CPU time, as for the event loop (see router_workload.c). */
static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One router run on the first n conversations, timed from the arrival of
 * conversation `from` (0: the whole run); recorded into trace when
 * non-NULL. */
static int run_router_once(const bw_workload *w, uint32_t n, uint32_t from,
                           int strategy, bw_result *res, double *setup_s,
                           bw_trace *trace) {
  bw_router *r = NULL;
  double t0 = wall();
  int rc = bw_router_new(&r, w, NULL, strategy);
  if (!rc)
    rc = bw_router_add_agents(r, 0, w->p.agents, 0);
  if (setup_s)
    *setup_s = wall() - t0;
  if (rc) {
    fprintf(stderr, "router setup: %s (%s)\n", cr_strerror(rc),
            r ? bw_router_errmsg(r) : "");
    bw_router_del(r);
    return rc;
  }
  rc = bw_sim_run(w, n, from, &bw_router_ops, r, trace, res);
  if (rc)
    fprintf(stderr, "router run: %s\n", bw_router_errmsg(r));
  else if (trace) /* once per size: check the router's own statistics */
    rc = bw_router_check_books(r, res, res->last_ms);
  bw_router_del(r);
  return rc;
}

/* One router run with every router call timed. */
static int run_router_timed(const bw_workload *w, uint32_t n, int strategy,
                            bw_breakdown *bd, uint64_t *decisions) {
  bw_router *r = NULL;
  bw_result res;
  int rc = bw_router_new(&r, w, NULL, strategy);
  if (!rc)
    rc = bw_router_add_agents(r, 0, w->p.agents, 0);
  if (!rc)
    rc = bw_sim_run(w, n, 0, &bw_router_timed_ops, r, NULL, &res);
  if (!rc) {
    bw_router_breakdown(r, bd);
    *decisions = res.decisions;
  }
  bw_router_del(r);
  return rc;
}

static int same_run(const bw_result *a, const bw_result *b) {
  return a->decisions == b->decisions &&
         a->decisions_timed == b->decisions_timed &&
         a->accepted == b->accepted &&
         a->abandoned == b->abandoned && a->rejected == b->rejected &&
         a->ticks == b->ticks && a->events == b->events;
}

/* Runs the router `repeat` times on the first n conversations and keeps
 * the fastest (the runs are deterministic: every repeat must make the same
 * decisions). With replay non-NULL, the first run is recorded and replayed
 * `repeat` times without the router; *replay gets the fastest replay: its
 * time is the benchmark's own share. */
static int run_router(const bw_workload *w, uint32_t n, uint32_t from,
                      int strategy, int repeat, bw_result *res,
                      double *setup_s, bw_result *replay, double *spread) {
  bw_trace trace;
  memset(&trace, 0, sizeof trace);
  int rc = run_router_once(w, n, from, strategy, res, setup_s,
                           replay ? &trace : NULL);
  double worst = res->seconds;
  for (int k = 1; k < repeat && !rc; k++) {
    bw_result again;
    double setup_again;
    rc = run_router_once(w, n, from, strategy, &again, &setup_again, NULL);
    if (!rc && !same_run(&again, res)) {
      fprintf(stderr, "router: a repeated run made different decisions\n");
      rc = -1;
    }
    if (!rc && again.seconds > worst)
      worst = again.seconds;
    if (!rc && again.seconds < res->seconds)
      res->seconds = again.seconds;
    if (setup_s && setup_again < *setup_s)
      *setup_s = setup_again;
  }
  if (spread)
    *spread = res->seconds > 0 ? worst / res->seconds - 1 : 0;
  if (!rc && replay) {
    memset(replay, 0, sizeof *replay);
    for (int k = 0; k < repeat; k++) {
      bw_replay rp = {&trace, NULL, 0, 0};
      bw_result once;
      if (trace.oom ||
          bw_sim_run(w, n, from, &bw_replay_ops, &rp, NULL, &once) ||
          !same_run(&once, res)) {
        fprintf(stderr, "replay of the router's decisions diverged; "
                        "benchmark overhead not subtracted\n");
        memset(replay, 0, sizeof *replay);
        break;
      }
      if (k == 0 || once.seconds < replay->seconds)
        *replay = once;
    }
  }
  bw_trace_free(&trace);
  return rc;
}

static int run_size(const opts *o, uint32_t agents, row *out) {
  memset(out, 0, sizeof *out);
  bw_params p;
  bw_params_default(&p, agents, o->convs);
  p.seed = o->seed;
  p.warm_ms = o->warm_ms;
  bw_workload w;
  if (bw_workload_make(&w, &p)) {
    fprintf(stderr, "cannot build the workload for %u agents\n", agents);
    return -1;
  }
  out->agents = agents;
  out->convs = o->convs;
  out->warm_convs = w.nwarm;
  /* the warm-up's conversations, then o->convs timed from the first of
   * them to the last arrival */
  int rc = run_router(&w, w.nconvs, w.nwarm, o->strategy, o->repeat, &out->r,
                      &out->setup_s, &out->overhead, &out->spread);
  if (!rc && o->breakdown) {
    rc = run_router_timed(&w, w.nconvs, o->strategy, &out->bd,
                          &out->bd_decisions);
    out->have_breakdown = !rc;
  }
  if (!rc && o->naive) {
    double want = o->naive_budget / agents;
    /* The naive dispatcher runs once: it is 10-1000x slower, and its
     * noise does not matter at that ratio. It has no warm-up (at 100,000
     * agents an hour of the centre would take it most of an hour): it and
     * the router both run the first n conversations from an empty centre
     * through the drain, the whole run timed, so they compare like with
     * like. */
    uint32_t n = want >= o->convs ? o->convs
                 : want < 1000   ? 1000
                                 : (uint32_t)want;
    if (n > o->convs)
      n = o->convs;
    out->naive_convs = n;
    bw_naive *nv = bw_naive_new(&w);
    rc = nv ? bw_sim_run(&w, n, 0, &bw_naive_ops, nv, NULL, &out->n) : -2;
    bw_naive_del(nv);
    if (!rc)
      rc = run_router(&w, n, 0, o->strategy, o->repeat, &out->rp, NULL, NULL,
                      NULL);
    out->have_naive = !rc;
  }
  bw_workload_free(&w);
  return rc;
}

/* ---- memory ---- */

typedef struct memfig {
  uint32_t agents, waiting;
  double bytes_per_agent;   /* beyond the id strings */
  double id_bytes_per_agent;
  double bytes_per_waiting; /* everything, id string included */
  double id_bytes_per_waiting;
} memfig;

/* Live bytes (counted by the allocator) after adding the workload's agents
 * to a router with queues only, divided by the number of agents, minus the
 * id strings (length + NUL). Then, in a router with queues and no agents,
 * the live bytes added by `waiting` conversations, divided by their number
 * (nothing can be offered, so all of them wait). */
static int measure_memory(uint32_t agents, uint32_t waiting, uint64_t seed,
                          memfig *m) {
  memset(m, 0, sizeof *m);
  bw_params p;
  bw_params_default(&p, agents, waiting);
  p.seed = seed;
  bw_workload w;
  if (bw_workload_make(&w, &p))
    return -1;
  count_mem cm;
  count_mem_init(&cm);
  bw_router *r = NULL;
  int rc = bw_router_new(&r, &w, &cm.mem, CR_STRATEGY_LONGEST_IDLE);
  size_t live0 = cm.live;
  if (!rc)
    rc = bw_router_add_agents(r, 0, agents, 0);
  if (!rc) {
    double ids = 0;
    for (uint32_t a = 0; a < agents; a++)
      ids += w.agents[a].id_len + 1;
    m->agents = agents;
    m->id_bytes_per_agent = ids / agents;
    m->bytes_per_agent = (double)(cm.live - live0) / agents - ids / agents;
  }
  bw_router_del(r);
  r = NULL;
  if (!rc && cm.live != 0)
    fprintf(stderr, "memory: %zu bytes still live after cr_router_del\n",
            cm.live);
  if (!rc)
    rc = bw_router_new(&r, &w, &cm.mem, CR_STRATEGY_LONGEST_IDLE);
  live0 = cm.live;
  for (uint32_t c = 0; !rc && c < waiting; c++)
    rc = bw_router_add_waiting(r, c, w.convs[c].arrive);
  if (!rc) {
    m->waiting = waiting;
    m->bytes_per_waiting = (double)(cm.live - live0) / waiting;
    m->id_bytes_per_waiting = 9; /* "c%07u" + NUL */
  } else {
    fprintf(stderr, "memory: %s (%s)\n", cr_strerror(rc),
            r ? bw_router_errmsg(r) : "");
  }
  bw_router_del(r);
  bw_workload_free(&w);
  return rc;
}

/* ---- report ---- */

static void print_rows(const row *rows, int n, const opts *o) {
  printf("\nThroughput. A routing decision is one offer made (a waiting "
         "conversation reserved on one agent).\n"
         "  Warm-up: the first %.0f s of simulated time (\"warm\" "
         "conversations) are simulated, not timed;\n"
         "  then \"convs\" more arrive and the window from the first of "
         "them to the last arrival is timed.\n"
         "  loop ns = CPU time of the window / decisions in it; bench ns "
         "= the same run replayed\n"
         "  without the router (event queue, books, checks); router ns = "
         "loop - bench. Fastest of %d\n"
         "  runs; spread = slowest / fastest - 1.\n\n",
         (double)o->warm_ms / 1000, o->repeat);
  printf("%7s %8s %8s %9s %8s %7s %8s %12s %6s %7s | %7s %10s %10s "
         "%8s\n",
         "agents", "warm", "convs", "decisions", "loop ns", "bench", "router",
         "router", "spread", "setup", "naive", "naive ns", "router ns",
         "speedup");
  printf("%7s %8s %8s %9s %8s %7s %8s %12s %6s %7s | %7s %10s %10s %8s\n",
         "", "", "", "", "/dec", "ns/dec", "ns/dec", "decisions/s", "", "s",
         "convs", "/dec loop", "/dec loop", "(loop)");
  for (int i = 0; i < n; i++) {
    const row *r = &rows[i];
    printf("%7u %8u %8u %9llu %8.1f %7.1f %8.1f %12.0f %5.0f%% %7.2f |",
           r->agents, r->warm_convs, r->convs,
           (unsigned long long)r->r.decisions_timed,
           ns_per(&r->r), ns_per(&r->overhead), router_ns(r),
           1e9 / router_ns(r), 100 * r->spread, r->setup_s);
    if (r->have_naive)
      printf(" %7u %10.1f %10.1f %7.1fx\n", r->naive_convs, ns_per(&r->n),
             ns_per(&r->rp), ns_per(&r->n) / ns_per(&r->rp));
    else
      printf(" %7s\n", "-");
  }
  if (n && rows[0].have_breakdown) {
    printf("\nCost per router call (--breakdown: one more run with "
           "clock_gettime around every call,\nwhich adds some 20-40 ns to "
           "each; the offer callback's bookkeeping is inside enqueue/end;\n"
           "the whole run, warm-up and drain included)\n\n"
           "%7s", "agents");
    for (int k = 0; k < BW_CALLS; k++)
      printf(" %14s", bw_call_names[k] + 10);
    printf(" %10s\n", "per dec.");
    for (int i = 0; i < n; i++) {
      const row *r = &rows[i];
      double sum = 0;
      printf("%7u", r->agents);
      for (int k = 0; k < BW_CALLS; k++) {
        sum += r->bd.seconds[k];
        if (r->bd.calls[k])
          printf(" %11.0f ns", r->bd.seconds[k] * 1e9 / r->bd.calls[k]);
        else
          printf(" %14s", "-");
      }
      printf(" %7.0f ns\n",
             r->bd_decisions ? sum * 1e9 / r->bd_decisions : 0);
    }
    printf("%7s", "calls/d");
    for (int k = 0; k < BW_CALLS; k++)
      printf(" %14.2f", rows[n - 1].bd_decisions
                            ? (double)rows[n - 1].bd.calls[k] /
                                  rows[n - 1].bd_decisions
                            : 0);
    printf("   (at %u agents)\n", rows[n - 1].agents);
  }
  printf("\nBehaviour (router: occupancy and queue over the timed window, "
         "the rest over its conversations;\nnaive and router on the naive's "
         "prefix from an empty centre)\n\n");
  printf("%8s %-14s %8s %9s %7s %9s %9s %8s %8s\n", "agents", "run",
         "convs", "occupancy", "SL20", "wait s", "abandon", "rejects",
         "max wait");
  for (int i = 0; i < n; i++) {
    const row *r = &rows[i];
    const bw_result *set[3] = {&r->r, &r->rp, &r->n};
    const char *name[3] = {"router", "router prefix", "naive prefix"};
    for (int k = 0; k < (r->have_naive ? 3 : 1); k++) {
      const bw_result *b = set[k];
      printf("%8u %-14s %8llu %8.1f%% %6.1f%% %9.1f %8.2f%% %8llu %8u\n",
             r->agents, name[k], (unsigned long long)b->arrived,
             100 * b->occupancy, 100 * b->sl20, b->mean_wait_s,
             b->arrived ? 100.0 * b->abandoned / b->arrived : 0,
             (unsigned long long)b->rejected, b->max_waiting);
    }
  }
  if (o->naive)
    printf("\nThe naive reference scans every agent for every decision "
           "(and the waiting list when an agent frees up); it runs on the "
           "first naive-budget/agents conversations (budget %.0e agent "
           "visits), and the router is timed again on that same prefix for "
           "the speedup column.\n",
           o->naive_budget);
}

static const row *find(const row *rows, int n, uint32_t agents) {
  for (int i = 0; i < n; i++)
    if (rows[i].agents == agents)
      return &rows[i];
  return NULL;
}

int main(int argc, char **argv) {
  opts o;
  if (parse(&o, argc, argv))
    return 2;
  uint32_t sizes[4] = {100, 1000, 10000, 100000};
  int nsizes = 4;
  if (o.one_size) {
    sizes[0] = o.one_size;
    nsizes = 1;
  }
  printf("convroute %s router benchmark: 200 skills, 50 queues, voice/chat/"
         "WhatsApp/SMS with multitasking, offered load 95%%, %u "
         "conversations per size, strategy %s, seed 0x%llx%s\n",
         cr_version(), o.convs, strategy_names[o.strategy],
         (unsigned long long)o.seed,
         o.quick ? " (--quick)" : "");
  row rows[4];
  int rc = 0;
  for (int i = 0; i < nsizes && !rc; i++) {
    rc = run_size(&o, sizes[i], &rows[i]);
    if (!rc)
      fprintf(stderr, "  %u agents done (%.0f router decisions/s)\n",
              sizes[i], 1e9 / router_ns(&rows[i]));
  }
  if (rc) {
    fprintf(stderr, "benchmark failed\n");
    return 1;
  }
  print_rows(rows, nsizes, &o);

  uint32_t mem_agents = o.one_size ? o.one_size : 10000;
  uint32_t mem_wait = o.quick ? 20000 : 100000;
  memfig m;
  if (measure_memory(mem_agents, mem_wait, o.seed, &m)) {
    fprintf(stderr, "memory measurement failed\n");
    return 1;
  }
  printf("\nMemory (counting cr_mem allocator, live bytes / count):\n"
         "  per agent, beyond its id string: %.0f bytes (%u agents; ids "
         "average %.1f bytes)   target <= 1024\n"
         "  per waiting conversation, all included: %.0f bytes (%u waiting, "
         "no agents)   target <= 512\n",
         m.bytes_per_agent, m.agents, m.id_bytes_per_agent,
         m.bytes_per_waiting, m.waiting);

  const row *r10k = find(rows, nsizes, 10000);
  const row *r100 = find(rows, nsizes, 100);
  const row *r100k = find(rows, nsizes, 100000);
  const row *main_row = r10k ? r10k : &rows[0];
  double dps = 1e9 / router_ns(main_row);
  double ratio = r100 && r100k ? router_ns(r100k) / router_ns(r100) : -1;
  double speedup = main_row->have_naive
                       ? ns_per(&main_row->n) / ns_per(&main_row->rp)
                       : -1;
  int mem_ok = m.bytes_per_agent <= 1024 && m.bytes_per_waiting <= 512;
  int met = dps >= 1e6 && ratio >= 0 && ratio <= 3 && mem_ok;
  printf("\nTargets: >= 1,000,000 decisions/s at %u agents: %.0f %s; router "
         "cost per decision at 100k <= 3x at 100: %.2fx %s; memory: %s\n",
         main_row->agents, dps, dps >= 1e6 ? "MET" : "NOT MET", ratio,
         ratio >= 0 && ratio <= 3 ? "MET" : ratio < 0 ? "(not run)" : "NOT MET",
         mem_ok ? "MET" : "NOT MET");
  printf("{\"decisions_per_s\": %.0f, \"cost_ratio_100k_vs_100\": %.3f, "
         "\"bytes_per_agent\": %.0f, \"bytes_per_waiting\": %.0f, "
         "\"speedup_vs_naive\": %.1f, \"agents\": %u, "
         "\"conversations\": %u, \"router_ns_per_decision\": %.1f, "
         "\"loop_decisions_per_s\": %.0f, \"quick\": %s, "
         "\"targets_met\": %s}\n",
         dps, ratio, m.bytes_per_agent, m.bytes_per_waiting, speedup,
         main_row->agents, o.convs, router_ns(main_row), per_s(&main_row->r),
         o.quick ? "true" : "false", met ? "true" : "false");
  return 0;
}
