#!/usr/bin/env bash
# run.sh - the Debian package and "make install", end to end, on this
# machine's own Apache (issue 19).  As root, as CI runs it:
#
#   make install   no apt-get; -Werror only when asked; CFLAGS, CPPFLAGS and
#                  LDFLAGS reach the module (through apxs) and the CLI;
#                  DESTDIR, PREFIX, BINDIR, MANDIR honoured, run as nobody
#                  so that any write outside DESTDIR fails
#   the package    built from this tree with dpkg-buildpackage, lintian
#                  clean, and again with a higher version
#   its life       apt-get install ./*.deb into the machine's Apache; started
#                  as Debian does (apachectl start); a site from the
#                  package's example; redirects, a link added with the CLI,
#                  clicks; logrotate's own graceful restart under load
#                  without a failed request; an upgrade in place (links and
#                  clicks kept, the new module loaded); remove (module
#                  disabled, Apache still starts); purge (database kept);
#                  install again (the kept database used); purge with
#                  /var/lib/minilink/purge-removes-database (gone)
#
# The machine's Apache is left as it was found, also when a step fails or
# the run is interrupted: /etc/apache2, /var/lib/apache2 (a2enmod's state)
# and /var/log/apache2 are restored from copies, the package purged, and
# Apache stopped if it was not running before (only the instance started
# from /etc/apache2, by apachectl; no other apache2 process is touched).
# Its ports.conf listens on a free 127.0.0.1 port during the run.
#
# Prints one line per step, what failed with the end of its log, the
# package's build time and the run's duration, then "N passed, N failed";
# appends "passed failed" to $TEST_TALLY.  A step after a failed one of
# the package's life is not run and counts as failed.  KEEP=1 keeps the
# work directory (logs, packages).
#
# Each step is a function run in a subshell with its output in a log of
# its own; fail() ends the step.  Values later steps need are known
# before (the package versions) or written to $work/preflight.env.
set -u
# The makes run here stand for a packager's: none of the calling make's variables
# (make test WERROR=1 passes WERROR=1 down, in MAKEFLAGS and the environment).
unset MAKEFLAGS MFLAGS MAKELEVEL WERROR
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
package=libapache2-mod-minilink
state_dir=/var/lib/minilink
database=$state_dir/links.db
# Everything the package and the test change, restored from copies.
saved_dirs="/etc/apache2 /var/lib/apache2 /var/log/apache2"
apt_get="apt-get -o DPkg::Lock::Timeout=600 -y -q"

passed=0
failed=0
blocked=        # the failed step that stops the package's life
step_status=0   # of the last step
work=
port=
apache_was_running=
restored=
start_time=$SECONDS

# ---- Reporting ----------------------------------------------------------

# step NAME FUNCTION: runs FUNCTION in a subshell (set -e) with its output
# in a log of its own; prints "ok" or "FAIL" and the log's end, and sets
# step_status.  Steps of the package's life (LIFE=1) are not run after one
# of them failed.  Never called as a condition, where bash ignores set -e.
step_number=0
step() {
    local name=$1 fn=$2 log t0=$SECONDS
    step_number=$((step_number + 1))
    log=$work/step-$(printf %02d $step_number).log
    if [ "${LIFE:-0}" = 1 ] && [ -n "$blocked" ]; then
        failed=$((failed + 1))
        step_status=1
        printf 'FAIL %s: not run, after "%s" failed\n' "$name" "$blocked"
        return
    fi
    (set -e; "$fn") >"$log" 2>&1
    step_status=$?
    if [ $step_status -eq 0 ]; then
        passed=$((passed + 1))
        printf 'ok   %s (%d s)\n' "$name" $((SECONDS - t0))
    else
        failed=$((failed + 1))
        [ "${LIFE:-0}" = 1 ] && blocked=$name
        printf 'FAIL %s (%d s); log %s:\n' "$name" $((SECONDS - t0)) "$log"
        tail -n 20 "$log" | sed 's/^/    /'
    fi
}

