// The OpenAPI checker on small inline specs (every keyword, good and bad values), then the real
// api/openapi.yaml against the examples of docs/api.md.
#include "openapi_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace rigshift {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::OpenApiSpec;

std::string Indent(const std::string& text, int spaces) {
  std::string pad(spaces, ' '), out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out += pad + line + "\n";
  return out;
}

// A spec with GET /things/{id} answering 200 with `schema` (YAML, one mapping), and `components`
// (YAML under components/schemas).
std::string SpecWithSchema(const std::string& schema, const std::string& components = "") {
  return R"(openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
)" + Indent(schema, 16) +
         "components:\n  schemas:\n    Unused: {type: string}\n" + Indent(components, 4);
}

std::vector<std::string> CheckBody(const OpenApiSpec& spec, const std::string& body) {
  return spec.Check("GET", "/things/1", 200, "application/json", body);
}

// One keyword case: a schema, a body, and the problem expected (a substring; "" = conforms).
struct KeywordCase {
  const char* name;
  const char* schema;
  const char* body;
  const char* problem;
};

const KeywordCase kKeywordCases[] = {
    {"object accepts object", "type: object", R"({})", ""},
    {"object refuses array", "type: object", R"([])", "$: expected object, got array"},
    {"array accepts array", "{type: array, items: {type: integer}}", R"([1, 2])", ""},
    {"array refuses string", "{type: array, items: {type: integer}}", R"("x")", "expected array, got string"},
    {"string accepts string", "type: string", R"("x")", ""},
    {"string refuses number", "type: string", R"(1)", "expected string, got integer"},
    {"integer accepts integer", "type: integer", R"(-3)", ""},
    {"integer refuses 2.0", "type: integer", R"(2.0)", "expected integer, got number"},
    {"integer refuses string", "type: integer", R"("2")", "expected integer, got string"},
    {"number accepts integer", "type: number", R"(2)", ""},
    {"number accepts fraction", "type: number", R"(0.04)", ""},
    {"number refuses boolean", "type: number", R"(true)", "expected number, got boolean"},
    {"boolean accepts false", "type: boolean", R"(false)", ""},
    {"boolean refuses 0", "type: boolean", R"(0)", "expected boolean, got integer"},
    {"null refused without nullable", "type: string", R"(null)", "expected string, got null"},
    {"nullable accepts null", "{type: string, nullable: true}", R"(null)", ""},
    {"nullable still checks the type", "{type: string, nullable: true}", R"(1)",
     "expected string or null, got integer"},
    {"nullable null skips enum", "{type: string, nullable: true, enum: [a]}", R"(null)", ""},
    {"required present", "{type: object, required: [a], properties: {a: {type: integer}}}", R"({"a": 1})",
     ""},
    {"required missing", "{type: object, required: [a], properties: {a: {type: integer}}}", R"({})",
     "$: missing required property \"a\""},
    {"properties checked", "{type: object, properties: {a: {type: integer}}}", R"({"a": "x"})",
     "$.a: expected integer, got string"},
    {"extra property allowed by default", "{type: object, properties: {a: {type: integer}}}", R"({"b": 1})",
     ""},
    {"additionalProperties false refuses",
     "{type: object, additionalProperties: false, properties: {a: {type: integer}}}", R"({"a": 1, "b": 2})",
     "$.b: undocumented property"},
    {"additionalProperties schema accepts", "{type: object, additionalProperties: {type: integer}}",
     R"({"x": 1})", ""},
    {"additionalProperties schema refuses", "{type: object, additionalProperties: {type: integer}}",
     R"({"x y": "1"})", R"($["x y"]: expected integer, got string)"},
    {"items index in the path", "{type: array, items: {type: integer}}", R"([1, 2, "3"])",
     "$[2]: expected integer"},
    {"enum accepts", "{type: string, enum: [pending, running]}", R"("running")", ""},
    {"enum refuses", "{type: string, enum: [pending, running]}", R"("exploded")",
     R"($: "exploded" is not one of ["pending", "running"])"},
    {"integer enum", "{type: integer, enum: [1, 2]}", R"(3)", "3 is not one of [1, 2]"},
    {"minimum accepts the bound", "{type: integer, minimum: 1}", R"(1)", ""},
    {"minimum refuses below", "{type: integer, minimum: 1}", R"(0)", "$: 0 is below the minimum 1"},
    {"maximum accepts the bound", "{type: integer, maximum: 4096}", R"(4096)", ""},
    {"maximum refuses above", "{type: integer, maximum: 4096}", R"(4097)", "4097 is above the maximum 4096"},
    {"minimum on numbers", "{type: number, minimum: 0.5}", R"(0.25)", "below the minimum 0.5"},
    {"exclusiveMinimum refuses the bound", "{type: number, minimum: 0, exclusiveMinimum: true}", R"(0)",
     "0 is not above 0"},
    {"exclusiveMinimum accepts above", "{type: number, minimum: 0, exclusiveMinimum: true}", R"(0.001)", ""},
    {"exclusiveMaximum refuses the bound", "{type: integer, maximum: 10, exclusiveMaximum: true}", R"(10)",
     "10 is not below 10"},
    {"large integers compare exactly", "{type: integer, maximum: 9223372036854775807}",
     R"(18446744073709551615)", "above the maximum"},
    {"minLength refuses empty", "{type: string, minLength: 1}", R"("")", "shorter than minLength 1"},
    {"maxLength counts code points", "{type: string, maxLength: 3}", R"("été")", ""},
    {"maxLength refuses longer", "{type: string, maxLength: 3}", R"("abcd")", "longer than maxLength 3"},
    {"pattern accepts", "{type: string, pattern: '^[0-9a-f]{12}$'}", R"("0123456789ab")", ""},
    {"pattern refuses", "{type: string, pattern: '^[0-9a-f]{12}$'}", R"("0123456789AB")",
     "does not match the pattern"},
    {"pattern is unanchored", "{type: string, pattern: '[0-9]'}", R"("a1b")", ""},
    {"date-time accepts UTC seconds", "{type: string, format: date-time}", R"("2026-11-21T10:00:00Z")", ""},
    {"date-time accepts a leap day", "{type: string, format: date-time}", R"("2028-02-29T23:59:59Z")", ""},
    {"date-time refuses an offset", "{type: string, format: date-time}", R"("2026-11-21T10:00:00+01:00")",
     "is not a date-time"},
    {"date-time refuses fractions", "{type: string, format: date-time}", R"("2026-11-21T10:00:00.5Z")",
     "is not a date-time"},
    {"date-time refuses a space", "{type: string, format: date-time}", R"("2026-11-21 10:00:00Z")",
     "is not a date-time"},
    {"date-time refuses month 13", "{type: string, format: date-time}", R"("2026-13-01T00:00:00Z")",
     "is not a date-time"},
    {"date-time refuses Feb 29 of 2026", "{type: string, format: date-time}", R"("2026-02-29T00:00:00Z")",
     "is not a date-time"},
    {"date-time refuses hour 24", "{type: string, format: date-time}", R"("2026-11-21T24:00:00Z")",
     "is not a date-time"},
    {"date accepts", "{type: string, format: date}", R"("2026-11-21")", ""},
    {"date refuses a date-time", "{type: string, format: date}", R"("2026-11-21T00:00:00Z")",
     "is not a date"},
    {"oneOf exactly one", "{oneOf: [{type: integer}, {type: string}]}", R"("x")", ""},
    {"oneOf none", "{oneOf: [{type: integer}, {type: string}]}", R"(true)",
     "$: matches no branch of oneOf: [0] $: expected integer, got boolean | [1] $: expected string, got "
     "boolean"},
    {"oneOf two", "{oneOf: [{type: number}, {type: integer}]}", R"(1)", "matches branches 0, 1 of oneOf"},
    {"oneOf beside properties", R"({type: object, additionalProperties: false, required: [role],
      properties: {role: {type: string}, tenant: {type: string}},
      oneOf: [{required: [tenant], properties: {role: {enum: [tenant]}}},
              {additionalProperties: false, properties: {role: {enum: [operator, agent]}}}]})",
     R"({"role": "operator", "tenant": "acme"})", "matches no branch of oneOf"},
    {"oneOf beside properties accepts", R"({type: object, additionalProperties: false, required: [role],
      properties: {role: {type: string}, tenant: {type: string}},
      oneOf: [{required: [tenant], properties: {role: {enum: [tenant]}}},
              {additionalProperties: false, properties: {role: {enum: [operator, agent]}}}]})",
     R"({"role": "tenant", "tenant": "acme"})", ""},
};

