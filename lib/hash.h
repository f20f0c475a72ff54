/* uthash, wired to the object's allocator and made non-fatal on OOM.
 *
 * Include this instead of <uthash.h>. A function that adds to or frees a
 * uthash table names the allocator in scope as
 *     const cr_mem *cr__hmem = &obj->mem;
 * and, when it adds, also declares
 *     int cr__hoom = 0;
 * then checks cr__hoom after HASH_ADD*: 1 means the add failed for lack of
 * memory and the table is exactly as it was (uthash rolls back). */
#ifndef CR_HASH_H
#define CR_HASH_H

#include "mem.h"

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) cr__malloc(cr__hmem, (sz))
#define uthash_free(ptr, sz) cr__free(cr__hmem, (ptr))
#define uthash_nonfatal_oom(obj) (cr__hoom = 1)

#include <uthash.h>

#endif
