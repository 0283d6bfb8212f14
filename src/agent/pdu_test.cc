// The Redfish outlet meter: the OCP Rack PDU guide's outlet read by hand, then against
// rigshift-fake-pdu over loopback HTTP (energy advances, a counter reset and a missing reading are
// reported, not billed; a PDU that is down is Unavailable).
#include "agent/pdu.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"
#include "net/http_client.h"

namespace rigshift::agent {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The outlet of the OCP Rack PDU usage guide's "Get outlets" example, trimmed to what is read.
const json kGuideOutlet = json::parse(R"({
  "@odata.id": "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1",
  "@odata.type": "#Outlet.v1_5_0.Outlet",
  "Id": "A1",
  "PowerWatts": {"DataSourceUri": "/redfish/v1/Chassis/PDU/Sensors/OutletA1W", "Reading": 197.4,
                 "ApparentVA": 197.4, "ReactiveVAR": 0.1, "PowerFactor": 0.99},
  "EnergykWh": {"DataSourceUri": "/redfish/v1/Chassis/PDU/Sensors/OutletA1kWh", "Reading": 36166}
})");

TEST(RedfishOutlet, TheGuidesOutletInWattsAndWattHours) {
  OutletReading r;
  ASSERT_TRUE(ParseRedfishOutlet(kGuideOutlet, "A1", r).ok());
  EXPECT_EQ(r.power, Watts(197));            // 197.4 W, rounded
  EXPECT_EQ(r.energy, WattHours(36166000));  // 36166 kWh
  EXPECT_EQ(r.energy_reset_time, "");

  json fractional = kGuideOutlet;
  fractional["EnergykWh"]["Reading"] = 36166.1235;  // rounded half away from zero to the Wh
  fractional["EnergykWh"]["SensorResetTime"] = "2024-05-01T00:00:00Z";
  OutletReading f;
  ASSERT_TRUE(ParseRedfishOutlet(fractional, "A1", f).ok());
  EXPECT_EQ(f.energy, WattHours(36166124));
  EXPECT_EQ(f.energy_reset_time, "2024-05-01T00:00:00Z");
}

TEST(RedfishOutlet, NullOrMissingReadingsAreAbsentAndBadOnesAreErrors) {
  json nulls = kGuideOutlet;
  nulls["PowerWatts"]["Reading"] = nullptr;
  nulls.erase("EnergykWh");
  OutletReading r;
  ASSERT_TRUE(ParseRedfishOutlet(nulls, "A1", r).ok());
  EXPECT_FALSE(r.power.has_value());
  EXPECT_FALSE(r.energy.has_value());

  json text = kGuideOutlet;
  text["EnergykWh"]["Reading"] = "36166";
  OutletReading t;
  Status s = ParseRedfishOutlet(text, "PDU x", t);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "PDU x: EnergykWh.Reading: \"36166\" is not a number");
  json negative = kGuideOutlet;
  negative["PowerWatts"]["Reading"] = -5;
  OutletReading n;
  EXPECT_NE(ParseRedfishOutlet(negative, "PDU x", n).message().find("is negative"), std::string::npos);
}

OutletReading At(int64_t wh, std::string reset_time = "") {
  OutletReading r;
  r.pdu = "1";
  r.outlet = "A1";
  r.energy = WattHours(wh);
  r.energy_reset_time = std::move(reset_time);
  return r;
}

TEST(EnergyBetween, CasesOnBothSidesOfEachBoundary) {
  struct Case {
    const char* name;
    OutletReading before, after;
    EnergyDelta::Kind kind;
    std::optional<int64_t> wh;
    const char* reason_has;
  };
  OutletReading missing = At(0);
  missing.energy.reset();
  std::vector<Case> cases = {
      {"advanced", At(1000), At(1750), EnergyDelta::Kind::kMeasured, 750, ""},
      {"idle outlet: a measured zero", At(1000), At(1000), EnergyDelta::Kind::kMeasured, 0, ""},
      {"went back by one", At(1000), At(999), EnergyDelta::Kind::kCounterReset, std::nullopt, "went back from 1000 Wh to 999 Wh"},
      {"reset time changed, counter higher", At(10, "T1"), At(5000, "T2"), EnergyDelta::Kind::kCounterReset, std::nullopt,
       "reset at T2"},
      {"same reset time", At(10, "T1"), At(50, "T1"), EnergyDelta::Kind::kMeasured, 40, ""},
      {"first reading missing", missing, At(5), EnergyDelta::Kind::kMissing, std::nullopt, "first reading"},
      {"second reading missing", At(5), missing, EnergyDelta::Kind::kMissing, std::nullopt, "second reading"},
  };
  for (const Case& c : cases) {
    EnergyDelta d = EnergyBetween(c.before, c.after);
    EXPECT_EQ(d.kind, c.kind) << c.name;
    EXPECT_EQ(d.energy.has_value(), c.wh.has_value()) << c.name;
    if (c.wh && d.energy) {
      EXPECT_EQ(d.energy->raw(), *c.wh) << c.name;
    }
    EXPECT_NE(d.reason.find(c.reason_has), std::string::npos) << c.name << ": " << d.reason;
  }
}

