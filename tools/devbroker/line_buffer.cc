#include "devbroker/line_buffer.h"

namespace sluice::devbroker {

void LineBuffer::append(std::string_view bytes) {
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  if (discarding_) {
    size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) return;
    bytes.remove_prefix(newline + 1);
    discarding_ = false;
  }
  buffer_.append(bytes);
}

bool LineBuffer::next_line(Line& out) {
  if (discarding_) return false;
  std::string_view pending = std::string_view(buffer_).substr(consumed_);
  size_t newline = pending.find('\n');
  if (newline != std::string_view::npos) {
    out.overlong = newline > max_line_bytes_;
    out.text = pending.substr(0, out.overlong ? max_line_bytes_ : newline);
    consumed_ += newline + 1;
    return true;
  }
  if (pending.size() > max_line_bytes_) {
    out.overlong = true;
    out.text = pending.substr(0, max_line_bytes_);
    consumed_ = buffer_.size();
    discarding_ = true;
    return true;
  }
  return false;
}

bool LineBuffer::take_rest(Line& out) {
  bool was_discarding = discarding_;
  discarding_ = false;
  rest_.assign(buffer_, consumed_);
  buffer_.clear();
  consumed_ = 0;
  if (was_discarding || rest_.empty()) return false;
  out.text = rest_;
  out.overlong = rest_.size() > max_line_bytes_;
  if (out.overlong) out.text = out.text.substr(0, max_line_bytes_);
  return true;
}

}  // namespace sluice::devbroker
