// ASIC miners on the LAN: the CGMiner-compatible API (TCP port 4028) that stock Antminer
// firmware (bmminer), Braiins OS (bosminer), LuxOS (LUXminer) and plain cgminer speak.
//
// The protocol (cgminer's API-README, https://github.com/ckolivas/cgminer/blob/master/API-README,
// and api.c): open a TCP connection, send one JSON request {"command":"CMD","parameter":"PARAM"},
// read until the miner closes the connection; cgminer ends its reply with a NUL byte (api.c
// send_result sends strlen+1). A reply is {"STATUS":[{"STATUS":"S","When":N,"Code":N,"Msg":"...",
// "Description":"..."}], "<SECTION>":[...], "id":1}. Report commands joined with '+'
// ("summary+devs") answer {"summary":[{reply}],"devs":[{reply}],"id":1}; bmminer on some Antminers
// writes the objects one after another instead ("}{"), as pyasic's rpc/base.py notes; both are read.
//
// STATUS letters (API-README): S success, I informational, W warning, E error, F fatal. S, I and
// W are accepted; E is InvalidArgument and F Unavailable, each naming HOST:PORT, the command and
// the miner's Msg ("10.0.0.5:4028: switchpool|3: the miner answered E (code 45): Access denied to
// 'switchpool' command").
//
// What each firmware offers beyond cgminer's commands, and where it is documented (docs/agent.md,
// "ASIC miners and metered PDUs", has the table):
//   LuxOS   `power` (POWER[0].Watts), `config` (CONFIG[0].CurtailMode "None" while mining),
//           `logon`/`session`/`logoff` and `curtail` with "SESSION,sleep" / "SESSION,wakeup"
//           (https://docs.luxor.tech/firmware/api/luxminer/curtail, .../logon, .../sessions).
//   Braiins `pause`, `resume`, `tunerstatus` (TUNERSTATUS[0].ApproximateMinerPowerConsumption),
//           `devdetails` answering Msg "Unavailable" while paused
//           (https://docs.braiins.com/os/plus-en/Development/1_api.html; pyasic
//           miners/backends/braiins_os.py for the paused devdetails).
//   cgminer `ascdisable|N` / `ascenable|N` (and pga*) per device: API-README. There is no
//           whole-miner sleep; disabling every pool is refused ("Cannot disable last active pool").
//   Antminer stock firmware sleeps only through its web interface (bitmain-work-mode 1 in
//           /cgi-bin/set_miner_conf.cgi, as pyasic's miners/backends/antminer.py does), not on
//           port 4028: Sleep and Wake are FailedPrecondition, saying so.
//
// Units: hashrate in H/s (GHS fields x 1e9, MHS x 1e6, KHS x 1e3); temperature in degrees C; power
// in watts. A sensor a firmware does not report, or reports as 0 or -1, is absent, never zero.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/units.h"

