#include "agent/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace rigshift::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kPollEvery = std::chrono::milliseconds(5);
constexpr auto kKillWait = std::chrono::seconds(5);
constexpr auto kStatusWait = std::chrono::seconds(1);
constexpr auto kSpawnTimeout = std::chrono::seconds(10);
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string Errno(int err) { return std::strerror(err); }

// ---- What the shim and the program tell Spawn, over a close-on-exec pipe -------------------
// Each message is one write() far below PIPE_BUF, so messages from the two never interleave.

enum MessageKind : int64_t { kStarted = 1, kForkFailed, kChdirFailed, kExecFailed };

struct Message {
  int64_t kind = 0;
  int64_t err = 0;                 // errno for the failures
  int64_t pid = 0;                 // kStarted: the program
  uint64_t start_time = 0;
  int64_t shim_pid = 0;
  uint64_t shim_start_time = 0;
};

// ---- Async-signal-safe helpers (used between fork and exec: no allocation, no locks) -------

void SafeWrite(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void SendMessage(int fd, const Message& m) { SafeWrite(fd, &m, sizeof m); }

// Writes the decimal digits of `v` to `out`; returns the count.
size_t FormatInt(int64_t v, char* out) {
  char tmp[24];
  size_t n = 0;
  bool negative = v < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  size_t len = 0;
  if (negative) out[len++] = '-';
  while (n > 0) out[len++] = tmp[--n];
  return len;
}

// Fields of /proc/PID/stat that the guards use. `comm` (field 2) may hold spaces and ')', so
// fields are counted from the last ')'.
struct StatFields {
  char state = '?';        // field 3
  int64_t pgrp = 0;        // field 5
  uint64_t start_time = 0; // field 22
};

bool ParseStat(const char* buf, size_t len, StatFields* out) {
  const char* close = nullptr;
  for (size_t i = 0; i < len; ++i) {
    if (buf[i] == ')') close = buf + i;
  }
  if (close == nullptr) return false;
  const char* p = close + 1;
  const char* end = buf + len;
  int field = 2;
  while (p < end) {
    while (p < end && *p == ' ') ++p;
    if (p >= end) break;
    ++field;
    const char* tok = p;
    while (p < end && *p != ' ' && *p != '\n') ++p;
    if (field == 3) {
      out->state = *tok;
    } else if (field == 5 || field == 22) {
      bool negative = *tok == '-';
      uint64_t v = 0;
      for (const char* q = tok + (negative ? 1 : 0); q < p; ++q) {
        if (*q < '0' || *q > '9') return false;
        v = v * 10 + static_cast<uint64_t>(*q - '0');
      }
      if (field == 5) out->pgrp = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
      if (field == 22) {
        out->start_time = v;
        return true;
      }
    }
    if (p < end && *p == '\n') break;
  }
  return false;
}

// Async-signal-safe: reads /proc/PID/stat (pid 0: /proc/self/stat) into a stack buffer.
bool ReadStatSafe(int64_t pid, StatFields* out) {
  char path[64] = "/proc/";
  size_t n = 6;
  if (pid == 0) {
    const char self[] = "self";
    std::memcpy(path + n, self, 4);
    n += 4;
  } else {
    n += FormatInt(pid, path + n);
  }
  const char tail[] = "/stat";
  std::memcpy(path + n, tail, sizeof tail);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, sizeof buf - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += static_cast<size_t>(r);
    if (len == sizeof buf) break;
  }
  close(fd);
  return ParseStat(buf, len, out);
}

// fork() without the atfork handlers (which may take locks or allocate): async-signal-safe, for
// the forks made inside an already forked child. glibc 2.34 and later.
pid_t SafeFork() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  return _Fork();
#else
  return fork();
#endif
}

// Closes every descriptor >= 3 except those in `keep` (sorted ascending).
void CloseAllExcept(const int* keep, size_t nkeep) {
  unsigned lo = 3;
  for (size_t i = 0; i <= nkeep; ++i) {
    unsigned hi = i < nkeep ? static_cast<unsigned>(keep[i]) : ~0U;
    if (hi > lo) {
      if (syscall(SYS_close_range, lo, hi - 1, 0) != 0) {
        // Kernels before 5.9: one by one, up to a generous bound.
        unsigned stop = hi == ~0U ? 65536 : hi;
        for (unsigned fd = lo; fd < stop; ++fd) close(static_cast<int>(fd));
      }
    }
    if (i < nkeep) lo = static_cast<unsigned>(keep[i]) + 1;
  }
}

