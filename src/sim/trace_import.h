// Demand traces: converting public GPU-cluster traces into canonical demand rows that the
// simulator replays, and reading those rows back. docs/data-formats.md (Demand traces) describes the
// canonical file, column by column, and the conversion rules of each trace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/units.h"
#include "market/import_report.h"
#include "model/request.h"

namespace rigshift {

// on_demand: the tenant keeps the GPUs until the request ends. interruptible: best-effort work
// that may be preempted (the simulator may stop it to free its GPUs).
enum class DemandKind { kOnDemand, kInterruptible };
// Interconnect (model/request.h): a trace gives any (GPUs anywhere), node (all on one node) or
// fabric (one node when one holds them all, else whole nodes joined by a network fabric).

std::string_view DemandKindName(DemandKind k);      // "on_demand", "interruptible"

// One request of a canonical demand file. Times are whole seconds; the trace's own clock
// (seconds since the trace start), which a scenario maps onto its timeline.
struct DemandRow {
  int64_t arrival_s = 0;               // when the request arrives (>= 0)
  int64_t gpus = 1;                    // GPUs wanted (>= 1)
  int64_t gpu_milli = 1000;            // share of each GPU x1000: 1..1000 when gpus == 1, else 1000
  std::vector<std::string> models;     // acceptable GPU types, the trace's own names; empty = any
  std::optional<int64_t> min_vram_gb;  // VRAM per GPU, GB; nullopt = not stated
  Interconnect interconnect = Interconnect::kAny;
  int64_t duration_s = 0;         // run time once placed (>= 0); a lower bound if censored
  std::optional<int64_t> wait_s;  // queueing the source cluster saw; nullopt = not known
  DemandKind kind = DemandKind::kOnDemand;
  std::optional<RentalPrice> price;   // price_usd_per_gpu_h; nullopt = priced by the scenario
  std::string tenant;                 // empty = not known
  std::string qos;                    // the trace's QoS class, as given
  bool censored = false;              // the trace ended first: duration_s is a lower bound
  std::string phase;                  // the trace's last known state of the request, as given
  std::optional<int64_t> cpu_milli;   // CPU cores requested x1000
  std::optional<int64_t> memory_mib;  // main memory requested, MiB
  std::string source;                 // "file.csv:line" of the source row
  std::string source_id;              // the request's id in the source trace

  friend bool operator==(const DemandRow&, const DemandRow&) = default;
};

// The columns of a canonical demand file, in order.
const std::vector<std::string_view>& DemandColumns();

// The Alibaba 2023 GPU trace's canonical output, written under the importer's out_dir.
inline constexpr std::string_view kAlibaba2023DemandFile = "demand_alibaba2023.csv";
// The Microsoft ITP 2021 training-job trace's canonical output, written under out_dir.
inline constexpr std::string_view kItp2021DemandFile = "demand_itp2021.csv";

// Writes `rows` as a canonical demand file, in the order given (callers sort by arrival_s, then
// source_id). Errors: the file cannot be written.
[[nodiscard]] Status WriteDemand(const std::filesystem::path& file, const std::vector<DemandRow>& rows);

// Reads a canonical demand file. The file is ours, so every problem is an error naming the file
// and line: a missing column, a truncated row, a field that does not parse or is out of range,
// rows out of arrival order. Columns this reader does not know are ignored.
[[nodiscard]] Result<std::vector<DemandRow>> ReadDemand(const std::filesystem::path& file);

// Reads <source_root>/gpu_traces/alibaba_gpu2023_openb_pods.csv and any
// alibaba_gpu2023_openb_pods_<suffix>.csv beside it (in name order) and writes
// <out_dir>/demand_alibaba2023.csv: one row per GPU pod that ran, sorted by arrival_s then
// source_id. Every source row is counted in `report`: accepted, or repaired, rejected (truncated,
// unparsable, inconsistent times) or skipped (CPU-only pods, pods never scheduled) with its line
// and reason. No source file: recorded as missing, OK returned, nothing written. A structural
// problem in any file (empty, missing column, unclosed quote): that error, nothing written.
[[nodiscard]] Status ImportAlibabaTrace(const std::filesystem::path& source_root,
                                        const std::filesystem::path& out_dir, ImportReport& report);

// A per-job GPU trace in the shared job layout of the data folder (columns job_id, submit_s,
// start_s, end_s, duration_s, queue_s, gpus, nodes, gpus_per_node, status, vc, gpu_type, and
// optionally cluster; a column the trace lacks is present but empty): which files to read, which
// canonical file to write.
struct JobTraceSource {
  std::string_view stem;      // reads gpu_traces/<stem>.csv and gpu_traces/<stem>_<suffix>.csv
  std::string_view out_file;  // canonical file written under out_dir
  std::string_view title;     // what the demand is, for the report when no source file exists
};

// Microsoft's ITP GPU clusters, 2021 (Gu et al., ElasticFlow, ASPLOS 2023).
inline constexpr JobTraceSource kItp2021Jobs = {"microsoft_itp2021_jobs", kItp2021DemandFile,
                                                "the Microsoft ITP 2021 training jobs"};

// Reads the source's files (in name order, merged) and writes <out_dir>/<source.out_file>: one
// row per GPU job that ran, sorted by arrival_s then source_id. arrival_s is submit_s, on the
// trace's own clock; the interconnect comes from gpus and nodes (a 1-GPU job: any; a gang: fabric,
// or node when the row says it ran on one node). docs/data-formats.md gives every rule. Every
// source row is counted in `report`: accepted, or repaired, rejected (truncated, unparsable,
// inconsistent counts or times, duplicate job_id) or skipped (jobs that never ran) with its line
// and reason; columns given but not carried into the canonical file are file warnings. No source
// file: recorded as missing, OK returned, nothing written. A structural problem in any file
// (empty, missing column, unclosed quote): that error, nothing written.
[[nodiscard]] Status ImportJobTrace(const std::filesystem::path& source_root,
                                    const std::filesystem::path& out_dir, ImportReport& report,
                                    const JobTraceSource& source = kItp2021Jobs);

}  // namespace rigshift
