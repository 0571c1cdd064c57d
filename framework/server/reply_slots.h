// ReplySlots: the replies a connection owes its peer, in request order.
//
//   uint64_t n = slots.open();        // a two-way request arrived
//   ...
//   slots.fill(n, std::move(reply));  // its reply came, in any order
//   slots.takeReady(batch);           // the filled run at the front, to write
//
// Thrift clients match replies to requests by order, so a reply leaves only
// when every reply before it has: takeReady() takes the run of filled slots
// at the front and nothing behind a gap. A slot may carry a call deadline;
// forEachOverdue() hands each unfilled slot past it to be answered (the
// connection answers call_timeout) and remembers it as late, so that the
// call's real result, when it comes, is recognised by takeLate() and
// dropped. Pure bookkeeping: no I/O, no clock of its own, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace thrum::server {

class ReplySlots {
 public:
  // What an overdue slot's answer needs to know of its call.
  struct Deadline {
    int64_t at_ms = 0;       // on the caller's clock; 0: none
    int64_t timeout_ms = 0;  // the call timeout that set it
    int32_t seqid = 0;
    std::string method;
  };

  // A new slot behind every other; its number, never reused.
  uint64_t open();
  // Gives `slot` (open, not filled) a deadline.
  void setDeadline(uint64_t slot, Deadline deadline);
  // The reply of `slot`, which must be open and not filled.
  void fill(uint64_t slot, std::string reply);

  // True if the front slot is filled: takeReady() would take something.
  bool readyAtFront() const { return !slots_.empty() && slots_.front().filled; }
  // Moves the filled replies at the front onto `out`, in order, and
  // forgets their slots. Returns how many.
  size_t takeReady(std::vector<std::string>& out);

  // Calls `answer(slot, deadline)` for every unfilled slot whose deadline
  // is at or before `now_ms`, after marking it late; `answer` is expected
  // to fill it. Stops early once `stop()` is true (the connection closed).
  template <class Answer, class Stop>
  void forEachOverdue(int64_t now_ms, Answer answer, Stop stop);
  // True, once, if `slot` was answered overdue: its result is to be dropped.
  bool takeLate(uint64_t slot);

  bool empty() const { return slots_.empty(); }
  // Slots filled and not yet taken.
  size_t filled() const;
  // Overdue slots whose calls have not come back yet.
  size_t late() const { return late_.size(); }
  // Forgets every slot (the connection closed); late ones stay remembered,
  // their calls still come back.
  void dropAll() { slots_.clear(); }
  // Frees the storage of an empty set (an idle connection keeps none).
  void shrink();

 private:
  struct Slot {
    bool filled = false;
    std::string reply;
    Deadline deadline;
  };
  Slot& at(uint64_t slot) { return slots_[slot - first_]; }

  std::vector<Slot> slots_;  // in request order
  uint64_t first_ = 0;       // the number of slots_.front()
  // Slots answered overdue whose calls are still running. Rarely more than
  // empty, so a vector.
  std::vector<uint64_t> late_;
};

template <class Answer, class Stop>
void ReplySlots::forEachOverdue(int64_t now_ms, Answer answer, Stop stop) {
  for (size_t i = 0; i < slots_.size() && !stop(); ++i) {
    Slot& s = slots_[i];
    if (s.filled || s.deadline.at_ms == 0 || now_ms < s.deadline.at_ms) continue;
    uint64_t slot = first_ + i;
    late_.push_back(slot);
    answer(slot, std::move(s.deadline));
    s.deadline = {};
  }
}

}  // namespace thrum::server
