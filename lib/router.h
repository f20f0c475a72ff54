/* Private: the router's data structures, shared by router.c (the model and
 * matching) and router_snapshot.c (persistence). See docs/router.md.
 *
 * Indexes. Everything internal is a small integer: agents, queues,
 * conversations and memberships live in pools addressed by index, strings
 * are interned once. Lines (FIFO ring buffers), intrusive pairing heaps
 * (Fredman, Sedgewick, Sleator & Tarjan 1986) and one array heap keep
 * every hot-path question O(1) or logarithmic and allocation-free:
 *   - per (queue, channel): the members that could take one more
 *     conversation of that channel now, in the queue's strategy order: for
 *     longest idle and ring-all a line per member priority (rlevel: every
 *     change sends a member to the back), for the others an array 4-ary
 *     heap with inline keys; capacity reserved when the membership is
 *     made (this index is the hottest);
 *   - per (queue, channel): the waiting conversations, ordered by
 *     (effective priority desc, arrival, sequence): a sorted list of those
 *     that arrived in order beside a pairing heap of the others (rwline);
 *   - one timer line of every deadline (step expiry, offer timeout, wrap-up
 *     end, escalation, max wait, grace end), ordered by (time, kind, seq):
 *     a sorted list of those set in order beside a pairing heap (rwline).
 * Because the heap nodes are inside the objects, moving an object between
 * heaps never allocates, so matching and timers cannot fail for lack of
 * memory. Every key ends in a unique sequence number, so the order is total
 * and decisions do not depend on the heaps' internal shape (a restored
 * router rebuilds them and decides identically). */
#ifndef CR_ROUTER_PRIV_H
#define CR_ROUTER_PRIV_H

#include "convroute.h"
#include "hash.h"

#include <stdint.h>

#define RNIL UINT32_MAX
/* Times are accepted within +-2^62 ms and durations up to 2^50 ms (35,000
 * years), so sums and the urgency product (<= 1000 %) never overflow. */
#define RT_MAX ((cr_time)1 << 62)
#define RDUR_MAX ((cr_time)1 << 50)
#define RT_OK(t) ((t) >= -RT_MAX && (t) <= RT_MAX)
#define RDUR_OK(d) ((d) <= RDUR_MAX)
#define RCH CR_CHANNEL_COUNT

typedef struct rpnode {
  uint32_t child, sib, prev; /* prev: parent when first child */
} rpnode;

typedef struct rheap {
  uint32_t root, n;
} rheap;

/* Array binary heap of members (inline keys: no pointer chasing while
 * sifting). Capacity is reserved when a membership is made, so inserting
 * never allocates. */
typedef struct mhent {
  uint64_t k1, k2, k3; /* strategy key, then agent sequence */
  uint32_t mi;
  uint32_t pad;
} mhent;

typedef struct mheap {
  mhent *a;
  uint32_t n, cap;
} mheap;

typedef struct rskill {
  uint16_t id;
  uint8_t level;
} rskill;

typedef struct rstep {
  uint8_t kind;
  uint8_t nsk;
  uint32_t queue;  /* CR_STEP_QUEUE: queue index */
  char *agent;     /* CR_STEP_AGENT: the agent id (looked up when the step
                      starts, so a removed and re-added agent still counts) */
  uint32_t agent_len;
  cr_time expire;  /* <= 0: never */
  rskill sk[CR_ROUTER_MAX_STEP_SKILLS];
} rstep;

enum { RC_URGENT = 1, RC_ESCALATED = 2, RC_MAXWAITED = 4 };

#define RDECL 4
/* Ids shorter than this live in the conversation's first cache line, and
 * such conversations are recycled (see cr__router_conv_new). */
#define RCONV_ID_CAP 20
/* Such conversations are carved, RCONV_SLAB at a time, from blocks aligned
 * to 64 bytes, each at a multiple of RCONV_STRIDE: the layout by cache
 * line below holds (malloc's 16-byte alignment put "the first line" on two
 * lines three times in four). */
#define RCONV_SLAB 64
#define RCONV_STRIDE ((sizeof(rconv) + 63) & ~(size_t)63)

/* Laid out by use: the first cache line is what an id lookup and most
 * calls read (the id itself included: inline at the end it cost a second
 * line per lookup), the second what waiting and ending read; steps,
 * attributes and declines come after and are read only when there are any
 * (nsteps, attrs_len, ndecl), so a recycled object is not even cleared
 * past its declines. */
