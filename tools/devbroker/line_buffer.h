#pragma once
// Splits a byte stream from a control channel into lines of bounded length.
//
// Memory stays below max_line_bytes plus one appended chunk: a line that grows past the
// limit is handed out once, cut, with `overlong` set, and the rest of it is dropped up to
// its newline.

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::devbroker {

struct Line {
  std::string_view text;  // without the newline; valid until the next append() or take_rest()
  bool overlong = false;
};

class LineBuffer {
 public:
  explicit LineBuffer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Adds bytes read from the channel. Invalidates lines handed out before.
  void append(std::string_view bytes);

  // The next complete (or overlong) line; false when none is buffered.
  bool next_line(Line& out);

  // At end of input: the unterminated last line, if any, then the buffer is empty again.
  bool take_rest(Line& out);

 private:
  size_t max_line_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;      // bytes of buffer_ already handed out
  bool discarding_ = false;  // inside an overlong line, dropping up to its newline
  std::string rest_;         // backs the line returned by take_rest()
};

}  // namespace sluice::devbroker
