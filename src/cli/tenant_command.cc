#include "cli/tenant_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>
#include <sstream>
#include <thread>

#include "common/units.h"
#include "net/http_client.h"

namespace rigshift {

namespace {

using nlohmann::json;

std::string Trim(std::string s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  return s.substr(i);
}

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// RFC 3986 unreserved characters pass; everything else is %XX.
std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// A JSON value for a table cell: strings bare, null as "-".
std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A JSON number as people write it: 2.0 as "2", 0.5 as "0.5".
std::string Number(const json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d > -1e15 && d < 1e15 && d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
  }
  return v.dump();
}

// Columns left-aligned, two spaces apart, no trailing blanks.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell
    out << line << "\n";
  }
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

std::string PriceOf(const json& offer, std::string_view kind) {
  for (const auto& p : offer.at("prices")) {
    if (p.at("kind").get<std::string>() == kind) return FormatUsd(p.at("micro_usd_per_gpu_h").get<int64_t>());
  }
  return "-";
}

// The models a lease runs on (its devices'), else the ones it asked for, else "any".
std::string LeaseModels(const json& lease) {
  std::vector<std::string> models;
  for (const auto& d : lease.at("devices")) {
    std::string m = d.at("model").get<std::string>();
    if (std::find(models.begin(), models.end(), m) == models.end()) models.push_back(m);
  }
  if (models.empty()) {
    for (const auto& m : lease.at("models")) models.push_back(m.get<std::string>());
  }
  return models.empty() ? "any" : Join(models, ",");
}

// A string member, or "" when it is absent or null.
std::string StringOr(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || !it->is_string() ? std::string() : it->get<std::string>();
}

// An argument as a POSIX shell reads it back: bare when it is plainly safe, else single-quoted.
std::string ShellQuote(const std::string& arg) {
  auto plain = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("_-./:=@%+,").find(c) != std::string_view::npos;
  };
  if (!arg.empty() && std::all_of(arg.begin(), arg.end(), plain)) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A lease's workload in a few words: its state, with its exit code once it has one ("pending",
// "running", "exited (3)"); "-" for a lease without one.
std::string WorkloadCell(const json& lease) {
  auto it = lease.find("workload");
  if (it == lease.end() || it->is_null()) return "-";
  std::string state = StringOr(*it, "state");
  if (state.empty()) state = "unknown";
  auto code = it->find("exit_code");
  if (code != it->end() && code->is_number_integer())
    state += " (" + std::to_string(code->get<int64_t>()) + ")";
  return state;
}

// A 2xx answer: parsed for rendering, and in the server's own key order for --format json.
struct Answer {
  json value;
  nlohmann::ordered_json as_sent;
};

// One REST call, with the status mapping and the messages every verb shares.
class Client {
 public:
  Client(Connection c, net::HttpClient http) : c_(std::move(c)), http_(std::move(http)) {}

  // The answer's JSON for a 2xx; else the server's error (exit 2 for 4xx, 1 for 5xx) or
  // Unavailable naming the URL when nothing answers.
  Result<Answer> Call(std::string_view method, const std::string& path, const std::string& body = {}) {
    RS_ASSIGN_OR_RETURN(net::HttpResponse r, Fetch(method, path, body));
    try {
      return Answer{json::parse(r.body), nlohmann::ordered_json::parse(r.body)};
    } catch (const json::exception& e) {
      return Err(InternalError(
          fmt::format("{} {}: the server's answer is not JSON ({})", method, c_.base + path, e.what())));
    }
  }

  // A 2xx answer as it came (any body, its headers); errors as Call's.
  Result<net::HttpResponse> Fetch(std::string_view method, const std::string& path,
                                  const std::string& body = {}) {
    std::string target = c_.base + path;
    auto r = http_.Send(method, target, body, c_.token);
    if (!r) {
      std::string message = r.error().message();
      if (message.find(c_.url) == std::string::npos) message = c_.url + ": " + message;
      if (message.find("certificate") != std::string::npos) {
        return Err(UnavailableError(message + " (--ca FILE, RIGSHIFT_CA: the CA that signed the server's certificate)"));
      }
      return Err(UnavailableError(message + "; is `rigshift server` running there? (--server, RIGSHIFT_SERVER)"));
    }
    if (r->status < 200 || r->status > 299) return Err(StatusForHttpError(r->status, r->body));
    return std::move(*r);
  }

 private:
  Connection c_;
  net::HttpClient http_;
};

