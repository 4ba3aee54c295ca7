#include "migrate.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

#define MIGRATE_LOCK "jobrun:migrate"

/* Created outside the numbered migrations: it records them. Runs under the
 * migrate lock, because concurrent CREATE … IF NOT EXISTS can still collide. */
static const char bootstrap_sql[] =
	"CREATE SCHEMA IF NOT EXISTS jobrun;"
	"CREATE TABLE IF NOT EXISTS jobrun.schema_migrations ("
	"  version integer PRIMARY KEY,"
	"  name text NOT NULL,"
	"  applied_at timestamptz NOT NULL DEFAULT now())";

static int is_applied(struct db_result *applied, int version)
{
	for (int i = 0; i < db_rows(applied); i++)
		if (db_ll(applied, i, 0, -1) == version)
			return 1;
	return 0;
}

static int apply_one(struct db *db, const struct migration *m)
{
	char version[16];
	snprintf(version, sizeof(version), "%d", m->version);
	const char *params[] = { version, m->name };
	if (db_begin(db))
		return -1;
	if (db_exec_script(db, m->sql) ||
	    db_exec(db, "INSERT INTO jobrun.schema_migrations (version, name) VALUES ($1, $2)", 2,
		    params) ||
	    db_commit(db)) {
		db_rollback(db);
		return error("migration %04d_%s failed; nothing of it was applied", m->version, m->name);
	}
	log_info("applied migration", LF_I("version", m->version), LF_S("name", m->name));
	return 0;
}

int migrate_apply(struct db *db, int *applied)
{
	struct db_result *done = NULL;
	int ret = -1;
	*applied = 0;
	if (db_lock_wait(db, MIGRATE_LOCK))
		return -1;
	if (db_exec_script(db, bootstrap_sql))
		goto out;
	done = db_query(db, "SELECT version FROM jobrun.schema_migrations", 0, NULL);
	if (!done)
		goto out;
	for (int i = 0; i < migrations_count; i++) {
		if (is_applied(done, migrations[i].version))
			continue;
		if (apply_one(db, &migrations[i]))
			goto out;
		(*applied)++;
	}
	ret = 0;
out:
	db_result_free(done);
	db_unlock(db, MIGRATE_LOCK);
	return ret;
}

/* Applied versions with their time (the table must exist). */
static struct db_result *applied_versions(struct db *db)
{
	return db_query(db,
			"SELECT version, to_char(applied_at AT TIME ZONE 'UTC', "
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM jobrun.schema_migrations",
			0, NULL);
}

static int schema_exists(struct db *db, int *exists)
{
	struct db_result *r =
		db_query(db, "SELECT to_regclass('jobrun.schema_migrations') IS NOT NULL", 0, NULL);
	if (!r)
		return -1;
	*exists = db_bool(r, 0, 0);
	db_result_free(r);
	return 0;
}

int migrate_status(struct db *db, migrate_status_fn fn, void *ctx)
{
	int exists;
	if (schema_exists(db, &exists))
		return -1;
	struct db_result *r = exists ? applied_versions(db) : NULL;
	if (exists && !r)
		return -1;
	for (int i = 0; i < migrations_count; i++) {
		const char *when = NULL;
		for (int row = 0; r && row < db_rows(r); row++)
			if (db_ll(r, row, 0, -1) == migrations[i].version)
				when = db_value(r, row, 1);
		fn(&migrations[i], when, ctx);
	}
	db_result_free(r);
	return 0;
}

int migrate_current_version(struct db *db)
{
	int exists;
	if (schema_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	struct db_result *r =
		db_query(db, "SELECT coalesce(max(version), 0) FROM jobrun.schema_migrations", 0, NULL);
	if (!r)
		return -1;
	int v = (int)db_ll(r, 0, 0, 0);
	db_result_free(r);
	return v;
}

int migrate_latest_version(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

int migrate_refuse_newer(int current)
{
	int latest = migrate_latest_version();
	if (current <= latest)
		return 0;
	return config_error("database schema is at version %d, newer than this jobrun (%d): "
			    "deploy a jobrun that knows version %d",
			    current, latest, current);
}

/* ---- what the migrations create: a scan of their SQL, not a second list */

#define MAX_WORDS 12

struct scan {
	const char *p;
	char words[MAX_WORDS][128]; /* the statement's first words, lowercased */
	int n;
};

/* Skip what cannot hold a statement's words: whitespace, comments, string
 * literals and dollar-quoted bodies ($$ … $$, $tag$ … $tag$). */
static const char *skip_noise(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
		} else if (*p == '\'') {
			for (p++; *p && !(*p == '\'' && p[1] != '\''); p += *p == '\'' ? 2 : 1)
				;
			if (*p)
				p++;
		} else if (*p == '$') {
			size_t tag = 1 + strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");
			if (p[tag] != '$') /* a parameter ($1), not a quote */
				return p;
			char *delim = xstrndup(p, tag + 1);
			const char *end = strstr(p + tag + 1, delim);
			p = end ? end + tag + 1 : p + strlen(p);
			free(delim);
		} else {
			return p;
		}
	}
}

