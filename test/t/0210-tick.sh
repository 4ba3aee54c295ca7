#!/bin/bash
# jobrun tick on an injected clock: a first start looks back only as far as
# the grace; slots that came due since are run once (the latest), coalesced
# (earlier ones within the grace) or recorded missed (past it); a second tick
# runs nothing twice; a child that finds its job's lock held is `skipped`;
# pause, resume, run.
. "$(dirname "$0")/lib.sh"
plan 28
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=every5 grace=10m
*/5 * * * * jobrun prune --dry-run
# jobrun: name=daily
0 2 * * * jobrun primecache --dry-run --limit 1
CRON
slots() { sql "SELECT string_agg(to_char(due_at AT TIME ZONE 'UTC', 'HH24:MI') || ':' || state || ':' || slots || ':' || CASE WHEN run_id IS NULL THEN '-' ELSE 'run' END, ' ' ORDER BY due_at) FROM jobrun.schedule_slots WHERE entry = '$1'"; }
runs() { sql "SELECT count(*) FROM jobrun.runs WHERE entry = '$1'"; }

# First start, 02:00:30: every5's 01:55 and 02:00 are within its 10m grace,
# 01:50 is not and is not recorded at all (no backfill of history).
at_clock 2026-03-01T02:00:30Z 1 tick
is "$RC" 0 "the first tick exits 0"
is "$(slots every5)" "01:55:coalesced:1:- 02:00:finished:1:run" "every5: 02:00 ran, 01:55 coalesced into it, nothing older recorded"
is "$(slots daily)" "02:00:finished:1:run" "daily: its 02:00 slot ran"
is "$(runs every5) $(runs daily)" "1 1" "one run each, recorded under the entry's name"
like "$OUT" 'job=tick msg="slot started" entry=every5 slot=2026-03-01T02:00:00Z' "the tick logs the slot it starts"
like "$OUT" 'job=prune run=[0-9]+ msg="run finished" status=succeeded' "the child's own log lines pass through"
is "$(sql "SELECT job, status, exit_code FROM jobrun.schedule_slots s JOIN jobrun.runs r ON r.id = s.run_id WHERE s.entry = 'every5' AND s.state = 'finished'")" "prune|succeeded|0" "the slot links the run its child recorded"

# Overlapping or repeated ticks: what is recorded is never run again.
at_clock 2026-03-01T02:01:00Z 1 tick
is "$RC $(runs every5) $(runs daily)" "0 1 1" "a second tick in the same minutes runs nothing"

# 02:40:10 after a gap: 02:05-02:30 are past the 10m grace (missed), 02:35
# is coalesced into 02:40, which runs once.
at_clock 2026-03-01T02:40:10Z 1 tick
is "$RC" 3 "a tick that records missed slots exits 3"
is "$(slots every5)" "01:55:coalesced:1:- 02:00:finished:1:run 02:30:missed:6:- 02:35:coalesced:1:- 02:40:finished:1:run" "missed, coalesced, run: every slot accounted for once"
like "$OUT" 'msg="slots missed: past the entry.s grace" entry=every5 first=2026-03-01T02:05:00Z last=2026-03-01T02:30:00Z slots=6' "the missed slots are logged"
is "$(slot_gaps every5 '5 minutes')" "" "no slot lost or counted twice"
is "$(runs_not_from_one_slot every5)" 0 "every run belongs to exactly one slot"

# The job's own lock: another process runs prune, so the child exits 75 and
# the slot is recorded skipped with the child's skipped run.
hold prune-holder "SELECT pg_advisory_lock(hashtextextended('prune', 0))"
wait_for_sql "SELECT pg_try_advisory_lock(hashtextextended('prune', 0))" '^f$'
at_clock 2026-03-01T02:45:05Z 1 tick
is "$RC" 0 "a slot skipped because its job is running elsewhere does not fail the tick"
is "$(sql "SELECT s.state, s.exit_code, r.status FROM jobrun.schedule_slots s JOIN jobrun.runs r ON r.id = s.run_id WHERE s.entry = 'every5' AND s.due_at = '2026-03-01T02:45:00Z'")" "skipped|75|skipped" "the slot is skipped (exit 75) and linked to the skipped run"
release prune-holder

# pause: slots are recorded paused, nothing runs, for every clock and tick.
run_jobrun schedule pause every5
is "$RC" 0 "schedule pause exits 0"
at_clock 2026-03-01T02:50:05Z 1 tick
is "$(sql "SELECT state FROM jobrun.schedule_slots WHERE entry = 'every5' AND due_at = '2026-03-01T02:50:00Z'") $(runs every5)" "paused 3" "a paused entry's slot is recorded paused and not run"
run_jobrun schedule pause nosuch
is "$RC" 64 "pausing an unknown entry is a usage error"
like "$ERR" "no entry named 'nosuch' in .*jobrun.cron \(entries: every5, daily\)" "the error names the file's entries"
run_jobrun schedule resume every5
is "$RC" 0 "schedule resume exits 0"
at_clock 2026-03-01T02:55:05Z 1 tick
is "$(sql "SELECT state FROM jobrun.schedule_slots WHERE entry = 'every5' AND due_at = '2026-03-01T02:55:00Z'") $(runs every5)" "finished 4" "after resume the next slot runs"
is "$(slot_gaps every5 '5 minutes')" "" "still every slot accounted for exactly once"

# run NAME: now, through the job's lock and run record, with the job's code.
run_jobrun schedule run daily
is "$RC" 0 "schedule run exits with the job's code (0)"
is "$(sql "SELECT job, status FROM jobrun.runs WHERE entry = 'daily' ORDER BY id DESC LIMIT 1")" "primecache|succeeded" "the run is recorded under the entry"
hold prune-holder "SELECT pg_advisory_lock(hashtextextended('prune', 0))"
wait_for_sql "SELECT pg_try_advisory_lock(hashtextextended('prune', 0))" '^f$'
run_jobrun schedule run every5
is "$RC" 75 "schedule run exits 75 when the job's lock is held, as the job does"
is "$(sql "SELECT status FROM jobrun.runs WHERE entry = 'every5' ORDER BY id DESC LIMIT 1")" "skipped" "and its skipped run is recorded under the entry"
release prune-holder
run_jobrun schedule run nosuch
is "$RC" 64 "running an unknown entry is a usage error"

# A run by hand records the name its command line derives.
run_jobrun prune --dry-run
is "$(sql "SELECT entry FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "prune-dry-run" "a run by hand records its derived entry name"

done_testing
