#!/bin/bash
# Blocks that come as HTML (a 403 "Access denied" page, a 200 challenge page)
# are treated like rate limits: stop the path, no single-fetch fallback, keep
# what was fetched, partial; never stored as data or counted as failures.
. "$(dirname "$0")/lib.sh"
plan 8
db_create
db_migrate
cv_start --volumes 2000
cv_track 1 1000
run_jobrun primecache --limit 3
is "$RC" 0 "setup: 300 volumes cached"

fault '[{"kind": "html", "match": "/api/volumes/"}, {"kind": "html200", "match": "/api/issues/"}]'
mark=$(cv_mark)
run_jobrun primecache --limit 100 --json
is "$RC" 3 "blocked with work left: exit 3"
is "$(jf 'd["status"]')" partial "--json: partial"
cv_reqs "$mark" >"$T_TMP/run2"
diag "requests: $(awk '{ print $1, $2, $3 }' "$T_TMP/run2" | tr '\n' ';')"
is "$(grep -c '^/volumes/' "$T_TMP/run2") $(grep -c '^/issues/' "$T_TMP/run2") $(grep -c '^/volume/' "$T_TMP/run2")" "1 1 0" \
	"one request on each blocked path, no single fetches"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL")" 300 "the cached volumes are kept"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fail_count > 0 OR gone_at IS NOT NULL")" 0 "no volume marked failed or gone"
is "$(sql "SELECT count(*) FROM comicvine.issues")" 0 "no issue rows from an HTML page"
cv_no_violations
done_testing
