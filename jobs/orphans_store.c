/*
 * orphans writes and reads. Each page of search results is one
 * transaction: COPY into a temp table, then one statement that judges the
 * page against jobrun.asset_refs (an anti-join: Postgres does the set logic,
 * jobrun holds one page at a time), upserts the findings, closes the ones
 * referenced again and moves the scan's watermark. A kill loses at most the
 * page in hand; the next run resumes from the watermark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "orphans_internal.h"
#include "task.h"
#include "xalloc.h"

#define ISO_UTC(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char page_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS orph_page (resource_type text, public_id text,"
	" bytes bigint, format text, created_at timestamptz, uploaded_at timestamptz,"
	" secure_url text) ON COMMIT DELETE ROWS";

/* A dry run's findings: the session's own, never jobrun.orphans. */
static const char dry_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS orph_dry (id bigserial, resource_type text,"
	" public_id text, bytes bigint, format text, created_at timestamptz,"
	" uploaded_at timestamptz, secure_url text, seen_at timestamptz DEFAULT now(),"
	" UNIQUE (resource_type, public_id))";

/*
 * The judgement, shared by the real and the dry statement. $1 run id, $2
 * --min-age in seconds, $3 the types key, $4 days. An asset without any
 * timestamp is treated as too new: its age is unknown, so it is not called
 * an orphan. `counted`: listed again at the watermark, already counted by
 * the run that got there.
 */
#define JUDGED                                                                                  \
	"WITH page AS (SELECT DISTINCT ON (resource_type, public_id) * FROM orph_page"          \
	"  ORDER BY resource_type, public_id), "                                                \
	"scan AS (SELECT watermark, watermark_keys FROM jobrun.orphan_scans"                    \
	"  WHERE types = $3 AND days = $4::integer), "                                          \
	"judged AS (SELECT p.*, coalesce(p.uploaded_at, p.created_at) AS ts,"                   \
	"  EXISTS (SELECT 1 FROM jobrun.asset_refs r WHERE r.public_id = p.public_id"           \
	"          AND r.resource_type = p.resource_type) AS referenced,"                       \
	"  coalesce(coalesce(p.uploaded_at, p.created_at)"                                      \
	"           > now() - make_interval(secs => $2::float8), true) AS too_new,"             \
	"  coalesce((SELECT s.watermark = coalesce(p.uploaded_at, p.created_at)"                \
	"            AND p.resource_type || '/' || p.public_id = ANY (s.watermark_keys)"        \
	"            FROM scan s), false) AS counted"                                           \
	"  FROM page p), "                                                                      \
	"tally AS (SELECT count(*) FILTER (WHERE NOT counted) AS listed,"                       \
	"  count(*) FILTER (WHERE NOT counted AND referenced) AS referenced,"                   \
	"  count(*) FILTER (WHERE NOT counted AND NOT referenced AND NOT too_new) AS orphaned," \
	"  count(*) FILTER (WHERE NOT counted AND NOT referenced AND too_new) AS too_new,"      \
	"  max(ts) AS wm FROM judged) "

/* A deleted finding listed again with a later upload is a new asset under
 * the same id: it is open again. */
static const char page_store_sql[] =
	JUDGED
	", found AS (INSERT INTO jobrun.orphans AS o (resource_type, public_id, bytes, format,"
	"   created_at, uploaded_at, secure_url, first_seen_run, last_seen_run)"
	"  SELECT resource_type, public_id, bytes, format, created_at, uploaded_at, secure_url,"
	"   $1::bigint, $1::bigint FROM judged WHERE NOT referenced AND NOT too_new"
	"  ON CONFLICT (resource_type, public_id) DO UPDATE SET bytes = EXCLUDED.bytes,"
	"   format = EXCLUDED.format, created_at = EXCLUDED.created_at,"
	"   uploaded_at = EXCLUDED.uploaded_at, secure_url = EXCLUDED.secure_url,"
	"   last_seen_run = EXCLUDED.last_seen_run, last_seen_at = now(), resolved_at = NULL,"
	"   deleted_at = CASE WHEN EXCLUDED.uploaded_at > o.deleted_at THEN NULL"
	"                ELSE o.deleted_at END"
	"  RETURNING (xmax = 0) AS inserted), "
	"resolved AS (UPDATE jobrun.orphans o SET resolved_at = now(), last_seen_run = $1::bigint,"
	"   last_seen_at = now() FROM judged j WHERE j.referenced"
	"   AND o.resource_type = j.resource_type AND o.public_id = j.public_id"
	"   AND o.resolved_at IS NULL AND o.deleted_at IS NULL RETURNING 1), "
	"keys AS (SELECT coalesce(array_agg(j.resource_type || '/' || j.public_id), '{}') AS k"
	"  FROM judged j, tally t WHERE j.ts = t.wm), "
	"state AS (UPDATE jobrun.orphan_scans s SET checked = s.checked + t.listed,"
	"   referenced = s.referenced + t.referenced, orphaned = s.orphaned + t.orphaned,"
	"   too_new = s.too_new + t.too_new,"
	"   watermark = CASE WHEN t.wm > s.watermark OR s.watermark IS NULL THEN t.wm"
	"               ELSE s.watermark END,"
	"   watermark_keys = CASE WHEN t.wm IS NULL OR t.wm < s.watermark THEN s.watermark_keys"
	"                    WHEN t.wm = s.watermark THEN ARRAY(SELECT DISTINCT x"
	"                      FROM unnest(s.watermark_keys || (SELECT k FROM keys)) x)"
	"                    ELSE (SELECT k FROM keys) END,"
	"   remaining = $5::bigint, updated_at = now()"
	"  FROM tally t WHERE s.types = $3 AND s.days = $4::integer RETURNING 1) "
	"SELECT t.listed, t.referenced, t.orphaned, t.too_new,"
	" (SELECT count(*) FROM found WHERE inserted), (SELECT count(*) FROM resolved),"
	" (SELECT count(*) FROM state) FROM tally t";

static const char page_dry_sql[] =
	JUDGED
	", found AS (INSERT INTO orph_dry (resource_type, public_id, bytes, format, created_at,"
	"   uploaded_at, secure_url)"
	"  SELECT resource_type, public_id, bytes, format, created_at, uploaded_at, secure_url"
	"  FROM judged WHERE NOT referenced AND NOT too_new"
	"  ON CONFLICT (resource_type, public_id) DO NOTHING RETURNING 1) "
	"SELECT t.listed, t.referenced, t.orphaned, t.too_new,"
	" (SELECT count(*) FROM found), 0, 1 FROM tally t "
	/* $1 and $5 mean nothing to a dry run; Postgres wants every parameter used. */
	"WHERE $1::bigint IS NOT NULL OR $5::bigint IS NOT NULL";

static const char scan_select_sql[] =
	"SELECT " ISO_UTC("window_from") ", " ISO_UTC("window_to") ", " ISO_UTC("watermark") ","
	" checked, referenced, orphaned, too_new, coalesce(remaining, -1),"
	" completed_at IS NOT NULL, " ISO_UTC("started_at") ", started_run"
	" FROM jobrun.orphan_scans WHERE types = $1 AND days = $2::integer";

/* A new scan: its window ends now (whole seconds, as Cloudinary's times). */
static const char scan_start_sql[] =
	"INSERT INTO jobrun.orphan_scans AS s (types, days, window_from, window_to, started_run)"
	" VALUES ($1, $2::integer, CASE WHEN $2::integer > 0 THEN date_trunc('second', now())"
	"   - make_interval(days => $2::integer) END, date_trunc('second', now()), $3::bigint)"
	" ON CONFLICT (types, days) DO UPDATE SET window_from = EXCLUDED.window_from,"
	"  window_to = EXCLUDED.window_to, watermark = NULL, watermark_keys = '{}', checked = 0,"
	"  referenced = 0, orphaned = 0, too_new = 0, remaining = NULL,"
	"  started_run = EXCLUDED.started_run, started_at = now(), updated_at = now(),"
	"  completed_at = NULL";

static const char scan_fresh_sql[] =
	"SELECT CASE WHEN $1::integer > 0 THEN " ISO_UTC("date_trunc('second', now())"
							 " - make_interval(days => $1::integer)")
	" END, " ISO_UTC("date_trunc('second', now())") ", " ISO_UTC("now()");

static void copy_str(char *out, size_t len, const char *v)
{
	snprintf(out, len, "%s", v ? v : "");
}

static void scan_from_row(struct orph_scan *s, struct db_result *res)
{
	copy_str(s->window_from, sizeof(s->window_from), db_value(res, 0, 0));
	copy_str(s->window_to, sizeof(s->window_to), db_value(res, 0, 1));
	copy_str(s->watermark, sizeof(s->watermark), db_value(res, 0, 2));
	s->checked = db_ll(res, 0, 3, 0);
	s->referenced = db_ll(res, 0, 4, 0);
	s->orphaned = db_ll(res, 0, 5, 0);
	s->too_new = db_ll(res, 0, 6, 0);
	s->remaining = db_ll(res, 0, 7, -1);
	s->complete = db_bool(res, 0, 8);
	copy_str(s->started_at, sizeof(s->started_at), db_value(res, 0, 9));
}

static struct db_result *scan_select(struct orph_run *r)
{
	char days[24];
	snprintf(days, sizeof(days), "%ld", r->scan.days);
	const char *params[] = { r->scan.types, days };
	return db_query(r->db, scan_select_sql, 2, params);
}

/* A dry run's view of a new scan, computed and not written. */
static int scan_fresh(struct orph_run *r)
{
	char days[24];
	snprintf(days, sizeof(days), "%ld", r->scan.days);
	const char *params[] = { days };
	struct db_result *res = db_query(r->db, scan_fresh_sql, 1, params);
	if (!res)
		return -1;
	struct orph_scan *s = &r->scan;
	copy_str(s->window_from, sizeof(s->window_from), db_value(res, 0, 0));
	copy_str(s->window_to, sizeof(s->window_to), db_value(res, 0, 1));
	copy_str(s->started_at, sizeof(s->started_at), db_value(res, 0, 2));
	s->watermark[0] = '\0';
	s->checked = s->referenced = s->orphaned = s->too_new = 0;
	s->remaining = -1;
	s->complete = false;
	db_result_free(res);
	return 0;
}

int orph_scan_reload(struct orph_run *r)
{
	struct db_result *res = scan_select(r);
	if (!res)
		return -1;
	if (db_rows(res) == 1)
		scan_from_row(&r->scan, res);
	db_result_free(res);
	return 0;
}

int orph_scan_open(struct orph_run *r)
{
	orphans_types_key(r->o->types, r->scan.types, sizeof(r->scan.types));
	r->scan.days = r->o->days;
	struct db_result *res = scan_select(r);
	if (!res)
		return -1;
	bool open = db_rows(res) == 1 && !db_bool(res, 0, 8);
	if (open)
		scan_from_row(&r->scan, res);
	db_result_free(res);
	r->scan.resumed = open;
	if (open)
		return 0;
	if (r->o->dry_run)
		return scan_fresh(r);
	char days[24], run[24];
	snprintf(days, sizeof(days), "%ld", r->scan.days);
	snprintf(run, sizeof(run), "%lld", r->t->run.id);
	const char *params[] = { r->scan.types, days, run };
	if (db_exec(r->db, scan_start_sql, 3, params) || !(res = scan_select(r)))
		return -1;
	if (db_rows(res) != 1) {
		db_result_free(res);
		return error("the scan state of '%s' vanished while it was being started",
			     r->scan.types);
	}
	scan_from_row(&r->scan, res);
	db_result_free(res);
	return 0;
}

static void field_ll(struct buf *row, long long v)
{
	char n[24];
	snprintf(n, sizeof(n), "%lld", v);
	db_copy_field(row, v >= 0 ? n : NULL, false);
}

static void asset_row(struct buf *rows, const struct orph_asset *a)
{
	db_copy_field(rows, a->resource_type, true);
	db_copy_field(rows, a->public_id, false);
	field_ll(rows, a->bytes);
	db_copy_field(rows, a->format, false);
	db_copy_field(rows, a->created_at, false);
	db_copy_field(rows, a->uploaded_at, false);
	db_copy_field(rows, a->secure_url, false);
	db_copy_end_row(rows);
}

int orph_store_page(struct orph_run *r, json_t *resources, long long remaining,
		    struct orph_counts *page)
{
	struct buf rows = BUF_INIT;
	size_t i;
	json_t *record;
	memset(page, 0, sizeof(*page));
	json_array_foreach(resources, i, record) {
		struct orph_asset a;
		char why[128];
		if (orph_asset_from_json(record, &a, why, sizeof(why))) {
			log_warn("skipped a listed asset", LF_S("reason", why));
			r->skipped++;
			continue;
		}
		asset_row(&rows, &a);
	}
	int ret = -1;
	struct db_result *res = NULL;
	char *begin = xasprintf("BEGIN; %s; %s", page_temp_sql,
				r->o->dry_run ? dry_temp_sql : "SELECT 1");
	char run[24], min_age[32], days[24], left[24];
	snprintf(run, sizeof(run), "%lld", r->t->run.id);
	snprintf(min_age, sizeof(min_age), "%.3f", r->o->min_age_s);
	snprintf(days, sizeof(days), "%ld", r->scan.days);
	snprintf(left, sizeof(left), "%lld", remaining);
	const char *params[] = { run, min_age, r->scan.types, days, remaining >= 0 ? left : NULL };
	if (db_exec_script(r->db, begin) ||
	    (rows.len && db_copy_in(r->db, "COPY orph_page FROM STDIN", buf_str(&rows), rows.len)) ||
	    !(res = db_query(r->db, r->o->dry_run ? page_dry_sql : page_store_sql, 5, params))) {
		db_rollback(r->db);
		goto out;
	}
	if (db_ll(res, 0, 6, 0) != 1) {
		db_rollback(r->db);
		error("the scan state of '%s' is gone: another process reset it", r->scan.types);
		goto out;
	}
	if (db_commit(r->db))
		goto out;
	*page = (struct orph_counts){ db_ll(res, 0, 0, 0), db_ll(res, 0, 1, 0), db_ll(res, 0, 2, 0),
				      db_ll(res, 0, 3, 0), db_ll(res, 0, 4, 0), db_ll(res, 0, 5, 0) };
	ret = 0;
out:
	free(begin);
	db_result_free(res);
	buf_release(&rows);
	return ret;
}

int orph_scan_complete(struct orph_run *r)
{
	r->scan.complete = true;
	if (r->o->dry_run)
		return 0;
	char days[24];
	snprintf(days, sizeof(days), "%ld", r->scan.days);
	const char *params[] = { r->scan.types, days };
	return db_exec(r->db,
		       "UPDATE jobrun.orphan_scans SET completed_at = now(), remaining = 0,"
		       " updated_at = now() WHERE types = $1 AND days = $2::integer",
		       2, params);
}

/* The scan's open findings: seen by this scan (since it started), of its
 * types, in its window. $1 types key, $2 window_from (NULL: none), $3
 * window_to, $4 the scan's start. */
#define OPEN_IN_SCAN(o)                                                                   \
	o ".resource_type = ANY (string_to_array($1, ','))"                               \
	" AND ($2::timestamptz IS NULL OR coalesce(" o ".uploaded_at, " o ".created_at)"  \
	"      >= $2::timestamptz)"                                                        \
	" AND coalesce(" o ".uploaded_at, " o ".created_at) <= $3::timestamptz"

#define FINDING_COLUMNS(o)                                                                  \
	o ".id, " o ".resource_type, " o ".public_id, " o ".bytes, " o ".format, "          \
	ISO_UTC(o ".created_at") ", " ISO_UTC(o ".uploaded_at") ", " o ".secure_url, "

static const char open_findings_sql[] =
	"SELECT " FINDING_COLUMNS("o") ISO_UTC("o.first_seen_at") ", " ISO_UTC("o.last_seen_at")
	", " ISO_UTC("o.deleted_at")
	" FROM jobrun.orphans o WHERE o.resolved_at IS NULL"
	" AND (o.deleted_at IS NULL OR o.deleted_at >= $4::timestamptz)"
	" AND o.last_seen_at >= $4::timestamptz AND " OPEN_IN_SCAN("o")
	" AND o.id > $5::bigint ORDER BY o.id LIMIT $6::bigint";

static const char open_dry_sql[] =
	"SELECT " FINDING_COLUMNS("o") ISO_UTC("o.seen_at") ", " ISO_UTC("o.seen_at") ", NULL"
	" FROM orph_dry o WHERE $4::timestamptz IS NOT NULL AND " OPEN_IN_SCAN("o")
	" AND o.id > $5::bigint ORDER BY o.id LIMIT $6::bigint";

struct db_result *orph_open_findings(struct orph_run *r, long long after, long limit)
{
	char a[24], l[24];
	snprintf(a, sizeof(a), "%lld", after);
	snprintf(l, sizeof(l), "%ld", limit);
	const struct orph_scan *s = &r->scan;
	const char *params[] = { s->types, s->window_from[0] ? s->window_from : NULL, s->window_to,
				 s->started_at, a, l };
	if (r->o->dry_run && !r->pages)
		return db_query(r->db, "SELECT 1 WHERE false", 0, NULL);
	return db_query(r->db, r->o->dry_run ? open_dry_sql : open_findings_sql, 6, params);
}

/* $5 type, $6 --min-age seconds, $7 after id, $8 batch size. The re-check
 * and the closing of what is referenced again are one statement, right
 * before the delete call. */
static const char candidates_sql[] =
	"WITH cand AS (SELECT o.id, o.public_id, EXISTS (SELECT 1 FROM jobrun.asset_refs r"
	"   WHERE r.public_id = o.public_id AND r.resource_type = o.resource_type) AS referenced"
	"  FROM jobrun.orphans o WHERE o.resolved_at IS NULL AND o.deleted_at IS NULL"
	"  AND o.last_seen_at >= $4::timestamptz AND " OPEN_IN_SCAN("o")
	"  AND o.resource_type = $5"
	"  AND coalesce(o.uploaded_at, o.created_at) < now() - make_interval(secs => $6::float8)"
	"  AND o.id > $7::bigint ORDER BY o.id LIMIT $8::bigint), "
	"closed AS (UPDATE jobrun.orphans o SET resolved_at = now() FROM cand c"
	"  WHERE o.id = c.id AND c.referenced RETURNING 1) "
	"SELECT c.id, c.public_id, c.referenced, (SELECT count(*) FROM closed) FROM cand c"
	" ORDER BY c.id";

static const char candidates_dry_sql[] =
	"SELECT o.id, o.public_id, EXISTS (SELECT 1 FROM jobrun.asset_refs r"
	"   WHERE r.public_id = o.public_id AND r.resource_type = o.resource_type), 0"
	" FROM orph_dry o WHERE $4::timestamptz IS NOT NULL AND " OPEN_IN_SCAN("o")
	" AND o.resource_type = $5"
	" AND coalesce(o.uploaded_at, o.created_at) < now() - make_interval(secs => $6::float8)"
	" AND o.id > $7::bigint ORDER BY o.id LIMIT $8::bigint";

struct db_result *orph_delete_candidates(struct orph_run *r, const char *type, long long after,
					 long limit)
{
	char a[24], l[24], min_age[32];
	snprintf(a, sizeof(a), "%lld", after);
	snprintf(l, sizeof(l), "%ld", limit);
	snprintf(min_age, sizeof(min_age), "%.3f", r->o->min_age_s);
	const struct orph_scan *s = &r->scan;
	const char *params[] = { s->types, s->window_from[0] ? s->window_from : NULL, s->window_to,
				 s->started_at, type, min_age, a, l };
	if (r->o->dry_run && !r->pages)
		return db_query(r->db, "SELECT 1 WHERE false", 0, NULL);
	return db_query(r->db, r->o->dry_run ? candidates_dry_sql : candidates_sql, 8, params);
}

int orph_mark_deleted(struct orph_run *r, const long long *ids, size_t n)
{
	if (!n)
		return 0;
	struct buf arr = BUF_INIT;
	buf_addch(&arr, '{');
	for (size_t i = 0; i < n; i++)
		buf_addf(&arr, "%s%lld", i ? "," : "", ids[i]);
	buf_addch(&arr, '}');
	const char *params[] = { buf_str(&arr) };
	int ret = db_exec(r->db,
			  "UPDATE jobrun.orphans SET deleted_at = now() WHERE id = ANY ($1::bigint[])",
			  1, params);
	buf_release(&arr);
	return ret;
}
