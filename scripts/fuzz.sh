#!/usr/bin/env bash
# Fuzzes the API request parsers (fuzz/api_parse_fuzz.cc) for SECONDS (default 20).
#
#   scripts/fuzz.sh          # the short run `make test` does
#   scripts/fuzz.sh 3600     # the long run
#
# Builds build/fuzz with clang++-14 (libFuzzer + ASan + UBSan) when needed, runs the target over
# a copy of the seed corpus fuzz/corpus (the seeds stay as they are), and exits non-zero on any
# finding, leaving the input that found it in build/fuzz/artifacts/. Reproduce one with
#   build/fuzz/api_parse_fuzz build/fuzz/artifacts/crash-...
# Environment: FUZZ_CXX (default clang++-14), FUZZ_JOBS (build jobs, default 1).
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: scripts/fuzz.sh [SECONDS]  (a whole number of seconds, default 20)" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build/fuzz
cxx=${FUZZ_CXX:-clang++-14}
log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$log"' EXIT

# Configure once, rebuild when a source changed (ninja does nothing otherwise); quiet unless it fails.
if [[ ! -f $build/build.ninja ]]; then
  if ! cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >"$log" 2>&1; then
    cat "$log" >&2
    echo "fuzz.sh: configuring $build failed" >&2
    exit 1
  fi
fi
if ! cmake --build "$build" -j "${FUZZ_JOBS:-1}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "fuzz.sh: building $build failed" >&2
  exit 1
fi

mkdir -p "$work/corpus" "$build/artifacts"
cp "$root"/fuzz/corpus/* "$work/corpus/"

status=0
"$build/api_parse_fuzz" "$work/corpus" \
  -dict="$root/fuzz/api_parse.dict" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/artifacts/" >"$log" 2>&1 || status=$?

if ((status != 0)); then
  tail -n 60 "$log" >&2
  echo "fuzz.sh: FAILED (exit $status); the input is in $build/artifacts/" >&2
  exit "$status"
fi

# "#123456 DONE cov: 1234 ft: 5678 corp: 90/12Kb ..." and the final stats.
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$done_line")
echo "fuzz.sh: ok: ${seconds} s, ${execs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?}"