# fail WHY: ends the step (its subshell), with the reason in its log.
fail() {
    echo "FAILED: $*"
    exit 1
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds;
# 1 if it never did.  A deadline for something that must happen, not a
# measure of how fast it does.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}

# ---- The machine's Apache -------------------------------------------------

pid_file() {
    (set +u; . /etc/apache2/envvars && echo "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}")
}

# The pid of the Apache started from /etc/apache2, if it runs.
apache_pid() {
    local file pid
    file=$(pid_file)
    [ -s "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

url() { echo "http://127.0.0.1:$port$1"; }

# status PATH: the HTTP status of a GET (000 when there is no answer).
status() { curl -s -o /dev/null -w '%{http_code}' "$(url "$1")"; }
answers() { [ "$(status "$1")" = "$2" ]; }

as_server_user() { setpriv --reuid=www-data --regid=www-data --clear-groups "$@"; }
cli() { as_server_user /usr/bin/minilink --db "$database" "$@"; }

clicks_are() { [ "$(cli stats "$1" | sed -n 's/^clicks: //p')" = "$2" ]; }

installed_version() {
    dpkg-query -W -f='${Status} ${Version}\n' $package 2>/dev/null \
        | sed -n 's/^install ok installed //p'
}

# A free port on 127.0.0.1: nothing answers a connection to it.
free_port() {
    local candidate tries=0
    while [ $tries -lt 50 ]; do
        candidate=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# Puts the machine back as it was; runs once, at the end or on the way out.
restore_machine() {
    local pid dir
    [ -n "$restored" ] && return 0
    restored=1
    # Nothing was changed before the copies were complete.
    [ -n "$work" ] && [ -f "$work/saved/complete" ] || return 0
    echo "restoring the machine's Apache"
    if [ -z "$apache_was_running" ] && pid=$(apache_pid); then
        apachectl stop >/dev/null 2>&1
        # The parent we started: a stop that did not take is ended by pid.
        wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    fi
    if [ -n "$(installed_version)" ] \
       || dpkg-query -W -f='${Status}\n' $package 2>/dev/null | grep -q config-files; then
        $apt_get purge $package >"$work/restore-purge.log" 2>&1 \
            || echo "could not purge $package: $work/restore-purge.log"
    fi
    rm -rf "$state_dir"
    for dir in $saved_dirs; do
        rm -rf "$dir"
        cp -a "$work/saved${dir}" "$dir"
    done
    for dir in /var/run/apache2 /var/lock/apache2; do
        if [ -e "$work/saved/absent$(echo "$dir" | tr / -)" ]; then
            rm -rf "$dir"
        fi
    done
    if [ -n "$apache_was_running" ]; then
        apachectl graceful >/dev/null 2>&1 || echo "apachectl graceful failed after the restore"
    fi
}

finish() {
    local status=$?
    trap - EXIT INT TERM
    restore_machine
    echo "${passed} passed, ${failed} failed"
    [ -n "${TEST_TALLY:-}" ] && echo "$passed $failed" >>"$TEST_TALLY"
    if [ -n "$work" ]; then
        if [ $failed -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
            rm -rf "$work"
        else
            echo "package test work directory kept: $work"
        fi
    fi
    [ $failed -eq 0 ] && [ $status -eq 0 ] && exit 0
    exit 1
}
trap finish EXIT
trap 'echo "interrupted"; failed=$((failed + 1)); exit 130' INT TERM

# ---- Before anything: what the test needs, what it will change -----------

# Checks what the test needs and what it must not touch, then saves what
# it will change.  Writes port and apache_was_running to preflight.env
# before it changes anything, so the restore knows them.
preflight() {
    local dir tool
    [ "$(id -u)" = 0 ] || fail "needs root (apt-get, /etc/apache2): run it as CI does"
    for tool in dpkg-buildpackage dpkg-parsechangelog dh dh_apache2 lintian pod2man \
                logrotate apachectl a2query curl setpriv readelf nm make git; do
        command -v "$tool" >/dev/null || fail "$tool is missing: make -f Makefile.apxs deps installs it"
    done
    if [ -n "$(installed_version)" ] \
       || dpkg-query -W -f='${Status}\n' $package 2>/dev/null | grep -q config-files; then
        fail "$package is already on this machine: the test installs and purges it; purge it first"
    fi
    [ ! -e "$state_dir" ] \
        || fail "$state_dir exists: the test's purge would touch someone's links; move it away first"
    [ -f /etc/apache2/ports.conf ] || fail "no /etc/apache2/ports.conf: is Debian's apache2 installed?"
    apache_was_running=
    apache_pid >/dev/null && apache_was_running=1
    port=$(free_port) || fail "no free port found"
    printf 'port=%s\napache_was_running=%s\n' "$port" "$apache_was_running" \
        >"$work/preflight.env"
    mkdir -p "$work/saved"
    for dir in $saved_dirs; do
        mkdir -p "$work/saved$(dirname "$dir")"
        cp -a "$dir" "$work/saved$dir" || fail "cannot copy $dir"
    done
    for dir in /var/run/apache2 /var/lock/apache2; do
        [ -e "$dir" ] || touch "$work/saved/absent$(echo "$dir" | tr / -)"
    done
    touch "$work/saved/complete"
    # The machine's Apache listens on that port only, on loopback, from
    # before the package is installed: its maintainer scripts may start
    # Apache where invoke-rc.d is allowed to.
    echo "Listen 127.0.0.1:$port" >/etc/apache2/ports.conf
    echo "Apache was running: ${apache_was_running:-no}; port $port"
}

# ---- make install ---------------------------------------------------------

# A copy of the tree as git knows it (tracked and new files, no build
# products), so nothing is built in the checkout.
copy_tree() {
    mkdir -p "$1"
    (cd "$top" && git ls-files -co --exclude-standard -z \
        | tar --null -T - -cf -) | tar -xf - -C "$1"
}

makefile_runs_no_apt_get() {
    local tree=$work/tree-dry out
    copy_tree "$tree" || return 1
    out=$(make -n -C "$tree" -f Makefile.apxs build install DESTDIR=/nowhere) || return 1
    ! grep -n 'apt-get' <<<"$out" || fail "build or install would run apt-get"
    grep -q -- '-Wall -Wextra' <<<"$out" || fail "no compile line in make -n's output"
    ! grep -nE -- '-Werror( |"|$)' <<<"$out" || fail "-Werror without WERROR=1"
    out=$(make -n -C "$tree" -f Makefile.apxs build WERROR=1) || return 1
    grep -qE -- '-Werror( |"|$)' <<<"$out" || fail "WERROR=1 does not turn -Werror on"
}

# Flags that leave a mark: CFLAGS in the producer string the compiler
# records, CPPFLAGS a symbol from a forced include, LDFLAGS a linker symbol.
PROBE_CFLAGS="-O2 -g -frecord-gcc-switches -fstack-clash-protection"
# shellcheck disable=SC2016  # make expands $(CURDIR): the tree's probe.h
PROBE_CPPFLAGS='-include $(CURDIR)/probe.h'
PROBE_LDFLAGS="-Wl,--defsym=minilink_ldflags_probe=0"

flags_reach_module_and_cli() {
    local tree=$work/tree f
    copy_tree "$tree" || return 1
    echo '__attribute__((used)) static const char minilink_cppflags_probe[] = "x";' \
        >"$tree/probe.h"
    make -C "$tree" -f Makefile.apxs build CFLAGS="$PROBE_CFLAGS" \
        CPPFLAGS="$PROBE_CPPFLAGS" LDFLAGS="$PROBE_LDFLAGS" || fail "make build"
    for f in "$tree/.libs/mod_minilink.so" "$tree/minilink"; do
        readelf -p .GCC.command.line "$f" | grep -q -- -fstack-clash-protection \
            || fail "CFLAGS did not reach $f"
        nm "$f" | grep -q minilink_cppflags_probe || fail "CPPFLAGS did not reach $f"
        nm "$f" | grep -q minilink_ldflags_probe || fail "LDFLAGS did not reach $f"
    done
}

# install_as_nobody DESTDIR VAR=VALUE...: make install of the built tree as
# an unprivileged user, who can write nothing but DESTDIR: a file put
# anywhere else, or anything rebuilt in the tree, fails it.
install_as_nobody() {
    local destdir=$1
    shift
    install -d -o nobody "$destdir"
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        make -C "$work/tree" -f Makefile.apxs install DESTDIR="$destdir" \
        CFLAGS="$PROBE_CFLAGS" CPPFLAGS="$PROBE_CPPFLAGS" LDFLAGS="$PROBE_LDFLAGS" "$@"
}

# same_files DESTDIR EXPECTED...: the files under DESTDIR are exactly these.
same_files() {
    local destdir=$1 got want
    shift
    got=$(cd "$destdir" && find . -type f | sed 's/^\.//' | sort)
    want=$(printf '%s\n' "$@" | sort)
    [ "$got" = "$want" ] || fail "installed files differ (< got, > expected):
$(diff <(echo "$got") <(echo "$want"))"
}

install_honours_destdir_and_dirs() {
    local modules confdir
    chmod -R a+rX "$work/tree"
    chmod 755 "$work"
    modules=$(apxs -q LIBEXECDIR) && confdir=$(apxs -q SYSCONFDIR) || return 1
    install_as_nobody "$work/destdir-usr" PREFIX=/usr || fail "install PREFIX=/usr as nobody"
    same_files "$work/destdir-usr" /usr/bin/minilink /usr/share/man/man1/minilink.1 \
        /usr/share/man/man7/mod_minilink.7 "$modules/mod_minilink.so" \
        "$confdir/mods-available/minilink.load" "$confdir/mods-available/minilink.conf" \
        || return 1
    install_as_nobody "$work/destdir-opt" PREFIX=/opt/ml BINDIR=/opt/ml/sbin \
        MANDIR=/opt/ml/man || fail "install PREFIX/BINDIR/MANDIR as nobody"
    same_files "$work/destdir-opt" /opt/ml/sbin/minilink /opt/ml/man/man1/minilink.1 \
        /opt/ml/man/man7/mod_minilink.7 "$modules/mod_minilink.so" \
        "$confdir/mods-available/minilink.load" "$confdir/mods-available/minilink.conf"
}

# ---- The package ----------------------------------------------------------

# The version in debian/changelog, and the higher one of the rebuild.
version_1=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version 2>/dev/null)
version_2=$version_1+pkgtest1
arch=$(dpkg --print-architecture 2>/dev/null)

build_package() {
    local t0=$SECONDS
    copy_tree "$work/pkg-1/src" || return 1
    (cd "$work/pkg-1/src" && dpkg-buildpackage -us -uc -b) || fail "dpkg-buildpackage"
    echo $((SECONDS - t0)) >"$work/build-seconds"
    [ -f "$(deb 1)" ] || fail "no $(deb 1)"
    dpkg-deb -c "$(deb 1)"
}

# deb 1|2: the package file of the first or the rebuilt version.
deb() {
    local version=$version_1
    [ "$1" = 2 ] && version=$version_2
    echo "$work/pkg-$1/${package}_${version}_$arch.deb"
}

lintian_clean() {
    local out
    out=$(lintian "$work/pkg-1/mod-minilink_${version_1}_$arch.changes" 2>&1 \
          | sed '/^running with root privileges/d')
    echo "$out"
    [ -z "$out" ] || fail "lintian has something to say"
}

# The same tree as a higher version, for the upgrade in place.
build_higher_version() {
    local src=$work/pkg-2/src
    copy_tree "$src" || return 1
    { printf 'mod-minilink (%s) unstable; urgency=medium\n\n' "$version_2"
      printf '  * Rebuilt by tests/package/run.sh to test an upgrade in place.\n\n'
      printf ' -- %s  %s\n\n' "$(cd "$src" && dpkg-parsechangelog -S Maintainer)" "$(date -R)"
      cat "$src/debian/changelog"; } >"$src/debian/changelog.new"
    mv "$src/debian/changelog.new" "$src/debian/changelog"
    (cd "$src" && dpkg-buildpackage -us -uc -b) || fail "dpkg-buildpackage"
    [ -f "$(deb 2)" ] || fail "no $(deb 2)"
}

# ---- Its life in the machine's Apache --------------------------------------

apt_install() {
    $apt_get install "$1" || fail "apt-get install $1"
}

install_enables_and_makes_database() {
    apt_install "$(deb 1)" || return 1
    [ "$(installed_version)" = "$version_1" ] || fail "$package $version_1 is not installed"
    a2query -m minilink || fail "a2query: module minilink is not enabled"
    [ "$(stat -c '%U:%G %a' "$state_dir")" = "www-data:www-data 750" ] \
        || fail "$state_dir is $(stat -c '%U:%G %a' "$state_dir")"
    [ "$(stat -c %U "$database")" = www-data ] || fail "$database is not www-data's"
    [ "$(cli stats | head -n 1)" = "links: 0" ] || fail "the new database is not empty"
    [ -x /usr/bin/minilink ] || fail "no /usr/bin/minilink"
}

apache_up() { [ "$(status /)" != 000 ]; }

started_serving_nothing() {
    # pkg to look at, counted to click exactly, load to load.
    cli add https://example.com/package pkg || return 1
    cli add https://example.com/counted counted || return 1
    cli add https://example.com/load load || return 1
    apachectl start || fail "apachectl start"
    wait_for 30 apache_up || fail "Apache does not answer on port $port"
    apache2ctl -M 2>/dev/null | grep -q minilink_module || fail "minilink_module is not loaded"
    # Loaded, and no location says "SetHandler minilink": not served.
    answers /l/pkg 404 || fail "GET /l/pkg is $(status /l/pkg), not 404"
}

# Every directive the installed module declares (apache2ctl -L) is in the
# installed mod_minilink(7) and in the README's table; every command of
# "minilink help" is in minilink(1).
documented() {
    local doc=/usr/share/doc/$package directives commands d c
    directives=$(apache2ctl -L | sed -n 's/^\([A-Za-z]*\) (mod_minilink\.c)$/\1/p')
    [ "$(wc -w <<<"$directives")" -ge 10 ] || fail "apache2ctl -L lists: $directives"
    for d in $directives; do
        zcat /usr/share/man/man7/mod_minilink.7.gz | grep -q "\\\\fB$d\\\\fR" \
            || fail "$d is not in mod_minilink(7)"
        zcat "$doc/README.gz" | grep -qE "^\| $d( |\|)" || fail "$d is not in the README's table"
    done
    commands=$(/usr/bin/minilink help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
    [ "$(wc -w <<<"$commands")" -ge 10 ] || fail "minilink help lists: $commands"
    for c in $commands; do
        zcat /usr/share/man/man1/minilink.1.gz | grep -q "\\\\fB$c\\\\fR" \
            || fail "$c is not in minilink(1)"
    done
    echo "directives: $directives"
    echo "commands: $commands"
}

location_of() { curl -s -o /dev/null -w '%{redirect_url}' "$(url "$1")"; }

site_redirects() {
    local example=/usr/share/doc/$package/examples/minilink-site.conf
    sed "s/<VirtualHost \*:80>/<VirtualHost *:$port>/" "$example" \
        >/etc/apache2/sites-available/minilink.conf || return 1
    grep -q "VirtualHost \*:$port" /etc/apache2/sites-available/minilink.conf \
        || fail "the example has no <VirtualHost *:80> to change"
    a2ensite minilink || fail "a2ensite minilink"
    apachectl graceful || fail "apachectl graceful"
    wait_for 30 answers /l/pkg 302 || fail "GET /l/pkg is $(status /l/pkg), not 302"
    [ "$(location_of /l/pkg)" = https://example.com/package ] \
        || fail "GET /l/pkg goes to $(location_of /l/pkg)"
    answers /l/nosuch 404 || fail "GET /l/nosuch is $(status /l/nosuch)"
}

cli_link_served_live() {
    cli add https://example.com/live live || return 1
    # Within MinilinkRefreshInterval (1 s), without a reload.
    wait_for 20 answers /l/live 302 || fail "GET /l/live is $(status /l/live), not 302"
}

# n GETs of a slug, each a redirect.
click() {
    local i
    for i in $(seq "$2"); do
        answers "/l/$1" 302 || fail "GET /l/$1 is $(status "/l/$1")"
    done
}

clicks_written_at_graceful() {
    click counted 5 || return 1
    apachectl graceful || fail "apachectl graceful"
    # The parent writes the counts as the restart begins.
    wait_for 30 clicks_are counted 5 || fail "minilink stats counted: $(cli stats counted)"
}

# load_worker N: GETs of /l/load, ten a connection, until load.stop
# exists; one status code a line.
load_worker() {
    local urls=() i
    # curl's -o names one URL's output: one each.
    for i in 1 2 3 4 5 6 7 8 9 10; do urls+=(-o /dev/null "$(url /l/load)"); done
    while [ ! -e "$work/load.stop" ]; do
        curl -s -w '%{http_code}\n' "${urls[@]}"
    done >>"$work/load.$1"
}

load_answers() { cat "$work"/load.[0-9] 2>/dev/null | wc -l; }
load_reached() { [ "$(load_answers)" -ge "$1" ]; }

# /etc/logrotate.d/apache2 as logrotate runs it, forced: its postrotate
# reloads Apache through invoke-rc.d (a graceful restart).  DPKG_ROOT
# points invoke-rc.d's policy-rc.d lookup at an empty directory: container
# images ship one that denies every service action (exit 101), which
# would make the reload, and this test, a no-op.
logrotate_under_load() {
    local before after workers=4 i codes
    mkdir -p "$work/empty-root"
    rm -f "$work/load.stop" "$work"/load.[0-9]
    # The workers stop however the step ends.
    trap 'touch "$work/load.stop"' EXIT
    for i in $(seq $workers); do load_worker "$i" & done
    wait_for 30 load_reached 200 || fail "the load did not get going"
    DPKG_ROOT=$work/empty-root logrotate -v -f -s "$work/logrotate.state" \
        /etc/logrotate.d/apache2 || echo "logrotate exited $?"
    # Rotated, and reopened by a new generation: the graceful happened.
    [ -f /var/log/apache2/error.log.1 ] || fail "logrotate rotated no error.log"
    wait_for 30 grep -q 'resuming normal operations' /var/log/apache2/error.log \
        || fail "no graceful restart after the rotation (error.log has no new generation)"
    before=$(load_answers)
    wait_for 30 load_reached $((before + 200)) || fail "the load stopped after the restart"
    touch "$work/load.stop"
    wait
    after=$(load_answers)
    codes=$(cat "$work"/load.[0-9] | sort | uniq -c)
    echo "answers: $after, $before of them before the new generation was up"
    echo "$codes"
    [ "$(cat "$work"/load.[0-9] | grep -vc '^302$')" = 0 ] \
        || fail "requests failed across the graceful restart: $codes"
    grep -E 'AH00493|resuming' /var/log/apache2/error.log.1 /var/log/apache2/error.log || true
}

# The running Apache maps the module file now installed, not a deleted one.
maps_current_module() {
    local pid
    pid=$(apache_pid) || return 1
    grep -q '/mod_minilink.so$' "/proc/$pid/maps" \
        && ! grep -q 'mod_minilink.so (deleted)' "/proc/$pid/maps"
}

upgrade_keeps_links_and_clicks() {
    local log=$work/upgrade-apt.log
    apt_install "$(deb 2)" 2>&1 | tee "$log"
    [ "$(installed_version)" = "$version_2" ] || fail "$package $version_2 is not installed"
    grep -Eq 'already at schema version [0-9]+|upgraded from schema version' "$log" \
        || fail "postinst did not run minilink upgrade"
    a2query -m minilink || fail "the module is no longer enabled"
    # invoke-rc.d may not restart Apache here (policy-rc.d); an admin's
    # graceful loads the new module.
    apachectl graceful || fail "apachectl graceful"
    wait_for 30 maps_current_module || fail "Apache still runs the old module"
    wait_for 30 answers /l/pkg 302 || fail "GET /l/pkg is $(status /l/pkg) after the upgrade"
    answers /l/live 302 || fail "GET /l/live is $(status /l/live) after the upgrade"
    clicks_are counted 5 || fail "clicks after the upgrade: $(cli stats counted)"
    click counted 3 || return 1
    apachectl graceful || fail "apachectl graceful"
    wait_for 30 clicks_are counted 8 || fail "new clicks not added: $(cli stats counted)"
}

remove_disables_module() {
    $apt_get remove $package || fail "apt-get remove"
    ! a2query -m minilink || fail "the module is still enabled"
    [ ! -e /usr/lib/apache2/modules/mod_minilink.so ] || fail "the module file is still there"
    [ -f /etc/apache2/mods-available/minilink.load ] || fail "remove took the conffiles"
    [ -f "$database" ] || fail "remove took the database"
    # Apache starts without it: the example site is inside <IfModule>.
    apachectl configtest || fail "apachectl configtest after remove"
    apachectl graceful || fail "apachectl graceful"
    # shellcheck disable=SC2016  # $1 is sh's
    wait_for 30 sh -c '! grep -q "mod_minilink.so" /proc/$1/maps' _ "$(apache_pid)" \
        || fail "Apache still maps the module"
    answers /l/pkg 404 || fail "GET /l/pkg is $(status /l/pkg) without the module"
}

purge_keeps_database() {
    local log=$work/purge-apt.log
    $apt_get purge $package >"$log" 2>&1 || { cat "$log"; fail "apt-get purge"; }
    cat "$log"
    dpkg-query -W -f='${Status}\n' $package 2>/dev/null | grep -q 'ok installed\|config-files' \
        && fail "$package is still there after purge"
    [ ! -e /etc/apache2/mods-available/minilink.load ] || fail "purge left minilink.load"
    [ ! -e /etc/apache2/mods-enabled/minilink.load ] || fail "purge left the module enabled"
    [ -f "$database" ] || fail "purge took the database without being asked"
    grep -q "$state_dir is kept" "$log" || fail "purge did not say the database is kept"
}

reinstall_uses_kept_database() {
    apt_install "$(deb 2)" || return 1
    a2query -m minilink || fail "the module is not enabled again"
    [ "$(cli list | cut -f1 | sort | tr '\n' ' ')" = "counted live load pkg " ] \
        || fail "links after the reinstall: $(cli list)"
    clicks_are counted 8 || fail "clicks after the reinstall: $(cli stats counted)"
}

purge_on_request_removes_database() {
    touch "$state_dir/purge-removes-database"
    $apt_get purge $package || fail "apt-get purge"
    [ ! -e "$state_dir" ] || fail "$state_dir is still there"
}

# After restore_machine (in the main shell).
machine_as_found() {
    local dir
    for dir in $saved_dirs; do
        diff -r "$work/saved$dir" "$dir" || fail "$dir differs from before the test"
    done
    if [ -z "$apache_was_running" ]; then
        ! apache_pid || fail "Apache still runs"
    fi
    [ "$(status /)" = 000 ] || fail "something still answers on port $port"
    [ -z "$(installed_version)" ] || fail "$package is still installed"
    [ ! -e "$state_dir" ] || fail "$state_dir is still there"
}

# ---- The run -----------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/minilink-package.XXXXXX") || exit 1
echo "package test in $work"
# One package test at a time on a machine (two worktrees' make test): they
# would share its Apache.  The lock goes with this process.
if [ -w /run/lock ]; then
    exec 9>/run/lock/minilink-package-test.lock
    if ! flock -n 9; then
        echo "waiting for another package test (/run/lock/minilink-package-test.lock)"
        flock -w 1800 9 || { failed=$((failed + 1)); echo "FAIL still waiting after 30 min"; exit 1; }
    fi
fi
step "preflight: root, tools, nothing of ours installed; state saved" preflight
# shellcheck disable=SC1091  # written by preflight
[ -f "$work/preflight.env" ] && . "$work/preflight.env"
[ $step_status -eq 0 ] || exit 1
step "make build/install run no apt-get; -Werror only with WERROR=1" makefile_runs_no_apt_get
step "CFLAGS, CPPFLAGS, LDFLAGS reach the module (apxs) and the CLI" flags_reach_module_and_cli
step "make install: DESTDIR, PREFIX, BINDIR, MANDIR; nothing outside DESTDIR" \
    install_honours_destdir_and_dirs
LIFE=1
step "dpkg-buildpackage -us -uc -b" build_package
LIFE=0 step "lintian: no errors, no warnings" lintian_clean
step "the same package with a higher version" build_higher_version
step "apt-get install ./$package: module enabled, database as www-data" \
    install_enables_and_makes_database
step "apachectl start: module loaded, nothing served without a location" started_serving_nothing
step "every directive in mod_minilink(7) and the README, every command in minilink(1)" documented
step "the example site, enabled: redirects" site_redirects
step "a link added with minilink is served without a reload" cli_link_served_live
step "clicks written at a graceful restart" clicks_written_at_graceful
step "logrotate's graceful restart under load: no failed request" logrotate_under_load
step "upgrade in place: links and clicks kept, the new module loaded" upgrade_keeps_links_and_clicks
step "remove: module disabled, links kept, Apache starts without it" remove_disables_module
step "purge: the database kept, and said so" purge_keeps_database
step "install again: the kept database served" reinstall_uses_kept_database
step "purge with purge-removes-database: /var/lib/minilink gone" purge_on_request_removes_database
LIFE=0
restore_machine
step "the machine's Apache as it was found" machine_as_found
[ -f "$work/build-seconds" ] && echo "package build: $(cat "$work/build-seconds") s"
echo "package test: $((SECONDS - start_time)) s"
