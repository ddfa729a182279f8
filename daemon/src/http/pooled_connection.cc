// One keep-alive connection of the pooled HTTP client (pool_parts.h): resolve, connect, TLS
// handshake, pipelined writes, responses matched to requests in order, and what a failure or
// a close does to the requests on it.

#include "http/pool_parts.h"

namespace sluice::http::pool {

void Connection::take(Pending pending) {
  if (pending.deadline == Clock::time_point{}) pending.deadline = Clock::now() + core_->timeout_;
  in_flight_.push_back(std::move(pending));
  ++unwritten_;
  arm_timer();
}

void Connection::arm_timer() {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_at(in_flight_.front().deadline);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void Connection::on_timer(const error_code&) {
  std::lock_guard lock(core_->mutex_);
  timer_armed_ = false;
  if (!live() || in_flight_.empty()) return;
  if (Clock::now() < in_flight_.front().deadline) {
    arm_timer();
    return;
  }
  const std::string after = " within " + std::to_string(core_->timeout_.count()) + "ms";
  switch (phase_) {
    case Phase::Resolving:
    case Phase::Connecting:
      fail(Outcome::ConnectFailed, "could not connect to " + core_->endpoint_.origin + after);
      return;
    case Phase::Handshaking:
      fail(Outcome::TlsFailed, "tls handshake with " + core_->endpoint_.origin + " did not complete" + after);
      return;
    case Phase::Open:
      fail(Outcome::TimedOut, "no complete response" + after);
      return;
    case Phase::Closed:
      return;
  }
}

void Connection::open(std::vector<Pending> pendings) {
  for (Pending& pending : pendings) take(std::move(pending));
  phase_ = Phase::Resolving;
  auto flags = Resolver::numeric_service;
  if (core_->endpoint_.host_is_ip) flags |= Resolver::numeric_host;
  resolver_.async_resolve(core_->endpoint_.host, core_->port_text_, flags,
                          [self = shared_from_this()](const error_code& ec, Resolver::results_type results) {
                            self->on_resolved(ec, results);
                          });
}

void Connection::on_resolved(const error_code& ec, const Resolver::results_type& results) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::ConnectFailed, "cannot resolve " + core_->endpoint_.host + ": " + ec.message());
    return;
  }
  phase_ = Phase::Connecting;
  asio::async_connect(socket_, results, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
    self->on_connected(ec);
  });
}

void Connection::on_connected(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::ConnectFailed, "cannot connect to " + core_->endpoint_.origin + ": " + ec.message());
    return;
  }
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  core_->connections_opened_.fetch_add(1, std::memory_order_relaxed);
  log::debug("http connection opened", {{"endpoint", core_->endpoint_.origin}, {"connection", id_}});
  if (core_->tls_) {
    start_handshake();
  } else {
    become_open();
  }
}

void Connection::start_handshake() {
  phase_ = Phase::Handshaking;
  tls_.emplace(socket_, *core_->tls_);
  SSL* ssl = tls_->native_handle();
  const Endpoint& endpoint = core_->endpoint_;
  // SNI carries host names only (RFC 6066); an address is checked against the certificate's
  // IP entries instead.
  if (!endpoint.host_is_ip) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
  if (core_->verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = endpoint.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), 0);
    if (ok != 1) {
      fail(Outcome::TlsFailed, "cannot check the certificate of " + endpoint.origin + " against its host");
      return;
    }
  }
  tls_->async_handshake(ssl::stream_base::client,
                        [self = shared_from_this()](const error_code& ec) { self->on_handshake(ec); });
}

void Connection::on_handshake(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::TlsFailed, tls_failure(ec));
    return;
  }
  become_open();
}

std::string Connection::tls_failure(const error_code& ec) {
  std::string error = "tls handshake with " + core_->endpoint_.origin + " failed: ";
  const long verify_result = SSL_get_verify_result(tls_->native_handle());
  if (core_->verify_ && verify_result != X509_V_OK) {
    return error + "certificate not accepted: " + X509_verify_cert_error_string(verify_result);
  }
  return error + ec.message();
}

void Connection::become_open() {
  phase_ = Phase::Open;
  start_write();
  // Requests that queued while it connected may be pipelined onto it now.
  if (core_->pipeline_depth_ > 1) core_->dispatch();
}

bool Connection::send(Pending pending) {
  take(std::move(pending));
  // Otherwise the write in progress, or the connection becoming open, writes it.
  return phase_ == Phase::Open && !writing_ && unwritten_ == 1;
}

void Connection::flush() {
  if (live() && phase_ == Phase::Open && !writing_ && unwritten_ > 0) start_write();
}

void Connection::start_write() {
  SLUICE_ASSERT(unwritten_ > 0 && !writing_, "a write starts for waiting requests, one write at a time");
  wire_.clear();
  for (auto it = in_flight_.end() - static_cast<std::ptrdiff_t>(unwritten_); it != in_flight_.end(); ++it) {
    core_->writer_.append(it->request, wire_);
  }
  // Every request of the write but a first one on a connection with nothing unanswered.
  const size_t pipelined = written() > 0 ? unwritten_ : unwritten_ - 1;
  core_->requests_sent_.fetch_add(unwritten_, std::memory_order_relaxed);
  if (pipelined > 0) core_->requests_pipelined_.fetch_add(pipelined, std::memory_order_relaxed);
  unwritten_ = 0;
  writing_ = true;
  with_stream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(wire_),
                      [self = shared_from_this()](const error_code& ec, size_t) { self->on_written(ec); });
  });
}

