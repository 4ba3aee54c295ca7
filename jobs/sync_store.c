/*
 * sync writes. The set logic is Postgres's: a page is COPYed into a temp
 * table and one statement reads the typed columns out of the records,
 * upserts what changed (a record whose data did not change is not
 * rewritten), notes the keys seen and counts what it did. After the last
 * page, one UPDATE marks the rows the operation did not see as removed.
 * A dry run does the same reading in read-only transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "redact.h"
#include "sync_internal.h"
#include "xalloc.h"

const struct sync_op sync_ops[SYNC_NOPS] = {
	{ SYNC_WAREHOUSES, "warehouses", 1, false, "shipstation.warehouses",
	  { { "warehouse_id", 't' }, { "name", 't' }, { NULL, 0 } }, 1 },
	{ SYNC_INVENTORY_WAREHOUSES, "inventory_warehouses", 1, true,
	  "shipstation.inventory_warehouses",
	  { { "inventory_warehouse_id", 't' }, { "name", 't' }, { NULL, 0 } }, 1 },
	{ SYNC_INVENTORY_LOCATIONS, "inventory_locations", 1, true, "shipstation.inventory_locations",
	  { { "inventory_location_id", 't' }, { "inventory_warehouse_id", 't' }, { "name", 't' },
	    { NULL, 0 } }, 1 },
	{ SYNC_PRODUCTS, "products", 2, false, "shipstation.products",
	  { { "product_id", 't' }, { "sku", 't' }, { "name", 't' }, { "active", 'b' }, { NULL, 0 } },
	  1 },
	{ SYNC_INVENTORY, "inventory", 2, true, "shipstation.inventory",
	  { { "sku", 't' }, { "inventory_warehouse_id", 't' }, { "inventory_location_id", 't' },
	    { "on_hand", 'i' }, { "allocated", 'i' }, { "available", 'i' }, { NULL, 0 } }, 3 },
};

/* sync_in: the page in hand (emptied by every commit). sync_seen: the keys
 * each operation of each integration has seen so far this run; it lives as
 * long as the session, so a killed run leaves nothing behind. Its
 * statistics (see sync_store_finish) need only how many rows an
 * integration's operation has: a small sample of those two columns, none
 * of the keys. */
int sync_store_prepare(struct db *db)
{
	return db_exec_script(db, "CREATE TEMP TABLE IF NOT EXISTS sync_in (d jsonb) ON COMMIT DELETE ROWS;"
				  "CREATE TEMP TABLE IF NOT EXISTS sync_seen (integration_id bigint, op text,"
				  " k text[], PRIMARY KEY (integration_id, op, k));"
				  "ALTER TABLE pg_temp.sync_seen ALTER integration_id SET STATISTICS 10,"
				  " ALTER op SET STATISTICS 10, ALTER k SET STATISTICS 0");
}

/* ---------------------------------------------------------------- the SQL */

/* A record's field as its column's type; a field of another JSON type is
 * NULL, never an error that would lose the page. */
static void col_expr(struct buf *b, const struct sync_col *c)
{
	switch (c->type) {
	case 'b':
		buf_addf(b, "CASE jsonb_typeof(d->'%s') WHEN 'boolean' THEN (d->>'%s')::boolean END",
			 c->name, c->name);
		break;
	case 'i':
		buf_addf(b, "CASE WHEN jsonb_typeof(d->'%s') = 'number' THEN CASE WHEN "
			 "abs((d->>'%s')::numeric) < 2147483648 THEN round((d->>'%s')::numeric)::integer "
			 "END END", c->name, c->name, c->name);
		break;
	default:
		buf_addf(b, "d->>'%s'", c->name);
	}
	buf_addf(b, " AS %s", c->name);
}

/* "a, b, c" over the first n columns (n < 0: all), each with prefix. */
static void col_list(struct buf *b, const struct sync_op *op, int n, const char *prefix)
{
	for (int i = 0; op->cols[i].name && (n < 0 || i < n); i++)
		buf_addf(b, "%s%s%s", i ? ", " : "", prefix, op->cols[i].name);
}

