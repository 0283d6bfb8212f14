// The CGMiner-compatible API: every recorded reply in tests/fixtures/cgminer/ parsed, then the
// client against rigshift-fake-asic over real loopback TCP (switch pool, add pool, sleep, wake,
// errors the miner answers, a miner that never answers).
#include "agent/cgminer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/testing/fake_device.h"
#include "common/testing/temp_dir.h"

namespace rigshift::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const fs::path kFixtures = fs::path(RIGSHIFT_FIXTURES) / "cgminer";

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json Fixture(const std::string& firmware, const std::string& name) {
  std::string text = Read(kFixtures / firmware / (name + ".json"));
  EXPECT_FALSE(text.empty()) << firmware << "/" << name;
  auto objects = SplitCgminerReply(text, name);
  EXPECT_TRUE(objects) << objects.error().ToString();
  return objects ? (*objects)[0] : json();
}

// ---- every fixture ---------------------------------------------------------------------------

// Each recorded reply splits into JSON objects and carries a STATUS; the ones recorded as the
// miner saying no are errors, the others are not.
TEST(CgminerFixtures, EveryRecordedReplyParsesAndItsStatusIsWhatItRecords) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kFixtures)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    std::string name = entry.path().parent_path().filename().string() + "/" + entry.path().filename().string();
    auto objects = SplitCgminerReply(Read(entry.path()), name);
    ASSERT_TRUE(objects) << objects.error().ToString();
    bool expect_error = name.find("denied") != std::string::npos || name.find("invalid") != std::string::npos ||
                        name.find("_last") != std::string::npos || name.find("paused") != std::string::npos;
    for (const json& o : *objects) {
      const json& reply = o.contains("STATUS") ? o : o.begin().value()[0];  // a joined reply's first section
      Status s = CheckCgminerStatus(reply, name, "fixture");
      EXPECT_EQ(s.ok(), !expect_error) << name << ": " << s.ToString();
    }
  }
  EXPECT_GE(files, 40);
}

struct FirmwareCase {
  std::string dir;
  AsicFirmware firmware;
  double hashrate_hs;          // SUMMARY's shortest window, in H/s
  std::optional<double> avg_hs;
  size_t boards;
  std::string active_pool;
};

class PerFirmware : public ::testing::TestWithParam<FirmwareCase> {};

