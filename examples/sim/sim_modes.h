/* cr-sim's modes: each is a main() of its own, chosen by cr-sim.c. */
#ifndef CRS_SIM_MODES_H
#define CRS_SIM_MODES_H

#include <stddef.h>

/* --mmc: M/M/N(+M) through the router against Erlang C/A (sim_mmc.c). */
int crs_mmc_main(int argc, char **argv);
/* --chain: skill chaining, Wallace & Whitt 2005 (sim_chain.c). */
int crs_chain_main(int argc, char **argv);
/* --replay LOG.csv: a real call log through the router (sim_replay.c). */
int crs_replay_main(int argc, char **argv);
/* --scenario / default: a day of a hybrid centre (sim_day.c, owned by the
 * scenario engineer). */
int cr_sim_day_main(int argc, char **argv);

/* Batch-means / replication statistics shared by the modes. */
/* Student t 0.975 quantile for df degrees of freedom (df >= 1). */
double crs_t975(int df);
/* Mean and 95 % half-width of x[0..n) by Student t (n >= 2). */
void crs_ci95(const double *x, size_t n, double *mean, double *half);

/* JSON helpers: a double (null when not finite). */
#include <stdio.h>
void crs_json_num(FILE *f, double v);

/* cr-sim's usage, every mode (cr-sim.c). */
void crs_usage(FILE *f);

#endif
