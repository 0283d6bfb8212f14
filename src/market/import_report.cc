#include "market/import_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace rigshift {

std::string_view RowOutcomeName(RowOutcome o) {
  switch (o) {
    case RowOutcome::kRepaired: return "repaired";
    case RowOutcome::kRejected: return "rejected";
    case RowOutcome::kSkipped: return "skipped";
  }
  return "rejected";
}

int64_t FileReport::Count(RowOutcome outcome) const {
  int64_t n = 0;
  for (const auto& i : issues) n += i.outcome == outcome;
  return n;
}

FileReport& ImportReport::File(const std::string& file) {
  auto [it, inserted] = files_.try_emplace(file);
  if (inserted) it->second.file = file;
  return it->second;
}

void ImportReport::Missing(std::string what, std::string consequence) {
  missing_.emplace_back(std::move(what), std::move(consequence));
}

void ImportReport::Output(std::string file, int64_t rows) { outputs_.emplace_back(std::move(file), rows); }

int64_t ImportReport::Total(RowOutcome outcome) const {
  int64_t n = 0;
  for (const auto& [_, f] : files_) n += f.Count(outcome);
  return n;
}

std::string ImportReport::Summary(int examples) const {
  std::string out;
  out += fmt::format("{:<58} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "source file", "rows", "accepted", "repaired",
                     "rejected", "skipped");
  for (const auto& [name, f] : files_) {
    out += fmt::format("{:<58} {:>8} {:>8} {:>8} {:>8} {:>8}\n", name, f.rows, f.accepted,
                       f.Count(RowOutcome::kRepaired), f.Count(RowOutcome::kRejected), f.Count(RowOutcome::kSkipped));
  }
  for (const auto& [name, f] : files_) {
    for (const auto& w : f.warnings) out += fmt::format("warning: {}: {}\n", name, w);
    // Group by (outcome, reason) in first-seen order, listing up to `examples` lines each.
    std::vector<std::pair<std::pair<RowOutcome, std::string>, std::vector<int>>> groups;
    for (const auto& i : f.issues) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first.first == i.outcome && g.first.second == i.reason; });
      if (it == groups.end()) {
        groups.push_back({{i.outcome, i.reason}, {}});
        it = groups.end() - 1;
      }
      it->second.push_back(i.line);
    }
    for (const auto& [key, lines] : groups) {
      std::string where;
      for (size_t k = 0; k < lines.size() && static_cast<int>(k) < examples; ++k) {
        where += fmt::format("{}{}:{}", k ? ", " : "", name, lines[k]);
      }
      if (static_cast<int>(lines.size()) > examples) where += fmt::format(", ... ({} more)", lines.size() - examples);
      out += fmt::format("{} {} row(s): {} [{}]\n", RowOutcomeName(key.first), lines.size(), key.second, where);
    }
  }
  for (const auto& [what, consequence] : missing_) out += fmt::format("missing: {}: {}\n", what, consequence);
  for (const auto& [file, rows] : outputs_) out += fmt::format("wrote {} ({} rows)\n", file, rows);
  return out;
}

nlohmann::json ImportReport::ToJson() const {
  nlohmann::json j;
  j["files"] = nlohmann::json::array();
  for (const auto& [name, f] : files_) {
    nlohmann::json jf{{"file", name},
                      {"rows", f.rows},
                      {"accepted", f.accepted},
                      {"repaired", f.Count(RowOutcome::kRepaired)},
                      {"rejected", f.Count(RowOutcome::kRejected)},
                      {"skipped", f.Count(RowOutcome::kSkipped)},
                      {"warnings", f.warnings}};
    jf["issues"] = nlohmann::json::array();
    for (const auto& i : f.issues) {
      jf["issues"].push_back({{"line", i.line}, {"outcome", RowOutcomeName(i.outcome)}, {"reason", i.reason}});
    }
    j["files"].push_back(std::move(jf));
  }
  j["missing"] = nlohmann::json::array();
  for (const auto& [what, consequence] : missing_) j["missing"].push_back({{"source", what}, {"consequence", consequence}});
  j["outputs"] = nlohmann::json::array();
  for (const auto& [file, rows] : outputs_) j["outputs"].push_back({{"file", file}, {"rows", rows}});
  return j;
}

}  // namespace rigshift
