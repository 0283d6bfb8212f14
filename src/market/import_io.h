// Shared plumbing for the importers: finding source files, reading typed fields out of a row
// while recording what went wrong, and writing canonical CSV files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/csv.h"
#include "common/status.h"
#include "common/time.h"
#include "common/units.h"
#include "market/import_report.h"

namespace rigshift {

// The files of one source in `dir`: `<stem>.csv` and `<stem>_<anything>.csv` (a folder covering
// other periods may name a file `etherscan_eth_daily_2022on.csv`), in name order.
std::vector<std::filesystem::path> FindSourceFiles(const std::filesystem::path& dir, std::string_view stem);

// Reads one source file, checks its required columns, warns about unknown ones. A structural
// problem (empty file, missing column, unclosed quote) is an error naming the file: the import
// stops and writes nothing.
[[nodiscard]] Result<CsvTable> ReadSource(const std::filesystem::path& path, const std::filesystem::path& root,
                                          const std::vector<std::string_view>& required,
                                          const std::vector<std::string_view>& known, FileReport& report);

// Typed access to one row. Each getter returns nullopt for an empty field; text that does not
// parse sets `bad()` and records why, so the caller rejects the row with one message.
class RowReader {
 public:
  RowReader(const CsvTable& table, const CsvRow& row) : table_(table), row_(row) {}

  // False (with the reason recorded) when the row has fewer fields than the header.
  bool Complete();
  std::string_view Text(std::string_view column) const;
  std::optional<int64_t> Scaled(std::string_view column, int scale);
  std::optional<__int128> Scaled128(std::string_view column, int scale);
  std::optional<Date> DateField(std::string_view column);
  std::optional<Timestamp> TimeField(std::string_view column);

  bool bad() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  int line() const { return row_.line; }

 private:
  void Fail(std::string_view column, const Status& s);
  const CsvTable& table_;
  const CsvRow& row_;
  std::string error_;
};

// Writes a CSV file with a header; fields are escaped as needed.
[[nodiscard]] Status WriteCsv(const std::filesystem::path& path, const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows);

// Creates `out_dir` if needed, writes <out_dir>/<file> and records it in the report: the last
// step of every importer.
[[nodiscard]] Status WriteOutput(const std::filesystem::path& out_dir, std::string_view file,
                                 const std::vector<std::string>& header,
                                 const std::vector<std::vector<std::string>>& rows, ImportReport& report);

// OK when the canonical file exists; else NotFound saying how to make it.
[[nodiscard]] Status RequireCanonical(const std::filesystem::path& file, const std::filesystem::path& data_dir);

// "file.csv:12" tag used in source columns.
std::string SourceTag(const std::filesystem::path& file, int line);

}  // namespace rigshift
