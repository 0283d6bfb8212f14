#include "server/asic_fleet.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "net/http_client.h"
#include "server/api_parse.h"

namespace rigshift {
namespace {

using json = nlohmann::json;

std::string Substitute(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

}  // namespace

AsicFleet::AsicFleet(Options options, std::vector<AsicFleetNode> nodes)
    : o_(std::move(options)), nodes_(std::move(nodes)), state_(nodes_.size()), gateway_(o_.gateway) {}

AsicFleet::~AsicFleet() { Stop(); }

void AsicFleet::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void AsicFleet::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AsicFleet::Log(const std::string& line) {
  {
    std::lock_guard lock(log_mu_);
    if (said_[line]++ > 0) return;
  }
  if (o_.log) {
    o_.log(line);
  } else {
    std::cerr << "asic backend: " << line << "\n";
  }
}

void AsicFleet::Run() {
  while (!stop_) {
    const auto start = std::chrono::steady_clock::now();
    if (RunOnce()) continue;  // a new desired state: converge it now
    for (auto left = o_.poll - (std::chrono::steady_clock::now() - start); left > std::chrono::milliseconds(0) && !stop_;
         left -= std::chrono::milliseconds(20)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::optional<agent::AsicDesired> AsicFleet::WantOf(size_t i, std::string* why) const {
  const json& d = state_[i].desired;
  if (!d.is_object()) return std::nullopt;
  const std::string use = d.value("use", "");
  const std::string& node = nodes_[i].name;
  auto mine = [&](const Pool& p) {
    return agent::AsicDesired::Mine(Substitute(p.url, "{node}", node), Substitute(p.user, "{node}", node));
  };
  if (use == "mining") {
    const std::string coin = d.value("coin", "");
    auto p = o_.pools.find(coin);
    if (p == o_.pools.end()) {
      *why = "node " + node + " is asked to mine " + coin + ", and the farm file has no [[pool]] for " + coin +
             ": it is left as it is";
      return std::nullopt;
    }
    agent::AsicDesired want = mine(p->second);
    want.pool_password = p->second.password;
    return want;
  }
  if (use == "contract") {
    // The contract's pool and payout address as the desired state carries them
    // ({"contract": {"id", "algorithm", "pool", "payout_address"}}), else the hook.
    const json c = d.contains("contract") && d["contract"].is_object() ? d["contract"] : json::object();
    const int64_t contract = c.value("id", int64_t{0});
    if (!c.value("pool", "").empty() && !c.value("payout_address", "").empty()) {
      return agent::AsicDesired::Mine(c.value("pool", ""), c.value("payout_address", ""));
    }
    if (o_.contract_pool) {
      if (std::optional<Pool> p = o_.contract_pool(node, contract)) {
        agent::AsicDesired want = mine(*p);
        want.pool_password = p->password;
        return want;
      }
    }
    *why = "node " + node + " serves contract " + std::to_string(contract) +
           ", whose pool neither the desired state nor the contract_pool hook gives: it is left as it is";
    return std::nullopt;
  }
  // idle, curtailed, off (and anything else: an ASIC never serves a lease) sleep.
  return agent::AsicDesired::Sleep();
}

bool AsicFleet::RunOnce() {
  ++rounds_;
  // 1. Converge every ASIC to what its node's desired state says (or only read one whose desired
  //    state is not known yet), all at once.
  std::vector<agent::AsicReport> reports(nodes_.size());
  std::vector<bool> targeted(nodes_.size(), false);
  {
    std::vector<std::optional<agent::AsicDesired>> wants(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::string why;
      wants[i] = WantOf(i, &why);
      targeted[i] = wants[i].has_value();
      if (!why.empty()) Log(why);
    }
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < nodes_.size(); i = next++) {
        reports[i] = wants[i] ? gateway_.ConvergeOne({nodes_[i].endpoint, *wants[i]}) : gateway_.Observe(nodes_[i].endpoint);
      }
    };
    const size_t n = std::min<size_t>(nodes_.size(), static_cast<size_t>(std::max(1, o_.gateway.parallelism)));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < n; ++t) threads.emplace_back(work);
    for (std::thread& t : threads) t.join();
  }

  // 2. Heartbeat what answered; fetch the desired states that moved.
  net::HttpClient client(o_.host, o_.port, std::chrono::seconds(10));
  bool changed = false;
  for (size_t i = 0; i < nodes_.size() && !stop_; ++i) {
    const AsicFleetNode& n = nodes_[i];
    NodeState& s = state_[i];
    const agent::AsicReport& r = reports[i];
    if (!r.reachable) {
      // No heartbeat: the controller declares the node lost after its agent timeout.
      Log("ASIC " + n.name + " (" + n.endpoint.host + ":" + std::to_string(n.endpoint.port) +
          ") does not answer: no heartbeats until it does (" + r.error + ")");
      continue;
    }
    if (!r.error.empty()) Log("ASIC " + n.name + ": " + r.error);
    if (!s.registered) {
      json inv = json::array({{{"slot", 0}, {"model", n.model}, {"vram_gb", n.vram_gb}}});
      auto reg = client.Send("POST", "/v1/agents/register", json{{"node", n.name}, {"devices", inv}}.dump(), o_.agent_token);
      if (!reg || reg->status != 200) {
        Log("register " + n.name + ": " + (reg ? std::to_string(reg->status) + " " + reg->body : reg.error().message()));
        continue;
      }
      s.registered = true;
      s.desired_generation = -1;
      s.converged = 0;
      s.desired = nullptr;
    }
    if (targeted[i] && r.converged && s.desired.is_object()) s.converged = s.desired_generation;
    // What the ASIC does, in the agent protocol's words: asleep is off, awake is mining (on the
    // coin it was asked to mine, when it converged to that).
    json dev = {{"slot", 0}};
    if (r.asleep == true) {
      dev["use"] = "off";
    } else if (r.asleep == false || r.hashrate_hs > 0) {
      // Awake: mining, for the contract it was asked to serve once it mines on the contract's pool.
      const bool on_contract = targeted[i] && r.converged && s.desired.value("use", "") == "contract";
      dev["use"] = on_contract ? "contract" : "mining";
      if (on_contract) dev["contract"] = s.desired["contract"].value("id", int64_t{0});
      if (targeted[i] && r.converged && s.desired.value("use", "") == "mining") dev["coin"] = s.desired.value("coin", "");
    } else {
      dev["use"] = "idle";
    }
    if (r.hashrate_hs > 0) dev["hashrate_hs"] = static_cast<int64_t>(std::llround(r.hashrate_hs));
    if (r.power) {
      if (r.power->raw() >= 0 && r.power->raw() <= kMaxDevicePowerW) {
        dev["power_w"] = r.power->raw();
      } else {
        Log("ASIC " + n.name + " reports " + std::to_string(r.power->raw()) + " W, more than the agent API takes (" +
            std::to_string(kMaxDevicePowerW) + "): its power is not reported");
      }
    }
    if (r.temperature_c) dev["temperature_c"] = std::clamp(static_cast<int>(std::lround(*r.temperature_c)), 0, 200);
    json hb = {{"generation", s.converged}, {"devices", json::array({dev})}};
    auto beat = client.Send("POST", "/v1/agents/" + n.name + "/heartbeat", hb.dump(), o_.agent_token);
    if (!beat) {
      Log("heartbeat " + n.name + ": " + beat.error().message());
      continue;
    }
    if (beat->status == 404) {  // the controller restarted, or declared the node lost
      s.registered = false;
      continue;
    }
    if (beat->status != 200) {
      Log("heartbeat " + n.name + ": " + std::to_string(beat->status) + " " + beat->body);
      continue;
    }
    ++heartbeats_;
    const int64_t generation = json::parse(beat->body, nullptr, false).value("generation", int64_t{0});
    if (generation == s.desired_generation) continue;
    auto d = client.Send("GET", "/v1/agents/" + n.name + "/desired", {}, o_.agent_token);
    if (!d || d->status != 200) continue;
    json desired = json::parse(d->body, nullptr, false);
    if (desired.is_discarded() || !desired.contains("devices") || !desired["devices"].is_array()) continue;
    json device = nullptr;
    for (const json& x : desired["devices"]) {
      if (x.value("slot", -1) == 0) device = x;
    }
    s.desired = device;
    s.desired_generation = desired.value("generation", int64_t{0});
    changed = true;
  }
  return changed;
}

}  // namespace rigshift
