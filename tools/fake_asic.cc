// rigshift-fake-asic: a stand-in ASIC miner for tests and demos. It speaks the CGMiner-compatible
// API (one JSON request per TCP connection, one reply, then close) as stock Antminer firmware,
// Braiins OS, LuxOS or cgminer would, answering from the recorded replies in
// tests/fixtures/cgminer/<firmware>/ (see the README there), and it keeps state so that a test
// can see its commands take effect:
//   switchpool|N, enablepool|N, disablepool|N, addpool|URL,USER,PASS change later `pools` answers
//     (priorities, Status "Disabled", Stratum Active) as cgminer's api.c does;
//   sleep (LuxOS `curtail` with a session from `logon`, Braiins `pause`, cgminer `ascdisable|N` on
//     every ASC) makes `summary` and `devs` report 0 hashrate and the power (LuxOS `power`, Braiins
//     `tunerstatus`) drop to 0, with `config` CurtailMode "Sleep" (LuxOS) and `devdetails`
//     "Unavailable" (Braiins); the matching wake (`curtail` wakeup, `resume`, `ascenable|N`)
//     restores them. Stock Antminer firmware has no sleep command on this port, so neither has the
//     fake.
//
//   rigshift-fake-asic --port P --firmware antminer|braiins|luxos|cgminer --fixtures DIR
//                      [--deny COMMAND]... [--silent]
//
// Listens on 127.0.0.1:P (0: any free port); the first line printed is
// "fake asic: listening on 127.0.0.1:PORT pid N". Then one line per request:
// "fake asic: COMMAND[|PARAMETER] -> S|I|W|E". --deny answers COMMAND with cgminer's
// "Access denied to 'COMMAND' command" (E, code 45), as a miner without --api-allow W: does.
// --silent accepts connections and never answers (a miner that hangs). Antminer and cgminer
// replies end with a NUL byte as cgminer's api.c sends them; joined report commands ("summary+devs")
// answer in cgminer's joined layout, or back to back on antminer (as bmminer does).
// Exits 0 on SIGTERM or SIGINT, 2 on bad arguments. One connection at a time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "rigshift-fake-asic: %s\nusage: rigshift-fake-asic --port P --firmware antminer|braiins|luxos|cgminer "
               "--fixtures DIR [--deny COMMAND]... [--silent]\n",
               why.c_str());
  std::exit(2);
}

struct Options {
  int port = -1;
  std::string firmware;
  std::string fixtures;
  std::set<std::string> denied;
  bool silent = false;
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--port") {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0 || n > 65535) Usage("--port: '" + v + "' is not a port");
      o.port = static_cast<int>(n);
    } else if (a == "--firmware") {
      o.firmware = value();
      if (o.firmware != "antminer" && o.firmware != "braiins" && o.firmware != "luxos" && o.firmware != "cgminer") {
        Usage("--firmware must be antminer, braiins, luxos or cgminer");
      }
    } else if (a == "--fixtures") {
      o.fixtures = value();
    } else if (a == "--deny") {
      o.denied.insert(value());
    } else if (a == "--silent") {
      o.silent = true;
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (o.port < 0) Usage("--port is required");
  if (o.firmware.empty()) Usage("--firmware is required");
  if (o.fixtures.empty()) Usage("--fixtures is required");
  return o;
}

json Load(const Options& o, const std::string& name, bool required = true) {
  std::string path = o.fixtures + "/" + o.firmware + "/" + name + ".json";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!required) return nullptr;
    std::fprintf(stderr, "rigshift-fake-asic: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "rigshift-fake-asic: %s is not JSON\n", path.c_str());
    std::exit(2);
  }
  return j;
}

bool IsRateKey(const std::string& k) {
  return k.rfind("GHS ", 0) == 0 || k.rfind("MHS ", 0) == 0 || k.rfind("KHS ", 0) == 0 || k == "Total MH";
}

