/*
 * module/early.c - when a redirect may be answered from translate_name.
 *
 * The ordinary path to the handler runs, after translate_name: the
 * location walk again, post_perdir_config, header_parser (mod_setenvif's
 * per-directory SetEnvIf), the access checkers (host rules, Require,
 * authentication), type_checker and fixups (per-directory mod_rewrite and
 * Redirect, SetEnv, RequestHeader), then the handler.  Answering from
 * translate_name, as mod_alias answers Redirect, skips all of that and
 * costs a third less CPU; it is only right when none of it could have
 * changed the answer.  The rule (checked for every request, in
 * ml_early_allowed()) is:
 *
 *   1. every module with a hook in those phases is one whose source we
 *      have read (known_modules below), and
 *   2. none of those that can change an answer is configured for this
 *      request: no <Location> or <If> that applies to it holds one of
 *      their directives (seen as their per-directory configuration being
 *      the virtual host's own, pointer for pointer: httpd merges a module's
 *      configuration only when a section gives one of its directives), and
 *      none of the few whose directives also act from server or virtual
 *      host level is configured there (read from the configuration tree at
 *      startup), and
 *   3. no <If> section is in scope, and "MinilinkEarlyAnswer Off" is not.
 *
 * So a location with any access rule at all - Require, AuthType,
 * Order/Allow/Deny, SetEnvIf, <If>, a per-directory RewriteRule - takes the
 * ordinary path, where httpd itself decides; only the plain location is
 * answered early.  A module we do not know, if it hooks one of those
 * phases, turns early answers off for the whole server (one ML00035 line
 * at startup names it).
 *
 * Two phases between translate_name and the handler do not matter here:
 * insert_filter, because a redirect is sent as an error response
 * (ap_die), which drops the filters inserted for a content answer and runs
 * insert_error_filter on either path; and the handler phase before ours,
 * whose hooks answer other handlers' names.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_request.h"
#include "util_cfgtree.h"
#include "apr_strings.h"

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

/* How a module hooked between translate_name and the handler can change
 * the answer to a GET of a slug. */
typedef enum {
    /* it cannot, however it is configured */
    REACH_NONE,
    /* only through its directives in a section that applies to the request */
    REACH_SECTION,
    /* also through directives at server or virtual-host level that
     * directive_acts_late() picks out */
    REACH_SERVER
} module_reach;

/*
 * The modules whose hooks in those phases we have read, by the name httpd
 * gives them (the file of their module structure).  Anything else that
 * hooks one of the phases is unknown, and unknown means "take the
 * ordinary path".
 */
static const struct {
    const char *name;
    module_reach reach;
} known_modules[] = {
    /* SetHandler and ForceType (fixups), OPTIONS * and TRACE
     * (map_to_storage), protocol upgrades (handler); and ours. */
    {"core.c", REACH_NONE},
    {"http_core.c", REACH_NONE},
    {"mod_minilink.c", REACH_NONE},
    /* type_checker: mod_minilink's own type_checker answers first for its
     * requests, so these never see one. */
    {"mod_mime.c", REACH_NONE},
    {"mod_mime_magic.c", REACH_NONE},
    {"mod_negotiation.c", REACH_NONE},
    /* fixups that only act on files and directories (r->finfo), requests
     * without a handler, or mod_proxy's own "proxy:" requests. */
    {"mod_dir.c", REACH_NONE},
    {"mod_include.c", REACH_NONE},
    {"mod_proxy.c", REACH_NONE},
    /* fixups that only set environment variables; what reads them while
     * a redirect is sent is mod_headers, checked as REACH_SERVER. */
    {"mod_env.c", REACH_NONE},
    {"mod_http2.c", REACH_NONE},
    /* access and authentication: their directives are only allowed in
     * sections (Require, AuthType, Order/Allow/Deny, SSLRequire...), or at
     * server level act before translate_name (SetEnvIf in post_read_request,
     * Redirect and RewriteRule in translate_name). */
    {"mod_authz_core.c", REACH_SECTION},
    {"mod_authn_core.c", REACH_SECTION},
    {"mod_auth_basic.c", REACH_SECTION},
    {"mod_auth_digest.c", REACH_SECTION},
    {"mod_authnz_ldap.c", REACH_SECTION},
    {"mod_access_compat.c", REACH_SECTION},
    {"mod_allowmethods.c", REACH_SECTION},
    {"mod_setenvif.c", REACH_SECTION},
    {"mod_alias.c", REACH_SECTION},
    {"mod_rewrite.c", REACH_SECTION},
    {"mod_ssl.c", REACH_SECTION},
    {"mod_dav.c", REACH_SECTION},
    {"mod_wsgi.c", REACH_SECTION},
    /* Header and RequestHeader, and CookieTracking, also act from server
     * level on the error path that sends a redirect. */
    {"mod_headers.c", REACH_SERVER},
    {"mod_usertrack.c", REACH_SERVER},
};

