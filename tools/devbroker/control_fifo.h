#pragma once
// The named pipe that control commands arrive on (`echo "down -1" > FIFO`).
//
// It is opened non-blocking for reading, so the broker never waits for a writer. When the
// last writer closes, read() returns 0 and the FIFO is opened again (the new descriptor
// before the old one closes, so a command written meanwhile is kept): that resets its end-of-file
// state, so poll() sleeps until the next writer instead of reporting hang-up forever, and an
// unterminated last line ends with its writer rather than merging into the next one's.

#include <memory>
#include <optional>
#include <string>

#include "devbroker/owned_path.h"
#include "devbroker/unique_fd.h"

namespace sluice::devbroker {

class ControlFifo {
 public:
  // Creates the FIFO when the path does not exist (and then removes it on destruction) or
  // reuses an existing FIFO. nullptr with `error` set when the path is something else or
  // cannot be created or opened.
  static std::unique_ptr<ControlFifo> open(const std::string& path, std::string* error);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // After end-of-file; false with `error` set when the FIFO cannot be opened again.
  bool reopen(std::string* error);

 private:
  ControlFifo(std::optional<OwnedPath> created, std::string path, UniqueFd fd);

  // Member order is destruction order reversed: the descriptor closes before the unlink.
  std::optional<OwnedPath> created_;
  std::string path_;
  UniqueFd fd_;
};

}  // namespace sluice::devbroker
