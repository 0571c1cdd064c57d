// The byte mutations the fuzz drivers share: the corpus replay of every
// codec target (driver.cc) and the live-server fuzzer (live_fuzz.cc).
//
//   std::mt19937_64 rng(seed);
//   std::string bad = fuzz::mutate(good, corpus, rng);
//
// One to four of: flip a bit, set a byte, insert a byte, erase a byte,
// truncate, splice in the tail of another input, or overwrite four bytes
// with a length a parser must refuse or treat carefully (0, 2^31, 2^32-1,
// just over 16 MiB, ...), where length fields live.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace thrum::fuzz {

template <typename Bytes, typename Rng>
Bytes mutate(Bytes in, const std::vector<Bytes>& all, Rng& rng) {
  auto pick = [&](size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  using Byte = typename Bytes::value_type;
  static constexpr std::array<uint32_t, 8> kLengths = {
      0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 16 * 1024 * 1024 + 1, 0x00ffffff, 0xfffffffe};
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(7)) {
      case 0:
        if (!in.empty()) in[pick(in.size())] ^= static_cast<Byte>(1u << pick(8));
        break;
      case 1:
        if (!in.empty()) in[pick(in.size())] = static_cast<Byte>(pick(256));
        break;
      case 2:
        in.insert(in.begin() + static_cast<ptrdiff_t>(pick(in.size() + 1)),
                  static_cast<Byte>(pick(256)));
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
      case 6:
        if (in.size() >= 4) {
          uint32_t v = kLengths[pick(kLengths.size())];
          size_t at = pick(in.size() - 3);
          for (int i = 0; i < 4; ++i) in[at + i] = static_cast<Byte>(v >> (24 - 8 * i));
        }
        break;
    }
  }
  return in;
}

}  // namespace thrum::fuzz
