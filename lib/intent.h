/* Private: the intent matcher's shared structures (trainer, model,
 * features). Split over intent_feat.c (features), intent_train.c (trainer
 * and solver), intent.c (model, predict, rules, threshold) and intent_io.c
 * (save/load). */
#ifndef CR_INTENT_H
#define CR_INTENT_H

#include "convroute.h"
#include "mem.h"

#include <stddef.h>
#include <stdint.h>

#define CR__LABEL_MAX 255
#define CR__ERRMSG 200

/* What turns normalised text into hashed features. */
typedef struct cr__feat_cfg {
  unsigned hash_bits;        /* buckets = 2^hash_bits */
  unsigned word_n;           /* word n-grams 1..word_n */
  unsigned char_min, char_max; /* 0,0 = no char n-grams */
} cr__feat_cfg;

typedef void (*cr__emit_fn)(void *ctx, uint32_t bucket);

/* Calls emit(ctx, bucket) for every feature occurrence of the normalised,
 * space-separated text norm[0..n). */
void cr__features(const cr__feat_cfg *cfg, const char *norm, size_t n,
                  cr__emit_fn emit, void *ctx);

/* One rule word: pool[off..off+len), prefix = ended in '*'. */
typedef struct cr__rule_word {
  uint32_t off, len;
  uint8_t prefix;
} cr__rule_word;

typedef struct cr__rule {
  uint32_t label;
  int32_t priority;
  char *phrase;      /* as given (saved verbatim, re-parsed at load) */
  size_t phrase_len;
  char *pool;        /* normalised words */
  cr__rule_word *words;
  size_t n_words;
} cr__rule;

struct cr_intent_model {
  cr_mem mem;
  cr__feat_cfg cfg;
  /* labels: 0..n_cls-1 have weights, the rest are rule-only */
  char **labels;
  size_t n_labels, labels_cap, n_cls;
  int oos; /* label index of the out-of-scope class, or -1 */
  double temperature, threshold;
  /* features: sorted bucket keys; row r has idf[r] and weights
   * w[r * n_cls .. +n_cls) (feature-major: one feature's weights for every
   * class are contiguous, so a message touches ~150 short rows). */
  size_t n_feat;
  uint32_t *keys;
  float *idf;
  float *w;
  float *bias;
  /* bucket -> row + 1 (0 = empty), open addressing, power of two */
  uint32_t *tab;
  size_t tab_mask;
  /* rules */
  cr__rule *rules;
  size_t n_rules, rules_cap;
  /* per-model scratch for predict (not thread-safe; see the header) */
  char *norm;
  size_t norm_cap;
  uint32_t *cnt;   /* n_feat counters, all zero between calls */
  uint32_t *rows;  /* distinct rows of the current message */
  size_t n_rows;
  float *scores;   /* n_cls */
  double *prob;    /* n_cls */
  char errmsg[CR__ERRMSG];
};

/* Model assembly, shared by train and load. */
int cr__model_alloc(cr_intent_model **out, const cr_mem *mem);
int cr__model_add_label(cr_intent_model *m, const char *s, size_t n,
                        size_t *idx);
int cr__model_finish(cr_intent_model *m); /* lookup table + scratch */
int cr__model_find_label(const cr_intent_model *m, const char *s, size_t n);
/* Class scores of the normalised text (m->scores), bias included. */
int cr__model_scores(cr_intent_model *m, const char *norm, size_t n);
void cr__softmax(const float *s, size_t n, double temperature, double *p);

int cr__label_check(const char *s, size_t n);
uint32_t cr__crc32(uint32_t crc, const void *buf, size_t n);

#endif
