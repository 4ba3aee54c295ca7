/*
 * Cron expressions as cronie reads them, and their next fire times.
 *
 * Pure: no I/O except reading the zone's tzfile once, at parse time.
 * Times are Unix seconds (UTC).
 *
 *	char err[128];
 *	struct cron_expr *e = cron_parse("0 2 * * *", "Europe/Berlin", err, sizeof(err));
 *	long long t = cron_next(e, now);	// first fire time after now
 *	cron_free(e);
 *
 * Ownership: cron_parse() returns a new expression the caller frees with
 * cron_free(); the strings cron_spec() and cron_zone() return belong to it.
 */
#ifndef JOBRUN_CRON_H
#define JOBRUN_CRON_H

#include <stddef.h>

struct cron_expr; /* opaque, owned by the caller */

/* spec: the five fields or an @keyword; tz: an IANA zone ("UTC" when NULL).
 * NULL, with err naming the field and why, on any error (range, a step of 0,
 * reversed range, unknown name, an impossible date like 0 0 30 2 *, an unknown
 * zone). */
struct cron_expr *cron_parse(const char *spec, const char *tz, char *err, size_t errlen);
void cron_free(struct cron_expr *e);
/* The first fire time strictly after `after`; -1 when there is none. */
long long cron_next(const struct cron_expr *e, long long after);
/* As written. */
const char *cron_spec(const struct cron_expr *e);
const char *cron_zone(const struct cron_expr *e);

#endif
