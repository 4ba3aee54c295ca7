#!/bin/bash
# A wrong key (status 100) is fatal: exit 78 naming COMICVINE_API_KEY, one
# request and no retry, nothing marked failed. A missing or malformed setting
# is a configuration error (78) before any request.
. "$(dirname "$0")/lib.sh"
plan 15
db_create
db_migrate
cv_start --volumes 500
cv_track 1 200
wrong=wrong-key-4242abcd9876
T_SECRETS="$T_SECRETS $wrong"    # a wrong key is still a secret

COMICVINE_API_KEY=$wrong
run_jobrun primecache --limit 50 --json
is "$RC" 78 "a wrong key exits 78"
like "$ERR" 'COMICVINE_API_KEY' "the message names COMICVINE_API_KEY"
is "$(cv_stat 'd["requests"]')" 1 "one request, no retry after status 100"
is "$(jf 'd["status"]')" failed "--json: status failed"
is "$(sql "SELECT status, error LIKE '%COMICVINE_API_KEY%' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" "failed|t" \
	"the run record is failed, its error names COMICVINE_API_KEY"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fail_count > 0 OR gone_at IS NOT NULL OR fetched_at IS NOT NULL")" 0 \
	"no volume is marked failed, gone or fetched"

unset COMICVINE_API_KEY
run_jobrun primecache --limit 50
is "$RC" 78 "no key at all: 78"
like "$OUT$ERR" 'COMICVINE_API_KEY' "it names COMICVINE_API_KEY"
COMICVINE_API_KEY=""
export COMICVINE_API_KEY
run_jobrun primecache --limit 50
is "$RC" 78 "an empty key: 78"
export COMICVINE_API_KEY=$CV_KEY

COMICVINE_HOURLY_LIMIT=lots run_jobrun primecache --limit 50
is "$RC" 78 "a malformed COMICVINE_HOURLY_LIMIT: 78"
like "$OUT$ERR" 'COMICVINE_HOURLY_LIMIT' "it names the variable"
COMICVINE_MIN_INTERVAL=soon run_jobrun primecache --limit 50
is "$RC" 78 "a malformed COMICVINE_MIN_INTERVAL: 78"
is "$(cv_stat 'd["requests"]')" 1 "configuration errors send no request"

run_jobrun primecache --limit 50
is "$RC" 0 "with the right key the same run works"
cv_no_violations
done_testing
