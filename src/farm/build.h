// The farm a farm file describes, as the engine sees it: sites and node groups (each classified
// for suitability and license: engine/suitability.h), and each group's rental prices from the
// imported rental index at the file's rental date. One builder for every shell: `rigshift server
// --farm F` runs this fleet, and `rigshift plan F` / `rigshift sim` replay it (sim/simulator.h
// resolves the market and the demand around it).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/fleet_state.h"
#include "farm/scenario.h"
#include "market/rental_index.h"
#include "model/catalog.h"

namespace rigshift {

struct FarmFleet {
  FleetState fleet;                              // no leases; its groups point into the catalog
  std::vector<RentalPrice> list_price;           // per group, on-demand per GPU-hour (0 = not rented)
  std::vector<RentalPrice> interruptible_price;  // per group, the floor of a bid
  // Price-table entries fixed as they loaded (controller/pricing.h FixPriceTable), for the log.
  std::vector<std::string> price_fixes;
  std::vector<std::string> unpriced;             // models with no rental price: not offered
};

// Builds the fleet of `sc` on `catalog` (which must outlive it). `rental`: the imported rental
// index, if there is one. Errors name the group: an unknown site or model, a model the catalog
// has no board power for.
[[nodiscard]] Result<FarmFleet> BuildFarm(const Scenario& sc, const Catalog& catalog,
                                          const std::optional<RentalIndex>& rental);

// A farm with its catalog, loaded from the imported data folder.
struct LoadedFarm {
  Scenario scenario;
  Catalog catalog;
  FarmFleet farm;  // points into catalog: keep the LoadedFarm where it is (hold it by pointer)
};
[[nodiscard]] Result<LoadedFarm> LoadFarm(const Scenario& sc, const std::filesystem::path& data_dir);

}  // namespace rigshift
