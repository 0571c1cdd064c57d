#include "services/tile/core/types.h"

namespace thrum::tile {

const char* toString(Priority p) {
  switch (p) {
    case Priority::kInteractive:
      return "interactive";
    case Priority::kPrefetch:
      return "prefetch";
    case Priority::kDirty:
      return "dirty";
    case Priority::kBulk:
      return "bulk";
  }
  return "?";
}

}  // namespace thrum::tile
