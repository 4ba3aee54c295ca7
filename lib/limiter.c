#include "limiter.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "deadline.h"
#include "log.h"

void limiter_init(struct limiter *l, struct db *db, limiter_map_fn map, void *map_ctx,
		  double max_wait_s)
{
	memset(l, 0, sizeof(*l));
	l->db = db;
	l->map = map;
	l->map_ctx = map_ctx;
	l->max_wait_s = max_wait_s;
}

struct http_hooks limiter_hooks(struct limiter *l)
{
	struct http_hooks h = { 0 };
	h.before_attempt = limiter_before_attempt;
	h.before_send = limiter_before_send;
	h.on_rate_limited = limiter_on_rate_limited;
	h.ctx = l;
	return h;
}

void limiter_format_refusal(char *out, size_t len, const char *bucket, double retry_in_s)
{
	char when[32];
	/* Round up: "reopens in 0s" would invite an immediate retry. */
	double shown = retry_in_s > 0 ? ceil(retry_in_s) : 0;
	if (shown > 60)
		shown = ceil(shown / 60) * 60;
	format_duration(shown, when, sizeof(when));
	snprintf(out, len, "budget exhausted on %s (reopens in %s)", bucket ? bucket : "?", when);
}

static int refuse(struct http_grant *g, enum http_refusal why, const char *reason)
{
	g->refusal = why;
	snprintf(g->reason, sizeof(g->reason), "%s", reason);
	return 1;
}

static int refuse_exhausted(struct limiter *l, const struct rl_bucket *b, const struct rl_take *t,
			    struct http_grant *g)
{
	char why[256];
	const char *name = t->limiting >= 0 ? b[t->limiting].name : "?";
	if (t->retry_in_s <= l->max_wait_s && t->retry_in_s >= deadline_remaining()) {
		/* The budget was open; the run's time was not. */
		snprintf(why, sizeof(why), "the next slot on %s is past the deadline", name);
		return refuse(g, HTTP_REFUSED_STOPPED, why);
	}
	limiter_format_refusal(why, sizeof(why), name, t->retry_in_s);
	g->retry_in_s = t->retry_in_s;
	log_info("rate budget exhausted", LF_S("bucket", name), LF_F("retry_in_s", t->retry_in_s),
		 LF_S("reason", why));
	return refuse(g, HTTP_REFUSED_BUDGET, why);
}

static double largest_spacing(const struct rl_bucket *b, int n)
{
	double spacing = 0;
	for (int i = 0; i < n; i++)
		if (b[i].spacing_s > spacing)
			spacing = b[i].spacing_s;
	return spacing;
}

/* Within this process, never less than the spacing after the last real send
 * (the stamp limiter_before_send() took when libcurl was about to send).
 * While sends leave within the margin of their slots this never waits:
 * slots are a spacing and a margin apart. It is the net under that rule.
 * -1 when a stop cut the wait short. */
static int keep_own_spacing(struct limiter *l, double spacing)
{
	if (spacing > 0 && l->last_send_mono > 0) {
		double gap = clock_mono() - l->last_send_mono;
		if (gap < spacing && deadline_sleep(spacing - gap))
			return -1;
	}
	return 0;
}

/* Retakes of one send before giving up on it: each is a new slot, so only a
 * machine too busy to send within a millisecond or two of any slot gets here. */
#define MAX_RESPACE 64

/* A new slot for a send that missed its own (or has none), waited for here,
 * on the connection that is ready: it must return within the allowance of
 * the slot, or it takes another. The request's windows counted it already
 * when it has a first slot (`respace`). 0: send now; 1: refused. */
