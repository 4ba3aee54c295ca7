/*
 * Unit tests for the pure side of the rate limiter (lib/ratelimit.c,
 * lib/limiter.c): margins, the wait under a deadline with an injected clock,
 * blocks for answers without Retry-After, and the refusal text. The shared
 * state itself is proven against Postgres by test/t/0060-*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "deadline.h"
#include "limiter.h"
#include "ratelimit.h"

/* ------------------------------------------------------------ fake clock */

struct fake_clock {
	double now;
	double slept;
	int sleeps;
};

static double fake_mono(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static double fake_wall(void *ctx)
{
	return 1.7e9 + ((struct fake_clock *)ctx)->now;
}

static void fake_sleep(void *ctx, double seconds)
{
	struct fake_clock *c = ctx;
	if (seconds > 0) {
		c->now += seconds;
		c->slept += seconds;
	}
	c->sleeps++;
}

static struct fake_clock fc;
static const struct clock_source fake = { fake_mono, fake_wall, fake_sleep, &fc };

static int setup_clock(void **state)
{
	(void)state;
	memset(&fc, 0, sizeof(fc));
	fc.now = 1000;
	clock_override(&fake);
	deadline_reset();
	return 0;
}

static int teardown_clock(void **state)
{
	(void)state;
	deadline_reset();
	clock_override(NULL);
	return 0;
}

/* ---------------------------------------------------------------- margins */

static void test_spacing_margin_is_a_safety_margin(void **state)
{
	(void)state;
	assert_true(rl_spacing_margin(0) == 0);
	assert_true(rl_spacing_margin(-1) == 0);
	assert_true(rl_send_allowance(0) == 0);
	static const double spacings[] = { 0.001, 0.01, 0.05, 0.1, 1, 60 };
	for (size_t i = 0; i < sizeof(spacings) / sizeof(spacings[0]); i++) {
		double s = spacings[i], m = rl_spacing_margin(s), a = rl_send_allowance(s);
		/* The documented size: 2.5 % of the spacing + 1.5 ms. */
		assert_true(m > s * 0.025 + 0.0015 - 1e-12 && m < s * 0.025 + 0.0015 + 1e-12);
		/* Lateness eats at most the margin: never closer than the spacing. */
		assert_true(a > 0 && a <= m + 1e-12);
	}
	/* At 100 ms spacing a single process still keeps 95 % of the pace. */
	assert_true(0.1 / (0.1 + rl_spacing_margin(0.1)) > 0.96);
}

static void test_window_margin(void **state)
{
	(void)state;
	assert_true(rl_window_margin(0) == 0);
	assert_true(rl_window_margin(3600) > 3 && rl_window_margin(3600) < 4);
	assert_true(rl_window_margin(2) > 0.005 && rl_window_margin(2) < 0.01);
}

static void test_slot_lead(void **state)
{
	(void)state;
	struct rl_bucket b[2] = {
		{ "cv", "/volumes/", 200, 3600, 0, false },
		{ "cv", "*", 0, 0, 1, false },
	};
	assert_true(rl_slot_lead(b, 1) == 0);           /* windows alone need no lead */
	assert_true(rl_slot_lead(b, 2) == 0.01);        /* capped at 10 ms */
	b[1].spacing_s = 0.02;
	assert_true(rl_slot_lead(b, 2) > 0.0039 && rl_slot_lead(b, 2) < 0.0041);
	assert_true(rl_slot_lead(b, 0) == 0);
}

/* ------------------------------------------------------ waits and deadlines */

static void test_wait_cap(void **state)
{
	(void)state;
	assert_true(rl_wait_cap(10, 1e9) == 10);
	assert_true(rl_wait_cap(10, 3) == 3);   /* the deadline comes first */
	assert_true(rl_wait_cap(10, -1) == 0);
	assert_true(rl_wait_cap(-5, 100) == 0);
	assert_true(rl_wait_cap(0, 100) == 0);
}

static void test_settle_sleeps_exactly_the_wait(void **state)
{
	(void)state;
	assert_int_equal(rl_settle(true, 0.3), RL_GRANTED);
	assert_true(fc.now > 1000.3 - 1e-9 && fc.now < 1000.3 + 1e-9);
}

static void test_settle_no_wait_no_sleep(void **state)
{
	(void)state;
	assert_int_equal(rl_settle(true, 0), RL_GRANTED);
	assert_int_equal(rl_settle(true, -0.004), RL_GRANTED); /* slot already past */
	assert_int_equal(fc.sleeps, 0);
}

static void test_settle_refused_takes_no_time(void **state)
{
	(void)state;
	assert_int_equal(rl_settle(false, 42 * 60), RL_EXHAUSTED);
	assert_true(fc.now == 1000);
}

static void test_settle_cut_by_deadline(void **state)
{
	(void)state;
	deadline_start(1.0);
	assert_int_equal(rl_settle(true, 2.0), RL_STOPPED);
	assert_true(fc.now <= 1001.0 + 1e-9); /* never sleeps past the deadline */
	assert_true(deadline_should_stop());
}

static void test_settle_long_wait_in_slices(void **state)
{
	(void)state;
	deadline_start(600);
	assert_int_equal(rl_settle(true, 90), RL_GRANTED);
	assert_true(fc.now > 1090 - 1e-6 && fc.now < 1090 + 1e-6);
	assert_true(fc.sleeps > 1); /* slices, so a stop is noticed quickly */
}

static void test_take_stopped_before_asking(void **state)
{
	(void)state;
	struct rl_bucket b = { "p", "b", 1, 1, 0, false };
	struct rl_take t;
	deadline_start(1.0);
	fc.now += 2; /* past the deadline: no database needed to say so */
	assert_int_equal(ratelimit_take(NULL, &b, 1, 10, &t), 0);
	assert_int_equal(t.outcome, RL_STOPPED);
	assert_int_equal(ratelimit_respace(NULL, &b, 1, 10, true, &t), 0);
	assert_int_equal(t.outcome, RL_STOPPED);
	assert_int_equal(t.limiting, -1);
}

/* --------------------------------------------------------- server signals */

static void test_unknown_block_window_remainder(void **state)
{
	(void)state;
	struct rl_bucket path = { "comicvine", "/volumes/", 200, 3600, 0, false };
	assert_true(rl_unknown_block_s(&path, 2520) == 2520); /* ComicVine 420: the hour is gone */
	assert_true(rl_unknown_block_s(&path, 0.2) == 1);      /* never less than the floor */
	assert_true(rl_unknown_block_s(&path, -1) == 1);       /* no window known */
}

static void test_unknown_block_spacing_bucket(void **state)
{
	(void)state;
	struct rl_bucket star = { "comicvine", "*", 0, 0, 1, false };
	assert_true(rl_unknown_block_s(&star, 3000) == RL_UNKNOWN_FACTOR); /* no window: ignore reset */
	star.spacing_s = 0.05;
	assert_true(rl_unknown_block_s(&star, -1) == 1);
}

/* --------------------------------------------------------------- limiter */

static void check_refusal(double retry_in, const char *expect)
{
	char out[128];
	limiter_format_refusal(out, sizeof(out), "/volumes/", retry_in);
	assert_string_equal(out, expect);
}

static void test_refusal_text(void **state)
{
	(void)state;
	check_refusal(2520, "budget exhausted on /volumes/ (reopens in 42m)");
	check_refusal(2519.2, "budget exhausted on /volumes/ (reopens in 42m)");
	check_refusal(2520.5, "budget exhausted on /volumes/ (reopens in 43m)"); /* rounded up */
	check_refusal(59.1, "budget exhausted on /volumes/ (reopens in 1m)");
	check_refusal(5.2, "budget exhausted on /volumes/ (reopens in 6s)");
	check_refusal(0, "budget exhausted on /volumes/ (reopens in 0s)");
	check_refusal(3600, "budget exhausted on /volumes/ (reopens in 1h)");
	char out[128];
	limiter_format_refusal(out, sizeof(out), NULL, 1);
	assert_string_equal(out, "budget exhausted on ? (reopens in 1s)");
}

static void test_server_remaining(void **state)
{
	(void)state;
	struct http_header h[] = {
		{ "Content-Type", "application/json" },
		{ "X-FeatureRateLimit-Remaining", "5" },
		{ "X-FeatureRateLimit-Reset", "Sun, 06 Nov 1994 08:49:37 GMT" },
	};
	struct http_response r = { .headers = h, .n_headers = 3 };
	long rem = 0;
	double reset = 0;
	double date = 784111777; /* the HTTP date above */
	assert_int_equal(limiter_server_remaining(&r, date - 120, &rem, &reset), 0);
	assert_int_equal(rem, 5);
	assert_true(reset > 119.9 && reset < 120.1);

	h[1] = (struct http_header){ "X-RateLimit-Remaining", "0" };
	h[2] = (struct http_header){ "X-RateLimit-Reset", "42" };
	assert_int_equal(limiter_server_remaining(&r, date, &rem, &reset), 0);
	assert_int_equal(rem, 0);
	assert_true(reset == 42);

	h[2] = (struct http_header){ "X-RateLimit-Reset", "1700000060" }; /* a Unix time */
	assert_int_equal(limiter_server_remaining(&r, 1700000000, &rem, &reset), 0);
	assert_true(reset == 60);

	h[2] = (struct http_header){ "X-RateLimit-Reset", "soon" };
	assert_int_equal(limiter_server_remaining(&r, date, &rem, &reset), 0);
	assert_true(reset == -1);

	h[1] = (struct http_header){ "X-Rate-Limit-Remaining", "many" }; /* unreadable: ignored */
	assert_int_equal(limiter_server_remaining(&r, date, &rem, &reset), -1);
	r.n_headers = 1;
	assert_int_equal(limiter_server_remaining(&r, date, &rem, &reset), -1);
}

static int map_none(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	(void)ctx;
	(void)bucket;
	*out = NULL;
	return 0;
}

static void test_unlimited_request_passes_without_database(void **state)
{
	(void)state;
	struct limiter l;
	limiter_init(&l, NULL, map_none, NULL, 10);
	struct http_hooks h = limiter_hooks(&l);
	assert_ptr_equal(h.ctx, &l);
	assert_null(h.classify);
	struct http_request req = { .url = "http://127.0.0.1/", .bucket = "none" };
	struct http_grant g = { 0 };
	assert_int_equal(h.before_attempt(h.ctx, &req, &g), 0);
	assert_true(g.send_at == 0); /* nothing reserved: now */
	struct http_send late = { .granted_at = -1, .max_wait_s = 10 };
	assert_int_equal(h.before_send(h.ctx, &req, &late, &g), 0);
	struct http_response resp = { .retry_after_s = -1 };
	h.on_rate_limited(h.ctx, &req, &resp, 5); /* nothing to block */
	assert_int_equal(l.granted, 0);
	assert_int_equal(l.blocks, 0);
	assert_string_equal(g.reason, "");
	assert_int_equal(g.refusal, HTTP_REFUSED_NONE);
}

/* ------------------------------------------------------ the per-bucket floor */

/* Two ShipStation keys, spread like lib/shipstation.c spreads them. */
static const struct rl_bucket keys[2] = {
	{ "shipstation", "key-a", 200, 60, 0.3, true },
	{ "shipstation", "key-b", 200, 60, 0.3, true },
};

static int map_keys(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	(void)ctx;
	for (int i = 0; i < 2; i++) {
		if (!strcmp(bucket, keys[i].name)) {
			*out = &keys[i];
			return 1;
		}
	}
	return 0;
}

/* Deterministic lateness: a busy pool wakes a transfer up to `max` late. */
static double late_by(uint64_t *rng, double max)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return max * (double)(*rng % 1000) / 1000.0;
}

