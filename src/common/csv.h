// A small RFC 4180 CSV reader that remembers line numbers, so that every error and every
// rejected row can be reported as "file:line".
//
// Quoted fields may hold commas, doubled quotes and newlines; CRLF and LF both end a record;
// blank lines are skipped. The whole file is read into memory: the largest public input here is
// 10 MB.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rigshift {

struct CsvRow {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

class CsvTable {
 public:
  // `name` is used in error messages (usually the file name). Errors: empty input (no header),
  // an unterminated quoted field, a duplicated column name.
  [[nodiscard]] static Result<CsvTable> Parse(std::string_view text, std::string name);
  // `name` defaults to the file name.
  [[nodiscard]] static Result<CsvTable> ReadFile(const std::filesystem::path& path, std::string name = "");

  const std::string& name() const { return name_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<CsvRow>& rows() const { return rows_; }

  // Index of a column by exact name.
  std::optional<size_t> Column(std::string_view column) const;
  // Checks that every name in `required` is a column; the error lists the missing ones and the
  // columns the file has.
  [[nodiscard]] Status Require(const std::vector<std::string_view>& required) const;
  // Columns not in `known`, for a warning.
  std::vector<std::string> UnknownColumns(const std::vector<std::string_view>& known) const;

 private:
  std::string name_;
  std::vector<std::string> header_;
  std::vector<CsvRow> rows_;
};

// Quotes a field for writing when it needs it.
std::string CsvEscape(std::string_view field);

}  // namespace rigshift
