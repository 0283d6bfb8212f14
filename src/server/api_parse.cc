#include "server/api_parse.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <initializer_list>
#include <limits>
#include <set>
#include <span>
#include <utility>

#include <nlohmann/json.hpp>
#include <regex>

namespace rigshift {
namespace {

// ---------------------------------------------------------------------------------------------
// A small JSON tree, built by nlohmann's SAX parser rather than its DOM, because the DOM keeps
// the last of two duplicate keys silently and forgets the text of numbers (which exact decimal
// conversion of prices needs). nlohmann still does all the lexing and UTF-8 validation.

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;               // kNumber: the number as written; kString: the decoded string
  std::vector<JsonValue> items;   // kArray: the elements; kObject: the member values
  std::vector<std::string> keys;  // kObject: the member names, parallel to items
};

// ---------------------------------------------------------------------------------------------
// Text for messages.

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the byte there starts none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// `s` in double quotes, cut after 40 characters, with quotes, backslashes, control characters
// and bytes that are not UTF-8 escaped: always printable, valid UTF-8.
std::string Quote(std::string_view s) {
  constexpr size_t kShown = 40;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t shown = 0;
  size_t i = 0;
  for (; i < s.size() && shown < kShown; ++shown) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = Utf8SequenceLength(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (n == 1 && c >= 0x20 && c != 0x7F) {
      out += static_cast<char>(c);
    } else if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
  if (i < s.size()) out += "...";
  return out;
}

// What a value was, for "got ..." in messages.
std::string Describe(const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kNull: return "null";
    case JsonValue::Kind::kBool: return v.boolean ? "true" : "false";
    case JsonValue::Kind::kNumber: return v.text.size() > 40 ? v.text.substr(0, 40) + "..." : v.text;
    case JsonValue::Kind::kString: return Quote(v.text);
    case JsonValue::Kind::kArray: return "a list";
    case JsonValue::Kind::kObject: return "an object";
  }
  return "?";
}

// nlohmann's messages quote the input near the error, which may be any bytes: keep printable
// ASCII only, and not too much of it.
std::string SanitizeParserMessage(std::string_view what) {
  // "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at line 1, ..."
  if (!what.empty() && what.front() == '[') {
    size_t close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  constexpr size_t kMax = 200;
  std::string out;
  for (char c : what.substr(0, kMax)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F) ? c : '?';
  }
  if (what.size() > kMax) out += "...";
  return out;
}

std::string Q(std::string_view field_path) { return "\"" + std::string(field_path) + "\""; }

// ---------------------------------------------------------------------------------------------
// Parsing the body.

class TreeBuilder {
 public:
  using json = nlohmann::json;

  explicit TreeBuilder(JsonValue* root) : root_(root) {}

