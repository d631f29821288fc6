// oneDNN matmul with weights packed once at load (the recipe of
// ../shared/docs/reference/cpu-onednn-note.md §1, for the oneDNN 2.6 that Debian ships):
//  - weights are reordered at compile into the layout oneDNN prefers (format_tag::any), or, for
//    bf16 weights whose row-major copy the GEMV keeps reading at decode, used in place (oneDNN
//    then packs panels of them per call: no second copy of the model in memory);
//  - primitives are made for a fixed M (never DNNL_RUNTIME_DIM_VAL, which drops brgemm) and
//    shared by every matrix of the same shape: M = 1..32 exactly, larger M split into calls of
//    512/256/128/64/32 rows plus a remainder, so a handful of primitives serve any batch;
//  - scratchpads are ours (per thread), so primitives may run concurrently from several OpenMP
//    threads, e.g. one expert per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include <dnnl.hpp>

#include "isa/isa.h"

namespace fathom::cpu {

class DnnlRuntime {
 public:
  DnnlRuntime();

  const dnnl::engine& engine() const { return engine_; }
  // Whether oneDNN can multiply bf16 × bf16 → f32 here (2.6 needs AVX-512: on AVX2 there is no
  // bf16 matmul implementation at all, so that path is off).
  bool bf16_matmul() const { return bf16_matmul_; }
  // "oneDNN 2.6.3, isa avx2, bf16 matmul: no"
  std::string describe() const;

  // The packed layout of a [K, N] weight of type dt (the same for every M: checked in 2.6.3 for
  // many shapes, and every primitive below is created against this exact desc).
  dnnl::memory::desc packed_desc(dnnl::memory::data_type dt, int64_t k, int64_t n);

  struct Primitive {
    dnnl::matmul matmul;
    dnnl::memory::desc src, dst;
    size_t scratchpad_bytes = 0;
    dnnl::memory::desc scratchpad;
  };
  // How a weight matrix is laid out for oneDNN: packed by packed_desc, or the checkpoint's rows
  // (W[N][K] row-major, the logical [K, N] in tag::ba) used in place.
  enum class Layout { packed, rows };
  // y[m, N] = x[m, K] · W; created on first use, then kept.
  const Primitive& primitive(dnnl::memory::data_type dt, int64_t k, int64_t n, int64_t m, Layout layout);

  // The calling thread's stream on this engine.
  dnnl::stream& stream();

  // Row counts a call of m rows is split into (m <= 32 exact; above, 512/256/128/64/32 chunks).
  static int64_t next_chunk(int64_t remaining);

 private:
  using Key = std::tuple<int, int64_t, int64_t, int64_t, Layout>;  // dt, K, N, M (M = 0: the packed desc)
  dnnl::engine engine_;
  bool bf16_matmul_ = false;
  std::mutex mutex_;
  std::map<Key, dnnl::memory::desc> packed_descs_;
  std::map<Key, std::unique_ptr<Primitive>> primitives_;
};

// One weight matrix W[N][K] for oneDNN (f32 or bf16): packed, or its rows used in place.
class DnnlWeights {
 public:
  // `rows` is W as N rows of K elements of `dt` (f32, or bf16 bits). Layout::packed reads it
  // once; Layout::rows keeps pointing at it, so it must outlive this object.
  DnnlWeights(DnnlRuntime& rt, dnnl::memory::data_type dt, const void* rows, int64_t n, int64_t k,
              DnnlRuntime::Layout layout = DnnlRuntime::Layout::packed);

  dnnl::memory::data_type dtype() const { return dt_; }
  // Bytes held here: the packed copy (0 for rows used in place).
  uint64_t bytes() const { return layout_ == DnnlRuntime::Layout::packed ? weights_.get_desc().get_size() : 0; }

  // y[M][N] = x[M][K] · Wᵀ. bf16 weights get x rounded to bf16 first (oneDNN 2.6 has no mixed
  // f32 × bf16 matmul). Inside an OpenMP region oneDNN runs on the calling thread only.
  void multiply(DnnlRuntime& rt, const IsaKernels& isa, const float* x, int64_t m, float* y) const;

 private:
  dnnl::memory::data_type dt_;
  int64_t n_, k_;
  DnnlRuntime::Layout layout_;
  dnnl::memory weights_;
};

}  // namespace fathom::cpu
