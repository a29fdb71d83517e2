/*
 * test_hostile.c - hostile requests: nothing injected, nothing crashes.
 *
 * Suites "hostile-event", "hostile-worker" and "hostile-prefork" each start a server whose /l
 * location redirects and creates links (MinilinkCreate On, no rate limit), with a few good links
 * and rows put in with raw SQL whose URLs are javascript:, data:, file:, vbscript: or hold a CRLF:
 * the module must skip those at load (ML00003) and answer 404 for them.
 *
 * Then a TABLE of requests (hostile_requests below), each with what it tries, the statuses allowed
 * (the module's, or Apache's own parser's where it steps in first), and for a redirect the exact
 * Location.  Every answer is checked the same way (check_answer):
 *   - the status is one of those allowed;
 *   - no response header line is one the request tried to inject
 *     ("Set-Cookie: injected...", "X-Injected: ..."), and no header line
 *     holds a control character (a raw CR, LF or NUL inside a value);
 *   - no Location unless the status is 3xx (or the 201 of a creation, whose
 *     Location must then be the new short URL), and at most one;
 *   - a 3xx's Location is exactly the stored http(s) URL (plus the query);
 *   - a 405 has an Allow header naming GET, and a JSON creation request
 *     refused with 400 or 413 gets a JSON {"error": ...}.
 * Requests go through libcurl (CURLOPT_PATH_AS_IS: paths are sent as written) or, for bytes curl
 * will not send (raw CR, LF, NUL, 0xff, made-up methods, a Host with a CRLF), over a plain socket.
 *
 * Templates in the table: {X*N} is N copies of the character X, {NUL} a NUL byte, {PORT} the
 * server's port, {TOKEN} a valid CSRF token (GET /l/ gives it, with its cookie).
 *
 * MINILINK_HOSTILE_VERBOSE=1 prints every request's status and Location.
 */

#include "ml_test.h"

/* The vhost's <Location /> makes the paths httpd normalises out of /l (/l/.. is /) land on the
 * module too (404: no creation there) rather than on <Directory /> Require all denied. */
static const char hostile_config[] =
    "MinilinkRefreshInterval 1\n"
    "MinilinkDatabase links.db\n"
    VHOST("hostile.test",
          MINILINK_AT("/", "")
          MINILINK_AT("/l", "MinilinkCreate On\nMinilinkCreateRateLimit off\n"));

static const link_spec hostile_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
    { "q", "https://example.com/search?lang=en#top", 0, 0, 0 },
    { "perm", "https://example.com/permanent", 301, 0, 0 },
    { "enc", "https://example.com/a%0d%0ab?c=%00", 0, 0, 0 },
};

/* Rows the schema accepts but the link rules refuse. */
#define BAD_ROW(slug, url) " ('" slug "', " url ")"
static const char hostile_bad_rows_sql[] =
    "INSERT INTO links (slug, url) VALUES"
    BAD_ROW("js", "'javascript:alert(1)'") ","
    BAD_ROW("jsup", "'JavaScript://example.com/%0aalert(1)'") ","
    BAD_ROW("data", "'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='") ","
    BAD_ROW("file", "'file:///etc/passwd'") ","
    BAD_ROW("vbs", "'vbscript:msgbox(1)'") ","
    BAD_ROW("crlf", "'https://example.com/x' || char(13) || char(10) || "
                    "'Set-Cookie: injected=1'") ","
    BAD_ROW("lf", "'https://example.com/y' || char(10) || 'X-Injected: 1'") ";";

static const char *const bad_slugs[] = { "js", "jsup", "data", "file", "vbs", "crlf", "lf" };

/* ---- the table ------------------------------------------------------ */

#define MAX_ALLOWED 4
/* In status[]: an answer with no status line, as HTTP/0.9 answers are. */
#define HTTP09 9

typedef struct {
    const char *what;
    const char *method;          /* through curl; NULL: raw (below) */
    const char *target;          /* curl: the path; raw: the whole request */
    const char *headers[4];      /* curl: extra header lines (templates) */
    int filler_headers;          /* curl: this many "X-Filler-N: N" more */
    const char *body;            /* curl: the body (template), or NULL */
    long status[MAX_ALLOWED];    /* the statuses allowed, 0-terminated */
    const char *location;        /* a 3xx's (or 201's) exact Location */
} hostile_request;

