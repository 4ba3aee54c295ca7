/*
 * One run of one job: the machinery every job shares.
 *
 * task_begin() connects, takes the job's single-instance lock, marks runs
 * left `running` by dead processes `abandoned`, and inserts this run's
 * record. task_end() finishes the record, prints the l2met metrics line and,
 * with --json, the summary object. Jobs only add counters and summary fields.
 *
 * Ownership: the task owns its connections, locks, http client and run
 * record; task_end() releases all of them whatever happened before. A
 * struct task_op is the caller's; its summary entry belongs to the run.
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
	bool own_locks;       /* take no lock at start: the job calls task_lock() per unit
			       * of work (sync: per integration) */
};

#define TASK_MAX_CLIENTS 16

struct task {
	struct task_options opt;
	char lock_key[128];
	struct db *db;      /* work connection; holds the session lock */
	struct db *rl_db;   /* rate-limiter connection, never inside a transaction */
	struct http_client *http;  /* the first client (task_http) */
	struct http_client *clients[TASK_MAX_CLIENTS]; /* every client, http included */
	int n_clients;
	struct run run;
	bool locked;
	bool started;
	char problem[512];  /* the first problem noted by task_problem(), redacted */
	long long problems;
	int n_locks;        /* extra locks from task_lock(), released with the session. No
			     * cap of ours: sync takes one per integration it runs, and
			     * they live in Postgres's shared lock table (thousands) */
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
/* One more client, for a job with several providers (or several accounts of
 * one), each with its own hooks: owned by the task, its attempts counted in
 * the run's api_requests with the others'. NULL on a configuration error or
 * past TASK_MAX_CLIENTS (reported). */
struct http_client *task_http_client(struct task *t, const struct http_hooks *hooks);
/* The limiter connection, opened on first use. */
struct db *task_rl_db(struct task *t);
/* Finish: status, error (may be NULL), metrics, summary; release everything.
 * Returns the status it recorded, which differs from `status` in two cases:
 * a job that failed because a database wait was cancelled by a stop was
 * interrupted; a run whose work connection was lost failed (the record is
 * then written on a new connection, the error naming the lost one). A run
 * that ends partial, failed or interrupted without an error of its own
 * records the first task_problem() instead. */
enum run_status task_end(struct task *t, enum run_status status, const char *error);

/* A problem that does not end the run by itself (a request given up after
 * its retries, an item that failed): logged as a warning, counted in the
 * summary as "problems", and the first one becomes the run's error when it
 * does not succeed. */
void task_problem(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One more single-instance lock for a unit of the job's work (sync takes
 * one per integration). 0: held now, until the task ends; 1: another
 * process holds it (the caller skips that unit); -1: database error. */
int task_lock(struct task *t, const char *key);

/*
 * Operations: the named steps of a run (sync's warehouses/products per
 * integration, cleanup's assets and rows), each with its status, timings,
 * counts and error, collected in order into the run summary's
 * "operations" array — the one mechanism behind sync_logs and the phase
 * reports of cleanup and orphans. Jobs may add fields to op->entry.
 *
 *	struct task_op op;
 *	task_op_begin(t, &op, "products");
 *	... op.processed++; op.succeeded++; ...
 *	task_op_end(&op, RUN_SUCCEEDED, NULL);
 */
struct task_op {
	json_t *entry;        /* borrowed: lives in the run summary */
	double started_mono;
	long long processed, succeeded, failed;
	enum run_status status; /* RUN_RUNNING until task_op_end() */
};

void task_op_begin(struct task *t, struct task_op *op, const char *name);
/* error may be NULL; it is redacted before it is stored. */
void task_op_end(struct task_op *op, enum run_status status, const char *error);

#endif
