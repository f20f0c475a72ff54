/* cr-intent: train, run and evaluate a convroute intent model from
 * "label<TAB>text" files.
 *
 *   cr-intent train --train TRAIN.tsv [--oos-label oos] [--val VAL.tsv]
 *                   [--rules HUMAN,EMERGENCY[,FRAUD]] --out MODEL.bin
 *   cr-intent predict --model MODEL.bin [--top 3]
 *       reads one message per line on stdin, prints per line
 *       label<TAB>confidence pairs (TAB-separated), best first; when the
 *       message is out of scope the line starts with an extra pair
 *       "OOS<TAB>confidence" (OOS = the model's oos label, else "oos").
 *   cr-intent eval --train TRAIN.tsv --test TEST.tsv [--val VAL.tsv]
 *                  [--oos-label oos] [--seed N] --json
 *
 * Tuning options for train and eval: --c C, --bits B, --char MIN-MAX
 * (0-0 for none), --word-ngrams N, --min-df N, --calibration F, --epochs N,
 * --tol T. The tool (unlike the library) reads files and the clock; the
 * times it reports are CPU time of the one thread that does the work. */
#define _POSIX_C_SOURCE 200809L
#include <convroute.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct opts {
  const char *cmd, *train, *test, *val, *out, *model, *oos, *rules, *dump;
  int top, json, have_seed;
  unsigned long long seed;
  double c, calib, tol;
  int bits, cmin, cmax, wn, min_df, epochs, have_char, have_calib;
} opts;

/* CPU time of this thread: "seconds on one core", and not inflated when
 * the machine is shared with other work. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cr-intent: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  size_t k;
  while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
    n += k;
    if (n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) {
        free(b);
        b = NULL;
      }
      b = nb;
    }
  }
  fclose(f);
  if (!b)
    fprintf(stderr, "cr-intent: %s: out of memory\n", path);
  *len = n;
  return b;
}

static int usage_to(FILE *f, int rc) {
  fprintf(f,
          "usage: cr-intent train --train TRAIN.tsv [--oos-label L] "
          "[--val VAL.tsv] [--rules HUMAN,EMERGENCY[,FRAUD]] --out MODEL.bin\n"
          "       cr-intent predict --model MODEL.bin [--top K]\n"
          "       cr-intent eval --train TRAIN.tsv --test TEST.tsv "
          "[--val VAL.tsv] [--oos-label L] [--seed N] [--json]\n");
  return rc;
}

static int usage(void) { return usage_to(stderr, 2); }

/* Names the option a parse refused, then the usage follows. */
static int bad_opt(const char *a, const char *why) {
  fprintf(stderr, "cr-intent: %s %s\n", a, why);
  return -1;
}

static int parse(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->top = 1;
  if (argc < 2)
    return -1;
  o->cmd = argv[1];
  if (strcmp(o->cmd, "train") && strcmp(o->cmd, "predict") &&
      strcmp(o->cmd, "eval")) {
    fprintf(stderr, "cr-intent: unknown command %s\n", o->cmd);
    return -1;
  }
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR(flag, field)                                                      \
  if (!strcmp(a, flag)) {                                                     \
    if (!v)                                                                   \
      return bad_opt(a, "needs a value");                                     \
    o->field = v;                                                             \
    i++;                                                                      \
    continue;                                                                 \
  }
    STR("--train", train)
    STR("--test", test)
    STR("--val", val)
    STR("--out", out)
    STR("--model", model)
    STR("--oos-label", oos)
    STR("--rules", rules)
    STR("--dump", dump)
#undef STR
    if (!strcmp(a, "--json")) {
      o->json = 1;
      continue;
    }
    if (!v)
      return bad_opt(a, a[0] == '-' ? "is unknown or needs a value"
                                     : "is not an option");
    char *end;
    i++;
    errno = 0;
    if (!strcmp(a, "--top"))
      o->top = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--seed"))
      o->seed = strtoull(v, &end, 10), o->have_seed = 1;
    else if (!strcmp(a, "--c"))
      o->c = strtod(v, &end);
    else if (!strcmp(a, "--bits"))
      o->bits = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--word-ngrams"))
      o->wn = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--min-df"))
      o->min_df = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--epochs"))
      o->epochs = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--tol"))
      o->tol = strtod(v, &end);
    else if (!strcmp(a, "--calibration"))
      o->calib = strtod(v, &end), o->have_calib = 1;
    else if (!strcmp(a, "--char")) {
      o->cmin = (int)strtol(v, &end, 10);
      if (*end != '-')
        return bad_opt(a, "takes MIN-MAX");
      o->cmax = (int)strtol(end + 1, &end, 10);
      o->have_char = 1;
    } else
      return bad_opt(a, a[0] == '-' ? "is unknown" : "is not an option");
    if (*end || errno)
      return bad_opt(a, "needs a number");
  }
  return 0;
}

