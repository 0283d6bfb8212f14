// Golden scenarios: every tests/golden/*.golden file is a farm, a stream of events and what must
// come out of each, run through the Controller and the engine (in the spirit of DuckDB's
// test/sql/*.test). The format, one directive a line ('#' starts a comment line):
//
//   fleet <the builder's text form>        (engine/testing/fleet_builder.h; may repeat, joined by ';')
//   params key=value ...                   (EngineParams fields by name, and seed=N for the Rng)
//   at <seconds> tick [coins=ETH:Ethash:2000:7.2e15:2,...] [energy=50 | energy=site:50,...]
//                     [rent=2.00 | rent=group:2.00,...]      (what is not given carries over)
//   at <seconds> request id=N gpus=N [interconnect=any|node|nvlink] [kind=on_demand|interruptible|
//                     reserved] [bid=USD] [max=USD] [models=A,B] [vram=GB] [workload=training]
//                     [duration=S] [tenant=T] [share=milli]
//   at <seconds> end lease=N
//   expect <kind> key=value key~substring key<=number key>=number ...
//
// Each event produces output lines; every one must be claimed by exactly one `expect` after the
// event, and every `expect` must claim one (an event with no `expect` must produce nothing):
//   decision request= outcome=placed|waiting|infeasible lease= reason=
//   start_lease request= lease= group= price= gpus= nodes= devices=node/slot,...
//   preempt_lease lease= group= reason=
//   start_mining | switch_mining group= coin= reason=      stop_mining group= reason=
//   curtail group= count= reason=                          error message=
// State can be asked about at any point after an event (these lines are not claimed):
//   expect group name= coin= leased= curtailed= mining=
//   expect site name= draw= cap=                 (facility watts, from the fleet)
//   expect lease id= state=active|none group= gpus= price= kind= nodes=
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "controller/controller.h"
#include "engine/testing/fleet_builder.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::SplitOutsideQuotes;
using testing::SplitWords;

