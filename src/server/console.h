// The web console's files (web/src and uPlot from npm), served by `rigshift server` at `/` and
// `/assets/...`: embedded in the binary at build time (cmake/EmbedFiles.cmake), or read from a
// folder when RIGSHIFT_CONSOLE_DIR names one (for working on the console without rebuilding).
//
// Every answer carries a Content-Security-Policy that lets the page load only its own files and
// call only this server, and an ETag: the browser keeps the files and asks again with
// If-None-Match (Cache-Control: no-cache), getting 304 with no body until the binary changes.
// docs/console.md says more.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "net/http.h"

namespace rigshift {

struct EmbeddedFile {
  const char* url;  // "/assets/app.js"
  const unsigned char* data;
  size_t size;
};
// The table the build generates (console_assets.cc).
const std::vector<EmbeddedFile>& EmbeddedConsoleFiles();

// The console's pages' policy: their own scripts, styles and frames, calls to this server only.
inline constexpr std::string_view kConsolePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

class Console {
 public:
  // The files built into the binary.
  static Console Embedded();
  // The files of `src` (served at /assets/...) and `vendor_dir`'s `vendor` files (at
  // /assets/vendor/...), read now. NotFound naming a missing file or folder.
  static Result<Console> FromDirectory(const std::filesystem::path& src, const std::filesystem::path& vendor_dir,
                                       const std::vector<std::string>& vendor);

  // GET of `/` (the page) or of a file under /assets/; nullopt for any other request.
  // An unknown /assets/ path is a 404.
  std::optional<net::HttpResponse> Serve(const net::HttpRequest& request) const;

  size_t file_count() const { return files_.size(); }

 private:
  struct File {
    std::string content_type;
    std::string body;
    std::string etag;
  };
  void Add(std::string url, std::string body);
  std::map<std::string, File, std::less<>> files_;
};

// The Content-Type of a file by its name's extension.
std::string_view ContentTypeOf(std::string_view name);

}  // namespace rigshift
