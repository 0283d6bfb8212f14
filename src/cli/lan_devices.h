// What `rigshift server` drives on the farm's LAN besides its agents (docs/operations.md, "Hosted
// machines" and "ASIC sites"): the hosted machines' metered PDU outlets (server/hosted_meters.h),
// handed to the farm, and the ASICs of the groups that give asic_addresses (server/asic_fleet.h),
// reaching the farm through the agent API on loopback.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>

#include "common/status.h"
#include "farm/scenario.h"
#include "server/asic_fleet.h"
#include "server/auth.h"
#include "server/farm.h"
#include "server/hosted_meters.h"
#include "store/store.h"

namespace rigshift {

struct LanDevices {
  std::unique_ptr<HostedMeters> meters;
  std::unique_ptr<AsicFleet> asics;
  void Stop() {
    if (asics) asics->Stop();
    if (meters) meters->Stop();
  }
};

struct LanContext {
  Farm* farm = nullptr;
  std::mutex* farm_mutex = nullptr;  // guards farm, auth and store
  Auth* auth = nullptr;
  Store* store = nullptr;
  std::string host;                  // the server's agent API on loopback
  uint16_t port = 0;
  bool tls = false;                  // the server speaks HTTPS only
  int64_t accounting_interval_s = 60;  // the meters are read at least twice an interval (at most every 5 s)
  std::ostream* log = nullptr;       // the server's log (stderr)
};

// Starts what `farm_file` names: meters for the [[hosted]] machines that give meter_url (set on
// the farm; HTTP Basic credentials from $RIGSHIFT_PDU_USER and $RIGSHIFT_PDU_PASSWORD), a bridge for the [[group]]s that give asic_addresses (with an agent token minted for
// it). InvalidArgument when an ASIC group meets --tls-cert (the bridge speaks plain HTTP to the
// server, as the Slurm bridge does).
[[nodiscard]] Result<LanDevices> StartLanDevices(const Scenario& farm_file, const LanContext& c, Timestamp now);

}  // namespace rigshift
