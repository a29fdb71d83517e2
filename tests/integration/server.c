/*
 * server.c - a throw-away httpd: its own directory (the ServerRoot) and a
 * free port; started in the foreground as our child, in a process group of
 * its own, and stopped by the test even when the test fails or is killed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define START_TIMEOUT_MS    10000
#define STOP_TIMEOUT_MS     10000
#define GRACEFUL_TIMEOUT_MS 15000
#define POLL_MS             50
#define MAX_RUNNING         16

static httpd_server *running[MAX_RUNNING];

static const char *apache2_binary(void)
{
    const char *s = getenv("APACHE2");
    return s && *s ? s : "/usr/sbin/apache2";
}

/* True once pid has exited; it is left unreaped (a zombie). */
static int exited_unreaped(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
        && info.si_pid == pid;
}

/* Up to timeout_ms for pid to exit after SIGTERM (sent unless 0); 1 if it did. */
static int wait_exit(pid_t pid, long timeout_ms)
{
    long waited;

    for (waited = 0; waited < timeout_ms; waited += POLL_MS) {
        if (exited_unreaped(pid)) {
            return 1;
        }
        sleep_ms(POLL_MS);
    }
    return 0;
}

/*
 * SIGTERM to the parent, up to STOP_TIMEOUT_MS for it to exit, then SIGKILL
 * to its whole process group before it is reaped (while it is unreaped, the
 * group id cannot name anything else).  1 if SIGTERM was enough.  Only
 * async-signal-safe calls: the signal handler uses it too.
 */
static int stop_process_group(pid_t pid)
{
    int clean;

    kill(pid, SIGTERM);
    clean = wait_exit(pid, STOP_TIMEOUT_MS);
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return clean;
}

static void stop_on_signal(void *obj)
{
    httpd_server *srv = obj;

    if (srv->pid > 0) {
        stop_process_group(srv->pid);
    }
}

static void stop_at_exit(void *obj)
{
    httpd_stop(obj);
}

static void remember(httpd_server *srv, int started)
{
    int i, free_slot = -1;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i] == srv) {
            running[i] = started ? srv : NULL;
            return;
        }
        free_slot = running[i] == NULL && free_slot < 0 ? i : free_slot;
    }
    if (started && free_slot >= 0) {
        running[free_slot] = srv;
    }
}

int httpd_running(httpd_server **out, int max)
{
    int i, n = 0;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i] && n < max) {
            out[n++] = running[i];
        }
    }
    return n;
}

int httpd_process_count(const httpd_server *srv)
{
    return proc_scan(srv->conf, 0, NULL, 0);
}

/* SIGKILLs what is left of the server (children of a killed parent) and
 * waits for it to go.  Returns how many there were. */
static int kill_leftovers(const httpd_server *srv)
{
    pid_t pids[64];
    int found = 0, round, n, i;

    for (round = 0; round < 40 && (n = proc_scan(srv->conf, 0, pids, 64)) > 0; round++) {
        for (i = 0; i < n && i < 64; i++) {
            kill(pids[i], SIGKILL);
        }
        if (round == 0) {
            found = n;
            fprintf(stderr, "harness: killed %d leftover httpd process(es) of %s\n", n,
                    srv->conf);
        }
        sleep_ms(POLL_MS);
    }
    return found;
}

/* ------------------------------------------------------------------ */
/* the server                                                         */
/* ------------------------------------------------------------------ */

/* Root runs the children as www-data (else nobody/nogroup). */
static void choose_user(httpd_server *srv)
{
    struct passwd *pw;
    struct group *gr;

    srv->uid = getuid();
    srv->gid = getgid();
    if (geteuid() != 0) {
        return;
    }
    srv->user = (pw = getpwnam("www-data")) ? "www-data" : "nobody";
    pw = pw ? pw : getpwnam("nobody");
    srv->group = (gr = getgrnam("www-data")) ? "www-data" : "nogroup";
    gr = gr ? gr : getgrnam("nogroup");
    srv->uid = pw ? pw->pw_uid : srv->uid;
    srv->gid = gr ? gr->gr_gid : srv->gid;
}

char *httpd_path(const httpd_server *srv, const char *name)
{
    return xasprintf("%s/%s", srv->dir, name);
}

