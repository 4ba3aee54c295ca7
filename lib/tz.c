/*
 * TZif reading (RFC 8536) and the POSIX TZ rule in its footer.
 *
 * A zone keeps its transitions as (instant, offset) pairs, with transitions
 * that change only the abbreviation or the DST flag dropped: cron cares
 * about wall time only. Past the last stored transition the footer's rule
 * (e.g. "EST5EDT,M3.2.0,M11.1.0") generates the transitions of any year on
 * demand, so far-future lookups need no table and no allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"
#include "xalloc.h"

/* Real tzfiles are a few KB; anything this big is not one. */
#define TZ_FILE_MAX (256 * 1024)

struct tz_trans {
	long long at;
	int off; /* in effect from `at` on */
};

/* A rule date: Jn (1..365, no Feb 29), n (0..365), or Mm.w.d. */
struct tz_date {
	char kind; /* 'J', 'n', 'M' */
	int a, b, c;
	int time; /* seconds after local midnight, may be negative or > 24h */
};

struct tz_rule {
	bool dst;   /* false: std_off all year */
	int std_off, dst_off;
	struct tz_date start, end;
};

struct tz_zone {
	char *name;
	struct tz_trans *trans;
	size_t n;
	int off0; /* before the first transition */
	bool has_rule;
	struct tz_rule rule;
};

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- calendar ------------------------------------------------------------ */

static long long floor_div(long long a, long long b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
long long tz_days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = floor_div(y, 400);
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(long long z, long long *y, int *m, int *d)
{
	z += 719468;
	long long era = floor_div(z, 146097);
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long long y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* ---- the footer's POSIX TZ string ---------------------------------------- */

static bool parse_abbr(const char **p)
{
	const char *s = *p;
	if (*s == '<') {
		const char *close = strchr(s, '>');
		if (!close || close - s < 4)
			return false;
		*p = close + 1;
		return true;
	}
	while (isalpha((unsigned char)*s))
		s++;
	if (s - *p < 3)
		return false;
	*p = s;
	return true;
}

/* [+-]hh[:mm[:ss]], hours up to max_h. */
static bool parse_hms(const char **p, int max_h, int *out)
{
	const char *s = *p;
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s))
		return false;
	int h = 0, m = 0, sec = 0;
	while (isdigit((unsigned char)*s) && h <= max_h)
		h = h * 10 + (*s++ - '0');
	if (h > max_h)
		return false;
	for (int part = 0; part < 2 && *s == ':'; part++) {
		s++;
		if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
			return false;
		int v = (s[0] - '0') * 10 + (s[1] - '0');
		if (v > 59)
			return false;
		*(part ? &sec : &m) = v;
		s += 2;
	}
	*out = sign * (h * 3600 + m * 60 + sec);
	*p = s;
	return true;
}

static bool parse_num(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s) && v <= hi)
		v = v * 10 + (*s++ - '0');
	if (v < lo || v > hi)
		return false;
	*out = v;
	*p = s;
	return true;
}

static bool parse_rule_date(const char **p, struct tz_date *d)
{
	const char *s = *p;
	bool ok;
	if (*s == 'J') {
		s++;
		d->kind = 'J';
		ok = parse_num(&s, 1, 365, &d->a);
	} else if (*s == 'M') {
		s++;
		d->kind = 'M';
		ok = parse_num(&s, 1, 12, &d->a) && *s++ == '.' && parse_num(&s, 1, 5, &d->b) &&
		     *s++ == '.' && parse_num(&s, 0, 6, &d->c);
	} else {
		d->kind = 'n';
		ok = parse_num(&s, 0, 365, &d->a);
	}
	if (!ok)
		return false;
	d->time = 2 * 3600;
	if (*s == '/') {
		s++;
		/* RFC 8536 extends the hour range to -167..167. */
		if (!parse_hms(&s, 167, &d->time))
			return false;
	}
	*p = s;
	return true;
}

/* POSIX offsets count west of UTC; ours count east. */
static bool parse_posix_tz(const char *s, struct tz_rule *r, bool *has_rule)
{
	*has_rule = false;
	if (!*s)
		return true; /* no rule: the last transition holds forever */
	int west;
	if (!parse_abbr(&s) || !parse_hms(&s, 24, &west))
		return false;
	*r = (struct tz_rule){ .std_off = -west, .dst_off = -west };
	*has_rule = true;
	if (!*s)
		return true;
	if (!parse_abbr(&s))
		return false;
	r->dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (!parse_hms(&s, 24, &west))
			return false;
		r->dst_off = -west;
	}
	if (!*s) {
		/* No rule given: the US rule, as glibc assumes. */
		const char *def = "M3.2.0,M11.1.0";
		return parse_rule_date(&def, &r->start) && *def++ == ',' &&
		       parse_rule_date(&def, &r->end);
	}
	return *s++ == ',' && parse_rule_date(&s, &r->start) && *s++ == ',' &&
	       parse_rule_date(&s, &r->end) && !*s;
}

