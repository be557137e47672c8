/*
 * Unit tests of server/privsep.c: blobs between the sc-server parent and
 * its workers.  A blob goes through a real socket pair and comes out
 * whole; every message out of place, of the wrong size or kind, or past
 * the announced length is refused.  The messages the parent relays
 * between the REST and the KGP worker are checked field by field.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "imsg_server.h"
#include "proc.h"
#include "server.h"

struct pair {
	int		 sv[2];
	struct imsgev	 w;	/* sends on sv[0] (no event: flushed here) */
	struct imsgbuf	 r;	/* reads on sv[1] */
};

static int
pair_setup(void **state)
{
	struct pair	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv) == -1) {
		free(p);
		return (-1);
	}
	imsg_init(&p->w.ibuf, p->sv[0]);
	imsg_init(&p->r, p->sv[1]);
	*state = p;
	return (0);
}

static int
pair_teardown(void **state)
{
	struct pair	*p = *state;

	imsg_clear(&p->w.ibuf);
	imsg_clear(&p->r);
	close(p->sv[0]);
	close(p->sv[1]);
	free(p);
	return (0);
}

/* Write what is queued, then feed every message to b; the last result. */
static int
pump(struct pair *p, struct srv_blob *b, int *nmsg)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r = 0;

	*nmsg = 0;
	while (p->w.ibuf.w.queued) {
		assert_true(msgbuf_write(&p->w.ibuf.w) > 0);
		assert_true(imsg_read(&p->r) > 0);
		while ((n = imsg_get(&p->r, &imsg)) > 0) {
			(*nmsg)++;
			if (r != -1)
				r = srv_blob_recv(b, &imsg);
			imsg_free(&imsg);
		}
		assert_true(n == 0);
	}
	return (r);
}

static void
test_roundtrip(void **state)
{
	struct pair	*p = *state;
	struct srv_blob	 b;
	char		*text;
	size_t		 len = 3 * SRV_BLOB_CHUNK + 17, i;
	int		 n;

	memset(&b, 0, sizeof(b));
	assert_non_null(text = malloc(len));
	for (i = 0; i < len; i++)
		text[i] = 'a' + i % 26;
	assert_int_equal(srv_blob_send(&p->w, SRV_BLOB_SAVE, text, len, 7),
	    0);
	assert_int_equal(pump(p, &b, &n), 1);
	assert_int_equal(n, 6);		/* begin, 4 chunks, end */
	assert_int_equal(b.kind, SRV_BLOB_SAVE);
	assert_int_equal(b.len, len);
	assert_int_equal(b.seq, 7);
	assert_memory_equal(b.buf, text, len);
	assert_int_equal(b.buf[len], '\0');
	srv_blob_clear(&b);
	assert_int_equal(b.kind, SRV_BLOB_NONE);
	assert_null(b.buf);

	/* empty: begin and end */
	assert_int_equal(srv_blob_send(&p->w, SRV_BLOB_STATE, "", 0, 0), 0);
	assert_int_equal(pump(p, &b, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.buf, "");
	srv_blob_clear(&b);
	free(text);
}

static void
test_too_large(void **state)
{
	struct pair	*p = *state;
	static char	 big[SRV_PEM_MAX + 1];

	errno = 0;
	assert_int_equal(srv_blob_send(&p->w, SRV_BLOB_KGP_KEY, big,
	    sizeof(big), 0), -1);
	assert_int_equal(errno, EFBIG);		/* the caller tells why */
	assert_int_equal(p->w.ibuf.w.queued, 0);
	assert_int_equal(srv_blob_send(&p->w, SRV_BLOB_NONE, "x", 1, 0), -1);
	assert_int_equal(srv_blob_send(&p->w, SRV_BLOB_MAX, "x", 1, 0), -1);
}

/* send one raw message and feed it to b */
static int
raw(struct pair *p, struct srv_blob *b, uint32_t type, const void *d1,
    size_t l1, const void *d2, size_t l2)
{
	int	 n;

	assert_int_equal(imsg_compose2(&p->w.ibuf, type, 0, 0, -1, d1, l1,
	    d2, l2), 1);
	return (pump(p, b, &n));
}

static void
test_bad_order(void **state)
{
	struct pair		*p = *state;
	struct srv_blob		 b;
	struct srv_blob_hdr	 h;
	uint32_t		 kind = SRV_BLOB_SAVE, other = SRV_BLOB_STATE;

	memset(&b, 0, sizeof(b));
	/* a chunk or an end without a begin */
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &kind, sizeof(kind), "ab",
	    2), -1);
	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.len = 2;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_END, &h, sizeof(h), NULL,
	    0), -1);
	/* a begin of the wrong size, of no kind, too long for its kind */
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h) - 1,
	    NULL, 0), -1);
	h.kind = SRV_BLOB_NONE;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h), NULL,
	    0), -1);
	h.kind = SRV_BLOB_MAX;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h), NULL,
	    0), -1);
	h.kind = SRV_BLOB_KGP_CRT;
	h.len = SRV_PEM_MAX + 1;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h), NULL,
	    0), -1);
	assert_null(b.buf);

	/* a good begin, then: a second begin, another kind, too much */
	h.kind = kind;
	h.len = 4;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h), NULL,
	    0), 0);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_BEGIN, &h, sizeof(h), NULL,
	    0), -1);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &other, sizeof(other),
	    "ab", 2), -1);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &kind, sizeof(kind),
	    "abcde", 5), -1);
	/* a chunk with no bytes, an end before the last byte */
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &kind, sizeof(kind), NULL,
	    0), -1);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &kind, sizeof(kind),
	    "abc", 3), 0);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_END, &h, sizeof(h), NULL,
	    0), -1);
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB, &kind, sizeof(kind), "d",
	    1), 0);
	/* an end that does not repeat the begin */
	h.seq = 1;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_END, &h, sizeof(h), NULL,
	    0), -1);
	h.seq = 0;
	assert_int_equal(raw(p, &b, IMSG_SRV_BLOB_END, &h, sizeof(h), NULL,
	    0), 1);
	assert_string_equal(b.buf, "abcd");
	srv_blob_clear(&b);
	/* another message type altogether */
	assert_int_equal(raw(p, &b, IMSG_SRV_READY, NULL, 0, NULL, 0), -1);
}

