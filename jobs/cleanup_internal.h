/*
 * Shared by the cleanup files: the run's state and its database side
 * (cleanup_store.c). Not used outside jobs/cleanup*.c.
 *
 * The run works from two temporary tables of its own session, filled in SQL
 * from the app's binding at the start: cleanup_items (the expired set) and
 * cleanup_assets (their assets, each with the answer Cloudinary gave:
 * state NULL = not asked yet, deleted, not_found, shared, failed). Memory
 * stays flat: the job only ever holds one delete batch.
 */
#ifndef JOBRUN_JOBS_CLEANUP_INTERNAL_H
#define JOBRUN_JOBS_CLEANUP_INTERNAL_H

#include <jansson.h>

#include "app_binding.h"
#include "cleanup.h"
#include "cloudinary.h"

struct db;
struct task;

/* Items per jobrun.purge_items() call (one transaction each). */
#define CL_PURGE_BATCH 500
/* Failed delete calls in a row after which Cloudinary is taken to be down. */
#define CL_MAX_FAILED_CALLS 3

/* What stopped work before everything was done (the summary's stop_reason). */
enum cl_stop {
	CL_STOP_NONE,         /* "done" */
	CL_STOP_LIMIT,        /* "limit": --limit reached */
	CL_STOP_RATE_LIMITED, /* "rate_limited": Cloudinary said 420/429 and its reset
			       * lies past the run's time budget */
	CL_STOP_BUDGET,       /* "budget": the shared hourly budget is spent */
	CL_STOP_FAILING,      /* "failing": delete calls keep failing */
	CL_STOP_DEADLINE,     /* "deadline" */
	CL_STOP_SIGTERM,      /* "sigterm" */
	CL_STOP_SIGINT,       /* "sigint" */
	CL_STOP_ERROR,        /* "error": bad credentials or a database failure */
};

struct cl_run {
	struct task *t;
	struct db *db;
	const struct cleanup_options *opt;
	struct binding_status assets_binding; /* whether trash_assets has delivery_type */
	struct cloudinary cld;
	bool cld_open;
	enum cl_stop stop;
	bool fatal;
	long long items, assets;          /* the expired set */
	long long deleted, not_found, shared, failed_assets, left_assets;
	long long purged, kept;           /* items purge_items deleted; items it left */
	long long failed_items, left_items;
	long long delete_calls, failed_calls;
};

/* Every plan in jobrun.trash_items has a retention (or "*" is given);
 * otherwise a config_error() naming the plan. */
int cl_check_plans(struct cl_run *r);
/* --dry-run: log each expired item (id, plan, age, assets) and the totals. */
int cl_print_expired(struct cl_run *r);
/* Fill the temporary tables; sets r->items and r->assets. */
int cl_load(struct cl_run *r);
/* The (resource_type, delivery_type) groups with assets not asked yet:
 * a result of two text columns the caller frees. */
struct db_result *cl_groups(struct cl_run *r);
/* Up to CLOUDINARY_DELETE_MAX public ids of a group not asked yet. */
struct db_result *cl_batch(struct cl_run *r, const char *type, const char *delivery);
/* Record the answers for a batch: states[i] for ids[i]; reason (may be
 * NULL) for the failed ones. */
int cl_record(struct cl_run *r, const char *type, const char *delivery, const char *const *ids,
	      const enum cloudinary_deleted *states, size_t n, const char *reason);
/* Purge the next batch of items whose every asset is gone (one
 * transaction); *n: items in the batch (0: none left). */
int cl_purge_batch(struct cl_run *r, long long *n);
/* Counts per plan and per asset state into r and the summary; the failures
 * (item, label, asset, reason; at most CL_MAX_LISTED) as a new array. */
#define CL_MAX_LISTED 100
int cl_tally(struct cl_run *r, json_t **plans, json_t **failures);

#endif
