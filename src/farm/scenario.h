// A simulation scenario: the farm, how the market series map onto the simulated timeline, the
// demand, and the policy parameters. Read from a TOML file (docs/scenario.md, examples/*.toml).
//
// LoadScenario checks syntax, types, ranges and unknown keys, and names the key and line of any
// problem. It does not look at the data folder: model names, settlement points and dates are
// checked when the farm is built (farm/build.h) and the scenario resolved against the imported data
// (sim/simulator.h).
// docs/scenario.md documents every key with its unit, default and range.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/price_curtailment.h"
#include "common/status.h"
#include "common/time.h"
#include "common/units.h"

namespace rigshift {

struct SiteSpec {
  std::string name;
  Watts power_cap;                // [[site]] power_cap_kw (a number of kW, > 0)
  int pue_milli = 1000;           // pue = 1.10 -> 1100; 1.0 .. 3.0
  bool datacenter = false;        // license rules: consumer GPUs may not serve AI here
  // Electricity: an imported ERCOT settlement point, or a fixed price. Exactly one.
  std::string settlement_point;   // "HB_HUBAVG"
  std::optional<EnergyPrice> fixed_price;  // fixed_price_usd_per_kwh = 0.05
  Watts idle_power_per_gpu{0};    // draw of a powered but idle GPU (idle_w_per_gpu); 0 = powered down
  // Who runs the site's nodes for `rigshift server` (the simulator ignores it): "agents" (a
  // `rigshift agent` on every node, the default) or "slurm" (a Slurm cluster: server/slurm_fleet.h,
  // docs/operations.md "Slurm sites"), with Slurm's config file ("" = Slurm's default), its two
  // partitions and how often the bridge looks at the cluster.
  std::string backend = "agents";
  std::string slurm_conf;
  std::string slurm_ai_partition = "ai";
  std::string slurm_mining_partition = "mining";
  int slurm_poll_ms = 1000;
  // Price-triggered curtailment (docs/demand-response.md): [[site]] price_curtailment = {...}.
  std::optional<PriceCurtailmentTerms> price_curtailment;
  // ERCOT 4CP peak calling (docs/demand-response.md): [[site]] four_cp = { max_hours = 40 }.
  struct FourCp {
    int max_hours = 40;                     // hours called per summer at most
    std::optional<Money> rate_per_kw_year;  // rate_usd_per_kw_year; default: the published rate
  };
  std::optional<FourCp> four_cp;
};

struct NodeGroupSpec {
  std::string name;
  std::string site;               // a SiteSpec name (may be left out when there is one site)
  std::string model;              // a GPU model name, any spelling the catalog accepts
  int nodes = 0;                  // count of identical nodes (> 0)
  int gpus_per_node = 0;          // 1 .. 16
  int pcie_lanes = 16;            // link width per GPU: 1 (riser), 4, 8, 16
  int pcie_gen = 3;               // 1 .. 5
  int nvlink_domain = 0;          // GPUs per NVLink domain inside a node; 0 = no NVLink, else a
                                  // divisor of gpus_per_node, >= 2
  int cpu_cores = 0;              // per node (> 0)
  int ram_gb = 0;                 // per node (> 0)
  // The network that joins the group's nodes for multi-node training ("infiniband-400g"); "" =
  // none: a gang larger than one node never runs here. Riser rigs never take one.
  std::string fabric;
  // ASICs the server reaches over the LAN (server/asic_fleet.h; the simulator ignores both): one
  // "HOST:PORT" per node, node i at address i (no port: 4028), and the firmware they run
  // ("antminer", "braiins", "luxos" or "cgminer"). Only for a group of an ASIC model.
  std::vector<std::string> asic_addresses;
  std::string asic_firmware;
};

// A customer's machine the farm hosts ([[hosted]], docs/hosting.md): it draws power under its
// site's cap and is billed a fee per kW reserved per month plus its metered energy, at cost (the
// site's price x PUE) or all in. Its own revenue is the customer's.
struct HostedSpec {
  std::string name;
  std::string site;               // a SiteSpec name (may be left out when there is one site)
  std::string customer;
  Watts power;                    // power_kw: what it draws at the plug, > 0
  Watts reserved;                 // reserved_kw: the capacity billed by the month (default: power_kw)
  Money fee_per_kw_month;         // fee_usd_per_kw_month
  std::optional<EnergyPrice> all_in_price;  // all_in_usd_per_kwh; absent: energy at cost
  bool interruptible = false;     // the farm may switch it off for the cap
  EnergyPrice curtail_credit;     // curtail_credit_usd_per_kwh: credited per kWh held off
  // Its metered PDU outlet (`rigshift server` only; the simulator bills power_kw): the Redfish
  // service's base URL ("http://10.0.0.9"), the PDU's id and the outlet's id. The server bills
  // the energy that outlet counted and switches it off and on for the cap. "" = no meter: billed
  // from power_kw.
  std::string meter_url;
  std::string pdu;                // default "1" when meter_url is given
  std::string outlet;
};

// The farm's own pool for a coin ([[pool]], `rigshift server` only): where its ASICs that the
// server drives mine that coin. `user` may hold "{node}", replaced by the ASIC's node name.
struct PoolSpec {
  std::string coin;               // as the coin data names it: "BTC"
  std::string url;                // "stratum+tcp://pool.example:3333"
  std::string user;               // "farm.{node}"
  std::string password = "x";
};

// A hashrate contract the farm sold ([[contract]], docs/contracts.md): `hashrate` of `algorithm`
// mined to the customer's wallet from `start` for `days`, paid `price` up front and
// `fee_per_th_day` a day while it runs; suspended after `suspend_after_days` consecutive days on
// which the fee exceeded what the hashrate mined (0 = never), resumed when it no longer does.
struct ContractSpec {
  std::string name;
  std::string customer;
  std::string algorithm;          // as the coin data names it: "SHA-256", "KawPow", ...
  HashRate hashrate;              // hashrate_ths (TH/s) or hashrate_mhs (MH/s)
  std::optional<Date> start;      // default: the run's first day
  int days = 0;                   // the term, > 0
  Money price;                    // price_usd: paid up front at `start`
  Money fee_per_th_day;           // fee_usd_per_th_day, or fee_usd_per_mh_day x 1e6
  int suspend_after_days = 0;
};

struct MarketMapping {
  Date start;                     // first simulated day (the timeline's own calendar)
  int days = 0;                   // length of the run (> 0)
  // Each defaults to `start` (the series read at the simulated dates themselves). Simulated day
  // start + d reads coins of coin_from + d and electricity of electricity_from + d.
  Date coin_from;                 // the coin market's day that maps onto `start`
  Date electricity_from;          // the electricity series' day that maps onto `start`
  Date rental_date;               // the rental index is read at this date (held for the run)
  int interval_s = 300;           // market tick: 60 .. 86400, dividing 86400
};

struct DemandSpec {
  std::string trace = "demand_alibaba2023.csv";  // a canonical demand file in the data folder
  int64_t offset_s = 0;           // trace second that maps onto the run's start (the file may give
                                  // offset_days instead); earlier arrivals are not replayed
  int scale_milli = 1000;         // arrivals kept: 0.25 -> 250 (thinned deterministically by seed);
                                  // above 1000, each arrival is replicated floor(scale) times plus
                                  // once more with probability frac(scale) (2.5 -> 2 or 3 copies)
  bool repeat = true;             // when the run outlasts the trace, loop the window from offset_s
                                  // to the trace's end (its last arrival)
  // Trace GPU type -> farm models that may serve it ("V100M32" = ["RTX 3090", "A100"]). Requests
  // whose trace gives no type may run on any AI-suitable model (`any_models` narrows that list).
  std::map<std::string, std::vector<std::string>> model_map;
  std::vector<std::string> any_models;
  // Prices: on-demand requests pay the rental index's on-demand price of the model they run on
  // times `on_demand_markup_milli` / 1000; interruptible ones bid the interruptible index price
  // (or on-demand x `interruptible_fraction_milli` / 1000 where the index has none).
  int on_demand_markup_milli = 1000;
  int interruptible_fraction_milli = 600;
  int min_vram_gb = 0;            // applied to every request
  // Only the trace's rows of these tenants (the ITP trace's clusters: "cluster04"); empty = all.
  std::vector<std::string> tenants;
  // Each request declares a time limit of its true run time x this, rounded up to a second
  // (users over-state their limits); the engine plans with the limit, the job ends at its true
  // run time. 1.0 .. 100.0.
  int time_limit_factor_milli = 2000;
};

struct PolicySpec {
  std::string name = "profit";    // default policy for `rigshift sim`
  int64_t pool_fee_ppm = 10'000;  // pool_fee_pct = 1.0
  int64_t switch_min_gain_ppm = 50'000;  // switch_min_gain_pct = 5: a new coin must pay 5 % more
  int64_t switch_min_dwell_s = 600;      // stay at least 10 min on a coin
  int64_t miner_restart_s = 120;         // lost mining time per switch or start
  int64_t resume_margin_ppm = 20'000;    // resume mining after a price spike only at net > 2 % of revenue
  int static_split_ai_milli = 250;       // static-split: share of AI-suitable GPUs kept for rental
  int keep_whole_nodes = 1;              // profit: fully free 8-GPU/NVLink nodes kept for gangs
  // profit: which waiting requests hold reservations: "per_group" (the head of each group's
  // queue), "head" (the head of the queue, as Slurm's EASY backfill) or "none" (every arrival
  // that fits is placed at once, as before reservations)
  std::string reservations = "per_group";
  std::string idle_mining_algorithm = "Ethash";  // idle-mining: the one algorithm it mines
  // The waiting queue (every policy): a request the engine answers `waiting` waits this long, in
  // seconds from its arrival, before its tenant gives up (0 = forever).
  int64_t max_wait_on_demand_s = 3600;
  int64_t max_wait_interruptible_s = 3600;
  int64_t max_wait_reserved_s = 86400;
  int64_t max_waiting_per_tenant = 0;    // requests one tenant may have waiting (0 = no limit)
};

struct Scenario {
  std::string name;               // [scenario] name
  std::string description;
  uint64_t seed = 1;
  std::vector<SiteSpec> sites;
  std::vector<NodeGroupSpec> groups;
  std::vector<HostedSpec> hosted;
  std::vector<ContractSpec> contracts;
  std::vector<PoolSpec> pools;
  MarketMapping market;
  DemandSpec demand;
  PolicySpec policy;
};

// Parses a scenario file. Errors name the file, the line and the key:
// "farm.toml:12: [[group]] 'risers' gpus_per_node must be between 1 and 16, got 0". Every problem
// found is listed, one a line, in line order; a TOML syntax error gives line and column.
[[nodiscard]] Result<Scenario> LoadScenario(const std::filesystem::path& file);
[[nodiscard]] Result<Scenario> ParseScenario(std::string_view toml_text, const std::string& name_for_errors);

}  // namespace rigshift
