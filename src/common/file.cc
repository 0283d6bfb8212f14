#include "common/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace rigshift {
namespace {

// A failed file operation, in the OS's words. A full disk or quota is its own code: the caller
// may go on without this file, and the operator must free space rather than fix a permission.
Status FileError(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return InsufficientStorageError(std::move(msg));
  return UnavailableError(std::move(msg));
}

// Writes all of `text` (write(2) may write part of it, or be interrupted); errno on failure.
bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;  // no progress and no error: the device took nothing
      return false;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Status WriteFileAtomically(const std::filesystem::path& file, std::string_view text, unsigned mode) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return FileError("cannot write " + tmp.string(), errno);
  bool ok = WriteAll(fd, text) && ::fsync(fd) == 0;
  int saved = errno;
  // close(2) can report a deferred write error (NFS, some quotas): it counts as one.
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());  // no empty or partial temporary left behind (a full disk makes them)
    return FileError("cannot write " + tmp.string(), saved);
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    return FileError("cannot write " + file.string(), saved);
  }
  return OkStatus();
}

FileLock::FileLock(FileLock&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor of the open file releases the lock
}

Status FileLock::SetText(std::string_view text) {
  RS_CHECK(fd_ >= 0);
  if (::ftruncate(fd_, 0) != 0) return FileError("cannot write " + path_.string(), errno);
  ssize_t n = ::pwrite(fd_, text.data(), text.size(), 0);
  if (n != static_cast<ssize_t>(text.size())) {
    return FileError("cannot write " + path_.string(), n < 0 ? errno : ENOSPC);  // short: out of space
  }
  return OkStatus();
}

Result<FileLock> LockExclusive(const std::filesystem::path& file) {
  // No O_TRUNC: the text in the file belongs to the holder until we have the lock.
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Err(FileError("cannot open " + file.string(), errno));
  int r;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) return Err(FailedPreconditionError(file.string() + " is locked by another process"));
    return Err(UnavailableError("cannot lock " + file.string() + ": " + std::strerror(saved)));
  }
  return FileLock(file, fd);
}

}  // namespace rigshift
