#include "server/lease_logs.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace rigshift {

LeaseLogs::LeaseLogs(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
  }
}

std::filesystem::path LeaseLogs::PathOf(int64_t lease) const {
  return dir_ / ("lease-" + std::to_string(lease) + ".log");
}

int64_t LeaseLogs::SizeLocked(int64_t lease) const {
  int64_t held = 0;
  if (dir_.empty()) {
    auto it = memory_.find(lease);
    held = it == memory_.end() ? 0 : static_cast<int64_t>(it->second.size());
  } else {
    std::error_code ec;
    auto n = std::filesystem::file_size(PathOf(lease), ec);
    held = ec ? 0 : static_cast<int64_t>(n);
  }
  auto d = dropped_.find(lease);
  return held + (d == dropped_.end() ? 0 : d->second);
}

Result<int64_t> LeaseLogs::Append(int64_t lease, int64_t offset, std::string_view bytes) {
  std::lock_guard lock(mu_);
  const int64_t size = SizeLocked(lease);
  if (offset < 0 || offset > size) {
    return Err(FailedPreconditionError("the log of lease " + std::to_string(lease) + " holds " + std::to_string(size) +
                                       " bytes; a chunk at offset " + std::to_string(offset) +
                                       " leaves a gap: send from offset " + std::to_string(size)));
  }
  // Skip what the log already holds (a chunk sent again), keep up to kMaxBytes, count the rest.
  bytes.remove_prefix(static_cast<size_t>(std::min<int64_t>(size - offset, static_cast<int64_t>(bytes.size()))));
  const int64_t room = std::max<int64_t>(0, kMaxBytes - size);
  std::string_view kept = bytes.substr(0, static_cast<size_t>(std::min<int64_t>(room, bytes.size())));
  if (!kept.empty()) {
    if (dir_.empty()) {
      memory_[lease].append(kept);
    } else {
      std::ofstream out(PathOf(lease), std::ios::binary | std::ios::app);
      out.write(kept.data(), static_cast<std::streamsize>(kept.size()));
      out.flush();
      if (!out) {
        return Err(UnavailableError("cannot write the log of lease " + std::to_string(lease) + " to " +
                                    PathOf(lease).string() + ": " + std::strerror(errno)));
      }
    }
  }
  if (bytes.size() > kept.size()) dropped_[lease] += static_cast<int64_t>(bytes.size() - kept.size());
  return SizeLocked(lease);
}

Result<LeaseLogs::Chunk> LeaseLogs::Read(int64_t lease, int64_t offset, int64_t max_bytes) const {
  std::lock_guard lock(mu_);
  Chunk c;
  c.size = SizeLocked(lease);
  auto d = dropped_.find(lease);
  c.truncated = d != dropped_.end() && d->second > 0;
  const int64_t held = c.size - (d == dropped_.end() ? 0 : d->second);
  offset = std::max<int64_t>(0, offset);
  c.next = offset;
  if (offset >= held) {
    c.next = offset < c.size ? c.size : offset;  // in the dropped part: skip it
    return c;
  }
  if (max_bytes <= 0) return c;
  const int64_t n = std::min(max_bytes, held - offset);
  if (dir_.empty()) {
    c.data = memory_.at(lease).substr(static_cast<size_t>(offset), static_cast<size_t>(n));
  } else {
    std::ifstream in(PathOf(lease), std::ios::binary);
    in.seekg(offset);
    c.data.resize(static_cast<size_t>(n));
    in.read(c.data.data(), n);
    c.data.resize(static_cast<size_t>(in.gcount()));
  }
  c.next = offset + static_cast<int64_t>(c.data.size());
  return c;
}

}  // namespace rigshift
