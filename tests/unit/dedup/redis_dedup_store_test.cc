// The redis backend against a private redis-server per test: the reserve/confirm/release
// protocol, sharing keys with other owners and with the reference detector, one round trip
// per batch, and outages (stopped, hung) without blocking or losing confirmed entries.
// Backoff runs on a manual clock; expiry is driven through PEXPIRE and awaited.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "dedup/dedup_store.h"
#include "dedup/redis_dedup_store.h"
#include "support/redis_server.h"
#include "support/wait.h"
#include "unit/dedup/dedup_test_helpers.h"

namespace sluice::dedup {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::wait_until;
using testing::count_of;
using testing::fingerprint_of;
using testing::fingerprints_from;
using testing::ManualClock;
using testing::reserve;
using Status = ReserveStatus;

constexpr std::chrono::milliseconds kWindow = 10min;
constexpr std::chrono::milliseconds kReservationTtl = 30s;
constexpr char kPrefix[] = "duplicate_check:";

RedisDedupOptions options_for(const std::string& url, bool single_command_reserve = true) {
  RedisDedupOptions options;
  options.single_command_reserve = single_command_reserve;
  options.url = url;
  options.key_prefix = kPrefix;
  options.window = kWindow;
  options.reservation_ttl = kReservationTtl;
  options.command_timeout = 300ms;
  options.connect_timeout = 300ms;
  return options;
}

std::string key_of(const Fingerprint& fingerprint) { return kPrefix + fingerprint.hex(); }

int64_t pttl(const RedisServer& server, const Fingerprint& fingerprint) {
  return std::stoll(server.command({"PTTL", key_of(fingerprint)}).value());
}

// Expires the key now, as its TTL passing would, and waits until Redis agrees.
void expire_now(const RedisServer& server, const Fingerprint& fingerprint) {
  REQUIRE(server.command({"PEXPIRE", key_of(fingerprint), "1"}) == "1");
  REQUIRE(wait_until([&] { return server.command({"EXISTS", key_of(fingerprint)}) == "0"; }, 2s, 1ms));
}

// Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats.
int64_t calls_of(const RedisServer& server, const std::string& command) {
  const std::string stats = server.command({"INFO", "commandstats"}).value();
  const std::string marker = "cmdstat_" + command + ":calls=";
  const size_t at = stats.find(marker);
  if (at == std::string::npos) return 0;
  return std::stoll(stats.substr(at + marker.size()));
}

// The server here is Redis 7, so single_command_reserve picks the form reserve() uses.
struct Fixture {
  explicit Fixture(bool single_command_reserve = true)
      : store(options_for(server.url(), single_command_reserve), clock.fn()) {
    REQUIRE(store.single_command_reserve() == single_command_reserve);
  }

