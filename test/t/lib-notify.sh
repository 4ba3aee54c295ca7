# Helpers for the notification tests (0230-0249), sourced after lib.sh.
#
#   hook_start                 the recording stand-in (test/fakes/hookfake.py)
#   hook_lines '<expr on r>'   one line per recorded request, in arrival order
#   hook_clear                 forget what was recorded so far
#   smtp_start NAME            the SMTP stand-in; mail lands in $T_TMP/NAME.mail
#   mails NAME                 how many messages it accepted

hook_start() {
	start_fake hook hookfake.py --record "$T_TMP/hook.rec" "$@"
	HOOK_REC="$T_TMP/hook.rec"
	: >"$HOOK_REC"
}

# hook_lines <python expression on r>: r is one recorded request (method,
# path, query, content_type, body, json). Waits until the stand-in has
# answered everything it received, so the record is complete.
hook_lines() {
	fake_settle "$HOOK_URL"
	python3 - "$HOOK_REC" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(eval(sys.argv[2]))
PY
}

hook_count() { fake_settle "$HOOK_URL"; wc -l <"$HOOK_REC" | tr -d ' '; }

hook_clear() {
	fake_settle "$HOOK_URL"
	fake_post "$HOOK_URL/_control/reset" '{}' >/dev/null
	: >"$HOOK_REC"
}

# hook_fault <JSON fault>: arm a fault on the recording stand-in.
hook_fault() { fake_post "$HOOK_URL/_control/fault" "$1" >/dev/null; }


# Every notification variable off: each test sets what it uses.
unset JOBRUN_PING_URL JOBRUN_PING_EVENTS JOBRUN_WEBHOOK_URL JOBRUN_WEBHOOK_FORMAT \
	JOBRUN_NOTIFY_ON JOBRUN_NOTIFY_TIMEOUT JOBRUN_ENTRY ADMIN_EMAIL SMTP_URL MAIL_FROM \
	MAILGUN_SMTP_SERVER SENDGRID_USERNAME