#define JSON "Content-Type: application/json"
#define FORM "Content-Type: application/x-www-form-urlencoded"
#define H11 " HTTP/1.1\r\nHost: 127.0.0.1\r\n"

/* Rows: what, the request, the Location a 3xx (or 201) must have (NULL: none), then the statuses
 * allowed.  ASK: through curl; ASK_WITH: with up to two header lines and a body; JSON_POST,
 * FORM_POST (with the CSRF cookie): to /l/; RAW: these bytes on a socket, then "Connection: close"
 * and the blank line. */
#define ASK(what, method, path, location, ...) \
    { what, method, path, { NULL }, 0, NULL, { __VA_ARGS__ }, location }
#define ASK_WITH(what, method, path, h1, h2, body, location, ...) \
    { what, method, path, { h1, h2 }, 0, body, { __VA_ARGS__ }, location }
#define JSON_POST(what, body, location, ...) \
    ASK_WITH(what, "POST", "/l/", JSON, NULL, body, location, __VA_ARGS__)
#define FORM_POST(what, body, location, ...) \
    ASK_WITH(what, "POST", "/l/", FORM, "Cookie: minilink_csrf={TOKEN}", body, location, \
             __VA_ARGS__)
#define RAW(what, request, location, ...) \
    { what, NULL, request "Connection: close\r\n\r\n", { NULL }, 0, NULL, { __VA_ARGS__ }, \
      location }

