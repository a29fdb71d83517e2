/*
 * pg_harness.c - run a throw-away PostgreSQL server for a test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pg_harness.h"

#define START_TIMEOUT_MS 30000   /* a loaded 2-core machine, first start */
#define STOP_TIMEOUT_MS  30000
#define KILL_WAIT_MS     5000
#define POLL_MS          50

/* ------------------------------------------------------------------ */
/* small helpers                                                      */
/* ------------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    return xasprintf("%s", s);
}

static int append_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "ab");
    int ok;

    if (f == NULL) {
        fprintf(stderr, "pg_harness: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

/* True if pid (our child) has exited; it is reaped. */
static int reaped(pid_t pid)
{
    int status;
    pid_t got = waitpid(pid, &status, WNOHANG);

    return got == pid || (got < 0 && errno == ECHILD);
}

/* Waits up to timeout_ms for our child pid to exit (reaping it). */
static int wait_exit(pid_t pid, long timeout_ms)
{
    long waited;

    for (waited = 0; waited <= timeout_ms; waited += POLL_MS) {
        if (reaped(pid)) {
            return 1;
        }
        sleep_ms(POLL_MS);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* finding the binaries                                               */
/* ------------------------------------------------------------------ */

static int has_tools(const char *bin_dir)
{
    static const char *const tools[] = { "postgres", "initdb", "pg_ctl", "psql" };
    size_t i;

    for (i = 0; i < sizeof tools / sizeof *tools; i++) {
        char *path = xasprintf("%s/%s", bin_dir, tools[i]);
        int ok = access(path, X_OK) == 0;

        free(path);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/*
 * The newest /usr/lib/postgresql/<version>/bin with every tool, or
 * $MINILINK_PG_BIN; *version gets <version> (or "?").  NULL if none.
 */
static char *find_bin_dir(char **version)
{
    const char *env = getenv("MINILINK_PG_BIN");
    DIR *dir;
    struct dirent *de;
    char *best = NULL;
    double best_version = -1;

    if (env && *env) {
        *version = xstrdup("?");
        return has_tools(env) ? xstrdup(env) : NULL;
    }
    dir = opendir("/usr/lib/postgresql");
    if (dir == NULL) {
        return NULL;
    }
    while ((de = readdir(dir)) != NULL) {
        char *end, *bin;
        double v = strtod(de->d_name, &end);   /* "15", or "9.6" long ago */

        if (end == de->d_name || *end != '\0' || v <= best_version) {
            continue;
        }
        bin = xasprintf("/usr/lib/postgresql/%s/bin", de->d_name);
        if (has_tools(bin)) {
            free(best);
            free(*version);
            best = bin;
            *version = xstrdup(de->d_name);
            best_version = v;
        }
        else {
            free(bin);
        }
    }
    closedir(dir);
    return best;
}

/* ------------------------------------------------------------------ */
/* running as the server's account                                    */
/* ------------------------------------------------------------------ */

static void choose_user(pg_server *pg)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        pw = getpwuid(getuid());
        pg->user = xstrdup(pw ? pw->pw_name : "(this user)");
        pg->uid = getuid();
        pg->gid = getgid();
        return;
    }
    pw = getpwnam("postgres");
    if (pw == NULL) {
        pw = getpwnam("nobody");
    }
    pg->user = xstrdup(pw ? pw->pw_name : "(uid 65534)");
    pg->uid = pw ? pw->pw_uid : 65534;
    pg->gid = pw ? pw->pw_gid : 65534;
}

/*
 * A fixed environment for PostgreSQL's programs: no PG* variables of the
 * caller's (PGHOST, PGPASSWORD...) leak in, and no locale it may lack.
 */
typedef struct {
    char *home;
    char *vars[5];
} child_env;

static void child_env_make(const pg_server *pg, child_env *env)
{
    env->home = xasprintf("HOME=%s", pg->dir);
    env->vars[0] = "PATH=/usr/bin:/bin";
    env->vars[1] = "LC_ALL=C";
    env->vars[2] = "TZ=UTC";
    env->vars[3] = env->home;
    env->vars[4] = NULL;
}

/*
 * In a child after fork: becomes the server's account, in its folder.
 * Only async-signal-safe calls (the test may run threads).  Exits 126 on
 * failure.
 */
static void become_user(const pg_server *pg)
{
    gid_t gid = pg->gid;

    if (geteuid() == 0
        && (setgroups(1, &gid) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0)) {
        _exit(126);
    }
    if (chdir(pg->dir) != 0) {
        _exit(126);
    }
}

/*
 * Runs argv (argv[0] a path) as the server's account; returns its exit
 * status (128+signal if killed, -1 if it could not run).  stdout and
 * stderr go to *output (malloc'd) if not NULL.
 */
static int run_as_user(const pg_server *pg, char *const argv[], char **output)
{
    char *out = xstrdup(""), chunk[4096];
    size_t len = 0;
    ssize_t got;
    child_env env;
    pid_t pid;
    int fds[2], status;

    child_env_make(pg, &env);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(env.home);
        free(out);
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(env.home);
        free(out);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);

        if (null >= 0) {
            dup2(null, 0);
        }
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        become_user(pg);
        execve(argv[0], argv, env.vars);
        _exit(127);
    }
    close(fds[1]);
    while ((got = read(fds[0], chunk, sizeof chunk)) != 0) {
        char *more;

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        more = realloc(out, len + (size_t)got + 1);
        if (more == NULL) {
            abort();
        }
        out = more;
        memcpy(out + len, chunk, (size_t)got);
        len += (size_t)got;
        out[len] = '\0';
    }
    close(fds[0]);
    free(env.home);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(out);
            return -1;
        }
    }
    if (output) {
        *output = out;
    }
    else {
        free(out);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *tool(const pg_server *pg, const char *name)
{
    return xasprintf("%s/%s", pg->bin_dir, name);
}

/* ------------------------------------------------------------------ */
/* every server started, for the exit and signal handlers             */
/* ------------------------------------------------------------------ */

#define MAX_RUNNING 4

#define MAX_FROZEN 64

/* What the signal handler needs, copied so it calls nothing unsafe. */
static struct {
    pg_server *pg;
    pid_t pid;
    char dir[256];
    pid_t frozen[MAX_FROZEN];   /* stopped by pg_freeze(): to be continued */
    int nfrozen;
} running[MAX_RUNNING];

static int keep_tmp;
static harness_signals previous_handlers;

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(const char *dir)
{
    if (keep_tmp) {
        fprintf(stderr, "pg_harness: kept %s\n", dir);
    }
    else {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/*
 * On SIGINT/SIGTERM/SIGHUP: fast shutdown of every server (SIGKILL after
 * KILL_WAIT_MS), their folders removed with rm (nftw is not
 * async-signal-safe), then whatever handled the signal before us (the
 * default: the test dies of it).
 */
static void on_signal(int sig)
{
    int i, j;

    for (i = 0; i < MAX_RUNNING; i++) {
        pid_t pid = running[i].pid, rm = -1;
        long waited;

        if (running[i].pg == NULL) {
            continue;
        }
        for (j = 0; j < running[i].nfrozen; j++) {
            kill(running[i].frozen[j], SIGCONT);
        }
        if (pid > 0) {
            kill(pid, SIGINT);
            for (waited = 0; waited < KILL_WAIT_MS && !reaped(pid); waited += POLL_MS) {
                sleep_ms(POLL_MS);
            }
            kill(pid, SIGKILL);
            waitpid(pid, NULL, WNOHANG);
        }
        if (!keep_tmp && running[i].dir[0]) {
            rm = fork();
        }
        if (rm == 0) {
            char *argv[] = { "rm", "-rf", running[i].dir, NULL };
            char *envp[] = { NULL };
            execve("/bin/rm", argv, envp);
            _exit(127);
        }
        if (rm > 0) {
            waitpid(rm, NULL, 0);
        }
    }
    harness_chain_signal(&previous_handlers, sig);
}

static void on_exit_free_all(void)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i].pg) {
            pg_free(running[i].pg);
        }
    }
}

