#include "openapi_check.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace rigshift::testing {
namespace {

using nlohmann::json;

constexpr std::string_view kHttpMethods[] = {"get",     "put",  "post",  "delete",
                                             "options", "head", "patch", "trace"};
constexpr std::string_view kSchemaPrefix = "#/components/schemas/";
constexpr std::string_view kResponsePrefix = "#/components/responses/";
constexpr std::string_view kParameterPrefix = "#/components/parameters/";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsMethod(std::string_view key) {
  return std::find(std::begin(kHttpMethods), std::end(kHttpMethods), key) != std::end(kHttpMethods);
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// `where` extended by an object key: a.b, or a["/v1/leases"] when the key is not a plain name.
std::string Child(const std::string& where, std::string_view key) {
  bool plain = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
  for (char c : key) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$');
  if (plain) return where.empty() ? std::string(key) : where + "." + std::string(key);
  return where + "[" + json(std::string(key)).dump() + "]";
}

std::string Index(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

// ----------------------------------------------------------------------------------------------
// YAML -> JSON, resolving plain scalars by the YAML 1.2 core schema (so `no` stays a string and a
// quoted '200' stays a string).

bool IsYamlInt(const std::string& s) {
  static const std::regex re("[-+]?[0-9]+");
  return std::regex_match(s, re);
}

bool IsYamlFloat(const std::string& s) {
  static const std::regex re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  return std::regex_match(s, re);
}

json ToJson(const YAML::Node& node, const std::string& where, std::vector<std::string>* errors) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;
      if (tag != "?" && !tag.empty()) {
        errors->push_back(where + ": unsupported YAML tag '" + tag + "'");
        return s;
      }
      if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (IsYamlInt(s)) {
        try {
          return std::stoll(s);
        } catch (const std::out_of_range&) {
          errors->push_back(where + ": integer " + s + " out of range");
          return s;
        }
      }
      if (IsYamlFloat(s)) return std::stod(s);
      return s;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i) out.push_back(ToJson(node[i], Index(where, i), errors));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          errors->push_back(where + ": a mapping key must be a scalar");
          continue;
        }
        const std::string key = kv.first.Scalar();
        if (out.contains(key)) errors->push_back(Child(where, key) + ": duplicate key");
        out[key] = ToJson(kv.second, Child(where, key), errors);
      }
      return out;
    }
    case YAML::NodeType::Undefined:
      break;
  }
  errors->push_back(where + ": undefined YAML node");
  return nullptr;
}

// ----------------------------------------------------------------------------------------------
// Formats.

bool AllDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int Num(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!AllDigits(s.substr(0, 4)) || !AllDigits(s.substr(5, 2)) || !AllDigits(s.substr(8, 2))) return false;
  int y = Num(s.substr(0, 4)), m = Num(s.substr(5, 2)), d = Num(s.substr(8, 2));
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