TEST(OpenApiCheckTest, EachKeywordAcceptsGoodAndRefusesBadValues) {
  for (const KeywordCase& c : kKeywordCases) {
    SCOPED_TRACE(c.name);
    const OpenApiSpec spec = OpenApiSpec::Parse(SpecWithSchema(c.schema));
    const std::vector<std::string> problems = CheckBody(spec, c.body);
    if (std::string(c.problem).empty()) {
      EXPECT_THAT(problems, IsEmpty());
    } else {
      ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
      EXPECT_THAT(problems[0], HasSubstr(c.problem));
      EXPECT_THAT(problems[0], ::testing::StartsWith("GET /things/{id} 200: $"));
    }
  }
}

TEST(OpenApiCheckTest, RefsResolveAndProblemsNameTheFullPath) {
  const OpenApiSpec spec = OpenApiSpec::Parse(SpecWithSchema("$ref: '#/components/schemas/Lease'", R"(
Lease:
  type: object
  additionalProperties: false
  required: [id, devices]
  properties:
    id: {type: integer}
    devices:
      type: array
      items: {$ref: '#/components/schemas/LeaseDevice'}
LeaseDevice:
  type: object
  additionalProperties: false
  required: [node, slot]
  properties:
    node: {type: string}
    slot: {type: integer, description: an annotation}
)"));
  EXPECT_THAT(CheckBody(spec, R"({"id": 17, "devices": [{"node": "n1", "slot": 0}]})"), IsEmpty());
  EXPECT_THAT(CheckBody(spec, R"({"id": 17, "devices": [{"node": "n1", "slot": "0"}, {"node": "n2"}]})"),
              ElementsAre("GET /things/{id} 200: $.devices[0].slot: expected integer, got string",
                          "GET /things/{id} 200: $.devices[1]: missing required property \"slot\""));
  EXPECT_THAT(spec.CheckSchema("LeaseDevice", R"({"node": "n1", "slot": 1, "extra": true})"),
              ElementsAre("schema LeaseDevice: $.extra: undocumented property"));
  EXPECT_THAT(spec.CheckSchema("Nope", "{}"), ElementsAre(HasSubstr("no such schema")));
}

const char* kRoutes = R"(openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /v1/agents/register:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              {type: object, additionalProperties: false, required: [node], properties: {node: {type: string}}}
      responses:
        '200': {description: literal}
  /v1/agents/{node}:
    parameters:
      - {$ref: '#/components/parameters/Node'}
    post:
      responses:
        '200':
          description: template
          content:
            application/json:
              schema: {type: object, required: [templated], properties: {templated: {type: boolean}}}
        4XX: {$ref: '#/components/responses/Error'}
        default:
          description: anything else
          content:
            application/json:
              schema: {type: object, required: [other]}
    get:
      responses:
        '200': {description: ok}
  /v1/leases/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {type: object}
  /metrics:
    get:
      responses:
        '200':
          description: text
          content:
            text/plain:
              schema: {type: string}
components:
  parameters:
    Node: {name: node, in: path, required: true, schema: {type: string}}
  responses:
    Error:
      description: an error
      content:
        application/json:
          schema: {type: object, required: [error]}
)";

TEST(OpenApiCheckTest, PathTemplatesMatchWholeSegmentsAndLiteralsWin) {
  const OpenApiSpec spec = OpenApiSpec::Parse(kRoutes);
  // /v1/agents/register is the literal route, not /v1/agents/{node}: a body-less 200 is right.
  EXPECT_THAT(spec.Check("POST", "/v1/agents/register", 200, "", ""), IsEmpty());
  EXPECT_THAT(spec.Check("POST", "/v1/agents/gpu-3", 200, "application/json", R"({"templated": true})"),
              IsEmpty());
  EXPECT_THAT(spec.Check("post", "/v1/agents/gpu-3?verbose=1", 200, "application/json", R"({})"),
              ElementsAre("POST /v1/agents/{node} 200: $: missing required property \"templated\""));
  EXPECT_THAT(spec.Check("GET", "/v1/leases/17", 200, "application/json", "{}"), IsEmpty());
  EXPECT_THAT(spec.Check("GET", "/v1/leases/", 200, "application/json", "{}"),
              ElementsAre("GET /v1/leases/: no path of the spec matches"));
  EXPECT_THAT(spec.Check("GET", "/v1/leases/17/x", 200, "application/json", "{}"),
              ElementsAre(HasSubstr("no path of the spec matches")));
  EXPECT_THAT(spec.Check("GET", "/v1/nothing", 404, "application/json", "{}"),
              ElementsAre("GET /v1/nothing: no path of the spec matches"));
  EXPECT_THAT(spec.Check("DELETE", "/v1/agents/gpu-3", 200, "", ""),
              ElementsAre("DELETE /v1/agents/{node}: method not documented (documented: GET, POST)"));
}

