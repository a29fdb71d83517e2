/*
 * harness.c - run a throw-away Apache httpd and talk HTTP to it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

extern char **environ;

#define START_TIMEOUT_MS    10000
#define STOP_TIMEOUT_MS     10000
#define GRACEFUL_TIMEOUT_MS 15000
#define POLL_MS             50

/* ------------------------------------------------------------------ */
/* small helpers                                                      */
/* ------------------------------------------------------------------ */

/* Bytes collected from a pipe or curl, kept NUL-terminated. */
typedef struct {
    char *data;
    size_t len;
} buffer;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return s;
}

void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL) {
        fprintf(stderr, "harness: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

char *file_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = xstrdup("");
    size_t len = 0, got;
    char chunk[8192];

    if (f == NULL) {
        return data;
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        data = xrealloc(data, len + got + 1);
        memcpy(data + len, chunk, got);
        len += got;
        data[len] = '\0';
    }
    fclose(f);
    return data;
}

/* s with every occurrence of from replaced by to, malloc'd. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t from_len = strlen(from), to_len = strlen(to), len = 0;
    char *out = xstrdup("");
    const char *hit;

    while ((hit = strstr(s, from)) != NULL) {
        size_t keep = (size_t)(hit - s);
        out = xrealloc(out, len + keep + to_len + 1);
        memcpy(out + len, s, keep);
        memcpy(out + len + keep, to, to_len);
        len += keep + to_len;
        s = hit + from_len;
    }
    out = xrealloc(out, len + strlen(s) + 1);
    strcpy(out + len, s);
    return out;
}

/* A port nobody listens on now: bind 127.0.0.1:0, read it, close. */
int free_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0
        && getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

int port_accepts(int port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0) {
        return 0;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

/*
 * Runs argv (argv[0] is a path) with stdout and stderr going to out_path;
 * returns its exit status, 128+signal if killed, -1 if it could not run.
 * posix_spawn rather than fork: it is safe while other threads run.
 */
static int run_command(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int rc, status;

    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

static const char *apache2_binary(void)
{
    const char *s = getenv("APACHE2");
    return s && *s ? s : "/usr/sbin/apache2";
}

static const char *modules_dir(void)
{
    const char *s = getenv("APACHE2_MODULES");
    return s && *s ? s : "/usr/lib/apache2/modules";
}

/* ------------------------------------------------------------------ */
/* every server started, for the exit and signal handlers             */
/* ------------------------------------------------------------------ */

#define MAX_RUNNING 16
static httpd_server *running[MAX_RUNNING];

/* What handled the signals before us (pg_harness.c's, or the default). */
static harness_signals previous_handlers;

/* True once pid has exited; it is left unreaped (a zombie). */
static int exited_unreaped(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
        && info.si_pid == pid;
}

/*
 * Stops httpd and everything in its process group: SIGTERM to the parent,
 * up to timeout_ms for it to exit, then SIGKILL to the whole group before
 * the parent is reaped (while it is unreaped, the group id cannot name
 * anything else).  Returns 1 if SIGTERM was enough.  Only async-signal-safe
 * calls: the signal handler uses it too.
 */
static int stop_process_group(pid_t pid, long timeout_ms)
{
    long waited;
    int clean = 0;

    kill(pid, SIGTERM);
    for (waited = 0; waited < timeout_ms; waited += POLL_MS) {
        if (exited_unreaped(pid)) {
            clean = 1;
            break;
        }
        sleep_ms(POLL_MS);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return clean;
}

static void on_signal(int sig)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i] && running[i]->pid > 0) {
            stop_process_group(running[i]->pid, STOP_TIMEOUT_MS);
        }
    }
    harness_chain_signal(&previous_handlers, sig);
}

static void on_exit_stop_all(void)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i]) {
            httpd_stop(running[i]);
        }
    }
}

static void catch_signal(int sig, const struct sigaction *sa,
                         struct sigaction *previous)
{
    sigaction(sig, NULL, previous);
    if (previous->sa_handler != SIG_IGN) {
        sigaction(sig, sa, NULL);
    }
}

void harness_catch_signals(void (*handler)(int), harness_signals *previous)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    catch_signal(SIGINT, &sa, &previous->on_int);
    catch_signal(SIGTERM, &sa, &previous->on_term);
    catch_signal(SIGHUP, &sa, &previous->on_hup);
}

