/* Fuzz target: model load from arbitrary bytes.
 *
 * Input byte 0 picks a mode: odd = the rest is a model image whose length
 * field and CRC are fixed up before loading, so mutations reach the
 * payload parser instead of dying at the checksum; even = the rest is
 * loaded as is. Anything accepted must predict, and saving it again must
 * give back exactly the bytes that were loaded (the current format
 * version, CR__INTENT_FORMAT), or (an older version, upgraded on save)
 * bytes that load and save back unchanged. */
#include "convroute.h"
#include "intent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int fix = data[0] & 1;
  size_t n = size - 1;
  uint8_t *buf = malloc(n ? n : 1);
  if (n)
    memcpy(buf, data + 1, n);
  if (fix && n >= 24) {
    uint64_t plen = n - 24;
    for (int i = 0; i < 8; i++)
      buf[12 + i] = (uint8_t)(plen >> (8 * i));
    uint32_t crc = cr__crc32(0, buf, n - 4);
    for (int i = 0; i < 4; i++)
      buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
  }
  cr_intent_model *m = NULL;
  int rc = cr_intent_model_load(&m, NULL, buf, n);
  if (rc != 0 && rc != CR_ECORRUPT && rc != CR_EVERSION)
    abort();
  if (rc == 0) {
    static const char *msgs[] = {"", "reset my password", "אני רוצה נציג",
                                 "x y z 123"};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
      cr_intent_match mt[4];
      size_t got;
      if (cr_intent_predict(m, msgs[i], strlen(msgs[i]), mt, 4, &got))
        abort();
      for (size_t k = 0; k < got; k++)
        if (!(mt[k].confidence >= 0 && mt[k].confidence <= 1))
          abort();
    }
    void *again;
    size_t alen;
    if (cr_intent_model_save(m, NULL, &again, &alen))
      abort();
    if (buf[8] == CR__INTENT_FORMAT) { /* saved back byte for byte */
      if (alen != n || memcmp(again, buf, n) != 0)
        abort();
    } else { /* an older one is upgraded: the upgrade must be stable */
      cr_intent_model *m2 = NULL;
      void *third;
      size_t tlen;
      if (cr_intent_model_load(&m2, NULL, again, alen) ||
          cr_intent_model_save(m2, NULL, &third, &tlen) || tlen != alen ||
          memcmp(third, again, alen) != 0)
        abort();
      cr_mem_free(NULL, third);
      cr_intent_model_del(m2);
    }
    cr_mem_free(NULL, again);
    cr_intent_model_del(m);
  }
  free(buf);
  return 0;
}
