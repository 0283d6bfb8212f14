// Metrics: what /metrics serves, in the Prometheus text format (prometheus-cpp's registry and
// serializer; the server's own HTTP layer serves the text, so no second listener is opened).
//
// Thread-safe: counters and histograms are prometheus-cpp's (atomic), updated from the I/O
// threads and from the farm's thread alike.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/farm.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace rigshift {

class Metrics final : public FarmObserver {
 public:
  Metrics();
  ~Metrics() override;

  void EngineDecision(std::string_view kind, double seconds) override;
  void Income(std::string_view use, Money amount) override;
  void EnergyCost(Money amount) override;
  void Raised(const Alert& alert) override;
  // One API request: `route` is the path template ("/v1/leases/{id}"), never the raw path.
  void Request(std::string_view route, std::string_view method, int status, double seconds);
  // A group commit the store could not make: for lack of space (a full disk or quota), or another
  // error. Called from the store's committer thread.
  void StoreCommitFailed(bool disk_full);
  // Whether the store's writes fail now: from a failed commit until the next one succeeds.
  void StoreWritesFailing(bool failing);
  // An alert's delivery to a webhook ended: "delivered", "failed" or "dropped" (server/webhooks.h).
  // Thread-safe.
  void WebhookDelivery(std::string_view outcome);
  // The exposition text, with the gauges set from `counts` first.
  std::string Render(const FarmCounts& counts);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* devices_;
  prometheus::Family<prometheus::Gauge>* leases_;
  prometheus::Family<prometheus::Counter>* revenue_;
  prometheus::Counter* energy_;
  prometheus::Family<prometheus::Histogram>* http_;
  prometheus::Family<prometheus::Histogram>* engine_;
  prometheus::Family<prometheus::Counter>* failed_commits_;
  prometheus::Gauge* writes_failing_;
  prometheus::Family<prometheus::Counter>* alerts_;
  prometheus::Family<prometheus::Counter>* webhooks_;
  prometheus::Gauge* divergent_;
  prometheus::Family<prometheus::Gauge>* divergences_;
  prometheus::Family<prometheus::Gauge>* hosted_draw_;     // per hosted machine (docs/hosting.md)
  prometheus::Family<prometheus::Gauge>* hosted_off_;
  prometheus::Family<prometheus::Gauge>* hosted_meter_ok_;
  prometheus::Family<prometheus::Gauge>* site_limit_;       // per site (docs/demand-response.md)
  prometheus::Family<prometheus::Gauge>* site_curtail_phase_;
  prometheus::Family<prometheus::Gauge>* site_curtail_events_;
};

}  // namespace rigshift
