#!/bin/bash
# --dry-run: no request, nothing written to comicvine.*, the plan printed in
# priority order with its cost within the limit; works without an API key.
. "$(dirname "$0")/lib.sh"
plan 20
db_create
db_migrate
cv_start --volumes 1000
cv_track 1 250
run_jobrun primecache --limit 3
is "$RC" 0 "setup: 250 volumes cached, their issues not yet"
cv_track 251 300                                   # 50 missing
psql_q "UPDATE comicvine.volumes SET refresh_after = now() - interval '2 days' WHERE id <= 30" >/dev/null   # 30 expired
issue_volumes=$(sql "SELECT count(*) FROM comicvine.volumes WHERE count_of_issues > 0")

snapshot() {
	psql_q "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
		SELECT 'v' || v::text AS t FROM comicvine.volumes v
		UNION ALL SELECT 'i' || i::text FROM comicvine.issues i
		UNION ALL SELECT 't' || tv::text FROM comicvine.tracked_volumes tv) s"
}
before=$(snapshot)
mark=$(cv_mark)

run_jobrun primecache --dry-run --limit 180
is "$RC" 0 "a dry run exits 0"
is "$(cv_mark)" "$mark" "it sends no request"
is "$(snapshot)" "$before" "it writes nothing to comicvine.*"
plan_lines=$(grep 'msg=plan ' <<<"$OUT")
diag "plan:"; while IFS= read -r l; do diag "  $l"; done <<<"$plan_lines"
like "$plan_lines" 'msg=plan n=[0-9]+ path=/volumes/ reason=missing volumes=' "a plan line for the missing volumes"
# A /volumes/ batch may mix missing and expired ids (it is labelled by the
# first); what matters is the order and the volume counts.
is "$(python3 - "$OUT" <<'PY'
import re, sys
order, counts = [], {}
for line in sys.argv[1].splitlines():
    if "msg=plan " not in line:
        continue
    path = re.search(r"\bpath=(\S+)", line).group(1)
    reason = re.search(r"\breason=(\S+)", line).group(1)
    counts[path] = counts.get(path, 0) + int(re.search(r"\bvolumes=(\d+)", line).group(1))
    if not order or order[-1] != reason:
        order.append(reason)
rank = {"missing": 0, "expired": 1, "issues": 2}
print(order == sorted(order, key=rank.get) and len(set(order)) == len(order), order[0], order[-1], counts.get("/volumes/"))
PY
)" "True missing issues 80" "plan lines in priority order, missing first, issues last; 80 volumes (50 missing + 30 expired)"
like "$OUT" 'msg="plan total" .*missing=50 expired=30' "the total line counts 50 missing and 30 expired"
issues_planned=$(grep 'msg=plan ' <<<"$OUT" | grep 'reason=issues' | sed -n 's/.*volumes=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
check "the issue lines cover the $issue_volumes cached volumes with issues (+ at most the 50 missing): $issues_planned" \
	test "${issues_planned:-0}" -ge "$issue_volumes" -a "${issues_planned:-0}" -le $((issue_volumes + 50))
like "$OUT" 'msg="plan total" requests=[0-9]+ limit=180' "the total line states requests and limit"
total=$(sed -n 's/.*msg="plan total" requests=\([0-9]*\).*/\1/p' <<<"$OUT")
check "the total is plausible: at least 1 volume batch and 5 issue pages, at most 180 ($total)" \
	test "${total:-0}" -ge 6 -a "${total:-999}" -le 180

run_jobrun primecache --dry-run --limit 1
is "$(grep -c 'msg=plan ' <<<"$OUT") $(grep 'msg=plan ' <<<"$OUT" | head -1 | grep -c 'reason=missing')" "1 1" \
	"--limit 1: one plan line, the missing volumes"
like "$OUT" "msg=\"plan total\" requests=$total limit=1( |\$)" "--limit 1: the total line states the same cost against limit 1"

run_jobrun primecache --dry-run --limit 180 --json
is "$RC" 0 "--dry-run --json exits 0"
is "$(jf 'd["api_requests"], d["dry_run"], d["summary"]["plan"]["missing"], d["summary"]["plan"]["expired"]')" \
	"0 True 50 30" "--json: no requests; the plan counts 50 missing, 30 expired"
is "$(jf 'd["summary"]["plan"]["requests"]')" "$total" "--json: the plan's requests match the text plan"
is "$(jf 'd["summary"]["plan"]["issue_volumes"]')" "$issues_planned" "--json: issue_volumes match the text plan"

saved=$COMICVINE_API_KEY
unset COMICVINE_API_KEY
run_jobrun primecache --dry-run
is "$RC" 0 "a dry run needs no COMICVINE_API_KEY"
export COMICVINE_API_KEY=$saved
is "$(cv_mark)" "$mark" "no dry run sent a request"
is "$(snapshot)" "$before" "no dry run wrote to comicvine.*"
cv_no_violations
done_testing