TEST_P(PerFirmware, VersionSummaryDevsAndPoolsRead) {
  const FirmwareCase& c = GetParam();
  auto fw = DetectAsicFirmware(Fixture(c.dir, "version"), c.dir);
  ASSERT_TRUE(fw) << fw.error().ToString();
  EXPECT_EQ(*fw, c.firmware);

  auto s = ParseAsicSummary(Fixture(c.dir, "summary"), c.dir);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_NEAR(s->hashrate_hs, c.hashrate_hs, c.hashrate_hs * 1e-9);
  ASSERT_EQ(s->hashrate_avg_hs.has_value(), c.avg_hs.has_value());
  if (c.avg_hs) {
    EXPECT_NEAR(*s->hashrate_avg_hs, *c.avg_hs, *c.avg_hs * 1e-9);
  }
  EXPECT_TRUE(s->accepted && *s->accepted > 0);
  EXPECT_TRUE(s->elapsed_s && *s->elapsed_s > 0);
  EXPECT_FALSE(s->power.has_value());  // only Whatsminer puts Power in the summary

  auto boards = ParseAsicDevs(Fixture(c.dir, "devs"), c.dir);
  ASSERT_TRUE(boards) << boards.error().ToString();
  ASSERT_EQ(boards->size(), c.boards);
  for (size_t i = 0; i < boards->size(); ++i) {
    const AsicBoard& b = (*boards)[i];
    EXPECT_EQ(b.kind, "ASC");
    EXPECT_EQ(b.index, static_cast<int>(i));
    EXPECT_EQ(b.enabled, true);
    EXPECT_EQ(b.status, "Alive");
    ASSERT_TRUE(b.hashrate_hs.has_value());
    EXPECT_GT(*b.hashrate_hs, 1e12);  // every board of these miners hashes terahashes
  }

  auto pools = ParseAsicPools(Fixture(c.dir, "pools"), c.dir);
  ASSERT_TRUE(pools) << pools.error().ToString();
  ASSERT_GE(pools->size(), 2u);
  AsicState st;
  st.pools = *pools;
  ASSERT_NE(st.ActivePool(), nullptr);
  EXPECT_EQ(st.ActivePool()->url, c.active_pool);
  EXPECT_EQ(st.ActivePool()->index, 0);
  EXPECT_EQ((*pools)[1].priority, 1);
  EXPECT_FALSE((*pools)[1].stratum_active);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PerFirmware,
    ::testing::Values(
        // bmminer writes "GHS 5s" as a string: 104212.88 GH/s.
        FirmwareCase{"antminer", AsicFirmware::kAntminer, 104212.88e9, 103987.09e9, 3,
                     "stratum+tcp://eu.pool-a.example:1800"},
        FirmwareCase{"braiins", AsicFirmware::kBraiins, 13502174.42e6, 13234112.87e6, 3,
                     "stratum+tcp://stratum.braiins.example:3333"},
        // LuxOS also writes BMMiner in VERSION; LUXminer decides.
        FirmwareCase{"luxos", AsicFirmware::kLuxos, 100234.56e9, 99987.65e9, 3, "stratum+tcp://btc.luxor.example:700"},
        FirmwareCase{"cgminer", AsicFirmware::kCgminer, 13612345.67e6, 13500000.00e6, 3,
                     "stratum+tcp://btc.pool-a.example:3333"}),
    [](const auto& info) { return info.param.dir; });

TEST(CgminerParse, BoardTemperaturesAreReadAndAZeroSensorIsAbsent) {
  auto antminer = ParseAsicDevs(Fixture("antminer", "devs"), "antminer");
  ASSERT_TRUE(antminer);
  EXPECT_EQ((*antminer)[1].temperature_c, 64.0);
  auto cg = ParseAsicDevs(Fixture("cgminer", "devs"), "cgminer");
  ASSERT_TRUE(cg);
  EXPECT_EQ((*cg)[0].temperature_c, 71.5);
  EXPECT_FALSE((*cg)[2].temperature_c.has_value());  // "Temperature": 0.00 is no reading
  auto lux = ParseAsicDevs(Fixture("luxos", "devs"), "luxos");
  ASSERT_TRUE(lux);
  EXPECT_NEAR(*(*lux)[0].hashrate_hs, 33411.52e9, 1);
}

TEST(CgminerParse, PowerWhereTheFirmwareGivesIt) {
  auto lux = ParseLuxosPower(Fixture("luxos", "power"), "luxos power");
  ASSERT_TRUE(lux) << lux.error().ToString();
  EXPECT_EQ(*lux, Watts(3250));
  auto bos = ParseBraiinsTunerPower(Fixture("braiins", "tunerstatus"), "braiins tunerstatus");
  ASSERT_TRUE(bos) << bos.error().ToString();
  EXPECT_EQ(*bos, Watts(1419));
  auto wm = ParseAsicSummary(Fixture("whatsminer", "summary"), "whatsminer");
  ASSERT_TRUE(wm) << wm.error().ToString();
  EXPECT_EQ(wm->power, Watts(3360));
  EXPECT_NEAR(wm->hashrate_hs, 85012345.67e6, 1e3);

  // -1 is the firmware's "cannot read": absent, not a negative draw; a missing field likewise.
  json minus = Fixture("luxos", "power");
  minus["POWER"][0]["Watts"] = -1;
  EXPECT_EQ(ParseLuxosPower(minus, "x").value(), std::nullopt);
  json none = Fixture("braiins", "tunerstatus");
  none["TUNERSTATUS"][0].erase("ApproximateMinerPowerConsumption");
  EXPECT_EQ(ParseBraiinsTunerPower(none, "x").value(), std::nullopt);
  // A reply without the section is an error that names it.
  auto missing = ParseLuxosPower(Fixture("luxos", "summary"), "lux");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("POWER: missing"), std::string::npos);
}

