#!/usr/bin/env bash
# bench/run.sh - mod_minilink's redirects against other ways to answer them.
#
# Run by "make -f Makefile.apxs bench [BENCH_LINKS=N] [KEEP=1]", which builds
# the module and the CLI and passes, in the environment:
#   BENCH_LINKS      links to store (default 100000; slugs s0000001..)
#   MINILINK_MODULE  .libs/mod_minilink.so      MINILINK_CLI  ./minilink
#   APACHE2, APXS    httpd and apxs             BENCH_CC, BENCH_CFLAGS,
#   BENCH_LIBS, BENCH_LIB_SRC                   how to build bench/lookup.c
# and optionally BENCH_ROUNDS (3), BENCH_SECONDS (5 per round),
# BENCH_CONNECTIONS (50), BENCH_BIG_LINKS (10000000), KEEP=1 (keep the
# temporary directory).
#
# In one run it
#   1. stores the links in a SQLite file (and as a dbm file, an nginx map,
#      and in a throw-away PostgreSQL for mod_minilink's second engine),
#      and the first ten of them in a second SQLite file,
#   2. starts one Apache (event MPM) serving every contender on its own path,
#      and nginx on another port; mod_minilink also on the ten-link file,
#      with click counting off, with visits off (MinilinkVisits Off), and
#      behind a Require, next to the floor behind the same Require,
#   3. checks that each answers the right Location for a few slugs,
#   4. loads each with wrk for BENCH_ROUNDS interleaved rounds, asking for a
#      random stored slug on every request (bench/random_slug.lua),
#   5. prints medians, ratios to the no-lookup floor measured in the same
#      run, the load time and bytes per link of the shared-memory table, and
#      instructions per lookup (callgrind, bench/lookup.c).
# Besides the interleaved rounds, mod_minilink, mod_alias and the floor get
# a round of their own right after Apache starts (before any warm-up) and
# another right after a graceful restart, each reported apart: what a spike
# meets in the first seconds of a generation, page faults included.  It
# also times "minilink import" of the links as CSV into a fresh SQLite file
# and a fresh PostgreSQL database, and loads a generated database of
# BENCH_BIG_LINKS links (default 10000000; 0 skips it) into a table, as a
# graceful restart would.
# Everything it writes is in one temporary directory, removed at the end
# unless KEEP=1; every server it starts is stopped, whatever happens.  Exits
# non-zero if a contender answers wrongly.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/links.sh
. "$here/links.sh"
links=${BENCH_LINKS:-100000}
rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-5}
connections=${BENCH_CONNECTIONS:-50}
big_links=${BENCH_BIG_LINKS:-10000000}
threads=2
APACHE2=${APACHE2:-/usr/sbin/apache2}
APXS=${APXS:-apxs}
modules=/usr/lib/apache2/modules
started=$(date +%s)
load_at_start=$(cut -d' ' -f1 /proc/loadavg)

: "${MINILINK_MODULE:?run me through make -f Makefile.apxs bench}"
: "${MINILINK_CLI:?run me through make -f Makefile.apxs bench}"
: "${BENCH_CC:?}" "${BENCH_CFLAGS:?}" "${BENCH_LIBS:?}" "${BENCH_LIB_SRC:?}"
# Slugs are s%07d: eight characters up to 9,999,999 links.
if ! [[ $links =~ ^[1-9][0-9]{0,6}$ ]]; then
    echo "bench: BENCH_LINKS must be 1 to 9999999, not '$links'" >&2
    exit 2
fi

dir=$(mktemp -d /tmp/minilink-bench.XXXXXX)
chmod 755 "$dir"
export TMPDIR=$dir        # compilers, sqlite3 and valgrind put temporaries here
apache_pid=""
nginx_pid=""
pg_dir=""

log() { printf '%s [%4ds] %s\n' "$(date +%T)" $(($(date +%s) - started)) "$*" >&2; }

