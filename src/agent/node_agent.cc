#include "agent/node_agent.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "agent/fake_devices.h"
#include "agent/nvml.h"
#include "agent/workload.h"
#include "common/time.h"
#include "net/http_client.h"

namespace rigshift::agent {

using json = nlohmann::json;
using namespace std::chrono_literals;

// What the controller wants of the node (GET /v1/agents/{node}/desired).
struct NodeAgent::Desired {
  struct Lease {
    int64_t id = 0;
    std::vector<int> slots;
    json workload;  // null: nothing to run
    std::optional<int64_t> ends_at;
    double cpus = 0;
    int64_t memory_mib = 0;
    int pids = 0;
  };
  // Where a hashrate contract's devices mine: the customer's pool and wallet.
  struct Contract {
    std::string algorithm, pool, payout_address;
  };
  int64_t generation = 0;
  std::map<int, std::string> use;    // slot -> lease, mining, idle, off, contract
  // slot -> what its miner is keyed by: the coin when mining, "contract:ID" for a contract's
  // hashrate (one miner per contract, apart from the farm's own of the same algorithm).
  std::map<int, std::string> coin;
  std::map<int64_t, Contract> contracts;
  std::map<int64_t, Lease> leases;
  std::string closed, quarantine;
};

struct NodeAgent::LocalLease {
  int64_t id = 0;
  std::vector<int> slots;
  json workload;  // as the controller gave it
  std::optional<int64_t> ends_at;
  std::string kind;  // "container", "command", "none"
  std::optional<ProcessHandle> handle;
  std::string container;
  std::string log_path;
  uint64_t log_sent = 0;
  std::string state = "starting";  // starting, running, exited, failed
  std::optional<int> exit_code;
  std::optional<int64_t> started_at, ended_at;
  std::string message;
  double cpus = 0;
  int64_t memory_mib = 0;
  int pids = 0;
};

struct NodeAgent::LocalMiner {
  std::string coin;
  std::vector<int> slots;
  ProcessHandle handle;
  int api_port = 0;
  int64_t started_at = 0;  // wall seconds
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string log_path;
};

namespace {

int64_t WallSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// Writes `text` to `path` atomically (temp file and rename).
Status WriteAtomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return UnavailableError("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return UnavailableError("cannot rename " + tmp.string() + ": " + ec.message());
  return OkStatus();
}

// Runs argv to completion (at most `limit`), output to `log`; its exit code, or an error.
Result<int> RunToEnd(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                     const std::filesystem::path& dir, std::chrono::milliseconds limit) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  static std::atomic<int> n{0};
  const std::string stem = (dir / ("run-" + std::to_string(getpid()) + "-" + std::to_string(n++))).string();
  spec.log_path = stem + ".log";
  spec.status_path = stem + ".status";
  RS_ASSIGN_OR_RETURN(ProcessHandle h, Spawn(spec));
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ProcessState st = Poll(h);
  while (st.phase == ProcessPhase::kRunning && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    st = Poll(h);
  }
  if (st.phase == ProcessPhase::kRunning) {
    (void)agent::Stop(h, 1000ms);
    st = Poll(h);
  }
  std::error_code ec;
  std::filesystem::remove(spec.log_path, ec);
  std::filesystem::remove(spec.status_path, ec);
  if (st.phase != ProcessPhase::kExited) return Err(UnavailableError(argv[0] + ": " + st.ToString()));
  return st.exit_code ? *st.exit_code : 128 + st.signal.value_or(9);
}

// The model name the controller's catalog knows: discovery's name without the vendor words.
// The last non-empty line of a file (a failed start's reason, from its log), at most 200 bytes.
std::string LastLine(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= 0) return "";
  const std::streamoff from = std::max<std::streamoff>(0, size - 4096);
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) tail.pop_back();
  const size_t nl = tail.rfind('\n');
  std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = ' ';
  }
  return line.substr(0, 200);
}

std::string ModelName(const std::string& name) {
  std::string s = name;
  for (const char* prefix : {"NVIDIA ", "GeForce ", "Tesla "}) {
    if (s.rfind(prefix, 0) == 0) s = s.substr(std::string(prefix).size());
  }
  return s;
}

// Set in the environment of the miners an agent starts: "RIGSHIFT_MINER_OF=NODE".
constexpr const char* kMinerTag = "RIGSHIFT_MINER_OF=";

const char* const kMinerNames[] = {"xmrig", "lolMiner", "t-rex", "gminer", "nbminer", "teamredminer",
                                   "SRBMiner-MULTI", "PhoenixMiner", "ethminer", "miner", "rigshift-fake-m"};

}  // namespace

