#!/usr/bin/env bash
# Writes the example simulation report (a synthetic year, 2,300 GPUs) and screenshots it with
# headless Chromium, to look at the report as a reader would.
#   tools/report_screenshot.sh [BUILD_DIR] [OUT_HTML] [OUT_PNG] [WIDTHxHEIGHT]
set -euo pipefail
build=${1:-build/helper-report}
html=${2:-/tmp/report.html}
png=${3:-/tmp/report.png}
size=${4:-1400,2400}
RIGSHIFT_REPORT_EXAMPLE="$html" "$build/src/sim/sim_test" --gtest_filter='ReportExample.*' >/dev/null
ls -l "$html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --disable-quic --disable-dev-shm-usage \
  --screenshot="$png" --window-size="$size" "file://$html" 2>/dev/null
ls -l "$png"
