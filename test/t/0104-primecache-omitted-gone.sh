#!/bin/bash
# Ids a /volumes/ batch silently omits (merged) are fetched one by one through
# /volume/4050-ID/; a 101 there marks the volume gone, and it is not asked
# again on later runs, even when its row has expired.
. "$(dirname "$0")/lib.sh"
plan 16
db_create
db_migrate
cv_start --volumes 1000 --omit-ids 5,17,150 --deleted-ids 9,160
cv_track 1 200

run_jobrun primecache --limit 200 --json
is "$RC" 0 "the run exits 0 (gone volumes are not failures)"
cv_reqs >"$T_TMP/run1"
is "$(awk '$1 == "/volume/" { print $5 }' "$T_TMP/run1" | sort -n | tr '\n' ' ')" "5 9 17 150 160 " \
	"exactly the 5 omitted ids were fetched singly, once each"
is "$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM comicvine.volumes WHERE gone_at IS NOT NULL")" "9 160" \
	"the two 101 answers marked their volumes gone"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE fetched_at IS NOT NULL AND gone_at IS NULL")" 198 \
	"the other 198 are cached, the merged ones included"
is "$(jf 'd["summary"]["volumes"]["gone"], d["summary"]["volumes"]["added"], d["summary"]["requests"]["/volume/"]')" \
	"2 198 5" "--json: 2 gone, 198 added, 5 single requests"
for id in 5 150; do
	is "$(sql "SELECT name, to_char(date_last_updated, 'YYYY-MM-DD HH24:MI:SS') FROM comicvine.volumes WHERE id = $id")" \
		"$(json_field "$(fake_get "$CV_URL/_control/volume/$id")" 'd["name"] + "|" + d["date_last_updated"]')" \
		"merged volume $id stored as served"
done
is "$(awk '$1 == "/issues/" { print $5 }' "$T_TMP/run1" | tr ',' '\n' | grep -cxE '9|160')" 0 \
	"no issues asked for gone volumes"
is "$(sql "SELECT count(*) FROM comicvine.issues WHERE volume_id = 17")" \
	"$(json_field "$(fake_get "$CV_URL/_control/issues/17")" 'len(d)')" "the issues of merged volume 17 are stored"

# Second run: everything expired; volume 100 deleted upstream meanwhile.
fake_post "$CV_URL/_control/delete" '{"volume": 100}' >/dev/null
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day'" >/dev/null
mark=$(cv_mark)
run_jobrun primecache --limit 200 --json
is "$RC" 0 "the second run exits 0"
cv_reqs "$mark" >"$T_TMP/run2"
is "$(awk '$1 == "/volumes/" || $1 == "/volume/" { print $5 }' "$T_TMP/run2" | tr ',' '\n' | grep -cxE '9|160')" 0 \
	"gone volumes are never asked again, in batches or singly"
is "$(awk '$1 == "/volume/" { print $5 }' "$T_TMP/run2" | sort -n | tr '\n' ' ')" "5 17 100 150 " \
	"singles: the merged ones again, and 100 which the batch now omits"
is "$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM comicvine.volumes WHERE gone_at IS NOT NULL")" "9 100 160" \
	"volume 100 is gone now too"
is "$(sql "SELECT count(*) FROM comicvine.volumes WHERE gone_at IS NULL AND refresh_after > now()")" 197 \
	"the other 197 were refreshed"

mark=$(cv_mark)
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '1 day' WHERE gone_at IS NOT NULL" >/dev/null
run_jobrun primecache --limit 200
is "$(cv_reqs "$mark" | awk '{ print $5 }' | tr ',' '\n' | grep -cxE '9|100|160')" 0 \
	"a third run does not ask for gone volumes either"
cv_no_violations
done_testing