TEST(OpenApiCheckTest, StatusExactThenRangeThenDefault) {
  const OpenApiSpec spec = OpenApiSpec::Parse(kRoutes);
  EXPECT_THAT(spec.Check("POST", "/v1/agents/n", 404, "application/json", R"({"error": {}})"), IsEmpty());
  EXPECT_THAT(spec.Check("POST", "/v1/agents/n", 404, "application/json", R"({})"),
              ElementsAre("POST /v1/agents/{node} 404: $: missing required property \"error\""));
  EXPECT_THAT(spec.Check("POST", "/v1/agents/n", 503, "application/json", R"({"other": 1})"), IsEmpty());
  EXPECT_THAT(spec.Check("GET", "/v1/leases/1", 404, "application/json", "{}"),
              ElementsAre("GET /v1/leases/{id} 404: status not documented (documented: 200)"));
}

TEST(OpenApiCheckTest, ContentTypeAndBody) {
  const OpenApiSpec spec = OpenApiSpec::Parse(kRoutes);
  EXPECT_THAT(spec.Check("GET", "/v1/leases/1", 200, "application/json; charset=utf-8", "{}"), IsEmpty());
  EXPECT_THAT(spec.Check("GET", "/v1/leases/1", 200, "text/html", "<p>"),
              ElementsAre("GET /v1/leases/{id} 200: content type 'text/html' not documented (documented: "
                          "application/json)"));
  EXPECT_THAT(spec.Check("GET", "/v1/leases/1", 200, "application/json", R"({"a": )"),
              ElementsAre(HasSubstr("GET /v1/leases/{id} 200: the body is not valid JSON")));
  // text/plain is checked for its content type only.
  EXPECT_THAT(spec.Check("GET", "/metrics", 200, "text/plain; version=0.0.4", "# HELP x\nx 1\n"), IsEmpty());
  EXPECT_THAT(spec.Check("GET", "/metrics", 200, "application/json", "{}"),
              ElementsAre(HasSubstr("content type 'application/json' not documented")));
  // A response that documents no content must have none.
  EXPECT_THAT(spec.Check("GET", "/v1/agents/n", 200, "text/plain", "surprise"),
              ElementsAre("GET /v1/agents/{node} 200: a body was sent but the response documents none"));
}

TEST(OpenApiCheckTest, RequestBodies) {
  const OpenApiSpec spec = OpenApiSpec::Parse(kRoutes);
  EXPECT_THAT(spec.CheckRequest("POST", "/v1/agents/register", R"({"node": "n1"})"), IsEmpty());
  EXPECT_THAT(spec.CheckRequest("POST", "/v1/agents/register", R"({"node": "n1", "nodes": 2})"),
              ElementsAre("POST /v1/agents/register request: $.nodes: undocumented property"));
  EXPECT_THAT(spec.CheckRequest("POST", "/v1/agents/register", ""),
              ElementsAre("POST /v1/agents/register request: the request body is required"));
  EXPECT_THAT(spec.CheckRequest("POST", "/v1/agents/n1", R"({"x": 1})"),
              ElementsAre("POST /v1/agents/{node} request: a body was given but the operation takes none"));
  EXPECT_THAT(spec.CheckRequest("POST", "/v1/agents/n1", ""), IsEmpty());
  EXPECT_THAT(spec.CheckRequest("PUT", "/v1/agents/register", "{}"),
              ElementsAre("PUT /v1/agents/register request: method not documented"));
}

TEST(OpenApiCheckTest, OperationsListsEveryMethodAndTemplate) {
  const OpenApiSpec spec = OpenApiSpec::Parse(kRoutes);
  using Op = std::pair<std::string, std::string>;
  EXPECT_THAT(spec.Operations(), ElementsAre(Op{"GET", "/metrics"}, Op{"POST", "/v1/agents/register"},
                                             Op{"GET", "/v1/agents/{node}"}, Op{"POST", "/v1/agents/{node}"},
                                             Op{"GET", "/v1/leases/{id}"}));
}

// Load refuses what it cannot check; each case is a spec and a piece of the expected message.
struct LoadErrorCase {
  const char* name;
  std::string spec;
  const char* message;
};

TEST(OpenApiCheckTest, LoadRefusesWhatItCannotCheck) {
  const LoadErrorCase cases[] = {
      {"unknown schema keyword", SpecWithSchema("{type: array, items: {type: string}, minItems: 1}"),
       "unknown keyword 'minItems'"},
      {"misspelt keyword", SpecWithSchema("{type: integer, minimun: 1}"), "unknown keyword 'minimun'"},
      {"format not checked", SpecWithSchema("{type: string, format: uuid}"),
       "format \"uuid\" is not checked"},
      {"keyword of another type", SpecWithSchema("{type: integer, minLength: 1}"),
       "'minLength' does not apply to type integer"},
      {"unknown type", SpecWithSchema("{type: int}"), "type: must be one of"},
      {"dangling $ref", SpecWithSchema("$ref: '#/components/schemas/Nope'"),
       "'#/components/schemas/Nope' names nothing in components/schemas"},
      {"$ref with a sibling", SpecWithSchema("{$ref: '#/components/schemas/Unused', nullable: true}"),
       "'nullable' beside $ref is ignored"},
      {"$ref cycle",
       SpecWithSchema("$ref: '#/components/schemas/A'",
                      "A: {$ref: '#/components/schemas/B'}\n"
                      "B: {$ref: '#/components/schemas/A'}"),
       "$ref cycle"},
      {"required but closed out",
       SpecWithSchema("{type: object, additionalProperties: false, required: [a]}"),
       "'a' is required but not in properties"},
      {"enum of the wrong type", SpecWithSchema("{type: integer, enum: [1, two]}"),
       "\"two\" is not of type integer"},
      {"array without items", SpecWithSchema("type: array"), "an array schema needs items"},
      {"bad pattern", SpecWithSchema("{type: string, pattern: '[a-'}"), "not a valid regular expression"},
      {"exclusiveMinimum alone", SpecWithSchema("{type: number, exclusiveMinimum: true}"), "needs minimum"},
      {"OpenAPI 3.1", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
       "must be a 3.0.x version"},
      {"unknown operation key",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': "
       "{description: x}}\n      callbacks: {}\n",
       "unknown key 'callbacks'"},
      {"response headers are not checked",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        "
       "'200': "
       "{description: x, headers: {}}\n",
       "unknown key 'headers'"},
      {"undeclared path parameter",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      responses: "
       "{'200': "
       "{description: x}}\n",
       "path parameters {id} of the template but {} declared"},
      {"partial segment template",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/x{id}:\n    get:\n      responses: "
       "{'200': "
       "{description: x}}\n",
       "must be a whole segment"},
      {"two templates for the same paths",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n"
       "  /a/{x}:\n    parameters: [{name: x, in: path, required: true, schema: {type: string}}]\n"
       "    get: {responses: {'200': {description: x}}}\n"
       "  /a/{y}:\n    parameters: [{name: y, in: path, required: true, schema: {type: string}}]\n"
       "    get: {responses: {'200': {description: x}}}\n",
       "matches the same paths as"},
      {"bad status key",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'2000': "
       "{description: x}}\n",
       "not a status code"},
      {"unknown security scheme",
       "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nsecurity: [{bearer: []}]\npaths: {}\n",
       "no security scheme 'bearer'"},
      {"not YAML", "openapi: [3.0.3\n", "not valid YAML: line"},
      {"missing paths", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n", "missing 'paths'"},
  };
  for (const LoadErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    try {
      OpenApiSpec::Parse(c.spec, "inline.yaml");
      ADD_FAILURE() << "loaded";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), ::testing::StartsWith("inline.yaml: "));
      EXPECT_THAT(e.what(), HasSubstr(c.message));
    }
  }
}

