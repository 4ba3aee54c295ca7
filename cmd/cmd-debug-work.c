/*
 * A job that does nothing but wait, item by item. The end-to-end tests use
 * it to prove the shared machinery without a provider: single-instance
 * locks, SIGTERM, the time budget, abandoned-run recovery.
 */
#include <stdio.h>

#include "commands.h"
#include "deadline.h"
#include "log.h"
#include "options.h"
#include "task.h"

const char usage_debug_work[] =
	"usage: jobrun debug-work [--items N] [--item-time D] [--lock KEY] [--fail N]\n"
	"\n"
	"Test job: processes N items (default 10), each taking D (default 100ms),\n"
	"under the job lock (default 'debug-work'). --fail N makes the first N items fail.\n";

int cmd_debug_work(int argc, char **argv, struct global_options *g)
{
	long items = 10, fail = 0;
	double item_time = 0.1;
	const char *lock = NULL;
	const struct opt opts[] = {
		OPT_LONG("items", &items), OPT_DURATION("item-time", &item_time),
		OPT_STRING("lock", &lock), OPT_LONG("fail", &fail), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_debug_work);
	if (n < 0)
		return options_exit_code(n);
	deadline_start(g->max_runtime_s);

	struct task t;
	struct task_options to = { .job = "debug-work", .lock_key = lock, .json = g->json };
	to.args = json_pack("{s:I, s:f}", "items", (json_int_t)items, "item_time", item_time);
	int code;
	if (command_start_task(&t, &to, &code))
		return code;
	log_info("working", LF_I("items", items));
	enum run_status status = RUN_SUCCEEDED;
	for (long i = 0; i < items; i++) {
		if (deadline_should_stop() || deadline_sleep(item_time)) {
			status = RUN_INTERRUPTED;
			break;
		}
		t.run.processed++;
		if (i < fail)
			t.run.failed++;
		else
			t.run.succeeded++;
		log_progress("debug-work: %ld/%ld", i + 1, items);
	}
	if (status == RUN_SUCCEEDED && t.run.failed)
		status = RUN_PARTIAL;
	return exit_code_for_run(task_end(&t, status, NULL));
}
