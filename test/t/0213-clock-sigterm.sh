#!/bin/bash
# A child that is still running: the clock records the next slots skipped
# (it never queues them); on SIGTERM it starts nothing more, forwards the
# signal, records the child's end (interrupted, 143) and exits 143 as soon
# as the child is gone. With a stop timeout shorter than the child's stop,
# the child is killed and its slot says so.
. "$(dirname "$0")/lib.sh"
plan 15
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=slow
* * * * * jobrun prune
CRON
# A job that runs until we say: prune waits to delete an old run record
# another session holds locked.
old=$(sql "INSERT INTO jobrun.runs (job, lock_key, status, started_at, finished_at) VALUES ('x', 'x', 'succeeded', now() - interval '90 days', now() - interval '90 days') RETURNING id")
hold row-holder "BEGIN; SELECT id FROM jobrun.runs WHERE id = $old FOR UPDATE"
wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'row-holder' AND query LIKE '%pg_sleep%'" '^1$'

bg_at_clock 2030-03-01T02:00:58Z 60 clock --stop-timeout 20s
clock=$BG_PID out=$BG_OUT
check "the first slot's run starts and blocks" wait_for_sql "SELECT count(*) FROM jobrun.runs WHERE entry = 'slow' AND status = 'running'" '^1$'
check "later slots come due while it runs" wait_for_sql "SELECT count(*) FROM jobrun.schedule_slots WHERE entry = 'slow' AND state = 'skipped'" '^[2-9]'
is "$(sql "SELECT DISTINCT reason FROM jobrun.schedule_slots WHERE state = 'skipped'")" "the previous run of this entry is still running" "they are recorded skipped: the previous run still runs"
like "$(cat "$out")" 'msg="slot skipped: the entry.s previous run is still running" entry=slow' "and the clock says so"

start=$(now)
kill -TERM "$clock"
wait_exit "$clock"
elapsed=$(since "$start")
is "$WAIT_RC" 143 "the clock exits 143 after SIGTERM"
# The child stops within its own 5 s promise (a database wait is cancelled
# after 1.5 s); the clock waits for it, not for its 20 s stop timeout.
check "the clock exits once its child stopped (${elapsed}s, timeout 20s)" below "$elapsed" 10
like "$(cat "$out")" 'msg="stopping: signal forwarded to the running entries" children=1 signal=SIGTERM' "it forwards SIGTERM to the running child"
is "$(sql "SELECT r.status, r.summary->>'stopped_by', s.state, s.exit_code FROM jobrun.schedule_slots s JOIN jobrun.runs r ON r.id = s.run_id WHERE s.entry = 'slow' AND s.due_at = '2030-03-01T02:01:00Z'")" "interrupted|sigterm|finished|143" "the child's run is interrupted by SIGTERM, its slot finished with 143"
is "$(sql "SELECT count(*) FROM jobrun.schedule_slots WHERE state IN ('claimed', 'started')")" 0 "nothing was started after the signal"

# A stop timeout shorter than the child's stop: it is killed.
bg_at_clock 2030-03-01T03:00:58Z 60 clock --stop-timeout 200ms
clock=$BG_PID out=$BG_OUT
check "a new run starts and blocks" wait_for_sql "SELECT count(*) FROM jobrun.runs WHERE entry = 'slow' AND status = 'running'" '^1$'
kill -TERM "$clock"
wait_exit "$clock"
is "$WAIT_RC" 143 "the clock exits 143"
is "$(sql "SELECT state, exit_code, reason FROM jobrun.schedule_slots WHERE entry = 'slow' AND due_at = '2030-03-01T03:01:00Z'")" "finished|137|killed: it did not stop within the stop timeout" "the slot of the killed child says so"
release row-holder
# The killed child's session ends once its statement is no longer blocked.
wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DELETE FROM jobrun.runs%'" '^0$'
at_clock 2030-03-01T03:01:40Z 1 status
like "$OUT" '^slow +failing +.* abandoned ' "status: failing, its last run's process is gone (abandoned)"
is "$RC" 3 "status exits 3"
# The killed run's record is left running; the next run of the job marks it.
run_jobrun prune
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE entry = 'slow' AND status = 'abandoned'")" 1 "the killed child's run is abandoned by the next run"

done_testing
