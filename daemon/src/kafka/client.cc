#include "kafka/client.h"

#include <cstring>

#include "common/log.h"

namespace sluice::kafka {
namespace {

log::Level level_for_syslog(int level) {
  if (level <= 3) return log::Level::Error;
  if (level == 4) return log::Level::Warn;
  if (level <= 6) return log::Level::Info;
  return log::Level::Debug;
}

void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  log::Level mapped = level_for_syslog(level);
  if (!log::enabled(mapped)) return;
  log::write(mapped, "kafka client log",
             {{"client", rd_kafka_name(rk)}, {"facility", facility}, {"detail", message}});
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* context = static_cast<ClientContext*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  bool fatal = false;
  std::string detail = reason;
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buffer[512];
    code = rd_kafka_fatal_error(rk, buffer, sizeof buffer);
    detail = buffer;
    fatal = true;
  }
  if (context != nullptr && context->on_error) {
    context->on_error(code, detail, fatal);
  } else {
    log::warn("kafka client error", {{"client", rd_kafka_name(rk)}, {"error", error_name(code)}, {"detail", detail}});
  }
}

}  // namespace

ConfPtr make_conf(const Properties& properties, std::vector<std::string>& errors) {
  ConfPtr conf(rd_kafka_conf_new());
  char error_text[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error_text, sizeof error_text) !=
        RD_KAFKA_CONF_OK) {
      errors.push_back(name + ": " + error_text);
    }
  }
  return conf;
}

HandlePtr make_client(rd_kafka_type_t type, ConfPtr conf, ClientContext* context, std::string& error) {
  rd_kafka_conf_set_opaque(conf.get(), context);
  rd_kafka_conf_set_log_cb(conf.get(), on_log);
  rd_kafka_conf_set_error_cb(conf.get(), on_error);
  char error_text[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf.get(), error_text, sizeof error_text);
  if (handle == nullptr) {
    error = error_text;
    return nullptr;
  }
  (void)conf.release();  // rd_kafka_new took ownership
  return HandlePtr(handle);
}

std::string error_name(rd_kafka_resp_err_t error) {
  const char* name = rd_kafka_err2name(error);
  return name != nullptr ? name : std::to_string(static_cast<int>(error));
}

}  // namespace sluice::kafka
