/* Shared test helpers: a counting allocator that can fail on demand, and the
 * out-of-memory sweep every module's tests reuse.
 *
 * Include after <cmocka.h>'s prerequisites; this header includes cmocka. */
#ifndef CR_TEST_H
#define CR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "convroute.h"

/* An allocator that counts calls and live blocks, and fails the allocation
 * whose 0-based index equals fail_at (-1: never). With fail_all set, every
 * allocation from fail_at on fails (a host that stays out of memory). */
typedef struct cr_test_mem {
  cr_mem mem;       /* hand &t->mem to the library */
  long calls;       /* malloc + realloc calls so far */
  long fail_at;     /* index of the call to fail, -1 for none */
  int fail_all;     /* fail every call from fail_at on */
  long failed;      /* how many calls were failed */
  long live;        /* blocks allocated and not yet freed */
  size_t live_bytes;
  size_t peak_bytes;
} cr_test_mem;

void cr_test_mem_init(cr_test_mem *t);
/* Stops injecting failures (to check the object is still usable). */
void cr_test_mem_heal(cr_test_mem *t);

/* The body of an OOM sweep. It builds whatever it needs with t->mem, runs
 * the operations under test, and must free everything before it returns.
 * It returns 0 when everything succeeded, or the first CR_ENOMEM it met --
 * after checking (with cr_test_mem_heal(t) if it needs to allocate) that the
 * object that failed is unchanged and still usable. */
typedef int (*cr_test_oom_body)(cr_test_mem *t, void *ctx);

/* Runs body once counting allocations (it must return 0), then once for
 * each allocation i, failing the i-th. Each run must return CR_ENOMEM if a
 * failure was injected (0 if the body never reached call i), and must leave
 * no live block. Fails the cmocka test otherwise. Returns the number of
 * allocations in the clean run. */
long cr_test_oom_sweep(cr_test_oom_body body, void *ctx);

/* Same, but each injected failure persists (every call from i on fails). */
long cr_test_oom_sweep_persistent(cr_test_oom_body body, void *ctx);

/* Reads a whole file from ../shared/data (relative to the source tree), or
 * NULL when it is absent (the test should then skip). Caller frees. */
char *cr_test_read_shared(const char *relpath, size_t *len);
/* The same for a file of this source tree (e.g. examples/data/...). */
char *cr_test_read_source(const char *relpath, size_t *len);

/* The bilingual demo model the engine tests share: examples/data's English,
 * Hebrew and out-of-scope examples, the talk_to_human and emergency rules.
 * NULL on failure. Caller frees (cr_intent_model_del). */
cr_intent_model *cr_test_demo_model(void);

#endif