// RFC 3339 in UTC to the second, the one form the API writes: 2026-11-21T10:00:00Z.
bool IsDateTime(std::string_view s) {
  if (s.size() != 20 || !IsDate(s.substr(0, 10)) || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z')
    return false;
  if (!AllDigits(s.substr(11, 2)) || !AllDigits(s.substr(14, 2)) || !AllDigits(s.substr(17, 2))) return false;
  return Num(s.substr(11, 2)) < 24 && Num(s.substr(14, 2)) < 60 && Num(s.substr(17, 2)) < 60;
}

size_t CodePoints(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

std::string TypeOf(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "unknown";
  }
}

bool HasType(const json& v, const std::string& type) {
  if (type == "integer") return v.is_number_integer();  // includes unsigned
  if (type == "number") return v.is_number();
  return TypeOf(v) == type;
}

// Compares a JSON number with a bound: <0, 0 or >0. Integers are compared exactly (nlohmann keeps
// non-negative integers unsigned, so both are widened first).
int CompareNumber(const json& v, const json& bound) {
  if (v.is_number_integer() && bound.is_number_integer()) {
    auto wide = [](const json& j) -> __int128 {
      return j.is_number_unsigned() ? static_cast<__int128>(j.get<uint64_t>())
                                    : static_cast<__int128>(j.get<int64_t>());
    };
    const __int128 a = wide(v), b = wide(bound);
    return (a > b) - (a < b);
  }
  double a = v.get<double>(), b = bound.get<double>();
  return (a > b) - (a < b);
}

// ----------------------------------------------------------------------------------------------
// Instance validation.

class Validator {
 public:
  Validator(const json& doc, const std::map<std::string, std::regex>& patterns)
      : doc_(doc), patterns_(patterns) {}

  // Appends to `out` every way `v` (found at `at`, "$.devices[0]") fails `schema`.
  void Validate(const json& schema, const json& v, const std::string& at,
                std::vector<std::string>* out) const {
    if (schema.contains("$ref")) {
      const std::string ref = schema["$ref"].get<std::string>();
      Validate(doc_["components"]["schemas"][ref.substr(kSchemaPrefix.size())], v, at, out);
      return;
    }
    const bool nullable = schema.value("nullable", false);
    if (schema.contains("type")) {
      const std::string type = schema["type"].get<std::string>();
      if (v.is_null() && nullable) return;
      if (!HasType(v, type)) {
        out->push_back(at + ": expected " + type + (nullable ? " or null" : "") + ", got " + TypeOf(v));
        return;
      }
    } else if (v.is_null() && nullable) {
      return;
    }
    if (auto it = schema.find("enum"); it != schema.end()) {
      if (std::find(it->begin(), it->end(), v) == it->end()) {
        std::vector<std::string> allowed;
        for (const json& e : *it) allowed.push_back(e.dump());
        out->push_back(at + ": " + v.dump() + " is not one of [" + Join(allowed, ", ") + "]");
      }
    }
    if (v.is_number()) CheckNumber(schema, v, at, out);
    if (v.is_string()) CheckString(schema, v.get<std::string>(), at, out);
    if (v.is_array()) {
      if (auto it = schema.find("items"); it != schema.end()) {
        for (size_t i = 0; i < v.size(); ++i) Validate(*it, v[i], Index(at, i), out);
      }
    }
    if (v.is_object()) CheckObject(schema, v, at, out);
    if (auto it = schema.find("oneOf"); it != schema.end()) CheckOneOf(*it, v, at, out);
  }

 private:
  void CheckNumber(const json& schema, const json& v, const std::string& at,
                   std::vector<std::string>* out) const {
    if (auto it = schema.find("minimum"); it != schema.end()) {
      const bool exclusive = schema.value("exclusiveMinimum", false);
      const int c = CompareNumber(v, *it);
      if (c < 0 || (exclusive && c == 0))
        out->push_back(at + ": " + v.dump() + " is " + (exclusive ? "not above " : "below the minimum ") +
                       it->dump());
    }
    if (auto it = schema.find("maximum"); it != schema.end()) {
      const bool exclusive = schema.value("exclusiveMaximum", false);
      const int c = CompareNumber(v, *it);
      if (c > 0 || (exclusive && c == 0))
        out->push_back(at + ": " + v.dump() + " is " + (exclusive ? "not below " : "above the maximum ") +
                       it->dump());
    }
  }

  void CheckString(const json& schema, const std::string& s, const std::string& at,
                   std::vector<std::string>* out) const {
    const size_t length = CodePoints(s);
    if (auto it = schema.find("minLength"); it != schema.end() && length < it->get<size_t>())
      out->push_back(at + ": " + json(s).dump() + " is shorter than minLength " + it->dump());
    if (auto it = schema.find("maxLength"); it != schema.end() && length > it->get<size_t>())
      out->push_back(at + ": " + json(s).dump() + " is longer than maxLength " + it->dump());
    if (auto it = schema.find("pattern"); it != schema.end()) {
      const std::string& pattern = it->get_ref<const std::string&>();
      if (!std::regex_search(s, patterns_.at(pattern)))
        out->push_back(at + ": " + json(s).dump() + " does not match the pattern " + pattern);
    }
    if (auto it = schema.find("format"); it != schema.end()) {
      const std::string& format = it->get_ref<const std::string&>();
      if (format == "date-time" && !IsDateTime(s))
        out->push_back(at + ": " + json(s).dump() +
                       " is not a date-time (RFC 3339 UTC, YYYY-MM-DDTHH:MM:SSZ)");
      if (format == "date" && !IsDate(s))
        out->push_back(at + ": " + json(s).dump() + " is not a date (YYYY-MM-DD)");
    }
  }

  void CheckObject(const json& schema, const json& v, const std::string& at,
                   std::vector<std::string>* out) const {
    if (auto it = schema.find("required"); it != schema.end()) {
      for (const json& name : *it) {
        if (!v.contains(name.get<std::string>()))
          out->push_back(at + ": missing required property " + json(name).dump());
      }
    }
    const json* properties = schema.contains("properties") ? &schema["properties"] : nullptr;
    const auto additional = schema.find("additionalProperties");
    for (const auto& [key, value] : v.items()) {
      const std::string where = Child(at, key);
      if (properties && properties->contains(key)) {
        Validate((*properties)[key], value, where, out);
      } else if (additional != schema.end()) {
        if (additional->is_boolean()) {
          if (!additional->get<bool>()) out->push_back(where + ": undocumented property");
        } else {
          Validate(*additional, value, where, out);
        }
      }
    }
  }

  void CheckOneOf(const json& branches, const json& v, const std::string& at,
                  std::vector<std::string>* out) const {
    std::vector<size_t> matched;
    std::vector<std::string> failures;
    for (size_t i = 0; i < branches.size(); ++i) {
      std::vector<std::string> problems;
      Validate(branches[i], v, at, &problems);
      if (problems.empty()) {
        matched.push_back(i);
      } else {
        failures.push_back("[" + std::to_string(i) + "] " + Join(problems, "; "));
      }
    }
    if (matched.empty()) {
      out->push_back(at + ": matches no branch of oneOf: " + Join(failures, " | "));
    } else if (matched.size() > 1) {
      std::vector<std::string> which;
      for (size_t i : matched) which.push_back(std::to_string(i));
      out->push_back(at + ": matches branches " + Join(which, ", ") + " of oneOf; exactly one must match");
    }
  }

  const json& doc_;
  const std::map<std::string, std::regex>& patterns_;
};

// ----------------------------------------------------------------------------------------------
// Checking the file itself. Every key the checker does not understand is an error, so the file
// cannot say more than the checks enforce.

class SpecLinter {
 public:
  SpecLinter(const json& doc, std::map<std::string, std::regex>* patterns) : doc_(doc), patterns_(patterns) {}

  std::vector<std::string> Run() {
    if (!doc_.is_object()) {
      Error("", "the document must be a mapping");
      return errors_;
    }
    Keys(doc_, "", {"openapi", "info", "servers", "paths", "components", "security", "tags"},
         {"openapi", "info", "paths"});
    if (doc_.contains("openapi") &&
        (!doc_["openapi"].is_string() || !StartsWith(doc_["openapi"].get<std::string>(), "3.0.")))
      Error("openapi", "must be a 3.0.x version string (quote it: '3.0.3')");
    if (doc_.contains("info")) {
      Keys(doc_["info"], "info", {"title", "version", "description"}, {"title", "version"});
    }
    if (doc_.contains("servers")) {
      for (size_t i = 0; IsArray(doc_["servers"], "servers") && i < doc_["servers"].size(); ++i)
        Keys(doc_["servers"][i], Index("servers", i), {"url", "description"}, {"url"});
    }
    if (doc_.contains("tags")) {
      for (size_t i = 0; IsArray(doc_["tags"], "tags") && i < doc_["tags"].size(); ++i)
        Keys(doc_["tags"][i], Index("tags", i), {"name", "description"}, {"name"});
    }
    if (doc_.contains("components")) Components(doc_["components"]);
    if (doc_.contains("security")) Security(doc_["security"], "security");
    if (doc_.contains("paths")) Paths(doc_["paths"]);
    return errors_;
  }

 private:
  void Error(const std::string& where, const std::string& what) {
    errors_.push_back((where.empty() ? std::string("(root)") : where) + ": " + what);
  }

  bool IsObject(const json& node, const std::string& where) {
    if (node.is_object()) return true;
    Error(where, "must be a mapping");
    return false;
  }

  bool IsArray(const json& node, const std::string& where) {
    if (node.is_array()) return true;
    Error(where, "must be a list");
    return false;
  }

  bool IsString(const json& node, const std::string& where) {
    if (node.is_string()) return true;
    Error(where, "must be a string");
    return false;
  }

  // Refuses keys outside `allowed` (x- extensions excepted) and reports missing `required` ones.
  // True when `node` is a mapping with every required key.
  bool Keys(const json& node, const std::string& where, std::initializer_list<std::string_view> allowed,
            std::initializer_list<std::string_view> required = {}) {
    if (!IsObject(node, where)) return false;
    for (const auto& [key, value] : node.items()) {
      if (StartsWith(key, "x-")) continue;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        Error(Child(where, key), "unknown key '" + key + "' (allowed here: " + Join(names, ", ") + ")");
      }
    }
    bool complete = true;
    for (std::string_view key : required) {
      if (!node.contains(key)) {
        Error(where, "missing '" + std::string(key) + "'");
        complete = false;
      }
    }
    return complete;
  }

  bool Ref(const json& node, const std::string& where, std::string_view prefix, const char* section) {
    if (!IsString(node["$ref"], Child(where, "$ref"))) return false;
    const std::string ref = node["$ref"].get<std::string>();
    if (!StartsWith(ref, prefix)) {
      Error(Child(where, "$ref"), "'" + ref + "' must start with " + std::string(prefix));
      return false;
    }
    const std::string name = ref.substr(prefix.size());
    const json* components = doc_.contains("components") ? &doc_["components"] : nullptr;
    if (!components || !components->is_object() || !components->contains(section) ||
        !(*components)[section].is_object() || !(*components)[section].contains(name)) {
      Error(Child(where, "$ref"), "'" + ref + "' names nothing in components/" + section);
      return false;
    }
    return true;
  }

  void Components(const json& c) {
    if (!Keys(c, "components", {"schemas", "responses", "parameters", "securitySchemes"})) return;
    if (c.contains("securitySchemes") && IsObject(c["securitySchemes"], "components.securitySchemes")) {
      for (const auto& [name, scheme] : c["securitySchemes"].items()) {
        const std::string where = Child("components.securitySchemes", name);
        Keys(scheme, where, {"type", "description", "scheme", "bearerFormat", "name", "in"}, {"type"});
      }
    }
    if (c.contains("schemas") && IsObject(c["schemas"], "components.schemas")) {
      for (const auto& [name, schema] : c["schemas"].items()) {
        Schema(schema, Child("components.schemas", name));
        RefChain(name);
      }
    }
    if (c.contains("parameters") && IsObject(c["parameters"], "components.parameters")) {
      for (const auto& [name, p] : c["parameters"].items())
        Parameter(p, Child("components.parameters", name), false);
    }
    if (c.contains("responses") && IsObject(c["responses"], "components.responses")) {
      for (const auto& [name, r] : c["responses"].items())
        Response(r, Child("components.responses", name), false);
    }
  }

  // A schema that is only a $ref to itself through other $refs would never end.
  void RefChain(const std::string& start) {
    std::set<std::string> seen{start};
    const json* s = &doc_["components"]["schemas"][start];
    while (s->is_object() && s->contains("$ref") && (*s)["$ref"].is_string()) {
      const std::string ref = (*s)["$ref"].get<std::string>();
      if (!StartsWith(ref, kSchemaPrefix)) return;
      const std::string name = ref.substr(kSchemaPrefix.size());
      if (!doc_["components"]["schemas"].contains(name)) return;
      if (!seen.insert(name).second) {
        Error(Child("components.schemas", start), "$ref cycle through '" + name + "'");
        return;
      }
      s = &doc_["components"]["schemas"][name];
    }
  }

  void Security(const json& requirements, const std::string& where) {
    if (!IsArray(requirements, where)) return;
    for (size_t i = 0; i < requirements.size(); ++i) {
      if (!IsObject(requirements[i], Index(where, i))) continue;
      for (const auto& [name, scopes] : requirements[i].items()) {
        const json* schemes = nullptr;
        if (doc_.contains("components") && doc_["components"].is_object() &&
            doc_["components"].contains("securitySchemes"))
          schemes = &doc_["components"]["securitySchemes"];
        if (!schemes || !schemes->is_object() || !schemes->contains(name))
          Error(Child(Index(where, i), name),
                "no security scheme '" + name + "' in components/securitySchemes");
        IsArray(scopes, Child(Index(where, i), name));
      }
    }
  }

  void Paths(const json& paths) {
    if (!IsObject(paths, "paths")) return;
    std::map<std::string, std::string> shapes;  // /v1/leases/{} -> the template that has it
    std::set<std::string> operation_ids;
    for (const auto& [path, item] : paths.items()) {
      const std::string where = Child("paths", path);
      std::set<std::string> params_in_path;
      if (!PathTemplate(path, where, &params_in_path)) continue;
      std::string shape = std::regex_replace(path, std::regex(R"(\{[^}/]*\})"), "{}");
      if (auto [it, inserted] = shapes.emplace(shape, path); !inserted)
        Error(where, "matches the same paths as '" + it->second + "'");
      if (!IsObject(item, where)) continue;
      std::set<std::string> item_path_params;
      for (const auto& [key, value] : item.items()) {
        if (key == "parameters") {
          Parameters(value, Child(where, key), &item_path_params);
        } else if (key == "summary" || key == "description") {
          IsString(value, Child(where, key));
        } else if (!IsMethod(key) && !StartsWith(key, "x-")) {
          Error(Child(where, key),
                "unknown key '" + key + "' (a lower-case HTTP method, parameters, summary, description)");
        }
      }
      for (const auto& [key, op] : item.items()) {
        if (!IsMethod(key)) continue;
        std::set<std::string> declared = item_path_params;
        Operation(op, Child(where, key), &declared, &operation_ids);
        if (declared != params_in_path) {
          std::vector<std::string> in_template(params_in_path.begin(), params_in_path.end());
          std::vector<std::string> in_parameters(declared.begin(), declared.end());
          Error(Child(where, key), "path parameters {" + Join(in_template, ", ") + "} of the template but {" +
                                       Join(in_parameters, ", ") + "} declared with in: path");
        }
      }
    }
  }

  // Templates must be whole segments ("/leases/{id}", not "/leases/id{id}"): that is what
  // MatchPath implements.
  bool PathTemplate(const std::string& path, const std::string& where, std::set<std::string>* params) {
    if (!StartsWith(path, "/")) {
      Error(where, "a path must start with '/'");
      return false;
    }
    std::stringstream segments(path.substr(1));
    std::string segment;
    bool ok = true;
    while (std::getline(segments, segment, '/')) {
      const bool braces = segment.find_first_of("{}") != std::string::npos;
      if (!braces) continue;
      if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}' ||
          segment.find_first_of("{}", 1) != segment.size() - 1) {
        Error(where, "segment '" + segment + "': a template parameter must be a whole segment, {name}");
        ok = false;
      } else if (!params->insert(segment.substr(1, segment.size() - 2)).second) {
        Error(where, "parameter " + segment + " appears twice");
        ok = false;
      }
    }
    return ok;
  }

  void Operation(const json& op, const std::string& where, std::set<std::string>* path_params,
                 std::set<std::string>* operation_ids) {
    if (!Keys(op, where,
              {"operationId", "summary", "description", "tags", "parameters", "requestBody", "responses",
               "security", "deprecated"},
              {"responses"}))
      return;
    if (op.contains("operationId") && IsString(op["operationId"], Child(where, "operationId")) &&
        !operation_ids->insert(op["operationId"].get<std::string>()).second)
      Error(Child(where, "operationId"),
            "duplicate operationId '" + op["operationId"].get<std::string>() + "'");
    if (op.contains("parameters")) Parameters(op["parameters"], Child(where, "parameters"), path_params);
    if (op.contains("security")) Security(op["security"], Child(where, "security"));
    if (op.contains("requestBody")) {
      const std::string rb = Child(where, "requestBody");
      if (Keys(op["requestBody"], rb, {"description", "required", "content"}, {"content"})) {
        Content(op["requestBody"]["content"], Child(rb, "content"));
        if (op["requestBody"].contains("required") && !op["requestBody"]["required"].is_boolean())
          Error(Child(rb, "required"), "must be true or false");
      }
    }
    if (op.contains("responses") && IsObject(op["responses"], Child(where, "responses"))) {
      if (op["responses"].empty()) Error(Child(where, "responses"), "documents no response");
      for (const auto& [code, r] : op["responses"].items()) {
        static const std::regex status_re("[1-5](XX|[0-9][0-9])|default");
        if (!std::regex_match(code, status_re))
          Error(Child(Child(where, "responses"), code), "not a status code, a range (4XX) or default");
        Response(r, Child(Child(where, "responses"), code), true);
      }
    }
  }

  void Parameters(const json& list, const std::string& where, std::set<std::string>* path_params) {
    if (!IsArray(list, where)) return;
    for (size_t i = 0; i < list.size(); ++i) {
      const json& p = list[i];
      if (!Parameter(p, Index(where, i), true)) continue;
      const json& resolved =
          p.contains("$ref")
              ? doc_["components"]["parameters"][p["$ref"].get<std::string>().substr(kParameterPrefix.size())]
              : p;
      if (resolved.is_object() && resolved.contains("in") && resolved["in"] == "path" &&
          resolved.contains("name") && resolved["name"].is_string())
        path_params->insert(resolved["name"].get<std::string>());
    }
  }

  bool Parameter(const json& p, const std::string& where, bool allow_ref) {
    if (allow_ref && p.is_object() && p.contains("$ref")) {
      Keys(p, where, {"$ref"});
      return Ref(p, where, kParameterPrefix, "parameters");
    }
    if (!Keys(p, where, {"name", "in", "required", "description", "schema", "deprecated"},
              {"name", "in", "schema"}))
      return false;
    bool ok = IsString(p["name"], Child(where, "name"));
    static const std::set<std::string> kIn = {"path", "query", "header", "cookie"};
    if (!p["in"].is_string() || !kIn.count(p["in"].get<std::string>())) {
      Error(Child(where, "in"), "must be path, query, header or cookie");
      ok = false;
    } else if (p["in"] == "path" && !(p.contains("required") && p["required"] == true)) {
      Error(where, "a path parameter must say required: true");
    }
    Schema(p["schema"], Child(where, "schema"));
    return ok;
  }

  void Content(const json& content, const std::string& where) {
    if (!IsObject(content, where)) return;
    for (const auto& [media_type, media] : content.items()) {
      const std::string at = Child(where, media_type);
      if (media_type != Lower(media_type) || media_type.find(';') != std::string::npos)
        Error(at, "a media type is lower case, without parameters");
      if (Keys(media, at, {"schema"}, {"schema"})) Schema(media["schema"], Child(at, "schema"));
    }
  }

  void Response(const json& r, const std::string& where, bool allow_ref) {
    if (allow_ref && r.is_object() && r.contains("$ref")) {
      Keys(r, where, {"$ref"});
      Ref(r, where, kResponsePrefix, "responses");
      return;
    }
    if (!Keys(r, where, {"description", "content"}, {"description"})) return;
    if (r.contains("content")) Content(r["content"], Child(where, "content"));
  }

  // Which `type` each keyword constrains; a keyword beside another type would be silently inert.
  static std::string_view KeywordType(std::string_view key) {
    if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" || key == "exclusiveMaximum")
      return "number";
    if (key == "minLength" || key == "maxLength" || key == "pattern" || key == "format") return "string";
    if (key == "properties" || key == "required" || key == "additionalProperties") return "object";
    if (key == "items") return "array";
    return "";
  }

  void Schema(const json& s, const std::string& where) {
    if (!IsObject(s, where)) return;
    if (s.contains("$ref")) {
      for (const auto& [key, value] : s.items()) {
        if (key != "$ref" && key != "description")
          Error(Child(where, key),
                "'" + key + "' beside $ref is ignored by OpenAPI 3.0; put it in the referenced schema");
      }
      Ref(s, where, kSchemaPrefix, "schemas");
      return;
    }
    std::string type;
    if (s.contains("type")) {
      static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                                   "integer", "number", "boolean"};
      if (!s["type"].is_string() || !kTypes.count(s["type"].get<std::string>())) {
        Error(Child(where, "type"), "must be one of object, array, string, integer, number, boolean");
      } else {
        type = s["type"].get<std::string>();
      }
    }
    for (const auto& [key, value] : s.items()) {
      const std::string at = Child(where, key);
      if (std::string_view kt = KeywordType(key);
          !kt.empty() && !type.empty() && kt != type && !(kt == "number" && type == "integer")) {
        Error(at, "'" + key + "' does not apply to type " + type);
      }
      if (key == "type") {
        // checked above
      } else if (key == "description" || key == "title") {
        IsString(value, at);
      } else if (key == "nullable" || key == "exclusiveMinimum" || key == "exclusiveMaximum") {
        if (!value.is_boolean()) Error(at, "must be true or false");
        if (key == "exclusiveMinimum" && !s.contains("minimum")) Error(at, "needs minimum");
        if (key == "exclusiveMaximum" && !s.contains("maximum")) Error(at, "needs maximum");
      } else if (key == "minimum" || key == "maximum") {
        if (!value.is_number()) Error(at, "must be a number");
      } else if (key == "minLength" || key == "maxLength") {
        if (!value.is_number_integer() || value.get<int64_t>() < 0)
          Error(at, "must be a non-negative integer");
      } else if (key == "pattern") {
        if (!IsString(value, at)) continue;
        try {
          patterns_->emplace(value.get<std::string>(),
                             std::regex(value.get<std::string>(), std::regex::ECMAScript));
        } catch (const std::regex_error& e) {
          Error(at, "not a valid regular expression: " + std::string(e.what()));
        }
      } else if (key == "format") {
        if (value != "date-time" && value != "date")
          Error(at, "format " + value.dump() + " is not checked (only date-time and date are)");
      } else if (key == "enum") {
        if (!value.is_array() || value.empty()) {
          Error(at, "must be a non-empty list");
          continue;
        }
        for (size_t i = 0; i < value.size(); ++i) {
          const bool nullable = s.contains("nullable") && s["nullable"] == true;
          if (!type.empty() && !HasType(value[i], type) && !(value[i].is_null() && nullable))
            Error(Index(at, i), value[i].dump() + " is not of type " + type);
        }
      } else if (key == "required") {
        if (!IsArray(value, at)) continue;
        std::set<std::string> names;
        for (size_t i = 0; i < value.size(); ++i) {
          if (!IsString(value[i], Index(at, i))) continue;
          const std::string name = value[i].get<std::string>();
          if (!names.insert(name).second) Error(Index(at, i), "'" + name + "' listed twice");
          const bool closed = s.contains("additionalProperties") && s["additionalProperties"] == false;
          if (closed &&
              !(s.contains("properties") && s["properties"].is_object() && s["properties"].contains(name)))
            Error(Index(at, i),
                  "'" + name + "' is required but not in properties, and no other property is allowed");
        }
      } else if (key == "properties") {
        if (!IsObject(value, at)) continue;
        for (const auto& [name, sub] : value.items()) Schema(sub, Child(at, name));
      } else if (key == "additionalProperties") {
        if (!value.is_boolean()) Schema(value, at);
      } else if (key == "items") {
        Schema(value, at);
      } else if (key == "oneOf") {
        if (!value.is_array() || value.empty()) {
          Error(at, "must be a non-empty list of schemas");
          continue;
        }
        for (size_t i = 0; i < value.size(); ++i) Schema(value[i], Index(at, i));
      } else {
        Error(
            at,
            "unknown keyword '" + key +
                "' (the checker supports $ref, type, nullable, required, properties, additionalProperties, "
                "items, "
                "enum, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, "
                "format, oneOf, description, title)");
      }
    }
    if (type == "array" && !s.contains("items")) Error(where, "an array schema needs items");
  }

  const json& doc_;
  std::map<std::string, std::regex>* patterns_;
  std::vector<std::string> errors_;
};

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsTemplateSegment(const std::string& s) { return s.size() >= 2 && s.front() == '{' && s.back() == '}'; }

