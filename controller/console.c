/*
 * The console: the lines a user of Sauce Connect must see ("Tunnel ID:",
 * "Sauce Connect is up, you may start your tests.", "Goodbye.", the
 * errors that end sc).  Each goes to the log, and to standard output as
 * well when the log goes to a file: wrappers watch standard output for
 * them.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "controller.h"
#include "log.h"

static int	 console_stdout;	/* the log goes to a file */

static void	 sc_verror(const char *, va_list)
		    __attribute__((__format__ (printf, 1, 0)));

/* Where the log goes (-l): NULL or "-" is standard output already. */
void
console_init(const char *logfile)
{
	console_stdout = logfile != NULL && strcmp(logfile, "-") != 0;
}

/* A line the user must see. */
void
sc_console(int pri, const char *fmt, ...)
{
	struct timeval	 tv;
	struct tm	 tm;
	va_list		 ap;
	char		 msg[2048], ts[64];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_emit(pri, log_procname(), msg);
	if (console_stdout) {
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s.%03ld %s\n", ts, (long)tv.tv_usec / 1000, msg);
		fflush(stdout);
	}
}

static void
sc_verror(const char *fmt, va_list ap)
{
	char	 msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sc_console(LOG_ERR, "Error: %s", msg);
}

void
sc_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	sc_verror(fmt, ap);
	va_end(ap);
}

void
sc_fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	sc_verror(fmt, ap);
	va_end(ap);
	exit(1);
}

/* The usage of either command line (config.c parses them). */
void
config_usage(FILE *f, int legacy)
{
	if (!legacy) {
		fprintf(f,
"usage: sc run -u user -k key [-c file] [-i name] [-r region | --rest-url url]\n"
"              [-s all] [-t] [-f readyfile] [-d pidfile] [--log-file file]\n"
"              [--log-level level] [-v] [--tunnel-cainfo file]\n"
"              [--max-missed-acks n] [--no-remove-colliding-tunnels]\n"
"              [--ctl-socket path] [--tunnel-connections n]\n"
"              [--kgp-congestion name] [--kgp-processes n]\n"
"              [--proxy-sauce [user:pass@]host:port]\n"
"              [-F deny] [-D direct | -T tunnel] [-B passthrough | -b resign]\n"
"              [--cacert-file file ...] [--cacert-system]\n"
"              [-a user:pass@host:port ...] [-H rule ...] [-R rule ...]\n"
"              [-n ip[:port] ...] [--dns-round-robin] [--dns-timeout d]\n"
"              [--proxy-localhost allow|deny|direct]\n"
"              [--allow-networks nets] [--deny-networks nets]\n"
"              [--scproxy-port port] [--log-stats seconds]\n"
"       sc run config-file\n"
"       sc legacy -u user -k key [-i name] [-x url] [options]\n"
"       sc -u user -k key [-i name] [-x url] [-f readyfile] [-d pidfile]\n"
"          [-l logfile] [-v]\n");
		return;
	}
	fprintf(f,
"usage: sc [legacy] -u user -k key [-c file] [-i name] [-x url] [-s]\n"
"          [-f readyfile] [-d pidfile] [-l logfile] [-v] [-P port]\n"
"          [--tunnel-pool] [--no-remove-colliding-tunnels]\n"
"          [--tunnel-cainfo file] [--max-missed-acks n] [--ctl-socket path]\n"
"          [--cainfo file] [--wait-tunnel-shutdown] [--tunnel-connections n]\n"
"          [--kgp-congestion name] [--kgp-processes n]\n"
"          [-p host:port [-w user:pwd] [-T]]\n"
"          [-D domains] [-t domains] [-F regexps] [-B domains | -B all]\n"
"          [--cacert-file file ...] [--cacert-system]\n"
"          [-a host:port:user:pass ...] [--dns ip[:port],...]\n"
"          [--allow-networks nets] [--deny-networks nets] [--scproxy-port port]\n"
"          [-z seconds]\n"
"       sc run -u user -k key [-i name] [-r region | --rest-url url] [options]\n"
"See sc(8) for every flag.\n");
}
