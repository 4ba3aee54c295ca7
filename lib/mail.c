/*
 * Mail configuration and sending (see mail.h). The one file outside the http
 * layer that talks to libcurl: SMTP is a different protocol with its own
 * easy handle, and sharing the http client's retries, limiter and hooks
 * would be wrong for it.
 */
#include "mail.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "http_trust.h"
#include "deadline.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

#define MAIL_CONNECT_TIMEOUT_S 10.0
#define MAIL_TIMEOUT_S 30.0
/* After a stop request, a mail in flight gets this long: the run still has
 * to exit within 5 s of SIGTERM. */
#define MAIL_STOP_GRACE_S 4.0

/* ------------------------------------------------------------ configuration */

bool mail_configured(void)
{
	return config_get("SMTP_URL") || config_get("MAILGUN_SMTP_SERVER") ||
	       config_get("SENDGRID_USERNAME");
}

void mail_config_release(struct mail_config *cfg)
{
	free(cfg->url);
	free(cfg->server);
	free(cfg->username);
	free(cfg->password);
	free(cfg->from);
	free(cfg->from_name);
	mail_addrs_release(&cfg->to);
	memset(cfg, 0, sizeof(*cfg));
}

/* Loopback by name or address. CURLU has already normalized IPv4 forms
 * ("127.1" is "127.0.0.1") and puts IPv6 hosts in brackets. */
static bool host_is_local(const char *host)
{
	return !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) ||
	       !strcmp(host, "[::1]");
}

/* u holds scheme, host, maybe port and path, and maybe credentials (SMTP_URL
 * only). Check it and fill the transport half of cfg; var names the variable
 * in errors, which never show the value. */
static int take_transport(struct mail_config *cfg, const char *var, CURLU *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL,
	     *raw_pass = NULL, *opts = NULL, *query = NULL, *url = NULL;
	int ret = -1;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "smtp") && strcmp(scheme, "smtps"))) {
		config_error("%s: URL scheme must be smtp or smtps", var);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		config_error("%s: URL has no host", var);
		goto out;
	}
	bool implicit = !strcmp(scheme, "smtps");
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_NO_PORT)
		curl_url_set(u, CURLUPART_PORT, implicit ? "465" : "587", 0);
	if (curl_url_get(u, CURLUPART_OPTIONS, &opts, 0) == CURLUE_OK) {
		config_error("%s: login options (;…) are not supported", var);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		config_error("%s: a query (?…) means nothing to SMTP", var);
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
	curl_url_get(u, CURLUPART_PASSWORD, &raw_pass, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
	/* Both spellings are secrets: the encoded one is what a careless
	 * message would quote. */
	redact_add(raw_pass);
	redact_add(pass);
	if (user && *user && !(pass && *pass)) {
		config_error("%s: the user name has no password", var);
		goto out;
	}
	if (pass && *pass && !(user && *user)) {
		config_error("%s: the password has no user name", var);
		goto out;
	}
	/* The URL libcurl gets carries no credentials: they go in their own
	 * options, and the URL can then appear in messages. */
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		config_error("%s: URL cannot be normalized", var);
		goto out;
	}
	curl_free(port);
	port = NULL;
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	cfg->url = xstrdup(url);
	cfg->server = xasprintf("%s:%s", host, port ? port : "?");
	if (user && *user) {
		cfg->username = xstrdup(user);
		cfg->password = xstrdup(pass);
	}
	cfg->tls = implicit ? MAIL_TLS_IMPLICIT : host_is_local(host) ? MAIL_TLS_NONE : MAIL_TLS_STARTTLS;
	cfg->source = var;
	ret = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pass);
	curl_free(raw_pass);
	curl_free(opts);
	curl_free(query);
	curl_free(url);
	return ret;
}

static int transport_from_url(struct mail_config *cfg, const char *var, const char *value)
{
	CURLU *u = curl_url();
	int ret = -1;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, value, 0);
	if (rc != CURLUE_OK)
		config_error("%s: not a valid URL (%s)", var, curl_url_strerror(rc));
	else
		ret = take_transport(cfg, var, u);
	curl_url_cleanup(u);
	return ret;
}

/* An add-on's host, port and login: the URL is assembled with CURLU so the
 * host is checked by the same parser; the credentials stay out of it. */