Status LoadAgentConfig(const std::filesystem::path& file, AgentConfig* c) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(file.string() + ": " + std::string(e.description()));
  }
  const std::string where = file.string() + ": ";
  auto str = [&](const toml::node_view<toml::node>& n, const char* key, std::string* out) -> Status {
    if (!n) return OkStatus();
    if (!n.is_string()) return InvalidArgumentError(where + key + " must be a string");
    *out = n.value<std::string>().value();
    return OkStatus();
  };
  auto ms = [&](const toml::node_view<toml::node>& n, const char* key, std::chrono::milliseconds* out) -> Status {
    if (!n) return OkStatus();
    if (!n.is_integer() || *n.value<int64_t>() < 0) return InvalidArgumentError(where + key + " must be a whole number >= 0");
    *out = std::chrono::milliseconds(*n.value<int64_t>());
    return OkStatus();
  };
  auto argv = [&](const toml::node_view<toml::node>& n, const std::string& key, std::vector<std::string>* out) -> Status {
    if (!n) return OkStatus();
    const toml::array* a = n.as_array();
    if (a == nullptr) return InvalidArgumentError(where + key + " must be a list of strings");
    out->clear();
    for (const auto& e : *a) {
      if (!e.is_string()) return InvalidArgumentError(where + key + " must be a list of strings");
      out->push_back(*e.value<std::string>());
    }
    return OkStatus();
  };
  static const std::set<std::string> kKeys = {
      "server",        "token",         "token_file",  "ca",           "node",          "state_dir",
      "fake_devices",  "device_file",   "nvml_library",   "heartbeat_ms", "desired_wait_ms", "miner_grace_ms", "workload_grace_ms",
      "network",       "podman",        "podman_run_root", "container_init", "on_cutoff", "cutoff_after_ms", "self_test_command",
      "expect_driver", "watchdog_zero_hashrate", "miner_warmup_ms", "watchdog_xid_growth", "reboot_command",
      "reboots_per_hour", "miner"};
  for (const auto& [k, v] : t) {
    if (!kKeys.count(std::string(k.str()))) return InvalidArgumentError(where + "unknown key '" + std::string(k.str()) + "'");
  }
  RS_RETURN_IF_ERROR(str(t["server"], "server", &c->server));
  RS_RETURN_IF_ERROR(str(t["token"], "token", &c->token));
  std::string token_file;
  RS_RETURN_IF_ERROR(str(t["token_file"], "token_file", &token_file));
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return InvalidArgumentError(where + "token_file " + token_file + " cannot be read");
    std::getline(in, c->token);
  }
  RS_RETURN_IF_ERROR(str(t["ca"], "ca", &c->ca_file));
  RS_RETURN_IF_ERROR(str(t["node"], "node", &c->node));
  std::string dir;
  RS_RETURN_IF_ERROR(str(t["state_dir"], "state_dir", &dir));
  if (!dir.empty()) c->state_dir = dir;
  RS_RETURN_IF_ERROR(str(t["fake_devices"], "fake_devices", &c->fake_devices));
  RS_RETURN_IF_ERROR(str(t["device_file"], "device_file", &c->device_file));
  RS_RETURN_IF_ERROR(str(t["nvml_library"], "nvml_library", &c->nvml_library));
  RS_RETURN_IF_ERROR(ms(t["heartbeat_ms"], "heartbeat_ms", &c->heartbeat));
  RS_RETURN_IF_ERROR(ms(t["desired_wait_ms"], "desired_wait_ms", &c->desired_wait));
  RS_RETURN_IF_ERROR(ms(t["miner_grace_ms"], "miner_grace_ms", &c->miner_grace));
  RS_RETURN_IF_ERROR(ms(t["workload_grace_ms"], "workload_grace_ms", &c->workload_grace));
  RS_RETURN_IF_ERROR(ms(t["cutoff_after_ms"], "cutoff_after_ms", &c->cutoff_after));
  RS_RETURN_IF_ERROR(ms(t["miner_warmup_ms"], "miner_warmup_ms", &c->miner_warmup));
  RS_RETURN_IF_ERROR(str(t["network"], "network", &c->network));
  if (c->network != "none" && c->network != "host") return InvalidArgumentError(where + "network must be \"none\" or \"host\"");
  RS_RETURN_IF_ERROR(str(t["podman"], "podman", &c->podman));
  RS_RETURN_IF_ERROR(str(t["podman_run_root"], "podman_run_root", &c->podman_run_root));
  if (auto b = t["container_init"]) {
    if (!b.is_boolean()) return InvalidArgumentError(where + "container_init must be true or false");
    c->container_init = *b.value<bool>();
  }
  std::string cutoff;
  RS_RETURN_IF_ERROR(str(t["on_cutoff"], "on_cutoff", &cutoff));
  if (!cutoff.empty()) {
    if (cutoff != "keep-mining" && cutoff != "stop-mining") {
      return InvalidArgumentError(where + "on_cutoff must be \"keep-mining\" or \"stop-mining\"");
    }
    c->cutoff_stops_mining = cutoff == "stop-mining";
  }
  RS_RETURN_IF_ERROR(argv(t["self_test_command"], "self_test_command", &c->self_test_command));
  RS_RETURN_IF_ERROR(str(t["expect_driver"], "expect_driver", &c->expect_driver));
  RS_RETURN_IF_ERROR(argv(t["reboot_command"], "reboot_command", &c->reboot_command));
  for (auto [key, out] : {std::pair{"watchdog_zero_hashrate", &c->watchdog_zero_hashrate},
                          std::pair{"reboots_per_hour", &c->reboots_per_hour}}) {
    if (auto n = t[key]) {
      if (!n.is_integer() || *n.value<int64_t>() < 0) return InvalidArgumentError(where + key + " must be a whole number >= 0");
      *out = static_cast<int>(*n.value<int64_t>());
    }
  }
  if (auto n = t["watchdog_xid_growth"]) {
    if (!n.is_integer() || *n.value<int64_t>() < 1) return InvalidArgumentError(where + "watchdog_xid_growth must be >= 1");
    c->watchdog_xid_growth = *n.value<int64_t>();
  }
  if (auto m = t["miner"]) {
    const toml::array* list = m.as_array();
    if (list == nullptr) return InvalidArgumentError(where + "miner must be an array of tables ([[miner]])");
    static const std::set<std::string> kMinerKeys = {"coin", "algorithm", "command", "wallet", "pool", "worker",
                                                     "api", "api_path", "api_port", "power_limit_w"};
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::table* mt = (*list)[i].as_table();
      const std::string at = "miner[" + std::to_string(i) + "].";
      if (mt == nullptr) return InvalidArgumentError(where + "miner must be an array of tables ([[miner]])");
      for (const auto& [k, v] : *mt) {
        if (!kMinerKeys.count(std::string(k.str()))) {
          return InvalidArgumentError(where + at + std::string(k.str()) + ": unknown key");
        }
      }
      toml::node_view<const toml::node> view(*mt);
      MinerProfile p;
      auto s = [&](const char* key, std::string* out) -> Status {
        auto n = view[key];
        if (!n) return OkStatus();
        if (!n.is_string()) return InvalidArgumentError(where + at + key + " must be a string");
        *out = *n.value<std::string>();
        return OkStatus();
      };
      RS_RETURN_IF_ERROR(s("coin", &p.coin));
      RS_RETURN_IF_ERROR(s("algorithm", &p.algorithm));
      RS_RETURN_IF_ERROR(s("wallet", &p.wallet));
      RS_RETURN_IF_ERROR(s("pool", &p.pool));
      RS_RETURN_IF_ERROR(s("worker", &p.worker));
      RS_RETURN_IF_ERROR(s("api", &p.api));
      RS_RETURN_IF_ERROR(s("api_path", &p.api_path));
      if (p.coin.empty()) return InvalidArgumentError(where + at + "coin is required");
      if (p.api != "auto") {
        if (auto k = ParseMinerKind(p.api); !k) return InvalidArgumentError(where + at + "api: " + k.error().message());
      }
      if (const toml::array* a = view["command"].as_array()) {
        for (const auto& e : *a) {
          if (!e.is_string()) return InvalidArgumentError(where + at + "command must be a list of strings");
          p.command.push_back(*e.value<std::string>());
        }
      }
      if (p.command.empty()) return InvalidArgumentError(where + at + "command is required (a list of strings)");
      for (auto [key, out] : {std::pair{"api_port", &p.api_port}, std::pair{"power_limit_w", &p.power_limit_w}}) {
        if (auto n = view[key]) {
          if (!n.is_integer() || *n.value<int64_t>() < 0 || *n.value<int64_t>() > 65535) {
            return InvalidArgumentError(where + at + key + " must be a whole number between 0 and 65535");
          }
          *out = static_cast<int>(*n.value<int64_t>());
        }
      }
      if (p.api_port == 0) return InvalidArgumentError(where + at + "api_port is required (the miner's API port)");
      c->miners.push_back(std::move(p));
    }
  }
  return OkStatus();
}

NodeAgent::NodeAgent(AgentConfig config, std::ostream& log) : config_(std::move(config)), log_(log) {}

