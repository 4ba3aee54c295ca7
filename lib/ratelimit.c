/*
 * Rate limits as shared state. The decisions that must be atomic across
 * processes live in SQL (lib/sql/0002_rate_buckets.sql: jobrun.rate_take and
 * jobrun.rate_tighten); this file builds their input, turns their answers
 * into waits on our monotonic clock, and keeps the policy in small pure
 * functions.
 */
#include "ratelimit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "deadline.h"
#include "log.h"

/* A deadlock between two takers is impossible by lock order, but an upsert
 * racing another can still fail with a serialization error; trying again is
 * always safe because a failed statement took nothing. */
#define TAKE_TRIES 3

/* -------------------------------------------------------------- pure policy */

double rl_spacing_margin(double spacing_s)
{
	if (!(spacing_s > 0))
		return 0;
	return spacing_s * 0.025 + 0.0015;
}

double rl_send_allowance(double spacing_s)
{
	return rl_spacing_margin(spacing_s);
}

bool rl_strict(const struct rl_bucket *b, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i].spacing_s > 0 && !b[i].spread)
			return true;
	return false;
}

double rl_floor_gap(const struct rl_bucket *b)
{
	if (!(b->spacing_s > 0))
		return 0;
	return b->spread ? b->spacing_s + rl_spacing_margin(b->spacing_s) : b->spacing_s;
}

/* The first request of a window reaches the server a little after its slot;
 * the server's window starts then, so ours must end a little later too. */
double rl_window_margin(double period_s)
{
	if (!(period_s > 0))
		return 0;
	return period_s * 0.001 + 0.005;
}

/* Only paced buckets need it; 10 ms covers the trip back from the database
 * on a busy machine, a fifth of the spacing keeps it small for tight pacing. */
double rl_slot_lead(const struct rl_bucket *b, int n)
{
	double lead = 0;
	for (int i = 0; i < n; i++) {
		double l = b[i].spacing_s > 0 ? b[i].spacing_s * 0.2 : 0;
		if (l > 0.01)
			l = 0.01;
		if (l > lead)
			lead = l;
	}
	return lead;
}

double rl_wait_cap(double max_wait_s, double deadline_left_s)
{
	double cap = max_wait_s > 0 ? max_wait_s : 0;
	if (deadline_left_s < cap)
		cap = deadline_left_s > 0 ? deadline_left_s : 0;
	return cap;
}

/* The last stretch before a slot is spun, not slept: a sleeping process
 * (a virtual CPU above all) can wake milliseconds late, and a late send
 * shortens the gap to whoever holds the next slot. */
#define SPIN_S 0.002

static int spin_until(double target)
{
	double last = -1;
	for (;;) {
		if (deadline_should_stop())
			return -1;
		double now = clock_mono();
		if (now >= target)
			return 0;
		/* A clock that stands still is a test's fake one: let it jump. */
		if (now == last)
			clock_sleep(target - now);
		last = now;
	}
}

enum rl_outcome rl_settle(bool granted, double wait_s)
{
	if (!granted)
		return RL_EXHAUSTED;
	if (!(wait_s > 0))
		return RL_GRANTED;
	double target = clock_mono() + wait_s;
	if (wait_s > SPIN_S && deadline_sleep(wait_s - SPIN_S))
		return RL_STOPPED;
	return spin_until(target) ? RL_STOPPED : RL_GRANTED;
}

double rl_unknown_block_s(const struct rl_bucket *b, double window_reset_in_s)
{
	double pause = b->spacing_s * RL_UNKNOWN_FACTOR;
	if (pause < 1)
		pause = 1;
	if (b->limit > 0 && window_reset_in_s > pause)
		return window_reset_in_s;
	return pause;
}

/* --------------------------------------------------------------- database */

static json_t *bucket_json(const struct rl_bucket *b)
{
	return json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f}", "provider", b->provider, "bucket",
			 b->name, "limit", (json_int_t)(b->limit > 0 ? b->limit : 0), "period",
			 b->period_s > 0 ? b->period_s : 0.0, "spacing",
			 b->spacing_s > 0 ? b->spacing_s : 0.0, "spacing_margin",
			 rl_spacing_margin(b->spacing_s), "window_margin", rl_window_margin(b->period_s));
}

/* The buckets as one JSON parameter: the set is variable, and one parameter
 * keeps the statement parameterized without building array literals. */
static char *buckets_param(const struct rl_bucket *b, int n)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		json_t *o = bucket_json(&b[i]);
		if (!o) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, o);
	}
	char *text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}

static bool retryable(struct db *db)
{
	const char *state = db_last_sqlstate(db);
	return !strcmp(state, "40001") || !strcmp(state, "40P01");
}

static const char take_sql[] = "SELECT granted, wait_s, limiting"
				" FROM jobrun.rate_take($1::jsonb, $2::float8, $3::float8)";
