/*
 * Unit tests for lib/mail: the pure builders (addresses, RFC 2047 headers,
 * quoted-printable, base64, Date, whole messages) decoded back by small
 * decoders here, and the configuration read from the environment (SMTP_URL,
 * the add-on variables, ADMIN_EMAIL, MAIL_FROM) with its errors, which name
 * the variable and never show a password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "mail.h"
#include "redact.h"
#include "xalloc.h"

static const char *const env_vars[] = {
	"SMTP_URL",          "MAILGUN_SMTP_SERVER", "MAILGUN_SMTP_PORT", "MAILGUN_SMTP_LOGIN",
	"MAILGUN_SMTP_PASSWORD", "MAILGUN_DOMAIN",  "SENDGRID_USERNAME", "SENDGRID_PASSWORD",
	"ADMIN_EMAIL",       "MAIL_FROM",           NULL,
};

static int setup(void **state)
{
	(void)state;
	log_setup(LOG_QUIET, false);
	for (const char *const *v = env_vars; *v; v++)
		unsetenv(*v);
	error_clear();
	redact_clear();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (const char *const *v = env_vars; *v; v++)
		unsetenv(*v);
	redact_clear();
	return 0;
}

/* ------------------------------------------------------------------ helpers */

static int b64_value(char c)
{
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Decode base64, skipping CRLF; fails the test on anything else. */
static void b64_decode(struct buf *out, const char *s, size_t len)
{
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '=')
			continue;
		int v = b64_value(s[i]);
		if (v < 0)
			fail_msg("not base64: 0x%02x at %zu", (unsigned char)s[i], i);
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addch(out, (char)(acc >> bits & 0xff));
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode quoted-printable (soft breaks, =XX, CRLF hard breaks). */
static void qp_decode(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			buf_addch(out, s[i]);
			continue;
		}
		if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		assert_true(i + 2 < len);
		int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0)
			fail_msg("bad quoted-printable escape at %zu", i);
		buf_addch(out, (char)(hi << 4 | lo));
		i += 2;
	}
}

/* Every line ends in CRLF and holds at most max characters. */
static void assert_lines(const char *s, size_t len, size_t max)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n')
				fail_msg("bare CR at %zu", i);
			if (i - start > max)
				fail_msg("line of %zu characters at %zu: %.*s", i - start, start,
					 (int)(i - start), s + start);
			start = i + 2;
			i++;
		} else if (s[i] == '\n') {
			fail_msg("bare LF at %zu", i);
		}
	}
	if (start != len)
		fail_msg("last line has no CRLF");
}

/* A deterministic byte source for the round-trip tests. */
static unsigned long long rng_state;
static unsigned rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng_state >> 33);
}

/* ---------------------------------------------------------------- addresses */

static void test_address_accepts(void **state)
{
	(void)state;
	static const char *const good[] = {
		"admin@example.com", "a.b+tag@mail.example.co.uk", "x@localhost",
		"o'brien@example.org", "  padded@example.com\t", "UPPER@EXAMPLE.COM",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *addr = NULL, why[128] = "";
		if (mail_parse_address(good[i], &addr, NULL, why, sizeof(why)))
			fail_msg("refused '%s': %s", good[i], why);
		assert_null(strchr(addr, ' '));
		free(addr);
	}
}

static void test_address_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "admin", "@example.com", "admin@", "a@@example.com", "a@b@example.com",
		"a b@example.com", ".a@example.com", "a.@example.com", "a..b@example.com",
		"a@-example.com", "a@example-.com", "a@example..com", "a@exa_mple.com",
		"a@example.com\r\nBcc: victim@example.org", "a@example.com\n", "a\r@example.com",
		"<a@example.com>", "\"quoted\"@example.com", "a@[127.0.0.1]", "a@example.com>",
		"a,b@example.com",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *addr = NULL, why[128] = "";
		if (!mail_parse_address(bad[i], &addr, NULL, why, sizeof(why)))
			fail_msg("accepted '%s' as '%s'", bad[i], addr);
		assert_true(why[0] != '\0');
	}
}