NodeAgent::~NodeAgent() {
  Stop();
  if (beat_thread_.joinable()) beat_thread_.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void NodeAgent::Stop() {
  stop_ = true;
  wake_.notify_all();
}

std::string NodeAgent::StateTag() const {
  uint32_t h = 2166136261u;  // FNV-1a of the state dir's path, 8 hex digits
  for (char c : std::filesystem::absolute(config_.state_dir).string()) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

std::string NodeAgent::Now() const { return FormatUtc(Timestamp{WallSeconds()}); }

void NodeAgent::Log(const std::string& line) {
  std::lock_guard lock(log_mu_);
  log_ << "rigshift agent: " << Now() << " " << config_.node << ": " << line << std::endl;
}

// ---- start: devices, host, self-test, adoption -------------------------------------------------

Status NodeAgent::Start() {
  std::error_code cwd_ec;
  cwd_ = std::filesystem::current_path(cwd_ec);
  if (cwd_ec) cwd_ = "/";
  if (config_.server.empty()) return InvalidArgumentError("--server is required (the controller's URL)");
  if (config_.token.empty()) return InvalidArgumentError("--token is required (an agent token: rigshift token create --role agent --node NODE)");
  if (config_.node.empty()) return InvalidArgumentError("--node is required (the node's name as the farm declares it)");
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir / "leases", ec);
  std::filesystem::create_directories(config_.state_dir / "miners", ec);
  std::filesystem::create_directories(config_.state_dir / "run", ec);
  if (ec) return UnavailableError("cannot create the state dir " + config_.state_dir.string() + ": " + ec.message());
  if (auto url = net::HttpClient::ForUrl(config_.server, config_.ca_file); !url) {
    return InvalidArgumentError("--server: " + url.error().message());
  }
  // One agent per state dir (and so per node): a second one would adopt the same processes and
  // overwrite the first one's state file, and what each started would be the other's orphan.
  const std::filesystem::path lock_path = config_.state_dir / "agent.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return UnavailableError("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[64] = {0};
    (void)::pread(lock_fd_, holder, sizeof holder - 1, 0);
    return FailedPreconditionError("another rigshift agent (pid " + std::string(holder) + ") uses the state dir " +
                                   config_.state_dir.string() + ": one agent per node; stop it first");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) == 0) (void)::pwrite(lock_fd_, pid.data(), pid.size(), 0);

  if (!config_.fake_devices.empty()) {
    RS_ASSIGN_OR_RETURN(discovery_, ParseFakeDevices(config_.fake_devices, config_.node));
  } else if (!config_.device_file.empty()) {
    std::ifstream in(config_.device_file);
    if (!in) return InvalidArgumentError(config_.device_file + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    RS_ASSIGN_OR_RETURN(discovery_, ParseDeviceFile(ss.str(), config_.device_file, config_.node));
  } else {
    ProbeOptions probe;
    probe.nvml_path = config_.nvml_library;
    probe.run = [this](const std::vector<std::string>& argv) -> Result<std::string> {
      std::filesystem::path out = config_.state_dir / "run" / "probe.out";
      ProcessSpec spec;
      spec.argv = argv;
      spec.log_path = out.string();
      spec.status_path = (config_.state_dir / "run" / "probe.status").string();
      std::error_code rm;
      std::filesystem::remove(out, rm);
      RS_ASSIGN_OR_RETURN(ProcessHandle h, Spawn(spec));
      for (int i = 0; i < 2000 && Poll(h).phase == ProcessPhase::kRunning; ++i) std::this_thread::sleep_for(5ms);
      ProcessState st = Poll(h);
      if (st.phase != ProcessPhase::kExited || st.exit_code != 0) return Err(UnavailableError(argv[0] + ": " + st.ToString()));
      std::ifstream in(out);
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    };
    ProbeResult found = DiscoverGpus(probe);
    for (const std::string& t : found.tried) Log("discovery: " + t);
    discovery_ = std::move(found.discovery);
  }
  if (auto h = ReadHostInfo(config_.state_dir)) host_ = *h;
  if (discovery_.source == "nvml") {
    if (auto n = Nvml::Open(config_.nvml_library)) nvml_ = std::move(*n);  // kept open: telemetry every heartbeat
  }
  Log("discovered " + std::to_string(discovery_.gpus.size()) + " GPU(s) from " + discovery_.source);

  auto conf = WriteContainersConf(config_.state_dir);
  if (conf) containers_conf_ = *conf;
  const char* path = std::getenv("PATH");
  if (auto b = FindInPath("bwrap", path ? path : "/usr/bin:/bin")) bwrap_ = *b;

  // Self-test: the devices answer, the driver matches, a short workload starts and stops on each.
  if (discovery_.gpus.empty()) {
    self_test_failure_ = "no GPU answered (" + discovery_.source + ")";
  } else if (!config_.expect_driver.empty() && discovery_.driver_version.value_or("") != config_.expect_driver) {
    self_test_failure_ = "driver " + discovery_.driver_version.value_or("unknown") + ", expected " + config_.expect_driver;
  } else {
    for (const GpuInfo& g : discovery_.gpus) {
      std::vector<std::string> argv = config_.self_test_command.empty() ? std::vector<std::string>{"true"}
                                                                        : config_.self_test_command;
      for (std::string& a : argv) {
        for (size_t p = a.find("{gpu}"); p != std::string::npos; p = a.find("{gpu}")) a.replace(p, 5, std::to_string(g.index));
      }
      auto code = RunToEnd(argv, {{"CUDA_VISIBLE_DEVICES", std::to_string(g.index)}}, config_.state_dir / "run", 30s);
      if (!code || *code != 0) {
        self_test_failure_ = "GPU " + std::to_string(g.index) + ": the self-test workload " +
                             (code ? "exited with code " + std::to_string(*code) : code.error().message());
        break;
      }
    }
  }
  Log(self_test_failure_ ? "self-test failed: " + *self_test_failure_ : "self-test passed");
  LoadState();
  last_contact_ = std::chrono::steady_clock::now();
  return OkStatus();
}

Status NodeAgent::Run() {
  RS_RETURN_IF_ERROR(Start());
  beat_thread_ = std::thread([this] { BeatLoop(); });
  ControlLoop();
  if (beat_thread_.joinable()) beat_thread_.join();
  std::lock_guard lock(mu_);
  SaveState();
  Log("stopping; what runs keeps running (the next agent adopts it)");
  return fatal_;
}

// ---- the controller -----------------------------------------------------------------------------

Status NodeAgent::Register(net::HttpClient& http) {
  json devices = json::array();
  for (const GpuInfo& g : discovery_.gpus) {
    json d = {{"slot", g.index},
              {"model", ModelName(g.name)},
              {"vram_gb", g.memory_mib ? (*g.memory_mib + 512) / 1024 : 0}};
    if (g.uuid) d["uuid"] = *g.uuid;
    if (g.pcie_gen) d["pcie_gen"] = *g.pcie_gen;
    if (g.pcie_width) d["pcie_width"] = *g.pcie_width;
    if (g.power_min_limit_mw || g.power_max_limit_mw) {
      json p = json::object();
      if (g.power_min_limit_mw) p["min"] = *g.power_min_limit_mw / 1000;
      if (g.power_max_limit_mw) p["max"] = *g.power_max_limit_mw / 1000;
      d["power_limit_w"] = p;
    }
    devices.push_back(std::move(d));
  }
  json host = json::object();
  if (!host_.cpu_model.empty()) host["cpu_model"] = host_.cpu_model;
  // Fake devices stand for a node that is not this machine: its cores and RAM are the farm's
  // declaration, not this host's (which would make every fake node look unfit).
  if (discovery_.source != "fake") {
    if (host_.cpu_cores > 0) host["cpu_cores"] = host_.cpu_cores;
    if (host_.memory_mib > 0) host["ram_mib"] = host_.memory_mib;
  }
  host["disk_free_mib"] = host_.disk_free_mib;
  if (discovery_.driver_version) host["driver_version"] = *discovery_.driver_version;
  json body = {{"node", config_.node}, {"devices", devices}, {"host", host}};
  body["self_test"] = self_test_failure_ ? json{{"passed", false}, {"reason", *self_test_failure_}}
                                         : json{{"passed", true}};
  RS_ASSIGN_OR_RETURN(net::HttpResponse r, http.Send("POST", "/v1/agents/register", body.dump(), config_.token));
  if (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) {
    return FailedPreconditionError("register: HTTP " + std::to_string(r.status) + ": " + r.body);
  }
  if (r.status != 200) return UnavailableError("register: HTTP " + std::to_string(r.status) + ": " + r.body);
  Log("registered with " + config_.server);
  return OkStatus();
}

Result<NodeAgent::Desired> NodeAgent::FetchDesired(net::HttpClient& http, std::optional<int64_t> after) {
  std::string target = "/v1/agents/" + config_.node + "/desired";
  if (after) target += "?after=" + std::to_string(*after) + "&wait_ms=" + std::to_string(config_.desired_wait.count());
  RS_ASSIGN_OR_RETURN(net::HttpResponse r, http.Send("GET", target, {}, config_.token));
  if (r.status == 404) return Err(NotFoundError("desired: " + r.body));
  if (r.status != 200) return Err(UnavailableError("desired: HTTP " + std::to_string(r.status) + ": " + r.body));
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Err(UnavailableError("desired: not JSON"));
  Desired d;
  d.generation = j.value("generation", int64_t{0});
  d.closed = j.value("closed", "");
  d.quarantine = j.value("quarantine", "");
  for (const json& dev : j["devices"]) {
    const int slot = dev.value("slot", 0);
    d.use[slot] = dev.value("use", "idle");
    if (d.use[slot] == "mining") d.coin[slot] = dev.value("coin", "");
    if (d.use[slot] == "contract" && dev.contains("contract") && dev["contract"].is_object()) {
      const json& c = dev["contract"];
      const int64_t id = c.value("id", int64_t{0});
      d.coin[slot] = std::string(kContractMinerPrefix) + std::to_string(id);
      d.contracts[id] = {c.value("algorithm", ""), c.value("pool", ""), c.value("payout_address", "")};
    }
  }
  for (const json& l : j["leases"]) {
    Desired::Lease lease;
    lease.id = l.value("id", int64_t{0});
    lease.slots = l["slots"].get<std::vector<int>>();
    lease.workload = l["workload"];
    if (l["ends_at"].is_string()) {
      if (auto t = ParseUtcTimestamp(l["ends_at"].get<std::string>())) lease.ends_at = t->seconds;
    }
    lease.cpus = l.value("cpus", 0.0);
    lease.memory_mib = l.value("memory_mib", int64_t{0});
    lease.pids = l.value("pids", 0);
    d.leases[lease.id] = std::move(lease);
  }
  return d;
}

