#include "server/curtail_feed.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "server/farm.h"

namespace rigshift {

using json = nlohmann::json;

Result<CurtailFeedRead> ReadCurtailFeed(std::string_view body, const std::string& source, Timestamp now,
                                        const std::function<bool(const std::string&)>& known) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Err(InvalidArgumentError("curtailment feed " + source + ": not JSON"));
  if (!doc.is_object() || !doc.contains("events") || !doc["events"].is_array()) {
    return Err(InvalidArgumentError("curtailment feed " + source + ": needs {\"events\": [...]}"));
  }
  CurtailFeedRead out;
  const json& events = doc["events"];
  for (size_t i = 0; i < events.size(); ++i) {
    json e = events[i];
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || e["id"].get<std::string>().empty()) {
      out.refused.push_back(fmt::format("events[{}]: id: required, a string", i));
      continue;
    }
    const std::string id = e["id"].get<std::string>();
    if (known(id)) continue;
    if (!e.contains("source")) e["source"] = source.substr(0, 200);
    auto s = ParseCurtailSignal(e, "", now);
    if (!s) {
      out.refused.push_back(fmt::format("events[{}] ({}): {}", i, id, s.error().message()));
      continue;
    }
    out.signals.push_back(std::move(*s));
  }
  return out;
}

CurtailFeedPoller::CurtailFeedPoller(Options options, Farm* farm, std::mutex* mu)
    : options_(std::move(options)), farm_(farm), mu_(mu) {
  thread_ = std::thread([this] {
    while (!stop_) {
      PollOnce();
      for (int64_t left = options_.interval_s * 10; left > 0 && !stop_; --left) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

CurtailFeedPoller::~CurtailFeedPoller() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void CurtailFeedPoller::PollOnce() {
  auto say_once = [&](const std::string& line) {
    if (said_.insert(line).second && options_.log) options_.log(line);
  };
  Result<std::string> body = options_.fetch(options_.url);
  if (!body) {
    say_once("curtailment feed: " + body.error().message());
    return;
  }
  std::lock_guard lock(*mu_);
  const Timestamp now = options_.now();
  auto read = ReadCurtailFeed(*body, options_.url, now,
                              [this](const std::string& id) { return farm_->curtailments().Knows(id); });
  if (!read) {
    say_once(read.error().message());
    return;
  }
  for (const std::string& r : read->refused) say_once("curtailment feed: refused " + r);
  for (CurtailSignal& s : read->signals) {
    bool fresh = false;
    const std::string id = s.id, site = s.site;
    auto e = farm_->Curtail(std::move(s), now, &fresh);
    if (!e) {
      // Not stored: tried again at the next poll (said once).
      say_once("curtailment feed: signal " + id + " at " + site + ": " + e.error().message());
    } else if (fresh && options_.log) {
      options_.log(fmt::format("curtailment feed: signal {} is event {} at {}: {} kW by {}", id, e->id, site,
                               static_cast<double>(e->signal.target.raw()) / 1000.0, FormatUtc(e->signal.deadline)));
    }
  }
}

}  // namespace rigshift
