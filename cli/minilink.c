/*
 * minilink - manage a mod_minilink database from the command line.
 *
 *   minilink [--db DATABASE] [--allow-symlinks] COMMAND [ARGS]
 *                                               ("minilink help" lists them)
 *
 * DATABASE is a SQLite file's path or a PostgreSQL location (ml_store.h);
 * it defaults to $MINILINK_DB.  Uses the same validation and the
 * same SQL as the module (links/); every change is one transaction, so a
 * refused command writes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apu.h>
#include <apr_hash.h>
#include <apr_md5.h>
#include <sqlite3.h>
#include "../links/ml_agent.h"
#include "../links/ml_apikey.h"
#include "../links/ml_fields.h"
#include "../links/ml_store.h"
#include "../links/ml_time.h"
#include "../links/ml_visit_json.h"
#include "ml_csv.h"

/* Exit statuses, documented in the general help and the README. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_INVALID = 2,
    EXIT_NOT_FOUND = 3,
    EXIT_TAKEN = 4,
    EXIT_DATABASE = 5
};

/* The columns of "export" and "import", in order: the five of schema
 * version 1, then the rules of version 2 (ml_fields.h, in the order of
 * their ml_field numbers).  Import also takes a file with the first five
 * only, as an export of version 1 wrote it. */
#define CSV_COLUMNS_1 5
#define CSV_COLUMNS (CSV_COLUMNS_1 + ML_FIELDS)
static const char *const csv_header[CSV_COLUMNS] = {
    "slug", "url", "status", "expires_at", "disabled",
    "title", "tags", "valid_since", "max_visits", "fallback_url",
    "password_hash", "forward_query", "forward_path", "crawlable",
    "redirect_rules"
};

/* An option a command takes ("--url"), and whether a value follows it. */
typedef struct {
    const char *name;
    int takes_value;
} option_spec;

/* An option as given, with its value (NULL for one that takes none). */
typedef struct {
    const char *name;
    const char *value;
} given_option;

/*
 * A command's arguments, read by read_arguments(): a word that starts with
 * '-' is an option until a "--", and every word after "--" is an operand,
 * whatever it looks like (so "minilink rm -- -h" removes the slug "-h").
 * A lone "-" is an operand (import's standard input).
 */
typedef struct {
    apr_array_header_t *options;    /* given_option, in the order given */
    apr_array_header_t *operands;   /* const char *, in the order given */
} arguments;

#define OPERAND(args, i) APR_ARRAY_IDX((args)->operands, (i), const char *)

typedef int command_fn(ml_store *store, const arguments *args,
                       apr_pool_t *pool);

typedef struct {
    const char *name;
    const char *synopsis;    /* what follows "minilink [--db DATABASE] " */
    const char *summary;     /* its line in the general help */
    const char *details;     /* the rest of "minilink help NAME" */
    ml_store_mode mode;
    command_fn *run;         /* NULL for help, which needs no database */
    const option_spec *options;  /* ends with a NULL name; NULL: none */
} command;

/* The options of a link's rules of schema 2, for add and set. */
#define RULES_OPTIONS \
    { "--title", 1 }, { "--tag", 1 }, { "--no-tags", 0 }, \
    { "--valid-since", 1 }, { "--max-visits", 1 }, { "--fallback", 1 }, \
    { "--password", 0 }, { "--no-password", 0 }, { "--forward-query", 1 }, \
    { "--forward-path", 1 }, { "--crawlable", 0 }, { "--not-crawlable", 0 }
static const option_spec add_options[] = { RULES_OPTIONS, { NULL, 0 } };
static const option_spec set_options[] = {
    { "--url", 1 }, { "--status", 1 }, { "--expires", 1 }, { "--disable", 0 },
    { "--enable", 0 }, RULES_OPTIONS, { NULL, 0 }
};
static const option_spec stats_options[] = { { "--top", 1 }, { NULL, 0 } };
/* The conditions of a redirect rule (ml_rules.h), and where it goes. */
static const option_spec rule_options[] = {
    { "--device", 1 }, { "--language", 1 }, { "--query", 1 }, { "--ip", 1 },
    { "--country", 1 }, { "--before", 1 }, { "--after", 1 }, { "--browser", 1 },
    { "--priority", 1 }, { NULL, 0 }
};

/* The help of a link's rules, shared by add and set. */
#define RULES_HELP \
    "  --title TEXT|none         a title (UTF-8, at most 512 bytes)\n" \
    "  --tag TAG                 a tag (repeat for more): letters, digits,\n" \
    "                            - _ . : (set adds it to those it has)\n" \
    "  --no-tags                 no tags (then --tag gives the new ones)\n" \
    "  --valid-since TIME|none   before TIME, 404 as if absent\n" \
    "  --max-visits N|none       after N redirects, 410 (or the fallback)\n" \
    "  --fallback URL|none       instead of 404/410 when not yet valid,\n" \
    "                            expired or out of visits\n" \
    "  --password                ask visitors for a password: read from a\n" \
    "                            prompt, or the first line of stdin\n" \
    "  --no-password             no password\n" \
    "  --forward-query on|off|none   add the visitor's query string (none:\n" \
    "                            as the location's MinilinkQueryString)\n" \
    "  --forward-path on|off|none    /l/SLUG/more goes to URL/more (none:\n" \
    "                            as the location's MinilinkForwardPath)\n" \
    "  --crawlable, --not-crawlable  allowed in robots.txt, or not (default)\n" \
    "Redirect rules: 'minilink rule'.\n"

static const option_spec apikey_options[] = {
    { "--role", 1 }, { "--expires", 1 }, { NULL, 0 }
};

static const option_spec visits_options[] = {
    { "--since", 1 }, { "--by", 1 }, { "--json", 0 }, { "--orphan", 0 },
    { NULL, 0 }
};

/* The commands, defined further down. */
static command_fn command_init, command_add, command_set, command_rm,
                  command_list, command_show, command_stats, command_export,
                  command_import, command_upgrade, command_rule,
                  command_apikey,
                  command_visits;

