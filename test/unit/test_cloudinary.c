/*
 * Unit tests for lib/cloudinary: CLOUDINARY_URL parsing and configuration
 * (errors name the variable and what is wrong, never the secret), the
 * delete answer per public id, the usage line, and the /v1_1/<cloud>/ path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudinary.h"
#include "log.h"
#include "redact.h"

#define SECRET "s3cr3t-Abc_987"

static int setup(void **state)
{
	(void)state;
	unsetenv("CLOUDINARY_URL");
	unsetenv("CLOUDINARY_API_URL");
	unsetenv("CLOUDINARY_HOURLY_LIMIT");
	error_clear();
	redact_clear();
	return 0;
}

static void parses(const char *url, const char *key, const char *secret, const char *cloud)
{
	char *k, *s, *c, why[160];
	if (cloudinary_parse_url(url, &k, &s, &c, why, sizeof(why)))
		fail_msg("'%s' refused: %s", url, why);
	assert_string_equal(k, key);
	assert_string_equal(s, secret);
	assert_string_equal(c, cloud);
	free(k);
	free(s);
	free(c);
}

static void refuses(const char *url, const char *reason)
{
	char *k, *s, *c, why[160];
	if (!cloudinary_parse_url(url, &k, &s, &c, why, sizeof(why)))
		fail_msg("'%s' accepted", url);
	assert_null(k);
	assert_null(s);
	assert_null(c);
	if (!strstr(why, reason))
		fail_msg("'%s': reason '%s' does not say '%s'", url, why, reason);
	if (strstr(why, SECRET))
		fail_msg("'%s': reason shows the secret: %s", url, why);
}

static void test_parse_url(void **state)
{
	(void)state;
	parses("cloudinary://123456789012345:" SECRET "@demo-cloud", "123456789012345", SECRET,
	       "demo-cloud");
	parses("cloudinary://key:" SECRET "@my_cloud?secure=true", "key", SECRET, "my_cloud");
	/* The last '@' ends the credentials. */
	parses("cloudinary://key:p@ss@cloud", "key", "p@ss", "cloud");
	refuses("https://key:" SECRET "@cloud", "cloudinary://");
	refuses("cloudinary://key:" SECRET, "'@<cloud_name>'");
	refuses("cloudinary://key" SECRET "@cloud", "':<api_secret>'");
	refuses("cloudinary://:" SECRET "@cloud", "empty API key");
	refuses("cloudinary://key:@cloud", "empty API secret");
	refuses("cloudinary://key:" SECRET "@", "empty cloud name");
	refuses("cloudinary://key:" SECRET "@cloud/x", "cloud name with characters");
	refuses("cloudinary://k y:" SECRET "@cloud", "API key with characters");
	refuses("cloudinary://key:sec ret@cloud", "space or control character");
	refuses("", "cloudinary://");
}

static void test_config(void **state)
{
	(void)state;
	struct cloudinary_config cfg;
	/* Unset: an error only when required. */
	assert_int_equal(cloudinary_config_from_env(&cfg, false), 0);
	assert_null(cfg.credentials);
	assert_string_equal(cfg.base_url, CLOUDINARY_DEFAULT_URL);
	assert_int_equal(cfg.hourly_limit, 500);
	cloudinary_config_release(&cfg);
	assert_int_equal(cloudinary_config_from_env(&cfg, true), -1);
	assert_int_equal(error_last_kind(), ERR_CONFIG);
	assert_non_null(strstr(error_last(), "CLOUDINARY_URL is not set"));

	setenv("CLOUDINARY_URL", "cloudinary://111:" SECRET "@acme", 1);
	setenv("CLOUDINARY_API_URL", "http://127.0.0.1:9/", 1);
	setenv("CLOUDINARY_HOURLY_LIMIT", "2000", 1);
	assert_int_equal(cloudinary_config_from_env(&cfg, true), 0);
	assert_string_equal(cfg.credentials, "111:" SECRET);
	assert_string_equal(cfg.cloud, "acme");
	assert_string_equal(cfg.base_url, "http://127.0.0.1:9");
	assert_int_equal(cfg.hourly_limit, 2000);
	/* The secret is registered: nothing printed can show it. */
	char *shown = redact_string("auth 111:" SECRET " done");
	assert_null(strstr(shown, SECRET));
	free(shown);
	cloudinary_config_release(&cfg);

	/* Malformed, even when not required: named, the secret absent. */
	setenv("CLOUDINARY_URL", "cloudinary://111:" SECRET, 1);
	assert_int_equal(cloudinary_config_from_env(&cfg, false), -1);
	assert_int_equal(error_last_kind(), ERR_CONFIG);
	assert_non_null(strstr(error_last(), "CLOUDINARY_URL has no '@<cloud_name>'"));
	assert_null(strstr(error_last(), SECRET));
	assert_null(cfg.base_url);
	setenv("CLOUDINARY_URL", "cloudinary://111:" SECRET "@acme", 1);
	setenv("CLOUDINARY_HOURLY_LIMIT", "0", 1);
	assert_int_equal(cloudinary_config_from_env(&cfg, true), -1);
	assert_non_null(strstr(error_last(), "CLOUDINARY_HOURLY_LIMIT"));
	assert_null(cfg.credentials);
}

