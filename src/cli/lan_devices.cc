#include "cli/lan_devices.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "agent/cgminer.h"

namespace rigshift {
namespace {

// "HOST:PORT", "HOST" or "[V6]:PORT" (checked by the farm file's parser) as an endpoint.
agent::AsicEndpoint EndpointOf(const std::string& address, agent::AsicFirmware firmware, const std::string& node) {
  agent::AsicEndpoint e;
  e.name = node;
  e.firmware = firmware;
  std::string host = address, port;
  if (address.starts_with("[")) {
    size_t close = address.find(']');
    host = address.substr(1, close - 1);
    if (close + 1 < address.size()) port = address.substr(close + 2);
  } else if (size_t colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  e.host = host;
  if (!port.empty()) e.port = static_cast<uint16_t>(std::stoi(port));
  return e;
}

}  // namespace

Result<LanDevices> StartLanDevices(const Scenario& farm_file, const LanContext& c, Timestamp now) {
  LanDevices out;
  auto line = [log = c.log](const std::string& prefix) {
    return [log, prefix](const std::string& text) {
      std::ostringstream one;  // one write: the threads share the log
      one << "rigshift server: " << prefix << text << "\n";
      *log << one.str() << std::flush;
    };
  };

  // Hosted machines: one poller for every metered outlet.
  std::vector<HostedOutlet> outlets;
  bool metered = false;
  {
    std::lock_guard lock(*c.farm_mutex);
    const FleetState& f = c.farm->fleet();
    for (size_t h = 0; h < f.hosted().size(); ++h) {
      const HostedTerms& t = c.farm->hosting().terms()[h];
      outlets.push_back({f.hosted()[h].name, t.meter_url, t.pdu, t.outlet, f.hosted()[h].interruptible, f.hosted()[h].power});
      metered = metered || t.metered();
    }
  }
  if (metered) {
    HostedMeters::Options mo;
    mo.poll = std::chrono::milliseconds(std::clamp<int64_t>(c.accounting_interval_s * 500, 1'000, 5'000));
    // HTTP Basic for every PDU, from the environment (as `rigshift pdu read` takes its password).
    if (const char* user = std::getenv("RIGSHIFT_PDU_USER")) mo.redfish.username = user;
    if (const char* password = std::getenv("RIGSHIFT_PDU_PASSWORD")) mo.redfish.password = password;
    mo.log = line("hosted: ");
    const int64_t mo_poll_ms = mo.poll.count();
    out.meters = std::make_unique<HostedMeters>(std::move(mo), std::move(outlets));
    {
      std::lock_guard lock(*c.farm_mutex);
      c.farm->SetHostedMeters(out.meters.get());
    }
    out.meters->Start();
    *c.log << "rigshift server: hosted machines: their PDU outlets are read every " << mo_poll_ms / 1000.0 << " s\n";
  }

  // ASICs on the LAN.
  std::vector<AsicFleetNode> nodes;
  for (const NodeGroupSpec& g : farm_file.groups) {
    if (g.asic_addresses.empty()) continue;
    if (c.tls) {
      return Err(InvalidArgumentError("group '" + g.name + "' has ASICs the server drives through a bridge that "
                                      "speaks the agent API over loopback HTTP, and --tls-cert makes this server "
                                      "speak HTTPS only: put TLS in a proxy in front instead (docs/operations.md, "
                                      "\"ASIC sites\")"));
    }
    RS_ASSIGN_OR_RETURN(agent::AsicFirmware firmware, agent::ParseAsicFirmware(g.asic_firmware));
    std::lock_guard lock(*c.farm_mutex);
    for (size_t i = 0; i < g.asic_addresses.size(); ++i) {
      const std::string node = g.name + "-" + std::to_string(i + 1);
      auto index = c.farm->NodeOf(node);
      if (!index) return Err(InternalError("ASIC node " + node + " is not a node of the farm"));
      const DeviceModel* m = c.farm->setup().catalog->Find(c.farm->node_model(*index));
      nodes.push_back({node, c.farm->node_model(*index), m && m->vram_gb ? *m->vram_gb : 0,
                       EndpointOf(g.asic_addresses[i], firmware, node)});
    }
  }
  if (!nodes.empty()) {
    AsicFleet::Options ao;
    ao.host = c.host;
    ao.port = c.port;
    {
      std::lock_guard lock(*c.farm_mutex);
      RS_ASSIGN_OR_RETURN(ao.agent_token, c.auth->Create("agent", "", now));
    }
    RS_RETURN_IF_ERROR(c.store->Flush());
    // A dead ASIC costs its timeouts once a round; the agent timeout (30 s) is several rounds.
    ao.gateway.client.connect_timeout = std::chrono::milliseconds(2000);
    ao.gateway.client.read_timeout = std::chrono::milliseconds(5000);
    for (const PoolSpec& p : farm_file.pools) ao.pools[p.coin] = {p.url, p.user, p.password};
    ao.log = line("ASICs: ");
    const size_t n = nodes.size();
    out.asics = std::make_unique<AsicFleet>(std::move(ao), std::move(nodes));
    out.asics->Start();
    *c.log << "rigshift server: " << n << " ASIC(s) driven over the LAN (their CGMiner API)\n";
  }
  return out;
}

}  // namespace rigshift
