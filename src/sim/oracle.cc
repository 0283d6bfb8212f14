#include "sim/oracle.h"

#include <fmt/format.h>

#include <ClpSimplex.hpp>
#include <CoinError.hpp>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <optional>
#include <set>
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
    if (k.gpus_per_node < 0) {
      return InvalidArgumentError(
          fmt::format("oracle: class {} ({}): gpus_per_node = {} is negative", c, k.name, k.gpus_per_node));
    }
    if (k.gpus_per_node == 0 && k.nodes != 0) {
      return InvalidArgumentError(fmt::format(
          "oracle: class {} ({}): nodes = {} but gpus_per_node is 0 (not known): give both or neither", c,
          k.name, k.nodes));
    }
    // devices == nodes x gpus_per_node, tested by division so that no product can overflow.
    if (k.gpus_per_node > 0 &&
        (k.nodes < 0 || k.devices % k.gpus_per_node != 0 || k.devices / k.gpus_per_node != k.nodes)) {
      return InvalidArgumentError(
          fmt::format("oracle: class {} ({}): devices = {} is not nodes ({}) x gpus_per_node ({})", c, k.name,
                      k.devices, k.nodes, k.gpus_per_node));
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
    if (bucket.gang < 1) {
      return InvalidArgumentError(fmt::format("oracle: bucket {} ({}): gang = {} GPUs, want at least 1", b,
                                              bucket.name, bucket.gang));
    }
    if (bucket.placement != OraclePlacement::kAny && bucket.placement != OraclePlacement::kOneNode &&
        bucket.placement != OraclePlacement::kWholeNodes) {
      return InvalidArgumentError(
          fmt::format("oracle: bucket {} ({}): placement {} is not an OraclePlacement", b, bucket.name,
                      static_cast<int>(bucket.placement)));
    }
    for (int c : bucket.classes) {
      const OracleClass& k = in.classes[static_cast<size_t>(c)];
      const int n = k.gpus_per_node, g = bucket.gang;
      if (n == 0 || g <= n) continue;  // nodes not known, or the gang fits in one node
      if (bucket.placement == OraclePlacement::kOneNode) {
        return InvalidArgumentError(fmt::format(
            "oracle: bucket {} ({}): a gang of {} GPUs must sit in one node, but class {} ({}) has {} GPUs "
            "per node: do not list the class",
            b, bucket.name, g, c, k.name, n));
      }
      if (bucket.placement == OraclePlacement::kWholeNodes && g % n != 0) {
        return InvalidArgumentError(fmt::format(
            "oracle: bucket {} ({}): a gang of {} GPUs is not a number of whole nodes of class {} ({}), "
            "{} GPUs per node: do not list the class",
            b, bucket.name, g, c, k.name, n));
      }
    }
  }
  for (size_t u = 0; u < in.uses.size(); ++u) {
    const OracleUse& x = in.uses[u];
    if (x.cls < -1 || x.cls >= static_cast<int>(in.classes.size()) || x.site < 0 ||
        static_cast<size_t>(x.site) >= num_sites || x.cover_row < -1 || x.cover_row >= in.cover_rows ||
        !std::isfinite(x.watts) || x.watts < 0 || !std::isfinite(x.cover) || x.cover < 0 || !(x.upper >= 0)) {
      return InvalidArgumentError(fmt::format("oracle: use {} ({}): class, site, cover row, watts, cover or upper out of range",
                                              u, x.name));
    }
  }
  if (in.cover_rows < 0 || !std::isfinite(in.fixed_usd)) {
    return InvalidArgumentError("oracle: cover_rows must be >= 0 and fixed_usd finite");
  }
  return OkStatus();
}

