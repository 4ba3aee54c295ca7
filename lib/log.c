#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "redact.h"
#include "xalloc.h"

static enum log_level min_level = LOG_INFO;
static bool log_to_stderr;
static bool human;     /* stdout is a terminal: readable lines */
static bool color;     /* and NO_COLOR is unset */
static bool progress_shown;
static char ctx_job[64];
static long long ctx_run;

static _Thread_local char last_error[1024];
static _Thread_local enum error_kind last_kind;

static const char *const level_names[] = { "debug", "info", "warn", "error", "quiet" };

void log_setup(enum log_level level, bool json)
{
	min_level = level;
	log_to_stderr = json;
	human = !json && isatty(STDOUT_FILENO);
	const char *no_color = getenv("NO_COLOR");
	color = human && !(no_color && *no_color);
}

enum log_level log_get_level(void)
{
	return min_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = LOG_DEBUG; i <= LOG_QUIET; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

void log_set_context(const char *job, long long run_id)
{
	snprintf(ctx_job, sizeof(ctx_job), "%s", job ? job : "");
	ctx_run = run_id;
}

/* logfmt needs quotes around empty values and values with spaces, quotes,
 * '=' or control characters; inside quotes, \" \\ \n \r \t and \u00XX. */
static bool needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
	return false;
}

void logfmt_append(struct buf *b, const char *v)
{
	if (!needs_quotes(v)) {
		buf_adds(b, v);
		return;
	}
	buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default:
			if (*p < ' ' || *p == 0x7f)
				buf_addf(b, "\\u%04x", *p);
			else
				buf_addch(b, (char)*p);
		}
	}
	buf_addch(b, '"');
}

void logfmt_value(FILE *out, const char *value)
{
	struct buf b = BUF_INIT;
	logfmt_append(&b, value);
	fputs(buf_str(&b), out);
	buf_release(&b);
}

static void append_field(struct buf *line, const struct log_field *f)
{
	char num[64];
	const char *v = num;
	switch (f->type) {
	case LF_STR_: v = f->s ? f->s : ""; break;
	case LF_INT_: snprintf(num, sizeof(num), "%lld", f->i); break;
	case LF_DBL_: snprintf(num, sizeof(num), "%.3f", f->d); break;
	case LF_BOOL_: v = f->i ? "true" : "false"; break;
	case LF_END_: return;
	}
	/* Redact before escaping: an escaped secret no longer matches itself. */
	char *safe = redact_string(v);
	buf_addch(line, ' ');
	buf_adds(line, f->key);
	buf_addch(line, '=');
	logfmt_append(line, safe);
	free(safe);
}

static void format_line(struct buf *line, enum log_level level, const char *raw_msg, va_list ap)
{
	char *msg = redact_string(raw_msg);
	if (human) {
		char stamp[16];
		time_t now = (time_t)clock_wall();
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		static const char *const colors[] = { "\033[2m", "", "\033[33m", "\033[31m", "" };
		buf_addf(line, "%s %s%-5s%s %s", stamp, color ? colors[level] : "", level_names[level],
			 color ? "\033[0m" : "", msg);
	} else {
		buf_addf(line, "at=%s", level_names[level]);
		if (ctx_job[0])
			buf_addf(line, " job=%s", ctx_job);
		if (ctx_run > 0)
			buf_addf(line, " run=%lld", ctx_run);
		buf_adds(line, " msg=");
		logfmt_append(line, msg);
	}
	for (;;) {
		struct log_field f = va_arg(ap, struct log_field);
		if (!f.key)
			break;
		append_field(line, &f);
	}
	free(msg);
}

static void clear_progress(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = false;
	}
}

void log_emit(enum log_level level, const char *msg, ...)
{
	if (level < min_level || level == LOG_QUIET)
		return;
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, msg);
	format_line(&line, level, msg, ap);
	va_end(ap);
	char *safe = redact_string(buf_str(&line));
	buf_release(&line);
	clear_progress();
	FILE *out = log_to_stderr ? stderr : stdout;
	fprintf(out, "%s\n", safe);
	fflush(out);
	free(safe);
}

void log_progress(const char *fmt, ...)
{
	if (!isatty(STDERR_FILENO) || min_level > LOG_INFO)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("\r\033[K", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_shown = true;
}

void log_progress_done(void)
{
	clear_progress();
}

static void remember_error(enum error_kind kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void remember_error(enum error_kind kind, const char *fmt, va_list ap)
{
	char raw[sizeof(last_error)];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	char *safe = redact_string(raw);
	snprintf(last_error, sizeof(last_error), "%s", safe);
	free(safe);
	last_kind = kind;
	log_error(last_error);
}

int error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	remember_error(ERR_FAILURE, fmt, ap);
	va_end(ap);
	return -1;
}

int config_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	remember_error(ERR_CONFIG, fmt, ap);
	va_end(ap);
	return -1;
}

const char *error_last(void)
{
	return last_error[0] ? last_error : NULL;
}

enum error_kind error_last_kind(void)
{
	return last_kind;
}

void error_clear(void)
{
	last_error[0] = '\0';
	last_kind = ERR_NONE;
}
