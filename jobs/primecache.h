/*
 * primecache: keep the ComicVine cache (schema comicvine) fresh, spending
 * every request where it matters most: missing volumes, then expired ones,
 * then stale issue lists.
 */
#ifndef JOBRUN_JOBS_PRIMECACHE_H
#define JOBRUN_JOBS_PRIMECACHE_H

#include <stdbool.h>

#include "comicvine.h"
#include "job.h"
#include "runs.h"

struct task;

struct primecache_options {
	long limit;          /* API requests this run, every attempt counted */
	bool dry_run;        /* plan only: no request, no write to comicvine.* */
	bool force_volumes;  /* also volumes in failure backoff */
	struct comicvine_config cv; /* read by the job's prepare step */
};

extern const struct job primecache_job;

/* Run inside a started task. Takes ownership of cfg's contents. Sets the
 * run's counters and summary; returns the status to record. A bad API key
 * is reported with config_error() (exit 78). */
enum run_status primecache_run(struct task *t, const struct primecache_options *opt,
			       struct comicvine_config *cfg);

#endif
