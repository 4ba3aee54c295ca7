#!/bin/bash
# The hourly budget per path is shared state: a run spends at most the window
# on each path, never trips the stand-in (zero violations, every answer 200),
# reports what is left, and the next run sends nothing to exhausted paths.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
CV_HOURLY=5 cv_start --volumes 3000
cv_track 1 1000

# The hourly budget ends the run with work left: partial, exit 3.
run_jobrun primecache --limit 100 --json
is "$RC $(jf 'd["status"]')" "3 partial" "the run stops with work left: exit 3, partial"
is "$(jf 'd["summary"]["stop_reason"]')" budget "stop_reason budget"
is "$(cv_stat 'd["by_bucket"].get("/volumes/", {}).get("requests", 0), d["by_bucket"].get("/issues/", {}).get("requests", 0)')" \
	"5 5" "exactly the window's 5 requests on /volumes/ and on /issues/"
is "$(jf 'd["summary"]["budget_remaining"]["/volumes/"], d["summary"]["budget_remaining"]["/issues/"]')" "0 0" \
	"--json: budget_remaining 0 on both"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 500 "the 5 batches brought 500 volumes"

# A budget spent before any work is a skip (DESIGN: exit 75).
mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC" 75 "the next run finds the budget spent before any work: exit 75"
is "$(cv_mark)" "$mark" "and sends nothing"
is "$(jf 'd["status"]') $(sql "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "skipped skipped" \
	"--json and the run record say skipped"

# The stand-in judges every gap (with its 6 ms of stamping noise: see
# cv_start); a request that came early would also have been refused.
is "$(cv_reqs | awk '$2 != 200' | wc -l)" 0 "the stand-in refused no request (none early, none over the window)"
cv_no_violations
done_testing
