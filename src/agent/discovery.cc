#include "agent/discovery.h"

#include <sys/statvfs.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include <pugixml.hpp>

#include "agent/text.h"

namespace rigshift::agent {

// ---- Links ----

std::string LinkName(const Link& link) {
  switch (link.kind) {
    case LinkKind::kSelf: return "X";
    case LinkKind::kNvLink: return "NV" + std::to_string(link.nvlinks);
    case LinkKind::kPix: return "PIX";
    case LinkKind::kPxb: return "PXB";
    case LinkKind::kPhb: return "PHB";
    case LinkKind::kNode: return "NODE";
    case LinkKind::kSys: return "SYS";
  }
  return "?";
}

Result<Link> ParseLink(std::string_view cell) {
  cell = Trim(cell);
  static const std::array<std::pair<std::string_view, LinkKind>, 8> kNames = {{
      {"X", LinkKind::kSelf}, {"PIX", LinkKind::kPix}, {"PXB", LinkKind::kPxb}, {"PHB", LinkKind::kPhb},
      {"NODE", LinkKind::kNode}, {"SYS", LinkKind::kSys},
      {"SOC", LinkKind::kSys},  // the name drivers before NODE/SYS existed gave to a cross-socket path
      {"PSB", LinkKind::kPxb},  // an older spelling of "through PCIe switches"
  }};
  for (const auto& [text, kind] : kNames) {
    if (cell == text) return Link{kind, 0};
  }
  if (StartsWith(cell, "NV")) {
    std::optional<int64_t> n = ToInt(cell.substr(2));
    if (n && *n > 0 && *n < 1000) return Link{LinkKind::kNvLink, static_cast<int>(*n)};
  }
  return Err(InvalidArgumentError("'" + std::string(cell) +
                                  "' is not a link type (X, NV#, PIX, PXB, PHB, NODE, SYS)"));
}

Links::Links(int gpus, Link fill) : gpus_(gpus), cells_(static_cast<size_t>(gpus * gpus), fill) {
  for (int i = 0; i < gpus; ++i) cells_[static_cast<size_t>(i * gpus + i)] = Link{LinkKind::kSelf, 0};
}

void Links::Set(int a, int b, Link link) {
  RS_CHECK(a >= 0 && b >= 0 && a < gpus_ && b < gpus_);
  cells_[static_cast<size_t>(a * gpus_ + b)] = link;
  cells_[static_cast<size_t>(b * gpus_ + a)] = link;
}

namespace {

Status Error(std::string_view name, const std::string& what) {
  return InvalidArgumentError(std::string(name) + ": " + what);
}

std::optional<int> ToOptionalInt(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return static_cast<int>(std::lround(*v));
}
std::optional<int64_t> ToOptionalInt64(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return std::llround(*v);
}
std::optional<int64_t> WattsToMilli(const std::optional<double>& w) {
  if (!w) return std::nullopt;
  return std::llround(*w * 1000.0);
}

const std::vector<std::string_view> kMib = {"MiB"};
const std::vector<std::string_view> kWatts = {"W"};
const std::vector<std::string_view> kPercent = {"%"};
const std::vector<std::string_view> kCelsius = {"C"};
const std::vector<std::string_view> kLanes = {"x"};
const std::vector<std::string_view> kNone = {};

// ---- nvidia-smi -q -x ----

// Reads one element of a <gpu> by path; a missing element is nullopt like "N/A".
class XmlGpu {
 public:
  XmlGpu(pugi::xml_node gpu, std::string prefix) : gpu_(gpu), prefix_(std::move(prefix)) {}

  std::optional<std::string> Text(const char* path) const {
    pugi::xml_node n = gpu_.first_element_by_path(path);
    if (!n) return std::nullopt;
    std::string text(Trim(n.child_value()));
    if (IsNotAvailable(text)) return std::nullopt;
    return text;
  }

  // The first of `paths` that is present and available, read as a number of `units`.
  Result<std::optional<double>> Measure(std::initializer_list<const char*> paths,
                                        const std::vector<std::string_view>& units) const {
    for (const char* path : paths) {
      std::optional<std::string> text = Text(path);
      if (!text) continue;
      auto v = ParseMeasure(*text, prefix_ + path, units);
      if (!v) return Err(v.error());
      if (*v) return v;
    }
    return std::optional<double>();
  }