// Everything the verbs' flags write to. The CLI11 callbacks outlive AddTenantCommands, so they
// share this through a shared_ptr they each hold (CLI11 keeps callbacks as copyable
// std::function, which rules out unique ownership).
struct TenantCli {
  int* exit_code = nullptr;
  ConnectionOptions offers, create, list, show, cancel, logs, invoices, token;
  LeaseCreateOptions lease;
  std::vector<std::string> after_dashes;  // `lease create ... -- CMD ARGS...`
  std::string list_state;
  int64_t show_id = 0, cancel_id = 0, logs_id = 0, logs_offset = 0;
  bool logs_follow = false;
  bool cancel_all_pending = false;
  std::string month;
  std::string token_role, token_tenant, token_node;
};

// `with_format`: the verb renders an answer (table or json); `lease logs` writes bytes.
void AddConnectionFlags(CLI::App& cmd, ConnectionOptions& o, bool with_format = true) {
  cmd.add_option("--server", o.server,
                 std::string("URL of `rigshift server`, http:// or https:// (default: $RIGSHIFT_SERVER, else ") +
                     kDefaultServer + ")");
  cmd.add_option("--ca", o.ca_file,
                 "https: PEM file of the CA that signed the server's certificate (default: $RIGSHIFT_CA, else the "
                 "system's CAs)")
      ->type_name("FILE");
  auto* token = cmd.add_option("--token", o.token, "API token (default: $RIGSHIFT_TOKEN)");
  auto* file = cmd.add_option("--token-file", o.token_file, "Read the API token from this file");
  token->excludes(file);
  if (!with_format) return;
  cmd.add_option("--format", o.format, "table, or json: the server's answer as it is")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

// Runs one verb: resolve the connection, call, render. Any error goes to stderr as
// "rigshift: <message>" and becomes the exit code.
template <typename Fn>
void Run(int* exit_code, const ConnectionOptions& o, Fn&& fn) {
  Status s = [&]() -> Status {
    auto conn = ResolveConnection(o, Env("RIGSHIFT_SERVER"), Env("RIGSHIFT_TOKEN"), Env("RIGSHIFT_CA"));
    if (!conn) return conn.error();
    auto http = net::HttpClient::ForUrl(conn->url, conn->ca_file);
    if (!http) return InvalidArgumentError("--ca: " + http.error().message());
    Client client(std::move(*conn), std::move(*http));
    try {
      return fn(client, o.format == "json");
    } catch (const json::exception& e) {
      return InternalError(std::string("the server's answer is not what docs/api.md describes: ") + e.what());
    }
  }();
  if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
  *exit_code = s.ok() ? 0 : ExitCodeFor(s);
}

Status PrintOrRender(const Result<Answer>& answer, bool as_json, void (*render)(const json&, std::ostream&)) {
  if (!answer) return answer.error();
  if (as_json) {
    std::cout << answer->as_sent.dump(2) << "\n";
  } else {
    render(answer->value, std::cout);
  }
  return OkStatus();
}

Result<int64_t> ParseMicros(const std::string& text, const char* flag) {
  auto v = ParseScaled(text, 6);
  if (!v) return Err(InvalidArgumentError(std::string(flag) + ": " + v.error().message()));
  return *v;
}

// A JSON number for a decimal held as millionths: an integer when whole, else the nearest
// double (the wire format is a JSON number; nothing here sums or prints it).
json MicrosAsNumber(int64_t micros) {
  if (micros % kMicrosPerUnit == 0) return micros / kMicrosPerUnit;
  return static_cast<double>(micros) / kMicrosPerUnit;
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// The workload's "env" from --env NAME=VALUE flags (the value may hold '=' and be empty).
Result<json> EnvFromFlags(const std::vector<std::string>& flags) {
  json env = json::object();
  for (const std::string& flag : flags) {
    size_t eq = flag.find('=');
    if (eq == std::string::npos) {
      return Err(InvalidArgumentError("--env " + flag + ": must be NAME=VALUE, such as --env EPOCHS=3"));
    }
    std::string name = flag.substr(0, eq);
    if (!IsEnvName(name)) {
      return Err(InvalidArgumentError("--env " + flag + ": the name \"" + name +
                                      "\" must be letters, digits and '_', not starting with a digit"));
    }
    if (env.contains(name)) {
      return Err(InvalidArgumentError("--env " + flag + ": " + name + " is already set (--env " + name + "=" +
                                      env[name].get<std::string>() + ")"));
    }
    env[name] = flag.substr(eq + 1);
  }
  return env;
}

// A response header by name (any case); nullopt when absent.
std::optional<std::string> Header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

Result<int64_t> IntHeader(const net::HttpResponse& r, std::string_view name) {
  auto v = Header(r, name);
  int64_t n = 0;
  if (v) {
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec == std::errc() && end == v->data() + v->size() && n >= 0) return n;
  }
  return Err(
      InternalError("the server's log answer has no valid " + std::string(name) + " header (docs/api.md)"));
}

constexpr int64_t kLogChunkBytes = 1 << 20;  // the most the server sends at once
constexpr auto kLogPollInterval = std::chrono::milliseconds(500);

// `lease logs`: the lease's workload log from `offset`, written to `out` byte for byte. Without
// `follow`: what the log holds now. With it: polls from where it stands until the lease has
// ended and a poll made after that brings nothing new (an agent ships a workload's last bytes
// just after it reports the exit), then says on `err` how the lease ended.
Status StreamLog(Client& c, int64_t id, int64_t offset, bool follow, std::ostream& out, std::ostream& err) {
  const std::string path = "/v1/leases/" + std::to_string(id) + "/logs";
  bool warned_truncated = false;
  bool ended_seen = false;
  for (;;) {
    RS_ASSIGN_OR_RETURN(net::HttpResponse r,
                        c.Fetch("GET", path + "?offset=" + std::to_string(offset) +
                                           "&max_bytes=" + std::to_string(kLogChunkBytes)));
    RS_ASSIGN_OR_RETURN(int64_t next, IntHeader(r, "X-Log-Next-Offset"));
    RS_ASSIGN_OR_RETURN(int64_t size, IntHeader(r, "X-Log-Size"));
    const std::string state = Header(r, "X-Lease-State").value_or("");
    out.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
    out.flush();
    if (!out) return UnavailableError("cannot write the log to stdout");
    if (!warned_truncated && Header(r, "X-Log-Truncated").value_or("false") == "true") {
      err << "rigshift: lease " << id
          << "'s log grew past what the server keeps; the bytes beyond were dropped\n";
      warned_truncated = true;
    }
    const bool progressed = next != offset;
    offset = next;
    if (progressed && offset < size) continue;  // more is there already
    if (!follow) return OkStatus();
    const bool live = state == "pending" || state == "running";
    if (!live && !progressed && ended_seen) break;
    if (!live) ended_seen = true;
    std::this_thread::sleep_for(kLogPollInterval);
  }
  auto lease = c.Call("GET", "/v1/leases/" + std::to_string(id));
  if (!lease) return lease.error();
  std::string reason = StringOr(lease->value, "reason");
  err << "lease " << id << " " << StringOr(lease->value, "state") << (reason.empty() ? "" : ": " + reason)
      << "\n";
  return OkStatus();
}

}  // namespace

