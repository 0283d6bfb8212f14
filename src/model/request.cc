#include "model/request.h"

namespace rigshift {

std::string_view RequestKindName(RequestKind k) {
  switch (k) {
    case RequestKind::kOnDemand: return "on_demand";
    case RequestKind::kInterruptible: return "interruptible";
    case RequestKind::kReserved: return "reserved";
  }
  return "on_demand";
}

std::string_view InterconnectName(Interconnect i) {
  switch (i) {
    case Interconnect::kAny: return "any";
    case Interconnect::kNode: return "node";
    case Interconnect::kNvlink: return "nvlink";
    case Interconnect::kFabric: return "fabric";
  }
  return "any";
}

bool ParseRequestKind(std::string_view s, RequestKind* out) {
  for (auto k : {RequestKind::kOnDemand, RequestKind::kInterruptible, RequestKind::kReserved}) {
    if (s == RequestKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

bool ParseInterconnect(std::string_view s, Interconnect* out) {
  for (auto i : {Interconnect::kAny, Interconnect::kNode, Interconnect::kNvlink, Interconnect::kFabric}) {
    if (s == InterconnectName(i)) {
      *out = i;
      return true;
    }
  }
  return false;
}

}  // namespace rigshift
