#!/bin/sh
# mkca.sh DIR [EXTRA_SAN...] — makes a throw-away test CA and a server certificate for
# 127.0.0.1, ::1 and localhost in DIR, with the openssl CLI. For tests only.
#
#   DIR/ca.pem      CA certificate (give it to clients: curl --cacert, CURLOPT_CAINFO)
#   DIR/ca.key      CA private key
#   DIR/server.pem  server certificate (leaf), signed by the CA
#   DIR/server.key  server private key (PKCS#8, unencrypted, mode 0600)
#
# EXTRA_SAN arguments are added verbatim to subjectAltName, e.g. DNS:vault.test IP:10.0.0.1.
# Keys are EC P-256 (fast to make and to handshake with); certificates last 2 days.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [EXTRA_SAN...]" >&2
	exit 2
fi
dir=$1
shift
san="IP:127.0.0.1,IP:::1,DNS:localhost"
for extra in "$@"; do
	san="$san,$extra"
done

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d "$dir/.mkca.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 -subj "/CN=skybroker test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null

cat >"$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT

openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
	-CAcreateserial -out "$tmp/server.pem" -days 2 -extfile "$tmp/ext.cnf" 2>/dev/null

chmod 0644 "$tmp/ca.pem" "$tmp/server.pem"
for f in ca.key ca.pem server.key server.pem; do
	mv -f "$tmp/$f" "$dir/$f"
done
