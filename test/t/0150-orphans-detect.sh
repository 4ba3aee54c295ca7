#!/bin/bash
# jobrun orphans finds the Cloudinary files no row references (the reference
# app's jobrun.asset_refs): the grace period (--min-age), the --types filter,
# the report parsed back with hostile public_ids, the summary lines, findings
# kept across runs (first seen kept, last seen advanced), a file referenced
# again leaving the findings, a dry run that writes nothing, and a missing
# binding (exit 78).
. "$(dirname "$0")/lib.sh"
plan 41
db_create
db_migrate
orph_start

run_jobrun orphans
is "$RC" 78 "without jobrun.asset_refs: exit 78"
like "$ERR$OUT" "jobrun.asset_refs" "the error names the missing view"
is "$(psql_q "SELECT count(*) FROM jobrun.orphan_scans")" 0 "nothing was written"

orph_refapp
HOSTILE=$(python3 -c 'import json; print(json.dumps([{"public_id": p, "age": 86400} for p in [
 "he said \"hi\"", "a,b,c", "line1\nline2", "=HYPERLINK(\"http://evil\",\"x\")", "+1", "-2", "@SUM(A1)",
 " \t=padded", "caf\u00e9/\u00fcml"]]))')
orph_assets "$HOSTILE"
orph_assets '[{"public_id":"ref/one","age":86400},{"public_id":"orphan/old","age":86400,"bytes":4321,"format":"png"},
 {"public_id":"orphan/young","age":60},{"public_id":"vid/orphan","resource_type":"video","age":7200},
 {"public_id":"raw/orphan","resource_type":"raw","age":7200},{"public_id":"orphan/ancient","age":864000}]'
orph_ref image ref/one

# --- types: one, and two (one OR group in the expression) -----------------
run_jobrun orphans --types video --dry-run
is "$RC" 0 "--types video --dry-run exits 0"
like "$OUT" 'msg="Orphaned files: 1 \(100\.0 %\)"' "only the video is judged"
like "$(orph_searches)" '^200 type:upload AND resource_type:video AND uploaded_at' "the search asks for videos only"
run_jobrun orphans --types image,video --dry-run
like "$OUT" 'msg="Total files: 13"' "image,video: the 12 images of the week and the video"
like "$(orph_searches | tail -1)" '^200 type:upload AND \(resource_type:image OR resource_type:video\)' \
	"two types are one search"
run_jobrun orphans --types image,gif
is "$RC" 64 "an unknown type is a usage error"

# --- dry run: lists and judges, writes nothing ------------------------------
is "$(psql_q "SELECT count(*) FROM jobrun.orphans") $(psql_q "SELECT count(*) FROM jobrun.orphan_scans")" "0 0" \
	"dry runs write no finding and no scan state"
check "dry runs write no report" test ! -e "$JOBRUN_REPORT_DIR"

# --- the real run ------------------------------------------------------------
run_jobrun orphans
is "$RC" 0 "orphans exits 0"
R1=$(psql_q "SELECT max(id) FROM jobrun.runs WHERE job = 'orphans'")
like "$OUT" 'msg="Total files: 14"' "total: every file of the week (ancient is outside --days 7)"
like "$OUT" 'msg="Valid files: 1 \(7\.1 %\)"' "valid: the referenced one"
like "$OUT" 'msg="Orphaned files: 12 \(85\.7 %\)"' "orphaned: 9 hostile, old, video, raw, with percentages"
like "$OUT" 'msg="Too new to judge: 1 ' "the young one is within the grace period"
like "$OUT" 'msg="API calls used: [1-9]/500 \(0\.[0-9] %\)"' "API usage from X-FeatureRateLimit"
like "$OUT" 'msg="Window covered: 100\.0 %"' "the window is covered"
REPORT=$(orph_report)
like "$REPORT" "/reports/orphaned_files_[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{6}\\.csv\$" "the report is named by its UTC time"
like "$OUT" "msg=\"Report: $REPORT\"" "its path is printed"
is "$(ls -A "$JOBRUN_REPORT_DIR" | grep -vc '^orphaned_files_')" 0 "no temporary file is left"
is "$(orph_csv "$REPORT" 'len(rows)')" 12 "the CSV parses back: 12 rows"
is "$(orph_csv "$REPORT" 'sorted(r["public_id"] for r in rows if r["public_id"][:1] not in "'"'"'")' 2>&1)" \
	"$(python3 -c 'print(sorted(["he said \"hi\"", "a,b,c", "line1\nline2", "caf\u00e9/\u00fcml", "orphan/old", "vid/orphan", "raw/orphan"]))')" \
	"quotes, commas, newlines and unicode come back exactly"
