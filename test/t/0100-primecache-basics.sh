#!/bin/bash
# primecache on an empty cache: every tracked volume fetched in batches of 100,
# stored as served (start_year as an integer), every issue list fetched in
# volume batches paged by 100, a truthful --json summary and run record; a
# second run right after finds nothing to do.
. "$(dirname "$0")/lib.sh"
plan 29
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 300

run_jobrun primecache --limit 1000 --json
is "$RC" 0 "a complete run exits 0"
[ "$RC" -eq 0 ] || diag "stderr: $(tail -5 <<<"$ERR")"
is "$(jf 'd["job"], d["status"], d["summary"]["stop_reason"]')" "primecache succeeded done" \
	"--json: job, status succeeded, stop_reason done"
is "$(jf 'd["summary"]["tracked"], d["summary"]["volumes"]["added"], d["summary"]["volumes"]["gone"], d["summary"]["volumes"]["failed"]')" \
	"300 300 0 0" "--json: 300 tracked, 300 added, none gone or failed"
is "$(jf 'd["summary"]["requests"]["/volumes/"], d["summary"]["requests"]["/volume/"], d["summary"]["requests"]["/issue/"]')" \
	"3 0 0" "--json: 300 volumes cost 3 /volumes/ requests and no single fetches"
is "$(jf 'd["summary"]["freshness_start"] == 0 and d["summary"]["freshness_end"] == 1')" True \
	"--json: freshness went from 0 to 1"
served=$(cv_stat 'd["requests"]')
is "$(jf 'd["api_requests"]')" "$served" "api_requests equals what the stand-in received ($served)"
is "$(jf 'sum(d["summary"]["requests"].values())')" "$served" "requests per path add up to the same"
is "$(jf 'all(d["summary"]["budget_remaining"].get(p) == 200 - d["summary"]["requests"].get(p, 0) for p in ("/volumes/", "/issues/")) and all(v == 200 - d["summary"]["requests"].get(p, 0) for p, v in d["summary"]["budget_remaining"].items())')" True \
	"--json: budget_remaining is the hourly limit (200) less what each path used"
run_id=$(jf 'd["run_id"]')
is "$(sql "SELECT job, status, api_requests, summary->>'stop_reason', items_failed FROM jobrun.runs WHERE id = $run_id")" \
	"primecache|succeeded|$served|done|0" "the run record matches"
is "$(jf 'd["summary"]["issues_upserted"]')" "$(sql 'SELECT count(*) FROM comicvine.issues')" \
	"--json: issues_upserted is the number of issue rows"

# The wire: what was asked, and how.
cv_reqs >"$T_TMP/reqs"
is "$(awk '$2 != 200' "$T_TMP/reqs" | wc -l)" 0 "every request was answered 200"
is "$(python3 - "$T_TMP/cv.log" <<'PY'
import json, sys
bad = [r["n"] for r in map(json.loads, open(sys.argv[1])) if not (r.get("user_agent") or "").strip()
       or r["method"] != "GET" or r.get("auth_ok") is not True]
print(bad)
PY
)" "[]" "every request is a GET with the key and a non-empty User-Agent"
is "$(awk '$1 == "/volumes/" { print $5 }' "$T_TMP/reqs" | python3 -c "
import sys
batches = [l.strip().split(',') for l in sys.stdin if l.strip()]
ids = [int(i) for b in batches for i in b]
print(len(batches), max(map(len, batches)), len(ids), len(set(ids)), sorted(set(ids)) == list(range(1, 301)))")" \
	"3 100 300 300 True" "3 /volumes/ batches of at most 100 ids ask for each tracked id exactly once"
is "$(awk '$1 == "/volume/" || $1 == "/issue/" || $1 == "other"' "$T_TMP/reqs" | wc -l)" 0 \
	"no single-volume, single-issue or unknown requests"

# Every volume as the stand-in serves it.
psql_q "SELECT json_agg(row_to_json(v)) FROM (SELECT id, name, start_year, publisher_id, publisher,
	count_of_issues, first_issue_id, last_issue_id, site_url, image_url,
	to_char(date_added, 'YYYY-MM-DD HH24:MI:SS') AS date_added,
	to_char(date_last_updated, 'YYYY-MM-DD HH24:MI:SS') AS date_last_updated,
	data, fetched_at IS NOT NULL AS fetched, refresh_after > now() AS fresh,
	gone_at IS NULL AS present, fail_count, issues_fetched_at IS NOT NULL AS issues_fetched
	FROM comicvine.volumes) v" >"$T_TMP/volumes.json"
python3 - "$T_TMP/volumes.json" "$CV_URL" >"$T_TMP/vcheck" 2>&1 <<'PY'
import json, sys, urllib.request
rows = {r["id"]: r for r in json.load(open(sys.argv[1])) or []}
bad, empty, null, counts = [], 0, 0, {}
for vid in range(1, 301):
    v = json.load(urllib.request.urlopen("%s/_control/volume/%d" % (sys.argv[2], vid)))
    counts[vid] = v["count_of_issues"]
    r = rows.get(vid)
    if r is None:
        bad.append((vid, "missing row")); continue
    sy = v["start_year"]
    empty += sy == ""
    null += sy is None
    pub = v["publisher"] or {}
    want = {
        "name": v["name"], "start_year": int(sy) if sy else None,
        "publisher": pub.get("name"), "publisher_id": pub.get("id"),
        "count_of_issues": v["count_of_issues"],
        "first_issue_id": (v["first_issue"] or {}).get("id"), "last_issue_id": (v["last_issue"] or {}).get("id"),
        "site_url": v["site_detail_url"], "date_added": v["date_added"],
        "date_last_updated": v["date_last_updated"],
        "fetched": True, "fresh": True, "present": True, "fail_count": 0,
        "issues_fetched": True,
    }
    for k, w in want.items():
        if r[k] != w:
            bad.append((vid, k, r[k], w))
    if r["image_url"] not in [u for u in v["image"].values()]:
        bad.append((vid, "image_url", r["image_url"]))
    if not isinstance(r["data"], dict) or r["data"].get("id") != vid or r["data"].get("name") != v["name"]:
        bad.append((vid, "data", str(r["data"])[:80]))
