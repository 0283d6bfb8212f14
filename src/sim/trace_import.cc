#include "sim/trace_import.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <system_error>
#include <tuple>
#include <utility>

#include "common/csv.h"
#include "market/import_io.h"

namespace rigshift {

namespace fs = std::filesystem;

std::string_view DemandKindName(DemandKind k) {
  switch (k) {
    case DemandKind::kOnDemand:
      return "on_demand";
    case DemandKind::kInterruptible:
      return "interruptible";
  }
  return "on_demand";
}

const std::vector<std::string_view>& DemandColumns() {
  static const std::vector<std::string_view> kColumns = {
      "arrival_s",    "gpus",       "gpu_milli", "models", "min_vram_gb",
      "interconnect", "duration_s", "wait_s",    "kind",   "price_usd_per_gpu_h",
      "tenant",       "qos",        "censored",  "phase",  "cpu_milli",
      "memory_mib",   "source",     "source_id"};
  return kColumns;
}

namespace {

// A whole number: digits with an optional leading '-'. A fraction of zeros ("12.0") is allowed,
// because pandas writes an integer column that holds a missing value as floats; "1.5" is not.
Result<int64_t> ParseWhole(std::string_view text) {
  std::string_view digits = text;
  if (auto dot = text.find('.'); dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.find_first_not_of('0') != std::string_view::npos) {
      return Err(InvalidArgumentError("'" + std::string(text) + "' is not a whole number"));
    }
    digits = text.substr(0, dot);
  }
  int64_t value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    return Err(OutOfRangeError("'" + std::string(text) + "' is out of range"));
  }
  if (digits.empty() || ec != std::errc() || ptr != end) {
    return Err(InvalidArgumentError("'" + std::string(text) + "' is not a whole number"));
  }
  return value;
}

// Reads an integer column; nullopt when empty. The first failure of a row is kept in `error`.
std::optional<int64_t> WholeField(const RowReader& reader, std::string_view column, std::string& error) {
  std::string_view text = reader.Text(column);
  if (text.empty()) return std::nullopt;
  auto v = ParseWhole(text);
  if (!v) {
    if (error.empty()) error = std::string(column) + ": " + v.error().message();
    return std::nullopt;
  }
  return *v;
}

// "V100M16|V100M32" -> {"V100M16", "V100M32"}; "" and pandas' "nan" -> {} (any type).
std::vector<std::string> SplitModels(std::string_view text) {
  std::vector<std::string> out;
  if (text == "nan" || text == "NaN") return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t bar = text.find('|', start);
    if (bar == std::string_view::npos) bar = text.size();
    std::string_view part = text.substr(start, bar - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty() && std::find(out.begin(), out.end(), part) == out.end()) out.emplace_back(part);
    start = bar + 1;
  }
  return out;
}

std::string JoinModels(const std::vector<std::string>& models) {
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : "|") + m;
  return out;
}

std::string OptionalInt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string(); }

// --- Alibaba 2023 GPU pod trace -------------------------------------------------------------

constexpr std::string_view kAlibabaStem = "alibaba_gpu2023_openb_pods";

const std::vector<std::string_view> kAlibabaColumns = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",     "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time"};

// A pod that will be written, once the trace end (for censoring) is known.
struct PendingRow {
  DemandRow row;
  int64_t scheduled = 0;
  std::optional<int64_t> deletion;  // nullopt: the trace gives none, the pod ran to the trace end
};

bool KindOfQos(std::string_view qos, DemandKind* kind) {
  if (qos == "LS" || qos == "Guaranteed" || qos == "Burstable") {
    *kind = DemandKind::kOnDemand;
    return true;
  }
  if (qos == "BE") {
    *kind = DemandKind::kInterruptible;
    return true;
  }
  return false;
}

bool KnownPhase(std::string_view phase) {
  return phase == "Running" || phase == "Succeeded" || phase == "Failed" || phase == "Pending";
}

