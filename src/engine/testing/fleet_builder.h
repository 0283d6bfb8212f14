// Test helper: fleets, coins and market views in a compact text form, so that a test reads as
// its scenario. Header-only; used by the engine's unit and property tests and the golden runner.
//
// A fleet is segments separated by ';' or newlines. A segment is a site or a node group:
//
//   site farm cap=120kW pue=1.10 idle=10W; site dc cap=2MW datacenter
//   n1: 8xA100 nvlink=2x4 site=dc; r: 6x'RTX 3060 Ti' pcie=x1 cores=4 ram=4 nodes=10 mining=ETH
//
// site NAME [cap=W|kW|MW] [pue=1.10] [idle=W] [datacenter]
//   defaults: cap=100MW (never binds), pue=1.00, idle=0W, not a datacenter. A fleet that names no
//   site gets one called "farm" with those defaults.
// NAME: <gpus per node>x<model> [key=value ...]    (a model with spaces is quoted: 'RTX 3060 Ti')
//   nodes=N     identical nodes (1)            site=NAME   the site (the first one)
//   pcie=xN     PCIe lanes per GPU (x16)       gen=N       PCIe generation (3)
//   nvlink=N    GPUs per NVLink domain, also written AxN ("2x4" = two domains of 4) (none)
//   cores=N     CPU cores per node (2 per GPU) ram=N      host RAM per node in GB (max(8, VRAM) per GPU)
//   mining=COIN the coin the group mines now   since=S     when it started, seconds (0)
//   curtailed=N idle GPUs held off (0)         reserved=N  GPUs kept for rental (-1 = none)
//   power=W     AI draw per GPU (board power)  fabric=NAME the network for multi-node gangs (none)
// The defaults give a host good enough for training, so a test only names what it is about.
//
// Coins: "ETH:Ethash:2000:7.2e15:2" is coin:algorithm:price in USD:hashes per block:block reward,
// several separated by ','. Prices: money and rent in USD ("2.50"), electricity in USD/MWh.
//
// Parse errors throw std::invalid_argument with the segment at fault (GoogleTest reports it).
#pragma once

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/units.h"
#include "engine/fleet_state.h"
#include "engine/suitability.h"
#include "model/catalog.h"
#include "model/market_view.h"
#include "model/model_name.h"

namespace rigshift::testing {

// ---- the test catalog ---------------------------------------------------------------------------

// A few models with round, plausible numbers (not the imported data: tests must not move when the
// data does). Hashrates in MH/s, power in W:
//   A100        datacenter  40 GB  400 W  Ethash 170 @ 250
//   H100        datacenter  80 GB  700 W  (no mining rate)
//   RTX A4000   workstation 16 GB  140 W  Ethash 60 @ 110
//   RTX 3090    consumer    24 GB  350 W  Ethash 120 @ 290, KawPow 55 @ 320
//   RTX 3060 Ti consumer     8 GB  200 W  Ethash 60 @ 120, KawPow 30 @ 170, Autolykos2 120 (board power)
//   RX 580      consumer     8 GB  185 W  Ethash 30 @ 135
//   CMP 170HX   mining       8 GB  250 W  Ethash 164 @ 250
//   Antminer S19 asic              3250 W SHA-256 95 TH/s @ 3250
inline const Catalog& TestCatalog() {
  static const Catalog* catalog = [] {
    auto* c = new Catalog;
    auto model = [&](std::string name, DeviceClass cls, int vram, int board,
                     std::vector<std::tuple<std::string, int, int>> rates) {
      DeviceModel m;
      m.key = ModelKey(name);
      m.name = name;
      m.vendor = VendorOf(m.key);
      m.device_class = cls;
      m.vram_gb = vram;
      m.board_power = Watts(board);
      m.spec_source = "test";
      for (auto& [algo, mhs, watts] : rates) {
        AlgorithmRate r;
        r.algorithm = algo;
        r.hashrate = HashRate::MegaHps(mhs);
        if (watts > 0) r.power = Watts(watts);
        r.samples = 1;
        r.sources = "test";
        m.rates.push_back(r);
      }
      std::sort(m.rates.begin(), m.rates.end(),
                [](const AlgorithmRate& a, const AlgorithmRate& b) { return a.algorithm < b.algorithm; });
      c->Put(std::move(m));
    };
    model("A100", DeviceClass::kDatacenter, 40, 400, {{"Ethash", 170, 250}});
    model("H100", DeviceClass::kDatacenter, 80, 700, {});
    model("RTX A4000", DeviceClass::kWorkstation, 16, 140, {{"Ethash", 60, 110}});
    model("RTX 3090", DeviceClass::kConsumer, 24, 350, {{"Ethash", 120, 290}, {"KawPow", 55, 320}});
    model("RTX 3060 Ti", DeviceClass::kConsumer, 8, 200,
          {{"Ethash", 60, 120}, {"KawPow", 30, 170}, {"Autolykos2", 120, 0}});
    model("RX 580", DeviceClass::kConsumer, 8, 185, {{"Ethash", 30, 135}});
    model("CMP 170HX", DeviceClass::kMining, 8, 250, {{"Ethash", 164, 250}});
    model("Antminer S19", DeviceClass::kAsic, 0, 3250, {{"SHA-256", 95'000'000, 3250}});
    return c;
  }();
  return *catalog;
}

// ---- words and numbers --------------------------------------------------------------------------

[[noreturn]] inline void Fail(const std::string& what) { throw std::invalid_argument(what); }

// Splits at whitespace; quotes (' or ") group spaces and are dropped: 6x'RTX 3060 Ti' -> 6xRTX 3060 Ti.
inline std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char ch : text) {
    if (quote) {
      if (ch == quote) {
        quote = 0;
      } else {
        cur += ch;
      }
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(ch))) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += ch;
      in_word = true;
    }
  }
  if (quote) Fail("unclosed quote in '" + std::string(text) + "'");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

