/*
 * The CA process, "sc-server -W ca": the one process that holds the key
 * of the CA that resigns TLS, as relayd keeps its keys in its "ca"
 * processes.  It signs leaf certificates and does nothing else: no
 * listener, no socket, no file.  The parent sends it the CA (certificate
 * and key, PEM, read from disk for each new CA process and wiped there
 * after), then IMSG_SRV_START; it parses them, checks them with a leaf
 * signed on the spot (which also makes libcrypto load what it loads
 * lazily), wipes the PEM texts, and then, started as root, chroots to
 * an empty directory and becomes _sc; the sandbox goes on last (seccomp:
 * its channel, memory, the clock, random numbers; Landlock: no file, no
 * network; OpenBSD: pledge "stdio").
 *
 * Each KGP worker asks, on its own channel to this process (the parent
 * hands one to each: IMSG_SRV_CA_PEER), or through the parent while it
 * has none, for a leaf for a name (IMSG_SRV_CA_SIGN) with a public key
 * it made itself: this process never hands out a private key.  It
 * answers (IMSG_SRV_CA_CERT) on the channel it was asked on, with the
 * leaf in DER, or with why not.  It takes EC P-256
 * keys only, and names that cert_name_valid() takes (the parent checked
 * both before relaying; they are checked again here).
 *
 * The parent is trusted (it started us): a message of it that does not
 * fit is fatal.  When the parent goes away, the process exits.  A KGP
 * worker's channel is not: what goes wrong on it (a bad message, an
 * answer that cannot be queued) closes that channel, never this process.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "imsg_server.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "server.h"

static int	 ca_config(struct imsgev *, struct imsg *);
static int	 ca_blob(struct imsgev *, struct imsg *);
static int	 ca_start(struct imsgev *, struct imsg *);
static int	 ca_shutdown(struct imsgev *, struct imsg *);
static int	 ca_sign(struct imsgev *, struct imsg *);
static int	 ca_sign_one(const struct srv_ca_req *, struct srv_ca_rep *);
static void	 ca_parent_gone(struct imsgev *);
static int	 ca_peer(struct imsgev *, struct imsg *);
static void	 ca_kgp_gone(struct imsgev *);
static void	 ca_kgp_bad(struct imsgev *, struct imsg *, enum imsgev_error,
		    const char *);
static void	 ca_sig(int, short, void *);

/* what the parent may send: the set-up once, then requests */
static const struct imsgev_msg ca_msgs[] = {
	{ IMSGEV_TYPE(IMSG_SRV_CONFIG), IMSGEV_SIZE(struct srv_config),
	    IMSGEV_ONCE, srv_config_valid, ca_config },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_BEGIN), IMSGEV_SIZE(struct srv_blob_hdr),
	    0, NULL, ca_blob },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB), sizeof(uint32_t) + 1, IMSG_MAXDATA, 0,
	    NULL, ca_blob },
	{ IMSGEV_TYPE(IMSG_SRV_BLOB_END), IMSGEV_SIZE(struct srv_blob_hdr),
	    0, NULL, ca_blob },
	{ IMSGEV_TYPE(IMSG_SRV_START), IMSGEV_EMPTY, IMSGEV_ONCE, NULL,
	    ca_start },
	{ IMSGEV_TYPE(IMSG_SRV_SHUTDOWN), IMSGEV_EMPTY, 0, NULL,
	    ca_shutdown },
	{ IMSGEV_TYPE(IMSG_SRV_CA_SIGN),
	    offsetof(struct srv_ca_req, pub) + 1, sizeof(struct srv_ca_req),
	    0, srv_ca_req_valid, ca_sign },
	{ IMSGEV_TYPE(IMSG_SRV_CA_PEER), IMSGEV_SIZE(int32_t), IMSGEV_FD,
	    NULL, ca_peer },
	IMSGEV_END
};

/* what a KGP worker may send on its channel: requests, nothing else */
static const struct imsgev_msg ca_kgp_msgs[] = {
	{ IMSGEV_TYPE(IMSG_SRV_CA_SIGN),
	    offsetof(struct srv_ca_req, pub) + 1, sizeof(struct srv_ca_req),
	    0, srv_ca_req_valid, ca_sign },
	IMSGEV_END
};

static const struct imsgev_peer ca_peer_parent = {
	"the parent", IMSGEV_FATAL, 0, ca_msgs, ca_parent_gone, NULL
};
static const struct imsgev_peer ca_peer_kgp = {
	"the KGP worker", IMSGEV_CLOSE, 0, ca_kgp_msgs, ca_kgp_gone,
	ca_kgp_bad
};

