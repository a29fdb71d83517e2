/*
 * fuzz_visits.c - the visits ring of cache/ml_visits.h against a model: a
 * queue of the visits published and not yet released.
 *
 * Input: one byte of geometry (slots: 16 << (byte % 3)), then operations
 * until the input runs out:
 *
 *   op % 4 == 0, 1  record a visit: a kind byte, an id byte, then path,
 *                   referrer, user agent, redirect URL and country, each a
 *                   length byte and that many raw bytes (any byte but NUL),
 *                   then an IP family byte and 16 address bytes
 *   op % 4 == 2     read up to (next byte % 40) visits from the head
 *   op % 4 == 3     read as above, then release what was read
 *
 * After every operation: a visit is dropped exactly when the model holds
 * as many as the ring has slots; reads return the model's visits, in
 * order, with their kind, link and time exact; every string read is valid
 * UTF-8 without control characters and within its documented size; a
 * field of plain printable ASCII comes back as given, cut to its size; an
 * address comes back anonymised; the statistics add up.
 */
#include <arpa/inet.h>
#include <string.h>
#include <apr_pools.h>
#include "../../cache/ml_visits.h"
#include "fuzz_common.h"

#define MODEL_MAX 64

typedef struct {
    ml_visit_kind kind;
    apr_int64_t link_id;
    apr_int64_t visited_at;
    char path[256];
    int path_plain;               /* printable ASCII only */
} model_visit;

typedef struct {
    const unsigned char *data;
    size_t size, at;
} input;

static unsigned int take(input *in)
{
    return in->at < in->size ? in->data[in->at++] : 0;
}

/* A length byte, then that many bytes as a NUL-terminated string (NULs
 * in the input become 1s); *plain: printable ASCII only. */
static void take_text(input *in, char *out, int *plain)
{
    unsigned int len = take(in), i;

    *plain = 1;
    for (i = 0; i < len && in->at < in->size; i++) {
        unsigned char c = (unsigned char)take(in);
        out[i] = (char)(c ? c : 1);
        *plain &= c >= 0x20 && c < 0x7F;
    }
    out[i] = '\0';
}

/* Valid UTF-8, no control characters, at most max bytes. */
static int clean_text(const char *text, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text), at = 0;

    if (len > max) {
        return 0;
    }
    while (at < len) {
        size_t need = s[at] < 0x80 ? 1 : (s[at] & 0xE0) == 0xC0 ? 2
                    : (s[at] & 0xF0) == 0xE0 ? 3 : (s[at] & 0xF8) == 0xF0 ? 4 : 0;
        size_t i;
        if (s[at] < 0x20 || s[at] == 0x7F || need == 0 || at + need > len) {
            return 0;
        }
        for (i = 1; i < need; i++) {
            if ((s[at + i] & 0xC0) != 0x80) {
                return 0;
            }
        }
        at += need;
    }
    return 1;
}

/* The address as text ends in ".0" (IPv4) or "::" (IPv6). */
static int anonymised(const char *ip)
{
    size_t len = strlen(ip);

    return len == 0 || (len > 2 && strcmp(ip + len - 2, ".0") == 0)
           || (len >= 2 && strcmp(ip + len - 2, "::") == 0);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static model_visit model[MODEL_MAX];
    static ml_visit_record got[40];
    input in = { data, size, 0 };
    apr_size_t queued = 0, first = 0;      /* model[first .. first+queued) */
    apr_uint64_t recorded = 0, dropped = 0, released = 0;
    apr_uint32_t slots;
    apr_pool_t *pool;
    ml_visits *ring;
    ml_visits_stats stats;

    apr_pool_create(&pool, NULL);
    slots = 16u << (take(&in) % 3);
    CHECK(ml_visits_create(&ring, slots, pool) == APR_SUCCESS);
    CHECK(ml_visits_slots(ring) == slots);
    while (in.at < in.size) {
        unsigned int op = take(&in) % 4;
        if (op < 2) {
            static char path[256], referrer[256], agent[256], url[256],
                        country[256];
            unsigned char ip[16];
            int plain, ignored, published;
            ml_visit visit;
            memset(&visit, 0, sizeof(visit));
            visit.kind = (ml_visit_kind)(take(&in) % ML_VISIT_KINDS);
            visit.link_id = visit.kind == ML_VISIT_LINK ? 1 + take(&in) : 0;
            visit.visited_at = 1700000000 + (apr_int64_t)(recorded + dropped);
            take_text(&in, path, &plain);
            take_text(&in, referrer, &ignored);
            take_text(&in, agent, &ignored);
            take_text(&in, url, &ignored);
            take_text(&in, country, &ignored);
            visit.ip_family = take(&in) % 3 * 2;          /* 0, 2, 4 */
            visit.ip_family += visit.ip_family == 2 ? 4 : 0; /* 0, 6, 4 */
            for (unsigned int i = 0; i < 16; i++) {
                ip[i] = (unsigned char)take(&in);
            }
            visit.path = path;
            visit.referrer = referrer;
            visit.user_agent = agent;
            visit.redirect_url = url;
            visit.country = country;
            visit.ip = ip;
            published = ml_visits_record(ring, 1, &visit);
            CHECK(published == (queued < slots));
            if (published) {
                model_visit *m = &model[(first + queued++) % MODEL_MAX];
                m->kind = visit.kind;
                m->link_id = visit.link_id;
                m->visited_at = visit.visited_at;
                strcpy(m->path, path);
                m->path_plain = plain;
                recorded++;
            }
            else {
                dropped++;
            }
        }
        else {
            apr_size_t max = take(&in) % 40, n, i;
            apr_uint64_t next;
            n = ml_visits_read(ring, ml_visits_head(ring), got, max, &next,
                               1700000000, 10);
            CHECK(n == (queued < max ? queued : max));
            for (i = 0; i < n; i++) {
                const model_visit *m = &model[(first + i) % MODEL_MAX];
                const ml_visit_record *r = &got[i];
                CHECK(r->position == released + i);
                CHECK(r->kind == m->kind);
                CHECK(r->link_id == m->link_id);
                CHECK(r->visited_at == m->visited_at);
                CHECK(clean_text(r->path, ML_VISIT_PATH_MAX));
                CHECK(clean_text(r->referrer, ML_VISIT_REFERRER_MAX));
                CHECK(clean_text(r->user_agent, ML_VISIT_USER_AGENT_MAX));
                CHECK(clean_text(r->redirect_url, ML_VISIT_URL_MAX));
                CHECK(strlen(r->country) == 0
                      || (strlen(r->country) == 2 && r->country[0] >= 'A'
                          && r->country[0] <= 'Z' && r->country[1] >= 'A'
                          && r->country[1] <= 'Z'));
                CHECK(anonymised(r->ip));
                if (m->path_plain) {
                    CHECK(strncmp(r->path, m->path, ML_VISIT_PATH_MAX) == 0);
                    CHECK(strlen(r->path) == (strlen(m->path) < ML_VISIT_PATH_MAX
                                              ? strlen(m->path)
                                              : ML_VISIT_PATH_MAX));
                }
            }
            CHECK(next == released + n);
            if (op == 3) {
                ml_visits_release(ring, next, 1700000000);
                first = (first + n) % MODEL_MAX;
                queued -= n;
                released += n;
            }
        }
        ml_visits_stats_get(ring, &stats);
        CHECK(stats.recorded == recorded && stats.dropped == dropped);
        CHECK(stats.written == released && stats.pending == queued);
        CHECK(stats.lost == 0 && ml_visits_head(ring) == released);
    }
    apr_pool_destroy(pool);
    return 0;
}
