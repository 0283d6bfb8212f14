// Reserved terms through the real server: `rigshift server --demo --farm examples/demo-farm.toml
// --data DATA` (DATA imported from ../shared/data) prices each group's reserved terms at start
// from the coin history, and GET /v1/offers over loopback HTTP returns them, conforming to
// api/openapi.yaml. A second server on an empty data folder answers 200 with the reason instead.
//
// The demo farm replays coins of 2021 (coin_from 2021-01-01, 365 days), so the history is the
// 3 x 365 days 2019-01-02 .. 2021-12-31 (1,095 days): a 1-month term has start days up to
// 2021-12-01, 1,065 of them; a 12-month term up to 2021-01-01, 731.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testing/temp_dir.h"
#include "openapi_check.h"
#include "server_harness.h"

namespace rigshift {
namespace {

using nlohmann::json;
using testing::ApiClient;
using testing::OpenApiSpec;
using testing::ServerProcess;
using testing::TempDir;

TEST(ReservedOffersE2eTest, OffersCarryTermsPricedFromTheCoinHistory) {
  TempDir tmp;
  std::string error;
  auto server = testing::StartDemoServer(tmp.path(), &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string token = testing::ReadTokenFile(server->data_dir() / "tenant-demo.token");
  ApiClient client(*server);
  testing::Reply r = client.Get("/v1/offers", token);
  ASSERT_EQ(r.status, 200) << r.Describe();
  const OpenApiSpec spec = OpenApiSpec::Load(RIGSHIFT_OPENAPI);
  for (const std::string& p : spec.Check("GET", "/v1/offers", r.status, r.content_type, r.body)) ADD_FAILURE() << p;

  json offers = r.Json()["offers"];
  ASSERT_FALSE(offers.empty()) << r.body;
  bool saw_3090 = false;
  for (const json& o : offers) {
    SCOPED_TRACE(o.value("group", ""));
    const json& terms = o["reserved_terms"];
    ASSERT_EQ(terms.size(), 12u) << o.dump();
    EXPECT_NE(o.value("reserved_terms_basis", "").find("2019-01-02..2021-12-31 (1095 days)"), std::string::npos)
        << o.dump();
    EXPECT_NE(o.value("reserved_terms_basis", "").find("HB_HUBAVG"), std::string::npos) << o.dump();
    EXPECT_EQ(terms[0]["histories"], 1065);
    EXPECT_EQ(terms[11]["histories"], 731);
    for (const json& t : terms) {
      const double p10 = t["band"]["p10"], p50 = t["band"]["p50"], p90 = t["band"]["p90"];
      EXPECT_LE(p10, p50);
      EXPECT_LE(p50, p90);
      // price = floor + p90: the farm is paid at least what mining would have netted in 9 of 10
      // past start days, plus the rented GPU's own energy.
      EXPECT_NEAR(t["price_usd_per_gpu_h"].get<double>(), t["floor_usd_per_gpu_h"].get<double>() + p90, 2e-6) << t;
      EXPECT_GT(t["floor_usd_per_gpu_h"].get<double>(), 0) << t;
    }
    if (o.value("model", "") == "RTX 3090") {
      saw_3090 = true;
      // Mining an RTX 3090 paid in 2019-2021 (ETH): the opportunity is not zero.
      EXPECT_GT(terms[0]["band"]["p50"].get<double>(), 0.0) << terms[0];
    }
  }
  EXPECT_TRUE(saw_3090) << r.body;
}

TEST(ReservedOffersE2eTest, WithoutHistoryTheOffersSayWhy) {
  TempDir tmp;
  std::string error;
  // The shared data imported, then the coin history taken away: the farm still loads (catalog,
  // electricity; no market feed), but there is nothing to price reserved terms from.
  ASSERT_EQ(testing::ImportSharedData(tmp / "data"), "");
  std::filesystem::remove(tmp / "data" / "coin_daily.csv");
  ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "data";
  o.extra_args = {"--feed", "none"};  // the replay feed would need the coin history too
  auto server = ServerProcess::Start(o, &error);
  if (server == nullptr) GTEST_SKIP() << "the demo farm needs the coin history to start: " << error;
  const std::string token = testing::ReadTokenFile(server->data_dir() / "tenant-demo.token");
  ApiClient client(*server);
  testing::Reply r = client.Get("/v1/offers", token);
  ASSERT_EQ(r.status, 200) << r.Describe();
  for (const json& offer : r.Json()["offers"]) {
    EXPECT_TRUE(offer["reserved_terms"].empty()) << offer.dump();
    EXPECT_NE(offer.value("reserved_terms_reason", "").find("coin_daily.csv"), std::string::npos) << offer.dump();
  }
}

}  // namespace
}  // namespace rigshift
