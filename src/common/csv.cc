#include "common/csv.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace rigshift {

Result<CsvTable> CsvTable::Parse(std::string_view text, std::string name) {
  CsvTable table;
  table.name_ = std::move(name);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM

  // One allocation per record and none for the table as it grows: a year of hourly prices for
  // hundreds of points is millions of records.
  std::vector<CsvRow> records;
  records.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  size_t width = 0;  // fields of the first record
  CsvRow current;
  std::string field;
  bool in_quotes = false;
  bool field_was_quoted = false;
  int line = 1;
  current.line = 1;
  auto end_record = [&]() {
    current.fields.push_back(std::move(field));
    field.clear();
    bool blank = current.fields.size() == 1 && current.fields[0].empty() && !field_was_quoted;
    if (!blank) {
      if (records.empty()) width = current.fields.size();
      records.push_back(std::move(current));
    }
    current = CsvRow{};
    current.fields.reserve(width);
    current.line = line;
    field_was_quoted = false;
  };
  int quote_start_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"':
        if (field.empty()) {
          in_quotes = true;
          field_was_quoted = true;
          quote_start_line = line;
        } else {
          field.push_back(c);  // a stray quote inside an unquoted field is kept as text
        }
        break;
      case ',':
        current.fields.push_back(std::move(field));
        field.clear();
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;
        [[fallthrough]];
      case '\n':
        ++line;
        end_record();
        break;
      default: {
        // The rest of a plain field at once, up to the next character that means something.
        size_t j = i + 1;
        while (j < text.size() && text[j] != ',' && text[j] != '\n' && text[j] != '\r' && text[j] != '"') ++j;
        field.append(text.data() + i, j - i);
        i = j - 1;
      }
    }
  }
  if (in_quotes) {
    return Err(InvalidArgumentError(table.name_ + ":" + std::to_string(quote_start_line) +
                                    ": quoted field never closed (file truncated?)"));
  }
  if (!field.empty() || !current.fields.empty()) end_record();

  if (records.empty()) return Err(InvalidArgumentError(table.name_ + ": file is empty (no header row)"));
  table.header_ = std::move(records.front().fields);
  for (auto& h : table.header_) {
    while (!h.empty() && (h.back() == ' ' || h.back() == '\r')) h.pop_back();
    while (!h.empty() && h.front() == ' ') h.erase(h.begin());
  }
  for (size_t a = 0; a < table.header_.size(); ++a) {
    for (size_t b = a + 1; b < table.header_.size(); ++b) {
      if (!table.header_[a].empty() && table.header_[a] == table.header_[b]) {
        return Err(InvalidArgumentError(table.name_ + ":1: column '" + table.header_[a] + "' appears twice"));
      }
    }
  }
  records.erase(records.begin());
  table.rows_ = std::move(records);
  return table;
}

Result<CsvTable> CsvTable::ReadFile(const std::filesystem::path& path, std::string name) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Err(NotFoundError(path.string() + ": cannot open"));
  // One read of the whole file into one buffer (the electricity table is tens of MB).
  const std::streamoff size = in.tellg();
  std::string text;
  if (size > 0) {
    text.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(text.data(), size);
  }
  if (in.bad() || (size > 0 && in.gcount() != size)) return Err(DataLossError(path.string() + ": read error"));
  return Parse(text, name.empty() ? path.filename().string() : std::move(name));
}

std::optional<size_t> CsvTable::Column(std::string_view column) const {
  auto it = std::find(header_.begin(), header_.end(), column);
  if (it == header_.end()) return std::nullopt;
  return static_cast<size_t>(it - header_.begin());
}

Status CsvTable::Require(const std::vector<std::string_view>& required) const {
  std::string missing;
  for (auto col : required) {
    if (!Column(col)) missing += (missing.empty() ? "" : ", ") + std::string(col);
  }
  if (missing.empty()) return OkStatus();
  std::string have;
  for (const auto& h : header_) have += (have.empty() ? "" : ", ") + h;
  return InvalidArgumentError(name_ + ":1: missing column(s) " + missing + " (the header has: " + have + ")");
}

std::vector<std::string> CsvTable::UnknownColumns(const std::vector<std::string_view>& known) const {
  std::vector<std::string> out;
  for (const auto& h : header_) {
    if (std::find(known.begin(), known.end(), h) == known.end()) out.push_back(h);
  }
  return out;
}

std::string CsvEscape(std::string_view field) {
  if (field.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace rigshift
