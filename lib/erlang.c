/* Erlang B, C and A staffing: pure functions, no allocation.
 *
 * Method (docs/staffing.md has the derivations):
 *   - Erlang B by the recursion B(n) = A B(n-1) / (n + A B(n-1)), which is
 *     numerically stable (each step contracts the error) and never forms a
 *     factorial; Erlang C from B: C = B / (1 - (A/N)(1 - B)).
 *   - Erlang A (M/M/N+M) in closed form after Mandelbaum & Zeltyn ("The
 *     Palm/Erlang-A queue, with applications to call centers", 2007):
 *     with x = N mu / theta and y = lambda / theta, every figure is a
 *     combination of Erlang B and the function
 *       A(s, y) = s e^y y^-s gamma(s, y) = s * int_0^1 u^(s-1) e^(y(1-u)) du
 *     (gamma = lower incomplete gamma). We evaluate its logarithm, so loads
 *     of tens of thousands of Erlangs neither overflow nor underflow.
 *   - Agents needed: start from a bound below which the goal provably fails
 *     (N > A for Erlang C, N >= A (1 - b) for Erlang B, N >= SL * A for
 *     Erlang A), gallop up (steps 1, 2, 4, ...) and bisect, carrying the
 *     Erlang B recursion forward from the last failing N, so a 10,000-agent
 *     centre costs one O(N) recursion plus O(sqrt(N) log N) work.
 */
#include "convroute.h"

#include <math.h>
#include <stdbool.h>

#define LN_2PI 1.8378770664093454836
#define SLACK 1e-12 /* targets compare with this much rounding room */
/* Series and continued fraction need O(sqrt(s)) terms; s <= ~1e10 here
 * (check_a_range), so this cap is never reached, only a guard. */
#define MAX_TERMS 1e7

/* ---------------------------------------------------------------- gamma */

/* Stirling's series remainder: ln Gamma(s) - [(s - 1/2) ln s - s +
 * ln(2 pi)/2], for s >= 10 (Abramowitz & Stegun 6.1.41); the next term is
 * below 1e-12 there. */
static double stirling_corr(double s) {
  double r = 1.0 / s, r2 = r * r;
  return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
}

/* ln Gamma(s) for s > 0, without lgamma() (which writes the global signgam
 * in glibc): shift up to s >= 10, then Stirling. */
static double ln_gamma(double s) {
  double shift = 0.0;
  while (s < 10.0) {
    shift += log(s);
    s += 1.0;
  }
  return (s - 0.5) * log(s) - s + 0.5 * LN_2PI + stirling_corr(s) - shift;
}

/* D(s, z) = s ln z - z - ln Gamma(s): the log of the prefactor of both
 * incomplete gamma expansions. For large s the three terms are huge and
 * nearly cancel; written as s (log1p(d) - d) + ln(s)/2 - ln(2 pi)/2 - corr
 * with d = (z - s) / s it keeps full precision. */
static double ln_prefactor(double s, double z) {
  if (z <= 0.0)
    return -INFINITY;
  if (s < 10.0)
    return s * log(z) - z - ln_gamma(s);
  double d = (z - s) / s;
  return s * (log1p(d) - d) + 0.5 * log(s) - 0.5 * LN_2PI - stirling_corr(s);
}

/* ln(1 - e^t) for t < 0 (Maechler's log1mexp). */
static double log1mexp(double t) {
  return t > -0.6931471805599453 ? log(-expm1(t)) : log1p(-exp(t));
}

/* ln(1 + e^t) without overflow. */
static double log1pexp(double t) {
  return t > 35.0 ? t + exp(-t) : log1p(exp(t));
}

/* The series gamma(s, z) = z^s e^-z sum_n z^n / (s (s+1) ... (s+n)),
 * returned as s * sum (starts at 1, terms fall since z < s + 1). */
static double lower_series(double s, double z) {
  double term = 1.0, sum = 1.0;
  for (double n = 1.0; n < MAX_TERMS; n += 1.0) {
    term *= z / (s + n);
    sum += term;
    if (term < sum * 1e-17)
      break;
  }
  return sum;
}

/* ln of the continued fraction with Gamma(s, z) = e^-z z^s * CF, for
 * z >= s + 1, by the modified Lentz method (Numerical Recipes 6.2). */
