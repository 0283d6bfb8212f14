// Market feeds. How a feed document's decimals become integers: nlohmann-json hands a JSON
// number with a fraction or exponent over as a double and keeps no text, so it is turned back
// into text with std::to_chars' shortest round-trip form and read by ParseScaled, the exact
// decimal reader of the importer (src/sim/scenario.cc does the same for TOML). For a literal of
// up to 15 significant digits that text is the literal's own value, so 18.25 USD is exactly
// 18,250,000,000 nano-dollars, never ...999; digits past the unit's resolution round half away
// from zero. JSON integers are used as they are.

#include "market/feed.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/units.h"
#include "market/rental_index.h"

namespace rigshift {
namespace {

using nlohmann::json;

// A feed document is a few kilobytes; anything much larger is not one.
constexpr size_t kMaxDocumentBytes = 1 << 20;
// The coin importer's bound on network figures: well above any chain (Bitcoin ~4e23 hashes a
// block in 2024), far below HashRate's limit.
constexpr __int128 kMaxHashesPerBlock = static_cast<__int128>(1'000'000'000'000'000LL) * 1'000'000'000'000'000LL;

// A JSON value for a message, cut short.
std::string Shown(const json& j) {
  std::string s = j.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// `j` as decimal text for ParseScaled, or nothing when it is not a (finite) number.
std::optional<std::string> NumberText(const json& j) {
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
  return std::nullopt;
}

enum class Sign { kAny, kNonNegative, kPositive };

std::string_view SignWords(Sign sign) {
  switch (sign) {
    case Sign::kAny:
      return "a number";
    case Sign::kNonNegative:
      return "a non-negative number";
    case Sign::kPositive:
      return "a positive number";
  }
  return "a number";
}

// `j` (at `field`) as value x 10^scale, within `sign`, in 128 bits.
Result<__int128> ReadScaled128(const json& j, std::string_view field, int scale, Sign sign) {
  auto bad = [&] {
    return Err(InvalidArgumentError(fmt::format("{} must be {}, got {}", field, SignWords(sign), Shown(j))));
  };
  std::optional<std::string> text = NumberText(j);
  if (!text) return bad();
  Result<__int128> v = ParseScaled128(*text, scale);
  if (!v.has_value()) return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, *text)));
  if ((sign == Sign::kNonNegative && *v < 0) || (sign == Sign::kPositive && *v <= 0)) return bad();
  return *v;
}

Result<int64_t> ReadScaled(const json& j, std::string_view field, int scale, Sign sign) {
  RS_ASSIGN_OR_RETURN(__int128 v, ReadScaled128(j, field, scale, sign));
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) {
    return Err(InvalidArgumentError(fmt::format("{} is out of range, got {}", field, Shown(j))));
  }
  return static_cast<int64_t>(v);
}

// Refuses members of `obj` outside `known`: a misspelt key would otherwise fall back to the base.
Status OnlyKnownKeys(const json& obj, std::string_view where, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return InvalidArgumentError(fmt::format("{}unknown field \"{}\" (known: {})", where, key, list));
    }
  }
  return OkStatus();
}

Result<std::string> ReadName(const json& obj, std::string_view key, std::string_view field) {
  auto it = obj.find(key);
  if (it == obj.end()) return Err(InvalidArgumentError(fmt::format("{} is missing", field)));
  if (!it->is_string() || it->get<std::string>().empty()) {
    return Err(InvalidArgumentError(fmt::format("{} must be a non-empty string, got {}", field, Shown(*it))));
  }
  return it->get<std::string>();
}

Result<const json*> Member(const json& obj, std::string_view key, std::string_view field) {
  auto it = obj.find(key);
  if (it == obj.end()) return Err(InvalidArgumentError(fmt::format("{} is missing", field)));
  return &*it;
}

