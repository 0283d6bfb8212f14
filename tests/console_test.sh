#!/usr/bin/env bash
# The web console in a real browser: imports the public data, then runs web/test/console_test.mjs,
# which starts `rigshift server --demo` and drives Debian's Chromium through playwright-core as a
# tenant and as the operator. Run by ctest (tests/CMakeLists.txt) and by `make screenshots`, which
# sets SCREENSHOTS=docs/console to write a screenshot of each main view there.
#
#   tests/console_test.sh BIN SHARED_DATA
set -euo pipefail
bin=$1
shared=$2
repo="$(cd "$(dirname "$0")/.." && pwd)"
for need in /usr/bin/chromium "$repo/web/node_modules/playwright-core"; do
  if [ ! -e "$need" ]; then
    echo "console_test: $need is missing: run scripts/install-deps.sh (make deps)" >&2
    exit 1
  fi
done
work=$(mktemp -d /tmp/rigshift-console.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! "$bin" data import --source "$shared" --out "$work/data" >"$work/import.log" 2>&1; then
  cat "$work/import.log" >&2
  exit 1
fi
# From the repository root, so that the demo's plan view offers examples/*.toml.
cd "$repo"
args=(--bin "$bin" --data "$work/data" --farm "$repo/examples/demo-farm.toml" --work "$work/run")
if [ -n "${SCREENSHOTS:-}" ]; then
  mkdir -p "$SCREENSHOTS"
  args+=(--screenshots "$(cd "$SCREENSHOTS" && pwd)")
fi
exec node "$repo/web/test/console_test.mjs" "${args[@]}"
