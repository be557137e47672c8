/*
 * kgpd: the KGP client.  It speaks TLS and KGP on the socket the
 * controller passes it and hands every stream the server opens to
 * proxyd as one end of a socketpair.
 */
#ifndef KGPD_H
#define KGPD_H

/* kgpd.c */
int	 main(int, char *[]);

#endif /* KGPD_H */
