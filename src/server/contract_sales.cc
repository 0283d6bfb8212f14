#include "server/contract_sales.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "model/catalog.h"
#include "model/mining.h"

namespace rigshift {
namespace {

constexpr __int128 kTera = 1'000'000'000'000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The algorithms the fleet's devices can mine, as the catalog spells them, by name.
std::set<std::string> MinableAlgorithms(const FleetState& fleet) {
  std::set<std::string> out;
  for (const GroupState& g : fleet.groups()) {
    if (!g.model || !g.suitability.mining_licensed) continue;
    for (const AlgorithmRate& r : g.model->rates) {
      if (r.hashrate.hps() > 0) out.insert(r.algorithm);
    }
    if (RateFor(*g.model, "Etchash")) out.insert("Etchash");
  }
  return out;
}

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// `amount` per unit of `unit_hps` H/s, for `rate`: rounded half away from zero.
Result<Money> PerUnit(Money amount, __int128 unit_hps, HashRate rate) {
  RS_ASSIGN_OR_RETURN(int64_t v, MulDiv128(amount.raw(), rate.hps(), unit_hps));
  return Money(v);
}

// Hashrate as the message of a refusal says it: in the product's unit.
std::string InUnit(HashRate h, const std::string& unit) {
  const __int128 u = HashRateUnit(unit);
  const int decimals = u >= 1'000'000'000'000 ? 12 : u >= 1'000'000'000 ? 9 : u >= 1'000'000 ? 6 : u >= 1'000 ? 3 : 0;
  std::string text = FormatScaled(static_cast<int64_t>(h.hps()), decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text + " " + unit;
}

ContractStatementRecord RecordOf(const ContractStatement& s) {
  ContractStatementRecord r;
  r.contract = s.contract;
  r.date = s.date;
  r.state = s.state;
  r.contracted = s.contracted;
  r.delivered = s.delivered;
  r.coin = s.coin;
  r.coins_mined = s.coins_mined;
  r.mined_usd = s.mined_usd;
  r.nominal_mined_usd = s.nominal_mined_usd;
  r.fee = s.fee;
  r.nominal_fee = s.nominal_fee;
  r.refund = s.refund;
  r.streak = s.streak;
  r.suspends = s.suspends;
  r.resumes = s.resumes;
  return r;
}

ContractTerms TermsOf(const ContractRecord& c) {
  ContractTerms t;
  t.id = c.id;
  t.name = c.name;
  t.customer = c.customer;
  t.algorithm = c.algorithm;
  t.hashrate = c.hashrate;
  t.start = c.start;
  t.days = c.days;
  t.price = c.price;
  t.fee_per_th_day = c.fee_per_th_day;
  t.suspend_after_days = c.suspend_after_days;
  t.payout_address = c.payout_address;
  t.pool = c.pool;
  t.ended_by_customer = c.ended_by_customer;
  return t;
}

// The first day a contract no longer runs.
Date EndOf(const ContractRecord& c) {
  Date end = c.start + c.days;
  if (c.ended_by_customer && *c.ended_by_customer < end) end = std::max(c.start, *c.ended_by_customer);
  return end;
}

bool NotEnded(const ContractRecord& c, Date today) { return today < EndOf(c); }

LedgerEntry Line(const ContractRecord& c, Timestamp at, std::string kind, Money amount, int64_t seconds,
                 std::string note) {
  LedgerEntry e;
  e.at = at;
  e.account = TenantAccount(c.customer);
  e.kind = std::move(kind);
  e.amount = amount;
  e.seconds = seconds;
  e.note = std::move(note);
  return e;
}

}  // namespace

HashRate FleetCapacity(const FleetState& fleet, std::string_view algorithm) {
  __int128 total = 0;
  for (const GroupState& g : fleet.groups()) {
    if (!g.model || !g.suitability.mining_licensed) continue;
    if (const AlgorithmRate* r = RateFor(*g.model, algorithm)) total += static_cast<__int128>(g.devices) * r->hashrate.hps();
  }
  return HashRate(total);
}

std::map<int64_t, __int128> ContractHashSeconds(const FleetState& fleet, const DesiredStates& uses, int64_t seconds) {
  std::map<int64_t, __int128> out;
  for (const GroupState& g : fleet.groups()) {
    if (g.contracts.empty()) continue;
    for (int node = g.first_node; node < g.first_node + g.node_count; ++node) {
      for (int slot = 0; slot < g.gpus_per_node; ++slot) {
        if (uses.Use(fleet, node, slot) != DeviceUse::kContract) continue;
        if (const ContractSlice* c = uses.ContractOf(fleet, node, slot)) out[c->contract] += c->hashrate.hps() * seconds;
      }
    }
  }
  return out;
}

Status ContractSales::Load(Date today) {
  products_.clear();
  contracts_.clear();
  book_ = ContractBook();
  last_closed_.reset();
  totals_.clear();
  delivered_.clear();
  RS_ASSIGN_OR_RETURN(products_, store_->ListContractProducts());
  RS_ASSIGN_OR_RETURN(std::vector<ContractRecord> contracts, store_->ListContracts(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<ContractStatementRecord> statements, store_->ContractStatements(std::nullopt));
  RS_ASSIGN_OR_RETURN(std::vector<ContractDayClose> days, store_->ContractDaysClosed());
  if (!days.empty()) last_closed_ = days.back().day;
  // The rule's state after each contract's last statement (statements come by date).
  std::map<int64_t, SuspensionState> state;
  for (const ContractStatementRecord& s : statements) {
    ContractStatement st;
    st.state = s.state;
    st.streak = s.streak;
    st.suspends = s.suspends;
    st.resumes = s.resumes;
    state[s.contract] = StateAfter(st);
    Count(s);
  }
  for (ContractRecord& c : contracts) {
    Status restored = book_.Restore(TermsOf(c), state[c.id]);
    if (!restored.ok()) return DataLossError("store: contract " + std::to_string(c.id) + ": " + restored.message());
    contracts_[c.id] = std::move(c);
  }
  if (last_closed_) book_.RestoreLastClosed(*last_closed_);
  // What the days not closed yet delivered before the restart (the running one, and any the
  // server could not close).
  if (std::optional<Date> from = next_day_to_close()) {
    for (Date d = *from; d <= today; d = d + 1) {
      RS_ASSIGN_OR_RETURN(std::vector<ContractDeliveryRecord> got, store_->ContractDeliveries(d));
      for (const ContractDeliveryRecord& r : got) delivered_[{r.date, r.contract}] = r.hash_s;
    }
  }
  return OkStatus();
}

void ContractSales::Count(const ContractStatementRecord& s) {
  Totals& t = totals_[s.contract];
  ++t.days_closed;
  if (s.state == "suspended") ++t.days_suspended;
  t.fees += s.fee;
  t.refunds += s.refund;
  t.mined_usd += s.mined_usd;
  if (s.suspends) {
    t.suspended_on = s.date;
    t.resumed_on.reset();
  }
  if (s.resumes) t.resumed_on = s.date;
}

std::optional<Date> ContractSales::next_day_to_close() const {
  if (last_closed_) return *last_closed_ + 1;
  if (contracts_.empty()) return std::nullopt;
  Date first = contracts_.begin()->second.start;
  for (const auto& [id, c] : contracts_) first = std::min(first, c.start);
  return first;
}

// ---- Products ----------------------------------------------------------------------------------

Result<ProductView> ContractSales::CreateProduct(const ContractProductAsk& ask, const FleetState& fleet,
                                                 const MarketView& view, Timestamp now) {
  const std::set<std::string> minable = MinableAlgorithms(fleet);
  std::string algorithm;
  for (const std::string& a : minable) {
    if (Lower(a) == Lower(ask.algorithm)) algorithm = a;
  }
  if (algorithm.empty()) {
    return Err(FailedPreconditionError("no device of this farm mines '" + ask.algorithm +
                                       "'; it can sell hashrate of: " + JoinNames(minable)));
  }
  if (BestQuote(view.coins, algorithm) == nullptr) {
    std::set<std::string> quoted;
    for (const CoinQuote& q : view.coins) quoted.insert(q.algorithm);
    return Err(FailedPreconditionError("the market feed quotes no coin of " + algorithm +
                                       ", so no day of a contract could be valued (quoted: " + JoinNames(quoted) + ")"));
  }
  const __int128 unit = HashRateUnit(ask.unit);
  RS_CHECK(unit > 0);  // the parser allows only known units
  auto fee_per_th = MulDiv128(ask.fee_per_unit_day.raw(), kTera, unit);
  if (!fee_per_th) {
    return Err(InvalidArgumentError("\"fee_usd_per_unit_day\" is too large for a unit of " + ask.unit +
                                    " (it must stay below 9.2e12 USD per TH/s-day)"));
  }
  ContractProductRecord p;
  p.id = products_.empty() ? 1 : products_.back().id + 1;
  p.name = ask.name;
  p.algorithm = algorithm;
  p.unit = ask.unit;
  p.days = ask.days;
  p.price_per_unit = ask.price_per_unit;
  p.fee_per_unit_day = ask.fee_per_unit_day;
  p.suspend_after_days = ask.suspend_after_days;
  p.max_hashrate = ask.max_hashrate;
  p.created = now;
  RS_RETURN_IF_ERROR(store_->PutContractProduct(p));
  products_.push_back(p);
  for (const ProductView& v : Products(fleet, DateOf(now))) {
    if (v.record.id == p.id) return v;
  }
  RS_CHECK(false);
  return Err(InternalError("unreachable"));
}

HashRate ContractSales::SoldOf(const std::function<bool(const ContractRecord&)>& which, Date today) const {
  __int128 sum = 0;
  for (const auto& [id, c] : contracts_) {
    if (which(c) && NotEnded(c, today)) sum += c.hashrate.hps();
  }
  return HashRate(sum);
}

std::vector<ProductView> ContractSales::Products(const FleetState& fleet, Date today) const {
  std::vector<ProductView> out;
  for (const ContractProductRecord& p : products_) {
    ProductView v;
    v.record = p;
    v.sold = SoldOf([&](const ContractRecord& c) { return c.product == p.id; }, today);
    const HashRate fleet_left(std::max<__int128>(
        0, FleetCapacity(fleet, p.algorithm).hps() -
               SoldOf([&](const ContractRecord& c) { return c.algorithm == p.algorithm; }, today).hps()));
    v.available = HashRate(std::min(std::max<__int128>(0, p.max_hashrate.hps() - v.sold.hps()), fleet_left.hps()));
    out.push_back(std::move(v));
  }
  return out;
}

// ---- Contracts ---------------------------------------------------------------------------------

Result<ContractView> ContractSales::Buy(const std::string& customer, const ContractAsk& ask, const FleetState& fleet,
                                        Timestamp now) {
  const ContractProductRecord* p = nullptr;
  for (const ContractProductRecord& x : products_) {
    if (x.id == ask.product) p = &x;
  }
  if (p == nullptr) return Err(NotFoundError("no contract product " + std::to_string(ask.product)));
  const Date today = DateOf(now);
  const HashRate sold = SoldOf([&](const ContractRecord& c) { return c.product == p->id; }, today);
  if (sold.hps() + ask.hashrate.hps() > p->max_hashrate.hps()) {
    return Err(FailedPreconditionError(
        "product " + std::to_string(p->id) + " (" + p->name + ") has " +
        InUnit(HashRate(std::max<__int128>(0, p->max_hashrate.hps() - sold.hps())), p->unit) + " on sale, less than the " +
        InUnit(ask.hashrate, p->unit) + " asked"));
  }
  const HashRate capacity = FleetCapacity(fleet, p->algorithm);
  const HashRate committed = SoldOf([&](const ContractRecord& c) { return c.algorithm == p->algorithm; }, today);
  if (committed.hps() + ask.hashrate.hps() > capacity.hps()) {
    return Err(FailedPreconditionError(
        "the farm's devices for " + p->algorithm + " mine " + InUnit(capacity, p->unit) + " in all and " +
        InUnit(committed, p->unit) + " of it is sold: they cannot cover " + InUnit(ask.hashrate, p->unit) + " more"));
  }
  ContractRecord c;
  c.id = contracts_.empty() ? 1 : contracts_.rbegin()->first + 1;
  c.product = p->id;
  c.customer = customer;
  c.name = p->name;
  c.algorithm = p->algorithm;
  c.hashrate = ask.hashrate;
  c.start = today;
  c.days = p->days;
  const __int128 unit = HashRateUnit(p->unit);
  auto price = PerUnit(p->price_per_unit, unit, ask.hashrate);
  auto fee = MulDiv128(p->fee_per_unit_day.raw(), kTera, unit);
  if (!price || !fee) return Err(InvalidArgumentError("\"hashrate\" is too large: the price does not fit in 64 bits"));
  c.price = *price;
  c.fee_per_th_day = Money(*fee);
  c.suspend_after_days = p->suspend_after_days;
  c.payout_address = ask.payout_address;
  c.pool = ask.pool;
  c.created = now;
  ContractBook check;  // the book's own refusals, before anything is written
  RS_RETURN_IF_ERROR(check.Add(TermsOf(c)));
  const LedgerEntry sale = Line(c, now, "contract_sale", c.price, 0,
                                "contract " + std::to_string(c.id) + ": " + InUnit(c.hashrate, p->unit) + " of " +
                                    c.algorithm + " for " + std::to_string(c.days) + " days from " + today.ToString());
  RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
    RS_RETURN_IF_ERROR(st.PutContract(c));
    return st.AppendLedger({sale});
  }));
  RS_CHECK(book_.Add(TermsOf(c)).ok());
  contracts_[c.id] = c;
  return ViewOf(c, today);
}

