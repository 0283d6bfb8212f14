#include "cli/farm_setup.h"

namespace rigshift {

Result<FarmSetup> FarmSetupOf(std::shared_ptr<const ResolvedScenario> rs) {
  FarmSetup setup;
  RS_ASSIGN_OR_RETURN(setup.params, ParamsFor(rs->scenario, "profit"));
  setup.catalog = std::shared_ptr<const Catalog>(rs, &rs->catalog);
  setup.fleet = rs->fleet;
  setup.list_price = rs->list_price;
  setup.interruptible_price = rs->interruptible_price;
  for (const auto& s : rs->scenario.sites) setup.settlement_points.push_back(s.fixed_price ? "" : s.settlement_point);
  setup.seed = rs->scenario.seed;
  setup.queue = QueueOptionsFor(rs->scenario.policy);
  // The server counts its own limits on how many may wait (FarmOptions).
  setup.queue.max_per_tenant = 0;
  return setup;
}

}  // namespace rigshift