static int opt_rc(const char *what, int rc) {
  if (rc)
    fprintf(stderr, "cr-intent: %s: %s\n", what, cr_strerror(rc));
  return rc;
}

static int configure(cr_intent_trainer *t, const opts *o) {
  int rc = 0;
  if (o->have_seed)
    rc |= opt_rc("--seed", cr_intent_trainer_set_seed(t, o->seed));
  if (o->bits)
    rc |= opt_rc("--bits", cr_intent_trainer_set_hash_bits(t, (unsigned)o->bits));
  if (o->have_char)
    rc |= opt_rc("--char", cr_intent_trainer_set_char_ngrams(
                               t, (unsigned)o->cmin, (unsigned)o->cmax));
  if (o->wn)
    rc |= opt_rc("--word-ngrams",
                 cr_intent_trainer_set_word_ngrams(t, (unsigned)o->wn));
  if (o->min_df)
    rc |= opt_rc("--min-df", cr_intent_trainer_set_min_df(t, (unsigned)o->min_df));
  if (o->c > 0)
    rc |= opt_rc("--c", cr_intent_trainer_set_c(t, o->c));
  if (o->epochs || o->tol > 0)
    rc |= opt_rc("--epochs/--tol",
                 cr_intent_trainer_set_solver(t, o->epochs ? (unsigned)o->epochs : 50,
                                              o->tol > 0 ? o->tol : 0.1));
  if (o->have_calib)
    rc |= opt_rc("--calibration", cr_intent_trainer_set_calibration(t, o->calib));
  if (o->oos)
    rc |= opt_rc("--oos-label",
                 cr_intent_trainer_set_oos_label(t, o->oos, strlen(o->oos)));
  return rc ? -1 : 0;
}

/* Trains from o->train; prints "FILE:LINE: why" for a bad line. */
static cr_intent_model *train_model(const opts *o, double *secs) {
  size_t len;
  char *buf = read_file(o->train, &len);
  if (!buf)
    return NULL;
  cr_intent_trainer *t;
  cr_intent_model *m = NULL;
  if (cr_intent_trainer_new(&t, NULL)) {
    free(buf);
    return NULL;
  }
  int rc = configure(t, o);
  if (!rc && (rc = cr_intent_trainer_add_tsv(t, buf, len)) != 0)
    fprintf(stderr, "cr-intent: %s: %s\n", o->train,
            cr_intent_trainer_errmsg(t));
  free(buf);
  if (!rc) {
    double t0 = now_s();
    rc = cr_intent_train(t, &m);
    *secs = now_s() - t0;
    if (rc)
      fprintf(stderr, "cr-intent: training failed: %s (%s)\n",
              cr_strerror(rc), cr_intent_trainer_errmsg(t));
  }
  cr_intent_trainer_del(t);
  return rc ? NULL : m;
}