  bool null() { return Add(JsonValue{}); }
  bool boolean(bool b) {
    JsonValue v;
    v.kind = JsonValue::Kind::kBool;
    v.boolean = b;
    return Add(std::move(v));
  }
  bool number_integer(json::number_integer_t n) { return AddNumber(std::to_string(n)); }
  bool number_unsigned(json::number_unsigned_t n) { return AddNumber(std::to_string(n)); }
  bool number_float(json::number_float_t, const json::string_t& text) {
    // The lexer writes the locale's decimal point into the token; JSON's is '.'.
    std::string t = text;
    for (char& c : t) {
      if (!(c >= '0' && c <= '9') && c != '-' && c != '+' && c != 'e' && c != 'E') c = '.';
    }
    return AddNumber(std::move(t));
  }
  bool string(json::string_t& s) {
    JsonValue v;
    v.kind = JsonValue::Kind::kString;
    v.text = std::move(s);
    return Add(std::move(v));
  }
  bool binary(json::binary_t&) {  // only binary formats produce these
    error_ = "body is not valid JSON: binary value";
    return false;
  }
  bool start_object(std::size_t) { return Open(JsonValue::Kind::kObject); }
  bool key(json::string_t& k) {
    Frame& f = stack_.back();
    if (!f.seen.insert(k).second) {
      error_ = "duplicate field " + Quote(k) + (f.path.empty() ? "" : " in " + Q(f.path));
      return false;
    }
    f.pending_key = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(JsonValue::Kind::kArray); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = "body is not valid JSON: " + SanitizeParserMessage(ex.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    JsonValue* value;
    std::string path;  // "" for the top level, "devices[2]" below
    std::set<std::string, std::less<>> seen;
    std::string pending_key;
  };

  bool AddNumber(std::string text) {
    JsonValue v;
    v.kind = JsonValue::Kind::kNumber;
    v.text = std::move(text);
    return Add(std::move(v));
  }

  // Adds `v` where the parser is and returns where it now lives (valid while the parser is
  // inside it: its parent's list does not grow until it is closed).
  JsonValue* Place(JsonValue v) {
    if (stack_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    Frame& f = stack_.back();
    if (f.value->kind == JsonValue::Kind::kObject) f.value->keys.push_back(f.pending_key);
    f.value->items.push_back(std::move(v));
    return &f.value->items.back();
  }
  bool Add(JsonValue v) {
    Place(std::move(v));
    return true;
  }
  std::string ChildPath() const {
    if (stack_.empty()) return "";
    const Frame& f = stack_.back();
    if (f.value->kind == JsonValue::Kind::kArray) return f.path + "[" + std::to_string(f.value->items.size()) + "]";
    return f.path.empty() ? f.pending_key : f.path + "." + f.pending_key;
  }
  bool Open(JsonValue::Kind kind) {
    if (stack_.size() >= static_cast<size_t>(kMaxJsonDepth)) {
      error_ = "body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    std::string path = ChildPath();
    JsonValue v;
    v.kind = kind;
    JsonValue* placed = Place(std::move(v));
    stack_.push_back(Frame{placed, std::move(path), {}, {}});
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  JsonValue* root_;
  std::vector<Frame> stack_;
  std::string error_;
};

Result<JsonValue> ParseObject(std::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return Err(InvalidArgumentError("body is " + std::to_string(body.size()) + " bytes; at most " +
                                    std::to_string(kMaxBodyBytes) + " are accepted"));
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Err(InvalidArgumentError("body is empty: expected a JSON object"));
  }
  JsonValue root;
  TreeBuilder builder(&root);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(body.begin(), body.end(), &builder, nlohmann::json::input_format_t::json,
                                   /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception& e) {  // the SAX interface reports through parse_error; be sure
    return Err(InvalidArgumentError("body is not valid JSON: " + SanitizeParserMessage(e.what())));
  }
  if (!ok) {
    return Err(InvalidArgumentError(builder.error().empty() ? "body is not valid JSON" : builder.error()));
  }
  if (root.kind != JsonValue::Kind::kObject) {
    return Err(InvalidArgumentError("body must be a JSON object, got " + Describe(root)));
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Numbers.

struct Scaled {
  int64_t value = 0;  // rounded half away from zero
  bool exact = true;  // nothing was rounded away
  int sign = 0;       // of the exact value: -1, 0, 1
};

// The exact value of the JSON number `text`, times 10^scale times `factor`, rounded half away
// from zero once. Works on the decimal digits, so 0.1234565 (a double just below it) still
// rounds up at scale 6, and any length or exponent is handled. nullopt: beyond int64.
std::optional<Scaled> ToScaled(std::string_view text, int scale, int factor) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  std::string digits;  // significant digits, no leading zeros; value = digits * 10^exp10
  int64_t exp10 = 0;
  bool after_point = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    char c = text[i];
    if (c == '.') {
      after_point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;  // not a JSON number: the lexer prevents it
    if (after_point) --exp10;
    if (digits.empty() && c == '0') continue;
    digits.push_back(c);
  }
  if (i < text.size()) {  // exponent, saturated: its size only matters up to "far too big/small"
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    int64_t e = 0;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      e = std::min<int64_t>(e * 10 + (text[i] - '0'), 1'000'000'000'000);
    }
    exp10 += exp_negative ? -e : e;
  }
  if (digits.empty()) return Scaled{};
  if (factor != 1) {  // digits *= factor, exactly
    int carry = 0;
    for (size_t k = digits.size(); k-- > 0;) {
      int d = (digits[k] - '0') * factor + carry;
      digits[k] = static_cast<char>('0' + d % 10);
      carry = d / 10;
    }
    for (; carry > 0; carry /= 10) digits.insert(digits.begin(), static_cast<char>('0' + carry % 10));
  }
  const int64_t size = static_cast<int64_t>(digits.size());
  const int64_t int_len = size + exp10 + scale;  // digits before the point, after scaling
  if (int_len > 19) return std::nullopt;           // >= 10^19 (digits[0] is not 0)
  __int128 q = 0;
  for (int64_t k = 0; k < int_len; ++k) q = q * 10 + (k < size ? digits[k] - '0' : 0);
  Scaled out;
  out.sign = negative ? -1 : 1;
  if (int_len < 0) {  // below 0.1 and not zero
    out.exact = false;
  } else if (int_len < size) {
    if (digits[int_len] >= '5') ++q;
    out.exact = std::all_of(digits.begin() + int_len, digits.end(), [](char c) { return c == '0'; });
  }
  if (q > std::numeric_limits<int64_t>::max()) return std::nullopt;
  out.value = negative ? -static_cast<int64_t>(q) : static_cast<int64_t>(q);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fields.

std::string PathOf(std::string_view where, std::string_view name) {
  return where.empty() ? std::string(name) : std::string(where) + "." + std::string(name);
}

std::string Join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Refuses members of `object` not named in `fields`. `where` is the object's path ("" at top).
Status CheckFields(const JsonValue& object, std::string_view where, std::span<const std::string_view> fields) {
  for (const std::string& key : object.keys) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
      return InvalidArgumentError("unknown field " + Quote(key) + (where.empty() ? "" : " in " + Q(where)) +
                                  " (fields: " + Join(fields) + ")");
    }
  }
  return OkStatus();
}

// The member `name` as given, JSON null included; nullptr when absent.
const JsonValue* Get(const JsonValue& object, std::string_view name) {
  for (size_t i = 0; i < object.keys.size(); ++i) {
    if (object.keys[i] == name) return &object.items[i];
  }
  return nullptr;
}

// An optional member: nullptr when absent or null.
const JsonValue* Optional(const JsonValue& object, std::string_view name) {
  const JsonValue* v = Get(object, name);
  return v != nullptr && v->kind == JsonValue::Kind::kNull ? nullptr : v;
}

Status Missing(std::string_view path, std::string_view expected) {
  return InvalidArgumentError(Q(path) + " is required (" + std::string(expected) + ")");
}

// The field `name` of `object`, which must be there (null counts as there: the type check that
// follows refuses it); `path` and `expected` word the error.
Result<const JsonValue*> Required(const JsonValue& object, std::string_view name, std::string_view path,
                                  std::string_view expected) {
  const JsonValue* v = Get(object, name);
  if (v == nullptr) return Err(Missing(path, expected));
  return v;
}

Result<int64_t> Integer(const JsonValue& v, std::string_view path, int64_t lo, int64_t hi) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, 0, 1);
    if (s && s->exact && s->value >= lo && s->value <= hi) return s->value;
  }
  return Err(InvalidArgumentError(Q(path) + " must be an integer between " + std::to_string(lo) + " and " +
                                  std::to_string(hi) + ", got " + Describe(v)));
}

// A percentage 0..max_pct as parts per million.
Result<int64_t> PercentPpm(const JsonValue& v, std::string_view path, int max_pct) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, 4, 1);  // 1 % = 10^4 ppm
    if (s && s->sign >= 0 && s->value <= int64_t{max_pct} * 10'000) return s->value;
  }
  return Err(InvalidArgumentError(Q(path) + " must be a percentage between 0 and " + std::to_string(max_pct) +
                                  ", got " + Describe(v)));
}

Result<RentalPrice> Price(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, 6, 1);
    if (s && s->value >= 1 && s->value <= kMaxRentalPrice.raw()) return RentalPrice(s->value);
  }
  return Err(InvalidArgumentError(Q(path) + " must be a price in USD per GPU-hour, at least 0.000001 and at most " +
                                  std::to_string(kMaxRentalPrice.raw() / kMicrosPerUnit) + ", got " + Describe(v)));
}

// Hours (> 0, may be fractional) as whole seconds, at least 1.
Result<int64_t> HoursAsSeconds(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, 0, 3600);
    if (s && s->sign > 0 && s->value <= kMaxLeaseSeconds) return std::max<int64_t>(s->value, 1);
  }
  return Err(InvalidArgumentError(Q(path) + " must be a number of hours greater than 0 and at most " +
                                  std::to_string(kMaxLeaseSeconds / 3600) + ", got " + Describe(v)));
}

Result<std::string> String(const JsonValue& v, std::string_view path, bool allow_empty) {
  if (v.kind != JsonValue::Kind::kString) {
    return Err(InvalidArgumentError(Q(path) + " must be a string, got " + Describe(v)));
  }
  if (!allow_empty && v.text.find_first_not_of(' ') == std::string::npos) {
    return Err(InvalidArgumentError(Q(path) + " must not be empty"));
  }
  if (CodePoints(v.text) > kMaxStringChars) {
    return Err(InvalidArgumentError(Q(path) + " is longer than " + std::to_string(kMaxStringChars) +
                                    " characters: " + Quote(v.text)));
  }
  if (HasControl(v.text)) {
    return Err(InvalidArgumentError(Q(path) + " must not contain control characters, got " + Quote(v.text)));
  }
  return v.text;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// Tenant and node names.
Result<std::string> Name(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kString && !v.text.empty() && v.text.size() <= kMaxNameChars &&
      std::all_of(v.text.begin(), v.text.end(), IsNameChar)) {
    return v.text;
  }
  return Err(InvalidArgumentError(Q(path) + " must be 1 to " + std::to_string(kMaxNameChars) +
                                  " characters of A-Z, a-z, 0-9, '.', '_' and '-', got " + Describe(v)));
}

