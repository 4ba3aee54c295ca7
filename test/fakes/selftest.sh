#!/usr/bin/env bash
# Smoke test of the provider stand-ins: start each on port 0, drive every route
# and the main faults with curl, check counters and the log. TAP on stdout;
# exits non-zero when anything failed. Needs python3 and curl only.

set -u

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
tests=0
failures=0

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# check DESCRIPTION SHELL-CONDITION: one TAP line.
check() {
	tests=$((tests + 1))
	if eval "$2"; then
		echo "ok $tests - $1"
	else
		echo "not ok $tests - $1"
		failures=$((failures + 1))
	fi
}

# py EXPR: evaluate a Python expression over the JSON on stdin (bound to d).
py() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# wait_for_file PATH: readiness by polling, bounded at 20 s (loaded CI machines are slow).
wait_for_file() {
	local i
	for i in $(seq 400); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# start NAME SCRIPT ARGS...: launch a fake in the background, set $NAME_pid.
start() {
	local name=$1 script=$2
	shift 2
	"$here/$script" --port-file "$tmp/$name.port" --log "$tmp/$name.log" "$@" &
	pids+=($!)
	printf -v "${name}_pid" %s $!
}

# ready NAME: wait for its port file, set $NAME_url.
ready() {
	if ! wait_for_file "$tmp/$1.port"; then
		echo "Bail out! $1 did not write its port file"
		exit 1
	fi
	printf -v "${1}_url" %s "http://127.0.0.1:$(cat "$tmp/$1.port")"
}

# stop NAME: SIGTERM, then the exit status must be 0 (bounded wait).
stop() {
	local pid_var="${1}_pid" i
	kill "${!pid_var}"
	for i in $(seq 100); do
		kill -0 "${!pid_var}" 2>/dev/null || break
		sleep 0.05
	done
	wait "${!pid_var}"
}

stats() { curl -s "$1/_control/stats"; }
fault() { curl -s -o /dev/null -X POST -d "$2" "$1/_control/fault"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

echo "TAP version 13"

start gen httpfake.py --advertise-headers --window-limit 1000 --window-seconds 60
start pre httpfake.py --faults '{"kind":"status","status":500}'
start spacing httpfake.py --min-interval 0.5
start window httpfake.py --window-limit 2 --window-seconds 60
start cv comicvine.py --volumes 200 --omit-ids 5 --deleted-ids 9 --hostile-ids 3,4
start cvwin comicvine.py --window-limit 2 --window-seconds 60
for name in gen pre spacing window cv cvwin; do
	ready "$name"
done

# ---------------------------------------------------------------- httpfake

g=$gen_url
check "GET /json answers ok" '[ "$(curl -s "$g/json" | py "d[\"ok\"]")" = True ]'
echo_out=$(curl -s -A 'jobrun-test/1.0 (+selftest)' -H 'Authorization: Bearer sekrit-token' "$g/echo?api_key=sekrit-key&x=1")
check "echo redacts api_key" '[ "$(echo "$echo_out" | py "d[\"query\"][\"api_key\"]")" = "[REDACTED]" ]'
check "echo redacts Authorization but says it was present" \
	'[ "$(echo "$echo_out" | py "(d[\"headers\"][\"Authorization\"], d[\"auth_present\"])")" = "('"'[REDACTED]'"', True)" ]'
check "echo returns User-Agent verbatim" '[ "$(echo "$echo_out" | py "d[\"user_agent\"]")" = "jobrun-test/1.0 (+selftest)" ]'
check "echo never returns secrets" '! echo "$echo_out" | grep -q sekrit'
check "POST /echo reports body length" '[ "$(curl -s --data-binary 0123456789 "$g/echo" | py "d[\"body_length\"]")" = 10 ]'
check "GET /bucket/NAME names the bucket" '[ "$(curl -s "$g/bucket/uploads" | py "d[\"bucket\"]")" = uploads ]'
check "unknown path is 404" '[ "$(code "$g/nope")" = 404 ]'
check "stats count requests per bucket" '[ "$(stats "$g" | py "d[\"by_bucket\"][\"uploads\"][\"requests\"]")" = 1 ]'
headers=$(curl -s -D - -o /dev/null "$g/json")
check "--advertise-headers sends X-RateLimit-Remaining" 'echo "$headers" | grep -qi "^X-RateLimit-Remaining: [0-9]"'
check "--advertise-headers sends an HTTP-date X-FeatureRateLimit-Reset" \
	'echo "$headers" | grep -qi "^X-FeatureRateLimit-Reset: [A-Z][a-z][a-z], [0-9][0-9] .* GMT"'
curl -s -o /dev/null -o /dev/null "$g/json" "$g/json"
check "keep-alive: two requests on one connection" \
	'[ "$(tail -2 "$tmp/gen.log" | python3 -c "import json,sys; print(len({json.loads(l)[\"conn\"] for l in sys.stdin}))")" = 1 ]'
check "log lines carry the fields tests assert on" \
	'tail -1 "$tmp/gen.log" | py "{\"t\", \"wall\", \"method\", \"path\", \"query\", \"status\", \"violation\", \"fault\", \"bucket\", \"auth_ok\"} <= set(d)" | grep -q True'
check "log never holds secrets" '! grep -q sekrit "$tmp/gen.log"'

fault "$g" '{"kind":"status","status":503,"count":2}'
check "faults_pending counts queued uses" '[ "$(stats "$g" | py "d[\"faults_pending\"]")" = 2 ]'
check "status fault answers 503" '[ "$(code "$g/json")" = 503 ]'
check "status fault fires count times" '[ "$(code "$g/json")" = 503 ] && [ "$(code "$g/json")" = 200 ]'
fault "$g" '{"kind":"status","status":500,"match":"/bucket/"}'
check "fault match prefix skips other paths" '[ "$(code "$g/json")" = 200 ] && [ "$(code "$g/bucket/x")" = 500 ]'
fault "$g" '{"kind":"retry_after","value":"2"}'
check "retry_after: 429 with Retry-After seconds" \
	'curl -s -D - -o /dev/null "$g/json" | tr -d "\r" | grep -q "^Retry-After: 2$"'
fault "$g" '{"kind":"retry_after","status":503,"value":"Wed, 21 Oct 2037 07:28:00 GMT"}'
head503=$(curl -s -D - -o /dev/null "$g/json" | tr -d "\r")
check "retry_after: status override and HTTP date" \
	'echo "$head503" | grep -q "^HTTP/1.1 503" && echo "$head503" | grep -q "^Retry-After: Wed, 21 Oct 2037 07:28:00 GMT$"'
fault "$g" '{"kind":"ratelimit420"}'
check "ratelimit420 answers 420 with status_code 107" '[ "$(curl -s "$g/json" | py "d[\"status_code\"]")" = 107 ]'
fault "$g" '{"kind":"notjson"}'
check "notjson answers 200 with a non-JSON body" '[ "$(curl -s "$g/json")" = "this is not json" ]'
fault "$g" '{"kind":"html"}'
check "html answers a 403 text/html block page" \
	'[ "$(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$g/json")" = "403 text/html; charset=utf-8" ]'
fault "$g" '{"kind":"html200"}'
check "html200 answers an HTML page with 200" 'curl -s "$g/json" | grep -q "<html"'
fault "$g" '{"kind":"bigbody","bytes":1000000}'
check "bigbody sends the asked size" '[ "$(curl -s -o /dev/null -w "%{size_download}" "$g/json")" = 1000000 ]'
fault "$g" '{"kind":"slow","seconds":0.3}'
check "slow delays the answer" \
	'python3 -c "import sys; sys.exit(float(sys.argv[1]) < 0.3)" "$(curl -s -o /dev/null -w "%{time_total}" "$g/json")"'
fault "$g" '{"kind":"truncated"}'
curl -s -o /dev/null "$g/json"
rc=$?
check "truncated: curl sees a partial body (exit 18)" '[ $rc = 18 ]'
fault "$g" '{"kind":"reset"}'
curl -s -o /dev/null "$g/bucket/reset"
rc=$?
check "reset: curl sees the connection die mid-body (exit 18 or 56)" '[ $rc = 18 ] || [ $rc = 56 ]'
fault "$g" '{"kind":"timeout","seconds":5}'
curl -s -o /dev/null --max-time 0.5 "$g/json"
rc=$?
check "timeout: no answer within the client's deadline (exit 28)" '[ $rc = 28 ]'
check "the fake still serves after a timed-out client" '[ "$(code "$g/json")" = 200 ]'
check "faulted requests are logged with their fault" 'grep -q "\"fault\": \"timeout\"" "$tmp/gen.log"'
curl -s -o /dev/null -X POST "$g/_control/reset"
check "reset clears counters" '[ "$(stats "$g" | py "(d[\"requests\"], d[\"faults_pending\"])")" = "(0, 0)" ]'
check "a bad fault spec is a 400" '[ "$(code -X POST -d "{\"kind\":\"nope\"}" "$g/_control/fault")" = 400 ]'
check "control requests are not counted" '[ "$(stats "$g" | py "d[\"requests\"]")" = 0 ]'

check "--faults pre-queues a fault" '[ "$(code "$pre_url/json")" = 500 ] && [ "$(code "$pre_url/json")" = 200 ]'

s=$spacing_url
curl -s -o /dev/null -o /dev/null "$s/json" "$s/json"
check "spacing: two back-to-back requests are 1 violation" '[ "$(stats "$s" | py "d[\"violations\"]")" = 1 ]'
check "spacing: the violation is logged as such" 'grep -q "\"violation\": \"spacing\"" "$tmp/spacing.log"'
check "spacing: the rejected request got 429 Retry-After 1" \
	'grep -q "\"status\": 429" "$tmp/spacing.log"'

w=$window_url
check "window: two requests fit" '[ "$(code "$w/bucket/a")" = 200 ] && [ "$(code "$w/bucket/a")" = 200 ]'
check "window: the third is 429" '[ "$(code "$w/bucket/a")" = 429 ]'
check "window: other buckets are separate" '[ "$(code "$w/bucket/b")" = 200 ]'
check "window: violation counted in its bucket" \
	'[ "$(stats "$w" | py "(d[\"violations\"], d[\"by_bucket\"][\"a\"][\"violations\"])")" = "(1, 1)" ]'

# --------------------------------------------------------------- comicvine

c=$cv_url
k="api_key=test-key&format=json"
fixtures="$here/../fixtures/comicvine"
batch=$(curl -s "$c/api/volumes/?$k&filter=id:1|2|3|4|5|6|7|8|9|10")
check "volumes batch leaves out omitted 5 and deleted 9" \
	'[ "$(echo "$batch" | py "[r[\"id\"] for r in d[\"results\"]]")" = "[1, 2, 3, 4, 6, 7, 8, 10]" ]'
check "volumes batch envelope is the real one" \
	'[ "$(echo "$batch" | py "(d[\"error\"], d[\"status_code\"], d[\"number_of_total_results\"], d[\"version\"])")" = "('"'OK'"', 1, 8, '"'1.0'"')" ]'
check "volume list items have the fixture's keys (plus description)" \
	'[ "$(echo "$batch" | py "sorted(d[\"results\"][0])")" = "$(py "sorted(set(d[\"results\"][0]) | {\"description\"})" < "$fixtures/volumes-list-page1-no-description.json")" ]'
check "start_year is a string or null" \
	'echo "$batch" | py "all(isinstance(r[\"start_year\"], (str, type(None))) for r in d[\"results\"])" | grep -q True'
check "dates look like YYYY-MM-DD HH:MM:SS" \
	'echo "$batch" | py "d[\"results\"][0][\"date_added\"]" | grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"'
check "field_list trims the items" \
	'[ "$(curl -s "$c/api/volumes/?$k&filter=id:1|2&field_list=id,name" | py "sorted(d[\"results\"][0])")" = "['"'id', 'name'"']" ]'
check "sort id:desc with limit and offset" \
	'[ "$(curl -s "$c/api/volumes/?$k&sort=id:desc&limit=2&offset=1" | py "([r[\"id\"] for r in d[\"results\"]], d[\"limit\"], d[\"offset\"])")" = "([199, 198], 2, 1)" ]'
check "omitted volume 5 answers on its detail path" \
	'[ "$(curl -s "$c/api/volume/4050-5/?$k" | py "(d[\"status_code\"], d[\"results\"][\"id\"])")" = "(1, 5)" ]'
check "deleted volume 9 answers 101 with HTTP 200" \
	'[ "$(curl -s -w " %{http_code}" "$c/api/volume/4050-9/?$k" | tr -d "\n " )" = "$(tr -d "\n " < "$fixtures/error-101-not-found.json")200" ]'
check "unknown volume answers 101" '[ "$(curl -s "$c/api/volume/4050-100000/?$k" | py "d[\"status_code\"]")" = 101 ]'
check "bad api_key: HTTP 401, status_code 100" \
	'[ "$(curl -s -w "%{http_code}" "$c/api/volumes/?api_key=wrong" | sed "s/.*}//")" = 401 ] && [ "$(curl -s "$c/api/volumes/?api_key=wrong" | py "d[\"status_code\"]")" = 100 ]'
check "missing User-Agent: 403 HTML" \
	'[ "$(curl -s -A "" -o /dev/null -w "%{http_code} %{content_type}" "$c/api/volumes/?$k")" = "403 text/html; charset=utf-8" ]'
check "log records bad auth without the key" 'grep -q "\"auth_ok\": false" "$tmp/cv.log" && ! grep -q "wrong\|test-key" "$tmp/cv.log"'

want=$(python3 -c 'import sys, json
print(sum(json.loads(a)["count_of_issues"] for a in sys.argv[1:]))' "$(curl -s "$c/_control/volume/1")" "$(curl -s "$c/_control/volume/2")")
issues=$(curl -s "$c/api/issues/?$k&filter=volume:1|2")
check "issues of volumes 1|2: total is the sum of count_of_issues" \
	'[ "$(echo "$issues" | py "d[\"number_of_total_results\"]")" = "$want" ]'
check "issue ids are volume*100+k" \
	'echo "$issues" | py "all(r[\"id\"] == r[\"volume\"][\"id\"] * 100 + int(r[\"issue_number\"]) for r in d[\"results\"])" | grep -q True'
check "issue list items have the fixture's keys" \
	'[ "$(echo "$issues" | py "sorted(d[\"results\"][0])")" = "$(py "sorted(d[\"results\"][0])" < "$fixtures/issues-list-page1.json")" ]'
first=$(echo "$issues" | py 'd["results"][0]["id"]')
check "issue detail answers" '[ "$(curl -s "$c/api/issue/4000-$first/?$k" | py "d[\"results\"][\"id\"]")" = "$first" ]'
check "unknown issue answers 101" '[ "$(curl -s "$c/api/issue/4000-199/?$k" | py "d[\"status_code\"]")" = 101 ]'
check "issues date_last_updated filter combines with volume" \
	'[ "$(curl -s "$c/api/issues/?$k&filter=volume:1|2,date_last_updated:1990-01-01|1990-12-31" | py "d[\"number_of_total_results\"]")" = 0 ]'
check "more than 100 ids is a filter error (104)" \
	'[ "$(curl -s "$c/api/volumes/?$k&filter=id:$(seq -s "|" 1 101)" | py "d[\"status_code\"]")" = 104 ]'

touched=$(curl -s -X POST -d '{"volume":2}' "$c/_control/touch" | py 'd["date_last_updated"]')
check "touch bumps the served date_last_updated" \
	'[ "$(curl -s "$c/api/volume/4050-2/?$k&field_list=date_last_updated" | py "d[\"results\"][\"date_last_updated\"]")" = "$touched" ]'
check "touch bumps the volume's issues too" \
	'curl -s "$c/_control/issues/2" | py "all(i[\"date_last_updated\"] == \"$touched\" for i in d)" | grep -q True'
curl -s -o /dev/null -X POST -d '{"volume":7}' "$c/_control/delete"
check "run-time delete: 101 on detail and gone from batches" \
	'[ "$(curl -s "$c/api/volume/4050-7/?$k" | py "d[\"status_code\"]")" = 101 ] && [ "$(curl -s "$c/api/volumes/?$k&filter=id:6|7|8" | py "d[\"number_of_total_results\"]")" = 2 ]'
check "/_control/volume states the volume's state" \
	'curl -s -D - -o /dev/null "$c/_control/volume/5" | tr -d "\r" | grep -q "^X-Fake-State: omitted$"'

hostile=$(curl -s "$c/api/volume/4050-3/?$k")
check "hostile 3: \\u0000 and a lone \\ud800 as JSON escapes" \
	'echo "$hostile" | grep -qF "nul\u0000 lone\ud800 pair\ud83d\ude00"'
check "hostile 3: raw 4-byte UTF-8 emoji in the name" 'echo "$hostile" | grep -q "😀"'
check "hostile 3: start_year 19x7, null count and date, 10000-char deck" \
	'[ "$(echo "$hostile" | py "(d[\"results\"][\"start_year\"], d[\"results\"][\"count_of_issues\"], d[\"results\"][\"date_last_updated\"], len(d[\"results\"][\"deck\"]))")" = "('"'19x7'"', None, None, 10000)" ]'
check "hostile 4 (even): start_year empty" \
	'[ "$(curl -s "$c/api/volume/4050-4/?$k&field_list=start_year" | py "repr(d[\"results\"][\"start_year\"])")" = "'"''"'" ]'
check "comicvine buckets are per API path" \
	'[ "$(stats "$c" | py "sorted(d[\"by_bucket\"])")" = "['"'/issue/', '/issues/', '/volume/', '/volumes/'"']" ]'
fault "$c" '{"kind":"ratelimit420","match":"/api/issues/"}'
check "ratelimit420 fault on a matching path" '[ "$(code "$c/api/issues/?$k&filter=volume:1")" = 420 ]'

cw=$cvwin_url
check "comicvine window: two /volume/ requests fit" \
	'[ "$(code "$cw/api/volume/4050-1/?$k")" = 200 ] && [ "$(code "$cw/api/volume/4050-2/?$k")" = 200 ]'
check "comicvine window: the third is HTTP 420 with the 107 body" \
	'[ "$(curl -s -w " %{http_code}" "$cw/api/volume/4050-3/?$k")" = "$(cat "$fixtures/error-107-rate-limit-http420.json") 420" ]'
check "comicvine window: /issues/ is another bucket" '[ "$(code "$cw/api/issues/?$k&filter=volume:1")" = 200 ]'

# ------------------------------------------------------------------ shutdown

fault "$g" '{"kind":"timeout","seconds":30}'
curl -s -o /dev/null --max-time 20 "$g/json" &
held=$!
for i in $(seq 100); do
	[ "$(stats "$g" | py 'd["faults_pending"]')" = 0 ] && break
	sleep 0.05
done
start_ns=$(date +%s%N)
stop gen
rc=$?
check "SIGTERM: clean exit 0 while a connection is held" '[ $rc = 0 ]'
check "SIGTERM: exits within 2 s" '[ $(( ($(date +%s%N) - start_ns) / 1000000 )) -lt 2000 ]'
wait "$held" 2>/dev/null
for name in pre spacing window cv cvwin; do
	stop "$name"
	rc=$?
	check "$name exits 0 on SIGTERM" '[ $rc = 0 ]'
done
pids=()

echo "1..$tests"
[ "$failures" = 0 ]
