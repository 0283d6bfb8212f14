// Readers of the public feed formats. Numbers: a JSON number with a fraction or exponent comes
// from nlohmann-json as a double and is turned back into its shortest round-trip text, then read
// by ParseScaled128 (as market/feed.cc does), so 0.00061 BTC is exactly 610,000 nano, never ...999.
// Numeric strings are read as they are written.

#include "market/feed_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace rigshift {
namespace {

using nlohmann::json;

// The market model's bound on hashes per block (as the coin importer's and the feed document's).
constexpr __int128 kMaxHashesPerBlock =
    static_cast<__int128>(1'000'000'000'000'000LL) * 1'000'000'000'000'000LL;  // 1e30

std::string Shown(const json& j) {
  std::string s = j.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

Result<json> ParseText(std::string_view text) {
  if (text.size() > kMaxFeedSourceBytes) {
    return Err(InvalidArgumentError(
        fmt::format("the answer is {} bytes, over the {} byte limit", text.size(), kMaxFeedSourceBytes)));
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (auto close = what.find("] "); what.starts_with("[json.exception") && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return Err(InvalidArgumentError("not JSON: " + what));
  }
}

// `j` as decimal text, or nothing when it is neither a finite number nor a string that reads as
// one (checked by the caller's ParseScaled128).
std::optional<std::string> NumberText(const json& j, bool strings) {
  if (j.is_number_unsigned()) return std::to_string(j.get<uint64_t>());
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (!std::isfinite(d)) return std::nullopt;
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
    RS_CHECK(ec == std::errc());
    return std::string(buf.data(), end);
  }
  if (strings && j.is_string()) {
    std::string s = j.get<std::string>();
    if (s.empty() || s.size() > 64) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

enum class Sign { kAny, kNonNegative, kPositive };

// `j` (at `field`) as value x 10^scale in 128 bits. `strings`: a numeric string is read too.
Result<__int128> Scaled(const json& j, std::string_view field, int scale, Sign sign, bool strings = false) {
  const char* words = sign == Sign::kPositive      ? "a positive number"
                      : sign == Sign::kNonNegative ? "a non-negative number"
                                                   : "a number";
  auto bad = [&] { return Err(InvalidArgumentError(fmt::format("{} must be {}, got {}", field, words, Shown(j)))); };
  std::optional<std::string> text = NumberText(j, strings);
  if (!text) return bad();
  Result<__int128> v = ParseScaled128(*text, scale);
  if (!v.has_value()) {
    if (j.is_string()) return bad();
    return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, *text)));
  }
  if ((sign == Sign::kNonNegative && *v < 0) || (sign == Sign::kPositive && *v <= 0)) return bad();
  return *v;
}

Result<int64_t> Scaled64(const json& j, std::string_view field, int scale, Sign sign, bool strings = false) {
  RS_ASSIGN_OR_RETURN(__int128 v, Scaled(j, field, scale, sign, strings));
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) {
    return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, Shown(j))));
  }
  return static_cast<int64_t>(v);
}

Result<const json*> Member(const json& obj, std::string_view key, std::string_view field) {
  if (!obj.is_object()) return Err(InvalidArgumentError(fmt::format("{} must be an object, got {}", field, Shown(obj))));
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Err(InvalidArgumentError(fmt::format("{}.{} is missing", field, key)));
  return &*it;
}

const json* Optional(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Unix seconds (positive integer, or a numeric string of one) at `field`.
Result<Timestamp> UnixSeconds(const json& j, std::string_view field) {
  RS_ASSIGN_OR_RETURN(int64_t s, Scaled64(j, field, 0, Sign::kPositive, true));
  return Timestamp{s};
}

// A JSON-RPC quantity: "0x" then 1..32 hex digits.
Result<__int128> HexQuantity(const json& j, std::string_view field) {
  auto bad = [&] {
    return Err(InvalidArgumentError(
        fmt::format("{} must be a hex quantity such as \"0x1b4\", got {}", field, Shown(j))));
  };
  if (!j.is_string()) return bad();
  const std::string s = j.get<std::string>();
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return bad();
  std::string_view digits = std::string_view(s).substr(2);
  while (digits.size() > 1 && digits[0] == '0') digits.remove_prefix(1);
  if (digits.size() > 31) return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, Shown(j))));
  __int128 v = 0;
  for (char c : digits) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (d < 0) return bad();
    v = v * 16 + d;
  }
  return v;
}

