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
		{ "cv", "/volumes/", 200, 3600, 0 },
		{ "cv", "*", 0, 0, 1 },
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
	struct rl_bucket b = { "p", "b", 1, 1, 0 };
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
	struct rl_bucket path = { "comicvine", "/volumes/", 200, 3600, 0 };
	assert_true(rl_unknown_block_s(&path, 2520) == 2520); /* ComicVine 420: the hour is gone */
	assert_true(rl_unknown_block_s(&path, 0.2) == 1);      /* never less than the floor */
	assert_true(rl_unknown_block_s(&path, -1) == 1);       /* no window known */
}

static void test_unknown_block_spacing_bucket(void **state)
{
	(void)state;
	struct rl_bucket star = { "comicvine", "*", 0, 0, 1 };
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
