#!/bin/sh
# Runs as the container's command, before systemd: installs what the test staged in /stage
# (the `cmake --install` tree, the configuration, the test users), creates the users
# (systemd-sysusers), enables the socket units, then makes / rshared (without it the service's
# mount namespace shows an empty $CREDENTIALS_DIRECTORY and PrivateTmp= misbehaves) and execs
# systemd as PID 1.
set -eu
cp -a /stage/root/. /
systemd-sysusers
systemd-tmpfiles --create /usr/lib/tmpfiles.d/skybroker.conf
install -o skybroker -g skybroker -m 0400 /stage/credentials.json \
	/etc/skybroker/credentials/skyflow-sa.json
chown root:skybroker /etc/skybroker/skybroker.conf
chmod 0640 /etc/skybroker/skybroker.conf
systemctl enable skybroker.socket skybroker-admin.socket >/dev/null 2>&1
mount --make-rshared /
exec /sbin/init