static const hostile_request hostile_requests[] = {
    /* --- a baseline, and the stored rows the rules refuse --------------- */
    ASK("a stored link", "GET", "/l/abc", "https://example.com/abc", 302),
    ASK("javascript: row", "GET", "/l/js", NULL, 404),
    ASK("JavaScript:// row", "GET", "/l/jsup", NULL, 404),
    ASK("data: row", "GET", "/l/data", NULL, 404),
    ASK("file: row", "GET", "/l/file", NULL, 404),
    ASK("vbscript: row", "GET", "/l/vbs", NULL, 404),
    ASK("CRLF row", "GET", "/l/crlf", NULL, 404),
    ASK("LF row", "GET", "/l/lf", NULL, 404),
    ASK("CRLF row, HEAD", "HEAD", "/l/crlf", NULL, 404),
    ASK("stored URL with encoded CRLF and NUL", "GET", "/l/enc",
      "https://example.com/a%0d%0ab?c=%00", 302),

    /* --- CRLF and NUL in slugs -------------------------------------------- */
    ASK("%0d%0a Set-Cookie in slug", "GET", "/l/abc%0d%0aSet-Cookie:%20injected=1", NULL, 404, 400),
    ASK("%0d%0a X-Injected in slug", "GET", "/l/abc%0D%0AX-Injected:%201", NULL, 404, 400),
    ASK("slug that is only %0d%0a", "GET", "/l/%0d%0a", NULL, 404, 400),
    ASK("%0a then a body", "GET", "/l/abc%0a%0a<html>injected", NULL, 404, 400),
    ASK("%00 after a slug", "GET", "/l/abc%00", NULL, 404, 400),
    ASK("%00 then more", "GET", "/l/abc%00def", NULL, 404, 400),
    ASK("slug %00", "GET", "/l/%00", NULL, 404, 400),
    RAW("raw CRLF in the path (splits the request line)",
      "GET /l/abc\r\nSet-Cookie: injected=1" H11, NULL, 400, HTTP09),
    RAW("raw bare CR in the path", "GET /l/ab\rSet-Cookie: injected=1" H11, NULL, 400),
    RAW("raw bare LF in the path", "GET /l/ab\nX-Injected: 1" H11, NULL, 400, HTTP09),
    RAW("raw NUL in the path", "GET /l/abc{NUL}def" H11, NULL, 400),
    RAW("raw NUL as the slug", "GET /l/{NUL}" H11, NULL, 400),

    /* --- dot segments, encoded slashes --------------------------------- */
    ASK("..", "GET", "/l/..", NULL, 404, 400),
    ASK("%2e%2e", "GET", "/l/%2e%2e", NULL, 404, 400),
    ASK(".%2e/ back into /l", "GET", "/l/.%2e/l/abc", "https://example.com/abc", 302, 400),
    ASK("../../etc/passwd", "GET", "/l/../../etc/passwd", NULL, 404, 400),
    ASK("%2e%2e%2f..%2fetc%2fpasswd", "GET", "/l/%2e%2e%2f..%2fetc%2fpasswd", NULL, 404, 400),
    ASK("%2f inside the slug", "GET", "/l/ab%2fc", NULL, 404, 400),
    ASK("%2F before the slug", "GET", "/l/%2Fabc", NULL, 404, 400),
    ASK("%5c (backslash)", "GET", "/l/..%5c..%5cabc", NULL, 404, 400),
    /* The handler shows the form for any path whose last segment is empty. */
    ASK("abc/ (empty last segment)", "GET", "/l/abc/", NULL, 404, 200),
    ASK("//abc", "GET", "/l//abc", "https://example.com/abc", 302, 404),

    /* --- overlong slugs ------------------------------------------------ */
    ASK("65-character slug", "GET", "/l/{a*65}", NULL, 404),
    ASK("1000-character slug", "GET", "/l/{b*1000}", NULL, 404),
    ASK("8000-character slug", "GET", "/l/{c*8000}", NULL, 404, 414),
    ASK("9000-character slug (over LimitRequestLine)", "GET", "/l/{d*9000}", NULL, 414, 400),
    ASK("1000-character preview", "GET", "/l/{e*1000}+", NULL, 404),

    /* --- not UTF-8, not ASCII ------------------------------------------- */
    ASK("%ff%fe", "GET", "/l/%ff%fe", NULL, 404, 400),
    ASK("abc%ff", "GET", "/l/abc%ff", NULL, 404, 400),
    ASK("overlong UTF-8 for '/' (%c0%af)", "GET", "/l/%c0%afabc", NULL, 404, 400),
    RAW("raw 0xff 0xfe", "GET /l/\xff\xfe" H11, NULL, 404, 400),
    RAW("raw 0xff after a slug", "GET /l/abc\xff" H11, NULL, 404, 400),

    /* --- '+' (the preview suffix) --------------------------------------- */
    ASK("slug '+'", "GET", "/l/+", NULL, 404),
    ASK("slug '++'", "GET", "/l/++", NULL, 404),
    ASK("slug '%2b'", "GET", "/l/%2b", NULL, 404),
    ASK("slug '+abc'", "GET", "/l/+abc", NULL, 404),
    ASK("slug 'abc++'", "GET", "/l/abc++", NULL, 404),
    ASK("preview of a refused row", "GET", "/l/crlf+", NULL, 404),
    ASK("preview of javascript: row", "GET", "/l/js+", NULL, 404),
    ASK("POST to a preview", "POST", "/l/abc+", NULL, 405),

    /* --- query strings ---------------------------------------------------- */
    ASK("encoded CRLF Set-Cookie in the query", "GET", "/l/abc?x=%0d%0aSet-Cookie:%20injected=1",
      "https://example.com/abc?x=%0d%0aSet-Cookie:%20injected=1", 302),
    ASK("encoded CRLF in a query merged with the URL's", "GET", "/l/q?%0D%0AX-Injected:%201",
      "https://example.com/search?lang=en&%0D%0AX-Injected:%201#top", 302),
    ASK("encoded NUL in the query", "GET", "/l/perm?a=%00", "https://example.com/permanent?a=%00",
      301),
    RAW("raw CR in the query", "GET /l/abc?x=\rSet-Cookie: injected=1" H11, NULL, 400),
    RAW("raw 0xff in the query", "GET /l/abc?x=\xff" H11, NULL, 400),
    RAW("raw tab in the query", "GET /l/abc?x=\tX-Injected:1" H11, NULL, 400),
    RAW("HTTP/0.9 request (no headers to inject into)", "GET /l/abc\r\n", NULL, HTTP09, 400),

    /* --- every method on a slug --------------------------------------- */
    ASK("HEAD", "HEAD", "/l/abc", "https://example.com/abc", 302),
    ASK_WITH("POST", "POST", "/l/abc", JSON, NULL, "{\"url\": \"https://example.com/\"}", NULL,
      405),
    ASK_WITH("PUT", "PUT", "/l/abc", NULL, NULL, "https://evil.example/", NULL, 405),
    ASK("DELETE", "DELETE", "/l/abc", NULL, 405),
    ASK("OPTIONS", "OPTIONS", "/l/abc", NULL, 405),
    ASK_WITH("PATCH", "PATCH", "/l/abc", JSON, NULL, "{\"url\": \"https://evil.example/\"}", NULL,
      405),
    ASK_WITH("TRACE", "TRACE", "/l/abc", "X-Injected: 1", NULL, NULL, NULL, 405),
    RAW("CONNECT", "CONNECT /l/abc" H11, NULL, 405, 400),
    RAW("CONNECT host:port", "CONNECT example.com:443" H11, NULL, 405, 400, 404),
    RAW("made-up method", "FROB /l/abc" H11, NULL, 405),
    RAW("lower-case get", "get /l/abc" H11, NULL, 405),
    RAW("method with a CR", "GE\rT /l/abc" H11, NULL, 400, 501),
    ASK("HEAD of a 404", "HEAD", "/l/nosuch%0d%0a", NULL, 404, 400),

    /* --- absurd headers ---------------------------------------------------- */
    ASK_WITH("7000-byte header value", "GET", "/l/abc", "X-Big: {v*7000}", NULL, NULL,
      "https://example.com/abc", 302),
    ASK_WITH("9000-byte header value (over LimitRequestFieldSize)", "GET", "/l/abc",
      "X-Big: {w*9000}", NULL, NULL, NULL, 400),
    { "90 headers", "GET", "/l/abc", { NULL }, 90, NULL, { 302 }, "https://example.com/abc" },
    { "100 headers (with curl's, over LimitRequestFields)", "GET", "/l/abc", { NULL }, 100, NULL,
      { 400, 302 }, "https://example.com/abc" },
    RAW("Host with a CRLF and a Set-Cookie after it",
      "GET /l/abc HTTP/1.1\r\nHost: evil.example\r\nSet-Cookie: injected=1\r\n",
      "https://example.com/abc", 302),
    RAW("Host with a bare CR", "GET /l/abc HTTP/1.1\r\nHost: a\rSet-Cookie: injected=1\r\n",
      NULL, 400),
    ASK_WITH("Host with an encoded CRLF", "GET", "/l/abc", "Host: a%0d%0aSet-Cookie:injected=1",
      NULL, NULL, "https://example.com/abc", 400, 302),
    RAW("two Host headers", "GET /l/abc HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n", NULL, 400),
    RAW("obs-fold header continuing with a Set-Cookie",
      "GET /l/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n Set-Cookie: injected=1\r\n",
      "https://example.com/abc", 400, 302),
    RAW("header without a colon",
      "GET /l/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nSet-Cookie injected\r\n", NULL, 400),
    RAW("NUL in a header value",
      "GET /l/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a{NUL}Set-Cookie: injected=1\r\n", NULL,
      400),

    /* --- creation: schemes that must never be stored ------------------- */
    JSON_POST("JSON javascript:", "{\"url\": \"javascript:alert(document.cookie)\"}", NULL, 400),
    JSON_POST("JSON JaVaScRiPt: with a tab", "{\"url\": \"JaVa\\tScRiPt:alert(1)\"}", NULL, 400),
    JSON_POST("JSON leading space javascript:", "{\"url\": \" javascript:alert(1)\"}", NULL, 400),
    JSON_POST("JSON data:", "{\"url\": \"data:text/html,<script>alert(1)</script>\"}", NULL, 400),
    JSON_POST("JSON file:", "{\"url\": \"file:///etc/passwd\"}", NULL, 400),
    JSON_POST("JSON vbscript:", "{\"url\": \"vbscript:msgbox(1)\"}", NULL, 400),
    JSON_POST("JSON https:javascript (no //)", "{\"url\": \"https:javascript:alert(1)\"}", NULL,
      400),
    JSON_POST("JSON URL with a JSON-escaped CRLF",
      "{\"url\": \"https://example.com/\\r\\nSet-Cookie: injected=1\"}", NULL, 400),
    JSON_POST("JSON URL with \\u0000", "{\"url\": \"https://example.com/\\u0000x\"}", NULL, 400),
    JSON_POST("JSON URL with a user:password@", "{\"url\": \"https://example.com@evil.example/\"}",
      NULL, 400),
    JSON_POST("JSON slug with a CRLF",
      "{\"url\": \"https://example.com/ok\", \"slug\": \"a\\r\\nSet-Cookie: injected=1\"}", NULL,
      400),
    JSON_POST("JSON slug ../abc", "{\"url\": \"https://example.com/ok\", \"slug\": \"../abc\"}",
      NULL, 400),
    JSON_POST("JSON slug of 65 characters",
      "{\"url\": \"https://example.com/ok\", \"slug\": \"{s*65}\"}", NULL, 400),
    JSON_POST("JSON slug that is a number", "{\"url\": \"https://example.com/ok\", \"slug\": 12}",
      NULL, 400),
    JSON_POST("JSON maxVisits that is a string",
      "{\"url\": \"https://example.com/ok\", \"maxVisits\": \"5\"}", NULL, 400),
    JSON_POST("JSON maxVisits of 2^31", "{\"url\": \"https://example.com/ok\", "
      "\"maxVisits\": 2147483648}", NULL, 400),
    JSON_POST("JSON crawlable that is a number",
      "{\"url\": \"https://example.com/ok\", \"crawlable\": 1}", NULL, 400),
    JSON_POST("JSON password that is a number",
      "{\"url\": \"https://example.com/ok\", \"password\": 1234}", NULL, 400),
    JSON_POST("JSON tags that are numbers", "{\"url\": \"https://example.com/ok\", "
      "\"tags\": [1, 2]}", NULL, 400),
    JSON_POST("JSON title with \\u0000",
      "{\"url\": \"https://example.com/ok\", \"title\": \"a\\u0000b\"}", NULL, 400),
    JSON_POST("JSON validSince that is no date",
      "{\"url\": \"https://example.com/ok\", \"validSince\": \"tomorrow\"}", NULL, 400),
    JSON_POST("JSON fallbackUrl javascript:", "{\"url\": \"https://example.com/ok\", "
      "\"fallbackUrl\": \"javascript:alert(1)\"}", NULL, 400),
    JSON_POST("JSON redirectRules that is an object", "{\"url\": \"https://example.com/ok\", "
      "\"redirectRules\": {\"longUrl\": \"https://example.com/\"}}", NULL, 400),
    JSON_POST("JSON redirect rule with an unknown condition", "{\"url\": "
      "\"https://example.com/ok\", \"redirectRules\": [{\"longUrl\": "
      "\"https://example.com/r\", \"conditions\": [{\"type\": \"moon-phase\"}]}]}", NULL, 400),
    JSON_POST("JSON that is not UTF-8", "{\"url\": \"https://example.com/\xff\xfe\"}", NULL, 400),
    JSON_POST("JSON URL with an escaped non-ASCII character",
      "{\"url\": \"https://example.com/\\u00ff\"}", NULL, 400),
    JSON_POST("JSON nested 10000 deep", "{[*10000}", NULL, 400, 413),
    JSON_POST("JSON array", "[\"https://example.com/\"]", NULL, 400),
    JSON_POST("empty JSON body", "", NULL, 400),

    /* --- creation: overlong --------------------------------------------- */
    JSON_POST("JSON URL of 2049 bytes", "{\"url\": \"https://example.com/{a*2029}\"}", NULL, 400),
    JSON_POST("JSON URL of 5000 bytes", "{\"url\": \"https://example.com/{b*4980}\"}", NULL, 400),
    JSON_POST("JSON body of 100000 bytes", "{\"url\": \"https://example.com/{c*99969}\"}", NULL,
      413, 400),
    JSON_POST("JSON body of 16385 bytes (over 16 KiB)",
      "{\"url\": \"https://example.com/{d*16354}\"}", NULL, 413, 400),
    FORM_POST("form body over 16 KiB", "csrf={TOKEN}&url=https%3A%2F%2Fexample.com%2F{e*17000}",
      NULL, 413, 400),

    /* --- creation: forms ------------------------------------------------- */
    FORM_POST("form javascript:", "csrf={TOKEN}&url=javascript%3Aalert(1)", NULL, 400),
    FORM_POST("form data:",
      "csrf={TOKEN}&url=data%3Atext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E", NULL, 400),
    FORM_POST("form file:", "csrf={TOKEN}&url=file%3A%2F%2F%2Fetc%2Fpasswd", NULL, 400),
    FORM_POST("form vbscript:", "csrf={TOKEN}&url=vbscript%3Amsgbox(1)", NULL, 400),
    FORM_POST("form URL with a decoded CRLF",
      "csrf={TOKEN}&url=https%3A%2F%2Fexample.com%2F%0D%0ASet-Cookie%3A%20injected%3D1", NULL, 400),
    FORM_POST("form URL with a NUL", "csrf={TOKEN}&url=https%3A%2F%2Fexample.com%2F%00x", NULL,
      400),
    FORM_POST("form slug with a CRLF",
      "csrf={TOKEN}&url=https%3A%2F%2Fexample.com%2Fok&slug=a%0d%0aSet-Cookie:injected", NULL, 400),
    ASK_WITH("form javascript: without a token", "POST", "/l/", FORM, NULL,
      "url=javascript%3Aalert(1)", NULL, 403),
    ASK_WITH("form with a CRLF in the cookie", "POST", "/l/", FORM,
      "Cookie: minilink_csrf={TOKEN}%0d%0aSet-Cookie: injected=1",
      "csrf={TOKEN}&url=https%3A%2F%2Fexample.com%2Fcookie", NULL, 403),
    ASK_WITH("text/plain javascript:", "POST", "/l/", "Content-Type: text/plain", NULL,
      "javascript:alert(1)", NULL, 415),
    ASK_WITH("POST to a slug-less path outside /l", "POST", "/", JSON, NULL,
      "{\"url\": \"https://example.com/\"}", NULL, 404),

    /* --- creation that succeeds: an encoded CRLF is just text ---------- */
    JSON_POST("JSON URL with an encoded CRLF (valid: stored as is)",
      "{\"url\": \"https://example.com/%0d%0aSet-Cookie:%20injected=1\", \"slug\": \"crlfenc\"}",
      "http://127.0.0.1:{PORT}/l/crlfenc", 201),
    ASK("... and its redirect", "GET", "/l/crlfenc?y=%0d%0a",
      "https://example.com/%0d%0aSet-Cookie:%20injected=1?y=%0d%0a", 302),
};