static struct imsgev	 iev_parent;
/* a channel to each KGP worker (--kgp-workers), by its index */
static struct imsgev	 iev_kgp[KGP_WORKERS_MAX];
static struct srv_blob	 blob_in;
static char		*pem[SRV_BLOB_MAX];
static size_t		 pemlen[SRV_BLOB_MAX];
static pid_t		 parent_pid;
static int		 have_config, started;
static X509		*ca_crt;
static EVP_PKEY		*ca_key;
static uint64_t		 nsigned;

int
ca_main(void)
{
	struct stat	 sb;
	int		 i;

	env->worker = SRV_ROLE_CA;
	if (fstat(SRV_WORKER_FD, &sb) == -1 || !S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "sc-server -W is a worker that sc-server "
		    "starts, not a command\n");
		return (1);
	}
	log_procinit("ca");
	log_init(LOG_DST_STDERR, LOG_DAEMON);
	parent_pid = getppid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	tzset();
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");

	for (i = 0; i < KGP_WORKERS_MAX; i++) {
		iev_kgp[i].ibuf.fd = -1;
		iev_kgp[i].peer = &ca_peer_kgp;
	}
	srv_worker_open(&iev_parent, &ca_peer_parent, ca_sig);
	if (event_base_dispatch(env->base) == -1)
		fatalx("event_base_dispatch");
	log_debug("exiting (%llu leaves signed)", (unsigned long long)nsigned);
	imsg_flush(&iev_parent.ibuf);
	EVP_PKEY_free(ca_key);
	X509_free(ca_crt);
	return (0);
}

static void
ca_parent_gone(struct imsgev *iev)
{
	imsgev_clear(iev);
	exit(0);
}

static void
ca_sig(int sig, short ev, void *arg)
{
	event_base_loopexit(env->base, NULL);
}

static int
ca_shutdown(struct imsgev *iev, struct imsg *imsg)
{
	event_base_loopexit(env->base, NULL);
	return (IMSGEV_OK);
}

static int
ca_config(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_config	 c;

	memcpy(&c, imsg->data, sizeof(c));
	if (c.role != SRV_ROLE_CA)
		return (IMSGEV_BAD);
	env->debug = c.debug;
	env->verbose = c.verbose;
	log_setverbose(c.verbose);
	have_config = 1;
	return (IMSGEV_OK);
}

/* The CA's certificate and key, once, before START. */
static int
ca_blob(struct imsgev *iev, struct imsg *imsg)
{
	int	 r;

	if ((r = srv_blob_recv(&blob_in, imsg)) == -1)
		return (IMSGEV_BAD);
	if (r == 0)
		return (IMSGEV_OK);
	if (started || (blob_in.kind != SRV_BLOB_CA_CRT &&
	    blob_in.kind != SRV_BLOB_CA_KEY) || pem[blob_in.kind] != NULL) {
		srv_blob_clear(&blob_in);
		return (IMSGEV_BAD);
	}
	pem[blob_in.kind] = blob_in.buf;
	pemlen[blob_in.kind] = blob_in.len;
	memset(&blob_in, 0, sizeof(blob_in));
	return (IMSGEV_OK);
}

/* Everything is here: the CA in memory, a trial leaf, the sandbox. */
static int
ca_start(struct imsgev *iev, struct imsg *imsg)
{
	struct srv_ca_req	 req;
	struct srv_ca_rep	*rep;
	EVP_PKEY		*trial;
	char			 err[128];
	int			 len, i;

	if (!have_config || pem[SRV_BLOB_CA_CRT] == NULL ||
	    pem[SRV_BLOB_CA_KEY] == NULL)
		fatalx("%s: the parent sent too little", __func__);
	if ((ca_crt = x509_read(pem[SRV_BLOB_CA_CRT],
	    pemlen[SRV_BLOB_CA_CRT])) == NULL ||
	    (ca_key = x509_read_key(pem[SRV_BLOB_CA_KEY],
	    pemlen[SRV_BLOB_CA_KEY])) == NULL)
		fatalx("the CA's certificate or key does not parse");
	if (ca_check(ca_crt, ca_key, err, sizeof(err)) == -1)
		fatalx("the CA: %s", err);
	for (i = 0; i < SRV_BLOB_MAX; i++)
		if (pem[i] != NULL) {
			freezero(pem[i], pemlen[i] + 1);
			pem[i] = NULL;
		}

	/* a trial leaf: what libcrypto loads lazily, loaded now */
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		fatal("%s", __func__);
	memset(&req, 0, sizeof(req));
	strlcpy(req.name, "sc-server.invalid", sizeof(req.name));
	if ((trial = x509_genkey()) == NULL ||
	    (len = x509_p256_spki(trial, req.pub, sizeof(req.pub))) == -1)
		fatalx("%s: a trial key", __func__);
	req.publen = len;
	EVP_PKEY_free(trial);
	if (ca_sign_one(&req, rep) != SRV_CA_OK)
		fatalx("the CA cannot sign a leaf");
	free(rep);
	ERR_clear_error();

	started = 1;
	sandbox_drop(SC_USER, SC_CHROOT);
#ifdef __linux__
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != parent_pid)
		exit(0);