void NodeAgent::ControlLoop() {
  auto client = net::HttpClient::ForUrl(config_.server, config_.ca_file, config_.desired_wait + 10s);
  if (!client) {
    Log("cannot use --server: " + client.error().message());
    Stop();
    return;
  }
  net::HttpClient& http = *client;
  std::optional<int64_t> after;
  auto pause = [this](std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, d, [this] { return stop_.load(); });
  };
  std::string last_error;
  while (!stop_) {
    bool registered;
    {
      std::lock_guard lock(mu_);
      registered = registered_;
    }
    if (!registered) {
      Status s = Register(http);
      if (!s.ok() && s.code() == StatusCode::kFailedPrecondition) {
        // The controller refused it (a bad token, a token for another node, a node the farm does
        // not declare, GPUs other than its declaration): retrying cannot help.
        Log("the controller refuses this agent: " + s.message());
        {
          std::lock_guard lock(mu_);
          fatal_ = FailedPreconditionError("the controller refuses this agent: " + s.message());
        }
        Stop();
        return;
      }
      if (!s.ok()) {
        if (s.message() != last_error) Log("cannot register (will retry): " + s.message());
        last_error = s.message();
        pause(2s);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        registered_ = true;
        last_contact_ = std::chrono::steady_clock::now();
      }
      after.reset();  // the whole state once, whatever generation the controller counts from now
    }
    auto d = FetchDesired(http, after);
    if (!d) {
      if (d.error().code() == StatusCode::kNotFound) {
        std::lock_guard lock(mu_);
        registered_ = false;
        continue;
      }
      if (d.error().message() != last_error) Log("desired state: " + d.error().message() + " (will retry)");
      last_error = d.error().message();
      pause(1s);
      continue;
    }
    last_error.clear();
    {
      std::lock_guard lock(mu_);
      last_contact_ = std::chrono::steady_clock::now();
    }
    after = d->generation;
    bool changed;
    {
      std::lock_guard lock(mu_);
      changed = !desired_ || desired_->generation != d->generation || !after;
    }
    Converge(*d);
    if (changed) {
      beat_now_ = true;
      wake_.notify_all();
    }
  }
}

// ---- converging -----------------------------------------------------------------------------------

void NodeAgent::Converge(const Desired& d) {
  std::vector<LocalLease*> started_containers;
  {
    std::lock_guard lock(mu_);
    // 1. Leases no longer wanted (or moved): their workloads stop; logs are shipped after.
    for (auto it = leases_.begin(); it != leases_.end();) {
      auto want = d.leases.find(it->first);
      if (want != d.leases.end() && want->second.slots == it->second->slots) {
        ++it;
        continue;
      }
      StopLease(*it->second, "the controller no longer wants lease " + std::to_string(it->first));
      finished_.push_back(std::move(it->second));
      it = leases_.erase(it);
    }
    // 2. Miners on GPUs that now serve a lease, are drained, or mine another coin, or a coin
    // whose GPUs changed: stopped first, so that the GPUs are free before a workload starts.
    for (auto it = miners_.begin(); it != miners_.end();) {
      std::set<int> want;
      for (const auto& [slot, coin] : d.coin) {
        if (coin == it->first && !drained_.count(slot)) want.insert(slot);
      }
      if (std::set<int>(it->second->slots.begin(), it->second->slots.end()) == want) {
        ++it;
        continue;
      }
      StopMiner(*it->second, want.empty() ? "no GPU mines " + it->first + " now"
                                          : "its GPUs change to " + Join(std::vector<int>(want.begin(), want.end())));
      it = miners_.erase(it);
    }
    // 3. New leases: their workloads start.
    for (const auto& [id, want] : d.leases) {
      if (leases_.count(id)) {
        leases_[id]->ends_at = want.ends_at;
        continue;
      }
      auto l = std::make_unique<LocalLease>();
      l->id = id;
      l->slots = want.slots;
      l->workload = want.workload;
      l->ends_at = want.ends_at;
      l->cpus = want.cpus;
      l->memory_mib = want.memory_mib;
      l->pids = want.pids;
      StartLease(*l);
      if (l->kind == "container" && l->state == "starting") started_containers.push_back(l.get());
      leases_[id] = std::move(l);
    }
    // 4. Miners for the coins (and contracts) whose GPUs have none; a contract's miner reads
    // where to mine from the state just taken.
    desired_ = std::make_unique<Desired>(d);
    std::map<std::string, std::vector<int>> coins;
    for (const auto& [slot, coin] : d.coin) {
      if (!drained_.count(slot)) coins[coin].push_back(slot);
    }
    if (!(cut_off_ && config_.cutoff_stops_mining)) {
      for (const auto& [coin, slots] : coins) {
        if (!miners_.count(coin)) StartMiner(coin, slots);
      }
    }
    generation_ = d.generation;
    SaveState();
  }
  // A container is running once podman says so: watched here (outside the lock) for a few
  // seconds, so that the controller learns it at once; the heartbeat loop checks the rest.
  if (started_containers.empty()) return;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<std::pair<std::string, std::filesystem::path>> names;  // name, its --cidfile
  {
    std::lock_guard lock(mu_);
    for (LocalLease* l : started_containers) {
      names.push_back({l->container, config_.state_dir / "leases" / std::to_string(l->id) / "cid"});
    }
  }
  // Running once the OCI runtime has written the container's pid file (a stat every 2 ms, found
  // through the id podman wrote to --cidfile); `podman container exists` every 200 ms as well,
  // for a podman whose run root is not the default one.
  std::set<std::string> running;
  auto last_exists = std::chrono::steady_clock::now();
  while (running.size() < names.size() && std::chrono::steady_clock::now() < deadline && !stop_) {
    const bool ask_podman = std::chrono::steady_clock::now() - last_exists >= 200ms;
    if (ask_podman) last_exists = std::chrono::steady_clock::now();
    for (const auto& [name, cidfile] : names) {
      if (running.count(name)) continue;
      std::ifstream cid(cidfile);
      std::string id;
      std::getline(cid, id);
      std::error_code ec;
      if (!id.empty() &&
          std::filesystem::exists(std::filesystem::path(config_.podman_run_root) / "overlay-containers" / id /
                                      "userdata" / "pidfile",
                                  ec)) {
        running.insert(name);
        continue;
      }
      if (!ask_podman) continue;
      std::vector<std::pair<std::string, std::string>> env;
      if (!containers_conf_.empty()) env.push_back({"CONTAINERS_CONF", containers_conf_.string()});
      auto code = RunToEnd({config_.podman, "container", "exists", name}, env, config_.state_dir / "run", 2s);
      if (code && *code == 0) running.insert(name);
    }
    if (running.size() < names.size()) std::this_thread::sleep_for(2ms);
  }
  std::lock_guard lock(mu_);
  for (auto& [id, l] : leases_) {
    if (l->kind == "container" && l->state == "starting" && running.count(l->container)) {
      l->state = "running";
      l->started_at = WallSeconds();
      beat_now_ = true;
    }
  }
  wake_.notify_all();
}

