#include "server_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace rigshift::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace

std::string ImportSharedData(const std::filesystem::path& out) {
  std::string cmd = ShellQuote(RIGSHIFT_BINARY) + " data import --source " + ShellQuote(RIGSHIFT_SHARED_DATA) +
                    " --out " + ShellQuote(out.string()) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "cannot run " + cmd;
  std::string text;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
  int status = pclose(p);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return cmd + " failed (status " + std::to_string(status) + "):\n" + text;
}

nlohmann::json Reply::Json() const { return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false); }

std::string Reply::Header(std::string_view name) const {
  if (EqualsIgnoreCase(name, "Content-Type")) return content_type;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::string Reply::Describe() const {
  if (status == 0) return "no answer: " + error;
  std::string b = body.size() > 600 ? body.substr(0, 600) + "..." : body;
  return std::to_string(status) + " " + b;
}

// --- ServerProcess ---------------------------------------------------------------------------

std::unique_ptr<ServerProcess> ServerProcess::Start(const Options& options, std::string* error) {
  std::unique_ptr<ServerProcess> server(new ServerProcess(options));
  const std::filesystem::path url_file = options.data_dir / "server.url";
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  std::filesystem::remove(url_file, ec);

  std::vector<std::string> args = {RIGSHIFT_BINARY, "server", "--data-dir", options.data_dir.string(), "--listen",
                                   options.listen};
  if (options.demo) args.push_back("--demo");
  for (const std::string& a : {std::string("--farm"),
                               options.farm.empty() ? std::string(RIGSHIFT_DEMO_FARM) : options.farm.string(),
                               std::string("--data"), options.data.string()}) {
    args.push_back(a);
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = (options.data_dir / "server.log").string();
  {
    std::ofstream mark(log, std::ios::app);
    mark << "=== test harness: starting";
    for (const std::string& a : args) mark << " " << a;
    mark << "\n";
  }
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    *error = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec. A test that dies takes its server along.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  server->pid_ = pid;
  server->reaped_ = false;
  if (!options.wait) return server;
  if (!server->WaitServing(options.start_timeout, error)) {
    server->Kill();
    return nullptr;
  }
  return server;
}

bool ServerProcess::WaitServing(std::chrono::milliseconds timeout, std::string* error) {
  const Options& options = options_;
  const std::filesystem::path url_file = options.data_dir / "server.url";
  const auto deadline = Clock::now() + timeout;
  std::string last_problem = "no " + url_file.string() + " yet";
  while (Clock::now() < deadline) {
    if (!Running()) {
      *error = "the server exited (wait status " + std::to_string(wait_status_) + ") before serving; log:\n" +
               LogTail();
      return false;
    }
    std::string text = ReadAll(url_file);
    if (!text.empty() && text.back() == '\n') {
      std::string url = Trim(text);
      auto parsed = net::ParseUrl(url);
      if (!parsed) {
        *error = url_file.string() + " holds '" + url + "': " + parsed.error().message();
        return false;
      }
      url_ = url;
      host_ = parsed->host;
      port_ = parsed->port;
      auto probe = net::HttpClient::ForUrl(url, options.ca_file, std::chrono::milliseconds(1000));
      if (!probe) {
        *error = "cannot probe " + url + ": " + probe.error().message();
        return false;
      }
      auto r = probe->Send("GET", "/healthz");
      if (r && r->status == 200) return true;
      last_problem = r ? "GET /healthz answered " + std::to_string(r->status) : r.error().message();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "the server did not serve within " + std::to_string(timeout.count()) + " ms (" + last_problem +
           "); log:\n" + LogTail();
  return false;
}

ServerProcess::~ServerProcess() {
  if (!reaped_) Terminate(std::chrono::seconds(5));
}

bool ServerProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    return false;
  }
  return true;
}

void ServerProcess::Kill() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  wait_status_ = status;
}

int ServerProcess::Terminate(std::chrono::milliseconds grace) {
  if (reaped_) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (!Running()) return wait_status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return wait_status_;
}

std::string ServerProcess::LogTail(size_t max_bytes) const {
  std::string text = ReadAll(options_.data_dir / "server.log");
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

std::string ReadTokenFile(const std::filesystem::path& file) {
  std::string text = ReadAll(file);
  return Trim(text.substr(0, text.find('\n')));
}

// --- Clients ---------------------------------------------------------------------------------

ApiClient::ApiClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), client_(host_, port_, timeout) {}

Reply ApiClient::Call(std::string_view method, std::string_view target, std::string_view body,
                      std::string_view token) {
  Reply reply;
  auto r = client_.Send(method, target, body, token);
  if (!r) {
    reply.error = r.error().message();
    return reply;
  }
  reply.status = r->status;
  reply.content_type = r->content_type;
  reply.body = std::move(r->body);
  reply.headers = std::move(r->headers);
  return reply;
}

Reply ParseRawResponse(std::string_view bytes) {
  Reply reply;
  size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    reply.error = bytes.empty() ? "the server closed the connection without answering"
                                : "no complete response head in " + std::to_string(bytes.size()) + " bytes";
    return reply;
  }
  std::string_view head = bytes.substr(0, head_end);
  std::string_view rest = bytes.substr(head_end + 4);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 400 Bad Request"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    reply.error = "not an HTTP response: " + std::string(status_line.substr(0, 80));
    return reply;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    char c = status_line[i];
    if (c < '0' || c > '9') {
      reply.error = "bad status line: " + std::string(status_line);
      return reply;
    }
    status = status * 10 + (c - '0');
  }
  std::optional<size_t> length;
  std::string_view lines = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!lines.empty()) {
    size_t e = lines.find("\r\n");
    std::string_view line = lines.substr(0, e);
    lines = e == std::string_view::npos ? std::string_view() : lines.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::string value = Trim(std::string(line.substr(colon + 1)));
    if (EqualsIgnoreCase(name, "Content-Type")) {
      reply.content_type = value;
    } else {
      if (EqualsIgnoreCase(name, "Content-Length")) length = std::strtoull(value.c_str(), nullptr, 10);
      reply.headers.emplace_back(std::move(name), std::move(value));
    }
  }
  if (length && *length > rest.size()) {
    reply.error = "body cut short: " + std::to_string(rest.size()) + " of " + std::to_string(*length) + " bytes";
    return reply;
  }
  reply.status = status;
  reply.body = std::string(length ? rest.substr(0, *length) : rest);
  return reply;
}

