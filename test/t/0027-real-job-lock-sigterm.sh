#!/bin/bash
# The lock and SIGTERM through the shipped binary and a real job: the lock
# and signal tests 0030 and 0031 drive the test helper's debug-work, so
# this keeps `jobrun primecache` (cmd/jobrun.c's main, cmd/job_main.c)
# covered. A second instance exits 75 and is recorded skipped without a
# request; SIGTERM mid-request exits 143 within 5 s, recorded interrupted;
# the next run gets the lock.
. "$(dirname "$0")/lib.sh"
plan 11
db_create
db_migrate
cv_start --volumes 500
cv_track 1 300

# The stand-in holds the first request for two minutes: the run is in it,
# holding its lock, for as long as the checks below take on a slow machine.
fault '{"kind": "slow", "seconds": 120}'
bg_jobrun primecache --limit 5
first=$BG_PID
first_err=$BG_ERR
in_slow_request() { [ "$(cv_stat 'd["faults_fired"], d["in_progress"]')" = "1 1" ]; }
check "the first run is in its (held) first request" wait_until 30 in_slow_request

run_jobrun primecache --limit 5 --json
is "$RC" 75 "a second instance exits 75"
is "$(jf 'd["status"], d["api_requests"]')" "skipped 0" "--json: skipped, no request"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'primecache' AND status = 'skipped'
	AND error LIKE 'another instance holds the lock%' AND api_requests = 0")" 1 "the skipped run is recorded"
is "$(cv_stat 'd["requests"]')" 1 "the stand-in saw only the first run's request"

# The held request would take two minutes: exiting within 5 s means the
# stop cut it short (a stop takes milliseconds; load does not approach 5 s).
start=$(now)
kill -TERM "$first"
wait_exit "$first"
elapsed=$(since "$start")
sanitizer_check "$first_err"
is "$WAIT_RC" 143 "SIGTERM mid-request exits 143"
check "it stops within 5 s (took ${elapsed}s)" below "$elapsed" 5
is "$(sql "SELECT status, summary->>'stopped_by', finished_at IS NOT NULL FROM jobrun.runs
	WHERE job = 'primecache' AND status <> 'skipped'")" "interrupted|sigterm|t" \
	"the run is recorded interrupted by sigterm, and finished"

run_jobrun primecache --limit 5
is "$RC" 0 "the next run takes the lock and completes"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'primecache' AND status = 'succeeded'")" 1 \
	"it is recorded succeeded"
cv_no_violations
done_testing
