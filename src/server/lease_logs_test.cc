// LeaseLogs, one suite run against both kinds: in memory (no directory) and on disk (a file per
// lease). An agent ships a workload's log in chunks at the offsets it has reached; a chunk sent
// again is answered as if new (the bytes already held are skipped); a chunk beyond the end
// leaves a gap and is refused, naming where to send from; a tenant reads from any offset; past
// kMaxBytes the bytes are counted and dropped, and the reader is told.
#include "server/lease_logs.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/testing/temp_dir.h"

namespace rigshift {
namespace {

enum class Kind { kMemory, kDisk };

class LeaseLogsTest : public ::testing::TestWithParam<Kind> {
 protected:
  LeaseLogsTest() : logs_(Make()) {}

  std::unique_ptr<LeaseLogs> Make() const {
    return std::make_unique<LeaseLogs>(GetParam() == Kind::kDisk ? dir_.path() / "logs"
                                                                 : std::filesystem::path());
  }

  int64_t Append(int64_t lease, int64_t offset, std::string_view bytes) {
    auto r = logs_->Append(lease, offset, bytes);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.has_value() ? *r : -1;
  }

  LeaseLogs::Chunk Read(int64_t lease, int64_t offset, int64_t max_bytes) {
    auto r = logs_->Read(lease, offset, max_bytes);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.has_value() ? *r : LeaseLogs::Chunk{};
  }

