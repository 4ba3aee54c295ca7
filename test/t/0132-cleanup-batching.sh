#!/bin/bash
# cleanup's deletes: at most 100 public_ids per Admin API call, one
# resource type per call (counted by the stand-in: 250 images = 3 calls),
# every item purged once its assets are gone, the summary mailed and parsed.
. "$(dirname "$0")/lib.sh"
plan 16
db_create
db_migrate
refapp_install
cld_start
mail_start

u=$(refapp_user a@example.com free)
refapp_trash "$u" 25 '10 days' 10 image img     # 250 images
refapp_trash "$u" 5 '10 days' 30 video vid      # 150 videos
refapp_trash "$u" 1 '10 days' 3 raw raw         # 3 raw files
refapp_trash "$u" 2 '10 days' 0 image none      # items without assets
refapp_trash "$u" 1 '1 day' 2 image young       # not expired
cld_upload_app_assets

run_jobrun --json cleanup
is "$RC" 0 "cleanup succeeds"
is "$(cld_deletes | awk '{print $1, $2, $3}' | tr '\n' ';')" \
	"200 image 100;200 image 100;200 image 50;200 raw 3;200 video 100;200 video 50;" \
	"6 calls: 250 images in 3, 3 raw in 1, 150 videos in 2, grouped by type, 100 at most"
is "$(cld_calls DELETE)" 6 "no other delete call"
is "$(cld_existing image) $(cld_existing video) $(cld_existing raw)" "2 0 0" \
	"every expired asset is gone; the young item's 2 images stay"
is "$(psql_q "SELECT string_agg(DISTINCT split_part(title, ' ', 1), ',') FROM app.prompts")" "young" \
	"every expired item is purged, the items without assets too; the young one stays"
is "$(jf '(d["items_processed"], d["items_succeeded"], d["items_failed"], d["api_requests"])')" "(33, 33, 0, 6)" \
	"33 items processed and purged with 6 API requests"
is "$(jf '(d["summary"]["assets"]["deleted"], d["summary"]["assets"]["expired"], d["summary"]["api"]["calls"])')" \
	"(403, 403, 6)" "the summary: 403 assets deleted in 6 calls"
is "$(jf '(d["summary"]["api"]["limit"], d["summary"]["api"]["used"], d["summary"]["api"]["remaining"])')" \
	"(500, 6, 494)" "and what Cloudinary's X-FeatureRateLimit headers said"
is "$(jf '[o["name"] for o in d["summary"]["operations"]]')" "['assets', 'purge']" "one operation per phase"
is "$(jf '(d["summary"]["operations"][0]["calls"], d["summary"]["operations"][1]["status"])')" "(6, 'succeeded')" \
	"the assets phase counts its calls; the purge phase succeeded"
is "$(psql_q "SELECT summary->'items'->>'purged' FROM jobrun.runs WHERE job = 'cleanup'")" 33 \
	"the run record keeps the summary"

# The mail, parsed as a mail client would.
wait_until 20 test "$(mails)" -ge 1
is "$(mails)" 1 "one mail went to ADMIN_EMAIL"
is "$(mail_part 1 to)" "ops@example.com" "addressed to ADMIN_EMAIL"
is "$(mail_part 1 subject)" "jobrun cleanup: 33 purged, 0 failed (succeeded)" "its subject says what happened"
body=$(mail_part 1 body)
like "$body" "Processed: 33
Succeeded \\(purged\\): 33
Failed \\(kept in the trash\\): 0" "its body has the counts"
like "$(printf '%s' "$body" | tr '\n' ' ')" "free: 33 / 33 / 0.*Assets deleted: 403 .*Admin API calls this run: 6.*API calls used: 6/500 \\(1\\.2 %\\)" \
	"per plan, assets deleted and API usage"
done_testing
