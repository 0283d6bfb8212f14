// The hashrate contracts' routes of the REST API (docs/api.md, "Hashrate contracts"): products
// (the operator creates, everyone lists), contracts (a customer, a tenant token, buys, lists,
// reads its statements and ends them), and the operator's exposure. Handlers of Api
// (server/api.h), kept beside the sales they show (server/contract_sales.h).
#include <nlohmann/json.hpp>
#include <optional>

#include "server/api.h"
#include "server/contract_sales.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpResponse;

double Usd(int64_t micro) { return static_cast<double>(micro) / 1e6; }


// Hashrates fit int64 wherever the store keeps them; a sum beyond it (a fleet's capacity of an
// algorithm) is shown at the largest integer.
int64_t Hs(HashRate h) {
  return static_cast<int64_t>(std::min<__int128>(h.hps(), std::numeric_limits<int64_t>::max()));
}

// A hashrate in `unit` (the product's), for people: 1.5e12 H/s is 1.5 in TH/s.
double InUnit(HashRate h, const std::string& unit) {
  return static_cast<double>(h.hps()) / static_cast<double>(HashRateUnit(unit));
}

json DateOrNull(const std::optional<Date>& d) { return d ? json(d->ToString()) : json(nullptr); }

json ProductJson(const ProductView& v) {
  const ContractProductRecord& p = v.record;
  return {{"id", p.id},
          {"name", p.name},
          {"algorithm", p.algorithm},
          {"unit", p.unit},
          {"days", p.days},
          {"price_usd_per_unit", Usd(p.price_per_unit.raw())},
          {"price_micro_usd_per_unit", p.price_per_unit.raw()},
          {"fee_usd_per_unit_day", Usd(p.fee_per_unit_day.raw())},
          {"fee_micro_usd_per_unit_day", p.fee_per_unit_day.raw()},
          {"suspend_after_days", p.suspend_after_days},
          {"max_hashrate", InUnit(p.max_hashrate, p.unit)},
          {"max_hashrate_hs", Hs(p.max_hashrate)},
          {"sold", InUnit(v.sold, p.unit)},
          {"sold_hs", Hs(v.sold)},
          {"available", InUnit(v.available, p.unit)},
          {"available_hs", Hs(v.available)},
          {"created_at", FormatUtc(p.created)}};
}

json ContractJson(const ContractView& v) {
  const ContractRecord& c = v.record;
  return {{"id", c.id},
          {"product", c.product},
          {"customer", c.customer},
          {"name", c.name},
          {"algorithm", c.algorithm},
          {"unit", v.unit},
          {"hashrate", InUnit(c.hashrate, v.unit)},
          {"hashrate_hs", Hs(c.hashrate)},
          {"state", v.state},
          {"start", c.start.ToString()},
          {"end", v.end.ToString()},
          {"days", c.days},
          {"price_usd", Usd(c.price.raw())},
          {"price_micro_usd", c.price.raw()},
          {"fee_usd_per_th_day", Usd(c.fee_per_th_day.raw())},
          {"fee_micro_usd_per_th_day", c.fee_per_th_day.raw()},
          {"suspend_after_days", c.suspend_after_days},
          {"payout_address", c.payout_address},
          {"pool", c.pool},
          {"ended_by_customer", DateOrNull(c.ended_by_customer)},
          {"created_at", FormatUtc(c.created)},
          {"days_closed", v.days_closed},
          {"days_suspended", v.days_suspended},
          {"fees_usd", Usd(v.fees.raw())},
          {"fees_micro_usd", v.fees.raw()},
          {"refunds_usd", Usd(v.refunds.raw())},
          {"refunds_micro_usd", v.refunds.raw()},
          {"mined_usd", Usd(v.mined_usd.raw())},
          {"mined_micro_usd", v.mined_usd.raw()},
          {"suspended_on", DateOrNull(v.suspended_on)},
          {"resumed_on", DateOrNull(v.resumed_on)}};
}

json StatementJson(const ContractStatementRecord& s) {
  return {{"date", s.date.ToString()},
          {"state", s.state},
          {"contracted_hs", Hs(s.contracted)},
          {"delivered_hs", Hs(s.delivered)},
          {"coin", s.coin.empty() ? json(nullptr) : json(s.coin)},
          {"coins_mined", static_cast<double>(s.coins_mined.raw()) / 1e9},
          {"coins_mined_nano", s.coins_mined.raw()},
          {"mined_usd", Usd(s.mined_usd.raw())},
          {"mined_micro_usd", s.mined_usd.raw()},
          {"nominal_mined_usd", Usd(s.nominal_mined_usd.raw())},
          {"nominal_mined_micro_usd", s.nominal_mined_usd.raw()},
          {"fee_usd", Usd(s.fee.raw())},
          {"fee_micro_usd", s.fee.raw()},
          {"nominal_fee_usd", Usd(s.nominal_fee.raw())},
          {"nominal_fee_micro_usd", s.nominal_fee.raw()},
          {"refund_usd", Usd(s.refund.raw())},
          {"refund_micro_usd", s.refund.raw()},
          {"streak", s.streak},
          {"suspends", s.suspends},
          {"resumes", s.resumes}};
}

