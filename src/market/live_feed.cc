#include "market/live_feed.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace rigshift {

struct LiveFeed::Reading {
  std::optional<CoinPrice> price;          // coingecko
  std::optional<NetworkReading> network;   // whattomine, the RPCs (algorithm and reward filled)
  std::optional<EnergyPrice> energy;       // ercot-spp
  std::optional<Timestamp> data_at;        // when the source says the figures are from
  std::string shown;
};

struct LiveFeed::State {
  std::optional<Timestamp> last_poll, last_ok;
  std::optional<Reading> good;  // the last good reading
  bool healthy = false;
  bool alerted = false;  // an unhealthy alert is out, not yet followed by a healthy one
  std::optional<Timestamp> failing_since;
  std::string error;
  int64_t polls = 0, failures = 0;
};

std::string_view SourceFormatName(SourceFormat f) {
  switch (f) {
    case SourceFormat::kCoinGecko:
      return "coingecko";
    case SourceFormat::kWhatToMine:
      return "whattomine";
    case SourceFormat::kBitcoinRpc:
      return "bitcoin-rpc";
    case SourceFormat::kEthereumRpc:
      return "ethereum-rpc";
    case SourceFormat::kErcotSpp:
      return "ercot-spp";
  }
  return "?";
}

Result<SourceFormat> ParseSourceFormat(std::string_view name) {
  for (SourceFormat f : {SourceFormat::kCoinGecko, SourceFormat::kWhatToMine, SourceFormat::kBitcoinRpc,
                         SourceFormat::kEthereumRpc, SourceFormat::kErcotSpp}) {
    if (name == SourceFormatName(f)) return f;
  }
  return Err(InvalidArgumentError(fmt::format(
      "format must be coingecko, whattomine, bitcoin-rpc, ethereum-rpc or ercot-spp, got \"{}\"", name)));
}

namespace {

std::string Feeds(const LiveSource& s) {
  if (s.format == SourceFormat::kErcotSpp) return "site " + s.site + " electricity (" + s.settlement_point + ")";
  if (s.format == SourceFormat::kCoinGecko) return s.coin + " price";
  return s.coin + " network";
}

}  // namespace

LiveFeed::LiveFeed(Options options) : options_(std::move(options)), states_(options_.sources.size()) {}
LiveFeed::~LiveFeed() = default;

