/*
 * The shared rate limiter (lib/ratelimit) as lib/http hooks.
 *
 * Before every attempt, a slot is reserved in all of the request's buckets
 * (ratelimit_reserve): the hook never sleeps, it answers "send not before
 * T" (http_grant.send_at) and the http driver waits — http_send() by
 * sleeping, a pool by parking that transfer while others move.
 *
 * The floor: this process remembers, per spacing bucket, when it last sent
 * on it (a bucket is its provider and name), and no send of its own on a
 * bucket goes sooner than that plus the bucket's floor gap (rl_floor_gap).
 * Per bucket, so that ten ShipStation keys keep ten cadences, while every
 * ComicVine request, being in its provider-wide `*` bucket, keeps one.
 *
 * When a parked transfer wakes (http's on_wake), the floor is applied again:
 * a sibling on its bucket may have left late meanwhile. Then it depends on
 * what the spacing is (rl_bucket.spread):
 * - spread (ShipStation): lateness breaks nothing, the floor keeps the
 *   cadence. The send goes when the floor allows, however late for its slot;
 *   nothing waits inside before_send.
 * - strict (ComicVine's 1 s): a transfer that wakes later than the allowance
 *   after its slot (a busy page callback) takes a new slot (non-blocking:
 *   ratelimit_respace_ahead) and is parked again. Right before the request
 *   really leaves (http's before_send, once libcurl has a connection) a send
 *   that became late after all (a slow connect), or one with no slot of its
 *   own (libcurl's silent re-send on a new connection), takes a new slot and
 *   waits for it there: the one wait that still holds the pool, rare and at
 *   most about one spacing. It cannot move out: libcurl has the connection
 *   and the request in hand, and aborting throws them away (the next try
 *   would be late again). So every strict request that reaches the provider
 *   has its own slot and leaves within the margin of it, and no gap at the
 *   provider is shorter than the spacing.
 *
 * A budget that stays closed
 * longer than max_wait_s refuses the attempt with a reason such as
 * "budget exhausted on /volumes/ (reopens in 42m)" and HTTP_REFUSED_BUDGET
 * in that request's response. A rate-limit answer from the server blocks
 * the request's buckets for every process.
 *
 * Nothing a hook concludes about one request is kept here: it goes back in
 * that request's grant and response. The counters are the run's.
 *
 *	struct limiter lim;
 *	limiter_init(&lim, task_rl_db(&t), comicvine_buckets, NULL, 60);
 *	struct http_hooks hooks = limiter_hooks(&lim);
 *	struct http_client *http = task_http(&t, &hooks);
 *
 * Ownership: the caller owns the struct limiter and keeps it (and the db and
 * map context it borrows) alive as long as the hooks are installed. The
 * bucket arrays the map function returns are borrowed for one call.
 */
#ifndef JOBRUN_LIMITER_H
#define JOBRUN_LIMITER_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "ratelimit.h"

/* The buckets of a request's bucket name (req->bucket, may be NULL): set
 * *out to an array and return its length; 0 means "not rate limited". */
typedef int (*limiter_map_fn)(void *ctx, const char *bucket, const struct rl_bucket **out);

/* The floor's memory: this many spacing buckets at once. A full table
 * forgets the bucket that sent longest ago; forgetting one that sent within
 * its gap would take this net from it, and needs more buckets sending at
 * once than sync's --concurrency allows. */
#define LIMITER_FLOORS 128

struct limiter_floor {
	unsigned long long key; /* hash of provider and bucket name; 0: free. A
				 * collision merges two buckets' floors: stricter */
	double last_mono;       /* this process's last send (or go) on it */
};

struct limiter {
	struct db *db; /* not inside a transaction: task_rl_db() */
	limiter_map_fn map;
	void *map_ctx;
	double max_wait_s;      /* longest wait for a slot before refusing */
	bool prepared;          /* ratelimit_prepare() done on this connection */

	/* A rate-limit answer without Retry-After means the window is spent
	 * (ComicVine's rule): a windowed bucket is blocked until its window
	 * ends. Otherwise it pauses a few spacings, like a spacing-only one. */
	bool unknown_wait_is_window;

