/*
 * The job registry. A new job adds its entry here and its command file in
 * cmd/; prune, clock and status find it through this table.
 */
#include <string.h>

#include "cleanup.h"
#include "job.h"
#include "orphans.h"
#include "primecache.h"
#include "prune.h"
#include "sync.h"

const struct job *const job_registry[] = {
	&primecache_job,
	&cleanup_job,
	&orphans_job,
	&prune_job,
	&sync_job,
	NULL,
};

const struct job *job_find(const char *name)
{
	for (const struct job *const *j = job_registry; *j; j++)
		if (!strcmp((*j)->name, name))
			return *j;
	return NULL;
}
