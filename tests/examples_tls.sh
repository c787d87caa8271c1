#!/bin/sh
# tests/examples_tls.sh DIR — drive the TLS examples in DIR with real TLS peers:
# curl --cacert against https_server (one request, keep-alive reuse, HTTP/1.0 close),
# openssl s_client against it (handshake and verification, SNI, ALPN, close_notify after
# a closing response, TLS 1.2), and tls_client against openssl s_server (verifying, the
# SNI it sends, refusing an unknown CA and a self-signed certificate). Certificates are made here
# with the openssl command in a temporary directory. Servers run under $RUNNER if set.
# Skips (exit 0, saying so) when coio was built without TLS; missing tools fail.
set -u
dir=$1
slack=${COIO_TEST_SLACK:-1}
RUNNER=${RUNNER:-}

# The Makefile passes TLS=0 for a build without TLS: nothing to drive then.
if [ "${TLS:-1}" = 0 ]; then
    echo "examples_tls: SKIP: coio was built without TLS (TLS=0 or no OpenSSL 3 found)"
    exit 0
fi
if [ ! -x "$dir/https_server" ]; then
    echo "examples_tls: FAILED: $dir/https_server not built"
    exit 1
fi
missing=""
for t in curl:curl openssl:openssl; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
if [ -n "$missing" ]; then
    echo "examples_tls: FAILED: tools missing; install them with: apt-get install$missing"
    exit 1
fi


tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
fail() { echo "examples_tls: FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "examples_tls: ok: $*"; }

(
    cd "$tmp" &&
    EC='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' &&
    openssl req -x509 $EC -keyout ca.key -out ca.pem -subj '/CN=coio examples CA' -days 2 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
    openssl req -new $EC -keyout srv.key -out srv.csr -subj '/CN=localhost' &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out srv.pem &&
    openssl req -x509 $EC -keyout self.key -out self.pem -subj '/CN=localhost' -days 2 \
        -addext subjectAltName=DNS:localhost
) >"$tmp/certs.log" 2>&1 || { echo "examples_tls: FAILED: making certificates: $(cat "$tmp/certs.log")"; exit 1; }

$RUNNER "$dir/https_server" 0 "$tmp/srv.pem" "$tmp/srv.key" > "$tmp/hs.out" 2> "$tmp/hs.err" &
hs_pid=$!
pids="$pids $hs_pid"
port=""
i=0
while [ $i -lt $((50 * slack)) ] && [ -z "$port" ]; do
    port=$(sed -n 's/^listening on .* port \([0-9]*\)$/\1/p' "$tmp/hs.out" 2>/dev/null)
    [ -z "$port" ] && sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "examples_tls: FAILED: https_server did not start: $(cat "$tmp/hs.err")"
    exit 1
fi
url="https://localhost:$port/"
to=$((10 * slack))

# ---- curl --cacert ---------------------------------------------------------------
body=$(curl -s --max-time $to --cacert "$tmp/ca.pem" "$url")
[ "$body" = "Hello, world" ] && pass "curl --cacert GET -> '$body'" || fail "curl body: '$body'"
reuse=$(curl -s -v --max-time $to --cacert "$tmp/ca.pem" "$url" "$url" 2>&1 | grep -c -i "re-using existing connection")
[ "$reuse" -ge 1 ] && pass "curl keep-alive reuse over TLS" || fail "curl did not reuse the TLS connection"
hdr=$(curl -s -0 -i --max-time $to --cacert "$tmp/ca.pem" "$url" | tr -d '\r' | grep -i '^connection:')
[ "$hdr" = "Connection: close" ] && pass "HTTP/1.0 closes" || fail "HTTP/1.0 header: '$hdr'"
curl -s --max-time $to "$url" >/dev/null 2>&1 && fail "curl without the CA accepted the server" ||
    pass "curl without --cacert refuses the certificate"

# ---- openssl s_client -------------------------------------------------------------
printf 'GET / HTTP/1.0\r\n\r\n' | timeout $to openssl s_client -ign_eof -connect "127.0.0.1:$port" \
    -servername localhost -alpn http/1.1 -CAfile "$tmp/ca.pem" -verify_hostname localhost \
    -verify_return_error > "$tmp/sc.out" 2>&1
grep -q "Verify return code: 0 (ok)" "$tmp/sc.out" && pass "s_client -servername localhost -verify_hostname localhost: verified" ||
    fail "s_client verification: $(tail -5 "$tmp/sc.out")"
grep -q "ALPN protocol: http/1.1" "$tmp/sc.out" && pass "s_client: ALPN http/1.1" ||
    fail "s_client ALPN: $(grep -i alpn "$tmp/sc.out")"
grep -q "Hello, world" "$tmp/sc.out" && grep -qx "closed" "$tmp/sc.out" &&
    pass "s_client: response, then close_notify ('closed')" ||
    fail "s_client close_notify: $(tail -5 "$tmp/sc.out")"
printf 'GET / HTTP/1.0\r\n\r\n' | timeout $to openssl s_client -ign_eof -connect "127.0.0.1:$port" \
    -tls1_2 -CAfile "$tmp/ca.pem" > "$tmp/sc12.out" 2>&1
grep -q "Protocol  : TLSv1.2" "$tmp/sc12.out" && grep -q "Hello, world" "$tmp/sc12.out" &&
    pass "s_client: TLS 1.2 too" || fail "s_client TLS 1.2: $(tail -5 "$tmp/sc12.out")"

kill -TERM $hs_pid 2>/dev/null
i=0
while kill -0 $hs_pid 2>/dev/null && [ $i -lt $((50 * slack)) ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $hs_pid 2>/dev/null; then fail "https_server ignored SIGTERM"
elif wait $hs_pid; then pass "https_server stopped cleanly on SIGTERM"
else fail "https_server exited non-zero: $(cat "$tmp/hs.err")"; fi

# ---- tls_client against openssl s_server -----------------------------------------
# s_server on a free port: the first port it can bind from a random start.
sport=$((20000 + $$ % 20000))
start_s_server() { # CERT KEY EXTRA...
    cert=$1 key=$2
    shift 2
    tries=0
    while [ $tries -lt 20 ]; do
        openssl s_server -accept "$sport" -cert "$cert" -key "$key" -www "$@" > "$tmp/ss.out" 2>&1 &
        ss_pid=$!
        pids="$pids $ss_pid"
        i=0
        while [ $i -lt $((30 * slack)) ]; do
            grep -q "ACCEPT" "$tmp/ss.out" 2>/dev/null && return 0
            kill -0 $ss_pid 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill $ss_pid 2>/dev/null
        sport=$((sport + 1))
        tries=$((tries + 1))
    done
    return 1
}
# SNI: s_server answers a client whose SNI is "localhost" with its second certificate
# (self-signed here) and any other with the first (signed by our CA, for localhost
# and 127.0.0.1). tls_client sends the URL's host name as SNI, and none for an IP.
if start_s_server "$tmp/srv.pem" "$tmp/srv.key" -servername localhost \
        -cert2 "$tmp/self.pem" -key2 "$tmp/self.key"; then
    out=$($RUNNER "$dir/tls_client" "https://127.0.0.1:$sport/" "$tmp/ca.pem" 2>"$tmp/tc.err")
    echo "$out" | grep -q "s_server" && pass "tls_client -> s_server by IP: verified, no SNI, page read" ||
        fail "tls_client vs s_server: $(cat "$tmp/tc.err") $(echo "$out" | head -3)"
    $RUNNER "$dir/tls_client" "https://localhost:$sport/" "$tmp/ca.pem" >/dev/null 2>"$tmp/tc1.err" &&
        fail "tls_client: SNI localhost did not reach s_server (or self-signed accepted)" ||
        { grep -q "self-signed" "$tmp/tc1.err" && pass "tls_client sends SNI localhost (s_server switched certificate)" ||
          fail "tls_client SNI: $(cat "$tmp/tc1.err")"; }
    $RUNNER "$dir/tls_client" "https://127.0.0.1:$sport/" >/dev/null 2>"$tmp/tc2.err" &&
        fail "tls_client trusted our CA without being told" ||
        { grep -q "Bad message" "$tmp/tc2.err" && pass "tls_client refuses an unknown CA: $(cat "$tmp/tc2.err")" ||
          fail "tls_client unknown CA: $(cat "$tmp/tc2.err")"; }
    kill $ss_pid 2>/dev/null
fi
if start_s_server "$tmp/self.pem" "$tmp/self.key"; then
    $RUNNER "$dir/tls_client" "https://localhost:$sport/" "$tmp/ca.pem" >/dev/null 2>"$tmp/tc3.err" &&
        fail "tls_client accepted a self-signed certificate" ||
        { grep -q "self-signed\|self signed" "$tmp/tc3.err" && pass "tls_client refuses self-signed: $(cat "$tmp/tc3.err")" ||
          fail "tls_client self-signed: $(cat "$tmp/tc3.err")"; }
    kill $ss_pid 2>/dev/null
fi

if [ $failed -ne 0 ]; then
    echo "examples_tls: $failed FAILED"
    exit 1
fi
echo "examples_tls: all passed"