# Stops a server we started: TERM, then KILL if it has not exited in 30 s.
stop() {
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    stop "$apache_pid"
    stop "$nginx_pid"
    if [ -n "$pg_dir" ]; then
        "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop \
            >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
    if [ "$status" != 0 ] && [ -f "$dir/httpd-error.log" ]; then
        echo "--- last lines of Apache's error log:" >&2
        tail -n 20 "$dir/httpd-error.log" >&2 || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "bench: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM        # run cleanup through the EXIT trap

# A port nothing listens on now (the kernel's pick for an ephemeral bind).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The URL stored for link number $1; the same printf as the SQL below.
url_of() { printf 'https://news.example.com/2026/11/%d/a-longer-story-title' "$1"; }

# Started as root, Apache's children and nginx run as www-data, which must
# read the files and write the directory (SQLite's -shm file, sockets).
if [ "$(id -u)" = 0 ]; then
    user=www-data group=www-data
else
    user=$(id -un) group=$(id -gn)
fi

# ---------------------------------------------------------------------------
log "machine"
machine="$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
machine+=" $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo),"
machine+=" Debian $(cat /etc/debian_version), Linux $(uname -r)"
versions="$("$APACHE2" -v | sed -n 's/^Server version: //p'), $(nginx -v 2>&1 | sed 's/.*: //'),"
versions+=" wrk $(dpkg-query -W -f='${Version}' wrk), SQLite $(sqlite3 --version | cut -d' ' -f1)"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
versions+=", $("$pg_bin/postgres" --version)"

# ---------------------------------------------------------------------------
log "building the floor module and the lookup driver in $dir/build"
build_floor "$dir/build" || exit 1
# shellcheck disable=SC2086  # the flag and file lists are word lists
"$BENCH_CC" $BENCH_CFLAGS -o "$dir/build/bench-lookup" "$here/lookup.c" \
    $BENCH_LIB_SRC $BENCH_LIBS

# ---------------------------------------------------------------------------
log "storing $links links"
db=$dir/links.db
make_links_db "$db" "$links" s 7

# The same links for RewriteMap dbm ("slug url" lines) in Berkeley DB
# format, which APR's "db" driver reads.
sqlite3 -separator ' ' "$db" "SELECT slug, url FROM links" >"$dir/links.txt"
httxt2dbm -f db -i "$dir/links.txt" -o "$dir/links.dbm" >/dev/null

# The first ten links (or all, if fewer) in a database of their own, which
# the same Apache serves on /small/: throughput at $links links against
# 10 is then a ratio within this run.
small=$((links < 10 ? links : 10))
db_small=$dir/links-small.db
"$MINILINK_CLI" --db "$db_small" init >/dev/null
sqlite3 "$db_small" "ATTACH '$db' AS big;
  INSERT INTO links (slug, url) SELECT slug, url FROM big.links WHERE id <= $small;"

# And for nginx's map: "/ng/slug" "url"; lines (URLs hold no '"').
sqlite3 "$db" "SELECT '/ng/' || slug || ' \"' || url || '\";' FROM links" \
    >"$dir/nginx-map.conf"
rm "$dir/links.txt"

# And in PostgreSQL, for mod_minilink's other engine: a throw-away server
# on a free loopback port (its own directory: the data must stay its
# user's), the tables made by the CLI, the rows copied in.
log "copying the links into PostgreSQL"
pg_dir=$(mktemp -d /tmp/minilink-bench-pg.XXXXXX)
pg_port=$(free_port)
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_dir"
    as_postgres=(runuser -u postgres --)
fi
"${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres minilink
pg_location="postgresql://postgres@127.0.0.1:$pg_port/minilink"
"$MINILINK_CLI" --db "$pg_location" init >/dev/null
sqlite3 -csv "$db" "SELECT slug, url FROM links" |
    psql -q -h 127.0.0.1 -p "$pg_port" -U postgres minilink \
        -c "\\copy links (slug, url) FROM STDIN CSV"
# As an admin would after moving a database: otherwise autovacuum's first
# pass over the fresh rows (a minute's CPU at 1M) runs during the rounds.
psql -q -h 127.0.0.1 -p "$pg_port" -U postgres minilink -c "VACUUM (ANALYZE) links"

cp "$here/lookup_wsgi.py" "$here/lookup_cgi.py" "$dir/"
chmod 755 "$dir/lookup_cgi.py"
mkdir -p "$dir/htdocs" "$dir/nginx/tmp"

# ---------------------------------------------------------------------------
port=$(free_port)
nginx_port=$(free_port)
while [ "$nginx_port" = "$port" ]; do nginx_port=$(free_port); done
apache=http://127.0.0.1:$port
nginx=http://127.0.0.1:$nginx_port

# The heredoc fills in our variables; mod_rewrite's own ${map:key}, $1 and
# the patterns' $ are escaped (\$) so they reach httpd as written.
httpd_conf_head "$dir" "$port" "$user" "$group" >"$dir/httpd.conf"
cat >>"$dir/httpd.conf" <<EOF

# The same logging for every contender: errors only, no access log.
ErrorLog $dir/httpd-error.log
LogLevel warn

LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_host_module $modules/mod_authz_host.so
LoadModule alias_module $modules/mod_alias.so
LoadModule env_module $modules/mod_env.so
LoadModule rewrite_module $modules/mod_rewrite.so
LoadModule dbd_module $modules/mod_dbd.so
LoadModule cgid_module $modules/mod_cgid.so
LoadModule wsgi_module $modules/mod_wsgi.so
LoadModule minilink_module $MINILINK_MODULE
LoadModule floor_module $dir/build/.libs/mod_floor.so

# Connections stay open for the whole run (wrk reuses them), as nginx's
# keepalive_requests below.
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30

# A fixed pool: two processes of 64 threads from the start, none started or
# stopped during the run (more spare threads than there are).
StartServers 2
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 64
MaxSpareThreads 128
MaxConnectionsPerChild 0

# a. mod_minilink.
MinilinkDatabase $db
<Location /ml>
    SetHandler minilink
</Location>
#    The same links with click counting off, with visits off, and the
#    ten-link file.
<Location /quiet>
    SetHandler minilink
    MinilinkClicks Off
</Location>
<Location /mlnv>
    SetHandler minilink
    MinilinkVisits Off
</Location>
#    The visits ring's counters (dropped visits) after the rounds.
<Location /admin>
    SetHandler minilink-admin
</Location>
<Location /small>
    SetHandler minilink
    MinilinkDatabase $db_small
</Location>
#    Behind the rule an admin writes for an intranet's shortener.  Any access
#    rule sends mod_minilink's requests down the ordinary path to its
#    handler, after httpd's access checkers (module/early.c), like the
#    floor behind the same rule.
<Location /guarded>
    SetHandler minilink
    Require ip 127.0.0.0/8
</Location>

#    The same links with PostgreSQL behind (apr_dbd): the redirects are
#    answered from the same kind of table, so they should cost the same.
<Location /mlpg>
    SetHandler minilink
    MinilinkDatabase pgsql "host=127.0.0.1 port=$pg_port dbname=minilink user=postgres"
</Location>

# b. The floor (bench/mod_floor.c): /floor-quick/ from quick_handler, and
#    the same redirect from an ordinary handler.
<Location /floor-handler/>
    SetHandler floor
</Location>
<Location /floor-guarded/>
    SetHandler floor
    Require ip 127.0.0.0/8
</Location>

# c. mod_alias: one fixed target, so loaded with one path.
Redirect 302 /alias/x https://news.example.com/2026/11/50000/a-longer-story-title

# d. and e. mod_rewrite in server context (per-directory rules would run
#    after the directory walk).  Every request to this server goes through
#    these two patterns; a regular expression each.
RewriteEngine On
RewriteMap links "dbm=db:$dir/links.dbm"
RewriteRule ^/rw/(.*)\$ \${links:\$1|/notfound} [R=302,L]
DBDriver sqlite3
DBDParams $db
RewriteMap fdbd "fastdbd:SELECT url FROM links WHERE slug = %s"
RewriteRule ^/fdbd/(.*)\$ \${fdbd:\$1|/notfound} [R=302,L]

# f. WSGI in daemon mode: two processes (one per core) of 15 threads, no
#    Python in the Apache children themselves.
WSGISocketPrefix $dir/wsgi
WSGIRestrictEmbedded On
WSGIDaemonProcess bench processes=2 threads=15
WSGIScriptAlias /wsgi $dir/lookup_wsgi.py process-group=bench application-group=%{GLOBAL}
<Location /wsgi>
    SetEnv BENCH_DB $db
</Location>

#    CGI through mod_cgid (the event MPM's CGI): /cgi/<slug> runs the script
#    with PATH_INFO=/<slug>.
ScriptSock $dir/cgid.sock
ScriptAlias /cgi $dir/lookup_cgi.py
<Location /cgi>
    SetEnv BENCH_DB $db
</Location>
EOF

# g. nginx, the outside reference: as many workers as cores.  A map of
# 1M entries needs a hash of about that many buckets: map_hash_max_size
# twice the links lets nginx start its search there (it starts near the
# maximum when that is over 10000), and 256-byte buckets hold the few keys
# that collide.
cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 30s;
    client_body_temp_path $dir/nginx/tmp/body;
    proxy_temp_path $dir/nginx/tmp/proxy;
    fastcgi_temp_path $dir/nginx/tmp/fastcgi;
    uwsgi_temp_path $dir/nginx/tmp/uwsgi;
    scgi_temp_path $dir/nginx/tmp/scgi;
    map_hash_max_size $((links * 2 > 2048 ? links * 2 : 2048));
    map_hash_bucket_size 256;
    map \$uri \$target {
        default /notfound;
        include $dir/nginx-map.conf;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        server_name 127.0.0.1;
        location /ng/ {
            return 302 \$target;
        }
    }
}
EOF

