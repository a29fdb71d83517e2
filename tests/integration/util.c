/*
 * util.c - what every part of the harness uses: memory, files, time,
 * ports, processes, running a program, and stopping what was started when
 * the run exits or is killed.
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
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define TERM_GRACE_MS 10000   /* a timed-out program: SIGTERM, then SIGKILL */

/* ------------------------------------------------------------------ */
/* memory, files, time, ports                                         */
/* ------------------------------------------------------------------ */

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

char *xstrdup(const char *s)
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

void buffer_add(buffer *b, const void *p, size_t n)
{
    b->data = xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
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

char *file_read_from(const char *path, long offset)
{
    FILE *f = fopen(path, "rb");
    buffer b = { xstrdup(""), 0 };
    char chunk[8192];
    size_t got;

    if (f != NULL && fseek(f, offset, SEEK_SET) == 0) {
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            buffer_add(&b, chunk, got);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return b.data;
}

char *file_read(const char *path)
{
    return file_read_from(path, 0);
}

long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in addr;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    return addr;
}

/* Bind 127.0.0.1:0, read the port the kernel chose, close. */
int free_port(void)
{
    struct sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0
        && getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

int port_accepts(int port)
{
    struct sockaddr_in addr = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0) {
        return 0;
    }
    ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

/* ------------------------------------------------------------------ */
/* processes                                                          */
/* ------------------------------------------------------------------ */

pid_t process_parent(pid_t pid)
{
    char path[64], stat[1024];
    const char *close_paren;
    int fd, ppid;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY)) < 0) {
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

int proc_scan(const char *needle, pid_t parent, pid_t *pids, int max)
{
    DIR *proc = opendir("/proc");
    struct dirent *de;
    int found = 0;

    while (proc && (de = readdir(proc)) != NULL) {
        char path[64], cmdline[8192];
        pid_t pid = (pid_t)atoi(de->d_name);
        ssize_t n = 0, i;
        int fd;

        if (pid <= 0 || pid == getpid() || (parent > 0 && process_parent(pid) != parent)) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        if ((fd = open(path, O_RDONLY)) >= 0) {
            n = read(fd, cmdline, sizeof cmdline - 1);
            close(fd);
        }
        if (n <= 0) {
            continue;   /* gone, a zombie or a kernel thread */
        }
        for (i = 0; i < n; i++) {
            cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
        }
        cmdline[n] = '\0';
        if (needle == NULL || strstr(cmdline, needle)) {
            if (pids && found < max) {
                pids[found] = pid;
            }
            found++;
        }
    }
    if (proc) {
        closedir(proc);
    }
    return found;
}

/* Our environment with TMPDIR=tmpdir, malloc'd (the strings are ours). */
static char **env_with_tmpdir(const char *tmpdir)
{
    size_t n = 0, i, k = 0;
    char **env;

    while (environ[n]) {
        n++;
    }
    env = xrealloc(NULL, (n + 2) * sizeof *env);
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "TMPDIR=", 7) != 0) {
            env[k++] = environ[i];
        }
    }
    env[k++] = xasprintf("TMPDIR=%s", tmpdir);
    env[k] = NULL;
    return env;
}

/* In the child after fork: only async-signal-safe calls (other threads
 * of this process may hold locks). */
