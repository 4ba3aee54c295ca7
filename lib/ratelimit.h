/*
 * Rate limits as shared state in Postgres (jobrun.rate_buckets).
 *
 * A provider's rules are a set of buckets: a window (limit per period) and a
 * minimum spacing between two sends. ratelimit_take() reserves one slot in
 * every bucket of a request at once, in one atomic statement, using the
 * database's clock, so processes on different machines agree; then it sleeps
 * until the slot. Server signals (Retry-After, remaining/reset headers, 420)
 * tighten the shared state through ratelimit_block()/ratelimit_tighten().
 *
 * The connection given here must not be inside a transaction (row locks held
 * by an open batch would serialize every other process): tasks keep a second
 * connection for the limiter.
 */
#ifndef JOBRUN_RATELIMIT_H
#define JOBRUN_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct db;

struct rl_bucket {
	const char *provider; /* "comicvine" */
	const char *name;     /* "/volumes/", or "*" for provider-wide spacing */
	long limit;           /* requests per period; 0 = no window */
	double period_s;
	double spacing_s;     /* minimum gap between two sends; 0 = none */
};

enum rl_outcome {
	RL_GRANTED,   /* slot taken and waited for: send now */
	RL_EXHAUSTED, /* a window is full or blocked; *retry_in_s says when it reopens */
	RL_STOPPED,   /* deadline or signal while waiting for the slot */
};

/* Take a slot in all n buckets. When a window reopens within max_wait_s (and
 * before the deadline) wait for it; otherwise report RL_EXHAUSTED without
 * taking anything. -1 on database error. */
int ratelimit_take(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		   enum rl_outcome *outcome, double *retry_in_s);
/* Nobody sends on this bucket for `seconds` (Retry-After, a 420). */
int ratelimit_block(struct db *db, const struct rl_bucket *b, double seconds);
/* The server says only `remaining` requests are left until reset_in_s. */
int ratelimit_tighten(struct db *db, const struct rl_bucket *b, long remaining, double reset_in_s);
/* What is left in the current window (limit when the window is fresh). */
int ratelimit_remaining(struct db *db, const struct rl_bucket *b, long *remaining, double *reset_in_s);

#endif