/* A hook as httpd keeps it: every phase's link type has this layout
 * (APR_DECLARE_EXTERNAL_HOOK); mod_info reads them the same way. */
typedef struct {
    void (*function)(void);
    const char *module_name;
    const char *const *predecessors;
    const char *const *successors;
    int order;
} hook_link;

typedef apr_array_header_t *hook_list_fn(void);

/* The phases between translate_name and the handler that can change an
 * answer. */
static const struct {
    const char *name;
    hook_list_fn *hooks;
} late_phases[] = {
    {"map_to_storage", ap_hook_get_map_to_storage},
    {"post_perdir_config", ap_hook_get_post_perdir_config},
    {"header_parser", ap_hook_get_header_parser},
    {"access_checker", ap_hook_get_access_checker},
    {"access_checker_ex", ap_hook_get_access_checker_ex},
    {"force_authn", ap_hook_get_force_authn},
    {"check_user_id", ap_hook_get_check_user_id},
    {"auth_checker", ap_hook_get_auth_checker},
    {"type_checker", ap_hook_get_type_checker},
    {"fixups", ap_hook_get_fixups},
};

/* What a server's requests are checked against; one per server_rec. */
struct ml_early_plan {
    const char *off_because;          /* NULL: early answers are possible */
    apr_array_header_t *watched;      /* module *: must be unconfigured */
};

static int known_reach(const char *name)
{
    apr_size_t i;

    for (i = 0; i < sizeof(known_modules) / sizeof(known_modules[0]); i++) {
        if (strcmp(known_modules[i].name, name) == 0) {
            return (int)known_modules[i].reach;
        }
    }
    return -1;
}

/*
 * The modules every request must find unconfigured, into *watched; or the
 * reason early answers are off everywhere (a module we do not know).
 */
static const char *watch_late_hooks(apr_array_header_t *watched,
                                    apr_array_header_t *server_reach,
                                    apr_pool_t *pool)
{
    apr_size_t phase;
    int i, j;

    for (phase = 0; phase < sizeof(late_phases) / sizeof(late_phases[0]);
         phase++) {
        apr_array_header_t *hooks = late_phases[phase].hooks();
        for (i = 0; hooks && i < hooks->nelts; i++) {
            const char *name = ((hook_link *)hooks->elts)[i].module_name;
            int reach = name ? known_reach(name) : -1;
            module *found = name ? ap_find_linked_module(name) : NULL;
            if (reach == REACH_NONE) {
                continue;
            }
            if (reach < 0 || found == NULL) {
                return apr_psprintf(pool, "%s hooks %s", name ? name
                                    : "a module", late_phases[phase].name);
            }
            for (j = 0; j < watched->nelts; j++) {
                if (APR_ARRAY_IDX(watched, j, module *) == found) {
                    break;
                }
            }
            if (j == watched->nelts) {
                APR_ARRAY_PUSH(watched, module *) = found;
                if (reach == REACH_SERVER) {
                    APR_ARRAY_PUSH(server_reach, module *) = found;
                }
            }
        }
    }
    return NULL;
}

/*
 * True if a REACH_SERVER module's directive, given at server or virtual-
 * host level, can make the two paths answer differently.  RequestHeader
 * runs in fixups (ordinary path only); a Header whose value or condition
 * reads the environment, an expression or a request header could see
 * what fixups set; a plain "Header always set X y" is applied to both
 * (by the error path's filter) and keeps early answers.
 */
static int directive_acts_late(const ap_directive_t *directive)
{
    const char *args = directive->args ? directive->args : "";

    if (strcasecmp(directive->directive, "Header") != 0) {
        return 1;
    }
    return ap_strcasestr(args, "env=") || ap_strcasestr(args, "expr=")
           || strstr(args, "%{") || ap_strcasestr(args, "echo");
}

/* Sections whose directives are per-directory: a request either falls in
 * them (seen per request) or not.  Their contents are not server level. */
