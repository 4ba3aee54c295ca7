#!/usr/bin/env bash
# Smoke test of the provider stand-ins: start each on port 0, drive every route
# and the main faults with curl, check counters and the log. TAP on stdout;
# exits non-zero when anything failed. Needs python3, curl and coreutils only.

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

# py EXPR [ARG...]: evaluate a Python expression over the JSON on stdin (bound to d); ARGs in sys.argv[2:].
py() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$@"
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
# Provider machinery: ShipStation-like (buckets per api-key, its headers and 429), Cloudinary-like
# (cursor paging, 420 with an HTTP-date Reset), generic headers, per-bucket spacing, links variants.
start ss httpfake.py --rate-convention shipstation --bucket-header api-key --bucket-alias test-key-acme=acme \
	--window-limit 100 --window-seconds 60 --bucket-rules '{"acme":{"window_limit":2,"window_seconds":60}}' --items 7
start cld httpfake.py --rate-convention cloudinary --window-limit 100 --window-seconds 60 \
	--bucket-rules '{"limited":{"window_limit":1}}' --items 12
start conv httpfake.py --rate-convention generic --window-limit 1 --window-seconds 60
start bspace httpfake.py --bucket-rules '{"slow":{"min_interval":0.5}}'
start lnull httpfake.py --links-absent null --links-base http://shipstation.invalid/v2 --items 4
start labs httpfake.py --links-absent absent --items 4
# ShipStation v2: accounts with their own keys; "tight" has its own 3-request window.
start ssv2 shipstation.py \
	--account '{"key":"sekrit-ss-acme","alias":"acme","products":23,"inventory":7}' \
	--account '{"key":"sekrit-ss-noinv","alias":"noinv","products":3,"inventory_addon":false}' \
	--account '{"key":"sekrit-ss-tight","alias":"tight","products":3,"requests_per_minute":3}' \
	--account '{"key":"sekrit-ss-big","alias":"big","products":100000,"inventory":100000,"requests_per_minute":0}' \
	--account '{"key":"sekrit-ss-slow","alias":"slow","products":10,"latency":0.3}' \
	--account '{"key":"sekrit-ss-hashed","products":1}'
start ssabs shipstation.py --links-absent absent --account '{"key":"k","products":3}'
# The Cloudinary personality: a generated account (assets 600 s apart, the newest 2 h old), and
# one with a 3-call hourly window for the 420.
start cldf cloudinary.py --generate 3000 --spacing 600 --api-secret sekrit-cld
start cldlim cloudinary.py --generate 10 --hourly-limit 3 --window-seconds 60
for name in gen pre spacing window cv cvwin ss cld conv bspace lnull labs cldf cldlim ssv2 ssabs; do
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

# ------------------------------------------------------ provider machinery

fixtures_ss="$here/../fixtures/shipstation"
fixtures_cld="$here/../fixtures/cloudinary"

# Faults matched by method and by a query value (on the generic fake).
fault "$g" '{"kind":"status","status":500,"method":"delete"}'
check "method fault: a GET passes it by" '[ "$(code "$g/json")" = 200 ]'
check "method fault: fires on DELETE" '[ "$(code -X DELETE "$g/json")" = 500 ] && [ "$(stats "$g" | py "d[\"faults_pending\"]")" = 0 ]'
fault "$g" '{"kind":"status","status":502,"query":{"next_cursor":"c2"}}'
check "query fault: another cursor value passes it by" '[ "$(code "$g/json?next_cursor=c1")" = 200 ]'
check "query fault: fires on its cursor value" '[ "$(code "$g/json?next_cursor=c2")" = 502 ]'
fault "$g" '{"kind":"status","status":503,"method":"POST","match":"/echo","query":{"page":"2"}}'
check "method+path+query fault: all three must match" \
	'[ "$(code -X POST "$g/echo?page=1")" = 200 ] && [ "$(code "$g/echo?page=2")" = 200 ] && [ "$(code -X POST "$g/echo?page=2")" = 503 ]'
check "a fault with a bad method or query is a 400" \
	'[ "$(code -X POST -d "{\"kind\":\"status\",\"method\":7}" "$g/_control/fault")" = 400 ] && [ "$(code -X POST -d "{\"kind\":\"status\",\"query\":[1]}" "$g/_control/fault")" = 400 ]'

# ShipStation-like: buckets per api-key value, never named by the key.
ss=$ss_url
other_key=sekrit-other-key
other_bucket="key-$(printf %s "$other_key" | sha256sum | cut -c1-8)"
ss_head=$(curl -s -D - -o /dev/null -H "api-key: test-key-acme" "$ss/json" | tr -d "\r")
check "key bucket: an aliased key counts in its alias's bucket" '[ "$(stats "$ss" | py "d[\"by_bucket\"][\"acme\"][\"requests\"]")" = 1 ]'
check "shipstation headers: X-Rate-Limit-Limit/-Remaining of the bucket's own window" \
	'echo "$ss_head" | grep -q "^X-Rate-Limit-Limit: 2$" && echo "$ss_head" | grep -q "^X-Rate-Limit-Remaining: 1$"'
check "shipstation headers: X-Rate-Limit-Reset in whole seconds" \
	'echo "$ss_head" | grep -Eq "^X-Rate-Limit-Reset: ([1-5][0-9]|60)$"'
check "shipstation headers: no other convention's headers" '! echo "$ss_head" | grep -qi "^X-RateLimit-\|^X-FeatureRateLimit-"'
check "per-bucket window: the second request fits" '[ "$(code -H "api-key: test-key-acme" "$ss/json")" = 200 ]'
ss_refused=$(curl -s -D "$tmp/ss.head" -H "api-key: test-key-acme" "$ss/json")
check "per-bucket window: the third is 429" 'head -1 "$tmp/ss.head" | grep -q "^HTTP/1.1 429"'
check "shipstation 429: Retry-After in seconds up to the window's end" \
	'tr -d "\r" < "$tmp/ss.head" | grep -Eq "^Retry-After: ([1-5][0-9]|60)$"'
check "shipstation 429: X-Rate-Limit-Remaining 0" 'tr -d "\r" < "$tmp/ss.head" | grep -q "^X-Rate-Limit-Remaining: 0$"'
check "shipstation 429: the v2 error body" \
	'[ "$(echo "$ss_refused" | py "(sorted(d), sorted(d[\"errors\"][0]), d[\"errors\"][0][\"error_code\"], len(d[\"request_id\"]))")" = "(['"'errors', 'request_id'"'], ['"'error_code', 'error_source', 'error_type', 'message'"'], '"'rate_limit_exceeded'"', 36)" ]'
