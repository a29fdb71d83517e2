/*
 * fixtures.c - what the tests set up and read besides requests: databases, the minilink command,
 * the load links, pages and JSON answers, the CSRF form, the refresher process.
 */
#include <apr_strings.h>

#include "ml_test.h"
#include "../../links/ml_fields.h"
#include "../../links/ml_link.h"
#include "../../links/ml_store.h"

const char *g_cli_db;

/* ---- databases ------------------------------------------------------ */

char *path_of(const char *name)
{
    return httpd_path(g_srv, name);
}

char *tpath(const char *name)
{
    return tkeep(path_of(name));
}

void chown_database(const char *path)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    size_t i;
    for (i = 0; i < ARRAY_LEN(suffixes); i++) {
        char *p = xasprintf("%s%s", path, suffixes[i]);   /* not tfmt: from threads too */
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

    apr_pool_create(&pool, g_pool);
    rv = ml_store_open(&store, path, ML_STORE_CREATE, pool);
    rv = rv == APR_SUCCESS ? ml_store_init(store) : rv;
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        ml_link link = { .slug = links[i].slug, .url = links[i].url, .status = links[i].status,
                         .expires_at = links[i].expires_at, .disabled = links[i].disabled };
        rv = ml_store_add(store, &link, pool);
    }
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "cannot store links in %s: %s\n", path,
                store ? ml_store_error(store) : "ml_store_open failed");
    }
    apr_pool_destroy(pool);   /* closes the store */
    chown_database(path);
    return rv == APR_SUCCESS ? 0 : -1;
}

/* Reads a rich_link_spec's "name=value" fields into link: NULL, or what
 * is wrong. */
static const char *rich_fields(ml_link *link, const rich_link_spec *spec,
                               apr_pool_t *pool)
{
    const char *problem = NULL;
    int i, f;

    for (i = 0; i < RICH_FIELDS && spec->fields[i] && problem == NULL; i++) {
        const char *field = spec->fields[i], *equals = strchr(field, '=');
        const char *name = apr_pstrmemdup(pool, field, (size_t)(equals - field));
        if (strcmp(name, "password") == 0) {
            problem = ml_password_hash(equals + 1, &link->password_hash, pool);
            continue;
        }
        for (f = 0; f < ML_FIELDS && strcmp(ml_field_name((ml_field)f), name); f++) {
        }
        problem = f == ML_FIELDS ? "no such field"
                  : ml_field_read(link, (ml_field)f, equals + 1, NULL, pool);
    }
    return problem;
}

int db_store_rich_links(const char *path, const rich_link_spec *links, size_t n)
{
    apr_pool_t *pool;
    ml_store *store = NULL;
    const char *problem = NULL;
    apr_status_t rv;
    size_t i;

    apr_pool_create(&pool, g_pool);
    rv = ml_store_open(&store, path, ML_STORE_CREATE, pool);
    rv = rv == APR_SUCCESS ? ml_store_init(store) : rv;
    for (i = 0; rv == APR_SUCCESS && problem == NULL && i < n; i++) {
        ml_link link = { .slug = links[i].slug, .url = links[i].url };
        if ((problem = rich_fields(&link, &links[i], pool)) == NULL) {
            rv = ml_store_add(store, &link, pool);
        }
    }
    if (rv != APR_SUCCESS || problem) {
        fprintf(stderr, "cannot store links with rules in %s: %s (link %s)\n", path,
                problem ? problem : store ? ml_store_error(store) : "ml_store_open failed",
                links[i - 1].slug);
    }
    apr_pool_destroy(pool);
    chown_database(path);
    return rv == APR_SUCCESS && problem == NULL ? 0 : -1;
}

/* The sqlite3 command on path as g_srv's user: its exit status; its output, trimmed, to *out
 * (freed with the test). */
static int sqlite3_command(const char *path, const char *sql, char **out)
{
    char *argv[] = { "sqlite3", "-bail", "-init", "/dev/null", "-cmd", ".timeout 5000",
                     (char *)path, (char *)sql, NULL };
    int rc = httpd_run_as_user(g_srv, argv, out);
    size_t n = strlen(tkeep(*out));

    while (n > 0 && isspace((unsigned char)(*out)[n - 1])) {
        (*out)[--n] = '\0';
    }
    return rc;
}

