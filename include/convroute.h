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
 * then returns CR_ENOMEM and leaves the object as it was. As in C,
 * realloc(NULL, n) must allocate like malloc(n), a failed realloc must
 * leave the old block alone, and free(NULL) must do nothing. There is no
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
 * "web" are accepted for chat, "call" and "phone" for voice, "wa" for
 * whatsapp, "fb" for messenger), or CR_EINVAL. */
CR_EXTERN int cr_channel_parse(const char *s, size_t len);

/* ======================================================================
 * Metrics
 *
 * An accumulator of contact-center KPIs. The host (later the engine) feeds
 * it one record per finished contact, survey answers (also ones that come
 * in after the contact closed), and agents' logged-in / busy time; it
 * reports the KPIs since it was made, over a moving window ending at a
 * given time (a live wallboard), overall and per channel, queue, agent and
 * intent. Ingestion is O(1) per record (plus O(log P) for FCR tracking,
 * P = resolutions still inside their repeat window). See docs/metrics.md.
 *
 * Figures and their sources (T = service-level threshold):
 *   FCR (repeat form)  resolved contacts with NO contact from the same
 *       customer about the same intent arriving within the window after
 *       the resolved contact ended / resolved contacts whose window has
 *       closed. The window is closed at both ends: a repeat arriving
 *       exactly fcr_window_ms after the end counts as a repeat. Contacts
 *       still inside their window are "pending" (fcr_pending), counted
 *       neither way -- also when a repeat already came, so both outcomes
 *       are decided at the same age; contacts with no customer key cannot
 *       be tracked and are left out. (SQM Group / COPC: FCR measured by
 *       repeat contacts within a window, commonly 7 days.)
 *   FCR (survey form)  "yes" / (yes + no) to "was it resolved on the first
 *       contact?" (COPC CX Standard: customer-reported FCR).
 *   Resolution rate    resolved=1 / records with resolved 0 or 1.
 *   CSAT  top-2-box: answers 4-5 / all answers on 1-5; mean of the answers
 *       (ACSI / ICMI). Worked example: 5:42 4:32 3:10 2:9 1:14 -> 69.16 %,
 *       mean 3.738.
 *   NPS   100 * (promoters 9-10 - detractors 0-6) / n, in -100..100
 *       (Reichheld / Bain). With p, d the promoter and detractor shares,
 *       Var(NPS) = 100^2 * (p + d - (p - d)^2) / n and the 95 % margin of
 *       error is 1.96 * sqrt(Var). Worked example: p = 1/2, d = 1/6,
 *       n = 100 -> NPS 33.3 +- 14.6.
 *   CES   CES 2.0 (Gartner / CEB): "the company made it easy", 1-7,
 *       higher is easier; mean and the share of 5-7.
 *   Service level  answered with wait <= T / denominator, by treatment
 *       (wait = answered_at - queued_at, or - arrived_at when never
 *       queued; ICMI "Service level: X % answered in Y seconds"):
 *         CR_SL_ABANDON_IGNORE         answered
 *         CR_SL_ABANDON_FAIL           answered + abandoned
 *         CR_SL_ABANDON_EXCLUDE_SHORT  answered + abandoned with wait > T
 *   ASA   mean wait of answered contacts (abandoned ones never count).
 *   Abandon rate  abandoned / (answered + abandoned), both after removing
 *       short abandons (wait < short_abandon_ms) when that is > 0.
 *   AHT   mean of talk (ended_at - answered_at) + wrap over answered
 *       contacts (COPC / ICMI: talk + hold + after-call work; hold is inside
 *       talk here).
 *   Occupancy  busy time / logged-in time, from cr_metrics_agent_time().
 *   Containment  contacts the bot closed without a human (handled_by bot,
 *       not escalated, resolved not 0: a customer who left the bot
 *       unhelped is not contained; resolved unknown counts) / contacts the
 *       bot handled (handled_by bot, or escalated).
 *   Transfer rate  transferred / answered.
 *   Cost  cost_bot per contact the bot handled + cost_agent per answered
 *       contact. Defaults: the classic $0.98 self-service vs $7.76
 *       agent-assisted per contact (widely attributed to
 *       Gartner; not verified here): placeholders, set your own.
 *
 * In a report, counts are uint64_t and always meaningful; every figure is a
 * double that is NAN when there is no data for it (no answers, nothing
 * answered...), never 0 by default: test with isnan().
 * ====================================================================== */

/* The breakdowns. Keys are strings the host chooses (the engine passes
 * cr_channel_name() for the channel). */
typedef enum cr_metrics_dim {
  CR_METRICS_CHANNEL = 0,
  CR_METRICS_QUEUE = 1,
  CR_METRICS_AGENT = 2,
  CR_METRICS_INTENT = 3,
  CR_METRICS_DIM_COUNT = 4 /* not a dimension: the number of them */
} cr_metrics_dim;
/* Pass as dim to the report functions for the figures over everything. */
#define CR_METRICS_TOTAL (-1)

/* Who finished the contact. */
typedef enum cr_handled_by {
  CR_HANDLED_BOT = 0,      /* closed by self-service, no human answered */
  CR_HANDLED_AGENT = 1,    /* a human answered (answered_at) */
  CR_HANDLED_ABANDONED = 2 /* the customer left while waiting for a human */
} cr_handled_by;

/* How abandoned contacts enter the service level (see above). */
typedef enum cr_sl_abandon {
  CR_SL_ABANDON_IGNORE = 0,
  CR_SL_ABANDON_FAIL = 1,
  CR_SL_ABANDON_EXCLUDE_SHORT = 2
} cr_sl_abandon;

/* "No value" for an optional time field. */
#define CR_TIME_NONE INT64_MIN
/* "No answer" for optional int fields: resolved, csat, nps, ces, fcr. */
#define CR_METRICS_NONE (-128)

typedef struct cr_metrics_options {
  cr_time fcr_window_ms;    /* repeat window; default 7 days */
  cr_time sl_threshold_ms;  /* T; default 20 s */
  int sl_abandon;           /* cr_sl_abandon; default CR_SL_ABANDON_FAIL */
  cr_time short_abandon_ms; /* abandons with wait < this are dropped from
                               the abandon rate; default 0 = none */
  cr_time window_ms;        /* moving window length; default 15 min;
                               0 = no window reports */
  cr_time bucket_ms;        /* window resolution; default 1 min */
  double cost_bot;          /* per bot-handled contact; default 0.98 */
  double cost_agent;        /* per answered contact; default 7.76 */
  unsigned breakdowns;      /* bit (1u << dim) keeps that breakdown;
                               default all four (0xF) */
} cr_metrics_options;

/* A key given either as a string (str non-NULL and len > 0: UTF-8, looked
 * up and added on first use) or as an id from cr_metrics_key() (str NULL
 * or len 0, id > 0). Neither (all zero) means "no key"; str NULL with
 * len > 0 is CR_EINVAL. A key for a breakdown switched off in the options
 * is ignored when given as a string; as an id it is CR_ENOTFOUND (no id
 * was ever handed out for it). */
typedef struct cr_metrics_keyref {
  const char *str;
  size_t len;
  uint32_t id;
} cr_metrics_keyref;

/* One finished contact. Start from cr_metrics_record_init(). */
typedef struct cr_metrics_record {
  cr_time arrived_at;  /* required */
  cr_time queued_at;   /* CR_TIME_NONE: never waited for a human */
  cr_time answered_at; /* CR_TIME_NONE unless handled_by agent (may be
                          NONE then too: answered, answer time unknown) */
  cr_time ended_at;    /* required: answer end, abandon or bot close */
  int handled_by;      /* cr_handled_by */
  int escalated;       /* 1: the bot handed it to a human; 0 */
  int resolved;        /* 1, 0 or CR_METRICS_NONE (unknown) */
  int transferred;     /* 1 or 0 */
  cr_time wrap_ms;     /* after-contact work, >= 0 (0 if unknown) */
  cr_metrics_keyref key[CR_METRICS_DIM_COUNT]; /* by cr_metrics_dim */
  const char *customer; /* for FCR; NULL or len 0 = unknown */
  size_t customer_len;
  /* Survey answers given with the record, CR_METRICS_NONE when absent. */
  int csat;            /* 1..5 */
  int nps;             /* 0..10 */
  int ces;             /* 1..7 */
  int fcr;             /* survey "resolved on first contact": 1 or 0 */
} cr_metrics_record;

/* A survey answered after the fact; lands in the groups of its keys and in
 * the window bucket of `at`. At least one answer must be given. */
typedef struct cr_metrics_survey {
  cr_time at;
  cr_metrics_keyref key[CR_METRICS_DIM_COUNT];
  int csat, nps, ces, fcr; /* as in cr_metrics_record */
} cr_metrics_survey;

typedef struct cr_metrics_report {
  uint64_t contacts;       /* records */
  uint64_t answered;       /* handled_by agent */
  uint64_t abandoned;      /* handled_by abandoned (short ones included) */
  uint64_t short_abandoned;
  uint64_t bot_handled;    /* handled_by bot, or escalated */
  uint64_t bot_contained;  /* handled_by bot, not escalated, resolved
                              not 0 */
  uint64_t escalated;
  uint64_t transferred;
  uint64_t resolved, unresolved; /* resolved = 1 / 0 */
  uint64_t fcr_yes, fcr_repeat;  /* resolved, window closed: no repeat /
                                    repeated */
  uint64_t fcr_pending;          /* resolved, window still open */
  uint64_t csat_n, nps_n, ces_n, fcr_survey_n; /* answers */
  uint64_t nps_promoters, nps_detractors;
  double fcr;              /* fcr_yes / (fcr_yes + fcr_repeat) */
  double fcr_survey;
  double resolution_rate;
  double csat_top2, csat_mean;
  double nps, nps_moe95;
  double ces_mean, ces_top3; /* ces_top3: share of 5-7 */
  double service_level;    /* 0..1 */
  double asa_s;
  double abandon_rate;     /* 0..1 */
  double aht_s;
  double occupancy;        /* 0..1 */
  double containment;      /* 0..1 */
  double transfer_rate;    /* 0..1 */
  double cost;             /* estimated total */
  double cost_per_contact;
} cr_metrics_report;

typedef struct cr_metrics cr_metrics;

/* Fills *opt with the defaults above. */
CR_EXTERN void cr_metrics_options_init(cr_metrics_options *opt);
/* Fills *rec with "nothing": times CR_TIME_NONE, answers CR_METRICS_NONE,
 * flags 0, no keys. */
CR_EXTERN void cr_metrics_record_init(cr_metrics_record *rec);
/* Same for a survey. */
CR_EXTERN void cr_metrics_survey_init(cr_metrics_survey *s);

/* Makes an accumulator. opt NULL = defaults. CR_EINVAL for a bad option
 * (bucket <= 0, negative window (0 = no window), a window of more than
 * 100000 buckets, a duration above 2^50 ms, negative threshold or cost,
 * unknown treatment). */
CR_EXTERN int cr_metrics_new(cr_metrics **out, const cr_mem *mem,
                             const cr_metrics_options *opt);
CR_EXTERN void cr_metrics_del(cr_metrics *m);
/* What the last failed call objected to ("csat: 6 is outside 1..5"); ""
 * after a success. Valid until the next call on m. */
CR_EXTERN const char *cr_metrics_errmsg(const cr_metrics *m);

/* The id (1, 2, ...) of key s[0..len) in dimension dim, added on first use
 * (ids are dense, in order of first use). Looking ids up once and passing
 * them in records is the fast path. CR_EINVAL for a bad dim or empty key,
 * CR_EUTF8, CR_ESTATE when that breakdown is off, CR_ENOMEM. */
CR_EXTERN int cr_metrics_key(cr_metrics *m, int dim, const char *s,
                             size_t len, uint32_t *id);
/* Number of keys (groups) in dim; ids run 1..count. 0 for a bad dim. */
CR_EXTERN uint32_t cr_metrics_key_count(const cr_metrics *m, int dim);
/* The name of key id in dim (not NUL-terminated; valid while m lives). */
CR_EXTERN int cr_metrics_key_name(const cr_metrics *m, int dim, uint32_t id,
                                  const char **s, size_t *len);

/* Adds one finished contact. Errors (nothing is recorded): CR_EINVAL
 * (missing required time, unknown handled_by, flag not 0/1, answered_at
 * on a contact no human answered, bad key), CR_ERANGE (survey answer out
 * of its scale, negative wrap, a time beyond +-2^62 ms), CR_EORDER
 * (times out of order: queued or answered before arrival, answered before
 * queued, ended before answered or arrival), CR_EUTF8, CR_ENOTFOUND
 * (unknown key id), CR_ENOMEM. cr_metrics_errmsg() names the field. */
CR_EXTERN int cr_metrics_record_add(cr_metrics *m,
                                    const cr_metrics_record *rec);
