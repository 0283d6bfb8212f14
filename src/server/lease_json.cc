#include "server/lease_json.h"

#include <cstdio>

namespace rigshift {
namespace {

using json = nlohmann::json;

double ToUsd(int64_t micro) { return static_cast<double>(micro) / 1e6; }

bool Started(const LeaseRecord& l) { return l.state != "pending" && !(l.state == "cancelled" && l.devices.empty()); }

// A JSON string as nlohmann::json::dump() writes one (UTF-8 kept; control characters escaped).
void AppendString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendInt(std::string* out, int64_t v) { out->append(std::to_string(v)); }
// Doubles in nlohmann's own shortest form ("0.3", "1.0").
void AppendDouble(std::string* out, double v) { out->append(json(v).dump()); }
// `"key":`, after a comma unless it is the object's first.
void AppendKey(std::string* out, const char* key) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

}  // namespace

json LeaseJsonTree(const LeaseRecord& l, const Farm& farm) {
  json devices = json::array();
  for (const auto& [node, slot] : l.devices) {
    devices.push_back({{"node", farm.node_name(node)}, {"slot", slot}, {"model", farm.node_model(node)}});
  }
  json hours = l.duration_s > 0 ? json(static_cast<double>(l.duration_s) / 3600.0) : json(nullptr);
  return {{"id", l.id.value()},
          {"tenant", l.tenant},
          {"state", l.state},
          {"kind", RequestKindName(l.kind)},
          {"gpus", l.gpus},
          {"models", l.models},
          {"min_vram_gb", l.min_vram_gb},
          {"interconnect", InterconnectName(l.interconnect)},
          {"hours", hours},
          {"price_usd_per_gpu_h", ToUsd(l.price.raw())},
          {"price_micro_usd_per_gpu_h", l.price.raw()},
          {"devices", devices},
          {"created_at", FormatUtc(l.created)},
          {"started_at", Started(l) ? json(FormatUtc(l.start)) : json(nullptr)},
          {"ended_at", l.end ? json(FormatUtc(*l.end)) : json(nullptr)},
          {"billed_seconds", l.billed_seconds},
          {"billed_micro_usd", l.billed.raw()},
          {"billed_usd", ToUsd(l.billed.raw())},
          {"reason", l.reason},
          {"workload", l.workload.empty() ? json(nullptr) : json::parse(l.workload)}};
}

void AppendLeaseJson(std::string* out, const LeaseRecord& l, const Farm& farm) {
  // The tree's keys come out sorted (nlohmann::json keeps objects in a std::map): so do these.
  out->push_back('{');
  AppendKey(out, "billed_micro_usd");
  AppendInt(out, l.billed.raw());
  AppendKey(out, "billed_seconds");
  AppendInt(out, l.billed_seconds);
  AppendKey(out, "billed_usd");
  AppendDouble(out, ToUsd(l.billed.raw()));
  AppendKey(out, "created_at");
  AppendString(out, FormatUtc(l.created));
  AppendKey(out, "devices");
  out->push_back('[');
  for (size_t i = 0; i < l.devices.size(); ++i) {
    const auto& [node, slot] = l.devices[i];
    if (i > 0) out->push_back(',');
    out->append("{\"model\":");
    AppendString(out, farm.node_model(node));
    out->append(",\"node\":");
    AppendString(out, farm.node_name(node));
    out->append(",\"slot\":");
    AppendInt(out, slot);
    out->push_back('}');
  }
  out->push_back(']');
  AppendKey(out, "ended_at");
  if (l.end) {
    AppendString(out, FormatUtc(*l.end));
  } else {
    out->append("null");
  }
  AppendKey(out, "gpus");
  AppendInt(out, l.gpus);
  AppendKey(out, "hours");
  if (l.duration_s > 0) {
    AppendDouble(out, static_cast<double>(l.duration_s) / 3600.0);
  } else {
    out->append("null");
  }
  AppendKey(out, "id");
  AppendInt(out, l.id.value());
  AppendKey(out, "interconnect");
  AppendString(out, InterconnectName(l.interconnect));
  AppendKey(out, "kind");
  AppendString(out, RequestKindName(l.kind));
  AppendKey(out, "min_vram_gb");
  AppendInt(out, l.min_vram_gb);
  AppendKey(out, "models");
  out->push_back('[');
  for (size_t i = 0; i < l.models.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendString(out, l.models[i]);
  }
  out->push_back(']');
  AppendKey(out, "price_micro_usd_per_gpu_h");
  AppendInt(out, l.price.raw());
  AppendKey(out, "price_usd_per_gpu_h");
  AppendDouble(out, ToUsd(l.price.raw()));
  AppendKey(out, "reason");
  AppendString(out, l.reason);
  AppendKey(out, "started_at");
  if (Started(l)) {
    AppendString(out, FormatUtc(l.start));
  } else {
    out->append("null");
  }
  AppendKey(out, "state");
  AppendString(out, l.state);
  AppendKey(out, "tenant");
  AppendString(out, l.tenant);
  AppendKey(out, "workload");
  // The farm writes it as nlohmann's dump of an object: the same bytes the tree would give.
  out->append(l.workload.empty() ? std::string_view("null") : std::string_view(l.workload));
  out->push_back('}');
}

}  // namespace rigshift