int db_exec(const char *path, const char *sql)
{
    char *out;
    int rc = sqlite3_command(path, sql, &out);
    if (rc != 0) {
        fprintf(stderr, "sqlite3 %s \"%.200s\" exited %d: %s\n", path, sql, rc, out);
    }
    return rc == 0 ? 0 : -1;
}

long db_int(const char *path, const char *fmt, ...)
{
    char *out, *end;
    long n = -1;
    va_list ap;

    va_start(ap, fmt);
    if (sqlite3_command(path, tvfmt(fmt, ap), &out) == 0 && *out) {
        n = strtol(out, &end, 10);
        n = *end == '\0' ? n : -1;
    }
    va_end(ap);
    return n;
}

sqlite3 *db_open_as_root(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
    }
    return db;
}

void db_close_as_root(sqlite3 *db, const char *path)
{
    sqlite3_close(db);
    chown_database(path);
}

/* ---- the load links ------------------------------------------------- */

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
    int i;
    for (i = 0; i < LOAD_SLUGS; i++) {
        load[i] = (link_spec){ tkeep(load_slug(i)), tkeep(load_url(i)), 0, 0, 0 };
    }
    return db_store_links(path, load, LOAD_SLUGS);
}

load_run *load_start(int port, int clients)
{
    static char paths[LOAD_SLUGS][8], urls[LOAD_SLUGS][64];   /* outlive the test */
    load_spec spec = { .port = port, .status = 302, .npaths = LOAD_SLUGS, .clients = clients,
                       .use_curl = 1 };
    int i;

    for (i = 0; i < LOAD_SLUGS; i++) {
        snprintf(paths[i], sizeof paths[i], "/l/s%02d", i);
        snprintf(urls[i], sizeof urls[i], "%s", (char *)tkeep(load_url(i)));
        spec.paths[i] = paths[i];
        spec.urls[i] = urls[i];
    }
    return load_begin(&spec);
}

void load_stop(load_run *run, load_totals *totals)
{
    load_end(run, 1, totals);
}

