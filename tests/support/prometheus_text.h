#pragma once
// Reading values out of the Prometheus text format that the admin server's /metrics answers.

#include <map>
#include <optional>
#include <string>

namespace sluice::test {

// The value of the sample of `name` whose labels include every pair of `labels` (other
// labels may be present, in any order); nullopt when no such sample is in `text`.
std::optional<double> metric_value(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});

}  // namespace sluice::test