TEST(OpenApiCheckTest, LoadNamesAMissingFile) {
  try {
    OpenApiSpec::Load("/nonexistent/openapi.yaml");
    ADD_FAILURE() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/openapi.yaml: cannot read the file");
  }
}

TEST(OpenApiCheckTest, LoadListsTheLocationOfEachProblem) {
  try {
    OpenApiSpec::Parse(
        SpecWithSchema("{type: object, properties: {a: {type: string, maxItems: 2}, b: {type: nope}}}"),
        "x.yaml");
    ADD_FAILURE() << "loaded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("x.yaml: not an OpenAPI file this checker accepts (2 problems):"));
    EXPECT_THAT(what,
                HasSubstr(R"(paths["/things/{id}"].get.responses["200"].content["application/json"].schema.)"
                          R"(properties.a.maxItems: unknown keyword 'maxItems')"));
    EXPECT_THAT(what, HasSubstr("properties.b.type: must be one of"));
  }
}

TEST(OpenApiCheckTest, YamlScalarsFollowTheCoreSchema) {
  // `no` and `on` stay strings (YAML 1.1 would make them booleans); quoted numbers stay strings.
  const OpenApiSpec spec = OpenApiSpec::Parse(SpecWithSchema("{type: string, enum: [no, on, '3']}"));
  EXPECT_THAT(CheckBody(spec, R"("no")"), IsEmpty());
  EXPECT_THAT(CheckBody(spec, R"("3")"), IsEmpty());
  EXPECT_THAT(CheckBody(spec, R"("yes")"), ElementsAre(HasSubstr(R"(is not one of ["no", "on", "3"])")));
}

// ---------------------------------------------------------------------------------------------
// The real api/openapi.yaml.

class RealSpecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { spec_ = new OpenApiSpec(OpenApiSpec::Load(RIGSHIFT_OPENAPI)); }
  static void TearDownTestSuite() {
    delete spec_;
    spec_ = nullptr;
  }
  static const OpenApiSpec& spec() { return *spec_; }

 private:
  static OpenApiSpec* spec_;
};
OpenApiSpec* RealSpecTest::spec_ = nullptr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(RealSpecTest, DocumentsEveryRouteOfTheApiPageAndNoOther) {
  const std::string doc = ReadFile(RIGSHIFT_API_DOC);
  ASSERT_FALSE(doc.empty());
  std::set<std::pair<std::string, std::string>> in_doc;
  static const std::regex route(R"(`(GET|POST|PUT|DELETE|PATCH) (/[A-Za-z0-9_/{}-]+))");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), route); it != std::sregex_iterator(); ++it)
    in_doc.emplace((*it)[1], (*it)[2]);
  // "`GET /v1/policy`, `PUT /v1/policy`" and the like are all matched; the list is the contract.
  const auto ops = spec().Operations();
  const std::set<std::pair<std::string, std::string>> in_spec(ops.begin(), ops.end());
  EXPECT_EQ(in_spec, in_doc);
  EXPECT_EQ(in_spec.size(), 48u);
}

TEST_F(RealSpecTest, ALeaseFromTheApiPageConforms) {
  const std::string lease =
      R"({"id": 17, "tenant": "acme", "state": "running", "kind": "on_demand", "gpus": 4,
    "models": ["RTX 3090"], "min_vram_gb": 24, "interconnect": "node", "hours": 2,
    "price_usd_per_gpu_h": 0.3, "price_micro_usd_per_gpu_h": 300000,
    "devices": [{"node": "gpu-3090-3", "slot": 0, "model": "RTX 3090"},
                {"node": "gpu-3090-3", "slot": 1, "model": "RTX 3090"},
                {"node": "gpu-3090-3", "slot": 2, "model": "RTX 3090"},
                {"node": "gpu-3090-3", "slot": 3, "model": "RTX 3090"}],
    "created_at": "2026-11-21T10:00:00Z", "started_at": "2026-11-21T10:00:00Z", "ended_at": null,
    "billed_seconds": 120, "billed_micro_usd": 40000, "billed_usd": 0.04, "reason": "", "workload": null})";
  EXPECT_THAT(spec().Check("POST", "/v1/leases", 201, "application/json", lease), IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", lease), IsEmpty());
  EXPECT_THAT(spec().Check("DELETE", "/v1/leases/17", 200, "application/json", lease), IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/leases?tenant=acme&state=running", 200, "application/json",
                           R"({"leases": [)" + lease + "]}"),
              IsEmpty());

  // A pending lease until cancelled: no devices, no start, hours null.
  std::string pending = std::regex_replace(lease, std::regex(R"("hours": 2)"), R"("hours": null)");
  pending = std::regex_replace(pending, std::regex(R"("started_at": "[^"]*")"), R"("started_at": null)");
  pending = std::regex_replace(pending, std::regex(R"("devices": \[[^\]]*\])"), R"("devices": [])");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", pending), IsEmpty());

  // What the server must not do: an undocumented field, a wrong type, a state outside the list,
  // a time that is not RFC 3339 UTC.
  const std::string extra =
      std::regex_replace(lease, std::regex(R"("reason": "")"), R"("reason": "", "node": "x")");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", extra),
              ElementsAre("GET /v1/leases/{id} 200: $.node: undocumented property"));
  const std::string slot = std::regex_replace(lease, std::regex(R"("slot": 0)"), R"("slot": "0")");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", slot),
              ElementsAre("GET /v1/leases/{id} 200: $.devices[0].slot: expected integer, got string"));
  const std::string money =
      std::regex_replace(lease, std::regex(R"("billed_micro_usd": 40000)"), R"("billed_micro_usd": 40000.0)");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", money),
              ElementsAre("GET /v1/leases/{id} 200: $.billed_micro_usd: expected integer, got number"));
  const std::string state =
      std::regex_replace(lease, std::regex(R"("state": "running")"), R"("state": "done")");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", state),
              ElementsAre(HasSubstr("$.state: \"done\" is not one of")));
  const std::string time = std::regex_replace(lease, std::regex(R"("created_at": "[^"]*")"),
                                              R"("created_at": "2026-11-21T10:00:00.000+00:00")");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", time),
              ElementsAre(HasSubstr("$.created_at: \"2026-11-21T10:00:00.000+00:00\" is not a date-time")));
  const std::string missing = std::regex_replace(lease, std::regex(R"("ended_at": null,\s*)"), "");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", missing),
              ElementsAre("GET /v1/leases/{id} 200: $: missing required property \"ended_at\""));

  // A lease with a workload (docs/api.md): an image's, and a plain command's (no image).
  const std::string workload = std::regex_replace(
      lease, std::regex(R"("workload": null)"),
      R"("workload": {"image": "localhost/train:1", "command": ["python", "train.py"], "env": {"SEED": "7"},
          "state": "exited", "exit_code": 3, "started_at": "2026-11-21T10:00:02Z",
          "ended_at": "2026-11-21T10:40:33Z", "message": ""})");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", workload), IsEmpty());
  const std::string plain = std::regex_replace(
      lease, std::regex(R"("workload": null)"),
      R"("workload": {"command": ["/usr/bin/sleep", "60"], "env": {}, "state": "pending", "exit_code": null,
          "started_at": null, "ended_at": null, "message": ""})");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", plain), IsEmpty());
  const std::string done = std::regex_replace(workload, std::regex(R"("state": "exited")"), R"("state": "done")");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", done),
              ElementsAre(HasSubstr("$.workload.state: \"done\" is not one of")));
  const std::string env = std::regex_replace(workload, std::regex(R"("SEED": "7")"), R"("SEED": 7)");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", env),
              ElementsAre(HasSubstr("$.workload.env.SEED: expected string")));
  const std::string no_workload = std::regex_replace(lease, std::regex(R"(, "workload": null)"), "");
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17", 200, "application/json", no_workload),
              ElementsAre("GET /v1/leases/{id} 200: $: missing required property \"workload\""));
}

