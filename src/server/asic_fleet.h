// AsicFleet: the ASIC backend. For the nodes of a farm file's ASIC groups that give
// `asic_addresses` (docs/operations.md, "ASIC sites"), the controller drives the ASICs themselves
// over the LAN (their CGMiner-compatible API, agent/asic_gateway.h) instead of `rigshift agent`s.
// Like the Slurm backend (server/slurm_fleet.h) it does so on the agent seam: one bridge speaks
// the agent protocol to the controller for every such node (register, heartbeat, desired state;
// docs/api.md, "Agents") over loopback, and turns each node's desired state into what its ASIC is
// asked to do:
//
// - mining: mine on the farm's pool for the group's coin (the farm file's [[pool]], its user's
//   "{node}" replaced by the node's name); a coin with no [[pool]] is not converged (logged).
// - contract (a hashrate contract's device, DeviceUse::kContract): mine on the contract's pool
//   with its payout address as the worker, from the desired state's "contract" ({"id", "pool",
//   "payout_address"}), else from `contract_pool` (a hook, by the contract's id); neither: left
//   as it is (logged). Reported as use "contract" with the contract's id once it mines there.
// - idle, curtailed, off: sleep (each firmware's own sleep; stock Antminer cannot sleep on this
//   API, so it stays not converged, and the controller sees it still mining: a divergence alert).
//
// Every round (`poll`) it converges every ASIC concurrently (the gateway sends nothing to one
// already as wanted), then heartbeats each one that answered, with what it reads: mining (awake)
// or off (asleep), the hashrate in H/s, power and temperature, and the generation it reached. An
// ASIC that does not answer gets no heartbeat, so the controller declares its node lost after its
// agent timeout (a `node_lost` alert) and the engine counts its power as free; when it answers
// again it registers again. A new desired state is converged at once, not a round later.
//
// The bridge keeps no state that a restart would lose: after one, each node registers again and
// is converged from its desired state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/asic_gateway.h"

namespace rigshift {

struct AsicFleetNode {
  std::string name;   // the farm's node name ("s19pro-3")
  std::string model;  // the catalog model the farm declares (registration must match)
  int vram_gb = 0;
  agent::AsicEndpoint endpoint;
};

class AsicFleet {
 public:
  struct Pool {
    std::string url, user, password = "x";
  };
  struct Options {
    std::string host = "127.0.0.1";  // the controller's agent API
    uint16_t port = 0;
    std::string agent_token;
    std::chrono::milliseconds poll{2000};
    agent::AsicGatewayOptions gateway;
    std::map<std::string, Pool> pools;  // the farm's pool per coin ([[pool]])
    // The pool of a hashrate contract (its id) that a node's desired state does not carry.
    std::function<std::optional<Pool>(const std::string& node, int64_t contract)> contract_pool;
    std::function<void(const std::string&)> log;  // one line, without a newline
  };

  AsicFleet(Options options, std::vector<AsicFleetNode> nodes);
  ~AsicFleet();
  void Start();
  void Stop();
  // One round on the caller's thread (what the thread does every `poll`); whether a desired state
  // changed (the thread then runs the next round at once).
  bool RunOnce();

  int64_t heartbeats() const { return heartbeats_.load(); }
  int64_t rounds() const { return rounds_.load(); }

 private:
  struct NodeState {
    bool registered = false;
    int64_t desired_generation = -1;
    int64_t converged = 0;              // the last generation it reached
    nlohmann::json desired;             // devices[0] of the desired state, null until known
  };
  // What the ASIC of node `i` should do under `desired`; nullopt: nothing (no state yet, or a
  // pool the bridge does not know: `why` says).
  std::optional<agent::AsicDesired> WantOf(size_t i, std::string* why) const;
  void Run();
  void Log(const std::string& line);

  Options o_;
  std::vector<AsicFleetNode> nodes_;
  std::vector<NodeState> state_;  // the round's thread only
  agent::AsicGateway gateway_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> heartbeats_{0}, rounds_{0};
  std::mutex log_mu_;
  std::map<std::string, int> said_;  // log lines already written (each problem is logged once)
  std::thread thread_;
};

}  // namespace rigshift
