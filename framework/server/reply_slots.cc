#include "thrum/server/reply_slots.h"

#include <algorithm>

namespace thrum::server {

uint64_t ReplySlots::open() {
  slots_.emplace_back();
  return first_ + slots_.size() - 1;
}

void ReplySlots::setDeadline(uint64_t slot, Deadline deadline) {
  at(slot).deadline = std::move(deadline);
}

void ReplySlots::fill(uint64_t slot, std::string reply) {
  Slot& s = at(slot);
  s.filled = true;
  s.reply = std::move(reply);
}

size_t ReplySlots::takeReady(std::vector<std::string>& out) {
  size_t ready = 0;
  while (ready < slots_.size() && slots_[ready].filled) {
    out.push_back(std::move(slots_[ready].reply));
    ++ready;
  }
  slots_.erase(slots_.begin(), slots_.begin() + static_cast<ptrdiff_t>(ready));
  first_ += ready;
  return ready;
}

bool ReplySlots::takeLate(uint64_t slot) {
  auto it = std::find(late_.begin(), late_.end(), slot);
  if (it == late_.end()) return false;
  late_.erase(it);
  return true;
}

size_t ReplySlots::filled() const {
  return static_cast<size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.filled; }));
}

void ReplySlots::shrink() {
  if (slots_.empty()) std::vector<Slot>().swap(slots_);
}

}  // namespace thrum::server
