// Reading a scenario file: TOML (toml++) into a Scenario, with every problem named by file, line
// and key. docs/scenario.md documents the format; this file is its reference implementation.
//
// How decimals become integers. toml++ hands a TOML float over as a double and keeps no text, so
// a decimal key (pue, power_cap_kw, fixed_price_usd_per_kwh, the *_pct keys, the shares) is
// turned back into text with std::to_chars' shortest round-trip form and then read by
// ParseScaled, the same exact decimal reader the data importer uses. For a literal of up to 15
// significant digits that text is the literal's own value (a double keeps 15 decimal digits, so
// two different such literals never share a double and the shortest form is the literal itself):
// 0.055 becomes "0.055" and 55,000,000 micro-USD/MWh exactly, never 54,999,999. Digits past the
// unit's resolution are rounded half away from zero (pue 1.1234 -> 1123). TOML integers are used
// as they are.

#include "farm/scenario.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

namespace rigshift {
namespace {

std::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "a list";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a decimal number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// "1.000" -> "1", "0.250" -> "0.25", "12" -> "12".
std::string TrimDecimal(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string ShowScaled(int64_t raw, int scale) { return TrimDecimal(FormatScaled(raw, scale)); }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within a small edit distance, else "".
std::string Suggest(std::string_view got, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, got.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = EditDistance(got, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string JoinQuoted(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += "'" + names[i] + "'";
  }
  return out;
}

// Problems found so far, each with the line it is about (0: the file as a whole).
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}
  void Add(uint32_t line, std::string message) { list_.push_back({line, std::move(message)}); }
  void Add(const toml::source_region& at, std::string message) { Add(at.begin.line, std::move(message)); }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  // All problems, in line order, one a line: "farm.toml:12: [[group]] 'risers' ...".
  std::string Render() const {
    auto sorted = list_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [line, message] : sorted) {
      if (!out.empty()) out += '\n';
      out += line ? fmt::format("{}:{}: {}", file_, line, message) : fmt::format("{}: {}", file_, message);
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<std::pair<uint32_t, std::string>> list_;
};

// Reads the keys of one TOML table. Every getter records its key as known, so Finish() can
// report any other key as unknown (a typo must not be silently ignored). The label names the
// table in messages: "[market]", "[[site]] 'main'", "[[group]] #3".
class TableReader {
 public:
  TableReader(const toml::table& table, std::string label, Errors& errors)
      : table_(table), label_(std::move(label)), errors_(errors) {}

  const std::string& label() const { return label_; }
  void set_label(std::string label) { label_ = std::move(label); }
  const toml::table& table() const { return table_; }
  Errors& errors() { return errors_; }

  // The node of `key`, or nullptr; records the key as known. A required key that is absent is
  // reported at the table's own line.
  const toml::node* Get(std::string_view key, bool required = false) {
    known_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n && required) Error(table_.source(), fmt::format("{} is required", key));
    return n;
  }

  void Error(const toml::source_region& at, std::string_view message) {
    errors_.Add(at, fmt::format("{} {}", label_, message));
  }
  void WrongType(std::string_view key, const toml::node& n, std::string_view want) {
    Error(n.source(), fmt::format("{} must be {}, got {}", key, want, TypeName(n)));
  }

  // A non-empty string. Returns false when absent or invalid (`out` untouched).
  bool String(std::string_view key, std::string* out, bool required = false, bool allow_empty = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    const auto* s = n->as_string();
    if (!s) {
      WrongType(key, *n, "a string");
      return false;
    }
    if (!allow_empty && s->get().empty()) {
      Error(n->source(), fmt::format("{} must not be empty", key));
      return false;
    }
    *out = s->get();
    return true;
  }

  bool Bool(std::string_view key, bool* out) {
    const toml::node* n = Get(key);
    if (!n) return false;
    const auto* b = n->as_boolean();
    if (!b) {
      WrongType(key, *n, "true or false");
      return false;
    }
    *out = b->get();
    return true;
  }

  // A TOML integer in [lo, hi].
  bool Int(std::string_view key, int64_t lo, int64_t hi, int64_t* out, bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    const auto* i = n->as_integer();
    if (!i) {
      WrongType(key, *n, "a whole number");
      return false;
    }
    int64_t v = i->get();
    if (v < lo || v > hi) {
      Error(n->source(), fmt::format("{} must be between {} and {}, got {}", key, lo, hi, v));
      return false;
    }
    *out = v;
    return true;
  }

  template <typename T>
  bool Int(std::string_view key, int64_t lo, int64_t hi, T* out, bool required = false) {
    int64_t v = 0;
    if (!Int(key, lo, hi, &v, required)) return false;
    *out = static_cast<T>(v);
    return true;
  }

  // A decimal number (TOML integer or float) read as value x 10^scale, in [lo, hi] (both scaled).
  // Messages show values in the file's unit.
  bool Scaled(std::string_view key, int scale, int64_t lo, int64_t hi, int64_t* out, bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    std::string text;
    if (const auto* i = n->as_integer()) {
      text = std::to_string(i->get());
    } else if (const auto* f = n->as_floating_point()) {
      double d = f->get();
      if (!std::isfinite(d)) {
        Error(n->source(), fmt::format("{} must be a finite number, got {}", key, d));
        return false;
      }
      // Shortest text that reads back as the same double: the literal itself for up to 15
      // significant digits (see the top of this file).
      std::array<char, 64> buf{};
      auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
      RS_CHECK(ec == std::errc());
      text.assign(buf.data(), end);
    } else {
      WrongType(key, *n, "a number");
      return false;
    }
    auto range_error = [&] {
      Error(n->source(), fmt::format("{} must be between {} and {}, got {}", key, ShowScaled(lo, scale),
                                     ShowScaled(hi, scale), TrimDecimal(text)));
    };
    Result<int64_t> v = ParseScaled(text, scale);
    if (!v.has_value()) {  // only magnitudes far outside any range get here (1e300)
      range_error();
      return false;
    }
    if (*v < lo || *v > hi) {
      range_error();
      return false;
    }
    *out = *v;
    return true;
  }

  template <typename T>
  bool Scaled(std::string_view key, int scale, int64_t lo, int64_t hi, T* out, bool required = false) {
    int64_t v = 0;
    if (!Scaled(key, scale, lo, hi, &v, required)) return false;
    *out = static_cast<T>(v);
    return true;
  }

  // A TOML local date (2021-01-01) or a string holding one ("2021-01-01").
  bool DateValue(std::string_view key, Date* out, bool required = false) {
    const toml::node* n = Get(key, required);
    if (!n) return false;
    std::string text;
    if (const auto* d = n->as_date()) {
      const toml::date& v = d->get();
      text = fmt::format("{:04}-{:02}-{:02}", v.year, v.month, v.day);
    } else if (const auto* s = n->as_string()) {
      text = s->get();
    } else {
      WrongType(key, *n, "a date (YYYY-MM-DD)");
      return false;
    }
    Result<Date> d = ParseDate(text);
    if (!d.has_value()) {
      Error(n->source(), fmt::format("{}: {}", key, d.error().message()));
      return false;
    }
    *out = *d;
    return true;
  }

  // A list of non-empty strings; a single string is taken as a list of one when `allow_single`.
  bool StringList(const toml::node& n, std::string_view key, std::vector<std::string>* out,
                  bool allow_single) {
    if (allow_single && n.is_string()) {
      if (n.as_string()->get().empty()) {
        Error(n.source(), fmt::format("{} must not be empty", key));
        return false;
      }
      *out = {n.as_string()->get()};
      return true;
    }
    const auto* arr = n.as_array();
    if (!arr) {
      WrongType(key, n, allow_single ? "a list of strings (or one string)" : "a list of strings");
      return false;
    }
    std::vector<std::string> values;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const auto* s = e.as_string();
      if (!s) {
        Error(e.source(), fmt::format("{} item {} must be a string, got {}", key, i + 1, TypeName(e)));
        return false;
      }
      if (s->get().empty()) {
        Error(e.source(), fmt::format("{} item {} must not be empty", key, i + 1));
        return false;
      }
      values.push_back(s->get());
    }
    *out = std::move(values);
    return true;
  }
  bool StringList(std::string_view key, std::vector<std::string>* out) {
    const toml::node* n = Get(key);
    return n && StringList(*n, key, out, /*allow_single=*/false);
  }