is "$(orph_csv "$REPORT" 'sorted(r["public_id"] for r in rows if r["public_id"][:1] == "'"'"'")' 2>&1)" \
	"$(python3 -c 'print(sorted(["'"'"'=HYPERLINK(\"http://evil\",\"x\")", "'"'"'+1", "'"'"'-2", "'"'"'@SUM(A1)", "'"'"' \t=padded"]))')" \
	"formula cells (also after white space) start with an apostrophe"
is "$(orph_csv "$REPORT" '[(r["bytes"], r["format"], r["resource_type"]) for r in rows if r["public_id"] == "orphan/old"]')" \
	"[('4321', 'png', 'image')]" "bytes, format and type are reported"
like "$(orph_csv "$REPORT" '[r["created_at"] for r in rows][:2]')" "'20[0-9-]+T[0-9:]+Z'" "created_at in UTC, both wire forms read"
is "$(psql_q "SELECT count(*) FROM jobrun.orphans WHERE public_id = 'orphan/young'")" 0 "the young file is not a finding"
is "$(psql_q "SELECT first_seen_run = $R1 AND last_seen_run = $R1 FROM jobrun.orphans WHERE public_id = 'orphan/old'")" t \
	"findings are kept in jobrun.orphans"

# --- the next run: findings persist, a referenced one leaves ----------------
psql_q "UPDATE jobrun.orphans SET first_seen_at = first_seen_at - interval '8 days', last_seen_at = last_seen_at - interval '1 day'" >/dev/null
orph_ref image orphan/old
run_jobrun orphans --min-age 30s
is "$RC" 0 "the second run exits 0"
R2=$(psql_q "SELECT max(id) FROM jobrun.runs WHERE job = 'orphans'")
is "$(psql_q "SELECT first_seen_run = $R1 AND last_seen_run = $R2 AND first_seen_at < now() - interval '7 days'
	AND last_seen_at > now() - interval '1 hour' FROM jobrun.orphans WHERE public_id = 'vid/orphan'")" t \
	"first seen is kept, last seen advances"
is "$(psql_q "SELECT resolved_at IS NOT NULL FROM jobrun.orphans WHERE public_id = 'orphan/old'")" t \
	"a file referenced again is closed as resolved"
like "$OUT" 'msg="Orphaned files: 12 ' "11 still orphaned, plus the young one now past --min-age 30s"
like "$OUT" ' resolved=1' "the summary counts the resolved one"
REPORT2=$(orph_report)
is "$(orph_csv "$REPORT2" '[r["public_id"] for r in rows if r["public_id"] in ("orphan/old", "orphan/young")]')" \
	"['orphan/young']" "the report drops the referenced file and lists the young one"
is "$(psql_q "SELECT count(*) FROM jobrun.orphans WHERE resolved_at IS NULL AND deleted_at IS NULL
	AND first_seen_at < now() - interval '7 days'")" 11 "'which orphans have we seen for a week?' is a query"
jf_run() { psql_q "SELECT summary->'scan'->>'$1' FROM jobrun.runs WHERE id = $R2"; }
is "$(jf_run complete) $(jf_run checked)" "true 14" "the run record's summary has the scan"

# --- a run referencing everything finds nothing -----------------------------
psql_q "INSERT INTO app.prompt_assets (prompt_id, public_id, resource_type)
	SELECT (SELECT id FROM app.prompts LIMIT 1), public_id, resource_type FROM jobrun.orphans" >/dev/null
run_jobrun orphans --min-age 30s
like "$OUT" 'msg="Orphaned files: 0 \(0\.0 %\)"' "everything referenced: no orphan"
is "$(psql_q "SELECT count(*) FROM jobrun.orphans WHERE resolved_at IS NULL")" 0 "every finding is resolved"
is "$(orph_csv "$(orph_report)" 'len(rows)')" 0 "the report has its header and no row"
# The report directory is unwritable (below a plain file): a clear error, exit 1.
touch "$T_TMP/plain"
JOBRUN_REPORT_DIR="$T_TMP/plain/reports" run_jobrun orphans
is "$RC" 1 "an unwritable report directory fails the run"
like "$OUT$ERR" "cannot create the report directory '$T_TMP/plain/reports'" "the error names it"
done_testing
