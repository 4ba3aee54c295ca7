#!/bin/bash
# Hostile strings from the API (quotes, backslash, tab, newline, \N, commas,
# 4-byte UTF-8, HTML, 10,000-character decks, NUL, lone surrogates, "" and
# "19x7" years, nulls) are stored verbatim, or the volume is rejected cleanly
# with a logged reason; never a crash, never a corrupted row or log line.
# NUL and a lone surrogate cannot be stored in PostgreSQL text or jsonb: the
# test expects them dropped or replaced (U+FFFD or '?').
. "$(dirname "$0")/lib.sh"
plan 9
db_create
db_migrate
cv_start --volumes 100 --hostile-ids 3,4
cv_track 1 20

run_jobrun primecache --limit 100
first_rc=$RC
unlike "$OUT" '^[^a]|^a[^t]|^at[^=]' "every stdout line is still logfmt: no raw newline from the data"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL AND id NOT IN (3, 4)")" 18 \
	"the 18 ordinary volumes are cached"

psql_q "SELECT json_agg(json_build_object('id', id, 'fetched', fetched_at IS NOT NULL, 'name', name,
	'start_year', start_year, 'publisher', publisher, 'publisher_id', publisher_id, 'count', count_of_issues,
	'dlu', date_last_updated, 'data', data, 'fail_count', fail_count, 'last_error', last_error))
	FROM comicvine.volumes WHERE id IN (3, 4)" >"$T_TMP/hostile.json"
for id in 3 4; do
	verdict=$(python3 - "$T_TMP/hostile.json" "$CV_URL" "$id" "$OUT" <<'PY'
import json, re, sys, urllib.request
rows = {r["id"]: r for r in json.load(open(sys.argv[1])) or []}
vid = int(sys.argv[3])
v = json.load(urllib.request.urlopen("%s/_control/volume/%d" % (sys.argv[2], vid)))
r = rows.get(vid)
if not r or not r["fetched"]:
    # Rejected: it must say so, in the row and in the log.
    logged = re.search(r"(id|volume)=%d\b" % vid, sys.argv[4]) is not None
    print("rejected" if (r and r["last_error"] and logged) else "rejected-silently %r" % (r,))
    sys.exit()
problems = []
if r["name"] != v["name"]:
    problems.append("name %r" % r["name"])
pub_ok = re.fullmatch("Pub nul[\ufffd?]? lone[\ufffd?]? pair\U0001F600 <i>x</i>", r["publisher"] or "")
if not pub_ok:
    problems.append("publisher %r" % r["publisher"])
if r["publisher_id"] != 666:
    problems.append("publisher_id %r" % r["publisher_id"])
if r["start_year"] is not None or r["count"] is not None or r["dlu"] is not None:
    problems.append("year/count/dlu %r %r %r" % (r["start_year"], r["count"], r["dlu"]))
d = r["data"]
for key in ("name", "deck", "aliases", "description"):
    if key in d and d[key] != v[key]:
        problems.append("data.%s %r" % (key, str(d[key])[:40]))
if "name" not in d:
    problems.append("data has no name")
print("stored" if not problems else "stored-wrong %s" % problems)
PY
)
	like "$verdict" '^(stored|rejected)$' "hostile volume $id: $verdict"
	verdicts="${verdicts:-} $verdict"
done
# Both ways out are the design's; the exit code must match the way taken: a
# rejected volume is a failed item (3), two stored ones a clean run (0).
case "$verdicts" in *rejected*) want_rc=3 ;; *) want_rc=0 ;; esac
is "$first_rc" "$want_rc" "the run finishes with the exit code its verdicts imply, no crash"
python3 - "$T_TMP/hostile.json" <<'PY' | while IFS= read -r l; do diag "$l"; done
import json, sys
for r in json.load(open(sys.argv[1])) or []:
    print("volume %d: publisher stored as %r, deck %s chars in data, last_error %r"
          % (r["id"], r["publisher"], len((r["data"] or {}).get("deck") or ""), r["last_error"]))
PY
is "$(sql "SELECT count(*) FROM comicvine.issues i JOIN comicvine.volumes v ON v.id = i.volume_id WHERE v.id IN (3, 4)
	AND i.data->'volume'->>'name' IS NOT NULL AND i.data->'volume'->>'name' NOT LIKE 'Hostile %'")" 0 \
	"issues of hostile volumes, when stored, keep the hostile volume name"

# Nothing is due: stored volumes are fresh, rejected ones wait out their
# backoff. So the second run has nothing to do and nothing to fail.
mark=$(cv_mark)
run_jobrun primecache --limit 100
is "$RC:$(cv_mark)" "0:$mark" "a second run is just as calm: exit 0, nothing sent"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE id IN (3, 4) AND gone_at IS NOT NULL")" 0 "hostile volumes are not marked gone"
cv_no_violations
done_testing
