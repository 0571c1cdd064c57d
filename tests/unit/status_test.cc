// thrum::Status and thrum::Result: the public API's one error shape.
#include "thrum/status.h"

#include <memory>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace thrum {
namespace {

TEST(Status, DefaultIsSuccessAndReadsTrue) {
  Status ok;
  EXPECT_TRUE(ok);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  EXPECT_FALSE(ok.code());
  EXPECT_NO_THROW(ok.orThrow());
}

TEST(Status, AFailureCarriesItsReasonAndCode) {
  Status failed = Status::failure("listen tcp:80: Permission denied",
                                  std::make_error_code(std::errc::permission_denied));
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.message(), "listen tcp:80: Permission denied");
  EXPECT_EQ(failed.code(), std::errc::permission_denied);
  try {
    failed.orThrow();
    FAIL() << "orThrow() returned on a failure";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "listen tcp:80: Permission denied");
    EXPECT_EQ(e.code(), std::errc::permission_denied);
  }
}

struct Base {
  virtual ~Base() = default;
  virtual int n() const { return 1; }
};
struct Derived : Base {
  int n() const override { return 2; }
};

TEST(Result, HoldsAValueMadeFromAnythingItsTypeIsMadeFrom) {
  Result<std::shared_ptr<Base>> made = std::make_shared<Derived>();
  ASSERT_TRUE(made);
  EXPECT_EQ((*made)->n(), 2);
  EXPECT_TRUE(made.status());
  Result<std::string> text = "abc";
  EXPECT_EQ(text->size(), 3u);
  EXPECT_EQ(std::move(text).value(), "abc");
}

TEST(Result, AFailureHasNoValueAndValueThrows) {
  Result<int> none =
      Status::failure("no number", std::make_error_code(std::errc::invalid_argument));
  EXPECT_FALSE(none);
  EXPECT_EQ(none.error(), "no number");
  EXPECT_EQ(none.status().code(), std::errc::invalid_argument);
  EXPECT_THROW(none.value(), Error);
}

}  // namespace
}  // namespace thrum