// Splits at any of `seps` outside quotes; keeps quotes; drops empty (all-space) pieces.
inline std::vector<std::string> SplitOutsideQuotes(std::string_view text, std::string_view seps) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  auto flush = [&] {
    if (cur.find_first_not_of(" \t\r") != std::string::npos) out.push_back(cur);
    cur.clear();
  };
  for (char ch : text) {
    if (quote) {
      if (ch == quote) quote = 0;
      cur += ch;
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
      cur += ch;
    } else if (seps.find(ch) != std::string_view::npos) {
      flush();
    } else {
      cur += ch;
    }
  }
  flush();
  return out;
}

inline int64_t Scaled(std::string_view text, int scale, std::string_view what) {
  auto v = ParseScaled(text, scale);
  if (!v) Fail(std::string(what) + ": " + v.error().message());
  return *v;
}

inline int Int(std::string_view text, std::string_view what) {
  return static_cast<int>(Scaled(text, 0, what));
}

// "120kW", "1.5MW", "900W", "900" -> watts.
inline Watts Power(std::string_view text) {
  std::string t(text);
  int scale = 0;
  auto ends = [&](std::string_view suffix) {
    if (t.size() < suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(t[t.size() - suffix.size() + i])) != suffix[i]) {
        return false;
      }
    }
    return true;
  };
  if (ends("mw")) {
    scale = 6, t.resize(t.size() - 2);
  } else if (ends("kw")) {
    scale = 3, t.resize(t.size() - 2);
  } else if (ends("w")) {
    t.resize(t.size() - 1);
  }
  return Watts(Scaled(t, scale, "power '" + std::string(text) + "'"));
}

inline Money UsdAmount(std::string_view usd) { return Money(Scaled(usd, 6, "USD amount")); }
inline RentalPrice UsdPerGpuHour(std::string_view usd) {
  return RentalPrice(Scaled(usd, 6, "USD per GPU-hour"));
}
inline EnergyPrice UsdPerMwh(std::string_view usd) { return EnergyPrice(Scaled(usd, 6, "USD per MWh")); }

// "RTX 3060 Ti" -> its catalog entry.
inline const DeviceModel* Model(std::string_view name, const Catalog& catalog = TestCatalog()) {
  const DeviceModel* m = catalog.Find(name);
  if (!m) Fail("no model '" + std::string(name) + "' in the test catalog");
  return m;
}

// ---- fleets -------------------------------------------------------------------------------------

