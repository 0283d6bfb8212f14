#include "market/coins.h"

#include "common/csv.h"
#include "market/import_io.h"

namespace rigshift {

namespace fs = std::filesystem;

namespace {

// Canonical decimal scales: prices in nano-USD (9), block time in ms (3), rewards in nano-coins
// (9), money in micro-USD (6), hashrates and hashes per block as integers.
std::string Opt(const std::optional<int64_t>& v, int scale) { return v ? FormatScaled(*v, scale) : ""; }
std::string OptHash(const std::optional<HashRate>& v) { return v ? FormatInt128(v->hps()) : ""; }
std::string Src(const CoinDay& d, const std::string& field) {
  auto it = d.sources.find(field);
  return it == d.sources.end() ? "" : it->second;
}

}  // namespace

const std::vector<std::string>& CoinDailyColumns() {
  static const std::vector<std::string> kColumns = {
      "date",           "coin",           "algorithm",          "gpu_minable",
      "price_usd",      "price_source",   "network_hashrate_hps", "network_hashrate_source",
      "hashes_per_block", "hashes_per_block_source", "block_time_s", "block_time_source",
      "block_reward",   "block_reward_source", "issuance_usd", "issuance_source",
      "miner_revenue_usd", "miner_revenue_source"};
  return kColumns;
}

std::vector<std::string> CoinDayRow(const CoinDay& d) {
  auto raw = [](const auto& q) -> std::optional<int64_t> {
    if (!q) return std::nullopt;
    return q->raw();
  };
  return {d.date.ToString(),
          d.coin,
          d.algorithm,
          d.gpu_minable ? "1" : "0",
          Opt(raw(d.price), 9),
          Src(d, "price"),
          OptHash(d.network_hashrate),
          Src(d, "network_hashrate"),
          OptHash(d.hashes_per_block),
          Src(d, "hashes_per_block"),
          Opt(d.block_time_ms, 3),
          Src(d, "block_time"),
          Opt(raw(d.block_reward), 9),
          Src(d, "block_reward"),
          Opt(raw(d.issuance_usd), 6),
          Src(d, "issuance"),
          Opt(raw(d.miner_revenue_usd), 6),
          Src(d, "miner_revenue")};
}

Result<CoinHistory> CoinHistory::Load(const fs::path& data_dir) {
  fs::path file = data_dir / "coin_daily.csv";
  RS_RETURN_IF_ERROR(RequireCanonical(file, data_dir));
  RS_ASSIGN_OR_RETURN(CsvTable table, CsvTable::ReadFile(file));
  std::vector<std::string_view> cols(CoinDailyColumns().begin(), CoinDailyColumns().end());
  RS_RETURN_IF_ERROR(table.Require(cols));
  std::vector<CoinDay> days;
  days.reserve(table.rows().size());
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    CoinDay d;
    if (r.Complete()) {
      auto date = r.DateField("date");
      d.coin = std::string(r.Text("coin"));
      d.algorithm = std::string(r.Text("algorithm"));
      d.gpu_minable = r.Text("gpu_minable") == "1";
      if (auto v = r.Scaled("price_usd", 9)) d.price = CoinPrice(*v);
      if (auto v = r.Scaled128("network_hashrate_hps", 0)) d.network_hashrate = HashRate(*v);
      if (auto v = r.Scaled128("hashes_per_block", 0)) d.hashes_per_block = HashRate(*v);
      d.block_time_ms = r.Scaled("block_time_s", 3);
      if (auto v = r.Scaled("block_reward", 9)) d.block_reward = CoinAmount(*v);
      if (auto v = r.Scaled("issuance_usd", 6)) d.issuance_usd = Money(*v);
      if (auto v = r.Scaled("miner_revenue_usd", 6)) d.miner_revenue_usd = Money(*v);
      for (const char* f : {"price", "network_hashrate", "hashes_per_block", "block_time", "block_reward", "issuance",
                            "miner_revenue"}) {
        std::string_view s = r.Text(std::string(f) + "_source");
        if (!s.empty()) d.sources[f] = std::string(s);
      }
      if (!date && !r.bad()) return Err(InvalidArgumentError(file.string() + ":" + std::to_string(row.line) + ": date missing"));
      if (date) d.date = *date;
      if (d.coin.empty() && !r.bad()) return Err(InvalidArgumentError(file.string() + ":" + std::to_string(row.line) + ": coin missing"));
    }
    if (r.bad()) {
      return Err(InvalidArgumentError(file.string() + ":" + std::to_string(row.line) + ": " + r.error() +
                                      " (the file is corrupt: run `rigshift data import` again)"));
    }
    days.push_back(std::move(d));
  }
  return FromDays(std::move(days));
}

CoinHistory CoinHistory::FromDays(std::vector<CoinDay> days) {
  CoinHistory h;
  for (auto& d : days) {
    std::string coin = d.coin;
    Date date = d.date;
    h.by_coin_[coin].insert_or_assign(date, std::move(d));
  }
  return h;
}

const CoinDay* CoinHistory::At(std::string_view coin, Date day) const {
  auto c = by_coin_.find(coin);
  if (c == by_coin_.end()) return nullptr;
  auto it = c->second.find(day);
  return it == c->second.end() ? nullptr : &it->second;
}

std::vector<std::string> CoinHistory::Coins() const {
  std::vector<std::string> out;
  for (const auto& [c, _] : by_coin_) out.push_back(c);
  return out;
}

std::optional<std::pair<Date, Date>> CoinHistory::Coverage(std::string_view coin) const {
  auto c = by_coin_.find(coin);
  if (c == by_coin_.end() || c->second.empty()) return std::nullopt;
  return std::make_pair(c->second.begin()->first, c->second.rbegin()->first);
}

}  // namespace rigshift