// Everything the shim and the program need, prepared before the first fork.
struct Prepared {
  std::string exe;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::string cwd;
  std::string status_path, status_tmp;
  bool ignore_sigterm = false;
  int log_fd = -1, null_fd = -1;
};

[[noreturn]] void RunProgram(const Prepared& p, int pipe_w) {
  setsid();
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // fails harmlessly for the few that cannot be set
  }
  if (p.ignore_sigterm) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGTERM, &ign, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  dup2(p.log_fd, STDOUT_FILENO);
  dup2(p.log_fd, STDERR_FILENO);
  if (chdir(p.cwd.c_str()) != 0) {
    Message m;
    m.kind = kChdirFailed;
    m.err = errno;
    SendMessage(pipe_w, m);
    _exit(127);
  }
  execve(p.exe.c_str(), p.argv.data(), p.envp.data());
  Message m;
  m.kind = kExecFailed;
  m.err = errno;
  SendMessage(pipe_w, m);
  _exit(127);
}

void WriteStatusSafe(const Prepared& p, int wait_status) {
  char buf[32];
  size_t n = 0;
  const char* word = WIFSIGNALED(wait_status) ? "signal " : "exit ";
  for (const char* w = word; *w != '\0'; ++w) buf[n++] = *w;
  n += FormatInt(WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : WEXITSTATUS(wait_status), buf + n);
  buf[n++] = '\n';
  int fd = open(p.status_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  SafeWrite(fd, buf, n);
  close(fd);
  rename(p.status_tmp.c_str(), p.status_path.c_str());
}

[[noreturn]] void RunShim(const Prepared& p, int pipe_w) {
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) sigaction(sig, &ign, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, nullptr);  // SIG_IGN here would make the kernel reap for us
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  dup2(p.null_fd, STDIN_FILENO);
  dup2(p.null_fd, STDOUT_FILENO);
  dup2(p.null_fd, STDERR_FILENO);
  int keep[3] = {pipe_w, p.log_fd, p.null_fd};
  // Three elements: sort by hand.
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      if (keep[j] < keep[i]) std::swap(keep[i], keep[j]);
  CloseAllExcept(keep, 3);

  pid_t child = SafeFork();
  if (child < 0) {
    Message m;
    m.kind = kForkFailed;
    m.err = errno;
    SendMessage(pipe_w, m);
    _exit(1);
  }
  if (child == 0) RunProgram(p, pipe_w);

  Message started;
  started.kind = kStarted;
  started.pid = child;
  started.shim_pid = getpid();
  StatFields f;
  if (ReadStatSafe(child, &f)) started.start_time = f.start_time;  // a zombie still has its stat
  if (ReadStatSafe(0, &f)) started.shim_start_time = f.start_time;
  SendMessage(pipe_w, started);
  close(pipe_w);
  close(p.log_fd);
  close(p.null_fd);

  // Wait for the program. Orphaned descendants come to us too (subreaper): reap those as they
  // come. When the program exits, look before reaping it (WNOWAIT), so that its pid, and so its
  // process group id, cannot be reused while we kill what is left of the group.
  for (;;) {
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      _exit(1);  // ECHILD: cannot happen while the program is ours
    }
    if (info.si_pid == child) break;
    int ignored;
    waitpid(info.si_pid, &ignored, 0);
  }
  kill(-child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  WriteStatusSafe(p, status);
  // Reap the killed leftovers (and anything else re-parented to us) before leaving.
  for (;;) {
    int ignored;
    pid_t r = waitpid(-1, &ignored, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
  }
  _exit(0);
}

// ---- Ordinary helpers (agent side) ---------------------------------------------------------

// /proc/PID/stat of a process, or nullopt when it does not exist.
std::optional<StatFields> ReadStat(pid_t pid) {
  StatFields f;
  if (pid <= 0 || !ReadStatSafe(pid, &f)) return std::nullopt;
  return f;
}

bool IsLive(const StatFields& f) { return f.state != 'Z' && f.state != 'X' && f.state != 'x'; }

// The process named by (pid, start_time) is alive (not a zombie).
bool AliveAs(pid_t pid, uint64_t start_time) {
  auto f = ReadStat(pid);
  return f && f->start_time == start_time && IsLive(*f);
}

int DupAbove2(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

std::optional<ProcessState> ReadStatusFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  ProcessState s;
  s.phase = ProcessPhase::kGone;
  if (n <= 0) {
    s.detail = "status file " + path + " is empty";
    return s;
  }
  buf[n] = '\0';
  int value = 0;
  if (std::sscanf(buf, "exit %d", &value) == 1) {
    s.phase = ProcessPhase::kExited;
    s.exit_code = value;
  } else if (std::sscanf(buf, "signal %d", &value) == 1) {
    s.phase = ProcessPhase::kExited;
    s.signal = value;
  } else {
    s.detail = "status file " + path + " is unreadable: '" + std::string(buf, static_cast<size_t>(n)) + "'";
  }
  return s;
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGXCPU: return "SIGXCPU";
    default: return "signal " + std::to_string(sig);
  }
}

