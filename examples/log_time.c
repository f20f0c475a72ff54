/* Times in an interaction log (docs/metrics.md, "The interaction log"):
 * ISO-8601 or decimal seconds, to milliseconds. Shared by cr-kpi and
 * cr-sim --replay, so the two read the same log the same way. */
#include "log_time.h"

#include <ctype.h>
#include <stdint.h>

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  /* H. Hinnant, "chrono-Compatible Low-Level Date Algorithms". */
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **p, const char *e, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (*p >= e || !isdigit((unsigned char)**p))
      return -1;
    v = v * 10 + (**p - '0');
  }
  *out = v;
  return 0;
}

/* Fraction digits after '.', as milliseconds (rounded half up). */
static int frac_ms(const char **p, const char *e, int64_t *ms) {
  int64_t v = 0, scale = 1;
  int nd = 0;
  while (*p < e && isdigit((unsigned char)**p)) {
    if (nd < 4)
      v = v * 10 + (**p - '0'), scale *= 10, nd++;
    (*p)++;
  }
  if (!nd)
    return -1;
  *ms = (v * 1000 * 2 / scale + 1) / 2;
  return 0;
}

/* ISO-8601: YYYY-MM-DD[(T| )hh:mm[:ss[.fff]][Z|(+|-)hh[:]mm]] -> Unix ms */
static int parse_iso(const char *s, size_t n, cr_time *out) {
  const char *p = s, *e = s + n;
  int y, mo, d, h = 0, mi = 0, se = 0;
  int64_t ms = 0, off = 0;
  if (digits(&p, e, 4, &y) || p >= e || *p++ != '-' ||
      digits(&p, e, 2, &mo) || p >= e || *p++ != '-' || digits(&p, e, 2, &d))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31)
    return -1;
  if (p < e) {
    if (*p != 'T' && *p != 't' && *p != ' ')
      return -1;
    p++;
    if (digits(&p, e, 2, &h) || p >= e || *p++ != ':' || digits(&p, e, 2, &mi))
      return -1;
    if (p < e && *p == ':') {
      p++;
      if (digits(&p, e, 2, &se))
        return -1;
      if (p < e && (*p == '.' || *p == ',')) {
        p++;
        if (frac_ms(&p, e, &ms))
          return -1;
      }
    }
    if (h > 24 || mi > 59 || se > 60)
      return -1;
    if (p < e && (*p == 'Z' || *p == 'z')) {
      p++;
    } else if (p < e && (*p == '+' || *p == '-')) {
      int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
      if (digits(&p, e, 2, &oh))
        return -1;
      if (p < e && *p == ':')
        p++;
      if (p < e && digits(&p, e, 2, &om))
        return -1;
      off = sign * ((int64_t)oh * 3600 + om * 60) * 1000;
    }
  }
  if (p != e)
    return -1;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  *out = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000) + ms - off;
  return 0;
}

/* Decimal seconds ("1234", "-5.25") -> ms, exactly (no binary rounding). */
int log_parse_seconds(const char *s, size_t n, cr_time *out) {
  const char *p = s, *e = s + n;
  int neg = 0;
  if (p < e && (*p == '-' || *p == '+'))
    neg = *p++ == '-';
  int64_t v = 0;
  int nd = 0;
  while (p < e && isdigit((unsigned char)*p)) {
    if (v > (INT64_MAX / 1000 - 9) / 10)
      return -1;
    v = v * 10 + (*p++ - '0'), nd++;
  }
  int64_t ms = 0;
  if (p < e && *p == '.') {
    p++;
    if (frac_ms(&p, e, &ms))
      return -1;
  } else if (!nd) {
    return -1;
  }
  if (p != e)
    return -1;
  v = v * 1000 + ms;
  *out = neg ? -v : v;
  return 0;
}

int log_parse_time(const char *s, size_t n, cr_time *out) {
  if (n >= 10 && s[4] == '-')
    return parse_iso(s, n, out);
  return log_parse_seconds(s, n, out);
}

