/*
 * pg_harness.c - run a throw-away PostgreSQL server for a test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* A fixed environment for PostgreSQL's programs: no PG* variables of the
 * caller's (PGHOST, PGPASSWORD...) leak in, and no locale it may lack. */
static char *pg_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", NULL };

/* True if pid (our child) has exited; it is reaped. */
static int reaped(pid_t pid)
{
    pid_t got = waitpid(pid, NULL, WNOHANG);

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

static int has_tools(const char *bin_dir)
{
    static const char *const tools[] = { "postgres", "initdb", "pg_ctl", "psql" };
    size_t i;
    int ok = 1;

    for (i = 0; ok && i < sizeof tools / sizeof *tools; i++) {
        char *path = xasprintf("%s/%s", bin_dir, tools[i]);
        ok = access(path, X_OK) == 0;
        free(path);
    }
    return ok;
}

/* The newest /usr/lib/postgresql/<version>/bin with every tool, or
 * $MINILINK_PG_BIN; *version gets <version> (or "?").  NULL if none. */
static char *find_bin_dir(char **version)
{
    const char *env = getenv("MINILINK_PG_BIN");
    DIR *dir = env && *env ? NULL : opendir("/usr/lib/postgresql");
    struct dirent *de;
    char *best = NULL;
    double best_version = -1;

    if (env && *env) {
        *version = xstrdup("?");
        return has_tools(env) ? xstrdup(env) : NULL;
    }
    while (dir && (de = readdir(dir)) != NULL) {
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
    if (dir) {
        closedir(dir);
    }
    return best;
}

/* PostgreSQL refuses root: then the "postgres" account (else nobody). */
static void choose_user(pg_server *pg)
{
    struct passwd *pw = geteuid() != 0 ? getpwuid(getuid()) : getpwnam("postgres");

    pw = pw || geteuid() != 0 ? pw : getpwnam("nobody");
    pg->user = xstrdup(pw ? pw->pw_name : "(unknown)");
    pg->uid = pw ? pw->pw_uid : geteuid() != 0 ? getuid() : 65534;
    pg->gid = pw ? pw->pw_gid : geteuid() != 0 ? getgid() : 65534;
}

/* Runs one of PostgreSQL's tools as the server's account, in its folder;
 * the exit status, the output to *output unless NULL. */
static int run_tool(const pg_server *pg, const char *tool, char **args, char **output)
{
    char *argv[24];
    run_spec spec = { argv, 1, pg->uid, pg->gid, pg->dir, pg_env, NULL, 0 };
    run_result res;
    int i;

    argv[0] = xasprintf("%s/%s", pg->bin_dir, tool);
    for (i = 0; args[i] && i < 22; i++) {
        argv[i + 1] = args[i];
    }
    argv[i + 1] = NULL;
    res = run_captured(&spec);
    free(argv[0]);
    if (output) {
        *output = res.output;
    }
    else {
        free(res.output);
    }
    return res.status;
}

/* ------------------------------------------------------------------ */
/* stopped and removed when the run exits or is killed                */
/* ------------------------------------------------------------------ */

static int keep_tmp;   /* MINILINK_KEEP_TMP, read before any signal */

/*
 * On a signal: thaw what was frozen, fast shutdown (SIGKILL after
 * KILL_WAIT_MS), the folder removed with rm (nftw is not
 * async-signal-safe).
 */
static void stop_on_signal(void *obj)
{
    pg_server *pg = obj;
    long waited;
    pid_t rm = -1;
    int i;

    for (i = 0; i < pg->nfrozen; i++) {
        kill(pg->frozen[i], SIGCONT);
    }
    if (pg->pid > 0) {
        kill(pg->pid, SIGINT);
        for (waited = 0; waited < KILL_WAIT_MS && !reaped(pg->pid); waited += POLL_MS) {
            sleep_ms(POLL_MS);
        }
        kill(pg->pid, SIGKILL);
        waitpid(pg->pid, NULL, WNOHANG);
    }
    if (!keep_tmp && (rm = fork()) == 0) {
        char *argv[] = { "rm", "-rf", pg->dir, NULL };
        char *envp[] = { NULL };
        execve("/bin/rm", argv, envp);
        _exit(127);
    }
    if (rm > 0) {
        waitpid(rm, NULL, 0);
    }
}

static void free_at_exit(void *obj)
{
    pg_free(obj);
}

/* ------------------------------------------------------------------ */
/* the server                                                         */
/* ------------------------------------------------------------------ */

/* Written after initdb's postgresql.conf; the later setting wins. */
static char *config_text(const pg_server *pg)
{
    return xasprintf(
        "\n# added by tests/integration/pg_harness.c\n"
        "listen_addresses = '127.0.0.1'\nport = %d\n"
        "unix_socket_directories = '%s'\nunix_socket_permissions = 0700\n"
        "password_encryption = 'scram-sha-256'\nlogging_collector = off\n"
        "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
        "# a test's data need not survive a crash of the machine\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
        pg->port, pg->dir);
}

/* Passwords over TCP, from 127.0.0.1 only; the superuser over the socket. */
static const char hba_text[] =
    "# written by tests/integration/pg_harness.c\n"
    "local all all                trust\n"
    "host  all all 127.0.0.1/32   scram-sha-256\n";

pg_server *pg_new(void)
{
    pg_server *pg = xrealloc(NULL, sizeof *pg);
    char template[] = "/tmp/minilink-pg-XXXXXX";
    char *output = NULL, *conf = NULL, *hba = NULL, *text = NULL;
    FILE *appended = NULL;
    int rc;

    memset(pg, 0, sizeof *pg);
    if ((pg->bin_dir = find_bin_dir(&pg->version)) == NULL) {
        fprintf(stderr, "pg_harness: PostgreSQL is not installed: no "
                "/usr/lib/postgresql/<version>/bin with postgres, initdb, pg_ctl and "
                "psql%s (Debian: apt-get install postgresql)\n",
                getenv("MINILINK_PG_BIN") ? " (nor in $MINILINK_PG_BIN)" : "");
        pg_free(pg);
        return NULL;
    }
    if (mkdtemp(template) == NULL) {
        fprintf(stderr, "pg_harness: mkdtemp: %s\n", strerror(errno));
        pg_free(pg);
        return NULL;
    }
    pg->dir = xstrdup(template);
    pg->data_dir = xasprintf("%s/data", pg->dir);
    pg->log = xasprintf("%s/postgres.log", pg->dir);
    pg->port = free_port();
    choose_user(pg);
    keep_tmp = getenv("MINILINK_KEEP_TMP") != NULL;
    cleanup_register(stop_on_signal, free_at_exit, pg);
    if (pg->port <= 0 || chmod(pg->dir, 0700) != 0
        || (geteuid() == 0 && chown(pg->dir, pg->uid, pg->gid) != 0)) {
        fprintf(stderr, "pg_harness: cannot prepare %s for %s (port %d): %s\n", pg->dir,
                pg->user, pg->port, strerror(errno));
        pg_free(pg);
        return NULL;
    }
    {
        char *args[] = { "-D", pg->data_dir, "-U", "postgres", "--auth-local=trust",
                         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                         "--no-sync", NULL };
        rc = run_tool(pg, "initdb", args, &output);
    }
    conf = xasprintf("%s/postgresql.conf", pg->data_dir);
    hba = xasprintf("%s/pg_hba.conf", pg->data_dir);
    text = config_text(pg);
    if (rc != 0) {
        fprintf(stderr, "pg_harness: initdb -D %s as %s exited %d:\n%s\n", pg->data_dir,
                pg->user, rc, output);
    }
    else if (write_file(hba, hba_text, strlen(hba_text)) != 0
             || (geteuid() == 0 && chown(hba, pg->uid, pg->gid) != 0)
             || (appended = fopen(conf, "ab")) == NULL || fputs(text, appended) < 0) {
        fprintf(stderr, "pg_harness: cannot write %s or %s\n", hba, conf);
        rc = -1;
    }
    if (appended && fclose(appended) != 0) {
        rc = -1;
    }
    free(output);
    free(conf);
    free(hba);
    free(text);
    if (rc != 0) {
        pg_free(pg);
        return NULL;
    }
    return pg;
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
        line = line ? line + 1 : NULL;
    }
    ready = line && strncmp(line, "ready", 5) == 0;
    free(text);
    free(path);
    return ready;
}

/* In the child: the server's account, its log, its own process group (^C
 * in a terminal is the test's to handle), SIGQUIT (immediate shutdown) if
 * the test dies however it dies. */
static void exec_postgres(const pg_server *pg, char *postgres, pid_t parent)
{
    char *argv[] = { postgres, "-D", pg->data_dir, NULL };
    int fd = open(pg->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    gid_t gid = pg->gid;

    setpgid(0, 0);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    if (null >= 0) {
        dup2(null, 0);
    }
    if ((geteuid() == 0 && (setgroups(1, &gid) != 0 || setgid(pg->gid) != 0
                            || setuid(pg->uid) != 0)) || chdir(pg->dir) != 0) {
        _exit(126);
    }
    prctl(PR_SET_PDEATHSIG, SIGQUIT);   /* after setuid, which clears it */
    if (getppid() != parent) {
        _exit(127);
    }
    execve(postgres, argv, pg_env);
    _exit(127);
}

int pg_start(pg_server *pg)
{
    char *postgres = xasprintf("%s/postgres", pg->bin_dir);
    pid_t parent = getpid(), pid;
    long deadline = now_ms() + START_TIMEOUT_MS;
    int rc = -1;

    if (pg->pid > 0) {
        free(postgres);
        return 0;
    }
    fflush(NULL);
    if ((pid = fork()) == 0) {
        exec_postgres(pg, postgres, parent);
    }
    pg->pid = pid > 0 ? pid : 0;
    while (pid > 0 && rc != 0 && now_ms() < deadline) {
        if (reaped(pid)) {
            pg->pid = 0;
            fprintf(stderr, "pg_harness: %s -D %s exited during startup\n", postgres,
                    pg->data_dir);
            break;
        }
        rc = postmaster_ready(pg) && port_accepts(pg->port) ? 0 : -1;
        if (rc != 0) {
            sleep_ms(POLL_MS);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "pg_harness: PostgreSQL not ready on port %d within %d ms\n",
                pg->port, START_TIMEOUT_MS);
        pg_log_dump(pg);
        pg_stop(pg);
    }
    free(postgres);
    return rc;
}

int pg_stop(pg_server *pg)
{
    char *output = NULL, *timeout = xasprintf("%d", STOP_TIMEOUT_MS / 1000);
    char *args[] = { "stop", "-D", pg->data_dir, "-m", "fast", "-w", "-t", timeout, NULL };
    int rc, clean;

    if (pg->pid <= 0) {
        free(timeout);
        return 0;
    }
    pg_freeze(pg, 0);   /* a frozen server would never stop */
    rc = run_tool(pg, "pg_ctl", args, &output);
    /* pg_ctl returns when postmaster.pid is gone: the exit follows. */
    clean = rc == 0 && wait_exit(pg->pid, KILL_WAIT_MS);
    if (!clean) {
        fprintf(stderr, "pg_harness: pg_ctl stop -m fast exited %d (%s); killing the "
                "postmaster %d\n", rc, output, (int)pg->pid);
        kill(pg->pid, SIGQUIT);
        if (!wait_exit(pg->pid, KILL_WAIT_MS)) {
            kill(pg->pid, SIGKILL);
            waitpid(pg->pid, NULL, 0);
        }
    }
    pg->pid = 0;
    free(timeout);
    free(output);
    return clean ? 0 : -1;
}

int pg_freeze(pg_server *pg, int frozen)
{
    pid_t children[64];
    int n, i, count = 0;

    if (pg->pid <= 0) {
        return -1;
    }
    /* The children first when freezing, so none notices the postmaster
     * stop answering; the postmaster first when thawing. */
    pg->nfrozen = 0;
    if (!frozen) {
        count += kill(pg->pid, SIGCONT) == 0;
    }
    n = proc_scan(NULL, pg->pid, children, 63);
    for (i = 0; i < n && i < 63; i++) {
        if (kill(children[i], frozen ? SIGSTOP : SIGCONT) == 0) {
            count++;
            if (frozen) {
                pg->frozen[pg->nfrozen++] = children[i];
            }
        }
    }
    if (frozen && kill(pg->pid, SIGSTOP) == 0) {
        pg->frozen[pg->nfrozen++] = pg->pid;
        count++;
    }
    return count;
}

void pg_free(pg_server *pg)
{
    if (pg == NULL) {
        return;
    }
    pg_stop(pg);
    if (pg->dir && keep_tmp) {
        fprintf(stderr, "pg_harness: kept %s\n", pg->dir);
    }
    else if (pg->dir) {
        remove_tree(pg->dir);
    }
    cleanup_forget(pg);
    free(pg->user);
    free(pg->dir);
    free(pg->data_dir);
    free(pg->log);
    free(pg->bin_dir);
    free(pg->version);
    free(pg);
}

int pg_psql(const pg_server *pg, const char *dbname, const char *sql, char **output)
{
    char *port = xasprintf("%d", pg->port);
    char *args[] = { "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg->dir,
                     "-p", port, "-U", "postgres", "-d", (char *)dbname, "-c",
                     (char *)sql, NULL };
    int rc = run_tool(pg, "psql", args, output);

    free(port);
    return rc;
}

int pg_create_user_database(const pg_server *pg, const char *role, const char *password,
                            const char *dbname)
{
    /* Two commands: CREATE DATABASE cannot share a transaction. */
    char *sql[2];
    int i, rc = 0;

    sql[0] = xasprintf("CREATE ROLE \"%s\" LOGIN PASSWORD '%s'", role, password);
    sql[1] = xasprintf("CREATE DATABASE \"%s\" OWNER \"%s\" ENCODING 'UTF8'", dbname, role);
    for (i = 0; i < 2 && rc == 0; i++) {
        char *output = NULL;

        if ((rc = pg_psql(pg, "postgres", sql[i], &output)) != 0) {
            fprintf(stderr, "pg_harness: psql exited %d on: %s\n%s\n", rc,
                    i == 0 ? "CREATE ROLE" : sql[i], output);
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