/* Adds survey answers (same errors). */
CR_EXTERN int cr_metrics_survey_add(cr_metrics *m,
                                    const cr_metrics_survey *s);
/* Adds agent time for occupancy: logged_in_ms of logged-in time of which
 * busy_ms were busy (talking, wrapping), reported at `at`. agent may be
 * all zero (counts overall only). CR_ERANGE when busy > logged-in,
 * either is negative, logged_in_ms is above 2^50 ms or `at` beyond
 * +-2^62 ms; totals saturate rather than wrap. */
CR_EXTERN int cr_metrics_agent_time(cr_metrics *m,
                                    const cr_metrics_keyref *agent,
                                    cr_time at, cr_time logged_in_ms,
                                    cr_time busy_ms);
/* Tells the accumulator that time `now` has been reached: resolved
 * contacts whose repeat window closed before now (end + window < now) are
 * settled as FCR or repeat (a repeated contact stays pending until then
 * too, so both outcomes are decided at the same age and early repeats do
 * not bias FCR low). Records advance this clock by their arrival; call it
 * at the end of data to close windows (or don't: they stay pending). */
CR_EXTERN int cr_metrics_advance(cr_metrics *m, cr_time now);

/* KPIs since start: dim CR_METRICS_TOTAL (id ignored) or a dimension and
 * key id. CR_EINVAL / CR_ENOTFOUND for a bad dim / id. */
CR_EXTERN int cr_metrics_report_get(const cr_metrics *m, int dim,
                                    uint32_t id, cr_metrics_report *out);
/* KPIs over the moving window: the window_ms / bucket_ms buckets ending
 * with the one that holds `now` (records are bucketed by ended_at, surveys
 * and agent time by `at`). Repeat-form FCR needs days, not minutes, so the
 * window reports it only as pending (fcr NAN). CR_ESTATE when windows are
 * off. */
CR_EXTERN int cr_metrics_window_get(const cr_metrics *m, int dim,
                                    uint32_t id, cr_time now,
                                    cr_metrics_report *out);

/* Persistence (the engine's snapshot embeds this one as a nested blob, as
 * it does the router's). cr_metrics_snapshot() writes everything
 * the accumulator holds -- options, keys and their names in id order, all
 * counters, the window buckets, the FCR pending set and the clock -- to a
 * versioned, little-endian, CRC-32-checked buffer (format in
 * docs/metrics.md). *buf comes from m's allocator: free it with
 * cr_mem_free(mem, *buf) using the same cr_mem m was made with.
 * cr_metrics_restore() makes a new accumulator from such a buffer; every
 * report of it equals the original's, and the same later inputs give the
 * same reports. Errors: CR_EINVAL (NULL arguments), CR_ECORRUPT (not a
 * metrics snapshot, truncated, checksum mismatch, inconsistent contents),
 * CR_EVERSION (written by a newer library), CR_ENOMEM. The buffer is only
 * read, never past len. */
CR_EXTERN int cr_metrics_snapshot(const cr_metrics *m, void **buf,
                                  size_t *len);
CR_EXTERN int cr_metrics_restore(cr_metrics **out, const cr_mem *mem,
                                 const void *buf, size_t len);

/* ======================================================================
 * Staffing (Erlang B, C and A)
 *
 * Planning maths for "how many agents". Pure functions: no handle, no
 * allocation, no state; safe from any thread. Inputs are stated the way a
 * planner states them (contacts per interval, seconds); results come back
 * through out-pointers, written only on success. docs/staffing.md has the
 * formulas, their sources and the numerical method.
 *
 * Models (load A = arrivals * aht_s / interval_s Erlangs, N agents):
 *   Erlang B  M/M/N/N  - no queue; a contact finding all lines busy is lost.
 *   Erlang C  M/M/N    - infinite patience; defined only for A < N.
 *   Erlang A  M/M/N+M  - Palm's queue: each waiting contact abandons after
 *                        an exponential patience with mean patience_s.
 *
 * Definitions used in cr_staffing (exact, no approximation):
 *   p_wait          P(an arriving contact waits at all) (Erlang C formula
 *                   for C; for A, P(all agents busy on arrival)).
 *   service_level   "EA1": P(answered AND waited <= target_s) over ALL
 *                   offered contacts; abandoners, early or late, count as
 *                   failures. For Erlang C (no abandonment) this is the
 *                   classic 1 - C * exp(-(N - A) * target_s / aht_s).
 *   asa_s           mean wait over ALL offered contacts (0 for those
 *                   answered at once; time to abandonment for abandoners)
 *                   = Lq / lambda by Little's law. For Erlang C this is the
 *                   classic ASA = C * aht_s / (N - A). This is the ASA of
 *                   pyworkforce and of Mandelbaum & Zeltyn's E[W].
 *   asa_answered_s  mean wait of ANSWERED contacts only (what a wallboard
 *                   ASA over answered contacts measures). Equal to asa_s
 *                   for Erlang C.
 *   occupancy       carried load / N = A * (1 - p_abandon) / N.
 *   p_abandon       P(an arriving contact abandons) (0 for Erlang C).
 *   queue_len       mean number waiting, Lq.
 *
 * Errors: CR_EINVAL for a NULL pointer, NaN, infinity, a negative value,
 * or zero where a positive one is needed (interval_s, aht_s, patience_s);
 * CR_ERANGE for a finite value outside its domain (a target service level
 * above 1, shrinkage >= 1, more than CR_STAFFING_MAX_AGENTS agents, Erlang
 * A with 0 agents for a positive load, a patience so long against aht_s
 * that Erlang C should be used); CR_EINFEASIBLE when Erlang C is asked
 * about load >= agents, or a target cannot be met (service level 1, or not
 * within CR_STAFFING_MAX_AGENTS agents).
 * ====================================================================== */

/* The largest agent / line count (and offered load) the functions accept.
 * Every computation is O(N) at most, so this bounds the time of a call. */
#define CR_STAFFING_MAX_AGENTS 1000000

/* One planning interval's traffic. Zero-initialise and fill what the model
 * needs: patience_s is read by Erlang A only, target_s by the service
 * level (0 means "answered at once"). */
typedef struct cr_staffing_req {
  double arrivals;   /* contacts offered in the interval, >= 0 */
  double interval_s; /* length of the interval in seconds, > 0 (1800) */
  double aht_s;      /* average handling time (talk + wrap), s, > 0 */
  double target_s;   /* service-level threshold T in seconds, >= 0 */
  double patience_s; /* Erlang A: mean patience in seconds, > 0 */
} cr_staffing_req;

/* What "enough agents" means. Every field 0 = no such constraint; at
 * least one of the first four must be set. All set constraints must hold,
 * each with 1e-12 of room for rounding (absolute for the shares,
 * relative for ASA: an SL of 0.8 - 1e-13 meets a goal of 0.8). */
typedef struct cr_staffing_goal {
  double service_level; /* SL (definition EA1 above) >= this, in [0, 1] */
  double max_occupancy; /* occupancy <= this, in (0, 1] */
  double max_asa_s;     /* asa_s <= this many seconds */
  double max_abandon;   /* Erlang A: p_abandon <= this, in (0, 1] */
  double shrinkage;     /* [0, 1): also report agents / (1 - shrinkage) */
} cr_staffing_goal;

/* The figures for one agent count (see the definitions above). */
typedef struct cr_staffing {
  double load_erlangs;           /* A = arrivals * aht_s / interval_s */
  int32_t agents;                /* given, or the least that meets the goal */
  int32_t agents_with_shrinkage; /* ceil(agents / (1 - goal shrinkage));
                                    = agents from cr_erlang_c/_a */
  double p_wait;
  double service_level;
  double asa_s;
  double asa_answered_s;
  double occupancy;
  double p_abandon;
  double queue_len;
} cr_staffing;

/* Erlang B blocking probability for load_erlangs offered to `lines`
 * trunks, by the recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))
 * (stable, no factorials). lines >= 0. */
CR_EXTERN int cr_erlang_b(double load_erlangs, int32_t lines,
                          double *blocking);
/* The fewest lines with blocking <= max_blocking (in (0, 1]). */
CR_EXTERN int cr_erlang_b_lines(double load_erlangs, double max_blocking,
                                int32_t *lines);

/* Erlang C figures for `agents` agents (needs load < agents). */
CR_EXTERN int cr_erlang_c(const cr_staffing_req *req, int32_t agents,
                          cr_staffing *out);
/* The fewest agents that meet goal under Erlang C; out gets their figures.
 * max_abandon is always met here (no one abandons): a goal with only
 * max_abandon is CR_EINVAL. */
CR_EXTERN int cr_erlang_c_agents(const cr_staffing_req *req,
                                 const cr_staffing_goal *goal,
                                 cr_staffing *out);

/* Erlang A figures for `agents` agents (any load; agents >= 1). */
CR_EXTERN int cr_erlang_a(const cr_staffing_req *req, int32_t agents,
                          cr_staffing *out);
/* The fewest agents that meet goal under Erlang A; out gets their figures. */
CR_EXTERN int cr_erlang_a_agents(const cr_staffing_req *req,
                                 const cr_staffing_goal *goal,
                                 cr_staffing *out);

/* Agents to schedule so that `agents` are productive after shrinkage (the
 * share of paid time not available for contacts: breaks, training, absence):
 * ceil(agents / (1 - shrinkage)); shrinkage in [0, 1). */
CR_EXTERN int cr_staffing_shrink(int32_t agents, double shrinkage,
                                 int32_t *scheduled);


/* ======================================================================
 * Intent matching
 *
 * Turns one customer message ("I never got my invoice", "שכחתי את
 * הסיסמה") into ranked intents with a calibrated confidence, and says
 * "out of scope" when nothing fits. A cr_intent_trainer collects labelled
 * examples and options; cr_intent_train() fits a cr_intent_model: hashed
 * word uni/bigrams and in-word character n-grams (TF-IDF, sublinear TF,
 * L2-normalised) fed to a one-vs-rest L2-regularised linear SVM trained by
 * dual coordinate descent (LIBLINEAR's solver), whose scores are turned
 * into probabilities by a softmax with a temperature fitted on held-out
 * training examples. Phrase rules with a priority sit beside the model and
 * win when they match (a request for a human, an emergency). A model is
 * saved to and loaded from a memory buffer. See docs/intent.md.
 *
 * Text is UTF-8, pointer + length; invalid UTF-8 is CR_EUTF8. Labels are
 * non-empty UTF-8 without TAB, CR or LF, at most 255 bytes.
 * A model is not thread-safe (predict uses a scratch buffer inside it):
 * use one model per thread (load each from the same saved buffer).
 * ====================================================================== */

/* Normalises text[0..len) the way the intent matcher sees it: validates
 * UTF-8 (CR_EUTF8 and nothing written on failure); folds case for Latin,
 * Greek and Cyrillic; strips Hebrew niqqud and cantillation (U+0591-U+05C7
 * points), maps final letters (ך ם ן ף ץ) to their base forms and drops
 * geresh/gershayim inside words (צה"ל -> צהל); drops apostrophes inside
 * words (what's -> whats); turns punctuation, symbols, emoji, maqaf and
 * white space into token separators. The result is the tokens joined by
 * single spaces, NUL-terminated. Its length never exceeds len, so
 * cap >= len + 1 always suffices. *out_len receives the normalised length
 * (without the NUL); when cap is too small, nothing is written, *out_len
 * still receives the length needed and the call returns CR_ENOSPACE. */
CR_EXTERN int cr_text_normalize(const char *text, size_t len, char *out,
                                size_t cap, size_t *out_len);

typedef struct cr_intent_trainer cr_intent_trainer;
typedef struct cr_intent_model cr_intent_model;

/* One ranked answer of cr_intent_predict(). */
typedef struct cr_intent_match {
  const char *label;  /* NUL-terminated, owned by the model */
  size_t label_len;
  size_t label_index; /* 0 .. cr_intent_model_label_count() - 1 */
  double confidence;  /* calibrated probability in [0, 1]; 1 for a rule */
  double score;       /* the raw linear score (SVM margin); 0 for a rule */
  int rule;           /* index of the rule that matched, or -1 (model) */
  int out_of_scope;   /* 1 when this answer is not to be trusted: its
                         confidence is below the model's threshold, or it
                         is the model's out-of-scope label. out[0]'s flag
                         is the out-of-scope decision for the message. */
} cr_intent_match;

/* ---- trainer ---- */

CR_EXTERN int cr_intent_trainer_new(cr_intent_trainer **out,
                                    const cr_mem *mem);
CR_EXTERN void cr_intent_trainer_del(cr_intent_trainer *t);
/* Why the last call on t failed (e.g. "line 12: no TAB"); "" if none. */
CR_EXTERN const char *cr_intent_trainer_errmsg(const cr_intent_trainer *t);