	/* Counted by the hooks: the run's totals, never one request's state. */
	long long granted;      /* slots taken (granted - sent: slots missed and taken again) */
	long long respaced;     /* strict slots taken again because a send would have left late */
	long long late_sends;   /* spread sends that left later than the allowance (fine) */
	long long sent;         /* requests that went out (stamped by before_send) */
	int unsent;             /* slots granted and neither sent nor given up; an
				 * attempt that failed before sending leaves one
				 * here for good, which only disables the cheap
				 * replacement of a missed slot (ratelimit_respace) */
	long long blocks;       /* server answers turned into shared blocks */
	double waited_s;        /* total time slept for slots */
	struct limiter_floor floors[LIMITER_FLOORS];
};

void limiter_init(struct limiter *l, struct db *db, limiter_map_fn map, void *map_ctx,
		  double max_wait_s);
/* Hooks with before_attempt, on_wake, before_send and on_rate_limited set; classify is
 * left NULL for the provider client to fill in. */
struct http_hooks limiter_hooks(struct limiter *l);

int limiter_before_attempt(void *ctx, const struct http_request *req, struct http_grant *g);
int limiter_on_wake(void *ctx, const struct http_request *req, struct http_grant *g);
int limiter_before_send(void *ctx, const struct http_request *req, const struct http_send *send,
			struct http_grant *g);
/* seconds < 0 (the server gave no Retry-After): rl_unknown_block_s(). */
void limiter_on_rate_limited(void *ctx, const struct http_request *req,
			     const struct http_response *resp, double seconds);
/* The server reported what is left (X-RateLimit-Remaining and friends).
 * Buckets without a window of their own take it too when nothing is left:
 * "Remaining: 0, Reset: 30" blocks them until the reset. */
int limiter_note_remaining(struct limiter *l, const struct http_request *req, long remaining,
			   double reset_in_s);

/* A classify hook that reads the server's own count (limiter_server_remaining)
 * into the shared buckets and keeps the default class. Provider clients with
 * a classify of their own call limiter_note_remaining() instead. */
enum http_class limiter_classify(void *ctx, const struct http_request *req,
				 struct http_response *resp, enum http_class dflt);

/* Pure helpers (unit-tested). */
/* The floor: the soonest this process may send a request on buckets b
 * (the latest of its buckets' last send + floor gap; 0 when none). */
double limiter_floor_at(const struct limiter *l, const struct rl_bucket *b, int n);
/* A request on buckets b goes at `when`: each spacing bucket remembers it. */
void limiter_floor_note(struct limiter *l, const struct rl_bucket *b, int n, double when);

enum limiter_step {
	LIMITER_GO,       /* send now */
	LIMITER_WAIT,     /* not before *at (the floor); the slot stands */
	LIMITER_NEW_SLOT, /* strict, and later than the allowance: take another slot */
};
/* A transfer holding `slot` (clock_mono(); <= 0: it has none) at `now`. A
 * strict request whose send could not be within the allowance of its slot
 * (now, or the floor if later) needs a new one; otherwise it waits for the
 * floor, if any, then goes. */
enum limiter_step limiter_step(const struct limiter *l, const struct rl_bucket *b, int n,
			       double slot, double now, double *at);

/* The server's count of what is left, from the first pair present of
 * X-RateLimit-Remaining/-Reset, X-FeatureRateLimit-Remaining/-Reset
 * (Cloudinary) and X-Rate-Limit-Remaining/-Reset (ShipStation). Reset may be
 * delta seconds, an HTTP date, or a Unix time; -1 in *reset_in_s when absent
 * or unreadable. 0 when a remaining count was found, -1 otherwise. */
int limiter_server_remaining(const struct http_response *resp, double now_wall, long *remaining,
			     double *reset_in_s);
/* "budget exhausted on /volumes/ (reopens in 42m)". */
void limiter_format_refusal(char *out, size_t len, const char *bucket, double retry_in_s);

#endif
