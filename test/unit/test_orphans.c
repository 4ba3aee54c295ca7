/*
 * Unit tests for the pure parts of jobs/orphans: --types, the scan key,
 * Cloudinary's two timestamp forms, a listed asset's record, and the
 * Search API expression.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "orphans_internal.h"

static void test_types(void **state)
{
	(void)state;
	bool t[ORPH_NTYPES];
	char why[128], key[32];
	assert_int_equal(orphans_parse_types("image,video,raw", t, why, sizeof(why)), 0);
	orphans_types_key(t, key, sizeof(key));
	assert_string_equal(key, "image,raw,video");
	assert_int_equal(orphans_parse_types("video, image", t, why, sizeof(why)), 0);
	assert_true(t[ORPH_IMAGE] && t[ORPH_VIDEO] && !t[ORPH_RAW]);
	orphans_types_key(t, key, sizeof(key));
	assert_string_equal(key, "image,video");
	assert_int_equal(orphans_parse_types("image,gif", t, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "'gif'"));
	assert_int_equal(orphans_parse_types("raw,raw", t, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(orphans_parse_types(",", t, why, sizeof(why)), -1);
}

static void test_timestamps(void **state)
{
	(void)state;
	assert_true(orph_valid_timestamp("2021-06-25T08:40:54Z"));
	assert_true(orph_valid_timestamp("2021-06-25T08:40:54+00:00"));
	assert_true(orph_valid_timestamp("2021-06-25T08:40:54.123Z"));
	assert_true(orph_valid_timestamp("2021-06-25T08:40:54-05:30"));
	assert_false(orph_valid_timestamp(NULL));
	assert_false(orph_valid_timestamp(""));
	assert_false(orph_valid_timestamp("2021-06-25"));
	assert_false(orph_valid_timestamp("2021-06-25T08:40:54"));
	assert_false(orph_valid_timestamp("2021-13-25T08:40:54Z"));
	assert_false(orph_valid_timestamp("2021-06-25T08:40:54+0000"));
	assert_false(orph_valid_timestamp("2021-06-25T08:40:54Z; DROP"));
	assert_false(orph_valid_timestamp("2021-06-25T08:40:54."));
}

static void test_asset(void **state)
{
	(void)state;
	json_t *r = json_loads("{\"public_id\":\"a,b\",\"resource_type\":\"video\",\"bytes\":12,"
			       "\"format\":\"mp4\",\"created_at\":\"2021-06-25T08:40:54+00:00\","
			       "\"uploaded_at\":\"bad\",\"unknown\":[1],\"secure_url\":\"https://x/y\"}",
			       0, NULL);
	struct orph_asset a;
	char why[128];
	assert_int_equal(orph_asset_from_json(r, &a, why, sizeof(why)), 0);
	assert_string_equal(a.public_id, "a,b");
	assert_string_equal(a.resource_type, "video");
	assert_int_equal(a.bytes, 12);
	assert_string_equal(a.created_at, "2021-06-25T08:40:54+00:00");
	assert_null(a.uploaded_at);
	json_decref(r);
	r = json_loads("{\"public_id\":\"x\",\"resource_type\":\"audio\"}", 0, NULL);
	assert_int_equal(orph_asset_from_json(r, &a, why, sizeof(why)), -1);
	json_decref(r);
	r = json_loads("{\"resource_type\":\"image\",\"bytes\":-3}", 0, NULL);
	assert_int_equal(orph_asset_from_json(r, &a, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "public_id"));
	json_decref(r);
	r = json_loads("{\"public_id\":\"p\",\"resource_type\":\"raw\",\"bytes\":-3}", 0, NULL);
	assert_int_equal(orph_asset_from_json(r, &a, why, sizeof(why)), 0);
	assert_int_equal(a.bytes, -1);
	json_decref(r);
}

static void test_expression(void **state)
{
	(void)state;
	bool all[ORPH_NTYPES] = { true, true, true }, one[ORPH_NTYPES] = { false, false, true },
	     two[ORPH_NTYPES] = { true, true, false };
	struct buf b = BUF_INIT;
	orph_expression(&b, all, "2025-07-01T00:00:00Z", "2025-07-08T00:00:00Z");
	assert_string_equal(buf_str(&b), "type:upload AND uploaded_at>=\"2025-07-01T00:00:00Z\""
					 " AND uploaded_at<=\"2025-07-08T00:00:00Z\"");
	buf_reset(&b);
	orph_expression(&b, one, NULL, "2025-07-08T00:00:00Z");
	assert_string_equal(buf_str(&b), "type:upload AND resource_type:raw"
					 " AND uploaded_at<=\"2025-07-08T00:00:00Z\"");
	buf_reset(&b);
	orph_expression(&b, two, NULL, "T");
	assert_string_equal(buf_str(&b), "type:upload AND (resource_type:image OR resource_type:video)"
					 " AND uploaded_at<=\"T\"");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_asset),
		cmocka_unit_test(test_expression),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