  RedisServer server;
  ManualClock clock;
  RedisDedupStore store;
};

TEST_CASE("redis urls are parsed, and wrong ones rejected without showing the password", "[dedup][redis][url]") {
  const RedisEndpoint plain = parse_redis_url("redis://cache.internal");
  CHECK(plain.host == "cache.internal");
  CHECK(plain.port == 6379);
  CHECK(plain.db == 0);
  CHECK(plain.password.empty());

  const RedisEndpoint full = parse_redis_url("redis://:p%40ss@10.0.0.7:6380/5");
  CHECK(full.host == "10.0.0.7");
  CHECK(full.port == 6380);
  CHECK(full.db == 5);
  CHECK(full.username.empty());
  CHECK(full.password == "p@ss");

  const RedisEndpoint acl = parse_redis_url("REDIS://sluice:a@b@[::1]:7000/");
  CHECK(acl.host == "::1");
  CHECK(acl.port == 7000);
  CHECK(acl.username == "sluice");
  CHECK(acl.password == "a@b");

  for (const char* bad : {"rediss://:hunter2@host", "http://host", "host:6379", "redis://", "redis://host:0",
                          "redis://host:70000", "redis://host:/1", "redis://host/x", "redis://host/-1",
                          "redis://hunter2@host", "redis://:hunter2@host?timeout=1", "redis://::1:6379",
                          "redis://:hunter2@host/db1", "redis://:%zz@host"}) {
    CAPTURE(bad);
    try {
      parse_redis_url(bad);
      FAIL("accepted");
    } catch (const std::runtime_error& error) {
      const std::string message = error.what();
      CHECK(message.find("pipeline.dedup.redis_url") != std::string::npos);
      CHECK(message.find("hunter2") == std::string::npos);
    }
  }
}

TEST_CASE("redis: a new fingerprint is reserved, busy while held, and a duplicate once confirmed",
          "[dedup][redis][protocol]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  RedisDedupStore& store = fixture.store;
  REQUIRE(store.connected());
  const std::vector<Fingerprint> one{fingerprint_of(1)};

  CHECK(reserve(store, one) == std::vector{Status::Reserved});
  CHECK(fixture.server.command({"GET", key_of(one[0])}) == store.owner());
  CHECK(store.owner().starts_with(RedisDedupStore::kOwnerPrefix));
  CHECK(pttl(fixture.server, one[0]) > 0);
  CHECK(pttl(fixture.server, one[0]) <= kReservationTtl.count());

  CHECK(reserve(store, one) == std::vector{Status::Busy});
  CHECK(reserve(store, std::vector{fingerprint_of(2)}) == std::vector{Status::Reserved});

  store.confirm(one);
  CHECK(store.pending() == 0);
  CHECK(store.flush());
  CHECK(fixture.server.command({"GET", key_of(one[0])}) == "1");
  CHECK(pttl(fixture.server, one[0]) > kReservationTtl.count());
  CHECK(pttl(fixture.server, one[0]) <= kWindow.count());
  CHECK(reserve(store, one) == std::vector{Status::Duplicate});
}

TEST_CASE("redis: a second copy within one batch is busy", "[dedup][redis][protocol]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  const std::vector<Fingerprint> batch{fingerprint_of(1), fingerprint_of(2), fingerprint_of(1)};

  CHECK(reserve(fixture.store, batch) == std::vector{Status::Reserved, Status::Reserved, Status::Busy});
}

TEST_CASE("redis: a released fingerprint is reserved again", "[dedup][redis][protocol]") {
  Fixture fixture;
  const std::vector<Fingerprint> one{fingerprint_of(7)};
  REQUIRE(reserve(fixture.store, one) == std::vector{Status::Reserved});

  fixture.store.release(one);

  CHECK(fixture.server.command({"EXISTS", key_of(one[0])}) == "0");
  CHECK(reserve(fixture.store, one) == std::vector{Status::Reserved});
}

TEST_CASE("redis: expired entries and reservations do not block", "[dedup][redis][protocol]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  const std::vector<Fingerprint> confirmed{fingerprint_of(3)};
  const std::vector<Fingerprint> reserved{fingerprint_of(4)};
  REQUIRE(reserve(fixture.store, confirmed) == std::vector{Status::Reserved});
  fixture.store.confirm(confirmed);
  REQUIRE(reserve(fixture.store, confirmed) == std::vector{Status::Duplicate});
  REQUIRE(reserve(fixture.store, reserved) == std::vector{Status::Reserved});

  expire_now(fixture.server, confirmed[0]);
  expire_now(fixture.server, reserved[0]);

  CHECK(reserve(fixture.store, confirmed) == std::vector{Status::Reserved});
  CHECK(reserve(fixture.store, reserved) == std::vector{Status::Reserved});
}

TEST_CASE("redis: two owners sharing one server see each other's reservations and entries",
          "[dedup][redis][owners]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  RedisDedupStore& first = fixture.store;
  // The other form: owners of both kinds share keys, e.g. during an upgrade.
  RedisDedupStore second(options_for(fixture.server.url(), !single_command), fixture.clock.fn());
  REQUIRE(first.owner() != second.owner());
  const std::vector<Fingerprint> forwarded{fingerprint_of(10)};
  const std::vector<Fingerprint> failed{fingerprint_of(11)};

  REQUIRE(reserve(first, forwarded) == std::vector{Status::Reserved});
  REQUIRE(reserve(first, failed) == std::vector{Status::Reserved});
  CHECK(reserve(second, forwarded) == std::vector{Status::Busy});
  CHECK(reserve(second, failed) == std::vector{Status::Busy});

  first.confirm(forwarded);
  first.release(failed);

  CHECK(reserve(second, forwarded) == std::vector{Status::Duplicate});
  CHECK(reserve(second, failed) == std::vector{Status::Reserved});
  CHECK(reserve(first, failed) == std::vector{Status::Busy});
}

TEST_CASE("redis: release deletes neither another owner's reservation nor a confirmed entry",
          "[dedup][redis][owners]") {
  Fixture fixture;
  RedisDedupStore& first = fixture.store;
  RedisDedupStore second(options_for(fixture.server.url()), fixture.clock.fn());
  const std::vector<Fingerprint> taken_over{fingerprint_of(20)};
  const std::vector<Fingerprint> confirmed{fingerprint_of(21)};

  // The first owner's reservation expires (it was slow) and the second owner takes the key.
  REQUIRE(reserve(first, taken_over) == std::vector{Status::Reserved});
  expire_now(fixture.server, taken_over[0]);
  REQUIRE(reserve(second, taken_over) == std::vector{Status::Reserved});
  first.release(taken_over);
  CHECK(fixture.server.command({"GET", key_of(taken_over[0])}) == second.owner());
  CHECK(reserve(first, taken_over) == std::vector{Status::Busy});

  REQUIRE(reserve(second, confirmed) == std::vector{Status::Reserved});
  second.confirm(confirmed);
  first.release(confirmed);
  second.release(confirmed);
  CHECK(fixture.server.command({"GET", key_of(confirmed[0])}) == "1");
  CHECK(reserve(first, confirmed) == std::vector{Status::Duplicate});
}

TEST_CASE("redis: a key written by the reference detector is a duplicate, and ours look like its own",
          "[dedup][redis][compat]") {
  Fixture fixture;
  const Fingerprint theirs = fingerprint_of(30);
  const Fingerprint ours = fingerprint_of(31);
  // DuplicateDetector.is_duplicate(): EXISTS, then SETEX duplicate_check:<hex> <window seconds> "1".
  REQUIRE(fixture.server.command({"SETEX", "duplicate_check:" + theirs.hex(), "86400", "1"}) == "OK");

  CHECK(reserve(fixture.store, std::vector{theirs}) == std::vector{Status::Duplicate});
  CHECK(fixture.server.command({"GET", "duplicate_check:" + theirs.hex()}) == "1");

  REQUIRE(reserve(fixture.store, std::vector{ours}) == std::vector{Status::Reserved});
  fixture.store.confirm(std::vector{ours});
  CHECK(fixture.server.command({"EXISTS", "duplicate_check:" + ours.hex()}) == "1");
}

TEST_CASE("redis: a batch of 1000 costs one round trip per call", "[dedup][redis][batch]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  RedisDedupStore& store = fixture.store;
  const std::vector<Fingerprint> batch = fingerprints_from(1000, 1000);
  const std::span<const Fingerprint> forwarded(batch.data(), 600);
  const std::span<const Fingerprint> failed(batch.data() + 600, 400);
  REQUIRE(fixture.server.command({"CONFIG", "RESETSTAT"}) == "OK");

  int64_t before = store.round_trips();
  CHECK(count_of(reserve(store, batch), Status::Reserved) == 1000);
  CHECK(store.round_trips() - before == 1);
  CHECK(calls_of(fixture.server, "set") == 1000);
  CHECK(calls_of(fixture.server, "get") == (single_command ? 0 : 1000));

  before = store.round_trips();
  store.confirm(forwarded);
  store.release(failed);
  CHECK(store.flush());
  CHECK(store.round_trips() - before == 2);
  CHECK(calls_of(fixture.server, "set") == 1600);
  CHECK(calls_of(fixture.server, "evalsha") == 400);

  const std::vector<Status> again = reserve(store, batch);
  CHECK(count_of(std::vector(again.begin(), again.begin() + 600), Status::Duplicate) == 600);
  CHECK(count_of(std::vector(again.begin() + 600, again.end()), Status::Reserved) == 400);
}

TEST_CASE("redis: an empty batch gets an empty answer without a round trip", "[dedup][redis][batch]") {
  Fixture fixture;
  const int64_t before = fixture.store.round_trips();
  std::vector<Status> out{Status::Busy};
  fixture.store.reserve({}, out);
  fixture.store.confirm({});
  fixture.store.release({});
  CHECK(out.empty());
  CHECK(fixture.store.flush());
  CHECK(fixture.store.round_trips() == before);
}

TEST_CASE("redis: a flushed script cache falls back to EVAL", "[dedup][redis][release]") {
  Fixture fixture;
  const std::vector<Fingerprint> one{fingerprint_of(40)};
  REQUIRE(reserve(fixture.store, one) == std::vector{Status::Reserved});
  REQUIRE(fixture.server.command({"SCRIPT", "FLUSH"}) == "OK");

  const int64_t before = fixture.store.round_trips();
  fixture.store.release(one);

  CHECK(fixture.store.round_trips() - before == 2);
  CHECK(fixture.server.command({"EXISTS", key_of(one[0])}) == "0");
  CHECK(fixture.store.error_replies() == 0);
  // The script is loaded again: the next release takes one round trip.
  REQUIRE(reserve(fixture.store, one) == std::vector{Status::Reserved});
  const int64_t reloaded = fixture.store.round_trips();
  fixture.store.release(one);
  CHECK(fixture.store.round_trips() - reloaded == 1);
}

TEST_CASE("redis: an error reply answers Unavailable for its fingerprint only", "[dedup][redis][errors]") {
  const bool single_command = GENERATE(true, false);
  Fixture fixture(single_command);
  const std::vector<Fingerprint> batch = fingerprints_from(50, 3);
  // Not a string: GET answers WRONGTYPE.
  REQUIRE(fixture.server.command({"HSET", key_of(batch[1]), "field", "value"}) == "1");

  CHECK(reserve(fixture.store, batch) == std::vector{Status::Reserved, Status::Unavailable, Status::Reserved});
  CHECK(fixture.store.error_replies() == 1);
  CHECK(fixture.store.connected());
  CHECK(fixture.store.unavailable_answers() == 0);
}

TEST_CASE("redis: a stopped server answers Unavailable at once, and confirms wait for its return",
          "[dedup][redis][outage]") {
  Fixture fixture;
  RedisDedupStore& store = fixture.store;
  const std::vector<Fingerprint> before_outage = fingerprints_from(60, 10);
  const std::vector<Fingerprint> during_outage = fingerprints_from(70, 10);
  REQUIRE(count_of(reserve(store, before_outage), Status::Reserved) == 10);
  REQUIRE(count_of(reserve(store, during_outage), Status::Reserved) == 10);

  fixture.server.stop();

  // The first call finds the connection closed; it must not wait for command_timeout.
  auto started = std::chrono::steady_clock::now();
  CHECK(count_of(reserve(store, before_outage), Status::Unavailable) == 10);
  CHECK(std::chrono::steady_clock::now() - started < 150ms);
  CHECK_FALSE(store.connected());
  CHECK(store.unavailable_answers() == 1);

  // Within the backoff nothing touches the network.
  const int64_t attempts = store.connect_attempts();
  const int64_t trips = store.round_trips();
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) REQUIRE(count_of(reserve(store, before_outage), Status::Unavailable) == 10);
  store.confirm(during_outage);
  CHECK_FALSE(store.flush());
  CHECK(std::chrono::steady_clock::now() - started < 100ms);
  CHECK(store.connect_attempts() == attempts);
  CHECK(store.round_trips() == trips);
  CHECK(store.unavailable_answers() == 101);
  CHECK(store.pending() == 10);

