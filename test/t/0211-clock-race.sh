#!/bin/bash
# Exactly once per slot across processes: two clocks and overlapping ticks
# race over the same every-minute slots (the clocks on an injected clock 60
# times real time, so a minute passes each second). Decided by the records:
# every fire time is covered by exactly one slot row, and every run belongs
# to exactly one slot; a slot run twice would leave a run no slot claims.
. "$(dirname "$0")/lib.sh"
plan 9
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=race
* * * * * jobrun prune --dry-run
# jobrun: name=race2
*/2 * * * * jobrun primecache --dry-run --limit 1
CRON

# The same injected clock in both (--since: the real instant it reads
# 02:00:00), so they wake at the same instants and collide on every slot.
since=$(date +%s.%N)
bg_jobrun debug-clock --at 2030-03-01T02:00:00Z --since "$since" --rate 60 --jobrun "$JOBRUN" -- clock
clock_a=$BG_PID out_a=$BG_OUT
bg_jobrun debug-clock --at 2030-03-01T02:00:00Z --since "$since" --rate 60 --jobrun "$JOBRUN" -- clock
clock_b=$BG_PID out_b=$BG_OUT
# Ticks on their own clocks, overlapping each other and the clocks.
for at in 02:06:30 02:06:30 02:09:10; do
	bg_at_clock "2030-03-01T${at}Z" 1 tick
	ticks="${ticks:-} $BG_PID"
done
check "the clocks get past 02:12" wait_for_sql "SELECT count(*) FROM jobrun.schedule_slots WHERE entry = 'race' AND due_at >= '2030-03-01T02:12:00Z'" '^[1-9]'
for p in $ticks; do wait "$p"; done
kill -TERM "$clock_a" "$clock_b"
wait_exit "$clock_a"; rc_a=$WAIT_RC
wait_exit "$clock_b"; rc_b=$WAIT_RC
is "$rc_a $rc_b" "143 143" "both clocks exit 143 on SIGTERM"

is "$(slot_gaps race '1 minute')" "" "race: every minute's slot is recorded exactly once"
is "$(slot_gaps race2 '2 minutes')" "" "race2: every slot is recorded exactly once"
is "$(runs_not_from_one_slot race)" 0 "race: every run belongs to exactly one slot"
is "$(runs_not_from_one_slot race2)" 0 "race2: every run belongs to exactly one slot"
is "$(sql "SELECT count(*) FROM jobrun.schedule_slots WHERE state IN ('claimed', 'started')")" 0 "every claimed slot was started and its end recorded"
n=$(sql "SELECT count(*) FROM jobrun.runs WHERE entry IN ('race', 'race2')")
check "runs happened ($n)" test "$n" -ge 5
claimers=$(sql "SELECT count(DISTINCT claimed_by) FROM jobrun.schedule_slots")
diag "slots claimed by $claimers processes; clock A started $(count_lines "$out_a" 'msg="slot started"'), clock B $(count_lines "$out_b" 'msg="slot started"')"
check "more than one process claimed slots ($claimers)" test "$claimers" -ge 2

done_testing
