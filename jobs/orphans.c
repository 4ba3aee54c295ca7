/*
 * orphans: the run. Lists the window's assets through Cloudinary's Search
 * API, 500 per call, oldest upload first, and hands each page to Postgres
 * (orphans_store.c), which judges it against jobrun.asset_refs. Then, with
 * --delete, deletes the findings that are still unreferenced, then writes
 * the CSV report and mails it.
 *
 * Why the Search API and not GET /resources/<type>/upload: both return 500
 * assets per call, but the list endpoint is per resource type and cannot
 * filter by upload date. Search takes every type in one expression (one
 * listing: ceil(N/500) calls, where three per-type listings waste up to two
 * calls on their partial last pages) and restricts uploaded_at to the
 * window, so --days 7 reads the week, not the account. Sorted by
 * uploaded_at ascending, its position is a time: a scan cut short resumes
 * from the saved uploaded_at watermark (cursors may expire between runs).
 */
#include "orphans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app_binding.h"
#include "buf.h"
#include "clock.h"
#include "csv.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "orphans_internal.h"
#include "task.h"
#include "xalloc.h"

static const char *stop_name(enum orph_stop s)
{
	switch (s) {
	case ORPH_STOP_NONE: return "done";
	case ORPH_STOP_LIMIT: return "limit";
	case ORPH_STOP_RATE_LIMITED: return "rate_limited";
	case ORPH_STOP_FAILED: return "request_failed";
	case ORPH_STOP_DEADLINE: return "deadline";
	case ORPH_STOP_SIGTERM: return "sigterm";
	case ORPH_STOP_SIGINT: return "sigint";
	case ORPH_STOP_ERROR: return "error";
	}
	return "?";
}

/* The first reason to stop wins; it is what the summary reports. */
static void stop(struct orph_run *r, enum orph_stop why)
{
	if (r->stop == ORPH_STOP_NONE)
		r->stop = why;
}

static void stop_deadline(struct orph_run *r)
{
	switch (deadline_reason()) {
	case STOP_SIGTERM: stop(r, ORPH_STOP_SIGTERM); break;
	case STOP_SIGINT: stop(r, ORPH_STOP_SIGINT); break;
	default: stop(r, ORPH_STOP_DEADLINE); break;
	}
}

static bool interrupted(const struct orph_run *r)
{
	return r->stop == ORPH_STOP_DEADLINE || r->stop == ORPH_STOP_SIGTERM ||
	       r->stop == ORPH_STOP_SIGINT;
}

static bool must_stop(struct orph_run *r)
{
	if (r->fatal || interrupted(r))
		return true;
	if (deadline_should_stop()) {
		stop_deadline(r);
		return true;
	}
	return false;
}

/* The database refused (its error is reported): nothing later can be
 * trusted to commit. */
static void storage_failed(struct orph_run *r)
{
	r->fatal = true;
	stop(r, ORPH_STOP_ERROR);
}

/* A result other than OK: why the listing (or the deleting) ends here. */
static void setback(struct orph_run *r, enum provider_result res, const char *err)
{
	switch (res) {
	case PROVIDER_BAD_CREDENTIALS:
	case PROVIDER_CONFIG:
		r->fatal = true;
		stop(r, ORPH_STOP_ERROR);
		config_error("%s", err);
		break;
	case PROVIDER_STOPPED:
		stop_deadline(r);
		break;
	case PROVIDER_STOP_BUCKET:
		stop(r, r->cld.prov.budget_spent ? ORPH_STOP_LIMIT : ORPH_STOP_RATE_LIMITED);
		log_info("Cloudinary calls stopped for this run", LF_S("reason", err));
		break;
	case PROVIDER_CUT_OFF:
		r->failed_requests++;
		task_problem(r->t, "request failed: %s", err);
		stop(r, ORPH_STOP_LIMIT);
		break;
	case PROVIDER_FAILED:
	case PROVIDER_NOT_FOUND:
		r->failed_requests++;
		task_problem(r->t, "request failed: %s", err);
		stop(r, ORPH_STOP_FAILED);
		break;
	case PROVIDER_OK:
		break;
	}
}

/* ------------------------------------------------------------------ scan */

