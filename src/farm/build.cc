#include "farm/build.h"

#include <algorithm>
#include <map>

#include "controller/pricing.h"
#include "engine/suitability.h"
#include "market/catalog_import.h"

namespace rigshift {
namespace {

RentalPrice Scale(RentalPrice p, int64_t milli) { return RentalPrice(MulDiv(p.raw(), milli, 1000).value_or(0)); }

}  // namespace

Result<FarmFleet> BuildFarm(const Scenario& sc, const Catalog& catalog, const std::optional<RentalIndex>& rental) {
  if (sc.sites.empty() || sc.groups.empty()) return Err(InvalidArgumentError("the scenario has no site or no group"));
  FarmFleet out;
  std::map<std::string, int> site_index;
  for (const auto& s : sc.sites) {
    SiteState st;
    st.name = s.name;
    st.power_cap = s.power_cap;
    st.pue_milli = s.pue_milli;
    st.datacenter = s.datacenter;
    st.idle_power_per_gpu = s.idle_power_per_gpu;
    site_index[s.name] = out.fleet.AddSite(st);
  }
  for (const auto& g : sc.groups) {
    auto site = site_index.find(g.site);
    if (site == site_index.end()) return Err(InvalidArgumentError("group '" + g.name + "' names unknown site '" + g.site + "'"));
    auto model = catalog.Lookup(g.model);
    if (!model) return Err(model.error().WithContext("group '" + g.name + "'"));
    const DeviceModel* m = *model;
    NodeGroupSpec spec = g;
    if (!g.asic_addresses.empty() && m->device_class != DeviceClass::kAsic) {
      return Err(InvalidArgumentError("group '" + g.name + "': asic_addresses is for ASIC miners the server reaches "
                                      "over the LAN, and " + m->name + " is not one (GPU nodes run rigshift agent)"));
    }
    if (m->device_class == DeviceClass::kAsic) {
      if (spec.gpus_per_node > 1) {
        return Err(InvalidArgumentError("group '" + g.name + "': " + m->name +
                                        " is an ASIC miner: each is a node of one device (leave gpus_per_node out)"));
      }
      if (spec.nvlink_domain != 0 || !spec.fabric.empty()) {
        return Err(InvalidArgumentError("group '" + g.name + "': " + m->name +
                                        " is an ASIC miner: nvlink_domain and fabric are for GPU hosts"));
      }
      spec.gpus_per_node = 1;
      spec.cpu_cores = std::max(spec.cpu_cores, 1);
      spec.ram_gb = std::max(spec.ram_gb, 1);
    } else {
      std::string missing;
      for (auto [key, v] : {std::pair{"gpus_per_node", spec.gpus_per_node}, std::pair{"cpu_cores", spec.cpu_cores},
                            std::pair{"ram_gb", spec.ram_gb}}) {
        if (v <= 0) missing += std::string(missing.empty() ? "" : ", ") + key;
      }
      if (!missing.empty()) {
        return Err(InvalidArgumentError("group '" + g.name + "': " + missing + " required for a group of GPUs (" +
                                        m->name + ")"));
      }
    }
    GroupState gs;
    gs.name = g.name;
    gs.site = site->second;
    gs.model = m;
    gs.gpus_per_node = spec.gpus_per_node;
    gs.pcie_lanes = spec.pcie_lanes;
    gs.pcie_gen = spec.pcie_gen;
    gs.nvlink_domain = spec.nvlink_domain;
    gs.cpu_cores = spec.cpu_cores;
    gs.ram_gb = spec.ram_gb;
    gs.suitability = Classify(
        *m, HostSpec{spec.pcie_lanes, spec.gpus_per_node, spec.cpu_cores, spec.ram_gb, spec.pcie_gen, spec.fabric},
        sc.sites[site->second].datacenter);
    if (!m->board_power) {
      return Err(FailedPreconditionError("group '" + g.name + "': the catalog has no board power for " + m->name));
    }
    gs.ai_power = *m->board_power;
    out.fleet.AddGroup(std::move(gs), g.nodes);
    RentalPrice od, intr;
    if (rental) {
      if (auto q = rental->At(m->key, RentalKind::kOnDemand, sc.market.rental_date)) od = q->price;
      if (auto q = rental->At(m->key, RentalKind::kInterruptible, sc.market.rental_date)) intr = q->price;
    }
    od = Scale(od, sc.demand.on_demand_markup_milli);
    if (intr.raw() <= 0) intr = Scale(od, sc.demand.interruptible_fraction_milli);
    if (od.raw() <= 0) out.unpriced.push_back(m->name);
    out.list_price.push_back(od);
    out.interruptible_price.push_back(intr);
  }
  for (const HostedSpec& h : sc.hosted) {
    auto site = site_index.find(h.site);
    if (site == site_index.end()) {
      return Err(InvalidArgumentError("hosted '" + h.name + "' names unknown site '" + h.site + "'"));
    }
    HostedState hs;
    hs.name = h.name;
    hs.site = site->second;
    hs.power = h.power;
    hs.interruptible = h.interruptible;
    hs.all_in_price = h.all_in_price;
    hs.curtail_credit = h.curtail_credit;
    out.fleet.AddHosted(std::move(hs));
  }
  // A floor at or above on-demand makes every bid pointless: fixed here, for every shell.
  out.price_fixes =
      FixPriceTable(out.fleet, out.list_price, out.interruptible_price, sc.demand.interruptible_fraction_milli);
  return out;
}

Result<LoadedFarm> LoadFarm(const Scenario& sc, const std::filesystem::path& data_dir) {
  LoadedFarm out;
  out.scenario = sc;
  RS_ASSIGN_OR_RETURN(out.catalog, LoadCatalog(data_dir));
  std::optional<RentalIndex> rental;
  if (auto r = RentalIndex::Load(data_dir)) rental = std::move(*r);
  RS_ASSIGN_OR_RETURN(out.farm, BuildFarm(out.scenario, out.catalog, rental));
  return out;
}

}  // namespace rigshift