TEST(CgminerParse, SleepStatesAndSessions) {
  EXPECT_EQ(ParseLuxosAsleep(Fixture("luxos", "config"), "c").value(), false);
  json sleeping = Fixture("luxos", "config");
  sleeping["CONFIG"][0]["CurtailMode"] = "Sleep";
  EXPECT_EQ(ParseLuxosAsleep(sleeping, "c").value(), true);
  EXPECT_FALSE(ParseBraiinsPaused(Fixture("braiins", "devdetails")));
  EXPECT_TRUE(ParseBraiinsPaused(Fixture("braiins", "devdetails_paused")));
  EXPECT_EQ(ParseLuxosSession(Fixture("luxos", "logon"), "l").value(), "yJN2nlj1");
  EXPECT_EQ(ParseLuxosSession(Fixture("luxos", "session"), "l").value(), "");
  EXPECT_TRUE(CheckCgminerStatus(Fixture("luxos", "curtail_sleep"), "curtail", "l").ok());
  EXPECT_TRUE(CheckCgminerStatus(Fixture("braiins", "pause"), "pause", "b").ok());
  EXPECT_EQ(AddedPoolIndex(Fixture("cgminer", "addpool")), 2);
  EXPECT_EQ(AddedPoolIndex(Fixture("cgminer", "switchpool")), std::nullopt);
}

