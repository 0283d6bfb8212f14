// Miner adapters against the real API answers in ../shared/data/device_samples/<miner>/ (see its
// README for sources). Every sample is parsed twice: with its kind named and with `auto`, which
// must agree. Expected values were read off the files by eye; hashrates are in H/s after units.
#include "agent/miners.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace rigshift::agent {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path Samples() { return std::filesystem::path(RIGSHIFT_SHARED_DATA) / "device_samples"; }

MinerStats Parse(const std::string& dir, const std::string& file) {
  std::string text = Read(Samples() / dir / file);
  EXPECT_FALSE(text.empty()) << file;
  auto kind = ParseMinerKind(dir);
  EXPECT_TRUE(kind.has_value());
  auto named = ParseMinerAnswer(text, *kind, file);
  EXPECT_TRUE(named.has_value()) << named.error().message();
  auto detected = ParseMinerAnswer(text, std::nullopt, file);
  EXPECT_TRUE(detected.has_value()) << detected.error().message();
  if (named && detected) {
    EXPECT_EQ(MinerStatsToJson(*named), MinerStatsToJson(*detected)) << file;
  }
  return named.value_or(MinerStats{});
}

// Every answer in the sample folders parses (the 'pools' answer has no devices: see below).
TEST(Miners, EverySampleParses) {
  int parsed = 0;
  for (const char* dir : {"xmrig", "trex", "lolminer", "gminer", "nbminer", "srbminer", "teamredminer", "claymore"}) {
    for (const auto& entry : std::filesystem::directory_iterator(Samples() / dir)) {
      std::string file = entry.path().filename().string();
      if (entry.path().extension() != ".json" || file.find("_pools_") != std::string::npos) continue;
      MinerStats s = Parse(dir, file);
      EXPECT_EQ(MinerKindName(s.miner), dir) << file;
      EXPECT_FALSE(s.devices.empty()) << file;
      ++parsed;
    }
  }
  EXPECT_GE(parsed, 35);
}

TEST(Xmrig, LegacyNvidiaRootHasOneThreadAndHealthPerGpu) {
  MinerStats s = Parse("xmrig", "xmrig-nvidia-2.6.1_root_8gpu-gtx1070ti.json");
  EXPECT_EQ(s.algorithm, "cryptonight");
  EXPECT_DOUBLE_EQ(s.hashrate_hs, 3522.59);
  EXPECT_EQ(s.accepted, 4);
  EXPECT_EQ(s.rejected, 0);
  ASSERT_EQ(s.devices.size(), 8u);
  EXPECT_DOUBLE_EQ(s.devices[0].hashrate_hs, 477.26);
  EXPECT_EQ(s.devices[0].temperature_c, 54);
  EXPECT_EQ(s.devices[0].power_w, 93);
  EXPECT_EQ(s.devices[7].index, 7);
  EXPECT_DOUBLE_EQ(s.devices[7].hashrate_hs, 286.31);
  EXPECT_EQ(s.devices[7].accepted, std::nullopt);  // XMRig counts shares per pool, not per GPU
}

TEST(Xmrig, CpuSummariesOldAndNew) {
  MinerStats old = Parse("xmrig", "xmrig-2.4.0-dev_root_cpu.json");
  ASSERT_EQ(old.devices.size(), 1u);
  EXPECT_EQ(old.devices[0].kind, "cpu");
  EXPECT_DOUBLE_EQ(old.devices[0].hashrate_hs, 232.1);
  EXPECT_EQ(old.devices[0].accepted, 1849);
  EXPECT_EQ(old.devices[0].rejected, 0);
  EXPECT_EQ(old.devices[0].name, "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz");

  MinerStats beta = Parse("xmrig", "xmrig-2.6.0-beta3_api1-summary_cpu-i7-4770.json");
  EXPECT_DOUBLE_EQ(beta.hashrate_hs, 296.24);
  EXPECT_EQ(beta.accepted, 30);

  MinerStats v5 = Parse("xmrig", "xmrig-5.11.1_api1-summary_cpu-rx0.json");
  EXPECT_EQ(v5.algorithm, "rx/0");
  EXPECT_DOUBLE_EQ(v5.hashrate_hs, 445.81);  // 10 s window; the others are still null
  EXPECT_EQ(v5.accepted, 0);

  MinerStats v6 = Parse("xmrig", "xmrig-6.17.1-dev_api2-summary_cpu-rx0.json");
  EXPECT_DOUBLE_EQ(v6.hashrate_hs, 1207.19);
  EXPECT_EQ(v6.accepted, 3);
  EXPECT_EQ(v6.rejected, 0);
  EXPECT_EQ(v6.version, "6.17.1-dev");
}