std::string MediaType(std::string_view content_type) {
  std::string_view m = content_type.substr(0, content_type.find(';'));
  while (!m.empty() && std::isspace(static_cast<unsigned char>(m.front()))) m.remove_prefix(1);
  while (!m.empty() && std::isspace(static_cast<unsigned char>(m.back()))) m.remove_suffix(1);
  return Lower(m);
}

bool IsJsonMediaType(const std::string& m) {
  return m == "application/json" || (m.size() > 5 && m.compare(m.size() - 5, 5, "+json") == 0);
}

std::vector<std::string> KeysOf(const json& object) {
  std::vector<std::string> out;
  for (const auto& [key, value] : object.items()) out.push_back(key);
  return out;
}

}  // namespace

OpenApiSpec OpenApiSpec::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

OpenApiSpec OpenApiSpec::Parse(std::string_view yaml, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string(source) + ": not valid YAML: line " +
                             std::to_string(e.mark.line + 1) + ", column " +
                             std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  std::vector<std::string> errors;
  OpenApiSpec spec;
  spec.doc_ = ToJson(root, "", &errors);
  if (errors.empty()) errors = SpecLinter(spec.doc_, &spec.patterns_).Run();
  if (!errors.empty()) {
    std::string message = std::string(source) + ": not an OpenAPI file this checker accepts (" +
                          std::to_string(errors.size()) + " problem" + (errors.size() == 1 ? "" : "s") + "):";
    for (const std::string& e : errors) message += "\n  " + e;
    throw std::runtime_error(message);
  }
  return spec;
}

