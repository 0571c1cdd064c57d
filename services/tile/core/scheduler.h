// Scheduler: which metatile renders next. Pure bookkeeping, no threads and
// no clock of its own (the caller passes `now`), so every rule below is
// unit-tested deterministically; RenderQueue runs it with render threads.
//
// Rules, after Tirex and renderd's users' complaints:
// - Classes, most urgent first: interactive, prefetch, dirty, bulk. Each
//   class holds at most `capacity[class]` queued jobs; a full class refuses
//   (the caller answers "overloaded: CLASS is full, retry in N ms").
// - One job per metatile: a request for a metatile already queued or
//   rendering joins that job (coalescing); a more urgent request promotes a
//   queued job to its class. One render answers every waiter.
// - Reserved slots, after Tirex's buckets: `render_slots` renders of any
//   class at once, and `reserved_slots` more for live work (interactive,
//   prefetch) only, so dirty and bulk never take the last slot. Background
//   jobs count by the class they started as, and none starts while live
//   work renders (background_yields).
// - Aging: a queued job counts as one class more urgent for every
//   `aging_step` it has waited, so a bulk backlog is never starved forever.
// - A queued job whose waiters all left, and which is not dirty or bulk,
//   is dropped (nobody wants it any more).
// - A dirty request for a metatile that is rendering is not lost: when
//   the render finishes, the metatile is queued once more as dirty work.
//
// Not thread-safe: RenderQueue holds a lock around it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "services/tile/core/types.h"

namespace thrum::tile {

using WaiterId = uint64_t;

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::array<size_t, kPriorities> capacity{1024, 4096, 65536, 65536};
    int render_slots = 2;    // any class
    int reserved_slots = 1;  // interactive and prefetch only
    // No dirty or bulk job starts while live work renders, so a live
    // render shares the CPU with at most the background renders already
    // under way. Aging still lets background work through.
    bool background_yields = true;
    std::chrono::milliseconds aging_step{60000};
  };

  struct Job {
    uint64_t id = 0;
    MetatileKey key;
    Priority priority = Priority::kBulk;  // after promotions
    Clock::time_point queued_at;
    std::vector<WaiterId> waiters;
    bool background = false;  // dirty or bulk work asked for it: never dropped
    bool rendering = false;
    int running_as = 0;  // the class it started as, for the buckets
    // Marked dirty while rendering: the render may have read the old data,
    // so finish() queues it again as dirty work.
    bool again = false;
  };

  enum class Admit {
    kQueued,    // a new job
    kJoined,    // joined a job already queued or rendering
    kPromoted,  // joined a queued job and raised its class
    kFull,      // the class is full: refused
  };

  explicit Scheduler(Options options);

  // Asks for `key` at priority `p`; `waiter` (0 for none) is told when the
  // job ends. On kFull nothing changed.
  Admit request(const MetatileKey& key, Priority p, WaiterId waiter, Clock::time_point now);

  // A waiter gave up (deadline, disconnect). A queued job left with no
  // waiters is dropped unless it is dirty or bulk work. True if dropped.
  bool leave(const MetatileKey& key, WaiterId waiter);

  // The next job allowed to start now, marked rendering; nullopt when none
  // may. `live` and `background` say which classes (after aging) the caller
  // takes: a reserved render thread takes live work only.
  std::optional<Job> start(Clock::time_point now, bool live = true, bool background = true);

  // The render of `key` ended; returns its job with every waiter to tell.
  // A job marked dirty while it rendered (`again`) is queued once more as
  // dirty work, without waiters, at `now`.
  Job finish(const MetatileKey& key, Clock::time_point now);

  // Queued jobs of class p (by their class after promotion, before aging).
  size_t queued(Priority p) const { return order_[static_cast<int>(p)].size(); }
  int rendering() const;
  // What a job of `key` is doing: nullopt when none exists.
  std::optional<Job> find(const MetatileKey& key) const;

  // The class a queued job competes as at `now`, after aging.
  Priority effective(const Job& job, Clock::time_point now) const;

 private:
  // A new queued job (the caller checked there is room).
  void add(const MetatileKey& key, Priority p, WaiterId waiter, Clock::time_point now);
  void enqueue(Job& job);
  void dequeue(const Job& job);

  Options options_;
  uint64_t next_id_ = 1;
  std::map<MetatileKey, Job> jobs_;  // queued and rendering
  // Queued jobs in order per class: (queued_at, id), pointing into jobs_
  // (a std::map's elements stay put).
  std::array<std::set<std::tuple<Clock::time_point, uint64_t, Job*>>, kPriorities> order_;
  std::array<int, kPriorities> running_{};  // by the class each started as
};

}  // namespace thrum::tile
