/*
 * checks.c - assertions that say what was seen, requests and the answers they must get, bounded
 * waits, and the error log.
 */
#include "ml_test.h"

/* The caller's printf-style what (the last named argument) as a string. */
#define WHAT ({ va_list ap_; va_start(ap_, what); char *w_ = tvfmt(what, ap_); va_end(ap_); w_; })

void (*g_count_click)(const httpd_server *srv, const char *host, const char *path);

/* ---- assertions ----------------------------------------------------- */

int check_file_line(const char *file, int line, int ok, const char *fmt, ...)
{
    char msg[2048];
    httpd_server *running[16];
    int n = ok ? 0 : httpd_running(running, 16), i;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ok) {
        fprintf(stderr, "\n    FAILED (%s:%d): %s\n", file, line, msg);
    }
    for (i = 0; i < n; i++) {
        fprintf(stderr, "    httpd (%s, port %d): config %s, error log %s\n", running[i]->mpm,
                running[i]->port, running[i]->conf, running[i]->error_log);
        running[i]->keep = 1;
    }
    if (!ok && g_srv) {
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " [config %s, error log %s]",
                 g_srv->conf, g_srv->error_log);
        g_srv->keep = 1;
    }
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned int)line, msg, file, "", CU_FALSE);
    return ok;
}

const char *str_or_null(const char *s)
{
    return s ? s : "(none)";
}

int expect_long_at(const char *file, int line, long actual, long expected, const char *what, ...)
{
    return check_here(actual == expected, "%s: %ld, expected %ld", WHAT, actual, expected);
}

int expect_str_at(const char *file, int line, const char *actual, const char *expected,
                  const char *what, ...)
{
    return check_here(actual && expected && strcmp(actual, expected) == 0, "%s: \"%s\", "
                      "expected \"%s\"", WHAT, str_or_null(actual), str_or_null(expected));
}

int expect_has_at(const char *file, int line, const char *text, const char *needle,
                  int has, const char *what, ...)
{
    return check_here((text && strstr(text, needle)) == has, "%s: \"%s\" %s in:\n%.1500s",
                      WHAT, needle, has ? "not" : "found", str_or_null(text));
}

/* ---- requests ------------------------------------------------------- */

static apr_status_t free_response(void *r)
{
    http_response_free(r);
    return APR_SUCCESS;
}

http_response *tkeep_response(const http_response *r)
{
    http_response *kept = talloc(sizeof *kept);
    *kept = *r;
    at_test_end(free_response, kept);
    return kept;
}

http_response *ask_spec(const httpd_server *srv, const http_request_spec *req)
{
    http_response r;
    http_send(srv->port, req, &r);
    if (g_count_click && strcmp(req->method, "GET") == 0 && r.curl_code == 0
        && r.status >= 300 && r.status < 400) {
        g_count_click(srv, req->host, req->path);
    }
    return tkeep_response(&r);
}

http_response *ask(const httpd_server *srv, const char *method, const char *host, const char *path)
{
    http_request_spec req = { method, host, path, NULL, NULL, 0, NULL };
    return ask_spec(srv, &req);
}

http_response *post_json(const httpd_server *srv, const char *path, const char *json,
                         const char *userpwd)
{
    static const char *const headers[] = { "Content-Type: application/json", NULL };
    http_request_spec req = { "POST", NULL, path, headers, json, strlen(json), userpwd };
    return ask_spec(srv, &req);
}

/* The checks of EXPECT on r, the answer to req. */
static void check_answer(const char *file, int line, const http_request_spec *req,
                         long status, const char *location, const http_response *r)
{
    const char *method = req->method, *path = req->path, *host = str_or_null(req->host);

    if (!check_here(r->curl_code == 0, "%s %s (Host %s): transport error: %s", method, path,
                    host, r->error)) {
        return;
    }
    check_here(r->status == status, "%s %s (Host %s): status %ld, expected %ld", method, path,
               host, r->status, status);
    check_here(location ? r->location && strcmp(r->location, location) == 0 : !r->location,
               "%s %s (Host %s): Location \"%s\", expected %s%s%s", method, path, host,
               str_or_null(r->location), location ? "\"" : "", str_or_null(location),
               location ? "\"" : "");
}

http_response *expect_request_at(const char *file, int line, const http_request_spec *req,
                                 long status, const char *location)
{
    http_response *r = ask_spec(g_srv, req);
    check_answer(file, line, req, status, location, r);
    return r;
}