void gracefuls_under_load_at(const char *file, int line, int n, long pause_ms, long min_ms,
                             load_totals *totals)
{
    load_run *load = load_start(g_srv->port, LOAD_CLIENTS);
    long start = now_ms(), slowest = 0, t;
    load_totals got;
    int g;

    check_here(load != NULL, "cannot start the load clients");
    sleep_ms(500);
    for (g = 0; g < n; g++, sleep_ms(pause_ms)) {
        t = now_ms();
        check_here(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        slowest = now_ms() - t > slowest ? now_ms() - t : slowest;
    }
    sleep_ms(start + min_ms > now_ms() ? start + min_ms - now_ms() : 0);
    load_stop(load, &got);
    fprintf(stderr, "[%s: %ld requests in %ld ms, %d graceful restarts (slowest %ld ms), %ld "
            "failed, %ld wrong] ", g_srv->mpm, got.requests, now_ms() - start, n, slowest,
            got.failures, got.wrong);
    check_here(got.not_started == 0, "%d load clients could not start", got.not_started);
    check_here(got.requests > 100, "only %ld requests during the graceful restarts", got.requests);
    check_here(got.failures == 0, "%ld of %ld requests failed (transport error or wrong "
               "status)", got.failures, got.requests);
    check_here(got.wrong == 0, "%ld of %ld requests had a wrong Location", got.wrong, got.requests);
    if (totals) {
        *totals = got;
    }
}

/* ---- the minilink command ------------------------------------------- */

const char *cli_path(void)
{
    return env_or("MINILINK_CLI", "./minilink");
}

int cli_run_on(const char *db, const char *const *args, char **output)
{
    char *path = db ? NULL : path_of("links.db"), *argv[16] = { (char *)cli_path(), "--db" };
    int argc = 2, rc;

    argv[argc++] = (char *)(db ? db : path);
    while (*args && argc < 15) {
        argv[argc++] = (char *)*args++;
    }
    rc = httpd_run_as_user(g_srv, argv, output);
    if (path) {
        chown_database(path);
    }
    free(path);
    return rc;
}

int cli_run(const char *const *args, char **output)
{
    return cli_run_on(g_cli_db, args, output);
}

int cli_expect_at(const char *file, int line, int status, char **output, const char *const *args)
{
    char *out = NULL, *shown = "minilink";
    int rc = cli_run(args, &out), i;

    /* The command line without --db: a PostgreSQL URL holds a password. */
    for (i = 0; args[i]; i++) {
        shown = tfmt("%s %s", shown, args[i]);
    }
    if (output) {
        *output = tkeep(out);
    }
    return check_here(rc == status, "%s exited %d, expected %d: %s", shown, rc, status,
                      output ? out : (char *)tkeep(out));
}

/* ---- pages, JSON, the form ------------------------------------------ */

char *fetch_page_at(const char *file, int line, const httpd_server *srv, const char *path,
                    const char *type)
{
    http_response *r = ask(srv, "GET", NULL, path);
    char *got = tkeep(http_header(r, "Content-Type"));
    int ok = check_here(r->curl_code == 0 && r->status == 200, "GET %s: %ld (transport: %s), "
                        "expected 200", path, r->status, r->curl_code ? r->error : "ok");

    if (type) {
        ok &= check_here(got && strncmp(got, type, strlen(type)) == 0, "GET %s: Content-Type "
                         "\"%s\", expected %s", path, str_or_null(got), type);
    }
    return ok ? r->body : NULL;
}

char *json_text(const char *body, const char *name)
{
    json_t *root = json_loads(body ? body : "", 0, NULL);
    const char *value = json_string_value(json_object_get(root, name));
    char *copy = value ? tfmt("%s", value) : NULL;

    json_decref(root);
    return copy;
}

char *form_token_at(const char *file, int line, const char *prefix)
{
    static const char marker[] = "name=\"csrf\" value=\"";
    char *path = tfmt("%s/", prefix), *cookie = NULL, *field = NULL, *p;
    http_response *r = expect_file_line(file, line, "GET", NULL, path, 200, NULL, NULL);
    char *type = tkeep(http_header(r, "Content-Type"));
    char *set_cookie = tkeep(http_header(r, "Set-Cookie"));

    if (set_cookie && strncmp(set_cookie, "minilink_csrf=", 14) == 0) {
        cookie = tfmt("%.*s", (int)strcspn(set_cookie + 14, ";"), set_cookie + 14);
    }
    if ((p = strstr(r->body, marker)) != NULL) {
        field = tfmt("%.*s", (int)strcspn(p + sizeof marker - 1, "\""), p + sizeof marker - 1);
    }
    check_here(type && strncmp(type, "text/html", 9) == 0, "GET %s: Content-Type \"%s\", "
               "expected text/html", path, str_or_null(type));
    check_here(strstr(r->body, "<form") && strstr(r->body, "<input type=\"hidden\" name=\"csrf\""),
               "GET %s: no form with a hidden csrf input in:\n%.600s", path, r->body);
    check_here(cookie && strlen(cookie) == 48, "GET %s: no 48-character minilink_csrf "
               "cookie; headers:\n%s", path, r->headers);
    check_here(cookie && field && strcmp(cookie, field) == 0, "GET %s: the form's token "
               "\"%s\" is not the cookie's \"%s\"", path, str_or_null(field), str_or_null(cookie));
    check_here(http_headers_contain(r, "HttpOnly") && http_headers_contain(r, "SameSite=Strict"),
               "GET %s: the CSRF cookie is not HttpOnly and SameSite=Strict:\n%s", path,
               r->headers);
    return cookie;
}

/* ---- the admin pages' forms ----------------------------------------- */

admin_token admin_token_at(const char *file, int line, const httpd_server *srv,
                           const char *admin, const char *userpwd)
{
    static const char marker[] = "name=\"csrf\" value=\"";
    const char *headers[] = { BROWSER_ACCEPT, NULL };
    http_request_spec req = { "GET", NULL, tfmt("%snew", admin), headers, NULL, 0, userpwd };
    http_response *r = ask_spec(srv, &req);
    char *set_cookie = tkeep(http_header(r, "Set-Cookie")), *p;
    admin_token token = { NULL, NULL };

    if (set_cookie && strncmp(set_cookie, "minilink_csrf=", 14) == 0) {
        token.cookie = tfmt("%.*s", (int)strcspn(set_cookie + 14, ";"), set_cookie + 14);
    }
    if ((p = strstr(r->body, marker)) != NULL) {
        token.field = tfmt("%.*s", (int)strcspn(p + sizeof marker - 1, "\""),
                           p + sizeof marker - 1);
    }
    check_here(token.cookie && token.field && strcmp(token.cookie, token.field) == 0,
               "GET %snew: no token: cookie %s, field %s", admin, str_or_null(token.cookie),
               str_or_null(token.field));
    check_here(set_cookie && strstr(set_cookie, tfmt("Path=%s;", admin))
               && strstr(set_cookie, "HttpOnly") && strstr(set_cookie, "SameSite=Strict"),
               "the cookie is not for %s, HttpOnly, SameSite=Strict: %s", admin,
               str_or_null(set_cookie));
    return token;
}

http_response *admin_post(const httpd_server *srv, const char *path, const char *body,
                          const char *field, const char *cookie, const char *origin,
                          const char *userpwd)
{
    const char *headers[5] = { "Content-Type: application/x-www-form-urlencoded",
                               BROWSER_ACCEPT };
    char *all = tfmt("%s%scsrf=%s", body, *body ? "&" : "", field ? field : "");
    http_request_spec req = { "POST", NULL, path, headers, all, strlen(all), userpwd };
    int n = 2;

    if (cookie) {
        headers[n++] = tfmt("Cookie: minilink_csrf=%s", cookie);
    }
    if (origin) {
        headers[n++] = tfmt("Origin: %s", origin);
    }
    return ask_spec(srv, &req);
}

/* ---- who answered ---------------------------------------------------- */

const char *log_answered(const char *log_name, const char *method, const char *path, long status)
{
    char *prefix = tfmt("%ld %s %s ", status, method, path), *log, *line, *found = NULL;
    long start = now_ms();

    /* The line is written after the response: wait for it a little. */
    while (found == NULL && now_ms() - start < 2000) {
        log = tkeep(file_read(tpath(tfmt("%s.log", log_name))));
        for (line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
            found = strncmp(line, prefix, strlen(prefix)) == 0 ? line + strlen(prefix) : found;
        }
        if (found == NULL) {
            sleep_ms(50);
        }
    }
    return found;
}

/* ---- the refresher -------------------------------------------------- */

/* True if pid is a live child of srv's parent, not the parent itself. */
static int child_of(const httpd_server *srv, pid_t pid)
{
    return pid > 0 && pid != srv->pid && process_parent(pid) == srv->pid;
}

pid_t refresher_pid_after_cli_at(const char *file, int line, const char *slug, const char *url)
{
    int before = httpd_error_log_count(g_srv, "ML00009");
    const char *args[] = { "add", url, slug, NULL };
    char *text;
    pid_t pid;

    if (!cli_expect_at(file, line, 0, NULL, args)
        || !check_here(httpd_error_log_wait(g_srv, "ML00009", before, BOUNDED_WAIT_MS) >= 0,
                       "no ML00009 line within %d ms of adding %s with the CLI",
                       BOUNDED_WAIT_MS, slug)) {
        return -1;
    }
    text = tkeep(httpd_error_log_last_line(g_srv, "ML00009"));
    pid = log_line_pid(text);
    return check_here(child_of(g_srv, pid), "the ML00009 line's pid %d is not a child of "
                      "httpd %d (its parent: %d): %s", (int)pid, (int)g_srv->pid,
                      (int)process_parent(pid), str_or_null(text)) ? pid : -1;
}

long kill_refresher_at(const char *file, int line, pid_t pid)
{
    int deaths = httpd_error_log_count(g_srv, "ML00023");
    long waited;
    check_here(pid > 0 && kill(pid, SIGKILL) == 0, "kill -9 %d (the refresher): %s", (int)pid,
               strerror(errno));
    waited = httpd_error_log_wait(g_srv, "ML00023", deaths, BOUNDED_WAIT_MS);
    check_here(waited >= 0, "no ML00023 line (refresher replaced) within %d ms of killing the "
               "refresher %d", BOUNDED_WAIT_MS, (int)pid);
    return waited;
}

pid_t refresher_pid_from_log(const httpd_server *srv)
{
    static const char *const tags[] = { "ML00027", "ML00009" };
    pid_t found = -1;
    size_t i;

    for (i = 0; i < 2 && found < 0; i++) {
        pid_t pid = log_line_pid(tkeep(httpd_error_log_last_line(srv, tags[i])));
        found = child_of(srv, pid) ? pid : -1;
    }
    return found;
}
