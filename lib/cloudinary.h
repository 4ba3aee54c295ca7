/*
 * Cloudinary Admin API client on the provider pattern: its descriptor, its
 * configuration from CLOUDINARY_URL, the account's hourly bucket, opening
 * a client inside a task, the batched delete, and what the last answer's
 * X-FeatureRateLimit headers said.
 *
 * Facts it encodes (DESIGN.md §5): HTTP Basic key:secret; every Admin API
 * call counts against one hourly window per account (500 on free plans,
 * 2000 on paid ones: the server's X-FeatureRateLimit-Limit replaces the
 * configured one), reported in X-FeatureRateLimit-Limit/-Remaining/-Reset
 * with Reset an HTTP date; over the limit HTTP 420 or 429; an HTML answer
 * is Cloudinary's edge refusing the credentials; errors come as
 * {"error":{"message":…}}. Delete takes at most 100 public_ids per call.
 *
 * Other calls (search, list) go through provider_request()/provider_page()
 * on c->prov, with cloudinary_path() for the /v1_1/<cloud>/… segments and
 * CLOUDINARY_BUCKET as the bucket key.
 *
 *	struct cloudinary c;
 *	cloudinary_open(&c, t, &cfg, opt->limit, 300);   takes cfg's contents
 *	cloudinary_delete(&c, "image", NULL, ids, n, status, err, sizeof(err));
 *	cloudinary_close(&c);
 *
 * It never touches the database: the limiter it is given does.
 *
 * Ownership: struct cloudinary_config owns its strings
 * (cloudinary_config_release); the credentials are registered secrets.
 * struct cloudinary is the caller's (usually on its stack), owns its config
 * and borrows the task's http client and rate-limit connection; it must be
 * closed (cloudinary_close) before the task ends, because the client's
 * hooks point into it.
 */
#ifndef JOBRUN_CLOUDINARY_H
#define JOBRUN_CLOUDINARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "limiter.h"
#include "provider.h"
#include "ratelimit.h"

struct task;

#define CLOUDINARY_DEFAULT_URL "https://api.cloudinary.com"
#define CLOUDINARY_DEFAULT_HOURLY_LIMIT 500
/* Public ids per delete call (Cloudinary's limit). */
#define CLOUDINARY_DELETE_MAX 100
/* The bucket key of every Admin API call: they share one hourly window. */
#define CLOUDINARY_BUCKET "admin"

struct cloudinary_config {
	char *base_url;     /* CLOUDINARY_API_URL, no trailing slash; owned */
	char *cloud;        /* the cloud name (not a secret: buckets and logs use it); owned */
	char *api_key;      /* owned */
	char *credentials;  /* "key:secret" for HTTP Basic; owned; a registered secret;
			     * NULL when CLOUDINARY_URL is unset and not required */
	long hourly_limit;  /* CLOUDINARY_HOURLY_LIMIT, default 500 */
};

/* CLOUDINARY_URL, CLOUDINARY_API_URL and CLOUDINARY_HOURLY_LIMIT, validated;
 * errors name the variable and what is wrong, never the secret (exit 78).
 * need_credentials false (dry runs) tolerates an unset CLOUDINARY_URL, not a
 * malformed one. On error cfg is left empty. */
int cloudinary_config_from_env(struct cloudinary_config *cfg, bool need_credentials);
void cloudinary_config_release(struct cloudinary_config *cfg);

/* Pure (unit-tested): "cloudinary://<key>:<secret>@<cloud>", an optional
 * "?…" tail ignored. New strings in *key, *secret, *cloud; or -1 with what
 * is wrong in why (never the secret). */
int cloudinary_parse_url(const char *url, char **key, char **secret, char **cloud, char *why,
			 size_t why_len);

/* What the last answer's X-FeatureRateLimit headers said. */
struct cloudinary_usage {
	bool known;       /* some answer carried them */
	long limit;       /* X-FeatureRateLimit-Limit, -1 unknown */
	long remaining;   /* X-FeatureRateLimit-Remaining, -1 unknown */
	double reset_at;  /* X-FeatureRateLimit-Reset as Unix seconds, -1 unknown */
};

/* Signals classify leaves in http_response.signal / provider_reply.signal. */
enum cloudinary_signal { CLD_SIG_NONE, CLD_SIG_RATE_LIMITED, CLD_SIG_HTML };

struct cloudinary {
	struct cloudinary_config cfg;
	struct rl_bucket bucket;      /* the account's hourly window (name: the cloud) */
	struct provider prov;         /* budget (--limit), limiter, http client */
	struct limiter lim;
	struct cloudinary_usage usage;
	long long calls;              /* Admin API requests that left, re-sends included */
	long long rate_limited;       /* answers that were 420/429 */
};

extern const struct provider_desc cloudinary_desc;

/* Set up the client without a task or limiter (takes cfg's contents):
 * doctor's ping, tests. budget: calls allowed (0: none). */
void cloudinary_init(struct cloudinary *c, struct cloudinary_config *cfg, long long budget);
/* cloudinary_init, then the limiter on the task's rate-limit connection and
 * an http client of the task's with the provider's hooks. max_wait_s: how
 * long a call may wait for the hourly window to reopen (the deadline cuts
 * it). -1 on error (reported); c must still be closed. */
int cloudinary_open(struct cloudinary *c, struct task *t, struct cloudinary_config *cfg,
		    long long budget, double max_wait_s);
/* Detach the hooks from the http client and release c. */
void cloudinary_close(struct cloudinary *c);

/* The segments of /v1_1/<cloud>/<tail…> into out (cap entries, NULL-
 * terminated), for a struct provider_call. NULL when cap is too small. */
const char *const *cloudinary_path(const struct cloudinary *c, const char *const *tail,
				   const char **out, size_t cap);

/* The answer for one public_id of a delete. */
enum cloudinary_deleted {
	CLD_DELETED,   /* "deleted" */
	CLD_NOT_FOUND, /* "not_found": gone already, which is what we wanted */
	CLD_FAILED,    /* anything else, or left out of the answer */
};

/* DELETE /v1_1/<cloud>/resources/<resource_type>/<delivery_type> with
 * n <= 100 public_ids; delivery_type NULL is "upload". On PROVIDER_OK,
 * out[i] is ids[i]'s answer. Any other result: nothing is known about the
 * ids; err says why (redacted). */
enum provider_result cloudinary_delete(struct cloudinary *c, const char *resource_type,
				       const char *delivery_type, const char *const *ids, size_t n,
				       enum cloudinary_deleted *out, char *err, size_t errlen);
/* Pure (unit-tested): a delete answer's "deleted" map into out[]. -1 when
 * the answer has no such object. */
int cloudinary_read_deleted(json_t *answer, const char *const *ids, size_t n,
			    enum cloudinary_deleted *out);
const char *cloudinary_deleted_name(enum cloudinary_deleted d);

/* {"used": X, "limit": L, "remaining": R, "percent": P, "reset": "ISO-8601"}
 * from the last rate headers (null fields when unknown), plus "calls": this
 * run's count. A new reference. */
json_t *cloudinary_usage_json(const struct cloudinary *c);
/* "API calls used: X/LIMIT (P %)", or "API calls used: unknown" when no
 * answer said. Returns the percentage (-1 unknown). */
double cloudinary_usage_text(const struct cloudinary *c, char *out, size_t len);

/* doctor --online: one authenticated request; detail says what came back. */
int cloudinary_ping(char *detail, size_t len);

#endif
