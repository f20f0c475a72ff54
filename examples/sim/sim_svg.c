/* cr-sim's day chart: one SVG a supervisor reads top to bottom, four
 * panels over the day on one time axis (reporting intervals):
 *
 *   1. arrivals per interval, stacked by channel
 *   2. conversations waiting for an agent: the interval's mean (area) and
 *      its peak (line), sampled each minute
 *   3. service level per interval (by queue entry) against its target
 *      (dashed); intervals below target are marked red
 *   4. agent occupancy (slots in use / slots staffed) and the number of
 *      agents logged in (bars, right scale)
 *
 * Plain SVG 1.1 written by hand (no library): rectangles, polylines and
 * text, so any browser or rsvg-convert renders it.
 *
 * SPDX-License-Identifier: MIT */
#include "day_scn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 960
#define LEFT 70
#define RIGHT 60
#define PANEL_H 140
#define GAP 46
#define TOP 78

static const char *ch_color(int ch) {
  switch (ch) {
  case CR_CHANNEL_WHATSAPP:
    return "#25a244";
  case CR_CHANNEL_CHAT:
    return "#3b7dd8";
  case CR_CHANNEL_VOICE:
    return "#8e44ad";
  case CR_CHANNEL_SMS:
    return "#e67e22";
  case CR_CHANNEL_MESSENGER:
    return "#16a2b8";
  default:
    return "#7f8c8d";
  }
}

/* A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
static double nice_max(double v) {
  if (!(v > 0))
    return 1;
  double p = pow(10, floor(log10(v)));
  for (int k = 0; k < 3; k++) {
    double m = (k == 0 ? 1 : k == 1 ? 2 : 5) * p;
    if (v <= m)
      return m;
  }
  return 10 * p;
}

/* An axis of counts: its four ticks whole numbers. */
static double count_max(double v) {
  double m = nice_max(v);
  return fmod(m / 4, 1) ? 4 * ceil(fmax(v, 1) / 4) : m;
}

typedef struct panel {
  FILE *f;
  double y0;    /* top */
  double plot_w;
  size_t n;     /* intervals */
} panel;

static double px(const panel *p, double i) {
  return LEFT + p->plot_w * i / (double)p->n;
}

static double py(const panel *p, double v, double vmax) {
  double r = vmax > 0 ? v / vmax : 0;
  if (r > 1)
    r = 1;
  if (r < 0)
    r = 0;
  return p->y0 + PANEL_H * (1 - r);
}

static void frame(panel *p, const char *title, double vmax, int pct,
                  const char *unit) {
  FILE *f = p->f;
  fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"t\">%s</text>\n", LEFT,
          p->y0 - 10, title);
  fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
             "fill=\"#fafafa\" stroke=\"#ccc\"/>\n",
          LEFT, p->y0, p->plot_w, PANEL_H);
  for (int k = 0; k <= 4; k++) {
    double v = vmax * k / 4, y = py(p, v, vmax);
    if (k && k < 4)
      fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"#e4e4e4\"/>\n",
              LEFT, y, LEFT + p->plot_w, y);
    if (pct)
      fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"a\" "
                 "text-anchor=\"end\">%.0f%%</text>\n",
              LEFT - 6, y + 4, 100 * v);
    else
      fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"a\" "
                 "text-anchor=\"end\">%g%s</text>\n",
              LEFT - 6, y + 4, v, k == 4 ? unit : "");
  }
}

static void time_axis(panel *p, const day_result *r) {
  FILE *f = p->f;
  double yb = p->y0 + PANEL_H;
  /* a label every hour, every two beyond 14 hours (they would touch) */
  int every = (int)p->n * r->scn->interval_min > 14 * 60 ? 120 : 60;
  for (size_t i = 0; i <= p->n; i++) {
    int m = i < p->n ? r->iv[i].start_min
                     : r->iv[p->n - 1].start_min + r->scn->interval_min;
    if (m % every)
      continue;
    double x = px(p, (double)i);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#999\"/>\n",
            x, yb, x, yb + 4);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"a\" "
               "text-anchor=\"middle\">%02d:00</text>\n",
            x, yb + 16, m / 60 % 24);
  }
}

static void legend(FILE *f, double x, double y, const char *color,
                   const char *text, int dashed) {
  fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"%s\" stroke-width=\"3\"%s/>\n",
          x, y - 4, x + 18, y - 4, color,
          dashed ? " stroke-dasharray=\"5,3\"" : "");
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"a\">%s</text>\n", x + 22, y,
          text);
}