/* One search page: the expression, the sort, 500 results, and the cursor
 * of the page before (cursors live within a run; across runs the
 * watermark does their job). */
static enum provider_result search_page(struct orph_run *r, const char *expression,
					struct provider_pager *pg, struct provider_reply *reply,
					json_t **items)
{
	json_t *body = json_pack("{s:s, s:[{s:s}], s:i}", "expression", expression, "sort_by",
				 "uploaded_at", "asc", "max_results", ORPH_PAGE_SIZE);
	if (pg->cursor)
		json_object_set_new(body, "next_cursor", json_string(pg->cursor));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	const char *tail[] = { "resources", "search", NULL }, *seg[8];
	struct provider_call call = {
		.method = "POST", .segments = cloudinary_path(&r->cld, tail, seg, 8),
		.body = text, .content_type = "application/json",
		.bucket = CLOUDINARY_BUCKET, .label = "POST /resources/search",
	};
	*items = NULL;
	enum provider_result res = provider_request(&r->cld.prov, &call, reply);
	free(text);
	char err[256];
	if (res == PROVIDER_OK &&
	    provider_pager_advance(pg, reply->json, r->cld.prov.base_url, items, err, sizeof(err))) {
		snprintf(reply->error, sizeof(reply->error), "POST /resources/search: %s", err);
		res = reply->result = PROVIDER_FAILED;
	}
	return res;
}

static void add_counts(struct orph_run *r, const struct orph_counts *c)
{
	r->run.listed += c->listed;
	r->run.referenced += c->referenced;
	r->run.orphaned += c->orphaned;
	r->run.too_new += c->too_new;
	r->run.new_orphans += c->new_orphans;
	r->run.resolved += c->resolved;
	r->scan.checked += c->listed;
	r->scan.referenced += c->referenced;
	r->scan.orphaned += c->orphaned;
	r->scan.too_new += c->too_new;
}

static void scan_pages(struct orph_run *r, const char *expression)
{
	struct provider_pager pg;
	provider_pager_init(&pg, PROVIDER_PAGING_CURSOR, "resources");
	long long total = -1, raw = 0;
	while (!must_stop(r)) {
		struct provider_reply reply;
		json_t *items;
		double t0 = clock_mono();
		enum provider_result res = search_page(r, expression, &pg, &reply, &items);
		r->listing_s += clock_mono() - t0;
		if (res != PROVIDER_OK) {
			setback(r, res, reply.error);
			provider_reply_release(&reply);
			break;
		}
		json_t *tc = json_object_get(reply.json, "total_count");
		if (total < 0 && json_is_integer(tc))
			total = (long long)json_integer_value(tc);
		raw += (long long)json_array_size(items);
		struct orph_counts c;
		long long left = total < 0 ? -1 : total > raw ? total - raw : 0;
		double t1 = clock_mono();
		int rc = orph_store_page(r, items, pg.done ? 0 : left, &c);
		r->db_s += clock_mono() - t1;
		provider_reply_release(&reply);
		if (rc) {
			storage_failed(r);
			break;
		}
		r->pages++;
		r->scan.remaining = pg.done ? 0 : left;
		add_counts(r, &c);
		log_progress("orphans: %lld assets checked, %lld orphaned", r->scan.checked,
			     r->scan.orphaned);
		if (pg.done) {
			if (orph_scan_complete(r))
				storage_failed(r);
			break;
		}
	}
	log_progress_done();
	provider_pager_release(&pg);
}

