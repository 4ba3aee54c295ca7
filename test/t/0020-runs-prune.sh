#!/bin/bash
# Run records: what `runs` shows, and `prune` deleting old ones in batches.
. "$(dirname "$0")/lib.sh"
plan 18
db_create
db_migrate

run_jobrun debug-work --items 3 --item-time 10ms
is "$RC" 0 "a clean run exits 0"
run_jobrun debug-work --items 4 --item-time 10ms --fail 1
is "$RC" 3 "a run with failed items exits 3"

row=$(sql "SELECT status, items_processed, items_succeeded, items_failed, finished_at IS NOT NULL, host IS NOT NULL, pid IS NOT NULL FROM jobrun.runs ORDER BY id DESC LIMIT 1")
is "$row" "partial|4|3|1|t|t|t" "the run record holds status, counters, finish time and where it ran"

run_jobrun runs
is "$RC" 0 "runs exits 0"
like "$OUT" "^ID +JOB +STATUS" "runs prints a header"
like "$OUT" "debug-work +partial" "runs lists the partial run"
like "$OUT" "debug-work +succeeded" "runs lists the succeeded run"

run_jobrun runs --status partial --json
is "$(json_field "$OUT" 'len(d)')" 1 "--status filters"
is "$(json_field "$OUT" 'd[0]["items_failed"]')" 1 "--json carries the counters"
is "$(json_field "$OUT" 'd[0]["args"]["items"]')" 4 "--json carries the invocation"

run_jobrun runs --job nosuchjob --json
is "$OUT" "[]" "--job filters"

# 2500 old finished runs, one old running run, and the recent ones.
sql "INSERT INTO jobrun.runs (job, lock_key, status, started_at, finished_at)
     SELECT 'old', 'old', 'succeeded', now() - interval '40 days', now() - interval '40 days'
     FROM generate_series(1, 2500)" >/dev/null
sql "INSERT INTO jobrun.runs (job, lock_key, status, started_at) VALUES ('old', 'x', 'running', now() - interval '40 days')" >/dev/null

run_jobrun prune --dry-run --json
is "$RC" 0 "prune --dry-run exits 0"
is "$(json_field "$OUT" 'd["summary"]["runs"]')" 2500 "--dry-run counts what it would delete"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'old'")" 2501 "--dry-run deletes nothing"

run_jobrun prune --older-than 30d --batch 1000 --json
is "$RC" 0 "prune exits 0"
is "$(json_field "$OUT" 'd["summary"]["runs"]')" 2500 "prune reports what it deleted"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'old'")" 1 "old finished runs are gone, a running one stays"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job IN ('debug-work', 'prune')")" 4 "recent runs stay"

done_testing
