/*
 * Unit tests of the REST worker's registry (server/registry.c): what a
 * new tunnel may take (reg_admit(): tunnels and bytes per account, bytes
 * in all), and that a new tunnel's POST hears exactly once, whether the
 * registry holding it is written, fails to be written, or cannot even be
 * sent; a tunnel that was not saved leaves both workers.  The rest of
 * the server is stubbed here.  The gateway's question (reg_gate()): the
 * grammar of the proxy user (ACCOUNT, ACCOUNT+NAME, ACCOUNT+OWNER/NAME,
 * a '+' in an account name), sharing, pools, and answers that never
 * tell whether someone else's tunnel exists.
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
static struct srv_tunnel_add last_add;

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
state_dirty(struct tunnel *t)
{
	t->state_clean = 0;
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
	if (type == IMSG_SRV_TUNNEL_ADD) {
		assert_int_equal(len, sizeof(last_add));
		memcpy(&last_add, data, len);
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

/* the accounts, and their keys */
static const char	*accts[][2] = {
	{ "alice", "ka" }, { "bob", "kb" }, { "bob+ci", "kc" },
};

int
account_check(struct accountlist *l, const char *user, const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(accts) / sizeof(accts[0]); i++)
		if (strcmp(accts[i][0], user) == 0)
			return (strcmp(accts[i][1], key) == 0 ? 0 : -1);
	return (-1);
}

struct account *
account_find(struct accountlist *l, const char *user)
{
	struct account	*a;

	TAILQ_FOREACH(a, l, entry)
		if (strcmp(a->name, user) == 0)
			return (a);
	return (NULL);
}

static int	 nevents, last_event;

