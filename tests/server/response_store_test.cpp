// ResponseStore: bounded, oldest dropped first, deletions free their place.
#include <gtest/gtest.h>

#include "server/response_store.h"

namespace fathom::server {
namespace {

ResponseStore::Entry entry(int n) { return {{{"n", n}}, nlohmann::ordered_json::array(), 0}; }

TEST(ResponseStore, KeepsTheNewestUpToItsCapacity) {
  ResponseStore store(2);
  store.put("a", entry(1));
  store.put("b", entry(2));
  store.put("c", entry(3));
  EXPECT_FALSE(store.get("a"));
  ASSERT_TRUE(store.get("b"));
  EXPECT_EQ(store.get("c")->response["n"], 3);
  EXPECT_EQ(store.size(), 2u);
}

TEST(ResponseStore, DeletedResponsesAreGoneAndFreeTheirPlace) {
  ResponseStore store(2);
  store.put("a", entry(1));
  store.put("b", entry(2));
  EXPECT_TRUE(store.erase("a"));
  EXPECT_FALSE(store.erase("a"));
  EXPECT_FALSE(store.get("a"));
  store.put("c", entry(3));  // fits where "a" was: "b" stays
  EXPECT_TRUE(store.get("b"));
  store.put("d", entry(4));  // now the oldest, "b", goes
  EXPECT_FALSE(store.get("b"));
  EXPECT_TRUE(store.get("c") && store.get("d"));
}

TEST(ResponseStore, CapacityZeroStoresNothing) {
  ResponseStore store(0);
  store.put("a", entry(1));
  EXPECT_FALSE(store.get("a"));
}

}  // namespace
}  // namespace fathom::server
