// What a lease pays: the one price rule of both shells (the server and the simulator), so that
// `rigshift plan` predicts what `rigshift server` charges (docs/api.md, "What a lease pays").
//
// - An interruptible request pays its bid, wherever it runs.
// - An on-demand or reserved request that more than one GPU model could hold pays the lowest list
//   price among the groups that could hold it, wherever it runs: it is never billed more than the
//   cheapest GPU it allowed, and the engine, ranking groups by what the farm keeps of that price,
//   places it where it displaces least (a 1-GPU request open to any model goes to a free RTX 3090
//   at 0.30 USD/h, not to an A100 at 1.29).
// - An on-demand or reserved request for one model pays that model's list price.
//
// Pure functions of the fleet and the price tables; no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/fleet_state.h"
#include "model/request.h"

namespace rigshift {

// CanServe, whether a group could ever hold a request, is the engine's (engine/fleet_state.h).

// The price `r` pays wherever it runs, when that is one price (see above): set as the request's
// fixed_price. Nullopt for an interruptible request (its bid), and for one that only one model
// can hold (the list price of where it runs). `list_price` is per group, 0 = not rented.
std::optional<RentalPrice> OpenRequestPrice(const FleetState& fleet, const std::vector<RentalPrice>& list_price,
                                            const Request& r);

// Checks a price table as it loads: a group whose interruptible floor is at or above its
// on-demand price would make every bid pointless (nobody bids more than the price of a GPU that
// cannot be taken away). Such a floor is set to `fraction_milli` thousandths of the on-demand
// price; each fix is returned as a line for the operator's log.
std::vector<std::string> FixPriceTable(const FleetState& fleet, const std::vector<RentalPrice>& list_price,
                                       std::vector<RentalPrice>& interruptible_price, int64_t fraction_milli);

}  // namespace rigshift
