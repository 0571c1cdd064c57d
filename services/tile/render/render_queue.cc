#include "services/tile/render/render_queue.h"

#include <pthread.h>

#include <algorithm>

namespace thrum::tile {

RenderQueue::RenderQueue(Scheduler::Options options, BackendFactory backends, Store store)
    : options_(options),
      backends_(std::move(backends)),
      store_(std::move(store)),
      scheduler_(options) {}

RenderQueue::~RenderQueue() {
  stop();
}

bool RenderQueue::start(std::string& error) {
  std::vector<std::unique_ptr<RenderBackend>> made;
  for (int i = 0; i < options_.render_slots + options_.reserved_slots; ++i) {
    auto backend = backends_(/*reserved=*/i >= options_.render_slots, error);
    if (!backend) return false;
    made.push_back(std::move(backend));
  }
  std::lock_guard lock(mu_);
  running_ = true;
  for (size_t i = 0; i < made.size(); ++i) {
    bool reserved = static_cast<int>(i) >= options_.render_slots;
    Slot& slot = *slots_.emplace_back(std::make_unique<Slot>());
    slot.backend = made[i].get();
    threads_.emplace_back([this, b = std::move(made[i]), &slot, reserved]() mutable {
      run(std::move(b), slot, reserved);
    });
  }
  return true;
}

void RenderQueue::stop() {
  std::map<WaiterId, Done> abandoned;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    running_ = false;
    abandoned.swap(waiters_);
  }
  work_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  slots_.clear();
  auto outcome = std::make_shared<RenderOutcome>();
  outcome->error = "shutting down";
  for (auto& [id, done] : abandoned) done(outcome);
}

RenderQueue::Submitted RenderQueue::submit(const MetatileKey& key, Priority p, Done done) {
  Submitted out;
  {
    std::lock_guard lock(mu_);
    WaiterId waiter = done ? next_waiter_++ : 0;
    out.admit = scheduler_.request(key, p, waiter, Scheduler::Clock::now());
    if (out.admit == Scheduler::Admit::kFull) {
      ++counters_.refused;
      return out;
    }
    if (waiter != 0) waiters_.emplace(waiter, std::move(done));
    out.waiter = waiter;
    if (out.admit == Scheduler::Admit::kJoined && p <= Priority::kPrefetch) {
      // Joined a render under way: if it renders as background work,
      // somebody is now waiting for it live.
      for (auto& slot : slots_) {
        if (slot->rendering == key) slot->live = true;
      }
      applyPausesLocked();
    }
  }
  if (out.admit == Scheduler::Admit::kJoined) ++counters_.coalesced;
  if (out.admit == Scheduler::Admit::kPromoted) {
    ++counters_.coalesced;
    ++counters_.promoted;
  }
  work_.notify_all();  // the thread that may take it is not any thread
  return out;
}

void RenderQueue::cancel(const MetatileKey& key, WaiterId waiter) {
  std::lock_guard lock(mu_);
  if (waiters_.erase(waiter) == 0) return;  // already told
  if (scheduler_.leave(key, waiter)) ++counters_.dropped;
}

std::optional<Scheduler::Job> RenderQueue::find(const MetatileKey& key) const {
  std::lock_guard lock(mu_);
  return scheduler_.find(key);
}

size_t RenderQueue::queued(Priority p) const {
  std::lock_guard lock(mu_);
  return scheduler_.queued(p);
}

int RenderQueue::rendering() const {
  std::lock_guard lock(mu_);
  return scheduler_.rendering();
}

void RenderQueue::applyPausesLocked() {
  bool live = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->live; });
  for (auto& slot : slots_) {
    bool pause = pause_background_ && live && slot->rendering && !slot->live;
    if (pause == slot->paused) continue;
    slot->paused = pause;
    if (pause) ++counters_.pauses;
    slot->backend->setPaused(pause);
  }
}

void RenderQueue::run(std::unique_ptr<RenderBackend> backend, Slot& slot, bool reserved) {
  pthread_setname_np(pthread_self(), reserved ? "thrum-render-rl" : "thrum-render");
  // Aging changes what may start without anything arriving: look again at
  // least this often.
  auto recheck = std::max(std::chrono::milliseconds(10), options_.aging_step / 4);
  std::unique_lock lock(mu_);
  if (reserved) ++idle_reserved_;
  while (running_) {
    // A reserved thread takes live work only; a general one leaves live
    // work to an idle reserved thread.
    bool live = reserved || idle_reserved_ == 0;
    std::optional<Scheduler::Job> job =
        scheduler_.start(Scheduler::Clock::now(), live, /*background=*/!reserved);
    if (!job) {
      work_.wait_for(lock, recheck);
      continue;
    }
    if (reserved) --idle_reserved_;
    RenderJob what{job->key, job->running_as >= static_cast<int>(Priority::kDirty)};
    slot.rendering = job->key;
    slot.live = !what.background;
    applyPausesLocked();  // a background job may start while live work renders (aging)
    lock.unlock();
    auto outcome = std::make_shared<RenderOutcome>();
    auto began = std::chrono::steady_clock::now();
    outcome->ok = backend->render(what, outcome->pngs, outcome->error);
    outcome->took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    outcome->ran_as = static_cast<Priority>(job->running_as);
    ++(outcome->ok ? counters_.renders : counters_.failures);
    counters_.render_ms += outcome->took.count();
    if (store_) store_(job->key, *outcome);  // before anyone hears: a retry finds the file
    lock.lock();
    slot.rendering.reset();
    slot.live = false;
    applyPausesLocked();  // resumes this slot, and the others if no live work is left
    Scheduler::Job finished = scheduler_.finish(job->key, Scheduler::Clock::now());
    std::vector<Done> tell;
    for (WaiterId w : finished.waiters) {
      auto it = waiters_.find(w);
      if (it == waiters_.end()) continue;  // cancelled
      tell.push_back(std::move(it->second));
      waiters_.erase(it);
    }
    if (reserved) ++idle_reserved_;
    lock.unlock();
    work_.notify_all();  // a slot is free: a held-back job may start
    for (auto& done : tell) done(outcome);
    lock.lock();
  }
}

}  // namespace thrum::tile
