/*
 * raw_http.c - HTTP on a plain socket: the bytes a test writes go out as
 * they are (a raw CR, LF or NUL, made-up methods: curl will not send those),
 * and a request is never sent again, so a client knows which requests got
 * no complete answer (curl resends one whose kept-alive connection died,
 * which is right for a browser and would count twice here).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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

    c->fd = -1;
    c->port = port;
    c->in.data = xstrdup("");
    c->in.len = 0;
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

static int raw_connect(raw_client *c)
{
    struct sockaddr_in addr;
    struct timeval timeout = { TIMEOUT_S, 0 };
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -1;
    }
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)c->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        raw_close(c);
        errno = saved;
        return -1;
    }
    return 0;
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

/* Where the answer that starts the buffer ends (head_len: its head's), or
 * 0 when it ends with the connection.  -1 when more must be read first. */
static long answer_end(raw_client *c, size_t *head_len)
{
    const char *data = c->in.data, *end;
    char *value;
    http_response head;
    size_t at;

    if (strncmp(data, "HTTP/", c->in.len < 5 ? c->in.len : 5) != 0) {
        return 0;   /* HTTP/0.9: no head, it ends with the connection */
    }
    if ((end = memmem(data, c->in.len, "\r\n\r\n", 4)) == NULL) {
        return -1;
    }
    *head_len = (size_t)(end - data) + 4;
    memset(&head, 0, sizeof head);
    head.headers = strndup(data, *head_len);
    if ((value = http_header(&head, "Content-Length")) != NULL) {
        at = *head_len + strtoul(value, NULL, 10);
    }
    else if ((value = http_header(&head, "Transfer-Encoding")) != NULL
             && strcasestr(value, "chunked")) {
        /* Chunk by chunk, to the zero-size one and its CRLF. */
        for (at = *head_len;;) {
            const char *line_end = memmem(data + at, c->in.len - at, "\r\n", 2);
            unsigned long size;

            if (line_end == NULL) {
                at = 0;
                break;
            }
            size = strtoul(data + at, NULL, 16);
            at = (size_t)(line_end - data) + 2 + size + 2;
            if (size == 0 || at > c->in.len) {
                break;
            }
        }
        at = at == 0 || at > c->in.len ? c->in.len + 1 : at;   /* need more */
    }
    else {
        at = 0;
    }
    free(value);
    free(head.headers);
    return (long)at;
}

/* Reads one whole answer into the buffer: its length, or -1 (errno 0:
 * closed). */
static long read_answer(raw_client *c, int *to_close)
{
    size_t head_len = 0;
    long end;

    for (;;) {
        end = answer_end(c, &head_len);
        if (end > 0 && (size_t)end <= c->in.len) {
            char *connection;
            http_response head;

            memset(&head, 0, sizeof head);
            head.headers = strndup(c->in.data, head_len);
            connection = http_header(&head, "Connection");
            *to_close = connection && strcasestr(connection, "close") != NULL;
            free(connection);
            free(head.headers);
            return end;
        }
        if (end == 0) {
            /* No length: the answer ends with the connection. */
            ssize_t n;
            while ((n = raw_fill(c)) > 0) {
            }
            *to_close = 1;
            return n == 0 ? (long)c->in.len : -1;
        }
        if (raw_need(c, end > 0 ? (size_t)end : c->in.len + 1) != 0) {
            return -1;
        }
    }
}

raw_outcome raw_client_exchange(raw_client *c, const char *data, size_t len,
                                http_response *resp)
{
    raw_outcome outcome = RAW_ANSWERED;
    size_t sent = 0;
    int send_error = 0, to_close = 0;
    long end = -1;

    memset(resp, 0, sizeof *resp);
    if (c->fd < 0 && raw_connect(c) != 0) {
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
