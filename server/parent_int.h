/*
 * What parent.c (the workers: their start, their end, their tables) and
 * parent_relay.c (what one worker tells another, passed on) share.
 */
#ifndef SC_PARENT_INT_H
#define SC_PARENT_INT_H

struct srv_worker {
	const char		*name;		/* "rest", "kgp" */
	int			 role;		/* SRV_ROLE_* */
	const struct imsgev_peer *peer;		/* what it may send */
	struct imsgev		 iev;
	struct srv_blob		 blob_in;
	pid_t			 pid;		/* -1: none */
	int			 chan;		/* its channel is open */
	int			 reaped;	/* its wait status is known */
	int			 status;
	int			 ready;		/* it said it serves */
	int			 served;	/* one of them ever did */
	int			 quick;
	struct timespec		 started;
	struct event		*ev_restart;
	struct event		*ev_reap;
	/* a KGP worker's */
	int			 kgp_index;	/* 0..env->kgp_workers - 1 */
	int			 kgp_fd;	/* its listening socket */
	int			 kgp_port;
	char			 kgp_addr[ADDRSTR_MAX];
	int			 ntunnels;	/* placed on it (parent_relay.c) */
	int			 have_stats;
	int			 stats_fresh;	/* reported since the last sum */
	struct srv_kgp_stats	 stats;		/* its last IMSG_SRV_KGP_STATS */
};

/*
 * parent.c's workers[], in both files: KGP worker 0, the REST worker,
 * the CA process, then KGP workers 1.. (--kgp-workers).
 */
#define W_KGP		(&workers[0])
#define W_REST		(&workers[1])
#define W_CA		(&workers[2])
#define W_KGPN(i)	((i) == 0 ? W_KGP : &workers[2 + (i)])
#define NWORKERS	(2 + env->kgp_workers)
#define WORKERS_MAX	(2 + KGP_WORKERS_MAX)

/* parent_relay.c */
void		 parent_relay_init(struct srv_worker *);
void		 parent_to(struct srv_worker *, uint32_t, const void *,
		    size_t);
int		 parent_tunnel_add(struct imsgev *, struct imsg *);
int		 parent_to_kgp(struct imsgev *, struct imsg *);
int		 parent_to_rest(struct imsgev *, struct imsg *);
int		 parent_auth_req(struct imsgev *, struct imsg *);
int		 parent_gate_req(struct imsgev *, struct imsg *);
int		 parent_gate_hand(struct imsgev *, struct imsg *);
void		 parent_ca_up(struct srv_worker *);
void		 parent_kgp_gone(struct srv_worker *);
void		 parent_kgp_next(int);
int		 parent_kgp_ready(void);
int		 parent_ca_sign(struct imsgev *, struct imsg *);
int		 parent_ca_cert(struct imsgev *, struct imsg *);

/* nodemap.c: node links, the parent's side */
void		 nodemap_init(struct srv_worker *);
void		 nodemap_send_secret(struct imsgev *);
void		 nodemap_forget(const char *);
int		 parent_node_req(struct imsgev *, struct imsg *);

#endif /* SC_PARENT_INT_H */
