/*
 * ComicVine API client: configuration, the rate-limit buckets, the http
 * hooks that read ComicVine's signals, requests, and response parsing.
 *
 * It never touches the database: the limiter it is given owns that.
 *
 * Facts it encodes (DESIGN.md §5): 200 requests per hour per API path, at
 * least 1 s between any two requests; rate limiting shows as HTTP 420/429 or
 * body status_code 107 on any HTTP status, blocks as HTTP 403 or an HTML
 * page; status 100 is a bad key, 101 on a detail path means the object is gone.
 *
 * Ownership: struct comicvine is the caller's (comicvine_init/_release);
 * struct cv_page owns its parsed JSON (cv_page_release). Strings inside a
 * struct cv_volume / cv_issue point into that JSON and live as long as it.
 */
#ifndef JOBRUN_COMICVINE_H
#define JOBRUN_COMICVINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "provider.h"
#include "ratelimit.h"

struct limiter;

enum cv_path { CV_VOLUMES, CV_VOLUME, CV_ISSUES, CV_ISSUE, CV_NPATHS };

/* Refresh intervals by series age: recent, middle, old/unknown. */
enum cv_age { CV_AGE_RECENT, CV_AGE_MIDDLE, CV_AGE_OLD, CV_NAGES };

struct comicvine_config {
	char *base_url;          /* owned; no trailing slash */
	const char *api_key;     /* from the environment; registered as a secret */
	long hourly_limit;       /* per path */
	double min_interval_s;   /* between any two requests */
	long daily_limit;        /* across paths; 0 = none */
	const char *user_agent;  /* NULL: the http default */
	double refresh_s[CV_NAGES];
};

/* COMICVINE_* variables, validated; errors name the variable (exit 78).
 * need_key false (dry runs) tolerates a missing COMICVINE_API_KEY. */
int comicvine_config_from_env(struct comicvine_config *cfg, bool need_key);
void comicvine_config_release(struct comicvine_config *cfg);

/* What an answer said about the provider's state (http_response.signal). */
enum cv_signal { CV_SIG_NONE, CV_SIG_RATE_LIMITED, CV_SIG_BLOCKED, CV_SIG_BAD_KEY };

struct comicvine {
	struct comicvine_config cfg;
	struct rl_bucket buckets[CV_NPATHS][2]; /* [path, provider-wide spacing] */
	struct provider prov;                   /* the provider runtime: budget (--limit),
						 * limiter, http client (set prov.http) */
	long long requests[CV_NPATHS];          /* attempts sent, per path */
	bool path_stopped[CV_NPATHS];           /* this run: rate limited, blocked,
						 * exhausted, or the budget is spent */
};

/* Takes ownership of cfg's contents; max_requests is the run's budget. */
void comicvine_init(struct comicvine *cv, struct comicvine_config *cfg, long long max_requests);
void comicvine_release(struct comicvine *cv);
const char *cv_path_name(enum cv_path p);
/* ComicVine's descriptor (doctor lists it). */
extern const struct provider_desc comicvine_desc;
/* provider_hooks() over the limiter for this client: install them on the
 * http client, then set cv->prov.http. */
struct http_hooks comicvine_hooks(struct comicvine *cv, struct limiter *limiter);
/* The limiter's bucket map for ComicVine requests (ctx: struct comicvine). */
int comicvine_map_buckets(void *ctx, const char *bucket, const struct rl_bucket **out);
long long comicvine_total_requests(const struct comicvine *cv);

struct cv_page {
	json_t *root;
	json_t *results; /* borrowed from root: array for lists, object for details */
	long total;      /* number_of_total_results */
	long offset;
};

/* GET <base>/<path>/[<resource>/]?api_key…&format=json&<query> through
 * provider_request(). query is already escaped. err gets a redacted reason
 * on failure. PROVIDER_NOT_FOUND is status 101 on a detail path;
 * PROVIDER_STOP_BUCKET stops the path (or every path when the budget is
 * spent) for the rest of the run. */
enum provider_result comicvine_get(struct comicvine *cv, enum cv_path path, const char *resource,
			     const char *query, struct cv_page *page, char *err, size_t errlen);
void cv_page_release(struct cv_page *page);

/* doctor --online: one authenticated request; detail says what came back. */
int comicvine_ping(char *detail, size_t len);

/* Pure parsing (unit-tested, fuzzed). */

/* Parse a sanitized body (json_text_sanitize) into the envelope. Sets *status_code. */
int cv_parse_envelope(const char *body, size_t len, struct cv_page *page, long *status_code,
		      char *err, size_t errlen);

/* The top-level status_code of a body, -1 when it has none (not JSON, not
 * an object, not an integer). Invalid text is sanitized first. */
long cv_envelope_status(const char *body, size_t len);
/* An OK answer's shape: results a list (list paths, with an integer
 * number_of_total_results) or an object (detail paths). -1 with the reason
 * in err when malformed. Records inside are checked by their parsers. */
int cv_check_results(const struct cv_page *page, bool list, char *err, size_t errlen);

struct cv_volume {
	long id;
	const char *name, *publisher, *image_url, *site_url;
	const char *date_added, *date_last_updated; /* validated "YYYY-MM-DD HH:MM:SS" or NULL */
	long publisher_id, count_of_issues, first_issue_id, last_issue_id; /* -1: unknown */
	int start_year;                             /* 0: unknown */
	json_t *record;
};

struct cv_issue {
	long id, volume_id;
	const char *issue_number, *name, *image_url, *site_url;
	const char *cover_date, *store_date;        /* validated "YYYY-MM-DD" or NULL */
	const char *date_added, *date_last_updated;
	json_t *record;
};

/* 0 when the record has what a row needs (a positive id; for issues, the
 * volume id); -1 with the reason in err. Odd fields become unknown, never errors. */
int cv_volume_from_json(json_t *record, struct cv_volume *v, char *err, size_t errlen);
int cv_issue_from_json(json_t *record, struct cv_issue *is, char *err, size_t errlen);
/* "1997" → 1997; "", "19x7", null, out of range → 0. */
int cv_parse_year(json_t *value);
bool cv_valid_datetime(const char *s);
bool cv_valid_date(const char *s);

/* Refresh interval of a series by its age, with a deterministic ±10 %
 * jitter from the id so a large import does not expire all at once. */
enum cv_age cv_series_age(int start_year, int current_year);
double cv_refresh_interval(const struct comicvine_config *cfg, int start_year, int current_year,
			   long id);

#endif
