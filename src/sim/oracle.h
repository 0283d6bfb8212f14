// The oracle: an upper bound on the profit any policy can make on a scenario, computed with
// perfect foresight of prices and demand as a linear program over device classes and time,
// solved with COIN-OR CLP. docs/oracle.md states the LP and why it is a true upper bound.
//
// Each period is a block of the timeline (an hour, say). For every period the caller gives
// optimistic per-unit values (the best any instant of the period offers: the highest mining
// revenue, the lowest electricity price), the GPU-seconds each demand bucket asks for, and each
// site's power cap. The LP relaxes what binds real policies: leases may be split across devices
// and periods, gangs may be served in part, miners restart for free. Periods share no variable,
// so the LP is solved period by period; the optimum equals that of the one big block-diagonal LP.
//
// Gangs are not relaxed entirely: where a class says how its GPUs sit in nodes
// (OracleClass::nodes, gpus_per_node) and a bucket says how its gangs are placed
// (OracleBucket::gang, placement), the LP adds node-slot rows (NodeRows): a node of n GPUs holds
// at most k gangs larger than n/(k+1), and whole nodes taken by multi-node gangs hold none.
//
// For the simulator's BuildOracle:
//   - classes: nodes = the group's node count, gpus_per_node = its GPUs per node (devices must
//     then equal nodes x gpus_per_node); leave both 0 where unknown.
//   - buckets: gang = the requests' GPUs (a bucket's requests must all ask for the same number);
//     placement from Interconnect: kNode and kNvlink -> kOneNode (an NVLink domain lies inside
//     a node), kFabric -> kWholeNodes, kAny -> kAny. List only classes the gang may use: for
//     kOneNode those whose node holds the gang, for kWholeNodes also those whose GPUs per node
//     divide it.
//   - demand: AddJobDemand once per request (GPUs x copies), with its longest wait.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rigshift {

struct OracleClass {
  std::string name;
  int site = 0;         // index into OracleInput::site_names
  int64_t devices = 0;  // >= 0
  // Facility watts per device (PUE included), >= 0. For the bound to hold these must not exceed
  // the draw of any option the class's values cover (the lowest draw, if several algorithms).
  double mining_power_w = 0;  // per mining device
  double ai_power_w = 0;      // per AI device
  // How the devices sit in nodes: `nodes` identical nodes of `gpus_per_node` GPUs each, and then
  // devices == nodes x gpus_per_node. gpus_per_node = 0 means not known: nodes must be 0 too, and
  // the class gets no node rows (gangs on it are relaxed entirely, as before).
  int64_t nodes = 0;
  int gpus_per_node = 0;
};

// Where the GPUs of one gang (one request of OracleBucket::gang GPUs) must sit on a class of n
// GPUs per node. Classes whose gpus_per_node is 0 treat every placement as kAny.
enum class OraclePlacement {
  kAny,      // anywhere in the class: no node rows (the old behaviour)
  kOneNode,  // inside one node: gang <= n on every class the bucket lists
  // Inside one node where a node holds the gang (gang <= n), else on gang / n whole nodes of the
  // class that no other lease shares (gang must then be a multiple of n). A multi-node gang
  // stays inside one class. Interconnect::kFabric.
  kWholeNodes,
};

struct OracleBucket {  // requests that share allowed classes, price, gang size and placement
  std::string name;
  std::vector<int> classes;  // classes that may serve it: valid indices, each at most once
  int gang = 1;              // GPUs per request, >= 1 (1: no gang)
  OraclePlacement placement = OraclePlacement::kAny;
};

// A use beside mining and AI leases (docs/oracle.md, "Contracts and hosting"): one column per
// period, measured in units busy on average over the period (devices for a contract's share of a
// class, 0..1 for a hosted machine). A unit takes one device of `cls` (-1: none), draws `watts`
// at `site`, and counts `cover` (TH/s for a contract) in cover row `cover_row` (-1: none), whose
// right-hand side the period gives (OraclePeriod::cover_upper). At most `upper` units.
struct OracleUse {
  std::string name;
  int cls = -1;
  int site = 0;
  double watts = 0;
  int cover_row = -1;
  double cover = 0;
  double upper = 1e300;
};