Result<std::vector<CoinQuote>> ReadCoins(const json& coins) {
  if (!coins.is_array()) {
    return Err(InvalidArgumentError(fmt::format("coins must be a list, got {}", Shown(coins))));
  }
  std::vector<CoinQuote> out;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < coins.size(); ++i) {
    const json& c = coins[i];
    const std::string at = fmt::format("coins[{}]", i);
    if (!c.is_object()) return Err(InvalidArgumentError(fmt::format("{} must be an object, got {}", at, Shown(c))));
    RS_RETURN_IF_ERROR(
        OnlyKnownKeys(c, at + ": ", {"coin", "algorithm", "price_usd", "hashes_per_block", "block_reward"}));
    CoinQuote q;
    RS_ASSIGN_OR_RETURN(q.coin, ReadName(c, "coin", at + ".coin"));
    if (auto [it, fresh] = seen.emplace(q.coin, i); !fresh) {
      return Err(InvalidArgumentError(fmt::format("{}.coin \"{}\" is already coins[{}]", at, q.coin, it->second)));
    }
    RS_ASSIGN_OR_RETURN(q.algorithm, ReadName(c, "algorithm", at + ".algorithm"));
    RS_ASSIGN_OR_RETURN(const json* price, Member(c, "price_usd", at + ".price_usd"));
    RS_ASSIGN_OR_RETURN(int64_t nano_usd, ReadScaled(*price, at + ".price_usd", 9, Sign::kNonNegative));
    q.price = CoinPrice(nano_usd);
    RS_ASSIGN_OR_RETURN(const json* hpb, Member(c, "hashes_per_block", at + ".hashes_per_block"));
    RS_ASSIGN_OR_RETURN(__int128 hashes, ReadScaled128(*hpb, at + ".hashes_per_block", 0, Sign::kPositive));
    if (hashes > kMaxHashesPerBlock) {
      return Err(InvalidArgumentError(fmt::format("{}.hashes_per_block is out of range (at most 1e30), got {}", at,
                                                  Shown(*hpb))));
    }
    q.hashes_per_block = HashRate(hashes);
    RS_ASSIGN_OR_RETURN(const json* reward, Member(c, "block_reward", at + ".block_reward"));
    RS_ASSIGN_OR_RETURN(int64_t nano_coins, ReadScaled(*reward, at + ".block_reward", 9, Sign::kNonNegative));
    q.block_reward = CoinAmount(nano_coins);
    out.push_back(std::move(q));
  }
  return out;
}

// Reads a `{"name": number}` object: values at 6 decimals, each landing on the entries of `keys`
// equal to key_of(name) (a site, or every group of a model). Names matching nothing are added to
// `ignored`; `noun` says what a name is, for messages.
template <typename Price, typename KeyOf>
Status ReadPriceMap(const json& obj, std::string_view field, Sign sign, const std::vector<std::string>& keys,
                    KeyOf key_of, std::string_view noun, std::vector<Price>& prices,
                    std::vector<std::string>& ignored) {
  if (!obj.is_object()) {
    return InvalidArgumentError(
        fmt::format("{} must be an object of {} names to numbers, got {}", field, noun, Shown(obj)));
  }
  std::map<std::string, std::string> named;  // key -> the name that set it, to refuse two spellings
  for (const auto& [name, value] : obj.items()) {
    const std::string at = fmt::format("{}[\"{}\"]", field, name);
    RS_ASSIGN_OR_RETURN(int64_t micros, ReadScaled(value, at, 6, sign));
    std::string key = key_of(name);
    if (auto [it, fresh] = named.emplace(key, name); !fresh) {
      return InvalidArgumentError(fmt::format("{} names the same {} as \"{}\"", at, noun, it->second));
    }
    bool used = false;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) {
        prices[i] = Price(micros);
        used = true;
      }
    }
    if (!used) ignored.push_back(fmt::format("{}: this fleet has no {} \"{}\"", field, noun, name));
  }
  return OkStatus();
}

