/*
 * prune: delete history older than a cutoff — run records and every
 * history table a registered job declares — in batches, each batch its own
 * transaction, so a long prune never holds locks for long and can stop at
 * any moment.
 */
#ifndef JOBRUN_JOBS_PRUNE_H
#define JOBRUN_JOBS_PRUNE_H

#include <stdbool.h>

#include "job.h"

struct prune_options {
	double older_than_s; /* default 30 days */
	bool dry_run;        /* count only */
	long batch;          /* rows per DELETE */
};

extern const struct job prune_job;

#endif