TEST(Xmrig, BackendsGiveCpuAndEachCudaGpu) {
  MinerStats s = Parse("xmrig", "xmrig-6.17.1-dev_api2-backends_cpu-cuda-gtx970.json");
  ASSERT_EQ(s.devices.size(), 2u);
  EXPECT_EQ(s.devices[0].kind, "cpu");
  EXPECT_DOUBLE_EQ(s.devices[0].hashrate_hs, 1235.78);
  EXPECT_EQ(s.devices[1].kind, "gpu");
  EXPECT_EQ(s.devices[1].name, "NVIDIA GeForce GTX 970");
  EXPECT_DOUBLE_EQ(s.devices[1].hashrate_hs, 246.77);
  EXPECT_EQ(s.devices[1].temperature_c, 69);
  EXPECT_EQ(s.devices[1].power_w, 161);
  EXPECT_EQ(s.accepted, std::nullopt);  // /2/backends has no shares

  MinerStats disabled = Parse("xmrig", "xmrig-5.11.1_api2-backends_cpu-opencl-cuda.json");
  ASSERT_EQ(disabled.devices.size(), 1u);  // opencl and cuda are off
  EXPECT_DOUBLE_EQ(disabled.devices[0].hashrate_hs, 1104.88);
}

TEST(Trex, PerGpuSharesFromApi4) {
  MinerStats s = Parse("trex", "trex-0.26.4_summary_5gpu-rtx2080ti-3070-3080_kawpow.json");
  EXPECT_EQ(s.algorithm, "kawpow");
  EXPECT_EQ(s.accepted, 77);
  ASSERT_EQ(s.devices.size(), 5u);
  EXPECT_DOUBLE_EQ(s.devices[0].hashrate_hs, 30436177);
  EXPECT_EQ(s.devices[0].temperature_c, 75);
  EXPECT_EQ(s.devices[0].power_w, 174);
  EXPECT_EQ(s.devices[0].accepted, 17);
  EXPECT_EQ(s.devices[0].rejected, 0);
  EXPECT_EQ(s.devices[0].name, "RTX 2080 Ti");
}

TEST(Trex, OlderApis) {
  MinerStats api10 = Parse("trex", "trex-0.5.6_summary_8gpu_lyra2z_api1.0.json");
  ASSERT_EQ(api10.devices.size(), 8u);
  EXPECT_DOUBLE_EQ(api10.devices[0].hashrate_hs, 3059637);
  EXPECT_EQ(api10.devices[0].temperature_c, std::nullopt);
  EXPECT_EQ(api10.devices[0].accepted, std::nullopt);
  EXPECT_EQ(api10.accepted, 44);

  MinerStats unnamed = Parse("trex", "trex-0.13.2_summary_2gpu-unnamed_x16s.json");
  EXPECT_EQ(unnamed.devices[1].name, std::nullopt);
  EXPECT_DOUBLE_EQ(unnamed.devices[1].hashrate_hs, 23387488);

  MinerStats one = Parse("trex", "trex-0.14.6_summary_1gpu-gtx1050ti_x16rv2.json");
  EXPECT_EQ(one.devices[0].accepted, 0);  // one GPU: the totals are its own
  EXPECT_EQ(one.devices[0].temperature_c, 53);

  MinerStats eight = Parse("trex", "trex-0.6.3_summary_8gpu-gtx1070ti_x16r.json");
  EXPECT_EQ(eight.devices[7].power_w, 181);
  EXPECT_DOUBLE_EQ(eight.devices[7].hashrate_hs, 18234722);
}

