#include "agent/cgminer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "agent/text.h"

namespace rigshift::agent {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string Context(std::string_view where, std::string_view what) {
  return std::string(where) + ": " + std::string(what);
}

// A JSON number, or a string holding one (bmminer writes "GHS 5s" as a string).
std::optional<double> Number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return ToDouble(v.get<std::string>());
  return std::nullopt;
}

std::optional<double> NumberAt(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return std::nullopt;
  return Number(*it);
}

std::optional<int64_t> IntAt(const json& obj, std::string_view key) {
  std::optional<double> d = NumberAt(obj, key);
  if (!d || !std::isfinite(*d)) return std::nullopt;
  return static_cast<int64_t>(std::llround(*d));
}

std::string StringAt(const json& obj, std::string_view key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

// The rate fields, shortest window first, with their factor to H/s. Antminer and LuxOS write
// GHS, cgminer and bosminer MHS (API-README's SUMMARY and DEVS), old sgminer KHS.
struct RateField {
  const char* key;
  double factor;
};
constexpr RateField kCurrentRates[] = {
    {"GHS 5s", 1e9}, {"MHS 5s", 1e6}, {"KHS 5s", 1e3}, {"GHS 1m", 1e9}, {"MHS 1m", 1e6},
    {"KHS 1m", 1e3}, {"GHS av", 1e9}, {"MHS av", 1e6}, {"KHS av", 1e3},
};
constexpr RateField kAverageRates[] = {{"GHS av", 1e9}, {"MHS av", 1e6}, {"KHS av", 1e3}};

std::optional<double> Rate(const json& obj, const RateField* begin, const RateField* end) {
  for (const RateField* f = begin; f != end; ++f) {
    if (std::optional<double> v = NumberAt(obj, f->key); v && std::isfinite(*v) && *v >= 0) return *v * f->factor;
  }
  return std::nullopt;
}

// The first element of SECTION, which must be a non-empty array of objects.
Result<json> FirstOf(const json& reply, std::string_view section, std::string_view where) {
  auto it = reply.find(std::string(section));
  if (!reply.is_object() || it == reply.end()) {
    return Err(InvalidArgumentError(Context(where, std::string(section) + ": missing")));
  }
  if (!it->is_array() || it->empty() || !(*it)[0].is_object()) {
    return Err(InvalidArgumentError(Context(where, std::string(section) + ": not a list of objects")));
  }
  return (*it)[0];
}

Result<json> ListOf(const json& reply, std::string_view section, std::string_view where) {
  if (!reply.is_object()) return Err(InvalidArgumentError(Context(where, "not a JSON object")));
  auto it = reply.find(std::string(section));
  if (it == reply.end()) return json::array();  // cgminer leaves the section out when it is empty
  if (!it->is_array()) return Err(InvalidArgumentError(Context(where, std::string(section) + ": not a list")));
  return *it;
}

std::optional<Watts> NonNegativeWatts(std::optional<double> w) {
  if (!w || !std::isfinite(*w) || *w < 0) return std::nullopt;  // -1: the firmware cannot read it
  return Watts(static_cast<int64_t>(std::llround(*w)));
}

std::string Errno(int e) { return std::strerror(e); }

// Rounded up, so that a wait never ends before the deadline.
int64_t MsLeft(Clock::time_point deadline) {
  return std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
}

}  // namespace

std::string_view AsicFirmwareName(AsicFirmware firmware) {
  switch (firmware) {
    case AsicFirmware::kAntminer: return "antminer";
    case AsicFirmware::kBraiins: return "braiins";
    case AsicFirmware::kLuxos: return "luxos";
    case AsicFirmware::kCgminer: return "cgminer";
  }
  return "cgminer";
}

Result<AsicFirmware> ParseAsicFirmware(std::string_view name) {
  std::string n = ToLower(Trim(name));
  if (n == "antminer" || n == "bmminer" || n == "stock") return AsicFirmware::kAntminer;
  if (n == "braiins" || n == "bosminer" || n == "bos" || n == "braiins-os") return AsicFirmware::kBraiins;
  if (n == "luxos" || n == "luxminer") return AsicFirmware::kLuxos;
  if (n == "cgminer") return AsicFirmware::kCgminer;
  return Err(InvalidArgumentError("unknown ASIC firmware '" + std::string(name) +
                                  "': use antminer, braiins, luxos or cgminer"));
}

