/*
 * One run of one job: the machinery every job shares.
 *
 * task_begin() connects, takes the job's single-instance lock, marks runs
 * left `running` by dead processes `abandoned`, and inserts this run's
 * record. task_end() finishes the record, prints the l2met metrics line and,
 * with --json, the summary object. Jobs only add counters and summary fields.
 *
 * Ownership: the task owns its connections, lock, http client and run
 * record; task_end() releases all of them whatever happened before.
 */
#ifndef JOBRUN_TASK_H
#define JOBRUN_TASK_H

#include <jansson.h>
#include <stdbool.h>

#include "runs.h"

struct db;
struct http_client;
struct http_hooks;

struct task_options {
	const char *job;      /* "primecache" */
	const char *lock_key; /* NULL: the job name; sync passes one per integration */
	json_t *args;         /* invocation as a JSON object; the task takes a reference */
	bool json;            /* print the summary object on stdout at the end */
	bool dry_run;         /* recorded in the summary */
};

struct task {
	struct task_options opt;
	char lock_key[128];
	struct db *db;      /* work connection; holds the session lock */
	struct db *rl_db;   /* rate-limiter connection, never inside a transaction */
	struct http_client *http;
	struct run run;
	bool locked;
	bool started;
};

enum task_start { TASK_STARTED, TASK_SKIPPED, TASK_FAILED };

/* Server-side statement_timeout of a task's connections when
 * JOBRUN_STATEMENT_TIMEOUT is unset. */
#define TASK_DEFAULT_STATEMENT_TIMEOUT_S 120.0
/* JOBRUN_STATEMENT_TIMEOUT, else the default; config_error() when malformed. */
int task_statement_timeout(double *out);

enum task_start task_begin(struct task *t, const struct task_options *opt);
/* The task's http client, created on first use with config from the
 * environment and the given hooks (borrowed for the task's life). NULL on a
 * configuration error (reported). */
struct http_client *task_http(struct task *t, const struct http_hooks *hooks);
/* The limiter connection, opened on first use. */
struct db *task_rl_db(struct task *t);
/* Finish: status, error (may be NULL), metrics, summary; release everything.
 * Returns the status it recorded, which differs from `status` in two cases:
 * a job that failed because a database wait was cancelled by a stop was
 * interrupted; a run whose work connection was lost failed (the record is
 * then written on a new connection, the error naming the lost one). */
enum run_status task_end(struct task *t, enum run_status status, const char *error);

#endif