static const char respace_sql[] = "SELECT granted, wait_s, limiting FROM"
				   " jobrun.rate_respace($1::jsonb, $2::float8, $3::float8, false)";
static const char respace_alone_sql[] = "SELECT granted, wait_s, limiting FROM"
					 " jobrun.rate_respace($1::jsonb, $2::float8, $3::float8, true)";

/* One call of jobrun.rate_take() or jobrun.rate_respace() (sql). */
static int take_once(struct db *db, const char *sql, const char *buckets, double cap, double lead,
		     bool *granted, double *wait_s, int *limiting)
{
	char cap_s[64], lead_s[64];
	snprintf(cap_s, sizeof(cap_s), "%.6f", cap); /* may be negative: ratelimit_prepare() */
	snprintf(lead_s, sizeof(lead_s), "%.6f", lead);
	const char *params[] = { buckets, cap_s, lead_s };
	struct db_result *r = NULL;
	for (int i = 0; i < TAKE_TRIES && !r; i++) {
		r = db_query(db, sql, 3, params);
		if (!r && !retryable(db))
			break;
	}
	if (!r)
		return -1;
	if (db_rows(r) != 1) {
		db_result_free(r);
		return error("rate limiter: the slot query returned no answer");
	}
	*granted = db_bool(r, 0, 0);
	*wait_s = db_double(r, 0, 1, 0);
	*limiting = (int)db_ll(r, 0, 2, -1);
	db_result_free(r);
	return 0;
}

static int take_with(struct db *db, const char *sql, const struct rl_bucket *b, int n,
		     double max_wait_s, bool settle, struct rl_take *out)
{
	memset(out, 0, sizeof(*out));
	out->limiting = -1;
	if (deadline_should_stop()) {
		out->outcome = RL_STOPPED;
		return 0;
	}
	char *buckets = buckets_param(b, n);
	if (!buckets)
		return error("rate limiter: cannot encode the buckets");
	bool granted = false;
	double wait_s = 0;
	double t0 = clock_mono();
	/* A new slot for a missed one needs no lead: lateness is judged from
	 * before the question (slot_mono), so the lead would only cost time. */
	double lead = sql == take_sql ? rl_slot_lead(b, n) : 0;
	int ret = take_once(db, sql, buckets, rl_wait_cap(max_wait_s, deadline_remaining()), lead,
			    &granted, &wait_s, &out->limiting);
	double t1 = clock_mono();
	free(buckets);
	if (ret)
		return -1;
	if (out->limiting >= n)
		out->limiting = -1;
	if (!settle) {
		/* The database measured wait_s at its last moment: the slot is
		 * t1 + wait_s on our clock, less the trip back (the margin's). */
		out->outcome = granted ? RL_GRANTED : RL_EXHAUSTED;
		if (granted) {
			/* As below: the slot is at least t0 + wait_s; sent at
			 * t1 + wait_s, never early. */
			out->slot_mono = t0 + (wait_s > 0 ? wait_s : 0);
			out->wake_mono = t1 + (wait_s > 0 ? wait_s : 0);
			out->waited_s = wait_s > 0 ? wait_s : 0;
		} else {
			out->retry_in_s = wait_s;
		}
		log_debug("rate reserve", LF_F("rtt_ms", (t1 - t0) * 1000), LF_F("wait_ms", wait_s * 1000));
		return 0;
	}
	out->outcome = rl_settle(granted, wait_s);
	/* The database measured wait_s at its last moment, somewhere between
	 * t0 and t1 on our clock: the slot is at least t0 + wait_s. We sleep to
	 * t1 + wait_s, never early, and judge lateness from the earliest. A slot
	 * already past (wait_s <= 0) was spaced from the database's clock when it
	 * answered, at least t0. */
	double slot = t0 + (wait_s > 0 ? wait_s : 0);
	log_debug("rate take", LF_F("rtt_ms", (t1 - t0) * 1000), LF_F("wait_ms", wait_s * 1000),
		  LF_F("late_ms", (clock_mono() - slot) * 1000));
	if (granted) {
		out->waited_s = wait_s > 0 ? wait_s : 0;
		out->slot_mono = slot;
	} else {
		out->retry_in_s = wait_s;
	}
	return 0;
}

int ratelimit_take(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		   struct rl_take *out)
{
	return take_with(db, take_sql, b, n, max_wait_s, true, out);
}

int ratelimit_reserve(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		      struct rl_take *out)
{
	return take_with(db, take_sql, b, n, max_wait_s, false, out);
}

int ratelimit_respace(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
		      bool alone, struct rl_take *out)
{
	return take_with(db, alone ? respace_alone_sql : respace_sql, b, n, max_wait_s, true, out);
}

