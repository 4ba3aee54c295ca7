/*
 * The app binding, checked in the catalog one object at a time: what a job
 * reads must be there, with the columns it reads, before it reads them.
 */
#include "app_binding.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"

struct column {
	const char *name;
	const char *type; /* "bigint", "text", "timestamptz" */
	bool optional;
};

struct object {
	const char *name;     /* in schema jobrun */
	const char *expected;
	const char *used_by;
	const struct column *columns; /* NULL for the function */
};

static const struct column trash_items_cols[] = {
	{ "item_id", "bigint", false }, { "plan", "text", false },
	{ "deleted_at", "timestamptz", false }, { "label", "text", false }, { NULL, NULL, false },
};
static const struct column trash_assets_cols[] = {
	{ "item_id", "bigint", false }, { "public_id", "text", false },
	{ "resource_type", "text", false }, { "delivery_type", "text", true }, { NULL, NULL, false },
};
static const struct column asset_refs_cols[] = {
	{ "public_id", "text", false }, { "resource_type", "text", false }, { NULL, NULL, false },
};

static const struct object objects[BINDING_N] = {
	[BINDING_TRASH_ITEMS] = { "trash_items",
				  "view jobrun.trash_items(item_id bigint, plan text, deleted_at "
				  "timestamptz, label text)", "cleanup", trash_items_cols },
	[BINDING_TRASH_ASSETS] = { "trash_assets",
				   "view jobrun.trash_assets(item_id bigint, public_id text, "
				   "resource_type text[, delivery_type text])", "cleanup",
				   trash_assets_cols },
	[BINDING_ASSET_REFS] = { "asset_refs",
				 "view jobrun.asset_refs(public_id text, resource_type text)",
				 "orphans", asset_refs_cols },
	[BINDING_PURGE_ITEMS] = { "purge_items",
				  "function jobrun.purge_items(ids bigint[]) returns bigint", "cleanup",
				  NULL },
};

static const char *const names[BINDING_N] = { "jobrun.trash_items", "jobrun.trash_assets",
					       "jobrun.asset_refs", "jobrun.purge_items" };

const char *binding_name(enum binding_object o)
{
	return names[o];
}

const char *binding_expected(enum binding_object o)
{
	return objects[o].expected;
}

const char *binding_used_by(enum binding_object o)
{
	return objects[o].used_by;
}

/* format_type() names that serve as the expected type: an integer id widens
 * to bigint, a varchar reads as text. */
static bool compatible(const char *want, const char *got)
{
	if (!strcmp(want, "bigint"))
		return !strcmp(got, "bigint") || !strcmp(got, "integer") || !strcmp(got, "smallint");
	if (!strcmp(want, "text"))
		return !strcmp(got, "text") || !strcmp(got, "character varying");
	return !strcmp(got, "timestamp with time zone");
}

static const char relation_sql[] =
	"SELECT a.attname::text, format_type(a.atttypid, NULL), c.relkind::text "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"WHERE n.nspname = 'jobrun' AND c.relname = $1";

static void misshaped(struct binding_status *out, struct buf *why)
{
	out->state = BINDING_MISSHAPED;
	snprintf(out->detail, sizeof(out->detail), "%s", buf_str(why));
}

static int inspect_relation(struct db *db, const struct object *o, struct binding_status *out)
{
	const char *p[] = { o->name };
	struct db_result *r = db_query(db, relation_sql, 1, p);
	if (!r)
		return -1;
	if (db_rows(r) == 0) {
		out->state = BINDING_MISSING;
		db_result_free(r);
		return 0;
	}
	struct buf why = BUF_INIT;
	const char *kind = db_value(r, 0, 2);
	if (!strchr("rvmfp", kind[0]))
		buf_addf(&why, "it is not a view or table (relkind %s)", kind);
	for (const struct column *c = o->columns; c->name; c++) {
		const char *got = NULL;
		for (int i = 0; i < db_rows(r) && !got; i++)
			if (db_value(r, i, 0) && !strcmp(db_value(r, i, 0), c->name))
				got = db_value(r, i, 1);
		if (got && !compatible(c->type, got))
			buf_addf(&why, "%scolumn %s is %s, expected %s", why.len ? "; " : "", c->name,
				 got, c->type);
		else if (!got && !c->optional)
			buf_addf(&why, "%sno column %s", why.len ? "; " : "", c->name);
		if (c->optional && got && compatible(c->type, got))
			out->has_delivery_type = true;
	}
	if (why.len)
		misshaped(out, &why);
	buf_release(&why);
	db_result_free(r);
	return 0;
}

static const char function_sql[] =
	"SELECT pg_get_function_identity_arguments(p.oid), format_type(p.prorettype, NULL), "
	"p.proretset, p.pronargs = 1 AND p.proargtypes[0] = 'bigint[]'::regtype "
	"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	"WHERE n.nspname = 'jobrun' AND p.proname = $1 "
	"ORDER BY 4 DESC";

static int inspect_function(struct db *db, const struct object *o, struct binding_status *out)
{
	const char *p[] = { o->name };
	struct db_result *r = db_query(db, function_sql, 1, p);
	if (!r)
		return -1;
	struct buf why = BUF_INIT;
	if (db_rows(r) == 0)
		out->state = BINDING_MISSING;
	else if (!db_bool(r, 0, 3))
		buf_addf(&why, "it takes (%s), expected (ids bigint[])", db_value(r, 0, 0));
	else if (db_bool(r, 0, 2) || !compatible("bigint", db_value(r, 0, 1)))
		buf_addf(&why, "it returns %s%s, expected bigint", db_bool(r, 0, 2) ? "setof " : "",
			 db_value(r, 0, 1));
	if (why.len)
		misshaped(out, &why);
	buf_release(&why);
	db_result_free(r);
	return 0;
}

int binding_inspect(struct db *db, enum binding_object o, struct binding_status *out)
{
	memset(out, 0, sizeof(*out));
	out->state = BINDING_OK;
	const struct object *ob = &objects[o];
	return ob->columns ? inspect_relation(db, ob, out) : inspect_function(db, ob, out);
}

int binding_require(struct db *db, enum binding_object o, struct binding_status *out)
{
	struct binding_status local;
	if (!out)
		out = &local;
	if (binding_inspect(db, o, out))
		return -1;
	switch (out->state) {
	case BINDING_OK:
		return 0;
	case BINDING_MISSING:
		return config_error("%s is missing: the app must define %s (README: \"Binding the "
				    "app's data\")", names[o], objects[o].expected);
	case BINDING_MISSHAPED:
		return config_error("%s is mis-shaped (%s): the app must define %s", names[o],
				    out->detail, objects[o].expected);
	}
	return -1;
}
