// The route table on its own: patterns, parameters, 404 and 405 (with the Allow list), and the
// literal-before-template rule, as named table cases.
#include "server/routes.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace rigshift {
namespace {

TEST(PathSegments, SkipEmptySegments) {
  EXPECT_EQ(PathSegments("/v1/leases/7"), (std::vector<std::string_view>{"v1", "leases", "7"}));
  EXPECT_EQ(PathSegments("//v1//leases/"), (std::vector<std::string_view>{"v1", "leases"}));
  EXPECT_TRUE(PathSegments("/").empty());
  EXPECT_TRUE(PathSegments("").empty());
}

class RouteTableTest : public ::testing::Test {
 protected:
  RouteTableTest() {
    for (auto [method, pattern] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/v1/leases"},                   // 0
             {"POST", "/v1/leases"},                  // 1
             {"GET", "/v1/leases/{id}"},              // 2
             {"DELETE", "/v1/leases/{id}"},           // 3
             {"GET", "/v1/agents/{node}/desired"},    // 4
             {"POST", "/v1/agents/{node}"},           // 5
             {"POST", "/v1/agents/register"},         // 6: added after the template it beats
         }) {
      table_.Add(method, pattern);
    }
  }
  RouteTable table_;
};

TEST_F(RouteTableTest, FindsTheRouteOfAMethodAndPath) {
  struct Case {
    std::string method, path;
    std::optional<size_t> route;
    std::string pattern, allow;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/leases", 0, "/v1/leases", "GET, POST"},
      {"POST", "/v1/leases/", 1, "/v1/leases", "GET, POST"},
      {"DELETE", "/v1/leases/12", 3, "/v1/leases/{id}", "GET, DELETE"},
      {"POST", "/v1/agents/register", 6, "/v1/agents/register", "POST"},
      {"POST", "/v1/agents/n1", 5, "/v1/agents/{node}", "POST"},
      {"GET", "/v1/agents/register/desired", 4, "/v1/agents/{node}/desired", "GET"},
      // 405: the path is known, the method is not one of its own, exactly.
      {"PUT", "/v1/leases", std::nullopt, "/v1/leases", "GET, POST"},
      {"get", "/v1/leases", std::nullopt, "/v1/leases", "GET, POST"},
      {"E", "/v1/leases/1", std::nullopt, "/v1/leases/{id}", "GET, DELETE"},
      {"GET", "/v1/agents/register", std::nullopt, "/v1/agents/register", "POST"},
      // 404: no pattern has this shape.
      {"GET", "/v1/leases/1/x", std::nullopt, "", ""},
      {"GET", "/v1", std::nullopt, "", ""},
      {"GET", "/", std::nullopt, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    RouteTable::Found found = table_.Find(c.method, c.path);
    EXPECT_EQ(found.route, c.route);
    EXPECT_EQ(found.pattern, c.pattern);
    EXPECT_EQ(found.allow, c.allow);
  }
}

TEST_F(RouteTableTest, TemplateSegmentsBindTheirValues) {
  RouteTable::Found lease = table_.Find("GET", "/v1/leases/42");
  EXPECT_EQ(lease.params.Get("id"), "42");
  RouteTable::Found desired = table_.Find("GET", "/v1/agents/gpu-3090-1/desired");
  EXPECT_EQ(desired.params.Get("node"), "gpu-3090-1");
}

TEST_F(RouteTableTest, RoutesAreNumberedInTheOrderAdded) {
  EXPECT_EQ(table_.Add("GET", "/v1/offers"), 7u);
  EXPECT_EQ(table_.Add("DELETE", "/v1/leases"), 8u);
  EXPECT_EQ(table_.Find("PATCH", "/v1/leases").allow, "GET, POST, DELETE");
}

}  // namespace
}  // namespace rigshift
