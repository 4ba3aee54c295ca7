/*
 * primecache: the run. Phase A fetches missing and expired volumes 100 per
 * request, then the ids those batches omitted one by one; phase B fetches
 * stale issue lists, many volumes per request. Every request goes through
 * the shared limiter and counts toward --limit; every response is committed
 * before the next one. A request that fails is skipped (its work stays for
 * the next run); a write the database refuses stops the run.
 */
#include "primecache.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "db.h"
#include "deadline.h"
#include "http.h"
#include "log.h"
#include "primecache_internal.h"
#include "task.h"
#include "xalloc.h"

/* Waiting longer than this for a slot is not worth it: the hourly window
 * reopens far later than a scheduled run lasts. */
#define PC_MAX_SLOT_WAIT_S 30.0

static const char volume_fields[] =
	"id,name,start_year,publisher,count_of_issues,first_issue,last_issue,image,"
	"site_detail_url,api_detail_url,date_added,date_last_updated,deck,aliases";
static const char issue_fields[] =
	"id,volume,issue_number,name,cover_date,store_date,image,site_detail_url,"
	"api_detail_url,date_added,date_last_updated,deck,aliases";

static const char *stop_name(enum pc_stop s)
{
	switch (s) {
	case PC_STOP_NONE: return "done";
	case PC_STOP_LIMIT: return "limit";
	case PC_STOP_RATE_LIMITED: return "rate_limited";
	case PC_STOP_BUDGET: return "budget";
	case PC_STOP_DEADLINE: return "deadline";
	case PC_STOP_SIGTERM: return "sigterm";
	case PC_STOP_SIGINT: return "sigint";
	case PC_STOP_ERROR: return "error";
	}
	return "?";
}

/* The first reason to stop wins; it is what the summary reports. */
static void stop(struct pc_run *r, enum pc_stop why)
{
	if (r->stop == PC_STOP_NONE)
		r->stop = why;
}

/* A deadline or signal; a refusal before the deadline itself passed means
 * the next slot lay beyond it. */
static void stop_deadline(struct pc_run *r)
{
	switch (deadline_reason()) {
	case STOP_SIGTERM: stop(r, PC_STOP_SIGTERM); break;
	case STOP_SIGINT: stop(r, PC_STOP_SIGINT); break;
	default: stop(r, PC_STOP_DEADLINE); break;
	}
}

/* The database refused a write (its error is already reported): nothing
 * later can be trusted to commit, so the run ends now, failed. */
static void storage_failed(struct pc_run *r)
{
	r->fatal = true;
	r->stop = PC_STOP_ERROR;
}

static bool interrupted(const struct pc_run *r)
{
	return r->stop == PC_STOP_DEADLINE || r->stop == PC_STOP_SIGTERM || r->stop == PC_STOP_SIGINT;
}

/* The whole run ends: a fatal answer or write, the deadline or a signal
 * (also when the limiter refused a slot beyond the deadline). */
static bool must_stop(struct pc_run *r)
{
	if (r->fatal || interrupted(r))
		return true;
	if (deadline_should_stop()) {
		stop_deadline(r);
		return true;
	}
	return false;
}

/* A request without a usable answer: its work stays for the next run, this
 * one goes on with other work and reports partial. */
static void request_failed(struct pc_run *r, const char *err)
{
	r->failed_requests++;
	task_problem(r->t, "request failed: %s", err);
}

/* Why a path stopped: our own --limit, the server's signal, or the budget. */
static void path_stopped(struct pc_run *r, const char *err)
{
	if (r->cv.prov.budget_spent)
		stop(r, PC_STOP_LIMIT);
	else if (r->lim.blocks > 0)
		stop(r, PC_STOP_RATE_LIMITED);
	else
		stop(r, PC_STOP_BUDGET);
	log_info("path stopped", LF_S("reason", err));
}

/* Handle a result that is not PROVIDER_OK or PROVIDER_NOT_FOUND. Callers go on with
 * their loops: must_stop() and the stopped paths end them. */
