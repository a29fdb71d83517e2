/*
 * ml_agent.c - user agents classified with uap-core's regexes (ml_agent.h).
 *
 * regexes.yaml holds three lists (user_agent_parsers, os_parsers,
 * device_parsers) of mappings: "regex", an optional "regex_flag: 'i'",
 * and replacements (family_replacement, os_replacement,
 * device_replacement...).  Only the family of each is used here: the
 * versions, brand and model are more than the CLI shows.  The regexes are
 * compiled once (without PCRE2's JIT: compiling 1,100 patterns with it
 * took longer than matching a day's worth of distinct user agents), and
 * each user agent's result is kept in a table, emptied when it grows past
 * KEPT_MOST entries.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <yaml.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "ml_agent.h"

#define KEPT_MOST 20000
#define GROUPS 10          /* $0..$9 */

typedef struct {
    pcre2_code *regex;
    const char *replacement;      /* the family's, or NULL: group 1 */
} parser;

typedef struct {
    parser *parsers;
    int count;
} parser_list;

enum { LIST_BROWSER, LIST_OS, LIST_DEVICE, LISTS };

static const char *const list_names[LISTS] = {
    "user_agent_parsers", "os_parsers", "device_parsers"
};
static const char *const replacement_names[LISTS] = {
    "family_replacement", "os_replacement", "device_replacement"
};

struct ml_agents {
    parser_list lists[LISTS];
    pcre2_match_data *match;
    apr_pool_t *pool;
    apr_pool_t *kept_pool;        /* the results kept, cleared when full */
    apr_hash_t *kept;             /* user agent -> ml_agent */
};

static apr_status_t free_regexes(void *data)
{
    ml_agents *agents = data;
    int list, i;

    for (list = 0; list < LISTS; list++) {
        for (i = 0; i < agents->lists[list].count; i++) {
            pcre2_code_free(agents->lists[list].parsers[i].regex);
        }
    }
    pcre2_match_data_free(agents->match);
    return APR_SUCCESS;
}

static const char *scalar(yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE
           ? (const char *)node->data.scalar.value : NULL;
}

/* The value under key in a mapping node, or NULL. */
static yaml_node_t *value_of(yaml_document_t *doc, yaml_node_t *mapping,
                             const char *key)
{
    yaml_node_pair_t *pair;

    if (mapping == NULL || mapping->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (pair = mapping->data.mapping.pairs.start;
         pair < mapping->data.mapping.pairs.top; pair++) {
        const char *name = scalar(yaml_document_get_node(doc, pair->key));
        if (name && strcmp(name, key) == 0) {
            return yaml_document_get_node(doc, pair->value);
        }
    }
    return NULL;
}

/* Compiles one list; NULL, or what is wrong. */
static const char *compile_list(ml_agents *agents, yaml_document_t *doc,
                                yaml_node_t *root, int list)
{
    yaml_node_t *sequence = value_of(doc, root, list_names[list]);
    parser_list *out = &agents->lists[list];
    yaml_node_item_t *item;

    if (sequence == NULL || sequence->type != YAML_SEQUENCE_NODE) {
        return apr_psprintf(agents->pool, "no list '%s'", list_names[list]);
    }
    out->parsers = apr_pcalloc(agents->pool,
                               (apr_size_t)(sequence->data.sequence.items.top
                                            - sequence->data.sequence.items.start)
                               * sizeof(parser));
    for (item = sequence->data.sequence.items.start;
         item < sequence->data.sequence.items.top; item++) {
        yaml_node_t *entry = yaml_document_get_node(doc, *item);
        const char *pattern = scalar(value_of(doc, entry, "regex"));
        const char *flag = scalar(value_of(doc, entry, "regex_flag"));
        const char *replacement = scalar(value_of(doc, entry,
                                                       replacement_names[list]));
        parser *p = &out->parsers[out->count];
        PCRE2_SIZE offset;
        int code;

        if (pattern == NULL) {
            return apr_psprintf(agents->pool, "an entry of '%s' has no regex",
                                list_names[list]);
        }
        p->regex = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 flag && strchr(flag, 'i') ? PCRE2_CASELESS : 0,
                                 &code, &offset, NULL);
        if (p->regex == NULL) {
            PCRE2_UCHAR message[160];
            pcre2_get_error_message(code, message, sizeof(message));
            return apr_psprintf(agents->pool, "regex '%s' of '%s': %s",
                                pattern, list_names[list], (char *)message);
        }
        p->replacement = replacement ? apr_pstrdup(agents->pool, replacement)
                                     : NULL;
        out->count++;
    }
    return NULL;
}