Reply SendRawRequest(std::string_view host, uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
  auto r = net::SendRaw(host, port, bytes, timeout);
  if (!r) {
    Reply reply;
    reply.error = r.error().message();
    return reply;
  }
  return ParseRawResponse(*r);
}

std::string CreateToken(ApiClient& client, std::string_view operator_token, std::string_view role,
                        std::string_view tenant, std::string* error) {
  nlohmann::json body = {{"role", role}};
  if (!tenant.empty()) body["tenant"] = tenant;
  Reply r = client.Post("/v1/tokens", body, operator_token);
  nlohmann::json j = r.Json();
  if (r.status != 201 || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    *error = "POST /v1/tokens " + body.dump() + ": " + r.Describe();
    return "";
  }
  return j["token"].get<std::string>();
}

bool WaitUntilReady(ApiClient& client, std::string_view operator_token, int min_ready_nodes,
                    std::chrono::milliseconds timeout, std::string* error) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (true) {
    Reply ready = client.Get("/readyz");
    if (ready.status != 200) {
      last = "GET /readyz: " + ready.Describe();
    } else {
      Reply nodes = client.Get("/v1/nodes", operator_token);
      nlohmann::json j = nodes.Json();
      if (nodes.status != 200 || !j.is_object() || !j["nodes"].is_array()) {
        last = "GET /v1/nodes: " + nodes.Describe();
      } else {
        int n = 0;
        for (const auto& node : j["nodes"]) n += node.value("agent_state", "") == "ready";
        int want = min_ready_nodes == kAllNodes ? static_cast<int>(j["nodes"].size()) : min_ready_nodes;
        if (n >= want && n > 0) return true;
        last = std::to_string(n) + " of " + std::to_string(j["nodes"].size()) + " nodes ready";
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "not ready after " + std::to_string(timeout.count()) + " ms: " + last;
  return false;
}

std::vector<std::string> OfferedModels(ApiClient& client, std::string_view token) {
  std::vector<std::string> out;
  Reply r = client.Get("/v1/offers", token);
  nlohmann::json j = r.Json();
  if (r.status != 200 || !j.is_object() || !j["offers"].is_array()) return out;
  for (const auto& o : j["offers"]) {
    std::string m = o.value("model", "");
    if (!m.empty() && std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

uint64_t TestSeed() {
  if (const char* s = std::getenv("RIGSHIFT_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^ (static_cast<uint64_t>(::getpid()) << 32);
}

std::unique_ptr<ServerProcess> StartDemoServer(const std::filesystem::path& tmp, std::string* error) {
  *error = ImportSharedData(tmp / "data");
  if (!error->empty()) return nullptr;
  ServerProcess::Options o;
  o.data_dir = tmp / "server";
  o.data = tmp / "data";
  return ServerProcess::Start(o, error);
}

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace rigshift::testing
