// Files written whole or not at all, and files locked by one process at a time.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/status.h"

namespace rigshift {

// Writes `text` to `file` with permission bits `mode`: into FILE.tmp first (created with `mode`,
// so a secret is never readable by others, not even briefly), synced, then renamed over `file`.
// A crash leaves either the old file or the new one; a failure leaves the old file (if any) and
// removes FILE.tmp, so a full disk never leaves an empty or half-written temporary behind.
// Errors carry the OS's words: InsufficientStorage when the disk or quota is full (ENOSPC,
// EDQUOT), Unavailable otherwise.
[[nodiscard]] Status WriteFileAtomically(const std::filesystem::path& file, std::string_view text,
                                         unsigned mode = 0644);

// An exclusive lock on a file (flock(2)), held from LockExclusive() until the FileLock is
// destroyed or the process ends in any way (kill -9 included: the kernel drops the lock with the
// last descriptor), so a lock file left behind never blocks the next holder. Advisory: it keeps
// out only those who take the same lock. Another LockExclusive() on the same file conflicts even
// in the same process. The descriptor is close-on-exec: child processes do not inherit the lock.
// Move-only; not thread-safe.
class FileLock {
 public:
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();  // releases the lock; the file stays

  // Replaces the file's text, to tell whoever finds the lock taken who holds it (a PID, a URL).
  // Written in place, not synced: the text only describes a live holder. InsufficientStorage
  // when the disk is full (the lock is held all the same).
  [[nodiscard]] Status SetText(std::string_view text);
  const std::filesystem::path& path() const { return path_; }

 private:
  friend Result<FileLock> LockExclusive(const std::filesystem::path& file);
  FileLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::filesystem::path path_;
  int fd_ = -1;
};

// Opens `file` (creating it with mode 0644, never truncating it) and locks it without waiting.
// FailedPrecondition "FILE is locked by another process" when someone holds it (read the file for
// the holder's SetText); Unavailable with the OS's words when it cannot be opened or locked.
[[nodiscard]] Result<FileLock> LockExclusive(const std::filesystem::path& file);

}  // namespace rigshift