// One of a few words: `parse` maps the word to T.
template <typename T, typename ParseFn>
Result<T> Word(const JsonValue& v, std::string_view path, std::string_view choices, ParseFn parse) {
  T out{};
  if (v.kind == JsonValue::Kind::kString && parse(v.text, &out)) return out;
  return Err(InvalidArgumentError(Q(path) + " must be one of " + std::string(choices) + ", got " + Describe(v)));
}

// A list of at most `max` entries; `what` describes it for messages ("a list of strings").
Result<const std::vector<JsonValue>*> List(const JsonValue& v, std::string_view path, size_t max,
                                           std::string_view what) {
  if (v.kind != JsonValue::Kind::kArray) {
    return Err(InvalidArgumentError(Q(path) + " must be " + std::string(what) + ", got " + Describe(v)));
  }
  if (v.items.size() > max) {
    return Err(InvalidArgumentError(Q(path) + " has " + std::to_string(v.items.size()) + " entries; at most " +
                                    std::to_string(max) + " are allowed"));
  }
  return &v.items;
}

std::string ElementPath(std::string_view list_path, size_t i) {
  return std::string(list_path) + "[" + std::to_string(i) + "]";
}

Status CheckObject(const JsonValue& v, std::string_view path, std::string_view shape) {
  if (v.kind == JsonValue::Kind::kObject) return OkStatus();
  return InvalidArgumentError(Q(path) + " must be an object " + std::string(shape) + ", got " + Describe(v));
}

// Refuses a slot seen before in the same list; `first_index` maps slot -> index of first use.
Status CheckUniqueSlot(int slot, size_t index, std::vector<int>& first_index) {
  if (first_index[slot] >= 0) {
    return InvalidArgumentError("slot " + std::to_string(slot) + " appears twice in \"devices\" (devices[" +
                                std::to_string(first_index[slot]) + "] and devices[" + std::to_string(index) + "])");
  }
  first_index[slot] = static_cast<int>(index);
  return OkStatus();
}

bool ParseApiRole(std::string_view s, ApiRole* out) {
  for (ApiRole r : {ApiRole::kOperator, ApiRole::kTenant, ApiRole::kAgent}) {
    if (s == ApiRoleName(r)) {
      *out = r;
      return true;
    }
  }
  return false;
}

bool ParseReportedUse(std::string_view s, ReportedUse* out) {
  for (ReportedUse u :
       {ReportedUse::kLease, ReportedUse::kMining, ReportedUse::kIdle, ReportedUse::kOff, ReportedUse::kContract}) {
    if (s == ReportedUseName(u)) {
      *out = u;
      return true;
    }
  }
  return false;
}


// An OCI image reference as registries spell it ([DOMAIN[:PORT]/]PATH[:TAG][@DIGEST]), and
// nothing else that Podman would read: no transport ("oci-archive:/etc/x" would make it read a
// file on the node as root), no relative path.
bool IsImageReference(const std::string& image) {
  static const std::regex kReference(
      "^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?/)?"
      "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
      "(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
      "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$");
  static const char* const kTransports[] = {"docker", "docker-archive", "docker-daemon", "oci", "oci-archive",
                                            "dir", "containers-storage", "sif", "tarball", "ostree"};
  for (const char* t : kTransports) {
    if (image.rfind(std::string(t) + ":", 0) == 0) return false;
  }
  return std::regex_match(image, kReference);
}

bool IsEnvNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// {"image": "...", "command": ["...", ...], "env": {"NAME": "value", ...}}: an image, a command,
// or both.
Result<LeaseWorkload> WorkloadFrom(const JsonValue& v, std::string_view path) {
  static constexpr std::string_view kFields[] = {"image", "command", "env"};
  RS_RETURN_IF_ERROR(CheckObject(v, path, R"({"image": ..., "command": [...], "env": {...}})"));
  RS_RETURN_IF_ERROR(CheckFields(v, path, kFields));
  LeaseWorkload w;
  if (const JsonValue* image = Optional(v, "image")) {
    RS_ASSIGN_OR_RETURN(w.image, String(*image, PathOf(path, "image"), /*allow_empty=*/false));
    if (!IsImageReference(w.image)) {
      return Err(InvalidArgumentError(
          Q(PathOf(path, "image")) + " must be an image reference such as \"localhost/train:1\" or "
          "\"registry.example:5000/team/train@sha256:...\" (lowercase repository, no transport such as "
          "docker:// or oci-archive:), got " + Quote(w.image)));
    }
  }
  if (const JsonValue* command = Optional(v, "command")) {
    const std::string where = PathOf(path, "command");
    RS_ASSIGN_OR_RETURN(const std::vector<JsonValue>* list,
                        List(*command, where, kMaxWorkloadArgs, "a list of strings (the program and its arguments)"));
    for (size_t i = 0; i < list->size(); ++i) {
      RS_ASSIGN_OR_RETURN(std::string arg, String((*list)[i], ElementPath(where, i), /*allow_empty=*/i > 0));
      w.command.push_back(std::move(arg));
    }
  }
  if (const JsonValue* env = Optional(v, "env")) {
    const std::string where = PathOf(path, "env");
    RS_RETURN_IF_ERROR(CheckObject(*env, where, R"({"NAME": "value", ...})"));
    if (env->keys.size() > kMaxWorkloadEnv) {
      return Err(InvalidArgumentError(Q(where) + " has " + std::to_string(env->keys.size()) + " entries; at most " +
                                      std::to_string(kMaxWorkloadEnv) + " are allowed"));
    }
    for (size_t i = 0; i < env->keys.size(); ++i) {
      const std::string& name = env->keys[i];
      if (name.empty() || name.size() > kMaxNameChars || (name[0] >= '0' && name[0] <= '9') ||
          !std::all_of(name.begin(), name.end(), IsEnvNameChar)) {
        return Err(InvalidArgumentError("environment variable names in " + Q(where) +
                                        " are letters, digits and '_', not starting with a digit; got " + Quote(name)));
      }
      if (name == "CUDA_VISIBLE_DEVICES" || name == "NVIDIA_VISIBLE_DEVICES") {
        return Err(InvalidArgumentError(Q(where) + " may not set " + name + ": the agent sets it to the lease's GPUs"));
      }
      RS_ASSIGN_OR_RETURN(std::string value, String(env->items[i], PathOf(where, name), /*allow_empty=*/true));
      w.env.emplace_back(name, std::move(value));
    }
    std::sort(w.env.begin(), w.env.end());
  }
  if (w.empty()) {
    return Err(InvalidArgumentError(Q(path) + " must give an \"image\", a \"command\", or both"));
  }
  return w;
}

