/*
 * Unit tests of common/text.c: the one rule for the control characters
 * a check refuses in text others wrote.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

/* C0 and DEL are control characters; space, '~' and bytes above DEL not */
static void
test_ctl_class(void **state)
{
	unsigned int	 c;

	for (c = 0; c < 256; c++) {
		if (c < 0x20 || c == 0x7f)
			assert_true(text_is_ctl(c, 0));
		else
			assert_false(text_is_ctl(c, 0));
	}
	/* HTAB alone may be allowed (HTTP fields); CR, LF, NUL never */
	assert_false(text_is_ctl('\t', TEXT_HTAB));
	assert_true(text_is_ctl('\r', TEXT_HTAB));
	assert_true(text_is_ctl('\n', TEXT_HTAB));
	assert_true(text_is_ctl('\0', TEXT_HTAB));
	assert_true(text_is_ctl(0x7f, TEXT_HTAB));
}

/* the span stops at the first control character, or is the length */
static void
test_ctlspan(void **state)
{
	assert_int_equal(text_ctlspan("", 0, 0), 0);
	assert_int_equal(text_ctlspan("plain text", 10, 0), 10);
	assert_int_equal(text_ctlspan("caf\xc3\xa9", 5, 0), 5);
	assert_int_equal(text_ctlspan("ab\ncd", 5, 0), 2);
	assert_int_equal(text_ctlspan("\x1b[31m", 5, 0), 0);
	assert_int_equal(text_ctlspan("del\x7f", 4, 0), 3);
	assert_int_equal(text_ctlspan("a\tb", 3, 0), 1);
	assert_int_equal(text_ctlspan("a\tb", 3, TEXT_HTAB), 3);
	assert_int_equal(text_ctlspan("a\tb\r\n", 5, TEXT_HTAB), 3);
	/* the length is what counts: a NUL inside it is refused */
	assert_int_equal(text_ctlspan("cut\0here", 8, 0), 3);
	/* and nothing past it is looked at */
	assert_int_equal(text_ctlspan("ok\n", 2, 0), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctl_class),
		cmocka_unit_test(test_ctlspan),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
