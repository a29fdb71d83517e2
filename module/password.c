/*
 * module/password.c - links behind a password.
 *
 *   GET  <prefix>/<slug>   a small form asking for the password (200)
 *   POST <prefix>/<slug>   the password: right, the redirect (303); wrong,
 *                          the form again (403), and one more wrong guess
 *
 * The hash is bcrypt, made by apr_bcrypt_encode() (the minilink command,
 * the creation form) and checked with apr_password_validate(), which
 * takes as long for a wrong password as for a right one.  The form is the
 * creation form's kind: a CSRF token that is also a cookie, an Origin
 * that must be ours, every value escaped, no script (create.c, pages.c).
 * Wrong guesses are limited per client address and link (ratelimit.c):
 * ML_GUESSES in ML_GUESS_PERIOD seconds, then 429 with Retry-After, right
 * or wrong.  Never answered early (rules.c): the form comes after httpd's
 * own access control.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_md5.h"
#include "apr_strings.h"

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

/* The form posts to where it was shown, query string and all, so that a
 * right password is forwarded the way a plain GET would be. */
static const char *action_of(request_rec *r)
{
    return apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri),
                       r->args ? "?" : "", r->args ? r->args : "", NULL);
}

int ml_password_gate(request_rec *r, const ml_dir_config *conf,
                     const char *slug, const char *hash)
{
    const char *content_type = apr_table_get(r->headers_in, "Content-Type");
    const char *action = action_of(r), *problem, *password;
    apr_table_t *fields;
    apr_int64_t retry_after = 0;
    int status;

    (void)conf;
    if (r->method_number != M_POST) {
        return ml_page_password(r, HTTP_OK, action, ml_form_token(r), NULL);
    }
    switch (ml_ratelimit_may_guess(r, slug, &retry_after)) {
    case -1:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00040) "the password "
                      "of '%s' cannot be checked: wrong guesses are counted "
                      "in mod_slotmem_shm's slots, and it is not loaded "
                      "(LoadModule slotmem_shm_module ...)", slug);
        return HTTP_SERVICE_UNAVAILABLE;
    case 0:
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, retry_after));
        return ml_page_password(r, HTTP_TOO_MANY_REQUESTS, action,
                                ml_form_token(r), apr_psprintf(r->pool,
                                "too many wrong passwords; try again in %"
                                APR_INT64_T_FMT " seconds", retry_after));
    }
    if (content_type == NULL
        || strncasecmp(content_type, "application/x-www-form-urlencoded",
                       33) != 0) {
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if ((problem = ml_read_form(r, &fields, &status)) != NULL) {
        return status;
    }
    if ((problem = ml_form_post_problem(r, apr_table_get(fields, "csrf")))) {
        return ml_page_password(r, HTTP_FORBIDDEN, action, ml_form_token(r),
                                problem);
    }
    password = apr_table_get(fields, "password");
    if (password && apr_password_validate(password, hash) == APR_SUCCESS) {
        return ML_PASSWORD_RIGHT;
    }
    ml_ratelimit_count_guess(r, slug);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MLLOGNO(00041) "a wrong "
                  "password for '%s'", slug);
    return ml_page_password(r, HTTP_FORBIDDEN, action, ml_form_token(r),
                            "wrong password");
}
