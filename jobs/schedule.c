/* The schedule file: stub until the implementation lands. */
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "schedule.h"
#include "xalloc.h"

int schedule_load(const char *path, struct schedule *out)
{
	*out = (struct schedule){ 0 };
	return config_error("%s: schedule files are not implemented yet", path);
}

void schedule_release(struct schedule *s) { *s = (struct schedule){ 0 }; }

const char *schedule_path(void)
{
	const char *p = config_get("JOBRUN_SCHEDULE");
	return p ? p : "jobrun.cron";
}

const struct schedule_entry *schedule_find(const struct schedule *s, const char *name)
{
	(void)s, (void)name;
	return NULL;
}

char *schedule_derived_name(int argc, char *const *argv)
{
	(void)argc;
	return xstrdup(argv[0]);
}