bool ValidEnvName(const std::string& name) {
  return !name.empty() && name.find('=') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

// ---- JSON --------------------------------------------------------------------------------------

nlohmann::json ProcessHandleToJson(const ProcessHandle& h) {
  return {{"pid", h.pid},
          {"start_time", h.start_time},
          {"shim_pid", h.shim_pid},
          {"shim_start_time", h.shim_start_time},
          {"status_path", h.status_path}};
}

Result<ProcessHandle> ProcessHandleFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Err(InvalidArgumentError("process handle: not a JSON object"));
  auto integer = [&](const char* key) -> Result<int64_t> {
    auto it = j.find(key);
    if (it == j.end()) return Err(InvalidArgumentError(std::string("process handle: missing '") + key + "'"));
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return Err(InvalidArgumentError(std::string("process handle: '") + key + "' must be a non-negative integer"));
    }
    return it->get<int64_t>();
  };
  ProcessHandle h;
  RS_ASSIGN_OR_RETURN(int64_t pid, integer("pid"));
  RS_ASSIGN_OR_RETURN(int64_t start, integer("start_time"));
  RS_ASSIGN_OR_RETURN(int64_t shim, integer("shim_pid"));
  RS_ASSIGN_OR_RETURN(int64_t shim_start, integer("shim_start_time"));
  auto it = j.find("status_path");
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Err(InvalidArgumentError("process handle: 'status_path' must be a non-empty string"));
  }
  if (pid == 0) return Err(InvalidArgumentError("process handle: 'pid' must be positive"));
  h.pid = static_cast<pid_t>(pid);
  h.start_time = static_cast<uint64_t>(start);
  h.shim_pid = static_cast<pid_t>(shim);
  h.shim_start_time = static_cast<uint64_t>(shim_start);
  h.status_path = it->get<std::string>();
  return h;
}

// ---- Spawn ---------------------------------------------------------------------------------------

std::optional<std::string> FindInPath(const std::string& name, const std::string& path_var) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    struct stat st {};
    if (stat(name.c_str(), &st) != 0) return std::nullopt;
    return name;
  }
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t colon = path_var.find(':', start);
    if (colon == std::string::npos) colon = path_var.size();
    std::string dir = path_var.substr(start, colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = colon + 1;
  }
  return std::nullopt;
}

