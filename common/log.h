/*
 * Logging.  The controller and sc-server write stdout/stderr, a log file
 * or syslog; children hand every line to a sink that carries it to the
 * controller over imsg.
 *
 * The level is one number, the verbosity: LOG_LEVEL_ERROR (-2) to
 * LOG_LEVEL_TRACE (2) and one more -v (3).  A line above it is dropped
 * where it is made, so that a child never sends it.
 *
 * A process that writes a file or standard output may hand the writing
 * to a thread of its own (log_writer_start()): a line is then copied
 * into a queue of at most LOG_QUEUE_MAX bytes and the thread writes it,
 * so that a slow disk or a slow reader of standard output never blocks
 * the event loop.  A line that does not fit is dropped and counted; the
 * count is written as a line of its own once the queue has room.  What
 * must not be seen before a line (the readyfile after "Sauce Connect is
 * up") waits for it with log_writer_flush().
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>

#define LOG_DST_STDOUT	0
#define LOG_DST_STDERR	1
#define LOG_DST_FILE	2
#define LOG_DST_SYSLOG	3

/* verbosity: --log-level, -v */
#define LOG_LEVEL_ERROR	(-2)
#define LOG_LEVEL_WARN	(-1)
#define LOG_LEVEL_INFO	0
#define LOG_LEVEL_DEBUG	1
#define LOG_LEVEL_TRACE	2

/* --log-format */
#define LOG_FORMAT_TEXT	0
#define LOG_FORMAT_JSON	1	/* one JSON object a line */

#define LOG_LINE_MAX	2048		/* a message, before its time stamp */
#define LOG_QUEUE_MAX	(1024 * 1024)	/* bytes waiting for the writer */
#define LOG_ROTATE_KEEP	3		/* --max-logsize: FILE.1 .. FILE.3 */
#define LOG_MAXSIZE_MIN	4096		/* --max-logsize: at least, bytes */
#define LOG_FLUSH_MAX_MS 1000		/* log_writer_flush(): at most */

typedef void	(*log_sink_t)(int, const char *);

void	 log_init(int, int);
void	 log_procinit(const char *);
const char *log_procname(void);
void	 log_setverbose(int);
int	 log_getverbose(void);
int	 log_level_parse(const char *, int *);
const char *log_level_name(int);
int	 log_wants(int);
void	 log_set_format(int);
int	 log_set_file(const char *);
void	 log_set_maxsize(uint64_t);
int	 log_reopen(void);
int	 log_writer_start(void);
void	 log_writer_stop(void);
void	 log_writer_flush(void);
uint64_t log_dropped(void);
void	 log_set_sink(log_sink_t);
void	 log_emit(int, const char *, const char *);
size_t	 log_format_line(char *, size_t, int, const char *, const char *);
void	 log_sanitize(const char *, char *, size_t);
void	 log_sanitize_mem(const void *, size_t, char *, size_t);
void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug2(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 logit(int, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 vlog(int, const char *, va_list)
	    __attribute__((__format__ (printf, 2, 0)));
__attribute__((noreturn))
void	 fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((noreturn))
void	 fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

#endif /* SC_LOG_H */
