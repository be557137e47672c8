/*
 * Unit tests of common/log.c: log_sanitize(), the one rule for text that
 * others wrote before it goes into a log line or onto a terminal.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

/* C0 controls, DEL and every byte above it become '?'; the rest stays */
static void
test_sanitize_rule(void **state)
{
	char	 buf[64];

	log_sanitize("a\nb\x7f" "c\td\re\x1b[31mf", buf, sizeof(buf));
	assert_string_equal(buf, "a?b?c?d?e?[31mf");
	log_sanitize("caf\xc3\xa9 \x9b" "1m", buf, sizeof(buf));
	assert_string_equal(buf, "caf?? ?1m");
	log_sanitize(" !~azAZ09", buf, sizeof(buf));
	assert_string_equal(buf, " !~azAZ09");
	log_sanitize("", buf, sizeof(buf));
	assert_string_equal(buf, "");
}

/* one byte in, one byte out: cut at the buffer, always terminated */
static void
test_sanitize_bounds(void **state)
{
	char	 buf[8];

	memset(buf, 'x', sizeof(buf));
	log_sanitize("0123456789", buf, sizeof(buf));
	assert_string_equal(buf, "0123456");
	log_sanitize("0123456789", buf, 1);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	log_sanitize("0123", buf, 0);
	assert_int_equal(buf[0], 'x');
}

/* in place, as for a field of a message */
static void
test_sanitize_in_place(void **state)
{
	char	 s[] = "up\r\ndown";

	log_sanitize(s, s, sizeof(s));
	assert_string_equal(s, "up??down");
}

/* bytes that are not a string: a NUL is one more '?' */
static void
test_sanitize_mem(void **state)
{
	const char	 in[] = { 'a', '\0', 'b', '\n' };
	char		 buf[16];

	log_sanitize_mem(in, sizeof(in), buf, sizeof(buf));
	assert_string_equal(buf, "a?b?");
	log_sanitize_mem(in, sizeof(in), buf, 3);
	assert_string_equal(buf, "a?");
	log_sanitize_mem(in, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_rule),
		cmocka_unit_test(test_sanitize_bounds),
		cmocka_unit_test(test_sanitize_in_place),
		cmocka_unit_test(test_sanitize_mem),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