check "key bucket: another key has its own window (global default)" \
	'[ "$(code -H "api-key: $other_key" "$ss/json")" = 200 ] && [ "$(curl -s -D - -o /dev/null -H "api-key: $other_key" "$ss/json" | tr -d "\r" | grep "^X-Rate-Limit-Limit:")" = "X-Rate-Limit-Limit: 100" ]'
check "key bucket: an unaliased key is named key-<8 hex of its sha256>" \
	'[ "$(stats "$ss" | py "d[\"by_bucket\"][\"$other_bucket\"][\"requests\"]")" = 2 ]'
check "key bucket: log names buckets, never keys" \
	'grep -q "\"bucket\": \"$other_bucket\"" "$tmp/ss.log" && ! grep -q "sekrit\|test-key-acme" "$tmp/ss.log"'
check "key bucket: stats never hold a key" '! stats "$ss" | grep -q "sekrit\|test-key-acme"'
check "without the header the path picks the bucket" \
	'curl -s -o /dev/null "$ss/bucket/plain" && [ "$(stats "$ss" | py "d[\"by_bucket\"][\"plain\"][\"requests\"]")" = 1 ]'

# ShipStation-like page/page_size with links.
page1=$(curl -s "$ss/paged/products?page_size=3")
check "paged: total, page, pages and the list under its name" \
	'[ "$(echo "$page1" | py "(d[\"total\"], d[\"page\"], d[\"pages\"], [r[\"id\"] for r in d[\"products\"]])")" = "(7, 1, 3, [1, 2, 3])" ]'
check "paged: total/page/pages have the fixture's names and JSON types" \
	'[ "$(echo "$page1" | py "[type(d[k]).__name__ for k in (\"total\", \"page\", \"pages\")]")" = "$(py "[type(d[k]).__name__ for k in (\"total\", \"page\", \"pages\")]" < "$fixtures_ss/v1_list_products_page1_of_3.json")" ]'
check "paged: first/last always have an href, prev on page 1 is {}" \
	'[ "$(echo "$page1" | py "(sorted(d[\"links\"]), d[\"links\"][\"prev\"], d[\"links\"][\"last\"][\"href\"].endswith(\"page=3&page_size=3\"))")" = "(['"'first', 'last', 'next', 'prev'"'], {}, True)" ]'
check "paged: links.next.href is absolute and points back at the fake" \
	'[ "$(echo "$page1" | py "d[\"links\"][\"next\"][\"href\"]")" = "$ss/paged/products?page=2&page_size=3" ]'
ids=""
next="$ss/paged/products?page_size=3&sku=A+B"
hops=0
while [ -n "$next" ] && [ $hops -lt 10 ]; do
	body=$(curl -s "$next")
	hops=$((hops + 1))
	ids="$ids$(echo "$body" | py '"".join(" %d" % r["id"] for r in d["products"])')"
	last_body=$body
	next=$(echo "$body" | py '(d["links"].get("next") or {}).get("href", "")')
done
check "paged: following links.next visits every item once" '[ "$ids" = " 1 2 3 4 5 6 7" ] && [ $hops = 3 ]'
check "paged: hrefs keep the other query parameters" 'echo "$last_body" | py "d[\"links\"][\"prev\"][\"href\"]" | grep -q "sku=A+B"'
check "paged: on the last page page == pages (as the fixture) and next is {}" \
	'[ "$(echo "$last_body" | py "(d[\"page\"] == d[\"pages\"], d[\"links\"][\"next\"])")" = "(True, {})" ] && [ "$(py "d[\"page\"] == d[\"pages\"]" < "$fixtures_ss/v1_list_products_page3_of_3.json")" = True ]'
check "paged: page_size above 100 is a 400 in ShipStation's error shape" \
	'[ "$(curl -s -w " %{http_code}" "$ss/paged/products?page_size=101" | sed "s/^.*\"error_type\":\"\([a-z]*\)\".* \([0-9]*\)$/\1 \2/")" = "validation 400" ]'
check "paged: n=0 gives an empty first page, pages 0, no next" \
	'[ "$(curl -s "$ss/paged/products?n=0" | py "(d[\"products\"], d[\"total\"], d[\"pages\"], d[\"links\"][\"next\"], \"href\" in d[\"links\"][\"last\"])")" = "([], 0, 0, {}, True)" ]'
check "--links-absent null: prev/next null; --links-base rewrites hrefs" \
	'[ "$(curl -s "$lnull_url/paged/inventory?page_size=2" | py "(d[\"links\"][\"prev\"], d[\"links\"][\"next\"][\"href\"])")" = "(None, '"'http://shipstation.invalid/v2/paged/inventory?page=2&page_size=2'"')" ]'
check "--links-absent absent: no next key on the last page" \
	'[ "$(curl -s "$labs_url/paged/inventory?page=2&page_size=2" | py "sorted(d[\"links\"])")" = "['"'first', 'last', 'prev'"']" ]'
check "offset: ComicVine-style offset/limit over the same items" \
	'[ "$(curl -s "$labs_url/offset/x?offset=2&limit=500" | py "([r[\"id\"] for r in d[\"results\"]], d[\"limit\"], d[\"number_of_total_results\"])")" = "([3, 4], 100, 4)" ]'

# Cloudinary-like: max_results/next_cursor and X-FeatureRateLimit-* with an HTTP-date Reset.
cl=$cld_url
cpage=$(curl -s -D "$tmp/cld.head" "$cl/cursor/up?max_results=5")
check "cursor: the first page has max_results items and a 40-hex next_cursor like the fixture's" \
	'[ "$(echo "$cpage" | py "(len(d[\"resources\"]), len(d[\"next_cursor\"]), int(d[\"next_cursor\"], 16) >= 0)")" = "(5, $(py "len(d[\"next_cursor\"])" < "$fixtures_cld/admin_list_resources.json"), True)" ]'
check "cursor: top-level keys are the fixture's" \
	'echo "$cpage" | py "set(d) <= set(json.load(open(\"$fixtures_cld/admin_list_resources.json\")))" | grep -q True'
check "cloudinary headers: X-FeatureRateLimit-Limit/-Remaining" \
	'tr -d "\r" < "$tmp/cld.head" | grep -q "^X-FeatureRateLimit-Limit: 100$" && tr -d "\r" < "$tmp/cld.head" | grep -q "^X-FeatureRateLimit-Remaining: 99$"'
check "cloudinary headers: Reset is an HTTP date within the window" \
	'tr -d "\r" < "$tmp/cld.head" | sed -n "s/^X-FeatureRateLimit-Reset: //p" | python3 -c "import sys, time; from email.utils import parsedate_to_datetime as p; left = p(sys.stdin.read().strip()).timestamp() - time.time(); sys.exit(not 0 < left <= 61)"'