[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$dir"

# ---------------------------------------------------------------------------
log "starting Apache on port $port and nginx on port $nginx_port"
"$APACHE2" -f "$dir/httpd.conf" -t 2>&1 | grep -v '^Syntax OK$' >&2 || true
"$APACHE2" -f "$dir/httpd.conf" -DFOREGROUND &
apache_pid=$!
# nginx as the unprivileged user when we are root (-e: its error log before
# it reads the configuration, instead of /var/log/nginx).
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid="$user" --regid="$group" --init-groups)
"${as_user[@]}" nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" \
    -e "$dir/nginx/error.log" -g 'daemon off;' &
nginx_pid=$!

# Waits until $1 answers (anything but "connection refused"), up to 120 s:
# Apache loads the links before it listens, nginx builds its map.
wait_for() {
    local i
    for ((i = 0; i < 1200; i++)); do
        curl -s -o /dev/null "$1" && return 0
        if ! kill -0 "$apache_pid" 2>/dev/null || ! kill -0 "$nginx_pid" 2>/dev/null; then
            break       # one of them exited: its log says why
        fi
        sleep 0.1
    done
    echo "bench: no answer from $1" >&2
    [ -f "$dir/nginx/error.log" ] && tail -n 5 "$dir/nginx/error.log" >&2
    exit 1
}
wait_for "$apache/floor-quick/x"
wait_for "$nginx/ng/x"
log "both answer"