static int remember(pg_server *pg)
{
    static int handlers_installed;
    int i;

    if (!handlers_installed) {
        keep_tmp = getenv("MINILINK_KEEP_TMP") != NULL;
        harness_catch_signals(on_signal, &previous_handlers);
        atexit(on_exit_free_all);
        handlers_installed = 1;
    }
    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i].pg == NULL) {
            running[i].pid = 0;
            running[i].nfrozen = 0;
            snprintf(running[i].dir, sizeof running[i].dir, "%s", pg->dir);
            running[i].pg = pg;
            return 0;
        }
    }
    fprintf(stderr, "pg_harness: more than %d servers at once\n", MAX_RUNNING);
    return -1;
}

static void set_running_pid(const pg_server *pg, pid_t pid)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i].pg == pg) {
            running[i].pid = pid;
        }
    }
}

static void forget(const pg_server *pg)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i].pg == pg) {
            running[i].pg = NULL;
            running[i].pid = 0;
            running[i].dir[0] = '\0';
            running[i].nfrozen = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* the server                                                         */
/* ------------------------------------------------------------------ */

/* Written after initdb's postgresql.conf; the later setting wins. */
static char *config_text(const pg_server *pg)
{
    return xasprintf(
        "\n# added by tests/integration/pg_harness.c\n"
        "listen_addresses = '127.0.0.1'\n"
        "port = %d\n"
        "unix_socket_directories = '%s'\n"
        "unix_socket_permissions = 0700\n"
        "password_encryption = 'scram-sha-256'\n"
        "logging_collector = off\n"
        "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
        "# a test's data need not survive a crash of the machine\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n",
        pg->port, pg->dir);
}

/* Passwords over TCP, from 127.0.0.1 only; the superuser over the socket. */
static const char hba_text[] =
    "# written by tests/integration/pg_harness.c\n"
    "local all all                trust\n"
    "host  all all 127.0.0.1/32   scram-sha-256\n";

pg_server *pg_new(void)
{
    pg_server *pg = calloc(1, sizeof *pg);
    char template[] = "/tmp/minilink-pg-XXXXXX";
    char *initdb = NULL, *output = NULL, *conf = NULL, *hba = NULL, *text = NULL;
    int rc;

    if (pg == NULL) {
        abort();
    }
    pg->bin_dir = find_bin_dir(&pg->version);
    if (pg->bin_dir == NULL) {
        fprintf(stderr, "pg_harness: PostgreSQL is not installed: no "
                        "/usr/lib/postgresql/<version>/bin with postgres, initdb, "
                        "pg_ctl and psql%s (Debian: apt-get install postgresql)\n",
                getenv("MINILINK_PG_BIN") ? " (nor in $MINILINK_PG_BIN)" : "");
        free(pg->version);
        free(pg);
        return NULL;
    }
    if (mkdtemp(template) == NULL) {
        fprintf(stderr, "pg_harness: mkdtemp: %s\n", strerror(errno));
        free(pg->bin_dir);
        free(pg->version);
        free(pg);
        return NULL;
    }
    pg->dir = xstrdup(template);
    pg->data_dir = xasprintf("%s/data", pg->dir);
    pg->log = xasprintf("%s/postgres.log", pg->dir);
    pg->port = free_port();
    choose_user(pg);
    if (remember(pg) != 0) {
        goto fail;
    }
    if (pg->port <= 0 || chmod(pg->dir, 0700) != 0
        || (geteuid() == 0 && chown(pg->dir, pg->uid, pg->gid) != 0)) {
        fprintf(stderr, "pg_harness: cannot prepare %s for %s (port %d): %s\n",
                pg->dir, pg->user, pg->port, strerror(errno));
        goto fail;
    }

    initdb = tool(pg, "initdb");
    {
        char *argv[] = { initdb, "-D", pg->data_dir, "-U", "postgres",
                         "--auth-local=trust", "--auth-host=scram-sha-256",
                         "-E", "UTF8", "--locale=C", "--no-sync", NULL };
        rc = run_as_user(pg, argv, &output);
    }
    if (rc != 0) {
        fprintf(stderr, "pg_harness: %s -D %s as %s exited %d:\n%s\n", initdb,
                pg->data_dir, pg->user, rc, output ? output : "");
        goto fail;
    }
    conf = xasprintf("%s/postgresql.conf", pg->data_dir);
    hba = xasprintf("%s/pg_hba.conf", pg->data_dir);
    text = config_text(pg);
    if (append_file(conf, text) != 0 || write_file(hba, hba_text, strlen(hba_text)) != 0
        || (geteuid() == 0 && chown(hba, pg->uid, pg->gid) != 0)) {
        fprintf(stderr, "pg_harness: cannot write %s or %s\n", conf, hba);
        goto fail;
    }
    free(initdb);
    free(output);
    free(conf);
    free(hba);
    free(text);
    return pg;

fail:
    free(initdb);
    free(output);
    free(conf);
    free(hba);
    free(text);
    pg_free(pg);
    return NULL;
}

/* True once the postmaster says it is ready: line 8 of postmaster.pid, as
 * pg_ctl -w reads it. */
static int postmaster_ready(const pg_server *pg)
{
    char *path = xasprintf("%s/postmaster.pid", pg->data_dir);
    char *text = file_read(path), *line = text;
    int i, ready;

    for (i = 1; i < 8 && line; i++) {
        line = strchr(line, '\n');
        if (line) {
            line++;
        }
    }
    ready = line && strncmp(line, "ready", 5) == 0;
    free(text);
    free(path);
    return ready;
}

int pg_start(pg_server *pg)
{
    char *postgres = tool(pg, "postgres");
    char *argv[] = { postgres, "-D", pg->data_dir, NULL };
    pid_t parent = getpid(), pid;
    child_env env;
    long deadline;

    if (pg->pid > 0) {
        free(postgres);
        return 0;
    }
    child_env_make(pg, &env);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "pg_harness: fork: %s\n", strerror(errno));
        free(postgres);
        free(env.home);
        return -1;
    }
    if (pid == 0) {
        int fd = open(pg->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);

        setpgid(0, 0);   /* ^C in a terminal is the test's to handle */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (null >= 0) {
            dup2(null, 0);
        }
        become_user(pg);
        /* After setuid, which clears it: the server goes when the test
         * goes, however it goes (SIGQUIT: immediate shutdown). */
        prctl(PR_SET_PDEATHSIG, SIGQUIT);
        if (getppid() != parent) {
            _exit(127);
        }
        execve(postgres, argv, env.vars);
        _exit(127);
    }
    free(env.home);
    pg->pid = pid;
    set_running_pid(pg, pid);

    deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        if (reaped(pid)) {
            pg->pid = 0;
            set_running_pid(pg, 0);
            fprintf(stderr, "pg_harness: %s -D %s exited during startup\n",
                    postgres, pg->data_dir);
            pg_log_dump(pg);
            free(postgres);
            return -1;
        }
        if (postmaster_ready(pg) && port_accepts(pg->port)) {
            free(postgres);
            return 0;
        }
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "pg_harness: PostgreSQL not ready on port %d within %d ms\n",
            pg->port, START_TIMEOUT_MS);
    pg_log_dump(pg);
    pg_stop(pg);
    free(postgres);
    return -1;
}