typedef struct rconv {
  char *id;             /* idfix, or idbuf for longer ids */
  uint32_t id_len, idx;
  char idfix[RCONV_ID_CAP];
  uint32_t attrs_len;    /* here, so that freeing reads no further line */
  uint32_t queue, agent; /* agent: ASSIGNED */
  uint8_t state, channel, flags, step, nsteps;
  uint8_t inwait, wheap; /* in a waiting line; 1 = the custom tier */
  uint8_t ndecl;         /* decl[0 .. ndecl) have ever been used */
  int32_t prio, eff;
  /* second line */
  uint64_t seq;
  cr_time arrival;    /* place in line */
  cr_time state_at;   /* offered / assigned / abandoned at */
  cr_time tdue;       /* key in the timer heap, CR_TIME_NEVER if absent */
  rpnode wnode;
  uint32_t ohead;        /* offers of this conversation */
  uint16_t noffers, attempts;
  uint32_t sticky;       /* agent index of a live CR_STEP_AGENT, or RNIL */
  /* the rest */
  rpnode tnode;
  uint32_t sticky_next, sticky_prev;
  cr_time qenter;     /* entered the current queue (overflow delay) */
  cr_time step_start;
  cr_time wake;       /* retry matching (member delay, decline block) */
  rstep *steps;
  union {
    char *attrs;
    struct rconv *fnext; /* on the free list */
  };
  struct { /* only decl[0 .. ndecl) is meaningful (and ever read) */
    uint64_t agent_seq;
    cr_time until;
  } decl[RDECL];
  char idbuf[]; /* ids of RCONV_ID_CAP bytes or more */
} rconv;

typedef struct roffer {
  uint32_t conv, agent;
  uint32_t next_c, prev_c, next_a, prev_a;
  uint64_t seq;
  cr_time made, expires;
  rpnode tnode;
  uint8_t used;
} roffer;

typedef struct rwrap {
  cr_time until;
  uint8_t ch;
} rwrap;

/* Laid out by use: the first two cache lines hold what matching and the
 * capacity checks read (status, capacity, load, lists), the statistics
 * the third, the rest (reason, wrap-up slots, timer node) after. */
typedef struct ragent {
  char *id;
  uint32_t id_len, idx;
  uint64_t seq;
  uint8_t status, reason_len;
  uint8_t requal; /* skills or a queue's requirement changed: recompute
                     each membership's tier at the next reindex */
  uint8_t touched; /* workload or status changed: the next reindex moves
                      it to the back of every longest-idle line */
  uint32_t total;
  uint32_t maxc[RCH], cost[RCH];
  /* second line */
  uint32_t load[RCH], cost_used;
  uint32_t mhead;              /* memberships */
  uint32_t ohead, otail;       /* offers, oldest first */
  uint32_t sticky_head;        /* conversations at a step naming it */
  uint32_t consec, noffers, nactive, nwrap, wcap;
  uint8_t chmask;              /* channels with maxc > 0 (was padding) */
  cr_time idle_since;
  /* third line */
  cr_time wrapup_ms, talk_ms, login_at, tdue;
  uint64_t contacts, acc, rej, miss;
  /* the rest */
  rskill *skills;
  uint16_t nskills;
  rwrap *wraps;
  rpnode tnode;
  char reason[64];
  char idbuf[]; /* the id, inline */
} ragent;

/* A membership, split by use: what matching, reindexing and the lines'
 * stale checks read is here, 32 bytes, so that an agent's memberships
 * (made together, adjacent in the pool) share a cache line or two; the
 * rest (the queue's member list, the delay, the heap strategies' keys and
 * positions) is in rmcold, at the same index of r->mcold. */
typedef struct rmember {
  uint32_t agent, queue;
  uint32_t next_a, prev_a;
  int32_t prio;
  uint8_t inmask;    /* channels whose member heap or lines hold it */
  uint8_t used;
  uint8_t qual;      /* meets the queue's default requirement: which tier
                        (memb or memb_lo, or lists [1] / [0]) holds it */
  uint8_t delayed;   /* its delay is not 0 (read it from rmcold then) */
  uint64_t stamp;    /* line strategies: when it last went to the back
                        (a value of the router's sequence counter; 0 =
                        in no line); the lines' entries are live while
                        their stamp is this one */
} rmember;