static const command commands[] = {
    { "init", "init", "create the database (harmless if it exists)",
      "Creates the links table in the database file (and the file, if it is\n"
      "missing) and switches it to WAL mode.  Harmless on a minilink\n"
      "database; refuses a SQLite file that holds anything else.\n"
      "\n"
      "example:\n"
      "  minilink --db /var/lib/minilink/links.db init\n",
      ML_STORE_CREATE, command_init, NULL },
    { "add", "add URL [SLUG] [OPTION...]", "store a link and print its slug",
      "Stores a link to URL under SLUG and prints the slug.  Without SLUG a\n"
      "random one of 6 letters and digits is made.\n"
      "  URL   absolute http:// or https://, at most 4096 bytes of printable\n"
      "        ASCII (percent-encode the rest), no user:password@\n"
      "  SLUG  1 to 64 letters, digits, '-' or '_'\n"
      "The link gets the location's status, never expires and is enabled;\n"
      "'minilink set' changes that.\n"
      "\n"
      "options:\n"
      RULES_HELP
      "\n"
      "TIME is Unix seconds, a UTC time (2030-12-31T23:59:59Z) or a date.\n"
      "\n"
      "examples:\n"
      "  minilink add https://example.com/a/long/page\n"
      "  minilink add https://example.com/a/long/page page --title 'A page'\n"
      "  minilink add https://example.com/sale sale --tag shop --max-visits 100\n"
      "  echo secret | minilink add https://example.com/private private --password\n",
      ML_STORE_WRITE, command_add, add_options },
    { "set", "set SLUG OPTION...",
      "change a link's URL, status, expiry, flag or rules",
      "Changes the given fields of a link and keeps the others.\n"
      "\n"
      "options (at least one):\n"
      "  --url URL             redirect to URL instead\n"
      "  --status N|default    redirect with 301, 302, 303, 307 or 308;\n"
      "                        default: the location's MinilinkRedirectStatus\n"
      "  --expires TIME|never  answer 410 Gone from TIME on; never: no expiry\n"
      "  --disable             answer 410 Gone\n"
      "  --enable              redirect again\n"
      RULES_HELP
      "\n"
      "TIME is Unix seconds (1924991999), a UTC time (2030-12-31T23:59:59Z)\n"
      "or a date (2030-12-31, meaning its midnight, UTC).\n"
      "\n"
      "examples:\n"
      "  minilink set page --url https://example.com/new/place\n"
      "  minilink set page --status 301 --expires 2030-12-31\n"
      "  minilink set page --disable\n"
      "  minilink set page --status default --expires never --enable\n"
      "  minilink set page --valid-since 2030-01-01 --fallback https://example.com/soon\n"
      "  minilink set page --no-tags --tag news --crawlable\n",
      ML_STORE_WRITE, command_set, set_options },
    { "rule", "rule add SLUG URL CONDITION... [--priority N] | rule list SLUG "
      "| rule rm SLUG N", "manage a link's redirect rules",
      "A link's redirect rules send some visitors elsewhere: the first rule\n"
      "whose conditions all hold gives the URL, else the link's own URL.\n"
      "  rule add SLUG URL CONDITION...  a rule, last (or at --priority N,\n"
      "                                  moving the others down)\n"
      "  rule list SLUG                  its rules: PRIORITY<TAB>RULE\n"
      "  rule rm SLUG N                  removes rule N\n"
      "add and rm print the rules as they are then.\n"
      "\n"
      "conditions (Shlink's; each may be given more than once):\n"
      "  --device D      android, ios, mobile, windows, macos, linux,\n"
      "                  chromeos, desktop (from the User-Agent)\n"
      "  --browser B     chrome, firefox, edge, safari, opera, android_browser\n"
      "  --language L    en, en-US: Accept-Language accepts it (q >= 0.9)\n"
      "  --query K=V     the query parameter K is V; K=* any value; K alone,\n"
      "                  present without a value\n"
      "  --ip P          the client address: 10.0.0.1, 10.0.0.0/8, 10.*.*.1,\n"
      "                  2001:db8::/32 (as mod_remoteip sees it)\n"
      "  --country CC    the GeoIP variable (MinilinkCountryVariable) is CC\n"
      "  --before TIME   before TIME\n"
      "  --after TIME    after TIME\n"
      "\n"
      "examples:\n"
      "  minilink rule add app https://apps.apple.com/app/1 --device ios\n"
      "  minilink rule add app https://example.com/fr --language fr --priority 1\n"
      "  minilink rule list app\n"
      "  minilink rule rm app 2\n",
      ML_STORE_WRITE, command_rule, rule_options },
    { "rm", "rm SLUG", "delete a link",
      "Deletes the link with this slug.  To keep it but answer 410 Gone,\n"
      "use 'minilink set SLUG --disable'.  A slug that starts with '-' goes\n"
      "after --.\n"
      "\n"
      "examples:\n"
      "  minilink rm page\n"
      "  minilink rm -- -old\n",
      ML_STORE_WRITE, command_rm, NULL },
    { "list", "list", "print SLUG<TAB>URL for every link",
      "Prints one line per link, SLUG<TAB>URL, ordered by slug.  A row that\n"
      "breaks a rule (edited by hand) is printed too, with a warning on\n"
      "stderr.\n"
      "\n"
      "example:\n"
      "  minilink list | grep example.com\n",
      ML_STORE_READ, command_list, NULL },
    { "show", "show SLUG", "print every field of one link",
      "Prints the link's slug, URL, status, expiry, disabled flag, its\n"
      "creation and last change times (UTC), clicks, and its rules (title,\n"
      "tags, valid since, max visits, fallback, whether it has a password,\n"
      "forwarding, crawlable, redirect rules), one per line.\n"
      "\n"
      "example:\n"
      "  minilink show page\n",
      ML_STORE_READ, command_show, NULL },
    { "stats", "stats [SLUG | --top N]", "print click counts",
      "Prints click counts as stored in the database, which Apache updates\n"
      "every MinilinkFlushInterval (10 s), at graceful restarts and at stop.\n"
      "A click is a GET answered with a redirect (not HEAD, 404 or 410).\n"
      "  stats            the number of links and of clicks on all of them\n"
      "  stats SLUG       one link's clicks and last click time (UTC)\n"
      "  stats --top N    the N most clicked links: CLICKS<TAB>SLUG<TAB>URL\n"
      "\n"
      "examples:\n"
      "  minilink stats\n"
      "  minilink stats page\n"
      "  minilink stats --top 10\n",
      ML_STORE_READ, command_stats, stats_options },
    { "visits", "visits SLUG|--orphan [--since TIME] [--by KEY] [--json]",
      "print a link's visits, or the orphan visits",
      "Prints the visits Apache recorded (MinilinkVisits): one per click on\n"
      "the link SLUG, or with --orphan the requests under its locations that\n"
      "found no link (invalid_short_url: a slug not stored or gone; base_url:\n"
      "the location itself; regular_404: any other path), oldest first:\n"
      "  TIME TYPE PATH REFERRER COUNTRY BROWSER OS DEVICE REDIRECT_URL IP\n"
      "tab-separated, \"-\" for what is unknown or not kept.  Browser, OS and\n"
      "device (desktop, mobile, tablet, bot, other) are read from the user\n"
      "agent with uap-core's regexes.\n"
      "\n"
      "options:\n"
      "  --since TIME  only visits made at or after TIME (as for 'set')\n"
      "  --by KEY      counts instead: COUNT<TAB>VALUE, most first, for KEY\n"
      "                referrer, country, browser, os or device; for day,\n"
      "                DAY<TAB>CLICKS<TAB>BOTS, oldest first (for a link, from\n"
      "                the daily roll-up, kept after the visits are deleted)\n"
      "  --json        the same as JSON (Shlink's visit fields)\n"
      "  --orphan      the orphan visits instead of a link's\n"
      "\n"
      "examples:\n"
      "  minilink visits page\n"
      "  minilink visits page --by country --since 2026-01-01\n"
      "  minilink visits page --by day --json\n"
      "  minilink visits --orphan --by referrer\n",
      ML_STORE_READ, command_visits, visits_options },
    { "export", "export", "print every link as CSV",
      "Prints every link as CSV (RFC 4180: CRLF line ends, a field with a\n"
      "comma quoted), ordered by slug, after a header line:\n"
      "\n"
      "  slug,url,status,expires_at,disabled,title,tags,valid_since,max_visits,\n"
      "  fallback_url,password_hash,forward_query,forward_path,crawlable,\n"
      "  redirect_rules\n"
      "  page,https://example.com/a/long/page,,,0,,,,,,,,,0,\n"
      "\n"
      "status is empty for the location's default; expires_at and\n"
      "valid_since are Unix seconds, empty for none; disabled and crawlable\n"
      "0 or 1; forward_query and forward_path 1, 0 or empty (the\n"
      "location's); tags separated by spaces; password_hash the bcrypt hash;\n"
      "redirect_rules one rule a line, as 'minilink rule list' prints them.\n"
      "Creation times and clicks are not exported.  'minilink import' reads\n"
      "this format back.\n"
      "\n"
      "example:\n"
      "  minilink export > links.csv\n",
      ML_STORE_READ, command_export, NULL },
    { "import", "import FILE", "add the links of a CSV file, all or none",
      "Adds the links in FILE, CSV as 'minilink export' writes it; FILE '-'\n"
      "is standard input.  The first line must be export's header, or the\n"
      "first five columns of it (slug,url,status,expires_at,disabled: what\n"
      "an older minilink exported); expires_at and valid_since may also be a\n"
      "TIME as for 'minilink set'.  Prints how many links were imported.\n"
      "\n"
      "All or nothing: the first bad row stops the import and nothing is\n"
      "written.  The message names the line where the row starts:\n"
      "  minilink: links.csv:3: the URL must start with http:// or https://\n"
      "Exit status 2 for a bad row or malformed CSV, 4 for a slug that is\n"
      "taken, in the database or earlier in the file.\n"
      "\n"
      "examples:\n"
      "  minilink --db new.db import links.csv\n"
      "  minilink --db old.db export | minilink --db new.db import -\n",
      ML_STORE_WRITE, command_import, NULL },
    { "apikey", "apikey add NAME [--role R] [--expires TIME] | apikey list | "
      "apikey rm NAME", "manage the keys of the management API",
      "The management API (SetHandler minilink-api: Shlink's REST API, and\n"
      "YOURLS' as minilink-yourls) takes a key in X-Api-Key (YOURLS: in\n"
      "signature).  Only a SHA-256 of each key is stored.\n"
      "  apikey add NAME    makes a key and prints it, once: it cannot be\n"
      "                     shown again\n"
      "    --role R         admin (the default: everything), author (makes\n"
      "                     links; sees and changes only its own), or\n"
      "                     read-only (reads everything, changes nothing)\n"
      "    --expires TIME   refused from TIME on (default: never)\n"
      "  apikey list        NAME<TAB>ROLE<TAB>EXPIRES<TAB>CREATED, by name\n"
      "  apikey rm NAME     the key no longer works\n"
      "NAME is 1 to 64 of A-Z a-z 0-9 _ . @ - and is the owner of the links\n"
      "the key makes.\n"
      "\n"
      "examples:\n"
      "  minilink apikey add sharex --role author\n"
      "  minilink apikey add dashboard --role read-only --expires 2027-01-01\n"
      "  minilink apikey rm sharex\n",
      ML_STORE_WRITE, command_apikey, apikey_options },
    { "upgrade", "upgrade", "bring the database's schema up to date",
      "Brings the database's tables to the schema this minilink uses, in one\n"
      "transaction, and says so:\n"
      "  upgraded from schema version 2 to 3\n"
      "  already at schema version 3\n"
      "Links, click counts, meta rows and the change log are kept.  Until it\n"
      "is upgraded, an older database is served as it was and read by every\n"
      "command, but links cannot be added or changed in it.  A database whose\n"
      "schema is newer than this minilink knows (a newer minilink made it)\n"
      "is refused with exit status 5 and left as it is.  The Debian package\n"
      "runs this on /var/lib/minilink/links.db when it is upgraded.\n"
      "\n"
      "example:\n"
      "  minilink --db /var/lib/minilink/links.db upgrade\n",
      ML_STORE_WRITE, command_upgrade, NULL },
    { "help", "help [COMMAND]", "print this text, or more about COMMAND",
      "Prints the list of commands, or what COMMAND does, its options and\n"
      "examples.  'minilink COMMAND --help' does the same.\n"
      "\n"
      "example:\n"
      "  minilink help import\n",
      ML_STORE_READ, NULL, NULL },
};
static const size_t command_count = sizeof(commands) / sizeof(commands[0]);

