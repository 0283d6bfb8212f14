#!/usr/bin/env bash
# Replays a scenario with every policy, writes its HTML report and screenshots it with headless
# Chromium (apt-get install chromium), to look at the report as a reader would.
#   tools/report_screenshot.sh [SCENARIO] [OUT_HTML] [OUT_PNG] [WIDTH,HEIGHT]
set -euo pipefail
scenario=${1:-examples/scenario.toml}
html=${2:-/tmp/report.html}
png=${3:-/tmp/report.png}
size=${4:-1400,2400}
bin=${RIGSHIFT:-build/release/src/cli/rigshift}
"$bin" plan "$scenario" --report "$html" --quiet >/dev/null
ls -l "$html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --disable-quic --disable-dev-shm-usage \
  --screenshot="$png" --window-size="$size" "file://$(realpath "$html")" 2>/dev/null
ls -l "$png"