namespace rigshift::agent {

enum class AsicFirmware { kAntminer, kBraiins, kLuxos, kCgminer };

std::string_view AsicFirmwareName(AsicFirmware firmware);  // "antminer", "braiins", "luxos", "cgminer"
// "antminer" (also "bmminer", "stock"), "braiins" ("bosminer", "bos"), "luxos" ("luxminer"),
// "cgminer"; case-insensitive. InvalidArgument listing the names otherwise.
[[nodiscard]] Result<AsicFirmware> ParseAsicFirmware(std::string_view name);
// The firmware behind a `version` reply, by the keys of VERSION[0]: "LUXminer" (LuxOS, which also
// spoofs BMMiner), "BOSminer"/"BOSer"/"BOSminer+" (Braiins OS), "BMMiner" (stock Antminer),
// "CGMiner" (cgminer). InvalidArgument listing the keys when none fits.
[[nodiscard]] Result<AsicFirmware> DetectAsicFirmware(const nlohmann::json& version_reply, std::string_view where);

// ---- Parsing (pure; `where` names the input in errors) ----------------------------------------

// Splits a raw reply into its JSON objects: a trailing NUL and whitespace are dropped, objects
// written back to back are separated. InvalidArgument if the text is not JSON.
[[nodiscard]] Result<std::vector<nlohmann::json>> SplitCgminerReply(std::string_view raw, std::string_view where);
// The reply to `command` among `objects`: the one object of a plain reply, or the section
// `command` of a joined one ({"summary":[{...}]}, or a bare object), or, for back-to-back objects,
// the one at the command's position in `joined` (e.g. "summary+devs"). NotFound when absent.
[[nodiscard]] Result<nlohmann::json> SectionFor(const std::vector<nlohmann::json>& objects, std::string_view joined,
                                                std::string_view command, std::string_view where);
// OK for S, I and W; InvalidArgument for E, Unavailable for F, InvalidArgument when there is no
// STATUS at all. `command` is the request as sent ("switchpool|2").
[[nodiscard]] Status CheckCgminerStatus(const nlohmann::json& reply, std::string_view command, std::string_view where);

struct AsicSummary {
  double hashrate_hs = 0;                // the shortest window the firmware gives (5s, else 1m, else av)
  std::optional<double> hashrate_avg_hs;  // "GHS av" / "MHS av"
  std::optional<int64_t> accepted, rejected;
  std::optional<int64_t> elapsed_s;
  std::optional<Watts> power;  // SUMMARY[0].Power where the firmware puts it there (Whatsminer)
};

struct AsicBoard {           // one DEVS entry: a hash chain or board
  int index = 0;             // "ASC" / "PGA" number (what ascdisable takes), else "ID", else its position
  std::string kind;          // "ASC", "PGA" or "" when the entry says neither
  std::optional<double> hashrate_hs;
  std::optional<double> temperature_c;
  std::string status;            // "Alive", "Sick", "Dead", ... as the firmware writes it
  std::optional<bool> enabled;   // "Enabled": "Y" / "N"
};

struct AsicPool {
  int index = 0;  // "POOL": what switchpool / enablepool / disablepool take
  std::string url, user, status;  // status: "Alive", "Dead", "Disabled", ...
  int priority = 0;               // 0 is the most preferred
  bool stratum_active = false;    // the pool the miner is connected to
};

[[nodiscard]] Result<AsicSummary> ParseAsicSummary(const nlohmann::json& reply, std::string_view where);
[[nodiscard]] Result<std::vector<AsicBoard>> ParseAsicDevs(const nlohmann::json& reply, std::string_view where);
[[nodiscard]] Result<std::vector<AsicPool>> ParseAsicPools(const nlohmann::json& reply, std::string_view where);
// LuxOS `power`: POWER[0].Watts. Absent when the field is missing or negative.
[[nodiscard]] Result<std::optional<Watts>> ParseLuxosPower(const nlohmann::json& reply, std::string_view where);
// Braiins `tunerstatus`: TUNERSTATUS[0].ApproximateMinerPowerConsumption. Absent when missing.
[[nodiscard]] Result<std::optional<Watts>> ParseBraiinsTunerPower(const nlohmann::json& reply, std::string_view where);
// LuxOS `config`: asleep unless CONFIG[0].CurtailMode is "None". InvalidArgument when missing.
[[nodiscard]] Result<bool> ParseLuxosAsleep(const nlohmann::json& reply, std::string_view where);
// Braiins `devdetails`: paused when STATUS[0].Msg is "Unavailable" (whatever the letter).
bool ParseBraiinsPaused(const nlohmann::json& reply);
// LuxOS `logon` / `session`: SESSION[0].SessionID ("" when there is none).
[[nodiscard]] Result<std::string> ParseLuxosSession(const nlohmann::json& reply, std::string_view where);
// The pool number in an addpool answer's Msg ("Added pool 3: 'stratum+tcp://...'", API 3.5+).
std::optional<int> AddedPoolIndex(const nlohmann::json& reply);
// cgminer's escaping of one addpool field: '\' -> "\\", ',' -> "\," (API-README, addpool).
std::string EscapeCgminerParameter(std::string_view field);

// What one ASIC says about itself, read with several commands.
struct AsicState {
  AsicFirmware firmware = AsicFirmware::kCgminer;
  AsicSummary summary;
  std::vector<AsicBoard> boards;
  std::vector<AsicPool> pools;
  std::optional<Watts> power;          // see Power(): absent where the firmware gives none
  std::optional<bool> asleep;          // see Asleep(): absent where the firmware cannot tell
  std::optional<double> temperature_c;  // the hottest board