# ---------------------------------------------------------------------------
# The contenders, in the order of the table.  For each: its label, server
# base URL, path prefix, how many links wrk picks from (0: always the
# prefix itself), connections, and the URL every redirect goes to
# ("" = the link's own URL).
ids=(minilink minilink-small minilink-quiet minilink-novisits minilink-pgsql floor-quick floor-handler
     minilink-guarded floor-guarded alias rw-dbm rw-fastdbd wsgi cgi nginx)
declare -A label base prefix pick conns target
add() { label[$1]=$2 base[$1]=$3 prefix[$1]=$4 pick[$1]=$5 conns[$1]=$6 target[$1]=$7; }
add minilink      "mod_minilink (SetHandler minilink)" "$apache" /ml/  "$links" "$connections" ""
add minilink-small "mod_minilink, $small-link database" "$apache" /small/ "$small" "$connections" ""
add minilink-quiet "mod_minilink, MinilinkClicks Off"  "$apache" /quiet/ "$links" "$connections" ""
add minilink-novisits "mod_minilink, MinilinkVisits Off" "$apache" /mlnv/ "$links" "$connections" ""
add minilink-pgsql "mod_minilink, PostgreSQL behind it" "$apache" /mlpg/ "$links" "$connections" ""
add floor-quick   "floor: quick_handler, no lookup"    "$apache" /floor-quick/ "$links" "$connections" https://news.example.com/2026/11/50000/a-longer-story-title
add floor-handler "floor: SetHandler, no lookup"       "$apache" /floor-handler/ "$links" "$connections" https://news.example.com/2026/11/50000/a-longer-story-title
add minilink-guarded "mod_minilink, Require ip"        "$apache" /guarded/ "$links" "$connections" ""
add floor-guarded "floor: SetHandler, Require ip"      "$apache" /floor-guarded/ "$links" "$connections" https://news.example.com/2026/11/50000/a-longer-story-title
add alias         "mod_alias Redirect (1 path)"        "$apache" /alias/x 0 "$connections" https://news.example.com/2026/11/50000/a-longer-story-title
add rw-dbm        "RewriteMap dbm"                     "$apache" /rw/  "$links" "$connections" ""
add rw-fastdbd    "RewriteMap fastdbd (mod_dbd sqlite3)" "$apache" /fdbd/ "$links" "$connections" ""
# WSGI handles 30 requests at once (2 x 15 threads); CGI forks a Python per
# request, so a few connections keep both cores busy without queueing
# requests into wrk's timeouts.
add wsgi          "WSGI daemon, Python sqlite3"        "$apache" /wsgi/ "$links" 32 ""
add cgi           "CGI (mod_cgid), Python sqlite3"     "$apache" /cgi/  "$links" 4 ""
add nginx         "nginx map + return 302"             "$nginx"  /ng/  "$links" "$connections" ""

# ---------------------------------------------------------------------------
log "checking every contender's answers"
wrong=0
# check ID N: GET the contender's path for link N (modulo the links it
# picks from); expects 302 to its URL.
check() {
    local id=$1 n=$2 path=${prefix[$1]} want got
    if [ "${pick[$id]}" != 0 ]; then
        n=$(((n - 1) % pick[$id] + 1))
        path+=$(printf 's%07d' "$n")
    fi
    want="302 ${target[$id]:-$(url_of "$n")}"
    got=$(curl -s -o /dev/null -w '%{http_code} %header{location}' "${base[$id]}$path")
    if [ "$got" != "$want" ]; then
        echo "WRONG: ${label[$id]}: GET $path answered '$got', expected '$want'" >&2
        wrong=1
    fi
}
for id in "${ids[@]}"; do
    for n in 1 $(((links + 1) / 2)) "$links" $((RANDOM % links + 1)) $((RANDOM % links + 1)); do
        check "$id" "$n"
    done
