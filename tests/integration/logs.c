/*
 * logs.c - what a server wrote: its error log, and the pids log (which child answered what).
 */

#include "harness.h"

char *httpd_error_log_read(const httpd_server *srv)
{
    return file_read(srv->error_log);
}

void httpd_error_log_dump(const httpd_server *srv)
{
    char *log = httpd_error_log_read(srv);
    fprintf(stderr, "---- %s ----\n%s---- end of error log ----\n", srv->error_log, log);
    free(log);
}

/* Calls match on every line of the error log; the last line it liked goes to *last (malloc'd)
 * unless last is NULL.  Returns how many it liked. */
static int scan_lines(const httpd_server *srv, httpd_line_match_fn *match, void *ctx, char **last)
{
    char *log = httpd_error_log_read(srv), *line = log, *end, *found = NULL;
    int count = 0;

    for (; *line; line = end + 1) {
        if ((end = strchr(line, '\n')) != NULL) {
            *end = '\0';
        }
        if (match(line, ctx)) {
            count++;
            found = line;
        }
        if (end == NULL) {
            break;
        }
    }
    if (last) {
        *last = found ? xstrdup(found) : NULL;
    }
    free(log);
    return count;
}

int httpd_error_log_count_if(const httpd_server *srv, httpd_line_match_fn *match, void *ctx)
{
    return scan_lines(srv, match, ctx, NULL);
}

static int line_contains(const char *line, void *needle)
{
    return strstr(line, (const char *)needle) != NULL;
}

int httpd_error_log_count(const httpd_server *srv, const char *needle)
{
    return scan_lines(srv, line_contains, (void *)needle, NULL);
}

char *httpd_error_log_last_line(const httpd_server *srv, const char *needle)
{
    char *last;
    scan_lines(srv, line_contains, (void *)needle, &last);
    return last;
}

long httpd_error_log_wait(const httpd_server *srv, const char *needle, int before, long timeout_ms)
{
    long waited = POLL_UNTIL(httpd_error_log_count(srv, needle) > before, timeout_ms, 50);
    return httpd_error_log_count(srv, needle) > before ? waited : -1;
}

pid_t log_line_pid(const char *line)
{
    const char *p = line ? strstr(line, "[pid ") : NULL;
    return p ? (pid_t)atoi(p + 5) : -1;
}

int pids_log_scan(const httpd_server *srv, long offset, const char *prefix,
                  pids_visit_fn *visit, void *ctx)
{
    char *path = httpd_path(srv, "pids.log"), *log = file_read_from(path, offset);
    char *line = log + strlen(log);
    int n = 0, stop = 0;
    pids_line l;

    /* From the end: the newest line first. */
    while (line > log && !stop) {
        char *start = line - 1;
        int pid;

        *start = '\0';   /* the newline ending the line (or its last byte) */
        while (start > log && start[-1] != '\n') {
            start--;
        }
        if (sscanf(start, "%d %ld %15s %511s", &pid, &l.status, l.method, l.path) == 4
            && strncmp(l.path, prefix, strlen(prefix)) == 0) {
            l.pid = (pid_t)pid;
            stop = visit(&l, ctx);
            n++;
        }
        line = start;
    }
    free(log);
    free(path);
    return n;
}

typedef struct {
    const httpd_server *srv;
    pid_t exclude, *pids;
    int found, max;
} serving;

static int note_child(const pids_line *line, void *ctx)
{
    serving *s = ctx;
    int k;
    for (k = 0; k < s->found && s->pids[k] != line->pid; k++) {
    }
    if (k == s->found && line->pid != s->exclude && line->pid != s->srv->pid
        && process_parent(line->pid) == s->srv->pid) {
        s->pids[s->found++] = line->pid;
    }
    return s->found == s->max;
}

int children_serving(const httpd_server *srv, long offset, const char *prefix,
                     pid_t exclude, pid_t *pids, int max)
{
    serving s = { srv, exclude, pids, 0, max };
    pids_log_scan(srv, offset, prefix, note_child, &s);
    return s.found;
}
