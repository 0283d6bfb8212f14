// Benchmarks for the simulator's hot paths that need no data: the waiting queue and a burst of
// copies of one ask decided in one plan.
//   build/release/bench/sim_bench [--benchmark_filter=...]
// The whole replay is `rigshift bench sim` (docs/engine.md, Speed): it needs the imported data.
#include <benchmark/benchmark.h>

#include "common/rng.h"
#include "controller/pending_queue.h"
#include "engine/decide.h"
#include "engine/testing/fleet_builder.h"

namespace rigshift {
namespace {

// A steady queue: every second `range(0)` requests join (most of them price-blocked, so tried),
// the ones older than an hour give up, and every 300 s the queue is offered to all; otherwise only
// what was not tried. Items are requests.
void BM_QueueChurn(benchmark::State& state) {
  FleetState fleet = testing::ParseFleet("g: 4x'RTX 3090' nodes=1000; a: 8xA100 nvlink=8 nodes=50");
  std::vector<RentalPrice> list(fleet.groups().size(), testing::UsdPerGpuHour("0.30"));
  const int64_t per_second = state.range(0);
  PendingQueue q;
  int64_t id = 0, now = 0;
  Request r;
  r.tenant = "trace";
  for (auto _ : state) {
    ++now;
    for (int64_t i = 0; i < per_second; ++i) {
      r.id = RequestId(++id);
      r.gpus = i % 7 == 0 ? 8 : 1;
      r.arrival = Timestamp{now};
      benchmark::DoNotOptimize(q.Add(r, /*tried=*/i % 4 != 0));
    }
    benchmark::DoNotOptimize(q.Expire(Timestamp{now}));
    auto offered = q.Candidates(fleet, list, 64, nullptr,
                                now % 300 == 0 ? PendingQueue::Offer::kAll : PendingQueue::Offer::kUntried);
    benchmark::DoNotOptimize(offered);
  }
  state.SetItemsProcessed(state.iterations() * per_second);
  state.counters["waiting"] = static_cast<double>(q.size());
}
BENCHMARK(BM_QueueChurn)->Arg(1)->Arg(20);

// One plan for `range(0)` copies of a 1-GPU ask on a 5,100-GPU group of 4-GPU nodes, a third of it
// leased: best-fit placement of a burst. Items are requests.
void BM_DecideBurst(benchmark::State& state) {
  FleetState fleet = testing::ParseFleet("g: 4x'RTX 3090' nodes=1275 mining=ETH");
  for (int node = 0; node < 1275; node += 3) {
    if (!fleet.AddLease(testing::Lease(node + 1, 0, testing::Slots(node, 0, node % 4))).ok())
      state.SkipWithError("lease");
  }
  MarketView view = testing::Market(fleet, "ETH:Ethash:2000:7.2e15:2", "30", "1.00");
  std::vector<Request> pending;
  for (int64_t i = 0; i < state.range(0); ++i) {
    Request r;
    r.id = RequestId(i + 1);
    r.tenant = "trace";
    r.arrival = Timestamp{1000};
    pending.push_back(r);
  }
  EngineParams params;
  SplitMix64 rng(1);
  for (auto _ : state) {
    DecideInput in{&fleet, &pending, &view, Timestamp{1000}, LeaseId(10'000), /*placement_only=*/true};
    Plan plan = Decide(in, rng, params);
    benchmark::DoNotOptimize(plan);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecideBurst)->Arg(1)->Arg(136);

}  // namespace
}  // namespace rigshift

BENCHMARK_MAIN();