done
# And mod_minilink's 404 for a slug it does not have.
got=$(curl -s -o /dev/null -w '%{http_code}' "$apache/ml/nosuchslug")
[ "$got" = 404 ] || { echo "WRONG: mod_minilink: /ml/nosuchslug answered $got, expected 404" >&2; wrong=1; }
if [ "$wrong" != 0 ]; then
    echo "bench: a contender answered wrongly; not loading" >&2
    exit 1
fi

# ---------------------------------------------------------------------------
mkdir -p "$dir/wrk"
results=$dir/results.txt
: >"$results"

# The CPU time, in clock ticks, that server process $1 and all its
# descendants have used so far, with that of exited children they waited
# for.  Unlike requests per second, CPU time per request changes little when
# other work shares the machine.  It misses CGI scripts: mod_cgid's daemon
# ignores SIGCHLD, so the kernel reaps them and their time is charged to no
# process (the report says n/a).
tree_ticks() {
    local pids pid
    pids=$(ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            tree[root] = 1
            do {
                grew = 0
                for (p in parent)
                    if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 }
            } while (grew)
            for (p in tree) print p
        }')
    # /proc/PID/stat after the "(command) ": utime stime cutime cstime are
    # its 12th to 15th fields.  A process may exit meanwhile: skip it.
    for pid in $pids; do cat "/proc/$pid/stat" 2>/dev/null || true; done |
        sed 's/^.*) //' | awk '{ ticks += $12 + $13 + $14 + $15 } END { print ticks + 0 }'
}

# The minor page faults server process $1 and its descendants have taken
# (with those of exited children): a child faults in each page of the
# shared tables it touches first, unless it mapped them in child_init.
tree_faults() {
    local pid
    for pid in $(ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { tree[root] = 1
              do { grew = 0
                   for (p in parent)
                       if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 }
              } while (grew)
              for (p in tree) print p }'); do
        cat "/proc/$pid/stat" 2>/dev/null || true
    done | sed 's/^.*) //' | awk '{ faults += $8 + $9 } END { print faults + 0 }'
}

# Every request comes as a click from a browser would, with a User-Agent
# and a Referer: what a visit copies (MinilinkVisits On on /ml).
agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
referrer="https://news.example.org/2026/11/30/a-story-that-links-here?utm_source=feed"

# load ID SECONDS ROUND: one wrk run; appends to $results
#   ID ROUND REQUESTS DURATION_US P50_US P99_US STATUS_ERRORS SOCKET_ERRORS
#   SERVER_TICKS SERVER_FAULTS
load() {
    local id=$1 secs=$2 round=$3 out=$dir/wrk/$1.$3.txt server before faults
    server=$apache_pid
    [ "${base[$id]}" = "$nginx" ] && server=$nginx_pid
    faults=$(tree_faults "$server")
    before=$(tree_ticks "$server")
    wrk -t "$threads" -c "${conns[$id]}" -d "${secs}s" --timeout 10s --latency \
        -H "User-Agent: $agent" -H "Referer: $referrer" \
        -s "$here/random_slug.lua" "${base[$id]}" -- "${prefix[$id]}" "${pick[$id]}" >"$out"
    # Let the requests wrk left in flight (a CGI's Python, WSGI's queue)
    # finish before the next contender starts.
    sleep 0.5
    [ "$round" = warmup ] && return 0
    echo "$id $round $(sed -n 's/^wrk-result //p' "$out")" \
         "$(($(tree_ticks "$server") - before))" \
         "$(($(tree_faults "$server") - faults))" >>"$results"
}

# The first seconds of a generation, before anything warmed it up: the
# round a spike meets right after "apachectl start".
first=(minilink alias floor-quick)
log "round right after the start: ${first[*]}"
for id in "${first[@]}"; do load "$id" "$seconds" start; done

# One second each first: Python starts its interpreters, Apache and nginx
# fault in their tables, connections are made.
log "warming up (1 s each)"
for id in "${ids[@]}"; do load "$id" 1 warmup; done

# Interleaved: every contender once per round, so a slow moment of the
# machine hurts one round of each rather than all rounds of one.
# PostgreSQL's own CPU over the rounds is reported too: /mlpg's flushes
# of clicks land in whichever contender's round comes next.
pg_ticks=$(tree_ticks "$(head -n 1 "$pg_dir/data/postmaster.pid")")
for ((round = 1; round <= rounds; round++)); do
    log "round $round of $rounds ($seconds s per contender)"
    for id in "${ids[@]}"; do load "$id" "$seconds" "$round"; done
done
pg_ticks=$(($(tree_ticks "$(head -n 1 "$pg_dir/data/postmaster.pid")") - pg_ticks))

