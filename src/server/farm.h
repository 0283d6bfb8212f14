// Farm: the server's controller shell. It holds the Controller (and through it the engine), the
// Store, the market feed and the agents' state, and turns API calls and the passing of time into
// engine events, ledger lines and desired states for the agents.
//
// Every decision follows DESIGN.md section 3, in one place (Farm::Execute): the controller
// proposes a plan for the event; everything the plan implies (new leases, leases started from the
// queue, preempted and ended leases with their final ledger lines) is written to the store in one
// transaction; only then is the plan committed to the controller and to the farm's own maps, and
// the agents' desired states move; then the caller is answered. A transaction the store refuses
// changes nothing, so the caller gets the error and the farm goes on. After a kill -9 the store
// holds every acknowledged lease and ledger line, never half a decision; Recover() rebuilds the
// rest from it.
//
// Time comes in as an argument (`now`, seconds since the epoch) to every call that acts; the
// farm reads no clock itself (only its observer's timings of engine calls do).
// Not thread-safe: the API layer serializes every call with one mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "controller/controller.h"
#include "controller/desired_state.h"
#include "controller/lease_desk.h"
#include "market/feed.h"
#include "model/catalog.h"
#include "server/agent_registry.h"
#include "server/contract_sales.h"
#include "server/curtail.h"
#include "server/history.h"
#include "server/hosting.h"
#include "server/ledger_views.h"
#include "server/api_parse.h"
#include "server/lease_book.h"
#include "store/store.h"