// A time as RFC 3339 UTC ("2026-12-04T18:00:00Z") or whole seconds since the epoch.
Result<Timestamp> TimeFrom(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kNumber) {
    RS_ASSIGN_OR_RETURN(int64_t s, Integer(v, path, 0, kMaxJsonInteger));
    return Timestamp{s};
  }
  if (v.kind == JsonValue::Kind::kString) {
    if (auto t = ParseUtcTimestamp(v.text)) return *t;
  }
  return Err(InvalidArgumentError(Q(path) + " must be a UTC time such as \"2026-12-04T18:00:00Z\" or seconds since "
                                  "the epoch, got " + Describe(v)));
}

Result<bool> Bool(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kBool) return v.boolean;
  return Err(InvalidArgumentError(Q(path) + " must be true or false, got " + Describe(v)));
}

// An optional integer member `name` of `object` in lo..hi, into `out`.
template <typename T>
Status OptionalInt(const JsonValue& object, std::string_view where, std::string_view name, int64_t lo, int64_t hi,
                   std::optional<T>* out) {
  if (const JsonValue* v = Optional(object, name)) {
    RS_ASSIGN_OR_RETURN(int64_t n, Integer(*v, PathOf(where, name), lo, hi));
    *out = static_cast<T>(n);
  }
  return OkStatus();
}

