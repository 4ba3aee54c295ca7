/*
 * debug-http: send requests through lib/http exactly as a job would, and
 * report what each ended with as one JSON line. The end-to-end tests drive
 * it against test/fakes/httpfake.py to prove retries, limits and redaction
 * without a provider or a database.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "deadline.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "redact.h"
#include "xalloc.h"

const char usage_debug_http[] =
	"usage: test-tool debug-http [options] URL...\n"
	"\n"
	"Test command: sends each URL through the http layer and prints one JSON line\n"
	"per request, then {\"total_attempts\":N}. Exits 0 when every request got a\n"
	"response, 1 otherwise. Configuration comes from the environment\n"
	"(JOBRUN_USER_AGENT, JOBRUN_HTTP_TIMEOUT, JOBRUN_CONNECT_TIMEOUT,\n"
	"JOBRUN_HTTP_MAX_ATTEMPTS); the options below override it.\n"
	"\n"
	"    --method M          request method (default GET)\n"
	"    --header 'N: v'     an extra request header\n"
	"    --userpwd U:P       HTTP Basic credentials\n"
	"    --data BODY         request body\n"
	"    --bucket NAME       rate bucket name passed to the hooks\n"
	"    --count N           send each URL N times, one after another\n"
	"    --parallel N        send everything at once, N in flight (http_send_all)\n"
	"    --max-attempts N    attempts per request\n"
	"    --backoff D         backoff base (e.g. 50ms; default 1s)\n"
	"    --backoff-cap D     longest backoff (default 60s)\n"
	"    --max-bytes N       response size cap\n"
	"    --show-body         add the decoded JSON body to each line as \"body\"\n";

static const char *const outcome_names[] = {
	[HTTP_DONE] = "done",       [HTTP_GAVE_UP] = "gave_up", [HTTP_RATE_LIMITED] = "rate_limited",
	[HTTP_STOPPED] = "stopped", [HTTP_DENIED] = "denied",   [HTTP_TOO_LARGE] = "too_large",
};

static const char *const class_names[] = {
	[HTTP_CLASS_OK] = "ok",
	[HTTP_CLASS_RETRY] = "retry",
	[HTTP_CLASS_RATE_LIMITED] = "rate_limited",
	[HTTP_CLASS_FATAL] = "fatal",
};

struct debug_opts {
	const char *method, *header, *userpwd, *data, *bucket;
	long count, parallel, max_attempts, max_bytes;
	double backoff, backoff_cap;
	bool backoff_set;
	bool show_body;
};

static long rate_limited_calls;

static void count_rate_limited(void *ctx, const struct http_request *req,
			       const struct http_response *resp, double seconds)
{
	(void)ctx, (void)req, (void)resp, (void)seconds;
	rate_limited_calls++;
}

static void print_json_line(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	/* Bodies are printed too: they get the same redaction as log lines. */
	char *safe = redact_string(s);
	printf("%s\n", safe);
	free(safe);
	free(s);
	fflush(stdout);
	json_decref(obj);
}

/* One line per request; the error is the http error, else the JSON one. */
static bool report(const struct http_response *r, bool show_body)
{
	char jerr[512] = "";
	bool json_ok = false;
	json_t *doc = NULL;
	if (r->outcome == HTTP_DONE)
		json_ok = http_response_json(r, &doc, jerr, sizeof(jerr)) == 0;
	json_t *line = json_pack("{s:s, s:I, s:i, s:s, s:b, s:s, s:f}",
				 "outcome", outcome_names[r->outcome],
				 "status", (json_int_t)r->status, "attempts", r->attempts,
				 "class", class_names[r->class], "json_ok", json_ok,
				 "error", r->error[0] ? r->error : jerr,
				 "retry_after", r->retry_after_s);
	if (show_body && doc)
		json_object_set(line, "body", doc);
	json_decref(doc);
	print_json_line(line);
	return r->outcome == HTTP_DONE;
}

