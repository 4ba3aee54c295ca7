#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "commands.h"
#include "options.h"
#include "orphans.h"

const char usage_orphans[] =
	"usage: jobrun orphans [--days N] [--types image,video,raw] [--min-age D] [--report-dir DIR]\n"
	"                      [--delete] [--max-delete N] [--max-orphan-ratio R] [--dry-run]\n"
	"                      [--limit N] [--max-runtime D] [--json]\n"
	"\n"
	"Find the Cloudinary files (delivery type upload) that no row of the app references\n"
	"(the view jobrun.asset_refs), through the Search API, 500 per Admin API call, and\n"
	"keep the findings in jobrun.orphans. Writes <report-dir>/orphaned_files_<UTC>.csv\n"
	"and mails it to ADMIN_EMAIL when there are orphans. A scan cut short (--limit, the\n"
	"hourly budget, --max-runtime) resumes in the next run from where it stopped.\n"
	"\n"
	"  --days N              uploads of the last N days (default 7; 0: all)\n"
	"  --types LIST          resource types to scan (default image,video,raw)\n"
	"  --min-age D           unreferenced files younger than D are not orphans yet\n"
	"                        (default 1h: an upload can precede its row's commit)\n"
	"  --report-dir DIR      where the CSV goes (default JOBRUN_REPORT_DIR, else reports)\n"
	"  --delete              delete orphans older than --min-age, each re-checked against\n"
	"                        jobrun.asset_refs right before its delete call\n"
	"  --max-delete N        at most N deletions per run (default 100)\n"
	"  --max-orphan-ratio R  --delete deletes nothing (exit 3) when more than R of the\n"
	"                        scanned files look orphaned (default 0.1: a broken binding\n"
	"                        makes everything look orphaned)\n"
	"  --dry-run             list and judge, write nothing (no findings, no report, no\n"
	"                        mail, no delete); with --delete, print what it would delete\n"
	"  --limit N             at most N Admin API calls this run, retries included\n"
	"\n"
	"Environment: CLOUDINARY_URL (cloudinary://<api_key>:<api_secret>@<cloud_name>),\n"
	"CLOUDINARY_API_URL, CLOUDINARY_HOURLY_LIMIT (default 500), JOBRUN_REPORT_DIR, and\n"
	"for mail SMTP_URL, ADMIN_EMAIL, MAIL_FROM.\n";

static int parse_ratio(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

int cmd_orphans(int argc, char **argv, struct global_options *g)
{
	struct orphans_options o = { .days = 7, .min_age_s = 3600, .max_delete = 100,
				     .max_orphan_ratio = 0.10 };
	const char *ratio = NULL;
	const struct opt opts[] = {
		OPT_LONG("days", &o.days), OPT_STRING("types", &o.types_arg),
		OPT_DURATION("min-age", &o.min_age_s), OPT_STRING("report-dir", &o.report_dir),
		OPT_FLAG("delete", 0, &o.delete), OPT_LONG("max-delete", &o.max_delete),
		OPT_STRING("max-orphan-ratio", &ratio), OPT_FLAG("dry-run", 'n', &o.dry_run),
		OPT_LONG("limit", &o.limit), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_orphans);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_orphans, "orphans takes no arguments");
	char why[128];
	if (orphans_parse_types(o.types_arg ? o.types_arg : "image,video,raw", o.types, why,
				sizeof(why)))
		return usage_error(usage_orphans, "--types: %s", why);
	if (o.days > 36500)
		return usage_error(usage_orphans, "--days must be at most 36500 (0: all)");
	if (o.max_delete < 1)
		return usage_error(usage_orphans, "--max-delete must be at least 1");
	if (ratio && parse_ratio(ratio, &o.max_orphan_ratio))
		return usage_error(usage_orphans, "--max-orphan-ratio must be a number from 0 to 1, "
				   "got '%s'", ratio);
	if (o.report_dir && !*o.report_dir)
		return usage_error(usage_orphans, "--report-dir must not be empty");
	return job_main(&orphans_job, &o, g);
}
