#!/bin/bash
# The app binding (jobs/app_binding.c): doctor lists each object, and a job
# that needs a missing or mis-shaped one stops with exit 78 naming it and
# its expected columns, before it takes its lock or writes its run record.
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate

run_jobrun doctor
is "$RC" 0 "doctor passes without a binding: an app may run neither cleanup nor orphans"
like "$OUT" "warn +binding jobrun.trash_items +missing \\(cleanup needs it\\): define view jobrun.trash_items\\(item_id bigint, plan text, deleted_at timestamptz, label text\\)" \
	"a missing view is listed with its expected columns"
like "$OUT" "warn +binding jobrun.purge_items +missing \\(cleanup needs it\\): define function jobrun.purge_items\\(ids bigint\\[\\]\\) returns bigint" \
	"so is the function"
like "$OUT" "warn +binding jobrun.asset_refs +missing \\(orphans needs it\\)" "and asset_refs, which orphans reads"

refapp_install
run_jobrun doctor
is "$RC" 0 "doctor passes with the reference app bound"
is "$(printf '%s\n' "$OUT" | grep -cE '^ok +binding jobrun\.(trash_items|trash_assets|asset_refs|purge_items) ')" 4 \
	"each of the four objects is ok"

# Mis-shaped: a column of the wrong type, a missing column, a wrong signature.
psql_q "CREATE OR REPLACE VIEW jobrun.trash_items AS
	SELECT p.id AS item_id, u.plan, p.deleted_at, p.title AS label, 1 AS extra
	FROM app.prompts p JOIN app.users u ON u.id = p.user_id WHERE p.deleted_at IS NOT NULL" >/dev/null
run_jobrun doctor
is "$RC" 0 "an extra column is fine"
psql_q "DROP VIEW jobrun.trash_items;
	CREATE VIEW jobrun.trash_items AS SELECT p.id AS item_id, 1 AS plan, p.deleted_at
	FROM app.prompts p WHERE p.deleted_at IS NOT NULL;
	DROP FUNCTION jobrun.purge_items(bigint[]);
	CREATE FUNCTION jobrun.purge_items(ids int[]) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint'" >/dev/null
run_jobrun doctor
is "$RC" 78 "a mis-shaped binding is a configuration error"
like "$OUT" "FAIL +binding jobrun.trash_items +mis-shaped: column plan is integer, expected text; no column label; expected view" \
	"the view's line says what differs and what is expected"
like "$OUT" "FAIL +binding jobrun.purge_items +mis-shaped: it takes \\(ids integer\\[\\]\\), expected \\(ids bigint\\[\\]\\)" \
	"so does the function's"
psql_q "DROP FUNCTION jobrun.purge_items(int[]);
	CREATE FUNCTION jobrun.purge_items(ids bigint[]) RETURNS SETOF bigint LANGUAGE sql AS 'SELECT 0::bigint'" >/dev/null
run_jobrun doctor
like "$OUT" "FAIL +binding jobrun.purge_items +mis-shaped: it returns setof bigint, expected bigint" \
	"a set-returning purge_items is mis-shaped"

# A job that needs them (cleanup checks what it uses before any work).
if [ -x "$JOBRUN" ] && "$JOBRUN" help cleanup >/dev/null 2>&1; then
	psql_q "DROP VIEW jobrun.trash_items; DROP FUNCTION jobrun.purge_items(bigint[])" >/dev/null
	refapp_install
	psql_q "DROP VIEW jobrun.trash_assets" >/dev/null
	export CLOUDINARY_URL="cloudinary://111:cld-secret-0123456789@demo" CLOUDINARY_API_URL="http://127.0.0.1:9"
	T_SECRETS="$T_SECRETS cld-secret-0123456789"
	run_jobrun cleanup
	is "$RC" 78 "cleanup without jobrun.trash_assets exits 78"
	like "$ERR$OUT" "jobrun.trash_assets is missing: the app must define view jobrun.trash_assets\\(item_id bigint, public_id text, resource_type text\\[, delivery_type text\\]\\)" \
		"the error names the object and its expected columns"
	is "$(psql_q "SELECT count(*) FROM jobrun.runs WHERE job = 'cleanup' AND status = 'running'")" 0 \
		"nothing is left running"
else
	for i in 1 2 3; do ok 1 "cleanup is not built"; done
fi
done_testing
