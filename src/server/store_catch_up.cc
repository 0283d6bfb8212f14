#include "server/store_catch_up.h"

namespace rigshift {

Status StoreCatchUp::Run(Timestamp now) {
  Status failure = store_->failure();
  if (failure.ok()) {
    if (failing_ && store_->commits() > commits_at_failure_) {
      err_ << "rigshift server: " << FormatUtc(now) << " store: writes are committed again ("
           << store_->failed_commits() - failed_before_ << " failed commits since " << FormatUtc(since_) << ")\n";
      err_.flush();
      failing_ = false;
      logged_.clear();
      metrics_->StoreWritesFailing(false);
      farm_->RaiseAlert({0, now, "store_writes_resumed", "", -1,
                         "the store writes again, after " + std::to_string(store_->failed_commits() - failed_before_) +
                             " failed commits since " + FormatUtc(since_)});
    }
    return OkStatus();
  }
  if (!failing_) {
    failing_ = true;
    since_ = now;
    failed_before_ = store_->failed_commits() - 1;
    metrics_->StoreWritesFailing(true);
    farm_->RaiseAlert({0, now, "store_write_failed", "", -1,
                       "the store cannot write: " + failure.message() +
                           "; writes are refused (507 or 503) until a commit succeeds, reads go on"});
  }
  if (failure.message() != logged_) {
    err_ << "rigshift server: " << FormatUtc(now) << " store: " << failure.message()
         << "; reads go on, and the farm is reloaded from the store\n";
    err_.flush();
    logged_ = failure.message();
  }
  commits_at_failure_ = store_->commits();
  // Writes are let in before the reload, which may itself write (a re-plan); nothing else can
  // write in between, because every write is made under the farm's lock, which we hold.
  store_->Resume();
  RS_RETURN_IF_ERROR(farm_->Reload(now));
  return auth_->Load();  // a token whose commit failed is forgotten too
}

}  // namespace rigshift