ContractView ContractSales::ViewOf(const ContractRecord& c, Date today) const {
  ContractView v;
  v.record = c;
  v.end = EndOf(c);
  v.unit = "H/s";
  for (const ContractProductRecord& p : products_) {
    if (p.id == c.product) v.unit = p.unit;
  }
  if (auto it = totals_.find(c.id); it != totals_.end()) {
    v.days_closed = it->second.days_closed;
    v.days_suspended = it->second.days_suspended;
    v.fees = it->second.fees;
    v.refunds = it->second.refunds;
    v.mined_usd = it->second.mined_usd;
    v.suspended_on = it->second.suspended_on;
    v.resumed_on = it->second.resumed_on;
  }
  if (today < c.start) {
    v.state = "scheduled";
  } else if (today >= v.end) {
    v.state = "ended";
  } else {
    v.state = book_.Suspended(c.id) ? "suspended" : "active";
  }
  return v;
}

const ContractRecord* ContractSales::Find(int64_t id) const {
  auto it = contracts_.find(id);
  return it == contracts_.end() ? nullptr : &it->second;
}

Result<ContractView> ContractSales::Get(int64_t id, const std::optional<std::string>& customer, Date today) const {
  const ContractRecord* c = Find(id);
  if (c == nullptr || (customer && c->customer != *customer)) return Err(NotFoundError("no contract " + std::to_string(id)));
  return ViewOf(*c, today);
}

