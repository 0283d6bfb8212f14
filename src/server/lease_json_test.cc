#include "server/lease_json.h"

#include <gtest/gtest.h>

#include "server/testing/test_farm.h"
#include "store/memory_store.h"

namespace rigshift {
namespace {

namespace tf = ::rigshift::testing;

// The writer must give the tree's bytes for every shape a lease takes.
TEST(LeaseJson, TheWriterGivesTheTreesBytes) {
  MemoryStore store;
  FarmSetup setup = tf::TestFarm();
  tf::FakeFeed feed(tf::TestFarmView(setup));
  FarmOptions options;
  options.require_agents = false;
  Farm farm(std::move(setup), &store, &feed, options);
  ASSERT_TRUE(farm.Recover(tf::kFarmT0).ok());

  std::vector<LeaseRecord> cases;
  LeaseRecord pending;
  pending.id = LeaseId(1);
  pending.tenant = "acme";
  pending.state = "pending";
  pending.gpus = 4;
  pending.models = {"RTX 3090", "A100"};
  pending.min_vram_gb = 24;
  pending.interconnect = Interconnect::kNode;
  pending.created = tf::kFarmT0;
  pending.price = RentalPrice(300'000);
  pending.reason = "gpu-3090: no 4 free GPUs in one node \"now\"\n\ttab \\ and \x01";
  cases.push_back(pending);
  LeaseRecord running = pending;
  running.id = LeaseId(123456789);
  running.state = "running";
  running.kind = RequestKind::kInterruptible;
  running.devices = {{1, 0}, {1, 3}, {3, 7}};
  running.start = Timestamp{tf::kFarmT0.seconds + 61};
  running.duration_s = 5400;  // 1.5 h
  running.billed = Money(1'234'567);
  running.billed_seconds = 3599;
  running.price = RentalPrice(1'200'000);
  running.reason.clear();
  cases.push_back(running);
  LeaseRecord ended = running;
  ended.state = "ended";
  ended.end = Timestamp{tf::kFarmT0.seconds + 7200};
  ended.duration_s = 3600;  // 1.0 h
  ended.billed = Money(10);  // 1e-05 USD
  ended.models.clear();
  cases.push_back(ended);
  LeaseRecord with_workload = running;
  // As the farm writes it: the dump of the object it built (Farm::CreateLease, ApplyWorkloads).
  nlohmann::json w = {{"image", "localhost/train:1"}, {"command", {"python", "-c", "print(\"\u00e9\")"}},
                      {"env", {{"EPOCHS", "3"}}}, {"state", "exited"}, {"exit_code", 3},
                      {"message", ""}, {"started_at", nullptr}, {"ended_at", nullptr}};
  with_workload.workload = w.dump();
  cases.push_back(with_workload);
  LeaseRecord cancelled = pending;
  cancelled.state = "cancelled";
  cancelled.end = tf::kFarmT0;
  cancelled.duration_s = 1;
  cancelled.tenant = "t\xc3\xa9nant";  // UTF-8 kept as is
  cases.push_back(cancelled);
  for (const LeaseRecord& l : cases) {
    std::string written;
    written.push_back(' ');  // appends: what was there stays
    AppendLeaseJson(&written, l, farm);
    EXPECT_EQ(written, " " + LeaseJsonTree(l, farm).dump()) << "lease " << l.id.value();
  }
}

}  // namespace
}  // namespace rigshift
