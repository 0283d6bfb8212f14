#include "cli/agent_command.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "agent/discovery.h"
#include "agent/discovery_json.h"
#include "agent/fake_devices.h"
#include "agent/miners.h"
#include "agent/node_agent.h"
#include "cli/tenant_command.h"

namespace rigshift {

namespace {

using agent::Discovery;
using agent::GpuInfo;
using agent::MinerStats;

Result<std::string> ReadInput(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(InvalidArgumentError(path + ": cannot read: " + std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Or(const std::optional<std::string>& v) { return v ? *v : "-"; }

std::string Watts(const std::optional<int64_t>& mw) {
  if (!mw) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g W", static_cast<double>(*mw) / 1000.0);
  return buf;
}

std::string Pcie(const GpuInfo& g) {
  if (!g.pcie_gen && !g.pcie_width && !g.pcie_max_gen && !g.pcie_max_width) return "-";
  std::string s = g.pcie_gen ? "gen" + std::to_string(*g.pcie_gen) : "";
  if (g.pcie_width) s += "x" + std::to_string(*g.pcie_width);
  if (g.pcie_max_gen || g.pcie_max_width) {
    s += " (max " + (g.pcie_max_gen ? "gen" + std::to_string(*g.pcie_max_gen) : std::string()) +
         (g.pcie_max_width ? "x" + std::to_string(*g.pcie_max_width) : std::string()) + ")";
  }
  return s;
}

std::string Pad(const std::string& s, size_t width) { return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' '); }

void PrintDiscovery(const Discovery& d, std::ostream& out) {
  out << "source: " << d.source;
  if (d.driver_version) out << "   driver: " << *d.driver_version;
  out << "\n";
  // topo -m knows only the GPUs' indexes: its matrix says it all.
  bool described = std::any_of(d.gpus.begin(), d.gpus.end(), [](const GpuInfo& g) { return !g.name.empty() || g.uuid; });
  if (described) out << Pad("GPU", 5) << Pad("NAME", 28) << Pad("UUID", 42) << Pad("MEMORY", 12) << Pad("PCIE", 22)
      << "POWER LIMIT\n";
  for (const GpuInfo& g : d.gpus) {
    if (!described) break;
    out << Pad(std::to_string(g.index), 5) << Pad(g.name.empty() ? "-" : g.name, 28) << Pad(Or(g.uuid), 42)
        << Pad(g.memory_mib ? std::to_string(*g.memory_mib) + " MiB" : "-", 12) << Pad(Pcie(g), 22)
        << Watts(g.power_limit_mw) << "\n";
  }
  if (!d.links || d.links->gpus() < 2) return;
  out << "links:\n" << Pad("", 6);
  for (int b = 0; b < d.links->gpus(); ++b) out << Pad("GPU" + std::to_string(b), 6);
  out << "\n";
  for (int a = 0; a < d.links->gpus(); ++a) {
    out << Pad("GPU" + std::to_string(a), 6);
    for (int b = 0; b < d.links->gpus(); ++b) out << Pad(agent::LinkName(d.links->at(a, b)), 6);
    out << "\n";
  }
}

std::string Rate(double hs) {
  static const char* kUnits[] = {"H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"};
  int u = 0;
  while (hs >= 1000 && u < 5) {
    hs /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", hs, kUnits[u]);
  return buf;
}

std::string Count(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "-"; }

void PrintMiner(const MinerStats& s, std::ostream& out) {
  out << "miner: " << agent::MinerKindName(s.miner) << (s.version ? " " + *s.version : "")
      << "   algorithm: " << Or(s.algorithm) << "   total: " << Rate(s.hashrate_hs) << "   accepted: " << Count(s.accepted)
      << "   rejected: " << Count(s.rejected) << "\n";
  out << Pad("DEV", 5) << Pad("KIND", 5) << Pad("HASHRATE", 14) << Pad("ACCEPTED", 10) << Pad("REJECTED", 10)
      << Pad("TEMP", 7) << Pad("POWER", 9) << "NAME\n";
  for (const agent::MinerDevice& d : s.devices) {
    char power[32] = "-";
    if (d.power_w) std::snprintf(power, sizeof power, "%g W", *d.power_w);
    out << Pad(std::to_string(d.index), 5) << Pad(d.kind, 5) << Pad(Rate(d.hashrate_hs), 14) << Pad(Count(d.accepted), 10)
        << Pad(Count(d.rejected), 10) << Pad(d.temperature_c ? std::to_string(*d.temperature_c) + " C" : "-", 7)
        << Pad(power, 9) << Or(d.name) << "\n";
  }
}

Result<Discovery> ReadDevices(const AgentParseOptions& o) {
  if (!o.nvidia_smi.empty()) {
    RS_ASSIGN_OR_RETURN(std::string text, ReadInput(o.nvidia_smi));
    return agent::ParseNvidiaSmiOutput(text, o.nvidia_smi);
  }
  if (!o.device_file.empty()) {
    RS_ASSIGN_OR_RETURN(std::string text, ReadInput(o.device_file));
    return agent::ParseDeviceFile(text, o.device_file);
  }
  return agent::ParseFakeDevices(o.fake_devices);
}

}  // namespace

Status RunAgentParse(const AgentParseOptions& o, std::ostream& out) {
  int sources = !o.nvidia_smi.empty() + !o.miner.empty() + !o.fake_devices.empty() + !o.device_file.empty();
  if (sources != 1) {
    return InvalidArgumentError("give exactly one of --nvidia-smi FILE, --miner KIND FILE, --fake-devices SPEC, --device-file FILE");
  }
  bool json = o.format == "json";
  if (!o.miner.empty()) {
    if (o.miner_file.empty()) return InvalidArgumentError("--miner KIND needs the FILE holding the miner's answer");
    std::optional<agent::MinerKind> kind;
    if (o.miner != "auto") {
      RS_ASSIGN_OR_RETURN(kind, agent::ParseMinerKind(o.miner));
    }
    RS_ASSIGN_OR_RETURN(std::string text, ReadInput(o.miner_file));
    RS_ASSIGN_OR_RETURN(MinerStats stats, agent::ParseMinerAnswer(text, kind, o.miner_file));
    if (json) {
      out << agent::MinerStatsToJson(stats).dump(2) << "\n";
    } else {
      PrintMiner(stats, out);
    }
    return OkStatus();
  }
  RS_ASSIGN_OR_RETURN(Discovery d, ReadDevices(o));
  if (json) {
    out << agent::DiscoveryToJson(d).dump(2) << "\n";
  } else {
    PrintDiscovery(d, out);
  }
  return OkStatus();
}

namespace {
std::atomic<agent::NodeAgent*> g_agent{nullptr};
void StopAgent(int) {
  if (agent::NodeAgent* a = g_agent.load()) a->Stop();
}
}  // namespace

Status RunNodeAgent(const AgentRunOptions& o, std::ostream& err) {
  agent::AgentConfig config;
  if (!o.config.empty()) RS_RETURN_IF_ERROR(agent::LoadAgentConfig(o.config, &config));
  // Flags win over the file.
  if (!o.server.empty()) config.server = o.server;
  if (!o.token.empty()) config.token = o.token;
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in) return InvalidArgumentError("--token-file " + o.token_file + ": cannot read: " + std::strerror(errno));
    std::getline(in, config.token);
  }
  if (config.token.empty()) {
    if (const char* t = std::getenv("RIGSHIFT_AGENT_TOKEN")) config.token = t;
  }
  if (!o.ca.empty()) config.ca_file = o.ca;
  if (!o.node.empty()) config.node = o.node;
  if (!o.state_dir.empty()) config.state_dir = o.state_dir;
  if (!o.fake_devices.empty()) config.fake_devices = o.fake_devices;
  if (!o.device_file.empty()) config.device_file = o.device_file;
  if (o.heartbeat_ms > 0) config.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  agent::NodeAgent node(config, err);
  g_agent = &node;
  struct sigaction sa {};
  sa.sa_handler = StopAgent;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Status s = node.Run();
  g_agent = nullptr;
  return s;
}

void AddAgentCommands(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<AgentParseOptions>();
  auto run = std::make_shared<AgentRunOptions>();
  auto* agent_cmd = app.add_subcommand(
      "agent", "The node agent: run it on a node (--server URL --token T), or `agent parse` to check a rig");
  agent_cmd->require_subcommand(0, 1);
  agent_cmd->add_option("--server", run->server, "The controller's URL (http:// or https://)");
  agent_cmd->add_option("--token", run->token, "An agent token (or --token-file, or $RIGSHIFT_AGENT_TOKEN)");
  agent_cmd->add_option("--token-file", run->token_file, "A file holding the agent token");
  agent_cmd->add_option("--ca", run->ca, "CA certificate (PEM) that signed the controller's certificate");
  agent_cmd->add_option("--node", run->node, "This node's name as the farm declares it (e.g. gpu-3090-1)");
  agent_cmd->add_option("--config", run->config, "Agent config (TOML, docs/agent.md); flags win over it");
  agent_cmd->add_option("--state-dir", run->state_dir, "Where the agent keeps its state and logs");
  agent_cmd->add_option("--fake-devices", run->fake_devices, "Fake GPUs instead of discovery, e.g. \"4xRTX 3090\"");
  agent_cmd->add_option("--device-file", run->device_file, "Fake GPUs from a device file (JSON)");
  agent_cmd->add_option("--heartbeat-ms", run->heartbeat_ms, "Milliseconds between heartbeats (default 2000)");
  agent_cmd->callback([run, exit_code, agent_cmd] {
    if (!agent_cmd->get_subcommands().empty()) return;  // agent parse ran
    Status s = RunNodeAgent(*run, std::cerr);
    if (!s.ok()) std::cerr << "rigshift agent: " << s.message() << "\n";
    *exit_code = s.ok() ? 0 : ExitCodeFor(s);
  });
  auto* parse = agent_cmd->add_subcommand("parse", "Print what discovery or a miner adapter reads from a saved output");
  parse->add_option("--nvidia-smi", opts->nvidia_smi, "Saved `nvidia-smi -q -x`, `--query-gpu ... --format=csv` or `topo -m` output");
  parse->add_option("--miner", opts->miner,
                    "Miner whose saved API answer FILE is: xmrig, lolminer, trex, gminer, nbminer, teamredminer, "
                    "srbminer, claymore, or auto");
  parse->add_option("--fake-devices", opts->fake_devices, "Fake device spec, e.g. \"8xH100 nvlink=2x4\"");
  parse->add_option("--device-file", opts->device_file, "Fake device file (JSON)");
  parse->add_option("FILE", opts->miner_file, "The miner's saved answer (with --miner)");
  parse->add_option("--format", opts->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  parse->callback([opts, exit_code] {
    Status s = RunAgentParse(*opts, std::cout);
    if (!s.ok()) std::cerr << "rigshift: " << s.message() << "\n";
    *exit_code = s.ok() ? 0 : ExitCodeFor(s);
  });
}

}  // namespace rigshift
