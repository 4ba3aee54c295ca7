#!/bin/bash
# Two runs at once: the second finds the lock held, exits 75, is recorded
# skipped and sends nothing; the first is undisturbed.
. "$(dirname "$0")/lib.sh"
plan 8
db_create
db_migrate
CV_INTERVAL=0.05 cv_start --volumes 2000
cv_track 1 800

bg_jobrun primecache --limit 1000 --json
first=$BG_PID; first_out=$BG_OUT
check "the first run is sending" wait_for_line "$T_TMP/cv.log" '"path"' 30

run_jobrun primecache --limit 1000 --json
is "$RC" 75 "the second instance exits 75"
is "$(jf 'd["status"], d["api_requests"]')" "skipped 0" "--json: skipped, no request"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'primecache' AND status = 'skipped' AND api_requests = 0")" 1 \
	"the skipped run is recorded"

wait_exit "$first"
sanitizer_check "${first_out%.out}.err"
is "$WAIT_RC" 0 "the first run completes"
OUT=$(cat "$first_out")
is "$(jf 'd["api_requests"]')" "$(cv_stat 'd["requests"]')" "every request the stand-in saw came from the first run"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE refresh_after > now()")" 800 "all 800 volumes cached"
cv_no_violations
done_testing
