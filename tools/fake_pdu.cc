// rigshift-fake-pdu: a stand-in metered rack PDU for tests and demos. It serves DMTF Redfish's
// power distribution model over plain HTTP on loopback, as the OCP Rack PDU usage guide lays it
// out (opencomputeproject/HWMgmt-OCP-Profiles; schemas in DMTF DSP0268):
//   GET /redfish/v1                                            service root
//   GET /redfish/v1/PowerEquipment                             {"RackPDUs": {"@odata.id": ...}}
//   GET /redfish/v1/PowerEquipment/RackPDUs[/{pdu}]            the PDU (PowerDistribution)
//   GET /redfish/v1/PowerEquipment/RackPDUs/{pdu}/Outlets[/{outlet}]
//       an Outlet: "PowerWatts": {"Reading": W}, "EnergykWh": {"Reading": kWh, "SensorResetTime"}
//   GET .../Outlets/{outlet}/Metrics                           the same readings (with --metrics-link,
//       the outlet itself carries only {"Metrics": {"@odata.id": ...}})
// Each outlet draws a load set per outlet; its energy counter advances with it, `--speed` times
// faster than real time (3600: one real second is one hour of load).
//
//   rigshift-fake-pdu --port P [--pdu ID] --outlet ID=WATTS [--outlet ...] [--speed N]
//                     [--start-kwh KWH] [--metrics-link]
//
//   POST .../Outlets/{outlet}/Actions/Outlet.PowerControl {"PowerState": "On" | "Off"}
//       switches the outlet (DSP0268's Outlet.PowerControl): off, it draws nothing and its
//       counter stops; its PowerState says which. Answers 204.
// Test controls (POST, answered even while "down"):
//   /fake/outlets/{outlet}/load?watts=N   a new load from now on
//   /fake/outlets/{outlet}/jump?wh=N      the counter jumps forward by N Wh at once
//   /fake/outlets/{outlet}/reset          the counter restarts at 0 with a new SensorResetTime
//   /fake/outlets/{outlet}/blank?on=1|0   Readings become null (a sensor that cannot be read)
//   /fake/outlets/{outlet}/stuck?on=1|0   PowerControl is accepted but the relay stays as it is
//                                         (the machine keeps drawing: a welded contact)
//   /fake/down, /fake/up                  Redfish requests get the connection closed unanswered
// The first line printed is "fake pdu: listening on 127.0.0.1:PORT pid N", then one line per
// request. Exits 0 on SIGTERM or SIGINT, 2 on bad arguments. One connection at a time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "rigshift-fake-pdu: %s\nusage: rigshift-fake-pdu --port P [--pdu ID] --outlet ID=WATTS [--outlet ...] "
               "[--speed N] [--start-kwh KWH] [--metrics-link]\n",
               why.c_str());
  std::exit(2);
}

int64_t ToInt(const std::string& flag, const std::string& v, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < min || n > max) Usage(flag + ": '" + v + "' is not a number in range");
  return n;
}

struct Outlet {
  int64_t watts = 0;
  int64_t energy_mwh = 0;  // the counter, in milliwatt-hours
  int64_t carry = 0;       // W x ms not yet a whole mWh (x 3600)
  Clock::time_point since;
  std::string reset_time = "2024-01-01T00:00:00Z";
  bool blank = false;
  bool on = true;      // PowerState
  bool stuck = false;  // PowerControl changes PowerState but not the draw
  bool relay_on = true;  // what actually feeds the machine
};

struct Options {
  int port = -1;
  std::string pdu = "1";
  std::vector<std::pair<std::string, int64_t>> outlets;
  int64_t speed = 1;
  int64_t start_kwh = 0;
  bool metrics_link = false;
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
      o.port = static_cast<int>(ToInt(a, value(), 0, 65535));
    } else if (a == "--pdu") {
      o.pdu = value();
    } else if (a == "--outlet") {
      std::string v = value();
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) Usage("--outlet wants ID=WATTS, not '" + v + "'");
      o.outlets.emplace_back(v.substr(0, eq), ToInt(a, v.substr(eq + 1), 0, 1'000'000));
    } else if (a == "--speed") {
      o.speed = ToInt(a, value(), 1, 1'000'000);
    } else if (a == "--start-kwh") {
      o.start_kwh = ToInt(a, value(), 0, 1'000'000'000);
    } else if (a == "--metrics-link") {
      o.metrics_link = true;
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  if (o.port < 0) Usage("--port is required");
  if (o.outlets.empty()) Usage("at least one --outlet ID=WATTS is required");
  return o;
}

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(Decode(path.substr(i, j - i)));
    i = j;
  }
  return out;
}

