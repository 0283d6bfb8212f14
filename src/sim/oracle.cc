#include "sim/oracle.h"

#include <fmt/format.h>

#include <ClpSimplex.hpp>
#include <CoinError.hpp>
#include <cmath>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>

namespace rigshift {
namespace {

// ---- Validation -------------------------------------------------------------------------------

Status CheckSize(size_t period, std::string_view field, size_t got, size_t want, std::string_view per) {
  if (got == want) return OkStatus();
  return InvalidArgumentError(
      fmt::format("oracle: period {}: {} has {} values, want {} ({})", period, field, got, want, per));
}

Status CheckValue(size_t period, std::string_view field, size_t i, double v, bool nonnegative) {
  if (!std::isfinite(v)) {
    return InvalidArgumentError(fmt::format("oracle: period {}: {}[{}] is not finite", period, field, i));
  }
  if (nonnegative && v < 0) {
    return InvalidArgumentError(
        fmt::format("oracle: period {}: {}[{}] = {} is negative", period, field, i, v));
  }
  return OkStatus();
}

Status ValidateShape(const OracleInput& in) {
  const size_t num_sites = in.site_names.size();
  for (size_t c = 0; c < in.classes.size(); ++c) {
    const OracleClass& k = in.classes[c];
    if (k.site < 0 || static_cast<size_t>(k.site) >= num_sites) {
      return InvalidArgumentError(fmt::format(
          "oracle: class {} ({}): site {} is not an index into the {} sites", c, k.name, k.site, num_sites));
    }
    if (k.devices < 0) {
      return InvalidArgumentError(
          fmt::format("oracle: class {} ({}): devices = {} is negative", c, k.name, k.devices));
    }
    if (!std::isfinite(k.mining_power_w) || k.mining_power_w < 0 || !std::isfinite(k.ai_power_w) ||
        k.ai_power_w < 0) {
      return InvalidArgumentError(
          fmt::format("oracle: class {} ({}): mining_power_w {} and ai_power_w {} must be "
                      "finite and nonnegative",
                      c, k.name, k.mining_power_w, k.ai_power_w));
    }
  }
  for (size_t b = 0; b < in.buckets.size(); ++b) {
    const OracleBucket& bucket = in.buckets[b];
    std::vector<bool> seen(in.classes.size(), false);
    for (int c : bucket.classes) {
      if (c < 0 || static_cast<size_t>(c) >= in.classes.size()) {
        return InvalidArgumentError(
            fmt::format("oracle: bucket {} ({}): class {} is not an index into the {} classes", b,
                        bucket.name, c, in.classes.size()));
      }
      if (seen[static_cast<size_t>(c)]) {
        return InvalidArgumentError(
            fmt::format("oracle: bucket {} ({}): class {} is listed twice", b, bucket.name, c));
      }
      seen[static_cast<size_t>(c)] = true;
    }
  }
  return OkStatus();
}

Status ValidatePeriod(const OracleInput& in, size_t p) {
  const OraclePeriod& period = in.periods[p];
  const size_t nc = in.classes.size(), nb = in.buckets.size(), ns = in.site_names.size();
  if (period.seconds < 0) {
    return InvalidArgumentError(
        fmt::format("oracle: period {}: seconds = {} is negative", p, period.seconds));
  }
  RS_RETURN_IF_ERROR(
      CheckSize(p, "mining_net_usd_per_s", period.mining_net_usd_per_s.size(), nc, "one per class"));
  RS_RETURN_IF_ERROR(CheckSize(p, "demand_gpu_s", period.demand_gpu_s.size(), nb, "one per bucket"));
  RS_RETURN_IF_ERROR(
      CheckSize(p, "ai_net_usd_per_gpu_s", period.ai_net_usd_per_gpu_s.size(), nb * nc, "buckets x classes"));
  RS_RETURN_IF_ERROR(CheckSize(p, "site_cap_w", period.site_cap_w.size(), ns, "one per site"));
  if (!period.idle_net_usd_per_s.empty()) {
    RS_RETURN_IF_ERROR(
        CheckSize(p, "idle_net_usd_per_s", period.idle_net_usd_per_s.size(), nc, "one per class, or none"));
  }
  for (size_t c = 0; c < nc; ++c) {
    RS_RETURN_IF_ERROR(CheckValue(p, "mining_net_usd_per_s", c, period.mining_net_usd_per_s[c], false));
    if (!period.idle_net_usd_per_s.empty()) {
      RS_RETURN_IF_ERROR(CheckValue(p, "idle_net_usd_per_s", c, period.idle_net_usd_per_s[c], false));
    }
  }
  for (size_t b = 0; b < nb; ++b) {
    RS_RETURN_IF_ERROR(CheckValue(p, "demand_gpu_s", b, period.demand_gpu_s[b], true));
    // Entries for classes the bucket does not allow are ignored, so they may hold anything.
    for (int c : in.buckets[b].classes) {
      const size_t i = b * nc + static_cast<size_t>(c);
      RS_RETURN_IF_ERROR(CheckValue(p, "ai_net_usd_per_gpu_s", i, period.ai_net_usd_per_gpu_s[i], false));
    }
  }
  for (size_t s = 0; s < ns; ++s) {
    RS_RETURN_IF_ERROR(CheckValue(p, "site_cap_w", s, period.site_cap_w[s], true));
  }
  return OkStatus();
}

// ---- The per-period LP --------------------------------------------------------------------------
//
// Variables are measured in devices busy on average over the period (device-seconds / T), not in
// device-seconds: the capacity rows then have the class's device count as right-hand side, power
// rows have the cap in watts, and the matrix does not depend on the period at all. Only the
// objective (value per second x T) and the demand and power right-hand sides change from one
// period to the next, so one ClpSimplex is built once and re-solved from the previous optimal
// basis, which is often still optimal, or a pivot away, when values drift slowly from hour to hour.
//
// Columns: [0, C) mining on class c; then one per (bucket, allowed class), in bucket order; then,
// only when some period gives idle values, [idle_col_, idle_col_ + C) idle on class c.
// Rows: [0, C) capacity of class c; [C, C+B) demand of bucket b; [C+B, C+B+S) power of site s.

struct PeriodValue {
  double ai_usd = 0;
  double mining_usd = 0;
  double idle_usd = 0;
};

class PeriodLp {
 public:
  explicit PeriodLp(const OracleInput& in)
      : nc_(static_cast<int>(in.classes.size())), nb_(static_cast<int>(in.buckets.size())) {
    const int ns = static_cast<int>(in.site_names.size());
    for (int b = 0; b < nb_; ++b) {
      for (int c : in.buckets[static_cast<size_t>(b)].classes) {
        ai_bucket_.push_back(b);
        ai_class_.push_back(c);
      }
    }
    const int num_rows = nc_ + nb_ + ns;
    std::vector<CoinBigIndex> start = {0};
    std::vector<int> index;
    std::vector<double> value;
    auto add_column = [&](int c, int demand_row, double watts) {
      index.push_back(c);
      value.push_back(1.0);
      if (demand_row >= 0) {
        index.push_back(demand_row);
        value.push_back(1.0);
      }
      if (watts > 0) {
        index.push_back(nc_ + nb_ + in.classes[static_cast<size_t>(c)].site);
        value.push_back(watts);
      }
      start.push_back(static_cast<CoinBigIndex>(index.size()));
    };
    for (int c = 0; c < nc_; ++c) add_column(c, -1, in.classes[static_cast<size_t>(c)].mining_power_w);
    for (size_t j = 0; j < ai_bucket_.size(); ++j) {
      add_column(ai_class_[j], nc_ + ai_bucket_[j], in.classes[static_cast<size_t>(ai_class_[j])].ai_power_w);
    }
    idle_col_ = static_cast<int>(start.size()) - 1;
    for (const OraclePeriod& p : in.periods) has_idle_ = has_idle_ || !p.idle_net_usd_per_s.empty();
    if (has_idle_) {
      for (int c = 0; c < nc_; ++c) add_column(c, -1, 0);
    }
    const int num_cols = static_cast<int>(start.size()) - 1;
    std::vector<double> col_lower(static_cast<size_t>(num_cols), 0.0);
    std::vector<double> col_upper(static_cast<size_t>(num_cols), COIN_DBL_MAX);
    std::vector<double> objective(static_cast<size_t>(num_cols), 0.0);
    std::vector<double> row_lower(static_cast<size_t>(num_rows), -COIN_DBL_MAX);
    std::vector<double> row_upper(static_cast<size_t>(num_rows), 0.0);
    for (int c = 0; c < nc_; ++c)
      row_upper[static_cast<size_t>(c)] = static_cast<double>(in.classes[c].devices);
    model_.setLogLevel(0);
    model_.messageHandler()->setLogLevel(0);
    model_.loadProblem(num_cols, num_rows, start.data(), index.data(), value.data(), col_lower.data(),
                       col_upper.data(), objective.data(), row_lower.data(), row_upper.data());
    model_.setOptimizationDirection(-1);  // maximize
  }