void NodeAgent::StartLease(LocalLease& l) {
  const std::filesystem::path dir = config_.state_dir / "leases" / std::to_string(l.id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  l.log_path = (dir / "workload.log").string();
  if (l.workload.is_null()) {
    l.kind = "none";
    l.state = "running";  // nothing to run: the GPUs are the tenant's, idle
    l.started_at = WallSeconds();
    Log("lease " + std::to_string(l.id) + " on GPUs " + Join(l.slots) + ": no workload, the GPUs are held for it");
    return;
  }
  WorkloadSpec spec;
  spec.image = l.workload.value("image", "");
  if (l.workload.contains("command") && l.workload["command"].is_array()) {
    spec.command = l.workload["command"].get<std::vector<std::string>>();
  }
  if (l.workload.contains("env") && l.workload["env"].is_object()) {
    for (const auto& [k, v] : l.workload["env"].items()) spec.env.emplace_back(k, v.get<std::string>());
  }
  WorkloadLimits limits;
  for (int slot : l.slots) {
    limits.gpu_indices.push_back(slot);
    for (const GpuInfo& g : discovery_.gpus) {
      if (g.index == slot && g.uuid && discovery_.source != "fake") limits.gpu_uuids.push_back(*g.uuid);
    }
  }
  if (limits.gpu_uuids.size() != limits.gpu_indices.size()) limits.gpu_uuids.clear();
  limits.cpus = l.cpus;
  limits.memory_mib = l.memory_mib;
  limits.pids = l.pids;
  limits.network = config_.network;
  // The container's name: the lease, the node and this agent's state dir, so that agents of two
  // controllers on one host (tests, a staging farm) never take each other's names.
  limits.lease_id = std::to_string(l.id) + "-" + config_.node + "-" + StateTag();
  ContainerOptions copt;
  copt.podman = config_.podman;
  copt.containers_conf = containers_conf_.string();
  copt.init = config_.container_init;
  copt.labels = {{"rigshift.node", config_.node}, {"rigshift.state_dir", config_.state_dir.string()}};
  SandboxOptions sopt;
  sopt.bwrap = bwrap_;
  sopt.work_dir = dir.string();
  sopt.hide = {config_.state_dir.string()};
  auto launch = WorkloadLaunch(spec, limits, copt, sopt);
  l.kind = spec.image.empty() ? "command" : "container";
  if (l.kind == "container") l.container = ContainerName(limits.lease_id);
  if (!launch) {
    l.state = "failed";
    l.message = launch.error().message();
    l.ended_at = WallSeconds();
    Log("lease " + std::to_string(l.id) + ": cannot start its workload: " + l.message);
    return;
  }
  if (!launch->warning.empty()) Log("lease " + std::to_string(l.id) + ": " + launch->warning);
  ProcessSpec ps;
  ps.argv = launch->argv;
  if (l.kind == "container") {
    // podman writes the container's id here once it is created (it refuses an existing file).
    const std::filesystem::path cid = dir / "cid";
    std::filesystem::remove(cid, ec);
    ps.argv.insert(ps.argv.begin() + 2, {"--cidfile", cid.string()});
  }
  ps.env = launch->env;
  ps.ignore_sigterm = launch->ignore_sigterm;
  ps.log_path = l.log_path;
  ps.status_path = (dir / "status").string();
  ps.cwd = dir.string();
  auto h = Spawn(ps);
  if (!h) {
    l.state = "failed";
    l.message = h.error().message();
    l.ended_at = WallSeconds();
    Log("lease " + std::to_string(l.id) + ": cannot start its workload: " + l.message);
    return;
  }
  l.handle = *h;
  if (l.kind == "command") {
    l.state = "running";
    l.started_at = WallSeconds();
  }
  Log("lease " + std::to_string(l.id) + ": started its " + l.kind + " on GPUs " + Join(l.slots) +
      (l.kind == "container" ? " (" + spec.image + ")" : ""));
}

void NodeAgent::StopLease(LocalLease& l, const std::string& why) {
  if (!l.handle || Poll(*l.handle).phase != ProcessPhase::kRunning) return;
  auto r = agent::Stop(*l.handle, config_.workload_grace);
  if (l.kind == "container") {
    std::vector<std::pair<std::string, std::string>> env;
    if (!containers_conf_.empty()) env.push_back({"CONTAINERS_CONF", containers_conf_.string()});
    ContainerOptions copt;
    copt.podman = config_.podman;
    (void)RunToEnd(ContainerRemoveArgv(copt, l.container), env, config_.state_dir / "run", 10s);
  }
  ProcessState st = Poll(*l.handle);
  if (l.state == "starting" || l.state == "running") {
    l.state = "exited";
    l.exit_code = st.exit_code ? *st.exit_code : 128 + st.signal.value_or(9);
    l.ended_at = WallSeconds();
  }
  Log("lease " + std::to_string(l.id) + ": stopped its workload (" + why + "): " +
      (r ? r->ToString() : r.error().message()));
}

// A contract's miner runs the profile of its algorithm (names compared without case or
// punctuation: "SHA-256" is "sha256"); the farm's own miners, the profile of their coin.
const MinerProfile* NodeAgent::ProfileFor(const std::string& key) const {
  auto squash = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  const MinerProfile* p = nullptr;
  if (key.starts_with(kContractMinerPrefix)) {
    if (!desired_) return nullptr;
    auto c = desired_->contracts.find(std::stoll(key.substr(kContractMinerPrefix.size())));
    if (c == desired_->contracts.end()) return nullptr;
    for (const MinerProfile& m : config_.miners) {
      if (!m.algorithm.empty() && squash(m.algorithm) == squash(c->second.algorithm)) return &m;
    }
    return nullptr;
  }
  for (const MinerProfile& m : config_.miners) {
    if (m.coin == key) p = &m;
  }
  return p;
}

void NodeAgent::StartMiner(const std::string& coin, const std::vector<int>& slots) {
  const bool contract = coin.starts_with(kContractMinerPrefix);
  const MinerProfile* p = ProfileFor(coin);
  if (p == nullptr) {
    if (unprofiled_.insert(coin).second) {  // once per coin, not every heartbeat
      if (contract) {
        std::string algorithm = "?";
        if (desired_) {
          auto c = desired_->contracts.find(std::stoll(coin.substr(kContractMinerPrefix.size())));
          if (c != desired_->contracts.end()) algorithm = c->second.algorithm;
        }
        Log("no miner profile for " + algorithm + " (" + coin + "): its GPUs stay idle (add a [[miner]] with " +
            "algorithm = \"" + algorithm + "\")");
      } else {
        Log("no miner profile for " + coin + ": its GPUs stay idle (add a [[miner]] with coin = \"" + coin + "\")");
      }
    }
    return;
  }
  auto& backoff = backoff_[coin];
  if (!backoff) backoff = std::make_unique<RestartBackoff>(clock_);
  if (!backoff->MayStart()) return;  // the heartbeat loop starts it when the backoff allows
  MinerParams params{p->wallet, p->pool, p->worker.empty() ? config_.node : p->worker, slots, p->api_port};
  if (contract) {
    // The customer's hashrate: its pool and wallet, and an API port apart from the farm's own
    // miner of the profile (which may run beside it on other GPUs of the node).
    const int64_t id = std::stoll(coin.substr(kContractMinerPrefix.size()));
    const Desired::Contract& c = desired_->contracts.at(id);
    params.wallet = c.payout_address;
    params.pool = c.pool;
    params.api_port = ContractApiPort(p->api_port, id);
  }
  auto argv = ExpandMinerTemplate(p->command, params);
  if (!argv) {
    Log("miner " + coin + ": " + argv.error().message());
    return;
  }
  const std::filesystem::path dir = config_.state_dir / "miners";
  ProcessSpec ps;
  ps.argv = *argv;
  WorkloadLimits limits;
  limits.gpu_indices = slots;
  if (auto env = GpuEnv(limits)) ps.env = *env;
  ps.env.emplace_back(std::string(kMinerTag).substr(0, std::string(kMinerTag).size() - 1),
                      config_.node + "/" + StateTag());
  ps.log_path = (dir / (coin + ".log")).string();
  ps.status_path = (dir / (coin + ".status")).string();
  ps.cwd = cwd_.string();  // a profile's relative paths are the operator's, from where the agent started
  auto h = Spawn(ps);
  if (!h) {
    Log("miner " + coin + ": cannot start: " + h.error().message());
    (void)backoff->Exited(ProcessState{ProcessPhase::kExited, 127, std::nullopt, ""});
    return;
  }
  backoff->Started();
  LimitPower(*p, slots);
  auto m = std::make_unique<LocalMiner>();
  m->coin = coin;
  m->slots = slots;
  m->handle = *h;
  m->api_port = params.api_port;
  m->started_at = WallSeconds();
  m->log_path = ps.log_path;
  Log("started miner " + coin + " on GPUs " + Join(slots));
  miners_[coin] = std::move(m);
}

void NodeAgent::LimitPower(const MinerProfile& p, const std::vector<int>& slots) {
  if (!nvml_ || p.power_limit_w <= 0) return;
  std::vector<int> set;
  for (int slot : slots) {
    Status s = nvml_->SetPowerLimit(slot, int64_t{p.power_limit_w} * 1000);
    if (s.ok()) {
      power_limited_.insert(slot);
      set.push_back(slot);
    } else {
      Log("miner " + p.coin + ": power limit " + std::to_string(p.power_limit_w) + " W on GPU " +
          std::to_string(slot) + " not set: " + s.message());
    }
  }
  if (!set.empty()) Log("power limit " + std::to_string(p.power_limit_w) + " W on GPUs " + Join(set) + " for " + p.coin);
}

void NodeAgent::RestorePower(const std::vector<int>& slots) {
  if (!nvml_) return;
  for (int slot : slots) {
    if (!power_limited_.count(slot)) continue;
    auto d = nvml_->DefaultPowerLimit(slot);
    Status s = d ? nvml_->SetPowerLimit(slot, *d) : d.error();
    if (!s.ok()) Log("GPU " + std::to_string(slot) + ": power limit not restored: " + s.message());
    power_limited_.erase(slot);
  }
}

void NodeAgent::StopMiner(LocalMiner& m, const std::string& why) {
  auto r = agent::Stop(m.handle, config_.miner_grace);
  RestorePower(m.slots);
  // Verified free: nothing of the miner's process group is left on the GPUs.
  const bool gone = ProcessGroupMembers(m.handle.pid).empty();
  Log("stopped miner " + m.coin + " on GPUs " + Join(m.slots) + " (" + why + "): " +
      (r ? r->ToString() : r.error().message()) + (gone ? "" : "; processes are left in its group"));
}

// ---- heartbeats, supervision, the watchdog --------------------------------------------------------

void NodeAgent::BeatLoop() {
  auto client = net::HttpClient::ForUrl(config_.server, config_.ca_file, 10s);
  if (!client) return;
  net::HttpClient& http = *client;
  auto logs = net::HttpClient::ForUrl(config_.server, config_.ca_file, 10s);
  auto next = std::chrono::steady_clock::now();
  while (!stop_) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, next, [this] { return stop_.load() || beat_now_.load(); });
    }
    if (stop_) break;
    beat_now_ = false;
    next = std::chrono::steady_clock::now() + config_.heartbeat;
    Status s = Heartbeat(http);
    std::lock_guard lock(mu_);
    if (s.ok()) {
      last_contact_ = std::chrono::steady_clock::now();
      if (cut_off_) {
        cut_off_ = false;
        Log("the controller answers again");
      }
    } else if (s.code() == StatusCode::kNotFound) {
      registered_ = false;  // the control loop registers again
    }
    if (logs) {
      mu_.unlock();
      ShipLogs(*logs);
      mu_.lock();
    }
  }
}

