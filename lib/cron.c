/* Cron expressions: stub until the implementation lands. */
#include <stdio.h>

#include "cron.h"

struct cron_expr *cron_parse(const char *spec, const char *tz, char *err, size_t errlen)
{
	(void)spec, (void)tz;
	snprintf(err, errlen, "cron expressions are not implemented yet");
	return NULL;
}

void cron_free(struct cron_expr *e) { (void)e; }
long long cron_next(const struct cron_expr *e, long long after) { (void)e, (void)after; return -1; }
const char *cron_spec(const struct cron_expr *e) { (void)e; return ""; }
const char *cron_zone(const struct cron_expr *e) { (void)e; return "UTC"; }
