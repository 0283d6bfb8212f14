// libFuzzer target for the API request parsers (src/server/api_parse.h).
//
// Every input goes to every parser (they are cheap, and a body that gets far in one parser is a
// good start for the others). Besides "no crash, no leak, no undefined behaviour, no exception",
// it checks what the header promises:
// - an error is InvalidArgument (ParseBearer: Unauthenticated) with a non-empty, valid UTF-8
//   message; ParseBearer's messages never depend on the input (so never echo a secret);
// - a value is within its documented ranges;
// - a body that is accepted is valid JSON to nlohmann's own DOM parser, and the numbers agree
//   with its doubles (integers exactly, decimals within rounding).
// Build and run: scripts/fuzz.sh [SECONDS].
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "server/api_parse.h"

namespace rigshift {
namespace {

#define FUZZ_CHECK(cond, what)                                                                  \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, #cond, what); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A string a parser returned: within the size limit, no control characters.
void CheckText(std::string_view s, bool allow_empty) {
  FUZZ_CHECK(allow_empty || !s.empty(), "empty string accepted");
  FUZZ_CHECK(CodePoints(s) <= kMaxStringChars, "string too long");
  FUZZ_CHECK(ValidUtf8(s), "string not UTF-8");
  for (char c : s) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F, "control character accepted");
}

void CheckName(std::string_view s) {
  FUZZ_CHECK(!s.empty() && s.size() <= kMaxNameChars, "name length");
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    FUZZ_CHECK(ok, "name character");
  }
}

template <typename T>
void CheckError(const Result<T>& r, StatusCode code) {
  if (r.has_value()) return;
  FUZZ_CHECK(r.error().code() == code, r.error().ToString().c_str());
  FUZZ_CHECK(!r.error().message().empty(), "empty message");
  FUZZ_CHECK(ValidUtf8(r.error().message()), "message not UTF-8");
}

// nlohmann's DOM of a body one of our parsers accepted: it must parse too.
nlohmann::json Dom(std::string_view body) {
  try {
    nlohmann::json j = nlohmann::json::parse(body);
    FUZZ_CHECK(j.is_object(), "accepted body is not an object to nlohmann");
    return j;
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, e.what());
  }
  return {};
}

// `j[key]` is a number whose double equals `want`.
void CheckInteger(const nlohmann::json& j, const char* key, int64_t want) {
  FUZZ_CHECK(j.contains(key) && j[key].is_number(), key);
  FUZZ_CHECK(j[key].get<double>() == static_cast<double>(want), key);
}

// `j[key]` (a decimal) times `scale` rounds to `got`, within the double's precision.
void CheckDecimal(const nlohmann::json& j, const char* key, double scale, int64_t got) {
  FUZZ_CHECK(j.contains(key) && j[key].is_number(), key);
  double want = j[key].get<double>() * scale;
  FUZZ_CHECK(std::fabs(want - static_cast<double>(got)) <= 0.5 + 1e-9 * std::fabs(want) + 1e-9, key);
}

