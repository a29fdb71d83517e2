/*
 * harness.h - run throw-away Apache httpd servers and talk HTTP to them.  Generic: nothing here
 * knows about mod_minilink beyond its LoadModule line (ml_test.h is the minilink layer).  A file
 * per job: util.c, server.c, conf.c, http.c, raw_http.c, load.c, logs.c (sections below).
 *
 * Environment: APACHE2 (default /usr/sbin/apache2), APACHE2_MODULES (default
 * /usr/lib/apache2/modules), MINILINK_MODULE (required to write a configuration),
 * MINILINK_KEEP_TMP (keep every temporary directory; those of servers whose suite failed are
 * always kept), MINILINK_CORE_DUMPS (crashing children leave a core file in the server's
 * directory).
 */
#ifndef HARNESS_H
#define HARNESS_H

/* The C library headers most of the harness and the tests use. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- util.c: memory, files, time, ports, processes ------------------ */

void *xrealloc(void *p, size_t n);   /* these abort when out of memory */
const char *env_or(const char *name, const char *fallback);   /* $name unless unset or "" */
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bytes from a socket, a pipe or curl, kept NUL-terminated. */
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
/* The wall clock's seconds as httpd reads them (gettimeofday, through apr_time_now).  Not
 * time(): glibc's reads the kernel's coarse clock, up to a tick behind, so a click httpd
 * stamped at second N can come before time() says N. */
long wall_seconds(void);
void sleep_ms(long ms);

/* Evaluates cond (side effects and all) every every_ms until it is true or timeout_ms have passed:
 * the ms waited.  A GNU statement expression. */
#define POLL_UNTIL(cond, timeout_ms, every_ms) __extension__({ long poll_start_ = now_ms(); \
    while (!(cond) && now_ms() - poll_start_ < (timeout_ms)) { sleep_ms(every_ms); }         \
    now_ms() - poll_start_; })
int free_port(void);                 /* nobody listens there now; -1 on failure */
int port_accepts(int port);          /* something accepts on 127.0.0.1:port */
/* A TCP connection to 127.0.0.1:port (close-on-exec, no Nagle; with timeout_s > 0 a send or recv
 * gives up after that long): the socket, or -1 (errno). */
int loopback_connect(int port, int timeout_s);
pid_t process_parent(pid_t pid);     /* from /proc; -1 if it is gone */

/* Live processes but this one whose command line contains needle (unless NULL) and whose parent is
 * parent (unless 0): how many; their pids go to pids (up to max; pids may be NULL). */
int proc_scan(const char *needle, pid_t parent, pid_t *pids, int max);

/* Gives the processes whose command line contains needle grace_ms to exit, then SIGKILLs the rest
 * (for up to 2 s): how many had to be killed. */
int kill_processes(const char *needle, long grace_ms);

/* A program to run with run_captured() or run_spawn(). */
typedef struct {
    char *const *argv;       /* argv[0] is looked up in PATH */
    int become;              /* when root: run as uid/gid */
    uid_t uid;
    gid_t gid;
    const char *dir;         /* chdir there first, unless NULL */
    char *const *env;        /* its whole environment; NULL: ours */
    long timeout_ms;         /* 0: none; else SIGTERM, then SIGKILL 10 s on */
    int new_group;           /* in a process group of its own */
    int death_signal;        /* sent to it when this process dies; 0: SIGTERM */
} run_spec;

typedef struct {
    int status;              /* exit status; 128+N for signal N; -1 not run */
    int timed_out;
    long elapsed_ms;
    char *output;            /* stdout and stderr together, malloc'd */
} run_result;

/* Runs a program, stdin /dev/null, output captured.  Safe while other threads run (only
 * async-signal-safe calls between fork and exec). */
run_result run_captured(const run_spec *spec);

/* The same: the exit status; the output to *output unless NULL. */
int run_program(const run_spec *spec, char **output);

/* Starts it (stdin /dev/null, stdout and stderr to out_fd) and returns: its pid, or -1. */
pid_t run_spawn(const run_spec *spec, int out_fd);

/* Up to timeout_ms for our child pid to exit: 1 if it did.  Left unreaped (a zombie: its pid and
 * process group cannot name another process yet). */
int wait_exited(pid_t pid, long timeout_ms);

