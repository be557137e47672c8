/*
 * The messages between the sc-server parent and its worker, and their
 * payloads.  The parent reads files, binds ports and writes the registry;
 * the worker serves the network (see parent.c, worker.c and the SECURITY
 * CONSIDERATIONS of sc-server(8)).  Both ends are the same binary, so the
 * structs need no versioning beyond SRV_IMSG_VERSION in the HELLO.
 *
 * IMSG_LOG (imsg_types.h) carries the worker's log lines, as for the
 * client's children.  The server's own types start at SRV_IMSG_BASE so
 * that they never collide with it.
 */
#ifndef SC_IMSG_SERVER_H
#define SC_IMSG_SERVER_H

#include <stdint.h>

#include "imsg_types.h"
#include "server.h"

#define SRV_IMSG_VERSION	1
#define SRV_IMSG_BASE		0x100
#define SRV_WORKER_FD		3	/* the worker's channel to the parent */

enum srv_imsg_type {
	/* worker -> parent */
	IMSG_SRV_HELLO = SRV_IMSG_BASE,	/* struct sc_hello */
	IMSG_SRV_READY,		/* no payload: serving */
	IMSG_SRV_ENTRY_BIND,	/* struct srv_entry_req */
	IMSG_SRV_STATE_ASIDE,	/* no payload: tunnels.json is corrupt */

	/* parent -> worker */
	IMSG_SRV_CONFIG,	/* struct srv_config */
	IMSG_SRV_LISTENER,	/* fd = listening socket; uint32 SRV_LISTEN_* */
	IMSG_SRV_START,		/* no payload: everything has been sent */
	IMSG_SRV_ENTRY_FD,	/* struct srv_entry_reply, fd or none */
	IMSG_SRV_SAVED,		/* uint64 sequence number of a registry */
	IMSG_SRV_SHUTDOWN,	/* no payload: drain and exit */

	/* both ways: a blob, in chunks between its start and its end */
	IMSG_SRV_BLOB_BEGIN,	/* struct srv_blob_hdr */
	IMSG_SRV_BLOB,		/* uint32 SRV_BLOB_* + up to a chunk of bytes */
	IMSG_SRV_BLOB_END,	/* struct srv_blob_hdr, the same again */
};

#define SRV_LISTEN_REST		1
#define SRV_LISTEN_KGP		2

/* blobs: files and lists too large for one message */
enum srv_blob_kind {
	SRV_BLOB_NONE,
	SRV_BLOB_KGP_CRT,	/* parent -> worker: KGP certificate, PEM */
	SRV_BLOB_KGP_KEY,	/* parent -> worker: its key, PEM */
	SRV_BLOB_REST_CRT,	/* parent -> worker: -C, PEM chain */
	SRV_BLOB_REST_KEY,	/* parent -> worker: -k, PEM */
	SRV_BLOB_ACCOUNTS,	/* parent -> worker: struct srv_account[] */
	SRV_BLOB_STATE,		/* parent -> worker: tunnels.json as read */
	SRV_BLOB_SAVE,		/* worker -> parent: tunnels.json to write */
	SRV_BLOB_MAX
};

#define SRV_BLOB_CHUNK		(IMSG_MAXDATA - sizeof(uint32_t))
#define SRV_PEM_MAX		(256 * 1024)

struct srv_blob_hdr {
	uint32_t	 kind;
	uint32_t	 pad;
	uint64_t	 len;		/* bytes in all */
	uint64_t	 seq;		/* SRV_BLOB_SAVE: for IMSG_SRV_SAVED */
};

/* one account as the worker gets it: never the access key */
struct srv_account {
	char		 name[ACCOUNT_NAME_MAX + 1];
	uint8_t		 salt[ACCOUNT_SALT_LEN];
	uint8_t		 hash[32];
};

struct srv_config {
	uint32_t	 version;	/* SRV_IMSG_VERSION */
	int32_t		 debug;
	int32_t		 verbose;
	int32_t		 grace;
	int32_t		 max_missed;
	int32_t		 entry_auth;
	int32_t		 rest_tls;
	int32_t		 kgp_port;
	char		 host[HOST_MAX];
	char		 entry_host[HOST_MAX];
	char		 rest_addr[ADDRSTR_MAX];
	char		 kgp_addr[ADDRSTR_MAX];
	char		 tunnels_path[1024];	/* for log lines only */
	uint32_t	 entry_nacl;
	struct netmask	 entry_acl[ENTRY_ACL_MAX];
};

/* an entry proxy port for a tunnel: want 0 lets the kernel choose */
struct srv_entry_req {
	uint64_t	 reqid;
	char		 tunnel_id[TUNNEL_ID_LEN + 1];
	uint32_t	 want;
};

/* the answer: fd = the listening socket, none when bound is "" */
struct srv_entry_reply {
	uint64_t	 reqid;
	char		 bound[ADDRSTR_MAX];	/* "ip:port" */
};

#endif /* SC_IMSG_SERVER_H */
