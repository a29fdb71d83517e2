/*
 * harness.h - run a throw-away Apache httpd and talk HTTP to it.
 *
 * Generic: nothing here knows about mod_minilink beyond the LoadModule line.
 * A server lives in its own temporary directory (its ServerRoot) with its
 * own port; the test gives the configuration text that follows the base
 * configuration (usually virtual hosts).
 *
 * Every server that is started is remembered, and stopped at exit or on
 * SIGINT/SIGTERM/SIGHUP, so a failing or interrupted run leaves no httpd
 * behind; the signal then goes on to the handler installed before (e.g.
 * pg_harness.c's), else kills the test as it would have.
 *
 * Environment: APACHE2 (default /usr/sbin/apache2), APACHE2_MODULES
 * (default /usr/lib/apache2/modules), MINILINK_MODULE (required to start or
 * configtest a server), MINILINK_KEEP_TMP (keep the temporary directories),
 * MINILINK_CORE_DUMPS (children that crash leave a core file there).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>
#include <signal.h>

/* ------------------------------------------------------------------ */
/* httpd                                                              */
/* ------------------------------------------------------------------ */

typedef struct httpd_server {
    char *dir;          /* temporary ServerRoot, mode 0755, owned by user */
    char *conf;         /* <dir>/httpd.conf */
    char *error_log;    /* <dir>/error.log */
    char *startup_log;  /* <dir>/startup.log: httpd's stdout and stderr */
    char *mpm;          /* "event", "worker" or "prefork" */
    int port;           /* Listen 127.0.0.1:<port> */
    pid_t pid;          /* the parent httpd; 0 when not running */
    const char *user;   /* User/Group used when running as root */
    const char *group;
    uid_t uid;          /* who the children run as (our uid if not root) */
    gid_t gid;
    char *modules;      /* LoadModule lines from httpd_load_module() */
} httpd_server;

/*
 * Makes a temporary directory with an empty DocumentRoot in it and picks a
 * free port.  NULL (with a message on stderr) on failure.
 */
httpd_server *httpd_new(const char *mpm);

/* Stops the server if running, removes its directory and frees it. */
void httpd_free(httpd_server *srv);

/* "<dir>/<name>", malloc'd. */
char *httpd_path(const httpd_server *srv, const char *name);

/* Gives path to the user the children run as (a no-op if not root). */
int httpd_chown(const httpd_server *srv, const char *path);

/*
 * Makes httpd_write_config() load an httpd module (name as in LoadModule,
 * file relative to APACHE2_MODULES) after the MPM and the auth cores and
 * before mod_minilink: for modules whose providers the minilink directives
 * look up while the configuration is read (mod_slotmem_shm).
 */
void httpd_load_module(httpd_server *srv, const char *name, const char *file);

/*
 * Writes <dir>/httpd.conf: the base configuration (see harness.c) followed
 * by extra (printf-style, may be NULL).  "@PORT@" and "@DIR@" in extra are
 * replaced with the port and the directory.  0 on success.
 */
int httpd_write_config(httpd_server *srv, const char *extra);

/*
 * Starts httpd in the foreground and waits until it accepts connections.
 * On failure prints the startup and error logs and returns -1.
 */
int httpd_start(httpd_server *srv);

/* Stops httpd (SIGTERM, then SIGKILL) and any process left behind.  */
void httpd_stop(httpd_server *srv);

/*
 * Stops httpd like httpd_stop(), and says whether it stopped cleanly: 0 if
 * the parent exited on SIGTERM and no process of this server (a child, a
 * helper process) outlived it; otherwise the number of processes that had
 * to be killed, the parent included.  What was killed is printed.
 */
int httpd_stop_clean(httpd_server *srv);

/* Processes alive now whose command line names this server's config. */
int httpd_process_count(const httpd_server *srv);

/*
 * Runs argv (argv[0] is looked up in PATH) as the user the children run
 * as (when we are root), so that files it creates belong to the server,
 * as a server-side tool's would.  Returns the exit status, 128+signal if
 * killed, -1 if it could not run; stdout and stderr go to *output
 * (malloc'd) if output is not NULL.  Safe to call from several threads.
 */
int httpd_run_as_user(const httpd_server *srv, char *const argv[], char **output);

/*
 * `apache2 -f <conf> -k graceful`, then waits until the error log shows
 * the restart and the server accepts connections again.  0 on success.
 */
int httpd_graceful(httpd_server *srv);

/*
 * `apache2 -t -f <conf>`: returns its exit status (-1 if it could not be
 * run) and, if output is not NULL, its stdout and stderr (malloc'd).
 */
int httpd_configtest(const httpd_server *srv, char **output);

/* The whole error log, malloc'd ("" if it does not exist). */
char *httpd_error_log_read(const httpd_server *srv);

/* Number of error-log lines containing needle. */
int httpd_error_log_count(const httpd_server *srv, const char *needle);