/* ---- sending one and checking its answer ---------------------------- */

static const char *g_token;   /* {TOKEN}, fetched once per suite */

/* Expands a template (see the top of the file); NULL stays NULL. */
static buffer expand(const char *t)
{
    buffer b = { t ? xstrdup("") : NULL, 0 };
    const char *close, *run;
    size_t len;
    long n;

    for (; t && *t; t = close + 1) {
        close = strchr(t, '}');
        run = t;
        len = 1;
        if (*t != '{' || close == NULL) {
            close = t;
        }
        else if (strncmp(t, "{NUL}", 5) == 0) {
            run = "";   /* its terminating NUL */
        }
        else if (strncmp(t, "{PORT}", 6) == 0) {
            len = strlen(run = tfmt("%d", g_srv->port));
        }
        else if (strncmp(t, "{TOKEN}", 7) == 0) {
            len = strlen(run = g_token ? g_token : "no-token");
        }
        else if (close - t >= 4 && t[2] == '*' && (n = strtol(t + 3, NULL, 10)) > 0) {
            len = (size_t)n;
            run = memset(talloc(len), t[1], len);
        }
        else {
            close = t;   /* not ours: a plain '{' */
        }
        buffer_add(&b, run, len);
    }
    tkeep(b.data);
    return b;
}

