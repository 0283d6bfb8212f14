// Hosted machines on the server (docs/hosting.md): the bill worked out by hand for each rule, the
// meter's baseline read back from a real SQLite ledger, the outlets read and switched on a
// rigshift-fake-pdu over loopback, and the farm holding an interruptible machine off under its cap.
//
// The numbers, by hand (site price 50 USD/MWh = 0.05 USD/kWh, PUE 1.2):
//   firm  100 kW, reserved 100 kW, 15 USD/kW-month, energy at cost: 0.06 USD per metered kWh;
//         30 days of fees are 100 x 15 = 1,500 USD exactly.
//   flex   10 kW, interruptible, 8 USD/kW-month, 0.07 USD/kWh all in, credit 0.01 USD/kWh:
//         an hour held off is 10 kWh, -0.10 USD.
//   plain   2 kW, no meter, at cost: an hour on is 2 kWh x 0.06 = 0.12 USD.
#include "server/hosting.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"
#include "engine/testing/fleet_builder.h"
#include "net/http_client.h"
#include "server/farm.h"
#include "server/hosted_meters.h"
#include "server/testing/test_farm.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fb = ::rigshift::testing;

constexpr Timestamp kT0{1'793'491'200};  // 2026-11-01T00:00:00Z
Timestamp At(int64_t s) { return Timestamp{kT0.seconds + s}; }
constexpr int kFirm = 0, kFlex = 1, kPlain = 2;

FleetState Fleet() {
  FleetState f = fb::ParseFleet("site farm pue=1.2; riser: 6x'RTX 3060 Ti' pcie=x1 cores=2 ram=4 mining=ETH");
  HostedState firm{"firm", 0, Watts(100'000), false, std::nullopt, EnergyPrice(0), false};
  HostedState flex{"flex", 0, Watts(10'000), true, EnergyPrice(70'000'000), EnergyPrice(10'000'000), false};
  HostedState plain{"plain", 0, Watts(2'000), false, std::nullopt, EnergyPrice(0), false};
  f.AddHosted(firm);
  f.AddHosted(flex);
  f.AddHosted(plain);
  return f;
}

std::vector<HostedTerms> Terms(std::string url = "http://pdu.example") {
  return {{"firm", "acme", Watts(100'000), fb::UsdAmount("15"), url, "1", "A1"},
          {"flex", "bitfarm", Watts(10'000), fb::UsdAmount("8"), url, "1", "A2"},
          {"plain", "solo", Watts(2'000), Money(0), "", "", ""}};
}

MarketView View(const FleetState& f) { return fb::Market(f, "", "50"); }

agent::OutletReading Reading(std::string outlet, int64_t wh, std::string reset = "2024-01-01T00:00:00Z",
                             int64_t watts = 0) {
  agent::OutletReading r;
  r.pdu = "1";
  r.outlet = std::move(outlet);
  r.energy = WattHours(wh);
  r.energy_reset_time = std::move(reset);
  r.power = Watts(watts);
  return r;
}

// The samples of one poll: per machine a reading (or an error when `wh` < 0).
struct Poll {
  std::vector<MeterSample> samples = std::vector<MeterSample>(3);
  int64_t serial = 0;
  void Set(int h, Timestamp at, std::optional<agent::OutletReading> r, std::string error = "") {
    samples[h].serial = ++serial;
    samples[h].at = at;
    samples[h].reading = std::move(r);
    samples[h].error = std::move(error);
  }
};

std::vector<LedgerEntry> Of(const std::vector<LedgerEntry>& lines, std::string_view account, std::string_view kind) {
  std::vector<LedgerEntry> out;
  for (const LedgerEntry& e : lines) {
    if (e.account == account && e.kind == kind) out.push_back(e);
  }
  return out;
}

Money Sum(const std::vector<LedgerEntry>& lines) {
  Money m;
  for (const LedgerEntry& e : lines) m += e.amount;
  return m;
}

// One accounting pass, committed.
HostedBilling::Pass Pass(HostedBilling& b, const FleetState& f, Timestamp now) {
  b.Observe(now, f);
  HostedBilling::Pass p = b.Bill(now, f, View(f));
  HostedBilling::Pass copy = p;
  b.Commit(std::move(p));
  return copy;
}

TEST(HostedBilling, FeesAccruePerSecondAndAThirtyDayMonthSumsToTheFeeExactly) {
  FleetState f = Fleet();
  HostedBilling b(Terms(""), f.hosted().size());
  b.Observe(kT0, f);  // the machines are hosted from here
  std::vector<LedgerEntry> all;
  // Passes at uneven intervals (7 s, 61 s, an hour, ...) over exactly 30 days.
  const int64_t steps[] = {7, 61, 3'600, 59, 86'399, 1};
  int64_t t = 0;
  for (int i = 0; t < 30 * 86'400; ++i) {
    t = std::min<int64_t>(30 * 86'400, t + steps[i % 6]);
    auto p = Pass(b, f, At(t));
    all.insert(all.end(), p.entries.begin(), p.entries.end());
  }
  EXPECT_EQ(Sum(Of(all, "hosted:firm", "hosting_fee")), fb::UsdAmount("1500"));
  EXPECT_EQ(Sum(Of(all, "hosted:flex", "hosting_fee")), fb::UsdAmount("80"));
  EXPECT_TRUE(Of(all, "hosted:plain", "hosting_fee").empty()) << "no fee, no fee lines";
  int64_t seconds = 0;
  for (const LedgerEntry& e : Of(all, "hosted:firm", "hosting_fee")) seconds += e.seconds;
  EXPECT_EQ(seconds, 30 * 86'400);
}

TEST(HostedBilling, MeteredEnergyIsTheCountersAdvanceAtCostOrAllInWithItsReadingsInTheNote) {
  FleetState f = Fleet();
  HostedBilling b(Terms(), f.hosted().size());
  Poll poll;
  poll.Set(kFirm, At(0), Reading("A1", 1'000'000));
  poll.Set(kFlex, At(0), Reading("A2", 50'000));
  b.SetSamples(poll.samples);
  auto first = Pass(b, f, At(0));
  // A first reading is the baseline: a zero line that records it.
  auto base = Of(first.entries, "hosted:firm", "hosting_energy");
  ASSERT_EQ(base.size(), 1u);
  EXPECT_EQ(base[0].amount, Money(0));
  EXPECT_TRUE(json::parse(base[0].note)["baseline"].get<bool>());

  poll.Set(kFirm, At(3'600), Reading("A1", 1'100'000));  // 100 kWh
  poll.Set(kFlex, At(3'600), Reading("A2", 60'000));     // 10 kWh
  b.SetSamples(poll.samples);
  auto second = Pass(b, f, At(3'600));
  auto firm = Of(second.entries, "hosted:firm", "hosting_energy");
  ASSERT_EQ(firm.size(), 1u);
  EXPECT_EQ(firm[0].amount, fb::UsdAmount("6"));  // 100 kWh x 0.05 x 1.2
  EXPECT_EQ(firm[0].seconds, 3'600);
  json note = json::parse(firm[0].note);
  EXPECT_EQ(note["from"]["energy_wh"], 1'000'000);
  EXPECT_EQ(note["to"]["energy_wh"], 1'100'000);
  EXPECT_EQ(note["energy_wh"], 100'000);
  EXPECT_EQ(note["basis"], "at_cost");
  EXPECT_EQ(note["outlet"], "A1");
  auto flex = Of(second.entries, "hosted:flex", "hosting_energy");
  ASSERT_EQ(flex.size(), 1u);
  EXPECT_EQ(flex[0].amount, fb::UsdAmount("0.70"));  // 10 kWh x 0.07 all in
  // What the farm pays the utility for both: at the site's price x PUE.
  EXPECT_EQ(Sum(Of(second.entries, "energy", "energy_cost")), -(fb::UsdAmount("6") + fb::UsdAmount("0.72")));
  EXPECT_EQ(b.states()[kFirm].metered, WattHours(100'000));
  EXPECT_TRUE(second.alerts.empty());

  // No new sample since: no energy line, nothing lost (the next one bills from the same baseline).
  auto idle = Pass(b, f, At(3'660));
  EXPECT_TRUE(Of(idle.entries, "hosted:firm", "hosting_energy").empty());
  poll.Set(kFirm, At(7'200), Reading("A1", 1'150'000));
  b.SetSamples(poll.samples);
  auto third = Pass(b, f, At(7'200));
  EXPECT_EQ(Sum(Of(third.entries, "hosted:firm", "hosting_energy")), fb::UsdAmount("3"));
}

TEST(HostedBilling, AResetAMissingCounterOrADeadPduBillsNothingAlertsAndResumesFromANewBaseline) {
  struct Step {
    const char* what;
    std::optional<int64_t> wh;      // none: the PDU did not answer
    bool blank = false;             // the reading has no counter
    std::string reset = "2024-01-01T00:00:00Z";
    Money billed;                   // the energy line's amount (zero lines included)
    bool line = true;               // an energy line is written
    bool alert = false;
  };
  const Step steps[] = {
      {"baseline", 1'000'000, false, "2024-01-01T00:00:00Z", Money(0), true, false},
      {"10 kWh", 1'010'000, false, "2024-01-01T00:00:00Z", fb::UsdAmount("0.60"), true, false},
      {"counter went back", 5'000, false, "2024-01-01T00:00:00Z", Money(0), true, true},
      {"billed from the reset", 15'000, false, "2024-01-01T00:00:00Z", fb::UsdAmount("0.60"), true, false},
      {"reset time changed", 20'000, false, "2026-11-01T05:00:00Z", Money(0), true, true},
      {"billed from it", 30'000, false, "2026-11-01T05:00:00Z", fb::UsdAmount("0.60"), true, false},
      {"no counter", 40'000, true, "2026-11-01T05:00:00Z", Money(0), true, true},
      {"a new baseline", 50'000, false, "2026-11-01T05:00:00Z", Money(0), true, false},
      {"PDU down", std::nullopt, false, "", Money(0), true, true},
      {"still down: nothing more", std::nullopt, false, "", Money(0), false, false},
      {"back: a new baseline", 90'000, false, "2026-11-01T05:00:00Z", Money(0), true, false},
      {"billed again", 100'000, false, "2026-11-01T05:00:00Z", fb::UsdAmount("0.60"), true, false},
  };
  FleetState f = Fleet();
  HostedBilling b(Terms(), f.hosted().size());
  Poll poll;
  int64_t t = 0;
  for (const Step& s : steps) {
    t += 600;
    if (s.wh) {
      agent::OutletReading r = Reading("A1", *s.wh, s.reset);
      if (s.blank) r.energy.reset();
      poll.Set(kFirm, At(t), r);
    } else {
      poll.Set(kFirm, At(t), std::nullopt, "PDU http://pdu.example/redfish/...: connection refused");
    }
    b.SetSamples(poll.samples);
    auto p = Pass(b, f, At(t));
    auto lines = Of(p.entries, "hosted:firm", "hosting_energy");
    ASSERT_EQ(lines.size(), s.line ? 1u : 0u) << s.what;
    if (s.line) EXPECT_EQ(lines[0].amount, s.billed) << s.what << ": " << lines[0].note;
    int alerts = 0;
    for (const HostedAlert& a : p.alerts) alerts += a.name == "firm" && a.kind == "hosted_meter";
    EXPECT_EQ(alerts, s.alert ? 1 : 0) << s.what;
    if (s.line && s.billed.raw() == 0 && std::string(s.what) != "baseline" && s.alert) {
      EXPECT_TRUE(json::parse(lines[0].note).contains("not_billed")) << s.what;
    }
  }
}

TEST(HostedBilling, CreditsForTheNameplateWhileHeldOffAndUnmeteredMachinesBilledFromTheNameplate) {
  FleetState f = Fleet();
  HostedBilling b(Terms(), f.hosted().size());
  b.Observe(At(0), f);
  f.hosted(kFlex).curtailed = true;
  b.Observe(At(600), f);  // on for 600 s
  f.hosted(kFlex).curtailed = false;
  b.Observe(At(4'200), f);  // off for 3600 s
  auto p = Pass(b, f, At(4'200));
  auto credit = Of(p.entries, "hosted:flex", "hosting_credit");
  ASSERT_EQ(credit.size(), 1u);
  EXPECT_EQ(credit[0].amount, -fb::UsdAmount("0.10"));
  EXPECT_EQ(credit[0].seconds, 3'600);
  // The machine without a meter: 2 kW for the 4200 s it was on, at cost.
  auto plain = Of(p.entries, "hosted:plain", "hosting_energy");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].amount, fb::UsdAmount("0.14"));  // 2 kW x 4200 s = 2.3333 kWh x 0.06
  EXPECT_EQ(json::parse(plain[0].note)["meter"], "nameplate");
  // Nothing held off since: no credit line.
  auto next = Pass(b, f, At(4'800));
  EXPECT_TRUE(Of(next.entries, "hosted:flex", "hosting_credit").empty());
}

TEST(HostedBilling, ARestartReadsTheBaselineBackFromTheLedgerSoNothingIsBilledTwiceOrSkipped) {
  fb::TempDir dir;
  auto opened = SqliteStore::Open((dir / "rigshift.db").string());
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  Store& store = **opened;
  FleetState f = Fleet();
  {
    HostedBilling b(Terms(), f.hosted().size());
    Poll poll;
    for (int i = 0; i <= 3; ++i) {
      poll.Set(kFirm, At(i * 60), Reading("A1", 1'000'000 + i * 1'000));
      poll.Set(kFlex, At(i * 60), Reading("A2", 7'000 + i * 100));
      b.SetSamples(poll.samples);
      auto p = Pass(b, f, At(i * 60));
      ASSERT_TRUE(store.AppendLedger(p.entries).ok());
    }
    // Then the flex meter stopped answering: its last line has no closing reading.
    poll.Set(kFlex, At(240), std::nullopt, "PDU did not answer");
    b.SetSamples(poll.samples);
    ASSERT_TRUE(store.AppendLedger(Pass(b, f, At(240)).entries).ok());
  }
  // More than a page of other lines after the last pass (the farm's devices, leases).
  std::vector<LedgerEntry> noise;
  for (int i = 0; i < 5'000; ++i) {
    LedgerEntry e;
    e.at = At(250);
    e.account = "mining";
    e.kind = "mining_revenue";
    e.amount = Money(1);
    e.seconds = 60;
    e.device = "riser-1/0";
    noise.push_back(e);
  }
  ASSERT_TRUE(store.AppendLedger(noise).ok());

  // The restart: a new billing, read back from the ledger.
  HostedBilling again(Terms(), f.hosted().size());
  ASSERT_TRUE(again.Recover(store, At(3'600)).ok());
  ASSERT_TRUE(again.states()[kFirm].baseline.has_value());
  EXPECT_EQ(again.states()[kFirm].baseline->energy, WattHours(1'003'000));
  EXPECT_EQ(again.states()[kFirm].baseline_at, At(180));
  EXPECT_EQ(again.states()[kFirm].fee_from, At(240)) << "fees resume where the last fee line ended";
  EXPECT_FALSE(again.states()[kFlex].baseline.has_value()) << "its last line had no closing reading";
  // The first reading after the restart bills the whole downtime from that baseline, once.
  Poll poll;
  poll.Set(kFirm, At(3'600), Reading("A1", 1'013'000));
  poll.Set(kFlex, At(3'600), Reading("A2", 9'000));
  again.SetSamples(poll.samples);
  auto p = Pass(again, f, At(3'600));
  auto firm = Of(p.entries, "hosted:firm", "hosting_energy");
  ASSERT_EQ(firm.size(), 1u);
  EXPECT_EQ(json::parse(firm[0].note)["energy_wh"], 10'000);
  EXPECT_EQ(firm[0].amount, fb::UsdAmount("0.60"));
  auto owed = [](Timestamp t) {
    return static_cast<int64_t>(__int128{100'000} * 15'000'000 * t.seconds / (__int128{1000} * 2'592'000));
  };
  EXPECT_EQ(Sum(Of(p.entries, "hosted:firm", "hosting_fee")), Money(owed(At(3'600)) - owed(At(240))))
      << "the downtime's fees, from where the last fee line ended";
  EXPECT_EQ(json::parse(Of(p.entries, "hosted:flex", "hosting_energy")[0].note)["baseline"], true);

  // A machine moved to another outlet does not take the old outlet's reading as its baseline.
  std::vector<HostedTerms> moved = Terms();
  moved[kFirm].outlet = "B7";
  HostedBilling elsewhere(moved, f.hosted().size());
  ASSERT_TRUE(elsewhere.Recover(store, At(3'600)).ok());
  EXPECT_FALSE(elsewhere.states()[kFirm].baseline.has_value());
}

// ---- the poller against rigshift-fake-pdu ------------------------------------------------------

std::unique_ptr<fb::FakeDevice> StartPdu(const fb::TempDir& dir) {
  std::string error;
  auto pdu = fb::FakeDevice::Start({RIGSHIFT_FAKE_PDU, "--port", "0", "--outlet", "A1=1500", "--outlet", "A2=800",
                                    "--speed", "3600"},
                                   dir / "pdu.log", &error);
  EXPECT_NE(pdu, nullptr) << error;
  return pdu;
}

json Control(const fb::FakeDevice& pdu, const std::string& path) {
  net::HttpClient c("127.0.0.1", pdu.port(), 3s);
  auto r = c.Send("POST", path);
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

TEST(HostedMeters, ReadsEachOutletAndSwitchesOnlyTheInterruptibleOneOffAndOnAgain) {
  fb::TempDir dir;
  auto pdu = StartPdu(dir);
  ASSERT_NE(pdu, nullptr);
  const std::string url = "http://127.0.0.1:" + std::to_string(pdu->port());
  HostedMeters::Options o;
  o.verify_after = 0ms;
  std::vector<std::string> log;
  o.log = [&](const std::string& l) { log.push_back(l); };
  HostedMeters m(o, {{"flex", url, "1", "A1", true, Watts(1'500)},
                     {"firm", url, "1", "A2", false, Watts(800)},
                     {"plain", "", "", "", false, Watts(100)}});
  m.PollOnce();
  auto s = m.Latest();
  ASSERT_TRUE(s[0].reading.has_value()) << s[0].error;
  EXPECT_EQ(s[0].reading->power, Watts(1'500));
  EXPECT_EQ(s[0].reading->powered, true);
  EXPECT_EQ(s[1].reading->power, Watts(800));
  EXPECT_EQ(s[2].serial, 0) << "no meter, never polled";
  EXPECT_EQ(m.switches(), 0);

  // Held off: the poller switches A1 off (Outlet.PowerControl), never the firm A2.
  m.SetWanted({false, false, true});
  m.PollOnce();
  EXPECT_EQ(m.switches(), 1);
  EXPECT_EQ(Control(*pdu, "/fake/outlets/A1/load?watts=1500")["power_state"], "Off");
  EXPECT_EQ(Control(*pdu, "/fake/outlets/A2/load?watts=800")["power_state"], "On");
  m.PollOnce();
  s = m.Latest();
  EXPECT_EQ(s[0].reading->power, Watts(0)) << "switched off, it draws nothing";
  EXPECT_EQ(s[0].reading->powered, false);
  const WattHours stopped = *s[0].reading->energy;
  std::this_thread::sleep_for(300ms);
  m.PollOnce();
  EXPECT_EQ(*m.Latest()[0].reading->energy, stopped) << "its counter stops while off";
  EXPECT_TRUE(m.TakeEvents().empty()) << "it stopped drawing: nothing to report";

  m.SetWanted({true, true, true});
  m.PollOnce();
  EXPECT_EQ(m.switches(), 2);
  m.PollOnce();
  EXPECT_EQ(m.Latest()[0].reading->power, Watts(1'500));
  EXPECT_GE(pdu->CountInLog("Outlet.PowerControl -> 204"), 2);
}

TEST(HostedMeters, AnOutletThatStillDrawsWhenHeldOffIsReportedOnceAndADeadPduIsAskedOnceARound) {
  fb::TempDir dir;
  auto pdu = StartPdu(dir);
  ASSERT_NE(pdu, nullptr);
  const std::string url = "http://127.0.0.1:" + std::to_string(pdu->port());
  HostedMeters::Options o;
  o.verify_after = 0ms;
  o.redfish.timeout = 1000ms;
  o.log = [](const std::string&) {};
  HostedMeters m(o, {{"flex", url, "1", "A1", true, Watts(1'500)}, {"firm", url, "1", "A2", false, Watts(800)}});
  Control(*pdu, "/fake/outlets/A1/stuck?on=1");  // a welded relay: PowerState goes Off, the load stays
  m.SetWanted({false, true});
  m.PollOnce();  // switched (the PDU accepts)
  m.PollOnce();  // and still reads 1500 W
  m.PollOnce();
  auto events = m.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "hosted_still_drawing");
  EXPECT_EQ(events[0].hosted, 0);
  EXPECT_NE(events[0].message.find("still reads 1500 W"), std::string::npos) << events[0].message;
  Control(*pdu, "/fake/outlets/A1/stuck?on=0");
  m.PollOnce();
  EXPECT_EQ(m.Latest()[0].reading->power, Watts(0));
  EXPECT_TRUE(m.TakeEvents().empty());

  Control(*pdu, "/fake/down");
  const int before = pdu->CountInLog("(down, no answer)");
  m.PollOnce();
  auto s = m.Latest();
  EXPECT_FALSE(s[0].reading.has_value());
  EXPECT_FALSE(s[1].reading.has_value());
  EXPECT_NE(s[1].error.find("PDU"), std::string::npos) << s[1].error;
  EXPECT_EQ(pdu->CountInLog("(down, no answer)") - before, 1) << "the second outlet of a dead PDU is not asked";
}

// ---- the farm: the cap holds the interruptible machine off, and its outlet follows -----------

class RecordingMeters final : public HostedMeterSource {
 public:
  std::vector<MeterSample> Latest() override { return samples; }
  void SetWanted(const std::vector<bool>& on) override { wanted = on; }
  std::vector<MeterEvent> TakeEvents() override {
    std::vector<MeterEvent> out;
    out.swap(events);
    return out;
  }
  std::vector<MeterSample> samples = std::vector<MeterSample>(1);
  std::vector<bool> wanted;
  std::vector<MeterEvent> events;
};

TEST(FarmHosting, UnderTheCapTheInterruptibleMachineIsHeldOffItsOutletSwitchedAndItsMeterBilled) {
  // Two 4 x 3090 nodes mining ETH (about 0.12 USD/h each GPU) and a 2 kW hosted machine whose
  // energy is at cost (worth nothing to the farm but a 0.001 USD/kWh credit): under a 3 kW cap
  // the machine gives way first.
  FarmSetup setup = fb::TestFarm();
  setup.fleet = fb::ParseFleet("site farm cap=3kW pue=1.00; gpu-3090: 4x'RTX 3090' nodes=2 mining=ETH");
  setup.list_price = {RentalPrice(0)};
  setup.interruptible_price = {RentalPrice(0)};
  setup.fleet.AddHosted({"flex", 0, Watts(2'000), true, std::nullopt, EnergyPrice(1'000'000), false});
  setup.hosted_terms = {{"flex", "bitfarm", Watts(2'000), fb::UsdAmount("8"), "http://pdu.example", "1", "A1"}};
  MemoryStore store;
  fb::FakeFeed feed(fb::Market(setup.fleet, "ETH:Ethash:1000:7.2e15:2", "50", "0", kT0));
  FarmOptions opt;
  opt.require_agents = false;
  opt.accounting_interval_s = 60;
  Farm farm(setup, &store, &feed, opt);
  RecordingMeters meters;
  farm.SetHostedMeters(&meters);
  ASSERT_TRUE(farm.Recover(kT0).ok());
  meters.samples[0] = {1, kT0, Reading("A1", 500'000, "2024-01-01T00:00:00Z", 2'000), ""};
  ASSERT_TRUE(farm.Tick(At(1)).ok());
  EXPECT_TRUE(farm.fleet().hosted()[0].curtailed) << "the cap holds it off";
  ASSERT_EQ(meters.wanted, std::vector<bool>{false}) << "and its outlet is told so";
  ASSERT_TRUE(farm.Tick(At(61)).ok());  // the first accounting: the reading is the baseline
  meters.samples[0] = {2, At(110), Reading("A1", 500'100, "2024-01-01T00:00:00Z", 0), ""};
  meters.events.push_back({0, "hosted_still_drawing", "flex: still reads 2000 W"});
  ASSERT_TRUE(farm.Tick(At(121)).ok());
  auto lines = store.Ledger(std::nullopt, kT0, At(1'000));
  ASSERT_TRUE(lines.has_value());
  auto energy = Of(*lines, "hosted:flex", "hosting_energy");
  ASSERT_FALSE(energy.empty());
  EXPECT_EQ(json::parse(energy.back().note)["energy_wh"], 100);
  EXPECT_EQ(energy.back().amount, Money(5'000)) << "0.1 kWh at 0.05 USD";
  EXPECT_FALSE(Of(*lines, "hosted:flex", "hosting_credit").empty());
  EXPECT_FALSE(Of(*lines, "hosted:flex", "hosting_fee").empty());
  bool alerted = false;
  for (const Alert& a : farm.alerts()) alerted |= a.kind == "hosted_still_drawing" && a.node == "hosted:flex";
  EXPECT_TRUE(alerted);
  // Its draw counts in the site's: what the outlet read (nothing, held off), then 2 kW once its
  // outlet reads that again.
  EXPECT_EQ(farm.Counts().hosted.at(0).off, true);
  const Watts without = farm.SiteDraw()[0];
  meters.samples[0] = {3, At(125), Reading("A1", 500'200, "2024-01-01T00:00:00Z", 2'000), ""};
  ASSERT_TRUE(farm.Tick(At(126)).ok());
  EXPECT_EQ(farm.SiteDraw()[0], without + Watts(2'000));
  EXPECT_EQ(farm.Counts().hosted.at(0).draw_w, 2'000);

  // Electricity so dear that nothing mines: the cap no longer binds and the machine comes back.
  feed.view.site_price = {fb::UsdPerMwh("5000")};
  ASSERT_TRUE(farm.Tick(At(140)).ok());
  EXPECT_FALSE(farm.fleet().hosted()[0].curtailed);
  EXPECT_EQ(meters.wanted, std::vector<bool>{true});
}

}  // namespace
}  // namespace rigshift
