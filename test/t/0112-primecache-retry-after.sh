#!/bin/bash
# Retry-After is respected: a 429 with "Retry-After: 1" delays the next request
# on that path by at least a second and the run still completes; a long
# Retry-After stops the path, is kept in jobrun.rate_buckets, and the next run
# sends nothing there.
. "$(dirname "$0")/lib.sh"
plan 10
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 500
run_jobrun primecache --limit 3
is "$RC" 0 "setup: 300 volumes cached"

fault '{"kind": "retry_after", "match": "/api/volumes/", "value": "1", "status": 429}'
mark=$(cv_mark)
run_jobrun primecache --limit 200 --json
is "$RC" 0 "after a 429 with Retry-After: 1 the run completes"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE refresh_after > now()")" 500 "all 500 volumes cached"
# The 429 is stamped before it is answered, and the block starts once
# jobrun has the answer: the next request's stamp is at least 1 s later on
# any machine. The 10 ms are rounding in the limiter's interval arithmetic.
fake_settle "$CV_URL"
gap=$(python3 - "$T_TMP/cv.log" "$mark" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]]
vol = [r for r in reqs if r["bucket"] == "/volumes/"]
i = next(k for k, r in enumerate(vol) if r["status"] == 429)
print(round(vol[i + 1]["t"] - vol[i]["t"], 3) if i + 1 < len(vol) else "none")
PY
)
check "the next /volumes/ request waited at least 1 s ($gap s)" python3 -c "import sys; sys.exit(not '$gap' != 'none' and float('$gap') >= 0.99)"

psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
fault '{"kind": "retry_after", "match": "/api/volumes/", "value": "3600", "status": 429}'
mark=$(cv_mark)
run_jobrun primecache --limit 200 --json
is "$RC" 3 "Retry-After: 3600 with work left: exit 3"
is "$(jf 'd["status"], d["summary"]["stop_reason"]')" "partial rate_limited" "--json: partial, rate_limited"
is "$(cv_reqs "$mark" | grep -c '^/volumes/')" 1 "one /volumes/ request, no retry within the run"
is "$(sql "SELECT count(*) FROM jobrun.rate_buckets WHERE bucket = '/volumes/' AND blocked_until > now() + interval '50 minutes'")" 1 \
	"the block is kept in jobrun.rate_buckets"
mark=$(cv_mark)
run_jobrun primecache --limit 200
is "$(cv_reqs "$mark" | grep -c '^/volumes/')" 0 "the next run sends nothing to /volumes/ (exit $RC)"
cv_no_violations
done_testing
