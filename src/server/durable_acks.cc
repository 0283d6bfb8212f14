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

void DurableAcks::After(std::function<void(const Status&)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(std::move(done));
  }
  cv_.notify_one();
}

void DurableAcks::Run() {
  std::vector<std::function<void(const Status&)>> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
      if (waiting_.empty() && stop_) return;
      batch.swap(waiting_);
    }
    // Everything in `batch` registered before this Flush began, after its own writes.
    Status s = store_->Flush();
    for (auto& done : batch) done(s);
    batch.clear();
  }
}

}  // namespace rigshift