std::string OpenApiSpec::MatchPath(std::string_view path) const {
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/') return "";
  const std::vector<std::string> segments = SplitPath(path);
  std::string best, best_rank;
  for (const auto& [templ, item] : doc_["paths"].items()) {
    const std::vector<std::string> parts = SplitPath(templ);
    if (parts.size() != segments.size()) continue;
    // A literal segment beats a template one, from the left: /agents/register before /agents/{node}.
    std::string rank;
    bool match = true;
    for (size_t i = 0; i < parts.size() && match; ++i) {
      if (IsTemplateSegment(parts[i])) {
        match = !segments[i].empty();
        rank += '0';
      } else {
        match = parts[i] == segments[i];
        rank += '1';
      }
    }
    if (match && rank > best_rank) {
      best = templ;
      best_rank = rank;
    }
  }
  return best;
}

const nlohmann::json& OpenApiSpec::Deref(const nlohmann::json& node) const {
  if (!node.is_object() || !node.contains("$ref")) return node;
  const std::string ref = node["$ref"].get<std::string>();
  const std::string_view prefix = "#/components/";
  const size_t slash = ref.find('/', prefix.size());
  return doc_["components"][ref.substr(prefix.size(), slash - prefix.size())][ref.substr(slash + 1)];
}

void OpenApiSpec::ValidateBody(const nlohmann::json& schema, std::string_view body, const std::string& label,
                               std::vector<std::string>* problems) const {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    problems->push_back(label + ": the body is not valid JSON: " + e.what());
    return;
  }
  std::vector<std::string> found;
  Validator(doc_, patterns_).Validate(schema, value, "$", &found);
  for (const std::string& f : found) problems->push_back(label + ": " + f);
}

