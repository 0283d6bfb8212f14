#!/bin/bash
# The training farm (examples/training-farm.toml) on one ITP 2021 cluster at a time, each scaled
# by the rule of docs/scenario.md ("Choosing the scale of a training trace": the average GPUs
# its jobs of 5+ GPUs keep busy at about 70 % of the 192 HGX GPUs). Prints, per cluster, each
# policy's share of the oracle's bound, the gang p99 waits of profit and easy-backfill, and the
# plain LP beside the bound.
#
#   bash bench/training_heldout.sh [RIGSHIFT_BINARY] [DATA_DIR]     (after `rigshift data import`)
set -euo pipefail
bin=${1:-build/release/src/cli/rigshift}
data=${2:-data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pair in cluster04:0.272 cluster07:0.709 cluster06:1.569 cluster03:0.908 cluster02:2.338; do
  cluster=${pair%%:*}
  scale=${pair##*:}
  sed "s/^scale = 0.15$/scale = $scale\ntenants = [\"$cluster\"]/" examples/training-farm.toml > "$tmp/$cluster.toml"
  "$bin" plan "$tmp/$cluster.toml" --data "$data" --quiet --format json | python3 -c "
import json, sys
d = json.load(sys.stdin)
bound = d['oracle_profit_usd']
by = {p['name']: p for p in d['policies']}
shares = ' '.join('%s %.1f%%' % (n, 100 * p['profit_usd'] / bound) for n, p in by.items())
waits = 'gang p99 profit %d min, easy-backfill %d min' % (by['profit']['gangs']['gang_wait_p99_s'] // 60,
                                                           by['easy-backfill']['gangs']['gang_wait_p99_s'] // 60)
print('$cluster scale $scale |', shares, '|', waits, '| plain LP %.0f, bound %.0f' % (d['oracle']['plain_lp_usd'], bound))
"
done
