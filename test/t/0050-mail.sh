#!/bin/bash
# lib/mail against a real SMTP server (test/fakes/smtpfake.py, aiosmtpd) through
# `jobrun doctor --mail`: the message that arrives, parsed by Python's email
# package (headers, folded UTF-8 subject, body with dot lines, attachment
# bytes); AUTH; STARTTLS required off loopback and trusted through
# CURL_CA_BUNDLE; implicit TLS; servers that refuse or drop; exit codes; and no
# password in any output.
. "$(dirname "$0")/lib.sh"
plan 52
# aiosmtpd is Debian's package: only Debian's python imports it.
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null ||
	{ echo "Bail out! python3-aiosmtpd is missing for $PY: run scripts/install-deps"; exit 1; }
db_create
db_migrate

SMTP_USER=mailer
SMTP_PASS=smtp-pass-canary-4242
# The password, and the AUTH PLAIN line that carries it on the wire.
T_SECRETS="$T_SECRETS $SMTP_PASS $(printf '\0%s\0%s' "$SMTP_USER" "$SMTP_PASS" | base64 -w0)"
export ADMIN_EMAIL="ops@example.com, dev@example.org"
unset SMTP_URL MAIL_FROM MAILGUN_SMTP_SERVER SENDGRID_USERNAME CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR

# logged <name> <python expression on the last message record e>
logged() {
	$PY -c "import json,sys
recs=[json.loads(l) for l in open(sys.argv[1]) if '\"n\"' in l]
e=recs[-1]; print($2)" "$T_TMP/$1.log"
}
mail_line() { printf '%s\n' "$OUT" | grep -E '^(ok|FAIL) +mail \(test message\)'; }

# --- delivery over plain loopback with AUTH --------------------------------
smtp_start plain --auth "$SMTP_USER:$SMTP_PASS"
export SMTP_URL="smtp://$SMTP_USER:$SMTP_PASS@127.0.0.1:$PLAIN_PORT"
run_jobrun doctor --mail
is "$RC" 0 "doctor --mail exits 0 when the message is delivered"
like "$(mail_line)" "^ok +mail \\(test message\\) +sent to 2 of 2 recipients via 127\\.0\\.0\\.1:$PLAIN_PORT \\(plain\\)" \
	"its line says where it went"
is "$ERR" "" "nothing on stderr: libcurl's dialogue (AUTH included) is never printed"
is "$(mails plain)" 1 "the server mails one message"
is "$(logged plain 'e["rcpt_tos"]')" "['ops@example.com', 'dev@example.org']" "addressed to both ADMIN_EMAIL recipients"
is "$(logged plain 'e["auth_user"]')" "$SMTP_USER" "after AUTH as the SMTP_URL user"
like "$(logged plain 'e["mail_from"]')" '^jobrun@[A-Za-z0-9.-]+$' "from jobrun@<hostname> by default"

# Parse what arrived, as a mail client would, and compare it with what
# mail_send_test() sends (lib/mail.c).
check_message() { # check_message <file>: one "name<TAB>ok|problem" line per check
	$PY - "$1" <<'PY'
import email, email.policy, email.utils, re, sys, time
raw = open(sys.argv[1], "rb").read()
checks = []
def check(name, cond, detail=""):
    checks.append((name, "ok" if cond else "FAIL " + str(detail)[:300]))
lines = raw.split(b"\r\n")
check("crlf", b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b""),
      "bare CR or LF")
longest = max(len(l) for l in lines)
check("line-length", longest <= 76, "longest line %d" % longest)
m = email.message_from_bytes(raw, policy=email.policy.default)
defects = [d for p in m.walk() for d in p.defects]
check("no-defects", not defects, defects)
date = email.utils.parsedate_to_datetime(m["Date"])
check("date", m["Date"].endswith("+0000") and abs(date.timestamp() - time.time()) < 600, m["Date"])
check("message-id", re.fullmatch(r"<[0-9]{14}\.[0-9a-f]{32}@[A-Za-z0-9.-]+>", m["Message-ID"]), m["Message-ID"])
check("to", m["To"] == "ops@example.com, dev@example.org", m["To"])
want_subject = "jobrun doctor: test message \u2713 \u2014 v\u00e9rification de la livraison du courrier \u00e9lectronique"
check("subject-encoded", re.search(rb"^Subject: =\?UTF-8\?B\?", raw, re.M) and raw.count(b"=?UTF-8?B?") >= 2, "not RFC 2047 encoded over several words")
check("subject", str(m["Subject"]) == want_subject, repr(str(m["Subject"])))
parts = [p for p in m.walk() if not p.is_multipart()]
check("multipart", m.get_content_type() == "multipart/mixed" and len(parts) == 2, m.get_content_type())
text, att = parts[0], parts[-1]
check("text-qp", text["Content-Transfer-Encoding"] == "quoted-printable" and text.get_content_charset() == "utf-8")
want_body = ("This is a test message from `jobrun doctor --mail`.\r\n"
             "If you can read it, jobrun can send you mail.\r\n\r\n"
             ".a line that starts with a dot\r\n.\r\n..two dots\r\ntrailing spaces   \r\n"
             "A long line: " + "0123456789 " * 9 + "= \u00e9t\u00e9 \u2713\r\n"
             "The attachment is a small CSV, as the orphans job sends.\r\n").encode()
