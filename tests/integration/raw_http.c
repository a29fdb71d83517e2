/*
 * raw_http.c - HTTP on a plain socket: the bytes a test writes go out as they are (a raw CR, LF or
 * NUL, made-up methods: curl will not send those), and a request is never sent again, so a client
 * knows which requests got no complete answer (curl resends one whose kept-alive connection died,
 * which is right for a browser and would count twice here).
 */
#include <sys/socket.h>

#include "harness.h"

#define TIMEOUT_S 15   /* as curl's: no answer within, the exchange failed */

const char *const raw_outcome_names[RAW_OUTCOMES] = {
    "answered", "closed before any answer byte", "reset before any answer byte",
    "answer cut short", "other", "no connection"
};

struct raw_client {
    int fd;
    int port;
    buffer in;    /* read and not yet handed out */
};

raw_client *raw_client_new(int port)
{
    raw_client *c = xrealloc(NULL, sizeof *c);
    *c = (raw_client){ -1, port, { xstrdup(""), 0 } };
    return c;
}

static void raw_close(raw_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->in.len = 0;
}

void raw_client_free(raw_client *c)
{
    if (c) {
        raw_close(c);
        free(c->in.data);
        free(c);
    }
}

/* Reads more: bytes read, 0 at the close, -1 on an error (errno). */
static ssize_t raw_fill(raw_client *c)
{
    char chunk[8192];
    ssize_t n;
    do {
        n = recv(c->fd, chunk, sizeof chunk, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        buffer_add(&c->in, chunk, (size_t)n);
    }
    return n;
}

/* Reads until `need` bytes are in; 0, or -1 (errno 0: closed). */
static int raw_need(raw_client *c, size_t need)
{
    while (c->in.len < need) {
        ssize_t n = raw_fill(c);
        if (n <= 0) {
            errno = n == 0 ? 0 : errno;
            return -1;
        }
    }
    return 0;
}

/* Reads one whole answer into the buffer: its length, or -1 (errno 0: closed).  It ends after
 * Content-Length bytes of body, else with the connection (so does an HTTP/0.9 answer, which has no
 * head at all); *to_close says whether the connection ends with it. */
static long read_answer(raw_client *c, int *to_close)
{
    const char *end = NULL;
    http_response head = { 0 };
    char *length = NULL, *connection = NULL;
    long total = 0;
    ssize_t n;

    while (strncmp(c->in.data, "HTTP/", c->in.len < 5 ? c->in.len : 5) == 0
           && (end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4)) == NULL) {
        if (raw_need(c, c->in.len + 1) != 0) {
            return -1;
        }
    }
    if (end) {
        head.headers = strndup(c->in.data, (size_t)(end - c->in.data) + 4);
        length = http_header(&head, "Content-Length");
        connection = http_header(&head, "Connection");
        total = length ? (long)(strlen(head.headers) + strtoul(length, NULL, 10)) : 0;
        *to_close = connection && strcasestr(connection, "close");
        free(length);
        free(connection);
        free(head.headers);
    }
    if (total > 0) {
        return raw_need(c, (size_t)total) == 0 ? total : -1;
    }
    *to_close = 1;
    while ((n = raw_fill(c)) > 0) {
    }
    return n == 0 ? (long)c->in.len : -1;
}

raw_outcome raw_client_exchange(raw_client *c, const char *data, size_t len, http_response *resp)
{
    raw_outcome outcome = RAW_ANSWERED;
    size_t sent = 0;
    int send_error = 0, to_close = 0;
    long end = -1;

    memset(resp, 0, sizeof *resp);
    if (c->fd < 0 && (c->fd = loopback_connect(c->port, TIMEOUT_S)) < 0) {
        snprintf(resp->error, sizeof resp->error, "connect: %s", strerror(errno));
        resp->curl_code = -1;
        http_response_parse(resp, "", 0);
        return RAW_NO_CONNECTION;
    }
    while (sent < len) {
        ssize_t n = send(c->fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            send_error = errno;   /* the server may have answered and closed */
            break;
        }
        sent += (size_t)n;
    }
    end = read_answer(c, &to_close);
    if (end < 0) {
        int why = errno;
        outcome = c->in.len > 0 ? RAW_CUT_SHORT : send_error ? RAW_OTHER
                  : why == 0 ? RAW_CLOSED_UNANSWERED
                  : why == ECONNRESET ? RAW_RESET_UNANSWERED : RAW_OTHER;
        snprintf(resp->error, sizeof resp->error, "%s%s%s", raw_outcome_names[outcome],
                 why || send_error ? ": " : "",
                 why || send_error ? strerror(send_error ? send_error : why) : "");
        end = (long)c->in.len;
        to_close = 1;
    }
    http_response_parse(resp, c->in.data, (size_t)end);
    resp->curl_code = end > 0 ? 0 : -1;
    /* What came after this answer stays for the next one. */
    memmove(c->in.data, c->in.data + end, c->in.len - (size_t)end + 1);
    c->in.len -= (size_t)end;
    if (to_close) {
        raw_close(c);
    }
    return outcome;
}