/* Adds one example. CR_EINVAL for an empty/too long label or one with TAB,
 * CR or LF; CR_EUTF8 for invalid UTF-8 in either. Empty text is allowed. */
CR_EXTERN int cr_intent_trainer_add(cr_intent_trainer *t, const char *label,
                                    size_t label_len, const char *text,
                                    size_t text_len);
/* Adds every "label<TAB>text" line of tsv[0..len) (LF or CRLF; blank
 * lines skipped). All or nothing: on a bad line nothing is added, the
 * call returns CR_EINVAL or CR_EUTF8 and the errmsg names the line. */
CR_EXTERN int cr_intent_trainer_add_tsv(cr_intent_trainer *t, const char *tsv,
                                        size_t len);
/* Number of examples added so far. */
CR_EXTERN size_t cr_intent_trainer_count(const cr_intent_trainer *t);

/* Options. Each returns CR_ERANGE (and changes nothing) for a value out of
 * range. Defaults are in docs/intent.md and were chosen on validation
 * data. */
/* Seed of the solver's permutation and the calibration split (default 1).
 * Same seed and examples -> bit-identical model. */
CR_EXTERN int cr_intent_trainer_set_seed(cr_intent_trainer *t, uint64_t seed);
/* Features are hashed into 2^bits buckets, 12 <= bits <= 24. */
CR_EXTERN int cr_intent_trainer_set_hash_bits(cr_intent_trainer *t,
                                              unsigned bits);
/* Word n-grams 1..max_n (1 <= max_n <= 3); max_n >= 2 also adds
 * skip-bigrams (a word and the word two places on). */
CR_EXTERN int cr_intent_trainer_set_word_ngrams(cr_intent_trainer *t,
                                                unsigned max_n);
/* Character n-grams of min_n..max_n code points inside each word with
 * boundary markers (1 <= min_n <= max_n <= 8), or 0, 0 for none. */
CR_EXTERN int cr_intent_trainer_set_char_ngrams(cr_intent_trainer *t,
                                                unsigned min_n,
                                                unsigned max_n);
/* Features seen in fewer than min_df training examples are dropped
 * (1 <= min_df <= 1000; default: 1 below 5,000 examples, else 2). */
CR_EXTERN int cr_intent_trainer_set_min_df(cr_intent_trainer *t,
                                           unsigned min_df);
/* SVM regularisation C (1e-4 <= c <= 1e4; larger fits the training set
 * more closely). */
CR_EXTERN int cr_intent_trainer_set_c(cr_intent_trainer *t, double c);
/* Solver stops after max_epochs passes (1..10000) or when the projected
 * gradient spread falls below tolerance (1e-6 .. 1). */
CR_EXTERN int cr_intent_trainer_set_solver(cr_intent_trainer *t,
                                           unsigned max_epochs,
                                           double tolerance);
/* Fraction of the training examples (per label) held out to fit the
 * confidence calibration, then trained on again (0 = no calibration:
 * temperature 1; else 0.05 .. 0.5). */
CR_EXTERN int cr_intent_trainer_set_calibration(cr_intent_trainer *t,
                                                double holdout_fraction);
/* Names the out-of-scope label (default none). Examples with this label
 * train a reject class; a prediction of it is flagged out_of_scope, and
 * cr_intent_model_tune_threshold() treats rows with it as out of scope.
 * len 0 clears it. */
CR_EXTERN int cr_intent_trainer_set_oos_label(cr_intent_trainer *t,
                                              const char *label, size_t len);

/* Trains a model from the examples (the trainer is unchanged and can train
 * again). CR_ENODATA when there are no examples. With a single label the
 * model always answers that label (confidence 1) unless the threshold says
 * out of scope. */
CR_EXTERN int cr_intent_train(cr_intent_trainer *t, cr_intent_model **out);

/* ---- model ---- */

CR_EXTERN void cr_intent_model_del(cr_intent_model *m);
/* Why the last call on m failed; "" if none. */
CR_EXTERN const char *cr_intent_model_errmsg(const cr_intent_model *m);

/* Labels: the trained ones in first-seen order, then labels that only
 * rules name. */
CR_EXTERN size_t cr_intent_model_label_count(const cr_intent_model *m);
/* The i-th label (NUL-terminated), or NULL when i is out of range. */
CR_EXTERN const char *cr_intent_model_label(const cr_intent_model *m,
                                            size_t i);
/* The out-of-scope label given at training, or NULL. */
CR_EXTERN const char *cr_intent_model_oos_label(const cr_intent_model *m);

/* Top-k answers for text[0..len): a matching rule first (highest priority,
 * then the earliest added), then the model's labels by confidence (a
 * label already given by the rule is not repeated). Writes up to k
 * entries to out (fewer when there are fewer labels to rank: the trained
 * labels, plus the matching rule's) and their number to *n_out. k = 0 is
 * allowed (nothing written). CR_EUTF8 for invalid UTF-8. Any length works
 * (a 1 MB message costs time, not failure, apart from CR_ENOMEM). */
CR_EXTERN int cr_intent_predict(cr_intent_model *m, const char *text,
                                size_t len, cr_intent_match *out, size_t k,
                                size_t *n_out);

/* Out-of-scope threshold on the calibrated top confidence, in [0, 1]
 * (default 0: only the out-of-scope label, if trained, is out of scope). */
CR_EXTERN int cr_intent_model_set_threshold(cr_intent_model *m, double t);
CR_EXTERN double cr_intent_model_threshold(const cr_intent_model *m);
/* Chooses and sets the threshold that maximises the mean of in-scope
 * accuracy (a row counts as right when its top label is right and not
 * flagged out of scope) and out-of-scope recall on the "label<TAB>text"
 * rows of tsv (rows whose label is the model's oos label, or a label the
 * model does not know, are out of scope). *threshold (may be NULL) gets
 * it. CR_ENODATA when the rows lack either kind; errors name the line. */
CR_EXTERN int cr_intent_model_tune_threshold(cr_intent_model *m,
                                             const char *tsv, size_t len,
                                             double *threshold);
/* The softmax temperature fitted at training (1 without calibration). */
CR_EXTERN double cr_intent_model_temperature(const cr_intent_model *m);

/* Rules. phrase is normalised like a message and matches when its words
 * appear consecutively in the message. A word matches a message word
 * that equals it, also after removing up to three Hebrew proclitic
 * letters (ו ה ב ל מ ש כ) in front; a word ending in '*' matches any word
 * that starts with it ("נציג*" matches נציגה and לנציג, "agent*" matches
 * agents). The highest priority wins; ties go to the rule added first.
 * The label need not be a trained one. Rules are saved with the model.
 * CR_EINVAL for a bad label or a phrase with no words; CR_EFULL past
 * 65535 rules. */
CR_EXTERN int cr_intent_model_add_rule(cr_intent_model *m, const char *label,
                                       size_t label_len, const char *phrase,
                                       size_t phrase_len, int priority);
/* Adds the built-in Hebrew + English phrase lists (docs/intent.md): asking
 * for a human ("representative", "talk to a person", "נציג*", "בן אדם")
 * at priority 100 under human_label (with exceptions: "a fake
 * representative" does not fire them), and physical emergencies
 * ("emergency", "gas leak", "חירום") at priority 200 under
 * emergency_label. A NULL/empty label skips that list. No fraud words:
 * use cr_intent_model_add_builtin_rules_ex() for those. */
CR_EXTERN int cr_intent_model_add_builtin_rules(cr_intent_model *m,
                                                const char *human_label,
                                                size_t human_len,
                                                const char *emergency_label,
                                                size_t emergency_len);
/* Like cr_intent_model_add_builtin_rules(), plus fraud words ("fraud",
 * "stolen card", "account hacked", "הונאה", "נפרץ") at priority 150 under
 * fraud_label (NULL/empty: no fraud rules). Fraud is usually its own
 * queue, so the emergency list holds physical danger only ("emergency",
 * "gas leak", "חירום"). The human list comes with exceptions ("fake",
 * "impersonat*", "מזויף*", "מתחזה*"): "a fake representative called me"
 * is not a request for one. cr_intent_model_add_builtin_rules() is this
 * call with fraud_label NULL. */
CR_EXTERN int cr_intent_model_add_builtin_rules_ex(
    cr_intent_model *m, const char *human_label, size_t human_len,
    const char *emergency_label, size_t emergency_len, const char *fraud_label,
    size_t fraud_len);
/* A rule exception: while phrase (same syntax as a rule) matches the
 * message, no rule of label fires and the model decides. Counted and
 * saved with the rules. CR_EINVAL / CR_EUTF8 / CR_EFULL as add_rule. */
CR_EXTERN int cr_intent_model_add_rule_exception(cr_intent_model *m,
                                                 const char *label,
                                                 size_t label_len,
                                                 const char *phrase,
                                                 size_t phrase_len);
/* Number of rules and rule exceptions. */
CR_EXTERN size_t cr_intent_model_rule_count(const cr_intent_model *m);

/* Serialises m into a new buffer from mem (NULL = libc), freed with
 * cr_mem_free(mem, *buf). Little-endian, versioned, CRC-32 checked. */
CR_EXTERN int cr_intent_model_save(const cr_intent_model *m, const cr_mem *mem,
                                   void **buf, size_t *len);
/* Loads a model saved by cr_intent_model_save(). CR_ECORRUPT for a
 * truncated or damaged buffer, CR_EVERSION for a newer format; never
 * reads outside buf[0..len). Predictions are bit-identical to the saved
 * model's. */
CR_EXTERN int cr_intent_model_load(cr_intent_model **out, const cr_mem *mem,
                                   const void *buf, size_t len);

/* @@SECTION router@@ */

/* ======================================================================
 * Router: skill-based queueing (lib/router.c, docs/router.md)
 *
 * The router decides which human agent gets which waiting conversation,
 * and when. It is pure and clock-free: every call takes `now` (cr_time,
 * ms within +-2^62, never decreasing -- an earlier time is CR_EORDER;
 * durations are at most 2^50 ms, CR_ERANGE otherwise); before doing what
 * it is asked, a call first runs every deadline due at or before `now`,
 * so results never depend on how often the host ticks. Time passes
 * first: a call with a valid `now` runs those deadlines and moves the
 * clock to `now` even when what it then asks is refused (an unknown id,
 * an offer that is not this agent's); the refusal changes nothing else,
 * and a refused `now` (CR_EORDER, CR_ERANGE) changes nothing at all. (The
 * engine checks its arguments before it lets time pass; see there.)
 * cr_router_next_expiry() says when the next deadline falls and
 * cr_router_tick() runs it. Results come out through callbacks (offers,
 * cancelled offers, assignments, escalations) and one event stream that is
 * the router's queue log, in Asterisk queue_log words (ENTERQUEUE,
 * CONNECT, ABANDON, RINGNOANSWER, TRANSFER, EXITWITHTIMEOUT, PAUSE, ...).
 *
 * Agents. An agent has an id, skills with a proficiency 1..5, a status
 * (offline, available, away with a reason; wrap-up is reported while an
 * ended conversation still holds its slot) and a capacity that covers both
 * industry styles in one line: a maximum concurrency per channel (Amazon
 * Connect: voice 1, chat up to 10) AND an optional total capacity with a
 * cost per channel (Azure Job Router: total 100, voice 100, chat 20 = one
 * call or five chats). "One call, or up to three chats and two SMS" is
 * max voice 1 / chat 3 / sms 2, total 100, cost voice 100 / chat 20 /
 * sms 20. A conversation fits when its channel's count is below that
 * channel's maximum and, with a total, the costs in use plus its cost do
 * not exceed the total. Offers (reservations), live conversations and
 * conversations in wrap-up all hold capacity. An agent serves the queues
 * it is a member of, each with a priority (lower = served first, like an
 * Asterisk penalty) and a delay (a conversation must have waited that long
 * before this agent sees it: the Connect routing-profile delay).
 *
 * Queues. A queue has default skill requirements (skill >= level), an
 * agent-selection strategy, a service-level target per channel (answered
 * within threshold seconds, target share), an optional hard maximum wait
 * for a human (e.g. 360 s) with an escalation some time before it, a
 * maximum length, an open/closed flag set by the host (closed refuses new
 * entries; those already waiting are still served), and overflow to
 * another queue after a delay, or on entry when the estimated wait here is
 * longer than a bound (and longer than there) or the service level so far
 * is below a bound. Membership is explicit (cr_router_agent_join) or, with
 * auto_members, every agent whose skills meet the queue's requirements.
 *
 * Conversations. A waiting conversation has an id, a channel, a priority
 * (higher is served first), opaque host attributes returned in offers, an
 * arrival time, and a list of routing steps. Each step is a requirement
 * with an expiry: skills with minimum levels (empty = the queue's
 * defaults), a queue to move to, or one preferred agent. When a step
 * expires the next one applies; the last one never expires. Steps express
 * relaxation (level 4, then 2, then any), bullseye rings, tightening
 * (requirements added later), sticky last-agent routing with a timeout
 * (a preferred-agent step whose agent is offline or unknown is skipped at
 * once, so the customer is never stranded), and overflow. A conversation's
 * place in line is its original arrival: changing steps, priority, channel
 * or queue never sends it to the back. It may abandon at any time and
 * cr_router_resume() within the re-entry grace period puts it back where
 * it was.
 *
 * Matching happens when a conversation arrives or its requirement changes,
 * an agent frees capacity, becomes available or joins a queue, and when a
 * step, a member delay or a decline block expires. Waiting conversations
 * are ordered by effective priority, then arrival. Effective priority is
 * the priority plus an SLA-urgency boost once the conversation has waited
 * urgency_percent of its channel's SL threshold, plus an escalation boost
 * at the escalation point before max wait. An agent freeing capacity takes,
 * among its queues, the best eligible conversation by (its member priority
 * for the queue, effective priority, arrival): across queues sharing
 * agents the longest waiter of the highest priority is served first.
 * A conversation picks among eligible available agents by the queue's
 * strategy: longest idle (idle longest since its last change of workload
 * -- an offer made or withdrawn, a conversation or its wrap-up ending --
 * or of status, as Avaya's most-idle agent and Asterisk's leastrecent; the
 * default), least occupied, fewest contacts, least talk time, most
 * proficient (in the queue's first required skill), round robin with
 * memory, random (seeded by the host, exact uniform), or ring-all (offer
 * to up to ring_all_max agents at once, first accept wins).
 *
 * Offers are reservations: the agent accepts, rejects, or lets it time out
 * (default 120 s as in Twilio TaskRouter). A rejected or missed
 * conversation goes back to its place and is offered to the next
 * candidate; the agent who declined is not offered it again for
 * decline_block_ms. After auto_away_misses consecutive timeouts the agent
 * is set away with reason "auto-away" (Asterisk autopause). When a live
 * conversation ends its slot stays held for the wrap-up time (agent's,
 * else queue's, else router's).
 *
 * Estimated wait (EWT) for a new conversation in a queue and channel:
 * 0 when an eligible member has free capacity now; otherwise
 * (waiting + 1) x AHT / slots, with AHT an exponentially smoothed handle
 * time (assignment to end, seeded by aht_hint_ms) and slots the staffed
 * concurrent capacity of logged-in members on that channel. The error of
 * this estimate on a simulated queue is measured in tests/test_router.c.
 *
 * Persistence: cr_router_snapshot() writes the whole state to a versioned,
 * little-endian, checksummed buffer; cr_router_restore() rebuilds a router
 * that makes exactly the same decisions. Callbacks are not saved.
 *
 * Ids (agent, queue, skill, conversation) are UTF-8 strings of 1..255
 * bytes (CR_EUTF8 / CR_EINVAL otherwise). Callbacks must not call back
 * into the same router (CR_ESTATE); pointers in an event are valid only
 * during the callback.
 * ====================================================================== */

