// The hosted machines' routes of the REST API (docs/api.md, "Hosted machines"): GET /v1/hosted and
// GET /v1/hosted/{name}/bill. Handlers of Api (server/api.h), kept beside the billing they show.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "server/api.h"
#include "server/hosting.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpResponse;

double UsdOf(int64_t micro) { return static_cast<double>(micro) / 1e6; }


// A machine's bill over [from, to), from the ledger's hourly rollup (its lines are rolled up
// under the node "hosted:NAME"), by kind.
struct MachineBill {
  Money fee, energy, credit;
  int64_t held_off_s = 0;
  Money total() const { return fee + energy + credit; }
};

std::map<std::string, MachineBill> BillsFrom(const std::vector<LedgerHourTotal>& rows) {
  std::map<std::string, MachineBill> out;
  for (const LedgerHourTotal& r : rows) {
    if (!r.node.starts_with("hosted:")) continue;
    MachineBill& b = out[r.node.substr(7)];
    if (r.kind == "hosting_fee") b.fee += r.amount;
    if (r.kind == "hosting_energy") b.energy += r.amount;
    if (r.kind == "hosting_credit") {
      b.credit += r.amount;
      b.held_off_s += r.seconds;
    }
  }
  return out;
}

json BillJson(const MachineBill& b, Timestamp from, Timestamp to) {
  return {{"from", FormatUtc(from)},
          {"to", FormatUtc(to)},
          {"fee_usd", UsdOf(b.fee.raw())},
          {"energy_usd", UsdOf(b.energy.raw())},
          {"credit_usd", UsdOf(b.credit.raw())},
          {"total_usd", UsdOf(b.total().raw())},
          {"fee_micro_usd", b.fee.raw()},
          {"energy_micro_usd", b.energy.raw()},
          {"credit_micro_usd", b.credit.raw()},
          {"total_micro_usd", b.total().raw()}};
}

// The start of `t`'s UTC month.
Timestamp MonthStart(Timestamp t) {
  const Date d = DateOf(t);
  return Date::FromYmd(d.year(), d.month(), 1).start();
}

Result<std::optional<Timestamp>> TimeQuery(std::string_view query, std::string_view name) {
  auto v = net::QueryParam(query, name);
  if (!v) return std::optional<Timestamp>();
  auto t = ParseUtcTimestamp(*v);
  if (!t) return Err(InvalidArgumentError(std::string(name) + " must be a UTC time like 2026-12-01T00:00:00Z, got '" + *v + "'"));
  return std::optional<Timestamp>(*t);
}

}  // namespace