/* jobrun.rate_take() for one bucket, as far as spacing goes: the slot is the
 * later of now and the last slot's next_at. */
static double model_slot(double *next_at, double now, const struct rl_bucket *b)
{
	double slot = *next_at > now ? *next_at : now;
	*next_at = slot + b->spacing_s + rl_spacing_margin(b->spacing_s);
	return slot;
}

/* A pool with two streams per key (sync's phase 2), every wake late by up to
 * 80 ms, driven through the limiter's own hooks on the fake clock: each key
 * keeps its own cadence, so both reach their full rate at once; no send of a
 * key follows its last by less than the floor gap, however late; nothing is
 * respaced and nothing waits in before_send. One floor for the process (what
 * it was) takes twice as long. */
static void test_floor_two_buckets_interleave_at_full_rate(void **state)
{
	(void)state;
	enum { STREAMS = 4, SENDS = 40 };
	struct limiter l;
	limiter_init(&l, NULL, map_keys, NULL, 10);
	struct http_hooks h = limiter_hooks(&l);
	struct http_request req[STREAMS];
	struct http_grant g[STREAMS];
	double next_at[2] = { 0, 0 }, last[2] = { 0, 0 }, start = fc.now;
	int sent[2] = { 0, 0 };
	uint64_t rng = 42;
	for (int i = 0; i < STREAMS; i++) {
		const struct rl_bucket *b = &keys[i % 2];
		req[i] = (struct http_request){ .url = "http://127.0.0.1/", .bucket = b->name };
		memset(&g[i], 0, sizeof(g[i]));
		g[i].slot_at = g[i].send_at = model_slot(&next_at[i % 2], fc.now, b);
	}
	while (sent[0] < SENDS || sent[1] < SENDS) {
		int k = 0;
		for (int i = 1; i < STREAMS; i++)
			if (g[i].send_at < g[k].send_at)
				k = i;
		double due = g[k].send_at;
		fc.now = (due > fc.now ? due : fc.now) + late_by(&rng, 0.08);
		assert_int_equal(h.on_wake(h.ctx, &req[k], &g[k]), 0);
		if (g[k].send_at > fc.now)
			continue; /* parked again: a sibling on its key left late */
		struct http_send send = { .granted_at = g[k].slot_at, .max_wait_s = 10 };
		double before = fc.now;
		assert_int_equal(h.before_send(h.ctx, &req[k], &send, &g[k]), 0);
		assert_true(fc.now == before); /* never a wait in before_send */
		int key = k % 2;
		if (sent[key])
			assert_true(fc.now - last[key] >= rl_floor_gap(&keys[key]) - 1e-9);
		last[key] = fc.now;
		sent[key]++;
		/* The answer comes 50 ms later; the next page reserves then. */
		g[k].slot_at = g[k].send_at = model_slot(&next_at[key], fc.now + 0.05, &keys[key]);
	}
	double gap = rl_floor_gap(&keys[0]);
	/* Each key at its own pace: 40 sends in about 40 gaps (each a little
	 * longer for the lateness); one shared cadence would need 80. */
	assert_true(last[0] - start < SENDS * (gap + 0.08));
	assert_true(last[1] - start < SENDS * (gap + 0.08));
	assert_true(2 * SENDS * gap > SENDS * (gap + 0.08)); /* the bound tells them apart */
	assert_int_equal(l.respaced, 0);
	assert_true(l.late_sends > 0); /* the lateness was real, and harmless */
	assert_int_equal(l.sent, 2 * SENDS);
}