  Result<PeriodValue> Solve(const OraclePeriod& period, size_t p) {
    PeriodValue out;
    // Nothing fits in an empty period, and there is nothing to decide without columns.
    if (period.seconds == 0 || model_.numberColumns() == 0) return out;
    const double t = static_cast<double>(period.seconds);
    for (int c = 0; c < nc_; ++c) model_.setObjectiveCoefficient(c, period.mining_net_usd_per_s[c] * t);
    for (size_t j = 0; j < ai_bucket_.size(); ++j) {
      const size_t flat = static_cast<size_t>(ai_bucket_[j]) * static_cast<size_t>(nc_) + ai_class_[j];
      model_.setObjectiveCoefficient(nc_ + static_cast<int>(j), period.ai_net_usd_per_gpu_s[flat] * t);
    }
    if (has_idle_) {
      for (int c = 0; c < nc_; ++c) {
        const double v = period.idle_net_usd_per_s.empty() ? 0.0 : period.idle_net_usd_per_s[c];
        model_.setObjectiveCoefficient(idle_col_ + c, v * t);
      }
    }
    for (int b = 0; b < nb_; ++b) model_.setRowUpper(nc_ + b, period.demand_gpu_s[b] / t);
    for (size_t s = 0; s < period.site_cap_w.size(); ++s) {
      model_.setRowUpper(nc_ + nb_ + static_cast<int>(s), period.site_cap_w[s]);
    }
    // Primal simplex from the previous period's optimal basis. Measured on a year of hourly
    // periods (docs/oracle.md): when values drift slowly, as real prices do, the old basis is
    // optimal or a pivot away most hours, and primal from it is 2-3x faster than from the slack
    // basis; with values drawn independently each hour it is within about 20% of a cold start,
    // while CLP's dual simplex spent as much time again in the kernel.
    // The LP is always feasible (all zero) and bounded (capacity rows bound every column), so
    // anything but "optimal" is a solver failure; a warm start that goes wrong gets one retry
    // from the slack basis, where x = 0 is feasible, before it is reported.
    model_.primal();
    if (!model_.isProvenOptimal()) {
      model_.allSlackBasis(true);
      model_.primal();
    }
    if (!model_.isProvenOptimal()) {
      return Err(InternalError(fmt::format("oracle: period {}: CLP did not find the optimum (status {}, {})",
                                           p, model_.status(), model_.secondaryStatus())));
    }
    const double* x = model_.primalColumnSolution();
    for (int c = 0; c < nc_; ++c) out.mining_usd += period.mining_net_usd_per_s[c] * t * x[c];
    for (size_t j = 0; j < ai_bucket_.size(); ++j) {
      const size_t flat = static_cast<size_t>(ai_bucket_[j]) * static_cast<size_t>(nc_) + ai_class_[j];
      out.ai_usd += period.ai_net_usd_per_gpu_s[flat] * t * x[static_cast<size_t>(nc_) + j];
    }
    if (has_idle_ && !period.idle_net_usd_per_s.empty()) {
      for (int c = 0; c < nc_; ++c) out.idle_usd += period.idle_net_usd_per_s[c] * t * x[idle_col_ + c];
    }
    return out;
  }