static int is_per_directory_section(const char *name)
{
    static const char *const sections[] = {
        "<Directory", "<DirectoryMatch", "<Files", "<FilesMatch",
        "<Location", "<LocationMatch", "<If", "<ElseIf", "<Else", "<Proxy",
        "<ProxyMatch", "<AuthnProviderAlias", "<AuthzProviderAlias",
        "<Macro", NULL
    };
    int i;

    for (i = 0; sections[i]; i++) {
        if (strcasecmp(name, sections[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The plan of the server a <VirtualHost> node made (httpd records where
 * each was defined), or NULL. */
static ml_early_plan *plan_defined_at(server_rec *main_server,
                                      const ap_directive_t *node)
{
    server_rec *s;

    for (s = main_server->next; s; s = s->next) {
        if (s->defn_name && node->filename
            && strcmp(s->defn_name, node->filename) == 0
            && s->defn_line_number == (unsigned)node->line_num) {
            return ml_server_config_of(s)->early;
        }
    }
    return NULL;
}

static int provided_by(const ap_directive_t *node,
                       const apr_array_header_t *modules)
{
    module *owner = ap_top_module;
    int i;

    if (ap_find_command_in_modules(node->directive, &owner) == NULL) {
        return 0;
    }
    for (i = 0; i < modules->nelts; i++) {
        if (APR_ARRAY_IDX(modules, i, module *) == owner) {
            return 1;
        }
    }
    return 0;
}

/*
 * Walks the configuration tree from node, whose directives configure the
 * server with this plan (the main server's at the top), and turns early
 * answers off where a REACH_SERVER directive acts late.  Conditional
 * sections (<IfModule> and the like) are taken as true: at worst that
 * costs an early answer.
 */
static void find_late_directives(const ap_directive_t *node,
                                 ml_early_plan *plan, server_rec *main_server,
                                 const apr_array_header_t *modules,
                                 apr_pool_t *pool)
{
    for (; node; node = node->next) {
        const char *name = node->directive;
        if (strcasecmp(name, "<VirtualHost") == 0) {
            ml_early_plan *host = plan_defined_at(main_server, node);
            find_late_directives(node->first_child, host ? host : plan,
                                 main_server, modules, pool);
        }
        else if (is_per_directory_section(name)) {
            continue;
        }
        else if (node->first_child) {
            find_late_directives(node->first_child, plan, main_server,
                                 modules, pool);
        }
        else if (plan->off_because == NULL && provided_by(node, modules)
                 && directive_acts_late(node)) {
            plan->off_because = apr_psprintf(pool, "%s at %s:%d", name,
                                             node->filename, node->line_num);
        }
    }
}

void ml_early_post_config(apr_pool_t *pconf, server_rec *main_server)
{
    apr_array_header_t *watched = apr_array_make(pconf, 8, sizeof(module *));
    apr_array_header_t *server_reach = apr_array_make(pconf, 2,
                                                      sizeof(module *));
    const char *everywhere = watch_late_hooks(watched, server_reach, pconf);
    ml_early_plan *main_plan;
    server_rec *s;

    for (s = main_server; s; s = s->next) {
        ml_early_plan *plan = apr_pcalloc(pconf, sizeof(*plan));
        plan->off_because = everywhere;
        plan->watched = watched;
        ml_server_config_of(s)->early = plan;
    }
    main_plan = ml_server_config_of(main_server)->early;
    if (everywhere == NULL && server_reach->nelts > 0) {
        find_late_directives(ap_conftree, main_plan, main_server,
                             server_reach, pconf);
    }
    for (s = main_server; s; s = s->next) {
        ml_early_plan *plan = ml_server_config_of(s)->early;
        /* Virtual hosts inherit the main server's per-directory settings. */
        if (plan->off_because == NULL) {
            plan->off_because = main_plan->off_because;
        }
        if (plan->off_because) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MLLOGNO(00035) "redirects "
                         "for %s:%u are answered after access control, not "
                         "early: %s", s->server_hostname
                         ? s->server_hostname : "(main server)", s->port,
                         plan->off_because);
        }
    }
}

int ml_early_allowed(request_rec *r)
{
    const ml_early_plan *plan = ml_server_config_of(r->server)->early;
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    int i;

    if (plan == NULL || plan->off_because || core->sec_if) {
        return 0;
    }
    for (i = 0; i < plan->watched->nelts; i++) {
        module *m = APR_ARRAY_IDX(plan->watched, i, module *);
        if (ap_get_module_config(r->per_dir_config, m)
            != ap_get_module_config(r->server->lookup_defaults, m)) {
            return 0;
        }
    }
    return 1;
}