  // After the first backoff one attempt is made (refused: the server is down), then the
  // backoff doubles.
  fixture.clock.advance(RedisDedupStore::kFirstBackoff);
  CHECK_FALSE(store.flush());
  CHECK(store.connect_attempts() == attempts + 1);

  fixture.server.start();
  fixture.clock.advance(2 * RedisDedupStore::kFirstBackoff - 1ms);
  CHECK(count_of(reserve(store, before_outage), Status::Unavailable) == 10);
  CHECK(store.connect_attempts() == attempts + 1);

  fixture.clock.advance(1ms);
  // The restarted server is empty; the queued confirms are written by the next flush.
  CHECK(count_of(reserve(store, before_outage), Status::Reserved) == 10);
  CHECK(store.reconnects() == 1);
  CHECK(store.pending() == 10);
  CHECK(store.flush());
  CHECK(store.pending() == 0);
  CHECK(fixture.server.command({"GET", key_of(during_outage[0])}) == "1");
  CHECK(count_of(reserve(store, during_outage), Status::Duplicate) == 10);
}

TEST_CASE("redis: a hung server costs one command_timeout, and the lost batch does not stay reserved",
          "[dedup][redis][outage]") {
  Fixture fixture;
  RedisDedupStore& store = fixture.store;
  const std::vector<Fingerprint> held = fingerprints_from(80, 5);
  const std::vector<Fingerprint> lost = fingerprints_from(90, 5);
  REQUIRE(count_of(reserve(store, held), Status::Reserved) == 5);

  fixture.server.pause();
  const auto started = std::chrono::steady_clock::now();
  CHECK(count_of(reserve(store, lost), Status::Unavailable) == 5);
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 250ms);  // command_timeout is 300 ms
  CHECK(waited < 1500ms);
  // Within the backoff, releasing cannot reach Redis either.
  store.release(held);
  CHECK(store.failed_releases() == 1);
  CHECK(store.abandoned() == 10);

  // Once running again, the server executes the SETs it had received.
  fixture.server.resume();
  REQUIRE(wait_until([&] { return fixture.server.command({"GET", key_of(lost[0])}) == store.owner(); }, 5s, 5ms));
  REQUIRE(fixture.server.command({"GET", key_of(held[0])}) == store.owner());

  // Reconnecting deletes both, so neither blocks its messages until reservation_ttl.
  fixture.clock.advance(RedisDedupStore::kFirstBackoff);
  CHECK(count_of(reserve(store, lost), Status::Reserved) == 5);
  CHECK(store.abandoned() == 0);
  CHECK(count_of(reserve(store, held), Status::Reserved) == 5);
}

