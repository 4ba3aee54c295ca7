/*
 * Logging: logfmt lines on stdout, or readable text on a terminal.
 *
 *   log_info("fetched batch", LF_S("path", "/volumes/"), LF_I("count", 100));
 *   -> at=info job=primecache run=42 msg="fetched batch" path=/volumes/ count=100
 *
 * Every message and value goes through redact_string() before it is written.
 * error() is the git-style helper: it logs at=error, remembers the message
 * as the "last error" (the run record stores it) and returns -1 so callers
 * can write `return error("...")`.
 *
 * Nothing here is owned by the caller; fields are borrowed for the call only.
 */
#ifndef JOBRUN_LOG_H
#define JOBRUN_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_QUIET };

enum log_field_type { LF_END_, LF_STR_, LF_INT_, LF_DBL_, LF_BOOL_ };

struct log_field {
	const char *key; /* NULL terminates the list */
	enum log_field_type type;
	const char *s;
	long long i;
	double d;
};

#define LF_S(k, v) ((struct log_field){ .key = (k), .type = LF_STR_, .s = (v) })
#define LF_I(k, v) ((struct log_field){ .key = (k), .type = LF_INT_, .i = (long long)(v) })
#define LF_F(k, v) ((struct log_field){ .key = (k), .type = LF_DBL_, .d = (double)(v) })
#define LF_B(k, v) ((struct log_field){ .key = (k), .type = LF_BOOL_, .i = !!(v) })
#define LF_END ((struct log_field){ .key = NULL })

void log_emit(enum log_level level, const char *msg, ...);
#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__, LF_END)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__, LF_END)
#define log_warn(...) log_emit(LOG_WARN, __VA_ARGS__, LF_END)
#define log_error(...) log_emit(LOG_ERROR, __VA_ARGS__, LF_END)

/* Configure once, from cmd/. level: JOBRUN_LOG_LEVEL, -v, -q. When json is
 * set, log lines go to stderr so stdout carries only the summary object. */
void log_setup(enum log_level level, bool json);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);
/* Context fields prefixed to every line: job=… run=… */
void log_set_context(const char *job, long long run_id);

/* A live progress line on stderr when stderr is a terminal; no-op otherwise. */
void log_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_progress_done(void);

/* Write one logfmt value with quoting and escaping as needed (unit-tested). */
void logfmt_value(FILE *out, const char *value);
/* The same, appended to a buffer. */
struct buf;
void logfmt_append(struct buf *b, const char *value);

/* Kinds of error, mapped to exit codes by cmd/ only. */
enum error_kind { ERR_NONE, ERR_FAILURE, ERR_CONFIG, ERR_USAGE };

int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like error(), but a configuration problem: exit 78. */
int config_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The most recent error() message (already redacted), or NULL. */
const char *error_last(void);
enum error_kind error_last_kind(void);
void error_clear(void);

#endif