void harness_chain_signal(const harness_signals *previous, int sig)
{
    sigaction(SIGINT, &previous->on_int, NULL);
    sigaction(SIGTERM, &previous->on_term, NULL);
    sigaction(SIGHUP, &previous->on_hup, NULL);
    raise(sig);
}

static void remember(httpd_server *srv)
{
    static int handlers_installed;
    int i;

    if (!handlers_installed) {
        harness_catch_signals(on_signal, &previous_handlers);
        atexit(on_exit_stop_all);
        handlers_installed = 1;
    }
    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i] == NULL || running[i] == srv) {
            running[i] = srv;
            return;
        }
    }
    fprintf(stderr, "harness: more than %d servers at once\n", MAX_RUNNING);
}

static void forget(httpd_server *srv)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i] == srv) {
            running[i] = NULL;
        }
    }
}

typedef enum { SCAN_COUNT, SCAN_PRINT, SCAN_KILL } scan_action;

/*
 * Every live process (zombies have no command line) other than this one
 * whose command line names this server's config: counted, printed to
 * stderr, or SIGKILLed.  Returns how many there were.
 */
static int scan_server_processes(const httpd_server *srv, scan_action action)
{
    DIR *proc = opendir("/proc");
    struct dirent *de;
    int found = 0;

    if (proc == NULL) {
        return 0;
    }
    while ((de = readdir(proc)) != NULL) {
        char path[64], cmdline[4096];
        ssize_t n, i;
        pid_t pid = (pid_t)atoi(de->d_name);
        int fd;

        if (pid <= 0 || pid == getpid()) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        n = read(fd, cmdline, sizeof cmdline - 1);
        close(fd);
        if (n <= 0) {
            continue;   /* a zombie or a kernel thread */
        }
        for (i = 0; i < n; i++) {
            if (cmdline[i] == '\0') {
                cmdline[i] = ' ';
            }
        }
        cmdline[n] = '\0';
        if (strstr(cmdline, srv->conf)) {
            if (action == SCAN_KILL) {
                kill(pid, SIGKILL);
            }
            else if (action == SCAN_PRINT) {
                fprintf(stderr, "harness: still running: pid %d (parent %d): %s\n",
                        (int)pid, (int)process_parent(pid), cmdline);
            }
            found++;
        }
    }
    closedir(proc);
    return found;
}

int httpd_process_count(const httpd_server *srv)
{
    return scan_server_processes(srv, SCAN_COUNT);
}

/*
 * SIGKILLs every process whose command line names this server's config
 * (httpd children left behind by a parent that was killed); waits for
 * them to disappear.  Returns how many there were.
 */
static int kill_leftovers(const httpd_server *srv)
{
    int found = 0, round;

    for (round = 0; round < 40; round++) {
        int now = scan_server_processes(srv, SCAN_KILL);

        if (now == 0) {
            break;
        }
        if (round == 0) {
            found = now;
            fprintf(stderr, "harness: killed %d leftover httpd process(es) of %s\n",
                    now, srv->conf);
        }
        sleep_ms(POLL_MS);
    }
    return found;
}