std::vector<ContractView> ContractSales::List(const std::optional<std::string>& customer, Date today) const {
  std::vector<ContractView> out;
  for (const auto& [id, c] : contracts_) {
    if (!customer || c.customer == *customer) out.push_back(ViewOf(c, today));
  }
  return out;
}

Result<std::vector<ContractStatementRecord>> ContractSales::Statements(int64_t id,
                                                                       const std::optional<std::string>& customer) {
  const ContractRecord* c = Find(id);
  if (c == nullptr || (customer && c->customer != *customer)) return Err(NotFoundError("no contract " + std::to_string(id)));
  return store_->ContractStatements(id);
}

Result<ContractView> ContractSales::End(int64_t id, const std::optional<std::string>& customer, Timestamp now) {
  const ContractRecord* found = Find(id);
  if (found == nullptr || (customer && found->customer != *customer)) {
    return Err(NotFoundError("no contract " + std::to_string(id)));
  }
  const Date today = DateOf(now);
  const Date tomorrow = today + 1;
  if (!NotEnded(*found, tomorrow) || (found->ended_by_customer && *found->ended_by_customer <= tomorrow)) {
    return ViewOf(*found, today);  // it runs no day after today already
  }
  ContractRecord c = *found;
  c.ended_by_customer = std::max(tomorrow, c.start);
  RS_RETURN_IF_ERROR(store_->PutContract(c));
  RS_CHECK(book_.End(c.id, *c.ended_by_customer).ok());
  contracts_[c.id] = c;
  return ViewOf(c, today);
}

