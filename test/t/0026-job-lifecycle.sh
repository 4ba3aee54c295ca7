#!/bin/bash
# The lifecycle every job shares (cmd/job_main.c, lib/task): problems of a
# partial run are recorded, operations land in the summary, a job may hold
# a lock per unit of work, and a run whose process died is marked abandoned
# by its own run lock even when the next run holds a different lock.
. "$(dirname "$0")/lib.sh"
plan 17
db_create
db_migrate

# A partial run keeps its first problem as the run's error.
run_jobrun --json debug-work --items 3 --item-time 1ms --fail 2
is "$RC" 3 "a run with failed items exits 3"
is "$(jf 'd["status"], d["summary"]["problems"]')" "partial 2" "the summary counts the problems"
is "$(sql "SELECT status, error FROM jobrun.runs WHERE id = $(jf 'd["run_id"]')")" \
	"partial|item 1 failed (--fail)" "the partial run records its first problem as the error"

# Operations, one per unit, each under its own lock.
run_jobrun --json debug-work --items 4 --item-time 1ms --fail 1 --units east,west
is "$RC" 3 "units with a failed item: exit 3"
is "$(jf '[(o["name"], o["status"], o["processed"], o["failed"]) for o in d["summary"]["operations"]]')" \
	"[('east', 'partial', 2, 1), ('west', 'succeeded', 2, 0)]" "each unit is an operation with its counts"
is "$(jf 'all(o["duration_s"] >= 0 and o["started_at"].endswith("Z") for o in d["summary"]["operations"])')" \
	"True" "operations carry their start (UTC) and duration"
is "$(sql "SELECT summary->'operations'->0->>'error' IS NULL FROM jobrun.runs WHERE id = $(jf 'd["run_id"]')")" \
	"t" "operations are stored in the run record"

# A unit held by another process is skipped, the others go on. The holder
# runs far longer than the checks take, even under valgrind.
bg_jobrun debug-work --items 1000 --item-time 1s --units west
holder=$BG_PID
check "a run holding unit 'west' is working" wait_for_line "$BG_OUT" 'msg=working'
run_jobrun --json debug-work --items 2 --item-time 1ms --units east,west
is "$RC" 3 "a skipped unit makes the run partial"
is "$(jf '[(o["name"], o["status"]) for o in d["summary"]["operations"]]')" \
	"[('east', 'succeeded'), ('west', 'skipped')]" "the held unit is skipped, the other done"
like "$(jf 'd["summary"]["operations"][1]["error"]')" "another instance holds this unit" "it says why"
holder_run=$(sql "SELECT id FROM jobrun.runs WHERE status = 'running' AND job = 'debug-work'")
run_jobrun debug-work --items 1 --item-time 1ms
is "$RC" 0 "a run under the job's own lock goes ahead beside it"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE status = 'abandoned'")" 0 \
	"a live run with per-unit locks is not taken for abandoned"

# kill -9: the process dies holding its run lock; the session ends with it.
kill -KILL "$holder"
wait_exit "$holder"
check "the killed run's session is gone" wait_for_sql \
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'jobrun' AND datname = current_database()" t
run_jobrun debug-work --items 1 --item-time 1ms --units east
is "$RC" 0 "the next run goes ahead"
is "$(sql "SELECT status FROM jobrun.runs WHERE id = $holder_run")" "abandoned" \
	"the dead run is marked abandoned through its free run lock"
like "$OUT" "marked runs of a dead process abandoned" "the run says so"

done_testing
