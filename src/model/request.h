// What a tenant asks for, and what it gets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "common/units.h"
#include "model/ids.h"

namespace rigshift {

using RequestId = StrongId<struct RequestIdTag>;
using LeaseId = StrongId<struct LeaseIdTag>;

// on_demand: starts now at the list price, runs until done; interruptible: pays its bid, may be
// preempted by better uses; reserved: a term at a fixed price, never preempted.
enum class RequestKind { kOnDemand, kInterruptible, kReserved };
// Where a gang's GPUs must sit: anywhere, inside one node, inside one NVLink domain; or (fabric)
// inside one node when a node of the group holds them all, else on whole nodes of a group whose
// farm file declares a network fabric for multi-node training (the GPUs a multi-node gang asks
// for must be a multiple of the group's GPUs per node: it takes whole nodes).
enum class Interconnect { kAny, kNode, kNvlink, kFabric };
// The suitability tier a workload needs (training needs more of the host than inference).
enum class Workload { kInference, kTraining };

// The workload a request of `gpus` GPUs is taken to be, in both shells: one GPU serves inference,
// a gang trains (and needs the host and links training needs).
inline Workload WorkloadFor(int gpus) { return gpus > 1 ? Workload::kTraining : Workload::kInference; }

std::string_view RequestKindName(RequestKind k);
std::string_view InterconnectName(Interconnect i);
bool ParseRequestKind(std::string_view s, RequestKind* out);
bool ParseInterconnect(std::string_view s, Interconnect* out);

struct Request {
  RequestId id;
  std::string tenant;
  int gpus = 1;
  std::vector<std::string> models;  // catalog keys allowed; empty = any suitable model
  int min_vram_gb = 0;
  Interconnect interconnect = Interconnect::kAny;
  // The declared time limit: the lease ends after this long at the latest (0 = no limit). The
  // engine plans with it (when GPUs come back, whether a backfill ends before a reservation); a
  // job may end sooner, as a cluster's users over-state their limits.
  int64_t duration_s = 0;
  RequestKind kind = RequestKind::kOnDemand;
  Workload workload = Workload::kInference;
  std::optional<RentalPrice> max_price;  // on-demand: refuse list prices above this
  RentalPrice bid;                  // interruptible: what it pays per GPU-hour
  // A request for a share of a GPU (a trace's fractional pod) occupies a whole GPU here and pays
  // this share of the list price, in thousandths.
  int price_milli = 1000;
  // On-demand at a price fixed when asked (a request open to several models pays the cheapest of
  // their list prices, wherever it runs); unset: the list price of the model it runs on.
  std::optional<RentalPrice> fixed_price;
  Timestamp arrival;
};

}  // namespace rigshift