TEST(Lolminer, LayoutsAcrossVersions) {
  MinerStats flat = Parse("lolminer", "lolminer-0.41_tcp-api_equihash144-5.json");
  ASSERT_EQ(flat.devices.size(), 2u);
  EXPECT_DOUBLE_EQ(flat.devices[0].hashrate_hs, 13468.8252);
  EXPECT_EQ(flat.devices[0].accepted, std::nullopt);  // this API has no share counts at all
  EXPECT_EQ(flat.algorithm, "Equihash 144.5");

  MinerStats v06 = Parse("lolminer", "lolminer-0.6_summary_1gpu_equihash210-9.json");
  EXPECT_DOUBLE_EQ(v06.devices[0].hashrate_hs, 65.1);
  EXPECT_EQ(v06.devices[0].accepted, 4);
  EXPECT_EQ(v06.devices[0].rejected, 0);

  MinerStats mhs = Parse("lolminer", "lolminer-1.16a_summary_4gpu_etchash.json");
  ASSERT_EQ(mhs.devices.size(), 4u);
  EXPECT_DOUBLE_EQ(mhs.devices[1].hashrate_hs, 3.87e6);  // "mh/s"
  EXPECT_EQ(mhs.devices[1].temperature_c, std::nullopt);  // printed as 0: no sensor reading

  MinerStats v126 = Parse("lolminer", "lolminer-1.26_api-root_1gpu-rtx3080_ethash.json");
  EXPECT_DOUBLE_EQ(v126.devices[0].hashrate_hs, 91.55e6);
  EXPECT_EQ(v126.devices[0].temperature_c, 47);
  EXPECT_DOUBLE_EQ(v126.devices[0].power_w.value_or(0), 219.857);
  EXPECT_EQ(v126.devices[0].accepted, 35);

  MinerStats zel = Parse("lolminer", "lolminer-1.0a2_summary_1gpu_zelhash.json");
  EXPECT_EQ(zel.devices[0].temperature_c, 49);  // "Temps (deg C)" in this version

  MinerStats workers = Parse("lolminer", "lolminer-1.48_api-root_new-layout_4gpu-rx580_ethash_EDITED-MOCK.json");
  ASSERT_EQ(workers.devices.size(), 4u);
  EXPECT_DOUBLE_EQ(workers.devices[0].hashrate_hs, 27.43e6);
  EXPECT_EQ(workers.devices[0].accepted, 286);
  EXPECT_EQ(workers.devices[0].temperature_c, 72);
  EXPECT_EQ(workers.accepted, 1234);
}

TEST(Gminer, UnitsAndMissingAlgorithm) {
  MinerStats early = Parse("gminer", "gminer-1.1x_stat_4gpu-gtx1070ti_equihash144-5.json");
  EXPECT_EQ(early.algorithm, std::nullopt);
  ASSERT_EQ(early.devices.size(), 4u);
  EXPECT_DOUBLE_EQ(early.devices[2].hashrate_hs, 62.1);
  EXPECT_EQ(early.devices[2].accepted, 2);
  EXPECT_EQ(early.devices[2].power_w, 201);

  MinerStats beam = Parse("gminer", "gminer-1.34_stat_1gpu-rx560_beam.json");
  EXPECT_DOUBLE_EQ(beam.devices[0].hashrate_hs, 1.2);  // Sol/s
  EXPECT_EQ(beam.version, "1.34");

  MinerStats aion = Parse("gminer", "gminer-1.18_stat_1gpu-gtx1050ti_equihash210-9.json");
  EXPECT_EQ(aion.devices[0].power_w, std::nullopt);  // power_usage 0
  EXPECT_EQ(aion.devices[0].accepted, 1);
}

TEST(Gminer, SpeedUnitOfLaterVersions) {
  std::string answer = R"({"miner":"GMiner 2.75","algorithm":"Ethash","speed_unit":"MH/s",
      "total_accepted_shares":5,"total_rejected_shares":1,
      "devices":[{"gpu_id":0,"name":"RTX 3070","speed":61.2,"accepted_shares":5,"rejected_shares":1,"temperature":60,"power_usage":120}]})";
  auto s = ParseMinerAnswer(answer, std::nullopt, "g.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_DOUBLE_EQ(s->devices[0].hashrate_hs, 61.2e6);
}

TEST(Nbminer, RawRatesAndStringRates) {
  MinerStats v40 = Parse("nbminer", "nbminer-40.0_api-v1-status_2gpu-rtx3070-rtx3080ti-lhr_ethash.json");
  EXPECT_EQ(v40.algorithm, "ethash");
  ASSERT_EQ(v40.devices.size(), 2u);
  EXPECT_NEAR(v40.devices[0].hashrate_hs, 61497708.17, 0.01);
  EXPECT_EQ(v40.devices[0].accepted, 4);
  EXPECT_EQ(v40.devices[1].temperature_c, 64);
  EXPECT_EQ(v40.devices[1].power_w, 258);

  MinerStats v10 = Parse("nbminer", "nbminer-10.0_api-v1-status_2gpu-gtx1080ti_tensority-ethash-dual.json");
  EXPECT_DOUBLE_EQ(v10.devices[0].hashrate_hs, 1499);
  EXPECT_EQ(v10.accepted, 99);
  EXPECT_EQ(v10.rejected, 1);
  EXPECT_EQ(v10.devices[0].accepted, std::nullopt);

  auto strings = ParseMinerAnswer(R"({"miner":{"devices":[{"id":0,"hashrate":"61.50 M"}]}})", MinerKind::kNbminer, "n.json");
  ASSERT_TRUE(strings) << strings.error().message();
  EXPECT_DOUBLE_EQ(strings->devices[0].hashrate_hs, 61.5e6);
}

