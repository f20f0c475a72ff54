/* cr-sim --chain: work in progress. */
#include <stdio.h>

#include "sim_modes.h"

int crs_chain_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fputs("cr-sim: --chain is not built yet\n", stderr);
  return 2;
}