ids=""
cursor=""
hops=0
while [ $hops -lt 10 ]; do
	body=$(curl -s "$cl/cursor/up?max_results=5${cursor:+&next_cursor=$cursor}")
	hops=$((hops + 1))
	ids="$ids$(echo "$body" | py '"".join(" %d" % r["id"] for r in d["resources"])')"
	cursor=$(echo "$body" | py 'd.get("next_cursor", "")')
	[ -n "$cursor" ] || break
done
check "cursor: following next_cursor visits every item once; absent on the last page" \
	'[ "$ids" = " 1 2 3 4 5 6 7 8 9 10 11 12" ] && [ $hops = 3 ]'
second=$(curl -s "$cl/cursor/up?n=10&max_results=5&next_cursor=$(curl -s "$cl/cursor/up?n=10&max_results=5" | py 'd["next_cursor"]')")
check "cursor: no next_cursor when the last page is exactly full" \
	'[ "$(echo "$second" | py "([r[\"id\"] for r in d[\"resources\"]], \"next_cursor\" in d)")" = "([6, 7, 8, 9, 10], False)" ]'
check "paged: no next when the last page is exactly full" \
	'[ "$(curl -s "$ss/paged/products?n=6&page=2&page_size=3" | py "(d[\"pages\"], d[\"links\"][\"next\"])")" = "(2, {})" ]'
first_cursor=$(echo "$cpage" | py 'd["next_cursor"]')
check "cursor: max_results above 500 is a 400 {error:{message}}" \
	'[ "$(curl -s -w " %{http_code}" "$cl/cursor/up?max_results=501" | sed "s/ \([0-9]*\)$/|\1/" | python3 -c "import sys, json; b, c = sys.stdin.read().rsplit(\"|\", 1); print(sorted(json.loads(b)[\"error\"]), c.strip())")" = "['"'message'"'] 400" ]'
check "cursor: a made-up cursor or one from another listing is a 400" \
	'[ "$(code "$cl/cursor/up?next_cursor=0000000000000000000000000000000000000005")" = 400 ] && [ "$(code "$cl/cursor/other?next_cursor=$first_cursor")" = 400 ]'
check "cloudinary window: the first request in a 1-request bucket fits" '[ "$(code "$cl/bucket/limited")" = 200 ]'
cl_refused=$(curl -s -D "$tmp/cld420.head" "$cl/bucket/limited")
check "cloudinary over limit: HTTP 420 with Remaining 0" \
	'head -1 "$tmp/cld420.head" | grep -q "^HTTP/1.1 420" && tr -d "\r" < "$tmp/cld420.head" | grep -q "^X-FeatureRateLimit-Remaining: 0$"'
check "cloudinary over limit: Reset is an HTTP date, no Retry-After" \
	'tr -d "\r" < "$tmp/cld420.head" | grep -q "^X-FeatureRateLimit-Reset: [A-Z][a-z][a-z], [0-9][0-9] .* GMT$" && ! grep -qi "^Retry-After" "$tmp/cld420.head"'
check "cloudinary over limit: body {error:{message}}" '[ "$(echo "$cl_refused" | py "sorted(d[\"error\"])")" = "['"'message'"']" ]'

# ---------------------------------------------------------------- cloudinary

cf=$cldf_url
ca=(-u test-key:sekrit-cld)
cb="$cf/v1_1/test-cloud/resources"
# csearch JSON-BODY: POST resources/search with good credentials.
csearch() { curl -s "${ca[@]}" -H "Content-Type: application/json" -d "$1" "$cb/search"; }
# cscan JSON-BODY: follow next_cursor through a search; prints "<total_count> <items> <distinct> <bad>"
# where bad counts items failing the Python predicate $2 over r (the resource) and now.
cscan() {
	python3 - "$cb/search" "$1" "$2" <<'PY'
import base64, json, sys, time, urllib.request
from datetime import datetime
url, body, pred = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
auth = "Basic " + base64.b64encode(b"test-key:sekrit-cld").decode()
items, total, now = [], None, time.time()
while True:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", "Authorization": auth})
    d = json.load(urllib.request.urlopen(req))
    total = d["total_count"] if total is None else total
    items += d["resources"]
    if "next_cursor" not in d:
        break
    body["next_cursor"] = d["next_cursor"]
ts = lambda r: datetime.fromisoformat(r["uploaded_at"]).timestamp()
bad = sum(1 for r in items if not eval(pred, {"r": r, "now": now, "ts": ts, "datetime": datetime}))
print(total, len(items), len({(r["resource_type"], r["public_id"]) for r in items}), bad)
PY
}
check "cloudinary: no credentials is a 401 HTML page" \
	'[ "$(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$cb/image/upload")" = "401 text/html; charset=utf-8" ]'
check "cloudinary: a wrong secret is a 401 HTML page, not counted in the account's bucket" \
	'curl -s -u test-key:wrong "$cb/image/upload" | grep -q "<html>" && [ "$(stats "$cf" | py "d[\"by_bucket\"][\"rejected\"][\"requests\"], \"admin\" in d[\"by_bucket\"]")" = "(2, False)" ]'
check "cloudinary: a wrong cloud name is a 401 with Cloudinary's JSON error" \
	'[ "$(curl -s -w " %{http_code}" "${ca[@]}" "$cf/v1_1/nocloud/resources/image/upload")" = "{\"error\":{\"message\":\"Invalid cloud_name nocloud\"}} 401" ]'
acct=$(curl -s "$cf/_control/account")
check "cloudinary: --generate 3000 splits 7/2/1 into image/video/raw" \
	'[ "$(echo "$acct" | py "d[\"generated\"]")" = "{'"'image': 2100, 'video': 600, 'raw': 300"'}" ]'
ids=""
forms=""
cursor=""
hops=0
while [ $hops -lt 20 ]; do
	body=$(curl -s "${ca[@]}" "$cb/image/upload?max_results=500${cursor:+&next_cursor=$cursor}")
	hops=$((hops + 1))
	ids="$ids$(echo "$body" | py '"".join(" " + r["public_id"] for r in d["resources"])')"
	forms="$forms$(echo "$body" | py '"".join(" " + r["created_at"][19:] for r in d["resources"])')"
	cursor=$(echo "$body" | py 'd.get("next_cursor", "")')
	[ -n "$cursor" ] || break
done
check "cloudinary list: 500 a page through next_cursor visits every image once (5 pages)" \
	'[ $hops = 5 ] && [ "$(echo $ids | wc -w)" = 2100 ] && [ "$(echo $ids | tr " " "\n" | sort -u | wc -l)" = 2100 ]'
check "cloudinary list: newest first by default, asc on request" \
	'[ "$(echo $ids | cut -d" " -f1)" = gen/image/0002996 ] && [ "$(curl -s "${ca[@]}" "$cb/image/upload?max_results=1&direction=asc" | py "d[\"resources\"][0][\"public_id\"]")" = gen/image/0000000 ]'
