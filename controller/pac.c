/*
 * --pac FILE|URL: the controller reads the file or fetches the URL
 * (libcurl, directly, within PAC_FETCH_SEC and PAC_SCRIPT_MAX bytes)
 * before its sandbox, into a sealed memfd that each pacd it starts gets
 * as its fd 4 (pacd/pacd.c runs the script).  Then it relays proxyd's
 * questions (IMSG_PAC_ASK) to pacd and pacd's answers (IMSG_PAC_ANSWER)
 * back, the peerid untouched: the simplest path, as the controller
 * already supervises both and restarts either alone, and a question is
 * asked once per host every PAC_CACHE_SEC (proxyd's cache).  While pacd
 * is down, or when PAC_INFLIGHT_MAX questions wait, the answer is ""
 * at once: proxyd goes DIRECT.  When pacd dies, the questions it held
 * are answered "" and logged with their host.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "controller.h"
#include "log.h"
#include "pacans.h"

struct pac_buf {
	char	*data;
	size_t	 len;
	int	 toolong;
};

/* the questions pacd holds: proxyd's peerid and the host */
static struct {
	uint32_t	 id;
	char		 host[SC_HOST_LEN];
	int		 used;
	int		 orphan;	/* the proxyd that asked died */
} pac_inflight[PAC_INFLIGHT_MAX];

static size_t	 pac_curl_write(char *, size_t, size_t, void *);
static int	 pac_fetch(const char *, struct pac_buf *);
static int	 pac_read(const char *, struct pac_buf *);
static void	 pac_answer(uint32_t, const char *);
static int	 pac_memfile(void);

/*
 * A file of no name for the script: a memfd (Linux), or a temporary
 * file removed at once (elsewhere).  -1 having said why.
 */
static int
pac_memfile(void)
{
	int	 fd;
#ifdef MFD_ALLOW_SEALING
	if ((fd = memfd_create("sc-pac", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		sc_error("--pac: memfd_create: %s", strerror(errno));
#else
	char	 path[] = "/tmp/sc-pac.XXXXXXXXXX";

	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		sc_error("--pac: mkostemp: %s", strerror(errno));
	else
		unlink(path);
#endif
	return (fd);
}

static size_t
pac_curl_write(char *p, size_t size, size_t n, void *arg)
{
	struct pac_buf	*b = arg;
	size_t		 len = size * n;
	char		*q;

	if (len > PAC_SCRIPT_MAX - b->len) {
		b->toolong = 1;
		return (0);
	}
	if ((q = realloc(b->data, b->len + len)) == NULL)
		return (0);
	memcpy(q + b->len, p, len);
	b->data = q;
	b->len += len;
	return (len);
}

/* An http:// or https:// URL, fetched directly (no proxy). */
static int
pac_fetch(const char *url, struct pac_buf *b)
{
	CURL		*c;
	CURLcode	 rc;
	char		 errbuf[CURL_ERROR_SIZE] = "";
	long		 code = 0;

	if ((c = curl_easy_init()) == NULL) {
		sc_error("--pac %s: cannot initialise libcurl", url);
		return (-1);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PAC_FETCH_SEC);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)PAC_SCRIPT_MAX);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "sc/" SC_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pac_curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (b->toolong || rc == CURLE_FILESIZE_EXCEEDED) {
		sc_error("--pac %s: longer than %d bytes", url, PAC_SCRIPT_MAX);
		return (-1);
	}
	if (rc != CURLE_OK) {
		sc_error("--pac %s: %s", url, errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(rc));
		return (-1);
	}
	if (code != 200) {
		sc_error("--pac %s: HTTP status %ld", url, code);
		return (-1);
	}
	return (0);
}

static int
pac_read(const char *path, struct pac_buf *b)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		sc_error("--pac %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PAC_SCRIPT_MAX) {
		sc_error("--pac %s: not a regular file of at most %d bytes",
		    path, PAC_SCRIPT_MAX);
		close(fd);
		return (-1);
	}
	if ((b->data = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		sc_error("out of memory");
		return (-1);
	}
	while (b->len < (size_t)st.st_size) {
		n = read(fd, b->data + b->len, st.st_size - b->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			sc_error("--pac %s: read error", path);
			close(fd);
			return (-1);
		}
		b->len += n;
	}
	close(fd);
	return (0);
}

/*
 * The script of --pac (a path, file:// path, or an http:// or https://
 * URL) in a sealed memfd: its descriptor, or -1 having said why.
 */
int
pac_load(const char *arg)
{
	struct pac_buf	 b;
	size_t		 off;
	ssize_t		 n;
	int		 fd = -1;

	memset(&b, 0, sizeof(b));
	if (strncasecmp(arg, "http://", 7) == 0 ||
	    strncasecmp(arg, "https://", 8) == 0) {
		if (pac_fetch(arg, &b) == -1)
			goto fail;
	} else if (strncasecmp(arg, "file://", 7) == 0) {
		if (pac_read(arg + 7, &b) == -1)
			goto fail;
	} else if (strstr(arg, "://") != NULL) {
		sc_error("--pac %s: a file, or an http:// or https:// URL",
		    arg);
		goto fail;
	} else if (pac_read(arg, &b) == -1)
		goto fail;
	if (b.len == 0 || memchr(b.data, '\0', b.len) != NULL) {
		sc_error("--pac %s: empty, or not text (a NUL byte)", arg);
		goto fail;
	}
	if (memmem(b.data, b.len, "FindProxyForURL", 15) == NULL) {
		sc_error("--pac %s: no FindProxyForURL in it: not a PAC file",
		    arg);
		goto fail;
	}
	if ((fd = pac_memfile()) == -1)
		goto fail;
	for (off = 0; off < b.len; off += n)
		if ((n = write(fd, b.data + off, b.len - off)) <= 0) {
			sc_error("--pac: writing the memfd: %s",
			    strerror(errno));
			goto fail;
		}
#ifdef F_ADD_SEALS
	/* nobody changes it from here on, pacd included */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		sc_error("--pac: sealing the memfd: %s", strerror(errno));
		goto fail;
	}
#endif
	log_debug("--pac %s: %zu bytes", arg, b.len);
	free(b.data);
	return (fd);
 fail:
	if (fd != -1)
		close(fd);
	free(b.data);
	return (-1);
}

