/*
 * Unit tests of the REST worker's registry (server/registry.c): what a
 * new tunnel may take (reg_admit(): tunnels and bytes per account, bytes
 * in all), and that a new tunnel's POST hears exactly once, whether the
 * registry holding it is written, fails to be written, or cannot even be
 * sent; a tunnel that was not saved leaves both workers.  The rest of
 * the server is stubbed here.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "imsg_server.h"
#include "server.h"

/* the registry's bytes, with room for the terminated lines kept */
_Static_assert(TUNNELS_LIVE_MAX + (TUNNELS_KEEP_TERMINATED + 1) *
    (size_t)TUNNEL_LINE_MAX <= TUNNELS_FILE_MAX, "the registry fits");
_Static_assert(ACCOUNT_TUNNELS_MAX < TUNNELS_LIVE_MAX, "an account fits");

static struct server_env	 senv;
struct server_env		*env = &senv;

/* what the stubs saw, and what they answer */
static uint64_t		 next_seq;	/* state_save(): 0 fails */
static int		 save_errno;
static int		 saves, soon;
static void		(*after_cb)(void *, int);
static void		*after_arg;
static uint64_t		 after_seq;
static struct srv_tunnel_ref last_del;
static int		 ndel;

uint64_t
state_save(void)
{
	saves++;
	if (next_seq == 0)
		errno = save_errno;
	return (next_seq);
}

void
state_save_soon(void)
{
	soon++;
}

void
worker_after_save(uint64_t seq, void (*cb)(void *, int), void *arg)
{
	assert_null(after_cb);
	after_seq = seq;
	after_cb = cb;
	after_arg = arg;
}

void
worker_send(uint32_t type, const void *data, size_t len)
{
	if (type == IMSG_SRV_TUNNEL_DEL) {
		assert_int_equal(len, sizeof(last_del));
		memcpy(&last_del, data, len);
		ndel++;
	}
}

void
worker_restore_done(void)
{
}

int
throttle_check(int realm, const char *addr, const char *user, int *retry)
{
	return (0);
}

void
throttle_fail(int realm, const char *addr, const char *user)
{
}

void
throttle_ok(int realm, const char *addr, const char *user)
{
}

int
account_check(struct accountlist *l, const char *user, const char *key)
{
	return (-1);
}

struct account *
account_find(struct accountlist *l, const char *user)
{
	return (NULL);
}

struct tunnel *
tunnel_find(const char *id)
{
	struct tunnel	*t;

	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (strcmp(t->id, id) == 0)
			return (t);
	return (NULL);
}

void
tunnel_free(struct tunnel *t)
{
	free(t);
}

const char *
tunnel_status_name(enum tunnel_status s)
{
	return (s == TUNNEL_RUNNING ? "running" : "terminated");
}

/* the web page's events: none here */
void
weblinks_state(struct tunnel *t, const struct srv_tstate *ts, int status,
    int nlinks)
{
}

void
weblinks_event(struct tunnel *t, const char *fmt, ...)
{
}

/* a tunnel of owner taking size bytes; in the registry if add */
static struct tunnel *
mk(const char *owner, size_t size, enum tunnel_status st, int add)
{
	static int	 n;
	struct tunnel	*t;

	t = calloc(1, sizeof(*t));
	assert_non_null(t);
	TAILQ_INIT(&t->links);
	snprintf(t->id, sizeof(t->id), "%032x", ++n);
	strlcpy(t->owner, owner, sizeof(t->owner));
	t->size = size;
	t->status = st;
	if (add)
		TAILQ_INSERT_TAIL(&env->tunnels, t, entry);
	return (t);
}

static int
setup(void **state)
{
	TAILQ_INIT(&env->tunnels);
	next_seq = 0;
	saves = soon = ndel = 0;
	after_cb = NULL;
	return (0);
}

static int
teardown(void **state)
{
	struct tunnel	*t;

	while ((t = TAILQ_FIRST(&env->tunnels)) != NULL) {
		TAILQ_REMOVE(&env->tunnels, t, entry);
		free(t);
	}
	return (0);
}

