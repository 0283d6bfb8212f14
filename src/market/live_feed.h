// LiveFeed: the market view composed from public sources (market/feed_formats.h), each polled on
// its own interval: coin prices from CoinGecko, a coin's difficulty and reward from WhatToMine or
// from a node's JSON-RPC, a site's electricity price from ERCOT's real-time prices
// (docs/data-formats.md, "Live feed sources"; the server's `--feed live`, docs/operations.md).
//
// Each source keeps its last good reading. A source that cannot be fetched, answers something
// its reader refuses, or whose figures are older than its max age keeps that reading and is
// unhealthy: the change is reported once as a FeedAlert (TakeAlerts), and once again when it is
// healthy again. The feed never fails as a whole: before a source's first good reading, what it
// feeds is absent (a coin missing a price or a network reading is left out of the view, so
// nothing mines it; a site without a price keeps the base's). Like PollingFeed, it reads no clock
// and does no I/O of its own: `now` comes in, a SourceFetcher fetches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "market/feed.h"
#include "market/feed_formats.h"
#include "model/market_view.h"

namespace rigshift {

enum class SourceFormat { kCoinGecko, kWhatToMine, kBitcoinRpc, kEthereumRpc, kErcotSpp };

// "coingecko", "whattomine", "bitcoin-rpc", "ethereum-rpc", "ercot-spp".
std::string_view SourceFormatName(SourceFormat f);
[[nodiscard]] Result<SourceFormat> ParseSourceFormat(std::string_view name);

// One source: where it is, how often to ask, and what in the view it feeds.
struct LiveSource {
  std::string name;  // unique in the feed; names it in alerts, /v1/market and /metrics
  SourceFormat format = SourceFormat::kCoinGecko;
  std::string url;
  int64_t interval_s = 60;   // between polls, >= 1
  int64_t max_age_s = 900;   // figures older than this (or no good poll for this long) are stale, >= 1
  // Coin sources (all but ercot-spp): the coin of the view it feeds ("ETC"), and its name at the
  // source: CoinGecko's id ("ethereum-classic"), WhatToMine's tag (default: `coin`).
  std::string coin;
  std::string id;
  // Network sources: the algorithm (required for the RPC formats; overrides WhatToMine's) and the
  // block reward (required for the RPC formats, which do not say it; overrides WhatToMine's).
  std::string algorithm;
  std::optional<CoinAmount> block_reward;
  // ercot-spp: the site it prices and the settlement point (default: the site's in the farm).
  std::string site;
  std::string settlement_point;
};

// Fetches `url`: a GET when `post_body` is empty, else a POST of that JSON (the RPC formats). As
// Fetcher (market/feed.h): errors come back as a Status, never thrown; called without the feed's
// lock held.
using SourceFetcher = std::function<Result<std::string>(const std::string& url, const std::string& post_body)>;

class LiveFeed final : public MarketFeed {
 public:
  struct Options {
    std::vector<LiveSource> sources;
    std::vector<std::string> sites;              // site names, in fleet order
    std::vector<std::string> settlement_points;  // per site, "" for none (ercot-spp's default)
    // The prices where no source speaks: one per site, one list price per group.
    MarketView base;
    SourceFetcher fetch;
    // ViewAt polls the sources that are due before it answers (true), or only composes the view
    // from what Poll() last read (false: a server polls from a thread of its own, so that a slow
    // source never holds the farm's lock for its timeout).
    bool poll_on_view = true;
  };

  // InvalidArgument naming the source and field: a missing URL or coin, an unknown site, two
  // sources feeding the same thing, an RPC source without algorithm or block_reward. Does not poll.
  [[nodiscard]] static Result<std::unique_ptr<LiveFeed>> Create(Options options);
  ~LiveFeed() override;

  // Polls (with poll_on_view) every source that is due, then composes the view from each
  // source's last good reading. Never an error.
  [[nodiscard]] Result<MarketView> ViewAt(Timestamp now) override;
  // Polls every source that is due at `now` (never polled, or interval_s since its last poll),
  // fetching without the feed's lock held. A call while another polls returns at once.
  void Poll(Timestamp now);
  std::string Describe() const override;
  std::vector<SourceHealth> Health() const override;
  std::vector<FeedAlert> TakeAlerts() override;

 private:
  struct Reading;
  struct State;
  explicit LiveFeed(Options options);
  // Parses `body` for source `i`: the reading, or why it is refused.
  Result<Reading> Read(size_t i, const std::string& body) const;
  // The view from each source's last good reading; marks good readings that aged past max_age_s.
  MarketView Compose(Timestamp now);
  // Marks source `i` healthy or not at `now`, queuing an alert on a change. Under mu_.
  void SetHealth(size_t i, bool healthy, const std::string& why, Timestamp now);

  const Options options_;
  mutable std::mutex mu_;
  std::vector<State> states_;      // per source; guarded by mu_
  std::vector<FeedAlert> alerts_;  // guarded by mu_
  bool polling_ = false;           // guarded by mu_
};

}  // namespace rigshift
