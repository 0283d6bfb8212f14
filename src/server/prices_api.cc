// The operator's price routes of the REST API (docs/api.md, "Prices"): GET /v1/prices, every
// rentable group's prices in force and where they come from, and PUT /v1/groups/{group}/prices,
// which sets a group's on-demand list price and interruptible floor (Farm::SetGroupPrices).
// Handlers of Api (server/api.h).
#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "server/api.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpResponse;

double UsdOf(int64_t micro) { return static_cast<double>(micro) / 1e6; }

// A price in USD per GPU-hour at `field`, to the micro-dollar: a JSON number (read back from its
// shortest decimal text, so 1.2 is exactly 1,200,000) or a decimal string.
Result<RentalPrice> PriceField(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end()) return Err(InvalidArgumentError(std::string(field) + " is missing"));
  std::string text;
  if (it->is_number_integer() || it->is_number_unsigned()) {
    text = it->dump();
  } else if (it->is_number_float() && std::isfinite(it->get<double>())) {
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), it->get<double>());
    text.assign(buf.data(), end);
  } else if (it->is_string()) {
    text = it->get<std::string>();
  } else {
    return Err(InvalidArgumentError(std::string(field) + " must be a number of USD per GPU-hour, got " + it->dump()));
  }
  auto micros = ParseScaled(text, 6);
  if (!micros) {
    return Err(InvalidArgumentError(std::string(field) + " must be a number of USD per GPU-hour, got " + it->dump()));
  }
  return RentalPrice(*micros);
}

json PriceJson(const std::string& group, const std::string& model, RentalPrice on_demand, RentalPrice floor,
               const GroupPriceRecord* set) {
  json j = {{"group", group},
            {"model", model},
            {"on_demand_usd_per_gpu_h", UsdOf(on_demand.raw())},
            {"on_demand_micro_usd_per_gpu_h", on_demand.raw()},
            {"interruptible_floor_usd_per_gpu_h", UsdOf(floor.raw())},
            {"interruptible_floor_micro_usd_per_gpu_h", floor.raw()},
            {"source", set ? "operator" : "farm file"}};
  if (set) {
    j["set_at"] = FormatUtc(set->set_at);
    j["set_by"] = set->set_by;
  }
  return j;
}

}  // namespace

HttpResponse Api::ListPrices(const Call&) {
  json list = json::array();
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  const FarmSetup& setup = farm_->setup();
  for (size_t g = 0; g < f.groups().size(); ++g) {
    const GroupState& gs = f.groups()[g];
    auto set = farm_->operator_prices().find(gs.name);
    list.push_back(PriceJson(gs.name, gs.model->name, setup.list_price[g], setup.interruptible_price[g],
                             set == farm_->operator_prices().end() ? nullptr : &set->second));
  }
  return JsonAnswer(200, {{"prices", list}});
}

HttpResponse Api::PutGroupPrices(const Call& call) {
  json body = json::parse(call.request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return ErrorAnswer(InvalidArgumentError(
        "the body must be a JSON object: {\"on_demand_usd_per_gpu_h\": 1.20, \"interruptible_floor_usd_per_gpu_h\": 0.40}"));
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "on_demand_usd_per_gpu_h" && key != "interruptible_floor_usd_per_gpu_h") {
      return ErrorAnswer(InvalidArgumentError("unknown field \"" + key +
                                              "\" (known: on_demand_usd_per_gpu_h, interruptible_floor_usd_per_gpu_h)"));
    }
  }
  auto on_demand = PriceField(body, "on_demand_usd_per_gpu_h");
  if (!on_demand) return ErrorAnswer(on_demand.error());
  auto floor = PriceField(body, "interruptible_floor_usd_per_gpu_h");
  if (!floor) return ErrorAnswer(floor.error());
  const std::string group(call.params.Get("group"));
  std::string by = call.caller ? call.caller->role : "operator";
  if (call.caller && !call.caller->tenant.empty()) by += ":" + call.caller->tenant;
  uint64_t ticket = 0;
  Result<GroupPriceRecord> set = [&]() -> Result<GroupPriceRecord> {
    std::lock_guard lock(*mu_);
    auto r = farm_->SetGroupPrices(group, *on_demand, *floor, by, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!set) return ErrorAnswer(set.error());
  std::string model;
  {
    std::lock_guard lock(*mu_);
    for (const GroupState& gs : farm_->fleet().groups()) {
      if (gs.name == group) model = gs.model->name;
    }
  }
  return WhenDurable(JsonAnswer(200, PriceJson(group, model, set->on_demand, set->interruptible_floor, &*set)), ticket);
}

}  // namespace rigshift
