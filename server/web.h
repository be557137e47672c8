/*
 * The Tunnels web page, inside the REST worker: web.c (sessions, CSRF,
 * the routes, the headers), webpage.c (the pages and their JSON views),
 * weblinks.c (each tunnel's sessions and events), web_assets.c (the
 * CSS and JavaScript, made from server/web/ at build time).
 */
#ifndef SC_WEB_H
#define SC_WEB_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "server.h"

struct evbuffer;
struct srv_tlinks;
struct srv_teams_rep;

struct web_event {
	time_t			 at;
	char			 text[WEB_EVENT_LEN];
};

/* the REST worker's extra state of a tunnel (struct tunnel's web) */
struct web_tunnel {
	struct srv_tlinks	*live;		/* NULL: nothing heard yet */
	char			 last_error[WEB_ERROR_LEN];
	struct web_event	 events[WEB_EVENTS_MAX];	/* a ring */
	int			 first;
	int			 nevents;
};

/* a signed-in browser */
struct web_session {
	char			 user[ACCOUNT_NAME_MAX + 1];
	char			 csrf[2 * WEB_TOKEN_BYTES + 1];
};

/* one file of server/web/ (web_assets.c) */
struct web_asset {
	const char		*name;
	const char		*type;
	const unsigned char	*data;
	size_t			 len;
};
extern const struct web_asset	 web_assets[];

/* web.c */
void		 web_send(struct httpd_req *, int, const char *,
		    struct evbuffer *, const char *);

/* webpage.c */
void		 webpage_escape(struct evbuffer *, const char *);
void		 webpage_head(struct evbuffer *, const char *,
		    const struct web_session *, const char *);
void		 webpage_foot(struct evbuffer *);
void		 webpage_signin(struct evbuffer *, const char *,
		    const char *, const char *);
void		 webpage_message(struct evbuffer *, const struct web_session *,
		    const char *, const char *);
void		 webpage_tunnels(struct evbuffer *, const struct web_session *);
int		 webpage_tunnels_json(struct evbuffer *,
		    const struct web_session *);
void		 webpage_tunnel(struct evbuffer *, const struct web_session *,
		    struct tunnel *);
int		 webpage_tunnel_json(struct evbuffer *,
		    const struct web_session *, struct tunnel *);
void		 webpage_mask_command(const char *, char *, size_t);
void		 webpage_admin(struct evbuffer *, const struct web_session *,
		    const struct srv_teams_rep *);
void		 webpage_admin_key(struct evbuffer *,
		    const struct web_session *, const char *, const char *);
int		 webpage_admin_events(struct evbuffer *,
		    const struct web_session *, const char *, size_t);

#endif /* SC_WEB_H */
