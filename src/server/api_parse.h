// Request parsers for the REST API (docs/api.md): pure functions from what a client sent (a
// body, a path segment, a header) to typed values, for the HTTP handlers.
//
// Contract shared by every parser:
// - Never throws; no I/O, no clock, no globals. Thread-safe (no shared state).
// - Errors are InvalidArgument (ParseBearer: Unauthenticated), with a message a user can act on
//   that names the field: `"gpus" must be an integer between 1 and 4096, got -3`, `unknown field
//   "gpu" (fields: gpus, models, ...)`, `body is not valid JSON: ...`. Fields inside lists are
//   named by path: `"devices[2].slot"`. Values quoted in messages are cut to a few dozen
//   characters; messages are always valid UTF-8 and never contain a bearer token.
// - A body is one JSON object (at most kMaxBodyBytes, nested at most kMaxJsonDepth deep).
//   Refused: any other top level, unknown fields (so that a misspelt field never falls back to a
//   default), duplicate fields at any level, strings longer than kMaxStringChars characters or
//   holding control characters, lists longer than their limit.
// - Optional fields may be absent or null; both mean "not given". Required ones may not be null.
// - Integers: a JSON number whose exact value is integral. 4, 4.0 and 4e0 are all 4 (JSON does
//   not tell them apart and some clients write every number as a float); 4.5 is refused, never
//   rounded. Decimal fields (prices, hours, percentages) are converted exactly from the number's
//   text to their integer unit, rounding half away from zero once: 0.1234565 USD is 123457
//   micro-USD. Ranges are checked on that integer (8760.0000001 hours is 31536000 s, allowed).
//   JSON has no NaN or infinity; numbers too large for a double are refused as invalid JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "model/request.h"

