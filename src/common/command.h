// Running a short command and reading what it printed, with a deadline: how rigshift talks to
// tools that have no library interface (Slurm's sinfo, squeue, sbatch, scancel).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rigshift {

struct CommandResult {
  int exit_code = 0;     // the command's exit status (128 + N when killed by signal N)
  std::string out;       // what it wrote to stdout
  std::string err;       // what it wrote to stderr
};

// Runs argv[0] (searched in PATH) with `argv`, the environment of this process plus `env`
// (NAME=VALUE, replacing a variable of the same name), stdin from /dev/null. Waits at most
// `timeout`; a command still running then is killed (its process group, SIGKILL) and the call is
// Unavailable, naming the command and the timeout. A command that cannot be started is
// Unavailable. A non-zero exit is not an error here: the caller reads exit_code.
[[nodiscard]] Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& env,
                                               std::chrono::milliseconds timeout);

}  // namespace rigshift