  // The pool mining now: the one with Stratum Active, else the enabled one of lowest priority.
  const AsicPool* ActivePool() const;
};

// {"firmware", "hashrate_hs", "hashrate_avg_hs", "accepted", "rejected", "elapsed_s", "power_w",
// "temperature_c", "asleep", "active_pool": {"index", "url", "user"}, "boards": [...], "pools": [...]}.
// Unknown values are null.
nlohmann::json AsicStateToJson(const AsicState& state);

// ---- The client --------------------------------------------------------------------------------

struct CgminerOptions {
  std::chrono::milliseconds connect_timeout{3000};
  // From sending the request to the end of the reply (the miner closing, or its NUL byte).
  std::chrono::milliseconds read_timeout{10000};
  size_t max_reply_bytes = 8u << 20;
};

// One ASIC's API. Every command opens its own connection (the API closes it after each reply).
// Errors name HOST:PORT and the command: Unavailable when the miner cannot be reached, does not
// answer in time or answers F; InvalidArgument when it answers E or something unreadable. Not
// thread-safe (the change log); use one client per thread.
class CgminerClient {
 public:
  CgminerClient(std::string host, uint16_t port, AsicFirmware firmware, CgminerOptions options = {});

  const std::string& where() const { return where_; }  // "HOST:PORT"
  AsicFirmware firmware() const { return firmware_; }

  // Sends one command and returns its reply object, STATUS checked. `command` may join report
  // commands with '+'; then the whole reply comes back (see SectionFor).
  [[nodiscard]] Result<nlohmann::json> Command(std::string_view command, std::string_view parameter = {});

  [[nodiscard]] Result<AsicSummary> Summary();
  [[nodiscard]] Result<std::vector<AsicBoard>> Devs();
  [[nodiscard]] Result<std::vector<AsicPool>> Pools();
  // LuxOS: `power`; Braiins: `tunerstatus`; others: SUMMARY's Power, usually absent.
  [[nodiscard]] Result<std::optional<Watts>> Power();
  // LuxOS: `config` CurtailMode; Braiins: `devdetails` Unavailable; cgminer: every device in
  // DEVS disabled; Antminer: absent (its sleep mode is not on this API).
  [[nodiscard]] Result<std::optional<bool>> Asleep();
  // Summary, devs, pools, power and asleep together.
  [[nodiscard]] Result<AsicState> State();

  Status SwitchPool(int pool);   // makes `pool` the most preferred and enables it
  Status EnablePool(int pool);
  Status DisablePool(int pool);
  // Adds a pool and returns its number (from the answer's Msg, else found in `pools`).
  [[nodiscard]] Result<int> AddPool(std::string_view url, std::string_view user, std::string_view password);
  Status Sleep();  // the firmware's documented curtailment (see the header comment)
  Status Wake();

  // Every command sent that changes the miner, as "command|parameter", in order. LuxOS session
  // ids are written as "SESSION".
  const std::vector<std::string>& changes() const { return changes_; }

 private:
  [[nodiscard]] Result<std::string> Exchange(std::string_view label, const std::string& request);
  Status Change(std::string_view command, std::string_view parameter, std::string_view logged_parameter);
  Status LuxosCurtail(std::string_view action);
  Status SetEveryDevice(bool enable);

  std::string host_;
  uint16_t port_;
  AsicFirmware firmware_;
  CgminerOptions options_;
  std::string where_;
  std::vector<std::string> changes_;
};

}  // namespace rigshift::agent