static double ln_upper_cf(double s, double z) {
  const double tiny = 1e-300;
  double b = z + 1.0 - s, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (double i = 1.0; i < MAX_TERMS; i += 1.0) {
    double an = -i * (i - s);
    b += 2.0;
    d = an * d + b;
    if (fabs(d) < tiny)
      d = tiny;
    c = b + an / c;
    if (fabs(c) < tiny)
      c = tiny;
    d = 1.0 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < 1e-15) /* ~4.5 ulp: converged */
      break;
  }
  return log(h);
}

/* ln of s e^y y^-s gamma(s, y u) with u = e^lnu in (0, 1]:
 *   = ln[ s * int_0^u v^(s-1) e^(y (1 - v)) dv ].
 * With lnu = 0 this is ln A(s, y) of Mandelbaum & Zeltyn. */
static double ln_scaled_lower(double s, double y, double lnu) {
  double z = y * exp(lnu);
  if (z < s + 1.0) /* series: the huge factors cancel analytically */
    return s * lnu - y * expm1(lnu) + log(lower_series(s, z));
  double lnq = ln_prefactor(s, z) + ln_upper_cf(s, z);
  return log(s) - ln_prefactor(s, y) + log1mexp(lnq);
}

/* ------------------------------------------------------------- erlang b */

/* B(n1) from B(n0) = b0, n0 <= n1, by B(n) = A B / (n + A B). */
static double erlang_b_step(double a, int32_t n0, double b0, int32_t n1) {
  double b = b0;
  for (int32_t n = n0 + 1; n <= n1; n++) {
    double ab = a * b;
    b = ab / ((double)n + ab);
  }
  return b;
}

static bool finite_nonneg(double v) { return isfinite(v) && v >= 0.0; }

static int check_load(double a) {
  if (!finite_nonneg(a))
    return CR_EINVAL;
  return a > CR_STAFFING_MAX_AGENTS ? CR_ERANGE : 0;
}

static int check_count(int32_t n) {
  if (n < 0)
    return CR_EINVAL;
  return n > CR_STAFFING_MAX_AGENTS ? CR_ERANGE : 0;
}

int cr_erlang_b(double load_erlangs, int32_t lines, double *blocking) {
  int rc;
  if (!blocking)
    return CR_EINVAL;
  if ((rc = check_load(load_erlangs)) || (rc = check_count(lines)))
    return rc;
  *blocking = erlang_b_step(load_erlangs, 0, 1.0, lines);
  return 0;
}

/* ------------------------------------------------------------ the model */

typedef enum { MODEL_C, MODEL_A } model_kind;

/* The request in the model's own terms, validated. */
typedef struct model {
  model_kind kind;
  double a;      /* offered load, Erlangs */
  double aht;    /* seconds */
  double lambda; /* arrivals per second */
  double theta;  /* abandonment rate per waiting contact, 1/s (A only) */
  double t;      /* service-level threshold, s */
} model;

static int model_init(model *m, model_kind kind, const cr_staffing_req *r) {
  if (!r)
    return CR_EINVAL;
  if (!finite_nonneg(r->arrivals) || !finite_nonneg(r->target_s) ||
      !(isfinite(r->interval_s) && r->interval_s > 0.0) ||
      !(isfinite(r->aht_s) && r->aht_s > 0.0))
    return CR_EINVAL;
  if (kind == MODEL_A && !(isfinite(r->patience_s) && r->patience_s > 0.0))
    return CR_EINVAL;
  m->kind = kind;
  m->lambda = r->arrivals / r->interval_s;
  m->aht = r->aht_s;
  m->a = m->lambda * r->aht_s;
  m->t = r->target_s;
  m->theta = kind == MODEL_A ? 1.0 / r->patience_s : 0.0;
  return check_load(m->a);
}

static void zero_load(cr_staffing *f, int32_t n) {
  *f = (cr_staffing){.agents = n, .agents_with_shrinkage = n,
                     .service_level = 1.0};
}

/* Erlang C for n > a, given b = B(n). */
static void eval_c(const model *m, int32_t n, double b, cr_staffing *f) {
  double a = m->a, dn = (double)n;
  double c = b / (1.0 - (a / dn) * (1.0 - b));
  double gap = dn - a; /* N - A > 0 */
  *f = (cr_staffing){.load_erlangs = a, .agents = n,
                     .agents_with_shrinkage = n, .p_wait = c};
  /* P(W > t) = C exp(-(N mu - lambda) t) for the FCFS M/M/N queue. */
  f->service_level = 1.0 - c * exp(-gap * m->t / m->aht);
  f->asa_s = c * m->aht / gap;
  f->asa_answered_s = f->asa_s;
  f->occupancy = a / dn;
  f->queue_len = m->lambda * f->asa_s;
}

