#include "market/import_io.h"

#include <algorithm>
#include <fstream>

namespace rigshift {

namespace fs = std::filesystem;

std::vector<fs::path> FindSourceFiles(const fs::path& dir, std::string_view stem) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name.size() < stem.size() + 4 || name.substr(name.size() - 4) != ".csv") continue;
    std::string base = name.substr(0, name.size() - 4);
    if (base == stem || (base.size() > stem.size() + 1 && base.substr(0, stem.size()) == stem && base[stem.size()] == '_')) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<CsvTable> ReadSource(const fs::path& path, const fs::path& root, const std::vector<std::string_view>& required,
                            const std::vector<std::string_view>& known, FileReport& report) {
  std::string rel = fs::relative(path, root).string();
  auto table = CsvTable::ReadFile(path, rel);
  if (!table) return Err(table.error());
  Status s = table->Require(required);
  if (!s.ok()) return Err(s);
  for (const auto& col : table->UnknownColumns(known)) {
    report.warnings.push_back("unknown column '" + col + "' ignored");
  }
  report.rows += static_cast<int64_t>(table->rows().size());
  return table;
}

bool RowReader::Complete() {
  if (row_.fields.size() < table_.header().size()) {
    error_ = "truncated row: " + std::to_string(row_.fields.size()) + " of " + std::to_string(table_.header().size()) +
             " fields";
    return false;
  }
  if (row_.fields.size() > table_.header().size()) {
    error_ = "row has " + std::to_string(row_.fields.size()) + " fields, the header " +
             std::to_string(table_.header().size());
    return false;
  }
  return true;
}

std::string_view RowReader::Text(std::string_view column) const {
  auto idx = table_.Column(column);
  if (!idx || *idx >= row_.fields.size()) return {};
  std::string_view v = row_.fields[*idx];
  while (!v.empty() && (v.front() == ' ')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

void RowReader::Fail(std::string_view column, const Status& s) {
  if (error_.empty()) error_ = std::string(column) + ": " + s.message();
}

std::optional<int64_t> RowReader::Scaled(std::string_view column, int scale) {
  std::string_view t = Text(column);
  if (t.empty()) return std::nullopt;
  auto v = ParseScaled(t, scale);
  if (!v) {
    Fail(column, v.error());
    return std::nullopt;
  }
  return *v;
}

std::optional<__int128> RowReader::Scaled128(std::string_view column, int scale) {
  std::string_view t = Text(column);
  if (t.empty()) return std::nullopt;
  auto v = ParseScaled128(t, scale);
  if (!v) {
    Fail(column, v.error());
    return std::nullopt;
  }
  return *v;
}

std::optional<Date> RowReader::DateField(std::string_view column) {
  std::string_view t = Text(column);
  if (t.empty()) return std::nullopt;
  if (t.size() > 10) {
    // Some sources write a timestamp where a day is meant. blockchain.com stamps its daily
    // samples at local midnight ("2021-01-05 23:00:00" in winter is the 6th): take the nearest
    // UTC midnight.
    auto ts = ParseUtcTimestamp(t);
    if (!ts) {
      Fail(column, ts.error());
      return std::nullopt;
    }
    return DateOf(Timestamp{ts->seconds + 12 * 3600});
  }
  auto d = ParseDate(t);
  if (!d) {
    Fail(column, d.error());
    return std::nullopt;
  }
  return *d;
}

std::optional<Timestamp> RowReader::TimeField(std::string_view column) {
  std::string_view t = Text(column);
  if (t.empty()) return std::nullopt;
  auto v = ParseUtcTimestamp(t);
  if (!v) {
    Fail(column, v.error());
    return std::nullopt;
  }
  return *v;
}

Status WriteCsv(const fs::path& path, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return UnavailableError(path.string() + ": cannot create");
  auto write_row = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out << ',';
      out << CsvEscape(fields[i]);
    }
    out << '\n';
  };
  write_row(header);
  for (const auto& r : rows) write_row(r);
  out.flush();
  if (!out) return DataLossError(path.string() + ": write failed");
  return OkStatus();
}

Status WriteOutput(const fs::path& out_dir, std::string_view file, const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& rows, ImportReport& report) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return UnavailableError(out_dir.string() + ": cannot create the output folder: " + ec.message());
  RS_RETURN_IF_ERROR(WriteCsv(out_dir / file, header, rows));
  report.Output(std::string(file), static_cast<int64_t>(rows.size()));
  return OkStatus();
}

Status RequireCanonical(const fs::path& file, const fs::path& data_dir) {
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) return OkStatus();
  return NotFoundError(file.string() + " not found: run `rigshift data import --out " + data_dir.string() +
                       "` to build it from the public data");
}

std::string SourceTag(const fs::path& file, int line) { return file.filename().string() + ":" + std::to_string(line); }

}  // namespace rigshift
