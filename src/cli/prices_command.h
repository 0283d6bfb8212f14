// `rigshift prices list|set`: the operator's prices per node group on a running `rigshift server`
// (docs/api.md, "Prices"): GET /v1/prices and PUT /v1/groups/{group}/prices. Exit codes as the
// tenant verbs' (tenant_command.h): 0 done, 2 the input (a flag, or a 4xx answer), 1 the server.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rigshift {

// Registers `prices list` and `prices set` on `app`; *exit_code as AddTenantCommands.
void AddPricesCommands(CLI::App& app, int* exit_code);

// The PUT body for `prices set`: the prices as exact decimal strings. InvalidArgument naming the
// flag for a price that is not a positive decimal with at most 6 places, or a floor not below the
// on-demand price.
[[nodiscard]] Result<std::string> BuildPricesRequest(const std::string& on_demand, const std::string& floor);

}  // namespace rigshift