static int add_rules(cr_intent_model *m, const char *spec) {
  /* "HUMAN,EMERGENCY[,FRAUD]": labels for the built-in lists (any may be
   * empty) */
  const char *c1 = strchr(spec, ',');
  size_t hl = c1 ? (size_t)(c1 - spec) : strlen(spec);
  const char *e = c1 ? c1 + 1 : "";
  const char *c2 = strchr(e, ',');
  size_t el = c2 ? (size_t)(c2 - e) : strlen(e);
  const char *f = c2 ? c2 + 1 : "";
  return opt_rc("--rules", cr_intent_model_add_builtin_rules_ex(
                               m, spec, hl, e, el, f, strlen(f)));
}

static int tune(cr_intent_model *m, const char *path, double *thr) {
  size_t len;
  char *buf = read_file(path, &len);
  if (!buf)
    return -1;
  int rc = cr_intent_model_tune_threshold(m, buf, len, thr);
  free(buf);
  if (rc == CR_ENODATA) {
    fprintf(stderr, "cr-intent: %s: no out-of-scope rows; threshold stays 0\n",
            path);
    *thr = 0;
    return 0;
  }
  if (rc)
    fprintf(stderr, "cr-intent: %s: %s\n", path, cr_intent_model_errmsg(m));
  return rc;
}

static int cmd_train(const opts *o) {
  if (!o->train || !o->out)
    return usage();
  double secs, thr = 0;
  cr_intent_model *m = train_model(o, &secs);
  if (!m)
    return 1;
  int rc = 0;
  if (o->val)
    rc = tune(m, o->val, &thr);
  if (!rc && o->rules)
    rc = add_rules(m, o->rules);
  void *buf = NULL;
  size_t len = 0;
  if (!rc)
    rc = opt_rc("save", cr_intent_model_save(m, NULL, &buf, &len));
  if (!rc) {
    FILE *f = fopen(o->out, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
      fprintf(stderr, "cr-intent: %s: cannot write\n", o->out);
      rc = -1;
    } else {
      fprintf(stderr, "trained %zu labels in %.2f s; %zu bytes; threshold %.4f\n",
              cr_intent_model_label_count(m), secs, len, thr);
    }
  }
  cr_mem_free(NULL, buf);
  cr_intent_model_del(m);
  return rc ? 1 : 0;
}

