// Metered PDUs: what each outlet draws now and the energy it has counted, so that a hosted machine
// is billed for what its outlet measured.
//
// PowerMeter is the seam; RedfishPowerMeter reads DMTF Redfish's power distribution model over
// HTTP (net/http_client.h):
//   GET /redfish/v1/PowerEquipment/RackPDUs/{pdu}/Outlets/{outlet}
//   -> "PowerWatts": {"Reading": W}, "EnergykWh": {"Reading": kWh}
// as DSP0268's Outlet schema defines them and the OCP Rack PDU usage guide shows ("Get outlets",
// opencomputeproject/HWMgmt-OCP-Profiles); an outlet that carries its readings in a linked
// "Metrics" resource ({"Metrics": {"@odata.id": ...}}) is read there. Redfish writes a null
// Reading for a sensor it cannot read: that reading is absent, never zero.
//
// Units: power in integer watts (rounded half away from zero), energy in integer watt-hours
// (kWh x 1000, rounded): the types of common/units.h.
//
// Energy is a counter: what an outlet used between two readings is the difference, unless the
// counter went back (a reset: the PDU rebooted, or someone ran Outlet.ResetMetrics) or the sensor's
// SensorResetTime changed, or a reading is missing. EnergyBetween says which, so that a bill never
// carries a negative or a made-up zero.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/units.h"
#include "net/http_client.h"

namespace rigshift::agent {

struct OutletReading {
  std::string pdu, outlet;
  std::optional<Watts> power;       // PowerWatts.Reading
  std::optional<WattHours> energy;  // EnergykWh.Reading x 1000
  std::string energy_reset_time;    // EnergykWh.SensorResetTime, "" when not given
  std::optional<bool> powered;      // PowerState "On" (true) or "Off"; absent when not given
};

// {"pdu", "outlet", "power_w", "energy_wh", "energy_reset_time", "powered"}; absent readings are null.
nlohmann::json OutletReadingToJson(const OutletReading& r);

class PowerMeter {
 public:
  virtual ~PowerMeter() = default;
  // Reads one outlet now. Unavailable when the PDU does not answer (naming it); NotFound when it
  // has no such PDU or outlet; InvalidArgument when the answer is not an outlet.
  [[nodiscard]] virtual Result<OutletReading> Read(std::string_view pdu, std::string_view outlet) = 0;
};

// Switching an outlet on and off (a hosted machine held off for the site's power cap).
class PowerSwitch {
 public:
  virtual ~PowerSwitch() = default;
  // Asks the PDU to switch one outlet on or off; OK once the PDU accepted it (whether the machine
  // stopped drawing is for the next reading to tell). Errors as PowerMeter::Read's.
  [[nodiscard]] virtual Status SetPower(std::string_view pdu, std::string_view outlet, bool on) = 0;
};

struct RedfishOptions {
  std::chrono::milliseconds timeout{5000};
  std::string username, password;  // HTTP Basic, sent when username is not empty
  std::string ca_file;             // https:// URLs: the CA to trust (empty: the system's)
};

// Reads outlets, and switches them with the Outlet.PowerControl action (DSP0268's Outlet schema:
// POST .../Outlets/{outlet}/Actions/Outlet.PowerControl {"PowerState": "On" | "Off"}).
class RedfishPowerMeter : public PowerMeter, public PowerSwitch {
 public:
  // `base_url`: "http://HOST:PORT" or "https://HOST" of the PDU's Redfish service.
  [[nodiscard]] static Result<std::unique_ptr<RedfishPowerMeter>> Create(std::string_view base_url,
                                                                         RedfishOptions options = {});
  [[nodiscard]] Result<OutletReading> Read(std::string_view pdu, std::string_view outlet) override;
  [[nodiscard]] Status SetPower(std::string_view pdu, std::string_view outlet, bool on) override;

 private:
  RedfishPowerMeter(std::string base_url, std::string path_prefix, RedfishOptions options)
      : base_url_(std::move(base_url)), path_prefix_(std::move(path_prefix)), options_(std::move(options)) {}
  [[nodiscard]] Result<nlohmann::json> Get(const std::string& path);
  // `method` on `path` with `body`: the answer's status, or the error (named as Get's).
  [[nodiscard]] Result<net::HttpResponse> Call(const std::string& method, const std::string& path,
                                               const std::string& body);
  std::string OutletPath(std::string_view pdu, std::string_view outlet) const;

  std::string base_url_;     // scheme://host:port, no path
  std::string path_prefix_;  // the base URL's path without a trailing '/' ("" usually)
  RedfishOptions options_;
};

// An outlet resource (or its Metrics resource) read into `out`: PowerWatts.Reading,
// EnergykWh.Reading and EnergykWh.SensorResetTime. Pure; `where` names the input in errors.
[[nodiscard]] Status ParseRedfishOutlet(const nlohmann::json& outlet, std::string_view where, OutletReading& out);

struct EnergyDelta {
  enum class Kind {
    kMeasured,      // energy is what the counter advanced
    kCounterReset,  // the counter went back or was reset: nothing billed from this pair
    kMissing,       // a reading lacks the energy counter: nothing billed from this pair
  };
  Kind kind = Kind::kMissing;
  std::optional<WattHours> energy;  // kMeasured only (may be 0 when the outlet drew nothing)
  std::string reason;               // for kCounterReset and kMissing, what was seen
};

// The energy an outlet used between two of its readings, `before` first.
EnergyDelta EnergyBetween(const OutletReading& before, const OutletReading& after);

}  // namespace rigshift::agent