#define ID	"0123456789abcdef0123456789abcdef"

static void
test_relayed(void **state)
{
	struct srv_tunnel_add	 a;
	struct srv_tunnel_ref	 ref;
	struct srv_tstate	 ts;
	struct srv_auth_req	 r;

	memset(&a, 0, sizeof(a));
	strlcpy(a.id, ID, sizeof(a.id));
	memset(a.secret, 'a', TUNNEL_SECRET_LEN);
	strlcpy(a.owner, "alice", sizeof(a.owner));
	a.mode = SRV_ADD_NEW;
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), 0);
	a.want = 80;			/* a privileged port */
	a.mode = SRV_ADD_RESTORE;
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), -1);
	a.want = 4000;
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), 0);
	a.mode = SRV_ADD_NEW;		/* a new tunnel has no port yet */
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), -1);
	a.mode = 9;
	a.want = 0;
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), -1);
	a.mode = SRV_ADD_SYNC;
	a.secret[3] = 'X';		/* not hex */
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), -1);
	a.secret[3] = 'a';
	memset(a.owner, 'b', sizeof(a.owner));	/* no NUL */
	assert_int_equal(srv_tunnel_add_valid(&a, sizeof(a)), -1);

	memset(&ref, 0, sizeof(ref));
	strlcpy(ref.id, ID, sizeof(ref.id));
	ref.why = SRV_DEL_USER;
	assert_int_equal(srv_tunnel_ref_valid(&ref, sizeof(ref)), 0);
	ref.why = SRV_DEL_UNSAVED;
	assert_int_equal(srv_tunnel_ref_valid(&ref, sizeof(ref)), 0);
	ref.why = 0;
	assert_int_equal(srv_tunnel_ref_valid(&ref, sizeof(ref)), -1);
	ref.why = SRV_DEL_USER;
	memset(ref.id, 'a', sizeof(ref.id));	/* no NUL */
	assert_int_equal(srv_tunnel_ref_valid(&ref, sizeof(ref)), -1);

	memset(&ts, 0, sizeof(ts));
	strlcpy(ts.id, ID, sizeof(ts.id));
	ts.status = TUNNEL_RUNNING;
	assert_int_equal(srv_tstate_valid(&ts, sizeof(ts)), 0);
	ts.status = TUNNEL_TERMINATED + 1;
	assert_int_equal(srv_tstate_valid(&ts, sizeof(ts)), -1);
	ts.status = TUNNEL_HALTING;
	ts.entry_port = 22;
	assert_int_equal(srv_tstate_valid(&ts, sizeof(ts)), -1);
	ts.entry_port = 0;
	memset(ts.reason, 'x', sizeof(ts.reason));
	assert_int_equal(srv_tstate_valid(&ts, sizeof(ts)), -1);
	ts.reason[0] = '\0';
	ts.id[0] = 'G';
	assert_int_equal(srv_tstate_valid(&ts, sizeof(ts)), -1);

	memset(&r, 0, sizeof(r));
	strlcpy(r.tunnel_id, ID, sizeof(r.tunnel_id));
	strlcpy(r.addr, "127.0.0.1", sizeof(r.addr));
	r.have = 1;
	strlcpy(r.user, "alice", sizeof(r.user));
	strlcpy(r.key, "k", sizeof(r.key));
	assert_int_equal(srv_auth_req_valid(&r, sizeof(r)), 0);
	r.have = 2;
	assert_int_equal(srv_auth_req_valid(&r, sizeof(r)), -1);
	r.have = 0;
	memset(r.key, 'k', sizeof(r.key));
	assert_int_equal(srv_auth_req_valid(&r, sizeof(r)), -1);
	r.key[0] = '\0';
	r.addr[0] = '\0';
	assert_int_equal(srv_auth_req_valid(&r, sizeof(r)), -1);
}

