#pragma once
// Whole-file reads of files an operator points sluice at (the config file, schemas, sender
// lists), at load time only. Each read has a size limit that is checked before the file is
// read whole: a file many times larger than intended (a log pasted by mistake, /dev/zero)
// must be refused with a clear error, not take the process's memory.

#include <cstddef>
#include <string>

namespace sluice {

// Reads `path` into `out`. On failure returns false with `error` set to the reason, e.g.
// "No such file or directory" or "the file is 70000000 bytes; the limit is 16777216 (16 MiB)".
bool read_text_file(const std::string& path, size_t max_bytes, std::string& out, std::string& error);

// "16777216 (16 MiB)": how limits are written in messages.
std::string describe_byte_limit(size_t bytes);

}  // namespace sluice
