#include "server/console.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace rigshift {
namespace {

// FNV-1a, 64 bits: an ETag only has to change when the bytes do.
std::string EtagOf(std::string_view body) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Whether an If-None-Match header names `etag` ("*", one tag, or a list).
bool Matches(std::string_view header, std::string_view etag) {
  if (header == "*") return true;
  size_t at = header.find(etag);
  return at != std::string_view::npos;
}

}  // namespace

std::string_view ContentTypeOf(std::string_view name) {
  if (EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (EndsWith(name, ".js") || EndsWith(name, ".mjs")) return "text/javascript; charset=utf-8";
  if (EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (EndsWith(name, ".svg")) return "image/svg+xml";
  if (EndsWith(name, ".png")) return "image/png";
  if (EndsWith(name, ".json")) return "application/json";
  if (EndsWith(name, ".ico")) return "image/x-icon";
  return "application/octet-stream";
}

void Console::Add(std::string url, std::string body) {
  File f;
  f.content_type = ContentTypeOf(url);
  f.etag = EtagOf(body);
  f.body = std::move(body);
  files_[std::move(url)] = std::move(f);
}

Console Console::Embedded() {
  Console c;
  for (const EmbeddedFile& f : EmbeddedConsoleFiles()) {
    c.Add(f.url, std::string(reinterpret_cast<const char*>(f.data), f.size));
  }
  return c;
}

Result<Console> Console::FromDirectory(const std::filesystem::path& src, const std::filesystem::path& vendor_dir,
                                       const std::vector<std::string>& vendor) {
  namespace fs = std::filesystem;
  auto read = [](const fs::path& p) -> Result<std::string> {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Err(NotFoundError("console: cannot read " + p.string()));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  std::error_code ec;
  if (!fs::is_directory(src, ec)) return Err(NotFoundError("console: no folder " + src.string()));
  Console c;
  for (fs::recursive_directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    RS_ASSIGN_OR_RETURN(std::string body, read(it->path()));
    c.Add("/assets/" + fs::relative(it->path(), src).generic_string(), std::move(body));
  }
  if (ec) return Err(NotFoundError("console: cannot list " + src.string() + ": " + ec.message()));
  for (const std::string& name : vendor) {
    RS_ASSIGN_OR_RETURN(std::string body, read(vendor_dir / name));
    c.Add("/assets/vendor/" + name, std::move(body));
  }
  return c;
}

std::optional<net::HttpResponse> Console::Serve(const net::HttpRequest& request) const {
  if (request.method != "GET") return std::nullopt;
  std::string_view path = request.path;
  if (path == "/" || path == "/index.html") path = "/assets/index.html";
  if (!path.starts_with("/assets/")) return std::nullopt;
  auto found = files_.find(path);
  if (found == files_.end()) {
    return net::ErrorResponse(404, "not_found", "no console file " + std::string(request.path));
  }
  const File& f = found->second;
  net::HttpResponse r;
  r.headers = {{"Content-Security-Policy", std::string(kConsolePolicy)},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"},
               {"ETag", f.etag}};
  if (!request.if_none_match.empty() && Matches(request.if_none_match, f.etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = f.content_type;
  r.body = f.body;
  return r;
}

}  // namespace rigshift
