// End to end: `rigshift asic ...` and `rigshift pdu read` against rigshift-fake-asic and
// rigshift-fake-pdu processes on loopback ports.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"
#include "net/http_client.h"

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeDevice;
using testing::ReadText;
using testing::TempDir;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
  json Json() const { return json::parse(out, nullptr, false); }
};

class AsicCliTest : public ::testing::Test {
 protected:
  CliRun Rigshift(const std::string& args) {
    std::string err_file = (tmp_ / "stderr.txt").string();
    std::string cmd = std::string(RIGSHIFT_BINARY) + " " + args + " 2>" + err_file;
    CliRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = ReadText(err_file);
    return r;
  }
  std::unique_ptr<FakeDevice> Asic(const std::string& firmware, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {RIGSHIFT_FAKE_ASIC, "--port", "0", "--firmware", firmware, "--fixtures",
                                     (fs::path(RIGSHIFT_FIXTURES) / "cgminer").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    auto d = FakeDevice::Start(argv, tmp_ / (firmware + std::to_string(n_++) + ".log"), &error);
    EXPECT_NE(d, nullptr) << error;
    return d;
  }
  TempDir tmp_;
  int n_ = 0;
};

TEST_F(AsicCliTest, StatusFindsTheFirmwareByItselfAndPrintsJson) {
  auto d = Asic("luxos");
  ASSERT_NE(d, nullptr);
  CliRun r = Rigshift("asic status --address " + d->address() + " --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = r.Json();
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["firmware"], "luxos");  // told by `version`, though LuxOS also calls itself BMMiner
  EXPECT_EQ(j["address"], d->address());
  EXPECT_NEAR(j["hashrate_hs"].get<double>(), 100234.56e9, 1e3);
  EXPECT_EQ(j["power_w"], 3250);
  EXPECT_EQ(j["asleep"], false);
  EXPECT_EQ(j["active_pool"]["url"], "stratum+tcp://btc.luxor.example:700");
  EXPECT_EQ(j["boards"].size(), 3u);

  CliRun text = Rigshift("asic status --address " + d->address());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("hashrate:    100.23 TH/s"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("power:       3250 W"), std::string::npos) << text.out;
}

TEST_F(AsicCliTest, PoolThenSleepThenWakeEachSendOnlyWhatIsNeeded) {
  auto d = Asic("cgminer");
  ASSERT_NE(d, nullptr);
  std::string at = " --address " + d->address() + " --firmware cgminer --format json";
  CliRun pool = Rigshift("asic pool" + at + " --url stratum+tcp://new.example:3333 --user farm.rig09");
  ASSERT_EQ(pool.exit_code, 0) << pool.err << pool.out;
  json p = pool.Json();
  EXPECT_EQ(p["converged"], true);
  EXPECT_EQ(p["changes"], json::array({"addpool|stratum+tcp://new.example:3333,farm.rig09,***", "switchpool|2"}));
  EXPECT_EQ(p["active_pool"]["url"], "stratum+tcp://new.example:3333");

  CliRun again = Rigshift("asic pool" + at + " --url stratum+tcp://new.example:3333 --user farm.rig09");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.Json()["changes"], json::array());

  CliRun sleep = Rigshift("asic sleep" + at);
  ASSERT_EQ(sleep.exit_code, 0) << sleep.err;
  EXPECT_EQ(sleep.Json()["asleep"], true);
  EXPECT_EQ(sleep.Json()["hashrate_hs"], 0);

  CliRun status = Rigshift("asic status --address " + d->address() + " --firmware cgminer --format json");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.Json()["asleep"], true);
  EXPECT_EQ(status.Json()["active_pool"]["url"], "stratum+tcp://new.example:3333");

  CliRun wake = Rigshift("asic wake --address " + d->address() + " --firmware cgminer");
  ASSERT_EQ(wake.exit_code, 0) << wake.err;
  EXPECT_NE(wake.out.find("sent:        ascenable|0, ascenable|1, ascenable|2"), std::string::npos) << wake.out;
  EXPECT_NE(wake.out.find("asleep:      no"), std::string::npos) << wake.out;
  CliRun wake2 = Rigshift("asic wake --address " + d->address() + " --firmware cgminer");
  EXPECT_NE(wake2.out.find("sent:        nothing (already so)"), std::string::npos) << wake2.out;
}

TEST_F(AsicCliTest, ErrorsSayWhoAndExitByKind) {
  auto ant = Asic("antminer");
  auto dead = Asic("braiins", {"--silent"});
  ASSERT_TRUE(ant && dead);
  // Stock Antminer firmware cannot sleep through this API: refused, exit 2.
  CliRun sleep = Rigshift("asic sleep --address " + ant->address() + " --firmware antminer");
  EXPECT_EQ(sleep.exit_code, 2) << sleep.out;
  EXPECT_NE(sleep.err.find("web interface"), std::string::npos) << sleep.err;
  // A miner that never answers: unavailable, exit 1, naming it and the command.
  CliRun silent = Rigshift("asic status --address " + dead->address() + " --firmware braiins --timeout-ms 300");
  EXPECT_EQ(silent.exit_code, 1);
  EXPECT_EQ(silent.err, "rigshift: " + dead->address() + ": summary: no complete answer within 300 ms (0 bytes came)\n");
  CliRun bad = Rigshift("asic status --address " + ant->address() + " --firmware whatsminer");
  EXPECT_EQ(bad.exit_code, 2);
  CliRun no_port = Rigshift("asic status --address 127.0.0.1:99999");
  EXPECT_EQ(no_port.exit_code, 2);
  EXPECT_NE(no_port.err.find("bad port"), std::string::npos) << no_port.err;
}

TEST_F(AsicCliTest, PduReadPrintsWattsAndWattHoursAndADownPduExits1) {
  std::string error;
  auto pdu = FakeDevice::Start({RIGSHIFT_FAKE_PDU, "--port", "0", "--pdu", "1", "--outlet", "A1=1500", "--start-kwh",
                                "42"},
                               tmp_ / "pdu.log", &error);
  ASSERT_NE(pdu, nullptr) << error;
  std::string url = "http://" + pdu->address();
  CliRun r = Rigshift("pdu read --url " + url + " --pdu 1 --outlet A1 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = r.Json();
  EXPECT_EQ(j["power_w"], 1500);
  EXPECT_GE(j["energy_wh"].get<int64_t>(), 42000);
  EXPECT_LT(j["energy_wh"].get<int64_t>(), 43000);
  CliRun text = Rigshift("pdu read --url " + url + " --pdu 1 --outlet A1");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("power:  1500 W"), std::string::npos) << text.out;

  net::HttpClient control("127.0.0.1", pdu->port(), std::chrono::seconds(2));
  ASSERT_EQ(control.Send("POST", "/fake/down")->status, 200);
  CliRun down = Rigshift("pdu read --url " + url + " --pdu 1 --outlet A1 --timeout-ms 1000");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("PDU " + url + "/redfish/v1/PowerEquipment/RackPDUs/1/Outlets/A1"), std::string::npos)
      << down.err;
  CliRun missing = Rigshift("pdu read --url " + url + " --pdu 1 --outlet A1 --format yaml");
  EXPECT_EQ(missing.exit_code, 2);
}

}  // namespace
}  // namespace rigshift
