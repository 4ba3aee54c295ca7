/*
 * Time zones read from the system's tzfiles (TZif, RFC 8536), for cron.
 *
 * Why not setenv("TZ") + localtime_r/mktime: cron needs to know exactly
 * where the gaps and overlaps are (DST rules), mktime() answers a wall time
 * in a gap by guessing, and flipping TZ under a running process changes what
 * every other localtime() caller sees. A zone here is read once; lookups are
 * pure functions of its data, cheap and reentrant.
 *
 * Ownership: tz_load() returns a zone the caller frees with tz_free().
 */
#ifndef JOBRUN_TZ_H
#define JOBRUN_TZ_H

#include <stddef.h>

struct tz_zone;

/* A run of instants with one UTC offset: [start, end), in Unix seconds.
 * start is TZ_BEGIN when nothing came before, end TZ_END when nothing comes
 * after. Offsets are seconds east of UTC; prev_off/next_off are the offsets
 * before start and from end on (equal to off at the ends of time). */
#define TZ_BEGIN (-(1LL << 62))
#define TZ_END (1LL << 62)
struct tz_span {
	long long start, end;
	int off, prev_off, next_off;
};

/* name: an IANA zone ("Europe/Berlin"); "UTC" needs no file. Files come
 * from $TZDIR or /usr/share/zoneinfo. NULL, with err saying why, for a
 * malformed name, a missing or unreadable file, or one with leap seconds. */
struct tz_zone *tz_load(const char *name, char *err, size_t errlen);
void tz_free(struct tz_zone *z);
const char *tz_name(const struct tz_zone *z);
void tz_span_at(const struct tz_zone *z, long long t, struct tz_span *out);
int tz_offset(const struct tz_zone *z, long long t);

/* RFC 3339: "2024-03-10T02:00:00Z", "2024-03-09T21:00:00-05:00" (seconds
 * and fractions optional, fractions dropped). 0, or -1 when malformed. */
int tz_parse_rfc3339(const char *s, long long *out);
/* t at UTC offset `off` as RFC 3339: "…Z" when off is 0 and utc_z is set,
 * else "…+01:00". out >= 32 bytes. */
void tz_format_rfc3339(long long t, int off, int utc_z, char *out, size_t outlen);

/* Proleptic Gregorian calendar helpers (days since 1970-01-01). */
long long tz_days_from_civil(long long y, int m, int d);
void tz_civil_from_days(long long days, long long *y, int *m, int *d);

#endif
