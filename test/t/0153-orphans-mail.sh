#!/bin/bash
# The orphans mail, received by the real SMTP stand-in and parsed as a mail
# client would: counts, the first 20 by name, API usage, the CSV attached
# (byte for byte the report); no mail when there is no orphan; no secret in
# any mail or report.
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate
orph_refapp
orph_start
orph_smtp
orph_ref image kept
orph_assets '[{"public_id":"kept","age":7200}]'

run_jobrun orphans
is "$RC" 0 "no orphan: exit 0"
is "$(orph_mails)" 0 "no orphan, no mail"

orph_assets "$(python3 -c 'import json; print(json.dumps([{"public_id": "lost/%02d" % i, "age": 7200 + i} for i in range(25)]
 + [{"public_id": "bad\nline,\"q\"", "age": 9000}]))')"
run_jobrun orphans
is "$RC" 0 "orphans found: exit 0"
is "$(orph_mails)" 1 "one mail"
REPORT=$(orph_report)
MAIL=$(ls "$T_TMP"/smtp.mail/*.eml | head -1)
parse() {
	python3 - "$MAIL" "$1" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
body = m.get_body(("plain",)).get_content()
atts = list(m.iter_attachments())
print(eval(sys.argv[2]))
PY
}
is "$(parse 'm["Subject"]')" "jobrun orphans: 26 orphaned Cloudinary files" "the subject counts them"
is "$(parse 'm["To"]')" "ops@example.com" "to ADMIN_EMAIL"
like "$(parse 'body' | tr "\n" " ")" "Total files: 27.*Valid files: 1 \\(3\\.7 %\\).*Orphaned files: 26 \\(96\\.3 %\\)" "counts and percentages"
like "$(parse 'body')" "API calls used: [0-9]+/500 \\([0-9.]+ %\\)" "API usage"
is "$(parse 'body.count("  image  ")')" 20 "the first 20 are listed by name"
like "$(parse 'body')" "The first 20 of 26:" "it says how many there are in all"
is "$(parse '[a.get_filename() for a in atts]')" "['$(basename "$REPORT")']" "the CSV is attached under the report's name"
is "$(parse 'atts[0].get_content_type()')" "text/csv" "as text/csv"
is "$(parse 'atts[0].get_payload(decode=True) == open(sys.argv[1].rsplit("/smtp.mail/", 1)[0] + "/" + "'"${REPORT#$T_TMP/}"'", "rb").read()')" True \
	"byte for byte the report (hostile id included)"
is "$(grep -rlF "$ORPH_CLD_SECRET" "$T_TMP/smtp.mail" "$JOBRUN_REPORT_DIR" "$T_TMP/smtp.log" | wc -l)" 0 \
	"no secret in any mail or report"
done_testing
