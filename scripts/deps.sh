#!/bin/sh
# Installs the Debian 12 packages nginx-iothub needs to build, run and test,
# skipping what is installed already, and the pinned npm packages of the
# end-to-end tests.
#
#   scripts/deps.sh [run|test]     default: test (everything)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-test}

run_pkgs="nginx-core libnginx-mod-stream nginx-dev gcc make libc6-dev
          libssl-dev openssl libhiredis-dev libyajl-dev libqpid-proton11-dev
          redis-server"
test_pkgs="libtest-base-perl libcmocka-dev mosquitto-clients
           python3-qpid-proton clang libclang-rt-14-dev nodejs npm curl"

pkgs=$run_pkgs
[ "$what" = test ] && pkgs="$pkgs $test_pkgs"

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done

# node and npm may come from elsewhere than Debian: accept any on PATH
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed -e 's/ nodejs//' -e 's/ npm//')
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages:$missing; install them as root:" >&2
        echo "  apt-get install -y$missing" >&2
        exit 1
    fi

    echo "deps: installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# Debian's redis-server package starts a system instance; ours are private
# the pinned SDKs: again whenever package-lock.json changed since
lock=$top/t/e2e/package-lock.json
stamp=$top/t/e2e/node_modules/.iothub-lock.md5
if [ "$what" = test ] \
   && [ "$(cat "$stamp" 2>/dev/null)" != "$(md5sum < "$lock")" ]; then
    (cd "$top/t/e2e" && npm ci --no-audit --no-fund --loglevel=error)
    md5sum < "$lock" > "$stamp"
fi
