# Shared helpers for the end-to-end tests: TAP output, a database per test,
# the stand-ins, and the jobrun binary run exactly as a scheduler would.
#
#   . "$(dirname "$0")/lib.sh"
#   plan 3
#   db_create
#   run_jobrun migrate; is "$RC" 0 "migrate succeeds"
#
# Everything a test starts is stopped, and its database dropped, at exit.
# Every captured output is checked for the suite's secrets at the end.

set -u
T_NAME=$(basename "$0" .sh)
T_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/jobrun-$T_NAME.XXXXXX")
: "${JOBRUN:=$T_ROOT/build/asan/jobrun}"
: "${JOBRUN_WRAPPER:=}"
T_COUNT=0
T_FAILED=0
T_PLANNED=0
T_PIDS=""
T_DB=""
# Secrets that must never appear in any output jobrun produces.
T_SECRETS="cv-secret-key-0123456789abcdef s3cr3t-db-pass-canary"
export JOBRUN_LOG_LEVEL=info
unset NO_COLOR JOBRUN_MAX_RUNTIME

plan() {
	T_PLANNED=$(($1 + 1)) # + the secret check done_testing adds
	echo "1..$T_PLANNED"
}

ok() { # ok <0|1 as shell status of a test command> <description>
	T_COUNT=$((T_COUNT + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_COUNT - $2"
	else
		echo "not ok $T_COUNT - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

check() { # check <description> <command...>: ok when the command succeeds
	local desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

is() { # is <got> <expected> <description>
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
	fi
}

like() { # like <text> <extended regex> <description>
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   text: $(printf '%s' "$1" | head -c 600)"
		echo "#   does not match: $2"
	fi
}

unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		echo "#   text: $(printf '%s' "$1" | grep -E -- "$2" | head -c 600)"
	else
		ok 0 "$3"
	fi
}

diag() { echo "# $*"; }

# Run jobrun; sets RC, OUT (stdout), ERR (stderr). Output is kept for the
# secret scan.
T_RUN=0
run_jobrun() {
	T_RUN=$((T_RUN + 1))
	local o="$T_TMP/run$T_RUN.out" e="$T_TMP/run$T_RUN.err"
	# shellcheck disable=SC2086
	$JOBRUN_WRAPPER "$JOBRUN" "$@" >"$o" 2>"$e" </dev/null
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	sanitizer_check "$e"
}

# Start jobrun in the background; sets BG_PID, BG_OUT, BG_ERR.
bg_jobrun() {
	T_RUN=$((T_RUN + 1))
	BG_OUT="$T_TMP/run$T_RUN.out"
	BG_ERR="$T_TMP/run$T_RUN.err"
	# shellcheck disable=SC2086
	$JOBRUN_WRAPPER "$JOBRUN" "$@" >"$BG_OUT" 2>"$BG_ERR" </dev/null &
	BG_PID=$!
}

# A sanitizer or valgrind report fails the test even if the exit code matched.
sanitizer_check() {
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|==[0-9]+== (Invalid|Conditional|.*definitely lost)' "$1"; then
		ok 1 "no sanitizer or valgrind report ($1)"
		sed 's/^/#   /' "$1" | head -40
	fi
}

# Wait (bounded) until a file contains a line matching a regex.
wait_for_line() { # wait_for_line <file> <regex> [seconds]
	local deadline=$(($(date +%s) + ${3:-20}))
	while [ "$(date +%s)" -le "$deadline" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Wait (bounded) for a process to exit; sets WAIT_RC.
wait_exit() { # wait_exit <pid>
	wait "$1"
	WAIT_RC=$?
}

psql_q() { psql -X -q -tA -v ON_ERROR_STOP=1 -d "$T_DB" -c "$1"; }
sql() { psql_q "$1" 2>&1; }

# A fresh database for this test; DATABASE_URL points at it.
db_create() {
	T_DB="t_$(echo "$T_NAME" | tr -c 'a-z0-9\n' '_')_$$"
	createdb "$T_DB" || { echo "Bail out! cannot create database $T_DB"; exit 1; }
	export DATABASE_URL="postgresql://${PGUSER}:${PGPASSWORD}@${PGHOST:-localhost}:${PGPORT:-5432}/$T_DB"
	# The password is a secret like any other: it must never be printed.
	T_SECRETS="$T_SECRETS $PGPASSWORD"
}

db_migrate() {
	run_jobrun migrate
	[ "$RC" -eq 0 ] || { echo "Bail out! migrate failed: $ERR $OUT"; exit 1; }
}

# Start a stand-in: start_fake <name> <script.py> [args…]; sets <NAME>_PORT
# and <NAME>_URL (http://127.0.0.1:port).
start_fake() {
	local name=$1 script=$2
	shift 2
	python3 "$T_ROOT/test/fakes/$script" --port 0 --port-file "$T_TMP/$name.port" \
		--log "$T_TMP/$name.log" "$@" >"$T_TMP/$name.stdout" 2>&1 &
	T_PIDS="$T_PIDS $!"
	local i=0
	while [ ! -s "$T_TMP/$name.port" ]; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "Bail out! stand-in $name did not start: $(cat "$T_TMP/$name.stdout")"
			exit 1
		fi
		sleep 0.05
	done
	local port upper
	port=$(cat "$T_TMP/$name.port")
	upper=$(echo "$name" | tr 'a-z-' 'A-Z_')
	eval "${upper}_PORT=$port"
	eval "${upper}_URL=http://127.0.0.1:$port"
}

fake_get() { curl -sS --max-time 10 "$1"; }
fake_post() { curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' -d "$2" "$1"; }
# jq-less JSON field access through python.
json_field() { # json_field <json text> <python expression on d>
	printf '%s' "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

secret_scan() {
	local leaked=""
	for s in $T_SECRETS; do
		if grep -rlF -- "$s" "$T_TMP"/run*.out "$T_TMP"/run*.err >/dev/null 2>&1; then
			leaked="$leaked $(grep -rlF -- "$s" "$T_TMP"/run*.out "$T_TMP"/run*.err | tr '\n' ' ')"
		fi
	done
	is "$leaked" "" "no secret appears in any captured jobrun output"
}

done_testing() {
	secret_scan
	if [ "$T_COUNT" -ne "$T_PLANNED" ]; then
		echo "# planned $T_PLANNED tests but ran $T_COUNT"
		T_FAILED=$((T_FAILED + 1))
	fi
	[ "$T_FAILED" -eq 0 ]
	exit $?
}

cleanup() {
	for p in $T_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$T_DB" ]; then
		dropdb --force "$T_DB" 2>/dev/null || dropdb "$T_DB" 2>/dev/null
	fi
	if [ "$T_FAILED" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T_TMP"
	else
		echo "# kept $T_TMP"
	fi
}
trap cleanup EXIT
