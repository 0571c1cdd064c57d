// GoogleTest assertions on thrum::Status and Result that print the
// failure's message:
//
//   ASSERT_TRUE(succeeded(server.listen(spec)));
//   EXPECT_EQ(failure(thrum::connect("nonsense")), "'nonsense' is neither ...");
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "thrum/status.h"

namespace thrum::testing {

inline ::testing::AssertionResult succeeded(const Status& status) {
  if (status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.message();
}

template <typename T>
::testing::AssertionResult succeeded(const Result<T>& result) {
  return succeeded(result.status());
}

// The message of a failure; "(succeeded)" when there was none, which no
// expected message equals.
inline std::string failure(const Status& status) {
  return status ? "(succeeded)" : status.message();
}

template <typename T>
std::string failure(const Result<T>& result) {
  return failure(result.status());
}

}  // namespace thrum::testing