// Converts one pod row. Returns the row to write, or nullopt after recording why not in `fr`.
// `trace_end` grows with every time the row gives, whatever becomes of the row after its times
// are read.
std::optional<PendingRow> ConvertPod(const CsvTable& table, const CsvRow& csv_row, const fs::path& file,
                                     FileReport& fr, int64_t& trace_end,
                                     std::map<std::string, std::string, std::less<>>& seen) {
  RowReader r(table, csv_row);
  const int line = r.line();
  if (!r.Complete()) {
    fr.Rejected(line, r.error());
    return std::nullopt;
  }
  std::string error;
  auto cpu_milli = WholeField(r, "cpu_milli", error);
  auto memory_mib = WholeField(r, "memory_mib", error);
  auto num_gpu = WholeField(r, "num_gpu", error);
  auto gpu_milli = WholeField(r, "gpu_milli", error);
  auto creation = WholeField(r, "creation_time", error);
  auto deletion = WholeField(r, "deletion_time", error);
  auto scheduled = WholeField(r, "scheduled_time", error);
  if (!error.empty()) {
    fr.Rejected(line, error);
    return std::nullopt;
  }
  std::string name(r.Text("name"));
  if (name.empty()) {
    fr.Rejected(line, "name is empty: a pod needs an id");
    return std::nullopt;
  }
  if (!num_gpu) {
    fr.Rejected(line, "num_gpu is empty");
    return std::nullopt;
  }
  if (!creation) {
    fr.Rejected(line, "creation_time is empty: no arrival time");
    return std::nullopt;
  }
  const std::pair<std::string_view, std::optional<int64_t>> non_negative[] = {
      {"cpu_milli", cpu_milli},    {"memory_mib", memory_mib},  {"num_gpu", num_gpu},
      {"creation_time", creation}, {"deletion_time", deletion}, {"scheduled_time", scheduled}};
  for (const auto& [column, value] : non_negative) {
    if (value && *value < 0) {
      fr.Rejected(line, fmt::format("{} {} is negative", column, *value));
      return std::nullopt;
    }
  }
  trace_end = std::max({trace_end, *creation, deletion.value_or(0), scheduled.value_or(0)});

  if (*num_gpu == 0) {
    fr.Skipped(line, "CPU-only pod (num_gpu=0)");
    return std::nullopt;
  }
  std::string qos(r.Text("qos"));
  DemandKind kind;
  if (!KindOfQos(qos, &kind)) {
    fr.Rejected(line, fmt::format("qos '{}' is not LS, BE, Burstable or Guaranteed", qos));
    return std::nullopt;
  }
  std::string phase(r.Text("pod_phase"));
  if (!KnownPhase(phase)) {
    fr.Rejected(line, fmt::format("pod_phase '{}' is not Running, Succeeded, Failed or Pending", phase));
    return std::nullopt;
  }
  if (!scheduled) {
    fr.Skipped(line,
               fmt::format("never scheduled (pod_phase={}, empty scheduled_time): no run time known", phase));
    return std::nullopt;
  }
  if (*scheduled < *creation) {
    fr.Rejected(line, fmt::format("scheduled_time {} is before creation_time {}", *scheduled, *creation));
    return std::nullopt;
  }
  if (deletion && *deletion < *scheduled) {
    fr.Rejected(line, fmt::format("deletion_time {} is before scheduled_time {}: negative run time",
                                  *deletion, *scheduled));
    return std::nullopt;
  }
  int64_t share = 1000;
  if (*num_gpu == 1) {
    if (!gpu_milli) {
      fr.Rejected(line, "gpu_milli is empty for a 1-GPU pod");
      return std::nullopt;
    }
    if (*gpu_milli < 1 || *gpu_milli > 1000) {
      fr.Rejected(line, fmt::format("gpu_milli {} is outside 1..1000 for a 1-GPU pod", *gpu_milli));
      return std::nullopt;
    }
    share = *gpu_milli;
  }
  if (auto it = seen.find(name); it != seen.end()) {
    fr.Rejected(line, fmt::format("pod '{}' already seen at {}", name, it->second));
    return std::nullopt;
  }
  seen.emplace(name, SourceTag(file, line));

  // Accepted from here on; repairs are recorded but the row is written.
  if (*num_gpu > 1 && gpu_milli && *gpu_milli != 1000) {
    fr.Repaired(line, fmt::format("gpu_milli {} ignored for a {}-GPU pod: only 1-GPU pods share a GPU",
                                  *gpu_milli, *num_gpu));
  }
  if (!deletion) {
    fr.Repaired(line, "deletion_time empty: the pod ran to the trace end (duration censored)");
  }
  ++fr.accepted;

  PendingRow p;
  p.scheduled = *scheduled;
  p.deletion = deletion;
  DemandRow& d = p.row;
  d.arrival_s = *creation;
  d.gpus = *num_gpu;
  d.gpu_milli = share;
  d.models = SplitModels(r.Text("gpu_spec"));
  d.interconnect = *num_gpu > 1 ? Interconnect::kNode : Interconnect::kAny;
  d.wait_s = *scheduled - *creation;
  d.kind = kind;
  d.qos = qos;
  d.phase = phase;
  d.cpu_milli = cpu_milli;
  d.memory_mib = memory_mib;
  d.source = SourceTag(file, line);
  d.source_id = name;
  return p;
}