/* the gateway's question and answer (issue 19) */
static void
test_gate(void **state)
{
	struct srv_gate_req	 q;
	struct srv_gate_rep	*r;

	memset(&q, 0, sizeof(q));
	strlcpy(q.addr, "127.0.0.1", sizeof(q.addr));
	strlcpy(q.user, "alice+bob/ci", sizeof(q.user));
	strlcpy(q.key, "k", sizeof(q.key));
	q.have = 1;
	assert_int_equal(srv_gate_req_valid(&q, sizeof(q)), 0);
	assert_int_equal(srv_gate_req_valid(&q, sizeof(q) - 1), -1);
	q.have = 2;
	assert_int_equal(srv_gate_req_valid(&q, sizeof(q)), -1);
	q.have = 1;
	memset(q.user, 'u', sizeof(q.user));	/* no NUL */
	assert_int_equal(srv_gate_req_valid(&q, sizeof(q)), -1);
	q.user[0] = '\0';
	q.addr[0] = '\0';
	assert_int_equal(srv_gate_req_valid(&q, sizeof(q)), -1);

	assert_non_null(r = calloc(1, sizeof(*r)));
	r->result = SRV_GATE_OK;
	r->nids = 2;
	strlcpy(r->ids[0], ID, sizeof(r->ids[0]));
	strlcpy(r->ids[1], ID, sizeof(r->ids[1]));
	strlcpy(r->label, "named \"ci\" of bob", sizeof(r->label));
	/* the message ends with its ids, exactly */
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(2)), 0);
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(2) + 1), -1);
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(1)), -1);
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0) - 1), -1);
	r->ids[1][5] = 'G';
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(2)), -1);
	r->ids[1][5] = '5';
	r->nids = GATEWAY_POOL_MAX + 1;
	assert_int_equal(srv_gate_rep_valid(r, sizeof(*r)), -1);
	/* ids only with SRV_GATE_OK, and some then */
	r->nids = 0;
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), -1);
	r->result = SRV_GATE_UNSHARED;
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), 0);
	r->nids = 1;
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(1)), -1);
	r->nids = 0;
	r->result = SRV_GATE_UNSHARED + 1;
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), -1);
	r->result = SRV_GATE_LIMITED;
	r->retry = -1;
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), -1);
	r->retry = 3;
	r->label[2] = '\n';		/* a label that is not text */
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), -1);
	r->label[2] = 'm';
	memset(r->label, 'x', sizeof(r->label));
	assert_int_equal(srv_gate_rep_valid(r, SRV_GATE_REP_LEN(0)), -1);
	free(r);
}

/* what an admin asks of its organisation, and the teams (issue 19) */
static void
test_admin(void **state)
{
	struct srv_account_req	 q;
	struct srv_teams_rep	*t;

	memset(&q, 0, sizeof(q));
	q.op = SRV_ACCOUNT_SET;
	strlcpy(q.admin, "boss", sizeof(q.admin));
	strlcpy(q.name, "dev", sizeof(q.name));
	strlcpy(q.team, "web", sizeof(q.team));
	q.role = ROLE_TEAM_ADMIN;
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), 0);
	assert_int_equal(srv_account_req_valid(&q, sizeof(q) - 1), -1);
	q.keep_role = 2;
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);
	q.keep_role = 1;
	q.role = ROLE_ADMIN + 1;
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);
	q.role = ROLE_MEMBER;
	strlcpy(q.team, "<b>", sizeof(q.team));
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);
	/* a team to add: its name, and no account's */
	q.op = SRV_TEAM_ADD;
	strlcpy(q.team, "qa", sizeof(q.team));
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);
	q.name[0] = '\0';
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), 0);
	q.team[0] = '\0';
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);
	q.op = SRV_TEAM_LIST;
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), 0);
	q.op = SRV_TEAM_LIST + 1;
	assert_int_equal(srv_account_req_valid(&q, sizeof(q)), -1);

	assert_non_null(t = calloc(1, sizeof(*t)));
	t->status = 200;
	t->count = 2;
	strlcpy(t->name[0], "ops", sizeof(t->name[0]));
	strlcpy(t->name[1], "web", sizeof(t->name[1]));
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), 0);
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t) - 1), -1);
	/* count names, then none */
	t->count = 1;
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	t->count = 3;
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	t->count = TEAMS_LIST_MAX + 1;
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	t->count = 2;
	t->name[1][0] = '-';
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	t->name[1][0] = 'w';
	memset(t->name[1], 'x', sizeof(t->name[1]));	/* no NUL */
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	strlcpy(t->name[1], "web", sizeof(t->name[1]));
	t->status = 404;
	assert_int_equal(srv_teams_rep_valid(t, sizeof(*t)), -1);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, pair_setup,
		    pair_teardown),
		cmocka_unit_test_setup_teardown(test_too_large, pair_setup,
		    pair_teardown),
		cmocka_unit_test_setup_teardown(test_bad_order, pair_setup,
		    pair_teardown),
		cmocka_unit_test(test_relayed),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_admin),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