int ratelimit_respace_ahead(struct db *db, const struct rl_bucket *b, int n, double max_wait_s,
			    bool alone, struct rl_take *out)
{
	return take_with(db, alone ? respace_alone_sql : respace_sql, b, n, max_wait_s, false, out);
}

/* A negative cap never grants: the call only upserts and plans. */
int ratelimit_prepare(struct db *db, const struct rl_bucket *b, int n)
{
	char *buckets = buckets_param(b, n);
	if (!buckets)
		return error("rate limiter: cannot encode the buckets");
	bool granted;
	double wait_s;
	int limiting;
	int ret = take_once(db, take_sql, buckets, -1, 0, &granted, &wait_s, &limiting);
	free(buckets);
	return ret;
}

static void fmt_seconds(char *out, size_t len, double s)
{
	snprintf(out, len, "%.6f", s > 0 ? s : 0.0);
}

int ratelimit_block(struct db *db, const struct rl_bucket *b, double seconds)
{
	char limit[32], period[64], spacing[64], secs[64];
	snprintf(limit, sizeof(limit), "%ld", b->limit > 0 ? b->limit : 0);
	fmt_seconds(period, sizeof(period), b->period_s);
	fmt_seconds(spacing, sizeof(spacing), b->spacing_s);
	fmt_seconds(secs, sizeof(secs), seconds);
	const char *params[] = { b->provider, b->name, limit, period, spacing, secs };
	/* greatest(): a shorter block never shortens a longer one in force. */
	return db_exec(db,
		       "INSERT INTO jobrun.rate_buckets AS r"
		       " (provider, bucket, window_limit, period, spacing, blocked_until, updated_at)"
		       " VALUES ($1, $2, $3::bigint, make_interval(secs => $4::float8),"
		       "  make_interval(secs => $5::float8),"
		       "  clock_timestamp() + make_interval(secs => $6::float8), clock_timestamp())"
		       " ON CONFLICT (provider, bucket) DO UPDATE"
		       " SET blocked_until = greatest(r.blocked_until, excluded.blocked_until),"
		       "  updated_at = excluded.updated_at",
		       6, params);
}

int ratelimit_tighten(struct db *db, const struct rl_bucket *b, long remaining, double reset_in_s)
{
	if (b->limit <= 0 && remaining > 0)
		return 0; /* no window of ours to correct, and not blocked */
	char limit[32], period[64], spacing[64], margin[64], rem[32], reset[64];
	snprintf(limit, sizeof(limit), "%ld", b->limit > 0 ? b->limit : 0);
	fmt_seconds(period, sizeof(period), b->period_s);
	fmt_seconds(spacing, sizeof(spacing), b->spacing_s);
	fmt_seconds(margin, sizeof(margin), rl_window_margin(b->period_s));
	snprintf(rem, sizeof(rem), "%ld", remaining);
	snprintf(reset, sizeof(reset), "%.6f", reset_in_s >= 0 ? reset_in_s : -1.0);
	const char *params[] = { b->provider, b->name, limit, period, spacing, margin, rem, reset };
	return db_exec(db,
		       "SELECT jobrun.rate_tighten($1, $2, $3::bigint, $4::float8, $5::float8,"
		       " $6::float8, $7::bigint, $8::float8)",
		       8, params);
}

int ratelimit_remaining(struct db *db, const struct rl_bucket *b, long *remaining, double *reset_in_s)
{
	if (b->limit <= 0) {
		*remaining = -1;
		*reset_in_s = -1;
		return 0;
	}
	char limit[32], period[64], margin[64];
	snprintf(limit, sizeof(limit), "%ld", b->limit);
	fmt_seconds(period, sizeof(period), b->period_s);
	fmt_seconds(margin, sizeof(margin), rl_window_margin(b->period_s));
	const char *params[] = { b->provider, b->name, limit, period, margin };
	/* The same notion of a live window as jobrun.rate_take(). */
	struct db_result *r = db_query(
		db,
		"WITH w AS (SELECT window_count, window_start + make_interval(secs => $4::float8)"
		"  + make_interval(secs => $5::float8) AS ends FROM jobrun.rate_buckets"
		"  WHERE provider = $1 AND bucket = $2 AND window_start IS NOT NULL)"
		" SELECT greatest($3::bigint - window_count, 0),"
		"  extract(epoch FROM ends - clock_timestamp())::float8"
		" FROM w WHERE ends > clock_timestamp()",
		5, params);
	if (!r)
		return -1;
	*remaining = b->limit;
	*reset_in_s = b->period_s;
	if (db_rows(r) == 1) {
		*remaining = (long)db_ll(r, 0, 0, b->limit);
		*reset_in_s = db_double(r, 0, 1, b->period_s);
	}
	db_result_free(r);
	return 0;
}