typedef struct cr_router cr_router;

/* A time that never comes: cr_router_next_expiry() with nothing pending. */
#define CR_TIME_NEVER INT64_MAX

typedef enum cr_agent_status {
  CR_AGENT_OFFLINE = 0,   /* logged out: no offers, not staffed */
  CR_AGENT_AVAILABLE = 1, /* logged in and taking conversations */
  CR_AGENT_AWAY = 2,      /* logged in, paused (with a reason) */
  CR_AGENT_WRAPUP = 3     /* reported only: available, but every held slot
                             is wrap-up; cannot be set */
} cr_agent_status;

typedef enum cr_strategy {
  CR_STRATEGY_LONGEST_IDLE = 0,  /* idle longest since its last change of
                                    workload or status */
  CR_STRATEGY_LEAST_OCCUPIED = 1, /* lowest share of capacity in use */
  CR_STRATEGY_FEWEST_CONTACTS = 2, /* fewest conversations since login */
  CR_STRATEGY_LEAST_TALK_TIME = 3, /* least handle time since login */
  CR_STRATEGY_MOST_PROFICIENT = 4, /* highest level in the queue's first
                                      required skill, then longest idle */
  CR_STRATEGY_ROUND_ROBIN = 5,    /* rotate through members (rrmemory) */
  CR_STRATEGY_RANDOM = 6,         /* uniform, from the router's seed */
  CR_STRATEGY_RING_ALL = 7,       /* parallel offers, first accept wins */
  CR_STRATEGY_COUNT = 8
} cr_strategy;

/* A skill and a level: an agent's proficiency (1..5) or a requirement's
 * minimum level (1..5). Skill names are host strings, interned once. */
typedef struct cr_skill_level {
  const char *skill;
  size_t skill_len;
  int level;
} cr_skill_level;

typedef enum cr_step_kind {
  CR_STEP_SKILLS = 0, /* agents of the current queue with these skills
                         (none listed = the queue's default requirement) */
  CR_STEP_QUEUE = 1,  /* move to queue `target` (keeping the place in line);
                         `skills` as for CR_STEP_SKILLS, in that queue */
  CR_STEP_AGENT = 2   /* only agent `target` (sticky / preferred agent):
                         membership and skills are not required, capacity
                         is; skipped at once if that agent is offline or
                         unknown */
} cr_step_kind;

/* One routing step. expire_after_ms counts from the moment the step
 * starts; <= 0 means it never expires (only sensible for the last step). */
typedef struct cr_route_step {
  int kind;                     /* cr_step_kind */
  const char *target;           /* queue or agent id (QUEUE, AGENT) */
  size_t target_len;
  const cr_skill_level *skills; /* at most CR_ROUTER_MAX_STEP_SKILLS */
  size_t nskills;
  cr_time expire_after_ms;
} cr_route_step;

#define CR_ROUTER_MAX_STEPS 16
#define CR_ROUTER_MAX_STEP_SKILLS 8
#define CR_ROUTER_MAX_PRIORITY 1000000

typedef struct cr_router_config {
  cr_time offer_timeout_ms;  /* default 120000 (TaskRouter's default) */
  uint32_t auto_away_misses; /* consecutive timeouts -> away; 0 never;
                                default 3 */
  cr_time wrapup_ms;         /* default wrap-up, 0 */
  cr_time reentry_grace_ms;  /* abandon -> resume window, default 60000 */
  cr_time decline_block_ms;  /* an agent who rejected or missed a
                                conversation is not re-offered it for this
                                long, default 30000 */
  uint64_t seed;             /* for CR_STRATEGY_RANDOM, default 1 */
  double aht_alpha;          /* EWT handle-time smoothing weight, (0,1],
                                default 0.1 */
} cr_router_config;

typedef enum cr_maxwait_action {
  CR_MAXWAIT_REPORT = 0, /* MAXWAIT event; stays queued at top priority */
  CR_MAXWAIT_EXIT = 1    /* EXITWITHTIMEOUT: leaves the queue */
} cr_maxwait_action;

typedef struct cr_queue_config {
  int strategy;                 /* cr_strategy, default LONGEST_IDLE */
  const cr_skill_level *skills; /* default requirement (copied) */
  size_t nskills;               /* at most CR_ROUTER_MAX_STEP_SKILLS */
  int auto_members;             /* 1: members = agents meeting `skills` */
  cr_time sl_threshold_ms[CR_CHANNEL_COUNT]; /* default 20 s voice and
                                   chat, 60 s other messaging, 1 h email,
                                   task */
  double sl_target[CR_CHANNEL_COUNT]; /* share, default 0.8 */
  int urgency_percent;          /* boost after this % of the SL threshold;
                                   0 = off (default) */
  int urgency_boost;            /* added to the priority, default 0 */
  cr_time max_wait_ms;          /* hard max wait for a human; 0 = none */
  cr_time escalate_before_ms;   /* ESCALATE this long before max wait */
  int escalate_boost;           /* added to the priority at ESCALATE */
  int max_wait_action;          /* cr_maxwait_action */
  uint32_t max_length;          /* waiting + offered; 0 = unlimited */
  cr_time wrapup_ms;            /* < 0: router default (default -1) */
  cr_time offer_timeout_ms;     /* <= 0: router default (default 0) */
  uint32_t ring_all_max;        /* parallel offers for RING_ALL, default 8 */
  const char *overflow_queue;   /* overflow target id, NULL = none */
  size_t overflow_queue_len;
  cr_time overflow_after_ms;    /* move after waiting this long; 0 = off */
  cr_time overflow_ewt_ms;      /* on entry: EWT here > this (and > there)
                                   sends it there; 0 = off */
  double overflow_sl_below;     /* on entry: SL so far < this sends it
                                   there; 0 = off */
  cr_time aht_hint_ms;          /* EWT handle time before any sample,
                                   default 300000 */
} cr_queue_config;

typedef struct cr_agent_config {
  uint32_t max_per_channel[CR_CHANNEL_COUNT]; /* 0 = does not take it */
  uint32_t total_capacity;      /* 0 = no total limit (costs ignored) */
  uint32_t cost[CR_CHANNEL_COUNT]; /* cost of one conversation */
  const cr_skill_level *skills; /* proficiency 1..5 (copied) */
  size_t nskills;
  cr_time wrapup_ms;            /* < 0: queue/router default (default) */
} cr_agent_config;

typedef struct cr_conv_params {
  int channel;                  /* cr_channel, default CHAT */
  int priority;                 /* 0..CR_ROUTER_MAX_PRIORITY, default 0 */
  const cr_route_step *steps;   /* NULL/0 = one step: the queue defaults */
  size_t nsteps;                /* at most CR_ROUTER_MAX_STEPS */
  const char *attrs;            /* opaque host attributes, e.g.
                                   "tier=vip;lang=he" (copied, UTF-8) */
  size_t attrs_len;
} cr_conv_params;

/* Event types: the router's queue log. Names follow Asterisk's queue_log
 * where it has a word for it; data1/data2 meanings are listed. */
typedef enum cr_router_event_type {
  CR_REV_ENTERQUEUE = 0,  /* conv enters queue; data1 = priority,
                             data2 = EWT ms */
  CR_REV_OFFER = 1,       /* offer made (reservation); data1 = expiry time,
                             data2 = attempt number (1 = first) */
  CR_REV_CONNECT = 2,     /* offer accepted; data1 = wait ms (arrival to
                             accept), data2 = ring ms */
  CR_REV_REJECT = 3,      /* agent rejected; data1 = ring ms */
  CR_REV_RINGNOANSWER = 4, /* offer timed out; data1 = ring ms,
                              data2 = consecutive misses */
  CR_REV_RINGCANCELED = 5, /* offer withdrawn (another agent took it,
                              customer left, agent went away) */
  CR_REV_ABANDON = 6,     /* customer left while waiting/offered;
                             data1 = wait ms */
  CR_REV_RESUME = 7,      /* abandoned conversation re-entered; data1 =
                             original arrival */
  CR_REV_COMPLETE = 8,    /* live conversation ended; data1 = handle ms */
  CR_REV_TRANSFER = 9,    /* moved to another queue (queue = new one) */
  CR_REV_OVERFLOW = 10,   /* moved by overflow (queue = new one);
                             data1 = 0 delay, 1 EWT, 2 SL, 3 step */
  CR_REV_STEP = 11,       /* requirement step changed; data1 = step index */
  CR_REV_PRIORITY = 12,   /* effective priority changed; data1 = new,
                             data2 = 0 host, 1 urgency, 2 escalation */
  CR_REV_ESCALATE = 13,   /* max wait approaching; data1 = deadline */
  CR_REV_MAXWAIT = 14,    /* max wait reached, still queued; data1 = wait */
  CR_REV_EXITWITHTIMEOUT = 15, /* left the queue at max wait */
  CR_REV_CHANNEL = 16,    /* channel switched; channel = new one,
                             data1 = old channel */
  CR_REV_AGENTLOGIN = 17,
  CR_REV_AGENTLOGOFF = 18,
  CR_REV_PAUSE = 19,      /* away; reason = the host's (or "auto-away") */
  CR_REV_UNPAUSE = 20,
  CR_REV_WRAPUPEND = 21,  /* a wrap-up slot freed */
  CR_REV_ADDMEMBER = 22,  /* agent joined a queue; data1 = priority,
                             data2 = delay */
  CR_REV_REMOVEMEMBER = 23,
  CR_REV_QUEUEOPEN = 24,
  CR_REV_QUEUECLOSE = 25,
  CR_REV_EXPIRED = 26,    /* abandoned conversation's grace ended */
  CR_REV_COUNT = 27
} cr_router_event_type;

/* One event. Strings are ids (not NUL-terminated; NULL/0 when not
 * applicable), valid only during the callback. */