Result<Connection> ResolveConnection(const ConnectionOptions& o, std::optional<std::string> env_server,
                                     std::optional<std::string> env_token, std::optional<std::string> env_ca) {
  Connection c;
  c.url = !o.server.empty() ? o.server : env_server.value_or(kDefaultServer);
  auto url = net::ParseUrl(c.url);
  if (!url) return Err(InvalidArgumentError("--server: " + url.error().message()));
  c.tls = url->tls;
  c.ca_file = !o.ca_file.empty() ? o.ca_file : env_ca.value_or("");
  if (!c.tls && !c.ca_file.empty()) {
    return Err(InvalidArgumentError("--ca " + c.ca_file + " is for an https:// server, but the server is " + c.url +
                                    ": use its https:// URL (or drop --ca / RIGSHIFT_CA)"));
  }
  c.host = url->host;
  c.port = url->port;
  c.base = url->target.substr(0, url->target.find('?'));
  while (!c.base.empty() && c.base.back() == '/') c.base.pop_back();

  if (!o.token.empty()) {
    c.token = Trim(o.token);
  } else if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in) return Err(InvalidArgumentError("--token-file " + o.token_file + ": cannot read it"));
    std::string line;
    std::getline(in, line);
    c.token = Trim(line);
    if (c.token.empty()) return Err(InvalidArgumentError("--token-file " + o.token_file + ": the file is empty"));
  } else if (env_token) {
    c.token = Trim(*env_token);
  }
  if (c.token.empty()) {
    return Err(InvalidArgumentError(
        "no API token: pass --token TOKEN or --token-file FILE, or set RIGSHIFT_TOKEN (an operator makes one with "
        "`rigshift token create --role tenant --tenant NAME`; the server keeps its operator token in "
        "DATA_DIR/operator.token)"));
  }
  return c;
}

