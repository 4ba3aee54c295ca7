/*
 * libFuzzer target: a cron expression, as the schedule file hands it over —
 * parse it (in UTC and in a DST zone), then ask for a few next fire times
 * from instants spread over the supported range. Parsing must never crash,
 * and cron_next must return quickly and move forward.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	char *spec = malloc(size + 1);
	memcpy(spec, data, size);
	spec[size] = '\0';
	const char *zones[] = { NULL, "America/New_York" };
	const long long starts[] = { -62135596800LL, 0, 1741500000LL, 4102444800LL, 253402300000LL };
	for (size_t z = 0; z < 2; z++) {
		char err[256];
		struct cron_expr *e = cron_parse(spec, zones[z], err, sizeof(err));
		if (!e)
			continue;
		for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
			long long t = starts[i];
			for (int n = 0; n < 3; n++) {
				long long next = cron_next(e, t);
				if (next < 0)
					break;
				if (next <= t)
					abort();
				t = next;
			}
		}
		cron_free(e);
	}
	free(spec);
	return 0;
}
