// HostedMeters: the hosted machines' metered PDU outlets, read and switched from a thread of their
// own, so that a PDU that does not answer never holds the farm's lock (server/hosting.h's
// HostedMeterSource; docs/operations.md, "Hosted machines").
//
// Every `poll` it reads each metered outlet (Redfish, agent/pdu.h) under `redfish.timeout`, and
// keeps the latest sample per machine for the farm's next accounting. A PDU that does not answer
// is not asked again for its other outlets in that round (each would cost the timeout). For an
// interruptible machine it also makes the outlet what the farm wants (SetWanted): when the
// outlet's PowerState differs, it sends Outlet.PowerControl Off or On; a machine held off that
// still draws more than `still_drawing_w` (or 2 % of its nameplate, if more) `verify_after` after
// it was asked off is reported once (MeterEvent "hosted_still_drawing") until it stops drawing or
// is wanted on again; a switch the PDU refuses is reported once per episode
// ("hosted_switch_failed"). A firm machine's outlet is never switched.
//
// Thread-safe: Latest, SetWanted and TakeEvents take a small lock and do no I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/pdu.h"
#include "server/hosting.h"

namespace rigshift {

struct HostedOutlet {
  std::string name;
  std::string meter_url, pdu, outlet;  // meter_url "": no meter, never polled
  bool switchable = false;             // interruptible: the farm may hold it off
  Watts nameplate;
};

class HostedMeters final : public HostedMeterSource {
 public:
  struct Options {
    std::chrono::milliseconds poll{5000};
    static agent::RedfishOptions ThreeSeconds() {
      agent::RedfishOptions r;
      r.timeout = std::chrono::milliseconds(3000);
      return r;
    }
    agent::RedfishOptions redfish = ThreeSeconds();
    std::chrono::milliseconds verify_after{15000};
    int64_t still_drawing_w = 10;
    std::function<Timestamp()> now;                    // the wall clock of the samples
    std::function<void(const std::string&)> log;       // one line, no newline
  };

  HostedMeters(Options options, std::vector<HostedOutlet> outlets);
  ~HostedMeters() override;
  void Start();
  void Stop();
  // One round, on the caller's thread (what the thread does every `poll`).
  void PollOnce();

  std::vector<MeterSample> Latest() override;
  void SetWanted(const std::vector<bool>& on) override;
  std::vector<MeterEvent> TakeEvents() override;

  int64_t rounds() const { return rounds_.load(); }
  int64_t switches() const { return switches_.load(); }

 private:
  void Run();
  void Log(const std::string& line);

  Options o_;
  std::vector<HostedOutlet> outlets_;
  std::vector<std::unique_ptr<agent::RedfishPowerMeter>> meters_;  // per outlet; null: none or a bad URL
  std::vector<std::string> meter_errors_;                          // why a meter could not be made
  std::mutex mu_;                                                  // what follows
  std::vector<MeterSample> samples_;
  std::vector<bool> wanted_;                                       // powered, per outlet
  std::vector<std::chrono::steady_clock::time_point> off_since_;   // when it was last wanted off
  std::vector<MeterEvent> events_;
  // The poller's own (its thread only).
  std::vector<std::optional<bool>> commanded_;  // the last PowerState sent
  std::vector<bool> said_drawing_, said_switch_;
  std::atomic<int64_t> rounds_{0}, switches_{0};
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace rigshift