Status ValidateRows(const OracleInput& in, const std::vector<OracleNodeRow>& rows) {
  for (size_t r = 0; r < rows.size(); ++r) {
    const OracleNodeRow& row = rows[r];
    if (row.cls < 0 || static_cast<size_t>(row.cls) >= in.classes.size()) {
      return InvalidArgumentError(
          fmt::format("oracle: node row {} ({}): class {} is not an index into the {} classes", r, row.what,
                      row.cls, in.classes.size()));
    }
    if (!std::isfinite(row.max_gangs) || row.max_gangs < 0) {
      return InvalidArgumentError(
          fmt::format("oracle: node row {} ({}): max_gangs = {} must be finite and nonnegative", r, row.what,
                      row.max_gangs));
    }
    std::vector<bool> seen(in.buckets.size(), false);
    for (const auto& [b, w] : row.terms) {
      if (b < 0 || static_cast<size_t>(b) >= in.buckets.size()) {
        return InvalidArgumentError(
            fmt::format("oracle: node row {} ({}): bucket {} is not an index into the {} buckets", r,
                        row.what, b, in.buckets.size()));
      }
      const std::vector<int>& allowed = in.buckets[static_cast<size_t>(b)].classes;
      if (std::find(allowed.begin(), allowed.end(), row.cls) == allowed.end()) {
        return InvalidArgumentError(fmt::format("oracle: node row {} ({}): bucket {} does not list class {}",
                                                r, row.what, b, row.cls));
      }
      if (seen[static_cast<size_t>(b)]) {
        return InvalidArgumentError(
            fmt::format("oracle: node row {} ({}): bucket {} is listed twice", r, row.what, b));
      }
      seen[static_cast<size_t>(b)] = true;
      if (!std::isfinite(w)) {
        return InvalidArgumentError(fmt::format(
            "oracle: node row {} ({}): the coefficient of bucket {} is not finite", r, row.what, b));
      }
    }
  }
  return OkStatus();
}

