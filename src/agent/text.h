// Small text helpers shared by the agent's parsers (not a public interface of the module).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rigshift::agent {

std::string_view Trim(std::string_view s);
// Splits on '\n', dropping a '\r' before it; keeps empty lines.
std::vector<std::string_view> SplitLines(std::string_view text);
// Splits on any run of spaces and tabs; no empty pieces.
std::vector<std::string_view> SplitWhitespace(std::string_view text);
std::vector<std::string_view> Split(std::string_view text, char sep);
std::string ToLower(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);

// The whole of `s` (after trimming) as a number; nullopt if anything else is there.
std::optional<int64_t> ToInt(std::string_view s);
std::optional<double> ToDouble(std::string_view s);

// The markers tools print for a value they do not have: "N/A", "[N/A]", "[Not Supported]",
// "Unknown Error", "" ... A field holding one of these is absent, not zero.
bool IsNotAvailable(std::string_view s);

// A number followed by an optional unit out of `units` ("24564 MiB", "16x", "7 %", "336.00 W").
// nullopt when the value is not available; InvalidArgument "FIELD: 'TEXT' is not a number of
// UNIT" otherwise. `field` goes into the message as given.
[[nodiscard]] Result<std::optional<double>> ParseMeasure(std::string_view text, std::string_view field,
                                                         const std::vector<std::string_view>& units);

}  // namespace rigshift::agent