Result<json> BuildLeaseRequest(const LeaseCreateOptions& o) {
  if (o.gpus < 1 || o.gpus > 4096) {
    return Err(InvalidArgumentError("--gpus " + std::to_string(o.gpus) + ": must be between 1 and 4096"));
  }
  json body = json::object();
  body["gpus"] = o.gpus;
  std::vector<std::string> models;
  for (const auto& flag : o.models) {
    std::stringstream in(flag);
    std::string item;
    while (std::getline(in, item, ',')) {
      item = Trim(item);
      if (!item.empty()) models.push_back(item);
    }
  }
  if (!models.empty()) body["models"] = models;
  if (o.min_vram_gb) {
    if (*o.min_vram_gb < 0 || *o.min_vram_gb > 1024) {
      return Err(InvalidArgumentError("--min-vram " + std::to_string(*o.min_vram_gb) + ": must be 0 to 1024 GB"));
    }
    body["min_vram_gb"] = *o.min_vram_gb;
  }
  if (!o.interconnect.empty()) body["interconnect"] = o.interconnect;
  if (!o.hours.empty()) {
    RS_ASSIGN_OR_RETURN(int64_t micro_hours, ParseMicros(o.hours, "--hours"));
    if (micro_hours <= 0 || micro_hours > 8760 * kMicrosPerUnit) {
      return Err(InvalidArgumentError("--hours " + o.hours + ": must be more than 0 and at most 8760 (a year)"));
    }
    body["hours"] = MicrosAsNumber(micro_hours);
  }
  if (!o.kind.empty()) body["kind"] = o.kind;
  if (!o.max_price.empty()) {
    RS_ASSIGN_OR_RETURN(int64_t micro_usd, ParseMicros(o.max_price, "--max-price"));
    if (micro_usd <= 0) return Err(InvalidArgumentError("--max-price " + o.max_price + ": must be more than 0"));
    body["max_price_usd_per_gpu_h"] = MicrosAsNumber(micro_usd);
  } else if (o.kind == "interruptible") {
    return Err(InvalidArgumentError("--kind interruptible needs --max-price: your bid, in USD per GPU-hour"));
  }
  if (o.command && o.command->empty()) {
    return Err(InvalidArgumentError(
        "nothing after `--`: it is followed by the workload's command and its arguments"));
  }
  RS_ASSIGN_OR_RETURN(json env, EnvFromFlags(o.env));
  if (!o.image.empty() || o.command) {
    json workload = json::object();
    if (!o.image.empty()) workload["image"] = o.image;
    if (o.command) workload["command"] = *o.command;
    if (!env.empty()) workload["env"] = std::move(env);
    body["workload"] = std::move(workload);
  } else if (!o.env.empty()) {
    return Err(InvalidArgumentError("--env is for a workload: give --image IMAGE, or a command after `--`"));
  }
  return body;
}

std::string FormatUsd(int64_t micro_usd) {
  std::string s = FormatMoney(Money(micro_usd));
  size_t dot = s.find('.');
  while (s.size() > dot + 3 && s.back() == '0') s.pop_back();
  return s;
}

void PrintOffers(const json& offer_list, std::ostream& out) {
  const json& offers = offer_list.at("offers");
  if (offers.empty()) {
    out << "no offers: no node group serves AI right now\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"GROUP", "MODEL", "VRAM", "GPUS/NODE", "INTERCONNECT", "TIER",
                                                 "FREE/TOTAL", "ON-DEMAND", "INTERRUPTIBLE"}};
  for (const auto& o : offers) {
    rows.push_back({o.at("group").get<std::string>(), o.at("model").get<std::string>(),
                    std::to_string(o.at("vram_gb").get<int64_t>()) + " GB",
                    std::to_string(o.at("gpus_per_node").get<int64_t>()), o.at("interconnect").get<std::string>(),
                    o.at("tier").get<std::string>(),
                    std::to_string(o.at("gpus_free").get<int64_t>()) + "/" +
                        std::to_string(o.at("gpus_total").get<int64_t>()),
                    PriceOf(o, "on_demand"), PriceOf(o, "interruptible")});
  }
  PrintTable(rows, out);
  out << "prices in USD per GPU-hour, at " << Cell(offer_list.at("at")) << "\n";
}

