/*
 * What the REST API's files share: rest.c (the listener, the routes,
 * the tunnels), rest_admin.c (accounts, teams and events) and
 * rest_reply.c (the answers, the body, the query).
 */
#ifndef SC_REST_INT_H
#define SC_REST_INT_H

struct rest_req {
	struct httpd_req	*req;
	const char		*method;
	char			 path[256];	/* for the log, sanitized */
	char			 user[ACCOUNT_NAME_MAX + 1];
	char			 peer[ADDRSTR_MAX];	/* source address */
	int			 retry;		/* 429: seconds */
};

/* rest_reply.c */
void		 rest_reply(struct rest_req *, int, json_t *);
void		 rest_error(struct rest_req *, int, const char *);
const char	*rest_req_body(struct rest_req *, size_t *);
char		*rest_query_get(const char *, const char *, char *, size_t);

/* rest_admin.c */
void		 rest_events(struct rest_req *, const char *);
void		 rest_admin(struct rest_req *, int, const char *, const char *,
		    const char *);
void		 rest_accounts_list(struct rest_req *);
void		 rest_account_add(struct rest_req *);
void		 rest_account_set(struct rest_req *, const char *);
void		 rest_account_del(struct rest_req *, const char *);
void		 rest_team_add(struct rest_req *);

#endif /* SC_REST_INT_H */
