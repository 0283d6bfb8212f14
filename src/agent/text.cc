#include "agent/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace rigshift::agent {

std::string_view Trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> SplitWhitespace(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::optional<int64_t> ToInt(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> ToDouble(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool IsNotAvailable(std::string_view s) {
  std::string v = ToLower(Trim(s));
  if (v.size() >= 2 && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
  return v.empty() || v == "n/a" || v == "na" || v == "not supported" || v == "unknown error" ||
         v == "not available" || v == "requested functionality has been deprecated" || v == "insufficient permissions";
}

Result<std::optional<double>> ParseMeasure(std::string_view text, std::string_view field,
                                           const std::vector<std::string_view>& units) {
  if (IsNotAvailable(text)) return std::optional<double>();
  std::string_view t = Trim(text);
  // The number is the longest prefix that looks like one; what follows must be a known unit.
  size_t end = 0;
  while (end < t.size() && (std::isdigit(static_cast<unsigned char>(t[end])) || t[end] == '.' || t[end] == '-' ||
                            t[end] == '+')) {
    ++end;
  }
  std::optional<double> number = ToDouble(t.substr(0, end));
  std::string_view unit = Trim(t.substr(end));
  bool unit_ok = unit.empty() || std::find(units.begin(), units.end(), unit) != units.end();
  if (!number || !unit_ok) {
    std::string want = units.empty() ? "a number" : "a number of " + std::string(units.front());
    return Err(InvalidArgumentError(std::string(field) + ": '" + std::string(t) + "' is not " + want));
  }
  return std::optional<double>(*number);
}

}  // namespace rigshift::agent