// Multiplies every hashrate field of `obj` by `f`, keeping strings strings (bmminer's "GHS 5s").
void ScaleRates(json& obj, double f) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!IsRateKey(it.key()) || it.key() == "Total MH") continue;
    if (it->is_number()) {
      *it = it->get<double>() * f;
    } else if (it->is_string()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f", std::strtod(it->get<std::string>().c_str(), nullptr) * f);
      *it = std::string(buf);
    }
  }
}

class FakeAsic {
 public:
  explicit FakeAsic(const Options& o) : o_(o) {
    version_ = Load(o, "version");
    summary_ = Load(o, "summary");
    devs_ = Load(o, "devs");
    json pools = Load(o, "pools");
    for (const json& p : pools["POOLS"]) pools_.push_back(p);
    description_ = version_["STATUS"][0].value("Description", std::string("fake"));
    enabled_.assign(devs_["DEVS"].size(), true);
    if (o.firmware == "luxos") {
      power_ = Load(o, "power");
      config_ = Load(o, "config");
      logon_ = Load(o, "logon");
      curtail_sleep_ = Load(o, "curtail_sleep");
      curtail_wakeup_ = Load(o, "curtail_wakeup");
    }
    if (o.firmware == "braiins") {
      tunerstatus_ = Load(o, "tunerstatus");
      devdetails_ = Load(o, "devdetails");
      devdetails_paused_ = Load(o, "devdetails_paused");
      pause_ = Load(o, "pause");
      resume_ = Load(o, "resume");
    }
  }

  // The bytes to send for one request.
  std::string Answer(const std::string& request) {
    std::string command, parameter;
    json req = json::parse(request, nullptr, false);
    if (!req.is_discarded() && req.is_object()) {
      command = req.value("command", std::string());
      if (req.contains("parameter")) {
        parameter = req["parameter"].is_string() ? req["parameter"].get<std::string>() : req["parameter"].dump();
      }
    } else {  // cgminer's plain-text form, "command|parameter"
      std::string t = request;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
      size_t bar = t.find('|');
      command = t.substr(0, bar);
      if (bar != std::string::npos) parameter = t.substr(bar + 1);
    }
    std::string out;
    if (command.find('+') != std::string::npos) {
      out = Joined(command);
    } else {
      json reply = One(command, parameter, /*joined=*/false);
      Log(command, parameter, reply);
      out = reply.dump();
    }
    if (o_.firmware == "antminer" || o_.firmware == "cgminer") out.push_back('\0');
    return out;
  }

 private:
  json Status(const char* letter, int code, const std::string& msg) const {
    return {{"STATUS", json::array({{{"STATUS", letter},
                                     {"When", static_cast<int64_t>(std::time(nullptr))},
                                     {"Code", code},
                                     {"Msg", msg},
                                     {"Description", description_}}})},
            {"id", 1}};
  }

  void Log(const std::string& command, const std::string& parameter, const json& reply) const {
    std::string letter = "?";
    if (reply.contains("STATUS") && reply["STATUS"].is_array() && !reply["STATUS"].empty()) {
      letter = reply["STATUS"][0].value("STATUS", std::string("?"));
    }
    std::printf("fake asic: %s%s%s -> %s\n", command.c_str(), parameter.empty() ? "" : "|", parameter.c_str(),
                letter.c_str());
  }

  static bool IsReport(const std::string& c) {
    return c == "version" || c == "summary" || c == "devs" || c == "pools" || c == "config" || c == "power" ||
           c == "tunerstatus" || c == "devdetails";
  }

  std::string Joined(const std::string& command) {
    std::vector<std::string> parts;
    std::stringstream ss(command);
    for (std::string p; std::getline(ss, p, '+');) {
      if (!p.empty() && std::find(parts.begin(), parts.end(), p) == parts.end()) parts.push_back(p);
    }
    if (o_.firmware == "antminer") {  // bmminer: the replies back to back
      std::string out;
      for (const std::string& p : parts) {
        json r = IsReport(p) ? One(p, "", true) : Status("E", 45, "Access denied to '" + p + "' command");
        Log(p, "", r);
        out += r.dump();
      }
      return out;
    }
    json whole = json::object();
    for (const std::string& p : parts) {
      json r = IsReport(p) ? One(p, "", true) : Status("E", 45, "Access denied to '" + p + "' command");
      Log(p, "", r);
      whole[p] = json::array({r});
    }
    whole["id"] = 1;
    return whole.dump();
  }

