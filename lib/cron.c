/*
 * Cron expressions as cronie reads them, and their next fire times.
 *
 * Each field is a bit mask. The search for the next fire time walks the
 * calendar by month, day, hour and minute (never second by second), inside
 * one span of constant UTC offset at a time, so it is bounded by the number
 * of days searched; expressions that match no date at all are rejected at
 * parse time, and the search gives up past the year 9999.
 *
 * DST, per span of the zone (lib/tz.h):
 *  - a wall time in a gap does not exist: a fixed-time entry fires once at
 *    the first instant after the gap (the transition itself); an entry whose
 *    hour field starts with '*' follows the real clock and skips it;
 *  - a wall time in an overlap exists twice: a fixed-time entry fires at the
 *    first occurrence only, a wildcard-hour entry at both.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"
#include "xalloc.h"

enum { F_MIN = CRON_MINUTE, F_HOUR = CRON_HOUR, F_DOM = CRON_DOM, F_MON = CRON_MONTH,
       F_DOW = CRON_DOW, F_COUNT };

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					    "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field {
	const char *name;
	int lo, hi;
	const char *const *names;
} fields[F_COUNT] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, dow_names },
};

static const struct keyword {
	const char *name, *fields;
} keywords[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* The search never looks past the end of the year 9999. */
#define CRON_MAX_T 253402300799LL
/* ... nor before the year 1. */
#define CRON_MIN_T (-62135596800LL)

struct cron_expr {
	uint64_t mask[F_COUNT]; /* bit v set: value v matches (day-of-week 7 folded onto 0) */
	bool dom_star, dow_star; /* the field began with '*': cronie's day rule */
	bool hour_star;          /* follows the real clock across DST changes */
	char *spec;
	struct tz_zone *zone;
};

struct parse_error {
	char *buf;
	size_t len;
};

static int perr(struct parse_error *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parse_error *pe, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pe->buf, pe->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- parsing ------------------------------------------------------------- */

/* A number or (for month and day-of-week) a three-letter name. */
static int parse_value(const struct field *f, const char **p, int *out, struct parse_error *pe)
{
	const char *s = *p, *start = s;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s)) {
			if (v < 100000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (isalpha((unsigned char)*s))
			return perr(pe, "%s: '%.*s' is not a number", f->name,
				    (int)strcspn(start, ",-/"), start);
		if (v < f->lo || v > f->hi)
			return perr(pe, "%s: %.*s is out of range %d-%d", f->name, (int)(s - start),
				    start, f->lo, f->hi);
		*out = (int)v;
		*p = s;
		return 0;
	}
	while (isalpha((unsigned char)*s))
		s++;
	size_t n = (size_t)(s - start);
	if (!n)
		return perr(pe, "%s: expected a number at '%s'", f->name, start);
	if (!f->names)
		return perr(pe, "%s: '%.*s' is not a number", f->name, (int)n, start);
	for (int i = 0; f->names[i]; i++)
		if (n == 3 && !strncasecmp(f->names[i], start, 3)) {
			*out = f->lo + i;
			*p = s;
			return 0;
		}
	return perr(pe, "%s: unknown name '%.*s' (%s..%s)", f->name, (int)n, start, f->names[0],
		    f == &fields[F_MON] ? "dec" : "sat");
}

static int parse_step(const struct field *f, const char **p, int *step, struct parse_error *pe)
{
	const char *s = *p;
	if (!isdigit((unsigned char)*s))
		return perr(pe, "%s: a step must be a number, not '%s'", f->name, s);
	long v = 0;
	while (isdigit((unsigned char)*s)) {
		if (v < 100000)
			v = v * 10 + (*s - '0');
		s++;
	}
	if (v == 0)
		return perr(pe, "%s: a step of 0 never advances", f->name);
	*step = v > 1000 ? 1000 : (int)v;
	*p = s;
	return 0;
}

