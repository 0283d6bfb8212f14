#include "market/coin_import.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <limits>
#include <set>

#include "market/import_io.h"

namespace rigshift {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Chain facts

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "Ethash -> Etchash (doubled DAG ...)" -> {"Ethash", "Etchash"}.
std::optional<std::pair<std::string, std::string>> ParseAlgorithmChange(std::string_view value) {
  size_t arrow = value.find("->");
  if (arrow == std::string_view::npos) return std::nullopt;
  std::string_view before = Trim(value.substr(0, arrow));
  std::string_view after = value.substr(arrow + 2);
  if (size_t paren = after.find('('); paren != std::string_view::npos) after = after.substr(0, paren);
  after = Trim(after);
  if (size_t sp = before.find(' '); sp != std::string_view::npos && before.substr(sp + 1).starts_with("v1")) {
    before = before.substr(0, sp);  // "Autolykos v1" is the algorithm the catalog calls "Autolykos"
  }
  return std::make_pair(std::string(before), std::string(after));
}

constexpr int64_t kErgoBlocksPerDay = 86400 / 120;
const Date kErgoGenesis = Date::FromYmd(2019, 7, 1);

}  // namespace

std::optional<std::pair<CoinAmount, std::string>> ChainRules::RewardOn(Date day) const {
  if (pow_end && day > *pow_end) return std::nullopt;
  if (coin == "ERG" && ergo_schedule_from && day >= *ergo_schedule_from) {
    // Height estimated from the genesis date at the 120 s target (approximate by design).
    int64_t height = 1 + static_cast<int64_t>(day - kErgoGenesis) * kErgoBlocksPerDay;
    int64_t steps = height < 525600 ? 0 : (height - 525600) / 64800 + 1;
    int64_t reward = std::max<int64_t>(75 - 3 * steps, 3);
    std::string rule = "ERG emission: 75 - 3 per 64800 blocks after 525600 (height estimated)";
    if (ergo_reemission_from && day >= *ergo_reemission_from && reward >= 15) {
      reward -= 12;
      rule += "; EIP-27 re-emission -12";
    }
    return std::make_pair(CoinAmount(reward * kNanosPerUnit), rule);
  }
  if (coin == "KAS" && kaspa_chromatic_from && day >= *kaspa_chromatic_from) {
    // 440 KAS/s, halving yearly in monthly steps of (1/2)^(1/12); 1 block/s. A protocol constant
    // converted once to integer nano-KAS; nothing is summed in floating point.
    int months = (day.year() - kaspa_chromatic_from->year()) * 12 +
                 static_cast<int>(day.month()) - static_cast<int>(kaspa_chromatic_from->month());
    double kas = 440.0 * std::pow(0.5, months / 12.0);
    return std::make_pair(CoinAmount(std::llround(kas * 1e9)), "KAS chromatic emission 440/s x (1/2)^(months/12)");
  }
  const Step* best = nullptr;
  for (const Step& s : rewards) {
    if (s.from <= day) best = &s;
  }
  if (!best) return std::nullopt;
  return std::make_pair(best->reward, best->source);
}

std::pair<const ChainRules::Step*, const ChainRules::Step*> ChainRules::StepsOn(Date day) const {
  const Step* current = nullptr;
  const Step* previous = nullptr;
  for (const Step& s : rewards) {
    if (s.from <= day) {
      previous = current;
      current = &s;
    }
  }
  return {current, previous};
}

std::string ChainRules::AlgorithmOn(Date day) const {
  std::string algo;
  for (const auto& era : algorithms) {
    if (algo.empty() || era.from <= day) algo = era.algorithm;
  }
  return algo;
}

