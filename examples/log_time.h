/* Times in an interaction log, to milliseconds (examples only). */
#ifndef CR_EXAMPLES_LOG_TIME_H
#define CR_EXAMPLES_LOG_TIME_H
#include "convroute.h"
#include <stddef.h>

/* Decimal seconds ("1234", "-5.25") to ms, exactly (no binary rounding).
 * 0 ok, -1 bad. */
int log_parse_seconds(const char *s, size_t n, cr_time *out);
/* ISO-8601 (YYYY-MM-DD[(T| )hh:mm[:ss[.fff]][Z|(+|-)hh[:]mm]], to Unix ms)
 * when s[4] is '-', decimal seconds otherwise. 0 ok, -1 bad; s is not
 * trimmed and must not be empty. */
int log_parse_time(const char *s, size_t n, cr_time *out);

#endif