/* The input CTE: the page's records, typed, one per key (a page repeating a
 * key would make the upsert touch a row twice). */
static void input_cte(struct buf *b, const struct sync_op *op)
{
	buf_adds(b, "WITH input AS (SELECT DISTINCT ON (");
	col_list(b, op, op->n_keys, "");
	buf_adds(b, ") $1::bigint AS integration_id, ");
	col_list(b, op, -1, "");
	buf_adds(b, ", data FROM (SELECT ");
	for (int i = 0; op->cols[i].name; i++) {
		col_expr(b, &op->cols[i]);
		buf_adds(b, ", ");
	}
	buf_adds(b, "d AS data FROM pg_temp.sync_in WHERE jsonb_typeof(d) = 'object') r WHERE ROW(");
	col_list(b, op, op->n_keys, "");
	buf_adds(b, ") IS NOT NULL ORDER BY ");
	col_list(b, op, op->n_keys, "");
	buf_addf(b, "), seen AS (INSERT INTO pg_temp.sync_seen (integration_id, op, k) "
		    "SELECT integration_id, '%s', ARRAY[", op->name);
	col_list(b, op, op->n_keys, "");
	buf_addf(b, "] FROM input ON CONFLICT DO NOTHING), "
		    "prev AS (SELECT m.data IS NOT NULL AS existed, m.removed_at IS NOT NULL AS was_removed,"
		    " m.data IS NOT DISTINCT FROM i.data AS same FROM input i LEFT JOIN %s m USING "
		    "(integration_id, ", op->table);
	col_list(b, op, op->n_keys, "");
	buf_adds(b, ")) ");
}

/* The upsert: a row is written only when its data changed or it comes
 * back after being marked removed. */
static void upsert_cte(struct buf *b, const struct sync_op *op)
{
	buf_addf(b, ", up AS (INSERT INTO %s AS m (integration_id, ", op->table);
	col_list(b, op, -1, "");
	buf_adds(b, ", data, synced_at, removed_at) SELECT integration_id, ");
	col_list(b, op, -1, "");
	buf_adds(b, ", data, now(), NULL FROM input ON CONFLICT (integration_id, ");
	col_list(b, op, op->n_keys, "");
	buf_adds(b, ") DO UPDATE SET ");
	for (int i = op->n_keys; op->cols[i].name; i++)
		buf_addf(b, "%s = EXCLUDED.%s, ", op->cols[i].name, op->cols[i].name);
	buf_adds(b, "data = EXCLUDED.data, synced_at = EXCLUDED.synced_at, removed_at = NULL "
		    "WHERE m.data IS DISTINCT FROM EXCLUDED.data OR m.removed_at IS NOT NULL "
		    "RETURNING 1) ");
}

/* inserted, updated, unchanged, unusable (not an object, no key, repeated). */
static char *page_sql(const struct sync_op *op, bool dry_run)
{
	struct buf b = BUF_INIT;
	input_cte(&b, op);
	if (!dry_run)
		upsert_cte(&b, op);
	buf_adds(&b, "SELECT count(*) FILTER (WHERE NOT existed),"
		     " count(*) FILTER (WHERE existed AND (NOT same OR was_removed)),"
		     " count(*) FILTER (WHERE existed AND same AND NOT was_removed),"
		     " (SELECT count(*) FROM pg_temp.sync_in) - count(*) FROM prev");
	return buf_detach(&b);
}

/* Rows of the integration not seen by the operation: marked removed (a
 * dry run counts them). The seen keys are forgotten in the same statement;
 * every part of it reads the same snapshot. */
