/*
 * Configuration from the environment, validated.
 *
 * Every getter names the variable in its error (through config_error(), exit
 * 78) and never echoes a secret value. Values read as secrets are registered
 * with redact_add() at once.
 */
#ifndef JOBRUN_CONFIG_H
#define JOBRUN_CONFIG_H

#include <stdbool.h>

/* "90s", "9m", "2h", "30d", "250ms", "1.5s"; a bare number is seconds.
 * 0 on success; -1 on bad syntax, negative, or absurd (> 100 years). */
int parse_duration(const char *s, double *seconds);
/* Format seconds compactly: "9m", "1.5s", "2h30m". out >= 32 bytes. */
void format_duration(double seconds, char *out, unsigned outlen);

/* NULL when the variable is unset or empty. */
const char *config_get(const char *name);
/* Required value; error naming the variable when unset. */
int config_require(const char *name, const char **out);
/* Required secret: like config_require, and registers the value for redaction. */
int config_require_secret(const char *name, const char **out);
int config_get_duration(const char *name, double def, double *out);
int config_get_long(const char *name, long def, long min, long max, long *out);
/* A value sent as an HTTP header (a User-Agent): NULL in *out when unset.
 * Control characters are an error: CR/LF would end the header and start
 * another one. The error names the variable and the offending byte's
 * position, never the value. */
int config_get_header_value(const char *name, const char **out);
/* An http(s) URL, parsed with libcurl's URL API; trailing slashes trimmed.
 * Returns a new string the caller frees via *out. The error never shows the
 * value when it may carry credentials. */
int config_get_url(const char *name, const char *def, char **out);
/* Validate an http(s) URL given on the command line or in the environment. */
int config_check_url(const char *what, const char *url);

#endif
