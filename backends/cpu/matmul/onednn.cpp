#include "matmul/onednn.h"

#include <omp.h>

#include <string>
#include <unordered_map>

#include "fathom/sdk/status.hpp"
#include "scratch.h"

namespace fathom::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

const char* isa_text(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

dnnl::matmul::primitive_desc make_pd(const dnnl::engine& eng, dt type, int64_t m, int64_t k, int64_t n,
                                     const dnnl::memory::desc& weights) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return dnnl::matmul::primitive_desc(
      dnnl::matmul::desc(dnnl::memory::desc({m, k}, type, tag::ab), weights, dnnl::memory::desc({m, n}, dt::f32, tag::ab)),
      attr, eng);
}

}  // namespace

DnnlRuntime::DnnlRuntime() : engine_(dnnl::engine::kind::cpu, 0) {
  try {
    make_pd(engine_, dt::bf16, 1, 64, 64, dnnl::memory::desc({64, 64}, dt::bf16, tag::any));
    bf16_matmul_ = true;
  } catch (const dnnl::error&) {
    bf16_matmul_ = false;  // "could not create a primitive descriptor iterator": no bf16 kernels here
  }
}

std::string DnnlRuntime::describe() const {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         " (" + isa_text(dnnl::get_effective_cpu_isa()) + ", bf16 matmul: " + (bf16_matmul_ ? "yes" : "no") + ")";
}

dnnl::memory::desc DnnlRuntime::packed_desc(dt type, int64_t k, int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Key key{static_cast<int>(type), k, n, 0, Layout::packed};
  auto it = packed_descs_.find(key);
  if (it != packed_descs_.end()) return it->second;
  // Ask with a mid-sized M; the answer does not depend on M (see the header).
  auto pd = make_pd(engine_, type, 32, k, n, dnnl::memory::desc({k, n}, type, tag::any));
  return packed_descs_.emplace(key, pd.weights_desc()).first->second;
}

const DnnlRuntime::Primitive& DnnlRuntime::primitive(dt type, int64_t k, int64_t n, int64_t m, Layout layout) {
  const dnnl::memory::desc weights =
      layout == Layout::packed ? packed_desc(type, k, n) : dnnl::memory::desc({k, n}, type, tag::ba);
  std::lock_guard<std::mutex> lock(mutex_);
  const Key key{static_cast<int>(type), k, n, m, layout};
  auto it = primitives_.find(key);
  if (it != primitives_.end()) return *it->second;
  auto pd = make_pd(engine_, type, m, k, n, weights);
  auto p = std::make_unique<Primitive>();
  p->matmul = dnnl::matmul(pd);
  p->src = pd.src_desc();
  p->dst = pd.dst_desc();
  p->scratchpad = pd.scratchpad_desc();
  p->scratchpad_bytes = p->scratchpad.get_size();
  return *primitives_.emplace(key, std::move(p)).first->second;
}

dnnl::stream& DnnlRuntime::stream() {
  // A stream is cheap but not free to create; each thread keeps one per engine it has used.
  thread_local dnnl_engine_t owner = nullptr;
  thread_local dnnl::stream s;
  if (owner != engine_.get()) {
    s = dnnl::stream(engine_);
    owner = engine_.get();
  }
  return s;
}

int64_t DnnlRuntime::next_chunk(int64_t remaining) {
  if (remaining <= 32) return remaining;
  for (int64_t b : {512, 256, 128, 64}) {
    if (remaining >= b) return b;
  }
  return 32;
}

DnnlWeights::DnnlWeights(DnnlRuntime& rt, dt type, const void* rows, int64_t n, int64_t k,
                         DnnlRuntime::Layout layout)
    : dt_(type), n_(n), k_(k), layout_(layout) {
  if (type != dt::f32 && type != dt::bf16) sdk::fail(FATHOM_STATUS_INTERNAL, "DnnlWeights: f32 or bf16 only");
  // W[N][K] row-major is the logical [K, N] matrix in tag::ba (not ab: that reads W transposed
  // and raises no error).
  dnnl::memory user(dnnl::memory::desc({k, n}, type, tag::ba), rt.engine(), const_cast<void*>(rows));
  if (layout == DnnlRuntime::Layout::rows) {
    weights_ = user;
    return;
  }
  weights_ = dnnl::memory(rt.packed_desc(type, k, n), rt.engine());
  dnnl::stream& s = rt.stream();
  dnnl::reorder(user, weights_).execute(s, user, weights_);
  s.wait();
}

void DnnlWeights::multiply(DnnlRuntime& rt, const IsaKernels& isa, const float* x, int64_t m, float* y) const {
  const void* src = x;
  if (dt_ == dt::bf16) {
    uint16_t* xb = scratch<uint16_t>(Scratch::bf16, static_cast<size_t>(m * k_));
    isa.to_bf16(x, xb, m * k_);
    src = xb;
  }
  const size_t elem = dt_ == dt::bf16 ? 2 : 4;
  dnnl::stream& s = rt.stream();
  for (int64_t done = 0; done < m;) {
    const int64_t rows = DnnlRuntime::next_chunk(m - done);
    const DnnlRuntime::Primitive& p = rt.primitive(dt_, k_, n_, rows, layout_);
    dnnl::memory src_mem(p.src, rt.engine(), const_cast<std::byte*>(static_cast<const std::byte*>(src) + done * k_ * elem));
    dnnl::memory dst_mem(p.dst, rt.engine(), y + done * n_);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_mem}};
    if (p.scratchpad_bytes > 0)
      args.emplace(DNNL_ARG_SCRATCHPAD,
                   dnnl::memory(p.scratchpad, rt.engine(), scratch<std::byte>(Scratch::dnnl, p.scratchpad_bytes)));
    p.matmul.execute(s, args);
    done += rows;
  }
  s.wait();
}

}  // namespace fathom::cpu
