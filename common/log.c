/*
 * Logging: the level, the two line formats, the destinations, the log
 * file's reopening (SIGHUP) and rotation (--max-logsize), and the writer
 * thread (see log.h).
 *
 * The writer thread: log_emit() formats the line and appends it to the
 * queue under a mutex, and nothing else; the thread takes the whole
 * queue at once (two buffers, swapped), writes it, and reopens or
 * rotates the file when asked or when it has grown too large.  Once it
 * runs, only it touches the log file's descriptor.  A process forked
 * while it runs must not log before it execs (the helpers' start does
 * not: only async-signal-safe calls there).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_dst = LOG_DST_STDERR;
static int		 verbose;
static int		 log_format = LOG_FORMAT_TEXT;
static const char	*procname;
static char		 log_path[PATH_MAX];
static int		 log_fd = -1;
static uint64_t		 log_maxsize;	/* 0: no rotation */
static log_sink_t	 log_sink;

/* the writer thread */
static pthread_mutex_t	 lw_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 lw_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 lw_done = PTHREAD_COND_INITIALIZER;	/* written */
static pthread_t	 lw_thread;
static int		 lw_on;		/* it runs: lines go to the queue */
static pid_t		 lw_pid;	/* in this process */
static char		*lw_buf, *lw_spare;
static size_t		 lw_len;
static uint64_t		 lw_dropped;	/* since the last report */
static uint64_t		 lw_dropped_all;
static uint64_t		 lw_queued, lw_written;	/* bytes, since the start */
static int		 lw_reopen, lw_stop;

static void	 log_out(const char *, size_t);
static void	 log_write_fd(const char *, size_t);
static void	 log_note(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 log_open_file(void);
static void	 log_rotate(void);
static void	*log_writer(void *);
static void	 log_writer_atexit(void);

/*
 * dst: where lines go (LOG_DST_*); facility: the syslog facility used
 * when dst is LOG_DST_SYSLOG.
 */
void
log_init(int dst, int facility)
{
	log_dst = dst;
	if (dst == LOG_DST_SYSLOG) {
		tzset();
		openlog(procname ? procname : "sc", LOG_PID | LOG_NDELAY,
		    facility);
	}
}

void
log_procinit(const char *name)
{
	procname = name;
}

const char *
log_procname(void)
{
	return (procname);
}

void
log_setverbose(int v)
{
	verbose = v;
}

int
log_getverbose(void)
{
	return (verbose);
}

static const char *level_names[] = { "error", "warn", "info", "debug",
    "trace" };

/* "error" .. "trace" into *v (LOG_LEVEL_*); -1 for another word. */
int
log_level_parse(const char *s, int *v)
{
	int	 i;

	for (i = 0; i < 5; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*v = LOG_LEVEL_ERROR + i;
			return (0);
		}
	return (-1);
}

const char *
log_level_name(int v)
{
	if (v < LOG_LEVEL_ERROR)
		v = LOG_LEVEL_ERROR;
	if (v > LOG_LEVEL_TRACE)
		v = LOG_LEVEL_TRACE;
	return (level_names[v - LOG_LEVEL_ERROR]);
}

/* Is a line of priority pri written at the verbosity set? */
int
log_wants(int pri)
{
	if (pri <= LOG_ERR)
		return (1);
	if (pri == LOG_WARNING)
		return (verbose >= LOG_LEVEL_WARN);
	if (pri <= LOG_INFO)
		return (verbose >= LOG_LEVEL_INFO);
	return (verbose >= LOG_LEVEL_DEBUG);
}

void
log_set_format(int f)
{
	log_format = f;
}

static int
log_open_file(void)
{
	return (open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640));
}

/* Append to a log file; "-" means standard output. */
int
log_set_file(const char *path)
{
	int	 fd;

	if (strcmp(path, "-") == 0) {
		log_dst = LOG_DST_STDOUT;
		return (0);
	}
	if (strlcpy(log_path, path, sizeof(log_path)) >= sizeof(log_path)) {
		log_path[0] = '\0';
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = log_open_file()) == -1)
		return (-1);
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	log_dst = LOG_DST_FILE;
	return (0);
}

