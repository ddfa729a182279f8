#include "devbroker/control_fifo.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace sluice::devbroker {
namespace {

UniqueFd open_for_reading(const std::string& path, std::string* error) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) *error = "cannot open control FIFO " + path + ": " + std::strerror(errno);
  return fd;
}

}  // namespace

std::unique_ptr<ControlFifo> ControlFifo::open(const std::string& path, std::string* error) {
  std::optional<OwnedPath> created;
  if (::mkfifo(path.c_str(), 0600) == 0) {
    created.emplace(path);
  } else if (errno != EEXIST) {
    *error = "cannot create control FIFO " + path + ": " + std::strerror(errno);
    return nullptr;
  } else {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISFIFO(info.st_mode)) {
      *error = "control path " + path + " exists and is not a FIFO";
      return nullptr;
    }
  }
  UniqueFd fd = open_for_reading(path, error);
  if (!fd.valid()) return nullptr;
  return std::unique_ptr<ControlFifo>(new ControlFifo(std::move(created), path, std::move(fd)));
}

ControlFifo::ControlFifo(std::optional<OwnedPath> created, std::string path, UniqueFd fd)
    : created_(std::move(created)), path_(std::move(path)), fd_(std::move(fd)) {}

bool ControlFifo::reopen(std::string* error) {
  // The new descriptor before the old one closes: the FIFO is never without a reader, so a
  // writer that opened it after the end-of-file was read wrote into the same pipe, and its
  // command is read from the new descriptor. (Closing first discarded such a command with the
  // pipe: its writer saw no error and never got a reply.)
  UniqueFd fresh = open_for_reading(path_, error);
  if (!fresh.valid()) return false;
  fd_ = std::move(fresh);
  return true;
}

}  // namespace sluice::devbroker
