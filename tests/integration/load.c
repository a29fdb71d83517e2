/*
 * load.c - load: threads, each on its own keep-alive connection, asking for a set of paths in turn
 * and counting how each request ended.  No CUnit calls in the threads (CUnit is not thread-safe):
 * the test checks the totals.
 */
#include <pthread.h>

#include "harness.h"

#define MAX_CLIENTS 8

typedef struct {
    load_run *run;
    int id;
    int started;
    pthread_t thread;
    load_totals counts;      /* this client's; added up at the end */
    char first_problem[512];
} load_client;

struct load_run {
    load_spec spec;
    int stop;                /* atomic */
    long answered;           /* atomic: right answers so far */
    long attempts;           /* atomic: requests so far */
    load_client client[MAX_CLIENTS];
};

static void note_problem(load_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_problem(load_client *c, const char *fmt, ...)
{
    va_list ap;
    if (c->first_problem[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(c->first_problem, sizeof c->first_problem, fmt, ap);
        va_end(ap);
    }
}

/* One request for path k on curl or raw; counted. */
static void ask(load_client *c, http_client *curl, raw_client *raw, int k)
{
    const load_spec *spec = &c->run->spec;
    const char *host = spec->hosts[k];
    long status = spec->statuses[k] ? spec->statuses[k] : spec->status;
    load_totals *n = &c->counts;
    raw_outcome outcome = RAW_ANSWERED;
    http_response r;
    long t = now_ms();

    if (curl) {
        http_request_spec req = { spec->method ? spec->method : "GET", host, spec->paths[k],
                                  spec->headers, spec->body, spec->body ? strlen(spec->body) : 0,
                                  NULL };
        http_client_send(curl, &req, &r);
        outcome = r.curl_code == 0 ? RAW_ANSWERED : RAW_OTHER;
    }
    else {
        char request[1024], local[32];

        snprintf(local, sizeof local, "127.0.0.1:%d", spec->port);
        snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                 "User-Agent: minilink-load\r\n\r\n", spec->paths[k], host ? host : local);
        outcome = raw_client_exchange(raw, request, strlen(request), &r);
    }
    n->requests++;
    n->slowest_ms = now_ms() - t > n->slowest_ms ? now_ms() - t : n->slowest_ms;
    __atomic_add_fetch(&c->run->attempts, 1, __ATOMIC_RELAXED);
    if (outcome == RAW_ANSWERED && response_is(&r, status, spec->urls[k])) {
        n->ok[k]++;
        __atomic_add_fetch(&c->run->answered, 1, __ATOMIC_RELAXED);
    }
    else {
        if (outcome == RAW_NO_CONNECTION) {
            n->not_sent++;
            sleep_ms(10);
        }
        else if (outcome != RAW_ANSWERED) {
            n->uncertain[k]++;
            n->path_ended[k][outcome]++;
        }
        else {
            (*(r.status != status ? &n->wrong_status : &n->wrong_location))++;
        }
        note_problem(c, "%s %s (Host %s): %ld, Location \"%s\" (transport: %s); expected %ld "
                     "%s", spec->method ? spec->method : "GET", spec->paths[k], host ? host : "-",
                     r.status, r.location ? r.location : "(none)",
                     outcome == RAW_ANSWERED ? "ok" : r.error, status,
                     spec->urls[k] ? spec->urls[k] : "(none)");
    }
    http_response_free(&r);
}

static void *client_main(void *arg)
{
    load_client *c = arg;
    const load_spec *spec = &c->run->spec;
    http_client *curl = spec->use_curl ? http_client_new(spec->port) : NULL;
    raw_client *raw = spec->use_curl ? NULL : raw_client_new(spec->port);
    long done = 0;
    int k = c->id;

    if (spec->use_curl && curl == NULL) {
        c->counts.not_sent++;
        note_problem(c, "cannot make a curl client");
        return NULL;
    }
    while (!__atomic_load_n(&c->run->stop, __ATOMIC_ACQUIRE)
           && (spec->per_client == 0 || done++ < spec->per_client)) {
        ask(c, curl, raw, k++ % spec->npaths);
        if (spec->new_connections) {
            raw_client_free(raw);
            raw = raw_client_new(spec->port);
        }
        if (spec->think_us > 0) {
            usleep((useconds_t)spec->think_us);
        }
    }
    http_client_free(curl);
    raw_client_free(raw);
    return NULL;
}

load_run *load_begin(const load_spec *spec)
{
    load_run *run = xrealloc(NULL, sizeof *run);
    int i, started = 0;

    memset(run, 0, sizeof *run);
    run->spec = *spec;
    run->spec.clients = spec->clients > MAX_CLIENTS ? MAX_CLIENTS : spec->clients;
    for (i = 0; i < run->spec.clients; i++) {
        load_client *c = &run->client[i];

        c->run = run;
        c->id = i;
        c->started = pthread_create(&c->thread, NULL, client_main, c) == 0;
        started += c->started;
    }
    if (started == 0) {
        free(run);
        return NULL;
    }
    return run;
}

long load_answered(load_run *run)
{
    return run ? __atomic_load_n(&run->answered, __ATOMIC_RELAXED) : 0;
}

long load_attempts(load_run *run)
{
    return run ? __atomic_load_n(&run->attempts, __ATOMIC_RELAXED) : 0;
}

int load_wait_answered(load_run *run, long from, long count, long timeout_ms)
{
    POLL_UNTIL(run == NULL || load_answered(run) >= from + count, timeout_ms, 20);
    return run && load_answered(run) >= from + count;
}

void load_end(load_run *run, int stop, load_totals *t)
{
    int i, k, e;

    memset(t, 0, sizeof *t);
    if (run == NULL) {
        t->not_started = 1;
        return;
    }
    if (stop) {
        __atomic_store_n(&run->stop, 1, __ATOMIC_RELEASE);
    }
    for (i = 0; i < run->spec.clients; i++) {
        load_client *c = &run->client[i];
        const load_totals *n = &c->counts;

        if (c->started) {
            pthread_join(c->thread, NULL);
        }
        t->not_started += !c->started;
        t->requests += n->requests;
        t->not_sent += n->not_sent;
        t->wrong_status += n->wrong_status;
        t->wrong_location += n->wrong_location;
        t->slowest_ms = n->slowest_ms > t->slowest_ms ? n->slowest_ms : t->slowest_ms;
        for (k = 0; k < run->spec.npaths; k++) {
            t->ok[k] += n->ok[k];
            t->ok_total += n->ok[k];
            t->uncertain[k] += n->uncertain[k];
            t->uncertain_total += n->uncertain[k];
            for (e = 0; e < RAW_OUTCOMES; e++) {
                t->path_ended[k][e] += n->path_ended[k][e];
                t->ended[e] += n->path_ended[k][e];
            }
        }
        if (c->first_problem[0]) {
            fprintf(stderr, "\n    load client %d: %ld requests; first problem: %s\n", i,
                    n->requests, c->first_problem);
        }
    }
    t->failures = t->uncertain_total + t->not_sent + t->wrong_status;
    t->wrong = t->wrong_location;
    free(run);
}
