# The files of the CUDA backend that every build of its code shares: the HIP plugin
# (backends/hip/hipcc) and the GPU simulator's test plugins (tests/gpusim). Left out: blas/
# (cuBLAS), ops/matmul.cpp and ops/weight_store.cpp (each build picks its own), fp8_quant.cu
# (only the cuBLASLt path uses it). Include with CUDA_DIR set to this folder; sets
# gpu_shared_kernels (.cu) and gpu_shared_host (.cpp), full paths.
set(gpu_shared_kernels
  binary copy embedding rms_norm rope_yarn
  gemv gemv_f32 gemv_bf16 gemv_f16 gemv_e4m3 gemv_e5m2
  gemm_tiled gemm_tiled_f32 gemm_tiled_bf16 gemm_tiled_f16 gemm_tiled_e4m3 gemm_tiled_e5m2
  mla_project mla_attend moe_route moe_dispatch prior_grid_wait)
set(gpu_shared_host
  runtime/arena runtime/device runtime/executable runtime/fusion runtime/options runtime/probe
  ops/registry ops/binary ops/copy ops/embedding ops/rms_norm ops/rope_yarn ops/exact_matmul
  ops/mla_attention ops/moe_route ops/moe_experts ops/swiglu_matmul ops/add_rms_norm ops/stacked_matmul ops/route_experts
  ops/moe_block ops/matmul_add_rms_norm
  backend)
list(TRANSFORM gpu_shared_kernels REPLACE "(.+)" "${CUDA_DIR}/kernels/\\1.cu")
list(TRANSFORM gpu_shared_host REPLACE "(.+)" "${CUDA_DIR}/\\1.cpp")
