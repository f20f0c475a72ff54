/* cr-sim --replay: work in progress. */
#include <stdio.h>

#include "sim_modes.h"

int crs_replay_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("cr-sim: --replay is not built yet\n", stderr);
  return 2;
}