/* L(s) = ln int_0^1 u^(s-1) e^(y(1-u)) du; E[W | delayed, served] =
 * -L'(x+1) / theta (docs/staffing.md), taken by a central difference. */
static double dl_ds(double s, double y) {
  double h = 1e-4 * (s > 1.0 ? sqrt(s) : 1.0);
  double lp = ln_scaled_lower(s + h, y, 0.0) - log(s + h);
  double lm = ln_scaled_lower(s - h, y, 0.0) - log(s - h);
  return (lp - lm) / (2.0 * h);
}

/* Erlang A for n >= 1 agents, given b = B(n) at load a.
 *
 * With x = N mu / theta, y = lambda / theta, E = B(N), A1 = A(x+1, y):
 *   A = A(x, y)   = 1 + y/(x+1) A1
 *   pi_N          = E / (1 + (A - 1) E)          P(N busy, none waiting)
 *   p_wait        = pi_N A
 *   P(delayed, served)          = pi_N x/(x+1) A1
 *   p_abandon     = pi_N [1 + (y - x)/(x+1) A1]
 *   P(delayed, served, W > T)   = pi_N x/(x+1) H,  H = A1 with the
 *                                 integral cut at u = e^(-theta T)
 *   service_level = 1 - p_abandon - P(delayed, served, W > T)
 *   asa_s         = p_abandon / theta  (theta Lq = lambda p_abandon)
 * Overloaded, ln A1 is as large as y (1e7 and more), so exp() of
 * differences of such logs would cost |ln A1| * 1e-16 of precision. Hence
 * everything is written as shares of the delayed contacts that need only
 * r = (x+1) / A1 (tiny exactly when A1 is huge):
 *   served share  = x/(x+1) A1 / A = x / (y + r)
 *   abandon share = (y - x + r) / (y + r)
 *   late share    = served share * H / A1
 *   1 - p_wait    = q / (1 + q),  q = (1 - E) / (E A)  */
static void eval_a(const model *m, int32_t n, double b, cr_staffing *f) {
  double mu = 1.0 / m->aht;
  double x = (double)n * mu / m->theta, y = m->lambda / m->theta;
  double ln_a1 = ln_scaled_lower(x + 1.0, y, 0.0);
  double ln_h = ln_scaled_lower(x + 1.0, y, -m->theta * m->t);
  double ln_a = log1pexp(log(y / (x + 1.0)) + ln_a1);
  double r = (x + 1.0) * exp(-ln_a1);
  double q = exp(log1p(-b) - log(b) - ln_a); /* +inf when b underflows */
  double no_wait = isinf(q) ? 1.0 : q / (1.0 + q);
  double p_wait = 1.0 / (1.0 + q);
  double served = x / (y + r);
  double aband = fmax(0.0, (y - x + r) / (y + r));
  double in_time = served * -expm1(ln_h - ln_a1); /* served and W <= T */
  *f = (cr_staffing){.load_erlangs = m->a, .agents = n,
                     .agents_with_shrinkage = n};
  f->p_wait = p_wait;
  f->p_abandon = p_wait * aband;
  f->service_level = no_wait + p_wait * in_time;
  f->asa_s = f->p_abandon / m->theta;
  f->queue_len = m->lambda * f->asa_s;
  double answered = no_wait + p_wait * served; /* 1 - p_abandon */
  f->occupancy = m->a * answered / (double)n;
  /* Mean wait of the answered: E[W; served] / P(served), where the
   * delayed-and-served part has mean -L'(x+1)/theta. */
  f->asa_answered_s =
      answered > 0.0
          ? p_wait * served * (-dl_ds(x + 1.0, y) / m->theta) / answered
          : 0.0;
}

/* Erlang A needs patience_s <= CR__PATIENCE_RATIO * aht_s: the series and
 * continued fraction take O(sqrt(x + y)) terms with x = N patience / aht,
 * and beyond that the model is Erlang C to the precision of a double. */
#define CR__PATIENCE_RATIO 1e4

static int check_a_range(const model *m) {
  double ratio = 1.0 / (m->aht * m->theta); /* patience / aht */
  double y = m->lambda / m->theta;
  if (!(ratio <= CR__PATIENCE_RATIO) || !(y > 0.0) || !isfinite(y))
    return CR_ERANGE;
  return 0;
}

