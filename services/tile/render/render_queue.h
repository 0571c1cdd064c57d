// RenderQueue: render threads working through the Scheduler. Each thread
// owns its backend (a render process: see render_process.h). There are
// render_slots general threads and reserved_slots threads for live work
// only; a general thread leaves live work to an idle reserved thread.
// While live work renders, background renders under way are paused (their
// backend's setPaused()), so a live render has the CPUs to itself; a live
// request that joins a background render makes it live. A finished
// metatile is handed to `store` (the cache writes its .meta file) on the
// render thread, then every waiter of the job is told, once.
//
//   RenderQueue q(options, [&](bool reserved, std::string& e) { return makeBackend(e); },
//                 [&](const MetatileKey& k, const RenderOutcome& o) { cache.put(k, o); });
//   q.start(error);
//   q.submit(key, Priority::kInteractive, [](auto outcome) { ... });
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "services/tile/core/scheduler.h"
#include "services/tile/render/backend.h"

namespace thrum::tile {

struct RenderOutcome {
  bool ok = false;
  std::string error;
  std::vector<std::string> pngs;  // by metaIndex()
  std::chrono::milliseconds took{0};
  Priority ran_as = Priority::kBulk;
};

class RenderQueue {
 public:
  // Makes the backend of a general (reserved false) or reserved slot.
  using BackendFactory =
      std::function<std::unique_ptr<RenderBackend>(bool reserved, std::string& error)>;
  using Store = std::function<void(const MetatileKey&, RenderOutcome&)>;
  using Done = std::function<void(std::shared_ptr<const RenderOutcome>)>;

  RenderQueue(Scheduler::Options options, BackendFactory backends, Store store);
  ~RenderQueue();

  // Whether background renders pause while live work renders (default
  // yes); set before start().
  void setPauseBackground(bool pause) { pause_background_ = pause; }
  // Makes one backend per render slot and starts the threads; false with
  // the first backend's error.
  bool start(std::string& error);
  // Stops taking jobs; renders under way finish; waiters of queued jobs
  // are told "shutting down".
  void stop();

  struct Submitted {
    Scheduler::Admit admit;
    WaiterId waiter = 0;  // for cancel(); 0 without `done`
  };
  // Asks for a render. With `done`, it is called exactly once when the job
  // ends (on a render thread), unless the waiter is cancelled first or the
  // class is full (admit kFull: nothing was queued).
  Submitted submit(const MetatileKey& key, Priority p, Done done = nullptr);
  // The waiter leaves; its `done` will not be called.
  void cancel(const MetatileKey& key, WaiterId waiter);

  std::optional<Scheduler::Job> find(const MetatileKey& key) const;
  size_t queued(Priority p) const;
  size_t capacity(Priority p) const { return options_.capacity[static_cast<int>(p)]; }
  int rendering() const;
  bool running() const {
    std::lock_guard lock(mu_);
    return running_;
  }

  struct Counters {
    std::atomic<int64_t> renders{0}, failures{0}, coalesced{0}, promoted{0}, refused{0}, dropped{0},
        render_ms{0}, pauses{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  // What one render thread is doing, guarded by mu_.
  struct Slot {
    RenderBackend* backend = nullptr;
    std::optional<MetatileKey> rendering;
    bool live = false;    // rendering live work (or background work someone now waits for live)
    bool paused = false;  // setPaused(true) was the last call
  };
  void run(std::unique_ptr<RenderBackend> backend, Slot& slot, bool reserved);
  // Keeps every background render paused while any slot renders live work.
  void applyPausesLocked();

  Scheduler::Options options_;
  BackendFactory backends_;
  Store store_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  Scheduler scheduler_;
  std::map<WaiterId, Done> waiters_;
  WaiterId next_waiter_ = 1;
  bool running_ = false;
  int idle_reserved_ = 0;
  bool pause_background_ = true;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
  Counters counters_;
};

}  // namespace thrum::tile