static void arrivals(panel *p, const day_result *r) {
  FILE *f = p->f;
  double vmax = 0;
  for (size_t i = 0; i < p->n; i++)
    vmax = fmax(vmax, (double)r->iv[i].k.arrivals);
  vmax = count_max(vmax);
  frame(p, "Arrivals per interval (conversations, by channel)", vmax, 0, "");
  double bw = p->plot_w / (double)p->n;
  for (size_t i = 0; i < p->n; i++) {
    double base = 0;
    for (int c = 0; c < DAY_NCH; c++) {
      double v = (double)r->iv[i].arrivals_ch[c];
      if (!v)
        continue;
      double y1 = py(p, base + v, vmax), y0 = py(p, base, vmax);
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                 "height=\"%.1f\" fill=\"%s\"><title>%s %llu</title>"
                 "</rect>\n",
              px(p, (double)i) + 1, y1, bw - 2, y0 - y1, ch_color(c),
              cr_channel_name(c), (unsigned long long)r->iv[i].arrivals_ch[c]);
      base += v;
    }
  }
  double x = LEFT + p->plot_w - 220;
  for (int c = 0; c < DAY_NCH; c++)
    if (r->scn->has_ch[c]) {
      legend(f, x, p->y0 - 10, ch_color(c), cr_channel_name(c), 0);
      x += 100;
    }
  time_axis(p, r);
}

/* One polyline through the points that have a value; intervals without
 * data (NAN: nobody queued, nobody logged in) are skipped, not drawn as 0. */
static void polyline(panel *p, const double *v, double vmax,
                     const char *color, const char *extra) {
  FILE *f = p->f;
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" %s "
             "points=\"",
          color, extra);
  for (size_t i = 0; i < p->n; i++)
    if (!isnan(v[i]))
      fprintf(f, "%.1f,%.1f ", px(p, i + 0.5), py(p, v[i], vmax));
  fprintf(f, "\"/>\n");
}

static void queue(panel *p, const day_result *r) {
  FILE *f = p->f;
  double avg[DAY_MAX_INTERVALS], mx[DAY_MAX_INTERVALS], vmax = 0;
  for (size_t i = 0; i < p->n; i++) {
    const day_interval *iv = &r->iv[i];
    avg[i] = iv->samples ? iv->qlen_sum / iv->samples : 0;
    mx[i] = iv->qlen_max;
    vmax = fmax(vmax, mx[i]);
  }
  vmax = count_max(fmax(vmax, 4));
  frame(p, "Waiting for an agent (conversations)", vmax, 0, "");
  /* the mean as a filled area */
  fprintf(f, "<polygon fill=\"#f5b041\" fill-opacity=\"0.55\" points=\"");
  fprintf(f, "%.1f,%.1f ", px(p, 0.5), py(p, 0, vmax));
  for (size_t i = 0; i < p->n; i++)
    fprintf(f, "%.1f,%.1f ", px(p, i + 0.5), py(p, avg[i], vmax));
  fprintf(f, "%.1f,%.1f\"/>\n", px(p, p->n - 0.5), py(p, 0, vmax));
  polyline(p, mx, vmax, "#c0392b", "");
  legend(f, LEFT + p->plot_w - 260, p->y0 - 10, "#f5b041", "mean", 0);
  legend(f, LEFT + p->plot_w - 170, p->y0 - 10, "#c0392b", "peak (1-min)",
         0);
  time_axis(p, r);
}

static void service(panel *p, const day_result *r) {
  FILE *f = p->f;
  double sl[DAY_MAX_INTERVALS];
  /* one target line; the thresholds are per channel */
  char title[200];
  int n = snprintf(title, sizeof title,
                   "Service level per interval vs target %.0f%% (answered "
                   "within",
                   100 * r->sl_target);
  for (int c = 0, k = 0; c < DAY_NCH && n > 0 && (size_t)n < sizeof title;
       c++)
    if (r->scn->has_ch[c])
      n += snprintf(title + n, sizeof title - (size_t)n, "%s %.0f s %s",
                    k++ ? "," : "", r->scn->sl_threshold_s[c],
                    cr_channel_name(c));
  if (n > 0 && (size_t)n < sizeof title)
    snprintf(title + n, sizeof title - (size_t)n, ")");
  frame(p, title, 1, 1, "");
  for (size_t i = 0; i < p->n; i++)
    sl[i] = day_sl(&r->iv[i].k);
  double yt = py(p, r->sl_target, 1);
  fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
             "stroke=\"#555\" stroke-width=\"1.5\" "
             "stroke-dasharray=\"6,4\"/>\n",
          LEFT, yt, LEFT + p->plot_w, yt);
  polyline(p, sl, 1, "#2c3e50", "");
  for (size_t i = 0; i < p->n; i++)
    if (!isnan(sl[i]))
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\">"
                 "<title>%02d:%02d %.1f%%</title></circle>\n",
              px(p, i + 0.5), py(p, sl[i], 1),
              sl[i] + 1e-12 < r->sl_target ? "#c0392b" : "#27ae60",
              r->iv[i].start_min / 60 % 24, r->iv[i].start_min % 60,
              100 * sl[i]);
  legend(f, LEFT + p->plot_w - 190, p->y0 - 10, "#2c3e50", "SL", 0);
  legend(f, LEFT + p->plot_w - 120, p->y0 - 10, "#555", "target", 1);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"a\" "
             "text-anchor=\"end\">abandoned conversations count as "
             "misses; red: below target</text>\n",
          LEFT + p->plot_w - 4, p->y0 + PANEL_H - 6);
  time_axis(p, r);
}