// ---- Days --------------------------------------------------------------------------------------

std::vector<ContractDeliveryRecord> ContractSales::Deliveries(Date day,
                                                              const std::map<int64_t, __int128>& hash_s) const {
  std::vector<ContractDeliveryRecord> out;
  for (const auto& [contract, added] : hash_s) {
    if (added <= 0 || !contracts_.count(contract)) continue;
    auto it = delivered_.find({day, contract});
    out.push_back({contract, day, (it == delivered_.end() ? 0 : it->second) + added});
  }
  return out;
}

void ContractSales::Delivered(const std::vector<ContractDeliveryRecord>& written) {
  for (const ContractDeliveryRecord& r : written) delivered_[{r.date, r.contract}] = r.hash_s;
}

Status ContractSales::CloseDaysBefore(Date today, const std::function<std::vector<CoinQuote>(Date)>& quotes,
                                      int64_t pool_fee_ppm, Timestamp now) {
  for (std::optional<Date> day = next_day_to_close(); day && *day < today; day = next_day_to_close()) {
    RS_RETURN_IF_ERROR(CloseDay(*day, quotes(*day), pool_fee_ppm, now));
  }
  return OkStatus();
}

Status ContractSales::CloseDay(Date day, const std::vector<CoinQuote>& quotes, int64_t pool_fee_ppm, Timestamp now) {
  std::map<int64_t, __int128> delivered;
  for (auto it = delivered_.lower_bound({day, 0}); it != delivered_.end() && it->first.first == day; ++it) {
    delivered[it->first.second] = it->second;
  }
  // The book moves only once the store holds the day: closed on a copy, kept on success.
  ContractBook next = book_;
  RS_ASSIGN_OR_RETURN(std::vector<ContractStatement> statements, next.CloseDay(day, quotes, delivered, pool_fee_ppm));
  ContractDayClose close;
  close.day = day;
  close.closed_at = now;
  std::vector<LedgerEntry> lines;
  // Dated the day's last second, so that the ledger's days hold their own contracts' money.
  const Timestamp at{(day + 1).start().seconds - 1};
  for (const ContractStatement& s : statements) {
    close.statements.push_back(RecordOf(s));
    const ContractRecord& c = contracts_.at(s.contract);
    const std::string note = "contract " + std::to_string(c.id) + " on " + day.ToString();
    if (s.fee.raw() != 0) lines.push_back(Line(c, at, "contract_fee", s.fee, 86400, note));
    if (s.refund.raw() != 0) lines.push_back(Line(c, at, "contract_refund", -s.refund, 86400, note));
  }
  RS_RETURN_IF_ERROR(store_->Transaction([&](Store& st) -> Status {
    RS_RETURN_IF_ERROR(st.CloseContractDay(close));
    return st.AppendLedger(lines);
  }));
  book_ = std::move(next);
  last_closed_ = day;
  for (const ContractStatementRecord& s : close.statements) Count(s);
  std::erase_if(delivered_, [&](const auto& kv) { return kv.first.first <= day; });
  return OkStatus();
}