body = text.get_payload(decode=True)
check("body", body == want_body, repr(body))
# The lone "." line arrived: unstuffed by the server, so libcurl stuffed it.
check("dot-lines", b"\r\n.a line that starts with a dot\r\n.\r\n..two dots\r\n" in raw, "dot lines changed")
want_csv = b'id,name\r\n1,"Caf\xc3\xa9, \xe2\x9c\x93"\r\n.2,starts with a dot\r\n'
check("attachment-meta", att.get_filename() == "jobrun-doctor.csv" and att.get_content_type() == "text/csv"
      and att["Content-Transfer-Encoding"] == "base64", (att.get_filename(), att.get_content_type()))
check("attachment-bytes", att.get_payload(decode=True) == want_csv, repr(att.get_payload(decode=True)))
for name, result in checks:
    print(name + "\t" + result)
PY
}
while IFS=$'\t' read -r name result; do
	is "$result" ok "mails message: $name"
done < <(check_message "$T_TMP/plain.mail/1.eml")

secret_in_server_files=$(grep -rlF -- "$SMTP_PASS" "$T_TMP"/plain.mail "$T_TMP"/plain.log "$T_TMP"/plain.stdout 2>/dev/null)
is "$secret_in_server_files" "" "the password is in nothing the server mails or logged"

# A wrong password: refused, not delivered, and neither password shown.
SMTP_URL="smtp://$SMTP_USER:wrong-$SMTP_PASS@127.0.0.1:$PLAIN_PORT" run_jobrun doctor --mail
is "$RC" 1 "a refused login fails doctor (exit 1)"
like "$(mail_line)" "^FAIL +mail \\(test message\\) +127\\.0\\.0\\.1:$PLAIN_PORT \\(plain\\) failed: .*535" \
	"its line carries the server's 535"
is "$(mails plain)" 1 "nothing more was delivered"

# --- configuration errors: exit 78, the variable named, the value not ------
SMTP_URL="smtp://$SMTP_USER:$SMTP_PASS@127.0.0.1:notaport" run_jobrun doctor --mail
is "$RC" 78 "a malformed SMTP_URL is a configuration error (78)"
like "$(mail_line)" "^FAIL +mail \\(test message\\) +SMTP_URL: not a valid URL" "the line names SMTP_URL"
SMTP_URL="http://$SMTP_USER:$SMTP_PASS@127.0.0.1:$PLAIN_PORT" run_jobrun doctor --mail
like "$RC $(mail_line)" "^78 FAIL .*SMTP_URL: URL scheme must be smtp or smtps" "a non-SMTP scheme is one too"
ADMIN_EMAIL="ops@example.com, not an address" run_jobrun doctor --mail
like "$RC $(mail_line)" "^78 FAIL .*ADMIN_EMAIL: address 2" "so is a malformed ADMIN_EMAIL, naming the address"
unset SMTP_URL
run_jobrun doctor --mail
like "$RC $(mail_line)" "^78 FAIL .*SMTP_URL is not set" "and so is no transport at all"
export SMTP_URL="smtp://$SMTP_USER:$SMTP_PASS@127.0.0.1:$PLAIN_PORT"
run_jobrun doctor
unlike "$OUT" "mail \\(test message\\)" "without --mail, doctor sends nothing"
is "$(mails plain)" 1 "and the server mails nothing more"

# --- refusals and a dropped connection --------------------------------------
smtp_start refuse --reject-rcpt bad@
SMTP_URL="smtp://127.0.0.1:$REFUSE_PORT" ADMIN_EMAIL="ops@example.com, bad@example.com" \
	run_jobrun doctor --mail
is "$RC" 1 "one refused recipient fails doctor"
like "$(mail_line)" "sent to 1 of 2 recipients .*1 of 2 recipients refused; server said: 550 5\\.1\\.1 <bad@example\\.com>" \
	"the line says who was refused and why"