static const char general_notes[] =
    "\n"
    "DATABASE is the path of a SQLite file, or a PostgreSQL database as a\n"
    "URI (postgresql://USER@HOST:PORT/DBNAME) or as pgsql:PARAMETERS (libpq's\n"
    "\"host=... dbname=...\"); $MINILINK_DB when --db is not given.\n"
    "A SQLite path that is, or goes through, a symbolic link is refused\n"
    "unless --allow-symlinks is given.\n"
    "'minilink help COMMAND' or 'minilink COMMAND --help' tells more.\n"
    "A word after \"--\" is never an option: 'minilink rm -- -h' removes the\n"
    "link -h (new slugs cannot start with '-').\n"
    "\n"
    "exit status:\n"
    "  0  done\n"
    "  1  usage error: unknown command or option, missing or extra arguments\n"
    "  2  invalid input: a URL, slug, status or time; an import file that\n"
    "     cannot be read, is not CSV, or has a bad row\n"
    "  3  no such link\n"
    "  4  slug already taken\n"
    "  5  database error: missing, corrupt, not a minilink database, a\n"
    "     schema newer than this minilink knows; or the output cannot be\n"
    "     written\n";

static int fail(int status, const char *message)
{
    fprintf(stderr, "minilink: %s\n", message);
    return status;
}

static const command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < command_count; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void print_general_help(FILE *out)
{
    size_t i;

    fputs("usage: minilink [--db DATABASE] [--allow-symlinks] COMMAND [ARGS]\n"
          "\ncommands:\n", out);
    for (i = 0; i < command_count; i++) {
        fprintf(out, "  %-20s %s\n", commands[i].synopsis,
                commands[i].summary);
    }
    fputs(general_notes, out);
}

static int print_command_help(const command *cmd)
{
    printf("usage: minilink [--db DATABASE] %s\n\n%s", cmd->synopsis, cmd->details);
    return EXIT_OK;
}

/*
 * A usage error in the named command (NULL: before there is one), with
 * that command's usage line, or the general help.
 */
static int usage_error(const char *name, const char *message)
{
    const command *cmd = name ? find_command(name) : NULL;

    fprintf(stderr, "minilink: %s\n", message);
    if (cmd) {
        fprintf(stderr, "usage: minilink [--db DATABASE] %s\n"
                "('minilink help %s' says more)\n", cmd->synopsis, cmd->name);
    }
    else {
        print_general_help(stderr);
    }
    return EXIT_USAGE;
}

/* The exit status for a store call that failed with rv. */
static int exit_status(apr_status_t rv)
{
    return rv == APR_EINVAL ? EXIT_INVALID
         : rv == APR_EEXIST ? EXIT_TAKEN
         : rv == APR_ENOENT ? EXIT_NOT_FOUND
         : EXIT_DATABASE;
}

static int store_failed(ml_store *store, apr_status_t rv)
{
    return fail(exit_status(rv), ml_store_error(store));
}

/* Standard output could not be written (a full disk, a closed pipe). */
static int output_failed(apr_status_t rv)
{
    char reason[120];

    fprintf(stderr, "minilink: cannot write the output: %s\n",
            apr_strerror(rv, reason, sizeof(reason)));
    return EXIT_DATABASE;
}

/*
 * Runs body() in one write transaction: committed if it returns EXIT_OK,
 * rolled back otherwise.  Returns body's status or the database's.
 */
