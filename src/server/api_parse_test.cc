#include "server/api_parse.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace rigshift {
namespace {

// A refused input: the code and words its message must contain (the field's name at least).
struct Bad {
  std::string name;
  std::string input;
  std::vector<std::string> words;
};

template <typename T>
void ExpectRefused(const Result<T>& r, const Bad& c, StatusCode code = StatusCode::kInvalidArgument) {
  SCOPED_TRACE(c.name + ": " + c.input.substr(0, 200));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), code) << r.error().ToString();
  for (const std::string& w : c.words) {
    EXPECT_NE(r.error().message().find(w), std::string::npos) << "message: " << r.error().message() << "\nlacks: " << w;
  }
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

DeviceInventory Device(int slot, std::string model, int vram_gb) {
  DeviceInventory d;
  d.slot = slot;
  d.model = std::move(model);
  d.vram_gb = vram_gb;
  return d;
}

DeviceReport Report(int slot, ReportedUse use, std::optional<LeaseId> lease, std::string coin,
                    std::optional<Watts> power) {
  DeviceReport r;
  r.slot = slot;
  r.use = use;
  r.lease = lease;
  r.coin = std::move(coin);
  r.power = power;
  return r;
}

// "[\"m0\", \"m1\", ...]" with n entries.
std::string ModelList(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? ", \"m" : "\"m") + std::to_string(i) + "\"";
  return out + "]";
}

// ----- Body-level rules, shared by every parser (checked through the lease parser). -----

