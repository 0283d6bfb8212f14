// Hosted machines end to end (docs/hosting.md, docs/operations.md "Hosted machines"): the real
// `rigshift server` on loopback with a real SQLite store, its two hosted machines metered by a
// rigshift-fake-pdu process, a 16-GPU mining group under a cap that leaves room for only one.
//
//   flex  1.5 kW, interruptible, energy all in at the site's own price (worth nothing to the
//         farm but a 0.001 USD/kWh credit): the cap holds it off, and its outlet is switched off.
//   firm  0.8 kW at cost (0.05 USD/kWh, PUE 1.0: 50 micro-USD per Wh), never held off.
// The PDU runs 3600 times faster than real time: firm's counter advances 0.8 kWh a second.
//
// The server is killed with -9 and started again while the counter runs on, and firm's counter
// is reset by hand: every energy line in the SQLite file must start where the one before it ended
// (nothing billed twice, nothing skipped, the downtime billed once), the reset billed nothing and
// raised an alert, and every answer must match api/openapi.yaml.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"
#include "farm/scenario.h"
#include "openapi_check.h"
#include "server_harness.h"
#include "store/sqlite_store.h"

namespace rigshift {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::ApiClient;
using testing::Reply;
using testing::ServerProcess;

std::string FarmFile(uint16_t pdu_port) {
  const std::string url = "http://127.0.0.1:" + std::to_string(pdu_port);
  return R"([scenario]
name = "hosting-e2e"

[[site]]
name = "hall"
power_cap_kw = 3.2
pue = 1.0
fixed_price_usd_per_kwh = 0.05

[[group]]
name = "rig"
model = "RTX 3070"
nodes = 2
gpus_per_node = 8
pcie_lanes = 1
cpu_cores = 4
ram_gb = 8

[[hosted]]
name = "flex"
customer = "bitfarm"
power_kw = 1.5
fee_usd_per_kw_month = 8
all_in_usd_per_kwh = 0.05
interruptible = true
curtail_credit_usd_per_kwh = 0.001
meter_url = ")" + url + R"("
outlet = "A1"

[[hosted]]
name = "firm"
customer = "acme"
power_kw = 0.8
fee_usd_per_kw_month = 15
meter_url = ")" + url + R"("
pdu = "1"
outlet = "A2"

[market]
start = 2021-01-01
days = 30
)";
}

class HostingE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(testing::ImportSharedData(tmp_ / "data"), "");
    std::string error;
    pdu_ = testing::FakeDevice::Start({RIGSHIFT_FAKE_PDU, "--port", "0", "--outlet", "A1=1500", "--outlet", "A2=800",
                                       "--speed", "3600"},
                                      tmp_ / "pdu.log", &error);
    ASSERT_NE(pdu_, nullptr) << error;
    std::ofstream(tmp_ / "farm.toml") << FarmFile(pdu_->port());
  }

  std::unique_ptr<ServerProcess> Start() {
    ServerProcess::Options o;
    o.data_dir = tmp_ / "server";
    o.data = tmp_ / "data";
    o.demo = false;
    o.farm = tmp_ / "farm.toml";
    o.extra_args = {"--no-agents", "--accounting-interval", "2", "--tick-interval", "1", "--feed", "replay"};
    std::string error;
    auto s = ServerProcess::Start(o, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  Reply Checked(ApiClient& c, const std::string& target, const std::string& token) {
    Reply r = c.Get(target, token);
    for (const std::string& p : spec_.Check("GET", target, r.status, r.content_type, r.body)) {
      ADD_FAILURE() << p << "\nbody: " << r.body.substr(0, 2000);
    }
    return r;
  }

  // GET /v1/hosted's machine `name`, once `ok` holds for it, within `timeout`.
  json WaitFor(const ServerProcess& s, const std::string& name, const std::function<bool(const json&)>& ok,
               std::chrono::seconds timeout = 30s) {
    ApiClient c(s);
    const std::string op = testing::ReadTokenFile(s.data_dir() / "operator.token");
    json last;
    Reply r;
    for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
      r = c.Get("/v1/hosted", op);
      if (r.status == 200) {
        const json body = r.Json();
        for (const json& m : body["hosted"]) {
          if (m.value("name", "") == name) last = m;
        }
        if (last.is_object() && ok(last)) return last;
      }
      std::this_thread::sleep_for(200ms);
    }
    ADD_FAILURE() << name << " never got there; last: " << last.dump() << "\n" << r.Describe() << "\n" << s.LogTail();
    return last;
  }

  json Outlet(const std::string& id) {
    net::HttpClient c("127.0.0.1", pdu_->port(), 3s);
    // The fake answers its state to any control; "blank?on=0" changes nothing.
    auto r = c.Send("POST", "/fake/outlets/" + id + "/blank?on=0");
    return r ? json::parse(r->body, nullptr, false) : json();
  }

  testing::TempDir tmp_;
  std::unique_ptr<testing::FakeDevice> pdu_;
  const testing::OpenApiSpec spec_ = testing::OpenApiSpec::Load(RIGSHIFT_OPENAPI);
};

