#!/bin/bash
# Rate limited (HTTP 420 with the 107 body on /volumes/, a 107 body with HTTP
# 200 on /issues/): jobrun stops sending on that path at once — no retries, no
# falling back to single fetches — keeps what it fetched, ends partial (3).
# A rate limit is not a volume failure.
. "$(dirname "$0")/lib.sh"
plan 13
db_create
db_migrate
cv_start --volumes 2000
cv_track 1 1000

run_jobrun primecache --limit 3
is "$RC" 0 "setup: 300 volumes cached"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 300 "(300 of them)"

body107=$(cat "$T_ROOT/test/fixtures/comicvine/error-107-rate-limit-http420.json" 2>/dev/null ||
	echo '{"error":"Rate limit exceeded.  Slow down cowboy.","limit":0,"offset":0,"number_of_page_results":0,"number_of_total_results":0,"status_code":107,"results":[]}')
fault "$(python3 -c '
import json, sys
print(json.dumps([{"kind": "ratelimit420", "match": "/api/volumes/"},
                  {"kind": "status", "status": 200, "match": "/api/issues/", "content_type": "application/json",
                   "body": sys.argv[1]}]))' "$body107")"
mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC" 3 "rate limited with work left: exit 3"
is "$(jf 'd["status"], d["summary"]["stop_reason"]')" "partial rate_limited" "--json: partial, stop_reason rate_limited"
cv_reqs "$mark" >"$T_TMP/run2"
diag "requests: $(awk '{ print $1, $2, $3 }' "$T_TMP/run2" | tr '\n' ';')"
is "$(grep -c '^/volumes/' "$T_TMP/run2")" 1 "one /volumes/ request (the 420), nothing more on that path"
is "$(grep -c '^/issues/' "$T_TMP/run2")" 1 "one /issues/ request (the 107 with HTTP 200), nothing more on that path"
is "$(grep -c '^/volume/' "$T_TMP/run2")" 0 "a rate-limited batch is not mistaken for omitted ids"
is "$(cv_stat 'd["faults_fired"]')" 2 "(both faults fired)"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 300 "the 300 cached volumes are kept"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fail_count > 0 OR last_error IS NOT NULL OR gone_at IS NOT NULL")" 0 \
	"no volume is marked failed or gone because of a rate limit"
is "$(jf 'd["api_requests"]') $(sql "SELECT status, api_requests FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"$(wc -l <"$T_TMP/run2") partial|$(wc -l <"$T_TMP/run2")" "api_requests and the run record count what was sent"
like "$ERR" 'rate.?limit' "the log says it was rate limited"
cv_no_violations
done_testing