/* The floor is per bucket, and one bucket's name in many copies (ComicVine's
 * `*` in every path's array) is one floor. */
static void test_floor_by_bucket_name(void **state)
{
	(void)state;
	struct limiter l;
	limiter_init(&l, NULL, map_none, NULL, 10);
	struct rl_bucket star1[2] = { { "comicvine", "/volumes/", 200, 3600, 0, false },
				      { "comicvine", "*", 0, 0, 1, false } };
	struct rl_bucket star2[2] = { { "comicvine", "/issue/", 200, 3600, 0, false },
				      { "comicvine", "*", 0, 0, 1, false } };
	assert_true(limiter_floor_at(&l, star1, 2) == 0); /* never sent */
	limiter_floor_note(&l, star1, 2, 100);
	assert_true(limiter_floor_at(&l, star2, 2) == 101); /* another path, the same `*` */
	assert_true(limiter_floor_at(&l, &keys[0], 1) == 0); /* another provider's bucket */
	limiter_floor_note(&l, &keys[0], 1, 100);
	assert_true(limiter_floor_at(&l, &keys[1], 1) == 0); /* and another key */
	assert_true(limiter_floor_at(&l, &keys[0], 1) == 100 + rl_floor_gap(&keys[0]));
	limiter_floor_note(&l, star2, 2, 99); /* an older stamp never moves it back */
	assert_true(limiter_floor_at(&l, star1, 2) == 101);
	/* A full table forgets the bucket that sent longest ago. */
	char names[LIMITER_FLOORS + 1][16];
	for (int i = 0; i <= LIMITER_FLOORS; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		struct rl_bucket b = { "p", names[i], 0, 0, 1, true };
		limiter_floor_note(&l, &b, 1, 200 + i);
	}
	assert_true(limiter_floor_at(&l, star1, 2) == 0);
	struct rl_bucket newest = { "p", names[LIMITER_FLOORS], 0, 0, 1, true };
	assert_true(limiter_floor_at(&l, &newest, 1) > 200 + LIMITER_FLOORS);
}