/* The local-midnight day (days since the epoch) a rule date falls on. */
static long long rule_day(const struct tz_date *d, long long y)
{
	long long jan1 = tz_days_from_civil(y, 1, 1);
	if (d->kind == 'J')
		return jan1 + d->a - 1 + (is_leap(y) && d->a >= 60);
	if (d->kind == 'n')
		return jan1 + d->a;
	/* Mm.w.d: day d (0 = Sunday) of week w (5 = the last) of month m. */
	long long first = tz_days_from_civil(y, d->a, 1);
	int wday_first = (int)(((first % 7) + 7 + 4) % 7);
	long long day = first + (d->c - wday_first + 7) % 7 + 7LL * (d->b - 1);
	while (day >= first + month_days(y, d->a))
		day -= 7;
	return day;
}

/* The rule's two transitions in year y, in UTC: out[0] into DST, out[1] out. */
static void rule_year(const struct tz_rule *r, long long y, struct tz_trans out[2])
{
	out[0].at = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
	out[0].off = r->dst_off;
	out[1].at = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
	out[1].off = r->std_off;
}

/* ---- the TZif file ------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static long long be64(const unsigned char *p)
{
	return (long long)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static bool read_header(const unsigned char *p, size_t len, struct tzif_counts *c, int *version)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return false;
	*version = p[4] ? p[4] - '0' : 1;
	c->isut = be32(p + 20), c->isstd = be32(p + 24), c->leap = be32(p + 28);
	c->time = be32(p + 32), c->type = be32(p + 36), c->chars = be32(p + 40);
	return c->type >= 1 && c->type <= 256 && c->time <= 100000 && c->chars <= 100000 &&
	       c->leap <= 100000 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_size(const struct tzif_counts *c, size_t timesize)
{
	return c->time * timesize + c->time + c->type * 6 + c->chars + c->leap * (timesize + 4) +
	       c->isstd + c->isut;
}

/* Fill z from the data block at p (timesize 4 for v1, 8 for v2+). */
static int read_block(struct tz_zone *z, const unsigned char *p, const struct tzif_counts *c,
		      size_t timesize)
{
	const unsigned char *times = p, *idx = p + c->time * timesize;
	const unsigned char *types = idx + c->time;
	for (uint32_t i = 0; i < c->time; i++)
		if (idx[i] >= c->type)
			return -1;
	z->off0 = (int32_t)be32(types);
	z->trans = xcalloc(c->time ? c->time : 1, sizeof(*z->trans));
	int last = z->off0;
	for (uint32_t i = 0; i < c->time; i++) {
		long long at = timesize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		int off = (int32_t)be32(types + 6 * idx[i]);
		if (off == last)
			continue; /* abbreviation or DST flag only: wall time unchanged */
		if (z->n && at <= z->trans[z->n - 1].at)
			return -1;
		z->trans[z->n++] = (struct tz_trans){ at, off };
		last = off;
	}
	return 0;
}

static bool valid_name(const char *name)
{
	if (!*name || *name == '/' || strlen(name) > 200)
		return false;
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("/_+-", *s))
			return false;
	/* No "..": the name is a path under the zone directory, never outside. */
	return !strstr(name, "..") && name[0] != '-';
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *data = xmalloc(TZ_FILE_MAX);
	*len = fread(data, 1, TZ_FILE_MAX, f);
	bool bad = ferror(f) || *len == TZ_FILE_MAX;
	fclose(f);
	if (bad) {
		free(data);
		errno = EFBIG;
		return NULL;
	}
	return data;
}

static int parse_tzif(struct tz_zone *z, const unsigned char *p, size_t len)
{
	struct tzif_counts c;
	int version;
	if (!read_header(p, len, &c, &version))
		return -1;
	size_t v1 = 44 + block_size(&c, 4);
	if (version < 2) {
		if (v1 > len || c.leap)
			return -1;
		return read_block(z, p + 44, &c, 4);
	}
	const unsigned char *h2 = p + v1;
	if (v1 > len || !read_header(h2, len - v1, &c, &version) || c.leap)
		return -1;
	size_t end = v1 + 44 + block_size(&c, 8);
	if (end > len || read_block(z, h2 + 44, &c, 8))
		return -1;
	/* The footer: "\n" TZ-string "\n". */
	const unsigned char *f = p + end;
	size_t flen = len - end;
	if (flen < 2 || f[0] != '\n' || f[flen - 1] != '\n')
		return -1;
	char footer[128];
	if (flen - 2 >= sizeof(footer))
		return -1;
	memcpy(footer, f + 1, flen - 2);
	footer[flen - 2] = '\0';
	return parse_posix_tz(footer, &z->rule, &z->has_rule) ? 0 : -1;
}

struct tz_zone *tz_load(const char *name, char *err, size_t errlen)
{
	struct tz_zone *z = xcalloc(1, sizeof(*z));
	z->name = xstrdup(name);
	if (!strcmp(name, "UTC"))
		return z;
	if (!valid_name(name)) {
		fail(err, errlen, "'%s' is not a time zone name (like Europe/Berlin)", name);
		goto bad;
	}
	const char *dir = getenv("TZDIR");
	char *path = xasprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	size_t len = 0;
	unsigned char *data = slurp(path, &len);
	if (!data) {
		fail(err, errlen, "unknown time zone '%s' (%s: %s)", name, path, strerror(errno));
		free(path);
		goto bad;
	}
	int rc = parse_tzif(z, data, len);
	free(data);
	if (rc) {
		fail(err, errlen, "time zone '%s': %s is not a usable tzfile (leap seconds or damaged)",
		     name, path);
		free(path);
		goto bad;
	}
	free(path);
	return z;
bad:
	tz_free(z);
	return NULL;
}