void PrintLeases(const json& lease_list, std::ostream& out) {
  const json& leases = lease_list.at("leases");
  if (leases.empty()) {
    out << "no leases\n";
    return;
  }
  // A WORKLOAD column only when some lease has a workload.
  const bool workloads =
      std::any_of(leases.begin(), leases.end(), [](const json& l) { return WorkloadCell(l) != "-"; });
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "KIND", "GPUS", "MODEL(S)", "PRICE", "STARTED", "BILLED"}};
  if (workloads) rows[0].push_back("WORKLOAD");
  for (const auto& l : leases) {
    rows.push_back({std::to_string(l.at("id").get<int64_t>()), l.at("state").get<std::string>(),
                    l.at("kind").get<std::string>(), std::to_string(l.at("gpus").get<int64_t>()), LeaseModels(l),
                    FormatUsd(l.at("price_micro_usd_per_gpu_h").get<int64_t>()), Cell(l.at("started_at")),
                    FormatUsd(l.at("billed_micro_usd").get<int64_t>())});
    if (workloads) rows.back().push_back(WorkloadCell(l));
  }
  PrintTable(rows, out);
  out << "PRICE in USD per GPU-hour, BILLED in USD\n";
}

void PrintLease(const json& l, std::ostream& out) {
  std::vector<std::string> asked;
  for (const auto& m : l.at("models")) asked.push_back(m.get<std::string>());
  const json& hours = l.at("hours");
  std::vector<std::vector<std::string>> rows = {
      {"id:", std::to_string(l.at("id").get<int64_t>())},
      {"tenant:", l.at("tenant").get<std::string>()},
      {"state:", l.at("state").get<std::string>()},
      {"kind:", l.at("kind").get<std::string>()},
      {"gpus:", std::to_string(l.at("gpus").get<int64_t>())},
      {"models:", asked.empty() ? "any AI-suitable model" : Join(asked, ", ")},
      {"min vram:", std::to_string(l.at("min_vram_gb").get<int64_t>()) + " GB"},
      {"interconnect:", l.at("interconnect").get<std::string>()},
      {"hours:", hours.is_null() ? "until cancelled" : Number(hours)},
      {"price:", FormatUsd(l.at("price_micro_usd_per_gpu_h").get<int64_t>()) + " USD per GPU-hour"},
      {"created:", Cell(l.at("created_at"))},
      {"started:", Cell(l.at("started_at"))},
      {"ended:", Cell(l.at("ended_at"))},
      {"billed:", FormatUsd(l.at("billed_micro_usd").get<int64_t>()) + " USD for " +
                      std::to_string(l.at("billed_seconds").get<int64_t>()) + " s"},
  };
  std::string reason = l.at("reason").get<std::string>();
  if (!reason.empty()) rows.push_back({"reason:", reason});
  if (auto w = l.find("workload"); w != l.end() && !w->is_null()) {
    std::string state = StringOr(*w, "state");
    const json code = w->value("exit_code", json());
    if (code.is_number_integer()) state += " with code " + std::to_string(code.get<int64_t>());
    rows.push_back({"workload:", state});
    std::string image = StringOr(*w, "image");
    rows.push_back({"  image:", image.empty() ? "none: a plain command on the node" : image});
    std::vector<std::string> argv;
    for (const auto& a : w->value("command", json::array())) argv.push_back(ShellQuote(a.get<std::string>()));
    rows.push_back({"  command:", argv.empty() ? "the image's own" : Join(argv, " ")});
    const json env_object = w->value("env", json::object());  // kept: items() refers to it
    std::vector<std::string> env;
    for (const auto& [k, v] : env_object.items()) env.push_back(k + "=" + ShellQuote(v.get<std::string>()));
    if (!env.empty()) rows.push_back({"  env:", Join(env, " ")});
    for (auto [key, label] : {std::pair{"started_at", "  started:"}, std::pair{"ended_at", "  ended:"}}) {
      std::string at = StringOr(*w, key);
      if (!at.empty()) rows.push_back({label, at});
    }
    std::string message = StringOr(*w, "message");
    if (!message.empty()) rows.push_back({"  message:", message});
  }
  const json& devices = l.at("devices");
  rows.push_back({"devices:", devices.empty() ? "none" : ""});
  PrintTable(rows, out);
  std::vector<std::vector<std::string>> device_rows;
  for (const auto& d : devices) {
    device_rows.push_back({"  " + d.at("node").get<std::string>(), "slot " + std::to_string(d.at("slot").get<int64_t>()),
                           d.at("model").get<std::string>()});
  }
  PrintTable(device_rows, out);
}