// A JSON-RPC answer's "result" object; its "error" when that is set.
Result<const json*> RpcResult(const json& doc, std::string_view method) {
  if (!doc.is_object()) {
    return Err(InvalidArgumentError(fmt::format("the {} answer must be an object, got {}", method, Shown(doc))));
  }
  if (const json* e = Optional(doc, "error")) {
    std::string msg = e->is_object() && e->contains("message") && (*e)["message"].is_string()
                          ? (*e)["message"].get<std::string>()
                          : Shown(*e);
    return Err(UnavailableError(fmt::format("{}: the node answered an error: {}", method, msg)));
  }
  auto it = doc.find("result");
  if (it == doc.end() || !it->is_object()) {
    return Err(InvalidArgumentError(fmt::format(
        "{}: result must be an object, got {}", method, it == doc.end() ? std::string("nothing") : Shown(*it))));
  }
  return &*it;
}

Result<HashRate> CheckedHashes(__int128 hashes, std::string_view field) {
  if (hashes <= 0) return Err(InvalidArgumentError(fmt::format("{} gives no hashes per block", field)));
  if (hashes > kMaxHashesPerBlock) {
    return Err(InvalidArgumentError(fmt::format("{} gives {} hashes per block, over the 1e30 limit", field,
                                                FormatInt128(hashes))));
  }
  return HashRate(hashes);
}

// difficulty (at `field`) x 2^32 in hashes, rounded half away from zero.
Result<HashRate> BitcoinStyleHashes(const json& difficulty, std::string_view field, bool strings) {
  RS_ASSIGN_OR_RETURN(__int128 micro, Scaled(difficulty, field, 6, Sign::kPositive, strings));
  if (micro > kMaxHashesPerBlock) {
    return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, Shown(difficulty))));
  }
  __int128 hashes = (micro * (static_cast<__int128>(1) << 32) + 500'000) / 1'000'000;
  return CheckedHashes(hashes, field);
}