static void scan(struct orph_run *r)
{
	struct orph_scan *s = &r->scan;
	struct buf expr = BUF_INIT;
	/* Resumed: from the watermark (inclusive: uploads in its second may
	 * not all have been listed; those that were are not counted twice). */
	const char *from = s->watermark[0] ? s->watermark : s->window_from[0] ? s->window_from : NULL;
	orph_expression(&expr, r->o->types, from, s->window_to);
	log_info(s->resumed ? "resuming the scan" : "starting a scan", LF_S("types", s->types),
		 LF_I("days", s->days), LF_S("window_from", s->window_from[0] ? s->window_from : "-"),
		 LF_S("window_to", s->window_to), LF_S("from", from ? from : "-"),
		 LF_I("checked_before", s->checked));
	struct task_op op;
	task_op_begin(r->t, &op, "scan");
	scan_pages(r, buf_str(&expr));
	if (!r->fatal && !r->o->dry_run && orph_scan_reload(r))
		storage_failed(r);
	op.processed = r->run.listed;
	op.succeeded = r->run.referenced + r->run.too_new;
	op.failed = r->run.orphaned;
	json_object_set_new(op.entry, "pages", json_integer(r->pages));
	/* Where the time went: Cloudinary's answers, and the database's
	 * loads and anti-joins (make bench reports them per million). */
	json_object_set_new(op.entry, "listing_s", json_real(r->listing_s));
	json_object_set_new(op.entry, "database_s", json_real(r->db_s));
	json_object_set_new(op.entry, "stop_reason", json_string(stop_name(r->stop)));
	task_op_end(&op, r->fatal ? RUN_FAILED : s->complete ? RUN_SUCCEEDED : RUN_PARTIAL, NULL);
	buf_release(&expr);
}

/* ---------------------------------------------------------------- delete */

static bool delete_allowed(struct orph_run *r)
{
	r->ratio = r->scan.checked ? (double)r->scan.orphaned / (double)r->scan.checked : 0;
	if (r->ratio <= r->o->max_orphan_ratio)
		return true;
	r->delete_refused = true;
	log_warn("refusing to delete: too many of the scanned assets look orphaned",
		 LF_F("orphan_ratio", r->ratio), LF_F("max_orphan_ratio", r->o->max_orphan_ratio),
		 LF_S("hint", "a broken jobrun.asset_refs makes everything look orphaned; "
			      "check it, or allow more with --max-orphan-ratio"));
	return false;
}

/* Up to `want` candidates of one type into ids/row_ids, re-checked against
 * jobrun.asset_refs by the statement that reads them; those referenced
 * again are skipped (and closed), so the batch is filled from the next
 * ones. The strings are copies (*names). 1 when the type has no more, 0
 * when the batch is full, -1 on a database error. */
static int fill_batch(struct orph_run *r, const char *type, long long *after, size_t want,
		      char **ids, long long *row_ids, size_t *k)
{
	while (*k < want) {
		struct db_result *res = orph_delete_candidates(r, type, *after, (long)(want - *k));
		if (!res)
			return -1;
		int rows = db_rows(res);
		for (int i = 0; i < rows; i++) {
			*after = db_ll(res, i, 0, *after);
			if (db_bool(res, i, 2)) {
				r->rechecked_referenced++;
				log_info("referenced again since the scan: not deleted",
					 LF_S("resource_type", type), LF_S("public_id", db_value(res, i, 1)));
				continue;
			}
			row_ids[*k] = db_ll(res, i, 0, 0);
			ids[(*k)++] = xstrdup(db_value(res, i, 1));
		}
		db_result_free(res);
		if (rows == 0)
			return 1;
	}
	return 0;
}

/* The answers of one delete call: findings of what is gone are marked. */
static int record_deletes(struct orph_run *r, const char *type, char **ids,
			  const long long *row_ids, size_t k, const enum cloudinary_deleted *out)
{
	long long gone[CLOUDINARY_DELETE_MAX];
	size_t n_gone = 0;
	for (size_t i = 0; i < k; i++) {
		if (out[i] == CLD_FAILED) {
			r->delete_failed++;
			task_problem(r->t, "delete of %s '%s' failed", type, ids[i]);
			continue;
		}
		*(out[i] == CLD_DELETED ? &r->deleted : &r->not_found) += 1;
		gone[n_gone++] = row_ids[i];
		log_info(out[i] == CLD_DELETED ? "deleted" : "already gone", LF_S("resource_type", type),
			 LF_S("public_id", ids[i]));
	}
	return orph_mark_deleted(r, gone, n_gone);
}

/* One delete call for one type, filled and re-checked right before it. 1
 * when the type has no more candidates, 0 to go on, -1 to stop deleting. */