  bool Asleep() const {
    if (o_.firmware == "cgminer") return !enabled_.empty() && std::none_of(enabled_.begin(), enabled_.end(), [](bool b) { return b; });
    return asleep_;
  }

  double RunningFraction() const {
    if (o_.firmware == "cgminer") {
      if (enabled_.empty()) return 1;
      return static_cast<double>(std::count(enabled_.begin(), enabled_.end(), true)) / enabled_.size();
    }
    return asleep_ ? 0 : 1;
  }

  json One(const std::string& command, const std::string& parameter, bool joined) {
    if (o_.denied.count(command)) return Status("E", 45, "Access denied to '" + command + "' command");
    const std::string& fw = o_.firmware;
    if (command == "version") return Fresh(version_);
    if (command == "summary") {
      json r = Fresh(summary_);
      for (json& s : r["SUMMARY"]) ScaleRates(s, RunningFraction());
      return r;
    }
    if (command == "devs") {
      json r = Fresh(devs_);
      for (size_t i = 0; i < r["DEVS"].size(); ++i) {
        json& d = r["DEVS"][i];
        bool on = enabled_[i] && !(fw != "cgminer" && asleep_);
        if (fw == "cgminer") d["Enabled"] = enabled_[i] ? "Y" : "N";
        if (!on) ScaleRates(d, 0);
      }
      return r;
    }
    if (command == "pools") return PoolsReply();
    if (fw == "luxos" && command == "power") {
      json r = Fresh(power_);
      r["POWER"][0]["Watts"] = asleep_ ? json(0) : power_["POWER"][0]["Watts"];
      r["POWER"][0]["PSU"] = !asleep_;
      return r;
    }
    if (fw == "luxos" && command == "config") {
      json r = Fresh(config_);
      r["CONFIG"][0]["CurtailMode"] = asleep_ ? "Sleep" : "None";
      r["CONFIG"][0]["IsPowerSupplyOn"] = !asleep_;
      return r;
    }
    if (fw == "braiins" && command == "tunerstatus") {
      json r = Fresh(tunerstatus_);
      if (asleep_) {
        json& t = r["TUNERSTATUS"][0];
        t["ApproximateMinerPowerConsumption"] = 0;
        t["ApproximateChainPowerConsumption"] = 0;
        for (json& c : t["TunerChainStatus"]) {
          c["ApproximatePowerConsumptionWatt"] = 0;
          c["Status"] = "Paused";
        }
      }
      return r;
    }
    if (fw == "braiins" && command == "devdetails") return Fresh(asleep_ ? devdetails_paused_ : devdetails_);
    if (joined) return Status("E", 14, "Invalid command");

    if (command == "switchpool" || command == "enablepool" || command == "disablepool") return PoolCommand(command, parameter);
    if (command == "addpool") return AddPool(parameter);
    if (fw == "braiins" && (command == "pause" || command == "resume")) {
      asleep_ = command == "pause";
      return Fresh(asleep_ ? pause_ : resume_);
    }
    if (fw == "luxos" && command == "session") {
      return {{"SESSION", json::array({{{"SessionID", session_}}})},
              {"STATUS", Status("S", 319, "Session information")["STATUS"]},
              {"id", 1}};
    }
    if (fw == "luxos" && command == "logon") {
      if (!session_.empty()) return Status("E", 318, "Another session is active");
      session_ = "fk" + std::to_string(++sessions_) + "Xq";
      json r = Fresh(logon_);
      r["SESSION"][0]["SessionID"] = session_;
      return r;
    }
    if (fw == "luxos" && command == "logoff") {
      if (session_.empty() || parameter != session_) return Status("E", 320, "Invalid session id");
      session_.clear();
      return {{"SESSION", json::array({{{"SessionID", ""}}})},
              {"STATUS", Status("S", 317, "Session closed")["STATUS"]},
              {"id", 1}};
    }
    if (fw == "luxos" && command == "curtail") {
      size_t comma = parameter.find(',');
      std::string sid = parameter.substr(0, comma);
      std::string action = comma == std::string::npos ? "" : parameter.substr(comma + 1);
      if (session_.empty() || sid != session_) return Status("E", 320, "Invalid session id");
      if (action != "sleep" && action != "wakeup") return Status("E", 336, "Invalid curtail action '" + action + "'");
      asleep_ = action == "sleep";
      return Fresh(asleep_ ? curtail_sleep_ : curtail_wakeup_);
    }
    if (fw == "cgminer" && (command == "ascenable" || command == "ascdisable")) {
      if (parameter.empty()) return Status("E", 15, "Missing device id parameter");
      char* end = nullptr;
      long n = std::strtol(parameter.c_str(), &end, 10);
      int max = static_cast<int>(enabled_.size()) - 1;
      if (*end != '\0' || n < 0 || n > max) {
        return Status("E", 107, "Invalid ASC id " + parameter + " - range is 0 - " + std::to_string(max));
      }
      bool enable = command == "ascenable";
      std::string id = std::to_string(n);
      if (enabled_[n] == enable) {
        return Status("I", enable ? 108 : 109, "ASC " + id + (enable ? " already enabled" : " already disabled"));
      }
      enabled_[n] = enable;
      return Status("I", enable ? 110 : 111, "ASC " + id + (enable ? " sent enable message" : " set disable flag"));
    }
    return Status("E", 14, "Invalid command");
  }

