/*
 * The schedule file: a crontab a crontab reader also accepts, with jobrun's
 * additions in comments.
 *
 *	# comments and blank lines
 *	CRON_TZ=America/New_York          zone for the entries after it (default UTC)
 *	# jobrun: name=weekly grace=30m    name and misfire grace for the next entry
 *	0 3 * * sun jobrun primecache --force-volumes
 *
 * The command is split on blanks, never by a shell: characters a shell
 * would interpret are rejected, so what the file says is exactly the argv
 * the clock runs. The whole file loads or nothing does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "schedule.h"
#include "tz.h"
#include "xalloc.h"

#define SCHEDULE_FILE_MAX (1024 * 1024)
#define NAME_MAX_LEN 63

/* Options that size or narrate a run without changing what it does: a run
 * by hand with another --limit is still the same entry's run. */
static const char *const unnamed_options[] = { "--limit", "--max-runtime", NULL };
static const char *const unnamed_flags[] = { "--json", "-v", "--verbose", "-q", "--quiet", NULL };

/* What the line before an entry set for it. */
struct pending {
	char *name;
	double grace_s;
	int line; /* 0: nothing pending */
};

static bool in_list(const char *const *list, const char *s, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && !strncmp(*list, s, len))
			return true;
	return false;
}

char *schedule_derived_name(int argc, char *const *argv)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t key = strcspn(a, "=");
		if (in_list(unnamed_flags, a, strlen(a)))
			continue;
		if (in_list(unnamed_options, a, key)) {
			if (!a[key] && i + 1 < argc)
				i++; /* its value is the next word */
			continue;
		}
		for (const char *s = a; *s; s++) {
			char c = (char)tolower((unsigned char)*s);
			bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
			if (keep)
				buf_addch(&b, c);
			else if (b.len && b.data[b.len - 1] != '-')
				buf_addch(&b, '-');
		}
		if (b.len && b.data[b.len - 1] != '-')
			buf_addch(&b, '-');
	}
	while (b.len && b.data[b.len - 1] == '-')
		b.data[--b.len] = '\0';
	if (b.len > NAME_MAX_LEN) {
		b.len = NAME_MAX_LEN;
		while (b.len && b.data[b.len - 1] == '-')
			b.len--;
		b.data[b.len] = '\0';
	}
	return b.len ? buf_detach(&b) : (buf_release(&b), xstrdup("job"));
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > NAME_MAX_LEN || !isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

const char *schedule_path(void)
{
	const char *p = config_get("JOBRUN_SCHEDULE");
	return p ? p : "jobrun.cron";
}

static void entry_release(struct schedule_entry *e)
{
	free(e->name);
	cron_free(e->expr);
	for (int i = 0; i < e->argc; i++)
		free(e->argv[i]);
	free(e->argv);
}

void schedule_release(struct schedule *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_release(&s->entries[i]);
	free(s->entries);
	free(s->path);
	*s = (struct schedule){ 0 };
}

const struct schedule_entry *schedule_find(const struct schedule *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->entries[i].name, name))
			return &s->entries[i];
	return NULL;
}

/* ---- one line ------------------------------------------------------------ */

struct loader {
	const char *path;
	int line;
	char *zone; /* CRON_TZ in effect; NULL: UTC */
	struct pending next;
	struct schedule *out;
	size_t cap;
};