/* proxyd's question id gets ans ("" : none, go DIRECT). */
static void
pac_answer(uint32_t id, const char *ans)
{
	struct child	*p = &children[CHILD_PROXYD];

	if (child_ready(CHILD_PROXYD))
		imsg_compose_event(&p->iev, IMSG_PAC_ANSWER, id, 0, -1, ans,
		    strlen(ans) + 1);
}

/* IMSG_PAC_ASK from proxyd: to pacd, or "" at once. */
int
pac_relay_ask(struct imsgev *iev, struct imsg *imsg)
{
	struct pac_ask	 a;
	int		 i;

	memcpy(&a, imsg->data, sizeof(a));
	if (!child_ready(CHILD_PAC)) {
		log_warnx("pac: %s: pacd is not running (it is restarted): "
		    "DIRECT", a.host);
		pac_answer(imsg->hdr.peerid, "");
		return (IMSGEV_OK);
	}
	for (i = 0; i < PAC_INFLIGHT_MAX && pac_inflight[i].used; i++)
		;
	if (i == PAC_INFLIGHT_MAX) {
		log_warnx("pac: %s: %d questions wait for pacd already: "
		    "DIRECT", a.host, PAC_INFLIGHT_MAX);
		pac_answer(imsg->hdr.peerid, "");
		return (IMSGEV_OK);
	}
	pac_inflight[i].used = 1;
	pac_inflight[i].orphan = 0;
	pac_inflight[i].id = imsg->hdr.peerid;
	strlcpy(pac_inflight[i].host, a.host, sizeof(pac_inflight[i].host));
	imsg_compose_event(&children[CHILD_PAC].iev, IMSG_PAC_ASK,
	    imsg->hdr.peerid, 0, -1, &a, sizeof(a));
	return (IMSGEV_OK);
}

/* IMSG_PAC_ANSWER from pacd: to proxyd, if it was asked. */
int
pac_relay_answer(struct imsgev *iev, struct imsg *imsg)
{
	int	 i;

	for (i = 0; i < PAC_INFLIGHT_MAX; i++)
		if (pac_inflight[i].used &&
		    pac_inflight[i].id == imsg->hdr.peerid)
			break;
	if (i == PAC_INFLIGHT_MAX)
		return (IMSGEV_BAD);	/* nobody asked that */
	pac_inflight[i].used = 0;
	/* a new proxyd numbers its questions afresh: not for it */
	if (!pac_inflight[i].orphan)
		pac_answer(imsg->hdr.peerid, imsg->data);
	return (IMSGEV_OK);
}

/* proxyd died: what it asked is answered to nobody. */
void
pac_proxyd_died(void)
{
	int	 i;

	for (i = 0; i < PAC_INFLIGHT_MAX; i++)
		pac_inflight[i].orphan = 1;
}

/* pacd died: what it was asked goes DIRECT, and the log says so. */
void
pac_died(void)
{
	int	 i;

	for (i = 0; i < PAC_INFLIGHT_MAX; i++) {
		if (!pac_inflight[i].used)
			continue;
		log_warnx("pac: FindProxyForURL() for %s got no answer, pacd "
		    "died: DIRECT", pac_inflight[i].host);
		if (!pac_inflight[i].orphan)
			pac_answer(pac_inflight[i].id, "");
		pac_inflight[i].used = 0;
	}
}
