#!/usr/bin/env bash
# The Kubernetes sidecar deployment played with `podman kube play` (issue 14): the image built
# without a registry (deploy/container/build-image, base cached), the real manifest validated
# offline (deploy/kubernetes/check/validate.mjs), and a podman-playable Pod derived from it
# (deploy/kubernetes/check/podman-pod.mjs says how and why) run against the skyflow emulator.
# Checks: the broker admits the MCP container's uid (SO_PEERCRED across containers) and
# refuses a third container's; `skybroker health` passes in the broker and the MCP container;
# the Secret's kubelet-style ..data swap rotates the key (logged by key id, never the key) and
# a SIGHUP reload follows, while one connection keeps sending requests, none failing; the
# notify messages (READY, STATUS, WATCHDOG, RELOADING, STOPPING) arrive on a test socket.
#
# usage: tests/deploy/podman-kube.sh [BUILD_DIR]   (default build/default; run as root)
# Exit 77 (skipped) when podman cannot run here, with the reason; scripts/test fails on that
# in CI.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build/default}
. "$src/deploy/container/podman-env"
if ! why=$(sb_podman_usable); then
	echo "podman-kube: SKIPPED: $why"
	exit 77
fi
pass=0 fail=0
ok() { echo "  ok: $*"; pass=$((pass + 1)); }
bad() { echo "  FAILED: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
t0=$SECONDS

"$src/deploy/container/build-image"
(cd "$src/deploy/kubernetes/check" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node "$src/deploy/kubernetes/check/validate.mjs" "$src/deploy/kubernetes/base/deployment.yaml" \
	"$src"/deploy/kubernetes/*/kustomization.yaml "$src"/deploy/kubernetes/overlays/*/kustomization.yaml
# kustomize's rendering of each variant too, where kubectl is at hand (Debian has none, so CI
# checks the sources only)
if command -v kubectl >/dev/null; then
	for v in "$src"/deploy/kubernetes/overlays/*/; do
		kubectl kustomize "$v" | node "$src/deploy/kubernetes/check/validate.mjs" /dev/stdin
	done
else
	echo "podman-kube: no kubectl: the overlays' rendering is not checked"
fi

tmp=$(mktemp -d /tmp/sb-podman.XXXXXX)
chmod 0755 "$tmp"
pids=()
cleanup() {
	podman pod rm -f -t 2 skybroker-test >/dev/null 2>&1 || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
podman pod rm -f -t 2 skybroker-test >/dev/null 2>&1 || true

# --- the emulator (Skyflow + Descope) over TLS, on the host's loopback
. "$src/tests/deploy/emulator.sh"
sb_emulator_start "$build" "$src" "$tmp"

# --- the ConfigMap: the ctx overlay's [broker] section, a tenant pointing at the emulator
mkdir -m 0755 "$tmp/conf" "$tmp/sock" "$tmp/notify" "$tmp/secret"
chmod 0777 "$tmp/sock" "$tmp/notify" # what the kubelet makes of an emptyDir
sed '/^\[tenant\./,$d' "$src/deploy/kubernetes/overlays/ctx/skybroker.conf" >"$tmp/conf/skybroker.conf"
cat >>"$tmp/conf/skybroker.conf" <<CONF
[tenant.acme]
allow_uids = 10002, 10001
descope_project_id = $project
jwks_url = $url/$project/.well-known/jwks.json
exchange = ctx
context_claims = roles, sub
credentials_file = skyflow-sa.json
vault_url = $url
vault_id = $vault_id
ca_file = /etc/skybroker-test-tls/ca.pem
allow_tables = persons
allow_operations = exchange, get_records
CONF
chmod 0644 "$tmp/conf/skybroker.conf"

# --- the Secret, as the kubelet lays it out: NAME -> ..data/NAME, ..data -> ..<version>
secret_version() { # name file
	mkdir -m 0755 "$tmp/secret/..$1"
	install -m 0444 "$2" "$tmp/secret/..$1/skyflow-sa.json"
	ln -s "..$1" "$tmp/secret/..data_tmp"
	mv -T "$tmp/secret/..data_tmp" "$tmp/secret/..data"
}
sb_foreign_credentials "$tmp" "$tmp/old.json"
secret_version 2026_11_30_v1 "$tmp/old.json"
ln -s ..data/skyflow-sa.json "$tmp/secret/skyflow-sa.json"
new_kid=$(sb_key_id "$tmp/emulator/credentials.json")

# --- a notify socket for the broker (NOTIFY_SOCKET in the derived pod)
python3 - "$tmp/notify/notify.sock" "$tmp/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
PY
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/notify/notify.sock" ] && break; sleep 0.1; done

# --- the pod
node "$src/deploy/kubernetes/check/podman-pod.mjs" "$src/deploy/kubernetes/base/deployment.yaml" \
	"$tmp/pod.yaml" "$tmp/sock" "$tmp/conf" "$tmp/secret" "$tmp/tls" "$tmp/notify"
podman kube play --quiet "$tmp/pod.yaml" >/dev/null
B=skybroker-test-skybroker M=skybroker-test-mcp-server I=skybroker-test-intruder
up=0
for _ in $(seq 100); do
	podman exec $B skybroker health >/dev/null 2>&1 && { up=1; break; }
	sleep 0.2
done
[ $up = 1 ] || { podman logs $B 2>&1 | tail -20; echo "podman-kube: the broker never became healthy" >&2; exit 1; }
echo "podman-kube: pod up $((SECONDS - t0)) s after start"
check "skybroker health in the broker container (uid 10001)" podman exec $B skybroker health
check "skybroker health in the MCP container (uid 10002)" podman exec $M skybroker health
check "the intruder container (uid 10003) is refused" \
	sh -c "! podman exec $I skybroker health"
check "SO_PEERCRED saw the MCP container's uid 10002" \
	sh -c "podman logs $B 2>&1 | grep -q 'uid=10002'"
check "the intruder's uid 10003 was refused by admission" \
	sh -c "podman logs $B 2>&1 | grep -E 'uid=10003' | grep -qiE 'refus|not admitted|forbidden'"
check "READY=1 on the notify socket" grep -q 'READY=1' "$tmp/notify.log"

# --- rotation and reload under one connection that keeps sending requests
setpriv --reuid=10002 --regid=10002 --groups=10010 --inh-caps=-all \
	"$build/tests/deploy/holdconn" "$tmp/sock/skybroker.sock" "$tmp/stop" >"$tmp/holdconn.out" 2>&1 &
hold=$!
pids+=($hold)
sleep 1
secret_version 2026_11_30_v2 "$tmp/emulator/credentials.json"
for _ in $(seq 50); do podman logs $B 2>&1 | grep -q 'credentials rotated' && break; sleep 0.1; done
check "the ..data swap rotated the key (key id logged)" \
	sh -c "podman logs $B 2>&1 | grep -q 'credentials rotated: key id 0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld00 -> $new_kid'"
sleep 1
podman kill --signal HUP $B >/dev/null
for _ in $(seq 50); do grep -q 'RELOADING=1' "$tmp/notify.log" && break; sleep 0.1; done
sleep 2.5 # a WATCHDOG=1 at least (WATCHDOG_USEC 2 s)
touch "$tmp/stop"
if wait $hold; then ok "one connection across rotation and reload: $(cat "$tmp/holdconn.out")"
else bad "requests failed across rotation and reload: $(cat "$tmp/holdconn.out")"; fi
check "RELOADING=1 then READY=1 on the notify socket" \
	sh -c "grep -A100 RELOADING=1 '$tmp/notify.log' | grep -q READY=1"
check "WATCHDOG=1 on the notify socket" grep -q 'WATCHDOG=1' "$tmp/notify.log"
check "STATUS= on the notify socket" grep -q 'STATUS=' "$tmp/notify.log"
check "no private key in the broker's log" \
	sh -c "! podman logs $B 2>&1 | grep -qE 'PRIVATE KEY|MII'"
podman stop -t 10 $B >/dev/null
check "STOPPING=1 on the notify socket" grep -q 'STOPPING=1' "$tmp/notify.log"
check "skybrokerd exited 0 on SIGTERM" \
	sh -c "[ \"\$(podman inspect --format '{{.State.ExitCode}}' $B)\" = 0 ]"
echo "podman-kube: notify messages seen:"; sort -u "$tmp/notify.log" | cut -c1-100 | sed 's/^/    /'
echo "podman-kube: $pass passed, $fail failed ($((SECONDS - t0)) s)"
[ $fail = 0 ]
