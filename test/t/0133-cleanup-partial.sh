#!/bin/bash
# A partial delete: the asset Cloudinary did not delete keeps its item in the
# trash (reported with its reason, in the summary and the mail) and the next
# run purges it; its other assets come back not_found, which counts as gone.
. "$(dirname "$0")/lib.sh"
plan 15
db_create
db_migrate
refapp_install
cld_start
mail_start

u=$(refapp_user a@example.com premium)
refapp_trash "$u" 3 '40 days' 2 image p
cld_upload_app_assets
victim=$(psql_q "SELECT id FROM app.prompts ORDER BY id OFFSET 1 LIMIT 1")
fake_post "$CLD_URL/_control/partial" "{\"count\": 1, \"ids\": [\"p/$victim/2\"]}" >/dev/null

run_jobrun --json cleanup
is "$RC" 3 "a partial delete ends the run partial (exit 3)"
is "$(psql_q "SELECT string_agg(id::text, ',') FROM app.prompts")" "$victim" \
	"the item whose asset failed stays in the trash; the others are purged"
is "$(psql_q "SELECT count(*) FROM app.prompt_assets WHERE prompt_id = $victim")" 2 "with its asset rows"
is "$(jf '(d["status"], d["items_processed"], d["items_succeeded"], d["items_failed"])')" "('partial', 3, 2, 1)" \
	"3 processed, 2 succeeded, 1 failed"
is "$(jf '[(f["item_id"], f["public_id"], f["reason"]) for f in d["summary"]["failures"]]')" \
	"[($victim, 'p/$victim/2', 'Cloudinary did not delete it')]" "the failure names the item, the asset and the reason"
is "$(jf 'd["summary"]["plans"]["premium"]')" "{'expired': 3, 'failed': 1, 'left': 0, 'purged': 2}" \
	"the plan's counts"
like "$ERR$OUT" "asset not deleted; its item stays in the trash\" item=$victim public_id=p/$victim/2" "the log says so too"
wait_until 20 test "$(mails)" -ge 1
is "$(mail_part 1 subject)" "jobrun cleanup: 2 purged, 1 failed (partial)" "the mail's subject"
like "$(mail_part 1 body)" "item $victim \\(p $victim\\) image/p/$victim/2: Cloudinary did not delete it" \
	"the mail lists the failure with its item and reason"

run_jobrun --json cleanup
is "$RC" 0 "the next run succeeds"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 0 "and purges the item"
is "$(jf '(d["summary"]["assets"]["deleted"], d["summary"]["assets"]["not_found"])')" "(1, 1)" \
	"its failed asset is deleted now; the one deleted before comes back not_found"
is "$(cld_existing image)" 0 "nothing is left at Cloudinary"
is "$(cld_calls DELETE)" 2 "one call per run"
wait_until 20 test "$(mails)" -ge 2
is "$(mail_part 2 subject)" "jobrun cleanup: 1 purged, 0 failed (succeeded)" "the second run mails too"
done_testing
