/*
 * http.c - the HTTP client (libcurl, one keep-alive connection per http_client) and the response
 * type every test reads.
 */

#include <curl/curl.h>

#include "harness.h"

struct http_client {
    CURL *curl;
    int port;
};

static size_t buffer_append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buffer_add(userdata, ptr, size * nmemb);
    return size * nmemb;
}

http_client *http_client_new(int port)
{
    http_client *client = xrealloc(NULL, sizeof *client);
    client->curl = curl_easy_init();
    client->port = port;
    if (client->curl == NULL) {
        free(client);
        return NULL;
    }
    return client;
}

void http_client_free(http_client *client)
{
    if (client) {
        curl_easy_cleanup(client->curl);
        free(client);
    }
}

int http_client_send(http_client *client, const http_request_spec *req, http_response *resp)
{
    CURL *curl = client->curl;
    struct curl_slist *extra = NULL;
    buffer headers = { xstrdup(""), 0 }, body = { xstrdup(""), 0 };
    char *url = xasprintf("http://127.0.0.1:%d%s", client->port, req->path);
    char errbuf[CURL_ERROR_SIZE] = "";
    char *host_header = NULL;
    const char *method = req->method;
    CURLcode rc;
    size_t i;

    memset(resp, 0, sizeof *resp);
    /* Keeps the connection cache: the next request reuses the connection. */
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, buffer_append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buffer_append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);

    if (strcmp(method, "GET") == 0 && req->body == NULL) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }
    else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (req->body) {
            /* curl sends POSTFIELDS with the custom method. */
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }
    if (req->userpwd) {
        /* Sent with the first request, as a browser does after a 401. */
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, req->userpwd);
    }
    if (req->host) {
        host_header = xasprintf("Host: %s", req->host);
        extra = curl_slist_append(extra, host_header);
    }
    extra = curl_slist_append(extra, "Expect:");
    for (i = 0; req->headers && req->headers[i]; i++) {
        extra = curl_slist_append(extra, req->headers[i]);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, extra);

    rc = curl_easy_perform(curl);
    resp->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    else {
        snprintf(resp->error, sizeof resp->error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    resp->headers = headers.data;
    resp->body = body.data;
    resp->body_len = body.len;
    resp->location = http_header(resp, "Location");
    resp->allow = http_header(resp, "Allow");

    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(extra);
    free(host_header);
    free(url);
    return rc == CURLE_OK ? 0 : -1;
}

int http_client_request(http_client *client, const char *method, const char *host, const char *path,
                        http_response *resp)
{
    http_request_spec req = { .method = method, .host = host, .path = path };
    return http_client_send(client, &req, resp);
}

int http_send(int port, const http_request_spec *req, http_response *resp)
{
    http_client *client = http_client_new(port);
    int rc;

    if (client == NULL) {
        memset(resp, 0, sizeof *resp);
        snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
        resp->headers = xstrdup("");
        resp->body = xstrdup("");
        return -1;
    }
    rc = http_client_send(client, req, resp);
    http_client_free(client);
    return rc;
}

int http_request(int port, const char *method, const char *host,
                 const char *path, http_response *resp)
{
    http_request_spec req = { .method = method, .host = host, .path = path };
    return http_send(port, &req, resp);
}

char *http_header(const http_response *resp, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = resp->headers;

    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len > name_len && strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *v = line + name_len + 1, *e = line + len;

            while (v < e && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }
            return strndup(v, (size_t)(e - v));
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

int http_headers_contain(const http_response *resp, const char *needle)
{
    return resp->headers && strcasestr(resp->headers, needle) != NULL;
}

void http_response_free(http_response *resp)
{
    free(resp->headers);
    free(resp->location);
    free(resp->allow);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

int response_is(const http_response *resp, long status, const char *location)
{
    if (resp->curl_code != 0 || resp->status != status) {
        return 0;
    }
    if (location == NULL || *location == '\0') {
        return resp->location == NULL;
    }
    return resp->location && strcmp(resp->location, location) == 0;
}

void http_response_parse(http_response *resp, const char *data, size_t len)
{
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    size_t head = end && len >= 12 && strncmp(data, "HTTP/", 5) == 0 ? (size_t)(end - data) + 4 : 0;
    const char *space = head ? memchr(data, ' ', head) : NULL;
    buffer body = { xstrdup(""), 0 };

    resp->status = space ? strtol(space + 1, NULL, 10) : 0;
    resp->headers = head ? strndup(data, head) : xstrdup("");
    buffer_add(&body, data + head, len - head);
    resp->body = body.data;
    resp->body_len = body.len;
    resp->location = http_header(resp, "Location");
    resp->allow = http_header(resp, "Allow");
}
