/*
 * The test helper's commands (test/helper/test-tool.c). They drive the
 * shared machinery without a provider, or against a stand-in, for the
 * end-to-end tests and scripts/bench*; none of them ships in build/jobrun.
 *
 * Each test/helper/cmd-<name>.c is written like a jobrun command (its own
 * argv, parse_options(), an exit code from cmd/commands.h) and links
 * against the same cmd/, jobs/ and lib/ objects as jobrun.
 */
#ifndef JOBRUN_TEST_TOOL_H
#define JOBRUN_TEST_TOOL_H

#include "commands.h"

DECLARE_COMMAND(debug_http);
DECLARE_COMMAND(debug_pace);
DECLARE_COMMAND(debug_provider);
DECLARE_COMMAND(debug_work);
DECLARE_COMMAND(debug_clock);

#endif
