/*
 * primecache planning: what to fetch, in priority order, and the dry run
 * that prints it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "primecache_internal.h"
#include "task.h"
#include "xalloc.h"

/* (a) missing, then (b) expired: most overdue first, recent series first.
 * Missing volumes have no start year yet; higher ids are newer series. */
static const char volumes_sql[] =
	"SELECT t.volume_id, v.fetched_at IS NULL "
	"FROM comicvine.tracked_volumes t LEFT JOIN comicvine.volumes v ON v.id = t.volume_id "
	"WHERE v.gone_at IS NULL AND (v.fetched_at IS NULL OR v.refresh_after <= now()) "
	"AND ($1::boolean OR v.retry_after IS NULL OR v.retry_after <= now()) "
	"ORDER BY v.fetched_at IS NOT NULL, v.refresh_after ASC NULLS FIRST, "
	"v.start_year DESC NULLS LAST, t.volume_id DESC";

/* (c) stale issue lists: series of the last 5 years first, then the
 * longest unrefreshed. */
static const char issues_sql[] =
	"SELECT v.id, coalesce(v.count_of_issues, -1), coalesce(v.start_year, 0) "
	"FROM comicvine.tracked_volumes t JOIN comicvine.volumes v ON v.id = t.volume_id "
	"WHERE v.fetched_at IS NOT NULL AND v.gone_at IS NULL "
	"AND (v.count_of_issues IS NULL OR v.count_of_issues > 0) AND " PC_ISSUES_STALE " "
	"ORDER BY coalesce(v.start_year >= extract(year FROM now())::integer - 4, false) DESC, "
	"v.issues_fetched_at ASC NULLS FIRST, v.start_year DESC NULLS LAST, v.id DESC";

int pc_plan_volumes(struct db *db, bool force, struct pc_volume_work **out, size_t *n)
{
	const char *params[] = { force ? "true" : "false" };
	struct db_result *r = db_query(db, volumes_sql, 1, params);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)db_rows(r);
	*out = xcalloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].id = (long)db_ll(r, (int)i, 0, 0);
		(*out)[i].missing = db_bool(r, (int)i, 1);
	}
	db_result_free(r);
	return 0;
}

int pc_plan_issues(struct db *db, struct pc_issue_work **out, size_t *n)
{
	struct db_result *r = db_query(db, issues_sql, 0, NULL);
	*out = NULL;
	*n = 0;
	if (!r)
		return -1;
	*n = (size_t)db_rows(r);
	*out = xcalloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].id = (long)db_ll(r, (int)i, 0, 0);
		(*out)[i].count_of_issues = (long)db_ll(r, (int)i, 1, -1);
		(*out)[i].start_year = (int)db_ll(r, (int)i, 2, 0);
	}
	db_result_free(r);
	return 0;
}

/* An unknown count is assumed to be a typical one; paging covers the rest. */
#define PC_UNKNOWN_COUNT_GUESS 10

size_t pc_issue_group(const struct pc_issue_work *work, size_t n)
{
	long sum = 0;
	size_t k = 0;
	while (k < n && k < PC_ISSUE_VOLUMES_PER_REQUEST) {
		long c = work[k].count_of_issues >= 0 ? work[k].count_of_issues : PC_UNKNOWN_COUNT_GUESS;
		if (k > 0 && sum + c > PC_PAGE_SIZE)
			break;
		sum += c;
		k++;
	}
	return k;
}

int pc_freshness(struct db *db, long long *tracked, double *fresh)
{
	struct db_result *r = db_query(
		db,
		"SELECT count(*), count(*) FILTER (WHERE v.fetched_at IS NOT NULL "
		"AND v.refresh_after > now() AND v.gone_at IS NULL) "
		"FROM comicvine.tracked_volumes t LEFT JOIN comicvine.volumes v ON v.id = t.volume_id",
		0, NULL);
	if (!r)
		return -1;
	*tracked = db_ll(r, 0, 0, 0);
	long long ok = db_ll(r, 0, 1, 0);
	*fresh = *tracked ? (double)ok / (double)*tracked : 1.0;
	db_result_free(r);
	return 0;
}

/* Pages an issue request group is expected to take. */
static long group_pages(const struct pc_issue_work *w, size_t k)
{
	long sum = 0;
	for (size_t i = 0; i < k; i++)
		sum += w[i].count_of_issues >= 0 ? w[i].count_of_issues : PC_UNKNOWN_COUNT_GUESS;
	return sum > 0 ? (sum + PC_PAGE_SIZE - 1) / PC_PAGE_SIZE : 1;
}

static long plan_volume_requests(const struct pc_volume_work *w, size_t n, long budget,
				 long *missing)
{
	long used = 0;
	*missing = 0;
	for (size_t i = 0; i < n; i++)
		*missing += w[i].missing;
	for (size_t i = 0; i < n; i += PC_VOLUMES_PER_REQUEST) {
		size_t k = n - i < PC_VOLUMES_PER_REQUEST ? n - i : PC_VOLUMES_PER_REQUEST;
		used++;
		if (used > budget)
			continue;
		log_info("plan", LF_I("n", used), LF_S("path", "/volumes/"),
			 LF_S("reason", w[i].missing ? "missing" : "expired"), LF_I("volumes", (long)k),
			 LF_I("first_id", w[i].id), LF_I("last_id", w[i + k - 1].id));
	}
	return used;
}

static long plan_issue_requests(const struct pc_issue_work *w, size_t n, long first, long budget)
{
	long used = 0;
	for (size_t i = 0; i < n;) {
		size_t k = pc_issue_group(w + i, n - i);
		long pages = group_pages(w + i, k);
		for (long p = 0; p < pages; p++) {
			used++;
			if (first + used > budget)
				continue;
			log_info("plan", LF_I("n", first + used), LF_S("path", "/issues/"),
				 LF_S("reason", "issues"), LF_I("volumes", (long)k), LF_I("page", p + 1),
				 LF_I("first_id", w[i].id), LF_I("last_id", w[i + k - 1].id));
		}
		i += k;
	}
	return used;
}

/* The dry run sees the cache as it is now: volumes fetched in phase A would
 * also need their issues, which only a real run can know. */
int pc_print_plan(struct pc_run *r)
{
	struct pc_volume_work *vw = NULL;
	struct pc_issue_work *iw = NULL;
	size_t nv = 0, ni = 0;
	int ret = -1;
	if (pc_plan_volumes(r->db, r->opt->force_volumes, &vw, &nv) ||
	    pc_plan_issues(r->db, &iw, &ni))
		goto out;
	long missing, budget = r->opt->limit;
	long vreq = plan_volume_requests(vw, nv, budget, &missing);
	long ireq = plan_issue_requests(iw, ni, vreq, budget);
	long total = vreq + ireq;
	log_info("plan total", LF_I("requests", total), LF_I("limit", budget),
		 LF_I("within_limit", total < budget ? total : budget),
		 LF_I("beyond_limit", total > budget ? total - budget : 0), LF_I("missing", missing),
		 LF_I("expired", (long)nv - missing), LF_I("issue_volumes", (long)ni));
	json_object_set_new(r->t->run.summary, "plan",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)total,
				      "within_limit", (json_int_t)(total < budget ? total : budget),
				      "missing", (json_int_t)missing, "expired",
				      (json_int_t)((long)nv - missing), "issue_volumes",
				      (json_int_t)ni, "limit", (json_int_t)budget));
	ret = 0;
out:
	free(vw);
	free(iw);
	return ret;
}
