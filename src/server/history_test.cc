#include "server/history.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

SitePowerSample At(int64_t t, int curtailed, int64_t draw_w = 1'000) {
  return {Timestamp{t}, Watts(draw_w), Watts(5'000), 30'000'000, curtailed};
}

TEST(PowerHistoryTest, KeepsTheLastSamplesPerSite) {
  PowerHistory h(2, 3);
  for (int t = 1; t <= 5; ++t) h.Record(0, At(t * 60, 0, t));
  h.Record(1, At(60, 0));
  std::vector<SitePowerSample> kept = h.Since(0, Timestamp{0});
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.front().draw, Watts(3));
  EXPECT_EQ(h.Since(0, Timestamp{241}).size(), 1u);
  EXPECT_EQ(h.Since(1, Timestamp{0}).size(), 1u);
}

TEST(PowerHistoryTest, CurtailmentEventsAreRunsOfCurtailedSamples) {
  PowerHistory h(2, 100);
  for (auto [t, c] : {std::pair{60, 0}, {120, 2}, {180, 5}, {240, 0}, {300, 1}}) h.Record(0, At(t, c));
  h.Record(1, At(60, 3));
  std::vector<CurtailmentEvent> all = h.Curtailments(Timestamp{0});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].site, 0);
  EXPECT_EQ(all[0].from, Timestamp{120});
  EXPECT_EQ(all[0].to, Timestamp{180});
  EXPECT_EQ(all[0].max_curtailed_gpus, 5);
  EXPECT_EQ(all[1].from, Timestamp{300});  // still open: ends at its last sample
  EXPECT_EQ(all[2].site, 1);
  // Events that ended before `from` are left out.
  EXPECT_EQ(h.Curtailments(Timestamp{200}).size(), 1u);
}

TEST(TelemetryHistoryTest, KeepsTheLastHeartbeatsPerNode) {
  TelemetryHistory h(1, 2);
  DeviceReport d;
  for (int t = 1; t <= 3; ++t) {
    d.temperature_c = 60 + t;
    h.Record(0, Timestamp{t}, {d});
  }
  ASSERT_EQ(h.Of(0).size(), 2u);
  EXPECT_EQ(h.Of(0).front().devices[0].temperature_c, 62);
  EXPECT_FALSE(h.Of(0).front().devices[0].power_w.has_value());
}

}  // namespace
}  // namespace rigshift