std::vector<std::string> OpenApiSpec::Check(std::string_view method, std::string_view path, int status,
                                            std::string_view content_type, std::string_view body) const {
  const std::string m = Upper(method);
  const std::string templ = MatchPath(path);
  if (templ.empty()) return {m + " " + std::string(path) + ": no path of the spec matches"};
  const nlohmann::json& item = doc_["paths"][templ];
  if (!item.contains(Lower(method))) {
    std::vector<std::string> documented;
    for (const auto& [key, op] : item.items())
      if (IsMethod(key)) documented.push_back(Upper(key));
    return {m + " " + templ + ": method not documented (documented: " + Join(documented, ", ") + ")"};
  }
  const nlohmann::json& responses = item[Lower(method)]["responses"];
  const std::string code = std::to_string(status);
  const std::string label = m + " " + templ + " " + code;
  const nlohmann::json* response = nullptr;
  for (const std::string& key : {code, code.substr(0, 1) + "XX", std::string("default")}) {
    if (responses.contains(key)) {
      response = &Deref(responses[key]);
      break;
    }
  }
  if (!response)
    return {label + ": status not documented (documented: " + Join(KeysOf(responses), ", ") + ")"};

  std::vector<std::string> problems;
  if (!response->contains("content")) {
    if (!body.empty()) problems.push_back(label + ": a body was sent but the response documents none");
    return problems;
  }
  const nlohmann::json& content = (*response)["content"];
  const std::string media = MediaType(content_type);
  if (!content.contains(media)) {
    problems.push_back(label + ": content type '" + std::string(content_type) +
                       "' not documented (documented: " + Join(KeysOf(content), ", ") + ")");
    return problems;
  }
  if (IsJsonMediaType(media) && content[media].contains("schema"))
    ValidateBody(content[media]["schema"], body, label, &problems);
  return problems;
}