void PrintInvoices(const json& invoice_list, std::ostream& out) {
  const json& invoices = invoice_list.at("invoices");
  if (invoices.empty()) {
    out << "no invoices\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"MONTH", "TENANT", "LEASE", "GPUS", "SECONDS", "AMOUNT"}};
  for (const auto& inv : invoices) {
    std::string month = inv.at("month").get<std::string>(), tenant = inv.at("tenant").get<std::string>();
    for (const auto& line : inv.at("lines")) {
      rows.push_back({month, tenant, std::to_string(line.at("lease").get<int64_t>()),
                      std::to_string(line.at("gpus").get<int64_t>()),
                      std::to_string(line.at("seconds").get<int64_t>()),
                      FormatUsd(line.at("amount_micro_usd").get<int64_t>())});
    }
    rows.push_back({month, tenant, "total", "", "", FormatUsd(inv.at("total_micro_usd").get<int64_t>())});
  }
  PrintTable(rows, out);
  out << "AMOUNT in USD\n";
}

Status StatusForHttpError(int http_status, const std::string& body) {
  std::string message;
  try {
    json j = json::parse(body);
    message = j.at("error").at("message").get<std::string>();
  } catch (const json::exception&) {
    std::string text = Trim(body);
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    message = text.empty() ? "the server answered with no error message" : text;
  }
  message += " (HTTP " + std::to_string(http_status) + ")";
  if (http_status >= 400 && http_status <= 499) {
    switch (http_status) {
      case 401: return UnauthenticatedError(std::move(message));
      case 403: return PermissionDeniedError(std::move(message));
      case 404: return NotFoundError(std::move(message));
      case 409: return AlreadyExistsError(std::move(message));
      case 422: return FailedPreconditionError(std::move(message));
      case 429: return ResourceExhaustedError(std::move(message));
      default: return InvalidArgumentError(std::move(message));
    }
  }
  if (http_status == 503) return UnavailableError(std::move(message));
  return InternalError(std::move(message));
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInternal:
    case StatusCode::kDataLoss:
    case StatusCode::kUnavailable: return 1;
    default: return 2;
  }
}

