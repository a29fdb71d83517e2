/*
 * ml_rules.h - redirect rules: an ordered list of (conditions -> URL); the
 * conditions of a rule are ANDed, the first rule whose conditions all hold
 * gives the URL, and the link's own URL is the answer when none does.
 *
 * The condition types and their meanings are Shlink's (its REST API v3
 * "redirect rules"), so that a management API can expose them as they
 * are; the names are its "type" values, and key/value its matchKey and
 * matchValue.
 *
 * A rule has three forms:
 *   - ml_rule: what the store reads and writes (a row per rule, a row per
 *     condition) and what the checks below look at;
 *   - text, one rule per line, written as the options of "minilink rule
 *     add" followed by the URL ("--device ios --language fr
 *     https://example.com/fr"): the CLI's output, the CSV column, the
 *     creation form's field;
 *   - compiled: a compact run of bytes, made once when a link is loaded
 *     into shared memory, that ml_rules_choose() reads in place on the
 *     redirect path.  No allocation, no regular expression, no parsing of
 *     the condition values there: IP patterns are address and mask bytes,
 *     dates are seconds, languages are lower-cased.
 *
 * Depends on APR only: the module gives the request's facts as strings.
 */
#ifndef ML_RULES_H
#define ML_RULES_H

#include <apr_pools.h>

typedef enum {
    ML_CONDITION_DEVICE,                /* value: android, ios, mobile... */
    ML_CONDITION_LANGUAGE,              /* value: en, en-US */
    ML_CONDITION_QUERY_PARAM,           /* key=value */
    ML_CONDITION_ANY_VALUE_QUERY_PARAM, /* key, any value */
    ML_CONDITION_VALUELESS_QUERY_PARAM, /* key, with no value */
    ML_CONDITION_IP_ADDRESS,            /* value: 10.0.0.1, 10.0.0.0/8, 10.*.*.1, ::1, 2001:db8::/32 */
    ML_CONDITION_COUNTRY,               /* value: two letters, upper-cased */
    ML_CONDITION_BEFORE_DATE,           /* value: YYYY-MM-DDTHH:MM:SSZ */
    ML_CONDITION_AFTER_DATE,            /* value: the same */
    ML_CONDITION_BROWSER,               /* value: chrome, firefox... */
    ML_CONDITION_TYPES
} ml_condition_type;

typedef struct {
    ml_condition_type type;
    const char *key;             /* the query parameter's name (query types), else NULL */
    const char *value;           /* NULL for the two query types without one */
} ml_condition;

typedef struct {
    const char *url;
    int nconditions;
    const ml_condition *conditions;
} ml_rule;

/* How many rules a link may have, and conditions a rule. */
#define ML_RULES_MAX 32
#define ML_RULE_CONDITIONS_MAX 16
/* The longest query parameter name and value a condition may name. */
#define ML_QUERY_KEY_MAX 64
#define ML_QUERY_VALUE_MAX 128

/* Shlink's name for a type ("geolocation-country-code"), and back (-1 if
 * none). */
const char *ml_condition_type_name(ml_condition_type type);
int ml_condition_type_of(const char *name);

/* NULL if the condition may be stored, else a sentence saying why not.
 * Values must be in their stored form (ml_rule_parse() makes it). */
const char *ml_condition_problem(const ml_condition *condition);
/* The same for a rule (its URL, its conditions, at least one of them) and
 * for a link's list of rules (at most ML_RULES_MAX; *which is the number,
 * from 1, of the rule at fault, or 0). */
const char *ml_rule_problem(const ml_rule *rule);
const char *ml_rules_problem(const ml_rule *rules, int count, int *which);

/*
 * One condition of a type, with a key (the query types) and a value, in
 * its stored form (a language lower-cased, a country upper-cased, a date
 * - any TIME, ml_time.h - in UTC), checked.  Returns NULL or what is wrong.
 */
const char *ml_condition_from(ml_condition_type type, const char *key,
                              const char *value, ml_condition *condition,
                              apr_pool_t *pool);

/*
 * One condition from the CLI's option and its value ("--device", "ios"),
 * in its stored form (a language lower-cased, a country upper-cased, a
 * date in UTC; "--query k=v" splits at the first '='; k alone is
 * valueless, k=* any value).  Returns NULL, or what is wrong; -1 in *known
 * when option is no condition's.
 */
const char *ml_condition_from_option(const char *option, const char *value,
                                     ml_condition *condition, int *known,
                                     apr_pool_t *pool);

/*
 * A rule from its text: condition options and the URL as words separated
 * by spaces or tabs; in a query parameter's name and value, %XX stands for
 * a byte (so a space is %20).  The rule is checked (ml_rule_problem).
 * Returns NULL or what is wrong.
 */