HttpResponse Api::ListHosted(const Call& call) {
  if (!net::QueryNames(call.request.query).empty()) {
    return ErrorAnswer(InvalidArgumentError("GET /v1/hosted takes no query parameters"));
  }
  const Timestamp now = now_();
  const Timestamp month = MonthStart(now);
  json machines = json::array();
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  const HostedBilling& billing = farm_->hosting();
  // This month so far, from the hourly rollup (through the hour now running).
  auto rows = farm_->store().LedgerByHour(month, Timestamp{now.seconds + 3'600});
  if (!rows) return ErrorAnswer(rows.error());
  const std::map<std::string, MachineBill> bills = BillsFrom(*rows);
  for (size_t h = 0; h < f.hosted().size(); ++h) {
    const HostedState& hs = f.hosted()[h];
    const HostedTerms& t = billing.terms()[h];
    const HostedMachineState& st = billing.states()[h];
    const MeterSample& s = billing.samples()[h];
    json meter = nullptr, reading = nullptr;
    if (t.metered()) {
      meter = {{"url", t.meter_url}, {"pdu", t.pdu}, {"outlet", t.outlet}};
      if (s.reading) {
        reading = {{"at", FormatUtc(s.at)},
                   {"power_w", s.reading->power ? json(s.reading->power->raw()) : json(nullptr)},
                   {"energy_wh", s.reading->energy ? json(s.reading->energy->raw()) : json(nullptr)},
                   {"powered", s.reading->powered ? json(*s.reading->powered) : json(nullptr)}};
      }
    }
    const int pue = f.sites()[hs.site].pue_milli;
    auto bill = bills.find(hs.name);
    machines.push_back(
        {{"name", hs.name},
         {"customer", t.customer},
         {"site", f.sites()[hs.site].name},
         {"power_w", hs.power.raw()},
         {"reserved_w", t.reserved.raw()},
         {"interruptible", hs.interruptible},
         {"state", hs.curtailed ? "off" : "on"},
         {"energy_basis", hs.all_in_price ? "all_in" : "at_cost"},
         {"all_in_usd_per_kwh", hs.all_in_price ? json(static_cast<double>(hs.all_in_price->raw()) / 1e9) : json(nullptr)},
         {"fee_usd_per_kw_month", UsdOf(t.fee_per_kw_month.raw())},
         {"curtail_credit_usd_per_kwh", static_cast<double>(hs.curtail_credit.raw()) / 1e9},
         {"meter", meter},
         {"last_reading", reading},
         {"reading_error", t.metered() && s.serial > 0 && !s.reading ? json(s.error) : json(nullptr)},
         {"draw_w", billing.FacilityDraw(f, static_cast<int>(h), now).raw() * 1000 / pue},
         {"meter_problem", st.problem.empty() ? json(nullptr) : json(st.problem)},
         {"metered_wh_since_start", st.metered.raw()},
         {"bill_this_month", BillJson(bill == bills.end() ? MachineBill{} : bill->second, month, now)}});
  }
  return JsonAnswer(200, {{"hosted", machines}});
}

HttpResponse Api::HostedBill(const Call& call) {
  for (const std::string& q : net::QueryNames(call.request.query)) {
    if (q != "from" && q != "to") {
      return ErrorAnswer(InvalidArgumentError("unknown query parameter '" + q + "' (this route takes: from, to)"));
    }
  }
  const std::string name(call.params.Get("name"));
  auto from = TimeQuery(call.request.query, "from");
  if (!from) return ErrorAnswer(from.error());
  auto to = TimeQuery(call.request.query, "to");
  if (!to) return ErrorAnswer(to.error());
  const Timestamp now = now_();
  // Whole hours (the ledger's rollup): by default this month up to the end of the hour now running.
  const Timestamp end = FloorTo(to->value_or(Timestamp{now.seconds + 3'599}), 3'600);
  const Timestamp start = FloorTo(from->value_or(MonthStart(now)), 3'600);
  if (end.seconds <= start.seconds) {
    return ErrorAnswer(InvalidArgumentError("'to' must be at least an hour after 'from' (bills are by whole UTC hours)"));
  }
  if ((end.seconds - start.seconds) / 3'600 > kMaxReportHours) {
    return ErrorAnswer(InvalidArgumentError("at most " + std::to_string(kMaxReportHours / 24) + " days in one bill; narrow from/to"));
  }
  std::lock_guard lock(*mu_);
  const FleetState& f = farm_->fleet();
  std::optional<size_t> h;
  for (size_t i = 0; i < f.hosted().size(); ++i) {
    if (f.hosted()[i].name == name) h = i;
  }
  if (!h) return ErrorAnswer(NotFoundError("no hosted machine '" + name + "' (GET /v1/hosted lists them)"));
  auto rows = farm_->store().LedgerByHour(start, end);
  if (!rows) return ErrorAnswer(rows.error());
  const std::map<std::string, MachineBill> bills = BillsFrom(*rows);
  auto b = bills.find(name);
  const MachineBill bill = b == bills.end() ? MachineBill{} : b->second;
  json out = BillJson(bill, start, end);
  out["name"] = name;
  out["customer"] = farm_->hosting().terms()[*h].customer;
  out["account"] = HostedBilling::Account(name);
  out["held_off_s"] = bill.held_off_s;
  return JsonAnswer(200, out);
}

}  // namespace rigshift