void Connection::on_written(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  writing_ = false;
  if (!live()) return;
  if (ec) {
    lose(ec, "sending the request failed: " + ec.message());
    return;
  }
  // One read at a time, beside the writes: the next response is read after the previous one.
  // (The responses to everything written may all have been read already.)
  if (!reading_ && written() > 0) start_read();
  if (unwritten_ > 0) start_write();
}

void Connection::start_read() {
  reader_.emplace(core_->writer_.is_head());
  reading_ = true;
  with_stream([this](auto& stream) {
    beast::http::async_read(stream, buffer_, *reader_,
                            [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
  });
}

void Connection::on_read(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  reading_ = false;
  if (!live()) return;
  if (ec == beast::http::error::body_limit && reader_->is_header_done()) {
    answer(false);  // the status stands; the rest of the body is not worth reading
    return;
  }
  if (ec) {
    if (reader_->got_some()) {
      lose(ec, "invalid or incomplete response: " + ec.message());
    } else {
      lose(ec, "receiving the response failed: " + ec.message());
    }
    return;
  }
  if (reader_->is_interim()) {
    start_read();
    return;
  }
  // Bytes beyond the response that no written request asked for: the connection is out of step.
  const bool in_step = buffer_.size() == 0 || written() > 1;
  answer(reader_->keep_alive() && in_step && reader_->status() != 101);
}

// Only a connection that has served a response before can have been closed by the server
// while it sat idle; and only when no byte of the next response arrived is it certain the
// requests were not answered, so sending them once more on a fresh connection is the repair.
bool Connection::closed_while_idle(const error_code& ec) const {
  if (!reused_) return false;
  if ((reader_ && reader_->got_some()) || buffer_.size() != 0) return false;
  return ec == beast::http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

void Connection::lose(const error_code& ec, std::string error) {
  if (closed_while_idle(ec)) {
    core_->settle(retire("closed by the server while idle: " + ec.message(), 0, Behind::ResendOnce));
    return;
  }
  fail(Outcome::ConnectionLost, std::move(error));
}

void Connection::answer(bool reusable) {
  Response response;
  response.token = in_flight_.front().request.token;
  response.outcome = Outcome::Status;
  response.status = reader_->status();
  response.body_excerpt = std::move(reader_->body_excerpt());
  response.retry_after = std::move(reader_->retry_after());
  // A server that announced the close handles nothing after this response; after a body too
  // large to read or a protocol switch, what became of the requests behind it is unknown.
  const Behind behind = reader_->keep_alive() ? Behind::Lost : Behind::Resend;
  reader_.reset();  // from here on, a reader means a response that is being read
  in_flight_.pop_front();
  reused_ = true;
  std::vector<Response> behind_it;  // allocates only when the connection closes
  if (!reusable) {
    behind_it = retire("the response does not allow reuse", 0, behind);
  } else if (in_flight_.empty()) {
    core_->make_idle(shared_from_this());
  } else if (written() > 0) {
    start_read();  // the next response is due; requests not written yet wait for the write
  }
  core_->dispatch();
  core_->deliver(std::move(response));
  for (Response& report : behind_it) core_->deliver(std::move(report));
}

void Connection::fail(Outcome outcome, std::string error) {
  std::vector<Response> reports;
  if (phase_ == Phase::Open) {
    Response response;
    response.token = in_flight_.front().request.token;
    response.outcome = outcome;
    response.error = error;
    reports.push_back(std::move(response));
    std::vector<Response> behind = retire(error, 1, Behind::Lost);
    std::move(behind.begin(), behind.end(), std::back_inserter(reports));
  } else {
    // Nothing was written: every request failed to get a connection.
    for (const Pending& pending : in_flight_) {
      Response response;
      response.token = pending.request.token;
      response.outcome = outcome;
      response.error = error;
      reports.push_back(std::move(response));
    }
    in_flight_.clear();
    unwritten_ = 0;
    retire(error, 0, Behind::Lost);
  }
  core_->settle(std::move(reports));
}

std::vector<Response> Connection::retire(std::string_view reason, size_t first, Behind behind) {
  std::vector<Response> reports;
  std::vector<Pending> resend;
  std::vector<Pending> never_written;
  const size_t written_count = written();
  for (size_t i = first; i < in_flight_.size(); ++i) {
    Pending& pending = in_flight_[i];
    if (i >= written_count) {
      never_written.push_back(std::move(pending));
    } else if (behind == Behind::Resend || (behind == Behind::ResendOnce && !pending.resent)) {
      if (behind == Behind::ResendOnce) pending.resent = true;
      resend.push_back(std::move(pending));
    } else {
      Response response;
      response.token = pending.request.token;
      response.outcome = Outcome::ConnectionLost;
      response.error = "no response before the connection closed (" + std::string(reason) + ")";
      reports.push_back(std::move(response));
    }
  }
  in_flight_.clear();
  unwritten_ = 0;
  close(reason);
  core_->remove(this);
  core_->requeue(std::move(never_written));
  if (!resend.empty()) {
    core_->requests_resent_.fetch_add(resend.size(), std::memory_order_relaxed);
    core_->open_connection(std::move(resend));  // takes the slot this connection just gave up
  }
  return reports;
}

std::vector<Pending> Connection::abandon() {
  std::vector<Pending> pendings(std::make_move_iterator(in_flight_.begin()), std::make_move_iterator(in_flight_.end()));
  in_flight_.clear();
  unwritten_ = 0;
  close("client shut down");
  return pendings;
}

void Connection::close(std::string_view reason) {
  const bool was_connected = phase_ != Phase::Resolving && phase_ != Phase::Connecting;
  phase_ = Phase::Closed;
  resolver_.cancel();
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  if (was_connected) {
    log::debug("http connection closed",
               {{"endpoint", core_->endpoint_.origin}, {"connection", id_}, {"reason", reason}});
  }
}

}  // namespace sluice::http::pool
