/*
 * util.c - what every part of the harness uses: memory, files, time, ports, processes, running a
 * program, and stopping what was started when the run exits or is killed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "harness.h"

extern char **environ;

#define TERM_GRACE_MS 10000   /* a timed-out program: SIGTERM, then SIGKILL */

/* ---- memory, files, time, ports ------------------------------------- */

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

const char *env_or(const char *name, const char *fallback)
{
    const char *s = getenv(name);
    return s && *s ? s : fallback;
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
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f == NULL || fclose(f) != 0 || !ok) {
        fprintf(stderr, "harness: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

char *file_read_from(const char *path, long offset)
{
    FILE *f = fopen(path, "rb");
    buffer b = { xstrdup(""), 0 };
    char chunk[8192];
    size_t got;

    if (f && fseek(f, offset, SEEK_SET) == 0) {
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            buffer_add(&b, chunk, got);
        }
    }
    if (f) {
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

long wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec;
}

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
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

int loopback_connect(int port, int timeout_s)
{
    struct sockaddr_in addr = loopback(port);
    struct timeval timeout = { timeout_s, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, saved;

    if (fd >= 0 && timeout_s > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        saved = errno;
        close(fd);
        errno = saved;
        fd = -1;
    }
    return fd;
}

int port_accepts(int port)
{
    int fd = loopback_connect(port, 0);

    if (fd >= 0) {
        close(fd);
    }
    return fd >= 0;
}

/* ---- processes ------------------------------------------------------ */

/* /proc/<pid>/<name>, NUL-terminated, into buf; its length, or <= 0. */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    ssize_t n = -1;
    int fd;

    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    if ((fd = open(path, O_RDONLY)) >= 0) {
        n = read(fd, buf, size - 1);
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

pid_t process_parent(pid_t pid)
{
    char stat[1024];
    const char *close_paren;
    int ppid;

    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
    if (read_proc(pid, "stat", stat, sizeof stat) <= 0 || (close_paren = strrchr(stat, ')')) == NULL
        || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) {
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
        char cmdline[8192];
        pid_t pid = (pid_t)atoi(de->d_name);
        ssize_t n, i;

        /* No command line: gone, a zombie or a kernel thread. */
        if (pid <= 0 || pid == getpid() || (parent > 0 && process_parent(pid) != parent)
            || (n = read_proc(pid, "cmdline", cmdline, sizeof cmdline)) <= 0) {
            continue;
        }
        for (i = 0; i < n; i++) {
            cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
        }
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

int kill_processes(const char *needle, long grace_ms)
{
    long deadline;
    pid_t pids[64];
    int left, n, i;

    POLL_UNTIL((left = proc_scan(needle, 0, NULL, 0)) == 0, grace_ms, 50);
    for (deadline = now_ms() + 2000;
         left > 0 && (n = proc_scan(needle, 0, pids, 64)) > 0 && now_ms() < deadline;
         sleep_ms(50)) {
        for (i = 0; i < n && i < 64; i++) {
            kill(pids[i], SIGKILL);
        }
    }
    return left;
}

/* In the child after fork: only async-signal-safe calls (other threads of this process may hold
 * locks). */
static void run_child(const run_spec *spec, int out_fd, pid_t parent)
{
    gid_t gid = spec->gid;
    int devnull = open("/dev/null", O_RDONLY);

    if (spec->new_group) {
        setpgid(0, 0);
    }
    if (devnull >= 0) {
        dup2(devnull, 0);
    }
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if ((spec->become && geteuid() == 0
         && (setgroups(1, &gid) != 0 || setgid(spec->gid) != 0 || setuid(spec->uid) != 0))
        || (spec->dir && chdir(spec->dir) != 0)) {
        _exit(126);
    }
    /* After setuid, which clears it: it goes when the test goes. */
    prctl(PR_SET_PDEATHSIG, spec->death_signal ? spec->death_signal : SIGTERM);
    if (getppid() != parent) {
        _exit(127);
    }
    execvpe(spec->argv[0], spec->argv, spec->env ? spec->env : environ);
    _exit(127);
}

pid_t run_spawn(const run_spec *spec, int out_fd)
{
    pid_t parent = getpid(), pid;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        run_child(spec, out_fd, parent);
    }
    if (pid > 0 && spec->new_group) {
        setpgid(pid, pid);   /* also here, so that it holds before we signal the group */
    }
    return pid;
}

static int has_exited(pid_t pid)
{
    siginfo_t info = { 0 };
    return (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD)
           || info.si_pid == pid;
}

int wait_exited(pid_t pid, long timeout_ms)
{
    POLL_UNTIL(has_exited(pid), timeout_ms, 50);
    return has_exited(pid);
}

run_result run_captured(const run_spec *spec)
{
    run_result res = { -1, 0, 0, NULL };
    buffer out = { xstrdup(""), 0 };
    long start = now_ms(), term_at = 0, reaped_at = 0;
    int fds[2] = { -1, -1 }, status = 0, reaped = 0;
    pid_t pid = -1;

    /* Close-on-exec: programs other threads start meanwhile must not hold the write end open, or
     * the read below would wait for them too. */
    if (pipe2(fds, O_CLOEXEC) == 0) {
        pid = run_spawn(spec, fds[1]);
        close(fds[1]);
    }
    /* To EOF, and once the program is gone at most 2 s more for what else holds the pipe (a stray
     * grandchild must not hang the test). */
    while (pid > 0 && !(reaped && (fds[0] < 0 || now_ms() - reaped_at > 2000))) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        char chunk[4096];
        ssize_t n;

        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
            reaped = 1;
            reaped_at = now_ms();
        }
        if (!reaped && spec->timeout_ms > 0 && !res.timed_out
            && now_ms() - start > spec->timeout_ms) {
            res.timed_out = 1;
            term_at = now_ms();
            kill(pid, SIGTERM);
        }
        if (!reaped && term_at && now_ms() - term_at > TERM_GRACE_MS) {
            kill(pid, SIGKILL);
            term_at = 0;
        }
        if (fds[0] < 0 || poll(&p, 1, 200) <= 0) {
            sleep_ms(fds[0] < 0 ? 50 : 0);   /* EOF came first: the exit follows */
            continue;
        }
        if ((n = read(fds[0], chunk, sizeof chunk)) > 0) {
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
    res.status = pid < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    res.output = pid < 0 ? xasprintf("cannot run %s: %s", spec->argv[0], strerror(errno))
                         : out.data;
    if (pid < 0) {
        free(out.data);
    }
    res.elapsed_ms = now_ms() - start;
    return res;
}

int run_program(const run_spec *spec, char **output)
{
    run_result res = run_captured(spec);
    if (output) {
        *output = res.output;
    }
    else {
        free(res.output);
    }
    return res.status;
}

/* ---- stopping what was started, at exit and on signals -------------- */

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
