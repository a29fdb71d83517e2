/*
 * pg_harness.c - run a throw-away PostgreSQL server for a test.
 */
#include <glob.h>
#include <pwd.h>
#include <sys/wait.h>

#include "harness.h"
#include "pg_harness.h"

#define START_TIMEOUT_MS 30000   /* a loaded 2-core machine, first start */
#define STOP_TIMEOUT_MS  30000
#define KILL_WAIT_MS     5000
#define POLL_MS          50

/* A fixed environment for PostgreSQL's programs: no PG* variables of the caller's (PGHOST,
 * PGPASSWORD...) leak in, and no locale it may lack. */
static char *pg_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", NULL };

static int has_tools(const char *bin_dir)
{
    static const char *const tools[] = { "postgres", "initdb", "pg_ctl", "psql" };
    size_t i;
    int ok = 1;

    for (i = 0; ok && i < sizeof tools / sizeof *tools; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", bin_dir, tools[i]);
        ok = access(path, X_OK) == 0;
    }
    return ok;
}

/* $MINILINK_PG_BIN (version "?"), else the newest /usr/lib/postgresql/<version>/bin with every
 * tool.  0, or -1 if there is none. */
static int find_bin_dir(pg_server *pg)
{
    const char *env = getenv("MINILINK_PG_BIN");
    glob_t found;
    double newest = -1;
    size_t i;

    if (env && *env) {
        snprintf(pg->bin_dir, sizeof pg->bin_dir, "%s", env);
        snprintf(pg->version, sizeof pg->version, "?");
        return has_tools(env) ? 0 : -1;
    }
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &found) != 0) {
        return -1;
    }
    for (i = 0; i < found.gl_pathc; i++) {
        const char *dir = found.gl_pathv[i], *version = dir + 20;   /* "15", or "9.6" long ago */
        if (strtod(version, NULL) > newest && has_tools(dir)) {
            newest = strtod(version, NULL);
            snprintf(pg->bin_dir, sizeof pg->bin_dir, "%s", dir);
            snprintf(pg->version, sizeof pg->version, "%.*s", (int)strcspn(version, "/"), version);
        }
    }
    globfree(&found);
    return newest >= 0 ? 0 : -1;
}

/* PostgreSQL refuses root: then the "postgres" account (else nobody). */
static void choose_user(pg_server *pg)
{
    struct passwd *pw = geteuid() != 0 ? getpwuid(getuid()) : getpwnam("postgres");
    pw = pw || geteuid() != 0 ? pw : getpwnam("nobody");
    snprintf(pg->user, sizeof pg->user, "%s", pw ? pw->pw_name : "(unknown)");
    pg->uid = pw ? pw->pw_uid : geteuid() != 0 ? getuid() : 65534;
    pg->gid = pw ? pw->pw_gid : geteuid() != 0 ? getgid() : 65534;
}

/* Runs one of PostgreSQL's tools as the server's account, in its folder; the exit status, the
 * output to *output unless NULL. */
static int run_tool(const pg_server *pg, const char *tool, char **args, char **output)
{
    char path[300], *argv[24] = { path };
    run_spec spec = { argv, 1, pg->uid, pg->gid, pg->dir, pg_env, 0, 0, 0 };
    int i;

    snprintf(path, sizeof path, "%s/%s", pg->bin_dir, tool);
    for (i = 0; args[i] && i < 22; i++) {
        argv[i + 1] = args[i];
    }
    return run_program(&spec, output);
}

/* ---- stopped and removed when the run exits or is killed ------------ */

static int keep_tmp;   /* MINILINK_KEEP_TMP, read before any signal */

/* On a signal: thaw what was frozen, fast shutdown (SIGKILL after KILL_WAIT_MS), the folder
 * removed with rm (nftw is not async-signal-safe). */