/* What was started is stopped when the run exits (on_exit(obj)) or gets SIGINT, SIGTERM or SIGHUP
 * (on_signal(obj), async-signal-safe calls only; then the signal's earlier handling goes on: by
 * default the run dies).  A signal that is ignored, as a background job's SIGINT, stays ignored.
 */
void cleanup_register(void (*on_signal)(void *), void (*on_exit)(void *), void *obj);
void cleanup_forget(void *obj);

/* ---- server.c, conf.c: an httpd in its own directory ---------------- */

typedef struct httpd_server {
    char dir[32];       /* temporary ServerRoot, mode 0755, owned by user */
    char conf[48];      /* <dir>/httpd.conf */
    char error_log[48]; /* <dir>/error.log */
    char startup_log[48];   /* <dir>/startup.log: httpd's stdout and stderr */
    char mpm[16];       /* "event", "worker" or "prefork" */
    int port;           /* Listen 127.0.0.1:<port> */
    pid_t pid;          /* the parent httpd; 0 when not running */
    const char *user;   /* User/Group used when running as root */
    const char *group;
    uid_t uid;          /* who the children run as (our uid if not root) */
    gid_t gid;
    char *modules;      /* LoadModule lines from httpd_load_module() */
    int keep;           /* keep dir when freed (a check failed meanwhile) */
} httpd_server;

/* A temporary directory with an empty DocumentRoot, a free port; NULL (the reason on stderr) on
 * failure.  httpd_free stops it and removes it. */
httpd_server *httpd_new(const char *mpm);
void httpd_free(httpd_server *srv);
char *httpd_path(const httpd_server *srv, const char *name);   /* "<dir>/<name>", malloc'd */
int httpd_chown(const httpd_server *srv, const char *path);    /* to the children's user */

/* Loaded after the MPM and the auth cores, before mod_minilink (whose directives look up their
 * providers): httpd_load_module(srv, "status_module", "mod_status.so"), or by short names: "status
 * slotmem_shm". */
void httpd_load_module(httpd_server *srv, const char *name, const char *file);
void httpd_load_modules(httpd_server *srv, const char *names);

/* <dir>/httpd.conf: the base (conf.c), then extra (may be NULL) with "@PORT@" and "@DIR@"
 * replaced.  0 on success. */
int httpd_write_config(httpd_server *srv, const char *extra);

/* Starts httpd in the foreground, waits until it accepts connections; on failure prints the
 * startup and error logs and returns -1. */
int httpd_start(httpd_server *srv);
void httpd_stop(httpd_server *srv);   /* SIGTERM, then SIGKILL, and leftovers */

/* Stops httpd like httpd_stop(): 0 if the parent exited on SIGTERM and no process of this server
 * outlived it, else how many had to be killed (the parent included; they are printed). */
int httpd_stop_clean(httpd_server *srv);
int httpd_process_count(const httpd_server *srv);   /* alive, naming its config */
int httpd_running(httpd_server **out, int max);     /* the started ones, up to max */

/* Runs argv as the children's user (when we are root), so that files it creates belong to the
 * server: the exit status (128+signal, -1 if it did not run), the output (malloc'd) to *output
 * unless NULL.  Any thread. */
int httpd_run_as_user(const httpd_server *srv, char *const argv[], char **output);

/* `apache2 -k graceful`, then until the error log shows the restart and the server accepts
 * connections again.  0 on success. */
int httpd_graceful(httpd_server *srv);
int httpd_configtest(const httpd_server *srv, char **output);   /* `apache2 -t` */

/* ---- logs.c: what a server wrote ------------------------------------ */

char *httpd_error_log_read(const httpd_server *srv);   /* malloc'd, "" if none */
void httpd_error_log_dump(const httpd_server *srv);    /* to stderr */
typedef int httpd_line_match_fn(const char *line, void *ctx);
int httpd_error_log_count_if(const httpd_server *srv, httpd_line_match_fn *match, void *ctx);
int httpd_error_log_count(const httpd_server *srv, const char *needle);
char *httpd_error_log_last_line(const httpd_server *srv, const char *needle);  /* or NULL */

/* Polls until more than before lines contain needle: ms waited, or -1. */
long httpd_error_log_wait(const httpd_server *srv, const char *needle, int before, long timeout_ms);
pid_t log_line_pid(const char *line);   /* its "[pid N", or -1 */

