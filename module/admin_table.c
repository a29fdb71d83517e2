/*
 * module/admin_table.c - <root>links: every link, a page at a time.
 * (Waits for ml_store_list() of the API's branch; until then a stub page.)
 */
#include "httpd.h"
#include "http_protocol.h"

#include "admin.h"

int ml_admin_table(ml_admin *a)
{
    ml_admin_start(a, HTTP_OK, "Links");
    ml_admin_notice(a, "done", ml_admin_query_text(a, "done") ? "Deleted." : NULL);
    return ml_admin_end(a);
}