namespace rigshift {

inline constexpr size_t kMaxBodyBytes = 64 * 1024;  // docs/api.md; the HTTP layer answers 413 first
inline constexpr int kMaxJsonDepth = 16;
inline constexpr size_t kMaxStringChars = 256;      // UTF-8 code points, per string
inline constexpr int64_t kMaxJsonInteger = int64_t{1} << 53;  // ids, generations: exact in a double

// POST /v1/leases.
inline constexpr int kMaxLeaseGpus = 4096;
inline constexpr size_t kMaxLeaseModels = 64;
inline constexpr int kMaxVramGb = 1024;
inline constexpr int64_t kMaxLeaseSeconds = 8760 * 3600;                   // one year
inline constexpr RentalPrice kMaxRentalPrice{1000 * kMicrosPerUnit};       // 1000 USD per GPU-hour

// What a lease runs on its GPUs, when the tenant gives it (docs/agent.md, "Workloads"): an OCI
// image and its command, run with Podman, or, with no image, a plain command (only for tenants
// the operator trusts; the agent sandboxes it with bubblewrap). The node's agent sets
// CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES to exactly the lease's GPUs.
inline constexpr size_t kMaxWorkloadArgs = 64;
inline constexpr size_t kMaxWorkloadEnv = 64;
struct LeaseWorkload {
  std::string image;                                     // "" = a plain command
  std::vector<std::string> command;                      // with an image, may be empty (its own)
  std::vector<std::pair<std::string, std::string>> env;  // sorted by name, names unique
  bool empty() const { return image.empty() && command.empty(); }
  friend bool operator==(const LeaseWorkload&, const LeaseWorkload&) = default;
};
// The workload as the store keeps it and the API shows it: {"image":...,"command":[...],"env":{...}}.
std::string WorkloadJson(const LeaseWorkload& w);
// Reads WorkloadJson's text back ("" = no workload).
[[nodiscard]] Result<LeaseWorkload> ParseWorkload(std::string_view text);

struct LeaseAsk {
  int gpus = 1;                      // 1..kMaxLeaseGpus
  std::vector<std::string> models;   // as the client spelt them (non-empty, not blank); empty = any
  int min_vram_gb = 0;               // 0..kMaxVramGb
  Interconnect interconnect = Interconnect::kAny;
  int64_t duration_s = 0;            // "hours" * 3600 rounded, 1..kMaxLeaseSeconds; 0 = until cancelled
  RequestKind kind = RequestKind::kOnDemand;
  // "max_price_usd_per_gpu_h", 1..kMaxRentalPrice micro-USD per GPU-hour. The bid of an
  // interruptible request (always set then); a price ceiling for the other kinds.
  std::optional<RentalPrice> max_price;
  LeaseWorkload workload;                 // "workload", optional
  friend bool operator==(const LeaseAsk&, const LeaseAsk&) = default;
};
[[nodiscard]] Result<LeaseAsk> ParseLeaseRequest(std::string_view body);

// POST /v1/tokens.
enum class ApiRole { kOperator, kTenant, kAgent };
std::string_view ApiRoleName(ApiRole role);  // "operator", "tenant", "agent" (as the store keeps it)

inline constexpr size_t kMaxNameChars = 64;  // tenant and node names: 1..64 of [A-Za-z0-9._-]

struct TokenAsk {
  ApiRole role = ApiRole::kTenant;
  std::string tenant;  // set iff role is kTenant; a valid name that is not reserved
  // Only for role kAgent, optional: the one node the token may act for (register, heartbeat,
  // desired state); empty: any node (a fleet-wide agent, such as the demo's).
  std::string node;
  friend bool operator==(const TokenAsk&, const TokenAsk&) = default;
};
[[nodiscard]] Result<TokenAsk> ParseTokenRequest(std::string_view body);

// Tenant names refused although their characters are valid, because a tenant's name is the
// identity its leases and invoices are filed under and must not read as anyone else's: the
// roles "operator" and "agent" in any case, and every name starting with '_' or '@' (kept for
// the server's own identities: "@operator" owns the leases operators create, "_offline" holds
// silent nodes), and names of dots only ("." and ".." read as paths wherever a name is shown).
bool IsReservedTenantName(std::string_view name);

// POST /v1/agents/register.
inline constexpr int kMaxSlot = 63;
inline constexpr size_t kMaxNodeDevices = 64;

struct DeviceInventory {
  int slot = 0;        // 0..kMaxSlot, unique within the registration
  std::string model;   // as the agent spelt it, non-empty
  int vram_gb = 0;     // 0..kMaxVramGb
  // What discovery read, where it could (the agent's NVML or nvidia-smi; docs/agent.md).
  std::string uuid;                      // "" = unknown
  std::optional<int> pcie_gen;           // 1..6, the link's current generation
  std::optional<int> pcie_width;         // 1..32 lanes, the link's current width
  std::optional<int> power_min_w;        // "power_limit_w": {"min": ..., "max": ...}
  std::optional<int> power_max_w;
  friend bool operator==(const DeviceInventory&, const DeviceInventory&) = default;
};
// The node's host, as discovery read it ("host"; every field optional).
struct HostInventory {
  std::string cpu_model;
  std::optional<int> cpu_cores;          // 1..4096
  std::optional<int64_t> ram_mib;        // 0..kMaxJsonInteger
  std::optional<int64_t> disk_free_mib;
  std::string driver_version;
  friend bool operator==(const HostInventory&, const HostInventory&) = default;
};
// The agent's self-test before the node takes leases ("self_test"): the devices answer, the
// driver matches, a short workload starts and stops on each GPU.
struct SelfTest {
  bool passed = true;
  std::string reason;  // why it failed; non-empty when !passed
  friend bool operator==(const SelfTest&, const SelfTest&) = default;
};
struct AgentRegistration {
  std::string node;                      // a name, as for tenants
  std::vector<DeviceInventory> devices;  // 1..kMaxNodeDevices, in the order given
  HostInventory host;
  std::optional<SelfTest> self_test;     // absent: not run (taken as passed)
  friend bool operator==(const AgentRegistration&, const AgentRegistration&) = default;
};
[[nodiscard]] Result<AgentRegistration> ParseAgentRegistration(std::string_view body);

// POST /v1/agents/{node}/heartbeat. kContract: mining a hashrate contract's algorithm to its
// customer's pool (DeviceReport::contract names it).
enum class ReportedUse { kLease, kMining, kIdle, kOff, kContract };
std::string_view ReportedUseName(ReportedUse use);  // "lease", "mining", "idle", "off", "contract"

inline constexpr int kMaxDevicePowerW = 5000;

struct DeviceReport {
  int slot = 0;                    // 0..kMaxSlot, unique within the heartbeat
  ReportedUse use = ReportedUse::kIdle;
  std::optional<LeaseId> lease;    // 1..kMaxJsonInteger when given
  std::optional<int64_t> contract; // 1..kMaxJsonInteger when given: the contract it mines for
  std::string coin;                // may be empty
  std::optional<Watts> power;      // "power_w", 0..kMaxDevicePowerW when given
  // Telemetry, each optional (docs/agent.md, "Heartbeat").
  std::optional<int> temperature_c;       // 0..200
  std::optional<int> utilization_pct;     // 0..100
  std::optional<int64_t> memory_used_mib; // 0..kMaxJsonInteger
  std::optional<int64_t> ecc_errors;      // since the driver loaded
  std::optional<int64_t> xid_errors;      // since the agent started
  std::optional<int64_t> hashrate_hs;     // from the miner's API, hashes per second
  std::optional<int64_t> accepted, rejected;  // shares
  bool mining_observed = false;           // a mining process was seen on the device
  std::string drained;                    // why the agent took it out of service; "" = in service
  friend bool operator==(const DeviceReport&, const DeviceReport&) = default;
};
// A lease's workload as the agent sees it.
enum class WorkloadState { kStarting, kRunning, kExited, kFailed };
std::string_view WorkloadStateName(WorkloadState s);  // "starting", "running", "exited", "failed"
struct WorkloadReport {
  LeaseId lease;
  WorkloadState state = WorkloadState::kStarting;
  std::optional<int> exit_code;        // when exited: 0..255, or 128 + the signal
  std::optional<Timestamp> started_at; // "started_at", RFC 3339 or seconds since the epoch
  std::optional<Timestamp> ended_at;
  std::string message;                 // why it failed to start, say
  friend bool operator==(const WorkloadReport&, const WorkloadReport&) = default;
};
struct AgentHeartbeat {
  int64_t generation = 0;             // 0..kMaxJsonInteger
  std::vector<DeviceReport> devices;  // 0..kMaxNodeDevices, in the order given
  std::vector<WorkloadReport> workloads;  // 0..kMaxNodeDevices, leases unique
  friend bool operator==(const AgentHeartbeat&, const AgentHeartbeat&) = default;
};
[[nodiscard]] Result<AgentHeartbeat> ParseAgentHeartbeat(std::string_view body);

// PUT /v1/policy: the engine settings to change (at least one). Percentages are given as JSON
// numbers and kept in parts per million (1 % = 10'000 ppm), as EngineOptions holds them.
struct PolicyUpdate {
  std::optional<int64_t> switch_min_gain_ppm;  // "switch_min_gain_pct" 0..100
  std::optional<int64_t> switch_min_dwell_s;   // 0..86400
  std::optional<int64_t> miner_restart_s;      // 0..3600
  std::optional<int64_t> pool_fee_ppm;         // "pool_fee_pct" 0..50
  std::optional<int64_t> resume_margin_ppm;    // "resume_margin_pct" 0..100
  friend bool operator==(const PolicyUpdate&, const PolicyUpdate&) = default;
};
[[nodiscard]] Result<PolicyUpdate> ParsePolicyUpdate(std::string_view body);

// Hashrate contracts (docs/contracts.md, "Selling contracts from the server"). Hashrates are given
// as a decimal number in a unit ("TH/s", "GH/s", "MH/s", "kH/s", "H/s") and kept in whole H/s
// (rounded half away from zero, at least 1, at most 2^63-1); money in USD, kept in micro-USD.
inline constexpr int kMaxContractDays = 3650;
inline constexpr Money kMaxContractUnitPrice{1'000'000 * kMicrosPerUnit};  // USD per unit (per day for fees)
inline constexpr size_t kMaxPayoutAddressChars = 128;

// POST /v1/contract-products: what the operator puts on sale.
struct ContractProductAsk {
  std::string name;              // "name", 1..kMaxStringChars characters
  std::string algorithm;         // "algorithm", as the catalog names it (the farm checks it)
  std::string unit;              // "unit": TH/s, GH/s, MH/s, kH/s, H/s
  int days = 0;                  // "days", the term: 1..kMaxContractDays
  Money price_per_unit;          // "price_usd_per_unit", up front for the term: 0..kMaxContractUnitPrice
  Money fee_per_unit_day;        // "fee_usd_per_unit_day": 0..kMaxContractUnitPrice
  int suspend_after_days = 0;    // "suspend_after_days", optional: 0..kMaxContractDays, 0 = never
  HashRate max_hashrate;         // "max_hashrate", in `unit`: the most sold at once
  friend bool operator==(const ContractProductAsk&, const ContractProductAsk&) = default;
};
[[nodiscard]] Result<ContractProductAsk> ParseContractProductRequest(std::string_view body);

// POST /v1/contracts: what a customer buys.
struct ContractAsk {
  int64_t product = 0;           // "product": 1..kMaxJsonInteger
  HashRate hashrate;             // "hashrate" in "unit"
  // "payout_address": 1..kMaxPayoutAddressChars of [A-Za-z0-9._:-] (a coin address, or a pool
  // login such as ADDRESS.WORKER), the wallet the contract's miners are paid to.
  std::string payout_address;
  // "pool": stratum+tcp, stratum+ssl, stratum+tls, stratum2+tcp, stratum2+ssl, tcp or ssl, then
  // "://HOST:PORT" (HOST letters, digits, '.', '-', or a bracketed IPv6 address; PORT 1..65535).
  std::string pool;
  friend bool operator==(const ContractAsk&, const ContractAsk&) = default;
};
[[nodiscard]] Result<ContractAsk> ParseContractRequest(std::string_view body);

// An id in a path (/v1/leases/{id}): decimal digits only, 1..kMaxJsonInteger, no sign, no
// leading zero, no spaces.
[[nodiscard]] Result<int64_t> ParseId(std::string_view path_segment);

// The token of an `Authorization: Bearer TOKEN` header value: scheme case-insensitive, one or
// more spaces after it, surrounding spaces and tabs ignored; TOKEN 16..256 of [A-Za-z0-9_-].
// Every failure (empty header, another scheme, a malformed token) is Unauthenticated: the server
// answers 401 as for an unknown token. Messages never repeat the token.
inline constexpr size_t kMinTokenChars = 16;
inline constexpr size_t kMaxTokenChars = 256;
[[nodiscard]] Result<std::string> ParseBearer(std::string_view authorization_header);

}  // namespace rigshift