/* "Name:" at the start of a header line, case-insensitively. */
static int line_is(const char *line, size_t len, const char *name)
{
    return len >= strlen(name) && strncasecmp(line, name, strlen(name)) == 0;
}

static int line_has(const char *line, size_t len, const char *needle)
{
    return strcasestr(tfmt("%.*s", (int)len, line), needle) != NULL;
}

/* s with every byte outside printable ASCII as \xNN. */
static char *printable(const char *s, size_t len)
{
    char *out = talloc(len * 4 + 1), *o = out;
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        o += c >= 0x20 && c < 0x7f ? sprintf(o, "%c", c) : sprintf(o, "\\x%02x", c);
    }
    return out;
}

/* The checks described at the top, for answer r to request number i. Returns 1 if all passed. */
static int check_answer(size_t i, const hostile_request *q, const http_response *r,
                        const char *location)
{
    const char *line = r->headers, *what = q->what;
    char *statuses = "";
    int ok = 1, locations = 0, allowed = 0, k;

    for (k = 0; k < MAX_ALLOWED && q->status[k] != 0; k++) {
        allowed |= q->status[k] == HTTP09 ? r->status == 0 : r->status == q->status[k];
        statuses = q->status[k] == HTTP09 ? tfmt("%s%sno status line", statuses, k ? "/" : "")
                                          : tfmt("%s%s%ld", statuses, k ? "/" : "", q->status[k]);
    }
    if (r->curl_code != 0) {
        /* Apache may drop a connection it refuses; only a raw exchange that got nothing at all is
         * a failure. */
        return CHECK(0, "#%zu %s: transport error: %s", i, what, r->error);
    }
    ok &= CHECK(allowed, "#%zu %s: status %ld, expected %s", i, what, r->status, statuses);
    /* Every header line, the status line included. */
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line), j;
        size_t content = len > 0 && line[len - 1] == '\r' ? len - 1 : len;

        if (line_is(line, content, "Location:")) {
            locations++;
        }
        if ((line_is(line, content, "Set-Cookie:") && line_has(line, content, "injected"))
            || line_is(line, content, "X-Injected")
            || line_has(line, content, "<html>injected")) {
            ok &= CHECK(0, "#%zu %s: an injected header line: \"%s\"", i, what,
                        printable(line, content));
        }
        for (j = 0; j < content && ((unsigned char)line[j] >= 0x20 || line[j] == '\t')
                    && line[j] != 0x7f; j++) {
        }
        if (j < content) {
            ok &= CHECK(0, "#%zu %s: a control character in the header line \"%s\"", i, what,
                        printable(line, content));
        }
        line = nl ? nl + 1 : NULL;
    }
    ok &= CHECK(locations <= 1, "#%zu %s: %d Location headers", i, what, locations);
    if (r->status == 405) {
        ok &= CHECK(r->allow && strstr(r->allow, "GET") != NULL,
                    "#%zu %s: 405 with Allow \"%s\", expected one naming GET", i, what,
                    str_or_null(r->allow));
    }
    if (q->method && strcmp(q->method, "POST") == 0 && strcmp(q->target, "/l/") == 0
        && q->headers[0] && strcmp(q->headers[0], JSON) == 0
        && (r->status == 400 || r->status == 413)) {
        char *type = tkeep(http_header(r, "Content-Type"));
        ok &= CHECK(type && strncmp(type, "application/json", 16) == 0 && r->body
                    && strstr(r->body, "\"error\"") != NULL,
                    "#%zu %s: a JSON request refused (%ld) without a JSON error: "
                    "Content-Type \"%s\", body %.200s", i, what, r->status,
                    str_or_null(type), str_or_null(r->body));
    }
    if (r->status >= 300 && r->status < 400) {
        ok &= CHECK(r->location && location && strcmp(r->location, location) == 0,
                    "#%zu %s: %ld with Location \"%s\", expected \"%s\"", i, what,
                    r->status, str_or_null(r->location), str_or_null(location));
        ok &= CHECK(r->location && (strncmp(r->location, "https://", 8) == 0
                                    || strncmp(r->location, "http://", 7) == 0),
                    "#%zu %s: Location \"%s\" is not an http(s) URL", i, what,
                    str_or_null(r->location));
    }
    else if (r->status == 201) {
        ok &= CHECK(r->location && location && strcmp(r->location, location) == 0,
                    "#%zu %s: 201 with Location \"%s\", expected the short URL \"%s\"",
                    i, what, str_or_null(r->location), str_or_null(location));
    }
    else {
        ok &= CHECK(r->location == NULL, "#%zu %s: status %ld with a Location \"%s\"",
                    i, what, r->status, str_or_null(r->location));
    }
    return ok;
}

