#include <stdlib.h>

#include "commands.h"
#include "options.h"
#include "sync.h"

const char usage_sync[] =
	"usage: jobrun sync [--integration ID|NAME]... [--only OP,...] [--dry-run] [--concurrency N]\n"
	"\n"
	"Mirror ShipStation into schema shipstation, for every active integration\n"
	"(shipstation.integrations) or those named. Per integration, under its own lock:\n"
	"phase 1 in order (warehouses, inventory_warehouses, inventory_locations), then\n"
	"phase 2 (products, inventory) at once; one failing operation never stops the\n"
	"others. Every page is one transaction; rows a complete listing no longer has\n"
	"are marked removed_at, never deleted. Each integration's sync writes a row to\n"
	"shipstation.sync_logs. An integration another run holds is skipped.\n"
	"\n"
	"  --integration X    only this integration (id or name); repeatable\n"
	"  --only OP,...      only these operations: warehouses, inventory_warehouses,\n"
	"                     inventory_locations, products, inventory\n"
	"  --dry-run          read everything, write nothing: per operation, how many rows\n"
	"                     it would insert, update and mark removed\n"
	"  --concurrency N    integrations at once (default 10)\n"
	"\n"
	"Exit: 0 every operation succeeded (also: no active integration), 3 some failed,\n"
	"1 none succeeded, 75 every integration was locked by another run.\n"
	"Environment: SHIPSTATION_API_URL (default https://api.shipstation.com; an\n"
	"integration's api_url overrides it), SHIPSTATION_REQUESTS_PER_MINUTE (per key,\n"
	"default 200).\n";

int cmd_sync(int argc, char **argv, struct global_options *g)
{
	struct sync_options o = { .concurrency = SYNC_DEFAULT_CONCURRENCY,
				  .ops = (1u << SYNC_NOPS) - 1 };
	struct opt_strings names = { NULL, 0 };
	const char *only = NULL;
	const struct opt opts[] = {
		OPT_STRINGS("integration", &names), OPT_STRING("only", &only),
		OPT_FLAG("dry-run", 'n', &o.dry_run), OPT_LONG("concurrency", &o.concurrency),
		OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_sync), code;
	char *bad = NULL;
	if (n < 0)
		code = options_exit_code(n);
	else if (n > 0)
		code = usage_error(usage_sync, "sync takes no arguments");
	else if (o.concurrency < 1 || o.concurrency > 100)
		code = usage_error(usage_sync, "--concurrency must be 1 to 100");
	else if (only && sync_ops_parse(only, &o.ops, &bad))
		code = usage_error(usage_sync, "--only: unknown operation '%s' (warehouses, "
				   "inventory_warehouses, inventory_locations, products, inventory)", bad);
	else {
		o.integrations = names.v;
		o.n_integrations = names.n;
		code = job_main(&sync_job, &o, g);
	}
	free(bad);
	free(names.v);
	return code;
}