  // Sums the counters under `parent` whose names pass `take`; nullopt when none is a number.
  Result<std::optional<int64_t>> SumCounters(const char* parent, bool (*take)(std::string_view)) const {
    pugi::xml_node p = gpu_.first_element_by_path(parent);
    std::optional<int64_t> sum;
    for (pugi::xml_node c : p.children()) {
      if (!take(c.name())) continue;
      auto v = ParseMeasure(c.child_value(), prefix_ + parent + "/" + c.name(), kNone);
      if (!v) return Err(v.error());
      if (*v) sum = sum.value_or(0) + std::llround(**v);
    }
    return sum;
  }

  const std::string& prefix() const { return prefix_; }

 private:
  pugi::xml_node gpu_;
  std::string prefix_;  // "FILE: gpu 0: " for messages
};

bool IsCorrectable(std::string_view n) {
  return n.find("correctable") != std::string_view::npos && n.find("uncorrectable") == std::string_view::npos;
}
bool IsUncorrectable(std::string_view n) { return n.find("uncorrectable") != std::string_view::npos; }

// ECC counts since driver load. Old schemas (v11) give single_bit/double_bit totals, new ones
// (v12+) sram_/dram_ (un)correctable counters, which are summed.
Status ReadEcc(const XmlGpu& g, GpuInfo& gpu) {
  auto single = g.Measure({"ecc_errors/volatile/single_bit/total"}, kNone);
  auto dbl = g.Measure({"ecc_errors/volatile/double_bit/total"}, kNone);
  if (!single) return single.error();
  if (!dbl) return dbl.error();
  if (*single || *dbl) {
    gpu.ecc_corrected = ToOptionalInt64(*single);
    gpu.ecc_uncorrected = ToOptionalInt64(*dbl);
    return OkStatus();
  }
  auto corrected = g.SumCounters("ecc_errors/volatile", IsCorrectable);
  auto uncorrected = g.SumCounters("ecc_errors/volatile", IsUncorrectable);
  if (!corrected) return corrected.error();
  if (!uncorrected) return uncorrected.error();
  gpu.ecc_corrected = *corrected;
  gpu.ecc_uncorrected = *uncorrected;
  return OkStatus();
}

Status ReadPower(const XmlGpu& g, GpuInfo& gpu) {
  // Drivers before ~530 use <power_readings>, later ones <gpu_power_readings>; v13 splits the
  // draw into average and instant.
  auto limit = g.Measure({"power_readings/enforced_power_limit", "power_readings/power_limit",
                          "gpu_power_readings/enforced_power_limit", "gpu_power_readings/current_power_limit",
                          "gpu_power_readings/power_limit"},
                         kWatts);
  auto min = g.Measure({"power_readings/min_power_limit", "gpu_power_readings/min_power_limit"}, kWatts);
  auto max = g.Measure({"power_readings/max_power_limit", "gpu_power_readings/max_power_limit"}, kWatts);
  auto draw = g.Measure({"power_readings/power_draw", "gpu_power_readings/power_draw",
                         "gpu_power_readings/average_power_draw", "gpu_power_readings/instant_power_draw",
                         "power_readings/average_power_draw", "power_readings/instant_power_draw"},
                        kWatts);
  for (auto* r : {&limit, &min, &max, &draw}) {
    if (!*r) return r->error();
  }
  gpu.power_limit_mw = WattsToMilli(*limit);
  gpu.power_min_limit_mw = WattsToMilli(*min);
  gpu.power_max_limit_mw = WattsToMilli(*max);
  gpu.power_draw_mw = WattsToMilli(*draw);
  return OkStatus();
}

Result<GpuInfo> ReadXmlGpu(pugi::xml_node node, int index, std::string_view name) {
  std::string id = node.attribute("id").value();
  XmlGpu g(node, std::string(name) + ": gpu " + std::to_string(index) + (id.empty() ? "" : " (" + id + ")") + ": ");
  GpuInfo gpu;
  gpu.index = index;
  std::optional<std::string> product = g.Text("product_name");
  if (!product) return Err(InvalidArgumentError(g.prefix() + "product_name is missing"));
  gpu.name = *product;
  gpu.uuid = g.Text("uuid");
  gpu.pci_bus_id = id.empty() ? g.Text("pci/pci_bus_id") : std::optional<std::string>(id);

  auto mem = g.Measure({"fb_memory_usage/total"}, kMib);
  auto used = g.Measure({"fb_memory_usage/used"}, kMib);
  auto gen = g.Measure({"pci/pci_gpu_link_info/pcie_gen/current_link_gen"}, kNone);
  auto max_gen = g.Measure({"pci/pci_gpu_link_info/pcie_gen/max_link_gen"}, kNone);
  auto width = g.Measure({"pci/pci_gpu_link_info/link_widths/current_link_width"}, kLanes);
  auto max_width = g.Measure({"pci/pci_gpu_link_info/link_widths/max_link_width"}, kLanes);
  auto temp = g.Measure({"temperature/gpu_temp"}, kCelsius);
  auto util = g.Measure({"utilization/gpu_util"}, kPercent);
  for (auto* r : {&mem, &used, &gen, &max_gen, &width, &max_width, &temp, &util}) {
    if (!*r) return Err(r->error());
  }
  gpu.memory_mib = ToOptionalInt64(*mem);
  gpu.memory_used_mib = ToOptionalInt64(*used);
  gpu.pcie_gen = ToOptionalInt(*gen);
  gpu.pcie_max_gen = ToOptionalInt(*max_gen);
  gpu.pcie_width = ToOptionalInt(*width);
  gpu.pcie_max_width = ToOptionalInt(*max_width);
  gpu.temperature_c = ToOptionalInt(*temp);
  gpu.utilization_pct = ToOptionalInt(*util);
  RS_RETURN_IF_ERROR(ReadPower(g, gpu));
  RS_RETURN_IF_ERROR(ReadEcc(g, gpu));
  return gpu;
}

// ---- nvidia-smi --query-gpu ----

// A header cell is a field name: a lower-case letter, then letters, digits, dots and
// underscores ("pcie.link.gen.current", "clocks_event_reasons.sw_power_cap"), maybe " [unit]".
// Data cells fail this: they hold spaces ("NVIDIA H200", "24564 MiB"), start with a digit, an
// upper-case letter or '['.
bool IsFieldName(std::string_view cell) {
  cell = Trim(cell);
  std::string_view field = cell.substr(0, cell.find(" ["));
  if (field.empty() || !(field[0] >= 'a' && field[0] <= 'z')) return false;
  for (char c : field) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

struct CsvColumns {
  std::map<std::string, size_t, std::less<>> index;  // field name (unit suffix dropped) -> column

  std::optional<size_t> Find(std::initializer_list<std::string_view> names) const {
    for (std::string_view n : names) {
      auto it = index.find(n);
      if (it != index.end()) return it->second;
    }
    return std::nullopt;
  }
};

// Reads the first of `names` present in the row.
class CsvRowReader {
 public:
  CsvRowReader(const CsvColumns& cols, const std::vector<std::string_view>& cells, std::string prefix)
      : cols_(cols), cells_(cells), prefix_(std::move(prefix)) {}

  Result<std::optional<double>> Measure(std::initializer_list<std::string_view> names,
                                        const std::vector<std::string_view>& units) const {
    for (std::string_view n : names) {
      auto it = cols_.index.find(n);
      if (it == cols_.index.end()) continue;
      auto v = ParseMeasure(cells_[it->second], prefix_ + std::string(n), units);
      if (!v || *v) return v;
    }
    return std::optional<double>();
  }

  std::optional<std::string> Text(std::string_view name) const {
    auto it = cols_.index.find(name);
    if (it == cols_.index.end() || IsNotAvailable(cells_[it->second])) return std::nullopt;
    return std::string(Trim(cells_[it->second]));
  }

  const std::string& prefix() const { return prefix_; }

 private:
  const CsvColumns& cols_;
  const std::vector<std::string_view>& cells_;
  std::string prefix_;
};

Result<GpuInfo> ReadCsvGpu(const CsvRowReader& r, int row_number) {
  GpuInfo gpu;
  auto index = r.Measure({"index"}, kNone);
  auto mem = r.Measure({"memory.total"}, kMib);
  auto used = r.Measure({"memory.used"}, kMib);
  auto gen = r.Measure({"pcie.link.gen.current", "pcie.link.gen.gpucurrent"}, kNone);
  auto max_gen = r.Measure({"pcie.link.gen.max", "pcie.link.gen.gpumax"}, kNone);
  auto width = r.Measure({"pcie.link.width.current"}, kLanes);
  auto max_width = r.Measure({"pcie.link.width.max"}, kLanes);
  auto limit = r.Measure({"enforced.power.limit", "power.limit"}, kWatts);
  auto min = r.Measure({"power.min_limit"}, kWatts);
  auto max = r.Measure({"power.max_limit"}, kWatts);
  auto draw = r.Measure({"power.draw", "power.draw.average", "power.draw.instant"}, kWatts);
  auto temp = r.Measure({"temperature.gpu"}, kCelsius);
  auto util = r.Measure({"utilization.gpu"}, kPercent);
  auto ecc_c = r.Measure({"ecc.errors.corrected.volatile.total"}, kNone);
  auto ecc_u = r.Measure({"ecc.errors.uncorrected.volatile.total"}, kNone);
  for (auto* v : {&index, &mem, &used, &gen, &max_gen, &width, &max_width, &limit, &min, &max, &draw, &temp, &util,
                  &ecc_c, &ecc_u}) {
    if (!*v) return Err(v->error());
  }
  gpu.index = index->has_value() ? static_cast<int>(**index) : row_number;
  gpu.name = r.Text("name").value_or("");
  gpu.uuid = r.Text("uuid");
  gpu.pci_bus_id = r.Text("pci.bus_id");
  gpu.memory_mib = ToOptionalInt64(*mem);
  gpu.memory_used_mib = ToOptionalInt64(*used);
  gpu.pcie_gen = ToOptionalInt(*gen);
  gpu.pcie_max_gen = ToOptionalInt(*max_gen);
  gpu.pcie_width = ToOptionalInt(*width);
  gpu.pcie_max_width = ToOptionalInt(*max_width);
  gpu.power_limit_mw = WattsToMilli(*limit);
  gpu.power_min_limit_mw = WattsToMilli(*min);
  gpu.power_max_limit_mw = WattsToMilli(*max);
  gpu.power_draw_mw = WattsToMilli(*draw);
  gpu.temperature_c = ToOptionalInt(*temp);
  gpu.utilization_pct = ToOptionalInt(*util);
  gpu.ecc_corrected = ToOptionalInt64(*ecc_c);
  gpu.ecc_uncorrected = ToOptionalInt64(*ecc_u);
  return gpu;
}

// The columns rigshift reads; a header with none of them is not a GPU query.
constexpr std::array<std::string_view, 14> kKnownCsvFields = {
    "index", "name", "uuid", "pci.bus_id", "memory.total", "memory.used", "pcie.link.gen.current",
    "pcie.link.gen.max", "pcie.link.width.current", "pcie.link.width.max", "power.limit", "power.draw",
    "temperature.gpu", "utilization.gpu"};

Result<CsvColumns> ReadCsvHeader(std::string_view line, std::string_view name) {
  CsvColumns cols;
  bool known = false;
  std::vector<std::string_view> cells = Split(line, ',');
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!IsFieldName(cells[i])) {
      return Err(Error(name, "line 1: '" + std::string(Trim(cells[i])) +
                                 "' is not a field name: the first line must be the header of "
                                 "`nvidia-smi --query-gpu=... --format=csv` (not noheader)"));
    }
    std::string field(Trim(Trim(cells[i]).substr(0, Trim(cells[i]).find(" ["))));
    for (std::string_view k : kKnownCsvFields) known = known || field == k;
    cols.index.emplace(field, i);  // a field asked for twice keeps its first column
  }
  if (!known) {
    return Err(Error(name, "none of the columns is one rigshift reads (index, name, uuid, memory.total, "
                           "pcie.link.gen.current, pcie.link.width.current, power.limit, ...)"));
  }
  return cols;
}

// ---- topo -m ----

std::string StripAnsi(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !((text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= 'a' && text[i] <= 'z'))) ++i;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

std::optional<int> GpuLabel(std::string_view token) {
  if (!StartsWith(token, "GPU")) return std::nullopt;
  std::optional<int64_t> n = ToInt(token.substr(3));
  if (!n || *n < 0 || token.size() == 3 || token[3] == '+' || token[3] == '-') return std::nullopt;
  return static_cast<int>(*n);
}

// The header's device columns: every token before "CPU Affinity" (GPUs, then NICs).
std::vector<std::string_view> DeviceColumns(std::string_view header) {
  std::vector<std::string_view> cols;
  for (std::string_view t : SplitWhitespace(header)) {
    if (t == "CPU" || t == "NUMA") break;
    cols.push_back(t);
  }
  return cols;
}

}  // namespace

