// RouteTable: finds the route of an HTTP request by method and path pattern ("/v1/leases/{id}").
//
// A pattern is '/'-separated segments, each literal ("leases") or a template ("{id}") that
// matches any one segment and binds it by name. Paths are split the same way with empty segments
// skipped, so "//v1/leases/" is "/v1/leases". Where two patterns match one path, the one with a
// literal segment where the other has a template, first from the left, wins: "/v1/agents/register"
// before "/v1/agents/{node}", whatever the order they were added in.
//
// The table knows nothing of handlers: Find() answers the index of the route added for the
// method and path, so the caller keeps its routes (with their handlers and roles) in a vector in
// the same order.
//
// Not thread-safe while routes are added; Find() is const and may run on many threads once the
// last Add() has returned. PathParams views point into the table and the path: both outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rigshift {

// A path's non-empty segments, as views into `path`.
std::vector<std::string_view> PathSegments(std::string_view path);

// The values a matched path gives its pattern's {name} segments.
class PathParams {
 public:
  // The value bound to {name}. CHECK-fails when the pattern has no such segment: a handler asked
  // for a parameter its route does not have.
  std::string_view Get(std::string_view name) const;

 private:
  friend class RouteTable;
  std::vector<std::pair<std::string_view, std::string_view>> values_;  // name, value
};

class RouteTable {
 public:
  // Adds the route of `method` on `pattern` (which must start with '/') and returns its index,
  // counted from 0 in the order added. The methods of one pattern are listed in the order added
  // in Found::allow. CHECK-fails on a method added twice to one pattern.
  size_t Add(std::string_view method, std::string_view pattern);

  struct Found {
    // The route added for this method on the matched pattern; nullopt when there is none (no
    // pattern matched: 404, or the method is not one of the pattern's: 405).
    std::optional<size_t> route;
    // The matched pattern as added ("/v1/leases/{id}"); empty when none matched.
    std::string_view pattern;
    // The pattern's methods, "GET, POST, DELETE" (the Allow header of a 405).
    std::string_view allow;
    PathParams params;
  };
  // Methods are compared exactly ("get" and "E" are not "GET").
  Found Find(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter's name without braces
    bool is_param = false;
  };
  struct Pattern {
    std::string text;
    std::vector<Segment> segments;
    std::vector<std::pair<std::string, size_t>> methods;  // method, route index
    std::string allow;
  };
  static bool Matches(const Pattern& p, const std::vector<std::string_view>& segments);
  // Whether `a` is preferred to `b` where both match one path.
  static bool MoreLiteral(const Pattern& a, const Pattern& b);

  std::vector<Pattern> patterns_;
  size_t routes_ = 0;
};

}  // namespace rigshift
