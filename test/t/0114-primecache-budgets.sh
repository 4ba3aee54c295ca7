#!/bin/bash
# primecache under the time budget (--max-runtime) and COMICVINE_DAILY_LIMIT.
. "$(dirname "$0")/lib.sh"
plan 16
db_create
db_migrate
CV_INTERVAL=0.2 cv_start --volumes 3000
cv_track 1 3000

# 0.2 s between requests: a 2 s budget ends after a handful of them (at
# most 11; a slow start on a loaded machine leaves fewer, maybe none).
run_jobrun primecache --limit 180 --max-runtime 2s --json
is "$RC" 3 "reaching --max-runtime exits 3"
is "$(jf 'd["status"], d["summary"]["stop_reason"]')" "interrupted deadline" "the run is interrupted by the deadline"
sent=$(cv_stat 'd["requests"]')
is "$(jf 'd["api_requests"]')" "$sent" "it counts every request the stand-in received ($sent)"
check "it stopped long before --limit 180 ($sent requests)" test "$sent" -le 11
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" "$(jf 'd["summary"]["volumes"]["added"]')" "what it fetched is committed"
is "$(sql "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" interrupted "the run record says interrupted"

# A daily cap of 3 across every path, shared with the run above.
psql_q "DELETE FROM jobrun.rate_buckets" >/dev/null
before=$(cv_stat 'd["requests"]')
COMICVINE_DAILY_LIMIT=3 run_jobrun primecache --limit 180 --json
is "$RC" 3 "a spent daily budget with work left exits 3"
is "$(jf 'd["summary"]["stop_reason"]')" budget "the stop reason is the budget"
is "$(($(cv_stat 'd["requests"]') - before))" 3 "exactly the daily cap was sent"

COMICVINE_DAILY_LIMIT=3 run_jobrun primecache --limit 180 --json
is "$RC" 75 "a run that finds the budget spent before any work exits 75"
is "$(jf 'd["status"]')" skipped "and is recorded skipped"

# A batch that keeps failing (HTTP 500 on every attempt) leaves its volumes
# for the next run and makes this one partial.
psql_q "DELETE FROM jobrun.rate_buckets" >/dev/null
fault '{"match": "/api/volumes/", "kind": "status", "status": 500, "count": 5}'
JOBRUN_HTTP_MAX_ATTEMPTS=5 run_jobrun primecache --limit 7 --json
is "$RC" 3 "a request that fails after every retry exits 3"
is "$(jf 'd["status"], d["summary"]["failed_requests"]')" "partial 1" "the run is partial with one failed request"
is "$(jf 'd["api_requests"]')" 7 "the five attempts and the rest count toward --limit"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fail_count > 0")" 0 "no volume is blamed for a failed batch"
cv_no_violations
done_testing