static void eval(const model *m, int32_t n, double b, cr_staffing *f) {
  if (m->kind == MODEL_C)
    eval_c(m, n, b, f);
  else
    eval_a(m, n, b, f);
}

int cr_erlang_c(const cr_staffing_req *req, int32_t agents,
                cr_staffing *out) {
  model m;
  int rc;
  if (!out)
    return CR_EINVAL;
  if ((rc = model_init(&m, MODEL_C, req)) || (rc = check_count(agents)))
    return rc;
  if (m.a == 0.0) {
    zero_load(out, agents);
    return 0;
  }
  if (m.a >= (double)agents)
    return CR_EINFEASIBLE; /* the queue grows without bound */
  eval_c(&m, agents, erlang_b_step(m.a, 0, 1.0, agents), out);
  return 0;
}

int cr_erlang_a(const cr_staffing_req *req, int32_t agents,
                cr_staffing *out) {
  model m;
  int rc;
  if (!out)
    return CR_EINVAL;
  if ((rc = model_init(&m, MODEL_A, req)) || (rc = check_count(agents)))
    return rc;
  if (m.a == 0.0) {
    zero_load(out, agents);
    return 0;
  }
  if (agents == 0)
    return CR_ERANGE;
  if ((rc = check_a_range(&m)))
    return rc;
  eval_a(&m, agents, erlang_b_step(m.a, 0, 1.0, agents), out);
  return 0;
}

/* ------------------------------------------------------- agents needed */

static int check_fraction(double v) {
  if (!finite_nonneg(v))
    return CR_EINVAL;
  return v > 1.0 ? CR_ERANGE : 0;
}

static int check_goal(const cr_staffing_goal *g) {
  int rc;
  if (!g)
    return CR_EINVAL;
  if ((rc = check_fraction(g->service_level)) ||
      (rc = check_fraction(g->max_occupancy)) ||
      (rc = check_fraction(g->max_abandon)) ||
      (rc = check_fraction(g->shrinkage)))
    return rc;
  if (!finite_nonneg(g->max_asa_s))
    return CR_EINVAL;
  if (g->shrinkage >= 1.0)
    return CR_ERANGE;
  if (g->service_level == 0.0 && g->max_occupancy == 0.0 &&
      g->max_asa_s == 0.0 && g->max_abandon == 0.0)
    return CR_EINVAL; /* nothing to staff for */
  return 0;
}

static bool meets(const cr_staffing *f, const cr_staffing_goal *g) {
  if (g->service_level > 0.0 && f->service_level < g->service_level - SLACK)
    return false;
  if (g->max_occupancy > 0.0 && f->occupancy > g->max_occupancy + SLACK)
    return false;
  if (g->max_asa_s > 0.0 && f->asa_s > g->max_asa_s * (1.0 + SLACK))
    return false;
  if (g->max_abandon > 0.0 && f->p_abandon > g->max_abandon + SLACK)
    return false;
  return true;
}

/* The least N >= lo whose figures meet g (every N < lo fails). Gallops up
 * from lo, then bisects; the Erlang B recursion is carried forward from
 * the largest N known to fail, so B(lo) costs O(lo) once and the rest
 * O(answer - lo) per probe. Assumes the goal is monotone in N, which holds
 * for every constraint here (more agents: less waiting, less abandonment,
 * lower occupancy). */
static int search(const model *m, const cr_staffing_goal *g, int32_t lo,
                  cr_staffing *best) {
  cr_staffing f;
  int32_t bad = lo, good = -1, step = 1;
  double b_bad = erlang_b_step(m->a, 0, 1.0, lo);
  eval(m, lo, b_bad, &f);
  if (meets(&f, g)) {
    *best = f;
    return 0;
  }
  while (good < 0) {
    if (bad >= CR_STAFFING_MAX_AGENTS)
      return CR_EINFEASIBLE;
    int32_t n = bad > CR_STAFFING_MAX_AGENTS - step ? CR_STAFFING_MAX_AGENTS
                                                    : bad + step;
    double b = erlang_b_step(m->a, bad, b_bad, n);
    eval(m, n, b, &f);
    if (meets(&f, g)) {
      good = n;
      *best = f;
    } else {
      bad = n;
      b_bad = b;
      step = step < (1 << 29) ? step * 2 : step;
    }
  }
  while (good - bad > 1) {
    int32_t mid = bad + (good - bad) / 2;
    double b = erlang_b_step(m->a, bad, b_bad, mid);
    eval(m, mid, b, &f);
    if (meets(&f, g)) {
      good = mid;
      *best = f;
    } else {
      bad = mid;
      b_bad = b;
    }
  }
  return 0;
}

