#include "server/history.h"

#include <algorithm>

namespace rigshift {

void PowerHistory::Record(int site, const SitePowerSample& s) {
  std::deque<SitePowerSample>& q = samples_[site];
  q.push_back(s);
  while (q.size() > per_site_) q.pop_front();
}

std::vector<SitePowerSample> PowerHistory::Since(int site, Timestamp from) const {
  const std::deque<SitePowerSample>& q = samples_[site];
  auto first = std::lower_bound(q.begin(), q.end(), from,
                                [](const SitePowerSample& s, Timestamp t) { return s.at.seconds < t.seconds; });
  return {first, q.end()};
}

std::vector<CurtailmentEvent> PowerHistory::Curtailments(Timestamp from) const {
  std::vector<CurtailmentEvent> out;
  for (int site = 0; site < static_cast<int>(samples_.size()); ++site) {
    std::optional<CurtailmentEvent> open;
    auto close = [&] {
      if (open && open->to.seconds >= from.seconds) out.push_back(*open);
      open.reset();
    };
    for (const SitePowerSample& s : samples_[site]) {
      if (s.curtailed_gpus <= 0) {
        close();
        continue;
      }
      if (!open) open = CurtailmentEvent{site, s.at, s.at, 0};
      open->to = s.at;
      open->max_curtailed_gpus = std::max(open->max_curtailed_gpus, s.curtailed_gpus);
    }
    close();
  }
  return out;
}

void TelemetryHistory::Record(int node, Timestamp at, const std::vector<DeviceReport>& devices) {
  std::deque<TelemetrySample>& q = samples_[node];
  TelemetrySample sample{at, {}};
  sample.devices.reserve(devices.size());
  for (const DeviceReport& d : devices) {
    sample.devices.push_back({d.slot, d.power ? std::optional<int>(static_cast<int>(d.power->raw())) : std::nullopt,
                              d.temperature_c, d.utilization_pct, d.hashrate_hs});
  }
  q.push_back(std::move(sample));
  while (q.size() > per_node_) q.pop_front();
}

}  // namespace rigshift