Result<FeedDocument> ParseJson(const json& doc, const FeedLayout& layout, const MarketView& base) {
  if (!doc.is_object()) return Err(InvalidArgumentError(fmt::format("the document must be an object, got {}", Shown(doc))));
  RS_RETURN_IF_ERROR(OnlyKnownKeys(doc, "", {"at", "coins", "electricity_usd_per_mwh", "rental_usd_per_gpu_h"}));
  FeedDocument out;
  out.view = base;

  RS_ASSIGN_OR_RETURN(const json* at, Member(doc, "at", "at"));
  if (!at->is_string()) {
    return Err(InvalidArgumentError(fmt::format("at must be a UTC time such as \"2026-11-21T10:00:00Z\", got {}", Shown(*at))));
  }
  Result<Timestamp> t = ParseUtcTimestamp(at->get<std::string>());
  if (!t.has_value()) return Err(t.error().WithContext("at"));
  out.view.at = *t;

  if (auto it = doc.find("coins"); it != doc.end()) {
    RS_ASSIGN_OR_RETURN(out.view.coins, ReadCoins(*it));
  }
  if (auto it = doc.find("electricity_usd_per_mwh"); it != doc.end()) {
    RS_RETURN_IF_ERROR(ReadPriceMap(*it, "electricity_usd_per_mwh", Sign::kAny, layout.sites,
                                    [](const std::string& s) { return s; }, "site", out.view.site_price,
                                    out.ignored));
  }
  if (auto it = doc.find("rental_usd_per_gpu_h"); it != doc.end()) {
    std::vector<std::string> keys;
    for (const auto& m : layout.group_models) keys.push_back(RentalModelKey(m));
    RS_RETURN_IF_ERROR(ReadPriceMap(*it, "rental_usd_per_gpu_h", Sign::kNonNegative, keys,
                                    [](const std::string& s) { return RentalModelKey(s); }, "model",
                                    out.view.list_price, out.ignored));
  }
  return out;
}

}  // namespace

