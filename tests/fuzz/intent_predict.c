/* Fuzz target: normalisation and prediction on arbitrary bytes.
 *
 * A small bilingual model with rules is trained once (deterministically);
 * each input is normalised, predicted with every k in 0..3, and also used
 * as a rule phrase on a throw-away copy of the model. Invalid UTF-8 must
 * come back as CR_EUTF8 and nothing else may fail. */
#include "convroute.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char train_tsv[] =
    "billing\twhy is my bill so high\n"
    "billing\tחייבו אותי פעמיים\n"
    "password\tI forgot my password\n"
    "password\tשכחתי את הסיסמה\n"
    "tracking\twhere is my package\n"
    "tracking\tאיפה החבילה שלי\n"
    "oos\ttell me a joke\n";

static cr_intent_model *model;
static void *saved;
static size_t saved_len;

static void setup(void) {
  cr_intent_trainer *t;
  if (cr_intent_trainer_new(&t, NULL) ||
      cr_intent_trainer_add_tsv(t, train_tsv, sizeof train_tsv - 1) ||
      cr_intent_trainer_set_oos_label(t, "oos", 3) ||
      cr_intent_train(t, &model) ||
      cr_intent_model_add_builtin_rules(model, "human", 5, "sos", 3) ||
      cr_intent_model_set_threshold(model, 0.3) ||
      cr_intent_model_save(model, NULL, &saved, &saved_len))
    abort();
  cr_intent_trainer_del(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!model)
    setup();
  const char *s = (const char *)data;
  char *out = malloc(size + 1);
  size_t n;
  int rc = cr_text_normalize(s, size, out, size + 1, &n);
  if (rc != 0 && rc != CR_EUTF8)
    abort();
  if (rc == 0 && n > size)
    abort();
  size_t n2;
  int mrc = cr_text_normalize(s, size, NULL, 0, &n2);
  if (rc ? mrc != rc : (mrc != CR_ENOSPACE || n2 != n))
    abort();
  free(out);
  cr_intent_match mt[3];
  for (size_t k = 0; k <= 3; k++) {
    size_t got = 99;
    int prc = cr_intent_predict(model, s, size, mt, k, &got);
    if (prc != (rc ? CR_EUTF8 : 0))
      abort();
    if (prc == 0) {
      if (got > k)
        abort();
      for (size_t i = 0; i < got; i++)
        if (!(mt[i].confidence >= 0 && mt[i].confidence <= 1) ||
            strlen(mt[i].label) != mt[i].label_len)
          abort();
    }
  }
  /* the input as a rule phrase on a fresh copy of the model */
  cr_intent_model *copy;
  if (cr_intent_model_load(&copy, NULL, saved, saved_len))
    abort();
  int arc = cr_intent_model_add_rule(copy, "fuzz", 4, s, size, 500);
  if (arc != 0 && arc != CR_EINVAL && arc != CR_EUTF8)
    abort();
  if (arc == 0) {
    size_t got;
    /* a phrase always matches itself */
    if (cr_intent_predict(copy, s, size, mt, 1, &got) || got != 1 ||
        strcmp(mt[0].label, "fuzz") != 0)
      abort();
  }
  cr_intent_model_del(copy);
  return 0;
}
