#!/bin/sh
# run.sh SECONDS TARGET... - runs each libFuzzer target tests/fuzz/fuzz_TARGET
# for SECONDS on a copy of its seed corpus (tests/fuzz/corpus/TARGET) in a
# temporary directory, and prints one line per target.  Exits 1 if any
# target found something; its crash file and log are then kept and named.
#
#   FUZZ_ARGS   more libFuzzer options, e.g. "-fork=2" or "-runs=1000000"
#   FUZZ_KEEP   1: keep the work directory (the grown corpora) even when
#               nothing was found, e.g. to merge back a few good inputs
#   TEST_TALLY  a file to append "<targets passed> <targets failed>" to
#               (make test's summary)
#
# A finding is reproduced by running the target on the crash file:
#   tests/fuzz/fuzz_TARGET /path/to/crash-...
seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/minilink-fuzz.XXXXXX") || exit 1
status=0
passed=0
failed=0

for target in "$@"; do
    bin=$here/fuzz_$target
    dir=$work/$target
    log=$work/$target.log
    mkdir -p "$dir" "$work/$target-artifacts"
    cp "$here/corpus/$target/"* "$dir/"
    dict=
    [ -f "$here/fuzz_$target.dict" ] && dict=-dict=$here/fuzz_$target.dict
    # The cache's inputs are lists of operations: 2 KiB fill any table it
    # makes, and longer ones only slow it down.  URLs go up to 4096 bytes.
    max_len=8192
    [ "$target" = cache ] && max_len=2048
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of options
    "$bin" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
        -malloc_limit_mb=512 -max_len=$max_len -print_final_stats=1 $dict \
        -artifact_prefix="$work/$target-artifacts/" $FUZZ_ARGS "$dir" \
        >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    # crash-, leak-, timeout- or oom-: a slow-unit- file is only a note.
    found=$(ls "$work/$target-artifacts" 2>/dev/null | grep -v '^slow-unit-' | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        passed=$((passed + 1))
        printf 'fuzz_%-15s ok: %s runs in %s s, %s edges, corpus %s inputs\n' \
            "$target" "${runs:-?}" "${secs:-$seconds}" "${cov:-?}" \
            "$(ls "$dir" | wc -l)"
    elif [ -n "$found" ]; then
        status=1
        failed=$((failed + 1))
        printf 'fuzz_%-15s FOUND (exit %s): %s, log %s\n' "$target" "$rc" \
            "$work/$target-artifacts/$found" "$log"
        grep -E 'ERROR|invariant failed|SUMMARY' "$log" | head -n 5 | sed 's/^/    /'
    else
        status=1
        failed=$((failed + 1))
        printf 'fuzz_%-15s FAILED (exit %s) without a crash file, log %s\n' \
            "$target" "$rc" "$log"
        tail -n 3 "$log" | sed 's/^/    /'
    fi
done

[ -n "$TEST_TALLY" ] && echo "$passed $failed" >>"$TEST_TALLY"
if [ "$status" -eq 0 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
else
    echo "fuzzing work directory kept: $work"
fi
exit $status
