/*
 * fuzz_rules.c - redirect rules (links/ml_rules.h): their text, their
 * compiled form, and the choice it makes.
 *
 * Input: rule text (one rule a line), then 0xFF and a request's facts
 * separated by 0xFF: User-Agent, Accept-Language, query string, client
 * address, country, and the time as decimal digits.  Missing facts are
 * NULL.
 *
 * Invariants: text that parses is written back in a canonical form that
 * parses to itself; the compiled form is exactly ml_rules_compiled_size()
 * bytes (written into a buffer of that size: ASan sees a byte more), and
 * says which headers it reads as the rules' condition types do; and the
 * URL it chooses is the one the rules themselves choose, evaluated here
 * condition by condition with the public pieces (devices, browsers,
 * Accept-Language, query strings, addresses) over the ml_rule structs -
 * the compiled bytes are never read to decide that.  The User-Agent's
 * device and browser are also those a plain strstr() for each token gives
 * (the module's one-pass scan is checked against the README's token
 * lists, whatever the rule text).
 */
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../links/ml_rules.h"
#include "../../links/ml_time.h"
#include "fuzz_common.h"

#define SEPARATOR 0xFF
#define FACTS 6

static apr_pool_t *root;

/* The index of a name in a NULL-terminated list, or -1. */
static int index_in(const char *const *names, const char *value)
{
    int i;

    for (i = 0; names[i]; i++) {
        if (strcmp(names[i], value) == 0) {
            return i;
        }
    }
    return -1;
}

/* A condition over the request, from the struct alone. */
static int holds(const ml_condition *c, const ml_request_facts *f)
{
    ml_ip_pattern pattern;
    unsigned char address[16];
    apr_int64_t seconds;
    int family;

    switch (c->type) {
    case ML_CONDITION_DEVICE:
        return (ml_user_agent_devices(f->user_agent)
                >> index_in(ml_device_names, c->value)) & 1;
    case ML_CONDITION_BROWSER:
        return ml_user_agent_browser(f->user_agent)
               == index_in(ml_browser_names, c->value);
    case ML_CONDITION_LANGUAGE:
        return ml_accept_language_matches(f->accept_language, c->value);
    case ML_CONDITION_QUERY_PARAM:
        return ml_query_has(f->query, c->key, strlen(c->key), c->value,
                            strlen(c->value), 0);
    case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
    case ML_CONDITION_VALUELESS_QUERY_PARAM:
        return ml_query_has(f->query, c->key, strlen(c->key), NULL, 0,
                            c->type == ML_CONDITION_VALUELESS_QUERY_PARAM);
    case ML_CONDITION_IP_ADDRESS:
        CHECK(ml_ip_pattern_parse(c->value, &pattern) == NULL);
        family = ml_ip_address_parse(f->client_ip, address);
        return ml_ip_pattern_matches(&pattern, family, address);
    case ML_CONDITION_COUNTRY:
        return f->country && strlen(f->country) == 2
               && strncasecmp(f->country, c->value, 2) == 0;
    case ML_CONDITION_BEFORE_DATE:
        CHECK(ml_time_read(c->value, &seconds));
        return f->now < seconds;
    case ML_CONDITION_AFTER_DATE:
        CHECK(ml_time_read(c->value, &seconds));
        return f->now > seconds;
    default:
        CHECK(!"a condition of no type was accepted");
        return 0;
    }
}

/* The README's token lists, read the simplest way. */
static int has(const char *ua, const char *token)
{
    return strstr(ua, token) != NULL;
}

static const char *reference_device(const char *ua)
{
    return has(ua, "iPhone") || has(ua, "iPad") || has(ua, "iPod") ? "ios"
           : has(ua, "Android") ? "android"
           : has(ua, "CrOS") ? "chromeos"
           : has(ua, "Windows") ? "windows"
           : has(ua, "Macintosh") ? "macos"
           : has(ua, "Linux") ? "linux" : NULL;
}

