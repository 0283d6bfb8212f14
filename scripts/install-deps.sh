#!/usr/bin/env bash
# Installs the Debian packages rigshift needs to build and test. Idempotent: a package that is
# already installed is left alone, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libfmt-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libpugixml-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  coinor-libclp-dev libsqlite3-dev
  libboost-dev libssl-dev prometheus-cpp-dev libsodium-dev libyaml-cpp-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  podman runc bubblewrap busybox-static catatonit openssl
)
# `install-deps.sh bench` adds what the load benchmark (bench/server_load.sh) runs.
if [ "${1:-}" = "bench" ]; then
  packages+=(wrk nginx-light)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