int pg_stop(pg_server *pg)
{
    char *pg_ctl, *output = NULL, *timeout;
    int rc, clean;

    if (pg->pid <= 0) {
        return 0;
    }
    pg_freeze(pg, 0);   /* a frozen server would never stop */
    pg_ctl = tool(pg, "pg_ctl");
    timeout = xasprintf("%d", STOP_TIMEOUT_MS / 1000);
    {
        char *argv[] = { pg_ctl, "stop", "-D", pg->data_dir, "-m", "fast", "-w",
                         "-t", timeout, NULL };
        rc = run_as_user(pg, argv, &output);
    }
    /* pg_ctl returns when postmaster.pid is gone: the exit follows. */
    clean = rc == 0 && wait_exit(pg->pid, KILL_WAIT_MS);
    if (!clean) {
        fprintf(stderr, "pg_harness: pg_ctl stop -m fast exited %d (%s); "
                        "killing the postmaster %d\n", rc, output ? output : "",
                (int)pg->pid);
        kill(pg->pid, SIGQUIT);
        if (!wait_exit(pg->pid, KILL_WAIT_MS)) {
            kill(pg->pid, SIGKILL);
            waitpid(pg->pid, NULL, 0);
        }
    }
    pg->pid = 0;
    set_running_pid(pg, 0);
    free(pg_ctl);
    free(timeout);
    free(output);
    return clean ? 0 : -1;
}