  json Fresh(const json& tmpl) const {
    json r = tmpl;
    if (r.contains("STATUS") && r["STATUS"].is_array() && !r["STATUS"].empty()) {
      r["STATUS"][0]["When"] = static_cast<int64_t>(std::time(nullptr));
    }
    return r;
  }

  json PoolsReply() const {
    json r = Status("S", 7, std::to_string(pools_.size()) + " Pool(s)");
    json list = json::array();
    for (const json& p : pools_) list.push_back(p);
    json out = {{"STATUS", r["STATUS"]}, {"POOLS", list}, {"id", 1}};
    return out;
  }

  int Find(const std::string& parameter) const {
    if (parameter.empty()) return -2;
    char* end = nullptr;
    long n = std::strtol(parameter.c_str(), &end, 10);
    if (*end != '\0') return -1;
    for (size_t i = 0; i < pools_.size(); ++i) {
      if (pools_[i]["POOL"].get<int>() == n) return static_cast<int>(i);
    }
    return -1;
  }

  // The enabled pool of lowest priority takes the stratum connection.
  void Reconnect() {
    int best = -1;
    for (size_t i = 0; i < pools_.size(); ++i) {
      if (pools_[i]["Status"] == "Disabled") continue;
      if (best < 0 || pools_[i]["Priority"].get<int>() < pools_[best]["Priority"].get<int>()) best = static_cast<int>(i);
    }
    for (size_t i = 0; i < pools_.size(); ++i) pools_[i]["Stratum Active"] = static_cast<int>(i) == best;
  }

  json PoolCommand(const std::string& command, const std::string& parameter) {
    int i = Find(parameter);
    if (i == -2) return Status("E", 25, "Missing pool id parameter");
    if (i < 0) {
      return Status("E", 26, "Invalid pool id " + parameter + " - range is 0 - " + std::to_string(pools_.size() - 1));
    }
    json& p = pools_[i];
    std::string name = std::to_string(p["POOL"].get<int>()) + ":'" + p["URL"].get<std::string>() + "'";
    if (command == "switchpool") {
      // api.c: the pool goes to the highest priority and is enabled; the others keep their order.
      int old = p["Priority"].get<int>();
      for (json& q : pools_) {
        int pr = q["Priority"].get<int>();
        if (pr < old) q["Priority"] = pr + 1;
      }
      p["Priority"] = 0;
      p["Status"] = "Alive";
      Reconnect();
      return Status("S", 27, "Switching to pool " + name);
    }
    if (command == "enablepool") {
      if (p["Status"] != "Disabled") return Status("I", 49, "Pool " + name + " already enabled");
      p["Status"] = "Alive";
      Reconnect();
      return Status("S", 47, "Enabling pool " + name);
    }
    if (p["Status"] == "Disabled") return Status("I", 50, "Pool " + name + " already disabled");
    int enabled = 0;
    for (const json& q : pools_) enabled += q["Status"] != "Disabled";
    if (enabled <= 1) return Status("E", 51, "Cannot disable last active pool " + name);
    p["Status"] = "Disabled";
    Reconnect();
    return Status("S", 48, "Disabling pool " + name);
  }

