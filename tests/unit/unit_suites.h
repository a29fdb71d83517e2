/*
 * unit_suites.h - one registration function per test file.
 *
 * unit_main.c calls each of them; each adds one CUnit suite and its tests.
 * They return nothing: a registration error is left in CU_get_error(),
 * which the runner checks.
 */
#ifndef UNIT_SUITES_H
#define UNIT_SUITES_H

void add_link_suite(void);   /* test_link.c:  links/ml_link.h */
void add_rules_suite(void);  /* test_rules.c: links/ml_rules.h, ml_fields.h */
void add_host_suite(void);   /* test_host.c:  links/ml_host.h, ml_policy.h */
void add_form_token_suite(void); /* test_form_token.c: links/ml_form_token.h */
void add_cache_suite(void);  /* test_cache.c: cache/ml_cache.h */
void add_store_suite(void);  /* test_store.c: links/ml_store.h */
void add_list_suite(void);   /* test_list.c:  ml_store_list, a page of links */
void add_apikey_suite(void); /* test_apikey.c: links/ml_apikey.h, API keys in the store */
void add_multipart_suite(void); /* test_multipart.c: links/ml_multipart.h */
void add_store_api_suite(void); /* test_store_api.c: tags, visits for the APIs */
void add_upgrade_suite(void); /* test_upgrade.c: schema 1 to 2 (tests/fixtures) */
void add_load_suite(void);   /* test_load.c:  sync/ml_load.h, ml_refresh.h */
void add_clicks_suite(void); /* test_clicks.c: cache/ml_clicks.h, sync/ml_flush.h */
void add_visits_suite(void); /* test_visits.c: cache/ml_visits.h */
void add_agent_suite(void);  /* test_agent.c: links/ml_agent.h */
void add_drain_suite(void);  /* test_drain.c: sync/ml_visits_drain.h, visits in the store */
void add_cli_suite(void);    /* test_cli.c:   the minilink command */
void add_cli_edit_suite(void); /* test_cli_edit.c: minilink set, export, import, help */
void add_cli_import_suite(void); /* test_cli_import.c: minilink import, --from the peers */
void add_chart_suite(void);  /* test_chart.c: util/ml_chart_scale.h */
void add_tags_suite(void);   /* test_tags.c:  ML tags in the code and README */

#endif /* UNIT_SUITES_H */
