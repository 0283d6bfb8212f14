// Api: the REST API of docs/api.md (api/openapi.yaml) over a Farm.
//
// One entry point, Handle(), called by the HTTP server's I/O threads concurrently. Routing,
// authentication (Auth has its own lock), body parsing and JSON rendering run outside the farm's
// lock; each call into the farm (and the store behind it) holds the lock for just that call, and
// GET /v1/offers takes no farm lock at all (it reads the farm's published offer sheet).
//
// Errors: every failure is a Status, turned into HTTP by the one table in HttpStatusFor().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "net/http.h"
#include "server/auth.h"
#include "server/durable_acks.h"
#include "server/farm.h"
#include "server/metrics.h"

namespace rigshift {

// The HTTP status and the JSON error code of a Status code.
int HttpStatusFor(StatusCode code);
std::string_view ErrorCodeFor(StatusCode code);

class Api {
 public:
  // All pointers outlive the Api. `farm_mutex` guards `farm` and `auth` (and the store they use);
  // the caller's background work (Farm::Tick) takes the same mutex. `now` is the clock.
  Api(Farm* farm, Auth* auth, Metrics* metrics, std::mutex* farm_mutex, std::function<Timestamp()> now);
  ~Api();

  // A response that acknowledges a write may be answered later (HttpResponse::later), once the
  // write is durable; in-process callers wait for it with net::Await.

  net::HttpResponse Handle(const net::HttpRequest& request);

 private:
  struct Route;
  net::HttpResponse Dispatch(const net::HttpRequest& request, std::string* route);
  // Waits until every write so far is durable; called after the farm lock is released.
  [[nodiscard]] Status Durable();
  // `r`, answered once write `ticket` (Store::LastWrite, taken with the request's writes under the
  // farm lock) is durable, or the error of the commit that dropped it instead.
  net::HttpResponse WhenDurable(net::HttpResponse r, uint64_t ticket);
  // The JSON of an offer sheet's offers, made once per sheet.
  struct OffersBody {
    uint64_t version = 0;
    std::string offers_json;
  };
  std::shared_ptr<const OffersBody> OffersBodyFor(const std::shared_ptr<const OfferSheet>& sheet);

  Farm* farm_;
  Auth* auth_;
  Metrics* metrics_;
  std::mutex* mu_;
  std::function<Timestamp()> now_;
  Store* store_;
  std::atomic<std::shared_ptr<const OffersBody>> offers_body_;
  std::unique_ptr<DurableAcks> acks_;
};

}  // namespace rigshift
