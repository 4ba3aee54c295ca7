/*
 * primecache writes: each API response becomes one transaction, COPY into a
 * temp table then one upsert, so a kill loses at most the request in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "primecache_internal.h"
#include "task.h"
#include "xalloc.h"

static const char volumes_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS pc_volumes_in ("
	" id integer, name text, start_year integer, publisher_id integer, publisher text,"
	" count_of_issues integer, first_issue_id integer, last_issue_id integer, image_url text,"
	" site_url text, date_added timestamp, date_last_updated timestamp, data jsonb,"
	" refresh_s double precision) ON COMMIT DELETE ROWS";

/* Counts what the batch did against the rows as they were before it. */
static const char volumes_upsert_sql[] =
	"WITH input AS (SELECT DISTINCT ON (id) * FROM pc_volumes_in ORDER BY id), "
	"prev AS (SELECT i.id, v.fetched_at IS NOT NULL AS cached, v.date_last_updated AS old_dlu "
	"         FROM input i LEFT JOIN comicvine.volumes v ON v.id = i.id), "
	"up AS (INSERT INTO comicvine.volumes AS v (id, name, start_year, publisher_id, publisher,"
	"         count_of_issues, first_issue_id, last_issue_id, image_url, site_url, date_added,"
	"         date_last_updated, data, fetched_at, refresh_after, fail_count, last_error,"
	"         retry_after, gone_at)"
	"       SELECT id, name, start_year, publisher_id, publisher, count_of_issues,"
	"         first_issue_id, last_issue_id, image_url, site_url, date_added, date_last_updated,"
	"         data, now(), now() + make_interval(secs => refresh_s), 0, NULL, NULL, NULL"
	"       FROM input "
	"       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, start_year = EXCLUDED.start_year,"
	"         publisher_id = EXCLUDED.publisher_id, publisher = EXCLUDED.publisher,"
	"         count_of_issues = EXCLUDED.count_of_issues,"
	"         first_issue_id = EXCLUDED.first_issue_id, last_issue_id = EXCLUDED.last_issue_id,"
	"         image_url = EXCLUDED.image_url, site_url = EXCLUDED.site_url,"
	"         date_added = EXCLUDED.date_added, date_last_updated = EXCLUDED.date_last_updated,"
	"         data = EXCLUDED.data, fetched_at = EXCLUDED.fetched_at,"
	"         refresh_after = EXCLUDED.refresh_after, fail_count = 0, last_error = NULL,"
	"         retry_after = NULL, gone_at = NULL "
	"       RETURNING v.id) "
	"SELECT count(*) FILTER (WHERE NOT p.cached),"
	"  count(*) FILTER (WHERE p.cached AND p.old_dlu IS DISTINCT FROM i.date_last_updated),"
	"  count(*) FILTER (WHERE p.cached AND p.old_dlu IS NOT DISTINCT FROM i.date_last_updated),"
	"  (SELECT count(*) FROM up) "
	"FROM prev p JOIN input i USING (id)";

static const char issues_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS pc_issues_in ("
	" id integer, volume_id integer, issue_number text, name text, cover_date date,"
	" store_date date, date_added timestamp, date_last_updated timestamp, image_url text,"
	" site_url text, data jsonb) ON COMMIT DELETE ROWS";

/* The upsert and its commit travel in one round trip. */
static const char issues_upsert_and_commit_sql[] =
	"INSERT INTO comicvine.issues AS i (id, volume_id, issue_number, name, cover_date, store_date,"
	"  date_added, date_last_updated, image_url, site_url, data, fetched_at) "
	"SELECT DISTINCT ON (id) id, volume_id, issue_number, name, cover_date, store_date,"
	"  date_added, date_last_updated, image_url, site_url, data, now() "
	"FROM pc_issues_in ORDER BY id "
	"ON CONFLICT (id) DO UPDATE SET volume_id = EXCLUDED.volume_id,"
	"  issue_number = EXCLUDED.issue_number, name = EXCLUDED.name,"
	"  cover_date = EXCLUDED.cover_date, store_date = EXCLUDED.store_date,"
	"  date_added = EXCLUDED.date_added, date_last_updated = EXCLUDED.date_last_updated,"
	"  image_url = EXCLUDED.image_url, site_url = EXCLUDED.site_url, data = EXCLUDED.data,"
	"  fetched_at = EXCLUDED.fetched_at; "
	"COMMIT";

static void field_long(struct buf *row, long v)
{
	char n[24];
	snprintf(n, sizeof(n), "%ld", v);
	db_copy_field(row, v >= 0 ? n : NULL, false);
}

static void field_json(struct buf *row, json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT | JSON_PRESERVE_ORDER);
	db_copy_field(row, text ? text : "{}", false);
	free(text);
}