static void test_read_deleted(void **state)
{
	(void)state;
	json_t *a = json_loads("{\"deleted\":{\"a\":\"deleted\",\"b\":\"not_found\",\"c\":\"error\"},"
			       "\"partial\":true}", 0, NULL);
	const char *ids[] = { "a", "b", "c", "d" };
	enum cloudinary_deleted out[4];
	assert_int_equal(cloudinary_read_deleted(a, ids, 4, out), 0);
	assert_int_equal(out[0], CLD_DELETED);
	assert_int_equal(out[1], CLD_NOT_FOUND);
	assert_int_equal(out[2], CLD_FAILED); /* an unknown answer */
	assert_int_equal(out[3], CLD_FAILED); /* left out */
	assert_string_equal(cloudinary_deleted_name(out[1]), "not_found");
	json_decref(a);
	a = json_loads("{\"partial\":false}", 0, NULL);
	assert_int_equal(cloudinary_read_deleted(a, ids, 4, out), -1);
	json_decref(a);
}

static void test_usage_and_path(void **state)
{
	(void)state;
	struct cloudinary_config cfg = { 0 };
	setenv("CLOUDINARY_URL", "cloudinary://111:" SECRET "@acme", 1);
	assert_int_equal(cloudinary_config_from_env(&cfg, true), 0);
	struct cloudinary c;
	cloudinary_init(&c, &cfg, 0);
	assert_int_equal(c.prov.budget, -1); /* 0: no per-run budget */
	assert_string_equal(c.bucket.name, "acme");
	assert_int_equal(c.bucket.limit, 500);
	char text[96];
	assert_true(cloudinary_usage_text(&c, text, sizeof(text)) < 0);
	assert_string_equal(text, "API calls used: unknown");
	c.usage = (struct cloudinary_usage){ true, 500, 100, 1700000000 };
	assert_true(cloudinary_usage_text(&c, text, sizeof(text)) == 80.0);
	assert_string_equal(text, "API calls used: 400/500 (80.0 %)");
	json_t *u = cloudinary_usage_json(&c);
	assert_int_equal(json_integer_value(json_object_get(u, "used")), 400);
	assert_string_equal(json_string_value(json_object_get(u, "reset")), "2023-11-14T22:13:20Z");
	json_decref(u);
	const char *tail[] = { "resources", "image", "upload", NULL }, *seg[6];
	const char *const *p = cloudinary_path(&c, tail, seg, 6);
	assert_non_null(p);
	assert_string_equal(p[0], "v1_1");
	assert_string_equal(p[1], "acme");
	assert_string_equal(p[4], "upload");
	assert_null(p[5]);
	assert_null(cloudinary_path(&c, tail, seg, 5));
	cloudinary_close(&c);
}

int main(void)
{
	log_setup(LOG_QUIET, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_parse_url, setup),
		cmocka_unit_test_setup(test_config, setup),
		cmocka_unit_test_setup(test_read_deleted, setup),
		cmocka_unit_test_setup(test_usage_and_path, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
