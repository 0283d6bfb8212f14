// DemoFleet: simulated agents for `rigshift server --demo`. Each node of the farm gets an agent
// that speaks the real agent protocol over HTTP on loopback (register, heartbeat, fetch the
// desired state when its generation changes, "converge" at once), so the demo exercises the same
// code paths a farm with `rigshift agent` on every node would.
//
// One thread drives every simulated node in turn over one kept-alive connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace rigshift {

struct DemoNode {
  std::string name;
  std::string model;  // display name, as an agent's discovery would report it
  int gpus = 0;
  int vram_gb = 0;
  int board_w = 0;    // reported as power while leased
  int mining_w = 0;   // reported as power while mining
};

class DemoFleet {
 public:
  DemoFleet(std::string host, uint16_t port, std::string agent_token, std::vector<DemoNode> nodes,
            std::chrono::milliseconds heartbeat = std::chrono::milliseconds(2000));
  ~DemoFleet();
  void Start();
  void Stop();
  // Heartbeats answered so far (for logs and tests).
  int64_t heartbeats() const { return heartbeats_.load(); }

 private:
  void Run();

  std::string host_;
  uint16_t port_;
  std::string token_;
  std::vector<DemoNode> nodes_;
  std::chrono::milliseconds heartbeat_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> heartbeats_{0};
  std::thread thread_;
};

}  // namespace rigshift