bool ParseWorkloadState(std::string_view s, WorkloadState* out) {
  for (WorkloadState w : {WorkloadState::kStarting, WorkloadState::kRunning, WorkloadState::kExited,
                          WorkloadState::kFailed}) {
    if (s == WorkloadStateName(w)) {
      *out = w;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view WorkloadStateName(WorkloadState s) {
  switch (s) {
    case WorkloadState::kStarting: return "starting";
    case WorkloadState::kRunning: return "running";
    case WorkloadState::kExited: return "exited";
    case WorkloadState::kFailed: return "failed";
  }
  return "unknown";
}

std::string WorkloadJson(const LeaseWorkload& w) {
  if (w.empty()) return "";
  nlohmann::json j = nlohmann::json::object();
  if (!w.image.empty()) j["image"] = w.image;
  j["command"] = w.command;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : w.env) env[k] = v;
  j["env"] = env;
  return j.dump();
}

Result<LeaseWorkload> ParseWorkload(std::string_view text) {
  if (text.empty()) return LeaseWorkload{};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(text));
  return WorkloadFrom(root, "workload");
}

namespace {

}  // namespace

std::string_view ApiRoleName(ApiRole role) {
  switch (role) {
    case ApiRole::kOperator: return "operator";
    case ApiRole::kTenant: return "tenant";
    case ApiRole::kAgent: return "agent";
  }
  return "tenant";
}

std::string_view ReportedUseName(ReportedUse use) {
  switch (use) {
    case ReportedUse::kLease: return "lease";
    case ReportedUse::kContract: return "contract";
    case ReportedUse::kMining: return "mining";
    case ReportedUse::kIdle: return "idle";
    case ReportedUse::kOff: return "off";
  }
  return "idle";
}

Result<LeaseAsk> ParseLeaseRequest(std::string_view body) {
  static constexpr std::string_view kFields[] = {"gpus", "models", "min_vram_gb", "interconnect",
                                                 "hours", "kind", "max_price_usd_per_gpu_h", "workload"};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  LeaseAsk ask;

  RS_ASSIGN_OR_RETURN(const JsonValue* gpus,
                      Required(root, "gpus", "gpus", "an integer between 1 and " + std::to_string(kMaxLeaseGpus)));
  RS_ASSIGN_OR_RETURN(ask.gpus, Integer(*gpus, "gpus", 1, kMaxLeaseGpus));

  if (const JsonValue* models = Optional(root, "models")) {
    RS_ASSIGN_OR_RETURN(const std::vector<JsonValue>* list,
                        List(*models, "models", kMaxLeaseModels, "a list of strings"));
    for (size_t i = 0; i < list->size(); ++i) {
      const JsonValue& m = (*list)[i];
      if (m.kind != JsonValue::Kind::kString) {
        return Err(InvalidArgumentError("\"models\" must be a list of strings, got " + Describe(m) + " at models[" +
                                        std::to_string(i) + "]"));
      }
      RS_ASSIGN_OR_RETURN(std::string name, String(m, ElementPath("models", i), /*allow_empty=*/false));
      ask.models.push_back(std::move(name));
    }
  }
  if (const JsonValue* vram = Optional(root, "min_vram_gb")) {
    RS_ASSIGN_OR_RETURN(ask.min_vram_gb, Integer(*vram, "min_vram_gb", 0, kMaxVramGb));
  }
  if (const JsonValue* ic = Optional(root, "interconnect")) {
    RS_ASSIGN_OR_RETURN(ask.interconnect,
                        Word<Interconnect>(*ic, "interconnect", "any, node, nvlink, fabric", ParseInterconnect));
  }
  if (const JsonValue* hours = Optional(root, "hours")) {
    RS_ASSIGN_OR_RETURN(ask.duration_s, HoursAsSeconds(*hours, "hours"));
  }
  if (const JsonValue* kind = Optional(root, "kind")) {
    RS_ASSIGN_OR_RETURN(ask.kind,
                        Word<RequestKind>(*kind, "kind", "on_demand, interruptible, reserved", ParseRequestKind));
  }
  if (const JsonValue* price = Optional(root, "max_price_usd_per_gpu_h")) {
    RS_ASSIGN_OR_RETURN(ask.max_price, Price(*price, "max_price_usd_per_gpu_h"));
  }
  if (const JsonValue* w = Optional(root, "workload")) {
    RS_ASSIGN_OR_RETURN(ask.workload, WorkloadFrom(*w, "workload"));
  }
  if (ask.kind == RequestKind::kInterruptible && !ask.max_price) {
    return Err(InvalidArgumentError(
        "\"max_price_usd_per_gpu_h\" is required when \"kind\" is \"interruptible\": it is the bid, in USD per "
        "GPU-hour"));
  }
  return ask;
}

bool IsReservedTenantName(std::string_view name) {
  auto equals_lower = [name](std::string_view word) {
    return name.size() == word.size() && std::equal(name.begin(), name.end(), word.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return equals_lower("operator") || equals_lower("agent") || name.starts_with('_') || name.starts_with('@') ||
         name.find_first_not_of('.') == std::string_view::npos;
}

Result<TokenAsk> ParseTokenRequest(std::string_view body) {
  static constexpr std::string_view kFields[] = {"role", "tenant", "node"};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  TokenAsk ask;
  RS_ASSIGN_OR_RETURN(const JsonValue* role,
                      Required(root, "role", "role", "one of operator, tenant, agent"));
  RS_ASSIGN_OR_RETURN(ask.role, Word<ApiRole>(*role, "role", "operator, tenant, agent", ParseApiRole));
  const JsonValue* tenant = Optional(root, "tenant");
  if (ask.role == ApiRole::kTenant) {
    if (tenant == nullptr) return Err(InvalidArgumentError("\"tenant\" is required when \"role\" is \"tenant\""));
    RS_ASSIGN_OR_RETURN(ask.tenant, Name(*tenant, "tenant"));
    if (IsReservedTenantName(ask.tenant)) {
      return Err(InvalidArgumentError("\"tenant\" " + Describe(*tenant) +
                                      " is reserved (operator, agent, and names starting with '_' or '@' name the "
                                      "server's own identities; names of dots only read as paths); choose another name"));
    }
  } else if (tenant != nullptr) {
    return Err(InvalidArgumentError("\"tenant\" is only allowed when \"role\" is \"tenant\", not \"" +
                                    std::string(ApiRoleName(ask.role)) + "\""));
  }
  if (const JsonValue* node = Optional(root, "node")) {
    if (ask.role != ApiRole::kAgent) {
      return Err(InvalidArgumentError("\"node\" is only allowed when \"role\" is \"agent\", not \"" +
                                      std::string(ApiRoleName(ask.role)) + "\""));
    }
    RS_ASSIGN_OR_RETURN(ask.node, Name(*node, "node"));
  }
  return ask;
}

Result<AgentRegistration> ParseAgentRegistration(std::string_view body) {
  static constexpr std::string_view kFields[] = {"node", "devices", "host", "self_test"};
  static constexpr std::string_view kDeviceFields[] = {"slot",     "model",      "vram_gb",      "uuid",
                                                       "pcie_gen", "pcie_width", "power_limit_w"};
  static constexpr std::string_view kHostFields[] = {"cpu_model", "cpu_cores", "ram_mib", "disk_free_mib",
                                                     "driver_version"};
  static constexpr std::string_view kSelfTestFields[] = {"passed", "reason"};
  static constexpr std::string_view kPowerFields[] = {"min", "max"};
  static constexpr std::string_view kShape = R"({"slot": ..., "model": ..., "vram_gb": ...})";
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  AgentRegistration reg;

  RS_ASSIGN_OR_RETURN(const JsonValue* node,
                      Required(root, "node", "node", "the node's name"));
  RS_ASSIGN_OR_RETURN(reg.node, Name(*node, "node"));

  RS_ASSIGN_OR_RETURN(const JsonValue* devices,
                      Required(root, "devices", "devices", "a list of the node's GPUs"));
  RS_ASSIGN_OR_RETURN(const std::vector<JsonValue>* list,
                      List(*devices, "devices", kMaxNodeDevices, "a list of devices"));
  if (list->empty()) return Err(InvalidArgumentError("\"devices\" must list at least one device"));
  std::vector<int> first_index(kMaxSlot + 1, -1);
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonValue& d = (*list)[i];
    const std::string where = ElementPath("devices", i);
    RS_RETURN_IF_ERROR(CheckObject(d, where, kShape));
    RS_RETURN_IF_ERROR(CheckFields(d, where, kDeviceFields));
    DeviceInventory dev;
    RS_ASSIGN_OR_RETURN(const JsonValue* slot,
                        Required(d, "slot", PathOf(where, "slot"), "an integer between 0 and 63"));
    RS_ASSIGN_OR_RETURN(dev.slot, Integer(*slot, PathOf(where, "slot"), 0, kMaxSlot));
    RS_RETURN_IF_ERROR(CheckUniqueSlot(dev.slot, i, first_index));
    RS_ASSIGN_OR_RETURN(const JsonValue* model,
                        Required(d, "model", PathOf(where, "model"), "the GPU model's name"));
    RS_ASSIGN_OR_RETURN(dev.model, String(*model, PathOf(where, "model"), /*allow_empty=*/false));
    RS_ASSIGN_OR_RETURN(const JsonValue* vram,
                        Required(d, "vram_gb", PathOf(where, "vram_gb"), "an integer between 0 and 1024"));
    RS_ASSIGN_OR_RETURN(dev.vram_gb, Integer(*vram, PathOf(where, "vram_gb"), 0, kMaxVramGb));
    if (const JsonValue* uuid = Optional(d, "uuid")) {
      RS_ASSIGN_OR_RETURN(dev.uuid, String(*uuid, PathOf(where, "uuid"), /*allow_empty=*/true));
    }
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "pcie_gen", 1, 6, &dev.pcie_gen));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "pcie_width", 1, 32, &dev.pcie_width));
    if (const JsonValue* power = Optional(d, "power_limit_w")) {
      const std::string pw = PathOf(where, "power_limit_w");
      RS_RETURN_IF_ERROR(CheckObject(*power, pw, R"({"min": ..., "max": ...})"));
      RS_RETURN_IF_ERROR(CheckFields(*power, pw, kPowerFields));
      RS_RETURN_IF_ERROR(OptionalInt(*power, pw, "min", 0, kMaxDevicePowerW, &dev.power_min_w));
      RS_RETURN_IF_ERROR(OptionalInt(*power, pw, "max", 0, kMaxDevicePowerW, &dev.power_max_w));
    }
    reg.devices.push_back(std::move(dev));
  }
  if (const JsonValue* host = Optional(root, "host")) {
    RS_RETURN_IF_ERROR(CheckObject(*host, "host", R"({"cpu_model": ..., "cpu_cores": ..., "ram_mib": ...})"));
    RS_RETURN_IF_ERROR(CheckFields(*host, "host", kHostFields));
    if (const JsonValue* v = Optional(*host, "cpu_model")) {
      RS_ASSIGN_OR_RETURN(reg.host.cpu_model, String(*v, "host.cpu_model", /*allow_empty=*/true));
    }
    if (const JsonValue* v = Optional(*host, "driver_version")) {
      RS_ASSIGN_OR_RETURN(reg.host.driver_version, String(*v, "host.driver_version", /*allow_empty=*/true));
    }
    RS_RETURN_IF_ERROR(OptionalInt(*host, "host", "cpu_cores", 1, 4096, &reg.host.cpu_cores));
    RS_RETURN_IF_ERROR(OptionalInt(*host, "host", "ram_mib", 0, kMaxJsonInteger, &reg.host.ram_mib));
    RS_RETURN_IF_ERROR(OptionalInt(*host, "host", "disk_free_mib", 0, kMaxJsonInteger, &reg.host.disk_free_mib));
  }
  if (const JsonValue* st = Optional(root, "self_test")) {
    RS_RETURN_IF_ERROR(CheckObject(*st, "self_test", R"({"passed": ..., "reason": ...})"));
    RS_RETURN_IF_ERROR(CheckFields(*st, "self_test", kSelfTestFields));
    SelfTest t;
    RS_ASSIGN_OR_RETURN(const JsonValue* passed, Required(*st, "passed", "self_test.passed", "true or false"));
    RS_ASSIGN_OR_RETURN(t.passed, Bool(*passed, "self_test.passed"));
    if (const JsonValue* reason = Optional(*st, "reason")) {
      RS_ASSIGN_OR_RETURN(t.reason, String(*reason, "self_test.reason", /*allow_empty=*/true));
    }
    if (!t.passed && t.reason.empty()) {
      return Err(InvalidArgumentError("\"self_test.reason\" must say why the self-test failed"));
    }
    reg.self_test = std::move(t);
  }
  return reg;
}

