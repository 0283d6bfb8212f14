// Alerts beyond the console: each alert the farm raises is POSTed as JSON to every webhook the
// operator configured ([[webhooks]] in the server's config, or --webhook), signed, and retried.
//
// The request (docs/operations.md, "Webhooks"):
//   POST <url>   Content-Type: application/json
//   X-Rigshift-Event: alert
//   X-Rigshift-Delivery: alert-<id>           the same on every retry of one alert
//   X-Rigshift-Attempt: 1, 2, ...
//   X-Rigshift-Timestamp: <unix seconds of this attempt>
//   X-Rigshift-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//   {"event": "alert", "alert": {"id", "at", "kind", "node", "slot", "message"}}
// A receiver checks the signature with its copy of the secret and refuses stale timestamps
// (replays). Any 2xx is delivered; anything else (another status, no answer within the
// timeout) is tried again after 1 s, 2 s, 4 s, ... (at most `max_retry`) until `max_attempts`.
//
// Each target has its own thread and queue, so a dead receiver delays no other. A new alert is
// sent at once, even while an earlier one waits to be tried again: first attempts go out in the
// order raised, retries when due (a receiver orders by the alert's id and time, not by arrival).
// Send() never blocks the farm: a full queue drops the oldest alert (counted). On destruction
// what is queued or waiting to retry is dropped (counted); the attempt
// in flight ends within its timeout, except that a host name is resolved (getaddrinfo) outside
// it: a resolver that hangs holds the stop up to its own timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "server/farm.h"

namespace rigshift {

struct WebhookTarget {
  std::string url;     // http:// or https://
  std::string secret;  // the HMAC key; never sent
};

struct WebhookOptions {
  std::vector<WebhookTarget> targets;
  int max_attempts = 8;  // about 2 minutes of retries with the defaults below
  std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds max_retry{60000};
  std::chrono::milliseconds timeout{5000};  // per attempt
  size_t max_queued = 1000;                 // per target
  std::string ca_file;                      // https targets: the CAs to trust ("" = the system's)
};

// "sha256=" + lowercase hex of HMAC-SHA256(secret, timestamp + "." + body).
std::string WebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body);
// The JSON body of an alert's delivery.
std::string WebhookBody(const Alert& alert);

class WebhookSender {
 public:
  // Outcomes, for /metrics and the log: "delivered", "failed" (every attempt failed), "dropped"
  // (queue full, or waiting when the sender stops), each with the target's URL and, unless
  // delivered, why ("alert-7 after 8 attempt(s): answered 500"). Called from the senders' threads.
  using Counter = std::function<void(std::string_view outcome, const std::string& url, const std::string& why)>;
  // InvalidArgument for a target whose URL cannot be parsed or whose secret is empty.
  static Result<std::unique_ptr<WebhookSender>> Start(WebhookOptions options, Counter counter = {});
  ~WebhookSender();

  void Send(const Alert& alert);

  struct Stats {
    int64_t delivered = 0, failed = 0, dropped = 0, attempts = 0;
  };
  Stats stats() const;
  // For tests: waits until every queue is empty and no attempt is in flight, at most `limit`.
  bool WaitIdle(std::chrono::milliseconds limit);

 private:
  struct Delivery;
  struct Target;
  WebhookSender(WebhookOptions options, Counter counter);
  void Run(Target& t);
  // One POST: OK when the receiver answered 2xx, else why not.
  Status Attempt(Target& t, const std::string& id, const std::string& body, int attempt);

  WebhookOptions options_;
  Counter counter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Stats stats_;
  std::vector<std::unique_ptr<Target>> targets_;
};

}  // namespace rigshift
