/*
 * The tunnel registry on disk: statedir/tunnels.json, rewritten whole
 * (write_file_atomic) whenever a tunnel is created, connects, changes
 * status or ends, and read back at start, so that a restarted server
 * takes its running tunnels' clients back.  The file holds the KGP
 * secrets of the tunnels that are not terminated (mode 0600, in a 0700
 * directory).  Everything in it is checked as if a stranger had written
 * it: a file that does not parse is moved aside with a warning, a tunnel
 * that does not check out is left out with a warning, and the server
 * starts either way.
 *
 * The parent reads and writes the file (state_read_file(), state_write(),
 * state_set_aside()); the REST worker parses what the parent read and makes
 * the text to write (state_load(), state_save()), which it sends to the
 * parent.
 *
 *	{"version": 1, "tunnels": [{"id": ..., "owner": ..., "status": ...,
 *	    "kgp_secret": ..., "entry_port": ..., "creation_time": ...,
 *	    <the settings, as in the REST POST>}, ...]}
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "server.h"

#define STATE_VERSION	1
#define STATE_TIME_MAX	((json_int_t)1 << 40)	/* sane Unix seconds */

static json_t	*state_tunnel_json(struct tunnel *);
static struct tunnel *state_tunnel_parse(json_t *, size_t);
static int	 state_time(json_t *, const char *, time_t *);
static char	*state_read(const char *, size_t *);

static int	 state_ready;	/* loaded: saving may begin */

static json_t *
state_tunnel_json(struct tunnel *t)
{
	json_t	*o;

	if ((o = tunnel_json(t, 0)) == NULL)
		return (NULL);
	/* what the server makes up anew at start */
	json_object_del(o, "host");
	json_object_del(o, "ssh_port");
	json_object_del(o, "server_cert_sha256");
	json_object_del(o, "connected");
	json_object_del(o, "entry_proxy");
	if (t->status != TUNNEL_TERMINATED) {
		json_object_set_new(o, "kgp_secret", json_string(t->secret));
		json_object_set_new(o, "entry_port",
		    json_integer(t->entry_port));
	}
	return (o);
}

/*
 * Write the registry: every tunnel that is not terminated, and the most
 * recent terminated ones (they stay readable through the REST API).
 */
void
state_save(void)
{
	struct tunnel	*t;
	json_t		*root, *a, *o;
	char		*s;
	int		 nterm = 0, skip;

	if (!state_ready)
		return;
	TAILQ_FOREACH(t, &env->tunnels, entry)
		if (t->status == TUNNEL_TERMINATED)
			nterm++;
	skip = nterm > TUNNELS_KEEP_TERMINATED ?
	    nterm - TUNNELS_KEEP_TERMINATED : 0;
	if ((root = json_object()) == NULL || (a = json_array()) == NULL) {
		json_decref(root);
		goto fail;
	}
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "tunnels", a);
	TAILQ_FOREACH(t, &env->tunnels, entry) {
		if (t->status == TUNNEL_TERMINATED && skip > 0) {
			skip--;
			continue;
		}
		if ((o = state_tunnel_json(t)) == NULL ||
		    json_array_append_new(a, o) == -1) {
			json_decref(root);
			goto fail;
		}
	}
	s = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	if (s == NULL)
		goto fail;
	worker_save(s, strlen(s));
	explicit_bzero(s, strlen(s));
	free(s);
	return;
 fail:
	if (!env->tunnels_save_failed)
		log_warnx("cannot save the tunnels to %s: out of memory",
		    env->tunnels_path);
	env->tunnels_save_failed = 1;
}

/* The parent: write what the REST worker sent, mode 0600. */
void
state_write(const char *buf, size_t len)
{
	if (write_file_atomic(env->tunnels_path, buf, len, 0600) == -1) {
		if (!env->tunnels_save_failed)
			log_warn("cannot save the tunnels to %s",
			    env->tunnels_path);
		env->tunnels_save_failed = 1;
	} else if (env->tunnels_save_failed) {
		log_info("tunnels saved to %s again", env->tunnels_path);
		env->tunnels_save_failed = 0;
	}
}

