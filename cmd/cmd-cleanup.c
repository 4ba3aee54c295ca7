#include "cleanup.h"
#include "commands.h"
#include "options.h"

const char usage_cleanup[] =
	"usage: jobrun cleanup [--dry-run] [--retention free=5d,premium=30d] [--limit N]\n"
	"                      [--max-runtime D] [--json]\n"
	"\n"
	"Purge trashed items past their plan's retention: their Cloudinary assets first\n"
	"(100 per Admin API call, grouped by resource type), then the items, through\n"
	"the app's binding (jobrun.trash_items, jobrun.trash_assets, jobrun.purge_items;\n"
	"see the README). An item whose asset could not be deleted stays in the trash\n"
	"and is retried next run. The summary is logged, recorded and mailed to\n"
	"ADMIN_EMAIL when anything was processed or failed.\n"
	"\n"
	"  --dry-run          print each item that would go (id, plan, age, assets) and the\n"
	"                     totals; no Cloudinary call, no write\n"
	"  --retention R      retention per plan, e.g. free=5d,premium=30d; '*=D' for every\n"
	"                     other plan (default JOBRUN_RETENTION, else free=5d,premium=30d)\n"
	"  --limit N          at most N Admin API calls this run, retries included (default:\n"
	"                     only the shared hourly budget)\n"
	"\n"
	"Environment: CLOUDINARY_URL (cloudinary://<api_key>:<api_secret>@<cloud_name>,\n"
	"required except with --dry-run), CLOUDINARY_API_URL, CLOUDINARY_HOURLY_LIMIT\n"
	"(default 500), JOBRUN_RETENTION, SMTP_URL, ADMIN_EMAIL, MAIL_FROM.\n";

int cmd_cleanup(int argc, char **argv, struct global_options *g)
{
	struct cleanup_options o = { .limit = 0 };
	bool limit_set = false;
	const struct opt opts[] = {
		OPT_FLAG("dry-run", 'n', &o.dry_run), OPT_STRING("retention", &o.retention_arg),
		{ "limit", 0, OPT_LONG, &o.limit, &limit_set }, OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_cleanup);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_cleanup, "cleanup takes no arguments");
	if (limit_set && o.limit < 1)
		return usage_error(usage_cleanup, "--limit must be at least 1");
	char why[200];
	if (o.retention_arg &&
	    cleanup_retention_parse(o.retention_arg, &o.retention, why, sizeof(why)))
		return usage_error(usage_cleanup, "--retention: %s", why);
	return job_main(&cleanup_job, &o, g);
}
