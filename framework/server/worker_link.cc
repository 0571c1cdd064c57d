#include "thrum/server/worker_link.h"

#include <boost/asio/post.hpp>

#include "thrum/io/thread_check.h"
#include "thrum/server/connection.h"

namespace thrum::server {

void WorkerLink::submitted(size_t lane) {
  THRUM_ASSERT_ON(ctx_.get_executor());
  ++unwoken_[lane];
  if (flush_posted_) return;
  flush_posted_ = true;
  // Runs after the handlers this I/O thread already has ready, so calls read
  // from several connections in one round share the wake-ups.
  boost::asio::post(ctx_, [this] { flush(); });
}

void WorkerLink::flush() {
  THRUM_ASSERT_ON(ctx_.get_executor());
  flush_posted_ = false;
  for (size_t lane = 0; lane < unwoken_.size(); ++lane) {
    if (unwoken_[lane] == 0) continue;
    lanes_.pool(lane).wake(unwoken_[lane]);
    unwoken_[lane] = 0;
  }
}

void WorkerLink::push(std::shared_ptr<Connection> connection, uint64_t slot, std::string reply,
                      size_t request_bytes) {
  bool first;
  {
    std::lock_guard lock(mu_);
    first = pending_.empty();
    pending_.push_back({std::move(connection), slot, std::move(reply), request_bytes});
  }
  // Only the push that found the queue empty schedules a drain; later ones
  // ride along with it.
  if (first) boost::asio::post(ctx_, [this] { drain(); });
}

void WorkerLink::drain() {
  THRUM_ASSERT_ON(ctx_.get_executor());
  {
    std::lock_guard lock(mu_);
    draining_.swap(pending_);
  }
  for (auto& item : draining_) {
    item.connection->onCallDone(item.slot, std::move(item.reply), item.request_bytes);
  }
  draining_.clear();
}

void WorkerLink::dropQueued() {
  std::vector<Item> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
  }
  draining_.clear();
}

}  // namespace thrum::server