namespace rigshift {

// The farm the server runs: the fleet (no leases), its catalog and prices, the engine settings.
struct FarmSetup {
  std::shared_ptr<const Catalog> catalog;  // the fleet's groups point into it
  FleetState fleet;
  std::vector<RentalPrice> list_price;           // per group, on-demand, 0 = not rented
  std::vector<RentalPrice> interruptible_price;  // per group, the floor of a bid
  EngineParams params;
  std::vector<std::string> settlement_points;    // per site, "" for a fixed tariff
  uint64_t seed = 1;
  // A floor at or above the on-demand price is set to this share of it (controller/pricing.h).
  int64_t interruptible_fraction_milli = 600;
  // How long each kind of request waits before its tenant gives up: the farm file's [policy], as
  // in the simulator (the server's own limits on how many may wait are FarmOptions').
  QueueOptions queue;
  // Per hosted machine of `fleet`, its fee and meter (server/hosting.h); missing: none.
  std::vector<HostedTerms> hosted_terms;
  // Per site, its price trigger (the farm file's price_curtailment; server/curtail.h); missing: none.
  std::vector<std::optional<PriceCurtailmentTerms>> price_curtailment;
};

struct FarmOptions {
  int64_t agent_timeout_s = 30;        // a node silent this long loses its leases
  int64_t billing_interval_s = 10;     // running leases are billed at least this often
  int64_t accounting_interval_s = 60;  // mining revenue and energy cost per device
  int64_t tick_interval_s = 5;         // market re-plan
  size_t max_pending = 100'000;        // waiting requests in all, beyond which new ones get 429
  // Waiting requests one tenant may have for one set of models (429 beyond it): one tenant cannot
  // fill the queue for everyone, nor for its own requests of other models. A request that can be
  // placed now is never refused for a full queue.
  size_t max_pending_per_tenant = 1'000;
  // Nodes must have a registered, heartbeating agent to take leases. Off: every declared node is
  // taken as up (a farm driven without agents, e.g. a dry run).
  bool require_agents = true;
  // Tenants whose leases may run a plain command (a workload with no image) on the node, which
  // the agent sandboxes with bubblewrap but does not contain as Podman does. "*": every tenant.
  std::set<std::string> trusted_tenants;
  // The most processes one lease's workload may run (Podman's --pids-limit).
  int workload_pids = 4096;
};

// Something the operator must see: GET /v1/alerts, /metrics and the server's log.
struct Alert {
  int64_t id = 0;
  Timestamp at;
  // "node_lost", "node_quarantined", "gpu_drained", "divergence", "mining_on_lease"
  std::string kind;
  std::string node;
  int slot = -1;  // -1: the whole node
  std::string message;
  bool acknowledged = false;
};

// Receives what the farm observes, for /metrics (server/metrics.h implements it).
class FarmObserver {
 public:
  virtual ~FarmObserver() = default;
  virtual void EngineDecision(std::string_view kind, double seconds) = 0;  // "submit", "tick", "end"
  virtual void Income(std::string_view use, Money amount) = 0;             // "ai", "mining"
  virtual void EnergyCost(Money amount) = 0;
  // Nodes whose agents went silent, taken down, and how many running leases ended as lost with
  // them (the server logs it: an operator must see a node lost).
  virtual void NodesLost(const std::vector<std::string>& /*nodes*/, size_t /*leases*/) {}
  // An alert was raised (the server logs it; /metrics counts them by kind).
  virtual void Raised(const Alert& /*alert*/) {}
  // The operator set a group's prices (the server logs it, for the audit).
  virtual void PricesSet(const GroupPriceRecord& /*price*/) {}
};

struct OfferPrice {
  RequestKind kind;
  RentalPrice price;
  friend bool operator==(const OfferPrice&, const OfferPrice&) = default;
};
struct Offer {
  std::string group, site, model;
  int vram_gb = 0, gpus_per_node = 0, nvlink_domain_gpus = 0;
  std::string interconnect;  // best gang shape: "nvlink", "node", "any"
  std::string tier;
  int nodes = 0;
  int64_t gpus_total = 0, gpus_free = 0;
  std::vector<OfferPrice> prices;
  friend bool operator==(const Offer&, const Offer&) = default;
};

// The offers as the farm stood after its last change: immutable once published, so readers take
// it without the farm's lock (Farm::offer_sheet).
struct OfferSheet {
  uint64_t version = 0;  // grows with every sheet that differs from the one before
  std::vector<Offer> offers;
};

struct DeviceDesired {
  int slot = 0;
  std::string use;     // "lease", "mining", "idle", "off", "contract"
  int64_t lease = 0;   // the API id, when use is "lease"
  std::string coin;    // when use is "mining"
  // When use is "contract": the hashrate contract it mines for, its algorithm, and where the
  // customer's hashrate goes (docs/contracts.md).
  int64_t contract = 0;
  std::string algorithm, pool, payout_address;
};

// One lease's part of a node, as the node's agent must run it.
struct LeaseDesired {
  int64_t id = 0;                    // the API id
  std::vector<int> slots;
  std::string workload;              // LeaseRecord::workload ("" = none)
  std::optional<Timestamp> ends_at;  // when it has a duration
  // The lease's share of the node (its GPUs over the node's): cores in thousandths, and RAM.
  int64_t cpus_milli = 0;
  int64_t memory_mib = 0;
  int pids = 0;
};

struct NodeView {
  int index = 0;
  std::string name, group, site, model;
  int gpus = 0;
  AgentState agent = AgentState::kUnregistered;
  std::optional<Timestamp> last_heartbeat;
  int64_t generation = 0;           // desired
  int64_t observed_generation = -1; // what the agent said it converged to
  std::vector<DeviceDesired> devices;
  std::vector<LeaseDesired> leases;  // in id order
  std::string quarantine;            // why its self-test failed, "" = not quarantined
  std::string closed;                // why it takes no lease (mining only), "" = open
  int divergent = 0;                 // devices whose report differs from what was asked
};

struct FarmCounts {
  std::map<std::string, int64_t> devices_by_use;  // lease, mining, idle, curtailed, offline
  std::map<std::string, int64_t> leases_by_state;
  int64_t divergent_devices = 0;                // Farm::divergent_devices
  std::map<std::string, int64_t> divergences;  // Farm::divergences
  struct Hosted {
    std::string name;
    bool off = false;            // held off for the cap
    int64_t draw_w = 0;          // at the plug: its outlet's last reading, else its nameplate while on
    bool meter_ok = true;        // false while its meter has a problem (docs/hosting.md)
  };
  std::vector<Hosted> hosted;
  // Per site, its curtailment (server/curtail.h): the limit in force (-1: none), the price
  // trigger's phase, emergency events active.
  struct SiteCurtail {
    std::string site;
    int64_t limit_w = -1;
    std::string phase;
    int64_t active_events = 0;
  };
  std::vector<SiteCurtail> sites;
};

class Farm {
 public:
  // `store` and `feed` outlive the farm. Call Recover() before anything else.
  Farm(FarmSetup setup, Store* store, MarketFeed* feed, FarmOptions options, FarmObserver* observer = nullptr);
  ~Farm();

