/*
 * The app binding (DESIGN.md §6): the views and the function an app
 * defines in schema `jobrun` so that cleanup and orphans act on its data
 * without jobrun guessing its tables. `jobrun migrate` never creates them.
 *
 *   view jobrun.trash_items(item_id bigint, plan text, deleted_at timestamptz, label text)
 *   view jobrun.trash_assets(item_id bigint, public_id text, resource_type text
 *                            [, delivery_type text])
 *   view jobrun.asset_refs(public_id text, resource_type text)
 *   function jobrun.purge_items(ids bigint[]) returns bigint
 *
 * Each object is checked on its own in the catalog (a job checks what it
 * uses; doctor lists them all): it exists, and every expected column has a
 * compatible type (bigint: any integer type; text: text or varchar); extra
 * columns are fine. trash_assets' delivery_type (Cloudinary's "type") is
 * optional: without it every asset is "upload".
 *
 * Ownership: plain data; nothing to release.
 */
#ifndef JOBRUN_JOBS_APP_BINDING_H
#define JOBRUN_JOBS_APP_BINDING_H

#include <stdbool.h>

struct db;

enum binding_object {
	BINDING_TRASH_ITEMS,
	BINDING_TRASH_ASSETS,
	BINDING_ASSET_REFS,
	BINDING_PURGE_ITEMS,
	BINDING_N,
};

enum binding_state { BINDING_OK, BINDING_MISSING, BINDING_MISSHAPED };

struct binding_status {
	enum binding_state state;
	char detail[384]; /* MISSHAPED: what differs ("column plan is integer, expected text") */
	bool has_delivery_type; /* trash_assets: the optional delivery_type column is there */
};

/* "jobrun.trash_items" */
const char *binding_name(enum binding_object o);
/* "view jobrun.trash_items(item_id bigint, plan text, …)" */
const char *binding_expected(enum binding_object o);
/* The jobs that read it: "cleanup", "orphans". */
const char *binding_used_by(enum binding_object o);

/* Look the object up in the catalog. -1 on a database error (reported). */
int binding_inspect(struct db *db, enum binding_object o, struct binding_status *out);
/* binding_inspect, and a missing or mis-shaped object is a config_error()
 * (exit 78) naming it and its expected shape. out may be NULL. */
int binding_require(struct db *db, enum binding_object o, struct binding_status *out);

#endif
