/*
 * sync: mirror every active ShipStation integration into schema
 * shipstation. Per integration, under its own lock: phase 1 in order
 * (warehouses, inventory_warehouses, inventory_locations), then phase 2
 * (products and inventory) as two streams at once; several integrations at
 * once, all on one http_pool. One failing operation never stops the others.
 * Every page is one transaction; rows a complete listing no longer has are
 * marked removed; each integration's sync writes a sync_logs row.
 */
#ifndef JOBRUN_JOBS_SYNC_H
#define JOBRUN_JOBS_SYNC_H

#include <stdbool.h>

#include "job.h"
#include "shipstation.h"

enum sync_op_id {
	SYNC_WAREHOUSES,
	SYNC_INVENTORY_WAREHOUSES,
	SYNC_INVENTORY_LOCATIONS,
	SYNC_PRODUCTS,
	SYNC_INVENTORY,
	SYNC_NOPS,
};

#define SYNC_DEFAULT_CONCURRENCY 10

struct sync_options {
	const char **integrations; /* ids or names (borrowed strings); none: every active one */
	int n_integrations;
	unsigned ops;              /* bit (1 << enum sync_op_id) per operation to run */
	bool dry_run;              /* GET only; write nothing, count what would change */
	long concurrency;          /* integrations at once */
	struct shipstation_config ss; /* read by the job's prepare step */
};

extern const struct job sync_job;

/* "products" → SYNC_PRODUCTS; -1 when unknown. */
int sync_op_parse(const char *name);
const char *sync_op_name(enum sync_op_id op);
/* "warehouses,products" → a mask of sync_options.ops; -1 naming the first
 * unknown operation in *bad (a pointer into a copy the caller frees). */
int sync_ops_parse(const char *list, unsigned *mask, char **bad);

#endif
