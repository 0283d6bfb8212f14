#include "server/demo_fleet.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace rigshift {
namespace {

using json = nlohmann::json;

struct NodeState {
  bool registered = false;
  int64_t generation = 0;  // converged to
  json devices = json::array();  // what it runs now: [{slot, use, lease?, coin}]
};

}  // namespace

DemoFleet::DemoFleet(std::string host, uint16_t port, std::string agent_token, std::vector<DemoNode> nodes,
                     std::chrono::milliseconds heartbeat)
    : host_(std::move(host)), port_(port), token_(std::move(agent_token)), nodes_(std::move(nodes)),
      heartbeat_(heartbeat) {}

DemoFleet::~DemoFleet() { Stop(); }

void DemoFleet::Start() { thread_ = std::thread([this] { Run(); }); }

void DemoFleet::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void DemoFleet::Run() {
  net::HttpClient client(host_, port_, std::chrono::seconds(5));
  std::vector<NodeState> state(nodes_.size());
  bool warned = false;
  while (!stop_) {
    auto round_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < nodes_.size() && !stop_; ++i) {
      const DemoNode& n = nodes_[i];
      NodeState& s = state[i];
      if (!s.registered) {
        json inv = json::array();
        for (int slot = 0; slot < n.gpus; ++slot) inv.push_back({{"slot", slot}, {"model", n.model}, {"vram_gb", n.vram_gb}});
        auto r = client.Send("POST", "/v1/agents/register", json{{"node", n.name}, {"devices", inv}}.dump(), token_);
        if (!r || r->status != 200) {
          if (!warned) {
            std::cerr << "demo fleet: register " << n.name << ": "
                      << (r ? std::to_string(r->status) + " " + r->body : r.error().message()) << "\n";
            warned = true;
          }
          continue;
        }
        s.registered = true;
        s.generation = 0;
      }
      json hb = {{"generation", s.generation}, {"devices", json::array()}};
      for (const json& d : s.devices) {
        json rep = {{"slot", d["slot"]}, {"use", d["use"]}};
        std::string use = d["use"];
        if (use == "lease") rep["lease"] = d["lease"];
        if (use == "mining") rep["coin"] = d["coin"];
        if (use == "contract" && d.contains("contract")) rep["contract"] = d["contract"]["id"];  // at its customer's pool
        rep["power_w"] = use == "lease"                         ? n.board_w
                         : use == "mining" || use == "contract" ? n.mining_w
                         : use == "idle"                        ? 15
                                                                : 0;
        hb["devices"].push_back(std::move(rep));
      }
      auto r = client.Send("POST", "/v1/agents/" + n.name + "/heartbeat", hb.dump(), token_);
      if (!r) continue;
      if (r->status == 404) {  // the controller restarted or declared us silent: register again
        s.registered = false;
        continue;
      }
      if (r->status != 200) continue;
      ++heartbeats_;
      int64_t desired = json::parse(r->body, nullptr, false).value("generation", int64_t{0});
      if (desired == s.generation) continue;
      auto d = client.Send("GET", "/v1/agents/" + n.name + "/desired", {}, token_);
      if (!d || d->status != 200) continue;
      json state_json = json::parse(d->body, nullptr, false);
      if (state_json.is_discarded()) continue;
      // A real agent would start containers and miners here; the simulated one converges at once.
      s.devices = state_json["devices"];
      s.generation = state_json.value("generation", int64_t{0});
    }
    auto spent = std::chrono::steady_clock::now() - round_start;
    for (auto left = heartbeat_ - spent; left > std::chrono::milliseconds(0) && !stop_;
         left -= std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace rigshift