static int delete_batch(struct orph_run *r, const char *type, long long *after, long *left)
{
	size_t want = *left < CLOUDINARY_DELETE_MAX ? (size_t)*left : CLOUDINARY_DELETE_MAX, k = 0;
	char *ids[CLOUDINARY_DELETE_MAX];
	long long row_ids[CLOUDINARY_DELETE_MAX];
	int ret = fill_batch(r, type, after, want, ids, row_ids, &k);
	if (ret < 0)
		storage_failed(r);
	if (ret >= 0 && r->o->dry_run) {
		for (size_t i = 0; i < k; i++)
			log_info("would delete", LF_S("resource_type", type), LF_S("public_id", ids[i]));
		r->would_delete += (long long)k;
	} else if (ret >= 0 && k) {
		enum cloudinary_deleted out[CLOUDINARY_DELETE_MAX];
		char err[512];
		enum provider_result pr = cloudinary_delete(&r->cld, type, NULL, (const char *const *)ids,
							    k, out, err, sizeof(err));
		if (pr != PROVIDER_OK) {
			setback(r, pr, err);
			ret = -1;
		} else if (record_deletes(r, type, ids, row_ids, k, out)) {
			storage_failed(r);
			ret = -1;
		}
	}
	*left -= (long)k;
	for (size_t i = 0; i < k; i++)
		free(ids[i]);
	return ret;
}

static void delete_orphans(struct orph_run *r)
{
	struct task_op op;
	task_op_begin(r->t, &op, "delete");
	long left = r->o->max_delete;
	if (delete_allowed(r)) {
		for (int t = 0; t < ORPH_NTYPES && left > 0; t++) {
			long long after = 0;
			int rc = 0;
			while (r->o->types[t] && left > 0 && rc == 0 && !must_stop(r))
				rc = delete_batch(r, orphans_type_name(t), &after, &left);
			if (rc < 0)
				break;
		}
	}
	op.processed = r->deleted + r->not_found + r->delete_failed + r->would_delete;
	op.succeeded = r->deleted + r->not_found;
	op.failed = r->delete_failed;
	json_object_set_new(op.entry, "refused", json_boolean(r->delete_refused));
	task_op_end(&op, r->fatal ? RUN_FAILED
			 : r->delete_refused || r->delete_failed ? RUN_PARTIAL
								 : RUN_SUCCEEDED,
		    r->delete_refused ? "refused: too many of the scanned assets look orphaned"
				      : NULL);
}

/* ---------------------------------------------------------------- report */

static const char *const report_header[] = { "resource_type", "public_id", "bytes", "format",
					     "created_at", "uploaded_at", "secure_url",
					     "first_seen_at", "last_seen_at", "deleted_at" };
#define REPORT_COLUMNS (sizeof(report_header) / sizeof(report_header[0]))

/* Rows in batches by id: memory stays flat however many findings. */
static int write_report_rows(struct orph_run *r, struct csv_file *f)
{
	for (size_t c = 0; c < REPORT_COLUMNS; c++)
		csv_field(&f->row, report_header[c], c == 0);
	csv_end_row(&f->row);
	for (long long after = 0;;) {
		struct db_result *res = orph_open_findings(r, after, ORPH_REPORT_BATCH);
		if (!res)
			return -1;
		int rows = db_rows(res);
		for (int i = 0; i < rows; i++) {
			after = db_ll(res, i, 0, after);
			for (size_t c = 0; c < REPORT_COLUMNS; c++)
				csv_field(&f->row, db_value(res, i, (int)c + 1), c == 0);
			csv_end_row(&f->row);
		}
		db_result_free(res);
		r->report_rows += rows;
		if (csv_file_flush(f))
			return -1;
		if (rows < ORPH_REPORT_BATCH)
			return 0;
	}
}

static int write_report(struct orph_run *r)
{
	char name[96];
	csv_report_name(name, sizeof(name), "orphaned_files_", clock_wall());
	struct csv_file f;
	if (csv_file_open(&f, r->o->report_dir, name))
		return -1;
	if (write_report_rows(r, &f)) {
		csv_file_abort(&f);
		return -1;
	}
	snprintf(r->report_path, sizeof(r->report_path), "%s", f.path);
	return csv_file_commit(&f);
}

/* A dry run writes no report: it names what it found. */
static int print_dry_findings(struct orph_run *r)
{
	struct db_result *res = orph_open_findings(r, 0, ORPH_MAIL_LIST);
	if (!res)
		return -1;
	for (int i = 0; i < db_rows(res); i++)
		log_info("orphan (dry run)", LF_S("resource_type", db_value(res, i, 1)),
			 LF_S("public_id", db_value(res, i, 2)), LF_S("uploaded_at", db_value(res, i, 6)));
	db_result_free(res);
	r->report_rows = r->scan.orphaned;
	return 0;
}

