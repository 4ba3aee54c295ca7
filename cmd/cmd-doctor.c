/*
 * The setup checklist as a command: each line ok, warn or FAIL, and an exit
 * code an operator (or a release phase) can act on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_binding.h"
#include "buf.h"
#include "commands.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "migrate.h"
#include "notify.h"
#include "options.h"
#include "providers.h"
#include "redact.h"
#include "task.h"
#include "xalloc.h"

const char usage_doctor[] =
	"usage: jobrun doctor [--online] [--mail]\n"
	"\n"
	"Check configuration, database reachability and schema version.\n"
	"  --online   also send one cheap authenticated request to each configured provider\n"
	"             (not to the notification endpoints: a test ping is an event there)\n"
	"  --mail     also send a test message to ADMIN_EMAIL (verify email delivery)\n"
	"Exit 0 when every line is ok or a warning, 78 when configuration is wrong, else 1.\n";

struct checklist {
	int failed;
	int config_failed;
};

/* Every line goes through the central redaction: details quote providers'
 * answers and connection facts, and either may echo a secret. */
static void line(struct checklist *c, const char *status, const char *what, const char *detail)
{
	char *safe_what = redact_string(what), *safe_detail = redact_string(detail);
	printf("%-5s %-28s %s\n", status, safe_what, safe_detail);
	free(safe_what);
	free(safe_detail);
	if (!strcmp(status, "FAIL"))
		c->failed++;
}

static void config_line(struct checklist *c, const char *what, int rc, const char *ok_detail)
{
	if (rc) {
		line(c, "FAIL", what, error_last());
		c->config_failed++;
	} else {
		line(c, "ok", what, ok_detail);
	}
}

static void check_config(struct checklist *c)
{
	struct http_config hc;
	double d;
	char shown[64];
	/* The defaults the commands use, from the modules that own them. */
	int rc = config_get_duration("JOBRUN_MAX_RUNTIME", DEFAULT_MAX_RUNTIME_S, &d);
	format_duration(d, shown, sizeof(shown));
	if (!config_get("JOBRUN_MAX_RUNTIME"))
		strcat(shown, " (default)");
	config_line(c, "JOBRUN_MAX_RUNTIME", rc, shown);
	rc = task_statement_timeout(&d);
	format_duration(d, shown, sizeof(shown));
	if (!config_get("JOBRUN_STATEMENT_TIMEOUT"))
		strcat(shown, " (default)");
	config_line(c, "JOBRUN_STATEMENT_TIMEOUT", rc, shown);
	rc = http_config_from_env(&hc);
	config_line(c, "http settings", rc, rc ? NULL : hc.user_agent);
	for (const struct provider_check *p = provider_checks; p->name; p++) {
		if (!p->configured()) {
			line(c, "warn", p->name, "not configured (jobs that need it will fail)");
			continue;
		}
		config_line(c, p->name, p->validate(), "configured");
	}
}

/* What each notification signal would do, by host and setting, never by
 * URL: the paths and queries hold the keys. Read as a run reads it, so a
 * setting that would stop every run with 78 is a FAIL here. */
static void check_notify(struct checklist *c)
{
	struct notify n;
	char text[256], on[64];
	error_clear();
	if (notify_config_from_env(&n)) {
		line(c, "FAIL", "notifications", error_last());
		c->config_failed++;
		return;
	}
	if (n.ping_url) {
		struct buf ev = BUF_INIT;
		for (int e = 0; e < NOTIFY_EVENTS; e++)
			if (n.ping_word[e])
				buf_addf(&ev, "%s%s=%s", ev.len ? "," : "",
					 notify_event_name((enum notify_event)e),
					 n.ping_word[e]);
		char *d = xasprintf("host %s, events %s%s", n.ping_host ? n.ping_host : "?",
				    ev.len ? buf_str(&ev) : "none",
				    config_get("JOBRUN_PING_EVENTS") ? "" : " (default)");
		line(c, "ok", "notify ping", d);
		free(d);
		buf_release(&ev);
	}
	if (n.webhook_url) {
		snprintf(text, sizeof(text), "host %s, format %s%s",
			 n.webhook_host ? n.webhook_host : "?", notify_format_name(n.webhook_format),
			 config_get("JOBRUN_WEBHOOK_FORMAT") ? "" : " (from the host)");
		line(c, "ok", "notify webhook", text);
	}
	if (n.mail) {
		snprintf(text, sizeof(text), "to %zu ADMIN_EMAIL address%s via %s (%s)", n.mail_cfg.to.n,
			 n.mail_cfg.to.n == 1 ? "" : "es", n.mail_cfg.server, n.mail_cfg.source);
		line(c, "ok", "notify mail", text);
	} else if (config_get("ADMIN_EMAIL")) {
		line(c, "warn", "notify mail",
		     "ADMIN_EMAIL is set but no mail transport (SMTP_URL, Mailgun, SendGrid): no mail alerts");
	}
	if (!n.ping_url && !notify_alerts_on(&n)) {
		line(c, "warn", "notifications", "none configured (README \"Notifications\")");
		notify_release(&n);
		return;
	}
	notify_on_text(n.on, on, sizeof(on));
	snprintf(text, sizeof(text), "%s%s%s", on, config_get("JOBRUN_NOTIFY_ON") ? "" : " (default)",
		 notify_alerts_on(&n) ? "" : "; alerts go by webhook or mail: neither is configured");
	line(c, "ok", "JOBRUN_NOTIFY_ON", text);
	format_duration(n.budget_s, text, sizeof(text));
	if (!config_get("JOBRUN_NOTIFY_TIMEOUT"))
		strcat(text, " (default)");
	line(c, "ok", "JOBRUN_NOTIFY_TIMEOUT", text);
	notify_release(&n);
}

