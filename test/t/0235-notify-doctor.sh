#!/bin/bash
# jobrun doctor knows the notification settings: one line per configured
# signal (the ping's host and event map, the webhook's host and format, the
# mail transport), JOBRUN_NOTIFY_ON and the timeout; "none configured" when
# nothing is. A malformed setting is a FAIL line naming the variable and exit
# 78, as a run would stop. The keys in the URLs' paths, in an event word and
# in SMTP_URL never appear (secret_scan covers every run's output).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 30
db_create
db_migrate

HC_KEY=5e0f3a4c-9b7d-4c1e-8f2a-6d3b1c0e9a47
WORD_KEY=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
SLACK_TOKEN=sl4ckT0kenAbCdEfGhIjKlMn
DISCORD_TOKEN=d1sc0rdT0kenZyXwVuTsRqPo
SMTP_PASS=smtp-pa55word-canary
T_SECRETS="$T_SECRETS $HC_KEY $WORD_KEY $SLACK_TOKEN $DISCORD_TOKEN $SMTP_PASS"

# Nothing configured: one line, a warning (exit 0).
run_jobrun doctor
is "$RC" 0 "doctor passes with no notifications configured"
is "$(printf '%s\n' "$OUT" | grep -cE '^[a-zA-Z]+ +(notif|JOBRUN_NOTIFY)')" 1 "one notification line"
like "$OUT" "warn +notifications +none configured" "it says none are configured"

# healthchecks.io with the default map, Slack (format from the host), mail.
export JOBRUN_PING_URL="https://hc-ping.com/$HC_KEY{event}"
export JOBRUN_WEBHOOK_URL="https://hooks.slack.com/services/T0001/B0002/$SLACK_TOKEN"
export ADMIN_EMAIL="ops@example.com,oncall@example.com"
export SMTP_URL="smtp://mailer:$SMTP_PASS@127.0.0.1:2525"
run_jobrun doctor
is "$RC" 0 "doctor passes with every signal configured"
like "$OUT" "ok +notify ping +host hc-ping.com, events success=success \\(default\\)$" \
	"the ping: its host and the default map"
like "$OUT" "ok +notify webhook +host hooks.slack.com, format slack \\(from the host\\)$" \
	"the webhook: its host and the format the host implies"
like "$OUT" "ok +notify mail +to 2 ADMIN_EMAIL addresses via 127.0.0.1:2525 \\(SMTP_URL\\)$" \
	"mail: how many recipients, which server"
like "$OUT" "ok +JOBRUN_NOTIFY_ON +failures,late,missed,recovery \\(default\\)$" "JOBRUN_NOTIFY_ON's default"
like "$OUT" "ok +JOBRUN_NOTIFY_TIMEOUT +5s \\(default\\)$" "the timeout's default"
unlike "$OUT" "none configured" "no 'none configured' line"

# Cronitor-like words, Discord with an explicit format, no mail transport,
# set alerts and timeout. An event word holding a key is redacted.
export JOBRUN_PING_URL="https://hc-ping.com/{event}"
export JOBRUN_PING_EVENTS="start=$WORD_KEY/start,success=$WORD_KEY,failure=$WORD_KEY/{exit}"
export JOBRUN_WEBHOOK_URL="https://discord.com/api/webhooks/123456/$DISCORD_TOKEN"
export JOBRUN_WEBHOOK_FORMAT=json JOBRUN_NOTIFY_ON="late,recovery" JOBRUN_NOTIFY_TIMEOUT=8s
unset SMTP_URL
run_jobrun doctor
is "$RC" 0 "doctor passes with the second set"
like "$OUT" "ok +notify ping +host hc-ping.com, events start=\\[REDACTED\\]/start,success=\\[REDACTED\\],failure=\\[REDACTED\\]/\\{exit\\}$" \
	"a key in an event word is redacted, the rest of the map shown"
like "$OUT" "ok +notify webhook +host discord.com, format json$" "an explicit format"
like "$OUT" "warn +notify mail +ADMIN_EMAIL is set but no mail transport" "ADMIN_EMAIL without a transport is a warning"
like "$OUT" "ok +JOBRUN_NOTIFY_ON +late,recovery$" "JOBRUN_NOTIFY_ON as set"
like "$OUT" "ok +JOBRUN_NOTIFY_TIMEOUT +8s$" "the timeout as set"
unset JOBRUN_PING_URL JOBRUN_PING_EVENTS JOBRUN_WEBHOOK_URL JOBRUN_WEBHOOK_FORMAT \
	JOBRUN_NOTIFY_ON JOBRUN_NOTIFY_TIMEOUT ADMIN_EMAIL

# Malformed: FAIL naming the variable, exit 78 (what a run would do); the
# values hold keys, so the scan at the end also shows none is echoed.
fails() { # fails <variable> <description>, after a run_jobrun doctor
	is "$RC" 78 "$2: exit 78"
	like "$OUT" "FAIL +notifications +$1: " "$2: the FAIL line names $1"
}
JOBRUN_PING_URL="https://hc-ping.com/$HC_KEY/{jobb}" run_jobrun doctor
fails JOBRUN_PING_URL "an unknown placeholder"
JOBRUN_PING_URL="ftp://hc-ping.com/$HC_KEY" run_jobrun doctor
fails "JOBRUN_PING_URL \\(event success\\)" "a URL that is not http(s)"
JOBRUN_PING_URL="https://hc-ping.com/$HC_KEY" JOBRUN_PING_EVENTS="begin=/start" run_jobrun doctor
fails JOBRUN_PING_EVENTS "an unknown event"
JOBRUN_WEBHOOK_URL="https://hooks.slack.com/services/T0001/B0002/$SLACK_TOKEN" JOBRUN_WEBHOOK_FORMAT=teams \
	run_jobrun doctor
fails JOBRUN_WEBHOOK_FORMAT "an unknown webhook format"
JOBRUN_WEBHOOK_URL="hooks.slack.com/services/T0001/B0002/$SLACK_TOKEN" run_jobrun doctor
fails JOBRUN_WEBHOOK_URL "a webhook URL without a scheme"
JOBRUN_NOTIFY_ON=sometimes run_jobrun doctor
fails JOBRUN_NOTIFY_ON "an unknown JOBRUN_NOTIFY_ON word"
JOBRUN_NOTIFY_TIMEOUT=5m run_jobrun doctor
fails JOBRUN_NOTIFY_TIMEOUT "a timeout out of range"

done_testing
