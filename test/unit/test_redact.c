/*
 * Unit tests for central secret redaction (lib/redact.h): registered secrets,
 * secret query parameters, URL userinfo passwords, and no damage to ordinary text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redact.h"

static int setup(void **state)
{
	(void)state;
	redact_clear();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redact_clear();
	return 0;
}

#define assert_redacts(in, want)                          \
	do {                                              \
		char *got_ = redact_string(in);           \
		assert_non_null(got_);                    \
		assert_string_equal(got_, (want));        \
		free(got_);                               \
	} while (0)

/* ------------------------------------------------------------ registered secrets */

static void test_registered_secret_anywhere(void **state)
{
	(void)state;
	redact_add("cv-secret-key-0123");
	assert_redacts("cv-secret-key-0123", "[REDACTED]");
	assert_redacts("key cv-secret-key-0123 at start", "key [REDACTED] at start");
	assert_redacts("at the end: cv-secret-key-0123", "at the end: [REDACTED]");
	assert_redacts("glued:xcv-secret-key-0123x", "glued:x[REDACTED]x");
	assert_redacts("twice cv-secret-key-0123 and cv-secret-key-0123.",
		       "twice [REDACTED] and [REDACTED].");
	assert_redacts("msg=\"bad key cv-secret-key-0123\"", "msg=\"bad key [REDACTED]\"");
	assert_redacts("\"api\":\"cv-secret-key-0123\"}", "\"api\":\"[REDACTED]\"}");
	/* A prefix of the secret is not the secret. */
	assert_redacts("cv-secret-key-012", "cv-secret-key-012");
}

static void test_several_secrets(void **state)
{
	(void)state;
	redact_add("alpha-secret");
	redact_add("bravo-secret");
	assert_redacts("alpha-secret/bravo-secret", "[REDACTED]/[REDACTED]");
	assert_redacts("alpha-secretbravo-secret", "[REDACTED][REDACTED]");
}

static void test_longest_match_wins(void **state)
{
	(void)state;
	redact_add("abcd");
	redact_add("abcdefgh");
	/* The longer secret must go entirely, not leave "efgh" behind. */
	assert_redacts("xabcdefghy", "x[REDACTED]y");
	assert_redacts("xabcdy", "x[REDACTED]y");
	redact_clear();
	/* Same secrets registered the other way round. */
	redact_add("abcdefgh");
	redact_add("abcd");
	assert_redacts("xabcdefghy", "x[REDACTED]y");
}

static void test_short_secrets_ignored(void **state)
{
	(void)state;
	redact_add("abc");
	redact_add("");
	redact_add(NULL);
	assert_redacts("abc abc", "abc abc");
	assert_redacts("", "");
	redact_add("abcd"); /* four bytes is enough */
	assert_redacts("abcd abc", "[REDACTED] abc");
}

static void test_duplicate_registration(void **state)
{
	(void)state;
	redact_add("dupe-secret");
	redact_add("dupe-secret");
	assert_redacts("dupe-secret", "[REDACTED]");
}

static void test_clear_forgets(void **state)
{
	(void)state;
	redact_add("forget-me-secret");
	redact_clear();
	assert_redacts("forget-me-secret", "forget-me-secret");
}

