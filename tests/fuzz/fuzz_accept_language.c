/*
 * fuzz_accept_language.c - Accept-Language matching (ml_rules.h's
 * ml_accept_language_matches, Shlink's meaning: a range with q >= 0.9
 * whose primary subtag is the language and, if the condition has one,
 * whose second subtag is its region).
 *
 * Input: the header, then 0xFF and the condition's language as typed.
 * The language goes through ml_condition_from() as a rule's would; when it
 * is accepted, the match must be what a second reading written here from
 * RFC 9110's grammar says (ranges separated by commas with optional
 * whitespace, a qvalue of "0" [ "." 0*3DIGIT ] or "1" [ "." 0*3("0") ],
 * tags compared without regard to case, "_" as "-").
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../links/ml_rules.h"
#include "fuzz_common.h"

#define SEPARATOR 0xFF

static apr_pool_t *root;

/* The qvalue of text[0..len) in thousandths, or -1 when it is none. */
static int qvalue(const char *text, size_t len)
{
    size_t i;
    int value, scale = 100;

    if (len == 0 || (text[0] != '0' && text[0] != '1')) {
        return -1;
    }
    value = text[0] == '1' ? 1000 : 0;
    if (len == 1) {
        return value;
    }
    if (text[1] != '.' || len > 5) {
        return -1;
    }
    for (i = 2; i < len; i++, scale /= 10) {
        if (!apr_isdigit(text[i]) || (text[0] == '1' && text[i] != '0')) {
            return -1;
        }
        value += (text[i] - '0') * scale;
    }
    return value;
}

static int same_subtag(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t i;

    if (a_len != b_len) {
        return 0;
    }
    for (i = 0; i < a_len; i++) {
        if (apr_tolower(a[i]) != apr_tolower(b[i])) {
            return 0;
        }
    }
    return 1;
}

/* One range, its blanks around it dropped. */
static int range_accepts(const char *range, size_t len, const char *language)
{
    const char *semicolon = memchr(range, ';', len), *dash, *end;
    size_t tag_len = semicolon ? (size_t)(semicolon - range) : len, first;
    const char *want_region = strchr(language, '-');
    size_t want_len = want_region ? (size_t)(want_region - language) : strlen(language);

    while (tag_len && (range[tag_len - 1] == ' ' || range[tag_len - 1] == '\t')) {
        tag_len--;
    }
    if (semicolon) {
        const char *q = semicolon + 1;
        size_t q_len = len - (size_t)(q - range);
        while (q_len && (*q == ' ' || *q == '\t')) {
            q++, q_len--;
        }
        if (q_len < 2 || (q[0] != 'q' && q[0] != 'Q') || q[1] != '='
            || qvalue(q + 2, q_len - 2) < 900) {
            return 0;
        }
    }
    for (first = 0; first < tag_len && range[first] != '-' && range[first] != '_';
         first++) {
    }
    if (!same_subtag(range, first, language, want_len)) {
        return 0;
    }
    if (want_region == NULL) {
        return 1;
    }
    if (first >= tag_len) {
        return 0;
    }
    dash = range + first + 1;
    for (end = dash; end < range + tag_len && *end != '-' && *end != '_'; end++) {
    }
    return same_subtag(dash, (size_t)(end - dash), want_region + 1,
                       strlen(want_region + 1));
}

static int reference(const char *header, const char *language)
{
    const char *at = header;

    while (*at) {
        size_t len;
        at += strspn(at, " \t,");
        len = strcspn(at, ",");
        if (len && range_accepts(at, len, language)) {
            return 1;
        }
        at += len;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *separator = memchr(data, SEPARATOR, size);
    const char *header, *typed;
    ml_condition condition;
    apr_pool_t *pool;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);
    header = apr_pstrmemdup(pool, (const char *)data,
                            separator ? (size_t)(separator - data) : size);
    typed = separator ? apr_pstrmemdup(pool, (const char *)separator + 1,
                                       size - (size_t)(separator + 1 - data))
                      : "fr";
    /* Any header, any language: never a crash, a yes or a no. */
    (void)ml_accept_language_matches(header, typed);
    if (ml_condition_from(ML_CONDITION_LANGUAGE, NULL, typed, &condition,
                          pool) == NULL) {
        CHECK(ml_accept_language_matches(header, condition.value)
              == reference(header, condition.value));
    }
    apr_pool_destroy(pool);
    return 0;
}