Result<AgentHeartbeat> ParseAgentHeartbeat(std::string_view body) {
  static constexpr std::string_view kFields[] = {"generation", "devices", "workloads"};
  static constexpr std::string_view kDeviceFields[] = {
      "slot",       "use",        "lease",         "contract", "coin",     "power_w",  "temperature_c",
      "utilization_pct", "memory_used_mib", "ecc_errors", "xid_errors", "hashrate_hs", "accepted",
      "rejected",   "mining_observed", "drained"};
  static constexpr std::string_view kWorkloadFields[] = {"lease", "state", "exit_code", "started_at", "ended_at",
                                                         "message"};
  static constexpr std::string_view kShape = R"({"slot": ..., "use": ..., "lease": ..., "coin": ..., "power_w": ...})";
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  AgentHeartbeat hb;

  RS_ASSIGN_OR_RETURN(const JsonValue* generation,
                      Required(root, "generation", "generation", "the generation the agent has converged to"));
  RS_ASSIGN_OR_RETURN(hb.generation, Integer(*generation, "generation", 0, kMaxJsonInteger));

  RS_ASSIGN_OR_RETURN(const JsonValue* devices,
                      Required(root, "devices", "devices", "a list of what each GPU does"));
  RS_ASSIGN_OR_RETURN(const std::vector<JsonValue>* list,
                      List(*devices, "devices", kMaxNodeDevices, "a list of devices"));
  std::vector<int> first_index(kMaxSlot + 1, -1);
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonValue& d = (*list)[i];
    const std::string where = ElementPath("devices", i);
    RS_RETURN_IF_ERROR(CheckObject(d, where, kShape));
    RS_RETURN_IF_ERROR(CheckFields(d, where, kDeviceFields));
    DeviceReport dev;
    RS_ASSIGN_OR_RETURN(const JsonValue* slot,
                        Required(d, "slot", PathOf(where, "slot"), "an integer between 0 and 63"));
    RS_ASSIGN_OR_RETURN(dev.slot, Integer(*slot, PathOf(where, "slot"), 0, kMaxSlot));
    RS_RETURN_IF_ERROR(CheckUniqueSlot(dev.slot, i, first_index));
    RS_ASSIGN_OR_RETURN(const JsonValue* use,
                        Required(d, "use", PathOf(where, "use"), "one of lease, mining, idle, off, contract"));
    RS_ASSIGN_OR_RETURN(dev.use, Word<ReportedUse>(*use, PathOf(where, "use"), "lease, mining, idle, off, contract",
                                                   ParseReportedUse));
    if (const JsonValue* lease = Optional(d, "lease")) {
      RS_ASSIGN_OR_RETURN(int64_t id, Integer(*lease, PathOf(where, "lease"), 1, kMaxJsonInteger));
      dev.lease = LeaseId(id);
    }
    if (const JsonValue* contract = Optional(d, "contract")) {
      RS_ASSIGN_OR_RETURN(int64_t id, Integer(*contract, PathOf(where, "contract"), 1, kMaxJsonInteger));
      dev.contract = id;
    }
    if (const JsonValue* coin = Optional(d, "coin")) {
      RS_ASSIGN_OR_RETURN(dev.coin, String(*coin, PathOf(where, "coin"), /*allow_empty=*/true));
    }
    if (const JsonValue* power = Optional(d, "power_w")) {
      RS_ASSIGN_OR_RETURN(int64_t w, Integer(*power, PathOf(where, "power_w"), 0, kMaxDevicePowerW));
      dev.power = Watts(w);
    }
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "temperature_c", 0, 200, &dev.temperature_c));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "utilization_pct", 0, 100, &dev.utilization_pct));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "memory_used_mib", 0, kMaxJsonInteger, &dev.memory_used_mib));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "ecc_errors", 0, kMaxJsonInteger, &dev.ecc_errors));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "xid_errors", 0, kMaxJsonInteger, &dev.xid_errors));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "hashrate_hs", 0, kMaxJsonInteger, &dev.hashrate_hs));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "accepted", 0, kMaxJsonInteger, &dev.accepted));
    RS_RETURN_IF_ERROR(OptionalInt(d, where, "rejected", 0, kMaxJsonInteger, &dev.rejected));
    if (const JsonValue* m = Optional(d, "mining_observed")) {
      RS_ASSIGN_OR_RETURN(dev.mining_observed, Bool(*m, PathOf(where, "mining_observed")));
    }
    if (const JsonValue* drained = Optional(d, "drained")) {
      RS_ASSIGN_OR_RETURN(dev.drained, String(*drained, PathOf(where, "drained"), /*allow_empty=*/true));
    }
    hb.devices.push_back(std::move(dev));
  }
  if (const JsonValue* workloads = Optional(root, "workloads")) {
    RS_ASSIGN_OR_RETURN(const std::vector<JsonValue>* wl,
                        List(*workloads, "workloads", kMaxNodeDevices, "a list of the node's workloads"));
    for (size_t i = 0; i < wl->size(); ++i) {
      const JsonValue& w = (*wl)[i];
      const std::string where = ElementPath("workloads", i);
      RS_RETURN_IF_ERROR(CheckObject(w, where, R"({"lease": ..., "state": ..., "exit_code": ...})"));
      RS_RETURN_IF_ERROR(CheckFields(w, where, kWorkloadFields));
      WorkloadReport r;
      RS_ASSIGN_OR_RETURN(const JsonValue* lease, Required(w, "lease", PathOf(where, "lease"), "the lease's id"));
      RS_ASSIGN_OR_RETURN(int64_t id, Integer(*lease, PathOf(where, "lease"), 1, kMaxJsonInteger));
      r.lease = LeaseId(id);
      for (const WorkloadReport& before : hb.workloads) {
        if (before.lease == r.lease) {
          return Err(InvalidArgumentError("lease " + std::to_string(id) + " appears twice in \"workloads\""));
        }
      }
      RS_ASSIGN_OR_RETURN(const JsonValue* state,
                          Required(w, "state", PathOf(where, "state"), "one of starting, running, exited, failed"));
      RS_ASSIGN_OR_RETURN(r.state, Word<WorkloadState>(*state, PathOf(where, "state"),
                                                       "starting, running, exited, failed", ParseWorkloadState));
      RS_RETURN_IF_ERROR(OptionalInt(w, where, "exit_code", 0, 255, &r.exit_code));
      if (r.state == WorkloadState::kExited && !r.exit_code) {
        return Err(InvalidArgumentError(Q(PathOf(where, "exit_code")) + " is required when the state is exited"));
      }
      if (const JsonValue* t = Optional(w, "started_at")) {
        RS_ASSIGN_OR_RETURN(r.started_at, TimeFrom(*t, PathOf(where, "started_at")));
      }
      if (const JsonValue* t = Optional(w, "ended_at")) {
        RS_ASSIGN_OR_RETURN(r.ended_at, TimeFrom(*t, PathOf(where, "ended_at")));
      }
      if (const JsonValue* m = Optional(w, "message")) {
        RS_ASSIGN_OR_RETURN(r.message, String(*m, PathOf(where, "message"), /*allow_empty=*/true));
      }
      hb.workloads.push_back(std::move(r));
    }
  }
  return hb;
}

