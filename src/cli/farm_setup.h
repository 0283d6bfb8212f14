// The server's farm (FarmSetup) from a farm file, built by the one builder the simulator uses
// (farm/build.h), so that `rigshift server --farm F` runs the fleet, prices, engine settings and
// waiting rules that `rigshift plan F` replays (tests/shells_agree_test.cc holds them to the same
// leases).
#pragma once

#include <memory>

#include "common/status.h"
#include "farm/build.h"
#include "server/farm.h"

namespace rigshift {

// The setup keeps `farm` alive (its catalog is the fleet's).
[[nodiscard]] Result<FarmSetup> FarmSetupOf(std::shared_ptr<const LoadedFarm> farm);

}  // namespace rigshift