static int retake_slot(struct limiter *l, const struct rl_bucket *b, int n, bool respace,
		       double max_wait_s, struct http_grant *g)
{
	double spacing = largest_spacing(b, n);
	double allowance = rl_send_allowance(spacing);
	for (int tries = 0;; tries++) {
		struct rl_take t;
		int rc = respace ? ratelimit_respace(l->db, b, n, max_wait_s, l->unsent == 0, &t)
				 : ratelimit_take(l->db, b, n, max_wait_s, &t);
		if (rc)
			/* Sending without the shared state could break the
			 * provider's rules for everyone: refuse instead. */
			return refuse(g, HTTP_REFUSED_ERROR, "rate limiter unavailable (database error)");
		if (t.outcome == RL_EXHAUSTED)
			return refuse_exhausted(l, b, &t, g);
		if (t.outcome == RL_STOPPED || keep_own_spacing(l, spacing))
			return refuse(g, HTTP_REFUSED_STOPPED, deadline_reason_name(deadline_reason()));
		l->waited_s += t.waited_s;
		l->granted++;
		/* Judged from the slot at its earliest: the database's answer
		 * time counts as late. */
		double late = clock_mono() - t.slot_mono;
		if (late <= allowance) {
			log_debug("rate slot granted", LF_F("waited_s", t.waited_s),
				  LF_F("late_ms", late * 1000));
			return 0;
		}
		l->respaced++;
		log_info("rate slot missed: taking another", LF_F("late_ms", late * 1000),
			 LF_F("allowed_ms", allowance * 1000));
		if (tries + 1 >= MAX_RESPACE)
			return refuse(g, HTTP_REFUSED_BUDGET,
				      "every rate slot was missed (machine too busy)");
		respace = true;
	}
}

/* A reservation, not a wait: the slot in every bucket is taken now and the
 * grant says when it is; the driver waits for it (other transfers move
 * meanwhile). The process's own last send sets a floor under it. */
int limiter_before_attempt(void *ctx, const struct http_request *req, struct http_grant *g)
{
	struct limiter *l = ctx;
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	if (n <= 0)
		return 0;
	if (!l->prepared && !ratelimit_prepare(l->db, b, n))
		l->prepared = true;
	struct rl_take t;
	if (ratelimit_reserve(l->db, b, n, l->max_wait_s, &t))
		return refuse(g, HTTP_REFUSED_ERROR, "rate limiter unavailable (database error)");
	if (t.outcome == RL_EXHAUSTED)
		return refuse_exhausted(l, b, &t, g);
	if (t.outcome == RL_STOPPED)
		return refuse(g, HTTP_REFUSED_STOPPED, deadline_reason_name(deadline_reason()));
	double spacing = largest_spacing(b, n);
	double at = t.wake_mono, slot = t.slot_mono;
	/* The net under the slots: this process's own last send. A send it
	 * delays past the allowance is late for its slot, and before_send
	 * takes a new one (the slot stays what the database reserved). */
	if (spacing > 0 && l->last_send_mono > 0 && at < l->last_send_mono + spacing)
		at = l->last_send_mono + spacing;
	l->waited_s += at > clock_mono() ? at - clock_mono() : 0;
	l->granted++;
	l->unsent++;
	g->send_at = at;
	g->slot_at = slot;
	log_debug("rate slot reserved", LF_F("in_ms", (at - clock_mono()) * 1000));
	return 0;
}

/* The slot was reserved before libcurl connected. A send within the
 * allowance of it (judged from the slot at its earliest, which this
 * transfer carries in send->granted_at) uses it; a later one (a slow
 * connect, a late wake-up, a slow database answer), or one with no grant of
 * its own (libcurl re-sending on a new connection after a reused one turned
 * out dead) takes a new slot here, on the connection that is now ready, so
 * it leaves on time. Each transfer knows its own slot, so several
 * outstanding (a pool) need no guessing. Either way the stamp is the real
 * send. */
int limiter_before_send(void *ctx, const struct http_request *req, const struct http_send *send,
			struct http_grant *g)
{
	struct limiter *l = ctx;
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	if (n <= 0)
		return 0;
	double spacing = largest_spacing(b, n);
	bool granted = send->granted_at >= 0;
	double late = granted ? clock_mono() - send->granted_at : -1;
	if (granted && l->unsent > 0)
		l->unsent--; /* the attempt's grant: sent now, or given up for a new one */
	if (spacing > 0 && !(granted && late <= rl_send_allowance(spacing))) {
		l->respaced++;
		if (!granted)
			log_info("rate slot for a send without one (a re-send)");
		else
			log_info("rate slot missed before sending: taking another",
				 LF_F("late_ms", late * 1000));
		double cap = send->max_wait_s < l->max_wait_s ? send->max_wait_s : l->max_wait_s;
		if (retake_slot(l, b, n, granted, cap, g))
			return 1;
	}
	l->last_send_mono = clock_mono();
	l->sent++;
	log_debug("rate send", LF_I("mono_us", (long long)(l->last_send_mono * 1e6)));
	return 0;
}