typedef struct cr_router_event {
  int type;            /* cr_router_event_type */
  cr_time time;
  const char *conv;
  size_t conv_len;
  const char *agent;
  size_t agent_len;
  const char *queue;
  size_t queue_len;
  int channel;         /* cr_channel, or -1 */
  int64_t data1;
  int64_t data2;
  const char *text;    /* reason (PAUSE) or the conversation's attrs
                          (OFFER, CONNECT) */
  size_t text_len;
} cr_router_event;

typedef void (*cr_router_event_cb)(const cr_router_event *ev,
                                   void *user_data);

/* Every member optional. For an event with a dedicated callback, that one
 * is called first, then `event` (which sees every event, in order). */
typedef struct cr_router_callbacks {
  cr_router_event_cb offer;           /* OFFER */
  cr_router_event_cb offer_cancelled; /* RINGCANCELED */
  cr_router_event_cb assigned;        /* CONNECT */
  cr_router_event_cb escalation;      /* ESCALATE, MAXWAIT, EXITWITHTIMEOUT */
  cr_router_event_cb event;           /* all: the queue log */
  void *user_data;
} cr_router_callbacks;

typedef enum cr_conv_state {
  CR_CONV_WAITING = 0,
  CR_CONV_OFFERED = 1,  /* reserved for one or more agents */
  CR_CONV_ASSIGNED = 2, /* live with an agent */
  CR_CONV_ABANDONED = 3 /* left; resumable until the grace period ends */
} cr_conv_state;

typedef struct cr_conv_info {
  int state;             /* cr_conv_state */
  int channel;
  int priority;          /* base */
  int effective_priority;
  cr_time arrival;       /* the place in line */
  int step;              /* current step index */
  const char *queue;     /* current queue id (valid until the next call) */
  size_t queue_len;
  const char *agent;     /* ASSIGNED: the agent */
  size_t agent_len;
  uint32_t offers;       /* outstanding offers (OFFERED) */
} cr_conv_info;

typedef struct cr_queue_stats {
  uint32_t waiting;          /* not yet offered */
  uint32_t offered;          /* reserved, waiting for an answer */
  uint32_t active;           /* live with an agent */
  cr_time longest_wait_ms;   /* among waiting + offered */
  uint32_t members;
  uint32_t members_logged_in;
  uint32_t agents_available; /* members available with free capacity */
  double occupancy;          /* capacity in use / staffed capacity of
                                logged-in members, 0..1 */
  uint64_t entered, answered, abandoned, timed_out, overflowed_out;
  uint64_t answered_in_sl;   /* answered within the channel's threshold */
  uint64_t abandoned_after_sl;
  double service_level;      /* answered_in_sl / (answered +
                                abandoned_after_sl); 1 when no contact */
  uint64_t offers_accepted, offers_rejected, offers_missed;
  cr_time aht_ms;            /* smoothed handle time (channel-blind) */
} cr_queue_stats;

typedef struct cr_agent_stats {
  int status;                /* cr_agent_status (WRAPUP when applicable) */
  uint32_t load[CR_CHANNEL_COUNT]; /* slots held per channel (offers,
                                      live, wrap-up) */
  uint32_t offers_pending;
  uint32_t active;           /* live conversations */
  uint32_t wrapping;         /* slots in wrap-up */
  uint32_t cost_used;
  double occupancy;          /* now: cost_used/total, or slots held /
                                sum of channel maxima */
  uint64_t contacts;         /* conversations accepted since login */
  cr_time talk_ms;           /* handle time of ended ones since login */
  cr_time idle_since;        /* the longest-idle key */
  uint64_t offers_accepted, offers_rejected, offers_missed;
  uint32_t consecutive_misses;
} cr_agent_stats;

CR_EXTERN void cr_router_config_init(cr_router_config *cfg);
CR_EXTERN void cr_queue_config_init(cr_queue_config *cfg);
CR_EXTERN void cr_agent_config_init(cr_agent_config *cfg);
CR_EXTERN void cr_conv_params_init(cr_conv_params *p);

/* cfg NULL = defaults. CR_EINVAL / CR_ERANGE on a bad config. */
CR_EXTERN int cr_router_new(cr_router **out, const cr_mem *mem,
                            const cr_router_config *cfg);
CR_EXTERN void cr_router_del(cr_router *r);
/* A sentence about the last failure (which id, which field); "" if none. */
CR_EXTERN const char *cr_router_errmsg(const cr_router *r);
/* Copies *cb (NULL clears every callback). */
CR_EXTERN int cr_router_set_callbacks(cr_router *r,
                                      const cr_router_callbacks *cb);
/* "ENTERQUEUE", ...; NULL outside the enum. */
CR_EXTERN const char *cr_router_event_name(int type);

/* ---- queues ---- */
/* New queue (open). CR_EEXIST, CR_EINVAL, CR_ERANGE (level, share),
 * CR_ENOTFOUND (overflow queue unknown; it must exist first). */
CR_EXTERN int cr_router_queue_add(cr_router *r, const char *id, size_t len,
                                  const cr_queue_config *cfg, cr_time now);
/* Replaces the configuration; waiting conversations keep their places. */
CR_EXTERN int cr_router_queue_update(cr_router *r, const char *id,
                                     size_t len, const cr_queue_config *cfg,
                                     cr_time now);
/* Closed: new entries get CR_ECLOSED; those waiting are still served. */
CR_EXTERN int cr_router_queue_set_open(cr_router *r, const char *id,
                                       size_t len, int open, cr_time now);
CR_EXTERN int cr_router_queue_stats(cr_router *r, const char *id,
                                    size_t len, cr_time now,
                                    cr_queue_stats *out);
/* EWT in ms for a conversation entering now (see the method above). */
CR_EXTERN int cr_router_ewt(cr_router *r, const char *queue, size_t len,
                            int channel, cr_time now, cr_time *ewt_ms);

/* ---- agents ---- */
/* New agent, offline. CR_EINVAL for capacity 0 (no channel), a channel
 * cost above the total; CR_ERANGE for a level outside 1..5. */
CR_EXTERN int cr_router_agent_add(cr_router *r, const char *id, size_t len,
                                  const cr_agent_config *cfg, cr_time now);
/* New skills/capacity (memberships of auto_members queues follow the
 * skills). CR_EFULL, nothing changed, if the agent already holds more than
 * the new capacity allows. */
CR_EXTERN int cr_router_agent_update(cr_router *r, const char *id,
                                     size_t len, const cr_agent_config *cfg,
                                     cr_time now);
/* Only an agent holding nothing (no offer, live or wrap-up): CR_ESTATE. */
CR_EXTERN int cr_router_agent_remove(cr_router *r, const char *id,
                                     size_t len, cr_time now);
/* Member of a queue with a priority (0 = first, higher = later) and a
 * delay in ms. Joining again updates both. CR_ESTATE on an auto_members
 * queue. */
CR_EXTERN int cr_router_agent_join(cr_router *r, const char *agent,
                                   size_t agent_len, const char *queue,
                                   size_t queue_len, int priority,
                                   cr_time delay_ms, cr_time now);
CR_EXTERN int cr_router_agent_leave(cr_router *r, const char *agent,
                                    size_t agent_len, const char *queue,
                                    size_t queue_len, cr_time now);
/* OFFLINE, AVAILABLE or AWAY (reason: any UTF-8, up to 63 bytes).
 * Going offline or away withdraws pending offers (they go back to their
 * place in line); live conversations stay with the agent. */
CR_EXTERN int cr_router_agent_set_status(cr_router *r, const char *id,
                                         size_t len, int status,
                                         const char *reason,
                                         size_t reason_len, cr_time now);
/* Ends every wrap-up of the agent now. */
CR_EXTERN int cr_router_agent_end_wrapup(cr_router *r, const char *id,
                                         size_t len, cr_time now);
CR_EXTERN int cr_router_agent_stats(cr_router *r, const char *id,
                                    size_t len, cr_time now,
                                    cr_agent_stats *out);

/* ---- conversations ---- */
/* Enters `queue` (p NULL = defaults). CR_EEXIST (id live; an abandoned
 * one is replaced), CR_ECLOSED, CR_EFULL (max length), CR_ENOTFOUND
 * (queue, or a step's queue), CR_EINVAL / CR_ERANGE (steps, channel,
 * priority). Offers may be made before it returns. */
CR_EXTERN int cr_router_enqueue(cr_router *r, const char *id, size_t len,
                                const char *queue, size_t queue_len,
                                const cr_conv_params *p, cr_time now);
/* The customer left (waiting or offered: offers are cancelled). */
CR_EXTERN int cr_router_abandon(cr_router *r, const char *id, size_t len,
                                cr_time now);
/* Re-entry of an abandoned conversation within the grace period, at its
 * original place in line. CR_ENOTFOUND after the grace period. */
CR_EXTERN int cr_router_resume(cr_router *r, const char *id, size_t len,
                               cr_time now);
CR_EXTERN int cr_router_accept(cr_router *r, const char *conv,
                               size_t conv_len, const char *agent,
                               size_t agent_len, cr_time now);
CR_EXTERN int cr_router_reject(cr_router *r, const char *conv,
                               size_t conv_len, const char *agent,
                               size_t agent_len, cr_time now);
/* A live conversation ended: its slot is held for the wrap-up time, then
 * freed; the conversation is forgotten. */
CR_EXTERN int cr_router_end(cr_router *r, const char *id, size_t len,
                            cr_time now);
/* Moves a conversation to `queue` with new parameters (p NULL: keep
 * channel, priority, attrs; steps reset to the queue's defaults). A
 * waiting or offered one keeps its place in line; a live one frees its
 * agent (no wrap-up) and enters now. */
CR_EXTERN int cr_router_transfer(cr_router *r, const char *id, size_t len,
                                 const char *queue, size_t queue_len,
                                 const cr_conv_params *p, cr_time now);
/* New routing steps from now (step 0 starts now), same place in line.
 * Pending offers to agents that no longer qualify are cancelled. */
CR_EXTERN int cr_router_set_steps(cr_router *r, const char *id, size_t len,
                                  const cr_route_step *steps, size_t nsteps,
                                  cr_time now);
CR_EXTERN int cr_router_set_priority(cr_router *r, const char *id,
                                     size_t len, int priority, cr_time now);
/* Channel switch keeping the place in line. Offered: offers are cancelled
 * and it is routed again. Live: the agent's capacity is recounted for the
 * new channel; CR_EFULL (nothing changed) if it does not fit. */
CR_EXTERN int cr_router_set_channel(cr_router *r, const char *id,
                                    size_t len, int channel, cr_time now);
CR_EXTERN int cr_router_conv_info(cr_router *r, const char *id, size_t len,
                                  cr_conv_info *out);

/* ---- time ---- */
/* The earliest pending deadline, or CR_TIME_NEVER. */
CR_EXTERN cr_time cr_router_next_expiry(const cr_router *r);
/* Runs every deadline due at or before now. */
CR_EXTERN int cr_router_tick(cr_router *r, cr_time now);

/* ---- persistence ---- */
/* *buf is allocated with the router's allocator: free it with
 * cr_mem_free(mem, buf) (the mem given to cr_router_new). */
CR_EXTERN int cr_router_snapshot(const cr_router *r, void **buf,
                                 size_t *len);
/* CR_ECORRUPT (bad magic, checksum, bounds, references), CR_EVERSION. */
CR_EXTERN int cr_router_restore(cr_router **out, const cr_mem *mem,
                                const void *buf, size_t len);