static void test_address_display_name(void **state)
{
	(void)state;
	char *addr, *name, why[128];
	assert_int_equal(mail_parse_address("Jobrun Bot <bot@example.com>", &addr, &name, why,
					    sizeof(why)), 0);
	assert_string_equal(addr, "bot@example.com");
	assert_string_equal(name, "Jobrun Bot");
	free(addr), free(name);
	assert_int_equal(mail_parse_address("\"Ops, nightly\" <ops@example.com>", &addr, &name,
					    why, sizeof(why)), 0);
	assert_string_equal(name, "Ops, nightly");
	free(addr), free(name);
	assert_int_equal(mail_parse_address("<ops@example.com>", &addr, &name, why, sizeof(why)), 0);
	assert_null(name);
	free(addr);
	/* Names that could break out of the header or the quotes. */
	assert_int_equal(mail_parse_address("A\r\nBcc: x@y.org <ops@example.com>", &addr, &name,
					    why, sizeof(why)), -1);
	assert_int_equal(mail_parse_address("A\" <x@y.org>, \"B <ops@example.com>", &addr, &name,
					    why, sizeof(why)), -1);
	assert_int_equal(mail_parse_address("A <ops@example.com> trailing", &addr, &name, why,
					    sizeof(why)), -1);
	assert_int_equal(mail_parse_address("A\xff <ops@example.com>", &addr, &name, why,
					    sizeof(why)), -1);
	/* A bare address is wanted where name is NULL. */
	assert_int_equal(mail_parse_address("A <ops@example.com>", &addr, NULL, why, sizeof(why)),
			 -1);
}

static void test_address_list(void **state)
{
	(void)state;
	struct mail_addrs a;
	char why[128];
	assert_int_equal(mail_parse_address_list("a@example.com, b@example.org ,c@x.io", &a, why,
						 sizeof(why)), 0);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.addr[0], "a@example.com");
	assert_string_equal(a.addr[1], "b@example.org");
	assert_string_equal(a.addr[2], "c@x.io");
	mail_addrs_release(&a);
	/* Empty items (a trailing comma) are tolerated. */
	assert_int_equal(mail_parse_address_list("a@example.com,", &a, why, sizeof(why)), 0);
	assert_int_equal(a.n, 1);
	mail_addrs_release(&a);
	assert_int_equal(mail_parse_address_list(" , ", &a, why, sizeof(why)), -1);
	assert_int_equal(mail_parse_address_list("a@example.com, not-an-address", &a, why,
						 sizeof(why)), -1);
	if (!strstr(why, "address 2"))
		fail_msg("the reason does not say which address: %s", why);
	assert_int_equal(mail_parse_address_list("a@example.com\r\nBcc: b@example.com", &a, why,
						 sizeof(why)), -1);
}

/* ------------------------------------------------------------- RFC 2047 */

/* Decode a header built by mail_add_header_text: unfold, then decode each
 * encoded word; white space between two encoded words is dropped. */
