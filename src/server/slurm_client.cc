#include "server/slurm_client.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/command.h"

namespace rigshift {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "2026-12-05T00:23:30" (UTC) -> Timestamp; "N/A", "Unknown", "" -> nullopt.
std::optional<Timestamp> ParseSlurmTime(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (s.size() != 19 || std::sscanf(std::string(s).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) {
    return std::nullopt;
  }
  Date day = Date::FromYmd(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return Timestamp{day.start().seconds + h * 3600 + mi * 60 + se};
}

}  // namespace

bool SlurmNode::up() const {
  if (state.find('*') != std::string::npos) return false;  // not responding
  for (std::string_view ok : {"idle", "mixed", "allocated", "completing"}) {
    if (state == ok) return true;
  }
  return false;
}

std::vector<int> ParseGpuGres(std::string_view gres, const SlurmOptions& o) {
  std::vector<int> out;
  for (std::string_view item : Split(gres, ',')) {
    item = Trim(item);
    if (item.starts_with("gres:")) item.remove_prefix(5);
    // NAME:TYPE:COUNT (or NAME:TYPE:COUNT(IDX:...) from scontrol -d; the count is 1 per type here).
    auto parts = Split(item, ':');
    if (parts.size() < 3 || parts[0] != o.gres || !parts[1].starts_with(o.type_prefix)) continue;
    std::string_view k = parts[1].substr(o.type_prefix.size());
    int slot = -1;
    auto [p, ec] = std::from_chars(k.data(), k.data() + k.size(), slot);
    if (ec != std::errc() || p != k.data() + k.size() || slot < 0) continue;
    out.push_back(slot);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string PinnedGres(const std::vector<int>& slots, const SlurmOptions& o) {
  std::string out;
  for (int s : slots) {
    if (!out.empty()) out += ',';
    out += o.gres + ":" + o.type_prefix + std::to_string(s) + ":1";
  }
  return out;
}

Result<std::vector<SlurmNode>> ParseSinfo(std::string_view text, const SlurmOptions& o) {
  std::vector<SlurmNode> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (Trim(line).empty()) continue;
    auto f = Split(line, '|');
    if (f.size() != 3) {
      return Err(InternalError("sinfo line " + std::to_string(line_no) + ": expected NODE|STATE|GRES, got '" +
                               std::string(line) + "'"));
    }
    std::string name(Trim(f[0]));
    if (std::any_of(out.begin(), out.end(), [&](const SlurmNode& n) { return n.name == name; })) continue;
    out.push_back({name, std::string(Trim(f[1])), ParseGpuGres(f[2], o)});
  }
  return out;
}

Result<std::vector<SlurmJob>> ParseSqueue(std::string_view text, const SlurmOptions& o) {
  std::vector<SlurmJob> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (Trim(line).empty()) continue;
    auto f = Split(line, '|');
    if (f.size() != 8) {
      return Err(InternalError("squeue line " + std::to_string(line_no) +
                               ": expected ID|NAME|STATE|NODE|GRES|START|END|ASKED, got '" + std::string(line) + "'"));
    }
    SlurmJob j;
    std::string_view id = Trim(f[0]);
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), j.id);
    if (ec != std::errc() || p != id.data() + id.size()) continue;  // an array task "12_3": not ours
    j.name = std::string(Trim(f[1]));
    j.state = std::string(Trim(f[2]));
    j.node = std::string(Trim(f[3]));
    if (j.node.empty() || j.node == "(null)" || j.node == "n/a") j.node = std::string(Trim(f[7]));
    if (j.node == "(null)" || j.node == "n/a") j.node.clear();
    j.gpus = ParseGpuGres(f[4], o);
    if (j.state != "PENDING") j.start = ParseSlurmTime(Trim(f[5]));
    if (!j.active()) j.end = ParseSlurmTime(Trim(f[6]));
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::string> SlurmClient::Run(std::vector<std::string> argv) {
  std::vector<std::string> env = {"TZ=UTC"};
  if (!o_.conf.empty()) env.push_back("SLURM_CONF=" + o_.conf);
  std::string what = argv[0];
  RS_ASSIGN_OR_RETURN(CommandResult r, RunCommand(argv, env, o_.timeout));
  if (r.exit_code != 0) {
    std::string why = r.err.empty() ? r.out : r.err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Err(UnavailableError(what + " failed (exit " + std::to_string(r.exit_code) + "): " + why));
  }
  return r.out;
}

Result<std::vector<SlurmNode>> SlurmClient::Nodes() {
  RS_ASSIGN_OR_RETURN(std::string out, Run({"sinfo", "-h", "-N", "-p", o_.ai_partition, "-o", "%N|%T|%G"}));
  return ParseSinfo(out, o_);
}

Result<std::vector<SlurmJob>> SlurmClient::Jobs(std::string_view prefix) {
  RS_ASSIGN_OR_RETURN(std::string out, Run({"squeue", "-h", "-t", "all", "-o", "%i|%j|%T|%N|%b|%S|%e|%n"}));
  RS_ASSIGN_OR_RETURN(std::vector<SlurmJob> all, ParseSqueue(out, o_));
  std::erase_if(all, [&](const SlurmJob& j) { return !j.name.starts_with(prefix); });
  return all;
}

Result<int64_t> SlurmClient::Submit(const std::string& partition, const std::string& node,
                                    const std::vector<int>& slots, const std::string& name,
                                    const std::string& command) {
  std::string output = o_.output_dir.empty() ? "/dev/null" : o_.output_dir + "/%x.out";
  RS_ASSIGN_OR_RETURN(std::string out, Run({"sbatch", "--parsable", "-p", partition, "-w", node, "-N", "1", "-n", "1",
                                            "--gres=" + PinnedGres(slots, o_), "-J", name, "-o", output,
                                            "--no-requeue", "--wrap", command}));
  int64_t id = 0;
  std::string_view t = Trim(out);
  if (size_t semi = t.find(';'); semi != std::string_view::npos) t = t.substr(0, semi);  // "ID;CLUSTER"
  while (!t.empty() && t.back() == '\n') t.remove_suffix(1);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), id);
  if (ec != std::errc() || id <= 0) return Err(InternalError("sbatch printed '" + out + "', not a job id"));
  return id;
}

Status SlurmClient::Cancel(const std::vector<int64_t>& ids) {
  if (ids.empty()) return OkStatus();
  std::vector<std::string> argv = {"scancel"};
  for (int64_t id : ids) argv.push_back(std::to_string(id));
  auto done = Run(argv);
  return done ? OkStatus() : done.error();
}

}  // namespace rigshift