/* --max-logsize: rotate the file once it is this large; 0: never. */
void
log_set_maxsize(uint64_t n)
{
	log_maxsize = n;
}

/*
 * A line of the logging itself (a reopen or rotation that failed, lines
 * dropped), written where the log goes; by the writer thread when it
 * runs, which calls this.
 */
static void
log_note(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[LOG_LINE_MAX], line[4 * LOG_LINE_MAX];
	size_t	 n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = log_format_line(line, sizeof(line), LOG_WARNING, procname, msg);
	log_write_fd(line, n);
}

/*
 * The log file again, by its name: after logrotate(8) moved it, lines
 * go to the new one.  The old one stays open when the new one cannot be
 * opened.  Standard output and syslog: nothing to do.
 */
static void
log_do_reopen(void)
{
	int	 fd;

	if (log_dst != LOG_DST_FILE)
		return;
	if ((fd = log_open_file()) == -1) {
		log_note("cannot reopen the log file %s: %s", log_path,
		    strerror(errno));
		return;
	}
	close(log_fd);
	log_fd = fd;
}

/* SIGHUP: reopen the log file, now or by the writer thread. */
int
log_reopen(void)
{
	if (lw_on) {
		pthread_mutex_lock(&lw_mtx);
		lw_reopen = 1;
		pthread_cond_signal(&lw_cond);
		pthread_mutex_unlock(&lw_mtx);
		return (0);
	}
	log_do_reopen();
	return (0);
}

/*
 * FILE.2 -> FILE.3 ... FILE -> FILE.1, then a new FILE: LOG_ROTATE_KEEP
 * old files.  A rename that fails ends the rotation for good, with a
 * line that says so, rather than a line for every write.
 */
static void
log_rotate(void)
{
	char	 from[PATH_MAX + 16], to[PATH_MAX + 16];
	int	 i;

	for (i = LOG_ROTATE_KEEP - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", log_path, i);
		snprintf(to, sizeof(to), "%s.%d", log_path, i + 1);
		if (rename(from, to) == -1 && errno != ENOENT)
			goto fail;
	}
	snprintf(to, sizeof(to), "%s.1", log_path);
	if (rename(log_path, to) == -1)
		goto fail;
	log_do_reopen();
	return;
 fail:
	log_maxsize = 0;
	log_note("cannot rotate the log file %s (%s to %s: %s): it grows "
	    "from now on", log_path, i >= 1 ? from : log_path, to,
	    strerror(errno));
}

/* Write it all where the log goes, then rotate if it is time to. */
static void
log_write_fd(const char *buf, size_t len)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	switch (log_dst) {
	case LOG_DST_FILE:
		fd = log_fd;
		break;
	case LOG_DST_STDOUT:
		fd = STDOUT_FILENO;
		break;
	default:
		fd = STDERR_FILENO;
		break;
	}
	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf += n;
		len -= n;
	}
	if (log_dst == LOG_DST_FILE && log_maxsize > 0 &&
	    fstat(log_fd, &st) == 0 && (uint64_t)st.st_size >= log_maxsize)
		log_rotate();
}

static void *
log_writer(void *arg)
{
	char		*buf;
	size_t		 len;
	uint64_t	 dropped;
	int		 reopen, stop;

	for (;;) {
		pthread_mutex_lock(&lw_mtx);
		while (lw_len == 0 && lw_dropped == 0 && !lw_reopen &&
		    !lw_stop)
			pthread_cond_wait(&lw_cond, &lw_mtx);
		buf = lw_buf;
		len = lw_len;
		lw_buf = lw_spare;
		lw_spare = buf;
		lw_len = 0;
		dropped = lw_dropped;
		lw_dropped = 0;
		reopen = lw_reopen;
		lw_reopen = 0;
		stop = lw_stop;
		pthread_mutex_unlock(&lw_mtx);

		if (reopen)
			log_do_reopen();
		if (dropped > 0)
			log_note("%llu log lines dropped: the log could not "
			    "keep up", (unsigned long long)dropped);
		if (len > 0) {
			log_write_fd(buf, len);
			pthread_mutex_lock(&lw_mtx);
			lw_written += len;
			pthread_cond_broadcast(&lw_done);
			pthread_mutex_unlock(&lw_mtx);
		}
		if (stop && len == 0 && dropped == 0)
			break;
	}
	return (NULL);
}