int httpd_chown(const httpd_server *srv, const char *path)
{
    if (geteuid() == 0 && chown(path, srv->uid, srv->gid) != 0) {
        fprintf(stderr, "harness: chown %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

httpd_server *httpd_new(const char *mpm)
{
    httpd_server *srv = xrealloc(NULL, sizeof *srv);
    char template[] = "/tmp/minilink-it-XXXXXX", *docroot;

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
    if (srv->port <= 0 || chmod(srv->dir, 0755) != 0 || mkdir(docroot, 0755) != 0
        || httpd_chown(srv, srv->dir) != 0 || httpd_chown(srv, docroot) != 0) {
        fprintf(stderr, "harness: cannot prepare %s (port %d): %s\n", srv->dir,
                srv->port, strerror(errno));
        httpd_free(srv);
        srv = NULL;
    }
    free(docroot);
    return srv;
}

void httpd_free(httpd_server *srv)
{
    if (srv == NULL) {
        return;
    }
    httpd_stop(srv);
    if (srv->keep || getenv("MINILINK_KEEP_TMP")) {
        fprintf(stderr, "harness: kept %s\n", srv->dir);
    }
    else {
        remove_tree(srv->dir);
    }
    free(srv->dir);
    free(srv->conf);
    free(srv->error_log);
    free(srv->startup_log);
    free(srv->mpm);
    free(srv->modules);
    free(srv);
}

static void print_logs(const httpd_server *srv)
{
    char *startup = file_read(srv->startup_log);

    fprintf(stderr, "---- %s ----\n%s", srv->startup_log, startup);
    free(startup);
    httpd_error_log_dump(srv);
}

/* In the child: its own process group (on shutdown prefork signals its
 * whole group, which would otherwise include this runner), and it goes
 * when the runner goes, however it goes. */
static void exec_httpd(const httpd_server *srv, pid_t parent)
{
    char *argv[] = { (char *)apache2_binary(), "-f", srv->conf, "-DFOREGROUND", NULL };
    int fd = open(srv->startup_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(127);
    }
    if (getenv("MINILINK_CORE_DUMPS")) {
        struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
        setrlimit(RLIMIT_CORE, &unlimited);
    }
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
}

int httpd_start(httpd_server *srv)
{
    pid_t parent = getpid(), pid;
    long deadline = now_ms() + START_TIMEOUT_MS;
    int status;

    if (srv->pid > 0) {
        return 0;
    }
    cleanup_register(stop_on_signal, stop_at_exit, srv);
    fflush(NULL);
    if ((pid = fork()) < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        exec_httpd(srv, parent);
    }
    setpgid(pid, pid);   /* also here, so it holds before we signal it */
    srv->pid = pid;
    remember(srv, 1);
    while (now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            srv->pid = 0;
            fprintf(stderr, "harness: httpd (%s) exited during startup with status %d\n",
                    srv->mpm, WIFEXITED(status) ? WEXITSTATUS(status)
                                                : 128 + WTERMSIG(status));
            print_logs(srv);
            httpd_stop(srv);
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
    if (srv->pid > 0 && !stop_process_group(srv->pid)) {
        fprintf(stderr, "harness: httpd %d ignored SIGTERM for %d ms; killed its "
                "process group\n", (int)srv->pid, STOP_TIMEOUT_MS);
    }
    srv->pid = 0;
    kill_leftovers(srv);
    remember(srv, 0);
    cleanup_forget(srv);
}

int httpd_stop_clean(httpd_server *srv)
{
    int parent_clean = 1, left = 0, i;
    long waited;
    pid_t pids[64];

    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        parent_clean = wait_exit(srv->pid, STOP_TIMEOUT_MS);
        if (!parent_clean) {
            fprintf(stderr, "harness: httpd %d did not exit within %d ms of SIGTERM\n",
                    (int)srv->pid, STOP_TIMEOUT_MS);
        }
    }
    /* The parent reaps its children (and helpers) before it exits; a
     * short grace covers the kernel's side. */
    for (waited = 0; waited <= 500; waited += POLL_MS) {
        if ((left = proc_scan(srv->conf, 0, pids, 64)) == 0) {
            break;
        }
        sleep_ms(POLL_MS);
    }
    for (i = 0; i < left && i < 64; i++) {
        fprintf(stderr, "harness: still running: pid %d (parent %d) of %s\n",
                (int)pids[i], (int)process_parent(pids[i]), srv->conf);
    }
    httpd_stop(srv);   /* kills and reaps whatever is left */
    return left + !parent_clean;
}

int httpd_run_as_user(const httpd_server *srv, char *const argv[], char **output)
{
    run_spec spec = { argv, 1, srv->uid, srv->gid, NULL, NULL, NULL, 0 };
    run_result res = run_captured(&spec);

    if (output) {
        *output = res.output;
    }
    else {
        free(res.output);
    }
    return res.status;
}

/* apache2 with args, as root; its output to *output unless NULL. */
static int run_apache2(const char *const *args, char **output)
{
    char *argv[8] = { (char *)apache2_binary() };
    run_spec spec = { argv, 0, 0, 0, NULL, NULL, NULL, 60000 };
    run_result res;
    int i;

    for (i = 0; args[i] && i < 6; i++) {
        argv[i + 1] = (char *)args[i];
    }
    res = run_captured(&spec);
    if (output) {
        *output = res.output;
    }
    else {
        free(res.output);
    }
    return res.status;
}

int httpd_graceful(httpd_server *srv)
{
    const char *marker = "resuming normal operations";
    const char *args[] = { "-f", srv->conf, "-k", "graceful", NULL };
    int before = httpd_error_log_count(srv, marker), rc;
    char *out = NULL;
    long deadline;

    if ((rc = run_apache2(args, &out)) != 0) {
        fprintf(stderr, "harness: apache2 -k graceful exited %d:\n%s", rc, out);
        free(out);
        return -1;
    }
    free(out);
    deadline = now_ms() + GRACEFUL_TIMEOUT_MS;
    while (httpd_error_log_count(srv, marker) <= before) {
        if (now_ms() > deadline || exited_unreaped(srv->pid)) {
            fprintf(stderr, "harness: no \"%s\" after the graceful restart\n", marker);
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
    const char *args[] = { "-t", "-f", srv->conf, NULL };

    return run_apache2(args, output);
}