Result<PolicyUpdate> ParsePolicyUpdate(std::string_view body) {
  static constexpr std::string_view kFields[] = {"switch_min_gain_pct", "switch_min_dwell_s", "miner_restart_s",
                                                 "pool_fee_pct", "resume_margin_pct"};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  PolicyUpdate up;
  if (const JsonValue* v = Optional(root, "switch_min_gain_pct")) {
    RS_ASSIGN_OR_RETURN(up.switch_min_gain_ppm, PercentPpm(*v, "switch_min_gain_pct", 100));
  }
  if (const JsonValue* v = Optional(root, "switch_min_dwell_s")) {
    RS_ASSIGN_OR_RETURN(up.switch_min_dwell_s, Integer(*v, "switch_min_dwell_s", 0, 86400));
  }
  if (const JsonValue* v = Optional(root, "miner_restart_s")) {
    RS_ASSIGN_OR_RETURN(up.miner_restart_s, Integer(*v, "miner_restart_s", 0, 3600));
  }
  if (const JsonValue* v = Optional(root, "pool_fee_pct")) {
    RS_ASSIGN_OR_RETURN(up.pool_fee_ppm, PercentPpm(*v, "pool_fee_pct", 50));
  }
  if (const JsonValue* v = Optional(root, "resume_margin_pct")) {
    RS_ASSIGN_OR_RETURN(up.resume_margin_ppm, PercentPpm(*v, "resume_margin_pct", 100));
  }
  if (!up.switch_min_gain_ppm && !up.switch_min_dwell_s && !up.miner_restart_s && !up.pool_fee_ppm &&
      !up.resume_margin_ppm) {
    return Err(InvalidArgumentError("body must set at least one of " + Join(kFields)));
  }
  return up;
}

namespace {

// Decimal places of a hashrate unit: "TH/s" is 10^12 H/s.
int UnitScale(std::string_view unit) {
  const __int128 u = HashRateUnit(unit);
  int scale = 0;
  for (__int128 x = u; x >= 10; x /= 10) ++scale;
  return scale;
}

bool ParseUnit(std::string_view s, std::string* out) {
  if (HashRateUnit(s) == 0) return false;
  *out = std::string(s);
  return true;
}

constexpr std::string_view kUnits = "TH/s, GH/s, MH/s, kH/s, H/s";

// A hashrate in `unit` as whole H/s, at least 1.
Result<HashRate> HashRateIn(const JsonValue& v, std::string_view path, std::string_view unit) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, UnitScale(unit), 1);
    if (s && s->sign > 0 && s->value >= 1) return HashRate(s->value);
  }
  return Err(InvalidArgumentError(Q(path) + " must be a hashrate in " + std::string(unit) +
                                  " greater than 0 (at least 1 H/s, at most 9.2e18 H/s), got " + Describe(v)));
}

// USD, 0..kMaxContractUnitPrice, as micro-USD.
Result<Money> Usd(const JsonValue& v, std::string_view path) {
  if (v.kind == JsonValue::Kind::kNumber) {
    std::optional<Scaled> s = ToScaled(v.text, 6, 1);
    if (s && s->sign >= 0 && s->value <= kMaxContractUnitPrice.raw()) return Money(s->value);
  }
  return Err(InvalidArgumentError(Q(path) + " must be an amount in USD between 0 and " +
                                  std::to_string(kMaxContractUnitPrice.raw() / kMicrosPerUnit) + ", got " + Describe(v)));
}

bool IsAddressChar(char c) { return IsNameChar(c) || c == ':'; }

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

// "SCHEME://HOST:PORT" with a scheme miners take; nothing else (no path, no user, no spaces), so
// that the string is safe to hand to a miner's command line as one argument.
bool IsPoolUrl(std::string_view url) {
  static constexpr std::string_view kSchemes[] = {"stratum+tcp://", "stratum+ssl://", "stratum+tls://",
                                                  "stratum2+tcp://", "stratum2+ssl://", "tcp://", "ssl://"};
  std::string_view rest;
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) rest = url.substr(scheme.size());
  }
  const size_t colon = rest.rfind(':');
  if (rest.empty() || colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    }
  } else if (!std::all_of(host.begin(), host.end(), IsHostChar) || host.front() == '-' || host.front() == '.') {
    return false;
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int p = std::stoi(std::string(port));
  return p >= 1 && p <= 65535;
}

}  // namespace

