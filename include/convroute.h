/*
 * convroute — routes customer conversations between a self-service bot and
 * human agents: intent matching, the bot/agent handoff state machine,
 * skill-based queueing, and contact-center metrics with Erlang staffing.
 *
 * This one header is the whole public API. It is grouped in sections, each
 * opened by a comment saying what it is for.
 *
 * Conventions that hold everywhere (see docs/ for the longer story):
 *   - Every public symbol starts with cr_ (functions, types) or CR_ (macros,
 *     enum values). Handles are opaque, made by cr_X_new(&out, ...) and
 *     destroyed by cr_X_del(x), which accepts NULL.
 *   - Functions return int: 0 on success, a negative CR_E... code on
 *     failure. A call that fails changes nothing. cr_strerror(code) gives a
 *     sentence; objects that can say more have cr_X_errmsg().
 *   - Strings cross the API as pointer + length, UTF-8, validated on entry.
 *     Inputs are borrowed; the library copies what it keeps. Pointers handed
 *     to a callback are valid only during that call.
 *   - Time is an argument (milliseconds or seconds on the host's clock, as
 *     each function says); the library never reads a clock, never does I/O,
 *     never starts a thread, and keeps no mutable global state. One object
 *     is not thread-safe; two objects are independent.
 *   - Memory goes through a per-object allocator (cr_mem, NULL = libc).
 *     Allocation failure returns CR_ENOMEM with nothing leaked and nothing
 *     half-changed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CONVROUTE_H
#define CONVROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(CR_BUILDING) && !defined(CR_STATICLIB)
#    define CR_EXTERN __declspec(dllexport)
#  elif !defined(CR_STATICLIB)
#    define CR_EXTERN __declspec(dllimport)
#  else
#    define CR_EXTERN
#  endif
#elif defined(CR_BUILDING) && defined(__GNUC__) && __GNUC__ >= 4
#  define CR_EXTERN __attribute__((visibility("default")))
#else
#  define CR_EXTERN
#endif

/* ======================================================================
 * Version
 *
 * CR_VERSION is the version this header belongs to; cr_version() is the
 * version of the library actually linked. The ABI is stable within a major
 * version (the shared library's SONAME is the major number).
 * ====================================================================== */

#define CR_VERSION_MAJOR 0
#define CR_VERSION_MINOR 1
#define CR_VERSION_PATCH 0
#define CR_VERSION "0.1.0"
/* 0xMMmmpp: major, minor, patch, one byte each. */
#define CR_VERSION_NUM                                                        \
  ((CR_VERSION_MAJOR << 16) | (CR_VERSION_MINOR << 8) | CR_VERSION_PATCH)

/* The linked library's version string, e.g. "0.1.0". */
CR_EXTERN const char *cr_version(void);
/* The linked library's CR_VERSION_NUM. */
CR_EXTERN unsigned cr_version_num(void);

/* ======================================================================
 * Errors
 *
 * Every failure is a negative CR_E... code, generated from the table below.
 * New codes are only ever added at the end; codes are never renumbered.
 * ====================================================================== */

#define CR_ERRNO_MAP(XX)                                                      \
  XX(EINVAL, -1, "invalid argument")                                          \
  XX(ENOMEM, -2, "out of memory")                                             \
  XX(ERANGE, -3, "value out of range")                                        \
  XX(EUTF8, -4, "invalid UTF-8")                                              \
  XX(ENOTFOUND, -5, "no such id")                                             \
  XX(EEXIST, -6, "id already exists")                                         \
  XX(ESTATE, -7, "not allowed in the current state")                          \
  XX(ECORRUPT, -8, "corrupt or truncated data")                               \
  XX(EVERSION, -9, "unsupported format version")                              \
  XX(EFULL, -10, "limit reached")                                             \
  XX(ECALLBACK, -11, "a host callback reported failure")                      \
  XX(ENODATA, -12, "no data")                                                 \
  XX(EINFEASIBLE, -13, "target cannot be met")                                \
  XX(ECLOSED, -14, "closed")                                                  \
  XX(EORDER, -15, "times out of order")                                       \
  XX(ENOSPACE, -16, "buffer too small")

typedef enum cr_errno {
  CR_OK = 0,
#define CR__XX(name, val, msg) CR_##name = (val),
  CR_ERRNO_MAP(CR__XX)
#undef CR__XX
  CR__ERRNO_LAST = -17
} cr_errno;

/* The sentence for an error code ("out of memory"); "success" for 0 and
 * "unknown error" for a code not in the table. Never NULL. */
CR_EXTERN const char *cr_strerror(int code);
/* The code's name without the CR_ prefix ("ENOMEM"); "OK" for 0,
 * "UNKNOWN" otherwise. Never NULL. */
CR_EXTERN const char *cr_errname(int code);

/* ======================================================================
 * Memory
 *
 * Each object takes an optional allocator when it is made; NULL means the
 * C library's malloc/realloc/free. The struct is copied, so it need not
 * outlive the call. malloc and realloc return NULL on failure; the library
 * then returns CR_ENOMEM and leaves the object as it was. There is no
 * global allocator and no global init.
 * ====================================================================== */

typedef struct cr_mem {
  void *user_data;
  void *(*malloc)(size_t size, void *user_data);
  void *(*realloc)(void *ptr, size_t size, void *user_data);
  void (*free)(void *ptr, void *user_data);
} cr_mem;

/* Frees a buffer the library handed to the caller (a snapshot, a saved
 * model), with the allocator it was made with (NULL = libc). NULL ptr is a
 * no-op. */
CR_EXTERN void cr_mem_free(const cr_mem *mem, void *ptr);

/* ======================================================================
 * Time and channels
 *
 * Time is always an argument. cr_time is milliseconds on the host's clock
 * from any fixed origin (a Unix epoch in ms, or a simulation's zero); the
 * library only ever compares and subtracts values. Durations in planning
 * functions (staffing) are seconds as double, as planners state them.
 *
 * Channels are a fixed set so per-channel capacity and figures are arrays,
 * not lookups. "chat" is web chat; the messaging apps have their own value
 * because their customers behave differently (asynchronous, long-lived).
 * ====================================================================== */

typedef int64_t cr_time;

typedef enum cr_channel {
  CR_CHANNEL_VOICE = 0,
  CR_CHANNEL_CHAT = 1,
  CR_CHANNEL_WHATSAPP = 2,
  CR_CHANNEL_SMS = 3,
  CR_CHANNEL_MESSENGER = 4,
  CR_CHANNEL_EMAIL = 5,
  CR_CHANNEL_TASK = 6,
  CR_CHANNEL_COUNT = 7 /* not a channel: the number of them */
} cr_channel;

/* "voice", "chat", "whatsapp", "sms", "messenger", "email", "task"; NULL
 * for a value outside the enum. */
CR_EXTERN const char *cr_channel_name(int channel);
/* The channel named s[0..len) (ASCII, case-insensitive; "webchat" and
 * "web" are accepted for chat, "call" and "phone" for voice), or CR_EINVAL. */
CR_EXTERN int cr_channel_parse(const char *s, size_t len);

/* @@SECTION metrics@@ */

/* @@SECTION staffing@@ */

/* @@SECTION intent@@ */

/* @@SECTION router@@ */

/* @@SECTION engine@@ */

#ifdef __cplusplus
}
#endif

#endif /* CONVROUTE_H */
