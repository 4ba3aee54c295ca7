/*
 * Time sources, injectable for tests.
 *
 * Wall time (UTC, seconds since the epoch) is for records and for provider
 * dates; the monotonic clock is for pacing and deadlines, because wall time
 * can jump. Tests install a fake clock whose sleep advances time instantly.
 */
#ifndef JOBRUN_CLOCK_H
#define JOBRUN_CLOCK_H

struct clock_source {
	double (*mono)(void *ctx);
	double (*wall)(void *ctx);
	/* Sleep up to `seconds`; may return early (signals). */
	void (*sleep)(void *ctx, double seconds);
	void *ctx;
};

double clock_mono(void);
double clock_wall(void);
void clock_sleep(double seconds);
/* NULL restores the real clock. The source is borrowed, not copied. */
void clock_override(const struct clock_source *src);

#endif