# The visits ring of /ml's database over the rounds: at the default size,
# did the flood of random clicks drop any?
visits_metrics=$(curl -s "$apache/admin/metrics")
visit_figure() {
    printf '%s\n' "$visits_metrics" | sed -n "s|^$1{database=\"$db\"} ||p"
}
visits_recorded=$(visit_figure minilink_visits_recorded_total)
visits_dropped=$(visit_figure minilink_visits_dropped_total)
visits_written=$(visit_figure minilink_visits_written_total)
visits_slots=$(curl -s "$apache/admin/" | python3 -c 'import json, sys; print(json.load(sys.stdin)["visits"]["ring_slots"])')

# And the first seconds after a graceful restart: new children, a table
# just loaded (the old generation's children finish their connections).
log "graceful restart, then a round: ${first[*]}"
generations=$(grep -c 'resuming normal operations' "$dir/httpd-error.log" || true)
"$APACHE2" -f "$dir/httpd.conf" -k graceful
for ((i = 0; i < 1200; i++)); do
    [ "$(grep -c 'resuming normal operations' "$dir/httpd-error.log")" -gt "$generations" ] && break
    sleep 0.1
done
wait_for "$apache/floor-quick/x"
for id in "${first[@]}"; do load "$id" "$seconds" graceful; done

# ---------------------------------------------------------------------------
log "measuring the table: load time, bytes per link, instructions per lookup"
read -r _ _ _ load_ms _ table_bytes _ click_bytes _ raw_bytes \
    < <("$dir/build/bench-lookup" load "$db")
lookups=100000
valgrind --tool=callgrind --instr-atstart=no --toggle-collect=ml_cache_lookup \
    --callgrind-out-file="$dir/callgrind.out" \
    "$dir/build/bench-lookup" lookup "$db" "$lookups" >/dev/null 2>"$dir/callgrind.log"
instructions=$(sed -n 's/^totals: //p' "$dir/callgrind.out")

# What writing the clicks of many links costs each engine: one click on
# each of up to 100,000 links, flushed as the refresher flushes.  Run as
# Apache's user, whose files these are.
log "timing a flush of clicks into SQLite and PostgreSQL"
flush_links=$((links < 100000 ? links : 100000))
as_apache=()
[ "$(id -u)" = 0 ] && as_apache=(runuser -u "$user" --)
read -r _ _ _ sqlite_flush_ms < <("${as_apache[@]}" "$dir/build/bench-lookup" flush "$db" "$flush_links")
read -r _ _ _ pg_flush_ms < <("${as_apache[@]}" "$dir/build/bench-lookup" flush "$pg_location" "$flush_links")
# And of visits: 100,000 of them (on as many links), drained as the
# refresher drains them; SQLite's file growth per visit.
log "timing a drain of visits into SQLite and PostgreSQL"
visit_count=$((links < 100000 ? links : 100000))
read -r _ _ _ sqlite_visits_ms _ sqlite_drains _ visit_bytes \
    < <("${as_apache[@]}" "$dir/build/bench-lookup" visits "$db" "$visit_count")
read -r _ _ _ pg_visits_ms _ pg_drains _ _ \
    < <("${as_apache[@]}" "$dir/build/bench-lookup" visits "$pg_location" "$visit_count")

# Bulk import: the links as CSV (minilink export), into a fresh SQLite file
# and a fresh PostgreSQL database, as an admin moving to mod_minilink would.
log "timing minilink import of $links links (SQLite, PostgreSQL)"
"$MINILINK_CLI" --db "$db" export >"$dir/links.csv"
"$MINILINK_CLI" --db "$dir/imported.db" init >/dev/null
import_started=$(date +%s%N)
"$MINILINK_CLI" --db "$dir/imported.db" import "$dir/links.csv" >/dev/null
sqlite_import_ms=$((($(date +%s%N) - import_started) / 1000000))
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres imported
pg_imported="postgresql://postgres@127.0.0.1:$pg_port/imported"
"$MINILINK_CLI" --db "$pg_imported" init >/dev/null
import_started=$(date +%s%N)
"$MINILINK_CLI" --db "$pg_imported" import "$dir/links.csv" >/dev/null
pg_import_ms=$((($(date +%s%N) - import_started) / 1000000))
rm -f "$dir/links.csv" "$dir"/imported.db*

# A big generated database, loaded as a graceful restart loads: the time
# and the memory a table of BENCH_BIG_LINKS links takes.
big_load_ms=0 big_table_bytes=0 big_click_bytes=0 big_raw_bytes=0
if [ "$big_links" -gt 0 ]; then
    log "generating and loading $big_links links"
    big_db=$dir/big.db
    make_links_db "$big_db" "$big_links" b 8
    read -r _ _ _ big_load_ms _ big_table_bytes _ big_click_bytes _ big_raw_bytes \
        < <("$dir/build/bench-lookup" load "$big_db")
    rm -f "$big_db"*