json NodeAgent::Telemetry() {
  // Per slot: the device's sensors (fake: from the use, with faults from STATE_DIR/faults.json).
  json faults = json::object();
  if (discovery_.source == "fake") {
    std::ifstream in(config_.state_dir / "faults.json");
    if (in) faults = json::parse(in, nullptr, false);
    if (faults.is_discarded()) faults = json::object();
  }
  std::map<int, GpuInfo> now;
  if (nvml_) {
    if (auto d = nvml_->Discover()) {
      for (const GpuInfo& g : d->gpus) now[g.index] = g;
    }
  }
  // The miners' own APIs: hashrate and shares per device.
  std::map<int, MinerDevice> mined;
  for (const auto& [coin, m] : miners_) {
    const MinerProfile* p = ProfileFor(coin);
    if (p == nullptr || Poll(m->handle).phase != ProcessPhase::kRunning) continue;
    auto r = net::HttpFetch("http://127.0.0.1:" + std::to_string(m->api_port) + p->api_path, 500ms);
    if (!r || r->status != 200) continue;
    std::optional<MinerKind> kind;
    if (p->api != "auto") kind = *ParseMinerKind(p->api);
    auto stats = ParseMinerAnswer(r->body, kind, coin + " miner");
    if (!stats) continue;
    // The miner numbers its devices by the machine's indices (--devices 2,3 reports 2 and 3), or
    // from 0 among those it was given (CUDA_VISIBLE_DEVICES renumbers them). Relative only when
    // every number fits that and one is not among the GPUs it mines.
    bool relative = !stats->devices.empty();
    bool all_given = true;
    for (const MinerDevice& d : stats->devices) {
      relative = relative && d.index >= 0 && d.index < static_cast<int>(m->slots.size());
      all_given = all_given && std::count(m->slots.begin(), m->slots.end(), d.index) > 0;
    }
    relative = relative && !all_given;
    for (const MinerDevice& d : stats->devices) {
      const int slot = relative ? m->slots[d.index]
                                : (std::count(m->slots.begin(), m->slots.end(), d.index) ? d.index : -1);
      if (slot >= 0) mined[slot] = d;
    }
  }
  json out = json::object();
  for (const GpuInfo& g : discovery_.gpus) {
    const std::string key = std::to_string(g.index);
    json t = json::object();
    const json f = faults.contains(key) ? faults[key] : json::object();
    if (f.value("unresponsive", false)) {
      t["unresponsive"] = true;
      out[key] = t;
      continue;
    }
    bool busy = false;
    for (const auto& [id, l] : leases_) {
      if (std::count(l->slots.begin(), l->slots.end(), g.index) && l->state == "running" && l->kind != "none") busy = true;
    }
    for (const auto& [coin, m] : miners_) {
      if (std::count(m->slots.begin(), m->slots.end(), g.index)) busy = true;
    }
    if (auto it = now.find(g.index); it != now.end()) {
      const GpuInfo& n = it->second;
      if (n.temperature_c) t["temperature_c"] = *n.temperature_c;
      if (n.power_draw_mw) t["power_w"] = *n.power_draw_mw / 1000;
      if (n.utilization_pct) t["utilization_pct"] = *n.utilization_pct;
      if (n.memory_used_mib) t["memory_used_mib"] = *n.memory_used_mib;
      if (n.ecc_uncorrected || n.ecc_corrected) t["ecc_errors"] = n.ecc_uncorrected.value_or(0) + n.ecc_corrected.value_or(0);
    } else if (nvml_) {
      t["unresponsive"] = true;  // NVML answered for the others, not for this one
    } else if (discovery_.source == "fake") {
      const int64_t limit_w = g.power_limit_mw.value_or(250'000) / 1000;
      t["temperature_c"] = busy ? 66 : 34;
      t["power_w"] = busy ? limit_w * 8 / 10 : 18;
      t["utilization_pct"] = busy ? 100 : 0;
      t["memory_used_mib"] = busy ? g.memory_mib.value_or(0) / 2 : 0;
      t["ecc_errors"] = f.value("ecc_errors", int64_t{0});
      t["xid_errors"] = f.value("xid_errors", int64_t{0});
    }
    if (auto it = mined.find(g.index); it != mined.end()) {
      t["hashrate_hs"] = static_cast<int64_t>(it->second.hashrate_hs);
      if (it->second.accepted) t["accepted"] = *it->second.accepted;
      if (it->second.rejected) t["rejected"] = *it->second.rejected;
    }
    out[key] = t;
  }
  return out;
}

// A GPU whose hashrate falls to zero, whose Xid errors climb, or that stops answering is drained
// alone: its miner restarts without it (its lease ends at the controller); the rest keep working.
void NodeAgent::Watch(const json& telemetry) {
  bool changed = false;
  for (const GpuInfo& g : discovery_.gpus) {
    const int slot = g.index;
    if (drained_.count(slot)) continue;
    const std::string key = std::to_string(slot);
    const json t = telemetry.contains(key) ? telemetry[key] : json::object();
    std::string why;
    if (t.value("unresponsive", false)) {
      why = "the GPU stopped answering";
    } else if (t.contains("xid_errors")) {
      const int64_t xid = t["xid_errors"].get<int64_t>();
      auto last = last_xid_.find(slot);
      if (last != last_xid_.end() && xid - last->second >= config_.watchdog_xid_growth) {
        why = "Xid errors climbed from " + std::to_string(last->second) + " to " + std::to_string(xid);
      }
      last_xid_[slot] = xid;
    }
    if (why.empty()) {
      for (const auto& [coin, m] : miners_) {
        if (!std::count(m->slots.begin(), m->slots.end(), slot)) continue;
        if (std::chrono::steady_clock::now() - m->started < config_.miner_warmup) continue;
        if (t.contains("hashrate_hs") && t["hashrate_hs"].get<int64_t>() == 0) {
          if (++zero_hashrate_[slot] >= config_.watchdog_zero_hashrate) {
            why = "its hashrate was 0 for " + std::to_string(zero_hashrate_[slot]) + " heartbeats";
          }
        } else {
          zero_hashrate_[slot] = 0;
        }
      }
    }
    if (why.empty()) continue;
    drained_[slot] = why;
    changed = true;
    Log("GPU " + key + " drained: " + why);
    // Its miner restarts on the other GPUs; a lease on it ends at the controller, whose next
    // desired state stops its workload.
    for (auto it = miners_.begin(); it != miners_.end();) {
      if (!std::count(it->second->slots.begin(), it->second->slots.end(), slot)) {
        ++it;
        continue;
      }
      const std::string coin = it->first;
      std::vector<int> rest;
      for (int s : it->second->slots) {
        if (!drained_.count(s)) rest.push_back(s);
      }
      StopMiner(*it->second, "GPU " + key + " drained");
      it = miners_.erase(it);
      if (!rest.empty()) StartMiner(coin, rest);
    }
  }
  if (!changed) return;
  SaveState();
  // The last step: every GPU drained. Reboot, at most reboots_per_hour.
  if (drained_.size() == discovery_.gpus.size() && !config_.reboot_command.empty()) {
    const int64_t now = WallSeconds();
    std::erase_if(reboots_, [now](int64_t t) { return now - t > 3600; });
    if (static_cast<int>(reboots_.size()) < config_.reboots_per_hour) {
      reboots_.push_back(now);
      SaveState();
      Log("every GPU is drained: running the reboot command");
      auto code = RunToEnd(config_.reboot_command, {}, config_.state_dir / "run", 60s);
      if (!code) Log("reboot command: " + code.error().message());
    } else {
      Log("every GPU is drained, but the reboot limit (" + std::to_string(config_.reboots_per_hour) +
          " per hour) is reached: the node waits for the operator");
    }
  }
}

void NodeAgent::Supervise() {
  const int64_t now = WallSeconds();
  // Workloads: exits, and leases past their end while cut off from the controller.
  for (auto& [id, l] : leases_) {
    if (!l->handle) continue;
    ProcessState st = Poll(*l->handle);
    if (st.phase != ProcessPhase::kRunning && (l->state == "starting" || l->state == "running")) {
      l->exit_code = st.exit_code ? *st.exit_code : 128 + st.signal.value_or(9);
      // When it exited: the shim wrote the status then (the agent may have been down meanwhile,
      // and the lease is billed to this second).
      struct stat sb {};
      l->ended_at = ::stat(l->handle->status_path.c_str(), &sb) == 0 ? std::min<int64_t>(sb.st_mtime, now) : now;
      if (!l->started_at) l->started_at = *l->ended_at;
      // Podman's own errors (125: it could not run the container; 126/127: the command cannot be
      // run) before the container ever ran: the workload failed to start, and says why.
      if (l->kind == "container" && l->state == "starting" && *l->exit_code >= 125 && *l->exit_code <= 127) {
        l->state = "failed";
        l->message = LastLine(l->log_path);
      } else {
        l->state = "exited";
      }
      Log("lease " + std::to_string(id) + ": its workload " + st.ToString() +
          (l->state == "failed" ? " (it failed to start: " + l->message + ")" : ""));
      SaveState();
    }
    if (cut_off_ && l->ends_at && now >= *l->ends_at && st.phase == ProcessPhase::kRunning) {
      StopLease(*l, "its term ended while the controller was unreachable");
    }
  }
  // Miners: restarted with backoff.
  for (auto it = miners_.begin(); it != miners_.end();) {
    ProcessState st = Poll(it->second->handle);
    if (st.phase == ProcessPhase::kRunning) {
      ++it;
      continue;
    }
    auto& backoff = backoff_[it->first];
    if (!backoff) backoff = std::make_unique<RestartBackoff>(clock_);
    RestartDecision d = backoff->Exited(st);
    Log("miner " + it->first + ": " + d.reason);
    RestorePower(it->second->slots);  // set again if it restarts on them
    it = miners_.erase(it);
  }
  if (desired_ && !(cut_off_ && config_.cutoff_stops_mining)) {
    std::map<std::string, std::vector<int>> coins;
    for (const auto& [slot, coin] : desired_->coin) {
      if (!drained_.count(slot)) coins[coin].push_back(slot);
    }
    for (const auto& [coin, slots] : coins) {
      if (!miners_.count(coin) && (!backoff_.count(coin) || backoff_[coin]->MayStart())) StartMiner(coin, slots);
    }
  }
  // Cut off: the operator's policy.
  if (!cut_off_ && std::chrono::steady_clock::now() - last_contact_ > config_.cutoff_after) {
    cut_off_ = true;
    Log(std::string("the controller has not answered for ") + std::to_string(config_.cutoff_after.count() / 1000) +
        " s: leases keep running to their end; mining " + (config_.cutoff_stops_mining ? "stops" : "goes on"));
    if (config_.cutoff_stops_mining) {
      for (auto& [coin, m] : miners_) StopMiner(*m, "cut off from the controller (on_cutoff = stop-mining)");
      miners_.clear();
    }
    SaveState();
  }
}

// Foreign mining processes: those whose name is a miner's and that are not this agent's own.
static std::set<int> ForeignMiningSlots(const std::set<pid_t>& own_groups, int gpus, const std::string& node) {
  std::set<int> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    bool miner = false;
    for (const char* m : kMinerNames) miner = miner || name == m;
    if (!miner) continue;
    const pid_t pgid = getpgid(static_cast<pid_t>(std::stol(pid)));
    if (own_groups.count(pgid)) continue;
    // Its GPUs: CUDA_VISIBLE_DEVICES in its environment, else every GPU.
    std::ifstream env(e.path() / "environ", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    all.insert(0, 1, '\0');  // every variable now follows a NUL, the first one too
    // Another agent's miner (several agents on one host: fake nodes, tests): not this node's.
    const std::string tag = std::string(1, '\0') + kMinerTag;
    if (size_t t = all.find(tag); t != std::string::npos && all.compare(t + tag.size(), node.size() + 1, node + '\0') != 0) {
      continue;
    }
    size_t at = all.find(std::string("\0CUDA_VISIBLE_DEVICES=", 22));
    if (at == std::string::npos) {
      for (int s = 0; s < gpus; ++s) out.insert(s);
      continue;
    }
    at += 1;
    std::string list = all.substr(at + 21, all.find('\0', at) - at - 21);
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) {
      if (!item.empty() && std::all_of(item.begin(), item.end(), ::isdigit)) out.insert(std::stoi(item));
    }
  }
  return out;
}

