#!/usr/bin/env bash
# Installs the Debian packages rigshift needs to build and test. Idempotent: a package that is
# already installed is left alone, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libfmt-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libpugixml-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  coinor-libclp-dev libsqlite3-dev libpq-dev postgresql
  slurm-wlm slurmctld slurmd slurm-client munge
  libboost-dev libssl-dev prometheus-cpp-dev libsodium-dev libyaml-cpp-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  podman runc bubblewrap busybox-static catatonit openssl
  chromium fonts-dejavu-core
  prometheus
)
# Node.js and npm for the web console (web/): Debian's, unless a Node.js with npm is already here
# (a nodesource build bundles npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
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

# The console's npm packages (uPlot; playwright-core for its browser test), at the versions of
# web/package-lock.json, when web/node_modules does not already hold exactly those.
npm_install() {
  local web
  web="$(cd "$(dirname "$0")/.." && pwd)/web"
  # Up to date when every package of the lock file is installed at its locked version.
  if node -e '
    const fs = require("fs"), lock = require(process.argv[1] + "/package-lock.json");
    for (const [path, p] of Object.entries(lock.packages)) {
      if (!path) continue;
      const f = process.argv[1] + "/" + path + "/package.json";
      if (!fs.existsSync(f) || require(f).version !== p.version) process.exit(1);
    }' "$web" 2>/dev/null; then
    echo "install-deps: web/node_modules is up to date"
    return
  fi
  echo "install-deps: npm ci in web/"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  npm_install
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
npm_install
