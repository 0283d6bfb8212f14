// `rigshift store copy --from URL --to URL`: moves a farm's history between stores (SQLite to
// PostgreSQL when a farm moves to two controllers on a database server; docs/operations.md).
#pragma once

#include <ostream>
#include <string>

#include "common/status.h"

namespace rigshift {

struct StoreCopyOptions {
  std::string from;  // a SQLite file ("sqlite:PATH" or PATH) or a postgresql:// URL
  std::string to;    // the same; must be empty (a missing SQLite file is created)
};

// Copies, compares, and reports on `out`; progress on `err`. Stop the server first: a copy of a
// store that is being written is a copy of some moment of it, not of the end.
[[nodiscard]] Status RunStoreCopy(const StoreCopyOptions& o, std::ostream& out, std::ostream& err);

}  // namespace rigshift