typedef struct rmcold {
  uint32_t next_q, prev_q;
  cr_time delay;
  uint64_t k1, k2;   /* the strategy key the heaps hold now */
  uint64_t rr, rnd;  /* round-robin turn, random race clock */
  uint32_t pos[RCH]; /* heap strategies: index in the (queue, channel)
                        member heap */
} rmcold;

/* Longest idle and ring-all order members by (member priority, time they
 * last went to the back), and every change of a member sends it to the
 * back: each (priority, tier, channel) is a FIFO. It is kept as a ring
 * buffer of (stamp, member) entries in stamp order: going to the back
 * appends an entry with a fresh stamp and leaves the old one behind, stale
 * (its stamp no longer the member's); stale entries are dropped when they
 * reach the front, or all at once when the ring is full. Nothing but the
 * ring's tail is written, where a linked list unlinked and relinked
 * neighbours (a cache miss each). Capacity is reserved with the members
 * (nh + a quarter), so appending never allocates and a full ring always
 * compacts to below its capacity: amortised O(1). One level per member
 * priority in use, sorted; level 0 always exists (auto members have
 * priority 0). */
typedef struct rent {
  uint64_t stamp;
  uint32_t mi;
  uint32_t agent; /* the member's agent: a line's front starts loading the
                     agent with the membership, not after it */
} rent;

typedef struct rring {
  rent *a;
  uint32_t cap, head, n;
} rring;

typedef struct rlevel {
  int32_t prio;
  uint32_t nmemb;        /* members with this priority */
  uint32_t nh[RCH];      /* ... whose agent takes the channel */
  rring ring[2][RCH];    /* [tier: qual][channel] */
} rlevel;

/* A waiting line of a (queue, channel, tier): its conversations in key
 * order (effective priority, arrival, sequence). Arrivals mostly come in
 * that order, so one that goes behind the last is appended to a sorted
 * list (in and out in O(1), no comparisons with the others); one that
 * does not (a higher priority, a resumed or moved conversation keeping an
 * earlier place) goes into the pairing heap. The line's front is the
 * better of the list's head and the heap's root. The list is linked
 * through the entries' heap nodes (see wl_insert in router.c). The
 * timers are a line too. */
typedef struct rwline {
  rheap h;
  uint32_t head, tail, nl; /* the sorted list and its length */
} rwline;

static inline void rwline_init(rwline *l) {
  l->h.root = l->head = l->tail = RNIL;
  l->h.n = l->nl = 0;
}

typedef struct rqueue {
  UT_hash_handle hh;
  char *id;
  uint32_t id_len, idx;
  cr_queue_config cfg; /* pointers cleared: skills/overflow below */
  rskill skills[CR_ROUTER_MAX_STEP_SKILLS];
  uint8_t nskills, open;
  uint32_t overflow; /* queue index or RNIL */
  /* Two tiers each, so that what can never match the common case is not
   * scanned for it: conversations on the queue's default requirement
   * (wait) vs. on their own skills or a named agent (waitc); members that
   * meet the default requirement (memb) vs. those that do not (memb_lo). */
  rwline wait[RCH], waitc[RCH];
  mheap memb[RCH], memb_lo[RCH]; /* heap strategies */
  rlevel *lv;                      /* list strategies (levels kept always) */
  uint32_t nlv, lvcap;
  uint32_t fn[2][RCH];             /* members in the lists [tier][ch] */
  uint32_t nhandle[RCH]; /* members whose agent takes the channel: the
                            member heap's reserved capacity */
  uint32_t mhead, nmembers;
  uint64_t staffed[RCH]; /* slots of available members, per channel */
  uint64_t rr_counter, rnd_clock;
  uint32_t noffered, nactive;
  uint64_t entered, answered, abandoned, timed_out, overflowed_out;
  uint64_t in_sl, ab_after_sl, acc, rej, miss;
  double aht[RCH], aht_all;
} rqueue;

typedef struct rskillname {
  UT_hash_handle hh;
  char *name;
  uint32_t len;
  uint16_t id;
} rskillname;

/* Id index of agents and conversations: open addressing with linear
 * probing (Knuth, TAOCP vol. 3, 6.4, algorithm L; deletion by backward
 * shift, algorithm R), a power of two of slots at load <= 1/2. A slot is
 * 16 bytes: (hash << 32) | (pool index + 1), 0 = empty, and the object's
 * address. A probe compares the cached hash before touching the object,
 * and goes from the slot straight to the object (with only the index, the
 * pool's pointer array was a third cache miss in every lookup: a third
 * of conv_find's samples), so a lookup is about one cache miss in the
 * table and one in the object. (uthash's chains cost a miss per link and
 * its Jenkins hash about as much as the rest of the lookup.) */
