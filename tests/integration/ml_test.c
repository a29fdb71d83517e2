/*
 * ml_test.c - what the mod_minilink integration tests share (ml_test.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ml_test.h"
#include "../../links/ml_link.h"
#include "../../links/ml_store.h"

httpd_server *g_srv;
apr_pool_t *g_pool;
unsigned int g_failures_at_init;
unsigned int g_tests_not_run;

/* ------------------------------------------------------------------ */
/* suite bookkeeping                                                  */
/* ------------------------------------------------------------------ */

unsigned int count_tests(const CU_TestInfo *tests)
{
    unsigned int n = 0;
    while (tests[n].pName) {
        n++;
    }
    return n;
}

int suite_cleanup(void)
{
    if (g_srv && CU_get_number_of_failures() != g_failures_at_init) {
        fprintf(stderr, "\nsuite had failures; error log of the %s server:\n",
                g_srv->mpm);
        httpd_error_log_dump(g_srv);
    }
    httpd_free(g_srv);   /* stops the server */
    g_srv = NULL;
    return 0;
}

/* ------------------------------------------------------------------ */
/* assertions                                                         */
/* ------------------------------------------------------------------ */

int check_file_line(const char *file, int line, int ok, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ok) {
        fprintf(stderr, "\n    FAILED (%s:%d): %s\n", file, line, msg);
    }
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned int)line, msg,
                            file, "", CU_FALSE);
    return ok;
}

const char *str_or_null(const char *s)
{
    return s ? s : "(none)";
}

void expect_file_line(const char *file, int line, const char *method,
                      const char *host, const char *path, long status,
                      const char *location, http_response *out)
{
    http_response r;

    http_request(g_srv->port, method, host, path, &r);
    if (check_file_line(file, line, r.curl_code == 0,
                        "%s %s (Host %s): transport error: %s",
                        method, path, str_or_null(host), r.error)) {
        check_file_line(file, line, r.status == status,
                        "%s %s (Host %s): status %ld, expected %ld",
                        method, path, str_or_null(host), r.status, status);
        if (location) {
            check_file_line(file, line, r.location && strcmp(r.location, location) == 0,
                            "%s %s (Host %s): Location \"%s\", expected \"%s\"",
                            method, path, str_or_null(host), str_or_null(r.location),
                            location);
        }
        else {
            check_file_line(file, line, r.location == NULL,
                            "%s %s (Host %s): unexpected Location \"%s\"",
                            method, path, str_or_null(host), str_or_null(r.location));
        }
    }
    if (out) {
        *out = r;
    }
    else {
        http_response_free(&r);
    }
}

void expect_error_log_clean_at(const char *file, int line)
{
    static const char *const bad[] = {
        "[core:error]", "AH00051", "AH00052", "AH00060", "Segmentation fault"
    };
    size_t i;
    int dirty = 0;

    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        int n = httpd_error_log_count(g_srv, bad[i]);
        dirty |= n != 0;
        check_file_line(file, line, n == 0, "%d error-log lines contain \"%s\"",
                        n, bad[i]);
    }
    if (dirty) {
        httpd_error_log_dump(g_srv);
    }
}

int ml_line_names(const char *line, void *needle)
{
    const char *p;

    if (strstr(line, (const char *)needle) == NULL) {
        return 0;
    }
    for (p = strstr(line, "ML"); p; p = strstr(p + 1, "ML")) {
        int i;
        for (i = 2; i < 7 && p[i] >= '0' && p[i] <= '9'; i++) {
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

/* ------------------------------------------------------------------ */
/* databases                                                          */
/* ------------------------------------------------------------------ */

char *path_of(const char *name)
{
    return httpd_path(g_srv, name);
}

void chown_database(const char *path)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    size_t i;

    for (i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = xasprintf("%s%s", path, suffixes[i]);
        if (access(p, F_OK) == 0) {
            httpd_chown(g_srv, p);
        }
        free(p);
    }
}

int db_store_links(const char *path, const link_spec *links, size_t n)
{
    apr_pool_t *pool;
    ml_store *store = NULL;
    apr_status_t rv;
    size_t i;
    int rc = 0;

    apr_pool_create(&pool, g_pool);
    rv = ml_store_open(&store, path, ML_STORE_CREATE, pool);
    if (rv == APR_SUCCESS) {
        rv = ml_store_init(store);
    }
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "cannot create %s: %s\n", path,
                store ? ml_store_error(store) : "ml_store_open failed");
        rc = -1;
    }
    for (i = 0; rc == 0 && i < n; i++) {
        ml_link link;

        memset(&link, 0, sizeof link);
        link.slug = links[i].slug;
        link.url = links[i].url;
        link.status = links[i].status;
        link.expires_at = links[i].expires_at;
        link.disabled = links[i].disabled;
        rv = ml_store_add(store, &link, pool);
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "cannot add %s to %s: %s\n", links[i].slug, path,
                    ml_store_error(store));
            rc = -1;
        }
    }
    apr_pool_destroy(pool);   /* closes the store */
    chown_database(path);
    return rc;
}

