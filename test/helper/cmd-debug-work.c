/*
 * A job that does nothing but wait, item by item. The end-to-end tests use
 * it to prove the shared machinery without a provider: single-instance
 * locks, SIGTERM, the time budget, abandoned-run recovery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "job.h"
#include "deadline.h"
#include "log.h"
#include "options.h"
#include "task.h"
#include "xalloc.h"

const char usage_debug_work[] =
	"usage: test-tool debug-work [--items N] [--item-time D] [--lock KEY] [--fail N] [--units A,B]\n"
	"\n"
	"Test job: processes N items (default 10), each taking D (default 100ms),\n"
	"under the job lock (default 'debug-work'). --fail N makes the first N items fail.\n"
	"--units splits the items into one operation per unit, each under its own lock\n"
	"('debug-work:<unit>') instead of the job lock; a unit held elsewhere is skipped.\n";

struct work_options {
	long items, fail;
	double item_time;
	const char *lock;
	const char *units; /* "a,b": one operation and one lock per unit */
};

/* Items first..last of the run; -1 when a stop cut them short. */
static int work_items(struct task *t, const struct work_options *o, struct task_op *op, long first,
		      long last)
{
	for (long i = first; i < last; i++) {
		if (deadline_should_stop() || deadline_sleep(o->item_time))
			return -1;
		t->run.processed++;
		if (op)
			op->processed++;
		if (i < o->fail) {
			t->run.failed++;
			if (op)
				op->failed++;
			task_problem(t, "item %ld failed (--fail)", i + 1);
		} else {
			t->run.succeeded++;
			if (op)
				op->succeeded++;
		}
		log_progress("debug-work: %ld/%ld", i + 1, o->items);
	}
	return 0;
}

/* Each unit is an operation under its own lock, the way sync treats
 * integrations: a unit another process holds is skipped, the rest go on. */
static enum run_status work_units(struct task *t, const struct work_options *o)
{
	char *list = xstrdup(o->units), *save = NULL;
	long n = 0, done = 0;
	enum run_status status = RUN_SUCCEEDED;
	for (char *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save))
		n++;
	free(list);
	list = xstrdup(o->units);
	for (char *u = strtok_r(list, ",", &save); u && status != RUN_INTERRUPTED;
	     u = strtok_r(NULL, ",", &save)) {
		char key[160];
		struct task_op op;
		snprintf(key, sizeof(key), "debug-work:%s", u);
		task_op_begin(t, &op, u);
		int locked = task_lock(t, key);
		if (locked) {
			task_op_end(&op, locked > 0 ? RUN_SKIPPED : RUN_FAILED,
				    locked > 0 ? "another instance holds this unit" : error_last());
			status = RUN_PARTIAL;
			continue;
		}
		long first = o->items * done / n, last = o->items * (done + 1) / n;
		done++;
		int rc = work_items(t, o, &op, first, last);
		task_op_end(&op, rc ? RUN_INTERRUPTED : op.failed ? RUN_PARTIAL : RUN_SUCCEEDED, NULL);
		if (rc)
			status = RUN_INTERRUPTED;
	}
	free(list);
	if (status == RUN_SUCCEEDED && t->run.failed)
		status = RUN_PARTIAL;
	return status;
}

static enum run_status work_run(struct task *t, void *opts)
{
	const struct work_options *o = opts;
	log_info("working", LF_I("items", o->items));
	if (o->units)
		return work_units(t, o);
	if (work_items(t, o, NULL, 0, o->items))
		return RUN_INTERRUPTED;
	return t->run.failed ? RUN_PARTIAL : RUN_SUCCEEDED;
}

static json_t *work_args(const void *opts)
{
	const struct work_options *o = opts;
	return json_pack("{s:I, s:f}", "items", (json_int_t)o->items, "item_time", o->item_time);
}

static const char *work_lock(const void *opts)
{
	return ((const struct work_options *)opts)->lock;
}

static const struct job work_job = {
	.name = "debug-work",
	.summary = "a job that only waits (tests)",
	.run = work_run,
	.args = work_args,
	.lock_key = work_lock,
};

/* With --units the job takes its locks itself, per unit. */
static const struct job work_units_job = {
	.name = "debug-work",
	.summary = "a job that only waits (tests)",
	.lock = JOB_LOCK_OWN,
	.run = work_run,
	.args = work_args,
};

int cmd_debug_work(int argc, char **argv, struct global_options *g)
{
	struct work_options o = { .items = 10, .item_time = 0.1 };
	const struct opt opts[] = {
		OPT_LONG("items", &o.items), OPT_DURATION("item-time", &o.item_time),
		OPT_STRING("lock", &o.lock), OPT_LONG("fail", &o.fail),
		OPT_STRING("units", &o.units), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_debug_work);
	if (n < 0)
		return options_exit_code(n);
	if (o.units && (!*o.units || o.lock))
		return usage_error(usage_debug_work, "--units takes a list like 'a,b' and no --lock");
	return job_main(o.units ? &work_units_job : &work_job, &o, g);
}
