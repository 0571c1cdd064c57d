// Lanes: the configuration strings, the checks across lanes and routes, and
// which lane and queue timeout a method gets. Also the overload answer's
// message, which clients parse.
#include "thrum/dispatch/lanes.h"

#include <memory>

#include <gtest/gtest.h>

#include "Bench.h"
#include "tests/support/test_handler.h"
#include "thrum/transport/overload.h"

namespace thrum::dispatch {
namespace {

using namespace std::chrono_literals;

TEST(Lanes, ParsesLaneStrings) {
  LaneOptions lane;
  std::string why;
  ASSERT_TRUE(parseLane("cheap workers=2 queue=256", lane, why)) << why;
  EXPECT_EQ(lane.name, "cheap");
  EXPECT_EQ(lane.workers, 2u);
  EXPECT_EQ(lane.queue, 256u);
  ASSERT_TRUE(parseLane("  slow  ", lane, why)) << why;
  EXPECT_EQ(lane.name, "slow");
  EXPECT_EQ(lane.workers, LaneOptions{}.workers);
}

TEST(Lanes, NamesWhatIsWrongWithALaneString) {
  LaneOptions lane{.name = "kept"};
  std::string why;
  EXPECT_FALSE(parseLane("", lane, why));
  EXPECT_FALSE(parseLane("Cheap", lane, why));
  EXPECT_NE(why.find("a-z 0-9"), std::string::npos) << why;
  EXPECT_FALSE(parseLane("cheap workers=0", lane, why));
  EXPECT_NE(why.find("workers=0 is outside 1..4096"), std::string::npos) << why;
  EXPECT_FALSE(parseLane("cheap threads=2", lane, why));
  EXPECT_NE(why.find("unknown key 'threads'"), std::string::npos) << why;
  EXPECT_FALSE(parseLane("cheap queue=lots", lane, why));
  EXPECT_NE(why.find("queue is not a number: 'lots'"), std::string::npos) << why;
  EXPECT_FALSE(parseLane("cheap workers", lane, why));
  EXPECT_NE(why.find("expected key=value"), std::string::npos) << why;
  EXPECT_EQ(lane.name, "kept");  // a bad string changes nothing
}

TEST(Lanes, ParsesRouteStrings) {
  MethodRoute route;
  std::string why;
  ASSERT_TRUE(
      parseRoute("Tiles:status lane=cheap queue-timeout-ms=50 call-timeout-ms=900", route, why))
      << why;
  EXPECT_EQ(route.pattern, "Tiles:status");
  EXPECT_EQ(route.lane, "cheap");
  EXPECT_EQ(route.queue_timeout, 50ms);
  EXPECT_EQ(route.call_timeout, 900ms);
  ASSERT_TRUE(parseRoute("Tiles:*", route, why)) << why;
  EXPECT_EQ(route.lane, "default");
  EXPECT_FALSE(route.queue_timeout.has_value());
  EXPECT_FALSE(route.call_timeout.has_value());
  EXPECT_FALSE(parseRoute("Ti*les lane=x", route, why));
  EXPECT_NE(why.find("'*' may only end a pattern"), std::string::npos) << why;
  EXPECT_FALSE(parseRoute("lane=cheap", route, why));
  EXPECT_FALSE(parseRoute("ping lane=Cheap!", route, why));
  EXPECT_FALSE(parseRoute("ping queue-timeout-ms=-1", route, why));
  EXPECT_NE(why.find("outside 0.."), std::string::npos) << why;
  EXPECT_FALSE(parseRoute("ping call-timeout-ms=soon", route, why));
  EXPECT_NE(why.find("call-timeout-ms is not a number: 'soon'"), std::string::npos) << why;
}

TEST(Lanes, LanesAndRoutesMustFitTogether) {
  EXPECT_EQ(lanesProblem({{.name = "cheap"}}, {{.pattern = "ping", .lane = "cheap"}}), "");
  EXPECT_EQ(lanesProblem({}, {{.pattern = "ping", .lane = "cheap"}}),
            "route 'ping' names lane 'cheap', not defined");
  EXPECT_EQ(lanesProblem({{.name = "a"}, {.name = "a"}}, {}), "lane 'a' is defined twice");
  EXPECT_EQ(lanesProblem({{.name = "default"}}, {}), "lane 'default' is defined twice");
}

TEST(Lanes, TheFirstMatchingRouteDecides) {
  Metrics metrics;
  Dispatcher dispatcher(
      std::make_shared<bench::BenchProcessor>(std::make_shared<testing::TestHandler>()), metrics);
  Lanes lanes(dispatcher, metrics, {.workers = 1}, {{.name = "cheap"}, {.name = "slow"}},
              {{.pattern = "Tiles:status", .lane = "cheap", .queue_timeout = 0ms},
               {.pattern = "Tiles:*", .lane = "slow", .queue_timeout = 2s, .call_timeout = 30s},
               {.pattern = "ping", .lane = "cheap", .call_timeout = 100ms}},
              {.queue = 250ms, .call = 5s});
  ASSERT_EQ(lanes.size(), 3u);
  EXPECT_EQ(lanes.pool(0).name(), "default");
  EXPECT_EQ(lanes.route("Tiles:status").lane, 1u);
  EXPECT_EQ(lanes.route("Tiles:status").timeouts.queue, 0ms);
  EXPECT_EQ(lanes.route("Tiles:status").timeouts.call, 5s);  // the default
  EXPECT_EQ(lanes.route("Tiles:render").lane, 2u);
  EXPECT_EQ(lanes.route("Tiles:render").timeouts.queue, 2s);
  EXPECT_EQ(lanes.route("Tiles:render").timeouts.call, 30s);
  EXPECT_EQ(lanes.route("ping").lane, 1u);
  EXPECT_EQ(lanes.route("ping").timeouts.queue, 250ms);  // the default, not set by the route
  EXPECT_EQ(lanes.route("ping").timeouts.call, 100ms);
  EXPECT_EQ(lanes.route("Other:ping").lane, 0u);
  EXPECT_EQ(lanes.route("echo").timeouts.queue, 250ms);
  EXPECT_EQ(lanes.shortestCallTimeout(), 100ms);
  EXPECT_THROW(Lanes(dispatcher, metrics, {}, {}, {{.pattern = "x", .lane = "nope"}}, {}),
               std::invalid_argument);
}

TEST(Overload, MessagesRoundTripAndOthersAreNotTakenForThem) {
  std::string text = transport::overloadMessage("queue_full", "lane default: 3 waiting", 250ms);
  EXPECT_EQ(text, "thrum overloaded: queue_full: lane default: 3 waiting; retry after 250 ms");
  auto parsed = transport::parseOverload(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->reason, "queue_full");
  EXPECT_EQ(parsed->retry_after, 250ms);
  EXPECT_FALSE(transport::parseOverload("boom"));
  EXPECT_FALSE(transport::parseOverload("thrum overloaded: no reason; retry after 5 ms"));
  EXPECT_FALSE(transport::parseOverload("thrum overloaded: x: y; retry after soon ms"));
  EXPECT_FALSE(transport::parseOverload("thrum overloaded: x: y"));
}

}  // namespace
}  // namespace thrum::dispatch
