#!/bin/bash
# A malformed answer is a failed request, not an omission: a /volumes/ answer
# whose "results" is not a list of records with integer ids ("abc", null, an
# object, ids as strings, no results at all) counts as failed_requests and
# makes the run partial; its ids are not fetched one by one and no volume is
# put in failure backoff. A malformed /issues/ answer leaves the lists of its
# volumes stale (they are asked again next run).
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 19

# serve_ok_envelope <match> <python expression for results, or MISSING>: the
# next answer on <match> is HTTP 200 with ComicVine's OK envelope around it.
serve_ok_envelope() {
	fake_post "$CV_URL/_control/fault" "$(python3 - "$1" "$2" <<'PY'
import json, sys
env = {"error": "OK", "limit": 100, "offset": 0, "number_of_page_results": 19,
       "number_of_total_results": 19, "status_code": 1, "version": "1.0"}
if sys.argv[2] != "MISSING":
    env["results"] = eval(sys.argv[2])
print(json.dumps({"kind": "status", "status": 200, "content_type": "application/json",
                  "match": sys.argv[1], "body": json.dumps(env)}))
PY
)" >/dev/null
}

for results in '"abc"' 'None' '{"id": 1, "name": "x"}' '[{"id": str(i), "name": "x"} for i in range(1, 20)]' MISSING; do
	serve_ok_envelope /api/volumes/ "$results"
	mark=$(cv_mark)
	run_jobrun primecache --limit 50 --json
	is "$RC $(jf 'd["status"], d["summary"]["failed_requests"], d["summary"]["volumes"]["failed"]')" "3 partial 1 0" \
		"results $results: exit 3, partial, one failed request, no failed volume"
	is "$(cv_reqs "$mark" | awk '{ print $1 }' | tr '\n' ' ')|$(sql "SELECT count(*) FROM comicvine.volumes WHERE fail_count > 0 OR retry_after IS NOT NULL OR fetched_at IS NOT NULL")" \
		"/volumes/ |0" "results $results: the one batch only, no single fetch, no volume in backoff"
done

run_jobrun primecache --limit 50 --json
is "$RC $(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL AND issues_fetched_at IS NOT NULL")" "0 19" \
	"with a well-formed answer the same run caches all 19 and their issue lists"

# Issue lists: all stale; the first /issues/ answer is malformed.
for results in '"abc"' '[{"id": 5, "volume": {"id": "7"}}]'; do
	psql_q "UPDATE comicvine.volumes SET issues_fetched_at = NULL" >/dev/null
	serve_ok_envelope /api/issues/ "$results"
	mark=$(cv_mark)
	run_jobrun primecache --limit 50 --json
	first=$(cv_reqs "$mark" | awk '$1 == "/issues/" { print $5; exit }')
	is "$RC $(jf 'd["status"], d["summary"]["failed_requests"]')|$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM comicvine.volumes WHERE issues_fetched_at IS NULL")" \
		"3 partial 1|$(echo "$first" | tr ',' '\n' | sort -n | tr '\n' ',' | sed 's/,$//')" \
		"issues results $results: partial, one failed request, exactly its volumes' lists left stale"
done
cv_no_violations
done_testing
