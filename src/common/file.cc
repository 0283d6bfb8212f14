#include "common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

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

}  // namespace rigshift
