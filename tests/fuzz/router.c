/* Fuzz target: drives one router with a random sequence of calls (see
 * router_ops.h) and checks every structural invariant after each call --
 * no agent over capacity, no conversation both waiting and assigned, every
 * waiting conversation reachable in its (queue, channel) index, every
 * deadline in the timer heap. Then a snapshot must restore to a router
 * whose own snapshot is byte-identical, and damaged snapshots (a byte
 * changed, checksum fixed so the structural validation is reached) must be
 * refused or restored cleanly, never crash. */
#include "convroute.h"
#include "router.h"
#include "router_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

static void damaged_restore(const uint8_t *snap, size_t len, size_t at,
                            uint8_t x) {
  if (len < 20)
    return;
  uint8_t *d = malloc(len);
  if (!d)
    return;
  memcpy(d, snap, len);
  size_t pos = 16 + at % (len - 20);
  d[pos] ^= x ? x : 1;
  uint32_t crc = crc32_ieee(d + 16, len - 20);
  for (int i = 0; i < 4; i++)
    d[len - 4 + i] = (uint8_t)(crc >> (8 * i));
  cr_router *r = NULL;
  int rc = cr_router_restore(&r, NULL, d, len);
  if (rc == 0) {
    if (cr__router_check(r))
      abort();
    cr_router_del(r);
  } else if (rc != CR_ECORRUPT && rc != CR_EVERSION) {
    abort();
  }
  free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cr_router_config cfg;
  cr_router_config_init(&cfg);
  cfg.offer_timeout_ms = 40000;
  cfg.auto_away_misses = 2;
  cfg.reentry_grace_ms = 20000;
  cfg.decline_block_ms = 5000;
  cfg.wrapup_ms = 2000;
  cfg.seed = size;
  cr_router *r;
  if (cr_router_new(&r, NULL, &cfg))
    abort();
  rops o = {data, size, 0, 0};
  for (int steps = 0; steps < 4000; steps++) {
    int rc = rops_step(&o, r);
    if (rc > 0)
      break;
    if (rc < 0 && rc <= CR__ERRNO_LAST)
      abort();
    if (cr__router_check(r)) {
      fprintf(stderr, "invariant broken: %s\n", cr_router_errmsg(r));
      abort();
    }
  }
  void *buf = NULL, *buf2 = NULL;
  size_t len = 0, len2 = 0;
  if (cr_router_snapshot(r, &buf, &len))
    abort();
  cr_router *r2;
  if (cr_router_restore(&r2, NULL, buf, len))
    abort();
  if (cr_router_snapshot(r2, &buf2, &len2) || len2 != len ||
      memcmp(buf, buf2, len))
    abort();
  damaged_restore(buf, len, size ? data[0] * 131u + size : 0,
                  size > 1 ? data[1] : 1);
  cr_mem_free(NULL, buf);
  cr_mem_free(NULL, buf2);
  cr_router_del(r2);
  cr_router_del(r);
  cr_router *r3; /* the raw input as a snapshot: must not crash */
  if (cr_router_restore(&r3, NULL, data, size) == 0)
    cr_router_del(r3);
  return 0;
}
