#!/usr/bin/env bash
# bench/api.sh - the management API at BENCH_LINKS links (default 1000000):
# links created per second (POST /rest/v3/short-urls, each a new link with
# a random slug) and pages of 50 listed per second, with the server time
# of each request from the access log (%D), median and 99th percentile.
#
# Run by "make -f Makefile.apxs bench-api", which builds the module, the
# CLI and bench/list (which makes the database and times the store alone
# first) and passes MINILINK_MODULE, MINILINK_CLI, APACHE2 in the
# environment; BENCH_SECONDS (10) per load, BENCH_CONNECTIONS (16).  Every
# server it starts is stopped, whatever happens; its directory is removed
# unless KEEP=1.
set -euo pipefail

links=${BENCH_LINKS:-1000000}
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-16}
threads=$(( connections < 2 ? 1 : 2 ))
APACHE2=${APACHE2:-/usr/sbin/apache2}
modules=/usr/lib/apache2/modules
user=www-data
group=www-data
[ "$(id -u)" = 0 ] || { user=$(id -un); group=$(id -gn); }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/links.sh
. "$here/links.sh"
bench_dir bench-api

echo "== the store alone (bench/list), and the database for the server"
bench/list "$links" "$dir"
db=$dir/list.db
key=$("$MINILINK_CLI" --db "$db" apikey add bench)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/htdocs"
cat >"$dir/httpd.conf" <<CONF
ServerRoot $dir
DefaultRuntimeDir $dir
PidFile $dir/httpd.pid
Mutex file:$dir default
Listen 127.0.0.1:$port
ServerName 127.0.0.1
User $user
Group $group
DocumentRoot $dir/htdocs
ErrorLog $dir/error.log
LogLevel warn
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule minilink_module $MINILINK_MODULE
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinilinkDatabase $db
LogFormat "%m %D %>s" timing
CustomLog $dir/access.log timing
<Location /l>
    SetHandler minilink
</Location>
<Location /rest>
    SetHandler minilink-api
    MinilinkShortBase http://127.0.0.1:$port/l/
    Require all granted
</Location>
CONF
cat >"$dir/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["X-Api-Key"] = "$key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"longUrl": "https://example.com/bench/created", "tags": ["bench"]}'
LUA
cat >"$dir/list.lua" <<LUA
wrk.headers["X-Api-Key"] = "$key"
LUA
[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$dir"

"$APACHE2" -f "$dir/httpd.conf" -DFOREGROUND &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/rest/health" >/dev/null && break
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/rest/health" >/dev/null \
    || { echo "bench/api.sh: Apache did not start:" >&2; cat "$dir/error.log" >&2; exit 1; }

# The access log's server times (microseconds) of one method's 2xx answers
# since line $1: median and 99th percentile, in ms.
times() {
    tail -n +"$(($1 + 1))" "$dir/access.log" | awk -v m="$2" '$1 == m && $3 < 300 {print $2}' \
        | sort -n | awk '{a[NR] = $1} END {if (NR) printf "%.2f ms median, %.2f ms p99, %d requests", a[int(NR / 2) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000, NR}'
}

lines=$(wc -l <"$dir/access.log")
echo "== POST /rest/v3/short-urls: $connections connections, $seconds s"
wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$dir/create.lua" \
    "http://127.0.0.1:$port/rest/v3/short-urls" | grep -E 'Requests/sec|Non-2xx|Socket errors' || true
echo "server time: $(times "$lines" POST)"
created=$(sqlite3 "$db" "SELECT count(*) FROM links WHERE owner = 'bench'")
echo "links made: $created"

for query in "itemsPerPage=50" "itemsPerPage=50&orderBy=dateCreated-DESC" \
             "itemsPerPage=50&page=1000&orderBy=shortCode-ASC" "itemsPerPage=50&orderBy=visits-DESC"; do
    lines=$(wc -l <"$dir/access.log")
    echo "== GET /rest/v3/short-urls?$query: $connections connections, $seconds s"
    wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$dir/list.lua" \
        "http://127.0.0.1:$port/rest/v3/short-urls?$query" | grep -E 'Requests/sec|Non-2xx' || true
    echo "server time: $(times "$lines" GET)"
done
grep -v 'AH00489\|AH00094\|AH00491\|AH00492' "$dir/error.log" | head -5 || true
