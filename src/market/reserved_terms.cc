#include "market/reserved_terms.h"

#include <algorithm>

namespace rigshift {

namespace {

int DaysInMonth(int year, unsigned month) {
  Date first = Date::FromYmd(year, month, 1);
  Date next = month == 12 ? Date::FromYmd(year + 1, 1, 1) : Date::FromYmd(year, month + 1, 1);
  return next - first;
}

// Nearest rank: the smallest value with at least q % of the values at or below it.
RentalPrice Percentile(const std::vector<int64_t>& sorted, int q) {
  size_t n = sorted.size();
  size_t rank = (static_cast<size_t>(q) * n + 99) / 100;  // ceil(q/100 x n), >= 1 for q >= 1
  return RentalPrice(sorted[std::max<size_t>(rank, 1) - 1]);
}

std::string Usd(RentalPrice p) { return FormatScaled(p.raw(), 6); }

}  // namespace

Date AddMonths(Date d, int m) {
  int months = d.year() * 12 + static_cast<int>(d.month()) - 1 + m;
  int year = months / 12;
  unsigned month = static_cast<unsigned>(months % 12) + 1;
  unsigned day = std::min<unsigned>(d.day(), static_cast<unsigned>(DaysInMonth(year, month)));
  return Date::FromYmd(year, month, day);
}

Result<ReservedTerms> PriceReservedTerms(const std::vector<OpportunityDay>& days, const ReservedTermsOptions& o) {
  if (o.min_months < 1 || o.max_months > 120 || o.min_months > o.max_months) {
    return Err(InvalidArgumentError("reserved terms: months must run from 1 to at most 120, got " +
                                    std::to_string(o.min_months) + ".." + std::to_string(o.max_months)));
  }
  if (o.percentile < 1 || o.percentile > 100) {
    return Err(InvalidArgumentError("reserved terms: the priced percentile must be from 1 to 100, got " +
                                    std::to_string(o.percentile)));
  }
  if (o.premium_ppm < 0 || o.premium_ppm > 10'000'000) {
    return Err(InvalidArgumentError("reserved terms: the risk premium must be from 0 to 1000 %"));
  }
  if (days.empty()) return Err(InvalidArgumentError("reserved terms: the history has no day"));
  for (size_t i = 1; i < days.size(); ++i) {
    if (days[i].date != days[i - 1].date + 1) {
      return Err(InvalidArgumentError("reserved terms: the history must be consecutive days; " +
                                      days[i].date.ToString() + " follows " + days[i - 1].date.ToString()));
    }
  }
  const int n = static_cast<int>(days.size());
  // prefix[i]: the opportunity of days [0, i), clamped at 0 per day (off pays 0).
  std::vector<int64_t> prefix(n + 1, 0);
  int64_t energy = 0;
  for (int i = 0; i < n; ++i) {
    prefix[i + 1] = prefix[i] + std::max<int64_t>(0, days[i].mining_net.raw());
    energy += days[i].rented_energy.raw();
  }
  ReservedTerms out;
  out.from = days.front().date;
  out.to = days.back().date;
  out.days = n;
  out.percentile = o.percentile;
  out.premium_ppm = o.premium_ppm;
  RS_ASSIGN_OR_RETURN(int64_t floor_raw, MulDiv(energy, 1, static_cast<int64_t>(n) * 24));
  const RentalPrice floor(std::max<int64_t>(0, floor_raw));

  for (int m = o.min_months; m <= o.max_months; ++m) {
    std::vector<int64_t> values;
    ReservedTerm t;
    t.months = m;
    for (int s = 0; s < n; ++s) {
      const int len = AddMonths(days[s].date, m) - days[s].date;
      if (s + len > n) break;  // later starts have an end at least as late
      RS_ASSIGN_OR_RETURN(int64_t per_hour, MulDiv(prefix[s + len] - prefix[s], 1, static_cast<int64_t>(len) * 24));
      if (values.empty()) t.first_start = days[s].date;
      t.last_start = days[s].date;
      values.push_back(per_hour);
    }
    if (values.empty()) {
      out.notes.push_back(std::to_string(m) + " months: the history " + out.from.ToString() + ".." +
                          out.to.ToString() + " has " + std::to_string(n) + " days, a term from " +
                          out.from.ToString() + " needs " + std::to_string(AddMonths(out.from, m) - out.from));
      continue;
    }
    t.histories = static_cast<int>(values.size());
    std::sort(values.begin(), values.end());
    t.p10 = Percentile(values, 10);
    t.p50 = Percentile(values, 50);
    t.p90 = Percentile(values, 90);
    t.priced_opportunity = Percentile(values, o.percentile);
    RS_ASSIGN_OR_RETURN(int64_t premium, MulDiv(t.priced_opportunity.raw(), o.premium_ppm, 1'000'000));
    t.floor = floor;
    t.price = RentalPrice(floor.raw() + t.priced_opportunity.raw() + premium);
    out.terms.push_back(t);
  }
  out.basis = "history " + out.from.ToString() + ".." + out.to.ToString() + " (" + std::to_string(n) +
              " days): price = energy while rented (" + Usd(floor) + " USD/GPU-h, the floor) + p" +
              std::to_string(o.percentile) + " of the mean mining opportunity over the term's start days" +
              (o.premium_ppm ? " x (1 + " + FormatScaled(o.premium_ppm, 4) + " %)" : std::string());
  return out;
}

nlohmann::json ReservedTermsJson(const ReservedTerms& r) {
  auto usd = [](RentalPrice p) { return static_cast<double>(p.raw()) / 1e6; };  // for JSON only
  nlohmann::json out = nlohmann::json::array();
  for (const ReservedTerm& t : r.terms) {
    out.push_back({{"months", t.months},
                   {"price_usd_per_gpu_h", usd(t.price)},
                   {"micro_usd_per_gpu_h", t.price.raw()},
                   {"band", {{"p10", usd(t.p10)}, {"p50", usd(t.p50)}, {"p90", usd(t.p90)}}},
                   {"floor_usd_per_gpu_h", usd(t.floor)},
                   {"histories", t.histories},
                   {"first_start", t.first_start.ToString()},
                   {"last_start", t.last_start.ToString()},
                   {"basis", "floor " + Usd(t.floor) + " + p" + std::to_string(r.percentile) +
                                 " of the mean mining opportunity over " + std::to_string(t.months) +
                                 " months from each of " + std::to_string(t.histories) + " start days " +
                                 t.first_start.ToString() + ".." + t.last_start.ToString() +
                                 (r.premium_ppm ? " x (1 + " + FormatScaled(r.premium_ppm, 4) + " %)" : std::string())}});
  }
  return out;
}

Result<std::vector<OpportunityDay>> OpportunityHistory(const EarningsInputs& in, const EarningsQuery& query) {
  if (query.models.size() != 1) return Err(InvalidArgumentError("reserved terms: give exactly one GPU model"));
  RS_ASSIGN_OR_RETURN(const DeviceModel* model, in.catalog->Lookup(query.models.front()));
  RS_ASSIGN_OR_RETURN(std::vector<EarningsRow> rows, ComputeEarnings(in, query));
  std::vector<OpportunityDay> out;
  out.reserve(rows.size());
  for (const EarningsRow& r : rows) {
    OpportunityDay d;
    d.date = r.date;
    d.mining_net = r.mining_net;
    Watts rented = model->board_power.value_or(r.power);
    RS_ASSIGN_OR_RETURN(int64_t facility_watts, MulDiv(rented.raw(), query.pue_milli, 1000));
    RS_ASSIGN_OR_RETURN(WattHours energy, EnergyOver(Watts(facility_watts), 86400));
    RS_ASSIGN_OR_RETURN(d.rented_energy, EnergyCost(energy, r.power_price));
    out.push_back(d);
  }
  return out;
}

Result<LoopedPowerPrice> LoopedPowerPrice::Make(const ElectricityPrices& prices, const std::string& point, Date anchor,
                                                Date electricity_anchor) {
  RS_ASSIGN_OR_RETURN(auto cov, prices.Coverage(point));
  auto table = std::make_shared<std::vector<EnergyPrice>>();
  LoopedPowerPrice p;
  p.point_ = point;
  p.first_ = cov.first;
  p.offset_ = electricity_anchor - anchor;
  std::optional<EnergyPrice> last;
  for (Date d = cov.first; d <= cov.second; d = d + 1) {
    auto price = prices.DailyMean(point, d);
    if (price) {
      last = *price;
    } else {
      ++p.filled_;
    }
    // The first covered day has a price (Coverage says so), so `last` is set from here on.
    RS_CHECK(last.has_value());
    table->push_back(*last);
  }
  p.by_day_ = std::move(table);
  return p;
}

EnergyPrice LoopedPowerPrice::At(Date d) const {
  const int32_t n = static_cast<int32_t>(by_day_->size());
  int32_t i = ((d + offset_) - first_) % n;
  if (i < 0) i += n;
  return (*by_day_)[i];
}

DailyPowerPrice LoopedPowerPrice::AsFunction() const {
  return [self = *this](Date d) -> Result<EnergyPrice> { return self.At(d); };
}

std::string LoopedPowerPrice::Describe() const {
  return "ERCOT " + point_ + " daily means " + first_.ToString() + ".." +
         (first_ + static_cast<int32_t>(by_day_->size()) - 1).ToString() + ", looped" +
         (filled_ ? " (" + std::to_string(filled_) + " days without a price carry the last earlier one)" : "");
}

Result<std::pair<Date, Date>> DefaultHistory(const CoinHistory& coins, Date last, int years) {
  std::optional<Date> first_valued, last_valued;
  for (const std::string& c : coins.Coins()) {
    auto cov = coins.Coverage(c);
    if (!cov) continue;
    for (Date d = cov->first; d <= cov->second; d = d + 1) {
      const CoinDay* day = coins.At(c, d);
      if (!day || !day->gpu_minable || !day->price || !day->hashes_per_block || !day->block_reward) continue;
      if (!first_valued || d < *first_valued) first_valued = d;
      if (!last_valued || d > *last_valued) last_valued = d;
    }
  }
  if (!first_valued) {
    return Err(FailedPreconditionError("the coin data values no GPU-minable coin on any day (run `rigshift data import`)"));
  }
  Date to = std::min(last, *last_valued);
  Date from = std::max(to - (365 * years - 1), *first_valued);
  if (to < from) {
    return Err(FailedPreconditionError("the coin data values GPU coins from " + first_valued->ToString() + ", after " +
                                       last.ToString()));
  }
  return std::make_pair(from, to);
}

}  // namespace rigshift
