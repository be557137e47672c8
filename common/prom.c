/*
 * The Prometheus text format (prom.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prom.h"

/* One metric's HELP and TYPE lines. */
void
prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one sample without labels. */
void
prom_one(FILE *f, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	prom_head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

/*
 * A histogram of n buckets: buckets[i] counts the observations up to
 * bounds[i] and above bounds[i - 1], so that its cumulative le="..."
 * lines are sums; count is all of them (le="+Inf"), sum their total.
 * Bounds and sum are in the metric's unit.
 */
void
prom_histogram(FILE *f, const char *name, const char *help,
    const double *bounds, const uint64_t *buckets, size_t n, uint64_t count,
    double sum)
{
	unsigned long long	 acc = 0;
	size_t			 i;

	prom_head(f, name, "histogram", help);
	for (i = 0; i < n; i++) {
		acc += buckets[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], acc);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)count);
	fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
	    (unsigned long long)count);
}
