#!/usr/bin/env bash
# bench/admin_pages.sh - the server time of the admin pages (the links
# table, a link's page, the overview) at
# BENCH_LINKS links (default 1,000,000): what httpd itself took (%D in its
# access log, microseconds, request read to response sent), not the
# client's.
#
# Run by "make -f Makefile.apxs bench-admin", which passes MINILINK_MODULE
# and MINILINK_CLI.  One httpd (event MPM) serves SetHandler minilink-admin
# on a database of BENCH_LINKS links made with raw SQL (bench/links.sh; one
# in ten tagged "news").  Each URL is asked ADMIN_ROUNDS times (7) after a
# first, unmeasured ask, as a browser does (Accept: text/html); the median
# is printed.  KEEP=1 keeps the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/links.sh
. "$here/links.sh"
links=${BENCH_LINKS:-1000000}
rounds=${ADMIN_ROUNDS:-7}
APACHE2=${APACHE2:-/usr/sbin/apache2}
modules=/usr/lib/apache2/modules
: "${MINILINK_MODULE:?run me through make -f Makefile.apxs bench-admin}"
: "${MINILINK_CLI:?run me through make -f Makefile.apxs bench-admin}"

bench_dir admin-bench

if [ "$(id -u)" = 0 ]; then
    user=www-data group=www-data
else
    user=$(id -un) group=$(id -gn)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$dir/htdocs"
db=$dir/links.db
echo "making $links links" >&2
make_links_db "$db" "$links" s 7
sqlite3 "$db" "INSERT INTO tags (name) VALUES ('news');
               INSERT INTO link_tags (link_id, tag_id)
                 SELECT id, (SELECT id FROM tags WHERE name = 'news') FROM links
                 WHERE id % 10 = 0;"
httpd_conf_head "$dir" "$port" "$user" "$group" >"$dir/httpd.conf"
cat >>"$dir/httpd.conf" <<EOF
ErrorLog $dir/error.log
LogLevel warn
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule minilink_module $MINILINK_MODULE
LogFormat "%D %>s %U%q" timing
CustomLog $dir/access.log timing
MinilinkDatabase $db
<Location /admin>
    SetHandler minilink-admin
    Require all granted
</Location>
EOF
[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$dir"
"$APACHE2" -f "$dir/httpd.conf" -DFOREGROUND &
server_pid=$!
for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/admin/links" -H 'Accept: text/html' && break
    sleep 0.1
done

paths=(
    "/admin/links"
    "/admin/links?order=slug&dir=asc"
    "/admin/links?order=title&dir=asc"
    "/admin/links?order=url&dir=desc"
    "/admin/links?order=clicks&dir=desc"
    "/admin/links?order=created&dir=desc&page=1000"
    "/admin/links?tag=news"
    "/admin/links?q=s0999"
    "/admin/links/s0500000"
    "/admin/"
)
printf '| %-46s | %9s | %6s |\n' "page ($links links)" "median ms" "rows"
printf '|%s|%s|%s|\n' "------------------------------------------------" "-----------" "--------"
for path in "${paths[@]}"; do
    : >"$dir/access.log"
    rows=0
    for i in $(seq 0 "$rounds"); do
        body=$(curl -s "http://127.0.0.1:$port$path" -H 'Accept: text/html')
        [ "$i" = 0 ] && rows=$(grep -c '^<tr><td><a href' <<<"$body" || true)
    done
    # The first ask warms the caches; the rest are measured.
    sleep 0.2
    median=$(tail -n "$rounds" "$dir/access.log" | awk '{print $1}' | sort -n \
             | awk '{v[NR] = $1} END {printf "%.2f", v[int((NR + 1) / 2)] / 1000}')
    [ "$rows" = 0 ] && rows=-
    printf '| %-46s | %9s | %6s |\n' "$path" "$median" "$rows"
done
