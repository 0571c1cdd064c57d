// Runs a fuzz target without libFuzzer: every file of the corpus directories
// given on the command line, then a fixed number of deterministic mutations
// of each (bit flips, byte changes, insertions, deletions, truncations,
// splices), so the ordinary test suite exercises the target too.
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

namespace {

std::vector<uint8_t> mutate(std::vector<uint8_t> in, const std::vector<std::vector<uint8_t>>& all,
                            std::mt19937& rng) {
  auto pick = [&](size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(6)) {
      case 0:
        if (!in.empty()) in[pick(in.size())] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 1:
        if (!in.empty()) in[pick(in.size())] = static_cast<uint8_t>(pick(256));
        break;
      case 2:
        in.insert(in.begin() + static_cast<ptrdiff_t>(pick(in.size() + 1)),
                  static_cast<uint8_t>(pick(256)));
        break;
      case 3:
        if (!in.empty()) in.erase(in.begin() + static_cast<ptrdiff_t>(pick(in.size())));
        break;
      case 4:
        in.resize(pick(in.size() + 1));
        break;
      case 5: {
        const auto& other = all[pick(all.size())];
        size_t from = pick(other.size() + 1);
        in.insert(in.begin() + static_cast<ptrdiff_t>(pick(in.size() + 1)),
                  other.begin() + static_cast<ptrdiff_t>(from), other.end());
        break;
      }
    }
  }
  return in;
}

}  // namespace

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
      auto mutated = mutate(input, corpus, rng);
      LLVMFuzzerTestOneInput(mutated.data(), mutated.size());
      ++runs;
    }
  }
  std::cout << corpus.size() << " corpus inputs and " << runs << " mutations: no failure\n";
  return 0;
}