std::vector<std::string> FormatDemandRow(const DemandRow& d) {
  return {std::to_string(d.arrival_s),
          std::to_string(d.gpus),
          std::to_string(d.gpu_milli),
          JoinModels(d.models),
          OptionalInt(d.min_vram_gb),
          std::string(InterconnectName(d.interconnect)),
          std::to_string(d.duration_s),
          OptionalInt(d.wait_s),
          std::string(DemandKindName(d.kind)),
          d.price ? FormatScaled(d.price->raw(), 6) : std::string(),
          d.tenant,
          d.qos,
          d.censored ? "1" : "0",
          d.phase,
          OptionalInt(d.cpu_milli),
          OptionalInt(d.memory_mib),
          d.source,
          d.source_id};
}

// Parses one canonical row; the error message names the column, the caller adds file:line.
Result<DemandRow> ParseDemandRow(const RowReader& r) {
  std::string error;
  DemandRow d;
  auto required = [&](std::string_view column) -> int64_t {
    auto v = WholeField(r, column, error);
    if (!v && error.empty()) error = std::string(column) + " is empty";
    return v.value_or(0);
  };
  d.arrival_s = required("arrival_s");
  d.gpus = required("gpus");
  d.gpu_milli = required("gpu_milli");
  d.duration_s = required("duration_s");
  d.min_vram_gb = WholeField(r, "min_vram_gb", error);
  d.wait_s = WholeField(r, "wait_s", error);
  d.cpu_milli = WholeField(r, "cpu_milli", error);
  d.memory_mib = WholeField(r, "memory_mib", error);
  if (!error.empty()) return Err(InvalidArgumentError(error));

  auto bad = [](std::string message) { return Err(InvalidArgumentError(std::move(message))); };
  if (d.arrival_s < 0) return bad(fmt::format("arrival_s {} is negative", d.arrival_s));
  if (d.gpus < 1) return bad(fmt::format("gpus {} is not positive", d.gpus));
  if (d.gpu_milli < 1 || d.gpu_milli > 1000)
    return bad(fmt::format("gpu_milli {} is outside 1..1000", d.gpu_milli));
  if (d.gpus > 1 && d.gpu_milli != 1000) {
    return bad(
        fmt::format("gpu_milli {} with gpus {}: only 1-GPU requests share a GPU", d.gpu_milli, d.gpus));
  }
  if (d.duration_s < 0) return bad(fmt::format("duration_s {} is negative", d.duration_s));
  if (d.min_vram_gb && *d.min_vram_gb < 1)
    return bad(fmt::format("min_vram_gb {} is not positive", *d.min_vram_gb));
  if (d.wait_s && *d.wait_s < 0) return bad(fmt::format("wait_s {} is negative", *d.wait_s));
  if (d.cpu_milli && *d.cpu_milli < 0) return bad(fmt::format("cpu_milli {} is negative", *d.cpu_milli));
  if (d.memory_mib && *d.memory_mib < 0) return bad(fmt::format("memory_mib {} is negative", *d.memory_mib));

  d.models = SplitModels(r.Text("models"));
  std::string_view interconnect = r.Text("interconnect");
  if (!ParseInterconnect(interconnect, &d.interconnect)) {
    return bad(fmt::format("interconnect '{}' is not any, node, nvlink or fabric", interconnect));
  }
  std::string_view kind = r.Text("kind");
  if (kind == "on_demand") {
    d.kind = DemandKind::kOnDemand;
  } else if (kind == "interruptible") {
    d.kind = DemandKind::kInterruptible;
  } else {
    return bad(fmt::format("kind '{}' is not on_demand or interruptible", kind));
  }
  std::string_view price = r.Text("price_usd_per_gpu_h");
  if (!price.empty()) {
    auto micros = ParseScaled(price, 6);
    if (!micros) return bad("price_usd_per_gpu_h: " + micros.error().message());
    if (*micros < 0) return bad(fmt::format("price_usd_per_gpu_h {} is negative", price));
    d.price = RentalPrice(*micros);
  }
  std::string_view censored = r.Text("censored");
  if (censored == "1") {
    d.censored = true;
  } else if (censored != "0") {
    return bad(fmt::format("censored '{}' is not 0 or 1", censored));
  }
  d.tenant = r.Text("tenant");
  d.qos = r.Text("qos");
  d.phase = r.Text("phase");
  d.source = r.Text("source");
  d.source_id = r.Text("source_id");
  if (d.source.empty()) return bad("source is empty");
  return d;
}

