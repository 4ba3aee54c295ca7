#!/bin/bash
# prune deletes sync_logs older than its cutoff (the script's 30 days), in
# bounded batches, and keeps the recent ones.
. "$(dirname "$0")/lib.sh"
plan 5
db_create
db_migrate
id=$(ss_integration acme "$SS_KEY_A")
psql_q "INSERT INTO shipstation.sync_logs (timestamp, total_operations, successful_operations,
	failed_operations, total_duration, results, integration_id)
	SELECT now() - make_interval(days => d), 5, 5, 0, 1000, '[]', $id
	FROM unnest(ARRAY[1, 10, 29, 31, 40, 90]) d" >/dev/null

run_jobrun --json prune --dry-run
is "$(jf 'd["summary"]["sync_logs"]')" 3 "a dry run counts the 3 rows older than 30 days"
run_jobrun --json prune --batch 2
is "$RC" 0 "prune succeeds"
is "$(jf 'd["summary"]["sync_logs"]')" 3 "it deletes them, in batches of 2"
is "$(sql "SELECT count(*) FROM shipstation.sync_logs WHERE timestamp < now() - interval '30 days'")" 0 "none is left"
is "$(sql "SELECT count(*) FROM shipstation.sync_logs")" 3 "the recent ones are kept"
done_testing