static void setback(struct pc_run *r, enum provider_result res, const char *err)
{
	switch (res) {
	case PROVIDER_BAD_CREDENTIALS:
	case PROVIDER_CONFIG:
		r->fatal = true;
		config_error("%s", err);
		break;
	case PROVIDER_STOPPED:
		stop_deadline(r);
		break;
	case PROVIDER_STOP_BUCKET:
		path_stopped(r, err);
		break;
	case PROVIDER_CUT_OFF:
		request_failed(r, err);
		path_stopped(r, err);
		break;
	case PROVIDER_FAILED:
		request_failed(r, err);
		break;
	case PROVIDER_OK:
	case PROVIDER_NOT_FOUND:
		break;
	}
}

static void join_ids(struct buf *q, const char *prefix, const long *ids, size_t n)
{
	buf_adds(q, prefix);
	for (size_t i = 0; i < n; i++)
		buf_addf(q, "%s%ld", i ? "%7C" : "", ids[i]);
}

static void fetch_single(struct pc_run *r, long id)
{
	char resource[32], err[512];
	struct cv_page page;
	snprintf(resource, sizeof(resource), "4050-%ld", id);
	char *query = xasprintf("field_list=%s", volume_fields);
	enum provider_result res = comicvine_get(&r->cv, CV_VOLUME, resource, query, &page, err, sizeof(err));
	free(query);
	int rc = 0;
	if (res == PROVIDER_OK) {
		json_t *one = json_array();
		long got[1];
		size_t n = 1, unusable;
		json_array_append(one, page.results);
		rc = pc_store_volumes(r, one, got, &n, &unusable);
		json_decref(one);
		cv_page_release(&page);
		if (!rc && (n != 1 || got[0] != id))
			rc = pc_mark_failed(r, id, n == 1 ? "detail answer was for another id"
							 : "detail answer has no valid volume record");
	} else if (res == PROVIDER_NOT_FOUND) {
		log_info("volume is gone at ComicVine", LF_I("volume", id));
		rc = pc_mark_gone(r, id);
	} else if (res == PROVIDER_FAILED) {
		log_warn("volume failed", LF_I("volume", id), LF_S("error", err));
		rc = pc_mark_failed(r, id, err);
	} else {
		setback(r, res, err);
	}
	if (rc)
		storage_failed(r);
}

/* Ids of the batch that the answer left out (merged or deleted volumes). */
static size_t omitted(const long *asked, size_t n, const long *got, size_t n_got, long *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n_got && !found; j++)
			found = got[j] == asked[i];
		if (!found)
			out[k++] = asked[i];
	}
	return k;
}

/* One /volumes/ request for up to 100 ids. The ids its answer left out are
 * appended to later[*n_later]. */
static void fetch_volume_batch(struct pc_run *r, const long *ids, size_t n, long *later,
			       size_t *n_later)
{
	struct buf q = BUF_INIT;
	struct cv_page page;
	char err[512];
	join_ids(&q, "filter=id:", ids, n);
	buf_addf(&q, "&field_list=%s&limit=%d", volume_fields, PC_VOLUMES_PER_REQUEST);
	enum provider_result res = comicvine_get(&r->cv, CV_VOLUMES, NULL, buf_str(&q), &page, err, sizeof(err));
	buf_release(&q);
	if (res != PROVIDER_OK) {
		setback(r, res, err);
		return;
	}
	long got[PC_VOLUMES_PER_REQUEST * 2];
	size_t n_got = sizeof(got) / sizeof(got[0]), unusable;
	int rc = pc_store_volumes(r, page.results, got, &n_got, &unusable);
	cv_page_release(&page);
	if (rc) {
		storage_failed(r);
		return;
	}
	if (unusable) {
		/* A record without a valid id hides which ids were really left
		 * out: the answer is malformed, not a list of omissions. */
		request_failed(r, "malformed answer: /volumes/ records without a valid id");
		return;
	}
	size_t k = omitted(ids, n, got, n_got, later + *n_later);
	if (k)
		log_info("batch omitted volumes; fetching them one by one after the batches",
			 LF_I("count", (long)k));
	*n_later += k;
}

