#include "cli/asic_command.h"

#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agent/asic_gateway.h"
#include "agent/cgminer.h"
#include "agent/pdu.h"
#include "cli/tenant_command.h"  // ExitCodeFor

namespace rigshift {
namespace {

using agent::AsicFirmware;
using nlohmann::json;

struct Address {
  std::string host;
  uint16_t port = 4028;
};

// HOST, HOST:PORT, [V6]:PORT or a bare V6 address.
Result<Address> ParseAddress(const std::string& text) {
  Address a;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return Err(InvalidArgumentError("--address '" + text + "': missing ']'"));
    a.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Err(InvalidArgumentError("--address '" + text + "': expected ':' after ']'"));
      port = text.substr(close + 2);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string::npos && text.find(':') == colon) {
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    a.host = text;
  }
  if (a.host.empty()) return Err(InvalidArgumentError("--address '" + text + "': no host"));
  if (!port.empty()) {
    char* end = nullptr;
    long n = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 65535) return Err(InvalidArgumentError("--address '" + text + "': bad port"));
    a.port = static_cast<uint16_t>(n);
  }
  return a;
}

agent::CgminerOptions ClientOptions(const AsicCliOptions& o) {
  agent::CgminerOptions c;
  c.connect_timeout = std::chrono::milliseconds(o.timeout_ms);
  c.read_timeout = std::chrono::milliseconds(o.timeout_ms);
  return c;
}

// The firmware flag, or the miner's own answer to `version` for "auto".
Result<AsicFirmware> FirmwareFor(const AsicCliOptions& o, const Address& a) {
  if (o.firmware != "auto") return agent::ParseAsicFirmware(o.firmware);
  agent::CgminerClient probe(a.host, a.port, AsicFirmware::kCgminer, ClientOptions(o));
  RS_ASSIGN_OR_RETURN(json version, probe.Command("version"));
  return agent::DetectAsicFirmware(version, probe.where() + ": version");
}

std::string Rate(double hs) {
  static const char* kUnits[] = {"H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"};
  int u = 0;
  while (hs >= 1000 && u < 5) {
    hs /= 1000;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << hs << " " << kUnits[u];
  return s.str();
}

std::string Celsius(const std::optional<double>& t) {
  if (!t) return "unknown";
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << *t << " C";
  return s.str();
}

std::string Power(const std::optional<Watts>& w) {
  return w ? std::to_string(w->raw()) + " W" : "unknown (the firmware reports none)";
}

std::string Asleep(const std::optional<bool>& a) {
  return !a ? "unknown (the firmware cannot tell)" : *a ? "yes" : "no";
}

void PrintState(const std::string& where, const agent::AsicState& s, std::ostream& out) {
  out << "asic " << where << " (" << agent::AsicFirmwareName(s.firmware) << ")\n";
  out << "hashrate:    " << Rate(s.summary.hashrate_hs);
  if (s.summary.hashrate_avg_hs) out << " (average " << Rate(*s.summary.hashrate_avg_hs) << ")";
  out << "\n";
  out << "power:       " << Power(s.power) << "\n";
  out << "temperature: " << Celsius(s.temperature_c) << "\n";
  out << "asleep:      " << Asleep(s.asleep) << "\n";
  if (const agent::AsicPool* p = s.ActivePool()) {
    out << "active pool: #" << p->index << " " << p->url << " (" << p->user << ")\n";
  } else {
    out << "active pool: none\n";
  }
  out << "boards:\n";
  for (const agent::AsicBoard& b : s.boards) {
    out << "  " << (b.kind.empty() ? "#" : b.kind + " ") << b.index << "  "
        << (b.hashrate_hs ? Rate(*b.hashrate_hs) : std::string("unknown")) << "  " << Celsius(b.temperature_c) << "  "
        << b.status << (b.enabled == false ? "  disabled" : "") << "\n";
  }
  out << "pools:\n";
  for (const agent::AsicPool& p : s.pools) {
    out << "  #" << p.index << "  priority " << p.priority << "  " << p.status << (p.stratum_active ? "  active" : "")
        << "  " << p.url << "  " << p.user << "\n";
  }
}

void PrintReport(const agent::AsicReport& r, std::ostream& out) {
  out << "asic " << r.name << ": " << (r.converged ? "as asked" : r.reachable ? "not as asked" : "unreachable") << "\n";
  out << "sent:        ";
  if (r.changes.empty()) out << "nothing (already so)";
  for (size_t i = 0; i < r.changes.size(); ++i) out << (i ? ", " : "") << r.changes[i];
  out << "\n";
  if (!r.reachable) return;
  out << "hashrate:    " << Rate(r.hashrate_hs) << "\n";
  out << "power:       " << Power(r.power) << "\n";
  out << "temperature: " << Celsius(r.temperature_c) << "\n";
  out << "asleep:      " << Asleep(r.asleep) << "\n";
  if (r.active_pool) {
    out << "active pool: #" << r.active_pool->index << " " << r.active_pool->url << " (" << r.active_pool->user << ")\n";
  }
}

Status Run(int* exit_code, const std::function<Status()>& f) {
  Status s = f();
  if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
  *exit_code = s.ok() ? 0 : ExitCodeFor(s);
  return s;
}

}  // namespace