#endif
	sandbox_server_ca();
	imsg_compose_event(&iev_parent, IMSG_SRV_READY, 0, 0, -1, NULL, 0);
	log_debug("serving");
	return (IMSGEV_OK);
}

/* One leaf into rep.  Returns its result (SRV_CA_*). */
static int
ca_sign_one(const struct srv_ca_req *req, struct srv_ca_rep *rep)
{
	const uint8_t	*pub;
	X509		*x;
	unsigned char	*p = rep->der;
	const char	*errstr;
	int		 len;

	memset(rep, 0, offsetof(struct srv_ca_rep, der));
	rep->reqid = req->reqid;
	/* an EC P-256 public key, DER SubjectPublicKeyInfo */
	if ((pub = x509_p256_point(req->pub, req->publen)) == NULL) {
		log_warnx("a leaf for %s: not an EC P-256 public key",
		    req->name);
		return (rep->result = SRV_CA_REFUSED);
	}
	x = ca_leaf(ca_crt, ca_key, req->name, pub, time(NULL), &errstr);
	if (x == NULL) {
		log_warnx("a leaf for %s: %s", req->name, errstr);
		return (rep->result = SRV_CA_FAILED);
	}
	if ((len = i2d_X509(x, NULL)) <= 0 || len > CA_LEAF_MAX ||
	    i2d_X509(x, &p) != len) {
		log_warnx("a leaf for %s: %d bytes of DER, more than %d",
		    req->name, len, CA_LEAF_MAX);
		X509_free(x);
		ERR_clear_error();
		return (rep->result = SRV_CA_FAILED);
	}
	X509_free(x);
	rep->len = len;
	return (rep->result = SRV_CA_OK);
}

/* IMSG_SRV_CA_SIGN (srv_ca_req_valid() has run): the answer goes back. */
static int
ca_sign(struct imsgev *iev, struct imsg *imsg)
{
	static struct srv_ca_rep	 rep;
	struct srv_ca_req		 req;

	if (!started)
		return (IMSGEV_BAD);
	memset(&req, 0, sizeof(req));
	memcpy(&req, imsg->data, IMSG_DATA_SIZE(imsg));
	if (ca_sign_one(&req, &rep) == SRV_CA_OK) {
		nsigned++;
		if (iev == &iev_parent)
			log_debug("signed a leaf for %s, asked through the "
			    "parent", req.name);
		else
			log_debug("signed a leaf for %s, asked by KGP worker "
			    "%d on its channel", req.name,
			    (int)(iev - iev_kgp));
	}
	/*
	 * the way it came: the parent, or the KGP worker's channel; at
	 * once, not at the next turn: a handshake waits for it
	 */
	if (imsg_compose_now(iev, IMSG_SRV_CA_CERT, 0, 0, -1, &rep,
	    offsetof(struct srv_ca_rep, der) + rep.len) == -1) {
		if (iev == &iev_parent)
			fatal("%s: imsg_compose", __func__);
		/*
		 * One channel lost, not the CA: the KGP worker sees it
		 * close, fails what it asked there and asks through the
		 * parent until the next channel.
		 */
		log_warn("%s: the answer for %s cannot be queued: the KGP "
		    "worker's channel closed", __func__, req.name);
		imsgev_clear(iev);
		return (IMSGEV_GONE);
	}
	return (IMSGEV_OK);
}

/*
 * A channel to a (new) KGP worker, int32 its index: its requests come
 * there, without the parent's hop; one before replaces it.  The KGP
 * worker faces the browsers and is not trusted: what it sends is
 * checked as the parent checks it, and a bad message closes the channel
 * (its requests then come through the parent again).
 */
static int
ca_peer(struct imsgev *iev, struct imsg *imsg)
{
	int32_t	 i;
	int	 fd;

	fd = imsg_get_fd(imsg);
	memcpy(&i, imsg->data, sizeof(i));
	if (!started || i < 0 || i >= KGP_WORKERS_MAX) {
		if (fd != -1)
			close(fd);
		return (IMSGEV_BAD);
	}
	iev_kgp[i].base = env->base;
	imsgev_replace(&iev_kgp[i], fd);
	log_debug("a channel to KGP worker %d", (int)i);
	return (IMSGEV_OK);
}

static void
ca_kgp_gone(struct imsgev *iev)
{
	imsgev_clear(iev);
}

static void
ca_kgp_bad(struct imsgev *iev, struct imsg *imsg, enum imsgev_error error,
    const char *why)
{
	log_warnx("KGP worker %d sent %s: its channel closed",
	    (int)(iev - iev_kgp), why);
	imsgev_clear(iev);
}
