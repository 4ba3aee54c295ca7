#!/bin/bash
# Late and missed entries (issue 10's states) alert once, through the
# webhook and mail, from `status --notify` (for setups that run only Heroku
# Scheduler entries) and from a tick's pass; once per problem across
# processes; the recovery when the entry runs again. Alerts never change
# what status or tick exit with. Time is injected (test-tool debug-clock),
# in the future: the children record their runs on the real clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-notify.sh"
plan 16
db_create
db_migrate
hook_start
smtp_start mail

export JOBRUN_SCHEDULE="$T_TMP/jobrun.cron"
cat >"$JOBRUN_SCHEDULE" <<'CRON'
# jobrun: name=daily grace=10m
0 2 * * * jobrun prune --dry-run
CRON
export JOBRUN_WEBHOOK_URL="$HOOK_URL/hooks/jobrun" JOBRUN_WEBHOOK_FORMAT=json
export ADMIN_EMAIL=ops@example.com SMTP_URL="smtp://127.0.0.1:$MAIL_PORT"
events() { hook_lines 'r["json"]["event"] + " " + r["json"]["entry"] + ": " + r["json"].get("detail", "-")'; }

# Day 1: the tick runs the 02:00 slot.
at_clock 2027-03-01T02:00:30Z 1 tick
is "$RC" 0 "day 1: the tick runs the entry"
is "$(hook_count)" 0 "nothing to tell"

# Day 2, 02:20: due + grace passed, nothing ran: late, told once.
at_clock 2027-03-02T02:20:00Z 1 status --notify
is "$RC" 3 "status --notify still exits 3 for a late entry"
like "$OUT" '^daily +late ' "status says late"
is "$(events)" "late daily: due 2027-03-02T02:00:00Z, no run started within its 10m grace" \
	"one late alert, with when it was due and the grace"
is "$(mails mail)" 1 "and one mail"
bg_at_clock 2027-03-02T02:25:00Z 1 status --notify
p1=$BG_PID
at_clock 2027-03-02T02:25:00Z 1 status --notify
wait_exit "$p1"
is "$(hook_count) $(mails mail)" "1 1" "later and concurrent passes send nothing more"

# A tick at 02:30 records the slot missed: a second problem, told once.
hook_clear
at_clock 2027-03-02T02:30:00Z 1 tick
is "$RC" 3 "the tick exits 3 for the missed slot, as without alerts"
is "$(events)" "missed daily: the slot due 2027-03-02T02:00:00Z was recorded missed" \
	"the tick's pass tells the missed slot"
at_clock 2027-03-02T02:40:00Z 1 tick
is "$(hook_count)" 1 "the next tick says nothing new"

# Day 3: the tick runs it again: one recovery for both problems.
hook_clear
at_clock 2027-03-03T02:00:30Z 1 tick
is "$RC" 0 "day 3: the entry runs"
like "$(hook_lines 'r["json"]["text"]')" '^jobrun: daily is back on schedule \(late or missed since [0-9-]{10} [0-9:]{8} UTC\)$' \
	"one recovery message"
is "$(mails mail) $(sql "SELECT count(*) FROM jobrun.alerts")" "3 0" "late, missed and recovery mails; nothing open"
at_clock 2027-03-03T02:05:00Z 1 status --notify
is "$RC $(hook_count)" "0 1" "an ok status sends nothing"

# Day 4, missed by a tick, and the SMTP server accepts connections but never
# greets: the mail is held to its share of JOBRUN_NOTIFY_TIMEOUT, not
# lib/mail's own 30 s, so a clock's next pass is not held back.
python3 -c '
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)' "$T_TMP/mute.port" >/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
wait_until 20 test -s "$T_TMP/mute.port" || { echo "Bail out! the mute SMTP server did not start"; exit 1; }
SMTP_URL="smtp://127.0.0.1:$(cat "$T_TMP/mute.port")" JOBRUN_NOTIFY_TIMEOUT=2s \
	at_clock 2027-03-04T02:20:00Z 1 tick
like "$OUT$ERR" 'notification failed.*signal=mail.*[Tt]imeout was reached|notification failed.*signal=mail.*timed out' \
	"the mail to a mute server fails as a timeout"
ms=$(printf '%s' "$OUT$ERR" | grep 'signal=mail' | grep -oE 'after [0-9]+ milliseconds' | grep -oE '[0-9]+' | head -1)
check "curl gave up within the notification's 2 s (got ${ms:-none} ms), not after 30 s" below "${ms:-99999}" 2500
done_testing
