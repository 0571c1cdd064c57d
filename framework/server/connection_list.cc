#include "thrum/server/connection_list.h"

#include "thrum/server/connection.h"

namespace thrum::server {

ConnectionList::ConnectionList(boost::asio::io_context& ctx, std::chrono::milliseconds tick)
    : timer_(std::make_unique<boost::asio::steady_timer>(ctx)), tick_(tick) {}

ConnectionList::~ConnectionList() = default;

int64_t ConnectionList::nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ConnectionList::add(Connection* c) {
  c->sweep_prev_ = nullptr;
  c->sweep_next_ = head_;
  if (head_) head_->sweep_prev_ = c;
  head_ = c;
  if (!armed_ && tick_.count() > 0) arm();
}

void ConnectionList::remove(Connection* c) {
  if (c->sweep_prev_ == nullptr && head_ != c) return;  // not in the list
  if (next_ == c) next_ = c->sweep_next_;
  if (c->sweep_prev_) c->sweep_prev_->sweep_next_ = c->sweep_next_;
  if (c->sweep_next_) c->sweep_next_->sweep_prev_ = c->sweep_prev_;
  if (head_ == c) head_ = c->sweep_next_;
  c->sweep_prev_ = c->sweep_next_ = nullptr;
}

void ConnectionList::arm() {
  if (!timer_) return;
  armed_ = true;
  timer_->expires_after(tick_);
  // The timer goes only once the I/O thread stopped, so no aborted wait
  // runs after this ConnectionList is gone.
  timer_->async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (!ec) onTick();
  });
}

void ConnectionList::forEach(const std::function<void(Connection&)>& fn) {
  for (Connection* c = head_; c != nullptr; c = next_) {
    next_ = c->sweep_next_;  // c may remove itself, or others
    auto keep = c->shared_from_this();
    fn(*c);
  }
  next_ = nullptr;
}

void ConnectionList::onTick() {
  int64_t now = nowMs();
  forEach([now](Connection& c) { c.sweep(now); });
  if (head_) arm();
}

}  // namespace thrum::server