Result<std::unique_ptr<LiveFeed>> LiveFeed::Create(Options options) {
  if (!options.fetch) return Err(InvalidArgumentError("live feed: fetch is not set"));
  if (options.sources.empty()) {
    return Err(InvalidArgumentError("live feed: no sources ([[feed.source]] tables in the config)"));
  }
  if (options.base.site_price.size() != options.sites.size() ||
      (!options.settlement_points.empty() && options.settlement_points.size() != options.sites.size())) {
    return Err(InvalidArgumentError("live feed: the base prices and settlement points must have one entry per site"));
  }
  std::set<std::string> names, prices, networks, sites;
  for (size_t i = 0; i < options.sources.size(); ++i) {
    LiveSource& s = options.sources[i];
    const std::string at = s.name.empty() ? fmt::format("live feed: source {}", i + 1)
                                          : fmt::format("live feed: source \"{}\"", s.name);
    auto bad = [&](const std::string& why) { return Err(InvalidArgumentError(at + ": " + why)); };
    if (s.name.empty()) return bad("name is missing");
    if (!names.insert(s.name).second) return bad("the name is used by another source");
    if (!s.url.starts_with("http://") && !s.url.starts_with("https://")) {
      return bad("url must be an http:// or https:// URL, got \"" + s.url + "\"");
    }
    if (s.interval_s < 1 || s.interval_s > 86'400) {
      return bad(fmt::format("interval_s must be 1..86400 seconds, got {}", s.interval_s));
    }
    if (s.max_age_s < 0 || s.max_age_s > 30 * 86'400) {
      return bad(fmt::format("max_age_s must be 0 (not checked) .. 2592000 seconds, got {}", s.max_age_s));
    }
    if (s.format == SourceFormat::kErcotSpp) {
      if (!s.coin.empty() || !s.id.empty() || !s.algorithm.empty() || s.block_reward) {
        return bad("an ercot-spp source prices a site: coin, id, algorithm and block_reward do not apply");
      }
      auto it = std::find(options.sites.begin(), options.sites.end(), s.site);
      if (s.site.empty()) return bad("site is missing (the farm's site this price is for)");
      if (it == options.sites.end()) return bad("the farm has no site \"" + s.site + "\"");
      if (s.settlement_point.empty() && !options.settlement_points.empty()) {
        s.settlement_point = options.settlement_points[it - options.sites.begin()];
      }
      if (s.settlement_point.empty()) {
        return bad("settlement_point is missing, and site \"" + s.site + "\" names none in the farm file");
      }
      if (!sites.insert(s.site).second) return bad("another source already prices site \"" + s.site + "\"");
      continue;
    }
    if (!s.site.empty() || !s.settlement_point.empty()) {
      return bad(std::string("a ") + std::string(SourceFormatName(s.format)) +
                 " source feeds a coin: site and settlement_point do not apply");
    }
    if (s.coin.empty()) return bad("coin is missing (the coin it feeds, as the catalog names it: \"ETC\")");
    if (s.format == SourceFormat::kCoinGecko) {
      if (s.id.empty()) return bad("id is missing (CoinGecko's id of the coin: \"ethereum-classic\")");
      if (!s.algorithm.empty() || s.block_reward) return bad("a coingecko source gives a price: algorithm and block_reward do not apply");
      if (!prices.insert(s.coin).second) return bad("another source already prices " + s.coin);
      continue;
    }
    if (s.format == SourceFormat::kWhatToMine && s.id.empty()) s.id = s.coin;
    if (s.format != SourceFormat::kWhatToMine) {
      if (!s.id.empty()) return bad("id does not apply to a node's JSON-RPC");
      if (s.algorithm.empty()) return bad("algorithm is missing (a node's JSON-RPC does not say it)");
      if (!s.block_reward) return bad("block_reward is missing (a node's JSON-RPC does not say it)");
    }
    if (s.block_reward && s.block_reward->raw() <= 0) return bad("block_reward must be positive");
    if (!networks.insert(s.coin).second) return bad("another source already gives the network of " + s.coin);
  }
  return std::unique_ptr<LiveFeed>(new LiveFeed(std::move(options)));
}

Result<LiveFeed::Reading> LiveFeed::Read(size_t i, const std::string& body) const {
  const LiveSource& s = options_.sources[i];
  Reading r;
  switch (s.format) {
    case SourceFormat::kCoinGecko: {
      RS_ASSIGN_OR_RETURN(CoinPriceReading p, ParseCoinGeckoPrice(body, s.id));
      r.price = p.price;
      r.data_at = p.updated;
      r.shown = FormatScaled(p.price.raw(), 9) + " USD";
      break;
    }
    case SourceFormat::kWhatToMine:
    case SourceFormat::kBitcoinRpc:
    case SourceFormat::kEthereumRpc: {
      Result<NetworkReading> n = s.format == SourceFormat::kWhatToMine ? ParseWhatToMineCoin(body, s.id)
                                 : s.format == SourceFormat::kBitcoinRpc ? ParseGetMiningInfo(body)
                                                                         : ParseEthBlock(body);
      if (!n.has_value()) return Err(n.error());
      if (!s.algorithm.empty()) n->algorithm = s.algorithm;
      if (s.block_reward) n->block_reward = s.block_reward;
      r.data_at = n->at;
      r.shown = fmt::format("{} {} H/block, {} {}/block", n->algorithm, FormatInt128(n->hashes_per_block.hps()),
                            FormatScaled(n->block_reward->raw(), 9), s.coin);
      if (n->height > 0) r.shown += fmt::format(" at block {}", n->height);
      r.network = std::move(*n);
      break;
    }
    case SourceFormat::kErcotSpp: {
      RS_ASSIGN_OR_RETURN(SettlementPriceReading p, ParseErcotSpp(body, s.settlement_point));
      r.energy = p.price;
      r.data_at = p.interval_end;
      r.shown = fmt::format("{} USD/MWh at {} for the interval ending {}", FormatScaled(p.price.raw(), 6),
                            p.settlement_point, FormatUtc(p.interval_end));
      break;
    }
  }
  return r;
}