check "cloudinary list: created_at comes as ...Z and as ...+00:00, half each" \
	'[ "$(echo $forms | tr " " "\n" | sort | uniq -c | tr -s " " | tr "\n" "/")" = " 1050 +00:00/ 1050 Z/" ]'
check "cloudinary list: resources carry the fixture's keys in its order" \
	'[ "$(curl -s "${ca[@]}" "$cb/image/upload?max_results=1" | py "list(d[\"resources\"][0])")" = "$(py "list(d[\"resources\"][0])" < "$fixtures_cld/admin_list_resources.json")" ]'
check "cloudinary list: max_results above 500 is a 400 {error:{message}}" \
	'[ "$(curl -s -w " %{http_code}" "${ca[@]}" "$cb/image/upload?max_results=501" | sed "s/ 400$//" | py "sorted(d[\"error\"])")" = "['"'message'"']" ]'
# Generated uploads are 600 s apart, the newest 7200 s old: 1 day holds (86400-7200)/600 = 132 slots,
# 70 % of them images (some 92-93 depending on where the window starts); the predicate re-checks every item.
day=$(cscan '{"expression":"resource_type:image AND uploaded_at>1d","max_results":50,"sort_by":[{"uploaded_at":"asc"}]}' \
	'r["resource_type"] == "image" and ts(r) > now - 86400 - 5')
check "cloudinary search: uploaded_at>1d pages through exactly total_count images, all younger than a day" \
	'set -- $day; [ "$1" = "$2" ] && [ "$2" = "$3" ] && [ "$4" = 0 ] && [ "$1" -ge 91 ] && [ "$1" -le 93 ]'
cut=$(python3 -c 'import time; from datetime import datetime, timezone; print(datetime.fromtimestamp(int(time.time()) - 5 * 86400 + 7, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))')
young=$(csearch '{"expression":"uploaded_at>=\"'"$cut"'\"","max_results":1}' | py 'd["total_count"]')
old=$(csearch '{"expression":"uploaded_at<\"'"$cut"'\" AND type:upload","max_results":1}' | py 'd["total_count"]')
check "cloudinary search: an absolute ISO time splits the account exactly (>= and <)" \
	'[ $((young + old)) = 3000 ] && [ "$young" -gt 0 ] && [ "$old" -gt 0 ]'
range=$(cscan '{"expression":"resource_type:video AND uploaded_at:[\"'"$cut"'\" TO *]","max_results":500,"sort_by":[{"uploaded_at":"desc"}]}' \
	'r["resource_type"] == "video"')
young_videos=$(csearch '{"expression":"uploaded_at>=\"'"$cut"'\" AND resource_type:video","max_results":1}' | py 'd["total_count"]')
check "cloudinary search: a [a TO *] range is the same set as >= a (videos only)" \
	'set -- $range; [ "$1" = "$2" ] && [ "$2" = "$3" ] && [ "$4" = 0 ] && [ "$1" = "$young_videos" ] && [ "$1" -gt 0 ]'
check "cloudinary search: sort by uploaded_at desc starts with the newest, items add uploaded_at" \
	'[ "$(csearch "{\"max_results\":1}" | py "(d[\"resources\"][0][\"public_id\"], d[\"resources\"][0][\"uploaded_at\"] == d[\"resources\"][0][\"created_at\"])")" = "('"'gen/raw/0002999'"', True)" ]'
check "cloudinary search: an unsupported expression is a 400, never everything" \
	'[ "$(curl -s -o /dev/null -w %{http_code} "${ca[@]}" -H "Content-Type: application/json" -d "{\"expression\":\"uploaded_at>1d OR tags:x\"}" "$cb/search")" = 400 ] && [ "$(curl -s -o /dev/null -w %{http_code} "${ca[@]}" -H "Content-Type: application/json" -d "{\"expression\":\"folder:x\"}" "$cb/search")" = 400 ]'
page1=$(csearch '{"expression":"resource_type:raw","max_results":10}')
cur=$(echo "$page1" | py 'd["next_cursor"]')
check "cloudinary search: a cursor is valid only for its own expression" \
	'[ "$(curl -s -o /dev/null -w %{http_code} "${ca[@]}" -H "Content-Type: application/json" -d "{\"expression\":\"resource_type:video\",\"next_cursor\":\"$cur\"}" "$cb/search")" = 400 ]'
curl -s -o /dev/null -X POST "$cf/_control/cursors/expire"
check "cloudinary: /_control/cursors/expire makes an issued cursor a 400" \
	'[ "$(curl -s -o /dev/null -w %{http_code} "${ca[@]}" -H "Content-Type: application/json" -d "{\"expression\":\"resource_type:raw\",\"next_cursor\":\"$cur\"}" "$cb/search")" = 400 ]'

hostile=$'=HYPERLINK("x"), "q"
line2 é😀'
hostile_json=$(printf %s "$hostile" | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))')
curl -s -o /dev/null -X POST -d '[{"public_id":'"$hostile_json"',"age":30},{"public_id":"keep me","resource_type":"raw","uploaded_at":"2024-01-15"}]' "$cf/_control/assets"
check "cloudinary: an added hostile public_id is listed back byte for byte" \
	'[ "$(curl -s "${ca[@]}" "$cb/image/upload?max_results=1" | py "d[\"resources\"][0][\"public_id\"] == json.loads(sys.argv[2])" "$hostile_json")" = True ]'
check "cloudinary search: an added asset matches by its absolute uploaded_at" \
	'[ "$(csearch "{\"expression\":\"uploaded_at:[\\\"2024-01-15\\\" TO \\\"2024-01-15T00:00:00Z\\\"]\"}" | py "[r[\"public_id\"] for r in d[\"resources\"]]")" = "['"'keep me'"']" ]'
del=$(curl -s "${ca[@]}" -X DELETE -G --data-urlencode "public_ids[]=$hostile" --data-urlencode "public_ids[]=gen/image/0000001" \
	--data-urlencode "public_ids[]=gen/image/0000007" --data-urlencode "public_ids[]=nope" "$cb/image/upload")
check "cloudinary delete: deleted / not_found per id (0000007 is a video), partial false" \
	'[ "$(echo "$del" | py "(list(d[\"deleted\"].values()), d[\"partial\"], d[\"deleted_counts\"][\"gen/image/0000001\"])")" = "(['"'deleted', 'deleted', 'not_found', 'not_found'"'], False, {'"'original': 1, 'derived': 0"'})" ]'
check "cloudinary delete: form body ids too; gone ones are now not_found" \
	'[ "$(curl -s "${ca[@]}" -X DELETE -d "public_ids[]=gen/image/0000001&public_ids[]=gen/image/0000002" "$cb/image/upload" | py "list(d[\"deleted\"].values())")" = "['"'not_found', 'deleted'"']" ]'
