/*
 * Logging.
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_dst = LOG_DST_STDERR;
static int		 verbose;
static const char	*procname;
static FILE		*log_file;
static log_sink_t	 log_sink;

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

/* Append to a log file; "-" means standard output. */
int
log_set_file(const char *path)
{
	FILE	*f;
	int	 fd;

	if (strcmp(path, "-") == 0) {
		log_dst = LOG_DST_STDOUT;
		return (0);
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return (-1);
	if ((f = fdopen(fd, "a")) == NULL) {
		close(fd);
		return (-1);
	}
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file != NULL)
		fclose(log_file);
	log_file = f;
	log_dst = LOG_DST_FILE;
	return (0);
}

/* Children: every line goes to the sink instead of being written here. */
void
log_set_sink(log_sink_t sink)
{
	log_sink = sink;
}

/*
 * Write one finished line.  The controller also calls this for lines its
 * children sent, with the child's name.
 */
void
log_emit(int pri, const char *name, const char *msg)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 ts[64];
	FILE		*f;

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
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	switch (log_dst) {
	case LOG_DST_FILE:
		f = log_file;
		break;
	case LOG_DST_STDOUT:
		f = stdout;
		break;
	default:
		f = stderr;
		break;
	}
	if (name != NULL && name != procname)
		fprintf(f, "%s.%03ld [%s] %s\n", ts, (long)tv.tv_usec / 1000,
		    name, msg);
	else
		fprintf(f, "%s.%03ld %s\n", ts, (long)tv.tv_usec / 1000, msg);
	fflush(f);
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
	char	 msg[2048];

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
	char	 msg[2048];
	int	 n;

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

	if (verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_debug2(const char *fmt, ...)
{
	va_list	 ap;

	if (verbose < 2)
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