Result<AsicFirmware> DetectAsicFirmware(const json& version_reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json v, FirstOf(version_reply, "VERSION", where));
  // LuxOS first: it also writes BMMiner and Miner to pass for stock firmware
  // (https://docs.luxor.tech/firmware/api/cgminer/version).
  if (v.contains("LUXminer")) return AsicFirmware::kLuxos;
  for (const char* k : {"BOSminer", "BOSminer+", "BOSer"}) {
    if (v.contains(k)) return AsicFirmware::kBraiins;
  }
  if (v.contains("BMMiner")) return AsicFirmware::kAntminer;
  if (v.contains("CGMiner")) return AsicFirmware::kCgminer;
  std::string keys;
  for (auto it = v.begin(); it != v.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
  return Err(InvalidArgumentError(Context(where, "version: cannot tell the firmware from VERSION keys (" + keys +
                                                     "); pass --firmware")));
}

Result<std::vector<json>> SplitCgminerReply(std::string_view raw, std::string_view where) {
  while (!raw.empty() && (raw.back() == '\0' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == ' ')) {
    raw.remove_suffix(1);
  }
  std::vector<json> out;
  size_t start = std::string_view::npos;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}') {
      if (depth == 0) return Err(InvalidArgumentError(Context(where, "the answer is not JSON: unbalanced '}'")));
      if (--depth == 0) {
        json obj = json::parse(raw.substr(start, i + 1 - start), nullptr, /*allow_exceptions=*/false);
        if (obj.is_discarded()) {
          return Err(InvalidArgumentError(Context(where, "the answer is not JSON: " +
                                                             std::string(raw.substr(start, std::min<size_t>(80, i + 1 - start))))));
        }
        out.push_back(std::move(obj));
      }
    } else if (depth == 0 && c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != ',' && c != '\0') {
      return Err(InvalidArgumentError(Context(where, "the answer is not JSON: '" +
                                                         std::string(raw.substr(i, std::min<size_t>(40, raw.size() - i))) + "'")));
    }
  }
  if (depth != 0 || in_string) return Err(InvalidArgumentError(Context(where, "the answer is cut short")));
  if (out.empty()) return Err(InvalidArgumentError(Context(where, "the answer is empty")));
  return out;
}

Result<json> SectionFor(const std::vector<json>& objects, std::string_view joined, std::string_view command,
                        std::string_view where) {
  if (objects.size() == 1) {
    const json& only = objects[0];
    auto it = only.find(std::string(command));
    if (it != only.end()) {
      if (it->is_array() && !it->empty() && (*it)[0].is_object()) return (*it)[0];
      if (it->is_object()) return *it;
    }
    if (joined.find('+') == std::string_view::npos) return only;
    return Err(NotFoundError(Context(where, std::string(joined) + ": no section for " + std::string(command))));
  }
  // Back-to-back objects: one per joined command, in order.
  std::vector<std::string_view> parts = Split(joined, '+');
  for (size_t i = 0, n = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    if (parts[i] == command && n < objects.size()) return objects[n];
    ++n;
  }
  return Err(NotFoundError(Context(where, std::string(joined) + ": no section for " + std::string(command))));
}

Status CheckCgminerStatus(const json& reply, std::string_view command, std::string_view where) {
  auto it = reply.is_object() ? reply.find("STATUS") : reply.end();
  if (!reply.is_object() || it == reply.end()) {
    return InvalidArgumentError(Context(where, std::string(command) + ": the answer has no STATUS"));
  }
  // The old layout puts the letter in a plain string ("STATUS":"E" with Msg beside it).
  json s = it->is_array() && !it->empty() ? (*it)[0] : reply;
  std::string letter = StringAt(s, "STATUS");
  if (letter == "S" || letter == "I" || letter == "W") return OkStatus();
  std::string msg = StringAt(s, "Msg");
  std::string code = StringAt(s, "Code");
  std::string what = std::string(command) + ": the miner answered " + (letter.empty() ? "?" : letter) +
                     (code.empty() ? "" : " (code " + code + ")") + ": " + (msg.empty() ? "no message" : msg);
  if (letter == "F") return UnavailableError(Context(where, what));
  return InvalidArgumentError(Context(where, what));
}

