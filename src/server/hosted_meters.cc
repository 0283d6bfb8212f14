#include "server/hosted_meters.h"

#include <iostream>
#include <map>

namespace rigshift {

HostedMeters::HostedMeters(Options options, std::vector<HostedOutlet> outlets)
    : o_(std::move(options)), outlets_(std::move(outlets)) {
  const size_t n = outlets_.size();
  meters_.resize(n);
  meter_errors_.resize(n);
  samples_.resize(n);
  wanted_.assign(n, true);
  off_since_.resize(n);
  commanded_.resize(n);
  said_drawing_.assign(n, false);
  said_switch_.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (outlets_[i].meter_url.empty()) continue;
    auto m = agent::RedfishPowerMeter::Create(outlets_[i].meter_url, o_.redfish);
    if (m) {
      meters_[i] = std::move(*m);
    } else {
      meter_errors_[i] = m.error().message();
    }
  }
  if (!o_.now) {
    o_.now = [] {
      return Timestamp{std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                           .count()};
    };
  }
}

HostedMeters::~HostedMeters() { Stop(); }

void HostedMeters::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void HostedMeters::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HostedMeters::Run() {
  while (!stop_) {
    PollOnce();
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, o_.poll, [this] { return stop_.load(); });
  }
}

void HostedMeters::Log(const std::string& line) {
  if (o_.log) {
    o_.log(line);
  } else {
    std::cerr << "hosted meters: " << line << "\n";
  }
}

std::vector<MeterSample> HostedMeters::Latest() {
  std::lock_guard lock(mu_);
  return samples_;
}

void HostedMeters::SetWanted(const std::vector<bool>& on) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < on.size() && i < wanted_.size(); ++i) {
    if (wanted_[i] && !on[i]) off_since_[i] = now;
    wanted_[i] = on[i];
  }
}

std::vector<MeterEvent> HostedMeters::TakeEvents() {
  std::lock_guard lock(mu_);
  std::vector<MeterEvent> out;
  out.swap(events_);
  return out;
}

void HostedMeters::PollOnce() {
  std::vector<bool> wanted;
  std::vector<std::chrono::steady_clock::time_point> off_since;
  {
    std::lock_guard lock(mu_);
    wanted = wanted_;
    off_since = off_since_;
  }
  std::map<std::string, std::string> dead;  // PDUs that did not answer this round: why
  std::vector<MeterEvent> events;
  for (size_t i = 0; i < outlets_.size() && !stop_; ++i) {
    const HostedOutlet& o = outlets_[i];
    if (o.meter_url.empty()) continue;
    MeterSample s;
    Result<agent::OutletReading> r = Err(UnavailableError(meter_errors_[i]));
    if (meters_[i] == nullptr) {
      // A URL the meter cannot use: said in the sample (and the alert the billing raises).
    } else if (auto d = dead.find(o.meter_url); d != dead.end()) {
      r = Err(UnavailableError(d->second));
    } else {
      r = meters_[i]->Read(o.pdu, o.outlet);
      if (!r && r.error().code() == StatusCode::kUnavailable) dead[o.meter_url] = r.error().message();
    }
    s.at = o_.now();
    if (r) {
      s.reading = *r;
    } else {
      s.error = r.error().message();
    }
    if (r && o.switchable) {
      // Make the outlet what the farm wants. A PDU that does not say its PowerState is sent the
      // switch once per change of what is wanted.
      const bool want_on = wanted[i];
      const bool differs = r->powered ? *r->powered != want_on : commanded_[i] != want_on;
      if (differs) {
        Status st = meters_[i]->SetPower(o.pdu, o.outlet, want_on);
        if (st.ok()) {
          ++switches_;
          commanded_[i] = want_on;
          said_switch_[i] = false;
          Log(o.name + ": switched PDU " + o.pdu + " outlet " + o.outlet + (want_on ? " on" : " off") +
              (want_on ? "" : " (held off for the site's power cap)"));
        } else if (!said_switch_[i]) {
          said_switch_[i] = true;
          events.push_back({static_cast<int>(i), "hosted_switch_failed",
                            o.name + ": PDU " + o.pdu + " outlet " + o.outlet + " would not switch " +
                                (want_on ? "on" : "off") + ": " + st.message()});
        }
      }
      // Held off: verified by what the outlet draws.
      const int64_t limit = std::max(o_.still_drawing_w, o.nameplate.raw() / 50);
      const bool draws = r->power && r->power->raw() > limit;
      // (Only a reading taken after the outlet was off: not this round's when it was just switched.)
      if (!want_on && !differs && draws && std::chrono::steady_clock::now() - off_since[i] >= o_.verify_after) {
        if (!said_drawing_[i]) {
          said_drawing_[i] = true;
          events.push_back({static_cast<int>(i), "hosted_still_drawing",
                            o.name + ": held off for the power cap, but PDU " + o.pdu + " outlet " + o.outlet +
                                " still reads " + std::to_string(r->power->raw()) + " W (PowerState " +
                                (r->powered ? (*r->powered ? "On" : "Off") : std::string("not given")) +
                                "): the site may be above its cap"});
        }
      } else if (want_on || !draws) {
        said_drawing_[i] = false;
      }
    }
    std::lock_guard lock(mu_);
    s.serial = samples_[i].serial + 1;
    samples_[i] = std::move(s);
  }
  ++rounds_;
  if (!events.empty()) {
    std::lock_guard lock(mu_);
    events_.insert(events_.end(), events.begin(), events.end());
  }
}

}  // namespace rigshift
