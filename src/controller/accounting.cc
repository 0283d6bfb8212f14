#include "controller/accounting.h"

#include <limits>

#include "common/status.h"

namespace rigshift {

Money LeaseCharge(RentalPrice price, int64_t gpus, int64_t seconds) {
  // Within 128 bits for any price, GPU count and span a farm can have (each is int64); all >= 0.
  const __int128 exact = static_cast<__int128>(price.raw()) * gpus * seconds / 3600;
  RS_CHECK(exact >= 0 && exact <= std::numeric_limits<int64_t>::max());
  return Money(static_cast<int64_t>(exact));
}

DeviceRate RateOf(DeviceUse use, const GroupValue& gv, const CoinOption* coin) {
  switch (use) {
    case DeviceUse::kLease: return {Money(), gv.ai_facility_power};
    case DeviceUse::kMining:
      if (coin != nullptr) return {coin->revenue_per_hour, coin->facility_power};
      return {Money(), gv.idle_facility_power};
    case DeviceUse::kIdle:
    case DeviceUse::kCurtailed: return {Money(), gv.idle_facility_power};
    case DeviceUse::kOffline: return {Money(), Watts(0)};
    case DeviceUse::kContract: break;  // ContractRateOf: the draw is the slice's
  }
  return {Money(), Watts(0)};
}

DeviceRate ContractRateOf(const ContractSlice& slice) { return {Money(), slice.facility_power}; }

Money EnergyFor(Watts draw, EnergyPrice price, int64_t seconds) {
  // W x s x (micro-USD / MWh) / 3.6e9 (W s per MWh) = micro-USD.
  const __int128 exact = static_cast<__int128>(draw.raw()) * seconds * price.raw() / 3'600'000'000LL;
  RS_CHECK(exact >= std::numeric_limits<int64_t>::min() && exact <= std::numeric_limits<int64_t>::max());
  return Money(static_cast<int64_t>(exact));
}

}  // namespace rigshift
