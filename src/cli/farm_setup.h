// The server's farm (FarmSetup) from a farm file resolved as the simulator resolves it, so that
// `rigshift server --farm F` runs the fleet, prices, engine settings and queue limits that
// `rigshift plan F` replays (tests/shells_agree_test.cc holds them to the same leases).
#pragma once

#include <memory>

#include "common/status.h"
#include "server/farm.h"
#include "sim/simulator.h"

namespace rigshift {

// The setup keeps `rs` alive (its catalog is the fleet's).
[[nodiscard]] Result<FarmSetup> FarmSetupOf(std::shared_ptr<const ResolvedScenario> rs);

}  // namespace rigshift
