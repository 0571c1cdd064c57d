// The bench service: a minimal wire contract used by benchmarks and tests.
// The benchmark harness depends on it exactly as written; do not change it.
namespace cpp thrum.bench

service Bench {
  void ping(),
  binary echo(1: binary payload),
  i64 work(1: i32 micros),          // busy-loops about `micros` on a worker, returns an iteration count
  oneway void fire(1: binary payload)
}
