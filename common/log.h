/*
 * Logging.  The controller and sc-server write stdout/stderr, a log file
 * or syslog; children hand every line to a sink that carries it to the
 * controller over imsg.
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#define LOG_DST_STDOUT	0
#define LOG_DST_STDERR	1
#define LOG_DST_FILE	2
#define LOG_DST_SYSLOG	3

typedef void	(*log_sink_t)(int, const char *);

void	 log_init(int, int);
void	 log_procinit(const char *);
const char *log_procname(void);
void	 log_setverbose(int);
int	 log_getverbose(void);
int	 log_set_file(const char *);
void	 log_set_sink(log_sink_t);
void	 log_emit(int, const char *, const char *);
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