/* Number of error-log lines for which match(line, ctx) is true. */
typedef int httpd_line_match_fn(const char *line, void *ctx);
int httpd_error_log_count_if(const httpd_server *srv,
                             httpd_line_match_fn *match, void *ctx);

/* The last error-log line containing needle, malloc'd; NULL if none. */
char *httpd_error_log_last_line(const httpd_server *srv, const char *needle);

/*
 * Waits up to timeout_ms, checking every 50 ms, until more than `before`
 * error-log lines contain needle.  Returns the milliseconds waited, or -1
 * on timeout.
 */
long httpd_error_log_wait(const httpd_server *srv, const char *needle,
                          int before, long timeout_ms);

/* Prints the error log to stderr, each line prefixed (for diagnosis). */
void httpd_error_log_dump(const httpd_server *srv);

/* ------------------------------------------------------------------ */
/* HTTP                                                               */
/* ------------------------------------------------------------------ */

typedef struct http_response {
    long status;        /* 0 on a transport error */
    int curl_code;      /* CURLE_OK or the transport error */
    char error[256];    /* curl's message for a transport error */
    char *headers;      /* the raw header block, status line included */
    char *location;     /* the Location header's value, or NULL */
    char *allow;        /* the Allow header's value, or NULL */
    char *body;         /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
} http_response;

/*
 * A request with everything optional but method and path, for
 * http_client_send().  Zero-initialise it and set what you need.
 */
typedef struct http_request_spec {
    const char *method;          /* GET, HEAD, POST, PUT, ... */
    const char *host;            /* Host header; NULL: 127.0.0.1:<port> */
    const char *path;            /* sent exactly as given */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated;
                                    "Name:" removes a header curl adds */
    const char *body;            /* request body (any method), or NULL */
    size_t body_len;
    const char *userpwd;         /* "user:password" for Basic auth, or NULL */
} http_request_spec;

/* A keep-alive connection to one server; one per thread. */
typedef struct http_client http_client;

http_client *http_client_new(int port);
void http_client_free(http_client *client);

/*
 * Sends method (GET, HEAD, POST, PUT, DELETE, OPTIONS, ...) for path
 * (sent exactly as given, query string included) with an optional Host
 * header, never following redirects.  Fills *resp (free it with
 * http_response_free).  Returns 0, or -1 on a transport error.
 */
int http_client_request(http_client *client, const char *method,
                        const char *host, const char *path,
                        http_response *resp);

/* The same on a new connection. */
int http_request(int port, const char *method, const char *host,
                 const char *path, http_response *resp);

/*
 * Sends req (headers, body, credentials) never following redirects; a
 * POST without a body sends an empty one.  Fills *resp like
 * http_client_request().  Returns 0, or -1 on a transport error.
 */
int http_client_send(http_client *client, const http_request_spec *req,
                     http_response *resp);

/* The same on a new connection. */
int http_send(int port, const http_request_spec *req, http_response *resp);

/* The value of the first header called name (case-insensitive), malloc'd. */
char *http_header(const http_response *resp, const char *name);

/* True if the raw headers contain needle (case-insensitive). */
int http_headers_contain(const http_response *resp, const char *needle);

void http_response_free(http_response *resp);

/* ------------------------------------------------------------------ */
/* misc                                                               */
/* ------------------------------------------------------------------ */

/* malloc'd printf; aborts when out of memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes len bytes to a new file (mode 0644).  0 on success. */
int write_file(const char *path, const void *data, size_t len);

/* Milliseconds on the monotonic clock. */
long now_ms(void);

/* Sleeps ms milliseconds. */
void sleep_ms(long ms);

/* A TCP port nobody listens on now on 127.0.0.1 (bound, read, closed);
 * -1 on failure. */
int free_port(void);

/* The whole file, malloc'd and NUL-terminated; "" if it cannot be read. */
char *file_read(const char *path);

/*
 * Cleaning up when a test run is interrupted: harness_catch_signals()
 * makes handler run on SIGINT, SIGTERM and SIGHUP (except one that is
 * ignored, as a background job's SIGINT: it stays ignored) and keeps what
 * handled them before in *previous.  The handler cleans up, then calls
 * harness_chain_signal(): the earlier handlers are put back and sig
 * raised again, so they run when it returns (the default: the test dies
 * of it).  Both harnesses do this, each chaining to the other.
 */
typedef struct {
    struct sigaction on_int, on_term, on_hup;
} harness_signals;
void harness_catch_signals(void (*handler)(int), harness_signals *previous);
void harness_chain_signal(const harness_signals *previous, int sig);

/* True if something accepts TCP connections on 127.0.0.1:port. */
int port_accepts(int port);

/* The parent of a process (from /proc), or -1 if it is gone. */
pid_t process_parent(pid_t pid);

#endif /* HARNESS_H */
