#include <gtest/gtest.h>

#include "fathom/core/error.h"
#include "fathom/plugin_api.h"

namespace fathom {
namespace {

TEST(Error, CarriesCodeAndMessage) {
  Error e = invalid_argument("config.toml:3:1: bad");
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  EXPECT_STREQ(e.what(), "config.toml:3:1: bad");
}

TEST(Error, ContextIsPrefixed) {
  Error e = not_found("tensor 'x'").with_context("while loading model");
  EXPECT_EQ(e.code(), ErrorCode::not_found);
  EXPECT_STREQ(e.what(), "while loading model: tensor 'x'");
}

// The ABI's status codes and the C++ error codes are the same numbers; the plugin host
// converts by value, so they must never drift apart.
TEST(Error, CodesMatchTheAbi) {
  EXPECT_EQ(static_cast<int>(ErrorCode::ok), FATHOM_STATUS_OK);
  EXPECT_EQ(static_cast<int>(ErrorCode::unsupported), FATHOM_STATUS_UNSUPPORTED);
  EXPECT_EQ(static_cast<int>(ErrorCode::invalid_argument), FATHOM_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(static_cast<int>(ErrorCode::not_found), FATHOM_STATUS_NOT_FOUND);
  EXPECT_EQ(static_cast<int>(ErrorCode::out_of_range), FATHOM_STATUS_OUT_OF_RANGE);
  EXPECT_EQ(static_cast<int>(ErrorCode::resource_exhausted), FATHOM_STATUS_RESOURCE_EXHAUSTED);
  EXPECT_EQ(static_cast<int>(ErrorCode::failed_precondition), FATHOM_STATUS_FAILED_PRECONDITION);
  EXPECT_EQ(static_cast<int>(ErrorCode::unavailable), FATHOM_STATUS_UNAVAILABLE);
  EXPECT_EQ(static_cast<int>(ErrorCode::internal), FATHOM_STATUS_INTERNAL);
}

}  // namespace
}  // namespace fathom
