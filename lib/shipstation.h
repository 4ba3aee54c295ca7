/*
 * ShipStation API v2 on the provider pattern: the descriptor (header
 * api-key, the X-Rate-Limit-* headers, 429 with Retry-After, the v2 error
 * body), its configuration, and a client for many accounts at once.
 *
 * Facts it encodes (DESIGN.md §5): base https://api.shipstation.com, paths
 * under /v2/; 200 requests a minute per API key; lists paged with page and
 * page_size (<= 100) and links.next; errors as {"request_id", "errors":
 * [{"error_source", "error_type", "error_code", "message"}]}, of which the
 * message is reported.
 *
 * Accounts: every account (integration) has its own key, and so its own
 * struct provider (base URL, key) and its own rate bucket, named by the
 * caller without the key (sync names it "key-" + the first 8 hex digits of
 * the key's SHA-256, so two integrations sharing a key share its budget).
 * All accounts share one http client, whose hooks are the client's "hub"
 * provider: it maps each request's bucket to its account and counts it.
 * So one http_pool carries the streams of every account.
 *
 *	struct shipstation ss;
 *	shipstation_init(&ss, &cfg);
 *	limiter_init(&lim, task_rl_db(t), provider_map_buckets, &ss.hub, 90);
 *	struct http_hooks hooks = provider_hooks(&ss.hub, &lim);
 *	struct http_client *http = task_http(t, &hooks);
 *	struct ss_account *a = shipstation_account(&ss, url, key, "key-1a2b3c4d", http);
 *	provider_stream(&a->prov, pool, &call, PROVIDER_PAGING_LINKS, "products", fn, arg);
 *
 * It never touches the database: the limiter it is given does.
 *
 * Ownership: struct shipstation is the caller's (shipstation_init /
 * shipstation_release) and owns its accounts and its config's contents.
 * An account borrows its key (registered for redaction) and the http client.
 */
#ifndef JOBRUN_SHIPSTATION_H
#define JOBRUN_SHIPSTATION_H

#include <stdbool.h>
#include <stddef.h>

#include "provider.h"
#include "ratelimit.h"

#define SHIPSTATION_DEFAULT_URL "https://api.shipstation.com"
#define SHIPSTATION_PAGE_SIZE 100

struct shipstation_config {
	char *base_url;       /* owned; SHIPSTATION_API_URL, no trailing slash */
	long per_minute;      /* SHIPSTATION_REQUESTS_PER_MINUTE, per key */
};

/* SHIPSTATION_API_URL and SHIPSTATION_REQUESTS_PER_MINUTE, validated; errors
 * name the variable (exit 78). */
int shipstation_config_from_env(struct shipstation_config *cfg);
void shipstation_config_release(struct shipstation_config *cfg);

struct ss_account {
	char bucket[48];        /* the bucket's name: never the key */
	struct rl_bucket rl;    /* per_minute a minute, spaced evenly */
	struct provider prov;   /* this account's base URL and key */
	long long requests;     /* sends on this account's bucket */
};

struct shipstation {
	struct shipstation_config cfg;
	struct provider hub;    /* the shared client's hooks: map, counting, rate headers */
	struct ss_account **accounts;
	size_t n_accounts;
};

/* Takes ownership of cfg's contents. */
void shipstation_init(struct shipstation *ss, struct shipstation_config *cfg);
void shipstation_release(struct shipstation *ss);
/* A new account on the shared client `http` (may be set later: a->prov.http).
 * base_url NULL: the configured one. key is borrowed and registered as a
 * secret; bucket names the key's budget. The account belongs to ss. */
struct ss_account *shipstation_account(struct shipstation *ss, const char *base_url,
				       const char *key, const char *bucket,
				       struct http_client *http);

/* ShipStation's descriptor (doctor lists it). */
extern const struct provider_desc shipstation_desc;

/* The first error's message (and code) of a v2 error body, "" when the body
 * has none. Pure (unit-tested). */
void shipstation_error_message(json_t *body, char *out, size_t len);

/* doctor --online: the configuration only. Keys live in
 * shipstation.integrations, so `jobrun sync --dry-run` checks them. */
int shipstation_ping(char *detail, size_t len);

#endif
