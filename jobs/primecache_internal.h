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
	const char *stop_reason; /* the first thing that stopped work; NULL: none */
	long long failed_requests; /* gave up after retries (not volume-specific) */
	bool fatal;
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

/* store: one transaction per call. */
int pc_store_volumes(struct pc_run *r, json_t *results, long *returned, size_t *n_returned);
int pc_store_issues(struct pc_run *r, json_t *results);
int pc_mark_gone(struct pc_run *r, long id);
int pc_mark_failed(struct pc_run *r, long id, const char *reason);
int pc_mark_issues_fetched(struct pc_run *r, const struct pc_issue_work *work, size_t n);
/* Volumes with no issues need no request: mark their lists fresh. */
int pc_mark_empty_issue_lists(struct pc_run *r, long long *count);

#endif
