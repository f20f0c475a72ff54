#include <convroute.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(cr_version(), CR_VERSION) != 0)
    return 1;
  printf("convroute %s (%s)\n", cr_version(), cr_strerror(CR_ENOMEM));
  return 0;
}
