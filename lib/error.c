/* Error codes: the sentences and names come from CR_ERRNO_MAP, so the enum,
 * cr_strerror() and cr_errname() can never disagree. */
#include "convroute.h"

const char *cr_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define CR__XX(name, val, msg)                                                \
  case (val):                                                                 \
    return msg;
    CR_ERRNO_MAP(CR__XX)
#undef CR__XX
  default:
    return "unknown error";
  }
}

const char *cr_errname(int code) {
  switch (code) {
  case 0:
    return "OK";
#define CR__XX(name, val, msg)                                                \
  case (val):                                                                 \
    return #name;
    CR_ERRNO_MAP(CR__XX)
#undef CR__XX
  default:
    return "UNKNOWN";
  }
}
