#!/bin/bash
# The Cloudinary stand-in (test/fakes/cloudinary.py) behaves as the cleanup and
# orphans jobs rely on, over a million generated assets: a search page is cheap,
# keyset cursors neither skip nor repeat an asset when the scanner deletes what
# it read between pages, and a scan whose cursor expired resumes from its
# uploaded_at watermark and ends with the same set. The curl-level checks of
# every route are in test/fakes/selftest.sh.
. "$(dirname "$0")/lib.sh"
plan 7
start_fake cld cloudinary.py --generate 1000000 --spacing 60 --hourly-limit 100000 --api-secret sekrit-0065

# scan <mode>: pages of uploaded_at >= $CUT (a day ago, fixed once so every scan asks
# for the same set) oldest first, 500 at a time; prints JSON
# {"ids": [...], "total": n, "calls": n}. mode "delete": delete each page's images
# before asking for the next; mode "expire": after the first page expire every cursor,
# see the old cursor refused, and resume from the last uploaded_at seen.
scan() {
	python3 - "$CLD_URL" "$1" "$CUT" <<'PY'
import base64, json, sys, urllib.error, urllib.request
base, mode, cut = sys.argv[1], sys.argv[2], sys.argv[3]
auth = {"Authorization": "Basic " + base64.b64encode(b"test-key:sekrit-0065").decode()}
calls = 0
def call(method, path, body):
    global calls
    calls += 1
    req = urllib.request.Request(base + "/v1_1/test-cloud/resources/" + path, json.dumps(body).encode(),
                                 dict(auth, **{"Content-Type": "application/json"}), method=method)
    try:
        return 200, json.load(urllib.request.urlopen(req))
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)
expr = 'uploaded_at>="%s"' % cut
body = {"expression": expr, "max_results": 500, "sort_by": [{"uploaded_at": "asc"}, {"public_id": "asc"}]}
ids, total, refused = [], None, None
while True:
    status, d = call("POST", "search", body)
    assert status == 200, d
    total = d["total_count"] if total is None else total
    ids += [(r["resource_type"], r["public_id"]) for r in d["resources"]]
    if mode == "delete":
        doomed = [r["public_id"] for r in d["resources"] if r["resource_type"] == "image"]
        for i in range(0, len(doomed), 100):
            status, gone = call("DELETE", "image/upload", {"public_ids": doomed[i:i + 100]})
            assert status == 200 and set(gone["deleted"].values()) == {"deleted"}, gone
    if "next_cursor" not in d:
        break
    body["next_cursor"] = d["next_cursor"]
    if mode == "expire" and refused is None:
        urllib.request.urlopen(urllib.request.Request(base + "/_control/cursors/expire", b"{}"))
        refused, _ = call("POST", "search", body)
        # resume: everything uploaded after the watermark, a new scan (no cursor)
        watermark = d["resources"][-1]["uploaded_at"]
        body = dict(body, expression='%s AND uploaded_at>"%s"' % (expr, watermark))
        del body["next_cursor"]
print(json.dumps({"ids": ids, "total": total, "calls": calls, "refused": refused}))
PY
}

CUT=$(python3 -c 'import time; from datetime import datetime, timezone; print(datetime.fromtimestamp(int(time.time()) - 86400, timezone.utc).isoformat())')
# same <file a> <file b>: the two scans saw the same set of assets.
same() { python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); print(sorted(map(tuple, a["ids"])) == sorted(map(tuple, b["ids"])))' "$1" "$2"; }

scan plain >"$T_TMP/plain.json"
plain=$(cat "$T_TMP/plain.json")
# A day at 60 s apart, the newest 2 h old: 1320 or 1321 assets (where the second falls).
like "$(json_field "$plain" 'd["total"], len(d["ids"]), len(set(map(tuple, d["ids"]))), d["calls"]')" \
	'^132[01] 132[01] 132[01] 3$' "a day of a million assets: every item once, in 3 calls of 500"
is "$(json_field "$plain" 'd["total"] == len(d["ids"])')" True "the scan saw exactly total_count assets"

scan expire >"$T_TMP/expire.json"
is "$(json_field "$(cat "$T_TMP/expire.json")" 'd["refused"]')" 400 "an expired cursor is refused with a 400"
is "$(same "$T_TMP/plain.json" "$T_TMP/expire.json")" True "resuming from the uploaded_at watermark ends with the same set"

scan delete >"$T_TMP/delete.json"
is "$(same "$T_TMP/plain.json" "$T_TMP/delete.json")" True "deleting each page before the next neither skips nor repeats an asset"
scan plain >"$T_TMP/after.json"
is "$(json_field "$(cat "$T_TMP/after.json")" 'sorted({t for t, _ in d["ids"]}), len(d["ids"])')" \
	"$(json_field "$plain" 'sorted({t for t, _ in d["ids"]} - {"image"}), sum(t != "image" for t, _ in d["ids"])')" \
	"the deleted images are gone from the next scan, the rest stay"
fake_settle
unlike "$(cat "$FAKE_LOG"; fake_get "$CLD_URL/_control/stats")" 'sekrit' "the secret is in neither the log nor the stats"

done_testing
