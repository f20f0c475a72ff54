/* cr-staffing: Erlang B / C / A staffing from the command line.
 *
 *   figures for a given number of agents (Erlang C, or Erlang A with a
 *   mean patience):
 *     cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --agents 14
 *                 --target-s 20 [--patience-s 300] [--shrinkage 0.3] --json
 *   agents needed:
 *     cr-staffing --arrivals 100 --interval-s 1800 --aht-s 180 --target-s 20
 *                 --target-sl 0.8 [--max-occupancy 0.85] [--shrinkage 0.3]
 *                 [--target-asa-s 30] [--max-abandon 0.05]
 *                 [--patience-s 300] --json
 *   Erlang B:
 *     cr-staffing --erlang-b --load 10 (--lines 17 | --target-blocking 0.02)
 *
 * Human-readable report by default, one JSON object with --json. JSON keys
 * (a contract; keep them stable): model ("erlang_b" | "erlang_c" |
 * "erlang_a"), load_erlangs, agents, agents_with_shrinkage (when
 * --shrinkage is given), p_wait, service_level, asa_s, occupancy,
 * p_abandon (Erlang A), blocking (Erlang B); also target_s, queue_len,
 * asa_answered_s (Erlang A) and lines (Erlang B). Definitions: see the
 * staffing section of convroute.h (service level "EA1": answered within
 * target_s over all offered contacts, abandoners counted as failures).
 *
 * Exit status 0 on success, 2 for a usage error or impossible input (a
 * negative rate, load >= agents for Erlang C, a target that cannot be met);
 * the message goes to stderr and, with --json, also to stdout as
 * {"error": ..., "code": ...}. */
#include "convroute.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every numeric flag, in one table so parsing and "was it given" are one
 * loop. */
enum {
  O_ARRIVALS, O_INTERVAL, O_AHT, O_AGENTS, O_TARGET_S, O_PATIENCE,
  O_TARGET_SL, O_MAX_OCC, O_SHRINK, O_TARGET_ASA, O_MAX_ABANDON, O_LOAD,
  O_LINES, O_TARGET_BLOCKING, O_COUNT
};

static const char *const flag_names[O_COUNT] = {
    "--arrivals",   "--interval-s",    "--aht-s",        "--agents",
    "--target-s",   "--patience-s",    "--target-sl",    "--max-occupancy",
    "--shrinkage",  "--target-asa-s",  "--max-abandon",  "--load",
    "--lines",      "--target-blocking"};

typedef struct args {
  double v[O_COUNT];
  int given[O_COUNT];
  int json, erlang_b;
} args;

static int json_mode; /* for FAILF(): where the message also goes */

static void usage(FILE *f) {
  fprintf(f,
      "usage:\n"
      "  cr-staffing --arrivals N --interval-s S --aht-s S --agents N\n"
      "              [--target-s 20] [--patience-s S] [--shrinkage F] "
      "[--json]\n"
      "  cr-staffing --arrivals N --interval-s S --aht-s S [--target-s 20]\n"
      "              --target-sl F [--max-occupancy F] [--shrinkage F]\n"
      "              [--target-asa-s S] [--max-abandon F] [--patience-s S] "
      "[--json]\n"
      "  cr-staffing --erlang-b --load A (--lines N | --target-blocking F) "
      "[--json]\n"
      "Without --patience-s the model is Erlang C (callers wait as long as\n"
      "needed); with it, Erlang A (exponential patience with that mean).\n");
}

/* Prints the message (and a JSON error object with --json); exit 2. */
static void fail(const char *code, const char *msg) {
  fprintf(stderr, "cr-staffing: %s\n", msg);
  if (json_mode) {
    printf("{\"error\": \"");
    for (const char *p = msg; *p; p++)
      printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    printf("\", \"code\": \"%s\"}\n", code);
  }
  exit(2);
}

#define FAILF(code, ...)                                                     \
  do {                                                                       \
    char msg_[512];                                                          \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                \
    fail(code, msg_);                                                        \
  } while (0)

static void parse_args(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--json"))
      a->json = json_mode = 1;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--json"))
      continue;
    if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(o, "--erlang-b")) {
      a->erlang_b = 1;
      continue;
    }
    int k = 0;
    while (k < O_COUNT && strcmp(o, flag_names[k]))
      k++;
    if (k == O_COUNT) {
      usage(stderr);
      FAILF("EINVAL", "unknown option %s", o);
    }
    if (i + 1 >= argc)
      FAILF("EINVAL", "%s needs a value", o);
    const char *s = argv[++i];
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
      FAILF("EINVAL", "%s: not a finite number", o);
    if (v < 0)
      FAILF("EINVAL", "%s must not be negative (got %g)", o, v);
    a->v[k] = v;
    a->given[k] = 1;
  }
}

