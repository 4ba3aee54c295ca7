/*
 * HTTP: the one way jobrun talks to a provider. The only place (with
 * config.c's URL parsing) that includes libcurl.
 *
 * A client owns a libcurl share/connection cache and counts every attempt.
 * http_send() performs one logical request: attempts, retries with
 * exponential backoff and full jitter on connection errors, timeouts, 408,
 * 420, 429 and 5xx, honouring Retry-After (seconds or HTTP date), never
 * starting an attempt that would end past the deadline. Every attempt first
 * passes the before_attempt hook (the rate limiter), every send the
 * before_send hook, and each counts toward http_client_attempts().
 *
 * Secrets: URLs, headers and bodies are never logged raw; every message goes
 * through redact_string(), and userpwd/secret headers are registered with
 * redact_add() on first use.
 *
 * Ownership: http_client_new() → http_client_free(). A struct http_response
 * is filled by http_send() and released by http_response_release(); its
 * strings and json live until then. Requests are borrowed.
 */
#ifndef JOBRUN_HTTP_H
#define JOBRUN_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct http_config {
	const char *user_agent;    /* default "jobrun/<version> (+https://github.com/jobrun/jobrun)" */
	double connect_timeout_s;  /* default 10 */
	double timeout_s;          /* whole attempt; default 60 */
	size_t max_response_bytes; /* default 32 MiB */
	int max_attempts;          /* default 5 */
	double backoff_base_s;     /* default 1 */
	double backoff_cap_s;      /* default 60 */
	double retry_after_cap_s;  /* longest server-requested wait honoured within a request;
				    * a longer one ends it as HTTP_RATE_LIMITED; default 300 */
};

/* Defaults, then JOBRUN_USER_AGENT, JOBRUN_HTTP_TIMEOUT, JOBRUN_CONNECT_TIMEOUT,
 * JOBRUN_HTTP_MAX_ATTEMPTS (errors name the variable). */
int http_config_from_env(struct http_config *cfg);

struct http_header {
	char *name;
	char *value;
};

struct http_request {
	const char *method;          /* NULL = GET */
	const char *url;             /* may carry secrets in the query: never logged raw */
	const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
	const char *body;
	size_t body_len;
	const char *userpwd;         /* HTTP Basic "user:secret", or NULL */
	const char *bucket;          /* rate bucket name for the hooks, e.g. "/volumes/" */
	const char *label;           /* short redaction-safe name for logs, e.g. "GET /volumes/" */
};

/* How a finished attempt is treated. */
enum http_class {
	HTTP_CLASS_OK,           /* final: hand to the caller (2xx, and 4xx like 404) */
	HTTP_CLASS_RETRY,        /* transient: back off and try again */
	HTTP_CLASS_RATE_LIMITED, /* the server wants us to slow down: honour Retry-After, retry */
	HTTP_CLASS_FATAL,        /* final, and the caller must stop (bad key) */
};

/* Why the hooks refused a request (http_response.refusal, http_grant.refusal). */
enum http_refusal {
	HTTP_REFUSED_NONE,
	HTTP_REFUSED_BUDGET,  /* a rate window is spent or blocked: retry_in_s says until when */
	HTTP_REFUSED_LIMIT,   /* the run's own request budget (--limit) is spent */
	HTTP_REFUSED_STOPPED, /* the deadline or a signal (or the slot lies past the deadline) */
	HTTP_REFUSED_ERROR,   /* the rate limiter could not be asked (database error) */
};

/* What http_send() ended with. */
enum http_outcome {
	HTTP_DONE,         /* a response classified OK or FATAL: look at status/class */
	HTTP_GAVE_UP,      /* retries exhausted on transport errors or retryable statuses */
	HTTP_RATE_LIMITED, /* still rate limited, or waiting would pass the deadline */
	HTTP_STOPPED,      /* deadline or signal before an attempt could start */
	HTTP_DENIED,       /* the before_attempt hook refused (budget exhausted) */
	HTTP_TOO_LARGE,    /* body exceeded max_response_bytes */
};

