#!/bin/sh
# bench/nginx_server.sh plain|tls [CERT KEY] PORT — nginx as W7's peer: one worker
# process, keep-alive, `return 200 "hello"`, no access log; tls: TLS 1.3 only over
# CERT/KEY (what examples/https_server is given). PORT 0 picks a free one (tried
# from a random start until nginx binds). Prints "listening on 127.0.0.1 port N",
# then waits; SIGTERM/SIGINT stop nginx. Its files live in a temporary directory.
mode=$1
shift
cert="" key=""
if [ "$mode" = tls ]; then
    cert=$1 key=$2
    shift 2
fi
want=${1:-0}
command -v nginx >/dev/null 2>&1 || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
dir=$(mktemp -d)
pid=""
stop() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
    exit 0
}
trap stop TERM INT EXIT
port=$want
[ "$port" = 0 ] && port=$((30000 + $$ % 20000))
tries=0
while [ $tries -lt 30 ]; do
    if [ "$mode" = tls ]; then
        listen="listen 127.0.0.1:$port ssl;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.3;"
    else
        listen="listen 127.0.0.1:$port;"
    fi
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        $listen
        location / { return 200 "hello"; }
    }
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/start.err" &
    pid=$!
    n=0
    while [ $n -lt 40 ] && kill -0 $pid 2>/dev/null && ! [ -s "$dir/nginx.pid" ]; do
        sleep 0.05
        n=$((n + 1))
    done
    sleep 0.1
    if kill -0 $pid 2>/dev/null; then
        echo "listening on 127.0.0.1 port $port"
        wait $pid
        pid=""
        stop
    fi
    pid=""
    [ "$want" != 0 ] && break
    port=$((port + 1))
    tries=$((tries + 1))
done
echo "nginx did not start: $(tail -n 3 "$dir/start.err" "$dir/error.log" 2>/dev/null)" >&2
exit 1
