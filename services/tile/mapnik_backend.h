// The render queue's backend that renders with Mapnik: one per render
// thread (a Renderer owns that thread's mapnik::Maps).
#pragma once

#include <string>
#include <vector>

#include "services/tile/render_queue.h"
#include "services/tile/renderer.h"

namespace thrum::tile {

class MapnikBackend : public RenderBackend {
 public:
  MapnikBackend(const std::vector<StyleSource>& styles, io::TaskPool* encoder, std::string& error)
      : renderer_(styles, encoder, error) {}

  bool render(const RenderJob& job, std::vector<std::string>& pngs, std::string& error) override {
    return renderer_.render(job.key.style, job.key.m, pngs, error,
                            [&job] { return job.mayShare(); });
  }

 private:
  Renderer renderer_;
};

}  // namespace thrum::tile
