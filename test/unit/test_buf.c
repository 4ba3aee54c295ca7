/*
 * Unit tests for lib/buf: growth keeps the string NUL-terminated, and a size
 * that would wrap around SIZE_MAX aborts instead of allocating too little.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"

static void test_add_and_detach(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_string_equal(buf_str(&b), "");
	buf_adds(&b, "abc");
	buf_addch(&b, '-');
	buf_addf(&b, "%d", 42);
	assert_string_equal(buf_str(&b), "abc-42");
	assert_int_equal(b.len, 6);
	for (int i = 0; i < 1000; i++)
		buf_addch(&b, 'x');
	assert_int_equal(b.len, 1006);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	char *s = buf_detach(&b);
	assert_int_equal(strlen(s), 1006);
	assert_null(b.data);
	free(s);
}

/* Run buf_grow(len, extra) in a child: true when it aborted (SIGABRT). */
static bool grow_aborts(size_t len, size_t extra)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The message is expected; keep the test output clean. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		struct buf b = BUF_INIT;
		buf_adds(&b, "0123456789");
		b.len = len;
		buf_grow(&b, extra);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_grow_overflow_aborts(void **state)
{
	(void)state;
	/* len + extra + 1 wraps around to a few bytes. */
	assert_true(grow_aborts(10, SIZE_MAX - 5));
	assert_true(grow_aborts(10, SIZE_MAX));
	assert_true(grow_aborts(0, SIZE_MAX));
	/* The last size that fits would be refused by malloc, not wrap: not
	 * tried here. A sane size grows normally. */
	assert_false(grow_aborts(10, 100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_detach),
		cmocka_unit_test(test_grow_overflow_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
