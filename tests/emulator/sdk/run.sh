#!/usr/bin/env bash
# emulator_sdk: installs the pinned skyflow-node (npm ci from package-lock.json) into WORKDIR,
# makes a throw-away CA, and runs sdk.test.cjs with `node --test` against skyflow-emulator.
#   run.sh EMULATOR_BIN WORKDIR
# No node, no npm or no registry is a failure, never a skip: CI reaches npm's registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${1:?usage: run.sh EMULATOR_BIN WORKDIR}
work=${2:?usage: run.sh EMULATOR_BIN WORKDIR}

fail() { echo "emulator_sdk: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (scripts/bootstrap installs nodejs)"
command -v npm >/dev/null || fail "npm is not installed (scripts/bootstrap installs npm)"
[[ -x $bin ]] || fail "no emulator at $bin"

mkdir -p "$work"
# npm ci only when the lock file changed since the last install in this build directory.
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" ||
	[[ ! -d $work/node_modules/skyflow-node ]]; then
	cp "$here/package.json" "$here/package-lock.json" "$work/"
	start=$(date +%s%N)
	# --ignore-scripts: nothing the SDK needs runs at install time
	if ! (cd "$work" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error); then
		rm -f "$work/package-lock.json"
		fail "npm ci failed: is https://registry.npmjs.org reachable? (this test needs it)"
	fi
	echo "emulator_sdk: npm ci took $((($(date +%s%N) - start) / 1000000)) ms"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/tests/tls/mkca.sh" "$tmp" >/dev/null 2>&1 || fail "tests/tls/mkca.sh failed"

export EMU_BIN=$bin EMU_TLS_DIR=$tmp EMU_DEMO_JSON=$root/tests/emulator/demo.json
export NODE_EXTRA_CA_CERTS=$tmp/ca.pem NODE_PATH=$work/node_modules
node --test --test-reporter=spec "$here/sdk.test.cjs"