static int transport_from_parts(struct mail_config *cfg, const char *host_var, const char *host,
				long port, const char *user_var, const char *pass_var)
{
	const char *user, *pass;
	if (config_require(user_var, &user) || config_require_secret(pass_var, &pass))
		return -1;
	CURLU *u = curl_url();
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%ld", port);
	int ret = -1;
	if (curl_url_set(u, CURLUPART_SCHEME, port == 465 ? "smtps" : "smtp", 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PORT, portstr, 0) != CURLUE_OK) {
		config_error("%s: not a valid host name", host_var);
		goto out;
	}
	if (take_transport(cfg, host_var, u))
		goto out;
	cfg->username = xstrdup(user);
	cfg->password = xstrdup(pass);
	ret = 0;
out:
	curl_url_cleanup(u);
	return ret;
}

static int read_transport(struct mail_config *cfg)
{
	const char *v;
	if ((v = config_get("SMTP_URL")))
		return transport_from_url(cfg, "SMTP_URL", v);
	if ((v = config_get("MAILGUN_SMTP_SERVER"))) {
		long port;
		if (config_get_long("MAILGUN_SMTP_PORT", 587, 1, 65535, &port))
			return -1;
		return transport_from_parts(cfg, "MAILGUN_SMTP_SERVER", v, port,
					    "MAILGUN_SMTP_LOGIN", "MAILGUN_SMTP_PASSWORD");
	}
	if (config_get("SENDGRID_USERNAME"))
		return transport_from_parts(cfg, "SENDGRID_USERNAME", "smtp.sendgrid.net", 587,
					    "SENDGRID_USERNAME", "SENDGRID_PASSWORD");
	return config_error("SMTP_URL is not set (nor MAILGUN_SMTP_SERVER or SENDGRID_USERNAME)");
}

/* jobrun@ the add-on's sending domain, else this host, else localhost. */
static char *default_from(void)
{
	const char *domain = config_get("MAILGUN_DOMAIN");
	char host[256] = "";
	if (!domain && !gethostname(host, sizeof(host) - 1))
		domain = host;
	char *addr = xasprintf("jobrun@%s", domain && *domain ? domain : "localhost");
	char *checked = NULL;
	if (mail_parse_address(addr, &checked, NULL, NULL, 0)) {
		free(addr);
		return xstrdup("jobrun@localhost");
	}
	free(checked);
	return addr;
}

int mail_config_from_env(struct mail_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	char why[160];
	const char *v;
	if (read_transport(cfg))
		goto fail;
	if (config_require("ADMIN_EMAIL", &v))
		goto fail;
	if (mail_parse_address_list(v, &cfg->to, why, sizeof(why))) {
		config_error("ADMIN_EMAIL: %s (expected addresses separated by commas)", why);
		goto fail;
	}
	if ((v = config_get("MAIL_FROM"))) {
		if (mail_parse_address(v, &cfg->from, &cfg->from_name, why, sizeof(why))) {
			config_error("MAIL_FROM: %s (expected addr@domain or Name <addr@domain>)",
				     why);
			goto fail;
		}
	} else {
		cfg->from = default_from();
	}
	return 0;
fail:
	mail_config_release(cfg);
	return -1;
}

/* ------------------------------------------------------------------ sending */

/* What the server answered, read from the SMTP dialogue. libcurl reports a
 * failed RCPT only by its code, and with several recipients not at all, so
 * the replies are followed here: commands go out one at a time, each reply
 * belongs to the last command. */
struct dialogue {
	bool in_rcpt;
	size_t accepted, refused;
	char refusal[200]; /* the first refused recipient's reply */
	char failure[200]; /* the last 4xx/5xx reply */
};

struct upload {
	const char *data;
	size_t len, off;
	double stop_seen; /* monotonic time a stop request was first seen, or 0 */
};

