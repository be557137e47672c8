/*
 * Bodies moved from one socket to another by the kernel (splice.c).
 */
#ifndef PROXYD_SPLICE_H
#define PROXYD_SPLICE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct splice_job;

/* how a job goes on or ended: the event of splice_cb */
#define SPLICE_MORE	0	/* running; bytes went out */
#define SPLICE_DONE	1	/* max bytes went out */
#define SPLICE_EOF	2	/* the source ended first; all went out */
#define SPLICE_ERR_FROM	3	/* reading failed; what was read went out */
#define SPLICE_ERR_TO	4	/* writing failed (splice_error) */

/*
 * Called after each turn that moved bytes (moved: how many went to the
 * destination in it) and once at the end; it may stop the job.
 */
typedef void	(*splice_cb)(void *, int, size_t);

struct splice_job *splice_start(struct event_base *, int, int, uint64_t,
		    splice_cb, void *);
void		 splice_stop(struct splice_job *);
int		 splice_error(const struct splice_job *);

#endif /* PROXYD_SPLICE_H */
