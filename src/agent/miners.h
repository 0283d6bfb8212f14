// Miner adapters: what a mining program's own monitoring API says about its devices, read from
// one saved (or freshly fetched) answer. The agent polls the miner it supervises and reports
// per-device hashrate and shares each heartbeat; `rigshift agent parse --miner KIND FILE` runs
// the same code on a saved answer.
//
// Adapters and the answers they read (docs/agent.md lists the versions tested):
//   xmrig         GET /1/summary, /2/summary, legacy GET / (2.x, incl. xmrig-nvidia/-amd), /2/backends
//   lolminer      HTTP API root or /summary: 0.4x flat, 0.5-1.3x "GPUs", 1.4x+ "Workers"/"Algorithms"
//   trex          GET /summary (API 1.0 to 4.x), or the TCP "summary" command
//   gminer        GET /stat (1.x "speedUnit", 2.x/3.x "speed_unit")
//   nbminer       GET /api/v1/status
//   teamredminer  sgminer-style TCP API: {"command":"devs"} (also "devs+pools")
//   srbminer      SRBMiner-CN and SRBMiner-Multi JSON API root
//   claymore      JSON-RPC miner_getstat1 / miner_getstat2 (Claymore, PhoenixMiner, ethminer)
//
// Units: hashrate in hashes (or solutions, or graphs) per second, whatever unit suffix the miner
// used (kH/s, MH/s, "61.50 M", Sol/s); power in watts; temperature in C. Miners print 0 or -1
// for a sensor they cannot read: such readings are absent, not zero.
//
// Shares: `accepted`/`rejected` per device where the miner counts per device; otherwise only the
// miner's totals are known, and a device's counts are absent (except on a one-device miner,
// whose totals are its own). A needed field that is missing or unreadable (the device list, a
// device's hashrate) is an InvalidArgument naming the input and the field: never a zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rigshift::agent {

enum class MinerKind { kXmrig, kLolminer, kTrex, kGminer, kNbminer, kTeamRedMiner, kSrbminer, kClaymore };

std::string_view MinerKindName(MinerKind kind);  // "xmrig", "lolminer", ...
// A kind by name, case-insensitive, with the usual aliases ("t-rex", "trm", "phoenixminer",
// "ethminer"). InvalidArgument listing the names otherwise.
[[nodiscard]] Result<MinerKind> ParseMinerKind(std::string_view name);

struct MinerDevice {
  int index = 0;              // the miner's device number (CUDA/OpenCL index, or the CPU's 0)
  std::string kind = "gpu";   // "gpu" or "cpu"
  std::optional<std::string> name;
  double hashrate_hs = 0;
  std::optional<int64_t> accepted, rejected;
  std::optional<int> temperature_c;
  std::optional<double> power_w;
};

struct MinerStats {
  MinerKind miner = MinerKind::kXmrig;
  std::optional<std::string> version;
  std::optional<std::string> algorithm;  // as the miner names it; absent in a few old answers
  double hashrate_hs = 0;                // the miner's total (the devices' sum when it gives none)
  std::optional<int64_t> accepted, rejected;
  std::vector<MinerDevice> devices;
};

// Reads one answer. `kind` nullopt means auto: the miner is told by the answer's shape (see
// DetectMinerKind). `name` names the input in errors.
[[nodiscard]] Result<MinerStats> ParseMinerAnswer(std::string_view text, std::optional<MinerKind> kind,
                                                  std::string_view name);

// The miner whose API answers with this document, by keys only that miner uses: an array of
// backends or "hashrate.total" (XMRig), "result" (JSON-RPC getstat), "STATUS" (sgminer-style),
// "miner.devices" (NBMiner), "gpus" with "accepted_count" (T-Rex), "Software": "lolMiner ..."
// or "GPUs"/"Workers" (lolMiner), "rig_name"/"miner_version" (SRBMiner), "devices" with "speed"
// (GMiner). InvalidArgument listing the top-level keys when none fits.
[[nodiscard]] Result<MinerKind> DetectMinerKind(const nlohmann::json& answer, std::string_view name);

// {"miner", "version", "algorithm", "hashrate_hs", "accepted", "rejected", "devices": [{"index",
// "kind", "name", "hashrate_hs", "accepted", "rejected", "temperature_c", "power_w"}]}. Unknown
// share counts are null; absent sensors and names are left out.
nlohmann::json MinerStatsToJson(const MinerStats& stats);

}  // namespace rigshift::agent