check "cloudinary: /_control/deleted lists what DELETEs removed, in order" \
	'[ "$(curl -s "$cf/_control/deleted" | py "[x[\"public_id\"] == json.loads(sys.argv[2]) or x[\"public_id\"] for x in d[\"deleted\"]]" "$hostile_json")" = "[True, '"'gen/image/0000001', 'gen/image/0000002'"']" ]'
check "cloudinary: /_control/exists and the account counts agree" \
	'[ "$(curl -s -X POST -d "{\"public_ids\":[\"gen/image/0000001\",\"gen/image/0000003\"]}" "$cf/_control/exists" | py "list(d[\"exists\"].values())")" = "[False, True]" ] && [ "$(curl -s "$cf/_control/account" | py "d[\"existing\"][\"image\"]")" = 2098 ]'
check "cloudinary delete: more than 100 public_ids is a 400" \
	'[ "$(curl -s -o /dev/null -w %{http_code} "${ca[@]}" -X DELETE -H "Content-Type: application/json" -d "{\"public_ids\":$(python3 -c "import json; print(json.dumps([\"p%d\" % i for i in range(101)]))")}" "$cb/image/upload")" = 400 ]'
curl -s -o /dev/null -X POST -d '{"fail":1,"value":"error"}' "$cf/_control/partial"
part=$(curl -s "${ca[@]}" -X DELETE -H "Content-Type: application/json" -d '{"public_ids":["gen/image/0000003","gen/image/0000004"]}' "$cb/image/upload")
check "cloudinary partial: the armed delete fails its last id (partial true, asset kept)" \
	'[ "$(echo "$part" | py "(d[\"deleted\"], d[\"partial\"])")" = "({'"'gen/image/0000003': 'deleted', 'gen/image/0000004': 'error'"'}, True)" ] && [ "$(curl -s -X POST -d "{\"public_ids\":[\"gen/image/0000004\"]}" "$cf/_control/exists" | py "d[\"exists\"][\"gen/image/0000004\"]")" = True ]'
fault "$cf" '{"kind":"status","status":502,"method":"DELETE"}'
check "cloudinary: a DELETE-only fault lets a search by and fails the delete" \
	'[ "$(code "${ca[@]}" -H "Content-Type: application/json" -d "{}" "$cb/search")" = 200 ] && [ "$(code "${ca[@]}" -X DELETE -d "public_ids[]=gen/image/0000005" "$cb/image/upload")" = 502 ]'
fake_settle_cf() { for i in $(seq 100); do [ "$(stats "$cf" | py 'd["in_progress"]')" = 0 ] && return; sleep 0.05; done; }
fake_settle_cf
check "cloudinary log: a DELETE line has its public_ids count, a search line its expression" \
	'grep "\"method\": \"DELETE\"" "$tmp/cldf.log" | grep -q "\"public_ids\": 4" && grep -q "\"expression\": \"resource_type:image AND uploaded_at>1d\"" "$tmp/cldf.log"'
check "cloudinary log: the secret never appears" '! grep -q sekrit "$tmp/cldf.log" && ! stats "$cf" | grep -q sekrit'
curl -s -o /dev/null -X POST "$cf/_control/account/reset"
check "cloudinary: /_control/account/reset brings deleted assets back and drops added ones" \
	'[ "$(curl -s "$cf/_control/account" | py "(d[\"existing\"], d[\"deleted_total\"])")" = "({'"'image': 2100, 'video': 600, 'raw': 300"'}, 0)" ]'

cl3="$cldlim_url/v1_1/test-cloud/resources"
check "cloudinary rate: three Admin calls fit a 3-call window, Remaining counts down" \
	'[ "$(code -u test-key:test-secret "$cl3/image/upload")" = 200 ] && [ "$(code -u test-key:test-secret -X DELETE "$cl3/raw/upload?public_ids[]=x")" = 200 ] && [ "$(curl -s -D - -o /dev/null -u test-key:test-secret "$cl3/video/upload" | tr -d "\r" | grep "^X-FeatureRateLimit-Remaining")" = "X-FeatureRateLimit-Remaining: 0" ]'
lim=$(curl -s -D "$tmp/cl420.head" -u test-key:test-secret "$cl3/image/upload")
check "cloudinary rate: the fourth is HTTP 420 with Cloudinary's message, Remaining 0, no Retry-After" \
	'head -1 "$tmp/cl420.head" | grep -q "^HTTP/1.1 420" && echo "$lim" | py "d[\"error\"][\"message\"]" | grep -q "^Rate Limit Exceeded. Limit of 3 api operations reached. Try again on 20[0-9-]* [0-9:]* UTC$" && tr -d "\r" < "$tmp/cl420.head" | grep -q "^X-FeatureRateLimit-Remaining: 0$" && ! grep -qi "^Retry-After" "$tmp/cl420.head"'
check "cloudinary rate: Reset is an HTTP date within the window" \
	'tr -d "\r" < "$tmp/cl420.head" | sed -n "s/^X-FeatureRateLimit-Reset: //p" | python3 -c "import sys, time; from email.utils import parsedate_to_datetime as p; left = p(sys.stdin.read().strip()).timestamp() - time.time(); sys.exit(not 0 < left <= 61)"'
check "cloudinary rate: the 420 is a window violation of bucket admin; bad credentials never count" \
	'[ "$(code "$cl3/image/upload")" = 401 ] && [ "$(stats "$cldlim_url" | py "(d[\"violations\"], d[\"by_bucket\"][\"admin\"], d[\"by_bucket\"][\"rejected\"][\"violations\"])")" = "(1, {'"'requests': 4, 'violations': 1"'}, 0)" ]'

# Generic convention: X-RateLimit-* and Retry-After on the 429.
cv_head=$(curl -s -D - -o /dev/null "$conv_url/json" | tr -d "\r")
check "generic headers: X-RateLimit-Limit/-Remaining/-Reset (seconds)" \
	'echo "$cv_head" | grep -q "^X-RateLimit-Limit: 1$" && echo "$cv_head" | grep -q "^X-RateLimit-Remaining: 0$" && echo "$cv_head" | grep -Eq "^X-RateLimit-Reset: ([1-5][0-9]|60)$"'
cv_head=$(curl -s -D - -o /dev/null "$conv_url/json" | tr -d "\r")
check "generic over limit: 429 with Retry-After seconds and the headers" \
	'echo "$cv_head" | grep -q "^HTTP/1.1 429" && echo "$cv_head" | grep -Eq "^Retry-After: ([1-5][0-9]|60)$" && echo "$cv_head" | grep -q "^X-RateLimit-Remaining: 0$"'
