#include "common/text_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace sluice {

namespace {
struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string too_large(size_t size, size_t max_bytes) {
  return "the file is " + std::to_string(size) + " bytes; the limit is " + describe_byte_limit(max_bytes);
}
}  // namespace

std::string describe_byte_limit(size_t bytes) {
  std::string text = std::to_string(bytes);
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return text + " (" + std::to_string(bytes >> 20) + " MiB)";
  if (bytes >= 1024 && bytes % 1024 == 0) return text + " (" + std::to_string(bytes >> 10) + " KiB)";
  return text;
}

bool read_text_file(const std::string& path, size_t max_bytes, std::string& out, std::string& error) {
  out.clear();
  errno = 0;
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    error = std::strerror(errno);
    return false;
  }
  // The size a regular file claims is checked first; the bounded read below still catches
  // files that claim none (pipes, /proc, a file growing while it is read).
  struct stat status {};
  if (fstat(fileno(file.get()), &status) == 0 && S_ISREG(status.st_mode) &&
      static_cast<unsigned long long>(status.st_size) > max_bytes) {
    error = too_large(static_cast<size_t>(status.st_size), max_bytes);
    return false;
  }
  char buffer[64 * 1024];
  while (true) {
    size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    if (out.size() + n > max_bytes) {
      error = "the file is larger than the limit of " + describe_byte_limit(max_bytes);
      out.clear();
      return false;
    }
    out.append(buffer, n);
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) {
    // Reading a directory opened by name fails here with EISDIR.
    error = std::strerror(errno != 0 ? errno : EIO);
    return false;
  }
  return true;
}

}  // namespace sluice
