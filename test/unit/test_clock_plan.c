/*
 * Unit tests for the clock's pure decisions: which slots a pass runs,
 * coalesces, records missed or paused (slot_plan_make), the latest fire
 * time (cron_prev), and status's state (entry_state_decide).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"
#include "schedule_state.h"
#include "schedule_status.h"

#define T0 1900000800LL /* 2030-03-17T18:00:00Z */
#define MIN 60LL

static struct cron_expr *every(const char *spec)
{
	char err[128];
	struct cron_expr *e = cron_parse(spec, "UTC", err, sizeof(err));
	assert_non_null(e);
	return e;
}

static void test_first_start_looks_back_only_the_grace(void **state)
{
	(void)state;
	struct cron_expr *e = every("*/5 * * * *");
	struct slot_plan p;
	slot_plan_make(e, -1, T0 + 30, 600, false, &p);
	assert_int_equal(p.due, T0);
	assert_int_equal(p.coalesced.n, 1);
	assert_int_equal(p.coalesced.first, T0 - 5 * MIN);
	assert_int_equal(p.missed.n, 0); /* T0-10m is past the grace: not recorded at all */
	cron_free(e);
}

static void test_missed_coalesced_due(void **state)
{
	(void)state;
	struct cron_expr *e = every("* * * * *");
	struct slot_plan p;
	/* Last recorded T0; now T0+20m10s; grace 5m: +1..+15 missed, +16..+19 coalesced. */
	slot_plan_make(e, T0, T0 + 20 * MIN + 10, 300, false, &p);
	assert_int_equal(p.missed.n, 15);
	assert_int_equal(p.missed.first, T0 + MIN);
	assert_int_equal(p.missed.last, T0 + 15 * MIN);
	assert_int_equal(p.coalesced.n, 4);
	assert_int_equal(p.coalesced.first, T0 + 16 * MIN);
	assert_int_equal(p.coalesced.last, T0 + 19 * MIN);
	assert_int_equal(p.due, T0 + 20 * MIN);
	/* Nothing new since the last slot. */
	slot_plan_make(e, T0 + 20 * MIN, T0 + 20 * MIN + 59, 300, false, &p);
	assert_int_equal(p.due, -1);
	assert_int_equal(p.missed.n + p.coalesced.n, 0);
	cron_free(e);
}

static void test_paused_records_everything_paused(void **state)
{
	(void)state;
	struct cron_expr *e = every("* * * * *");
	struct slot_plan p;
	slot_plan_make(e, T0, T0 + 3 * MIN, 300, true, &p);
	assert_int_equal(p.paused.n, 3);
	assert_int_equal(p.due, -1);
	cron_free(e);
}

static void test_long_outage_is_bounded(void **state)
{
	(void)state;
	struct cron_expr *e = every("* * * * *");
	struct slot_plan p;
	/* Three years of an every-minute entry: counted up to the bound, then
	 * the grace window is planned exactly. */
	slot_plan_make(e, T0, T0 + 3 * 366 * 86400LL, 900, false, &p);
	assert_int_equal(p.missed.n, SLOT_PLAN_MAX_SLOTS);
	assert_int_equal(p.due, T0 + 3 * 366 * 86400LL);
	assert_int_equal(p.coalesced.n, 15);
	cron_free(e);
}

static void test_cron_prev(void **state)
{
	(void)state;
	struct cron_expr *m = every("* * * * *"), *y = every("0 0 1 1 *");
	assert_int_equal(cron_prev(m, T0 + 59), T0);
	assert_int_equal(cron_prev(m, T0), T0);
	assert_int_equal(cron_prev(y, T0), 1893456000LL); /* 2030-01-01T00:00:00Z */
	cron_free(m);
	cron_free(y);
}

static struct entry_facts facts(void)
{
	struct entry_facts f;
	memset(&f, 0, sizeof(f));
	f.last_start = f.last_success = f.last_slot_due = f.missed_due = -1;
	return f;
}

static void test_states(void **state)
{
	(void)state;
	struct cron_expr *e = every("0 * * * *"); /* hourly; now is :20 */
	long long due = T0, now = T0 + 20 * MIN;
	struct entry_facts f = facts();
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_NEVER_RUN);
	f.last_id = 1;
	f.last_start = due + 5;
	strcpy(f.outcome, "succeeded");
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_OK);
	f.last_start = due - 3600 + 5; /* the run before: this hour's is 20 min late */
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_LATE);
	assert_int_equal(entry_state_decide(e, &f, now, 1800), ENTRY_OK); /* within a 30m grace */
	f.last_slot_due = due; /* a clock recorded this hour's slot */
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_OK);
	f.missed_due = due;
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_MISSED);
	f.missed_due = -1;
	strcpy(f.outcome, "abandoned");
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_FAILING);
	f.running = true;
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_RUNNING);
	f.paused = true;
	assert_int_equal(entry_state_decide(e, &f, now, 900), ENTRY_PAUSED);
	assert_true(entry_state_alarming(ENTRY_LATE) && !entry_state_alarming(ENTRY_NEVER_RUN));
	cron_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_start_looks_back_only_the_grace),
		cmocka_unit_test(test_missed_coalesced_due),
		cmocka_unit_test(test_paused_records_everything_paused),
		cmocka_unit_test(test_long_outage_is_bounded),
		cmocka_unit_test(test_cron_prev),
		cmocka_unit_test(test_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