struct http_response {
	enum http_outcome outcome;
	enum http_class class;
	long status;              /* last HTTP status, 0 when none arrived */
	char *body;               /* NUL-terminated */
	size_t body_len;
	char *content_type;
	struct http_header *headers;
	size_t n_headers;
	int attempts;             /* attempts this request made (libcurl's silent re-sends
				   * on a new connection count as attempts of their own) */
	double retry_after_s;     /* last server-requested wait, -1 when none */
	char error[512];          /* redacted, lowercase, names what failed; "" on success */
	bool config_error;        /* the failure is jobrun's configuration (an https URL at a
				   * plain-HTTP port): no retry can fix it; exit 78 */
	/* What the hooks concluded about this request, carried with it (never in
	 * the shared client, which other requests in flight use too). */
	enum http_refusal refusal; /* HTTP_DENIED: why the hooks refused */
	double retry_in_s;         /* HTTP_REFUSED_BUDGET: seconds until it reopens; else -1 */
	int signal;                /* the last attempt's provider signal, set by classify; 0 none */
	double wait_s;             /* the last attempt's wait decided by classify (e.g. until
				    * an HTTP-date Reset), -1 when none: used instead of
				    * Retry-After and backoff */
	bool rate_limited;         /* some attempt was classified HTTP_CLASS_RATE_LIMITED */
};

/* One request about to leave, as before_send sees it. */
struct http_send {
	double granted_at; /* clock_mono() of the slot before_attempt reserved for this
			    * attempt (its send_at, or the grant itself when it reserved
			    * none); -1 when the send has no grant of its own: none was
			    * asked for, or an earlier send of the same attempt used it
			    * (libcurl re-sends on a new connection when a reused one
			    * turns out dead) */
	double max_wait_s; /* how long the hook may wait here: half of what is left of
			    * the attempt's timeout, which runs meanwhile */
};

/* A hook's answer for one attempt or send. Per request: the drivers keep it
 * in the transfer and copy a refusal into its response. */
struct http_grant {
	double send_at;            /* before_attempt: clock_mono() not to send before (a
				    * reserved slot); 0 = now. The hook never sleeps for
				    * it: http_send() sleeps, the pool parks the transfer
				    * and runs others meanwhile. A transfer holding a
				    * grant does not ask again when it wakes. */
	double slot_at;            /* before_attempt: the slot at its earliest on our clock
				    * (<= send_at), which lateness is judged from; 0: send_at */
	enum http_refusal refusal; /* when refused: why */
	double retry_in_s;         /* HTTP_REFUSED_BUDGET: seconds until it reopens */
	char reason[256];          /* when refused: redaction-safe words */
};

struct http_hooks {
	/* Before every attempt, before a connection is looked for: reserve what
	 * the attempt needs and say when it may go (g->send_at). 0: go ahead at
	 * send_at. Non-zero: do not send; http_send ends with HTTP_DENIED (the
	 * grant's refusal and reason in the response), or HTTP_STOPPED when
	 * deadline_should_stop(). */
	int (*before_attempt)(void *ctx, const struct http_request *req, struct http_grant *g);
	/* A transfer woken for the grant it holds, before it starts (the pool
	 * unparks it, http_send() has slept for it): the grant is in g. The
	 * hook may move it (g->send_at later: it waits again, parked, holding
	 * the new grant) or refuse (as before_attempt). So whatever happened
	 * while it waited (a sibling on its bucket that left late, a busy
	 * callback that made it miss its slot) is settled without blocking the
	 * other transfers. NULL: it goes. */
	int (*on_wake)(void *ctx, const struct http_request *req, struct http_grant *g);
	/* Right before every send, on a connection that is ready (libcurl's
	 * pre-request callback), including libcurl's own re-sends: the moment a
	 * request really leaves. Same answers as before_attempt, but it may wait
	 * itself (a send that missed its slot takes a new one here). When NULL,
	 * a send without a grant of its own goes through before_attempt instead
	 * (sleeping until its send_at), so every request that leaves has passed
	 * the hooks. */
	int (*before_send)(void *ctx, const struct http_request *req, const struct http_send *send,
			   struct http_grant *g);
	/* After every attempt that got a response: read provider rate headers,
	 * and return the class (default is the status-based one, passed in).
	 * It may set resp->signal (the provider's own reading) and resp->wait_s
	 * (how long to wait before the next attempt, when the provider says so
	 * in its own way, e.g. an HTTP-date Reset). */
	enum http_class (*classify)(void *ctx, const struct http_request *req,
				    struct http_response *resp, enum http_class dflt);
	/* The server asked for a pause of `seconds` (Retry-After or classify's
	 * wait, or -1 for a rate-limit answer without either). Lets the limiter
	 * block the shared bucket. resp is the answer (resp->signal). */
	void (*on_rate_limited)(void *ctx, const struct http_request *req,
				const struct http_response *resp, double seconds);
	void *ctx;
};