static char *finish_sql(const struct sync_op *op, bool dry_run)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "WITH forget AS (DELETE FROM pg_temp.sync_seen WHERE integration_id = $1 AND "
		     "op = '%s')", op->name);
	if (dry_run)
		buf_addf(&b, " SELECT count(*) FROM %s m", op->table);
	else
		buf_addf(&b, ", gone AS (UPDATE %s m SET removed_at = now()", op->table);
	buf_addf(&b, " WHERE m.integration_id = $1 AND m.removed_at IS NULL AND NOT EXISTS ("
		     "SELECT 1 FROM pg_temp.sync_seen s WHERE s.integration_id = $1 AND s.op = '%s' "
		     "AND s.k = ARRAY[", op->name);
	col_list(&b, op, op->n_keys, "m.");
	buf_adds(&b, "])");
	if (!dry_run)
		buf_adds(&b, " RETURNING 1) SELECT count(*) FROM gone");
	return buf_detach(&b);
}

/* ---------------------------------------------------------------- writes */

int sync_store_page(struct db *db, const struct sync_op *op, long long integration_id,
		    json_t *items, bool dry_run, struct sync_counts *n)
{
	struct buf rows = BUF_INIT;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		char *text = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
		db_copy_field(&rows, text ? text : "null", true);
		db_copy_end_row(&rows);
		free(text);
	}
	n->fetched += (long long)json_array_size(items);
	if (!rows.len)
		return 0;
	char id[24];
	snprintf(id, sizeof(id), "%lld", integration_id);
	const char *params[] = { id };
	char *sql = page_sql(op, dry_run);
	struct db_result *r = NULL;
	int ret = -1;
	if (db_exec_script(db, dry_run ? "BEGIN READ ONLY" : "BEGIN"))
		goto out;
	if (db_copy_in(db, "COPY pg_temp.sync_in (d) FROM STDIN", buf_str(&rows), rows.len) ||
	    !(r = db_query(db, sql, 1, params)) || db_commit(db)) {
		db_rollback(db);
		goto out;
	}
	n->inserted += db_ll(r, 0, 0, 0);
	n->updated += db_ll(r, 0, 1, 0);
	n->unchanged += db_ll(r, 0, 2, 0);
	n->unusable += db_ll(r, 0, 3, 0);
	ret = 0;
out:
	db_result_free(r);
	free(sql);
	buf_release(&rows);
	return ret;
}

/* Autovacuum never analyzes a temp table: without statistics the planner
 * guesses an operation saw one key and may compare every mirror row with
 * every seen key (1,500 rows: 0.4 s on the one thread; 100,000: about half
 * an hour). Counted, it hashes them or probes the key index. A sample of
 * 3,000 rows of two columns costs a few ms. */
int sync_store_finish(struct db *db, const struct sync_op *op, long long integration_id,
		      bool dry_run, long long *removed)
{
	if (db_exec_script(db, "ANALYZE pg_temp.sync_seen (integration_id, op)"))
		return -1;
	char id[24];
	snprintf(id, sizeof(id), "%lld", integration_id);
	const char *params[] = { id };
	char *sql = finish_sql(op, dry_run);
	struct db_result *r = db_query(db, sql, 1, params);
	free(sql);
	if (!r)
		return -1;
	*removed = db_ll(r, 0, 0, 0);
	db_result_free(r);
	return 0;
}

int sync_store_forget(struct db *db, const struct sync_op *op, long long integration_id)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", integration_id);
	const char *params[] = { id, op->name };
	return db_exec(db, "DELETE FROM pg_temp.sync_seen WHERE integration_id = $1 AND op = $2", 2,
		       params);
}

/* ---------------------------------------------------------- integrations */

/* The bucket is named by a hash of the key, computed where the key is:
 * integrations sharing a key share its budget, and no name shows it. */
static const char load_sql[] =
	"WITH refs AS (SELECT jsonb_array_elements_text($1::jsonb) AS ref) "
	"SELECT id, name, api_key, api_url, active,"
	" 'key-' || left(encode(sha256(convert_to(api_key, 'UTF8')), 'hex'), 8) "
	"FROM shipstation.integrations "
	"WHERE CASE WHEN NOT EXISTS (SELECT 1 FROM refs) THEN active "
	"ELSE id::text IN (SELECT ref FROM refs) OR name IN (SELECT ref FROM refs) END "
	"ORDER BY id";