// Every vector must have the size its comment gives and hold finite numbers; seconds, demand
// and caps must be nonnegative. A period of 0 seconds earns nothing.
struct OraclePeriod {
  int64_t seconds = 0;
  // Per class: the most one device can earn mining for one second at any instant of the period,
  // net of energy, in USD: the best over the algorithms it may mine of (highest revenue - its
  // draw x lowest price), which bounds every instant whatever the sign of the price. Negative
  // values are allowed: the LP then leaves it off.
  std::vector<double> mining_net_usd_per_s;
  // Per bucket: the most GPU-seconds any policy can serve in this period; fill it with
  // AddJobDemand (each request's GPUs x min(run, overlap of its waiting-and-running window)).
  std::vector<double> demand_gpu_s;
  // Per bucket and class, flattened as [bucket * classes.size() + class]: what one GPU-second of
  // the bucket earns on the class, net of AI energy, in USD (ignored where the bucket does not
  // allow the class).
  std::vector<double> ai_net_usd_per_gpu_s;
  // Optional, per class (empty: all zero): the most one powered device earning no revenue (idle,
  // or restarting a miner) can earn for one second, in USD. Only negative electricity prices make
  // it positive: its highest such draw x -(lowest price). Without it a policy that keeps GPUs
  // powered while power is paid for could beat the bound. That draw is not charged against the
  // cap (a relaxation: the bound stays valid).
  std::vector<double> idle_net_usd_per_s;
  // Per site: the cap in watts for this period (if it varies inside the period, its time
  // average or anything above it, such as its maximum).
  std::vector<double> site_cap_w;
  // Per OracleInput::uses (empty when there are none): what one unit earns per second, in USD.
  std::vector<double> use_usd_per_s;
  // Per cover row (OracleInput::cover_rows): the most the row may count this period (a
  // contract's TH/s while it is in force, 0 while suspended or outside its term).
  std::vector<double> cover_upper;
};

struct OracleInput {
  std::vector<std::string> site_names;
  std::vector<OracleClass> classes;
  std::vector<OracleBucket> buckets;
  std::vector<OraclePeriod> periods;
  // Periods are solved in blocks of `block_periods` consecutive ones (>= 1), coupled by one row
  // per bucket and block: what the block serves of the bucket is at most
  // block_demand_gpu_s[block][bucket] (each request's GPUs x min(run, what of its window lies in
  // the block): AddJobDemand fills it). A request that may wait counts in full in every period
  // its window touches (demand_gpu_s), but only once per block here. Empty: no block rows (each
  // period is bounded by its own demand only), and block_periods must be 1.
  int block_periods = 1;
  std::vector<std::vector<double>> block_demand_gpu_s;
  // Other uses (contracts' device columns, hosted machines) and their cover rows; and income no
  // policy's choices change, added to the bound as it is (contract sales less what the term's
  // days in force would refund with nothing delivered; hosting fees less every credit).
  std::vector<OracleUse> uses;
  int cover_rows = 0;
  double fixed_usd = 0;
};

struct OracleResult {
  double profit_usd = 0;                  // the bound: ai_usd + mining_usd + idle_usd + uses_usd + fixed_usd
  double ai_usd = 0;                      // its AI part (net of AI energy)
  double mining_usd = 0;                  // its mining part (net of mining energy)
  double idle_usd = 0;                    // what idle devices earn (nonzero only with idle_net_usd_per_s)
  std::vector<double> period_profit_usd;  // one per period, in input order
  int periods_solved = 0;                 // equals periods.size() on success
  double uses_usd = 0;                    // the other uses' columns (contracts, hosting), and...
  double fixed_usd = 0;                   // ...OracleInput::fixed_usd; both in profit_usd
};

// One request, as AddJobDemand counts it.
struct OracleJob {
  int bucket = 0;          // index into OracleInput::buckets
  int64_t arrival_s = 0;   // when it arrives (seconds, the timeline's clock)
  int64_t max_wait_s = 0;  // the longest it may wait before it starts, >= 0 (0: now or never)
  int64_t run_s = 0;       // how long it runs once started, >= 0
  double gpus = 0;         // its GPUs x the copies of it, >= 0
};