extra = sorted(set(rows) - set(range(1, 301)))
if extra:
    bad.append(("extra rows", extra[:10]))
print("MISMATCHES %d" % len(bad))
for b in bad[:10]:
    print("#  ", b)
print("COVERED %s" % (empty > 0 and null > 0))
print("ISSUES %d" % sum(counts.values()))
print("ZERO %s" % ",".join(str(k) for k, c in counts.items() if not c))
PY
grep '^#' "$T_TMP/vcheck"
is "$(grep '^MISMATCHES' "$T_TMP/vcheck")" "MISMATCHES 0" "all 300 volume rows match what the stand-in served"
is "$(grep '^COVERED' "$T_TMP/vcheck")" "COVERED True" "(the 300 include start_year \"\" and null, stored as NULL)"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE start_year IS NOT NULL AND start_year NOT BETWEEN 1940 AND 2100")" 0 \
	"start_year is always a plausible integer"

want_issues=$(sed -n 's/^ISSUES //p' "$T_TMP/vcheck")
is "$(sql 'SELECT count(*) FROM comicvine.issues')" "$want_issues" "issue rows = sum of count_of_issues ($want_issues)"
zero=$(sed -n 's/^ZERO //p' "$T_TMP/vcheck")
diag "volumes without issues: $zero"
is "$(python3 - "$T_TMP/reqs" "$zero" <<'PY'
import sys, collections
zero = set(sys.argv[2].split(",")) - {""}
pages = collections.defaultdict(list)
problems = []
for line in open(sys.argv[1]):
    bucket, status, fault, off, ids = line.split()
    if bucket != "/issues/":
        continue
    vols = ids.split(",")
    if len(vols) > 50:
        problems.append("batch of %d volumes" % len(vols))
    if zero & set(vols):
        problems.append("asked issues of count-0 volumes %s" % sorted(zero & set(vols)))
    pages[ids].append(int(off) if off != "-" else 0)
for ids, offs in pages.items():
    if sorted(offs) != list(range(0, 100 * len(offs), 100)):
        problems.append("offsets %s" % offs)
asked = {v for ids in pages for v in ids.split(",")}
missing = {str(v) for v in range(1, 301)} - zero - asked
if missing:
    problems.append("issues never asked for %s" % sorted(missing, key=int)[:10])
print(problems[:5])
PY
)" "[]" "issues asked in batches of <= 50 volumes, paged by offset 0,100,…; count-0 volumes skipped"
is "$(sql "SELECT count(*) FROM comicvine.issues i LEFT JOIN comicvine.volumes v ON v.id = i.volume_id WHERE v.id IS NULL OR i.id / 100 <> i.volume_id")" 0 \
	"every issue belongs to its volume"

psql_q "SELECT json_agg(row_to_json(i)) FROM (SELECT id, volume_id, issue_number, name, cover_date::text AS cover_date,
	store_date::text AS store_date, to_char(date_last_updated, 'YYYY-MM-DD HH24:MI:SS') AS date_last_updated,
	site_url, data->>'id' AS data_id FROM comicvine.issues WHERE volume_id IN (1, 2, 3, 150, 299, 300)) i" >"$T_TMP/issues.json"
is "$(python3 - "$T_TMP/issues.json" "$CV_URL" <<'PY'
import json, sys, urllib.request
rows = {r["id"]: r for r in json.load(open(sys.argv[1])) or []}
bad = []
for vid in (1, 2, 3, 150, 299, 300):
    for it in json.load(urllib.request.urlopen("%s/_control/issues/%d" % (sys.argv[2], vid))):
        r = rows.pop(it["id"], None)
        if r is None:
            bad.append((it["id"], "missing")); continue
        want = {"volume_id": vid, "issue_number": it["issue_number"], "name": it["name"],
                "cover_date": it["cover_date"], "store_date": it["store_date"],
                "date_last_updated": it["date_last_updated"], "site_url": it["site_detail_url"],
                "data_id": str(it["id"])}
        bad += [(it["id"], k, r[k], w) for k, w in want.items() if r[k] != w]
bad += [(i, "extra") for i in rows]
print(bad[:5])
PY
)" "[]" "issue rows of six volumes match what the stand-in served"

# A second run right after: everything is fresh, nothing to ask.
mark=$(cv_mark)
run_jobrun primecache --limit 1000
is "$RC" 0 "the second run exits 0"
is "$(cv_mark)" "$mark" "the second run sends no request"
unlike "$OUT" '^[^a]|^a[^t]|^at[^=]' "every stdout line is logfmt (at=…)"
like "$OUT" 'msg="run finished" status=succeeded' "it logs the finished run"
is "$(sql "SELECT status, api_requests, (summary->>'freshness_start')::float8, summary->'volumes'->>'added', summary->>'stop_reason' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"succeeded|0|1|0|done" "its record: 0 requests, freshness 1 at start, nothing added"
is "$(sql "SELECT count(*) FROM jobrun.runs WHERE job = 'primecache'")" 2 "two runs recorded"

run_jobrun primecache --bogus-option
is "$RC" 64 "an unknown option is a usage error (64)"

cv_no_violations
done_testing
