#!/bin/bash
# A scan the budget cuts short keeps what it checked and the next run
# resumes from the saved uploaded_at watermark, not a cursor (the stand-in
# expires every cursor between runs): --limit, then Cloudinary's hourly
# limit (420), each time the coverage reported; over the whole window
# exactly ceil(assets/500) search calls and every asset counted once.
. "$(dirname "$0")/lib.sh"
plan 23
db_create
db_migrate
orph_refapp
# 1200 files, one a minute, the newest 2 h old: 3 pages of 500.
orph_start --generate 1200 --spacing 60 --newest-age 7200
wm() { psql_q "SELECT to_char(watermark AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobrun.orphan_scans"; }

run_jobrun --json orphans --limit 1
is "$RC" 0 "--limit 1 ends the run after one call, exit 0 (the limit is the operator's)"
is "$(jf 'd["summary"]["scan"]["checked"]') $(jf 'd["summary"]["scan"]["complete"]')" "500 False" \
	"one page was checked and kept; the scan is not complete"
is "$(jf 'round(d["summary"]["scan"]["coverage_pct"], 1)')" 41.7 "the summary says how much of the window is covered"
is "$(jf 'd["summary"]["stop_reason"]')" limit "and why it stopped"
like "$ERR" 'msg="Window covered: 41\.7 %"' "the log line says it too"
W1=$(wm)
like "$W1" '^20[0-9-]+T[0-9:]+Z$' "the watermark is saved"

fake_post "$CLD_URL/_control/cursors/expire" '{}' >/dev/null
MARK=$(orph_calls)
run_jobrun --json orphans --limit 1
is "$RC" 0 "the next run exits 0"
like "$(orph_searches "$MARK")" "^200 type:upload AND uploaded_at>=\"$W1\" AND uploaded_at<=" \
	"it resumes from the watermark (no cursor, no page before it)"
is "$(jf 'd["summary"]["scan"]["checked"]') $(jf 'd["summary"]["scan"]["resumed"]')" "999 True" \
	"the resumed page starts at the watermark's file, which is not counted twice"
is "$(jf 'round(d["summary"]["scan"]["coverage_pct"], 1)')" 83.2 "coverage 999 of 1200"

# --- Cloudinary's hourly limit ---------------------------------------------------
# The window holds one more call: its answer says Remaining 0 with the Reset,
# and jobrun stops by itself, before a 420.
fake_post "$CLD_URL/_control/reset" '{}' >/dev/null
fake_post "$CLD_URL/_control/buckets" '{"admin":{"window_limit":1}}' >/dev/null
psql_q "DELETE FROM jobrun.orphan_scans; DELETE FROM jobrun.orphans" >/dev/null
MARK=$(orph_calls)
run_jobrun --json orphans
is "$RC" 3 "the hourly budget spent mid-scan: partial, exit 3"
is "$(jf 'd["summary"]["stop_reason"]') $(jf 'd["summary"]["scan"]["checked"]')" "rate_limited 500" \
	"the first page is kept"
is "$(orph_searches "$MARK" | awk '{print $1}' | tr '\n' ' ')$(stat 'd["violations"]')" "200 0" \
	"Remaining 0 stopped it: no second call, no violation"
is "$(psql_q "SELECT blocked_until > now() + interval '50 minutes' FROM jobrun.rate_buckets WHERE provider = 'cloudinary'")" t \
	"the shared bucket is blocked until Cloudinary's Reset, for every process"
is "$(jf 'd["summary"]["api"]["remaining"]') $(jf 'd["summary"]["api"]["limit"]')" "0 1" "usage: the server's count"
# Another client spent the window unseen: jobrun's call gets Cloudinary's 420.
psql_q "DELETE FROM jobrun.rate_buckets" >/dev/null
MARK=$(orph_calls)
run_jobrun orphans
is "$RC" 75 "a 420 before any work: skipped, exit 75"
is "$(orph_searches "$MARK" | awk '{print $1}' | tr '\n' ' ')$(stat 'd["violations"]')" "420 1" \
	"one 420 (the stand-in's one violation), not retried: its Reset is an hour away"
# The hour passes: Cloudinary's window and jobrun's shared bucket reopen.
fake_post "$CLD_URL/_control/reset" '{}' >/dev/null
fake_post "$CLD_URL/_control/buckets" '{"admin":{"window_limit":500}}' >/dev/null
psql_q "DELETE FROM jobrun.rate_buckets" >/dev/null
fake_post "$CLD_URL/_control/cursors/expire" '{}' >/dev/null
MARK=$(orph_calls)
run_jobrun --json orphans
is "$RC" 0 "the run after the hour completes the scan"
is "$(jf 'd["summary"]["scan"]["checked"]') $(jf 'd["summary"]["scan"]["complete"]') $(jf 'd["summary"]["scan"]["coverage_pct"]')" \
	"1200 True 100.0" "every file counted exactly once, the window covered"
is "$(orph_searches "$MARK" | grep -c '^200 ')" 2 "two more calls: 3 pages for 1200 files over the scan, no waste"
like "$(orph_searches "$MARK" | head -1)" '^200 type:upload AND uploaded_at>="' "from the watermark again"
is "$(psql_q "SELECT count(*) FROM jobrun.orphans")" 1200 "every unreferenced file is a finding, once"
is "$(psql_q "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" succeeded "recorded succeeded"
done_testing