Result<AsicSummary> ParseAsicSummary(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json s, FirstOf(reply, "SUMMARY", where));
  AsicSummary out;
  std::optional<double> rate = Rate(s, std::begin(kCurrentRates), std::end(kCurrentRates));
  if (!rate) {
    return Err(InvalidArgumentError(
        Context(where, "SUMMARY[0]: no hashrate (GHS 5s, MHS 5s, GHS 1m, MHS 1m, GHS av or MHS av)")));
  }
  out.hashrate_hs = *rate;
  out.hashrate_avg_hs = Rate(s, std::begin(kAverageRates), std::end(kAverageRates));
  out.accepted = IntAt(s, "Accepted");
  out.rejected = IntAt(s, "Rejected");
  out.elapsed_s = IntAt(s, "Elapsed");
  out.power = NonNegativeWatts(NumberAt(s, "Power"));  // Whatsminer (pyasic backends/btminer.py)
  return out;
}

Result<std::vector<AsicBoard>> ParseAsicDevs(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json list, ListOf(reply, "DEVS", where));
  std::vector<AsicBoard> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& d = list[i];
    if (!d.is_object()) {
      return Err(InvalidArgumentError(Context(where, "DEVS[" + std::to_string(i) + "]: not an object")));
    }
    AsicBoard b;
    b.index = static_cast<int>(i);
    for (const char* k : {"ASC", "PGA"}) {
      if (std::optional<int64_t> n = IntAt(d, k)) {
        b.kind = k;
        b.index = static_cast<int>(*n);
        break;
      }
    }
    if (b.kind.empty()) {
      if (std::optional<int64_t> n = IntAt(d, "ID")) b.index = static_cast<int>(*n);
    }
    b.hashrate_hs = Rate(d, std::begin(kCurrentRates), std::end(kCurrentRates));
    if (std::optional<double> t = NumberAt(d, "Temperature"); t && std::isfinite(*t) && *t > 0) b.temperature_c = *t;
    b.status = StringAt(d, "Status");
    std::string enabled = StringAt(d, "Enabled");
    if (enabled == "Y") b.enabled = true;
    if (enabled == "N") b.enabled = false;
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::vector<AsicPool>> ParseAsicPools(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json list, ListOf(reply, "POOLS", where));
  std::vector<AsicPool> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& p = list[i];
    std::string at = "POOLS[" + std::to_string(i) + "]";
    if (!p.is_object()) return Err(InvalidArgumentError(Context(where, at + ": not an object")));
    AsicPool pool;
    std::optional<int64_t> n = IntAt(p, "POOL");
    pool.index = n ? static_cast<int>(*n) : static_cast<int>(i);
    pool.url = StringAt(p, "URL");
    if (pool.url.empty()) return Err(InvalidArgumentError(Context(where, at + ".URL: missing")));
    pool.user = StringAt(p, "User");
    pool.status = StringAt(p, "Status");
    pool.priority = static_cast<int>(IntAt(p, "Priority").value_or(pool.index));
    auto active = p.find("Stratum Active");
    pool.stratum_active = active != p.end() && active->is_boolean() && active->get<bool>();
    out.push_back(std::move(pool));
  }
  return out;
}

Result<std::optional<Watts>> ParseLuxosPower(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json p, FirstOf(reply, "POWER", where));
  return NonNegativeWatts(NumberAt(p, "Watts"));
}

Result<std::optional<Watts>> ParseBraiinsTunerPower(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json t, FirstOf(reply, "TUNERSTATUS", where));
  return NonNegativeWatts(NumberAt(t, "ApproximateMinerPowerConsumption"));
}

Result<bool> ParseLuxosAsleep(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json c, FirstOf(reply, "CONFIG", where));
  auto it = c.find("CurtailMode");
  if (it == c.end() || !it->is_string()) {
    return Err(InvalidArgumentError(Context(where, "CONFIG[0].CurtailMode: missing")));
  }
  return it->get<std::string>() != "None";
}

