// OpenApiSpec: checks real HTTP requests and responses against api/openapi.yaml, for the tests.
//
// The end-to-end test sends requests to the real server and passes every answer to Check(); a
// field the server adds without documenting it, a wrong type, an error code that does not match
// its HTTP status, or a status the file does not list, each becomes one readable problem:
//   "GET /v1/leases/{id} 200: $.devices[0].slot: expected integer, got string"
//
// The file can never promise more than is checked: Load() refuses any schema keyword the
// checker does not implement (and any other key it does not understand), so a `minItems` or a
// `format: uuid` written in the spec fails at load instead of being silently ignored.
//
// Schema keywords checked (OpenAPI 3.0 semantics): $ref (#/components/schemas/NAME), type
// (object, array, string, integer, number, boolean; an integer is a JSON number written without
// fraction or exponent), nullable, required, properties, additionalProperties (false or a
// schema), items, enum, minimum, maximum, exclusiveMinimum and exclusiveMaximum (booleans, 3.0
// style), minLength and maxLength (in code points), pattern (ECMAScript, unanchored as JSON
// Schema says), format (date-time: 'YYYY-MM-DDTHH:MM:SSZ'; date: 'YYYY-MM-DD'), oneOf. description
// and title are accepted as annotations. Responses and parameters may be $refs into components.
//
// Immutable after Load: const member functions may be called from several threads at once.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rigshift::testing {

class OpenApiSpec {
 public:
  // Reads and checks the file. Throws std::runtime_error naming the file and listing every
  // problem found (YAML syntax with line and column, unknown keywords, dangling $refs, ...).
  static OpenApiSpec Load(const std::string& path);
  // The same from YAML text; `source` names it in error messages.
  static OpenApiSpec Parse(std::string_view yaml, std::string_view source = "<string>");

  // Checks one real response. `path` is what was requested (a query string is ignored) and is
  // matched to a path template (/v1/leases/17 -> /v1/leases/{id}; a literal segment wins over a
  // template one). The status is looked up exactly, then as a range ("4XX"), then as "default".
  // `content_type` must be one the response documents (parameters such as charset are ignored);
  // a JSON body is parsed and validated against its schema, any other body (text/plain) is not
  // read. Returns the problems, empty when the response conforms; each starts with
  // "METHOD TEMPLATE STATUS: " (or "METHOD PATH: " when no template or method matches).
  std::vector<std::string> Check(std::string_view method, std::string_view path, int status,
                                 std::string_view content_type, std::string_view body) const;

  // Validates a JSON request body against the operation's requestBody schema. Problems start with
  // "METHOD TEMPLATE request: ". An empty body is a problem only when the body is required.
  std::vector<std::string> CheckRequest(std::string_view method, std::string_view path,
                                        std::string_view body) const;

  // Validates a JSON body against components/schemas/`schema_name`, for answers no operation
  // documents (the 404 and 405 of routes that do not exist conform to "Error").
  std::vector<std::string> CheckSchema(std::string_view schema_name, std::string_view body) const;

  // Every (METHOD, path template) in the file, sorted by template then method: ("GET",
  // "/v1/leases/{id}").
  std::vector<std::pair<std::string, std::string>> Operations() const;

 private:
  OpenApiSpec() = default;

  // The path template `path` matches (query string ignored), or "" when none does.
  std::string MatchPath(std::string_view path) const;
  // A $ref into components (or the node itself when it is not a $ref).
  const nlohmann::json& Deref(const nlohmann::json& node) const;
  void ValidateBody(const nlohmann::json& schema, std::string_view body, const std::string& label,
                    std::vector<std::string>* problems) const;

  nlohmann::json doc_;                          // the file, as JSON (YAML 1.2 core schema scalars)
  std::map<std::string, std::regex> patterns_;  // every `pattern` of the file, compiled once
};

}  // namespace rigshift::testing