fault "$conv_url" '{"kind":"retry_after","value":"7"}'
check "retry_after fault keeps the generic body" '[ "$(curl -s "$conv_url/bucket/f" | py "d[\"error\"]")" = "Too Many Requests" ]'
fault "$ss" '{"kind":"retry_after","value":"7"}'
check "retry_after fault answers in the convention's body (ShipStation error list)" \
	'[ "$(curl -s -H "api-key: $other_key" "$ss/json" | py "d[\"errors\"][0][\"error_code\"]")" = rate_limit_exceeded ]'

# Per-bucket spacing and rules set at run time.
b=$bspace_url
curl -s -o /dev/null -o /dev/null "$b/bucket/slow" "$b/bucket/slow"
curl -s -o /dev/null -o /dev/null "$b/bucket/fast" "$b/bucket/fast"
check "per-bucket spacing: back-to-back requests in a spaced bucket are 1 violation, in others none" \
	'[ "$(stats "$b" | py "(d[\"by_bucket\"][\"slow\"][\"violations\"], d[\"by_bucket\"][\"fast\"][\"violations\"])")" = "(1, 0)" ]'
check "per-bucket spacing: logged as a spacing violation" 'grep -q "\"violation\": \"spacing\".*\"bucket\": \"slow\"" "$tmp/bspace.log"'
check "/_control/buckets lists the rules" '[ "$(curl -s "$b/_control/buckets" | py "d[\"buckets\"]")" = "{'"'slow': {'min_interval': 0.5}"'}" ]'
check "/_control/buckets refuses an unknown key or a negative value" \
	'[ "$(code -X POST -d "{\"x\":{\"limit\":1}}" "$b/_control/buckets")" = 400 ] && [ "$(code -X POST -d "{\"x\":{\"window_limit\":-1}}" "$b/_control/buckets")" = 400 ]'
curl -s -o /dev/null -X POST -d '{"rt":{"window_limit":1,"window_seconds":60}}' "$b/_control/buckets"
check "a rule set at run time applies" '[ "$(code "$b/bucket/rt")" = 200 ] && [ "$(code "$b/bucket/rt")" = 429 ]'
curl -s -o /dev/null -X POST "$b/_control/reset"
check "reset keeps the rules but clears their windows" \
	'[ "$(curl -s "$b/_control/buckets" | py "sorted(d[\"buckets\"])")" = "['"'rt', 'slow'"']" ] && [ "$(code "$b/bucket/rt")" = 200 ]'
check "a bad --bucket-rules stops the fake with an error" \
	'timeout 20 "$here/httpfake.py" --port 0 --bucket-rules "{\"x\":{\"nope\":1}}" 2>/dev/null; [ $? = 1 ]'

# ------------------------------------------------------------- shipstation.py

s2=$ssv2_url
acme=sekrit-ss-acme
ssget() { curl -s -H "api-key: $1" "${@:3}" "$s2$2"; }   # ssget KEY PATH [curl args]: GET with the key
sscode() { code -H "api-key: $1" "$s2$2"; }

ss_unauth=$(curl -s -w " %{http_code}" "$s2/v2/products")
check "shipstation: no api-key is a 401 with the v2 error body" \
	'[ "$(echo "${ss_unauth% *}" | py "(sorted(d), d[\"errors\"][0][\"error_code\"], d[\"errors\"][0][\"error_type\"])") ${ss_unauth##* }" = "(['"'errors', 'request_id'"'], '"'unauthorized', 'security'"') 401" ]'
check "shipstation: an unknown api-key is a 401" '[ "$(sscode not-a-key /v2/warehouses)" = 401 ]'
check "shipstation: an unknown /v2/ path is a 404 with the error body" \
	'[ "$(ssget $acme /v2/orders | py "d[\"errors\"][0][\"error_code\"]")" = invalid_identifier ] && [ "$(sscode $acme /v2/orders)" = 404 ]'
check "shipstation: /v2/warehouses is not paged: {warehouses: [...]} with warehouse_id and name" \
	'[ "$(ssget $acme /v2/warehouses | py "(sorted(d), [(w[\"warehouse_id\"], w[\"name\"]) for w in d[\"warehouses\"]])")" = "(['"'warehouses'], [('se-1001', 'Warehouse 1'), ('se-1002', 'Warehouse 2')]"')" ]'
check "shipstation: product rows carry the v2 names and JSON types" \
	'[ "$(ssget $acme "/v2/products?page_size=1" | py "[type(d[\"products\"][0][k]).__name__ for k in (\"product_id\", \"sku\", \"name\", \"active\")]")" = "['"'int', 'str', 'str', 'bool'"']" ]'
check "shipstation: inventory rows carry sku, the two ids and on_hand/allocated/available" \
	'[ "$(ssget $acme "/v2/inventory?page_size=1" | py "sorted(d[\"inventory\"][0])")" = "['"'allocated', 'available', 'average_cost', 'inventory_location_id', 'inventory_warehouse_id', 'on_hand', 'sku'"']" ]'
locs=$(ssget $acme "/v2/inventory_locations?page_size=100")
iws=$(ssget $acme "/v2/inventory_warehouses?page_size=100")
inv=$(ssget $acme "/v2/inventory?page_size=100")
echo "$inv" > "$tmp/inv.json"
check "shipstation: locations name their inventory warehouse; inventory rows name listed ids, each key once" \
	'python3 -c "import json, sys; l, w, i = (json.loads(a) for a in sys.argv[1:]); wid = {x[\"inventory_warehouse_id\"] for x in w[\"inventory_warehouses\"]}; lid = {x[\"inventory_location_id\"]: x[\"inventory_warehouse_id\"] for x in l[\"inventory_locations\"]}; keys = [(r[\"sku\"], r[\"inventory_warehouse_id\"], r[\"inventory_location_id\"]) for r in i[\"inventory\"]]; sys.exit(not (set(lid.values()) <= wid and all(lid.get(c) == b for _, b, c in keys) and len(set(keys)) == len(keys) == 7 and all(r[\"available\"] == r[\"on_hand\"] - r[\"allocated\"] for r in i[\"inventory\"])))" "$locs" "$iws" "$inv"'

# Paging: follow links.next to the end.
skus=""
next="$s2/v2/products?page_size=5"
hops=0
while [ -n "$next" ] && [ $hops -lt 20 ]; do
	body=$(curl -s -H "api-key: $acme" "$next")
	hops=$((hops + 1))
	skus="$skus$(echo "$body" | py '"".join(" " + r["sku"][-2:] for r in d["products"])')"
	last_body=$body
	next=$(echo "$body" | py '(d["links"].get("next") or {}).get("href", "")')
done
check "shipstation paging: links.next visits all 23 products once in 5 pages" \
	'[ "$skus" = "$(printf " %02d" $(seq 23))" ] && [ $hops = 5 ]'
check "shipstation paging: the last page has page == pages and no links.next.href" \
	'[ "$(echo "$last_body" | py "(d[\"total\"], d[\"page\"], d[\"pages\"], d[\"links\"][\"next\"])")" = "(23, 5, 5, {})" ]'
