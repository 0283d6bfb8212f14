// The what-if on the fleet (whatif.h): the change file's reader, the money arithmetic and the
// replays. docs/planner.md is the specification of the file and of every figure.

#include "sim/whatif.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "market/catalog_import.h"
#include "market/rental_index.h"

namespace rigshift {
namespace {

// ---------------------------------------------------------------------------------------------
// The change file's reader: every problem with its line, section and key.

class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void Add(uint32_t line, std::string m) { list_.push_back({line, std::move(m)}); }
  bool empty() const { return list_.empty(); }
  std::string Render() const {
    auto sorted = list_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [line, m] : sorted) {
      if (!out.empty()) out += '\n';
      out += line ? fmt::format("{}:{}: {}", file_, line, m) : fmt::format("{}: {}", file_, m);
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<std::pair<uint32_t, std::string>> list_;
};

// Reads one table's keys; Finish() reports the keys no getter asked for.
class Keys {
 public:
  Keys(const toml::table& t, std::string label, Problems& p) : t_(t), label_(std::move(label)), p_(p) {}
  void set_label(std::string l) { label_ = std::move(l); }
  uint32_t line() const { return t_.source().begin.line; }

  const toml::node* Get(std::string_view key, bool required = false) {
    known_.emplace_back(key);
    const toml::node* n = t_.get(key);
    if (!n && required) Error(line(), fmt::format("{} is required", key));
    return n;
  }
  void Error(uint32_t line, std::string_view m) { p_.Add(line, fmt::format("{} {}", label_, m)); }
  void Error(const toml::node& n, std::string_view m) { Error(n.source().begin.line, m); }