// --- Per-job GPU traces in the shared job layout ----------------------------------------------

const std::vector<std::string_view> kJobColumns = {"job_id",        "submit_s", "start_s", "end_s",
                                                   "duration_s",    "queue_s",  "gpus",    "nodes",
                                                   "gpus_per_node", "status",   "vc",      "gpu_type"};
// `cluster` is an extra column: a file covering one cluster may leave it out.
const std::vector<std::string_view> kJobKnownColumns = {
    "job_id", "submit_s",      "start_s", "end_s", "duration_s", "queue_s", "gpus",
    "nodes",  "gpus_per_node", "status",  "vc",    "gpu_type",   "cluster"};

// A field of a job row; pandas' "nan" is an empty field, as SplitModels reads it.
std::string_view JobField(const RowReader& r, std::string_view column) {
  std::string_view text = r.Text(column);
  return text == "nan" || text == "NaN" ? std::string_view() : text;
}

// A time column in milliseconds (a trace may give fractions of a second; the canonical file
// rounds once, after differences are taken). nullopt when empty; the first failure goes to `error`.
std::optional<int64_t> JobMillis(const RowReader& r, std::string_view column, std::string& error) {
  std::string_view text = JobField(r, column);
  if (text.empty()) return std::nullopt;
  auto v = ParseScaled(text, 3);
  if (!v) {
    if (error.empty()) error = std::string(column) + ": " + v.error().message();
    return std::nullopt;
  }
  return *v;
}

// A count column (gpus, nodes, gpus_per_node): a whole number.
std::optional<int64_t> JobCount(const RowReader& r, std::string_view column, std::string& error) {
  std::string_view text = JobField(r, column);
  if (text.empty()) return std::nullopt;
  auto v = ParseWhole(text);
  if (!v) {
    if (error.empty()) error = std::string(column) + ": " + v.error().message();
    return std::nullopt;
  }
  return *v;
}

// Whole seconds from non-negative milliseconds, half up.
int64_t RoundedSeconds(int64_t ms) { return ms / 1000 + (ms % 1000 >= 500 ? 1 : 0); }

// What a job's `status` says about its run. Per-job traces spell their states differently
// (Slurm's COMPLETED and NODE_FAIL, Philly's Pass and Killed, Kubernetes' Succeeded), so the
// status is compared lower-cased with everything but letters and digits dropped.
enum class JobState {
  kEnded,      // ran and ended (finished, failed, killed, timed out...), or not stated
  kRunning,    // still running when the trace was taken: the run time is a lower bound
  kNeverRan,   // still queued, or failed to launch: it never held GPUs
  kCancelled,  // cancelled or killed: ran only if the row gives a run
  kUnknown,    // a state this importer does not know: kept as ended, with a file warning
};

JobState StateOfStatus(std::string_view status) {
  std::string key;
  for (char c : status) {
    if (c >= 'A' && c <= 'Z')
      key += static_cast<char>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      key += c;
  }
  if (key.empty()) return JobState::kEnded;
  static const std::pair<std::string_view, JobState> kStates[] = {
      {"completed", JobState::kEnded},    {"complete", JobState::kEnded},
      {"succeeded", JobState::kEnded},    {"success", JobState::kEnded},
      {"successful", JobState::kEnded},   {"pass", JobState::kEnded},
      {"passed", JobState::kEnded},       {"finished", JobState::kEnded},
      {"done", JobState::kEnded},         {"terminated", JobState::kEnded},
      {"stopped", JobState::kEnded},      {"failed", JobState::kEnded},
      {"fail", JobState::kEnded},         {"failure", JobState::kEnded},
      {"error", JobState::kEnded},        {"timeout", JobState::kEnded},
      {"nodefail", JobState::kEnded},     {"outofmemory", JobState::kEnded},
      {"oom", JobState::kEnded},          {"preempted", JobState::kEnded},
      {"deadline", JobState::kEnded},     {"running", JobState::kRunning},
      {"pending", JobState::kNeverRan},   {"waiting", JobState::kNeverRan},
      {"queued", JobState::kNeverRan},    {"queueing", JobState::kNeverRan},
      {"submitted", JobState::kNeverRan}, {"notstarted", JobState::kNeverRan},
      {"bootfail", JobState::kNeverRan},  {"cancelled", JobState::kCancelled},
      {"canceled", JobState::kCancelled}, {"killed", JobState::kCancelled}};
  for (const auto& [name, state] : kStates) {
    if (key == name) return state;
  }
  return JobState::kUnknown;
}

