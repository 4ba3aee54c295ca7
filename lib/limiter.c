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
	h.on_wake = limiter_on_wake;
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

/* ---------------------------------------------------------------- the floor */

/* FNV-1a over provider, a NUL, and name: the bucket's identity, however many
 * copies of its struct the map hands out (ComicVine's `*` is in every path's
 * array). Never 0, which marks a free entry. */
static unsigned long long floor_key(const struct rl_bucket *b)
{
	unsigned long long h = 1469598103934665603ULL;
	const char *parts[2] = { b->provider ? b->provider : "", b->name ? b->name : "" };
	for (int k = 0; k < 2; k++) {
		for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++)
			h = (h ^ *c) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL; /* the separator */
	}
	return h ? h : 1;
}

static const struct limiter_floor *floor_find(const struct limiter *l, unsigned long long key)
{
	for (int i = 0; i < LIMITER_FLOORS; i++)
		if (l->floors[i].key == key)
			return &l->floors[i];
	return NULL;
}

double limiter_floor_at(const struct limiter *l, const struct rl_bucket *b, int n)
{
	double at = 0;
	for (int i = 0; i < n; i++) {
		double gap = rl_floor_gap(&b[i]);
		if (!(gap > 0))
			continue;
		const struct limiter_floor *f = floor_find(l, floor_key(&b[i]));
		if (f && f->last_mono + gap > at)
			at = f->last_mono + gap;
	}
	return at;
}

void limiter_floor_note(struct limiter *l, const struct rl_bucket *b, int n, double when)
{
	for (int i = 0; i < n; i++) {
		if (!(rl_floor_gap(&b[i]) > 0))
			continue;
		unsigned long long key = floor_key(&b[i]);
		struct limiter_floor *f = (struct limiter_floor *)floor_find(l, key);
		if (!f) {
			/* A free entry, else the one that sent longest ago. */
			f = &l->floors[0];
			for (int k = 0; k < LIMITER_FLOORS && f->key; k++)
				if (!l->floors[k].key || l->floors[k].last_mono < f->last_mono)
					f = &l->floors[k];
			f->key = key;
			f->last_mono = when;
		} else if (when > f->last_mono) {
			f->last_mono = when;
		}
	}
}

enum limiter_step limiter_step(const struct limiter *l, const struct rl_bucket *b, int n,
			       double slot, double now, double *at)
{
	double floor = limiter_floor_at(l, b, n);
	double go = floor > now ? floor : now;
	if (rl_strict(b, n) && (slot <= 0 || go - slot > rl_send_allowance(largest_spacing(b, n))))
		return LIMITER_NEW_SLOT;
	if (floor > now) {
		*at = floor;
		return LIMITER_WAIT;
	}
	return LIMITER_GO;
}

/* Sleep until this process's floor on the request's buckets: the net under a
 * strict slot taken on the connection. -1 when a stop cut the wait short. */
static int keep_own_floor(struct limiter *l, const struct rl_bucket *b, int n)
{
	double gap = limiter_floor_at(l, b, n) - clock_mono();
	return gap > 0 && deadline_sleep(gap) ? -1 : 0;
}

/* ------------------------------------------------------------------ hooks */

/* Retakes of one send before giving up on it: each is a new slot, so only a
 * machine too busy to send within a millisecond or two of any slot gets here. */
#define MAX_RESPACE 64

/* A new slot for a strict send that missed its own (or has none), waited for
 * here, on the connection that is ready: it must return within the allowance
 * of the slot, or it takes another. The request's windows counted it already
 * when it has a first slot (`respace`). 0: send now; 1: refused. */
static int retake_slot(struct limiter *l, const struct rl_bucket *b, int n, bool respace,
		       double max_wait_s, struct http_grant *g)
{
	double allowance = rl_send_allowance(largest_spacing(b, n));
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
		if (t.outcome == RL_STOPPED || keep_own_floor(l, b, n))
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

/* A slot's answer as a grant: send at the slot, never before the floor. A
 * grant that goes now is this process's latest send on its buckets. */
static void grant_slot(struct limiter *l, const struct rl_bucket *b, int n, const struct rl_take *t,
		       struct http_grant *g)
{
	double at = t->wake_mono, floor = limiter_floor_at(l, b, n);
	if (floor > at)
		at = floor;
	double now = clock_mono();
	l->waited_s += at > now ? at - now : 0;
	l->granted++;
	g->send_at = at;
	g->slot_at = t->slot_mono;
	/* A spread grant that goes now holds its siblings back at once; a
	 * strict one moves the floor only when it really leaves (before_send),
	 * or it would find itself behind its own floor and take a new slot. */
	if (at <= now && !rl_strict(b, n))
		limiter_floor_note(l, b, n, now);
	log_debug("rate slot reserved", LF_F("in_ms", (at - now) * 1000));
}

/* The reserve's refusals, as before_attempt and on_wake give them. */
static int refuse_take(struct limiter *l, const struct rl_bucket *b, int rc, const struct rl_take *t,
		       struct http_grant *g)
{
	if (rc)
		return refuse(g, HTTP_REFUSED_ERROR, "rate limiter unavailable (database error)");
	if (t->outcome == RL_EXHAUSTED)
		return refuse_exhausted(l, b, t, g);
	if (t->outcome == RL_STOPPED)
		return refuse(g, HTTP_REFUSED_STOPPED, deadline_reason_name(deadline_reason()));
	return 0;
}

/* A reservation, not a wait: the slot in every bucket is taken now and the
 * grant says when it is; the driver waits for it (other transfers move
 * meanwhile). The process's own last send on the buckets sets a floor under
 * it. */
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
	int rc = ratelimit_reserve(l->db, b, n, l->max_wait_s, &t);
	if (rc || t.outcome != RL_GRANTED)
		return refuse_take(l, b, rc, &t, g);
	l->unsent++;
	grant_slot(l, b, n, &t, g);
	return 0;
}

