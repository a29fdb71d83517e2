#!/usr/bin/env bash
# bench/profile.sh - where a whole request's instructions go, per contender.
#
# Run by "make -f Makefile.apxs bench-profile [BENCH_LINKS=N]", which passes
# MINILINK_MODULE, MINILINK_CLI, APACHE2 and APXS.  It starts one httpd
# (prefork, -X: a single process) under valgrind's callgrind with
# instrumentation off, then for each contender switches collection on, sends
# PROFILE_REQUESTS (2000) keep-alive GETs on one connection, and dumps
# the counts: instructions are exact and repeatable whatever else the
# machine does, so the difference between two contenders is what one
# costs over the other, function by function.  Contenders:
#   floor-quick    bench/mod_floor.c's 302 from quick_handler
#   alias          mod_alias "Redirect 302 /alias/x ..." (translate_name)
#   minilink       SetHandler minilink, a random stored slug per request
#                  (of the links after the first PROFILE_RULED_LINKS: plain;
#                  each click leaves a visit: MinilinkVisits On)
#   minilink-novisits  the same under MinilinkVisits Off (both locations
#                  say which, so both merge one directive: the difference
#                  is what recording the visit costs)
#   minilink-rules the same for links with three redirect rules (device,
#                  language, query), none of which matches a request sent
#                  as a desktop Firefox in English: every condition is
#                  read, and the link's own URL answers (the worst case)
#   floor-handler  the floor's 302 from an ordinary SetHandler handler
# Every request carries a desktop Firefox's User-Agent and Accept-Language
# and a Referer, as a click does: what the rules read, what a visit copies.
# Prints instructions per request and the ratios, then for minilink and
# alias, and for minilink and minilink-novisits, the functions whose
# inclusive cost differs most.  (The refresher that writes the visits is a
# process of its own: its work is not in these counts; bench/run.sh's CPU
# per request counts it.)  KEEP=1 keeps the
# temporary directory (with the callgrind.out files).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/links.sh
. "$here/links.sh"
links=${BENCH_LINKS:-100000}
requests=${PROFILE_REQUESTS:-2000}
APACHE2=${APACHE2:-/usr/sbin/apache2}
APXS=${APXS:-apxs}
modules=/usr/lib/apache2/modules
: "${MINILINK_MODULE:?run me through make -f Makefile.apxs bench-profile}"
: "${MINILINK_CLI:?run me through make -f Makefile.apxs bench-profile}"

bench_dir profile

mkdir "$dir/htdocs"
build_floor "$dir/build" || exit 1
db=$dir/links.db
make_links_db "$db" "$links" s 7
# The first RULED links get three redirect rules each (schema 2; a module
# and CLI of version 1 have no rules to profile).
ruled=${PROFILE_RULED_LINKS:-1000}
has_rules=$(sqlite3 "$db" "SELECT count(*) FROM sqlite_schema WHERE name = 'redirect_rules'")
if [ "$has_rules" = 1 ]; then
    sqlite3 "$db" "
      INSERT INTO redirect_rules (link_id, priority, long_url)
        SELECT id, p, printf('https://news.example.com/rule/%d/%d', id, p)
        FROM links, (SELECT 1 AS p UNION ALL SELECT 2 UNION ALL SELECT 3)
        WHERE id <= $ruled;
      INSERT INTO redirect_conditions (rule_id, position, type, match_key, match_value)
        SELECT id, 1, CASE priority WHEN 1 THEN 'device' WHEN 2 THEN 'language'
                                    ELSE 'query-param' END,
               CASE priority WHEN 3 THEN 'utm' END,
               CASE priority WHEN 1 THEN 'ios' WHEN 2 THEN 'fr' ELSE 'mail' END
        FROM redirect_rules;"
