#!/bin/bash
# kill -9 mid-run loses at most the request in flight: the next run marks the
# dead one abandoned, carries on without asking again for what was committed,
# and ends with every row once. SIGTERM stops within 5 s with exit 143, the
# run recorded interrupted, committed batches kept.
. "$(dirname "$0")/lib.sh"
plan 17
db_create
db_migrate
CV_INTERVAL=0.05 CV_HOURLY=1000 cv_start --volumes 5000
cv_track 1 1500

bg_jobrun primecache --limit 1000
pid=$BG_PID
check "batches get committed" wait_for_sql \
	"SELECT count(*) >= 300 FROM comicvine.volumes WHERE fetched_at IS NOT NULL" '^t$' 60
kill -KILL "$pid"
wait "$pid" 2>/dev/null
psql_q "SELECT id FROM comicvine.volumes WHERE fetched_at IS NOT NULL ORDER BY id" >"$T_TMP/before"
diag "volumes committed before the kill: $(wc -l <"$T_TMP/before")"
mark=$(cv_mark)

run_jobrun primecache --limit 1000 --json
is "$RC" 0 "the rerun completes"
like "$ERR" 'msg="marked runs of a dead process abandoned" count=1' "it notices the dead run"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'primecache' AND status = 'abandoned' AND finished_at IS NOT NULL")" 1 \
	"the dead run is recorded abandoned"
is "$(cv_reqs "$mark" | awk '$1 == "/volumes/" { print $5 }' | tr ',' '\n' | grep -cxFf "$T_TMP/before")" 0 \
	"the rerun does not ask again for volumes committed before the kill"
is "$(sql "SELECT count(*), count(DISTINCT id) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" "1500|1500" \
	"all 1500 volumes cached, once each"
is "$(sql "SELECT (SELECT count(*) FROM comicvine.issues) = (SELECT sum(count_of_issues) FROM comicvine.volumes)")" t \
	"issue rows = sum of count_of_issues: nothing lost, nothing doubled"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE issues_fetched_at IS NULL AND count_of_issues > 0")" 0 \
	"every issue list was fetched"

# SIGTERM during a refresh of everything.
t0=$(sql "SELECT now()")
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
mark=$(cv_mark)
bg_jobrun primecache --limit 1000
pid=$BG_PID
check "the refresh gets going" wait_for_sql \
	"SELECT count(*) >= 200 FROM comicvine.volumes WHERE fetched_at > '$t0'" '^t$' 60
start=$(now)
kill -TERM "$pid"
wait_exit "$pid"
elapsed=$(since "$start")
sanitizer_check "$BG_ERR"
is "$WAIT_RC" 143 "SIGTERM exits 143"
# The promise itself: finishing the refresh would take many seconds more,
# stopping takes at most one request and one commit.
check "within 5 s (took ${elapsed}s)" below "$elapsed" 5
is "$(sql "SELECT status, summary->>'stop_reason' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "interrupted|sigterm" \
	"the run is recorded interrupted by sigterm"
answered=$(cv_reqs "$mark" | grep -c '^/volumes/ 200')
refreshed=$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at > '$t0'")
check "every answered batch but the one in flight is kept ($refreshed volumes for $answered batches)" \
	test "$refreshed" -ge $((100 * (answered - 1))) -a "$refreshed" -le $((100 * answered))
is "$(sql "SELECT api_requests FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "$(cv_reqs "$mark" | wc -l)" \
	"the interrupted record counts what was sent"

run_jobrun primecache --limit 1000
is "$RC" 0 "a run after that finishes the refresh"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE refresh_after <= now()")" 0 "nothing is left expired"
cv_no_violations
done_testing