  bool String(std::string_view key, std::string* out, bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    if (!n->is_string() || n->as_string()->get().empty()) {
      Error(*n, fmt::format("{} must be a non-empty string", key));
      return false;
    }
    *out = n->as_string()->get();
    return true;
  }
  bool Int(std::string_view key, int64_t lo, int64_t hi, int64_t* out, bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    if (!n->is_integer()) {
      Error(*n, fmt::format("{} must be a whole number", key));
      return false;
    }
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      Error(*n, fmt::format("{} must be between {} and {}, got {}", key, lo, hi, v));
      return false;
    }
    *out = v;
    return true;
  }
  bool Int(std::string_view key, int64_t lo, int64_t hi, int* out, bool required = false) {
    int64_t v = 0;
    if (!Int(key, lo, hi, &v, required)) return false;
    *out = static_cast<int>(v);
    return true;
  }
  // A number read exactly through its decimal text (as the farm file's reader does), x 10^scale.
  static std::optional<int64_t> ScaledOf(const toml::node& n, int scale) {
    std::string text;
    if (const auto* i = n.as_integer()) {
      text = std::to_string(i->get());
    } else if (const auto* f = n.as_floating_point()) {
      if (!std::isfinite(f->get())) return std::nullopt;
      std::array<char, 64> buf{};
      auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f->get());
      if (ec != std::errc()) return std::nullopt;
      text.assign(buf.data(), end);
    } else {
      return std::nullopt;
    }
    Result<int64_t> v = ParseScaled(text, scale);
    if (!v.has_value()) return std::nullopt;
    return *v;
  }
  bool Scaled(std::string_view key, int scale, int64_t lo, int64_t hi, int64_t* out, std::string_view what,
              bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    std::optional<int64_t> v = ScaledOf(*n, scale);
    if (!v) {
      Error(*n, fmt::format("{} must be a number", key));
      return false;
    }
    if (*v < lo || *v > hi) {
      std::string shown = FormatScaled(*v, scale);
      if (shown.find('.') != std::string::npos) {
        while (shown.back() == '0') shown.pop_back();
        if (shown.back() == '.') shown.pop_back();
      }
      Error(*n, fmt::format("{} must be {}, got {}", key, what, shown));
      return false;
    }
    *out = *v;
    return true;
  }
  // A price in USD, >= 0.
  bool Price(std::string_view key, std::optional<Money>* out) {
    int64_t v = 0;
    if (!Scaled(key, 6, 0, int64_t{1'000'000'000} * kMicrosPerUnit, &v, "at least 0 (USD; at most 1e9)")) return false;
    *out = Money(v);
    return true;
  }
  static std::optional<Date> DateOf(const toml::node& n) {
    std::string text;
    if (const auto* d = n.as_date()) {
      text = fmt::format("{:04}-{:02}-{:02}", d->get().year, d->get().month, d->get().day);
    } else if (const auto* s = n.as_string()) {
      text = s->get();
    } else {
      return std::nullopt;
    }
    Result<Date> d = ParseDate(text);
    if (!d.has_value()) return std::nullopt;
    return *d;
  }
  // A list; nullptr (with a problem) when the key is not a list or the list is empty.
  const toml::array* List(std::string_view key, const toml::node& n) {
    const auto* a = n.as_array();
    if (!a) {
      Error(n, fmt::format("{} must be a list", key));
      return nullptr;
    }
    if (a->empty()) {
      Error(n, fmt::format("{} is empty: leave the key out for its defaults (docs/planner.md), or give at least one "
                           "value (enabled = false skips the whole grid)",
                           key));
      return nullptr;
    }
    return a;
  }
  void Finish() {
    for (auto&& [k, v] : t_) {
      if (std::find(known_.begin(), known_.end(), k.str()) != known_.end()) continue;
      std::string known;
      for (const auto& s : known_) known += (known.empty() ? "" : ", ") + s;
      Error(k.source().begin.line, fmt::format("has no key '{}' (its keys: {})", k.str(), known));
    }
  }

 private:
  const toml::table& t_;
  std::string label_;
  Problems& p_;
  std::vector<std::string> known_;
};

void ReadSell(const toml::table& t, Problems& p, FleetChange& c) {
  Keys k(t, "[[sell]]", p);
  SellSpec s;
  s.line = k.line();
  k.String("group", &s.group, /*required=*/true);
  if (!s.group.empty()) k.set_label(fmt::format("[[sell]] '{}'", s.group));
  int nodes = 0;
  if (k.Int("nodes", 1, 1'000'000, &nodes)) s.nodes = nodes;
  k.Price("price_usd_per_node", &s.price_per_node);
  k.Price("price_usd_per_gpu", &s.price_per_gpu);
  if (!t.get("price_usd_per_node") && !t.get("price_usd_per_gpu")) {
    k.Error(s.line, "needs a sale price: price_usd_per_node or price_usd_per_gpu");
  } else if (t.get("price_usd_per_node") && t.get("price_usd_per_gpu")) {
    k.Error(s.line, "gives both price_usd_per_node and price_usd_per_gpu: give one");
  }
  k.Finish();
  c.sell.push_back(std::move(s));
}

void ReadBuy(const toml::table& t, Problems& p, FleetChange& c) {
  Keys k(t, "[[buy]]", p);
  BuySpec b;
  b.line = k.line();
  NodeGroupSpec& g = b.group;
  k.String("name", &g.name, /*required=*/true);
  if (!g.name.empty()) k.set_label(fmt::format("[[buy]] '{}'", g.name));
  k.String("model", &g.model, /*required=*/true);
  k.String("site", &g.site);
  k.Int("nodes", 1, 1'000'000, &g.nodes, /*required=*/true);
  k.Int("gpus_per_node", 1, 16, &g.gpus_per_node, /*required=*/true);
  k.Int("cpu_cores", 1, 4096, &g.cpu_cores, /*required=*/true);
  k.Int("ram_gb", 1, 65536, &g.ram_gb, /*required=*/true);
  if (const toml::node* n = k.Get("pcie_lanes")) {
    int64_t v = n->is_integer() ? n->as_integer()->get() : 0;
    if (v != 1 && v != 4 && v != 8 && v != 16) {
      k.Error(*n, "pcie_lanes must be 1, 4, 8 or 16");
    } else {
      g.pcie_lanes = static_cast<int>(v);
    }
  }
  k.Int("pcie_gen", 1, 5, &g.pcie_gen);
  if (k.Int("nvlink_domain", 0, 16, &g.nvlink_domain) && g.nvlink_domain != 0 && g.gpus_per_node > 0 &&
      (g.nvlink_domain < 2 || g.gpus_per_node % g.nvlink_domain != 0)) {
    k.Error(t.get("nvlink_domain")->source().begin.line,
            fmt::format("nvlink_domain must be 0, or a divisor of gpus_per_node ({}) of at least 2, got {}",
                        g.gpus_per_node, g.nvlink_domain));
  }
  if (const toml::node* n = k.Get("fabric")) {
    if (!n->is_string()) {
      k.Error(*n, "fabric must be a string");
    } else {
      g.fabric = n->as_string()->get();
    }
  }
  std::optional<Money> price;
  if (k.Price("price_usd_per_node", &price)) b.price_per_node = *price;
  if (!t.get("price_usd_per_node")) k.Error(b.line, "price_usd_per_node is required");
  k.Finish();
  c.buy.push_back(std::move(b));
}

void ReadMoney(const toml::table& t, Problems& p, FleetChange& c) {
  Keys k(t, "[money]", p);
  k.Int("horizon_years", 1, 30, &c.money.horizon_years);
  k.Scaled("discount_rate_pct", 4, 0, 1'000'000, &c.money.discount_rate_ppm, "between 0 and 100 (% per year)");
  int64_t salvage = 0;
  if (k.Scaled("salvage_usd", 6, -int64_t{1'000'000'000} * kMicrosPerUnit, int64_t{1'000'000'000} * kMicrosPerUnit,
               &salvage, "between -1e9 and 1e9 USD")) {
    c.money.salvage = Money(salvage);
  }
  k.Finish();
}

void ReadGrid(const toml::table& t, Problems& p, FleetChange& c) {
  Keys k(t, "[sensitivity]", p);
  SensitivityGrid& g = c.grid;
  if (const toml::node* n = k.Get("enabled")) {
    if (!n->is_boolean()) {
      k.Error(*n, "enabled must be true or false");
    } else {
      g.enabled = n->as_boolean()->get();
    }
  }
  auto numbers = [&](std::string_view key, int64_t lo, int64_t hi, std::string_view what,
                     std::optional<std::vector<int>>* out) {
    const toml::node* n = k.Get(key);
    if (!n) return;
    const toml::array* a = k.List(key, *n);
    if (!a) return;
    std::vector<int> v;
    for (size_t i = 0; i < a->size(); ++i) {
      std::optional<int64_t> x = Keys::ScaledOf(*a->get(i), 3);
      if (!x || *x < lo || *x > hi) {
        k.Error(*a->get(i), fmt::format("{} item {} must be {}", key, i + 1, what));
        return;
      }
      v.push_back(static_cast<int>(*x));
    }
    *out = std::move(v);
  };
  numbers("demand_scales", 0, 100'000, "a number between 0 and 100 (a [demand] scale)", &g.demand_scale_milli);
  numbers("rental_multipliers", 1, 10'000, "a number above 0 and at most 10 (x the on-demand price)", &g.rental_milli);
  auto dates = [&](std::string_view key, std::optional<std::vector<Date>>* out) {
    const toml::node* n = k.Get(key);
    if (!n) return;
    const toml::array* a = k.List(key, *n);
    if (!a) return;
    std::vector<Date> v;
    for (size_t i = 0; i < a->size(); ++i) {
      std::optional<Date> d = Keys::DateOf(*a->get(i));
      if (!d) {
        k.Error(*a->get(i), fmt::format("{} item {} must be a date (YYYY-MM-DD)", key, i + 1));
        return;
      }
      v.push_back(*d);
    }
    *out = std::move(v);
  };
  dates("electricity_from", &g.electricity_from);
  dates("market_from", &g.market_from);
  if (const toml::node* n = k.Get("settlement_points")) {
    if (const toml::array* a = k.List("settlement_points", *n)) {
      std::vector<std::string> v;
      for (size_t i = 0; i < a->size(); ++i) {
        const auto* s = a->get(i)->as_string();
        if (!s || s->get().empty()) {
          k.Error(*a->get(i), fmt::format("settlement_points item {} must be a non-empty string", i + 1));
          return k.Finish();
        }
        v.push_back(s->get());
      }
      g.settlement_points = std::move(v);
    }
  }
  k.Finish();
}

// ---------------------------------------------------------------------------------------------
// Money.

// `m` / n rounded half away from zero.
Money DivRound(Money m, int64_t n) { return Money(MulDiv(m.raw(), 1, n).value_or(0)); }

std::string UsdText(Money m) {
  const int64_t whole = MulDiv(m.raw(), 1, kMicrosPerUnit).value_or(0);
  std::string digits = std::to_string(whole < 0 ? -whole : whole);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return (whole < 0 ? "-" : "") + digits;
}

// "1.2M", "-340k", "12k", "950" USD: the verdict's short form.
std::string ShortUsd(Money m) {
  const double v = static_cast<double>(m.raw()) / 1e6;
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:+.2f}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:+.0f}k", v / 1e3);
  if (a >= 1e3) return fmt::format("{:+.1f}k", v / 1e3);
  return fmt::format("{:+.0f}", v);
}

std::string PaybackText(const std::optional<int64_t>& d) {
  if (!d) return "never";
  if (*d == 0) return "at once";
  return fmt::format("{:.1f} years", static_cast<double>(*d) / 365.0);
}

ReplayMoney MoneyOf(const PolicySummary& s) {
  ReplayMoney m;
  m.ai = s.ai_revenue;
  m.mining = s.mining_revenue;
  m.other = s.contract_revenue + s.hosting_revenue;
  m.energy = s.energy_cost;
  m.profit = s.profit;
  return m;
}

// Each group's AI revenue over a run: the run's AI revenue split by leased GPU-seconds x list price.
std::vector<Money> AiByGroup(const ResolvedScenario& rs, const PolicyRun& run) {
  const size_t n = rs.fleet.groups().size();
  std::vector<__int128> weight(n, 0);
  __int128 total = 0;
  for (size_t g = 0; g < n; ++g) {
    weight[g] = static_cast<__int128>(run.group_gpu_s_ai[g]) * rs.list_price[g].raw();
    total += weight[g];
  }
  std::vector<Money> out(n);
  if (total <= 0) return out;
  for (size_t g = 0; g < n; ++g) {
    out[g] = Money(MulDiv128(run.summary.ai_revenue.raw(), weight[g], total).value_or(0));
  }
  return out;
}

// The price path of the rental index over the horizon, per model: price on day k over the price
// on day 0, as (numerator, denominator) in micro-USD per GPU-hour. A model without a price does
// not move.
struct PricePath {
  std::vector<int64_t> price;  // per day; empty: flat
  int64_t at_start = 0;
};

PricePath PathOf(const std::optional<RentalIndex>& index, const std::string& model, Date start, int64_t days) {
  PricePath p;
  if (!index) return p;
  auto q0 = index->At(model, RentalKind::kOnDemand, start);
  if (!q0 || q0->price.raw() <= 0) return p;
  p.at_start = q0->price.raw();
  p.price.resize(static_cast<size_t>(days));
  for (int64_t k = 0; k < days; ++k) {
    auto q = index->At(model, RentalKind::kOnDemand, start + static_cast<int32_t>(k));
    p.price[static_cast<size_t>(k)] = q ? q->price.raw() : p.at_start;
  }
  return p;
}

// What one farm (as it is, or as changed) adds to the daily flow beyond its replayed mean: each
// group's daily AI revenue x (its model's index on the day / on the rental date - 1).
struct AiDrift {
  std::vector<Money> per_day_ai;  // per group, the replay's daily mean
  std::vector<const PricePath*> path;
};

struct Replay {
  ReplayMoney money;
  std::vector<Money> ai_by_group;
  std::vector<std::string> models;  // per group, the catalog name
  std::vector<std::string> names;
  PolicyRun run;
  std::string mapping;
  int days = 0;
};

class Horizon {
 public:
  Horizon(const std::optional<RentalIndex>* index, Date start, int64_t days) : index_(index), start_(start), days_(days) {}
  const PricePath& Path(const std::string& model) {
    auto it = paths_.find(model);
    if (it == paths_.end()) it = paths_.emplace(model, PathOf(*index_, model, start_, days_)).first;
    return it->second;
  }
  int64_t days() const { return days_; }
  Date start() const { return start_; }
  const std::map<std::string, PricePath>& paths() const { return paths_; }

  // Daily flows of the change: the mean daily profit difference, plus each group's AI revenue
  // moving with its model's index.
  std::vector<Money> Flows(const Replay& before, const Replay& after) {
    const Money delta = DivRound(after.money.profit - before.money.profit, after.days);
    std::vector<Money> flows(static_cast<size_t>(days_), delta);
    auto drift = [&](const Replay& r, int sign) {
      for (size_t g = 0; g < r.ai_by_group.size(); ++g) {
        if (r.ai_by_group[g].raw() == 0) continue;
        const PricePath& p = Path(r.models[g]);
        if (p.price.empty()) continue;
        const Money per_day = DivRound(r.ai_by_group[g], r.days);
        for (int64_t k = 0; k < days_; ++k) {
          const int64_t num = p.price[static_cast<size_t>(k)] - p.at_start;
          if (num == 0) continue;
          flows[static_cast<size_t>(k)] += Money(sign * MulDiv(per_day.raw(), num, p.at_start).value_or(0));
        }
      }
    };
    drift(after, +1);
    drift(before, -1);
    return flows;
  }

 private:
  const std::optional<RentalIndex>* index_;
  Date start_;
  int64_t days_;
  std::map<std::string, PricePath> paths_;
};

constexpr int64_t kPaybackYears = 30;  // payback is looked for this far, past the horizon too

WhatIfCase MakeCase(std::string dimension, std::string label) {
  WhatIfCase c;
  c.dimension = std::move(dimension);
  c.label = std::move(label);
  return c;
}

// Decimal text without trailing zeros: (1500, 3) -> "1.5", (120000, 4) -> "12".
std::string Shown(int64_t raw, int scale) {
  std::string t = FormatScaled(raw, scale);
  if (t.find('.') != std::string::npos) {
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
  }
  return t;
}

// 1500 -> "1.5", 2000 -> "2", 250 -> "0.25".
std::string Trim3(int64_t milli) { return Shown(milli, 3); }

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<FleetChange> ParseFleetChange(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(name));
  } catch (const toml::parse_error& e) {
    return Err(InvalidArgumentError(fmt::format("{}:{}:{}: TOML syntax error: {}", name, e.source().begin.line,
                                                e.source().begin.column, e.description())));
  }
  Problems p(name);
  FleetChange c;
  for (auto&& [key, node] : root) {
    const std::string k(key.str());
    const uint32_t line = key.source().begin.line;
    if (k == "change") {
      if (!node.is_table()) {
        p.Add(line, "[change] must be a table");
        continue;
      }
      Keys t(*node.as_table(), "[change]", p);
      t.String("name", &c.name);
      if (const toml::node* n = t.Get("description")) {
        if (n->is_string()) c.description = n->as_string()->get();
        else t.Error(*n, "description must be a string");
      }
      if (const toml::node* n = t.Get("assumptions")) {
        const auto* a = n->as_array();
        if (!a) t.Error(*n, "assumptions must be a list of strings");
        for (size_t i = 0; a && i < a->size(); ++i) {
          if (const auto* s = a->get(i)->as_string()) c.assumptions.push_back(s->get());
          else t.Error(*a->get(i), fmt::format("assumptions item {} must be a string", i + 1));
        }
      }
      t.Finish();
    } else if (k == "sell" || k == "buy") {
      const auto* arr = node.as_array();
      if (!arr || !arr->is_array_of_tables()) {
        p.Add(line, fmt::format("{} must be written [[{}]] (one table per group)", k, k));
        continue;
      }
      for (size_t i = 0; i < arr->size(); ++i) {
        if (k == "sell") ReadSell(*arr->get(i)->as_table(), p, c);
        else ReadBuy(*arr->get(i)->as_table(), p, c);
      }
    } else if (k == "money" || k == "sensitivity") {
      if (!node.is_table()) {
        p.Add(line, fmt::format("[{}] must be a table", k));
        continue;
      }
      if (k == "money") ReadMoney(*node.as_table(), p, c);
      else ReadGrid(*node.as_table(), p, c);
    } else {
      p.Add(line, fmt::format("unknown section '{}' (the sections are [change], [[sell]], [[buy]], [money] and "
                              "[sensitivity])",
                              k));
    }
  }
  if (p.empty() && c.sell.empty() && c.buy.empty()) {
    p.Add(0, "changes nothing: give at least one [[sell]] or [[buy]]");
  }
  if (!p.empty()) return Err(InvalidArgumentError(p.Render()));
  if (c.name.empty()) c.name = std::filesystem::path(name).stem().string();
  c.file = name;
  return c;
}

Result<FleetChange> LoadFleetChange(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return Err(NotFoundError(fmt::format("cannot read the change file {}", file.string())));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseFleetChange(ss.str(), file.string());
}

Result<Scenario> ApplyChange(const Scenario& farm, const FleetChange& change, const Catalog& catalog,
                             Capital* capital) {
  Scenario out = farm;
  Capital cap;
  std::vector<std::string> problems;
  std::set<std::string> sold;
  for (const SellSpec& s : change.sell) {
    auto it = std::find_if(out.groups.begin(), out.groups.end(), [&](const NodeGroupSpec& g) { return g.name == s.group; });
    if (it == out.groups.end()) {
      std::string names;
      for (const auto& g : farm.groups) names += (names.empty() ? "'" : ", '") + g.name + "'";
      problems.push_back(fmt::format("{}:{}: [[sell]] group '{}' is not a group of the farm {} (its groups: {})",
                                     change.file, s.line, s.group, farm.name, names));
      continue;
    }
    if (!sold.insert(s.group).second) {
      problems.push_back(fmt::format("{}:{}: [[sell]] group '{}' is sold twice: give one [[sell]] per group", change.file, s.line,
                                     s.group));
      continue;
    }
    const int nodes = s.nodes.value_or(it->nodes);
    if (nodes > it->nodes) {
      problems.push_back(fmt::format("{}:{}: [[sell]] '{}' nodes = {}, but the group has only {}", change.file, s.line, s.group,
                                     nodes, it->nodes));
      continue;
    }
    const int gpus_per_node = std::max(1, it->gpus_per_node);
    cap.sale += s.price_per_node ? *s.price_per_node * nodes : *s.price_per_gpu * (static_cast<int64_t>(nodes) * gpus_per_node);
    if (nodes == it->nodes) {
      out.groups.erase(it);
    } else {
      it->nodes -= nodes;
    }
  }
  for (const BuySpec& b : change.buy) {
    NodeGroupSpec g = b.group;
    if (std::any_of(out.groups.begin(), out.groups.end(), [&](const NodeGroupSpec& o) { return o.name == g.name; }) ||
        std::any_of(farm.groups.begin(), farm.groups.end(), [&](const NodeGroupSpec& o) { return o.name == g.name; })) {
      problems.push_back(fmt::format("{}:{}: [[buy]] name '{}' is already a group of the farm: choose another", change.file, b.line,
                                     g.name));
      continue;
    }
    if (Result<const DeviceModel*> m = catalog.Lookup(g.model); !m.has_value()) {
      problems.push_back(fmt::format("{}:{}: [[buy]] '{}' model: {}", change.file, b.line, g.name, m.error().message()));
      continue;
    }
    if (g.site.empty()) {
      if (farm.sites.size() != 1) {
        problems.push_back(fmt::format("{}:{}: [[buy]] '{}' site is required: the farm has {} sites", change.file, b.line, g.name,
                                       farm.sites.size()));
        continue;
      }
      g.site = farm.sites.front().name;
    } else if (std::none_of(farm.sites.begin(), farm.sites.end(), [&](const SiteSpec& s) { return s.name == g.site; })) {
      std::string names;
      for (const auto& s : farm.sites) names += (names.empty() ? "'" : ", '") + s.name + "'";
      problems.push_back(fmt::format("{}:{}: [[buy]] '{}' site '{}' is not a site of the farm (its sites: {})", change.file, b.line,
                                     g.name, g.site, names));
      continue;
    }
    cap.buy += b.price_per_node * g.nodes;
    out.groups.push_back(std::move(g));
  }
  if (problems.empty() && out.groups.empty()) {
    problems.push_back("the change sells every group and buys none: the farm would be empty");
  }
  if (!problems.empty()) {
    std::string m;
    for (const auto& s : problems) m += (m.empty() ? "" : "\n") + s;
    return Err(InvalidArgumentError(m));
  }
  if (capital) *capital = cap;
  return out;
}

Money NetPresentValue(Money capital, const std::vector<Money>& daily, Money salvage, int64_t rate_ppm) {
  // Per-day factor v = (1 + r)^(-1/365); day k's flow is worth v^(k+1).
  const long double r = static_cast<long double>(rate_ppm) / 1e6L;
  const long double v = std::pow(1.0L + r, -1.0L / 365.0L);
  long double pv = -static_cast<long double>(capital.raw());
  long double f = 1.0L;
  for (Money d : daily) {
    f *= v;
    pv += static_cast<long double>(d.raw()) * f;
  }
  pv += static_cast<long double>(salvage.raw()) * f;
  return Money(static_cast<int64_t>(std::llround(pv)));
}

std::optional<int64_t> PaybackDays(Money capital, const std::vector<Money>& daily) {
  if (capital.raw() <= 0) return 0;
  __int128 sum = 0;
  for (size_t k = 0; k < daily.size(); ++k) {
    sum += daily[k].raw();
    if (sum >= capital.raw()) return static_cast<int64_t>(k + 1);
  }
  return std::nullopt;
}

std::string Verdict(const CaseResult& base, const std::vector<CaseResult>& cases) {
  int positive = base.npv.raw() > 0 ? 1 : 0;
  Money lo = base.npv, hi = base.npv;
  std::map<std::string, std::pair<Money, Money>> by_dim;
  std::vector<std::string> order;
  for (const CaseResult& c : cases) {
    positive += c.npv.raw() > 0 ? 1 : 0;
    lo = std::min(lo, c.npv);
    hi = std::max(hi, c.npv);
    auto [it, fresh] = by_dim.try_emplace(c.spec.dimension, base.npv, base.npv);
    if (fresh) order.push_back(c.spec.dimension);
    it->second.first = std::min(it->second.first, c.npv);
    it->second.second = std::max(it->second.second, c.npv);
  }
  const size_t n = cases.size() + 1;
  std::string out = fmt::format("NPV > 0 in {} of {} case{}; range {} .. {} USD", positive, n, n == 1 ? "" : "s",
                                ShortUsd(lo), ShortUsd(hi));
  std::string most;
  Money spread;
  for (const std::string& d : order) {  // first in the grid's order wins a tie
    const Money s = by_dim[d].second - by_dim[d].first;
    if (most.empty() || s > spread) most = d, spread = s;
  }
  if (!most.empty()) out += fmt::format("; most sensitive to {} (NPV spread {} USD)", most, UsdText(spread));
  if (positive == static_cast<int>(n)) {
    out += ": the change pays in every case";
  } else if (positive == 0) {
    out += ": the change loses money in every case";
  } else {
    out += ": the answer depends on the guess";
  }
  return out;
}

Result<WhatIfResult> RunWhatIf(const Scenario& farm, const FleetChange& change, const std::filesystem::path& data_dir,
                               const RunOverrides& overrides, const WhatIfProgress& progress) {
  RS_ASSIGN_OR_RETURN(Catalog catalog, LoadCatalog(data_dir));
  WhatIfResult res;
  res.farm_name = farm.name;
  res.change_name = change.name;
  res.change_description = change.description;
  res.money = change.money;
  RS_ASSIGN_OR_RETURN(Scenario changed, ApplyChange(farm, change, catalog, &res.capital));
  std::optional<RentalIndex> index;
  if (auto r = RentalIndex::Load(data_dir)) index = std::move(*r);

  // The grid, one dimension at a time (defaults where the change file leaves a list out).
  const SensitivityGrid& g = change.grid;
  std::vector<WhatIfCase> cases;
  const bool any_point = std::any_of(farm.sites.begin(), farm.sites.end(),
                                     [](const SiteSpec& s) { return !s.settlement_point.empty(); });
  const Date elec0 = overrides.electricity_from.value_or(farm.market.electricity_from);
  const Date coin0 = overrides.market_from.value_or(farm.market.coin_from);
  if (g.enabled) {
    const int scale0 = farm.demand.scale_milli;
    std::vector<int> scales;
    if (g.demand_scale_milli) {
      scales = *g.demand_scale_milli;
    } else if (scale0 > 0) {
      for (int m : {250, 500, 2000, 4000}) scales.push_back(std::min(100'000, scale0 * m / 1000));
    } else {
      scales = {500, 1000, 2000, 4000};
    }
    for (int s : scales) {
      if (s == scale0) continue;
      WhatIfCase c = MakeCase("demand scale", Trim3(s));
      c.scale_milli = s;
      c.from_default = !g.demand_scale_milli;
      cases.push_back(c);
    }
    for (int m : g.rental_milli.value_or(std::vector<int>{500, 750, 1250, 1500})) {
      if (m == 1000) continue;
      WhatIfCase c = MakeCase("rental price", "x" + Trim3(m));
      c.rental_milli = m;
      c.from_default = !g.rental_milli;
      cases.push_back(c);
    }
    if (any_point) {
      std::vector<Date> dates = g.electricity_from.value_or(std::vector<Date>{elec0 + 91, elec0 + 182, elec0 + 274});
      for (Date d : dates) {
        if (d == elec0) continue;
        WhatIfCase c = MakeCase("electricity period", d.ToString());
        c.electricity_from = d;
        c.from_default = !g.electricity_from;
        cases.push_back(c);
      }
      std::set<std::string> base_points;
      for (const SiteSpec& s : farm.sites) base_points.insert(s.settlement_point);
      for (const std::string& pnt : g.settlement_points.value_or(std::vector<std::string>{"HB_WEST", "LZ_HOUSTON"})) {
        if (base_points.size() == 1 && base_points.count(pnt)) continue;
        WhatIfCase c = MakeCase("settlement point", pnt);
        c.settlement_point = pnt;
        c.from_default = !g.settlement_points;
        cases.push_back(c);
      }
    } else if (g.electricity_from || g.settlement_points) {
      return Err(InvalidArgumentError(
          "[sensitivity] electricity_from and settlement_points vary the wholesale price, but no site of the farm "
          "has a settlement_point (each pays a fixed price): leave them out"));
    } else {
      res.notes.push_back("no site pays a settlement point's price: the electricity dimensions are left out");
    }
    for (Date d : g.market_from.value_or(std::vector<Date>{coin0 - 730, coin0 - 365, coin0 + 365})) {
      if (d == coin0) continue;
      WhatIfCase c = MakeCase("coin period", d.ToString());
      c.market_from = d;
      c.from_default = !g.market_from;
      cases.push_back(c);
    }
  }

  const int64_t total = 4 + 2 * static_cast<int64_t>(cases.size());
  int64_t done = 0;

  // Resolves and replays one farm under `policies` (the first resolved scenario is reused).
  auto replay = [&](const Scenario& sc, const WhatIfCase& c, const std::string& side,
                    const std::vector<std::string>& policies) -> Result<std::vector<Replay>> {
    Scenario s = sc;
    RunOverrides ov = overrides;
    if (c.scale_milli) s.demand.scale_milli = *c.scale_milli;
    if (c.rental_milli) {
      const int64_t markup = MulDiv(s.demand.on_demand_markup_milli, *c.rental_milli, 1000).value_or(0);
      if (markup < 100 || markup > 10'000) {
        return Err(InvalidArgumentError(fmt::format(
            "[sensitivity] rental_multipliers: x{} makes the farm's on_demand_markup {}, outside 0.1 .. 10",
            FormatScaled(*c.rental_milli, 3), FormatScaled(markup, 3))));
      }
      s.demand.on_demand_markup_milli = static_cast<int>(markup);
    }
    if (c.electricity_from) ov.electricity_from = *c.electricity_from;
    if (c.settlement_point) {
      for (SiteSpec& site : s.sites) {
        if (!site.settlement_point.empty()) site.settlement_point = *c.settlement_point;
      }
    }
    if (c.market_from) ov.market_from = *c.market_from;
    RS_ASSIGN_OR_RETURN(ResolvedScenario rs, Resolve(s, data_dir, ov));
    // Samples as `rigshift sim` takes them (an hour, or the least multiple of the tick that is whole
    // hours), so that a replay here and there accounts the same seconds the same way.
    const int64_t sample_s = std::lcm<int64_t>(3600, rs.interval_s);
    std::vector<Replay> out;
    for (const std::string& policy : policies) {
      if (progress) progress(done, total, fmt::format("{} {}: {} ({})", c.dimension, c.label, side, policy));
      RS_ASSIGN_OR_RETURN(PolicyRun run, RunPolicy(rs, policy, sample_s, Progress{}));
      ++done;
      Replay r;
      r.money = MoneyOf(run.summary);
      r.ai_by_group = AiByGroup(rs, run);
      for (const GroupState& gs : rs.fleet.groups()) {
        r.models.push_back(gs.model ? gs.model->name : std::string());
        r.names.push_back(gs.name);
      }
      r.days = rs.scenario.market.days;
      r.mapping = rs.mapping;
      r.run = std::move(run);
      r.run.timeline.samples.clear();
      out.push_back(std::move(r));
    }
    return out;
  };

  res.horizon_start = farm.market.rental_date;
  const int64_t horizon_days = static_cast<int64_t>(change.money.horizon_years) * 365;
  Horizon horizon(&index, res.horizon_start, kPaybackYears * 365);
  auto evaluate = [&](CaseResult& cr, const Replay& before, const Replay& after) {
    cr.days = after.days;
    cr.before = before.money;
    cr.after = after.money;
    cr.delta_per_day = DivRound(after.money.profit - before.money.profit, after.days);
    std::vector<Money> flows = horizon.Flows(before, after);
    cr.payback_days = PaybackDays(res.capital.net(), flows);
    flows.resize(static_cast<size_t>(horizon_days));
    cr.npv = NetPresentValue(res.capital.net(), flows, change.money.salvage, change.money.discount_rate_ppm);
    cr.mapping = after.mapping;
  };

  const WhatIfCase base_case = MakeCase("base", "farm file");
  RS_ASSIGN_OR_RETURN(std::vector<Replay> before, replay(farm, base_case, "as it is", {"profit", "mine-only"}));
  RS_ASSIGN_OR_RETURN(std::vector<Replay> after, replay(changed, base_case, "as changed", {"profit", "mine-only"}));
  res.base.spec = base_case;
  evaluate(res.base, before[0], after[0]);
  res.days = res.base.days;
  {
    CaseResult mo;
    evaluate(mo, before[1], after[1]);
    res.mine_only_before = mo.before;
    res.mine_only_after = mo.after;
    res.mine_only_delta_per_day = mo.delta_per_day;
    res.mine_only_npv = mo.npv;
    res.mine_only_payback_days = mo.payback_days;
  }

  // The changed groups: sold ones from the farm as it is, bought ones from the farm as changed.
  auto group_part = [&](const Replay& r, const std::string& name, double fraction, ChangedGroup& cg) {
    for (size_t i = 0; i < r.names.size(); ++i) {
      if (r.names[i] != name) continue;
      const int64_t run_s = static_cast<int64_t>(r.days) * 86400;
      const double gpu_s = static_cast<double>(cg.gpus) / fraction * static_cast<double>(run_s);
      cg.model = r.models[i];
      cg.ai_share = gpu_s > 0 ? static_cast<double>(r.run.group_gpu_s_ai[i]) / gpu_s : 0;
      cg.mining_share = gpu_s > 0 ? static_cast<double>(r.run.group_gpu_s_mining[i]) / gpu_s : 0;
      cg.ai_gpu_h = static_cast<double>(r.run.group_gpu_s_ai[i]) * fraction / 3600.0;
      cg.mining_gpu_h = static_cast<double>(r.run.group_gpu_s_mining[i]) * fraction / 3600.0;
      cg.ai_revenue_est = Money(static_cast<int64_t>(std::llround(static_cast<double>(r.ai_by_group[i].raw()) * fraction)));
    }
  };
  for (const SellSpec& s : change.sell) {
    const NodeGroupSpec& spec = *std::find_if(farm.groups.begin(), farm.groups.end(),
                                              [&](const NodeGroupSpec& x) { return x.name == s.group; });
    ChangedGroup cg;
    cg.name = s.group;
    cg.what = "sold";
    cg.nodes = s.nodes.value_or(spec.nodes);
    cg.gpus = cg.nodes * std::max(1, spec.gpus_per_node);
    group_part(before[0], s.group, static_cast<double>(cg.nodes) / spec.nodes, cg);
    res.groups.push_back(cg);
  }
  for (const BuySpec& b : change.buy) {
    ChangedGroup cg;
    cg.name = b.group.name;
    cg.what = "bought";
    cg.nodes = b.group.nodes;
    cg.gpus = b.group.nodes * b.group.gpus_per_node;
    group_part(after[0], b.group.name, 1.0, cg);
    res.groups.push_back(cg);
  }

  for (const WhatIfCase& c : cases) {
    auto b = replay(farm, c, "as it is", {"profit"});
    auto a = b.has_value() ? replay(changed, c, "as changed", {"profit"}) : Result<std::vector<Replay>>(Err(b.error()));
    if (!a.has_value()) {
      if (!c.from_default) {
        return Err(a.error().WithContext(fmt::format("[sensitivity] {} {}", c.dimension, c.label)));
      }
      // A default case the data cannot hold (a coin year it lacks): left out, saying why.
      std::string why = a.error().message();
      if (const size_t nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
      res.notes.push_back(fmt::format("default case {} {} left out: {}", c.dimension, c.label, why));
      done += 2;
      continue;
    }
    CaseResult cr;
    cr.spec = c;
    evaluate(cr, (*b)[0], (*a)[0]);
    res.cases.push_back(std::move(cr));
  }
  res.replays = done;
  if (progress) progress(done, done, "");

  // How the replay becomes the horizon, in words, with the models whose index moves.
  std::string moving;
  for (const auto& [model, path] : horizon.paths()) {
    if (path.price.empty()) continue;
    const int64_t end = path.price[static_cast<size_t>(std::min<int64_t>(horizon_days, path.price.size()) - 1)];
    moving += fmt::format("{}{} {} -> {} USD/GPU-h", moving.empty() ? "" : "; ", model, Shown(path.at_start, 6),
                          Shown(end, 6));
  }
  res.extension = fmt::format(
      "Each replay of {} days gives a mean profit per day, as the farm is and as changed (profit policy). The "
      "horizon of {} years ({} days from the rental date {}) repeats that daily mean every day; each group's AI "
      "revenue moves with its model's on-demand rental index (index on the day / index on {}), which is "
      "interpolated between dated points and held flat after the last one{}. Coins, electricity and demand repeat "
      "the replayed period as they were. NPV discounts day k's flow by (1 + r)^-((k+1)/365) at r = {} % a year, "
      "with the capital paid on day 0 and the salvage at the end; payback is undiscounted (looked for up to {} "
      "years).",
      res.days, change.money.horizon_years, horizon_days, res.horizon_start.ToString(),
      res.horizon_start.ToString(), moving.empty() ? "" : " (over the horizon: " + moving + ")",
      Shown(change.money.discount_rate_ppm, 4), kPaybackYears);
  for (const std::string& a : change.assumptions) res.notes.push_back("assumption: " + a);
  res.verdict = Verdict(res.base, res.cases);
  return res;
}

// ---------------------------------------------------------------------------------------------
// The HTML report.

namespace {

std::string Esc(std::string_view s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += ch;
    }
  }
  return o;
}

// A tornado of NPV per case: one bar per case from the base NPV to the case's NPV, grouped by
// dimension, with the zero line and the base line.
std::string TornadoSvg(const WhatIfResult& r) {
  const int row_h = 20, left = 260, width = 520, top = 30;
  const int rows = static_cast<int>(r.cases.size()) + 1;
  const int height = top + rows * row_h + 30;
  double lo = static_cast<double>(r.base.npv.raw()), hi = lo;
  for (const CaseResult& c : r.cases) {
    lo = std::min(lo, static_cast<double>(c.npv.raw()));
    hi = std::max(hi, static_cast<double>(c.npv.raw()));
  }
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi - lo < 1) hi = lo + 1;
  auto x = [&](double v) { return left + (v - lo) / (hi - lo) * width; };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"NPV per case\" style=\"font:12px sans-serif\">\n",
      left + width + 120, height);
  s += fmt::format("<text x=\"{}\" y=\"16\" font-weight=\"bold\">NPV per case, USD (bars from the base case's NPV)</text>\n",
                   left);
  auto bar = [&](int row, const std::string& label, Money npv) {
    const double y = top + row * row_h;
    const double v = static_cast<double>(npv.raw());
    const double b = static_cast<double>(r.base.npv.raw());
    double x0 = x(std::min(v, b)), x1 = x(std::max(v, b));
    if (x1 - x0 < 2) x1 = x0 + 2;
    const char* color = npv.raw() > 0 ? "#2e7d32" : "#c62828";
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6, y + 14, Esc(label));
    s += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: NPV {} USD</title></rect>\n",
                     x0, y + 3, x1 - x0, row_h - 6, color, Esc(label), UsdText(npv));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>\n", std::max(x(v), x(b)) + 4, y + 14, ShortUsd(npv));
  };
  bar(0, "base", r.base.npv);
  for (size_t i = 0; i < r.cases.size(); ++i) {
    bar(static_cast<int>(i) + 1, r.cases[i].spec.dimension + " " + r.cases[i].spec.label, r.cases[i].npv);
  }
  const int y_end = top + rows * row_h;
  s += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#000\"/>\n", x(0), top, y_end);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">0</text>\n", x(0), y_end + 14);
  s += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n",
                   x(static_cast<double>(r.base.npv.raw())), top, y_end);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">base {}</text>\n",
                   x(static_cast<double>(r.base.npv.raw())), y_end + 26, ShortUsd(r.base.npv));
  s += "</svg>\n";
  return s;
}

