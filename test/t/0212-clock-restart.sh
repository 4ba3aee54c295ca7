#!/bin/bash
# State lives in Postgres: a clock killed with -9 and started again knows
# what it fired. Restarted within the grace, it runs the latest slot it
# missed once and coalesces the rest; restarted later, the slots past the
# grace are recorded missed (and `status` says so). No slot is lost or run
# twice. The clock runs on an injected clock, 60 times real time.
. "$(dirname "$0")/lib.sh"
plan 13
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=r grace=5m
* * * * * jobrun prune --dry-run
CRON
last_slot() { sql "SELECT to_char(max(due_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobrun.schedule_slots WHERE entry = 'r'"; }
plus() { date -u -d "$1 $2" +%Y-%m-%dT%H:%M:%SZ; } # plus <time> '<n> minutes'

bg_at_clock 2030-03-01T02:00:30Z 60 clock
check "the first clock fires slots" wait_for_sql "SELECT count(*) FROM jobrun.schedule_slots WHERE entry = 'r' AND state = 'finished' AND due_at >= '2030-03-01T02:03:00Z'" '^[1-9]'
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
last=$(last_slot)

# Restarted 3 minutes after its last slot, within the 5m grace: the latest
# slot runs once, the two before it are coalesced into it.
restart=$(plus "$last" '3 minutes 20 seconds')
bg_at_clock "$restart" 60 clock
out=$BG_OUT
check "the restarted clock catches up" wait_for_line "$out" "msg=\"slot started\" entry=r slot=$(plus "$last" '3 minutes')"
like "$(cat "$out")" "msg=\"slots coalesced into the latest\" entry=r first=$(plus "$last" '1 minute') last=$(plus "$last" '2 minutes') slots=2" "the slots in between are coalesced into it"
unlike "$(cat "$out")" "msg=\"slot started\" entry=r slot=$last" "the slot the first clock fired is not fired again"
check "it goes on firing" wait_for_sql "SELECT count(*) FROM jobrun.schedule_slots WHERE entry = 'r' AND state = 'finished' AND due_at >= '$(plus "$last" '5 minutes')'" '^[1-9]'
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
last=$(last_slot)

# Restarted 20 minutes later: 14 slots are past the 5m grace (missed), the
# 5 minutes before the restart are coalesced into the latest.
restart=$(plus "$last" '20 minutes 10 seconds')
at_clock "$restart" 1 status
is "$RC" 3 "status exits 3 while the entry is late"
like "$OUT" '^r +late ' "status: late (due + grace passed, no run started)"
bg_at_clock "$restart" 60 clock
out=$BG_OUT
check "the clock restarted late runs the latest slot" wait_for_line "$out" "msg=\"slot started\" entry=r slot=$(plus "$last" '20 minutes')"
like "$(cat "$out")" "msg=\"slots missed: past the entry.s grace\" entry=r first=$(plus "$last" '1 minute') last=$(plus "$last" '15 minutes') slots=15" "the slots past the grace are recorded missed"
kill -TERM "$BG_PID"
wait_exit "$BG_PID"
is "$WAIT_RC" 143 "the clock exits 143 on SIGTERM"

is "$(slot_gaps r '1 minute')" "" "over all three clocks every minute's slot is recorded exactly once"
is "$(runs_not_from_one_slot r)" 0 "every run belongs to exactly one slot"
# The missed slots stay visible: a missed row whose window holds no run.
is "$(sql "SELECT sum(slots) FROM jobrun.schedule_slots WHERE entry = 'r' AND state = 'missed'")" 15 "15 slots are recorded missed"

done_testing
