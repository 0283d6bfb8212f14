#include "cli/store_command.h"

#include <chrono>

#include "store/store_copy.h"

namespace rigshift {

Status RunStoreCopy(const StoreCopyOptions& o, std::ostream& out, std::ostream& err) {
  if (o.from == o.to) return InvalidArgumentError("store copy: --from and --to name the same store");
  auto from = OpenStoreUrl(o.from, /*create=*/false);
  if (!from) return from.error().WithContext("--from");
  auto to = OpenStoreUrl(o.to, /*create=*/true);
  if (!to) return to.error().WithContext("--to");
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  auto copied = CopyStore(**from, **to, 10'000, [&](int64_t entries) {
    auto now = std::chrono::steady_clock::now();
    if (now - last >= std::chrono::seconds(2)) {
      err << "store copy: " << entries << " ledger entries copied\n";
      last = now;
    }
  });
  if (!copied) return copied.error();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out << "copied " << copied->tokens << " tokens, " << copied->leases << " leases and " << copied->ledger_entries
      << " ledger entries (summing " << copied->ledger_sum.raw() << " micro-USD), " << copied->contract_products
      << " contract products, " << copied->contracts << " contracts and " << copied->contract_days
      << " closed contract days with " << copied->contract_statements << " statements in " << s << " s\n"
      << "compared the copy with the source: tokens, leases, contracts, every ledger entry and statement, daily and "
         "hourly sums identical\n";
  return OkStatus();
}

}  // namespace rigshift
