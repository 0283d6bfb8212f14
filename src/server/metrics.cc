#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace rigshift {
namespace {

// Seconds: 50 us to 2.5 s, for API requests and engine decisions alike.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                         0.5,     1.0,    2.5};
  return b;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  devices_ = &prometheus::BuildGauge()
                  .Name("rigshift_devices")
                  .Help("GPUs by what they do now (lease, mining, idle, curtailed, offline)")
                  .Register(*registry_);
  leases_ = &prometheus::BuildGauge().Name("rigshift_leases").Help("Leases by state").Register(*registry_);
  revenue_ = &prometheus::BuildCounter()
                  .Name("rigshift_revenue_micro_usd_total")
                  .Help("Income written to the ledger since start, micro-USD, by use (ai, mining)")
                  .Register(*registry_);
  revenue_->Add({{"use", "ai"}});
  revenue_->Add({{"use", "mining"}});
  energy_ = &prometheus::BuildCounter()
                 .Name("rigshift_energy_cost_micro_usd_total")
                 .Help("Energy cost written to the ledger since start, micro-USD")
                 .Register(*registry_)
                 .Add({});
  http_ = &prometheus::BuildHistogram()
               .Name("rigshift_http_request_duration_seconds")
               .Help("API request latency inside the server, by route template, method and status")
               .Register(*registry_);
  engine_ = &prometheus::BuildHistogram()
                 .Name("rigshift_engine_decision_duration_seconds")
                 .Help("Engine decisions (submit: one request; tick: market re-plan; end: a lease ends)")
                 .Register(*registry_);
  failed_commits_ = &prometheus::BuildCounter()
                         .Name("rigshift_store_failed_commits_total")
                         .Help("Group commits the store could not make, by reason (disk_full: no space on the "
                               "disk or quota; error: any other); their writes were answered with an error")
                         .Register(*registry_);
  failed_commits_->Add({{"reason", "disk_full"}});
  failed_commits_->Add({{"reason", "error"}});
  writes_failing_ = &prometheus::BuildGauge()
                         .Name("rigshift_store_writes_failing")
                         .Help("1 from a failed commit until a commit succeeds again (writes get 507 or 503 "
                               "meanwhile; reads go on), else 0")
                         .Register(*registry_)
                         .Add({});
  alerts_ = &prometheus::BuildCounter()
                 .Name("rigshift_alerts_total")
                 .Help("Alerts raised, by kind (node_lost, node_quarantined, gpu_drained, divergence, "
                       "mining_on_lease, store_write_failed, store_writes_resumed); GET /v1/alerts lists them")
                 .Register(*registry_);
  for (const char* kind : {"node_lost", "node_quarantined", "gpu_drained", "divergence", "mining_on_lease",
                           "store_write_failed", "store_writes_resumed"}) {
    alerts_->Add({{"kind", kind}});
  }
  webhooks_ = &prometheus::BuildCounter()
                   .Name("rigshift_webhook_deliveries_total")
                   .Help("Alerts sent to webhooks, by outcome: delivered (a 2xx), failed (every attempt "
                         "failed), dropped (a full queue, or the server stopping)")
                   .Register(*registry_);
  for (const char* outcome : {"delivered", "failed", "dropped"}) webhooks_->Add({{"outcome", outcome}});
  divergent_ = &prometheus::BuildGauge()
                    .Name("rigshift_devices_divergent")
                    .Help("Devices whose agent, converged to the desired generation, reports another use, lease "
                          "or coin than it was asked, or a mining process on a leased GPU")
                    .Register(*registry_)
                    .Add({});
  divergences_ = &prometheus::BuildGauge()
                      .Name("rigshift_divergences_total")
                      .Help("Times a device's report came to differ from what it was asked, by kind (use, lease, "
                            "coin, mining_on_lease)")
                      .Register(*registry_);
  hosted_draw_ = &prometheus::BuildGauge()
                      .Name("rigshift_hosted_draw_watts")
                      .Help("What each hosted machine draws at the plug: its PDU outlet's last reading, else its "
                            "nameplate while on")
                      .Register(*registry_);
  hosted_off_ = &prometheus::BuildGauge()
                     .Name("rigshift_hosted_held_off")
                     .Help("1 while the farm holds the hosted machine off for its site's power cap, else 0")
                     .Register(*registry_);
  hosted_meter_ok_ = &prometheus::BuildGauge()
                          .Name("rigshift_hosted_meter_ok")
                          .Help("0 while the hosted machine's meter has a problem (a reset, no counter, no answer: "
                                "nothing is billed), else 1")
                          .Register(*registry_);
  site_limit_ = &prometheus::BuildGauge()
                     .Name("rigshift_site_limit_watts")
                     .Help("The curtailment limit in force at each site (facility watts), -1 when none: the price "
                           "trigger's or an emergency event's, whichever is lower")
                     .Register(*registry_);
  site_curtail_phase_ = &prometheus::BuildGauge()
                             .Name("rigshift_site_curtail_phase")
                             .Help("1 for the phase the site's price trigger is in (idle, armed, ramping, holding, "
                                   "restoring), 0 for the others")
                             .Register(*registry_);
  site_curtail_events_ = &prometheus::BuildGauge()
                              .Name("rigshift_site_curtail_events_active")
                              .Help("Emergency curtailment events in force at each site")
                              .Register(*registry_);
}