void tz_free(struct tz_zone *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z);
}

const char *tz_name(const struct tz_zone *z)
{
	return z->name;
}

/* ---- lookups ------------------------------------------------------------- */

static void span_from_list(const struct tz_trans *l, size_t n, int before, long long t,
			   struct tz_span *out)
{
	/* l is sorted and l[0].at <= t: the last entry at or before t starts the span. */
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (l[mid].at <= t)
			lo = mid;
		else
			hi = mid;
	}
	out->start = l[lo].at;
	out->off = l[lo].off;
	out->prev_off = lo ? l[lo - 1].off : before;
	out->end = lo + 1 < n ? l[lo + 1].at : TZ_END;
	out->next_off = lo + 1 < n ? l[lo + 1].off : out->off;
}

/* Past the stored table: the rule's transitions around t's year, after the
 * table's last entry, with no-op transitions dropped. */
static void span_by_rule(const struct tz_zone *z, long long t, struct tz_span *out)
{
	struct tz_trans l[10];
	size_t n = 0;
	int before = z->n >= 2 ? z->trans[z->n - 2].off : z->off0;
	l[n++] = z->n ? z->trans[z->n - 1] : (struct tz_trans){ TZ_BEGIN, z->off0 };
	long long y;
	int m, d;
	tz_civil_from_days(floor_div(t, 86400), &y, &m, &d);
	for (long long year = y - 2; year <= y + 1; year++) {
		struct tz_trans two[2];
		rule_year(&z->rule, year, two);
		if (two[1].at < two[0].at) { /* southern hemisphere: DST ends first */
			struct tz_trans tmp = two[0];
			two[0] = two[1], two[1] = tmp;
		}
		for (int i = 0; i < 2; i++)
			if (two[i].at > l[n - 1].at && two[i].off != l[n - 1].off)
				l[n++] = two[i];
	}
	span_from_list(l, n, before, t, out);
}

void tz_span_at(const struct tz_zone *z, long long t, struct tz_span *out)
{
	if (!z->n && !(z->has_rule && z->rule.dst)) {
		int off = z->has_rule ? z->rule.std_off : z->off0;
		*out = (struct tz_span){ TZ_BEGIN, TZ_END, off, off, off };
		return;
	}
	if (z->n && t < z->trans[0].at) {
		*out = (struct tz_span){ TZ_BEGIN, z->trans[0].at, z->off0, z->off0, z->trans[0].off };
		return;
	}
	if (z->n && t < z->trans[z->n - 1].at) {
		span_from_list(z->trans, z->n, z->off0, t, out);
		return;
	}
	if (z->has_rule && z->rule.dst) {
		span_by_rule(z, t, out);
		return;
	}
	/* After the table, a rule without DST (or none): one offset for ever. */
	const struct tz_trans *last = &z->trans[z->n - 1];
	int off = z->has_rule ? z->rule.std_off : last->off;
	if (off == last->off)
		*out = (struct tz_span){ last->at, TZ_END, off,
					 z->n >= 2 ? z->trans[z->n - 2].off : z->off0, off };
	else
		*out = (struct tz_span){ last->at, TZ_END, off, last->off, off };
}

int tz_offset(const struct tz_zone *z, long long t)
{
	struct tz_span s;
	tz_span_at(z, t, &s);
	return s.off;
}

/* ---- RFC 3339 ------------------------------------------------------------ */

static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

int tz_parse_rfc3339(const char *s, long long *out)
{
	int y, mo, d, h, mi, sec = 0;
	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d) || !strchr("Tt ", *s) || !*s++ || !digits(&s, 2, &h) ||
	    *s++ != ':' || !digits(&s, 2, &mi))
		return -1;
	if (*s == ':') {
		s++;
		if (!digits(&s, 2, &sec))
			return -1;
		if (*s == '.') {
			s++;
			if (!isdigit((unsigned char)*s))
				return -1;
			while (isdigit((unsigned char)*s))
				s++;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	int off = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*s)
		return -1;
	*out = tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return 0;
}

void tz_format_rfc3339(long long t, int off, int utc_z, char *out, size_t outlen)
{
	long long local = t + off, y;
	long long days = floor_div(local, 86400), s = local - days * 86400;
	int m, d;
	tz_civil_from_days(days, &y, &m, &d);
	char zone[8] = "Z";
	if (off || !utc_z) {
		int a = off < 0 ? -off : off;
		snprintf(zone, sizeof(zone), "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600 % 100,
			 a % 3600 / 60);
	}
	snprintf(out, outlen, "%04lld-%02d-%02dT%02lld:%02lld:%02lld%s", y, m, d, s / 3600,
		 s % 3600 / 60, s % 60, zone);
}
