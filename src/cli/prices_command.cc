#include "cli/prices_command.h"

#include <cctype>
#include <memory>
#include <algorithm>
#include <ostream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "cli/tenant_command.h"
#include "common/units.h"

namespace rigshift {
namespace {

using nlohmann::json;

std::string PathSegment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<int64_t> Micros(const std::string& text, const char* flag) {
  auto v = ParseScaled(text, 6);
  if (!v || *v <= 0) {
    return Err(InvalidArgumentError(fmt::format("{} must be a positive price in USD per GPU-hour, got '{}'", flag, text)));
  }
  return *v;
}

void PrintPrices(const json& answer, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {{"GROUP", "MODEL", "ON-DEMAND", "INTERRUPTIBLE-FLOOR", "SOURCE"}};
  const json& list = answer.contains("prices") ? answer.at("prices") : json::array({answer});
  for (const json& p : list) {
    std::string source = p.at("source").get<std::string>();
    if (p.contains("set_at")) source += " (" + p.at("set_at").get<std::string>() + ")";
    rows.push_back({p.at("group").get<std::string>(), p.at("model").get<std::string>(),
                    FormatUsd(p.at("on_demand_micro_usd_per_gpu_h").get<int64_t>()),
                    FormatUsd(p.at("interruptible_floor_micro_usd_per_gpu_h").get<int64_t>()), source});
  }
  // Columns two spaces apart.
  std::vector<size_t> width(5, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream table;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    table << line << "\n";
  }
  out << table.str();
}

}  // namespace

Result<std::string> BuildPricesRequest(const std::string& on_demand, const std::string& floor) {
  RS_ASSIGN_OR_RETURN(int64_t od, Micros(on_demand, "--on-demand"));
  RS_ASSIGN_OR_RETURN(int64_t fl, Micros(floor, "--interruptible-floor"));
  if (fl >= od) {
    return Err(InvalidArgumentError(fmt::format("--interruptible-floor ({}) must be below --on-demand ({})",
                                                FormatUsd(fl), FormatUsd(od))));
  }
  json body = {{"on_demand_usd_per_gpu_h", FormatScaled(od, 6)}, {"interruptible_floor_usd_per_gpu_h", FormatScaled(fl, 6)}};
  return body.dump();
}

void AddPricesCommands(CLI::App& app, int* exit_code) {
  struct State {
    int* exit_code = nullptr;
    ConnectionOptions list, set;
    std::string group, on_demand, floor;
  };
  auto st = std::make_shared<State>();
  st->exit_code = exit_code;
  auto* prices = app.add_subcommand("prices", "The operator's rental prices per node group on a running server");
  prices->require_subcommand(1);

  auto* list = prices->add_subcommand("list", "Each group's on-demand price and interruptible floor, and who set them");
  AddServerFlags(*list, st->list);
  list->callback([st] {
    RunServerCall(st->exit_code, st->list, "GET", "/v1/prices", [] { return Result<std::string>(std::string()); },
                  PrintPrices);
  });

  auto* set = prices->add_subcommand(
      "set", "Set a group's on-demand list price and interruptible floor (USD per GPU-hour); kept across restarts");
  set->add_option("--group", st->group, "The node group (rigshift prices list names them)")->required();
  set->add_option("--on-demand", st->on_demand, "On-demand (and reserved) list price, USD per GPU-hour")->required();
  set->add_option("--interruptible-floor", st->floor, "The lowest interruptible bid taken, USD per GPU-hour")
      ->required();
  AddServerFlags(*set, st->set);
  set->callback([st] {
    RunServerCall(st->exit_code, st->set, "PUT", "/v1/groups/" + PathSegment(st->group) + "/prices",
                  [st] { return BuildPricesRequest(st->on_demand, st->floor); }, PrintPrices);
  });
}

}  // namespace rigshift