/* ======================================================================
 * Engine: the conversation engine (lib/engine*.c, lib/handoff.c,
 * docs/engine.md)
 *
 * The object the host talks to. One cr_engine holds every live
 * conversation and runs the hybrid model: the bot receives each new
 * conversation; simple requests are answered or served by a self-service
 * action the host performs; complex ones get the needed fields collected
 * and are handed to a human WITH the whole context (transcript, intents,
 * fields, profile, channels, reason); the agent can hand one step back to
 * the bot and gets the conversation back when it is done; the customer can
 * always reach a human. All I/O goes through the host's callbacks and time
 * is an argument (cr_time ms, never decreasing: an earlier time is
 * CR_EORDER; strictly within +-2^62 ms, else CR_ERANGE -- CR_TIME_NEVER
 * included), so the engine is deterministic: same inputs, same outputs,
 * same journal.
 *
 * Errors. An input first checks what does not depend on the state at its
 * time -- the time, ids (UTF-8 without NUL, 1..255 bytes), lengths, enums,
 * ranges, and that the conversation exists (timers end conversations but
 * never make one) -- and a failure there changes nothing at all, the
 * clock included. Then the timers due by `now` run, each at its own time,
 * then the input acts on the state at `now`. A failure found there
 * (CR_ESTATE, the router's refusal, CR_ENOMEM) leaves those timers run --
 * they would have run at the next call anyway -- and the clock where they
 * took it (not at `now`, unless the router was called), and nothing else
 * changed.
 *
 * Ownership. The engine OWNS a cr_router (made with the engine's allocator,
 * with the engine's callbacks installed) and a cr_metrics accumulator. It
 * BORROWS the trained cr_intent_model given to cr_engine_new(): the host
 * keeps it alive until cr_engine_del(), and must not use it from another
 * thread while the engine runs (predict is not thread-safe).
 * Queues and agents are configured on the inner router,
 * cr_engine_router(e): cr_router_queue_add / agent_add / agent_join /
 * agent_set_status / agent_update etc. The host must NOT call
 * cr_router_set_callbacks, nor the router's conversation functions
 * (enqueue, accept, reject, end, transfer, abandon, set_channel, ...) on
 * it: every action that touches a conversation goes through the engine,
 * because it drives the state machine. An agent status change made on the
 * router may make offers at once; they reach the engine's offer callback.
 *
 * The state machine (lib/handoff.c; "-" = not allowed: CR_ESTATE, nothing
 * changes). Bot states are BOT, CLARIFY, COLLECT, ACTION; agent states are
 * QUEUED, OFFERED, AGENT, BOTSTEP, WRAPUP; the ends are RESOLVED (by the
 * bot: contained), CLOSED (by an agent), ABANDONED, EXPIRED. For the
 * metrics, a conversation that never queued and ends ABANDONED (the
 * customer left the bot) counts as contained (resolved by the bot) only if
 * the bot had answered or served something first; one that asked for a
 * human who could not be given (after hours) is never contained. A
 * conversation in an end state is forgotten at once; a bounded record of
 * recently ended conversations keeps what a late survey needs.
 *
 *   event \ state BOT     CLARIFY COLLECT ACTION  QUEUED  OFFERED AGENT   BOTSTEP WRAPUP
 *   MESSAGE       BOT     CLARIFY COLLECT ACTION  QUEUED  OFFERED AGENT   BOTSTEP -
 *   ANSWER        BOT     BOT     -       -       -       -       -       -       -
 *   UNCLEAR       CLARIFY CLARIFY -       -       -       -       -       -       -
 *   ACTION        ACTION  ACTION  -       -       -       -       -       -       -
 *   COLLECT       COLLECT COLLECT -       -       -       -       -       -       -
 *   FIELD_OK      -       -       COLLECT -       -       -       -       -       -
 *   FIELD_BAD     -       -       COLLECT -       -       -       -       -       -
 *   ACTION_OK     -       -       -       BOT     -       -       -       AGENT   -
 *   ACTION_FAIL   -       -       -       QUEUED  -       -       -       AGENT   -
 *   HUMAN         QUEUED  QUEUED  QUEUED  QUEUED  -       -       -       -       -
 *   FAIL_STREAK   QUEUED  QUEUED  QUEUED  -       -       -       -       -       -
 *   HANDOFF       QUEUED  QUEUED  QUEUED  -       -       -       -       -       -
 *   OFFER         -       -       -       -       OFFERED OFFERED -       -       -
 *   ACCEPT        -       -       -       -       -       AGENT   -       -       -
 *   REJECT        -       -       -       -       -       QUEUED  -       -       -
 *   OFFER_TIMEOUT -       -       -       -       -       QUEUED  -       -       -
 *   OFFER_CANCEL  -       -       -       -       -       QUEUED  -       -       -
 *   REPLY         -       -       -       -       -       -       AGENT   -       -
 *   STEP          -       -       -       -       -       -       BOTSTEP -       -
 *   TRANSFER      -       -       -       -       QUEUED  QUEUED  QUEUED  -       -
 *   CHANNEL       BOT     CLARIFY COLLECT ACTION  QUEUED  OFFERED AGENT   BOTSTEP -
 *   MAXWAIT       -       -       -       -       QUEUED  OFFERED -       -       -
 *   IDLE          EXPIRED EXPIRED EXPIRED -       -       -       -       -       -
 *   BOT_END       RESOLVD RESOLVD RESOLVD -       -       -       -       -       -
 *   NO_SERVICE    EXPIRED EXPIRED EXPIRED EXPIRED -       -       -       -       -
 *   TIMEOUT_EXIT  -       -       -       -       EXPIRED EXPIRED -       -       -
 *   CLOSE         -       -       -       -       -       -       WRAPUP  WRAPUP  -
 *   WRAPUP_END    -       -       -       -       -       -       -       -       CLOSED
 *   ABANDON       ABANDND ABANDND ABANDND ABANDND ABANDND ABANDND ABANDND ABANDND -
 *   SURVEY        -       -       -       -       -       -       -       -       -
 *
 * (RESOLVD = RESOLVED, ABANDND = ABANDONED. The ends have no way out.
 * REJECT / OFFER_TIMEOUT / OFFER_CANCEL keep OFFERED while another offer
 * of the same conversation is still out (ring-all). IDLE after the bot
 * answered or served something is journalled as BOT_END with reason IDLE
 * and ends RESOLVED -- the customer went quiet after being helped -- and
 * as IDLE -> EXPIRED otherwise. SURVEY is an event of the journal
 * but not of the table.) cr_engine_transition() exposes the table.
 *
 * What drives the events:
 *   - A customer message in a bot state runs the intent model. A human
 *     request (the label named human_label, e.g. talk_to_human, which the
 *     model's built-in rules give in Hebrew and English) is honoured in
 *     every bot state. Otherwise the top intent's policy says what the
 *     bot does (cr_engine_set_policy). Confidence below clarify_below, or
 *     out of scope -> UNCLEAR: the bot offers the top two intents ("1"/"2"
 *     or a clear message picks); max_unclear consecutive unclear messages
 *     (default 2) -> FAIL_STREAK, a handoff. In COLLECT the message is the
 *     next field's value (unless it is a human request). In agent states
 *     a message is added to the transcript and nothing else; in WRAPUP
 *     it ends the wrap-up and starts a new contact
 *     (cr_engine_customer_message).
 *   - Handoff: the policy's queue / skills / priority, then the business
 *     rules (cr_engine_add_rule) over the customer profile, IN ORDER,
 *     EVERY matching rule applying (skills accumulate, priority adds, a
 *     later queue replaces an earlier one, handoff=1 hands off on first
 *     contact with reason RULE) until a matching rule with stop = 1.
 *     Outside opening hours (cr_engine_set_hours) or with no agent
 *     logged in at all (the router's LOGIN / LOGOFF events are counted;
 *     per queue is not checked), the bot says so (text AFTER_HOURS /
 *     NO_AGENTS) and, by config, either keeps the conversation queued
 *     (messaging is asynchronous) or ends it (NO_SERVICE -> EXPIRED).
 *     Emergency: the alert callback first, then hand off at
 *     CR_ROUTER_MAX_PRIORITY. A returning customer (same customer id,
 *     within return_window_ms of a conversation an agent closed) is routed
 *     first to that agent (a preferred-agent step lasting sticky_ms),
 *     then to the queue.
 *   - Router events: OFFER, CONNECT (accept), REJECT, RINGNOANSWER
 *     (OFFER_TIMEOUT), RINGCANCELED (OFFER_CANCEL), ESCALATE / MAXWAIT
 *     (MAXWAIT: journal + alert, stays), EXITWITHTIMEOUT (TIMEOUT_EXIT).
 *
 * Callbacks. Every member optional; the last argument is user_data.
 * Pointers passed are valid only during the call. A callback must not call
 * into the same engine nor into its inner router: calls that could change
 * them are refused with CR_ESTATE and change nothing (the engine's
 * read-only queries -- cr_engine_conv_info, cr_engine_conv_count,
 * cr_engine_next_timeout, cr_engine_errmsg -- still answer). The state
 * change is committed BEFORE the output callbacks of that change run;
 * when a callback returns nonzero, the engine still completes the change
 * (so the conversation is in the state the journal says), calls the
 * remaining callbacks, and the input call returns CR_ECALLBACK.
 * Exceptions that steer the machine: a failing `action` callback is an
 * ACTION_FAIL (the bot escalates; in BOTSTEP the agent gets the
 * conversation back); a failing `offer` leaves
 * the offer standing until the agent answers or it times out; `validate`
 * returning < 0 counts as an invalid value. An offer made during a router
 * call the host made directly (agent_set_status) cannot report CR_ECALLBACK
 * to anyone: the offer stands until answered or timed out.
 *
 * Memory. A live conversation costs a ~1 KB block, an 88-byte record
 * kept for after its end, its ids and profile, its transcript ring (up to
 * transcript_max slots of 32 bytes, each slot's text buffer reused once
 * big enough, so a warm conversation does not allocate per message) and
 * its collected field values: 1,515 bytes all told for a two-line
 * conversation (tests/test_engine.c). Every input builds its change on
 * the side and commits at the end: CR_ENOMEM leaves the engine unchanged.
 *
 * Persistence. cr_engine_snapshot() writes the live conversations, the
 * recently-ended record, the clocks and counters, the router (via
 * cr_router_snapshot) and the metrics accumulator (via
 * cr_metrics_snapshot) to a versioned (3), little-endian, CRC-32-checked
 * buffer (version 2 snapshots still load; their recent records count as
 * not surveyed). cr_engine_restore() loads it into an engine made with the same
 * model and configuration (policies, rules, texts, hours are host data and
 * are NOT in the snapshot; queues and agents are, inside the router's).
 * After a restore every KPI report is the same as before it.
 *
 * Metrics credit (docs/engine.md): a contact is credited to its FIRST
 * intent the bot acted on (answered / action / collect / handoff / human
 * request), not a closing goodbye; a transfer of an answered conversation
 * closes the transferring agent's leg with its own record (transferred =
 * 1, no customer id so FCR counts the conversation once), ACD style: the
 * TOTAL contacts / answered count agent legs.
 * ====================================================================== */

typedef struct cr_engine cr_engine;

typedef enum cr_engine_state {
  CR_ST_BOT = 0,       /* the bot is talking to the customer */
  CR_ST_CLARIFY = 1,   /* the bot asked which of two intents was meant */
  CR_ST_COLLECT = 2,   /* the bot asks for the fields a handoff needs */
  CR_ST_ACTION = 3,    /* a self-service action runs at the host */
  CR_ST_QUEUED = 4,    /* waiting for a human */
  CR_ST_OFFERED = 5,   /* reserved for an agent who has not accepted */
  CR_ST_AGENT = 6,     /* with an agent */
  CR_ST_BOTSTEP = 7,   /* the agent handed one step to the bot */
  CR_ST_WRAPUP = 8,    /* the agent closed it and does after-contact work */
  CR_ST_RESOLVED = 9,  /* end: resolved by the bot (contained) */
  CR_ST_CLOSED = 10,   /* end: closed by an agent */
  CR_ST_ABANDONED = 11, /* end: the customer left */
  CR_ST_EXPIRED = 12,  /* end: idle, no service, or max wait exit */
  CR_ST_COUNT = 13
} cr_engine_state;

typedef enum cr_engine_event_type {
  CR_EV_MESSAGE = 0,     /* a transcript line: the customer's message,
                            or a bot follow-up (re-ask, "anything else") */
  CR_EV_ANSWER = 1,      /* bot answered an intent */
  CR_EV_UNCLEAR = 2,     /* low confidence / out of scope: clarify */
  CR_EV_ACTION = 3,      /* bot started a self-service action */
  CR_EV_COLLECT = 4,     /* bot starts collecting fields */
  CR_EV_FIELD_OK = 5,    /* a field was valid (more to come) */
  CR_EV_FIELD_BAD = 6,   /* a field was invalid: asked again */
  CR_EV_ACTION_OK = 7,   /* action (or bot step) succeeded */
  CR_EV_ACTION_FAIL = 8, /* action (or bot step) failed */
  CR_EV_HUMAN = 9,       /* the customer asked for a human */
  CR_EV_FAIL_STREAK = 10, /* too many consecutive misunderstandings */
  CR_EV_HANDOFF = 11,    /* policy / collected / rule / emergency handoff */
  CR_EV_OFFER = 12,      /* router offered it to an agent */
  CR_EV_ACCEPT = 13,
  CR_EV_REJECT = 14,
  CR_EV_OFFER_TIMEOUT = 15,
  CR_EV_OFFER_CANCEL = 16, /* offer withdrawn (agent away, re-routed) */
  CR_EV_REPLY = 17,      /* agent message */
  CR_EV_STEP = 18,       /* agent hands a step to the bot */
  CR_EV_TRANSFER = 19,   /* to another queue or agent */
  CR_EV_CHANNEL = 20,    /* channel switch */
  CR_EV_MAXWAIT = 21,    /* the queue's max wait escalation fired */
  CR_EV_IDLE = 22,       /* customer idle timeout in a bot state */
  CR_EV_BOT_END = 23,    /* bot closes it (goodbye intent, host end) */
  CR_EV_NO_SERVICE = 24, /* after hours / no agents, configured to end */
  CR_EV_TIMEOUT_EXIT = 25, /* left the queue at max wait */
  CR_EV_CLOSE = 26,      /* agent closes */
  CR_EV_WRAPUP_END = 27,
  CR_EV_ABANDON = 28,
  CR_EV_SURVEY = 29,     /* journal only: survey attached after the end */
  CR_EV_COUNT = 30
} cr_engine_event_type;