void LiveFeed::SetHealth(size_t i, bool healthy, const std::string& why, Timestamp now) {
  State& st = states_[i];
  const LiveSource& s = options_.sources[i];
  st.healthy = healthy;
  st.error = healthy ? std::string() : why;
  if (healthy) {
    st.failing_since.reset();
  } else if (!st.failing_since) {
    st.failing_since = now;
  }
  if (!healthy && !st.alerted) {
    st.alerted = true;
    std::string keeps = st.good ? "keeping its last good reading (" + st.good->shown + ")"
                                : "nothing it feeds is known yet (" + Feeds(s) + ")";
    alerts_.push_back({s.name, false,
                       fmt::format("market source {} ({} {}): {}; {}", s.name, SourceFormatName(s.format), s.url, why,
                                   keeps)});
  } else if (healthy && st.alerted) {
    st.alerted = false;
    alerts_.push_back({s.name, true, fmt::format("market source {} is healthy again: {}", s.name, st.good->shown)});
  }
}

Result<MarketView> LiveFeed::ViewAt(Timestamp now) {
  if (options_.poll_on_view) Poll(now);
  return Compose(now);
}

void LiveFeed::Poll(Timestamp now) {
  std::unique_lock lock(mu_);
  if (!polling_) {
    std::vector<size_t> due;
    for (size_t i = 0; i < states_.size(); ++i) {
      const auto& last = states_[i].last_poll;
      if (!last || now.seconds >= last->seconds + options_.sources[i].interval_s) {
        due.push_back(i);
        states_[i].last_poll = now;
      }
    }
    if (!due.empty()) {
      polling_ = true;
      lock.unlock();
      // Fetch and read without the lock: a slow source must not stall /v1/market.
      std::vector<Result<Reading>> got;
      std::vector<std::string> stale(due.size());  // why a parsed reading is stale ("": fresh)
      for (size_t i : due) {
        const LiveSource& s = options_.sources[i];
        std::string post = s.format == SourceFormat::kBitcoinRpc    ? GetMiningInfoRequest()
                           : s.format == SourceFormat::kEthereumRpc ? EthLatestBlockRequest()
                                                                    : std::string();
        Result<std::string> body = [&]() -> Result<std::string> {
          try {
            return options_.fetch(s.url, post);
          } catch (const std::exception& e) {
            return Err(InternalError(std::string("fetch threw: ") + e.what()));
          }
        }();
        if (!body.has_value()) {
          got.push_back(Err(body.error()));
          continue;
        }
        Result<Reading> r = Read(i, *body);
        if (r.has_value() && r->data_at && s.max_age_s > 0 && now.seconds - r->data_at->seconds > s.max_age_s) {
          stale[got.size()] = fmt::format("stale: its figures are from {}, {} s before now, over max_age_s {}",
                                          FormatUtc(*r->data_at), now.seconds - r->data_at->seconds, s.max_age_s);
        }
        got.push_back(std::move(r));
      }
      lock.lock();
      polling_ = false;
      for (size_t k = 0; k < due.size(); ++k) {
        State& st = states_[due[k]];
        ++st.polls;
        if (got[k].has_value()) {
          if (!got[k]->data_at) got[k]->data_at = now;
          // Stale figures are still the source's newest word: they replace a reading no newer
          // than they are (a first reading, or new values under the same old date, as a recorded
          // sample gives), never a newer one, and the source is reported stale. The farm goes on
          // planning with the freshest figures there are.
          const bool older = st.good && st.good->data_at && *got[k]->data_at < *st.good->data_at;
          if (!older) {
            st.good = std::move(*got[k]);
            st.last_ok = now;
          }
          if (stale[k].empty()) {
            SetHealth(due[k], true, "", now);
          } else {
            ++st.failures;
            SetHealth(due[k], false, stale[k], now);
          }
        } else {
          ++st.failures;
          SetHealth(due[k], false, got[k].error().message(), now);
        }
      }
    }
  }
}

