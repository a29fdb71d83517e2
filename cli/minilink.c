/*
 * minilink - manage a mod_minilink database from the command line.
 *
 *   minilink [--db PATH] init | add URL [SLUG] | rm SLUG | list | show SLUG
 *
 * The database defaults to $MINILINK_DB.  Uses the same validation and the
 * same SQL as the module (links/); every change is one transaction, so a
 * refused command writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "../links/ml_store.h"

/* Exit statuses, documented in --help and the README. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_INVALID = 2,
    EXIT_NOT_FOUND = 3,
    EXIT_TAKEN = 4,
    EXIT_DATABASE = 5
};

static const char usage_text[] =
    "usage: minilink [--db PATH] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  init              create the links table in PATH (harmless if it exists)\n"
    "  add URL [SLUG]    store a link; without SLUG a random one is made;\n"
    "                    prints the slug\n"
    "  rm SLUG           delete a link\n"
    "  list              print every link as SLUG<TAB>URL, ordered by slug\n"
    "  show SLUG         print one link's fields\n"
    "  help              print this text\n"
    "\n"
    "The database is PATH, or $MINILINK_DB when --db is not given.\n"
    "Slugs: 1 to 64 letters, digits, '-' or '_'.  URLs: absolute http or https.\n"
    "\n"
    "exit status: 0 done, 1 usage error, 2 invalid URL or slug, 3 no such\n"
    "link, 4 slug already taken, 5 database error\n";

static int fail(int status, const char *message)
{
    fprintf(stderr, "minilink: %s\n", message);
    return status;
}

static int usage_error(const char *message)
{
    fprintf(stderr, "minilink: %s\n%s", message, usage_text);
    return EXIT_USAGE;
}

/* The exit status for a store call that failed with rv. */
static int store_failed(ml_store *store, apr_status_t rv)
{
    int status = rv == APR_EINVAL ? EXIT_INVALID
               : rv == APR_EEXIST ? EXIT_TAKEN
               : rv == APR_ENOENT ? EXIT_NOT_FOUND
               : EXIT_DATABASE;
    return fail(status, ml_store_error(store));
}

static const char *format_time(apr_pool_t *pool, apr_int64_t seconds)
{
    time_t when = (time_t)seconds;
    struct tm utc;
    char text[32];

    if (gmtime_r(&when, &utc) == NULL
        || strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc) == 0) {
        return apr_psprintf(pool, "%" APR_INT64_T_FMT, seconds);
    }
    return apr_pstrdup(pool, text);
}

static int command_add(ml_store *store, int argc, char **argv, apr_pool_t *pool)
{
    ml_link link = {0};
    apr_status_t rv;

    if (argc < 1 || argc > 2) {
        return usage_error("add takes a URL and an optional slug");
    }
    link.url = argv[0];
    link.slug = argc == 2 ? argv[1] : NULL;
    if ((rv = ml_store_add(store, &link, pool)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    printf("%s\n", link.slug);
    return EXIT_OK;
}

static int command_rm(ml_store *store, int argc, char **argv)
{
    apr_status_t rv;

    if (argc != 1) {
        return usage_error("rm takes one slug");
    }
    if ((rv = ml_store_remove(store, argv[0])) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    return EXIT_OK;
}

static apr_status_t print_row(void *ctx, const ml_link *link,
                              const char *problem)
{
    (void)ctx;
    if (problem) {
        fprintf(stderr, "minilink: row %" APR_INT64_T_FMT " is not served: %s\n",
                link->id, problem);
    }
    printf("%s\t%s\n", link->slug ? link->slug : "", link->url ? link->url : "");
    return APR_SUCCESS;
}

static int command_list(ml_store *store, int argc)
{
    apr_status_t rv;

    if (argc != 0) {
        return usage_error("list takes no arguments");
    }
    if ((rv = ml_store_each(store, print_row, NULL)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    return EXIT_OK;
}

static int command_show(ml_store *store, int argc, char **argv, apr_pool_t *pool)
{
    ml_link link;
    apr_status_t rv;

    if (argc != 1) {
        return usage_error("show takes one slug");
    }
    if ((rv = ml_store_get(store, argv[0], &link, NULL, pool)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    printf("slug: %s\nurl: %s\n", link.slug, link.url);
    if (link.status) {
        printf("status: %d\n", link.status);
    }
    else {
        printf("status: default\n");
    }
    printf("expires: %s\n", link.expires_at
                            ? format_time(pool, link.expires_at) : "never");
    printf("disabled: %s\n", link.disabled ? "yes" : "no");
    printf("created: %s\n", format_time(pool, link.created_at));
    printf("updated: %s\n", format_time(pool, link.updated_at));
    return EXIT_OK;
}

static int run(int argc, char **argv, apr_pool_t *pool)
{
    const char *db_path = getenv("MINILINK_DB"), *command;
    ml_store *store;
    apr_status_t rv;

    argc--, argv++;
    if (argc >= 1 && strcmp(argv[0], "--db") == 0) {
        if (argc < 2) {
            return usage_error("--db needs a path");
        }
        db_path = argv[1];
        argc -= 2, argv += 2;
    }
    if (argc < 1) {
        return usage_error("no command given");
    }
    command = argv[0];
    argc--, argv++;
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0
        || strcmp(command, "-h") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "init") && strcmp(command, "add") && strcmp(command, "rm")
        && strcmp(command, "list") && strcmp(command, "show")) {
        return usage_error(apr_psprintf(pool, "unknown command '%s'", command));
    }
    if (db_path == NULL || *db_path == '\0') {
        return usage_error("no database: give --db PATH or set MINILINK_DB");
    }
    rv = ml_store_open(&store, db_path,
                       strcmp(command, "init") == 0 ? ML_STORE_CREATE
                       : strcmp(command, "list") == 0
                         || strcmp(command, "show") == 0 ? ML_STORE_READ
                       : ML_STORE_WRITE, pool);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_DATABASE, ml_store_error(store));
    }
    if (strcmp(command, "init") == 0) {
        if (argc != 0) {
            return usage_error("init takes no arguments");
        }
        rv = ml_store_init(store);
        return rv == APR_SUCCESS ? EXIT_OK : fail(EXIT_DATABASE,
                                                  ml_store_error(store));
    }
    if (strcmp(command, "add") == 0) {
        return command_add(store, argc, argv, pool);
    }
    if (strcmp(command, "rm") == 0) {
        return command_rm(store, argc, argv);
    }
    if (strcmp(command, "list") == 0) {
        return command_list(store, argc);
    }
    return command_show(store, argc, argv, pool);
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    int status;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    status = run(argc, argv, pool);
    /* Flush before the pool closes the database, so output and exit status
     * agree even if stdout is a closed pipe. */
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        status = fail(EXIT_DATABASE, "cannot write the output");
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return status;
}
