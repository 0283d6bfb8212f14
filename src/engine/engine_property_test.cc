// Properties of the engine, driven through the Controller over random farms and event streams
// (rapidcheck): random fleets of 1-6 node groups on 1-2 sites (random models, hosts, NVLink, power
// caps), and random streams of market ticks, requests and lease ends. After every event the
// fleet must hold DESIGN.md section 8's promises:
//   - no device is in two leases, and the fleet's counters agree with its leases;
//   - a gang is all or nothing: a lease has exactly the request's GPU count, inside one node or
//     one NVLink domain when asked, on a group whose model, VRAM, tier and license allow it;
//   - mining only on devices without a lease;
//   - after a tick, a site whose leases alone fit under its cap draws no more than the cap, and
//     an admission never takes a site from under its cap to over it, with mining alone, with
//     leases, and with an idle draw per GPU;
//   - the same seed and inputs give the same plans, field by field;
//   - the ledger balances: what the actuator was told to bill equals the per-lease usage this
//     test tracks on its own, and the GPU-seconds the fleet's counters integrate to.
// A failing case is printed in the golden files' syntax (tests/golden) as far as it goes: the
// list prices are a comment, and an `end` names the live lease by its position.
// More cases: RC_PARAMS="max_success=3000" build/.../engine_test --gtest_filter='EngineProperty*'.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "engine/testing/fleet_builder.h"