/*
 * From now on a thread writes the log file or standard output (syslog
 * and sinks are left alone).  Call it once the sandbox is on, so that
 * the thread is in it too.  Returns -1 if the thread cannot start; the
 * lines are then written as before.
 */
int
log_writer_start(void)
{
	if (lw_on || log_sink != NULL || log_dst == LOG_DST_SYSLOG)
		return (0);
	if ((lw_buf = malloc(LOG_QUEUE_MAX)) == NULL ||
	    (lw_spare = malloc(LOG_QUEUE_MAX)) == NULL) {
		free(lw_buf);
		lw_buf = NULL;
		return (-1);
	}
	lw_stop = 0;
	if ((errno = pthread_create(&lw_thread, NULL, log_writer,
	    NULL)) != 0) {
		free(lw_buf);
		free(lw_spare);
		lw_buf = lw_spare = NULL;
		return (-1);
	}
	lw_pid = getpid();
	lw_on = 1;
	atexit(log_writer_atexit);
	return (0);
}

/* Write what is queued, end the thread; lines are written directly. */
void
log_writer_stop(void)
{
	if (!lw_on || getpid() != lw_pid)
		return;
	pthread_mutex_lock(&lw_mtx);
	lw_stop = 1;
	pthread_cond_signal(&lw_cond);
	pthread_mutex_unlock(&lw_mtx);
	pthread_join(lw_thread, NULL);
	lw_on = 0;
	free(lw_buf);
	free(lw_spare);
	lw_buf = lw_spare = NULL;
}

/*
 * Wait until the lines queued so far are written, LOG_FLUSH_MAX_MS at
 * most: what follows (a readyfile) is not seen before them.
 */
void
log_writer_flush(void)
{
	struct timespec	 ts;
	uint64_t	 want;

	if (!lw_on || getpid() != lw_pid)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LOG_FLUSH_MAX_MS / 1000;
	ts.tv_nsec += LOG_FLUSH_MAX_MS % 1000 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lw_mtx);
	want = lw_queued;
	while (lw_written < want)
		if (pthread_cond_timedwait(&lw_done, &lw_mtx, &ts) != 0)
			break;
	pthread_mutex_unlock(&lw_mtx);
}

static void
log_writer_atexit(void)
{
	log_writer_stop();
}

/* Lines dropped because the queue was full, since the start. */
uint64_t
log_dropped(void)
{
	uint64_t	 n;

	pthread_mutex_lock(&lw_mtx);
	n = lw_dropped_all;
	pthread_mutex_unlock(&lw_mtx);
	return (n);
}

static void
log_out(const char *line, size_t len)
{
	if (!lw_on) {
		log_write_fd(line, len);
		return;
	}
	pthread_mutex_lock(&lw_mtx);
	if (lw_len + len > LOG_QUEUE_MAX) {
		lw_dropped++;
		lw_dropped_all++;
	} else {
		memcpy(lw_buf + lw_len, line, len);
		lw_len += len;
		lw_queued += len;
	}
	pthread_cond_signal(&lw_cond);
	pthread_mutex_unlock(&lw_mtx);
}

/* Children: every line goes to the sink instead of being written here. */
void
log_set_sink(log_sink_t sink)
{
	log_sink = sink;
}

static const char *
pri_name(int pri)
{
	if (pri <= LOG_ERR)
		return ("error");
	if (pri == LOG_WARNING)
		return ("warn");
	if (pri <= LOG_INFO)
		return ("info");
	return ("debug");
}

/*
 * One line, newline included, into buf: the text format (local time,
 * "[name]" for another process than this one) or a JSON object (time in
 * UTC, level, process, message; every byte of the message outside
 * printable ASCII escaped or a '?').  Returns its length; a line that
 * does not fit is cut, and still ends with its newline (and the JSON
 * object with its brace).
 */