static void test_null_input(void **state)
{
	(void)state;
	char *s = redact_string(NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

/* ------------------------------------------------------------ query parameters */

static void test_query_parameters(void **state)
{
	(void)state;
	assert_redacts("https://comicvine.gamespot.com/api/volumes/?api_key=abc123&format=json",
		       "https://comicvine.gamespot.com/api/volumes/?api_key=[REDACTED]&format=json");
	assert_redacts("GET /x?api_key=abc123&x=1", "GET /x?api_key=[REDACTED]&x=1");
	assert_redacts("/x?format=json&api_key=abc123", "/x?format=json&api_key=[REDACTED]");
	assert_redacts("/x?a=1&token=t0k3n&b=2", "/x?a=1&token=[REDACTED]&b=2");
	assert_redacts("/x?password=pw&access_token=at&signature=sig",
		       "/x?password=[REDACTED]&access_token=[REDACTED]&signature=[REDACTED]");
	assert_redacts("/x?key=k&secret=s&client_secret=c",
		       "/x?key=[REDACTED]&secret=[REDACTED]&client_secret=[REDACTED]");
	assert_redacts("/x?api_key=abc#frag", "/x?api_key=[REDACTED]#frag");
	assert_redacts("url=\"/x?api_key=abc\" next=1", "url=\"/x?api_key=[REDACTED]\" next=1");
	assert_redacts("/x?api_key=abc /y?token=def", "/x?api_key=[REDACTED] /y?token=[REDACTED]");
	/* An empty value has nothing to hide. */
	assert_redacts("/x?api_key=&x=1", "/x?api_key=&x=1");
}

static void test_query_names_case_insensitive(void **state)
{
	(void)state;
	assert_redacts("/x?API_KEY=abc", "/x?API_KEY=[REDACTED]");
	assert_redacts("/x?Api-Key=abc", "/x?Api-Key=[REDACTED]");
	assert_redacts("/x?ApiKey=abc", "/x?ApiKey=[REDACTED]");
	assert_redacts("/x?TOKEN=abc", "/x?TOKEN=[REDACTED]");
	assert_redacts("/x?Password=abc", "/x?Password=[REDACTED]");
}

static void test_secret_names(void **state)
{
	(void)state;
	static const char *const yes[] = {
		"api_key", "api-key", "apikey", "key", "token", "access_token", "password",
		"secret", "signature", "authorization", "Authorization", "API_KEY", "X-Api-Key",
		"PASSWORD", "Token",
	};
	static const char *const no[] = {
		"", "k", "keys", "monkey", "keyboard", "api", "format", "filter", "limit",
		"offset", "tokens", "passwordless", "user", "field_list", "sort",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!redact_is_secret_name(yes[i], strlen(yes[i])))
			fail_msg("'%s' should be a secret name", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (redact_is_secret_name(no[i], strlen(no[i])))
			fail_msg("'%s' should not be a secret name", no[i]);
	/* The length bounds the comparison: a prefix of a longer string counts. */
	assert_true(redact_is_secret_name("api_key=abc", 7));
	assert_false(redact_is_secret_name("api_key", 6));
}

static void test_query_non_secret_parameters_kept(void **state)
{
	(void)state;
	static const char *const keep[] = {
		"/api/volumes/?filter=id:1|2|3&limit=100&offset=0&format=json",
		"/x?keys=1&monkey=2&keyboard=3&tokens=4",
		"/x?sort=date_last_updated:desc&field_list=id,name",
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		assert_redacts(keep[i], keep[i]);
}

/* ------------------------------------------------------------ userinfo */

static void test_userinfo_password(void **state)
{
	(void)state;
	assert_redacts("postgres://u:pw@h/db", "postgres://u:[REDACTED]@h/db");
	assert_redacts("postgresql://user:s3cr3t@db.example.com:5432/app?sslmode=require",
		       "postgresql://user:[REDACTED]@db.example.com:5432/app?sslmode=require");
	assert_redacts("cloudinary://123456:AbC-dEf_gh@mycloud", "cloudinary://123456:[REDACTED]@mycloud");
	assert_redacts("smtp://mailer:pw%40x@smtp.example.com:587",
		       "smtp://mailer:[REDACTED]@smtp.example.com:587");
	assert_redacts("https://:only-pw@host/", "https://:[REDACTED]@host/");
	assert_redacts("connect to \"postgres://u:pw@h/db\" failed",
		       "connect to \"postgres://u:[REDACTED]@h/db\" failed");
	assert_redacts("a=postgres://u:p1@h b=redis://x:p2@r:6379",
		       "a=postgres://u:[REDACTED]@h b=redis://x:[REDACTED]@r:6379");
}

static void test_userinfo_without_password_kept(void **state)
{
	(void)state;
	static const char *const keep[] = {
		"postgres://u@h/db",
		"postgres://h:5432/db",
		"https://comicvine.gamespot.com/api/",
		"http://127.0.0.1:8080/x?y=1",
		"https://h/path?email=a@b.example",
		"https://h/user:name@thing",
		"https://u:@h/",
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		assert_redacts(keep[i], keep[i]);
}

static void test_combined(void **state)
{
	(void)state;
	redact_add("registered-one");
	assert_redacts("postgres://u:pw@h/db?password=x registered-one",
		       "postgres://u:[REDACTED]@h/db?password=[REDACTED] [REDACTED]");
}

/* ------------------------------------------------------------ no false positives */

static void test_ordinary_text_unchanged(void **state)
{
	(void)state;
	redact_add("s3cr3t-value");
	static const char *const keep[] = {
		"",
		"at=info job=primecache run=42 msg=\"fetched batch\" path=/volumes/ count=100",
		"password is not set",
		"COMICVINE_API_KEY is not set",
		"the key to success: a token of appreciation",
		"what? now & then = sometimes",
		"a & b",
		"x?=y",
		"50% done; 3/4 batches",
		"mail to bob@example.com at 10:30",
		"time 12:34:56@UTC",
		"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
		"count#jobrun.primecache.api_requests=180 measure#jobrun.primecache.duration=181.2s",
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		assert_redacts(keep[i], keep[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registered_secret_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_match_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_secrets_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_forgets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_names_case_insensitive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_non_secret_parameters_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_userinfo_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_userinfo_without_password_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_combined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ordinary_text_unchanged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
