#!/bin/bash
# doctor prints no secret, whatever form it came in: a keyword=value
# DATABASE_URL's password, an API key a provider's error text echoes. And a
# DATABASE_URL problem is told apart from an unreachable server: malformed
# (libpq cannot parse it, or rejects an option) is 78 with libpq's own words,
# a server that does not answer is 1.
. "$(dirname "$0")/lib.sh"
plan 21
db_create
db_migrate

# not_in <text> <secret> <description>: a fixed string, not a regex.
not_in() { if printf '%s' "$1" | grep -qF -- "$2"; then ok 1 "$3"; else ok 0 "$3"; fi; }

kv="host=${PGHOST:-localhost} port=${PGPORT:-5432} dbname=$T_DB user=$PGUSER password=$PGPASSWORD"
DATABASE_URL="$kv" run_jobrun doctor
is "$RC" 0 "doctor passes with a keyword=value DATABASE_URL"
like "$OUT" "ok +database +host .* database $T_DB user $PGUSER\$" "the database line says where it connected"
not_in "$OUT$ERR" "$PGPASSWORD" "the keyword=value password is not printed"
like "$OUT" "ok +JOBRUN_MAX_RUNTIME +9m \\(default\\)" "the runtime default is the one runs use"
like "$OUT" "ok +JOBRUN_STATEMENT_TIMEOUT +2m \\(default\\)" "the statement timeout default is the one tasks use"

# The provider's error text echoes the key it was sent.
cv_start --volumes 10
fake_post "$CV_URL/_control/fault" "$(python3 -c '
import json, sys
body = {"error": "Invalid API Key: %s" % sys.argv[1], "limit": 0, "offset": 0,
        "number_of_page_results": 0, "number_of_total_results": 0,
        "status_code": 100, "results": []}
print(json.dumps({"kind": "status", "match": "/api/volumes/", "status": 401,
                  "content_type": "application/json", "body": json.dumps(body)}))' "$CV_KEY")" >/dev/null
run_jobrun doctor --online
is "$RC" 1 "doctor --online fails when the provider refuses the key"
like "$OUT" "FAIL +comicvine \\(online\\) +HTTP 401, status_code 100 \\(Invalid API Key: \\[REDACTED\\]\\)" \
	"the provider's answer is shown, the key in it redacted"
not_in "$OUT$ERR" "$CV_KEY" "the echoed API key is not printed"
unset COMICVINE_API_KEY COMICVINE_API_URL

# Malformed: exit 78 with libpq's message, for doctor and for any command.
canary=s3cr3t-db-pass-canary
DATABASE_URL="host=localhost foo=bar password=$canary" run_jobrun runs
is "$RC" 78 "an unknown keyword is a configuration error"
like "$ERR$OUT" 'DATABASE_URL: invalid connection option \\"foo\\"' "the error is libpq's, naming the option"
DATABASE_URL="postgresql://u:$canary@localhost/x?sslmode=bogus" run_jobrun runs
is "$RC" 78 "an option value libpq rejects is a configuration error"
like "$ERR$OUT" 'DATABASE_URL: invalid sslmode value: \\"bogus\\"' "the error names the value"
DATABASE_URL="postgresql://u:$canary@localhost:abc/x" run_jobrun migrate
is "$RC" 78 "a port that is not a number is a configuration error"
like "$ERR$OUT" 'DATABASE_URL: invalid integer value \\"abc\\" for connection option \\"port\\"' "the error names the port"
DATABASE_URL="postgresql://u:$canary%zz@localhost/x" run_jobrun doctor
is "$RC" 78 "doctor: a malformed URL is a configuration error"
like "$OUT" "FAIL +database +DATABASE_URL: invalid percent-encoded token: \"\\[REDACTED\\]\"" \
	"libpq's message quotes the password: redacted"
DATABASE_URL="host=127.0.0.1 port=1 dbname=x user=u password=$canary" run_jobrun doctor
is "$RC" 1 "an unreachable server is not a configuration error"
like "$OUT" "FAIL +database +cannot connect to the database: connection to server at \"127.0.0.1\", port 1 failed" \
	"the failing line says which server"
DATABASE_URL="postgresql://u:$canary@127.0.0.1:1/x" run_jobrun runs
is "$RC" 1 "runs: an unreachable server exits 1"

# PGPASSWORD instead of a password in the URL: registered all the same.
DATABASE_URL="postgresql://$PGUSER@${PGHOST:-localhost}:${PGPORT:-5432}/$T_DB" run_jobrun doctor
is "$RC" 0 "doctor passes with the password in PGPASSWORD"
not_in "$OUT$ERR" "$PGPASSWORD" "PGPASSWORD is not printed"

done_testing