Result<ProcessHandle> Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Err(InvalidArgumentError("spawn: empty argv"));
  const std::string& name = spec.argv[0];
  if (spec.log_path.empty()) return Err(InvalidArgumentError("cannot start '" + name + "': no log path"));
  if (spec.status_path.empty()) return Err(InvalidArgumentError("cannot start '" + name + "': no status path"));

  // The environment: minimal, then the spec's (the last of a name wins).
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&env](const std::string& k, const std::string& v) {
    for (auto& [key, value] : env) {
      if (key == k) {
        value = v;
        return;
      }
    }
    env.emplace_back(k, v);
  };
  const char* agent_path = std::getenv("PATH");
  const char* agent_home = std::getenv("HOME");
  set("PATH", agent_path != nullptr && *agent_path != '\0' ? agent_path : kDefaultPath);
  set("HOME", agent_home != nullptr && *agent_home != '\0' ? agent_home : "/");
  set("LANG", "C.UTF-8");
  for (const auto& [k, v] : spec.env) {
    if (!ValidEnvName(k)) return Err(InvalidArgumentError("cannot start '" + name + "': bad environment name '" + k + "'"));
    set(k, v);
  }
  std::string path_var;
  for (const auto& [k, v] : env) {
    if (k == "PATH") path_var = v;
  }

  Prepared p;
  auto exe = FindInPath(name, path_var);
  if (!exe) {
    if (name.find('/') != std::string::npos) {
      return Err(NotFoundError("cannot start '" + name + "': no such file"));
    }
    return Err(NotFoundError("cannot start '" + name + "': not found in PATH=" + path_var));
  }
  if (access(exe->c_str(), X_OK) != 0) {
    return Err(PermissionDeniedError("cannot start '" + *exe + "': " + Errno(errno)));
  }
  p.exe = *exe;
  p.cwd = spec.cwd.empty() ? "/" : spec.cwd;
  {
    struct stat st {};
    if (stat(p.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Err(NotFoundError("cannot start '" + name + "': working directory " + p.cwd + " does not exist"));
    }
  }
  p.status_path = spec.status_path;
  p.status_tmp = spec.status_path + ".tmp";
  p.ignore_sigterm = spec.ignore_sigterm;
  {
    std::filesystem::path dir = std::filesystem::path(spec.status_path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      return Err(UnavailableError("cannot start '" + name + "': the status file's directory " + dir.string() +
                                  " does not exist"));
    }
  }
  if (unlink(p.status_path.c_str()) != 0 && errno != ENOENT) {
    return Err(UnavailableError("cannot start '" + name + "': cannot remove the old status " + p.status_path + ": " +
                                Errno(errno)));
  }
  p.argv_storage = spec.argv;
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (const auto& [k, v] : env) p.env_storage.push_back(k + "=" + v);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);

  p.log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (p.log_fd < 0) {
    return Err(UnavailableError("cannot start '" + name + "': cannot open the log " + spec.log_path + ": " + Errno(errno)));
  }
  p.log_fd = DupAbove2(p.log_fd);
  p.null_fd = DupAbove2(open("/dev/null", O_RDWR | O_CLOEXEC));
  int fds[2];
  if (p.log_fd < 0 || p.null_fd < 0 || pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    if (p.log_fd >= 0) close(p.log_fd);
    if (p.null_fd >= 0) close(p.null_fd);
    return Err(UnavailableError("cannot start '" + name + "': " + Errno(err)));
  }
  int pipe_r = DupAbove2(fds[0]);
  int pipe_w = DupAbove2(fds[1]);
  auto close_all = [&] {
    close(p.log_fd);
    close(p.null_fd);
    close(pipe_r);
  };

  pid_t a = fork();
  if (a < 0) {
    int err = errno;
    close(pipe_w);
    close_all();
    return Err(UnavailableError("cannot start '" + name + "': fork: " + Errno(err)));
  }
  if (a == 0) {
    // A: only forks the shim, so that the shim is not the agent's child (nobody has to reap it
    // when the agent that started it is gone).
    pid_t shim = SafeFork();
    if (shim == 0) RunShim(p, pipe_w);
    if (shim < 0) {
      Message m;
      m.kind = kForkFailed;
      m.err = errno;
      SendMessage(pipe_w, m);
    }
    _exit(0);
  }
  close(pipe_w);
  int ignored;
  while (waitpid(a, &ignored, 0) < 0 && errno == EINTR) {
  }

  // Read until every writer has closed its end: the shim after kStarted, the program at exec.
  Message started;
  std::optional<Message> failure;
  auto deadline = SteadyClock::now() + kSpawnTimeout;
  std::string buffer;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      close_all();
      return Err(UnavailableError("cannot start '" + name + "': no word from the shim in 10 s"));
    }
    struct pollfd pfd {pipe_r, POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char chunk[256];
    ssize_t n = read(pipe_r, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  close_all();
  for (size_t off = 0; off + sizeof(Message) <= buffer.size(); off += sizeof(Message)) {
    Message m;
    std::memcpy(&m, buffer.data() + off, sizeof m);
    if (m.kind == kStarted) {
      started = m;
    } else if (!failure) {
      failure = m;
    }
  }
  if (failure) {
    std::string what = failure->kind == kExecFailed    ? "exec " + p.exe
                       : failure->kind == kChdirFailed ? "chdir " + p.cwd
                                                       : std::string("fork");
    std::string msg = "cannot start '" + name + "': " + what + ": " + Errno(static_cast<int>(failure->err));
    if (failure->err == ENOENT) return Err(NotFoundError(msg));
    if (failure->err == EACCES) return Err(PermissionDeniedError(msg));
    return Err(UnavailableError(msg));
  }
  if (started.kind != kStarted || started.pid <= 0) {
    return Err(InternalError("cannot start '" + name + "': the shim exited without a word"));
  }
  ProcessHandle h;
  h.pid = static_cast<pid_t>(started.pid);
  h.start_time = started.start_time;
  h.shim_pid = static_cast<pid_t>(started.shim_pid);
  h.shim_start_time = started.shim_start_time;
  h.status_path = spec.status_path;
  return h;
}

// ---- Poll and Stop -------------------------------------------------------------------------------

std::string ProcessState::ToString() const {
  switch (phase) {
    case ProcessPhase::kRunning:
      return "running";
    case ProcessPhase::kExited:
      if (signal) return "killed by signal " + std::to_string(*signal) + " (" + SignalName(*signal) + ")";
      return "exited with code " + std::to_string(exit_code.value_or(-1));
    case ProcessPhase::kGone:
      return "gone: " + detail;
  }
  return "?";
}

ProcessState Poll(const ProcessHandle& h) {
  if (auto s = ReadStatusFile(h.status_path)) return *s;
  auto program = ReadStat(h.pid);
  if (program && program->start_time != h.start_time) {
    ProcessState s;
    s.detail = "pid " + std::to_string(h.pid) + " belongs to another process now (start time " +
               std::to_string(program->start_time) + ", not " + std::to_string(h.start_time) + ")";
    return s;
  }
  if (program && IsLive(*program)) return ProcessState{ProcessPhase::kRunning, {}, {}, {}};
  // The program is gone or a zombie: its shim, if alive, is about to write the status.
  if (AliveAs(h.shim_pid, h.shim_start_time)) return ProcessState{ProcessPhase::kRunning, {}, {}, {}};
  if (auto s = ReadStatusFile(h.status_path)) return *s;  // written in between
  ProcessState s;
  s.detail = "no exit status at " + h.status_path + " and neither pid " + std::to_string(h.pid) +
             " nor its shim (pid " + std::to_string(h.shim_pid) +
             ") is alive: both were killed (kill -9 of the shim too, or a reboot)";
  return s;
}

std::vector<pid_t> ProcessGroupMembers(pid_t pgid) {
  std::vector<pid_t> out;
  if (pgid <= 0) return out;
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    auto f = ReadStat(static_cast<pid_t>(pid));
    if (f && f->pgrp == pgid && IsLive(*f)) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return out;
}

std::string StopResult::ToString() const {
  std::string ms = std::to_string(took.count()) + " ms";
  switch (how) {
    case How::kAlreadyExited: return "had already exited";
    case How::kTerminated: return "terminated after SIGTERM in " + ms;
    case How::kKilled: return "killed with SIGKILL after " + ms;
  }
  return "?";
}

Result<StopResult> Stop(const ProcessHandle& h, std::chrono::milliseconds grace) {
  auto t0 = SteadyClock::now();
  auto elapsed = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0); };
  auto wait_recorded = [&] {
    auto until = SteadyClock::now() + kStatusWait;
    while (SteadyClock::now() < until) {
      if (access(h.status_path.c_str(), F_OK) == 0 || !AliveAs(h.shim_pid, h.shim_start_time)) return;
      std::this_thread::sleep_for(kPollEvery);
    }
  };
  // What is left to stop: the program's process group. (The program leads its session, so it
  // cannot leave the group; only its descendants can, by setsid.)
  auto left = [&] { return ProcessGroupMembers(h.pid); };
  auto signal_all = [&](int sig) { kill(-h.pid, sig); };
  auto wait_gone = [&](SteadyClock::time_point until) {
    for (;;) {
      if (left().empty()) return true;
      if (SteadyClock::now() >= until) return false;
      std::this_thread::sleep_for(kPollEvery);
    }
  };

  // Guard: a pid that is another process's now means our group is long gone (a group id stays
  // reserved while any member lives, so its number cannot have been given to a new process).
  auto program = ReadStat(h.pid);
  if (program && program->start_time != h.start_time) return StopResult{StopResult::How::kAlreadyExited, elapsed()};
  if (left().empty()) {
    wait_recorded();
    return StopResult{StopResult::How::kAlreadyExited, elapsed()};
  }

  signal_all(SIGTERM);
  if (wait_gone(t0 + grace)) {
    StopResult r{StopResult::How::kTerminated, elapsed()};
    wait_recorded();
    return r;
  }
  signal_all(SIGKILL);
  if (!wait_gone(SteadyClock::now() + kKillWait)) {
    std::string pids;
    for (pid_t p : left()) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    return Err(UnavailableError("process group " + std::to_string(h.pid) + " still has processes after SIGKILL (" +
                                pids + "): stuck in the kernel?"));
  }
  StopResult r{StopResult::How::kKilled, elapsed()};
  wait_recorded();
  return r;
}

// ---- Logs ----------------------------------------------------------------------------------------

Result<LogChunk> ReadLog(const std::string& path, uint64_t offset, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Err(NotFoundError("log " + path + " does not exist"));
    return Err(UnavailableError("cannot read log " + path + ": " + Errno(err)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Err(UnavailableError("cannot read log " + path + ": " + Errno(err)));
  }
  LogChunk chunk;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size) {
    offset = 0;
    chunk.restarted = true;
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(max_bytes, size - offset));
  chunk.data.resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd, chunk.data.data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Err(UnavailableError("cannot read log " + path + ": " + Errno(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  chunk.data.resize(got);
  chunk.next_offset = offset + got;
  return chunk;
}

}  // namespace rigshift::agent