TEST_F(RealSpecTest, OffersFromTheApiPageConform) {
  const std::string offers = R"({"at": "2026-11-21T10:00:00Z",
    "offers": [{"group": "gpu-3090", "site": "odessa", "model": "RTX 3090", "vram_gb": 24,
                "gpus_per_node": 4, "interconnect": "node", "nvlink_domain_gpus": 0,
                "tier": "inference", "nodes": 10, "gpus_total": 40, "gpus_free": 36,
                "prices": [{"kind": "on_demand", "usd_per_gpu_h": 0.3, "micro_usd_per_gpu_h": 300000},
                           {"kind": "interruptible", "usd_per_gpu_h": 0.18, "micro_usd_per_gpu_h": 180000},
                           {"kind": "reserved", "usd_per_gpu_h": 0.25, "micro_usd_per_gpu_h": 250000}]}]})";
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 200, "application/json", offers), IsEmpty());
  const std::string mining_only =
      std::regex_replace(offers, std::regex(R"("tier": "inference")"), R"("tier": "mining-only")");
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 200, "application/json", mining_only),
              ElementsAre(HasSubstr("$.offers[0].tier: \"mining-only\" is not one of")));
  const std::string price = std::regex_replace(offers, std::regex(R"("micro_usd_per_gpu_h": 300000)"),
                                               R"("micro_usd_per_gpu_h": "300000")");
  EXPECT_THAT(
      spec().Check("GET", "/v1/offers", 200, "application/json", price),
      ElementsAre(HasSubstr("$.offers[0].prices[0].micro_usd_per_gpu_h: expected integer, got string")));
}

TEST_F(RealSpecTest, AnInvoiceFromTheApiPageConforms) {
  const std::string invoices = R"({"invoices": [{"tenant": "acme", "month": "2026-11",
    "lines": [{"lease": 17, "seconds": 7200, "gpus": 4, "amount_micro_usd": 2400000, "amount_usd": 2.4}],
    "total_micro_usd": 2400000, "total_usd": 2.4}]})";
  EXPECT_THAT(spec().Check("GET", "/v1/invoices?month=2026-11", 200, "application/json", invoices),
              IsEmpty());
  const std::string month = std::regex_replace(invoices, std::regex("2026-11\""), "2026-13\"");
  EXPECT_THAT(spec().Check("GET", "/v1/invoices", 200, "application/json", month),
              ElementsAre(HasSubstr("$.invoices[0].month: \"2026-13\" does not match the pattern")));
}

TEST_F(RealSpecTest, ErrorsCarryTheCodeOfTheirStatus) {
  const auto error = [](const std::string& code) {
    return R"({"error": {"code": ")" + code + R"(", "message": "no lease 99"}})";
  };
  EXPECT_THAT(spec().Check("GET", "/v1/leases/99", 404, "application/json", error("not_found")), IsEmpty());
  EXPECT_THAT(
      spec().Check("GET", "/v1/leases/99", 404, "application/json", error("invalid_argument")),
      ElementsAre(HasSubstr("GET /v1/leases/{id} 404: $.error.code: \"invalid_argument\" is not one of")));
  EXPECT_THAT(spec().Check("POST", "/v1/leases", 422, "application/json", error("failed_precondition")),
              IsEmpty());
  EXPECT_THAT(spec().Check("POST", "/v1/leases", 429, "application/json", error("resource_exhausted")),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/sites", 500, "application/json", error("data_loss")), IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 401, "application/json", error("unauthenticated")),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 401, "application/json",
                           R"({"error": {"code": "unauthenticated", "message": ""}})"),
              ElementsAre(HasSubstr("$.error.message: \"\" is shorter than minLength 1")));
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 401, "application/json",
                           R"({"error": {"code": "unauthenticated", "message": "no token", "status": 401}})"),
              ElementsAre("GET /v1/offers 401: $.error.status: undocumented property"));
  EXPECT_THAT(spec().Check("GET", "/readyz", 503, "application/json", error("unavailable")), IsEmpty());
  // A status a route cannot give.
  EXPECT_THAT(spec().Check("GET", "/v1/offers", 422, "application/json", error("failed_precondition")),
              ElementsAre(HasSubstr("GET /v1/offers 422: status not documented")));
  EXPECT_THAT(spec().Check("GET", "/healthz", 401, "application/json", error("unauthenticated")),
              ElementsAre(HasSubstr("GET /healthz 401: status not documented")));
  // Routes that do not exist answer the generic error.
  EXPECT_THAT(spec().CheckSchema("Error", error("method_not_allowed")), IsEmpty());
  EXPECT_THAT(spec().CheckSchema("Error", error("teapot")), ElementsAre(HasSubstr("is not one of")));
}

