/* cr-sim: a discrete-event contact-centre simulator whose routing and
 * measurement are done by convroute (docs/sim.md).
 *
 *   cr-sim [--scenario NAME|FILE ...]   a day of a hybrid centre (default)
 *   cr-sim --mmc ...                    M/M/N(+M) against Erlang C / A
 *   cr-sim --chain ...                  skill chaining (Wallace & Whitt)
 *   cr-sim --replay LOG.csv --agents N|log|roster   a real call log
 *
 * This file only picks the mode; each lives in examples/sim/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_modes.h"

double crs_t975(int df) {
  /* Student t 0.975 quantiles (any table, e.g. NIST/SEMATECH e-Handbook
   * 1.3.6.7.2); beyond 30 the Cornish-Fisher expansion in 1/df around
   * z = 1.959964 is good to 1e-4. */
  static const double t[31] = {
      0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
      2.306,  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
      2.120,  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
      2.064,  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1)
    return NAN;
  if (df <= 30)
    return t[df];
  double z = 1.959964, n = df;
  double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

void crs_ci95(const double *x, size_t n, double *mean, double *half) {
  double s = 0, ss = 0;
  for (size_t i = 0; i < n; i++)
    s += x[i];
  double m = n ? s / (double)n : NAN;
  for (size_t i = 0; i < n; i++)
    ss += (x[i] - m) * (x[i] - m);
  *mean = m;
  *half = n >= 2 ? crs_t975((int)n - 1) * sqrt(ss / (double)(n - 1) /
                                               (double)n)
                 : NAN;
}

void crs_json_num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.10g", v);
  else
    fputs("null", f);
}

void crs_usage(FILE *f) {
  fputs("usage: cr-sim [--scenario default|FILE] [--start HH:00] [--hours N]\n"
        "              [--seed K] [--data DIR] [--model FILE | --save-model"
        " FILE]\n"
        "              [--json] [--svg FILE] [--print-scenario]"
        "   a simulated day\n"
        "       cr-sim --mmc --arrivals-per-hour L --aht-s S --agents N\n"
        "              --hours H [--patience-s P] [--target-s T] [--seed K]\n"
        "              [--warmup-h W] [--batches B] [--strategy NAME] [--json]\n"
        "       cr-sim --chain [--types K] [--agents-per-type M] [--load R]\n"
        "              [--hours H] [--warmup-h W] [--aht-s S] [--patience-s P]\n"
        "              [--target-s T] [--reps R] [--seed K] [--json]\n"
        "       cr-sim --replay LOG.csv --agents N|log|roster [--reps R]\n"
        "              [--target-s T] [--json]\n"
        "The day's scenario format: docs/sim_day.md (--print-scenario shows"
        " the embedded\ndefault); the other modes: docs/sim.md.\n",
        f);
}

int main(int argc, char **argv) {
  /* --help anywhere wins over the mode ("cr-sim --mmc --help" said
   * "--help needs a number" and exited 2) */
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      crs_usage(stdout);
      return 0;
    }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--mmc"))
      return crs_mmc_main(argc, argv);
    if (!strcmp(argv[i], "--chain"))
      return crs_chain_main(argc, argv);
    if (!strcmp(argv[i], "--replay"))
      return crs_replay_main(argc, argv);
  }
  /* --scenario, or no mode flag at all: the default day. */
  return cr_sim_day_main(argc, argv);
}
