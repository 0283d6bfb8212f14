// The Slurm command parsers, on output recorded from Slurm 22.05 (tests/slurm_cluster.sh's cluster).
#include "server/slurm_client.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

TEST(SlurmParse, SinfoNodesTheirStateAndTypedGpus) {
  SlurmOptions o;
  auto nodes = ParseSinfo(
      "sl-1|idle|gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1\n"
      "sl-2|mixed|gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1\n"
      "sl-2|mixed|gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1\n"  // a node listed twice (two partitions)
      "sl-3|down*|gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1\n"
      "sl-4|drained|gpu:g0:1,gpu:g1:1,gpu:g2:1,gpu:g3:1\n"
      "sl-5|idle*|gpu:g0:1\n"
      "sl-6|allocated|(null)\n",
      o);
  ASSERT_TRUE(nodes.has_value()) << nodes.error().ToString();
  ASSERT_EQ(nodes->size(), 6u);
  EXPECT_EQ((*nodes)[0].gpus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE((*nodes)[0].up());
  EXPECT_TRUE((*nodes)[1].up());
  EXPECT_FALSE((*nodes)[2].up());  // down, not responding
  EXPECT_FALSE((*nodes)[3].up());  // drained
  EXPECT_FALSE((*nodes)[4].up());  // idle but not responding
  EXPECT_TRUE((*nodes)[5].up());
  EXPECT_TRUE((*nodes)[5].gpus.empty());
}

TEST(SlurmParse, SqueueJobsTheirGpusAndTimesInUtc) {
  SlurmOptions o;
  auto jobs = ParseSqueue(
      "5|rigshift-lease-1|RUNNING|sl-1|gres:gpu:g0:1,gres:gpu:g1:1,gres:gpu:g2:1|2026-12-05T00:29:26|NONE|sl-1\n"
      "8|rigshift-mine-0.1.2.3.4.5.6.7-ETH|PREEMPTED|sl-1|gres:gpu:g0:1,gres:gpu:g7:1|2026-12-05T00:30:10|"
      "2026-12-05T00:30:31|sl-1\n"
      "9|rigshift-lease-2|PENDING||gres:gpu:g5:1|2026-12-05T00:31:00|NONE|sl-3\n"
      "12_3|array|RUNNING|sl-2|gres:gpu:1|2026-12-05T00:29:26|NONE|\n",
      o);
  ASSERT_TRUE(jobs.has_value()) << jobs.error().ToString();
  ASSERT_EQ(jobs->size(), 3u);  // the array task is not ours
  const SlurmJob& lease = (*jobs)[0];
  EXPECT_EQ(lease.id, 5);
  EXPECT_EQ(lease.gpus, (std::vector<int>{0, 1, 2}));
  ASSERT_TRUE(lease.start.has_value());
  EXPECT_EQ(lease.start->seconds, 1796430566);  // 2026-12-05T00:29:26Z
  EXPECT_FALSE(lease.end.has_value());
  EXPECT_TRUE(lease.active());
  const SlurmJob& mine = (*jobs)[1];
  EXPECT_FALSE(mine.active());
  ASSERT_TRUE(mine.end.has_value());
  EXPECT_EQ(mine.end->seconds - mine.start->seconds, 21);
  const SlurmJob& pending = (*jobs)[2];
  EXPECT_EQ(pending.node, "sl-3");  // the node it asked for
  EXPECT_FALSE(pending.start.has_value());  // a pending job's start is Slurm's estimate
}

TEST(SlurmParse, MalformedLinesAreErrorsNamingTheLine) {
  SlurmOptions o;
  auto bad = ParseSqueue("5|x|RUNNING\n", o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("squeue line 1"), std::string::npos) << bad.error().message();
  EXPECT_FALSE(ParseSinfo("just-a-name\n", o).has_value());
}

TEST(SlurmParse, PinnedGresNamesEachGpuByItsType) {
  SlurmOptions o;
  EXPECT_EQ(PinnedGres({1, 3}, o), "gpu:g1:1,gpu:g3:1");
  EXPECT_EQ(ParseGpuGres(PinnedGres({1, 3}, o), o), (std::vector<int>{1, 3}));
  EXPECT_EQ(ParseGpuGres("gres:gpu:g1:1,gres:tmpdisk:10,gres:gpu:1", o), (std::vector<int>{1}));
}

}  // namespace
}  // namespace rigshift