check "shipstation paging: total/page/pages have the fixture's JSON types" \
	'[ "$(echo "$last_body" | py "[type(d[k]).__name__ for k in (\"total\", \"page\", \"pages\")]")" = "$(py "[type(d[k]).__name__ for k in (\"total\", \"page\", \"pages\")]" < "$fixtures_ss/v1_list_products_page1_of_3.json")" ]'
check "shipstation paging: /v2/products defaults to 100 a page, the others to 25" \
	'[ "$(ssget $acme /v2/products | py "len(d[\"products\"])") $(ssget sekrit-ss-big /v2/inventory | py "(len(d[\"inventory\"]), d[\"pages\"])")" = "23 (25, 4000)" ]'
check "shipstation paging: --links-absent absent leaves links.next out on the last page" \
	'[ "$(curl -s -H "api-key: k" "$ssabs_url/v2/products?page=2&page_size=2" | py "sorted(d[\"links\"])")" = "['"'first', 'last', 'prev'"']" ]'
for bad in page_size=101 page_size=0 page=0 page=x; do
	check "shipstation paging: $bad is a 400 validation error" \
		'[ "$(ssget $acme "/v2/products?$bad" -w " %{http_code}" | sed "s/^.*\"error_type\":\"\([a-z]*\)\".* \([0-9]*\)$/\1 \2/")" = "validation 400" ]'
done
check "shipstation big account: page 1000 of 100,000 products is the last hundred" \
	'[ "$(ssget sekrit-ss-big "/v2/products?page=1000" | py "(d[\"total\"], d[\"products\"][0][\"sku\"], d[\"products\"][-1][\"sku\"], d[\"links\"][\"next\"])")" = "(100000, '"'SKU-099901', 'SKU-100000'"', {})" ]'

# The Inventory add-on.
check "shipstation no add-on: the three inventory endpoints are 403 forbidden" \
	'[ "$(for p in inventory inventory_warehouses inventory_locations; do printf "%s " "$(ssget sekrit-ss-noinv /v2/$p -w " %{http_code}" | sed "s/^.*\"error_code\":\"\([a-z_]*\)\".* \([0-9]*\)$/\1:\2/")"; done)" = "forbidden:403 forbidden:403 forbidden:403 " ]'
check "shipstation no add-on: the message names the Inventory add-on" \
	'ssget sekrit-ss-noinv /v2/inventory | py "d[\"errors\"][0][\"message\"]" | grep -q "Inventory API add-on"'
check "shipstation no add-on: warehouses and products still answer" \
	'[ "$(sscode sekrit-ss-noinv /v2/warehouses) $(sscode sekrit-ss-noinv /v2/products)" = "200 200" ]'
curl -s -o /dev/null -X POST -d '{"account":"noinv","inventory_addon":true}' "$s2/_control/configure"
check "shipstation /_control/configure: enabling the add-on opens /v2/inventory" '[ "$(sscode sekrit-ss-noinv /v2/inventory)" = 200 ]'

# Per-key windows: "tight" allows 3 a minute, the others the default 200.
acme_head=$(ssget $acme /v2/warehouses -D - -o /dev/null | tr -d "\r")
check "shipstation window: 200 a minute per key by default (X-Rate-Limit-Limit, Reset in seconds)" \
	'echo "$acme_head" | grep -q "^X-Rate-Limit-Limit: 200$" && echo "$acme_head" | grep -Eq "^X-Rate-Limit-Reset: ([1-5][0-9]|60)$"'
check "shipstation window: tight's 3 requests fit" \
	'[ "$(for i in 1 2 3; do printf "%s " "$(sscode sekrit-ss-tight /v2/products)"; done)" = "200 200 200 " ]'
tight_body=$(ssget sekrit-ss-tight /v2/products -D "$tmp/tight.head")
check "shipstation window: the 4th is a 429 with Retry-After seconds and Remaining 0" \
	'head -1 "$tmp/tight.head" | grep -q "^HTTP/1.1 429" && tr -d "\r" < "$tmp/tight.head" | grep -Eq "^Retry-After: ([1-5][0-9]|60)$" && tr -d "\r" < "$tmp/tight.head" | grep -q "^X-Rate-Limit-Remaining: 0$"'
check "shipstation window: the 429 has the v2 body, rate_limit_exceeded" \
	'[ "$(echo "$tight_body" | py "d[\"errors\"][0][\"error_code\"]")" = rate_limit_exceeded ]'
check "shipstation window: another key is not affected" '[ "$(sscode $acme /v2/warehouses)" = 200 ]'
check "shipstation window: the refusal is a violation of tight's bucket only" \
	'[ "$(stats "$s2" | py "(d[\"by_bucket\"][\"tight\"][\"violations\"], d[\"by_bucket\"][\"acme\"][\"violations\"], d[\"violations\"])")" = "(1, 0, 1)" ]'
check "shipstation window: an account without an alias counts under key-<8 hex of its sha256>" \
	'sscode sekrit-ss-hashed /v2/warehouses >/dev/null && [ "$(stats "$s2" | py "d[\"by_bucket\"][\"key-$(printf %s sekrit-ss-hashed | sha256sum | cut -c1-8)\"][\"requests\"]")" = 1 ]'

# Changes between reads.
changed=$(curl -s -X POST -d '{"account":"acme","resource":"products","change":3,"remove":2,"add":1}' "$s2/_control/change")
check "shipstation change: says which rows (lowest changed, highest removed, new appended)" \
	'[ "$(echo "$changed" | py "([r[\"sku\"] for r in d[\"changed\"]], [r[\"sku\"] for r in d[\"removed\"]], [r[\"sku\"] for r in d[\"added\"]], d[\"total\"])")" = "(['"'SKU-000001', 'SKU-000002', 'SKU-000003'], ['SKU-000022', 'SKU-000023'], ['SKU-000024'"'], 22)" ]'
after=$(ssget $acme "/v2/products?page_size=100")
check "shipstation change: the next read shows them (names changed, rows gone, row added)" \
	'[ "$(echo "$after" | py "(d[\"total\"], [r[\"sku\"][-2:] for r in d[\"products\"]][-3:], d[\"products\"][0][\"name\"], d[\"products\"][3][\"name\"])")" = "(22, ['"'20', '21', '24'], 'Product 1 (rev 1)', 'Product 4'"')" ]'
check "shipstation change: a changed product keeps its ids and gets a later modify_date" \
	'[ "$(echo "$after" | py "(d[\"products\"][0][\"product_id\"], d[\"products\"][0][\"modify_date\"] > d[\"products\"][0][\"create_date\"])")" = "(10000001, True)" ]'