Status NodeAgent::Heartbeat(net::HttpClient& http) {
  json body;
  {
    std::lock_guard lock(mu_);
    Supervise();
    const json telemetry = Telemetry();
    Watch(telemetry);
    std::set<pid_t> own;
    for (const auto& [coin, m] : miners_) own.insert(m->handle.pid);
    const std::set<int> foreign =
        ForeignMiningSlots(own, static_cast<int>(discovery_.gpus.size()), config_.node + "/" + StateTag());
    json devices = json::array();
    for (const GpuInfo& g : discovery_.gpus) {
      json d = {{"slot", g.index}, {"use", "idle"}};
      for (const auto& [id, l] : leases_) {
        if (std::count(l->slots.begin(), l->slots.end(), g.index)) {
          d["use"] = "lease";
          d["lease"] = id;
        }
      }
      for (const auto& [coin, m] : miners_) {
        if (!std::count(m->slots.begin(), m->slots.end(), g.index)) continue;
        if (d["use"] == "lease") {
          d["mining_observed"] = true;  // our own miner still on a leased GPU: never silent
        } else if (coin.starts_with(kContractMinerPrefix)) {
          d["use"] = "contract";
          d["contract"] = std::stoll(coin.substr(kContractMinerPrefix.size()));
        } else {
          d["use"] = "mining";
          d["coin"] = coin;
        }
      }
      if (foreign.count(g.index)) d["mining_observed"] = true;
      const std::string key = std::to_string(g.index);
      if (telemetry.contains(key)) {
        for (const auto& [k, v] : telemetry[key].items()) {
          if (k != "unresponsive") d[k] = v;
        }
      }
      if (auto it = drained_.find(g.index); it != drained_.end()) d["drained"] = it->second;
      devices.push_back(std::move(d));
    }
    json workloads = json::array();
    for (const auto& [id, l] : leases_) {
      if (l->kind == "none") continue;
      json w = {{"lease", id}, {"state", l->state}};
      if (l->exit_code) w["exit_code"] = std::clamp(*l->exit_code, 0, 255);
      if (l->started_at) w["started_at"] = *l->started_at;
      if (l->ended_at) w["ended_at"] = *l->ended_at;
      if (!l->message.empty()) w["message"] = l->message.substr(0, 250);
      workloads.push_back(std::move(w));
    }
    body = {{"generation", generation_}, {"devices", devices}, {"workloads", workloads}};
  }
  RS_ASSIGN_OR_RETURN(net::HttpResponse r,
                      http.Send("POST", "/v1/agents/" + config_.node + "/heartbeat", body.dump(), config_.token));
  if (r.status == 404) return NotFoundError("heartbeat: " + r.body);
  if (r.status != 200) {
    Log("heartbeat: HTTP " + std::to_string(r.status) + ": " + r.body);
    return UnavailableError("heartbeat: HTTP " + std::to_string(r.status));
  }
  return OkStatus();
}

