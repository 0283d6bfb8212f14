// DurableAcks: acknowledges writes once they are durable, without holding an I/O thread per
// waiting request.
//
// A handler that wrote takes the store's ticket of its last write (Store::LastWrite) under the
// farm's lock, and calls After(ticket, done) once it has released the lock; one thread of this
// object waits for each ticket (Store::WaitDurable: GroupCommitStore commits every request
// queued meanwhile in one commit) and calls `done` with OK when that write is on disk, or with
// the error of the failed commit that dropped it, even if the store has been resumed since.
//
// Thread-safe. `done` runs on this object's thread and must be short (the server posts the
// response to the connection's strand).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace rigshift {

class DurableAcks {
 public:
  // `store` outlives this object.
  explicit DurableAcks(Store* store);
  ~DurableAcks();  // flushes and answers what is registered, then stops

  // Calls `done` once write `ticket` is durable (OK) or was dropped (the failure).
  void After(uint64_t ticket, std::function<void(const Status&)> done);

 private:
  void Run();

  Store* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> waiting_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rigshift
