/*
 * harness.h - run throw-away Apache httpd servers and talk HTTP to them.
 *
 * Generic: nothing here knows about mod_minilink beyond the LoadModule line
 * (ml_test.h is the minilink layer on top).  One header; a file per job:
 *
 *   util.c      memory, files, time, ports, processes, running a program,
 *               stopping what was started when the run exits or is killed
 *   server.c    an httpd in its own directory on a free port: start, stop,
 *               graceful restart, configtest
 *   conf.c      its configuration: the base, then the test's pieces (conf.h)
 *   http.c      the HTTP client (libcurl) and the response type
 *   raw_http.c  a client on a plain socket, for bytes curl will not send and
 *               for knowing which requests got no complete answer
 *   load.c      threads of keep-alive clients asking for a set of redirects
 *   logs.c      the error log and the access logs
 *
 * Environment: APACHE2 (default /usr/sbin/apache2), APACHE2_MODULES
 * (default /usr/lib/apache2/modules), MINILINK_MODULE (required to write a
 * configuration), MINILINK_KEEP_TMP (keep every temporary directory; those
 * of servers whose suite failed are always kept), MINILINK_CORE_DUMPS
 * (crashing children leave a core file in the server's directory).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* util.c                                                             */
/* ------------------------------------------------------------------ */

/* Allocation that aborts when out of memory. */
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bytes collected from a socket, a pipe or curl, kept NUL-terminated. */
typedef struct {
    char *data;
    size_t len;
} buffer;
void buffer_add(buffer *b, const void *p, size_t n);

int write_file(const char *path, const void *data, size_t len);   /* 0 on success */
char *file_read(const char *path);   /* malloc'd; "" if it cannot be read */
char *file_read_from(const char *path, long offset);   /* the same from byte offset */
long file_size(const char *path);    /* 0 if it does not exist */
void remove_tree(const char *dir);

long now_ms(void);                   /* the monotonic clock */
void sleep_ms(long ms);

int free_port(void);                 /* nobody listens there now; -1 on failure */
int port_accepts(int port);          /* something accepts on 127.0.0.1:port */

/* The parent of a process (from /proc), or -1 if it is gone. */
pid_t process_parent(pid_t pid);

/*
 * Live processes other than this one (zombies have no command line) whose
 * command line contains needle (unless NULL) and whose parent is parent
 * (unless 0).  Their pids go to pids (up to max; pids may be NULL).
 * Returns how many there are.
 */
int proc_scan(const char *needle, pid_t parent, pid_t *pids, int max);

/* A program to run with run_captured(). */
typedef struct {
    char *const *argv;       /* argv[0] is looked up in PATH */
    int become;              /* when root: run as uid/gid */
    uid_t uid;
    gid_t gid;
    const char *dir;         /* chdir there first, unless NULL */
    char *const *env;        /* its whole environment; NULL: ours */
    const char *tmpdir;      /* TMPDIR for it (with our environment) */
    long timeout_ms;         /* 0: none; else SIGTERM, then SIGKILL 10 s on */
} run_spec;

typedef struct {
    int status;              /* exit status; 128+N for signal N; -1 not run */
    int timed_out;
    long elapsed_ms;
    char *output;            /* stdout and stderr together, malloc'd */
} run_result;

/*
 * Runs a program with stdin from /dev/null and its output captured; it
 * gets SIGTERM if this process dies.  Only async-signal-safe calls between
 * fork and exec, so it is safe while other threads run.
 */
run_result run_captured(const run_spec *spec);

/*
 * What was started is stopped when the run exits or gets SIGINT, SIGTERM
 * or SIGHUP (one that is ignored, as a background job's SIGINT, stays
 * ignored): on_exit(obj) at exit, on_signal(obj) (async-signal-safe calls
 * only) on a signal, after which the signal's earlier handling goes on
 * (by default the run dies of it).
 */
void cleanup_register(void (*on_signal)(void *), void (*on_exit)(void *), void *obj);
void cleanup_forget(void *obj);

/* ------------------------------------------------------------------ */
/* server.c, conf.c                                                   */
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
    int keep;           /* keep dir when freed (a check failed meanwhile) */
} httpd_server;

/* A temporary directory with an empty DocumentRoot, a free port.  NULL
 * (with a message on stderr) on failure. */
httpd_server *httpd_new(const char *mpm);

/* Stops the server if running, removes its directory and frees it. */
void httpd_free(httpd_server *srv);

