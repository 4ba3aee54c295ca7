#!/bin/bash
# kill -9 between the asset deletes and the purge loses nothing: the items
# stay in the trash, and the next run finds their assets not_found and
# purges them. Deterministic by cause: another session holds the items'
# rows, so the purge waits on that lock, and the test kills jobrun once
# Postgres shows it waiting there (after every delete call was answered).
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
refapp_install
cld_start

u=$(refapp_user a@example.com free)
refapp_trash "$u" 4 '10 days' 30 image k
cld_upload_app_assets

# The app holds its rows (an open transaction of its own).
psql -X -q -d "$T_DB" -c "BEGIN; SELECT id FROM app.prompts FOR UPDATE; SELECT pg_sleep(300)" \
	>/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%FOR UPDATE; SELECT pg_sleep%'
	AND wait_event = 'PgSleep'" '^1$'

bg_jobrun cleanup
waiting="SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%purge_items%'"
check "jobrun's purge waits on the rows" wait_for_sql "$waiting" '^[0-9]+$' 60
is "$(cld_calls DELETE)" 2 "both delete calls were answered before the purge"
is "$(cld_existing image)" 0 "the assets are gone at Cloudinary"
kill -9 "$BG_PID" 2>/dev/null
{ wait_exit "$BG_PID"; } 2>/dev/null
is "$WAIT_RC" 137 "jobrun is killed (SIGKILL) in the middle of its purge"
# A dead dyno's session goes with it.
psql_q "SELECT pg_terminate_backend(pid) FROM ($waiting) w" >/dev/null
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" '^0$'
is "$(psql_q "SELECT count(*) FROM app.prompts WHERE deleted_at IS NOT NULL")" 4 \
	"nothing was purged: the items are still in the trash"
is "$(psql_q "SELECT count(*) FROM app.prompt_assets")" 120 "with their asset rows"

run_jobrun --json cleanup
is "$RC" 0 "the next run succeeds"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 0 "and purges the items"
is "$(jf '(d["summary"]["assets"]["deleted"], d["summary"]["assets"]["not_found"], d["items_succeeded"])')" \
	"(0, 120, 4)" "their assets come back not_found, which counts as gone"
is "$(psql_q "SELECT string_agg(status, ',' ORDER BY id) FROM jobrun.runs")" "abandoned,succeeded" \
	"the killed run is recorded abandoned"
done_testing