static int in_transaction(ml_store *store, int (*body)(ml_store *, void *),
                          void *ctx)
{
    apr_status_t rv;
    int status;

    if ((rv = ml_store_write_begin(store)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    status = body(store, ctx);
    if (status == EXIT_OK
        && (rv = ml_store_write_commit(store)) != APR_SUCCESS) {
        status = store_failed(store, rv);
    }
    if (status != EXIT_OK) {
        ml_store_write_rollback(store);
    }
    return status;
}

static void warn_unserved(const ml_link *link, const char *problem)
{
    if (problem) {
        fprintf(stderr, "minilink: row %" APR_INT64_T_FMT
                " is not served: %s\n", link->id, problem);
    }
}

/* ---- Values given as text: on the command line and in CSV ------------ */

/*
 * How "not set" is written: a word on the command line ("default",
 * "never"), an empty field in CSV (none_word "").
 */
static const char *unset_phrase(apr_pool_t *pool, const char *none_word,
                                const char *meaning)
{
    return *none_word ? none_word : apr_pstrcat(pool, "nothing for ",
                                                meaning, NULL);
}

/* Reads a redirect status, or none_word for the location's default (0). */
static const char *parse_status(const char *text, const char *none_word,
                                int *status, apr_pool_t *pool)
{
    apr_int64_t value;

    if (strcmp(text, none_word) == 0) {
        *status = 0;
        return NULL;
    }
    value = ml_decimal(text);
    if (value < 0 || value > 999 || !ml_status_valid((int)value)) {
        return apr_psprintf(pool, "the status '%s' is not 301, 302, 303, 307 "
                            "or 308, or %s", text, unset_phrase(pool, none_word,
                            "the location's default"));
    }
    *status = (int)value;
    return NULL;
}

/* Reads an expiry time (ml_time.h), or none_word for never (0). */
static const char *parse_time(const char *text, const char *none_word,
                              apr_int64_t *seconds, apr_pool_t *pool)
{
    const char *problem;

    if (strcmp(text, none_word) == 0) {
        *seconds = 0;
        return NULL;
    }
    problem = ml_time_parse(text, "the expiry time", seconds, pool);
    return problem ? apr_psprintf(pool, "%s; or %s", problem,
                                  unset_phrase(pool, none_word, "never"))
                   : NULL;
}

/* A time as "show" prints it, or instead when it is not set. */
static const char *time_or(apr_pool_t *pool, apr_int64_t seconds,
                           const char *instead)
{
    return seconds ? ml_time_format(seconds, pool) : instead;
}

/* ---- init, rm, list, show --------------------------------------------- */

static int command_init(ml_store *store, const arguments *args,
                        apr_pool_t *pool)
{
    (void)pool;
    if (args->operands->nelts != 0) {
        return usage_error("init", "init takes no arguments");
    }
    if (ml_store_init(store) != APR_SUCCESS) {
        return fail(EXIT_DATABASE, ml_store_error(store));
    }
    return EXIT_OK;
}

static int command_rm(ml_store *store, const arguments *args,
                      apr_pool_t *pool)
{
    apr_status_t rv;

    (void)pool;
    if (args->operands->nelts != 1) {
        return usage_error("rm", "rm takes one slug");
    }
    if ((rv = ml_store_remove(store, OPERAND(args, 0))) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    return EXIT_OK;
}

static apr_status_t print_row(void *ctx, const ml_link *link,
                              const char *problem)
{
    (void)ctx;
    warn_unserved(link, problem);
    printf("%s\t%s\n", link->slug ? link->slug : "", link->url ? link->url : "");
    return APR_SUCCESS;
}

static int command_list(ml_store *store, const arguments *args,
                        apr_pool_t *pool)
{
    apr_status_t rv;

    (void)pool;
    if (args->operands->nelts != 0) {
        return usage_error("list", "list takes no arguments");
    }
    if ((rv = ml_store_each(store, print_row, NULL)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    return EXIT_OK;
}

static const char *choice_text(ml_choice choice)
{
    return choice == ML_CHOICE_ON ? "yes" : choice == ML_CHOICE_OFF ? "no"
                                                                    : "location's";
}

static int command_show(ml_store *store, const arguments *args,
                        apr_pool_t *pool)
{
    const char *tags;
    ml_link link;
    apr_status_t rv;
    int i;

    if (args->operands->nelts != 1) {
        return usage_error("show", "show takes one slug");
    }
    if ((rv = ml_store_get(store, OPERAND(args, 0), &link, NULL, pool))
        != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    printf("slug: %s\nurl: %s\n", link.slug, link.url);
    if (link.status) {
        printf("status: %d\n", link.status);
    }
    else {
        printf("status: default\n");
    }
    printf("expires: %s\n", time_or(pool, link.expires_at, "never"));
    printf("disabled: %s\n", link.disabled ? "yes" : "no");
    printf("created: %s\n", ml_time_format(link.created_at, pool));
    printf("updated: %s\n", ml_time_format(link.updated_at, pool));
    printf("clicks: %" APR_INT64_T_FMT "\n", link.clicks);
    printf("last click: %s\n", time_or(pool, link.last_click_at, "never"));
    tags = ml_field_write(&link, ML_FIELD_TAGS, pool);
    printf("title: %s\n", link.title ? link.title : "none");
    printf("tags: %s\n", *tags ? tags : "none");
    printf("valid since: %s\n", time_or(pool, link.valid_since, "always"));
    if (link.max_visits) {
        printf("max visits: %" APR_INT64_T_FMT "\n", link.max_visits);
    }
    else {
        printf("max visits: none\n");
    }
    printf("fallback: %s\n", link.fallback_url ? link.fallback_url : "none");
    printf("password: %s\n", link.password_hash ? "yes" : "no");
    printf("forward query: %s\n", choice_text(link.forward_query));
    printf("forward path: %s\n", choice_text(link.forward_path));
    printf("crawlable: %s\n", link.crawlable ? "yes" : "no");
    for (i = 0; i < link.nrules; i++) {
        printf("rule %d: %s\n", i + 1, ml_rule_format(&link.rules[i], pool));
    }
    return EXIT_OK;
}

/* ---- stats ------------------------------------------------------------ */

static apr_status_t print_top_row(void *ctx, const ml_link *link,
                                  const char *problem)
{
    (void)ctx;
    (void)problem;
    printf("%" APR_INT64_T_FMT "\t%s\t%s\n", link->clicks,
           link->slug ? link->slug : "", link->url ? link->url : "");
    return APR_SUCCESS;
}

static int command_stats(ml_store *store, const arguments *args,
                         apr_pool_t *pool)
{
    int options = args->options->nelts, operands = args->operands->nelts;
    apr_uint64_t clicks, text_bytes;
    apr_uint32_t links;
    ml_link link;
    apr_status_t rv;

    if (options == 1 && operands == 0) {
        const char *top = APR_ARRAY_IDX(args->options, 0, given_option).value;
        char *end;
        long count = strtol(top, &end, 10);
        if (*top == '\0' || *end != '\0' || count < 1 || count > 1000000) {
            return usage_error("stats", "--top needs a number from 1 to 1000000");
        }
        rv = ml_store_top(store, (int)count, print_top_row, NULL);
    }
    else if (options == 0 && operands == 1) {
        if ((rv = ml_store_get(store, OPERAND(args, 0), &link, NULL, pool))
            == APR_SUCCESS) {
            printf("slug: %s\nclicks: %" APR_INT64_T_FMT "\nlast click: %s\n",
                   link.slug, link.clicks,
                   time_or(pool, link.last_click_at, "never"));
        }
    }
    else if (options == 0 && operands == 0) {
        if ((rv = ml_store_summary(store, &links, &text_bytes)) == APR_SUCCESS
            && (rv = ml_store_click_total(store, &clicks)) == APR_SUCCESS) {
            printf("links: %u\nclicks: %" APR_UINT64_T_FMT "\n", links, clicks);
        }
    }
    else {
        return usage_error("stats", "stats takes a slug, or --top N, or nothing");
    }
    return rv == APR_SUCCESS ? EXIT_OK : store_failed(store, rv);
}

/* ---- a link's options: add and set -------------------------------------- */

/* The options that are a link's rules of schema 2, read by ml_field_read()
 * ("none" clears). */
static const struct {
    const char *option;
    ml_field field;
} field_options[] = {
    { "--title", ML_FIELD_TITLE },
    { "--valid-since", ML_FIELD_VALID_SINCE },
    { "--max-visits", ML_FIELD_MAX_VISITS },
    { "--fallback", ML_FIELD_FALLBACK_URL },
    { "--forward-query", ML_FIELD_FORWARD_QUERY },
    { "--forward-path", ML_FIELD_FORWARD_PATH },
};

/* Options that contradict each other when both are given. */
static const char *const contradictions[][2] = {
    { "--disable", "--enable" },
    { "--password", "--no-password" },
    { "--crawlable", "--not-crawlable" },
};

static int given(const arguments *args, const char *name)
{
    int i;

    for (i = 0; i < args->options->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(args->options, i, given_option).name, name)
            == 0) {
            return 1;
        }
    }
    return 0;
}

/* Removes the line end fgets() kept. */
static void chomp(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
}

/*
 * The password for --password, as its bcrypt hash: asked twice on a
 * terminal (without echo), else the first line of standard input, so
 * that it never appears in the process list or a shell's history.
 */
static int read_password(const char **hash, apr_pool_t *pool)
{
    char first[ML_PASSWORD_MAX + 2], again[ML_PASSWORD_MAX + 2];
    apr_size_t size = sizeof(first);
    const char *problem;

    if (isatty(STDIN_FILENO)) {
        if (apr_password_get("Password: ", first, &size) != APR_SUCCESS) {
            return fail(EXIT_INVALID, "no password was read");
        }
        size = sizeof(again);
        if (apr_password_get("Password again: ", again, &size) != APR_SUCCESS
            || strcmp(first, again) != 0) {
            return fail(EXIT_INVALID, "the two passwords differ");
        }
    }
    else if (fgets(first, sizeof(first), stdin) == NULL) {
        return fail(EXIT_INVALID, "--password reads the password from "
                    "standard input, and it is empty");
    }
    else {
        chomp(first);
    }
    problem = ml_password_hash(first, hash, pool);
    memset(first, 0, sizeof(first));
    memset(again, 0, sizeof(again));
    return problem ? fail(EXIT_INVALID, problem) : EXIT_OK;
}

/* --tag TAG: one more tag, kept sorted and once (ml_fields.c). */
static const char *add_tag(ml_link *link, const char *tag, apr_pool_t *pool)
{
    const char *tags = ml_field_write(link, ML_FIELD_TAGS, pool);

    if (strchr(tag, ' ') || strchr(tag, ',') || *tag == '\0') {
        return apr_psprintf(pool, "'%s': %s", tag, ml_tag_problem(tag)
                            ? ml_tag_problem(tag) : "one tag per --tag");
    }
    return ml_field_read(link, ML_FIELD_TAGS,
                         apr_pstrcat(pool, tags, " ", tag, NULL), NULL, pool);
}

/* Applies one option of add or set to link.  Returns an exit status. */
static int apply_option(ml_link *link, const given_option *option,
                        const char *password_hash, apr_pool_t *pool)
{
    const char *name = option->name, *problem = NULL;
    size_t i;

    for (i = 0; i < sizeof(field_options) / sizeof(field_options[0]); i++) {
        if (strcmp(name, field_options[i].option) == 0) {
            problem = ml_field_read(link, field_options[i].field,
                                    option->value, "none", pool);
            return problem ? fail(EXIT_INVALID, apr_pstrcat(pool, name, ": ",
                                                            problem, NULL))
                           : EXIT_OK;
        }
    }
    if (strcmp(name, "--url") == 0) {
        link->url = option->value;
    }
    else if (strcmp(name, "--status") == 0) {
        problem = parse_status(option->value, "default", &link->status, pool);
    }
    else if (strcmp(name, "--expires") == 0) {
        problem = parse_time(option->value, "never", &link->expires_at, pool);
    }
    else if (strcmp(name, "--disable") == 0 || strcmp(name, "--enable") == 0) {
        link->disabled = name[2] == 'd';
    }
    else if (strcmp(name, "--tag") == 0) {
        problem = add_tag(link, option->value, pool);
    }
    else if (strcmp(name, "--password") == 0 || strcmp(name, "--no-password") == 0) {
        link->password_hash = name[2] == 'p' ? password_hash : NULL;
    }
    else if (strcmp(name, "--crawlable") == 0
             || strcmp(name, "--not-crawlable") == 0) {
        link->crawlable = name[2] == 'c';
    }
    /* --no-tags was applied first (apply_options). */
    return problem ? fail(EXIT_INVALID, problem) : EXIT_OK;
}

/* A link's options as add and set read them, with the password (if
 * --password) asked for before any transaction holds the database. */
typedef struct {
    const char *command;
    const arguments *args;
    const char *password_hash;
    apr_pool_t *pool;
} link_options;

static int read_link_options(link_options *options, const char *command,
                             const arguments *args, apr_pool_t *pool)
{
    size_t i;

    options->command = command;
    options->args = args;
    options->password_hash = NULL;
    options->pool = pool;
    for (i = 0; i < sizeof(contradictions) / sizeof(contradictions[0]); i++) {
        if (given(args, contradictions[i][0])
            && given(args, contradictions[i][1])) {
            return usage_error(command, apr_psprintf(pool, "%s and %s "
                               "contradict each other: give one",
                               contradictions[i][0], contradictions[i][1]));
        }
    }
    return given(args, "--password")
           ? read_password(&options->password_hash, pool) : EXIT_OK;
}

/* Applies every option to link: --no-tags first, then the rest in the
 * order given (so "--no-tags --tag a" and "--tag a --no-tags" both leave
 * the tag a). */
static int apply_options(ml_link *link, const link_options *options)
{
    int i, status;

    if (given(options->args, "--no-tags")) {
        link->tags = NULL;
    }
    for (i = 0; i < options->args->options->nelts; i++) {
        if ((status = apply_option(link, &APR_ARRAY_IDX(options->args->options,
                                                        i, given_option),
                                   options->password_hash, options->pool))) {
            return status;
        }
    }
    return EXIT_OK;
}

static int command_add(ml_store *store, const arguments *args,
                       apr_pool_t *pool)
{
    int count = args->operands->nelts, status;
    link_options options;
    ml_link link;
    apr_status_t rv;

    if (count < 1 || count > 2) {
        return usage_error("add", "add takes a URL and an optional slug");
    }
    if ((status = read_link_options(&options, "add", args, pool))) {
        return status;
    }
    memset(&link, 0, sizeof(link));
    link.url = OPERAND(args, 0);
    link.slug = count == 2 ? OPERAND(args, 1) : NULL;
    if ((status = apply_options(&link, &options)) != EXIT_OK) {
        return status;
    }
    if ((rv = ml_store_add(store, &link, pool)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    printf("%s\n", link.slug);
    return EXIT_OK;
}

typedef struct {
    const char *slug;
    link_options options;
} link_edit;

/* Reads the link and writes it back changed; in the caller's transaction,
 * so nobody else's change can come in between. */
static int apply_edit(ml_store *store, void *ctx)
{
    const link_edit *edit = ctx;
    ml_link link;
    apr_status_t rv = ml_store_get(store, edit->slug, &link, NULL,
                                   edit->options.pool);
    int status;

    if (rv != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    if ((status = apply_options(&link, &edit->options)) != EXIT_OK) {
        return status;
    }
    rv = ml_store_update(store, &link);
    return rv == APR_SUCCESS ? EXIT_OK : store_failed(store, rv);
}

static int command_set(ml_store *store, const arguments *args,
                       apr_pool_t *pool)
{
    link_edit edit;
    int status;

    if (args->operands->nelts != 1) {
        return usage_error("set", "set needs one slug and options");
    }
    if (args->options->nelts == 0) {
        return usage_error("set", "set needs at least one option");
    }
    edit.slug = OPERAND(args, 0);
    if ((status = read_link_options(&edit.options, "set", args, pool))) {
        return status;
    }
    return in_transaction(store, apply_edit, &edit);
}

/* ---- rule --------------------------------------------------------------- */

static void print_rules(const ml_link *link, apr_pool_t *pool)
{
    int i;

    for (i = 0; i < link->nrules; i++) {
        printf("%d\t%s\n", i + 1, ml_rule_format(&link->rules[i], pool));
    }
}

/* What "rule add" and "rule rm" do to a link's rules. */
typedef struct {
    const char *slug;
    const ml_rule *added;        /* add: the rule; rm: NULL */
    int priority;                /* 1 = first; add: 0 = last */
    apr_pool_t *pool;
} rule_edit;

static int apply_rule_edit(ml_store *store, void *ctx)
{
    const rule_edit *edit = ctx;
    ml_rule *rules;
    ml_link link;
    apr_status_t rv = ml_store_get(store, edit->slug, &link, NULL, edit->pool);
    int at, n;

    if (rv != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    n = link.nrules;
    at = edit->priority ? edit->priority - 1 : n;
    if (at < 0 || at > (edit->added ? n : n - 1)) {
        return fail(EXIT_NOT_FOUND, apr_psprintf(edit->pool, "the link '%s' "
                    "has %d redirect rules: no priority %d there", edit->slug,
                    n, edit->priority));
    }
    rules = apr_palloc(edit->pool, sizeof(*rules) * (apr_size_t)(n + 1));
    memcpy(rules, link.rules, sizeof(*rules) * (apr_size_t)at);
    if (edit->added) {
        rules[at] = *edit->added;
        memcpy(rules + at + 1, link.rules + at,
               sizeof(*rules) * (apr_size_t)(n - at));
        link.nrules = n + 1;
    }
    else {
        memcpy(rules + at, link.rules + at + 1,
               sizeof(*rules) * (apr_size_t)(n - at - 1));
        link.nrules = n - 1;
    }
    link.rules = rules;
    rv = ml_store_update(store, &link);
    if (rv != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    print_rules(&link, edit->pool);
    return EXIT_OK;
}

/* --priority N: 1 or more. */
static int read_priority(const char *text, int *priority, apr_pool_t *pool)
{
    apr_int64_t value = ml_decimal(text);

    if (value < 1 || value > ML_RULES_MAX) {
        return usage_error("rule", apr_psprintf(pool, "the priority '%s' is "
                           "not a number from 1 to %d", text, ML_RULES_MAX));
    }
    *priority = (int)value;
    return EXIT_OK;
}

static int rule_add(ml_store *store, const arguments *args, apr_pool_t *pool)
{
    ml_condition *conditions = apr_pcalloc(pool, sizeof(*conditions)
                                           * (apr_size_t)(args->options->nelts + 1));
    rule_edit edit = { NULL, NULL, 0, pool };
    ml_rule *rule = apr_pcalloc(pool, sizeof(*rule));
    const char *problem;
    int i, known, status;

    if (args->operands->nelts != 3) {
        return usage_error("rule", "rule add takes a slug and a URL, and "
                           "conditions");
    }
    for (i = 0; i < args->options->nelts; i++) {
        const given_option *option = &APR_ARRAY_IDX(args->options, i,
                                                    given_option);
        if (strcmp(option->name, "--priority") == 0) {
            if ((status = read_priority(option->value, &edit.priority, pool))) {
                return status;
            }
            continue;
        }
        problem = ml_condition_from_option(option->name, option->value,
                                           &conditions[rule->nconditions],
                                           &known, pool);
        if (problem) {
            return fail(EXIT_INVALID, apr_pstrcat(pool, option->name, ": ",
                                                  problem, NULL));
        }
        rule->nconditions++;
    }
    rule->conditions = conditions;
    rule->url = OPERAND(args, 2);
    if ((problem = ml_rule_problem(rule)) != NULL) {
        return fail(EXIT_INVALID, problem);
    }
    edit.slug = OPERAND(args, 1);
    edit.added = rule;
    return in_transaction(store, apply_rule_edit, &edit);
}

static int rule_rm(ml_store *store, const arguments *args, apr_pool_t *pool)
{
    rule_edit edit = { NULL, NULL, 0, pool };
    int status;

    if (args->operands->nelts != 3 || args->options->nelts != 0) {
        return usage_error("rule", "rule rm takes a slug and a priority");
    }
    if ((status = read_priority(OPERAND(args, 2), &edit.priority, pool))) {
        return status;
    }
    edit.slug = OPERAND(args, 1);
    return in_transaction(store, apply_rule_edit, &edit);
}

static int command_rule(ml_store *store, const arguments *args,
                        apr_pool_t *pool)
{
    const char *what = args->operands->nelts ? OPERAND(args, 0) : "";
    ml_link link;
    apr_status_t rv;

    if (strcmp(what, "add") == 0) {
        return rule_add(store, args, pool);
    }
    if (strcmp(what, "rm") == 0) {
        return rule_rm(store, args, pool);
    }
    if (strcmp(what, "list") != 0) {
        return usage_error("rule", "rule takes add, list or rm");
    }
    if (args->operands->nelts != 2 || args->options->nelts != 0) {
        return usage_error("rule", "rule list takes a slug");
    }
    if ((rv = ml_store_get(store, OPERAND(args, 1), &link, NULL, pool))
        != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    print_rules(&link, pool);
    return EXIT_OK;
}

/* ---- export ----------------------------------------------------------- */

typedef struct {
    apr_pool_t *pool;            /* cleared after each row */
    apr_status_t write_error;
} exporter;

static apr_status_t export_row(void *ctx, const ml_link *link,
                               const char *problem)
{
    char status[16] = "", expires[32] = "", disabled[16];
    const char *fields[CSV_COLUMNS];
    exporter *ex = ctx;
    int i;

    /* Exported as it is, so a backup loses nothing; import will say what
     * is wrong with it. */
    warn_unserved(link, problem);
    apr_pool_clear(ex->pool);
    if (link->status) {
        apr_snprintf(status, sizeof(status), "%d", link->status);
    }
    if (link->expires_at) {
        apr_snprintf(expires, sizeof(expires), "%" APR_INT64_T_FMT,
                     link->expires_at);
    }
    apr_snprintf(disabled, sizeof(disabled), "%d", link->disabled);
    fields[0] = link->slug ? link->slug : "";
    fields[1] = link->url ? link->url : "";
    fields[2] = status;
    fields[3] = expires;
    fields[4] = disabled;
    for (i = 0; i < ML_FIELDS; i++) {
        fields[CSV_COLUMNS_1 + i] = ml_field_write(link, (ml_field)i, ex->pool);
    }
    ex->write_error = ml_csv_write(stdout, fields, CSV_COLUMNS);
    return ex->write_error;
}

static int command_export(ml_store *store, const arguments *args,
                          apr_pool_t *pool)
{
    exporter ex;
    apr_status_t rv;

    if (args->operands->nelts != 0) {
        return usage_error("export", "export takes no arguments");
    }
    apr_pool_create(&ex.pool, pool);
    ex.write_error = ml_csv_write(stdout, csv_header, CSV_COLUMNS);
    /* One SELECT: SQLite gives it one consistent snapshot. */
    rv = ex.write_error ? ex.write_error
                        : ml_store_each(store, export_row, &ex);
    if (ex.write_error != APR_SUCCESS) {
        return output_failed(ex.write_error);
    }
    return rv == APR_SUCCESS ? EXIT_OK : store_failed(store, rv);
}

/* ---- import ----------------------------------------------------------- */

/* Rows go to the store a group at a time (ml_store_add_group): one
 * PostgreSQL statement each, not a round trip a link. */
#define IMPORT_GROUP 512

typedef struct {
    FILE *in;
    const char *name;          /* for messages */
    ml_store *store;
    apr_uint64_t imported;
    int seen_header;
    int status;                /* the exit status of the first failure */
    apr_pool_t *pool;
    /* The group being gathered: the links (their text in group_pool),
     * whether each came marked from an export, and the line each began. */
    ml_link group[IMPORT_GROUP];
    int restored[IMPORT_GROUP];
    apr_uint64_t lines[IMPORT_GROUP];
    apr_size_t count;
    apr_pool_t *group_pool;
    int columns;               /* in the file: CSV_COLUMNS or CSV_COLUMNS_1 */
} importer;

/* Reports a failure at a line of the file; returns non-zero to stop. */
static apr_status_t import_failed(importer *im, int status, apr_uint64_t line,
                                  const char *reason)
{
    fprintf(stderr, "minilink: %s:%" APR_UINT64_T_FMT ": %s\n", im->name, line,
            reason);
    im->status = status;
    return APR_EGENERAL;
}

static const char *header_text(apr_pool_t *pool, int columns)
{
    const char *text = csv_header[0];
    int i;

    for (i = 1; i < columns; i++) {
        text = apr_pstrcat(pool, text, ",", csv_header[i], NULL);
    }
    return text;
}

/* How many of the columns a header line names: all, or the first five
 * (an export of schema version 1); 0 if it is no header of ours. */
static int header_columns(const char *const *fields, int count)
{
    int i;

    for (i = 0; i < count && i < CSV_COLUMNS; i++) {
        if (strcmp(fields[i], csv_header[i]) != 0) {
            return 0;
        }
    }
    return count == CSV_COLUMNS || count == CSV_COLUMNS_1 ? count : 0;
}

/* Fills link from a record of columns fields (strings copied into pool);
 * returns what is wrong with it, or NULL.  The slug and URL are checked
 * by the store, like any other link's. */
static const char *link_from_record(ml_link *link, const char *const *fields,
                                    int count, int columns, apr_pool_t *pool)
{
    const char *problem;
    int i;

    if (count != columns) {
        return apr_psprintf(pool, "%d fields where there should be %d: %s",
                            count, columns, header_text(pool, columns));
    }
    link->slug = apr_pstrdup(pool, fields[0]);
    link->url = apr_pstrdup(pool, fields[1]);
    if ((problem = parse_status(fields[2], "", &link->status, pool))
        || (problem = parse_time(fields[3], "", &link->expires_at, pool))) {
        return problem;
    }
    if (strcmp(fields[4], "0") && strcmp(fields[4], "1")) {
        return apr_psprintf(pool, "the disabled flag '%s' is not 0 or 1",
                            fields[4]);
    }
    link->disabled = fields[4][0] == '1';
    for (i = CSV_COLUMNS_1; i < columns; i++) {
        if ((problem = ml_field_read(link, (ml_field)(i - CSV_COLUMNS_1),
                                     apr_pstrdup(pool, fields[i]), NULL,
                                     pool))) {
            return apr_pstrcat(pool, csv_header[i], ": ", problem, NULL);
        }
    }
    return NULL;
}

/* Stores the group gathered so far. */
static apr_status_t store_group(importer *im)
{
    apr_size_t failed = 0;
    apr_status_t rv = ml_store_add_group(im->store, im->group, im->restored,
                                         im->count, &failed);

    if (rv != APR_SUCCESS) {
        return import_failed(im, exit_status(rv), im->lines[failed],
                             ml_store_error(im->store));
    }
    im->imported += im->count;
    im->count = 0;
    apr_pool_clear(im->group_pool);
    return APR_SUCCESS;
}

static apr_status_t import_record(void *ctx, const char *const *written,
                                  int count, apr_uint64_t line)
{
    importer *im = ctx;
    const char *fields[CSV_COLUMNS], *problem;
    ml_link *link = &im->group[im->count];
    int i, slug_marked = 0;

    /* The values before export made them safe for spreadsheets (only
     * those of the columns there should be: more is an error below). */
    for (i = 0; i < count && i < CSV_COLUMNS; i++) {
        fields[i] = ml_csv_unescape(written[i], i == 0 ? &slug_marked : NULL);
    }
    if (!im->seen_header) {
        im->seen_header = 1;
        if ((im->columns = header_columns(fields, count)) == 0) {
            return import_failed(im, EXIT_INVALID, line, apr_pstrcat(im->pool,
                                 "the first line must be the header ",
                                 header_text(im->pool, CSV_COLUMNS),
                                 " (or its first five columns)", NULL));
        }
        return APR_SUCCESS;
    }
    memset(link, 0, sizeof(*link));
    /* The reader reuses its buffers for the next record: the link's
     * strings go into the group's pool. */
    if ((problem = link_from_record(link, fields, count, im->columns,
                                    im->group_pool))) {
        return import_failed(im, EXIT_INVALID, line, problem);
    }
    /* A slug with the spreadsheet mark came from "minilink export": a link
     * that exists elsewhere is copied with the slug it has, even one no
     * new link may have ("-h"); any other is a new slug.  Taken slugs, in
     * the database or earlier in the file, are refused by the store. */
    im->restored[im->count] = slug_marked;
    im->lines[im->count] = line;
    return ++im->count == IMPORT_GROUP ? store_group(im) : APR_SUCCESS;
}

static int import_all(ml_store *store, void *ctx)
{
    importer *im = ctx;
    const char *problem;
    apr_uint64_t line;
    apr_status_t rv;

    im->store = store;
    apr_pool_create(&im->group_pool, im->pool);
    rv = ml_csv_read(im->in, import_record, im, &problem, &line, im->pool);
    if (problem) {
        import_failed(im, EXIT_INVALID, line, problem);
    }
    else if (rv == APR_SUCCESS && !im->seen_header) {
        import_failed(im, EXIT_INVALID, 1, apr_pstrcat(im->pool, "the file is "
                      "empty; its first line must be the header ",
                      header_text(im->pool, CSV_COLUMNS), NULL));
    }
    else if (rv == APR_SUCCESS && im->count > 0) {
        store_group(im);
    }
    return im->status;
}

static int command_import(ml_store *store, const arguments *args,
                          apr_pool_t *pool)
{
    /* In the pool: a group of links is too big for the stack. */
    importer *im = apr_pcalloc(pool, sizeof(*im));
    const char *file;
    int status;

    if (args->operands->nelts != 1) {
        return usage_error("import", "import takes one file (- for standard "
                           "input)");
    }
    im->store = store;
    im->pool = pool;
    file = OPERAND(args, 0);
    im->in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    im->name = im->in == stdin ? "stdin" : file;
    if (im->in == NULL) {
        return fail(EXIT_INVALID, apr_psprintf(pool, "%s: %s", file,
                                               strerror(errno)));
    }
    status = in_transaction(store, import_all, im);
    if (im->in != stdin) {
        fclose(im->in);
    }
    if (status == EXIT_OK) {
        printf("imported %" APR_UINT64_T_FMT " links\n", im->imported);
    }
    return status;
}

/* ---- visits ----------------------------------------------------------- */

/* What "visits" was asked for. */
typedef struct {
    const char *slug;            /* NULL: the orphan visits */
    apr_int64_t since;
    const char *by;              /* NULL: every visit */
    int json;
    ml_agents *agents;
    apr_pool_t *pool;
    apr_hash_t *counts;          /* --by: value -> apr_int64_t count */
    json_t *out;                 /* --json: the array written */
    apr_int64_t days[3];         /* --by day of orphans: the day, visits, bots */
    int day_open;
} visits_run;

static const char *const visits_keys[] = {
    "day", "referrer", "country", "browser", "os", "device", NULL
};

static const char *dash(const char *text)
{
    return text && *text ? text : "-";
}

/* The value of the visit --by counts it under. */
static const char *key_of(const visits_run *run, const ml_store_visit *visit,
                          const ml_agent *agent)
{
    return strcmp(run->by, "referrer") == 0 ? dash(visit->referrer)
         : strcmp(run->by, "country") == 0 ? dash(visit->country)
         : strcmp(run->by, "browser") == 0 ? agent->browser
         : strcmp(run->by, "os") == 0 ? agent->os : agent->device;
}

static void print_day(visits_run *run, apr_int64_t day, apr_int64_t clicks,
                      apr_int64_t bots)
{
    char date[26];

    ml_visit_time(date, day, 1);
    if (run->json) {
        json_array_append_new(run->out, json_pack("{s:s, s:I, s:I}", "date",
                                                  date, "clicks",
                                                  (json_int_t)clicks, "bots",
                                                  (json_int_t)bots));
    }
    else {
        printf("%s\t%" APR_INT64_T_FMT "\t%" APR_INT64_T_FMT "\n", date,
               clicks, bots);
    }
}

static apr_status_t take_visit(void *ctx, const ml_store_visit *visit)
{
    visits_run *run = ctx;
    ml_agent agent;
    char date[26];

    ml_agents_classify(run->agents, visit->user_agent, &agent);
    if (run->by && strcmp(run->by, "day") == 0) {
        /* Orphan visits have no roll-up: counted from the rows, in order. */
        apr_int64_t day = ml_store_day_of(visit->visited_at);
        if (run->day_open && run->days[0] != day) {
            print_day(run, run->days[0], run->days[1], run->days[2]);
            run->day_open = 0;
        }
        if (!run->day_open) {
            run->days[0] = day;
            run->days[1] = run->days[2] = 0;
            run->day_open = 1;
        }
        run->days[1]++;
        run->days[2] += visit->bot != 0;
    }
    else if (run->by) {
        const char *key = key_of(run, visit, &agent);
        apr_int64_t *count = apr_hash_get(run->counts, key, APR_HASH_KEY_STRING);
        if (count == NULL) {
            count = apr_pcalloc(run->pool, sizeof(*count));
            apr_hash_set(run->counts, apr_pstrdup(run->pool, key),
                         APR_HASH_KEY_STRING, count);
        }
        ++*count;
    }
    else if (run->json) {
        json_array_append_new(run->out, ml_visit_json(visit, &agent));
    }
    else {
        ml_visit_time(date, visit->visited_at, 0);
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", date,
               visit->orphan_type ? visit->orphan_type : "valid_short_url",
               dash(visit->visited_path), dash(visit->referrer),
               dash(visit->country), agent.browser, agent.os, agent.device,
               dash(visit->redirect_url), dash(visit->ip));
    }
    return APR_SUCCESS;
}

static apr_status_t take_day(void *ctx, const ml_store_visit_day *day)
{
    print_day(ctx, day->day, day->clicks, day->bots);
    return APR_SUCCESS;
}

typedef struct {
    const char *key;
    apr_int64_t count;
} counted;

static int most_first(const void *a, const void *b)
{
    const counted *x = a, *y = b;

    return x->count != y->count ? (y->count > x->count) - (y->count < x->count)
                                : strcmp(x->key, y->key);
}

/* The --by counts, most first (ties by value). */
static void print_counts(visits_run *run)
{
    apr_size_t n = apr_hash_count(run->counts), i = 0;
    counted *all = apr_palloc(run->pool, (n + 1) * sizeof(*all));
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(run->pool, run->counts); entry;
         entry = apr_hash_next(entry), i++) {
        all[i].key = apr_hash_this_key(entry);
        all[i].count = *(apr_int64_t *)apr_hash_this_val(entry);
    }
    qsort(all, n, sizeof(*all), most_first);
    for (i = 0; i < n; i++) {
        if (run->json) {
            json_array_append_new(run->out, json_pack(
                "{s:s, s:I}", run->by, all[i].key, "count",
                (json_int_t)all[i].count));
        }
        else {
            printf("%" APR_INT64_T_FMT "\t%s\n", all[i].count, all[i].key);
        }
    }
}

/* Reads visits' options into run; an exit status. */
static int read_visits_arguments(visits_run *run, const arguments *args)
{
    int i, orphan = 0;

    for (i = 0; i < args->options->nelts; i++) {
        const given_option *option = &APR_ARRAY_IDX(args->options, i,
                                                    given_option);
        const char *problem = NULL;
        if (strcmp(option->name, "--orphan") == 0) {
            orphan = 1;
        }
        else if (strcmp(option->name, "--json") == 0) {
            run->json = 1;
        }
        else if (strcmp(option->name, "--since") == 0) {
            problem = parse_time(option->value, "", &run->since, run->pool);
        }
        else {
            const char *const *key;
            for (key = visits_keys; *key && strcmp(*key, option->value); key++) {
            }
            if (*key == NULL) {
                return usage_error("visits", "--by takes day, referrer, "
                                   "country, browser, os or device");
            }
            run->by = *key;
        }
        if (problem) {
            return fail(EXIT_INVALID, problem);
        }
    }
    if (args->operands->nelts != !orphan) {
        return usage_error("visits", "visits takes a slug, or --orphan");
    }
    run->slug = orphan ? NULL : OPERAND(args, 0);
    return EXIT_OK;
}

static int command_visits(ml_store *store, const arguments *args,
                          apr_pool_t *pool)
{
    visits_run run;
    ml_store_visit_query query;
    const char *error;
    char *text;
    ml_link link;
    apr_status_t rv;
    int status;

    memset(&run, 0, sizeof(run));
    run.pool = pool;
    if ((status = read_visits_arguments(&run, args)) != EXIT_OK) {
        return status;
    }
    if (run.slug && (rv = ml_store_get(store, run.slug, &link, NULL, pool))
                    != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    if (ml_agents_load(&run.agents, ML_AGENT_REGEXES, pool, &error)
        != APR_SUCCESS) {
        return fail(EXIT_DATABASE, error);
    }
    run.counts = apr_hash_make(pool);
    run.out = json_array();
    memset(&query, 0, sizeof(query));
    query.slug = run.slug;
    query.since = run.since;
    if (run.by && strcmp(run.by, "day") == 0 && run.slug) {
        rv = ml_store_each_visit_day(store, run.slug, run.since, take_day, &run);
    }
    else {
        rv = ml_store_each_visit(store, &query, take_visit, &run);
    }
    if (rv == APR_SUCCESS && run.day_open) {
        print_day(&run, run.days[0], run.days[1], run.days[2]);
    }
    if (rv == APR_SUCCESS && run.by && strcmp(run.by, "day") != 0) {
        print_counts(&run);
    }
    if (rv == APR_SUCCESS && run.json) {
        text = json_dumps(run.out, JSON_COMPACT);
        printf("%s\n", text ? text : "[]");
        free(text);
    }
    json_decref(run.out);
    return rv == APR_SUCCESS ? EXIT_OK : store_failed(store, rv);
}

/* ---- apikey ----------------------------------------------------------- */

static int apikey_add(ml_store *store, const arguments *args, apr_pool_t *pool)
{
    ml_store_api_key key = { NULL, ML_ROLE_ADMIN, 0, 0 };
    const char *secret, *problem;
    apr_status_t rv;
    int i;

    if (args->operands->nelts != 2) {
        return usage_error("apikey", "apikey add takes a name");
    }
    key.name = OPERAND(args, 1);
    for (i = 0; i < args->options->nelts; i++) {
        const given_option *option = &APR_ARRAY_IDX(args->options, i,
                                                    given_option);
        if (strcmp(option->name, "--role") == 0) {
            int role = ml_role_of(option->value);
            if (role < 0) {
                return fail(EXIT_INVALID, "the role is admin, author or"
                            " read-only");
            }
            key.role = (ml_role)role;
        }
        else if ((problem = ml_time_parse(option->value, "the expiry time",
                                          &key.expires_at, pool))) {
            return fail(EXIT_INVALID, problem);
        }
    }
    if ((secret = ml_api_key_new(pool)) == NULL) {
        return fail(EXIT_DATABASE, "no random bytes for a key");
    }
    rv = ml_store_api_key_add(store, &key, ml_api_key_hash(secret, pool));
    if (rv != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    printf("%s\n", secret);
    return EXIT_OK;
}

static apr_status_t print_api_key(void *ctx, const ml_store_api_key *key)
{
    apr_pool_t *pool = ctx;

    printf("%s\t%s\t%s\t%s\n", key->name, ml_role_name(key->role),
           time_or(pool, key->expires_at, "never"),
           time_or(pool, key->created_at, "-"));
    return APR_SUCCESS;
}

static int command_apikey(ml_store *store, const arguments *args,
                          apr_pool_t *pool)
{
    const char *what = args->operands->nelts ? OPERAND(args, 0) : "";
    apr_status_t rv;

    if (strcmp(what, "add") == 0) {
        return apikey_add(store, args, pool);
    }
    if (args->options->nelts != 0) {
        return usage_error("apikey", "only apikey add takes options");
    }
    if (strcmp(what, "list") == 0 && args->operands->nelts == 1) {
        rv = ml_store_api_key_each(store, print_api_key, pool);
    }
    else if (strcmp(what, "rm") == 0 && args->operands->nelts == 2) {
        rv = ml_store_api_key_remove(store, OPERAND(args, 1));
    }
    else {
        return usage_error("apikey", "apikey takes add NAME, list or rm NAME");
    }
    return rv == APR_SUCCESS ? EXIT_OK : store_failed(store, rv);
}

/* ---- upgrade ---------------------------------------------------------- */

static int command_upgrade(ml_store *store, const arguments *args,
                           apr_pool_t *pool)
{
    apr_status_t rv;
    int from;

    (void)pool;
    if (args->operands->nelts != 0) {
        return usage_error("upgrade", "upgrade takes no arguments");
    }
    if ((rv = ml_store_upgrade(store, &from)) != APR_SUCCESS) {
        return store_failed(store, rv);
    }
    if (from == ML_STORE_SCHEMA_VERSION) {
        printf("already at schema version %d\n", ML_STORE_SCHEMA_VERSION);
    }
    else {
        printf("upgraded from schema version %d to %d\n", from,
               ML_STORE_SCHEMA_VERSION);
    }
    return EXIT_OK;
}

/* ---- help and dispatch ------------------------------------------------- */

static int command_help(const arguments *args, apr_pool_t *pool)
{
    const command *cmd;

    if (args->operands->nelts == 0) {
        print_general_help(stdout);
        return EXIT_OK;
    }
    if (args->operands->nelts > 1) {
        return usage_error("help", "help takes at most one command");
    }
    if ((cmd = find_command(OPERAND(args, 0))) == NULL) {
        return usage_error(NULL, apr_psprintf(pool, "unknown command '%s'",
                                              OPERAND(args, 0)));
    }
    return print_command_help(cmd);
}

static int is_help_flag(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* --help or -h anywhere after the command and before a "--" asks for its
 * help (a slug spelled that way goes after "--"). */
static int wants_help(int argc, char **argv)
{
    int i;

    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (is_help_flag(argv[i])) {
            return 1;
        }
    }
    return 0;
}

static const option_spec *find_option(const command *cmd, const char *name)
{
    const option_spec *spec;

    for (spec = cmd->options; spec && spec->name; spec++) {
        if (strcmp(spec->name, name) == 0) {
            return spec;
        }
    }
    return NULL;
}

/* Sorts the words after the command into options and operands (see
 * arguments).  Returns an exit status. */
static int read_arguments(const command *cmd, int argc, char **argv,
                          arguments *args, apr_pool_t *pool)
{
    int i, options_ended = 0;

    args->options = apr_array_make(pool, 4, sizeof(given_option));
    args->operands = apr_array_make(pool, 4, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const option_spec *spec;
        given_option *given;

        if (!options_ended && strcmp(argv[i], "--") == 0) {
            options_ended = 1;
            continue;
        }
        if (options_ended || argv[i][0] != '-' || argv[i][1] == '\0') {
            APR_ARRAY_PUSH(args->operands, const char *) = argv[i];
            continue;
        }
        if ((spec = find_option(cmd, argv[i])) == NULL) {
            return usage_error(cmd->name, apr_psprintf(pool, "unknown option "
                               "'%s' (put -- before a slug or file that "
                               "starts with '-': minilink %s -- %s)", argv[i],
                               cmd->name, argv[i]));
        }
        given = apr_array_push(args->options);
        given->name = spec->name;
        given->value = NULL;
        if (spec->takes_value) {
            if (i + 1 == argc) {
                return usage_error(cmd->name, apr_psprintf(pool, "%s needs a "
                                                           "value", argv[i]));
            }
            given->value = argv[++i];
        }
    }
    return EXIT_OK;
}

static int run(int argc, char **argv, apr_pool_t *pool)
{
    const char *db_path = getenv("MINILINK_DB");
    const command *cmd;
    arguments args;
    ml_store *store;
    apr_status_t rv;
    int status, allow_symlinks = 0;

    argc--, argv++;
    /* The options before the command, in any order. */
    while (argc >= 1 && (strcmp(argv[0], "--db") == 0
                         || strcmp(argv[0], "--allow-symlinks") == 0)) {
        if (strcmp(argv[0], "--allow-symlinks") == 0) {
            allow_symlinks = 1;
            argc--, argv++;
            continue;
        }
        if (argc < 2) {
            return usage_error(NULL, "--db needs a database: a path or a postgresql:// URI");
        }
        db_path = argv[1];
        argc -= 2, argv += 2;
    }
    if (argc < 1) {
        return usage_error(NULL, "no command given");
    }
    if (is_help_flag(argv[0])) {
        print_general_help(stdout);
        return EXIT_OK;
    }
    if ((cmd = find_command(argv[0])) == NULL) {
        return usage_error(NULL, apr_psprintf(pool, "unknown command '%s'",
                                              argv[0]));
    }
    argc--, argv++;
    if (wants_help(argc, argv)) {
        return print_command_help(cmd);
    }
    if ((status = read_arguments(cmd, argc, argv, &args, pool)) != EXIT_OK) {
        return status;
    }
    if (cmd->run == NULL) {
        return command_help(&args, pool);
    }
    if (db_path == NULL || *db_path == '\0') {
        return usage_error(NULL, "no database: give --db DATABASE or set "
                           "MINILINK_DB");
    }
    /* A link to the file is followed only when asked: as root, a link
     * planted by someone else would have "init" create its target. */
    rv = allow_symlinks ? ml_store_open(&store, db_path, cmd->mode, pool)
                        : ml_store_open_no_symlinks(&store, db_path, cmd->mode,
                                                    pool);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_DATABASE, ml_store_error(store));
    }
    return cmd->run(store, &args, pool);
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    int status;

    /* One thread, and no count of SQLite's memory: its mutexes and
     * barriers were a tenth of a bulk import's time.  (Before anything
     * else touches SQLite; the module leaves the defaults alone.) */
    sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    status = run(argc, argv, pool);
    /* Flush before the pool closes the database, so output and exit status
     * agree even if stdout is a closed pipe. */
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        status = output_failed(APR_FROM_OS_ERROR(errno));
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return status;
}