/* The transfer waited for its slot, parked; meanwhile a sibling on its bucket
 * may have left late (the floor moved), or the pool was busy in a callback
 * past the slot. Settled here, where waiting costs the others nothing: wait
 * for the floor (spread, or strict within the allowance), or take a new
 * strict slot (the window counted this request already) and wait for that. */
int limiter_on_wake(void *ctx, const struct http_request *req, struct http_grant *g)
{
	struct limiter *l = ctx;
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	if (n <= 0)
		return 0;
	double now = clock_mono(), at = now;
	double slot = g->slot_at > 0 ? g->slot_at : g->send_at;
	switch (limiter_step(l, b, n, slot, now, &at)) {
	case LIMITER_GO:
		if (!rl_strict(b, n)) /* see grant_slot */
			limiter_floor_note(l, b, n, now);
		return 0;
	case LIMITER_WAIT:
		g->send_at = at;
		return 0;
	case LIMITER_NEW_SLOT:
		break;
	}
	log_info("rate slot missed while parked: taking another", LF_F("late_ms", (now - slot) * 1000));
	struct rl_take t;
	/* This transfer's own grant is one of the unsent. */
	int rc = ratelimit_respace_ahead(l->db, b, n, l->max_wait_s, l->unsent <= 1, &t);
	if (rc || t.outcome != RL_GRANTED)
		return refuse_take(l, b, rc, &t, g);
	l->respaced++;
	grant_slot(l, b, n, &t, g);
	return 0;
}

/* Right before the request leaves, on a connection that is ready. A spread
 * send goes, however late: its floor was kept when it woke. A strict send
 * within the allowance of its slot (judged from the slot at its earliest,
 * which this transfer carries in send->granted_at) uses it; a later one (a
 * slow connect, a slow database answer), or one with no grant of its own
 * (libcurl re-sending on a new connection after a reused one turned out dead)
 * takes a new slot here, so it leaves on time. Each transfer knows its own
 * slot, so several outstanding (a pool) need no guessing. Either way the
 * stamp is the real send, and the floor moves to it. */
int limiter_before_send(void *ctx, const struct http_request *req, const struct http_send *send,
			struct http_grant *g)
{
	struct limiter *l = ctx;
	const struct rl_bucket *b = NULL;
	int n = l->map(l->map_ctx, req->bucket, &b);
	if (n <= 0)
		return 0;
	bool granted = send->granted_at >= 0;
	double now = clock_mono(), at;
	double late = granted ? now - send->granted_at : -1;
	if (granted && l->unsent > 0)
		l->unsent--; /* the attempt's grant: sent now, or given up for a new one */
	if (rl_strict(b, n)) {
		enum limiter_step step = limiter_step(l, b, n, granted ? send->granted_at : -1, now, &at);
		/* A send a little ahead of this process's floor (a timer that
		 * woke early, the previous send a little late) waits for it:
		 * within the allowance the slot still holds, and a new slot
		 * would cost a whole spacing. */
		if (step == LIMITER_WAIT && at - now <= rl_send_allowance(largest_spacing(b, n))) {
			if (keep_own_floor(l, b, n))
				return refuse(g, HTTP_REFUSED_STOPPED,
					      deadline_reason_name(deadline_reason()));
			step = LIMITER_GO;
		}
		if (step != LIMITER_GO) {
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
	} else if (!granted) {
		/* libcurl re-sends only when a reused connection closed before a
		 * byte of answer: the first send most likely never reached the
		 * provider, and a spread bucket's window has room for the rare
		 * one that did (rl_floor_gap). It keeps the attempt's slot. */
		log_info("re-send on a new connection under the attempt's slot");
	} else if (late > rl_send_allowance(largest_spacing(b, n))) {
		l->late_sends++;
		log_debug("rate send late for its slot (spread: the floor keeps the pace)",
			  LF_F("late_ms", late * 1000));
	}
	now = clock_mono();
	limiter_floor_note(l, b, n, now);
	l->sent++;
	log_debug("rate send", LF_I("mono_us", (long long)(now * 1e6)));
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
