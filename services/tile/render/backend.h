// RenderBackend: what renders a metatile for a RenderQueue render thread.
// The server's backend is a render process (render_process.h); tests use
// fakes; the Mapnik Renderer (renderer.h) runs inside the render process.
#pragma once

#include <string>
#include <vector>

#include "services/tile/core/types.h"

namespace thrum::tile {

// What a backend knows of the job it renders.
struct RenderJob {
  MetatileKey key;
  bool background = false;  // started as dirty or bulk work
};

class RenderBackend {
 public:
  virtual ~RenderBackend() = default;
  // The metatile's PNGs by metaIndex(); false with `error` when it failed.
  virtual bool render(const RenderJob& job, std::vector<std::string>& pngs, std::string& error) = 0;
  // Called from another thread while render() runs, or between renders:
  // stop using the CPU until setPaused(false). Time paused is not render
  // time. A backend that cannot pause ignores it.
  virtual void setPaused(bool paused) { (void)paused; }
};

}  // namespace thrum::tile
