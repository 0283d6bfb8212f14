// The logs of tenants' workloads, as the nodes' agents ship them: one append-only byte stream per
// lease, which the agent sends in chunks at the offsets it has reached and the tenant reads from
// any offset (GET /v1/leases/{id}/logs). An agent that sends a chunk again after a lost answer
// (or after it restarted) is answered as if it were new: bytes the log already holds are skipped.
//
// Kept in one file per lease under a directory (the server's data dir, "logs/"), or in memory
// when no directory is given (tests, a farm with --in-memory store). A log keeps its first
// kMaxBytes; later bytes are counted but dropped, and the reader is told so.
//
// Thread-safe (its own lock; it never takes the farm's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rigshift {

class LeaseLogs {
 public:
  static constexpr int64_t kMaxBytes = 16 << 20;

  // `dir` is created when missing; empty: in memory.
  explicit LeaseLogs(std::filesystem::path dir = {});

  // Appends `bytes`, which start at `offset` of the lease's stream. FailedPrecondition, naming
  // the size, when `offset` is beyond what the log holds (a chunk was lost in between: send from
  // there). Returns the stream's size after it.
  [[nodiscard]] Result<int64_t> Append(int64_t lease, int64_t offset, std::string_view bytes);

  struct Chunk {
    std::string data;
    int64_t next = 0;       // the offset after `data`
    int64_t size = 0;       // the stream's size so far (what was dropped included)
    bool truncated = false;  // bytes beyond kMaxBytes were dropped
  };
  // Up to `max_bytes` from `offset` (past the end: nothing, next = offset).
  [[nodiscard]] Result<Chunk> Read(int64_t lease, int64_t offset, int64_t max_bytes) const;

 private:
  std::filesystem::path PathOf(int64_t lease) const;
  int64_t SizeLocked(int64_t lease) const;

  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::map<int64_t, std::string> memory_;  // when dir_ is empty
  std::map<int64_t, int64_t> dropped_;     // bytes beyond kMaxBytes, per lease (in this process)
};

}  // namespace rigshift