/* The decision itself: a spread send never takes a new slot, however late;
 * a strict one does past the allowance, and also when the floor would make it
 * late; either waits for the floor. */
static void test_step_strict_and_spread(void **state)
{
	(void)state;
	struct limiter l;
	limiter_init(&l, NULL, map_none, NULL, 10);
	struct rl_bucket strict = { "comicvine", "*", 0, 0, 1, false };
	struct rl_bucket spread = { "shipstation", "k", 200, 60, 0.3, true };
	double at = 0, allow = rl_send_allowance(1);
	assert_int_equal(limiter_step(&l, &spread, 1, 50, 60, &at), LIMITER_GO);
	assert_int_equal(limiter_step(&l, &strict, 1, 50, 60, &at), LIMITER_NEW_SLOT);
	assert_int_equal(limiter_step(&l, &strict, 1, 60 - allow / 2, 60, &at), LIMITER_GO);
	assert_int_equal(limiter_step(&l, &strict, 1, -1, 60, &at), LIMITER_NEW_SLOT); /* no slot */
	limiter_floor_note(&l, &spread, 1, 59.9);
	assert_int_equal(limiter_step(&l, &spread, 1, 50, 60, &at), LIMITER_WAIT);
	assert_true(at == 59.9 + rl_floor_gap(&spread));
	limiter_floor_note(&l, &strict, 1, 59.5);
	assert_int_equal(limiter_step(&l, &strict, 1, 60.5, 60, &at), LIMITER_WAIT);
	assert_true(at == 60.5);
	assert_int_equal(limiter_step(&l, &strict, 1, 60, 60, &at), LIMITER_NEW_SLOT);
}

