// Market feeds: where the server gets the market view in force.
//
// A MarketFeed answers "which prices hold at this wall-clock instant" for one fleet. Two kinds:
// ReplayFeed plays an imported series (the simulator's ticks) faster than real time, for demos
// and soak tests; PollingFeed polls a JSON document over HTTP (docs/data-formats.md, "Live market
// feed"). Neither reads a clock: `now` always comes in. The market library does no I/O of its
// own: PollingFeed is given a Fetcher, which the server implements with its HTTP client.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "model/market_view.h"

namespace rigshift {

// One source of a feed made of several (LiveFeed, market/live_feed.h), as /v1/market and
// /metrics show it.
struct SourceHealth {
  std::string name;
  std::string format;
  std::string feeds;  // "ETC price", "ETC network", "site tx1 electricity"
  bool healthy = false;  // a good reading, fresh
  bool has_value = false;
  std::optional<Timestamp> last_ok;     // wall time of the latest good poll
  std::optional<Timestamp> data_at;     // when the figures are from (or last_ok, when the format says not)
  int64_t polls = 0, failures = 0;
  std::string error;  // why unhealthy, "" when healthy
  std::string value;  // the reading, for people ("18.25 USD", "2650000000000000 H/block, 2.048/block")
};

// A source became unhealthy (`healthy` false, with why) or healthy again.
struct FeedAlert {
  std::string source;
  bool healthy = false;
  std::string message;
};

// The market view in force at a wall-clock instant, for one fleet: `site_price` has one entry
// per site and `list_price` one per node group, in the fleet's order.
//
// Thread safety: implementations here are safe to call from several threads at once.
class MarketFeed {
 public:
  virtual ~MarketFeed() = default;
  // The view in force at `now`. Unavailable when the feed has never had a view (a live feed
  // before its first good poll); the message says why.
  [[nodiscard]] virtual Result<MarketView> ViewAt(Timestamp now) = 0;
  // One line for logs and /v1/market: "replay of 2021-01-01T00:00:00Z.. at 60x",
  // "poll http://...: last ok at ..., failing since ...: <error>".
  virtual std::string Describe() const = 0;
  // Feeds made of several sources: each source's health (empty for the others).
  virtual std::vector<SourceHealth> Health() const { return {}; }
  // The sources' health changes since the last call, oldest first, for the operator's alerts
  // (empty for feeds without sources). Thread-safe; each change is handed out once.
  virtual std::vector<FeedAlert> TakeAlerts() { return {}; }
};

// Replays a series of market views faster than real time. Wall second s after `wall_start`
// shows tick k = floor(s * speed / interval_s): wrapped modulo `ticks` when looping, else held
// at the last tick; before `wall_start` tick 0 is shown. The view's `at` is the market time of
// its tick, market_start + k * interval_s, whatever view_of_tick put there. Deterministic: the
// same options and `now` give the same view. The last tick's view is cached, so calls within one
// tick build it once.
class ReplayFeed final : public MarketFeed {
 public:
  struct Options {
    // The view of tick k, for 0 <= k < ticks (ResolvedScenario::ViewAt). Called with the
    // feed's lock held; must not call back into the feed.
    std::function<MarketView(int64_t tick)> view_of_tick;
    int64_t ticks = 0;       // >= 1
    int64_t interval_s = 0;  // market seconds per tick, >= 1
    Timestamp market_start;  // market time of tick 0
    Timestamp wall_start;    // wall time at which tick 0 starts
    int64_t speed = 1;       // market seconds per wall second, >= 1 (1 = real time)
    bool loop = true;        // after the last tick: start again (true) or hold it (false)
  };

  // InvalidArgument naming the field when an option is out of range.
  [[nodiscard]] static Result<std::unique_ptr<ReplayFeed>> Create(Options options);

  [[nodiscard]] Result<MarketView> ViewAt(Timestamp now) override;
  std::string Describe() const override;

