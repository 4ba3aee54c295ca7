/*
 * One provider pattern. A provider is a static descriptor (what the API
 * is: base URL, auth, rate buckets, rate-header convention, its own reading
 * of answers, its budget) and a runtime struct provider (its configuration,
 * limiter, http client and counters). Every provider gets the same request
 * call with the same result enum, the same page iterator (offset/total,
 * next_cursor, links.next), the same JSON sanitizing and the same per-run
 * request budget, sequentially or as streams on an http_pool.
 *
 * Adding a provider: one client file with its descriptor (map, classify,
 * interpret), a stand-in personality and fixtures.
 *
 *	struct provider p;
 *	provider_init(&p, &comicvine_provider, base_url, api_key, client, budget);
 *	limiter_init(&lim, rl_db, provider_map_buckets, &p, 30);
 *	struct http_hooks hooks = provider_hooks(&p, &lim);
 *	p.http = task_http(t, &hooks);
 *	struct provider_reply r;
 *	provider_request(&p, &call, &r); ... provider_reply_release(&r);
 *
 * Ownership: the descriptor is static. struct provider owns its base_url
 * copy (provider_release); secret, client, limiter and http are borrowed
 * and must outlive it. A struct provider_reply owns its json
 * (provider_reply_release). Calls are borrowed for the call; a stream copies
 * its call.
 */
#ifndef JOBRUN_PROVIDER_H
#define JOBRUN_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "ratelimit.h"

struct limiter;
struct provider;
struct provider_call;

enum provider_auth {
	PROVIDER_AUTH_NONE,
	PROVIDER_AUTH_QUERY,  /* ?<auth_name>=<secret> (ComicVine's api_key) */
	PROVIDER_AUTH_BASIC,  /* HTTP Basic, the secret is "user:secret" (Cloudinary) */
	PROVIDER_AUTH_HEADER, /* "<auth_name>: <secret>" (ShipStation's api-key) */
};

/* How a rate header's Reset reads. */
enum provider_reset {
	PROVIDER_RESET_SECONDS,   /* delta seconds */
	PROVIDER_RESET_HTTP_DATE, /* an HTTP date (Cloudinary) */
	PROVIDER_RESET_EPOCH,     /* Unix seconds */
};

struct provider_rate_headers {
	const char *limit;     /* "X-FeatureRateLimit-Limit"; NULL: none */
	const char *remaining; /* NULL: the provider sends no counts */
	const char *reset;
	enum provider_reset reset_format;
	bool adopt_limit;      /* the server's Limit replaces our window's (plans differ) */
};

/* The common result of a request. */
enum provider_result {
	PROVIDER_OK,
	PROVIDER_NOT_FOUND,       /* the object is gone (404, ComicVine's 101) */
	PROVIDER_STOP_BUCKET,     /* rate limited, blocked or budget spent: this bucket
				   * cannot go on now; others may */
	PROVIDER_BAD_CREDENTIALS, /* fatal: exit 78 */
	PROVIDER_STOPPED,         /* deadline or signal */
	PROVIDER_FAILED,          /* this request failed (retries spent, malformed answer) */
	PROVIDER_CUT_OFF,         /* failed, and the run's budget left no attempt for its
				   * retry: a failed request, and every bucket stops */
	PROVIDER_CONFIG,          /* jobrun's configuration is wrong (the URL's scheme): exit 78 */
};

struct provider_reply {
	enum provider_result result;
	json_t *json;              /* the sanitized answer (OK; also error bodies that parse) */
	long status;               /* last HTTP status, 0 when none */
	int signal;                /* the provider's reading of the last answer (classify) */
	enum http_refusal refusal; /* why the hooks refused, when they did */
	bool rate_limited;         /* the server rate limited some attempt */
	double retry_in_s;         /* HTTP_REFUSED_BUDGET: when it reopens; else -1 */
	int attempts;
	char error[512];           /* redacted; "" when OK */
};

struct provider_desc {
	const char *name;        /* "comicvine": logs, and the rate buckets' provider */
	const char *url_var;     /* "COMICVINE_API_URL" */
	const char *default_url;
	const char *secret_var;  /* "COMICVINE_API_KEY"; NULL: no secret */
	enum provider_auth auth;
	const char *auth_name;   /* the query parameter or header name */
	struct provider_rate_headers rate;
	/* A rate-limit answer without Retry-After means the window is spent
	 * (ComicVine's policy, not every provider's). */
	bool unknown_wait_is_window;
	long long default_budget; /* requests per run when the caller gives none; 0: none */
	/* The buckets of a request's bucket key (set *out, return the count;
	 * 0: not rate limited). Bucket names never contain a secret. */
	int (*map)(struct provider *p, const char *bucket, const struct rl_bucket **out);
	/* Provider-specific reading of an answer, after the rate headers were
	 * read: may set resp->signal and resp->wait_s. NULL: the default. */
	enum http_class (*classify)(struct provider *p, const struct http_request *req,
				    struct http_response *resp, enum http_class dflt);
	/* A finished answer (sanitized text) into a result, *json and err.
	 * NULL: provider_interpret_default. */
	enum provider_result (*interpret)(struct provider *p, const struct provider_call *call,
					  const struct http_response *resp, const char *text,
					  size_t len, json_t **json, char *err, size_t errlen);
	/* A request really left (every attempt, re-sends too). NULL: none. */
	void (*on_send)(struct provider *p, const char *bucket);
	/* A rate-limit answer: log it the provider's way. NULL: a generic line. */
	void (*on_rate_limited)(struct provider *p, const struct http_request *req,
				const struct http_response *resp, double seconds);
};

