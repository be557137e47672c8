/*
 * What the kernel knows of a TCP socket's round trip and losses
 * (tcpinfo.c): for the KGP link's queue (man/kgp.7, "Flow control").
 */
#ifndef SC_TCPINFO_H
#define SC_TCPINFO_H

#include <stdint.h>

int	 tcpinfo_rtt(int, uint64_t *, uint64_t *, uint64_t *);

#endif
