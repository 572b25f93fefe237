#!/bin/sh
# Fails unless every symbol the shared library defines for others is skybroker_* (or its
# version node), and the SONAME carries the ABI version.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
	grep -vE '^(skybroker_[a-z0-9_]+|SKYBROKER_[0-9.]+)$' || true)
if [ -n "$bad" ]; then
	echo "symbols exported that are not skybroker_*:" >&2
	echo "$bad" >&2
	exit 1
fi
n=$(nm -D --defined-only "$lib" | grep -c ' T skybroker_')
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
case $soname in
libskybroker.so.[0-9]*) ;;
*) echo "SONAME '$soname' is not libskybroker.so.N" >&2; exit 1 ;;
esac
echo "$n functions exported, all skybroker_*; SONAME $soname"