Result<Discovery> ParseNvidiaSmiXml(std::string_view xml, std::string_view name) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) {
    return Err(Error(name, std::string("not XML: ") + parsed.description() + " at byte " +
                               std::to_string(parsed.offset)));
  }
  pugi::xml_node root = doc.child("nvidia_smi_log");
  if (!root) return Err(Error(name, "no <nvidia_smi_log> element: not `nvidia-smi -q -x` output"));
  Discovery d;
  d.source = "nvidia-smi -q -x";
  std::string driver(Trim(root.child_value("driver_version")));
  if (!IsNotAvailable(driver)) d.driver_version = driver;
  int index = 0;
  for (pugi::xml_node node : root.children("gpu")) {
    RS_ASSIGN_OR_RETURN(GpuInfo gpu, ReadXmlGpu(node, index++, name));
    d.gpus.push_back(std::move(gpu));
  }
  if (d.gpus.empty()) return Err(Error(name, "no <gpu> element: nvidia-smi saw no GPU"));
  return d;
}

Result<Discovery> ParseNvidiaSmiCsv(std::string_view csv, std::string_view name) {
  std::vector<std::string_view> lines = SplitLines(csv);
  size_t first = 0;
  while (first < lines.size() && Trim(lines[first]).empty()) ++first;
  if (first == lines.size()) return Err(Error(name, "empty: no header row"));
  RS_ASSIGN_OR_RETURN(CsvColumns cols, ReadCsvHeader(lines[first], name));
  size_t width = Split(lines[first], ',').size();
  Discovery d;
  d.source = "nvidia-smi --query-gpu";
  for (size_t i = first + 1; i < lines.size(); ++i) {
    if (Trim(lines[i]).empty()) continue;
    std::vector<std::string_view> cells = Split(lines[i], ',');
    std::string where = std::string(name) + ":" + std::to_string(i + 1) + ": ";
    if (cells.size() != width) {
      return Err(InvalidArgumentError(where + std::to_string(cells.size()) + " values for " + std::to_string(width) +
                                      " header columns"));
    }
    CsvRowReader row(cols, cells, where);
    RS_ASSIGN_OR_RETURN(GpuInfo gpu, ReadCsvGpu(row, static_cast<int>(d.gpus.size())));
    if (!d.driver_version) d.driver_version = row.Text("driver_version");
    d.gpus.push_back(std::move(gpu));
  }
  if (d.gpus.empty()) return Err(Error(name, "a header and no GPU rows"));
  return d;
}