static const char *reference_browser(const char *ua)
{
    return has(ua, "Edg/") || has(ua, "Edge/") || has(ua, "EdgA/")
           || has(ua, "EdgiOS/") ? "edge"
           : has(ua, "OPR/") || has(ua, "Opera") ? "opera"
           : has(ua, "Firefox/") || has(ua, "FxiOS/") ? "firefox"
           : has(ua, "Chrome/") || has(ua, "CriOS/") ? "chrome"
           : has(ua, "Android") && has(ua, "Version/") ? "android_browser"
           : has(ua, "Safari/") ? "safari" : NULL;
}

static void check_user_agent(const char *ua)
{
    const char *device = reference_device(ua);
    const char *browser = reference_browser(ua);
    unsigned int want = 0;

    if (device) {
        int mobile = strcmp(device, "ios") == 0 || strcmp(device, "android") == 0;
        want = (1u << index_in(ml_device_names, device))
               | (1u << index_in(ml_device_names, mobile ? "mobile" : "desktop"));
    }
    CHECK(ml_user_agent_devices(ua) == want);
    CHECK(ml_user_agent_browser(ua)
          == (browser ? index_in(ml_browser_names, browser) : -1));
}

static unsigned int reads_of(const ml_rule *rules, int count)
{
    unsigned int reads = 0;
    int i, k;

    for (i = 0; i < count; i++) {
        for (k = 0; k < rules[i].nconditions; k++) {
            ml_condition_type t = rules[i].conditions[k].type;
            reads |= t == ML_CONDITION_DEVICE || t == ML_CONDITION_BROWSER
                     ? ML_RULES_READ_USER_AGENT
                     : t == ML_CONDITION_LANGUAGE ? ML_RULES_READ_LANGUAGE
                     : t == ML_CONDITION_COUNTRY ? ML_RULES_READ_COUNTRY
                     : t == ML_CONDITION_IP_ADDRESS ? ML_RULES_READ_ADDRESS
                     : t == ML_CONDITION_BEFORE_DATE || t == ML_CONDITION_AFTER_DATE
                       ? ML_RULES_READ_TIME : 0;
        }
    }
    return reads;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *parts[1 + FACTS] = { NULL };
    const char *text, *canonical, *chosen;
    ml_rule *rules, *again;
    ml_request_facts facts;
    int count, count_again, i, k, want = -1;
    unsigned char *compiled;
    apr_size_t compiled_size, url_len;
    apr_pool_t *pool;
    size_t start = 0, at, part = 0;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);
    for (at = 0; at <= size && part <= FACTS; at++) {
        if (at == size || data[at] == SEPARATOR) {
            parts[part++] = apr_pstrmemdup(pool, (const char *)data + start,
                                           at - start);
            start = at + 1;
        }
    }
    text = parts[0];
    if (parts[1]) {
        check_user_agent(parts[1]);
    }
    if (ml_rules_parse(text, &rules, &count, pool) != NULL) {
        apr_pool_destroy(pool);
        return 0;
    }
    CHECK(ml_rules_problem(rules, count, &i) == NULL);
    canonical = ml_rules_format(rules, count, pool);
    CHECK(ml_rules_parse(canonical, &again, &count_again, pool) == NULL);
    CHECK(count_again == count);
    CHECK(strcmp(ml_rules_format(again, count_again, pool), canonical) == 0);

    compiled_size = ml_rules_compiled_size(rules, count);
    compiled = malloc(compiled_size);
    ml_rules_compile(rules, count, compiled);
    CHECK(ml_rules_reads(compiled) == reads_of(rules, count));

    memset(&facts, 0, sizeof(facts));
    facts.user_agent = parts[1];
    facts.accept_language = parts[2];
    facts.query = parts[3];
    facts.client_ip = parts[4];
    facts.country = parts[5];
    facts.now = parts[6] ? ml_decimal(parts[6]) : 1700000000;
    for (i = 0; i < count && want < 0; i++) {
        for (k = 0; k < rules[i].nconditions && holds(&rules[i].conditions[k], &facts);
             k++) {
        }
        if (k == rules[i].nconditions) {
            want = i;
        }
    }
    chosen = ml_rules_choose(compiled, &facts, &url_len);
    if (want < 0) {
        CHECK(chosen == NULL);
    }
    else {
        CHECK(chosen != NULL && strcmp(chosen, rules[want].url) == 0);
        CHECK(url_len == strlen(rules[want].url));
    }
    free(compiled);
    apr_pool_destroy(pool);
    return 0;
}
