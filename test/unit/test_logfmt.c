/*
 * Unit tests for logfmt escaping (logfmt_append/logfmt_value in lib/log.h)
 * and for the lines log_emit() writes: what a log drain (Heroku's logplex,
 * l2met, any logfmt parser) reads back must be exactly what was logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "redact.h"

/* logfmt_append(v) as a new string the caller frees. */
static char *lf(const char *v)
{
	struct buf b = BUF_INIT;
	logfmt_append(&b, v);
	char *s = buf_detach(&b);
	return s ? s : calloc(1, 1);
}

#define assert_lf(value, want)                       \
	do {                                         \
		char *got_ = lf(value);              \
		assert_string_equal(got_, (want));   \
		free(got_);                          \
	} while (0)

/* A strict reader of one logfmt value, the inverse logfmt_append must have:
 * bare values run to a space; quoted ones understand \" \\ \n \r \t \uXXXX
 * (XXXX <= 0x7f here). Returns NULL on malformed input; *end after the value. */
static char *lf_read(const char *p, const char **end)
{
	struct buf out = BUF_INIT;
	if (*p != '"') {
		const char *q = p;
		while (*q && *q != ' ')
			q++;
		buf_add(&out, p, (size_t)(q - p));
		*end = q;
		buf_addch(&out, '\0'); /* make sure data is allocated */
		out.len--;
		return buf_detach(&out);
	}
	p++;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '\0' || c == '\n' || c == '\r') {
			buf_release(&out);
			return NULL; /* unterminated, or a raw line break */
		}
		if (c == '"')
			break;
		if (c != '\\') {
			buf_addch(&out, (char)c);
			p++;
			continue;
		}
		p++;
		switch (*p) {
		case '"': buf_addch(&out, '"'); p++; break;
		case '\\': buf_addch(&out, '\\'); p++; break;
		case 'n': buf_addch(&out, '\n'); p++; break;
		case 'r': buf_addch(&out, '\r'); p++; break;
		case 't': buf_addch(&out, '\t'); p++; break;
		case 'u': {
			unsigned v;
			if (sscanf(p + 1, "%4x", &v) != 1 || v > 0x7f || strlen(p + 1) < 4) {
				buf_release(&out);
				return NULL;
			}
			buf_addch(&out, (char)v);
			p += 5;
			break;
		}
		default:
			buf_release(&out);
			return NULL;
		}
	}
	*end = p + 1;
	buf_addch(&out, '\0');
	out.len--;
	return buf_detach(&out);
}

/* ------------------------------------------------------------ quoting */

static void test_plain_values_stay_bare(void **state)
{
	(void)state;
	assert_lf("hello", "hello");
	assert_lf("42", "42");
	assert_lf("/volumes/", "/volumes/");
	assert_lf("https://comicvine.gamespot.com/api/volumes/", "https://comicvine.gamespot.com/api/volumes/");
	assert_lf("a,b;c:d", "a,b;c:d");
	assert_lf("primecache", "primecache");
	assert_lf("-1.5e3", "-1.5e3");
}

static void test_empty_is_quoted(void **state)
{
	(void)state;
	assert_lf("", "\"\"");
}

static void test_spaces_are_quoted(void **state)
{
	(void)state;
	assert_lf("fetched batch", "\"fetched batch\"");
	assert_lf(" ", "\" \"");
	assert_lf(" lead", "\" lead\"");
	assert_lf("trail ", "\"trail \"");
}

static void test_quotes_are_escaped(void **state)
{
	(void)state;
	assert_lf("say \"hi\"", "\"say \\\"hi\\\"\"");
	assert_lf("\"", "\"\\\"\"");
	assert_lf("a\"b", "\"a\\\"b\"");
}

static void test_backslash_is_escaped(void **state)
{
	(void)state;
	assert_lf("C:\\temp", "\"C:\\\\temp\"");
	assert_lf("\\", "\"\\\\\"");
	assert_lf("\\n", "\"\\\\n\""); /* a literal backslash-n is not a newline */
}

static void test_equals_is_quoted(void **state)
{
	(void)state;
	assert_lf("a=b", "\"a=b\"");
	assert_lf("=", "\"=\"");
	assert_lf("filter=id:1|2", "\"filter=id:1|2\"");
}

static void test_line_breaks_and_tabs(void **state)
{
	(void)state;
	assert_lf("two\nlines", "\"two\\nlines\"");
	assert_lf("cr\rhere", "\"cr\\rhere\"");
	assert_lf("tab\there", "\"tab\\there\"");
	assert_lf("\r\n", "\"\\r\\n\"");
}

static void test_control_characters(void **state)
{
	(void)state;
	assert_lf("\x01", "\"\\u0001\"");
	assert_lf("bell\a", "\"bell\\u0007\"");
	assert_lf("esc\x1b[31m", "\"esc\\u001b[31m\"");
	assert_lf("\x1f", "\"\\u001f\"");
	assert_lf("del\x7f", "\"del\\u007f\"");
	assert_lf("\b\f\v", "\"\\u0008\\u000c\\u000b\"");
}

static void test_utf8_passes_through(void **state)
{
	(void)state;
	assert_lf("caf\xc3\xa9", "caf\xc3\xa9");
	assert_lf("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac");
	assert_lf("\xf0\x9f\x93\x9a", "\xf0\x9f\x93\x9a");
	assert_lf("na\xc3\xafve caf\xc3\xa9", "\"na\xc3\xafve caf\xc3\xa9\"");
	/* Not valid UTF-8 either: bytes are copied, never split into escapes. */
	assert_lf("\xff\xfe", "\xff\xfe");
}

