#!/bin/sh
# SPDX-License-Identifier: MIT
# npm-test.sh setup|test SRC WORK PACKAGE — the Node tests, for ctest (label node).
#
#   setup  copies client/node and examples/ from SRC into WORK (without node_modules and build
#          output, so the source tree stays clean and each build tree has its own), then
#          `npm ci` (from the committed package-lock.json) and `npm pack` (which builds) in
#          client/node, which the examples depend on; checks the tarball's layout; then
#          `npm ci` in each examples/* package.
#   test   `npm test` in WORK/PACKAGE.
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
	# the published layout: npm pack builds it (prepack), and the tarball holds the entry
	# point and the types that package.json's exports name
	(cd "$work/client/node" && npm pack --silent >/dev/null && tar -tzf skybroker-*.tgz >files.txt)
	for f in package/dist/index.js package/dist/index.d.ts package/package.json; do
		grep -qx "$f" "$work/client/node/files.txt" || { echo "npm-test: $f missing from npm pack" >&2; exit 1; }
	done
	! grep -q 'package/test/\|package/src/' "$work/client/node/files.txt" ||
		{ echo "npm-test: tests or sources in the npm package" >&2; exit 1; }
	# the examples' dependencies, in parallel (the registry's latency dominates)
	pids=
	for p in "$work"/examples/*/package-lock.json; do
		[ -f "$p" ] || continue
		ci "${p%/package-lock.json}" &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid" || exit 1
	done
	;;
test)
	[ -d "$work/$pkg" ] || { echo "npm-test: $work/$pkg missing: the setup test did not run" >&2; exit 1; }
	cd "$work/$pkg"
	npm test
	;;
*)
	echo "usage: $0 setup|test SRC WORK [PACKAGE]" >&2
	exit 2
	;;
esac
