#include "net/http.h"

#include <future>

#include <nlohmann/json.hpp>

namespace rigshift::net {

HttpResponse Await(HttpResponse response) {
  if (!response.later) return response;
  std::promise<HttpResponse> answer;
  std::future<HttpResponse> got = answer.get_future();
  auto later = std::move(response.later);
  later([&answer](HttpResponse r) { answer.set_value(std::move(r)); });
  HttpResponse r = got.get();
  r.later = nullptr;
  return r;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FormDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    // Most keys need no decoding; compare raw first to skip an allocation per pair.
    bool match = key.find_first_of("%+") == std::string_view::npos ? key == name : FormDecode(key) == name;
    if (match) return FormDecode(value);
  }
  return std::nullopt;
}

std::vector<std::string> QueryNames(std::string_view query) {
  std::vector<std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    out.push_back(FormDecode(pair.substr(0, pair.find('='))));
  }
  return out;
}

}  // namespace rigshift::net
