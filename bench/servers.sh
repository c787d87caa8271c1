#!/bin/sh
# bench/servers.sh BUILD — the issue-13 measurements, each against its baseline in the
# same run, alternated 3 times (median reported):
#   datagrams/s: examples/udp_echo vs bench/udp_echo_raw (raw epoll), each server pinned
#   to CPU 0, the load client (udp_echo -c, 64-byte datagrams, window 64) on CPU 1;
#   sendfile: curl on CPU 1 downloading a 512 MiB file (page cache warm) from
#   examples/file_server vs bench/sendfile_raw (a plain sendfile(2) loop), servers on CPU 0.
set -u
b=${1:-build/x86_64-linux-gnu}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/udp_echo_raw" bench/udp_echo_raw.c
cc -O2 -o "$tmp/sendfile_raw" bench/sendfile_raw.c
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
port_of() { i=0; while [ $i -lt 50 ]; do p=$(sed -n 's/.* port \([0-9]*\)$/\1/p' "$1"); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.1; i=$((i+1)); done; }
med() { sort -n | sed -n 2p; }
udp_run() { # BIN -> datagrams/s
    taskset -c 0 "$@" > "$tmp/srv.out" 2>&1 &
    pid=$!
    p=$(port_of "$tmp/srv.out")
    taskset -c 1 "$b/examples/udp_echo" -c 127.0.0.1 "$p" 200000 64 64 | sed -n 's/.*, \([0-9]*\) datagrams\/s/\1/p'
    kill $pid; wait $pid 2>/dev/null
}
head -c $((512 * 1024 * 1024)) /dev/zero > "$tmp/big.bin"
cat "$tmp/big.bin" > /dev/null
sf_run() { # URLPATH BIN... -> bytes/s
    path=$1; shift
    taskset -c 0 "$@" > "$tmp/srv.out" 2>&1 &
    pid=$!
    p=$(port_of "$tmp/srv.out")
    taskset -c 1 curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$p/$path"
    kill $pid; wait $pid 2>/dev/null
}
: > "$tmp/u_coio"; : > "$tmp/u_raw"; : > "$tmp/s_coio"; : > "$tmp/s_raw"
for k in 1 2 3; do
    udp_run "$b/examples/udp_echo" 0 >> "$tmp/u_coio"
    udp_run "$tmp/udp_echo_raw" 0 >> "$tmp/u_raw"
    sf_run big.bin "$b/examples/file_server" 0 "$tmp" >> "$tmp/s_coio"
    sf_run big.bin "$tmp/sendfile_raw" 0 "$tmp/big.bin" >> "$tmp/s_raw"
done
uc=$(med < "$tmp/u_coio"); ur=$(med < "$tmp/u_raw")
sc=$(med < "$tmp/s_coio"); sr=$(med < "$tmp/s_raw")
echo "udp echo datagrams/s: coio $uc, raw epoll $ur, ratio $(echo "scale=3; $uc / $ur" | bc) (runs: $(tr '\n' ' ' < "$tmp/u_coio")/ $(tr '\n' ' ' < "$tmp/u_raw"))"
echo "sendfile MB/s (curl, 512 MiB): coio $(echo "$sc / 1000000" | bc), raw sendfile loop $(echo "$sr / 1000000" | bc), ratio $(echo "scale=3; $sc / $sr" | bc)"
