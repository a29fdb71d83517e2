/*
 * ml_visit_json.h - a visit as JSON, for the admin handler and the CLI
 * alike: Shlink's fields (REST API v3's visit: referer, date, userAgent,
 * visitLocation, potentialBot, visitedUrl, redirectUrl, type), and ours
 * (ip, and the browser, os and device a user agent is classified as).
 * Depends on jansson and the store's types.
 */
#ifndef ML_VISIT_JSON_H
#define ML_VISIT_JSON_H

#include <jansson.h>
#include "ml_agent.h"
#include "ml_store.h"

/* The visit as a JSON object (a new reference); agent: what its user agent
 * is, or NULL to leave browser, os and device out. */
json_t *ml_visit_json(const ml_store_visit *visit, const ml_agent *agent);

/* "YYYY-MM-DDTHH:MM:SS+00:00" (date_only: "YYYY-MM-DD") into out (26
 * bytes), UTC. */
void ml_visit_time(char *out, apr_int64_t seconds, int date_only);

#endif /* ML_VISIT_JSON_H */