static bool matches(const struct sync_integration *in, const char *ref)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", in->id);
	return !strcmp(in->name, ref) || !strcmp(id, ref);
}

/* Every named integration exists and is active. */
static int check_refs(const struct sync_integration *in, int n, const bool *active,
		      const char *const *refs, int n_refs)
{
	for (int r = 0; r < n_refs; r++) {
		bool found = false;
		for (int i = 0; i < n; i++) {
			if (!matches(&in[i], refs[r]))
				continue;
			found = true;
			if (!active[i])
				return config_error("ShipStation integration '%s' is not active "
						    "(shipstation.integrations.active)", in[i].name);
		}
		if (!found)
			return config_error("no ShipStation integration has the id or name '%s' "
					    "(shipstation.integrations)", refs[r]);
	}
	return 0;
}

int sync_load_integrations(struct db *db, const char *const *refs, int n_refs,
			   struct sync_integration **out, int *n)
{
	*out = NULL;
	*n = 0;
	json_t *list = json_array();
	for (int i = 0; i < n_refs; i++)
		json_array_append_new(list, json_string(refs[i]));
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	if (!text)
		return error("--integration: a name is not valid UTF-8");
	const char *params[] = { text };
	struct db_result *r = db_query(db, load_sql, 1, params);
	free(text);
	if (!r)
		return -1;
	int rows = db_rows(r);
	struct sync_integration *in = xcalloc(rows ? (size_t)rows : 1, sizeof(*in));
	bool *active = xcalloc(rows ? (size_t)rows : 1, sizeof(*active));
	for (int i = 0; i < rows; i++) {
		in[i].id = db_ll(r, i, 0, 0);
		in[i].name = xstrdup(db_value(r, i, 1));
		in[i].key = xstrdup(db_value(r, i, 2));
		redact_add(in[i].key);
		in[i].api_url = db_value(r, i, 3) ? xstrdup(db_value(r, i, 3)) : NULL;
		active[i] = db_bool(r, i, 4);
		snprintf(in[i].bucket, sizeof(in[i].bucket), "%s", db_value(r, i, 5));
	}
	db_result_free(r);
	int ret = check_refs(in, rows, active, refs, n_refs);
	free(active);
	if (ret) {
		sync_integrations_free(in, rows);
		return -1;
	}
	*out = in;
	*n = rows;
	return 0;
}

void sync_integrations_free(struct sync_integration *in, int n)
{
	for (int i = 0; i < n; i++) {
		free(in[i].name);
		free(in[i].api_url);
		free(in[i].key);
	}
	free(in);
}

int sync_store_log(struct db *db, const struct sync_integration *in, long long run_id,
		   json_t *results, int total, int ok, int failed, long long duration_ms)
{
	char *text = json_dumps(results, JSON_COMPACT);
	char stamp[40], id[24], run[24], t[16], o[16], f[16], d[24];
	snprintf(stamp, sizeof(stamp), "%.6f", in->started_wall);
	snprintf(id, sizeof(id), "%lld", in->id);
	snprintf(run, sizeof(run), "%lld", run_id);
	snprintf(t, sizeof(t), "%d", total);
	snprintf(o, sizeof(o), "%d", ok);
	snprintf(f, sizeof(f), "%d", failed);
	snprintf(d, sizeof(d), "%lld", duration_ms);
	const char *params[] = { stamp, t, o, f, d, text ? text : "[]", id, run };
	int ret = db_exec(db,
			  "INSERT INTO shipstation.sync_logs (\"timestamp\", total_operations,"
			  " successful_operations, failed_operations, total_duration, results,"
			  " integration_id, run_id) VALUES (to_timestamp($1::double precision),"
			  " $2::integer, $3::integer, $4::integer, $5::integer, $6::jsonb, $7::bigint,"
			  " $8::bigint)",
			  8, params);
	free(text);
	return ret;
}
