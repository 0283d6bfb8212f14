#include "cli/farm_setup.h"

#include "sim/simulator.h"

namespace rigshift {

Result<FarmSetup> FarmSetupOf(std::shared_ptr<const LoadedFarm> farm) {
  FarmSetup setup;
  RS_ASSIGN_OR_RETURN(setup.params, ParamsFor(farm->scenario, "profit"));
  setup.catalog = std::shared_ptr<const Catalog>(farm, &farm->catalog);
  setup.fleet = farm->farm.fleet;
  setup.list_price = farm->farm.list_price;
  setup.interruptible_price = farm->farm.interruptible_price;
  for (const auto& s : farm->scenario.sites) setup.settlement_points.push_back(s.fixed_price ? "" : s.settlement_point);
  for (const auto& s : farm->scenario.sites) setup.price_curtailment.push_back(s.price_curtailment);
  setup.seed = farm->scenario.seed;
  setup.queue = QueueOptionsFor(farm->scenario.policy);
  // The server counts its own limits on how many may wait (FarmOptions).
  setup.queue.max_per_tenant = 0;
  for (const HostedSpec& h : farm->scenario.hosted) {
    setup.hosted_terms.push_back({h.name, h.customer, h.reserved, h.fee_per_kw_month, h.meter_url, h.pdu, h.outlet});
  }
  return setup;
}

}  // namespace rigshift
