/*
 * Late and missed entries, told through lib/notify: after each pass of the
 * clock or the tick, and on `jobrun status --notify`, every entry's state is
 * handed to notify_entry_state(), which opens one alert per problem across
 * processes and sends the recovery when the entry runs again.
 *
 * Ownership: everything is borrowed for the call.
 */
#ifndef JOBRUN_JOBS_SCHEDULE_NOTIFY_H
#define JOBRUN_JOBS_SCHEDULE_NOTIFY_H

struct db;
struct notify;
struct schedule;

/* Every entry's state at `now` (Unix seconds), told to notify. Returns the
 * number of messages sent, or -1 when the database could not be read
 * (reported; the caller carries on). */
int schedule_notify_pass(const struct schedule *s, struct db *db, const struct notify *n,
			 long long now);

#endif