  // The tick shown at `now` (what ViewAt uses).
  int64_t TickAt(Timestamp now) const;

 private:
  explicit ReplayFeed(Options options) : options_(std::move(options)) {}

  const Options options_;
  mutable std::mutex mu_;
  std::optional<int64_t> cached_tick_;  // guarded by mu_
  MarketView cached_view_;              // guarded by mu_
};

// Fetches the body of `url`. Errors (unreachable host, a non-2xx status, a timeout) are returned
// as a Status whose message says what happened; it should not throw. Called without the feed's
// lock held, so a slow fetch does not block other callers of the feed.
using Fetcher = std::function<Result<std::string>(const std::string& url)>;

// Where a feed document's names land: the fleet's sites and node groups, in order.
struct FeedLayout {
  std::vector<std::string> sites;         // site names, in fleet order
  std::vector<std::string> group_models;  // catalog display name of each group's GPU model
};

struct FeedDocument {
  MarketView view;
  // What the document named that this fleet does not have, one line each
  // ("electricity_usd_per_mwh: no site 'mars'"); ignored, not an error.
  std::vector<std::string> ignored;
};

// Reads a live feed document (docs/data-formats.md, "Live market feed") onto `layout`, filling
// what it does not say from `base` (which must have one site price per site and one list price
// per group). InvalidArgument naming the field and what is wrong ("coins[2].price_usd must be a
// non-negative number, got \"abc\""), or the parse error's position for text that is not JSON.
[[nodiscard]] Result<FeedDocument> ParseFeedDocument(std::string_view text, const FeedLayout& layout,
                                                     const MarketView& base);

// A live feed: polls a JSON document every `interval_s`. ViewAt(now) polls, synchronously, when
// no poll has been made yet or `now` >= the last poll + interval_s (a failed poll waits the
// interval too, so a broken feed is not hammered); otherwise it answers from memory. A good
// document replaces the view; a failed fetch or a bad document keeps the last good view and
// records the error. Until a first good document, ViewAt is Unavailable, naming the URL and the
// error. While one caller polls, others get the view in force (or Unavailable before the first
// good document) without waiting.
class PollingFeed final : public MarketFeed {
 public:
  struct Options {
    std::string url;
    int64_t interval_s = 60;                // >= 1
    std::vector<std::string> sites;         // site names, in fleet order
    std::vector<std::string> group_models;  // catalog display name per node group, in fleet order
    // What is used where the document says nothing: coins when it has no "coins", a site's or
    // group's price when it is not named (e.g. list prices from the config). Sizes must match
    // `sites` and `group_models`.
    MarketView base;
    Fetcher fetch;
  };

  // InvalidArgument naming the field when an option is missing or inconsistent. Does not poll.
  [[nodiscard]] static Result<std::unique_ptr<PollingFeed>> Create(Options options);

  [[nodiscard]] Result<MarketView> ViewAt(Timestamp now) override;
  std::string Describe() const override;

  // The latest poll's error, "" when it succeeded (or none was made).
  std::string last_error() const;
  // What the latest good document named that the fleet does not have (FeedDocument::ignored).
  std::vector<std::string> ignored() const;
  int64_t polls() const;     // polls made (fetches started and finished)
  int64_t failures() const;  // of which failed: fetch error or bad document
  // Wall time of the latest good poll, if any.
  std::optional<Timestamp> last_ok() const;

 private:
  explicit PollingFeed(Options options) : options_(std::move(options)) {}

  const Options options_;
  mutable std::mutex mu_;
  // All guarded by mu_.
  bool polling_ = false;
  std::optional<Timestamp> last_poll_;
  std::optional<Timestamp> last_ok_;
  std::optional<Timestamp> failing_since_;
  std::optional<MarketView> view_;
  std::vector<std::string> ignored_;
  std::string last_error_;
  int64_t polls_ = 0;
  int64_t failures_ = 0;
};

}  // namespace rigshift
