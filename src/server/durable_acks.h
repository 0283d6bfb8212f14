// DurableAcks: acknowledges writes once they are durable, without holding an I/O thread per
// waiting request.
//
// A handler that wrote (under the farm's lock) calls After(done) once it has released the lock;
// one thread of this object calls Store::Flush(), which returns when every write made before it
// is durable (GroupCommitStore: one commit covers every request queued meanwhile), and then calls
// every `done` registered before that Flush began with its status. A request's own writes were
// made before it registered, so its `done` never runs before they are on disk.
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

  // Calls `done` with Store::Flush()'s status once every write made before this call is durable.
  void After(std::function<void(const Status&)> done);

 private:
  void Run();

  Store* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void(const Status&)>> waiting_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rigshift
