/* Private: the intent matcher's shared structures (trainer, model,
 * features). Split over intent_feat.c (features), intent_train.c (trainer
 * and solver), intent.c (model, predict, rules, threshold) and intent_io.c
 * (save/load). */
#ifndef CR_INTENT_H
#define CR_INTENT_H

#include "convroute.h"
#include "crc32.h"
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
  unsigned flags;            /* CR__FEAT_* (saved from format version 3) */
} cr__feat_cfg;

/* A feature for the first word of the message as such ("<s> what",
 * "<s> order"): what kind of request a message is -- a question, an
 * imperative -- is mostly said by its first word. Models saved before
 * format version 3 did not have it and load with flags 0, so they keep
 * predicting exactly as before (docs/intent.md, "Fourth round"). */
#define CR__FEAT_FIRST_WORD 1u
#define CR__FEAT_KNOWN CR__FEAT_FIRST_WORD

/* The model format version cr_intent_model_save writes (intent_io.c);
 * older versions still load. */
#define CR__INTENT_FORMAT 3u

/* Private: sets the feature flags of a trainer (defaults:
 * CR__FEAT_FIRST_WORD). For tests and experiments; CR_ERANGE for unknown
 * bits. */
int cr__intent_trainer_set_feat_flags(cr_intent_trainer *t, unsigned flags);

/* 0 for a word feature, 1 for a char n-gram. */
static inline unsigned cr__bucket_group(const cr__feat_cfg *c, uint32_t b) {
  return (b >> (c->hash_bits - 1)) & 1u;
}

typedef void (*cr__emit_fn)(void *ctx, uint32_t bucket);

/* Calls emit(ctx, bucket) for every feature occurrence of the normalised,
 * space-separated text norm[0..n). */
void cr__features(const cr__feat_cfg *cfg, const char *norm, size_t n,
                  cr__emit_fn emit, void *ctx);

typedef void (*cr__axpy_fn)(float *s, const int8_t *wq, size_t stride,
                            const uint32_t *rows, const float *vals,
                            size_t n);

/* One rule word: pool[off..off+len), prefix = ended in '*'. */
typedef struct cr__rule_word {
  uint32_t off, len;
  uint8_t prefix;
} cr__rule_word;

typedef struct cr__rule {
  uint32_t label;
  int32_t priority;
  uint8_t except;    /* 1: an exception: while it matches, no rule of
                        this label fires (the model decides) */
  char *phrase;      /* as given (saved verbatim, re-parsed at load) */
  size_t phrase_len;
  char *pool;        /* normalised words */
  cr__rule_word *words;
  size_t n_words;
  uint32_t next;     /* next rule (index + 1) in its first-word bucket
                        chain, 0 = end (see CR__RULE_BUCKETS) */
  uint32_t seen;     /* predict scratch: == model rule_epoch when the
                        message has a token that may start this rule */
} cr__rule;

/* Rules are indexed by the first two bytes of their first normalised
 * word, hashed into CR__RULE_BUCKETS chains; a rule whose first word is
 * shorter than two bytes goes in the extra bucket CR__RULE_BUCKETS,
 * checked for every message. Only a prefilter: rule_matches() still
 * decides, so results are those of checking every rule. */
#define CR__RULE_BUCKETS 256

struct cr_intent_model {
  cr_mem mem;
  cr__feat_cfg cfg;
  /* labels: 0..n_cls-1 have weights, the rest are rule-only */
  char **labels;
  size_t n_labels, labels_cap, n_cls;
  int oos; /* label index of the out-of-scope class, or -1 */
  double temperature, threshold;
  /* idf of a feature never kept at training (smooth idf with df = 0):
   * unknown features still count in the L2 norm (see intent_train.c) */
  float idf_unseen;
  uint32_t unseen[2]; /* scratch: unknown feature occurrences per group */
  /* features: sorted bucket keys; row r has idf[r] and int8 weights
   * wq[r * stride .. + n_cls) worth wscale[r] / 127 each (feature-major:
   * one feature's weights for every class are contiguous, so a message
   * touches ~100 short rows; int8 keeps the matrix a quarter of the float
   * size so it stays in cache). stride = n_cls rounded up to 16, zero
   * padded, so the inner loop is whole blocks of 16. */
  size_t n_feat, stride;
  uint32_t *keys;
  float *idf;
  int8_t *wq;
  float *wscale;
  float *bias;
  /* bucket -> row, open addressing, power of two; key1 = bucket + 1
   * (0 = empty) so a lookup touches one cache line */
  struct cr__slot {
    uint32_t key1, row;
  } *tab;
  size_t tab_mask;
  float *meta; /* per row: idf, wscale / 127 (derived at finish) */
  float *vals; /* scratch: TF-IDF value of each distinct row */
  cr__axpy_fn axpy; /* the SIMD flavour of the hot loop for this CPU */
  /* rules */
  cr__rule *rules;
  size_t n_rules, rules_cap;
  uint32_t rule_head[CR__RULE_BUCKETS + 1]; /* chain heads, index + 1 */
  uint32_t rule_epoch; /* bumped per predict; see cr__rule.seen */
  /* per-model scratch for predict (not thread-safe; see the header) */
  char *norm;
  size_t norm_cap;
  uint32_t *cnt;   /* n_feat counters, all zero between calls */
  uint32_t *rows;  /* distinct rows of the message; bit 31 = char group */
  size_t n_rows;
  float *scores;   /* stride */
  double *prob;    /* n_cls */
  char errmsg[CR__ERRMSG];
};

/* Model assembly, shared by train and load. */
int cr__model_alloc(cr_intent_model **out, const cr_mem *mem);
int cr__model_add_label(cr_intent_model *m, const char *s, size_t n,
                        size_t *idx);
int cr__model_finish(cr_intent_model *m); /* lookup table + scratch */
/* Quantises float weights w (n_feat x n_cls, feature-major) into m. */
int cr__model_set_weights(cr_intent_model *m, const float *w);
int cr__model_find_label(const cr_intent_model *m, const char *s, size_t n);
/* Class scores of the normalised text (m->scores), bias included. */
int cr__model_scores(cr_intent_model *m, const char *norm, size_t n);
void cr__softmax(const float *s, size_t n, double temperature, double *p);

/* Adds a rule (except = 0) or a rule exception (except = 1). */
int cr__rule_add(cr_intent_model *m, const char *label, size_t label_len,
                 const char *phrase, size_t phrase_len, int priority,
                 int except);
int cr__label_check(const char *s, size_t n);

#endif
