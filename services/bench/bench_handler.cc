#include "services/bench/bench_handler.h"

#include <chrono>
#include <stdexcept>
#include <string>

namespace thrum::bench {

int64_t BenchHandler::work(int32_t micros) {
  if (micros < 0 || micros > kMaxWorkMicros) {
    // Not declared in the IDL: the generated processor answers it as a
    // TApplicationException carrying this text.
    throw std::invalid_argument("work: micros must be from 0 to " + std::to_string(kMaxWorkMicros) +
                                ", not " + std::to_string(micros));
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  int64_t iterations = 0;
  volatile uint64_t sink = 0;
  do {
    for (int i = 0; i < 64; ++i) sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
    ++iterations;
  } while (std::chrono::steady_clock::now() < until);
  return iterations;
}

void BenchHandler::fire(const std::string& /*payload*/) {
  fired_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace thrum::bench