const char *ml_rule_parse(const char *text, ml_rule *rule, apr_pool_t *pool);
/* The rule as text, as ml_rule_parse() reads it. */
char *ml_rule_format(const ml_rule *rule, apr_pool_t *pool);

/* A list of rules, one per line (LF or CRLF; blank lines skipped), and
 * back ("" for none). */
const char *ml_rules_parse(const char *text, ml_rule **rules, int *count,
                           apr_pool_t *pool);
char *ml_rules_format(const ml_rule *rules, int count, apr_pool_t *pool);

/* ---- the compiled form ------------------------------------------------- */

/* What a compiled list's answer may depend on besides the URL: for Vary
 * and Cache-Control, and for where it may be answered. */
#define ML_RULES_READ_USER_AGENT 0x1u
#define ML_RULES_READ_LANGUAGE   0x2u
#define ML_RULES_READ_COUNTRY    0x4u
#define ML_RULES_READ_ADDRESS    0x8u   /* the client's IP address */
#define ML_RULES_READ_TIME       0x10u  /* the date conditions */

/* Bytes ml_rules_compile() writes for these (valid) rules. */
apr_size_t ml_rules_compiled_size(const ml_rule *rules, int count);
/* Writes the compiled form of valid rules to out (ml_rules_compiled_size()
 * bytes, any alignment). */
void ml_rules_compile(const ml_rule *rules, int count, unsigned char *out);
/* The ML_RULES_READ_* bits of a compiled list. */
unsigned int ml_rules_reads(const unsigned char *compiled);

/*
 * What a request offers the conditions, as the module reads it (any may
 * be NULL), and what is worked out from it, once, as the conditions ask.
 * Zero it, then fill the first part.
 */
typedef struct {
    const char *user_agent;      /* the User-Agent header */
    const char *accept_language; /* the Accept-Language header */
    const char *query;           /* the query string, undecoded, no '?' */
    const char *client_ip;       /* the address as text (mod_remoteip's) */
    const char *country;         /* the GeoIP variable's value */
    apr_int64_t now;             /* Unix seconds */
    /* Filled in lazily by ml_rules_choose(): */
    int classified;              /* devices and browser are known */
    unsigned int devices;        /* bits of the device values */
    int browser;                 /* index of the browser value, -1 none */
    int address_read;            /* family is known */
    int family;                  /* 4, 6, or 0 for no usable address */
    unsigned char address[16];
} ml_request_facts;

/*
 * The URL of the first rule in compiled that matches, or NULL; its length
 * in *url_len.  The URL lives in compiled (NUL-terminated).
 */
const char *ml_rules_choose(const unsigned char *compiled,
                            ml_request_facts *facts, apr_size_t *url_len);

/* ---- the pieces, for tests and fuzzing -------------------------------- */

/* The device values a User-Agent is (bits, in the order of
 * ml_device_names), and its browser (an index into ml_browser_names, or
 * -1).  Token matching, documented in the README. */
extern const char *const ml_device_names[];
extern const char *const ml_browser_names[];
unsigned int ml_user_agent_devices(const char *user_agent);
int ml_user_agent_browser(const char *user_agent);

/* True if an Accept-Language header accepts the language (a stored
 * condition value: "en" or "en-us"): as Shlink, a language range with
 * q >= 0.9 whose primary subtag is the language and, if the condition has
 * one, whose second subtag is its region. */
int ml_accept_language_matches(const char *header, const char *language);

/* An IP condition: 4 or 16 address bytes and a mask of as many; an
 * address matches when (address & mask) == pattern. */
typedef struct {
    int family;                  /* 4 or 6 */
    unsigned char bytes[16];
    unsigned char mask[16];
} ml_ip_pattern;
/* Reads an IP condition's value; NULL, or what is wrong. */
const char *ml_ip_pattern_parse(const char *text, ml_ip_pattern *pattern);
/* Reads an address (IPv4, IPv6, or an IPv4-mapped IPv6 one, which counts
 * as its IPv4 address): the family (4 or 6), or 0 if text is none. */
int ml_ip_address_parse(const char *text, unsigned char address[16]);
int ml_ip_pattern_matches(const ml_ip_pattern *pattern, int family,
                          const unsigned char *address);

/* True if query (undecoded, '&'-separated) has the parameter key: with
 * value (decoded, '+' as space) equal to value, or, value NULL and
 * valueless set, with an empty value, or, value NULL, any. */
int ml_query_has(const char *query, const char *key, apr_size_t key_len,
                 const char *value, apr_size_t value_len, int valueless);

#endif /* ML_RULES_H */
