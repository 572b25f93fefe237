#!/bin/sh
# build.sh BINARY_DIR WORK_DIR SOCKET: installs the build tree into WORK_DIR/prefix, builds
# hello.c with nothing but pkg-config against it, and runs it against the broker at SOCKET.
set -eu
bin=$1 work=$2 socket=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix
cmake --install "$bin" --prefix "$prefix" >"$work/install.log"
pc=$(find "$prefix" -name skybroker.pc)
[ -n "$pc" ] || { echo "no skybroker.pc installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs skybroker)
echo "pkg-config --cflags --libs skybroker: $flags"
# shellcheck disable=SC2086 # word splitting of the flags is meant
cc ${OUTSIDE_CFLAGS:-} -Wall -Wextra -Werror -o "$work/hello" "$here/hello.c" $flags
LD_LIBRARY_PATH=$(pkg-config --variable=libdir skybroker) "$work/hello" "$socket"
# what else the install put there
for f in bin/skybroker include/skybroker.h share/man/man1/skybroker.1 \
	share/man/man3/libskybroker.3; do
	[ -e "$prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
LD_LIBRARY_PATH=$(pkg-config --variable=libdir skybroker) "$prefix/bin/skybroker" ping --socket "$socket"
