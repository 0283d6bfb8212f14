#!/usr/bin/env bash
# Preemption latency with real agents (issue 9, item 5): request to running, when a lease lands
# on GPUs that mine. The real server and three `rigshift agent` processes with fake devices on
# loopback; each round creates a 2-GPU lease (the node's miner, rigshift-fake-miner, honours
# SIGTERM), waits until GET /v1/leases/{id} shows its workload running (the agent's report reached
# the controller), cancels it and waits until the node mines again.
#
#   bash bench/preemption_latency.sh [PLAIN_ROUNDS [CONTAINER_ROUNDS]]   (default 100 and 20)
#
# Prints p50/p99/max for plain commands and for Podman containers. Needs a release build
# (make test builds it) and podman (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
test_bin=build/release/tests/agent_e2e_test
if [ ! -x "$test_bin" ]; then
  echo "preemption_latency: $test_bin is missing: run 'make test' (or cmake --build --preset release) first" >&2
  exit 2
fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
RIGSHIFT_PREEMPT_ROUNDS="${1:-100}" RIGSHIFT_PREEMPT_CONTAINER_ROUNDS="${2:-20}" \
  "$test_bin" --gtest_filter='*A_EveryNode*:*C_Preemption*' | grep -E '^preemption|FAILED|PASSED'
