/*
 * Run records in jobrun.runs: one row per invocation of a job.
 *
 * Ownership: struct run is the caller's; runs_begin() fills it, the summary
 * object inside is owned by the run (runs_release() drops it).
 */
#ifndef JOBRUN_RUNS_H
#define JOBRUN_RUNS_H

#include <jansson.h>

#include "history.h"

struct db;

enum run_status {
	RUN_RUNNING,
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_PARTIAL,
	RUN_INTERRUPTED,
	RUN_SKIPPED,
	RUN_ABANDONED,
};

struct run {
	long long id;
	char job[64];
	char lock_key[128];
	double started_mono;
	long long processed, succeeded, failed;
	long long api_requests;
	json_t *summary; /* object; jobs add their figures here */
};

const char *run_status_name(enum run_status s);
int run_status_parse(const char *s, enum run_status *out);

/* The schedule entry every later run record of this process belongs to
 * (jobrun.runs.entry, what `status` reads); NULL: none. The cmd layer sets
 * it: from JOBRUN_ENTRY when a clock or tick started the process, else the
 * name derived from the command line. Copied. */
void runs_set_entry(const char *entry);

/* Insert a `running` row, and hold the run's own lock ("jobrun.run:<id>")
 * for as long as the session lives: how later runs tell a live run from one
 * whose process died. args: a JSON object of the invocation (borrowed). */
int runs_begin(struct db *db, struct run *run, const char *job, const char *lock_key, json_t *args);
/* Final status, counters, summary, error (redacted, may be NULL). */
int runs_finish(struct db *db, struct run *run, enum run_status status, const char *error);
/* A run that did not start because another instance held the lock.
 * Returns its id, or -1. */
long long runs_record_skipped(struct db *db, const char *job, const char *lock_key, json_t *args,
			const char *reason);
/* Mark `running` rows of this job or lock key (NULL: none), other than
 * except_id, `abandoned` when their process is gone: their run lock is free. */
int runs_mark_abandoned(struct db *db, const char *lock_key, const char *job, long long except_id,
			long long *count);
void runs_release(struct run *run);

/* jobrun.runs as prune sees it: finished runs older than the cutoff. */
extern const struct history_table runs_history;

#endif
