# shellcheck shell=bash
# Sourced by tests/deploy/podman-kube.sh and tests/systemd/systemd-test.sh: the Skyflow and
# Descope emulator over TLS on the host's loopback, and service-account credentials it does
# not know (for rotation tests).

# sb_emulator_start BUILD SRC DIR: a CA in DIR/tls (world-readable: containers read ca.pem),
# the emulator's state in DIR/emulator; sets url, vault_id, project, emu_pid. Appends the pid
# to the caller's pids array.
sb_emulator_start() {
	local build=$1 src=$2 dir=$3 ready
	sh "$src/tests/tls/mkca.sh" "$dir/tls" >/dev/null
	chmod -R a+rX "$dir/tls"
	"$build/tests/emulator/skyflow-emulator" --config "$src/tests/emulator/demo.json" \
		--listen 127.0.0.1:0 --state-dir "$dir/emulator" --tls-cert "$dir/tls/server.pem" \
		--tls-key "$dir/tls/server.key" >"$dir/emulator.out" 2>"$dir/emulator.log" &
	emu_pid=$!
	pids+=("$emu_pid")
	for _ in $(seq 100); do grep -q '^ready ' "$dir/emulator.out" && break; sleep 0.1; done
	ready=$(grep '^ready ' "$dir/emulator.out") || { echo "the emulator did not start" >&2; return 1; }
	url=$(sed -n 's/.* url=\([^ ]*\).*/\1/p' <<<"$ready")
	vault_id=$(sed -n 's/.* vault_id=\([^ ]*\).*/\1/p' <<<"$ready")
	project=$(sed -n 's/.* project_id=\([^ ]*\).*/\1/p' <<<"$ready")
}

# sb_foreign_credentials DIR OUT: the emulator's credentials.json with keyID
# 0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld00 and a new RSA key the emulator does not know.
sb_foreign_credentials() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1/foreign.pem" 2>/dev/null
	python3 - "$1/emulator/credentials.json" "$1/foreign.pem" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["keyID"] = "0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld00"
c["privateKey"] = open(sys.argv[2]).read()
json.dump(c, open(sys.argv[3], "w"))
PY
	rm -f "$1/foreign.pem"
}

# sb_key_id FILE: the keyID of a credentials file.
sb_key_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keyID"])' "$1"; }

# sb_mint DIR SUB: a Descope session token for SUB (roles Viewer) on stdout.
sb_mint() {
	curl -sf --cacert "$1/tls/ca.pem" -X POST "$url/emulator/descope/token" \
		-H 'Content-Type: application/json' -d "{\"sub\":\"$2\",\"roles\":[\"Viewer\"]}" |
		python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["token"])'
}

# sb_fault DIR JSON: an emulator fault (delay, status...) for the next matching requests.
sb_fault() {
	curl -sf --cacert "$1/tls/ca.pem" -X POST "$url/emulator/faults" \
		-H 'Content-Type: application/json' -d "$2" >/dev/null
}
