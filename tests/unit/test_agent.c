/*
 * test_agent.c - user agents classified (links/ml_agent.h): uap-core's own
 * test cases for browser and OS families (its tests/test_ua.yaml and
 * test_os.yaml, as Debian installs them), and our device types on a table
 * of real user agents.
 */
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include <CUnit/CUnit.h>
#include <apr_strings.h>
#include "../../links/ml_agent.h"
#include "unit_suites.h"

#define UAP_TESTS "/usr/share/uap-core/tests/"

static ml_agents *agents;
static apr_pool_t *pool;

static int open_agents(void)
{
    const char *error;

    apr_pool_create(&pool, NULL);
    if (ml_agents_load(&agents, ML_AGENT_REGEXES, pool, &error)
        != APR_SUCCESS) {
        fprintf(stderr, "\n%s\n", error);
        return 1;
    }
    return 0;
}

static int close_agents(void)
{
    apr_pool_destroy(pool);
    return 0;
}

static const char *scalar_at(yaml_document_t *doc, yaml_node_t *mapping,
                             const char *key)
{
    yaml_node_pair_t *pair;

    for (pair = mapping->data.mapping.pairs.start;
         pair < mapping->data.mapping.pairs.top; pair++) {
        yaml_node_t *name = yaml_document_get_node(doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(doc, pair->value);
        if (strcmp((const char *)name->data.scalar.value, key) == 0
            && value->type == YAML_SCALAR_NODE) {
            return (const char *)value->data.scalar.value;
        }
    }
    return NULL;
}

/* Each case of a uap-core test file against browser (os 0) or OS (os 1);
 * the number of cases, or -1 if the file cannot be read. */
static int run_uap_cases(const char *file, int os, int *wrong)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root, *cases;
    yaml_node_item_t *item;
    FILE *in = fopen(file, "rb");
    int count = 0;

    *wrong = 0;
    if (in == NULL) {
        return -1;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, in);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_parser_delete(&parser);
        fclose(in);
        return -1;
    }
    root = yaml_document_get_root_node(&doc);
    cases = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
    for (item = cases->data.sequence.items.start;
         item < cases->data.sequence.items.top; item++) {
        yaml_node_t *test = yaml_document_get_node(&doc, *item);
        const char *ua = scalar_at(&doc, test, "user_agent_string");
        const char *family = scalar_at(&doc, test, "family");
        ml_agent agent;
        if (ua == NULL || family == NULL || *ua == '\0') {
            continue;
        }
        ml_agents_classify(agents, ua, &agent);
        if (strcmp(os ? agent.os : agent.browser, family) != 0) {
            if (++*wrong <= 5) {
                fprintf(stderr, "\n    %s: '%s' expected, '%s' classified",
                        ua, family, os ? agent.os : agent.browser);
            }
        }
        count++;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(in);
    return count;
}

static void test_uap_core_browser_cases(void)
{
    int wrong, cases = run_uap_cases(UAP_TESTS "test_ua.yaml", 0, &wrong);

    CU_ASSERT_TRUE_FATAL(cases > 1000);
    CU_ASSERT_EQUAL(wrong, 0);
}

static void test_uap_core_os_cases(void)
{
    int wrong, cases = run_uap_cases(UAP_TESTS "test_os.yaml", 1, &wrong);

    CU_ASSERT_TRUE_FATAL(cases > 400);
    CU_ASSERT_EQUAL(wrong, 0);
}

static void test_device_types(void)
{
    static const struct {
        const char *ua, *browser, *os, *device;
        int bot;
    } cases[] = {
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
          "like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome", "Windows",
          "desktop", 0 },
        { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari",
          "Mac OS X", "desktop", 0 },
        { "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 "
          "Firefox/115.0", "Firefox", "Linux", "desktop", 0 },
        { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/"
          "605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
          "Safari/604.1", "Mobile Safari", "iOS", "mobile", 0 },
        { "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
          "Mobile Safari", "iOS", "tablet", 0 },
        { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
          "like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome Mobile",
          "Android", "mobile", 0 },
        { "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, "
          "like Gecko) Chrome/119.0.0.0 Safari/537.36", "Chrome", "Android",
          "tablet", 0 },
        { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/"
          "bot.html)", "Googlebot", "Other", "bot", 1 },
        { "facebookexternalhit/1.1", "FacebookBot", "Other", "bot", 1 },
        { "curl/7.88.1", "curl", "Other", "bot", 1 },
        { "", "Other", "Other", "bot", 1 },
        { "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko)", "Apple Mail", "Other", "other", 0 },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_agent agent, again;
        ml_agents_classify(agents, cases[i].ua, &agent);
        CU_ASSERT_STRING_EQUAL(agent.browser, cases[i].browser);
        CU_ASSERT_STRING_EQUAL(agent.os, cases[i].os);
        CU_ASSERT_STRING_EQUAL(agent.device, cases[i].device);
        CU_ASSERT_EQUAL(agent.bot, cases[i].bot);
        if (strcmp(agent.device, cases[i].device) != 0) {
            fprintf(stderr, "\n    %s: %s, expected %s", cases[i].ua,
                    agent.device, cases[i].device);
        }
        /* Kept: the second time is the same answer. */
        ml_agents_classify(agents, cases[i].ua, &again);
        CU_ASSERT_STRING_EQUAL(again.device, agent.device);
    }
}

static void test_missing_regexes_say_so(void)
{
    ml_agents *none;
    const char *error;

    CU_ASSERT_NOT_EQUAL(ml_agents_load(&none, "/nonexistent/regexes.yaml",
                                       pool, &error), APR_SUCCESS);
    CU_ASSERT_PTR_NULL(none);
    CU_ASSERT_PTR_NOT_NULL(strstr(error, "uap-core"));
}

void add_agent_suite(void)
{
    CU_pSuite suite = CU_add_suite("agent", open_agents, close_agents);

    CU_add_test(suite, "uap-core's browser cases", test_uap_core_browser_cases);
    CU_add_test(suite, "uap-core's OS cases", test_uap_core_os_cases);
    CU_add_test(suite, "device types and bots", test_device_types);
    CU_add_test(suite, "missing regexes: said so", test_missing_regexes_say_so);
}