// What one file gave that the canonical rows do not carry, reported once per file.
struct JobFileNotes {
  int64_t gpus_per_node_rows = 0;                       // rows that gave gpus_per_node
  std::map<std::string, int64_t, std::less<>> unknown;  // unknown status -> rows
};

// Converts one job row. Returns the row to write, or nullopt after recording why not in `fr`.
std::optional<DemandRow> ConvertJob(const CsvTable& table, const CsvRow& csv_row, const fs::path& file,
                                    FileReport& fr, JobFileNotes& notes,
                                    std::map<std::string, std::string, std::less<>>& seen) {
  RowReader r(table, csv_row);
  const int line = r.line();
  auto reject = [&](std::string reason) {
    fr.Rejected(line, std::move(reason));
    return std::nullopt;
  };
  if (!r.Complete()) return reject(r.error());
  std::string error;
  auto submit = JobMillis(r, "submit_s", error);
  auto start = JobMillis(r, "start_s", error);
  auto end = JobMillis(r, "end_s", error);
  auto duration = JobMillis(r, "duration_s", error);
  auto queue = JobMillis(r, "queue_s", error);
  auto gpus = JobCount(r, "gpus", error);
  auto nodes = JobCount(r, "nodes", error);
  auto per_node = JobCount(r, "gpus_per_node", error);
  if (!error.empty()) return reject(error);
  std::string job_id(JobField(r, "job_id"));
  if (job_id.empty()) return reject("job_id is empty: a job needs an id");
  if (!submit) return reject("submit_s is empty: no arrival time");
  const std::pair<std::string_view, std::optional<int64_t>> times[] = {
      {"submit_s", submit}, {"start_s", start}, {"end_s", end}, {"duration_s", duration}, {"queue_s", queue}};
  for (const auto& [column, ms] : times) {
    if (ms && *ms < 0) return reject(fmt::format("{} {} is negative", column, JobField(r, column)));
  }

  std::string status(JobField(r, "status"));
  const JobState state = StateOfStatus(status);
  if (state == JobState::kNeverRan) {
    fr.Skipped(line, fmt::format("never ran (status={}): no GPUs held, no run time", status));
    return std::nullopt;
  }
  if (state == JobState::kCancelled && !start && !end && (!duration || *duration == 0)) {
    fr.Skipped(line, fmt::format("cancelled before it started (status={}, no start_s, no run time)", status));
    return std::nullopt;
  }

  // GPUs and the nodes they sat on.
  std::string repair;
  if (nodes && *nodes < 1) return reject(fmt::format("nodes {} is less than 1", *nodes));
  if (per_node && *per_node < 1) return reject(fmt::format("gpus_per_node {} is less than 1", *per_node));
  std::optional<int64_t> shape;  // nodes x gpus_per_node, when both are given
  if (nodes && per_node) {
    int64_t product = 0;
    if (__builtin_mul_overflow(*nodes, *per_node, &product)) {
      return reject(fmt::format("nodes {} x gpus_per_node {} is out of range", *nodes, *per_node));
    }
    shape = product;
  }
  if (!gpus) {
    if (!shape) return reject("gpus is empty (and nodes x gpus_per_node does not give it)");
    gpus = shape;
    repair = fmt::format("gpus empty: taken as nodes {} x gpus_per_node {} = {}", *nodes, *per_node, *gpus);
  }
  if (*gpus < 1) return reject(fmt::format("gpus {} is less than 1: not a GPU job", *gpus));
  if (nodes && *nodes > *gpus) {
    return reject(fmt::format("nodes {} is more than gpus {}: a node of the job would hold none of its GPUs",
                              *nodes, *gpus));
  }
  if (shape && *shape != *gpus) {
    repair = fmt::format(
        "gpus {} is not nodes {} x gpus_per_node {} = {}: kept gpus {} (the GPUs held at once), "
        "gpus_per_node not used",
        *gpus, *nodes, *per_node, *shape, *gpus);
  }

  // Times. Any two the row gives must be in order; the run time is duration_s, else end - start.
  if (start && *start < *submit) {
    return reject(fmt::format("start_s {} is before submit_s {}: negative wait", JobField(r, "start_s"),
                              JobField(r, "submit_s")));
  }
  if (end && *end < start.value_or(*submit)) {
    return reject(fmt::format("end_s {} is before {} {}: negative run time", JobField(r, "end_s"),
                              start ? "start_s" : "submit_s", JobField(r, start ? "start_s" : "submit_s")));
  }
  int64_t run_ms = 0;
  if (duration) {
    run_ms = *duration;
  } else if (start && end) {
    run_ms = *end - *start;
  } else {
    return reject("duration_s is empty and start_s, end_s do not give it: no run time");
  }
  std::optional<int64_t> wait_ms = queue;
  if (!wait_ms && start) wait_ms = *start - *submit;

  if (auto it = seen.find(job_id); it != seen.end()) {
    return reject(fmt::format("job '{}' already seen at {}", job_id, it->second));
  }
  seen.emplace(job_id, SourceTag(file, line));

  // Accepted from here on; a repair is recorded but the row is written.
  if (state == JobState::kUnknown) ++notes.unknown[status];
  if (per_node) ++notes.gpus_per_node_rows;
  if (!repair.empty()) fr.Repaired(line, repair);
  ++fr.accepted;

  DemandRow d;
  d.arrival_s = RoundedSeconds(*submit);
  d.gpus = *gpus;
  d.models = SplitModels(JobField(r, "gpu_type"));
  // A job on one node needs its GPUs in one node; a gang whose node count is unknown or above one
  // ran (or may have run) across nodes, which `fabric` allows on a farm that declares one.
  if (*gpus == 1) {
    d.interconnect = Interconnect::kAny;
  } else {
    d.interconnect = nodes && *nodes == 1 ? Interconnect::kNode : Interconnect::kFabric;
  }
  d.duration_s = RoundedSeconds(run_ms);
  if (wait_ms) d.wait_s = RoundedSeconds(*wait_ms);
  d.kind = DemandKind::kOnDemand;
  d.censored = state == JobState::kRunning;
  d.phase = status;
  // The tenant tells clusters apart: a virtual cluster's name is only unique inside its cluster.
  std::string vc(JobField(r, "vc"));
  std::string cluster(JobField(r, "cluster"));
  d.tenant = vc.empty() ? cluster : cluster.empty() ? vc : cluster + "/" + vc;
  d.source = SourceTag(file, line);
  d.source_id = job_id;
  return d;
}

