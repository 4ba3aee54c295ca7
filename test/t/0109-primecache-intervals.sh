#!/bin/bash
# Refresh intervals by series age (<= 3 years 7d, 4-10 14d, older/unknown 30d)
# with a deterministic ±10 % jitter; COMICVINE_REFRESH_INTERVALS overrides
# them. A failing volume backs off 1, 2, … days; --force-volumes retries it.
. "$(dirname "$0")/lib.sh"
plan 15
db_create
db_migrate
cv_start --volumes 1000 --omit-ids 3
cv_track 1 400
year=$(date -u +%Y)

intervals() { # intervals <d1> <d2> <d3>: verdict over all cached volumes
	psql_q "SELECT json_agg(json_build_object('id', id, 'sy', start_year,
		'r', extract(epoch FROM refresh_after - fetched_at)))
		FROM comicvine.volumes WHERE fetched_at IS NOT NULL" | python3 -c "
import json, sys
year, d = $year, [float(x) * 86400 for x in '$1 $2 $3'.split()]
rows = json.load(sys.stdin)
bad, seen = [], {0: [], 1: [], 2: []}
for r in rows:
    age = year - r['sy'] if r['sy'] is not None else None
    if age in (3, 4, 10, 11):
        continue          # boundary years: 'within the last 3 years' reads two ways
    k = 0 if age is not None and age <= 3 else 1 if age is not None and age <= 10 else 2
    ratio = r['r'] / d[k]
    seen[k].append(ratio)
    if not 0.895 <= ratio <= 1.105:
        bad.append((r['id'], r['sy'], round(r['r'] / 86400, 2)))
spread = all(len(v) >= 3 and max(v) - min(v) > 0.02 for v in seen.values())
print(bad[:5], [len(v) for v in seen.values()] if not all(seen.values()) else 'all-ages', 'jitter' if spread else 'no-jitter')
"
}

run_jobrun primecache --limit 200
is "$RC" 0 "the first fill exits 0"
is "$(intervals 7 14 30)" "[] all-ages jitter" "refresh_after - fetched_at: 7/14/30 days by age, ±10 %, jittered"
psql_q "SELECT id, extract(epoch FROM refresh_after - fetched_at)::bigint FROM comicvine.volumes ORDER BY id" >"$T_TMP/first"

psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
run_jobrun primecache --limit 200
is "$RC" 0 "a refresh of everything exits 0"
psql_q "SELECT id, extract(epoch FROM refresh_after - fetched_at)::bigint FROM comicvine.volumes ORDER BY id" >"$T_TMP/second"
is "$(python3 - "$T_TMP/first" "$T_TMP/second" <<'PY'
import sys
a, b = (dict(l.strip().split("|") for l in open(p) if l.strip()) for p in sys.argv[1:3])
print([k for k in a if abs(int(a[k]) - int(b.get(k, -9999))) > 2][:5])
PY
)" "[]" "the jitter is deterministic: the same interval for the same id"

psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
COMICVINE_REFRESH_INTERVALS=1d,2d,3d run_jobrun primecache --limit 200
is "$RC" 0 "with COMICVINE_REFRESH_INTERVALS=1d,2d,3d"
is "$(intervals 1 2 3)" "[] all-ages jitter" "the intervals are 1/2/3 days"

# Failure backoff: volume 3 is omitted from batches and its single fetch fails.
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day' WHERE id = 3" >/dev/null
fault '{"kind": "status", "status": 500, "match": "/api/volume/", "count": 8}'
run_jobrun primecache --limit 200 --json
is "$RC" 3 "a failed volume makes the run exit 3"
is "$(jf 'd["summary"]["volumes"]["failed"]')" 1 "--json: volumes.failed 1"
is "$(sql "SELECT fail_count, last_error IS NOT NULL, retry_after BETWEEN now() + interval '20 hours' AND now() + interval '28 hours' FROM comicvine.volumes WHERE id = 3")" \
	"1|t|t" "fail_count 1, last_error set, retried in about a day"
v_before=$(cv_stat 'd["violations"]')
fake_post "$CV_URL/_control/reset" '{}' >/dev/null      # drop leftover faults (stats restart)

mark=$(cv_mark)
run_jobrun primecache --limit 200
is "$(cv_reqs "$mark" | awk '{ print $5 }' | tr ',' '\n' | grep -cx 3)" 0 "in backoff, volume 3 is not asked"

fault '{"kind": "status", "status": 500, "match": "/api/volume/", "count": 8}'
run_jobrun primecache --limit 200 --force-volumes
is "$(sql "SELECT fail_count, retry_after BETWEEN now() + interval '40 hours' AND now() + interval '56 hours' FROM comicvine.volumes WHERE id = 3")" \
	"2|t" "--force-volumes retries it; failing again doubles the backoff"
v_before=$((v_before + $(cv_stat 'd["violations"]')))
fake_post "$CV_URL/_control/reset" '{}' >/dev/null

mark=$(cv_mark)
run_jobrun primecache --limit 200 --force-volumes
is "$RC" 0 "--force-volumes with the stand-in healthy exits 0"
is "$(cv_reqs "$mark" | awk '$1 == "/volume/" { print $5 }' | tr '\n' ' ')" "3 " "it asks for volume 3 singly"
is "$(sql "SELECT fail_count, last_error IS NULL, retry_after IS NULL, refresh_after > now() FROM comicvine.volumes WHERE id = 3")" \
	"0|t|t|t" "success clears the failure state"
is "$((v_before + $(cv_stat 'd["violations"]')))" 0 "the stand-in counted no rate-limit violation (across its resets)"
done_testing
