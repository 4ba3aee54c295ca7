/*
 * The job registry: every job jobrun runs on a schedule, in one table that
 * the command table, `prune` and (later) `clock` and `status` enumerate.
 *
 * A job is its work function plus what the machinery needs to run it
 * safely; the lifecycle around it (time budget, lock, run record, error
 * capture, exit code) is owned by cmd/job_main.c, so a job's command file
 * is its option table and one call:
 *
 *	struct primecache_options o = { .limit = 180 };
 *	... parse_options(...) ...
 *	return job_main(&primecache_job, &o, o.dry_run, g);
 *
 * Ownership: entries are static and immutable. `opts` is the command's
 * options struct, borrowed for the whole run; whatever prepare() stores in
 * it is released by release().
 */
#ifndef JOBRUN_JOBS_JOB_H
#define JOBRUN_JOBS_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "history.h"
#include "runs.h"

struct task;

/* Which single-instance locks a run holds. */
enum job_lock {
	JOB_LOCK_JOB,  /* one session lock named after the job: a second run is skipped (75) */
	JOB_LOCK_OWN,  /* the job takes finer locks itself with task_lock() (sync: one per
			* integration); the run record is keyed by the job name */
};

struct job {
	const char *name;
	const char *summary;
	enum job_lock lock;
	/* Read and check the configuration the run needs, before any lock or
	 * run record: a problem here is a config_error() and exit 78 with
	 * nothing written. NULL: nothing to check. */
	int (*prepare)(void *opts);
	/* The work, inside a started task. Sets counters and summary fields on
	 * t->run, notes problems with task_problem(), returns the status. */
	enum run_status (*run)(struct task *t, void *opts);
	/* Undo prepare(); NULL when prepare keeps nothing. */
	void (*release)(void *opts);
	/* The invocation as jobrun.runs.args records it (a new object). */
	json_t *(*args)(const void *opts);
	/* Whether this invocation only reports what it would do; NULL: never. */
	bool (*dry_run)(const void *opts);
	/* The single-instance lock's key when it is not the job's name (a test
	 * job's --lock); NULL or a NULL answer: the job's name. */
	const char *(*lock_key)(const void *opts);
	/* Tables of the job's own history for `prune` ({0}-terminated), or NULL. */
	const struct history_table *history;
};

/* Every job, NULL-terminated, in the order help and status list them. */
extern const struct job *const job_registry[];
const struct job *job_find(const char *name);

#endif