static const struct rl_bucket one_strict = { "comicvine", "*", 0, 0, 1, false };

static int map_strict(void *ctx, const char *bucket, const struct rl_bucket **out)
{
	(void)ctx;
	(void)bucket;
	*out = &one_strict;
	return 1;
}

/* A strict transfer that wakes on its slot and then leaves uses that slot,
 * and so does one granted for right now: neither waking nor the grant
 * moves the floor it is then judged by. (They did: every send found itself
 * a spacing behind its own floor and took a new slot, half the rate.) */
static void test_strict_send_keeps_its_slot(void **state)
{
	(void)state;
	struct limiter l;
	limiter_init(&l, NULL, map_strict, NULL, 10);
	struct http_request req = { 0 };
	req.bucket = "*";
	for (int i = 0; i < 3; i++) {
		double slot = fc.now;
		struct http_grant g = { .send_at = slot, .slot_at = slot };
		assert_int_equal(limiter_on_wake(&l, &req, &g), 0);
		assert_true(g.send_at == slot);
		struct http_send send = { .granted_at = slot, .max_wait_s = 10 };
		assert_int_equal(limiter_before_send(&l, &req, &send, &g), 0);
		assert_int_equal(l.respaced, 0);
		fc.now += one_strict.spacing_s + rl_spacing_margin(one_strict.spacing_s);
	}
}

