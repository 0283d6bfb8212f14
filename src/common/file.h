// Files written whole or not at all.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/status.h"

namespace rigshift {

// Writes `text` to `file` with permission bits `mode`: into FILE.tmp first (created with `mode`,
// so a secret is never readable by others, not even briefly), synced, then renamed over `file`.
// A crash leaves either the old file or the new one. Unavailable with the OS's words on failure.
[[nodiscard]] Status WriteFileAtomically(const std::filesystem::path& file, std::string_view text,
                                         unsigned mode = 0644);

}  // namespace rigshift
