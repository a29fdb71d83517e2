/*
 * cli_runner.c - the minilink command run as a program (cli_runner.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli_runner.h"

/* A growing NUL-terminated buffer that a pipe is read into. */
typedef struct {
    char *data;
    size_t len;
} buffer;

/* Reads what fd has; returns 0 at its end (or on an error). */
static int drain(int fd, buffer *into)
{
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof(chunk));

    if (got < 0 && errno == EINTR) {
        return 1;
    }
    if (got <= 0) {
        return 0;
    }
    into->data = realloc(into->data, into->len + (size_t)got + 1);
    memcpy(into->data + into->len, chunk, (size_t)got);
    into->len += (size_t)got;
    into->data[into->len] = '\0';
    return 1;
}

/* Reads both pipes to their ends together, so that neither can fill up
 * and block the child while we wait on the other. */
static void read_both(int out_fd, int err_fd, buffer *out, buffer *err)
{
    struct pollfd fds[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
    buffer *into[2] = { out, err };
    int open_fds = 2, i;

    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, into[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
}

/* The file the child reads as standard input: input, or nothing.  A file,
 * not a pipe, so that writing it cannot block on a child that is not
 * reading. */
static int open_stdin(const ut_scratch *scratch, const char *input)
{
    const char *path = ut_path(scratch, "stdin.txt");

    if (input == NULL) {
        return open("/dev/null", O_RDONLY);
    }
    if (!ut_write_file(path, input, strlen(input))) {
        return -1;
    }
    return open(path, O_RDONLY);
}

/* Starts argv with in_fd as stdin; returns the child's pid, or -1. */
static pid_t start(char **argv, int in_fd, int out_pipe[2], int err_pipe[2])
{
    pid_t pid = fork();

    if (pid == 0) {
        dup2(in_fd, STDIN_FILENO);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        close(out_pipe[0]), close(err_pipe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

#define MAX_ARGS 16

int ut_cli_run(const ut_scratch *scratch, const char *db, const char *input,
               va_list args, ut_cli_result *result)
{
    char *argv[MAX_ARGS + 4] = { getenv("MINILINK_CLI"), "--db", (char *)db };
    int out_pipe[2], err_pipe[2], in_fd, wait_status, argc = 3;
    buffer out = { calloc(1, 1), 0 }, err = { calloc(1, 1), 0 };
    const char *arg;
    pid_t pid;

    while (argc < MAX_ARGS + 3 && (arg = va_arg(args, const char *)) != NULL) {
        argv[argc++] = (char *)arg;
    }
    ut_cli_result_free(result);
    result->status = -1;
    in_fd = open_stdin(scratch, input);
    if (in_fd < 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0
        || (pid = start(argv, in_fd, out_pipe, err_pipe)) < 0) {
        result->out = out.data, result->err = err.data;
        return -1;
    }
    close(in_fd), close(out_pipe[1]), close(err_pipe[1]);
    read_both(out_pipe[0], err_pipe[0], &out, &err);
    result->out = out.data, result->err = err.data;
    if (waitpid(pid, &wait_status, 0) == pid && WIFEXITED(wait_status)) {
        result->status = WEXITSTATUS(wait_status);
    }
    return result->status;
}

int ut_cli(const ut_scratch *scratch, const char *db, const char *input,
           ut_cli_result *result, ...)
{
    va_list args;
    int status;

    va_start(args, result);
    status = ut_cli_run(scratch, db, input, args, result);
    va_end(args);
    return status;
}

void ut_cli_result_free(ut_cli_result *result)
{
    free(result->out), free(result->err);
    result->out = result->err = NULL;
}