apr_status_t ml_agents_load(ml_agents **result, const char *path,
                            apr_pool_t *pool, const char **error)
{
    ml_agents *agents = apr_pcalloc(pool, sizeof(*agents));
    yaml_parser_t parser;
    yaml_document_t doc;
    FILE *in;
    int list;

    *result = NULL;
    *error = NULL;
    agents->pool = pool;
    apr_pool_cleanup_register(pool, agents, free_regexes,
                              apr_pool_cleanup_null);
    if ((in = fopen(path, "rb")) == NULL) {
        *error = apr_psprintf(pool, "%s: cannot be read (Debian package "
                              "uap-core)", path);
        return APR_ENOENT;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, in);
    if (!yaml_parser_load(&parser, &doc)) {
        *error = apr_psprintf(pool, "%s: not YAML: %s (line %lu)", path,
                              parser.problem ? parser.problem : "?",
                              (unsigned long)parser.problem_mark.line + 1);
        yaml_parser_delete(&parser);
        fclose(in);
        return APR_EGENERAL;
    }
    for (list = 0; list < LISTS && *error == NULL; list++) {
        const char *problem = compile_list(agents, &doc,
                                           yaml_document_get_root_node(&doc),
                                           list);
        if (problem) {
            *error = apr_psprintf(pool, "%s: %s", path, problem);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(in);
    if (*error) {
        return APR_EGENERAL;
    }
    agents->match = pcre2_match_data_create(GROUPS, NULL);
    apr_pool_create(&agents->kept_pool, pool);
    agents->kept = apr_hash_make(agents->kept_pool);
    *result = agents;
    return APR_SUCCESS;
}

/* The replacement with "$N" filled from the match of subject, or group 1;
 * trimmed; NULL if that is empty. */
static const char *family_of(ml_agents *agents, const parser *p,
                             const char *subject)
{
    PCRE2_SIZE *groups = pcre2_get_ovector_pointer(agents->match);
    apr_uint32_t found = pcre2_get_ovector_count(agents->match);
    const char *pattern = p->replacement ? p->replacement : "$1";
    char *out = apr_palloc(agents->kept_pool, strlen(pattern)
                                              + strlen(subject) * 2 + 1);
    char *end = out;

    for (; *pattern; pattern++) {
        unsigned int g;
        if (pattern[0] == '$' && pattern[1] >= '1' && pattern[1] <= '9') {
            g = (unsigned int)(pattern[1] - '0');
            if (g < found && groups[2 * g] != PCRE2_UNSET) {
                memcpy(end, subject + groups[2 * g],
                       groups[2 * g + 1] - groups[2 * g]);
                end += groups[2 * g + 1] - groups[2 * g];
            }
            pattern++;
            continue;
        }
        *end++ = *pattern;
    }
    while (end > out && end[-1] == ' ') {
        end--;
    }
    *end = '\0';
    while (*out == ' ') {
        out++;
    }
    return *out ? out : NULL;
}

/* The first family a list's regexes give the subject, or "Other". */
static const char *match_list(ml_agents *agents, int list, const char *subject)
{
    const parser_list *parsers = &agents->lists[list];
    int i;

    for (i = 0; i < parsers->count; i++) {
        if (pcre2_match(parsers->parsers[i].regex, (PCRE2_SPTR)subject,
                        PCRE2_ZERO_TERMINATED, 0, 0, agents->match, NULL) >= 0) {
            const char *family = family_of(agents, &parsers->parsers[i],
                                           subject);
            return family ? family : "Other";
        }
    }
    return "Other";
}

static int one_of(const char *family, const char *const *names)
{
    for (; *names; names++) {
        if (strcmp(family, *names) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The device type from the families (ml_agents_classify() says how). */
static const char *device_type(const char *user_agent, const char *browser,
                               const char *os, const char *device)
{
    /* Tools and libraries, as uap-core names them: no person clicks with
     * these. */
    static const char *const http_clients[] = {
        "curl", "Wget", "wget2", "libcurl-agent", "PycURL", "python-requests",
        "Python-urllib", "Go-http-client", "okhttp", "axios", "aihttp",
        "reqwest", "Apache-HttpClient", "Google-HTTP-Java-Client",
        "libwww-perl", "PostmanRuntime", "aria2", "HTTPie", NULL
    };
    static const char *const phones[] = {
        "iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", NULL
    };
    static const char *const mobile_os[] = {
        "iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS",
        "Symbian OS", "Firefox OS", "Tizen", "Sailfish", NULL
    };
    static const char *const desktop_os[] = {
        "Windows", "Mac OS X", "Linux", "Ubuntu", "Kubuntu", "Xubuntu",
        "Debian", "Fedora", "Red Hat", "SUSE", "openSUSE", "Gentoo", "Mint",
        "Linux Mint", "Arch Linux", "Slackware", "Mandriva", "CentOS",
        "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", NULL
    };

    if (strcmp(device, "Spider") == 0 || one_of(browser, http_clients)) {
        return "bot";
    }
    if (strcmp(device, "iPad") == 0 || strstr(device, "Tablet")
        || strstr(device, "Kindle")
        || (strcmp(os, "Android") == 0 && strstr(user_agent, "Mobile") == NULL)) {
        return "tablet";
    }
    if (one_of(device, phones) || one_of(os, mobile_os)) {
        return "mobile";
    }
    return one_of(os, desktop_os) ? "desktop" : "other";
}

void ml_agents_classify(ml_agents *agents, const char *user_agent,
                        ml_agent *agent)
{
    ml_agent *kept;

    if (user_agent == NULL || *user_agent == '\0') {
        agent->browser = agent->os = "Other";
        agent->device = "bot";
        agent->bot = 1;
        return;
    }
    if ((kept = apr_hash_get(agents->kept, user_agent,
                             APR_HASH_KEY_STRING)) != NULL) {
        *agent = *kept;
        return;
    }
    if (apr_hash_count(agents->kept) >= KEPT_MOST) {
        apr_pool_clear(agents->kept_pool);
        agents->kept = apr_hash_make(agents->kept_pool);
    }
    kept = apr_palloc(agents->kept_pool, sizeof(*kept));
    kept->browser = match_list(agents, LIST_BROWSER, user_agent);
    kept->os = match_list(agents, LIST_OS, user_agent);
    kept->device = device_type(user_agent, kept->browser, kept->os,
                               match_list(agents, LIST_DEVICE, user_agent));
    kept->bot = strcmp(kept->device, "bot") == 0;
    apr_hash_set(agents->kept, apr_pstrdup(agents->kept_pool, user_agent),
                 APR_HASH_KEY_STRING, kept);
    *agent = *kept;
}
