#!/usr/bin/env bash
# Builds the walkthrough's container image without a registry: a busybox root file system
# (Debian's busybox-static) as a tarball, imported with podman (docs/agent.md, "Walkthrough").
#   bash examples/agents/make-image.sh [IMAGE]     (default localhost/busybox-train:1)
set -euo pipefail
image="${1:-localhost/busybox-train:1}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin"
cp /bin/busybox "$root/bin/busybox"
for c in sh echo cat sleep env seq date; do ln -s busybox "$root/bin/$c"; done
tar -C "$root" -cf "$root.tar" .
podman import --quiet "$root.tar" "$image" >/dev/null
rm -f "$root.tar"
echo "$image"
