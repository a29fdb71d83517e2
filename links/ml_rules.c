/*
 * ml_rules.c - redirect rules: their checks, their text, their compiled
 * form, and matching a request against it (ml_rules.h).
 *
 * The compiled form, read in place from shared memory (any alignment:
 * every multi-byte number is read with memcpy):
 *
 *   list:       u16 rule count | u16 ML_RULES_READ_* bits | rule...
 *   rule:       u32 bytes of the rule (header included) | u16 URL length |
 *               u8 condition count | u8 0 | condition... | URL | NUL
 *   condition:  u8 type | u8 bytes of the condition (header included) |
 *               payload:
 *     device          u8 bit of the device value
 *     browser         u8 index of the browser value
 *     language        u8 language length | language | region (lower case)
 *     query types     u8 name length | name | value (decoded; the
 *                     valueless and any-value types have none)
 *     ip-address      u8 family (4 or 6) | address bytes | mask bytes
 *     country         two upper-case letters
 *     before/after    i64 Unix seconds
 *
 * A condition is at most 2 + 1 + 64 + 128 bytes, so its size fits a u8.
 */
#include <arpa/inet.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "ml_rules.h"
#include "ml_link.h"
#include "ml_time.h"

static const char *const type_names[ML_CONDITION_TYPES] = {
    [ML_CONDITION_DEVICE] = "device",
    [ML_CONDITION_LANGUAGE] = "language",
    [ML_CONDITION_QUERY_PARAM] = "query-param",
    [ML_CONDITION_ANY_VALUE_QUERY_PARAM] = "any-value-query-param",
    [ML_CONDITION_VALUELESS_QUERY_PARAM] = "valueless-query-param",
    [ML_CONDITION_IP_ADDRESS] = "ip-address",
    [ML_CONDITION_COUNTRY] = "geolocation-country-code",
    [ML_CONDITION_BEFORE_DATE] = "before-date",
    [ML_CONDITION_AFTER_DATE] = "after-date",
    [ML_CONDITION_BROWSER] = "browser",
};

/* The CLI's option for each type; the three query types share one. */
static const char *const type_options[ML_CONDITION_TYPES] = {
    [ML_CONDITION_DEVICE] = "--device",
    [ML_CONDITION_LANGUAGE] = "--language",
    [ML_CONDITION_QUERY_PARAM] = "--query",
    [ML_CONDITION_ANY_VALUE_QUERY_PARAM] = "--query",
    [ML_CONDITION_VALUELESS_QUERY_PARAM] = "--query",
    [ML_CONDITION_IP_ADDRESS] = "--ip",
    [ML_CONDITION_COUNTRY] = "--country",
    [ML_CONDITION_BEFORE_DATE] = "--before",
    [ML_CONDITION_AFTER_DATE] = "--after",
    [ML_CONDITION_BROWSER] = "--browser",
};

/* Shlink's values, in the order of their bits and indexes. */
const char *const ml_device_names[] = {
    "android", "ios", "mobile", "windows", "macos", "linux", "chromeos",
    "desktop", NULL
};
enum { DEV_ANDROID = 1 << 0, DEV_IOS = 1 << 1, DEV_MOBILE = 1 << 2,
       DEV_WINDOWS = 1 << 3, DEV_MACOS = 1 << 4, DEV_LINUX = 1 << 5,
       DEV_CHROMEOS = 1 << 6, DEV_DESKTOP = 1 << 7 };

const char *const ml_browser_names[] = {
    "chrome", "firefox", "edge", "safari", "opera", "android_browser", NULL
};
enum { BROWSER_CHROME, BROWSER_FIREFOX, BROWSER_EDGE, BROWSER_SAFARI,
       BROWSER_OPERA, BROWSER_ANDROID };

#define RULE_HEADER 8u
#define LIST_HEADER 4u
#define CONDITION_HEADER 2u
#define LANGUAGE_MAX 8           /* a subtag, as BCP 47 has them */

const char *ml_condition_type_name(ml_condition_type type)
{
    return (unsigned)type < ML_CONDITION_TYPES ? type_names[type] : "?";
}