std::string Query(const std::string& query, const std::string& name) {
  size_t i = 0;
  while (i < query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string::npos) amp = query.size();
    std::string kv = query.substr(i, amp - i);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) return eq == std::string::npos ? "" : kv.substr(eq + 1);
    i = amp + 1;
  }
  return "";
}

class FakePdu {
 public:
  explicit FakePdu(const Options& o) : o_(o) {
    for (const auto& [id, watts] : o.outlets) {
      Outlet out;
      out.watts = watts;
      out.energy_mwh = o.start_kwh * 1'000'000;
      out.since = Clock::now();
      outlets_[id] = out;
      order_.push_back(id);
    }
  }

  bool down() const { return down_; }

  // Status and body for one request.
  std::pair<int, json> Handle(const std::string& method, const std::string& path, const std::string& query,
                              const std::string& request_body) {
    std::vector<std::string> s = Segments(path);
    if (!s.empty() && s[0] == "fake") return Control(method, s, query);
    if (method == "POST" && s.size() == 9 && s[0] == "redfish" && s[2] == "PowerEquipment" && s[4] == o_.pdu &&
        s[5] == "Outlets" && s[7] == "Actions" && s[8] == "Outlet.PowerControl") {
      return PowerControl(s[6], request_body);
    }
    if (method != "GET") return {405, Error("method not allowed")};
    std::string root = "/redfish/v1";
    std::string pdu_path = root + "/PowerEquipment/RackPDUs/" + o_.pdu;
    if (s.size() < 2 || s[0] != "redfish" || s[1] != "v1") return {404, Error("not found")};
    if (s.size() == 2) {
      return {200,
              {{"@odata.id", root},
               {"@odata.type", "#ServiceRoot.v1_16_0.ServiceRoot"},
               {"Id", "RootService"},
               {"Name", "Fake PDU Redfish service"},
               {"RedfishVersion", "1.18.0"},
               {"PowerEquipment", {{"@odata.id", root + "/PowerEquipment"}}}}};
    }
    if (s[2] != "PowerEquipment") return {404, Error("not found")};
    if (s.size() == 3) {
      return {200,
              {{"@odata.id", root + "/PowerEquipment"},
               {"@odata.type", "#PowerEquipment.v1_2_0.PowerEquipment"},
               {"Id", "PowerEquipment"},
               {"Name", "Power Equipment"},
               {"RackPDUs", {{"@odata.id", root + "/PowerEquipment/RackPDUs"}}}}};
    }
    if (s[3] != "RackPDUs") return {404, Error("not found")};
    if (s.size() == 4) {
      return {200,
              {{"@odata.id", root + "/PowerEquipment/RackPDUs"},
               {"@odata.type", "#PowerDistributionCollection.PowerDistributionCollection"},
               {"Name", "Rack PDU Collection"},
               {"Members@odata.count", 1},
               {"Members", json::array({{{"@odata.id", pdu_path}}})}}};
    }
    if (s[4] != o_.pdu) return {404, Error("no PDU " + s[4])};
    if (s.size() == 5) {
      return {200,
              {{"@odata.id", pdu_path},
               {"@odata.type", "#PowerDistribution.v1_6_0.PowerDistribution"},
               {"Id", o_.pdu},
               {"EquipmentType", "RackPDU"},
               {"Name", "Rack PDU " + o_.pdu},
               {"Manufacturer", "rigshift"},
               {"Model", "fake-pdu"},
               {"Status", {{"State", "Enabled"}, {"Health", "OK"}}},
               {"Outlets", {{"@odata.id", pdu_path + "/Outlets"}}}}};
    }
    if (s[5] != "Outlets") return {404, Error("not found")};
    if (s.size() == 6) {
      json members = json::array();
      for (const std::string& id : order_) members.push_back({{"@odata.id", pdu_path + "/Outlets/" + id}});
      return {200,
              {{"@odata.id", pdu_path + "/Outlets"},
               {"@odata.type", "#OutletCollection.OutletCollection"},
               {"Name", "Outlet Collection"},
               {"Members@odata.count", members.size()},
               {"Members", members}}};
    }
    auto it = outlets_.find(s[6]);
    if (it == outlets_.end()) return {404, Error("no outlet " + s[6])};
    Outlet& out = it->second;
    Advance(out);
    std::string outlet_path = pdu_path + "/Outlets/" + s[6];
    json readings = {
        {"PowerWatts", {{"DataSourceUri", outlet_path + "/Sensors/Power"}, {"Reading", out.blank ? json(nullptr) : json(Draw(out))}}},
        {"EnergykWh",
         {{"DataSourceUri", outlet_path + "/Sensors/Energy"},
          {"Reading", out.blank ? json(nullptr) : json(static_cast<double>(out.energy_mwh / 1000) / 1000.0)},
          {"SensorResetTime", out.reset_time}}}};
    if (s.size() == 8 && s[7] == "Metrics") {
      json m = {{"@odata.id", outlet_path + "/Metrics"}, {"Id", "Metrics"}, {"Name", "Outlet " + s[6] + " metrics"}};
      m.update(readings);
      return {200, m};
    }
    if (s.size() != 7) return {404, Error("not found")};
    json body = {{"@odata.id", outlet_path},
                 {"@odata.type", "#Outlet.v1_4_1.Outlet"},
                 {"Id", s[6]},
                 {"Name", "Outlet " + s[6]},
                 {"Status", {{"Health", "OK"}, {"State", "Enabled"}}},
                 {"PhaseWiringType", "OnePhase3Wire"},
                 {"VoltageType", "AC"},
                 {"NominalVoltage", "AC200To240V"},
                 {"PowerState", out.on ? "On" : "Off"},
                 {"Actions",
                  {{"#Outlet.PowerControl",
                    {{"target", outlet_path + "/Actions/Outlet.PowerControl"},
                     {"PowerState@Redfish.AllowableValues", {"On", "Off"}}}}}},
                 {"Voltage", {{"DataSourceUri", outlet_path + "/Sensors/Voltage"}, {"Reading", 230.1}}}};
    if (o_.metrics_link) {
      body["Metrics"] = {{"@odata.id", outlet_path + "/Metrics"}};
    } else {
      body.update(readings);
    }
    return {200, body};
  }

