/*
 * Unit tests of common/log.c: log_sanitize(), the one rule for text that
 * others wrote before it goes into a log line or onto a terminal.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* --log-level: the words, and what each lets through */
static void
test_levels(void **state)
{
	int	 v = 99;

	assert_int_equal(log_level_parse("loud", &v), -1);
	assert_int_equal(v, 99);
	assert_int_equal(log_level_parse("error", &v), 0);
	assert_int_equal(v, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("trace", &v), 0);
	assert_int_equal(v, LOG_LEVEL_TRACE);
	log_setverbose(LOG_LEVEL_ERROR);
	assert_true(log_wants(LOG_CRIT));
	assert_true(log_wants(LOG_ERR));
	assert_false(log_wants(LOG_WARNING));
	log_setverbose(LOG_LEVEL_WARN);
	assert_true(log_wants(LOG_WARNING));
	assert_false(log_wants(LOG_INFO));
	log_setverbose(LOG_LEVEL_INFO);
	assert_true(log_wants(LOG_INFO));
	assert_false(log_wants(LOG_DEBUG));
	log_setverbose(LOG_LEVEL_DEBUG);
	assert_true(log_wants(LOG_DEBUG));
	assert_string_equal(log_level_name(-5), "error");
	assert_string_equal(log_level_name(3), "trace");
	log_setverbose(0);
}

/* JSON lines: escaped, sanitised, cut whole */
static void
test_json_line(void **state)
{
	char	 buf[256], small[96];
	size_t	 n;

	log_set_format(LOG_FORMAT_JSON);
	n = log_format_line(buf, sizeof(buf), LOG_WARNING, "kgpd",
	    "a \"q\" \\ \n\x1b caf\xc3\xa9");
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "\"level\":\"warn\",\"process\":"
	    "\"kgpd\",\"message\":\"a \\\"q\\\" \\\\ \\u000a\\u001b "
	    "caf??\"}\n"));
	assert_int_equal(strncmp(buf, "{\"time\":\"", 9), 0);
	memset(small, 'x', sizeof(small));
	n = log_format_line(small, sizeof(small), LOG_INFO, "sc",
	    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n");
	assert_true(n < sizeof(small));
	assert_int_equal(n, strlen(small));
	assert_string_equal(small + n - 3, "\"}\n");
	log_set_format(LOG_FORMAT_TEXT);
	n = log_format_line(small, 40, LOG_INFO, NULL,
	    "a long message that does not fit at all");
	assert_int_equal(n, 39);
	assert_int_equal(small[38], '\n');
}

/*
 * The writer thread: once log_writer_flush() returns, the lines logged
 * before it are in the file (sc's readyfile comes after its "up" line).
 */
static void
test_writer_flush(void **state)
{
	char	 path[] = "/tmp/test_log.XXXXXX", buf[64 * 1024];
	FILE	*f;
	size_t	 n;
	int	 fd, i;

	assert_int_not_equal(fd = mkstemp(path), -1);
	close(fd);
	assert_int_equal(log_set_file(path), 0);
	assert_int_equal(log_writer_start(), 0);
	for (i = 0; i < 200; i++)
		log_warnx("filler line %d of a log that has a lot to write", i);
	log_warnx("Sauce Connect is up, you may start your tests.");
	log_writer_flush();
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "filler line 199 of"));
	assert_non_null(strstr(buf, "Sauce Connect is up"));
	log_writer_stop();
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_rule),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_sanitize_bounds),
		cmocka_unit_test(test_sanitize_in_place),
		cmocka_unit_test(test_sanitize_mem),
		cmocka_unit_test(test_writer_flush),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
