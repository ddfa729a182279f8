#include "chaos/scale_out_result.h"

#include <cstdio>
#include <sstream>

namespace sluice::chaos {

RunReport render_scale_out(const ScaleOutResult& result) {
  bool passed = result.accounting.lost() == 0 && all_ok(result.checks);
  std::ostringstream out;
  char line[256];
  out << "== sluice scale-out report ==\n";
  std::snprintf(line, sizeof line, "seed %llu, %d instances, retry.ordering %s, run time %.1f s (operator %.1f s, recovery %.1f s)\n",
                static_cast<unsigned long long>(result.seed), result.options.instances, result.options.retry_ordering.c_str(), result.run_seconds,
                result.operate_seconds, result.recovery_seconds);
  out << line;
  accounting_text(out, result.accounting);
  out << "downstream, per sink (topic / HTTP):\n";
  for (const auto& [label, sink] : {std::pair<const char*, const SinkOrder*>{"topic", &result.order.topic}, {"HTTP", &result.order.http}}) {
    text_row(out, std::string(label) + ": keys (input partition, key)", sink->keys);
    text_row(out, std::string(label) + ": records delivered", sink->first_arrivals);
    text_row(out, std::string(label) + ": duplicates", sink->duplicates);
    text_row(out, std::string(label) + ":   across a kill -9", sink->duplicates_kill);
    text_row(out, std::string(label) + ":   resent after a failed attempt", sink->duplicates_resent);
    text_row(out, std::string(label) + ":   neither (unexplained)", sink->unexplained_duplicates);
    text_row(out, std::string(label) + ": order violations", sink->violations);
    for (const auto& [cause, count] : sink->violation_causes) text_row(out, cause, count, 6);
    int shown = 0;
    for (const std::string& example : sink->order_examples) {
      if (shown++ < 3) out << "    e.g. " << example << "\n";
    }
  }
  out << "operator:\n";
  for (const ActionResult& action : result.actions) {
    if (action.kill) {
      std::snprintf(line, sizeof line, "  kill -9 %s: restarted after %.1f s, replacement ready %.1f s after the kill\n",
                    action.instance.c_str(), action.restart_delay_seconds, action.ready_seconds);
    } else {
      std::snprintf(line, sizeof line, "  SIGTERM %s: exit %d after %.1f s, replacement ready %.1f s after the SIGTERM\n",
                    action.instance.c_str(), action.exit_status.value_or(-1), action.exit_seconds, action.ready_seconds);
    }
    out << line;
  }
  for (const auto& [name, status] : result.final_exits) out << "  final SIGTERM " << name << ": exit " << status << "\n";
  out << "faults injected:\n";
  for (const auto& [kind, count] : result.faults) text_row(out, kind, count);
  text_row(out, "instance exits by themselves", result.unexpected_exits.size());
  for (const auto& [topic, count] : result.tier_records) text_row(out, "records in " + topic, count);
  for (const auto& [what, count] : result.commits) text_row(out, "offset commits " + what + " (runs that stopped)", count);
  checks_text(out, result.checks, result.accounting, passed);

  std::ostringstream json;
  json << "{\n  \"mode\": \"scale-out\",\n  \"seed\": " << result.seed << ",\n  \"instances\": " << result.options.instances
       << ",\n  \"retry_ordering\": \"" << result.options.retry_ordering << "\",\n  \"messages\": " << result.options.messages
       << ",\n  \"run_seconds\": " << result.run_seconds << ",\n";
  accounting_json(json, result.accounting);
  for (const auto& [label, sink] : {std::pair<const char*, const SinkOrder*>{"topic", &result.order.topic}, {"http", &result.order.http}}) {
    json << "  \"" << label << "\": {\"keys\": " << sink->keys << ", \"delivered\": " << sink->first_arrivals
         << ", \"duplicates\": " << sink->duplicates << ", \"duplicates_across_a_kill\": " << sink->duplicates_kill
         << ", \"duplicates_resent\": " << sink->duplicates_resent
         << ", \"duplicates_unexplained\": " << sink->unexplained_duplicates
         << ", \"order_violations\": " << sink->violations << ", \"violation_causes\": {";
    counts_json(json, sink->violation_causes);
    json << "}},\n";
  }
  json << "  \"actions\": [";
  for (size_t i = 0; i < result.actions.size(); ++i) {
    const ActionResult& action = result.actions[i];
    json << (i ? ", " : "") << "{\"kind\": \"" << (action.kill ? "kill9" : "sigterm") << "\", \"instance\": \""
         << action.instance << "\", \"exit_status\": " << action.exit_status.value_or(-1)
         << ", \"exit_seconds\": " << action.exit_seconds << ", \"ready_seconds\": " << action.ready_seconds << "}";
  }
  json << "],\n  \"offset_commits\": {";
  counts_json(json, result.commits);
  json << "},\n  \"faults\": {";
  counts_json(json, result.faults);
  json << "},\n";
  checks_json(json, result.checks, passed);
  return {out.str(), json.str(), passed};
}

}  // namespace sluice::chaos
