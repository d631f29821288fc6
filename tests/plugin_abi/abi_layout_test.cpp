// Freezes the layout of the ABI structs of version 1.0. A failure here means a change broke
// binary compatibility: append fields (minor bump) instead of inserting or resizing them.
// The offsets follow from the C layout rules on LP64 and are the definition of ABI 1.0.
#include <gtest/gtest.h>

#include <cstddef>

#include "fathom/plugin_api.h"

namespace {

TEST(AbiLayout, TableHeaderIsStable) {
  // These four fields let a host read any version's table safely.
  EXPECT_EQ(offsetof(fathom_backend_api, struct_size), 0u);
  EXPECT_EQ(offsetof(fathom_backend_api, abi_major), 4u);
  EXPECT_EQ(offsetof(fathom_backend_api, abi_minor), 8u);
  EXPECT_EQ(offsetof(fathom_backend_api, name), 16u);
  EXPECT_EQ(offsetof(fathom_backend_api, version), 24u);
  EXPECT_EQ(offsetof(fathom_backend_api, probe), 32u);
  EXPECT_EQ(offsetof(fathom_backend_api, options), 40u);
  EXPECT_EQ(offsetof(fathom_backend_api, create), 48u);
  EXPECT_EQ(offsetof(fathom_backend_api, executable_destroy), 176u);
  EXPECT_EQ(offsetof(fathom_backend_api, executable_profile), 184u);  // optional
  EXPECT_EQ(sizeof(fathom_backend_api), 192u);
}

TEST(AbiLayout, PlainStructs) {
  EXPECT_EQ(sizeof(fathom_status), 16u);
  EXPECT_EQ(sizeof(fathom_tensor_desc), 16u + 8u * FATHOM_MAX_RANK);
  EXPECT_EQ(offsetof(fathom_tensor_desc, shape), 16u);
  EXPECT_EQ(sizeof(fathom_view), 24u);
  EXPECT_EQ(sizeof(fathom_binding), 32u);
  EXPECT_EQ(sizeof(fathom_op_support), 16u);
  EXPECT_EQ(sizeof(fathom_op_desc), 48u);
  EXPECT_EQ(sizeof(fathom_segment_tensor), sizeof(fathom_tensor_desc) + 16u);
  EXPECT_EQ(sizeof(fathom_segment_node), 48u);
  EXPECT_EQ(sizeof(fathom_segment), 40u);
  EXPECT_EQ(sizeof(fathom_device_info), 8u + 128u + 256u + 16u);
  EXPECT_EQ(sizeof(fathom_option_decl), 32u);
  EXPECT_EQ(sizeof(fathom_rms_norm_attrs), 4u);
  EXPECT_EQ(sizeof(fathom_slice_attrs), 16u);
  EXPECT_EQ(sizeof(fathom_node_profile), 16u);
  EXPECT_EQ(sizeof(fathom_rope_attrs), 36u);
  EXPECT_EQ(sizeof(fathom_mla_attrs), 32u);
  EXPECT_EQ(sizeof(fathom_moe_route_attrs), 40u);
  EXPECT_EQ(sizeof(fathom_moe_experts_attrs), 16u);
}

TEST(AbiLayout, FrozenIds) {
  EXPECT_EQ(FATHOM_DTYPE_F32, 1);
  EXPECT_EQ(FATHOM_DTYPE_BF16, 3);
  EXPECT_EQ(FATHOM_DTYPE_F8_E4M3FN, 4);
  EXPECT_EQ(FATHOM_DTYPE_U8, 8);
  EXPECT_EQ(FATHOM_LAYOUT_BLOCK_SCALED_128x128, 1);
  EXPECT_EQ(FATHOM_OP_MATMUL, 3);
  EXPECT_EQ(FATHOM_OP_MLA_ATTENTION, 7);
  EXPECT_EQ(FATHOM_OP_CONVERT, 12);
  EXPECT_EQ(FATHOM_ROLE_INTERNAL, 4);
  EXPECT_EQ(FATHOM_STATUS_INTERNAL, 8);
}

}  // namespace