struct provider {
	const struct provider_desc *desc;
	char *base_url;            /* owned; no trailing slash */
	const char *secret;        /* borrowed (the environment); registered with redact */
	const char *user_agent;    /* borrowed; NULL: http's default */
	void *client;              /* the typed client (struct comicvine) */
	struct limiter *limiter;   /* borrowed */
	struct http_client *http;  /* borrowed */
	long long budget;          /* attempts allowed this run; < 0: none */
	long long attempts;        /* requests that left */
	bool budget_spent;         /* a request was refused by the budget */
};

/* Copies base_url; budget 0 means the descriptor's default (none if 0). */
void provider_init(struct provider *p, const struct provider_desc *d, const char *base_url,
		   const char *secret, void *client, long long budget);
void provider_release(struct provider *p);
/* The descriptor's variables: *base_url (new string, validated) and *secret
 * (borrowed from the environment, registered as a secret). Errors name the
 * variable (exit 78); need_secret false tolerates a missing secret. */
int provider_config_from_env(const struct provider_desc *d, bool need_secret, char **base_url,
			     const char **secret);
/* The limiter's map for a provider (ctx: struct provider). */
int provider_map_buckets(void *ctx, const char *bucket, const struct rl_bucket **out);
/* Hooks over the limiter: the budget, counting, the rate headers, the
 * descriptor's classify and its unknown-wait policy. */
struct http_hooks provider_hooks(struct provider *p, struct limiter *l);

/* One request. */
struct provider_call {
	const char *method;             /* NULL: GET */
	const char *const *segments;    /* path below the base URL; NULL-terminated */
	const char *const *params;      /* query pairs {name, value, …, NULL} */
	const char *query;              /* already encoded ("a=1&b=2"), or NULL */
	const char *url;                /* an absolute URL instead (links.next): only on
					 * the base URL's scheme, host and port */
	const char *body;               /* request body (POST), or NULL */
	const char *content_type;       /* the body's type, e.g. "application/json" */
	const char *bucket;             /* the map's key */
	const char *label;              /* redaction-safe, e.g. "GET /volumes/" */
};

enum provider_result provider_request(struct provider *p, const struct provider_call *call,
				      struct provider_reply *out);
void provider_reply_release(struct provider_reply *r);
const char *provider_result_name(enum provider_result r);

/* Default interpret: 2xx JSON → OK, 404 → NOT_FOUND, 401/403 or a FATAL
 * class → BAD_CREDENTIALS, anything else FAILED. */
enum provider_result provider_interpret_default(struct provider *p, const struct provider_call *call,
						const struct http_response *resp, const char *text,
						size_t len, json_t **json, char *err, size_t errlen);

/* ------------------------------------------------------------ paging */

enum provider_paging {
	PROVIDER_PAGING_OFFSET, /* offset + number_of_total_results (ComicVine) */
	PROVIDER_PAGING_CURSOR, /* next_cursor until absent (Cloudinary) */
	PROVIDER_PAGING_LINKS,  /* links.next.href until absent (ShipStation) */
};

struct provider_pager {
	enum provider_paging style;
	const char *items;        /* the list's key: "results", "resources", "products" */
	const char *offset_param; /* "offset" */
	const char *cursor_param; /* "next_cursor" */
	const char *total_key;    /* "number_of_total_results" */
	long offset;              /* OFFSET: the next page's */
	long total;               /* OFFSET: -1 until known */
	char *cursor;             /* CURSOR: the next page's, owned */
	char *next_url;           /* LINKS: the next page's, owned */
	long pages;               /* pages read */
	bool done;
};

void provider_pager_init(struct provider_pager *pg, enum provider_paging style, const char *items);
void provider_pager_release(struct provider_pager *pg);
/* Read one page's answer: *items (borrowed from root) and where the next
 * page is; pg->done when there is none. A links.next on another scheme,
 * host or port than base_url is refused (-1), as is a page without the
 * list. Pure (unit-tested). */
int provider_pager_advance(struct provider_pager *pg, json_t *root, const char *base_url,
			   json_t **items, char *err, size_t errlen);
/* One page: the call with the pager's position, sent, then advanced.
 * *items is borrowed from out->json. */
enum provider_result provider_page(struct provider *p, const struct provider_call *call,
				   struct provider_pager *pg, struct provider_reply *out,
				   json_t **items);

/* A listing followed as a stream on a pool: each page's reply goes to fn
 * (on the pool's thread, between transfers); fn returns 0 to go on. The
 * stream ends at the last page, a result other than OK (fn sees it), or
 * when fn says stop. The call is copied. */
typedef int (*provider_page_fn)(void *arg, const struct provider_reply *reply, json_t *items);
void provider_stream(struct provider *p, struct http_pool *pool, const struct provider_call *call,
		     enum provider_paging style, const char *items, provider_page_fn fn, void *arg);

/* Pure helpers (unit-tested). */
/* A Reset header's value in seconds from now_wall; -1 when unreadable. */
double provider_parse_reset(const char *value, enum provider_reset fmt, double now_wall);
/* Whether url has base's scheme, host and port. */
bool provider_same_origin(const char *url, const char *base);

#endif