Status RunAsicStatus(const AsicCliOptions& o, std::ostream& out) {
  RS_ASSIGN_OR_RETURN(Address a, ParseAddress(o.address));
  RS_ASSIGN_OR_RETURN(AsicFirmware fw, FirmwareFor(o, a));
  agent::CgminerClient client(a.host, a.port, fw, ClientOptions(o));
  RS_ASSIGN_OR_RETURN(agent::AsicState state, client.State());
  if (o.format == "json") {
    json j = agent::AsicStateToJson(state);
    j["address"] = client.where();
    out << j.dump(2) << "\n";
  } else {
    PrintState(client.where(), state, out);
  }
  return OkStatus();
}

Status RunAsicChange(const AsicCliOptions& o, const std::string& what, std::ostream& out) {
  RS_ASSIGN_OR_RETURN(Address a, ParseAddress(o.address));
  agent::AsicDesired desired = agent::AsicDesired::Awake();
  if (what == "pool") {
    if (o.url.empty() || o.user.empty()) return InvalidArgumentError("asic pool needs --url and --user");
    desired = agent::AsicDesired::Mine(o.url, o.user);
    desired.pool_password = o.password;
  } else if (what == "sleep") {
    desired = agent::AsicDesired::Sleep();
  }
  RS_ASSIGN_OR_RETURN(AsicFirmware fw, FirmwareFor(o, a));
  agent::AsicGatewayOptions g;
  g.client = ClientOptions(o);
  agent::AsicReport r = agent::AsicGateway(g).ConvergeOne({{"", a.host, a.port, fw}, desired});
  if (o.format == "json") {
    json j = agent::AsicReportToJson(r);
    j["firmware"] = agent::AsicFirmwareName(fw);
    out << j.dump(2) << "\n";
  } else {
    PrintReport(r, out);
  }
  if (!r.reachable) return UnavailableError(r.error);
  if (!r.converged) return FailedPreconditionError(r.error);
  return OkStatus();
}

Status RunPduRead(const PduCliOptions& o, std::ostream& out) {
  if (o.url.empty() || o.pdu.empty() || o.outlet.empty()) {
    return InvalidArgumentError("pdu read needs --url, --pdu and --outlet");
  }
  agent::RedfishOptions r;
  r.timeout = std::chrono::milliseconds(o.timeout_ms);
  r.username = o.user;
  if (const char* pw = std::getenv("RIGSHIFT_PDU_PASSWORD")) r.password = pw;
  RS_ASSIGN_OR_RETURN(std::unique_ptr<agent::RedfishPowerMeter> meter, agent::RedfishPowerMeter::Create(o.url, r));
  RS_ASSIGN_OR_RETURN(agent::OutletReading reading, meter->Read(o.pdu, o.outlet));
  if (o.format == "json") {
    out << agent::OutletReadingToJson(reading).dump(2) << "\n";
    return OkStatus();
  }
  out << "pdu " << reading.pdu << " outlet " << reading.outlet << "\n";
  out << "power:  " << (reading.power ? std::to_string(reading.power->raw()) + " W" : "unknown (no reading)") << "\n";
  out << "energy: " << (reading.energy ? std::to_string(reading.energy->raw()) + " Wh" : "unknown (no reading)");
  if (!reading.energy_reset_time.empty()) out << " (counting since " << reading.energy_reset_time << ")";
  out << "\n";
  return OkStatus();
}

