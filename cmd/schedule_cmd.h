/*
 * What the schedule's commands share (cmd-clock.c, cmd-tick.c,
 * cmd-status.c and the pause/resume/run half of cmd-schedule.c): loading
 * the schedule file and running the clock worker.
 */
#ifndef JOBRUN_CMD_SCHEDULE_CMD_H
#define JOBRUN_CMD_SCHEDULE_CMD_H

#include "commands.h"

struct clock_options;
struct schedule;

/* Load JOBRUN_SCHEDULE (default jobrun.cron); 0, or the exit code (78 for a
 * bad file, which schedule_load reported with its line). */
int schedule_cmd_load(struct schedule *s);
/* Run the clock or a tick; returns the exit code (documented with each). */
int schedule_cmd_clock(const struct clock_options *o);
/* pause NAME, resume NAME, run NAME: argv[0] is the verb. */
int schedule_cmd_verb(int argc, char **argv, const char *usage);

#endif
