#!/bin/bash
# Priority, strictly: missing volumes, then expired ones (most overdue first),
# then stale issue lists (series from the last 5 years first). The state is
# made with UPDATEs of the timestamps, never by waiting.
. "$(dirname "$0")/lib.sh"
plan 13
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 400

run_jobrun primecache --limit 1000
is "$RC" 0 "the initial fill succeeds"

year=$(date -u +%Y)
cv_track 401 450                                 # (a) missing
psql_q "UPDATE comicvine.volumes                 -- (b) expired, overdue 1..150 h in shuffled order
	SET refresh_after = now() - ((id * 37 % 150) + 1) * interval '1 hour' WHERE id BETWEEN 1 AND 150;
	UPDATE comicvine.volumes SET issues_fetched_at = NULL WHERE id BETWEEN 200 AND 229;
	UPDATE comicvine.volumes SET issues_date_last_updated = '2001-01-01 00:00:00' WHERE id BETWEEN 230 AND 259;
	UPDATE comicvine.volumes SET issues_refresh_after = now() - interval '1 hour' WHERE id BETWEEN 260 AND 289;
	UPDATE comicvine.volumes SET issues_fetched_at = NULL
		WHERE id BETWEEN 290 AND 400 AND start_year >= $year - 4" >/dev/null
stale=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM comicvine.volumes WHERE count_of_issues > 0
	AND (id BETWEEN 200 AND 289 OR (id BETWEEN 290 AND 400 AND start_year >= $year - 4))")

mark=$(cv_mark)
run_jobrun primecache --limit 2 --json
is "$RC" 0 "a run stopped by --limit exits 0"
is "$(jf 'd["summary"]["stop_reason"]')" limit "stop_reason limit"
cv_reqs "$mark" >"$T_TMP/run2"
is "$(awk '{ print $1 }' "$T_TMP/run2" | tr '\n' ' ')" "/volumes/ /volumes/ " "with 2 requests to spend, both go to volumes"
is "$(head -1 "$T_TMP/run2" | python3 -c "import sys; ids = set(map(int, sys.stdin.read().split()[4].split(','))); print(set(range(401, 451)) <= ids)")" \
	True "the first request carries all 50 missing volumes"

run_jobrun primecache --limit 1000
is "$RC" 0 "the rest completes"
cv_reqs "$mark" >"$T_TMP/after"
psql_q "SELECT json_agg(json_build_object('id', id, 'start_year', start_year, 'count', count_of_issues))
	FROM comicvine.volumes" >"$T_TMP/vols.json"

analyse() { # analyse <check>: one verdict from the request sequence after the setup
	python3 - "$T_TMP/after" "$T_TMP/vols.json" "$year" "$stale" "$1" <<'PY'
import json, sys
reqs = [l.split() for l in open(sys.argv[1])]
vols = {v["id"]: v for v in json.load(open(sys.argv[2]))}
year, stale, check = int(sys.argv[3]), {int(x) for x in sys.argv[4].split(",")}, sys.argv[5]
missing, expired = set(range(401, 451)), set(range(1, 151))
overdue = {i: i * 37 % 150 for i in expired}
vpos, ipos = {}, {}
for n, (bucket, status, fault, off, ids) in enumerate(reqs):
    target = vpos if bucket in ("/volumes/", "/volume/") else ipos if bucket == "/issues/" else None
    if target is not None and ids != "-":
        for i in map(int, ids.split(",")):
            target.setdefault(i, n)
if check == "volumes-first":
    vn = [n for n, r in enumerate(reqs) if r[0] in ("/volumes/", "/volume/")]
    isn = [n for n, r in enumerate(reqs) if r[0] == "/issues/"]
    print(bool(vn) and bool(isn) and max(vn) < min(isn))
elif check == "missing-before-expired":
    print(max(vpos[i] for i in missing) <= min(vpos[i] for i in expired))
elif check == "overdue-order":
    order = sorted(expired, key=lambda i: -overdue[i])
    pos = [vpos[i] for i in order]
    bad = [(order[k], order[k + 1]) for k in range(len(pos) - 1) if pos[k] > pos[k + 1]]
    print(bad[:3])
elif check == "only-needed-volumes":
    print(sorted(set(vpos) - missing - expired)[:10])
elif check == "issue-set":
    want = stale | {i for i in missing if vols[i]["count"]}
    print(sorted(set(ipos) ^ want)[:10])
elif check == "recent-first":
    age = lambda i: year - vols[i]["start_year"] if vols[i]["start_year"] is not None else 999
    recent = [i for i in ipos if age(i) <= 4]
    old = [i for i in ipos if age(i) >= 6]
    ok = bool(recent) and bool(old) and max(ipos[i] for i in recent) <= min(ipos[i] for i in old)
    print(ok, len(recent), len(old))
PY
}
is "$(analyse volumes-first)" True "every volume request comes before any issue request"
is "$(analyse missing-before-expired)" True "missing volumes are asked before expired ones"
is "$(analyse overdue-order)" "[]" "expired volumes are asked most overdue first"
is "$(analyse only-needed-volumes)" "[]" "no fresh volume is asked again"
is "$(analyse issue-set)" "[]" "issues are asked for exactly the stale lists (3 kinds of staleness) and the new volumes"
like "$(analyse recent-first)" '^True ' "issue lists of series from the last 5 years come first ($(analyse recent-first))"
cv_no_violations
done_testing
