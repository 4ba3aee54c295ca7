/*
 * ShipStation v2 on the provider pattern: its descriptor (header api-key,
 * X-Rate-Limit-* headers, the v2 error body), its configuration, and the
 * accounts that share one http client.
 */
#include "shipstation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "xalloc.h"

#define PROVIDER "shipstation"

int shipstation_config_from_env(struct shipstation_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (config_get_long("SHIPSTATION_REQUESTS_PER_MINUTE", 200, 1, 100000, &cfg->per_minute) ||
	    config_get_url("SHIPSTATION_API_URL", SHIPSTATION_DEFAULT_URL, &cfg->base_url)) {
		shipstation_config_release(cfg);
		return -1;
	}
	return 0;
}

void shipstation_config_release(struct shipstation_config *cfg)
{
	free(cfg->base_url);
	cfg->base_url = NULL;
}

void shipstation_init(struct shipstation *ss, struct shipstation_config *cfg)
{
	memset(ss, 0, sizeof(*ss));
	ss->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	/* The hub sends nothing itself: no URL, no key. */
	provider_init(&ss->hub, &shipstation_desc, NULL, NULL, ss, 0);
}

void shipstation_release(struct shipstation *ss)
{
	for (size_t i = 0; i < ss->n_accounts; i++) {
		provider_release(&ss->accounts[i]->prov);
		free(ss->accounts[i]);
	}
	free(ss->accounts);
	provider_release(&ss->hub);
	shipstation_config_release(&ss->cfg);
	memset(ss, 0, sizeof(*ss));
}

struct ss_account *shipstation_account(struct shipstation *ss, const char *base_url,
				       const char *key, const char *bucket,
				       struct http_client *http)
{
	struct ss_account *a = xcalloc(1, sizeof(*a));
	snprintf(a->bucket, sizeof(a->bucket), "%s", bucket);
	/* Evenly spaced: 200 a minute is one every 0.3 s (and a margin), so no
	 * minute, fixed or sliding, however it is aligned, holds more than the
	 * limit. The spacing is ours, not ShipStation's rule: spread, so a send
	 * that leaves late is no violation and holds up nothing (lib/limiter). */
	a->rl = (struct rl_bucket){ PROVIDER, a->bucket, ss->cfg.per_minute, 60,
				    60.0 / (double)ss->cfg.per_minute, true };
	provider_init(&a->prov, &shipstation_desc, base_url ? base_url : ss->cfg.base_url, key, ss, 0);
	a->prov.http = http;
	ss->accounts = xrealloc(ss->accounts, (ss->n_accounts + 1) * sizeof(*ss->accounts));
	ss->accounts[ss->n_accounts++] = a;
	return a;
}

static struct ss_account *account_of(struct shipstation *ss, const char *bucket)
{
	for (size_t i = 0; bucket && i < ss->n_accounts; i++)
		if (!strcmp(ss->accounts[i]->bucket, bucket))
			return ss->accounts[i];
	return NULL;
}

static int ss_map(struct provider *p, const char *bucket, const struct rl_bucket **out)
{
	struct ss_account *a = account_of(p->client, bucket);
	if (!a)
		return 0;
	*out = &a->rl;
	return 1;
}

static void ss_on_send(struct provider *p, const char *bucket)
{
	struct ss_account *a = account_of(p->client, bucket);
	if (a)
		a->requests++;
}

void shipstation_error_message(json_t *body, char *out, size_t len)
{
	json_t *first = json_array_get(json_object_get(body, "errors"), 0);
	const char *msg = json_string_value(json_object_get(first, "message"));
	const char *code = json_string_value(json_object_get(first, "error_code"));
	if (msg && code)
		snprintf(out, len, "%s (%s)", msg, code);
	else
		snprintf(out, len, "%s", msg ? msg : code ? code : "");
}

/* 2xx with a JSON object is the answer; anything else is reported with
 * ShipStation's own message. */
static enum provider_result ss_interpret(struct provider *p, const struct provider_call *call,
					 const struct http_response *r, const char *text, size_t len,
					 json_t **json, char *err, size_t errlen)
{
	(void)p;
	json_error_t jerr;
	const char *what = call->label ? call->label : PROVIDER;
	*json = json_loadb(text, len, 0, &jerr);
	if (r->status >= 200 && r->status <= 299) {
		if (json_is_object(*json))
			return PROVIDER_OK;
		json_decref(*json);
		*json = NULL;
		http_response_json(r, json, err, errlen); /* its words for what came */
		json_decref(*json);
		*json = NULL;
		if (!err[0])
			snprintf(err, errlen, "%s: the answer is not a JSON object", what);
		return PROVIDER_FAILED;
	}
	char msg[300];
	shipstation_error_message(*json, msg, sizeof(msg));
	json_decref(*json);
	*json = NULL;
	if (!msg[0])
		snprintf(msg, sizeof(msg), "no error message");
	if (r->status == 401) {
		snprintf(err, errlen, "ShipStation rejected the API key (HTTP 401): %s", msg);
		return PROVIDER_BAD_CREDENTIALS;
	}
	snprintf(err, errlen, "%s: HTTP %ld: %s", what, r->status, msg);
	return r->status == 404 ? PROVIDER_NOT_FOUND : PROVIDER_FAILED;
}

/* ShipStation as a provider. Its facts: DESIGN.md §5. */
const struct provider_desc shipstation_desc = {
	.name = PROVIDER,
	.url_var = "SHIPSTATION_API_URL",
	.default_url = SHIPSTATION_DEFAULT_URL,
	.secret_var = NULL, /* keys live in shipstation.integrations, one per account */
	.auth = PROVIDER_AUTH_HEADER,
	.auth_name = "api-key",
	.rate = { "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset",
		  PROVIDER_RESET_SECONDS, false },
	/* A 429 comes with Retry-After; without one, pause a few spacings. */
	.unknown_wait_is_window = false,
	.default_budget = 0,
	.map = ss_map,
	.interpret = ss_interpret,
	.on_send = ss_on_send,
};

/* Keys are per account, in the database, which a provider client never
 * reads: doctor has no key to try. Sending an unauthenticated request would
 * only prove the network (and fail doctor offline for a job not in use). */
int shipstation_ping(char *detail, size_t len)
{
	struct shipstation_config cfg;
	if (shipstation_config_from_env(&cfg)) {
		snprintf(detail, len, "%s", error_last() ? error_last() : "configuration error");
		return -1;
	}
	snprintf(detail, len, "not checked here: each integration's key is in "
		 "shipstation.integrations; `jobrun sync --dry-run --only warehouses` tries them");
	shipstation_config_release(&cfg);
	return 0;
}
