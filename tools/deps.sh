#!/bin/sh
# tools/deps.sh check|bench — install the Debian/Ubuntu packages that
# `make check` or `make bench` needs (README "Quick start"). Works as root (a
# fresh Debian has no sudo) and as a user (through sudo).
set -e
case "$1" in
check) pkgs="build-essential check pkg-config curl socat netcat-openbsd wrk gdb libssl-dev openssl" ;;
bench) pkgs="build-essential g++ libboost-context-dev libuv1-dev golang-go python3 wrk libssl-dev openssl nginx-light" ;;
*)
    echo "usage: sh tools/deps.sh check|bench" >&2
    exit 2
    ;;
esac
if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "tools/deps.sh: not root and no sudo; as root run: apt-get update && apt-get install -y $pkgs" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh image has no package lists yet.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $pkgs
