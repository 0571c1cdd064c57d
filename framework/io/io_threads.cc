#include "thrum/io/io_threads.h"

#include <pthread.h>

#include <future>
#include <string>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace thrum::io {

IoThreads::IoThreads(size_t threads) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) {
    // concurrency_hint 1: each context is run by exactly one thread, so Asio
    // can skip its internal locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
  }
}

IoThreads::~IoThreads() {
  stop();
}

void IoThreads::start() {
  for (size_t i = 0; i < contexts_.size(); ++i) {
    guards_.emplace_back(contexts_[i]->get_executor());
    threads_.emplace_back([this, i] {
      std::string name = "thrum-io-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        try {
          contexts_[i]->run();
          return;
        } catch (const std::exception& e) {
          // A handler must not throw; if one does, log it and keep the
          // thread serving everyone else's connections.
          spdlog::error("io thread {}: handler threw: {}", i, e.what());
        }
      }
    });
  }
}

void IoThreads::sync() {
  if (threads_.empty()) return;
  std::vector<std::future<void>> done;
  for (auto& ctx : contexts_) {
    auto reached = std::make_shared<std::promise<void>>();
    done.push_back(reached->get_future());
    // FIFO: this runs after everything posted to the context before it.
    boost::asio::post(*ctx, [reached] { reached->set_value(); });
  }
  for (auto& d : done) d.wait();
}

void IoThreads::stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

boost::asio::io_context& IoThreads::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace thrum::io