TEST_F(HostingE2E, TheMeterBillsAcrossAKillAndARestartWithoutGapOrOverlapAndTheCapSwitchesTheOutlet) {
  auto server = Start();
  ASSERT_NE(server, nullptr);
  const std::string op = testing::ReadTokenFile(server->data_dir() / "operator.token");

  // The cap holds flex off, and the server switches its outlet off: the PDU says so, and so does
  // the reading the server shows.
  json flex = WaitFor(*server, "flex", [](const json& m) {
    return m["state"] == "off" && m["last_reading"].is_object() && m["last_reading"]["powered"] == false &&
           m["last_reading"]["power_w"] == 0;
  });
  EXPECT_EQ(Outlet("A1")["power_state"], "Off");
  EXPECT_EQ(Outlet("A2")["power_state"], "On") << "a firm machine's outlet is never switched";
  json firm = WaitFor(*server, "firm", [](const json& m) { return m["metered_wh_since_start"].get<int64_t>() > 0; });
  EXPECT_EQ(firm["state"], "on");
  EXPECT_EQ(firm["draw_w"], 800);
  EXPECT_EQ(firm["meter"]["outlet"], "A2");
  {
    ApiClient c(*server);
    Reply list = Checked(c, "/v1/hosted", op);
    EXPECT_EQ(list.status, 200) << list.Describe();
    Reply bill = Checked(c, "/v1/hosted/firm/bill", op);
    EXPECT_EQ(bill.status, 200) << bill.Describe();
    EXPECT_GT(bill.Json()["energy_micro_usd"].get<int64_t>(), 0) << bill.body;
    EXPECT_EQ(bill.Json()["account"], "hosted:firm");
    EXPECT_EQ(Checked(c, "/v1/hosted/nobody/bill", op).status, 404);
    EXPECT_EQ(Checked(c, "/v1/hosted/firm/bill?from=2026-13-01", op).status, 400);
    // Its draw is in the site's (GPUs mining plus firm's 800 W) and in /metrics.
    Reply metrics = c.Get("/metrics");
    EXPECT_NE(metrics.body.find("rigshift_hosted_draw_watts{name=\"firm\"} 800"), std::string::npos);
    EXPECT_NE(metrics.body.find("rigshift_hosted_held_off{name=\"flex\"} 1"), std::string::npos);
  }

  // kill -9, and the counter runs on for two seconds (1.6 kWh) before the server is back.
  std::this_thread::sleep_for(3s);
  const int64_t killed_at = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  server->Kill();
  std::this_thread::sleep_for(2s);
  server = Start();
  ASSERT_NE(server, nullptr);
  WaitFor(*server, "firm", [](const json& m) { return m["metered_wh_since_start"].get<int64_t>() > 0; });
  std::this_thread::sleep_for(3s);

  // A counter reset: an alert, nothing billed for that interval, billed again from the reset.
  net::HttpClient control("127.0.0.1", pdu_->port(), 3s);
  ASSERT_TRUE(control.Send("POST", "/fake/outlets/A2/reset").has_value());
  {
    ApiClient c(*server);
    const std::string op2 = testing::ReadTokenFile(server->data_dir() / "operator.token");
    bool alerted = false;
    for (int i = 0; i < 100 && !alerted; ++i) {
      Reply r = Checked(c, "/v1/alerts", op2);
      const json body = r.Json();
      for (const json& a : body["alerts"]) {
        alerted |= a["kind"] == "hosted_meter" && a["node"] == "hosted:firm" &&
                   a["message"].get<std::string>().find("reset") != std::string::npos;
      }
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(alerted);
  }
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(server->Terminate(), 0) << server->LogTail();

  // The ledger, from the SQLite file itself.
  auto store = SqliteStore::Open((tmp_ / "server" / "rigshift.db").string());
  ASSERT_TRUE(store.has_value()) << store.error().message();
  auto ledger = (*store)->Ledger(std::nullopt, Timestamp{0}, Timestamp{int64_t{1} << 40});
  ASSERT_TRUE(ledger.has_value());
  std::vector<json> notes;
  std::vector<LedgerEntry> lines;
  int64_t credits = 0, costs = 0, fees = 0;
  for (const LedgerEntry& e : *ledger) {
    if (e.account == "hosted:firm" && e.kind == "hosting_energy") {
      lines.push_back(e);
      notes.push_back(json::parse(e.note));
    }
    if (e.account == "hosted:flex" && e.kind == "hosting_credit") credits += e.amount.raw();
    if (e.account == "hosted:firm" && e.kind == "hosting_fee") fees += e.amount.raw();
    if (e.account == "energy" && e.device == "hosted:firm/plug") costs += e.amount.raw();
  }
  ASSERT_GE(lines.size(), 6u);
  EXPECT_TRUE(notes[0].value("baseline", false)) << "the first line is the first reading, billed from";
  int resets = 0, across_the_kill = 0;
  int64_t billed_wh = 0, billed = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i) + ": " + lines[i].note + "\nbefore: " + lines[i - 1].note);
    const json& prev = notes[i - 1];
    const json& n = notes[i];
    // Each line starts where the one before it ended: nothing twice, nothing skipped.
    ASSERT_TRUE(prev["to"].is_object());
    ASSERT_TRUE(n["from"].is_object());
    EXPECT_EQ(n["from"]["energy_wh"], prev["to"]["energy_wh"]);
    EXPECT_EQ(n["from"]["at"], prev["to"]["at"]);
    if (n.contains("not_billed")) {
      ++resets;
      EXPECT_EQ(lines[i].amount, Money(0));
      EXPECT_NE(n["not_billed"].get<std::string>().find("reset"), std::string::npos);
      continue;
    }
    const int64_t wh = n["energy_wh"].get<int64_t>();
    EXPECT_EQ(wh, n["to"]["energy_wh"].get<int64_t>() - n["from"]["energy_wh"].get<int64_t>());
    EXPECT_EQ(lines[i].amount.raw(), wh * 50) << "0.05 USD/kWh at cost, PUE 1.0";
    billed_wh += wh;
    billed += lines[i].amount.raw();
    across_the_kill += n["from"]["at"].get<int64_t>() <= killed_at && n["to"]["at"].get<int64_t>() > killed_at;
  }
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(across_the_kill, 1) << "one line bills the downtime, from the last reading before the kill";
  EXPECT_GT(billed_wh, 8'000) << "about 0.8 kWh a second for 15 s or so";
  EXPECT_EQ(costs, -billed) << "at cost: what the farm pays for firm's energy is what firm is billed";
  EXPECT_GT(fees, 0);
  EXPECT_LT(credits, 0) << "flex was held off, and credited";
}