  // Loads leases from the store: running ones take their devices back, pending ones queue again.
  [[nodiscard]] Status Recover(Timestamp now);
  // Drops the leases, the queue and the controller's state and reads them again from the store,
  // keeping the agents as they are: after a write the store refused when the farm had already
  // moved on (a group commit that failed; the disk filled), so that the farm says again exactly
  // what the store holds. Holds the farm's lock like every other call.
  [[nodiscard]] Status Reload(Timestamp now);

  // Tenants. `tenant` is the caller's tenant name.
  [[nodiscard]] Result<std::vector<Offer>> Offers(Timestamp now);
  // The offers as of the last change. Thread-safe, lock-free for the caller: a new sheet is
  // published (under the farm's lock) whenever a decision changes what is free.
  std::shared_ptr<const OfferSheet> offer_sheet() const { return offer_sheet_.load(); }
  // 201: the lease (running or pending). FailedPrecondition (422) when this farm can never
  // satisfy it, ResourceExhausted (429) when too many wait.
  [[nodiscard]] Result<LeaseRecord> CreateLease(const std::string& tenant, const LeaseAsk& ask, Timestamp now);
  // A lease by API id; `tenant` set: only that tenant's (NotFound otherwise, as for no lease).
  [[nodiscard]] Result<LeaseRecord> GetLease(int64_t id, const std::optional<std::string>& tenant) const;
  [[nodiscard]] std::vector<LeaseRecord> ListLeases(const std::optional<std::string>& tenant,
                                                    const std::optional<std::string>& state) const;
  // Cancels every waiting request of `tenant` (every tenant's when nullopt) in one write; returns
  // them as they are now (cancelled), in id order.
  [[nodiscard]] Result<std::vector<LeaseRecord>> CancelPending(const std::optional<std::string>& tenant, Timestamp now);
  // Cancels (pending or running): billed to `now`, devices freed. An ended lease comes back as is.
  [[nodiscard]] Result<LeaseRecord> CancelLease(int64_t id, const std::optional<std::string>& tenant, Timestamp now);

  // Agents.
  [[nodiscard]] Result<int64_t> RegisterAgent(const std::string& node, const std::vector<DeviceInventory>& devices,
                                              Timestamp now);
  [[nodiscard]] Result<int64_t> Heartbeat(const std::string& node, int64_t generation,
                                          const std::vector<DeviceReport>& devices, Timestamp now);
  [[nodiscard]] Result<NodeView> Desired(const std::string& node);
  // The full forms (discovery, self-test; telemetry, drained GPUs, workloads' states). A failed
  // self-test quarantines the node; hardware unfit for the group's tier closes it to leases (it
  // mines only). A drained GPU leaves service (its lease ends as lost); an exited workload ends
  // its lease, billed to when it exited.
  [[nodiscard]] Result<int64_t> RegisterAgent(const AgentRegistration& reg, Timestamp now);
  [[nodiscard]] Result<int64_t> Heartbeat(const std::string& node, const AgentHeartbeat& hb, Timestamp now);
  // Counts each time the desired state of some device may have changed: lock-free, so that
  // agents waiting for a change (GET /v1/agents/{node}/desired?after=N) are looked at only then.
  uint64_t desired_changes() const { return desired_changes_.load(std::memory_order_acquire); }
  // Whether the farm lets `tenant` run plain commands.
  bool Trusted(const std::string& tenant) const;

  // Alerts, oldest first (the last kMaxAlerts); acknowledging one keeps it, marked.
  static constexpr size_t kMaxAlerts = 1000;
  const std::deque<Alert>& alerts() const { return alerts_; }
  [[nodiscard]] Result<Alert> AcknowledgeAlert(int64_t id);
  // Raises an alert the farm itself cannot see (the server's store failing to write); `id` is
  // assigned here.
  void RaiseAlert(Alert alert) { Raise(std::move(alert)); }
  // What the agents report against what they were asked: devices that differ now, and every
  // change into a difference so far, by kind ("use", "lease", "coin", "mining_on_lease").
  int64_t divergent_devices() const;
  const std::map<std::string, int64_t>& divergences() const { return divergences_; }
  const DeviceObserved& Observed(int node, int slot) const { return agents_.observed(node, slot); }
  const AgentInfo& Agent(int node) const { return agents_.agent(node); }
  std::optional<int> NodeOf(const std::string& name) const { return agents_.NodeIndex(name); }
  bool drained(int node, int slot) const { return drained_[agents_.device_index(node, slot)] != 0; }

