/*
 * A throwaway second provider on the provider pattern (lib/provider.h),
 * against test/fakes/httpfake.py's generic personality: what adding a
 * provider takes is this file — a descriptor, a bucket map and the typed
 * calls; everything else (auth, budget, rate headers, the limiter, paging,
 * streams on a pool, sanitizing, the result enum) is the pattern's.
 *
 * Each STREAM is STYLE:NAME (cursor, links or offset) and pages
 * /<style route>/NAME to its end, in bucket "<integration>/NAME" (never the
 * key: the key is a header, FAKEPROV_KEY). Prints one JSON line per page and
 * a summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "deadline.h"
#include "http.h"
#include "limiter.h"
#include "log.h"
#include "options.h"
#include "provider.h"
#include "task.h"
#include "xalloc.h"

const char usage_debug_provider[] =
	"usage: test-tool debug-provider [--convention generic|cloudinary] [--integration NAME]\n"
	"                                [--limit N] [--window N --period D] [--spacing D]\n"
	"                                [--slow NAME --slow-spacing D] [--page-size N]\n"
	"                                [--parallel N] [--sequential] [--max-wait D] STREAM...\n"
	"\n"
	"Test job: a second provider (FAKEPROV_URL, key in FAKEPROV_KEY sent as header\n"
	"api-key) pages each STREAM (cursor:NAME, links:NAME or offset:NAME) to its end,\n"
	"all at once on one pool (--parallel, default 2) or one after another\n"
	"(--sequential). Every stream's bucket is <integration>/NAME with --window\n"
	"requests per --period and --spacing; --slow NAME gets --slow-spacing instead.\n"
	"--convention picks the rate headers read: X-RateLimit-* (seconds) or\n"
	"X-FeatureRateLimit-* (HTTP date). --limit: request budget of the run.\n";

#define MAX_STREAMS 8

struct fp_opts {
	const char *convention, *integration, *slow;
	long limit, window, page_size, parallel;
	double period, spacing, slow_spacing, max_wait;
	bool sequential;
};

/* The typed client: its buckets, one per stream. */
struct fakeprov {
	struct rl_bucket buckets[MAX_STREAMS];
	char names[MAX_STREAMS][96];
	int n;
};

static int fp_map(struct provider *p, const char *bucket, const struct rl_bucket **out)
{
	struct fakeprov *fp = p->client;
	for (int i = 0; bucket && i < fp->n; i++) {
		if (!strcmp(fp->names[i], bucket)) {
			*out = &fp->buckets[i];
			return 1;
		}
	}
	return 0;
}

/* The descriptor: two rate-header conventions of the same stand-in. */
#define FAKEPROV_DESC(conv)                                                          \
	{                                                                            \
		.name = "fakeprov", .url_var = "FAKEPROV_URL",                       \
		.default_url = "http://127.0.0.1:9", .secret_var = "FAKEPROV_KEY",   \
		.auth = PROVIDER_AUTH_HEADER, .auth_name = "api-key", .rate = conv,  \
		.default_budget = 0, .map = fp_map,                                  \
	}

static const struct provider_desc fakeprov_generic = FAKEPROV_DESC(((struct provider_rate_headers){
	"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", PROVIDER_RESET_SECONDS,
	false }));
static const struct provider_desc fakeprov_cloudinary = FAKEPROV_DESC(((struct provider_rate_headers){
	"X-FeatureRateLimit-Limit", "X-FeatureRateLimit-Remaining", "X-FeatureRateLimit-Reset",
	PROVIDER_RESET_HTTP_DATE, false }));

struct stream_state {
	char name[64];
	char route[16];
	char bucket[96];
	char label[96];
	enum provider_paging style;
	const char *items;
	long pages, total;
	enum provider_result result;
	char error[512];
	struct http_pool *pool;
};

static int parse_stream(const char *arg, const char *integration, struct stream_state *s)
{
	const char *colon = strchr(arg, ':');
	if (!colon || !colon[1])
		return -1;
	size_t n = (size_t)(colon - arg);
	const char *route;
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", colon + 1);
	if (n == 6 && !strncmp(arg, "cursor", n)) {
		s->style = PROVIDER_PAGING_CURSOR;
		s->items = "resources";
		route = "cursor";
	} else if (n == 5 && !strncmp(arg, "links", n)) {
		s->style = PROVIDER_PAGING_LINKS;
		s->items = s->name; /* ShipStation names the list after the resource */
		route = "paged";
	} else if (n == 6 && !strncmp(arg, "offset", n)) {
		s->style = PROVIDER_PAGING_OFFSET;
		s->items = "results";
		route = "offset";
	} else {
		return -1;
	}
	snprintf(s->bucket, sizeof(s->bucket), "%s/%.60s", integration, colon + 1);
	snprintf(s->route, sizeof(s->route), "%s", route);
	snprintf(s->label, sizeof(s->label), "GET /%s/%.60s", route, colon + 1);
	return 0;
}

