#include "server/routes.h"

#include "common/status.h"

namespace rigshift {

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    segments.push_back(path.substr(i, j - i));
    i = j;
  }
  return segments;
}

std::string_view PathParams::Get(std::string_view name) const {
  for (const auto& [n, value] : values_) {
    if (n == name) return value;
  }
  RS_CHECK(false && "no such path parameter in the route's pattern");
  return {};
}

size_t RouteTable::Add(std::string_view method, std::string_view pattern) {
  RS_CHECK(pattern.starts_with("/"));
  Pattern* p = nullptr;
  for (Pattern& existing : patterns_) {
    if (existing.text == pattern) p = &existing;
  }
  if (p == nullptr) {
    Pattern fresh;
    fresh.text = std::string(pattern);
    for (std::string_view s : PathSegments(pattern)) {
      bool is_param = s.size() > 2 && s.front() == '{' && s.back() == '}';
      fresh.segments.push_back({std::string(is_param ? s.substr(1, s.size() - 2) : s), is_param});
    }
    patterns_.push_back(std::move(fresh));
    p = &patterns_.back();
  }
  for (const auto& [m, route] : p->methods) RS_CHECK(m != method);
  p->methods.emplace_back(std::string(method), routes_);
  p->allow += (p->allow.empty() ? "" : ", ") + std::string(method);
  return routes_++;
}

bool RouteTable::Matches(const Pattern& p, const std::vector<std::string_view>& segments) {
  if (p.segments.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!p.segments[i].is_param && p.segments[i].text != segments[i]) return false;
  }
  return true;
}

bool RouteTable::MoreLiteral(const Pattern& a, const Pattern& b) {
  for (size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
  }
  return false;
}

RouteTable::Found RouteTable::Find(std::string_view method, std::string_view path) const {
  std::vector<std::string_view> segments = PathSegments(path);
  const Pattern* best = nullptr;
  for (const Pattern& p : patterns_) {
    if (Matches(p, segments) && (best == nullptr || MoreLiteral(p, *best))) best = &p;
  }
  Found found;
  if (best == nullptr) return found;
  found.pattern = best->text;
  found.allow = best->allow;
  for (const auto& [m, route] : best->methods) {
    if (m == method) found.route = route;
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i].is_param) found.params.values_.emplace_back(best->segments[i].text, segments[i]);
  }
  return found;
}

}  // namespace rigshift
