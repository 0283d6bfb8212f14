#include "store/store_codec.h"

#include <charconv>

#include "common/units.h"

namespace rigshift {

std::string EncodeModels(const std::vector<std::string>& models) {
  std::string out;
  for (const auto& m : models) {
    if (!out.empty()) out += '\n';
    out += m;
  }
  return out;
}

std::vector<std::string> DecodeModels(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    out.emplace_back(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

std::string EncodeDevices(const std::vector<std::pair<int, int>>& devices) {
  std::string out;
  for (const auto& [node, slot] : devices) {
    if (!out.empty()) out += ' ';
    out += std::to_string(node) + ":" + std::to_string(slot);
  }
  return out;
}

Result<std::vector<std::pair<int, int>>> DecodeDevices(std::string_view text) {
  std::vector<std::pair<int, int>> out;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p != end) {
    int node = 0, slot = 0;
    auto r1 = std::from_chars(p, end, node);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ':') break;
    auto r2 = std::from_chars(r1.ptr + 1, end, slot);
    if (r2.ec != std::errc()) break;
    out.emplace_back(node, slot);
    p = r2.ptr;
    if (p == end) return out;
    if (*p != ' ' || p + 1 == end) break;
    ++p;
  }
  if (p == end) return out;  // only for empty text
  return Err(DataLossError("store: lease devices '" + std::string(text) + "' are not 'node:slot ...'"));
}

std::string EncodeInt128(__int128 v) { return FormatInt128(v); }

Result<__int128> DecodeInt128(std::string_view text) {
  auto v = ParseScaled128(text, 0);
  if (!v || text.empty() || text.find_first_not_of("-0123456789") != std::string_view::npos) {
    return Err(DataLossError("store: '" + std::string(text) + "' is not a whole number"));
  }
  return *v;
}

Result<Date> DecodeDate(std::string_view text) {
  auto d = ParseDate(text);
  if (!d || d->ToString() != text) return Err(DataLossError("store: '" + std::string(text) + "' is not a date (YYYY-MM-DD)"));
  return *d;
}

}  // namespace rigshift