fi
# httpd runs as an ordinary user from the start (it changes user after
# valgrind has made its control pipes otherwise, and callgrind_control then
# cannot reach them); as root, that user is www-data.
as_user=()
if [ "$(id -u)" = 0 ]; then
    chown -R www-data: "$dir"
    as_user=(runuser -u www-data --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$dir/httpd.conf" <<EOF
ServerRoot $dir
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
DefaultRuntimeDir $dir
Mutex file:$dir default
LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule alias_module $modules/mod_alias.so
LoadModule minilink_module $MINILINK_MODULE
LoadModule floor_module $dir/build/.libs/mod_floor.so
ErrorLog $dir/error.log
DocumentRoot $dir/htdocs
KeepAlive On
MaxKeepAliveRequests 0
MinilinkDatabase $db
MinilinkRefreshInterval 0
<Location /ml>
    SetHandler minilink
    MinilinkVisits On
</Location>
<Location /mlnv>
    SetHandler minilink
    MinilinkVisits Off
</Location>
<Location /floor-handler/>
    SetHandler floor
</Location>
Redirect 302 /alias/x https://news.example.com/2026/11/50000/a-longer-story-title
EOF

"${as_user[@]}" valgrind --tool=callgrind --instr-atstart=no --trace-children=no \
    --vgdb-prefix="$dir/vgdb" --callgrind-out-file="$dir/callgrind.out" \
    "$APACHE2" -X -f "$dir/httpd.conf" >"$dir/valgrind.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/floor-quick/x" && break
    sleep 0.2
done

# One connection, every request on it (curl reuses a connection for the
# URLs of one invocation; a config file's headers go with all of its URLs).
agent="Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"
referrer="https://news.example.org/2026/11/30/a-story-that-links-here?utm_source=feed"
urls() {
    local path=$1 i
    RANDOM=1    # the same slugs in every run: the counts compare exactly
    printf 'user-agent = "%s"\nreferer = "%s"\n' "$agent" "$referrer"
    printf 'header = "Accept-Language: en-US,en;q=0.9"\n'
    for i in $(seq "$requests"); do
        if [ "$path" = /ml/ ] || [ "$path" = /mlnv/ ]; then
            printf 'url = "http://127.0.0.1:%d%ss%07d"\noutput = "/dev/null"\n' \
                "$port" "$path" $(( ruled + (RANDOM * 32768 + RANDOM) % (links - ruled) + 1 ))
        elif [ "$path" = /ml-rules/ ]; then
            printf 'url = "http://127.0.0.1:%d/ml/s%07d"\noutput = "/dev/null"\n' \
                "$port" $(( (RANDOM * 32768 + RANDOM) % ruled + 1 ))
        else
            printf 'url = "http://127.0.0.1:%d%s"\noutput = "/dev/null"\n' "$port" "$path"
        fi
    done
}
control() {
    "${as_user[@]}" callgrind_control --vgdb-prefix="$dir/vgdb" "$@" "$httpd_pid" \
        >"$dir/control.log" 2>&1 || { cat "$dir/control.log" >&2; exit 1; }
}
# The oldest: the refresher process it forks runs under valgrind too.
httpd_pid=$(pgrep -o -f -- "valgrind.bin.*-X -f $dir/httpd.conf" || true)
[ -n "$httpd_pid" ] || { echo "profile: httpd did not start" >&2; cat "$dir/valgrind.log" >&2; exit 1; }
contenders="floor-quick:/floor-quick/x alias:/alias/x minilink:/ml/ minilink-novisits:/mlnv/"
[ "$has_rules" = 1 ] && contenders="$contenders minilink-rules:/ml-rules/"
for contender in $contenders floor-handler:/floor-handler/x; do
    name=${contender%%:*}
    path=${contender#*:}
    urls "$path" >"$dir/$name.urls"
    curl -s -o /dev/null "http://127.0.0.1:$port$path" || true   # warm
    control -z
    control -i on
    curl -s -K "$dir/$name.urls"
    control -i off
    control -d "$name"
done
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

dump_of() {   # callgrind numbers its dumps; the trigger names each
    grep -l "^desc: Trigger: dump $1\$" "$dir"/callgrind.out.* | head -1
}
total() {   # the instructions of a dump
    local file
    file=$(dump_of "$1")
    callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
echo "Instructions per request (callgrind, $requests keep-alive GETs, $links links):"
declare -A per
for name in floor-quick alias minilink minilink-novisits \
            $([ "$has_rules" = 1 ] && echo minilink-rules) floor-handler; do
    per[$name]=$(( $(total "$name") / requests ))
    printf '  %-14s %8d\n' "$name" "${per[$name]}"
done
if [ "$has_rules" = 1 ]; then
    awk -v r="${per[minilink-rules]}" -v m="${per[minilink]}" 'BEGIN {
        printf "  minilink-rules / minilink %.3f (three rules read, none matching)\n", r / m }'
fi
awk -v m="${per[minilink]}" -v a="${per[alias]}" -v q="${per[floor-quick]}" \
    -v h="${per[floor-handler]}" -v nv="${per[minilink-novisits]}" 'BEGIN {
    printf "  minilink / alias %.3f, minilink / floor-quick %.3f, floor-handler / floor-quick %.3f\n",
           m / a, m / q, h / q
    printf "  visits On / Off (minilink / minilink-novisits) %.4f\n", m / nv }'

# The functions whose inclusive instructions differ most between minilink
# and alias: where the difference goes.
differences() {   # the functions whose inclusive cost differs most
python3 - "$@" "$requests" <<'PY'
import re, subprocess, sys

def per_function(dump, requests):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                          "--auto=no", dump], capture_output=True, text=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\d. %]+\)\s+(\S.*)$", line)
        if m:
            name = m.group(2).split(" [")[0]
            if not name.startswith("???:0x"):
                name = re.sub(r"^\S*:", "", name)
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", "")) / requests
    return costs

requests = int(sys.argv[3])
ours, theirs = per_function(sys.argv[1], requests), per_function(sys.argv[2], requests)
names = sorted(set(ours) | set(theirs), key=lambda n: -abs(ours.get(n, 0) - theirs.get(n, 0)))
for name in names[:25]:
    print("  %8.0f %8.0f %+8.0f  %s" % (ours.get(name, 0), theirs.get(name, 0),
                                      ours.get(name, 0) - theirs.get(name, 0), name[:70]))
PY
}
echo "Largest differences, inclusive instructions per request (minilink, alias, difference):"
differences "$(dump_of minilink)" "$(dump_of alias)"
echo "Largest differences, inclusive instructions per request (visits On, Off, difference):"
differences "$(dump_of minilink)" "$(dump_of minilink-novisits)"
