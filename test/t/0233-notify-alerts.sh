#!/bin/bash
# Alerts through a chat webhook and mail: one per problem until it recovers,
# across runs and processes (jobrun.alerts), a recovery message, an abandoned
# run counted as a failure, JOBRUN_NOTIFY_ON, the Slack, Discord and JSON
# bodies, the mail as a mail client reads it, and a failing webhook that
# costs neither the mail nor the exit code.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 33
db_create
db_migrate
hook_start
smtp_start mail

SLACK_TOKEN=xoxb0SlackWebhookToken1234
DISCORD_TOKEN=d1sc0rdW3bh00kT0k3nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789
T_SECRETS="$T_SECRETS $SLACK_TOKEN $DISCORD_TOKEN"
export JOBRUN_WEBHOOK_URL="$HOOK_URL/services/T0001/B0002/$SLACK_TOKEN" JOBRUN_WEBHOOK_FORMAT=slack
export ADMIN_EMAIL=ops@example.com SMTP_URL="smtp://127.0.0.1:$MAIL_PORT"
texts() { hook_lines 'r["json"]["text"]'; }
fail_run() { run_jobrun debug-work --items 2 --item-time 1ms --fail 1 "$@"; }
ok_run() { run_jobrun debug-work --items 2 --item-time 1ms "$@"; }
# mail_field <n> <python expression on m, the parsed message>
mail_field() {
	$SMTP_PY -c "import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
print($2)" "$T_TMP/mail.mail/$1.eml"
}

# Three failures in a row: one message, one mail.
fail_run
first=$(sql "SELECT max(id) FROM jobrun.runs")
fail_run
fail_run
is "$RC" 3 "the exit code is the run's"
is "$(hook_count)" 1 "three failed runs: one webhook message"
is "$(texts)" "jobrun: debug-work partial (exit 3, run $first): item 1 failed (--fail); 2 processed, 1 succeeded, 1 failed" \
	"it says which job, how it ended, the run, the error and the counts"
is "$(hook_lines 'r["method"] + " " + r["content_type"] + " " + ",".join(sorted(r["json"]))')" \
	"POST application/json text" "Slack: a JSON POST with text"
is "$(mails mail)" 1 "one mail"
is "$(mail_field 1 'm["Subject"]')" "jobrun: debug-work partial (exit 3, run $first): item 1 failed (--fail); 2 processed, 1 succeeded, 1 failed" \
	"the mail's subject is the message"
like "$(mail_field 1 'm.get_body().get_content()')" "run: $first \\(jobrun runs shows it\\)" "its body names the run"
is "$(mail_field 1 'm["To"]')" "ops@example.com" "to ADMIN_EMAIL"
is "$(sql "SELECT kind, subject, run_id, occurrences FROM jobrun.alerts")" "failing|debug-work|$first|3" \
	"one open problem, counting the three failures"

# The job succeeds again: one recovery message; the next success says nothing.
hook_clear
ok_run
ok=$(sql "SELECT max(id) FROM jobrun.runs")
like "$(texts)" "^jobrun: debug-work recovered: run $ok succeeded \\(failing since [0-9-]{10} [0-9:]{8} UTC, 3 failed runs\\)$" \
	"a recovery message with the run, since when and how many failed"
is "$(mails mail)" 2 "and a recovery mail"
ok_run
is "$(hook_count) $(mails mail)" "1 2" "a second success sends nothing"
is "$(sql "SELECT count(*) FROM jobrun.alerts")" 0 "no problem is open"

# Two processes failing at once: one alert between them.
hook_clear
bg_jobrun debug-work --items 3 --item-time 20ms --fail 1 --lock a
p1=$BG_PID
bg_jobrun debug-work --items 3 --item-time 20ms --fail 1 --lock b
p2=$BG_PID
wait_exit "$p1"
rc1=$WAIT_RC
wait_exit "$p2"
is "$rc1 $WAIT_RC" "3 3" "both runs failed (exit 3)"
is "$(hook_count)" 1 "two processes failing together sent one message"
is "$(sql "SELECT occurrences FROM jobrun.alerts")" 2 "both failures are counted on the one problem"

# Runs notify after their record is finished and their lock released, so a
# failure's alert can arrive after a newer success: the finish order decides,
# and the stale failure opens nothing. Its end ping hangs to hold it back.
ok_run
hook_clear
export JOBRUN_PING_URL="$HOOK_URL/ping/{status}" JOBRUN_PING_EVENTS="success=,failure="
hook_fault '{"kind": "timeout", "match": "/ping/partial", "seconds": 60, "count": 1}'
bg_jobrun debug-work --items 2 --item-time 1ms --fail 1 --lock a
late=$BG_PID
check "the failed run is held back in its end ping" wait_until 30 grep -q '/ping/partial' "$HOOK_REC"
ok_run --lock b
wait_exit "$late"
is "$WAIT_RC $(hook_lines 'r["path"]' | grep -vc '^/ping/') $(sql "SELECT count(*) FROM jobrun.alerts")" "3 0 0" \
	"a failure that finished before a success sends no alert when its notification comes late"
