/*
 * The clock and the tick: passes over the schedule that claim due slots in
 * Postgres (jobs/schedule_state) and run each slot this process owns as a
 * child process, `jobrun <the entry's command line>` (like a one-off dyno),
 * with JOBRUN_ENTRY and JOBRUN_SLOT in its environment. A child's output
 * goes straight to the clock's stdout/stderr; a crash in a child ends only
 * that child. Its exit becomes the slot's record.
 *
 * The clock sleeps until the next due time (at most HEARTBEAT_S, so a jump
 * of the wall clock is noticed), woken early by a child's exit or a stop
 * signal through a self-pipe, so it neither polls nor misses a signal that
 * lands just before it sleeps. On SIGTERM or SIGINT it starts nothing more,
 * forwards the signal to its children, waits up to stop_timeout_s for them
 * (then SIGKILLs the rest) and returns.
 *
 * One process, one thread; the signal handlers chain to lib/deadline's, so
 * database waits see the stop as in any run.
 *
 * Ownership: the schedule is borrowed for the call; the hooks are borrowed
 * until replaced.
 */
#ifndef JOBRUN_JOBS_CLOCK_WORKER_H
#define JOBRUN_JOBS_CLOCK_WORKER_H

#include <stdbool.h>

struct notify;
struct schedule;
struct schedule_entry;

/* The longest the clock sleeps between looks at the wall clock. */
#define CLOCK_HEARTBEAT_S 60.0
/* What Heroku allows between SIGTERM and SIGKILL is 30 s: leave room. */
#define CLOCK_DEFAULT_STOP_TIMEOUT_S 25.0
/* jobrun's "skipped: another instance holds the lock" (cmd/commands.h). */
#define CLOCK_EXIT_SKIPPED 75

/* How children are started and how fast the wall clock runs. Defaults:
 * this very binary, real time. The test helper (test-tool debug-clock)
 * installs an accelerated lib/clock and says so here, so the clock's
 * sleeps shrink by the same factor. */
struct clock_hooks {
	const char *exe; /* the jobrun binary children run; NULL: /proc/self/exe */
	double rate;     /* wall seconds per real second; <= 0: 1 */
};
void clock_set_hooks(const struct clock_hooks *h);
/* The binary children run. */
const char *clock_exe(void);

struct clock_options {
	const char *what;      /* "clock" or "tick": logs and who claimed a slot */
	/* tick --entry: only these entries (names the caller checked); the
	 * others are left to whoever else runs them. n_only 0: every entry. */
	const char *const *only;
	int n_only;
	bool once;             /* tick: one pass, wait for its children, return */
	double stop_timeout_s; /* after a stop signal, how long children get */
	const struct notify *notify; /* late/missed alerts after each pass; NULL: none */
};

struct clock_result {
	int started;   /* children started */
	int succeeded; /* exited 0 */
	int partial;   /* exited 3 */
	int skipped;   /* exited 75, or not started: the entry's previous run still runs */
	int failed;    /* anything else, a signal or a failed start included */
	int missed;    /* slots recorded missed */
	int stop_signal; /* SIGTERM or SIGINT when a signal ended it, else 0 */
};

/* Run the clock (or one tick) over the schedule. -1 when it could not start
 * (database unreachable, schema not migrated; reported). */
int clock_run(const struct schedule *s, const struct clock_options *o, struct clock_result *out);

/* `schedule run NAME`: replace this process with the entry's run, as the
 * clock would start it (same lock, run record and entry). Returns only on
 * failure (reported). */
int clock_exec_entry(const struct schedule_entry *e);

#endif
