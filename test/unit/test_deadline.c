/*
 * Unit tests for lib/deadline on an injected clock: the stop reason is
 * latched, so every layer of one run tells the same story.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "deadline.h"

static double now;

static double fake_mono(void *ctx)
{
	(void)ctx;
	return now;
}

static double fake_wall(void *ctx)
{
	(void)ctx;
	return 1.7e9 + now;
}

static void fake_sleep(void *ctx, double seconds)
{
	(void)ctx;
	if (seconds > 0)
		now += seconds;
}

static const struct clock_source fake = { fake_mono, fake_wall, fake_sleep, NULL };

static int setup(void **state)
{
	(void)state;
	now = 500;
	clock_override(&fake);
	deadline_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	deadline_reset();
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	clock_override(NULL);
	return 0;
}

static void test_no_deadline(void **state)
{
	(void)state;
	deadline_start(0);
	now += 1e6;
	assert_false(deadline_should_stop());
	assert_int_equal(deadline_reason(), STOP_NONE);
	assert_true(deadline_remaining() >= 1e9);
}

static void test_deadline_reached(void **state)
{
	(void)state;
	deadline_start(2);
	now += 1.9995;
	assert_int_equal(deadline_reason(), STOP_NONE);
	assert_true(deadline_remaining() > 0.0004 && deadline_remaining() < 0.0006);
	now += 0.0005;
	assert_int_equal(deadline_reason(), STOP_DEADLINE);
	assert_true(deadline_remaining() == 0);
}

/* A layer that concluded the deadline passed (a timeout clipped to it fired
 * 0.5 ms early by this clock) makes every later question agree. */
static void test_passed_latches_before_the_clock_gets_there(void **state)
{
	(void)state;
	deadline_start(2);
	now += 1.9995;
	deadline_passed();
	assert_true(deadline_should_stop());
	assert_int_equal(deadline_reason(), STOP_DEADLINE);
	assert_true(deadline_remaining() == 0);
	assert_int_equal(deadline_sleep(0.1), -1);
	assert_string_equal(deadline_reason_name(deadline_reason()), "deadline");
}

/* The first reason seen stays: a signal after the deadline does not turn a
 * deadline stop into a sigterm one halfway through the run's report. */
static void test_first_reason_stays(void **state)
{
	(void)state;
	deadline_start(1);
	now += 1;
	assert_int_equal(deadline_reason(), STOP_DEADLINE);
	raise(SIGTERM); /* the handler deadline_start() installed only records it */
	assert_int_equal(deadline_reason(), STOP_DEADLINE);
	deadline_passed();
	assert_int_equal(deadline_reason(), STOP_DEADLINE);
}

static void test_signal_latched_before_deadline(void **state)
{
	(void)state;
	deadline_start(10);
	raise(SIGINT);
	assert_int_equal(deadline_reason(), STOP_SIGINT);
	deadline_passed(); /* no effect: a reason is latched already */
	now += 20;
	assert_int_equal(deadline_reason(), STOP_SIGINT);
}

static void test_start_and_reset_forget_the_latch(void **state)
{
	(void)state;
	deadline_start(1);
	deadline_passed();
	assert_true(deadline_should_stop());
	deadline_start(1);
	assert_false(deadline_should_stop());
	deadline_passed();
	deadline_reset();
	assert_false(deadline_should_stop());
	assert_int_equal(deadline_reason(), STOP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_reached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passed_latches_before_the_clock_gets_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_reason_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_latched_before_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_and_reset_forget_the_latch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