http_response *expect_file_line(const char *file, int line, const char *method,
                                const char *host, const char *path, long status,
                                const char *location, http_response *out)
{
    http_request_spec req = { method, host, path, NULL, NULL, 0, NULL };
    if (out == NULL) {
        return expect_request_at(file, line, &req, status, location);
    }
    http_request(g_srv->port, method, host, path, out);
    check_answer(file, line, &req, status, location, out);
    return out;
}

void expect_cases_at(const char *file, int line, const http_case *cases, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        expect_file_line(file, line, cases[i].method, cases[i].host, cases[i].path,
                         cases[i].status, cases[i].location, NULL);
    }
}

long wait_answer_at(const char *file, int line, const char *what, const httpd_server *srv,
                    const char *method, const char *host, const char *path, long status,
                    const char *location, long since, long poll_ms)
{
    http_response *r;
    long delay = -1;
    int i, agree = 1;

    while (!response_is(r = ask(srv, method, host, path), status, location)
           && now_ms() - since < BOUNDED_WAIT_MS) {
        sleep_ms(poll_ms);
    }
    delay = response_is(r, status, location) ? now_ms() - since : -1;
    if (!check_here(delay >= 0, "%s: %s %s (Host %s) still answers %ld, Location \"%s\" "
                    "(transport: %s) %ld ms after the change; expected %ld, Location \"%s\"",
                    what, method, path, str_or_null(host), r->status, str_or_null(r->location),
                    r->curl_code ? r->error : "ok", now_ms() - since, status,
                    str_or_null(location))) {
        return -1;
    }
    for (i = 0; i < 3 && agree; i++) {
        agree = response_is(r = ask(srv, method, host, path), status, location);
    }
    if (!check_here(agree, "%s: %s %s (Host %s) answered as expected once, then %ld, "
                    "Location \"%s\"", what, method, path, str_or_null(host), r->status,
                    str_or_null(r->location))) {
        return -1;
    }
    fprintf(stderr, "[%s -> %ld: %ld ms] ", what, status, delay);
    return delay;
}

/* ---- the error log -------------------------------------------------- */

int ml_line_names(const char *line, void *needle)
{
    const char *p;
    int i;

    for (p = strstr(line, (const char *)needle) ? strstr(line, "ML") : NULL; p;
         p = strstr(p + 1, "ML")) {
        for (i = 2; i < 7 && isdigit((unsigned char)p[i]); i++) {
        }
        if (i == 7 && p[7] == ':') {
            return 1;
        }
    }
    return 0;
}

int ml_log_lines_naming(const char *needle)
{
    return httpd_error_log_count_if(g_srv, ml_line_names, (void *)needle);
}

/* True if line names path whole: "<dir>/links.db" is not "<dir>/links.db.copy". */
static int names_file(const char *line, const char *path)
{
    size_t len = strlen(path);
    const char *p;
    for (p = strstr(line, path); p; p = strstr(p + 1, path)) {
        if (!isalnum((unsigned char)p[len]) && p[len] != '.' && p[len] != '/') {
            return 1;
        }
    }
    return 0;
}

static int line_matches(const char *line, void *ctx)
{
    const log_filter *f = ctx;
    return (f->text == NULL || (f->tagged ? ml_line_names(line, (void *)f->text)
                                          : strstr(line, f->text) != NULL))
        && (f->file == NULL || names_file(line, f->file))
        && (!f->not_debug || strstr(line, "[minilink:debug]") == NULL);
}

int log_lines(const httpd_server *srv, log_filter filter)
{
    return httpd_error_log_count_if(srv, line_matches, &filter);
}

long log_wait_lines(const httpd_server *srv, log_filter filter, int before, long timeout_ms)
{
    long waited = POLL_UNTIL(log_lines(srv, filter) > before, timeout_ms, 100);
    return log_lines(srv, filter) > before ? waited : -1;
}

void expect_log_clean_at(const char *file, int line, const httpd_server *srv,
                         const char *const *bad)
{
    int dirty = 0, n;
    for (; *bad; bad++) {
        dirty |= (n = httpd_error_log_count(srv, *bad)) != 0;
        check_here(n == 0, "%d error-log lines contain \"%s\"", n, *bad);
    }
    if (dirty) {
        httpd_error_log_dump(srv);
    }
}