/* Sends request q (expanded): curl, or raw bytes over a socket. */
static http_response *send_hostile(const hostile_request *q)
{
    buffer path = expand(q->target), body = expand(q->body);
    const char **headers = talloc(((size_t)q->filler_headers + 5) * sizeof *headers);
    http_request_spec req = { q->method, NULL, path.data, headers, body.data, body.len, NULL };
    http_response r;
    raw_client *raw;
    int n = 0, k;

    if (q->method == NULL) {
        raw = raw_client_new(g_srv->port);
        raw_client_exchange(raw, path.data, path.len, &r);
        raw_client_free(raw);
        return tkeep_response(&r);
    }
    for (k = 0; k < 4; k++) {
        if (q->headers[k]) {
            headers[n++] = expand(q->headers[k]).data;
        }
    }
    for (k = 0; k < q->filler_headers; k++) {
        headers[n++] = tfmt("X-Filler-%d: %d", k, k);
    }
    return ask_spec(g_srv, &req);
}

/* ---- tests ---------------------------------------------------------- */

static void test_bad_rows_skipped_at_load(void)
{
    size_t i;
    CHECK(httpd_error_log_wait(g_srv, "ML00002", 0, BOUNDED_WAIT_MS) >= 0,
          "no ML00002 line (database loaded) within %d ms of the start", BOUNDED_WAIT_MS);
    for (i = 0; i < ARRAY_LEN(bad_slugs); i++) {
        char *quoted = tfmt("link '%s'", bad_slugs[i]);

        CHECK(ml_log_lines_naming(quoted) >= 1 && httpd_error_log_count(g_srv, "ML00003") >= 1,
              "no ML00003 line names the refused row %s", quoted);
    }
}