TEST_CASE("redis: password and database come from the url", "[dedup][redis][auth]") {
  RedisServer server("s3cret");
  ManualClock clock;
  const Fingerprint fingerprint = fingerprint_of(100);

  RedisDedupStore store(options_for(server.url(3)), clock.fn());
  REQUIRE(store.connected());
  REQUIRE(reserve(store, std::vector{fingerprint}) == std::vector{Status::Reserved});
  store.confirm(std::vector{fingerprint});
  CHECK(store.flush());
  CHECK(server.command({"GET", key_of(fingerprint)}, 3) == "1");
  CHECK(server.command({"EXISTS", key_of(fingerprint)}, 0) == "0");

  const std::string port = std::to_string(server.port());
  for (const std::string& url : {"redis://:wrong@127.0.0.1:" + port, "redis://127.0.0.1:" + port}) {
    CAPTURE(url);
    RedisDedupStore refused(options_for(url), clock.fn());
    CHECK_FALSE(refused.connected());
    CHECK(reserve(refused, std::vector{fingerprint}) == std::vector{Status::Unavailable});
  }

  // Redis 6 ACL form: user "default" with the requirepass password.
  RedisDedupStore acl(options_for("redis://default:s3cret@127.0.0.1:" + port + "/3"), clock.fn());
  CHECK(reserve(acl, std::vector{fingerprint}) == std::vector{Status::Duplicate});
}

