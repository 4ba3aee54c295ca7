/*
 * The run's time budget and stop requests.
 *
 * One question for every work loop: deadline_should_stop(). It becomes true
 * past --max-runtime or after SIGTERM/SIGINT. Loops then start no new request,
 * commit the batch in hand and finish the run as `interrupted`.
 *
 * Sleeps go through deadline_sleep() so a signal or the deadline cuts them
 * short; that is what keeps the stop within 5 seconds.
 *
 * The reason is latched: once any layer has seen the deadline pass (or a
 * signal arrive), deadline_reason() answers that for the rest of the run, so
 * every layer of one run tells the same story ("stopped (deadline)", the
 * same status and exit code) however their clock readings interleave.
 */
#ifndef JOBRUN_DEADLINE_H
#define JOBRUN_DEADLINE_H

#include <stdbool.h>

enum stop_reason { STOP_NONE, STOP_DEADLINE, STOP_SIGTERM, STOP_SIGINT };

/* Start the budget now (max_runtime_s <= 0: no deadline) and install the
 * SIGTERM/SIGINT handlers. */
void deadline_start(double max_runtime_s);
bool deadline_should_stop(void);
/* The first reason seen (latched), or STOP_NONE. */
enum stop_reason deadline_reason(void);
/* A layer concluded by cause that the deadline has passed (an attempt whose
 * timeout was clipped to the deadline timed out): latch STOP_DEADLINE even if
 * the clock still reads a fraction of a millisecond before it. No effect when
 * a reason is latched already. */
void deadline_passed(void);
const char *deadline_reason_name(enum stop_reason r); /* "deadline", "sigterm", … */
/* Seconds left before the deadline; a large number when there is none. */
double deadline_remaining(void);
/* Sleep, but wake early on a stop request or the deadline. 0 when the full
 * time passed, -1 when cut short by a stop. */
int deadline_sleep(double seconds);
/* For tests and the clock worker: forget any stop request and the deadline. */
void deadline_reset(void);

#endif
