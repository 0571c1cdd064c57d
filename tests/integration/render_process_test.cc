// Rendering in thrum-tile-render processes with real Mapnik and the world
// data: the same bytes as rendering in-process; a hung or too slow render
// killed at its time limit; a crashed process named and replaced; time
// paused not counted; start-up failures named.
#include "services/tile/render/render_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "services/tile/render/renderer.h"
#include "tests/support/wait.h"
#include "thrum/io/task_pool.h"

namespace thrum::tile {
namespace {

namespace fs = std::filesystem;
const std::string kData = THRUM_TILE_DATA "/shp";
const std::string kStyle = THRUM_SOURCE_DIR "/services/tile/style/world.xml";

RenderProcess::Options options(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  return {.program = THRUM_TILE_RENDER,
          .styles = {{"world", kStyle, kData}},
          .encode_threads = 2,
          .time_limit = limit};
}

RenderJob job(int z, int x, int y) {
  return {{"world", {z, x, y}}, false};
}

// The process's state letter in /proc (R, S, T for stopped, ...).
char stateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

class RenderProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kData + "/countries.shp"))
        << "no world data in " << kData << ": run deploy/prepare-data.sh";
  }
};

TEST_F(RenderProcessTest, TilesAreTheBytesAnInProcessRendererMakes) {
  std::string error;
  auto process = RenderProcess::start(options(), error);
  ASSERT_TRUE(process) << error;
  std::vector<std::string> pngs;
  ASSERT_TRUE(process->render(job(3, 0, 0), pngs, error)) << error;

  ASSERT_TRUE(Renderer::initMapnik(error)) << error;
  io::TaskPool encoder(2, 64, "test-encode");
  encoder.start();
  Renderer here({{"world", kStyle, kData}}, &encoder, error);
  ASSERT_EQ(error, "");
  std::vector<std::string> expected;
  ASSERT_TRUE(here.render("world", {3, 0, 0}, expected, error)) << error;
  encoder.stop();
  ASSERT_EQ(pngs.size(), 64u);
  EXPECT_EQ(pngs, expected);
  EXPECT_EQ(process->restarts(), 0);
}

TEST_F(RenderProcessTest, MapniksOwnErrorsFailTheRenderAndKeepTheProcess) {
  std::string error;
  auto process = RenderProcess::start(options(), error);
  ASSERT_TRUE(process) << error;
  pid_t pid = process->pid();
  std::vector<std::string> pngs;
  EXPECT_FALSE(process->render({{"nosuch", {0, 0, 0}}, false}, pngs, error));
  EXPECT_EQ(error, "unknown style nosuch");
  EXPECT_EQ(process->pid(), pid);
  EXPECT_TRUE(process->render(job(0, 0, 0), pngs, error)) << error;
}

TEST_F(RenderProcessTest, AHungRenderIsKilledAtTheLimitAndANewProcessRendersTheNext) {
  std::string error;
  // The limit also bounds the next, real render, which under ASan on a
  // loaded machine has taken over 1.5 s: 5 s.
  auto process = RenderProcess::start(options(std::chrono::milliseconds(5000)), error);
  ASSERT_TRUE(process) << error;
  pid_t hung = process->pid();
  ::kill(hung, SIGSTOP);  // as good as a render that never ends
  std::vector<std::string> pngs;
  EXPECT_FALSE(process->render(job(2, 0, 0), pngs, error));
  EXPECT_EQ(error,
            "render took longer than the limit of 5000 ms; the render process was killed by "
            "signal 9 (Killed)");
  EXPECT_EQ(process->restarts(), 1);
  EXPECT_NE(process->pid(), hung);
  EXPECT_NE(::kill(hung, 0), 0) << "the hung process is gone (reaped)";
  EXPECT_TRUE(process->render(job(2, 0, 0), pngs, error)) << error;
  EXPECT_EQ(pngs.size(), 64u);
}

TEST_F(RenderProcessTest, ARealRenderPastATinyLimitFails) {
  std::string error;
  auto process = RenderProcess::start(options(std::chrono::milliseconds(1)), error);
  ASSERT_TRUE(process) << error;
  std::vector<std::string> pngs;
  EXPECT_FALSE(process->render(job(0, 0, 0), pngs, error));
  EXPECT_EQ(error.rfind("render took longer than the limit of 1 ms", 0), 0u) << error;
  EXPECT_GT(process->pid(), 0) << "a new process is ready";
}

TEST_F(RenderProcessTest, ACrashedProcessIsNamedAndReplaced) {
  std::string error;
  auto process = RenderProcess::start(options(), error);
  ASSERT_TRUE(process) << error;
  pid_t crashed = process->pid();
  // std::terminate() in Mapnik would end it so (a SIGSEGV is caught by
  // AddressSanitizer in the sanitizer build, which then exits instead).
  ::kill(crashed, SIGABRT);
  std::vector<std::string> pngs;
  EXPECT_FALSE(process->render(job(1, 0, 0), pngs, error));
  EXPECT_NE(error.find("the render process was killed by signal 6 (Aborted)"), std::string::npos)
      << error;
  EXPECT_NE(process->pid(), crashed);
  EXPECT_TRUE(process->render(job(1, 0, 0), pngs, error)) << error;
}

TEST_F(RenderProcessTest, TimePausedDoesNotCountAgainstTheLimit) {
  std::string error;
  auto process = RenderProcess::start(options(std::chrono::milliseconds(1500)), error);
  ASSERT_TRUE(process) << error;
  pid_t pid = process->pid();
  process->setPaused(true);
  ASSERT_TRUE(testing::waitFor([&] { return stateOf(pid) == 'T'; })) << stateOf(pid);
  auto began = std::chrono::steady_clock::now();
  auto rendered = std::async(std::launch::async, [&] {
    std::vector<std::string> pngs;
    std::string why;
    bool ok = process->render(job(0, 0, 0), pngs, why);
    return ok ? std::string() : why;
  });
  // Longer than the limit, all of it paused.
  EXPECT_EQ(rendered.wait_for(std::chrono::milliseconds(2500)), std::future_status::timeout);
  process->setPaused(false);
  EXPECT_EQ(rendered.get(), "");
  EXPECT_GE(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(2500));
  EXPECT_EQ(process->pid(), pid);
}

TEST_F(RenderProcessTest, StartUpFailuresSayWhy) {
  std::string error;
  auto opts = options();
  opts.styles = {{"world", "/nonexistent/world.xml", kData}};
  EXPECT_FALSE(RenderProcess::start(opts, error));
  EXPECT_EQ(error,
            std::string(THRUM_TILE_RENDER) + ": style world: cannot read /nonexistent/world.xml");
  opts = options();
  opts.program = "/nonexistent/thrum-tile-render";
  EXPECT_FALSE(RenderProcess::start(opts, error));
  EXPECT_EQ(error, "cannot start /nonexistent/thrum-tile-render: No such file or directory");
  opts = options();
  opts.program = "/bin/true";  // exits without a word
  EXPECT_FALSE(RenderProcess::start(opts, error));
  EXPECT_EQ(error, "/bin/true: closed (it exited with status 0)");
}

TEST_F(RenderProcessTest, DestroyingTheBackendEndsItsProcess) {
  std::string error;
  auto process = RenderProcess::start(options(), error);
  ASSERT_TRUE(process) << error;
  pid_t pid = process->pid();
  process->setPaused(true);  // even a stopped one
  process.reset();
  EXPECT_NE(::kill(pid, 0), 0);
}

}  // namespace
}  // namespace thrum::tile