  // The passage of time: market re-plan, billing, accounting, expiry, silent agents, pending
  // requests. Call about once a second; it does each job when its interval has passed.
  // `check_agents` false: silent agents are not looked for (the server's last tick as it stops:
  // while it drained, the agents could not reach it, which is no reason to lose their leases).
  [[nodiscard]] Status Tick(Timestamp now, bool check_agents = true);

  // Hosted machines (server/hosting.h): the source of their meters' samples, which the farm reads
  // at every tick and bills from at every accounting; it is told which machines are held off.
  // None: every machine is billed from its nameplate. `meters` outlives the farm.
  void SetHostedMeters(HostedMeterSource* meters) { meters_ = meters; }
  const HostedBilling& hosting() const { return hosting_; }

  // Operators.
  std::vector<NodeView> Nodes();
  const FleetState& fleet() const { return desk_.fleet(); }
  const FarmSetup& setup() const { return setup_; }
  // What was wrong with the price tables as they loaded, and how it was fixed (for the log).
  const std::vector<std::string>& price_fixes() const { return price_fixes_; }
  const std::optional<MarketView>& view() const { return view_; }
  std::string feed_description() const { return feed_->Describe(); }
  // Each source of a live feed (market/live_feed.h), for /v1/market and /metrics; empty otherwise.
  std::vector<SourceHealth> feed_health() const { return feed_->Health(); }
  // The operator sets a group's prices (PUT /v1/groups/{group}/prices): its on-demand list price
  // and interruptible floor, written to the store (`by` names who, for the audit) and in force at
  // once over the farm file's and the feed's: the offers, what new requests pay and bid against,
  // and the engine's value of renting at the next re-plan. Running leases keep their prices.
  // NotFound for no such group; FailedPrecondition for a group whose GPUs are not offered for AI;
  // InvalidArgument for prices not positive, above 1000 USD/GPU-h, or a floor not below on-demand.
  [[nodiscard]] Result<GroupPriceRecord> SetGroupPrices(const std::string& group, RentalPrice on_demand,
                                                        RentalPrice interruptible_floor, const std::string& by,
                                                        Timestamp now);
  // The prices the operator set, by group name.
  const std::map<std::string, GroupPriceRecord>& operator_prices() const { return operator_prices_; }
  const EngineParams& params() const { return desk_.controller().params(); }
  [[nodiscard]] Status SetParams(const EngineParams& params);
  // A node's name and its GPUs' model (display name). Fixed at construction: safe to read from
  // any thread without the farm's lock.
  const std::string& node_name(int node) const { return agents_.node_name(node); }
  const std::string& node_model(int node) const { return agents_.node_model(node); }
  FarmCounts Counts() const;
  // The use of one device now: "lease", "mining", "idle", "curtailed", "offline".
  std::string DeviceUse(int node, int slot) const;
  int64_t ApiLeaseOn(int node, int slot) const;
  // The draw the agent last reported for a device, if it did.
  std::optional<int> ObservedPower(int node, int slot) const { return agents_.ObservedPower(node, slot); }
  // Per site, the facility draw now (IT load x PUE) at each device's use.
  std::vector<Watts> SiteDraw();
  // What each group's GPU earns mining each coin, at the view in force (ready() first).
  const Valuation& ValueNow();
  // Money per day at the decision and prices in force: the running leases at their prices, and
  // every device's mining revenue and energy cost at its use now (zeros before a market view).
  LedgerTotals RatesPerDay();
  // Recent history for the console (server/history.h): each site's draw, cap and price at every
  // accounting; each node's telemetry at every heartbeat.
  const PowerHistory& power_history() const { return power_history_; }
  const TelemetryHistory& telemetry() const { return telemetry_; }
  Store& store() { return *store_; }
  // The hashrate contracts on sale and sold (server/contract_sales.h): the API calls them under
  // the farm's lock; the farm closes their days, hands their contracts in force to the controller
  // and tells the agents where contract devices mine.
  ContractSales& contracts() { return contracts_; }
  bool ready() const { return view_.has_value(); }
  std::string not_ready_reason() const { return not_ready_; }

