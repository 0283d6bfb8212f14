// Supervised child processes that outlive the agent that started them: miners and tenant
// workloads keep running while `rigshift agent` restarts (an upgrade, a crash, kill -9), and a
// new agent adopts them from the ProcessHandle it saved in its state file.
//
// How a process is started (Spawn):
//
//   agent ──fork──> A ──fork──> shim ──fork──> program (exec)
//                   A exits at once; the agent reaps it. The shim is re-parented to init.
//
//   - The shim calls setsid() (its own session, away from the agent's terminal, group and
//     service signals), makes itself a child subreaper (PR_SET_CHILD_SUBREAPER: the program's
//     orphaned grandchildren come back to it and are reaped), ignores SIGTERM, SIGINT, SIGHUP,
//     SIGQUIT and SIGPIPE, closes every descriptor it inherited, and waits.
//   - The program calls setsid() too: it leads its own session and process group, whose id is
//     its pid. It starts with every signal disposition reset to default and no signal blocked
//     (the agent's threads block some), stdin on /dev/null, stdout and stderr appended to
//     `log_path`, in `cwd`, with exactly the environment described at ProcessSpec.
//   - When the program exits, the shim SIGKILLs whatever is left of the program's process group
//     (a workload's leftovers must not keep holding a GPU), reaps it, and writes its exit status
//     to `status_path` atomically (STATUS.tmp, then rename): "exit N" or "signal N". Any agent
//     reads it later with Poll, whether it forked the program or not.
//
// Why a forked shim and not a re-exec'd shim binary: nothing to install or find next to the
// agent (an upgrade may replace the agent's binary while old shims still run), and no argument
// encoding. The price is that the shim is a fork of a multithreaded process, so between fork and
// exec it and the program call only async-signal-safe functions (glibc's _Fork, which skips the
// atfork handlers, setsid, sigaction, sigprocmask, dup2, close, chdir, execve, open, read, write,
// rename, waitpid/waitid, kill, _exit) plus the prctl and close_range system calls. Everything they need (argv, envp, paths,
// descriptors) is prepared before the first fork, so they allocate nothing. A shim costs one
// small process (its pages are shared copy-on-write with the agent image it was forked from).
//
// Exit statuses survive the agent, not a reboot: the status file is renamed into place but not
// fsync'ed (the exit being recorded is on the stop path of a preemption). A status file lost in a
// crash reads as kGone.
//
// Process groups, not cgroups: a descendant that leaves the group (setsid, setpgid) escapes
// Stop. Containers (workload.h) get real cgroups from podman; the bubblewrap sandbox keeps its
// processes in the group.
//
// Deployment: under systemd the agent's unit needs KillMode=process (or the shims must be moved
// out of its cgroup), or a restart of the unit kills the very processes this file keeps alive.
//
// Thread safety: every function here may be called from any thread at the same time; none keeps
// state between calls. Spawn and Stop block the calling thread (Stop for up to grace + 5 s).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rigshift::agent {

struct ProcessSpec {
  // argv[0] is a path, or a name looked up in the PATH of the environment below (at Spawn, so a
  // missing program is an error there, not a silent status later).
  std::vector<std::string> argv;
  // Set on top of a minimal environment: PATH and HOME (the agent's own, or
  // "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" and "/" when unset) and
  // LANG=C.UTF-8. A name given twice: the last wins. Nothing else of the agent's environment
  // leaks through (its tokens, for one).
  std::vector<std::pair<std::string, std::string>> env;
  std::string log_path;     // stdout and stderr, appended; created 0640 if missing
  std::string status_path;  // where the exit status appears; a stale one is removed at Spawn
  std::string cwd;          // empty: "/"
  // The program starts with SIGTERM ignored. For a launcher that must not die from the group's
  // SIGTERM before the process it runs (bubblewrap, which does not forward signals; the payload
  // resets SIGTERM itself: see workload.h). Never for an ordinary program.
  bool ignore_sigterm = false;
};

// Names one started program, stable across agent restarts. The start times (field 22 of
// /proc/PID/stat, clock ticks since boot) guard against a pid reused by another process.
struct ProcessHandle {
  pid_t pid = 0;  // the program; also its session and process group id
  uint64_t start_time = 0;
  pid_t shim_pid = 0;  // the shim waiting for it
  uint64_t shim_start_time = 0;
  std::string status_path;