/* One list element: '*' ['/' step] | value ['-' value ['/' step]]. */
static int parse_element(const struct field *f, const char *s, uint64_t *mask,
			 struct parse_error *pe)
{
	int lo, hi, step = 1;
	if (*s == '~')
		return perr(pe, "%s: random ranges (~) are not supported", f->name);
	if (*s == '*') {
		lo = f->lo, hi = f->hi;
		s++;
		if (*s == '/') {
			s++;
			if (parse_step(f, &s, &step, pe))
				return -1;
		}
	} else {
		if (parse_value(f, &s, &lo, pe))
			return -1;
		hi = lo;
		if (*s == '-') {
			s++;
			if (parse_value(f, &s, &hi, pe))
				return -1;
			/* cronie's one exception, for day-of-week: fri-sun written 5-0. */
			if (f == &fields[F_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (lo > hi)
				return perr(pe, "%s: reversed range %d-%d", f->name, lo, hi);
			if (*s == '/') {
				s++;
				if (parse_step(f, &s, &step, pe))
					return -1;
			}
		} else if (*s == '/') {
			return perr(pe, "%s: a step needs a range or '*' before it (%d-%d/N, */N)",
				    f->name, lo, f->hi);
		}
	}
	if (*s)
		return perr(pe, "%s: unexpected '%s'", f->name, s);
	for (int v = lo; v <= hi; v += step)
		*mask |= 1ULL << v;
	return 0;
}

static int parse_field(const struct field *f, const char *text, uint64_t *mask,
		       struct parse_error *pe)
{
	char *copy = xstrdup(text);
	int rc = 0;
	*mask = 0;
	/* Not strtok: it would skip empty elements, and "1,,2" is a typo worth naming. */
	char *el = copy;
	for (;;) {
		char *comma = strchr(el, ',');
		if (comma)
			*comma = '\0';
		if (!*el) {
			rc = perr(pe, "%s: empty element in '%s'", f->name, text);
			break;
		}
		if ((rc = parse_element(f, el, mask, pe)))
			break;
		if (!comma)
			break;
		el = comma + 1;
	}
	free(copy);
	return rc;
}

static int split_fields(const char *spec, char *out[F_COUNT], struct parse_error *pe)
{
	const char *s = spec;
	int n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		size_t len = strcspn(s, " \t");
		if (n == F_COUNT) {
			for (int i = 0; i < n; i++)
				free(out[i]);
			return perr(pe, "more than 5 fields (minute hour day-of-month month "
					"day-of-week)");
		}
		out[n++] = xstrndup(s, len);
		s += len;
	}
	if (n < F_COUNT) {
		for (int i = 0; i < n; i++)
			free(out[i]);
		return perr(pe, "%d field%s, expected 5 (minute hour day-of-month month day-of-week)"
				" or an @keyword", n, n == 1 ? "" : "s");
	}
	return 0;
}

static int parse_fields(struct cron_expr *e, const char *spec, struct parse_error *pe)
{
	char *text[F_COUNT];
	if (split_fields(spec, text, pe))
		return -1;
	int rc = 0;
	for (int i = 0; i < F_COUNT && !rc; i++)
		rc = parse_field(&fields[i], text[i], &e->mask[i], pe);
	e->hour_star = text[F_HOUR][0] == '*';
	e->dom_star = text[F_DOM][0] == '*';
	e->dow_star = text[F_DOW][0] == '*';
	for (int i = 0; i < F_COUNT; i++)
		free(text[i]);
	if (e->mask[F_DOW] & (1ULL << 7))
		e->mask[F_DOW] = (e->mask[F_DOW] | 1) & 0x7f;
	return rc;
}

/* ---- matching ------------------------------------------------------------ */

static bool day_matches(const struct cron_expr *e, long long days, int mday)
{
	int wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	bool dom = e->mask[F_DOM] >> mday & 1, dow = e->mask[F_DOW] >> wday & 1;
	/* cronie: when either day field starts with '*', both must match; when
	 * both are restricted, either may. */
	return e->dom_star || e->dow_star ? dom && dow : dom || dow;
}

static long long floor_div(long long a, long long b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static int first_bit_from(uint64_t mask, int from, int hi)
{
	for (int v = from; v <= hi; v++)
		if (mask >> v & 1)
			return v;
	return -1;
}

/* The first matching wall time (local seconds, whole minutes) >= w and
 * <= limit, or -1. Walks months, days, hours, minutes. */
static long long first_match(const struct cron_expr *e, long long w, long long limit)
{
	w = floor_div(w + 59, 60) * 60;
	long long days = floor_div(w, 86400);
	int sec = (int)(w - days * 86400), h = sec / 3600, mi = sec % 3600 / 60;
	while (days * 86400 <= limit) {
		long long y;
		int m, d;
		tz_civil_from_days(days, &y, &m, &d);
		if (!(e->mask[F_MON] >> m & 1)) {
			/* The first day of the next month. */
			days = m == 12 ? tz_days_from_civil(y + 1, 1, 1) : tz_days_from_civil(y, m + 1, 1);
			h = mi = 0;
			continue;
		}
		if (day_matches(e, days, d)) {
			for (int hh = first_bit_from(e->mask[F_HOUR], h, 23); hh >= 0;
			     hh = first_bit_from(e->mask[F_HOUR], hh + 1, 23)) {
				int mm = first_bit_from(e->mask[F_MIN], hh == h ? mi : 0, 59);
				if (mm >= 0) {
					long long t = days * 86400 + hh * 3600 + mm * 60;
					return t <= limit ? t : -1;
				}
			}
		}
		days++;
		h = mi = 0;
	}
	return -1;
}

/* ---- the interface ------------------------------------------------------- */

struct cron_expr *cron_parse(const char *spec, const char *tz, char *err, size_t errlen)
{
	struct parse_error pe = { err, errlen };
	struct cron_expr *e = xcalloc(1, sizeof(*e));
	size_t len = strlen(spec);
	while (len && (spec[len - 1] == ' ' || spec[len - 1] == '\t'))
		len--;
	while (len && (*spec == ' ' || *spec == '\t'))
		spec++, len--;
	e->spec = xstrndup(spec, len);
	const char *fields_text = e->spec;
	if (e->spec[0] == '@') {
		fields_text = NULL;
		for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (!strcmp(e->spec, keywords[i].name))
				fields_text = keywords[i].fields;
		if (!fields_text) {
			if (!strcmp(e->spec, "@reboot"))
				perr(&pe, "@reboot has no time: jobrun's clock restarts daily on "
					  "Heroku, so it would run every day; use a time instead");
			else
				perr(&pe, "unknown keyword '%s' (@yearly @annually @monthly @weekly "
					  "@daily @midnight @hourly)", e->spec);
			goto bad;
		}
	}
	if (parse_fields(e, fields_text, &pe))
		goto bad;
	/* Every valid combination of day fields recurs within 400 years (the
	 * Gregorian cycle); none there means none ever: 0 0 30 2 *. */
	long long from = tz_days_from_civil(2000, 1, 1) * 86400;
	if (first_match(e, from, from + 146097LL * 86400) < 0) {
		perr(&pe, "day-of-month/month%s: no date matches, the entry would never fire",
		     e->dom_star || e->dow_star ? "/day-of-week" : "");
		goto bad;
	}
	if (tz && strcmp(tz, "UTC")) {
		char why[256];
		e->zone = tz_load(tz, why, sizeof(why));
		if (!e->zone) {
			perr(&pe, "CRON_TZ: %s", why);
			goto bad;
		}
	}
	return e;
bad:
	cron_free(e);
	return NULL;
}

void cron_free(struct cron_expr *e)
{
	if (!e)
		return;
	free(e->spec);
	tz_free(e->zone);
	free(e);
}

/* One span of constant offset: the first fire time in it after u, or the
 * gap at its end for a fixed-time entry; -1 when neither. */
static long long next_in_span(const struct cron_expr *e, const struct tz_span *sp, long long u)
{
	long long lo = u + sp->off;
	bool fixed = !e->hour_star;
	/* After a fall-back, wall times the previous span already had fired there. */
	if (fixed && sp->prev_off > sp->off && sp->start != TZ_BEGIN)
		lo = lo > sp->start + sp->prev_off ? lo : sp->start + sp->prev_off;
	long long hi = sp->end == TZ_END ? CRON_MAX_T : sp->end + sp->off - 1;
	long long w = first_match(e, lo, hi);
	if (w >= 0)
		return w - sp->off;
	if (fixed && sp->end != TZ_END && sp->next_off > sp->off &&
	    first_match(e, sp->end + sp->off, sp->end + sp->next_off - 1) >= 0)
		return sp->end; /* the first instant after the gap */
	return -1;
}

long long cron_next(const struct cron_expr *e, long long after)
{
	if (after >= CRON_MAX_T)
		return -1;
	long long u = (after < CRON_MIN_T ? CRON_MIN_T : after) + 1;
	if (!e->zone) {
		long long t = first_match(e, u, CRON_MAX_T);
		return t;
	}
	/* Span by span; each step moves u to a later transition, and there is
	 * a bounded number of them before the year 9999. */
	while (u <= CRON_MAX_T) {
		struct tz_span sp;
		tz_span_at(e->zone, u, &sp);
		long long t = next_in_span(e, &sp, u);
		if (t >= 0)
			return t <= CRON_MAX_T ? t : -1;
		if (sp.end == TZ_END)
			return -1;
		u = sp.end;
	}
	return -1;
}

const char *cron_spec(const struct cron_expr *e)
{
	return e->spec;
}

const char *cron_zone(const struct cron_expr *e)
{
	return e->zone ? tz_name(e->zone) : "UTC";
}

int cron_offset(const struct cron_expr *e, long long t)
{
	return e->zone ? tz_offset(e->zone, t) : 0;
}

bool cron_fixed_offset(const struct cron_expr *e, long long from, int *offset)
{
	if (!e->zone) {
		*offset = 0;
		return true;
	}
	struct tz_span sp;
	tz_span_at(e->zone, from, &sp);
	*offset = sp.off;
	return sp.end == TZ_END;
}

void cron_fields(const struct cron_expr *e, struct cron_fields *out)
{
	for (int i = 0; i < F_COUNT; i++)
		out->mask[i] = e->mask[i];
	out->dom_star = e->dom_star;
	out->dow_star = e->dow_star;
	out->hour_star = e->hour_star;
}