TEST_F(RealSpecTest, RequestExamplesFromTheApiPage) {
  EXPECT_THAT(
      spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 4, "models": ["RTX 3090"], "min_vram_gb": 24,
      "interconnect": "node", "hours": 2, "kind": "on_demand", "max_price_usd_per_gpu_h": 0.5})"),
      IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 1})"), IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 8, "hours": 0.5, "kind": "interruptible",
      "max_price_usd_per_gpu_h": 0.2})"),
              IsEmpty());
  // The bid is required for an interruptible lease.
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 8, "kind": "interruptible"})"),
              ElementsAre(HasSubstr("$: matches no branch of oneOf")));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 0})"),
              ElementsAre("POST /v1/leases request: $.gpus: 0 is below the minimum 1"));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 1, "hours": 0})"),
              ElementsAre(HasSubstr("$.hours: 0 is not above 0")));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 1, "gpu": 2})"),
              ElementsAre("POST /v1/leases request: $.gpu: undocumented property"));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 4, "workload": {"image": "localhost/train:1",
      "command": ["python", "train.py"], "env": {"SEED": "7"}}})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 1, "workload": null})"), IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/leases", R"({"gpus": 1, "workload": {"image": "x", "workdir": "/"}})"),
              ElementsAre("POST /v1/leases request: $.workload.workdir: undocumented property"));

  EXPECT_THAT(spec().CheckRequest("POST", "/v1/tokens", R"({"role": "tenant", "tenant": "acme"})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/tokens", R"({"role": "agent"})"), IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/tokens", R"({"role": "tenant"})"),
              ElementsAre(HasSubstr("matches no branch of oneOf")));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/tokens", R"({"role": "operator", "tenant": "acme"})"),
              ElementsAre(HasSubstr("matches no branch of oneOf")));

  EXPECT_THAT(spec().CheckRequest(
                  "POST", "/v1/agents/register",
                  R"({"node": "gpu-3090-3", "devices": [{"slot": 0, "model": "RTX 3090", "vram_gb": 24}]})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest(
                  "POST", "/v1/agents/gpu-3090-3/heartbeat",
                  R"({"generation": 3, "devices": [{"slot": 0, "use": "lease", "lease": 17, "coin": "",
                                      "power_w": 310}, {"slot": 1, "use": "mining", "coin": "ETC"}]})"),
              IsEmpty());
  // What discovery found, the self-test; telemetry, drains and workloads (docs/api.md).
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/agents/register", R"({"node": "gpu-3090-3", "devices": [{"slot": 0,
      "model": "RTX 3090", "vram_gb": 24, "uuid": "GPU-0f2c", "pcie_gen": 4, "pcie_width": 16,
      "power_limit_w": {"min": 100, "max": 350}}], "host": {"cpu_model": "EPYC", "cpu_cores": 16, "ram_mib": 65536,
      "disk_free_mib": 512000, "driver_version": "550.54.14"}, "self_test": {"passed": false, "reason": "GPU 0"}})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/agents/register", R"({"node": "n", "devices": [{"slot": 0,
      "model": "m", "vram_gb": 8, "pcie_width": 0}]})"),
              ElementsAre(HasSubstr("$.devices[0].pcie_width: 0 is below the minimum 1")));
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/agents/gpu-3090-3/heartbeat",
                                  R"({"generation": 3, "devices": [{"slot": 0, "use": "lease", "lease": 17,
      "temperature_c": 71, "utilization_pct": 100, "memory_used_mib": 20480, "ecc_errors": 0, "xid_errors": 2,
      "mining_observed": true}, {"slot": 1, "use": "mining", "coin": "ETC", "hashrate_hs": 61500000,
      "accepted": 120, "rejected": 3}, {"slot": 2, "use": "off", "drained": "no hashrate for 120 s"}],
      "workloads": [{"lease": 17, "state": "running", "started_at": "2026-11-21T10:00:02Z"},
                    {"lease": 18, "state": "exited", "exit_code": 3, "started_at": 1793491205,
                     "ended_at": "2026-11-21T10:40:33Z", "message": ""}]})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest("POST", "/v1/agents/gpu-3090-3/heartbeat",
                                  R"({"generation": 3, "devices": [{"slot": 0, "use": "idle", "temperature_c": 500}],
      "workloads": [{"lease": 17, "state": "done"}]})"),
              ElementsAre(HasSubstr("$.devices[0].temperature_c: 500 is above the maximum 200"),
                          HasSubstr("$.workloads[0].state: \"done\" is not one of")));
  EXPECT_THAT(spec().CheckRequest("PUT", "/v1/policy", R"({"pool_fee_pct": 1.0, "switch_min_gain_pct": 5,
      "switch_min_dwell_s": 600, "miner_restart_s": 120, "resume_margin_pct": 2})"),
              IsEmpty());
  EXPECT_THAT(spec().CheckRequest("PUT", "/v1/policy", R"({"pool_fee_pct": 1.0})"),
              ElementsAre(HasSubstr("missing required property \"switch_min_gain_pct\""),
                          HasSubstr("\"switch_min_dwell_s\""), HasSubstr("\"miner_restart_s\""),
                          HasSubstr("\"resume_margin_pct\"")));
}

