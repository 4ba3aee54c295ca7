#!/bin/bash
# orphans --delete: the 10 % guard (a broken binding makes everything look
# orphaned: report, mail saying why, nothing deleted, exit 3) and
# --max-orphan-ratio; --delete --dry-run; --max-delete; and the re-check
# right before each delete batch: a file referenced between the scan and the
# delete is kept. That race is made deterministic by cause: a row lock on
# its finding holds the scan's page write until the reference is committed.
. "$(dirname "$0")/lib.sh"
plan 24
db_create
db_migrate
orph_refapp
# 100 generated files (types 7:2:1), all referenced, uploaded 2 h ago and earlier.
orph_start --generate 100 --spacing 60 --newest-age 7200
orph_smtp
psql_q "INSERT INTO app.prompt_assets (prompt_id, public_id, resource_type)
	SELECT (SELECT id FROM app.prompts WHERE title = 'orphans-live'),
	       'gen/' || t || '/' || lpad(i::text, 7, '0'), t
	FROM generate_series(0, 99) i,
	LATERAL (SELECT CASE WHEN i % 10 < 7 THEN 'image' WHEN i % 10 < 9 THEN 'video' ELSE 'raw' END) AS x(t)" >/dev/null
orph_assets '[{"public_id":"o/1","age":86400},{"public_id":"o/2","age":86000},{"public_id":"o/3","age":85000},
 {"public_id":"o/4","age":84000},{"public_id":"o/v","resource_type":"video","age":83000}]'
deleted() { json_field "$(fake_get "$CLD_URL/_control/deleted")" '" ".join(sorted(x["public_id"] for x in d["deleted"])) or "-"'; }
deletes() { fake_settle "$CLD_URL"; grep -c '"method": *"DELETE"' "$T_TMP/cld.log" 2>/dev/null || true; }

# --- the guard: a binding that references nothing -----------------------------
psql_q "CREATE OR REPLACE VIEW jobrun.asset_refs AS SELECT a.public_id, a.resource_type
	FROM app.prompt_assets a WHERE false" >/dev/null
run_jobrun orphans --delete
is "$RC" 3 "more than 10 % look orphaned: exit 3"
like "$OUT" 'msg="refusing to delete: too many of the scanned assets look orphaned" orphan_ratio=1' \
	"the log says why nothing was deleted"
is "$(deleted) $(deletes)" "- 0" "nothing was deleted, no delete call was made"
is "$(orph_csv "$(orph_report)" 'len(rows)')" 105 "the findings are reported all the same"
is "$(orph_mails)" 1 "and mailed"
like "$(cat "$T_TMP"/smtp.mail/*.eml | tr -d '\r' | python3 -c 'import email,sys; m=email.message_from_string(sys.stdin.read()); print(m.get_payload()[0].get_payload(decode=True).decode())')" \
	"Nothing was deleted: 100\\.0 % of the scanned assets look orphaned, more than the allowed 10\\.0 %" \
	"the mail says why nothing was deleted"
is "$(psql_q "SELECT status FROM jobrun.runs ORDER BY id DESC LIMIT 1")" partial "the run is recorded partial"

# --- --delete --dry-run with the ratio allowed: prints, deletes nothing -------
run_jobrun orphans --delete --dry-run --max-orphan-ratio 1 --max-delete 3
is "$RC" 0 "--delete --dry-run exits 0"
is "$(printf '%s\n' "$OUT" | grep -c 'msg="would delete"')" 3 "it prints the 3 it would delete (--max-delete 3)"
is "$(deleted) $(deletes)" "- 0" "and deletes nothing"

# --- the binding repaired: 5 of 105 orphaned (4.8 %) ---------------------------
refapp_install
run_jobrun orphans
is "$RC" 0 "a scan without --delete records the findings"
is "$(psql_q "SELECT count(*) FROM jobrun.orphans WHERE resolved_at IS NULL")" 5 "five open findings (the rest resolved)"

# The re-check: hold the scan's write of o/2's finding with a row lock, reference
# o/2 meanwhile, then let the run go on to its deletes.
mkfifo "$T_TMP/locker"
psql -X -q -v ON_ERROR_STOP=1 -d "$T_DB" <"$T_TMP/locker" >"$T_TMP/locker.out" 2>&1 &
T_PIDS="$T_PIDS $!"
exec 3>"$T_TMP/locker"
echo "BEGIN; SELECT id FROM jobrun.orphans WHERE public_id = 'o/2' FOR UPDATE;" >&3
wait_for_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
	WHERE c.relname = 'orphans' AND l.mode = 'RowShareLock' AND l.granted" '^1$' ||
	diag "the locker did not take its lock"
bg_jobrun orphans --delete --max-delete 3
wait_for_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
	AND wait_event_type = 'Lock' AND query LIKE 'WITH page AS%'" '^1$' 60 || diag "the run's page write did not block"
orph_ref image o/2
echo "COMMIT;" >&3
exec 3>&-
wait_exit "$BG_PID"
OUT=$(cat "$BG_OUT")
is "$WAIT_RC" 0 "--delete exits 0"
like "$OUT" 'msg="referenced again since the scan: not deleted" resource_type=image public_id=o/2' \
	"the file referenced after its page was judged is caught by the re-check"
is "$(deleted)" "o/1 o/3 o/4" "--max-delete 3: the three oldest others are deleted, o/2 is not"
is "$(deletes)" 1 "in one delete call"
is "$(psql_q "SELECT public_id FROM jobrun.orphans WHERE deleted_at IS NOT NULL ORDER BY 1" | tr '\n' ' ')" "o/1 o/3 o/4 " \
	"their findings are marked deleted"
is "$(psql_q "SELECT resolved_at IS NOT NULL FROM jobrun.orphans WHERE public_id = 'o/2'")" t "o/2 is resolved"
like "$(orph_csv "$(orph_report)" 'sorted((r["public_id"], bool(r["deleted_at"])) for r in rows)')" \
	"\\('o/1', True\\), \\('o/3', True\\), \\('o/4', True\\), \\('o/v', False\\)" "the report marks what was deleted"

# --- the next run deletes the rest within --max-delete ------------------------
run_jobrun orphans --delete
is "$RC" 0 "the next --delete exits 0"
is "$(deleted)" "o/1 o/3 o/4 o/v" "the video orphan goes too"
is "$(json_field "$(fake_get "$CLD_URL/_control/account")" 'd["existing"]["image"]')" "$(psql_q "SELECT 70 + 1")" \
	"every referenced file is still there (70 generated images and o/2)"
like "$(psql_q "SELECT summary->'delete' FROM jobrun.runs ORDER BY id DESC LIMIT 1")" '"deleted": 1' \
	"the run record counts the deletion"
is "$(grep -rlF "$ORPH_CLD_SECRET" "$T_TMP/smtp.mail" "$JOBRUN_REPORT_DIR" | wc -l)" 0 "no secret in any report or mail"
done_testing
