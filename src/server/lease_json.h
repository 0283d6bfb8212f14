// A lease as the API shows it (docs/api.md, "A lease"). Two forms that must give the same bytes:
// the JSON tree (for lists, and as the reference) and a writer that appends the text directly,
// with no tree, for the one-lease answers on the hot path (POST /v1/leases answers one per
// request). lease_json_test.cc holds them equal.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/farm.h"

namespace rigshift {

// Node names and models come from `farm`'s fixed tables: safe without the farm's lock.
nlohmann::json LeaseJsonTree(const LeaseRecord& l, const Farm& farm);
// Appends exactly LeaseJsonTree(l, farm).dump() to `*out`.
void AppendLeaseJson(std::string* out, const LeaseRecord& l, const Farm& farm);

}  // namespace rigshift