TEST_F(RealSpecTest, AgentAndHealthAnswersConform) {
  EXPECT_THAT(spec().Check("POST", "/v1/agents/register", 200, "application/json",
                           R"({"node": "gpu-3090-3", "generation": 4})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("POST", "/v1/agents/gpu-3090-3/heartbeat", 200, "application/json",
                           R"({"generation": 5})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/agents/gpu-3090-3/desired", 200, "application/json",
                           R"({"node": "gpu-3090-3", "generation": 5, "devices": [{"slot": 0, "use": "lease",
                               "lease": 17, "coin": ""}, {"slot": 1, "use": "mining", "coin": "ETC"}],
                               "leases": [{"id": 17, "slots": [0], "workload": {"image": "localhost/train:1",
                               "command": ["python", "train.py"], "env": {"SEED": "7"}},
                               "ends_at": "2026-11-21T12:00:00Z", "cpus": 2.0, "memory_mib": 24576, "pids": 4096}],
                               "closed": "", "quarantine": ""})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/agents/gpu-3090-3/desired?after=5&wait_ms=20000", 200, "application/json",
                           R"({"node": "gpu-3090-3", "generation": 5, "devices": [], "leases": [{"id": 17,
                               "slots": [0, 1], "workload": null, "ends_at": null, "cpus": 4, "memory_mib": 0,
                               "pids": 0}], "closed": "discovery found it mining-only", "quarantine": ""})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/agents/gpu-3090-3/desired", 200, "application/json",
                           R"({"node": "gpu-3090-3", "generation": 5, "devices": []})"),
              ElementsAre(HasSubstr("missing required property \"leases\""),
                          HasSubstr("missing required property \"closed\""),
                          HasSubstr("missing required property \"quarantine\"")));
  // Workload logs: the agent's chunk is acknowledged in JSON; the tenant reads raw text.
  EXPECT_THAT(spec().Check("POST", "/v1/agents/gpu-3090-3/leases/17/logs?offset=0", 200, "application/json",
                           R"({"lease": 17, "size": 12})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("POST", "/v1/agents/gpu-3090-3/leases/17/logs?offset=99", 422, "application/json",
                           R"({"error": {"code": "failed_precondition", "message": "send from offset 12"}})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/leases/17/logs?offset=6", 200, "text/plain; charset=utf-8", "world\n"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/healthz", 200, "application/json", R"({"status": "ok"})"), IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8",
                           "rigshift_leases{state=\"running\"} 3\n"),
              IsEmpty());
}

TEST_F(RealSpecTest, OperatorAnswersConform) {
  const std::pair<const char*, const char*> answers[] = {
      {"/v1/sites", R"({"sites": [{"name": "odessa", "datacenter": false, "power_cap_w": 900000, "pue": 1.1,
          "tariff": "series", "settlement_point": "HB_HUBAVG", "price_micro_usd_per_mwh": -3250000,
          "price_usd_per_mwh": -3.25, "idle_w_per_gpu": 15, "draw_w": 512345,
          "curtailment": {"phase": "holding", "price_trigger": true, "limit_w": 300000,
          "limit_reason": "price 212.40 USD/MWh, strike 150.00: holding", "committed": false,
          "active_events": 0}}]})"},
      {"/v1/nodes",
       R"({"nodes": [{"name": "gpu-3090-3", "group": "gpu-3090", "site": "odessa", "model": "RTX 3090",
          "gpus": 4, "agent_state": "ready", "last_heartbeat_at": "2026-11-21T10:00:05Z", "desired_generation": 5,
          "reported_generation": 5, "quarantine": null, "closed": "discovery found it mining-only; PCIe x1",
          "divergent_devices": 1, "host": {"cpu_model": "EPYC", "cpu_cores": 16, "ram_mib": 65536,
          "disk_free_mib": null, "driver_version": ""}}, {"name": "gpu-3090-4", "group": "gpu-3090",
          "site": "odessa", "model": "RTX 3090", "gpus": 4, "agent_state": "quarantined",
          "last_heartbeat_at": null, "desired_generation": 0, "reported_generation": null,
          "quarantine": "GPU 2 did not answer", "closed": null, "divergent_devices": 0, "host": null}]})"},
      {"/v1/devices",
       R"({"devices": [{"node": "gpu-3090-3", "group": "gpu-3090", "slot": 0, "model": "RTX 3090",
          "use": "lease", "lease": 17, "coin": null, "tier": "inference", "ai_licensed": true,
          "reasons": ["PCIe x8: needs x16 for training"], "power_w": 310, "uuid": "GPU-0f2c",
          "pcie": {"gen": 4, "width": null}, "observed": {"at": "2026-11-21T10:00:05Z", "use": "lease",
          "lease": 17, "coin": null, "power_w": 310, "temperature_c": 71, "utilization_pct": 100,
          "memory_used_mib": 20480, "ecc_errors": 0, "xid_errors": null, "hashrate_hs": null, "accepted": null,
          "rejected": null, "mining_observed": true}, "divergence": "a mining process runs on a GPU leased to lease 17",
          "drained": null}, {"node": "rig-1", "group": "risers",
          "slot": 0, "model": "RTX 3070", "use": "mining", "lease": null, "coin": "ETC", "tier": "mining-only",
          "ai_licensed": true, "reasons": ["PCIe x1: needs x8 or more for 20.3 TFLOPS"], "power_w": null,
          "uuid": null, "pcie": null, "observed": null, "divergence": null, "drained": "xid errors climbing"}]})"},
      {"/v1/alerts?acknowledged=false",
       R"({"alerts": [{"id": 3, "at": "2026-11-21T10:00:05Z", "kind": "gpu_drained", "node": "rig-1", "slot": 0,
          "message": "GPU rig-1 slot 0 drained: xid errors climbing", "acknowledged": false},
          {"id": 4, "at": "2026-11-21T10:00:06Z", "kind": "node_quarantined", "node": "gpu-3090-4", "slot": null,
          "message": "node gpu-3090-4 failed its self-test: GPU 2 did not answer", "acknowledged": false}]})"},
      {"/v1/market", R"({"at": "2026-11-21T10:00:00Z", "source": "replay of 2021-01-01 at 60x", "sources": [], "coins": [{"coin": "ETC", "algorithm": "Etchash",
          "price_nano_usd": 25120000000, "price_usd": 25.12, "hashes_per_block": "1234567890123456789012",
          "block_reward_nano": 2560000000, "block_reward": 2.56}], "electricity": [{"site": "odessa",
          "price_micro_usd_per_mwh": 31500000, "price_usd_per_mwh": 31.5}], "list_prices": [{"group": "gpu-3090",
          "model": "RTX 3090", "micro_usd_per_gpu_h": 300000, "usd_per_gpu_h": 0.3,
          "interruptible_floor_micro_usd_per_gpu_h": 160000, "interruptible_floor_usd_per_gpu_h": 0.16}],
          "best_coins": [{"group": "gpu-3090", "model": "RTX 3090", "coin": "ETC", "revenue_usd_per_day": 2.1,
          "power_cost_usd_per_day": 0.5, "net_usd_per_day": 1.6, "power_w": 290}]})"},
      {"/v1/policy", R"({"pool_fee_pct": 1, "switch_min_gain_pct": 5, "switch_min_dwell_s": 600,
          "miner_restart_s": 120, "resume_margin_pct": 2})"},
      {"/v1/ledger?from=2026-11-01&to=2026-11-21",
       R"({"days": [{"date": "2026-11-21", "ai_usage_micro_usd": 2400000,
          "ai_usage_usd": 2.4, "mining_revenue_micro_usd": 5000000, "mining_revenue_usd": 5,
          "energy_cost_micro_usd": 8000000, "energy_cost_usd": 8, "net_micro_usd": -600000, "net_usd": -0.6}],
          "totals": {"ai_usage_micro_usd": 2400000, "ai_usage_usd": 2.4, "mining_revenue_micro_usd": 5000000,
          "mining_revenue_usd": 5, "energy_cost_micro_usd": 8000000, "energy_cost_usd": 8,
          "net_micro_usd": -600000, "net_usd": -0.6}})"},
      {"/v1/tokens", R"({"tokens": [{"id": "0123456789ab", "role": "tenant", "tenant": "acme",
          "created_at": "2026-11-21T09:00:00Z"}, {"id": "ba9876543210", "role": "operator", "tenant": null,
          "created_at": "2026-11-21T09:00:00Z"}]})"},
  };
  for (const auto& [path, body] : answers) {
    SCOPED_TRACE(path);
    EXPECT_THAT(spec().Check("GET", path, 200, "application/json", body), IsEmpty());
  }
  EXPECT_THAT(spec().Check("POST", "/v1/alerts/3/ack", 200, "application/json",
                           R"({"id": 3, "at": "2026-11-21T10:00:05Z", "kind": "divergence", "node": "rig-1",
                               "slot": 0, "message": "rig-1 slot 0: asked to mine ETC, reports ETH",
                               "acknowledged": true})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/alerts", 200, "application/json",
                           R"({"alerts": [{"id": 3, "at": "2026-11-21T10:00:05Z", "kind": "fire", "node": "rig-1",
                               "slot": -1, "message": "x", "acknowledged": false}]})"),
              ElementsAre(HasSubstr("$.alerts[0].kind: \"fire\" is not one of"),
                          HasSubstr("$.alerts[0].slot: -1 is below the minimum 0")));
  EXPECT_THAT(spec().Check("POST", "/v1/tokens", 201, "application/json",
                           R"({"token": "rs_7f3a9c1e5b2d4f6a8c0e", "id": "0123456789ab", "role": "tenant",
                               "tenant": "acme", "created_at": "2026-11-21T09:00:00Z"})"),
              IsEmpty());
  EXPECT_THAT(spec().Check("GET", "/v1/tokens", 200, "application/json",
                           R"({"tokens": [{"id": "0123456789AB", "role": "tenant", "tenant": "acme",
                               "created_at": "2026-11-21T09:00:00Z", "hash": "0123456789ab..."}]})"),
              ElementsAre(HasSubstr("$.tokens[0].hash: undocumented property"),
                          HasSubstr("$.tokens[0].id: \"0123456789AB\" does not match the pattern")));
}

