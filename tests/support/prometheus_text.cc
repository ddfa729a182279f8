#include "support/prometheus_text.h"

#include <cstdlib>
#include <sstream>

namespace sluice::test {
namespace {

// `name="value"` pairs between the braces of one sample line (escapes as the format writes
// them: \\, \" and \n).
std::map<std::string, std::string> parse_labels(const std::string& inside) {
  std::map<std::string, std::string> labels;
  size_t at = 0;
  while (at < inside.size()) {
    size_t equals = inside.find('=', at);
    if (equals == std::string::npos || equals + 1 >= inside.size() || inside[equals + 1] != '"') break;
    std::string label = inside.substr(at, equals - at);
    std::string value;
    size_t i = equals + 2;
    for (; i < inside.size() && inside[i] != '"'; ++i) {
      if (inside[i] == '\\' && i + 1 < inside.size()) {
        ++i;
        value += inside[i] == 'n' ? '\n' : inside[i];
      } else {
        value += inside[i];
      }
    }
    labels[label] = value;
    at = i + 1;
    if (at < inside.size() && inside[at] == ',') ++at;
  }
  return labels;
}

}  // namespace

std::optional<double> metric_value(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
    std::map<std::string, std::string> found;
    size_t rest = name.size();
    if (rest < line.size() && line[rest] == '{') {
      size_t close = line.rfind('}');
      if (close == std::string::npos || close < rest) continue;
      found = parse_labels(line.substr(rest + 1, close - rest - 1));
      rest = close + 1;
    }
    if (rest >= line.size() || line[rest] != ' ') continue;  // a longer name that starts the same
    bool matches = true;
    for (const auto& [label, value] : labels) {
      auto it = found.find(label);
      if (it == found.end() || it->second != value) {
        matches = false;
        break;
      }
    }
    if (matches) return std::strtod(line.c_str() + rest + 1, nullptr);
  }
  return std::nullopt;
}

}  // namespace sluice::test
