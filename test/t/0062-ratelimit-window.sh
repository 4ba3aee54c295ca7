#!/bin/bash
# The window is shared state that outlives a run: a second run in the same
# window gets only what is left. The server's own count tightens ours, and a
# ComicVine-style 420 without Retry-After closes the bucket for the window.
. "$(dirname "$0")/lib.sh"
plan 14
db_create
db_migrate
start_fake http httpfake.py --window-limit 10 --window-seconds 60 --min-interval 0.02 \
	--tolerance 0.006 --advertise-headers

pace() { # pace <bucket> <count> [options]: one run, in the foreground
	local bucket=$1 count=$2
	shift 2
	run_jobrun debug-pace --provider fake --bucket "$bucket" --limit 10 --period 60s \
		--spacing 20ms --count "$count" --max-wait 2s "$@" "$HTTP_URL/bucket/$bucket"
	RESULT=$(printf '%s\n' "$OUT" | grep '^{"sent"')
}

pace w 6
is "$RC" 0 "a first run sends its 6"
pace w 10
is "$RC" 3 "a second run in the same window runs out midway (exit 3)"
is "$(json_field "$RESULT" 'd["sent"], d["exhausted"]')" "4 True" "it got only the 4 left"
pace w 1
is "$RC" 75 "a third run finds nothing left and exits 75"
like "$OUT" 'budget exhausted on w \(reopens in ([0-9]+s|1m)\)' "it says when the window reopens"

# Someone else (the same API key elsewhere) used 7 of the window: the first
# answer's X-RateLimit-Remaining tightens our count, so we stop at the limit.
# (The pause keeps these seven apart by more than the stand-in's 20 ms
# spacing: it paces our own requests, it does not wait for anything.)
for i in 1 2 3 4 5 6 7; do fake_get "$HTTP_URL/bucket/t" >/dev/null; sleep 0.03; done
pace t 10 --server-limits
is "$RC" 3 "with the server's count we run out midway"
is "$(json_field "$RESULT" 'd["sent"]')" 3 "and send only the 3 the server had left"
is "$(sql "SELECT window_count FROM jobrun.rate_buckets WHERE bucket = 't'")" 10 "the shared row took the server's count"

# A 420 without Retry-After (ComicVine's hourly limit): the bucket is closed
# for what is left of the window, for every later run too.
fault '{"kind":"ratelimit420","match":"/bucket/c"}'
pace c 5
is "$RC" 75 "a 420 on the first request leaves the run with nothing sent"
# The block ends where the window that request opened ends, however long the
# request took: judged on the row, not on the clock. (The two are read by
# separate statements a moment apart; a second covers that on any machine,
# while the wrong rules are 1 s or a whole window from the 420.)
like "$OUT" 'bucket blocked.*bucket=c seconds=[0-9]+\.' "the 420 blocks the bucket"
is "$(sql "SELECT window_count, abs(extract(epoch FROM blocked_until - (window_start + period))) < 1
	FROM jobrun.rate_buckets WHERE bucket = 'c'")" "1|t" "blocked until the end of the window the 420 fell in"
pace c 1
is "$RC" 75 "the next run is refused at once"

stats=$(fake_get "$HTTP_URL/_control/stats")
is "$(json_field "$stats" 'd["violations"]')" 0 "no spacing or window violation in all of it"
is "$(json_field "$stats" 'd["by_bucket"]["c"]["requests"]')" 1 "after the 420 nothing more reached the server"

done_testing