  // Curtailment (server/curtail.h, docs/demand-response.md "Server"). An emergency signal: the
  // event is persisted, its limit put in force and the farm re-planned at once when its start has
  // come. A signal id seen before answers that event (`*fresh` false). InvalidArgument, NotFound
  // (no such site) as Curtailments::Add says.
  [[nodiscard]] Result<CurtailEvent> Curtail(CurtailSignal signal, Timestamp now, bool* fresh);
  // Ends the events in force at `site` and re-plans.
  [[nodiscard]] Result<std::vector<CurtailEvent>> EndCurtail(const std::string& site, Timestamp now);
  const Curtailments& curtailments() const { return curtail_; }
  // The draw of `site` as its agents report it (every device of an up node, since `since`).
  SiteReading ReportedDraw(int site, Timestamp since);

 private:
  // How a lease that ends in a decision ends; the plan says only that it ends.
  struct Ending {
    Timestamp until;     // billed to here
    std::string state;   // "ended", "cancelled", "lost"
    std::string reason;
  };

  [[nodiscard]] Result<MarketView> ViewNow(Timestamp now);
  // Reads every lease from the store into the lease book, the queue and the controller.
  [[nodiscard]] Status LoadLeases();
  [[nodiscard]] Result<Request> ToRequest(int64_t id, const std::string& tenant, const LeaseAsk& ask,
                                          Timestamp now) const;
  [[nodiscard]] Status ReplanNow(Timestamp now);
  // Puts each site's curtailment limit in force (price trigger, emergency events) before a re-plan.
  void ApplySiteLimits(Timestamp now);
  // The curtailment side of a tick: events that start or end (re-planned at once), the reported
  // draws sampled and checked against each active event.
  [[nodiscard]] Status TickCurtail(Timestamp now, bool have_view);
  // The engine's plan for `event` (timed for the observer under `kind`). Changes nothing.
  [[nodiscard]] Result<Plan> Propose(const Event& event, std::string_view kind);
  // Persists everything `plan` implies, with `fresh` (lease records this decision creates) and
  // the waiting requests that gave up while `event` was built, in one store transaction; then
  // commits the plan to the desk (controller and queue) and the farm's maps. On a store error
  // nothing changes (those that gave up wait again). `endings` says how each lease the plan ends
  // (by engine id) ends.
  [[nodiscard]] Status Execute(const Event& event, const Plan& plan, const std::map<int64_t, Ending>& endings,
                               std::vector<LeaseRecord> fresh);
  // The desk's event for `kind` of happening, proposed and executed; `endings` says how the
  // leases it ends (by engine id) end.
  [[nodiscard]] Status Run(Event& event, std::string_view kind, const std::map<int64_t, Ending>& endings = {});
  // Ends running leases (API ids) as one decision; their GPUs may go to waiting requests later.
  [[nodiscard]] Status EndLeases(const std::map<int64_t, Ending>& endings, Timestamp now);
  // Publishes a new offer sheet when the offers differ from the published one.
  void PublishOffers();
  // The request a stored lease record asks for (a waiting one, to queue it again).
  [[nodiscard]] Result<Request> RequestOf(const LeaseRecord& rec) const;
  // Puts a stored record into the lease book.
  void Keep(LeaseRecord rec);
  // Marks a lease's workload that has not exited "stopped" at `at` (its lease ends).
  static void StopWorkload(LeaseRecord& rec, Timestamp at);
  // Cancels, in one write, waiting requests that could not queue again after a restart.
  [[nodiscard]] Status CancelStranded(Timestamp now);
  // A group tenants can rent: AI-suitable hardware with a list price.
  bool Rentable(int g) const;
  static bool Allows(const std::vector<std::string>& models, const GroupState& g);
  // Bills `lease` up to `until` into `entries` and updates its billed fields.
  void BillTo(LeaseRecord& lease, Timestamp until, std::vector<LedgerEntry>* entries) const;
  // Ends running lease `id`: billed to `until`, state `state`, devices back to the farm.
  void Income(const std::vector<LedgerEntry>& entries);
  [[nodiscard]] Status BillRunning(Timestamp now);
  [[nodiscard]] Status Account(Timestamp now);
  // A new UTC day for the hashrate contracts: the day that ended is accounted to its last second
  // and closed (with the days a stopped server missed, in order); the contracts in force today go
  // to the controller, re-planned at once.
  [[nodiscard]] Status ContractDays(Timestamp now, bool have_view);
  // The coins a contract day is valued on: the feed's view at the day's last second.
  std::vector<CoinQuote> QuotesOf(Date day);
  [[nodiscard]] Status ExpireLeases(Timestamp now);
  [[nodiscard]] Status CheckAgents(Timestamp now);
  // What the backend reported, as the next events: a node that came up offers its GPUs to what
  // waits; a node gone silent is down and its leases end as lost.
  [[nodiscard]] Status Act(Timestamp now);
  void NodeDown(int node);
  [[nodiscard]] Status NodeUp(int node, Timestamp now);
  // GPUs came into service (a node up, opened, a GPU back from a drain): what waits may take them.
  [[nodiscard]] Status RetryWaiting(Timestamp now);
  void RefreshGeneration(int node);
  NodeView ViewOfNode(int node);
  void InvalidateDesired();
  void Raise(Alert alert);
  // Each site's draw, cap, price and curtailed GPUs now, into power_history_.
  void RecordPower(Timestamp now);
  // The hosted machines' side of a tick: time held off, the meters' samples and events, and which
  // machines their outlets should power.
  void SyncHosted(Timestamp now);
  // Compares what node's agent reported with what it was asked (it says it converged).
  void CompareReports(int node, Timestamp now);
  // Drains and returns to service the GPUs the agent says; ends the leases on drained ones.
  [[nodiscard]] Status ApplyDrains(int node, const std::vector<DeviceReport>& devices, Timestamp now);
  // Records workloads' states in their leases; ends those whose workload exited or failed.
  [[nodiscard]] Status ApplyWorkloads(int node, const std::vector<WorkloadReport>& workloads, Timestamp now);
  // Whether discovery finds `node` fit for its group's tier; "" = fit, else why not.
  std::string FitnessOf(int node, const AgentRegistration& reg) const;

