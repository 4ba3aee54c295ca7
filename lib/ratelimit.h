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
	/* What the spacing is. false (strict): the provider's own rule, a gap
	 * below it is a violation (ComicVine's 1 s): every send leaves within
	 * the allowance of a slot of its own. true (spread): jobrun's way to
	 * spread a window evenly (ShipStation's 200 a minute, one every 0.3 s):
	 * a send may leave late, and this process's next send on the bucket
	 * keeps the spacing from it (lib/limiter's floor). */
	bool spread;
};

enum rl_outcome {
	RL_GRANTED,   /* slot taken and waited for: send now */
	RL_EXHAUSTED, /* a window is full or blocked; *retry_in_s says when it reopens */
	RL_STOPPED,   /* deadline or signal while waiting for the slot */
};

/* What one take found, for callers that explain a refusal. */
struct rl_take {
	enum rl_outcome outcome;
	double retry_in_s; /* RL_EXHAUSTED: seconds until the slot would open */
	double waited_s;   /* RL_GRANTED: how long we slept for the slot */
	double slot_mono;  /* RL_GRANTED: the slot on our monotonic clock, at its
			    * earliest: the database's answer may have taken a while to
			    * arrive, so lateness measured from here counts that too */
	int limiting;      /* index in b of the bucket that set the slot; -1: none */
	double wake_mono;  /* ratelimit_reserve, RL_GRANTED: when to send, never early
			    * (the slot from the answer's arrival); >= slot_mono */
};

/* Take a slot in all n buckets. When a window reopens within max_wait_s (and
 * before the deadline) wait for it; otherwise report RL_EXHAUSTED without
 * taking anything. -1 on database error. */
int ratelimit_take(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		   struct rl_take *out);
/* As ratelimit_take, without the sleep: the slot is reserved, out->wake_mono
 * says when to send and out->slot_mono is the slot at its earliest, which
 * lateness is judged from. Whoever sends waits for it. */
int ratelimit_reserve(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		      struct rl_take *out);
/* A new slot for a request whose slot went unused because the send would
 * have left too late (rl_send_allowance): spacing and blocks only, since the
 * windows counted the request with its first slot. `alone`: this connection
 * holds no other slot not yet sent, so when the missed slot is still the last
 * one reserved (by this connection) the new one may be now. Same answers. */
int ratelimit_respace(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		      bool alone, struct rl_take *out);
/* As ratelimit_respace, without the sleep (as ratelimit_reserve): for a
 * transfer that missed its slot before it started, which waits parked. */
int ratelimit_respace_ahead(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
			    bool alone, struct rl_take *out);
/* Create the buckets' rows and warm this connection's plans without taking
 * anything, so that the first take is as quick as the rest (a slow first
 * answer would make its send late against another process's next slot). */
int ratelimit_prepare(struct db *db, const struct rl_bucket *b, int n);
/* Nobody sends on this bucket for `seconds` (Retry-After, a 420). */
int ratelimit_block(struct db *db, const struct rl_bucket *b, double seconds);
/* The server says only `remaining` requests are left until reset_in_s. */
int ratelimit_tighten(struct db *db, const struct rl_bucket *b, long remaining, double reset_in_s);
/* What is left in the current window (limit when the window is fresh, and
 * then *reset_in_s is the period; -1 for both when the bucket has no window). */
int ratelimit_remaining(struct db *db, const struct rl_bucket *b, long *remaining, double *reset_in_s);

/* Pure helpers (unit-tested). */
/* Added to the spacing of every reservation: the safety margin. A provider
 * judges gaps where requests arrive, after network and scheduling jitter,
 * and one violation can block a key for an hour, so this trades a few
 * percent of throughput for it (2.5 % of the spacing + 1.5 ms; 0 without
 * spacing). It is the room a send has to leave late (rl_send_allowance),
 * so that by our clock no two sends leave less than the spacing apart even
 * when lateness is judged at its most pessimistic; real sends are late by far
 * less, and what is left over absorbs the way to the provider. */
double rl_spacing_margin(double spacing_s);
/* How late after its slot (rl_take.slot_mono, so the database's answer time
 * counts as late) a send may leave: the margin. A send that would be later (a
 * slow answer, a slow connect, a descheduled process) takes a new slot
 * (ratelimit_respace) instead. */
double rl_send_allowance(double spacing_s);
/* Whether a send on these buckets must keep its slot: some bucket has a
 * spacing that is not spread. */
bool rl_strict(const struct rl_bucket *b, int n);
/* The least gap this process keeps between two of its own sends on bucket b
 * (0 without spacing). Strict: the spacing; its slots carry the margin, and
 * this is only the net under them. Spread: the spacing and its margin, the
 * slots' own pace: sends that left late then cannot bunch, so no span of a
 * window's length holds more of this process's sends than the window's slots
 * (60 s / 0.3075 s: 195 of ShipStation's 200), however late they leave. */
double rl_floor_gap(const struct rl_bucket *b);
/* Added to the end of a window, for the same jitter on its first request. */
double rl_window_margin(double period_s);
/* The soonest a slot may be, so the client sleeps through the database's
 * answer instead of sending late (a fifth of the largest spacing, at most
 * 10 ms; 0 without spacing). */
double rl_slot_lead(const struct rl_bucket *b, int n);
/* The longest wait worth reserving: max_wait_s, cut by the deadline. */
double rl_wait_cap(double max_wait_s, double deadline_left_s);
/* The database's answer made real: sleep until a granted slot (cut short by a
 * stop: RL_STOPPED), or RL_EXHAUSTED. Uses the injectable clock. */
enum rl_outcome rl_settle(bool granted, double wait_s);
/* How long to block a bucket after a rate-limit answer that said nothing
 * about when to come back: a windowed bucket waits out its window
 * (window_reset_in_s, ComicVine's 420 means the hour is used up); a
 * spacing-only bucket pauses RL_UNKNOWN_FACTOR spacings, at least 1 s. */
#define RL_UNKNOWN_FACTOR 10
double rl_unknown_block_s(const struct rl_bucket *b, double window_reset_in_s);

#endif