bool Given(const nlohmann::json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

void FuzzLease(std::string_view body) {
  Result<LeaseAsk> r = ParseLeaseRequest(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  const LeaseAsk& a = *r;
  FUZZ_CHECK(a.gpus >= 1 && a.gpus <= kMaxLeaseGpus, "gpus");
  FUZZ_CHECK(a.models.size() <= kMaxLeaseModels, "models");
  for (const std::string& m : a.models) {
    CheckText(m, /*allow_empty=*/false);
    FUZZ_CHECK(m.find_first_not_of(' ') != std::string::npos, "blank model");
  }
  FUZZ_CHECK(a.min_vram_gb >= 0 && a.min_vram_gb <= kMaxVramGb, "min_vram_gb");
  FUZZ_CHECK(a.duration_s >= 0 && a.duration_s <= kMaxLeaseSeconds, "duration_s");
  FUZZ_CHECK(!a.max_price || (a.max_price->raw() >= 1 && *a.max_price <= kMaxRentalPrice), "max_price");
  FUZZ_CHECK(a.kind != RequestKind::kInterruptible || a.max_price, "interruptible without bid");

  nlohmann::json j = Dom(body);
  CheckInteger(j, "gpus", a.gpus);
  if (Given(j, "models")) {
    FUZZ_CHECK(j["models"].size() == a.models.size(), "models count");
    for (size_t i = 0; i < a.models.size(); ++i) FUZZ_CHECK(j["models"][i] == a.models[i], "models differ");
  } else {
    FUZZ_CHECK(a.models.empty(), "models from nowhere");
  }
  if (Given(j, "min_vram_gb")) CheckInteger(j, "min_vram_gb", a.min_vram_gb);
  if (Given(j, "hours")) {
    FUZZ_CHECK(a.duration_s >= 1, "hours given, duration 0");
    double s = j["hours"].get<double>() * 3600;
    FUZZ_CHECK(s > 0, "hours not positive");
    if (a.duration_s > 1) CheckDecimal(j, "hours", 3600, a.duration_s);
    else FUZZ_CHECK(s < 1.5 + 1e-9, "duration 1 s for more than 1.5 s");
  } else {
    FUZZ_CHECK(a.duration_s == 0, "duration from nowhere");
  }
  if (Given(j, "max_price_usd_per_gpu_h")) {
    FUZZ_CHECK(a.max_price.has_value(), "price lost");
    CheckDecimal(j, "max_price_usd_per_gpu_h", 1e6, a.max_price->raw());
  } else {
    FUZZ_CHECK(!a.max_price, "price from nowhere");
  }
  // A workload: an image or a command (or both), never the GPU variables, and it reads back.
  FUZZ_CHECK(Given(j, "workload") != a.workload.empty(), "workload presence");
  if (!a.workload.empty()) {
    FUZZ_CHECK(a.workload.command.size() <= kMaxWorkloadArgs && a.workload.env.size() <= kMaxWorkloadEnv, "workload size");
    for (const auto& [k, v] : a.workload.env) {
      FUZZ_CHECK(k != "CUDA_VISIBLE_DEVICES" && k != "NVIDIA_VISIBLE_DEVICES", "GPU variable set by a tenant");
      CheckText(v, /*allow_empty=*/true);
    }
    Result<LeaseWorkload> back = ParseWorkload(WorkloadJson(a.workload));
    FUZZ_CHECK(back.has_value() && *back == a.workload, "workload does not read back");
  }
}

void FuzzToken(std::string_view body) {
  Result<TokenAsk> r = ParseTokenRequest(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  if (r->role == ApiRole::kTenant) {
    CheckName(r->tenant);
  } else {
    FUZZ_CHECK(r->tenant.empty(), "tenant for a non-tenant role");
  }
  nlohmann::json j = Dom(body);
  FUZZ_CHECK(j["role"] == ApiRoleName(r->role), "role differs");
}

void FuzzRegistration(std::string_view body) {
  Result<AgentRegistration> r = ParseAgentRegistration(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  CheckName(r->node);
  FUZZ_CHECK(!r->devices.empty() && r->devices.size() <= kMaxNodeDevices, "device count");
  std::set<int> slots;
  for (const DeviceInventory& d : r->devices) {
    FUZZ_CHECK(d.slot >= 0 && d.slot <= kMaxSlot, "slot");
    FUZZ_CHECK(slots.insert(d.slot).second, "slot twice");
    CheckText(d.model, /*allow_empty=*/false);
    FUZZ_CHECK(d.vram_gb >= 0 && d.vram_gb <= kMaxVramGb, "vram_gb");
  }
  nlohmann::json j = Dom(body);
  FUZZ_CHECK(j["devices"].size() == r->devices.size(), "device count differs");
  for (size_t i = 0; i < r->devices.size(); ++i) {
    CheckInteger(j["devices"][i], "slot", r->devices[i].slot);
    CheckInteger(j["devices"][i], "vram_gb", r->devices[i].vram_gb);
    FUZZ_CHECK(!r->devices[i].pcie_width || (*r->devices[i].pcie_width >= 1 && *r->devices[i].pcie_width <= 32),
               "pcie_width");
  }
  FUZZ_CHECK(!r->self_test || r->self_test->passed || !r->self_test->reason.empty(), "failed self-test without reason");
}

void FuzzHeartbeat(std::string_view body) {
  Result<AgentHeartbeat> r = ParseAgentHeartbeat(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  FUZZ_CHECK(r->generation >= 0 && r->generation <= kMaxJsonInteger, "generation");
  FUZZ_CHECK(r->devices.size() <= kMaxNodeDevices, "device count");
  std::set<int> slots;
  for (const DeviceReport& d : r->devices) {
    FUZZ_CHECK(d.slot >= 0 && d.slot <= kMaxSlot, "slot");
    FUZZ_CHECK(slots.insert(d.slot).second, "slot twice");
    FUZZ_CHECK(!d.lease || (d.lease->value() >= 1 && d.lease->value() <= kMaxJsonInteger), "lease");
    CheckText(d.coin, /*allow_empty=*/true);
    FUZZ_CHECK(!d.power || (d.power->raw() >= 0 && d.power->raw() <= kMaxDevicePowerW), "power_w");
  }
  nlohmann::json j = Dom(body);
  CheckInteger(j, "generation", r->generation);
  FUZZ_CHECK(j["devices"].size() == r->devices.size(), "device count differs");
  for (size_t i = 0; i < r->devices.size(); ++i) {
    const nlohmann::json& d = j["devices"][i];
    CheckInteger(d, "slot", r->devices[i].slot);
    FUZZ_CHECK(d["use"] == ReportedUseName(r->devices[i].use), "use differs");
    FUZZ_CHECK(Given(d, "contract") == r->devices[i].contract.has_value(), "contract presence");
    FUZZ_CHECK(Given(d, "lease") == r->devices[i].lease.has_value(), "lease presence");
    FUZZ_CHECK(Given(d, "power_w") == r->devices[i].power.has_value(), "power presence");
    FUZZ_CHECK(!r->devices[i].temperature_c || (*r->devices[i].temperature_c >= 0 && *r->devices[i].temperature_c <= 200),
               "temperature_c");
  }
  std::set<int64_t> leases;
  for (const WorkloadReport& w : r->workloads) {
    FUZZ_CHECK(leases.insert(w.lease.value()).second, "workload lease twice");
    FUZZ_CHECK(w.state != WorkloadState::kExited || w.exit_code.has_value(), "exited without a code");
    FUZZ_CHECK(!w.exit_code || (*w.exit_code >= 0 && *w.exit_code <= 255), "exit_code");
  }
}

void FuzzPolicy(std::string_view body) {
  Result<PolicyUpdate> r = ParsePolicyUpdate(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  const PolicyUpdate& p = *r;
  FUZZ_CHECK(p.switch_min_gain_ppm || p.switch_min_dwell_s || p.miner_restart_s || p.pool_fee_ppm ||
                 p.resume_margin_ppm,
             "empty update accepted");
  auto in = [](const std::optional<int64_t>& v, int64_t lo, int64_t hi) { return !v || (*v >= lo && *v <= hi); };
  FUZZ_CHECK(in(p.switch_min_gain_ppm, 0, 1'000'000), "switch_min_gain_ppm");
  FUZZ_CHECK(in(p.switch_min_dwell_s, 0, 86400), "switch_min_dwell_s");
  FUZZ_CHECK(in(p.miner_restart_s, 0, 3600), "miner_restart_s");
  FUZZ_CHECK(in(p.pool_fee_ppm, 0, 500'000), "pool_fee_ppm");
  FUZZ_CHECK(in(p.resume_margin_ppm, 0, 1'000'000), "resume_margin_ppm");
  nlohmann::json j = Dom(body);
  if (p.switch_min_gain_ppm) CheckDecimal(j, "switch_min_gain_pct", 1e4, *p.switch_min_gain_ppm);
  if (p.switch_min_dwell_s) CheckInteger(j, "switch_min_dwell_s", *p.switch_min_dwell_s);
  if (p.miner_restart_s) CheckInteger(j, "miner_restart_s", *p.miner_restart_s);
  if (p.pool_fee_ppm) CheckDecimal(j, "pool_fee_pct", 1e4, *p.pool_fee_ppm);
  if (p.resume_margin_ppm) CheckDecimal(j, "resume_margin_pct", 1e4, *p.resume_margin_ppm);
}

// A hashrate a parser returned, and the JSON number in `unit` it came from (rounded to whole H/s).
void CheckHashRate(const nlohmann::json& j, const char* key, const std::string& unit, HashRate got) {
  FUZZ_CHECK(got.hps() >= 1 && got.hps() <= std::numeric_limits<int64_t>::max(), key);
  FUZZ_CHECK(HashRateUnit(unit) > 0, "unit");
  CheckDecimal(j, key, static_cast<double>(HashRateUnit(unit)), static_cast<int64_t>(got.hps()));
}

void FuzzContractProduct(std::string_view body) {
  Result<ContractProductAsk> r = ParseContractProductRequest(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  CheckText(r->name, /*allow_empty=*/false);
  CheckText(r->algorithm, /*allow_empty=*/false);
  FUZZ_CHECK(r->days >= 1 && r->days <= kMaxContractDays, "days");
  FUZZ_CHECK(r->suspend_after_days >= 0 && r->suspend_after_days <= kMaxContractDays, "suspend_after_days");
  for (Money m : {r->price_per_unit, r->fee_per_unit_day}) {
    FUZZ_CHECK(m.raw() >= 0 && m <= kMaxContractUnitPrice, "money");
  }
  nlohmann::json j = Dom(body);
  FUZZ_CHECK(j["unit"] == r->unit, "unit differs");
  CheckInteger(j, "days", r->days);
  CheckDecimal(j, "price_usd_per_unit", 1e6, r->price_per_unit.raw());
  CheckDecimal(j, "fee_usd_per_unit_day", 1e6, r->fee_per_unit_day.raw());
  CheckHashRate(j, "max_hashrate", r->unit, r->max_hashrate);
}

void FuzzContract(std::string_view body) {
  Result<ContractAsk> r = ParseContractRequest(body);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  FUZZ_CHECK(r->product >= 1 && r->product <= kMaxJsonInteger, "product");
  FUZZ_CHECK(!r->payout_address.empty() && r->payout_address.size() <= kMaxPayoutAddressChars, "payout_address size");
  for (char c : r->payout_address) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':';
    FUZZ_CHECK(ok, "payout_address character");
  }
  // The pool goes to a miner's command line as one argument: no space, quote or shell word.
  CheckText(r->pool, /*allow_empty=*/false);
  FUZZ_CHECK(r->pool.find_first_of(" '\"`$;&|<>\\/@", r->pool.find("://") + 3) == std::string::npos, "pool character");
  nlohmann::json j = Dom(body);
  CheckInteger(j, "product", r->product);
  FUZZ_CHECK(j["pool"] == r->pool && j["payout_address"] == r->payout_address, "strings differ");
  CheckHashRate(j, "hashrate", j["unit"].get<std::string>(), r->hashrate);
}

void FuzzId(std::string_view segment) {
  Result<int64_t> r = ParseId(segment);
  CheckError(r, StatusCode::kInvalidArgument);
  if (!r.has_value()) return;
  FUZZ_CHECK(*r >= 1 && *r <= kMaxJsonInteger, "id range");
  FUZZ_CHECK(std::to_string(*r) == segment, "id does not round-trip");
}

void FuzzBearer(std::string_view header) {
  Result<std::string> r = ParseBearer(header);
  CheckError(r, StatusCode::kUnauthenticated);
  if (!r.has_value()) {
    // A message that depended on the input could echo a secret: there are only a few, fixed.
    static std::set<std::string> messages;
    messages.insert(r.error().message());
    FUZZ_CHECK(messages.size() <= 8, r.error().message().c_str());
    return;
  }
  FUZZ_CHECK(r->size() >= kMinTokenChars && r->size() <= kMaxTokenChars, "token length");
  FUZZ_CHECK(header.find(*r) != std::string_view::npos, "token not from the header");
  for (char c : *r) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    FUZZ_CHECK(ok, "token character");
  }
}

}  // namespace
}  // namespace rigshift

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    rigshift::FuzzLease(input);
    rigshift::FuzzToken(input);
    rigshift::FuzzRegistration(input);
    rigshift::FuzzHeartbeat(input);
    rigshift::FuzzPolicy(input);
    rigshift::FuzzContractProduct(input);
    rigshift::FuzzContract(input);
    rigshift::FuzzId(input);
    rigshift::FuzzBearer(input);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped a parser: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "exception escaped a parser\n");
    std::abort();
  }
  return 0;
}
