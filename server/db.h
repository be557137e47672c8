/*
 * The database's backends: the SQLite file of the state directory
 * (db.c, the default) and PostgreSQL (db_pg.c, --db postgresql://...).
 * Each implements these operations; dbif.c picks one at db_open() and
 * the db_*() functions of server.h go to it.  Both have the same tables
 * and the same ordered migrations, each backend's statements side by
 * side in db_migrations[] (dbutil.c), so that they cannot drift apart.
 */
#ifndef DB_H
#define DB_H

/*
 * What the REST worker sends to write: this header, then a line per
 * changed tunnel (db_tunnels_delta()); what the database gives it at
 * start: DB_TUNNELS_HEADER, then every tunnel's line.
 */
#define DB_TUNNELS_DELTA	DB_TUNNELS_DELTA_TEXT
#define DB_TUNNELS_HEADER	"{\"version\":2}\n"
#define DB_LIST_COLS	16	/* columns of a listing's row: the first */

struct db_ops {
	const char	*name;
	int		 (*open)(const char *, const char *);
	void		 (*close)(void);
	const char	*(*file)(void);
	int		 (*changed)(void (*)(void *, const char *), void *);
	int		 (*accounts)(struct accountlist *);
	char		*(*tunnels_text)(size_t *);
	int		 (*tunnels_write)(const char *, size_t, int, const char *,
			    void (*)(void *, const char *), void *);
	int		 (*tunnel_lines)(const char *const *, size_t,
			    void (*)(void *, const char *, const char *, size_t),
			    void *);
	int		 (*socket)(void);
	int		 (*event_add)(time_t, int, const char *, const char *,
			    const char *, const char *);
	char		*(*events_json)(const char *, time_t, int, size_t *);
	int		 (*run)(const char *, const char *, va_list);
	int		 (*exec)(const char *, const char *, va_list);
	int		 (*list)(const char *, const char *,
			    void (*)(void *, int, const char **), void *);
};

/* a migration: the same change in each backend's words */
struct db_migration {
	const char	*sqlite;
	const char	*pg;
};

extern const struct db_ops		 db_sqlite_ops;
extern const struct db_ops		 db_pg_ops;
extern const struct db_migration	 db_migrations[];
extern const int			 db_nmigrations;

int		 db_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int		 db_import_accounts(const char *, int *, int (*)(const char *,
		    const char *, va_list));
void		 db_import_done(const char *, int, const char *);
int		 db_tunnels_delta(const char *, size_t, int (*)(void *,
		    const char *, const char *, const char *, const char *,
		    size_t), int (*)(void *, const char *), void *);
int		 db_event_json(json_t *, int64_t, time_t, const char **);

#endif
