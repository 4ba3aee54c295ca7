/*
 * cleanup's database side: the expired set computed in SQL from the app's
 * binding, the per-asset answers, and the purge in batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cleanup_internal.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "task.h"
#include "xalloc.h"

/* The retention as SQL parameters: $1 a JSON list of {plan, secs}, $2 the
 * default ("*") in seconds or NULL. */
struct retention_params {
	char *plans;
	char dflt[32];
	const char *p[2];
};

static void retention_params(const struct cleanup_retention *ret, struct retention_params *rp)
{
	json_t *list = json_array();
	for (size_t i = 0; i < ret->n; i++)
		json_array_append_new(list, json_pack("{s:s, s:f}", "plan", ret->plans[i].plan,
						      "secs", ret->plans[i].seconds));
	rp->plans = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	snprintf(rp->dflt, sizeof(rp->dflt), "%.3f", ret->default_s);
	rp->p[0] = rp->plans;
	rp->p[1] = ret->has_default ? rp->dflt : NULL;
}

/* Expired: trashed longer than the plan's retention, on the database's clock. */
#define EXPIRED_SQL                                                                          \
	"SELECT t.item_id::bigint AS item_id, t.plan::text AS plan, "                        \
	"extract(epoch FROM now() - t.deleted_at)::float8 AS age_s, t.label::text AS label " \
	"FROM jobrun.trash_items t "                                                         \
	"LEFT JOIN json_to_recordset($1::json) AS r(plan text, secs float8) ON r.plan = t.plan " \
	"WHERE t.deleted_at < now() - make_interval(secs => coalesce(r.secs, $2::float8))"

int cl_check_plans(struct cl_run *r)
{
	if (r->opt->retention.has_default)
		return 0;
	struct retention_params rp;
	retention_params(&r->opt->retention, &rp);
	struct db_result *res = db_query(
		r->db,
		"SELECT DISTINCT coalesce(t.plan::text, '(null)') FROM jobrun.trash_items t "
		"WHERE t.plan IS NULL OR t.plan::text NOT IN "
		"(SELECT plan FROM json_to_recordset($1::json) AS r(plan text)) ORDER BY 1 LIMIT 5",
		1, rp.p);
	free(rp.plans);
	if (!res)
		return -1;
	int ret = 0;
	if (db_rows(res) > 0) {
		char listed[512];
		cleanup_retention_format(&r->opt->retention, listed, sizeof(listed));
		ret = config_error("plan '%s' in jobrun.trash_items has no retention (%s gives %s): "
				   "add it, or a default for every other plan with '*=D'",
				   db_value(res, 0, 0),
				   r->opt->retention_arg ? "--retention" : "JOBRUN_RETENTION", listed);
	}
	db_result_free(res);
	return ret;
}

int cl_print_expired(struct cl_run *r)
{
	struct retention_params rp;
	retention_params(&r->opt->retention, &rp);
	struct db_result *res = db_query(
		r->db,
		"SELECT e.item_id, e.plan, e.age_s, e.label, "
		"(SELECT count(*) FROM jobrun.trash_assets a WHERE a.item_id = e.item_id) "
		"FROM (" EXPIRED_SQL ") e ORDER BY e.age_s DESC, e.item_id",
		2, rp.p);
	free(rp.plans);
	if (!res)
		return -1;
	for (int i = 0; i < db_rows(res); i++) {
		char age[32];
		/* To the minute: "31d2h5m" says enough. */
		format_duration(60 * (double)(long long)(db_double(res, i, 2, 0) / 60), age, sizeof(age));
		long long assets = db_ll(res, i, 4, 0);
		log_info("would purge", LF_I("item", db_ll(res, i, 0, 0)), LF_S("plan", db_value(res, i, 1)),
			 LF_S("age", age), LF_I("assets", assets), LF_S("label", db_value(res, i, 3)));
		r->items++;
		r->assets += assets;
	}
	db_result_free(res);
	return 0;
}

static const char load_items_sql[] =
	"INSERT INTO cleanup_items (item_id, plan, age_s, label) "
	"SELECT item_id, plan, age_s, label FROM (" EXPIRED_SQL ") e ON CONFLICT DO NOTHING";

/* Assets of expired items; one an item not expired yet also has is kept
 * on Cloudinary ("shared") and counts as gone for the expired item. Rows
 * Cloudinary could not take (an unknown resource type, no public_id) fail
 * here, without a call. */