bool ParseBraiinsPaused(const json& reply) {
  auto it = reply.is_object() ? reply.find("STATUS") : reply.end();
  if (it == reply.end() || !it->is_array() || it->empty()) return false;
  return StringAt((*it)[0], "Msg") == "Unavailable";
}

Result<std::string> ParseLuxosSession(const json& reply, std::string_view where) {
  RS_ASSIGN_OR_RETURN(json s, FirstOf(reply, "SESSION", where));
  auto it = s.find("SessionID");
  if (it == s.end() || !it->is_string()) {
    return Err(InvalidArgumentError(Context(where, "SESSION[0].SessionID: missing")));
  }
  return it->get<std::string>();
}

std::optional<int> AddedPoolIndex(const json& reply) {
  auto it = reply.is_object() ? reply.find("STATUS") : reply.end();
  if (it == reply.end() || !it->is_array() || it->empty()) return std::nullopt;
  std::string msg = StringAt((*it)[0], "Msg");
  constexpr std::string_view kPrefix = "Added pool ";
  if (!StartsWith(msg, kPrefix)) return std::nullopt;
  std::string_view rest = std::string_view(msg).substr(kPrefix.size());
  size_t end = 0;
  while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9') ++end;
  std::optional<int64_t> n = ToInt(rest.substr(0, end));
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

std::string EscapeCgminerParameter(std::string_view field) {
  std::string out;
  for (char c : field) {
    if (c == '\\' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

const AsicPool* AsicState::ActivePool() const {
  for (const AsicPool& p : pools) {
    if (p.stratum_active) return &p;
  }
  const AsicPool* best = nullptr;
  for (const AsicPool& p : pools) {
    if (p.status == "Disabled") continue;
    if (!best || p.priority < best->priority) best = &p;
  }
  return best;
}

json AsicStateToJson(const AsicState& s) {
  auto opt = [](const auto& v) -> json { return v ? json(*v) : json(nullptr); };
  json boards = json::array();
  for (const AsicBoard& b : s.boards) {
    boards.push_back({{"index", b.index},
                      {"kind", b.kind},
                      {"hashrate_hs", opt(b.hashrate_hs)},
                      {"temperature_c", opt(b.temperature_c)},
                      {"status", b.status},
                      {"enabled", opt(b.enabled)}});
  }
  json pools = json::array();
  for (const AsicPool& p : s.pools) {
    pools.push_back({{"index", p.index},
                     {"url", p.url},
                     {"user", p.user},
                     {"status", p.status},
                     {"priority", p.priority},
                     {"stratum_active", p.stratum_active}});
  }
  json active = nullptr;
  if (const AsicPool* p = s.ActivePool()) active = {{"index", p->index}, {"url", p->url}, {"user", p->user}};
  return {{"firmware", AsicFirmwareName(s.firmware)},
          {"hashrate_hs", s.summary.hashrate_hs},
          {"hashrate_avg_hs", opt(s.summary.hashrate_avg_hs)},
          {"accepted", opt(s.summary.accepted)},
          {"rejected", opt(s.summary.rejected)},
          {"elapsed_s", opt(s.summary.elapsed_s)},
          {"power_w", s.power ? json(s.power->raw()) : json(nullptr)},
          {"temperature_c", opt(s.temperature_c)},
          {"asleep", opt(s.asleep)},
          {"active_pool", active},
          {"boards", boards},
          {"pools", pools}};
}

// ---- CgminerClient ----

CgminerClient::CgminerClient(std::string host, uint16_t port, AsicFirmware firmware, CgminerOptions options)
    : host_(std::move(host)), port_(port), firmware_(firmware), options_(options) {
  where_ = (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

Result<std::string> CgminerClient::Exchange(std::string_view label, const std::string& request) {
  auto fail = [&](std::string why) { return Err(UnavailableError(where_ + ": " + std::string(label) + ": " + why)); };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
  if (rc != 0) return fail(std::string("cannot resolve the host: ") + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addrs(found, freeaddrinfo);

  int fd = -1;
  std::string connect_error = "no address";
  for (addrinfo* a = addrs.get(); a != nullptr && fd < 0; a = a->ai_next) {
    int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s < 0) {
      connect_error = Errno(errno);
      continue;
    }
    if (connect(s, a->ai_addr, a->ai_addrlen) == 0) {
      fd = s;
      break;
    }
    if (errno != EINPROGRESS) {
      connect_error = Errno(errno);
      close(s);
      continue;
    }
    pollfd p{s, POLLOUT, 0};
    int r;
    do {
      r = poll(&p, 1, static_cast<int>(options_.connect_timeout.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      connect_error = "no connection within " + std::to_string(options_.connect_timeout.count()) + " ms";
      close(s);
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    if (r < 0 || err != 0) {
      connect_error = Errno(r < 0 ? errno : err);
      close(s);
      continue;
    }
    fd = s;
  }
  if (fd < 0) return fail("cannot connect: " + connect_error);

  auto deadline = Clock::now() + options_.read_timeout;
  std::string reply;
  auto finish = [&](std::optional<std::string> error) -> Result<std::string> {
    close(fd);
    if (error) return fail(*error);
    return reply;
  };
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(MsLeft(deadline))) <= 0) {
        return finish("the request could not be sent within " + std::to_string(options_.read_timeout.count()) + " ms");
      }
      continue;
    }
    return finish("sending the request failed: " + Errno(errno));
  }
  char buf[16384];
  for (;;) {
    // cgminer ends its reply with a NUL byte and closes; a firmware that leaves the connection
    // open is done once the NUL came.
    if (!reply.empty() && reply.back() == '\0') return finish(std::nullopt);
    int64_t left = MsLeft(deadline);
    if (left <= 0) {
      return finish("no complete answer within " + std::to_string(options_.read_timeout.count()) + " ms (" +
                    std::to_string(reply.size()) + " bytes came)");
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return finish("waiting for the answer failed: " + Errno(errno));
    if (r == 0) continue;  // the deadline check above reports it
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return finish("reading the answer failed: " + Errno(errno));
    if (n == 0) {
      if (reply.empty()) return finish("the miner closed the connection without answering");
      return finish(std::nullopt);
    }
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > options_.max_reply_bytes) {
      return finish("the answer is larger than " + std::to_string(options_.max_reply_bytes) + " bytes");
    }
  }
}

Result<json> CgminerClient::Command(std::string_view command, std::string_view parameter) {
  json request = {{"command", command}};
  if (!parameter.empty()) request["parameter"] = parameter;
  std::string label(command);
  if (!parameter.empty()) label += "|" + std::string(parameter);
  // A LuxOS session id is not written into messages.
  if (firmware_ == AsicFirmware::kLuxos && (command == "curtail" || command == "logoff")) label = std::string(command);
  RS_ASSIGN_OR_RETURN(std::string raw, Exchange(label, request.dump()));
  std::string at = where_ + ": " + label;
  RS_ASSIGN_OR_RETURN(std::vector<json> objects, SplitCgminerReply(raw, at));
  if (command.find('+') == std::string_view::npos) {
    RS_ASSIGN_OR_RETURN(json reply, SectionFor(objects, command, command, where_));
    RS_RETURN_IF_ERROR(CheckCgminerStatus(reply, label, where_));
    return reply;
  }
  json whole = json::object();
  for (std::string_view part : Split(command, '+')) {
    if (part.empty()) continue;
    RS_ASSIGN_OR_RETURN(json reply, SectionFor(objects, command, part, where_));
    RS_RETURN_IF_ERROR(CheckCgminerStatus(reply, part, where_));
    whole[std::string(part)] = json::array({reply});
  }
  return whole;
}

Result<AsicSummary> CgminerClient::Summary() {
  RS_ASSIGN_OR_RETURN(json r, Command("summary"));
  return ParseAsicSummary(r, where_ + ": summary");
}

Result<std::vector<AsicBoard>> CgminerClient::Devs() {
  RS_ASSIGN_OR_RETURN(json r, Command("devs"));
  return ParseAsicDevs(r, where_ + ": devs");
}

Result<std::vector<AsicPool>> CgminerClient::Pools() {
  RS_ASSIGN_OR_RETURN(json r, Command("pools"));
  return ParseAsicPools(r, where_ + ": pools");
}

Result<std::optional<Watts>> CgminerClient::Power() {
  switch (firmware_) {
    case AsicFirmware::kLuxos: {
      RS_ASSIGN_OR_RETURN(json r, Command("power"));
      return ParseLuxosPower(r, where_ + ": power");
    }
    case AsicFirmware::kBraiins: {
      RS_ASSIGN_OR_RETURN(json r, Command("tunerstatus"));
      return ParseBraiinsTunerPower(r, where_ + ": tunerstatus");
    }
    case AsicFirmware::kAntminer:
    case AsicFirmware::kCgminer: {
      RS_ASSIGN_OR_RETURN(AsicSummary s, Summary());
      return s.power;
    }
  }
  return std::optional<Watts>();
}

Result<std::optional<bool>> CgminerClient::Asleep() {
  switch (firmware_) {
    case AsicFirmware::kLuxos: {
      RS_ASSIGN_OR_RETURN(json r, Command("config"));
      RS_ASSIGN_OR_RETURN(bool asleep, ParseLuxosAsleep(r, where_ + ": config"));
      return std::optional<bool>(asleep);
    }
    case AsicFirmware::kBraiins: {
      // A paused bosminer answers devdetails with Msg "Unavailable", which may come as an E.
      json request = {{"command", "devdetails"}};
      RS_ASSIGN_OR_RETURN(std::string raw, Exchange("devdetails", request.dump()));
      RS_ASSIGN_OR_RETURN(std::vector<json> objects, SplitCgminerReply(raw, where_ + ": devdetails"));
      if (ParseBraiinsPaused(objects[0])) return std::optional<bool>(true);
      RS_RETURN_IF_ERROR(CheckCgminerStatus(objects[0], "devdetails", where_));
      return std::optional<bool>(false);
    }
    case AsicFirmware::kCgminer: {
      RS_ASSIGN_OR_RETURN(std::vector<AsicBoard> boards, Devs());
      if (boards.empty()) return std::optional<bool>();
      bool all_off = std::all_of(boards.begin(), boards.end(), [](const AsicBoard& b) { return b.enabled == false; });
      return std::optional<bool>(all_off);
    }
    case AsicFirmware::kAntminer:
      return std::optional<bool>();
  }
  return std::optional<bool>();
}

Result<AsicState> CgminerClient::State() {
  AsicState st;
  st.firmware = firmware_;
  RS_ASSIGN_OR_RETURN(st.summary, Summary());
  RS_ASSIGN_OR_RETURN(st.boards, Devs());
  RS_ASSIGN_OR_RETURN(st.pools, Pools());
  if (firmware_ == AsicFirmware::kLuxos || firmware_ == AsicFirmware::kBraiins) {
    RS_ASSIGN_OR_RETURN(st.power, Power());
  } else {
    st.power = st.summary.power;
  }
  if (firmware_ == AsicFirmware::kCgminer) {
    if (!st.boards.empty()) {
      st.asleep = std::all_of(st.boards.begin(), st.boards.end(), [](const AsicBoard& b) { return b.enabled == false; });
    }
  } else {
    RS_ASSIGN_OR_RETURN(st.asleep, Asleep());
  }
  for (const AsicBoard& b : st.boards) {
    if (b.temperature_c && (!st.temperature_c || *b.temperature_c > *st.temperature_c)) st.temperature_c = b.temperature_c;
  }
  return st;
}

Status CgminerClient::Change(std::string_view command, std::string_view parameter, std::string_view logged_parameter) {
  changes_.push_back(std::string(command) + (logged_parameter.empty() ? "" : "|" + std::string(logged_parameter)));
  Result<json> r = Command(command, parameter);
  return r ? OkStatus() : r.error();
}

Status CgminerClient::SwitchPool(int pool) {
  std::string n = std::to_string(pool);
  return Change("switchpool", n, n);
}

Status CgminerClient::EnablePool(int pool) {
  std::string n = std::to_string(pool);
  return Change("enablepool", n, n);
}

Status CgminerClient::DisablePool(int pool) {
  std::string n = std::to_string(pool);
  return Change("disablepool", n, n);
}

Result<int> CgminerClient::AddPool(std::string_view url, std::string_view user, std::string_view password) {
  std::string param = EscapeCgminerParameter(url) + "," + EscapeCgminerParameter(user) + "," +
                      EscapeCgminerParameter(password);
  changes_.push_back("addpool|" + std::string(url) + "," + std::string(user) + ",***");
  RS_ASSIGN_OR_RETURN(json reply, Command("addpool", param));
  if (std::optional<int> n = AddedPoolIndex(reply)) return *n;
  // Older APIs do not say the number: the last pool with this URL and user is the new one.
  RS_ASSIGN_OR_RETURN(std::vector<AsicPool> pools, Pools());
  for (auto it = pools.rbegin(); it != pools.rend(); ++it) {
    if (it->url == url && it->user == user) return it->index;
  }
  return Err(InvalidArgumentError(where_ + ": addpool: the miner said yes but lists no pool " + std::string(url)));
}

Status CgminerClient::LuxosCurtail(std::string_view action) {
  // Sessions: https://docs.luxor.tech/firmware/api/sessions. One session at a time; reuse the
  // active one (as pyasic's LUXMiner does), else log on, and log off what we opened.
  Result<json> current = Command("session");
  if (!current) return current.error();
  RS_ASSIGN_OR_RETURN(std::string session, ParseLuxosSession(*current, where_ + ": session"));
  bool opened = false;
  if (session.empty()) {
    Result<json> logon = Command("logon");
    if (!logon) return logon.error().WithContext("LuxOS needs a session to curtail");
    RS_ASSIGN_OR_RETURN(session, ParseLuxosSession(*logon, where_ + ": logon"));
    if (session.empty()) return InvalidArgumentError(where_ + ": logon: no SessionID in the answer");
    opened = true;
  }
  Status s = Change("curtail", session + "," + std::string(action), "SESSION," + std::string(action));
  if (opened) {
    Result<json> off = Command("logoff", session);
    if (s.ok() && !off) return off.error();
  }
  return s;
}

Status CgminerClient::SetEveryDevice(bool enable) {
  RS_ASSIGN_OR_RETURN(std::vector<AsicBoard> boards, Devs());
  int sent = 0;
  for (const AsicBoard& b : boards) {
    if (b.kind.empty()) continue;
    if (b.enabled == enable) continue;
    std::string cmd = ToLower(b.kind) + (enable ? "enable" : "disable");
    std::string n = std::to_string(b.index);
    RS_RETURN_IF_ERROR(Change(cmd, n, n));
    ++sent;
  }
  bool any = std::any_of(boards.begin(), boards.end(), [](const AsicBoard& b) { return !b.kind.empty(); });
  if (!any) {
    return FailedPreconditionError(where_ + ": cgminer lists no ASC or PGA device in devs, so there is nothing to " +
                                   (enable ? "enable" : "disable"));
  }
  return OkStatus();
}

Status CgminerClient::Sleep() {
  switch (firmware_) {
    case AsicFirmware::kLuxos: return LuxosCurtail("sleep");
    case AsicFirmware::kBraiins: return Change("pause", "", "");
    case AsicFirmware::kCgminer: return SetEveryDevice(false);
    case AsicFirmware::kAntminer: break;
  }
  return FailedPreconditionError(where_ + ": stock Antminer firmware has no sleep command on its API port; its sleep "
                                          "mode is set through the web interface (bitmain-work-mode 1), which "
                                          "rigshift does not drive");
}

Status CgminerClient::Wake() {
  switch (firmware_) {
    case AsicFirmware::kLuxos: return LuxosCurtail("wakeup");
    case AsicFirmware::kBraiins: return Change("resume", "", "");
    case AsicFirmware::kCgminer: return SetEveryDevice(true);
    case AsicFirmware::kAntminer: break;
  }
  return FailedPreconditionError(where_ + ": stock Antminer firmware has no wake command on its API port; its sleep "
                                          "mode is left through the web interface (bitmain-work-mode 0), which "
                                          "rigshift does not drive");
}

}  // namespace rigshift::agent