static void decode_header(struct buf *out, const char *hdr, const char *name)
{
	size_t nlen = strlen(name);
	assert_memory_equal(hdr, name, nlen);
	assert_int_equal(hdr[nlen], ':');
	struct buf unfolded = BUF_INIT;
	for (const char *p = hdr + nlen + 1; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] && p[2] != ' ' && p[2] != '\t')
				fail_msg("a line break not followed by white space");
			p++;
			continue;
		}
		buf_addch(&unfolded, *p);
	}
	const char *u = buf_str(&unfolded);
	assert_int_equal(u[0], ' ');
	u++;
	bool last_was_word = false;
	while (*u) {
		const char *ws = u;
		while (*u == ' ')
			u++;
		if (!strncmp(u, "=?UTF-8?B?", 10)) {
			if (!last_was_word)
				buf_add(out, ws, (size_t)(u - ws));
			const char *end = strstr(u + 10, "?=");
			assert_non_null(end);
			if (end + 2 - u > 75)
				fail_msg("encoded word of %d characters", (int)(end + 2 - u));
			/* Each word holds whole characters: valid UTF-8 on its own. */
			struct buf word = BUF_INIT;
			b64_decode(&word, u + 10, (size_t)(end - u - 10));
			for (size_t i = 0; i < word.len;) {
				unsigned char c = (unsigned char)word.data[i];
				size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
				assert_true(i + n <= word.len);
				for (size_t k = 1; k < n; k++)
					assert_int_equal((unsigned char)word.data[i + k] & 0xc0, 0x80);
				i += n;
			}
			buf_add(out, word.data ? word.data : "", word.len);
			buf_release(&word);
			u = end + 2;
			last_was_word = true;
		} else {
			buf_add(out, ws, (size_t)(u - ws));
			while (*u && *u != ' ')
				buf_addch(out, *u++);
			last_was_word = false;
		}
	}
	buf_release(&unfolded);
}

static void check_subject(const char *subject, const char *expect_decoded, bool expect_encoded)
{
	struct buf h = BUF_INIT, dec = BUF_INIT;
	mail_add_header_text(&h, "Subject", subject);
	assert_lines(h.data, h.len, 76);
	assert_int_equal(strstr(h.data, "=?UTF-8?B?") != NULL, expect_encoded);
	h.data[h.len - 2] = '\0'; /* the final CRLF */
	decode_header(&dec, h.data, "Subject");
	assert_string_equal(buf_str(&dec), expect_decoded);
	buf_release(&h);
	buf_release(&dec);
}

static void test_subject_plain_ascii(void **state)
{
	(void)state;
	struct buf h = BUF_INIT;
	mail_add_header_text(&h, "Subject", "orphans: 3 found");
	assert_string_equal(buf_str(&h), "Subject: orphans: 3 found\r\n");
	buf_release(&h);
	check_subject("", "", false);
	/* Long ASCII folds at spaces and unfolds to the very same text. */
	const char *long_ascii =
		"cleanup finished: 1234 images removed, 56 kept because they are still "
		"referenced, 7 failed and will be retried on the next run tonight";
	check_subject(long_ascii, long_ascii, false);
}

static void test_subject_utf8_encoded_and_folded(void **state)
{
	(void)state;
	check_subject("Café ✓", "Café ✓", true);
	/* Long enough for several words; 2-, 3- and 4-byte characters land on
	 * every offset, so a split inside a character would be caught. */
	const char *s = "jobrun: vérification ✓ — 😀 émojis et caractères accentués répétés "
			"ééééééééééééééééééééééééééééé ✓✓✓✓✓✓✓✓✓✓✓✓✓✓ 😀😀😀😀😀😀😀😀😀";
	check_subject(s, s, true);
}