static int cmd_predict(const opts *o) {
  if (!o->model || o->top < 1 || o->top > 1000)
    return usage();
  size_t len;
  char *buf = read_file(o->model, &len);
  if (!buf)
    return 1;
  cr_intent_model *m;
  int rc = cr_intent_model_load(&m, NULL, buf, len);
  free(buf);
  if (rc) {
    fprintf(stderr, "cr-intent: %s: %s\n", o->model, cr_strerror(rc));
    return 1;
  }
  const char *oos = cr_intent_model_oos_label(m);
  cr_intent_match *mt = calloc((size_t)o->top, sizeof *mt);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long lineno = 0;
  while (mt && (n = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    size_t got;
    rc = cr_intent_predict(m, line, (size_t)n, mt, (size_t)o->top, &got);
    if (rc) {
      fprintf(stderr, "cr-intent: stdin line %ld: %s\n", lineno,
              cr_strerror(rc));
      printf("\n");
      continue;
    }
    int first = 1;
    if (got && mt[0].out_of_scope &&
        !(oos && !strcmp(mt[0].label, oos))) {
      printf("%s\t%.6f", oos ? oos : "oos", mt[0].confidence);
      first = 0;
    }
    for (size_t i = 0; i < got; i++) {
      printf("%s%s\t%.6f", first ? "" : "\t", mt[i].label, mt[i].confidence);
      first = 0;
    }
    printf("\n");
  }
  free(line);
  free(mt);
  cr_intent_model_del(m);
  return 0;
}

typedef struct row {
  const char *label, *text;
  size_t llen, tlen;
} row;

/* Splits a TSV file into rows; reports FILE:LINE for a malformed line. */
static row *load_rows(const char *path, char **buf_out, size_t *n_out) {
  size_t len;
  char *buf = read_file(path, &len);
  if (!buf)
    return NULL;
  size_t cap = 1024, n = 0, i = 0, line = 0;
  row *rows = malloc(cap * sizeof *rows);
  while (rows && i < len) {
    line++;
    size_t e = i;
    while (e < len && buf[e] != '\n')
      e++;
    size_t end = e > i && buf[e - 1] == '\r' ? e - 1 : e;
    char *s = buf + i;
    size_t sn = end - i;
    i = e + 1;
    if (!sn)
      continue;
    char *tab = memchr(s, '\t', sn);
    if (!tab || tab == s) {
      fprintf(stderr, "cr-intent: %s:%zu: expected label<TAB>text\n", path,
              line);
      free(rows);
      free(buf);
      return NULL;
    }
    if (n == cap) {
      row *nr = realloc(rows, (cap *= 2) * sizeof *rows);
      if (!nr)
        break;
      rows = nr;
    }
    rows[n].label = s;
    rows[n].llen = (size_t)(tab - s);
    rows[n].text = tab + 1;
    rows[n].tlen = sn - rows[n].llen - 1;
    n++;
  }
  *buf_out = buf;
  *n_out = n;
  return rows;
}

static int cmd_eval(const opts *o) {
  if (!o->train || !o->test)
    return usage();
  const char *oos_name = o->oos ? o->oos : "oos";
  double train_s, thr = 0;
  cr_intent_model *m = train_model(o, &train_s);
  if (!m)
    return 1;
  if (o->val && tune(m, o->val, &thr)) {
    cr_intent_model_del(m);
    return 1;
  }
  char *tbuf;
  size_t n;
  row *rows = load_rows(o->test, &tbuf, &n);
  if (!rows) {
    cr_intent_model_del(m);
    return 1;
  }
  /* accuracy over all rows, in-scope accuracy, oos recall, ECE (15 equal
   * bins of top confidence, in-scope rows, Guo et al. 2017) */
  size_t ok = 0, n_in = 0, ok_in = 0, n_oos = 0, ok_oos = 0, bad = 0,
         top1_in = 0;
  FILE *dump = o->dump ? fopen(o->dump, "w") : NULL;
  double bconf[15] = {0}, bacc[15] = {0};
  size_t bn[15] = {0};
  for (size_t i = 0; i < n; i++) {
    cr_intent_match mt;
    size_t got;
    if (cr_intent_predict(m, rows[i].text, rows[i].tlen, &mt, 1, &got) ||
        !got) {
      bad++;
      continue;
    }
    int gold_oos = (rows[i].llen == strlen(oos_name) &&
                    !memcmp(rows[i].label, oos_name, rows[i].llen));
    if (dump) {
      /* per-row diagnostics: gold oos?, top right?, top 2 confidences and
       * scores (for studying out-of-scope detectors) */
      cr_intent_match t2[2];
      size_t g2;
      cr_intent_predict(m, rows[i].text, rows[i].tlen, t2, 2, &g2);
      int right = !gold_oos && t2[0].label_len == rows[i].llen &&
                  !memcmp(t2[0].label, rows[i].label, rows[i].llen);
      fprintf(dump, "%d\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%d\n", gold_oos, right,
              t2[0].confidence, g2 > 1 ? t2[1].confidence : 0, t2[0].score,
              g2 > 1 ? t2[1].score : 0,
              t2[0].out_of_scope && t2[0].rule < 0 &&
                  cr_intent_model_oos_label(m) &&
                  !strcmp(t2[0].label, cr_intent_model_oos_label(m)));
    }
    if (gold_oos) {
      n_oos++;
      ok_oos += mt.out_of_scope;
      ok += mt.out_of_scope;
      continue;
    }
    int same = mt.label_len == rows[i].llen &&
               !memcmp(mt.label, rows[i].label, mt.label_len);
    n_in++;
    ok_in += same && !mt.out_of_scope;
    top1_in += same;
    ok += same && !mt.out_of_scope;
    int b = (int)(mt.confidence * 15);
    b = b > 14 ? 14 : b < 0 ? 0 : b;
    bn[b]++;
    bconf[b] += mt.confidence;
    bacc[b] += same;
  }
  if (dump)
    fclose(dump);
  double ece = 0;
  for (int b = 0; b < 15; b++)
    if (bn[b])
      ece += fabs(bacc[b] - bconf[b]) / (double)(n_in ? n_in : 1);
  /* Throughput: single thread, one utterance per call, >= 1 s. */
  size_t calls = 0;
  double t0 = now_s(), el = 0;
  while (n && el < 1.0) {
    for (size_t i = 0; i < n; i++) {
      cr_intent_match mt;
      size_t got;
      cr_intent_predict(m, rows[i].text, rows[i].tlen, &mt, 1, &got);
    }
    calls += n;
    el = now_s() - t0;
  }
  void *sb = NULL;
  size_t slen = 0;
  cr_intent_model_save(m, NULL, &sb, &slen);
  cr_mem_free(NULL, sb);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  /* Count training rows the cheap way: the trainer is gone; re-read. */
  size_t n_train = 0;
  {
    char *b2;
    row *r2 = load_rows(o->train, &b2, &n_train);
    if (r2) {
      free(r2);
      free(b2);
    }
  }
  if (!o->json) { /* a report for a person; --json for the contract */
    printf("trained on %zu examples, %zu labels, in %.2f s; tested on %zu\n",
           n_train, cr_intent_model_label_count(m), train_s, n);
    printf("accuracy            %6.2f %%\n",
           n ? 100.0 * (double)ok / (double)n : 0.0);
    printf("in-scope accuracy   %6.2f %%  (top-1, no threshold: %.2f %%)\n",
           n_in ? 100.0 * (double)ok_in / (double)n_in : 0.0,
           n_in ? 100.0 * (double)top1_in / (double)n_in : 0.0);
    if (n_oos)
      printf("out-of-scope recall %6.2f %%\n",
             100.0 * (double)ok_oos / (double)n_oos);
    printf("threshold %.3f, temperature %.3f, calibration error %.3f\n",
           cr_intent_model_threshold(m), cr_intent_model_temperature(m),
           ece);
    printf("%.0f predictions/s, model %zu bytes, %zu malformed lines\n",
           el > 0 ? (double)calls / el : 0.0, slen, bad);
  } else {
    printf("{\"n_train\": %zu, \"n_test\": %zu, \"n_labels\": %zu, "
           "\"accuracy\": %.6f, \"in_scope_accuracy\": %.6f, ",
           n_train, n, cr_intent_model_label_count(m),
           n ? (double)ok / (double)n : 0.0,
           n_in ? (double)ok_in / (double)n_in : 0.0);
    if (n_oos)
      printf("\"oos_recall\": %.6f, ", (double)ok_oos / (double)n_oos);
    else
      printf("\"oos_recall\": null, ");
    printf("\"top1_in_scope_accuracy\": %.6f, ",
           n_in ? (double)top1_in / (double)n_in : 0.0);
    printf("\"threshold\": %.6f, \"temperature\": %.6f, \"train_s\": %.4f, "
           "\"predict_per_s\": %.0f, \"model_bytes\": %zu, "
           "\"expected_calibration_error\": %.6f, \"max_rss_kb\": %ld, "
           "\"n_errors\": %zu}\n",
           cr_intent_model_threshold(m), cr_intent_model_temperature(m),
           train_s, el > 0 ? (double)calls / el : 0.0, slen, ece,
           ru.ru_maxrss, bad);
  }
  free(rows);
  free(tbuf);
  cr_intent_model_del(m);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return usage_to(stdout, 0);
  opts o;
  if (parse(argc, argv, &o))
    return usage();
  if (!strcmp(o.cmd, "train"))
    return cmd_train(&o);
  if (!strcmp(o.cmd, "predict"))
    return cmd_predict(&o);
  if (!strcmp(o.cmd, "eval"))
    return cmd_eval(&o);
  return usage();
}
