/*
 * pg_harness.h - run a throw-away PostgreSQL server for a test.
 *
 * Generic, like harness.h: nothing here knows about mod_minilink.  A server
 * lives in its own temporary folder: the cluster made by initdb (data/), its
 * unix socket and its log (postgres.log).  It listens on 127.0.0.1 only, on
 * a free port, with fsync off (a test's data need not survive a crash).
 * Local (socket) connections are trusted; TCP connections need a password
 * (scram-sha-256), so a client must really pass the one it was given.
 *
 * The binaries are Debian's (package postgresql): the newest
 * /usr/lib/postgresql/<version>/bin that has postgres, initdb, pg_ctl and
 * psql, found at run time, never through PATH.  MINILINK_PG_BIN names
 * another folder of them.
 *
 * PostgreSQL refuses to run as root: when the test runs as root, the server
 * and its tools run as the "postgres" account that Debian's package makes
 * (else "nobody").  The postmaster is a child of the test (started with
 * `postgres -D`, not daemonised), so it gets SIGQUIT (immediate shutdown) if
 * the test dies however it dies; a running server is stopped and its folder
 * removed at exit and on SIGINT/SIGTERM/SIGHUP.  MINILINK_KEEP_TMP keeps
 * the folder.
 */
#ifndef PG_HARNESS_H
#define PG_HARNESS_H

#include <sys/types.h>

typedef struct pg_server {
    char *dir;          /* temporary folder: the socket is here, mode 0700 */
    char *data_dir;     /* <dir>/data: the cluster */
    char *log;          /* <dir>/postgres.log: the server's stderr, appended */
    char *bin_dir;      /* /usr/lib/postgresql/<version>/bin */
    char *version;      /* "15": the <version> above */
    int port;           /* listen_addresses = 127.0.0.1, this port */
    pid_t pid;          /* the postmaster (our child); 0 when stopped */
    char *user;         /* the account it runs as ("postgres" when root) */
    uid_t uid;
    gid_t gid;
    pid_t frozen[64];   /* stopped by pg_freeze(): to be continued */
    int nfrozen;
} pg_server;

/*
 * Finds the binaries, makes the temporary folder, runs initdb (superuser
 * "postgres", UTF8, locale C) and writes the configuration.  Does not start
 * the server.  NULL, with the reason on stderr (naming the package to
 * install when there are no binaries), on failure.
 */
pg_server *pg_new(void);

/*
 * Starts the postmaster and waits (up to 30 s) until it accepts
 * connections.  0 on success; on failure prints the server's log and
 * returns -1.  Starting again after pg_stop() keeps the data.
 */
int pg_start(pg_server *pg);

/*
 * `pg_ctl stop -m fast` (the postmaster closes every connection and shuts
 * down), waits for it to exit.  0 if it stopped that way; otherwise it is
 * killed (SIGQUIT, then SIGKILL) and -1 is returned.  A no-op when stopped.
 */
int pg_stop(pg_server *pg);

/*
 * Freezes (SIGSTOP) or thaws (SIGCONT) the postmaster and every process it
 * started: the server then looks unreachable rather than down (connections
 * are accepted by the kernel and never answered).  Returns how many
 * processes were signalled, -1 if it is not running.  pg_stop() and the
 * signal handlers thaw it first; a test killed with SIGKILL meanwhile
 * leaves it frozen, so keep the window short.
 */
int pg_freeze(pg_server *pg, int frozen);

/* Stops the server if running, removes its folder, frees pg. */
void pg_free(pg_server *pg);

/*
 * Runs SQL with psql as the superuser over the unix socket, in database
 * dbname, stopping at the first error (ON_ERROR_STOP), unaligned and
 * tuples-only output.  Returns psql's exit status (-1 if it could not run);
 * its stdout and stderr go to *output (malloc'd) if output is not NULL.
 */
int pg_psql(const pg_server *pg, const char *dbname, const char *sql,
            char **output);

/*
 * Creates a role that may log in with this password and a database it
 * owns (so it may create tables in it).  The password must not contain a
 * single quote.  0 on success; psql's output on stderr otherwise.
 */
int pg_create_user_database(const pg_server *pg, const char *role,
                            const char *password, const char *dbname);

/* The server's log, malloc'd ("" if there is none). */
char *pg_log_read(const pg_server *pg);

/* Prints the server's log to stderr (for diagnosis). */
void pg_log_dump(const pg_server *pg);

#endif /* PG_HARNESS_H */