struct Line {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string Text() const {
    std::string t = kind;
    for (const auto& [k, v] : fields)
      t += " " + k + "=" + (v.find(' ') == std::string::npos ? v : "'" + v + "'");
    return t;
  }
  const std::string* Get(std::string_view key) const {
    for (const auto& [k, v] : fields) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

struct Constraint {
  std::string key, op, value;
};

std::optional<int64_t> Number(const std::string& s) {
  auto v = ParseScaled(s, 6);
  if (!v) return std::nullopt;
  return *v;
}

bool Satisfies(const Line& line, const Constraint& c) {
  const std::string* v = line.Get(c.key);
  if (!v) return false;
  if (c.op == "~") return v->find(c.value) != std::string::npos;
  auto a = Number(*v), b = Number(c.value);
  if (c.op == "=") return *v == c.value || (a && b && *a == *b);
  if (!a || !b) return false;
  return c.op == "<=" ? *a <= *b : *a >= *b;
}

class RecordingActuator final : public Backend {
 public:
  // The plan's actions as the golden files list them: a lease's end is the event's own input.
  void Apply(const Plan& plan, const FleetState&) override {
    for (const Action& a : plan.actions) {
      if (a.kind != ActionKind::kEndLease) actions.push_back(a);
    }
  }
  std::vector<Action> actions;
};

// 2000000 -> "2.00", 1234500 -> "1.2345".
std::string Usd(int64_t micros) {
  std::string s = FormatScaled(micros, 6);
  while (s.size() > 3 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
  return s;
}

std::string DeviceList(const std::vector<std::pair<int, int>>& devices) {
  std::string s;
  for (auto [n, d] : devices) s += (s.empty() ? "" : ",") + std::to_string(n) + "/" + std::to_string(d);
  return s;
}

std::string NodeList(const std::vector<std::pair<int, int>>& devices) {
  std::set<int> nodes;
  for (auto [n, d] : devices) nodes.insert(n);
  std::string s;
  for (int n : nodes) s += (s.empty() ? "" : ",") + std::to_string(n);
  return s;
}

// Runs one golden script; returns the failures ("file:line: what"), none when it passes.
class GoldenRun {
 public:
  explicit GoldenRun(std::string name) : name_(std::move(name)) {}

  std::vector<std::string> Run(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::string raw;
    int n = 0;
    while (std::getline(in, raw)) {
      ++n;
      line_no_ = n;
      std::string line = raw.substr(0, raw.find_last_not_of(" \t\r") + 1);
      size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos || line[start] == '#') continue;
      line = line.substr(start);
      try {
        Directive(line);
      } catch (const std::exception& e) {
        Fail(e.what());
      }
    }
    line_no_ = n;
    CloseEvent();
    if (!controller_) Fail("no event: a golden file needs at least one `at` line");
    return failures_;
  }

 private:
  void Fail(const std::string& what) {
    failures_.push_back(name_ + ":" + std::to_string(line_no_) + ": " + what);
  }

  void Directive(const std::string& line) {
    const size_t sp = line.find(' ');
    const std::string word = line.substr(0, sp);
    const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (word == "fleet") {
      if (controller_) return Fail("`fleet` after the first event");
      fleet_text_ += (fleet_text_.empty() ? "" : ";") + rest;
    } else if (word == "params") {
      if (controller_) return Fail("`params` after the first event");
      for (const std::string& kv : SplitWords(rest)) Param(kv);
    } else if (word == "at") {
      CloseEvent();
      Event(SplitWords(rest));
    } else if (word == "expect") {
      Expect(SplitWords(rest));
    } else {
      Fail("unknown directive '" + word + "'");
    }
  }

  static std::pair<std::string, std::string> KeyValue(const std::string& kv) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("expected key=value, got '" + kv + "'");
    return {kv.substr(0, eq), kv.substr(eq + 1)};
  }

  void Param(const std::string& kv) {
    auto [k, v] = KeyValue(kv);
    auto num = [&] { return testing::Scaled(v, 0, k); };
    auto flag = [&] {
      if (v != "true" && v != "false") throw std::invalid_argument(k + " must be true or false");
      return v == "true";
    };
    std::map<std::string, int64_t*> ints = {{"pool_fee_ppm", &params_.pool_fee_ppm},
                                            {"switch_min_gain_ppm", &params_.switch_min_gain_ppm},
                                            {"switch_min_dwell_s", &params_.switch_min_dwell_s},
                                            {"miner_restart_s", &params_.miner_restart_s},
                                            {"resume_margin_ppm", &params_.resume_margin_ppm}};
    std::map<std::string, bool*> flags = {{"allow_ai", &params_.allow_ai},
                                          {"allow_mining", &params_.allow_mining},
                                          {"stop_mining_at_loss", &params_.stop_mining_at_loss},
                                          {"enforce_power_cap", &params_.enforce_power_cap},
                                          {"preempt_interruptible", &params_.preempt_interruptible},
                                          {"admit_at_list_price", &params_.admit_at_list_price}};
    if (auto it = ints.find(k); it != ints.end()) {
      *it->second = num();
    } else if (auto f = flags.find(k); f != flags.end()) {
      *f->second = flag();
    } else if (k == "fixed_algorithm") {
      params_.fixed_algorithm = v;
    } else if (k == "seed") {
      seed_ = static_cast<uint64_t>(num());
    } else {
      throw std::invalid_argument("unknown param '" + k + "'");
    }
  }

  void Start() {
    FleetState fleet = testing::ParseFleet(fleet_text_);
    view_.site_price.assign(fleet.sites().size(), testing::UsdPerMwh("50"));
    view_.list_price.assign(fleet.groups().size(), RentalPrice());
    rng_.emplace(seed_);
    controller_.emplace(std::move(fleet), params_);
  }

  const FleetState& fleet() const { return controller_->fleet(); }
  std::string GroupName(int g) const {
    return g >= 0 && g < static_cast<int>(fleet().groups().size()) ? fleet().groups()[g].name : "?";
  }

  // "50" for every entry, or "name:50,name:40" by name.
  template <typename T, typename Parse, typename Index>
  void PerEntry(const std::string& v, std::vector<T>& out, Parse parse, Index index) {
    if (v.find(':') == std::string::npos) {
      std::fill(out.begin(), out.end(), parse(v));
      return;
    }
    for (const std::string& one : SplitOutsideQuotes(v, ",")) {
      size_t colon = one.find(':');
      if (colon == std::string::npos) throw std::invalid_argument("expected name:value, got '" + one + "'");
      out[index(one.substr(0, colon))] = parse(one.substr(colon + 1));
    }
  }

  void Event(const std::vector<std::string>& words) {
    if (words.size() < 2) throw std::invalid_argument("expected `at <seconds> <event> ...`");
    const int64_t t = testing::Scaled(words[0], 0, "time");
    if (controller_ && t < now_.seconds) throw std::invalid_argument("time goes backwards");
    if (!controller_) Start();
    now_ = Timestamp{t};
    actuator_.actions.clear();
    outputs_.clear();
    claimed_.clear();
    in_event_ = true;
    event_line_ = line_no_;
    const std::string& what = words[1];
    std::map<std::string, std::string> kv;
    for (size_t i = 2; i < words.size(); ++i) {
      auto [k, v] = KeyValue(words[i]);
      kv[k] = v;
    }
    static const std::map<std::string, std::set<std::string>> kKeys = {
        {"tick", {"coins", "energy", "rent"}},
        {"request",
         {"id", "gpus", "interconnect", "kind", "bid", "max", "models", "vram", "workload", "duration",
          "tenant", "share"}},
        {"end", {"lease"}}};
    auto known = kKeys.find(what);
    if (known == kKeys.end()) throw std::invalid_argument("unknown event '" + what + "'");
    for (const auto& [k, v] : kv) {
      if (!known->second.count(k)) throw std::invalid_argument("unknown key '" + k + "' for " + what);
    }
    auto take = [&](const std::string& k) -> std::optional<std::string> {
      auto it = kv.find(k);
      if (it == kv.end()) return std::nullopt;
      std::string v = it->second;
      kv.erase(it);
      return v;
    };
    if (what == "tick") {
      if (auto c = take("coins"))
        view_.coins = c->empty() || *c == "none" ? std::vector<CoinQuote>{} : testing::ParseCoins(*c);
      if (auto e = take("energy")) {
        PerEntry(*e, view_.site_price, testing::UsdPerMwh,
                 [&](const std::string& s) { return testing::SiteIndex(fleet(), s); });
      }
      if (auto r = take("rent")) {
        PerEntry(*r, view_.list_price, testing::UsdPerGpuHour,
                 [&](const std::string& g) { return testing::GroupIndex(fleet(), g); });
      }
      view_.at = now_;
      auto plan = controller_->Tick(view_, now_, *rng_, &actuator_);
      if (!plan) outputs_.push_back({"error", {{"message", plan.error().ToString()}}});
    } else if (what == "request") {
      Request r;
      auto id = take("id");
      if (!id) throw std::invalid_argument("a request needs id=");
      r.id = RequestId(testing::Scaled(*id, 0, "id"));
      r.gpus = static_cast<int>(testing::Scaled(take("gpus").value_or("1"), 0, "gpus"));
      if (auto v = take("interconnect"); v && !ParseInterconnect(*v, &r.interconnect))
        throw std::invalid_argument("interconnect " + *v);
      if (auto v = take("kind"); v && !ParseRequestKind(*v, &r.kind))
        throw std::invalid_argument("kind " + *v);
      if (auto v = take("bid")) r.bid = testing::UsdPerGpuHour(*v);
      if (auto v = take("max")) r.max_price = testing::UsdPerGpuHour(*v);
      if (auto v = take("models")) {
        for (const std::string& m : SplitOutsideQuotes(*v, ",")) r.models.push_back(testing::Model(m)->key);
      }
      if (auto v = take("vram")) r.min_vram_gb = static_cast<int>(testing::Scaled(*v, 0, "vram"));
      if (auto v = take("workload")) {
        if (*v != "training" && *v != "inference") throw std::invalid_argument("workload " + *v);
        r.workload = *v == "training" ? Workload::kTraining : Workload::kInference;
      }
      if (auto v = take("duration")) r.duration_s = testing::Scaled(*v, 0, "duration");
      if (auto v = take("share")) r.price_milli = static_cast<int>(testing::Scaled(*v, 0, "share"));
      r.tenant = take("tenant").value_or("tenant" + std::to_string(r.id.value()));
      r.arrival = now_;
      auto d = controller_->Submit(r, view_, now_, *rng_, &actuator_);
      if (!d) {
        outputs_.push_back({"error", {{"message", d.error().ToString()}}});
      } else {
        outputs_.push_back({"decision",
                            {{"request", std::to_string(d->request.value())},
                             {"outcome", std::string(OutcomeName(d->outcome))},
                             {"lease", std::to_string(d->lease.value())},
                             {"reason", d->reason}}});
      }
    } else if (what == "end") {
      auto lease = take("lease");
      if (!lease) throw std::invalid_argument("end needs lease=");
      Status s = controller_->EndLease(LeaseId(testing::Scaled(*lease, 0, "lease")), view_, now_, *rng_, &actuator_);
      if (!s.ok()) outputs_.push_back({"error", {{"message", s.ToString()}}});
    }
    // Actions before the decision, in the order applied.
    std::vector<Line> actions;
    for (const Action& a : actuator_.actions) actions.push_back(Describe(a));
    outputs_.insert(outputs_.begin(), actions.begin(), actions.end());
    claimed_.assign(outputs_.size(), false);
  }

  Line Describe(const Action& a) const {
    Line l{std::string(ActionKindName(a.kind)), {}};
    auto add = [&](std::string k, std::string v) { l.fields.push_back({std::move(k), std::move(v)}); };
    switch (a.kind) {
      case ActionKind::kStartLease:
        add("request", std::to_string(a.request.value()));
        add("lease", std::to_string(a.lease.value()));
        add("group", GroupName(a.group));
        add("price", Usd(a.price.raw()));
        add("gpus", std::to_string(a.devices.size()));
        add("nodes", NodeList(a.devices));
        add("devices", DeviceList(a.devices));
        break;
      case ActionKind::kPreemptLease:
      case ActionKind::kEndLease:  // not recorded (RecordingActuator)
        add("lease", std::to_string(a.lease.value()));
        add("group", GroupName(a.group));
        break;
      case ActionKind::kStartMining:
      case ActionKind::kSwitchMining:
        add("group", GroupName(a.group));
        add("coin", a.coin);
        break;
      case ActionKind::kStopMining:
        add("group", GroupName(a.group));
        break;
      case ActionKind::kCurtail:
        add("group", GroupName(a.group));
        add("count", std::to_string(a.count));
        break;
      case ActionKind::kServeContract:
        add("group", GroupName(a.group));
        add("contract", std::to_string(a.contract));
        add("count", std::to_string(a.count));
        break;
      case ActionKind::kHostedPower:
        add("hosted", std::to_string(a.group));
        add("off", std::to_string(a.count));
        break;
    }
    add("reason", a.reason);
    return l;
  }

  // State lines, made when asked.
  std::vector<Line> StateLines(const std::string& kind, const std::vector<Constraint>& cs) const {
    std::vector<Line> out;
    const FleetState& f = fleet();
    if (kind == "group") {
      for (size_t g = 0; g < f.groups().size(); ++g) {
        const GroupState& gs = f.groups()[g];
        out.push_back({"group",
                       {{"name", gs.name},
                        {"coin", gs.mining_coin.empty() ? "-" : gs.mining_coin},
                        {"leased", std::to_string(gs.leased)},
                        {"curtailed", std::to_string(gs.curtailed)},
                        {"mining", std::to_string(f.mining_devices(static_cast<int>(g)))}}});
      }
    } else if (kind == "site") {
      for (size_t s = 0; s < f.sites().size(); ++s) {
        out.push_back({"site",
                       {{"name", f.sites()[s].name},
                        {"draw", std::to_string(testing::FleetDraw(f, view_, static_cast<int>(s)).raw())},
                        {"cap", std::to_string(f.sites()[s].power_cap.raw())}}});
      }
    } else if (kind == "lease") {
      for (const LeaseState& l : f.leases()) {
        out.push_back({"lease",
                       {{"id", std::to_string(l.id.value())},
                        {"state", "active"},
                        {"group", GroupName(l.group)},
                        {"gpus", std::to_string(l.devices.size())},
                        {"price", Usd(l.price.raw())},
                        {"kind", std::string(RequestKindName(l.kind))},
                        {"nodes", NodeList(l.devices)}}});
      }
      for (const Constraint& c : cs) {
        if (c.key == "id" && c.op == "=" && !f.lease(LeaseId(testing::Scaled(c.value, 0, "id")))) {
          out.push_back({"lease", {{"id", c.value}, {"state", "none"}}});
        }
      }
    }
    return out;
  }

  void Expect(const std::vector<std::string>& words) {
    if (!controller_) return Fail("`expect` before any event");
    if (words.empty()) return Fail("`expect` needs a kind");
    const std::string& kind = words[0];
    std::vector<Constraint> cs;
    for (size_t i = 1; i < words.size(); ++i) {
      const std::string& w = words[i];
      size_t p = w.find_first_of("<>~=");
      if (p == std::string::npos || p == 0) return Fail("expected key=value (or ~ <= >=), got '" + w + "'");
      Constraint c;
      c.key = w.substr(0, p);
      if (w[p] == '<' || w[p] == '>') {
        if (p + 1 >= w.size() || w[p + 1] != '=') return Fail("only <= and >= compare: '" + w + "'");
        c.op = w.substr(p, 2);
        c.value = w.substr(p + 2);
      } else {
        c.op = std::string(1, w[p]);
        c.value = w.substr(p + 1);
      }
      cs.push_back(std::move(c));
    }
    auto matches = [&](const Line& l) {
      return l.kind == kind &&
             std::all_of(cs.begin(), cs.end(), [&](const Constraint& c) { return Satisfies(l, c); });
    };
    if (kind == "group" || kind == "site" || kind == "lease") {
      std::vector<Line> state = StateLines(kind, cs);
      if (std::none_of(state.begin(), state.end(), matches)) {
        std::string have;
        for (const Line& l : state) have += "\n    " + l.Text();
        Fail("no " + kind + " matches '" + Join(words) +
             "'; the state is:" + (have.empty() ? " (none)" : have));
      }
      return;
    }
    if (!in_event_) return Fail("an output `expect` needs an event before it");
    claimed_.resize(outputs_.size(), false);
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (!claimed_[i] && matches(outputs_[i])) {
        claimed_[i] = true;
        return;
      }
    }
    std::string have;
    for (size_t i = 0; i < outputs_.size(); ++i)
      have += "\n    " + std::string(claimed_[i] ? "(claimed) " : "") + outputs_[i].Text();
    Fail("nothing matches '" + Join(words) + "'; the event produced:" + (have.empty() ? " nothing" : have));
  }