/* The pids log (conf.h's PIDS_LOG, "%P %>s %m %U"): visit(line, ctx) on each line from byte offset
 * on whose path starts with prefix, newest first, until it returns nonzero.  How many were
 * visited. */
typedef struct {
    pid_t pid;
    long status;
    char method[16];
    char path[512];
} pids_line;
typedef int pids_visit_fn(const pids_line *line, void *ctx);
int pids_log_scan(const httpd_server *srv, long offset, const char *prefix,
                  pids_visit_fn *visit, void *ctx);

/* Children of srv's parent, alive, other than exclude, that answered a request for prefix since
 * offset (pids log): newest first, distinct. */
int children_serving(const httpd_server *srv, long offset, const char *prefix,
                     pid_t exclude, pid_t *pids, int max);

/* ---- http.c: the HTTP client (libcurl) ------------------------------ */

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

/* A request: zero-initialise, set what you need. */
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

/* Sends req, never following redirects (a POST without a body sends an empty one), and fills *resp
 * (http_response_free it).  0, or -1 on a transport error.  http_send() and http_request() on a
 * new connection. */
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

/* resp's head and body from a whole answer (no status line: all body). */
void http_response_parse(http_response *resp, const char *data, size_t len);

/* ---- raw_http.c: HTTP on a plain socket ----------------------------- */

typedef enum {                /* how a raw exchange ended */
    RAW_ANSWERED,             /* the whole answer arrived */
    RAW_CLOSED_UNANSWERED,    /* closed before any byte of an answer */
    RAW_RESET_UNANSWERED,     /* reset before any byte of an answer */
    RAW_CUT_SHORT,            /* part of the answer arrived */
    RAW_OTHER,                /* a send error, a timeout... */
    RAW_NO_CONNECTION,        /* it never reached the server */
    RAW_OUTCOMES
} raw_outcome;
extern const char *const raw_outcome_names[RAW_OUTCOMES];

/* A keep-alive connection on a plain socket; one per thread. */
typedef struct raw_client raw_client;
raw_client *raw_client_new(int port);
void raw_client_free(raw_client *client);

/* Sends len bytes as they are (connecting first if needed), never again, and reads one answer (not
 * to a HEAD): by its Content-Length, else to the close (HTTP/0.9: no status line).  *resp gets
 * what arrived (curl_code -1 with the reason if nothing did). */
raw_outcome raw_client_exchange(raw_client *client, const char *data, size_t len,
                                http_response *resp);

/* ---- load.c: clients asking for a set of redirects ------------------ */

#define LOAD_MAX_PATHS 20

typedef struct {
    int port;
    const char *paths[LOAD_MAX_PATHS];  /* asked for in turn */
    const char *urls[LOAD_MAX_PATHS];   /* the Location each must answer (or NULL) */
    long status;                        /* the status they must answer... */
    long statuses[LOAD_MAX_PATHS];      /* ...unless one of their own is set here */
    const char *hosts[LOAD_MAX_PATHS];  /* a Host header, or NULL */
    int npaths;
    const char *method;                 /* curl only: NULL is GET; */
    const char *const *headers;         /* more header lines, */
    const char *body;                   /* a body, or NULL */
    int clients;            /* threads, each on a keep-alive connection */
    long per_client;        /* requests per client; 0: until stopped */
    long think_us;          /* pause between a client's requests */
    /* curl resends a request whose kept-alive connection died before an answer (as browsers do);
     * the raw client never does, so it knows which requests may or may not have been served. */
    int use_curl;
    int new_connections;    /* raw: a new one for each request */
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
    long slowest_ms;        /* the longest a request took */
    int not_started;        /* clients whose thread could not start */
} load_totals;

typedef struct load_run load_run;
load_run *load_begin(const load_spec *spec);   /* NULL if nothing started */
long load_answered(load_run *run);            /* right answers so far */
long load_attempts(load_run *run);            /* requests so far */
int load_wait_answered(load_run *run, long from, long count, long timeout_ms);

/* Stops the clients (or, stop 0, waits for their per_client requests), adds up their counts,
 * prints each one's first problem, frees run. */
void load_end(load_run *run, int stop, load_totals *totals);

#endif /* HARNESS_H */