void
worker_event(int kind, const char *account, const char *actor,
    const char *subject, const char *detail)
{
	nevents++;
	last_event = kind;
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
	free(t->identifier);
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
		free(t->identifier);
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

/* an account in env->accounts */
static void
acct(const char *name, const char *org, const char *team, int role)
{
	struct account	*a;

	a = calloc(1, sizeof(*a));
	assert_non_null(a);
	strlcpy(a->name, name, sizeof(a->name));
	strlcpy(a->org, org, sizeof(a->org));
	strlcpy(a->team, team, sizeof(a->team));
	a->role = role;
	TAILQ_INSERT_TAIL(&env->accounts, a, entry);
}

static void
accts_free(void)
{
	struct account	*a;

	while ((a = TAILQ_FIRST(&env->accounts)) != NULL) {
		TAILQ_REMOVE(&env->accounts, a, entry);
		free(a);
	}
}

/* who may use, delete, share: reg_may_use(), reg_may_delete() */
static void
test_roles(void **state)
{
	struct tunnel	 t;
	char		 err[256];
	int		 shared;

	TAILQ_INIT(&env->accounts);
	acct("boss", "acme", "", ROLE_ADMIN);
	acct("lead", "acme", "web", ROLE_TEAM_ADMIN);
	acct("dev", "acme", "web", ROLE_MEMBER);
	acct("ops", "acme", "ops", ROLE_MEMBER);
	acct("other", "globex", "web", ROLE_ADMIN);
	acct("solo", "", "", ROLE_ADMIN);
	acct("solo2", "", "", ROLE_ADMIN);
	memset(&t, 0, sizeof(t));

	/* not shared: the owner only */
	strlcpy(t.owner, "dev", sizeof(t.owner));
	assert_true(reg_may_use("dev", &t, &shared));
	assert_false(shared);
	assert_false(reg_may_use("lead", &t, &shared));
	assert_false(reg_may_use("boss", &t, NULL));
	/* an org admin deletes what it does not see */
	assert_true(reg_may_delete("boss", &t));
	assert_false(reg_may_delete("lead", &t));
	assert_false(reg_may_delete("other", &t));

	/* an org admin's: the organisation */
	t.shared_tunnel = 1;
	strlcpy(t.owner, "boss", sizeof(t.owner));
	assert_true(reg_may_use("ops", &t, &shared));
	assert_true(shared);
	assert_true(reg_may_use("dev", &t, NULL));
	assert_false(reg_may_use("other", &t, NULL));
	assert_false(reg_may_use("solo", &t, NULL));
	assert_false(reg_may_delete("dev", &t));

	/* a team admin's: the team */
	strlcpy(t.owner, "lead", sizeof(t.owner));
	assert_true(reg_may_use("dev", &t, NULL));
	assert_false(reg_may_use("ops", &t, NULL));
	assert_false(reg_may_use("other", &t, NULL));	/* a "web" elsewhere */
	assert_true(reg_may_use("boss", &t, NULL) == 0);

	/* a member's (made before it was one): nobody */
	strlcpy(t.owner, "dev", sizeof(t.owner));
	assert_false(reg_may_use("lead", &t, NULL));
	assert_false(reg_may_use("boss", &t, NULL));

	/* outside organisations: the others outside */
	strlcpy(t.owner, "solo", sizeof(t.owner));
	assert_true(reg_may_use("solo2", &t, NULL));
	assert_false(reg_may_use("dev", &t, NULL));
	assert_false(reg_may_delete("solo2", &t));

	/* sharing at creation: refused to a member, with an event */
	nevents = 0;
	assert_int_equal(reg_may_share("dev", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "member"));
	assert_int_equal(nevents, 1);
	assert_int_equal(last_event, EVENT_SHARE_REFUSED);
	assert_int_equal(reg_may_share("lead", err, sizeof(err)), 0);
	assert_int_equal(reg_may_share("boss", err, sizeof(err)), 0);
	assert_int_equal(nevents, 1);

	accts_free();
}

/* a running tunnel of owner named name ("": none) */
static struct tunnel *
mkt(const char *owner, const char *name, int shared, int pool)
{
	struct tunnel	*t;

	t = mk(owner, 1, TUNNEL_RUNNING, 1);
	if (*name != '\0')
		assert_non_null(t->identifier = strdup(name));
	t->shared_tunnel = shared;
	t->tunnel_pool = pool;
	return (t);
}

/* reg_gate() for user and key: its result, the ids in ids */
static int
gate(const char *user, const char *key, struct srv_gate_rep *rep)
{
	struct srv_gate_req	 req;
	size_t			 len;

	memset(&req, 0, sizeof(req));
	req.reqid = 7;
	strlcpy(req.addr, "192.0.2.1", sizeof(req.addr));
	strlcpy(req.user, user, sizeof(req.user));
	strlcpy(req.key, key, sizeof(req.key));
	req.have = 1;
	len = reg_gate(&req, rep);
	assert_int_equal(len, SRV_GATE_REP_LEN(rep->nids));
	assert_int_equal(rep->reqid, 7);
	assert_int_equal(text_ctlspan(rep->label, strlen(rep->label), 0),
	    strlen(rep->label));
	return (rep->result);
}

static void
test_gate(void **state)
{
	struct srv_gate_rep	 rep;
	struct srv_gate_req	 req;
	struct tunnel		*a0, *aci, *ateam, *bshared, *bci, *p1, *p2,
				*p3, *bc0;

	TAILQ_INIT(&env->accounts);
	acct("alice", "", "", ROLE_ADMIN);
	acct("bob", "", "", ROLE_ADMIN);
	acct("bob+ci", "", "", ROLE_ADMIN);
	a0 = mkt("alice", "", 0, 0);
	aci = mkt("alice", "ci", 0, 0);
	ateam = mkt("alice", "team/ci+1", 0, 0);
	bshared = mkt("bob", "shared", 1, 0);
	bci = mkt("bob", "ci", 0, 0);
	bc0 = mkt("bob+ci", "", 0, 0);
	p1 = mkt("bob", "pool", 1, 1);
	p2 = mkt("bob", "pool", 1, 1);
	p3 = mkt("bob", "pool", 0, 1);	/* a member not shared */
	mk("bob", 1, TUNNEL_TERMINATED, 1)->tunnel_pool = 1;

	assert_int_equal(gate("alice", "ka", &rep), SRV_GATE_OK);
	assert_int_equal(rep.nids, 1);
	assert_string_equal(rep.ids[0], a0->id);
	assert_int_equal(gate("alice+", "ka", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], a0->id);
	assert_int_equal(gate("alice+ci", "ka", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], aci->id);
	assert_int_equal(gate("alice+alice/team/ci+1", "ka", &rep),
	    SRV_GATE_OK);
	assert_string_equal(rep.ids[0], ateam->id);
	assert_int_equal(gate("alice+alice/", "ka", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], a0->id);
	/* OWNER "team": never alice's tunnel */
	assert_int_equal(gate("alice+team/ci+1", "ka", &rep),
	    SRV_GATE_UNSHARED);
	assert_string_equal(rep.label, "named \"ci+1\" of team");
	assert_int_equal(gate("alice+nosuch", "ka", &rep), SRV_GATE_NONE);
	assert_string_equal(rep.label, "named \"nosuch\"");
	assert_int_equal(rep.nids, 0);

	/* a '+' in an account name: the key says which account */
	assert_int_equal(gate("bob+ci", "kc", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], bc0->id);
	assert_int_equal(gate("bob+ci", "kb", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], bci->id);
	assert_int_equal(gate("bob+ci+bob/ci", "kc", &rep),
	    SRV_GATE_UNSHARED);
	assert_int_equal(gate("bob+bob/ci", "kb", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], bci->id);

	/* shared or not: the same answer as for no tunnel at all */
	assert_int_equal(gate("alice+bob/shared", "ka", &rep), SRV_GATE_OK);
	assert_string_equal(rep.ids[0], bshared->id);
	assert_int_equal(gate("alice+bob/ci", "ka", &rep),
	    SRV_GATE_UNSHARED);
	assert_string_equal(rep.label, "named \"ci\" of bob");
	assert_int_equal(gate("alice+bob/none", "ka", &rep),
	    SRV_GATE_UNSHARED);
	assert_int_equal(gate("alice+carol/ci", "ka", &rep),
	    SRV_GATE_UNSHARED);
	assert_string_equal(rep.label, "named \"ci\" of carol");

	/* a pool: its running members that the account may use */
	assert_int_equal(gate("bob+pool", "kb", &rep), SRV_GATE_OK);
	assert_int_equal(rep.nids, 3);
	assert_string_equal(rep.ids[0], p1->id);
	assert_string_equal(rep.ids[1], p2->id);
	assert_string_equal(rep.ids[2], p3->id);
	assert_int_equal(gate("alice+bob/pool", "ka", &rep), SRV_GATE_OK);
	assert_int_equal(rep.nids, 2);

	/* credentials */
	assert_int_equal(gate("alice", "kb", &rep), SRV_GATE_DENIED);
	assert_int_equal(gate("carol", "ka", &rep), SRV_GATE_DENIED);
	assert_int_equal(gate("", "ka", &rep), SRV_GATE_DENIED);
	assert_int_equal(gate("/alice", "ka", &rep), SRV_GATE_DENIED);
	assert_int_equal(gate("+alice", "ka", &rep), SRV_GATE_DENIED);
	memset(&req, 0, sizeof(req));
	strlcpy(req.addr, "192.0.2.1", sizeof(req.addr));
	reg_gate(&req, &rep);
	assert_int_equal(rep.result, SRV_GATE_DENIED);

	/* bytes that are not text: no tunnel, and a label that is */
	assert_int_equal(gate("alice+\x01\x7f\xff<b>", "ka", &rep),
	    SRV_GATE_NONE);
	assert_string_equal(rep.label, "named \"??" "?<b>\"");
	accts_free();
}

/* "pool" in the REST API: the running members of its owner and name */
static void
test_pool_json(void **state)
{
	struct tunnel	*p1, *p2, *o;
	json_t		*j;

	p1 = mkt("bob", "pool", 0, 1);
	p2 = mkt("bob", "pool", 0, 1);
	mkt("alice", "pool", 0, 1);
	mk("bob", 1, TUNNEL_TERMINATED, 1)->tunnel_pool = 1;
	o = mkt("bob", "other", 0, 0);
	assert_null(reg_pool_json(o));
	assert_non_null(j = reg_pool_json(p2));
	assert_string_equal(json_string_value(json_object_get(j, "name")),
	    "pool");
	assert_int_equal(json_array_size(json_object_get(j, "members")), 2);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "members"), 0)), p1->id);
	json_decref(j);
}