// ---------------------------------------------------------------------------------------------
// Rules the file keeps that a schema cannot state, read from the YAML directly.

class RealSpecLintTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = YAML::LoadFile(RIGSHIFT_OPENAPI); }

  YAML::Node Resolve(const YAML::Node& node) const {
    if (!node.IsMap() || !node["$ref"]) return node;
    const std::string ref = node["$ref"].as<std::string>();
    const std::string rest = ref.substr(std::string("#/components/").size());
    const size_t slash = rest.find('/');
    return root_["components"][rest.substr(0, slash)][rest.substr(slash + 1)];
  }

  // Every object schema reachable from `schema` must close with additionalProperties: false.
  void ExpectClosed(const YAML::Node& node, const std::string& where, std::set<std::string>* seen) const {
    if (node.IsMap() && node["$ref"]) {
      const std::string ref = node["$ref"].as<std::string>();
      if (seen->insert(ref).second) ExpectClosed(Resolve(node), ref, seen);
      return;
    }
    if (!node.IsMap()) return;
    if (node["type"] && node["type"].as<std::string>() == "object") {
      EXPECT_TRUE(node["additionalProperties"] && node["additionalProperties"].IsScalar() &&
                  node["additionalProperties"].as<std::string>() == "false")
          << where << " is an open object";
    }
    if (node["properties"])
      for (const auto& kv : node["properties"])
        ExpectClosed(kv.second, where + "." + kv.first.as<std::string>(), seen);
    if (node["items"]) ExpectClosed(node["items"], where + "[]", seen);
    if (node["oneOf"])
      for (const auto& branch : node["oneOf"]) ExpectClosed(branch, where + ".oneOf", seen);
  }

  YAML::Node root_;
};

TEST_F(RealSpecLintTest, EveryResponseObjectIsClosed) {
  std::set<std::string> seen;
  for (const auto& path : root_["paths"]) {
    for (const auto& op : path.second) {
      if (op.first.as<std::string>() == "parameters") continue;
      for (const auto& response : op.second["responses"]) {
        const YAML::Node r = Resolve(response.second);
        if (!r["content"]) continue;
        for (const auto& media : r["content"])
          ExpectClosed(media.second["schema"],
                       path.first.as<std::string>() + " " + op.first.as<std::string>() + " " +
                           response.first.as<std::string>(),
                       &seen);
      }
    }
  }
  EXPECT_GT(seen.size(), 30u);
}

TEST_F(RealSpecLintTest, AuthAndErrorStatusesOnEveryRoute) {
  EXPECT_EQ(root_["security"][0]["bearerAuth"].size(), 0u);
  EXPECT_EQ(root_["components"]["securitySchemes"]["bearerAuth"]["scheme"].as<std::string>(), "bearer");
  for (const auto& path : root_["paths"]) {
    const std::string p = path.first.as<std::string>();
    for (const auto& op : path.second) {
      const std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      SCOPED_TRACE(method + " " + p);
      const YAML::Node responses = op.second["responses"];
      if (p.rfind("/v1/", 0) == 0) {
        EXPECT_FALSE(op.second["security"]) << "a /v1 route uses the global bearerAuth";
        for (const char* code : {"401", "403", "500", "503"}) EXPECT_TRUE(responses[code]) << code;
      } else {
        ASSERT_TRUE(op.second["security"]);
        EXPECT_EQ(op.second["security"].size(), 0u) << "no token on " << p;
        EXPECT_FALSE(responses["401"]);
      }
      if (op.second["requestBody"]) {
        for (const char* code : {"400", "413"}) EXPECT_TRUE(responses[code]) << code;
      }
      if (op.second["parameters"] || path.second["parameters"]) {
        const bool only_node_param = p.find("{node}") != std::string::npos && !op.second["requestBody"];
        if (!only_node_param) {
          EXPECT_TRUE(responses["400"]) << "a route with parameters may refuse them";
        }
      }
    }
  }
}

// The file is valid OpenAPI 3.0 for the standard validator too, where it is installed.
TEST(OpenApiValidatorTest, StandardValidatorAcceptsTheFile) {
  if (std::system("python3 -c 'import openapi_spec_validator' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with openapi_spec_validator is not available";
  const std::string command =
      std::string("python3 -m openapi_spec_validator '") + RIGSHIFT_OPENAPI + "' 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
}

}  // namespace
}  // namespace rigshift
