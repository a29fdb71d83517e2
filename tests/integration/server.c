/*
 * server.c - a throw-away httpd: its own directory (the ServerRoot) and a free port; started in
 * the foreground as our child, in a process group of its own, and stopped by the test even when
 * the test fails or is killed.
 */
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "harness.h"

#define START_TIMEOUT_MS    10000
#define STOP_TIMEOUT_MS     10000
#define GRACEFUL_TIMEOUT_MS 15000
#define POLL_MS             50
#define MAX_RUNNING         16

static httpd_server *running[MAX_RUNNING];

#define APACHE2 (char *)env_or("APACHE2", "/usr/sbin/apache2")

/* SIGTERM to the parent, up to STOP_TIMEOUT_MS for it to exit, then SIGKILL to its whole process
 * group before it is reaped (while it is unreaped, the group id cannot name anything else).  1 if
 * SIGTERM was enough.  Only async-signal-safe calls: the signal handler uses it too. */
static int stop_process_group(pid_t pid)
{
    int clean;
    kill(pid, SIGTERM);
    clean = wait_exited(pid, STOP_TIMEOUT_MS);
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

/* Into the list of running servers, or (started 0) out of it. */
static void remember(httpd_server *srv, int started)
{
    int i;
    for (i = 0; i < MAX_RUNNING && running[i] != (started ? NULL : srv); i++) {
    }
    if (i < MAX_RUNNING) {
        running[i] = started ? srv : NULL;
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

/* ---- the server ----------------------------------------------------- */

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
    char *docroot;

    memset(srv, 0, sizeof *srv);
    if (mkdtemp(strcpy(srv->dir, "/tmp/minilink-it-XXXXXX")) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(srv);
        return NULL;
    }
    snprintf(srv->conf, sizeof srv->conf, "%s/httpd.conf", srv->dir);
    snprintf(srv->error_log, sizeof srv->error_log, "%s/error.log", srv->dir);
    snprintf(srv->startup_log, sizeof srv->startup_log, "%s/startup.log", srv->dir);
    snprintf(srv->mpm, sizeof srv->mpm, "%s", mpm);
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
    free(srv->modules);
    free(srv);
}

/* In a process group of its own: on shutdown prefork signals its whole group, which would otherwise
 * include this runner. */
int httpd_start(httpd_server *srv)
{
    char *argv[] = { APACHE2, "-f", srv->conf, "-DFOREGROUND", NULL };
    run_spec spec = { .argv = argv, .new_group = 1 };
    char *startup;
    int status, fd;

    if (srv->pid > 0) {
        return 0;
    }
    if (getenv("MINILINK_CORE_DUMPS")) {   /* inherited (this process's limit too) */
        setrlimit(RLIMIT_CORE, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
    }
    cleanup_register(stop_on_signal, stop_at_exit, srv);
    fd = open(srv->startup_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (srv->pid = run_spawn(&spec, fd)) < 0) {
        fprintf(stderr, "harness: cannot start httpd: %s\n", strerror(errno));
        srv->pid = 0;
    }
    close(fd);
    remember(srv, srv->pid > 0);
    POLL_UNTIL(srv->pid <= 0 || wait_exited(srv->pid, 0) || port_accepts(srv->port),
               START_TIMEOUT_MS, POLL_MS);
    if (srv->pid > 0 && !wait_exited(srv->pid, 0) && port_accepts(srv->port)) {
        return 0;
    }
    if (srv->pid > 0 && wait_exited(srv->pid, 0) && waitpid(srv->pid, &status, 0) == srv->pid) {
        srv->pid = 0;
        fprintf(stderr, "harness: httpd (%s) exited during startup with status %d\n", srv->mpm,
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    else {
        fprintf(stderr, "harness: httpd (%s) did not listen on port %d within %d ms\n",
                srv->mpm, srv->port, START_TIMEOUT_MS);
    }
    startup = file_read(srv->startup_log);
    fprintf(stderr, "---- %s ----\n%s", srv->startup_log, startup);
    free(startup);
    httpd_error_log_dump(srv);
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
    if (kill_processes(srv->conf, 0) > 0) {   /* children of a killed parent */
        fprintf(stderr, "harness: killed leftover httpd processes of %s\n", srv->conf);
    }
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
        parent_clean = wait_exited(srv->pid, STOP_TIMEOUT_MS);
        if (!parent_clean) {
            fprintf(stderr, "harness: httpd %d did not exit within %d ms of SIGTERM\n",
                    (int)srv->pid, STOP_TIMEOUT_MS);
        }
    }
    /* The parent reaps its children (and helpers) before it exits; a short grace covers the
     * kernel's side. */
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
    run_spec spec = { .argv = argv, .become = 1, .uid = srv->uid, .gid = srv->gid };
    return run_program(&spec, output);
}

/* apache2 with args, as root; its output to *output unless NULL. */
static int run_apache2(const char *const *args, char **output)
{
    char *argv[8] = { APACHE2 };
    run_spec spec = { .argv = argv, .timeout_ms = 60000 };
    int i;

    for (i = 0; args[i] && i < 6; i++) {
        argv[i + 1] = (char *)args[i];
    }
    return run_program(&spec, output);
}

int httpd_graceful(httpd_server *srv)
{
    const char *marker = "resuming normal operations";
    const char *args[] = { "-f", srv->conf, "-k", "graceful", NULL };
    int before = httpd_error_log_count(srv, marker), rc;
    char *out = NULL;
    long waited;

    if ((rc = run_apache2(args, &out)) != 0) {
        fprintf(stderr, "harness: apache2 -k graceful exited %d:\n%s", rc, out);
    }
    free(out);
    if (rc != 0) {
        return -1;
    }
    waited = POLL_UNTIL(httpd_error_log_count(srv, marker) > before || wait_exited(srv->pid, 0),
                        GRACEFUL_TIMEOUT_MS, POLL_MS);
    if (httpd_error_log_count(srv, marker) <= before) {
        fprintf(stderr, "harness: no \"%s\" after the graceful restart\n", marker);
        httpd_error_log_dump(srv);
        return -1;
    }
    POLL_UNTIL(port_accepts(srv->port), GRACEFUL_TIMEOUT_MS - waited, POLL_MS);
    if (!port_accepts(srv->port)) {
        fprintf(stderr, "harness: httpd does not answer after graceful\n");
        return -1;
    }
    return 0;
}

int httpd_configtest(const httpd_server *srv, char **output)
{
    const char *args[] = { "-t", "-f", srv->conf, NULL };
    return run_apache2(args, output);
}