Result<ContractProductAsk> ParseContractProductRequest(std::string_view body) {
  static constexpr std::string_view kFields[] = {"name", "algorithm", "unit", "days", "price_usd_per_unit",
                                                 "fee_usd_per_unit_day", "suspend_after_days", "max_hashrate"};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  ContractProductAsk ask;
  RS_ASSIGN_OR_RETURN(const JsonValue* name, Required(root, "name", "name", "the product's name, a string"));
  RS_ASSIGN_OR_RETURN(ask.name, String(*name, "name", /*allow_empty=*/false));
  RS_ASSIGN_OR_RETURN(const JsonValue* algorithm,
                      Required(root, "algorithm", "algorithm", "the algorithm sold, as the catalog names it"));
  RS_ASSIGN_OR_RETURN(ask.algorithm, String(*algorithm, "algorithm", /*allow_empty=*/false));
  RS_ASSIGN_OR_RETURN(const JsonValue* unit, Required(root, "unit", "unit", "one of " + std::string(kUnits)));
  RS_ASSIGN_OR_RETURN(ask.unit, Word<std::string>(*unit, "unit", kUnits, ParseUnit));
  RS_ASSIGN_OR_RETURN(const JsonValue* days,
                      Required(root, "days", "days", "the term, an integer between 1 and " + std::to_string(kMaxContractDays)));
  RS_ASSIGN_OR_RETURN(int64_t d, Integer(*days, "days", 1, kMaxContractDays));
  ask.days = static_cast<int>(d);
  RS_ASSIGN_OR_RETURN(const JsonValue* price,
                      Required(root, "price_usd_per_unit", "price_usd_per_unit", "USD per unit, paid up front"));
  RS_ASSIGN_OR_RETURN(ask.price_per_unit, Usd(*price, "price_usd_per_unit"));
  RS_ASSIGN_OR_RETURN(const JsonValue* fee,
                      Required(root, "fee_usd_per_unit_day", "fee_usd_per_unit_day", "USD per unit per day"));
  RS_ASSIGN_OR_RETURN(ask.fee_per_unit_day, Usd(*fee, "fee_usd_per_unit_day"));
  if (const JsonValue* after = Optional(root, "suspend_after_days")) {
    RS_ASSIGN_OR_RETURN(int64_t n, Integer(*after, "suspend_after_days", 0, kMaxContractDays));
    ask.suspend_after_days = static_cast<int>(n);
  }
  RS_ASSIGN_OR_RETURN(const JsonValue* max,
                      Required(root, "max_hashrate", "max_hashrate", "the hashrate on sale, in the unit"));
  RS_ASSIGN_OR_RETURN(ask.max_hashrate, HashRateIn(*max, "max_hashrate", ask.unit));
  return ask;
}

Result<ContractAsk> ParseContractRequest(std::string_view body) {
  static constexpr std::string_view kFields[] = {"product", "hashrate", "unit", "payout_address", "pool"};
  RS_ASSIGN_OR_RETURN(JsonValue root, ParseObject(body));
  RS_RETURN_IF_ERROR(CheckFields(root, "", kFields));
  ContractAsk ask;
  RS_ASSIGN_OR_RETURN(const JsonValue* product, Required(root, "product", "product", "the product's id"));
  RS_ASSIGN_OR_RETURN(ask.product, Integer(*product, "product", 1, kMaxJsonInteger));
  RS_ASSIGN_OR_RETURN(const JsonValue* unit,
                      Required(root, "unit", "unit", "the unit of \"hashrate\": one of " + std::string(kUnits)));
  std::string u;
  RS_ASSIGN_OR_RETURN(u, Word<std::string>(*unit, "unit", kUnits, ParseUnit));
  RS_ASSIGN_OR_RETURN(const JsonValue* hashrate, Required(root, "hashrate", "hashrate", "the hashrate bought, in the unit"));
  RS_ASSIGN_OR_RETURN(ask.hashrate, HashRateIn(*hashrate, "hashrate", u));
  RS_ASSIGN_OR_RETURN(const JsonValue* address,
                      Required(root, "payout_address", "payout_address", "the wallet the pool pays"));
  if (address->kind != JsonValue::Kind::kString || address->text.empty() ||
      address->text.size() > kMaxPayoutAddressChars ||
      !std::all_of(address->text.begin(), address->text.end(), IsAddressChar)) {
    return Err(InvalidArgumentError("\"payout_address\" must be 1 to " + std::to_string(kMaxPayoutAddressChars) +
                                    " characters of A-Z, a-z, 0-9, '.', '_', ':' and '-', got " + Describe(*address)));
  }
  ask.payout_address = address->text;
  RS_ASSIGN_OR_RETURN(const JsonValue* pool, Required(root, "pool", "pool", "the pool's URL"));
  RS_ASSIGN_OR_RETURN(std::string url, String(*pool, "pool", /*allow_empty=*/false));
  if (!IsPoolUrl(url)) {
    return Err(InvalidArgumentError(
        "\"pool\" must be a pool URL, SCHEME://HOST:PORT with a scheme of stratum+tcp, stratum+ssl, stratum+tls, "
        "stratum2+tcp, stratum2+ssl, tcp or ssl, got " + Quote(url)));
  }
  ask.pool = std::move(url);
  return ask;
}

Result<int64_t> ParseId(std::string_view segment) {
  const std::string expected = "an id must be a whole number between 1 and " + std::to_string(kMaxJsonInteger);
  if (segment.empty()) return Err(InvalidArgumentError(expected + ", got an empty path segment"));
  auto bad = [&] { return Err(InvalidArgumentError(expected + ", got " + Quote(segment))); };
  if (segment.size() > 16 || segment[0] == '0') return bad();  // 2^53 has 16 digits
  int64_t id = 0;
  for (char c : segment) {
    if (c < '0' || c > '9') return bad();
    id = id * 10 + (c - '0');
  }
  if (id > kMaxJsonInteger) return bad();
  return id;
}

Result<std::string> ParseBearer(std::string_view header) {
  // Nothing from the header goes into a message: it may hold a secret, of this scheme or another.
  constexpr std::string_view kSpace = " \t";
  size_t begin = header.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return Err(UnauthenticatedError("no bearer token: send the header \"Authorization: Bearer TOKEN\""));
  }
  header = header.substr(begin, header.find_last_not_of(kSpace) - begin + 1);
  size_t space = header.find_first_of(kSpace);
  std::string_view scheme = header.substr(0, space);
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  constexpr std::string_view kBearer = "bearer";
  if (scheme.size() != kBearer.size() ||
      !std::equal(scheme.begin(), scheme.end(), kBearer.begin(), [&](char a, char b) { return lower(a) == b; })) {
    return Err(UnauthenticatedError("the Authorization header must be \"Bearer TOKEN\" (another scheme was sent)"));
  }
  if (space == std::string_view::npos) {
    return Err(UnauthenticatedError("the Authorization header has no token after \"Bearer\""));
  }
  std::string_view token = header.substr(header.find_first_not_of(kSpace, space));
  bool well_formed = token.size() >= kMinTokenChars && token.size() <= kMaxTokenChars &&
                     std::all_of(token.begin(), token.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '_' || c == '-';
                     });
  if (!well_formed) {
    return Err(UnauthenticatedError("malformed bearer token: expected " + std::to_string(kMinTokenChars) + " to " +
                                    std::to_string(kMaxTokenChars) + " characters of A-Z, a-z, 0-9, '_' and '-'"));
  }
  return std::string(token);
}

}  // namespace rigshift