  testing::TempDir dir_;
  std::unique_ptr<LeaseLogs> logs_;
};

TEST_P(LeaseLogsTest, ChunksAppendInOrderAndReadBackWhole) {
  EXPECT_EQ(Append(7, 0, "hello "), 6);
  EXPECT_EQ(Append(7, 6, "world\n"), 12);
  LeaseLogs::Chunk c = Read(7, 0, 1000);
  EXPECT_EQ(c.data, "hello world\n");
  EXPECT_EQ(c.next, 12);
  EXPECT_EQ(c.size, 12);
  EXPECT_FALSE(c.truncated);
  // An empty chunk at the end changes nothing.
  EXPECT_EQ(Append(7, 12, ""), 12);
  // Bytes are bytes: NULs and invalid UTF-8 come back as sent.
  const std::string binary("a\0b\xff", 4);
  EXPECT_EQ(Append(7, 12, binary), 16);
  EXPECT_EQ(Read(7, 12, 100).data, binary);
}

TEST_P(LeaseLogsTest, AChunkSentAgainIsNotWrittenTwice) {
  ASSERT_EQ(Append(1, 0, "0123456789"), 10);
  // The same chunk again (the agent lost the answer): nothing new.
  EXPECT_EQ(Append(1, 0, "0123456789"), 10);
  // A part of it, wholly held.
  EXPECT_EQ(Append(1, 3, "345"), 10);
  // Overlapping the end: only what is new is kept.
  EXPECT_EQ(Append(1, 8, "89abc"), 13);
  EXPECT_EQ(Read(1, 0, 100).data, "0123456789abc");
}

TEST_P(LeaseLogsTest, AChunkBeyondTheEndIsRefusedNamingWhereToSendFrom) {
  ASSERT_EQ(Append(3, 0, "abcd"), 4);
  auto gap = logs_->Append(3, 9, "xyz");
  ASSERT_FALSE(gap.has_value());
  EXPECT_EQ(gap.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(gap.error().message().find("holds 4 bytes"), std::string::npos) << gap.error().message();
  EXPECT_NE(gap.error().message().find("send from offset 4"), std::string::npos) << gap.error().message();
  // A log not started yet: only offset 0.
  auto first = logs_->Append(4, 1, "x");
  ASSERT_FALSE(first.has_value());
  EXPECT_NE(first.error().message().find("send from offset 0"), std::string::npos) << first.error().message();
  auto negative = logs_->Append(3, -1, "x");
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().code(), StatusCode::kFailedPrecondition);
  // Nothing was written by the refused chunks.
  EXPECT_EQ(Read(3, 0, 100).data, "abcd");
  EXPECT_EQ(Read(4, 0, 100).size, 0);
}

TEST_P(LeaseLogsTest, ReadsFromAnyOffsetUpToMaxBytes) {
  ASSERT_EQ(Append(5, 0, "hello world\n"), 12);
  LeaseLogs::Chunk mid = Read(5, 6, 5);
  EXPECT_EQ(mid.data, "world");
  EXPECT_EQ(mid.next, 11);
  EXPECT_EQ(mid.size, 12);
  LeaseLogs::Chunk tail = Read(5, mid.next, 5);
  EXPECT_EQ(tail.data, "\n");
  EXPECT_EQ(tail.next, 12);
  // At the end and past it: nothing, and the next offset is where the reader asked from.
  LeaseLogs::Chunk end = Read(5, 12, 5);
  EXPECT_EQ(end.data, "");
  EXPECT_EQ(end.next, 12);
  LeaseLogs::Chunk past = Read(5, 100, 5);
  EXPECT_EQ(past.data, "");
  EXPECT_EQ(past.next, 100);
  EXPECT_EQ(past.size, 12);
  // max_bytes 0 reads nothing; a negative offset reads from the start.
  LeaseLogs::Chunk none = Read(5, 3, 0);
  EXPECT_EQ(none.data, "");
  EXPECT_EQ(none.next, 3);
  EXPECT_EQ(Read(5, -4, 5).data, "hello");
  // A lease with no log yet, and leases are kept apart.
  LeaseLogs::Chunk other = Read(6, 0, 100);
  EXPECT_EQ(other.data, "");
  EXPECT_EQ(other.next, 0);
  EXPECT_EQ(other.size, 0);
  EXPECT_FALSE(other.truncated);
  ASSERT_EQ(Append(6, 0, "six"), 3);
  EXPECT_EQ(Read(6, 0, 100).data, "six");
  EXPECT_EQ(Read(5, 0, 100).data, "hello world\n");
}

TEST_P(LeaseLogsTest, BeyondMaxBytesBytesAreCountedDroppedAndSkipped) {
  const int64_t kMax = LeaseLogs::kMaxBytes;
  ASSERT_EQ(kMax, 16 * 1024 * 1024);
  const std::string head(static_cast<size_t>(kMax - 4), 'a');
  ASSERT_EQ(Append(9, 0, head), kMax - 4);
  EXPECT_FALSE(Read(9, 0, 1).truncated);
  // 10 bytes: 4 fit, 6 are dropped but counted.
  EXPECT_EQ(Append(9, kMax - 4, "bcdefghijk"), kMax + 6);
  LeaseLogs::Chunk last = Read(9, kMax - 6, 100);
  EXPECT_EQ(last.data, "aabcde");
  EXPECT_EQ(last.next, kMax);
  EXPECT_EQ(last.size, kMax + 6);
  EXPECT_TRUE(last.truncated);
  // From where the log was cut, or inside the dropped part: nothing, and the next offset skips
  // what was dropped (a follower does not spin on it).
  LeaseLogs::Chunk cut = Read(9, kMax, 100);
  EXPECT_EQ(cut.data, "");
  EXPECT_EQ(cut.next, kMax + 6);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(Read(9, kMax + 3, 100).next, kMax + 6);
  // The agent goes on from the size it was told; a chunk sent again is not counted twice.
  EXPECT_EQ(Append(9, kMax + 6, "xyz"), kMax + 9);
  EXPECT_EQ(Append(9, kMax + 6, "xyz"), kMax + 9);
  EXPECT_EQ(Append(9, kMax + 8, "zw"), kMax + 10);
  auto gap = logs_->Append(9, kMax + 11, "!");
  ASSERT_FALSE(gap.has_value());
  EXPECT_NE(gap.error().message().find("send from offset " + std::to_string(kMax + 10)), std::string::npos)
      << gap.error().message();
  // The first kMaxBytes are all there.
  LeaseLogs::Chunk start = Read(9, 0, 8);
  EXPECT_EQ(start.data, "aaaaaaaa");
  EXPECT_TRUE(start.truncated);
  // Other leases are not truncated.
  ASSERT_EQ(Append(10, 0, "ok"), 2);
  EXPECT_FALSE(Read(10, 0, 10).truncated);
}

TEST_P(LeaseLogsTest, OneChunkLargerThanMaxBytesKeepsItsFirstMaxBytes) {
  const int64_t kMax = LeaseLogs::kMaxBytes;
  std::string big(static_cast<size_t>(kMax + 100), 'q');
  big[static_cast<size_t>(kMax - 1)] = 'L';  // the last byte kept
  EXPECT_EQ(Append(11, 0, big), kMax + 100);
  LeaseLogs::Chunk c = Read(11, kMax - 2, 10);
  EXPECT_EQ(c.data, "qL");
  EXPECT_EQ(c.next, kMax);
  EXPECT_TRUE(c.truncated);
}

INSTANTIATE_TEST_SUITE_P(EveryKind, LeaseLogsTest, ::testing::Values(Kind::kMemory, Kind::kDisk),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kMemory ? std::string("Memory") : std::string("Disk");
                         });

// On disk, a log is one file per lease under the directory, and outlives the process.
TEST(LeaseLogsOnDisk, ALogOutlivesItsLeaseLogsAndIsOneFilePerLease) {
  testing::TempDir dir;
  const std::filesystem::path logs_dir = dir.path() / "data" / "logs";  // created when missing
  {
    LeaseLogs logs(logs_dir);
    ASSERT_TRUE(logs.Append(42, 0, "line 1\n").has_value());
    ASSERT_TRUE(logs.Append(42, 7, "line 2\n").has_value());
  }
  EXPECT_EQ(testing::ReadText(logs_dir / "lease-42.log"), "line 1\nline 2\n");
  LeaseLogs again(logs_dir);
  auto c = again.Read(42, 0, 100);
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->data, "line 1\nline 2\n");
  EXPECT_EQ(c->size, 14);
  // The agent resends its last chunk after the restart: not written twice.
  auto n = again.Append(42, 7, "line 2\nline 3\n");
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(*n, 21);
  EXPECT_EQ(testing::ReadText(logs_dir / "lease-42.log"), "line 1\nline 2\nline 3\n");
}

}  // namespace
}  // namespace rigshift
