/*
 * Shared by the orphans files: the run's state, the parsing of a listed
 * asset (pure), and the writes (store). Not used outside jobs/orphans*.c.
 */
#ifndef JOBRUN_JOBS_ORPHANS_INTERNAL_H
#define JOBRUN_JOBS_ORPHANS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cloudinary.h"
#include "orphans.h"

struct db;
struct task;

/* Search results per call: Cloudinary's maximum, so a scan of N assets
 * costs ceil(N / 500) calls. */
#define ORPH_PAGE_SIZE 500
/* Report rows read per statement, so memory stays flat however many. */
#define ORPH_REPORT_BATCH 1000
/* Orphans a mail lists by name (the rest are in the attached CSV). */
#define ORPH_MAIL_LIST 20
/* A bigger report is not attached: the mail says where it is. */
#define ORPH_MAIL_ATTACH_MAX (8u << 20)
/* The longest wait for a slot in the hourly window; the deadline cuts it. */
#define ORPH_MAX_SLOT_WAIT_S 30.0

/* What stopped the scan before the window was covered; the summary's
 * stop_reason ("done" for none). */
enum orph_stop {
	ORPH_STOP_NONE,         /* "done" */
	ORPH_STOP_LIMIT,        /* "limit": --limit reached */
	ORPH_STOP_RATE_LIMITED, /* "rate_limited": the hourly budget is spent (420/429 or
				 * our shared window) */
	ORPH_STOP_FAILED,       /* "request_failed": a page could not be read */
	ORPH_STOP_DEADLINE,     /* "deadline": --max-runtime */
	ORPH_STOP_SIGTERM,
	ORPH_STOP_SIGINT,
	ORPH_STOP_ERROR,        /* "error": bad credentials or the database failed */
};

/* One listed asset. Strings borrow from the JSON record. */
struct orph_asset {
	const char *resource_type, *public_id, *format, *secure_url;
	const char *created_at, *uploaded_at; /* validated ISO 8601, or NULL */
	long long bytes;                      /* -1 unknown */
};

/* Pure (unit-tested). A search result's record: -1 with why when it lacks
 * what a finding needs (a public_id and a known resource_type). Odd other
 * fields become unknown, never errors. */
int orph_asset_from_json(json_t *record, struct orph_asset *a, char *why, size_t why_len);
/* "2025-07-01T12:00:00Z", "…+00:00", fractions; what Postgres then reads
 * exactly. */
bool orph_valid_timestamp(const char *s);
/* The Search API expression for a scan: upload delivery type, the types
 * (no clause when all three), uploaded_at from `from` (NULL: no lower
 * bound) to `to`, both inclusive. */
void orph_expression(struct buf *out, const bool types[ORPH_NTYPES], const char *from,
		     const char *to);

/* jobrun.orphan_scans: where the scan of (types, days) stands. Times are
 * UTC ISO 8601 ("" for none). */
struct orph_scan {
	char types[32];
	long days;
	char window_from[32], window_to[32], watermark[32], started_at[40];
	long long checked, referenced, orphaned, too_new;
	long long remaining;       /* what the last search said was left; -1 unknown */
	bool resumed;              /* this run continues a scan an earlier run began */
	bool complete;
};

/* What one page, or the whole run, decided. */
struct orph_counts {
	long long listed;      /* assets checked (each once per scan) */
	long long referenced;  /* valid: the app references them */
	long long orphaned;
	long long too_new;     /* unreferenced, younger than --min-age */
	long long new_orphans; /* first seen now */
	long long resolved;    /* known orphans referenced again */
};

struct orph_run {
	struct task *t;
	struct db *db;
	const struct orphans_options *o;
	struct cloudinary cld;
	bool cld_open;
	struct orph_scan scan;
	struct orph_counts run;    /* this run's */
	long long pages;
	double listing_s, db_s;    /* time in search calls and in page stores */
	long long skipped;         /* records without what a finding needs */
	enum orph_stop stop;
	bool fatal;                /* bad credentials, storage failure */
	long long failed_requests;
	char report_path[512];     /* "" until written */
	long long report_rows;
	/* --delete */
	bool delete_refused;
	double ratio;              /* orphaned / checked of the scan */
	long long deleted, not_found, delete_failed, rechecked_referenced, would_delete;
};

/* store: -1 only when the database failed (reported). */
/* Load the scan of (types, days), or start a new one when there is none or
 * it completed (a dry run only computes the new one). */
int orph_scan_open(struct orph_run *r);
/* One page of search results into the database in one transaction: the
 * assets are loaded with COPY, judged in one anti-join against
 * jobrun.asset_refs, findings upserted, resolved ones closed, the scan's
 * position and counts advanced. A dry run judges into a session temp table. */
int orph_store_page(struct orph_run *r, json_t *resources, long long remaining,
		    struct orph_counts *page);
int orph_scan_complete(struct orph_run *r);
/* The scan's row as it is now (watermark, counts). */
int orph_scan_reload(struct orph_run *r);
/* The scan's findings, `limit` rows after id `after` (ORDER BY id): open
 * ones, and those deleted since the scan began. Columns id, resource_type,
 * public_id, bytes, format, created_at, uploaded_at, secure_url,
 * first_seen_at, last_seen_at, deleted_at. */
struct db_result *orph_open_findings(struct orph_run *r, long long after, long limit);
/* The next delete batch of one type, re-checked against jobrun.asset_refs
 * in the same statement (those referenced are closed as resolved): columns
 * id, public_id, referenced. A dry run only reads. */
struct db_result *orph_delete_candidates(struct orph_run *r, const char *type, long long after,
					 long limit);
int orph_mark_deleted(struct orph_run *r, const long long *ids, size_t n);

#endif