Metrics::~Metrics() = default;

void Metrics::EngineDecision(std::string_view kind, double seconds) {
  engine_->Add({{"kind", std::string(kind)}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::Income(std::string_view use, Money amount) {
  if (amount.raw() > 0) revenue_->Add({{"use", std::string(use)}}).Increment(static_cast<double>(amount.raw()));
}

void Metrics::EnergyCost(Money amount) {
  if (amount.raw() > 0) energy_->Increment(static_cast<double>(amount.raw()));
}

void Metrics::Request(std::string_view route, std::string_view method, int status, double seconds) {
  http_
      ->Add({{"route", std::string(route)}, {"method", std::string(method)}, {"code", std::to_string(status)}},
            LatencyBuckets())
      .Observe(seconds);
}

void Metrics::StoreCommitFailed(bool disk_full) {
  failed_commits_->Add({{"reason", disk_full ? "disk_full" : "error"}}).Increment();
}

void Metrics::StoreWritesFailing(bool failing) { writes_failing_->Set(failing ? 1 : 0); }

void Metrics::Raised(const Alert& alert) { alerts_->Add({{"kind", alert.kind}}).Increment(); }

void Metrics::WebhookDelivery(std::string_view outcome) {
  webhooks_->Add({{"outcome", std::string(outcome)}}).Increment();
}

std::string Metrics::Render(const FarmCounts& counts) {
  for (const auto& [use, n] : counts.devices_by_use) devices_->Add({{"use", use}}).Set(static_cast<double>(n));
  for (const auto& [state, n] : counts.leases_by_state) leases_->Add({{"state", state}}).Set(static_cast<double>(n));
  divergent_->Set(static_cast<double>(counts.divergent_devices));
  for (const char* kind : {"use", "lease", "coin", "mining_on_lease"}) {
    auto it = counts.divergences.find(kind);
    divergences_->Add({{"kind", kind}}).Set(it == counts.divergences.end() ? 0.0 : static_cast<double>(it->second));
  }
  for (const FarmCounts::Hosted& h : counts.hosted) {
    hosted_draw_->Add({{"name", h.name}}).Set(static_cast<double>(h.draw_w));
    hosted_off_->Add({{"name", h.name}}).Set(h.off ? 1 : 0);
    hosted_meter_ok_->Add({{"name", h.name}}).Set(h.meter_ok ? 1 : 0);
  }
  for (const FarmCounts::SiteCurtail& s : counts.sites) {
    site_limit_->Add({{"site", s.site}}).Set(static_cast<double>(s.limit_w));
    for (const char* phase : {"idle", "armed", "ramping", "holding", "restoring"}) {
      site_curtail_phase_->Add({{"site", s.site}, {"phase", phase}}).Set(s.phase == phase ? 1 : 0);
    }
    site_curtail_events_->Add({{"site", s.site}}).Set(static_cast<double>(s.active_events));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace rigshift