static int phase_volumes(struct pc_run *r)
{
	struct pc_volume_work *work;
	size_t n, n_later = 0;
	if (pc_plan_volumes(r->db, r->opt->force_volumes, &work, &n))
		return -1;
	/* Every omitted id is a planned one: n bounds them. */
	long ids[PC_VOLUMES_PER_REQUEST], *later = xcalloc(n ? n : 1, sizeof(*later));
	for (size_t i = 0; i < n && !must_stop(r) && !r->cv.path_stopped[CV_VOLUMES];
	     i += PC_VOLUMES_PER_REQUEST) {
		size_t k = n - i < PC_VOLUMES_PER_REQUEST ? n - i : PC_VOLUMES_PER_REQUEST;
		for (size_t j = 0; j < k; j++)
			ids[j] = work[i + j].id;
		fetch_volume_batch(r, ids, k, later, &n_later);
		log_progress("primecache: volumes %zu/%zu", i + k, n);
	}
	/* Singles only after every batch: a single costs a request for one
	 * volume, a batch one for a hundred. What --limit leaves out here is
	 * still missing or expired, so a later run asks again. */
	for (size_t i = 0; i < n_later && !must_stop(r) && !r->cv.path_stopped[CV_VOLUME]; i++)
		fetch_single(r, later[i]);
	free(later);
	free(work);
	return 0;
}

/* All pages of one issue request group; true when every page was stored.
 * Otherwise the group's lists stay stale for the next run. */
static bool fetch_issue_group(struct pc_run *r, const struct pc_issue_work *w, size_t k)
{
	long ids[PC_ISSUE_VOLUMES_PER_REQUEST];
	for (size_t i = 0; i < k; i++)
		ids[i] = w[i].id;
	for (long offset = 0;;) {
		struct buf q = BUF_INIT;
		struct cv_page page;
		char err[512];
		join_ids(&q, "filter=volume:", ids, k);
		buf_addf(&q, "&field_list=%s&limit=%d&offset=%ld&sort=id:asc", issue_fields,
			 PC_PAGE_SIZE, offset);
		enum provider_result res =
			comicvine_get(&r->cv, CV_ISSUES, NULL, buf_str(&q), &page, err, sizeof(err));
		buf_release(&q);
		if (res != PROVIDER_OK) {
			setback(r, res, err);
			return false;
		}
		size_t got = json_array_size(page.results), unusable;
		long total = page.total;
		int rc = pc_store_issues(r, page.results, &unusable);
		cv_page_release(&page);
		if (rc) {
			storage_failed(r);
			return false;
		}
		if (unusable) {
			request_failed(r, "malformed answer: /issues/ records without a valid id");
			return false;
		}
		offset += (long)got;
		if (got == 0 || offset >= total)
			return true;
		if (must_stop(r))
			return false;
	}
}

static int phase_issues(struct pc_run *r)
{
	long long empty;
	if (pc_mark_empty_issue_lists(r, &empty))
		return -1;
	struct pc_issue_work *work;
	size_t n;
	if (pc_plan_issues(r->db, &work, &n))
		return -1;
	for (size_t i = 0; i < n && !must_stop(r) && !r->cv.path_stopped[CV_ISSUES];) {
		size_t k = pc_issue_group(work + i, n - i);
		if (fetch_issue_group(r, work + i, k) && pc_mark_issues_fetched(r, work + i, k)) {
			storage_failed(r);
			break;
		}
		i += k;
		log_progress("primecache: issue lists %zu/%zu", i, n);
	}
	free(work);
	return 0;
}

static json_t *per_path_requests(const struct pc_run *r)
{
	json_t *o = json_object();
	for (int p = 0; p < CV_NPATHS; p++)
		json_object_set_new(o, cv_path_name(p), json_integer(r->cv.requests[p]));
	return o;
}

static json_t *budget_remaining(struct pc_run *r)
{
	json_t *o = json_object();
	for (int p = 0; p < CV_NPATHS; p++) {
		long left;
		double reset;
		if (!ratelimit_remaining(r->lim.db, &r->cv.buckets[p][0], &left, &reset))
			json_object_set_new(o, cv_path_name(p), json_integer(left));
	}
	return o;
}