// Adds one request's demand to `periods`, the timeline [start_s, end_s) cut into periods of
// period_s seconds (period p is [start_s + p x period_s, that + period_s), the last one cut at
// end_s). A request that starts at all starts within [arrival, arrival + max_wait] and runs at
// most run_s seconds without a break, and nothing runs past end_s; so inside period p it holds
// its GPUs at most min(run_s, overlap of [arrival, arrival + max_wait + run) with p and with
// [start_s, end_s)) seconds. That, times `gpus`, is added to periods[p].demand_gpu_s[bucket].
// Summed over the periods this exceeds gpus x run_s by at most gpus x max_wait_s (the LP's
// periods are independent, so the request may count for its whole run in more than one).
// Preconditions (checked; a broken one aborts): period_s > 0, start_s <= end_s, run_s >= 0,
// max_wait_s >= 0, gpus >= 0, and every period the window touches exists in `periods` with a
// demand_gpu_s entry for the bucket.
void AddJobDemand(const OracleJob& job, int64_t start_s, int64_t end_s, int64_t period_s,
                  std::vector<OraclePeriod>& periods);
// As above, and adds gpus x min(run_s, what of the window lies in block k) to
// blocks[k][bucket] for every block of `block_periods` periods the window touches.
void AddJobDemand(const OracleJob& job, int64_t start_s, int64_t end_s, int64_t period_s, int block_periods,
                  std::vector<OraclePeriod>& periods, std::vector<std::vector<double>>& blocks);

// One node or class row of the LP, in its scaled units (a column is the average number of the
// bucket's GPUs busy on the class over the period):
//   sum over terms (bucket b, coefficient w):  w x a_b  <=  max_gangs
// Node rows: a node of n GPUs holds at most k one-node gangs each larger than n/(k+1), and none
// on a node that a multi-node gang takes; so over the class's N nodes, at most k x N of them at
// any instant (terms: 1/gang for those one-node buckets, k/n for whole-node buckets).
// Class rows: the class's N nodes hold at most k multi-node gangs each of more than N/(k+1)
// nodes (k may be 0: a gang of more nodes than the class has never runs there).
struct OracleNodeRow {
  int cls = 0;           // the class it counts
  bool per_node = true;  // a node row; false: a class row
  int slots = 0;         // k
  double max_gangs = 0;  // the right-hand side: k x N for a node row, k for a class row
  // (bucket, coefficient), in bucket order; each bucket lists cls.
  std::vector<std::pair<int, double>> terms;
  // What it says, e.g. "class 0 (A): a node of 8 GPUs holds at most 1 gang of 5..8 GPUs".
  std::string what;
};

// The node rows SolveOracle(input) adds: only those that can bind. A row is implied by the
// class's capacity row unless some one-node gang size g in it has floor(n/g) = k and g does
// not divide n (respectively a multi-node gang of m nodes with floor(N/m) = k and m not
// dividing N); docs/oracle.md proves both. Power-of-two gangs on nodes of 8 GPUs need none.
// Errors: as SolveOracle's validation of the classes and buckets.
[[nodiscard]] Result<std::vector<OracleNodeRow>> NodeRows(const OracleInput& input);

// Errors: InvalidArgument for inconsistent sizes, bad indices or negative/non-finite numbers
// (naming the period and vector, or the class or bucket), or a gang its placement does not
// allow on a class it lists; Internal for a solver failure (naming the period). About 60 us per
// period of 10 classes and 5 buckets (docs/oracle.md).
[[nodiscard]] Result<OracleResult> SolveOracle(const OracleInput& input);

// SolveOracle with `node_rows` in place of NodeRows(input): {} prices what the rows are worth
// (the program without them), and tests try rows that are too tight. Rows are checked for
// shape (class and bucket indices, the bucket lists the class, finite coefficients, a
// nonnegative right-hand side), not for being valid bounds.
[[nodiscard]] Result<OracleResult> SolveOracle(const OracleInput& input,
                                               const std::vector<OracleNodeRow>& node_rows);

}  // namespace rigshift
