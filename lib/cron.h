/*
 * Cron expressions as cronie reads them, and their next fire times.
 *
 * Pure: no I/O except reading the zone's tzfile once, in cron_parse()
 * (lib/tz.h says why not TZ + localtime). Times are Unix seconds (UTC).
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* The zone's UTC offset (seconds east) at instant t. */
int cron_offset(const struct cron_expr *e, long long t);
/* Whether the zone keeps one offset (*offset) from `from` on: no DST, no
 * announced change. UTC always does. */
bool cron_fixed_offset(const struct cron_expr *e, long long from, int *offset);

/* The parsed fields, for callers that translate an expression into another
 * scheduler's terms (`schedule --heroku`). Bit v of mask[f] set: value v
 * matches; day-of-week uses 0-6 (Sunday 0). The *_star flags: the field was
 * written starting with '*'. */
enum { CRON_MINUTE, CRON_HOUR, CRON_DOM, CRON_MONTH, CRON_DOW };
struct cron_fields {
	uint64_t mask[5];
	bool dom_star, dow_star, hour_star;
};
void cron_fields(const struct cron_expr *e, struct cron_fields *out);

#endif
