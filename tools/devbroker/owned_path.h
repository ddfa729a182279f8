#pragma once
// Files the broker publishes for its harness (bootstrap file, pid file, control FIFO) and
// removes again when it stops, so a leftover file always means the broker was killed.

#include <string>
#include <string_view>

namespace sluice::devbroker {

// Writes `content` to `path` + ".tmp", then renames it over `path`, so a reader that sees the
// file sees all of it. false with `error` set on failure (the temporary file is removed).
bool write_file_atomically(const std::string& path, std::string_view content, std::string* error);

// Unlinks its path on destruction. Move-only; a moved-from instance owns nothing.
class OwnedPath {
 public:
  explicit OwnedPath(std::string path) : path_(std::move(path)) {}
  ~OwnedPath();
  OwnedPath(OwnedPath&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  OwnedPath& operator=(OwnedPath&&) = delete;
  OwnedPath(const OwnedPath&) = delete;
  OwnedPath& operator=(const OwnedPath&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sluice::devbroker
