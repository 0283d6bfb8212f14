#include "common/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace rigshift {

Status WriteFileAtomically(const std::filesystem::path& file, std::string_view text, unsigned mode) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return UnavailableError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) return UnavailableError("cannot write " + tmp.string() + ": " + std::strerror(saved));
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    return UnavailableError("cannot write " + file.string() + ": " + std::strerror(errno));
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
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return UnavailableError("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Result<FileLock> LockExclusive(const std::filesystem::path& file) {
  // No O_TRUNC: the text in the file belongs to the holder until we have the lock.
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Err(UnavailableError("cannot open " + file.string() + ": " + std::strerror(errno)));
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