static void stop_on_signal(void *obj)
{
    pg_server *pg = obj;
    pid_t rm = -1;
    int i;

    for (i = 0; i < pg->nfrozen; i++) {
        kill(pg->frozen[i], SIGCONT);
    }
    if (pg->pid > 0) {
        kill(pg->pid, SIGINT);
        wait_exited(pg->pid, KILL_WAIT_MS);
        kill(pg->pid, SIGKILL);
        waitpid(pg->pid, NULL, 0);
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

/* ---- the server ----------------------------------------------------- */

pg_server *pg_new(void)
{
    pg_server *pg = xrealloc(NULL, sizeof *pg);
    char *output = NULL;
    /* Passwords over TCP (which listens on 127.0.0.1 only); the superuser over the socket. */
    char *args[] = { "-D", NULL, "-U", "postgres", "--auth-local=trust",
                     "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", NULL };
    int rc = -1;

    memset(pg, 0, sizeof *pg);
    if (find_bin_dir(pg) != 0) {
        fprintf(stderr, "pg_harness: PostgreSQL is not installed: no /usr/lib/postgresql/<version>"
                "/bin with postgres, initdb, pg_ctl and psql%s (Debian: apt-get install "
                "postgresql)\n", getenv("MINILINK_PG_BIN") ? " (nor in $MINILINK_PG_BIN)" : "");
    }
    else if (mkdtemp(strcpy(pg->dir, "/tmp/minilink-pg-XXXXXX")) == NULL) {
        fprintf(stderr, "pg_harness: mkdtemp: %s\n", strerror(errno));
        pg->dir[0] = '\0';
    }
    else {
        snprintf(pg->data_dir, sizeof pg->data_dir, "%s/data", pg->dir);
        snprintf(pg->log, sizeof pg->log, "%s/postgres.log", pg->dir);
        args[1] = pg->data_dir;
        pg->port = free_port();
        choose_user(pg);
        keep_tmp = getenv("MINILINK_KEEP_TMP") != NULL;
        cleanup_register(stop_on_signal, free_at_exit, pg);
        if (pg->port <= 0 || chmod(pg->dir, 0700) != 0
            || (geteuid() == 0 && chown(pg->dir, pg->uid, pg->gid) != 0)) {
            fprintf(stderr, "pg_harness: cannot prepare %s for %s (port %d): %s\n", pg->dir,
                    pg->user, pg->port, strerror(errno));
        }
        else if ((rc = run_tool(pg, "initdb", args, &output)) != 0) {
            fprintf(stderr, "pg_harness: initdb -D %s as %s exited %d:\n%s\n", pg->data_dir,
                    pg->user, rc, output);
        }
    }
    free(output);
    if (rc != 0) {
        pg_free(pg);
        return NULL;
    }
    return pg;
}

/* True once the postmaster says it is ready: line 8 of postmaster.pid, as pg_ctl -w reads it. */
static int postmaster_ready(const pg_server *pg)
{
    char path[64], *text, *line;
    int i, ready;

    snprintf(path, sizeof path, "%s/postmaster.pid", pg->data_dir);
    text = line = file_read(path);

    for (i = 1; i < 8 && line; i++) {
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    ready = line && strncmp(line, "ready", 5) == 0;
    free(text);
    return ready;
}

/* The server's account, its own process group (^C in a terminal is the test's to handle), SIGQUIT
 * (immediate shutdown) if the test dies however it dies. */
int pg_start(pg_server *pg)
{
    char postgres[300], port[32], sockets[64];
    /* A test's data need not survive a crash of the machine. */
    char *argv[] = { postgres, "-D", pg->data_dir, "-c", "listen_addresses=127.0.0.1", "-c", port,
                     "-c", sockets, "-c", "unix_socket_permissions=0700",
                     "-c", "password_encryption=scram-sha-256",
                     "-c", "log_line_prefix=%m [%p] %q%u@%d ",
                     "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", NULL };
    run_spec spec = { argv, 1, pg->uid, pg->gid, pg->dir, pg_env, 0, 1, SIGQUIT };
    int fd;

    if (pg->pid > 0) {
        return 0;
    }
    snprintf(postgres, sizeof postgres, "%s/postgres", pg->bin_dir);
    snprintf(port, sizeof port, "port=%d", pg->port);
    snprintf(sockets, sizeof sockets, "unix_socket_directories=%s", pg->dir);
    if ((fd = open(pg->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
        pid_t pid = run_spawn(&spec, fd);
        pg->pid = pid > 0 ? pid : 0;
        close(fd);
    }
    POLL_UNTIL(pg->pid <= 0 || wait_exited(pg->pid, 0)
               || (postmaster_ready(pg) && port_accepts(pg->port)), START_TIMEOUT_MS, POLL_MS);
    if (pg->pid > 0 && !wait_exited(pg->pid, 0) && postmaster_ready(pg)) {
        return 0;
    }
    fprintf(stderr, "pg_harness: PostgreSQL (%s -D %s) not ready on port %d within %d ms\n",
            postgres, pg->data_dir, pg->port, START_TIMEOUT_MS);
    pg_log_dump(pg);
    pg_stop(pg);
    return -1;
}

int pg_stop(pg_server *pg)
{
    char *output = NULL, timeout[16];
    char *args[] = { "stop", "-D", pg->data_dir, "-m", "fast", "-w", "-t", timeout, NULL };
    int rc, clean;

    if (pg->pid <= 0) {
        return 0;
    }
    snprintf(timeout, sizeof timeout, "%d", STOP_TIMEOUT_MS / 1000);
    pg_freeze(pg, 0);   /* a frozen server would never stop */
    rc = run_tool(pg, "pg_ctl", args, &output);
    /* pg_ctl returns when postmaster.pid is gone: the exit follows. */
    clean = rc == 0 && wait_exited(pg->pid, KILL_WAIT_MS);
    if (!clean) {
        fprintf(stderr, "pg_harness: pg_ctl stop -m fast exited %d (%s); killing the "
                "postmaster %d\n", rc, output, (int)pg->pid);
        kill(pg->pid, SIGQUIT);
        if (!wait_exited(pg->pid, KILL_WAIT_MS)) {
            kill(pg->pid, SIGKILL);
        }
    }
    waitpid(pg->pid, NULL, 0);
    pg->pid = 0;
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
    /* The children first when freezing, so none notices the postmaster stop answering; the
     * postmaster first when thawing. */
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
    if (pg->dir[0] && keep_tmp) {
        fprintf(stderr, "pg_harness: kept %s\n", pg->dir);
    }
    else if (pg->dir[0]) {
        remove_tree(pg->dir);
    }
    cleanup_forget(pg);
    free(pg);
}

/* psql as the superuser over the unix socket; the two commands in two transactions (CREATE
 * DATABASE cannot share one). */
int pg_create_user_database(const pg_server *pg, const char *role, const char *password,
                            const char *dbname)
{
    char *port = xasprintf("%d", pg->port), *output = NULL;
    char *create_role = xasprintf("CREATE ROLE \"%s\" LOGIN PASSWORD '%s'", role, password);
    char *create_db = xasprintf("CREATE DATABASE \"%s\" OWNER \"%s\" ENCODING 'UTF8'", dbname,
                                role);
    char *args[] = { "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", (char *)pg->dir, "-p", port,
                     "-U", "postgres", "-d", "postgres", "-c", create_role, "-c", create_db, NULL };
    int rc = run_tool(pg, "psql", args, &output);

    if (rc != 0) {
        fprintf(stderr, "pg_harness: psql (CREATE ROLE %s, CREATE DATABASE %s) exited %d:\n%s\n",
                role, dbname, rc, output);
    }
    free(port);
    free(output);
    free(create_role);
    free(create_db);
    return rc == 0 ? 0 : -1;
}

int pg_psql(const pg_server *pg, const char *role, const char *dbname, const char *sql,
            const char *file, char **output)
{
    char *port = xasprintf("%d", pg->port), *out = NULL;
    char *args[] = { "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", (char *)pg->dir,
                     "-p", port, "-U", (char *)role, "-d", (char *)dbname,
                     sql ? "-c" : "-f", (char *)(sql ? sql : file), NULL };
    int rc = run_tool(pg, "psql", args, &out);

    free(port);
    if (output) {
        *output = out;
    }
    else {
        free(out);
    }
    return rc;
}

void pg_log_dump(const pg_server *pg)
{
    char *log = file_read(pg->log);
    fprintf(stderr, "---- %s ----\n%s---- end of PostgreSQL log ----\n", pg->log, log);
    free(log);
}