typedef struct rslot {
  uint64_t k; /* (hash << 32) | (pool index + 1), 0 = empty */
  void *p;    /* the object: a hit reads the slot, then the object */
} rslot;

typedef struct ridx {
  rslot *s;
  uint32_t mask, n; /* mask = slots - 1 (0 with no table) */
} ridx;

/* A pool of pointers (agents, conversations) or of structs (members,
 * offers) with a LIFO free list; `hwm` slots have ever been used. */
typedef struct rpool {
  uint32_t cap, hwm, nfree, nused;
  uint32_t *free;
} rpool;

struct cr_router {
  cr_mem mem;
  cr_router_config cfg;
  cr_router_callbacks cb;
  int in_cb;
  cr_time now;
  uint64_t seq;     /* one counter for agents, conversations, offers */
  uint64_t rng;     /* xorshift64* state (random strategy) */
  char err[160];

  ragent **agents;
  rpool apool;
  ridx aidx;

  rqueue **queues;
  uint32_t nqueues, qcap;
  rqueue *qhash;
  uint32_t nq_fewest; /* queues with CR_STRATEGY_FEWEST_CONTACTS: the
                         only strategy whose key an accept changes */
  uint32_t last_queue; /* the queue found last by id (checked, a hint) */
  uint32_t last_offer; /* the offer made last (checked, a hint: accept
                          and reject compare its pair's ids before
                          hashing) */
  uint32_t ev_take;    /* bit t: an event of type t has a callback */
  ridx qidx; /* the same queues by id: every enqueue looks one up, and
                uthash's Jenkins hash and memcmp cost about 140
                instructions of a 100-agent conversation's ~3,600 */

  rconv **convs;
  rconv *cfree; /* free conversation objects, reused (see conv_new) */
  void **cslab; /* the blocks they are carved from (RCONV_SLAB each) */
  uint32_t ncslab, cslabcap;
  rpool cpool;
  ridx cidx;
  uint32_t nconv_offered; /* conversations holding at least one offer */

  rmember *members;
  rpool mpool;
  rmcold *mcold; /* members[i]'s cold part is mcold[i] */
  uint32_t mcold_cap;

  roffer *offers;
  rpool opool;

  rskillname **skills;
  uint32_t nskills, scap;
  rskillname *shash;

  rwline timers; /* every deadline: a sorted list of those set in order
                   (offer timeouts, mostly) beside a pairing heap */
  cr_time tnext; /* the timers' root's time (CR_TIME_NEVER if none): each
                    call asks whether anything is due, and this answers
                    without reaching into the root's object */
};

/* Checks every structural invariant (capacity, heap membership and order,
 * conversation states, counters). 0, or CR_ECORRUPT with a reason in r->err.
 * Linear: for tests, the fuzz target and restore. */
int cr__router_check(cr_router *r);
/* The engine holds its inner router while one of the engine's own host
 * callbacks runs (delta +1 before, -1 after): a router call from there is
 * refused with CR_ESTATE, as one from the router's own callbacks is. */
void cr__router_hold(cr_router *r, int delta);

/* router.c internals used by the snapshot code. */
int cr__router_alloc(cr_router **out, const cr_mem *mem,
                     const cr_router_config *cfg);
int cr__router_pool_take(cr_router *r, rpool *p, void **arr, size_t elem,
                         uint32_t *idx);
int cr__router_rebuild(cr_router *r);
int cr__router_mpool_reserve(cr_router *r, uint32_t need);
int cr__router_mcold_fit(cr_router *r);
void cr__router_free_conv(cr_router *r, rconv *c);
rconv *cr__router_conv_new(cr_router *r, const char *id, size_t len);
uint32_t cr__ridx_hash(const char *id, size_t len);
int cr__ridx_reserve(cr_router *r, ridx *x, uint32_t more);
void cr__ridx_put(ridx *x, uint32_t h, uint32_t idx, void *obj);
ragent *cr__agent_find(cr_router *r, const char *id, size_t len);
rconv *cr__conv_find(cr_router *r, const char *id, size_t len);

#endif
