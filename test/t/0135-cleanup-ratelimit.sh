#!/bin/bash
# Cloudinary's rate limits and credentials in cleanup:
# - a 420 mid-run whose wait lies past the run's time budget: the run stops
#   partial, keeping what it did (items whose assets all went are purged,
#   the rest stay with their assets), and a later run finishes;
# - a 420 with X-FeatureRateLimit-Reset and no Retry-After (the stand-in's
#   own hourly window, spent by another client) within the time budget: the
#   run waits for the reset and finishes;
# - bad credentials (an HTML answer): exit 78 naming CLOUDINARY_URL, nothing
#   purged, the secret never printed.
. "$(dirname "$0")/lib.sh"
plan 23
db_create
db_migrate
refapp_install
cld_start
unset SMTP_URL ADMIN_EMAIL

u=$(refapp_user a@example.com free)
refapp_trash "$u" 25 '10 days' 10 image r
cld_upload_app_assets

# --- a 420 on the second call, asking for an hour --------------------------------
last2=$(psql_q "SELECT public_id FROM (SELECT DISTINCT public_id FROM app.prompt_assets
	ORDER BY public_id) x OFFSET 199 LIMIT 1")
later=$(python3 -c 'import email.utils, time; print(email.utils.formatdate(time.time() + 3600, usegmt=True))')
fault "{\"kind\": \"retry_after\", \"status\": 420, \"value\": \"$later\", \"method\": \"DELETE\",
	\"query\": {\"public_ids[]\": \"$last2\"}}"
run_jobrun --json cleanup
is "$RC" 3 "a 420 whose wait is past the run's budget ends the run partial (exit 3)"
is "$(jf '(d["status"], d["summary"]["stop_reason"])')" "('partial', 'rate_limited')" "stop reason rate_limited"
is "$(cld_deletes | awk '{print $1, $3}' | tr '\n' ';')" "200 100;420 100;" \
	"the second call got the 420, and no third call was made"
is "$(cld_existing image)" 150 "the first call's 100 assets are gone, 150 are left"
purged=$(jf 'd["items_succeeded"]')
is "$(psql_q "SELECT count(*) FROM app.prompts")" "$((25 - purged))" "the items whose assets all went are purged"
check "at least the 9 items wholly in the first call are purged" test "$purged" -ge 9
# Nothing lost: every asset still at Cloudinary has its row, and every item
# purged has no asset left there.
at_cld=$(json_field "$(fake_get "$CLD_URL/_control/assets")" '" ".join(sorted(a["public_id"] for a in d["assets"]))')
in_app=$(psql_q "SELECT string_agg(public_id, ' ' ORDER BY public_id COLLATE \"C\") FROM app.prompt_assets
	WHERE public_id IN (SELECT unnest(string_to_array('$at_cld', ' ')))")
is "$in_app" "$at_cld" "every asset left at Cloudinary still has its app row: nothing was orphaned"
is "$(psql_q "SELECT count(*) FROM jobrun.rate_buckets WHERE provider = 'cloudinary' AND blocked_until > now() + interval '50 minutes'")" 1 \
	"the account's bucket is blocked for every process until the server's time"
run_jobrun cleanup
is "$RC" 75 "the next run within the hour makes no call: skipped (75)"
is "$(cld_calls DELETE)" 2 "indeed no call"

# An hour later (the block lifted), the run finishes.
psql_q "UPDATE jobrun.rate_buckets SET blocked_until = NULL, window_count = 0 WHERE provider = 'cloudinary'" >/dev/null
run_jobrun cleanup
is "$RC" 0 "a later run finishes the work"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 0 "every item is purged"
is "$(cld_existing image)" 0 "every asset is gone"

# --- a short 420 mid-run: waited for within the run's time budget ----------------------
reset_fake
psql_q "UPDATE jobrun.rate_buckets SET blocked_until = NULL, window_count = 0, window_start = NULL WHERE provider = 'cloudinary'" >/dev/null
refapp_trash "$u" 2 '10 days' 60 image w
cld_upload_app_assets
fault '{"kind": "retry_after", "status": 420, "value": "2", "method": "DELETE"}'
run_jobrun --json cleanup
is "$RC" 0 "a 420 whose wait fits the run's time budget is waited for, and the run finishes"
is "$(cld_deletes | awk '{print $1}' | tr '\n' ' ')" "420 200 200 " "the refused call was sent again after the wait"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 0 "both items are purged"

# --- the account's hourly window spent by another client: Cloudinary's own 420 --------
# (X-FeatureRateLimit-Reset an hour ahead, no Retry-After)
reset_fake
psql_q "UPDATE jobrun.rate_buckets SET blocked_until = NULL, window_count = 0, window_start = NULL WHERE provider = 'cloudinary'" >/dev/null
refapp_trash "$u" 1 '10 days' 5 image h
cld_upload_app_assets
fake_post "$CLD_URL/_control/buckets" '{"admin": {"window_limit": 2, "window_seconds": 3600}}' >/dev/null
for i in 1 2; do
	curl -sS -o /dev/null -u "$CLD_KEY:$CLD_SECRET" "$CLD_URL/v1_1/$CLD_CLOUD/resources/image/upload?max_results=1"
done
run_jobrun --json cleanup
is "$RC $(jf 'd["summary"]["stop_reason"]')" "3 rate_limited" "the run stops partial, rate limited"
is "$(stat 'd["violations"]') $(cld_deletes | wc -l)" "1 1" "after one refused call, no other"
is "$(psql_q "SELECT count(*) FROM jobrun.rate_buckets WHERE provider = 'cloudinary'
	AND blocked_until BETWEEN now() + interval '55 minutes' AND now() + interval '61 minutes'")" 1 \
	"the account's bucket is blocked until Cloudinary's Reset"
is "$(jf '(d["summary"]["api"]["used"], d["summary"]["api"]["limit"])')" "(2, 2)" \
	"the summary reports the usage Cloudinary's headers gave"
fake_post "$CLD_URL/_control/buckets" '{"admin": {"window_limit": 500, "window_seconds": 3600}}' >/dev/null
psql_q "UPDATE jobrun.rate_buckets SET blocked_until = NULL, window_count = 0, window_start = NULL WHERE provider = 'cloudinary'" >/dev/null
psql_q "DELETE FROM app.prompt_assets WHERE public_id LIKE 'h/%'; DELETE FROM app.prompts WHERE title LIKE 'h %'" >/dev/null

# --- bad credentials ------------------------------------------------------------------
refapp_trash "$u" 1 '10 days' 1 image b
cld_upload_app_assets
WRONG=cld-wrong-secret-canary-1618
T_SECRETS="$T_SECRETS $WRONG"
CLOUDINARY_URL="cloudinary://$CLD_KEY:$WRONG@$CLD_CLOUD" run_jobrun cleanup
is "$RC" 78 "bad credentials (Cloudinary's HTML page) are a configuration error"
like "$ERR$OUT" "Cloudinary answered with an HTML page \\(HTTP 401\\), which means it refused the credentials: check CLOUDINARY_URL" \
	"the error says so and names CLOUDINARY_URL"
is "$(psql_q "SELECT count(*) FROM app.prompts")" 1 "nothing is purged"
done_testing