static void test_subject_cannot_inject(void **state)
{
	(void)state;
	/* Line breaks and other controls become spaces: no new header. */
	check_subject("hello\r\nBcc: victim@example.org", "hello  Bcc: victim@example.org", false);
	check_subject("tab\there\x7f", "tab here ", false);
	check_subject("é\r\nBcc: x@y.org", "é  Bcc: x@y.org", true);
	/* Text that looks like an encoded word is encoded, so it decodes as
	 * itself. Invalid UTF-8 becomes U+FFFD. */
	check_subject("=?UTF-8?B?SGk=?=", "=?UTF-8?B?SGk=?=", true);
	check_subject("bad \xff\xc3 utf8", "bad \xef\xbf\xbd\xef\xbf\xbd utf8", true);
	/* A word too long to fold is encoded rather than left over-long. */
	char word[120];
	memset(word, 'x', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	check_subject(word, word, true);
}

/* ------------------------------------------------------ quoted-printable */

static void check_qp(const char *in, size_t len, const char *want_decoded, size_t want_len)
{
	struct buf q = BUF_INIT, d = BUF_INIT;
	mail_add_qp(&q, in, len);
	assert_lines(buf_str(&q), q.len, 76);
	for (size_t i = 0; i < q.len; i++) {
		unsigned char c = (unsigned char)q.data[i];
		if (c > 126 || (c < 32 && c != '\r' && c != '\n' && c != '\t'))
			fail_msg("unencoded byte 0x%02x in quoted-printable", c);
		/* no white space right before a line end */
		if ((c == ' ' || c == '\t') && q.data[i + 1] == '\r')
			fail_msg("trailing white space at %zu", i);
	}
	qp_decode(&d, buf_str(&q), q.len);
	assert_int_equal(d.len, want_len);
	if (want_len)
		assert_memory_equal(d.data, want_decoded, want_len);
	buf_release(&q);
	buf_release(&d);
}

static void test_qp_basics(void **state)
{
	(void)state;
	struct buf q = BUF_INIT;
	mail_add_qp(&q, "a=b \xc3\xa9\n.dot\n", 12);
	assert_string_equal(buf_str(&q), "a=3Db =C3=A9\r\n.dot\r\n");
	buf_reset(&q);
	/* No final line end in, none out: a soft break ends it. */
	mail_add_qp(&q, "end", 3);
	assert_string_equal(buf_str(&q), "end=\r\n");
	buf_reset(&q);
	mail_add_qp(&q, "trail \t\n", 8);
	assert_string_equal(buf_str(&q), "trail =09\r\n");
	buf_release(&q);
	/* LF, CR and CRLF line ends all become CRLF. */
	check_qp("a\nb\rc\r\nd\r\n", 10, "a\r\nb\r\nc\r\nd\r\n", 12);
	check_qp("", 0, "", 0);
}

static void test_qp_line_lengths(void **state)
{
	(void)state;
	/* Long lines of each width of token, ending at every column. */
	for (size_t n = 70; n < 240; n++) {
		for (int kind = 0; kind < 3; kind++) {
			char in[260];
			for (size_t i = 0; i < n; i++)
				in[i] = kind == 0 ? 'a' : kind == 1 ? '=' : (i % 3 ? 'b' : '\xe9');
			in[n] = '\n';
			struct buf want = BUF_INIT;
			buf_add(&want, in, n);
			buf_add(&want, "\r\n", 2);
			check_qp(in, n + 1, want.data, want.len);
			buf_release(&want);
		}
	}
}

static void test_qp_random_round_trip(void **state)
{
	(void)state;
	rng_state = 42;
	for (int round = 0; round < 300; round++) {
		size_t len = rnd() % 600;
		char *in = malloc(len + 1);
		struct buf want = BUF_INIT;
		for (size_t i = 0; i < len; i++) {
			unsigned r = rnd() % 10;
			in[i] = r < 5 ? (char)('a' + rnd() % 26) : r < 7 ? ' ' : r < 8 ? '\n' :
				(char)(rnd() % 256);
			if (in[i] == '\r')
				in[i] = 'r'; /* bare CRs are covered above */
		}
		for (size_t i = 0; i < len; i++) {
			if (in[i] == '\n')
				buf_add(&want, "\r\n", 2);
			else
				buf_addch(&want, in[i]);
		}
		check_qp(in, len, want.data ? want.data : "", want.len);
		buf_release(&want);
		free(in);
	}
}

/* ----------------------------------------------------------------- base64 */

static void test_base64_vectors(void **state)
{
	(void)state;
	/* RFC 4648 §10, each with the CRLF that ends every line. */
	static const char *const vectors[][2] = {
		{ "", "" },
		{ "f", "Zg==\r\n" },
		{ "fo", "Zm8=\r\n" },
		{ "foo", "Zm9v\r\n" },
		{ "foob", "Zm9vYg==\r\n" },
		{ "fooba", "Zm9vYmE=\r\n" },
		{ "foobar", "Zm9vYmFy\r\n" },
	};
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b = BUF_INIT;
		mail_add_base64(&b, vectors[i][0], strlen(vectors[i][0]));
		assert_string_equal(buf_str(&b), vectors[i][1]);
		buf_release(&b);
	}
}