inline FleetState ParseFleet(std::string_view text, const Catalog& catalog = TestCatalog()) {
  FleetState fleet;
  std::vector<std::string> segments = SplitOutsideQuotes(text, ";\n");
  auto default_site = [&] {
    if (fleet.sites().empty()) {
      SiteState s;
      s.name = "farm";
      s.power_cap = Watts(100'000'000);
      fleet.AddSite(s);
    }
  };
  for (const std::string& segment : segments) {
    std::vector<std::string> words = SplitWords(segment);
    if (words.empty()) continue;
    auto context = [&](const std::string& what) { return "fleet segment '" + segment + "': " + what; };
    auto split_kv = [&](const std::string& w) -> std::pair<std::string, std::string> {
      size_t eq = w.find('=');
      if (eq == std::string::npos) return {w, ""};
      return {w.substr(0, eq), w.substr(eq + 1)};
    };
    if (words[0] == "site") {
      if (words.size() < 2) Fail(context("a site needs a name"));
      SiteState s;
      s.name = words[1];
      s.power_cap = Watts(100'000'000);
      for (size_t i = 2; i < words.size(); ++i) {
        auto [k, v] = split_kv(words[i]);
        if (k == "cap") {
          s.power_cap = Power(v);
        } else if (k == "pue") {
          s.pue_milli = static_cast<int>(Scaled(v, 3, context("pue")));
        } else if (k == "idle") {
          s.idle_power_per_gpu = Power(v);
        } else if (k == "datacenter" && v.empty()) {
          s.datacenter = true;
        } else {
          Fail(context("unknown site key '" + words[i] + "'"));
        }
      }
      for (const auto& existing : fleet.sites()) {
        if (existing.name == s.name) Fail(context("site named twice"));
      }
      fleet.AddSite(std::move(s));
      continue;
    }
    // NAME: <n>x<model> ...
    if (words[0].empty() || words[0].back() != ':' || words.size() < 2) {
      Fail(context("expected 'site NAME ...' or 'NAME: <gpus>x<model> ...'"));
    }
    default_site();
    GroupState g;
    g.name = words[0].substr(0, words[0].size() - 1);
    for (const auto& existing : fleet.groups()) {
      if (existing.name == g.name) Fail(context("group named twice"));
    }
    const std::string& shape = words[1];
    size_t x = shape.find('x');
    if (x == std::string::npos || x == 0) Fail(context("expected <gpus>x<model>, got '" + shape + "'"));
    g.gpus_per_node = Int(shape.substr(0, x), context("gpus per node"));
    if (g.gpus_per_node < 1 || g.gpus_per_node > 64) Fail(context("gpus per node must be 1..64"));
    g.model = Model(shape.substr(x + 1), catalog);
    int nodes = 1;
    int cores = -1, ram = -1;
    std::string fabric;
    g.ai_power = g.model->board_power.value_or(Watts());
    for (size_t i = 2; i < words.size(); ++i) {
      auto [k, v] = split_kv(words[i]);
      if (v.empty()) Fail(context("expected key=value, got '" + words[i] + "'"));
      if (k == "nodes") {
        nodes = Int(v, context("nodes"));
      } else if (k == "pcie") {
        g.pcie_lanes = Int(v[0] == 'x' ? v.substr(1) : v, context("pcie"));
      } else if (k == "gen") {
        g.pcie_gen = Int(v, context("gen"));
      } else if (k == "nvlink") {
        size_t ax = v.find('x');
        g.nvlink_domain = Int(ax == std::string::npos ? v : v.substr(ax + 1), context("nvlink"));
        if (g.nvlink_domain < 1 || g.nvlink_domain > g.gpus_per_node) {
          Fail(context("nvlink domain must be 1..gpus per node"));
        }
      } else if (k == "cores") {
        cores = Int(v, context("cores"));
      } else if (k == "ram") {
        ram = Int(v, context("ram"));
      } else if (k == "site") {
        int found = -1;
        for (size_t s = 0; s < fleet.sites().size(); ++s) {
          if (fleet.sites()[s].name == v) found = static_cast<int>(s);
        }
        if (found < 0) Fail(context("unknown site '" + v + "' (declare it before the group)"));
        g.site = found;
      } else if (k == "mining") {
        g.mining_coin = v;
      } else if (k == "since") {
        g.mining_since = Timestamp{Scaled(v, 0, context("since"))};
      } else if (k == "curtailed") {
        g.curtailed = Int(v, context("curtailed"));
      } else if (k == "reserved") {
        g.ai_reserved = Int(v, context("reserved"));
      } else if (k == "power") {
        g.ai_power = Power(v);
      } else if (k == "fabric") {
        fabric = v;
      } else {
        Fail(context("unknown group key '" + k + "'"));
      }
    }
    const int vram = g.model->vram_gb.value_or(0);
    g.cpu_cores = cores >= 0 ? cores : 2 * g.gpus_per_node;
    g.ram_gb = ram >= 0 ? ram : std::max(8, vram) * g.gpus_per_node;
    g.suitability = Classify(*g.model, HostSpec{g.pcie_lanes, g.gpus_per_node, g.cpu_cores, g.ram_gb, g.pcie_gen, fabric},
                             fleet.sites()[g.site].datacenter);
    fleet.AddGroup(std::move(g), nodes);
  }
  default_site();
  return fleet;
}

inline int GroupIndex(const FleetState& fleet, std::string_view name) {
  for (size_t g = 0; g < fleet.groups().size(); ++g) {
    if (fleet.groups()[g].name == name) return static_cast<int>(g);
  }
  Fail("no group '" + std::string(name) + "' in the fleet");
}

inline int SiteIndex(const FleetState& fleet, std::string_view name) {
  for (size_t s = 0; s < fleet.sites().size(); ++s) {
    if (fleet.sites()[s].name == name) return static_cast<int>(s);
  }
  Fail("no site '" + std::string(name) + "' in the fleet");
}

