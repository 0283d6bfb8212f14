// The oracle: an upper bound on the profit any policy can make on a scenario, computed with
// perfect foresight of prices and demand as a linear program over device classes and time,
// solved with COIN-OR CLP. docs/oracle.md states the LP and why it is a true upper bound.
//
// Each period is a block of the timeline (an hour, say). For every period the caller gives
// optimistic per-unit values (the best any instant of the period offers: the highest mining
// revenue, the lowest electricity price), the GPU-seconds each demand bucket asks for, and each
// site's power cap. The LP relaxes what binds real policies: leases may be split across devices
// and periods, gangs need not stay whole, miners restart for free. Periods share no variable, so
// the LP is solved period by period; the optimum equals that of the one big block-diagonal LP.
#pragma once

#include <cstdint>
#include <string>
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
};

struct OracleBucket {  // requests that share allowed classes and price
  std::string name;
  std::vector<int> classes;  // classes that may serve it: valid indices, each at most once
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
  // Per bucket: GPU-seconds demanded in this period (each request's GPUs x its overlap).
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
};

struct OracleInput {
  std::vector<std::string> site_names;
  std::vector<OracleClass> classes;
  std::vector<OracleBucket> buckets;
  std::vector<OraclePeriod> periods;
};

struct OracleResult {
  double profit_usd = 0;                  // the bound: ai_usd + mining_usd + idle_usd
  double ai_usd = 0;                      // its AI part (net of AI energy)
  double mining_usd = 0;                  // its mining part (net of mining energy)
  double idle_usd = 0;                    // what idle devices earn (nonzero only with idle_net_usd_per_s)
  std::vector<double> period_profit_usd;  // one per period, in input order
  int periods_solved = 0;                 // equals periods.size() on success
};

// Errors: InvalidArgument for inconsistent sizes, bad indices or negative/non-finite numbers
// (naming the period and vector, or the class or bucket); Internal for a solver failure (naming
// the period). About 60 us per period of 10 classes and 5 buckets (docs/oracle.md).
[[nodiscard]] Result<OracleResult> SolveOracle(const OracleInput& input);

}  // namespace rigshift