  json AddPool(const std::string& parameter) {
    if (parameter.empty()) return Status("E", 52, "Missing addpool details");
    std::vector<std::string> fields(1);
    for (size_t i = 0; i < parameter.size(); ++i) {  // API-README: "\\" is '\', "\," a comma
      char c = parameter[i];
      if (c == '\\' && i + 1 < parameter.size()) {
        fields.back() += parameter[++i];
      } else if (c == ',') {
        fields.emplace_back();
      } else {
        fields.back() += c;
      }
    }
    if (fields.size() != 3 || fields[0].empty()) return Status("E", 53, "Invalid addpool details '" + parameter + "'");
    json p = pools_.empty() ? json::object() : pools_.front();
    int index = 0, priority = 0;
    for (const json& q : pools_) {
      index = std::max(index, q["POOL"].get<int>() + 1);
      priority = std::max(priority, q["Priority"].get<int>() + 1);
    }
    p["POOL"] = index;
    p["URL"] = fields[0];
    p["User"] = fields[1];
    p["Status"] = "Alive";
    p["Priority"] = priority;
    p["Stratum Active"] = false;
    p["Accepted"] = 0;
    p["Rejected"] = 0;
    pools_.push_back(p);
    return Status("S", 55, "Added pool " + std::to_string(index) + ": '" + fields[0] + "'");
  }

  const Options& o_;
  json version_, summary_, devs_, power_, config_, logon_, curtail_sleep_, curtail_wakeup_, tunerstatus_, devdetails_,
      devdetails_paused_, pause_, resume_;
  std::vector<json> pools_;
  std::vector<bool> enabled_;
  std::string description_;
  std::string session_;
  int sessions_ = 0;
  bool asleep_ = false;
};

// One request: up to a newline, or until the JSON's braces balance; at most 2 s or 64 KiB.
std::string ReadRequest(int fd) {
  std::string req;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int depth = 0;
  bool in_string = false, escaped = false, seen = false;
  while (req.size() < 65536) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
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
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      req += c;
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        ++depth;
        seen = true;
      } else if (c == '}') {
        --depth;
      }
    }
    if (seen && depth == 0) break;
    if (!seen && req.find('\n') != std::string::npos) break;
  }
  return req;
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

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  FakeAsic asic(o);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: poll() returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 64) != 0) {
    std::fprintf(stderr, "rigshift-fake-asic: cannot listen on 127.0.0.1:%d: %s\n", o.port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("fake asic: listening on 127.0.0.1:%d pid %d\n", ntohs(addr.sin_port), static_cast<int>(getpid()));
  std::printf("fake asic: firmware %s%s\n", o.firmware.c_str(), o.silent ? " (silent)" : "");

  std::deque<int> held;  // --silent: connections accepted and never answered
  while (!g_stop) {
    pollfd p{listener, POLLIN, 0};
    int r = poll(&p, 1, 500);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) continue;
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (o.silent) {
      held.push_back(fd);
      if (held.size() > 64) {
        close(held.front());
        held.pop_front();
      }
      continue;
    }
    std::string request = ReadRequest(fd);
    if (!request.empty()) WriteAll(fd, asic.Answer(request));
    close(fd);
  }
  for (int fd : held) close(fd);
  std::printf("fake asic: stopping\n");
  close(listener);
  return 0;
}
