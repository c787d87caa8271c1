#!/bin/sh
# bench/peers/build.sh OUT — build the peer programs whose toolchains are
# installed into OUT, say which were skipped, and print the one command that
# installs what is missing. Never fails: a missing peer only drops its rows.
out=$1
cc=${CC:-cc}
cxx=${CXX:-c++}
src=bench/peers
mkdir -p "$out"
skipped=""
pkgs=""

skip() { # name "reason" packages...
    name=$1 why=$2
    shift 2
    skipped="$skipped
  $name: $why"
    pkgs="$pkgs $*"
}

# compile NAME OUTFILE CMD...: run CMD unless OUTFILE is newer than its sources.
compile() {
    name=$1 target=$2
    shift 2
    if [ -x "$target" ] && [ -z "$(find "$src" -newer "$target" -name "$name.*" 2>/dev/null)" ] &&
       [ ! bench/bench.h -nt "$target" ]; then
        return 0
    fi
    echo "  building $name"
    if ! "$@" 2>"$out/$name.log"; then
        rm -f "$target"
        skip "$name" "build failed, see $out/$name.log"
    fi
}

has_header() { # compiler lang header
    printf '#include <%s>\n' "$3" | $1 -x "$2" -E - >/dev/null 2>&1
}

echo "bench: building peers in $out"
if has_header "$cc" c sys/epoll.h; then
    compile echo_epoll "$out/echo_epoll" $cc -O2 -o "$out/echo_epoll" $src/echo_epoll.c
    compile http_epoll "$out/http_epoll" $cc -O2 -o "$out/http_epoll" $src/http_epoll.c
else
    skip epoll "no <sys/epoll.h> (Linux only)"
fi

if has_header "$cc" c ucontext.h; then
    compile ucontext_switch "$out/ucontext_switch" \
        $cc -O2 -Ibench -o "$out/ucontext_switch" $src/ucontext_switch.c
else
    skip ucontext "no <ucontext.h>" libc6-dev
fi

if ! command -v "$cxx" >/dev/null 2>&1; then
    skip fcontext "no C++ compiler ($cxx)" g++ libboost-context-dev
elif ! has_header "$cxx" c++ boost/context/detail/fcontext.hpp; then
    skip fcontext "Boost.Context headers missing" libboost-context-dev
else
    compile fcontext_switch "$out/fcontext_switch" \
        $cxx -O2 -Ibench -o "$out/fcontext_switch" $src/fcontext_switch.cpp -lboost_context
fi

if has_header "$cc" c uv.h; then
    compile uv_bench "$out/uv_bench" $cc -O2 -Ibench -o "$out/uv_bench" $src/uv_bench.c -luv
else
    skip libuv "libuv headers missing" libuv1-dev
fi

if command -v go >/dev/null 2>&1; then
    # Standard library only: no module, no network. go needs a build cache.
    [ -n "${GOCACHE:-}${HOME:-}${XDG_CACHE_HOME:-}" ] || { GOCACHE=$(pwd)/$out/.gocache; export GOCACHE; }
    compile go_bench "$out/go_bench" env GO111MODULE=off GOFLAGS= \
        go build -o "$out/go_bench" $src/go_bench.go
else
    skip go "no go toolchain" golang-go
fi

# Python: prefer the system interpreter (a pyenv shim may point elsewhere).
py=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import asyncio' 2>/dev/null; then
        py=$(command -v "$p")
        break
    fi
done
if [ -n "$py" ]; then
    # exec keeps the pid, so run.sh can stop the echo server by it.
    printf '#!/bin/sh\nexec %s %s/%s/asyncio_bench.py "$@"\n' "$py" "$(pwd)" "$src" >"$out/asyncio_bench"
    chmod +x "$out/asyncio_bench"
else
    rm -f "$out/asyncio_bench"
    skip asyncio "no python3" python3
fi

# W7's load generator (not a peer, but its absence drops the whole workload).
command -v wrk >/dev/null 2>&1 || skip "W7 HTTP" "no wrk (the load generator)" wrk

if [ -n "$skipped" ]; then
    echo "bench: peers skipped:$skipped"
    pkgs=$(echo $pkgs | tr ' ' '\n' | sort -u | tr '\n' ' ')
    [ -n "${pkgs% }" ] && echo "bench: to run them all: apt-get install -y ${pkgs% }"
fi
exit 0