TEST(Srbminer, ThreeLayouts) {
  MinerStats cn = Parse("srbminer", "srbminer-cn-1.7.9_api-root_1gpu_cn-normalv8.json");
  EXPECT_EQ(cn.algorithm, "cryptonight/normalv8");
  EXPECT_DOUBLE_EQ(cn.devices[0].hashrate_hs, 343);
  EXPECT_EQ(cn.devices[0].temperature_c, 63);
  EXPECT_EQ(cn.devices[0].name, "Radeon RX 560 Series");

  MinerStats multi = Parse("srbminer", "srbminer-multi-0.1.8_api-root_6gpu-vega_kadena.json");
  EXPECT_EQ(multi.algorithm, "kadena");
  ASSERT_EQ(multi.devices.size(), 6u);
  EXPECT_NEAR(multi.devices[0].hashrate_hs, 1052373939.17, 0.01);
  EXPECT_EQ(multi.devices[0].temperature_c, 55);
  EXPECT_EQ(multi.accepted, 2171);
  EXPECT_EQ(multi.rejected, 19);

  MinerStats cpu = Parse("srbminer", "srbminer-multi-0.5.6_api-root_cpu_verushash.json");
  ASSERT_EQ(cpu.devices.size(), 1u);
  EXPECT_EQ(cpu.devices[0].kind, "cpu");
  EXPECT_NEAR(cpu.devices[0].hashrate_hs, 206111.51, 0.01);
  EXPECT_EQ(cpu.devices[0].accepted, 15);
}

TEST(TeamRedMiner, DevsInKhs) {
  MinerStats one = Parse("teamredminer", "teamredminer-0.3.8_devs_1gpu.json");
  EXPECT_DOUBLE_EQ(one.devices[0].hashrate_hs, 344.1);  // KHS 30s
  EXPECT_EQ(one.devices[0].accepted, 13);
  EXPECT_EQ(one.devices[0].temperature_c, 68);
  EXPECT_EQ(one.version, "TeamRedMiner 0.3.8");

  MinerStats six = Parse("teamredminer", "teamredminer-0.3.8_devs_6gpu.json");
  ASSERT_EQ(six.devices.size(), 6u);
  EXPECT_DOUBLE_EQ(six.devices[0].hashrate_hs, 2107);  // KHS 120s
  EXPECT_EQ(six.devices[0].accepted, 60);
  EXPECT_EQ(six.devices[0].rejected, 2);
}

TEST(TeamRedMiner, PoolsAnswerIsNotADeviceList) {
  std::string text = Read(Samples() / "teamredminer" / "teamredminer-0.3.8_pools_supportxmr.json");
  auto s = ParseMinerAnswer(text, std::nullopt, "pools.json");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "pools.json: DEVS: missing (this is a 'pools' answer; the adapter reads 'devs')");
}

TEST(Claymore, EthinKhsAndCryptoNoteInHs) {
  MinerStats eth = Parse("claymore", "claymore-11.8_miner_getstat1_eth_8gpu.json");
  EXPECT_EQ(eth.algorithm, "ethash");
  ASSERT_EQ(eth.devices.size(), 8u);
  EXPECT_DOUBLE_EQ(eth.devices[0].hashrate_hs, 29482e3);
  EXPECT_EQ(eth.devices[0].temperature_c, 60);
  EXPECT_DOUBLE_EQ(eth.hashrate_hs, 235321e3);
  EXPECT_EQ(eth.accepted, 2);

  MinerStats xmr = Parse("claymore", "claymore-11.3_miner_getstat1_xmr_1gpu.json");
  EXPECT_DOUBLE_EQ(xmr.devices[0].hashrate_hs, 339);
  EXPECT_EQ(xmr.devices[0].temperature_c, 61);

  MinerStats zec = Parse("claymore", "claymore-12.6_miner_getstat1_zec_1gpu.json");
  EXPECT_DOUBLE_EQ(zec.devices[0].hashrate_hs, 128);

  MinerStats no_temps = Parse("claymore", "claymore-12.0_miner_getstat1_eth_2gpu_no-temps.json");
  EXPECT_EQ(no_temps.devices[1].temperature_c, std::nullopt);
  EXPECT_DOUBLE_EQ(no_temps.devices[1].hashrate_hs, 83133e3);
}