/* A reply line, printable ASCII only, for messages. */
static void keep_reply(char *dst, size_t cap, const char *line, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		dst[n++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	dst[n] = '\0';
}

static void on_reply_line(struct dialogue *d, const char *line, size_t len)
{
	/* "250-…" continues a reply; "250 …" (or a bare "250") ends it. */
	if (len < 3 || line[0] < '2' || line[0] > '5' || (len > 3 && line[3] != ' '))
		return;
	bool ok = line[0] == '2' || line[0] == '3';
	if (!ok)
		keep_reply(d->failure, sizeof(d->failure), line, len);
	if (!d->in_rcpt)
		return;
	d->in_rcpt = false;
	if (ok) {
		d->accepted++;
	} else {
		if (!d->refused)
			keep_reply(d->refusal, sizeof(d->refusal), line, len);
		d->refused++;
	}
}

/* Only the command word of what goes out is looked at: the AUTH lines that
 * follow carry the credentials and are never kept. */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *ctx)
{
	(void)easy;
	struct dialogue *d = ctx;
	if (type == CURLINFO_HEADER_OUT) {
		d->in_rcpt = size >= 8 && !strncasecmp(data, "RCPT TO:", 8);
	} else if (type == CURLINFO_HEADER_IN) {
		size_t start = 0;
		for (size_t i = 0; i <= size; i++) {
			if (i == size || data[i] == '\n') {
				size_t end = i;
				if (end > start && data[end - 1] == '\r')
					end--;
				if (end > start)
					on_reply_line(d, data + start, end - start);
				start = i + 1;
			}
		}
	}
	return 0;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ctx)
{
	struct upload *up = ctx;
	size_t n = up->len - up->off;
	if (n > size * nmemb)
		n = size * nmemb;
	memcpy(dst, up->data + up->off, n);
	up->off += n;
	return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	struct upload *up = ctx;
	if (!deadline_should_stop())
		return 0;
	double now = clock_mono();
	if (!up->stop_seen)
		up->stop_seen = now;
	return now - up->stop_seen > MAIL_STOP_GRACE_S;
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getentropy(r, nbytes)) {
		/* Uniqueness, not secrecy, is what ids and boundaries need. */
		static unsigned counter;
		unsigned long long x = (unsigned long long)(clock_wall() * 1e6) ^
				       ((unsigned long long)getpid() << 32) ^ ++counter;
		for (size_t i = 0; i < nbytes; i++, x = x * 6364136223846793005ULL + 1)
			r[i] = (unsigned char)(x >> 56);
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static long clamp_ms(double s)
{
	return s < 0.001 ? 1 : (long)(s * 1000);
}

static const char *tls_name(enum mail_tls t)
{
	return t == MAIL_TLS_IMPLICIT ? "TLS" : t == MAIL_TLS_STARTTLS ? "STARTTLS" : "plain";
}

static void set_result_error(struct mail_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_result_error(struct mail_result *res, const char *fmt, ...)
{
	char raw[sizeof(res->error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	char *safe = redact_string(raw);
	snprintf(res->error, sizeof(res->error), "%s", safe);
	free(safe);
}

static void set_recipients(struct curl_slist **list, const struct mail_addrs *to)
{
	for (size_t i = 0; i < to->n; i++) {
		char *r = xasprintf("<%s>", to->addr[i]);
		*list = curl_slist_append(*list, r);
		free(r);
	}
}

int mail_send(const struct mail_config *cfg, const struct mail_message *msg,
	      struct mail_result *res)
{
	memset(res, 0, sizeof(*res));
	struct buf text = BUF_INIT;
	struct curl_slist *rcpt = NULL;
	CURL *easy = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	char why[160], id_hex[33], bnd_hex[33], stamp[32];
	struct dialogue d = { 0 };
	int ret = -1;

	double now = clock_wall();
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	random_hex(id_hex, 16);
	random_hex(bnd_hex, 16);
	char *message_id = xasprintf("<%s.%s@%s>", stamp, id_hex, strchr(cfg->from, '@') + 1);
	char *boundary = xasprintf("=_jobrun_%s", bnd_hex);
	char *from = xasprintf("<%s>", cfg->from);
	struct mail_envelope env = {
		.from = cfg->from,
		.from_name = cfg->from_name,
		.to = &cfg->to,
		.date = now,
		.message_id = message_id,
		.boundary = boundary,
	};
	if (mail_build(&text, &env, msg, why, sizeof(why))) {
		set_result_error(res, "cannot build the message: %s", why);
		goto out;
	}

	easy = curl_easy_init();
	if (!easy) {
		set_result_error(res, "cannot create a transfer");
		goto out;
	}
	struct upload up = { buf_str(&text), text.len, 0, 0 };
	curl_easy_setopt(easy, CURLOPT_URL, cfg->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USE_SSL,
			 (long)(cfg->tls == MAIL_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	http_trust_apply(easy);
	if (cfg->username) {
		curl_easy_setopt(easy, CURLOPT_USERNAME, cfg->username);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, cfg->password);
	}
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from);
	set_recipients(&rcpt, &cfg->to);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpt);
	/* One refused admin address must not cost the others their mail.
	 * The option was misspelt until 8.2; 7.88 knows only that name. */
#if LIBCURL_VERSION_NUM >= 0x080200
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(easy, CURLOPT_READDATA, &up);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)text.len);
	/* The debug callback sees the dialogue only in verbose mode; with a
	 * callback set, libcurl itself prints nothing. */
	curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(easy, CURLOPT_DEBUGDATA, &d);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &up);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	double budget = deadline_should_stop() ? MAIL_STOP_GRACE_S : deadline_remaining();
	if (budget > MAIL_TIMEOUT_S)
		budget = MAIL_TIMEOUT_S;
	if (budget < MAIL_STOP_GRACE_S)
		budget = MAIL_STOP_GRACE_S;
	if (msg->max_time_s > 0 && budget > msg->max_time_s)
		budget = msg->max_time_s;
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, clamp_ms(budget));
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
			 clamp_ms(budget < MAIL_CONNECT_TIMEOUT_S ? budget : MAIL_CONNECT_TIMEOUT_S));

	CURLcode rc = curl_easy_perform(easy);
	if (rc != CURLE_OK) {
		const char *what = curl_err[0] ? curl_err : curl_easy_strerror(rc);
		set_result_error(res, "%s (%s) failed: %s%s%s", cfg->server, tls_name(cfg->tls),
				 what, d.failure[0] ? "; server said: " : "", d.failure);
		log_error("mail not sent", LF_S("server", cfg->server), LF_S("error", res->error),
			  LF_S("message_id", message_id));
		goto out;
	}
	res->sent = true;
	res->recipients = d.accepted;
	if (d.refused) {
		set_result_error(res, "%zu of %zu recipients refused; server said: %s", d.refused,
				 cfg->to.n, d.refusal);
		log_error("mail recipients refused", LF_S("server", cfg->server),
			  LF_S("error", res->error), LF_S("message_id", message_id));
	}
	log_info("mail sent", LF_S("server", cfg->server), LF_I("recipients", d.accepted),
		 LF_S("message_id", message_id));
	ret = 0;