Result<std::vector<ChainRules>> ReadChainRules(const fs::path& file, const fs::path& root, FileReport& report) {
  static const std::vector<std::string_view> kColumns = {
      "coin", "algorithm", "gpu_minable", "param", "value", "unit", "effective_from_block", "effective_from_date_utc",
      "date_precision", "reference"};
  RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(file, root, kColumns, kColumns, report));
  std::map<std::string, ChainRules> rules;
  for (const CsvRow& row : table.rows()) {
    RowReader r(table, row);
    if (!r.Complete()) {
      report.Rejected(row.line, r.error());
      continue;
    }
    std::string coin(r.Text("coin"));
    std::string param(r.Text("param"));
    std::string_view value = r.Text("value");
    std::string tag = SourceTag(file, row.line);
    if (coin.empty() || param.empty()) {
      report.Rejected(row.line, "coin or param empty");
      continue;
    }
    ChainRules& cr = rules[coin];
    cr.coin = coin;
    // "no (ASIC only)" marks an ASIC coin; ETH's pow_end row also says "no", for another reason.
    if (r.Text("gpu_minable").starts_with("no") && r.Text("gpu_minable").find("ASIC") != std::string_view::npos) {
      cr.asic_only = true;
    }
    std::optional<Date> from;
    bool month_precision = false;
    if (std::string_view d = r.Text("effective_from_date_utc"); !d.empty()) {
      auto parsed = ParseLooseDate(d, &month_precision);
      if (!parsed) {
        report.Rejected(row.line, "effective_from_date_utc: " + parsed.error().message());
        continue;
      }
      from = *parsed;
    }
    if (month_precision || r.Text("date_precision").starts_with("approx")) tag += " (approx date)";
    if (cr.algorithms.empty()) {
      cr.algorithms.push_back({Date(0), std::string(r.Text("algorithm")), tag});
    }
    if (param == "block_reward" || param == "tail_emission") {
      auto v = ParseScaled(value, 9);
      if (!v || !from) {
        report.Rejected(row.line, v ? "block reward without an effective date" : "value: " + v.error().message());
        continue;
      }
      cr.rewards.push_back({*from, CoinAmount(*v), tag, tag.find("approx") != std::string::npos});
    } else if (param == "algorithm_change") {
      auto change = ParseAlgorithmChange(value);
      if (!change || !from) {
        report.Rejected(row.line, "algorithm_change value not of the form 'A -> B' with a date");
        continue;
      }
      // The era before the change runs the old algorithm; the row's own column names the new one.
      std::string after = std::string(r.Text("algorithm")).find('/') == std::string::npos
                              ? std::string(r.Text("algorithm"))
                              : change->second;
      if (cr.algorithms.size() == 1 && cr.algorithms[0].from == Date(0)) cr.algorithms[0].algorithm = change->first;
      cr.algorithms.push_back({*from, after, tag});
    } else if (param == "pow_end") {
      if (!from) {
        report.Rejected(row.line, "pow_end without a date");
        continue;
      }
      cr.pow_end = *from;  // the Merge day still had proof-of-work blocks; the day after has none
    } else if (param == "block_time_target") {
      std::string_view v = value;
      if (!v.empty() && v.front() == '~') v.remove_prefix(1);
      auto ms = ParseScaled(v, 3);
      if (!ms) {
        report.Skipped(row.line, "block_time_target '" + std::string(value) + "' is a range, not a number");
        continue;
      }
      cr.block_time_target_ms = *ms;
      cr.block_time_source = tag;
    } else if (param == "block_reward_schedule" && coin == "ERG") {
      cr.ergo_schedule_from = from;
    } else if (param == "reemission" && coin == "ERG") {
      cr.ergo_reemission_from = from;
    } else if (param == "emission" && coin == "KAS") {
      cr.kaspa_chromatic_from = from;
    } else {
      report.Skipped(row.line, "fact '" + param + "' is informational; the revenue model does not use it");
      continue;
    }
    ++report.accepted;
  }
  std::vector<ChainRules> out;
  for (auto& [coin, cr] : rules) {
    std::stable_sort(cr.rewards.begin(), cr.rewards.end(), [](const auto& a, const auto& b) { return a.from < b.from; });
    std::stable_sort(cr.algorithms.begin(), cr.algorithms.end(),
                     [](const auto& a, const auto& b) { return a.from < b.from; });
    out.push_back(std::move(cr));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Daily series

namespace {

// One field read from one column of a source. `scale` converts the column's unit to ours:
// prices to nano-USD (9), money to micro-USD (6), TH/s to H/s (12), GH/s to H/s (9), coins to
// nano-coins (9). Lower priority numbers win.
struct Use {
  const char* field;
  const char* column;
  int scale;
  int priority;
};

struct Spec {
  const char* stem;
  const char* coin;
  const char* date_column;
  std::vector<Use> uses;
  std::vector<std::string_view> known;  // every column the source is documented to have
  int shift_days = 0;   // -1: the value at 00:00 UTC of D is the close of D-1
  bool sparse = false;  // samples every few days: carry network figures forward up to 3 days
};

// Network figures are kept in 128 bits, but no real one is near 1e30 hashes.
constexpr __int128 kMaxWide = static_cast<__int128>(1'000'000'000'000'000'000LL) * 1'000'000'000'000LL;

const std::vector<std::string_view> kCoinMetricsColumns = {
    "date", "BlkCnt", "DiffMean", "HashRate", "IssTotNtv", "IssTotUSD", "FeeTotNtv", "FeeTotUSD",
    "PriceUSD", "PriceBTC", "SplyCur", "CapMrktCurUSD"};
const std::vector<std::string_view> kOhlc = {"date", "open", "high", "low", "close", "real_volume_usd",
                                             "circulating_marketcap_usd"};
const std::vector<std::string_view> kTop100 = {"Date", "Open", "High", "Low", "Close", "Volume", "Currency"};
const std::vector<std::string_view> kGecko = {"date", "price", "market_cap", "total_volume"};
const std::vector<std::string_view> kRefRate = {"date", "CapMrktEstUSD", "ReferenceRateUSD"};
const std::vector<std::string_view> kCircle = {"date", "open", "high", "low", "close"};

std::vector<Spec> Specs() {
  std::vector<Spec> s;
  auto coinmetrics = [&](const char* stem, const char* coin, int hash_scale) {
    s.push_back({stem, coin, "date",
                 {{"blocks", "BlkCnt", 0, 1},
                  {"difficulty", "DiffMean", 0, 2},
                  {"network_hashrate", "HashRate", hash_scale, 2},
                  {"issuance_native", "IssTotNtv", 9, 1},
                  {"issuance", "IssTotUSD", 6, 1},
                  {"fees", "FeeTotUSD", 6, 1},
                  {"price", "PriceUSD", 9, 1}},
                 kCoinMetricsColumns});
  };
  coinmetrics("coinmetrics_btc_daily", "BTC", 12);
  coinmetrics("coinmetrics_eth_daily", "ETH", 12);
  coinmetrics("coinmetrics_etc_daily", "ETC", 12);
  coinmetrics("coinmetrics_xmr_daily", "XMR", 0);  // Coin Metrics gives XMR in H/s
  s.push_back({"coinmetrics2025_etc_daily", "ETC", "date",
               {{"blocks", "BlkCnt", 0, 2},
                {"network_hashrate", "HashRate", 12, 3},
                {"difficulty", "DiffMean_derived", 0, 3},
                {"issuance_native", "IssTotNtv", 9, 2},
                {"issuance", "IssTotUSD", 6, 2},
                {"price", "PriceUSD", 9, 2}},
               {"date", "BlkCnt", "HashRate", "DiffMean_derived", "IssTotNtv", "IssTotUSD", "PriceUSD"}});
  s.push_back({"etherscan_eth_daily", "ETH", "date",
               {{"difficulty", "difficulty_TH", 12, 1},
                {"network_hashrate", "hashrate_GHs", 9, 1},
                {"price", "price_usd", 9, 6},
                {"supply", "supply_eth", 9, 1}},
               {"date", "unix_ts", "difficulty_TH", "hashrate_GHs", "price_usd", "supply_eth", "marketcap_musd"}});
  s.push_back({"messari_eth_network_daily", "ETH", "date",
               {{"network_hashrate", "hash_rate", 12, 3},
                {"difficulty", "average_difficulty", 0, 3},
                {"miner_revenue", "miner_revenue", 6, 1}},
               {"date", "circulating_marketcap_usd", "realized_marketcap_usd", "adjusted_nvt", "hash_rate",
                "average_difficulty", "miner_revenue", "block_size_bytes"}});
  s.push_back({"messari_eth_ohlc_daily", "ETH", "date", {{"price", "close", 9, 3}}, kOhlc});
  s.push_back({"messari_btc_ohlc_daily", "BTC", "date", {{"price", "close", 9, 3}}, kOhlc});
  for (auto [stem, coin] : std::vector<std::pair<const char*, const char*>>{{"top100_btc_ohlcv_daily", "BTC"},
                                                                            {"top100_eth_ohlcv_daily", "ETH"},
                                                                            {"top100_etc_ohlcv_daily", "ETC"},
                                                                            {"top100_xmr_ohlcv_daily", "XMR"},
                                                                            {"top100_rvn_ohlcv_daily", "RVN"},
                                                                            {"top100_zec_ohlcv_daily", "ZEC"}}) {
    s.push_back({stem, coin, "Date", {{"price", "Close", 9, 4}}, kTop100});
  }
  s.push_back({"blockchaincom_btc_network", "BTC", "timestamp",
               {{"difficulty", "difficulty", 0, 3},
                {"network_hashrate", "hashrate_THs", 12, 3},
                {"miner_revenue", "miners_revenue_usd", 6, 2}},
               {"timestamp", "difficulty", "hashrate_THs", "miners_revenue_usd"}, 0, true});
  s.push_back({"coingecko_erg_daily", "ERG", "date", {{"price", "price", 9, 5}}, kGecko, -1});
  s.push_back({"coingecko_kas_daily", "KAS", "date", {{"price", "price", 9, 5}}, kGecko, -1});
  s.push_back({"coinmetrics_rvn_daily", "RVN", "date", {{"price", "ReferenceRateUSD", 9, 5}}, kRefRate, -1});
  s.push_back({"coinmetrics_flux_daily", "FLUX", "date", {{"price", "ReferenceRateUSD", 9, 5}}, kRefRate, -1});
  s.push_back({"circlegain_erg_ohlc_sparse", "ERG", "date", {{"price", "close", 9, 7}}, kCircle});
  s.push_back({"circlegain_etc_ohlc_sparse", "ETC", "date", {{"price", "close", 9, 7}}, kCircle});
  s.push_back({"circlegain_xmr_ohlc_sparse", "XMR", "date", {{"price", "close", 9, 7}}, kCircle});
  return s;
}

struct Candidate {
  int priority = 1 << 30;
  __int128 value = 0;
  std::string source;
};

using DayFields = std::map<std::string, Candidate>;

void Offer(DayFields& day, const std::string& field, int priority, __int128 value, std::string source) {
  Candidate& c = day[field];
  if (priority < c.priority) c = Candidate{priority, value, std::move(source)};
}

const char* MissingConsequence(const Spec& s) {
  std::string_view stem = s.stem;
  if (stem.starts_with("etherscan")) return "ETH difficulty and hashrate then come from Coin Metrics or Messari only";
  if (stem.starts_with("coinmetrics")) return "fewer days with block counts, issuance and prices";
  return "one fewer source to fill gaps";
}

}  // namespace

Result<std::vector<CoinDay>> ImportCoinDays(const fs::path& source_root, ImportReport& report) {
  fs::path crypto = source_root / "crypto";
  auto fact_files = FindSourceFiles(crypto, "chain_parameters_facts");
  if (fact_files.empty()) {
    report.Missing("crypto/chain_parameters_facts.csv",
                   "no block rewards or algorithms: no coin can be valued, coin_daily.csv is not written");
    return std::vector<CoinDay>{};
  }
  std::map<std::string, ChainRules> rules;
  for (const auto& f : fact_files) {
    RS_ASSIGN_OR_RETURN(auto list, ReadChainRules(f, source_root, report.File(fs::relative(f, source_root).string())));
    for (auto& cr : list) rules[cr.coin] = std::move(cr);
  }

  std::map<std::string, std::map<Date, DayFields>> acc;
  for (const Spec& spec : Specs()) {
    auto files = FindSourceFiles(crypto, spec.stem);
    if (files.empty()) {
      report.Missing(std::string("crypto/") + spec.stem + ".csv", MissingConsequence(spec));
      continue;
    }
    std::map<Date, std::string> seen;  // date -> file:line, across the files of this source
    for (const fs::path& file : files) {
      FileReport& fr = report.File(fs::relative(file, source_root).string());
      std::vector<std::string_view> required = {spec.date_column};
      for (const Use& u : spec.uses) required.push_back(u.column);
      RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(file, source_root, required, spec.known, fr));
      bool known_coin = rules.count(spec.coin) > 0;
      std::optional<Date> last_day;  // sparse values are not carried past the file's last date
      if (spec.sparse) {
        for (auto it = table.rows().rbegin(); it != table.rows().rend() && !last_day; ++it) {
          RowReader probe(table, *it);
          if (probe.Complete()) last_day = probe.DateField(spec.date_column);
        }
      }
      for (const CsvRow& row : table.rows()) {
        if (!known_coin) {
          fr.Skipped(row.line, std::string("no chain parameters for ") + spec.coin + " in chain_parameters_facts.csv");
          continue;
        }
        RowReader r(table, row);
        if (!r.Complete()) {
          fr.Rejected(row.line, r.error());
          continue;
        }
        std::vector<std::pair<const Use*, __int128>> values;
        std::vector<std::string> zeroed;
        std::string reject;
        for (const Use& u : spec.uses) {
          auto v = r.Scaled128(u.column, u.scale);
          if (r.bad()) break;
          if (!v) continue;
          if (*v < 0) {
            reject = std::string(u.column) + " is negative";
            break;
          }
          if (*v == 0) {
            zeroed.push_back(u.column);
            continue;
          }
          bool wide = std::string_view(u.field) == "difficulty" || std::string_view(u.field) == "network_hashrate";
          if (*v > (wide ? kMaxWide : static_cast<__int128>(std::numeric_limits<int64_t>::max()))) {
            reject = std::string(u.column) + " '" + std::string(r.Text(u.column)) + "' is out of range";
            break;
          }
          values.push_back({&u, *v});
        }
        auto date = r.DateField(spec.date_column);
        if (r.bad() && reject.empty()) reject = r.error();
        if (reject.empty() && !date) reject = std::string(spec.date_column) + " missing";
        if (!reject.empty()) {
          fr.Rejected(row.line, reject);
          continue;
        }
        if (auto [it, fresh] = seen.try_emplace(*date, SourceTag(file, row.line)); !fresh) {
          fr.Rejected(row.line, "duplicate of " + it->second + " (same date " + date->ToString() + ")");
          continue;
        }
        if (!zeroed.empty()) {
          std::string cols;
          for (const auto& z : zeroed) cols += (cols.empty() ? "" : ", ") + z;
          fr.Repaired(row.line, "0 read as missing in " + cols);
        }
        Date day = *date + spec.shift_days;
        std::string tag = SourceTag(file, row.line);
        if (spec.shift_days != 0) tag += " (00:00 UTC value, as close of the day before)";
        auto& coin_days = acc[spec.coin];
        // Priorities are scaled by 10 so that a value carried k days ranks after every direct
        // value of its source and after values carried fewer days.
        for (auto [use, value] : values) {
          Offer(coin_days[day], use->field, use->priority * 10, value, tag);
          bool network = std::string_view(use->field) == "difficulty" || std::string_view(use->field) == "network_hashrate";
          if (spec.sparse && network) {
            for (int k = 1; k <= 3 && last_day && day + k <= *last_day; ++k) {
              Offer(coin_days[day + k], use->field, use->priority * 10 + k, value,
                    tag + " (carried from " + day.ToString() + ")");
            }
          }
        }
        ++fr.accepted;
      }
    }
  }

  // Assemble the days.
  std::vector<CoinDay> out;
  for (auto& [coin, days] : acc) {
    const ChainRules& cr = rules.at(coin);
    for (auto& [date, f] : days) {
      auto has = [&](const char* field) { return f.count(field) > 0; };
      if (!has("price") && !has("difficulty") && !has("network_hashrate") && !has("blocks")) continue;  // carry-only day
      CoinDay d;
      d.date = date;
      d.coin = coin;
      d.algorithm = cr.AlgorithmOn(date);
      d.gpu_minable = !cr.asic_only && !(cr.pow_end && date > *cr.pow_end);
      if (has("price")) {
        d.price = CoinPrice(static_cast<int64_t>(f["price"].value));
        d.sources["price"] = f["price"].source;
      }
      if (has("network_hashrate")) {
        d.network_hashrate = HashRate(f["network_hashrate"].value);
        d.sources["network_hashrate"] = f["network_hashrate"].source;
      }
      if (has("difficulty")) {
        // Bitcoin difficulty 1 is 2^32 hashes; Ethash-family and RandomX difficulty is in hashes.
        __int128 factor = coin == "BTC" ? (static_cast<__int128>(1) << 32) : 1;
        d.hashes_per_block = HashRate(f["difficulty"].value * factor);
        d.sources["hashes_per_block"] = f["difficulty"].source + (coin == "BTC" ? " (difficulty x 2^32)" : "");
      }
      if (has("blocks")) {
        __int128 blocks = f["blocks"].value;
        d.block_time_ms = static_cast<int64_t>((86'400'000 + blocks / 2) / blocks);
        d.sources["block_time"] = "86400 s / BlkCnt " + FormatInt128(blocks) + " (" + f["blocks"].source + ")";
      } else if (d.hashes_per_block && d.network_hashrate && d.network_hashrate->hps() > 0) {
        __int128 ms = (d.hashes_per_block->hps() * 1000 + d.network_hashrate->hps() / 2) / d.network_hashrate->hps();
        d.block_time_ms = static_cast<int64_t>(ms);
        d.sources["block_time"] = "hashes per block / network hashrate";
      } else if (cr.block_time_target_ms) {
        d.block_time_ms = cr.block_time_target_ms;
        d.sources["block_time"] = "target " + cr.block_time_source;
      }
      if (!d.hashes_per_block && d.network_hashrate && d.block_time_ms) {
        d.hashes_per_block = HashRate((d.network_hashrate->hps() * *d.block_time_ms + 500) / 1000);
        d.sources["hashes_per_block"] = "network hashrate x block time";
      }
      if (d.gpu_minable || cr.asic_only) {
        if (auto reward = cr.RewardOn(date)) {
          d.block_reward = reward->first;
          d.sources["block_reward"] = reward->second;
          // A change dated only to the month (ECIP-1017 eras) happened some day in that month.
          // Until the chain's own issuance per block shows it, keep the earlier reward.
          auto [step, previous] = cr.StepsOn(date);
          if (step && previous && step->approx && date - step->from < 62 && has("issuance_native") && has("blocks") &&
              reward->second == step->source) {
            __int128 measured = f["issuance_native"].value / f["blocks"].value;
            __int128 to_new = measured - step->reward.raw(), to_old = measured - previous->reward.raw();
            if ((to_old < 0 ? -to_old : to_old) < (to_new < 0 ? -to_new : to_new)) {
              d.block_reward = previous->reward;
              d.sources["block_reward"] = previous->source + " (issuance per block " + FormatScaled(static_cast<int64_t>(measured), 9) +
                                          " shows the change of " + step->source + " had not happened yet)";
            }
          }
        } else if (has("issuance_native") && has("blocks")) {
          __int128 per_block = (f["issuance_native"].value + f["blocks"].value / 2) / f["blocks"].value;
          d.block_reward = CoinAmount(static_cast<int64_t>(per_block));
          d.sources["block_reward"] = "IssTotNtv / BlkCnt (" + f["issuance_native"].source + "; no schedule in the chain facts)";
        }
      }
      if (has("issuance")) {
        d.issuance_usd = Money(static_cast<int64_t>(f["issuance"].value));
        d.sources["issuance"] = f["issuance"].source;
      } else if (has("supply") && d.price) {
        auto prev = days.find(date - 1);
        if (prev != days.end() && prev->second.count("supply")) {
          __int128 delta = f["supply"].value - prev->second["supply"].value;
          if (delta > 0) {
            auto usd = MulDiv128(delta, d.price->raw(), 1'000'000'000'000LL);
            if (usd) {
              d.issuance_usd = Money(*usd);
              d.sources["issuance"] = "supply delta x price (" + f["supply"].source + ")";
            }
          }
        }
      }
      if (has("miner_revenue")) {
        d.miner_revenue_usd = Money(static_cast<int64_t>(f["miner_revenue"].value));
        d.sources["miner_revenue"] = f["miner_revenue"].source;
      } else if (has("issuance") && has("fees") && f["issuance"].source.substr(0, f["issuance"].source.find(':')) ==
                                                          f["fees"].source.substr(0, f["fees"].source.find(':'))) {
        d.miner_revenue_usd = Money(static_cast<int64_t>(f["issuance"].value + f["fees"].value));
        d.sources["miner_revenue"] = "IssTotUSD + FeeTotUSD (" + f["fees"].source + ")";
      }
      out.push_back(std::move(d));
    }
  }
  for (const auto& [coin, cr] : rules) {
    if (!acc.count(coin)) report.Missing(coin + " series", "no price or network file for " + coin + "; it is not valued");
  }
  return out;
}

Status ImportCoins(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  RS_ASSIGN_OR_RETURN(std::vector<CoinDay> days, ImportCoinDays(source_root, report));
  if (days.empty()) return OkStatus();  // the report says why
  std::vector<std::vector<std::string>> rows;
  rows.reserve(days.size());
  for (const auto& d : days) rows.push_back(CoinDayRow(d));
  return WriteOutput(out_dir, "coin_daily.csv", CoinDailyColumns(), rows, report);
}

}  // namespace rigshift