static void
test_admit(void **state)
{
	struct tunnel	*t, *n;
	char		 err[256], owner[16];
	int		 i;

	n = mk("alice", 1024 + 2, TUNNEL_RUNNING, 0);
	assert_int_equal(reg_admit(n, err, sizeof(err)), 0);

	/* bytes per account: terminated tunnels do not count */
	for (i = 0; i < 16; i++)
		mk("alice", 64 * 1024, i < 15 ? TUNNEL_RUNNING :
		    TUNNEL_TERMINATED, 1);
	assert_int_equal(reg_admit(n, err, sizeof(err)), 0);
	n->size = 64 * 1024 + 1;
	assert_int_equal(reg_admit(n, err, sizeof(err)), 413);
	assert_non_null(strstr(err, "1048576"));
	/* another account is not concerned */
	strlcpy(n->owner, "bob", sizeof(n->owner));
	assert_int_equal(reg_admit(n, err, sizeof(err)), 0);

	/* tunnels per account: 429 */
	for (i = 0; i < TUNNEL_MAX_PER_USER; i++)
		mk("bob", 1026, TUNNEL_RUNNING, 1);
	n->size = 1026;
	assert_int_equal(reg_admit(n, err, sizeof(err)), 429);

	/* in all: the registry is full for everyone */
	for (i = 0; (size_t)i < TUNNELS_LIVE_MAX / ACCOUNT_TUNNELS_MAX; i++) {
		snprintf(owner, sizeof(owner), "u%d", i);
		mk(owner, ACCOUNT_TUNNELS_MAX, TUNNEL_RUNNING, 1);
	}
	strlcpy(n->owner, "carol", sizeof(n->owner));
	assert_int_equal(reg_admit(n, err, sizeof(err)), 503);
	assert_non_null(strstr(err, "full"));
	/* ended tunnels make room */
	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->owner[0] == 'u')
			t->status = TUNNEL_TERMINATED;
	assert_int_equal(reg_admit(n, err, sizeof(err)), 0);
	free(n);
}

/* what the POST heard */
static int	 heard, heard_code;
static char	 heard_why[256];
static struct tunnel *heard_t;

static void
started(struct tunnel *t, int code, const char *why, void *arg)
{
	heard++;
	heard_t = t;
	heard_code = code;
	strlcpy(heard_why, why ? why : "", sizeof(heard_why));
	assert_ptr_equal(arg, &heard);
}

/* a new tunnel up to its entry proxy: the KGP worker's report */
static struct tunnel *
start_one(void)
{
	struct srv_tstate	 ts;
	struct tunnel		*t;

	heard = 0;
	t = mk("alice", 1026, TUNNEL_RUNNING, 0);
	assert_int_equal(reg_start(t, started, &heard), 0);
	memset(&ts, 0, sizeof(ts));
	strlcpy(ts.id, t->id, sizeof(ts.id));
	ts.status = TUNNEL_RUNNING;
	ts.entry_port = 40000;
	strlcpy(ts.entry_addr, "127.0.0.1:40000", sizeof(ts.entry_addr));
	reg_state(&ts);
	return (t);
}

static void
test_saved(void **state)
{
	struct tunnel	*t;

	next_seq = 7;
	t = start_one();
	/* in the registry, not answered before the registry is on disk */
	assert_ptr_equal(tunnel_find(t->id), t);
	assert_int_equal(heard, 0);
	assert_int_equal(after_seq, 7);
	after_cb(after_arg, 0);
	assert_int_equal(heard, 1);
	assert_ptr_equal(heard_t, t);
	assert_int_equal(ndel, 0);
}

static void
test_write_failed(void **state)
{
	struct tunnel	*t;
	char		 id[TUNNEL_ID_LEN + 1];

	next_seq = 8;
	t = start_one();
	strlcpy(id, t->id, sizeof(id));
	after_cb(after_arg, ENOSPC);
	/* answered once, 503 with the reason; gone from both workers */
	assert_int_equal(heard, 1);
	assert_null(heard_t);
	assert_int_equal(heard_code, 503);
	assert_string_equal(heard_why, "cannot save the tunnel registry: "
	    "No space left on device");
	assert_null(tunnel_find(id));
	assert_int_equal(ndel, 1);
	assert_string_equal(last_del.id, id);
	assert_int_equal(last_del.why, SRV_DEL_UNSAVED);
	/* a registry written meanwhile may hold it: saved again */
	assert_int_equal(soon, 1);
}

static void
test_not_sent(void **state)
{
	struct tunnel	*t;
	char		 id[TUNNEL_ID_LEN + 1];

	next_seq = 0;
	save_errno = EFBIG;
	t = start_one();
	strlcpy(id, t->id, sizeof(id));
	/* answered at once: nothing to wait for */
	assert_null(after_cb);
	assert_int_equal(heard, 1);
	assert_int_equal(heard_code, 503);
	assert_string_equal(heard_why, "cannot save the tunnel registry: "
	    "File too large");
	assert_null(tunnel_find(id));
	assert_int_equal(ndel, 1);
}

static void
test_deleted_meanwhile(void **state)
{
	struct tunnel	*t;

	next_seq = 9;
	t = start_one();
	t->status = TUNNEL_TERMINATED;	/* a DELETE went ahead */
	after_cb(after_arg, 0);
	assert_int_equal(heard, 1);
	assert_null(heard_t);
	assert_int_equal(heard_code, 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_admit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_sent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deleted_meanwhile, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
