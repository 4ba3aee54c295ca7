/*
 * Shared by the primecache files: the run's state, the work lists (plan),
 * and the writes (store). Not used outside jobs/primecache*.c.
 */
#ifndef JOBRUN_JOBS_PRIMECACHE_INTERNAL_H
#define JOBRUN_JOBS_PRIMECACHE_INTERNAL_H

#include <stddef.h>

#include "comicvine.h"
#include "limiter.h"
#include "primecache.h"

struct db;
struct task;

#define PC_VOLUMES_PER_REQUEST 100
#define PC_ISSUE_VOLUMES_PER_REQUEST 50
#define PC_PAGE_SIZE 100

/* What stopped work before everything was done; the summary's stop_reason
 * names it ("done" for none). */
enum pc_stop {
	PC_STOP_NONE,         /* "done" */
	PC_STOP_LIMIT,        /* "limit": --limit reached */
	PC_STOP_RATE_LIMITED, /* "rate_limited": rate limited or blocked on a path */
	PC_STOP_BUDGET,       /* "budget": a path's hourly or the daily budget is spent */
	PC_STOP_DEADLINE,     /* "deadline": --max-runtime */
	PC_STOP_SIGTERM,      /* "sigterm" */
	PC_STOP_SIGINT,       /* "sigint" */
	PC_STOP_ERROR,        /* "error": the database refused a write */
};

struct pc_stats {
	long long added, refreshed, unchanged, gone, failed;
	long long issues;
};

struct pc_run {
	struct task *t;
	struct db *db;
	const struct primecache_options *opt;
	struct comicvine cv;
	struct limiter lim;
	struct pc_stats st;
	int current_year;
	enum pc_stop stop;         /* the first thing that stopped work */
	long long failed_requests; /* no usable answer: retries spent or cut off, or
				    * malformed (not volume-specific) */
	bool fatal;                /* bad key or storage failure: stop at once */
};

/* SQL: volume v's issue list needs fetching. One definition for the plan
 * and for the volumes that need no request. */
#define PC_ISSUES_STALE                                                                   \
	"(v.issues_fetched_at IS NULL OR v.issues_refresh_after <= now() "                \
	"OR v.date_last_updated IS DISTINCT FROM v.issues_date_last_updated)"

/* Volumes to fetch (phase A): missing ones first, then expired. */
struct pc_volume_work {
	long id;
	bool missing;
};

/* Volumes whose issue list to fetch (phase B). */
struct pc_issue_work {
	long id;
	long count_of_issues; /* -1: unknown */
	int start_year;
};

/* plan: the work lists, in priority order. Caller frees *out. */
int pc_plan_volumes(struct db *db, bool force, struct pc_volume_work **out, size_t *n);
int pc_plan_issues(struct db *db, struct pc_issue_work **out, size_t *n);
/* Issue requests for work[0..n): how many volumes go in each, so that a
 * request fills one page when the counts allow (greedy, order kept). */
size_t pc_issue_group(const struct pc_issue_work *work, size_t n);
/* Share of tracked volumes that are fresh; *tracked gets their number. */
int pc_freshness(struct db *db, long long *tracked, double *fresh);
/* The dry run: print the plan within the limit, fill the summary. */
int pc_print_plan(struct pc_run *r);

/* store: one transaction per call; -1 only when the database failed.
 * Records without a usable id are skipped and counted in *unusable. */
int pc_store_volumes(struct pc_run *r, json_t *results, long *returned, size_t *n_returned,
		     size_t *unusable);
int pc_store_issues(struct pc_run *r, json_t *results, size_t *unusable);
int pc_mark_gone(struct pc_run *r, long id);
int pc_mark_failed(struct pc_run *r, long id, const char *reason);
int pc_mark_issues_fetched(struct pc_run *r, const struct pc_issue_work *work, size_t n);
/* Volumes with no issues need no request: mark their lists fresh. */
int pc_mark_empty_issue_lists(struct pc_run *r, long long *count);

#endif
