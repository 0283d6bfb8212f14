#include "server/standby.h"

#include <nlohmann/json.hpp>

namespace rigshift {

net::HttpResponse StandbyResponse(const net::HttpRequest& request, const std::string& leader_url) {
  if (request.path == "/healthz") {
    net::HttpResponse r;
    r.status = 503;
    r.body = nlohmann::json{{"status", "standby"}, {"leader", leader_url}}.dump();
    r.headers.push_back({"Retry-After", "1"});
    return r;
  }
  if (leader_url.empty()) {
    net::HttpResponse r = net::ErrorResponse(
        503, "unavailable", "this controller is a standby and no leader serves yet (one is taking over): try again");
    r.headers.push_back({"Retry-After", "1"});
    return r;
  }
  net::HttpResponse r = net::ErrorResponse(307, "redirect", "this controller is a standby; the leader is " + leader_url);
  r.headers.push_back({"Location", leader_url + request.target});
  return r;
}

}  // namespace rigshift
