#include "http/pooled_client.h"

#include "http/pool_parts.h"

namespace sluice::http {
namespace pool {

void ClientCore::submit(Request request) {
  std::vector<Request> one;
  one.push_back(std::move(request));
  submit(one);
}

// Any thread, the completion handler's included. Requests submitted after shutdown() are
// dropped without a report, as the client promises.
void ClientCore::submit(std::vector<Request>& requests) {
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    if (!inbox_closed_ && !requests.empty()) {
      if (inbox_.empty()) {
        inbox_.swap(requests);
      } else {
        std::move(requests.begin(), requests.end(), std::back_inserter(inbox_));
      }
      // One take_inbox() for everything submitted before it runs.
      post = !inbox_posted_;
      inbox_posted_ = true;
    }
  }
  requests.clear();
  if (post) {
    asio::post(io_, [self = shared_from_this()] {
      std::lock_guard lock(self->mutex_);
      self->take_inbox();
    });
  }
}

void ClientCore::take_inbox() {
  // A shut-down client has already taken and cancelled what the inbox held.
  move_inbox(false);
  dispatch();
}

void ClientCore::move_inbox(bool close) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_posted_ = false;
    if (close) inbox_closed_ = true;
    inbox_.swap(taken_);
  }
  for (Request& request : taken_) queue_.push_back(Pending{std::move(request)});
  taken_.clear();
}

void ClientCore::dispatch() {
  // Connections given requests write them once the loop is done, each in one write. The list
  // keeps its capacity from one dispatch to the next (a dispatch follows every response).
  std::vector<std::shared_ptr<Connection>> due;
  due.swap(due_);
  while (!stopped_ && !queue_.empty()) {
    // An idle connection first, then a new one, and only then a busy one (pipelining).
    std::shared_ptr<Connection> connection;
    if (idle_.empty() && connections_.size() >= max_connections_) {
      if (pipeline_depth_ <= 1) break;
      connection = least_loaded();
      if (connection == nullptr) break;
    }
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    // Checked here rather than in submit() so that the caller's thread does no work and the
    // completion comes from the io thread like every other.
    std::string invalid = writer_.check(pending.request);
    if (!invalid.empty()) {
      Response response;
      response.token = pending.request.token;
      response.outcome = Outcome::InvalidRequest;
      response.error = std::move(invalid);
      deliver(std::move(response));  // may shut the client down: the loop checks stopped_ again
      continue;
    }
    if (connection == nullptr && !idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
    if (connection == nullptr) {
      std::vector<Pending> one;
      one.push_back(std::move(pending));
      open_connection(std::move(one));
    } else if (connection->send(std::move(pending))) {
      due.push_back(std::move(connection));
    }
  }
  for (const std::shared_ptr<Connection>& connection : due) connection->flush();
  due.clear();
  due_.swap(due);
}

std::shared_ptr<Connection> ClientCore::least_loaded() const {
  const std::shared_ptr<Connection>* best = nullptr;
  for (const std::shared_ptr<Connection>& connection : connections_) {
    if (connection->can_pipeline() && (best == nullptr || connection->load() < (*best)->load())) best = &connection;
  }
  return best != nullptr ? *best : nullptr;
}

void ClientCore::open_connection(std::vector<Pending> pendings) {
  SLUICE_ASSERT(connections_.size() < max_connections_, "a connection is opened only into a free slot");
  auto connection = std::make_shared<Connection>(shared_from_this(), next_connection_id_++);
  connections_.push_back(connection);
  connection->open(std::move(pendings));
}

void ClientCore::requeue(std::vector<Pending> pendings) {
  for (auto it = pendings.rbegin(); it != pendings.rend(); ++it) queue_.push_front(std::move(*it));
}

void ClientCore::remove(const Connection* connection) {
  auto found = std::find_if(connections_.begin(), connections_.end(),
                            [connection](const std::shared_ptr<Connection>& c) { return c.get() == connection; });
  if (found != connections_.end()) {
    std::swap(*found, connections_.back());
    connections_.pop_back();
  }
  std::erase_if(idle_, [connection](const std::shared_ptr<Connection>& c) { return c.get() == connection; });
}

// Safe whether or not the io thread is running: everything it touches is under mutex_, and a
// handler that runs later finds stopped_ set and returns.
void ClientCore::shutdown() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  std::vector<Pending> cancelled;
  move_inbox(true);
  for (const std::shared_ptr<Connection>& connection : connections_) {
    for (Pending& pending : connection->abandon()) cancelled.push_back(std::move(pending));
  }
  connections_.clear();
  idle_.clear();
  for (Pending& pending : queue_) cancelled.push_back(std::move(pending));
  queue_.clear();
  for (Pending& pending : cancelled) {
    Response response;
    response.token = pending.request.token;
    response.outcome = Outcome::Cancelled;
    response.error = "the client was shut down";
    deliver(std::move(response));
  }
}

}  // namespace pool

namespace {

using pool::ClientCore;

class PooledClient final : public HttpClient {
 public:
  explicit PooledClient(std::shared_ptr<ClientCore> core) : core_(std::move(core)) {}
  ~PooledClient() override { core_->shutdown(); }

  void submit(Request request) override { core_->submit(std::move(request)); }
  void submit(std::vector<Request>& requests) override { core_->submit(requests); }
  void shutdown() override { core_->shutdown(); }
  ClientStats stats() const override { return core_->stats(); }

 private:
  const std::shared_ptr<ClientCore> core_;
};

}  // namespace

std::unique_ptr<HttpClient> make_pooled_client(boost::asio::io_context& io, Endpoint endpoint, RequestWriter writer,
                                               std::unique_ptr<boost::asio::ssl::context> tls, const ClientSettings& settings,
                                               CompletionHandler on_complete) {
  SLUICE_ASSERT((tls != nullptr) == endpoint.tls, "https endpoints, and only they, come with a tls context");
  SLUICE_ASSERT(settings.max_connections > 0, "create() rejects a pool without connections");
  auto core = std::make_shared<ClientCore>(io, std::move(endpoint), std::move(writer), std::move(tls), settings,
                                           std::move(on_complete));
  return std::make_unique<PooledClient>(std::move(core));
}

}  // namespace sluice::http