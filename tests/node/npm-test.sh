#!/bin/sh
# SPDX-License-Identifier: MIT
# npm-test.sh setup|test SRC WORK PACKAGE — the Node tests, for ctest (label node).
#
#   setup  copies client/node and examples/ from SRC into WORK (without node_modules and build
#          output, so the source tree stays clean and each build tree has its own), then
#          `npm ci` (from the committed package-lock.json) and `npm run build` in client/node,
#          which the examples depend on.
#   test   `npm ci` (when PACKAGE is not client/node) and `npm test` in WORK/PACKAGE.
#
# No node or npm, or no npm registry: the test fails, loudly; it is never skipped.
set -eu
mode=$1 src=$2 work=$3 pkg=${4:-client/node}

for tool in node npm; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "npm-test: '$tool' is missing: scripts/bootstrap installs Debian's nodejs and npm" >&2
		exit 1
	}
done
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

ci() { # npm ci in $1, with one clear line when it fails (the registry unreachable, mostly)
	(cd "$1" && npm ci --no-audit --no-fund --loglevel=error) || {
		echo "npm-test: 'npm ci' failed in $1: is the npm registry reachable?" >&2
		exit 1
	}
}

case "$mode" in
setup)
	rm -rf "$work"
	mkdir -p "$work"
	dirs=client/node
	[ -d "$src/examples" ] && dirs="$dirs examples"
	# shellcheck disable=SC2086
	(cd "$src" && tar -cf - --exclude=node_modules --exclude=dist --exclude=build \
		--exclude='*.tgz' $dirs) | (cd "$work" && tar -xf -)
	ci "$work/client/node"
	(cd "$work/client/node" && npm run --silent build)
	;;
test)
	[ -d "$work/$pkg" ] || { echo "npm-test: $work/$pkg missing: the setup test did not run" >&2; exit 1; }
	[ "$pkg" = client/node ] || ci "$work/$pkg"
	cd "$work/$pkg"
	npm test
	;;
*)
	echo "usage: $0 setup|test SRC WORK [PACKAGE]" >&2
	exit 2
	;;
esac