/* One bucket's block when the server did not say for how long. */
static double unknown_block(struct limiter *l, const struct rl_bucket *b)
{
	long remaining = -1;
	double reset_in = -1;
	if (!l->unknown_wait_is_window)
		return rl_unknown_block_s(b, -1);
	if (b->limit > 0 && ratelimit_remaining(l->db, b, &remaining, &reset_in))
		reset_in = b->period_s; /* the safe side: a whole window */
	return rl_unknown_block_s(b, reset_in);
}

/* Retry-After speaks for the whole client, so every bucket of the request
 * is blocked; without it, each bucket waits by its own rule (the window's
 * remainder for a windowed bucket, a few spacings for a pacing bucket). */
void limiter_on_rate_limited(void *ctx, const struct http_request *req,
			     const struct http_response *resp, double seconds)
{
	struct limiter *l = ctx;
	(void)resp;
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	for (int i = 0; i < n; i++) {
		double s = seconds >= 0 ? seconds : unknown_block(l, &b[i]);
		if (ratelimit_block(l->db, &b[i], s))
			continue; /* reported; http backs off on its own anyway */
		l->blocks++;
		log_info("rate limited by the server: bucket blocked", LF_S("provider", b[i].provider),
			 LF_S("bucket", b[i].name), LF_F("seconds", s));
	}
}

int limiter_note_remaining(struct limiter *l, const struct http_request *req, long remaining,
			   double reset_in_s)
{
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	int ret = 0;
	for (int i = 0; i < n; i++) {
		/* A bucket without a window has no count to correct, but
		 * nothing left still means nobody sends until the reset. */
		if (b[i].limit <= 0 && remaining > 0)
			continue;
		if (b[i].limit <= 0 && reset_in_s < 0) {
			if (ratelimit_block(l->db, &b[i], rl_unknown_block_s(&b[i], -1)))
				ret = -1;
			continue;
		}
		if (ratelimit_tighten(l->db, &b[i], remaining, reset_in_s))
			ret = -1;
		else if (remaining <= 0)
			log_info("server says nothing is left: bucket blocked until its reset",
				 LF_S("provider", b[i].provider), LF_S("bucket", b[i].name),
				 LF_F("reset_in_s", reset_in_s));
	}
	return ret;
}

/* ---------------------------------------------------- the server's count */

static const char *const remaining_headers[][2] = {
	{ "X-RateLimit-Remaining", "X-RateLimit-Reset" },
	{ "X-FeatureRateLimit-Remaining", "X-FeatureRateLimit-Reset" },
	{ "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset" },
};

/* Reset as delta seconds, an HTTP date, or (values past 2001) a Unix time. */
static double parse_reset(const char *value, double now_wall)
{
	char *end;
	errno = 0;
	double v = value ? strtod(value, &end) : -1;
	if (value && end != value && !errno && v >= 1e9) {
		while (isspace((unsigned char)*end))
			end++;
		if (!*end)
			return v > now_wall ? v - now_wall : 0;
	}
	return http_parse_retry_after(value, now_wall);
}

int limiter_server_remaining(const struct http_response *resp, double now_wall, long *remaining,
			     double *reset_in_s)
{
	for (size_t i = 0; i < sizeof(remaining_headers) / sizeof(remaining_headers[0]); i++) {
		const char *rem = http_response_header(resp, remaining_headers[i][0]);
		if (!rem)
			continue;
		char *end;
		errno = 0;
		long n = strtol(rem, &end, 10);
		if (end == rem || errno || n < 0)
			continue;
		*remaining = n;
		*reset_in_s = parse_reset(http_response_header(resp, remaining_headers[i][1]), now_wall);
		return 0;
	}
	return -1;
}

enum http_class limiter_classify(void *ctx, const struct http_request *req,
				 struct http_response *resp, enum http_class dflt)
{
	long remaining;
	double reset_in;
	if (!limiter_server_remaining(resp, clock_wall(), &remaining, &reset_in))
		limiter_note_remaining(ctx, req, remaining, reset_in);
	return dflt;
}