TEST_CASE("redis: the store starts without a server and connects once it is there", "[dedup][redis][outage]") {
  RedisServer server;
  const std::string url = server.url();
  server.stop();
  ManualClock clock;

  RedisDedupStore store(options_for(url), clock.fn());
  CHECK_FALSE(store.connected());
  CHECK(reserve(store, std::vector{fingerprint_of(110)}) == std::vector{Status::Unavailable});

  server.start();
  clock.advance(RedisDedupStore::kFirstBackoff);
  CHECK(reserve(store, std::vector{fingerprint_of(110)}) == std::vector{Status::Reserved});
}

TEST_CASE("make_dedup_store builds the redis backend, and rejects a bad url", "[dedup][redis][factory]") {
  RedisServer server;
  ManualClock clock;
  config::DedupConfig config;
  config.backend = config::DedupBackend::Redis;
  config.window = kWindow;
  config.redis_url = server.url();

  const DedupStorePtr store = make_dedup_store(config, clock.fn());
  CHECK(store->backend_name() == "redis");
  CHECK(reserve(*store, std::vector{fingerprint_of(120)}) == std::vector{Status::Reserved});
  CHECK(server.command({"EXISTS", "duplicate_check:" + fingerprint_of(120).hex()}) == "1");

  config.redis_url = "memcached://127.0.0.1:11211";
  CHECK_THROWS_AS(make_dedup_store(config, clock.fn()), std::runtime_error);
}

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

TEST_CASE("redis store throughput", "[dedup][redis][.bench]") {
  constexpr size_t kMessages = 100'000;
  constexpr size_t kBatch = 1000;
  RedisServer server;
  RedisDedupOptions options = options_for(server.url());
  options.window = 24h;
  options.reservation_ttl = 60s;
  RedisDedupStore store(options);
  const std::vector<Fingerprint> fingerprints = fingerprints_from(0, kMessages);
  const std::span<const Fingerprint> all(fingerprints);
  std::vector<Status> statuses;
  size_t reserved = 0;

  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (size_t offset = 0; offset < kMessages; offset += kBatch) {
    const auto batch = all.subspan(offset, kBatch);
    store.reserve(batch, statuses);
    reserved += count_of(statuses, Status::Reserved);
    store.confirm(batch);
    REQUIRE(store.flush());
  }
  const double cpu = thread_cpu_seconds() - cpu_start;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(reserved == kMessages);
  CHECK(store.round_trips() == 1 + 2 * static_cast<int64_t>(kMessages / kBatch));
  std::printf("%-60s %9.0f msgs/s %9.0f msgs/cpu-s\n", "redis, reserve+confirm, batches of 1000",
              kMessages / elapsed.count(), kMessages / cpu);
  std::fflush(stdout);
}

}  // namespace
}  // namespace sluice::dedup