/* Remembers a stopped process for the signal handler (frozen), or
 * forgets them all (thawed). */
static void note_frozen(const pg_server *pg, pid_t pid, int frozen)
{
    int i;

    for (i = 0; i < MAX_RUNNING; i++) {
        if (running[i].pg != pg) {
            continue;
        }
        if (!frozen) {
            running[i].nfrozen = 0;
        }
        else if (running[i].nfrozen < MAX_FROZEN) {
            running[i].frozen[running[i].nfrozen++] = pid;
        }
    }
}

int pg_freeze(pg_server *pg, int frozen)
{
    int sig = frozen ? SIGSTOP : SIGCONT, n = 0;
    DIR *proc;
    struct dirent *de;

    if (pg->pid <= 0) {
        return -1;
    }
    /* The children first when freezing, so none notices the postmaster
     * stop answering; the postmaster first when thawing. */
    if (!frozen && kill(pg->pid, sig) == 0) {
        n++;
    }
    if ((proc = opendir("/proc")) != NULL) {
        while ((de = readdir(proc)) != NULL) {
            pid_t pid = (pid_t)atoi(de->d_name);

            if (pid > 0 && process_parent(pid) == pg->pid && kill(pid, sig) == 0) {
                note_frozen(pg, pid, frozen);
                n++;
            }
        }
        closedir(proc);
    }
    if (frozen && kill(pg->pid, sig) == 0) {
        note_frozen(pg, pg->pid, frozen);
        n++;
    }
    if (!frozen) {
        note_frozen(pg, 0, 0);
    }
    return n;
}

