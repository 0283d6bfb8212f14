#include "agent/fake_devices.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "agent/text.h"
#include "common/hash.h"

namespace rigshift::agent {

namespace {

struct KnownModel {
  std::string_view key;   // normalized: lower case, no spaces/dashes, no "nvidia"/"geforce"
  std::string_view name;  // as nvidia-smi prints it
  int64_t memory_mib;
  int pcie_gen;
  int power_w;
};

// Memory as nvidia-smi reports it (a little under the marketing size); power is the default limit.
constexpr std::array<KnownModel, 16> kModels = {{
    {"h100", "NVIDIA H100 80GB HBM3", 81559, 5, 700},
    {"h200", "NVIDIA H200", 143771, 5, 700},
    {"a100", "NVIDIA A100-SXM4-80GB", 81920, 4, 400},
    {"l40s", "NVIDIA L40S", 46068, 4, 350},
    {"rtx4090", "NVIDIA GeForce RTX 4090", 24564, 4, 450},
    {"rtx4080", "NVIDIA GeForce RTX 4080", 16376, 4, 320},
    {"rtx3090", "NVIDIA GeForce RTX 3090", 24576, 4, 350},
    {"rtx3080", "NVIDIA GeForce RTX 3080", 10240, 4, 320},
    {"rtx3070", "NVIDIA GeForce RTX 3070", 8192, 4, 220},
    {"rtx3060", "NVIDIA GeForce RTX 3060", 12288, 4, 170},
    {"rtxa5000", "NVIDIA RTX A5000", 24564, 4, 230},
    {"v100", "Tesla V100S-PCIE-32GB", 32510, 3, 250},
    {"gtx1080ti", "NVIDIA GeForce GTX 1080 Ti", 11264, 3, 250},
    {"gtx1070ti", "NVIDIA GeForce GTX 1070 Ti", 8192, 3, 180},
    {"rtx2080ti", "NVIDIA GeForce RTX 2080 Ti", 11264, 3, 250},
    {"a5000", "NVIDIA RTX A5000", 24564, 4, 230},
}};

std::string NormalizeModel(std::string_view model) {
  std::string out;
  for (char c : ToLower(model)) {
    if (c != ' ' && c != '-' && c != '_') out.push_back(c);
  }
  for (std::string_view prefix : {"nvidia", "geforce"}) {
    if (StartsWith(out, prefix)) out.erase(0, prefix.size());
  }
  return out;
}

const KnownModel* FindModel(std::string_view model) {
  std::string key = NormalizeModel(model);
  for (const KnownModel& m : kModels) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

std::string KnownModelList() {
  return "H100, H200, A100, L40S, RTX 4090, RTX 4080, RTX 3090, RTX 3080, RTX 3070, RTX 3060, RTX A5000, V100, "
         "GTX 1080 Ti, GTX 1070 Ti, RTX 2080 Ti";
}

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from the node and the GPU's index.
std::string FakeUuid(std::string_view node, int index) {
  uint64_t a = Fnv1a(Fnv1a(kFnvOffset, node), static_cast<uint64_t>(index));
  uint64_t b = Fnv1a(a, std::string_view("fake"));
  char buf[64];
  using ull = unsigned long long;
  std::snprintf(buf, sizeof buf, "GPU-%08llx-%04llx-%04llx-%04llx-%012llx", ull{a >> 32}, ull{(a >> 16) & 0xffff},
                ull{a & 0xffff}, ull{b >> 48}, ull{b & 0xffffffffffffULL});
  return buf;
}

struct Group {
  int count = 0;
  std::string model;
  int nvlink_groups = 0, nvlink_size = 0, nvlinks = 12, numa = 1;
  std::optional<int> pcie_gen, pcie_width;
  std::optional<int64_t> memory_mib, power_w;
};

Result<int> PositiveInt(std::string_view text, std::string_view what) {
  std::optional<int64_t> v = ToInt(text);
  if (!v || *v <= 0 || *v > 100000) {
    return Err(InvalidArgumentError(std::string(what) + ": '" + std::string(text) + "' is not a positive whole number"));
  }
  return static_cast<int>(*v);
}

Status ParsePcie(std::string_view value, Group& g) {
  std::string v = ToLower(value);
  std::string_view rest = v;
  if (StartsWith(rest, "gen")) {
    size_t x = rest.find('x');
    RS_ASSIGN_OR_RETURN(int gen, PositiveInt(rest.substr(3, x == std::string_view::npos ? x : x - 3), "pcie gen"));
    if (gen > 6) return InvalidArgumentError("pcie=" + v + ": generation must be 1 to 6");
    g.pcie_gen = gen;
    rest = x == std::string_view::npos ? std::string_view() : rest.substr(x);
  }
  if (!rest.empty()) {
    if (rest.front() != 'x') return InvalidArgumentError("pcie=" + v + ": expected x<width>, gen<N> or gen<N>x<width>");
    RS_ASSIGN_OR_RETURN(int width, PositiveInt(rest.substr(1), "pcie width"));
    if (width != 1 && width != 2 && width != 4 && width != 8 && width != 16) {
      return InvalidArgumentError("pcie=" + v + ": width must be 1, 2, 4, 8 or 16");
    }
    g.pcie_width = width;
  }
  return OkStatus();
}

Status ParseMemory(std::string_view value, Group& g) {
  std::string v = ToLower(value);
  int64_t scale = 1024;  // GiB by default
  std::string_view number = v;
  for (auto [suffix, s] : {std::pair{"gib", 1024}, std::pair{"gb", 1024}, std::pair{"mib", 1}, std::pair{"mb", 1}}) {
    std::string_view suf(suffix);
    if (number.size() > suf.size() && number.substr(number.size() - suf.size()) == suf) {
      number.remove_suffix(suf.size());
      scale = s;
      break;
    }
  }
  RS_ASSIGN_OR_RETURN(int n, PositiveInt(number, "mem"));
  g.memory_mib = static_cast<int64_t>(n) * scale;
  return OkStatus();
}

Status ParseOption(std::string_view token, Group& g) {
  size_t eq = token.find('=');
  std::string_view key = token.substr(0, eq), value = token.substr(eq + 1);
  if (key == "nvlink") {
    size_t x = value.find('x');
    if (x == std::string_view::npos) return InvalidArgumentError("nvlink=" + std::string(value) + ": expected GROUPSxSIZE, e.g. 2x4");
    RS_ASSIGN_OR_RETURN(g.nvlink_groups, PositiveInt(value.substr(0, x), "nvlink groups"));
    RS_ASSIGN_OR_RETURN(g.nvlink_size, PositiveInt(value.substr(x + 1), "nvlink group size"));
    return OkStatus();
  }
  if (key == "nvlinks") {
    RS_ASSIGN_OR_RETURN(g.nvlinks, PositiveInt(value, "nvlinks"));
    return OkStatus();
  }
  if (key == "pcie") return ParsePcie(value, g);
  if (key == "mem" || key == "vram") return ParseMemory(value, g);
  if (key == "power") {
    RS_ASSIGN_OR_RETURN(int w, PositiveInt(value, "power"));
    g.power_w = w;
    return OkStatus();
  }
  if (key == "numa") {
    RS_ASSIGN_OR_RETURN(g.numa, PositiveInt(value, "numa"));
    return OkStatus();
  }
  return InvalidArgumentError("unknown option '" + std::string(key) + "' (nvlink, nvlinks, pcie, mem, power, numa)");
}

Result<Group> ParseGroup(std::string_view text) {
  std::vector<std::string_view> words = SplitWhitespace(text);
  if (words.empty()) return Err(InvalidArgumentError("empty group"));
  size_t x = words[0].find_first_of("xX");
  if (x == std::string_view::npos) return Err(InvalidArgumentError("expected COUNTxMODEL, e.g. 8xH100"));
  Group g;
  RS_ASSIGN_OR_RETURN(g.count, PositiveInt(words[0].substr(0, x), "count"));
  std::string model(words[0].substr(x + 1));
  size_t i = 1;
  for (; i < words.size() && words[i].find('=') == std::string_view::npos; ++i) {
    model += (model.empty() ? "" : " ") + std::string(words[i]);
  }
  if (model.empty()) return Err(InvalidArgumentError("no model after the count"));
  g.model = model;
  for (; i < words.size(); ++i) {
    if (words[i].find('=') == std::string_view::npos) {
      return Err(InvalidArgumentError("'" + std::string(words[i]) + "' after the options: the model goes before them"));
    }
    RS_RETURN_IF_ERROR(ParseOption(words[i], g));
  }
  if (g.nvlink_groups > 0 && g.nvlink_groups * g.nvlink_size != g.count) {
    return Err(InvalidArgumentError("nvlink=" + std::to_string(g.nvlink_groups) + "x" + std::to_string(g.nvlink_size) +
                                    " covers " + std::to_string(g.nvlink_groups * g.nvlink_size) + " GPUs, not " +
                                    std::to_string(g.count)));
  }
  if (g.numa > g.count) return Err(InvalidArgumentError("numa=" + std::to_string(g.numa) + " is more than the GPUs"));
  return g;
}

// Appends the group's GPUs; `first` is the index of its first GPU.
Status AddGroup(const Group& g, int first, std::string_view node, Discovery& d) {
  const KnownModel* known = FindModel(g.model);
  if (!known && !g.memory_mib) {
    return InvalidArgumentError("model '" + g.model + "' is not in the table (" + KnownModelList() +
                                "): give its memory, e.g. mem=24GiB");
  }
  for (int i = 0; i < g.count; ++i) {
    GpuInfo gpu;
    gpu.index = first + i;
    gpu.name = known ? std::string(known->name) : g.model;
    gpu.uuid = FakeUuid(node, gpu.index);
    gpu.memory_mib = g.memory_mib ? *g.memory_mib : known->memory_mib;
    gpu.pcie_gen = g.pcie_gen ? *g.pcie_gen : (known ? known->pcie_gen : 4);
    gpu.pcie_max_gen = std::max(*gpu.pcie_gen, known ? known->pcie_gen : 4);
    gpu.pcie_width = g.pcie_width.value_or(16);
    gpu.pcie_max_width = 16;
    if (g.power_w || known) gpu.power_limit_mw = (g.power_w ? *g.power_w : known->power_w) * int64_t{1000};
    d.gpus.push_back(std::move(gpu));
  }
  return OkStatus();
}

// Within a group: NVLink inside an nvlink group, PHB on one NUMA node, SYS across nodes.
void LinkGroup(const Group& g, int first, Links& links) {
  auto numa_of = [&](int i) { return i * g.numa / g.count; };
  for (int i = 0; i < g.count; ++i) {
    for (int j = i + 1; j < g.count; ++j) {
      Link link{numa_of(i) == numa_of(j) ? LinkKind::kPhb : LinkKind::kSys, 0};
      if (g.nvlink_size > 0 && i / g.nvlink_size == j / g.nvlink_size) link = Link{LinkKind::kNvLink, g.nvlinks};
      links.Set(first + i, first + j, link);
    }
  }
}

}  // namespace

Result<Discovery> ParseFakeDevices(std::string_view spec, std::string_view node) {
  std::vector<Group> groups;
  std::vector<std::string_view> parts = Split(spec, ';');
  for (size_t i = 0; i < parts.size(); ++i) {
    auto g = ParseGroup(parts[i]);
    if (!g) {
      return Err(InvalidArgumentError("fake devices: group " + std::to_string(i + 1) + " '" +
                                      std::string(Trim(parts[i])) + "': " + g.error().message()));
    }
    groups.push_back(std::move(*g));
  }
  Discovery d;
  d.source = "fake";
  std::vector<int> firsts;
  for (size_t i = 0; i < groups.size(); ++i) {
    firsts.push_back(static_cast<int>(d.gpus.size()));
    Status s = AddGroup(groups[i], firsts.back(), node, d);
    if (!s.ok()) {
      return Err(InvalidArgumentError("fake devices: group " + std::to_string(i + 1) + " '" +
                                      std::string(Trim(parts[i])) + "': " + s.message()));
    }
  }
  Links links(static_cast<int>(d.gpus.size()), Link{LinkKind::kSys, 0});
  for (size_t i = 0; i < groups.size(); ++i) LinkGroup(groups[i], firsts[i], links);
  d.links = std::move(links);
  return d;
}

namespace {

template <typename T>
Result<std::optional<T>> OptionalNumber(const nlohmann::json& gpu, const char* key, const std::string& where) {
  auto it = gpu.find(key);
  if (it == gpu.end() || it->is_null()) return std::optional<T>();
  if (!it->is_number()) return Err(InvalidArgumentError(where + key + ": " + it->dump() + " is not a number"));
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) return Err(InvalidArgumentError(where + key + ": " + it->dump() + " is not a whole number"));
  }
  return std::optional<T>(it->get<T>());
}

std::optional<int64_t> WattsToMw(const std::optional<double>& w) {
  if (!w) return std::nullopt;
  return std::llround(*w * 1000.0);
}

Result<GpuInfo> GpuFromJson(const nlohmann::json& j, int position, std::string_view node, const std::string& file) {
  std::string where = file + ": gpus[" + std::to_string(position) + "].";
  if (!j.is_object()) return Err(InvalidArgumentError(where.substr(0, where.size() - 1) + " is not an object"));
  static const std::set<std::string> kKeys = {
      "index", "name", "uuid", "pci_bus_id", "memory_mib", "pcie_gen", "pcie_max_gen", "pcie_width", "pcie_max_width",
      "power_limit_w", "power_min_limit_w", "power_max_limit_w", "power_draw_w", "temperature_c", "utilization_pct",
      "memory_used_mib", "ecc_corrected", "ecc_uncorrected"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.contains(key)) return Err(InvalidArgumentError(where + key + ": unknown key"));
  }
  GpuInfo gpu;
  if (!j.contains("name") || !j["name"].is_string()) return Err(InvalidArgumentError(where + "name: missing or not a string"));
  gpu.name = j["name"].get<std::string>();
  RS_ASSIGN_OR_RETURN(auto index, OptionalNumber<int>(j, "index", where));
  RS_ASSIGN_OR_RETURN(gpu.memory_mib, OptionalNumber<int64_t>(j, "memory_mib", where));
  if (!gpu.memory_mib) return Err(InvalidArgumentError(where + "memory_mib: missing"));
  gpu.index = index.value_or(position);
  gpu.uuid = j.contains("uuid") && j["uuid"].is_string() ? j["uuid"].get<std::string>() : FakeUuid(node, gpu.index);
  if (j.contains("pci_bus_id") && j["pci_bus_id"].is_string()) gpu.pci_bus_id = j["pci_bus_id"].get<std::string>();
  RS_ASSIGN_OR_RETURN(gpu.pcie_gen, OptionalNumber<int>(j, "pcie_gen", where));
  RS_ASSIGN_OR_RETURN(gpu.pcie_max_gen, OptionalNumber<int>(j, "pcie_max_gen", where));
  RS_ASSIGN_OR_RETURN(gpu.pcie_width, OptionalNumber<int>(j, "pcie_width", where));
  RS_ASSIGN_OR_RETURN(gpu.pcie_max_width, OptionalNumber<int>(j, "pcie_max_width", where));
  RS_ASSIGN_OR_RETURN(auto limit, OptionalNumber<double>(j, "power_limit_w", where));
  RS_ASSIGN_OR_RETURN(auto min, OptionalNumber<double>(j, "power_min_limit_w", where));
  RS_ASSIGN_OR_RETURN(auto max, OptionalNumber<double>(j, "power_max_limit_w", where));
  RS_ASSIGN_OR_RETURN(auto draw, OptionalNumber<double>(j, "power_draw_w", where));
  gpu.power_limit_mw = WattsToMw(limit);
  gpu.power_min_limit_mw = WattsToMw(min);
  gpu.power_max_limit_mw = WattsToMw(max);
  gpu.power_draw_mw = WattsToMw(draw);
  RS_ASSIGN_OR_RETURN(gpu.temperature_c, OptionalNumber<int>(j, "temperature_c", where));
  RS_ASSIGN_OR_RETURN(gpu.utilization_pct, OptionalNumber<int>(j, "utilization_pct", where));
  RS_ASSIGN_OR_RETURN(gpu.memory_used_mib, OptionalNumber<int64_t>(j, "memory_used_mib", where));
  RS_ASSIGN_OR_RETURN(gpu.ecc_corrected, OptionalNumber<int64_t>(j, "ecc_corrected", where));
  RS_ASSIGN_OR_RETURN(gpu.ecc_uncorrected, OptionalNumber<int64_t>(j, "ecc_uncorrected", where));
  return gpu;
}