static int32_t count_arg(const args *a, int k) {
  double v = a->v[k];
  if (v != floor(v) || v > CR_STAFFING_MAX_AGENTS)
    FAILF("ERANGE", "%s must be a whole number up to 1000000 (got %g)",
         flag_names[k], v);
  return (int32_t)v;
}

/* ------------------------------------------------------------ Erlang B */

static void run_erlang_b(const args *a) {
  if (!a->given[O_LOAD])
    FAILF("EINVAL", "--erlang-b needs --load (offered Erlangs)");
  if (a->given[O_LINES] == a->given[O_TARGET_BLOCKING])
    FAILF("EINVAL",
          "--erlang-b needs exactly one of --lines and --target-blocking");
  double load = a->v[O_LOAD], blocking;
  int32_t lines;
  int rc;
  if (a->given[O_LINES]) {
    lines = count_arg(a, O_LINES);
    rc = cr_erlang_b(load, lines, &blocking);
  } else {
    if (a->v[O_TARGET_BLOCKING] > 1)
      FAILF("ERANGE", "%s must be a fraction in (0, 1] (got %g)",
           "--target-blocking", a->v[O_TARGET_BLOCKING]);
    rc = cr_erlang_b_lines(load, a->v[O_TARGET_BLOCKING], &lines);
    if (!rc)
      rc = cr_erlang_b(load, lines, &blocking);
  }
  if (rc)
    FAILF(cr_errname(rc), "Erlang B: %s (load %g Erlangs)", cr_strerror(rc),
          load);
  if (a->json) {
    printf("{\"model\": \"erlang_b\", \"load_erlangs\": %.12g, "
           "\"agents\": %d, \"lines\": %d, \"blocking\": %.12g}\n",
           load, (int)lines, (int)lines, blocking);
    return;
  }
  printf("Erlang B (lost calls cleared)\n"
         "  offered load   %.4g Erlangs\n"
         "  lines          %d%s\n"
         "  blocking       %.4f %% of calls find every line busy\n",
         load, (int)lines,
         a->given[O_LINES] ? "" : " (fewest meeting the target)",
         100 * blocking);
}

/* ---------------------------------------------------- Erlang C and A */

static void print_json(const args *a, const cr_staffing *f, int is_a) {
  printf("{\"model\": \"%s\", \"load_erlangs\": %.12g, \"agents\": %d",
         is_a ? "erlang_a" : "erlang_c", f->load_erlangs, (int)f->agents);
  if (a->given[O_SHRINK])
    printf(", \"agents_with_shrinkage\": %d", (int)f->agents_with_shrinkage);
  printf(", \"target_s\": %.12g, \"p_wait\": %.12g, \"service_level\": "
         "%.12g, \"asa_s\": %.12g, \"occupancy\": %.12g, \"queue_len\": "
         "%.12g",
         a->v[O_TARGET_S], f->p_wait, f->service_level, f->asa_s,
         f->occupancy, f->queue_len);
  if (is_a)
    printf(", \"p_abandon\": %.12g, \"asa_answered_s\": %.12g, "
           "\"patience_s\": %.12g",
           f->p_abandon, f->asa_answered_s, a->v[O_PATIENCE]);
  printf("}\n");
}

static void print_report(const args *a, const cr_staffing *f, int is_a,
                         int required) {
  if (is_a)
    printf("Erlang A (M/M/N+M: callers abandon after a mean patience of "
           "%g s)\n", a->v[O_PATIENCE]);
  else
    printf("Erlang C (M/M/N: callers wait as long as needed)\n");
  printf("  offered load    %.4f Erlangs (%g contacts / %g s x %g s AHT)\n",
         f->load_erlangs, a->v[O_ARRIVALS], a->v[O_INTERVAL], a->v[O_AHT]);
  printf("  agents          %d%s\n", (int)f->agents,
         required ? " (fewest meeting every target)" : "");
  if (a->given[O_SHRINK])
    printf("  scheduled       %d with %.1f %% shrinkage\n",
           (int)f->agents_with_shrinkage, 100 * a->v[O_SHRINK]);
  printf("  P(wait)         %.2f %%\n", 100 * f->p_wait);
  printf("  service level   %.2f %% answered within %g s%s\n",
         100 * f->service_level, a->v[O_TARGET_S],
         is_a ? " (abandoners count as failures)" : "");
  printf("  ASA             %.1f s (all offered contacts)\n", f->asa_s);
  if (is_a) {
    printf("  ASA answered    %.1f s (answered contacts only)\n",
           f->asa_answered_s);
    printf("  abandoned       %.2f %%\n", 100 * f->p_abandon);
  }
  printf("  occupancy       %.2f %%\n", 100 * f->occupancy);
  printf("  queue length    %.2f contacts waiting on average\n",
         f->queue_len);
}

