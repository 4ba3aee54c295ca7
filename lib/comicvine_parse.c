/*
 * ComicVine response parsing: pure functions over bytes and JSON, no I/O.
 * Everything here sees untrusted input (test/fuzz covers it).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "comicvine.h"
#include "json_text.h"
#include "xalloc.h"

int cv_parse_envelope(const char *body, size_t len, struct cv_page *page, long *status_code,
		      char *err, size_t errlen)
{
	json_error_t jerr;
	memset(page, 0, sizeof(*page));
	*status_code = 0;
	json_t *root = json_loadb(body, len, 0, &jerr);
	if (!root) {
		snprintf(err, errlen, "response is not JSON: %s at line %d", jerr.text, jerr.line);
		return -1;
	}
	json_t *sc = json_object_get(root, "status_code");
	if (!json_is_object(root) || !json_is_integer(sc)) {
		snprintf(err, errlen, "response has no ComicVine envelope (no status_code)");
		json_decref(root);
		return -1;
	}
	*status_code = (long)json_integer_value(sc);
	page->root = root;
	page->results = json_object_get(root, "results");
	page->total = (long)json_integer_value(json_object_get(root, "number_of_total_results"));
	page->offset = (long)json_integer_value(json_object_get(root, "offset"));
	return 0;
}

long cv_envelope_status(const char *body, size_t len)
{
	if (!body)
		return -1;
	json_t *root = json_loadb(body, len, 0, NULL);
	if (!root) {
		/* One bad byte must not hide a 100 or a 107. */
		size_t clean_len;
		int replaced;
		char *clean = json_text_sanitize(body, len, &clean_len, &replaced);
		root = json_loadb(clean, clean_len, 0, NULL);
		free(clean);
	}
	json_t *sc = json_object_get(root, "status_code"); /* NULL unless root is an object */
	long code = json_is_integer(sc) ? (long)json_integer_value(sc) : -1;
	json_decref(root);
	return code;
}

int cv_check_results(const struct cv_page *page, bool list, char *err, size_t errlen)
{
	if (list && !json_is_array(page->results)) {
		snprintf(err, errlen, "malformed answer: results is not a list");
		return -1;
	}
	if (!list && !json_is_object(page->results)) {
		snprintf(err, errlen, "malformed answer: results is not an object");
		return -1;
	}
	/* Paging reads the total: without it a list would end after one page. */
	json_t *total = json_object_get(page->root, "number_of_total_results");
	if (list && (!json_is_integer(total) || json_integer_value(total) < 0)) {
		snprintf(err, errlen, "malformed answer: no number_of_total_results");
		return -1;
	}
	return 0;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool cv_valid_date(const char *s)
{
	if (!s || strlen(s) != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2))
		return false;
	/* Postgres rejects impossible days, and one bad date would fail a whole
	 * COPY: check the calendar here. */
	static const int days_in[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year = atoi(s), month = atoi(s + 5), day = atoi(s + 8);
	if (year < 1 || month < 1 || month > 12 || day < 1)
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return day <= days_in[month - 1] + (month == 2 && leap);
}

bool cv_valid_datetime(const char *s)
{
	if (!s || strlen(s) != 19 || !cv_valid_date((char[11]){ s[0], s[1], s[2], s[3], s[4], s[5],
								   s[6], s[7], s[8], s[9], 0 }))
		return false;
	return s[10] == ' ' && digits(s + 11, 2) && s[13] == ':' && digits(s + 14, 2) &&
	       s[16] == ':' && digits(s + 17, 2) && atoi(s + 11) < 24 && atoi(s + 14) < 60 &&
	       atoi(s + 17) < 61;
}

int cv_parse_year(json_t *value)
{
	long y = 0;
	if (json_is_integer(value)) {
		y = (long)json_integer_value(value);
	} else if (json_is_string(value)) {
		const char *s = json_string_value(value);
		size_t n = strlen(s);
		if (n == 0 || n > 4 || !digits(s, (int)n))
			return 0;
		y = atol(s);
	}
	return y >= 1800 && y <= 2200 ? (int)y : 0;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)); /* NULL unless a string */
}

static long num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	/* Rows store these as Postgres integers. */
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)
		return -1;
	return (long)json_integer_value(v);
}

static const char *datetime(json_t *o, const char *key)
{
	const char *s = str(o, key);
	return cv_valid_datetime(s) ? s : NULL;
}

static const char *date(json_t *o, const char *key)
{
	const char *s = str(o, key);
	return cv_valid_date(s) ? s : NULL;
}

static const char *image_url(json_t *o)
{
	json_t *img = json_object_get(o, "image");
	const char *u = str(img, "original_url");
	return u ? u : str(img, "super_url");
}

int cv_volume_from_json(json_t *record, struct cv_volume *v, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	if (!json_is_object(record)) {
		snprintf(err, errlen, "volume record is not an object");
		return -1;
	}
	v->id = num(record, "id");
	if (v->id <= 0 || v->id > 2147483647L) {
		snprintf(err, errlen, "volume record has no valid id");
		return -1;
	}
	json_t *publisher = json_object_get(record, "publisher");
	v->record = record;
	v->name = str(record, "name");
	v->publisher = str(publisher, "name");
	v->publisher_id = num(publisher, "id");
	v->start_year = cv_parse_year(json_object_get(record, "start_year"));
	v->count_of_issues = num(record, "count_of_issues");
	v->first_issue_id = num(json_object_get(record, "first_issue"), "id");
	v->last_issue_id = num(json_object_get(record, "last_issue"), "id");
	v->image_url = image_url(record);
	v->site_url = str(record, "site_detail_url");
	v->date_added = datetime(record, "date_added");
	v->date_last_updated = datetime(record, "date_last_updated");
	return 0;
}

int cv_issue_from_json(json_t *record, struct cv_issue *is, char *err, size_t errlen)
{
	memset(is, 0, sizeof(*is));
	if (!json_is_object(record)) {
		snprintf(err, errlen, "issue record is not an object");
		return -1;
	}
	is->id = num(record, "id");
	is->volume_id = num(json_object_get(record, "volume"), "id");
	if (is->id <= 0 || is->id > 2147483647L || is->volume_id <= 0 || is->volume_id > 2147483647L) {
		snprintf(err, errlen, "issue record has no valid id or volume id");
		return -1;
	}
	is->record = record;
	is->issue_number = str(record, "issue_number");
	is->name = str(record, "name");
	is->image_url = image_url(record);
	is->site_url = str(record, "site_detail_url");
	is->cover_date = date(record, "cover_date");
	is->store_date = date(record, "store_date");
	is->date_added = datetime(record, "date_added");
	is->date_last_updated = datetime(record, "date_last_updated");
	return 0;
}

enum cv_age cv_series_age(int start_year, int current_year)
{
	if (start_year <= 0)
		return CV_AGE_OLD;
	int age = current_year - start_year; /* 0: started this year */
	if (age < 3)
		return CV_AGE_RECENT;
	if (age < 10)
		return CV_AGE_MIDDLE;
	return CV_AGE_OLD;
}

/* splitmix64: a well-mixed hash of the id, so neighbours spread apart. */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

double cv_refresh_interval(const struct comicvine_config *cfg, int start_year, int current_year,
			   long id)
{
	double base = cfg->refresh_s[cv_series_age(start_year, current_year)];
	double unit = (double)(mix((uint64_t)id) >> 11) / (double)(1ULL << 53); /* [0,1) */
	return base * (0.9 + 0.2 * unit);
}