Result<Discovery> ParseNvidiaSmiTopo(std::string_view raw, std::string_view name) {
  std::string text = StripAnsi(raw);
  std::vector<std::string_view> lines = SplitLines(text);
  size_t header = 0;
  while (header < lines.size()) {
    std::vector<std::string_view> t = SplitWhitespace(lines[header]);
    if (!t.empty() && t[0] == "GPU0" && (lines[header][0] == ' ' || lines[header][0] == '\t')) break;
    ++header;
  }
  if (header == lines.size()) return Err(Error(name, "no header row starting with GPU0: not `nvidia-smi topo -m` output"));
  std::vector<std::string_view> columns = DeviceColumns(lines[header]);
  int gpus = 0;
  while (gpus < static_cast<int>(columns.size()) && GpuLabel(columns[static_cast<size_t>(gpus)]) == gpus) ++gpus;

  Discovery d;
  d.source = "nvidia-smi topo -m";
  Links links(gpus, Link{LinkKind::kSys, 0});
  std::vector<std::vector<Link>> rows;
  for (size_t i = header + 1; i < lines.size() && static_cast<int>(rows.size()) < gpus; ++i) {
    std::vector<std::string_view> cells = SplitWhitespace(lines[i]);
    if (cells.empty()) break;
    std::string where = std::string(name) + ":" + std::to_string(i + 1) + ": ";
    int row = static_cast<int>(rows.size());
    if (GpuLabel(cells[0]) != row) {
      return Err(InvalidArgumentError(where + "expected the row of GPU" + std::to_string(row) + ", found '" +
                                      std::string(cells[0]) + "'"));
    }
    if (static_cast<int>(cells.size()) < gpus + 1) {
      return Err(InvalidArgumentError(where + "GPU" + std::to_string(row) + " has " + std::to_string(cells.size() - 1) +
                                      " cells for " + std::to_string(gpus) + " GPU columns"));
    }
    std::vector<Link> parsed;
    for (int col = 0; col < gpus; ++col) {
      auto link = ParseLink(cells[static_cast<size_t>(col + 1)]);
      if (!link) {
        return Err(InvalidArgumentError(where + "GPU" + std::to_string(row) + " column GPU" + std::to_string(col) +
                                        ": " + link.error().message()));
      }
      if ((col == row) != (link->kind == LinkKind::kSelf)) {
        return Err(InvalidArgumentError(where + "GPU" + std::to_string(row) + " column GPU" + std::to_string(col) +
                                        ": X must be on the diagonal and only there"));
      }
      parsed.push_back(*link);
    }
    rows.push_back(std::move(parsed));
  }
  if (static_cast<int>(rows.size()) != gpus) {
    return Err(Error(name, "the header names " + std::to_string(gpus) + " GPUs but " + std::to_string(rows.size()) +
                               " GPU rows follow"));
  }
  for (int a = 0; a < gpus; ++a) {
    for (int b = a + 1; b < gpus; ++b) {
      if (rows[a][b] != rows[b][a]) {
        return Err(Error(name, "GPU" + std::to_string(a) + "-GPU" + std::to_string(b) + " reads " +
                                   LinkName(rows[a][b]) + " one way and " + LinkName(rows[b][a]) + " the other"));
      }
      links.Set(a, b, rows[a][b]);
    }
    GpuInfo gpu;
    gpu.index = a;
    d.gpus.push_back(gpu);
  }
  d.links = std::move(links);
  return d;
}

