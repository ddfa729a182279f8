#include "dedup/dedup_store.h"

#include <memory>
#include <utility>

#include "common/assert.h"
#include "common/text.h"
#include "config/config.h"
#include "dedup/memory_dedup_store.h"
#include "dedup/redis_dedup_store.h"
#include "dedup/sqlite_dedup_store.h"

namespace sluice::dedup {

int64_t system_now_ms() { return text::now_epoch_ms(); }

std::string_view operation_name(StoreOperation operation) {
  switch (operation) {
    case StoreOperation::Reserve: return "reserve";
    case StoreOperation::Confirm: return "confirm";
    case StoreOperation::Release: return "release";
    case StoreOperation::Flush: return "flush";
    case StoreOperation::Expire: return "expire";
  }
  return "unknown";
}

uint64_t DedupStore::request_flush() {
  ++issued_ticket_;
  if (flush()) durable_ticket_ = issued_ticket_;
  return issued_ticket_;
}

DedupStorePtr make_dedup_store(const config::DedupConfig& config, NowFn now) {
  switch (config.backend) {
    case config::DedupBackend::Memory:
      return std::make_unique<MemoryDedupStore>(config.window, config.memory_max_entries, std::move(now));
    case config::DedupBackend::Sqlite:
      return std::make_unique<SqliteDedupStore>(config.sqlite_path, config.window, std::move(now));
    case config::DedupBackend::Redis:
      return std::make_unique<RedisDedupStore>(RedisDedupOptions{.url = config.redis_url,
                                                                 .key_prefix = config.key_prefix,
                                                                 .window = config.window,
                                                                 .reservation_ttl = config.reservation_ttl},
                                               std::move(now));
  }
  SLUICE_ASSERT(false, "every DedupBackend has a case above");
  return nullptr;
}

}  // namespace sluice::dedup