static void test_logfmt_value_matches_append(void **state)
{
	(void)state;
	static const char *const values[] = { "plain", "", "a b", "q\"", "x\ny", "\x02" };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *mem = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&mem, &len);
		assert_non_null(f);
		logfmt_value(f, values[i]);
		fclose(f);
		char *want = lf(values[i]);
		assert_string_equal(mem, want);
		free(want);
		free(mem);
	}
}

/* Every byte 1..255, alone and inside text, reads back unchanged and never
 * produces a raw line break. */
static void test_round_trip_every_byte(void **state)
{
	(void)state;
	for (int c = 1; c < 256; c++) {
		char in[8];
		snprintf(in, sizeof(in), "a%cb", c);
		for (int variant = 0; variant < 2; variant++) {
			const char *v = variant ? in + 1 : in;
			char one[2] = { (char)c, '\0' };
			if (variant)
				v = one;
			char *enc = lf(v);
			assert_null(strchr(enc, '\n'));
			assert_null(strchr(enc, '\r'));
			if (strchr(enc, ' '))
				assert_int_equal(enc[0], '"');
			const char *end;
			char *dec = lf_read(enc, &end);
			if (!dec || strcmp(dec, v) || *end)
				fail_msg("byte 0x%02x: \"%s\" decodes badly", c, enc);
			free(dec);
			free(enc);
		}
	}
}

/* ------------------------------------------------------------ whole lines */

/* Run log calls with stdout sent to a temporary file; return what was written. */
static char *capture_begin(int *saved)
{
	fflush(stdout);
	char path[] = "/tmp/test_logfmt.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	*saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	return (char *)(intptr_t)fd;
}

static char *capture_end(int saved, char *token)
{
	int fd = (int)(intptr_t)token;
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	off_t size = lseek(fd, 0, SEEK_END);
	char *data = calloc(1, (size_t)size + 1);
	assert_int_equal(pread(fd, data, (size_t)size, 0), size);
	close(fd);
	return data;
}

static void test_log_line_shape(void **state)
{
	(void)state;
	int saved;
	char *tok = capture_begin(&saved);
	log_setup(LOG_INFO, false);
	log_set_context("primecache", 42);
	log_info("fetched batch", LF_S("path", "/volumes/"), LF_I("count", 100), LF_B("dry_run", 1),
		 LF_F("ratio", 0.5), LF_S("note", "say \"hi\"\n"));
	log_debug("hidden at info");
	log_set_context(NULL, 0);
	log_warn("no context");
	char *out = capture_end(saved, tok);
	assert_string_equal(out,
			    "at=info job=primecache run=42 msg=\"fetched batch\" path=/volumes/ count=100 "
			    "dry_run=true ratio=0.500 note=\"say \\\"hi\\\"\\n\"\n"
			    "at=warn msg=\"no context\"\n");
	free(out);
}

static void test_log_levels_filter(void **state)
{
	(void)state;
	int saved;
	char *tok = capture_begin(&saved);
	log_setup(LOG_WARN, false);
	log_info("dropped");
	log_error("kept");
	log_setup(LOG_QUIET, false);
	log_error("silenced");
	char *out = capture_end(saved, tok);
	assert_string_equal(out, "at=error msg=kept\n");
	free(out);
}

static void test_log_parse_level(void **state)
{
	(void)state;
	enum log_level l = LOG_INFO;
	assert_int_equal(log_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("quiet", &l), 0);
	assert_int_equal(l, LOG_QUIET);
	assert_int_equal(log_parse_level("chatty", &l), -1);
	assert_int_equal(l, LOG_QUIET);
}

/* Secrets are redacted whatever characters they contain: escaping must not
 * hide a secret from the redactor. */
static void test_log_line_redacts_secrets_needing_escapes(void **state)
{
	(void)state;
	static const char *const secrets[] = {
		"plainsecret123", "with space 123", "quo\"te-secret", "back\\slash-secret",
		"tab\tsecret99",
	};
	redact_clear();
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		redact_add(secrets[i]);
	int saved;
	char *tok = capture_begin(&saved);
	log_setup(LOG_INFO, false);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		log_info("connecting", LF_S("password", secrets[i]));
	char *out = capture_end(saved, tok);
	redact_clear();
	/* Neither the raw secret nor its distinctive tail may appear. */
	static const char *const tails[] = { "secret123", "space 123", "te-secret", "slash-secret",
					     "secret99" };
	char leaked[256] = "";
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
		if (strstr(out, tails[i]))
			snprintf(leaked + strlen(leaked), sizeof(leaked) - strlen(leaked), " '%s'",
				 secrets[i]);
	if (leaked[0])
		print_error("log output:\n%s", out);
	free(out);
	if (leaked[0])
		fail_msg("secrets leaked into the log:%s", leaked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_values_stay_bare),
		cmocka_unit_test(test_empty_is_quoted),
		cmocka_unit_test(test_spaces_are_quoted),
		cmocka_unit_test(test_quotes_are_escaped),
		cmocka_unit_test(test_backslash_is_escaped),
		cmocka_unit_test(test_equals_is_quoted),
		cmocka_unit_test(test_line_breaks_and_tabs),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_utf8_passes_through),
		cmocka_unit_test(test_logfmt_value_matches_append),
		cmocka_unit_test(test_round_trip_every_byte),
		cmocka_unit_test(test_log_line_shape),
		cmocka_unit_test(test_log_levels_filter),
		cmocka_unit_test(test_log_parse_level),
		cmocka_unit_test(test_log_line_redacts_secrets_needing_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
