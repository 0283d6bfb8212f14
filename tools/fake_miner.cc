// rigshift-fake-miner: a stand-in for a mining program in tests and demos. It serves the current
// contents of a sample answer (device_samples/<miner>/*.json) as a miner's monitoring API would,
// and prints a line now and then as a miner does.
//
//   rigshift-fake-miner --api-port P --sample FILE [--protocol auto|http|tcp|claymore] [--ignore-sigterm]
//                       [--log-every-ms N] [--devices 0,1] [--algo A] [--wallet W] [--pool P]
//                       [--worker W]
//
// On 127.0.0.1:P (0: any free port, printed in the first line), every connection gets one answer:
//   http  any request: "HTTP/1.1 200 OK", Content-Type application/json, FILE as the body;
//   tcp   one request line (JSON-RPC "miner_getstat1", sgminer's {"command":"devs"}): FILE, "\n"
//         ("claymore" is another name for it);
//   auto  (default) tcp when the request starts with '{', http otherwise.
// FILE is read again for each answer, so a test changes the hashrate by rewriting it. Exits 0 on
// SIGTERM or SIGINT (unless --ignore-sigterm, which ignores SIGTERM), 2 on bad arguments.
// Plain POSIX sockets, one connection at a time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct Options {
  int port = -1;
  std::string sample;
  std::string protocol = "auto";
  bool ignore_sigterm = false;
  int log_every_ms = 1000;
  std::string devices = "0";
  std::string algo, wallet, pool, worker;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "rigshift-fake-miner: %s\nusage: rigshift-fake-miner --api-port P --sample FILE [--protocol "
               "auto|http|tcp] [--ignore-sigterm] [--log-every-ms N] [--devices LIST] [--algo A] [--wallet W] "
               "[--pool P] [--worker W]\n",
               why.c_str());
  std::exit(2);
}

int ToInt(const std::string& flag, const std::string& v, int min, int max) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < min || n > max) Usage(flag + ": '" + v + "' is not a number in range");
  return static_cast<int>(n);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--api-port") {
      o.port = ToInt(a, value(), 0, 65535);
    } else if (a == "--sample") {
      o.sample = value();
    } else if (a == "--protocol") {
      o.protocol = value();
      if (o.protocol != "auto" && o.protocol != "http" && o.protocol != "tcp" && o.protocol != "claymore") {
        Usage("--protocol must be auto, http or tcp");
      }
      if (o.protocol == "claymore") o.protocol = "tcp";
    } else if (a == "--ignore-sigterm") {
      o.ignore_sigterm = true;
    } else if (a == "--log-every-ms") {
      o.log_every_ms = ToInt(a, value(), 1, 3600 * 1000);
    } else if (a == "--devices") {
      o.devices = value();
    } else if (a == "--algo") {
      o.algo = value();
    } else if (a == "--wallet") {
      o.wallet = value();
    } else if (a == "--pool") {
      o.pool = value();
    } else if (a == "--worker") {
      o.worker = value();
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (o.port < 0) Usage("--api-port is required");
  if (o.sample.empty()) Usage("--sample is required");
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads one request: up to the end of the HTTP headers, or one line for the TCP protocols.
// Gives up after 2 s or 64 KiB.
std::string ReadRequest(int fd) {
  std::string req;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (req.size() < 65536) {
    if (req.find("\r\n\r\n") != std::string::npos || req.find("\n\n") != std::string::npos) break;
    if (!req.empty() && req[0] == '{' && req.find('\n') != std::string::npos) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd p {fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) {
      if (g_stop) break;
      continue;
    }
    if (r <= 0) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
    // A JSON request without a newline (some clients) ends when its braces balance.
    if (req[0] == '{' && req.back() == '}') break;
  }
  return req;
}

void Answer(int fd, const Options& o) {
  std::string req = ReadRequest(fd);
  std::string body = ReadFile(o.sample);
  bool tcp = o.protocol == "tcp" || (o.protocol == "auto" && !req.empty() && req[0] == '{');
  if (tcp) {
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    WriteAll(fd, body + "\n");
  } else {
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }
  shutdown(fd, SHUT_WR);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: poll() returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  if (o.ignore_sigterm) {
    signal(SIGTERM, SIG_IGN);
  } else {
    sigaction(SIGTERM, &sa, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 16) != 0) {
    std::fprintf(stderr, "rigshift-fake-miner: cannot listen on 127.0.0.1:%d: %s\n", o.port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);

  std::string args;
  for (int i = 0; i < argc; ++i) args += (i > 0 ? " " : "") + std::string(argv[i]);
  std::printf("fake miner: listening on 127.0.0.1:%d pid %d\n", port, static_cast<int>(getpid()));
  std::printf("fake miner: argv: %s\n", args.c_str());

  auto next_log = std::chrono::steady_clock::now();
  while (!g_stop) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_log) {
      std::printf("fake miner: hashing on devices %s%s%s\n", o.devices.c_str(), o.algo.empty() ? "" : " algo ",
                  o.algo.c_str());
      next_log = now + std::chrono::milliseconds(o.log_every_ms);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_log - now).count();
    struct pollfd p {listener, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(wait < 0 ? 0 : wait));
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) continue;
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd, o);
    close(fd);
  }
  std::printf("fake miner: stopping\n");
  close(listener);
  return 0;
}
