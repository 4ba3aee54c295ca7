#!/bin/bash
# --limit N: at most N HTTP attempts in the run, retries included, and the
# run record's api_requests is exactly what the stand-in received.
. "$(dirname "$0")/lib.sh"
plan 17
db_create
db_migrate
CV_HOURLY=1000 cv_start --volumes 5000
cv_track 1 1000

runs_limit() { # runs_limit <N> [fault JSON]: one run; sets GOT (requests the stand-in received)
	[ -n "${2:-}" ] && fault "$2"
	local before; before=$(cv_stat 'd["requests"]')
	run_jobrun primecache --limit "$1" --json
	GOT=$(($(cv_stat 'd["requests"]') - before))
}

runs_limit 7
is "$RC" 0 "stopping at --limit exits 0"
is "$GOT" 7 "--limit 7: the stand-in received 7 requests"
is "$(jf 'd["api_requests"], d["summary"]["stop_reason"]')" "7 limit" "--json: api_requests 7, stop_reason limit"
is "$(sql "SELECT api_requests FROM jobrun.runs ORDER BY id DESC LIMIT 1")" 7 "the run record says 7"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 700 \
	"each of the 7 requests brought a full batch of 100 volumes"
is "$(jf 'd["summary"]["freshness_end"]')" 0.7 "freshness_end 0.7"

runs_limit 1
is "$GOT 1" "1 $(jf 'd["api_requests"]')" "--limit 1: one request, recorded"

# Failures and retries spend the same budget: 5xx answers are retried, and
# every attempt counts.
runs_limit 4 '{"kind": "status", "status": 503, "match": "/api/", "count": 3}'
is "$GOT" 4 "--limit 4 with three 503s: 4 attempts reach the stand-in"
is "$(jf 'd["api_requests"]')" 4 "and api_requests counts them all"
is "$(sql "SELECT api_requests FROM jobrun.runs ORDER BY id DESC LIMIT 1")" 4 "so does the run record"
is "$(cv_stat 'd["faults_pending"]')" 0 "(all three faults fired)"

runs_limit 25
is "$GOT" "$(jf 'd["api_requests"]')" "--limit 25: api_requests equals what was received ($GOT)"
check "and it is at most 25" test "$GOT" -le 25
is "$(sql "SELECT sum(api_requests) FROM jobrun.runs WHERE job = 'primecache'")" "$(cv_stat 'd["requests"]')" \
	"over all runs, recorded requests = requests received"

# Default limit: 180, with more work waiting than that.
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day', issues_fetched_at = NULL" >/dev/null
cv_track 1001 3000
runs_limit ""
diag "(the empty --limit above is a usage error; now the default)"
is "$RC" 64 "--limit without a number is a usage error"
before=$(cv_stat 'd["requests"]')
run_jobrun primecache --json
GOT=$(($(cv_stat 'd["requests"]') - before))
is "$GOT $(jf 'd["api_requests"]')" "180 180" "without --limit a run spends at most the default 180 (here exactly)"
cv_no_violations
done_testing
