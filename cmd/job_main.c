/*
 * The lifecycle every job shares, in one place: configuration checked
 * before anything is written, the time budget and signal handlers, the
 * lock and run record, the error captured before the task releases it,
 * and the exit code. A job's command file parses its options and calls
 * job_main(); it cannot forget a step.
 *
 * The exit codes and the task start live here rather than beside main(),
 * so the test helper (test/helper/test-tool.c), which has a main of its
 * own, runs its jobs through the same code.
 */
#include <stdio.h>

#include <stdlib.h>

#include "commands.h"
#include "config.h"
#include "deadline.h"
#include "job.h"
#include "clock.h"
#include "log.h"
#include "notify.h"
#include "runs.h"
#include "schedule.h"
#include "task.h"

/* The command line as typed, before the option parser reorders it: a run
 * that no clock started belongs to the entry whose name this derives. */
static char *derived_entry;

void job_note_command_line(int argc, char **argv)
{
	free(derived_entry);
	derived_entry = argc > 0 ? schedule_derived_name(argc, argv) : NULL;
}

/* Which schedule entry this run belongs to: the clock or tick that started
 * it says so in JOBRUN_ENTRY; a run by hand or by Heroku Scheduler is the
 * entry its command line derives. */
static const char *entry_name(void)
{
	const char *entry = config_get("JOBRUN_ENTRY");
	return entry && *entry ? entry : derived_entry;
}

static void note_entry(void)
{
	runs_set_entry(entry_name());
}

int exit_code_for_run(enum run_status status)
{
	switch (status) {
	case RUN_SUCCEEDED: return EXIT_OK;
	case RUN_PARTIAL: return EXIT_PARTIAL;
	case RUN_SKIPPED: return EXIT_SKIPPED;
	case RUN_INTERRUPTED:
		switch (deadline_reason()) {
		case STOP_SIGTERM: return EXIT_SIGTERM;
		case STOP_SIGINT: return EXIT_SIGINT;
		default: return EXIT_PARTIAL;
		}
	default: return EXIT_FAILED;
	}
}

int exit_code_for_error(void)
{
	return error_last_kind() == ERR_CONFIG ? EXIT_CONFIG : EXIT_FAILED;
}

int command_start_task(struct task *t, struct task_options *to, int *code)
{
	enum task_start start = task_begin(t, to);
	json_decref(to->args);
	to->args = NULL;
	if (start == TASK_STARTED)
		return 0;
	/* A signal that cut a database wait short is a stop, not a failure. */
	bool signalled = deadline_reason() == STOP_SIGTERM || deadline_reason() == STOP_SIGINT;
	*code = start == TASK_SKIPPED ? EXIT_SKIPPED
		: signalled	      ? exit_code_for_run(RUN_INTERRUPTED)
				      : exit_code_for_error();
	task_end(t, start == TASK_SKIPPED ? RUN_SKIPPED : RUN_FAILED,
		 start == TASK_SKIPPED ? NULL : error_last());
	return -1;
}

static void release(const struct job *job, void *opts)
{
	if (job->release)
		job->release(opts);
}

/* The run as notifications describe it; t NULL: it never got a task. */
static struct notify_run notify_run_of(const struct job *job, const struct task *t)
{
	struct notify_run r = { .job = job->name, .entry = entry_name(),
				.exit_code = -1, .duration_s = -1 };
	if (t) {
		r.run_id = t->run.id;
		r.processed = t->run.processed;
		r.succeeded = t->run.succeeded;
		r.failed = t->run.failed;
	}
	return r;
}

/* After the record is finished and the exit code decided: pings and alerts
 * never change it. err: the run's error, or NULL. */
static int notify_end(struct notify *n, struct notify_run *r, enum run_status status, int code,
		      const char *err, double started_mono)
{
	r->status = run_status_name(status);
	r->exit_code = code;
	r->duration_s = started_mono > 0 ? clock_mono() - started_mono : 0;
	r->error = err && *err ? err : NULL;
	notify_run_finished(n, r);
	notify_release(n);
	return code;
}

int job_main(const struct job *job, void *opts, const struct global_options *g)
{
	error_clear();
	struct notify n;
	if (notify_config_from_env(&n))
		return exit_code_for_error();
	struct notify_run nr = notify_run_of(job, NULL);
	if (job->prepare && job->prepare(opts)) {
		release(job, opts);
		return notify_end(&n, &nr, RUN_FAILED, exit_code_for_error(), error_last(), 0);
	}
	deadline_start(g->max_runtime_s);
	note_entry();

	struct task t;
	struct task_options to = {
		.job = job->name,
		.lock_key = job->lock_key ? job->lock_key(opts) : NULL,
		.args = job->args ? job->args(opts) : json_object(),
		.json = g->json,
		.dry_run = job->dry_run && job->dry_run(opts),
		.own_locks = job->lock == JOB_LOCK_OWN,
	};
	int code;
	if (command_start_task(&t, &to, &code)) {
		release(job, opts);
		nr = notify_run_of(job, &t);
		return notify_end(&n, &nr, code == EXIT_SKIPPED ? RUN_SKIPPED : RUN_FAILED, code,
				  error_last(), 0);
	}
	nr = notify_run_of(job, &t);
	notify_run_started(&n, &nr, t.run.summary);
	error_clear();
	enum run_status status = job->run(&t, opts);
	/* Read before task_end(): finishing the record may log errors of its own. */
	enum error_kind kind = error_last_kind();
	char err[512] = "";
	if (status == RUN_FAILED && error_last())
		snprintf(err, sizeof(err), "%s", error_last());
	double started = t.run.started_mono;
	status = task_end(&t, status, err[0] ? err : NULL);
	release(job, opts);
	int code_end = status == RUN_FAILED && kind == ERR_CONFIG ? EXIT_CONFIG
								  : exit_code_for_run(status);
	/* The counters and the first problem outlive the task's release. */
	nr.processed = t.run.processed, nr.succeeded = t.run.succeeded, nr.failed = t.run.failed;
	return notify_end(&n, &nr, status, code_end, err[0] ? err : t.problems ? t.problem : NULL,
			  started);
}