void pg_free(pg_server *pg)
{
    if (pg == NULL) {
        return;
    }
    pg_stop(pg);
    if (pg->dir) {
        remove_dir(pg->dir);
    }
    forget(pg);
    free(pg->user);
    free(pg->dir);
    free(pg->data_dir);
    free(pg->log);
    free(pg->bin_dir);
    free(pg->version);
    free(pg);
}

int pg_psql(const pg_server *pg, const char *dbname, const char *sql,
            char **output)
{
    char *psql = tool(pg, "psql"), *port = xasprintf("%d", pg->port);
    char *argv[] = { psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                     "-h", pg->dir, "-p", port, "-U", "postgres", "-d",
                     (char *)dbname, "-c", (char *)sql, NULL };
    int rc = run_as_user(pg, argv, output);

    free(psql);
    free(port);
    return rc;
}

int pg_create_user_database(const pg_server *pg, const char *role,
                            const char *password, const char *dbname)
{
    /* Two commands: CREATE DATABASE cannot share a transaction. */
    char *sql[2];
    int i, rc = 0;

    sql[0] = xasprintf("CREATE ROLE \"%s\" LOGIN PASSWORD '%s'", role, password);
    sql[1] = xasprintf("CREATE DATABASE \"%s\" OWNER \"%s\" ENCODING 'UTF8'",
                       dbname, role);
    for (i = 0; i < 2 && rc == 0; i++) {
        char *output = NULL;

        rc = pg_psql(pg, "postgres", sql[i], &output);
        if (rc != 0) {
            fprintf(stderr, "pg_harness: psql exited %d on: %s\n%s\n", rc,
                    i == 0 ? "CREATE ROLE" : sql[i], output ? output : "");
        }
        free(output);
    }
    free(sql[0]);
    free(sql[1]);
    return rc == 0 ? 0 : -1;
}

char *pg_log_read(const pg_server *pg)
{
    return file_read(pg->log);
}

void pg_log_dump(const pg_server *pg)
{
    char *log = pg_log_read(pg);

    fprintf(stderr, "---- %s ----\n%s---- end of PostgreSQL log ----\n", pg->log, log);
    free(log);
}