  // Reports every key of the table that no getter asked for.
  void Finish() {
    for (auto&& [k, v] : table_) {
      if (std::find(known_.begin(), known_.end(), k.str()) != known_.end()) continue;
      errors_.Add(k.source(), fmt::format("{} has no key '{}'{}", label_, k.str(), Suggest(k.str(), known_)));
    }
  }

 private:
  const toml::table& table_;
  std::string label_;
  Errors& errors_;
  std::vector<std::string> known_;
};

constexpr int64_t kMaxNodes = 1'000'000;
constexpr int64_t kMaxRunDays = 3660;            // ten years
constexpr int64_t kMaxOffsetS = 3650LL * 86400;  // ten years into a trace
const std::vector<std::string> kPolicyNames = {"profit", "easy-backfill", "mine-only", "static-split", "idle-mining"};

void ReadScenarioTable(TableReader& r, Scenario& s) {
  r.String("name", &s.name, /*required=*/true);
  r.String("description", &s.description, false, /*allow_empty=*/true);
  int64_t seed = 0;
  if (r.Int("seed", 0, std::numeric_limits<int64_t>::max(), &seed)) s.seed = static_cast<uint64_t>(seed);
  r.Finish();
}

void ReadSite(TableReader& r, SiteSpec& site) {
  r.String("name", &site.name, /*required=*/true);
  if (!site.name.empty()) r.set_label("[[site]] '" + site.name + "'");
  int64_t cap_w = 0;
  // kW with up to 3 decimals -> W; at most 1 GW per site.
  if (r.Scaled("power_cap_kw", 3, 1, 1'000'000'000, &cap_w, /*required=*/true)) site.power_cap = Watts(cap_w);
  r.Scaled("pue", 3, 1000, 3000, &site.pue_milli);
  r.Bool("datacenter", &site.datacenter);
  const toml::node* sp = r.table().get("settlement_point");
  const toml::node* fp = r.table().get("fixed_price_usd_per_kwh");
  r.String("settlement_point", &site.settlement_point);
  int64_t price = 0;
  // USD/kWh with up to 9 decimals -> micro-USD/MWh (x 1e9); 0 .. 5 USD/kWh.
  if (r.Scaled("fixed_price_usd_per_kwh", 9, 0, 5'000'000'000, &price)) site.fixed_price = EnergyPrice(price);
  if (sp && fp) {
    const toml::node* later = fp->source().begin.line >= sp->source().begin.line ? fp : sp;
    r.Error(later->source(),
            "gives both settlement_point and fixed_price_usd_per_kwh: choose one electricity source");
  } else if (!sp && !fp) {
    r.Error(r.table().source(),
            "needs an electricity source: settlement_point (an ERCOT series, e.g. \"HB_HUBAVG\") "
            "or fixed_price_usd_per_kwh");
  }
  int64_t idle = 0;
  if (r.Int("idle_w_per_gpu", 0, 1000, &idle)) site.idle_power_per_gpu = Watts(idle);
  if (r.String("backend", &site.backend) && site.backend != "agents" && site.backend != "slurm") {
    r.Error(r.table().get("backend")->source(), "backend must be \"agents\" or \"slurm\", got \"" + site.backend + "\"");
  }
  r.String("slurm_conf", &site.slurm_conf);
  r.String("slurm_ai_partition", &site.slurm_ai_partition);
  r.String("slurm_mining_partition", &site.slurm_mining_partition);
  int64_t poll = 0;
  if (r.Int("slurm_poll_ms", 50, 60'000, &poll)) site.slurm_poll_ms = static_cast<int>(poll);
  if (const toml::node* pc = r.Get("price_curtailment")) {
    if (const toml::table* t = pc->as_table()) {
      TableReader c(*t, r.label() + " price_curtailment", r.errors());
      PriceCurtailmentTerms terms;
      int64_t v = 0;
      // USD/MWh with up to 6 decimals -> micro-USD/MWh; ERCOT's offer cap is 5,000 USD/MWh.
      if (c.Scaled("strike_usd_per_mwh", 6, -1'000'000'000, 100'000'000'000, &v, /*required=*/true)) {
        terms.strike = EnergyPrice(v);
      }
      if (c.Int("confirm_minutes", 0, 1440, &v)) terms.confirm_s = v * 60;
      if (c.Int("ramp_down_minutes", 0, 1440, &v)) terms.ramp_down_s = v * 60;
      if (c.Int("min_hold_minutes", 0, 10080, &v)) terms.min_hold_s = v * 60;
      if (c.Scaled("target_kw", 3, 0, 1'000'000'000, &v)) terms.target = Watts(v);
      if (c.Int("restore_batch_devices", 1, 1'000'000, &v)) terms.restore_batch_devices = v;
      if (c.Int("restore_interval_minutes", 1, 1440, &v)) terms.restore_interval_s = v * 60;
      c.Finish();
      site.price_curtailment = terms;
    } else {
      r.WrongType("price_curtailment", *pc,
                  "a table (price_curtailment = { strike_usd_per_mwh = 150, confirm_minutes = 15, ... })");
    }
  }
  if (const toml::node* fc = r.Get("four_cp")) {
    if (const toml::table* t = fc->as_table()) {
      TableReader c(*t, r.label() + " four_cp", r.errors());
      SiteSpec::FourCp spec;
      int64_t v = 0;
      // June-September has 2,928 hours.
      if (c.Int("max_hours", 1, 2928, &v, /*required=*/true)) spec.max_hours = static_cast<int>(v);
      // USD per kW-year with up to 6 decimals -> micro-USD.
      if (c.Scaled("rate_usd_per_kw_year", 6, 0, 10'000'000'000, &v)) spec.rate_per_kw_year = Money(v);
      c.Finish();
      site.four_cp = spec;
    } else {
      r.WrongType("four_cp", *fc, "a table (four_cp = { max_hours = 40 })");
    }
  }
  r.Finish();
}

// `site`: one of the scenario's sites, or left out when there is one.
void ReadSiteRef(TableReader& r, std::string* site, const std::vector<SiteSpec>& sites) {
  const toml::node* site_node = r.table().get("site");
  if (r.String("site", site, /*required=*/sites.size() != 1)) {
    bool found = std::any_of(sites.begin(), sites.end(), [&](const SiteSpec& s) { return s.name == *site; });
    if (!found) {
      std::vector<std::string> names;
      for (const auto& s : sites) names.push_back(s.name);
      r.Error(site_node->source(),
              fmt::format("site '{}' is not a [[site]] of this scenario (sites: {}){}", *site,
                          names.empty() ? "none" : JoinQuoted(names), Suggest(*site, names)));
    }
  } else if (!site_node && sites.size() == 1) {
    *site = sites.front().name;
  }
}

void ReadHosted(TableReader& r, HostedSpec& h, const std::vector<SiteSpec>& sites) {
  r.String("name", &h.name, /*required=*/true);
  if (!h.name.empty()) r.set_label("[[hosted]] '" + h.name + "'");
  ReadSiteRef(r, &h.site, sites);
  r.String("customer", &h.customer, /*required=*/true);
  int64_t w = 0;
  if (r.Scaled("power_kw", 3, 1, int64_t{1'000'000'000}, &w, /*required=*/true)) h.power = Watts(w);
  h.reserved = h.power;
  if (r.Scaled("reserved_kw", 3, 1, int64_t{1'000'000'000}, &w)) h.reserved = Watts(w);
  int64_t fee = 0;
  if (r.Scaled("fee_usd_per_kw_month", 6, 0, int64_t{1'000'000'000'000}, &fee)) h.fee_per_kw_month = Money(fee);
  int64_t per_kwh = 0;
  // USD per kWh = micro-USD per MWh / 1e9: read with 9 decimals.
  if (r.Scaled("all_in_usd_per_kwh", 9, 0, int64_t{100'000'000'000}, &per_kwh)) h.all_in_price = EnergyPrice(per_kwh);
  r.Bool("interruptible", &h.interruptible);
  if (r.Scaled("curtail_credit_usd_per_kwh", 9, 0, int64_t{100'000'000'000}, &per_kwh)) {
    h.curtail_credit = EnergyPrice(per_kwh);
  }
  // The metered outlet: all three together (pdu defaults to "1"), or none.
  const toml::node* url = r.table().get("meter_url");
  if (r.String("meter_url", &h.meter_url) && !h.meter_url.starts_with("http://") &&
      !h.meter_url.starts_with("https://")) {
    r.Error(url->source(), "meter_url must be the PDU's Redfish service, http://HOST[:PORT] or https://HOST[:PORT], "
                           "got \"" + h.meter_url + "\"");
  }
  const bool has_pdu = r.String("pdu", &h.pdu), has_outlet = r.String("outlet", &h.outlet);
  if (url == nullptr && (has_pdu || has_outlet)) {
    r.Error(r.table().get(has_pdu ? "pdu" : "outlet")->source(),
            "gives pdu or outlet without meter_url: name the PDU's Redfish service too (meter_url = \"http://...\")");
  } else if (url != nullptr && !has_outlet && !r.table().get("outlet")) {
    r.Error(url->source(), "gives meter_url without outlet: which outlet of the PDU feeds this machine?");
  }
  if (url != nullptr && h.pdu.empty()) h.pdu = "1";
  r.Finish();
}

// "HOST:PORT", "HOST" (port 4028) or "[V6]:PORT": "" when fine, else what is wrong.
std::string CheckAsicAddress(const std::string& a) {
  std::string host = a, port;
  if (a.starts_with("[")) {
    size_t close = a.find(']');
    if (close == std::string::npos) return "has '[' without ']'";
    host = a.substr(1, close - 1);
    if (close + 1 < a.size()) {
      if (a[close + 1] != ':') return "has something other than :PORT after ']'";
      port = a.substr(close + 2);
    }
  } else if (size_t colon = a.rfind(':'); colon != std::string::npos) {
    if (a.find(':') != colon) return "is an IPv6 address without brackets ([ADDRESS]:PORT)";
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  if (host.empty()) return "has no host";
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') return "is not HOST:PORT";
  }
  if (a.find(':') != std::string::npos && !a.starts_with("[") && port.empty()) return "has an empty port";
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return "has port '" + port + "', not 1 .. 65535";
    }
  }
  return "";
}

void ReadPool(TableReader& r, PoolSpec& p) {
  r.String("coin", &p.coin, /*required=*/true);
  if (!p.coin.empty()) r.set_label("[[pool]] '" + p.coin + "'");
  r.String("url", &p.url, /*required=*/true);
  if (!p.url.empty() && p.url.find("://") == std::string::npos) {
    r.Error(r.table().get("url")->source(),
            "url must be the pool's URL with its scheme (\"stratum+tcp://HOST:PORT\"), got \"" + p.url + "\"");
  }
  r.String("user", &p.user, /*required=*/true);
  r.String("password", &p.password, /*required=*/false, /*allow_empty=*/true);
  r.Finish();
}

void ReadContract(TableReader& r, ContractSpec& c) {
  r.String("name", &c.name, /*required=*/true);
  if (!c.name.empty()) r.set_label("[[contract]] '" + c.name + "'");
  r.String("customer", &c.customer, /*required=*/true);
  r.String("algorithm", &c.algorithm, /*required=*/true);
  int64_t v = 0;
  const bool ths = r.table().get("hashrate_ths") != nullptr, mhs = r.table().get("hashrate_mhs") != nullptr;
  if (ths == mhs) {
    r.Error(r.table().source(), "needs exactly one of hashrate_ths (TH/s) and hashrate_mhs (MH/s)");
  }
  // Read with 6 decimals: TH/s to MH/s, MH/s to H/s. At most 1 EH/s (1,000,000 TH/s): more than
  // any farm, and within what a day's revenue arithmetic holds.
  if (r.Scaled("hashrate_ths", 6, 1, int64_t{1'000'000'000'000}, &v)) {
    c.hashrate = HashRate(static_cast<__int128>(v) * 1'000'000);
  }
  if (r.Scaled("hashrate_mhs", 6, 1, int64_t{1'000'000'000'000'000'000}, &v)) c.hashrate = HashRate(v);
  Date start;
  if (r.DateValue("start", &start)) c.start = start;
  r.Int("days", 1, 3650, &c.days, /*required=*/true);
  if (r.Scaled("price_usd", 6, 0, int64_t{1'000'000'000'000'000}, &v)) c.price = Money(v);
  const bool fee_th = r.table().get("fee_usd_per_th_day") != nullptr, fee_mh = r.table().get("fee_usd_per_mh_day") != nullptr;
  if (fee_th && fee_mh) r.Error(r.table().source(), "give fee_usd_per_th_day or fee_usd_per_mh_day, not both");
  // The fee's unit is the hashrate's: a fee per MH/s-day on TH/s sold is a slip worth 1e6 x.
  if (ths && fee_mh) r.Error(r.table().get("fee_usd_per_mh_day")->source(), "fee_usd_per_mh_day with hashrate_ths: give the fee per TH/s (fee_usd_per_th_day), in the hashrate's unit");
  if (mhs && fee_th) r.Error(r.table().get("fee_usd_per_th_day")->source(), "fee_usd_per_th_day with hashrate_mhs: give the fee per MH/s (fee_usd_per_mh_day), in the hashrate's unit");
  if (r.Scaled("fee_usd_per_th_day", 6, 0, int64_t{1'000'000'000'000}, &v)) c.fee_per_th_day = Money(v);
  if (r.Scaled("fee_usd_per_mh_day", 12, 0, int64_t{1'000'000'000'000'000'000}, &v)) c.fee_per_th_day = Money(v);
  r.Int("suspend_after_days", 0, 3650, &c.suspend_after_days);
  r.Finish();
}

void ReadGroup(TableReader& r, NodeGroupSpec& g, const std::vector<SiteSpec>& sites) {
  r.String("name", &g.name, /*required=*/true);
  if (!g.name.empty()) r.set_label("[[group]] '" + g.name + "'");
  // `site` may be left out when the scenario has exactly one site.
  const toml::node* site_node = r.table().get("site");
  if (r.String("site", &g.site, /*required=*/sites.size() != 1)) {
    bool found = std::any_of(sites.begin(), sites.end(), [&](const SiteSpec& s) { return s.name == g.site; });
    if (!found) {
      std::vector<std::string> names;
      for (const auto& s : sites) names.push_back(s.name);
      r.Error(site_node->source(),
              fmt::format("site '{}' is not a [[site]] of this scenario (sites: {}){}", g.site,
                          names.empty() ? "none" : JoinQuoted(names), Suggest(g.site, names)));
    }
  } else if (!site_node && sites.size() == 1) {
    g.site = sites.front().name;
  }
  r.String("model", &g.model, /*required=*/true);
  r.Int("nodes", 1, kMaxNodes, &g.nodes, /*required=*/true);
  // gpus_per_node, cpu_cores and ram_gb are required for GPU groups; an ASIC group (the model
  // decides, when the farm is built) may leave them out: each ASIC is a node of one device.
  bool gpn_ok = r.Int("gpus_per_node", 1, 16, &g.gpus_per_node);
  if (const toml::node* n = r.Get("pcie_lanes")) {
    const auto* i = n->as_integer();
    if (!i) {
      r.WrongType("pcie_lanes", *n, "a whole number");
    } else if (int64_t v = i->get(); v != 1 && v != 4 && v != 8 && v != 16) {
      r.Error(n->source(), fmt::format("pcie_lanes must be 1 (riser), 4, 8 or 16, got {}", v));
    } else {
      g.pcie_lanes = static_cast<int>(v);
    }
  }
  r.Int("pcie_gen", 1, 5, &g.pcie_gen);
  const toml::node* nv = r.table().get("nvlink_domain");
  if (r.Int("nvlink_domain", 0, 16, &g.nvlink_domain) && gpn_ok && g.nvlink_domain != 0) {
    if (g.nvlink_domain < 2 || g.nvlink_domain > g.gpus_per_node || g.gpus_per_node % g.nvlink_domain != 0) {
      r.Error(nv->source(),
              fmt::format("nvlink_domain must be 0 (no NVLink) or a divisor of gpus_per_node ({}) "
                          "of at least 2, got {}",
                          g.gpus_per_node, g.nvlink_domain));
      g.nvlink_domain = 0;
    }
  }
  r.Int("cpu_cores", 1, 4096, &g.cpu_cores);
  r.Int("ram_gb", 1, 65536, &g.ram_gb);
  r.String("fabric", &g.fabric, /*required=*/false, /*allow_empty=*/true);
  // ASICs on the LAN: one address per node, with their firmware (the model is checked to be an
  // ASIC when the farm is built).
  const toml::node* addrs = r.table().get("asic_addresses");
  if (addrs && r.StringList("asic_addresses", &g.asic_addresses)) {
    if (g.nodes > 0 && static_cast<int64_t>(g.asic_addresses.size()) != g.nodes) {
      r.Error(addrs->source(), fmt::format("asic_addresses has {} address(es) for {} node(s): give one per node, "
                                           "node i at address i",
                                           g.asic_addresses.size(), g.nodes));
    }
    for (size_t i = 0; i < g.asic_addresses.size(); ++i) {
      if (std::string why = CheckAsicAddress(g.asic_addresses[i]); !why.empty()) {
        r.Error(addrs->source(), fmt::format("asic_addresses item {} \"{}\" {}", i + 1, g.asic_addresses[i], why));
      }
    }
  }
  const toml::node* fw = r.table().get("asic_firmware");
  if (r.String("asic_firmware", &g.asic_firmware)) {
    static const std::vector<std::string> kFirmware = {"antminer", "braiins", "luxos", "cgminer"};
    if (std::find(kFirmware.begin(), kFirmware.end(), g.asic_firmware) == kFirmware.end()) {
      r.Error(fw->source(), fmt::format("asic_firmware must be \"antminer\", \"braiins\", \"luxos\" or \"cgminer\", "
                                        "got \"{}\"{}",
                                        g.asic_firmware, Suggest(g.asic_firmware, kFirmware)));
    }
    if (!addrs) r.Error(fw->source(), "gives asic_firmware without asic_addresses (one HOST:PORT per node)");
  } else if (addrs && !fw) {
    r.Error(addrs->source(), "gives asic_addresses without asic_firmware (\"antminer\", \"braiins\", \"luxos\" or "
                             "\"cgminer\"): the server speaks each firmware's own commands");
  }
  r.Finish();
}

void ReadMarket(TableReader& r, MarketMapping& m) {
  bool have_start = r.DateValue("start", &m.start, /*required=*/true);
  r.Int("days", 1, kMaxRunDays, &m.days, /*required=*/true);
  // Each series defaults to the simulated calendar itself (no shift).
  if (have_start) m.coin_from = m.electricity_from = m.rental_date = m.start;
  r.DateValue("coin_from", &m.coin_from);
  r.DateValue("electricity_from", &m.electricity_from);
  r.DateValue("rental_date", &m.rental_date);
  const toml::node* iv = r.table().get("interval_s");
  if (r.Int("interval_s", 60, 86400, &m.interval_s) && 86400 % m.interval_s != 0) {
    r.Error(iv->source(),
            fmt::format("interval_s must divide 86400 (a whole number of ticks a day: 60, 300, 900, "
                        "3600, ...), got {}",
                        m.interval_s));
    m.interval_s = 300;
  }
  r.Finish();
}

void ReadDemand(TableReader& r, DemandSpec& d) {
  // A file of the data folder, by name: a scenario (one uploaded to the console, say) reads no
  // other file on the machine.
  if (r.String("trace", &d.trace) &&
      (d.trace.empty() || d.trace.find('/') != std::string::npos || d.trace == "." || d.trace == "..")) {
    r.Error(r.table().get("trace")->source(),
            fmt::format("trace must name a file of the data folder (no '/'), got \"{}\"", d.trace));
    d.trace = DemandSpec{}.trace;
  }
  const toml::node* os = r.table().get("offset_s");
  const toml::node* od = r.table().get("offset_days");
  r.Int("offset_s", 0, kMaxOffsetS, &d.offset_s);
  int64_t days = 0;
  if (r.Int("offset_days", 0, kMaxOffsetS / 86400, &days)) d.offset_s = days * 86400;
  if (os && od) r.Error(od->source(), "gives both offset_s and offset_days: choose one");
  r.Scaled("scale", 3, 0, 100'000, &d.scale_milli);
  r.Bool("repeat", &d.repeat);
  r.StringList("any_models", &d.any_models);
  r.StringList("tenants", &d.tenants);
  r.Int("min_vram_gb", 0, 1024, &d.min_vram_gb);
  r.Scaled("on_demand_markup", 3, 100, 10'000, &d.on_demand_markup_milli);
  r.Scaled("interruptible_fraction", 3, 0, 1000, &d.interruptible_fraction_milli);
  r.Scaled("time_limit_factor", 3, 1000, 100'000, &d.time_limit_factor_milli);
  if (const toml::node* mm = r.Get("model_map")) {
    const toml::table* t = mm->as_table();
    if (!t) {
      r.WrongType("model_map", *mm, "a table ([demand.model_map]: trace type = [\"farm model\", ...])");
    } else {
      for (auto&& [k, v] : *t) {
        std::vector<std::string> models;
        std::string key = "model_map '" + std::string(k.str()) + "'";
        if (r.StringList(v, key, &models, /*allow_single=*/true))
          d.model_map[std::string(k.str())] = std::move(models);
      }
    }
  }
  r.Finish();
}

constexpr int64_t kMaxWaitS = 366 * 86400;  // a year: longer is "forever", which is 0

void ReadPolicy(TableReader& r, PolicySpec& p) {
  if (const toml::node* n = r.Get("name")) {
    if (!n->is_string()) {
      r.WrongType("name", *n, "a string");
    } else if (std::string v = n->as_string()->get();
               std::find(kPolicyNames.begin(), kPolicyNames.end(), v) == kPolicyNames.end()) {
      r.Error(n->source(), fmt::format("name must be {}, got '{}'{}", JoinQuoted(kPolicyNames), v,
                                       Suggest(v, kPolicyNames)));
    } else {
      p.name = v;
    }
  }
  // Percent -> parts per million: x 10^4.
  r.Scaled("pool_fee_pct", 4, 0, 1'000'000, &p.pool_fee_ppm);
  r.Scaled("switch_min_gain_pct", 4, 0, 1'000'000, &p.switch_min_gain_ppm);
  r.Int("switch_min_dwell_s", 0, 86400, &p.switch_min_dwell_s);
  r.Int("miner_restart_s", 0, 3600, &p.miner_restart_s);
  r.Scaled("resume_margin_pct", 4, 0, 1'000'000, &p.resume_margin_ppm);
  r.Scaled("static_split_ai_share", 3, 0, 1000, &p.static_split_ai_milli);
  r.String("idle_mining_algorithm", &p.idle_mining_algorithm);
  if (const toml::node* n = r.Get("reservations")) {
    const auto* v = n->as_string();
    if (!v) {
      r.WrongType("reservations", *n, "a string");
    } else if (v->get() != "per_group" && v->get() != "head" && v->get() != "none") {
      r.Error(n->source(), fmt::format("reservations must be 'per_group', 'head' or 'none', got '{}'", v->get()));
    } else {
      p.reservations = v->get();
    }
  }
  int64_t keep = p.keep_whole_nodes;
  r.Int("keep_whole_nodes", 0, 1000, &keep);
  p.keep_whole_nodes = static_cast<int>(keep);
  r.Int("max_wait_on_demand_s", 0, kMaxWaitS, &p.max_wait_on_demand_s);
  r.Int("max_wait_interruptible_s", 0, kMaxWaitS, &p.max_wait_interruptible_s);
  r.Int("max_wait_reserved_s", 0, kMaxWaitS, &p.max_wait_reserved_s);
  r.Int("max_waiting_per_tenant", 0, 100'000'000, &p.max_waiting_per_tenant);
  r.Finish();
}

// The table at `key` of the root, or nullptr (absent, or the wrong shape: reported).
const toml::table* SingleTable(const toml::table& root, std::string_view key, Errors& errors) {
  const toml::node* n = root.get(key);
  if (!n) return nullptr;
  if (const auto* t = n->as_table()) return t;
  errors.Add(n->source(),
             fmt::format("{} must be a table: write [{}] on a line of its own, then its keys", key, key));
  return nullptr;
}

// The tables of an array of tables ([[key]]), or an empty list (absent, or the wrong shape).
std::vector<const toml::table*> TableArray(const toml::table& root, std::string_view key, Errors& errors) {
  std::vector<const toml::table*> out;
  const toml::node* n = root.get(key);
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) {
    errors.Add(n->source(),
               fmt::format("{} must be a list of tables: write [[{}]] once for each {}, not [{}]", key, key,
                           key, key));
    return out;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    if (const auto* t = e.as_table()) {
      out.push_back(t);
    } else {
      errors.Add(e.source(), fmt::format("[[{}]] #{} must be a table, got {}", key, i + 1, TypeName(e)));
    }
  }
  return out;
}

Result<Scenario> Read(const toml::table& root, const std::string& file) {
  Errors errors(file);
  Scenario s;

  static const std::vector<std::string> kSections = {"scenario", "site",   "group",  "hosted", "contract",
                                                     "pool",     "market", "demand", "policy"};
  for (auto&& [k, v] : root) {
    if (std::find(kSections.begin(), kSections.end(), k.str()) == kSections.end()) {
      errors.Add(k.source(),
                 fmt::format("unknown {} '{}': a scenario has [scenario], [[site]], [[group]], [[hosted]], "
                             "[[contract]], [market], [demand] and [policy]{}, and [[pool]] for the ASICs "
                             "`rigshift server` drives",
                             v.is_table() || v.is_array() ? "section" : "key", k.str(),
                             Suggest(k.str(), kSections)));
    }
  }

  if (const toml::table* t = SingleTable(root, "scenario", errors)) {
    TableReader r(*t, "[scenario]", errors);
    ReadScenarioTable(r, s);
  } else if (!root.get("scenario")) {
    errors.Add(0, "[scenario] is missing (it needs at least name = \"...\")");
  }

  auto site_tables = TableArray(root, "site", errors);
  if (!root.get("site")) errors.Add(0, "no [[site]]: a scenario needs at least one site");
  for (size_t i = 0; i < site_tables.size(); ++i) {
    TableReader r(*site_tables[i], fmt::format("[[site]] #{}", i + 1), errors);
    SiteSpec site;
    ReadSite(r, site);
    for (const auto& other : s.sites) {
      if (!site.name.empty() && other.name == site.name) {
        errors.Add(site_tables[i]->get("name")->source(),
                   fmt::format("[[site]] name '{}' is used by an earlier [[site]]: names must be unique",
                               site.name));
      }
    }
    s.sites.push_back(std::move(site));
  }

  auto group_tables = TableArray(root, "group", errors);
  if (!root.get("group")) errors.Add(0, "no [[group]]: a scenario needs at least one group of nodes");
  for (size_t i = 0; i < group_tables.size(); ++i) {
    TableReader r(*group_tables[i], fmt::format("[[group]] #{}", i + 1), errors);
    NodeGroupSpec g;
    ReadGroup(r, g, s.sites);
    for (const auto& other : s.groups) {
      if (!g.name.empty() && other.name == g.name) {
        errors.Add(
            group_tables[i]->get("name")->source(),
            fmt::format("[[group]] name '{}' is used by an earlier [[group]]: names must be unique", g.name));
      }
    }
    for (const auto& other : s.groups) {
      for (const std::string& a : g.asic_addresses) {
        if (std::find(other.asic_addresses.begin(), other.asic_addresses.end(), a) != other.asic_addresses.end()) {
          errors.Add(group_tables[i]->get("asic_addresses")->source(),
                     fmt::format("[[group]] '{}' asic_addresses: \"{}\" is also an address of [[group]] '{}'", g.name,
                                 a, other.name));
        }
      }
    }
    for (size_t a = 0; a < g.asic_addresses.size(); ++a) {
      for (size_t b = 0; b < a; ++b) {
        if (g.asic_addresses[a] == g.asic_addresses[b]) {
          errors.Add(group_tables[i]->get("asic_addresses")->source(),
                     fmt::format("[[group]] '{}' asic_addresses: \"{}\" is given twice (items {} and {})", g.name,
                                 g.asic_addresses[a], b + 1, a + 1));
        }
      }
    }
    s.groups.push_back(std::move(g));
  }

  auto hosted_tables = TableArray(root, "hosted", errors);
  for (size_t i = 0; i < hosted_tables.size(); ++i) {
    TableReader r(*hosted_tables[i], fmt::format("[[hosted]] #{}", i + 1), errors);
    HostedSpec h;
    ReadHosted(r, h, s.sites);
    for (const auto& other : s.hosted) {
      if (!h.name.empty() && other.name == h.name) {
        errors.Add(hosted_tables[i]->get("name")->source(),
                   fmt::format("[[hosted]] name '{}' is used by an earlier [[hosted]]: names must be unique", h.name));
      }
    }
    s.hosted.push_back(std::move(h));
  }
  auto contract_tables = TableArray(root, "contract", errors);
  for (size_t i = 0; i < contract_tables.size(); ++i) {
    TableReader r(*contract_tables[i], fmt::format("[[contract]] #{}", i + 1), errors);
    ContractSpec c;
    ReadContract(r, c);
    for (const auto& other : s.contracts) {
      if (!c.name.empty() && other.name == c.name) {
        errors.Add(contract_tables[i]->get("name")->source(),
                   fmt::format("[[contract]] name '{}' is used by an earlier [[contract]]: names must be unique", c.name));
      }
    }
    s.contracts.push_back(std::move(c));
  }

  auto pool_tables = TableArray(root, "pool", errors);
  for (size_t i = 0; i < pool_tables.size(); ++i) {
    TableReader r(*pool_tables[i], fmt::format("[[pool]] #{}", i + 1), errors);
    PoolSpec p;
    ReadPool(r, p);
    for (const auto& other : s.pools) {
      if (!p.coin.empty() && other.coin == p.coin) {
        errors.Add(pool_tables[i]->get("coin")->source(),
                   fmt::format("[[pool]] coin '{}' has an earlier [[pool]]: one pool per coin", p.coin));
      }
    }
    s.pools.push_back(std::move(p));
  }

  if (const toml::table* t = SingleTable(root, "market", errors)) {
    TableReader r(*t, "[market]", errors);
    ReadMarket(r, s.market);
  } else if (!root.get("market")) {
    errors.Add(0, "[market] is missing (it needs at least start and days)");
  }

  if (const toml::table* t = SingleTable(root, "demand", errors)) {
    TableReader r(*t, "[demand]", errors);
    ReadDemand(r, s.demand);
  }
  if (const toml::table* t = SingleTable(root, "policy", errors)) {
    TableReader r(*t, "[policy]", errors);
    ReadPolicy(r, s.policy);
  }

  if (!errors.empty()) return Err(InvalidArgumentError(errors.Render()));
  return s;
}

}  // namespace

Result<Scenario> ParseScenario(std::string_view toml_text, const std::string& name_for_errors) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(name_for_errors));
  } catch (const toml::parse_error& e) {
    return Err(
        InvalidArgumentError(fmt::format("{}:{}:{}: TOML syntax error: {}", name_for_errors,
                                         e.source().begin.line, e.source().begin.column, e.description())));
  }
  return Read(root, name_for_errors);
}

Result<Scenario> LoadScenario(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return Err(InvalidArgumentError(fmt::format("scenario file '{}' is a directory", file.string())));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Err(NotFoundError(fmt::format("scenario file '{}' cannot be read", file.string())));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Err(DataLossError(fmt::format("scenario file '{}': read error", file.string())));
  return ParseScenario(buf.str(), file.string());
}

}  // namespace rigshift