/* ceil(v) that ignores a last-bit excess: 14 / (1 - 0.3) must give 20. */
static double ceil_tol(double v) {
  double c = ceil(v);
  return (c - v > 1.0 - 1e-9 * fmax(1.0, v)) ? c - 1.0 : c;
}

int cr_staffing_shrink(int32_t agents, double shrinkage,
                       int32_t *scheduled) {
  int rc;
  if (!scheduled)
    return CR_EINVAL;
  if ((rc = check_count(agents)) || (rc = check_fraction(shrinkage)))
    return rc;
  if (shrinkage >= 1.0)
    return CR_ERANGE;
  double v = ceil_tol((double)agents / (1.0 - shrinkage));
  if (v > (double)INT32_MAX)
    return CR_ERANGE;
  *scheduled = (int32_t)v;
  return 0;
}

static int agents_common(model_kind kind, const cr_staffing_req *req,
                         const cr_staffing_goal *g, cr_staffing *out) {
  model m;
  cr_staffing f;
  int rc;
  if (!out)
    return CR_EINVAL;
  if ((rc = model_init(&m, kind, req)) || (rc = check_goal(g)))
    return rc;
  /* Erlang C has no abandonment (p_abandon is 0): max_abandon alone gives
   * it nothing to staff for */
  if (kind == MODEL_C && g->service_level == 0.0 &&
      g->max_occupancy == 0.0 && g->max_asa_s == 0.0)
    return CR_EINVAL;
  if (m.a == 0.0) {
    zero_load(&f, 0);
  } else {
    if (g->service_level >= 1.0)
      return CR_EINFEASIBLE; /* P(wait) > 0 for every finite N */
    double lo;
    if (kind == MODEL_C) {
      lo = floor(m.a) + 1.0; /* stability: N > A */
      if (g->max_occupancy > 0.0)
        lo = fmax(lo, ceil_tol(m.a / g->max_occupancy));
    } else {
      /* Answered <= N mu, so SL <= N / A and p_abandon >= 1 - N / A. */
      lo = fmax(1.0, floor(g->service_level * m.a));
      if (g->max_abandon > 0.0)
        lo = fmax(lo, floor(m.a * (1.0 - g->max_abandon)));
      if ((rc = check_a_range(&m)))
        return rc;
    }
    if (lo > CR_STAFFING_MAX_AGENTS)
      return CR_EINFEASIBLE;
    if ((rc = search(&m, g, (int32_t)lo, &f)))
      return rc;
  }
  if ((rc = cr_staffing_shrink(f.agents, g->shrinkage,
                               &f.agents_with_shrinkage)))
    return rc;
  *out = f;
  return 0;
}

int cr_erlang_c_agents(const cr_staffing_req *req,
                       const cr_staffing_goal *goal, cr_staffing *out) {
  return agents_common(MODEL_C, req, goal, out);
}

int cr_erlang_a_agents(const cr_staffing_req *req,
                       const cr_staffing_goal *goal, cr_staffing *out) {
  return agents_common(MODEL_A, req, goal, out);
}

int cr_erlang_b_lines(double load_erlangs, double max_blocking,
                      int32_t *lines) {
  int rc;
  if (!lines)
    return CR_EINVAL;
  if ((rc = check_load(load_erlangs)) || (rc = check_fraction(max_blocking)))
    return rc;
  if (load_erlangs == 0.0) {
    *lines = 0; /* nothing offered, nothing to carry */
    return 0;
  }
  if (max_blocking == 0.0)
    return CR_EINFEASIBLE; /* B(n) > 0 for every n */
  double a = load_erlangs;
  /* Carried load A (1 - B(n)) <= n, so B(n) <= b needs n >= A (1 - b). */
  int32_t n = (int32_t)floor(a * (1.0 - max_blocking));
  double b = erlang_b_step(a, 0, 1.0, n);
  /* Lines are cheap to step: B(n+1) is O(1) from B(n), and the answer is
   * within O(sqrt(A)) of the bound. */
  while (b > max_blocking + SLACK * max_blocking) {
    if (n >= CR_STAFFING_MAX_AGENTS)
      return CR_EINFEASIBLE;
    n++;
    b = erlang_b_step(a, n - 1, b, n);
  }
  *lines = n;
  return 0;
}