size_t
log_format_line(char *buf, size_t len, int pri, const char *name,
    const char *msg)
{
	struct timeval		 tv;
	struct tm		 tm;
	char			 ts[64];
	const unsigned char	*p;
	size_t			 n;
	int			 r;

	if (len < 4)
		return (0);
	gettimeofday(&tv, NULL);
	if (log_format == LOG_FORMAT_JSON) {
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(buf, len, "{\"time\":\"%s.%03ldZ\",\"level\":"
		    "\"%s\",\"process\":\"%s\",\"message\":\"", ts,
		    (long)tv.tv_usec / 1000, pri_name(pri),
		    name != NULL ? name : procname != NULL ? procname : "");
		n = r < 0 ? 0 : (size_t)r;
		/* room for the escape, then "}\n and the NUL */
		for (p = (const unsigned char *)msg; *p != '\0' &&
		    n + 6 + 4 < len; p++) {
			if (*p == '"' || *p == '\\') {
				buf[n++] = '\\';
				buf[n++] = *p;
			} else if (*p < 0x20)
				n += snprintf(buf + n, len - n, "\\u%04x", *p);
			else
				buf[n++] = *p < 0x7f ? *p : '?';
		}
		if (n + 4 > len)
			n = len - 4;
		memcpy(buf + n, "\"}\n", 4);
		return (n + 3);
	}
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	if (name != NULL && name != procname)
		r = snprintf(buf, len, "%s.%03ld [%s] %s\n", ts,
		    (long)tv.tv_usec / 1000, name, msg);
	else
		r = snprintf(buf, len, "%s.%03ld %s\n", ts,
		    (long)tv.tv_usec / 1000, msg);
	n = r < 0 ? 0 : (size_t)r;
	if (n >= len) {
		n = len - 1;
		buf[n - 1] = '\n';
	}
	return (n);
}

/*
 * Write one finished line.  The controller also calls this for lines its
 * children sent, with the child's name.
 */
void
log_emit(int pri, const char *name, const char *msg)
{
	char	 line[4 * LOG_LINE_MAX];
	size_t	 n;

	if (log_sink != NULL) {
		log_sink(pri, msg);
		return;
	}
	if (log_dst == LOG_DST_SYSLOG) {
		if (name != NULL && name != procname)
			syslog(pri, "[%s] %s", name, msg);
		else
			syslog(pri, "%s", msg);
		return;
	}
	n = log_format_line(line, sizeof(line), pri, name, msg);
	log_out(line, n);
}

/*
 * Text that someone else wrote, made fit for a log line or a terminal:
 * every byte outside printable ASCII (0x20 to 0x7e) becomes '?'.  One
 * byte in, one byte out, so that what fitted a buffer still does; no
 * control character (a newline that forges a line, an escape sequence
 * for the terminal that shows the log, C1 controls of 8-bit terminals)
 * gets through, at the price of non-ASCII text, which is shown as '?'s.
 * Copies s into buf (at most len - 1 bytes, then a NUL); buf may be s.
 */
void
log_sanitize(const char *s, char *buf, size_t len)
{
	log_sanitize_mem(s, strnlen(s, len), buf, len);
}

/* The same for slen bytes that need not be a string: a NUL is a '?'. */
void
log_sanitize_mem(const void *s, size_t slen, char *buf, size_t len)
{
	const unsigned char	*p = s;
	size_t			 i;

	if (len == 0)
		return;
	for (i = 0; i < slen && i < len - 1; i++)
		buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	buf[i] = '\0';
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];

	if (!log_wants(pri))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(pri, procname, msg);
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

static void
vlog_errno(int pri, int saved, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 n;

	if (!log_wants(pri))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt ? fmt : "", ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, "%s%s",
		    fmt ? ": " : "", strerror(saved));
	log_emit(pri, procname, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (verbose < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_debug2(const char *fmt, ...)
{
	va_list	 ap;

	if (verbose < LOG_LEVEL_TRACE)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