TEST(CgminerParse, ErrorAnswersNameTheCommandAndTheMinersMessage) {
  Status denied = CheckCgminerStatus(Fixture("cgminer", "access_denied"), "switchpool|1", "10.0.0.5:4028");
  EXPECT_EQ(denied.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(denied.message(),
            "10.0.0.5:4028: switchpool|1: the miner answered E (code 45): Access denied to 'switchpool' command");
  Status last = CheckCgminerStatus(Fixture("cgminer", "disablepool_last"), "disablepool|0", "m");
  EXPECT_EQ(last.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(last.message().find("Cannot disable last active pool"), std::string::npos);
  json fatal = Fixture("cgminer", "invalid_command");
  fatal["STATUS"][0]["STATUS"] = "F";
  EXPECT_EQ(CheckCgminerStatus(fatal, "summary", "m").code(), StatusCode::kUnavailable);
  json info = Fixture("cgminer", "ascdisable");  // "I": informational, a success
  EXPECT_TRUE(CheckCgminerStatus(info, "ascdisable|0", "m").ok());
  EXPECT_EQ(CheckCgminerStatus(json{{"SUMMARY", json::array()}}, "summary", "m").code(), StatusCode::kInvalidArgument);
}

TEST(CgminerParse, JoinedRepliesInBothLayoutsWithATrailingNul) {
  // cgminer: {"summary":[{...}],"devs":[{...}],"id":1}, then the NUL api.c sends.
  std::string joined = Read(kFixtures / "cgminer" / "summary+devs.json");
  joined.push_back('\0');
  auto objects = SplitCgminerReply(joined, "cgminer");
  ASSERT_TRUE(objects) << objects.error().ToString();
  ASSERT_EQ(objects->size(), 1u);
  auto summary = SectionFor(*objects, "summary+devs", "summary", "m");
  ASSERT_TRUE(summary);
  EXPECT_NEAR(ParseAsicSummary(*summary, "m")->hashrate_hs, 13600000e6, 1);
  auto devs = SectionFor(*objects, "summary+devs", "devs", "m");
  ASSERT_TRUE(devs);
  EXPECT_EQ(ParseAsicDevs(*devs, "m")->size(), 1u);
  EXPECT_FALSE(SectionFor(*objects, "summary+devs", "pools", "m"));

  // bmminer: the two replies back to back, "}{".
  auto b2b = SplitCgminerReply(Read(kFixtures / "antminer" / "summary+pools.json"), "antminer");
  ASSERT_TRUE(b2b) << b2b.error().ToString();
  ASSERT_EQ(b2b->size(), 2u);
  auto pools = SectionFor(*b2b, "summary+pools", "pools", "m");
  ASSERT_TRUE(pools);
  EXPECT_EQ(ParseAsicPools(*pools, "m")->at(0).user, "WALLET.a1");
  EXPECT_NEAR(ParseAsicSummary(*SectionFor(*b2b, "summary+pools", "summary", "m"), "m")->hashrate_hs, 104100e9, 1);
}

TEST(CgminerParse, WhatIsNotAReplyIsAnErrorNeverAZero) {
  EXPECT_EQ(SplitCgminerReply("HTTP/1.1 400 Bad Request\r\n", "m").error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(SplitCgminerReply("{\"STATUS\":[{", "m").error().message().find("cut short"), std::string::npos);
  EXPECT_FALSE(SplitCgminerReply(std::string("\0", 1), "m"));
  json no_rate = Fixture("cgminer", "summary");
  for (const char* k : {"MHS av", "MHS 5s", "MHS 1m"}) no_rate["SUMMARY"][0].erase(k);
  auto s = ParseAsicSummary(no_rate, "10.0.0.5:4028: summary");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("no hashrate"), std::string::npos);
  json no_url = Fixture("cgminer", "pools");
  no_url["POOLS"][1].erase("URL");
  EXPECT_NE(ParseAsicPools(no_url, "m").error().message().find("POOLS[1].URL: missing"), std::string::npos);
  json unknown = {{"STATUS", json::array({{{"STATUS", "S"}}})}, {"VERSION", json::array({{{"SomeMiner", "1.0"}}})}};
  EXPECT_NE(DetectAsicFirmware(unknown, "m").error().message().find("SomeMiner"), std::string::npos);
}

TEST(CgminerParse, AddpoolFieldsAreEscapedAsTheApiReadmeSays) {
  EXPECT_EQ(EscapeCgminerParameter("plain"), "plain");
  EXPECT_EQ(EscapeCgminerParameter("a,b\\c"), "a\\,b\\\\c");
}

TEST(CgminerParse, FirmwareNames) {
  EXPECT_EQ(ParseAsicFirmware("LuxOS").value(), AsicFirmware::kLuxos);
  EXPECT_EQ(ParseAsicFirmware("bosminer").value(), AsicFirmware::kBraiins);
  EXPECT_EQ(ParseAsicFirmware("stock").value(), AsicFirmware::kAntminer);
  EXPECT_EQ(AsicFirmwareName(AsicFirmware::kCgminer), "cgminer");
  EXPECT_NE(ParseAsicFirmware("whatsminer").error().message().find("antminer, braiins, luxos or cgminer"),
            std::string::npos);
}

// ---- the client against rigshift-fake-asic over loopback ------------------------------------

class FakeAsicTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::FakeDevice> Start(const std::string& firmware, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {RIGSHIFT_FAKE_ASIC, "--port", "0", "--firmware", firmware, "--fixtures",
                                     kFixtures.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    auto d = testing::FakeDevice::Start(argv, tmp_ / (firmware + std::to_string(n_++) + ".log"), &error);
    EXPECT_NE(d, nullptr) << error;
    return d;
  }
  static CgminerClient Client(const testing::FakeDevice& d, AsicFirmware fw) {
    CgminerOptions o;
    o.connect_timeout = 1000ms;
    o.read_timeout = 2000ms;
    return CgminerClient("127.0.0.1", d.port(), fw, o);
  }
  testing::TempDir tmp_;
  int n_ = 0;
};

TEST_F(FakeAsicTest, LuxosSleepsWithASessionAndWakes) {
  auto d = Start("luxos");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kLuxos);
  auto before = c.State();
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_NEAR(before->summary.hashrate_hs, 100234.56e9, 1e3);
  EXPECT_EQ(before->power, Watts(3250));
  EXPECT_EQ(before->asleep, false);
  EXPECT_EQ(before->temperature_c, 59.0);

  ASSERT_TRUE(c.Sleep().ok());
  EXPECT_EQ(c.changes(), std::vector<std::string>{"curtail|SESSION,sleep"});  // the session id is not logged
  auto asleep = c.State();
  ASSERT_TRUE(asleep) << asleep.error().ToString();
  EXPECT_EQ(asleep->summary.hashrate_hs, 0);
  ASSERT_TRUE(asleep->power.has_value());
  EXPECT_LT(*asleep->power, *before->power);
  EXPECT_EQ(asleep->asleep, true);
  // The session we opened was closed again: the next actor can log on.
  EXPECT_EQ(ParseLuxosSession(c.Command("session").value(), "s").value(), "");

  ASSERT_TRUE(c.Wake().ok());
  auto awake = c.State();
  ASSERT_TRUE(awake);
  EXPECT_NEAR(awake->summary.hashrate_hs, before->summary.hashrate_hs, 1e3);
  EXPECT_EQ(awake->power, Watts(3250));
  EXPECT_EQ(awake->asleep, false);
  EXPECT_EQ(d->CountInLog("curtail|"), 2);
  EXPECT_EQ(d->CountInLog("logoff|"), 2);
}

TEST_F(FakeAsicTest, BraiinsPausesAndResumes) {
  auto d = Start("braiins");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kBraiins);
  auto before = c.State();
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_EQ(before->power, Watts(1419));
  EXPECT_EQ(before->asleep, false);
  ASSERT_TRUE(c.Sleep().ok());
  auto paused = c.State();
  ASSERT_TRUE(paused) << paused.error().ToString();
  EXPECT_EQ(paused->asleep, true);  // devdetails answers "Unavailable" while paused
  EXPECT_EQ(paused->summary.hashrate_hs, 0);
  EXPECT_EQ(paused->power, Watts(0));
  ASSERT_TRUE(c.Wake().ok());
  EXPECT_EQ(c.changes(), (std::vector<std::string>{"pause", "resume"}));
  auto resumed = c.State();
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->asleep, false);
  EXPECT_EQ(resumed->power, Watts(1419));
  EXPECT_GT(resumed->summary.hashrate_hs, 1e13);
}

