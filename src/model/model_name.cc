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
  }
  return "consumer";
}

bool ParseDeviceClass(std::string_view text, DeviceClass* out) {
  for (DeviceClass c : {DeviceClass::kConsumer, DeviceClass::kWorkstation, DeviceClass::kDatacenter,
                        DeviceClass::kMining}) {
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
    if (t == "NVIDIA" || t == "NVDIA" || t == "AMD" || t == "GEFORCE" || t == "GPU" || t == "TESLA") continue;
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
      "^(A100|A800|A40|A30|A10|A16|A2|H100|H200|H800|H20|B200|L4|L40|L40S|T4|V100|P100|P40|K80|MI[0-9]+)( .*)?$");
  static const std::regex kWorkstation("^(RTX A[0-9]+|RTX PRO .*|RTX [0-9]+ ADA.*|QUADRO .*|GV100.*|VEGA FRONTIER.*|PRO .*)( .*)?$");
  std::string k(key);
  if (std::regex_match(k, kMining)) return DeviceClass::kMining;
  if (std::regex_match(k, kDatacenter)) return DeviceClass::kDatacenter;
  if (std::regex_match(k, kWorkstation)) return DeviceClass::kWorkstation;
  return DeviceClass::kConsumer;
}

}  // namespace rigshift
