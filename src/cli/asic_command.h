// `rigshift asic ...` and `rigshift pdu read`: one ASIC miner or one PDU outlet on the LAN, from
// the command line (docs/agent.md, "ASIC miners and metered PDUs").
//
//   rigshift asic status --address HOST[:PORT] [--firmware auto|antminer|braiins|luxos|cgminer] [--format text|json]
//   rigshift asic pool   --address ... --url URL --user USER [--password P]   mine on that pool (added if missing)
//   rigshift asic sleep  --address ...                                        the firmware's curtailment
//   rigshift asic wake   --address ...
//   rigshift pdu read    --url http://HOST:PORT --pdu ID --outlet ID [--user U] [--format text|json]
//
// PORT defaults to 4028; --firmware auto asks the miner's `version`. pool, sleep and wake go
// through AsicGateway (agent/asic_gateway.h), so they send nothing when the miner is already as
// asked, and print what they sent. The PDU password comes from $RIGSHIFT_PDU_PASSWORD.
//
// Exit codes: 0 done; 1 the miner or PDU did not answer (Unavailable); 2 it refused, or the
// input was wrong (a flag, a firmware that cannot do it).
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>

#include "common/status.h"

namespace rigshift {

struct AsicCliOptions {
  std::string address;             // HOST[:PORT]
  std::string firmware = "auto";
  std::string format = "text";
  std::string url, user, password = "x";  // asic pool
  int timeout_ms = 5000;           // per command: connect, then the reply
};

struct PduCliOptions {
  std::string url, pdu, outlet;
  std::string user;  // HTTP Basic user; the password from $RIGSHIFT_PDU_PASSWORD
  std::string format = "text";
  int timeout_ms = 5000;
};

// Registers `asic` and `pdu`. Each runs from its CLI11 callback and stores its exit code in
// *exit_code, which must outlive the parse.
void AddAsicCommands(CLI::App& app, int* exit_code);

[[nodiscard]] Status RunAsicStatus(const AsicCliOptions& o, std::ostream& out);
// `what`: "pool", "sleep" or "wake". Prints the report, and fails when the miner is not as asked.
[[nodiscard]] Status RunAsicChange(const AsicCliOptions& o, const std::string& what, std::ostream& out);
[[nodiscard]] Status RunPduRead(const PduCliOptions& o, std::ostream& out);

}  // namespace rigshift