is "$(logged refuse 'e["rcpt_tos"]')" "['ops@example.com']" "the other recipient still got the message"
SMTP_URL="smtp://127.0.0.1:$REFUSE_PORT" ADMIN_EMAIL="bad@example.com" run_jobrun doctor --mail
is "$RC" 1 "a server refusing every recipient fails doctor"
like "$(mail_line)" "^FAIL .*failed: .*550 5\\.1\\.1" "with the server's 550"
is "$(mails refuse)" 1 "and nothing was delivered"

smtp_start nodata --reject-data
SMTP_URL="smtp://127.0.0.1:$NODATA_PORT" run_jobrun doctor --mail
like "$RC $(mail_line)" "^1 FAIL .*554 5\\.7\\.1 Message rejected" "a 554 after DATA fails doctor with the reason"
is "$(mails nodata)" 0 "nothing was delivered"

smtp_start drop --drop-at DATA
start=$(date +%s)
SMTP_URL="smtp://127.0.0.1:$DROP_PORT" run_jobrun doctor --mail
elapsed=$(($(date +%s) - start))
is "$RC" 1 "a server that drops the connection fails doctor"
like "$(mail_line)" "^FAIL .*127\\.0\\.0\\.1:$DROP_PORT \\(plain\\) failed: " "its line says the sending failed"
check "the drop is noticed at once, not by the 30 s timeout ($elapsed s)" [ "$elapsed" -lt 25 ]

# --- TLS ----------------------------------------------------------------------
# A non-loopback address of this machine: there SMTP_URL must use STARTTLS.
NONLOCAL=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -1)
SAN="IP:127.0.0.1,DNS:localhost${NONLOCAL:+,IP:$NONLOCAL}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj "/CN=jobrun smtpfake" -addext "subjectAltName=$SAN" \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" >"$T_TMP/openssl.out" 2>&1 ||
	{ echo "Bail out! openssl could not make a certificate: $(cat "$T_TMP/openssl.out")"; exit 1; }

smtp_start smtps --implicit-tls "$T_TMP/cert.pem" "$T_TMP/key.pem" --auth "$SMTP_USER:$SMTP_PASS"
SMTP_URL="smtps://$SMTP_USER:$SMTP_PASS@127.0.0.1:$SMTPS_PORT" CURL_CA_BUNDLE="$T_TMP/cert.pem" \
	run_jobrun doctor --mail
like "$RC $(mail_line)" "^0 ok .*\\(TLS\\)" "smtps:// delivers over implicit TLS, trusting CURL_CA_BUNDLE"
is "$(logged smtps 'e["tls"]')" True "the server saw TLS"
SMTP_URL="smtps://$SMTP_USER:$SMTP_PASS@127.0.0.1:$SMTPS_PORT" run_jobrun doctor --mail
like "$RC $(mail_line)" "^1 FAIL .*(certificate|SSL)" "an untrusted certificate fails"

if [ -n "$NONLOCAL" ]; then
	smtp_start offhost --host "$NONLOCAL"
	SMTP_URL="smtp://$NONLOCAL:$OFFHOST_PORT" run_jobrun doctor --mail
	like "$RC $(mail_line)" "^1 FAIL .*\\(STARTTLS\\) failed: .*STARTTLS" \
		"off loopback, a server without STARTTLS is refused"
	is "$(mails offhost)" 0 "and nothing was sent to it in clear"

	smtp_start starttls --host "$NONLOCAL" --starttls "$T_TMP/cert.pem" "$T_TMP/key.pem" \
		--require-tls --auth "$SMTP_USER:$SMTP_PASS"
	SMTP_URL="smtp://$SMTP_USER:$SMTP_PASS@$NONLOCAL:$STARTTLS_PORT" \
		CURL_CA_BUNDLE="$T_TMP/cert.pem" run_jobrun doctor --mail
	like "$RC $(mail_line)" "^0 ok .*sent to 2 of 2 recipients via .*\\(STARTTLS\\)" \
		"with STARTTLS and a trusted certificate it delivers"
	is "$(logged starttls 'e["tls"]') $(logged starttls 'e["auth_user"]')" "True $SMTP_USER" \
		"after STARTTLS, then AUTH"
	SMTP_URL="smtp://$SMTP_USER:$SMTP_PASS@$NONLOCAL:$STARTTLS_PORT" run_jobrun doctor --mail
	like "$RC $(mail_line)" "^1 FAIL .*(certificate|SSL)" "STARTTLS with an untrusted certificate fails"
	is "$(mails starttls)" 1 "and delivers nothing"
else
	for d in "off loopback, a server without STARTTLS is refused" "and nothing was sent to it in clear" \
		"with STARTTLS and a trusted certificate it delivers" "after STARTTLS, then AUTH" \
		"STARTTLS with an untrusted certificate fails" "and delivers nothing"; do
		ok 0 "$d # SKIP no non-loopback IPv4 address on this machine"
	done
fi

done_testing
