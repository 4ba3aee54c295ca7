/*
 * libFuzzer target: the small text parsers of outside input — durations
 * (flags, environment), Retry-After and HTTP dates (servers), redaction and
 * logfmt escaping (every log line).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++) {
		log_setup(LOG_QUIET, false);
		redact_add("fuzz-secret-value");
	}
	char *s = xstrndup((const char *)data, size);
	double d;
	if (parse_duration(s, &d) == 0) {
		char out[64];
		format_duration(d, out, sizeof(out));
	}
	http_parse_retry_after(s, 1.7e9);
	http_parse_date(s);
	char *safe = redact_string(s);
	if (strstr(safe, "fuzz-secret-value"))
		abort(); /* a registered secret survived redaction */
	struct buf b = BUF_INIT;
	logfmt_append(&b, safe);
	buf_release(&b);
	free(safe);
	free(s);
	return 0;
}
