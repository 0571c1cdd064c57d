#include "services/tile/core/scheduler.h"

#include <algorithm>

namespace thrum::tile {

Scheduler::Scheduler(Options options) : options_(options) {}

void Scheduler::enqueue(Job& job) {
  int cls = static_cast<int>(job.priority);
  order_[cls].insert({job.queued_at, job.id, &job});
}

void Scheduler::dequeue(const Job& job) {
  int cls = static_cast<int>(job.priority);
  order_[cls].erase({job.queued_at, job.id, const_cast<Job*>(&job)});
}

Scheduler::Admit Scheduler::request(const MetatileKey& key, Priority p, WaiterId waiter,
                                    Clock::time_point now) {
  bool background = p == Priority::kDirty || p == Priority::kBulk;
  auto it = jobs_.find(key);
  if (it != jobs_.end()) {
    Job& job = it->second;
    if (waiter != 0) job.waiters.push_back(waiter);
    job.background = job.background || background;
    if (job.rendering && p == Priority::kDirty) job.again = true;
    if (job.rendering || p >= job.priority) return Admit::kJoined;
    dequeue(job);  // the same job, one class more urgent: no new room needed
    job.priority = p;
    enqueue(job);
    return Admit::kPromoted;
  }
  int cls = static_cast<int>(p);
  if (order_[cls].size() >= options_.capacity[cls]) return Admit::kFull;
  add(key, p, waiter, now);
  return Admit::kQueued;
}

void Scheduler::add(const MetatileKey& key, Priority p, WaiterId waiter, Clock::time_point now) {
  Job job;
  job.id = next_id_++;
  job.key = key;
  job.priority = p;
  job.queued_at = now;
  job.background = p == Priority::kDirty || p == Priority::kBulk;
  if (waiter != 0) job.waiters.push_back(waiter);
  enqueue(jobs_.emplace(key, std::move(job)).first->second);
}

bool Scheduler::leave(const MetatileKey& key, WaiterId waiter) {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return false;
  Job& job = it->second;
  std::erase(job.waiters, waiter);
  if (job.rendering || job.background || !job.waiters.empty()) return false;
  dequeue(job);
  jobs_.erase(it);
  return true;
}

Priority Scheduler::effective(const Job& job, Clock::time_point now) const {
  auto waited = std::max(Clock::duration::zero(), now - job.queued_at);
  auto steps = options_.aging_step.count() > 0 ? waited / options_.aging_step : 0;
  return static_cast<Priority>(
      std::max<int64_t>(0, static_cast<int64_t>(job.priority) - static_cast<int64_t>(steps)));
}

std::optional<Scheduler::Job> Scheduler::start(Clock::time_point now, bool live, bool background) {
  if (rendering() >= options_.render_slots + options_.reserved_slots) return std::nullopt;
  int background_running =
      running_[static_cast<int>(Priority::kDirty)] + running_[static_cast<int>(Priority::kBulk)];
  int live_running = running_[static_cast<int>(Priority::kInteractive)] +
                     running_[static_cast<int>(Priority::kPrefetch)];
  bool background_fits = background && background_running < options_.render_slots &&
                         !(options_.background_yields && live_running > 0);
  // Each class's oldest job is its best; of those the caller may take, the
  // best by class after aging, then by age.
  Job* best = nullptr;
  Priority best_class = Priority::kBulk;
  for (int cls = 0; cls < kPriorities; ++cls) {
    if (order_[cls].empty()) continue;
    Job& head = *std::get<2>(*order_[cls].begin());
    Priority eff = effective(head, now);
    bool is_live = eff <= Priority::kPrefetch;
    if (is_live ? !live : !background_fits) continue;
    if (best == nullptr || eff < best_class ||
        (eff == best_class && head.queued_at < best->queued_at)) {
      best = &head;
      best_class = eff;
    }
  }
  if (best == nullptr) return std::nullopt;
  int cls = static_cast<int>(best_class);
  dequeue(*best);
  best->rendering = true;
  best->running_as = cls;
  ++running_[cls];
  return *best;
}

Scheduler::Job Scheduler::finish(const MetatileKey& key, Clock::time_point now) {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return {};
  Job job = std::move(it->second);
  jobs_.erase(it);
  if (job.rendering) --running_[job.running_as];
  if (job.again) add(key, Priority::kDirty, 0, now);  // admitted before: no room asked
  return job;
}

int Scheduler::rendering() const {
  int n = 0;
  for (int r : running_) n += r;
  return n;
}

std::optional<Scheduler::Job> Scheduler::find(const MetatileKey& key) const {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

}  // namespace thrum::tile
