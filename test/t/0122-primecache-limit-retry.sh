#!/bin/bash
# A retry cut off by --limit is not a success: the request never got its
# answer, so it counts as a failed request and the run is partial (exit 3).
# A run that simply uses up --limit on answered requests still succeeds.
. "$(dirname "$0")/lib.sh"
plan 7
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 300

fake_post "$CV_URL/_control/fault" '{"kind": "status", "status": 500, "match": "/api/volumes/"}' >/dev/null
run_jobrun primecache --limit 1 --json
is "$RC $(jf 'd["status"], d["summary"]["failed_requests"], d["api_requests"]')" "3 partial 1 1" \
	"--limit 1, HTTP 500: the retry is cut off; exit 3, partial, one failed request, one sent"
is "$(sql "SELECT status, api_requests FROM jobrun.runs ORDER BY id DESC LIMIT 1")|$(sql "SELECT count(*) FROM comicvine.volumes")" \
	"partial|1|0" "the run record says partial; no volume blamed"
like "$(sql "SELECT error FROM jobrun.runs ORDER BY id DESC LIMIT 1")" '^request failed: GET /volumes/: HTTP 500 after 1 attempt; the retry was not sent: request limit reached \(--limit 1\)$' \
	"the partial run records why: its first failed request"

fake_post "$CV_URL/_control/fault" '{"kind": "status", "status": 503, "match": "/api/volumes/"}' >/dev/null
run_jobrun primecache --limit 2 --json
is "$RC $(jf 'd["status"], d["summary"]["failed_requests"], d["api_requests"]')" "0 succeeded 0 2" \
	"--limit 2, one 503 then the retry answered: succeeded"

run_jobrun primecache --limit 1 --json
is "$RC $(jf 'd["status"], d["summary"]["stop_reason"]')" "0 succeeded limit" "--limit 1 answered: succeeded, stop_reason limit"

fake_post "$CV_URL/_control/fault" '{"kind": "ratelimit420", "match": "/api/volumes/"}' >/dev/null
run_jobrun primecache --limit 1 --json
is "$RC $(jf 'd["status"], d["summary"]["failed_requests"]')" "3 partial 1" \
	"--limit 1, HTTP 420: the retry is cut off too; partial"
cv_no_violations
done_testing
