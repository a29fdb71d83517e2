/*
 * pg_harness.h - run a throw-away PostgreSQL server for a test.
 *
 * Generic, like harness.h.  A server lives in its own temporary folder: the cluster made by initdb
 * (data/), its unix socket and its log (postgres.log).  It listens on 127.0.0.1 only, on a free
 * port, with fsync off.  Socket connections are trusted; TCP connections need a password
 * (scram-sha-256), so a client must really pass the one it was given.
 *
 * The binaries are Debian's (package postgresql): the newest /usr/lib/postgresql/<version>/bin, or
 * $MINILINK_PG_BIN.  As root, the server and its tools run as "postgres" (else "nobody").  The
 * postmaster is the test's child (`postgres -D`, not daemonised) and gets SIGQUIT (immediate
 * shutdown) if the test dies however it dies; a running server is stopped and its folder removed
 * at exit and on SIGINT/SIGTERM/SIGHUP.  MINILINK_KEEP_TMP keeps the folder.
 */
#ifndef PG_HARNESS_H
#define PG_HARNESS_H

#include <sys/types.h>

typedef struct pg_server {
    char dir[32];       /* temporary folder: the socket is here, mode 0700 */
    char data_dir[48];  /* <dir>/data: the cluster */
    char log[48];       /* <dir>/postgres.log: the server's stderr, appended */
    char bin_dir[256];  /* /usr/lib/postgresql/<version>/bin */
    char version[16];   /* "15": the <version> above */
    int port;           /* listen_addresses = 127.0.0.1, this port */
    pid_t pid;          /* the postmaster (our child); 0 when stopped */
    char user[64];      /* the account it runs as ("postgres" when root) */
    uid_t uid;
    gid_t gid;
    pid_t frozen[64];   /* stopped by pg_freeze(): to be continued */
    int nfrozen;
} pg_server;

/* Finds the binaries, makes the folder, runs initdb (superuser "postgres", UTF8, locale C), writes
 * the configuration; does not start it.  NULL, the reason on stderr (the package to install if
 * there are no binaries). */
pg_server *pg_new(void);

/* Starts the postmaster, waits (up to 30 s) until it accepts connections: 0, or -1 with its log
 * printed.  After pg_stop() it keeps the data. */
int pg_start(pg_server *pg);

/* `pg_ctl stop -m fast`: 0 if it stopped that way, else it is killed (SIGQUIT, then SIGKILL) and
 * -1 returned.  A no-op when stopped. */
int pg_stop(pg_server *pg);

/* Freezes (SIGSTOP) or thaws (SIGCONT) the postmaster and every process it started: it then looks
 * unreachable rather than down (the kernel accepts connections, nothing answers).  How many
 * processes were signalled, -1 if it is not running.  pg_stop() and the signal handlers thaw it
 * first; a test killed with SIGKILL meanwhile leaves it frozen: keep it short. */
int pg_freeze(pg_server *pg, int frozen);
void pg_free(pg_server *pg);   /* stopped, its folder removed */

/* A role that logs in with this password (no single quote in it) and a database it owns, made with
 * psql as the superuser.  0 on success. */
int pg_create_user_database(const pg_server *pg, const char *role,
                            const char *password, const char *dbname);
void pg_log_dump(const pg_server *pg);   /* the server's log, to stderr */

/* psql over the unix socket as role on dbname, with -v ON_ERROR_STOP=1 -At: the SQL of sql (or,
 * sql NULL, the file at path file).  The exit status; the output (rows, '|' between values; or
 * the error) to *output (malloc'd) unless NULL. */
int pg_psql(const pg_server *pg, const char *role, const char *dbname, const char *sql,
            const char *file, char **output);

#endif /* PG_HARNESS_H */
