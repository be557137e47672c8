/*
 * What the kernel knows of a TCP socket's round trip.  A file of its
 * own: the least round trip is in Linux's struct tcp_info
 * (<linux/tcp.h>), not in the C library's shorter one (<netinet/tcp.h>),
 * and the two headers do not go together.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#ifdef __linux__
#include <linux/tcp.h>
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tcpinfo.h"

/*
 * The smoothed round trip of fd's socket (*srtt_us) and the least one
 * its samples saw (*min_us, 0 when the kernel does not say), both in
 * microseconds, and a count that moves whenever the link loses a
 * segment (*losses: those this end sent again and those it received out
 * of order, both since the socket began).  -1 when fd is not a TCP
 * socket, or the system does not say (not Linux).
 */
int
tcpinfo_rtt(int fd, uint64_t *srtt_us, uint64_t *min_us, uint64_t *losses)
{
#ifdef __linux__
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_rttvar))
		return (-1);
	*srtt_us = ti.tcpi_rtt;
	*min_us = len >= offsetof(struct tcp_info, tcpi_min_rtt) +
	    sizeof(ti.tcpi_min_rtt) && ti.tcpi_min_rtt != ~0U ?
	    ti.tcpi_min_rtt : 0;
	/* segments this end sent again, and segments that came out of order */
	*losses = ti.tcpi_total_retrans;
	if (len >= offsetof(struct tcp_info, tcpi_rcv_ooopack) +
	    sizeof(ti.tcpi_rcv_ooopack))
		*losses += ti.tcpi_rcv_ooopack;
	return (0);
#else
	(void)fd;
	(void)srtt_us;
	(void)min_us;
	(void)losses;
	return (-1);
#endif
}