Result<HashRate> PlainHashes(const json& difficulty, std::string_view field, bool strings) {
  RS_ASSIGN_OR_RETURN(__int128 hashes, Scaled(difficulty, field, 0, Sign::kPositive, strings));
  return CheckedHashes(hashes, field);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<CoinPriceReading> ParseCoinGeckoPrice(std::string_view text, std::string_view id) {
  RS_ASSIGN_OR_RETURN(json doc, ParseText(text));
  if (!doc.is_object()) {
    return Err(InvalidArgumentError(fmt::format("the simple/price answer must be an object, got {}", Shown(doc))));
  }
  // CoinGecko answers an error as {"status": {"error_code": 429, "error_message": "..."}} or
  // {"error": "..."}.
  if (doc.contains("status") && doc["status"].is_object() && doc["status"].contains("error_message")) {
    return Err(UnavailableError("CoinGecko answered an error: " + Shown(doc["status"]["error_message"])));
  }
  auto it = doc.find(std::string(id));
  if (it == doc.end()) {
    return Err(InvalidArgumentError(fmt::format(
        "the simple/price answer has no coin \"{}\" (ids in the URL must include it){}", id,
        doc.contains("error") ? ": " + Shown(doc["error"]) : std::string())));
  }
  const std::string at(id);
  RS_ASSIGN_OR_RETURN(const json* usd, Member(*it, "usd", at));
  RS_ASSIGN_OR_RETURN(int64_t nano, Scaled64(*usd, at + ".usd", 9, Sign::kPositive));
  CoinPriceReading out;
  out.price = CoinPrice(nano);
  if (const json* t = Optional(*it, "last_updated_at")) {
    RS_ASSIGN_OR_RETURN(out.updated, UnixSeconds(*t, at + ".last_updated_at"));
  }
  return out;
}

std::optional<bool> DifficultyIsBitcoinStyle(std::string_view algorithm) {
  std::string a;
  for (char c : algorithm) {
    if (c == ' ' || c == '-' || c == '_') continue;
    a += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static const char* kBitcoinStyle[] = {"sha256", "sha256d", "scrypt", "kawpow", "x11", "equihash", "zhash",
                                        "firopow", "progpow", "progpowz", "lyra2rev2", "x16r", "x16rv2"};
  static const char* kInHashes[] = {"ethash", "etchash", "randomx", "autolykos", "autolykos2", "cryptonight",
                                    "cryptonightr", "octopus", "blake3", "kheavyhash"};
  for (const char* k : kBitcoinStyle) {
    if (a == k) return true;
  }
  for (const char* k : kInHashes) {
    if (a == k) return false;
  }
  return std::nullopt;
}

Result<NetworkReading> ParseWhatToMineCoin(std::string_view text, std::string_view tag) {
  RS_ASSIGN_OR_RETURN(json doc, ParseText(text));
  if (!doc.is_object()) {
    return Err(InvalidArgumentError(fmt::format("coins.json must be an object, got {}", Shown(doc))));
  }
  RS_ASSIGN_OR_RETURN(const json* coins, Member(doc, "coins", "coins.json"));
  if (!coins->is_object()) {
    return Err(InvalidArgumentError(fmt::format("coins.json: coins must be an object, got {}", Shown(*coins))));
  }
  const std::string want = Lower(tag);
  const json* coin = nullptr;
  std::string name;
  // In the document's key order (nlohmann keeps keys sorted): the first coin with the tag.
  for (const auto& [key, value] : coins->items()) {
    if (value.is_object() && value.contains("tag") && value["tag"].is_string() &&
        Lower(value["tag"].get<std::string>()) == want) {
      coin = &value;
      name = key;
      break;
    }
  }
  if (!coin) return Err(NotFoundError(fmt::format("coins.json has no coin tagged \"{}\"", tag)));
  const std::string at = "coins[\"" + name + "\"]";
  NetworkReading out;
  RS_ASSIGN_OR_RETURN(const json* algo, Member(*coin, "algorithm", at));
  if (!algo->is_string() || algo->get<std::string>().empty()) {
    return Err(InvalidArgumentError(fmt::format("{}.algorithm must be a non-empty string, got {}", at, Shown(*algo))));
  }
  out.algorithm = algo->get<std::string>();
  std::optional<bool> bitcoin_style = DifficultyIsBitcoinStyle(out.algorithm);
  if (bitcoin_style) {
    RS_ASSIGN_OR_RETURN(const json* d, Member(*coin, "difficulty", at));
    if (*bitcoin_style) {
      RS_ASSIGN_OR_RETURN(out.hashes_per_block, BitcoinStyleHashes(*d, at + ".difficulty", true));
    } else {
      RS_ASSIGN_OR_RETURN(out.hashes_per_block, PlainHashes(*d, at + ".difficulty", true));
    }
  } else {
    // An algorithm whose difficulty unit is not known here: network hashrate x block time.
    RS_ASSIGN_OR_RETURN(const json* nethash, Member(*coin, "nethash", at));
    RS_ASSIGN_OR_RETURN(const json* block_time, Member(*coin, "block_time", at));
    RS_ASSIGN_OR_RETURN(__int128 hps, Scaled(*nethash, at + ".nethash", 0, Sign::kPositive, true));
    RS_ASSIGN_OR_RETURN(__int128 ms, Scaled(*block_time, at + ".block_time", 3, Sign::kPositive, true));
    if (hps > kMaxHashesPerBlock || ms > 86'400'000) {
      return Err(InvalidArgumentError(fmt::format("{}: nethash x block_time is out of range", at)));
    }
    RS_ASSIGN_OR_RETURN(out.hashes_per_block, CheckedHashes((hps * ms + 500) / 1000, at + ".nethash x block_time"));
  }
  RS_ASSIGN_OR_RETURN(const json* reward, Member(*coin, "block_reward", at));
  RS_ASSIGN_OR_RETURN(int64_t nano_coins, Scaled64(*reward, at + ".block_reward", 9, Sign::kPositive, true));
  out.block_reward = CoinAmount(nano_coins);
  if (const json* rate = Optional(*coin, "exchange_rate")) {
    RS_ASSIGN_OR_RETURN(int64_t nano_btc, Scaled64(*rate, at + ".exchange_rate", 9, Sign::kNonNegative, true));
    out.price_btc = CoinPrice(nano_btc);
  }
  if (const json* block = Optional(*coin, "last_block")) {
    RS_ASSIGN_OR_RETURN(out.height, Scaled64(*block, at + ".last_block", 0, Sign::kNonNegative, true));
  }
  if (const json* t = Optional(*coin, "timestamp")) {
    RS_ASSIGN_OR_RETURN(out.at, UnixSeconds(*t, at + ".timestamp"));
  }
  return out;
}

Result<NetworkReading> ParseGetMiningInfo(std::string_view text) {
  RS_ASSIGN_OR_RETURN(json doc, ParseText(text));
  RS_ASSIGN_OR_RETURN(const json* result, RpcResult(doc, "getmininginfo"));
  NetworkReading out;
  RS_ASSIGN_OR_RETURN(const json* d, Member(*result, "difficulty", "result"));
  RS_ASSIGN_OR_RETURN(out.hashes_per_block, BitcoinStyleHashes(*d, "result.difficulty", false));
  if (const json* blocks = Optional(*result, "blocks")) {
    RS_ASSIGN_OR_RETURN(out.height, Scaled64(*blocks, "result.blocks", 0, Sign::kNonNegative));
  }
  return out;
}

Result<NetworkReading> ParseEthBlock(std::string_view text) {
  RS_ASSIGN_OR_RETURN(json doc, ParseText(text));
  if (doc.is_object() && doc.contains("result") && doc["result"].is_null() && !Optional(doc, "error")) {
    return Err(InvalidArgumentError("eth_getBlockByNumber: result is null (the node has no such block)"));
  }
  RS_ASSIGN_OR_RETURN(const json* result, RpcResult(doc, "eth_getBlockByNumber"));
  NetworkReading out;
  RS_ASSIGN_OR_RETURN(const json* d, Member(*result, "difficulty", "result"));
  RS_ASSIGN_OR_RETURN(__int128 difficulty, HexQuantity(*d, "result.difficulty"));
  if (difficulty == 0) {
    return Err(InvalidArgumentError(
        "result.difficulty is 0x0: the chain is not mined by proof of work (Ethereum since the Merge)"));
  }
  RS_ASSIGN_OR_RETURN(out.hashes_per_block, CheckedHashes(difficulty, "result.difficulty"));
  RS_ASSIGN_OR_RETURN(const json* number, Member(*result, "number", "result"));
  RS_ASSIGN_OR_RETURN(__int128 height, HexQuantity(*number, "result.number"));
  if (height > std::numeric_limits<int64_t>::max()) {
    return Err(InvalidArgumentError("result.number is out of range, got " + Shown(*number)));
  }
  out.height = static_cast<int64_t>(height);
  if (const json* t = Optional(*result, "timestamp")) {
    RS_ASSIGN_OR_RETURN(__int128 s, HexQuantity(*t, "result.timestamp"));
    if (s <= 0 || s > std::numeric_limits<int64_t>::max() / 2) {
      return Err(InvalidArgumentError("result.timestamp is out of range, got " + Shown(*t)));
    }
    out.at = Timestamp{static_cast<int64_t>(s)};
  }
  return out;
}

std::string GetMiningInfoRequest() {
  return R"({"jsonrpc":"1.0","id":"rigshift","method":"getmininginfo","params":[]})";
}
std::string EthLatestBlockRequest() {
  return R"({"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]})";
}

