// RenderProcess: a RenderBackend that renders in a helper process,
// thrum-tile-render (render_main.cc), one per render thread, as Tirex
// does. Mapnik cannot be interrupted inside a process, so this is how a
// render gets a hard time limit: past it the process is killed and a new
// one started. The same isolation keeps a crash in Mapnik from taking
// the server down (the render fails with the signal's name), lets a
// background render be paused with SIGSTOP while live work renders, and
// gives each render slot its own Mapnik with nothing shared to contend on.
//
//   RenderProcess::Options o{.program = RenderProcess::defaultProgram(),
//                            .styles = {{"world", "world.xml", "shp"}}};
//   auto p = RenderProcess::start(o, error);     // loads the styles
//   p->render({{"world", {6, 32, 16}}}, pngs, error);
//
// The process talks over a socket pair (render_wire.h), lives in its own
// process group (a terminal's Ctrl-C reaches the server, which drains),
// and dies with the thread that started it or when its socket closes.
// render() and the destructor belong to one thread; setPaused() may be
// called from any.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/tile/render/backend.h"

namespace thrum::tile {

class RenderProcess : public RenderBackend {
 public:
  struct Options {
    std::string program;              // thrum-tile-render
    std::vector<StyleSource> styles;  // loaded once per process
    int encode_threads = 0;           // the process's PNG encoders (0: one per CPU)
    int nice = 0;                     // the process's nice value
    // Longest render, not counting time paused; then the process is killed.
    std::chrono::milliseconds time_limit{60000};
    // Longest start-up (Mapnik loading the styles).
    std::chrono::milliseconds start_limit{60000};
  };

  // Starts the process and waits for its styles to load: nullptr with
  // `error` naming why (no program, a style Mapnik refuses, ...).
  static std::unique_ptr<RenderProcess> start(Options options, std::string& error);
  ~RenderProcess() override;
  RenderProcess(const RenderProcess&) = delete;
  RenderProcess& operator=(const RenderProcess&) = delete;

  // On a failure the process is replaced before this returns, so the next
  // render finds one ready (or fails saying why none could start).
  bool render(const RenderJob& job, std::vector<std::string>& pngs, std::string& error) override;
  void setPaused(bool paused) override;

  pid_t pid() const;
  int restarts() const { return restarts_; }

  // thrum-tile-render next to the running executable.
  static std::string defaultProgram();

 private:
  explicit RenderProcess(Options options) : options_(std::move(options)) {}
  bool spawn(std::string& error);
  // Kills (if asked) and reaps the process; says how it ended.
  std::string reap(bool kill);
  std::chrono::steady_clock::duration pausedSoFar() const;

  Options options_;
  int fd_ = -1;  // our end of the socket pair
  int restarts_ = 0;

  mutable std::mutex mu_;  // the pid and pause state, for setPaused()
  pid_t pid_ = -1;
  bool paused_ = false;
  std::chrono::steady_clock::time_point paused_at_;
  std::chrono::steady_clock::duration paused_total_{};
};

}  // namespace thrum::tile
