#!/bin/bash
# The schedule file: every kind of bad line is reported as FILE:LINE: why,
# exits 78, and nothing is listed (never half-loaded).
. "$(dirname "$0")/lib.sh"
plan 59

F="$T_TMP/jobrun.cron"
export JOBRUN_SCHEDULE="$F"

# rejects <line number> <regex for the reason> <description>: the file on
# stdin, with good entries around the bad line so a half-load would list them.
rejects() {
	cat >"$F"
	run_jobrun schedule --from 2025-01-01T00:00:00Z
	is "$RC" 78 "$3: exit 78"
	like "$ERR$OUT" "$F:$1: $2" "$3: named with its line"
	unlike "$OUT" "primecache +\(line" "$3: nothing listed"
}

rejects 3 "minute: 60 is out of range 0-59" "minute out of range" <<'C'
# ok first
0 2 * * * jobrun primecache --limit 180
60 2 * * * jobrun prune
0 4 * * * jobrun prune --older-than 7d
C
rejects 2 "day-of-month/month(/day-of-week)?: no date matches, the entry would never fire" "impossible date" <<'C'
0 2 * * * jobrun primecache --limit 180
0 0 30 2 * jobrun prune
C
rejects 2 "minute: a step of 0" "*/0" <<'C'
0 2 * * * jobrun primecache
*/0 * * * * jobrun prune
C
rejects 2 "hour: reversed range 5-1" "reversed range" <<'C'
0 2 * * * jobrun primecache
0 5-1 * * * jobrun prune
C
rejects 2 "month: unknown name 'foo'" "unknown month name" <<'C'
0 2 * * * jobrun primecache
0 1 * foo * jobrun prune
C
rejects 2 "@reboot has no time" "@reboot" <<'C'
0 2 * * * jobrun primecache
@reboot jobrun prune
C
rejects 3 "'clock' is not a job jobrun can schedule \(jobs: primecache, prune" "a scheduled clock" <<'C'
0 2 * * * jobrun primecache

* * * * * jobrun clock
C
rejects 2 "the command must be a jobrun command line" "not jobrun" <<'C'
0 2 * * * jobrun primecache
0 1 * * * /usr/bin/backup.sh
C
rejects 2 "'\|' in the command: entries are split on blanks, not run by a shell" "a pipe" <<'C'
0 2 * * * jobrun primecache
0 1 * * * jobrun prune | mail root
C
rejects 2 "'\\\\?\"' in the command: entries are split on blanks" "quotes" <<'C'
0 2 * * * jobrun primecache
0 1 * * * jobrun prune --older-than "7d"
C
rejects 2 "'%' in the command: cron turns it into a newline" "percent" <<'C'
0 2 * * * jobrun primecache
0 1 * * * jobrun prune --older-than 7d%
C
rejects 4 "entry name 'primecache' is also line 1's" "duplicate names" <<'C'
0 2 * * * jobrun primecache --limit 180
0 3 * * * jobrun prune
# same job, another budget: the same derived name
0 4 * * * jobrun primecache --limit 50
C
rejects 2 "CRON_TZ: unknown time zone 'Mars/Olympus_Mons'" "unknown zone" <<'C'
0 2 * * * jobrun primecache
CRON_TZ=Mars/Olympus_Mons
0 1 * * * jobrun prune
C
rejects 2 "'MAILTO=': only CRON_TZ= may be set here" "environment lines" <<'C'
0 2 * * * jobrun primecache
MAILTO=ops@example.com
C
rejects 2 "'# jobrun:' line with no entry after it" "dangling name" <<'C'
0 2 * * * jobrun primecache
# jobrun: name=orphan
C
rejects 2 "grace '15 minutes' is not a duration|'minutes' in '# jobrun:' is not key=value" "bad grace" <<'C'
0 2 * * * jobrun primecache
# jobrun: grace=15 minutes
0 1 * * * jobrun prune
C
rejects 1 "day-of-week: unknown name 'jobrun'" "a missing field" <<'C'
0 2 * * jobrun primecache
C
rejects 1 "4 fields, expected 5" "too few fields" <<'C'
0 2 * *
C

rm -f "$F"
run_jobrun schedule
is "$RC" 78 "a missing file: exit 78"
like "$ERR$OUT" "$F: cannot read the schedule: No such file" "the error names the file and why"

# Named entries and per-entry grace load; the default file name.
mkdir -p "$T_TMP/app"
cat >"$T_TMP/app/jobrun.cron" <<'C'
# jobrun: name=nightly grace=1h
0 2 * * * jobrun primecache --limit 180
0 3 * * sun jobrun primecache --force-volumes --limit 500
C
(cd "$T_TMP/app" && unset JOBRUN_SCHEDULE && run_jobrun schedule --json --count 1 &&
	printf '%s\n' "$RC" "$OUT" >"$T_TMP/default.out")
is "$(sed -n 1p "$T_TMP/default.out")" 0 "jobrun.cron in the working directory is the default"
OUT=$(sed -n 2p "$T_TMP/default.out")
is "$(jf 'd["entries"][0]["name"], d["entries"][0]["grace_s"]')" "nightly 3600.0" \
	"an explicit name and grace"
is "$(jf 'd["entries"][1]["name"], d["entries"][1]["grace_s"]')" \
	"primecache-force-volumes 900.0" "a derived name (budget options left out) and the default grace"

done_testing