static const char load_assets_fmt[] =
	"INSERT INTO cleanup_assets (item_id, public_id, resource_type, delivery_type) "
	"SELECT DISTINCT a.item_id, a.public_id::text, a.resource_type::text, %s "
	"FROM jobrun.trash_assets a JOIN cleanup_items i ON i.item_id = a.item_id;"
	"UPDATE cleanup_assets c SET state = 'shared' WHERE EXISTS ("
	" SELECT 1 FROM jobrun.trash_assets a WHERE a.public_id = c.public_id"
	" AND a.resource_type = c.resource_type"
	" AND NOT EXISTS (SELECT 1 FROM cleanup_items i WHERE i.item_id = a.item_id));"
	"UPDATE cleanup_assets SET state = 'failed', reason = CASE"
	" WHEN coalesce(public_id, '') = '' THEN 'the asset has no public_id'"
	" WHEN resource_type IS NULL OR resource_type NOT IN ('image', 'video', 'raw')"
	"  THEN 'resource_type ' || coalesce(quote_literal(resource_type), 'NULL') ||"
	"   ' is not image, video or raw'"
	" ELSE 'delivery_type ' || quote_literal(delivery_type) || ' is not a Cloudinary type' END "
	"WHERE state IS NULL AND (coalesce(public_id, '') = '' OR resource_type IS NULL"
	" OR resource_type NOT IN ('image', 'video', 'raw') OR delivery_type !~ '^[a-z_]{1,32}$')";

int cl_load(struct cl_run *r)
{
	if (db_exec_script(r->db,
			   "CREATE TEMP TABLE cleanup_items (item_id bigint PRIMARY KEY, plan text, "
			   "age_s float8, label text, purge_state text);"
			   "CREATE TEMP TABLE cleanup_assets (item_id bigint NOT NULL, public_id text, "
			   "resource_type text, delivery_type text NOT NULL, state text, reason text);"
			   "CREATE INDEX ON cleanup_assets (resource_type, delivery_type, public_id) "
			   "WHERE state IS NULL;"
			   "CREATE INDEX ON cleanup_assets (item_id, resource_type, public_id);"))
		return -1;
	struct retention_params rp;
	retention_params(&r->opt->retention, &rp);
	int rc = db_exec(r->db, load_items_sql, 2, rp.p);
	free(rp.plans);
	char *assets_sql = xasprintf(load_assets_fmt, r->assets_binding.has_delivery_type
							      ? "coalesce(a.delivery_type::text, 'upload')"
							      : "'upload'");
	rc = rc || db_exec_script(r->db, assets_sql) ||
	     db_exec_script(r->db, "ANALYZE cleanup_items; ANALYZE cleanup_assets");
	free(assets_sql);
	if (rc)
		return -1;
	struct db_result *res = db_query(r->db,
					 "SELECT (SELECT count(*) FROM cleanup_items), "
					 "(SELECT count(*) FROM cleanup_assets)", 0, NULL);
	if (!res)
		return -1;
	r->items = db_ll(res, 0, 0, 0);
	r->assets = db_ll(res, 0, 1, 0);
	db_result_free(res);
	return 0;
}

struct db_result *cl_groups(struct cl_run *r)
{
	return db_query(r->db,
			"SELECT resource_type, delivery_type FROM cleanup_assets WHERE state IS NULL "
			"GROUP BY 1, 2 ORDER BY 1, 2", 0, NULL);
}

struct db_result *cl_batch(struct cl_run *r, const char *type, const char *delivery)
{
	const char *p[] = { type, delivery };
	return db_query(r->db,
			"SELECT DISTINCT public_id FROM cleanup_assets WHERE state IS NULL "
			"AND resource_type = $1 AND delivery_type = $2 ORDER BY public_id LIMIT "
			"100", 2, p);
}

int cl_record(struct cl_run *r, const char *type, const char *delivery, const char *const *ids,
	      const enum cloudinary_deleted *states, size_t n, const char *reason)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_pack("{s:s, s:s}", "public_id", ids[i], "state",
					cloudinary_deleted_name(states[i]));
		if (states[i] == CLD_FAILED)
			json_object_set_new(row, "reason",
					    json_string(reason ? reason : "Cloudinary did not delete it"));
		json_array_append_new(rows, row);
	}
	char *text = json_dumps(rows, JSON_COMPACT);
	json_decref(rows);
	const char *p[] = { text, type, delivery };
	int rc = db_exec(r->db,
			 "UPDATE cleanup_assets a SET state = x.state, reason = x.reason "
			 "FROM json_to_recordset($1::json) AS x(public_id text, state text, reason text) "
			 "WHERE a.state IS NULL AND a.resource_type = $2 AND a.delivery_type = $3 "
			 "AND a.public_id = x.public_id", 3, p);
	free(text);
	return rc;
}

/* Items whose every asset — as the app lists them now, not only at the
 * start — is known gone. */
static const char purgeable_sql[] =
	"SELECT coalesce('{' || string_agg(item_id::text, ',') || '}', '{}'), count(*) FROM ("
	" SELECT i.item_id FROM cleanup_items i WHERE i.purge_state IS NULL AND NOT EXISTS ("
	"  SELECT 1 FROM jobrun.trash_assets t WHERE t.item_id = i.item_id AND NOT EXISTS ("
	"   SELECT 1 FROM cleanup_assets a WHERE a.item_id = t.item_id"
	"   AND a.public_id = t.public_id::text AND a.resource_type = t.resource_type::text"
	"   AND a.state IN ('deleted', 'not_found', 'shared')))"
	" ORDER BY i.item_id LIMIT " "500" ") b";