static void test_hostile_table(void)
{
    size_t n = ARRAY_LEN(hostile_requests), i;
    int failed = 0, verbose = getenv("MINILINK_HOSTILE_VERBOSE") != NULL;
    long t = now_ms();

    g_token = form_token_at(HERE, "/l");
    for (i = 0; i < n; i++) {
        const hostile_request *q = &hostile_requests[i];
        http_response *r = send_hostile(q);

        if (verbose) {
            fprintf(stderr, "\n    #%zu %-7s %-60.60s -> %ld %s", i,
                    q->method ? q->method : "(raw)", q->what, r->status,
                    str_or_null(r->location));
        }
        if (!check_answer(i, q, r, expand(q->location).data)) {
            fprintf(stderr, "    #%zu %s %s: answer head: %.1500s\n", i,
                    q->method ? q->method : "(raw)", q->what,
                    printable(r->headers, strlen(r->headers)));
            failed++;
        }
    }
    fprintf(stderr, "[%zu hostile requests in %ld ms, %d with problems] ", n, now_ms() - t, failed);
    CHECK(n >= 40, "only %zu requests in the table", n);
}

static void test_still_serving(void)
{
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/l/q?x=1", 302, "https://example.com/search?lang=en&x=1#top");
    EXPECT("HEAD", NULL, "/l/perm", 301, "https://example.com/permanent");
    GET("/l/js", 404, NULL);
    GET("/l/crlf", 404, NULL);
}

static CU_TestInfo hostile_tests[] = {
    { "refused rows skipped at load (ML00003)", test_bad_rows_skipped_at_load },
    { "the table of hostile requests", test_hostile_table },
    { "still answering normal redirects", test_still_serving },
    CU_TEST_INFO_NULL,
};

/* Crash lines only: Apache's own refusals log at core:error/info (AH00126 "Invalid URI in request"
 * and the like), which are not crashes. */
static const char *const hostile_crash_lines[] = {
    "AH00051", "AH00052", "AH00060", "Segmentation fault", "exit signal", "Aborted",
    "[core:emerg]", "[minilink:crit]", "[minilink:emerg]", NULL
};

static const suite_group hostile_group = {
    .name = "hostile", .tests = hostile_tests, .config = hostile_config,
    .modules = "slotmem_shm",   /* MinilinkCreate's rate limit */
    .links = hostile_links, .nlinks = ARRAY_LEN(hostile_links),
    .links_sql = hostile_bad_rows_sql, .bad_lines = hostile_crash_lines,
};

void add_hostile_suites(void)
{
    add_group(&hostile_group);
}
