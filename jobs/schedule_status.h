/*
 * `jobrun status`: what every schedule entry is doing, from jobrun.runs
 * (whoever started the run: clock, tick, Heroku Scheduler, by hand — matched
 * by the entry's name or the name its command line derives) and the slot
 * records the clock and tick keep.
 *
 * Ownership: facts are plain data; entry_status_json() returns a new object.
 */
#ifndef JOBRUN_JOBS_SCHEDULE_STATUS_H
#define JOBRUN_JOBS_SCHEDULE_STATUS_H

#include <jansson.h>
#include <stdbool.h>

struct db;
struct schedule_entry;

enum entry_state {
	ENTRY_OK,
	ENTRY_RUNNING,
	ENTRY_LATE,    /* a due time + grace passed with no run started and no slot recorded */
	ENTRY_MISSED,  /* its last slot was recorded missed, no run since */
	ENTRY_FAILING, /* its last run failed or was abandoned */
	ENTRY_PAUSED,
	ENTRY_NEVER_RUN,
};

/* A run that starts this long before a due time still counts for it
 * (Heroku Scheduler and people are not exact). */
#define STATUS_EARLY_S 60

struct entry_facts {
	long long prev_due;       /* latest fire time <= now, -1 none */
	long long next_due;       /* first fire time > now, -1 none */
	bool paused;
	bool running;             /* a run of it is in progress, its process alive */
	long long last_id;        /* the latest run (any status), 0 none */
	char last_status[16];     /* "abandoned" for a running row whose process is gone */
	long long last_start;     /* -1 none */
	double last_duration_s;   /* -1 while running */
	long long last_success;   /* start of the latest succeeded run, -1 none */
	char outcome[16];         /* status of the latest run that was not skipped, "" none */
	long long last_slot_due;  /* the latest slot a clock or tick recorded, -1 none */
	long long missed_due;     /* that slot's due when its record is `missed`, else -1 */
};

struct cron_expr;
/* Pure: the state from the facts. */
enum entry_state entry_state_decide(const struct cron_expr *e, const struct entry_facts *f,
				    long long now, double grace_s);
const char *entry_state_name(enum entry_state s);
/* late, missed and failing make `status` exit non-zero. */
bool entry_state_alarming(enum entry_state s);

int entry_facts_read(struct db *db, const struct schedule_entry *e, long long now,
		     struct entry_facts *out);
json_t *entry_status_json(const struct schedule_entry *e, const struct entry_facts *f,
			  enum entry_state s);

#endif
