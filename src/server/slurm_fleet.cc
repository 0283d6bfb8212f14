#include "server/slurm_fleet.h"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "net/http_client.h"

namespace rigshift {
namespace {

using json = nlohmann::json;

std::string SlotsText(const std::vector<int>& slots) {
  std::string out;
  for (int s : slots) out += (out.empty() ? "" : ".") + std::to_string(s);
  return out;
}

// A single-quoted word for bash.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool Finished(const SlurmJob& j) { return !j.active(); }

}  // namespace

// What the bridge knows of one node between rounds.
struct SlurmFleet::NodeState {
  bool registered = false;
  int64_t desired_generation = -1;  // of the desired state below
  int64_t converged = 0;            // the last generation it reached (reported in heartbeats)
  json desired_devices = json::array();
  json desired_leases = json::array();
};

SlurmFleet::SlurmFleet(Options options, std::vector<SlurmFleetNode> nodes)
    : o_(std::move(options)), nodes_(std::move(nodes)) {}

SlurmFleet::~SlurmFleet() { Stop(); }

void SlurmFleet::Start() {
  for (int i = 0; i < std::max(1, o_.command_threads); ++i) {
    workers_.emplace_back([this] {
      SlurmClient slurm(o_.slurm);
      Work(slurm);
    });
  }
  thread_ = std::thread([this] { Run(); });
}

void SlurmFleet::Stop() {
  stop_ = true;
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

SlurmFleet::Command SlurmFleet::CancelCommand(const std::string& node, std::vector<int64_t> ids) {
  Command c;
  c.node = node;
  c.cancel = std::move(ids);
  return c;
}

void SlurmFleet::Enqueue(Command c) {
  {
    std::lock_guard lock(work_mu_);
    if (!c.name.empty()) submitting_[c.name] = std::chrono::steady_clock::now();
    queue_.push_back(std::move(c));
  }
  work_cv_.notify_one();
}

void SlurmFleet::Work(SlurmClient& slurm) {
  while (true) {
    Command c;
    {
      std::unique_lock lock(work_mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      c = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!c.name.empty()) {
      std::string cmd = "echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES; " + c.command;
      auto id = slurm.Submit(c.partition, c.node, c.slots, c.name, cmd);
      if (!id) {
        Log("submit " + c.name + " on " + c.node + ": " + id.error().message());
        std::lock_guard lock(work_mu_);
        submitting_.erase(c.name);  // the next round tries again
      } else {
        ++submitted_;
      }
    } else if (Status s = slurm.Cancel(c.cancel); !s.ok()) {
      Log("cancel on " + c.node + ": " + s.message());
    } else {
      cancelled_jobs_ += static_cast<int64_t>(c.cancel.size());
    }
  }
}

void SlurmFleet::Log(const std::string& line) {
  {
    std::lock_guard lock(log_mu_);
    if (said_[line]++ > 0) return;
  }
  if (o_.log) {
    o_.log(line);
  } else {
    std::cerr << "slurm backend: " << line << "\n";
  }
}

void SlurmFleet::Run() {
  SlurmClient slurm(o_.slurm);  // reads only: sinfo and squeue
  net::HttpClient client(o_.host, o_.port, std::chrono::seconds(10));
  std::vector<NodeState> state(nodes_.size());
  std::set<int64_t> leases_done;            // leases whose job finished: never submitted again
  std::map<int64_t, SlurmJob> lease_jobs;   // lease id -> its job as last seen
  std::set<int64_t> checked;                // leases whose accounting was compared
  const std::string lease_prefix = o_.job_prefix + "lease-";
  const std::string mine_prefix = o_.job_prefix + "mine-";

  while (!stop_) {
    const auto round_start = std::chrono::steady_clock::now();
    auto nodes = slurm.Nodes();
    auto jobs = nodes ? slurm.Jobs(o_.job_prefix) : Result<std::vector<SlurmJob>>(Err(nodes.error()));
    if (!nodes || !jobs) {
      // No heartbeat while Slurm cannot be read: the controller would otherwise be told a state
      // nobody observed. Past the agent timeout its nodes are lost.
      Log("cannot read the cluster (no heartbeats until it answers): " + (!nodes ? nodes.error() : jobs.error()).message());
    } else {
      std::map<std::string, const SlurmNode*> by_name;
      for (const SlurmNode& n : *nodes) by_name[n.name] = &n;
      std::map<std::string, std::vector<const SlurmJob*>> on_node;
      std::set<int64_t> seen;
      {
        std::lock_guard lock(work_mu_);
        const auto now = std::chrono::steady_clock::now();
        for (const SlurmJob& j : *jobs) {
          if (j.active()) submitting_.erase(j.name);
        }
        // A submission that squeue never listed (lost, or listed and gone between two rounds)
        // may be tried again after a minute.
        std::erase_if(submitting_, [&](const auto& e) { return now - e.second > std::chrono::minutes(1); });
      }
      for (const SlurmJob& j : *jobs) {
        on_node[j.node].push_back(&j);
        if (j.name.starts_with(lease_prefix)) {
          seen.insert(std::atoll(j.name.c_str() + lease_prefix.size()));
          int64_t id = std::atoll(j.name.c_str() + lease_prefix.size());
          auto it = lease_jobs.find(id);
          // Keep the newest job of a lease (a job resubmitted after its node came back).
          if (it == lease_jobs.end() || it->second.id <= j.id) lease_jobs[id] = j;
        }
      }
      // Leases whose job Slurm no longer lists, once compared (or never to be): forgotten.
      std::erase_if(lease_jobs, [&](const auto& e) {
        bool gone = !seen.count(e.first) && (checked.count(e.first) || o_.operator_token.empty());
        if (gone) {
          checked.erase(e.first);
          cancelled_.erase(e.second.id);
        }
        return gone;
      });
      for (size_t i = 0; i < nodes_.size() && !stop_; ++i) {
        const SlurmFleetNode& n = nodes_[i];
        NodeState& s = state[i];
        auto found = by_name.find(n.name);
        if (found == by_name.end()) {
          Log("node " + n.name + " is not in Slurm's partition " + o_.slurm.ai_partition + ": it gets no heartbeat");
          s.registered = false;
          continue;
        }
        const SlurmNode& sn = *found->second;
        if (!sn.up()) {
          if (s.registered) Log("node " + n.name + " is " + sn.state + " in Slurm: no more heartbeats");
          s.registered = false;
          // Nothing of the farm's stays on a node the engine counts as down (a drained node would
          // otherwise run its jobs to their end).
          std::vector<int64_t> ours;
          for (const SlurmJob* j : on_node[n.name]) {
            if (j->active() && !cancelled_.count(j->id)) ours.push_back(j->id);
          }
          if (!ours.empty()) {
            cancelled_.insert(ours.begin(), ours.end());
            Enqueue(CancelCommand(n.name, ours));
          }
          continue;
        }
        if (!s.registered) {
          json inv = json::array();
          for (int slot : sn.gpus) inv.push_back({{"slot", slot}, {"model", n.model}, {"vram_gb", n.vram_gb}});
          auto r = client.Send("POST", "/v1/agents/register", json{{"node", n.name}, {"devices", inv}}.dump(),
                               o_.agent_token);
          if (!r || r->status != 200) {
            Log("register " + n.name + ": " + (r ? std::to_string(r->status) + " " + r->body : r.error().message()));
            continue;
          }
          s.registered = true;
          s.desired_generation = -1;
          s.converged = 0;
        }
        // What runs on each GPU, by the RUNNING jobs of this node.
        std::map<int, json> actual;
        const std::vector<const SlurmJob*>& mine = on_node[n.name];
        for (const SlurmJob* j : mine) {
          if (j->state != "RUNNING") continue;
          for (int slot : j->gpus) {
            if (j->name.starts_with(lease_prefix)) {
              actual[slot] = {{"use", "lease"}, {"lease", std::atoll(j->name.c_str() + lease_prefix.size())}};
            } else if (j->name.starts_with(mine_prefix)) {
              std::string rest = j->name.substr(mine_prefix.size());
              actual[slot] = {{"use", "mining"}, {"coin", rest.substr(rest.find('-') + 1)}};
            }
          }
        }
        json devices = json::array();
        bool converged = s.desired_generation >= 0;
        for (int slot : sn.gpus) {
          json d = actual.count(slot) ? actual[slot] : json{{"use", "idle"}};
          d["slot"] = slot;
          devices.push_back(d);
          // Compare with what this GPU was asked (idle and off both mean: nothing runs).
          const json* want = nullptr;
          for (const json& w : s.desired_devices) {
            if (w.value("slot", -1) == slot) want = &w;
          }
          std::string want_use = want ? want->value("use", "idle") : "idle";
          std::string got_use = d.value("use", "idle");
          if (want_use == "off") want_use = "idle";
          if (want_use != got_use || (got_use == "lease" && want->value("lease", int64_t{0}) != d.value("lease", int64_t{0})) ||
              (got_use == "mining" && want->value("coin", "") != d.value("coin", ""))) {
            converged = false;
          }
        }
        if (converged) s.converged = s.desired_generation;
        json workloads = json::array();
        for (const json& l : s.desired_leases) {
          int64_t id = l.value("id", int64_t{0});
          auto it = lease_jobs.find(id);
          if (it == lease_jobs.end()) continue;
          const SlurmJob& j = it->second;
          if (j.state == "RUNNING" && j.start) {
            workloads.push_back({{"lease", id}, {"state", "running"}, {"started_at", j.start->seconds}});
          } else if (Finished(j) && !cancelled_.count(j.id)) {
            // It ended on its own, or someone cancelled it in Slurm (scancel): either way the
            // tenant's job is over, and its lease ends with it, billed to Slurm's end time.
            json w = {{"lease", id}};
            if (j.start) w["started_at"] = j.start->seconds;
            if (j.end) w["ended_at"] = j.end->seconds;
            if (j.state == "COMPLETED") {
              w["state"] = "exited";
              w["exit_code"] = 0;
            } else {
              w["state"] = "failed";
              w["message"] = "Slurm job " + std::to_string(j.id) + " ended " + j.state;
            }
            workloads.push_back(std::move(w));
            leases_done.insert(id);
          }
        }
        json hb = {{"generation", s.converged}, {"devices", devices}, {"workloads", workloads}};
        auto r = client.Send("POST", "/v1/agents/" + n.name + "/heartbeat", hb.dump(), o_.agent_token);
        if (!r) {
          Log("heartbeat " + n.name + ": " + r.error().message());
          continue;
        }
        if (r->status == 404) {  // the controller restarted, or declared the node silent
          s.registered = false;
          continue;
        }
        if (r->status != 200) {
          Log("heartbeat " + n.name + ": " + std::to_string(r->status) + " " + r->body);
          continue;
        }
        ++heartbeats_;
        int64_t desired = json::parse(r->body, nullptr, false).value("generation", int64_t{0});
        if (desired != s.desired_generation) {
          auto d = client.Send("GET", "/v1/agents/" + n.name + "/desired", {}, o_.agent_token);
          if (!d || d->status != 200) continue;
          json ds = json::parse(d->body, nullptr, false);
          if (ds.is_discarded()) continue;
          s.desired_devices = ds.value("devices", json::array());
          s.desired_leases = ds.value("leases", json::array());
          s.desired_generation = ds.value("generation", int64_t{0});
        }

        // Converge: the jobs this node should run, by name.
        struct Want {
          std::string partition;
          std::vector<int> slots;
          std::string command;
        };
        std::map<std::string, Want> want_ai, want_mining;
        for (const json& l : s.desired_leases) {
          int64_t id = l.value("id", int64_t{0});
          if (leases_done.count(id)) continue;
          Want w{o_.slurm.ai_partition, l.value("slots", std::vector<int>{}), o_.hold_command};
          const json& wl = l.contains("workload") ? l["workload"] : json();
          if (wl.is_object() && wl.value("image", "").empty() && wl.contains("command") && wl["command"].is_array() &&
              !wl["command"].empty()) {
            std::string cmd = "exec";
            for (const auto& a : wl["command"]) cmd += " " + Quote(a.is_string() ? a.get<std::string>() : a.dump());
            w.command = cmd;
          }
          std::sort(w.slots.begin(), w.slots.end());
          want_ai[lease_prefix + std::to_string(id)] = std::move(w);
        }
        std::map<std::string, std::vector<int>> coin_slots;
        for (const json& d : s.desired_devices) {
          if (d.value("use", "") == "mining") coin_slots[d.value("coin", "")].push_back(d.value("slot", 0));
        }
        for (auto& [coin, slots] : coin_slots) {
          std::sort(slots.begin(), slots.end());
          want_mining[mine_prefix + SlotsText(slots) + "-" + coin] = {o_.slurm.mining_partition, slots,
                                                                     o_.mining_command};
        }
        std::set<std::string> active;
        for (const SlurmJob* j : mine) {
          if (j->active() && (want_ai.count(j->name) || want_mining.count(j->name))) active.insert(j->name);
        }
        {
          std::lock_guard lock(work_mu_);
          for (const auto& [name, since] : submitting_) active.insert(name);
        }
        // GPUs a lease's job waits for (submitted now, or pending since): the mining job on them is
        // left for Slurm to preempt (partition priority), unless Slurm has let the lease wait longer
        // than `preempt_grace`, when the bridge cancels it itself.
        const auto now = std::chrono::steady_clock::now();
        std::set<int> awaited, overdue;
        for (const auto& [name, w] : want_ai) {
          const SlurmJob* job = nullptr;
          for (const SlurmJob* j : mine) {
            if (j->name == name && j->active()) job = j;
          }
          if (job != nullptr && job->state == "RUNNING") {
            pending_since_.erase(name);
            continue;
          }
          auto [since, fresh] = pending_since_.emplace(name, now);
          (now - since->second > o_.preempt_grace ? overdue : awaited).insert(w.slots.begin(), w.slots.end());
        }
        std::vector<int64_t> cancel;
        for (const SlurmJob* j : mine) {
          if (!j->active() || active.count(j->name) || cancelled_.count(j->id)) continue;
          bool left_to_slurm = j->name.starts_with(mine_prefix) &&
                               std::any_of(j->gpus.begin(), j->gpus.end(), [&](int g) { return awaited.count(g) > 0; }) &&
                               std::none_of(j->gpus.begin(), j->gpus.end(), [&](int g) { return overdue.count(g) > 0; });
          if (!left_to_slurm) cancel.push_back(j->id);
        }
        // The lease's job first, so that Slurm preempts the mining under it; then the rest. (The
        // workers take commands in order; with several workers, order within a round is a race
        // that only moves who frees GPUs first, never what ends up running.)
        for (auto* wanted : {&want_ai, &want_mining}) {
          for (const auto& [name, w] : *wanted) {
            if (active.count(name) || w.slots.empty()) continue;
            Command submit;
            submit.partition = w.partition;
            submit.node = n.name;
            submit.name = name;
            submit.command = w.command;
            submit.slots = w.slots;
            Enqueue(std::move(submit));
          }
        }
        if (!cancel.empty()) {
          cancelled_.insert(cancel.begin(), cancel.end());
          Enqueue(CancelCommand(n.name, cancel));
        }
      }
      std::erase_if(pending_since_, [&](const auto& e) {
        return std::chrono::steady_clock::now() - e.second > std::chrono::minutes(10);
      });
      // Accounting: a lease job that ended, against what the controller billed its lease.
      if (!o_.operator_token.empty()) {
        for (const auto& [id, j] : lease_jobs) {
          if (!Finished(j) || checked.count(id)) continue;
          auto r = client.Send("GET", "/v1/leases/" + std::to_string(id), {}, o_.operator_token);
          if (!r || r->status != 200) continue;
          json l = json::parse(r->body, nullptr, false);
          std::string st = l.is_object() ? l.value("state", "") : "";
          if (st == "running" || st == "pending" || st.empty()) continue;  // not settled yet
          checked.insert(id);
          int64_t billed = l.value("billed_seconds", int64_t{0});
          // A job that never started ran 0 s (its lease was billed while Slurm kept it waiting).
          int64_t ran = j.start && j.end ? j.end->seconds - j.start->seconds : 0;
          if (std::llabs(billed - ran) > o_.mismatch_tolerance_s) {
            ++mismatches_;
            std::string message = "lease " + std::to_string(id) + " was billed " + std::to_string(billed) +
                                  " s, its Slurm job " + std::to_string(j.id) + " ran " + std::to_string(ran) + " s";
            Log("accounting mismatch: " + message);
            if (o_.on_mismatch) o_.on_mismatch(id, j.node, message);
          }
        }
      }
    }
    auto spent = std::chrono::steady_clock::now() - round_start;
    for (auto left = o_.poll - spent; left > std::chrono::milliseconds(0) && !stop_;
         left -= std::chrono::milliseconds(20)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace rigshift