static void run_child(const run_spec *spec, int out_fd, pid_t parent, char *const *env)
{
    gid_t gid = spec->gid;
    int devnull = open("/dev/null", O_RDONLY);

    if (devnull >= 0) {
        dup2(devnull, 0);
    }
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (spec->become && geteuid() == 0
        && (setgroups(1, &gid) != 0 || setgid(spec->gid) != 0 || setuid(spec->uid) != 0)) {
        _exit(126);
    }
    if (spec->dir && chdir(spec->dir) != 0) {
        _exit(126);
    }
    /* After setuid, which clears it: it goes when the test goes. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(127);
    }
    execvpe(spec->argv[0], spec->argv, env);
    _exit(127);
}

run_result run_captured(const run_spec *spec)
{
    run_result res = { -1, 0, 0, NULL };
    buffer out = { xstrdup(""), 0 };
    char **tmp_env = spec->tmpdir ? env_with_tmpdir(spec->tmpdir) : NULL;
    char *const *env = tmp_env ? tmp_env : spec->env ? spec->env : environ;
    long start = now_ms(), term_at = 0, reaped_at = 0;
    int fds[2], status = 0, reaped = 0;
    pid_t pid = -1, parent = getpid();

    /* Close-on-exec: programs other threads start meanwhile must not hold
     * the write end open, or the read below would wait for them too. */
    if (pipe2(fds, O_CLOEXEC) == 0) {
        fflush(NULL);
        if ((pid = fork()) == 0) {
            run_child(spec, fds[1], parent, env);
        }
        close(fds[1]);
    }
    if (pid < 0) {
        res.output = xasprintf("cannot run %s: %s", spec->argv[0], strerror(errno));
        free(out.data);
        goto out;
    }
    /* Until EOF, and once the program is gone at most 2 s more for what
     * else holds the pipe (a stray grandchild must not hang the test). */
    for (;;) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        long now = now_ms();
        char chunk[4096];
        ssize_t n;

        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
            reaped = 1;
            reaped_at = now;
        }
        if (reaped && (now - reaped_at > 2000 || fds[0] < 0)) {
            break;
        }
        if (!reaped && spec->timeout_ms > 0 && !res.timed_out
            && now - start > spec->timeout_ms) {
            res.timed_out = 1;
            term_at = now;
            kill(pid, SIGTERM);
        }
        if (!reaped && term_at && now - term_at > TERM_GRACE_MS) {
            kill(pid, SIGKILL);
            term_at = 0;
        }
        if (fds[0] < 0) {
            sleep_ms(50);   /* EOF came first: the exit follows */
            continue;
        }
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        n = read(fds[0], chunk, sizeof chunk);
        if (n > 0) {
            buffer_add(&out, chunk, (size_t)n);
        }
        else if (n == 0 || errno != EINTR) {
            close(fds[0]);
            fds[0] = -1;
        }
    }
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    res.output = out.data;
out:
    res.elapsed_ms = now_ms() - start;
    if (tmp_env) {
        size_t i = 0;
        while (tmp_env[i + 1]) {
            i++;
        }
        free(tmp_env[i]);   /* the TMPDIR line, the only one made here */
        free(tmp_env);
    }
    return res;
}

/* ------------------------------------------------------------------ */
/* stopping what was started, at exit and on signals                  */
/* ------------------------------------------------------------------ */

#define MAX_CLEANUPS 32

static struct {
    void (*on_signal)(void *);
    void (*on_exit)(void *);
    void *obj;
} cleanups[MAX_CLEANUPS];

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction before_us[3];

static void on_signal(int sig)
{
    int i;

    for (i = MAX_CLEANUPS - 1; i >= 0; i--) {
        if (cleanups[i].obj) {
            cleanups[i].on_signal(cleanups[i].obj);
        }
    }
    for (i = 0; i < 3; i++) {
        sigaction(caught[i], &before_us[i], NULL);
    }
    raise(sig);   /* handled as it was before us once this returns */
}

static void on_exit_all(void)
{
    int i;

    for (i = MAX_CLEANUPS - 1; i >= 0; i--) {
        if (cleanups[i].obj) {
            cleanups[i].on_exit(cleanups[i].obj);
        }
    }
}

void cleanup_register(void (*on_sig)(void *), void (*on_exit)(void *), void *obj)
{
    static int installed;
    int i;

    if (!installed) {
        struct sigaction sa;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (i = 0; i < 3; i++) {
            sigaction(caught[i], NULL, &before_us[i]);
            if (before_us[i].sa_handler != SIG_IGN) {
                sigaction(caught[i], &sa, NULL);
            }
        }
        atexit(on_exit_all);
        installed = 1;
    }
    cleanup_forget(obj);
    for (i = 0; i < MAX_CLEANUPS && cleanups[i].obj; i++) {
    }
    if (i == MAX_CLEANUPS) {
        fprintf(stderr, "harness: more than %d things to clean up\n", MAX_CLEANUPS);
        return;
    }
    cleanups[i].on_signal = on_sig;
    cleanups[i].on_exit = on_exit;
    cleanups[i].obj = obj;
}

void cleanup_forget(void *obj)
{
    int i;

    for (i = 0; i < MAX_CLEANUPS; i++) {
        if (cleanups[i].obj == obj) {
            cleanups[i].obj = NULL;
        }
    }
}