int ml_condition_type_of(const char *name)
{
    int i;

    for (i = 0; i < ML_CONDITION_TYPES; i++) {
        if (name && strcmp(type_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static int index_in(const char *const *names, const char *value)
{
    int i;

    for (i = 0; value && names[i]; i++) {
        if (strcmp(names[i], value) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- checks ------------------------------------------------------------ */

/* A language range as a condition stores it: a primary subtag of 1 to 8
 * letters and an optional second of 1 to 8 letters or digits, in lower
 * case. */
static int language_valid(const char *text)
{
    apr_size_t first = 0, second = 0;
    const char *p = text;

    while (apr_islower(*p)) {
        p++, first++;
    }
    if (*p == '-') {
        for (p++; apr_islower(*p) || apr_isdigit(*p); p++) {
            second++;
        }
        if (second == 0 || second > LANGUAGE_MAX) {
            return 0;
        }
    }
    return *p == '\0' && first >= 1 && first <= LANGUAGE_MAX;
}

/* Query names and values: any bytes but NUL and control characters, at
 * most max bytes (min 1 for a name). */
static int query_text_valid(const char *text, apr_size_t min, apr_size_t max)
{
    apr_size_t len = text ? strlen(text) : 0, i;

    if (text == NULL || len < min || len > max) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* A date as stored: YYYY-MM-DDTHH:MM:SSZ that reads back the same. */
static int stored_date_valid(const char *text)
{
    char written[ML_TIME_TEXT];
    apr_int64_t seconds;

    return text && strlen(text) == 20 && ml_time_read(text, &seconds)
           && ml_time_write(seconds, written) && strcmp(written, text) == 0;
}

const char *ml_condition_problem(const ml_condition *condition)
{
    const char *value = condition->value;
    ml_ip_pattern pattern;
    const char *problem;

    switch (condition->type) {
    case ML_CONDITION_DEVICE:
        return index_in(ml_device_names, value) >= 0 ? NULL
               : "the device must be one of android, ios, mobile, windows, "
                 "macos, linux, chromeos, desktop";
    case ML_CONDITION_BROWSER:
        return index_in(ml_browser_names, value) >= 0 ? NULL
               : "the browser must be one of chrome, firefox, edge, safari, "
                 "opera, android_browser";
    case ML_CONDITION_LANGUAGE:
        return value && language_valid(value) ? NULL
               : "the language must be a language code with an optional "
                 "region, such as en or en-US";
    case ML_CONDITION_QUERY_PARAM:
        if (!query_text_valid(value, 1, ML_QUERY_VALUE_MAX)) {
            return "the query parameter's value must be 1 to 128 bytes "
                   "without control characters (name=* matches any value)";
        }
        /* fall through: the name */
        __attribute__((fallthrough));
    case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
    case ML_CONDITION_VALUELESS_QUERY_PARAM:
        if (!query_text_valid(condition->key, 1, ML_QUERY_KEY_MAX)
            || strchr(condition->key, '=')) {
            return "the query parameter's name must be 1 to 64 bytes "
                   "without '=' or control characters";
        }
        return condition->type == ML_CONDITION_QUERY_PARAM || value == NULL
               ? NULL : "this kind of query condition takes no value";
    case ML_CONDITION_IP_ADDRESS:
        problem = value ? ml_ip_pattern_parse(value, &pattern)
                        : "the IP condition needs an address";
        return problem;
    case ML_CONDITION_COUNTRY:
        return value && strlen(value) == 2 && apr_isupper(value[0])
               && apr_isupper(value[1]) ? NULL
               : "the country must be a two-letter ISO 3166 code, such as FR";
    case ML_CONDITION_BEFORE_DATE:
    case ML_CONDITION_AFTER_DATE:
        return stored_date_valid(value) ? NULL
               : "the date must be a UTC time YYYY-MM-DDTHH:MM:SSZ";
    default:
        return "unknown kind of condition";
    }
}

const char *ml_rule_problem(const ml_rule *rule)
{
    const char *problem;
    int i;

    if (rule->url == NULL) {
        return "a rule needs a URL";
    }
    if ((problem = ml_url_problem(rule->url, strlen(rule->url))) != NULL) {
        return problem;
    }
    if (rule->nconditions < 1 || rule->nconditions > ML_RULE_CONDITIONS_MAX) {
        return "a rule needs 1 to 16 conditions";
    }
    for (i = 0; i < rule->nconditions; i++) {
        if ((problem = ml_condition_problem(&rule->conditions[i]))) {
            return problem;
        }
    }
    return NULL;
}

const char *ml_rules_problem(const ml_rule *rules, int count, int *which)
{
    const char *problem;
    int i;

    *which = 0;
    if (count < 0 || count > ML_RULES_MAX) {
        return "a link may have at most 32 redirect rules";
    }
    for (i = 0; i < count; i++) {
        if ((problem = ml_rule_problem(&rules[i])) != NULL) {
            *which = i + 1;
            return problem;
        }
    }
    return NULL;
}

/* ---- text -------------------------------------------------------------- */

static char *lower(const char *text, apr_pool_t *pool)
{
    char *copy = apr_pstrdup(pool, text), *p;

    for (p = copy; *p; p++) {
        *p = (char)(*p == '_' ? '-' : apr_tolower(*p));
    }
    return copy;
}

static char *upper(const char *text, apr_pool_t *pool)
{
    char *copy = apr_pstrdup(pool, text), *p;

    for (p = copy; *p; p++) {
        *p = (char)apr_toupper(*p);
    }
    return copy;
}

const char *ml_condition_from(ml_condition_type type, const char *key,
                              const char *value, ml_condition *condition,
                              apr_pool_t *pool)
{
    apr_int64_t seconds;
    const char *problem;

    memset(condition, 0, sizeof(*condition));
    condition->type = type;
    condition->key = key;
    condition->value = value;
    if (value == NULL || (unsigned)type >= ML_CONDITION_TYPES) {
        return ml_condition_problem(condition);
    }
    switch (type) {
    case ML_CONDITION_LANGUAGE:
        condition->value = lower(value, pool);
        break;
    case ML_CONDITION_COUNTRY:
        condition->value = upper(value, pool);
        break;
    case ML_CONDITION_BEFORE_DATE:
    case ML_CONDITION_AFTER_DATE:
        if ((problem = ml_time_parse(value, "the date", &seconds, pool))) {
            return problem;
        }
        condition->value = ml_time_format(seconds, pool);
        break;
    default:
        break;
    }
    return ml_condition_problem(condition);
}

const char *ml_condition_from_option(const char *option, const char *value,
                                     ml_condition *condition, int *known,
                                     apr_pool_t *pool)
{
    const char *equals;
    int type;

    *known = 1;
    memset(condition, 0, sizeof(*condition));
    for (type = 0; type < ML_CONDITION_TYPES; type++) {
        if (strcmp(type_options[type], option) == 0) {
            break;
        }
    }
    if (type == ML_CONDITION_TYPES) {
        *known = 0;
        return apr_psprintf(pool, "unknown condition '%s'", option);
    }
    if (type != ML_CONDITION_QUERY_PARAM) {
        return ml_condition_from((ml_condition_type)type, NULL, value,
                                 condition, pool);
    }
    /* --query K=V, K=* (any value) or K (no value). */
    equals = strchr(value, '=');
    if (equals == NULL) {
        return ml_condition_from(ML_CONDITION_VALUELESS_QUERY_PARAM, value,
                                 NULL, condition, pool);
    }
    return ml_condition_from(strcmp(equals + 1, "*") == 0
                             ? ML_CONDITION_ANY_VALUE_QUERY_PARAM
                             : ML_CONDITION_QUERY_PARAM,
                             apr_pstrmemdup(pool, value,
                                            (apr_size_t)(equals - value)),
                             strcmp(equals + 1, "*") == 0 ? NULL : equals + 1,
                             condition, pool);
}

/* %XX for the bytes a rule's text cannot hold raw in a word: space and
 * control characters, '%' itself, non-ASCII; and '*' in a value, which
 * alone would read as "any value". */
static char *percent_encode(const char *text, int is_value, apr_pool_t *pool)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(pool, strlen(text) * 3 + 1), *at = out;

    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c <= 0x20 || c >= 0x7f || c == '%' || (is_value && c == '*')) {
            *at++ = '%';
            *at++ = hex[c >> 4];
            *at++ = hex[c & 15];
        }
        else {
            *at++ = (char)c;
        }
    }
    *at = '\0';
    return out;
}

static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes %XX in text[0..len) into a new string; NULL if a %XX is broken
 * or makes a NUL. */
static char *percent_decode(const char *text, apr_size_t len, apr_pool_t *pool)
{
    char *out = apr_palloc(pool, len + 1), *at = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (text[i] == '%') {
            int high = i + 2 < len ? hex_value(text[i + 1]) : -1;
            int low = high >= 0 ? hex_value(text[i + 2]) : -1;
            if (low < 0 || (high == 0 && low == 0)) {
                return NULL;
            }
            *at++ = (char)(high << 4 | low);
            i += 2;
        }
        else {
            *at++ = text[i];
        }
    }
    *at = '\0';
    return out;
}

char *ml_rule_format(const ml_rule *rule, apr_pool_t *pool)
{
    char *text = "";
    int i;

    for (i = 0; i < rule->nconditions; i++) {
        const ml_condition *c = &rule->conditions[i];
        const char *value;
        switch (c->type) {
        case ML_CONDITION_QUERY_PARAM:
            value = apr_pstrcat(pool, percent_encode(c->key, 0, pool), "=",
                                percent_encode(c->value, 1, pool), NULL);
            break;
        case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
            value = apr_pstrcat(pool, percent_encode(c->key, 0, pool), "=*",
                                NULL);
            break;
        case ML_CONDITION_VALUELESS_QUERY_PARAM:
            value = percent_encode(c->key, 0, pool);
            break;
        default:
            value = c->value;
        }
        text = apr_pstrcat(pool, text, type_options[c->type], " ", value, " ",
                           NULL);
    }
    return apr_pstrcat(pool, text, rule->url, NULL);
}

/* The words of text, split at spaces and tabs. */
static apr_array_header_t *words_of(const char *text, apr_pool_t *pool)
{
    apr_array_header_t *words = apr_array_make(pool, 8, sizeof(char *));
    const char *at = text;

    for (;;) {
        apr_size_t len;
        at += strspn(at, " \t");
        if (*at == '\0') {
            return words;
        }
        len = strcspn(at, " \t");
        APR_ARRAY_PUSH(words, char *) = apr_pstrmemdup(pool, at, len);
        at += len;
    }
}

/* A query condition as the text form writes it: NAME, NAME=* or
 * NAME=VALUE, each part with %XX escapes (decoded separately, so that an
 * escaped '=' or '*' is text). */
static const char *query_from_word(const char *word, ml_condition *condition,
                                   apr_pool_t *pool)
{
    const char *equals = strchr(word, '=');

    const char *key = percent_decode(word, equals ? (apr_size_t)(equals - word)
                                                  : strlen(word), pool);
    const char *value = NULL;
    ml_condition_type type = ML_CONDITION_VALUELESS_QUERY_PARAM;

    if (equals && strcmp(equals + 1, "*") == 0) {
        type = ML_CONDITION_ANY_VALUE_QUERY_PARAM;
    }
    else if (equals) {
        type = ML_CONDITION_QUERY_PARAM;
        value = percent_decode(equals + 1, strlen(equals + 1), pool);
    }
    if (key == NULL || (equals && type == ML_CONDITION_QUERY_PARAM
                        && value == NULL)) {
        return "a query condition has a broken %XX escape";
    }
    return ml_condition_from(type, key, value, condition, pool);
}

const char *ml_rule_parse(const char *text, ml_rule *rule, apr_pool_t *pool)
{
    apr_array_header_t *words = words_of(text, pool);
    ml_condition *conditions;
    int i, n = 0, known;

    memset(rule, 0, sizeof(*rule));
    if (words->nelts == 0) {
        return "a rule needs conditions and a URL";
    }
    conditions = apr_pcalloc(pool, sizeof(*conditions) * (apr_size_t)words->nelts);
    for (i = 0; i + 1 < words->nelts; i += 2) {
        const char *option = APR_ARRAY_IDX(words, i, char *);
        const char *value = APR_ARRAY_IDX(words, i + 1, char *);
        const char *problem;

        if (strcmp(option, "--query") == 0) {
            problem = query_from_word(value, &conditions[n], pool);
            if (problem) {
                return problem;
            }
            n++;
            continue;
        }
        problem = ml_condition_from_option(option, value, &conditions[n],
                                           &known, pool);
        if (problem) {
            return known ? problem
                   : apr_psprintf(pool, "'%s' is not a condition (--device, "
                                  "--language, --query, --ip, --country, "
                                  "--before, --after, --browser)", option);
        }
        n++;
    }
    if (i + 1 != words->nelts) {
        return "a rule is conditions (option and value) followed by the URL";
    }
    rule->url = APR_ARRAY_IDX(words, i, char *);
    rule->conditions = conditions;
    rule->nconditions = n;
    return ml_rule_problem(rule);
}

const char *ml_rules_parse(const char *text, ml_rule **rules, int *count,
                           apr_pool_t *pool)
{
    apr_array_header_t *list = apr_array_make(pool, 4, sizeof(ml_rule));
    const char *at = text;

    while (*at) {
        apr_size_t len = strcspn(at, "\r\n");
        char *line = apr_pstrmemdup(pool, at, len);
        at += len;
        at += strspn(at, "\r\n");
        if (line[strspn(line, " \t")] != '\0') {
            ml_rule *rule = apr_array_push(list);
            const char *problem = ml_rule_parse(line, rule, pool);
            if (problem) {
                return apr_psprintf(pool, "rule %d: %s", list->nelts, problem);
            }
        }
    }
    *rules = (ml_rule *)list->elts;
    *count = list->nelts;
    return list->nelts > ML_RULES_MAX
           ? "a link may have at most 32 redirect rules" : NULL;
}

char *ml_rules_format(const ml_rule *rules, int count, apr_pool_t *pool)
{
    char *text = "";
    int i;

    for (i = 0; i < count; i++) {
        text = apr_pstrcat(pool, text, i ? "\n" : "",
                           ml_rule_format(&rules[i], pool), NULL);
    }
    return text;
}

/* ---- compiling ---------------------------------------------------------- */

/* The bytes of a condition's payload. */
static apr_size_t payload_size(const ml_condition *c)
{
    switch (c->type) {
    case ML_CONDITION_DEVICE:
    case ML_CONDITION_BROWSER:
        return 1;
    case ML_CONDITION_LANGUAGE:
        return 1 + strlen(c->value) - (strchr(c->value, '-') ? 1 : 0);
    case ML_CONDITION_QUERY_PARAM:
        return 1 + strlen(c->key) + strlen(c->value);
    case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
    case ML_CONDITION_VALUELESS_QUERY_PARAM:
        return 1 + strlen(c->key);
    case ML_CONDITION_IP_ADDRESS:
        return 1 + 2 * 16;
    case ML_CONDITION_COUNTRY:
        return 2;
    default:
        return 8;
    }
}

static apr_size_t rule_size(const ml_rule *rule)
{
    apr_size_t size = RULE_HEADER + strlen(rule->url) + 1;
    int i;

    for (i = 0; i < rule->nconditions; i++) {
        size += CONDITION_HEADER + payload_size(&rule->conditions[i]);
    }
    return size;
}

apr_size_t ml_rules_compiled_size(const ml_rule *rules, int count)
{
    apr_size_t size = LIST_HEADER;
    int i;

    for (i = 0; i < count; i++) {
        size += rule_size(&rules[i]);
    }
    return size;
}

static unsigned char *put16(unsigned char *at, apr_uint16_t value)
{
    memcpy(at, &value, 2);
    return at + 2;
}

static unsigned char *put_text(unsigned char *at, const char *text)
{
    apr_size_t len = strlen(text);

    memcpy(at, text, len);
    return at + len;
}

static unsigned int reads_of(ml_condition_type type)
{
    return type == ML_CONDITION_DEVICE || type == ML_CONDITION_BROWSER
           ? ML_RULES_READ_USER_AGENT
           : type == ML_CONDITION_LANGUAGE ? ML_RULES_READ_LANGUAGE
           : type == ML_CONDITION_COUNTRY ? ML_RULES_READ_COUNTRY
           : type == ML_CONDITION_IP_ADDRESS ? ML_RULES_READ_ADDRESS
           : type == ML_CONDITION_BEFORE_DATE
             || type == ML_CONDITION_AFTER_DATE ? ML_RULES_READ_TIME : 0;
}

static unsigned char *compile_condition(const ml_condition *c,
                                        unsigned char *at)
{
    apr_size_t size = CONDITION_HEADER + payload_size(c);
    ml_ip_pattern pattern;
    apr_int64_t seconds;
    const char *dash;

    *at++ = (unsigned char)c->type;
    *at++ = (unsigned char)size;
    switch (c->type) {
    case ML_CONDITION_DEVICE:
        *at++ = (unsigned char)index_in(ml_device_names, c->value);
        break;
    case ML_CONDITION_BROWSER:
        *at++ = (unsigned char)index_in(ml_browser_names, c->value);
        break;
    case ML_CONDITION_LANGUAGE:
        /* The language, then the region without its '-'. */
        dash = strchr(c->value, '-');
        *at++ = (unsigned char)(dash ? (apr_size_t)(dash - c->value)
                                     : strlen(c->value));
        memcpy(at, c->value, at[-1]);
        at += at[-1];
        if (dash) {
            at = put_text(at, dash + 1);
        }
        break;
    case ML_CONDITION_QUERY_PARAM:
        *at++ = (unsigned char)strlen(c->key);
        at = put_text(put_text(at, c->key), c->value);
        break;
    case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
    case ML_CONDITION_VALUELESS_QUERY_PARAM:
        *at++ = (unsigned char)strlen(c->key);
        at = put_text(at, c->key);
        break;
    case ML_CONDITION_IP_ADDRESS:
        ml_ip_pattern_parse(c->value, &pattern);
        *at++ = (unsigned char)pattern.family;
        memcpy(at, pattern.bytes, 16);
        memcpy(at + 16, pattern.mask, 16);
        at += 32;
        break;
    case ML_CONDITION_COUNTRY:
        at = put_text(at, c->value);
        break;
    default:
        seconds = 0;
        ml_time_read(c->value, &seconds);
        memcpy(at, &seconds, 8);
        at += 8;
    }
    return at;
}

void ml_rules_compile(const ml_rule *rules, int count, unsigned char *out)
{
    unsigned char *at = out + LIST_HEADER;
    unsigned int reads = 0;
    int i, k;

    put16(out, (apr_uint16_t)count);
    for (i = 0; i < count; i++) {
        const ml_rule *rule = &rules[i];
        apr_uint32_t size = (apr_uint32_t)rule_size(rule);
        memcpy(at, &size, 4);
        put16(at + 4, (apr_uint16_t)strlen(rule->url));
        at[6] = (unsigned char)rule->nconditions;
        at[7] = 0;
        at += RULE_HEADER;
        for (k = 0; k < rule->nconditions; k++) {
            reads |= reads_of(rule->conditions[k].type);
            at = compile_condition(&rule->conditions[k], at);
        }
        at = put_text(at, rule->url);
        *at++ = '\0';
    }
    put16(out + 2, (apr_uint16_t)reads);
}

unsigned int ml_rules_reads(const unsigned char *compiled)
{
    apr_uint16_t reads;

    memcpy(&reads, compiled + 2, 2);
    return reads;
}

/* ---- what a request is --------------------------------------------------- */

/*
 * The tokens of a User-Agent that the device and browser values are made
 * of, found in one pass: strpbrk() (SSE 4.2 in glibc: sixteen bytes a
 * step) finds the capitals tokens start with, and only there are the
 * tokens of that letter compared ("iPhone", "iPad" and "iPod" at their
 * 'P').  strstr() for each of twenty tokens read the header twenty times.
 * A token counts wherever it starts, as strstr() would find it.
 */
enum {
    UA_IPHONE = 1u << 0, UA_IPAD = 1u << 1, UA_IPOD = 1u << 2,
    UA_ANDROID = 1u << 3, UA_CROS = 1u << 4, UA_WINDOWS = 1u << 5,
    UA_MACINTOSH = 1u << 6, UA_LINUX = 1u << 7, UA_EDGE = 1u << 8,
    UA_OPERA = 1u << 9, UA_FIREFOX = 1u << 10, UA_CHROME = 1u << 11,
    UA_VERSION = 1u << 12, UA_SAFARI = 1u << 13
};

/* True if text starts with token (compared inline: the tokens are short
 * and most differ at their second byte). */
static APR_INLINE int starts(const char *text, const char *token)
{
    while (*token && *text == *token) {
        text++, token++;
    }
    return *token == '\0';
}

static unsigned int ua_tokens(const char *ua)
{
    unsigned int found = 0;
    const char *p;

    for (p = strpbrk(ua, "ACEFLMOPSVW"); p; p = strpbrk(p + 1, "ACEFLMOPSVW")) {
        switch (*p) {
        case 'P':
            if (p > ua && p[-1] == 'i') {
                found |= starts(p, "Phone") ? UA_IPHONE
                         : starts(p, "Pad") ? UA_IPAD
                         : starts(p, "Pod") ? UA_IPOD : 0;
            }
            break;
        case 'A':
            found |= starts(p, "Android") ? UA_ANDROID : 0;
            break;
        case 'C':
            found |= starts(p, "CrOS") ? UA_CROS
                     : starts(p, "Chrome/") || starts(p, "CriOS/") ? UA_CHROME
                     : 0;
            break;
        case 'W':
            found |= starts(p, "Windows") ? UA_WINDOWS : 0;
            break;
        case 'M':
            found |= starts(p, "Macintosh") ? UA_MACINTOSH : 0;
            break;
        case 'L':
            found |= starts(p, "Linux") ? UA_LINUX : 0;
            break;
        case 'E':
            found |= starts(p, "Edg/") || starts(p, "Edge/")
                     || starts(p, "EdgA/") || starts(p, "EdgiOS/") ? UA_EDGE
                     : 0;
            break;
        case 'O':
            found |= starts(p, "OPR/") || starts(p, "Opera") ? UA_OPERA : 0;
            break;
        case 'F':
            found |= starts(p, "Firefox/") || starts(p, "FxiOS/") ? UA_FIREFOX
                     : 0;
            break;
        case 'V':
            found |= starts(p, "Version/") ? UA_VERSION : 0;
            break;
        default:                /* 'S' */
            found |= starts(p, "Safari/") ? UA_SAFARI : 0;
            break;
        }
    }
    return found;
}

/* The device bits of the tokens found.  The order matters: an iPhone says
 * "like Mac OS X", Android and ChromeOS say "Linux". */
static unsigned int devices_of(unsigned int t)
{
    return t & (UA_IPHONE | UA_IPAD | UA_IPOD) ? DEV_IOS | DEV_MOBILE
           : t & UA_ANDROID ? DEV_ANDROID | DEV_MOBILE
           : t & UA_CROS ? DEV_CHROMEOS | DEV_DESKTOP
           : t & UA_WINDOWS ? DEV_WINDOWS | DEV_DESKTOP
           : t & UA_MACINTOSH ? DEV_MACOS | DEV_DESKTOP
           : t & UA_LINUX ? DEV_LINUX | DEV_DESKTOP : 0;
}

/* The browser of the tokens found.  Edge and Opera name Chrome too, and
 * Chrome names Safari: the most specific token first. */
static int browser_of(unsigned int t)
{
    return t & UA_EDGE ? BROWSER_EDGE
           : t & UA_OPERA ? BROWSER_OPERA
           : t & UA_FIREFOX ? BROWSER_FIREFOX
           : t & UA_CHROME ? BROWSER_CHROME
           : (t & (UA_ANDROID | UA_VERSION)) == (UA_ANDROID | UA_VERSION)
             ? BROWSER_ANDROID
           : t & UA_SAFARI ? BROWSER_SAFARI : -1;
}

unsigned int ml_user_agent_devices(const char *ua)
{
    return ua ? devices_of(ua_tokens(ua)) : 0;
}

int ml_user_agent_browser(const char *ua)
{
    return ua ? browser_of(ua_tokens(ua)) : -1;
}

/* q=1, q=0.9, q=0.900...: the weight in thousandths; -1 when malformed. */
static int quality_of(const char *text, apr_size_t len)
{
    int value, digits = 0;
    apr_size_t i = 2;

    if (len < 3 || (text[0] != 'q' && text[0] != 'Q') || text[1] != '='
        || (text[2] != '0' && text[2] != '1')) {
        return -1;
    }
    value = (text[i++] - '0') * 1000;
    if (i < len && text[i] == '.') {
        int scale = 100;
        for (i++; i < len && apr_isdigit(text[i]) && digits < 3; i++, digits++) {
            value += (text[i] - '0') * scale;
            scale /= 10;
        }
    }
    return i == len && value <= 1000 ? value : -1;
}

/* Shlink counts a language as accepted from q=0.9 up. */
#define ACCEPTED_QUALITY 900

/* Whether a range's weight (after semicolon, up to end; none: q=1) is
 * enough. */
static int weighty(const char *semicolon, const char *end)
{
    const char *q;

    if (semicolon == NULL) {
        return 1;
    }
    for (q = semicolon + 1; q < end && (*q == ' ' || *q == '\t'); q++) {
    }
    return quality_of(q, (apr_size_t)(end - q)) >= ACCEPTED_QUALITY;
}

/* Whether range[0..len) (one entry of the header, trimmed) accepts the
 * condition's language (its primary subtag language[0..lang_len) and
 * maybe a region after it). */
static int range_accepts(const char *range, apr_size_t len,
                         const char *language, apr_size_t lang_len,
                         const char *region, apr_size_t region_len)
{
    const char *semicolon = memchr(range, ';', len);
    apr_size_t tag_len = semicolon ? (apr_size_t)(semicolon - range) : len;
    apr_size_t primary, second_len, i;
    const char *second;

    while (tag_len && (range[tag_len - 1] == ' ' || range[tag_len - 1] == '\t')) {
        tag_len--;
    }
    /* The language first, the weight last: most ranges are some other
     * language. */
    for (primary = 0; primary < tag_len && range[primary] != '-'
                      && range[primary] != '_'; primary++) {
    }
    if (primary != lang_len) {
        return 0;
    }
    for (i = 0; i < primary; i++) {
        if (apr_tolower(range[i]) != language[i]) {
            return 0;
        }
    }
    if (region_len == 0) {
        return weighty(semicolon, range + len);
    }
    second = range + primary + 1;
    if (primary >= tag_len) {
        return 0;
    }
    for (second_len = 0; second + second_len < range + tag_len
                         && second[second_len] != '-'
                         && second[second_len] != '_'; second_len++) {
    }
    if (second_len != region_len) {
        return 0;
    }
    for (i = 0; i < region_len; i++) {
        if (apr_tolower(second[i]) != region[i]) {
            return 0;
        }
    }
    return weighty(semicolon, range + len);
}

static int accepts(const char *header, const char *language,
                   apr_size_t lang_len, const char *region,
                   apr_size_t region_len)
{
    const char *at = header, *end;

    for (;;) {
        while (*at == ' ' || *at == '\t' || *at == ',') {
            at++;
        }
        if (*at == '\0') {
            return 0;
        }
        for (end = at; *end && *end != ','; end++) {
        }
        if (range_accepts(at, (apr_size_t)(end - at), language, lang_len,
                          region, region_len)) {
            return 1;
        }
        at = end;
    }
}

int ml_accept_language_matches(const char *header, const char *language)
{
    const char *dash = strchr(language, '-');
    apr_size_t lang_len = dash ? (apr_size_t)(dash - language)
                               : strlen(language);

    return header != NULL
           && accepts(header, language, lang_len, dash ? dash + 1 : "",
                      dash ? strlen(dash + 1) : 0);
}

/* ---- addresses ---------------------------------------------------------- */

int ml_ip_address_parse(const char *text, unsigned char address[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                             0xff, 0xff};

    if (text == NULL) {
        return 0;
    }
    if (inet_pton(AF_INET, text, address) == 1) {
        return 4;
    }
    if (inet_pton(AF_INET6, text, address) != 1) {
        return 0;
    }
    /* ::ffff:10.0.0.1 is 10.0.0.1, as a dual-stack listener reports it. */
    if (memcmp(address, mapped, sizeof(mapped)) == 0) {
        memmove(address, address + 12, 4);
        return 4;
    }
    return 6;
}

/* Four octets, each a number from 0 to 255 or '*' (at least one). */
static int read_wildcard(const char *text, ml_ip_pattern *pattern)
{
    const char *at = text;
    int octet;

    for (octet = 0; octet < 4; octet++) {
        if (*at == '*') {
            pattern->bytes[octet] = 0;
            pattern->mask[octet] = 0;
            at++;
        }
        else {
            int value = 0, digits = 0;
            while (apr_isdigit(*at) && digits < 3) {
                value = value * 10 + (*at++ - '0');
                digits++;
            }
            if (digits == 0 || value > 255) {
                return 0;
            }
            pattern->bytes[octet] = (unsigned char)value;
            pattern->mask[octet] = 0xff;
        }
        if (octet < 3 && *at++ != '.') {
            return 0;
        }
    }
    return *at == '\0';
}

const char *ml_ip_pattern_parse(const char *text, ml_ip_pattern *pattern)
{
    static const char problem[] = "the IP condition must be an address "
        "(10.0.0.1, 2001:db8::1), a CIDR block (10.0.0.0/8, 2001:db8::/32) "
        "or an IPv4 pattern with * octets (10.*.*.1)";
    char address[64];
    const char *slash = strchr(text, '/');
    apr_size_t len = slash ? (apr_size_t)(slash - text) : strlen(text);
    int bits, i;

    memset(pattern, 0, sizeof(*pattern));
    if (len == 0 || len >= sizeof(address)) {
        return problem;
    }
    if (strchr(text, '*')) {
        pattern->family = 4;
        return slash == NULL && read_wildcard(text, pattern) ? NULL : problem;
    }
    memcpy(address, text, len);
    address[len] = '\0';
    /* Not ml_ip_address_parse(): a pattern is written as it will match. */
    if (inet_pton(AF_INET, address, pattern->bytes) == 1) {
        pattern->family = 4;
    }
    else if (inet_pton(AF_INET6, address, pattern->bytes) == 1) {
        pattern->family = 6;
    }
    else {
        return problem;
    }
    bits = pattern->family == 4 ? 32 : 128;
    if (slash) {
        apr_int64_t prefix = ml_decimal(slash + 1);
        if (prefix < 0 || prefix > bits || strlen(slash + 1) > 3) {
            return problem;
        }
        bits = (int)prefix;
    }
    for (i = 0; i < (pattern->family == 4 ? 4 : 16); i++) {
        int take = bits > 8 ? 8 : bits < 0 ? 0 : bits;
        pattern->mask[i] = (unsigned char)(0xff00 >> take);
        pattern->bytes[i] &= pattern->mask[i];
        bits -= 8;
    }
    return NULL;
}

int ml_ip_pattern_matches(const ml_ip_pattern *pattern, int family,
                          const unsigned char *address)
{
    int i;

    if (family != pattern->family) {
        return 0;
    }
    for (i = 0; i < (family == 4 ? 4 : 16); i++) {
        if ((address[i] & pattern->mask[i]) != pattern->bytes[i]) {
            return 0;
        }
    }
    return 1;
}

/* ---- query strings ------------------------------------------------------- */

/* Whether text[0..len), decoded ('+' a space, %XX a byte; a broken %XX
 * stays as it is), is want[0..want_len). */
static int decoded_equals(const char *text, apr_size_t len, const char *want,
                          apr_size_t want_len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++, n++) {
        int c = (unsigned char)text[i];
        if (c == '+') {
            c = ' ';
        }
        else if (c == '%' && i + 2 < len && hex_value(text[i + 1]) >= 0
                 && hex_value(text[i + 2]) >= 0) {
            c = hex_value(text[i + 1]) << 4 | hex_value(text[i + 2]);
            i += 2;
        }
        if (n >= want_len || (unsigned char)want[n] != c) {
            return 0;
        }
    }
    return n == want_len;
}

int ml_query_has(const char *query, const char *key, apr_size_t key_len,
                 const char *value, apr_size_t value_len, int valueless)
{
    const char *at = query;
    const char *last_value = NULL;
    apr_size_t last_len = 0;
    int found = 0;

    /* As PHP reads a query string (Shlink's getQueryParams()): the last
     * of several parameters of a name is the one that counts. */
    while (at && *at) {
        apr_size_t len = strcspn(at, "&");
        const char *equals = memchr(at, '=', len);
        apr_size_t name_len = equals ? (apr_size_t)(equals - at) : len;
        if (len && decoded_equals(at, name_len, key, key_len)) {
            found = 1;
            last_value = equals ? equals + 1 : at + len;
            last_len = equals ? len - name_len - 1 : 0;
        }
        at += len + (at[len] == '&');
    }
    if (!found) {
        return 0;
    }
    if (value) {
        return decoded_equals(last_value, last_len, value, value_len);
    }
    return !valueless || last_len == 0;
}

/* ---- choosing -------------------------------------------------------------- */

static void classify(ml_request_facts *facts)
{
    if (!facts->classified) {
        unsigned int tokens = facts->user_agent ? ua_tokens(facts->user_agent)
                                                : 0;
        facts->devices = devices_of(tokens);
        facts->browser = browser_of(tokens);
        facts->classified = 1;
    }
}

static int condition_holds(const unsigned char *c, ml_request_facts *facts)
{
    const unsigned char *payload = c + CONDITION_HEADER;
    apr_size_t payload_len = (apr_size_t)c[1] - CONDITION_HEADER;
    ml_ip_pattern pattern;
    apr_int64_t seconds;

    switch (c[0]) {
    case ML_CONDITION_DEVICE:
        classify(facts);
        return (facts->devices >> payload[0]) & 1;
    case ML_CONDITION_BROWSER:
        classify(facts);
        return facts->browser == payload[0];
    case ML_CONDITION_LANGUAGE:
        return facts->accept_language
               && accepts(facts->accept_language, (const char *)payload + 1,
                          payload[0], (const char *)payload + 1 + payload[0],
                          payload_len - 1 - payload[0]);
    case ML_CONDITION_QUERY_PARAM:
        return ml_query_has(facts->query, (const char *)payload + 1, payload[0],
                            (const char *)payload + 1 + payload[0],
                            payload_len - 1 - payload[0], 0);
    case ML_CONDITION_ANY_VALUE_QUERY_PARAM:
    case ML_CONDITION_VALUELESS_QUERY_PARAM:
        return ml_query_has(facts->query, (const char *)payload + 1, payload[0],
                            NULL, 0, c[0] == ML_CONDITION_VALUELESS_QUERY_PARAM);
    case ML_CONDITION_IP_ADDRESS:
        if (!facts->address_read) {
            facts->family = ml_ip_address_parse(facts->client_ip,
                                                facts->address);
            facts->address_read = 1;
        }
        pattern.family = payload[0];
        memcpy(pattern.bytes, payload + 1, 16);
        memcpy(pattern.mask, payload + 17, 16);
        return ml_ip_pattern_matches(&pattern, facts->family, facts->address);
    case ML_CONDITION_COUNTRY:
        return facts->country && strlen(facts->country) == 2
               && apr_toupper(facts->country[0]) == payload[0]
               && apr_toupper(facts->country[1]) == payload[1];
    case ML_CONDITION_BEFORE_DATE:
        memcpy(&seconds, payload, 8);
        return facts->now < seconds;
    case ML_CONDITION_AFTER_DATE:
        memcpy(&seconds, payload, 8);
        return facts->now > seconds;
    default:
        return 0;
    }
}

const char *ml_rules_choose(const unsigned char *compiled,
                            ml_request_facts *facts, apr_size_t *url_len)
{
    const unsigned char *rule = compiled + LIST_HEADER;
    apr_uint16_t count;
    int i, k;

    memcpy(&count, compiled, 2);
    for (i = 0; i < count; i++) {
        const unsigned char *c = rule + RULE_HEADER;
        apr_uint32_t size;
        apr_uint16_t len;
        int holds = 1;

        memcpy(&size, rule, 4);
        for (k = 0; k < rule[6] && holds; k++) {
            holds = condition_holds(c, facts);
            c += c[1];
        }
        if (holds) {
            /* The conditions not read end where the URL starts. */
            for (; k < rule[6]; k++) {
                c += c[1];
            }
            memcpy(&len, rule + 4, 2);
            *url_len = len;
            return (const char *)c;
        }
        rule += size;
    }
    return NULL;
}
