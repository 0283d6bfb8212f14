// `rigshift bench engine` and `rigshift bench sim`: the performance targets of DESIGN.md section 7
// as commands, on the real catalog and market data.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/status.h"

namespace rigshift {

struct BenchOptions {
  std::filesystem::path data = "data";
  std::filesystem::path scenario = "examples/scenario.toml";
  int64_t gpus = 100'000;
  int days = 365;
  int samples = 20'000;
  std::string format = "table";
  uint64_t seed = 7;
};

[[nodiscard]] Status RunBenchEngine(const BenchOptions& o, std::ostream& out, std::ostream& err);
[[nodiscard]] Status RunBenchSim(const BenchOptions& o, std::ostream& out, std::ostream& err);

}  // namespace rigshift