TEST(HostingFarmFile, MeterAndAsicKeysAreCheckedWithTheirLine) {
  const std::string base = R"([scenario]
name = "x"
[[site]]
name = "s"
power_cap_kw = 10
fixed_price_usd_per_kwh = 0.05
[[group]]
name = "g"
model = "RTX 3070"
nodes = 2
gpus_per_node = 1
cpu_cores = 1
ram_gb = 1
[market]
start = 2021-01-01
days = 1
)";
  struct Case {
    const char* what;
    std::string extra;
    std::string want;  // "" = accepted
  };
  const Case cases[] = {
      {"a metered machine", "[[hosted]]\nname='h'\ncustomer='c'\npower_kw=1\nmeter_url='http://10.0.0.9'\noutlet='A1'\n", ""},
      {"meter_url without outlet", "[[hosted]]\nname='h'\ncustomer='c'\npower_kw=1\nmeter_url='http://10.0.0.9'\n",
       "gives meter_url without outlet"},
      {"outlet without meter_url", "[[hosted]]\nname='h'\ncustomer='c'\npower_kw=1\noutlet='A1'\n",
       "without meter_url"},
      {"not a URL", "[[hosted]]\nname='h'\ncustomer='c'\npower_kw=1\nmeter_url='10.0.0.9'\noutlet='A1'\n",
       "meter_url must be the PDU's Redfish service"},
      {"a pool", "[[pool]]\ncoin='BTC'\nurl='stratum+tcp://pool:3333'\nuser='farm.{node}'\n", ""},
      {"a pool without a scheme", "[[pool]]\ncoin='BTC'\nurl='pool:3333'\nuser='u'\n", "with its scheme"},
      {"two pools for a coin",
       "[[pool]]\ncoin='BTC'\nurl='stratum+tcp://a:1'\nuser='u'\n[[pool]]\ncoin='BTC'\nurl='stratum+tcp://b:1'\nuser='u'\n",
       "one pool per coin"},
  };
  for (const Case& c : cases) {
    auto s = ParseScenario(base + c.extra, "f.toml");
    if (c.want.empty()) {
      EXPECT_TRUE(s.has_value()) << c.what << ": " << (s ? "" : s.error().message());
    } else {
      ASSERT_FALSE(s.has_value()) << c.what;
      EXPECT_NE(s.error().message().find(c.want), std::string::npos) << c.what << ": " << s.error().message();
    }
  }
  auto metered = ParseScenario(base + cases[0].extra, "f.toml");
  ASSERT_TRUE(metered.has_value());
  EXPECT_EQ(metered->hosted[0].pdu, "1") << "the PDU defaults to 1";

  // ASIC groups: one address per node, unique, with a firmware.
  auto group = [](const std::string& keys) {
    return std::string("[scenario]\nname='x'\n[[site]]\nname='s'\npower_cap_kw=10\nfixed_price_usd_per_kwh=0.05\n"
                       "[[group]]\nname='s9'\nmodel='Antminer S9'\nnodes=2\n") +
           keys + "[market]\nstart=2021-01-01\ndays=1\n";
  };
  const Case asic[] = {
      {"addresses and firmware", "asic_addresses=['10.0.0.21:4028','10.0.0.22']\nasic_firmware='braiins'\n", ""},
      {"one address short", "asic_addresses=['10.0.0.21:4028']\nasic_firmware='braiins'\n",
       "has 1 address(es) for 2 node(s)"},
      {"a bad port", "asic_addresses=['10.0.0.21:99999','10.0.0.22']\nasic_firmware='luxos'\n", "not 1 .. 65535"},
      {"an address twice", "asic_addresses=['10.0.0.21','10.0.0.21']\nasic_firmware='luxos'\n", "given twice"},
      {"no firmware", "asic_addresses=['10.0.0.21','10.0.0.22']\n", "without asic_firmware"},
      {"an unknown firmware", "asic_addresses=['10.0.0.21','10.0.0.22']\nasic_firmware='bosminer'\n",
       "asic_firmware must be"},
  };
  for (const Case& c : asic) {
    auto s = ParseScenario(group(c.extra), "f.toml");
    if (c.want.empty()) {
      EXPECT_TRUE(s.has_value()) << c.what << ": " << (s ? "" : s.error().message());
    } else {
      ASSERT_FALSE(s.has_value()) << c.what;
      EXPECT_NE(s.error().message().find(c.want), std::string::npos) << c.what << ": " << s.error().message();
      EXPECT_NE(s.error().message().find("f.toml:"), std::string::npos) << "names the line: " << s.error().message();
    }
  }
}

}  // namespace
}  // namespace rigshift