static void print_page(const struct stream_state *s, const struct provider_reply *r, size_t items,
		       int active)
{
	json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:I, s:i}", "stream", s->name, "page",
			      (json_int_t)s->pages, "result", provider_result_name(r->result),
			      "items", (json_int_t)items, "status", (json_int_t)r->status, "active",
			      active);
	if (r->error[0])
		json_object_set_new(o, "error", json_string(r->error));
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	fflush(stdout);
	free(text);
	json_decref(o);
}

static void note_page(struct stream_state *s, const struct provider_reply *r, json_t *items,
		      int active)
{
	s->result = r->result;
	if (r->result == PROVIDER_OK) {
		s->pages++;
		s->total += (long)json_array_size(items);
	} else {
		snprintf(s->error, sizeof(s->error), "%s", r->error);
	}
	print_page(s, r, json_array_size(items), active);
}

static int on_page(void *arg, const struct provider_reply *r, json_t *items)
{
	struct stream_state *s = arg;
	note_page(s, r, items, http_pool_active(s->pool));
	return r->result == PROVIDER_OK ? 0 : -1;
}

static void page_params(const struct stream_state *s, long page_size, char *buf, size_t len,
			const char *params[3])
{
	snprintf(buf, len, "%ld", page_size);
	params[0] = s->style == PROVIDER_PAGING_CURSOR ? "max_results"
		    : s->style == PROVIDER_PAGING_LINKS ? "page_size" : "limit";
	params[1] = buf;
	params[2] = NULL;
}

static void run_sequential(struct provider *p, struct stream_state *st, int n, long page_size)
{
	for (int i = 0; i < n; i++) {
		struct stream_state *s = &st[i];
		const char *segments[] = { s->route, s->name, NULL };
		char size[32];
		const char *params[3];
		page_params(s, page_size, size, sizeof(size), params);
		struct provider_call call = { .segments = segments, .params = params,
					      .bucket = s->bucket, .label = s->label };
		struct provider_pager pg;
		provider_pager_init(&pg, s->style, s->items);
		while (!pg.done) {
			struct provider_reply r;
			json_t *items;
			provider_page(p, &call, &pg, &r, &items);
			note_page(s, &r, items, 0);
			provider_reply_release(&r);
			if (s->result != PROVIDER_OK)
				break;
		}
		provider_pager_release(&pg);
	}
}

static void run_pool(struct provider *p, struct stream_state *st, int n, long page_size,
		     long parallel)
{
	struct http_pool *pool = http_pool_new(p->http, (int)parallel);
	for (int i = 0; i < n; i++) {
		struct stream_state *s = &st[i];
		s->pool = pool;
		const char *segments[] = { s->route, s->name, NULL };
		char size[32];
		const char *params[3];
		page_params(s, page_size, size, sizeof(size), params);
		struct provider_call call = { .segments = segments, .params = params,
					      .bucket = s->bucket, .label = s->label };
		provider_stream(p, pool, &call, s->style, s->items, on_page, s);
	}
	http_pool_run(pool);
	http_pool_free(pool);
}

static enum run_status final_status(const struct stream_state *st, int n)
{
	enum run_status status = RUN_SUCCEEDED;
	for (int i = 0; i < n; i++) {
		if (st[i].result == PROVIDER_STOPPED)
			return RUN_INTERRUPTED;
		if (st[i].result != PROVIDER_OK)
			status = RUN_PARTIAL;
	}
	return status;
}

