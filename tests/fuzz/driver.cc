// Runs a fuzz target without libFuzzer: every file of the corpus directories
// given on the command line, then a fixed number of deterministic mutations
// of each (mutator.h), so the ordinary test suite exercises the target too.
//
//   message_reader_fuzz CORPUS_DIR [--mutations N]
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/mutator.h"

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> corpus;
  size_t mutations = 5000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::stoul(argv[++i]);
      continue;
    }
    for (const auto& entry : std::filesystem::directory_iterator(arg)) {
      std::ifstream f(entry.path(), std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
  }
  if (corpus.empty()) {
    std::cerr << "no corpus files\n";
    return 2;
  }
  for (const auto& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  std::mt19937 rng(20261122);  // fixed: the same inputs every run
  size_t runs = 0;
  for (size_t m = 0; m < mutations; ++m) {
    for (const auto& input : corpus) {
      auto mutated = thrum::fuzz::mutate(input, corpus, rng);
      LLVMFuzzerTestOneInput(mutated.data(), mutated.size());
      ++runs;
    }
  }
  std::cout << corpus.size() << " corpus inputs and " << runs << " mutations: no failure\n";
  return 0;
}