static void summarize(struct pc_run *r, double fresh_start, long long tracked)
{
	struct run *run = &r->t->run;
	double fresh_end = fresh_start;
	long long tracked_end = tracked;
	pc_freshness(r->db, &tracked_end, &fresh_end);
	run->succeeded = r->st.added + r->st.refreshed + r->st.unchanged + r->st.gone;
	run->failed = r->st.failed;
	run->processed = run->succeeded + run->failed;
	json_t *s = run->summary;
	json_object_set_new(s, "requests", per_path_requests(r));
	json_object_set_new(s, "volumes",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "added", (json_int_t)r->st.added,
				      "refreshed", (json_int_t)r->st.refreshed, "unchanged",
				      (json_int_t)r->st.unchanged, "gone", (json_int_t)r->st.gone,
				      "failed", (json_int_t)r->st.failed));
	json_object_set_new(s, "issues_upserted", json_integer(r->st.issues));
	json_object_set_new(s, "failed_requests", json_integer(r->failed_requests));
	json_object_set_new(s, "tracked", json_integer(tracked_end));
	json_object_set_new(s, "freshness_start", json_real(fresh_start));
	json_object_set_new(s, "freshness_end", json_real(fresh_end));
	if (!r->opt->dry_run)
		json_object_set_new(s, "budget_remaining", budget_remaining(r));
	json_object_set_new(s, "stop_reason", json_string(stop_name(r->stop)));
	log_info("primecache summary", LF_I("added", r->st.added), LF_I("refreshed", r->st.refreshed),
		 LF_I("unchanged", r->st.unchanged), LF_I("gone", r->st.gone),
		 LF_I("failed", r->st.failed), LF_I("issues", r->st.issues),
		 LF_F("freshness_start", fresh_start), LF_F("freshness_end", fresh_end),
		 LF_S("stop_reason", stop_name(r->stop)));
}

static enum run_status final_status(const struct pc_run *r)
{
	if (r->fatal) /* a bad key, or PC_STOP_ERROR */
		return RUN_FAILED;
	if (deadline_reason() != STOP_NONE || interrupted(r))
		return RUN_INTERRUPTED;
	if (r->stop == PC_STOP_BUDGET && comicvine_total_requests(&r->cv) == 0)
		return RUN_SKIPPED;
	if (r->st.failed || r->failed_requests || r->stop == PC_STOP_RATE_LIMITED ||
	    r->stop == PC_STOP_BUDGET)
		return RUN_PARTIAL;
	return RUN_SUCCEEDED;
}

static int current_year(void)
{
	time_t now = (time_t)clock_wall();
	struct tm tm;
	gmtime_r(&now, &tm);
	return tm.tm_year + 1900;
}

static int connect_client(struct pc_run *r)
{
	struct db *rl_db = task_rl_db(r->t);
	if (!rl_db)
		return -1;
	limiter_init(&r->lim, rl_db, provider_map_buckets, &r->cv.prov, PC_MAX_SLOT_WAIT_S);
	struct http_hooks hooks = provider_hooks(&r->cv.prov, &r->lim);
	r->cv.prov.http = task_http(r->t, &hooks);
	return r->cv.prov.http ? 0 : -1;
}

enum run_status primecache_run(struct task *t, const struct primecache_options *opt,
			       struct comicvine_config *cfg)
{
	struct pc_run r = { .t = t, .db = t->db, .opt = opt, .current_year = current_year() };
	long long tracked;
	double fresh_start;
	enum run_status status = RUN_FAILED;
	comicvine_init(&r.cv, cfg, opt->limit);
	if (pc_freshness(r.db, &tracked, &fresh_start))
		goto out;
	log_info("cache state", LF_I("tracked", tracked), LF_F("freshness", fresh_start),
		 LF_I("limit", opt->limit));
	if (opt->dry_run) {
		if (pc_print_plan(&r))
			goto out;
	} else {
		if (connect_client(&r) || phase_volumes(&r) || (!must_stop(&r) && phase_issues(&r)))
			goto out;
	}
	summarize(&r, fresh_start, tracked);
	status = final_status(&r);
out:
	/* The task's http client keeps pointers to r.cv and r.lim: drop them. */
	if (t->http)
		http_client_set_hooks(t->http, NULL);
	comicvine_release(&r.cv);
	return status;
}