static void explain(int rc, const args *a, double load, int is_a,
                    int required) {
  if (rc == CR_EINFEASIBLE && !required)
    FAILF("EINFEASIBLE",
         "load %.4g Erlangs >= agents: Erlang C has no steady state (the "
         "queue grows without bound); add agents, or give --patience-s for "
         "Erlang A", load);
  if (rc == CR_EINFEASIBLE)
    FAILF("EINFEASIBLE",
         "the targets cannot be met (a service level of 1 is never "
         "reached, nor anything beyond %d agents)", CR_STAFFING_MAX_AGENTS);
  if (rc == CR_ERANGE && is_a && a->v[O_PATIENCE] > 1e4 * a->v[O_AHT])
    FAILF("ERANGE", "%s is over 10,000 x AHT (%g s): use Erlang C",
         "--patience-s", a->v[O_PATIENCE]);
  FAILF(cr_errname(rc), "%s (check the values; rates must be positive)",
        cr_strerror(rc));
}

static void run_queue(const args *a) {
  static const int need[] = {O_ARRIVALS, O_INTERVAL, O_AHT};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
    if (!a->given[need[i]])
      FAILF("EINVAL", "%s is required", flag_names[need[i]]);
  if (a->v[O_INTERVAL] == 0 || a->v[O_AHT] == 0)
    FAILF("EINVAL", "%s must be positive",
          a->v[O_INTERVAL] == 0 ? "--interval-s" : "--aht-s");
  if (a->given[O_PATIENCE] && a->v[O_PATIENCE] == 0)
    FAILF("EINVAL", "--patience-s must be positive");
  static const int fractions[] = {O_TARGET_SL, O_MAX_OCC, O_MAX_ABANDON};
  for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++)
    if (a->v[fractions[i]] > 1)
      FAILF("ERANGE", "%s must be a fraction in [0, 1] (got %g)",
           flag_names[fractions[i]], a->v[fractions[i]]);
  if (a->v[O_SHRINK] >= 1)
    FAILF("ERANGE", "%s must be a fraction in [0, 1) (got %g)", "--shrinkage",
         a->v[O_SHRINK]);
  int required = a->given[O_TARGET_SL] || a->given[O_MAX_OCC] ||
                 a->given[O_TARGET_ASA] || a->given[O_MAX_ABANDON];
  if (required == a->given[O_AGENTS])
    FAILF("EINVAL",
         "give either --agents (figures for that many) or a target "
         "(--target-sl, --max-occupancy, --target-asa-s, --max-abandon)");
  int is_a = a->given[O_PATIENCE];
  cr_staffing_req r = {a->v[O_ARRIVALS], a->v[O_INTERVAL], a->v[O_AHT],
                       a->given[O_TARGET_S] ? a->v[O_TARGET_S] : 20.0,
                       a->v[O_PATIENCE]};
  cr_staffing f;
  int rc;
  if (required) {
    cr_staffing_goal g = {a->v[O_TARGET_SL], a->v[O_MAX_OCC],
                          a->v[O_TARGET_ASA], a->v[O_MAX_ABANDON],
                          a->v[O_SHRINK]};
    if (g.service_level == 0 && g.max_occupancy == 0 && g.max_asa_s == 0 &&
        g.max_abandon == 0)
      FAILF("EINVAL", "every target given is 0: nothing to staff for");
    rc = is_a ? cr_erlang_a_agents(&r, &g, &f) : cr_erlang_c_agents(&r, &g, &f);
  } else {
    int32_t n = count_arg(a, O_AGENTS);
    rc = is_a ? cr_erlang_a(&r, n, &f) : cr_erlang_c(&r, n, &f);
    if (!rc)
      rc = cr_staffing_shrink(n, a->v[O_SHRINK], &f.agents_with_shrinkage);
  }
  if (rc)
    explain(rc, a, r.arrivals * r.aht_s / r.interval_s, is_a, required);
  args shown = *a;
  shown.v[O_TARGET_S] = r.target_s;
  if (a->json)
    print_json(&shown, &f, is_a);
  else
    print_report(&shown, &f, is_a, required);
}

int main(int argc, char **argv) {
  args a;
  parse_args(argc, argv, &a);
  if (a.erlang_b)
    run_erlang_b(&a);
  else
    run_queue(&a);
  return 0;
}
