// A curtailment signal feed (docs/demand-response.md, "Server"): the server polls a URL for a
// small JSON document of emergency events and turns each new one into an event as if it had been
// POSTed to /v1/sites/{site}/curtail. The document:
//
//   {"events": [{"id": "ercot-2026-12-05-1", "site": "tx-west", "target_kw": 1200,
//                "start": "2026-12-05T18:00:00Z", "deadline": "2026-12-05T18:10:00Z",
//                "end": "2026-12-05T20:00:00Z"}]}
//
// Each entry: id (required, the key that makes a signal polled twice one event), site,
// target_kw, deadline, and optional start, end or duration_s, source (default: the feed's URL),
// read by ParseCurtailSignal. Entries whose id the farm knows already are skipped before they are
// checked (a signal's deadline passes while the feed still lists it); an entry that is wrong is
// skipped and said once, and the others are taken.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "server/curtail.h"

namespace rigshift {

class Farm;

// The feed's document read: the entries whose id `known` does not know, checked at `now`, and
// each entry refused, with its index and why ("events[2]: target_kw: must be 0 .. ...").
struct CurtailFeedRead {
  std::vector<CurtailSignal> signals;
  std::vector<std::string> refused;
};
[[nodiscard]] Result<CurtailFeedRead> ReadCurtailFeed(std::string_view body, const std::string& source, Timestamp now,
                                                      const std::function<bool(const std::string&)>& known);

// Polls the feed on a thread of its own and hands new signals to the farm under its lock.
class CurtailFeedPoller {
 public:
  struct Options {
    std::string url;
    int64_t interval_s = 30;
    std::function<Result<std::string>(const std::string& url)> fetch;  // GET, the body of a 200
    std::function<Timestamp()> now;
    std::function<void(const std::string&)> log;  // what happened, one line each
  };
  // `farm` and `mu` (the farm's lock) outlive the poller. Polls at once, then every interval_s.
  CurtailFeedPoller(Options options, Farm* farm, std::mutex* mu);
  ~CurtailFeedPoller();  // stops and joins
  CurtailFeedPoller(const CurtailFeedPoller&) = delete;
  CurtailFeedPoller& operator=(const CurtailFeedPoller&) = delete;

  // One poll, on the caller's thread (the thread calls it too).
  void PollOnce();

 private:
  Options options_;
  Farm* farm_;
  std::mutex* mu_;
  std::set<std::string> said_;  // refusals and fetch errors already logged
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rigshift
