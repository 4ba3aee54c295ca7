#include "deadline.h"

#include <math.h>
#include <signal.h>
#include <stddef.h>

#include "clock.h"

static volatile sig_atomic_t signalled; /* the signal number, 0 when none */
static double deadline_at = INFINITY;   /* on the monotonic clock */
static enum stop_reason latched;        /* the first reason seen; STOP_NONE until then */

static void on_signal(int sig)
{
	signalled = sig;
}

static void install(int sig)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a pending nanosleep or poll must return with EINTR so
	 * the stop is noticed at once, not at the end of the wait. */
	sa.sa_flags = 0;
	sigaction(sig, &sa, NULL);
}

void deadline_start(double max_runtime_s)
{
	deadline_at = max_runtime_s > 0 ? clock_mono() + max_runtime_s : INFINITY;
	latched = STOP_NONE;
	install(SIGTERM);
	install(SIGINT);
}

/* Only ever called outside the signal handler: the handler just records the
 * signal, and the first caller to notice it latches it. */
enum stop_reason deadline_reason(void)
{
	if (latched != STOP_NONE)
		return latched;
	if (signalled == SIGTERM)
		latched = STOP_SIGTERM;
	else if (signalled == SIGINT)
		latched = STOP_SIGINT;
	else if (clock_mono() >= deadline_at)
		latched = STOP_DEADLINE;
	return latched;
}

void deadline_passed(void)
{
	if (deadline_reason() == STOP_NONE)
		latched = STOP_DEADLINE;
}

bool deadline_should_stop(void)
{
	return deadline_reason() != STOP_NONE;
}

const char *deadline_reason_name(enum stop_reason r)
{
	switch (r) {
	case STOP_NONE: return "none";
	case STOP_DEADLINE: return "deadline";
	case STOP_SIGTERM: return "sigterm";
	case STOP_SIGINT: return "sigint";
	}
	return "unknown";
}

double deadline_remaining(void)
{
	if (latched == STOP_DEADLINE)
		return 0;
	if (isinf(deadline_at))
		return 1e9;
	double left = deadline_at - clock_mono();
	return left > 0 ? left : 0;
}

/* Sleep in slices so that the deadline and signals arriving between the
 * check and the sleep are both noticed within a fraction of a second. */
int deadline_sleep(double seconds)
{
	double until = clock_mono() + seconds;
	for (;;) {
		if (deadline_should_stop())
			return -1;
		double left = until - clock_mono();
		if (left <= 0)
			return 0;
		double cap = deadline_remaining();
		double slice = left < 0.25 ? left : 0.25;
		if (slice > cap)
			slice = cap;
		clock_sleep(slice);
	}
}

void deadline_reset(void)
{
	signalled = 0;
	deadline_at = INFINITY;
	latched = STOP_NONE;
}
