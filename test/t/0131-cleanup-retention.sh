#!/bin/bash
# cleanup's expired set: each plan's retention (default free=5d,premium=30d,
# JOBRUN_RETENTION, --retention, '*=D'), an unknown plan refused by name
# before any call, and --dry-run: each item listed, zero calls, zero writes.
. "$(dirname "$0")/lib.sh"
plan 28
db_create
db_migrate
refapp_install
cld_start
unset SMTP_URL ADMIN_EMAIL

free=$(refapp_user free@example.com free)
prem=$(refapp_user prem@example.com premium)
refapp_trash "$free" 2 '6 days' 1 image free6    # past 5d
refapp_trash "$free" 1 '4 days' 1 image free4    # within 5d
refapp_trash "$prem" 1 '31 days' 2 image prem31  # past 30d
refapp_trash "$prem" 1 '29 days' 1 image prem29  # within 30d
psql_q "INSERT INTO app.prompts (user_id, title) VALUES ($free, 'alive')" >/dev/null
cld_upload_app_assets
snapshot() { psql_q "SELECT md5(string_agg(p::text, ',' ORDER BY p.id)) FROM app.prompts p" ; }

# --- dry run: each item, totals, no call, no write --------------------------
before=$(snapshot)
CLOUDINARY_URL= run_jobrun cleanup --dry-run
is "$RC" 0 "a dry run succeeds, without CLOUDINARY_URL"
is "$(printf '%s\n' "$OUT" | grep -c 'msg="would purge" item=')" 3 "it lists each expired item"
like "$OUT" "msg=\"would purge\" item=[0-9]+ plan=premium age=31d[0-9hm]* assets=2 label=\"prem31 [0-9]+\"" \
	"an item's line has its id, plan, age, asset count and label"
like "$OUT" "msg=\"would purge, in total\" items=3 assets=4 retention=\"free=5d,premium=30d\"" "and the totals"
is "$(cld_calls GET)$(cld_calls DELETE)$(cld_calls POST)" "000" "the stand-in received no call"
is "$(snapshot)" "$before" "the app's data is unchanged"
is "$(psql_q "SELECT (args->>'dry_run') || ' ' || (summary->'would_purge'->>'items') FROM jobrun.runs ORDER BY id DESC LIMIT 1")" \
	"true 3" "the run record says dry run, 3 items"

# --- unknown plan ------------------------------------------------------------
biz=$(refapp_user biz@example.com business)
refapp_trash "$biz" 1 '90 days' 1 image biz90
cld_upload_app_assets
run_jobrun cleanup
is "$RC" 78 "a plan without a retention is a configuration error"
like "$ERR$OUT" "plan 'business' in jobrun.trash_items has no retention \\(JOBRUN_RETENTION gives free=5d,premium=30d\\): add it, or a default for every other plan with '\\*=D'" \
	"the error names the plan and says how to fix it"
is "$(cld_calls DELETE)" 0 "nothing was deleted at Cloudinary"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 7 "nor purged"
run_jobrun cleanup --retention 'free=5d,premium=30d,business=80d' --dry-run
like "$OUT" "would purge, in total\" items=4" "--retention covers it"
run_jobrun cleanup --dry-run --retention 'free=5d,premium=30d,*=100d'
like "$OUT" "would purge, in total\" items=3 assets=4 retention=\"free=5d,premium=30d,\\*=100d\"" \
	"'*=100d' gives every other plan a retention (business at 90 days is kept)"
psql_q "UPDATE app.prompts SET deleted_at = NULL WHERE title LIKE 'biz90%'" >/dev/null

# --- malformed retention -------------------------------------------------------
run_jobrun cleanup --retention 'free=5x'
is "$RC" 64 "a malformed --retention is a usage error"
like "$ERR" "--retention: plan 'free' has no valid duration" "it names the plan"
JOBRUN_RETENTION='free=5d,free=6d' run_jobrun cleanup
is "$RC" 78 "a malformed JOBRUN_RETENTION is a configuration error"
like "$ERR$OUT" "JOBRUN_RETENTION: plan 'free' is given twice" "it says what is wrong"

# --- the real run: default retention ---------------------------------------------
run_jobrun --json cleanup
is "$RC" 0 "cleanup succeeds"
is "$(psql_q "SELECT string_agg(split_part(title, ' ', 1), ',' ORDER BY id) FROM app.prompts")" \
	"free4,prem29,alive,biz90" "free after 5 days and premium after 30 are gone; the rest stays"
is "$(psql_q "SELECT count(*) FROM app.prompt_assets a JOIN app.prompts p ON p.id = a.prompt_id
	WHERE p.title LIKE 'free6%' OR p.title LIKE 'prem31%'")" 0 "their asset rows went with them"
is "$(jf '(d["summary"]["plans"]["free"]["purged"], d["summary"]["plans"]["premium"]["purged"])')" "(2, 1)" \
	"the summary counts per plan"
is "$(jf '(d["summary"]["assets"]["deleted"], d["items_processed"], d["items_succeeded"], d["items_failed"])')" "(4, 3, 3, 0)" \
	"4 assets deleted; 3 items processed, 3 succeeded, none failed"
is "$(cld_existing image)" 3 "at Cloudinary only the kept items' assets are left (free4, prem29, biz90)"

# --- JOBRUN_RETENTION, then --retention over it ------------------------------------
JOBRUN_RETENTION='free=3d,premium=30d,business=1d' run_jobrun cleanup --dry-run
like "$OUT" "would purge, in total\" items=1 assets=1 retention=\"free=3d,premium=30d,business=1d\"" \
	"JOBRUN_RETENTION sets the retention"
JOBRUN_RETENTION='free=3d,premium=30d' run_jobrun cleanup --dry-run --retention 'free=1d,premium=1d,*=1d'
like "$OUT" "would purge, in total\" items=2 assets=2" "--retention overrides it (free4 and prem29; biz90 is restored)"
JOBRUN_RETENTION='free=3d,premium=30d' run_jobrun cleanup
is "$RC" 0 "a run with JOBRUN_RETENTION succeeds"
is "$(psql_q "SELECT string_agg(split_part(title, ' ', 1), ',' ORDER BY id) FROM app.prompts")" \
	"prem29,alive,biz90" "free items trashed 4 days ago go after 3"
is "$(cld_existing image)" 2 "and their assets"
done_testing
