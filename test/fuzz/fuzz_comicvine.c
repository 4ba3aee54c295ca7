/*
 * libFuzzer target: a ComicVine response body, as primecache handles it —
 * sanitize, parse the envelope, turn every record into a volume and an issue.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comicvine.h"
#include "json_text.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet++)
		log_setup(LOG_QUIET, false);
	size_t len;
	int replaced;
	char *body = json_text_sanitize((const char *)data, size, &len, &replaced);
	struct cv_page page;
	long code;
	char err[256];
	if (cv_parse_envelope(body, len, &page, &code, err, sizeof(err)) == 0) {
		size_t i;
		json_t *rec;
		json_t *list = json_is_array(page.results) ? page.results : NULL;
		json_array_foreach(list, i, rec) {
			struct cv_volume v;
			struct cv_issue is;
			cv_volume_from_json(rec, &v, err, sizeof(err));
			cv_issue_from_json(rec, &is, err, sizeof(err));
		}
		/* What the store writes must be something Postgres's jsonb
		 * accepts: sanitizing leaves no NUL escape behind. */
		char *dumped = json_dumps(page.root, JSON_COMPACT);
		if (dumped && strstr(dumped, "\\u0000"))
			abort();
		free(dumped);
		cv_page_release(&page);
	}
	free(body);
	return 0;
}
