#include "controller/price_curtailment.h"

#include <gtest/gtest.h>

#include <vector>

namespace rigshift {
namespace {

EnergyPrice UsdPerMwh(int64_t usd) { return EnergyPrice(usd * 1'000'000); }

PriceCurtailmentTerms Terms() {
  PriceCurtailmentTerms t;
  t.strike = UsdPerMwh(100);
  t.confirm_s = 600;      // two 5-minute ticks
  t.ramp_down_s = 600;    // two ticks
  t.min_hold_s = 3600;
  t.target = Watts(10'000);
  t.restore_batch_devices = 50;  // 50 x 400 W = 20 kW a step
  t.restore_interval_s = 300;
  return t;
}

// The limit at each 5-minute tick for a series of prices (USD/MWh); -1 = none.
std::vector<int64_t> Limits(PriceCurtailment& pc, const std::vector<int64_t>& prices, int64_t draw_w = 100'000) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < prices.size(); ++i) {
    auto l = pc.Update(Timestamp{static_cast<int64_t>(i) * 300}, UsdPerMwh(prices[i]), Watts(draw_w), Watts(200'000),
                       Watts(400));
    out.push_back(l ? l->watts.raw() : -1);
  }
  return out;
}

TEST(PriceCurtailment, StrikeMustHoldBeforeTriggering) {
  PriceCurtailment pc(Terms());
  // Above for 5 minutes only, twice: never confirmed.
  EXPECT_EQ(Limits(pc, {50, 150, 50, 150, 50, 50}), (std::vector<int64_t>{-1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(pc.events(), 0);
  EXPECT_EQ(pc.phase(), CurtailPhase::kIdle);
}

TEST(PriceCurtailment, RampsDownHoldsAndRestoresInBatches) {
  PriceCurtailment pc(Terms());
  // t=0 above (armed), t=300 still, t=600 confirmed: trigger from the 100 kW draw; ramp 600 s.
  std::vector<int64_t> prices = {150, 150, 150, 150, 150};
  // Then below from t=1500; the hold (3600 s from the trigger at 600) ends at 4200 at the earliest.
  for (int i = 0; i < 14; ++i) prices.push_back(20);
  std::vector<int64_t> got = Limits(pc, prices);
  std::vector<int64_t> want = {-1, -1, 100'000, 55'000, 10'000,  // ramp: linear over 600 s
                               10'000, 10'000, 10'000, 10'000, 10'000, 10'000, 10'000, 10'000, 10'000,  // held to 4200
                               30'000, 50'000, 70'000, 90'000,  // a batch of 20 kW each 5 minutes
                               -1};                             // 110 kW >= the 100 kW before: over
  EXPECT_EQ(got, want);
  EXPECT_EQ(pc.events(), 1);
}

TEST(PriceCurtailment, PriceBackWhileRestoringRampsDownFromThere) {
  PriceCurtailmentTerms t = Terms();
  t.min_hold_s = 0;
  t.confirm_s = 0;
  PriceCurtailment pc(t);
  std::vector<int64_t> got = Limits(pc, {150, 150, 150, 20, 20, 150, 150, 150});
  // Trigger at 0 (no confirm), ramp to 10 kW by 600, restore from 900: 30 kW, 50 kW, then the
  // price is back: ramp from 50 kW to 10 kW over 600 s.
  EXPECT_EQ(got, (std::vector<int64_t>{100'000, 55'000, 10'000, 30'000, 50'000, 50'000, 30'000, 10'000}));
  EXPECT_EQ(pc.events(), 1);  // one curtailment, interrupted restore
}

TEST(PriceCurtailment, TargetAboveTheDrawShedsNothingMore) {
  PriceCurtailmentTerms t = Terms();
  t.target = Watts(150'000);
  PriceCurtailment pc(t);
  std::vector<int64_t> got = Limits(pc, {150, 150, 150, 150});
  EXPECT_EQ(got, (std::vector<int64_t>{-1, -1, 150'000, 150'000}));
}

TEST(PriceCurtailment, ValidateNamesTheField) {
  PriceCurtailmentTerms t = Terms();
  t.restore_batch_devices = 0;
  EXPECT_NE(t.Validate().message().find("restore_batch_devices"), std::string::npos);
  t = Terms();
  t.restore_interval_s = 0;
  EXPECT_NE(t.Validate().message().find("restore_interval_minutes"), std::string::npos);
  EXPECT_TRUE(Terms().Validate().ok());
}

}  // namespace
}  // namespace rigshift