unset JOBRUN_PING_URL JOBRUN_PING_EVENTS

# An abandoned run (its process was killed) counts as a failure of its job.
ok_run
hook_clear
bg_jobrun debug-work --items 1000 --item-time 50ms
check "a long run is working" wait_for_line "$BG_OUT" 'msg=working'
dead=$(sql "SELECT max(id) FROM jobrun.runs")
kill -KILL "$BG_PID"
wait_exit "$BG_PID"
check "its session is gone" wait_for_sql \
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'jobrun' AND datname = current_database()" t
ok_run
is "$RC" 0 "the next run succeeds"
is "$(texts | sed 's/failing since [0-9-]* [0-9:]* UTC/failing since …/')" \
	"jobrun: debug-work run $dead was abandoned: its process ended without finishing it
jobrun: debug-work recovered: run $(sql "SELECT max(id) FROM jobrun.runs") succeeded (failing since …, 1 failed run)" \
	"it reports the abandoned run, then the recovery"

# JOBRUN_NOTIFY_ON: without recovery, the problem still closes, silently.
hook_clear
JOBRUN_NOTIFY_ON=failures fail_run
JOBRUN_NOTIFY_ON=failures ok_run
is "$(hook_count) $(sql "SELECT count(*) FROM jobrun.alerts")" "1 0" \
	"failures only: the failure is sent, the recovery closes the problem without a message"
hook_clear
JOBRUN_NOTIFY_ON=recovery fail_run
JOBRUN_NOTIFY_ON=recovery ok_run
is "$(texts | cut -c1-30)" "jobrun: debug-work recovered: " "recovery only: just the recovery"

# Discord: content, and no mentions from an error's text.
hook_clear
export JOBRUN_WEBHOOK_URL="$HOOK_URL/api/webhooks/123456789012345678/$DISCORD_TOKEN" JOBRUN_WEBHOOK_FORMAT=discord
fail_run
is "$(hook_lines 'sorted(r["json"].items())' | sed 's/run [0-9]*/run N/')" \
	"[('allowed_mentions', {'parse': []}), ('content', 'jobrun: debug-work partial (exit 3, run N): item 1 failed (--fail); 2 processed, 1 succeeded, 1 failed')]" \
	"Discord: content, allowed_mentions.parse empty"
ok_run

# JSON for anything else: the fields, then the same text.
hook_clear
export JOBRUN_WEBHOOK_URL="$HOOK_URL/hooks/jobrun" JOBRUN_WEBHOOK_FORMAT=json
JOBRUN_ENTRY=nightly fail_run
run_id=$(sql "SELECT max(id) FROM jobrun.runs")
is "$(hook_lines '[r["json"][k] for k in ("event", "job", "entry", "status", "run_id", "exit_code", "items", "error")]')" \
	"['failed', 'debug-work', 'nightly', 'partial', $run_id, 3, {'processed': 2, 'succeeded': 1, 'failed': 1}, 'item 1 failed (--fail)']" \
	"JSON: event, job, entry, status, run, exit code, counts and error"
like "$(mail_field "$(mails mail)" 'm.get_body().get_content()')" 'schedule entry: nightly' "the mail names the entry too"
JOBRUN_ENTRY=nightly ok_run

# A webhook answering 500: the mail still goes, the exit code is the run's,
# and the run record says what failed.
hook_clear
hook_fault '{"kind": "status", "status": 500, "match": "/hooks/", "count": 10}'
mails_before=$(mails mail)
fail_run
is "$RC" 3 "exit 3, the run's"
is "$(hook_count)" 3 "the webhook was tried 3 times"
is "$(mails mail)" $((mails_before + 1)) "the mail was sent anyway"
is "$(sql "SELECT string_agg(concat_ws(' ', n->>'signal', n->>'event', n->>'ok'), ', ') FROM jobrun.runs,
	jsonb_array_elements(summary->'notifications') n WHERE id = (SELECT max(id) FROM jobrun.runs)")" \
	"webhook failed false, mail failed true" "the run summary records both results"
like "$OUT" 'msg="notification failed" signal=webhook event=failed host=127\.0\.0\.1 error="webhook 127\.0\.0\.1: 3 attempts within the [0-9.]+s budget, the last: HTTP 500"' \
	"the warning names the webhook's host, never its URL"
unlike "$(cat "$T_TMP"/run*.out "$T_TMP"/run*.err)" "/services/|/api/webhooks/" "no webhook path in any log"
done_testing