// The file-level notes of one job file, as warnings in its report.
void ReportJobNotes(const JobFileNotes& notes, FileReport& fr) {
  if (notes.gpus_per_node_rows > 0) {
    fr.warnings.push_back(
        fmt::format("gpus_per_node given on {} row(s): checked against gpus and nodes, not carried (the "
                    "canonical file has no per-node shape; the interconnect comes from nodes, placement from "
                    "the farm's node sizes)",
                    notes.gpus_per_node_rows));
  }
  for (const auto& [status, count] : notes.unknown) {
    fr.warnings.push_back(fmt::format(
        "status '{}' on {} row(s) is not a job state this importer knows: kept as a job that ran and ended "
        "(censored 0), the status copied to phase",
        status, count));
  }
}

// Sorts `rows` by arrival then id, creates `out_dir` and writes <out_dir>/<file>: the last step of
// every trace importer.
Status WriteDemandOutput(const fs::path& out_dir, std::string_view file, std::vector<DemandRow> rows,
                         ImportReport& report) {
  std::sort(rows.begin(), rows.end(), [](const DemandRow& a, const DemandRow& b) {
    return std::tie(a.arrival_s, a.source_id) < std::tie(b.arrival_s, b.source_id);
  });
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return UnavailableError(
        fmt::format("{}: cannot create the output folder: {}", out_dir.string(), ec.message()));
  }
  RS_RETURN_IF_ERROR(WriteDemand(out_dir / file, rows));
  report.Output(std::string(file), static_cast<int64_t>(rows.size()));
  return OkStatus();
}

}  // namespace