Result<Links> LinksFromJson(const nlohmann::json& j, int gpus, const std::string& file) {
  Links links(gpus, Link{LinkKind::kSys, 0});
  if (!j.is_array()) return Err(InvalidArgumentError(file + ": links is not an array"));
  for (size_t i = 0; i < j.size(); ++i) {
    std::string where = file + ": links[" + std::to_string(i) + "]";
    const nlohmann::json& l = j[i];
    if (!l.is_object() || !l.contains("a") || !l.contains("b") || !l.contains("link") ||
        !l["a"].is_number_integer() || !l["b"].is_number_integer() || !l["link"].is_string()) {
      return Err(InvalidArgumentError(where + ": expected {\"a\": GPU, \"b\": GPU, \"link\": \"NV12\"}"));
    }
    int a = l["a"].get<int>(), b = l["b"].get<int>();
    if (a < 0 || b < 0 || a >= gpus || b >= gpus || a == b) {
      return Err(InvalidArgumentError(where + ": GPUs " + std::to_string(a) + " and " + std::to_string(b) +
                                      " are not two of the " + std::to_string(gpus) + " GPUs"));
    }
    auto link = ParseLink(l["link"].get<std::string>());
    if (!link) return Err(InvalidArgumentError(where + ".link: " + link.error().message()));
    links.Set(a, b, *link);
  }
  return links;
}

}  // namespace

