#include "agent/asic_gateway.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace rigshift::agent {
namespace {

std::string NameOf(const AsicEndpoint& e) {
  if (!e.name.empty()) return e.name;
  return (e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

void Fill(AsicReport& r, const AsicState& s) {
  r.hashrate_hs = s.summary.hashrate_hs;
  r.temperature_c = s.temperature_c;
  r.power = s.power;
  r.asleep = s.asleep;
  if (const AsicPool* p = s.ActivePool()) r.active_pool = *p;
}

// The pool with this URL and user, if the miner has one.
const AsicPool* FindPool(const std::vector<AsicPool>& pools, const AsicDesired& d) {
  for (const AsicPool& p : pools) {
    if (p.url == d.pool_url && p.user == d.pool_user) return &p;
  }
  return nullptr;
}

// Mining on `pool` means: it is enabled and no enabled pool is preferred to it. switchpool gives
// exactly that (API-README: "switching pool N to the highest priority (the pool is also enabled)").
bool IsPreferred(const std::vector<AsicPool>& pools, const AsicPool& pool) {
  if (pool.status == "Disabled") return false;
  for (const AsicPool& p : pools) {
    if (p.index != pool.index && p.status != "Disabled" && p.priority < pool.priority) return false;
  }
  return true;
}

bool IsAsWanted(const AsicState& s, const AsicDesired& d) {
  if (d.kind == AsicDesired::Kind::kSleep) return s.asleep == true;
  if (s.asleep == true) return false;
  if (d.kind == AsicDesired::Kind::kAwake) return true;
  const AsicPool* p = FindPool(s.pools, d);
  return p != nullptr && IsPreferred(s.pools, *p);
}

}  // namespace

nlohmann::json AsicReportToJson(const AsicReport& r) {
  nlohmann::json pool = nullptr;
  if (r.active_pool) pool = {{"index", r.active_pool->index}, {"url", r.active_pool->url}, {"user", r.active_pool->user}};
  return {{"name", r.name},
          {"reachable", r.reachable},
          {"converged", r.converged},
          {"error", r.error},
          {"hashrate_hs", r.hashrate_hs},
          {"temperature_c", r.temperature_c ? nlohmann::json(*r.temperature_c) : nlohmann::json(nullptr)},
          {"power_w", r.power ? nlohmann::json(r.power->raw()) : nlohmann::json(nullptr)},
          {"active_pool", pool},
          {"asleep", r.asleep ? nlohmann::json(*r.asleep) : nlohmann::json(nullptr)},
          {"changes", r.changes}};
}

AsicReport AsicGateway::Observe(const AsicEndpoint& e) const {
  AsicReport r;
  r.name = NameOf(e);
  CgminerClient client(e.host, e.port, e.firmware, options_.client);
  Result<AsicState> s = client.State();
  if (!s) {
    r.reachable = s.error().code() != StatusCode::kUnavailable;
    r.error = s.error().message();
    return r;
  }
  r.reachable = true;
  Fill(r, *s);
  return r;
}

AsicReport AsicGateway::ConvergeOne(const AsicTarget& t) const {
  AsicReport r;
  r.name = NameOf(t.endpoint);
  const AsicDesired& d = t.desired;
  CgminerClient client(t.endpoint.host, t.endpoint.port, t.endpoint.firmware, options_.client);
  Result<AsicState> before = client.State();
  if (!before) {
    // Unavailable: no connection or no answer. Anything else: it answered, but not readably.
    r.reachable = before.error().code() != StatusCode::kUnavailable;
    r.error = before.error().message();
    return r;
  }
  r.reachable = true;

  Status step = OkStatus();
  if (!IsAsWanted(*before, d)) {
    if (d.kind == AsicDesired::Kind::kSleep) {
      step = client.Sleep();
    } else if (d.kind == AsicDesired::Kind::kAwake) {
      step = client.Wake();
    } else {
      if (before->asleep == true) step = client.Wake();
      if (step.ok()) {
        std::optional<int> index;
        if (const AsicPool* p = FindPool(before->pools, d)) {
          if (!IsPreferred(before->pools, *p)) index = p->index;
        } else {
          Result<int> added = client.AddPool(d.pool_url, d.pool_user, d.pool_password);
          if (added) {
            index = *added;
          } else {
            step = added.error();
          }
        }
        if (step.ok() && index) step = client.SwitchPool(*index);
      }
    }
  }
  r.changes = client.changes();

  Result<AsicState> after = r.changes.empty() ? std::move(before) : client.State();
  if (!after) {
    r.error = step.ok() ? after.error().message() : step.message();
    return r;
  }
  Fill(r, *after);
  r.converged = step.ok() && IsAsWanted(*after, d);
  if (!step.ok()) {
    r.error = step.message();
  } else if (!r.converged) {
    if (d.kind == AsicDesired::Kind::kSleep) {
      r.error = "sent sleep, but the miner does not report itself asleep yet";
    } else if (after->asleep == true) {
      r.error = "sent wake, but the miner still reports itself asleep";
    } else {
      r.error = "sent the pool change, but the miner does not list " + d.pool_url + " as its preferred pool yet";
    }
  }
  return r;
}

std::vector<AsicReport> AsicGateway::Converge(const std::vector<AsicTarget>& targets) const {
  std::vector<AsicReport> reports(targets.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < targets.size(); i = next++) reports[i] = ConvergeOne(targets[i]);
  };
  size_t n = std::min<size_t>(targets.size(), static_cast<size_t>(std::max(1, options_.parallelism)));
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  return reports;
}

}  // namespace rigshift::agent