void AddTenantCommands(CLI::App& app, int* exit_code) {
  auto cli = std::make_shared<TenantCli>();
  cli->exit_code = exit_code;

  auto* offers = app.add_subcommand("offers", "What GPUs can be rented now, and at what price (GET /v1/offers)");
  AddConnectionFlags(*offers, cli->offers);
  offers->callback([cli] {
    Run(cli->exit_code, cli->offers,
        [](Client& c, bool as_json) { return PrintOrRender(c.Call("GET", "/v1/offers"), as_json, PrintOffers); });
  });

  auto* lease = app.add_subcommand(
      "lease", "Rent GPUs: create, list, show and cancel leases; read their workloads' output");
  lease->require_subcommand(1);

  auto* create = lease->add_subcommand("create", "Ask for GPUs (POST /v1/leases)");
  LeaseCreateOptions& lo = cli->lease;
  create->add_option("--gpus", lo.gpus, "How many GPUs (1 to 4096)")->required();
  // One value per flag: a flag that takes several would also swallow the `--` before a command.
  create
      ->add_option(
          "--model", lo.models,
          "Acceptable GPU model (repeatable, or comma-separated: \"RTX 3090,RTX 4090\"; default any)")
      ->allow_extra_args(false);
  create->add_option("--min-vram", lo.min_vram_gb, "Least VRAM per GPU, GB");
  create->add_option("--interconnect", lo.interconnect, "any, node (one node) or nvlink")
      ->check(CLI::IsMember({"any", "node", "nvlink"}));
  create->add_option("--hours", lo.hours, "How long (default: until cancelled)");
  create->add_option("--kind", lo.kind, "on_demand (default), interruptible (needs --max-price) or reserved")
      ->check(CLI::IsMember({"on_demand", "interruptible", "reserved"}));
  create->add_option("--max-price", lo.max_price, "Most you pay, USD per GPU-hour (the bid, for interruptible)");
  create->add_option(
      "--image", lo.image,
      "Run this OCI image on the lease's GPUs (\"localhost/train:1\"); its command goes after `--`");
  create->add_option("--env", lo.env, "NAME=VALUE in the workload's environment (repeatable)")
      ->allow_extra_args(false)  // as --model
      ->type_name("NAME=VALUE");
  // CLI11 puts every argument after `--` here, verbatim, and `--` itself among the create
  // command's leftovers (remaining()), which is how the callback tells the two apart.
  create->add_option(
      "command", cli->after_dashes,
      "After `--`: the workload's command and its arguments, as they are. Without --image a plain "
      "command on the node, which the farm allows only for tenants its operator trusts");
  create->footer(
      "Example: rigshift lease create --gpus 1 --model \"RTX 3090\" --image localhost/train:1 \\\n"
      "           --env EPOCHS=3 -- python train.py --lr 0.1\n"
      "The workload's output: rigshift lease logs ID --follow");
  AddConnectionFlags(*create, cli->create);
  create->callback([cli, create] {
    const std::vector<std::string> rest = create->remaining();
    const bool dashes = std::find(rest.begin(), rest.end(), "--") != rest.end();
    cli->lease.command.reset();
    if (dashes) cli->lease.command = cli->after_dashes;
    Run(cli->exit_code, cli->create, [&](Client& c, bool as_json) -> Status {
      if (!dashes && !cli->after_dashes.empty()) {
        std::vector<std::string> quoted;
        for (const auto& a : cli->after_dashes) quoted.push_back(ShellQuote(a));
        return InvalidArgumentError(
            "unexpected argument(s) " + Join(quoted, " ") +
            ": a workload's command goes after `--` (lease create ... --image IMAGE -- CMD ARGS...)");
      }
      RS_ASSIGN_OR_RETURN(json body, BuildLeaseRequest(cli->lease));
      auto lease = c.Call("POST", "/v1/leases", body.dump());
      RS_RETURN_IF_ERROR(PrintOrRender(lease, as_json, PrintLease));
      if (as_json) return OkStatus();
      const int64_t id = lease->value.at("id").get<int64_t>();
      if (lease->value.at("state") == "pending") {
        std::cout << "pending: it is placed when GPUs free up; follow it with `rigshift lease show " << id
                  << "`\n";
      }
      if (body.contains("workload"))
        std::cout << "its workload's output: `rigshift lease logs " << id << " --follow`\n";
      return OkStatus();
    });
  });

  auto* list = lease->add_subcommand("list", "Your leases (GET /v1/leases)");
  list->add_option("--state", cli->list_state, "Only leases in this state")
      ->check(CLI::IsMember({"pending", "running", "ended", "cancelled", "preempted", "lost"}));
  AddConnectionFlags(*list, cli->list);
  list->callback([cli] {
    Run(cli->exit_code, cli->list, [&](Client& c, bool as_json) {
      std::string path = "/v1/leases";
      if (!cli->list_state.empty()) path += "?state=" + PercentEncode(cli->list_state);
      return PrintOrRender(c.Call("GET", path), as_json, PrintLeases);
    });
  });

  auto* show = lease->add_subcommand("show", "One lease, every field (GET /v1/leases/ID)");
  show->add_option("id", cli->show_id, "Lease id")->required()->check(CLI::PositiveNumber);
  AddConnectionFlags(*show, cli->show);
  show->callback([cli] {
    Run(cli->exit_code, cli->show, [&](Client& c, bool as_json) {
      return PrintOrRender(c.Call("GET", "/v1/leases/" + std::to_string(cli->show_id)), as_json, PrintLease);
    });
  });

  auto* cancel = lease->add_subcommand(
      "cancel", "End a lease now; it is billed to this second (DELETE /v1/leases/ID), or withdraw every waiting request");
  auto* id_opt = cancel->add_option("id", cli->cancel_id, "Lease id")->check(CLI::PositiveNumber);
  auto* all_opt = cancel->add_flag("--all-pending", cli->cancel_all_pending,
                                   "Withdraw every request of yours still waiting (DELETE /v1/leases?state=pending)");
  id_opt->excludes(all_opt);
  AddConnectionFlags(*cancel, cli->cancel);
  cancel->callback([cli] {
    Run(cli->exit_code, cli->cancel, [&](Client& c, bool as_json) -> Status {
      if (cli->cancel_all_pending) {
        auto all = c.Call("DELETE", "/v1/leases?state=pending");
        if (!all) return all.error();
        if (as_json) {
          std::cout << all->as_sent.dump(2) << "\n";
        } else {
          const json& list = all->value.at("cancelled");
          std::cout << list.size() << " waiting request(s) withdrawn";
          for (size_t i = 0; i < list.size(); ++i) std::cout << (i ? ", " : ": ") << list[i].at("id").get<int64_t>();
          std::cout << "\n";
        }
        return OkStatus();
      }
      if (cli->cancel_id <= 0) return InvalidArgumentError("lease cancel needs a lease id, or --all-pending");
      auto l = c.Call("DELETE", "/v1/leases/" + std::to_string(cli->cancel_id));
      if (!l) return l.error();
      const json& v = l->value;
      if (as_json) {
        std::cout << l->as_sent.dump(2) << "\n";
      } else {
        std::cout << "lease " << v.at("id").get<int64_t>() << " " << v.at("state").get<std::string>() << ", billed "
                  << FormatUsd(v.at("billed_micro_usd").get<int64_t>()) << " USD for "
                  << v.at("billed_seconds").get<int64_t>() << " s\n";
      }
      return OkStatus();
    });
  });

  auto* logs = lease->add_subcommand("logs",
                                     "A lease's workload output, byte for byte (GET /v1/leases/ID/logs); "
                                     "with --follow, until the lease ends");
  logs->add_option("id", cli->logs_id, "Lease id")->required()->check(CLI::PositiveNumber);
  logs->add_flag(
      "--follow,-f", cli->logs_follow,
      "Keep printing as the workload writes (polls every 500 ms) until the lease has ended; then say how "
      "it ended on stderr and exit 0, whatever the workload's exit code");
  logs->add_option("--offset", cli->logs_offset, "Start this many bytes into the log")->capture_default_str();
  AddConnectionFlags(*logs, cli->logs, /*with_format=*/false);
  logs->callback([cli] {
    Run(cli->exit_code, cli->logs, [&](Client& c, bool) -> Status {
      if (cli->logs_offset < 0) {
        return InvalidArgumentError("--offset " + std::to_string(cli->logs_offset) +
                                    ": must be 0 or more (bytes)");
      }
      return StreamLog(c, cli->logs_id, cli->logs_offset, cli->logs_follow, std::cout, std::cerr);
    });
  });

  auto* invoices = app.add_subcommand("invoices", "Your invoices, one per month (GET /v1/invoices)");
  invoices->add_option("--month", cli->month, "Only this month, YYYY-MM");
  AddConnectionFlags(*invoices, cli->invoices);
  invoices->callback([cli] {
    Run(cli->exit_code, cli->invoices, [&](Client& c, bool as_json) {
      std::string path = "/v1/invoices";
      if (!cli->month.empty()) path += "?month=" + PercentEncode(cli->month);
      return PrintOrRender(c.Call("GET", path), as_json, PrintInvoices);
    });
  });

  auto* token = app.add_subcommand("token", "API tokens (an operator's)");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand(
      "create", "Make a token and print only its secret, for `export RIGSHIFT_TOKEN=$(rigshift token create ...)`");
  token_create->add_option("--role", cli->token_role, "tenant, operator or agent")
      ->required()
      ->check(CLI::IsMember({"tenant", "operator", "agent"}));
  token_create->add_option("--tenant", cli->token_tenant, "The tenant a tenant token acts for");
  token_create->add_option("--node", cli->token_node,
                           "The one node an agent token acts for (without it: every node)");
  AddConnectionFlags(*token_create, cli->token);
  token_create->callback([cli] {
    Run(cli->exit_code, cli->token, [&](Client& c, bool as_json) -> Status {
      json body = {{"role", cli->token_role}};
      if (cli->token_role == "tenant") {
        if (cli->token_tenant.empty()) return InvalidArgumentError("--role tenant needs --tenant NAME");
        body["tenant"] = cli->token_tenant;
      } else if (!cli->token_tenant.empty()) {
        return InvalidArgumentError("--tenant is only for --role tenant (a " + cli->token_role +
                                    " token acts for no tenant)");
      }
      if (!cli->token_node.empty()) {
        if (cli->token_role != "agent") return InvalidArgumentError("--node is only for --role agent");
        body["node"] = cli->token_node;
      }
      auto created = c.Call("POST", "/v1/tokens", body.dump());
      if (!created) return created.error();
      if (as_json) {
        std::cout << created->as_sent.dump(2) << "\n";
      } else {
        std::cout << created->value.at("token").get<std::string>() << "\n";
      }
      return OkStatus();
    });
  });
}

void AddServerFlags(CLI::App& cmd, ConnectionOptions& o) { AddConnectionFlags(cmd, o); }

void RunServerCall(int* exit_code, const ConnectionOptions& o, std::string_view method, const std::string& path,
                   const std::function<Result<std::string>()>& body,
                   void (*render)(const nlohmann::json&, std::ostream&)) {
  Run(exit_code, o, [&](Client& c, bool as_json) -> Status {
    RS_ASSIGN_OR_RETURN(std::string b, body());
    return PrintOrRender(c.Call(method, path, b), as_json, render);
  });
}

}  // namespace rigshift