static void fill_requests(struct http_request *reqs, char **urls, int n_urls, long count,
			  const struct debug_opts *o, const char *const *headers)
{
	size_t k = 0;
	for (int u = 0; u < n_urls; u++) {
		for (long i = 0; i < count; i++, k++) {
			reqs[k] = (struct http_request){
				.method = o->method,
				.url = urls[u],
				.headers = headers,
				.body = o->data,
				.body_len = o->data ? strlen(o->data) : 0,
				.userpwd = o->userpwd,
				.bucket = o->bucket,
			};
		}
	}
}

static int send_requests(struct http_client *client, struct http_request *reqs, size_t n,
			 long parallel, bool show_body)
{
	struct http_response *resps = xcalloc(n, sizeof(*resps));
	bool all_done = true;
	if (parallel > 0) {
		http_send_all(client, reqs, n, resps, (int)parallel);
		for (size_t i = 0; i < n; i++)
			all_done &= report(&resps[i], show_body);
	} else {
		for (size_t i = 0; i < n; i++) {
			http_send(client, &reqs[i], &resps[i]);
			all_done &= report(&resps[i], show_body);
		}
	}
	for (size_t i = 0; i < n; i++)
		http_response_release(&resps[i]);
	free(resps);
	return all_done ? EXIT_OK : EXIT_FAILED;
}

static int apply_overrides(struct http_config *cfg, const struct debug_opts *o)
{
	if (o->max_attempts > 0)
		cfg->max_attempts = (int)o->max_attempts;
	if (o->max_bytes > 0)
		cfg->max_response_bytes = (size_t)o->max_bytes;
	if (o->backoff_set)
		cfg->backoff_base_s = o->backoff;
	if (o->backoff_cap > 0)
		cfg->backoff_cap_s = o->backoff_cap;
	return 0;
}

int cmd_debug_http(int argc, char **argv, struct global_options *g)
{
	struct debug_opts o = { .count = 1 };
	const struct opt opts[] = {
		OPT_STRING("method", &o.method),     OPT_STRING("header", &o.header),
		OPT_STRING("userpwd", &o.userpwd),   OPT_STRING("data", &o.data),
		OPT_STRING("bucket", &o.bucket),     OPT_LONG("count", &o.count),
		OPT_LONG("parallel", &o.parallel),   OPT_LONG("max-attempts", &o.max_attempts),
		{ "backoff", 0, OPT_DURATION, &o.backoff, &o.backoff_set },
		OPT_DURATION("backoff-cap", &o.backoff_cap), OPT_LONG("max-bytes", &o.max_bytes),
		OPT_FLAG("show-body", 0, &o.show_body),
		OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_debug_http);
	if (n < 0)
		return options_exit_code(n);
	if (n < 1)
		return usage_error(usage_debug_http, "no URL given");
	if (o.count < 1)
		return usage_error(usage_debug_http, "--count must be at least 1");
	/* stdout carries only the JSON lines. */
	log_setup(log_get_level(), true);
	deadline_start(g->max_runtime_s);

	struct http_config cfg;
	if (http_config_from_env(&cfg) || apply_overrides(&cfg, &o))
		return exit_code_for_error();
	const struct http_hooks hooks = { .on_rate_limited = count_rate_limited };
	struct http_client *client = http_client_new(&cfg, &hooks);

	const char *headers[2] = { o.header, NULL };
	size_t total = (size_t)n * (size_t)o.count;
	struct http_request *reqs = xcalloc(total, sizeof(*reqs));
	fill_requests(reqs, argv + 1, n, o.count, &o, o.header ? headers : NULL);
	int code = send_requests(client, reqs, total, o.parallel, o.show_body);

	print_json_line(json_pack("{s:I, s:I}", "total_attempts",
				  (json_int_t)http_client_attempts(client), "rate_limited_calls",
				  (json_int_t)rate_limited_calls));
	free(reqs);
	http_client_free(client);
	/* A signal is the scheduler talking: answer with its exit code. */
	if (deadline_reason() == STOP_SIGTERM)
		return EXIT_SIGTERM;
	if (deadline_reason() == STOP_SIGINT)
		return EXIT_SIGINT;
	return code;
}
