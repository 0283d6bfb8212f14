#include "controller/accounting.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(Accounting, ALeaseOwesItsPriceTimesGpuSecondsRoundedDown) {
  const RentalPrice price(300'000);  // 0.30 USD per GPU-hour
  EXPECT_EQ(LeaseCharge(price, 4, 3600), Money(1'200'000));
  EXPECT_EQ(LeaseCharge(price, 1, 1), Money(83));  // 83.33 micro-USD
  EXPECT_EQ(LeaseCharge(price, 3, 0), Money(0));
  // Billed from the start each time: the lines of a lease sum to its whole bill.
  Money lines = LeaseCharge(price, 3, 7) + (LeaseCharge(price, 3, 19) - LeaseCharge(price, 3, 7));
  EXPECT_EQ(lines, LeaseCharge(price, 3, 19));
  // A year of 64 GPUs at 1,000 USD/h stays exact.
  EXPECT_EQ(LeaseCharge(RentalPrice(1'000'000'000), 64, 365 * 86400),
            Money(static_cast<int64_t>(1'000'000'000LL * 64 * 365 * 24)));
}

TEST(Accounting, EachUseEarnsAndDrawsItsOwnRate) {
  GroupValue gv;
  gv.ai_facility_power = Watts(385);
  gv.idle_facility_power = Watts(22);
  CoinOption eth;
  eth.revenue_per_hour = Money(240'000);
  eth.facility_power = Watts(319);
  EXPECT_EQ(RateOf(DeviceUse::kMining, gv, &eth).revenue_per_hour, Money(240'000));
  EXPECT_EQ(RateOf(DeviceUse::kMining, gv, &eth).draw, Watts(319));
  EXPECT_EQ(RateOf(DeviceUse::kMining, gv, nullptr).draw, Watts(22));  // no coin valued: idles
  EXPECT_EQ(RateOf(DeviceUse::kLease, gv, &eth).draw, Watts(385));
  EXPECT_EQ(RateOf(DeviceUse::kLease, gv, &eth).revenue_per_hour, Money(0));
  EXPECT_EQ(RateOf(DeviceUse::kIdle, gv, &eth).draw, Watts(22));
  EXPECT_EQ(RateOf(DeviceUse::kCurtailed, gv, &eth).draw, Watts(22));  // held off, still powered
  EXPECT_EQ(RateOf(DeviceUse::kOffline, gv, &eth).draw, Watts(0));
}

TEST(Accounting, EnergyIsDrawTimesSecondsTimesPrice) {
  const EnergyPrice fifty(50'000'000);  // 50 USD per MWh
  EXPECT_EQ(EnergyFor(Watts(1000), fifty, 3600), Money(50'000));  // 1 kWh
  EXPECT_EQ(EnergyFor(Watts(319), fifty, 60), Money(265));        // 265.8 micro-USD
  EXPECT_EQ(EnergyFor(Watts(0), fifty, 3600), Money(0));
  EXPECT_EQ(EnergyFor(Watts(1000), EnergyPrice(-20'000'000), 3600), Money(-20'000));  // paid to consume
}

}  // namespace
}  // namespace rigshift
