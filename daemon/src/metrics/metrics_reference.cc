// docs/METRICS.md, rendered from kMetricTable: the reference cannot drift from what the
// daemon exports (a unit test compares the file with this text).

#include <string>

#include "metrics/metrics.h"

namespace sluice::metrics {

std::string render_metrics_reference() {
  std::string out =
      "# Metrics\n"
      "\n"
      "<!-- Generated from kMetricTable (daemon/src/metrics/metrics.cc) by `sluice metrics-reference`;\n"
      "     do not edit by hand. -->\n"
      "\n"
      "Every metric the admin server's `/metrics` answers (admin.listen, port 9464 by default).\n"
      "Every family is present from start-up: counters of every label set known at start (topics,\n"
      "routes, sinks and retry tiers from the config; results and classes from fixed sets) are\n"
      "exported at 0, so `increase()` sees their first event. Histograms are exported as\n"
      "`<name>_bucket{le}`, `<name>_sum` and `<name>_count`. The `process_*` metrics are read from\n"
      "`/proc/self` at each scrape.\n"
      "\n"
      "| Metric | Type | Labels | Help |\n"
      "|---|---|---|---|\n";
  for (const MetricSpec& spec : metric_table()) {
    std::string labels;
    for (size_t i = 0; i < spec.label_count(); ++i) {
      if (i > 0) labels += ", ";
      labels += "`" + std::string(spec.labels[i]) + "`";
    }
    if (spec.fixed_values != nullptr) {
      std::string values(spec.fixed_values);
      for (size_t at = values.find(','); at != std::string::npos; at = values.find(',', at + 2)) values.replace(at, 1, ", ");
      labels += " (" + values + ")";
    }
    if (labels.empty()) labels = "—";
    out += "| `" + std::string(spec.name) + "` | " + std::string(type_name(spec.type)) + " | " + labels + " | " +
           spec.help + " |\n";
  }
  return out;
}

}  // namespace sluice::metrics
