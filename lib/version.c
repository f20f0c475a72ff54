#include "convroute.h"

const char *cr_version(void) { return CR_VERSION; }

unsigned cr_version_num(void) { return (unsigned)CR_VERSION_NUM; }
