#include "agent/pdu.h"

#include <cctype>
#include <cmath>
#include <utility>


namespace rigshift::agent {
namespace {

using nlohmann::json;

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// A Redfish id as one path segment: unreserved characters as they are, the rest %XX.
std::string PathSegment(std::string_view id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A Redfish sensor excerpt's Reading scaled to an integer (`scale` decimal digits moved left):
// nullopt when the excerpt or its Reading is absent or null.
Result<std::optional<int64_t>> ScaledReading(const json& resource, const char* property, int scale,
                                             std::string_view where) {
  auto it = resource.find(property);
  if (it == resource.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_object()) return Err(InvalidArgumentError(std::string(where) + ": " + property + ": not an object"));
  auto reading = it->find("Reading");
  if (reading == it->end() || reading->is_null()) return std::optional<int64_t>();
  if (!reading->is_number()) {
    return Err(InvalidArgumentError(std::string(where) + ": " + property + ".Reading: " + reading->dump() +
                                    " is not a number"));
  }
  // The number's shortest decimal text, so that 36166.123 kWh is 36166123 Wh exactly.
  RS_ASSIGN_OR_RETURN(int64_t v, ParseScaled(reading->dump(), scale));
  if (v < 0) {
    return Err(InvalidArgumentError(std::string(where) + ": " + property + ".Reading: " + reading->dump() +
                                    " is negative"));
  }
  return std::optional<int64_t>(v);
}

}  // namespace

json OutletReadingToJson(const OutletReading& r) {
  return {{"pdu", r.pdu},
          {"outlet", r.outlet},
          {"power_w", r.power ? json(r.power->raw()) : json(nullptr)},
          {"energy_wh", r.energy ? json(r.energy->raw()) : json(nullptr)},
          {"energy_reset_time", r.energy_reset_time.empty() ? json(nullptr) : json(r.energy_reset_time)},
          {"powered", r.powered ? json(*r.powered) : json(nullptr)}};
}

Status ParseRedfishOutlet(const json& outlet, std::string_view where, OutletReading& out) {
  if (!outlet.is_object()) return InvalidArgumentError(std::string(where) + ": not a JSON object");
  RS_ASSIGN_OR_RETURN(std::optional<int64_t> watts, ScaledReading(outlet, "PowerWatts", 0, where));
  RS_ASSIGN_OR_RETURN(std::optional<int64_t> wh, ScaledReading(outlet, "EnergykWh", 3, where));
  if (watts) out.power = Watts(*watts);
  if (wh) out.energy = WattHours(*wh);
  if (auto state = outlet.find("PowerState"); state != outlet.end() && state->is_string()) {
    if (*state == "On") out.powered = true;
    if (*state == "Off") out.powered = false;
  }
  auto energy = outlet.find("EnergykWh");
  if (energy != outlet.end() && energy->is_object()) {
    auto reset = energy->find("SensorResetTime");
    if (reset != energy->end() && reset->is_string()) out.energy_reset_time = reset->get<std::string>();
  }
  return OkStatus();
}

Result<std::unique_ptr<RedfishPowerMeter>> RedfishPowerMeter::Create(std::string_view base_url, RedfishOptions options) {
  RS_ASSIGN_OR_RETURN(net::Url url, net::ParseUrl(base_url));
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  std::string base = std::string(url.tls ? "https://" : "http://") + host + ":" + std::to_string(url.port);
  std::string prefix = url.target;
  if (size_t q = prefix.find('?'); q != std::string::npos) prefix.resize(q);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!url.tls && !options.ca_file.empty()) {
    return Err(InvalidArgumentError("redfish: a CA file is for https:// only, and " + std::string(base_url) +
                                    " is plain http"));
  }
  return std::unique_ptr<RedfishPowerMeter>(new RedfishPowerMeter(std::move(base), std::move(prefix), std::move(options)));
}

Result<net::HttpResponse> RedfishPowerMeter::Call(const std::string& method, const std::string& path,
                                                  const std::string& body) {
  std::string url = base_url_ + path;
  RS_ASSIGN_OR_RETURN(net::HttpClient client, net::HttpClient::ForUrl(base_url_, options_.ca_file, options_.timeout));
  std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/json"},
                                                              {"OData-Version", "4.0"}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  if (!options_.username.empty()) {
    headers.emplace_back("Authorization", "Basic " + Base64(options_.username + ":" + options_.password));
  }
  Result<net::HttpResponse> r = client.Send(method, path, body, {}, headers);
  if (!r) return Err(UnavailableError("PDU " + url + ": " + r.error().message()));
  if (r->status == 404) return Err(NotFoundError("PDU " + url + ": 404, no such resource"));
  if (r->status == 401 || r->status == 403) {
    return Err(PermissionDeniedError("PDU " + url + ": " + std::to_string(r->status) +
                                     " (the PDU wants credentials: RedfishOptions username/password)"));
  }
  if (r->status >= 500) return Err(UnavailableError("PDU " + url + ": " + std::to_string(r->status)));
  return r;
}

std::string RedfishPowerMeter::OutletPath(std::string_view pdu, std::string_view outlet) const {
  return path_prefix_ + "/redfish/v1/PowerEquipment/RackPDUs/" + PathSegment(pdu) + "/Outlets/" + PathSegment(outlet);
}

Status RedfishPowerMeter::SetPower(std::string_view pdu, std::string_view outlet, bool on) {
  const std::string path = OutletPath(pdu, outlet) + "/Actions/Outlet.PowerControl";
  RS_ASSIGN_OR_RETURN(net::HttpResponse r, Call("POST", path, json{{"PowerState", on ? "On" : "Off"}}.dump()));
  // DSP0266: an action answers 200 with a body, 204 without, or 202 with a task that completes later.
  if (r.status != 200 && r.status != 202 && r.status != 204) {
    return InvalidArgumentError("PDU " + base_url_ + path + ": refused PowerState " + (on ? "On" : "Off") + " (" +
                                std::to_string(r.status) + " " + r.body.substr(0, 200) + ")");
  }
  return OkStatus();
}

Result<json> RedfishPowerMeter::Get(const std::string& path) {
  std::string url = base_url_ + path;
  RS_ASSIGN_OR_RETURN(net::HttpResponse response, Call("GET", path, {}));
  const net::HttpResponse* r = &response;
  if (r->status != 200) return Err(InvalidArgumentError("PDU " + url + ": unexpected status " + std::to_string(r->status)));
  json body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Err(InvalidArgumentError("PDU " + url + ": the answer is not a JSON object"));
  }
  return body;
}

