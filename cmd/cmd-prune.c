#include "commands.h"
#include "options.h"
#include "prune.h"

const char usage_prune[] =
	"usage: jobrun prune [--older-than D] [--dry-run] [--batch N]\n"
	"\n"
	"Delete finished run records, and the history every job keeps, older than D\n"
	"(default 30d), in batches of N (default 1000), each batch its own\n"
	"transaction, so a long prune never holds locks for long and can be stopped\n"
	"at any time.\n"
	"\n"
	"  --dry-run   count what would be deleted, delete nothing\n";

int cmd_prune(int argc, char **argv, struct global_options *g)
{
	struct prune_options o = { .older_than_s = 30 * 86400.0, .batch = 1000 };
	const struct opt opts[] = {
		OPT_DURATION("older-than", &o.older_than_s), OPT_FLAG("dry-run", 'n', &o.dry_run),
		OPT_LONG("batch", &o.batch), OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_prune);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_prune, "prune takes no arguments");
	if (o.batch < 1)
		return usage_error(usage_prune, "--batch must be at least 1");
	return job_main(&prune_job, &o, g);
}
