// The server's way back from a commit the store could not make (rigshift server's main loop
// calls Run() under the farm's lock each second and after each failed write).
#pragma once

#include <ostream>
#include <string>

#include "common/status.h"
#include "common/time.h"
#include "server/auth.h"
#include "server/farm.h"
#include "server/metrics.h"
#include "store/group_commit_store.h"

namespace rigshift {

// After a commit the store could not make (GroupCommitStore: a full disk, an I/O error), the
// farm's memory is ahead of the store and the store refuses writes. Run(), under the farm's
// lock, makes the farm and the tokens say again what the store holds and lets writes in again;
// while the disk stays full each later write fails the same way (507) and is caught up again.
// Reads never stop. A failure is logged once (again only if its reason changes), and so is the
// first successful commit after it; each raises an alert (store_write_failed,
// store_writes_resumed), which goes to the webhooks too.
class StoreCatchUp {
 public:
  StoreCatchUp(GroupCommitStore* store, Farm* farm, Auth* auth, Metrics* metrics, std::ostream& err)
      : store_(store), farm_(farm), auth_(auth), metrics_(metrics), err_(err) {}

  // Requires the farm's lock. An error only when the store cannot be read back.
  [[nodiscard]] Status Run(Timestamp now);
  // From a failed commit until one succeeds again.
  bool failing() const { return failing_; }

 private:
  GroupCommitStore* store_;
  Farm* farm_;
  Auth* auth_;
  Metrics* metrics_;
  std::ostream& err_;
  bool failing_ = false;
  std::string logged_;
  Timestamp since_;
  int64_t failed_before_ = 0;
  int64_t commits_at_failure_ = 0;
};

}  // namespace rigshift