std::string Row(std::initializer_list<std::string> cells, bool head = false) {
  std::string s = "<tr>";
  for (const auto& c : cells) s += (head ? "<th>" : "<td>") + c + (head ? "</th>" : "</td>");
  return s + "</tr>\n";
}

}  // namespace

std::string RenderWhatIfHtml(const WhatIfResult& r) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>What-if: {} on {}</title>\n", Esc(r.change_name), Esc(r.farm_name));
  h += "<style>body{font:14px sans-serif;max-width:1000px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
       "td:first-child,th:first-child{text-align:left}.verdict{font-size:17px;font-weight:bold;padding:10px;"
       "background:#f3f6fa;border-left:4px solid #1565c0}.box{border:1px solid #999;padding:8px 14px;background:#fafafa}"
       "</style></head><body>\n";
  h += fmt::format("<h1>What-if: {}</h1>\n<p>Farm <b>{}</b>. {}</p>\n", Esc(r.change_name), Esc(r.farm_name),
                   Esc(r.change_description));
  h += fmt::format("<p class=\"verdict\">{}</p>\n", Esc(r.verdict));
  h += "<h2>The answer in the base case</h2>\n<table>\n";
  h += Row({"", "as it is", "as changed", "change"}, true);
  auto money_row = [&](const char* what, Money a, Money b) {
    h += Row({what, UsdText(a), UsdText(b), UsdText(b - a)});
  };
  money_row("AI revenue, USD", r.base.before.ai, r.base.after.ai);
  money_row("mining revenue, USD", r.base.before.mining, r.base.after.mining);
  money_row("contracts and hosting, USD", r.base.before.other, r.base.after.other);
  money_row("energy, USD", r.base.before.energy, r.base.after.energy);
  money_row("profit, USD", r.base.before.profit, r.base.after.profit);
  h += Row({"profit per day, USD", UsdText(DivRound(r.base.before.profit, r.days)),
            UsdText(DivRound(r.base.after.profit, r.days)), UsdText(r.base.delta_per_day)});
  h += Row({"mine-only profit per day, USD", UsdText(DivRound(r.mine_only_before.profit, r.days)),
            UsdText(DivRound(r.mine_only_after.profit, r.days)), UsdText(r.mine_only_delta_per_day)});
  h += "</table>\n<table>\n";
  h += Row({"money", "USD"}, true);
  h += Row({"bought", UsdText(r.capital.buy)});
  h += Row({"sale proceeds", UsdText(r.capital.sale)});
  h += Row({"net capital", UsdText(r.capital.net())});
  h += Row({fmt::format("NPV over {} years at {} %", r.money.horizon_years, Shown(r.money.discount_rate_ppm, 4)),
            UsdText(r.base.npv)});
  h += Row({"payback (undiscounted)", PaybackText(r.base.payback_days)});
  h += Row({"NPV if the farm only mined", UsdText(r.mine_only_npv)});
  h += Row({"salvage at the end", UsdText(r.money.salvage)});
  h += "</table>\n<h2>The groups changed</h2>\n<table>\n";
  h += Row({"group", "model", "", "nodes", "GPUs", "AI share", "mining share", "AI GPU-h", "mining GPU-h",
            "AI revenue (est.), USD"},
           true);
  for (const ChangedGroup& g : r.groups) {
    h += Row({Esc(g.name), Esc(g.model), g.what, std::to_string(g.nodes), std::to_string(g.gpus),
              fmt::format("{:.1f} %", 100 * g.ai_share), fmt::format("{:.1f} %", 100 * g.mining_share),
              fmt::format("{:.0f}", g.ai_gpu_h), fmt::format("{:.0f}", g.mining_gpu_h), UsdText(g.ai_revenue_est)});
  }
  h += "</table>\n<p>Shares are of the group's GPU-time over the replay (a sold group's in the farm as it is, a bought "
       "group's as changed). A group's AI revenue is an estimate: the farm's AI revenue split over groups by leased "
       "GPU-hours x list price.</p>\n";
  h += "<h2>Sensitivity</h2>\n<p>Each case varies one input around the base case and replays the farm as it is and "
       "as changed under the profit policy.</p>\n";
  h += TornadoSvg(r);
  h += "<table>\n";
  h += Row({"dimension", "value", "profit/day as is", "profit/day changed", "change/day", "payback", "NPV, USD"}, true);
  auto case_row = [&](const CaseResult& c) {
    h += Row({Esc(c.spec.dimension), Esc(c.spec.label), UsdText(DivRound(c.before.profit, c.days)),
              UsdText(DivRound(c.after.profit, c.days)), UsdText(c.delta_per_day), PaybackText(c.payback_days),
              UsdText(c.npv)});
  };
  case_row(r.base);
  for (const CaseResult& c : r.cases) case_row(c);
  h += "</table>\n<h2>Assumptions</h2>\n<div class=\"box\"><ul>\n";
  h += fmt::format("<li>Replayed period (base, as changed): {}</li>\n", Esc(r.base.mapping));
  h += fmt::format("<li>{}</li>\n", Esc(r.extension));
  for (const std::string& n : r.notes) h += fmt::format("<li>{}</li>\n", Esc(n));
  h += "</ul></div>\n</body></html>\n";
  return h;
}

}  // namespace rigshift
