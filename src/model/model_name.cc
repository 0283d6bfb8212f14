#include "model/model_name.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>
#include <vector>

namespace rigshift {
namespace {

std::vector<std::string> Tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '-' || c == '_' || c == '(' || c == ')' || c == '/' || c == ',') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A datacenter card sold in several variants, and the variant its bare name means.
struct Variant {
  std::string_view name;     // the key without memory and form factor: "A100", "H100 NVL"
  std::string_view memory;   // "40GB": a key names the memory only when it differs
  std::string_view form;     // "PCIE" or "SXM": a key names the form factor only when it differs
};

// The bare name is the variant the rental sources list under it beside their other variants:
// RunPod lists "H100" (the PCIe card) beside "H100-SXM", and "A100-80GB" (PCIe) beside
// "A100-80GB-SXM"; the clouds' bare "V100" (AWS p3, Lambda) is the 16 GB SXM2 board; the H200 is
// sold as SXM (its PCIe card is the H200 NVL). The bare "A100" is the 40 GB PCIe card (250 W),
// which the catalog has called "A100" since its first import (kylemcdonald's specs).
constexpr Variant kVariants[] = {
    {"A100", "40GB", "PCIE"},  {"H100", "80GB", "PCIE"},      {"H100 NVL", "94GB", "PCIE"},
    {"H200", "141GB", "SXM"}, {"H200 NVL", "141GB", "PCIE"}, {"V100", "16GB", "SXM"},
};

// Variants of one datacenter card come in many spellings: "A100 SXM4 80GB" (spec sheets),
// "A100-80GB-SXM" (RunPod), "A100-SXM4-80GB" and "H100 80GB HBM3" (nvidia-smi). They become the
// name, then the memory and then "SXM" or "PCIE" where these differ from the bare name's
// (kVariants): "A100 80GB SXM", "H100 SXM", "H200". SXM2/SXM4/SXM5 say the generation only and
// the memory type says nothing the name does not, except that nvidia-smi calls the H100 SXM5
// "H100 80GB HBM3" (the PCIe card is HBM2e, the NVL says NVL). Names not in kVariants, or with
// words this does not know ("A100 TENSOR CORE"), are left as they are.
void NormalizeDatacenterVariant(std::vector<std::string>& tokens) {
  static const std::regex kMemory("^[0-9]+GB$");
  static const std::regex kSxm("^SXM[0-9]?$");
  static const std::regex kMemoryType("^(HBM2E?|HBM3E?)$");
  if (tokens.empty()) return;
  std::string name = tokens[0];
  std::string memory, form;
  bool hbm3 = false;
  for (size_t i = 1; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    std::string glued = i + 1 < tokens.size() && tokens[i + 1] == "GB" ? t + "GB" : "";  // "80 GB"
    if (!glued.empty() && std::regex_match(glued, kMemory)) {
      memory = glued;
      ++i;
    } else if (std::regex_match(t, kMemory)) {
      memory = t;
    } else if (std::regex_match(t, kSxm)) {
      form = "SXM";
    } else if (t == "PCIE") {
      form = "PCIE";
    } else if (std::regex_match(t, kMemoryType)) {
      hbm3 = hbm3 || t == "HBM3";
    } else {
      name += " " + t;
    }
  }
  const Variant* v = nullptr;
  for (const Variant& c : kVariants) {
    if (c.name == name) v = &c;
  }
  if (v == nullptr) return;
  if (form.empty() && hbm3 && name == "H100") form = "SXM";
  std::vector<std::string> out = Tokens(name);
  if (!memory.empty() && memory != v->memory) out.push_back(memory);
  if (!form.empty() && form != v->form) out.push_back(form);
  tokens = std::move(out);
}

}  // namespace

std::string_view VendorName(Vendor v) {
  switch (v) {
    case Vendor::kNvidia: return "nvidia";
    case Vendor::kAmd: return "amd";
    case Vendor::kUnknown: break;
  }
  return "unknown";
}

std::string_view DeviceClassName(DeviceClass c) {
  switch (c) {
    case DeviceClass::kConsumer: return "consumer";
    case DeviceClass::kWorkstation: return "workstation";
    case DeviceClass::kDatacenter: return "datacenter";
    case DeviceClass::kMining: return "mining";
    case DeviceClass::kAsic: return "asic";
  }
  return "consumer";
}

