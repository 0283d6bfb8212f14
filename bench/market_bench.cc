// Benchmarks for the hot paths of import and `rigshift market`.
//   build/release/bench/market_bench [--benchmark_filter=...]
// Inputs are generated in memory with a fixed seed, so runs are comparable on one machine.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "common/csv.h"
#include "common/units.h"
#include "market/earnings.h"

namespace rigshift {
namespace {

std::string GeneratedCsv(int rows) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> price(-30, 500);
  std::string text = "settlement_point,delivery_date,hour_ending,dam_lmp,rtm_lmp\n";
  for (int i = 0; i < rows; ++i) {
    text += "HB_HUBAVG,2024-01-" + std::to_string(1 + i % 28) + "," + std::to_string(1 + i % 24) + "," +
            std::to_string(price(rng)) + "," + std::to_string(price(rng)) + "\n";
  }
  return text;
}

void BM_CsvParse(benchmark::State& state) {
  std::string text = GeneratedCsv(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto t = CsvTable::Parse(text, "bench.csv");
    benchmark::DoNotOptimize(t);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CsvParse)->Arg(100'000);

void BM_ParseScaled(benchmark::State& state) {
  const char* texts[] = {"3675.79", "-32.00", "0.0002002219022238966", "15466098935554.684"};
  size_t i = 0;
  for (auto _ : state) {
    auto v = ParseScaled(texts[i++ & 3], 9);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ParseScaled);

// A year of seven coins and three models: the work behind one `rigshift market` call.
void BM_EarningsYear(benchmark::State& state) {
  std::vector<CoinDay> days;
  const char* coins[] = {"ETH", "ETC", "RVN", "ERG", "XMR", "BTC", "KAS"};
  const char* algos[] = {"Ethash", "Etchash", "KawPow", "Autolykos2", "RandomX", "SHA-256", "kHeavyHash"};
  Date start = Date::FromYmd(2021, 1, 1);
  for (int d = 0; d < 365; ++d) {
    for (int c = 0; c < 7; ++c) {
      CoinDay day;
      day.date = start + d;
      day.coin = coins[c];
      day.algorithm = algos[c];
      day.price = CoinPrice((100 + d + c) * kNanosPerUnit);
      day.hashes_per_block = HashRate(static_cast<__int128>(1'000'000'000'000'000) * (c + 1));
      day.block_reward = CoinAmount(2 * kNanosPerUnit);
      days.push_back(day);
    }
  }
  CoinHistory history = CoinHistory::FromDays(days);
  Catalog catalog;
  for (const char* name : {"RTX 3090", "RTX 3060 Ti", "RX 6800"}) {
    DeviceModel m;
    m.key = ModelKey(name);
    m.name = DisplayName(m.key);
    for (int c = 0; c < 5; ++c) m.rates.push_back({algos[c], HashRate::MegaHps(60 + c), Watts(200), 1, ""});
    catalog.Put(m);
  }
  EarningsInputs in{&history, &catalog, nullptr, [](Date) -> Result<EnergyPrice> { return EnergyPrice(60'000'000); }};
  EarningsQuery q;
  q.from = start;
  q.to = start + 364;
  q.models = {"RTX 3090", "RTX 3060 Ti", "RX 6800"};
  for (auto _ : state) {
    auto rows = ComputeEarnings(in, q);
    benchmark::DoNotOptimize(rows);
  }
  state.SetItemsProcessed(state.iterations() * 365 * 3);
}
BENCHMARK(BM_EarningsYear)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rigshift

BENCHMARK_MAIN();