check "shipstation change: the answer's rows are what the API now serves" \
	'[ "$(echo "$changed" | py "json.dumps(d[\"changed\"] + d[\"added\"], sort_keys=True)")" = "$(echo "$after" | py "json.dumps([r for r in d[\"products\"] if r[\"sku\"] in (\"SKU-000001\", \"SKU-000002\", \"SKU-000003\", \"SKU-000024\")], sort_keys=True)")" ]'
inv_changed=$(curl -s -X POST -d '{"account":"acme","resource":"inventory","change":[2]}' "$s2/_control/change")
check "shipstation change: an inventory row changed by index moves on_hand and available" \
	'[ "$(echo "$inv_changed" | py "[(r[\"sku\"], r[\"on_hand\"] - o[\"on_hand\"], r[\"available\"] - o[\"available\"]) for r, o in zip(d[\"changed\"], [x for x in json.load(open(\"$tmp/inv.json\"))[\"inventory\"] if x[\"sku\"] == \"SKU-000002\"])]")" = "[('"'SKU-000002'"', 7, 7)]" ]'
check "shipstation change: unknown account, resource or a removed index is a 400" \
	'[ "$(code -X POST -d "{\"account\":\"nope\",\"resource\":\"products\"}" "$s2/_control/change") $(code -X POST -d "{\"account\":\"acme\",\"resource\":\"orders\"}" "$s2/_control/change") $(code -X POST -d "{\"account\":\"acme\",\"resource\":\"products\",\"remove\":[22]}" "$s2/_control/change")" = "400 400 400" ]'
check "shipstation /_control/rows lists what the API serves" \
	'[ "$(curl -s "$s2/_control/rows?account=acme&resource=products" | py "json.dumps(d[\"products\"])")" = "$(echo "$after" | py "json.dumps(d[\"products\"])")" ]'

# Accounts created at run time; never a key in the control answers.
check "shipstation /_control/accounts: a new account answers with its key" \
	'[ "$(code -X POST -d "{\"key\":\"sekrit-ss-new\",\"alias\":\"new\",\"products\":4}" "$s2/_control/accounts")" = 200 ] && [ "$(ssget sekrit-ss-new /v2/products | py "d[\"total\"]")" = 4 ]'
check "shipstation /_control/accounts: a taken key or alias, or an unknown field, is a 400" \
	'[ "$(code -X POST -d "{\"key\":\"sekrit-ss-new\"}" "$s2/_control/accounts") $(code -X POST -d "{\"key\":\"x\",\"alias\":\"acme\"}" "$s2/_control/accounts") $(code -X POST -d "{\"key\":\"y\",\"size\":1}" "$s2/_control/accounts")" = "400 400 400" ]'
check "shipstation /_control/accounts: lists aliases, buckets and row counts, never keys" \
	'accts=$(curl -s "$s2/_control/accounts") && [ "$(echo "$accts" | py "[(a[\"alias\"], a[\"rows\"][\"products\"]) for a in d[\"accounts\"]][:2]")" = "[('"'acme', 22), ('noinv', 3)"']" ] && ! echo "$accts" | grep -q sekrit'
check "shipstation: a bad --account stops the fake with an error" \
	'timeout 20 "$here/shipstation.py" --port 0 --account "{\"products\":1}" 2>/dev/null; [ $? = 2 ]'

# Faults per account.
fault "$s2" '{"kind":"status","status":503,"match":"/v2/products","account":"acme"}'
check "shipstation fault: another account passes an account's fault by" '[ "$(sscode sekrit-ss-noinv /v2/products)" = 200 ]'
check "shipstation fault: fires on its account" '[ "$(sscode $acme /v2/products)" = 503 ] && [ "$(stats "$s2" | py "d[\"faults_pending\"]")" = 0 ]'
fault "$s2" '{"kind":"truncated","match":"/v2/inventory","account":"acme"}'
check "shipstation fault: truncated JSON (curl sees a short body)" \
	'ssget $acme /v2/inventory -o /dev/null; [ $? = 18 ]'
fault "$s2" '{"kind":"reset","match":"/v2/products","account":"acme","query":{"page":"2"}}'
check "shipstation fault: reset mid-body on page 2 only" \
	'[ "$(sscode $acme "/v2/products?page_size=5")" = 200 ] && { ssget $acme "/v2/products?page_size=5&page=2" -o /dev/null; [ $? = 56 ]; }'
check "shipstation fault: an account that is not a string is a 400" \
	'[ "$(code -X POST -d "{\"kind\":\"status\",\"account\":1}" "$s2/_control/fault")" = 400 ]'

# Latency without serialising: 8 concurrent requests of the 0.3 s account. Held one after
# another they would span >= 2.4 s; overlapping, all arrive before the first finishes and
# the whole burst takes about one latency (1.5 s leaves room for a loaded machine).
curl -s -Z --parallel-immediate --parallel-max 8 -H "api-key: sekrit-ss-slow" \
	$(for i in 1 2 3 4 5 6 7 8; do echo "-o /dev/null $s2/v2/products?page_size=$i"; done) 2>/dev/null
for i in $(seq 100); do
	[ "$(stats "$s2" | py 'd["in_progress"]')" = 0 ] && break
	sleep 0.05
done
check "shipstation latency: concurrent requests overlap (each held >= 0.3 s, all arrived before the first finished, burst < 1.5 s)" \
	'grep "\"bucket\": \"slow\"" "$tmp/ssv2.log" | python3 -c "import json, sys; e = [json.loads(l) for l in sys.stdin]; sys.exit(not (len(e) == 8 and min(x[\"dur\"] for x in e) >= 0.3 and max(x[\"t\"] for x in e) < min(x[\"finish\"] for x in e) and max(x[\"finish\"] for x in e) - min(x[\"t\"] for x in e) < 1.5))"'
check "shipstation log: page, finish and bucket on every line; page 1 when not asked" \
	'grep "\"path\": \"/v2/products\"" "$tmp/ssv2.log" | python3 -c "import json, sys; e = [json.loads(l) for l in sys.stdin]; sys.exit(not (all(x[\"finish\"] >= x[\"t\"] and x[\"bucket\"] for x in e) and {x[\"page\"] for x in e} >= {1, 2, 5, 1000}))"'
check "shipstation log: /v2/warehouses lines have page null" \
	'grep "\"path\": \"/v2/warehouses\"" "$tmp/ssv2.log" | head -1 | grep -q "\"page\": null"'
check "shipstation log and stats: never an api key" '! grep -q sekrit "$tmp/ssv2.log" && ! stats "$s2" | grep -q sekrit'

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
for name in pre spacing window cv cvwin ss cld conv bspace lnull labs cldf cldlim ssv2 ssabs; do
	stop "$name"
	rc=$?
	check "$name exits 0 on SIGTERM" '[ $rc = 0 ]'
done
pids=()

echo "1..$tests"
[ "$failures" = 0 ]