/* --------------------------------------------------------------- summary */

static double pct(long long part, long long whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Share of the window checked; -1 when unknown (no search answered yet). */
static double coverage(const struct orph_run *r)
{
	const struct orph_scan *s = &r->scan;
	if (s->complete)
		return 100.0;
	if (s->remaining < 0)
		return -1;
	return pct(s->checked, s->checked + s->remaining);
}

/* The lines the scripts printed, in logfmt, plus the report and usage. */
static void print_summary(struct orph_run *r, char *usage, size_t usage_len, double *usage_pct)
{
	const struct orph_scan *s = &r->scan;
	char line[160];
	snprintf(line, sizeof(line), "Total files: %lld", s->checked);
	log_info(line, LF_I("total", s->checked));
	snprintf(line, sizeof(line), "Valid files: %lld (%.1f %%)", s->referenced,
		 pct(s->referenced, s->checked));
	log_info(line, LF_I("valid", s->referenced));
	snprintf(line, sizeof(line), "Orphaned files: %lld (%.1f %%)", s->orphaned,
		 pct(s->orphaned, s->checked));
	log_info(line, LF_I("orphaned", s->orphaned), LF_I("new", r->run.new_orphans),
		 LF_I("resolved", r->run.resolved));
	if (s->too_new) {
		snprintf(line, sizeof(line), "Too new to judge: %lld (%.1f %%)", s->too_new,
			 pct(s->too_new, s->checked));
		log_info(line, LF_I("too_new", s->too_new), LF_F("min_age_s", r->o->min_age_s));
	}
	double cov = coverage(r);
	snprintf(line, sizeof(line), "Window covered: %s%.1f %%", cov < 0 ? "unknown " : "",
		 cov < 0 ? 0.0 : cov);
	log_info(line, LF_S("window_from", s->window_from[0] ? s->window_from : "-"),
		 LF_S("window_to", s->window_to), LF_S("watermark", s->watermark[0] ? s->watermark : "-"),
		 LF_B("complete", s->complete), LF_S("stop_reason", stop_name(r->stop)));
	if (r->report_path[0]) {
		snprintf(line, sizeof(line), "Report: %.140s", r->report_path);
		log_info(line, LF_S("report", r->report_path), LF_I("rows", r->report_rows));
	}
	*usage_pct = r->cld_open ? cloudinary_usage_text(&r->cld, usage, usage_len) : -1;
	if (!r->cld_open)
		snprintf(usage, usage_len, "API calls used: unknown");
	log_info(usage, LF_I("calls", r->cld.calls));
	if (*usage_pct > 80.0)
		log_warn("High API usage: more than 80 % of Cloudinary's hourly Admin API limit is used",
			 LF_F("percent", *usage_pct));
}

static void summarize(struct orph_run *r)
{
	struct run *run = &r->t->run;
	/* An orphan is a finding, not a failure: the run's counts say how many
	 * files were judged, and how many deletes failed. */
	run->processed = r->run.listed;
	run->succeeded = r->run.listed;
	run->failed = r->delete_failed;
	const struct orph_scan *s = &r->scan;
	json_t *o = run->summary;
	double cov = coverage(r);
	json_object_set_new(o, "scan",
		json_pack("{s:s, s:I, s:o, s:s, s:o, s:b, s:b, s:o, s:I, s:I, s:I, s:I}",
			  "types", s->types, "days", (json_int_t)s->days,
			  "window_from", s->window_from[0] ? json_string(s->window_from) : json_null(),
			  "window_to", s->window_to,
			  "watermark", s->watermark[0] ? json_string(s->watermark) : json_null(),
			  "resumed", s->resumed, "complete", s->complete,
			  "coverage_pct", cov < 0 ? json_null() : json_real(cov),
			  "checked", (json_int_t)s->checked, "referenced", (json_int_t)s->referenced,
			  "orphaned", (json_int_t)s->orphaned, "too_new", (json_int_t)s->too_new));
	json_object_set_new(o, "this_run",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pages", (json_int_t)r->pages,
			  "listed", (json_int_t)r->run.listed, "referenced", (json_int_t)r->run.referenced,
			  "orphaned", (json_int_t)r->run.orphaned, "too_new", (json_int_t)r->run.too_new,
			  "new_orphans", (json_int_t)r->run.new_orphans,
			  "resolved", (json_int_t)r->run.resolved, "skipped", (json_int_t)r->skipped));
	json_object_set_new(o, "report", r->report_path[0] ? json_string(r->report_path) : json_null());
	json_object_set_new(o, "report_rows", json_integer(r->report_rows));
	if (r->o->delete)
		json_object_set_new(o, "delete",
			json_pack("{s:b, s:f, s:f, s:I, s:I, s:I, s:I, s:I}", "refused", r->delete_refused,
				  "orphan_ratio", r->ratio, "max_orphan_ratio", r->o->max_orphan_ratio,
				  "deleted", (json_int_t)r->deleted, "not_found", (json_int_t)r->not_found,
				  "failed", (json_int_t)r->delete_failed,
				  "referenced_again", (json_int_t)r->rechecked_referenced,
				  "would_delete", (json_int_t)r->would_delete));
	if (r->cld_open)
		json_object_set_new(o, "api", cloudinary_usage_json(&r->cld));
	json_object_set_new(o, "stop_reason", json_string(stop_name(r->stop)));
}

