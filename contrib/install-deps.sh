#!/bin/sh
# Installs what wsbridge needs on Debian 12, only what is missing.
#   contrib/install-deps.sh run    build and run
#   contrib/install-deps.sh test   build and run the whole test suite
set -eu
what=${1:-run}

build="autoconf automake libtool pkg-config make gcc libevent-dev libssl-dev
zlib1g-dev libncurses-dev libsqlite3-dev libnghttp2-dev libjansson-dev sqlite3
libsystemd-dev"
test_pkgs="libcmocka-dev clang python3 python3-websockets python3-wsproto
python3-h2 chromium firefox-esr tmux nghttp2-client procps haproxy systemd
prometheus"

pkgs=$build
[ "$what" = test ] && pkgs="$pkgs $test_pkgs"
# noVNC's pages, which test_static and test_novnc_chromium serve.
[ "$what" = test ] && pkgs="$pkgs novnc"

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
# Node may come from Debian or from another packager that bundles npm:
# ask for the commands, not the package names.
if [ "$what" = test ] && ! { command -v node && command -v npm; } >/dev/null; then
	missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$what" = test ]; then
	here=$(cd "$(dirname "$0")/.." && pwd)
	# Node peers (ws, playwright-core, puppeteer-core) at the versions the lock file pins.
	if [ ! -d "$here/tests/node_modules" ] ||
	    [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
		(cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
	fi
fi
