// slice:  out[t, j] = x[t, begin + j]                 x [T, F], out [T, length]
// concat: out[t, :] = [a[t, :], b[t, :]]             a [T, A], b [T, B], out [T, A + B]
#include "kernels/kernels.h"

namespace fathom::reference {

void slice(const KernelArgs& a) {
  const auto& x = *a.in[0];
  const auto& out = *a.out[0];
  const auto attrs = a.attrs_as<fathom_slice_attrs>();
  for (int64_t t = 0; t < x.dim(0); ++t) {
    for (int64_t j = 0; j < attrs.length; ++j) store_f32(out, t * attrs.length + j, load_f32(x, t * x.dim(1) + attrs.begin + j));
  }
}

void concat(const KernelArgs& a) {
  const auto& left = *a.in[0];
  const auto& right = *a.in[1];
  const auto& out = *a.out[0];
  const int64_t wa = left.dim(1), wb = right.dim(1), wo = out.dim(1);
  for (int64_t t = 0; t < out.dim(0); ++t) {
    for (int64_t j = 0; j < wa; ++j) store_f32(out, t * wo + j, load_f32(left, t * wa + j));
    for (int64_t j = 0; j < wb; ++j) store_f32(out, t * wo + wa + j, load_f32(right, t * wb + j));
  }
}

}  // namespace fathom::reference