TEST(Claymore, EthminerAndPhoenix) {
  MinerStats e13 = Parse("claymore", "ethminer-0.13.0.dev0_miner_getstat1_8gpu.json");
  EXPECT_EQ(e13.devices[1].temperature_c, 53);  // "63;50; 53;50": spaces inside
  EXPECT_EQ(e13.accepted, 15228);
  EXPECT_EQ(e13.rejected, 3);

  MinerStats e16 = Parse("claymore", "ethminer-0.16.0.dev0_miner_getstat1_6gpu.json");
  EXPECT_DOUBLE_EQ(e16.devices[0].hashrate_hs, 14683e3);
  EXPECT_EQ(e16.devices[2].temperature_c, 56);

  MinerStats pm = Parse("claymore", "phoenixminer-5.1c_miner_getstat1_eth_8gpu.json");
  EXPECT_DOUBLE_EQ(pm.devices[0].hashrate_hs, 29792e3);
  EXPECT_EQ(pm.devices[0].temperature_c, 50);
  EXPECT_EQ(pm.version, "PM 5.1c - ETH");
}

TEST(Claymore, Getstat2HasPerGpuShares) {
  std::string answer = R"({"id":0,"result":["PM 6.2c - ETH","10","60000;12;1","30000;30000","0;0;0","off;off",
      "60;50;61;50","pool:4444","0;0;0;0","7;5","1;0","0;0","0;0","0;0","0;0","0;0"],"error":null})";
  auto s = ParseMinerAnswer(answer, std::nullopt, "g2.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->devices[0].accepted, 7);
  EXPECT_EQ(s->devices[0].rejected, 1);
  EXPECT_EQ(s->devices[1].accepted, 5);
}

struct Malformed {
  const char* kind;
  const char* answer;
  const char* error;
};

TEST(Miners, MalformedAnswersNameTheField) {
  const Malformed cases[] = {
      {"auto", "{", "a.json: not valid JSON"},
      {"auto", R"({"foo": 1})", "a.json: cannot tell which miner wrote this (keys: foo)"},
      {"trex", R"({"gpus":[{"device_id":0}]})", "a.json: gpus[0].hashrate: missing"},
      {"trex", R"({"gpus":[{"device_id":0,"hashrate":"fast"}]})", "a.json: gpus[0].hashrate: \"fast\" is not a number"},
      {"trex", R"({"algorithm":"x"})", "a.json: gpus: missing or not an array"},
      {"gminer", R"({"devices":[{"gpu_id":0,"speed":1}],"speed_unit":"parsecs"})",
       "a.json: speed_unit: 'parsecs' is not a hashrate unit"},
      {"gminer", R"({"devices":[]})", "a.json: the answer lists no device"},
      {"xmrig", R"({"hashrate":{"total":[null,null,null]}})", "a.json: hashrate.total: missing or no value yet"},
      {"xmrig", R"({"hashrate":{"total":[1.0]}})", "a.json: results: missing or not an object"},
      {"claymore", R"({"result":["1.0 - ETH","0"]})", "a.json: result: 2 fields, miner_getstat1 has 9"},
      {"claymore", R"({"result":["1.0 - ETH","0","x;1;0","1","0","off","","p","0"]})",
       "a.json: result[2] (hashrate;accepted;rejected): 'x' is not a number"},
      {"teamredminer", R"({"STATUS":[{"STATUS":"S"}],"DEVS":[{"GPU":0,"Accepted":1,"Rejected":0}]})",
       "a.json: DEVS[0]: no hashrate"},
      {"lolminer", R"({"Session":{},"GPUs":[{"Index":0}]})", "a.json: GPUs[0].Performance: missing"},
      {"nbminer", R"({"miner":{"devices":[{"id":0,"hashrate":"9 Q"}]}})", "a.json: miner.devices[0].hashrate: '9 Q' is not a hashrate"},
      {"srbminer", R"({"rig_name":"r"})", "a.json: none of algorithms, gpu_hashrate, devices"},
      {"trex", R"([1,2])", "a.json: expected a JSON object"},
  };
  for (const Malformed& c : cases) {
    std::optional<MinerKind> kind;
    if (std::string(c.kind) != "auto") kind = ParseMinerKind(c.kind).value();
    auto s = ParseMinerAnswer(c.answer, kind, "a.json");
    ASSERT_FALSE(s) << c.answer;
    EXPECT_EQ(s.error().message().substr(0, std::string(c.error).size()), c.error) << c.answer;
  }
}

TEST(Miners, KindNames) {
  EXPECT_EQ(ParseMinerKind("T-Rex").value(), MinerKind::kTrex);
  EXPECT_EQ(ParseMinerKind("phoenixminer").value(), MinerKind::kClaymore);
  EXPECT_FALSE(ParseMinerKind("cgminer"));
}

}  // namespace
}  // namespace rigshift::agent