  friend bool operator==(const ProcessHandle&, const ProcessHandle&) = default;
};

// {"pid": 1234, "start_time": 56789, "shim_pid": 1233, "shim_start_time": 56788,
//  "status_path": "/var/lib/rigshift/leases/l-1/status"}
nlohmann::json ProcessHandleToJson(const ProcessHandle& handle);
// InvalidArgument naming the field that is missing or of the wrong type.
[[nodiscard]] Result<ProcessHandle> ProcessHandleFromJson(const nlohmann::json& json);

// Starts `spec`. Returns once the program has been exec'd, or with an error:
//   InvalidArgument  empty argv, empty log or status path, a bad environment name
//   NotFound         argv[0] not in PATH, or a path that does not exist ("cannot start 'nosuch':
//                    not found in PATH=/usr/bin:/bin"), cwd missing
//   PermissionDenied argv[0] not executable
//   Unavailable      the log or status file cannot be created, fork or exec failed (with the
//                    OS's words: "cannot start '/tmp/x': exec: Exec format error")
// An exec that fails after the fork is reported here too (the program's pipe tells), never as a
// process that silently never started.
[[nodiscard]] Result<ProcessHandle> Spawn(const ProcessSpec& spec);

enum class ProcessPhase {
  kRunning,  // the program is alive (or has just exited and its shim is writing the status)
  kExited,   // the status file says how it ended
  // No status and nothing alive to write one: the program and its shim were killed together
  // (kill -9 of both, an OOM kill of the shim, a reboot), or the pid is another process's now.
  // The exit code is unknown; a caller that must pick one treats it as killed.
  kGone,
};

struct ProcessState {
  ProcessPhase phase = ProcessPhase::kGone;
  std::optional<int> exit_code;  // kExited by exit(): its code
  std::optional<int> signal;     // kExited by a signal: its number
  std::string detail;            // kGone: why

  // "running", "exited with code 7", "killed by signal 9 (SIGKILL)", "gone: <detail>".
  std::string ToString() const;
};

// Reads the status file, then /proc. Never blocks; cheap (a few small reads).
ProcessState Poll(const ProcessHandle& handle);

struct StopResult {
  enum class How {
    kAlreadyExited,  // nothing of its group was running when Stop began
    kTerminated,     // the group was gone within the grace after SIGTERM
    kKilled,         // SIGKILL after the grace
  };
  How how = How::kAlreadyExited;
  std::chrono::milliseconds took{0};  // from the call to the group being gone

  std::string ToString() const;  // "terminated after SIGTERM in 12 ms", "killed with SIGKILL after 5000 ms"
};

// SIGTERM to the program's process group; every 5 ms, checks whether any process of the group is
// still alive (zombies do not count); after `grace`, SIGKILL to the group and waits again, at
// most 5 s. Then waits (at most 1 s) until the exit status is written, so that a Poll right
// after Stop reads kExited. Nothing is signalled when the pid is another process's now.
// Unavailable when processes are left after SIGKILL (stuck in the kernel: a hung GPU driver),
// naming them.
[[nodiscard]] Result<StopResult> Stop(const ProcessHandle& handle, std::chrono::milliseconds grace);

// The live (non-zombie) processes whose process group is `pgid`, from /proc. For Stop and tests.
std::vector<pid_t> ProcessGroupMembers(pid_t pgid);

// A piece of a log, for shipping it to the controller in chunks.
struct LogChunk {
  std::string data;
  uint64_t next_offset = 0;  // where the next read starts
  // The file is shorter than `offset` (it was truncated or replaced): `data` starts at 0.
  bool restarted = false;
};
// Up to `max_bytes` from `offset`. NotFound when the file does not exist; Unavailable with the
// OS's words otherwise. A read at the end returns empty data and the same offset.
[[nodiscard]] Result<LogChunk> ReadLog(const std::string& path, uint64_t offset, size_t max_bytes);

// `name` looked up in `path_var` (a PATH value) as execvp would: the first regular file with
// execute permission. A name with a '/' is returned as it is when it exists.
std::optional<std::string> FindInPath(const std::string& name, const std::string& path_var);

}  // namespace rigshift::agent