MarketView LiveFeed::Compose(Timestamp now) {
  std::lock_guard lock(mu_);
  // A good reading that has aged past max_age_s without a newer one is stale.
  for (size_t i = 0; i < states_.size(); ++i) {
    const LiveSource& s = options_.sources[i];
    State& st = states_[i];
    if (st.healthy && st.good && s.max_age_s > 0 && now.seconds - st.good->data_at->seconds > s.max_age_s) {
      SetHealth(i, false,
                fmt::format("stale: its latest figures are from {}, over max_age_s {} ago",
                            FormatUtc(*st.good->data_at), s.max_age_s),
                now);
    }
  }

  MarketView view = options_.base;
  view.at = now;
  // Coins, in name order: those with a price and a network reading.
  std::map<std::string, std::pair<const Reading*, const Reading*>> coins;  // coin -> (price, network)
  std::optional<CoinPrice> btc_usd;
  for (size_t i = 0; i < states_.size(); ++i) {
    const LiveSource& s = options_.sources[i];
    const auto& good = states_[i].good;
    if (s.format == SourceFormat::kErcotSpp) {
      if (good) {
        size_t site = std::find(options_.sites.begin(), options_.sites.end(), s.site) - options_.sites.begin();
        view.site_price[site] = *good->energy;
      }
      continue;
    }
    auto& slot = coins[s.coin];
    if (s.format == SourceFormat::kCoinGecko) {
      if (good) slot.first = &*good;
      if (good && s.coin == "BTC") btc_usd = good->price;
    } else if (good) {
      slot.second = &*good;
    }
  }
  for (const auto& [coin, pair] : coins) {
    const auto& [price, network] = pair;
    if (!network) continue;
    std::optional<CoinPrice> usd;
    if (price) usd = price->price;
    // No price source: WhatToMine's BTC exchange rate at the BTC price, when both are known.
    if (!usd && network->network->price_btc && btc_usd) {
      auto v = MulDiv(network->network->price_btc->raw(), btc_usd->raw(), kNanosPerUnit);
      if (v.has_value()) usd = CoinPrice(*v);
    }
    if (!usd) continue;
    view.coins.push_back(CoinQuote{coin, network->network->algorithm, *usd, network->network->hashes_per_block,
                                   *network->network->block_reward});
  }
  return view;
}

std::vector<SourceHealth> LiveFeed::Health() const {
  std::lock_guard lock(mu_);
  std::vector<SourceHealth> out;
  for (size_t i = 0; i < states_.size(); ++i) {
    const LiveSource& s = options_.sources[i];
    const State& st = states_[i];
    SourceHealth h;
    h.name = s.name;
    h.format = std::string(SourceFormatName(s.format));
    h.feeds = Feeds(s);
    h.healthy = st.healthy;
    h.has_value = st.good.has_value();
    h.last_ok = st.last_ok;
    if (st.good) h.data_at = st.good->data_at;
    h.polls = st.polls;
    h.failures = st.failures;
    h.error = st.polls == 0 ? "not polled yet" : st.error;
    if (st.good) h.value = st.good->shown;
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<FeedAlert> LiveFeed::TakeAlerts() {
  std::lock_guard lock(mu_);
  return std::exchange(alerts_, {});
}

std::string LiveFeed::Describe() const {
  std::vector<SourceHealth> all = Health();
  size_t healthy = std::count_if(all.begin(), all.end(), [](const SourceHealth& h) { return h.healthy; });
  std::string out = fmt::format("live, {} of {} sources healthy", healthy, all.size());
  for (const SourceHealth& h : all) {
    out += fmt::format("; {} ({}, {}): ", h.name, h.format, h.feeds);
    if (h.healthy) {
      out += "ok, " + h.value;
    } else {
      out += h.error;
      if (h.has_value) out += ", keeping " + h.value;
    }
  }
  return out;
}

}  // namespace rigshift
