// The small farm the server's in-process tests share (engine/testing/fleet_builder.h's catalog):
//   riser-1          6 x RTX 3060 Ti on x1 risers: mining only, not rented
//   gpu-3090-1, -2   4 x RTX 3090 x16 each, 0.30 USD/GPU-h (interruptible floor 0.15)
//   a100-1           8 x A100 in one NVLink domain, 1.20 USD/GPU-h (interruptible floor 0.60)
// One coin, ETH, earning a 3090 about 0.12 USD/h: less than rent, so leases are admitted and
// every free GPU mines.
#pragma once

#include <memory>
#include <string>

#include "engine/testing/fleet_builder.h"
#include "market/feed.h"
#include "server/farm.h"

namespace rigshift::testing {

inline constexpr Timestamp kFarmT0{1'793'491'200};  // 2026-11-01T00:00:00Z

inline FarmSetup TestFarm() {
  FarmSetup s;
  s.catalog = std::shared_ptr<const Catalog>(&TestCatalog(), [](const Catalog*) {});
  s.fleet = ParseFleet(
      "site farm pue=1.00 idle=10W;"
      "riser: 6x'RTX 3060 Ti' pcie=x1 cores=2 ram=4 mining=ETH;"
      "gpu-3090: 4x'RTX 3090' nodes=2 mining=ETH;"
      "a100: 8xA100 nvlink=8 mining=ETH");
  s.list_price = {RentalPrice(0), UsdPerGpuHour("0.30"), UsdPerGpuHour("1.20")};
  s.interruptible_price = {RentalPrice(0), UsdPerGpuHour("0.15"), UsdPerGpuHour("0.60")};
  s.settlement_points = {""};
  return s;
}

inline MarketView TestFarmView(const FarmSetup& s) {
  MarketView v = Market(s.fleet, "ETH:Ethash:1000:7.2e15:2", "50", "0", kFarmT0);
  v.list_price = s.list_price;
  return v;
}

// A feed that answers one view, or nothing while switched off.
class FakeFeed final : public MarketFeed {
 public:
  explicit FakeFeed(MarketView v) : view(std::move(v)) {}
  Result<MarketView> ViewAt(Timestamp) override {
    if (!available) return Err(UnavailableError("fake feed switched off"));
    return view;
  }
  std::string Describe() const override { return "fake"; }
  MarketView view;
  bool available = true;
};

}  // namespace rigshift::testing
