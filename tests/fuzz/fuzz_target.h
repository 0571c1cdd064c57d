// The libFuzzer entry point every fuzz target defines. Built with clang and
// -fsanitize=fuzzer (THRUM_FUZZ=ON) it is a coverage-guided fuzzer; built
// with driver.cc it replays the corpus plus deterministic mutations of it as
// an ordinary ctest case. A target aborts (via FUZZ_CHECK) when an invariant
// breaks; crashes and sanitizer reports are failures either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