int cl_purge_batch(struct cl_run *r, long long *n)
{
	*n = 0;
	struct db_result *res = db_query(r->db, purgeable_sql, 0, NULL), *purged = NULL;
	if (!res)
		return -1;
	int ret = -1;
	*n = db_ll(res, 0, 1, 0);
	if (*n == 0) {
		ret = 0;
		goto out;
	}
	const char *p[] = { db_value(res, 0, 0) };
	if (db_begin(r->db))
		goto out;
	purged = db_query(r->db, "SELECT jobrun.purge_items($1::bigint[])", 1, p);
	/* What purge_items left (restored meanwhile) is "kept", not purged. */
	if (!purged ||
	    db_exec(r->db,
		    "UPDATE cleanup_items i SET purge_state = CASE WHEN EXISTS (SELECT 1 FROM "
		    "jobrun.trash_items t WHERE t.item_id = i.item_id) THEN 'kept' ELSE 'purged' END "
		    "WHERE i.item_id = ANY ($1::bigint[])", 1, p) ||
	    db_commit(r->db)) {
		db_rollback(r->db);
		goto out;
	}
	ret = 0;
out:
	db_result_free(purged);
	db_result_free(res);
	return ret;
}

static const char per_plan_sql[] =
	"SELECT i.plan, count(*), count(*) FILTER (WHERE i.purge_state = 'purged'), "
	"count(*) FILTER (WHERE i.purge_state IS DISTINCT FROM 'purged' AND EXISTS ("
	" SELECT 1 FROM cleanup_assets a WHERE a.item_id = i.item_id AND a.state = 'failed')), "
	"count(*) FILTER (WHERE i.purge_state = 'kept') "
	"FROM cleanup_items i GROUP BY 1 ORDER BY 1";

static const char per_state_sql[] =
	"SELECT count(*) FILTER (WHERE state = 'deleted'), count(*) FILTER (WHERE state = 'not_found'), "
	"count(*) FILTER (WHERE state = 'shared'), count(*) FILTER (WHERE state = 'failed'), "
	"count(*) FILTER (WHERE state IS NULL) FROM cleanup_assets";

static const char failures_sql[] =
	"SELECT a.item_id, i.plan, i.label, a.resource_type, a.public_id, a.reason "
	"FROM cleanup_assets a JOIN cleanup_items i ON i.item_id = a.item_id "
	"WHERE a.state = 'failed' ORDER BY a.item_id, a.public_id LIMIT 100";

static json_t *plans_json(struct cl_run *r, struct db_result *res)
{
	json_t *plans = json_object();
	r->purged = r->failed_items = r->kept = 0;
	for (int i = 0; i < db_rows(res); i++) {
		long long expired = db_ll(res, i, 1, 0), purged = db_ll(res, i, 2, 0);
		long long failed = db_ll(res, i, 3, 0), kept = db_ll(res, i, 4, 0);
		json_object_set_new(plans, db_value(res, i, 0) ? db_value(res, i, 0) : "(null)",
				    json_pack("{s:I, s:I, s:I, s:I}", "expired", (json_int_t)expired,
					      "purged", (json_int_t)purged, "failed",
					      (json_int_t)failed, "left",
					      (json_int_t)(expired - purged - failed)));
		r->purged += purged;
		r->failed_items += failed;
		r->kept += kept;
	}
	r->left_items = r->items - r->purged - r->failed_items;
	return plans;
}

int cl_tally(struct cl_run *r, json_t **plans, json_t **failures)
{
	*plans = *failures = NULL;
	struct db_result *a = db_query(r->db, per_plan_sql, 0, NULL);
	struct db_result *b = a ? db_query(r->db, per_state_sql, 0, NULL) : NULL;
	struct db_result *c = b ? db_query(r->db, failures_sql, 0, NULL) : NULL;
	int ret = -1;
	if (!c)
		goto out;
	*plans = plans_json(r, a);
	r->deleted = db_ll(b, 0, 0, 0);
	r->not_found = db_ll(b, 0, 1, 0);
	r->shared = db_ll(b, 0, 2, 0);
	r->failed_assets = db_ll(b, 0, 3, 0);
	r->left_assets = db_ll(b, 0, 4, 0);
	*failures = json_array();
	for (int i = 0; i < db_rows(c); i++)
		json_array_append_new(
			*failures,
			json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?}", "item_id",
				  (json_int_t)db_ll(c, i, 0, 0), "plan", db_value(c, i, 1), "label",
				  db_value(c, i, 2), "resource_type", db_value(c, i, 3), "public_id",
				  db_value(c, i, 4), "reason", db_value(c, i, 5)));
	ret = 0;
out:
	db_result_free(a);
	db_result_free(b);
	db_result_free(c);
	return ret;
}