Status ValidateBlocks(const OracleInput& in) {
  if (in.block_periods < 1) {
    return InvalidArgumentError(fmt::format("oracle: block_periods = {} must be at least 1", in.block_periods));
  }
  if (in.block_demand_gpu_s.empty()) {
    if (in.block_periods != 1) {
      return InvalidArgumentError("oracle: block_periods > 1 needs block_demand_gpu_s (one row of buckets per block)");
    }
    return OkStatus();
  }
  const size_t k = static_cast<size_t>(in.block_periods);
  const size_t blocks = (in.periods.size() + k - 1) / k;
  if (in.block_demand_gpu_s.size() != blocks) {
    return InvalidArgumentError(fmt::format("oracle: block_demand_gpu_s has {} blocks, want {} ({} periods in blocks of {})",
                                            in.block_demand_gpu_s.size(), blocks, in.periods.size(), k));
  }
  for (size_t b = 0; b < blocks; ++b) {
    if (in.block_demand_gpu_s[b].size() != in.buckets.size()) {
      return InvalidArgumentError(fmt::format("oracle: block {}: block_demand_gpu_s has {} entries, want {} (one per bucket)",
                                              b, in.block_demand_gpu_s[b].size(), in.buckets.size()));
    }
    for (size_t i = 0; i < in.buckets.size(); ++i) {
      const double v = in.block_demand_gpu_s[b][i];
      if (!std::isfinite(v) || v < 0) {
        return InvalidArgumentError(fmt::format("oracle: block {}: block_demand_gpu_s[{}] = {} must be finite and >= 0", b, i, v));
      }
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
  if (!in.uses.empty() || !period.use_usd_per_s.empty()) {
    RS_RETURN_IF_ERROR(CheckSize(p, "use_usd_per_s", period.use_usd_per_s.size(), in.uses.size(), "one per use"));
    for (size_t u = 0; u < in.uses.size(); ++u) RS_RETURN_IF_ERROR(CheckValue(p, "use_usd_per_s", u, period.use_usd_per_s[u], false));
  }
  if (in.cover_rows > 0 || !period.cover_upper.empty()) {
    RS_RETURN_IF_ERROR(CheckSize(p, "cover_upper", period.cover_upper.size(), static_cast<size_t>(in.cover_rows), "one per cover row"));
    for (int r = 0; r < in.cover_rows; ++r) RS_RETURN_IF_ERROR(CheckValue(p, "cover_upper", r, period.cover_upper[r], true));
  }
  return OkStatus();
}

// ---- Node rows ---------------------------------------------------------------------------------------
//
// docs/oracle.md proves each row and why the ones left out are implied. On a class of N nodes of
// n GPUs, a bucket's gang of g GPUs is, by its placement:
//   - free (kAny, or n not known): in no row;
//   - in one node (g < n, kOneNode or kWholeNodes): counted 1/g per GPU (one per gang) in the node
//     rows k >= floor(n/g), the rows whose gangs are larger than n/(k+1);
//   - on whole nodes (g >= n, so g = m x n): counted k/n per GPU (k slots per node it takes) in
//     node row k, and 1/g per GPU in the class rows j >= floor(N/m).
// Node row k is emitted only when some one-node size g has floor(n/g) = k and does not divide n;
// class row j only when some whole-node size m has floor(N/m) = j and does not divide N (or
// m > N, j = 0). Every other row is implied by the capacity row.

enum class Fit { kFree, kInNode, kWholeNodes };

Fit FitOn(const OracleBucket& bucket, const OracleClass& cls) {
  if (bucket.placement == OraclePlacement::kAny || cls.gpus_per_node == 0) return Fit::kFree;
  return bucket.gang < cls.gpus_per_node ? Fit::kInNode : Fit::kWholeNodes;
}

// The input's classes and buckets must be valid (ValidateShape).
std::vector<OracleNodeRow> DeriveNodeRows(const OracleInput& in) {
  std::vector<OracleNodeRow> rows;
  for (size_t ci = 0; ci < in.classes.size(); ++ci) {
    const OracleClass& k = in.classes[ci];
    const int c = static_cast<int>(ci);
    const int64_t n = k.gpus_per_node, big_n = k.nodes;
    if (n == 0) continue;
    std::vector<int> in_node, whole;  // buckets, in index order
    for (size_t b = 0; b < in.buckets.size(); ++b) {
      const OracleBucket& bucket = in.buckets[b];
      if (std::find(bucket.classes.begin(), bucket.classes.end(), c) == bucket.classes.end()) continue;
      switch (FitOn(bucket, k)) {
        case Fit::kFree:
          break;
        case Fit::kInNode:
          in_node.push_back(static_cast<int>(b));
          break;
        case Fit::kWholeNodes:
          whole.push_back(static_cast<int>(b));
          break;
      }
    }
    auto gang = [&](int b) { return static_cast<int64_t>(in.buckets[static_cast<size_t>(b)].gang); };
    // Node rows: the slot counts k that can bind, ascending.
    std::set<int64_t> node_slots;
    for (int b : in_node) {
      if (n % gang(b) != 0) node_slots.insert(n / gang(b));
    }
    for (int64_t slots : node_slots) {
      OracleNodeRow row;
      row.cls = c;
      row.slots = static_cast<int>(slots);
      row.max_gangs = static_cast<double>(slots) * static_cast<double>(big_n);
      for (int b : in_node) {
        if (n / gang(b) <= slots) row.terms.emplace_back(b, 1.0 / static_cast<double>(gang(b)));
      }
      for (int b : whole) row.terms.emplace_back(b, static_cast<double>(slots) / static_cast<double>(n));
      std::sort(row.terms.begin(), row.terms.end());
      row.what = fmt::format("class {} ({}): a node of {} GPUs holds at most {} gang{} of {}..{} GPUs{}", c,
                             k.name, n, slots, slots == 1 ? "" : "s", n / (slots + 1) + 1, n,
                             whole.empty() ? "" : ", none on nodes that multi-node gangs take");
      rows.push_back(std::move(row));
    }
    // Class rows: the same for multi-node gangs of m whole nodes in the class's N nodes.
    std::set<int64_t> class_slots;
    for (int b : whole) {
      const int64_t m = gang(b) / n;
      if (m > big_n || big_n % m != 0) class_slots.insert(big_n / m);
    }
    for (int64_t slots : class_slots) {
      OracleNodeRow row;
      row.cls = c;
      row.per_node = false;
      row.slots = static_cast<int>(slots);
      row.max_gangs = static_cast<double>(slots);
      for (int b : whole) {
        if (big_n / (gang(b) / n) <= slots) row.terms.emplace_back(b, 1.0 / static_cast<double>(gang(b)));
      }
      row.what =
          slots == 0
              ? fmt::format("class {} ({}): its {} nodes hold no gang of {} or more nodes", c, k.name, big_n,
                            big_n + 1)
              : fmt::format("class {} ({}): its {} nodes hold at most {} gang{} of {}..{} nodes", c, k.name,
                            big_n, slots, slots == 1 ? "" : "s", big_n / (slots + 1) + 1, big_n);
      rows.push_back(std::move(row));
    }
  }
  return rows;
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
// Rows: [0, C) capacity of class c; [C, C+B) demand of bucket b; [C+B, C+B+S) power of site s;
// then the node rows, whose right-hand sides (gangs at once) are the same in every period.

struct PeriodValue {
  double ai_usd = 0;
  double mining_usd = 0;
  double idle_usd = 0;
  double uses_usd = 0;
};

// The LP of one block of `k_` periods: the period program above, k_ times side by side, plus one
// row per bucket bounding what the block serves of it (OracleInput::block_demand_gpu_s). With one
// period per block and no block rows it is the period program itself.
class BlockLp {
 public:
  BlockLp(const OracleInput& in, const std::vector<OracleNodeRow>& node_rows)
      : nc_(static_cast<int>(in.classes.size())),
        nb_(static_cast<int>(in.buckets.size())),
        k_(in.block_periods),
        block_rows_(!in.block_demand_gpu_s.empty()) {
    const int ns = static_cast<int>(in.site_names.size());
    for (int b = 0; b < nb_; ++b) {
      for (int c : in.buckets[static_cast<size_t>(b)].classes) {
        ai_bucket_.push_back(b);
        ai_class_.push_back(c);
      }
    }
    const int first_node_row = nc_ + nb_ + ns;
    first_cover_row_ = first_node_row + static_cast<int>(node_rows.size());
    rows1_ = first_cover_row_ + in.cover_rows;
    nu_ = static_cast<int>(in.uses.size());
    // Per AI column, its entries in the node rows (ascending rows, as the other entries are).
    std::vector<int> ai_column(static_cast<size_t>(nb_) * static_cast<size_t>(nc_), -1);  // [b * C + c]
    for (size_t j = 0; j < ai_bucket_.size(); ++j) {
      ai_column[static_cast<size_t>(ai_bucket_[j]) * static_cast<size_t>(nc_) + ai_class_[j]] =
          static_cast<int>(j);
    }
    std::vector<std::vector<std::pair<int, double>>> node_entries(ai_bucket_.size());
    for (size_t r = 0; r < node_rows.size(); ++r) {
      for (const auto& [b, w] : node_rows[r].terms) {
        const int j = ai_column[static_cast<size_t>(b) * static_cast<size_t>(nc_) + node_rows[r].cls];
        if (w != 0)
          node_entries[static_cast<size_t>(j)].emplace_back(first_node_row + static_cast<int>(r), w);
      }
    }
    for (const OraclePeriod& p : in.periods) {
      has_idle_ = has_idle_ || !p.idle_net_usd_per_s.empty();
      ref_s_ = std::max(ref_s_, static_cast<double>(p.seconds));
    }
    cols1_ = nc_ + static_cast<int>(ai_bucket_.size()) + (has_idle_ ? nc_ : 0) + nu_;
    idle_col_ = nc_ + static_cast<int>(ai_bucket_.size());
    use_col_ = idle_col_ + (has_idle_ ? nc_ : 0);
    std::vector<CoinBigIndex> start = {0};
    std::vector<int> index;
    std::vector<double> value;
    const std::vector<std::pair<int, double>> none;
    for (int k = 0; k < k_; ++k) {
      const int row0 = k * rows1_;
      auto add_column = [&](int c, int demand_row, double watts, const std::vector<std::pair<int, double>>& more,
                            int block_row) {
        index.push_back(row0 + c);
        value.push_back(1.0);
        if (demand_row >= 0) {
          index.push_back(row0 + demand_row);
          value.push_back(1.0);
        }
        if (watts > 0) {
          index.push_back(row0 + nc_ + nb_ + in.classes[static_cast<size_t>(c)].site);
          value.push_back(watts);
        }
        for (const auto& [row, w] : more) {
          index.push_back(row0 + row);
          value.push_back(w);
        }
        if (block_row >= 0) {
          index.push_back(block_row);
          value.push_back(1.0);  // the period's seconds / ref_s_, set per block (Solve)
        }
        start.push_back(static_cast<CoinBigIndex>(index.size()));
      };
      for (int c = 0; c < nc_; ++c) add_column(c, -1, in.classes[static_cast<size_t>(c)].mining_power_w, none, -1);
      for (size_t j = 0; j < ai_bucket_.size(); ++j) {
        add_column(ai_class_[j], nc_ + ai_bucket_[j], in.classes[static_cast<size_t>(ai_class_[j])].ai_power_w,
                   node_entries[j], block_rows_ ? k_ * rows1_ + ai_bucket_[j] : -1);
      }
      if (has_idle_) {
        for (int c = 0; c < nc_; ++c) add_column(c, -1, 0, none, -1);
      }
      // Other uses: a device of their class (if any), their draw, their cover row.
      for (const OracleUse& u : in.uses) {
        std::vector<std::pair<int, double>> entries;
        if (u.cls >= 0) entries.emplace_back(row0 + u.cls, 1.0);
        if (u.watts > 0) entries.emplace_back(row0 + nc_ + nb_ + u.site, u.watts);
        if (u.cover_row >= 0 && u.cover > 0) entries.emplace_back(row0 + first_cover_row_ + u.cover_row, u.cover);
        for (const auto& [row, w] : entries) {
          index.push_back(row);
          value.push_back(w);
        }
        start.push_back(static_cast<CoinBigIndex>(index.size()));
      }
    }
    coef_.assign(static_cast<size_t>(k_), 1.0);
    const int num_cols = static_cast<int>(start.size()) - 1;
    const int num_rows = k_ * rows1_ + (block_rows_ ? nb_ : 0);
    std::vector<double> col_lower(static_cast<size_t>(num_cols), 0.0);
    std::vector<double> col_upper(static_cast<size_t>(num_cols), COIN_DBL_MAX);
    for (int k = 0; k < k_; ++k) {
      for (int u = 0; u < nu_; ++u) {
        const double up = in.uses[static_cast<size_t>(u)].upper;
        col_upper[static_cast<size_t>(k * cols1_ + use_col_ + u)] = up >= 1e299 ? COIN_DBL_MAX : up;
      }
    }
    std::vector<double> objective(static_cast<size_t>(num_cols), 0.0);
    std::vector<double> row_lower(static_cast<size_t>(num_rows), -COIN_DBL_MAX);
    std::vector<double> row_upper(static_cast<size_t>(num_rows), 0.0);
    for (int k = 0; k < k_; ++k) {
      for (int c = 0; c < nc_; ++c)
        row_upper[static_cast<size_t>(k * rows1_ + c)] = static_cast<double>(in.classes[c].devices);
      for (size_t r = 0; r < node_rows.size(); ++r) {
        row_upper[static_cast<size_t>(k * rows1_ + first_node_row) + r] = node_rows[r].max_gangs;
      }
    }
    model_.setLogLevel(0);
    model_.messageHandler()->setLogLevel(0);
    model_.loadProblem(num_cols, num_rows, start.data(), index.data(), value.data(), col_lower.data(),
                       col_upper.data(), objective.data(), row_lower.data(), row_upper.data());
    model_.setOptimizationDirection(-1);  // maximize
  }

  // Solves block `block` (periods first .. first + k_ - 1, fewer at the end) and appends each
  // period's value to `out`.
  Status Solve(const OracleInput& in, size_t block, std::vector<PeriodValue>& out) {
    const size_t first = block * static_cast<size_t>(k_);
    const size_t count = std::min(static_cast<size_t>(k_), in.periods.size() - first);
    const int ns = static_cast<int>(in.site_names.size());
    for (int k = 0; k < k_; ++k) {
      // Periods past the end of the input (the last block) and empty ones earn and serve nothing.
      const bool real = static_cast<size_t>(k) < count && in.periods[first + k].seconds > 0;
      const OraclePeriod* period = real ? &in.periods[first + k] : nullptr;
      const double t = real ? static_cast<double>(period->seconds) : 0.0;
      const int col0 = k * cols1_, row0 = k * rows1_;
      for (int c = 0; c < nc_; ++c) model_.setObjectiveCoefficient(col0 + c, real ? period->mining_net_usd_per_s[c] * t : 0.0);
      for (size_t j = 0; j < ai_bucket_.size(); ++j) {
        const size_t flat = static_cast<size_t>(ai_bucket_[j]) * static_cast<size_t>(nc_) + ai_class_[j];
        model_.setObjectiveCoefficient(col0 + nc_ + static_cast<int>(j), real ? period->ai_net_usd_per_gpu_s[flat] * t : 0.0);
      }
      if (has_idle_) {
        for (int c = 0; c < nc_; ++c) {
          const double v = !real || period->idle_net_usd_per_s.empty() ? 0.0 : period->idle_net_usd_per_s[c];
          model_.setObjectiveCoefficient(col0 + idle_col_ + c, v * t);
        }
      }
      for (int b = 0; b < nb_; ++b) model_.setRowUpper(row0 + nc_ + b, real ? period->demand_gpu_s[b] / t : 0.0);
      for (int s = 0; s < ns; ++s) model_.setRowUpper(row0 + nc_ + nb_ + s, real ? period->site_cap_w[s] : 0.0);
      for (int u = 0; u < nu_; ++u) {
        model_.setObjectiveCoefficient(col0 + use_col_ + u, real ? period->use_usd_per_s[static_cast<size_t>(u)] * t : 0.0);
      }
      for (int r = 0; r < static_cast<int>(rows1_ - first_cover_row_); ++r) {
        model_.setRowUpper(row0 + first_cover_row_ + r, real ? period->cover_upper[static_cast<size_t>(r)] : 0.0);
      }
      // A column's GPU-seconds are its value x the period's seconds: the block row counts them.
      const double coef = real ? t / ref_s_ : 0.0;
      if (block_rows_ && coef != coef_[static_cast<size_t>(k)]) {
        for (size_t j = 0; j < ai_bucket_.size(); ++j) {
          model_.modifyCoefficient(k_ * rows1_ + ai_bucket_[j], col0 + nc_ + static_cast<int>(j), coef, true);
        }
        coef_[static_cast<size_t>(k)] = coef;
      }
    }
    if (block_rows_) {
      const std::vector<double>& demand = in.block_demand_gpu_s[block];
      for (int b = 0; b < nb_; ++b) model_.setRowUpper(k_ * rows1_ + b, demand[static_cast<size_t>(b)] / ref_s_);
    }
    if (model_.numberColumns() > 0) {
      // Primal simplex from the previous block's optimal basis. Measured on a year of hourly
      // periods (docs/oracle.md): when values drift slowly, as real prices do, the old basis is
      // optimal or a pivot away most hours, and primal from it is 2-3x faster than from the slack
      // basis. The LP is always feasible (all zero: every right-hand side is nonnegative) and
      // bounded (capacity rows bound every column), so anything but "optimal" is a solver
      // failure; a warm start that goes wrong gets one retry from the slack basis.
      model_.primal();
      if (!model_.isProvenOptimal()) {
        model_.allSlackBasis(true);
        model_.primal();
      }
      if (!model_.isProvenOptimal()) {
        return InternalError(fmt::format("oracle: period {}: CLP did not find the optimum (status {}, {})", first,
                                         model_.status(), model_.secondaryStatus()));
      }
    }
    const double* x = model_.numberColumns() > 0 ? model_.primalColumnSolution() : nullptr;
    for (size_t k = 0; k < count; ++k) {
      PeriodValue v;
      const OraclePeriod& period = in.periods[first + k];
      const double t = static_cast<double>(period.seconds);
      const int col0 = static_cast<int>(k) * cols1_;
      if (t > 0 && x) {
        for (int c = 0; c < nc_; ++c) v.mining_usd += period.mining_net_usd_per_s[c] * t * x[col0 + c];
        for (size_t j = 0; j < ai_bucket_.size(); ++j) {
          const size_t flat = static_cast<size_t>(ai_bucket_[j]) * static_cast<size_t>(nc_) + ai_class_[j];
          v.ai_usd += period.ai_net_usd_per_gpu_s[flat] * t * x[col0 + nc_ + static_cast<int>(j)];
        }
        if (has_idle_ && !period.idle_net_usd_per_s.empty()) {
          for (int c = 0; c < nc_; ++c) v.idle_usd += period.idle_net_usd_per_s[c] * t * x[col0 + idle_col_ + c];
        }
        for (int u = 0; u < nu_; ++u) v.uses_usd += period.use_usd_per_s[static_cast<size_t>(u)] * t * x[col0 + use_col_ + u];
      }
      out.push_back(v);
    }
    return OkStatus();
  }

 private:
  int nc_;
  int nb_;
  int k_;             // periods per block
  bool block_rows_;   // one row per bucket bounds what the block serves of it
  int cols1_ = 0, rows1_ = 0;  // columns and rows of one period
  std::vector<int> ai_bucket_;  // per AI column of a period: its bucket
  std::vector<int> ai_class_;   // per AI column of a period: its class
  int idle_col_ = 0;            // a period's first idle column, if has_idle_
  int use_col_ = 0;             // a period's first other-use column
  int nu_ = 0;                  // other uses (OracleInput::uses)
  int first_cover_row_ = 0;     // a period's first cover row
  bool has_idle_ = false;
  double ref_s_ = 1;            // the longest period: block rows count GPU-seconds / ref_s_
  std::vector<double> coef_;    // per period slot: its AI columns' entry in the block rows
  ClpSimplex model_;
};

Result<OracleResult> Solve(const OracleInput& input, const std::vector<OracleNodeRow>& node_rows) {
  OracleResult result;
  result.period_profit_usd.reserve(input.periods.size());
  std::optional<BlockLp> lp;
  std::vector<PeriodValue> values;
  values.reserve(input.periods.size());
  const size_t k = static_cast<size_t>(input.block_periods);
  const size_t blocks = (input.periods.size() + k - 1) / k;
  size_t block = 0;
  try {  // CLP reports some failures by throwing CoinError; they stop here as a Status.
    lp.emplace(input, node_rows);
    for (; block < blocks; ++block) RS_RETURN_IF_ERROR(lp->Solve(input, block, values));
  } catch (const CoinError& e) {
    return Err(InternalError(fmt::format("oracle: period {}: CLP failed: {} ({}::{})", block * k, e.message(),
                                         e.className(), e.methodName())));
  }
  for (const PeriodValue& v : values) {
    result.ai_usd += v.ai_usd;
    result.mining_usd += v.mining_usd;
    result.idle_usd += v.idle_usd;
    result.uses_usd += v.uses_usd;
    result.period_profit_usd.push_back(v.ai_usd + v.mining_usd + v.idle_usd + v.uses_usd);
    ++result.periods_solved;
  }
  result.fixed_usd = input.fixed_usd;
  result.profit_usd = result.ai_usd + result.mining_usd + result.idle_usd + result.uses_usd + result.fixed_usd;
  return result;
}

}  // namespace

void AddJobDemand(const OracleJob& job, int64_t start_s, int64_t end_s, int64_t period_s,
                  std::vector<OraclePeriod>& periods) {
  RS_CHECK(period_s > 0);
  RS_CHECK(start_s <= end_s);
  RS_CHECK(job.run_s >= 0 && job.max_wait_s >= 0);
  RS_CHECK(std::isfinite(job.gpus) && job.gpus >= 0);
  // Whenever it starts, the run lies inside [arrival, arrival + max_wait + run), and the
  // simulation ends at end_s.
  const int64_t lo = std::max(job.arrival_s, start_s);
  const int64_t hi = std::min(job.arrival_s + job.max_wait_s + job.run_s, end_s);
  if (hi <= lo || job.run_s == 0 || job.gpus == 0) return;
  for (int64_t p = (lo - start_s) / period_s; start_s + p * period_s < hi; ++p) {
    const int64_t p0 = start_s + p * period_s, p1 = std::min(p0 + period_s, end_s);
    const int64_t overlap = std::min(hi, p1) - std::max(lo, p0);
    if (overlap <= 0) continue;
    RS_CHECK(static_cast<size_t>(p) < periods.size());
    std::vector<double>& demand = periods[static_cast<size_t>(p)].demand_gpu_s;
    RS_CHECK(job.bucket >= 0 && static_cast<size_t>(job.bucket) < demand.size());
    demand[static_cast<size_t>(job.bucket)] += job.gpus * static_cast<double>(std::min(job.run_s, overlap));
  }
}

void AddJobDemand(const OracleJob& job, int64_t start_s, int64_t end_s, int64_t period_s, int block_periods,
                  std::vector<OraclePeriod>& periods, std::vector<std::vector<double>>& blocks) {
  AddJobDemand(job, start_s, end_s, period_s, periods);
  RS_CHECK(block_periods >= 1);
  const int64_t lo = std::max(job.arrival_s, start_s);
  const int64_t hi = std::min(job.arrival_s + job.max_wait_s + job.run_s, end_s);
  if (hi <= lo || job.run_s == 0 || job.gpus == 0) return;
  const int64_t block_s = period_s * block_periods;
  for (int64_t k = (lo - start_s) / block_s; start_s + k * block_s < hi; ++k) {
    const int64_t k0 = start_s + k * block_s, k1 = std::min(k0 + block_s, end_s);
    const int64_t overlap = std::min(hi, k1) - std::max(lo, k0);
    if (overlap <= 0) continue;
    RS_CHECK(static_cast<size_t>(k) < blocks.size());
    std::vector<double>& demand = blocks[static_cast<size_t>(k)];
    RS_CHECK(job.bucket >= 0 && static_cast<size_t>(job.bucket) < demand.size());
    demand[static_cast<size_t>(job.bucket)] += job.gpus * static_cast<double>(std::min(job.run_s, overlap));
  }
}

Result<std::vector<OracleNodeRow>> NodeRows(const OracleInput& input) {
  RS_RETURN_IF_ERROR(ValidateShape(input));
  return DeriveNodeRows(input);
}

Result<OracleResult> SolveOracle(const OracleInput& input) {
  RS_RETURN_IF_ERROR(ValidateShape(input));
  RS_RETURN_IF_ERROR(ValidateBlocks(input));
  for (size_t p = 0; p < input.periods.size(); ++p) RS_RETURN_IF_ERROR(ValidatePeriod(input, p));
  return Solve(input, DeriveNodeRows(input));
}

Result<OracleResult> SolveOracle(const OracleInput& input, const std::vector<OracleNodeRow>& node_rows) {
  RS_RETURN_IF_ERROR(ValidateShape(input));
  RS_RETURN_IF_ERROR(ValidateBlocks(input));
  for (size_t p = 0; p < input.periods.size(); ++p) RS_RETURN_IF_ERROR(ValidatePeriod(input, p));
  RS_RETURN_IF_ERROR(ValidateRows(input, node_rows));
  return Solve(input, node_rows);
}

}  // namespace rigshift