/* Why a conversation went where it went (handoff reason in the context,
 * reason of a journal event). */
typedef enum cr_engine_reason {
  CR_REASON_NONE = 0,
  CR_REASON_REQUESTED = 1,      /* the customer asked for a human */
  CR_REASON_FAILURE_STREAK = 2, /* the bot did not understand N times */
  CR_REASON_POLICY = 3,         /* the intent's policy hands off */
  CR_REASON_COLLECTED = 4,      /* fields collected, now a human */
  CR_REASON_RULE = 5,           /* a business rule handed it off */
  CR_REASON_EMERGENCY = 6,
  CR_REASON_ACTION_FAILED = 7,
  CR_REASON_AFTER_HOURS = 8,
  CR_REASON_NO_AGENTS = 9,
  CR_REASON_MAX_WAIT = 10,
  CR_REASON_IDLE = 11,
  CR_REASON_TRANSFER = 12,
  CR_REASON_CALLBACK_FAILED = 13,
  CR_REASON_RETURNING = 14,     /* a returning customer, sticky agent */
  CR_REASON_HOST = 15,          /* the host ended it */
  CR_REASON_COUNT = 16
} cr_engine_reason;

/* Who wrote a transcript line. */
typedef enum cr_engine_from {
  CR_FROM_NONE = -1,    /* journal: the event added no transcript line */
  CR_FROM_CUSTOMER = 0,
  CR_FROM_BOT = 1,
  CR_FROM_AGENT = 2
} cr_engine_from;

/* What the bot does with an intent. */
typedef enum cr_policy_kind {
  CR_POLICY_ANSWER = 0,    /* reply text; stays with the bot */
  CR_POLICY_ACTION = 1,    /* host self-service action; failure escalates */
  CR_POLICY_COLLECT = 2,   /* ask the fields one by one, then hand off */
  CR_POLICY_HANDOFF = 3,   /* straight to a queue */
  CR_POLICY_HUMAN = 4,     /* a request for a human */
  CR_POLICY_EMERGENCY = 5, /* alert callback, then top priority handoff */
  CR_POLICY_END = 6        /* goodbye / thanks: resolved by the bot */
} cr_policy_kind;

/* Field validation patterns. Lengths count code points. */
typedef enum cr_field_pattern {
  CR_PATTERN_NONEMPTY = 0, /* any text with a non-space character */
  CR_PATTERN_DIGITS = 1,   /* digits only (spaces and dashes ignored) */
  CR_PATTERN_EMAIL = 2,    /* x@y.z, no spaces */
  CR_PATTERN_CALLBACK = 3  /* the host's validate callback decides */
} cr_field_pattern;

/* Texts the bot says that are not intent answers. In a text, {1} and {2}
 * are replaced by the titles of the two intents offered (CLARIFY), {q} by
 * the id of the queue the conversation goes to (HANDOFF, AFTER_HOURS,
 * NO_AGENTS, and an emergency policy's own notice; replaced by nothing
 * in CLARIFY).
 * Each may appear any number of times; any other {x} stays as written. */
typedef enum cr_engine_text_kind {
  CR_TEXT_CLARIFY = 0,     /* "Did you mean {1} or {2}? Reply 1 or 2." */
  CR_TEXT_HANDOFF = 1,     /* "Connecting you to an agent." */
  CR_TEXT_AFTER_HOURS = 2, /* "We are closed now; ..." */
  CR_TEXT_NO_AGENTS = 3,   /* "No agent is available right now; ..." */
  CR_TEXT_INVALID = 4,     /* "That doesn't look right." before a re-ask */
  CR_TEXT_ACTION_FAILED = 5, /* "That didn't work, passing you on." */
  CR_TEXT_ANYTHING_ELSE = 6, /* after an answer or a successful action */
  CR_TEXT_COUNT = 7
} cr_engine_text_kind;

/* A text in one language ("he", "en"; up to 7 bytes). */
typedef struct cr_lang_text {
  const char *lang;
  size_t lang_len;
  const char *text;
  size_t text_len;
} cr_lang_text;

/* One field a COLLECT policy asks for. */
typedef struct cr_field_spec {
  const char *name;            /* e.g. "account" */
  size_t name_len;
  const cr_lang_text *prompt;  /* per language */
  size_t nprompt;
  int pattern;                 /* cr_field_pattern */
  uint32_t min_len, max_len;   /* code points (DIGITS: digits), checked
                                  before a validate callback; 0 = no
                                  bound */
} cr_field_spec;

#define CR_ENGINE_MAX_FIELDS 16
#define CR_ENGINE_MAX_TEXTS 8  /* languages per text */

/* A bot policy for one intent label. Start from cr_engine_policy_init().
 * Everything is copied. */
typedef struct cr_intent_policy {
  int kind;                    /* cr_policy_kind */
  const cr_lang_text *title;   /* how CLARIFY names this intent, per
                                  language (default: the label) */
  size_t ntitle;
  const cr_lang_text *text;    /* ANSWER: the answer; ACTION: said while it
                                  runs; others: said before the handoff */
  size_t ntext;
  const char *action;          /* ACTION: the action name for the host */
  size_t action_len;
  const cr_field_spec *fields; /* COLLECT: at most CR_ENGINE_MAX_FIELDS */
  size_t nfields;
  const char *queue;           /* handoff queue (NULL: default_queue) */
  size_t queue_len;
  const cr_skill_level *skills; /* required skills at handoff; with any
                                   (here or from rules) they replace the
                                   queue's default requirement (router
                                   step semantics); at most
                                   CR_ROUTER_MAX_STEP_SKILLS in all */
  size_t nskills;
  int priority;                /* handoff priority, 0..CR_ROUTER_MAX_PRIORITY */
} cr_intent_policy;

/* A business rule on the customer profile. Start from cr_engine_rule_init. */
typedef struct cr_engine_rule {
  const char *key;             /* profile key, e.g. "tier" */
  size_t key_len;
  const char *value;           /* "vip"; "*" = any value present */
  size_t value_len;
  const char *queue;           /* NULL/0: keep the queue */
  size_t queue_len;
  const cr_skill_level *skills; /* added to the requirement */
  size_t nskills;
  int priority_add;            /* added to the priority (clamped) */
  int handoff;                 /* 1: hand off at first contact (RULE) */
  int stop;                    /* 1: no later rule is looked at */
} cr_engine_rule;

/* One opening interval in the host's local time: day 0 = Sunday .. 6,
 * minutes since local midnight, [open_min, close_min). */
typedef struct cr_open_interval {
  int day;
  int open_min;
  int close_min;
} cr_open_interval;

typedef struct cr_engine_config {
  size_t transcript_max;     /* messages kept per conversation, default 50
                                (older ones are dropped and counted) */
  double clarify_below;      /* top confidence below this -> clarify,
                                default 0.45 */
  uint32_t max_unclear;      /* consecutive unclear -> handoff, default 2 */
  /* Durations are 0..2^50 ms (35,000 years; the router's bound for a
   * routing step), else cr_engine_new gives CR_ERANGE: "never" is 0 where
   * the field says so, not CR_TIME_NEVER. */
  cr_time idle_ms;           /* customer silence in a bot state before
                                IDLE, default 15 min; 0 = never */
  cr_time return_window_ms;  /* returning customer window, default 24 h;
                                0 = off */
  cr_time sticky_ms;         /* preferred-agent step length, default 60 s */
  cr_time wrapup_ms;         /* engine wrap-up after CLOSE, default 0
                                (WRAPUP then CLOSED at once) */
  int utc_offset_min;        /* host local time = now (Unix ms) + offset */
  int keep_queued_after_hours; /* 1 (default): queue anyway; 0: end it */
  const char *human_label;   /* label meaning "a human", default
                                "talk_to_human" */
  size_t human_label_len;
  const char *default_queue; /* handoff queue when a policy names none,
                                default "general" */
  size_t default_queue_len;
  const char *default_lang;  /* when neither profile nor script says,
                                default "en" */
  size_t default_lang_len;
  uint32_t recent_max;       /* ended conversations kept for surveys,
                                default 4096 */
  const cr_router_config *router;   /* NULL = router defaults */
  const cr_metrics_options *metrics; /* NULL = metrics defaults */
  int alias_new_ids;         /* a message under a NEW conversation id from a
                                customer who has a live conversation reaches
                                that conversation; 1: the new id also
                                becomes an alias of it (later calls with
                                either id work until it ends; the MESSAGE is
                                journalled with text "alias:<id>"); 0
                                (default, the behaviour before): only that
                                message is folded in, the new id stays
                                unknown (CR_ENOTFOUND) */
} cr_engine_config;

/* Transcript line, intent, field, profile pair: the context pieces. */
typedef struct cr_engine_line {
  int from;                  /* cr_engine_from */
  int channel;
  cr_time at;
  const char *text;
  size_t text_len;
} cr_engine_line;

typedef struct cr_engine_intent {
  const char *label;
  size_t label_len;
  double confidence;
  cr_time at;
} cr_engine_intent;

typedef struct cr_engine_kv {
  const char *key;
  size_t key_len;
  const char *value;
  size_t value_len;
} cr_engine_kv;

/* Everything an agent needs so the customer never repeats themselves.
 * Given to the offer and alert callbacks; valid only during the call. */
typedef struct cr_engine_context {
  const char *conv;
  size_t conv_len;
  const char *customer;
  size_t customer_len;
  const char *lang;
  size_t lang_len;
  int channel;                 /* current channel */
  const int *channels;         /* every channel used, first first */
  size_t nchannels;
  int state;                   /* cr_engine_state */
  int reason;                  /* cr_engine_reason of the handoff */
  const char *queue;           /* the handoff queue */
  size_t queue_len;
  int priority;
  const char *intent;          /* the intent that led to the handoff */
  size_t intent_len;
  const cr_engine_line *transcript; /* oldest kept first */
  size_t ntranscript;
  uint32_t dropped;            /* older lines not kept */
  const cr_engine_intent *intents; /* detected, oldest first (last 8) */
  size_t nintents;
  const cr_engine_kv *fields;  /* collected, in the policy's order */
  size_t nfields;
  const cr_engine_kv *profile; /* the customer profile */
  size_t nprofile;
  const char *prev_agent;      /* after a transfer: the agent before */
  size_t prev_agent_len;
  uint32_t transfers;
  cr_time arrived;
} cr_engine_context;

/* One journal entry: every accepted event, numbered. */
typedef struct cr_engine_event {
  uint64_t seq;                /* 1, 2, ... per engine (kept by snapshot) */
  cr_time time;
  int type;                    /* cr_engine_event_type */
  int from, to;                /* cr_engine_state */
  int reason;                  /* cr_engine_reason */
  int channel;
  const char *conv;
  size_t conv_len;
  const char *agent;           /* NULL/0 when none */
  size_t agent_len;
  const char *queue;           /* NULL/0 when none */
  size_t queue_len;
  const char *intent;          /* the intent involved, NULL/0 when none */
  size_t intent_len;
  double confidence;           /* of that intent, or 0 */
  const char *text;            /* detail: the action name, the field name,
                                  a survey "csat=5 nps=9", ... */
  size_t text_len;
  int sender;                  /* who wrote the transcript line this event
                                  added: cr_engine_from (the customer's
                                  MESSAGE, the bot's ANSWER / prompt /
                                  follow-up MESSAGE, the agent's REPLY), or
                                  CR_FROM_NONE when it added no line; the
                                  lines of a conversation = its events with
                                  sender >= 0 */
} cr_engine_event;

/* The validate callback's "I will answer with cr_engine_field_result()". */
#define CR_VALIDATE_LATER 2