out:
	if (ret && !res->error[0])
		set_result_error(res, "not sent");
	if (easy)
		curl_easy_cleanup(easy);
	curl_slist_free_all(rcpt);
	buf_release(&text);
	free(message_id);
	free(boundary);
	free(from);
	return ret;
}

json_t *mail_result_json(const struct mail_result *res)
{
	return json_pack("{s:b, s:I, s:s?}", "sent", res->sent, "recipients",
			 (json_int_t)res->recipients, "error",
			 res->error[0] ? res->error : NULL);
}

/* ------------------------------------------------------------- doctor --mail */

/* The subject and body exercise what jobs send: non-ASCII folded across
 * encoded words, a line too long for SMTP without soft breaks, lines that
 * start with a dot (one of them nothing but the dot, which would end the
 * DATA phase if libcurl did not stuff it), trailing spaces, and a CSV
 * attachment as orphans sends. test/t/0050-mail.sh compares them exactly. */
static const char test_subject[] =
	"jobrun doctor: test message \xe2\x9c\x93 \xe2\x80\x94 v\xc3\xa9rification de la "
	"livraison du courrier \xc3\xa9lectronique";
static const char test_body[] =
	"This is a test message from `jobrun doctor --mail`.\n"
	"If you can read it, jobrun can send you mail.\n"
	"\n"
	".a line that starts with a dot\n"
	".\n"
	"..two dots\n"
	"trailing spaces   \n"
	"A long line: 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
	"0123456789 0123456789 0123456789 = \xc3\xa9t\xc3\xa9 \xe2\x9c\x93\n"
	"The attachment is a small CSV, as the orphans job sends.\n";
static const char test_csv[] = "id,name\r\n"
			       "1,\"Caf\xc3\xa9, \xe2\x9c\x93\"\r\n"
			       ".2,starts with a dot\r\n";

int mail_send_test(char *detail, size_t detail_len)
{
	struct mail_config cfg;
	if (mail_config_from_env(&cfg)) {
		snprintf(detail, detail_len, "%s", error_last() ? error_last() : "not configured");
		return -1;
	}
	const struct mail_attachment csv = { "jobrun-doctor.csv", "text/csv; charset=utf-8",
					     test_csv, sizeof(test_csv) - 1 };
	const struct mail_message msg = { .subject = test_subject, .body = test_body,
					  .attachments = &csv, .n_attachments = 1 };
	struct mail_result res;
	int rc = mail_send(&cfg, &msg, &res);
	if (rc)
		snprintf(detail, detail_len, "%s", res.error);
	else
		snprintf(detail, detail_len, "sent to %zu of %zu recipient%s via %s (%s)%s%s",
			 res.recipients, cfg.to.n, cfg.to.n == 1 ? "" : "s", cfg.server,
			 tls_name(cfg.tls), res.error[0] ? ": " : "", res.error);
	/* Doctor's line must fail when anyone on the list was refused. */
	if (!rc && res.recipients < cfg.to.n)
		rc = -1;
	mail_config_release(&cfg);
	return rc;
}
