#pragma once
// Whole-file reads for the stage resources (schemas, sender lists). Load time only.

#include <string>

namespace sluice::stages {

// Reads `path` into `out`. On failure returns false with `error` set to the reason, e.g.
// "No such file or directory".
bool read_text_file(const std::string& path, std::string& out, std::string& error);

}  // namespace sluice::stages
