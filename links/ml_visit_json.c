/*
 * ml_visit_json.c - a visit as JSON (ml_visit_json.h).
 */
#include <apr_time.h>
#include <apr_strings.h>
#include "ml_visit_json.h"

void ml_visit_time(char *out, apr_int64_t seconds, int date_only)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_from_sec(seconds));
    if (date_only) {
        apr_snprintf(out, 26, "%04d-%02d-%02d", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday);
    }
    else {
        apr_snprintf(out, 26, "%04d-%02d-%02dT%02d:%02d:%02d+00:00",
                     t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                     t.tm_min, t.tm_sec);
    }
}

static json_t *text_or_null(const char *text)
{
    return text && *text ? json_string(text) : json_null();
}

json_t *ml_visit_json(const ml_store_visit *visit, const ml_agent *agent)
{
    char date[26];
    json_t *object;

    ml_visit_time(date, visit->visited_at, 0);
    object = json_pack(
        "{s:o, s:s, s:o, s:o, s:b, s:s, s:o, s:s, s:o}",
        "referer", text_or_null(visit->referrer),
        "date", date,
        "userAgent", text_or_null(visit->user_agent),
        "visitLocation", visit->country && *visit->country
            ? json_pack("{s:s, s:b}", "countryCode", visit->country,
                        "isEmpty", 0)
            : json_null(),
        "potentialBot", visit->bot,
        "visitedUrl", visit->visited_path ? visit->visited_path : "",
        "redirectUrl", text_or_null(visit->redirect_url),
        "type", visit->orphan_type ? visit->orphan_type : "valid_short_url",
        "ip", text_or_null(visit->ip));
    if (object && agent) {
        json_object_set_new(object, "browser", json_string(agent->browser));
        json_object_set_new(object, "os", json_string(agent->os));
        json_object_set_new(object, "device", json_string(agent->device));
    }
    return object;
}