/* An optional time member: absent or null is 0. */
static int
state_time(json_t *o, const char *name, time_t *tp)
{
	json_t		*v;
	json_int_t	 n;

	*tp = 0;
	v = json_object_get(o, name);
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_integer(v))
		return (-1);
	n = json_integer_value(v);
	if (n < 0 || n > STATE_TIME_MAX)
		return (-1);
	*tp = (time_t)n;
	return (0);
}

/* One tunnel of the file, checked; NULL with a warning if it is bad. */
static struct tunnel *
state_tunnel_parse(json_t *o, size_t idx)
{
	struct tunnel	*t = NULL;
	json_t		*v;
	const char	*id, *owner, *status, *secret;
	json_int_t	 port;
	char		 err[256];

	if (!json_is_object(o)) {
		snprintf(err, sizeof(err), "not an object");
		goto bad;
	}
	id = json_string_value(json_object_get(o, "id"));
	owner = json_string_value(json_object_get(o, "owner"));
	status = json_string_value(json_object_get(o, "status"));
	if (id == NULL || !tunnel_id_valid(id)) {
		snprintf(err, sizeof(err), "bad \"id\"");
		goto bad;
	}
	if (tunnel_find(id) != NULL) {
		snprintf(err, sizeof(err), "tunnel %s is there twice", id);
		goto bad;
	}
	if (owner == NULL || !account_name_valid(owner)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"owner\"", id);
		goto bad;
	}
	if (status == NULL || (strcmp(status, "running") != 0 &&
	    strcmp(status, "halting") != 0 &&
	    strcmp(status, "terminated") != 0)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"status\"", id);
		goto bad;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto bad;
	}
	TAILQ_INIT(&t->links);
	strlcpy(t->id, id, sizeof(t->id));
	strlcpy(t->owner, owner, sizeof(t->owner));
	t->use_kgp = 1;
	/* the settings have the names and the checks of a REST POST */
	if (rest_tunnel_settings(o, t, err, sizeof(err)) != 0)
		goto bad;
	v = json_object_get(o, "user_shutdown");
	if (v != NULL && !json_is_boolean(v)) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"user_shutdown\"",
		    id);
		goto bad;
	}
	t->user_shutdown = json_is_true(v);
	if (state_time(o, "creation_time", &t->creation_time) == -1 ||
	    state_time(o, "launch_time", &t->launch_time) == -1 ||
	    state_time(o, "last_connected", &t->last_connected) == -1 ||
	    state_time(o, "shutdown_time", &t->shutdown_time) == -1) {
		snprintf(err, sizeof(err), "tunnel %s: bad time", id);
		goto bad;
	}
	if (strcmp(status, "running") != 0) {
		/* a halting tunnel's link is gone now: it is over */
		t->status = TUNNEL_TERMINATED;
		if (t->shutdown_time == 0)
			t->shutdown_time = time(NULL);
		/* a secret no client has: never used, never saved */
		tunnel_random_hex(t->secret, TUNNEL_SECRET_LEN);
		return (t);
	}
	t->status = TUNNEL_RUNNING;
	t->shutdown_time = 0;
	secret = json_string_value(json_object_get(o, "kgp_secret"));
	if (secret == NULL || strlen(secret) != TUNNEL_SECRET_LEN ||
	    strspn(secret, "0123456789abcdef") != TUNNEL_SECRET_LEN) {
		snprintf(err, sizeof(err), "tunnel %s: bad \"kgp_secret\"",
		    id);
		goto bad;
	}
	strlcpy(t->secret, secret, sizeof(t->secret));
	/* the kernel chose it: never a privileged port */
	v = json_object_get(o, "entry_port");
	if (v != NULL && !json_is_null(v)) {
		if (json_is_integer(v) && (port = json_integer_value(v)) >=
		    1024 && port <= 65535)
			t->entry_port = (int)port;
		else
			log_warnx("%s: tunnel %s: bad \"entry_port\", it "
			    "gets a new port", env->tunnels_path, id);
	}
	if (tunnel_count_active(owner) >= TUNNEL_MAX_PER_USER) {
		snprintf(err, sizeof(err), "tunnel %s: %s has too many "
		    "tunnels", id, owner);
		goto bad;
	}
	return (t);
 bad:
	log_warnx("%s: tunnel #%zu left out: %s", env->tunnels_path, idx + 1,
	    err);
	tunnel_free(t);
	return (NULL);
}