static int run_provider(struct task *t, const struct fp_opts *o, struct stream_state *st, int n)
{
	const struct provider_desc *d =
		!strcmp(o->convention, "cloudinary") ? &fakeprov_cloudinary : &fakeprov_generic;
	char *base_url = NULL;
	const char *secret;
	struct fakeprov fp = { .n = n };
	for (int i = 0; i < n; i++) {
		bool slow = o->slow && !strcmp(o->slow, st[i].name);
		snprintf(fp.names[i], sizeof(fp.names[i]), "%s", st[i].bucket);
		fp.buckets[i] = (struct rl_bucket){ d->name, fp.names[i], o->window, o->period,
						    slow ? o->slow_spacing : o->spacing, false };
	}
	struct db *rl_db = task_rl_db(t);
	if (!rl_db || provider_config_from_env(d, true, &base_url, &secret)) {
		int code = exit_code_for_error();
		task_end(t, RUN_FAILED, error_last());
		free(base_url);
		return code;
	}
	struct provider p;
	provider_init(&p, d, base_url, secret, &fp, o->limit);
	free(base_url);
	struct limiter lim;
	limiter_init(&lim, rl_db, provider_map_buckets, &p, o->max_wait);
	struct http_hooks hooks = provider_hooks(&p, &lim);
	p.http = task_http(t, &hooks);
	if (p.http) {
		if (o->sequential)
			run_sequential(&p, st, n, o->page_size);
		else
			run_pool(&p, st, n, o->page_size, o->parallel);
		http_client_set_hooks(p.http, NULL);
	}
	json_t *streams = json_object();
	long long items = 0;
	for (int i = 0; i < n; i++) {
		items += st[i].total;
		json_object_set_new(streams, st[i].name,
				    json_pack("{s:I, s:I, s:s}", "items", (json_int_t)st[i].total,
					      "pages", (json_int_t)st[i].pages, "result",
					      provider_result_name(st[i].result)));
	}
	json_t *sum = json_pack("{s:O, s:I, s:I}", "streams", streams, "attempts",
				(json_int_t)p.attempts, "granted", (json_int_t)lim.granted);
	char *text = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	fflush(stdout);
	free(text);
	t->run.processed = t->run.succeeded = items;
	t->run.api_requests = p.attempts;
	json_object_set_new(t->run.summary, "streams", streams);
	json_decref(sum);
	enum run_status status = p.http ? final_status(st, n) : RUN_FAILED;
	const char *why = NULL;
	for (int i = 0; i < n && !why; i++)
		if (st[i].error[0])
			why = st[i].error;
	provider_release(&p);
	return exit_code_for_run(task_end(t, status, status == RUN_SUCCEEDED ? NULL : why));
}

int cmd_debug_provider(int argc, char **argv, struct global_options *g)
{
	struct fp_opts o = { .convention = "generic", .integration = "acme", .page_size = 10,
			     .parallel = 2, .max_wait = 30 };
	const struct opt opts[] = {
		OPT_STRING("convention", &o.convention), OPT_STRING("integration", &o.integration),
		OPT_STRING("slow", &o.slow), OPT_LONG("limit", &o.limit),
		OPT_LONG("window", &o.window), OPT_DURATION("period", &o.period),
		OPT_DURATION("spacing", &o.spacing), OPT_DURATION("slow-spacing", &o.slow_spacing),
		OPT_LONG("page-size", &o.page_size), OPT_LONG("parallel", &o.parallel),
		OPT_FLAG("sequential", 0, &o.sequential), OPT_DURATION("max-wait", &o.max_wait),
		OPT_TABLE_END,
	};
	int n = parse_options(argc, argv, opts, g, usage_debug_provider);
	if (n < 0)
		return options_exit_code(n);
	if (n < 1 || n > MAX_STREAMS)
		return usage_error(usage_debug_provider, "give 1 to 8 streams");
	if (strcmp(o.convention, "generic") && strcmp(o.convention, "cloudinary"))
		return usage_error(usage_debug_provider, "--convention is generic or cloudinary");
	if (o.window > 0 && !(o.period > 0))
		return usage_error(usage_debug_provider, "--window needs a --period");
	struct stream_state st[MAX_STREAMS];
	for (int i = 0; i < n; i++)
		if (parse_stream(argv[1 + i], o.integration, &st[i]))
			return usage_error(usage_debug_provider, "a stream is cursor:NAME, links:NAME or offset:NAME");
	log_setup(log_get_level(), true);
	deadline_start(g->max_runtime_s);

	char lock[64];
	snprintf(lock, sizeof(lock), "debug-provider:%ld", (long)getpid());
	struct task t;
	struct task_options to = { .job = "debug-provider", .lock_key = lock, .json = g->json };
	to.args = json_pack("{s:s, s:s, s:I}", "convention", o.convention, "integration",
			    o.integration, "limit", (json_int_t)o.limit);
	int code;
	if (command_start_task(&t, &to, &code))
		return code;
	return run_provider(&t, &o, st, n);
}
