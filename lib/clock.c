#include "clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

static const struct clock_source *override;

double clock_mono(void)
{
	if (override)
		return override->mono(override->ctx);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	if (override)
		return override->wall(override->ctx);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One nanosleep: a signal interrupts it (handlers are installed without
 * SA_RESTART), which is what lets a stop request cut a wait short. */
void clock_sleep(double seconds)
{
	if (override) {
		override->sleep(override->ctx, seconds);
		return;
	}
	if (!(seconds > 0))
		return;
	struct timespec ts;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - floor(seconds)) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	nanosleep(&ts, NULL);
}

void clock_override(const struct clock_source *src)
{
	override = src;
}