 private:
  // What the machine on the outlet draws now: its load while the relay feeds it.
  static int64_t Draw(const Outlet& out) { return out.relay_on ? out.watts : 0; }

  static json Error(const std::string& message) {
    return {{"error", {{"code", "Base.1.0.GeneralError"}, {"message", message}}}};
  }

  std::pair<int, json> PowerControl(const std::string& id, const std::string& body) {
    auto it = outlets_.find(id);
    if (it == outlets_.end()) return {404, Error("no outlet " + id)};
    json b = json::parse(body, nullptr, false);
    std::string state = b.is_object() ? b.value("PowerState", "") : "";
    if (state != "On" && state != "Off") {
      return {400, Error("PowerState must be On or Off, got " + (b.is_object() ? b.dump() : body))};
    }
    Outlet& out = it->second;
    Advance(out);
    out.on = state == "On";
    if (!out.stuck) out.relay_on = out.on;
    return {204, json()};
  }

  void Advance(Outlet& out) const {
    auto now = Clock::now();
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - out.since).count();
    out.since = now;
    out.carry += Draw(out) * ms * o_.speed;  // W x ms; 3600 of them make 1 mWh
    out.energy_mwh += out.carry / 3600;
    out.carry %= 3600;
  }

  std::pair<int, json> Control(const std::string& method, const std::vector<std::string>& s, const std::string& query) {
    if (method != "POST") return {405, Error("controls are POST")};
    if (s.size() == 2 && (s[1] == "down" || s[1] == "up")) {
      down_ = s[1] == "down";
      return {200, {{"down", down_}}};
    }
    if (s.size() != 4 || s[1] != "outlets") return {404, Error("unknown control")};
    auto it = outlets_.find(s[2]);
    if (it == outlets_.end()) return {404, Error("no outlet " + s[2])};
    Outlet& out = it->second;
    Advance(out);
    const std::string& what = s[3];
    if (what == "load") {
      out.watts = std::strtoll(Query(query, "watts").c_str(), nullptr, 10);
    } else if (what == "jump") {
      out.energy_mwh += std::strtoll(Query(query, "wh").c_str(), nullptr, 10) * 1000;
    } else if (what == "reset") {
      out.energy_mwh = 0;
      out.carry = 0;
      out.reset_time = NowIso();
    } else if (what == "blank") {
      out.blank = Query(query, "on") != "0";
    } else if (what == "stuck") {
      out.stuck = Query(query, "on") != "0";
      if (!out.stuck) out.relay_on = out.on;
    } else {
      return {404, Error("unknown control " + what)};
    }
    return {200,
            {{"outlet", s[2]},
             {"watts", out.watts},
             {"draw_w", Draw(out)},
             {"energy_wh", out.energy_mwh / 1000},
             {"blank", out.blank},
             {"power_state", out.on ? "On" : "Off"},
             {"stuck", out.stuck}}};
  }

  const Options& o_;
  std::map<std::string, Outlet> outlets_;
  std::vector<std::string> order_;
  bool down_ = false;
};

