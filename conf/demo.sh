#!/usr/bin/env bash
# Starts the demo: a seeded database in $DEMO_DIR and Apache in the
# foreground on 127.0.0.1:$DEMO_PORT.  Called by "make -f Makefile.apxs run",
# which passes APACHE2, MINILINK_MODULE and MINILINK_CLI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export MINILINK_DEMO_DIR=${DEMO_DIR:-/tmp/minilink-demo}
export MINILINK_DEMO_PORT=${DEMO_PORT:-8080}
export MINILINK_MODULE
db=$MINILINK_DEMO_DIR/links.db

mkdir -p "$MINILINK_DEMO_DIR/htdocs"
if [ ! -f "$db" ]; then
    "$MINILINK_CLI" --db "$db" init
    "$MINILINK_CLI" --db "$db" add https://httpd.apache.org/ apache >/dev/null
    "$MINILINK_CLI" --db "$db" add https://sqlite.org/lang.html sqlite >/dev/null
    "$MINILINK_CLI" --db "$db" add "https://www.debian.org/search?lang=en" debian >/dev/null
    "$MINILINK_CLI" --db "$db" add https://httpd.apache.org/docs/2.4/ docs >/dev/null
    "$MINILINK_CLI" --db "$db" add https://example.com/retired gone >/dev/null
    "$MINILINK_CLI" --db "$db" add https://example.com/last-year old >/dev/null
    # Per-link status, disabled and expiry, set with plain SQL on the
    # documented schema.
    sqlite3 "$db" "UPDATE links SET status = 301 WHERE slug = 'docs';
                   UPDATE links SET disabled = 1 WHERE slug = 'gone';
                   UPDATE links SET expires_at = 1700000000 WHERE slug = 'old';"
    # A link with a title, tags and a redirect rule for phones.
    "$MINILINK_CLI" --db "$db" add --title "Debian" --tag os --tag demo \
        https://www.debian.org/ deb >/dev/null
    "$MINILINK_CLI" --db "$db" rule add deb https://www.debian.org/devel/ --device mobile >/dev/null
    # The management API's key: printed once by apikey add, kept here.
    "$MINILINK_CLI" --db "$db" apikey add demo --role admin >"$MINILINK_DEMO_DIR/api-key"
fi

# Started as root, httpd serves as an unprivileged user, who must be able
# to read the database and write its directory (SQLite's WAL files).
if [ "$(id -u)" = 0 ]; then
    export MINILINK_USER=www-data MINILINK_GROUP=www-data
    chown -R www-data:www-data "$MINILINK_DEMO_DIR"
else
    export MINILINK_USER=$(id -un) MINILINK_GROUP=$(id -gn)
fi

cat <<MSG
mod_minilink demo on http://127.0.0.1:$MINILINK_DEMO_PORT  (Ctrl-C stops it)
  curl -i http://127.0.0.1:$MINILINK_DEMO_PORT/l/apache        302 to httpd.apache.org
  curl -i http://127.0.0.1:$MINILINK_DEMO_PORT/l/docs          301 (per-link status)
  curl -i 'http://127.0.0.1:$MINILINK_DEMO_PORT/l/debian?q=x'  query string appended
  curl -i http://127.0.0.1:$MINILINK_DEMO_PORT/l/gone          410 (disabled)
  curl -i http://127.0.0.1:$MINILINK_DEMO_PORT/l/nope          404
  http://127.0.0.1:$MINILINK_DEMO_PORT/l/                      the form to shorten a link
  http://127.0.0.1:$MINILINK_DEMO_PORT/l/apache+               a preview
  curl -i -A 'Android 14; Mobile' http://127.0.0.1:$MINILINK_DEMO_PORT/l/deb
                                                  a redirect rule: phones elsewhere
  http://127.0.0.1:$MINILINK_DEMO_PORT/minilink-admin/         the admin pages (a browser)
  curl http://127.0.0.1:$MINILINK_DEMO_PORT/minilink-admin/    statistics (JSON)
  curl -H "X-Api-Key: \$(cat $MINILINK_DEMO_DIR/api-key)" http://127.0.0.1:$MINILINK_DEMO_PORT/rest/v3/short-urls
                                                  Shlink's REST API (the demo's key)
  curl http://127.0.0.1:$MINILINK_DEMO_PORT/server-status?auto
Add a link:  $MINILINK_CLI --db $db add https://example.org/ hello
(served within a second: no reload needed)
MSG
exec "$APACHE2" -f "$here/demo.conf" -DFOREGROUND