static void volume_row(struct buf *rows, const struct cv_volume *v, double refresh_s)
{
	char id[24], refresh[32];
	snprintf(id, sizeof(id), "%ld", v->id);
	snprintf(refresh, sizeof(refresh), "%.0f", refresh_s);
	db_copy_field(rows, id, true);
	db_copy_field(rows, v->name, false);
	field_long(rows, v->start_year > 0 ? v->start_year : -1);
	field_long(rows, v->publisher_id);
	db_copy_field(rows, v->publisher, false);
	field_long(rows, v->count_of_issues);
	field_long(rows, v->first_issue_id);
	field_long(rows, v->last_issue_id);
	db_copy_field(rows, v->image_url, false);
	db_copy_field(rows, v->site_url, false);
	db_copy_field(rows, v->date_added, false);
	db_copy_field(rows, v->date_last_updated, false);
	field_json(rows, v->record);
	db_copy_field(rows, refresh, false);
	db_copy_end_row(rows);
}

static void issue_row(struct buf *rows, const struct cv_issue *is)
{
	char id[24];
	snprintf(id, sizeof(id), "%ld", is->id);
	db_copy_field(rows, id, true);
	field_long(rows, is->volume_id);
	db_copy_field(rows, is->issue_number, false);
	db_copy_field(rows, is->name, false);
	db_copy_field(rows, is->cover_date, false);
	db_copy_field(rows, is->store_date, false);
	db_copy_field(rows, is->date_added, false);
	db_copy_field(rows, is->date_last_updated, false);
	db_copy_field(rows, is->image_url, false);
	db_copy_field(rows, is->site_url, false);
	field_json(rows, is->record);
	db_copy_end_row(rows);
}

/* BEGIN, temp table, COPY: the common first half of every batch write, in
 * as few round trips as libpq allows (one script, then the COPY). */
