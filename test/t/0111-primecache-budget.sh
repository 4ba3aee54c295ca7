#!/bin/bash
# The hourly budget per path is shared state: a run spends at most the window
# on each path, never trips the stand-in (zero violations, gaps >= the spacing),
# reports what is left, and the next run sends nothing to exhausted paths.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
CV_HOURLY=5 cv_start --volumes 3000
cv_track 1 1000

run_jobrun primecache --limit 100 --json
like "$RC" '^(0|3)$' "the run ends normally (exit $RC)"
is "$(jf 'd["summary"]["stop_reason"]')" budget "stop_reason budget"
is "$(cv_stat 'd["by_bucket"].get("/volumes/", {}).get("requests", 0), d["by_bucket"].get("/issues/", {}).get("requests", 0)')" \
	"5 5" "exactly the window's 5 requests on /volumes/ and on /issues/"
is "$(jf 'd["summary"]["budget_remaining"]["/volumes/"], d["summary"]["budget_remaining"]["/issues/"]')" "0 0" \
	"--json: budget_remaining 0 on both"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 500 "the 5 batches brought 500 volumes"

mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
like "$RC" '^(3|75)$' "the next run finds the budget spent (exit $RC)"
is "$(cv_mark)" "$mark" "and sends nothing"
like "$(jf 'd["status"]')" '^(partial|skipped)$' "recorded $(jf 'd["status"]')"

min_gap=$(python3 - "$T_TMP/cv.log" <<'PY'
import json, sys
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1]))
print(min(b - a for a, b in zip(t, t[1:])))
PY
)
check "every gap between two requests is at least 20 ms less 2 ms (smallest: $min_gap s)" \
	python3 -c "import sys; sys.exit(not $min_gap >= 0.018)"
cv_no_violations
done_testing