Result<Discovery> ParseNvidiaSmiOutput(std::string_view text, std::string_view name) {
  std::string_view t = Trim(text);
  if (!t.empty() && t.front() == '<') return ParseNvidiaSmiXml(text, name);
  std::string stripped = StripAnsi(t.substr(0, t.find('\n')));
  std::vector<std::string_view> first = SplitWhitespace(stripped);
  if (!first.empty() && first[0] == "GPU0") return ParseNvidiaSmiTopo(text, name);
  return ParseNvidiaSmiCsv(text, name);
}

// ---- host ----

Result<HostInfo> ParseHostInfo(std::string_view cpuinfo, std::string_view meminfo) {
  HostInfo h;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical;
  for (std::string_view line : SplitLines(cpuinfo)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (key == "processor") ++h.cpu_threads;
    if ((key == "model name" || key == "Model" || key == "cpu model") && h.cpu_model.empty()) h.cpu_model = value;
    if (key == "physical id") physical = value;
    if (key == "core id") cores.emplace(physical, value);
  }
  if (h.cpu_threads == 0) return Err(InvalidArgumentError("/proc/cpuinfo: no 'processor' line"));
  // Without core ids (many ARM kernels, some VMs) every logical CPU counts as a core.
  h.cpu_cores = cores.empty() ? h.cpu_threads : static_cast<int>(cores.size());
  for (std::string_view line : SplitLines(meminfo)) {
    if (!StartsWith(line, "MemTotal:")) continue;
    auto kb = ParseMeasure(line.substr(9), "/proc/meminfo: MemTotal", {"kB"});
    if (!kb) return Err(kb.error());
    if (*kb) h.memory_mib = std::llround(**kb / 1024.0);
  }
  if (h.memory_mib <= 0) return Err(InvalidArgumentError("/proc/meminfo: no MemTotal line"));
  return h;
}

Result<HostInfo> ReadHostInfo(const std::filesystem::path& state_dir) {
  auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  RS_ASSIGN_OR_RETURN(HostInfo h, ParseHostInfo(slurp("/proc/cpuinfo"), slurp("/proc/meminfo")));
  struct statvfs fs {};
  if (statvfs(state_dir.c_str(), &fs) != 0) {
    return Err(UnavailableError("statvfs " + state_dir.string() + ": " + std::strerror(errno)));
  }
  h.disk_total_mib = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize) / (1 << 20);
  h.disk_free_mib = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize) / (1 << 20);
  return h;
}

}  // namespace rigshift::agent
