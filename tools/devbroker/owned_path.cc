#include "devbroker/owned_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "devbroker/unique_fd.h"

namespace sluice::devbroker {

bool write_file_atomically(const std::string& path, std::string_view content, std::string* error) {
  std::string temporary = path + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    *error = "cannot create " + temporary + ": " + std::strerror(errno);
    return false;
  }
  std::string_view rest = content;
  while (!rest.empty()) {
    ssize_t written = ::write(fd.get(), rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      *error = "cannot write " + temporary + ": " + std::strerror(errno);
      ::unlink(temporary.c_str());
      return false;
    }
    rest.remove_prefix(static_cast<size_t>(written));
  }
  fd.reset();
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + temporary + " to " + path + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

OwnedPath::~OwnedPath() {
  if (path_.empty()) return;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    log::warn("cannot remove file", {{"path", path_}, {"error", std::strerror(errno)}});
  }
}

}  // namespace sluice::devbroker