/* A strict bucket (ComicVine's 1 s) with two transfers, wakes and sends late
 * at random: a transfer late for its slot when it wakes takes a new one
 * (parked again), a send late on the connection retakes and waits there
 * (retake_slot, modelled), and no two sends are ever less than the spacing
 * apart. */
static void test_strict_bucket_never_closer_than_spacing(void **state)
{
	(void)state;
	enum { SENDS = 200 };
	struct limiter l;
	limiter_init(&l, NULL, map_none, NULL, 10);
	const struct rl_bucket star = { "comicvine", "*", 0, 0, 1, false };
	double allow = rl_send_allowance(star.spacing_s);
	double next_at = 0, now = 1000, last = -1;
	double slot[2], send_at[2];
	int sent = 0, new_slots = 0, retakes = 0;
	uint64_t rng = 7;
	for (int i = 0; i < 2; i++)
		send_at[i] = slot[i] = model_slot(&next_at, now, &star);
	while (sent < SENDS) {
		int k = send_at[0] <= send_at[1] ? 0 : 1;
		now = (send_at[k] > now ? send_at[k] : now) + late_by(&rng, 0.03);
		double at = 0;
		/* on_wake */
		enum limiter_step step = limiter_step(&l, &star, 1, slot[k], now, &at);
		if (step == LIMITER_NEW_SLOT) {
			new_slots++;
			slot[k] = model_slot(&next_at, now, &star);
			double floor = limiter_floor_at(&l, &star, 1);
			send_at[k] = slot[k] > floor ? slot[k] : floor;
			continue;
		}
		if (step == LIMITER_WAIT) {
			send_at[k] = at;
			continue;
		}
		limiter_floor_note(&l, &star, 1, now);
		/* before_send, after a connect of up to 20 ms */
		now += late_by(&rng, 0.02);
		while (limiter_step(&l, &star, 1, slot[k], now, &at) != LIMITER_GO) {
			retakes++;
			slot[k] = model_slot(&next_at, now, &star);
			now = slot[k] + late_by(&rng, 2 * allow); /* the sleep may overshoot */
			double floor = limiter_floor_at(&l, &star, 1);
			if (floor > now)
				now = floor;
		}
		if (last >= 0)
			assert_true(now - last >= star.spacing_s - 1e-9);
		last = now;
		limiter_floor_note(&l, &star, 1, now);
		sent++;
		send_at[k] = slot[k] = model_slot(&next_at, now + 0.1, &star);
	}
	assert_true(new_slots > 0); /* both nets were really tried */
	assert_true(retakes > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spacing_margin_is_a_safety_margin),
		cmocka_unit_test(test_window_margin),
		cmocka_unit_test(test_slot_lead),
		cmocka_unit_test(test_wait_cap),
		cmocka_unit_test_setup_teardown(test_settle_sleeps_exactly_the_wait, setup_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_settle_no_wait_no_sleep, setup_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_settle_refused_takes_no_time, setup_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_settle_cut_by_deadline, setup_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_settle_long_wait_in_slices, setup_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_take_stopped_before_asking, setup_clock, teardown_clock),
		cmocka_unit_test(test_unknown_block_window_remainder),
		cmocka_unit_test(test_unknown_block_spacing_bucket),
		cmocka_unit_test(test_refusal_text),
		cmocka_unit_test(test_server_remaining),
		cmocka_unit_test(test_unlimited_request_passes_without_database),
		cmocka_unit_test_setup_teardown(test_floor_two_buckets_interleave_at_full_rate, setup_clock,
						teardown_clock),
		cmocka_unit_test(test_floor_by_bucket_name),
		cmocka_unit_test(test_step_strict_and_spread),
		cmocka_unit_test_setup_teardown(test_strict_send_keeps_its_slot, setup_clock, teardown_clock),
		cmocka_unit_test(test_strict_bucket_never_closer_than_spacing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