TEST_F(FakeAsicTest, CgminerSleepsByDisablingEveryAsc) {
  auto d = Start("cgminer");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kCgminer);
  ASSERT_EQ(c.Asleep().value(), false);
  ASSERT_TRUE(c.Sleep().ok());
  EXPECT_EQ(c.changes(), (std::vector<std::string>{"ascdisable|0", "ascdisable|1", "ascdisable|2"}));
  auto st = c.State();
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->asleep, true);
  EXPECT_EQ(st->summary.hashrate_hs, 0);
  EXPECT_FALSE(st->power.has_value());  // cgminer reports no power: absent, not 0
  ASSERT_TRUE(c.Wake().ok());
  EXPECT_EQ(c.Asleep().value(), false);
  EXPECT_GT(c.Summary()->hashrate_hs, 1e13);
}

TEST_F(FakeAsicTest, StockAntminerHasNoSleepOnItsApiPortAndSaysSo) {
  auto d = Start("antminer");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kAntminer);
  Status s = c.Sleep();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("web interface"), std::string::npos) << s.message();
  EXPECT_TRUE(c.changes().empty());
  auto st = c.State();
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_FALSE(st->asleep.has_value());
  EXPECT_FALSE(st->power.has_value());
  EXPECT_NEAR(st->summary.hashrate_hs, 104212.88e9, 1e3);
}

