#!/bin/bash
# sync: each integration under its own lock. An integration another session
# holds is skipped and recorded while the others are synced; when every one
# is held elsewhere the run is skipped (75).
. "$(dirname "$0")/lib.sh"
plan 9
db_create
db_migrate
ss_start
ss_account "{\"key\": \"$SS_KEY_A\", \"alias\": \"acme\", \"products\": 30}"
ss_account "{\"key\": \"$SS_KEY_B\", \"alias\": \"globex\", \"products\": 30}"
acme=$(ss_integration acme "$SS_KEY_A")
globex=$(ss_integration globex "$SS_KEY_B")

# Another session (another dyno's sync) holds acme's lock: the same key
# jobrun's task_lock takes.
mkfifo "$T_TMP/hold.in"
psql -X -q -tA -d "$T_DB" <"$T_TMP/hold.in" >"$T_TMP/hold.out" 2>&1 &
T_PIDS="$T_PIDS $!"
exec 7>"$T_TMP/hold.in"
echo "SELECT pg_advisory_lock(hashtextextended('sync:$acme', 0)); SELECT 'held';" >&7
wait_for_line "$T_TMP/hold.out" '^held$' || diag "psql did not take the lock: $(cat "$T_TMP/hold.out")"

run_jobrun --json sync
is "$RC" 0 "the integration held elsewhere is skipped, the other synced: exit 0"
is "$(jf '" ".join(i["name"] + "=" + i["status"] for i in d["summary"]["integrations"])')" \
	"acme=skipped globex=succeeded" "the summary records which was skipped"
is "$(jf '[i["reason"] for i in d["summary"]["integrations"] if i["name"] == "acme"][0]')" \
	"another run holds its lock" "and why"
is "$(sql "SELECT string_agg(i.name, ',') FROM shipstation.sync_logs l JOIN shipstation.integrations i ON i.id = l.integration_id")" \
	globex "only the synced integration has a sync_logs row"
is "$(ss_reqs | awk '$1 == "acme"' | wc -l | tr -d ' ')" 0 "nothing was asked of the skipped account"

echo "SELECT pg_advisory_lock(hashtextextended('sync:$globex', 0)); SELECT 'both';" >&7
wait_for_line "$T_TMP/hold.out" '^both$' || diag "psql did not take the second lock"
run_jobrun sync
is "$RC" 75 "every integration held elsewhere: exit 75"
is "$(sql "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" skipped "the run is recorded skipped"

echo "SELECT pg_advisory_unlock_all(); SELECT 'released';" >&7
wait_for_line "$T_TMP/hold.out" '^released$'
run_jobrun sync --integration acme
is "$RC" 0 "once released, the integration syncs"
is "$(ss_count products "integration_id = $acme")" 30 "its products are mirrored"
exec 7>&-
ss_dump
done_testing
