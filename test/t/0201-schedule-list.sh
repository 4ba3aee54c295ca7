#!/bin/bash
# jobrun schedule --from --count [--json]: the next fire times, in UTC and
# in each entry's zone, across New York's spring-forward and fall-back.
. "$(dirname "$0")/lib.sh"
plan 17

F="$T_TMP/jobrun.cron"
export JOBRUN_SCHEDULE="$F"
cat >"$F" <<'C'
0 2 * * * jobrun primecache --limit 180
CRON_TZ=America/New_York
# jobrun: name=ny-night
30 2 * * * jobrun prune
# jobrun: name=ny-hourly
30 * * * * jobrun prune --older-than 7d
C

# Spring forward: 2025-03-09 02:00 EST -> 03:00 EDT (07:00Z).
run_jobrun schedule --from 2025-03-09T05:00:00Z --count 3
is "$RC" 0 "schedule exits 0"
like "$OUT" "^$F: 3 entries, next 3 fire times after 2025-03-09T05:00:00Z" "a header with the file and the start"
like "$OUT" "primecache  \(line 1\)" "entries are listed with their line"
like "$OUT" "    2025-03-10T02:00:00Z  2025-03-10T02:00:00\+00:00" "UTC entries in UTC"
# 02:30 does not exist on March 9: once, at the first instant after the gap.
# (`like` is grep: a multi-line pattern would match any one line; compare blocks.)
block() { printf '%s\n' "$OUT" | grep -A"$2" "^$1  "; }
is "$(block ny-night 3)" "ny-night  (line 4)
  30 2 * * *  America/New_York  jobrun prune
    2025-03-09T07:00:00Z  2025-03-09T03:00:00-04:00
    2025-03-10T06:30:00Z  2025-03-10T02:30:00-04:00" "a fixed time in the gap fires once, at 03:00 EDT"
# The wildcard hour follows the clock: no 02:30.
is "$(block ny-hourly 4)" "ny-hourly  (line 6)
  30 * * * *  America/New_York  jobrun prune --older-than 7d
    2025-03-09T05:30:00Z  2025-03-09T00:30:00-05:00
    2025-03-09T06:30:00Z  2025-03-09T01:30:00-05:00
    2025-03-09T07:30:00Z  2025-03-09T03:30:00-04:00" "a wildcard hour skips the missing hour"

# Fall back: 2025-11-02 02:00 EDT -> 01:00 EST (06:00Z).
run_jobrun schedule --from 2025-11-02T04:00:00Z --count 4 --json
is "$RC" 0 "--json exits 0"
is "$(jf 'd["from"]')" "2025-11-02T04:00:00Z" "--json: the start"
is "$(jf '[e["name"] for e in d["entries"]]')" "['primecache', 'ny-night', 'ny-hourly']" "--json: every entry, in file order"
is "$(jf '[n["local"] for n in d["entries"][1]["next"]][:2]')" \
	"['2025-11-02T02:30:00-05:00', '2025-11-03T02:30:00-05:00']" "--json: local times with their offset"
is "$(jf '[n["utc"] for n in d["entries"][2]["next"]]')" \
	"['2025-11-02T04:30:00Z', '2025-11-02T05:30:00Z', '2025-11-02T06:30:00Z', '2025-11-02T07:30:00Z']" \
	"a wildcard hour fires in both passes of the repeated 01:30"
is "$(jf 'd["entries"][1]["zone"], d["entries"][1]["schedule"], d["entries"][1]["argv"]')" \
	"America/New_York 30 2 * * * ['prune']" "--json: zone, schedule as written, argv"

run_jobrun schedule --from yesterday
is "$RC" 64 "a malformed --from is a usage error"
like "$ERR" "--from: 'yesterday' is not an RFC 3339 time" "it says what it wants"
run_jobrun schedule --count 0
is "$RC" 64 "--count 0 is a usage error"
run_jobrun schedule frobnicate
is "$RC" 64 "an unknown subcommand is a usage error"

run_jobrun schedule --from 2025-06-01T12:00:00+02:00 --count 1 --json
is "$(jf 'd["from"], d["entries"][0]["next"][0]["utc"]')" "2025-06-01T10:00:00Z 2025-06-02T02:00:00Z" \
	"--from takes an offset"

done_testing
