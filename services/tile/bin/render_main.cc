// thrum-tile-render: one render process of thrum-tile-server (see
// render_process.h); not meant to be started by hand.
//
//   thrum-tile-render FD NICE ENCODE_THREADS NAME XML DATA_DIR [NAME XML DATA_DIR ...]
//
// Loads the styles, says it is ready on socket FD, then renders one
// metatile per request (render_wire.h) until the socket closes. Exits when
// the thread of the server that started it ends.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "services/tile/render/render_wire.h"
#include "services/tile/render/renderer.h"
#include "thrum/io/task_pool.h"

namespace {

using namespace thrum::tile;

std::optional<int> number(const char* text) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0 || v > 1 << 20) return std::nullopt;
  return static_cast<int>(v);
}

int usage() {
  std::cerr << "usage: thrum-tile-render FD NICE ENCODE_THREADS NAME XML DATA_DIR ...\n"
               "(started by thrum-tile-server, one per render thread)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc < 7 || (argc - 4) % 3 != 0) return usage();
  auto fd = number(argv[1]), nice = number(argv[2]), encoders = number(argv[3]);
  if (!fd || !nice || !encoders) return usage();
  std::vector<StyleSource> styles;
  for (int i = 4; i + 2 < argc; i += 3) styles.push_back({argv[i], argv[i + 1], argv[i + 2]});
  // Before any thread starts: the encoders inherit it.
  if (*nice > 0) ::setpriority(PRIO_PROCESS, 0, *nice);

  std::string error, io_error;
  auto ready = [&](const std::string& why) {
    wire::Reply reply{why.empty(), {}, why};
    return wire::sendFrame(*fd, wire::encodeReply(reply), io_error);
  };
  if (!Renderer::initMapnik(error)) {
    ready(error);
    return 2;
  }
  int n = *encoders > 0 ? *encoders : static_cast<int>(std::thread::hardware_concurrency());
  thrum::io::TaskPool encoder(static_cast<size_t>(std::max(1, n)), 1024, "thrum-encode");
  encoder.start();
  Renderer renderer(styles, &encoder, error);
  if (!error.empty()) {
    ready(error);
    return 2;
  }
  if (!ready("")) return 1;

  std::string payload;
  auto forever = [] { return std::optional<int>(-1); };
  while (wire::readFrame(*fd, payload, io_error, forever) == wire::Read::kFrame) {
    MetatileKey key;
    wire::Reply reply;
    if (wire::decodeRequest(payload, key, reply.error)) {
      reply.ok = renderer.render(key.style, key.m, reply.pngs, reply.error);
    }
    if (!wire::sendFrame(*fd, wire::encodeReply(reply), io_error)) break;
  }
  encoder.stop();
  return 0;
}
