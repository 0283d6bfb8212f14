// AsicGateway: makes a list of ASIC miners what the controller wants of them (mine on a pool, or
// sleep) through their CGMiner-compatible API (cgminer.h), and says what each one does.
//
// Converging one ASIC: read its state (summary, devs, pools, power, asleep); to mine, wake it if
// it sleeps, add the pool if no pool has that URL and user, and switch to it unless it is already
// the most preferred enabled pool; to sleep, send the firmware's sleep unless it already sleeps;
// to be awake, wake it if it sleeps.
// Then read the state again for the report. Nothing that changes the miner is sent when it is
// already as wanted, so a second Converge with the same wants sends no changing command
// (report.changes is empty).
//
// Failures stay per ASIC: one that does not answer (connect or read timeout) is reported
// unreachable with the error, and the others converge all the same; the ASICs are handled
// concurrently, so a dead one costs its timeouts once, not once per ASIC.
//
// Thread safety: Converge may be called from one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/cgminer.h"
#include "common/status.h"
#include "common/units.h"

namespace rigshift::agent {

struct AsicEndpoint {
  std::string name;  // how reports name it ("rack3-s19-07"); defaults to HOST:PORT when empty
  std::string host;
  uint16_t port = 4028;
  AsicFirmware firmware = AsicFirmware::kCgminer;
};

struct AsicDesired {
  // kMine: awake and mining on this pool; kSleep: asleep; kAwake: awake, on whatever pool it has
  // (`rigshift asic wake`).
  enum class Kind { kMine, kSleep, kAwake };
  Kind kind = Kind::kMine;
  std::string pool_url;        // kMine: the pool to mine on ("stratum+tcp://pool:3333")
  std::string pool_user;       // kMine: the worker ("wallet.worker")
  std::string pool_password = "x";

  static AsicDesired Mine(std::string url, std::string user) {
    return AsicDesired{Kind::kMine, std::move(url), std::move(user), "x"};
  }
  static AsicDesired Sleep() { return AsicDesired{Kind::kSleep, "", "", "x"}; }
  static AsicDesired Awake() { return AsicDesired{Kind::kAwake, "", "", "x"}; }
};

struct AsicTarget {
  AsicEndpoint endpoint;
  AsicDesired desired;
};

struct AsicReport {
  std::string name;
  bool reachable = false;
  bool converged = false;        // the ASIC is as wanted after this pass
  std::string error;             // why it is not (a refused command, a timeout), else ""
  double hashrate_hs = 0;        // from the state read after converging
  std::optional<double> temperature_c;
  std::optional<Watts> power;    // absent where the firmware reports none
  std::optional<AsicPool> active_pool;
  std::optional<bool> asleep;    // absent where the firmware cannot tell
  std::vector<std::string> changes;  // the changing commands sent, in order (CgminerClient::changes)
};

// {"name", "reachable", "converged", "error", "hashrate_hs", "temperature_c", "power_w",
// "active_pool": {"index", "url", "user"} | null, "asleep", "changes": [...]}
nlohmann::json AsicReportToJson(const AsicReport& report);

struct AsicGatewayOptions {
  CgminerOptions client;
  int parallelism = 16;  // ASICs converged at once
};

class AsicGateway {
 public:
  explicit AsicGateway(AsicGatewayOptions options = {}) : options_(options) {}

  // One report per target, in the targets' order.
  std::vector<AsicReport> Converge(const std::vector<AsicTarget>& targets) const;
  // One ASIC (what Converge runs for each).
  AsicReport ConvergeOne(const AsicTarget& target) const;
  // Reads one ASIC without changing it.
  AsicReport Observe(const AsicEndpoint& endpoint) const;

 private:
  AsicGatewayOptions options_;
};

}  // namespace rigshift::agent