Result<OutletReading> RedfishPowerMeter::Read(std::string_view pdu, std::string_view outlet) {
  std::string path = OutletPath(pdu, outlet);
  RS_ASSIGN_OR_RETURN(json resource, Get(path));
  OutletReading out;
  out.pdu = std::string(pdu);
  out.outlet = std::string(outlet);
  RS_RETURN_IF_ERROR(ParseRedfishOutlet(resource, "PDU " + base_url_ + path, out));
  // Readings kept in a linked Metrics resource instead of the outlet itself.
  auto metrics = resource.find("Metrics");
  if ((!out.power || !out.energy) && metrics != resource.end() && metrics->is_object() &&
      metrics->contains("@odata.id") && (*metrics)["@odata.id"].is_string()) {
    std::string mpath = (*metrics)["@odata.id"].get<std::string>();
    RS_ASSIGN_OR_RETURN(json m, Get(mpath));
    OutletReading from_metrics;
    RS_RETURN_IF_ERROR(ParseRedfishOutlet(m, "PDU " + base_url_ + mpath, from_metrics));
    if (!out.power) out.power = from_metrics.power;
    if (!out.energy) {
      out.energy = from_metrics.energy;
      out.energy_reset_time = from_metrics.energy_reset_time;
    }
  }
  return out;
}

EnergyDelta EnergyBetween(const OutletReading& before, const OutletReading& after) {
  EnergyDelta d;
  std::string name = before.pdu + "/" + before.outlet;
  if (!before.energy || !after.energy) {
    d.kind = EnergyDelta::Kind::kMissing;
    d.reason = name + ": the " + std::string(!before.energy ? "first" : "second") +
               " reading has no energy counter; nothing is billed for this interval";
    return d;
  }
  if (before.energy_reset_time != after.energy_reset_time && !after.energy_reset_time.empty()) {
    d.kind = EnergyDelta::Kind::kCounterReset;
    d.reason = name + ": the energy counter was reset at " + after.energy_reset_time + " (" +
               std::to_string(before.energy->raw()) + " Wh before, " + std::to_string(after.energy->raw()) +
               " Wh now); nothing is billed for this interval";
    return d;
  }
  if (*after.energy < *before.energy) {
    d.kind = EnergyDelta::Kind::kCounterReset;
    d.reason = name + ": the energy counter went back from " + std::to_string(before.energy->raw()) + " Wh to " +
               std::to_string(after.energy->raw()) + " Wh (reset); nothing is billed for this interval";
    return d;
  }
  d.kind = EnergyDelta::Kind::kMeasured;
  d.energy = *after.energy - *before.energy;
  return d;
}

}  // namespace rigshift::agent
