// How the SQL stores write a lease's list columns as text, shared so that every store reads the
// other's rows the same way (`rigshift store copy` moves them between stores unchanged).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace rigshift {

// Models as text: one name a line (names are single-line; ValidateLease checks).
std::string EncodeModels(const std::vector<std::string>& models);
std::vector<std::string> DecodeModels(std::string_view text);

// Devices as text: "node:slot node:slot ...", kept readable for someone at an SQL prompt.
// DataLoss on text that is not of that form.
std::string EncodeDevices(const std::vector<std::pair<int, int>>& devices);
Result<std::vector<std::pair<int, int>>> DecodeDevices(std::string_view text);

// Hash-seconds beyond int64 as decimal text (SQL integers are 64-bit). DataLoss on anything else.
std::string EncodeInt128(__int128 v);
Result<__int128> DecodeInt128(std::string_view text);
// A day as "YYYY-MM-DD", which sorts as text in date order. DataLoss on anything else.
Result<Date> DecodeDate(std::string_view text);

}  // namespace rigshift