/* ------------------------------------------------------------------ mail */

/* A public_id on one line of the mail: control characters become spaces. */
static void add_plain(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		buf_addch(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static int mail_listing(struct orph_run *r, struct buf *body)
{
	struct db_result *res = orph_open_findings(r, 0, ORPH_MAIL_LIST);
	if (!res)
		return -1;
	int rows = db_rows(res);
	buf_addf(body, "\n%s %d of %lld:\n", rows < r->report_rows ? "The first" : "All", rows,
		 r->report_rows);
	for (int i = 0; i < rows; i++) {
		buf_addf(body, "  %-6s ", db_value(res, i, 1));
		add_plain(body, db_value(res, i, 2));
		const char *bytes = db_value(res, i, 3), *at = db_value(res, i, 6);
		buf_addf(body, "  %s bytes, uploaded %s%s\n", bytes ? bytes : "?", at ? at : "?",
			 db_value(res, i, 10) ? ", deleted" : "");
	}
	db_result_free(res);
	return 0;
}

static void mail_body(struct orph_run *r, struct buf *body, const char *usage, double usage_pct)
{
	const struct orph_scan *s = &r->scan;
	double cov = coverage(r);
	buf_addf(body, "jobrun orphans (run %lld) found Cloudinary files that no row of the app "
		 "references (jobrun.asset_refs).\n\n", r->t->run.id);
	buf_addf(body, "Total files: %lld\nValid files: %lld (%.1f %%)\nOrphaned files: %lld "
		 "(%.1f %%)\nToo new to judge: %lld\n", s->checked, s->referenced,
		 pct(s->referenced, s->checked), s->orphaned, pct(s->orphaned, s->checked), s->too_new);
	buf_addf(body, "Window: uploads %s%s to %s, %s", s->window_from[0] ? "from " : "",
		 s->window_from[0] ? s->window_from : "of all time", s->window_to,
		 s->complete ? "fully covered\n" : "covered ");
	if (!s->complete)
		buf_addf(body, cov < 0 ? "partly (the rest next run)\n" : "%.1f %% (the rest next run)\n", cov);
	buf_addf(body, "%s\n", usage);
	if (usage_pct > 80.0)
		buf_adds(body, "Warning: high API usage, more than 80 % of the hourly limit.\n");
	if (r->delete_refused)
		buf_addf(body, "\nNothing was deleted: %.1f %% of the scanned assets look orphaned, "
			 "more than the allowed %.1f %%. A broken jobrun.asset_refs binding makes "
			 "everything look orphaned: check it, or allow more with --max-orphan-ratio.\n",
			 100.0 * r->ratio, 100.0 * r->o->max_orphan_ratio);
	else if (r->o->delete)
		buf_addf(body, "\nDeleted: %lld (already gone: %lld, failed: %lld, referenced again "
			 "before the delete and kept: %lld).\n", r->deleted, r->not_found,
			 r->delete_failed, r->rechecked_referenced);
}

static char *read_report(const char *path, size_t *len)
{
	struct stat st;
	if (stat(path, &st) || st.st_size < 0 || (size_t)st.st_size > ORPH_MAIL_ATTACH_MAX)
		return NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *data = xmalloc((size_t)st.st_size + 1);
	*len = fread(data, 1, (size_t)st.st_size, fp);
	fclose(fp);
	return data;
}

static void send_mail(struct orph_run *r, const char *usage, double usage_pct)
{
	struct buf body = BUF_INIT;
	char subject[160];
	snprintf(subject, sizeof(subject), "jobrun orphans: %lld orphaned Cloudinary file%s",
		 r->report_rows, r->report_rows == 1 ? "" : "s");
	mail_body(r, &body, usage, usage_pct);
	if (mail_listing(r, &body))
		log_warn("could not list the findings in the mail");
	size_t len = 0;
	char *data = read_report(r->report_path, &len);
	const char *name = strrchr(r->report_path, '/');
	name = name ? name + 1 : r->report_path;
	struct mail_attachment att = { name, "text/csv; charset=utf-8", data, len };
	if (data)
		buf_addf(&body, "\nThe full list is attached (%s) and kept in jobrun.orphans.\n", name);
	else
		buf_addf(&body, "\nThe full list is in %s (too big to attach) and in jobrun.orphans.\n",
			 r->report_path);
	struct mail_message msg = { .subject = subject, .body = buf_str(&body),
				     .attachments = data ? &att : NULL, .n_attachments = data ? 1 : 0 };
	struct mail_result res;
	mail_send(&r->o->mail, &msg, &res);
	json_object_set_new(r->t->run.summary, "mail", mail_result_json(&res));
	free(data);
	buf_release(&body);
}

/* ------------------------------------------------------------------- run */

static enum run_status final_status(const struct orph_run *r)
{
	if (r->fatal)
		return RUN_FAILED;
	if (deadline_reason() != STOP_NONE || interrupted(r))
		return RUN_INTERRUPTED;
	/* The hourly budget was spent before this run could do anything. */
	if (r->stop == ORPH_STOP_RATE_LIMITED && r->pages == 0 && !r->o->delete)
		return RUN_SKIPPED;
	if (r->failed_requests || r->stop == ORPH_STOP_RATE_LIMITED ||
	    r->stop == ORPH_STOP_FAILED || r->delete_refused || r->delete_failed)
		return RUN_PARTIAL;
	return RUN_SUCCEEDED;
}

/* After the scan: delete, report, mail, summary. The whole tail is skipped
 * when the run is stopping (the 5-second promise) or the database failed:
 * the findings are saved, and the next run reports them. */
static void finish(struct orph_run *r)
{
	if (r->o->delete && !must_stop(r) && r->scan.checked)
		delete_orphans(r);
	/* An unwritable report directory fails the run (error() says why); the
	 * findings are kept. */
	if (!must_stop(r) && (r->o->dry_run ? print_dry_findings(r) : write_report(r)))
		r->fatal = true;
	char usage[128];
	double usage_pct;
	print_summary(r, usage, sizeof(usage), &usage_pct);
	if (!r->fatal && !interrupted(r) && !r->o->dry_run && r->report_rows > 0) {
		if (r->o->mail_on)
			send_mail(r, usage, usage_pct);
		else
			log_warn("orphans found, but no mail is configured (SMTP_URL, ADMIN_EMAIL)");
	}
	summarize(r);
}

enum run_status orphans_run(struct task *t, struct orphans_options *o)
{
	struct orph_run r = { .t = t, .db = t->db, .o = o };
	enum run_status status = RUN_FAILED;
	if (binding_require(r.db, BINDING_ASSET_REFS, NULL) || orph_scan_open(&r))
		goto out;
	r.cld_open = true;
	if (cloudinary_open(&r.cld, t, &o->cld, o->limit, ORPH_MAX_SLOT_WAIT_S))
		goto out;
	scan(&r);
	finish(&r);
	status = final_status(&r);
out:
	if (r.cld_open)
		cloudinary_close(&r.cld);
	return status;
}