void AddAsicCommands(CLI::App& app, int* exit_code) {
  auto asic = app.add_subcommand("asic", "An ASIC miner on the LAN through its CGMiner-compatible API (port 4028)");
  asic->require_subcommand(1);
  auto add_common = [](CLI::App* cmd, AsicCliOptions& o) {
    cmd->add_option("--address", o.address, "The miner: HOST or HOST:PORT (port 4028 when left out)")->required();
    cmd->add_option("--firmware", o.firmware, "auto (ask the miner), antminer, braiins, luxos or cgminer")
        ->check(CLI::IsMember({"auto", "antminer", "braiins", "luxos", "cgminer"}))
        ->capture_default_str();
    cmd->add_option("--format", o.format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    cmd->add_option("--timeout-ms", o.timeout_ms, "Per command: to connect, then for the reply")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
  };

  auto status_opts = std::make_shared<AsicCliOptions>();
  auto* status = asic->add_subcommand("status", "Hashrate, power, temperature, boards, pools, asleep");
  add_common(status, *status_opts);
  status->callback([status_opts, exit_code] { (void)Run(exit_code, [&] { return RunAsicStatus(*status_opts, std::cout); }); });

  auto pool_opts = std::make_shared<AsicCliOptions>();
  auto* pool = asic->add_subcommand("pool", "Mine on this pool: add it if the miner lacks it, switch to it (wakes it)");
  add_common(pool, *pool_opts);
  pool->add_option("--url", pool_opts->url, "Pool URL, e.g. stratum+tcp://pool.example:3333")->required();
  pool->add_option("--user", pool_opts->user, "Pool user or worker, e.g. wallet.rig01")->required();
  pool->add_option("--password", pool_opts->password, "Pool password")->capture_default_str();
  pool->callback([pool_opts, exit_code] { (void)Run(exit_code, [&] { return RunAsicChange(*pool_opts, "pool", std::cout); }); });

  for (const char* what : {"sleep", "wake"}) {
    auto opts = std::make_shared<AsicCliOptions>();
    auto* cmd = asic->add_subcommand(what, std::string(what) == "sleep"
                                               ? "Curtail: the firmware's sleep (LuxOS curtail, Braiins pause, cgminer ascdisable)"
                                               : "End the curtailment (LuxOS wakeup, Braiins resume, cgminer ascenable)");
    add_common(cmd, *opts);
    std::string w = what;
    cmd->callback([opts, exit_code, w] { (void)Run(exit_code, [&] { return RunAsicChange(*opts, w, std::cout); }); });
  }

  auto pdu = app.add_subcommand("pdu", "A metered PDU through Redfish");
  pdu->require_subcommand(1);
  auto pdu_opts = std::make_shared<PduCliOptions>();
  auto* read = pdu->add_subcommand("read", "One outlet's power (W) and energy counter (Wh)");
  read->add_option("--url", pdu_opts->url, "The PDU's Redfish service, e.g. http://10.0.0.9")->required();
  read->add_option("--pdu", pdu_opts->pdu, "The PDU's id under /redfish/v1/PowerEquipment/RackPDUs/")->required();
  read->add_option("--outlet", pdu_opts->outlet, "The outlet's id, e.g. A1")->required();
  read->add_option("--user", pdu_opts->user, "HTTP Basic user (the password from $RIGSHIFT_PDU_PASSWORD)");
  read->add_option("--format", pdu_opts->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  read->add_option("--timeout-ms", pdu_opts->timeout_ms, "For the whole request")->check(CLI::Range(1, 600000))->capture_default_str();
  read->callback([pdu_opts, exit_code] { (void)Run(exit_code, [&] { return RunPduRead(*pdu_opts, std::cout); }); });
}

}  // namespace rigshift