static void test_base64_wrapping_and_bytes(void **state)
{
	(void)state;
	unsigned char all[1000];
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(i * 7 + i / 256);
	for (size_t n = 0; n <= sizeof(all); n += (n < 130 ? 1 : 97)) {
		struct buf b = BUF_INIT, d = BUF_INIT;
		mail_add_base64(&b, all, n);
		assert_lines(buf_str(&b), b.len, 76);
		/* full lines are exactly 76: 57 bytes each */
		assert_int_equal(b.len, n / 57 * 78 + (n % 57 ? (n % 57 + 2) / 3 * 4 + 2 : 0));
		b64_decode(&d, buf_str(&b), b.len);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, all, n);
		buf_release(&b);
		buf_release(&d);
	}
}

/* ------------------------------------------------------------- whole mail */

static void test_date(void **state)
{
	(void)state;
	char d[40];
	mail_format_date(0, d, sizeof(d));
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	mail_format_date(1751371200.9, d, sizeof(d));
	assert_string_equal(d, "Tue, 01 Jul 2025 12:00:00 +0000");
	mail_format_date(1709210096, d, sizeof(d)); /* leap day */
	assert_string_equal(d, "Thu, 29 Feb 2024 12:34:56 +0000");
}

static const char *header_of(const char *msg, const char *name)
{
	static char line[256];
	size_t nlen = strlen(name);
	for (const char *p = msg; p && *p && !(p[0] == '\r' && p[1] == '\n');) {
		if (!strncmp(p, name, nlen) && p[nlen] == ':') {
			size_t len = strcspn(p, "\r");
			snprintf(line, sizeof(line), "%.*s", (int)len, p);
			return line;
		}
		p = strstr(p, "\r\n");
		if (p)
			p += 2;
	}
	return NULL;
}

static void test_build_single_part(void **state)
{
	(void)state;
	char *a1 = strdup("ops@example.com"), *a2 = strdup("dev@example.org");
	char *list[] = { a1, a2 };
	struct mail_addrs to = { list, 2 };
	struct mail_envelope env = { "jobrun@example.com", NULL, &to, 1751371200,
				     "<1.abc@example.com>", "=_b" };
	struct mail_message msg = { .subject = "primecache failed",
				    .body = "line one\n.dot line\n" };
	struct buf m = BUF_INIT;
	char why[128];
	assert_int_equal(mail_build(&m, &env, &msg, why, sizeof(why)), 0);
	assert_string_equal(buf_str(&m),
			    "Date: Tue, 01 Jul 2025 12:00:00 +0000\r\n"
			    "From: jobrun@example.com\r\n"
			    "To: ops@example.com, dev@example.org\r\n"
			    "Subject: primecache failed\r\n"
			    "Message-ID: <1.abc@example.com>\r\n"
			    "Auto-Submitted: auto-generated\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "\r\n"
			    "line one\r\n"
			    ".dot line\r\n");
	buf_release(&m);
	free(a1), free(a2);
}

