// What a standby controller answers while another leads (docs/operations.md, "Two controllers"):
// - GET /healthz: 503 {"status":"standby","leader":URL}, so that a load balancer's health check
//   sends traffic to the leader only;
// - every other request: 307 to the same path and query on the leader's URL (a client that follows
//   redirects reaches the leader, method and body kept), or 503 unavailable when no leader has
//   announced a URL yet (it is still recovering): try again shortly.
#pragma once

#include <functional>
#include <string>

#include "net/http.h"

namespace rigshift {

// `leader_url` gives the leader's URL now ("" when unknown); called from any I/O thread.
net::HttpResponse StandbyResponse(const net::HttpRequest& request, const std::string& leader_url);

}  // namespace rigshift
