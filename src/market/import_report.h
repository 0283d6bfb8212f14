// What an import did with every row of every source file.
//
// Nothing is dropped silently: a row the importer changed (a zero price read as missing) is
// "repaired", a row it could not use (a truncated line, text where a number belongs) is
// "rejected", and a row that is valid but out of scope (a CPU-only pod in a GPU trace) is
// "skipped"; each with its file, line and reason. A source file that is absent is listed with what
// its absence costs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rigshift {

enum class RowOutcome { kRepaired, kRejected, kSkipped };

struct RowIssue {
  int line = 0;
  RowOutcome outcome = RowOutcome::kRejected;
  std::string reason;
};

struct FileReport {
  std::string file;        // path relative to the source folder
  int64_t rows = 0;        // data rows read (header excluded)
  int64_t accepted = 0;    // rows that contributed to the output (repaired ones included)
  std::vector<RowIssue> issues;
  std::vector<std::string> warnings;  // file-level notes, such as unknown columns

  void Repaired(int line, std::string reason) { issues.push_back({line, RowOutcome::kRepaired, std::move(reason)}); }
  void Rejected(int line, std::string reason) { issues.push_back({line, RowOutcome::kRejected, std::move(reason)}); }
  void Skipped(int line, std::string reason) { issues.push_back({line, RowOutcome::kSkipped, std::move(reason)}); }
  int64_t Count(RowOutcome outcome) const;
};

class ImportReport {
 public:
  // The report of one source file, created on first use.
  FileReport& File(const std::string& file);
  // A source that was not found, and what the output lacks without it.
  void Missing(std::string what, std::string consequence);
  // A line for the summary of an output file: "coin_daily.csv: 9,812 rows".
  void Output(std::string file, int64_t rows);

  int64_t Total(RowOutcome outcome) const;
  const std::map<std::string, FileReport>& files() const { return files_; }
  const std::vector<std::pair<std::string, std::string>>& missing() const { return missing_; }

  // Human-readable summary: per file counts, then each reason with up to `examples` lines.
  std::string Summary(int examples) const;
  // Everything, every line: written to <out>/import_report.json.
  nlohmann::json ToJson() const;

 private:
  std::map<std::string, FileReport> files_;
  std::vector<std::pair<std::string, std::string>> missing_;
  std::vector<std::pair<std::string, int64_t>> outputs_;
};

std::string_view RowOutcomeName(RowOutcome o);

}  // namespace rigshift