json ExposureJson(const Exposure& e) {
  return {{"algorithm", e.algorithm},
          {"coin", e.coin.empty() ? json(nullptr) : json(e.coin)},
          {"capacity_hs", Hs(e.capacity)},
          {"sold_hs", Hs(e.sold)},
          {"in_force_hs", Hs(e.in_force)},
          {"serving_hs", Hs(e.serving)},
          {"contracts", e.contracts},
          {"suspended", e.suspended},
          {"fees_due_today_usd", Usd(e.fees_due_today.raw())},
          {"fees_due_today_micro_usd", e.fees_due_today.raw()},
          {"mined_today_usd", Usd(e.mined_today.raw())},
          {"mined_today_micro_usd", e.mined_today.raw()}};
}

// The contract a path names; 404 for a segment that is not an id, as for an unknown contract.
Result<int64_t> ContractIdOf(std::string_view segment) {
  auto id = ParseId(segment);
  if (!id) return Err(NotFoundError("no contract '" + std::string(segment) + "': " + id.error().message()));
  return *id;
}

}  // namespace

HttpResponse Api::ListContractProducts(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  json list = json::array();
  std::lock_guard lock(*mu_);
  for (const ProductView& v : farm_->contracts().Products(farm_->fleet(), DateOf(now_()))) list.push_back(ProductJson(v));
  return JsonAnswer(200, {{"products", list}});
}

HttpResponse Api::CreateContractProduct(const Call& call) {
  auto ask = ParseContractProductRequest(call.request.body);
  if (!ask) return ErrorAnswer(ask.error());
  uint64_t ticket = 0;
  Result<ProductView> product = [&]() -> Result<ProductView> {
    std::lock_guard lock(*mu_);
    if (!farm_->view()) return Err(UnavailableError(farm_->not_ready_reason()));
    auto r = farm_->contracts().CreateProduct(*ask, farm_->fleet(), *farm_->view(), now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!product) return ErrorAnswer(product.error());
  HttpResponse r = JsonAnswer(201, ProductJson(*product));
  r.headers.emplace_back("Location", "/v1/contract-products");
  return WhenDurable(std::move(r), ticket);
}

HttpResponse Api::ListContracts(const Call& call) {
  if (Status s = CheckQuery(call.request, {"customer"}); !s.ok()) return ErrorAnswer(s);
  std::optional<std::string> customer = call.own ? call.own : net::QueryParam(call.request.query, "customer");
  json list = json::array();
  std::lock_guard lock(*mu_);
  for (const ContractView& v : farm_->contracts().List(customer, DateOf(now_()))) list.push_back(ContractJson(v));
  return JsonAnswer(200, {{"contracts", list}});
}

HttpResponse Api::BuyContract(const Call& call) {
  auto ask = ParseContractRequest(call.request.body);
  if (!ask) return ErrorAnswer(ask.error());
  // An operator's contracts belong to the identity its leases do (auth.h).
  const std::string customer = call.own ? *call.own : std::string(kOperatorLeaseOwner);
  uint64_t ticket = 0;
  Result<ContractView> bought = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->contracts().Buy(customer, *ask, farm_->fleet(), now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!bought) return ErrorAnswer(bought.error());
  HttpResponse r = JsonAnswer(201, ContractJson(*bought));
  r.headers.emplace_back("Location", "/v1/contracts/" + std::to_string(bought->record.id));
  return WhenDurable(std::move(r), ticket);
}

HttpResponse Api::ContractExposure(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  const Timestamp now = now_();
  json list = json::array();
  std::lock_guard lock(*mu_);
  for (const Exposure& e :
       farm_->contracts().Exposures(farm_->fleet(), farm_->view(), DateOf(now), farm_->params().pool_fee_ppm)) {
    list.push_back(ExposureJson(e));
  }
  return JsonAnswer(200, {{"at", FormatUtc(now)}, {"date", DateOf(now).ToString()}, {"algorithms", list}});
}

HttpResponse Api::GetContract(const Call& call) {
  auto id = ContractIdOf(call.params.Get("id"));
  if (!id) return ErrorAnswer(id.error());
  std::lock_guard lock(*mu_);
  auto v = farm_->contracts().Get(*id, call.own, DateOf(now_()));
  if (!v) return ErrorAnswer(v.error());
  return JsonAnswer(200, ContractJson(*v));
}

HttpResponse Api::EndContract(const Call& call) {
  auto id = ContractIdOf(call.params.Get("id"));
  if (!id) return ErrorAnswer(id.error());
  uint64_t ticket = 0;
  Result<ContractView> ended = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->contracts().End(*id, call.own, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!ended) return ErrorAnswer(ended.error());
  return WhenDurable(JsonAnswer(200, ContractJson(*ended)), ticket);
}

HttpResponse Api::ContractStatements(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  auto id = ContractIdOf(call.params.Get("id"));
  if (!id) return ErrorAnswer(id.error());
  std::vector<ContractStatementRecord> statements;
  {
    std::lock_guard lock(*mu_);
    auto r = farm_->contracts().Statements(*id, call.own);
    if (!r) return ErrorAnswer(r.error());
    statements = std::move(*r);
  }
  json list = json::array();
  for (const ContractStatementRecord& s : statements) list.push_back(StatementJson(s));
  return JsonAnswer(200, {{"contract", *id}, {"statements", list}});
}

}  // namespace rigshift