pid_t process_parent(pid_t pid)
{
    char path[64], stat[1024];
    const char *close_paren;
    int fd, ppid;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    stat[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
    close_paren = strrchr(stat, ')');
    if (close_paren == NULL || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) {
        return -1;
    }
    return (pid_t)ppid;
}

/* ------------------------------------------------------------------ */
/* httpd                                                              */
/* ------------------------------------------------------------------ */

static void choose_user(httpd_server *srv)
{
    struct passwd *pw;
    struct group *gr;

    srv->uid = getuid();
    srv->gid = getgid();
    srv->user = srv->group = NULL;
    if (geteuid() != 0) {
        return;
    }
    pw = getpwnam("www-data");
    srv->user = "www-data";
    if (pw == NULL) {
        pw = getpwnam("nobody");
        srv->user = "nobody";
    }
    gr = getgrnam("www-data");
    srv->group = "www-data";
    if (gr == NULL) {
        gr = getgrnam("nogroup");
        srv->group = "nogroup";
    }
    if (pw) {
        srv->uid = pw->pw_uid;
    }
    if (gr) {
        srv->gid = gr->gr_gid;
    }
}

char *httpd_path(const httpd_server *srv, const char *name)
{
    return xasprintf("%s/%s", srv->dir, name);
}

int httpd_chown(const httpd_server *srv, const char *path)
{
    if (geteuid() != 0) {
        return 0;
    }
    if (chown(path, srv->uid, srv->gid) != 0) {
        fprintf(stderr, "harness: chown %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

httpd_server *httpd_new(const char *mpm)
{
    httpd_server *srv = xrealloc(NULL, sizeof *srv);
    char template[] = "/tmp/minilink-it-XXXXXX";
    char *docroot;

    memset(srv, 0, sizeof *srv);
    if (mkdtemp(template) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(srv);
        return NULL;
    }
    srv->dir = xstrdup(template);
    srv->conf = httpd_path(srv, "httpd.conf");
    srv->error_log = httpd_path(srv, "error.log");
    srv->startup_log = httpd_path(srv, "startup.log");
    srv->mpm = xstrdup(mpm);
    srv->port = free_port();
    choose_user(srv);

    docroot = httpd_path(srv, "htdocs");
    if (srv->port <= 0 || chmod(srv->dir, 0755) != 0
        || mkdir(docroot, 0755) != 0
        || httpd_chown(srv, srv->dir) != 0 || httpd_chown(srv, docroot) != 0) {
        fprintf(stderr, "harness: cannot prepare %s (port %d): %s\n",
                srv->dir, srv->port, strerror(errno));
        free(docroot);
        httpd_free(srv);
        return NULL;
    }
    free(docroot);
    return srv;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void httpd_free(httpd_server *srv)
{
    if (srv == NULL) {
        return;
    }
    httpd_stop(srv);
    if (getenv("MINILINK_KEEP_TMP")) {
        fprintf(stderr, "harness: kept %s\n", srv->dir);
    }
    else {
        nftw(srv->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(srv->dir);
    free(srv->conf);
    free(srv->error_log);
    free(srv->startup_log);
    free(srv->mpm);
    free(srv->modules);
    free(srv);
}

void httpd_load_module(httpd_server *srv, const char *name, const char *file)
{
    char *line = xasprintf("LoadModule %s \"%s/%s\"\n", name, modules_dir(), file);
    char *all = xasprintf("%s%s", srv->modules ? srv->modules : "", line);

    free(line);
    free(srv->modules);
    srv->modules = all;
}

static char *mpm_config(const char *mpm)
{
    if (strcmp(mpm, "prefork") == 0) {
        /* A child per connection: keep-alive clients hold theirs, so
         * keep some idle ones for the requests that come meanwhile. */
        return xasprintf(
            "StartServers 8\n"
            "MinSpareServers 4\n"
            "MaxSpareServers 16\n"
            "ServerLimit 32\n"
            "MaxRequestWorkers 32\n");
    }
    return xasprintf(
        "StartServers 2\n"
        "ServerLimit 8\n"
        "ThreadLimit 16\n"
        "ThreadsPerChild 16\n"
        "MaxRequestWorkers 128\n"
        "MinSpareThreads 16\n"
        "MaxSpareThreads 48\n");
}

int httpd_write_config(httpd_server *srv, const char *extra)
{
    const char *module = getenv("MINILINK_MODULE");
    const char *mods = modules_dir();
    char *user_lines, *mpm_lines, *core_line, *port, *text, *tail, *tmp;
    int rc;

    if (module == NULL || *module == '\0') {
        fprintf(stderr, "harness: MINILINK_MODULE is not set "
                        "(the absolute path of mod_minilink.so)\n");
        return -1;
    }
    user_lines = srv->user
        ? xasprintf("User %s\nGroup %s\n", srv->user, srv->group)
        : xstrdup("");
    mpm_lines = mpm_config(srv->mpm);
    /* MINILINK_CORE_DUMPS: crashing children leave <dir>/core* for gdb. */
    core_line = getenv("MINILINK_CORE_DUMPS")
        ? xasprintf("CoreDumpDirectory \"%s\"\n", srv->dir) : xstrdup("");
    port = xasprintf("%d", srv->port);
    tmp = replace_all(extra ? extra : "", "@PORT@", port);
    tail = replace_all(tmp, "@DIR@", srv->dir);
    free(tmp);

    text = xasprintf(
        "# generated by tests/integration/harness.c\n"
        "ServerRoot \"%s\"\n"
        "ServerName localhost\n"
        "Listen 127.0.0.1:%d\n"
        "PidFile \"%s/httpd.pid\"\n"
        "DefaultRuntimeDir \"%s\"\n"
        "Mutex file:%s default\n"
        "%s"
        "%s"
        "LoadModule mpm_%s_module \"%s/mod_mpm_%s.so\"\n"
        "LoadModule authz_core_module \"%s/mod_authz_core.so\"\n"
        "LoadModule authn_core_module \"%s/mod_authn_core.so\"\n"
        "%s"
        "LoadModule minilink_module \"%s\"\n"
        "ErrorLog \"%s\"\n"
        "LogLevel warn\n"
        "LogLevel minilink:info\n"
        "%s"
        "KeepAlive On\n"
        "MaxKeepAliveRequests 0\n"
        "KeepAliveTimeout 5\n"
        "Timeout 30\n"
        "DocumentRoot \"%s/htdocs\"\n"
        "<Directory />\n"
        "    AllowOverride None\n"
        "    Require all denied\n"
        "</Directory>\n"
        "\n%s\n",
        srv->dir, srv->port, srv->dir, srv->dir, srv->dir, core_line, user_lines,
        srv->mpm, mods, srv->mpm, mods, mods,
        srv->modules ? srv->modules : "", module, srv->error_log,
        mpm_lines, srv->dir, tail);
    rc = write_file(srv->conf, text, strlen(text));
    free(user_lines);
    free(mpm_lines);
    free(core_line);
    free(port);
    free(tail);
    free(text);
    return rc;
}

static void print_logs(const httpd_server *srv)
{
    char *startup = file_read(srv->startup_log);

    fprintf(stderr, "---- %s ----\n%s", srv->startup_log, startup);
    free(startup);
    httpd_error_log_dump(srv);
}

int httpd_start(httpd_server *srv)
{
    char *argv[] = { (char *)apache2_binary(), "-f", srv->conf,
                     "-DFOREGROUND", NULL };
    pid_t parent = getpid(), pid;
    long deadline;
    int status, core_dumps = getenv("MINILINK_CORE_DUMPS") != NULL;

    if (srv->pid > 0) {
        return 0;
    }
    remember(srv);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd;

        /*
         * Its own process group: on shutdown the prefork MPM signals its
         * whole process group, which would otherwise include this runner.
         * And httpd goes when the runner goes, however it goes.
         */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(127);
        }
        if (core_dumps) {
            struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
            setrlimit(RLIMIT_CORE, &unlimited);
        }
        fd = open(srv->startup_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);   /* also here, so it holds before we signal it */
    srv->pid = pid;

    deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            srv->pid = 0;
            fprintf(stderr, "harness: httpd (%s) exited during startup "
                            "with status %d\n", srv->mpm,
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            print_logs(srv);
            kill_leftovers(srv);
            forget(srv);
            return -1;
        }
        if (port_accepts(srv->port)) {
            return 0;
        }
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "harness: httpd (%s) did not listen on port %d within %d ms\n",
            srv->mpm, srv->port, START_TIMEOUT_MS);
    print_logs(srv);
    httpd_stop(srv);
    return -1;
}

void httpd_stop(httpd_server *srv)
{
    if (srv->pid > 0) {
        if (!stop_process_group(srv->pid, STOP_TIMEOUT_MS)) {
            fprintf(stderr, "harness: httpd %d ignored SIGTERM for %d ms; "
                            "killed its process group\n", (int)srv->pid,
                    STOP_TIMEOUT_MS);
        }
        srv->pid = 0;
    }
    kill_leftovers(srv);
    forget(srv);
}

int httpd_stop_clean(httpd_server *srv)
{
    long waited;
    int parent_clean = 0, left = 0;

    if (srv->pid <= 0) {
        left = scan_server_processes(srv, SCAN_PRINT);
        httpd_stop(srv);
        return left;
    }
    kill(srv->pid, SIGTERM);
    for (waited = 0; waited < STOP_TIMEOUT_MS; waited += POLL_MS) {
        if (exited_unreaped(srv->pid)) {
            parent_clean = 1;
            break;
        }
        sleep_ms(POLL_MS);
    }
    if (!parent_clean) {
        fprintf(stderr, "harness: httpd %d did not exit within %d ms of SIGTERM\n",
                (int)srv->pid, STOP_TIMEOUT_MS);
    }
    /* The parent reaps its children (and helpers such as mod_cgid's
     * daemon) before it exits; a short grace covers the kernel's side. */
    for (waited = 0; waited <= 500; waited += POLL_MS) {
        if ((left = scan_server_processes(srv, SCAN_COUNT)) == 0) {
            break;
        }
        sleep_ms(POLL_MS);
    }
    if (left > 0) {
        scan_server_processes(srv, SCAN_PRINT);
    }
    httpd_stop(srv);   /* kills and reaps whatever is left */
    return left + (parent_clean ? 0 : 1);
}

int httpd_run_as_user(const httpd_server *srv, char *const argv[], char **output)
{
    buffer out = { xstrdup(""), 0 };
    char chunk[4096];
    ssize_t got;
    pid_t pid;
    int fds[2], status;

    /* Close-on-exec: programs other threads start meanwhile must not hold
     * the write end open, or reading here would wait for them too. */
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(out.data);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(out.data);
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: other threads
         * of this process may hold locks. */
        gid_t gid = srv->gid;

        dup2(fds[1], 1);
        dup2(fds[1], 2);
        if (geteuid() == 0
            && (setgroups(1, &gid) != 0 || setgid(srv->gid) != 0
                || setuid(srv->uid) != 0)) {
            _exit(126);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while ((got = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        out.data = xrealloc(out.data, out.len + (size_t)got + 1);
        memcpy(out.data + out.len, chunk, (size_t)got);
        out.len += (size_t)got;
        out.data[out.len] = '\0';
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(out.data);
            return -1;
        }
    }
    if (output) {
        *output = out.data;
    }
    else {
        free(out.data);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int httpd_graceful(httpd_server *srv)
{
    const char *marker = "resuming normal operations";
    char *argv[] = { (char *)apache2_binary(), "-f", srv->conf, "-k",
                     "graceful", NULL };
    char *out_path = httpd_path(srv, "graceful.out");
    int before = httpd_error_log_count(srv, marker), rc;
    long deadline;

    rc = run_command(argv, out_path);
    if (rc != 0) {
        char *out = file_read(out_path);
        fprintf(stderr, "harness: apache2 -k graceful exited %d:\n%s", rc, out);
        free(out);
        free(out_path);
        return -1;
    }
    free(out_path);

    deadline = now_ms() + GRACEFUL_TIMEOUT_MS;
    while (httpd_error_log_count(srv, marker) <= before) {
        if (now_ms() > deadline || exited_unreaped(srv->pid)) {
            fprintf(stderr, "harness: no \"%s\" after the graceful restart\n",
                    marker);
            httpd_error_log_dump(srv);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    while (!port_accepts(srv->port)) {
        if (now_ms() > deadline) {
            fprintf(stderr, "harness: httpd does not answer after graceful\n");
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    return 0;
}

int httpd_configtest(const httpd_server *srv, char **output)
{
    char *argv[] = { (char *)apache2_binary(), "-t", "-f", srv->conf, NULL };
    char *out_path = httpd_path(srv, "configtest.out");
    int rc = run_command(argv, out_path);

    if (output) {
        *output = file_read(out_path);
    }
    free(out_path);
    return rc;
}

char *httpd_error_log_read(const httpd_server *srv)
{
    return file_read(srv->error_log);
}

int httpd_error_log_count_if(const httpd_server *srv,
                             httpd_line_match_fn *match, void *ctx)
{
    char *log = httpd_error_log_read(srv), *line = log;
    int count = 0;

    while (*line) {
        char *end = strchr(line, '\n');
        if (end) {
            *end = '\0';
        }
        if (match(line, ctx)) {
            count++;
        }
        if (end == NULL) {
            break;
        }
        line = end + 1;
    }
    free(log);
    return count;
}

static int line_contains(const char *line, void *needle)
{
    return strstr(line, (const char *)needle) != NULL;
}

int httpd_error_log_count(const httpd_server *srv, const char *needle)
{
    return httpd_error_log_count_if(srv, line_contains, (void *)needle);
}

char *httpd_error_log_last_line(const httpd_server *srv, const char *needle)
{
    char *log = httpd_error_log_read(srv), *line = log, *last = NULL;

    while (*line) {
        char *end = strchr(line, '\n');
        if (end) {
            *end = '\0';
        }
        if (strstr(line, needle)) {
            last = line;
        }
        if (end == NULL) {
            break;
        }
        line = end + 1;
    }
    last = last ? xstrdup(last) : NULL;
    free(log);
    return last;
}

long httpd_error_log_wait(const httpd_server *srv, const char *needle,
                          int before, long timeout_ms)
{
    long start = now_ms(), waited;

    for (;;) {
        waited = now_ms() - start;
        if (httpd_error_log_count(srv, needle) > before) {
            return waited;
        }
        if (waited >= timeout_ms) {
            return -1;
        }
        sleep_ms(POLL_MS);
    }
}

void httpd_error_log_dump(const httpd_server *srv)
{
    char *log = httpd_error_log_read(srv);

    fprintf(stderr, "---- %s ----\n%s---- end of error log ----\n",
            srv->error_log, log);
    free(log);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                               */
/* ------------------------------------------------------------------ */

struct http_client {
    CURL *curl;
    int port;
};

static size_t buffer_append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buffer *b = userdata;
    size_t n = size * nmemb;

    b->data = xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

http_client *http_client_new(int port)
{
    http_client *client = xrealloc(NULL, sizeof *client);

    client->curl = curl_easy_init();
    client->port = port;
    if (client->curl == NULL) {
        free(client);
        return NULL;
    }
    return client;
}

void http_client_free(http_client *client)
{
    if (client) {
        curl_easy_cleanup(client->curl);
        free(client);
    }
}

int http_client_send(http_client *client, const http_request_spec *req,
                     http_response *resp)
{
    CURL *curl = client->curl;
    struct curl_slist *extra = NULL;
    buffer headers = { xstrdup(""), 0 }, body = { xstrdup(""), 0 };
    char *url = xasprintf("http://127.0.0.1:%d%s", client->port, req->path);
    char errbuf[CURL_ERROR_SIZE] = "";
    char *host_header = NULL;
    const char *method = req->method;
    CURLcode rc;
    size_t i;

    memset(resp, 0, sizeof *resp);
    /* Keeps the connection cache: the next request reuses the connection. */
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, buffer_append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buffer_append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);

    if (strcmp(method, "GET") == 0 && req->body == NULL) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }
    else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (req->body) {
            /* curl sends POSTFIELDS with the custom method. */
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)req->body_len);
        }
    }
    if (req->userpwd) {
        /* Sent with the first request, as a browser does after a 401. */
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, req->userpwd);
    }
    if (req->host) {
        host_header = xasprintf("Host: %s", req->host);
        extra = curl_slist_append(extra, host_header);
    }
    extra = curl_slist_append(extra, "Expect:");
    for (i = 0; req->headers && req->headers[i]; i++) {
        extra = curl_slist_append(extra, req->headers[i]);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, extra);

    rc = curl_easy_perform(curl);
    resp->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    else {
        snprintf(resp->error, sizeof resp->error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    resp->headers = headers.data;
    resp->body = body.data;
    resp->body_len = body.len;
    resp->location = http_header(resp, "Location");
    resp->allow = http_header(resp, "Allow");

    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(extra);
    free(host_header);
    free(url);
    return rc == CURLE_OK ? 0 : -1;
}

int http_client_request(http_client *client, const char *method,
                        const char *host, const char *path,
                        http_response *resp)
{
    http_request_spec req;

    memset(&req, 0, sizeof req);
    req.method = method;
    req.host = host;
    req.path = path;
    return http_client_send(client, &req, resp);
}

int http_send(int port, const http_request_spec *req, http_response *resp)
{
    http_client *client = http_client_new(port);
    int rc;

    if (client == NULL) {
        memset(resp, 0, sizeof *resp);
        snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
        resp->headers = xstrdup("");
        resp->body = xstrdup("");
        return -1;
    }
    rc = http_client_send(client, req, resp);
    http_client_free(client);
    return rc;
}

int http_request(int port, const char *method, const char *host,
                 const char *path, http_response *resp)
{
    http_request_spec req;

    memset(&req, 0, sizeof req);
    req.method = method;
    req.host = host;
    req.path = path;
    return http_send(port, &req, resp);
}

char *http_header(const http_response *resp, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = resp->headers;

    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len > name_len && strncasecmp(line, name, name_len) == 0
            && line[name_len] == ':') {
            const char *v = line + name_len + 1;
            size_t vlen = len - name_len - 1;
            char *value;

            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '
                                || v[vlen - 1] == '\t')) {
                vlen--;
            }
            value = xrealloc(NULL, vlen + 1);
            memcpy(value, v, vlen);
            value[vlen] = '\0';
            return value;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

int http_headers_contain(const http_response *resp, const char *needle)
{
    return resp->headers && strcasestr(resp->headers, needle) != NULL;
}

void http_response_free(http_response *resp)
{
    free(resp->headers);
    free(resp->location);
    free(resp->allow);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}