bool ParseDeviceClass(std::string_view text, DeviceClass* out) {
  for (DeviceClass c : {DeviceClass::kConsumer, DeviceClass::kWorkstation, DeviceClass::kDatacenter,
                        DeviceClass::kMining, DeviceClass::kAsic}) {
    if (text == DeviceClassName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

bool IsAsicName(std::string_view name) {
  std::string up;
  for (char c : name) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (const char* vendor : {"INNOSILICON", "LINZHI", "ASIC", "ANTMINER", "BITMAIN", "JASMINER", "IPOLLO", "WHATSMINER"}) {
    if (up.find(vendor) != std::string::npos) return true;
  }
  return false;
}

std::string ModelKey(std::string_view name) {
  static const std::regex kSeriesGlued("^(RTX|GTX|GT|RX|CMP)([0-9]+[A-Z]*)$");
  static const std::regex kSuffixGlued("^([0-9]+)(TI|XT|XTX|SUPER|ADA)$");
  static const std::regex kRtxAGlued("^RTX(A[0-9]+)$");  // Vast's "RTXA6000"
  std::vector<std::string> in = Tokens(name);
  std::vector<std::string> out;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& t = in[i];
    if (t == "NVIDIA" || t == "NVDIA" || t == "AMD" || t == "GEFORCE" || t == "GPU" || t == "TESLA" ||
        t == "INSTINCT") {
      continue;
    }
    // ASIC miners: the maker's and brand's words say nothing the model does not ("Bitmain
    // Antminer S19 Pro", "Antminer S19 Pro" and a reseller's "S19 Pro" are one machine), and no
    // GPU name holds them. Canaan's brand is kept, since its models are bare numbers ("Avalon
    // 1246"); "AvalonMiner" is its other spelling. "Hydro" is spelled "Hyd" as often.
    if (t == "ANTMINER" || t == "BITMAIN" || t == "WHATSMINER" || t == "MICROBT" || t == "CANAAN" ||
        t == "EBANG" || t == "MINER") {
      continue;
    }
    if (t == "WHATS" && i + 1 < in.size() && in[i + 1] == "MINER") {  // "WHATS MINER M50"
      ++i;
      continue;
    }
    if (t == "AVALONMINER") {
      out.push_back("AVALON");
      continue;
    }
    if (t == "HYDRO") {
      out.push_back("HYD");
      continue;
    }
    if (t == "RADEON") {
      if (i + 1 < in.size() && in[i + 1] == "VII") out.push_back(t);  // "Radeon VII" has no other name
      continue;
    }
    if (t == "Q" && i + 1 < in.size() && in[i + 1] == "RTX") {  // Vast's "Q RTX 8000"
      out.push_back("QUADRO");
      continue;
    }
    std::smatch m;
    if (std::regex_match(t, m, kRtxAGlued)) {
      out.push_back("RTX");
      out.push_back(m[1]);
      continue;
    }
    if (std::regex_match(t, m, kSeriesGlued)) {
      out.push_back(m[1]);
      std::string rest = m[2];
      std::smatch m2;
      if (std::regex_match(rest, m2, kSuffixGlued)) {
        out.push_back(m2[1]);
        out.push_back(m2[2]);
      } else {
        out.push_back(rest);
      }
      continue;
    }
    if (std::regex_match(t, m, kSuffixGlued)) {
      out.push_back(m[1]);
      out.push_back(m[2]);
      continue;
    }
    out.push_back(t);
  }
  // One card, several names: "AMD VII" is the Radeon VII; "Radeon Vega 56" the RX Vega 56;
  // "CMP HX170" the CMP 170HX.
  if (out.size() == 1 && out[0] == "VII") out.insert(out.begin(), "RADEON");
  if (out.size() >= 2 && out[0] == "VEGA" && std::regex_match(out[1], std::regex("^[0-9]+$"))) out.insert(out.begin(), "RX");
  static const std::regex kCmpHxFirst("^HX([0-9]+)$");
  std::smatch hx;
  if (out.size() == 2 && out[0] == "CMP" && std::regex_match(out[1], hx, kCmpHxFirst)) out[1] = std::string(hx[1]) + "HX";
  // Lambda's bare "A6000": A2000..A6000 exist only as RTX A-series workstation cards.
  static const std::regex kBareRtxA("^A[2-6][05]00$");
  if (!out.empty() && std::regex_match(out[0], kBareRtxA)) out.insert(out.begin(), "RTX");
  // "GTX TITAN XP" and "TITAN XP" are one card.
  if (out.size() >= 2 && out[0] == "GTX" && out[1] == "TITAN") out.erase(out.begin());
  NormalizeDatacenterVariant(out);
  std::string key;
  for (const auto& t : out) key += (key.empty() ? "" : " ") + t;
  return key;
}

std::string DisplayName(std::string_view key) {
  std::istringstream in{std::string(key)};
  std::string t, out;
  while (in >> t) {
    bool letters = std::all_of(t.begin(), t.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    if (t == "TI") t = "Ti";
    else if (t == "XP") t = "Xp";
    else if (t == "PCIE") t = "PCIe";
    else if (letters && t.size() >= 4) {
      for (size_t i = 1; i < t.size(); ++i) t[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
    }
    out += (out.empty() ? "" : " ") + t;
  }
  return out;
}

Vendor VendorOf(std::string_view key) {
  for (const char* p : {"RTX", "GTX", "GT ", "TITAN", "CMP", "QUADRO", "P10", "A100", "A40", "A10", "A30", "H100",
                        "H200", "H800", "A800", "L4", "T4", "V100", "P100", "P40", "K80", "GV100", "B200"}) {
    if (StartsWith(key, p)) return Vendor::kNvidia;
  }
  for (const char* p : {"RX", "VEGA", "RADEON", "R9", "R7", "BC ", "MI"}) {
    if (StartsWith(key, p)) return Vendor::kAmd;
  }
  return Vendor::kUnknown;
}

DeviceClass ClassOf(std::string_view key) {
  static const std::regex kMining("^(CMP .*|P10[0-9] 100.*|BC [0-9]+.*)$");
  static const std::regex kDatacenter(
      "^(A100|A800|A40|A30|A10|A10G|A16|A2|H100|H200|H800|H20|B200|L4|L40|L40S|T4|V100|P100|P40|K80|MI[0-9]+[A-Z]?)( .*)?$");
  static const std::regex kWorkstation("^(RTX A[0-9]+|RTX PRO .*|RTX [0-9]+ ADA.*|QUADRO .*|GV100.*|VEGA FRONTIER.*|PRO .*)( .*)?$");
  std::string k(key);
  if (std::regex_match(k, kMining)) return DeviceClass::kMining;
  if (std::regex_match(k, kDatacenter)) return DeviceClass::kDatacenter;
  if (std::regex_match(k, kWorkstation)) return DeviceClass::kWorkstation;
  return DeviceClass::kConsumer;
}

}  // namespace rigshift
