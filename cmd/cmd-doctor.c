/*
 * The setup checklist as a command: each line ok, warn or FAIL, and an exit
 * code an operator (or a release phase) can act on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "migrate.h"
#include "options.h"
#include "providers.h"

const char usage_doctor[] =
	"usage: jobrun doctor [--online] [--mail]\n"
	"\n"
	"Check configuration, database reachability and schema version.\n"
	"  --online   also send one cheap authenticated request to each configured provider\n"
	"  --mail     also send a test message to ADMIN_EMAIL (verify email delivery)\n"
	"Exit 0 when every line is ok or a warning, 78 when configuration is wrong, else 1.\n";

struct checklist {
	int failed;
	int config_failed;
};

static void line(struct checklist *c, const char *status, const char *what, const char *detail)
{
	printf("%-5s %-28s %s\n", status, what, detail ? detail : "");
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
	const char *runtime = config_get("JOBRUN_MAX_RUNTIME");
	int rc = config_get_duration("JOBRUN_MAX_RUNTIME", 540, &d);
	config_line(c, "JOBRUN_MAX_RUNTIME", rc, runtime ? runtime : "9m (default)");
	rc = config_get_duration("JOBRUN_STATEMENT_TIMEOUT", 120, &d);
	config_line(c, "JOBRUN_STATEMENT_TIMEOUT", rc, NULL);
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

static void check_database(struct checklist *c)
{
	char *target = db_describe_target();
	struct db *db;
	if (db_open(&db, 10)) {
		line(c, "FAIL", "database", error_last());
		if (error_last_kind() == ERR_CONFIG)
			c->config_failed++;
		free(target);
		return;
	}
	line(c, "ok", "database", target);
	free(target);
	int current = migrate_current_version(db), latest = migrate_latest_version();
	char detail[96];
	snprintf(detail, sizeof(detail), "version %d of %d%s", current, latest,
		 current < latest ? ": run 'jobrun migrate'" : "");
	line(c, current == latest ? "ok" : "FAIL", "schema", detail);
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
	check_database(&c);
	if (online)
		check_online(&c);
	if (mail)
		check_mail(&c);
	if (c.config_failed)
		return EXIT_CONFIG;
	return c.failed ? EXIT_FAILED : EXIT_OK;
}
