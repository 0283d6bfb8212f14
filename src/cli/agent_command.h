// `rigshift agent parse`: what the node agent's discovery and miner adapters read from a saved
// output, so an operator can check a rig before it joins (docs/agent.md).
//
//   rigshift agent parse --nvidia-smi FILE       (-q -x XML, --query-gpu CSV, or topo -m text)
//   rigshift agent parse --miner KIND FILE       (KIND a miner name or auto)
//   rigshift agent parse --fake-devices SPEC     (the fake-device grammar, fake_devices.h)
//   rigshift agent parse --device-file FILE
//   ... [--format text|json]
//
// Exit codes: 0 read; 2 the input (an unreadable file, a field that is wrong or missing, an
// unknown miner); 1 the machine.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace rigshift {

struct AgentParseOptions {
  std::string nvidia_smi;    // FILE
  std::string miner;         // KIND
  std::string miner_file;    // FILE (positional, with --miner)
  std::string fake_devices;  // SPEC
  std::string device_file;   // FILE
  std::string format = "text";
};

// `rigshift agent --server URL --token T [--config FILE]`: the node agent (agent/node_agent.h).
struct AgentRunOptions {
  std::string server, token, token_file, ca, node, config, state_dir, fake_devices, device_file;
  int64_t heartbeat_ms = 0;
};
// Runs until SIGTERM or SIGINT.
[[nodiscard]] Status RunNodeAgent(const AgentRunOptions& o, std::ostream& err);

// Registers `agent parse` on `app`. It runs from its CLI11 callback during parsing and stores
// its exit code in *exit_code, which must outlive the parse.
void AddAgentCommands(CLI::App& app, int* exit_code);

// Prints what was read to `out` as text or JSON.
[[nodiscard]] Status RunAgentParse(const AgentParseOptions& o, std::ostream& out);

}  // namespace rigshift