char *httpd_path(const httpd_server *srv, const char *name);   /* "<dir>/<name>", malloc'd */
int httpd_chown(const httpd_server *srv, const char *path);    /* to the children's user */

/*
 * Makes httpd_write_config() load httpd modules after the MPM and the auth
 * cores, before mod_minilink (whose directives look up their providers):
 * httpd_load_module(srv, "status_module", "mod_status.so"), or several by
 * short name: httpd_load_modules(srv, "status slotmem_shm").
 */
void httpd_load_module(httpd_server *srv, const char *name, const char *file);
void httpd_load_modules(httpd_server *srv, const char *names);

/*
 * Writes <dir>/httpd.conf: the base configuration (conf.c) followed by
 * extra (may be NULL), with "@PORT@" and "@DIR@" replaced.  0 on success.
 */
int httpd_write_config(httpd_server *srv, const char *extra);

/* Starts httpd in the foreground, waits until it accepts connections.  On
 * failure prints the startup and error logs and returns -1. */
int httpd_start(httpd_server *srv);

/* Stops httpd (SIGTERM, then SIGKILL) and any process left behind. */
void httpd_stop(httpd_server *srv);

/*
 * Stops httpd like httpd_stop(): 0 if the parent exited on SIGTERM and no
 * process of this server outlived it, else how many had to be killed (the
 * parent included).  What was killed is printed.
 */
int httpd_stop_clean(httpd_server *srv);

/* Processes alive now whose command line names this server's config. */
int httpd_process_count(const httpd_server *srv);

/* The servers started and not stopped yet, up to max; how many. */
int httpd_running(httpd_server **out, int max);

/*
 * Runs argv as the user the children run as (when we are root), so that
 * files it creates belong to the server.  The exit status (128+signal if
 * killed, -1 if it could not run); the output goes to *output (malloc'd)
 * if not NULL.  Safe from any thread.
 */
int httpd_run_as_user(const httpd_server *srv, char *const argv[], char **output);

/* `apache2 -k graceful`, then waits until the error log shows the restart
 * and the server accepts connections again.  0 on success. */
int httpd_graceful(httpd_server *srv);

/* `apache2 -t`: its exit status (-1 if it could not run) and output. */
int httpd_configtest(const httpd_server *srv, char **output);

/* ------------------------------------------------------------------ */
/* logs.c                                                             */
/* ------------------------------------------------------------------ */

char *httpd_error_log_read(const httpd_server *srv);   /* malloc'd, "" if none */
void httpd_error_log_dump(const httpd_server *srv);    /* to stderr */

/* Error-log lines for which match(line, ctx) is true. */
typedef int httpd_line_match_fn(const char *line, void *ctx);
int httpd_error_log_count_if(const httpd_server *srv, httpd_line_match_fn *match, void *ctx);
int httpd_error_log_count(const httpd_server *srv, const char *needle);

/* The last line with needle, malloc'd; NULL if none. */
char *httpd_error_log_last_line(const httpd_server *srv, const char *needle);

/* Polls (every 50 ms, up to timeout_ms) until more than `before` lines
 * contain needle: the milliseconds waited, or -1. */
long httpd_error_log_wait(const httpd_server *srv, const char *needle, int before,
                          long timeout_ms);

/* The pid in an error-log line's "[pid N" prefix, or -1. */
pid_t log_line_pid(const char *line);

/*
 * A log of format "%P %>s %m %U" (conf.h's PIDS_LOG): visit(line, ctx) on
 * each line from byte offset on whose URL path starts with prefix, newest
 * first, until it returns nonzero.  Returns how many were visited.
 */
typedef struct {
    pid_t pid;
    long status;
    char method[16];
    char path[512];
} pids_line;
typedef int pids_visit_fn(const pids_line *line, void *ctx);
int pids_log_scan(const httpd_server *srv, long offset, const char *prefix,
                  pids_visit_fn *visit, void *ctx);

/*
 * Children of srv's parent, alive, other than exclude, that answered a
 * request for prefix since offset in the pids log: newest first, distinct.
 */
int children_serving(const httpd_server *srv, long offset, const char *prefix,
                     pid_t exclude, pid_t *pids, int max);

/* ------------------------------------------------------------------ */
/* http.c                                                             */
/* ------------------------------------------------------------------ */

typedef struct http_response {
    long status;        /* 0 on a transport error (and for an HTTP/0.9 answer) */
    int curl_code;      /* CURLE_OK, else the transport error (-1 raw) */
    char error[256];    /* the transport error's message */
    char *headers;      /* the raw header block, status line included */
    char *location;     /* the Location header's value, or NULL */
    char *allow;        /* the Allow header's value, or NULL */
    char *body;         /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
} http_response;

