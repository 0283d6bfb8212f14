// The curtailment routes of the REST API (docs/api.md, "Curtailment"): an operator (or a grid
// operator's system holding an operator token) sends an emergency signal to a site, reads the
// site's events with their audit records, and ends them. Handlers of Api (server/api.h), kept
// beside the bookkeeping they show (server/curtail.h).
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/curtail.h"

namespace rigshift {
namespace {

using json = nlohmann::json;
using net::HttpResponse;

json EventsJson(const std::vector<CurtailEvent>& events) {
  json list = json::array();
  for (const CurtailEvent& e : events) list.push_back(CurtailEventJson(e));
  return list;
}

}  // namespace

HttpResponse Api::PostCurtail(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  const std::string site(call.params.Get("site"));
  json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return ErrorAnswer(InvalidArgumentError("body: not valid JSON"));
  const Timestamp now = now_();
  auto signal = ParseCurtailSignal(body, site, now);
  if (!signal) return ErrorAnswer(signal.error());
  uint64_t ticket = 0;
  bool fresh = false;
  Result<CurtailEvent> event = [&]() -> Result<CurtailEvent> {
    std::lock_guard lock(*mu_);
    if (!farm_->curtailments().SiteIndex(site)) return Err(InvalidArgumentError("site: no site named '" + site + "'"));
    auto r = farm_->Curtail(*signal, now, &fresh);
    ticket = store_->LastWrite();
    return r;
  }();
  if (!event) return ErrorAnswer(event.error());
  HttpResponse r = JsonAnswer(fresh ? 201 : 200, CurtailEventJson(*event));
  if (fresh) r.headers.emplace_back("Location", "/v1/sites/" + site + "/curtail");
  return WhenDurable(std::move(r), ticket);
}

HttpResponse Api::GetCurtail(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  const std::string site(call.params.Get("site"));
  std::lock_guard lock(*mu_);
  const Curtailments& c = farm_->curtailments();
  const std::optional<int> index = c.SiteIndex(site);
  if (!index) return ErrorAnswer(NotFoundError("site: no site named '" + site + "'"));
  json out = {{"site", site}, {"curtailment", SiteCurtailJson(c.StatusOf(*index))}, {"events", EventsJson(c.Events(site))}};
  // The draw as the agents report it now (heard within the last minute), beside the model's.
  const SiteReading r = farm_->ReportedDraw(*index, Timestamp{now_().seconds - 60});
  out["reported_draw_w"] = r.draw.raw();
  out["reporting_devices"] = r.reporting;
  out["devices"] = r.devices;
  return JsonAnswer(200, out);
}

HttpResponse Api::DeleteCurtail(const Call& call) {
  if (Status s = CheckQuery(call.request, {}); !s.ok()) return ErrorAnswer(s);
  const std::string site(call.params.Get("site"));
  uint64_t ticket = 0;
  Result<std::vector<CurtailEvent>> ended = [&] {
    std::lock_guard lock(*mu_);
    auto r = farm_->EndCurtail(site, now_());
    ticket = store_->LastWrite();
    return r;
  }();
  if (!ended) return ErrorAnswer(ended.error());
  return WhenDurable(JsonAnswer(200, {{"site", site}, {"ended", EventsJson(*ended)}}), ticket);
}

}  // namespace rigshift