// Content-Length of a request's headers (0 when absent).
size_t ContentLength(const std::string& req) {
  size_t end = req.find("\r\n\r\n");
  std::string head = req.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  return static_cast<size_t>(std::strtoull(head.c_str() + at + 17, nullptr, 10));
}

// Whether `req` holds its headers and the whole body they announce.
bool Complete(const std::string& req) {
  size_t end = req.find("\r\n\r\n");
  return end != std::string::npos && req.size() >= end + 4 + ContentLength(req);
}

// The request line, headers and body (a small one): at most 2 s or 64 KiB.
std::string ReadRequest(int fd) {
  std::string req;
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (req.size() < 65536 && !Complete(req)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
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

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Error";
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  FakePdu pdu(o);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
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
    std::fprintf(stderr, "rigshift-fake-pdu: cannot listen on 127.0.0.1:%d: %s\n", o.port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("fake pdu: listening on 127.0.0.1:%d pid %d\n", ntohs(addr.sin_port), static_cast<int>(getpid()));

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
    std::string req = ReadRequest(fd);
    size_t sp1 = req.find(' ');
    size_t sp2 = sp1 == std::string::npos ? std::string::npos : req.find(' ', sp1 + 1);
    if (sp2 == std::string::npos) {
      close(fd);
      continue;
    }
    std::string method = req.substr(0, sp1);
    std::string target = req.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t q = target.find('?');
    std::string path = target.substr(0, q);
    std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    if (pdu.down() && path.rfind("/fake/", 0) != 0) {
      std::printf("fake pdu: %s %s -> (down, no answer)\n", method.c_str(), target.c_str());
      close(fd);
      continue;
    }
    size_t head_end = req.find("\r\n\r\n");
    std::string request_body = head_end == std::string::npos ? "" : req.substr(head_end + 4);
    auto [status, body] = pdu.Handle(method, path, query, request_body);
    std::string text = status == 204 ? "" : body.dump();
    // Logged before answering, so that a test that got the answer finds the line.
    std::printf("fake pdu: %s %s -> %d\n", method.c_str(), target.c_str(), status);
    WriteAll(fd, "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                     "\r\nContent-Type: application/json\r\nOData-Version: 4.0\r\nContent-Length: " +
                     std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text);
    close(fd);
  }
  std::printf("fake pdu: stopping\n");
  close(listener);
  return 0;
}
