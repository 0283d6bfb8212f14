// An API request as the HTTP server would build it, for tests that call Api::Handle in-process.
#pragma once

#include <string>

#include "net/http.h"

namespace rigshift::testing {

// `target` is path and query; `token` empty sends no Authorization header; a body is sent as JSON.
inline net::HttpRequest ApiRequest(const std::string& method, const std::string& target, const std::string& token,
                                   const std::string& body = "") {
  net::HttpRequest r;
  r.method = method;
  r.target = target;
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  if (!token.empty()) r.authorization = "Bearer " + token;
  if (!body.empty()) r.content_type = "application/json";
  r.body = body;
  return r;
}

}  // namespace rigshift::testing
