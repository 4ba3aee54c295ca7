/*
 * The run's time budget and stop requests.
 *
 * One question for every work loop: deadline_should_stop(). It becomes true
 * past --max-runtime or after SIGTERM/SIGINT. Loops then start no new request,
 * commit the batch in hand and finish the run as `interrupted`.
 *
 * Sleeps go through deadline_sleep() so a signal or the deadline cuts them
 * short; that is what keeps the stop within 5 seconds.
 */
#ifndef JOBRUN_DEADLINE_H
#define JOBRUN_DEADLINE_H

#include <stdbool.h>

enum stop_reason { STOP_NONE, STOP_DEADLINE, STOP_SIGTERM, STOP_SIGINT };

/* Start the budget now (max_runtime_s <= 0: no deadline) and install the
 * SIGTERM/SIGINT handlers. */
void deadline_start(double max_runtime_s);
bool deadline_should_stop(void);
enum stop_reason deadline_reason(void);
const char *deadline_reason_name(enum stop_reason r); /* "deadline", "sigterm", … */
/* Seconds left before the deadline; a large number when there is none. */
double deadline_remaining(void);
/* Sleep, but wake early on a stop request or the deadline. 0 when the full
 * time passed, -1 when cut short by a stop. */
int deadline_sleep(double seconds);
/* For tests and the clock worker: forget any stop request. */
void deadline_reset(void);

#endif