/* A request for http_client_send(): zero-initialise, set what you need. */
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
 * Sends req, never following redirects (a POST without a body sends an
 * empty one), and fills *resp (free it with http_response_free).  0, or -1
 * on a transport error.  http_send() and http_request() use a new
 * connection.
 */
int http_client_send(http_client *client, const http_request_spec *req, http_response *resp);
int http_client_request(http_client *client, const char *method, const char *host,
                        const char *path, http_response *resp);
int http_send(int port, const http_request_spec *req, http_response *resp);
int http_request(int port, const char *method, const char *host, const char *path,
                 http_response *resp);

char *http_header(const http_response *resp, const char *name);   /* malloc'd or NULL */
int http_headers_contain(const http_response *resp, const char *needle);
void http_response_free(http_response *resp);

/* True if resp is status with exactly this Location (NULL or "": none). */
int response_is(const http_response *resp, long status, const char *location);

/* Fills resp's head and body fields from a whole answer (status line,
 * headers, "\r\n\r\n", body); no status line: all of it is the body. */
void http_response_parse(http_response *resp, const char *data, size_t len);

/* ------------------------------------------------------------------ */
/* raw_http.c                                                         */
/* ------------------------------------------------------------------ */

/* How a raw exchange ended. */
typedef enum {
    RAW_ANSWERED,          /* the whole answer arrived */
    RAW_CLOSED_UNANSWERED, /* closed before any byte of an answer */
    RAW_RESET_UNANSWERED,  /* reset before any byte of an answer */
    RAW_CUT_SHORT,         /* part of the answer arrived */
    RAW_OTHER,             /* a send error, a timeout... */
    RAW_NO_CONNECTION,     /* it never reached the server */
    RAW_OUTCOMES
} raw_outcome;
extern const char *const raw_outcome_names[RAW_OUTCOMES];

/* A keep-alive connection on a plain socket; one per thread. */
typedef struct raw_client raw_client;
raw_client *raw_client_new(int port);
void raw_client_free(raw_client *client);

/*
 * Sends len bytes exactly as they are (connecting first if needed) and
 * reads one answer (not to a HEAD): by Content-Length, chunks, or to the close (HTTP/0.9:
 * no status line).  Never sent again.  *resp gets what arrived (curl_code
 * -1 with the reason if nothing did).
 */
raw_outcome raw_client_exchange(raw_client *client, const char *data, size_t len,
                                http_response *resp);

/* ------------------------------------------------------------------ */
/* load.c                                                             */
/* ------------------------------------------------------------------ */

#define LOAD_MAX_PATHS 20

typedef struct {
    int port;
    const char *paths[LOAD_MAX_PATHS];  /* asked for in turn */
    const char *urls[LOAD_MAX_PATHS];   /* the Location each must answer */
    long status;                        /* the status they must answer */
    int npaths;
    int clients;            /* threads, each on a keep-alive connection */
    long per_client;        /* requests per client; 0: until stopped */
    long think_us;          /* pause between a client's requests */
    /* curl resends a request whose kept-alive connection died before an
     * answer (as browsers do); the raw client never does, so it knows
     * which requests may or may not have been served. */
    int use_curl;
} load_spec;

typedef struct {
    long requests;
    long ok[LOAD_MAX_PATHS], ok_total;        /* the right answer */
    long uncertain[LOAD_MAX_PATHS], uncertain_total;   /* sent, no whole answer */
    long ended[RAW_OUTCOMES], path_ended[LOAD_MAX_PATHS][RAW_OUTCOMES];
    long not_sent;          /* no connection */
    long wrong_status;      /* a whole answer with another status */
    long wrong_location;    /* the status, another Location */
    long failures;          /* not the status: uncertain + not_sent + wrong_status */
    long wrong;             /* = wrong_location */
    int not_started;        /* clients whose thread could not start */
} load_totals;

typedef struct load_run load_run;

load_run *load_begin(const load_spec *spec);   /* NULL if nothing started */
long load_answered(load_run *run);            /* right answers so far */
long load_attempts(load_run *run);            /* requests so far */

/* Waits up to timeout_ms until count more right answers than from. */
int load_wait_answered(load_run *run, long from, long count, long timeout_ms);

/* Stops the clients (or, stop 0, waits for their per_client requests),
 * adds up their counts, prints each one's first problem, frees run. */
void load_end(load_run *run, int stop, load_totals *totals);

#endif /* HARNESS_H */
