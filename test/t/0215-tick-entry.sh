#!/bin/bash
# jobrun tick --entry NAME, what `schedule --heroku` gives each entry Scheduler
# can express: a tick over the named entries only, claiming their slots like
# any tick. Racing a plain tick on the same injected time, whichever claims a
# slot first runs it and the other does nothing: decided by the records, every
# slot has one row and every run one slot. (The job's own command line in its
# place claims no slot, so the plain tick would run the slot a second time.)
. "$(dirname "$0")/lib.sh"
plan 19
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
# Unnamed, so a run of the bare command line counts as the entry's, as a
# Scheduler entry `jobrun prune --dry-run` would.
# A 5-minute grace: a first tick looks back no further than the slot it runs.
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: grace=5m
*/10 * * * * jobrun prune --dry-run
# jobrun: name=other grace=5m
*/10 * * * * jobrun primecache --dry-run --limit 1
CRON
X=prune-dry-run
slots() { sql "SELECT string_agg(to_char(due_at AT TIME ZONE 'UTC', 'HH24:MI') || ':' || state || ':' || coalesce(exit_code::text, '-'), ' ' ORDER BY due_at) FROM jobrun.schedule_slots WHERE entry = '$1'"; }
runs() { sql "SELECT count(*) FROM jobrun.runs WHERE entry = '$1'"; }

# Names are checked against the file before anything is claimed.
run_jobrun tick --entry nosuch
is "$RC" 64 "an unknown --entry is a usage error"
like "$ERR" "no entry named 'nosuch' in .*jobrun.cron \(entries: $X, other\)" "naming the file's entries"
run_jobrun tick --entry "$X,nosuch"
is "$RC" 64 "one unknown name in a comma list is enough"
run_jobrun tick --entry "$X,"
is "$RC" 64 "an empty name is a usage error"
is "$(sql "SELECT count(*) FROM jobrun.schedule_slots")" 0 "nothing was claimed"

# Only the named entry: other's 02:00 slot is left for whoever runs it.
at_clock 2030-03-01T02:00:30Z 1 tick --entry "$X"
is "$RC" 0 "tick --entry exits 0"
is "$(slots "$X")" "02:00:finished:0" "the named entry's slot ran"
is "$(slots other)$(runs other)" "0" "the other entry was not looked at"
# The plain tick a little later runs other's slot and not the named one's again.
at_clock 2030-03-01T02:03:00Z 1 tick
is "$(slots other) $(runs other) $(runs "$X")" "02:00:finished:0 1 1" "the plain tick runs only what was still unclaimed"
at_clock 2030-03-01T02:04:00Z 1 tick --entry "other,$X" --entry "$X"
is "$RC $(runs other) $(runs "$X")" "0 1 1" "a repeated, comma-listed --entry runs nothing claimed"

# The race: at each of five slots, a `tick --entry` and a plain tick start
# together on the same injected time.
for m in 10 20 30 40 50; do
	bg_at_clock "2030-03-01T02:${m}:01Z" 1 tick --entry "$X"
	a=$BG_PID
	bg_at_clock "2030-03-01T02:${m}:01Z" 1 tick
	b=$BG_PID
	wait_exit "$a"; rc_a=$WAIT_RC
	wait_exit "$b"; rc_b=$WAIT_RC
	rcs="${rcs:-}$rc_a$rc_b "
done
is "$rcs" "00 00 00 00 00 " "every tick exits 0 (nothing skipped, nothing failed)"
is "$(slots "$X")" "02:00:finished:0 02:10:finished:0 02:20:finished:0 02:30:finished:0 02:40:finished:0 02:50:finished:0" "$X: one slot row per due time, each run to a clean finish"
is "$(slot_gaps "$X" '10 minutes')" "" "$X: every slot accounted for exactly once"
is "$(runs "$X")" 6 "$X: six slots, six runs"
is "$(runs_not_from_one_slot "$X")" 0 "$X: every run belongs to exactly one slot"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE entry = '$X' AND status <> 'succeeded'")" 0 "$X: no run skipped on the job's lock (no second run of a slot got as far)"
is "$(runs other) $(slot_gaps other '10 minutes')" "6 " "other: run by the plain ticks, once per slot"
is "$(runs_not_from_one_slot other)" 0 "other: every run belongs to exactly one slot"
won=$(sql "SELECT count(*) FROM jobrun.schedule_slots s JOIN jobrun.schedule_slots o ON o.entry = 'other' AND o.due_at = s.due_at AND o.claimed_by = s.claimed_by WHERE s.entry = '$X' AND s.due_at > '2030-03-01T02:00:00Z'")
diag "of the 5 raced slots of $X, the plain tick claimed $won, tick --entry the rest"
check "the 02:00 slot's claim is the tick --entry's" test "$(sql "SELECT count(*) FROM jobrun.schedule_slots s WHERE entry = '$X' AND due_at = '2030-03-01T02:00:00Z' AND NOT EXISTS (SELECT 1 FROM jobrun.schedule_slots o WHERE o.entry = 'other' AND o.claimed_by = s.claimed_by)")" = 1

done_testing
