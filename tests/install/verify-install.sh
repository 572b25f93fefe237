#!/bin/sh
# SPDX-License-Identifier: MIT
# install_verify: `cmake --install` with --prefix /usr into a staging root (DESTDIR), then
# `systemd-analyze verify --root=` on the installed units, which must be clean (no output).
#
# Why DESTDIR and not `--prefix /tmp/x`: the units name /usr/sbin/skybrokerd and
# /etc/skybroker/skybroker.conf, so what --prefix /usr installs is what must be verified;
# DESTDIR puts that tree under a temporary root, and --root= makes systemd-analyze look
# for the executables, man pages and units there. Without a booted systemd, the staging root
# also needs what the units rely on but skybroker does not ship: the host's own unit files
# (sysinit.target, sockets.target, network-online.target ...) and /bin/kill (ExecReload=).
# Those are copied in; the man pages are found through MANPATH (verify runs man(1)).
#
# usage: verify-install.sh BUILD_DIR
set -eu

build=$1
root=$(mktemp -d /tmp/sb-install.XXXXXX)
trap 'rm -rf "$root"' EXIT

DESTDIR=$root cmake --install "$build" --prefix /usr >"$root.log" 2>&1 || {
	cat "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

fail=0
for f in usr/sbin/skybrokerd \
	usr/lib/systemd/system/skybroker.service \
	usr/lib/systemd/system/skybroker.socket \
	usr/lib/systemd/system/skybroker-admin.socket \
	usr/lib/sysusers.d/skybroker.conf \
	usr/lib/tmpfiles.d/skybroker.conf \
	usr/share/man/man8/skybrokerd.8 \
	usr/share/man/man5/skybroker.conf.5 \
	usr/share/doc/skybroker/examples/skybroker.conf; do
	[ -e "$root/$f" ] || { echo "install_verify: /$f was not installed" >&2; fail=1; }
done
[ -x "$root/usr/sbin/skybrokerd" ] || { echo "install_verify: skybrokerd not executable" >&2; fail=1; }
# what the service runs is what was installed
grep -q '^ExecStart=/usr/sbin/skybrokerd ' "$root/usr/lib/systemd/system/skybroker.service" || {
	echo "install_verify: ExecStart does not name /usr/sbin/skybrokerd" >&2; fail=1; }
# the installed example loads
"$root/usr/sbin/skybrokerd" --check-config \
	--config "$root/usr/share/doc/skybroker/examples/skybroker.conf" >/dev/null || {
	echo "install_verify: the installed example fails --check-config" >&2; fail=1; }
[ $fail -eq 0 ] || exit 1

# the rest of a system, which the units need and skybroker does not ship
mkdir -p "$root/lib/systemd/system" "$root/bin"
for u in /lib/systemd/system/*; do
	case ${u##*/} in skybroker*) continue ;; esac
	cp -a "$u" "$root/lib/systemd/system/"
done
cp /bin/kill "$root/bin/kill"

out=$(cd "$root" && MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" \
	skybroker.service skybroker.socket skybroker-admin.socket 2>&1) || {
	printf 'install_verify: systemd-analyze verify failed:\n%s\n' "$out" >&2; exit 1; }
if [ -n "$out" ]; then
	printf 'install_verify: systemd-analyze verify is not clean:\n%s\n' "$out" >&2
	exit 1
fi
echo "install_verify: installed tree and units verified clean"
