// Discovery: what a node has (GPUs, their links, the host) read from the outputs of the tools a
// rig already runs. The node agent tries NVML first (nvml.h), then `nvidia-smi`, then fake
// devices (fake_devices.h); this header holds the data types and the nvidia-smi parsers, which
// work on saved text so that tests and `rigshift agent parse` need no GPU.
//
// Units: memory in MiB (what NVML and nvidia-smi print), power in milliwatts (NVML's unit, exact
// for "336.00 W"), temperature in degrees Celsius, utilization in percent. A field the source
// does not have, or marks "N/A" / "[N/A]" / "[Not Supported]", is nullopt: never a zero.
// A field that is present but unreadable ("12x MiB") is an error naming the file and the field.
//
// The parsers are pure functions of their text; none touches the machine. ReadHostInfo() is the
// one function here that reads /proc and the file system.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rigshift::agent {

struct GpuInfo {
  int index = 0;  // nvidia-smi's index (PCI bus order), the CUDA_VISIBLE_DEVICES number
  std::string name;                     // "NVIDIA H100 80GB HBM3"
  std::optional<std::string> uuid;      // "GPU-…"
  std::optional<std::string> pci_bus_id;
  std::optional<int64_t> memory_mib;    // total framebuffer
  std::optional<int> pcie_gen;          // current link generation
  std::optional<int> pcie_max_gen;
  std::optional<int> pcie_width;        // current link width (lanes): 1 on a mining riser
  std::optional<int> pcie_max_width;
  std::optional<int64_t> power_limit_mw;      // the limit in force (enforced when given)
  std::optional<int64_t> power_min_limit_mw;  // the range the driver accepts
  std::optional<int64_t> power_max_limit_mw;
  // Telemetry, read at the same time.
  std::optional<int> temperature_c;
  std::optional<int64_t> power_draw_mw;
  std::optional<int> utilization_pct;
  std::optional<int64_t> memory_used_mib;
  std::optional<int64_t> ecc_corrected;    // volatile (since driver load) counts
  std::optional<int64_t> ecc_uncorrected;

  friend bool operator==(const GpuInfo&, const GpuInfo&) = default;
};

// How two GPUs reach each other, as `nvidia-smi topo -m` names it, best first.
enum class LinkKind {
  kSelf,    // X
  kNvLink,  // NV#: a bonded set of # NVLinks
  kPix,     // at most one PCIe bridge
  kPxb,     // several PCIe bridges, no host bridge
  kPhb,     // through a PCIe host bridge (the CPU)
  kNode,    // across host bridges within a NUMA node
  kSys,     // across NUMA nodes (QPI/UPI); old drivers print SOC
};

struct Link {
  LinkKind kind = LinkKind::kSys;
  int nvlinks = 0;  // the # of NV#, else 0

  friend bool operator==(const Link&, const Link&) = default;
};

// "NV12", "PIX", "X", ...
std::string LinkName(const Link& link);
// Reads one matrix cell; "SOC" (drivers before ~384) reads as SYS. InvalidArgument otherwise.
[[nodiscard]] Result<Link> ParseLink(std::string_view cell);

// The GPU-to-GPU link matrix of one node: at(a, b) for GPUs a and b (0-based indexes).
class Links {
 public:
  Links() = default;
  // Every pair starts as `fill`; the diagonal is kSelf.
  Links(int gpus, Link fill);

  int gpus() const { return gpus_; }
  const Link& at(int a, int b) const { return cells_[static_cast<size_t>(a * gpus_ + b)]; }
  // Sets both (a, b) and (b, a).
  void Set(int a, int b, Link link);

  friend bool operator==(const Links&, const Links&) = default;

 private:
  int gpus_ = 0;
  std::vector<Link> cells_;  // row-major, gpus_ x gpus_
};

struct HostInfo {
  std::string cpu_model;
  int cpu_cores = 0;      // physical cores, all sockets
  int cpu_threads = 0;    // logical CPUs
  int64_t memory_mib = 0;
  int64_t disk_total_mib = 0;  // the file system holding the agent's state
  int64_t disk_free_mib = 0;
};

// What one source says about a node's GPUs. `links` only where the source has a matrix
// (`topo -m`, NVML, fake devices with nvlink=).
struct Discovery {
  std::string source;  // "nvml", "nvidia-smi -q -x", "nvidia-smi --query-gpu", "nvidia-smi topo -m", "fake"
  std::optional<std::string> driver_version;
  std::vector<GpuInfo> gpus;
  std::optional<Links> links;
};

// `nvidia-smi -q -x`. One GpuInfo per <gpu>, indexed in document order (nvidia-smi lists GPUs
// by PCI bus id, which is its index order; <minor_number> is the /dev node, not the index).
// `name` names the input in errors (a file name).
[[nodiscard]] Result<Discovery> ParseNvidiaSmiXml(std::string_view xml, std::string_view name);

// `nvidia-smi --query-gpu=FIELDS --format=csv[,noheader is refused][,nounits]`. Columns are found
// by the header, so any field list and order works; a header cell's " [MiB]" unit suffix is
// dropped, and values may carry units ("24564 MiB", "320.00 W", "7 %") or not (nounits). Without
// an `index` column, rows are numbered in order.
[[nodiscard]] Result<Discovery> ParseNvidiaSmiCsv(std::string_view csv, std::string_view name);

// `nvidia-smi topo -m`: the GPU rows and columns of the matrix (NICs are skipped), tabs or
// spaces, ANSI escapes stripped. `gpus` holds one entry per GPU row, with only its index.
[[nodiscard]] Result<Discovery> ParseNvidiaSmiTopo(std::string_view text, std::string_view name);

// Any of the three, told apart by content: '<' starts XML, a "GPU0" header row is topo -m,
// anything else is query CSV.
[[nodiscard]] Result<Discovery> ParseNvidiaSmiOutput(std::string_view text, std::string_view name);

// /proc/cpuinfo and /proc/meminfo text; the disk fields stay 0 (ReadHostInfo fills them).
[[nodiscard]] Result<HostInfo> ParseHostInfo(std::string_view cpuinfo, std::string_view meminfo);

// This machine: /proc/cpuinfo, /proc/meminfo and statvfs(`state_dir`).
[[nodiscard]] Result<HostInfo> ReadHostInfo(const std::filesystem::path& state_dir);

}  // namespace rigshift::agent
