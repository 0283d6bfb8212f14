#include "server/durable_acks.h"

#include <utility>

namespace rigshift {

DurableAcks::DurableAcks(Store* store) : store_(store) {
  thread_ = std::thread([this] { Run(); });
}

DurableAcks::~DurableAcks() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void DurableAcks::After(uint64_t ticket, std::function<void(const Status&)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.emplace_back(ticket, std::move(done));
  }
  cv_.notify_one();
}

void DurableAcks::Run() {
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
      if (waiting_.empty() && stop_) return;
      batch.swap(waiting_);
    }
    // The first wait covers most of the batch (one commit carries them all); the rest return at
    // once, each with its own write's fate.
    for (auto& [ticket, done] : batch) done(store_->WaitDurable(ticket));
    batch.clear();
  }
}

}  // namespace rigshift
