/*
 * Central secret redaction.
 *
 * Every secret jobrun learns (API keys, passwords, tokens) is registered here
 * once, where it is read from the environment. The log layer passes every line
 * through redact_string(), so a secret cannot reach stdout, stderr, the run
 * record or a report even when a caller forgets. URLs additionally lose their
 * userinfo password and secret-looking query parameters.
 *
 * Ownership: the registry copies what it is given; redact_* return new strings
 * the caller frees.
 */
#ifndef JOBRUN_REDACT_H
#define JOBRUN_REDACT_H

#include <stddef.h>

#define REDACTED "[REDACTED]"

/* Remember a secret. Values shorter than 4 bytes are ignored (they would
 * redact ordinary words); empty or NULL is a no-op. */
void redact_add(const char *secret);
/* Forget every registered secret (tests). */
void redact_clear(void);
/* A copy of s with every registered secret replaced by REDACTED, and in any
 * URL-looking text, secret query values and userinfo passwords replaced too. */
char *redact_string(const char *s);
/* True when the name of a query parameter or header carries a secret
 * (api_key, api-key, apikey, key, token, access_token, password, secret,
 * signature, authorization), case-insensitive. */
int redact_is_secret_name(const char *name, size_t len);

#endif