typedef struct cr_engine_callbacks {
  /* Say text to the customer. */
  int (*send)(const char *conv, size_t conv_len, int channel,
              const char *lang, size_t lang_len, const char *text,
              size_t text_len, void *user_data);
  /* Offer the conversation to an agent, with the context. */
  int (*offer)(const cr_engine_context *ctx, const char *agent,
               size_t agent_len, void *user_data);
  /* An offer was withdrawn (timeout, taken elsewhere, customer left). */
  int (*cancel_offer)(const char *conv, size_t conv_len, const char *agent,
                      size_t agent_len, void *user_data);
  /* Run a self-service action; the host answers later (or inside this
   * call's caller, never inside the callback) with cr_engine_action_result.
   * The engine sets no deadline on an action (the host runs it and knows
   * its timeout): a host that loses the answer must still report ok 0,
   * else the conversation stays in ACTION/BOTSTEP.
   * agent is NULL/0 for the bot's own actions, the agent for a bot step;
   * args are the agent's step arguments or, for the bot, the fields
   * collected so far as "name=value;name=value" (NULL/0 when none) */
  int (*action)(const char *conv, size_t conv_len, const char *action,
                size_t action_len, const char *args, size_t args_len,
                const char *agent, size_t agent_len, void *user_data);
  /* CR_PATTERN_CALLBACK fields: return 0 valid, CR_VALIDATE_LATER to
   * answer later with cr_engine_field_result(), another value > 0 for
   * invalid, < 0 for an error (counted as invalid). */
  int (*validate)(const char *conv, size_t conv_len, const char *field,
                  size_t field_len, const char *value, size_t value_len,
                  void *user_data);
  /* Emergency (reason EMERGENCY) and max wait (reason MAX_WAIT). */
  int (*alert)(const cr_engine_context *ctx, void *user_data);
  /* A conversation changed state. */
  int (*state_change)(const char *conv, size_t conv_len, int from, int to,
                      int reason, void *user_data);
  /* The journal: every accepted event, in order. */
  int (*event)(const cr_engine_event *ev, void *user_data);
  /* The inner router's queue log (ENTERQUEUE, CONNECT, ...), read-only:
   * the router must not be called from here. */
  void (*router_event)(const cr_router_event *ev, void *user_data);
  void *user_data;
} cr_engine_callbacks;

/* A conversation as it stands. Strings valid until the next call. */
typedef struct cr_engine_summary {
  int state;                   /* cr_engine_state */
  int channel;
  int reason;                  /* last handoff reason */
  uint32_t unclear;            /* consecutive unclear messages */
  uint32_t nfields;            /* fields collected so far */
  uint32_t messages;           /* transcript lines ever (kept + dropped) */
  uint32_t transfers;
  const char *agent;           /* the agent who has it (AGENT, BOTSTEP,
                                  WRAPUP); NULL before an accept and while
                                  QUEUED / OFFERED (ring-all may offer it to
                                  several agents at once: the OFFER journal
                                  events and the offer callback name them) */
  size_t agent_len;
  const char *queue;           /* handoff queue, NULL before a handoff */
  size_t queue_len;
  const char *lang;
  size_t lang_len;
  cr_time arrived, queued_at, answered_at;
} cr_engine_summary;

CR_EXTERN void cr_engine_config_init(cr_engine_config *cfg);
CR_EXTERN void cr_engine_policy_init(cr_intent_policy *p);
CR_EXTERN void cr_engine_rule_init(cr_engine_rule *r);

/* model: borrowed, must outlive the engine. cfg NULL = defaults.
 * CR_EINVAL (NULL model, bad config), CR_ERANGE, CR_ENOMEM. */
CR_EXTERN int cr_engine_new(cr_engine **out, const cr_mem *mem,
                            cr_intent_model *model,
                            const cr_engine_config *cfg);
CR_EXTERN void cr_engine_del(cr_engine *e);
/* A sentence about the last failure; "" if none. */
CR_EXTERN const char *cr_engine_errmsg(const cr_engine *e);
/* Copies *cb (NULL clears). */
CR_EXTERN int cr_engine_set_callbacks(cr_engine *e,
                                      const cr_engine_callbacks *cb);
/* The inner router, for queues and agents (see above). A successful
 * cr_engine_restore() replaces it: ask for it again after a restore. */
CR_EXTERN cr_router *cr_engine_router(cr_engine *e);
/* The metrics accumulator fed by finished conversations (read-only use:
 * cr_metrics_report_get, cr_metrics_window_get, cr_metrics_key). Replaced
 * by a successful cr_engine_restore(), like the router. */
CR_EXTERN cr_metrics *cr_engine_metrics(cr_engine *e);

/* ---- configuration (data) ---- */
/* Sets (or replaces) the policy of intent `label` (a label of the model:
 * CR_ENOTFOUND otherwise). CR_EINVAL / CR_ERANGE for a bad policy,
 * CR_EUTF8 for a name (action, queue, skill, field, language tag) that
 * is not UTF-8 or has a NUL. The queue need not exist yet: a handoff to a
 * queue missing at that time is refused (see customer_message). */
CR_EXTERN int cr_engine_set_policy(cr_engine *e, const char *label,
                                   size_t label_len,
                                   const cr_intent_policy *p);
/* Appends a business rule (evaluation order = order added). */
CR_EXTERN int cr_engine_add_rule(cr_engine *e, const cr_engine_rule *r);
/* Sets a system text in one language (replacing it). lang: 1..7 bytes,
 * no NUL (CR_EINVAL / CR_EUTF8). */
CR_EXTERN int cr_engine_set_text(cr_engine *e, int kind, const char *lang,
                                 size_t lang_len, const char *text,
                                 size_t text_len);
/* The weekly opening hours (replacing them); n = 0: always open. */
CR_EXTERN int cr_engine_set_hours(cr_engine *e, const cr_open_interval *iv,
                                  size_t n);

/* ---- customer inputs ---- */
/* A customer message. A new conversation id starts a conversation with the
 * bot (profile: "key=value;key=value", e.g. "tier=vip;lang=he", used on
 * first contact and ignored after); an unknown id from a customer who has
 * a live conversation reaches that conversation (and becomes its alias
 * when cfg.alias_new_ids is set). A message under the id of a
 * conversation in WRAPUP (the agent closed it) ends that wrap-up
 * (WRAPUP_END with text "new contact": the closed contact is recorded,
 * its wrap-up time being what ran so far; the agent's own wrap-up in the
 * router is not touched) and starts a new contact under the same id, as
 * after the wrap-up.
 * CR_EINVAL (id, channel, profile), CR_EUTF8 (an id or the profile not
 * UTF-8 or with a NUL), CR_ERANGE (time, text length), CR_EORDER,
 * CR_ENOMEM, CR_ECALLBACK; when the message hands off, the router's
 * refusal of the queue: CR_ENOTFOUND (the queue does not exist: policy
 * and rule queues are not checked when set, queues may come later;
 * errmsg "router: ..." names it), CR_ECLOSED, CR_EFULL -- the message is
 * then not taken (a new conversation is not made). */
CR_EXTERN int cr_engine_customer_message(cr_engine *e, const char *conv,
                                         size_t conv_len,
                                         const char *customer,
                                         size_t customer_len, int channel,
                                         const char *text, size_t text_len,
                                         const char *profile,
                                         size_t profile_len, cr_time now);
/* The customer moved to another channel, keeping history and place. */
CR_EXTERN int cr_engine_channel_switch(cr_engine *e, const char *conv,
                                       size_t conv_len, int channel,
                                       cr_time now);
/* The customer left. */
CR_EXTERN int cr_engine_abandon(cr_engine *e, const char *conv,
                                size_t conv_len, cr_time now);
/* Survey answers for a recently ended conversation (CR_METRICS_NONE for a
 * missing one; csat 1..5, nps 0..10, ces 1..7, else CR_ERANGE; none at
 * all is CR_EINVAL); attached to its agent, queue, channel and intent.
 * One survey per contact: a repeat (a webhook delivered twice) is
 * CR_EEXIST and counts nothing. Under an id reused by a newer contact, the
 * newest ENDED contact takes it. CR_ENOTFOUND when it is no longer
 * remembered, CR_ESTATE while live with no ended contact remembered. */
CR_EXTERN int cr_engine_survey(cr_engine *e, const char *conv,
                               size_t conv_len, int csat, int nps, int ces,
                               cr_time now);

/* ---- host inputs ---- */
/* The result of a self-service action (ACTION or BOTSTEP): ok 1 or 0
 * (else CR_EINVAL). text: what to tell the customer (may be NULL/0). */
CR_EXTERN int cr_engine_action_result(cr_engine *e, const char *conv,
                                      size_t conv_len, int ok,
                                      const char *text, size_t text_len,
                                      cr_time now);
/* The host's late verdict on a field its validate callback deferred
 * (CR_VALIDATE_LATER): ok 1 -> FIELD_OK, 0 -> FIELD_BAD (else
 * CR_EINVAL). Meanwhile the conversation stays in COLLECT; another
 * customer message replaces the pending value. CR_ESTATE when no field is
 * being validated. */
CR_EXTERN int cr_engine_field_result(cr_engine *e, const char *conv,
                                     size_t conv_len, int ok, cr_time now);
/* The host ends a bot conversation as resolved by the bot (BOT_END). */
CR_EXTERN int cr_engine_end(cr_engine *e, const char *conv, size_t conv_len,
                            cr_time now);

/* ---- agent inputs ---- */
CR_EXTERN int cr_engine_agent_accept(cr_engine *e, const char *conv,
                                     size_t conv_len, const char *agent,
                                     size_t agent_len, cr_time now);
CR_EXTERN int cr_engine_agent_reject(cr_engine *e, const char *conv,
                                     size_t conv_len, const char *agent,
                                     size_t agent_len, cr_time now);
CR_EXTERN int cr_engine_agent_reply(cr_engine *e, const char *conv,
                                    size_t conv_len, const char *agent,
                                    size_t agent_len, const char *text,
                                    size_t text_len, cr_time now);
/* The agent hands one step to the bot: the action callback runs `action`
 * with `args`; cr_engine_action_result gives the conversation back. */
CR_EXTERN int cr_engine_agent_step(cr_engine *e, const char *conv,
                                   size_t conv_len, const char *agent,
                                   size_t agent_len, const char *action,
                                   size_t action_len, const char *args,
                                   size_t args_len, cr_time now);
/* To another queue (queue non-empty) and/or agent (to_agent non-empty:
 * a preferred-agent step of sticky_ms, then the queue). The context goes
 * along. agent: the agent who has it now. */
CR_EXTERN int cr_engine_agent_transfer(cr_engine *e, const char *conv,
                                       size_t conv_len, const char *agent,
                                       size_t agent_len, const char *queue,
                                       size_t queue_len,
                                       const char *to_agent,
                                       size_t to_agent_len, cr_time now);
/* resolved: 1, 0, or CR_METRICS_NONE (unknown). */
CR_EXTERN int cr_engine_agent_close(cr_engine *e, const char *conv,
                                    size_t conv_len, const char *agent,
                                    size_t agent_len, int resolved,
                                    cr_time now);
/* Ends the wrap-up before wrapup_ms runs out. */
CR_EXTERN int cr_engine_wrapup_done(cr_engine *e, const char *conv,
                                    size_t conv_len, cr_time now);

/* ---- time ---- */
/* Earliest deadline of the engine and its router, or CR_TIME_NEVER when
 * nothing is scheduled: then there is nothing to tick for -- wait for the
 * next input (CR_TIME_NEVER is not a time: cr_engine_tick refuses it with
 * CR_ERANGE, changing nothing). A host loop:
 *   t = cr_engine_next_timeout(e);
 *   wait for input until t (forever when t == CR_TIME_NEVER);
 *   if none came: cr_engine_tick(e, t); */
CR_EXTERN cr_time cr_engine_next_timeout(const cr_engine *e);
/* Runs everything due at or before now (each at its own time); the clock
 * is then now. CR_ERANGE beyond +-2^62 ms, CR_EORDER before the clock,
 * CR_ECALLBACK. */
CR_EXTERN int cr_engine_tick(cr_engine *e, cr_time now);

/* ---- inspection ---- */
CR_EXTERN int cr_engine_conv_info(cr_engine *e, const char *conv,
                                  size_t conv_len, cr_engine_summary *out);
CR_EXTERN size_t cr_engine_conv_count(const cr_engine *e);
/* The pure transition table: *next gets the state `event` leads to from
 * `state`; CR_ESTATE when not allowed, CR_EINVAL out of range. */
CR_EXTERN int cr_engine_transition(int state, int event, int *next);
/* "BOT", "MESSAGE", "REQUESTED", ...; NULL outside the enum. */
CR_EXTERN const char *cr_engine_state_name(int state);
CR_EXTERN const char *cr_engine_event_name(int type);
CR_EXTERN const char *cr_engine_reason_name(int reason);

/* ---- persistence ---- */
/* *buf from the engine's allocator: cr_mem_free(mem, buf). */
CR_EXTERN int cr_engine_snapshot(const cr_engine *e, void **buf,
                                 size_t *len);
/* Replaces e's conversations, router, metrics and counters with the
 * snapshot's (callbacks, model and configuration stay); pointers from
 * cr_engine_router() and cr_engine_metrics() taken before it are freed.
 * CR_ECORRUPT, CR_EVERSION, CR_EINVAL (a snapshot of an engine with
 * another transcript_max or a model with another label count),
 * CR_ENOMEM: e unchanged. */
CR_EXTERN int cr_engine_restore(cr_engine *e, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CONVROUTE_H */