/* The whole file, NUL-terminated; NULL with errno set. */
static char *
state_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st.st_size > TUNNELS_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if (st.st_mode & 077)
		log_warnx("%s is accessible by others: it holds secrets",
		    path);
	if ((buf = malloc(st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;		/* shrank meanwhile */
		off += n;
	}
	buf[off] = '\0';
	close(fd);
	*lenp = off;
	return (buf);
 fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return (NULL);
}

/*
 * The parent: keep a file we could not use for the operator, out of the
 * way.
 */
void
state_set_aside(void)
{
	const char	*path = env->tunnels_path;
	char		 aside[PATH_MAX];

	if ((size_t)snprintf(aside, sizeof(aside), "%s.bad", path) >=
	    sizeof(aside))
		return;
	if (rename(path, aside) == -1)
		log_warn("rename %s to %s", path, aside);
	else
		log_warnx("%s moved to %s", path, aside);
}

/*
 * The parent, at each start of the REST worker: the registry's text ("" when
 * there is none or it cannot be read: then it is set aside).
 */
char *
state_read_file(size_t *lenp)
{
	char	*buf;

	if ((buf = state_read(env->tunnels_path, lenp)) != NULL)
		return (buf);
	if (errno != ENOENT) {
		log_warn("cannot read the tunnels from %s, starting with none",
		    env->tunnels_path);
		state_set_aside();
	}
	*lenp = 0;
	return (strdup(""));
}

/*
 * The REST worker: the registry at start, as the parent read it (buf, len;
 * wiped here).  Whatever happens, the server starts, with the tunnels
 * that checked out.
 */
void
state_load(char *buf, size_t len)
{
	struct tunnel	*t;
	json_t		*root = NULL, *a, *v;
	json_error_t	 jerr;
	char		 why[JSON_ERROR_TEXT_LENGTH];
	size_t		 i;
	int		 nrun = 0, nall = 0;

	if (len == 0)
		goto done;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(buf, len);
	if (root == NULL) {
		/* jansson quotes the bad bytes: no control characters */
		log_sanitize(jerr.text, why, sizeof(why));
		log_warnx("%s is corrupt (line %d: %s), starting with no "
		    "tunnels", env->tunnels_path, jerr.line, why);
		worker_state_aside();
		goto done;
	}
	v = json_object_get(root, "version");
	a = json_object_get(root, "tunnels");
	if (!json_is_object(root) || !json_is_integer(v) ||
	    json_integer_value(v) != STATE_VERSION || !json_is_array(a)) {
		log_warnx("%s is not a version %d tunnel registry, starting "
		    "with no tunnels", env->tunnels_path, STATE_VERSION);
		worker_state_aside();
		goto done;
	}
	json_array_foreach(a, i, v) {
		if ((t = state_tunnel_parse(v, i)) == NULL)
			continue;
		reg_restore(t);
		nall++;
		if (t->status == TUNNEL_RUNNING)
			nrun++;
	}
	log_info("%d tunnel%s restored from %s, %d running", nall,
	    nall == 1 ? "" : "s", env->tunnels_path, nrun);
 done:
	json_decref(root);
	state_ready = 1;
	state_save();
}
