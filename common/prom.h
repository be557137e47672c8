/*
 * The Prometheus text exposition format (version 0.0.4), written to a
 * stdio stream (open_memstream(3)): a metric's HELP and TYPE lines, a
 * sample, a histogram.  sc-server's -m and sc's --api-address use it.
 */
#ifndef SC_PROM_H
#define SC_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

void	 prom_head(FILE *, const char *, const char *, const char *);
void	 prom_one(FILE *, const char *, const char *, const char *,
	    unsigned long long);
void	 prom_histogram(FILE *, const char *, const char *, const double *,
	    const uint64_t *, size_t, uint64_t, double);

#endif /* SC_PROM_H */