/* The next statement's first words; false at the end of the script. */
static bool next_statement(struct scan *s)
{
	s->n = 0;
	s->p = skip_noise(s->p);
	if (!*s->p)
		return false;
	while (*s->p && *s->p != ';') {
		const char *w = s->p;
		size_t len = 0;
		if (*w == '"') {
			w++;
			len = strcspn(w, "\"");
			s->p = w + len + (w[len] == '"');
		} else {
			len = strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789.");
			s->p = w + (len ? len : 1); /* punctuation: skipped */
		}
		if (len && s->n < MAX_WORDS) {
			snprintf(s->words[s->n], sizeof(s->words[0]), "%.*s", (int)len, w);
			for (char *c = s->words[s->n]; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			s->n++;
		}
		s->p = skip_noise(s->p);
	}
	if (*s->p == ';')
		s->p++;
	return true;
}

static const char *const kinds[] = { "schema", "table", "index", "view", "sequence", "function" };

static const char *kind_of(const char *word)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(word, kinds[i]))
			return kinds[i];
	return NULL;
}

static void qualify(char *out, size_t len, const char *kind, const char *name, const char *schema_of)
{
	if (!strcmp(kind, "schema") || strchr(name, '.')) {
		snprintf(out, len, "%s", name);
		return;
	}
	const char *dot = schema_of ? strchr(schema_of, '.') : NULL;
	if (dot)
		snprintf(out, len, "%.*s.%s", (int)(dot - schema_of), schema_of, name);
	else
		snprintf(out, len, "public.%s", name);
}

void migrate_scan_objects(const char *sql, migrate_object_fn fn, void *ctx)
{
	struct scan s = { .p = sql };
	while (next_statement(&s)) {
		bool create = s.n > 0 && !strcmp(s.words[0], "create");
		if (!create && !(s.n > 0 && !strcmp(s.words[0], "drop")))
			continue;
		int i = 1;
		while (i < s.n && (!strcmp(s.words[i], "or") || !strcmp(s.words[i], "replace") ||
				   !strcmp(s.words[i], "unique") || !strcmp(s.words[i], "materialized")))
			i++;
		const char *kind = i < s.n ? kind_of(s.words[i]) : NULL;
		if (!kind)
			continue;
		i++;
		while (i < s.n && (!strcmp(s.words[i], "if") || !strcmp(s.words[i], "not") ||
				   !strcmp(s.words[i], "exists") || !strcmp(s.words[i], "concurrently")))
			i++;
		if (i >= s.n || (!strcmp(kind, "index") && !strcmp(s.words[i], "on")))
			continue; /* an unnamed index: nothing to look up */
		const char *table = NULL;
		if (create && !strcmp(kind, "index"))
			for (int j = i + 1; j + 1 < s.n && !table; j++)
				if (!strcmp(s.words[j], "on"))
					table = strcmp(s.words[j + 1], "only") || j + 2 >= s.n
							? s.words[j + 1] : s.words[j + 2];
		char name[300];
		qualify(name, sizeof(name), kind, s.words[i], table);
		fn(create, kind, name, ctx);
	}
}

/* The expected objects as a JSON array of {kind, name}: created by the
 * applied migrations and not dropped by a later one. */
static void expect_object(bool create, const char *kind, const char *name, void *ctx)
{
	json_t *list = ctx;
	size_t len = strlen(name);
	for (size_t i = json_array_size(list); i-- > 0;) {
		const char *have = json_string_value(json_object_get(json_array_get(list, i), "name"));
		/* Dropping a schema drops what is in it. */
		bool inside = !strcmp(kind, "schema") && !strncmp(have, name, len) && have[len] == '.';
		if (!strcmp(have, name) || (!create && inside))
			json_array_remove(list, i);
	}
	if (create)
		json_array_append_new(list, json_pack("{s:s, s:s}", "kind", kind, "name", name));
}

static const char missing_sql[] =
	"SELECT o->>'kind', o->>'name' FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(o, n) "
	"WHERE NOT CASE o->>'kind' "
	"  WHEN 'schema' THEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = o->>'name') "
	"  WHEN 'function' THEN EXISTS (SELECT 1 FROM pg_proc p "
	"       JOIN pg_namespace s ON s.oid = p.pronamespace "
	"       WHERE s.nspname = split_part(o->>'name', '.', 1) "
	"         AND p.proname = split_part(o->>'name', '.', 2)) "
	"  ELSE EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
	"       WHERE s.nspname = split_part(o->>'name', '.', 1) "
	"         AND c.relname = split_part(o->>'name', '.', 2)) END "
	"ORDER BY n";

int migrate_check_objects(struct db *db, int version, migrate_missing_fn fn, void *ctx)
{
	json_t *list = json_array();
	for (int i = 0; i < migrations_count && migrations[i].version <= version; i++)
		migrate_scan_objects(migrations[i].sql, expect_object, list);
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	if (!text)
		return error("schema check: cannot encode the expected objects");
	const char *params[] = { text };
	struct db_result *r = db_query(db, missing_sql, 1, params);
	free(text);
	if (!r)
		return -1;
	int missing = db_rows(r);
	for (int i = 0; fn && i < missing; i++)
		fn(db_value(r, i, 0), db_value(r, i, 1), ctx);
	db_result_free(r);
	return missing;
}