class FakePduTest : public ::testing::Test {
 protected:
  void StartPdu(std::vector<std::string> extra = {}) {
    // 3600x: one real second is an hour of load, so a 2000 W outlet counts 2000 Wh a second.
    std::vector<std::string> argv = {RIGSHIFT_FAKE_PDU, "--port", "0", "--pdu", "rack-7", "--outlet", "A1=2000",
                                     "--outlet", "B 2=0", "--speed", "3600", "--start-kwh", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    pdu_ = testing::FakeDevice::Start(argv, tmp_ / "pdu.log", &error);
    ASSERT_NE(pdu_, nullptr) << error;
    url_ = "http://127.0.0.1:" + std::to_string(pdu_->port());
    RedfishOptions o;
    o.timeout = 1000ms;
    auto m = RedfishPowerMeter::Create(url_, o);
    ASSERT_TRUE(m) << m.error().ToString();
    meter_ = std::move(*m);
  }
  void Control(const std::string& path) {
    net::HttpClient c("127.0.0.1", pdu_->port(), 1s);
    auto resp = c.Send("POST", path);
    ASSERT_TRUE(resp) << resp.error().ToString();
    ASSERT_EQ(resp->status, 200) << resp->body;
  }
  OutletReading ReadOk(const std::string& outlet) {
    auto r = meter_->Read("rack-7", outlet);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : OutletReading{};
  }
  testing::TempDir tmp_;
  std::unique_ptr<testing::FakeDevice> pdu_;
  std::string url_;
  std::unique_ptr<RedfishPowerMeter> meter_;
};

TEST_F(FakePduTest, EnergyAdvancesWithTheLoad) {
  StartPdu();
  OutletReading a = ReadOk("A1");
  EXPECT_EQ(a.power, Watts(2000));
  ASSERT_TRUE(a.energy);
  EXPECT_GE(a.energy->raw(), 100'000);  // --start-kwh 100
  std::this_thread::sleep_for(500ms);
  OutletReading b = ReadOk("A1");
  EnergyDelta d = EnergyBetween(a, b);
  ASSERT_EQ(d.kind, EnergyDelta::Kind::kMeasured) << d.reason;
  // Half a second at 3600x is half an hour of 2000 W: about 1000 Wh (timing slack both ways).
  EXPECT_GT(d.energy->raw(), 700);
  EXPECT_LT(d.energy->raw(), 2500);

  // An outlet drawing nothing counts nothing: a measured zero, and an id with a space travels escaped.
  OutletReading idle1 = ReadOk("B 2");
  OutletReading idle2 = ReadOk("B 2");
  EXPECT_EQ(idle1.power, Watts(0));
  EnergyDelta idle = EnergyBetween(idle1, idle2);
  EXPECT_EQ(idle.kind, EnergyDelta::Kind::kMeasured);
  EXPECT_EQ(idle.energy, WattHours(0));

  Control("/fake/outlets/A1/jump?wh=50000");
  OutletReading c = ReadOk("A1");
  EXPECT_GE(EnergyBetween(b, c).energy.value_or(WattHours(0)).raw(), 50'000);
}

TEST_F(FakePduTest, ACounterResetIsReportedNotBilled) {
  StartPdu();
  OutletReading a = ReadOk("A1");
  Control("/fake/outlets/A1/reset");
  OutletReading b = ReadOk("A1");
  EXPECT_LT(*b.energy, *a.energy);
  EXPECT_NE(b.energy_reset_time, a.energy_reset_time);
  EnergyDelta d = EnergyBetween(a, b);
  EXPECT_EQ(d.kind, EnergyDelta::Kind::kCounterReset);
  EXPECT_FALSE(d.energy.has_value());
  EXPECT_NE(d.reason.find("rack-7/A1: the energy counter was reset"), std::string::npos) << d.reason;
  // From the reset on, it measures again.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(EnergyBetween(b, ReadOk("A1")).kind, EnergyDelta::Kind::kMeasured);
}

TEST_F(FakePduTest, AMissingReadingIsReportedNotBilledAsZero) {
  StartPdu();
  OutletReading a = ReadOk("A1");
  Control("/fake/outlets/A1/blank?on=1");
  OutletReading b = ReadOk("A1");
  EXPECT_FALSE(b.power.has_value());
  EXPECT_FALSE(b.energy.has_value());
  EnergyDelta d = EnergyBetween(a, b);
  EXPECT_EQ(d.kind, EnergyDelta::Kind::kMissing);
  EXPECT_FALSE(d.energy.has_value());
  EXPECT_NE(d.reason.find("second reading has no energy counter"), std::string::npos) << d.reason;
}

TEST_F(FakePduTest, APduThatIsDownIsUnavailableNamingIt) {
  StartPdu();
  ReadOk("A1");
  Control("/fake/down");
  auto r = meter_->Read("rack-7", "A1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("PDU " + url_ + "/redfish/v1/PowerEquipment/RackPDUs/rack-7/Outlets/A1"),
            std::string::npos)
      << r.error().message();
  Control("/fake/up");
  ReadOk("A1");
  pdu_->Stop();  // and gone altogether
  auto gone = meter_->Read("rack-7", "A1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), StatusCode::kUnavailable);
}

TEST_F(FakePduTest, UnknownPduOrOutletIsNotFound) {
  StartPdu();
  EXPECT_EQ(meter_->Read("rack-7", "Z9").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(meter_->Read("rack-8", "A1").error().code(), StatusCode::kNotFound);
}

TEST_F(FakePduTest, ReadingsInALinkedMetricsResourceAreFollowed) {
  StartPdu({"--metrics-link"});
  OutletReading a = ReadOk("A1");
  EXPECT_EQ(a.power, Watts(2000));
  ASSERT_TRUE(a.energy.has_value());
  EXPECT_GE(pdu_->CountInLog("/Outlets/A1/Metrics -> 200"), 1);
}

}  // namespace
}  // namespace rigshift::agent