fi

# Wrong answers under load: wrk counts HTTP statuses >= 400 (a 404 for a
# stored slug, a 5xx); socket errors and timeouts are only reported.
status_errors=$(awk '{s += $7} END {print s + 0}' "$results")

# The report, in Markdown for bench/RESULTS.md, from the results and these
# facts about the run.
for id in "${ids[@]}"; do
    printf '%s\t%s\t%s\t%s\n' "$id" "${label[$id]}" "${prefix[$id]}" "${conns[$id]}"
done >"$dir/contenders.tsv"
export links rounds seconds threads machine versions load_at_start load_ms \
    table_bytes click_bytes raw_bytes lookups instructions pg_ticks \
    flush_links sqlite_flush_ms pg_flush_ms sqlite_import_ms pg_import_ms \
    visits_recorded visits_dropped visits_written visits_slots visit_count sqlite_visits_ms \
    sqlite_drains pg_visits_ms pg_drains visit_bytes \
    big_links big_load_ms big_table_bytes big_click_bytes big_raw_bytes
elapsed=$(($(date +%s) - started))
load_at_end=$(cut -d' ' -f1 /proc/loadavg)
tick_us=$((1000000 / $(getconf CLK_TCK)))
export elapsed load_at_end tick_us
python3 - "$dir/contenders.tsv" "$results" <<'PY'
import os, statistics, sys

env = os.environ
contenders = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
label = {id: name for id, name, path, conns in contenders}
runs = {}       # id -> {round: (req/s, p50 us, p99 us, errors, CPU us/request, requests, faults)}
apart = {}      # the rounds right after the start and the graceful restart
for line in open(sys.argv[2]):
    id, rnd, req, dur, p50, p99, st, sock, ticks, faults = line.split()
    (apart if rnd in ("start", "graceful") else runs).setdefault(id, {})[rnd] = (
        int(req) / (int(dur) / 1e6), int(p50), int(p99), int(st) + int(sock),
        int(ticks) * int(env["tick_us"]) / int(req), int(req), int(faults))

median = statistics.median

def ms(us):
    return "%.2f ms" % (us / 1000) if us < 100000 else "%.0f ms" % (us / 1000)

def ratio(id, other, field):
    """The median over the rounds of the ratio within each round."""
    value = median(runs[id][r][field] / runs[other][r][field] for r in runs[id])
    return "%.2f" % value if value >= 0.1 else "%.2g" % value

links = int(env["links"])
print()
print("### %s links" % format(links, ","))
print()
print("Command: `make -f Makefile.apxs bench BENCH_LINKS=%d` (%s rounds x %s s,"
      " wrk %s threads); took %s s" % (links, env["rounds"], env["seconds"],
                                       env["threads"], env["elapsed"]))
print("Machine: %s" % env["machine"])
print("Software: %s" % env["versions"])
print("Load average (1 min): %s at the start, %s at the end"
      % (env["load_at_start"], env["load_at_end"]))
