#include "server/webhooks.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace rigshift {

// One alert on its way to one target.
struct WebhookSender::Delivery {
  std::string id;  // "alert-ID"
  std::string body;
  int attempts = 0;                          // made so far
  std::chrono::steady_clock::time_point due;  // of the next attempt
  std::chrono::milliseconds wait{0};          // before the attempt after next
};

struct WebhookSender::Target {
  WebhookTarget config;
  net::Url url;
  std::deque<Delivery> queue;  // in the order raised; a delivery waiting to retry keeps its place
  bool busy = false;           // an attempt is in flight
  std::thread thread;
};

std::string WebhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>("."), 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return "sha256=" + std::string(hex);
}

std::string WebhookBody(const Alert& a) {
  nlohmann::json alert = {{"id", a.id},
                          {"at", FormatUtc(a.at)},
                          {"kind", a.kind},
                          {"node", a.node},
                          {"slot", a.slot >= 0 ? nlohmann::json(a.slot) : nlohmann::json(nullptr)},
                          {"message", a.message}};
  return nlohmann::json({{"event", "alert"}, {"alert", alert}}).dump(-1, ' ', false,
                                                                   nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<WebhookSender>> WebhookSender::Start(WebhookOptions options, Counter counter) {
  if (sodium_init() < 0) return Err(InternalError("webhooks: libsodium failed to start"));
  std::unique_ptr<WebhookSender> s(new WebhookSender(std::move(options), std::move(counter)));
  for (const WebhookTarget& t : s->options_.targets) {
    RS_ASSIGN_OR_RETURN(net::Url url, net::ParseUrl(t.url));
    if (t.secret.empty()) return Err(InvalidArgumentError("webhook " + t.url + ": its secret is empty"));
    auto target = std::make_unique<Target>();
    target->config = t;
    target->url = std::move(url);
    s->targets_.push_back(std::move(target));
  }
  for (auto& t : s->targets_) t->thread = std::thread([p = s.get(), t = t.get()] { p->Run(*t); });
  return s;
}

WebhookSender::WebhookSender(WebhookOptions options, Counter counter)
    : options_(std::move(options)), counter_(std::move(counter)) {}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : targets_) {
    if (t->thread.joinable()) t->thread.join();
  }
}

void WebhookSender::Send(const Alert& alert) {
  const std::string body = WebhookBody(alert);
  const std::string id = "alert-" + std::to_string(alert.id);
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(mu_);
    for (auto& t : targets_) {
      t->queue.push_back({id, body, 0, std::chrono::steady_clock::now(), options_.first_retry});
      if (t->queue.size() > options_.max_queued) {
        t->queue.pop_front();
        ++stats_.dropped;
        dropped.push_back(t->config.url);
      }
    }
  }
  cv_.notify_all();
  if (counter_) {
    for (const std::string& url : dropped) counter_("dropped", url, "the queue of " + url + " is full");
  }
}

Status WebhookSender::Attempt(Target& t, const std::string& id, const std::string& body, int attempt) {
  net::HttpClientOptions o;
  o.tls = t.url.tls;
  o.ca_file = options_.ca_file;
  o.timeout = options_.timeout;
  net::HttpClient client(t.url.host, t.url.port, o);
  const std::string stamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  auto r = client.Send("POST", t.url.target, body, {},
                       {{"X-Rigshift-Event", "alert"},
                        {"X-Rigshift-Delivery", id},
                        {"X-Rigshift-Attempt", std::to_string(attempt)},
                        {"X-Rigshift-Timestamp", stamp},
                        {"X-Rigshift-Signature", WebhookSignature(t.config.secret, stamp, body)}});
  if (!r) return r.error();
  if (r->status / 100 == 2) return OkStatus();
  return UnavailableError("answered " + std::to_string(r->status));
}

void WebhookSender::Run(Target& t) {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (true) {
    // The delivery due first: a new alert at once, one that failed after its wait. An alert
    // waiting to retry holds up no later one.
    auto next = [&] {
      return std::min_element(t.queue.begin(), t.queue.end(),
                              [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    };
    cv_.wait(lock, [&] { return stop_ || !t.queue.empty(); });
    if (stop_) break;
    auto it = next();
    if (it->due > Clock::now()) {
      cv_.wait_until(lock, it->due);  // or a new alert, or a stop: look again
      continue;
    }
    Delivery d = std::move(*it);
    t.queue.erase(it);
    t.busy = true;
    ++d.attempts;
    ++stats_.attempts;
    lock.unlock();
    Status sent = Attempt(t, d.id, d.body, d.attempts);
    lock.lock();
    t.busy = false;
    if (!sent.ok() && d.attempts < options_.max_attempts) {
      d.due = Clock::now() + d.wait;
      d.wait = std::min(d.wait * 2, options_.max_retry);
      t.queue.push_back(std::move(d));
      cv_.notify_all();
      continue;
    }
    const std::string_view outcome = sent.ok() ? "delivered" : "failed";
    (sent.ok() ? stats_.delivered : stats_.failed)++;
    if (counter_) {
      lock.unlock();
      counter_(outcome, t.config.url,
               sent.ok() ? std::string() : d.id + " after " + std::to_string(d.attempts) + " attempt(s): " + sent.message());
      lock.lock();
    }
    cv_.notify_all();
  }
  // Stopped: what waits (new, or between attempts) is dropped.
  const size_t left = t.queue.size();
  stats_.dropped += static_cast<int64_t>(left);
  t.queue.clear();
  if (counter_ && left > 0) {
    lock.unlock();
    for (size_t i = 0; i < left; ++i) counter_("dropped", t.config.url, "the server stopped");
    lock.lock();
  }
}

WebhookSender::Stats WebhookSender::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool WebhookSender::WaitIdle(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] {
    return std::all_of(targets_.begin(), targets_.end(), [](const auto& t) { return t->queue.empty() && !t->busy; });
  });
}

}  // namespace rigshift