Result<Discovery> ParseDeviceFile(std::string_view json_text, std::string_view name, std::string_view node) {
  std::string file(name);
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err(InvalidArgumentError(file + ": not valid JSON"));
  if (!j.is_object()) return Err(InvalidArgumentError(file + ": expected an object with \"spec\" or \"gpus\""));
  if (j.contains("spec")) {
    if (!j["spec"].is_string()) return Err(InvalidArgumentError(file + ": spec is not a string"));
    auto d = ParseFakeDevices(j["spec"].get<std::string>(), node);
    if (!d) return Err(d.error().WithContext(file));
    return d;
  }
  if (!j.contains("gpus") || !j["gpus"].is_array() || j["gpus"].empty()) {
    return Err(InvalidArgumentError(file + ": gpus: missing or empty (or give \"spec\")"));
  }
  Discovery d;
  d.source = "fake";
  for (size_t i = 0; i < j["gpus"].size(); ++i) {
    RS_ASSIGN_OR_RETURN(GpuInfo gpu, GpuFromJson(j["gpus"][i], static_cast<int>(i), node, file));
    if (gpu.index != static_cast<int>(i)) {
      return Err(InvalidArgumentError(file + ": gpus[" + std::to_string(i) + "].index: " + std::to_string(gpu.index) +
                                      ", expected " + std::to_string(i) + " (GPUs are listed in index order)"));
    }
    d.gpus.push_back(std::move(gpu));
  }
  if (j.contains("links")) {
    RS_ASSIGN_OR_RETURN(d.links, LinksFromJson(j["links"], static_cast<int>(d.gpus.size()), file));
  }
  return d;
}

}  // namespace rigshift::agent