 private:
  int nc_;
  int nb_;
  std::vector<int> ai_bucket_;  // per AI column: its bucket
  std::vector<int> ai_class_;   // per AI column: its class
  int idle_col_ = 0;            // the first idle column, if has_idle_
  bool has_idle_ = false;
  ClpSimplex model_;
};

}  // namespace

Result<OracleResult> SolveOracle(const OracleInput& input) {
  RS_RETURN_IF_ERROR(ValidateShape(input));
  for (size_t p = 0; p < input.periods.size(); ++p) RS_RETURN_IF_ERROR(ValidatePeriod(input, p));

  OracleResult result;
  result.period_profit_usd.reserve(input.periods.size());
  std::optional<PeriodLp> lp;
  size_t p = 0;
  try {  // CLP reports some failures by throwing CoinError; they stop here as a Status.
    lp.emplace(input);
    for (; p < input.periods.size(); ++p) {
      RS_ASSIGN_OR_RETURN(PeriodValue v, lp->Solve(input.periods[p], p));
      result.ai_usd += v.ai_usd;
      result.mining_usd += v.mining_usd;
      result.idle_usd += v.idle_usd;
      result.period_profit_usd.push_back(v.ai_usd + v.mining_usd + v.idle_usd);
      ++result.periods_solved;
    }
  } catch (const CoinError& e) {
    return Err(InternalError(fmt::format("oracle: period {}: CLP failed: {} ({}::{})", p, e.message(),
                                         e.className(), e.methodName())));
  }
  result.profit_usd = result.ai_usd + result.mining_usd + result.idle_usd;
  return result;
}

}  // namespace rigshift