int db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *error = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             NULL);

    if (rc == SQLITE_OK) {
        /* The server's refresher may be reading: wait for it, don't fail. */
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, &error);
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "sqlite on %s: %s\n", path, error ? error : sqlite3_errmsg(db));
    }
    sqlite3_free(error);
    sqlite3_close(db);
    chown_database(path);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* load clients                                                       */
/* ------------------------------------------------------------------ */

char *load_slug(int i)
{
    return xasprintf("s%02d", i);
}

char *load_url(int i)
{
    /* Every other one has a query of its own. */
    return i % 2 ? xasprintf("https://example.com/load/%02d?n=%d", i, i)
                 : xasprintf("https://example.com/load/%02d", i);
}

int db_store_load_links(const char *path)
{
    link_spec load[LOAD_SLUGS];
    char *slugs[LOAD_SLUGS], *urls[LOAD_SLUGS];
    int i, rc;

    for (i = 0; i < LOAD_SLUGS; i++) {
        slugs[i] = load_slug(i);
        urls[i] = load_url(i);
        load[i] = (link_spec){ slugs[i], urls[i], 0, 0, 0 };
    }
    rc = db_store_links(path, load, LOAD_SLUGS);
    for (i = 0; i < LOAD_SLUGS; i++) {
        free(slugs[i]);
        free(urls[i]);
    }
    return rc;
}

typedef struct {
    int id;
    int port;
    const int *stop;
    int started;
    pthread_t thread;
    long requests;
    long failures;
    long wrong;
    char first_problem[512];
} load_client;

struct load_run {
    int stop;
    int clients;
    load_client *client;
};

static void *load_client_run(void *arg)
{
    load_client *c = arg;
    http_client *http = http_client_new(c->port);
    char *paths[LOAD_SLUGS], *urls[LOAD_SLUGS];
    int i, n = c->id * 5;

    for (i = 0; i < LOAD_SLUGS; i++) {
        char *slug = load_slug(i);
        paths[i] = xasprintf("/l/%s", slug);
        urls[i] = load_url(i);
        free(slug);
    }
    while (http && !__atomic_load_n(c->stop, __ATOMIC_ACQUIRE)) {
        int k = n++ % LOAD_SLUGS;
        http_response r;
        int problem = 0;

        http_client_request(http, "GET", NULL, paths[k], &r);
        c->requests++;
        if (r.curl_code != 0 || r.status != 302) {
            c->failures++;
            problem = 1;
        }
        else if (r.location == NULL || strcmp(r.location, urls[k]) != 0) {
            c->wrong++;
            problem = 1;
        }
        if (problem && c->first_problem[0] == '\0') {
            snprintf(c->first_problem, sizeof c->first_problem,
                     "GET %s: status %ld, Location \"%s\" (expected 302 \"%s\"), "
                     "transport: %s", paths[k], r.status, str_or_null(r.location),
                     urls[k], r.curl_code ? r.error : "ok");
        }
        http_response_free(&r);
    }
    if (http == NULL) {
        c->failures++;
        snprintf(c->first_problem, sizeof c->first_problem, "curl_easy_init failed");
    }
    http_client_free(http);
    for (i = 0; i < LOAD_SLUGS; i++) {
        free(paths[i]);
        free(urls[i]);
    }
    return NULL;
}

load_run *load_start(int port, int clients)
{
    load_run *run = calloc(1, sizeof *run);
    int i;

    if (run == NULL || (run->client = calloc((size_t)clients, sizeof *run->client)) == NULL) {
        free(run);
        return NULL;
    }
    run->clients = clients;
    for (i = 0; i < clients; i++) {
        load_client *c = &run->client[i];

        c->id = i;
        c->port = port;
        c->stop = &run->stop;
        c->started = pthread_create(&c->thread, NULL, load_client_run, c) == 0;
    }
    return run;
}

void load_stop(load_run *run, load_totals *totals)
{
    int i;

    memset(totals, 0, sizeof *totals);
    if (run == NULL) {
        return;
    }
    __atomic_store_n(&run->stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < run->clients; i++) {
        load_client *c = &run->client[i];

        if (c->started) {
            pthread_join(c->thread, NULL);
        }
        else {
            totals->not_started++;
        }
        totals->requests += c->requests;
        totals->failures += c->failures;
        totals->wrong += c->wrong;
        if (c->first_problem[0]) {
            fprintf(stderr, "\n    load client %d: %ld requests, %ld failures, "
                            "%ld wrong; first problem: %s\n", i, c->requests,
                    c->failures, c->wrong, c->first_problem);
        }
    }
    free(run->client);
    free(run);
}

const char *cli_path(void)
{
    const char *env = getenv("MINILINK_CLI");

    return env && *env ? env : "./minilink";
}

int cli_run(const char *const *args, char **output)
{
    char *db = path_of("links.db");
    char *argv[10];
    int argc = 0, rc;

    argv[argc++] = (char *)cli_path();
    argv[argc++] = "--db";
    argv[argc++] = db;
    while (*args && argc < 9) {
        argv[argc++] = (char *)*args++;
    }
    argv[argc] = NULL;
    rc = httpd_run_as_user(g_srv, argv, output);
    chown_database(db);
    free(db);
    return rc;
}