Result<FeedDocument> ParseFeedDocument(std::string_view text, const FeedLayout& layout, const MarketView& base) {
  RS_CHECK(base.site_price.size() == layout.sites.size());
  RS_CHECK(base.list_price.size() == layout.group_models.size());
  if (text.size() > kMaxDocumentBytes) {
    return Err(InvalidArgumentError(
        fmt::format("the document is {} bytes, over the {} byte limit", text.size(), kMaxDocumentBytes)));
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 3: ..." without the tag.
    std::string what = e.what();
    if (auto close = what.find("] "); what.starts_with("[json.exception") && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return Err(InvalidArgumentError("not JSON: " + what));
  }
  return ParseJson(doc, layout, base);
}

// ---------------------------------------------------------------------------------------------
// ReplayFeed

Result<std::unique_ptr<ReplayFeed>> ReplayFeed::Create(Options options) {
  if (!options.view_of_tick) return Err(InvalidArgumentError("replay feed: view_of_tick is not set"));
  if (options.ticks < 1) {
    return Err(InvalidArgumentError(fmt::format("replay feed: ticks must be at least 1, got {}", options.ticks)));
  }
  if (options.interval_s < 1) {
    return Err(InvalidArgumentError(
        fmt::format("replay feed: interval_s must be at least 1 second, got {}", options.interval_s)));
  }
  if (options.speed < 1) {
    return Err(InvalidArgumentError(fmt::format("replay feed: speed must be at least 1 (real time), got {}",
                                                options.speed)));
  }
  // The end of the series must be a representable instant.
  __int128 end = static_cast<__int128>(options.market_start.seconds) +
                 static_cast<__int128>(options.ticks) * options.interval_s;
  if (end > std::numeric_limits<int64_t>::max()) {
    return Err(InvalidArgumentError("replay feed: market_start + ticks x interval_s is out of range"));
  }
  return std::unique_ptr<ReplayFeed>(new ReplayFeed(std::move(options)));
}

int64_t ReplayFeed::TickAt(Timestamp now) const {
  __int128 wall = static_cast<__int128>(now.seconds) - options_.wall_start.seconds;
  if (wall <= 0) return 0;
  __int128 k = wall * options_.speed / options_.interval_s;  // non-negative, so this is the floor
  if (options_.loop) return static_cast<int64_t>(k % options_.ticks);
  return static_cast<int64_t>(std::min<__int128>(k, options_.ticks - 1));
}

Result<MarketView> ReplayFeed::ViewAt(Timestamp now) {
  int64_t tick = TickAt(now);
  std::lock_guard lock(mu_);
  if (cached_tick_ != tick) {
    cached_view_ = options_.view_of_tick(tick);
    cached_view_.at = Timestamp{options_.market_start.seconds + tick * options_.interval_s};
    cached_tick_ = tick;
  }
  return cached_view_;
}

std::string ReplayFeed::Describe() const {
  Timestamp end{options_.market_start.seconds + options_.ticks * options_.interval_s};
  return fmt::format("replay of {}..{} ({} ticks of {} s) at {}x from {}, {}", FormatUtc(options_.market_start),
                     FormatUtc(end), options_.ticks, options_.interval_s, options_.speed,
                     FormatUtc(options_.wall_start), options_.loop ? "looping" : "holding the last tick");
}

// ---------------------------------------------------------------------------------------------
// PollingFeed

Result<std::unique_ptr<PollingFeed>> PollingFeed::Create(Options options) {
  if (options.url.empty()) return Err(InvalidArgumentError("market feed: url is empty"));
  if (options.interval_s < 1) {
    return Err(InvalidArgumentError(
        fmt::format("market feed: interval_s must be at least 1 second, got {}", options.interval_s)));
  }
  if (!options.fetch) return Err(InvalidArgumentError("market feed: fetch is not set"));
  if (options.base.site_price.size() != options.sites.size()) {
    return Err(InvalidArgumentError(fmt::format("market feed: base.site_price has {} entries for {} sites",
                                                options.base.site_price.size(), options.sites.size())));
  }
  if (options.base.list_price.size() != options.group_models.size()) {
    return Err(InvalidArgumentError(fmt::format("market feed: base.list_price has {} entries for {} node groups",
                                                options.base.list_price.size(), options.group_models.size())));
  }
  std::set<std::string> sites;
  for (const auto& s : options.sites) {
    if (!sites.insert(s).second) {
      return Err(InvalidArgumentError(fmt::format("market feed: sites names \"{}\" twice", s)));
    }
  }
  return std::unique_ptr<PollingFeed>(new PollingFeed(std::move(options)));
}

Result<MarketView> PollingFeed::ViewAt(Timestamp now) {
  std::unique_lock lock(mu_);
  bool due = !last_poll_ || now.seconds >= last_poll_->seconds + options_.interval_s;
  if (due && !polling_) {
    polling_ = true;
    last_poll_ = now;
    lock.unlock();
    // Fetch and parse without the lock: a slow feed must not stall /v1/market or /readyz.
    Result<FeedDocument> doc = [&]() -> Result<FeedDocument> {
      Result<std::string> body = [&]() -> Result<std::string> {
        try {
          return options_.fetch(options_.url);
        } catch (const std::exception& e) {  // the contract says it should not; keep the feed sane
          return Err(InternalError(std::string("fetch threw: ") + e.what()));
        }
      }();
      if (!body.has_value()) return Err(body.error());
      FeedLayout layout{options_.sites, options_.group_models};
      return ParseFeedDocument(*body, layout, options_.base);
    }();
    lock.lock();
    polling_ = false;
    ++polls_;
    if (doc.has_value()) {
      view_ = std::move(doc->view);
      ignored_ = std::move(doc->ignored);
      last_ok_ = now;
      last_error_.clear();
      failing_since_.reset();
    } else {
      ++failures_;
      last_error_ = doc.error().message();
      if (!failing_since_) failing_since_ = now;
    }
  }
  if (!view_) {
    if (polling_) return Err(UnavailableError(fmt::format("market feed {}: first poll in progress", options_.url)));
    return Err(UnavailableError(fmt::format("market feed {} has had no good document yet: {}", options_.url, last_error_)));
  }
  return *view_;
}

std::string PollingFeed::Describe() const {
  std::lock_guard lock(mu_);
  std::string out = fmt::format("poll {} every {} s: ", options_.url, options_.interval_s);
  if (polls_ == 0) return out + "not polled yet";
  out += last_ok_ ? fmt::format("last ok at {} (prices at {})", FormatUtc(*last_ok_), FormatUtc(view_->at))
                  : std::string("never ok");
  out += fmt::format(", {} of {} polls failed", failures_, polls_);
  if (failing_since_) out += fmt::format(", failing since {}: {}", FormatUtc(*failing_since_), last_error_);
  if (!ignored_.empty()) {
    out += ", ignored: ";
    for (size_t i = 0; i < ignored_.size(); ++i) out += (i ? "; " : "") + ignored_[i];
  }
  return out;
}

std::string PollingFeed::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}
std::vector<std::string> PollingFeed::ignored() const {
  std::lock_guard lock(mu_);
  return ignored_;
}
int64_t PollingFeed::polls() const {
  std::lock_guard lock(mu_);
  return polls_;
}
int64_t PollingFeed::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}
std::optional<Timestamp> PollingFeed::last_ok() const {
  std::lock_guard lock(mu_);
  return last_ok_;
}

}  // namespace rigshift
