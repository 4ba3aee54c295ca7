#!/bin/bash
# The command line: help, version, usage errors and their exit codes.
. "$(dirname "$0")/lib.sh"
plan 26

run_jobrun --help
is "$RC" 0 "--help exits 0"
like "$OUT" "migrate +apply the database schema" "--help lists commands with a summary"
like "$OUT" "primecache" "--help lists primecache"
like "$OUT" "--max-runtime" "--help lists the global options"
like "$OUT" "75 +skipped" "--help documents exit codes"
unlike "$OUT" "debug-" "--help hides test commands"

# The test commands are in the test helper (test/helper/test-tool.c), not
# in what ships: TEST_TOOL=$JOBRUN sends debug-work to jobrun itself.
TEST_TOOL=$JOBRUN run_jobrun debug-work --items 1 --item-time 1ms
is "$RC" 64 "jobrun debug-work: not a command of the shipped binary (64)"
like "$ERR" "'debug-work' is not a jobrun command" "it says so"
JOBRUN=$TEST_TOOL run_jobrun --help
is "$RC" 0 "test-tool --help exits 0"
is "$(printf '%s\n' "$OUT" | grep -Ec '^  debug-(http|pace|work) ')" 3 "test-tool --help lists its commands"

run_jobrun --version
like "$OUT" "^jobrun [0-9]+\.[0-9]+\.[0-9]+" "--version prints the version"

run_jobrun help runs
like "$OUT" "^usage: jobrun runs" "help CMD shows the command's usage"
run_jobrun runs --help
like "$OUT" "^usage: jobrun runs" "CMD --help shows the command's usage"
is "$RC" 0 "CMD --help exits 0"

run_jobrun migrat
is "$RC" 64 "an unknown command exits 64"
like "$ERR" "'migrat' is not a jobrun command" "the error names the unknown command"
like "$ERR" "most similar command is.*" "a close command is suggested"
like "$ERR" "migrate" "the suggestion is migrate"

run_jobrun runs --limt 5
is "$RC" 64 "an unknown option exits 64"
like "$ERR" "did you mean '--limit'" "a close option is suggested"

run_jobrun runs --limit many
is "$RC" 64 "a malformed number exits 64"
like "$ERR" "--limit: expected a whole number" "the error names the option"

run_jobrun prune --older-than 3 weeks
is "$RC" 64 "a stray argument exits 64"

JOBRUN_LOG_LEVEL=chatty run_jobrun runs
is "$RC" 78 "a bad JOBRUN_LOG_LEVEL is a configuration error (78)"
like "$ERR$OUT" "JOBRUN_LOG_LEVEL" "the error names the variable"

(unset DATABASE_URL PGHOST PGDATABASE; run_jobrun runs; echo "$RC" >"$T_TMP/rc")
is "$(cat "$T_TMP/rc")" 78 "no DATABASE_URL is a configuration error (78)"

done_testing