/*
 * --kgp-workers: pool members posted at once (none answered yet) are
 * sent to one KGP worker: the first to the one a new tunnel goes to
 * then, the others to the first's, wherever new tunnels go by then.
 */
static void
test_pool_kgp_port(void **state)
{
	struct srv_tstate	 ts;
	struct tunnel		*t[3];
	int			 i;

	env->kgp_next = 4001;
	for (i = 0; i < 3; i++) {
		t[i] = mk("bob", 1, TUNNEL_RUNNING, 0);
		assert_non_null(t[i]->identifier = strdup(i < 2 ? "pool" :
		    "other"));
		t[i]->tunnel_pool = i < 2;
		memset(&last_add, 0, sizeof(last_add));
		assert_int_equal(reg_start(t[i], started, &heard), 0);
		assert_int_equal(last_add.mode, SRV_ADD_NEW);
		assert_string_equal(last_add.id, t[i]->id);
		if (i < 2)
			assert_int_equal(last_add.kgp_port, 4001);
		else
			assert_int_equal(last_add.kgp_port, 0);	/* any */
		/* the parent placed it on 4001: the next goes to 4000 */
		env->kgp_next = 4000;
	}
	/* no entry proxy: each gone */
	for (i = 0; i < 3; i++) {
		memset(&ts, 0, sizeof(ts));
		strlcpy(ts.id, t[i]->id, sizeof(ts.id));
		ts.status = TUNNEL_TERMINATED;
		reg_state(&ts);
	}
	env->kgp_next = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test_setup_teardown(test_admit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_sent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deleted_meanwhile, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pool_kgp_port, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