  FarmSetup setup_;
  std::vector<std::string> price_fixes_;
  Store* store_;
  ContractSales contracts_{store_};
  MarketFeed* feed_;
  FarmOptions options_;
  FarmObserver* observer_;
  LeaseDesk desk_;  // the controller and the waiting queue (controller/lease_desk.h)
  std::vector<Request> gave_up_;  // filled by the desk while an event is built
  // The server's backend (server/agent_registry.h): the nodes' agents and what they report, and
  // per device what it should do now with each node's generation, which the agents read.
  AgentGateway gateway_;
  AgentRegistry& agents_ = gateway_.agents;
  DesiredStates& desired_ = gateway_.desired;
  LeaseBook book_;  // every lease as the store holds it (server/lease_book.h)
  // Waiting leases read from the store that could not queue again, with why (CancelStranded).
  std::vector<std::pair<int64_t, std::string>> stranded_;
  Settled settled_;                              // what the last commit did; reused
  std::optional<MarketView> view_;
  std::string not_ready_ = "no market view yet";
  Timestamp last_tick_, last_billing_, last_accounting_;
  std::atomic<std::shared_ptr<const OfferSheet>> offer_sheet_;
  std::atomic<uint64_t> desired_changes_{0};
  std::deque<Alert> alerts_;
  int64_t next_alert_ = 1;
  std::map<std::string, int64_t> divergences_;
  // Operator-set prices by group name, and by group index whether one is set (over the feed's).
  std::map<std::string, GroupPriceRecord> operator_prices_;
  std::vector<uint8_t> operator_priced_;
  // Per live-feed source, the id of its unhealthy alert not yet followed by a healthy one.
  std::map<std::string, int64_t> feed_alerts_;
  // Puts an operator price record in force for group `g` (no store write, no offers published).
  void ApplyGroupPrice(int g, const GroupPriceRecord& price);
  // Raises the live feed's health changes as alerts.
  void FeedAlerts(Timestamp now);
  std::vector<uint8_t> drained_;  // per device (agents_' numbering): out of service by its agent
  PowerHistory power_history_;
  TelemetryHistory telemetry_;
  HostedBilling hosting_;
  HostedMeterSource* meters_ = nullptr;
  Curtailments curtail_;
};

}  // namespace rigshift