static int line_error(const struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line_error(const struct loader *l, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return config_error("%s:%d: %s", l->path, l->line, why);
}

/* "# jobrun: name=x grace=30m": for the next entry. */
static int read_directive(struct loader *l, char *text)
{
	if (l->next.line)
		return line_error(l, "a second '# jobrun:' line before one entry (the first is on "
				     "line %d)", l->next.line);
	l->next.line = l->line;
	l->next.grace_s = SCHEDULE_DEFAULT_GRACE_S;
	for (char *save = NULL, *w = strtok_r(text, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');
		if (!eq)
			return line_error(l, "'%s' in '# jobrun:' is not key=value (name=, grace=)", w);
		*eq = '\0';
		const char *v = eq + 1;
		if (!strcmp(w, "name")) {
			if (!valid_name(v))
				return line_error(l, "name '%s': use lowercase letters, digits, '.', "
						     "'_' and '-', up to 63, starting with a letter "
						     "or digit", v);
			free(l->next.name);
			l->next.name = xstrdup(v);
		} else if (!strcmp(w, "grace")) {
			if (parse_duration(v, &l->next.grace_s))
				return line_error(l, "grace '%s' is not a duration (like 15m)", v);
		} else {
			return line_error(l, "unknown '# jobrun:' key '%s' (name=, grace=)", w);
		}
	}
	return 0;
}

static int read_assignment(struct loader *l, const char *text)
{
	size_t key = strcspn(text, "=");
	if (key != 7 || strncmp(text, "CRON_TZ", 7))
		return line_error(l, "'%.*s=': only CRON_TZ= may be set here; the environment "
				     "comes from the app's config vars", (int)key, text);
	if (l->next.line)
		return line_error(l, "CRON_TZ= between the '# jobrun:' line (line %d) and its entry",
				  l->next.line);
	const char *zone = text + 8;
	while (*zone == ' ' || *zone == '\t')
		zone++;
	char why[256];
	struct tz_zone *z = tz_load(*zone ? zone : "(empty)", why, sizeof(why));
	if (!z)
		return line_error(l, "CRON_TZ: %s", why);
	tz_free(z);
	free(l->zone);
	l->zone = strcmp(zone, "UTC") ? xstrdup(zone) : NULL;
	return 0;
}

/* A shell would read these; the clock does not run a shell, so the line
 * would not do what it says. */
static int check_word(struct loader *l, const char *w)
{
	size_t bad = strcspn(w, "|&;<>()$`'\"\\*?[]{}~#%!");
	if (w[bad] == '%')
		return line_error(l, "'%%' in the command: cron turns it into a newline; jobrun "
				     "commands take no input");
	if (w[bad])
		return line_error(l, "'%c' in the command: entries are split on blanks, not run by "
				     "a shell, so quotes, pipes, redirections and variables do not work",
				  w[bad]);
	return 0;
}

static int split_command(struct loader *l, const char *cmd, struct schedule_entry *e)
{
	char *copy = xstrdup(cmd);
	int rc = 0;
	size_t cap = 8;
	e->argv = xcalloc(cap, sizeof(*e->argv));
	bool first = true;
	for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if ((rc = check_word(l, w)))
			break;
		if (first) {
			first = false;
			if (strcmp(w, "jobrun")) {
				rc = line_error(l, "the command must be a jobrun command line "
						   "('jobrun <job> ...'), not '%s'", w);
				break;
			}
			continue;
		}
		if ((size_t)e->argc + 2 > cap)
			e->argv = xrealloc(e->argv, (cap *= 2) * sizeof(*e->argv));
		e->argv[e->argc++] = xstrdup(w);
		e->argv[e->argc] = NULL;
	}
	free(copy);
	if (!rc && first)
		rc = line_error(l, "no command after the time fields");
	else if (!rc && !e->argc)
		rc = line_error(l, "'jobrun' needs a job to run");
	return rc;
}

static int check_job(struct loader *l, struct schedule_entry *e)
{
	e->job = job_find(e->argv[0]);
	if (e->job)
		return 0;
	struct buf jobs = BUF_INIT;
	for (const struct job *const *j = job_registry; *j; j++)
		buf_addf(&jobs, "%s%s", jobs.len ? ", " : "", (*j)->name);
	int rc = line_error(l, "'%s' is not a job jobrun can schedule (jobs: %s)", e->argv[0],
			    buf_str(&jobs));
	buf_release(&jobs);
	return rc;
}

/* The time fields: five words, or one @keyword. Returns where the command starts. */
static const char *split_spec(const char *text, char **spec)
{
	const char *s = text;
	int words = text[0] == '@' ? 1 : 5;
	for (int i = 0; i < words && *s; i++) {
		s += strcspn(s, " \t");
		s += strspn(s, " \t");
	}
	*spec = xstrndup(text, (size_t)(s - text));
	return s;
}

static int read_entry(struct loader *l, const char *text)
{
	struct schedule_entry e = { .line = l->line, .grace_s = SCHEDULE_DEFAULT_GRACE_S };
	char *spec = NULL, err[256];
	const char *cmd = split_spec(text, &spec);
	int rc = -1;
	e.expr = cron_parse(spec, l->zone, err, sizeof(err));
	if (!e.expr) {
		line_error(l, "%s", err);
		goto out;
	}
	if (split_command(l, cmd, &e) || check_job(l, &e))
		goto out;
	if (l->next.line) {
		e.name = l->next.name;
		e.grace_s = l->next.grace_s;
		l->next = (struct pending){ 0 };
	}
	if (!e.name)
		e.name = schedule_derived_name(e.argc, e.argv);
	const struct schedule_entry *dup = schedule_find(l->out, e.name);
	if (dup) {
		line_error(l, "entry name '%s' is also line %d's; name one with '# jobrun: name=...' "
			      "on the line before it", e.name, dup->line);
		goto out;
	}
	if (l->out->n == l->cap)
		l->out->entries = xrealloc(l->out->entries,
					   (l->cap = l->cap ? l->cap * 2 : 8) * sizeof(e));
	l->out->entries[l->out->n++] = e;
	e = (struct schedule_entry){ 0 };
	rc = 0;
out:
	entry_release(&e);
	free(spec);
	return rc;
}

static int read_line(struct loader *l, char *text)
{
	text += strspn(text, " \t");
	size_t len = strlen(text);
	while (len && strchr(" \t\r", text[len - 1]))
		text[--len] = '\0';
	if (!*text)
		return 0;
	if (*text == '#') {
		const char *tag = "# jobrun:";
		if (!strncmp(text, tag, strlen(tag)))
			return read_directive(l, text + strlen(tag));
		return 0;
	}
	size_t word = strcspn(text, " \t=");
	if (text[word] == '=' && (isalpha((unsigned char)*text) || *text == '_'))
		return read_assignment(l, text);
	return read_entry(l, text);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		config_error("%s: cannot read the schedule: %s (JOBRUN_SCHEDULE names the file)",
			     path, strerror(errno));
		return NULL;
	}
	char *data = xmalloc(SCHEDULE_FILE_MAX + 1);
	*len = fread(data, 1, SCHEDULE_FILE_MAX + 1, f);
	int failed = ferror(f);
	fclose(f);
	if (failed || *len > SCHEDULE_FILE_MAX) {
		free(data);
		config_error("%s: %s", path, failed ? "read error" : "larger than 1 MB: not a crontab");
		return NULL;
	}
	data[*len] = '\0';
	return data;
}

int schedule_load(const char *path, struct schedule *out)
{
	*out = (struct schedule){ 0 };
	size_t len;
	char *data = read_file(path, &len);
	if (!data)
		return -1;
	struct loader l = { .path = path, .out = out };
	int rc = 0;
	if (memchr(data, '\0', len)) {
		rc = config_error("%s: contains a NUL byte: not a crontab", path);
		goto out;
	}
	for (char *line = data, *nl; line && !rc; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		l.line++;
		if (!nl && !*line)
			break;
		rc = read_line(&l, line);
	}
	if (!rc && l.next.line) {
		l.line = l.next.line;
		rc = line_error(&l, "'# jobrun:' line with no entry after it");
	}
out:
	free(l.next.name);
	free(l.zone);
	free(data);
	if (rc) {
		schedule_release(out);
		return -1;
	}
	out->path = xstrdup(path);
	return 0;
}
