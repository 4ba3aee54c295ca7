#include "commands.h"
#include "options.h"
#include "primecache.h"

const char usage_primecache[] =
	"usage: jobrun primecache [--limit N] [--dry-run] [--force-volumes] [--max-runtime D] [--json]\n"
	"\n"
	"Prime the ComicVine cache (schema comicvine) for the volumes the app tracks\n"
	"(comicvine.tracked_volumes), in priority order: missing volumes, expired\n"
	"volumes (most overdue, recent series first), then stale issue lists (series\n"
	"of the last 5 years first). Volumes refresh weekly when the series started\n"
	"in the last 3 years, every 2 weeks at 4-10 years, monthly when older.\n"
	"\n"
	"  --limit N          at most N API requests this run, retries included (default 180)\n"
	"  --dry-run          print the plan; send no request, write nothing to comicvine.*\n"
	"  --force-volumes    also refresh volumes that are in failure backoff\n"
	"\n"
	"Environment: COMICVINE_API_KEY (required), COMICVINE_API_URL, COMICVINE_HOURLY_LIMIT\n"
	"(per API path, default 200), COMICVINE_MIN_INTERVAL (default 1s),\n"
	"COMICVINE_DAILY_LIMIT, COMICVINE_USER_AGENT, COMICVINE_REFRESH_INTERVALS (7d,14d,30d).\n";

int cmd_primecache(int argc, char **argv, struct global_options *g)
{
	struct primecache_options o = { .limit = 180 };
	const struct opt opts[] = {
		OPT_LONG("limit", &o.limit), OPT_FLAG("dry-run", 'n', &o.dry_run),
		OPT_FLAG("force-volumes", 0, &o.force_volumes), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_primecache);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_primecache, "primecache takes no arguments");
	if (o.limit < 1)
		return usage_error(usage_primecache, "--limit must be at least 1");
	return job_main(&primecache_job, &o, g);
}
