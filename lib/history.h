/*
 * History tables that `prune` trims: run records, and whatever a job keeps
 * of its own (sync logs, orphan findings). The module that owns a table
 * describes it here; prune only walks the descriptions.
 */
#ifndef JOBRUN_HISTORY_H
#define JOBRUN_HISTORY_H

struct history_table {
	const char *name;       /* summary key, e.g. "runs" */
	/* $1: age cutoff in seconds. One row: how many rows are older. */
	const char *count_sql;
	/* $1: cutoff, $2: batch size, $3: the pruning run's own id (never
	 * deleted). Deletes at most one batch; prune repeats it. */
	const char *delete_sql;
};

#endif