Status WriteDemand(const fs::path& file, const std::vector<DemandRow>& rows) {
  std::vector<std::string> header(DemandColumns().begin(), DemandColumns().end());
  std::vector<std::vector<std::string>> out;
  out.reserve(rows.size());
  for (const auto& d : rows) out.push_back(FormatDemandRow(d));
  return WriteCsv(file, header, out);
}

Result<std::vector<DemandRow>> ReadDemand(const fs::path& file) {
  auto table = CsvTable::ReadFile(file);
  if (!table) return Err(table.error().WithContext(file.string()));
  if (Status s = table->Require(DemandColumns()); !s.ok()) return Err(s.WithContext(file.string()));
  std::vector<DemandRow> rows;
  rows.reserve(table->rows().size());
  for (const auto& csv_row : table->rows()) {
    RowReader r(*table, csv_row);
    auto where = [&](const std::string& message) {
      return Err(InvalidArgumentError(fmt::format("{}:{}: {}", file.string(), csv_row.line, message)));
    };
    if (!r.Complete()) return where(r.error());
    auto row = ParseDemandRow(r);
    if (!row) return where(row.error().message());
    if (!rows.empty() && row->arrival_s < rows.back().arrival_s) {
      return where(fmt::format("arrival_s {} is before the previous row's {}: rows must be sorted by arrival",
                               row->arrival_s, rows.back().arrival_s));
    }
    rows.push_back(std::move(*row));
  }
  return rows;
}

Status ImportAlibabaTrace(const fs::path& source_root, const fs::path& out_dir, ImportReport& report) {
  const std::vector<fs::path> files = FindSourceFiles(source_root / "gpu_traces", kAlibabaStem);
  if (files.empty()) {
    report.Missing(fmt::format("gpu_traces/{}.csv", kAlibabaStem),
                   fmt::format("no {}: scenarios cannot replay the Alibaba 2023 GPU cluster's demand",
                               kAlibaba2023DemandFile));
    return OkStatus();
  }

  // Read everything first: a structural error in any file stops the import before anything is
  // written.
  std::vector<PendingRow> pending;
  std::map<std::string, std::string, std::less<>> seen;  // pod name -> where first seen
  int64_t trace_end = 0;
  for (const auto& file : files) {
    FileReport& fr = report.File(fs::relative(file, source_root).generic_string());
    RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(file, source_root, kAlibabaColumns, kAlibabaColumns, fr));
    for (const auto& csv_row : table.rows()) {
      if (auto p = ConvertPod(table, csv_row, file, fr, trace_end, seen)) pending.push_back(std::move(*p));
    }
  }

  // The trace end is the last time any pod row gives. The pod phase is the last one observed
  // before deletion, so a Running pod is censored only when it was still there at the end.
  std::vector<DemandRow> rows;
  rows.reserve(pending.size());
  for (auto& p : pending) {
    int64_t end = p.deletion.value_or(trace_end);
    p.row.duration_s = end - p.scheduled;
    p.row.censored = !p.deletion || (p.row.phase == "Running" && end >= trace_end);
    rows.push_back(std::move(p.row));
  }
  return WriteDemandOutput(out_dir, kAlibaba2023DemandFile, std::move(rows), report);
}

Status ImportJobTrace(const fs::path& source_root, const fs::path& out_dir, ImportReport& report,
                      const JobTraceSource& source) {
  const std::vector<fs::path> files = FindSourceFiles(source_root / "gpu_traces", source.stem);
  if (files.empty()) {
    report.Missing(fmt::format("gpu_traces/{}.csv", source.stem),
                   fmt::format("no {}: scenarios cannot replay {}", source.out_file, source.title));
    return OkStatus();
  }
  // Read everything first: a structural error in any file stops the import before anything is
  // written.
  std::vector<DemandRow> rows;
  std::map<std::string, std::string, std::less<>> seen;  // job_id -> where first seen
  for (const auto& file : files) {
    FileReport& fr = report.File(fs::relative(file, source_root).generic_string());
    RS_ASSIGN_OR_RETURN(CsvTable table, ReadSource(file, source_root, kJobColumns, kJobKnownColumns, fr));
    JobFileNotes notes;
    for (const auto& csv_row : table.rows()) {
      if (auto d = ConvertJob(table, csv_row, file, fr, notes, seen)) rows.push_back(std::move(*d));
    }
    ReportJobNotes(notes, fr);
  }
  return WriteDemandOutput(out_dir, source.out_file, std::move(rows), report);
}

}  // namespace rigshift