  void CloseEvent() {
    if (!in_event_) return;
    claimed_.resize(outputs_.size(), false);
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (!claimed_[i]) {
        failures_.push_back(name_ + ":" + std::to_string(event_line_) +
                            ": unexpected output of this event: " + outputs_[i].Text());
      }
    }
    in_event_ = false;
  }

  static std::string Join(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
  }

  std::string name_;
  int line_no_ = 0;
  std::vector<std::string> failures_;
  std::string fleet_text_;
  EngineParams params_;
  uint64_t seed_ = 1;
  std::optional<SplitMix64> rng_;
  RecordingActuator actuator_;
  std::optional<Controller> controller_;
  MarketView view_;
  Timestamp now_;
  bool in_event_ = false;
  int event_line_ = 0;
  std::vector<Line> outputs_;
  std::vector<bool> claimed_;
};

std::vector<std::string> RunGolden(std::string_view text, std::string name = "inline") {
  return GoldenRun(std::move(name)).Run(text);
}

std::vector<fs::path> GoldenFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(RIGSHIFT_GOLDEN_DIR)) {
    if (e.path().extension() == ".golden") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class GoldenTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenTest, Passes) {
  const fs::path& file = GetParam();
  std::vector<std::string> failures = RunGolden(testing::ReadText(file), file.filename().string());
  for (const std::string& f : failures) ADD_FAILURE() << f;
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenTest, ::testing::ValuesIn(GoldenFiles()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                           std::string name = info.param.stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(GoldenFiles, CoverTheFourAreas) {
  std::set<std::string> names;
  for (const fs::path& f : GoldenFiles()) names.insert(f.stem().string());
  for (const char* needed : {"placement", "preemption", "mining_switch", "power_cap"}) {
    EXPECT_TRUE(names.count(needed)) << "tests/golden/" << needed << ".golden is missing";
  }
}

// The runner itself must be able to fail: a wrong expectation, a missing one, an unknown word.
constexpr const char* kTiny = R"(
fleet a: 4xA100
at 0 tick coins=ETH:Ethash:2000:7.2e15:2 rent=2.00
expect start_mining group=a coin=ETH
at 10 request id=1 gpus=2
)";

TEST(GoldenRunner, PassesWhenEveryOutputIsExpected) {
  std::vector<std::string> f = RunGolden(
      std::string(kTiny) + "expect start_lease lease=1 gpus=2\nexpect decision request=1 outcome=placed\n");
  EXPECT_TRUE(f.empty()) << f.front();
}

TEST(GoldenRunner, FailsOnAnUnexpectedOutput) {
  std::vector<std::string> f = RunGolden(std::string(kTiny) + "expect decision request=1 outcome=placed\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find("inline:5: unexpected output of this event: start_lease"), std::string::npos) << f[0];
}

TEST(GoldenRunner, FailsOnAWrongExpectation) {
  std::vector<std::string> f =
      RunGolden(std::string(kTiny) + "expect start_lease lease=1 gpus=3\nexpect decision outcome=placed\n");
  ASSERT_EQ(f.size(), 2u) << "the wrong expectation, then the output it left unclaimed";
  EXPECT_NE(f[0].find("inline:6: nothing matches 'start_lease lease=1 gpus=3'"), std::string::npos) << f[0];
}

TEST(GoldenRunner, FailsOnStateThatDiffers) {
  std::vector<std::string> f = RunGolden(std::string(kTiny) +
                                         "expect start_lease lease=1\nexpect decision outcome=placed\n"
                                         "expect group name=a leased=3\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find("no group matches"), std::string::npos) << f[0];
}

TEST(GoldenRunner, FailsOnAnUnknownDirective) {
  std::vector<std::string> f =
      RunGolden(std::string(kTiny) + "expect decision outcome=placed\nexpect start_lease\nfrobnicate\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find("unknown directive 'frobnicate'"), std::string::npos) << f[0];
}

TEST(GoldenRunner, ParamsReachTheEngine) {
  // At 1000 USD/MWh a 3090 loses money on ETH: it starts only when told to mine at a loss.
  constexpr const char* kLoss =
      "fleet g: 1x'RTX 3090'\nat 0 tick coins=ETH:Ethash:2000:7.2e15:2 energy=1000\n";
  EXPECT_TRUE(RunGolden(kLoss).empty());
  std::vector<std::string> f = RunGolden(std::string("params stop_mining_at_loss=false seed=7\n") + kLoss +
                                         "expect start_mining coin=ETH\n");
  EXPECT_TRUE(f.empty()) << f.front();
  f = RunGolden(std::string("params stop_mining_at_los=false\n") + kLoss);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find("unknown param 'stop_mining_at_los'"), std::string::npos) << f[0];
}

}  // namespace
}  // namespace rigshift