static void test_build_multipart(void **state)
{
	(void)state;
	char *addrs[12];
	for (int i = 0; i < 12; i++)
		addrs[i] = xasprintf("admin%02d@operations.example.com", i);
	struct mail_addrs to = { addrs, 12 };
	struct mail_envelope env = { "bot@example.com", "Jobrun Büro", &to, 0,
				     "<2.def@example.com>", "=_jobrun_0123" };
	unsigned char bin[300];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	struct mail_attachment att[] = {
		{ "orphans.csv", "text/csv; charset=utf-8", "a,b\r\n1,2\r\n", 10 },
		{ "données ✓.bin", NULL, bin, sizeof(bin) },
	};
	struct mail_message msg = { .subject = "résumé", .body = "body",
				    .attachments = att, .n_attachments = 2 };
	struct buf m = BUF_INIT;
	char why[128];
	assert_int_equal(mail_build(&m, &env, &msg, why, sizeof(why)), 0);
	const char *s = buf_str(&m);
	assert_lines(s, m.len, 76);
	assert_non_null(strstr(s, "From: =?UTF-8?B?"));
	assert_non_null(strstr(s, "<bot@example.com>\r\n"));
	assert_non_null(header_of(s, "Date"));
	assert_non_null(strstr(s, "Content-Type: multipart/mixed;\r\n boundary=\"=_jobrun_0123\"\r\n"));
	assert_non_null(strstr(s, "\r\n--=_jobrun_0123\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(s, "\r\nbody=\r\n\r\n--=_jobrun_0123\r\n"));
	assert_non_null(strstr(s, " filename=\"orphans.csv\"\r\n"));
	assert_non_null(strstr(s, " filename*=UTF-8''donn%C3%A9es%20%E2%9C%93.bin\r\n"));
	assert_non_null(strstr(s, "Content-Type: application/octet-stream\r\n"));
	/* The last delimiter closes it. */
	const char *end = "\r\n--=_jobrun_0123--\r\n";
	assert_string_equal(s + m.len - strlen(end), end);
	/* The second attachment's bytes come back. */
	const char *b = strstr(s, "filename*=");
	b = strstr(b, "\r\n\r\n") + 4;
	const char *e = strstr(b, "\r\n--=_jobrun_0123--");
	struct buf d = BUF_INIT;
	b64_decode(&d, b, (size_t)(e - b));
	assert_int_equal(d.len, sizeof(bin));
	assert_memory_equal(d.data, bin, sizeof(bin));
	buf_release(&d);
	buf_release(&m);
	for (int i = 0; i < 12; i++)
		free(addrs[i]);
}

static void test_build_refuses_unsafe_attachments(void **state)
{
	(void)state;
	char *a = strdup("ops@example.com");
	struct mail_addrs to = { &a, 1 };
	struct mail_envelope env = { "bot@example.com", NULL, &to, 0, "<3@example.com>", "=_x" };
	static const struct mail_attachment bad[] = {
		{ "a\r\nX-Evil: 1.csv", "text/csv", "x", 1 },
		{ "a.csv", "text/csv\r\nX-Evil: 1", "x", 1 },
		{ "", "text/csv", "x", 1 },
		{ "bad\xff.csv", "text/csv", "x", 1 },
		{ "a.csv", "notatype", "x", 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mail_message msg = { .subject = "s", .body = "b",
					    .attachments = &bad[i], .n_attachments = 1 };
		struct buf m = BUF_INIT;
		char why[128] = "";
		assert_int_equal(mail_build(&m, &env, &msg, why, sizeof(why)), -1);
		assert_true(why[0] != '\0');
		buf_release(&m);
	}
	free(a);
}

/* ---------------------------------------------------------- configuration */

static void assert_config_error(const char *var, const char *must_not_contain)
{
	const char *msg = error_last();
	assert_non_null(msg);
	assert_int_equal(error_last_kind(), ERR_CONFIG);
	if (!strstr(msg, var))
		fail_msg("error does not name %s: %s", var, msg);
	if (must_not_contain && strstr(msg, must_not_contain))
		fail_msg("error shows '%s': %s", must_not_contain, msg);
	error_clear();
}

static void test_config_smtp_url(void **state)
{
	(void)state;
	struct mail_config c;
	setenv("ADMIN_EMAIL", "ops@example.com", 1);
	setenv("SMTP_URL", "smtp://mailer:p%40ss-w0rd-secret@mail.example.com", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.url, "smtp://mail.example.com:587/");
	assert_string_equal(c.server, "mail.example.com:587");
	assert_string_equal(c.username, "mailer");
	assert_string_equal(c.password, "p@ss-w0rd-secret");
	assert_int_equal(c.tls, MAIL_TLS_STARTTLS);
	assert_string_equal(c.source, "SMTP_URL");
	assert_int_equal(c.to.n, 1);
	/* Both spellings of the password are registered secrets. */
	char *r = redact_string("x p@ss-w0rd-secret y p%40ss-w0rd-secret z");
	assert_string_equal(r, "x [REDACTED] y [REDACTED] z");
	free(r);
	mail_config_release(&c);

	setenv("SMTP_URL", "smtps://u:pw-secret@mail.example.com", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.server, "mail.example.com:465");
	assert_int_equal(c.tls, MAIL_TLS_IMPLICIT);
	mail_config_release(&c);

	/* Loopback needs no STARTTLS; anything else does. */
	static const char *const local[] = { "smtp://127.0.0.1:2525", "smtp://localhost",
					     "smtp://[::1]:25", "smtp://127.1:25" };
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		setenv("SMTP_URL", local[i], 1);
		assert_int_equal(mail_config_from_env(&c), 0);
		assert_int_equal(c.tls, MAIL_TLS_NONE);
		assert_null(c.username);
		mail_config_release(&c);
	}
	static const char *const remote[] = { "smtp://192.0.2.1:25", "smtp://localhost.example.com",
					      "smtp://128.0.0.1", "smtp://[::2]:25" };
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		setenv("SMTP_URL", remote[i], 1);
		assert_int_equal(mail_config_from_env(&c), 0);
		assert_int_equal(c.tls, MAIL_TLS_STARTTLS);
		mail_config_release(&c);
	}
}

static void test_config_smtp_url_errors(void **state)
{
	(void)state;
	struct mail_config c;
	setenv("ADMIN_EMAIL", "ops@example.com", 1);
	static const char *const bad[] = {
		"http://u:pw-secret-1@mail.example.com", "smtp://u:pw-secret-1@mail.example.com:99999",
		"smtp://u:pw-secret-1@", "smtp://u@mail.example.com",
		"smtp://:pw-secret-1@mail.example.com", "smtp://u:pw-secret-1@mail.example.com/?x=1",
		"not a url pw-secret-1", "smtp://u;AUTH=PLAIN:pw-secret-1@mail.example.com",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("SMTP_URL", bad[i], 1);
		if (!mail_config_from_env(&c))
			fail_msg("accepted %s", bad[i]);
		assert_config_error("SMTP_URL", "pw-secret-1");
		assert_null(c.url);
	}
	unsetenv("SMTP_URL");
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("SMTP_URL", NULL);
}

static void test_config_addons(void **state)
{
	(void)state;
	struct mail_config c;
	setenv("ADMIN_EMAIL", "ops@example.com", 1);
	setenv("MAILGUN_SMTP_SERVER", "smtp.mailgun.org", 1);
	setenv("MAILGUN_SMTP_LOGIN", "postmaster@mg.example.com", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("MAILGUN_SMTP_PASSWORD", NULL);
	setenv("MAILGUN_SMTP_PASSWORD", "mg-secret-password", 1);
	setenv("MAILGUN_DOMAIN", "mg.example.com", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.server, "smtp.mailgun.org:587");
	assert_int_equal(c.tls, MAIL_TLS_STARTTLS);
	assert_string_equal(c.username, "postmaster@mg.example.com");
	assert_string_equal(c.source, "MAILGUN_SMTP_SERVER");
	assert_string_equal(c.from, "jobrun@mg.example.com");
	char *r = redact_string("mg-secret-password");
	assert_string_equal(r, REDACTED);
	free(r);
	mail_config_release(&c);
	setenv("MAILGUN_SMTP_PORT", "465", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_int_equal(c.tls, MAIL_TLS_IMPLICIT);
	mail_config_release(&c);
	setenv("MAILGUN_SMTP_PORT", "abc", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("MAILGUN_SMTP_PORT", NULL);
	setenv("MAILGUN_SMTP_PORT", "587", 1);
	setenv("MAILGUN_SMTP_SERVER", "bad host/x", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("MAILGUN_SMTP_SERVER", "mg-secret-password");
	/* SMTP_URL wins over the add-ons. */
	setenv("SMTP_URL", "smtp://127.0.0.1:2525", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.source, "SMTP_URL");
	mail_config_release(&c);
	unsetenv("SMTP_URL");
	unsetenv("MAILGUN_SMTP_SERVER");
	setenv("SENDGRID_USERNAME", "apikey", 1);
	setenv("SENDGRID_PASSWORD", "SG.sendgrid-secret", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.server, "smtp.sendgrid.net:587");
	assert_int_equal(c.tls, MAIL_TLS_STARTTLS);
	assert_string_equal(c.username, "apikey");
	mail_config_release(&c);
}

static void test_config_recipients_and_from(void **state)
{
	(void)state;
	struct mail_config c;
	setenv("SMTP_URL", "smtp://127.0.0.1:2525", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("ADMIN_EMAIL", NULL);
	setenv("ADMIN_EMAIL", "ops@example.com\r\nBcc: x@example.org", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("ADMIN_EMAIL", NULL);
	setenv("ADMIN_EMAIL", "ops@example.com, dev@example.org", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_int_equal(c.to.n, 2);
	/* The default sender is jobrun at this host. */
	assert_memory_equal(c.from, "jobrun@", 7);
	assert_null(c.from_name);
	mail_config_release(&c);
	setenv("MAIL_FROM", "Nightly Jobs <jobs@example.com>", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	assert_string_equal(c.from, "jobs@example.com");
	assert_string_equal(c.from_name, "Nightly Jobs");
	mail_config_release(&c);
	setenv("MAIL_FROM", "jobs@", 1);
	assert_int_equal(mail_config_from_env(&c), -1);
	assert_config_error("MAIL_FROM", NULL);
}

/* ----------------------------------------------------------------- results */

static void test_send_failure_is_recorded_not_raised(void **state)
{
	(void)state;
	struct mail_config c;
	/* Port 1 on loopback: refused at once, no server needed. */
	setenv("SMTP_URL", "smtp://u:conn-secret-pw@127.0.0.1:1", 1);
	setenv("ADMIN_EMAIL", "ops@example.com", 1);
	assert_int_equal(mail_config_from_env(&c), 0);
	struct mail_message msg = { .subject = "s", .body = "b" };
	struct mail_result res;
	assert_int_equal(mail_send(&c, &msg, &res), -1);
	assert_false(res.sent);
	assert_int_equal(res.recipients, 0);
	assert_true(res.error[0] != '\0');
	assert_null(strstr(res.error, "conn-secret-pw"));
	/* The job's own error and exit code are not the mail's business. */
	assert_null(error_last());
	json_t *j = mail_result_json(&res);
	assert_true(json_is_false(json_object_get(j, "sent")));
	assert_int_equal(json_integer_value(json_object_get(j, "recipients")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "error")), res.error);
	json_decref(j);
	mail_config_release(&c);

	struct mail_result ok = { true, 2, "" };
	j = mail_result_json(&ok);
	char *dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(dump, "{\"error\":null,\"recipients\":2,\"sent\":true}");
	free(dump);
	json_decref(j);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_address_accepts),
		T(test_address_refuses),
		T(test_address_display_name),
		T(test_address_list),
		T(test_subject_plain_ascii),
		T(test_subject_utf8_encoded_and_folded),
		T(test_subject_cannot_inject),
		T(test_qp_basics),
		T(test_qp_line_lengths),
		T(test_qp_random_round_trip),
		T(test_base64_vectors),
		T(test_base64_wrapping_and_bytes),
		T(test_date),
		T(test_build_single_part),
		T(test_build_multipart),
		T(test_build_refuses_unsafe_attachments),
		T(test_config_smtp_url),
		T(test_config_smtp_url_errors),
		T(test_config_addons),
		T(test_config_recipients_and_from),
		T(test_send_failure_is_recorded_not_raised),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
