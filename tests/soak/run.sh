#!/bin/sh
# tests/soak/run.sh BUILD SECONDS — the soak: examples/echo_server, then
# examples/http_server, each under tests/soak/soak_client for SECONDS/2 (loopback
# only, bounded concurrency; see soak_client.c for what it does and asserts).
# Each server must then stop cleanly on SIGTERM. Exits non-zero on any failure.
set -u
build=$1
secs=$2
half=$(( (secs + 1) / 2 ))
# ASan keeps freed memory in a quarantine (256 MiB by default) to catch late
# uses: the RSS bound then needs a small one.
case $build in
*-address*) export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=8}" ;;
esac
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
for kind in echo http; do
    "$build/examples/${kind}_server" 0 > "$tmp/$kind.out" 2> "$tmp/$kind.err" &
    pid=$!
    port=""
    i=0
    while [ -z "$port" ] && [ $i -lt 100 ]; do
        sleep 0.1
        port=$(sed -n 's/^listening on .* port \([0-9]*\)$/\1/p' "$tmp/$kind.out")
        i=$((i + 1))
    done
    if [ -z "$port" ]; then
        echo "soak: FAIL: ${kind}_server did not start: $(cat "$tmp/$kind.err")"
        failed=1
        continue
    fi
    "$build/tests/soak/soak_client" "$kind" "$port" "$half" "$pid" || failed=1
    kill -TERM "$pid"
    if wait "$pid"; then
        echo "soak: ok: ${kind}_server stopped cleanly on SIGTERM"
    else
        echo "soak: FAIL: ${kind}_server exited non-zero: $(cat "$tmp/$kind.err")"
        failed=1
    fi
    pid=""
done
[ $failed -eq 0 ] && echo "soak: all passed" || echo "soak: FAILED"
exit $failed