void NodeAgent::ShipLogs(net::HttpClient& http) {
  struct Pending {
    int64_t id;
    std::string path;
    uint64_t offset;
  };
  std::vector<Pending> todo;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, l] : leases_) {
      if (!l->log_path.empty()) todo.push_back({id, l->log_path, l->log_sent});
    }
    for (const auto& l : finished_) todo.push_back({l->id, l->log_path, l->log_sent});
  }
  std::map<int64_t, uint64_t> sent;
  std::set<int64_t> done;
  for (const Pending& p : todo) {
    uint64_t offset = p.offset;
    for (int round = 0; round < 16; ++round) {
      auto chunk = ReadLog(p.path, offset, 48 * 1024);
      if (!chunk || chunk->data.empty()) {
        done.insert(p.id);
        break;
      }
      auto r = http.Send("POST",
                         "/v1/agents/" + config_.node + "/leases/" + std::to_string(p.id) + "/logs?offset=" +
                             std::to_string(offset),
                         chunk->data, config_.token);
      if (!r) break;
      if (r->status == 200) {
        offset = chunk->next_offset;
        continue;
      }
      // The controller holds another size (it lost a chunk, or has the log from before a
      // restart): send from where it stands.
      json e = json::parse(r->body, nullptr, false);
      std::string msg = e.is_object() && e.contains("error") ? e["error"].value("message", "") : "";
      size_t at = msg.find("send from offset ");
      if (at == std::string::npos) {
        // Refused for good (the controller no longer knows the lease): a finished lease's log is
        // given up rather than sent forever; a running one's is tried again next heartbeat.
        if (r->status >= 400 && r->status < 500) done.insert(p.id);
        Log("lease " + std::to_string(p.id) + ": log not shipped: HTTP " + std::to_string(r->status) + " " + msg);
        break;
      }
      offset = std::stoull(msg.substr(at + 17));
    }
    sent[p.id] = offset;
  }
  std::lock_guard lock(mu_);
  for (auto& [id, l] : leases_) {
    if (sent.count(id)) l->log_sent = sent[id];
  }
  std::erase_if(finished_, [&](const std::unique_ptr<LocalLease>& l) {
    if (sent.count(l->id)) l->log_sent = sent[l->id];
    return done.count(l->id) > 0;
  });
}

// ---- the state file -------------------------------------------------------------------------------

void NodeAgent::SaveState() {
  json leases = json::array();
  for (const auto& [id, l] : leases_) {
    leases.push_back({{"id", id},
                      {"slots", l->slots},
                      {"workload", l->workload},
                      {"ends_at", l->ends_at ? json(*l->ends_at) : json(nullptr)},
                      {"kind", l->kind},
                      {"handle", l->handle ? ProcessHandleToJson(*l->handle) : json(nullptr)},
                      {"container", l->container},
                      {"log_path", l->log_path},
                      {"log_sent", l->log_sent},
                      {"state", l->state},
                      {"exit_code", l->exit_code ? json(*l->exit_code) : json(nullptr)},
                      {"started_at", l->started_at ? json(*l->started_at) : json(nullptr)},
                      {"ended_at", l->ended_at ? json(*l->ended_at) : json(nullptr)},
                      {"message", l->message}});
  }
  json miners = json::array();
  for (const auto& [coin, m] : miners_) {
    miners.push_back({{"coin", coin},
                      {"slots", m->slots},
                      {"handle", ProcessHandleToJson(m->handle)},
                      {"api_port", m->api_port},
                      {"started_at", m->started_at},
                      {"log_path", m->log_path}});
  }
  json drained = json::object();
  for (const auto& [slot, why] : drained_) drained[std::to_string(slot)] = why;
  json state = {{"node", config_.node}, {"generation", generation_}, {"leases", leases},
                {"miners", miners},     {"drained", drained},        {"reboots", reboots_}};
  if (Status s = WriteAtomically(config_.state_dir / "state.json", state.dump(2)); !s.ok()) {
    Log("cannot save the state file: " + s.message());
  }
}

// Adopts what the last agent left running; what the controller no longer wants is stopped at
// the first converge (what is not in the desired state is stopped, like anything unwanted).
void NodeAgent::LoadState() {
  std::ifstream in(config_.state_dir / "state.json");
  if (!in) return;
  json state = json::parse(in, nullptr, false);
  if (state.is_discarded() || !state.is_object()) {
    Log("the state file is not JSON: starting without it");
    return;
  }
  std::lock_guard lock(mu_);
  for (const json& j : state.value("leases", json::array())) {
    auto l = std::make_unique<LocalLease>();
    l->id = j.value("id", int64_t{0});
    l->slots = j.value("slots", std::vector<int>{});
    l->workload = j["workload"];
    if (j["ends_at"].is_number()) l->ends_at = j["ends_at"].get<int64_t>();
    l->kind = j.value("kind", "none");
    if (j["handle"].is_object()) {
      if (auto h = ProcessHandleFromJson(j["handle"])) l->handle = *h;
    }
    l->container = j.value("container", "");
    l->log_path = j.value("log_path", "");
    l->log_sent = j.value("log_sent", uint64_t{0});
    l->state = j.value("state", "running");
    if (j["exit_code"].is_number()) l->exit_code = j["exit_code"].get<int>();
    if (j["started_at"].is_number()) l->started_at = j["started_at"].get<int64_t>();
    if (j["ended_at"].is_number()) l->ended_at = j["ended_at"].get<int64_t>();
    l->message = j.value("message", "");
    const std::string how = l->handle ? Poll(*l->handle).ToString() : "nothing to run";
    Log("adopted lease " + std::to_string(l->id) + " on GPUs " + Join(l->slots) + ": " + how);
    leases_[l->id] = std::move(l);
  }
  for (const json& j : state.value("miners", json::array())) {
    auto h = ProcessHandleFromJson(j["handle"]);
    if (!h || Poll(*h).phase != ProcessPhase::kRunning) continue;
    auto m = std::make_unique<LocalMiner>();
    m->coin = j.value("coin", "");
    m->slots = j.value("slots", std::vector<int>{});
    m->handle = *h;
    m->api_port = j.value("api_port", 0);
    m->started_at = j.value("started_at", int64_t{0});
    m->log_path = j.value("log_path", "");
    Log("adopted miner " + m->coin + " on GPUs " + Join(m->slots));
    miners_[m->coin] = std::move(m);
  }
  for (const auto& [slot, why] : state.value("drained", json::object()).items()) {
    drained_[std::stoi(slot)] = why.get<std::string>();
  }
  reboots_ = state.value("reboots", std::vector<int64_t>{});
  generation_ = state.value("generation", int64_t{0});
}

}  // namespace rigshift::agent