std::vector<Exposure> ContractSales::Exposures(const FleetState& fleet, const std::optional<MarketView>& view,
                                               Date today, int64_t pool_fee_ppm) const {
  std::set<std::string> algorithms = MinableAlgorithms(fleet);
  for (const auto& [id, c] : contracts_) algorithms.insert(c.algorithm);
  for (const ContractProductRecord& p : products_) algorithms.insert(p.algorithm);
  std::vector<Exposure> out;
  for (const std::string& a : algorithms) {
    Exposure e;
    e.algorithm = a;
    e.capacity = FleetCapacity(fleet, a);
    const CoinQuote* q = view ? BestQuote(view->coins, a) : nullptr;
    if (q) e.coin = q->coin;
    __int128 sold = 0, in_force = 0, serving = 0;
    for (const auto& [id, c] : contracts_) {
      if (c.algorithm != a || !NotEnded(c, today)) continue;
      sold += c.hashrate.hps();
      ++e.contracts;
      if (today >= c.start && book_.Suspended(c.id)) ++e.suspended;
    }
    for (const ContractDemand& d : book_.InForce(today)) {
      if (d.algorithm != a) continue;
      in_force += d.hashrate.hps();
      const ContractRecord& c = contracts_.at(d.id);
      e.fees_due_today += Money(static_cast<int64_t>(static_cast<__int128>(c.fee_per_th_day.raw()) * d.hashrate.hps() / kTera));
      if (q) {
        auto mined = MiningRevenue(d.hashrate, 86400, q->price, q->hashes_per_block, q->block_reward, pool_fee_ppm);
        if (mined) e.mined_today += *mined;
      }
    }
    for (const GroupState& g : fleet.groups()) {
      for (const ContractSlice& s : g.contracts) {
        if (s.algorithm == a) serving += static_cast<__int128>(s.devices) * s.hashrate.hps();
      }
    }
    e.sold = HashRate(sold);
    e.in_force = HashRate(in_force);
    e.serving = HashRate(serving);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rigshift