static void occupancy(panel *p, const day_result *r) {
  FILE *f = p->f;
  double occ[DAY_MAX_INTERVALS], amax = 0;
  for (size_t i = 0; i < p->n; i++) {
    const day_interval *iv = &r->iv[i];
    occ[i] = iv->occ_samples ? iv->occ_sum / iv->occ_samples : NAN;
    amax = fmax(amax, iv->samples ? iv->staffed_sum / iv->samples : 0);
  }
  amax = count_max(fmax(amax, 4));
  frame(p, "Agent occupancy (slots in use / staffed) and agents logged in",
        1, 1, "");
  double bw = p->plot_w / (double)p->n;
  for (size_t i = 0; i < p->n; i++) {
    const day_interval *iv = &r->iv[i];
    double a = iv->samples ? iv->staffed_sum / iv->samples : 0;
    double y = py(p, a, amax);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
               "fill=\"#d6dbdf\"><title>%.1f agents</title></rect>\n",
            px(p, (double)i) + 1, y, bw - 2, p->y0 + PANEL_H - y, a);
  }
  for (int k = 0; k <= 4; k++)
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"a\">%g</text>\n",
            LEFT + p->plot_w + 6, py(p, amax * k / 4, amax) + 4,
            amax * k / 4);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"a\">agents</text>\n",
          LEFT + p->plot_w + 6, p->y0 - 10);
  polyline(p, occ, 1, "#8e44ad", "");
  legend(f, LEFT + p->plot_w - 260, p->y0 - 10, "#8e44ad", "occupancy", 0);
  legend(f, LEFT + p->plot_w - 150, p->y0 - 10, "#d6dbdf", "agents", 0);
  time_axis(p, r);
}

/* Text content as XML 1.0 allows it: the markup characters escaped, and
 * the C0 controls other than tab, newline and return (a scenario name may
 * hold them through a \u escape) replaced by U+FFFD, since XML 1.0 has no
 * way to write them at all (section 2.2, Char) and a renderer refuses the
 * whole file. */
static void esc(FILE *f, const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
      fputs("\xEF\xBF\xBD", f);
    else if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else if (*s == '"')
      fputs("&quot;", f);
    else
      fputc(*s, f);
}

int day_svg_write(const day_result *r, const char *path) {
  if (!r->niv)
    return -1;
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int h = TOP + 4 * (PANEL_H + GAP) + 10;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
             "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
             "<style>.t{font-size:13px;font-weight:bold;fill:#222}"
             ".a{font-size:11px;fill:#555}.h{font-size:17px;"
             "font-weight:bold;fill:#111}</style>\n"
             "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          W, h, W, h);
  fprintf(f, "<text x=\"%d\" y=\"26\" class=\"h\">", LEFT);
  esc(f, r->scn->name);
  fprintf(f, "</text>\n");
  const day_kpi *t = &r->total;
  fprintf(f, "<text x=\"%d\" y=\"48\" class=\"a\">%llu conversations: "
             "%.1f%% contained by the bot, %llu answered by agents, "
             "service level %.1f%%, ASA %.0f s, abandoned %.1f%%, "
             "occupancy %.0f%%</text>\n",
          LEFT, (unsigned long long)t->arrivals,
          100 * (isnan(day_containment(t)) ? 0 : day_containment(t)),
          (unsigned long long)t->answered,
          100 * (isnan(day_sl(t)) ? 0 : day_sl(t)),
          isnan(day_asa(t)) ? 0 : day_asa(t),
          100 * (isnan(day_abandon(t)) ? 0 : day_abandon(t)),
          r->occ_samples ? 100 * r->occ_sum / r->occ_samples : 0.0);
  panel p = {f, TOP, W - LEFT - RIGHT, r->niv};
  arrivals(&p, r);
  p.y0 += PANEL_H + GAP;
  queue(&p, r);
  p.y0 += PANEL_H + GAP;
  service(&p, r);
  p.y0 += PANEL_H + GAP;
  occupancy(&p, r);
  fprintf(f, "</svg>\n");
  /* a write that failed early (disk full) leaves the error flag set even
   * when the final flush in fclose succeeds */
  int bad = ferror(f);
  return fclose(f) || bad ? -1 : 0;
}
