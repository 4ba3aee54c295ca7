/*
 * The schedule file (JOBRUN_SCHEDULE, default jobrun.cron): a crontab whose
 * commands are jobrun command lines.
 *
 * Ownership: schedule_load() fills a struct schedule that owns every entry,
 * string and expression in it; schedule_release() frees them all. Entries'
 * `job` pointers point into the static registry.
 */
#ifndef JOBRUN_JOBS_SCHEDULE_H
#define JOBRUN_JOBS_SCHEDULE_H

#include <stddef.h>

#include "cron.h"
#include "job.h"

/* Misfire grace when an entry does not give its own. */
#define SCHEDULE_DEFAULT_GRACE_S (15 * 60.0)

struct schedule_entry {
	char *name;    /* stable name (explicit or derived from the command line) */
	int line;      /* 1-based line in the file */
	struct cron_expr *expr;
	char **argv;   /* the jobrun command line without "jobrun": {"primecache","--limit","180",NULL} */
	int argc;
	const struct job *job; /* the registry entry argv[0] names */
	double grace_s;        /* misfire grace, default 900 */
};

struct schedule {
	struct schedule_entry *entries;
	size_t n;
	char *path;
};

/* -1: config_error() naming path:line and why; nothing half-loaded (*out is
 * left empty). */
int schedule_load(const char *path, struct schedule *out);
void schedule_release(struct schedule *s);
/* JOBRUN_SCHEDULE or "jobrun.cron". */
const char *schedule_path(void);
const struct schedule_entry *schedule_find(const struct schedule *s, const char *name);
/* The name a run of this command line has when nobody named it (status
 * matches runs started by hand or by Heroku Scheduler to entries with it):
 * pure, deterministic. A new string the caller frees. */
char *schedule_derived_name(int argc, char *const *argv);

#endif