static void list_missing(const char *kind, const char *name, void *ctx)
{
	struct buf *b = ctx;
	buf_addf(b, "%s%s %s", b->len ? ", " : "", kind, name);
}

/* The version number says which migrations ran; the objects say whether
 * what they created is still there (a dropped schema keeps its version). */
static void check_schema(struct checklist *c, struct db *db)
{
	int current = migrate_current_version(db), latest = migrate_latest_version();
	char detail[160];
	if (current < 0) {
		line(c, "FAIL", "schema", error_last());
		return;
	}
	if (migrate_refuse_newer(current)) {
		line(c, "FAIL", "schema", error_last());
		c->config_failed++;
		return;
	}
	snprintf(detail, sizeof(detail), "version %d of %d%s", current, latest,
		 current < latest ? ": run 'jobrun migrate'" : "");
	line(c, current == latest ? "ok" : "FAIL", "schema", detail);
	if (current == 0)
		return; /* nothing applied, nothing to look for */
	struct buf missing = BUF_INIT;
	int n = migrate_check_objects(db, current, list_missing, &missing);
	if (n < 0) {
		line(c, "FAIL", "schema objects", error_last());
	} else if (n > 0) {
		char *text = xasprintf("%d missing: %s", n, buf_str(&missing));
		line(c, "FAIL", "schema objects", text);
		free(text);
	} else {
		line(c, "ok", "schema objects", "every table, index and function is there");
	}
	buf_release(&missing);
}

/* The app's views and function for cleanup and orphans: an app that runs
 * neither needs none, so a missing one is a warning; a mis-shaped one is a
 * configuration error. */
static void check_binding(struct checklist *c, struct db *db)
{
	for (int o = 0; o < BINDING_N; o++) {
		struct binding_status st;
		char what[64], *detail = NULL;
		snprintf(what, sizeof(what), "binding %s", binding_name(o));
		if (binding_inspect(db, o, &st)) {
			line(c, "FAIL", what, error_last());
			continue;
		}
		if (st.state == BINDING_OK)
			detail = xasprintf("ok (%s)", binding_used_by(o));
		else if (st.state == BINDING_MISSING)
			detail = xasprintf("missing (%s needs it): define %s", binding_used_by(o),
					   binding_expected(o));
		else
			detail = xasprintf("mis-shaped: %s; expected %s", st.detail, binding_expected(o));
		line(c, st.state == BINDING_OK ? "ok" : st.state == BINDING_MISSING ? "warn" : "FAIL",
		     what, detail);
		if (st.state == BINDING_MISSHAPED)
			c->config_failed++;
		free(detail);
	}
}

static void check_database(struct checklist *c)
{
	struct db *db;
	if (db_open(&db, 10)) {
		line(c, "FAIL", "database", error_last());
		if (error_last_kind() == ERR_CONFIG)
			c->config_failed++;
		return;
	}
	char *target = db_describe(db);
	line(c, "ok", "database", target);
	free(target);
	check_schema(c, db);
	check_binding(c, db);
	db_close(db);
}

static void check_online(struct checklist *c)
{
	for (const struct provider_check *p = provider_checks; p->name; p++) {
		if (!p->configured())
			continue;
		char detail[512] = "";
		int rc = p->ping(detail, sizeof(detail));
		char what[64];
		snprintf(what, sizeof(what), "%s (online)", p->name);
		line(c, rc ? "FAIL" : "ok", what, detail);
	}
}

/* The configuration is read here, so a malformed SMTP_URL counts as one. */
static void check_mail(struct checklist *c)
{
	char detail[600];
	error_clear();
	int rc = mail_send_test(detail, sizeof(detail));
	line(c, rc ? "FAIL" : "ok", "mail (test message)", detail);
	if (rc && error_last_kind() == ERR_CONFIG)
		c->config_failed++;
}

int cmd_doctor(int argc, char **argv, struct global_options *g)
{
	bool online = false, mail = false;
	const struct opt opts[] = { OPT_FLAG("online", 0, &online), OPT_FLAG("mail", 0, &mail),
				    OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_doctor);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_doctor, "doctor takes no arguments");
	/* The checklist is the output; log lines would only repeat it. */
	log_setup(LOG_QUIET, false);
	struct checklist c = { 0, 0 };
	check_config(&c);
	check_notify(&c);
	check_database(&c);
	if (online)
		check_online(&c);
	if (mail)
		check_mail(&c);
	if (c.config_failed)
		return EXIT_CONFIG;
	return c.failed ? EXIT_FAILED : EXIT_OK;
}