TEST(ParseBodyTest, RefusesWhatIsNotOneJsonObject) {
  const std::vector<Bad> cases = {
      {"empty", "", {"body is empty"}},
      {"blank", " \n\t ", {"body is empty"}},
      {"truncated", R"({"gpus": 4)", {"body is not valid JSON", "line 1"}},
      {"trailing garbage", R"({"gpus": 4} x)", {"body is not valid JSON"}},
      {"two objects", R"({"gpus": 4}{"gpus": 4})", {"body is not valid JSON"}},
      {"single quotes", R"({'gpus': 4})", {"body is not valid JSON"}},
      {"comment", "{\"gpus\": 4 /* four */}", {"body is not valid JSON"}},
      {"trailing comma", R"({"gpus": 4,})", {"body is not valid JSON"}},
      {"NaN", R"({"gpus": NaN})", {"body is not valid JSON"}},
      {"Infinity", R"({"gpus": Infinity})", {"body is not valid JSON"}},
      {"number beyond double", R"({"gpus": 1e400})", {"body is not valid JSON", "overflow"}},
      {"bad UTF-8", "{\"models\": [\"\xff\"]}", {"body is not valid JSON"}},
      {"array", R"([{"gpus": 4}])", {"must be a JSON object", "got a list"}},
      {"string", R"("gpus")", {"must be a JSON object", "got \"gpus\""}},
      {"number", "4", {"must be a JSON object", "got 4"}},
      {"null", "null", {"must be a JSON object", "got null"}},
      {"duplicate field", R"({"gpus": 4, "gpus": 8})", {"duplicate field \"gpus\""}},
      {"duplicate even when equal", R"({"gpus": 4, "hours": 1, "gpus": 4})", {"duplicate field \"gpus\""}},
      {"too deep", Repeat("[", 40) + Repeat("]", 40), {"nested deeper than 16"}},
      {"too large", "{\"gpus\": 1" + std::string(kMaxBodyBytes, ' ') + "}", {"bytes; at most 65536"}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseLeaseRequest(c.input), c);
}

TEST(ParseBodyTest, ParserMessagesArePrintableAndShort) {
  auto r = ParseLeaseRequest("{\"gpus\": \"" + std::string(1000, 'x') + "\xff\"}");
  ASSERT_FALSE(r.has_value());
  const std::string& m = r.error().message();
  EXPECT_LT(m.size(), 300u) << m;
  for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << m;
}

TEST(ParseBodyTest, AcceptsWhitespaceAndByteOrderMark) {
  EXPECT_TRUE(ParseLeaseRequest(" \n{ \"gpus\" : 4 }\n ").has_value());
  EXPECT_TRUE(ParseLeaseRequest("\xEF\xBB\xBF{\"gpus\": 4}").has_value());
}

// ----- POST /v1/leases -----

LeaseAsk Ask(int gpus) {
  LeaseAsk a;
  a.gpus = gpus;
  return a;
}

TEST(ParseLeaseRequestTest, AcceptsEveryField) {
  auto r = ParseLeaseRequest(R"({"gpus": 4, "models": ["RTX 3090", "rtx3090ti"], "min_vram_gb": 24,
      "interconnect": "node", "hours": 2, "kind": "on_demand", "max_price_usd_per_gpu_h": 0.5})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  LeaseAsk want;
  want.gpus = 4;
  want.models = {"RTX 3090", "rtx3090ti"};
  want.min_vram_gb = 24;
  want.interconnect = Interconnect::kNode;
  want.duration_s = 7200;
  want.kind = RequestKind::kOnDemand;
  want.max_price = RentalPrice(500'000);
  EXPECT_EQ(*r, want);
}

TEST(ParseLeaseRequestTest, GoodValues) {
  struct Good {
    std::string name;
    std::string body;
    LeaseAsk want;
  };
  auto with = [](LeaseAsk a, auto&& f) {
    f(a);
    return a;
  };
  const std::vector<Good> cases = {
      {"only gpus", R"({"gpus": 1})", Ask(1)},
      {"most gpus", R"({"gpus": 4096})", Ask(4096)},
      {"integral float", R"({"gpus": 4.0})", Ask(4)},
      {"exponent", R"({"gpus": 4e0})", Ask(4)},
      {"exponent 1e3", R"({"gpus": 1E3})", Ask(1000)},
      {"fraction exponent", R"({"gpus": 0.04e2})", Ask(4)},
      {"nulls are absent",
       R"({"gpus": 2, "models": null, "min_vram_gb": null, "interconnect": null, "hours": null, "kind": null,
           "max_price_usd_per_gpu_h": null})",
       Ask(2)},
      {"models empty", R"({"gpus": 2, "models": []})", Ask(2)},
      {"models kept as given", R"({"gpus": 2, "models": [" GeForce RTX 3090 ", "rtx3090", "rtx3090"]})",
       with(Ask(2), [](LeaseAsk& a) { a.models = {" GeForce RTX 3090 ", "rtx3090", "rtx3090"}; })},
      {"unicode model", R"({"gpus": 2, "models": ["Radeon\u2122 RX 6800"]})",
       with(Ask(2), [](LeaseAsk& a) { a.models = {"Radeon\u2122 RX 6800"}; })},
      {"64 models", R"({"gpus": 2, "models": )" + ModelList(64) + "}",
       with(Ask(2), [](LeaseAsk& a) { for (int i = 0; i < 64; ++i) a.models.push_back("m" + std::to_string(i)); })},
      {"256-character model", R"({"gpus": 2, "models": [")" + std::string(256, 'x') + "\"]}",
       with(Ask(2), [](LeaseAsk& a) { a.models = {std::string(256, 'x')}; })},
      {"256 characters, more bytes", R"({"gpus": 2, "models": [")" + Repeat("\u00e9", 256) + "\"]}",
       with(Ask(2), [](LeaseAsk& a) { a.models = {Repeat("\u00e9", 256)}; })},
      {"vram 0", R"({"gpus": 2, "min_vram_gb": 0})", Ask(2)},
      {"vram -0", R"({"gpus": 2, "min_vram_gb": -0})", Ask(2)},
      {"vram 1024", R"({"gpus": 2, "min_vram_gb": 1024})",
       with(Ask(2), [](LeaseAsk& a) { a.min_vram_gb = 1024; })},
      {"interconnect any", R"({"gpus": 2, "interconnect": "any"})", Ask(2)},
      {"interconnect nvlink", R"({"gpus": 2, "interconnect": "nvlink"})",
       with(Ask(2), [](LeaseAsk& a) { a.interconnect = Interconnect::kNvlink; })},
      {"hours fractional", R"({"gpus": 2, "hours": 0.5})", with(Ask(2), [](LeaseAsk& a) { a.duration_s = 1800; })},
      {"hours below half a second is one second", R"({"gpus": 2, "hours": 0.00013888})",  // 0.499968 s
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 1; })},
      {"hours 2.25 s rounds down", R"({"gpus": 2, "hours": 0.000625})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 2; })},
      {"hours 4.5 s rounds away from zero", R"({"gpus": 2, "hours": 0.00125})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 5; })},
      // 2.49999999999999999999999999999999999840 s: a double would read 2.5 and round up.
      {"hours just below 2.5 s rounds down", R"({"gpus": 2, "hours": 0.00069444444444444444444444444444444444})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 2; })},
      {"hours tiny is one second", R"({"gpus": 2, "hours": 1e-300})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 1; })},
      {"hours most", R"({"gpus": 2, "hours": 8760})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 8760 * 3600; })},
      {"hours checked after rounding to seconds", R"({"gpus": 2, "hours": 8760.0000001})",
       with(Ask(2), [](LeaseAsk& a) { a.duration_s = 8760 * 3600; })},
      {"hours exponent", R"({"gpus": 2, "hours": 1e1})", with(Ask(2), [](LeaseAsk& a) { a.duration_s = 36000; })},
      {"kind interruptible with bid", R"({"gpus": 2, "kind": "interruptible", "max_price_usd_per_gpu_h": 0.12})",
       with(Ask(2), [](LeaseAsk& a) {
         a.kind = RequestKind::kInterruptible;
         a.max_price = RentalPrice(120'000);
       })},
      {"kind reserved", R"({"gpus": 2, "kind": "reserved"})",
       with(Ask(2), [](LeaseAsk& a) { a.kind = RequestKind::kReserved; })},
      {"price smallest", R"({"gpus": 2, "max_price_usd_per_gpu_h": 0.000001})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(1); })},
      {"price half a micro rounds up", R"({"gpus": 2, "max_price_usd_per_gpu_h": 0.0000005})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(1); })},
      {"price rounds half away from zero", R"({"gpus": 2, "max_price_usd_per_gpu_h": 0.1234565})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(123'457); })},
      {"price just below half rounds down",
       R"({"gpus": 2, "max_price_usd_per_gpu_h": 0.12345649999999999999999999999999999999999})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(123'456); })},
      {"price most", R"({"gpus": 2, "max_price_usd_per_gpu_h": 1000})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(1'000'000'000); })},
      {"price exponent", R"({"gpus": 2, "max_price_usd_per_gpu_h": 25e-2})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(250'000); })},
      {"price integer", R"({"gpus": 2, "max_price_usd_per_gpu_h": 3})",
       with(Ask(2), [](LeaseAsk& a) { a.max_price = RentalPrice(3'000'000); })},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = ParseLeaseRequest(c.body);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->gpus, c.want.gpus);
    EXPECT_EQ(r->models, c.want.models);
    EXPECT_EQ(r->min_vram_gb, c.want.min_vram_gb);
    EXPECT_EQ(r->interconnect, c.want.interconnect);
    EXPECT_EQ(r->duration_s, c.want.duration_s);
    EXPECT_EQ(r->kind, c.want.kind);
    EXPECT_EQ(r->max_price.has_value(), c.want.max_price.has_value());
    if (r->max_price && c.want.max_price) {
      EXPECT_EQ(r->max_price->raw(), c.want.max_price->raw());
    }
  }
}

TEST(ParseLeaseRequestTest, BadValues) {
  const std::string kGpus = "\"gpus\" must be an integer between 1 and 4096";
  const std::vector<Bad> cases = {
      {"gpus missing", R"({})", {"\"gpus\" is required"}},
      {"gpus missing, others given", R"({"hours": 2})", {"\"gpus\" is required"}},
      {"gpus null", R"({"gpus": null})", {kGpus, "got null"}},
      {"gpus negative", R"({"gpus": -3})", {kGpus + ", got -3"}},
      {"gpus zero", R"({"gpus": 0})", {kGpus, "got 0"}},
      {"gpus too many", R"({"gpus": 4097})", {kGpus, "got 4097"}},
      {"gpus fraction", R"({"gpus": 4.5})", {kGpus, "got 4.5"}},
      {"gpus tiny fraction", R"({"gpus": 4.0000000000000000000001})", {kGpus}},
      {"gpus huge", R"({"gpus": 1e300})", {kGpus, "got 1e300"}},
      {"gpus beyond int64", R"({"gpus": 18446744073709551616})", {kGpus}},
      {"gpus uint64", R"({"gpus": 18446744073709551615})", {kGpus}},
      {"gpus long number cut", R"({"gpus": )" + std::string(100, '9') + "}", {kGpus, "..."}},
      {"gpus string", R"({"gpus": "4"})", {kGpus, "got \"4\""}},
      {"gpus bool", R"({"gpus": true})", {kGpus, "got true"}},
      {"gpus list", R"({"gpus": [4]})", {kGpus, "got a list"}},
      {"gpus object", R"({"gpus": {"n": 4}})", {kGpus, "got an object"}},
      {"unknown field", R"({"gpu": 4})",
       {"unknown field \"gpu\" (fields: gpus, models, min_vram_gb, interconnect, hours, kind, "
        "max_price_usd_per_gpu_h, workload)"}},
      {"unknown field before bad value", R"({"gpus": -1, "price": 1})", {"unknown field \"price\""}},
      {"unknown field case", R"({"GPUS": 4})", {"unknown field \"GPUS\""}},
      {"unknown long field is cut", "{\"" + std::string(300, 'g') + "\": 4}", {"unknown field \"ggg", "\"... (fields: gpus"}},
      {"unknown field with quote", R"({"a\"b": 4})", {R"(unknown field "a\"b")"}},
      {"models string", R"({"gpus": 2, "models": "RTX 3090"})",
       {"\"models\" must be a list of strings, got \"RTX 3090\""}},
      {"models number entry", R"({"gpus": 2, "models": ["RTX 3090", 3090]})",
       {"\"models\" must be a list of strings", "got 3090 at models[1]"}},
      {"models nested list", R"({"gpus": 2, "models": [["RTX 3090"]]})", {"\"models\" must be a list of strings"}},
      {"models null entry", R"({"gpus": 2, "models": [null]})", {"\"models\" must be a list of strings"}},
      {"models empty string", R"({"gpus": 2, "models": ["RTX 3090", ""]})", {"\"models[1]\" must not be empty"}},
      {"models blank string", R"({"gpus": 2, "models": ["   "]})", {"\"models[0]\" must not be empty"}},
      {"models too many", R"({"gpus": 2, "models": )" + ModelList(65) + "}",
       {"\"models\" has 65 entries; at most 64"}},
      {"models too long", R"({"gpus": 2, "models": [")" + std::string(257, 'x') + "\"]}",
       {"\"models[0]\" is longer than 256 characters"}},
      {"models too long in characters", R"({"gpus": 2, "models": [")" + Repeat("\u00e9", 257) + "\"]}",
       {"\"models[0]\" is longer than 256 characters"}},
      {"models control character", R"({"gpus": 2, "models": ["RTX\n3090"]})",
       {"\"models[0]\" must not contain control characters", R"(got "RTX\x0a3090")"}},
      {"models NUL", R"({"gpus": 2, "models": ["RTX\u00003090"]})", {"\"models[0]\" must not contain control"}},
      {"min_vram_gb negative", R"({"gpus": 2, "min_vram_gb": -1})",
       {"\"min_vram_gb\" must be an integer between 0 and 1024, got -1"}},
      {"min_vram_gb too big", R"({"gpus": 2, "min_vram_gb": 1025})", {"\"min_vram_gb\"", "got 1025"}},
      {"min_vram_gb fraction", R"({"gpus": 2, "min_vram_gb": 23.5})", {"\"min_vram_gb\"", "got 23.5"}},
      {"min_vram_gb string", R"({"gpus": 2, "min_vram_gb": "24GB"})", {"\"min_vram_gb\"", "got \"24GB\""}},
      {"interconnect unknown", R"({"gpus": 2, "interconnect": "pcie"})",
       {"\"interconnect\" must be one of any, node, nvlink, fabric, got \"pcie\""}},
      {"interconnect case", R"({"gpus": 2, "interconnect": "NVLink"})", {"\"interconnect\"", "got \"NVLink\""}},
      {"interconnect number", R"({"gpus": 2, "interconnect": 1})", {"\"interconnect\"", "got 1"}},
      {"hours zero", R"({"gpus": 2, "hours": 0})",
       {"\"hours\" must be a number of hours greater than 0 and at most 8760, got 0"}},
      {"hours negative zero", R"({"gpus": 2, "hours": -0.0})", {"\"hours\"", "got -0.0"}},
      {"hours negative", R"({"gpus": 2, "hours": -1})", {"\"hours\"", "got -1"}},
      {"hours tiny negative", R"({"gpus": 2, "hours": -1e-9})", {"\"hours\""}},
      {"hours over a year", R"({"gpus": 2, "hours": 8761})", {"\"hours\"", "got 8761"}},
      {"hours far over", R"({"gpus": 2, "hours": 1e100})", {"\"hours\"", "got 1e100"}},
      {"hours string", R"({"gpus": 2, "hours": "2h"})", {"\"hours\"", "got \"2h\""}},
      {"kind unknown", R"({"gpus": 2, "kind": "spot"})",
       {"\"kind\" must be one of on_demand, interruptible, reserved, got \"spot\""}},
      {"kind dash", R"({"gpus": 2, "kind": "on-demand"})", {"\"kind\"", "got \"on-demand\""}},
      {"interruptible without bid", R"({"gpus": 2, "kind": "interruptible"})",
       {"\"max_price_usd_per_gpu_h\" is required when \"kind\" is \"interruptible\""}},
      {"interruptible with null bid", R"({"gpus": 2, "kind": "interruptible", "max_price_usd_per_gpu_h": null})",
       {"\"max_price_usd_per_gpu_h\" is required"}},
      {"price zero", R"({"gpus": 2, "max_price_usd_per_gpu_h": 0})",
       {"\"max_price_usd_per_gpu_h\" must be a price in USD per GPU-hour, at least 0.000001 and at most 1000, got 0"}},
      {"price below a micro-dollar", R"({"gpus": 2, "max_price_usd_per_gpu_h": 0.0000004})",
       {"\"max_price_usd_per_gpu_h\"", "got 0.0000004"}},
      {"price negative", R"({"gpus": 2, "max_price_usd_per_gpu_h": -0.5})",
       {"\"max_price_usd_per_gpu_h\"", "got -0.5"}},
      {"price absurd", R"({"gpus": 2, "max_price_usd_per_gpu_h": 1000.000001})",
       {"\"max_price_usd_per_gpu_h\"", "got 1000.000001"}},
      {"price huge", R"({"gpus": 2, "max_price_usd_per_gpu_h": 1e308})", {"\"max_price_usd_per_gpu_h\""}},
      {"price string", R"({"gpus": 2, "max_price_usd_per_gpu_h": "0.5"})",
       {"\"max_price_usd_per_gpu_h\"", "got \"0.5\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseLeaseRequest(c.input), c);
}

// ----- "workload" of POST /v1/leases -----

TEST(ParseLeaseRequestTest, WorkloadImageCommandAndEnv) {
  auto r = ParseLeaseRequest(R"({"gpus": 2, "workload": {"image": "localhost/train:1",
      "command": ["python", "train.py", ""], "env": {"SEED": "7", "A_B": "", "_x9": "a b"}}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  LeaseWorkload want;
  want.image = "localhost/train:1";
  want.command = {"python", "train.py", ""};                   // later arguments may be empty
  want.env = {{"A_B", ""}, {"SEED", "7"}, {"_x9", "a b"}};  // sorted by name
  EXPECT_EQ(r->workload, want);
  EXPECT_EQ(r->gpus, 2);

  // The stored form: keys in order, every part present; it reads back as it was.
  EXPECT_EQ(
      WorkloadJson(want),
      R"({"command":["python","train.py",""],"env":{"A_B":"","SEED":"7","_x9":"a b"},"image":"localhost/train:1"})");
  auto back = ParseWorkload(WorkloadJson(want));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(*back, want);

  // References as registries spell them.
  for (const char* ok : {"busybox", "localhost:5000/team/train:v1.2", "registry.example/a__b/c-d.e:latest",
                         "quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         "ghcr.io/org/x"}) {
    auto good = ParseLeaseRequest(std::string(R"({"gpus": 1, "workload": {"image": ")") + ok + R"("}})");
    EXPECT_TRUE(good.has_value()) << ok << ": " << good.error().ToString();
  }

  // An image alone runs its own command; a command alone is a plain command (no "image" stored).
  auto image_only = ParseLeaseRequest(R"({"gpus": 1, "workload": {"image": "docker.io/library/busybox:1.36"}})");
  ASSERT_TRUE(image_only.has_value()) << image_only.error().ToString();
  EXPECT_EQ(image_only->workload.image, "docker.io/library/busybox:1.36");
  EXPECT_TRUE(image_only->workload.command.empty());
  EXPECT_FALSE(image_only->workload.empty());
  EXPECT_EQ(WorkloadJson(image_only->workload), R"({"command":[],"env":{},"image":"docker.io/library/busybox:1.36"})");

  auto plain = ParseLeaseRequest(R"({"gpus": 1, "workload": {"command": ["/usr/bin/sleep", "60"], "env": {}}})");
  ASSERT_TRUE(plain.has_value()) << plain.error().ToString();
  EXPECT_EQ(plain->workload.image, "");
  EXPECT_EQ(plain->workload.command, (std::vector<std::string>{"/usr/bin/sleep", "60"}));
  EXPECT_EQ(WorkloadJson(plain->workload), R"({"command":["/usr/bin/sleep","60"],"env":{}})");
  EXPECT_EQ(*ParseWorkload(WorkloadJson(plain->workload)), plain->workload);

  // null is no workload, as if absent.
  auto none = ParseLeaseRequest(R"({"gpus": 1, "workload": null})");
  ASSERT_TRUE(none.has_value()) << none.error().ToString();
  EXPECT_TRUE(none->workload.empty());
  EXPECT_EQ(WorkloadJson(none->workload), "");
  auto empty_text = ParseWorkload("");
  ASSERT_TRUE(empty_text.has_value());
  EXPECT_TRUE(empty_text->empty());

  // 64 arguments and 64 variables are allowed.
  std::string args = "[", env = "{";
  for (int i = 0; i < 64; ++i) {
    args += std::string(i ? "," : "") + "\"a" + std::to_string(i) + "\"";
    env += std::string(i ? "," : "") + "\"V" + std::to_string(i) + "\": \"x\"";
  }
  args += "]";
  env += "}";
  auto full = ParseLeaseRequest(R"({"gpus": 1, "workload": {"command": )" + args + R"(, "env": )" + env + "}}");
  ASSERT_TRUE(full.has_value()) << full.error().ToString();
  EXPECT_EQ(full->workload.command.size(), 64u);
  EXPECT_EQ(full->workload.env.size(), 64u);
}

TEST(ParseLeaseRequestTest, BadWorkloads) {
  auto body = [](const std::string& workload) { return R"({"gpus": 1, "workload": )" + workload + "}"; };
  std::string args65 = "[", env65 = "{";
  for (int i = 0; i < 65; ++i) {
    args65 += std::string(i ? "," : "") + "\"a\"";
    env65 += std::string(i ? "," : "") + "\"V" + std::to_string(i) + "\": \"x\"";
  }
  args65 += "]";
  env65 += "}";
  const std::vector<Bad> cases = {
      {"neither image nor command",
       body("{}"),
       {"\"workload\" must give an \"image\", a \"command\", or both"}},
      {"env alone",
       body(R"({"env": {"A": "1"}})"),
       {"\"workload\" must give an \"image\", a \"command\", or both"}},
      {"empty command, no image", body(R"({"command": []})"), {"\"workload\" must give an \"image\""}},
      {"not an object", body(R"("busybox")"), {"\"workload\" must be an object", "got \"busybox\""}},
      {"a list", body(R"(["busybox"])"), {"\"workload\" must be an object", "got a list"}},
      {"unknown field",
       body(R"({"image": "busybox", "workdir": "/"})"),
       {"unknown field \"workdir\" in \"workload\" (fields: image, command, env)"}},
      {"image empty", body(R"({"image": ""})"), {"\"workload.image\" must not be empty"}},
      {"image number", body(R"({"image": 5})"), {"\"workload.image\" must be a string, got 5"}},
      {"image with a space",
       body(R"({"image": "busybox --privileged"})"),
       {"\"workload.image\" must be an image reference", "got \"busybox --privileged\""}},
      {"image an option",
       body(R"({"image": "--privileged"})"),
       {"\"workload.image\" must be an image reference"}},
      // Found from outside: Podman reads transports, so these would read files on the node.
      {"image a transport", body(R"({"image": "oci-archive:/etc/passwd"})"), {"no transport"}},
      {"image a dir transport", body(R"({"image": "dir:/tmp"})"), {"must be an image reference"}},
      {"image docker://", body(R"({"image": "docker://evil.example/x"})"), {"must be an image reference"}},
      {"image containers-storage:", body(R"({"image": "containers-storage:busybox"})"), {"must be an image reference"}},
      {"image uppercase path", body(R"({"image": "UPPER/Case"})"), {"must be an image reference"}},
      {"image a short digest", body(R"({"image": "x@sha256:abc"})"), {"must be an image reference"}},
      {"image a relative path", body(R"({"image": "../../etc"})"), {"must be an image reference"}},
      {"command a string",
       body(R"({"command": "sleep 60"})"),
       {"\"workload.command\" must be a list of strings (the program and its arguments), got \"sleep 60\""}},
      {"program empty", body(R"({"command": ["", "60"]})"), {"\"workload.command[0]\" must not be empty"}},
      {"argument a number",
       body(R"({"command": ["sleep", 60]})"),
       {"\"workload.command[1]\" must be a string, got 60"}},
      {"65 arguments",
       body(R"({"command": )" + args65 + "}"),
       {"\"workload.command\" has 65 entries; at most 64"}},
      {"env a list", body(R"({"image": "busybox", "env": ["A=1"]})"), {"\"workload.env\" must be an object"}},
      {"env CUDA_VISIBLE_DEVICES",
       body(R"({"image": "busybox", "env": {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}})"),
       {"\"workload.env\" may not set CUDA_VISIBLE_DEVICES", "the lease's GPUs"}},
      {"env NVIDIA_VISIBLE_DEVICES",
       body(R"({"image": "busybox", "env": {"NVIDIA_VISIBLE_DEVICES": "all"}})"),
       {"\"workload.env\" may not set NVIDIA_VISIBLE_DEVICES"}},
      {"env name with a dash",
       body(R"({"image": "busybox", "env": {"A-B": "1"}})"),
       {"environment variable names in \"workload.env\"", "got \"A-B\""}},
      {"env name starts with a digit",
       body(R"({"image": "busybox", "env": {"1A": "1"}})"),
       {"environment variable names", "not starting with a digit", "got \"1A\""}},
      {"env name empty", body(R"({"image": "busybox", "env": {"": "1"}})"), {"environment variable names"}},
      {"env value a number",
       body(R"({"image": "busybox", "env": {"SEED": 7}})"),
       {"\"workload.env.SEED\" must be a string, got 7"}},
      {"env 65 entries",
       body(R"({"image": "busybox", "env": )" + env65 + "}"),
       {"\"workload.env\" has 65 entries; at most 64 are allowed"}},
      {"env duplicate",
       body(R"({"image": "busybox", "env": {"A": "1", "A": "2"}})"),
       {"duplicate field \"A\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseLeaseRequest(c.input), c);
}

// ----- POST /v1/tokens -----

TEST(ParseTokenRequestTest, GoodValues) {
  struct Good {
    std::string body;
    TokenAsk want;
  };
  const std::vector<Good> cases = {
      {R"({"role": "operator"})", {ApiRole::kOperator, "", ""}},
      {R"({"role": "agent"})", {ApiRole::kAgent, "", ""}},
      {R"({"role": "agent", "tenant": null})", {ApiRole::kAgent, "", ""}},
      {R"({"role": "tenant", "tenant": "acme"})", {ApiRole::kTenant, "acme", ""}},
      {R"({"tenant": "a.b_c-D9", "role": "tenant"})", {ApiRole::kTenant, "a.b_c-D9", ""}},
      {R"({"role": "tenant", "tenant": "x"})", {ApiRole::kTenant, "x", ""}},
      {"{\"role\": \"tenant\", \"tenant\": \"" + std::string(64, 't') + "\"}",
       {ApiRole::kTenant, std::string(64, 't'), ""}},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = ParseTokenRequest(c.body);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(*r, c.want);
  }
  EXPECT_EQ(ApiRoleName(ApiRole::kOperator), "operator");
  EXPECT_EQ(ApiRoleName(ApiRole::kTenant), "tenant");
  EXPECT_EQ(ApiRoleName(ApiRole::kAgent), "agent");
}

TEST(ParseTokenRequestTest, BadValues) {
  const std::string kName = "\"tenant\" must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";
  const std::vector<Bad> cases = {
      {"role missing", R"({"tenant": "acme"})", {"\"role\" is required"}},
      {"role null", R"({"role": null})", {"\"role\" must be one of operator, tenant, agent, got null"}},
      {"role unknown", R"({"role": "admin"})", {"\"role\" must be one of operator, tenant, agent, got \"admin\""}},
      {"role case", R"({"role": "Tenant", "tenant": "acme"})", {"\"role\"", "got \"Tenant\""}},
      {"role number", R"({"role": 1})", {"\"role\"", "got 1"}},
      {"tenant missing", R"({"role": "tenant"})", {"\"tenant\" is required when \"role\" is \"tenant\""}},
      {"tenant null", R"({"role": "tenant", "tenant": null})", {"\"tenant\" is required"}},
      {"tenant with operator", R"({"role": "operator", "tenant": "acme"})",
       {"\"tenant\" is only allowed when \"role\" is \"tenant\", not \"operator\""}},
      {"tenant with agent", R"({"role": "agent", "tenant": "acme"})", {"\"tenant\" is only allowed", "\"agent\""}},
      {"tenant empty", R"({"role": "tenant", "tenant": ""})", {kName, "got \"\""}},
      {"tenant space", R"({"role": "tenant", "tenant": "ac me"})", {kName, "got \"ac me\""}},
      {"tenant slash", R"({"role": "tenant", "tenant": "../etc"})", {kName}},
      {"tenant colon", R"({"role": "tenant", "tenant": "tenant:acme"})", {kName}},
      {"tenant unicode", R"({"role": "tenant", "tenant": "acm\u00e9"})", {kName}},
      {"tenant too long", "{\"role\": \"tenant\", \"tenant\": \"" + std::string(65, 't') + "\"}", {kName}},
      {"tenant number", R"({"role": "tenant", "tenant": 42})", {kName, "got 42"}},
      {"unknown field", R"({"role": "operator", "name": "x"})", {"unknown field \"name\" (fields: role, tenant, node)"}},
      {"duplicate", R"({"role": "operator", "role": "tenant"})", {"duplicate field \"role\""}},
      {"not an object", R"(["operator"])", {"must be a JSON object"}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseTokenRequest(c.input), c);
}

// A tenant's name is the identity its leases are filed under; names that read as a role or as the
// server's own identities ("@operator" owns operators' leases, "_offline" holds silent nodes)
// would let a tenant see what is not its own.
TEST(ParseTokenRequestTest, ReservedTenantNamesAreRefused) {
  const std::string kReserved = "is reserved (operator, agent, and names starting with '_' or '@'";
  const std::vector<Bad> cases = {
      {"operator", R"({"role": "tenant", "tenant": "operator"})", {"\"tenant\" \"operator\" ", kReserved, "another name"}},
      {"operator in capitals", R"({"role": "tenant", "tenant": "OPERATOR"})", {"\"OPERATOR\"", kReserved}},
      {"operator capitalized", R"({"role": "tenant", "tenant": "Operator"})", {"\"Operator\"", kReserved}},
      {"agent", R"({"role": "tenant", "tenant": "agent"})", {"\"agent\"", kReserved}},
      {"underscore first", R"({"role": "tenant", "tenant": "_offline"})", {"\"_offline\"", kReserved}},
      {"underscore alone", R"({"role": "tenant", "tenant": "_"})", {kReserved}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseTokenRequest(c.input), c);
  // '@' is not a name character at all: refused as a malformed name, before the reserved check.
  ExpectRefused(ParseTokenRequest(R"({"role": "tenant", "tenant": "@operator"})"),
                {"at sign", "", {"\"tenant\" must be 1 to 64 characters"}});

  // Just beside the reserved words: ordinary names.
  for (const std::string name : {"operators", "operator1", "my_operator", "agent-7", "a_", "op", "acme", "a.b", "..a"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(IsReservedTenantName(name));
    auto r = ParseTokenRequest(R"({"role": "tenant", "tenant": ")" + name + "\"}");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->tenant, name);
  }
  for (const std::string name : {"operator", "oPeRaToR", "Agent", "_x", "@operator", "@", ".", "..", "..."}) {
    EXPECT_TRUE(IsReservedTenantName(name)) << name;
  }
}

// ----- POST /v1/agents/register -----

TEST(ParseAgentRegistrationTest, GoodValues) {
  auto r = ParseAgentRegistration(R"({"node": "gpu-3090-3", "devices": [
      {"slot": 1, "model": "RTX 3090", "vram_gb": 24},
      {"vram_gb": 0, "model": "GeForce RTX 3090", "slot": 0},
      {"slot": 63, "model": "H100 SXM", "vram_gb": 1024.0}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  AgentRegistration want;
  want.node = "gpu-3090-3";
  want.devices = {Device(1, "RTX 3090", 24), Device(0, "GeForce RTX 3090", 0), Device(63, "H100 SXM", 1024)};
  EXPECT_EQ(*r, want);

  std::string many = R"({"node": "n", "devices": [)";
  for (int i = 0; i < 64; ++i) many += std::string(i ? "," : "") + R"({"slot": )" + std::to_string(i) + R"(, "model": "m", "vram_gb": 8})";
  many += "]}";
  auto r64 = ParseAgentRegistration(many);
  ASSERT_TRUE(r64.has_value()) << r64.error().ToString();
  EXPECT_EQ(r64->devices.size(), 64u);
}

TEST(ParseAgentRegistrationTest, BadValues) {
  const std::string kDev = R"({"slot": 0, "model": "RTX 3090", "vram_gb": 24})";
  auto body = [](std::string devices) { return R"({"node": "n1", "devices": )" + devices + "}"; };
  std::string too_many = "[";
  for (int i = 0; i < 65; ++i) too_many += std::string(i ? "," : "") + R"({"slot": )" + std::to_string(i % 64) + R"(, "model": "m", "vram_gb": 8})";
  too_many += "]";
  const std::vector<Bad> cases = {
      {"node missing", R"({"devices": [)" + kDev + "]}", {"\"node\" is required"}},
      {"node empty", R"({"node": "", "devices": [)" + kDev + "]}", {"\"node\" must be 1 to 64 characters"}},
      {"node bad char", R"({"node": "n 1", "devices": [)" + kDev + "]}", {"\"node\" must be", "got \"n 1\""}},
      {"node too long", R"({"node": ")" + std::string(65, 'n') + R"(", "devices": [)" + kDev + "]}", {"\"node\""}},
      {"node number", R"({"node": 3, "devices": [)" + kDev + "]}", {"\"node\"", "got 3"}},
      {"devices missing", R"({"node": "n1"})", {"\"devices\" is required"}},
      {"devices null", R"({"node": "n1", "devices": null})", {"\"devices\" must be a list of devices, got null"}},
      {"devices empty", body("[]"), {"\"devices\" must list at least one device"}},
      {"devices object", body(kDev), {"\"devices\" must be a list of devices, got an object"}},
      {"devices too many", body(too_many), {"\"devices\" has 65 entries; at most 64"}},
      {"device not an object", body("[" + kDev + ", 5]"), {"\"devices[1]\" must be an object", "got 5"}},
      {"device unknown field", body(R"([{"slot": 0, "model": "m", "vram_gb": 8, "vram": 8}])"),
       {"unknown field \"vram\" in \"devices[0]\" (fields: slot, model, vram_gb, uuid, pcie_gen, pcie_width, "
        "power_limit_w)"}},
      {"device duplicate field", body(R"([{"slot": 0, "model": "m", "slot": 1, "vram_gb": 8}])"),
       {"duplicate field \"slot\" in \"devices[0]\""}},
      {"slot missing", body(R"([{"model": "m", "vram_gb": 8}])"), {"\"devices[0].slot\" is required"}},
      {"slot negative", body(R"([{"slot": -1, "model": "m", "vram_gb": 8}])"),
       {"\"devices[0].slot\" must be an integer between 0 and 63, got -1"}},
      {"slot 64", body("[" + kDev + R"(, {"slot": 64, "model": "m", "vram_gb": 8}])"),
       {"\"devices[1].slot\" must be an integer between 0 and 63, got 64"}},
      {"slot fraction", body(R"([{"slot": 0.5, "model": "m", "vram_gb": 8}])"), {"\"devices[0].slot\"", "got 0.5"}},
      {"slot string", body(R"([{"slot": "0", "model": "m", "vram_gb": 8}])"), {"\"devices[0].slot\"", "got \"0\""}},
      {"slot twice", body("[" + kDev + ", " + kDev + "]"),
       {"slot 0 appears twice in \"devices\" (devices[0] and devices[1])"}},
      {"model missing", body(R"([{"slot": 0, "vram_gb": 8}])"), {"\"devices[0].model\" is required"}},
      {"model empty", body(R"([{"slot": 0, "model": "", "vram_gb": 8}])"), {"\"devices[0].model\" must not be empty"}},
      {"model number", body(R"([{"slot": 0, "model": 3090, "vram_gb": 8}])"),
       {"\"devices[0].model\" must be a string, got 3090"}},
      {"model too long", body(R"([{"slot": 0, "model": ")" + std::string(257, 'm') + R"(", "vram_gb": 8}])"),
       {"\"devices[0].model\" is longer than 256 characters"}},
      {"vram missing", body(R"([{"slot": 0, "model": "m"}])"), {"\"devices[0].vram_gb\" is required"}},
      {"vram negative", body(R"([{"slot": 0, "model": "m", "vram_gb": -8}])"),
       {"\"devices[0].vram_gb\" must be an integer between 0 and 1024, got -8"}},
      {"vram too big", body(R"([{"slot": 0, "model": "m", "vram_gb": 2048}])"), {"\"devices[0].vram_gb\"", "2048"}},
      {"unknown top field", R"({"node": "n1", "devices": [], "site": "x"})",
       {"unknown field \"site\" (fields: node, devices, host, self_test)"}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseAgentRegistration(c.input), c);
}

// ----- POST /v1/agents/{node}/heartbeat -----

TEST(ParseAgentHeartbeatTest, GoodValues) {
  auto r = ParseAgentHeartbeat(R"({"generation": 7, "devices": [
      {"slot": 0, "use": "lease", "lease": 17, "coin": "", "power_w": 310},
      {"slot": 1, "use": "mining", "coin": "ETC", "power_w": 0},
      {"slot": 2, "use": "idle"},
      {"slot": 3, "use": "off", "lease": null, "coin": null, "power_w": null},
      {"slot": 4, "use": "lease", "lease": 9007199254740992, "power_w": 5000}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  AgentHeartbeat want;
  want.generation = 7;
  want.devices = {
      Report(0, ReportedUse::kLease, LeaseId(17), "", Watts(310)),
      Report(1, ReportedUse::kMining, std::nullopt, "ETC", Watts(0)),
      Report(2, ReportedUse::kIdle, std::nullopt, "", std::nullopt),
      Report(3, ReportedUse::kOff, std::nullopt, "", std::nullopt),
      Report(4, ReportedUse::kLease, LeaseId(kMaxJsonInteger), "", Watts(5000)),
  };
  EXPECT_EQ(*r, want);

  auto empty = ParseAgentHeartbeat(R"({"generation": 0, "devices": []})");
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_EQ(empty->generation, 0);
  EXPECT_TRUE(empty->devices.empty());

  auto big = ParseAgentHeartbeat(R"({"generation": 9007199254740992, "devices": []})");
  ASSERT_TRUE(big.has_value()) << big.error().ToString();
  EXPECT_EQ(big->generation, kMaxJsonInteger);

  for (ReportedUse u : {ReportedUse::kLease, ReportedUse::kMining, ReportedUse::kIdle, ReportedUse::kOff}) {
    auto one = ParseAgentHeartbeat(R"({"generation": 1, "devices": [{"slot": 5, "use": ")" +
                                   std::string(ReportedUseName(u)) + "\"}]}");
    ASSERT_TRUE(one.has_value()) << one.error().ToString();
    EXPECT_EQ(one->devices.at(0).use, u);
  }
}

TEST(ParseAgentHeartbeatTest, BadValues) {
  auto body = [](std::string device) { return R"({"generation": 1, "devices": [)" + device + "]}"; };
  const std::vector<Bad> cases = {
      {"generation missing", R"({"devices": []})", {"\"generation\" is required"}},
      {"generation negative", R"({"generation": -1, "devices": []})",
       {"\"generation\" must be an integer between 0 and 9007199254740992, got -1"}},
      {"generation over 2^53", R"({"generation": 9007199254740993, "devices": []})", {"\"generation\""}},
      {"generation fraction", R"({"generation": 1.5, "devices": []})", {"\"generation\"", "got 1.5"}},
      {"generation string", R"({"generation": "1", "devices": []})", {"\"generation\"", "got \"1\""}},
      {"devices missing", R"({"generation": 1})", {"\"devices\" is required"}},
      {"devices not a list", R"({"generation": 1, "devices": {}})", {"\"devices\" must be a list of devices"}},
      {"device not an object", body("\"idle\""), {"\"devices[0]\" must be an object", "got \"idle\""}},
      {"unknown device field", body(R"({"slot": 0, "use": "idle", "temp_c": 70})"),
       {"unknown field \"temp_c\" in \"devices[0]\" (fields: slot, use, lease, contract, coin, power_w, temperature_c"}},
      {"slot missing", body(R"({"use": "idle"})"), {"\"devices[0].slot\" is required"}},
      {"slot out of range", body(R"({"slot": 99, "use": "idle"})"), {"\"devices[0].slot\"", "got 99"}},
      {"slot twice", body(R"({"slot": 2, "use": "idle"}, {"slot": 2, "use": "off"})"),
       {"slot 2 appears twice in \"devices\" (devices[0] and devices[1])"}},
      {"use missing", body(R"({"slot": 0})"), {"\"devices[0].use\" is required"}},
      {"use unknown", body(R"({"slot": 0, "use": "curtailed"})"),
       {"\"devices[0].use\" must be one of lease, mining, idle, off, contract, got \"curtailed\""}},
      {"use null", body(R"({"slot": 0, "use": null})"), {"\"devices[0].use\"", "got null"}},
      {"lease zero", body(R"({"slot": 0, "use": "lease", "lease": 0})"),
       {"\"devices[0].lease\" must be an integer between 1 and 9007199254740992, got 0"}},
      {"lease string", body(R"({"slot": 0, "use": "lease", "lease": "17"})"), {"\"devices[0].lease\"", "\"17\""}},
      {"lease fraction", body(R"({"slot": 0, "use": "lease", "lease": 17.5})"), {"\"devices[0].lease\""}},
      {"coin number", body(R"({"slot": 0, "use": "mining", "coin": 1})"),
       {"\"devices[0].coin\" must be a string, got 1"}},
      {"coin too long", body(R"({"slot": 0, "use": "mining", "coin": ")" + std::string(300, 'C') + "\"}"),
       {"\"devices[0].coin\" is longer than 256 characters"}},
      {"coin control", body(R"({"slot": 0, "use": "mining", "coin": "E\tTC"})"),
       {"\"devices[0].coin\" must not contain control characters"}},
      {"power negative", body(R"({"slot": 0, "use": "idle", "power_w": -5})"),
       {"\"devices[0].power_w\" must be an integer between 0 and 5000, got -5"}},
      {"power too high", body(R"({"slot": 0, "use": "idle", "power_w": 5001})"), {"\"devices[0].power_w\""}},
      {"power fraction", body(R"({"slot": 0, "use": "idle", "power_w": 310.5})"),
       {"\"devices[0].power_w\"", "got 310.5"}},
      {"second device bad", body(R"({"slot": 0, "use": "idle"}, {"slot": 1, "use": "idle", "power_w": true})"),
       {"\"devices[1].power_w\"", "got true"}},
      {"duplicate in device", body(R"({"slot": 0, "use": "idle", "use": "off"})"),
       {"duplicate field \"use\" in \"devices[0]\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseAgentHeartbeat(c.input), c);
}

// ----- What discovery found, the self-test, telemetry and workloads (docs/agent.md) -----

TEST(ParseAgentRegistrationTest, DiscoveryHostAndSelfTest) {
  auto r = ParseAgentRegistration(R"({"node": "gpu-3090-1", "devices": [
      {"slot": 0, "model": "RTX 3090", "vram_gb": 24, "uuid": "GPU-0f2c7d4e-1a2b-3c4d-5e6f-0123456789ab",
       "pcie_gen": 4, "pcie_width": 16, "power_limit_w": {"min": 100, "max": 350}},
      {"slot": 1, "model": "RTX 3090", "vram_gb": 24, "pcie_width": 1, "power_limit_w": {"max": 5000}},
      {"slot": 2, "model": "RTX 3090", "vram_gb": 24, "uuid": null, "pcie_gen": null}],
      "host": {"cpu_model": "AMD EPYC 7302P 16-Core Processor", "cpu_cores": 16, "ram_mib": 65536,
               "disk_free_mib": 0, "driver_version": "550.54.14"},
      "self_test": {"passed": true}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  AgentRegistration want;
  want.node = "gpu-3090-1";
  DeviceInventory d0 = Device(0, "RTX 3090", 24);
  d0.uuid = "GPU-0f2c7d4e-1a2b-3c4d-5e6f-0123456789ab";
  d0.pcie_gen = 4;
  d0.pcie_width = 16;
  d0.power_min_w = 100;
  d0.power_max_w = 350;
  DeviceInventory d1 = Device(1, "RTX 3090", 24);
  d1.pcie_width = 1;
  d1.power_max_w = 5000;
  want.devices = {d0, d1, Device(2, "RTX 3090", 24)};
  want.host.cpu_model = "AMD EPYC 7302P 16-Core Processor";
  want.host.cpu_cores = 16;
  want.host.ram_mib = 65536;
  want.host.disk_free_mib = 0;
  want.host.driver_version = "550.54.14";
  want.self_test = SelfTest{true, ""};
  EXPECT_EQ(*r, want);

  // A failed self-test, with its reason; no self-test at all is not one that failed.
  auto failed = ParseAgentRegistration(R"j({"node": "n1", "devices": [{"slot": 0, "model": "m", "vram_gb": 8}],
      "self_test": {"passed": false, "reason": "GPU 0: cudaMalloc failed (Xid 79)"}})j");
  ASSERT_TRUE(failed.has_value()) << failed.error().ToString();
  ASSERT_TRUE(failed->self_test.has_value());
  EXPECT_FALSE(failed->self_test->passed);
  EXPECT_EQ(failed->self_test->reason, "GPU 0: cudaMalloc failed (Xid 79)");
  auto untested = ParseAgentRegistration(R"({"node": "n1", "devices": [{"slot": 0, "model": "m", "vram_gb": 8}],
      "host": {}})");
  ASSERT_TRUE(untested.has_value()) << untested.error().ToString();
  EXPECT_FALSE(untested->self_test.has_value());
  EXPECT_EQ(untested->host, HostInventory{});

  // The ends of each range.
  auto edges = ParseAgentRegistration(R"({"node": "n1", "devices": [
      {"slot": 0, "model": "m", "vram_gb": 8, "pcie_gen": 1, "pcie_width": 32, "power_limit_w": {"min": 0}},
      {"slot": 1, "model": "m", "vram_gb": 8, "pcie_gen": 6, "pcie_width": 1}], "host": {"cpu_cores": 4096}})");
  ASSERT_TRUE(edges.has_value()) << edges.error().ToString();
  EXPECT_EQ(edges->devices[0].pcie_gen, 1);
  EXPECT_EQ(edges->devices[0].pcie_width, 32);
  EXPECT_EQ(edges->devices[0].power_min_w, 0);
  EXPECT_EQ(edges->devices[1].pcie_gen, 6);
  EXPECT_EQ(edges->host.cpu_cores, 4096);
}

TEST(ParseAgentRegistrationTest, BadDiscoveryHostAndSelfTest) {
  auto dev = [](const std::string& extra) {
    return R"({"node": "n1", "devices": [{"slot": 0, "model": "m", "vram_gb": 8, )" + extra + "}]}";
  };
  auto top = [](const std::string& extra) {
    return R"({"node": "n1", "devices": [{"slot": 0, "model": "m", "vram_gb": 8}], )" + extra + "}";
  };
  const std::vector<Bad> cases = {
      {"pcie_width 0",
       dev(R"("pcie_width": 0)"),
       {"\"devices[0].pcie_width\" must be an integer between 1 and 32, got 0"}},
      {"pcie_width 33", dev(R"("pcie_width": 33)"), {"\"devices[0].pcie_width\"", "got 33"}},
      {"pcie_width string", dev(R"("pcie_width": "x16")"), {"\"devices[0].pcie_width\"", "got \"x16\""}},
      {"pcie_gen 0",
       dev(R"("pcie_gen": 0)"),
       {"\"devices[0].pcie_gen\" must be an integer between 1 and 6, got 0"}},
      {"pcie_gen 7", dev(R"("pcie_gen": 7)"), {"\"devices[0].pcie_gen\"", "got 7"}},
      {"uuid number", dev(R"("uuid": 7)"), {"\"devices[0].uuid\" must be a string, got 7"}},
      {"power a number",
       dev(R"("power_limit_w": 350)"),
       {"\"devices[0].power_limit_w\" must be an object", "got 350"}},
      {"power unknown field",
       dev(R"("power_limit_w": {"avg": 200})"),
       {"unknown field \"avg\" in \"devices[0].power_limit_w\" (fields: min, max)"}},
      {"power min negative",
       dev(R"("power_limit_w": {"min": -1})"),
       {"\"devices[0].power_limit_w.min\" must be an integer between 0 and 5000, got -1"}},
      {"power max too high",
       dev(R"("power_limit_w": {"max": 5001})"),
       {"\"devices[0].power_limit_w.max\"", "5001"}},
      {"host a string", top(R"("host": "epyc")"), {"\"host\" must be an object", "got \"epyc\""}},
      {"host unknown field",
       top(R"("host": {"gpus": 4})"),
       {"unknown field \"gpus\" in \"host\" (fields: cpu_model, cpu_cores, ram_mib, disk_free_mib, "
        "driver_version)"}},
      {"host cpu_cores 0",
       top(R"("host": {"cpu_cores": 0})"),
       {"\"host.cpu_cores\" must be an integer between 1 and 4096, got 0"}},
      {"host ram negative", top(R"("host": {"ram_mib": -1})"), {"\"host.ram_mib\"", "got -1"}},
      {"host cpu_model number",
       top(R"("host": {"cpu_model": 7302})"),
       {"\"host.cpu_model\" must be a string, got 7302"}},
      {"self_test failed without reason",
       top(R"("self_test": {"passed": false})"),
       {"\"self_test.reason\" must say why the self-test failed"}},
      {"self_test failed with an empty reason",
       top(R"("self_test": {"passed": false, "reason": ""})"),
       {"\"self_test.reason\" must say why"}},
      {"self_test without passed",
       top(R"("self_test": {"reason": "ok"})"),
       {"\"self_test.passed\" is required"}},
      {"self_test passed a string",
       top(R"("self_test": {"passed": "yes"})"),
       {"\"self_test.passed\" must be true or false, got \"yes\""}},
      {"self_test unknown field",
       top(R"("self_test": {"passed": true, "log": ""})"),
       {"unknown field \"log\" in \"self_test\" (fields: passed, reason)"}},
      {"self_test a bool", top(R"("self_test": true)"), {"\"self_test\" must be an object", "got true"}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseAgentRegistration(c.input), c);
}

TEST(ParseAgentHeartbeatTest, TelemetryDrainsAndWorkloads) {
  auto r = ParseAgentHeartbeat(R"({"generation": 3, "devices": [
      {"slot": 0, "use": "lease", "lease": 17, "power_w": 310, "temperature_c": 71, "utilization_pct": 100,
       "memory_used_mib": 20480, "ecc_errors": 0, "xid_errors": 2, "mining_observed": false},
      {"slot": 1, "use": "mining", "coin": "ETC", "hashrate_hs": 61500000, "accepted": 120, "rejected": 3,
       "temperature_c": 0, "utilization_pct": 0},
      {"slot": 2, "use": "off", "drained": "hashrate fell to zero for 120 s", "temperature_c": 200},
      {"slot": 3, "use": "lease", "lease": 17, "mining_observed": true}],
      "workloads": [
      {"lease": 17, "state": "running", "started_at": "2026-11-01T00:00:05Z"},
      {"lease": 18, "state": "exited", "exit_code": 3, "started_at": 1793491205, "ended_at": "2026-11-01T01:00:00Z",
       "message": ""},
      {"lease": 19, "state": "failed", "message": "image not found: localhost/nope:1"},
      {"lease": 20, "state": "starting"},
      {"lease": 21, "state": "exited", "exit_code": 0}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  AgentHeartbeat want;
  want.generation = 3;
  DeviceReport d0 = Report(0, ReportedUse::kLease, LeaseId(17), "", Watts(310));
  d0.temperature_c = 71;
  d0.utilization_pct = 100;
  d0.memory_used_mib = 20480;
  d0.ecc_errors = 0;
  d0.xid_errors = 2;
  DeviceReport d1 = Report(1, ReportedUse::kMining, std::nullopt, "ETC", std::nullopt);
  d1.hashrate_hs = 61'500'000;
  d1.accepted = 120;
  d1.rejected = 3;
  d1.temperature_c = 0;
  d1.utilization_pct = 0;
  DeviceReport d2 = Report(2, ReportedUse::kOff, std::nullopt, "", std::nullopt);
  d2.drained = "hashrate fell to zero for 120 s";
  d2.temperature_c = 200;
  DeviceReport d3 = Report(3, ReportedUse::kLease, LeaseId(17), "", std::nullopt);
  d3.mining_observed = true;
  want.devices = {d0, d1, d2, d3};
  WorkloadReport w17;
  w17.lease = LeaseId(17);
  w17.state = WorkloadState::kRunning;
  w17.started_at = Timestamp{1'793'491'205};  // 2026-11-01T00:00:05Z
  WorkloadReport w18;
  w18.lease = LeaseId(18);
  w18.state = WorkloadState::kExited;
  w18.exit_code = 3;
  w18.started_at = Timestamp{1'793'491'205};  // the same second, given as seconds
  w18.ended_at = Timestamp{1'793'494'800};    // 2026-11-01T01:00:00Z
  WorkloadReport w19;
  w19.lease = LeaseId(19);
  w19.state = WorkloadState::kFailed;
  w19.message = "image not found: localhost/nope:1";
  WorkloadReport w20;
  w20.lease = LeaseId(20);
  w20.state = WorkloadState::kStarting;
  WorkloadReport w21;
  w21.lease = LeaseId(21);
  w21.state = WorkloadState::kExited;
  w21.exit_code = 0;
  want.workloads = {w17, w18, w19, w20, w21};
  EXPECT_EQ(*r, want);

  for (WorkloadState s : {WorkloadState::kStarting, WorkloadState::kRunning, WorkloadState::kExited,
                          WorkloadState::kFailed}) {
    EXPECT_FALSE(WorkloadStateName(s).empty());
  }
  EXPECT_EQ(WorkloadStateName(WorkloadState::kExited), "exited");
  EXPECT_EQ(WorkloadStateName(WorkloadState::kFailed), "failed");

  // No workloads: an empty list or none at all.
  auto none = ParseAgentHeartbeat(R"({"generation": 1, "devices": [], "workloads": []})");
  ASSERT_TRUE(none.has_value()) << none.error().ToString();
  EXPECT_TRUE(none->workloads.empty());
}

TEST(ParseAgentHeartbeatTest, BadTelemetryAndWorkloads) {
  auto dev = [](const std::string& extra) {
    return R"({"generation": 1, "devices": [{"slot": 0, "use": "idle", )" + extra + "}]}";
  };
  auto wl = [](const std::string& workloads) {
    return R"({"generation": 1, "devices": [], "workloads": )" + workloads + "}";
  };
  const std::vector<Bad> cases = {
      {"temperature 500",
       dev(R"("temperature_c": 500)"),
       {"\"devices[0].temperature_c\" must be an integer between 0 and 200, got 500"}},
      {"temperature negative", dev(R"("temperature_c": -5)"), {"\"devices[0].temperature_c\"", "got -5"}},
      {"temperature fraction", dev(R"("temperature_c": 71.5)"), {"\"devices[0].temperature_c\"", "got 71.5"}},
      {"utilization 101",
       dev(R"("utilization_pct": 101)"),
       {"\"devices[0].utilization_pct\" must be an integer between 0 and 100, got 101"}},
      {"memory negative", dev(R"("memory_used_mib": -1)"), {"\"devices[0].memory_used_mib\"", "got -1"}},
      {"xid string", dev(R"("xid_errors": "2")"), {"\"devices[0].xid_errors\"", "got \"2\""}},
      {"hashrate negative", dev(R"("hashrate_hs": -1)"), {"\"devices[0].hashrate_hs\"", "got -1"}},
      {"rejected fraction", dev(R"("rejected": 0.5)"), {"\"devices[0].rejected\"", "got 0.5"}},
      {"mining_observed a string",
       dev(R"("mining_observed": "yes")"),
       {"\"devices[0].mining_observed\" must be true or false, got \"yes\""}},
      {"drained a bool", dev(R"("drained": true)"), {"\"devices[0].drained\" must be a string, got true"}},
      {"workloads an object",
       wl(R"({"lease": 1})"),
       {"\"workloads\" must be a list of the node's workloads"}},
      {"workload a number", wl("[17]"), {"\"workloads[0]\" must be an object", "got 17"}},
      {"workload unknown field",
       wl(R"([{"lease": 1, "state": "running", "pid": 4242}])"),
       {"unknown field \"pid\" in \"workloads[0]\" (fields: lease, state, exit_code, started_at, ended_at, "
        "message)"}},
      {"workload lease missing", wl(R"([{"state": "running"}])"), {"\"workloads[0].lease\" is required"}},
      {"workload lease 0",
       wl(R"([{"lease": 0, "state": "running"}])"),
       {"\"workloads[0].lease\" must be an integer between 1 and 9007199254740992, got 0"}},
      {"duplicate workload lease",
       wl(R"([{"lease": 5, "state": "running"}, {"lease": 5, "state": "exited", "exit_code": 0}])"),
       {"lease 5 appears twice in \"workloads\""}},
      {"state missing", wl(R"([{"lease": 1}])"), {"\"workloads[0].state\" is required"}},
      {"state unknown",
       wl(R"([{"lease": 1, "state": "done"}])"),
       {"\"workloads[0].state\" must be one of starting, running, exited, failed, got \"done\""}},
      {"exited without exit_code",
       wl(R"([{"lease": 1, "state": "exited"}])"),
       {"\"workloads[0].exit_code\" is required when the state is exited"}},
      {"exited with a null exit_code",
       wl(R"([{"lease": 1, "state": "exited", "exit_code": null}])"),
       {"\"workloads[0].exit_code\" is required when the state is exited"}},
      {"exit_code 256",
       wl(R"([{"lease": 1, "state": "exited", "exit_code": 256}])"),
       {"\"workloads[0].exit_code\" must be an integer between 0 and 255, got 256"}},
      {"exit_code negative",
       wl(R"([{"lease": 1, "state": "exited", "exit_code": -1}])"),
       {"\"workloads[0].exit_code\""}},
      {"started_at not a time",
       wl(R"([{"lease": 1, "state": "running", "started_at": "yesterday"}])"),
       {"\"workloads[0].started_at\" must be a UTC time such as \"2026-12-04T18:00:00Z\"",
        "got \"yesterday\""}},
      {"ended_at negative",
       wl(R"([{"lease": 1, "state": "exited", "exit_code": 0, "ended_at": -5}])"),
       {"\"workloads[0].ended_at\""}},
      {"ended_at a bool",
       wl(R"([{"lease": 1, "state": "exited", "exit_code": 0, "ended_at": true}])"),
       {"\"workloads[0].ended_at\" must be a UTC time", "got true"}},
      {"message a number",
       wl(R"([{"lease": 1, "state": "failed", "message": 1}])"),
       {"\"workloads[0].message\" must be a string, got 1"}},
      {"second workload bad",
       wl(R"([{"lease": 1, "state": "running"}, {"lease": 2, "state": "sleeping"}])"),
       {"\"workloads[1].state\"", "got \"sleeping\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseAgentHeartbeat(c.input), c);
}

// ----- PUT /v1/policy -----

TEST(ParsePolicyUpdateTest, GoodValues) {
  struct Good {
    std::string body;
    PolicyUpdate want;
  };
  auto make = [](auto&& f) {
    PolicyUpdate p;
    f(p);
    return p;
  };
  const std::vector<Good> cases = {
      {R"({"switch_min_gain_pct": 5})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 50'000; })},
      {R"({"switch_min_gain_pct": 0})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 0; })},
      {R"({"switch_min_gain_pct": 100})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 1'000'000; })},
      {R"({"switch_min_gain_pct": 2.5})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 25'000; })},
      {R"({"switch_min_gain_pct": 0.00005})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 1; })},  // half
      {R"({"switch_min_gain_pct": 0.00004})", make([](PolicyUpdate& p) { p.switch_min_gain_ppm = 0; })},
      {R"({"switch_min_dwell_s": 600})", make([](PolicyUpdate& p) { p.switch_min_dwell_s = 600; })},
      {R"({"switch_min_dwell_s": 86400})", make([](PolicyUpdate& p) { p.switch_min_dwell_s = 86400; })},
      {R"({"miner_restart_s": 0})", make([](PolicyUpdate& p) { p.miner_restart_s = 0; })},
      {R"({"miner_restart_s": 3600.0})", make([](PolicyUpdate& p) { p.miner_restart_s = 3600; })},
      {R"({"pool_fee_pct": 1})", make([](PolicyUpdate& p) { p.pool_fee_ppm = 10'000; })},
      {R"({"pool_fee_pct": 50})", make([](PolicyUpdate& p) { p.pool_fee_ppm = 500'000; })},
      {R"({"resume_margin_pct": 2})", make([](PolicyUpdate& p) { p.resume_margin_ppm = 20'000; })},
      {R"({"resume_margin_pct": 100, "switch_min_dwell_s": null})",
       make([](PolicyUpdate& p) { p.resume_margin_ppm = 1'000'000; })},
      {R"({"switch_min_gain_pct": 5, "switch_min_dwell_s": 600, "miner_restart_s": 120, "pool_fee_pct": 1,
           "resume_margin_pct": 2})",
       make([](PolicyUpdate& p) {
         p.switch_min_gain_ppm = 50'000;
         p.switch_min_dwell_s = 600;
         p.miner_restart_s = 120;
         p.pool_fee_ppm = 10'000;
         p.resume_margin_ppm = 20'000;
       })},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = ParsePolicyUpdate(c.body);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(*r, c.want);
  }
}

TEST(ParsePolicyUpdateTest, BadValues) {
  const std::vector<Bad> cases = {
      {"nothing", "{}",
       {"body must set at least one of switch_min_gain_pct, switch_min_dwell_s, miner_restart_s, pool_fee_pct, "
        "resume_margin_pct"}},
      {"only nulls", R"({"pool_fee_pct": null})", {"body must set at least one of"}},
      {"gain negative", R"({"switch_min_gain_pct": -1})",
       {"\"switch_min_gain_pct\" must be a percentage between 0 and 100, got -1"}},
      {"gain tiny negative", R"({"switch_min_gain_pct": -0.00001})", {"\"switch_min_gain_pct\""}},
      {"gain over 100", R"({"switch_min_gain_pct": 100.01})", {"\"switch_min_gain_pct\"", "got 100.01"}},
      {"gain string", R"({"switch_min_gain_pct": "5%"})", {"\"switch_min_gain_pct\"", "got \"5%\""}},
      {"dwell negative", R"({"switch_min_dwell_s": -1})",
       {"\"switch_min_dwell_s\" must be an integer between 0 and 86400, got -1"}},
      {"dwell over a day", R"({"switch_min_dwell_s": 86401})", {"\"switch_min_dwell_s\"", "got 86401"}},
      {"dwell fraction", R"({"switch_min_dwell_s": 1.5})", {"\"switch_min_dwell_s\"", "got 1.5"}},
      {"restart over an hour", R"({"miner_restart_s": 3601})",
       {"\"miner_restart_s\" must be an integer between 0 and 3600, got 3601"}},
      {"restart bool", R"({"miner_restart_s": false})", {"\"miner_restart_s\"", "got false"}},
      {"fee over 50", R"({"pool_fee_pct": 51})", {"\"pool_fee_pct\" must be a percentage between 0 and 50, got 51"}},
      {"fee negative", R"({"pool_fee_pct": -0.5})", {"\"pool_fee_pct\"", "got -0.5"}},
      {"margin over 100", R"({"resume_margin_pct": 101})",
       {"\"resume_margin_pct\" must be a percentage between 0 and 100, got 101"}},
      {"margin list", R"({"resume_margin_pct": [2]})", {"\"resume_margin_pct\"", "got a list"}},
      {"unknown field", R"({"pool_fee": 1})", {"unknown field \"pool_fee\" (fields: switch_min_gain_pct"}},
      {"duplicate", R"({"pool_fee_pct": 1, "pool_fee_pct": 2})", {"duplicate field \"pool_fee_pct\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParsePolicyUpdate(c.input), c);
}

// ----- Path ids -----

// ---- hashrate contracts ---------------------------------------------------------------------------

TEST(ParseContractProductRequestTest, GoodValues) {
  auto r = ParseContractProductRequest(
      R"({"name": "SHA-256 30 days", "algorithm": "SHA-256", "unit": "TH/s", "days": 30, "price_usd_per_unit": 12.5,
          "fee_usd_per_unit_day": 0.035, "suspend_after_days": 28, "max_hashrate": 500.5})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->name, "SHA-256 30 days");
  EXPECT_EQ(r->unit, "TH/s");
  EXPECT_EQ(r->days, 30);
  EXPECT_EQ(r->price_per_unit, Money(12'500'000));
  EXPECT_EQ(r->fee_per_unit_day, Money(35'000));
  EXPECT_EQ(r->suspend_after_days, 28);
  EXPECT_EQ(r->max_hashrate, HashRate(static_cast<__int128>(500'500'000'000'000)));
  // suspend_after_days is optional (never suspended); MH/s keeps six decimals of H/s.
  auto mh = ParseContractProductRequest(R"({"name": "e", "algorithm": "Ethash", "unit": "MH/s", "days": 1,
      "price_usd_per_unit": 0, "fee_usd_per_unit_day": 0, "max_hashrate": 0.000001})");
  ASSERT_TRUE(mh.has_value()) << mh.error().ToString();
  EXPECT_EQ(mh->suspend_after_days, 0);
  EXPECT_EQ(mh->max_hashrate, HashRate(1));
}

TEST(ParseContractProductRequestTest, BadValues) {
  const std::string ok = R"("name": "n", "algorithm": "SHA-256", "unit": "TH/s", "days": 1, "price_usd_per_unit": 1,
                            "fee_usd_per_unit_day": 1)";
  const std::vector<Bad> cases = {
      {"no name", R"({"algorithm": "a", "unit": "TH/s", "days": 1, "price_usd_per_unit": 1, "fee_usd_per_unit_day": 1,
                      "max_hashrate": 1})", {"\"name\"", "required"}},
      {"unknown unit", R"({"name": "n", "algorithm": "a", "unit": "PH/s", "days": 1, "price_usd_per_unit": 1,
                           "fee_usd_per_unit_day": 1, "max_hashrate": 1})", {"\"unit\"", "TH/s, GH/s, MH/s, kH/s, H/s"}},
      {"days 0", "{" + ok.substr(0, ok.find("\"days\"")) + R"("days": 0, "price_usd_per_unit": 1,
                  "fee_usd_per_unit_day": 1, "max_hashrate": 1})", {"\"days\"", "between 1 and 3650"}},
      {"negative fee", "{" + ok.substr(0, ok.find("\"fee")) + R"("fee_usd_per_unit_day": -0.01, "max_hashrate": 1})",
       {"\"fee_usd_per_unit_day\"", "between 0 and 1000000"}},
      {"price too high", R"({"name": "n", "algorithm": "a", "unit": "TH/s", "days": 1, "price_usd_per_unit": 1000001,
                             "fee_usd_per_unit_day": 1, "max_hashrate": 1})", {"\"price_usd_per_unit\""}},
      {"zero hashrate", "{" + ok + R"(, "max_hashrate": 0})", {"\"max_hashrate\"", "greater than 0"}},
      {"below one H/s", "{" + ok + R"(, "max_hashrate": 1e-13})", {"\"max_hashrate\"", "at least 1 H/s"}},
      {"beyond int64", "{" + ok + R"(, "max_hashrate": 1e7})", {"\"max_hashrate\""}},
      {"suspend days", "{" + ok + R"(, "max_hashrate": 1, "suspend_after_days": -1})", {"\"suspend_after_days\""}},
      {"misspelt field", "{" + ok + R"(, "max_hashrate": 1, "suspend_days": 3})", {"unknown field", "suspend_days"}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseContractProductRequest(c.input), c);
}

TEST(ParseContractRequestTest, GoodValues) {
  auto r = ParseContractRequest(R"({"product": 3, "hashrate": 10.25, "unit": "TH/s",
      "payout_address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh.rig-1", "pool": "stratum+tcp://btc.example.org:3333"})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->product, 3);
  EXPECT_EQ(r->hashrate, HashRate(static_cast<__int128>(10'250'000'000'000)));
  EXPECT_EQ(r->payout_address, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh.rig-1");
  for (const char* pool : {"stratum+ssl://a.b:443", "stratum+tls://a:1", "stratum2+tcp://a:65535", "tcp://10.0.0.7:4444",
                           "ssl://[2001:db8::1]:3333"}) {
    auto p = ParseContractRequest(std::string(R"({"product": 1, "hashrate": 1, "unit": "MH/s", "payout_address": "0xabc",
        "pool": ")") + pool + "\"}");
    EXPECT_TRUE(p.has_value()) << pool << ": " << p.error().ToString();
  }
}

TEST(ParseContractRequestTest, BadValues) {
  auto body = [](std::string fields) { return "{" + fields + "}"; };
  const std::string rest = R"("unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1")";
  const std::vector<Bad> cases = {
      {"no product", body(R"("hashrate": 1, )" + rest), {"\"product\"", "required"}},
      {"product 0", body(R"("product": 0, "hashrate": 1, )" + rest), {"\"product\""}},
      {"no unit", body(R"("product": 1, "hashrate": 1, "payout_address": "a", "pool": "tcp://p:1")"), {"\"unit\""}},
      {"hashrate as text", body(R"("product": 1, "hashrate": "1", )" + rest), {"\"hashrate\"", "TH/s"}},
      {"address with a space", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a b", "pool": "tcp://p:1")"),
       {"\"payout_address\""}},
      {"address too long", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": ")" + Repeat("a", 129) +
                                R"(", "pool": "tcp://p:1")"), {"\"payout_address\"", "1 to 128"}},
      {"pool of another scheme", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "https://p:1")"),
       {"\"pool\"", "stratum+tcp"}},
      {"pool without a port", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p")"),
       {"\"pool\""}},
      {"pool with a path", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:1/x")"),
       {"\"pool\""}},
      {"pool with a user", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://u@p:1")"),
       {"\"pool\""}},
      {"pool port 0", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p:0")"),
       {"\"pool\""}},
      {"pool with a shell word", body(R"("product": 1, "hashrate": 1, "unit": "TH/s", "payout_address": "a", "pool": "tcp://p;rm:1")"),
       {"\"pool\""}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseContractRequest(c.input), c);
}

TEST(ParseAgentHeartbeatTest, AContractDeviceNamesItsContract) {
  auto r = ParseAgentHeartbeat(R"({"generation": 4, "devices": [{"slot": 0, "use": "contract", "contract": 7}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->devices[0].use, ReportedUse::kContract);
  EXPECT_EQ(r->devices[0].contract, 7);
  EXPECT_EQ(ReportedUseName(ReportedUse::kContract), "contract");
  ExpectRefused(ParseAgentHeartbeat(R"({"generation": 4, "devices": [{"slot": 0, "use": "contract", "contract": 0}]})"),
                {"contract 0", "", {"\"devices[0].contract\""}});
}

TEST(ParseIdTest, GoodValues) {
  EXPECT_EQ(ParseId("1").value(), 1);
  EXPECT_EQ(ParseId("17").value(), 17);
  EXPECT_EQ(ParseId("1234567890").value(), 1234567890);
  EXPECT_EQ(ParseId("9007199254740992").value(), kMaxJsonInteger);
}

TEST(ParseIdTest, BadValues) {
  const std::string kId = "an id must be a whole number between 1 and 9007199254740992";
  const std::vector<Bad> cases = {
      {"empty", "", {kId, "got an empty path segment"}},
      {"zero", "0", {kId, "got \"0\""}},
      {"leading zero", "017", {kId, "got \"017\""}},
      {"plus", "+17", {kId}},
      {"minus", "-17", {kId}},
      {"space before", " 17", {kId}},
      {"space after", "17 ", {kId}},
      {"letters", "abc", {kId, "got \"abc\""}},
      {"hex", "0x11", {kId}},
      {"fraction", "17.0", {kId}},
      {"exponent", "1e3", {kId}},
      {"over 2^53", "9007199254740993", {kId}},
      {"17 digits", "10000000000000000", {kId}},
      {"long digits", std::string(400, '9'), {kId, "..."}},
      {"NUL", std::string("1\0" "7", 3), {kId, "\\x00"}},
      {"bad UTF-8", "1\xff", {kId, "\\xff"}},
      {"percent-encoded", "%31", {kId}},
  };
  for (const Bad& c : cases) ExpectRefused(ParseId(c.input), c);
}

// ----- Authorization header -----

TEST(ParseBearerTest, GoodValues) {
  const std::string token = "abcDEF0123456789_-xyz";
  for (const std::string& header : {"Bearer " + token, "bearer " + token, "BEARER " + token, "BeArEr " + token,
                                    "Bearer   " + token, " Bearer " + token + " ", "Bearer\t" + token,
                                    "\tBearer " + token + "\t"}) {
    SCOPED_TRACE(header);
    auto r = ParseBearer(header);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(*r, token);
  }
  EXPECT_EQ(ParseBearer("Bearer " + std::string(16, 'a')).value(), std::string(16, 'a'));
  EXPECT_EQ(ParseBearer("Bearer " + std::string(256, 'Z')).value(), std::string(256, 'Z'));
}

TEST(ParseBearerTest, BadValuesAreUnauthenticatedAndNeverEchoTheSecret) {
  const std::string secret = "s3cr3tS3cr3tS3cr3t";
  const std::vector<Bad> cases = {
      {"missing", "", {"no bearer token", "Authorization: Bearer TOKEN"}},
      {"blank", "   ", {"no bearer token"}},
      {"scheme only", "Bearer", {"no token after \"Bearer\""}},
      {"scheme and spaces", "Bearer   ", {"no token after \"Bearer\""}},
      {"basic", "Basic " + secret, {"must be \"Bearer TOKEN\""}},
      {"token only", secret, {"must be \"Bearer TOKEN\""}},
      {"glued", "Bearer" + secret, {"must be \"Bearer TOKEN\""}},
      {"short", "Bearer " + std::string(15, 'a'), {"malformed bearer token", "16 to 256"}},
      {"long", "Bearer " + std::string(257, 'a'), {"malformed bearer token"}},
      {"two tokens", "Bearer " + secret + " " + secret, {"malformed bearer token"}},
      {"base64 padding", "Bearer " + secret + "==", {"malformed bearer token"}},
      {"dot", "Bearer " + secret + ".x", {"malformed bearer token"}},
      {"NUL", "Bearer " + secret + std::string(1, '\0'), {"malformed bearer token"}},
      {"non-ASCII", "Bearer " + secret + "\xc3\xa9", {"malformed bearer token"}},
  };
  for (const Bad& c : cases) {
    auto r = ParseBearer(c.input);
    ExpectRefused(r, c, StatusCode::kUnauthenticated);
    if (!r.has_value()) {
      EXPECT_EQ(r.error().message().find("s3cr3t"), std::string::npos) << r.error().message();
    }
  }
}

}  // namespace
}  // namespace rigshift