static int load(struct db *db, const char *temp_sql, const char *table, const struct buf *rows)
{
	char copy[96];
	snprintf(copy, sizeof(copy), "COPY %s FROM STDIN", table);
	char *begin = xasprintf("BEGIN; %s", temp_sql);
	int ret = db_exec_script(db, begin);
	free(begin);
	if (ret || db_copy_in(db, copy, buf_str(rows), rows->len)) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int pc_store_volumes(struct pc_run *r, json_t *results, long *returned, size_t *n_returned,
		     size_t *unusable)
{
	struct buf rows = BUF_INIT;
	size_t i, cap = *n_returned;
	json_t *record;
	*n_returned = 0;
	*unusable = 0;
	json_array_foreach(results, i, record) {
		struct cv_volume v;
		char why[128];
		if (cv_volume_from_json(record, &v, why, sizeof(why))) {
			log_warn("skipped a volume record", LF_S("reason", why));
			(*unusable)++;
			continue;
		}
		if (*n_returned < cap)
			returned[(*n_returned)++] = v.id;
		volume_row(&rows, &v, cv_refresh_interval(&r->cv.cfg, v.start_year, r->current_year, v.id));
	}
	int ret = -1;
	struct db_result *res = NULL;
	if (!rows.len) {
		ret = 0;
		goto out;
	}
	if (load(r->db, volumes_temp_sql, "pc_volumes_in", &rows))
		goto out;
	res = db_query(r->db, volumes_upsert_sql, 0, NULL);
	if (!res || db_commit(r->db)) {
		db_rollback(r->db);
		goto out;
	}
	r->st.added += db_ll(res, 0, 0, 0);
	r->st.refreshed += db_ll(res, 0, 1, 0);
	r->st.unchanged += db_ll(res, 0, 2, 0);
	ret = 0;
out:
	db_result_free(res);
	buf_release(&rows);
	return ret;
}

int pc_store_issues(struct pc_run *r, json_t *results, size_t *unusable)
{
	struct buf rows = BUF_INIT;
	size_t i;
	json_t *record;
	long long n = 0;
	*unusable = 0;
	json_array_foreach(results, i, record) {
		struct cv_issue is;
		char why[128];
		if (cv_issue_from_json(record, &is, why, sizeof(why))) {
			log_warn("skipped an issue record", LF_S("reason", why));
			(*unusable)++;
			continue;
		}
		issue_row(&rows, &is);
		n++;
	}
	int ret = 0;
	if (rows.len) {
		ret = load(r->db, issues_temp_sql, "pc_issues_in", &rows);
		if (!ret && db_exec_script(r->db, issues_upsert_and_commit_sql)) {
			db_rollback(r->db);
			ret = -1;
		}
	}
	if (!ret)
		r->st.issues += n;
	buf_release(&rows);
	return ret;
}

int pc_mark_gone(struct pc_run *r, long id)
{
	char text[24];
	snprintf(text, sizeof(text), "%ld", id);
	const char *params[] = { text };
	int ret = db_exec(r->db,
			  "INSERT INTO comicvine.volumes (id, gone_at, last_error) "
			  "VALUES ($1::integer, now(), 'gone: ComicVine answered 101 (object not found)') "
			  "ON CONFLICT (id) DO UPDATE SET gone_at = now(), last_error = EXCLUDED.last_error",
			  1, params);
	if (!ret)
		r->st.gone++;
	return ret;
}

/* Backoff 1, 2, 4 … days, at most 30, before the volume is asked again. */
int pc_mark_failed(struct pc_run *r, long id, const char *reason)
{
	char text[24];
	snprintf(text, sizeof(text), "%ld", id);
	const char *params[] = { text, reason };
	int ret = db_exec(r->db,
			  "INSERT INTO comicvine.volumes AS v (id, fail_count, last_error, retry_after) "
			  "VALUES ($1::integer, 1, $2, now() + interval '1 day') "
			  "ON CONFLICT (id) DO UPDATE SET fail_count = v.fail_count + 1, last_error = $2, "
			  "retry_after = now() + least(interval '1 day' * power(2, v.fail_count), "
			  "interval '30 days')",
			  2, params);
	if (!ret)
		r->st.failed++;
	return ret;
}

int pc_mark_issues_fetched(struct pc_run *r, const struct pc_issue_work *work, size_t n)
{
	struct buf ids = BUF_INIT, secs = BUF_INIT;
	buf_addch(&ids, '{');
	buf_addch(&secs, '{');
	for (size_t i = 0; i < n; i++) {
		double s = cv_refresh_interval(&r->cv.cfg, work[i].start_year, r->current_year, work[i].id);
		buf_addf(&ids, "%s%ld", i ? "," : "", work[i].id);
		buf_addf(&secs, "%s%.0f", i ? "," : "", s);
	}
	buf_addch(&ids, '}');
	buf_addch(&secs, '}');
	const char *params[] = { buf_str(&ids), buf_str(&secs) };
	int ret = db_exec(r->db,
			  "UPDATE comicvine.volumes v SET issues_fetched_at = now(), "
			  "issues_date_last_updated = v.date_last_updated, "
			  "issues_refresh_after = now() + make_interval(secs => u.secs) "
			  "FROM unnest($1::integer[], $2::double precision[]) AS u(id, secs) "
			  "WHERE v.id = u.id",
			  2, params);
	buf_release(&ids);
	buf_release(&secs);
	return ret;
}

int pc_mark_empty_issue_lists(struct pc_run *r, long long *count)
{
	struct db_result *res = db_query(
		r->db,
		"UPDATE comicvine.volumes v SET issues_fetched_at = now(), "
		"issues_date_last_updated = v.date_last_updated, issues_refresh_after = v.refresh_after "
		"FROM comicvine.tracked_volumes t WHERE t.volume_id = v.id AND v.count_of_issues = 0 "
		"AND v.fetched_at IS NOT NULL AND v.gone_at IS NULL AND " PC_ISSUES_STALE,
		0, NULL);
	if (!res)
		return -1;
	*count = db_affected(res);
	db_result_free(res);
	return 0;
}