std::vector<std::string> OpenApiSpec::CheckRequest(std::string_view method, std::string_view path,
                                                   std::string_view body) const {
  const std::string m = Upper(method);
  const std::string templ = MatchPath(path);
  if (templ.empty()) return {m + " " + std::string(path) + " request: no path of the spec matches"};
  const nlohmann::json& item = doc_["paths"][templ];
  const std::string label = m + " " + templ + " request";
  if (!item.contains(Lower(method))) return {label + ": method not documented"};
  const nlohmann::json& op = item[Lower(method)];
  if (!op.contains("requestBody")) {
    if (!body.empty()) return {label + ": a body was given but the operation takes none"};
    return {};
  }
  const nlohmann::json& rb = op["requestBody"];
  if (body.empty()) {
    if (rb.value("required", false)) return {label + ": the request body is required"};
    return {};
  }
  if (!rb["content"].contains("application/json"))
    return {label + ": the request body is not documented as application/json (documented: " +
            Join(KeysOf(rb["content"]), ", ") + ")"};
  std::vector<std::string> problems;
  const nlohmann::json& media = rb["content"]["application/json"];
  if (media.contains("schema")) ValidateBody(media["schema"], body, label, &problems);
  return problems;
}

std::vector<std::string> OpenApiSpec::CheckSchema(std::string_view schema_name, std::string_view body) const {
  const std::string name(schema_name);
  const std::string label = "schema " + name;
  if (!doc_.contains("components") || !doc_["components"].contains("schemas") ||
      !doc_["components"]["schemas"].contains(name))
    return {label + ": no such schema in components/schemas"};
  std::vector<std::string> problems;
  ValidateBody(doc_["components"]["schemas"][name], body, label, &problems);
  return problems;
}

std::vector<std::pair<std::string, std::string>> OpenApiSpec::Operations() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [templ, item] : doc_["paths"].items()) {
    std::vector<std::string> methods;
    for (const auto& [key, op] : item.items())
      if (IsMethod(key)) methods.push_back(Upper(key));
    std::sort(methods.begin(), methods.end());
    for (const std::string& m : methods) out.emplace_back(m, templ);
  }
  return out;
}

}  // namespace rigshift::testing
