#!/bin/bash
# One instance per job: the second exits 75 and is recorded as skipped.
. "$(dirname "$0")/lib.sh"
plan 7
db_create
db_migrate

# Long enough that it still holds the lock however slowly the checks below
# run; it is ended by SIGTERM.
bg_jobrun debug-work --items 1000 --item-time 1s
first=$BG_PID; first_out=$BG_OUT
check "the first run starts working" wait_for_line "$first_out" 'msg=working'

run_jobrun debug-work --items 1
is "$RC" 75 "a second instance exits 75"
like "$OUT" "skipped: another instance is running" "it says why"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE status = 'skipped' AND error LIKE 'another instance holds the lock%'")" 1 "the skipped run is recorded"

run_jobrun debug-work --items 1 --item-time 1ms --lock other-key
is "$RC" 0 "a run under another lock key is not blocked"

kill -TERM "$first"
wait_exit "$first"
is "$WAIT_RC" 143 "the first run stops on SIGTERM"
run_jobrun debug-work --items 1 --item-time 1ms
is "$RC" 0 "once the lock is free the job runs again"

done_testing