// Devices `from`..`to` (inclusive) of one node, as (node, slot) pairs.
inline std::vector<std::pair<int, int>> Slots(int node, int from, int to) {
  std::vector<std::pair<int, int>> out;
  for (int s = from; s <= to; ++s) out.push_back({node, s});
  return out;
}

// A lease as the controller would record it, for tests that start from a busy fleet.
inline LeaseState Lease(int64_t id, int group, std::vector<std::pair<int, int>> devices,
                        RequestKind kind = RequestKind::kOnDemand, std::string_view usd_per_gpu_hour = "1") {
  LeaseState l;
  l.id = LeaseId(id);
  l.request = RequestId(1000 + id);
  l.tenant = "t" + std::to_string(id);
  l.kind = kind;
  l.price = UsdPerGpuHour(usd_per_gpu_hour);
  l.devices = std::move(devices);
  l.group = group;
  return l;
}

// ---- coins and market views ---------------------------------------------------------------------

inline CoinQuote Coin(std::string_view coin, std::string_view algorithm, std::string_view price_usd,
                      std::string_view hashes_per_block, std::string_view reward) {
  CoinQuote q;
  q.coin = std::string(coin);
  q.algorithm = std::string(algorithm);
  q.price = CoinPrice(Scaled(price_usd, 9, "coin price"));
  auto hpb = ParseScaled128(hashes_per_block, 0);
  if (!hpb) Fail("hashes per block: " + hpb.error().message());
  q.hashes_per_block = HashRate(*hpb);
  q.block_reward = CoinAmount(Scaled(reward, 9, "block reward"));
  return q;
}

// "ETH:Ethash:2000:7.2e15:2,RVN:KawPow:0.03:1e11:2500".
inline std::vector<CoinQuote> ParseCoins(std::string_view text) {
  std::vector<CoinQuote> out;
  for (const std::string& one : SplitOutsideQuotes(text, ", ")) {
    std::vector<std::string> f = SplitOutsideQuotes(one, ":");
    if (f.size() != 5) Fail("coin '" + one + "': expected coin:algorithm:price:hashes_per_block:reward");
    out.push_back(Coin(f[0], f[1], f[2], f[3], f[4]));
  }
  return out;
}

// A view with these coins, one electricity price for every site and one list price for every
// group (tests change single entries after).
inline MarketView Market(const FleetState& fleet, std::string_view coins,
                         std::string_view energy_usd_per_mwh = "50",
                         std::string_view rent_usd_per_gpu_hour = "0", Timestamp at = {}) {
  MarketView v;
  v.at = at;
  v.coins = ParseCoins(coins);
  v.site_price.assign(fleet.sites().size(), UsdPerMwh(energy_usd_per_mwh));
  v.list_price.assign(fleet.groups().size(), UsdPerGpuHour(rent_usd_per_gpu_hour));
  return v;
}

// ---- power, computed from the fleet (independently of the engine's plan arithmetic) ------------

// Board watts times PUE, rounded half away from zero.
inline Watts AtWall(Watts board, int pue_milli) {
  return Watts(MulDiv(board.raw(), pue_milli, 1000).value());
}

// Watts one GPU of group g draws at the wall while mining `coin` (0 if the model has no rate).
inline Watts MiningDrawPerGpu(const FleetState& fleet, int g, const MarketView& view, std::string_view coin) {
  const GroupState& gs = fleet.groups()[g];
  for (const CoinQuote& q : view.coins) {
    if (q.coin != coin) continue;
    const AlgorithmRate* r = gs.model->Rate(q.algorithm);
    if (!r && q.algorithm == "Etchash") r = gs.model->Rate("Ethash");
    if (!r) return Watts();
    Watts board = r->power.value_or(gs.model->board_power.value_or(Watts()));
    return AtWall(board, fleet.sites()[gs.site].pue_milli);
  }
  return Watts();
}

// The site's facility draw: leased GPUs at AI power, mining GPUs at the coin's power, the rest
// idle, each times PUE.
inline Watts FleetDraw(const FleetState& fleet, const MarketView& view, int site) {
  int64_t w = 0;
  const SiteState& s = fleet.sites()[site];
  const int64_t idle = AtWall(s.idle_power_per_gpu, s.pue_milli).raw();
  for (size_t g = 0; g < fleet.groups().size(); ++g) {
    const GroupState& gs = fleet.groups()[g];
    if (gs.site != site) continue;
    const int64_t mining = fleet.mining_devices(static_cast<int>(g));
    w += gs.leased * AtWall(gs.ai_power, s.pue_milli).raw();
    w += mining * MiningDrawPerGpu(fleet, static_cast<int>(g), view, gs.mining_coin).raw();
    w += (gs.devices - gs.leased - mining) * idle;
  }
  return Watts(w);
}

}  // namespace rigshift::testing
