# bench/links.sh - what the bench scripts share (sourced).

# bench_dir NAME: a scratch directory in $dir, removed at exit (KEEP=1
# keeps it) once the server whose pid the script puts in $server_pid, if
# any, has been stopped - whatever happens.
server_pid=""
bench_dir() {
    dir=$(mktemp -d "/tmp/minilink-$1.XXXXXX")
    chmod 755 "$dir"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM        # bench_cleanup runs through the EXIT trap
}
bench_cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}

# make_links_db DB COUNT PREFIX DIGITS: a minilink database of COUNT links,
# slugs PREFIX + the number in DIGITS digits, URLs of about 60 bytes
# (https://news.example.com/2026/11/N/a-longer-story-title).  Raw SQL, as
# bench/refresh.c does: the CLI would take a while for millions.
make_links_db() {
    "$MINILINK_CLI" --db "$1" init >/dev/null
    sqlite3 "$1" "
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
      INSERT INTO links (slug, url)
        SELECT printf('$3%0${4}d', i),
               printf('https://news.example.com/2026/11/%d/a-longer-story-title', i)
        FROM n;"
}

# build_floor DIR: bench/mod_floor.c built with apxs in DIR (libtool writes
# its objects next to the source, so it compiles a copy there).
build_floor() {
    mkdir -p "$1"
    cp "$here/mod_floor.c" "$1/"
    (cd "$1" && "$APXS" -c -o mod_floor.la mod_floor.c >apxs.log 2>&1) || {
        cat "$1/apxs.log" >&2
        return 1
    }
}

# httpd_conf_head DIR PORT USER GROUP: the start of an httpd.conf that
# keeps everything in DIR and listens on 127.0.0.1:PORT.
httpd_conf_head() {
    cat <<EOF
ServerRoot $1
DefaultRuntimeDir $1
PidFile $1/httpd.pid
Mutex file:$1 default
Listen 127.0.0.1:$2
ServerName 127.0.0.1
User $3
Group $4
DocumentRoot $1/htdocs
EOF
}