TEST_F(FakeAsicTest, SwitchPoolMakesItTheActiveOneInLaterPoolsAnswers) {
  auto d = Start("cgminer");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kCgminer);
  ASSERT_TRUE(c.SwitchPool(1).ok());
  AsicState st;
  st.pools = c.Pools().value();
  ASSERT_NE(st.ActivePool(), nullptr);
  EXPECT_EQ(st.ActivePool()->index, 1);
  EXPECT_EQ(st.ActivePool()->url, "stratum+tcp://btc.pool-b.example:443");
  EXPECT_EQ(st.pools[1].priority, 0);
  EXPECT_EQ(st.pools[0].priority, 1);

  // An unknown pool: the miner's own words, with the command and the address.
  Status bad = c.SwitchPool(9);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find(d->address() + ": switchpool|9: the miner answered E (code 26): Invalid pool id 9"),
            std::string::npos)
      << bad.message();
}

TEST_F(FakeAsicTest, AddPoolReturnsItsNumberAndEscapesCommas) {
  auto d = Start("cgminer");
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kCgminer);
  auto n = c.AddPool("stratum+tcp://new.example:3333", "wallet,with,commas", "x");
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(*n, 2);
  auto pools = c.Pools();
  ASSERT_TRUE(pools);
  ASSERT_EQ(pools->size(), 3u);
  EXPECT_EQ((*pools)[2].user, "wallet,with,commas");
  EXPECT_EQ((*pools)[2].priority, 2);
  EXPECT_EQ(c.changes(), std::vector<std::string>{"addpool|stratum+tcp://new.example:3333,wallet,with,commas,***"});
}

TEST_F(FakeAsicTest, ARefusedCommandIsAnErrorNamingHostCommandAndMessage) {
  auto d = Start("cgminer", {"--deny", "switchpool"});
  ASSERT_NE(d, nullptr);
  CgminerClient c = Client(*d, AsicFirmware::kCgminer);
  Status s = c.SwitchPool(1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), d->address() +
                             ": switchpool|1: the miner answered E (code 45): Access denied to 'switchpool' command");
  // An unknown command: cgminer's "Invalid command".
  auto r = c.Command("frobnicate");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("frobnicate: the miner answered E (code 14): Invalid command"), std::string::npos);
}

TEST_F(FakeAsicTest, JoinedReportCommandsInBothLayouts) {
  for (auto [name, fw] : {std::pair{"cgminer", AsicFirmware::kCgminer}, std::pair{"antminer", AsicFirmware::kAntminer}}) {
    auto d = Start(name);
    ASSERT_NE(d, nullptr);
    CgminerClient c = Client(*d, fw);
    auto r = c.Command("summary+pools");
    ASSERT_TRUE(r) << name << ": " << r.error().ToString();
    EXPECT_GT(ParseAsicSummary((*r)["summary"][0], name)->hashrate_hs, 1e13) << name;
    EXPECT_GE(ParseAsicPools((*r)["pools"][0], name)->size(), 2u) << name;
  }
}

TEST_F(FakeAsicTest, AMinerThatNeverAnswersTimesOutNamingTheHostAndCommand) {
  auto d = Start("cgminer", {"--silent"});
  ASSERT_NE(d, nullptr);
  CgminerOptions o;
  o.read_timeout = 300ms;
  CgminerClient c("127.0.0.1", d->port(), AsicFirmware::kCgminer, o);
  auto t0 = std::chrono::steady_clock::now();
  auto s = c.Summary();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.error().message(), d->address() + ": summary: no complete answer within 300 ms (0 bytes came)");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 1500ms);
}

TEST_F(FakeAsicTest, NobodyListeningIsUnavailableNamingTheHost) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  close(fd);  // bound and closed: nothing listens there now
  CgminerClient c("127.0.0.1", port, AsicFirmware::kLuxos);
  auto s = c.Pools();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.error().message(), "127.0.0.1:" + std::to_string(port) + ": pools: cannot connect: Connection refused");
}

}  // namespace
}  // namespace rigshift::agent