// ---------------------------------------------------------------------------------------------
// ERCOT

namespace {

// A row's value of field `name`: from an array row by the field's index, or an object row by key.
const json* RowValue(const json& row, const std::map<std::string, size_t>& index, const std::string& name) {
  if (row.is_object()) return Optional(row, name);
  auto it = index.find(name);
  if (it == index.end() || !row.is_array() || it->second >= row.size() || row[it->second].is_null()) return nullptr;
  return &row[it->second];
}

}  // namespace

Result<SettlementPriceReading> ParseErcotSpp(std::string_view text, std::string_view point) {
  RS_ASSIGN_OR_RETURN(json doc, ParseText(text));
  if (!doc.is_object()) {
    return Err(InvalidArgumentError(fmt::format("the spp_node_zone_hub answer must be an object, got {}", Shown(doc))));
  }
  std::map<std::string, size_t> index;
  if (const json* fields = Optional(doc, "fields")) {
    if (!fields->is_array()) {
      return Err(InvalidArgumentError(fmt::format("fields must be a list, got {}", Shown(*fields))));
    }
    for (size_t i = 0; i < fields->size(); ++i) {
      const json& f = (*fields)[i];
      if (f.is_object() && f.contains("name") && f["name"].is_string()) index.emplace(f["name"].get<std::string>(), i);
      else if (f.is_string()) index.emplace(f.get<std::string>(), i);
    }
  }
  RS_ASSIGN_OR_RETURN(const json* data, Member(doc, "data", "the answer"));
  if (!data->is_array()) return Err(InvalidArgumentError(fmt::format("data must be a list, got {}", Shown(*data))));
  bool array_rows = std::any_of(data->begin(), data->end(), [](const json& r) { return r.is_array(); });
  if (array_rows) {
    for (const char* need : {"deliveryDate", "deliveryHour", "deliveryInterval", "settlementPoint",
                             "settlementPointPrice"}) {
      if (!index.count(need)) {
        return Err(InvalidArgumentError(fmt::format("fields does not name {}: the rows cannot be read", need)));
      }
    }
  }
  std::optional<SettlementPriceReading> best;
  for (size_t i = 0; i < data->size(); ++i) {
    const json& row = (*data)[i];
    const std::string at = fmt::format("data[{}]", i);
    if (!row.is_array() && !row.is_object()) {
      return Err(InvalidArgumentError(fmt::format("{} must be a list or an object, got {}", at, Shown(row))));
    }
    const json* sp = RowValue(row, index, "settlementPoint");
    if (!sp || !sp->is_string()) {
      return Err(InvalidArgumentError(fmt::format("{}.settlementPoint must be a string, got {}", at,
                                                  sp ? Shown(*sp) : std::string("nothing"))));
    }
    if (sp->get<std::string>() != point) continue;
    const json* date = RowValue(row, index, "deliveryDate");
    if (!date || !date->is_string()) {
      return Err(InvalidArgumentError(fmt::format("{}.deliveryDate must be a date YYYY-MM-DD, got {}", at,
                                                  date ? Shown(*date) : std::string("nothing"))));
    }
    Result<Date> day = ParseDate(date->get<std::string>());
    if (!day.has_value()) return Err(day.error().WithContext(at + ".deliveryDate"));
    const json* hour = RowValue(row, index, "deliveryHour");
    const json* interval = RowValue(row, index, "deliveryInterval");
    if (!hour) return Err(InvalidArgumentError(at + ".deliveryHour is missing"));
    if (!interval) return Err(InvalidArgumentError(at + ".deliveryInterval is missing"));
    RS_ASSIGN_OR_RETURN(int64_t h, Scaled64(*hour, at + ".deliveryHour", 0, Sign::kPositive, true));
    RS_ASSIGN_OR_RETURN(int64_t k, Scaled64(*interval, at + ".deliveryInterval", 0, Sign::kPositive, true));
    if (h > 24) return Err(InvalidArgumentError(fmt::format("{}.deliveryHour must be 1..24, got {}", at, h)));
    if (k > 4) return Err(InvalidArgumentError(fmt::format("{}.deliveryInterval must be 1..4, got {}", at, k)));
    const json* price = RowValue(row, index, "settlementPointPrice");
    if (!price) return Err(InvalidArgumentError(at + ".settlementPointPrice is missing"));
    RS_ASSIGN_OR_RETURN(int64_t micros, Scaled64(*price, at + ".settlementPointPrice", 6, Sign::kAny, true));
    if (micros > 100'000LL * kMicrosPerUnit || micros < -100'000LL * kMicrosPerUnit) {
      return Err(InvalidArgumentError(
          fmt::format("{}.settlementPointPrice is out of range (ERCOT caps offers at 5000 USD/MWh), got {}", at,
                      Shown(*price))));
    }
    bool repeated = false;
    if (const json* dst = RowValue(row, index, "DSTFlag")) {
      if (dst->is_boolean()) repeated = dst->get<bool>();
      else if (dst->is_string() && (dst->get<std::string>() == "Y" || dst->get<std::string>() == "N"))
        repeated = dst->get<std::string>() == "Y";
      else return Err(InvalidArgumentError(fmt::format("{}.DSTFlag must be true, false, \"Y\" or \"N\", got {}", at, Shown(*dst))));
    }
    // Hour ending h, interval k: the interval ends k x 15 minutes after the hour began.
    int seconds_end = static_cast<int>((h - 1) * 3600 + k * 900);
    Timestamp end = UsCentralToUtc(*day, seconds_end - 900);
    end.seconds += 900 + (repeated ? 3600 : 0);
    if (!best || end > best->interval_end) {
      best = SettlementPriceReading{EnergyPrice(micros), end, sp->get<std::string>()};
    }
  }
  if (!best) return Err(NotFoundError(fmt::format("no row is for settlement point \"{}\"", point)));
  return *best;
}

}  // namespace rigshift