/* Once per process, before any client is made: libcurl's global state, and
 * SIGPIPE ignored (libcurl runs with CURLOPT_NOSIGNAL). */
int http_global_init(void);
void http_global_cleanup(void);
/* libcurl and its TLS library, e.g. "libcurl/7.88.1 OpenSSL/3.0.19 …". */
const char *http_library_version(void);

struct http_client;

struct http_client *http_client_new(const struct http_config *cfg, const struct http_hooks *hooks);
void http_client_free(struct http_client *c);
void http_client_set_hooks(struct http_client *c, const struct http_hooks *hooks);
/* Attempts made by this client so far (every try, retries and libcurl's
 * re-sends included). */
long long http_client_attempts(const struct http_client *c);

/* 0 when a response was obtained (resp->outcome == HTTP_DONE), -1 otherwise
 * with resp->outcome and resp->error telling why. resp is always filled and
 * must be released. */
int http_send(struct http_client *c, const struct http_request *req, struct http_response *resp);
/* Several requests at once over libcurl multi, at most `parallel` in flight,
 * each with the same retry and hook semantics. Returns the number that failed.
 * A thin user of http_pool. */
int http_send_all(struct http_client *c, const struct http_request *reqs, size_t n,
		  struct http_response *resps, int parallel);

/*
 * A pool: requests added at any time (also from a completion callback, e.g.
 * the next page of a listing), driven over libcurl multi on this one thread
 * until nothing is left or a stop. A transfer waiting for its reserved slot
 * or for a retry is parked and holds no connection: the others keep moving.
 * Callbacks run between transfers, on this thread (database writes go
 * there). The request is copied when added; the callback borrows the
 * response, which the pool releases after it returns.
 *
 *	struct http_pool *pool = http_pool_new(client, 4);
 *	http_pool_add(pool, &req, on_done, state);
 *	http_pool_run(pool);
 *	http_pool_free(pool);
 */
struct http_pool;
typedef void (*http_pool_done_fn)(struct http_pool *pool, void *arg, const struct http_request *req,
				  struct http_response *resp);

struct http_pool *http_pool_new(struct http_client *c, int parallel);
/* Queue a request; done(pool, arg, req, resp) runs once it has finished. */
void http_pool_add(struct http_pool *pool, const struct http_request *req, http_pool_done_fn done,
		   void *arg);
/* Drive until every request (and every one added meanwhile) has finished.
 * On a stop, waiting requests end HTTP_STOPPED and running ones are aborted;
 * their callbacks still run. Returns the number that did not end HTTP_DONE. */
int http_pool_run(struct http_pool *pool);
/* Requests in flight or parked now, for tests and progress. */
int http_pool_active(const struct http_pool *pool);
void http_pool_free(struct http_pool *pool);
void http_response_release(struct http_response *resp);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_response_header(const struct http_response *resp, const char *name);
/* Decode the body as JSON. Non-JSON or HTML: -1 with an error naming the
 * status, content type and the first bytes of the body (sanitized). */
int http_response_json(const struct http_response *resp, json_t **out, char *err, size_t errlen);

/* Pure helpers (unit-tested). */
/* Retry-After: delta seconds or an HTTP date relative to now_wall; -1 if invalid. */
double http_parse_retry_after(const char *value, double now_wall);
/* An HTTP date (IMF-fixdate, RFC 850, asctime) to Unix seconds; -1 if invalid. */
double http_parse_date(const char *value);
/* Full-jitter backoff: uniform in [0, min(cap, base * 2^(attempt-1))]; rand01 in [0,1). */
double http_backoff_delay(int attempt, double base, double cap, double rand01);
/* The default class of a status: 2xx/3xx/4xx OK except 408/420/429/5xx. */
enum http_class http_default_class(long status);
/* A URL built with libcurl's URL API: base (an http(s) URL; trailing slashes
 * ignored), then each of the NULL-terminated path segments percent-encoded
 * ("" as the last one gives a trailing slash), then the query pairs
 * {name, value, …, NULL} percent-encoded, then encoded_query (already
 * encoded, "a=1&b=2"; NULL for none) appended as is. A new string the caller
 * frees; NULL when base is not a URL. */
char *http_url_build(const char *base, const char *const *segments, const char *const *params,
		     const char *encoded_query);
/* Whether url has base's scheme, host and port (default ports filled in):
 * a link a server hands out is followed only there. false when either is
 * not a URL. */
bool http_same_origin(const char *url, const char *base);

#endif
