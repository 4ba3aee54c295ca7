/*
 * The shared rate limiter (lib/ratelimit) as lib/http hooks.
 *
 * Before every attempt, a slot is reserved in all of the request's buckets
 * (ratelimit_reserve): the hook never sleeps, it answers "send not before
 * T" (http_grant.send_at) and the http driver waits — http_send() by
 * sleeping, a pool by parking that transfer while others move. Right before
 * the request really leaves (http's before_send, once libcurl has a
 * connection) the send is stamped, and a send that would leave later than
 * the spacing margin after its slot, or a send with no slot of its own
 * (libcurl's silent re-send on a new connection), takes a new slot first
 * (waiting for it there: rare, and short): every request that reaches the
 * provider has its own slot and leaves within the margin of it, so no gap at
 * the provider is shorter than the spacing. A budget that stays closed
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
	long long respaced;     /* slots taken again because a send would have left late */
	long long sent;         /* requests that went out (stamped by before_send) */
	int unsent;             /* slots granted and neither sent nor given up; an
				 * attempt that failed before sending leaves one
				 * here for good, which only disables the cheap
				 * replacement of a missed slot (ratelimit_respace) */
	long long blocks;       /* server answers turned into shared blocks */
	double waited_s;        /* total time slept for slots */
	double last_send_mono;  /* when this process's last request really left; 0: never */
};

void limiter_init(struct limiter *l, struct db *db, limiter_map_fn map, void *map_ctx,
		  double max_wait_s);
/* Hooks with before_attempt, before_send and on_rate_limited set; classify is left NULL
 * for the provider client to fill in. */
struct http_hooks limiter_hooks(struct limiter *l);

int limiter_before_attempt(void *ctx, const struct http_request *req, struct http_grant *g);
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