print()
print("| contender | path | conns | req/s | p50 | p99 | server CPU/req"
      " | req/s vs floor | p50 vs floor | CPU/req vs floor | errors |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for id, name, path, conns in contenders:
    r = runs[id].values()
    cpu = "%.1f us" % median(x[4] for x in r)
    cpu_ratio = ratio(id, "floor-quick", 4)
    if id == "cgi":
        cpu = cpu_ratio = "n/a"
    print("| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %d |" % (
        name, path, conns, median(x[0] for x in r),
        ms(median(x[1] for x in r)), ms(median(x[2] for x in r)), cpu,
        ratio(id, "floor-quick", 0), ratio(id, "floor-quick", 1), cpu_ratio,
        sum(x[3] for x in r)))
print()
print("Medians of the rounds; a ratio is the median of the ratios within each"
      " round.  Server CPU/req: CPU time of the server's processes in a round /"
      " its requests (CGI: n/a, see bench/run.sh).  errors: HTTP statuses >= 400,"
      " socket errors and timeouts, all rounds.")
print()
for one, other in (("minilink", "rw-dbm"), ("minilink", "nginx"),
                   ("minilink-guarded", "floor-guarded"),
                   ("minilink", "minilink-small"), ("minilink-quiet", "minilink"),
                   ("minilink", "minilink-novisits"),
                   ("minilink-pgsql", "minilink")):
    print("- %s / %s: %s x the requests per second, %s x the p50,"
          " %s x the server CPU per request" % (label[one], label[other],
          ratio(one, other, 0), ratio(one, other, 1), ratio(one, other, 4)))
print()
print("Issue 14's measures, from this run (ratios of server CPU per request, the"
      " median of the ratios within each round):")
print()
print("| | mod_minilink / mod_alias Redirect | mod_minilink / quick floor"
      " | p99: mod_minilink / quick floor | Apache's page faults (minilink round) |")
print("|---|--:|--:|--:|--:|")
print("| steady rounds (%s) | %s | %s | %s | %d |" % (
    ", ".join(sorted(runs["minilink"])), ratio("minilink", "alias", 4),
    ratio("minilink", "floor-quick", 4), ratio("minilink", "floor-quick", 2),
    median(x[6] for x in runs["minilink"].values())))
for rnd, what in (("start", "round 1 after the start (no warm-up)"),
                  ("graceful", "round 1 after a graceful restart")):
    m, a, q = (apart[i][rnd] for i in ("minilink", "alias", "floor-quick"))
    print("| %s | %.2f | %.2f | %.2f | %d |" % (what, m[4] / a[4], m[4] / q[4],
                                               m[2] / q[2], m[6]))
print()
print("Server CPU per request, round by round (\"start\": right after the start,"
      " before any warm-up; \"graceful\": right after a graceful restart):")
print()
order = ["start"] + sorted(runs["minilink"], key=int) + ["graceful"]
print("| contender | " + " | ".join(order) + " |")
print("|---|" + "--:|" * len(order))
for id in ("minilink", "alias", "floor-quick"):
    both = dict(runs[id], **apart[id])
    print("| %s | %s |" % (label[id], " | ".join("%.1f us" % both[r][4] for r in order)))
print()
pg_requests = sum(x[5] for x in runs["minilink-pgsql"].values())
pg_us = int(env["pg_ticks"]) * int(env["tick_us"])
print("- PostgreSQL's own processes over the rounds (clicks flushed, changes"
      " polled; no redirect asks it): %.1f s of CPU, %.1f us per /mlpg request"
      % (pg_us / 1e6, pg_us / pg_requests))
print("- A flush of clicks on %s links (bench-lookup flush, median of 3):"
      " SQLite %s ms, PostgreSQL %s ms" % (format(int(env["flush_links"]), ","),
      env["sqlite_flush_ms"], env["pg_flush_ms"]))
print("- Visits of /ml's database over the whole run (its ring of the default"
      " size, %s slots): %s recorded, %s written, %s dropped"
      % (env["visits_slots"], env["visits_recorded"], env["visits_written"],
         env["visits_dropped"]))
print("- A drain of %s visits, each on another link (bench-lookup visits):"
      " SQLite %s ms in %s transactions, PostgreSQL %s ms in %s; SQLite's file"
      " grew by %s bytes a visit (the row, its two index entries, a roll-up row)"
      % (format(int(env["visit_count"]), ","), env["sqlite_visits_ms"],
         env["sqlite_drains"], env["pg_visits_ms"], env["pg_drains"],
         env["visit_bytes"]))
print()
table, clicks = int(env["table_bytes"]), int(env["click_bytes"])
raw = int(env["raw_bytes"])
print("| the shared-memory table | |")
print("|---|--:|")
print("| load from SQLite into a new table, as a graceful restart does (median of 5) | %s ms |"
      % env["load_ms"])
print("| shared-memory segment (room for 25%% more links, at least 1024) | %s bytes |"
      % format(table, ","))
print("| shared memory per link: the table | %.1f bytes = 1.25 x raw + %.1f (raw slug+URL %.1f) |"
      % (table / links, (table - 1.25 * raw) / links, raw / links))
print("| shared memory per link: with its click cell | %.1f bytes = 1.25 x raw + %.1f |"
      % ((table + clicks) / links, (table + clicks - 1.25 * raw) / links))
print("| instructions per lookup (callgrind, %s random hits) | %.1f |"
      % (format(int(env["lookups"]), ","), int(env["instructions"]) / int(env["lookups"])))
for engine, key in (("SQLite", "sqlite_import_ms"), ("PostgreSQL", "pg_import_ms")):
    print("| minilink import of %s links from CSV into a fresh %s database | %.1f s (%.0f links/s) |"
          % (format(links, ","), engine, int(env[key]) / 1000, links / (int(env[key]) / 1000)))
big = int(env["big_links"])
if big:
    table, clicks, raw = (int(env[k]) for k in ("big_table_bytes", "big_click_bytes", "big_raw_bytes"))
    print("| load of a generated %s-link database, as a graceful restart does (median of 5) | %s ms |"
          % (format(big, ","), env["big_load_ms"]))
    print("| shared memory per link at %s: table and click cell | %.1f bytes = 1.25 x raw + %.1f |"
          % (format(big, ","), (table + clicks) / big, (table + clicks - 1.25 * raw) / big))
PY

if [ "$status_errors" != 0 ]; then
    echo "bench: $status_errors answers with HTTP status >= 400 under load" >&2
    exit 1
fi
log "done"
