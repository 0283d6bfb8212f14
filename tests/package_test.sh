#!/usr/bin/env bash
# The Debian package, installed for real into a throwaway root: CPack builds the .deb, then a
# Podman container whose root is an overlay of this machine's (--rootfs /:O: every change is
# thrown away with it) runs dpkg -i, checks the rigshift user, the folders and their owners,
# systemd-analyze verify on both units (and that verify fails a broken unit, so the check can
# fail), starts the controller as the unit would, asks /healthz, and removes the package.
#
#   tests/package_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/rigshift-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
cpack -G DEB -B "$work/out" --config "$build/CPackConfig.cmake" >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  exit 1
}
deb=$(ls "$work"/out/rigshift_*.deb)
# (Read whole first: `dpkg-deb | grep -q` under pipefail fails when grep exits before dpkg-deb has
# written everything, which a long Depends line made happen now and then.)
info=$(dpkg-deb -I "$deb")
grep -q 'Depends: adduser, ' <<<"$info" || { echo "package_test: no Depends line in:" >&2; echo "$info" >&2; exit 1; }
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$work/inside.sh" <<'INSIDE'
set -eu
fail() { echo "package_test: $*" >&2; exit 1; }
dpkg -i /pkg/package.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i failed"; }
getent passwd rigshift >/dev/null || fail "no user rigshift"
[ "$(stat -c %U:%G:%a /var/lib/rigshift)" = "rigshift:rigshift:750" ] || fail "/var/lib/rigshift: $(stat -c %U:%G:%a /var/lib/rigshift)"
[ "$(stat -c %U:%G:%a /etc/rigshift/server.toml)" = "root:rigshift:640" ] || fail "server.toml: $(stat -c %U:%G:%a /etc/rigshift/server.toml)"
systemd-analyze verify /lib/systemd/system/rigshift-server.service /lib/systemd/system/rigshift-agent.service \
  || fail "systemd-analyze verify refused a unit"
printf '[Service]\nExecStart=/usr/bin/no-such-rigshift\n' >/tmp/broken.service
if systemd-analyze verify /tmp/broken.service >/dev/null 2>&1; then fail "verify passed a broken unit"; fi
# The controller as rigshift-server.service starts it (its ExecStart, as its user).
cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/rigshift-server.service)
su -s /bin/sh rigshift -c "exec $cmd --listen 127.0.0.1:0" >/tmp/server.log 2>&1 &
server=$!
for i in $(seq 1 100); do [ -s /var/lib/rigshift/server.url ] && break; sleep 0.1; done
[ -s /var/lib/rigshift/server.url ] || { cat /tmp/server.log; fail "the server did not start"; }
url=$(cat /var/lib/rigshift/server.url)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] || fail "no /healthz at $url"
[ "$(stat -c %U /var/lib/rigshift/rigshift.db)" = rigshift ] || fail "the store is not the user's"
kill "$server"
wait "$server" || true
dpkg -r rigshift >/dev/null 2>&1 || fail "dpkg -r failed"
[ ! -e /usr/bin/rigshift ] || fail "dpkg -r left /usr/bin/rigshift"
[ -e /etc/rigshift/server.toml ] || fail "dpkg -r (not purge) removed a conffile"
echo "package_test: installed, verified, started as rigshift, removed"
INSIDE
cp "$deb" "$work/package.deb"
CONTAINERS_CONF="$work/containers.conf" podman run --rm --network none -v "$work:/pkg:ro" --rootfs /:O \
  /bin/sh /pkg/inside.sh
