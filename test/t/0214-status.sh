#!/bin/bash
# jobrun status: every state from jobrun.runs and the slot records, whoever
# started the run (here: records as a clock, Heroku Scheduler or a person
# leave them, and one real run by hand matched by its derived name), and
# the exit code: 3 when anything is late, missed or failing, else 0.
. "$(dirname "$0")/lib.sh"
plan 16
db_create
db_migrate

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=s-ok
0 * * * * jobrun prune --older-than 1d
# jobrun: name=s-late
0 * * * * jobrun prune --older-than 2d
# jobrun: name=s-missed
0 * * * * jobrun prune --older-than 3d
# jobrun: name=s-failing
0 * * * * jobrun prune --older-than 4d
# jobrun: name=s-paused
0 * * * * jobrun prune --older-than 5d
# jobrun: name=s-running
0 * * * * jobrun prune --older-than 6d
# jobrun: name=s-dead
0 * * * * jobrun prune --older-than 7d
# jobrun: name=s-never
0 * * * * jobrun prune --older-than 8d
0 * * * * jobrun prune --older-than 9d
# A long zoned schedule and a long name: the table's columns widen to fit.
CRON_TZ=America/New_York
# jobrun: name=s-zoned-with-a-long-entry-name
*/30 0-19,23 * * mon,thu jobrun prune --older-than 10d
CRON
run() { # run <entry> <status> <started> [finished]: a run record as any starter leaves it
	sql "INSERT INTO jobrun.runs (job, lock_key, status, entry, started_at, finished_at)
	     VALUES ('prune', 'prune', '$2', '$1', '$3', $([ -n "${4:-}" ] && echo "'$4'" || echo NULL)) RETURNING id"
}
run s-ok succeeded 2030-03-01T12:00:04Z 2030-03-01T12:00:09Z >/dev/null
run s-late succeeded 2030-03-01T11:00:04Z 2030-03-01T11:00:09Z >/dev/null
run s-missed succeeded 2030-03-01T09:00:04Z 2030-03-01T09:00:09Z >/dev/null
sql "INSERT INTO jobrun.schedule_slots (entry, due_at, first_due_at, slots, state, claimed_by)
     VALUES ('s-missed', '2030-03-01T12:00:00Z', '2030-03-01T10:00:00Z', 3, 'missed', 'clock')" >/dev/null
run s-failing succeeded 2030-03-01T11:00:04Z 2030-03-01T11:00:09Z >/dev/null
run s-failing failed 2030-03-01T12:00:04Z 2030-03-01T12:00:05Z >/dev/null
run s-paused succeeded 2030-03-01T12:00:04Z 2030-03-01T12:00:09Z >/dev/null
run_jobrun schedule pause s-paused
live=$(run s-running running 2030-03-01T12:00:04Z)
hold run-holder "SELECT pg_advisory_lock(hashtextextended('jobrun.run:$live', 0))"
wait_for_sql "SELECT pg_try_advisory_lock(hashtextextended('jobrun.run:$live', 0))" '^f$'
run s-dead running 2030-03-01T12:00:04Z >/dev/null
# The unnamed entry, run by hand: its record carries the derived name.
run_jobrun prune --older-than 9d
is "$RC" 0 "a run by hand"
sql "UPDATE jobrun.runs SET started_at = '2030-03-01T12:00:02Z' WHERE entry = 'prune-older-than-9d'" >/dev/null

at_clock 2030-03-01T12:20:00Z 1 status
is "$RC" 3 "status exits 3 when entries are late, missed or failing"
state() { printf '%s\n' "$OUT" | awk -v e="$1" '$1 == e { print $2 == "never" ? "never run" : $2 }'; }
is "$(state s-ok)" ok "ok: the last run succeeded, nothing due since"
is "$(state s-late)" late "late: 12:00 + 15m grace passed, no run since 11:00"
is "$(state s-missed)" missed "missed: the clock recorded the last slots missed"
is "$(state s-failing)" failing "failing: the last run failed"
is "$(state s-paused)" paused "paused"
is "$(state s-running)" running "running: its process holds its run lock"
is "$(state s-dead)" failing "failing: a running record whose process is gone (abandoned)"
is "$(state s-never)" "never run" "never run"
is "$(state prune-older-than-9d)" ok "a run by hand counts for the entry its command line derives"
# Every row's cells start where the header's columns do: each slice between
# the header's offsets holds exactly one cell of that column, then padding.
aligned() {
	printf '%s\n' "$1" | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
head, rows = lines[0], lines[1:]
names = ["ENTRY", "STATE", "SCHEDULE", "LAST RUN", "LAST SUCCESS", "NEXT DUE"]
offs = [head.index(n) for n in names] + [None]
t = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
cell = [r"\S+", r"ok|running|late|missed|failing|paused|never run", r"\S.* \([A-Za-z_/]+\)",
        r"-|[a-z]+ " + t + r"( [0-9.]+s)?", "-|" + t, "-|" + t]
bad = []
for row in [head] + rows:
    for c in range(len(names)):
        piece = row[offs[c]:offs[c + 1]]
        text = piece.rstrip() if c < len(names) - 1 else piece
        sep_ok = c == len(names) - 1 or piece.endswith("  ")
        if row is not head and not (re.fullmatch(cell[c], text) and sep_ok):
            bad.append("%s: %s=%r" % (row.split()[0], names[c], piece))
print(" ".join(bad) or "aligned")'
}
is "$(aligned "$OUT")" aligned "every row's columns start at the header's offsets (a long zoned schedule too)"
like "$OUT" "s-zoned-with-a-long-entry-name +never run +\\*/30 0-19,23 \\* \\* mon,thu \\(America/New_York\\) " \
	"the long zoned schedule is shown whole"

# Within the grace, nothing is late yet.
at_clock 2030-03-01T12:10:00Z 1 status --json
is "$(json_field "$OUT" '" ".join(e["name"] + "=" + e["state"] for e in d["entries"] if e["name"] in ("s-late", "s-ok"))')" "s-ok=ok s-late=ok" "--json: not late before the grace has passed"
is "$(json_field "$OUT" 'd["entries"][0]["last_run"]["status"] + " " + d["entries"][0]["next_due"] + " " + d["entries"][0]["last_success"]')" "succeeded 2030-03-01T13:00:00Z 2030-03-01T12:00:04Z" "--json: last run, next due, last success"

# Only healthy entries: exit 0.
sed -i '/s-late/,+1d; /s-missed/,+1d; /s-failing/,+1d; /s-dead/,+1d' "$JOBRUN_SCHEDULE"
at_clock 2030-03-01T12:20:00Z 1 status
is "$RC" 0 "status exits 0 when nothing is late, missed or failing"
release run-holder

done_testing
