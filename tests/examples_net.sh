#!/bin/sh
# tests/examples_net.sh DIR — drive the example servers in DIR (built by `make examples`)
# with real clients from Debian: curl against http_server (one request, keep-alive
# reuse, HTTP/1.0 close), wrk (2 s, 100 connections, keep-alive: zero errors, non-zero
# requests), socat and nc against echo_server, echo_client against it, and a chat
# between two socat clients. Servers run under $RUNNER if set (qemu for cross builds).
# Each server binds port 0 and prints its port. Missing tools fail the run, naming
# the package to install.
set -u
dir=$1
slack=${COIO_TEST_SLACK:-1}
RUNNER=${RUNNER:-}

missing=""
for t in curl:curl socat:socat nc:netcat-openbsd wrk:wrk; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
done
if [ -n "$missing" ]; then
    echo "examples_net: FAILED: client tools missing; install them with: apt-get install$missing"
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
fail() { echo "examples_net: FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "examples_net: ok: $*"; }

# start NAME: run $dir/NAME in the background and set $port from its first line.
start() {
    $RUNNER "$dir/$1" 0 ${2:-} > "$tmp/$1.out" 2> "$tmp/$1.err" &
    pids="$pids $!"
    last_pid=$!
    i=0
    port=""
    while [ $i -lt $((50 * slack)) ]; do
        port=$(sed -n 's/^listening on .* port \([0-9]*\)$/\1/p' "$tmp/$1.out" 2>/dev/null)
        [ -n "$port" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "$1 did not start: $(cat "$tmp/$1.err")"
    return 1
}

# stop: SIGTERM the last server; it must exit 0 promptly.
stop() {
    kill -TERM "$last_pid" 2>/dev/null
    i=0
    while kill -0 "$last_pid" 2>/dev/null && [ $i -lt $((50 * slack)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$last_pid" 2>/dev/null; then
        fail "$1 ignored SIGTERM"
    elif wait "$last_pid"; then
        pass "$1 stopped cleanly on SIGTERM"
    else
        fail "$1 exited non-zero after SIGTERM: $(cat "$tmp/$1.err")"
    fi
}

# ---- HTTP ---------------------------------------------------------------------
if start http_server; then
    url="http://127.0.0.1:$port/"
    body=$(curl -s --max-time 10 "$url")
    [ "$body" = "Hello, world" ] && pass "curl GET -> '$body'" || fail "curl body: '$body'"
    # Two requests on one connection: curl reuses it (keep-alive).
    reuse=$(curl -s -v --max-time 10 "$url" "$url" 2>&1 | grep -c -i "re-using existing connection")
    [ "$reuse" -ge 1 ] && pass "curl keep-alive reuse" || fail "curl did not reuse the connection"
    # HTTP/1.0 without keep-alive: the server closes after the response.
    hdr=$(curl -s -0 -i --max-time 10 "$url" | tr -d '\r' | grep -i '^connection:')
    [ "$hdr" = "Connection: close" ] && pass "HTTP/1.0 closes" || fail "HTTP/1.0 header: '$hdr'"
    wrk -t2 -c100 -d2s "$url" > "$tmp/wrk.out" 2>&1
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$tmp/wrk.out")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
    if [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -q -e "Socket errors" -e "Non-2xx" "$tmp/wrk.out"; then
        pass "wrk 2 s, 100 connections: $reqs requests, 0 errors, $rps requests/s"
    else
        fail "wrk: $(cat "$tmp/wrk.out")"
    fi
    stop http_server
fi

# ---- echo ---------------------------------------------------------------------
if start echo_server; then
    out=$(printf 'hello\nworld\n' | socat -t 5 - "TCP:127.0.0.1:$port")
    [ "$out" = "$(printf 'hello\nworld')" ] && pass "socat echo" || fail "socat echo: '$out'"
    out=$(printf 'via nc\n' | nc -N -w 5 127.0.0.1 "$port")
    [ "$out" = "via nc" ] && pass "nc echo" || fail "nc echo: '$out'"
    out=$($RUNNER "$dir/echo_client" 127.0.0.1 "$port" one two three)
    [ "$out" = "$(printf 'one\ntwo\nthree')" ] && pass "echo_client" || fail "echo_client: '$out'"
    stop echo_server
fi

# ---- chat ---------------------------------------------------------------------
if start chat_server; then
    # B listens for a while; A joins once B is in and says something.
    (sleep $((3 * slack))) | socat -t 1 - "TCP:127.0.0.1:$port" > "$tmp/b.out" &
    b=$!
    i=0
    while ! grep -q "you are client" "$tmp/b.out" 2>/dev/null && [ $i -lt $((50 * slack)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    (printf 'hi all\n'; sleep 1) | socat -t 1 - "TCP:127.0.0.1:$port" > "$tmp/a.out"
    wait "$b"
    if grep -q "^client [0-9]*: hi all$" "$tmp/b.out" && ! grep -q "hi all" "$tmp/a.out"; then
        pass "chat broadcast: $(grep 'hi all' "$tmp/b.out")"
    else
        fail "chat: b got '$(cat "$tmp/b.out")', a got '$(cat "$tmp/a.out")'"
    fi
    stop chat_server
fi

# ---- file_server: sendfile (SF) ------------------------------------------------
# A 100 MiB file by curl (checksum compared), a 404, and a client that goes away
# part-way: the server reports how far it got and goes on serving.
mkdir "$tmp/files"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$tmp/files/big.bin"
printf 'small file\n' > "$tmp/files/small.txt"
if start file_server "$tmp/files"; then
    url="http://127.0.0.1:$port"
    curl -s --max-time $((60 * slack)) -o "$tmp/got.bin" "$url/big.bin"
    want=$(sha256sum < "$tmp/files/big.bin" | cut -d' ' -f1)
    got=$(sha256sum < "$tmp/got.bin" | cut -d' ' -f1)
    [ "$want" = "$got" ] && pass "curl 100 MiB via sendfile, sha256 matches" || fail "100 MiB file: sha256 $got, want $want"
    rm -f "$tmp/got.bin"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url/nope")
    [ "$code" = 404 ] && pass "missing file 404" || fail "missing file: HTTP $code"
    # 1 MiB/s for 1 s: the client leaves after about 1 MiB of 100.
    curl -s --limit-rate 1M --max-time 1 -o /dev/null "$url/big.bin"
    i=0
    while ! grep -q "sent" "$tmp/file_server.err" && [ $i -lt $((50 * slack)) ]; do
        sleep 0.1
        i=$((i + 1))
    done
    line=$(grep "GET /big.bin: sent" "$tmp/file_server.err")
    sent=$(echo "$line" | sed -n 's/.*sent \([0-9]*\) of \([0-9]*\) bytes.*/\1/p')
    if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" -lt $((100 * 1024 * 1024)) ]; then
        pass "client gone part-way reported: $line"
    else
        fail "client gone part-way: stderr '$(cat "$tmp/file_server.err")'"
    fi
    body=$(curl -s --max-time 10 "$url/small.txt")
    [ "$body" = "small file" ] && pass "still serving after that" || fail "after disconnect: '$body'"
    stop file_server
fi
rm -rf "$tmp/files"

# ---- udp_echo: datagrams (DG) ---------------------------------------------------
# socat and nc -u as clients, then udp_echo's own client: 10,000 numbered datagrams
# each way (at most 32 unanswered), every one back intact, none lost.
if start udp_echo; then
    out=$(printf 'hello\n' | socat -t 2 - "UDP:127.0.0.1:$port")
    [ "$out" = "hello" ] && pass "socat UDP echo" || fail "socat UDP echo: '$out'"
    out=$(printf 'via nc -u\n' | nc -u -w 2 127.0.0.1 "$port")
    [ "$out" = "via nc -u" ] && pass "nc -u echo" || fail "nc -u echo: '$out'"
    if out=$($RUNNER "$dir/udp_echo" -c 127.0.0.1 "$port" 10000); then
        pass "udp_echo -c: $out"
    else
        fail "udp_echo -c 10000: $out"
    fi
    stop udp_echo
fi

# ---- request_id: context variables (CV) ------------------------------------------
# Two connections at once; each log line, printed three calls deep, carries the id
# of its own connection.
if start request_id; then
    (printf 'alpha\nbeta\n'; sleep 1) | socat -t 1 - "TCP:127.0.0.1:$port" > "$tmp/rq1.out" &
    r1=$!
    (printf 'gamma\n'; sleep 1) | socat -t 1 - "TCP:127.0.0.1:$port" > "$tmp/rq2.out" &
    r2=$!
    wait "$r1" "$r2"
    ids_ok=1
    for w in alpha beta gamma; do
        grep -q "^\[conn-[12]\] handle > parse > log: got '$w'$" "$tmp/request_id.out" || ids_ok=0
    done
    a=$(sed -n "s/^\[\(conn-[12]\)\].*got 'alpha'$/\1/p" "$tmp/request_id.out")
    b=$(sed -n "s/^\[\(conn-[12]\)\].*got 'beta'$/\1/p" "$tmp/request_id.out")
    g=$(sed -n "s/^\[\(conn-[12]\)\].*got 'gamma'$/\1/p" "$tmp/request_id.out")
    if [ $ids_ok = 1 ] && [ "$a" = "$b" ] && [ "$a" != "$g" ] && grep -q "ok alpha" "$tmp/rq1.out"; then
        pass "request ids per connection: alpha/beta $a, gamma $g"
    else
        fail "request_id: $(cat "$tmp/request_id.out")"
    fi
    stop request_id
fi

# ---- shutdown with idle clients (SV3) -------------------------------------------
# Each server, with two idle clients connected (an HTTP keep-alive connection after
# one response; echo and chat clients that said nothing more), exits 0 within 1 s
# of SIGTERM and of SIGINT.
ms() { date +%s%N | cut -c1-13; }
idle_stop() { # NAME SIG GREETING-TO-SEND EXPECTED-IN-REPLY
    start "$1" || return
    # The clients' stdin is a FIFO the script holds open (fds 7 and 8): they stay
    # connected and silent until the server closes, and no sleeper outlives them.
    rm -f "$tmp/in1" "$tmp/in2"
    mkfifo "$tmp/in1" "$tmp/in2"
    socat -t 1 - "TCP:127.0.0.1:$port" < "$tmp/in1" > "$tmp/idle1.out" &
    idle1=$!
    socat -t 1 - "TCP:127.0.0.1:$port" < "$tmp/in2" > "$tmp/idle2.out" &
    idle2=$!
    exec 7> "$tmp/in1" 8> "$tmp/in2"
    printf "$3" >&7
    printf "$3" >&8
    i=0
    while ! { grep -q "$4" "$tmp/idle1.out" && grep -q "$4" "$tmp/idle2.out"; } 2>/dev/null &&
          [ $i -lt $((50 * slack)) ]; do
        sleep 0.05
        i=$((i + 1))
    done
    t0=$(ms)
    kill -"$2" "$last_pid" 2>/dev/null
    while kill -0 "$last_pid" 2>/dev/null && [ $(($(ms) - t0)) -lt $((5000 * slack)) ]; do
        sleep 0.02
    done
    dt=$(($(ms) - t0))
    if kill -0 "$last_pid" 2>/dev/null; then
        fail "$1 still running $dt ms after SIG$2 with idle clients"
        kill -KILL "$last_pid" 2>/dev/null
    elif ! wait "$last_pid"; then
        fail "$1 exited non-zero after SIG$2: $(cat "$tmp/$1.err")"
    elif [ "$dt" -gt $((1000 * slack)) ]; then
        fail "$1 took $dt ms to exit after SIG$2 with idle clients"
    else
        pass "$1 exits $dt ms after SIG$2 with 2 idle clients"
    fi
    exec 7>&- 8>&-
    kill "$idle1" "$idle2" 2>/dev/null
    wait "$idle1" "$idle2" 2>/dev/null
}
for sig in TERM INT; do
    idle_stop http_server $sig 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 'Hello, world'
    idle_stop echo_server $sig 'ping\n' 'ping'
    idle_stop chat_server $sig '' 'you are client'
    idle_stop file_server $sig 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 'Not Found'
done

if [ $failed -ne 0 ]; then
    echo "examples_net: $failed check(s) FAILED"
    exit 1
fi
echo "examples_net: all passed"