namespace rigshift {
namespace {

using testing::AtWall;
using testing::FleetDraw;

// ---- scenarios ---------------------------------------------------------------------------------

struct Event {
  enum class Kind { kTick, kRequest, kEnd };
  Kind kind = Kind::kTick;
  int64_t at = 0;
  std::string coins;                // tick: the coin quotes in force
  std::vector<std::string> energy;  // tick: USD/MWh per site
  Request request;                  // request
  int pick = 0;                     // end: which live lease, by position in id order, modulo their number
};

struct Scenario {
  std::string fleet;              // the builder's text form
  std::vector<std::string> rent;  // list price per group, USD per GPU-hour
  std::vector<Event> events;
  uint64_t seed = 1;
};

std::string Cents(int64_t cents) {
  std::string sign = cents < 0 ? "-" : "";
  cents = std::abs(cents);
  std::string frac = std::to_string(cents % 100);
  return sign + std::to_string(cents / 100) + "." + (frac.size() < 2 ? "0" : "") + frac;
}

std::ostream& operator<<(std::ostream& os, const Scenario& s) {
  os << "\nfleet " << s.fleet << "\n";
  os << "# rent per group:";
  for (const auto& r : s.rent) os << " " << r;
  os << "  seed " << s.seed << "\n";
  for (const Event& e : s.events) {
    os << "at " << e.at << " ";
    switch (e.kind) {
      case Event::Kind::kTick: {
        os << "tick coins=" << e.coins << " energy=";
        for (size_t i = 0; i < e.energy.size(); ++i) os << (i ? "," : "") << "s" << i << ":" << e.energy[i];
        break;
      }
      case Event::Kind::kRequest: {
        const Request& r = e.request;
        os << "request id=" << r.id.value() << " gpus=" << r.gpus
           << " interconnect=" << InterconnectName(r.interconnect) << " kind=" << RequestKindName(r.kind);
        if (r.kind == RequestKind::kInterruptible) os << " bid=" << FormatScaled(r.bid.raw(), 6);
        if (r.workload == Workload::kTraining) os << " workload=training";
        if (r.min_vram_gb) os << " vram=" << r.min_vram_gb;
        if (!r.models.empty()) os << " models='" << r.models[0] << "'";
        if (r.price_milli != 1000) os << " share=" << r.price_milli;
        if (r.duration_s) os << " duration=" << r.duration_s;
        break;
      }
      case Event::Kind::kEnd:
        os << "end (live lease #" << e.pick << ")";
        break;
    }
    os << "\n";
  }
  return os;
}

const std::vector<std::string> kModels = {"A100",        "H100",   "RTX A4000", "RTX 3090",
                                          "RTX 3060 Ti", "RX 580", "CMP 170HX"};

// Upper bound of one GPU's board draw, mining or AI, for sizing random caps.
int64_t MaxBoardWatts(const DeviceModel& m) {
  int64_t w = m.board_power.value_or(Watts()).raw();
  for (const auto& r : m.rates) w = std::max(w, r.power.value_or(Watts()).raw());
  return w;
}

struct GenOptions {
  bool idle_power = true;  // sites draw idle power per GPU not mining or leased
  bool requests = true;    // requests and lease ends between the ticks (else ticks only)
};

// Sized to the full range always: rapidcheck's default ramp makes most early cases too small to
// reach placement or preemption. Shrinking still works from there.
rc::Gen<Scenario> GenScenario(GenOptions options) {
  return rc::gen::resize(
      100, rc::gen::exec([options] {
        const bool idle_power = options.idle_power;
        Scenario s;
        const int sites = *rc::gen::inRange(1, 3);
        const int groups = *rc::gen::inRange(1, 7);
        std::vector<int> pue(sites), idle(sites), site_max(sites, 0);
        std::vector<bool> dc(sites);
        for (int i = 0; i < sites; ++i) {
          pue[i] = *rc::gen::element(1000, 1100, 1250, 1500);
          idle[i] = idle_power ? *rc::gen::inRange(1, 80) : 0;
          dc[i] = *rc::gen::element(false, false, false, true);
        }
        std::ostringstream groups_text;
        for (int g = 0; g < groups; ++g) {
          // Mostly models that can serve AI somewhere; H100 (see suitability_test.cc) and CMP cannot.
          const std::string model = *rc::gen::weightedElement<std::string>({{3, "A100"},
                                                                            {2, "RTX 3090"},
                                                                            {2, "RTX A4000"},
                                                                            {2, "RTX 3060 Ti"},
                                                                            {1, "RX 580"},
                                                                            {1, "H100"},
                                                                            {1, "CMP 170HX"}});
          const int gpus = *rc::gen::element(1, 2, 4, 6, 8);
          const int nodes = *rc::gen::inRange(1, 5);
          const int site = *rc::gen::inRange(0, sites);
          groups_text << "; g" << g << ": " << gpus << "x'" << model << "' nodes=" << nodes << " site=s"
                      << site << " pcie=x" << *rc::gen::element(1, 4, 8, 16, 16, 16);
          std::vector<int> domains;
          for (int d = 1; d <= gpus; ++d) {
            if (gpus % d == 0) domains.push_back(d);
          }
          if (*rc::gen::element(false, true)) groups_text << " nvlink=" << *rc::gen::elementOf(domains);
          if (*rc::gen::inRange(0, 4) == 0) {  // a poor host now and then
            groups_text << " cores=" << *rc::gen::inRange(0, 2 * gpus + 2)
                        << " ram=" << *rc::gen::inRange(0, 48 * gpus);
          }
          s.rent.push_back(Cents(*rc::gen::element(0, 10, 30, 50, 100, 200, 300, 300)));
          site_max[site] += MaxBoardWatts(*testing::Model(model)) * gpus * nodes * pue[site] / 1000 +
                            idle[site] * gpus * nodes;
        }
        std::ostringstream fleet;
        for (int i = 0; i < sites; ++i) {
          // From a cap that binds hard to one that never binds.
          const int64_t cap = std::max<int64_t>(1, site_max[i] * *rc::gen::inRange(5, 150) / 100);
          fleet << (i ? "; " : "") << "site s" << i << " cap=" << cap << "W pue=" << pue[i] / 1000 << "."
                << (pue[i] % 1000) / 10 << " idle=" << idle[i] << "W" << (dc[i] ? " datacenter" : "");
        }
        s.fleet = fleet.str() + groups_text.str();
        s.seed = *rc::gen::inRange<uint64_t>(1, 1000);

        const int events = *rc::gen::inRange(1, 80);
        int64_t now = 0;
        int64_t next_request = 1;
        for (int i = 0; i < events; ++i) {
          Event e;
          e.at = now;
          e.kind = i == 0 || !options.requests
                       ? Event::Kind::kTick
                       : *rc::gen::weightedElement<Event::Kind>(
                             {{3, Event::Kind::kTick}, {5, Event::Kind::kRequest}, {2, Event::Kind::kEnd}});
          switch (e.kind) {
            case Event::Kind::kTick: {
              std::vector<std::string> coins;
              // Each coin quoted now and then: in_ten times out of ten, at a price between lo and hi cents.
              auto quote = [&](int in_ten, const std::string& coin, int lo, int hi, const std::string& rest) {
                if (*rc::gen::inRange(0, 10) < in_ten)
                  coins.push_back(coin + Cents(*rc::gen::inRange(lo, hi)) + rest);
              };
              quote(8, "ETH:Ethash:", 20'000, 400'000, ":7.2e15:2");
              quote(4, "ETC:Etchash:", 500, 6'000, ":7.2e14:2");
              quote(6, "RVN:KawPow:", 1, 60, ":1.98e11:1");
              quote(3, "ERG:Autolykos2:", 5, 200, ":4.32e11:1");
              for (size_t c = 0; c < coins.size(); ++c) e.coins += (c ? "," : "") + coins[c];
              for (int site = 0; site < sites; ++site) {
                e.energy.push_back(std::to_string(*rc::gen::inRange(-20, 600)));
              }
              break;
            }
            case Event::Kind::kRequest: {
              Request& r = e.request;
              r.id = RequestId(next_request++);
              r.tenant = "t" + std::to_string(*rc::gen::inRange(0, 4));
              r.gpus =
                  *rc::gen::weightedElement<int>({{8, 1}, {6, 2}, {6, 4}, {4, 8}, {2, 3}, {2, 12}, {1, 0}});
              r.interconnect = *rc::gen::weightedElement<Interconnect>(
                  {{3, Interconnect::kAny}, {2, Interconnect::kNode}, {1, Interconnect::kNvlink}});
              r.kind = *rc::gen::element(RequestKind::kOnDemand, RequestKind::kInterruptible,
                                         RequestKind::kReserved);
              if (r.kind == RequestKind::kInterruptible) {
                r.bid = RentalPrice(*rc::gen::inRange(1, 400) * 10'000);
              }
              r.workload =
                  *rc::gen::weightedElement<Workload>({{4, Workload::kInference}, {1, Workload::kTraining}});
              r.min_vram_gb = *rc::gen::element(0, 0, 0, 0, 0, 16, 24, 48);
              if (*rc::gen::inRange(0, 10) == 0) {
                r.models = {testing::Model(*rc::gen::elementOf(kModels))->key};
              }
              r.price_milli = *rc::gen::element(1000, 1000, 1000, 500);
              r.duration_s = *rc::gen::element(0, 600, 3600);
              r.arrival = Timestamp{now};
              break;
            }
            case Event::Kind::kEnd:
              e.pick = *rc::gen::inRange(0, 16);
              break;
          }
          s.events.push_back(std::move(e));
          now += *rc::gen::element(0, 30, 300, 900);
        }
        return s;
      }));
}

// ---- driving a scenario through the Controller -------------------------------------------------

struct Billing {
  int64_t start = 0, end = -1;
  int64_t gpus = 0;
  RentalPrice price;
  bool operator==(const Billing&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Billing& b) {
  return os << "{start " << b.start << ", end " << b.end << ", gpus " << b.gpus << ", price " << b.price.raw()
            << "}";
}

// Records what the controller hands the world, and bills it.
class RecordingActuator final : public Backend {
 public:
  void Apply(const Plan& plan, const FleetState&) override {
    for (const Action& a : plan.actions) {
      if (a.kind == ActionKind::kStartLease) {
        bills[a.lease.value()] = Billing{plan.at.seconds, -1, static_cast<int64_t>(a.devices.size()), a.price};
      } else if (a.kind == ActionKind::kPreemptLease || a.kind == ActionKind::kEndLease) {
        Close(a.lease.value(), plan.at);
      }
      if (a.kind != ActionKind::kEndLease) applied.push_back(a);
    }
  }
  void Close(int64_t lease, Timestamp now) {
    auto it = bills.find(lease);
    if (it == bills.end() || it->second.end >= 0) {
      problems.push_back("lease " + std::to_string(lease) + " ended twice or never started");
      return;
    }
    it->second.end = now.seconds;
  }
  std::map<int64_t, Billing> bills;
  std::vector<Action> applied;
  std::vector<std::string> problems;
};

std::string Describe(const Action& a) {
  std::ostringstream os;
  os << ActionKindName(a.kind) << " group=" << a.group << " request=" << a.request.value()
     << " lease=" << a.lease.value() << " coin=" << a.coin << " count=" << a.count
     << " price=" << a.price.raw() << " devices=";
  for (auto [n, s] : a.devices) os << n << "/" << s << ",";
  os << " reason=" << a.reason;
  return os.str();
}

std::string Describe(const Decision& d) {
  return "decision request=" + std::to_string(d.request.value()) +
         " outcome=" + std::string(OutcomeName(d.outcome)) + " lease=" + std::to_string(d.lease.value()) +
         " reason=" + d.reason;
}

MarketView ViewAt(const Scenario& sc, const FleetState& fleet, const Event& tick) {
  MarketView v;
  v.at = Timestamp{tick.at};
  v.coins = tick.coins.empty() ? std::vector<CoinQuote>{} : testing::ParseCoins(tick.coins);
  for (const auto& e : tick.energy) v.site_price.push_back(testing::UsdPerMwh(e));
  for (const auto& r : sc.rent) v.list_price.push_back(testing::UsdPerGpuHour(r));
  EXPECT_EQ(v.site_price.size(), fleet.sites().size());
  return v;
}

// The state promises; "" when they hold.
std::string CheckState(const FleetState& f, const std::map<int64_t, Request>& requests) {
  std::ostringstream err;
  std::map<std::pair<int, int>, int64_t> owner;
  std::vector<int64_t> leased(f.groups().size(), 0);
  for (const LeaseState& l : f.leases()) {
    const std::string name = "lease " + std::to_string(l.id.value());
    if (l.group < 0 || l.group >= static_cast<int>(f.groups().size())) return name + ": no such group";
    const GroupState& g = f.groups()[l.group];
    for (auto d : l.devices) {
      auto [it, inserted] = owner.emplace(d, l.id.value());
      if (!inserted) {
        err << "device " << d.first << "/" << d.second << " is in leases " << it->second << " and "
            << l.id.value();
        return err.str();
      }
      if (f.lease_on(d.first, d.second) != l.id.value()) return name + ": the device index disagrees";
      if (f.node_group(d.first) != l.group) return name + ": a device outside its group";
    }
    leased[l.group] += static_cast<int64_t>(l.devices.size());
    auto r = requests.find(l.request.value());
    if (r == requests.end()) return name + ": for a request never made";
    const Request& q = r->second;
    if (static_cast<int>(l.devices.size()) != q.gpus) {
      err << name << ": " << l.devices.size() << " devices for a request of " << q.gpus;
      return err.str();
    }
    if (q.interconnect != Interconnect::kAny) {
      for (auto d : l.devices) {
        if (d.first != l.devices[0].first) return name + ": a node gang across nodes";
      }
    }
    if (q.interconnect == Interconnect::kNvlink) {
      if (g.nvlink_domain <= 0) return name + ": an NVLink gang on a group without NVLink";
      for (auto d : l.devices) {
        if (d.second / g.nvlink_domain != l.devices[0].second / g.nvlink_domain)
          return name + ": NVLink gang across domains";
      }
    }
    if (!q.models.empty() && std::find(q.models.begin(), q.models.end(), g.model->key) == q.models.end()) {
      return name + ": a model the request did not ask for";
    }
    if (g.model->vram_gb.value_or(0) < q.min_vram_gb) return name + ": too little VRAM";
    if (!Serves(g.suitability, q.workload == Workload::kTraining ? Tier::kTraining : Tier::kInference)) {
      return name + ": on a group whose suitability or license does not allow it (" + g.name + ")";
    }
    if (l.kind != q.kind || l.tenant != q.tenant) return name + ": kind or tenant differs from the request";
  }
  int64_t taken = 0;
  for (int node = 0; node < f.node_count(); ++node) {
    const GroupState& g = f.groups()[f.node_group(node)];
    int free = 0;
    for (int slot = 0; slot < g.gpus_per_node; ++slot) {
      if (f.lease_on(node, slot) != 0) {
        ++taken;
        if (!owner.count({node, slot})) return "device with a lease id but in no lease";
      } else {
        ++free;
      }
    }
    if (free != f.free_on(node)) return "node " + std::to_string(node) + ": free count disagrees";
  }
  if (taken != static_cast<int64_t>(owner.size())) return "device index and leases disagree";
  for (size_t gi = 0; gi < f.groups().size(); ++gi) {
    const GroupState& g = f.groups()[gi];
    if (g.leased != leased[gi]) return g.name + ": leased counter disagrees with its leases";
    const int64_t mining = f.mining_devices(static_cast<int>(gi));
    if (mining < 0 || mining > g.devices - g.leased) {
      err << g.name << ": " << mining << " GPUs mining with " << g.devices - g.leased << " without a lease";
      return err.str();
    }
    if (g.curtailed < 0 || g.curtailed > g.devices) return g.name + ": curtailed count out of range";
    if (!g.mining_coin.empty() && !g.suitability.mining_licensed)
      return g.name + ": mines where mining is not licensed";
  }
  return "";
}

// After a tick: every site whose leases alone (the rest idle) fit under its cap is under it.
std::string CheckPower(const FleetState& f, const MarketView& view) {
  for (size_t si = 0; si < f.sites().size(); ++si) {
    const SiteState& s = f.sites()[si];
    int64_t floor = 0;
    for (const GroupState& g : f.groups()) {
      if (g.site != static_cast<int>(si)) continue;
      floor += g.leased * AtWall(g.ai_power, s.pue_milli).raw() +
               (g.devices - g.leased) * AtWall(s.idle_power_per_gpu, s.pue_milli).raw();
    }
    if (floor > s.power_cap.raw()) continue;
    const int64_t draw = FleetDraw(f, view, static_cast<int>(si)).raw();
    if (draw > s.power_cap.raw()) {
      std::ostringstream err;
      err << "site " << s.name << " draws " << draw << " W over its cap " << s.power_cap.raw()
          << " W (leases and idle: " << floor << " W);";
      for (const GroupState& g : f.groups()) {
        if (g.site == static_cast<int>(si)) {
          err << " " << g.name << ": " << g.devices << " GPUs, " << g.leased << " leased, coin '"
              << g.mining_coin << "', " << g.curtailed << " curtailed;";
        }
      }
      return err.str();
    }
  }
  return "";
}

struct RunResult {
  std::vector<std::string> transcript;           // every action and decision, all fields, in order
  std::string failure;                           // the first broken promise, "" if none
  std::map<int64_t, Billing> billed;             // what the actuator was told
  std::map<int64_t, Billing> tracked;            // what this test saw on its own
  int64_t gpu_seconds_integrated = 0;            // the fleet's leased counters over time
  int placed = 0, preempted = 0, curtailed = 0;  // how much of the engine the stream reached
};

// Facility draw of every site now (needs a view for the mining coins' power).
std::vector<int64_t> Draws(const FleetState& f, const MarketView& view) {
  std::vector<int64_t> out;
  for (size_t si = 0; si < f.sites().size(); ++si)
    out.push_back(FleetDraw(f, view, static_cast<int>(si)).raw());
  return out;
}

RunResult Drive(const Scenario& sc, bool check_power) {
  RunResult out;
  FleetState fleet = testing::ParseFleet(sc.fleet);
  RecordingActuator actuator;
  Controller controller(std::move(fleet), EngineParams{});
  SplitMix64 rng(sc.seed);
  std::optional<MarketView> view;
  std::map<int64_t, Request> requests;
  int64_t last_t = 0, leased_now = 0;
  auto fail = [&](const std::string& at, const std::string& why) {
    if (out.failure.empty()) out.failure = at + ": " + why;
  };
  auto total_leased = [&] {
    int64_t n = 0;
    for (const GroupState& g : controller.fleet().groups()) n += g.leased;
    return n;
  };
  for (size_t i = 0; i < sc.events.size() && out.failure.empty(); ++i) {
    const Event& e = sc.events[i];
    const std::string at = "event " + std::to_string(i) + " (t=" + std::to_string(e.at) + ")";
    out.gpu_seconds_integrated += leased_now * (e.at - last_t);
    last_t = e.at;
    const Timestamp now{e.at};
    const size_t applied_before = actuator.applied.size();
    std::set<int64_t> live_before;
    for (const LeaseState& l : controller.fleet().leases()) live_before.insert(l.id.value());
    std::set<int64_t> ended_by_me;
    switch (e.kind) {
      case Event::Kind::kTick: {
        view = ViewAt(sc, controller.fleet(), e);
        auto plan = controller.Tick(*view, now, rng, &actuator);
        if (!plan) {
          fail(at, "tick: " + plan.error().ToString());
          break;
        }
        for (const Decision& d : plan->decisions) out.transcript.push_back(Describe(d));
        break;
      }
      case Event::Kind::kRequest: {
        requests[e.request.id.value()] = e.request;
        const std::vector<int64_t> draw_before = Draws(controller.fleet(), *view);
        auto d = controller.Submit(e.request, *view, now, rng, &actuator);
        if (!d) {
          fail(at, "submit: " + d.error().ToString());
          break;
        }
        out.transcript.push_back(Describe(*d));
        if (d->request != e.request.id) fail(at, "the decision is for another request");
        if (check_power) {
          // Admission never takes a site from under its cap to over it.
          const std::vector<int64_t> draw_after = Draws(controller.fleet(), *view);
          for (size_t si = 0; si < draw_after.size(); ++si) {
            const int64_t cap = controller.fleet().sites()[si].power_cap.raw();
            if (draw_before[si] <= cap && draw_after[si] > cap) {
              fail(at, "admitting request " + std::to_string(e.request.id.value()) + " (" +
                           std::string(OutcomeName(d->outcome)) + ") took site " +
                           controller.fleet().sites()[si].name + " from " + std::to_string(draw_before[si]) +
                           " W to " + std::to_string(draw_after[si]) + " W, over its cap " +
                           std::to_string(cap) + " W");
            }
          }
        }
        if (d->outcome == Outcome::kPlaced) {
          const LeaseState* l = controller.fleet().lease(d->lease);
          if (!l) {
            fail(at, "placed, but lease " + std::to_string(d->lease.value()) + " is not in the fleet");
            break;
          }
          const Request& r = e.request;
          RentalPrice expected =
              r.kind == RequestKind::kInterruptible
                  ? r.bid
                  : RentalPrice(MulDiv(view->list_price[l->group].raw(), r.price_milli, 1000).value());
          out.tracked[d->lease.value()] = Billing{e.at, -1, r.gpus, expected};
        } else if (d->reason.empty()) {
          fail(at, "a request not placed without a reason");
        }
        break;
      }
      case Event::Kind::kEnd: {
        std::vector<LeaseId> live;
        for (const LeaseState& l : controller.fleet().leases()) live.push_back(l.id);
        if (live.empty()) break;
        std::sort(live.begin(), live.end());
        const LeaseId id = live[static_cast<size_t>(e.pick) % live.size()];
        Status s = controller.EndLease(id, *view, now, rng, &actuator);
        if (!s.ok()) {
          fail(at, "end: " + s.ToString());
          break;
        }
        ended_by_me.insert(id.value());
        if (out.tracked.count(id.value())) out.tracked[id.value()].end = e.at;
        break;
      }
    }
    for (size_t a = applied_before; a < actuator.applied.size(); ++a) {
      const Action& action = actuator.applied[a];
      out.transcript.push_back(Describe(action));
      out.placed += action.kind == ActionKind::kStartLease;
      out.preempted += action.kind == ActionKind::kPreemptLease;
      out.curtailed += action.kind == ActionKind::kCurtail && action.count > 0;
    }
    // Leases that vanished without an end from this test were preempted now.
    for (int64_t id : live_before) {
      if (!controller.fleet().lease(LeaseId(id)) && !ended_by_me.count(id) && out.tracked.count(id)) {
        out.tracked[id].end = e.at;
      }
    }
    if (!actuator.problems.empty()) fail(at, actuator.problems.front());
    std::string state = CheckState(controller.fleet(), requests);
    if (!state.empty()) fail(at, state);
    if (check_power && e.kind == Event::Kind::kTick && out.failure.empty()) {
      std::string power = CheckPower(controller.fleet(), *view);
      if (!power.empty()) fail(at + " after the tick", power);
    }
    leased_now = total_leased();
  }
  // Close the books an hour after the last event.
  const int64_t end = last_t + 3600;
  out.gpu_seconds_integrated += leased_now * (end - last_t);
  for (auto* book : {&actuator.bills, &out.tracked}) {
    for (auto& [id, b] : *book) {
      if (b.end < 0) b.end = end;
    }
  }
  out.billed = actuator.bills;
  return out;
}

// ---- the properties ----------------------------------------------------------------------------

// No device twice, gangs whole and where asked, only on groups that may serve them, mining only on
// devices without a lease, counters that agree with the leases.
RC_GTEST_PROP(EngineProperty, StatePromisesHoldAfterEveryEvent, ()) {
  const Scenario sc = *GenScenario({.idle_power = true});
  RunResult r = Drive(sc, /*check_power=*/false);
  if (!r.failure.empty()) RC_FAIL(r.failure + "\nscenario:" + rc::toString(sc));
  // Shown with the result, so a generator that stops reaching the engine is noticed.
  RC_CLASSIFY(r.placed > 0, "placed");
  RC_CLASSIFY(r.placed >= 5, "placed 5+");
  RC_CLASSIFY(r.preempted > 0, "preempted");
  RC_CLASSIFY(r.curtailed > 0, "curtailed");
}

// Mining alone: after every tick each site is under its cap (curtailing the least net per watt
// first can always get there when nothing else draws).
RC_GTEST_PROP(EngineProperty, MiningStaysUnderTheCapAfterATick, ()) {
  const Scenario sc = *GenScenario({.idle_power = false, .requests = false});
  RunResult r = Drive(sc, /*check_power=*/true);
  if (!r.failure.empty()) RC_FAIL(r.failure + "\nscenario:" + rc::toString(sc));
  RC_CLASSIFY(r.curtailed > 0, "curtailed");
}

// With leases: a site whose leases alone fit ends no tick over its cap, and no admission takes it
// over. (Found by this property once; the cases are decide_test.cc's
// DecidePowerCap.AdmissionCountsWhatTheTakenGpusReallyDrew and GpusFreedForTheCapDoNotStartMining.)
RC_GTEST_PROP(EngineProperty, PowerStaysUnderTheCapWithLeases, ()) {
  const Scenario sc = *GenScenario({.idle_power = false, .requests = true});
  RunResult r = Drive(sc, /*check_power=*/true);
  if (!r.failure.empty()) RC_FAIL(r.failure + "\nscenario:" + rc::toString(sc));
}

// With an idle draw per GPU: a curtailed GPU still draws it, and the cap counts it (found by this
// property once; decide_test.cc's DecidePowerCap.CurtailmentCountsTheIdleDrawOfCurtailedGpus).
RC_GTEST_PROP(EngineProperty, MiningStaysUnderTheCapWithIdleDraw, ()) {
  const Scenario sc = *GenScenario({.idle_power = true, .requests = false});
  RunResult r = Drive(sc, /*check_power=*/true);
  if (!r.failure.empty()) RC_FAIL(r.failure + "\nscenario:" + rc::toString(sc));
}

// Two runs of one scenario agree action by action, every field.
RC_GTEST_PROP(EngineProperty, SameSeedAndInputsGiveTheSamePlans, ()) {
  const Scenario sc = *GenScenario({.idle_power = true});
  RunResult a = Drive(sc, false);
  RunResult b = Drive(sc, false);
  RC_ASSERT(a.transcript.size() == b.transcript.size());
  for (size_t i = 0; i < a.transcript.size(); ++i) {
    if (a.transcript[i] != b.transcript[i])
      RC_FAIL("line " + std::to_string(i) + ": " + a.transcript[i] + " | " + b.transcript[i]);
  }
  RC_ASSERT(a.billed == b.billed);
}

// What the actuator is told to bill equals the usage tracked here from the decisions and the
// ends, and the GPU-seconds the fleet's counters integrate to.
RC_GTEST_PROP(EngineProperty, LedgerBalances, ()) {
  const Scenario sc = *GenScenario({.idle_power = true});
  RunResult r = Drive(sc, false);
  RC_PRE(r.failure.empty());  // broken state is the other property's finding
  RC_CLASSIFY(!r.billed.empty(), "leases billed");
  std::ostringstream diff;
  for (const auto& [id, b] : r.billed) {
    auto t = r.tracked.find(id);
    if (t == r.tracked.end()) {
      diff << "lease " << id << " billed but never placed by a decision; ";
    } else if (!(t->second == b)) {
      diff << "lease " << id << " billed " << b << ", tracked " << t->second << "; ";
    }
  }
  for (const auto& [id, t] : r.tracked) {
    if (!r.billed.count(id)) diff << "lease " << id << " placed but never billed; ";
  }
  int64_t gpu_seconds = 0;
  Money billed, tracked;
  for (const auto& [id, b] : r.billed) {
    gpu_seconds += b.gpus * (b.end - b.start);
    billed += RentalIncome(b.price, b.end - b.start).value() * b.gpus;
  }
  for (const auto& [id, t] : r.tracked) tracked += RentalIncome(t.price, t.end - t.start).value() * t.gpus;
  if (gpu_seconds != r.gpu_seconds_integrated) {
    diff << "billed " << gpu_seconds << " GPU-seconds, the fleet held " << r.gpu_seconds_integrated << "; ";
  }
  if (billed != tracked)
    diff << "billed " << FormatMoney(billed) << " USD, tracked " << FormatMoney(tracked) << "; ";
  if (!diff.str().empty()) RC_FAIL(diff.str() + "\nscenario:" + rc::toString(sc));
}

}  // namespace
}  // namespace rigshift
